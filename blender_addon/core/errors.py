"""User-facing errors: anything raised as a FacsimileError is shown as its message, never as a traceback."""


class FacsimileError(Exception):
    """A problem the user can fix (bad input, missing file, wrong object); the message says what and how."""
