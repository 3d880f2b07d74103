"""Crash reports left in the log folder by earlier runs.

A run that crashed has, in its run log, a block that starts with
``=== pyqtguard crash report ===`` and runs to the end of the file (the
process died after writing it), or to the next entry another process
sharing the log (a ``fork`` child) wrote after it: a line that begins with a
time stamp, or the next section's marker.  This module finds and summarises
them:

    >>> crash = pyqtguard.last_crash()          # the previous run's, or None
    >>> if crash is not None:
    ...     print(crash.reason, "in", crash.thread_name, "at", crash.frame)
    ...     print(crash.text)                    # the whole report

``pyqtguard report`` is the command-line face of the same functions.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .. import config
from ..logs import folder as logdir
from .. import logs as logfile
from ..logs import read as logread

MARKER = "=== pyqtguard crash report ==="
_MARKER_LINE = b"\n" + MARKER.encode() + b"\n"
_MAX_REPORT_BYTES = logread.MAX_TAIL_BYTES
# Where another entry begins after a crash report: a line that starts with
# pyqtguard's time stamp ("[2026-11-29 10:00:00.000 UTC] ..."), or a section
# marker line ("=== pyqtguard exit timeout ===", another crash report).  The
# report itself has neither at a line's start: the app's text in it is
# indented there (logfd.c), names are escaped, the pending exceptions'
# stamped lines indented (unreported.c).
_NEXT_ENTRY = re.compile(rb"\n(?=\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})? UTC\] "
                         rb"|=== pyqtguard )")
# Ids are 64-bit at most: a longer number is damage (and int() of 5000
# digits raises ValueError).
_THREAD_LINE = re.compile(r"^'(?P<name>.*)' \(native id (?P<native>\d{1,20})\)$")
_PID = re.compile(r"^\d{1,20}$")
# Header lines written by the crash handler (crash.c, write_header), in order.
_HEADER_KEYS = ("signal", "fatal", "address", "sent by", "time", "pid", "thread",
                "context")
# A continuation line of a multi-line header value (a Qt fatal message):
# crash.c writes every line after the first with this prefix.
_CONTINUATION = "  "
_LEGEND_LINE = re.compile(
    r"^\s+0x(?P<ident>[0-9a-f]+)\s+native (?P<native>\d+)\s+\w+\s+'(?P<name>.*)'$")
# faulthandler's stack heading.  From 3.14 it adds the OS thread name, as
# pthread_getname_np() gives it (at most 15 bytes, the process name for the
# main thread): "Thread 0x00007f... [decoder-7] (most recent call first):".
_UNNAMED_HEADING = re.compile(
    r"^(?P<lead>Current thread|Thread) 0x(?P<ident>[0-9a-f]+)(?: \[.*\])?"
    r" \(most recent call first\):$")
_FRAME_LINE = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+) in (?P<func>.*)$')
# Written by the C core (src/unreported.c) at the top of a crash report.
_PENDING_HEADING = "Uncaught exceptions not reported in full yet"


class CorruptReport(ValueError):
    """A run log whose crash report cannot be read (truncated or damaged)."""


class CrashReport:
    """One crash, as its run log tells it.

    Attributes: ``path`` (the run log), ``reason`` (``"SIGSEGV (Segmentation
    fault)"`` or the fatal message), ``time`` (as written, UTC), ``pid``,
    ``thread_name``, ``native_id``, ``frame`` (the crashing thread's innermost
    Python frame, ``'File "app.py", line 9 in decode'``, or ``""``),
    ``pending_exceptions`` (one line per uncaught exception raised just before
    the crash whose full report was still waiting to be written - often the
    cause: ``"[time] thread 'MainThread': ValueError in load (app.py:10):
    bad row"``) and ``text`` (the whole report, its native frames named by
    :mod:`pyqtguard.crashes.symbolize` on first use; ``raw_text`` as written).
    """

    __slots__ = ("path", "reason", "time", "pid", "thread_name", "native_id",
                 "frame", "pending_exceptions", "raw_text", "_text")

    def __init__(self, path: Path, reason: str, time: str, pid: int,
                 thread_name: str, native_id: int, frame: str, text: str,
                 pending_exceptions: tuple[str, ...] = ()) -> None:
        self.path = path
        self.reason = reason
        self.time = time
        self.pid = pid
        self.thread_name = thread_name
        self.native_id = native_id
        self.frame = frame
        self.pending_exceptions = pending_exceptions
        self.raw_text = text
        self._text: str | None = None

    @property
    def text(self) -> str:
        """The whole report, each native frame with its function name when
        the module is still there to tell it (resolved once, on first use)."""
        if self._text is None:
            from .symbolize import annotate_native_stack

            self._text = annotate_native_stack(self.raw_text)
        return self._text

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary (without the full text)."""
        return {"path": str(self.path), "reason": self.reason, "time": self.time,
                "pid": self.pid, "thread_name": self.thread_name,
                "native_id": self.native_id, "frame": self.frame,
                "pending_exceptions": list(self.pending_exceptions)}

    def __repr__(self) -> str:
        return (f"CrashReport({self.reason!r}, thread={self.thread_name!r}, "
                f"time={self.time!r}, path={str(self.path)!r})")


def _marker_offsets(data: bytes) -> list[int]:
    """Where the lines that are exactly the marker start, in *data*.

    The crash handler writes ``"\\n" MARKER "\\n"``: the marker is a whole
    line; text from the app can no longer write one (logfd.c indents such
    lines), and the marker inside a longer line is not one."""
    found = []
    index = data.find(_MARKER_LINE)
    while index >= 0:
        found.append(index + 1)
        index = data.find(_MARKER_LINE, index + 1)
    if data.startswith(_MARKER_LINE[1:]):
        found.insert(0, 0)
    return found


def _header_fields(text: str) -> dict[str, str]:
    """The header's ``key: value`` lines, up to the first empty line;
    continuation lines (indented) extend the value before them."""
    fields: dict[str, str] = {}
    key = None
    for line in text.split("\n")[1:]:
        if not line:
            break
        if line.startswith(_CONTINUATION) and key is not None:
            fields[key] += "\n" + line[len(_CONTINUATION):]
            continue
        key, sep, value = line.partition(": ")
        if not sep or key not in _HEADER_KEYS or key in fields:
            raise CorruptReport(f"unreadable header line {line[:200]!r}")
        fields[key] = value
    return fields


def annotate_thread_names(text: str) -> str:
    """Put each thread's name into faulthandler's stack headings.

    On CPython 3.13+ the Python stacks of a crash report are written by
    faulthandler, which names threads by hex ident only
    (``Thread 0x00007f... (most recent call first):``; 3.14 adds the OS
    thread name, ``Thread 0x00007f... [decoder-7] (most recent call
    first):``, truncated to 15 bytes and the process's name for the main
    thread); the report's thread legend maps idents to names.  This rewrites
    those headings, on every version, as
    ``Thread 'decoder-7' 0x00007f... (most recent call first):``.
    """
    names: dict[int, str] = {}
    lines = text.split("\n")         # the writers' line end only (not "\r", U+2028...)
    for line in lines:
        match = _LEGEND_LINE.match(line)
        if match:
            names[int(match["ident"], 16)] = match["name"]
    if not names:
        return text
    out = []
    for line in lines:
        match = _UNNAMED_HEADING.match(line)
        name = names.get(int(match["ident"], 16)) if match else None
        if match and name is not None:
            line = f"{match['lead']} '{name}' 0x{match['ident']} (most recent call first):"
        out.append(line)
    return "\n".join(out)


def _library_prefixes() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    prefixes = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    # pyqtguard itself (this file is in its crashes/ folder)
    prefixes.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return tuple(p + os.sep for p in prefixes if p)


def _innermost_frame(text: str) -> str:
    """The crashing thread's innermost Python frame in the app's own code
    (not the standard library, site-packages or pyqtguard), else its
    innermost frame: frames under the "Current thread" heading (ours or
    faulthandler's), most recent first."""
    lines = text.split("\n")         # the writers' line ends only (not U+2028...)
    for index, line in enumerate(lines):
        if not line.startswith("Current thread"):
            continue
        frames = []
        for candidate in lines[index + 1:]:
            match = _FRAME_LINE.match(candidate)
            if match:
                frames.append(match)
            elif not candidate.strip():
                break
        if not frames:
            return ""
        libraries = _library_prefixes()
        chosen = next((m for m in frames if not m["file"].startswith(libraries)), frames[0])
        return f'File "{chosen["file"]}", line {chosen["line"]} in {chosen["func"]}'
    return ""


def _pending_exceptions(text: str) -> tuple[str, ...]:
    """The summary lines under the pending-exceptions heading, if any."""
    heading = text.find(_PENDING_HEADING)
    if heading < 0:
        return ()
    lines = text[heading:].split("\n")[1:]
    pending = []
    for line in lines:
        if not line.strip():
            break
        pending.append(line.strip())
    return tuple(pending)


def _parse_text(path: Path, text: str) -> CrashReport:
    fields = _header_fields(text)
    reason = fields.get("signal") or fields.get("fatal")
    thread = _THREAD_LINE.match(fields.get("thread", ""))
    if "thread" in fields and thread is None:
        raise CorruptReport(f"unreadable thread field {fields['thread'][:80]!r}")
    if not reason or thread is None or "pid" not in fields:
        raise CorruptReport("crash report header is incomplete (truncated?)")
    if not _PID.match(fields["pid"]):
        raise CorruptReport(f"bad pid {fields['pid'][:40]!r}")
    text = annotate_thread_names(text)
    return CrashReport(path, reason, fields.get("time", ""), int(fields["pid"]),
                       thread["name"], int(thread["native"]), _innermost_frame(text),
                       text, _pending_exceptions(text))


def parse_report(path: str | os.PathLike[str], pid: int | None = None) -> CrashReport | None:
    """The crash report in one run log; None if that run did not crash.
    *pid*: the last report of that process (a ``fork`` child shares its
    parent's log, and one that outlived the crashed app wrote its own
    report after the app's); None if it wrote none.

    Reads the log's last few MB only (:mod:`pyqtguard.logs.read`: regular
    files only, never blocking).  The report is the last marker line with a
    whole header after it: the crash handler's report ends the log, as the
    process died after writing it.  Raises :class:`CorruptReport` if there
    is a marker but no readable report, OSError if the file cannot be read
    (:class:`pyqtguard.logs.read.NotARegularFile` for a FIFO, a device...).
    """
    path = Path(path)
    data = logread.read_tail(path)
    offsets = _marker_offsets(data)
    first_error: CorruptReport | None = None
    for offset in reversed(offsets):
        # The report ends where the log's next entry begins: a fork child
        # sharing the log (or the app, a child having crashed) went on
        # writing after it - its lines are no part of this report.
        block = data[offset:offset + _MAX_REPORT_BYTES]
        following = _NEXT_ENTRY.search(block, len(_MARKER_LINE) - 1)
        if following is not None:
            block = block[:following.start() + 1]
        text = block.decode("utf-8", errors="replace")
        try:
            report = _parse_text(path, text)
        except CorruptReport as exc:
            first_error = first_error or exc
        except (ValueError, RecursionError, MemoryError) as exc:
            first_error = first_error or CorruptReport(f"{type(exc).__name__}: {exc}")
        else:
            if pid is None or report.pid == pid:
                return report
    if first_error is not None:
        raise first_error
    return None


def find_crashes(folder: str | os.PathLike[str],
                 notes: list[str] | None = None) -> list[CrashReport]:
    """Crash reports in *folder*'s run logs, newest first (its
    multiprocessing workers' own logs included: their crashes too).

    Unreadable reports are skipped; a line saying why goes to *notes*.  A
    folder that cannot be listed raises OSError (a missing one is empty).
    """
    found = []
    for path in reversed(logdir.list_run_logs(folder, workers=True)):
        try:
            report = parse_report(path)
        except Exception as exc:  # noqa: BLE001 - one file never stops the listing
            if notes is not None:
                reason = str(exc) if isinstance(exc, (OSError, CorruptReport)) \
                    else f"{type(exc).__name__}: {exc}"
                notes.append(f"skipped {path}: {reason[:300]}")
            continue
        if report is not None:
            found.append(report)
    return found


def _this_apps_folder() -> str | None:
    current = logfile.current_path()
    if current is not None:
        return os.fspath(current.parent)
    installed = config.installed_config()
    app_name = installed.app_name if installed is not None else config.default_app_name()
    return logdir.folder_for(os.environ.get(config.ENV_LOG_DIR) or None, app_name)


def last_crash() -> CrashReport | None:
    """The previous run's crash report, or None if it did not crash.

    Call it after :func:`pyqtguard.install` at start-up to offer "the app
    crashed last time - show details / send report":

        crash = pyqtguard.last_crash()
        if crash is not None:
            QMessageBox.warning(None, "Crashed last time", crash.reason)
    """
    folder = _this_apps_folder()
    if folder is None:
        return None
    try:    # a report planted by another user is no report of this app's
        logdir.check_folder(os.stat(folder), folder)
    except OSError:
        return None
    current = logfile.current_path()
    runs = [p for p in logdir.run_logs(folder) if current is None or p != current]
    # The app's spawn/forkserver workers that ran its install() write logs
    # of their own, named apart (run_logs() leaves them out); those of
    # pyqtguard versions that named them as runs say so in their header:
    # the previous run is the newest log that is not a worker's.
    while runs and logread.is_worker_log(runs[-1]):
        runs.pop()
    if not runs:
        return None
    # A fork child (a multiprocessing worker) writes its crash to the app's
    # log: the app's own crash is the last report with the app's pid, if
    # any - a child's is not the app's, and may come after the app's.
    pid = logdir.pid_in_name(runs[-1])
    try:
        return parse_report(runs[-1], pid if pid != -1 else None)
    except Exception:  # noqa: BLE001 - called at the app's start: never raise
        return None
