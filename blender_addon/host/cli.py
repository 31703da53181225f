"""The `facsimile` command line: `facsimile <command> ...`, `python -m blender_addon.host.cli`, or inside Blender
`blender -b scene.blend --python-exit-code 1 -P <path of this file> -- <command> ...` (arguments after `--`).

Each sub-command lives in blender_addon/commands/<name>.py with `add_parser(subparsers)` and `run(args) -> int`.
Exit codes: 0 done; 1 a user error (FacsimileError, OSError: one clear line, no traceback) or, for solve and batch, any
input or job failed; 2 a bad command line (argparse); 130 interrupted (Ctrl-C, SIGTERM or SIGHUP: temporaries and created folders removed, batch
prints its summary so far). An unexpected exception is one "internal error" line (FACSIMILE_DEBUG=1 re-raises it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys

# Sub-command modules, in the order `facsimile --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "apply",
    "demo",
    "solve",
    "photo",
    "bake",
    "capture",
    "export_csv",
    "batch",
    "skin",
    "keys",
)

_WITHOUT_BLENDER = {"solve"}  # commands that never load Blender (bpy is imported first, signals held, by the rest)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facsimile", description="Face photo/video to ARKit-52 shape keys, and LBS body posing, for Blender."
    )
    from .. import commands

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.add_parser(sub)
    for command in sub.choices.values():  # every command replaces an output the user changed only when asked
        if not any("--force" in a.option_strings for a in command._actions):
            command.add_argument(
                "--force",
                action="store_true",
                help="replace outputs that were changed since Facsimile wrote them (default: stop with an error)",
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..core.errors import FacsimileError

    if argv is None:
        argv = sys.argv[1:]
        if "--" in argv:  # inside Blender: blender -b ... -P <this file> -- <command> ...
            argv = argv[argv.index("--") + 1 :]
    from ..core import interrupt
    from ..core.output_plan import run_scope

    interrupt.clear()
    previous = _stop_on_signals()  # first: a signal while the commands are imported stops cleanly too
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command not in _WITHOUT_BLENDER:
            with interrupt.held():  # bpy's start-up runs Python that would print a Ctrl-C as a traceback
                import bpy  # noqa: F401
    except KeyboardInterrupt:
        _restore(previous)
        from . import process_exit

        process_exit.install()  # Blender's shutdown (its temp folder) still runs at exit
        with contextlib.suppress(OSError, ValueError):
            print(f"facsimile: {interrupt.requested() or 'interrupted'} before starting; nothing was written",
                  file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    except SystemExit:
        _restore(previous)
        raise
    try:
        try:
            with run_scope(force=bool(getattr(args, "force", False))):
                return int(args.run(args) or 0)
        except Exception:
            if interrupt.requested():  # a signal that surfaced as another error (inside an import, a library)
                raise KeyboardInterrupt from None
            raise
    except FacsimileError as exc:
        print(f"facsimile {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"facsimile {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except RecursionError:
        print(f"facsimile {args.command}: error: an input is nested too deeply to read", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        with contextlib.suppress(OSError, ValueError):  # after SIGHUP the terminal may be gone
            print(
                f"facsimile {args.command}: {interrupt.requested() or 'interrupted'}; no output was left half-written "
                f"(a rerun starts again{', skipping finished jobs' if args.command == 'batch' else ''})",
                file=sys.stderr,
            )
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("FACSIMILE_DEBUG"):
            raise
        print(
            f"facsimile {args.command}: internal error: {type(exc).__name__}: {exc} (a bug: please report it; "
            "FACSIMILE_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        _restore(previous)
        from . import process_exit

        process_exit.install()  # a .blend with a Python driver would otherwise hang the process at exit


_SIGNAL_WHY = {
    "SIGINT": "interrupted",
    "SIGTERM": "stopped (SIGTERM)",
    "SIGHUP": "stopped (the terminal closed: SIGHUP)",
}


def _restore(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _stop_on_signals() -> dict:
    """SIGTERM (kill, a scheduler's timeout) and SIGHUP (the terminal closed) stop like Ctrl-C: temporaries and the
    folders the run created removed, batch summary printed, exit 130. Returns the previous handlers (none where
    signals cannot be set: not the main thread, or a platform without SIGHUP)."""

    from ..core import interrupt

    def stop(signum, frame):
        interrupt.note(_SIGNAL_WHY.get(signal.Signals(signum).name, "interrupted"))
        raise KeyboardInterrupt

    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            if name == "SIGINT" and signal.getsignal(signum) is not signal.default_int_handler:
                continue  # someone (Blender, a test runner) handles Ctrl-C: leave it
            previous[signum] = signal.signal(signum, stop)
        except (ValueError, OSError):
            pass
    return previous


def _run_as_blender_script() -> int:
    """`blender -P <this file>`: import the add-on package by its folder name (the folder holding
    blender_manifest.toml), whatever it is installed as, then this module inside it."""
    from pathlib import Path

    here = Path(__file__).resolve()
    root = next(p for p in here.parents if (p / "blender_manifest.toml").is_file())
    sys.path.insert(0, str(root.parent))
    package = importlib.import_module(root.name)
    inside = ".".join(here.relative_to(root).with_suffix("").parts)
    cli = importlib.import_module(f"{package.__name__}.{inside}")
    return cli.main()


if __name__ == "__main__":
    if __package__:
        code = main()
    else:
        code = _run_as_blender_script()
    sys.exit(code)
