"""The last log lines before a failure (breadcrumbs), for reports.

A wrapper of ``logging.Logger.callHandlers`` keeps the last
:data:`MAX_LINES` records of level INFO and above that the app's loggers
let through - past their filters, formatted once their handlers ran, so a
record an app's filter dropped is not kept and one it redacted (in place) is
kept redacted - each cut to :data:`MAX_LINE` characters; reports add them,
scrubbed with the rest of the text.  Qt's messages are among them:
pyqtguard's Qt message handler logs them on the ``pyqtguard.qt`` logger
(:mod:`pyqtguard.crashes.qt_messages`).

Example::

    install(); logging.getLogger("app").warning("disk almost full")
    lines()   # ['12:00:01 WARNING app: disk almost full']
"""
from __future__ import annotations

import collections
import logging
import threading
import time

from ..registry import renewed_in_fork_children
from . import report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_LINES = 30
MAX_LINE = 500


_recent: collections.deque[str] = collections.deque(maxlen=MAX_LINES)
_recent_lock = renewed_in_fork_children(threading.Lock())
# Logger.callHandlers as it was before install(), called first.
_previous_call_handlers: Callable[..., None] | None = None
_installed = False


def _remember(record: logging.LogRecord) -> None:
    if record.levelno < logging.INFO or record.name == "pyqtguard":
        return                          # the report itself is no breadcrumb
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string in the app
        message = repr(record.msg)
    stamp = time.strftime("%H:%M:%S", time.gmtime(record.created))
    line = f"{stamp} {record.levelname} {record.name}: {message}"
    with _recent_lock:
        _recent.append(line.replace("\n", " | ")[:MAX_LINE])


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    """Logger.callHandlers: reached only by records the logger's filters let
    through; remembered after the handlers ran (their filters may redact)."""
    previous = _previous_call_handlers or _ORIGINAL_CALL_HANDLERS
    try:
        previous(self, record)
    finally:
        if _installed:
            try:
                _remember(record)
            except Exception:  # noqa: BLE001 - never break the app's logging
                pass


_ORIGINAL_CALL_HANDLERS = logging.Logger.callHandlers


def install() -> None:
    """Hear of every log record the app's loggers let through.

    A wrapper of ``Logger.callHandlers`` (as sentry-sdk's logging
    integration does), not a handler on the root logger: a handler there
    would silence logging's last-resort output to stderr in an app that
    configured no logging.  Not a log record factory either: a record is
    made before the logger's filters run, so an app's filter that drops or
    redacts a record would be undone."""
    global _previous_call_handlers, _installed
    if logging.Logger.callHandlers is not _call_handlers:
        _previous_call_handlers = logging.Logger.callHandlers
        logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]
    _installed = True
    report.add_breadcrumb_source(lines)


def uninstall() -> None:
    global _previous_call_handlers, _installed
    _installed = False
    if logging.Logger.callHandlers is _call_handlers and _previous_call_handlers is not None:
        logging.Logger.callHandlers = _previous_call_handlers  # type: ignore[method-assign]
        _previous_call_handlers = None
    # else: wrapped since by someone else; ours stays in their chain, inert
    report.remove_breadcrumb_source(lines)
    with _recent_lock:
        _recent.clear()


def lines() -> list[str]:
    """The recent lines, oldest first."""
    with _recent_lock:
        return list(_recent)
