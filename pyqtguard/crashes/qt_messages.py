"""Qt's messages (qDebug, qInfo, qWarning, qCritical, qFatal) in the run log.

They go into the run log and the ``pyqtguard.qt`` logger; a handler is
installed when ``PyQt6.QtCore`` is imported.  The handler that was there
before keeps receiving every message (Qt's default one: the formatted
message on stderr, as Qt prints it - unless the app's logging set-up has
just printed it to stderr: each message reaches stderr once).  A fatal
message writes a full crash report first
(:func:`pyqtguard.crashes.write_fatal_report`), the abort that
follows adds one line.  The handler is removed at interpreter
exit, before finalization, where a Python message handler is known to crash.

A release Qt says neither which thread warned nor where: a message logged
from a thread other than the GUI thread names that thread, and a message a
Python call of the app set off shows that call's stack (the app's frames,
innermost last); one Qt's own code sent from inside the event loop shows
none (it would only point at ``app.exec()``).
"""
from __future__ import annotations

import atexit
import os
import sys
import _thread

from .. import _native
from .. import logs as logfile
from .. import qt as qt_attach
from . import write_fatal_report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

    from ..config import Config

_LEVELS = {  # QtMsgType name -> (label, logging level)
    "QtDebugMsg": ("debug", 10),
    "QtInfoMsg": ("info", 20),
    "QtWarningMsg": ("warning", 30),
    "QtCriticalMsg": ("critical", 40),
    "QtFatalMsg": ("fatal", 50),
}

_state = _thread._local()
_HAS_GETFRAME = hasattr(sys, "_getframe")
_installed = False
_wanted = False        # qt_messages=True, while installed
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
    from ..exceptions import delivery

    delivery._logger()                    # adds the NullHandler, once
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
    """*stream* writes to the process's stderr (fd 2), where Qt prints: a
    replaced ``sys.stderr`` (a StringIO, a console pane) is not it."""
    if stream is None:
        return False
    if stream is sys.__stderr__:
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
    # As Qt's default handler does: to the process's stderr (fd 2), not to
    # sys.stderr, which the app may have pointed elsewhere.
    try:
        text = _qtcore.qFormatLogMessage(msg_type, context, message)  # type: ignore[attr-defined]
        data = (text + "\n").encode(sys.getfilesystemencoding(), "replace")
        while data:
            data = data[os.write(2, data):]
    except Exception:  # noqa: BLE001 - a closed stderr must not matter
        pass


_THREAD_NAME_CHARS = 200


def _origin(caller: FrameType | None, context: object) -> str:
    """Indented lines under a logged message: the thread that sent it if not
    the GUI thread, and the stack of the app's Python call that set it off
    ('' for the GUI thread inside Qt's own code, and where the message names
    its file and line: ``qWarning()`` from Python, a debug build of Qt)."""
    from ..registry import OWN_FILES, in_main_thread
    from ..registry.frames import format_call_site

    loop = qt_attach.loop_thread_ident()
    in_gui = _thread.get_ident() == loop if loop is not None else in_main_thread()
    lines = []
    if not in_gui:
        from ..exceptions.delivery import _describe_current_thread

        name = _describe_current_thread()[:_THREAD_NAME_CHARS]
        lines.append(f"  from thread {name!r} (not the GUI thread)")
    # Inside pyqtguard's own frame (the exec() wrapper): Qt's own code in the
    # event loop sent it, not a call of the app's.
    if (caller is not None and not getattr(context, "file", None)
            and not caller.f_code.co_filename.startswith(OWN_FILES)):
        stack = format_call_site(caller)
        if stack:
            lines.append("  Python stack of the call that set it off (most recent call last):")
            lines.append("  " + stack.rstrip("\n").replace("\n", "\n  "))
    return "\n".join(lines)


def _handler(msg_type: object, context: object, message: str) -> None:
    # The innermost Python frame of the app's call, if any: none when Qt
    # sends a message with no Python code running (PyQt's own clean-up at
    # exit), where sys._getframe(1) would raise - out of the handler.
    caller = sys._getframe(0).f_back if _HAS_GETFRAME else None
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
            try:
                origin = "" if label == "fatal" else _origin(caller, context)
            except Exception:  # noqa: BLE001 - the message is logged without it
                origin = ""
            logfile.log_event(f"{text}\n{origin}" if origin else text,  # stamped in C
                              report=label != "fatal")
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
            current = _qtcore.qInstallMessageHandler(_previous)  # type: ignore[attr-defined]
            if current is not _handler:     # the app's own, installed after ours: it stays
                _qtcore.qInstallMessageHandler(current)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001
            pass
    _installed = False
    _previous = None


def detach_before_clean_up_elsewhere() -> None:
    """The interpreter exits off the GUI thread while its loop runs:
    Qt's messages go to the handler before pyqtguard's from now on
    (pyqtguard.watchdog.exit.stop_qthreads_at_exit says why)."""
    _detach_message_handler()


def install(config: Config) -> None:
    """Put the message handler in once Qt is imported (unless
    ``qt_messages=False``)."""
    global _wanted
    if not config.qt_messages:
        return
    _wanted = True
    qt_attach.when_qt_imported(_attach_message_handler)
    atexit.register(_detach_message_handler)


def uninstall() -> None:
    global _wanted
    _wanted = False
    _detach_message_handler()
    atexit.unregister(_detach_message_handler)
