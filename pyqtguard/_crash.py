"""Crash reports for fatal signals: the Python side of ``src/crash.c``.

The C handler writes the report (signal, time, thread name and native id,
native stack, thread legend, every thread's Python stack) to the run log and
stderr, then chains to the previous handler and re-raises the signal.

Python stacks come from the C core itself on CPython 3.11-3.12.  On 3.13+
the dumpers it would need are no longer exported, so the stdlib faulthandler
is the engine: it is enabled on the run log here, *before* the C handler is
installed, so that the C handler runs first (header, native stack, names)
and then chains to faulthandler (stacks, then the re-raise).  If the app had
enabled faulthandler itself, its choice of file is kept.
"""
from __future__ import annotations

import faulthandler  # built in: no import cost

from . import _native
from .logfile import warn_once

_enabled_faulthandler = False


def _faulthandler_engine() -> bool:
    """Enable faulthandler on the run log where it must be the engine."""
    global _enabled_faulthandler
    if _native.own_python_stacks_supported():
        return False                       # 3.11-3.12: the C core dumps stacks
    if not faulthandler.is_enabled():
        fd = _native.log_fd()
        if fd < 0:
            fd = 2
        faulthandler.enable(file=fd, all_threads=True)
        _enabled_faulthandler = True
    return True


def install(config: object = None) -> None:
    """Arm the fatal-signal handlers (unless ``crash_handler=False``)."""
    if config is not None and not getattr(config, "crash_handler", True):
        return
    if _native.crash_enabled():
        return
    try:
        engine = _faulthandler_engine()
        _native.crash_enable(engine)
    except (OSError, MemoryError, ValueError, RuntimeError) as exc:
        warn_once("crash", f"pyqtguard: crash reports are off: {exc}")


def uninstall() -> None:
    global _enabled_faulthandler
    _native.crash_disable()
    if _enabled_faulthandler:
        faulthandler.disable()
        _enabled_faulthandler = False


def write_fatal_report(reason: str) -> bool:
    """Write a full crash report for a fatal error that is not a signal yet
    (a Qt fatal message); the abort that follows adds one line, not a second
    report.  Returns False if a report was already being written."""
    written = bool(_native.write_fatal_report(reason))
    if written and _native.python_stacks_engine() == "faulthandler":
        fd = _native.log_fd()
        if fd >= 0:
            faulthandler.dump_traceback(file=fd, all_threads=True)
    return written
