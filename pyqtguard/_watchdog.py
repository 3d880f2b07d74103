"""The Python side of the C watchdog (``src/watchdog.c``).

The C watchdog keeps time without the GIL.  When a report is due (exit
deadline, GUI freeze, dump signal) it writes one byte to a pipe; a reporter
thread here, started with ``_thread`` so that it never shows in
``threading.enumerate()``, reads it, writes the rich report (names, start
sites, stacks) and acknowledges.  If it cannot (the GIL is held forever,
finalization stopped Python threads), the C watchdog writes a fallback
report itself after 1.5 s.
"""
from __future__ import annotations

import _thread
import os
import _signal  # not `signal`: its enums cost start-up time

from . import _native
from ._warn import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_handlers: dict[bytes, Callable[[], None]] = {}
_reporter_started = False
_dump_signal: int | None = None


def on_request(code: bytes, handler: Callable[[], None]) -> None:
    """Run *handler* in the reporter thread when the watchdog asks *code*."""
    _handlers[code] = handler


def _reporter(fd: int) -> None:
    from . import _threadnames

    _threadnames.register_current("pyqtguard-reporter", _threadnames.KIND_PYTHON)
    while True:
        try:
            code = os.read(fd, 1)
        except OSError:
            return
        if not code:
            return
        handler = _handlers.get(code)
        try:
            if handler is not None:
                handler()
        except BaseException as exc:  # noqa: BLE001 - the reporter must survive
            warn_once(f"reporter:{code!r}", f"pyqtguard: report {code!r} failed: {exc!r}")
        finally:
            _native.watchdog_ack()


def started() -> bool:
    """Whether the watchdog and its reporter thread run in this process."""
    return _reporter_started


def ensure_started() -> None:
    """Start the C watchdog and the reporter thread (once)."""
    global _reporter_started
    fd = _native.watchdog_start()
    if not _reporter_started:
        _thread.start_new_thread(_reporter, (fd,))
        _reporter_started = True


def _enable_dump_signal(signum: int) -> None:
    global _dump_signal
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


def _dump() -> None:
    from . import registry

    registry.dump_threads()


def _forget_threads_after_fork() -> None:
    global _reporter_started
    _reporter_started = False     # the child has no reporter thread


def install(config: object = None) -> None:
    on_request(b"D", _dump)
    if hasattr(os, "register_at_fork") and not _handlers.get(b"forked"):
        os.register_at_fork(after_in_child=_forget_threads_after_fork)
        _handlers[b"forked"] = _forget_threads_after_fork
    signum = getattr(config, "dump_signal", None)
    if signum is not None and hasattr(_signal, "SIGUSR1"):
        ensure_started()
        _enable_dump_signal(signum)


def uninstall() -> None:
    global _dump_signal
    if _dump_signal is not None:
        try:
            _signal.signal(_dump_signal, _signal.SIG_DFL)
        except (ValueError, OSError):
            pass
        _dump_signal = None


def dump_signal() -> int | None:
    return _dump_signal
