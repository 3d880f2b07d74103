"""Reports that could not be sent (offline is normal), kept in the app's log
folder and retried at a later start, each at most :data:`MAX_ATTEMPTS` times.

``<log folder>/unsent-reports/report-<ns>-<pid>-<n>.json``: the folder is
0700 and must be this user's and not writable by others (as the log folder),
files are created 0600 with ``O_EXCL | O_NOFOLLOW``; at most
:data:`MAX_FILES` are kept (the oldest go, at most :data:`MAX_PRUNED` at a
time: a report is kept by the thread that queues it, the GUI thread too).
Reading them back is reading input: regular files only, never blocking, at
most :data:`MAX_BYTES` each; anything else is skipped, and a file that is
not a report is deleted.

A report sent without a click (``auto_send``) is kept marked ``"auto":
true`` and sent again only by a start that has ``auto_send`` on: an app
whose user turned automatic sending off sends nothing kept before.

Example::

    keep(folder, "sentry:https://...", report)
    for item in pending(folder):
        ...; item.done() or item.failed()
"""
from __future__ import annotations

import itertools
import json
import os
import re
import sys
import time

from ..logs import folder as logdir
from ..logs import read as logread
from .report import Report

FOLDER_NAME = "unsent-reports"
MAX_FILES = 20
MAX_PRUNED = 100            # per keep(): 10,000 planted files cost 123 ms at once
MAX_BYTES = 1 << 20
MAX_ATTEMPTS = 5
_NAME = re.compile(r"^report-\d{1,20}-\d{1,10}-\d{1,10}\.json$")
_counter = itertools.count()


def unsent_folder(log_folder: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(log_folder), FOLDER_NAME)


def _private_folder(folder: str) -> None:
    """Create *folder* 0700 if missing; OSError unless it is safe to use."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    logdir.check_folder(os.stat(folder), folder)


def _names(folder: str) -> list[str]:
    try:
        names = [n for n in os.listdir(folder) if _NAME.match(n)]
    except FileNotFoundError:
        return []
    return sorted(names, key=lambda n: tuple(int(p) for p in n[7:-5].split("-")))


def _write_new(folder: str, data: bytes) -> str:
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    name = f"report-{time.time_ns()}-{os.getpid()}-{next(_counter)}.json"
    path = os.path.join(folder, name)
    fd = os.open(path, flags, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return path


def keep(log_folder: str | os.PathLike[str], destination: str, report: Report,
         attempts: int = 0, *, automatic: bool = False) -> str:
    """Store *report* for *destination* (a :class:`Destination` key);
    *automatic*: queued by ``auto_send``, not by a click.  The file's path;
    OSError (a full disk, an unsafe folder)."""
    folder = unsent_folder(log_folder)
    _private_folder(folder)
    data = json.dumps({"destination": destination, "attempts": attempts,
                       "auto": automatic, "report": report.as_dict()}).encode("utf-8")
    if len(data) > MAX_BYTES:
        raise OSError(f"report too large to keep ({len(data)} bytes)")
    path = _write_new(folder, data)
    names = _names(folder)
    for old in names[:max(0, len(names) - MAX_FILES)][:MAX_PRUNED]:
        _remove(os.path.join(folder, old))
    return path


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class Pending:
    """One kept report: ``path``, ``destination`` (key), ``report``,
    ``attempts``, ``automatic`` (queued by ``auto_send``)."""

    __slots__ = ("path", "destination", "report", "attempts", "automatic")

    def __init__(self, path: str, destination: str, report: Report, attempts: int,
                 automatic: bool = False) -> None:
        self.path = path
        self.destination = destination
        self.report = report
        self.attempts = attempts
        self.automatic = automatic

    def done(self) -> None:
        """Sent: forget it."""
        _remove(self.path)

    def failed(self) -> None:
        """Not sent again: count the attempt; forget it after MAX_ATTEMPTS."""
        _remove(self.path)
        if self.attempts + 1 < MAX_ATTEMPTS:
            try:
                keep(os.path.dirname(os.path.dirname(self.path)), self.destination,
                     self.report, self.attempts + 1, automatic=self.automatic)
            except OSError:
                pass


def _read(path: str) -> Pending | None:
    """The report in *path*; None (and the file deleted) if it is not one;
    OSError for what is not a regular file or cannot be read."""
    info = os.stat(path)
    if info.st_size > MAX_BYTES:
        _remove(path)
        return None
    data = logread.read_tail(path, MAX_BYTES)
    try:
        loaded = json.loads(data.decode("utf-8"))
        destination = loaded["destination"]
        attempts = loaded["attempts"]
        automatic = loaded.get("auto", False)      # older files: a click
        if not isinstance(destination, str) or isinstance(attempts, bool) \
                or not isinstance(attempts, int) or attempts < 0 \
                or not isinstance(automatic, bool):
            raise ValueError("bad destination, attempts or auto")
        report = Report.from_dict(loaded["report"])
    except (ValueError, KeyError, TypeError, RecursionError, UnicodeDecodeError):
        _remove(path)
        return None
    return Pending(path, destination, report, attempts, automatic)


def _writer_alive(name: str) -> bool:
    """Whether the process that kept *name* (its pid is in the name) still
    runs: its reports may be on their way (two copies of an app at once)."""
    pid = int(name[7:-5].split("-")[1])
    if pid == os.getpid() or not hasattr(os, "kill") or sys.platform == "win32":
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False                # no such process (a forged, huge pid)
    except OSError:
        return True                 # someone's process: maybe a reused pid; later
    return True


def pending(log_folder: str | os.PathLike[str]) -> list[Pending]:
    """The kept reports, oldest first; files that are not reports are skipped
    (a FIFO, a symlink to a device) or deleted (damaged ones), and so are the
    reports of a process of the app that still runs.  Never raises."""
    folder = unsent_folder(log_folder)
    try:
        logdir.check_folder(os.stat(folder), folder)
    except OSError:
        return []
    found = []
    for name in _names(folder)[-MAX_FILES:]:
        path = os.path.join(folder, name)
        if os.path.islink(path) or _writer_alive(name):
            continue                 # we never write symlinks: not ours
        try:
            item = _read(path)
        except OSError:
            continue
        if item is not None:
            found.append(item)
    return found
