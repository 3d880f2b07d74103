"""Crash reports left in the log folder by earlier runs.

A run that crashed has, in its run log, a block that starts with
``=== pyqtguard crash report ===`` and runs to the end of the file (the
process died after writing it).  This module finds and summarises them:

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

from . import logdir, logfile

MARKER = "=== pyqtguard crash report ==="
_MAX_REPORT_BYTES = 4 * 1024 * 1024     # a report is a few KB; a log can be big
_THREAD_LINE = re.compile(r"^'(?P<name>.*)' \(native id (?P<native>\d+)\)$")
_LEGEND_LINE = re.compile(
    r"^\s+0x(?P<ident>[0-9a-f]+)\s+native (?P<native>\d+)\s+\w+\s+'(?P<name>.*)'$")
_UNNAMED_HEADING = re.compile(
    r"^(?P<lead>Current thread|Thread) 0x(?P<ident>[0-9a-f]+) \(most recent call first\):$")
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
    :mod:`pyqtguard.symbolize` on first use; ``raw_text`` as written).
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


def _read_tail_from_marker(path: Path) -> str | None:
    """The text from the first crash marker on, or None if there is none."""
    with open(path, "rb") as stream:
        data = stream.read()
    index = data.find(MARKER.encode())
    if index < 0:
        return None
    return data[index:index + _MAX_REPORT_BYTES].decode("utf-8", errors="replace")


def _header_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        if not line.strip():
            break
        key, sep, value = line.partition(": ")
        if not sep:
            raise CorruptReport(f"unreadable header line {line!r}")
        fields.setdefault(key, value)
    return fields


def annotate_thread_names(text: str) -> str:
    """Put each thread's name into faulthandler's stack headings.

    On CPython 3.13+ the Python stacks of a crash report are written by
    faulthandler, which names threads by hex ident only
    (``Thread 0x00007f... (most recent call first):``); the report's thread
    legend maps idents to names.  This rewrites those headings as
    ``Thread 'decoder-7' 0x00007f... (most recent call first):``.
    """
    names: dict[int, str] = {}
    lines = text.splitlines(keepends=True)
    for line in lines:
        match = _LEGEND_LINE.match(line.rstrip("\n"))
        if match:
            names[int(match["ident"], 16)] = match["name"]
    if not names:
        return text
    out = []
    for line in lines:
        match = _UNNAMED_HEADING.match(line.rstrip("\n"))
        name = names.get(int(match["ident"], 16)) if match else None
        if match and name is not None:
            line = (f"{match['lead']} '{name}' 0x{match['ident']} "
                    "(most recent call first):\n")
        out.append(line)
    return "".join(out)


def _library_prefixes() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    prefixes = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    prefixes.add(os.path.dirname(os.path.abspath(__file__)))
    return tuple(p + os.sep for p in prefixes if p)


def _innermost_frame(text: str) -> str:
    """The crashing thread's innermost Python frame in the app's own code
    (not the standard library, site-packages or pyqtguard), else its
    innermost frame: frames under the "Current thread" heading (ours or
    faulthandler's), most recent first."""
    lines = text.splitlines()
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
    lines = text[heading:].splitlines()[1:]
    pending = []
    for line in lines:
        if not line.strip():
            break
        pending.append(line.strip())
    return tuple(pending)


def parse_report(path: str | os.PathLike[str]) -> CrashReport | None:
    """The crash report in one run log; None if that run did not crash.

    Raises :class:`CorruptReport` if the report is there but unreadable.
    """
    path = Path(path)
    text = _read_tail_from_marker(path)
    if text is None:
        return None
    fields = _header_fields(text)
    reason = fields.get("signal") or fields.get("fatal")
    thread = _THREAD_LINE.match(fields.get("thread", ""))
    if not reason or thread is None or "pid" not in fields:
        raise CorruptReport("crash report header is incomplete (truncated?)")
    try:
        pid = int(fields["pid"])
    except ValueError:
        raise CorruptReport(f"bad pid {fields['pid']!r}") from None
    text = annotate_thread_names(text)
    return CrashReport(path, reason, fields.get("time", ""), pid, thread["name"],
                       int(thread["native"]), _innermost_frame(text), text,
                       _pending_exceptions(text))


def find_crashes(folder: str | os.PathLike[str],
                 notes: list[str] | None = None) -> list[CrashReport]:
    """Crash reports in *folder*'s run logs, newest first.

    Unreadable reports are skipped; a line saying why goes to *notes*.
    """
    found = []
    for path in reversed(logdir.run_logs(folder)):
        try:
            report = parse_report(path)
        except (OSError, CorruptReport) as exc:
            if notes is not None:
                notes.append(f"skipped {path}: {exc}")
            continue
        if report is not None:
            found.append(report)
    return found


def _this_apps_folder() -> str | None:
    current = logfile.current_path()
    if current is not None:
        return os.fspath(current.parent)
    from . import _installed

    config = _installed.installed_config()
    app_name = config.app_name if config is not None else _installed.default_app_name()
    return logdir.folder_for(os.environ.get(_installed.ENV_LOG_DIR) or None, app_name)


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
    current = logfile.current_path()
    runs = [p for p in logdir.run_logs(folder) if current is None or p != current]
    if not runs:
        return None
    try:
        return parse_report(runs[-1])
    except (OSError, CorruptReport):
        return None
