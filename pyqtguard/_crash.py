"""Crashes and Qt's own messages: the Python side of ``src/crash.c``.

Fatal signals: the C handler writes the report (signal, time, thread name and
native id, native stack, thread legend, every thread's Python stack) to the
run log and stderr, then chains to the previous handler and re-raises the
signal.  Python stacks come from the C core itself on CPython 3.11-3.12.  On
3.13+ the dumpers it would need are no longer exported, so the stdlib
faulthandler is the engine: the installer (:mod:`pyqtguard._install`)
enables it on the run log *before* the C handler is installed, so that the
C handler runs first (header, native stack, names) and then chains to
faulthandler (stacks, then the re-raise).
If the app had enabled faulthandler itself, its choice of file is kept.

Qt's messages (qDebug, qInfo, qWarning, qCritical, qFatal) go into the run
log and the ``pyqtguard.qt`` logger; a handler is installed when
``PyQt6.QtCore`` is imported.  The handler that was there before keeps
receiving every message (Qt's default one: the formatted message on stderr,
as Qt prints it - unless the app's logging set-up has just printed it to
stderr: each message reaches stderr once).  A fatal message writes a full crash report first, the
abort that follows adds one line.  The handler is removed at interpreter
exit, before finalization, where a Python message handler is known to crash.
"""
from __future__ import annotations

import sys
import threading

from . import _native, logfile

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: start-up cost
    from typing import Any

# Set by the installer (pyqtguard._install), which enables faulthandler on
# 3.13+; uninstall() disables it again only then.
_enabled_faulthandler = False


def write_fatal_report(reason: str) -> bool:
    """Write a full crash report for a fatal error that is not a signal yet
    (a Qt fatal message); the abort that follows adds one line, not a second
    report.  Returns False if a report was already being written."""
    written = bool(_native.write_fatal_report(reason))
    if written and _native.python_stacks_engine() == "faulthandler":
        fd = _native.log_fd()
        if fd >= 0:
            import faulthandler

            faulthandler.dump_traceback(file=fd, all_threads=True)
    return written


# ---- Qt's messages ---------------------------------------------------------
_LEVELS = {  # QtMsgType name -> (label, logging level)
    "QtDebugMsg": ("debug", 10),
    "QtInfoMsg": ("info", 20),
    "QtWarningMsg": ("warning", 30),
    "QtCriticalMsg": ("critical", 40),
    "QtFatalMsg": ("fatal", 50),
}

_state = threading.local()
_installed = False
_wanted = False        # set by the installer: qt_messages=True
_previous: object = None
_qtcore: object = None


def _describe(label: str, context: object, message: str) -> str:
    where = []
    category = getattr(context, "category", None)
    if category and category != "default":
        where.append(f"category {category}")
    file = getattr(context, "file", None)
    if file:
        where.append(f"{file}:{getattr(context, 'line', 0)}")
    function = getattr(context, "function", None)
    if function:
        where.append(str(function))
    suffix = f" ({', '.join(where)})" if where else ""
    return f"Qt {label}: {message}{suffix}"


def _to_logging(level: int, text: str) -> bool:
    """Give the message to the ``pyqtguard.qt`` logger; True if a handler
    of the app's logging set-up writes it to stderr.

    Only if the app uses logging: importing it here would cost start-up
    time, and with no logging configured nobody could read the record.  The
    ``pyqtguard`` logger's NullHandler keeps logging's last-resort handler
    from printing a second copy when the app imported logging without
    configuring it (pyqtgraph does)."""
    logging = sys.modules.get("logging")
    if logging is None:
        return False
    from . import _exceptions

    _exceptions._logger()                 # adds the NullHandler, once
    logger = logging.getLogger("pyqtguard.qt")
    if not logger.isEnabledFor(level):
        return False
    logger.log(level, text)
    return _reaches_stderr(logger, level)


def _reaches_stderr(logger: Any, level: int) -> bool:
    """A handler on *logger*'s way up (as logging's own callHandlers
    walks it) writes records of *level* to stderr.  Handler filters are not
    asked: a second call could change what they let through."""
    while logger is not None:
        for handler in logger.handlers:
            if level >= handler.level and _is_stderr(getattr(handler, "stream", None)):
                return True
        if not logger.propagate:
            break
        logger = logger.parent
    return False


def _is_stderr(stream: object) -> bool:
    if stream is None:
        return False
    if stream is sys.stderr or stream is sys.__stderr__:
        return True
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no file behind it (a StringIO, a GUI console)
        return False


def _forward(msg_type: object, context: object, message: str) -> None:
    """Give the message to the handler that was there before."""
    previous = _previous
    if previous is not None:
        previous(msg_type, context, message)  # type: ignore[operator]
        return
    stream = sys.stderr
    if stream is not None:
        try:
            text = _qtcore.qFormatLogMessage(msg_type, context, message)  # type: ignore[attr-defined]
            stream.write(text + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stderr must not matter
            pass


def _handler(msg_type: object, context: object, message: str) -> None:
    if getattr(_state, "busy", False):   # a message raised while handling one
        _forward(msg_type, context, message)
        return
    _state.busy = True
    on_stderr = False
    try:
        label, level = _LEVELS.get(getattr(msg_type, "name", ""), ("message", 30))
        text = _describe(label, context, message)
        # The same message again within the repeat interval (a warning from
        # every paint) is counted in C, not logged again.
        if label == "fatal" or _native.message_repeat(text):
            logfile.log_event(text)   # stamped to the ms in C, as every line
            if label == "fatal":
                write_fatal_report(f"Qt fatal error: {message}")
            on_stderr = _to_logging(level, text)
    except Exception:  # noqa: BLE001 - never raise into Qt
        pass
    finally:
        _state.busy = False
    # Once on stderr: the app's logging set-up printed it there already,
    # in the app's format, so Qt's default print is left out.  A handler the
    # app (or a library) installed before pyqtguard always gets it.
    if not (on_stderr and _previous is None):
        _forward(msg_type, context, message)


def _attach_message_handler(qtcore: object) -> None:
    global _installed, _previous, _qtcore
    if not _wanted or _installed:
        return
    _qtcore = qtcore
    _previous = qtcore.qInstallMessageHandler(_handler)  # type: ignore[attr-defined]
    _installed = True


def _detach_message_handler() -> None:
    global _installed, _previous
    if _installed and _qtcore is not None:
        try:
            _qtcore.qInstallMessageHandler(_previous)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001
            pass
    _installed = False
    _previous = None
