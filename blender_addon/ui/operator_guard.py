"""User errors in operators: reported with self.report, never a traceback; bugs keep theirs."""

from __future__ import annotations

import functools

import bpy

from ..core.errors import FacsimileError
from ..core.output_plan import run_scope


def report_user_error(op: bpy.types.Operator, exc: BaseException) -> set[str]:
    if isinstance(exc, OSError) and exc.filename:
        op.report({"ERROR"}, f"{exc.strerror or exc}: {exc.filename}")
    else:
        op.report({"ERROR"}, str(exc))
    return {"CANCELLED"}


USER_ERRORS = (FacsimileError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def guarded(method):
    """Turn user-facing errors into an operator report; anything else is a bug and keeps its traceback. Each call is
    one run of the output plan (core.output_plan): what it writes is checked and committed as one.

    Blender checks the argument count of execute/invoke, so the wrapper keeps the method's exact arity.
    """
    if method.__code__.co_argcount == 3:

        @functools.wraps(method)
        def wrapper3(self, context, event):
            try:
                with run_scope():
                    return method(self, context, event)
            except USER_ERRORS as exc:
                return report_user_error(self, exc)

        return wrapper3

    @functools.wraps(method)
    def wrapper2(self, context):
        try:
            with run_scope():
                return method(self, context)
        except USER_ERRORS as exc:
            return report_user_error(self, exc)

    return wrapper2
