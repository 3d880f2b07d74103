"""Warn once on stderr about environmental trouble, never raise.

pyqtguard must never make the host app worse: an unwritable log folder, a full
disk or a broken environment variable is reported once, on stderr when there is
one, and pyqtguard keeps going with what works.
"""
from __future__ import annotations

import sys
import threading

_seen: set[str] = set()
_lock = threading.Lock()


def warn_once(key: str, message: str) -> None:
    """Print ``pyqtguard: <message>`` to stderr the first time *key* is seen."""
    with _lock:
        if key in _seen:
            return
        _seen.add(key)
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(f"pyqtguard: {message}\n")
        stream.flush()
    except Exception:  # noqa: BLE001 - stderr itself may be broken
        pass
