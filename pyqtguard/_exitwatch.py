"""Bounded shutdown: once shutdown begins, the process gets ``exit_timeout``
seconds to end.

Shutdown begins when the Qt application's event loop ends (``app.exec()``
returns) or, without Qt, when the interpreter starts to exit
(``threading._shutdown``, which joins non-daemon threads before any atexit
handler runs - so that is where a forgotten thread or executor task hangs).
From then on the C watchdog counts.  If the process is still alive at the
deadline, the log gets the threads still alive, with the stack of each and
where it was started, and the process ends with exit status
:data:`EXIT_STATUS_HUNG` (124, as coreutils' ``timeout``).  With
``exit_timeout=None`` the report is written after 10 s and the process is
left alone.

At every exit, the threads still alive when shutdown begins are logged, so
lingering threads show even when they did not block.
"""
from __future__ import annotations

import sys
import threading
import time

from . import _eventloop, _native, _qthreads, _watchdog, logfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXIT_STATUS_HUNG = 124
REPORT_ONLY_AFTER = 10.0

_timeout: float | None = 10.0
_enabled = False
_began: str | None = None
_original_shutdown: Any = None


# pyqtguard's own threads: the C watchdog and the Python reporter.
_OWN_THREADS = 2


def _only_main_thread_left() -> bool:
    """Cheap check first, so that a clean exit does not pay for the table."""
    if threading.active_count() > 1:
        return False
    try:
        import os

        tasks = len(os.listdir("/proc/self/task"))
    except OSError:
        return False
    return tasks <= 1 + (_OWN_THREADS if _watchdog.started() else 0)


def _lingering_table() -> str:
    if _only_main_thread_left():
        return ""
    from . import registry as threads

    infos = [t for t in threads.threads() if t.kind != "main"
             and t.native_id != threading.get_native_id()]
    if not infos:
        return ""
    return threads.format_table(infos, with_stacks=False)


def begin_shutdown(reason: str) -> None:
    """Start the exit deadline (once); stop QThreads within it."""
    global _began
    if not _enabled or _began is not None:
        return
    _began = reason
    budget = REPORT_ONLY_AFTER if _timeout is None else _timeout
    try:
        _watchdog.ensure_started()
        _native.watchdog_arm_exit(budget, _timeout is not None, EXIT_STATUS_HUNG, reason)
    except OSError as exc:
        from ._warn import warn_once

        warn_once("exitwatch", f"pyqtguard: no exit watchdog: {exc}")
    table = _lingering_table()
    logfile.log_event(f"pyqtguard: shutdown began ({reason}); the process has "
         f"{'no limit' if _timeout is None else f'{_timeout:g} s'} to end"
         + (f". Threads still alive:\n{table}" if table else "; no other threads alive"))
    # QThreads are asked to stop and waited for, leaving a margin before the
    # deadline for the report.
    deadline = time.monotonic() + max(0.0, budget - 0.5)
    stubborn = _qthreads.stop_all(deadline)
    if stubborn:
        from .registry import python_stack

        for record in stubborn:
            stack = python_stack(record.native_id) or ""
            logfile.log_event(f"pyqtguard: QThread {record.name!r} (started at {record.site or '?'}) did "
                 "not stop when asked (requestInterruption + quit) within the deadline; it "
                 "is kept alive so Qt cannot abort on it"
                 + (f". It is at (most recent call last):\n{stack}" if stack else ""))


def _loop_started() -> None:
    """A new event loop (e.g. tests that exec() repeatedly): no shutdown yet."""
    global _began
    if _began is not None and _began.startswith("the Qt event loop"):
        _began = None
        _native.watchdog_disarm_exit()


def _loop_ended() -> None:
    begin_shutdown("the Qt event loop ended")


def _shutdown_wrapper() -> None:
    begin_shutdown("the interpreter is exiting")
    _original_shutdown()


def _report_exit_timeout() -> None:
    from . import registry as threads

    budget = REPORT_ONLY_AFTER if _timeout is None else _timeout
    infos = threads.threads(stacks=True)
    text = (f"\n=== pyqtguard exit timeout ===\nshutdown began ({_began}) {budget:g} s ago "
            f"and the process has not ended. Threads still alive:\n"
            + threads.format_table(infos))
    _native.log_write(text)
    stream = sys.stderr
    if stream is not None:
        try:
            stream.write(text)
            stream.flush()
        except Exception:  # noqa: BLE001
            pass


def install(config: object = None) -> None:
    global _enabled, _timeout, _original_shutdown
    _timeout = getattr(config, "exit_timeout", 10.0)
    _enabled = True
    _watchdog.on_request(b"X", _report_exit_timeout)
    _eventloop.on_loop_started(_loop_started)
    _eventloop.on_loop_ended(_loop_ended)
    if _original_shutdown is None:
        _original_shutdown = threading._shutdown  # type: ignore[attr-defined]
        threading._shutdown = _shutdown_wrapper  # type: ignore[attr-defined]


def uninstall() -> None:
    global _enabled, _original_shutdown, _began
    _enabled = False
    _began = None
    if _original_shutdown is not None:
        threading._shutdown = _original_shutdown  # type: ignore[attr-defined]
        _original_shutdown = None
    try:
        _native.watchdog_disarm_exit()
    except Exception:  # noqa: BLE001
        pass
