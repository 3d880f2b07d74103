"""``pyqtguard dump PID``: the thread table and every stack of a running -
possibly hung - process that runs under pyqtguard.

It sends the process its dump signal (SIGUSR1 unless configured otherwise),
then prints the dump from that process's run log.  The dump is written by
pyqtguard's watchdog, which does not need the process's main thread: it works
while the GUI is frozen.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

END_MARKERS = ("=== end of thread dump ===", "written without it)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "dump", help="dump the threads and stacks of a running process",
        description="Make a running process (under pyqtguard) write its thread "
        "table and every stack to its run log, and print it.")
    parser.add_argument("pid", type=int, help="process id")
    parser.add_argument("--log-dir", metavar="DIR",
                        help="the process's log folder (default: searched)")
    parser.add_argument("--signal", type=int, default=getattr(signal, "SIGUSR1", 10),
                        help="the dump signal the process uses (default: SIGUSR1)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for the dump (default: 5)")
    parser.set_defaults(func=main)


def _find_log(pid: int, log_dir: str | None) -> str | None:
    from .. import config
    from ..logs import folder as logdir

    folders = []
    env_dir = os.environ.get(config.ENV_LOG_DIR)
    if log_dir or env_dir:
        folders.append(log_dir or env_dir)
    else:
        root = os.fspath(logdir.default_root())
        try:
            folders += [os.path.join(root, name) for name in os.listdir(root)]
        except OSError:
            pass
    found = [os.path.join(folder, name) for folder in folders if os.path.isdir(folder)
             for name in os.listdir(folder)
             if logdir.is_run_log(name) and name.split("-")[3] == str(pid)]
    return max(found, key=os.path.getmtime) if found else None


def main(args: argparse.Namespace) -> int:
    if args.timeout < 0:
        print("pyqtguard dump: --timeout must be >= 0", file=sys.stderr)
        return 2
    log = _find_log(args.pid, args.log_dir)
    size = os.path.getsize(log) if log else 0
    try:
        os.kill(args.pid, args.signal)
    except ProcessLookupError:
        print(f"pyqtguard dump: no process {args.pid}", file=sys.stderr)
        return 2
    except PermissionError:
        print(f"pyqtguard dump: not allowed to signal process {args.pid}", file=sys.stderr)
        return 2
    if log is None:
        print(f"signal sent; no run log of process {args.pid} found here "
              "(see its log folder)", file=sys.stderr)
        return 1
    give_up = time.monotonic() + args.timeout
    while time.monotonic() < give_up:
        with open(log, "rb") as stream:
            stream.seek(size)
            text = stream.read().decode("utf-8", "replace")
        if any(marker in text for marker in END_MARKERS):
            start = text.find("=== pyqtguard thread dump ===")
            sys.stdout.write(text[max(start, 0):])
            print(f"(written to {log})")
            return 0
        time.sleep(0.05)
    print(f"pyqtguard dump: no dump from process {args.pid} within {args.timeout:g} s "
          f"(is it running under pyqtguard with the dump signal on?); log: {log}",
          file=sys.stderr)
    return 1
