"""The dump signal: ``kill -USR1 PID`` (or ``pyqtguard dump PID``) writes the
thread table and every thread's stack into the run log, without stopping the
app.

The C core catches the signal and wakes the watchdog (``src/watchdog.c``),
whose report helper writes the dump (:mod:`pyqtguard.watchdog.core`).  A
signal the app or a library already uses is left alone.

Also here: on CPython 3.13+ the C core can no longer read Python stacks
without the GIL, so its fallback reports (the GIL held for good; a hang
while the interpreter finalizes) get them from faulthandler, registered on a
free real-time signal with the run log as its file.
"""
from __future__ import annotations

import _signal  # the C module: `signal` builds enums, ~1 ms of start-up

from .. import _native
from ..logs.runlog import warn_once
from . import core

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..config import Config

_dump_signal: int | None = None      # the signal armed, while installed
_stack_signal = 0                    # faulthandler's signal for fallback stacks (3.13+)


def dump_signal() -> int | None:
    """The dump signal armed in this process, or None."""
    return _dump_signal


def _dump() -> None:
    from ..registry import listing as registry

    registry.dump_threads()


def _install_dump_signal(signum: int | None) -> None:
    global _dump_signal
    if signum is None or not hasattr(_signal, "SIGUSR1"):
        return
    core.on_request("D", _dump)
    core.ensure_started()
    try:
        current = _signal.getsignal(signum)
    except (ValueError, OSError):
        return
    if current not in (_signal.SIG_DFL, None):
        # The app (or a library) uses this signal: leave it alone.
        warn_once("dump-signal", f"pyqtguard: signal {signum} is in use; no dump signal")
        return
    _native.dump_signal_enable(signum)
    _dump_signal = signum


def _uninstall_dump_signal() -> None:
    global _dump_signal
    if _dump_signal is not None:
        try:
            _signal.signal(_dump_signal, _signal.SIG_DFL)
        except (ValueError, OSError):
            pass
        _dump_signal = None


def _install_stack_signal() -> None:
    global _stack_signal
    if _native.own_python_stacks_supported():
        return                     # 3.11-3.12: the C core reads them itself
    import faulthandler  # here: on 3.11-3.12 its module would only cost exit time

    if not hasattr(faulthandler, "register"):
        return
    fd = _native.log_fd()
    signum = _native.free_realtime_signal()
    if fd < 0 or signum == 0:
        return
    faulthandler.register(signum, file=fd, all_threads=True, chain=False)
    _native.watchdog_stack_signal(signum)
    _stack_signal = signum


def _uninstall_stack_signal() -> None:
    global _stack_signal
    if _stack_signal:
        import faulthandler

        _native.watchdog_stack_signal(0)
        faulthandler.unregister(_stack_signal)
        _stack_signal = 0


def install(config: Config) -> None:
    """Arm the dump signal (``dump_signal=None``: off) and, on 3.13+, the
    fallback reports' stack signal."""
    _install_stack_signal()
    _install_dump_signal(config.dump_signal)


def uninstall() -> None:
    _uninstall_dump_signal()
    _uninstall_stack_signal()
