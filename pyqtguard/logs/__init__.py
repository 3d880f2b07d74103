"""Run logs: where they live (:mod:`.folder`) and what writes to this run's
log (:mod:`.runlog`).  C side: ``src/logfd.c`` (the log descriptor,
signal-safe writes), ``src/logprune.c`` (old runs deleted by the watchdog).

This package's face is this run's log (what was ``logs.runlog``):

Where pyqtguard writes: the one log file of this run, and the one-time
warnings on stderr about environmental trouble.

The run log is created by :mod:`pyqtguard.logs.folder` (where run logs live).  Its
descriptor stays open for the whole process and is handed to the C core,
which writes crash and hang reports to it from signal handlers and its
watchdog thread.

pyqtguard must never make the host app worse: an unwritable log folder, a full
disk or a broken environment variable is reported once (:func:`warn_once`), on
stderr when there is one, and pyqtguard keeps going with what works.

This module stays loaded while the app runs, so it holds only what runs
then; ``pathlib`` is imported only by :func:`current_path`.
"""
from __future__ import annotations

import os
import sys
import _thread
import time

from ..registry import renewed_in_fork_children
from .. import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

_path: str | None = None
_warned: set[str] = set()
_warned_lock = renewed_in_fork_children(_thread.allocate_lock())


def warn_once(key: str, message: str) -> None:
    """Print ``pyqtguard: <message>`` to stderr the first time *key* is seen;
    never raises (stderr itself may be missing or broken)."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(f"pyqtguard: {message}\n")
        stream.flush()
    except Exception:  # noqa: BLE001 - stderr itself may be broken
        pass


def warned() -> list[str]:
    """The keys :func:`warn_once` has seen, sorted (a worker the app starts
    is told them: it does not say again what the app said)."""
    with _warned_lock:
        return sorted(_warned)


def already_warned(keys: Iterable[object]) -> None:
    """Take *keys* (strings) as warned about already: by the app that
    started this worker (see :func:`warned`)."""
    with _warned_lock:
        _warned.update(key for key in keys if isinstance(key, str))


def above_stdio(fd: int) -> int:
    """*fd*, or a close-on-exec copy of it numbered 3 or above (the original
    closed): a descriptor pyqtguard keeps must never be 0, 1 or 2, which an
    app started with them closed (``2>&-``) would otherwise hand it, and
    where every library's write to "stderr" would then land."""
    if fd > 2 or sys.platform == "win32":
        return fd
    import fcntl

    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    finally:
        os.close(fd)


def use_run_log(path: str, fd: int) -> None:
    """Make *fd*, open on *path*, this run's log: the C core writes to it
    from here on (see :func:`pyqtguard.logs.folder.create_run_log`)."""
    global _path, _path_line, _owner_pid
    _owner_pid = os.getpid()
    # Absolute: the app may change its working folder afterwards, and what
    # names the log then (its workers' log folder, the dump file, reports
    # on earlier runs) must still mean this folder.
    path = os.path.abspath(path)
    # The C core takes UTF-8 (for its warnings): a folder name that is not
    # (os.fsdecode's surrogates) is shown escaped, never refused.
    _native.set_log_fd(fd, path.encode("utf-8", "surrogateescape")
                       .decode("utf-8", "backslashreplace"))
    _path = path
    _path_line = f"pyqtguard: this run's log: {path}\n"
    # For a crash report's copy on stderr (C: it cannot build the line then).
    _native.set_log_path_line(_path_line.encode("utf-8", "surrogateescape"))


def run_log_path() -> str | None:
    """This run's log as a string, or None if there is none (no ``pathlib``:
    for start-up code)."""
    return _path if _path is not None and _native.log_fd() >= 0 else None


_path_line = ""          # "pyqtguard: this run's log: <absolute path>\n"
_owner_pid = -1          # the process that opened the log (a fork child shares it)
_left_out_noted_by = -1  # the process that wrote its count of reports left out
_path_noted = False


def log_path_note(*, again: bool = False) -> str | None:
    """``pyqtguard: this run's log: <path>``, the first time it is asked
    for in this run (after the first report written to stderr); None after
    that, and without a log.  ``again=True``: even if it was said before
    (a report that ends the process, as a crash report does)."""
    global _path_noted
    with _warned_lock:
        if _path_noted and not again:
            return None
        _path_noted = True
    return _path_line if run_log_path() is not None else None


def current_path() -> Path | None:
    """The path of this run's log file, or None if there is none.

    Example::

        print("Details are in", pyqtguard.log_path())
    """
    path = run_log_path()
    if path is None:
        return None
    from pathlib import Path

    return Path(path)


def stamp() -> str:
    """Now, as every pyqtguard log line writes it (UTC)."""
    # Not time.strftime: it goes through the C locale's conversions, which
    # costs up to half a millisecond at interpreter exit.
    t = time.gmtime()
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} UTC")


# Lines pyqtguard.installer writes at uninstall() and at a later install()
# in the same process (which goes on in the same run log); `pyqtguard logs`
# (pyqtguard.logs.summary) reads the last of them.
UNINSTALLED_EVENT = "pyqtguard: uninstalled; the rest of this run is not watched"
REINSTALLED_EVENT = "pyqtguard: installed again"


def log_event(text: str, *, report: bool = False) -> None:
    """Append ``[time] text`` as a line of this run's log; never raises.

    The time (UTC, to the millisecond) and the line are put together in C,
    as the C core's own lines are.  ``report=True`` for what an app can
    repeat without end (a Qt warning, a freeze): left out, and counted,
    once the log has reached its size limit (``max_log_bytes``); pyqtguard's
    own lines on how the run goes and ends are always written."""
    pid = os.getpid()
    if pid != _owner_pid:
        # A fork child (a multiprocessing worker under the fork start
        # method) shares the log: its lines must not read as the app's.
        text = f"(forked child, pid {pid}) {text}"
    try:
        written = _native.log_line(text, report)
    except Exception:  # noqa: BLE001 - e.g. text that is not valid UTF-8
        written = _native.log_write(f"[{stamp()}] {text!a}\n", report)
    if not written:
        _note_write_failure()


def _note_write_failure() -> None:
    # The C core warned at the failure itself when it has a stderr to warn on
    # (logfd.c: one line per failure, C hooks and signal handlers included).
    if (_native.log_fd() >= 0 and _native.take_write_failure()
            and _native.stderr_fd() < 0):
        warn_once("logwrite", f"cannot write to the run log {_path} "
                  "(disk full or file gone); reports go to stderr only")


def write(text: str, *, report: bool = False) -> None:
    """Append *text* to this run's log (no-op without one); never raises.
    ``report``: as for :func:`log_event`."""
    try:
        written = _native.log_write(text, report)
    except Exception:  # noqa: BLE001 - never raises
        written = _native.log_write(ascii(text), report)
    if not written:
        _note_write_failure()


def note_reports_left_out() -> None:
    """At exit: how many reports the log left out past its size limit
    (``pyqtguard logs`` reads this line back), if any."""
    global _left_out_noted_by
    if _left_out_noted_by == os.getpid():
        return                      # a fork worker's end wrote it (children/forkworkers.py)
    _left_out_noted_by = os.getpid()
    limit, _size, left_out = _native.log_limit_state()
    if left_out:
        log_event(f"pyqtguard: {left_out} report{'s' if left_out != 1 else ''} not "
                  f"written: this run's log was full (its size limit: {limit} bytes, "
                  "max_log_bytes)")
