"""The Python side of the exception hooks: records, logging and callbacks.

The hooks themselves are C functions in ``pyqtguard._native`` (they must work
during finalization and when stderr is None), installed by
:mod:`pyqtguard.exceptions`.  This module is imported by the C core at the first
uncaught exception (or by :func:`on_exception`), not at start-up.  The hooks
call back into it for three things, each of which may fail without harm:

* :func:`_format` - the traceback text, with source lines;
* :func:`_describe_current_thread` - a good name for the current thread,
  including QThreads, which ``threading`` only knows as ``Dummy-N``;
* :func:`_dispatch` - the ``pyqtguard`` logger and :func:`on_exception`
  callbacks, which run in the GUI thread when a QApplication exists.
"""
from __future__ import annotations

import _thread
import sys
import time
from collections.abc import Callable

from .. import _native
from .. import logs as logfile
from .. import qt as qt_attach
from ..qt import guithread
from ..registry import loaded_threading, main_thread_elsewhere, renewed_in_fork_children

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing, logging and traceback load on first use: start-up cost
    import logging
    import threading
    from types import TracebackType
    from typing import Any

ExceptionCallback = Callable[["ExceptionRecord"], object]

_callbacks: list[ExceptionCallback] = []
_callbacks_lock = renewed_in_fork_children(_thread.allocate_lock())


class ExceptionRecord:
    """One uncaught exception, whichever hook saw it.

    Attributes: ``exc_type``, ``exc_value``, ``exc_traceback``, ``thread_name``,
    ``native_id``, ``source`` (``"sys.excepthook"``, ``"threading.excepthook"``,
    ``"sys.unraisablehook"``, or a library that caught the exception and
    would only have printed it: ``"asyncio"``, ``"matplotlib"``), ``thread``
    (the ``threading.Thread`` when the threading hook saw it), ``report``
    (the text written to the log) and ``time`` (``time.time()`` when it was
    seen).

    Example::

        @pyqtguard.on_exception
        def show(record: pyqtguard.ExceptionRecord) -> None:
            QMessageBox.critical(None, "Error", f"{record.exc_type.__name__}: "
                                 f"{record.exc_value}\\n\\n{record.traceback_text}")
    """

    __slots__ = ("exc_type", "exc_value", "exc_traceback", "thread_name", "native_id",
                 "source", "thread", "report", "time")

    def __init__(self, exc_type: type[BaseException], exc_value: BaseException | None,
                 exc_traceback: TracebackType | None, thread_name: str, native_id: int,
                 source: str, thread: threading.Thread | None = None,
                 report: str = "") -> None:
        self.exc_type = exc_type
        self.exc_value = exc_value
        self.exc_traceback = exc_traceback
        self.thread_name = thread_name
        self.native_id = native_id
        self.source = source
        self.thread = thread
        self.report = report
        self.time = time.time()

    @property
    def traceback_text(self) -> str:
        """The formatted traceback, chained causes included."""
        return _format(self.exc_type, self.exc_value, self.exc_traceback)

    def __repr__(self) -> str:
        return (f"ExceptionRecord({self.exc_type.__name__}: {self.exc_value!s}, "
                f"thread={self.thread_name!r}, source={self.source!r})")


def on_exception(callback: ExceptionCallback) -> ExceptionCallback:
    """Call *callback(record)* for every uncaught exception reported in full;
    usable as a decorator.

    With a QApplication, callbacks run queued in the GUI thread, so they may
    show dialogs whatever thread raised.  The same exception again within
    ``repeat_interval`` (see :func:`pyqtguard.install`) is counted, not
    reported, and calls no callback.  A callback that raises is logged and
    ignored.
    """
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    with _callbacks_lock:
        _callbacks.append(callback)
    return callback


def remove_exception_callback(callback: ExceptionCallback) -> bool:
    """Stop calling *callback*; False if it was not registered."""
    with _callbacks_lock:
        try:
            _callbacks.remove(callback)
        except ValueError:
            return False
    return True


CALLED_FROM = ("The slot or method above was called by Qt from this Python code of "
               "the same thread (the line that emitted the signal, or the event "
               "loop that delivered it), most recent call last:\n")


def _format(exc_type: type[BaseException], exc_value: BaseException | None,
            exc_tb: TracebackType | None,
            callers: list[tuple[str, int, str]] | None = None) -> str:
    """The traceback text, as ``traceback.format_exception`` writes it; no
    local variables (nothing secret by default).

    *callers*: for an exception PyQt6 hands over from a slot or a virtual,
    the Python frames of the thread when the hook ran (innermost first, taken
    by the C hook: the traceback starts at the slot, and the code that made
    Qt call it - an ``emit()``, a ``setValue()``, ``exec()`` - is gone by
    the time a queued report is written); they follow the traceback, marked.

    Each frame's lines are formatted once: distinct exceptions of one app
    share most of their frames (the slot, the code it calls), and the source
    line's carets cost a parse of the line each time (3.11+)."""
    children = sys.modules.get("pyqtguard.children.parent")
    if children is not None:      # the app started spawn/forkserver children
        children.end_if_a_child_refused()
    text = _format_exception(exc_type, exc_value, qt_attach.shown_traceback(exc_value, exc_tb))
    if callers:
        text += "\n" + CALLED_FROM + _format_callers(callers)
    return text


# pyqtguard's own frames (its exec() wrapper, its launcher and the runpy
# frames outside it) are left out of the callers, as runpy's are of a
# traceback (pyqtguard.registry.frames.app_frames).


# Formatted caller lines, as _formatted_frames for traceback frames: the
# same few lines (an emit(), exec()) head many reports.  Bounded.
_caller_lines: dict[tuple[str, int, str], str] = {}


def _format_callers(callers: list[tuple[str, int, str]]) -> str:
    from ..registry.frames import app_frames

    outermost_first = callers[::-1]
    parts = []
    for index in app_frames([frame[0] for frame in outermost_first], where_it_is=False):
        frame = outermost_first[index]
        text = _caller_lines.get(frame)
        if text is None:
            text = _format_caller(*frame)
            if len(_caller_lines) >= _FRAMES_MAX:
                _caller_lines.clear()
            _caller_lines[frame] = text
        parts.append(text)
    return "".join(parts)


def _format_caller(filename: str, lineno: int, name: str) -> str:
    """One frame as a traceback prints it.  Code with no file ("<string>",
    "<stdin>") has no source line to look up: linecache would search
    sys.path for it again every time."""
    import traceback

    frame = traceback.FrameSummary(filename, lineno, name, lookup_line=False,
                                   line="" if filename.startswith("<") else None)
    return "".join(traceback.StackSummary.from_list([frame]).format())


def _format_exception(exc_type: type[BaseException], exc_value: BaseException | None,
                      exc_tb: TracebackType | None) -> str:
    import traceback

    if not isinstance(exc_value, BaseException):
        return "".join(traceback.format_exception(exc_type, exc_value, exc_tb))
    report = traceback.TracebackException(type(exc_value), exc_value, exc_tb, compact=True)
    cls = _frames_cls or _frames_class(traceback)
    if report.__cause__ is None and report.__context__ is None \
            and getattr(report, "exceptions", None) is None:
        # The usual case: no chain, no group.  What format() yields for it,
        # without its per-line indenting (by nothing, outside a group): that
        # was a fifth of a report's time.
        report.stack.__class__ = cls
        parts = ["Traceback (most recent call last):\n", *report.stack.format()] \
            if report.stack else []
        parts.extend(report.format_exception_only())
        return "".join(parts)
    _use_formatted_frames(report, cls)
    return "".join(report.format())


# Formatted frames: (what the text depends on) -> text; emptied when full,
# so that its memory stays bounded whatever the app raises.
_FRAMES_MAX = 1024
# What a frame's text depends on besides its position: FrameSummary's
# private source line(s) - _original_line in 3.11-3.12, _original_lines in
# 3.13-3.14.  Without it (a later CPython), frames are formatted each time.
_SOURCE_ATTRIBUTE = "_original_lines" if sys.version_info >= (3, 13) else "_original_line"
_MISSING = object()
_formatted_frames: dict[tuple[object, ...], str] = {}
_frames_cls: Any = None


def _frames_class(traceback: Any) -> Any:
    """A StackSummary that formats each distinct frame once."""
    global _frames_cls
    if _frames_cls is not None:
        return _frames_cls

    class _FormattedOnce(traceback.StackSummary):  # type: ignore[name-defined,misc]
        def format_frame_summary(self, frame: Any, **kwargs: Any) -> str:
            if frame.locals is not None:
                return super().format_frame_summary(frame, **kwargs)  # type: ignore[no-any-return]
            # The text is a function of the position and the source lines
            # (3.11-3.12 keep one, 3.13+ several).
            source = getattr(frame, _SOURCE_ATTRIBUTE, _MISSING)
            if source is _MISSING:       # another CPython: no table
                return super().format_frame_summary(frame, **kwargs)  # type: ignore[no-any-return]
            key = (frame.filename, frame.lineno, frame.end_lineno, frame.colno,
                   frame.end_colno, frame.name, source, *kwargs.items())
            text = _formatted_frames.get(key)
            if text is None:
                if _carets_left_out(frame, source):
                    text = _without_carets(super().format_frame_summary, frame, kwargs)
                else:
                    text = super().format_frame_summary(frame, **kwargs)
                if len(_formatted_frames) >= _FRAMES_MAX:
                    _formatted_frames.clear()
                _formatted_frames[key] = text
            return text

    _frames_cls = _FormattedOnce
    return _frames_cls


# Statements that are not expressions: traceback draws carets under one
# only when they cover part of its line (it finds that out by parsing the
# line, a sixth of a report's time: ast.parse of the part the failing
# instruction covers, 3.11+; of the whole statement too, 3.13+).
_STATEMENT_KEYWORDS = (b"raise", b"return", b"assert", b"del", b"import", b"from")
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
                        + bytes(range(0x80, 0x100)))


def _carets_left_out(frame: Any, source: object) -> bool:
    """Whether traceback is sure to draw no carets under *frame*'s line: the
    failing instruction covers the whole (stripped) line, and the line is
    a ``raise``/``return``/``assert``/``del``/``import``/``from`` statement
    (one line: several lines are shown differently without positions).
    Then the frame is formatted as it would be without column positions,
    which skips the parse and gives the same text.

    One line as ``str.splitlines`` counts them, too: 3.13+ splits a frame's
    source so, and a form feed (before the indentation or between tokens),
    or a NEL, U+001C-U+001E or U+2028 in a string, would have it show part
    of the line with positions, all of it without.  And no lone surrogate
    (a line put in linecache by hand): traceback fails encoding it, and so
    must the report, not show a text traceback cannot."""
    if (frame.colno is None or frame.end_colno is None or frame.lineno != frame.end_lineno
            or not isinstance(source, str) or len(source.splitlines()) != 1):
        return False
    try:
        line = source.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if line[:frame.colno].strip() or line[frame.end_colno:].strip():
        return False                            # carets under part of the line
    covered = line[frame.colno:frame.end_colno]
    for keyword in _STATEMENT_KEYWORDS:
        if covered.startswith(keyword):
            after = covered[len(keyword):len(keyword) + 1]
            return not after or after[0] not in _NAME_BYTES
    return False


def _without_carets(format_frame: Callable[..., str], frame: Any,
                    kwargs: dict[str, object]) -> str:
    colno = frame.colno
    frame.colno = None
    try:
        return format_frame(frame, **kwargs)
    finally:
        frame.colno = colno


def _use_formatted_frames(report: Any, cls: Any) -> None:
    """Give every traceback in the chain (causes, contexts, groups) *cls*."""
    pending, seen = [report], set()
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if type(item.stack) is not cls and isinstance(item.stack, list):
            item.stack.__class__ = cls
        pending.append(item.__cause__)
        pending.append(item.__context__)
        pending.extend(getattr(item, "exceptions", None) or ())


_the_logger: logging.Logger | None = None
_null_handler: logging.Handler | None = None


def _logger() -> logging.Logger:
    """The ``pyqtguard`` logger, with a NullHandler so that an app without
    logging configured gets no second copy of each report on stderr."""
    global _the_logger, _null_handler
    if _the_logger is None:
        import logging

        _the_logger = logging.getLogger("pyqtguard")
        _null_handler = logging.NullHandler()
        _the_logger.addHandler(_null_handler)
    return _the_logger


def _logging_listens(logger: logging.Logger) -> bool:
    """Whether an error record would reach anything but pyqtguard's own
    NullHandler (a handler, or a filter on the logger): if not, no record
    is made - the report costs what its text costs."""
    if logger.filters:
        return True
    if not logger.isEnabledFor(40):             # logging.ERROR
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler is not _null_handler for handler in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def _describe_current_thread() -> str:
    # threading._active, not current_thread(): for a thread threading did not
    # start (a QThread, a pool thread) current_thread() would create a
    # _DummyThread that stays listed for good.  Without threading imported,
    # no thread is threading's.
    threading = loaded_threading()
    current = (threading._active.get(_thread.get_ident())
               if threading is not None else None)
    if (current is not None and not isinstance(current, threading._DummyThread)
            and (current is not threading.main_thread()
                 or not main_thread_elsewhere(_native.current_native_id()))):
        return current.name
    name = _native.thread_name(_native.current_native_id())
    if name:
        return name
    qt_name = guithread.current_qthread_name()
    return qt_name or f"Thread-{_native.current_native_id()}"


# Copies for a replaced sys.stderr waiting for the GUI thread, in order:
# (stream, text).  Written by the next drain there - posted with each copy,
# and run again when the event loop ends, so that none is left behind.
_stderr_copies: list[tuple[Any, str]] = []
_stderr_copies_lock = renewed_in_fork_children(_thread.allocate_lock())


def _post_stderr_copy(text: str) -> bool:
    """Hand a report's copy for a ``sys.stderr`` the app replaced to the GUI
    thread; called by the C hooks from any other thread.

    Apps point ``sys.stderr`` at a widget (a console pane), which only the
    GUI thread may touch: reports of worker threads (and queued reports a
    worker's hook writes first) would write to it from theirs.  Returns False - write it here, as
    before - when this is the GUI thread or no event loop runs to take it.
    """
    loop_ident = qt_attach.loop_thread_ident()
    if loop_ident is None or loop_ident == _thread.get_ident():
        return False
    with _stderr_copies_lock:
        _stderr_copies.append((sys.stderr, text))
    qt_attach.on_loop_ended(_drain_stderr_copies, top_level=True)   # kept once
    if not guithread.post_to_gui_thread(_drain_stderr_copies):
        _drain_stderr_copies()                  # no application after all
    return True


def _drain_stderr_copies() -> None:
    with _stderr_copies_lock:
        copies = _stderr_copies[:]
        _stderr_copies.clear()
    for stream, text in copies:
        try:
            stream.write(text)
            stream.flush()
        except Exception:  # noqa: BLE001 - the app's stream; never raise into Qt
            pass


# The line naming the run log after the first report on stderr (C: note_log_path).
_log_path_note = logfile.log_path_note


def _run_callbacks(record: ExceptionRecord) -> None:
    with _callbacks_lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        try:
            callback(record)
        except BaseException as exc:  # noqa: BLE001 - never let a callback escape
            import traceback

            logfile.write(
                f"pyqtguard: on_exception callback {callback!r} raised "
                f"{type(exc).__name__}: {exc}; ignored\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                + "\n"
            )


def _dispatch(source: str, exc_type: type[BaseException], exc_value: BaseException | None,
              exc_tb: TracebackType | None, thread: threading.Thread | None,
              thread_name: str, native_id: int, report: str) -> None:
    # An app that has not imported logging has no handler to reach; and
    # importing it here, maybe in a QThread, would import threading there
    # (see pyqtguard.registry).
    logger = _logger() if "logging" in sys.modules else None
    listens = logger is not None and _logging_listens(logger)
    if not listens and not _callbacks:
        return
    record = ExceptionRecord(exc_type, exc_value, exc_tb, thread_name, native_id,
                             source, thread, report)
    if listens:
        _log(logger, record)  # type: ignore[arg-type]
    if not _callbacks:
        return
    if not guithread.post_to_gui_thread(lambda: _run_callbacks(record)):
        _run_callbacks(record)


def _log(logger: logging.Logger, record: ExceptionRecord) -> None:
    exc_type, exc_value, exc_tb = record.exc_type, record.exc_value, record.exc_traceback
    thread_name, source = record.thread_name, record.source
    threading = sys.modules["threading"]        # logging imports it
    ident = _thread.get_ident()
    known = ident in threading._active
    try:
        logger.error("uncaught exception in thread %r [%s]", thread_name, source,
                     exc_info=(exc_type, exc_value, exc_tb),  # type: ignore[arg-type]
                     extra={"pyqtguard_record": record})
    except Exception:  # noqa: BLE001 - a broken log handler must not matter
        pass
    finally:
        # logging names the record's thread with threading.current_thread(),
        # which leaves a _DummyThread listed for good for a thread threading
        # did not start (a QThread, a pool thread): take it out again.
        dummy = threading._active.get(ident)
        if not known and isinstance(dummy, threading._DummyThread):
            del threading._active[ident]
