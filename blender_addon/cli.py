"""The `facsimile` command line: `facsimile <command> ...`, `python -m blender_addon.cli`, or inside Blender
`blender -b scene.blend --python-exit-code 1 -P <path of this file> -- <command> ...` (arguments after `--`).

Each sub-command lives in blender_addon/commands/<name>.py with `add_parser(subparsers)` and `run(args) -> int`.
Exit codes: 0 done; 1 a user error (FacsimileError, OSError: one clear line, no traceback) or, for solve and batch, any
input or job failed; 2 a bad command line (argparse); 130 interrupted (Ctrl-C or SIGTERM: temporaries removed, batch
prints its summary so far). An unexpected exception is one "internal error" line (FACSIMILE_DEBUG=1 re-raises it).
"""

from __future__ import annotations

import argparse
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
    "export_csv",
    "batch",
    "skin",
    "keys",
)

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facsimile", description="Face photo/video to ARKit-52 shape keys, and LBS body posing, for Blender."
    )
    from . import commands

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .core.errors import FacsimileError

    if argv is None:
        argv = sys.argv[1:]
        if "--" in argv:  # inside Blender: blender -b ... -P <this file> -- <command> ...
            argv = argv[argv.index("--") + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    previous_term = _stop_on_sigterm()
    try:
        return int(args.run(args) or 0)
    except FacsimileError as exc:
        print(f"facsimile {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"facsimile {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"facsimile {args.command}: interrupted; no output was left half-written (a rerun starts again"
            f"{', skipping finished jobs' if args.command == 'batch' else ''})",
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
        sys.stdout.flush()
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        from . import process_exit

        process_exit.install()  # a .blend with a Python driver would otherwise hang the process at exit


def _stop_on_sigterm():
    """SIGTERM (kill, a scheduler's timeout) stops like Ctrl-C: temporaries removed, batch summary printed. Returns
    the previous handler (None where signals cannot be set: not the main thread)."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:
        return None


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
