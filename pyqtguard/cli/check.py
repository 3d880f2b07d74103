"""``pyqtguard check PATH...``: code that would run again in spawn/forkserver
children (see :mod:`pyqtguard.check`).

Exit status: 0 without findings, 1 with findings, 2 when a path does not
exist (or the command line is wrong).  ``--format json`` prints a JSON list.
``# noqa: PQG001`` on a line silences that code there.  With nothing to
report, one summary line (unless ``--quiet``).  Files that are not read - not
regular files, over ``--max-size``, not decodable - are notes on stderr.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TextIO

_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from ..check import DEFAULT_MAX_BYTES

    parser = subparsers.add_parser(
        "check", help="find code that re-runs in spawn/forkserver children",
        description="Report code that runs at import time of a script using Qt or "
        "multiprocessing - a spawn or forkserver child re-runs it: QApplication, "
        "exec(), shown widgets, timers, processes, threads.  Exit status 0 without "
        "findings, 1 with findings, 2 when a path does not exist.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--max-size", type=size, default=DEFAULT_MAX_BYTES, metavar="SIZE",
                        help="skip (with a note) files larger than this: bytes, or with "
                        f"k, M, G (default {DEFAULT_MAX_BYTES // 1024 ** 2}M)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no summary line when there is nothing to report")
    parser.set_defaults(func=main)


def size(text: str) -> int:
    """``"4M"`` -> 4194304; argparse's type for ``--max-size``.

    >>> size("500k")
    512000
    """
    match = re.fullmatch(r"\s*(\d{1,15})\s*([kKmMgG]?)i?[bB]?\s*", text)
    if not match or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: a positive number of bytes, or with k, M or G")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def main(args: argparse.Namespace) -> int:
    from ..check import check_paths
    from .._escape import printable

    result = check_paths(args.paths, max_bytes=args.max_size)
    for note in result.notes:
        _say(f"pyqtguard check: {printable(note)}", sys.stderr)
    for path in result.missing:
        _say(f"pyqtguard check: {printable(path)}: no such file or directory", sys.stderr)
    if args.format == "json":
        print(json.dumps([f.as_dict() for f in result.findings], indent=2))
    else:
        for finding in result.findings:
            _say(str(finding), sys.stdout)
        if not (result.findings or result.missing or args.quiet):
            _say(summary(result.files, len(result.notes)), sys.stdout)
    if result.missing:
        return 2
    return 1 if result.findings else 0


def summary(files: int, skipped: int) -> str:
    """The line printed when there is nothing to report.

    >>> summary(12, 0)
    'All checks passed: 12 files checked.'
    """
    checked = files - skipped if skipped <= files else files
    noun = "file" if checked == 1 else "files"
    if skipped:
        return (f"No findings: {checked} {noun} checked, {skipped} not analysed "
                "(see the notes above).")
    return f"All checks passed: {checked} {noun} checked."


def _say(line: str, stream: TextIO) -> None:
    """Print *line*, escaping what the stream's encoding cannot write (an ASCII
    terminal and a non-ASCII file name) rather than failing."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        line.encode(encoding)
    except UnicodeEncodeError:
        line = line.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        pass
    print(line, file=stream)
