"""A report as the user sees it and as it is sent: :class:`Report`.

A report is *text*: the scrubbed traceback or crash report, the versions,
every thread's stack and the last log lines.  The dialogs show that text in
an editable preview, and every destination sends what the text says - the
Sentry event's exception, threads, tags and breadcrumbs are parsed from it
at sending time (:mod:`pyqtguard.reporting.textparse`) - so the preview is
exactly what leaves the machine, edits included.

Example::

    report = from_exception(record, Scrubber())
    print(report.summary)       # plain words, one line
    print(report.text)          # the whole (scrubbed) report
"""
from __future__ import annotations

import os
import platform
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

    # pyqtguard.crashes.reports.CrashReport and
    # pyqtguard.exceptions.delivery.ExceptionRecord: not imported, even for
    # type checking - config.py imports this module to check report_to, and
    # both of those import config.
    CrashReport = Any
    ExceptionRecord = Any

MAX_TEXT = 200_000          # characters: a report larger than this is cut
VERSIONS_HEADING = "Versions:"
THREADS_HEADING = "Threads at the time of the report (most recent call first):"
BREADCRUMBS_HEADING = "Recent log lines (oldest first):"
_MAX_THREADS = 100
_MAX_FRAMES = 100
MAX_FIELD = 300             # characters of a one-line field: a message's first line, a name
_MAX_LINE = 50_000          # characters of one line of a report's text


class Report:
    """One report: ``kind`` (``"exception"`` or ``"crash"``), ``title`` (one
    line), ``summary`` (plain words), ``text`` (the scrubbed report: what is
    shown and sent; the user may edit it), ``key`` (the same error gives the
    same key: for "don't show again" and for crashes offered once) and
    ``created`` (``time.time()``)."""

    __slots__ = ("kind", "title", "summary", "text", "key", "created")

    def __init__(self, kind: str, title: str, summary: str, text: str, key: str,
                 created: float | None = None) -> None:
        if kind not in ("exception", "crash"):
            raise ValueError(f"kind must be 'exception' or 'crash', not {kind!r}")
        self.kind = kind
        self.title = title
        self.summary = summary
        self.text = text[:MAX_TEXT]
        self.key = key
        self.created = time.time() if created is None else created

    def edited(self, text: str) -> Report:
        """A copy whose text is *text* (the user's edit of the preview)."""
        return Report(self.kind, self.title, self.summary, text, self.key, self.created)

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: object) -> Report:
        """Inverse of :meth:`as_dict`; ValueError for anything malformed
        (a report file read back from disk is input like any other)."""
        if not isinstance(data, dict):
            raise ValueError("a report must be a JSON object")
        values = {}
        for name in ("kind", "title", "summary", "text", "key"):
            value = data.get(name)
            if not isinstance(value, str):
                raise ValueError(f"report field {name!r} missing or not a string")
            values[name] = value
        created = data.get("created")
        if isinstance(created, bool) or not isinstance(created, (int, float)):
            raise ValueError("report field 'created' missing or not a number")
        return cls(created=float(created), **values)

    def __repr__(self) -> str:
        return f"Report({self.kind!r}, {self.title!r})"


# ---- context: versions, thread stacks ------------------------------------

def versions(app_version: str | None = None) -> dict[str, str]:
    """The run's tags: app version (if given), Python, Qt, PyQt6, OS."""
    found: dict[str, str] = {}
    if app_version:
        found["app"] = app_version
    found["python"] = platform.python_version()
    qtcore = sys.modules.get("PyQt6.QtCore")
    if qtcore is not None:
        found["qt"] = str(getattr(qtcore, "QT_VERSION_STR", "?"))
        found["pyqt6"] = str(getattr(qtcore, "PYQT_VERSION_STR", "?"))
    found["os"] = f"{platform.system()} {platform.release()} {platform.machine()}".strip()
    from .._version import __version__

    found["pyqtguard"] = __version__
    return found


def _versions_block(app_version: str | None) -> str:
    lines = [VERSIONS_HEADING] + [f"  {k}: {v}" for k, v in versions(app_version).items()]
    return "\n".join(lines) + "\n"


def _own_frame(frame: FrameType) -> bool:
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return frame.f_code.co_filename.startswith(package + os.sep)


def _stack_lines(frame: FrameType | None) -> list[str]:
    lines = []
    while frame is not None and len(lines) < _MAX_FRAMES:
        if not _own_frame(frame):
            code = frame.f_code
            lines.append(f'  File "{code.co_filename}", line {frame.f_lineno} in {code.co_name}')
        frame = frame.f_back
    return lines


def _thread_names() -> dict[int, tuple[str, int | None]]:
    """ident -> (name, native id), QThreads included where pyqtguard knows them."""
    names: dict[int, tuple[str, int | None]] = {}
    for thread in threading.enumerate():
        if thread.ident is not None and not isinstance(
                thread, threading._DummyThread):  # type: ignore[attr-defined]
            names[thread.ident] = (thread.name, thread.native_id)
    try:
        from ..registry.listing import threads

        for info in threads():
            if info.ident is not None and info.ident not in names:
                names[info.ident] = (info.name, info.native_id)
    except Exception:  # noqa: BLE001 - names are a nicety
        pass
    return names


def _traceback_lines(tb: object) -> list[str]:
    """A traceback's frames, most recent call first (as the stacks are)."""
    lines = []
    while tb is not None:
        code = tb.tb_frame.f_code  # type: ignore[attr-defined]
        lines.append(f'  File "{code.co_filename}", line {tb.tb_lineno} in {code.co_name}')  # type: ignore[attr-defined]
        tb = tb.tb_next  # type: ignore[attr-defined]
    return lines[::-1][:_MAX_FRAMES]


def thread_stacks(crashed_name: str, crashed_native_id: int | None,
                  crashed_tb: object = None) -> str:
    """Every Python thread's stack, most recent call first, in the headings
    the crash reports use (``Thread 'name' (native id N, current):``): the
    thread that raised first, with its traceback's frames (where it was when
    it raised), then the others as they are now."""
    from .. import _native

    frames = _native.current_frames()   # not sys's: see src/threadlist.c
    names = _thread_names()
    current = threading.get_ident()
    blocks = [THREADS_HEADING, ""]
    crashed_flags = ([f"native id {crashed_native_id}"] if crashed_native_id else []) \
        + ["crashed"]
    blocks.append(f"Thread {crashed_name!r} ({', '.join(crashed_flags)}):")
    blocks.extend(_traceback_lines(crashed_tb))
    blocks.append("")
    for ident, frame in list(frames.items())[:_MAX_THREADS]:
        name, native = names.get(ident, (f"Thread-{ident:#x}", None))
        if native is not None and native == crashed_native_id:
            continue                    # listed first, where it raised
        flags = [f"native id {native}"] if native is not None else []
        if ident == current:
            flags.append("current")
        blocks.append(f"Thread {name!r} ({', '.join(flags)}):" if flags
                      else f"Thread {name!r}:")
        blocks.extend(_stack_lines(frame))
        blocks.append("")
    return "\n".join(blocks)


# ---- breadcrumbs (the last log lines), filled by pyqtguard.reporting ----

_breadcrumbs: list[Callable[[], list[str]]] = []


def add_breadcrumb_source(source: Callable[[], list[str]]) -> None:
    """Register a function returning the recent log lines for reports."""
    if source not in _breadcrumbs:
        _breadcrumbs.append(source)


def remove_breadcrumb_source(source: Callable[[], list[str]]) -> None:
    if source in _breadcrumbs:
        _breadcrumbs.remove(source)


def _breadcrumb_block() -> str:
    lines: list[str] = []
    for source in list(_breadcrumbs):
        try:
            lines.extend(source())
        except Exception:  # noqa: BLE001 - context is a nicety
            pass
    if not lines:
        return ""
    return BREADCRUMBS_HEADING + "\n" + "\n".join("  " + line for line in lines) + "\n"


# ---- building reports ------------------------------------------------------

def _cut_line(line: str, limit: int) -> str:
    """*line* cut to *limit* characters, before scrubbing: at a space, so no
    part of a secret the scrubber would have recognised whole is left."""
    if len(line) <= limit:
        return line
    cut = line[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut) + f" [... {len(line) - limit:,} characters cut]"


def _field(text: str) -> str:
    """The first line of *text*, at most :data:`MAX_FIELD` characters: what
    a label shows (a 1 MB message or thread name took seconds to scrub and
    lay out, in the GUI thread).  Bidi controls are shown as ``<U+202E>``:
    ``"file \\u202egnp.exe"`` would read "file exe.png"."""
    import re

    first = re.match("[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]*", text.lstrip())
    line = _cut_line(first[0].rstrip(), MAX_FIELD)  # type: ignore[index]
    return re.sub("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]",
                  lambda control: f"<U+{ord(control[0]):04X}>", line)


def _bounded(text: str) -> str:
    """*text* cut, before scrubbing, to about what a report keeps
    (:data:`MAX_TEXT`, cut again once scrubbed): long lines cut, whole lines
    dropped at the end."""
    kept: list[str] = []
    size = 0
    for line in text[:20 * MAX_TEXT].split("\n"):
        line = _cut_line(line, _MAX_LINE)
        size += len(line) + 1
        if size > 2 * MAX_TEXT:
            break
        kept.append(line)
    return "\n".join(kept)


def _short_path(path: str) -> str:
    return os.path.basename(path) or path


def _top_app_frame(tb: object) -> str:
    """``decode (app.py:9)``: the innermost frame outside the standard
    library, site-packages and pyqtguard, else the innermost one."""
    import sysconfig

    libraries = tuple(p + os.sep for p in {sysconfig.get_paths().get(k, "") for k in
                                           ("stdlib", "platstdlib", "purelib", "platlib")} if p)
    chosen = ""
    while tb is not None:
        code = tb.tb_frame.f_code  # type: ignore[attr-defined]
        where = f"{code.co_name} ({_short_path(code.co_filename)}:{tb.tb_lineno})"  # type: ignore[attr-defined]
        if not code.co_filename.startswith(libraries) or not chosen:
            chosen = where
        tb = tb.tb_next  # type: ignore[attr-defined]
    return chosen


def exception_key(record: ExceptionRecord, scrub: Callable[[str], str] | None = None) -> str:
    """Same type and same frames (file, function, line): same key.  With
    *scrub*, of the scrubbed frames: a key that leaves the machine (a Sentry
    fingerprint) must not be a hash of paths holding the user name, which
    anyone could test guesses against."""
    parts = [f"{record.exc_type.__module__}.{record.exc_type.__qualname__}"]
    tb = record.exc_traceback
    while tb is not None:
        code = tb.tb_frame.f_code
        parts.append(f"{code.co_filename}:{code.co_name}:{tb.tb_lineno}")
        tb = tb.tb_next
    import hashlib

    text = "\n".join(parts)
    if scrub is not None:
        text = scrub(text)
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def from_exception(record: ExceptionRecord, scrub: Callable[[str], str],
                   app_version: str | None = None) -> Report:
    """The report of an uncaught exception (call it soon after: the other
    threads' stacks are taken when it is called)."""
    name = record.exc_type.__name__
    message = str(record.exc_value) if record.exc_value is not None else ""
    first = _field(message)
    thread_name = _field(record.thread_name)
    where = _top_app_frame(record.exc_traceback)
    title = f"{name}: {first}" if first else name
    summary = (f"The app hit an error and kept running: {name}"
               + (f" in {where}" if where else "")
               + f", in thread '{thread_name}'.")
    traceback_text = record.report or record.traceback_text
    head, _, rest = traceback_text.partition("\n")
    if head.startswith("[") and "pyqtguard: uncaught exception" in head:
        traceback_text = rest          # the log's heading: said by the line above
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.time))
    text = "\n".join([
        title,
        f"Uncaught exception in thread '{record.thread_name}' (native id {record.native_id}, "
        f"{record.source}) at {stamp}.",
        "",
        traceback_text.rstrip("\n"),
        "",
        _versions_block(app_version),
        thread_stacks(record.thread_name, record.native_id, record.exc_traceback),
        _breadcrumb_block(),
    ])
    return Report("exception", scrub(title), scrub(summary), scrub(_bounded(text)),
                  exception_key(record, scrub), record.time)


def _plain_frame(frame: str) -> str:
    """``File "/x/app.py", line 7 in worker`` -> ``worker (app.py:7)``."""
    import re

    match = re.match(r'^File "(?P<file>.*)", line (?P<line>\d+) in (?P<func>.*)$', frame)
    if not match:
        return frame
    return f"{match['func']} ({_short_path(match['file'])}:{match['line']})"


_PLAIN_SIGNALS = {
    "SIGSEGV": "a segmentation fault (an invalid memory access)",
    "SIGBUS": "a bus error (an invalid memory access)",
    "SIGABRT": "an abort",
    "SIGFPE": "an arithmetic error",
    "SIGILL": "an illegal instruction",
}


def plain_reason(reason: str) -> str:
    """``SIGSEGV (Segmentation fault)`` -> ``a segmentation fault (...)``;
    a Qt fatal message -> ``a fatal Qt error: <message>``."""
    name = reason.split(" ", 1)[0]
    if name in _PLAIN_SIGNALS:
        return f"{_PLAIN_SIGNALS[name]}, {name}"
    if name.startswith("SIG"):
        return f"signal {name}"
    return f"a fatal Qt error: {reason}"


def from_crash(crash: CrashReport, scrub: Callable[[str], str],
               app_version: str | None = None) -> Report:
    """The report of a previous run's native crash (or fatal Qt message)."""
    reason = _field(crash.reason) or "crash"
    where = _field(_plain_frame(crash.frame)) if crash.frame else ""
    summary = (f"The app crashed the last time it ran: {plain_reason(reason)}, in thread "
               f"'{_field(crash.thread_name)}'" + (f", in {where}" if where else "") + ".")
    title = f"Crash: {reason}" + (f" in {where}" if where else "")
    text = "\n".join([
        title,
        f"Native crash in the previous run (pid {crash.pid}) at {crash.time or '?'}; "
        "sent at a later start.",
        "",
        crash.text.rstrip("\n"),
        "",
        _versions_block(app_version).replace(VERSIONS_HEADING,
                                             VERSIONS_HEADING[:-1] + " (of the run sending it):"),
    ])
    return Report("crash", scrub(title), scrub(summary), scrub(_bounded(text)),
                  f"crash:{crash.path.name}", _crash_time(crash.time))


def _crash_time(text: str) -> float:
    try:
        import calendar

        return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S")))
    except (ValueError, OverflowError):
        return time.time()
