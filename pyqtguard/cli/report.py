"""``pyqtguard report``: the crashes that earlier runs left in the log folder.

    pyqtguard report                  # this machine's apps, newest crash first
    pyqtguard report --app viewer     # one app's folder
    pyqtguard report --log-dir DIR    # any folder of run logs
    pyqtguard report --json           # the same list as JSON
    pyqtguard report --last           # the newest full report
    pyqtguard report --last --json    # the same, as a JSON list of at most one

Exit status: 0; 1 when ``--last`` finds no crash (the text form says so on
stderr, the JSON form prints ``[]``); 2 for a folder or app that does not
exist.  Unreadable (truncated, damaged) reports are skipped with a note on
stderr.  ``pyqtguard logs`` lists every run, crashed or not.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "report", help="list past runs that crashed, or print the last report",
        description="List past runs that crashed (newest first), or print the "
        "newest full crash report.  Exit status 0; 1 when --last finds no "
        "crash (with --json: prints []); 2 if the folder or app does not exist or "
        "cannot be read.")
    add_folder_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--last", action="store_true",
                        help="print the newest full crash report")
    parser.set_defaults(func=main)


def add_folder_options(parser: argparse.ArgumentParser) -> None:
    """``--log-dir DIR`` and ``--app NAME``, shared with ``pyqtguard logs``."""
    from ._output import folder

    parser.add_argument("--log-dir", metavar="DIR", type=folder,
                        help="folder of run logs (default: $PYQTGUARD_LOG_DIR, else "
                        "every app's folder under the platform's log folder)")
    parser.add_argument("--app", metavar="NAME", type=folder,
                        help="one app's runs: its folder, or in a --log-dir or "
                        "$PYQTGUARD_LOG_DIR folder the logs naming it")


def folders_or_error(command: str, args: argparse.Namespace) -> list[str] | None:
    """The folders to read, or None after saying on stderr that the folder
    given with --log-dir or the app given with --app does not exist."""
    folders = _folders(args)
    if (args.log_dir or args.app) and not os.path.isdir(folders[0]):
        what = (f"no such app: {args.app} (no folder {folders[0]})"
                if args.app and not args.log_dir else f"no such folder: {folders[0]}")
        print(f"pyqtguard {command}: {what}", file=sys.stderr)
        return None
    return folders


def app_filter(args: argparse.Namespace) -> str | None:
    """The app whose runs to keep when ``--app`` names one and a log folder
    every app writes into is in force (``--log-dir`` or $PYQTGUARD_LOG_DIR:
    ``install(log_dir=...)`` puts each app's logs there, the app named in
    their header); None otherwise (an app's own folder holds its runs only)."""
    from .. import config

    if not args.app or not (args.log_dir or os.environ.get(config.ENV_LOG_DIR)):
        return None
    return config.sanitize_app_name(args.app)


def no_such_app(command: str, args: argparse.Namespace, folders: list[str]) -> None:
    """Say on stderr that the shared log folder holds no run of ``--app``."""
    print(f"pyqtguard {command}: no such app: {args.app} (no run logs of it in "
          f"{folders[0]})", file=sys.stderr)


def _folders(args: argparse.Namespace) -> list[str]:
    from .. import config
    from ..logs import folder as logdir

    log_dir = args.log_dir or os.environ.get(config.ENV_LOG_DIR) or None
    if log_dir is not None or args.app:
        app = config.sanitize_app_name(args.app) if args.app else "app"
        return [os.fspath(logdir.resolve_log_dir(log_dir, app))]
    root = os.fspath(logdir.default_root())
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    folders = [os.path.join(root, n) for n in names]
    if sys.platform == "win32":
        folders = [os.path.join(f, "Logs") for f in folders]
    return [f for f in folders if os.path.isdir(f)]


def main(args: argparse.Namespace) -> int:
    from ..crashes import reports
    from ..logs import summary as runsummary
    from ._output import printable, printable_text

    folders = folders_or_error("report", args)
    if folders is None:
        return 2
    notes: list[str] = []
    crashes = []
    unreadable = False
    for folder in folders:
        try:
            crashes += reports.find_crashes(folder, notes)
        except OSError as exc:
            notes.append(f"cannot read {folder}: {exc.strerror or exc}")
            unreadable = True
    app = app_filter(args)
    if app is not None and not unreadable:
        if not runsummary.recent_runs(folders, 1, app=app):
            no_such_app("report", args, folders)
            return 2
        crashes = [c for c in crashes if runsummary.app_of(c.path) == app]
    crashes.sort(key=lambda c: c.time, reverse=True)
    for note in notes:
        print(f"pyqtguard report: {printable(note)}", file=sys.stderr)
    if unreadable and not crashes:
        return 2
    if args.last:
        if args.json:
            print(json.dumps([dict(crashes[0].as_dict(), text=crashes[0].text)]
                             if crashes else [], indent=2))
        elif crashes:
            sys.stdout.write(printable_text(crashes[0].text))
        else:
            print("no crash reports", file=sys.stderr)
        return 0 if crashes else 1
    if args.json:
        print(json.dumps([c.as_dict() for c in crashes], indent=2))
        return 0
    if not crashes:
        print("no crash reports")
        return 0
    for crash in crashes:
        # a Qt fatal message's lines, indented
        print(f"{printable(crash.time)}  " + "\n    ".join(
            printable(line) for line in crash.reason.split("\n")))
        print(f"    thread '{printable(crash.thread_name)}' (native id {crash.native_id}), "
              f"pid {crash.pid}")
        if crash.frame:
            print(f"    {printable(crash.frame)}")
        for pending in crash.pending_exceptions:
            print(f"    just before: {printable(pending)}")
        print(f"    full report: {printable(str(crash.path))}")
    return 0
