"""Arming the dump signal without taking it from anyone (issue 18, item 5).

Python's ``signal.getsignal()`` reports what Python itself set; a
``SIG_IGN`` or a handler set by C code (a library, ``faulthandler``,
``ctypes``) is invisible to it.  So the real disposition is read with
``sigaction`` (``_native.signal_disposition``):

- default: pyqtguard takes the signal;
- ignored, or handled (by Python code or natively): left alone - the dump
  signal is off, with one warning naming the signal and how to pick
  another - unless the app asked for this signal explicitly
  (``install(dump_signal=...)``), which takes it;
- :func:`disarm` (``uninstall()``) puts back the exact previous
  ``sigaction`` (handler, mask, flags), not ``SIG_DFL``.

While armed, the runtime file of :mod:`pyqtguard._dumptarget` says so, for
``pyqtguard dump``.

Example::

    arm(signal.SIGUSR1, explicit=False, run_log="/path/pyqtguard-...-4242-0.log")
    disarm()
"""
from __future__ import annotations

import _signal

from . import _native, _watchdog
from .logfile import warn_once

DEFAULT, IGNORED, HANDLED = 0, 1, 2


def signal_name(signum: int) -> str:
    """``SIGUSR1`` for 10 (without importing the ``signal`` module's enums)."""
    for name in dir(_signal):
        if name.startswith("SIG") and not name.startswith("SIG_") and \
                getattr(_signal, name) == signum and not name.startswith("SIGRT"):
            return name
    return f"signal {signum}"


def _in_use(signum: int) -> str | None:
    """How *signum* is in use, or None if it has its default action."""
    python_view = _signal.getsignal(signum)
    if callable(python_view):
        return "handled by the app's Python code"
    disposition = _native.signal_disposition(signum)
    if disposition == IGNORED:
        return "ignored (SIG_IGN)"
    if disposition == HANDLED:
        return "handled by native code (a library's handler)"
    return None


def arm(signum: int, *, explicit: bool, run_log: str | None) -> bool:
    """Take *signum* for thread dumps if it is free (or *explicit*);
    True if taken.  Environmental trouble warns once and returns False."""
    _watchdog.ensure_started()
    try:
        use = _in_use(signum)
    except (ValueError, OSError) as exc:
        warn_once("dump-signal", f"pyqtguard: no dump signal: signal {signum}: {exc}")
        return False
    if use is not None and not explicit:
        name = signal_name(signum)
        other = "SIGUSR2" if name == "SIGUSR1" else "SIGUSR1"
        warn_once("dump-signal",
                  f"pyqtguard: no dump signal: signal {signum} is in use ({name} is {use}) "
                  f"and left alone; pick another with install(dump_signal=signal.{other}), "
                  f"or silence this with dump_signal=None")
        return False
    try:
        _native.dump_signal_enable(signum)
    except OSError as exc:
        warn_once("dump-signal", f"pyqtguard: no dump signal: {exc}")
        return False
    if run_log is not None:
        from . import _dumptarget

        try:
            _dumptarget.write(run_log, signum)
        except OSError as exc:
            warn_once("dump-target", f"pyqtguard: `pyqtguard dump` will not reach this "
                      f"process: cannot write its runtime file ({exc})")
    return True


def disarm() -> None:
    """Remove the runtime file, then put back the previous sigaction."""
    from . import _dumptarget

    _dumptarget.remove()
    _native.dump_signal_disable()
