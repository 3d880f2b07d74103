"""Qt's own messages (qDebug, qInfo, qWarning, qCritical, qFatal) into the
run log and the ``pyqtguard.qt`` logger.

The handler is installed when ``PyQt6.QtCore`` is imported.  The handler that
was there before keeps receiving every message (Qt's default one: the
formatted message on stderr, as Qt prints it).  A fatal message writes a full
crash report first.  The handler is removed at interpreter exit, before
finalization, where a Python message handler is known to crash.
"""
from __future__ import annotations

import atexit
import sys
import threading

from . import _native, _qtattach, logfile

_LEVELS = {  # QtMsgType name -> (label, logging level)
    "QtDebugMsg": ("debug", 10),
    "QtInfoMsg": ("info", 20),
    "QtWarningMsg": ("warning", 30),
    "QtCriticalMsg": ("critical", 40),
    "QtFatalMsg": ("fatal", 50),
}

_state = threading.local()
_installed = False
_wanted = False
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
    return f"[{logfile.stamp()}] Qt {label}: {message}{suffix}\n"


def _to_logging(level: int, text: str) -> None:
    # Only if the app uses logging: importing it here would cost start-up
    # time, and with no logging configured nobody could read the record.
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("pyqtguard.qt").log(level, text.rstrip("\n"))


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
    try:
        label, level = _LEVELS.get(getattr(msg_type, "name", ""), ("message", 30))
        text = _describe(label, context, message)
        if label == "fatal":
            from . import _crash

            _native.log_write(text)
            _crash.write_fatal_report(f"Qt fatal error: {message}")
        else:
            _native.log_write(text)
        _to_logging(level, text)
    except Exception:  # noqa: BLE001 - never raise into Qt
        pass
    finally:
        _state.busy = False
    _forward(msg_type, context, message)


def _attach(qtcore: object) -> None:
    global _installed, _previous, _qtcore
    if not _wanted or _installed:
        return
    _qtcore = qtcore
    _previous = qtcore.qInstallMessageHandler(_handler)  # type: ignore[attr-defined]
    _installed = True


def _detach() -> None:
    global _installed, _previous
    if _installed and _qtcore is not None:
        try:
            _qtcore.qInstallMessageHandler(_previous)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001
            pass
    _installed = False
    _previous = None


def install(config: object = None) -> None:
    global _wanted
    if config is not None and not getattr(config, "qt_messages", True):
        return
    _wanted = True
    _qtattach.when_qt_imported(_attach)
    atexit.register(_detach)


def uninstall() -> None:
    global _wanted
    _wanted = False
    _detach()
    atexit.unregister(_detach)
