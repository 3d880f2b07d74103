"""``pyqtguard logs``: recent runs and their run logs, newest first.

    pyqtguard logs                    # this machine's apps
    pyqtguard logs --app viewer       # one app's folder
    pyqtguard logs --log-dir DIR      # any folder of run logs
    pyqtguard logs --json             # the same list as JSON
    pyqtguard logs -n 50              # more than the default 20 (0: all)

One line per run: start time (UTC), app, pid, outcome (``clean``, ``N
exceptions``, ``crashed (SIGSEGV ...)``, ``exit timeout (124)``, ``still
running``, ``uninstalled``, ``ended unrecorded``), the run's GUI freezes
after it (``clean; 2 GUI freezes (longest 910 ms, at app.py:14 in
on_save)``) and the log's path; see :mod:`pyqtguard.logs.summary`.  Exit status 0, or 2 for a folder or app that
does not exist or cannot be read.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .report import add_folder_options, app_filter, folders_or_error, no_such_app


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "logs", help="list recent runs: time, app, pid, outcome, run log",
        description="List recent runs, newest first: start time (UTC), app, pid, "
        "outcome (clean, N exceptions, crashed, exit timeout, still running, "
        "uninstalled, ended unrecorded), the run's GUI freezes (how many, the longest, "
        "where the GUI thread was stuck: \"clean; 2 GUI freezes (longest 910 ms, at "
        "app.py:14 in on_save)\") and "
        "the run log's path; the app's multiprocessing workers' own logs among "
        "them (\"worker of pid N: ...\"; workers in a row of which nothing is "
        "to tell: one line, counted).  Exit status 0; 2 if the folder or app does "
        "not exist or cannot be read.")
    add_folder_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("-n", "--limit", type=int, default=20, metavar="N",
                        help="newest N runs of the app, with their workers (default 20; "
                        "0: all)")
    parser.set_defaults(func=main)


def _unreadable(folders: list[str], notes: list[str]) -> bool:
    """Whether a folder cannot be listed (a note each): that is not "no run
    logs" (``report`` says the same)."""
    unreadable = False
    for folder in folders:
        try:
            os.listdir(folder)
        except FileNotFoundError:
            pass
        except OSError as exc:
            notes.append(f"cannot read {folder}: {exc.strerror or exc}")
            unreadable = True
    return unreadable


def main(args: argparse.Namespace) -> int:
    from ..logs import summary as runsummary
    from ._output import printable as _printable

    if args.limit < 0:
        print("pyqtguard logs: --limit must be 0 or more", file=sys.stderr)
        return 2
    folders = folders_or_error("logs", args)
    if folders is None:
        return 2
    notes: list[str] = []
    unreadable = _unreadable(folders, notes)
    app = app_filter(args)
    runs = runsummary.recent_runs(folders, args.limit or None, notes, app=app)
    for note in notes:
        print(f"pyqtguard logs: {_printable(note)}", file=sys.stderr)
    if app is not None and not runs and not unreadable:
        no_such_app("logs", args, folders)
        return 2
    if unreadable and not runs:
        return 2
    if args.json:
        print(json.dumps([run.as_dict() for run in runs], indent=2))
        return 0
    if not runs:
        print("no run logs")
        return 0
    for run, count in _collapse_uneventful_workers(runs):
        if count:
            print("  ".join([_printable(run.started) or "?", _printable(run.app) or "?",
                             "-", f"{count} workers of pid {run.worker_of}: clean or ended "
                             "unrecorded (--json lists each)"]))
            continue
        print("  ".join([_printable(run.started) or "?", _printable(run.app) or "?",
                         str(run.pid), _printable(run.describe()),
                         _printable(str(run.path))]))
    return 0


def _collapse_uneventful_workers(runs):
    """(run, 0) for each run to print; (newest, N) in place of N > 1
    workers in a row of one app whose logs say nothing happened: a pool of
    64 workers is one line, its crashed worker a line of its own."""
    from ..logs.summary import is_uneventful_worker

    out: list = []
    group: list = []

    def flush() -> None:
        if len(group) > 1:
            out.append((group[0], len(group)))
        else:
            out.extend((run, 0) for run in group)
        group.clear()

    for run in runs:
        if is_uneventful_worker(run) and (not group or group[0].worker_of == run.worker_of):
            group.append(run)
            continue
        flush()
        if is_uneventful_worker(run):
            group.append(run)
        else:
            out.append((run, 0))
    flush()
    return out
