"""One line per past run: what each run log in a folder says about its run.

``pyqtguard logs`` prints these; :func:`recent_runs` is the same as a list:

    >>> for run in pyqtguard.logs.summary.recent_runs([folder], limit=5):
    ...     print(run.started, run.app, run.pid, run.outcome, run.path)
    2026-11-29 06:16:13 UTC  viewer  4711  2 exceptions  /home/.../pyqtguard-...log

The outcome of a run, from its log:

==========================  ==================================================
``crashed (SIGSEGV ...)``   a crash report (``=== pyqtguard crash report ===``)
``exit timeout (124)``      the exit watchdog ended the process (no number:
                            it reported only, ``exit_timeout=None``)
``SIGTERM not taken, GUI    a SIGTERM the GUI thread, stuck in a slot, never
thread busy (143)``         took: the watchdog ended the process
``child refused to start    a spawn/forkserver child re-ran the main module's
(3)``                       QApplication or pool: the child guard ended the
                            program (exit status 3)
``worker of pid N: ...``    a spawn/forkserver worker that ran the app's
                            ``install()`` again: its own log, named
                            ``pyqtguard-worker-...`` (its header's ``worker
                            of:`` line; N is the app's pid, a forkserver
                            worker's adds ``(forkserver M)`` where Linux's
                            /proc told the app's pid, else N is the
                            forkserver's)
``...; forked child         a ``fork`` child (sharing this log) crashed; the
crashed (pid N: SIG...)``   run's own outcome comes first
``clean``                   the interpreter exited, no uncaught exception
                            (the log has no exit status: ``sys.exit(1)``
                            is clean too)
``N exceptions``            it exited after N uncaught exceptions (repeats
                            counted, not reported in full, included)
``still running``           no exit recorded, and the process still has the log
                            open
``uninstalled``             ``pyqtguard.uninstall()`` was the last thing the log
                            recorded and the process is gone: what followed was
                            not watched (``uninstalled, N exceptions before``)
``ended unrecorded``        no exit recorded and the process is gone (killed by
                            SIGKILL, ``os._exit``, power loss)
==========================  ==================================================

GUI freezes the watchdog reported follow the outcome (``clean; 2 GUI
freezes (longest 910 ms, at app.py:14 in on_save)``): how many, the longest
(its whole length from its ``GUI freeze ended`` line; ``at least`` if the
log ended while it lasted) and where the GUI thread was stuck then, the
innermost app frame of its report's stack (not the standard library,
site-packages or pyqtguard, as the reading interpreter places them); the
JSON adds every place, longest first (:class:`FreezePlace`, at most
:data:`MAX_FREEZE_PLACES`).  Only the watchdog's own lines count: at a
line's start, without a fork child's ``(forked child, pid N)``; a freeze
not reported because a debugger had stopped the GUI thread is none.

Logs are read as untrusted input: only regular files (a FIFO, device,
socket or folder with a run log's name is skipped with a note, never opened
for a blocking read), only files that start as run logs do, the header and
the tail read with a bound, the whole file scanned in chunks up to
:data:`MAX_SCAN_BYTES` (a bigger log's count reads "at least"), and a
report's header line counts only if it names the log's pid.
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import REINSTALLED_EVENT, UNINSTALLED_EVENT
from . import folder as logdir
from .read import open_regular

HEAD_BYTES = 8 * 1024               # the run header is a few hundred bytes
TAIL_BYTES = 1024 * 1024            # a crash report is a few KB to tens of KB
MAX_SCAN_BYTES = 64 * 1024 * 1024   # counting exceptions reads no more than this
_CHUNK = 1024 * 1024
MAX_LINE_BYTES = 64 * 1024          # report and repeat lines are < 1 KB

CRASH_MARKER = b"=== pyqtguard crash report ==="
EXIT_TIMEOUT_MARKER = b"=== pyqtguard exit timeout ==="
# The line pyqtguard.children.parent ends the program with (exit status 3),
# at a line's start; it counts only in a run that recorded no exit.
CHILD_REFUSED_MARKER = (b"\npyqtguard: a child process refused to start (see above); "
                        b"ending the program")
_STAMP = rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})? UTC\] "
_EXIT_LINE = re.compile(_STAMP + rb"pyqtguard: interpreter exit$")
_LIFECYCLE_LINE = re.compile(_STAMP + rb"(?P<event>" + re.escape(UNINSTALLED_EVENT.encode())
                             + rb"|" + re.escape(REINSTALLED_EVENT.encode()) + rb")$")
_ENDING_LINE = re.compile(_STAMP + rb"pyqtguard: ending the process \(exit status "
                          rb"(?P<status>\d{1,3})\)(?:, pid (?P<pid>\d{1,10}))?$")
_REPORT_LINE = re.compile(
    _STAMP + rb"pyqtguard: (?:uncaught|unraisable) exception in thread '.*' "
    rb"\(native id \d+, pid (?P<pid>\d+)\) \[[a-z.]+\]")
_REPEAT_LINE = re.compile(
    _STAMP + rb"pyqtguard: (?!Qt )(?P<where>.*): (?P<count>\d+) more times? since its "
    rb"last full report")
# The freeze detector's lines (pyqtguard/watchdog/freeze.py, src/watchdog.c),
# at a line's start: the app's text in the log cannot begin a line with '['
# (src/logfd.c), and a fork child's Python lines begin "(forked child, pid N)".
_FREEZE_LINE = re.compile(_STAMP + rb"GUI freeze: the event loop has not turned for "
                          rb"(?P<ms>\d{1,12}) ms(?:;|$)")
_LASTING_FREEZE_LINE = re.compile(_STAMP + rb"GUI freeze: still frozen after "
                                  rb"(?P<ms>\d{1,12}) ms;")
_FREEZE_END_LINE = re.compile(_STAMP + rb"GUI freeze ended: the event loop was blocked for "
                              rb"(?P<ms>\d{1,12}) ms$")
_DEBUGGER_STOP_LINE = re.compile(_STAMP + rb"GUI freeze of \d{1,12} ms not reported: ")
# A frame of the freeze report's stack: as traceback prints it (most recent
# call last), or as the C fallback's dumper (most recent call first).
_TRACEBACK_FRAME = re.compile(rb'  File "(?P<file>.*)", line (?P<line>\d{1,10}), '
                              rb'in (?P<func>.*)$')
_DUMPED_FRAME = re.compile(rb'\s*File "(?P<file>.*)", line (?P<line>\d{1,10}) '
                           rb'in (?P<func>.*)$')
# The run log's size limit (src/loglimit.c): the notice when it was reached,
# and at exit how many reports were left out.
_LOG_FULL_LINE = re.compile(_STAMP + rb"pyqtguard: this run's log reached its size limit \(")
# Each process sharing the log writes its own count (a fork child's line
# begins "(forked child, pid N)"): the log left out their sum.
_LEFT_OUT_LINE = re.compile(_STAMP + rb"(?:\(forked child, pid \d{1,20}\) )?"
                            rb"pyqtguard: (?P<count>\d{1,12}) reports? not written: "
                            rb"this run's log was full")
MAX_FREEZE_PLACES = 10      # where the GUI thread was stuck: the longest freezes' places
_MAX_TRACKED_PLACES = 1024  # places kept while scanning (more: counted, not placed)
_MAX_WHERE = 200


@dataclass(frozen=True)
class FreezePlace:
    """Where the GUI thread was stuck in one or more freezes: the innermost
    app frame of their reports' stacks (``"app.py:42 in on_click"``; ""
    not known), how many, and the longest's length in ms (``ended``
    False: the run was still frozen there when its log ended: at least)."""

    where: str
    count: int
    longest_ms: int
    ended: bool = True

    def as_dict(self) -> dict[str, object]:
        return {"where": self.where, "count": self.count, "longest_ms": self.longest_ms,
                "ended": self.ended}


@dataclass(frozen=True)
class RunSummary:
    """One run, as its log tells it.

    ``outcome`` is one of ``"clean"``, ``"exceptions"``, ``"crashed"``,
    ``"exit timeout"``, ``"child refused"``, ``"still running"``, ``"uninstalled"``,
    ``"ended unrecorded"``;
    ``describe()`` is the human form (``"3 exceptions"``,
    ``"crashed (SIGSEGV (Segmentation fault))"``).
    """

    path: Path
    started: str            # as the header writes it (UTC), or "" if unreadable
    app: str
    pid: int
    outcome: str
    exceptions: int         # uncaught exceptions, repeats included
    exceptions_exact: bool  # False: the log was longer than MAX_SCAN_BYTES
    crash_reason: str       # "SIGSEGV (Segmentation fault)", a fatal message, or ""
    child_crash: str = ""   # a forked child's crash in this log: "pid N: SIGSEGV (...)"
    worker_of: int = 0      # a spawn/forkserver worker's app pid (its header says)
    forkserver: int = 0     # ...and the forkserver's that forked it, if that was known
    exit_status: int | None = None   # an exit timeout's: the status it ended with
    untaken_sigterm: bool = False    # ...that was a SIGTERM the busy GUI thread never took
    freezes: int = 0                 # GUI freezes the watchdog reported
    freezes_exact: bool = True       # False: the log was longer than MAX_SCAN_BYTES
    longest_freeze_ms: int = 0       # the longest one's length ("GUI freeze ended")...
    longest_freeze_ended: bool = True    # ...False: still frozen then (at least that)
    freeze_where: str = ""           # its innermost app frame, "app.py:42 in on_click"
    freeze_places: tuple[FreezePlace, ...] = ()  # by longest freeze, MAX_FREEZE_PLACES
    log_full: bool = False           # the log reached its size limit (max_log_bytes)...
    reports_not_written: int = 0     # ...and left out this many reports (0: not known)
    child_crashes: int = 0           # forked children whose crash is in this log

    def describe(self) -> str:
        """The outcome for people: ``clean``, ``2 exceptions``, ``crashed
        (SIGABRT (Aborted))``, ``exit timeout (124)``, ``still running``...;
        a forked child's crash follows (``clean; forked child crashed (pid
        N: SIGSEGV ...)``)."""
        text = self._describe_run()
        if self.worker_of:
            via = f" (forkserver {self.forkserver})" if self.forkserver else ""
            text = f"worker of pid {self.worker_of}{via}: {text}"
        if self.freezes:
            text += f"; {self._describe_freezes()}"
        if self.child_crash and self.child_crashes > 1:
            text += f"; {self.child_crashes} forked children crashed (last: {self.child_crash})"
        elif self.child_crash:
            text += f"; forked child crashed ({self.child_crash})"
        if self.log_full:
            left_out = self.reports_not_written
            text += (f"; log full ({left_out} report{'s' if left_out != 1 else ''} not written)"
                     if left_out else "; log full (later reports not written)")
        return text

    def _describe_freezes(self) -> str:
        """``2 GUI freezes (longest 910 ms, at app.py:14 in on_save)``."""
        more = "" if self.freezes_exact else "at least "
        plural = "s" if self.freezes != 1 else ""
        longest = ("" if self.longest_freeze_ended else "at least ") + \
            f"{self.longest_freeze_ms} ms"
        where = f", at {self.freeze_where}" if self.freeze_where else ""
        return f"{more}{self.freezes} GUI freeze{plural} (longest {longest}{where})"

    def _describe_run(self) -> str:
        if self.outcome == "crashed":
            return f"crashed ({self.crash_reason})" if self.crash_reason else "crashed"
        if self.outcome == "exit timeout":
            what = ("SIGTERM not taken, GUI thread busy" if self.untaken_sigterm
                    else "exit timeout")
            return what if self.exit_status is None else f"{what} ({self.exit_status})"
        if self.outcome == "child refused":
            return "child refused to start (3)"
        if self.outcome == "exceptions":
            more = "" if self.exceptions_exact else "at least "
            return f"{more}{self.exceptions} exception{'s' if self.exceptions != 1 else ''}"
        if self.outcome == "uninstalled" and self.exceptions:
            more = "" if self.exceptions_exact else "at least "
            return (f"uninstalled, {more}{self.exceptions} "
                    f"exception{'s' if self.exceptions != 1 else ''} before")
        return self.outcome

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {"path": str(self.path), "started": self.started, "app": self.app,
                "pid": self.pid, "outcome": self.outcome, "summary": self.describe(),
                "exceptions": self.exceptions, "exceptions_exact": self.exceptions_exact,
                "crash_reason": self.crash_reason, "child_crash": self.child_crash,
                "worker_of": self.worker_of, "forkserver": self.forkserver,
                "exit_status": self.exit_status, "untaken_sigterm": self.untaken_sigterm,
                "freezes": self.freezes, "freezes_exact": self.freezes_exact,
                "longest_freeze_ms": self.longest_freeze_ms,
                "longest_freeze_ended": self.longest_freeze_ended,
                "freeze_where": self.freeze_where,
                "freeze_places": [place.as_dict() for place in self.freeze_places],
                "log_full": self.log_full, "reports_not_written": self.reports_not_written,
                "child_crashes": self.child_crashes}


class NotARunLog(OSError):
    """A file named like a run log that is not one: not starting with a run
    log's header.  (Not a regular file: :class:`NotARegularFile`.)"""


# ---- bounded reading: regular files only (pyqtguard.logs.read) ------------
def _read_at(fd: int, offset: int, size: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    parts = []
    while size > 0:
        data = os.read(fd, min(size, _CHUNK))
        if not data:
            break
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


def _lines(fd: int, limit: int) -> Iterator[bytes]:
    """The file's lines (without newlines) from its start, up to *limit*
    bytes; a line longer than :data:`MAX_LINE_BYTES` (no line pyqtguard
    writes to start a report) is left out whole, in constant memory."""
    os.lseek(fd, 0, os.SEEK_SET)
    rest = b""
    skipping = False                  # inside a line too long to keep
    left = limit
    while left > 0:
        data = os.read(fd, min(_CHUNK, left))
        if not data:
            break
        left -= len(data)
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        if skipping and lines:
            lines.pop(0)              # the end of the long line
            skipping = False
        if len(rest) > MAX_LINE_BYTES:
            rest, skipping = b"", True
        yield from lines
    if rest and not skipping:
        yield rest


# ---- what a log says ------------------------------------------------------------
def _section_fields(text: str) -> dict[str, str]:
    """The header fields of a section of a run log - the log's own head or a
    report's, *text* starting at its first line (the marker): the ``key:
    value`` lines after it, up to an empty line or a line that is no field;
    an indented line continues the value before it (a Qt fatal message's
    lines); a key's first value counts (what a report's text could repeat
    comes after the header)."""
    fields: dict[str, str] = {}
    key = None
    for line in text.split("\n")[1:]:      # the writers' line end only
        if not line.strip():
            break
        if line.startswith("  ") and key is not None:
            continue                          # the value's next line
        key, sep, value = line.partition(": ")
        if not sep:
            break
        fields.setdefault(key, value)
    return fields


def _header(head: bytes) -> dict[str, str]:
    return _section_fields(head.decode("utf-8", "replace"))


class _Freezes:
    """The run's GUI freezes, fed the log's lines in order, in constant
    memory (at most _MAX_TRACKED_PLACES places).

    A freeze is a "has not turned" line (Python's report, or the watchdog's
    own when Python did not answer); its "still frozen after" and "GUI
    freeze ended" lines that follow tell how long it lasted (an "ended"
    line is its whole length; none: the run ended or was killed while
    frozen, the length is at least what was last said).  A freeze not
    reported because the GUI thread was stopped in a debugger is none, and
    its "ended" line ends no freeze."""

    def __init__(self) -> None:
        self.count = 0
        self.places: dict[str, list] = {}     # where -> [count, longest ms, ended]
        self.longest: tuple[int, bool, str] | None = None     # ms, ended, where
        self._open = False                     # a freeze whose end is not read yet
        self._ms = 0
        self._ended = False
        self._stack = False                    # reading the open freeze's stack
        self._frames = _StackFrames()
        self._libraries: tuple[bytes, ...] | None = None

    def feed(self, line: bytes) -> bool:
        """Take *line*; True if it was a freeze's (its event line or its stack)."""
        if self._stack:
            if not line.startswith((b"[", b"=")):   # pyqtguard's next line or section
                self._frames.add(line)
                return True
            self._stack = False
        if not line.startswith(b"[") or b"GUI freeze" not in line[:64]:
            return False
        if (match := _FREEZE_LINE.match(line)) is not None:
            self._close()
            self.count += 1
            self._open, self._ms, self._ended = True, int(match["ms"]), False
            if self._libraries is None:
                from ..crashes.reports import _library_prefixes

                self._libraries = tuple(os.fsencode(p) for p in _library_prefixes())
            self._stack, self._frames = True, _StackFrames(self._libraries)
        elif (match := _LASTING_FREEZE_LINE.match(line)) is not None:
            if self._open:
                self._ms = max(self._ms, int(match["ms"]))
        elif (match := _FREEZE_END_LINE.match(line)) is not None:
            if self._open:
                self._ms, self._ended = max(self._ms, int(match["ms"])), True
            self._close()          # a debugger's stop ends too: no freeze open then
        elif _DEBUGGER_STOP_LINE.match(line) is not None:
            self._close()
        else:
            return False
        return True

    def _close(self) -> None:
        if not self._open:
            return
        self._open = self._stack = False
        where = self._frames.where()
        if self.longest is None or \
                (self._ms, not self._ended) > (self.longest[0], not self.longest[1]):
            self.longest = (self._ms, self._ended, where)
        place = self.places.get(where)
        if place is None and len(self.places) < _MAX_TRACKED_PLACES:
            self.places[where] = [1, self._ms, self._ended]
        elif place is not None:
            place[0] += 1
            if (self._ms, not self._ended) > (place[1], not place[2]):
                place[1], place[2] = self._ms, self._ended

    def finish(self) -> list[FreezePlace]:
        """The places, longest freeze first (at most MAX_FREEZE_PLACES)."""
        self._close()
        ranked = sorted(self.places.items(), key=lambda item: (-item[1][1], item[1][2]))
        return [FreezePlace(where, count, ms, ended)
                for where, (count, ms, ended) in ranked[:MAX_FREEZE_PLACES]]


# The line after which a freeze report lists other threads (freeze.py).
_OTHER_THREADS_FOLLOW = b"The GUI thread is in Qt's own code"


class _StackFrames:
    """The frames of a freeze report's GUI-thread stack, as they go by: the
    innermost app frame (not the standard library, site-packages or
    pyqtguard; else the innermost) of Python's report (most recent call
    last), or of the watchdog's own dump of the GUI thread alone (most
    recent call first; a dump of every thread names no GUI thread)."""

    __slots__ = ("_libraries", "_innermost", "_innermost_app", "_dumped", "_dumped_app",
                 "_threads", "_others")

    def __init__(self, libraries: tuple[bytes, ...] = ()) -> None:
        self._libraries = libraries
        # frames as matched (formatted once, by where()): Python's report,
        # the last ones; the watchdog's dump, the first ones
        self._innermost: re.Match[bytes] | None = None
        self._innermost_app: re.Match[bytes] | None = None
        self._dumped: re.Match[bytes] | None = None
        self._dumped_app: re.Match[bytes] | None = None
        self._threads = 0
        self._others = False

    def add(self, line: bytes) -> None:
        if self._others:
            return
        if line.startswith(_OTHER_THREADS_FOLLOW):
            # The GUI thread was in Qt's own code: the threads running
            # Python then follow (watchdog/freeze.py), a lead for the reader,
            # no place of the freeze (an idle worker among them as likely).
            self._others = True
        elif (match := _TRACEBACK_FRAME.match(line)) is not None:
            self._innermost = match
            if self._is_app(match["file"]):
                self._innermost_app = match
        elif line.startswith((b"Thread ", b"Current thread ")):
            self._threads += 1
        elif self._threads == 1 and (match := _DUMPED_FRAME.match(line)) is not None:
            if self._dumped is None:
                self._dumped = match
            if self._dumped_app is None and self._is_app(match["file"]):
                self._dumped_app = match

    def _is_app(self, file: bytes) -> bool:
        return not file.startswith(self._libraries)

    def where(self) -> str:
        if self._innermost is not None:
            return _frame_where(self._innermost_app or self._innermost)
        if self._threads == 1 and self._dumped is not None:
            return _frame_where(self._dumped_app or self._dumped)
        return ""


def _frame_where(match: re.Match[bytes]) -> str:
    """``app.py:42 in on_click``."""
    path = match["file"].decode("utf-8", "replace")
    name = path.replace("\\", "/").rsplit("/", 1)[-1] or path
    func = match["func"].decode("utf-8", "replace")
    return f"{name}:{int(match['line'])} in {func}"[:_MAX_WHERE]


class _Scan:
    """What one pass over a run log finds (see :func:`_scan`)."""

    def __init__(self) -> None:
        self.exceptions = 0
        self.freezes = _Freezes()
        self.log_full = False
        self.left_out = 0

    def feed(self, line: bytes, pid: int) -> None:
        if self.freezes.feed(line) or not line.startswith(b"["):
            return
        report = _REPORT_LINE.match(line)
        if report is not None:
            self.exceptions += int(report["pid"]) == pid    # a forged line names another pid
            return
        repeat = _REPEAT_LINE.match(line)
        if repeat is not None:
            self.exceptions += int(repeat["count"])
        elif _LOG_FULL_LINE.match(line):
            self.log_full = True
        else:
            left_out = _LEFT_OUT_LINE.match(line)
            if left_out is not None:
                self.log_full = True
                self.left_out += int(left_out["count"])


def _scan(fd: int, pid: int, size: int) -> tuple[_Scan, bool]:
    """The run's uncaught exceptions (repeats included), its freezes and
    whether its log was full, in one pass over at most MAX_SCAN_BYTES; and
    whether that was the whole log."""
    scan = _Scan()
    for line in _lines(fd, MAX_SCAN_BYTES):
        scan.feed(line, pid)
    return scan, size <= MAX_SCAN_BYTES


def _starts_a_line(tail: bytes, index: int) -> bool:
    """Whether a marker found at *index* begins a line, as pyqtguard writes
    a report: the app's text in the log (an exception's message) has its
    lines indented, so a marker there is none."""
    return index == 0 or tail[index - 1] == 0x0A


def _own_section_start(tail: bytes, marker: bytes, pid: int) -> int | None:
    """Where the last *marker* section written by *pid* begins in *tail* (a
    child forked after install() writes to its parent's log; a section with
    no pid line, from an older pyqtguard, counts); None if there is none."""
    end = len(tail)
    while (index := tail.rfind(marker, 0, end)) >= 0:
        end = index
        if not _starts_a_line(tail, index):
            continue
        fields = _section_fields(tail[index:].decode("utf-8", "replace"))
        if fields.get("pid", str(pid)) == str(pid):
            return index
    return None


def _exit_timeout(tail: bytes, pid: int) -> tuple[bool, int | None] | None:
    """The run's exit timeout: whether it was a SIGTERM the busy GUI thread
    never took, and the exit status the watchdog ended the process with
    (None: it did not say so - ``exit_timeout=None`` reports only); None if
    the log has no exit timeout of this pid's."""
    start = _own_section_start(tail, EXIT_TIMEOUT_MARKER, pid)
    if start is None:
        return None
    # The line after the marker's and the pid's: pyqtguard's own words
    # (shutdown began ..., or SIGTERM received ... not taken).
    cause = tail[start:start + 4096].split(b"\n")[2:3]
    untaken_term = bool(cause) and cause[0].startswith(b"SIGTERM received")
    for line in reversed(tail[start:].split(b"\n")):
        match = _ENDING_LINE.match(line)
        if match is not None and int(match["pid"] or pid) == pid:   # no pid: older logs
            return untaken_term, int(match["status"])
    return untaken_term, None


def _crash_reasons(tail: bytes, pid: int) -> tuple[str | None, str | None, int]:
    """The run's crash (its signal or fatal message, "" if unreadable; None
    if none), the last crash of a forked child ("pid N: reason"; None) and
    how many forked children crashed (a pool's workers hitting one fault).

    A ``fork`` child (a multiprocessing worker under Linux's default start
    method) shares its parent's run log: its crash report names its own pid,
    and it is not the app's crash - the app may well have gone on."""
    run_crash: str | None = None
    child_crash: str | None = None
    children: set[str] = set()
    start = tail.find(CRASH_MARKER)
    while start >= 0:
        if not _starts_a_line(tail, start):
            start = tail.find(CRASH_MARKER, start + len(CRASH_MARKER))
            continue
        fields = _section_fields(tail[start:].decode("utf-8", "replace"))
        reason = fields.get("signal") or fields.get("fatal") or ""
        report_pid = fields.get("pid", "").strip()
        if report_pid.isdigit() and pid > 0 and int(report_pid) != pid:
            child_crash = f"pid {report_pid}: {reason}" if reason else f"pid {report_pid}"
            children.add(report_pid)
        else:
            run_crash = reason
        start = tail.find(CRASH_MARKER, start + len(CRASH_MARKER))
    return run_crash, child_crash, len(children)


def _ended(tail: bytes) -> bool:
    # Lines end at b"\n" only, as pyqtguard writes them: splitlines() also
    # cuts at b"\r", where app text in the log may hold a forged line.
    return any(_EXIT_LINE.match(line) for line in tail.split(b"\n")[-64:])


def _uninstalled(tail: bytes) -> bool:
    """The last uninstall()/install() line of the tail is an uninstall()."""
    for line in reversed(tail.split(b"\n")):
        match = _LIFECYCLE_LINE.match(line)
        if match is not None:
            return match.group("event") == UNINSTALLED_EVENT.encode()
    return False


def summarize(path: str | os.PathLike[str]) -> RunSummary:
    """What the run log at *path* says about its run; raises OSError if it
    cannot be read (:class:`NotARegularFile` for a FIFO, device, socket or
    folder), :class:`NotARunLog` if it is not a run log."""
    path = Path(path)
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        head = _read_at(fd, 0, HEAD_BYTES)
        if not (head.startswith(b"pyqtguard ") and b" run log\n" in head[:200]):
            raise NotARunLog("not a run log (no run log header)")
        tail = _read_at(fd, max(0, size - TAIL_BYTES), TAIL_BYTES)
        fields = _header(head)
        pid_text = fields.get("pid", "")
        pid = int(pid_text) if pid_text.isdigit() else logdir.pid_in_name(path)
        scan, exact = _scan(fd, pid, size)
        exceptions, freezes = scan.exceptions, scan.freezes
    finally:
        os.close(fd)
    crash, child_crash, child_crashes = _crash_reasons(tail, pid)
    timeout = _exit_timeout(tail, pid) if crash is None else None
    if crash is not None:
        outcome = "crashed"
    elif timeout is not None:
        outcome = "exit timeout"
    elif _ended(tail):
        outcome = "exceptions" if exceptions else "clean"
    elif CHILD_REFUSED_MARKER in tail:
        outcome = "child refused"
    elif logdir.holds_open(pid, path):
        outcome = "still running"
    elif _uninstalled(tail):
        outcome = "uninstalled"
    else:
        outcome = "ended unrecorded"
    worker_of, forkserver = _worker_of(fields.get("worker of", ""))
    untaken_sigterm, exit_status = timeout if timeout is not None else (False, None)
    places = freezes.finish()
    longest_ms, longest_ended, where = freezes.longest or (0, True, "")
    return RunSummary(path, fields.get("started", ""), fields.get("app", ""), pid,
                      outcome, exceptions, exact, crash or "", child_crash or "", worker_of,
                      forkserver, exit_status, untaken_sigterm, freezes.count, exact,
                      longest_ms, longest_ended, where, tuple(places), scan.log_full,
                      scan.left_out, child_crashes)


_FORKSERVER = re.compile(r"forked by the forkserver pid (\d{1,10})\)$")


def _worker_of(text: str) -> tuple[int, int]:
    """The pids a worker log's ``worker of:`` line names: the app's, and
    the forkserver's (0 if none)."""
    words = text.split()
    worker_of = int(words[1]) if len(words) > 1 and words[1].isdigit() \
        and len(words[1]) <= 10 else 0
    forkserver = _FORKSERVER.search(text)
    return worker_of, int(forkserver[1]) if worker_of and forkserver else 0


MAX_WORKERS_PER_RUN = 10   # a listing reads at most limit x this many worker logs


def app_of(path: str | os.PathLike[str]) -> str:
    """The app named in the header of the run log at *path* (``app: NAME``);
    '' for a file that cannot be read or is not a run log."""
    try:
        fd = open_regular(path)
    except (OSError, ValueError):
        return ""
    try:
        head = _read_at(fd, 0, HEAD_BYTES)
    except OSError:
        return ""
    finally:
        os.close(fd)
    if not (head.startswith(b"pyqtguard ") and b" run log\n" in head[:200]):
        return ""
    return _header(head).get("app", "")


def recent_runs(folders: Iterable[str | os.PathLike[str]], limit: int | None = 20,
                notes: list[str] | None = None, app: str | None = None) -> list[RunSummary]:
    """The newest *limit* runs of the app (None: all) in *folders*, newest
    first (by the start time in their names), with the logs of its
    multiprocessing workers that started since the oldest of them, in the
    same order (at most ``limit * MAX_WORKERS_PER_RUN``: workers do not
    push the app's runs out of the listing).  Logs that cannot be read are
    skipped; a line saying why goes to *notes*.  With *app*, only the logs
    whose header names that app (a folder every app writes into)."""
    logs = [p for folder in folders for p in logdir.run_logs(folder, workers=True)]
    if app is not None:
        logs = [p for p in logs if app_of(p) == app]
    logs.sort(key=lambda p: logdir._sort_key(p.name), reverse=True)
    if limit is not None:
        chosen: list[Path] = []
        apps = workers = left_out = 0
        for path in logs:
            if logdir.is_run_log(path.name):
                chosen.append(path)
                apps += 1
                if apps == limit:
                    break             # older workers: of runs not listed
            elif workers == limit * MAX_WORKERS_PER_RUN:
                left_out += 1
            else:
                workers += 1
                chosen.append(path)
        if left_out and notes is not None:
            notes.append(f"{left_out} more worker logs not listed (--limit 0 lists all)")
        logs = chosen
    runs = []
    for path in logs:
        try:
            runs.append(summarize(path))
        except OSError as exc:
            if notes is not None:
                notes.append(f"skipped {path}: {exc.strerror or exc}")
    return runs


UNEVENTFUL = ("clean", "ended unrecorded")   # a worker's: told by a count


def is_uneventful_worker(run: RunSummary) -> bool:
    """A worker whose log says nothing happened: it exited cleanly, or
    ended unrecorded (a forkserver's workers end with ``os._exit``, a
    ``Pool``'s are terminated) with no exception, crash or child crash."""
    return (bool(run.worker_of) and run.outcome in UNEVENTFUL and not run.exceptions
            and not run.child_crash and not run.freezes)
