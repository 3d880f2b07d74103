"""The ``pyqtguard`` command line: one module per subcommand.

Each subcommand module has ``add_parser(subparsers)`` (which sets
``func=main`` on its parser) and ``main(args) -> int``; ``run`` parses its
own arguments (``run.main_argv``), since everything after its target is the
target's, as with ``python``.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:       # nothing more imported before run's target runs
    import argparse
    from collections.abc import Sequence

# name -> module; a later feature adds its subcommand with one line here.
SUBCOMMANDS: dict[str, str] = {
    "run": "pyqtguard.cli.run",
    "report": "pyqtguard.cli.report",
    "logs": "pyqtguard.cli.logs",
    "dump": "pyqtguard.cli.dump",
    "check": "pyqtguard.cli.check",
}


def build_parser() -> argparse.ArgumentParser:
    import argparse
    import importlib

    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="pyqtguard",
        description="Make PyQt6 apps crash-resistant, and their crashes, hangs "
        "and freezes diagnosable.",
        epilog="Exit status: each command's own (COMMAND --help says it); 2 for a "
        "wrong command line; 141 when the reader of the output goes away "
        "(pyqtguard logs | head -1), as for a command killed by SIGPIPE.",
    )
    parser.add_argument("--version", action="version", version=f"pyqtguard {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pyqtguard`` console script and ``python -m pyqtguard``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "run":
        # run's options end at its target, as python's do: not argparse's way.
        # The target's stdout is its own (a broken pipe is its business).
        from . import run

        return run.main_argv(args_list[1:])
    from ._output import escape_what_stdout_cannot_encode, unless_reader_gone

    escape_what_stdout_cannot_encode()
    return unless_reader_gone(lambda: _dispatch(args_list))


def _dispatch(args_list: list[str]) -> int:
    parser = build_parser()
    if not args_list:
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)
