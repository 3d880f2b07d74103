"""``pyqtguard check PATH...``: code that would run again in spawn/forkserver
children (see :mod:`pyqtguard.check`).

Exit status: 0 without findings, 1 with findings, 2 when a path does not
exist.  ``--format json`` prints a JSON list.  ``# noqa: PQG001`` on a line
silences that code there.
"""
from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "check", help="find code that re-runs in spawn/forkserver children",
        description="Report code that runs at import time of a script using Qt or "
        "multiprocessing - a spawn or forkserver child re-runs it: QApplication, "
        "exec(), shown widgets, timers, processes, threads.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..check import check_paths

    result = check_paths(args.paths)
    for note in result.notes:
        print(f"pyqtguard check: {note}", file=sys.stderr)
    for path in result.missing:
        print(f"pyqtguard check: {path}: no such file or directory", file=sys.stderr)
    if args.format == "json":
        print(json.dumps([f.as_dict() for f in result.findings], indent=2))
    else:
        for finding in result.findings:
            print(finding)
    if result.missing:
        return 2
    return 1 if result.findings else 0
