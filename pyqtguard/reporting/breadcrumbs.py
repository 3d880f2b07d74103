"""The last log lines before a failure (breadcrumbs), for reports.

A log record factory keeps the last :data:`MAX_LINES` records of level
INFO and above that the app's loggers let through, each cut to
:data:`MAX_LINE` characters; reports add them, scrubbed with the rest of the
text.  Qt's messages are among them: pyqtguard's Qt message handler logs
them on the ``pyqtguard.qt`` logger (:mod:`pyqtguard.crashes.qt_messages`).

Example::

    install(); logging.getLogger("app").warning("disk almost full")
    lines()   # ['12:00:01 WARNING app: disk almost full']
"""
from __future__ import annotations

import collections
import logging
import threading
import time

from . import report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_LINES = 30
MAX_LINE = 500


_recent: collections.deque[str] = collections.deque(maxlen=MAX_LINES)
_recent_lock = threading.Lock()
# The record factory that was there before install(), called first.
_previous_factory: Callable[..., logging.LogRecord] | None = None


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


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    previous = _previous_factory or logging.LogRecord
    record = previous(*args, **kwargs)
    try:
        _remember(record)
    except Exception:  # noqa: BLE001 - never break the app's logging
        pass
    return record


def install() -> None:
    """Hear of every log record the app's loggers let through.

    A record factory, not a handler on the root logger: a handler there
    would silence logging's last-resort output to stderr in an app that
    configured no logging."""
    global _previous_factory
    if logging.getLogRecordFactory() is _factory:
        return
    _previous_factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(_factory)
    report.add_breadcrumb_source(lines)


def uninstall() -> None:
    global _previous_factory
    if logging.getLogRecordFactory() is _factory and _previous_factory is not None:
        logging.setLogRecordFactory(_previous_factory)
    _previous_factory = None
    report.remove_breadcrumb_source(lines)
    with _recent_lock:
        _recent.clear()


def lines() -> list[str]:
    """The recent lines, oldest first."""
    with _recent_lock:
        return list(_recent)
