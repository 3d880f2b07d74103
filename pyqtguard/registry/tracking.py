"""Track threads while they run: Python threads and QThreads.

Every Python thread is recorded in the C thread table (see
:mod:`pyqtguard.registry`) when it starts, again when it is renamed, and
removed when it ends; threads already running at :func:`install` are
recorded then.  Each thread's start site and start time are kept for
:func:`pyqtguard.threads` and hang reports.

QThreads get more (:mod:`pyqtguard.registry.qthreads`: names, keep-alive,
stop at exit) from the app's first use of QThread on: ``QThread.start`` is
wrapped then, see :func:`_attach_qthreads`.
"""
from __future__ import annotations

import _thread
import sys
import time

from .. import _native
from .. import qt as qt_attach
from . import (KIND_MAIN, KIND_PYTHON, MAIN_THREAD_NAME, in_main_thread, loaded_threading,
               main_thread_elsewhere, register_current, start_site, unregister_current)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: start-up cost
    import threading
    from types import ModuleType
    from typing import Any

    from ..config import Config

# threading's own, replaced by install() while installed.
_original_bootstrap_inner: Any = None
_original_name: Any = None
_original_thread_start: Any = None


# id(thread) -> (start site, start time) while the thread runs.  Kept apart
# from the Thread's own attributes: adding attributes to a Thread instance
# costs a few microseconds per start (its dict stops sharing the class's keys).
_starts: dict[int, tuple[str | None, float]] = {}
_NO_START = (None, None)


def start_of(thread: threading.Thread) -> tuple[str | None, float | None]:
    """``(start site, start time)`` of a running Python thread started since
    :func:`install`; ``(None, None)`` otherwise."""
    return _starts.get(id(thread), (None, None))


def _start_python_thread(self: threading.Thread) -> None:
    key = id(self)
    previous = _starts.get(key)
    _starts[key] = (start_site(), time.time())
    try:
        _original_thread_start(self)
    except BaseException:
        # A second start() of a running thread raises too: its own entry stays.
        if previous is None:
            _starts.pop(key, None)
        else:
            _starts[key] = previous
        raise


def _kind_of(thread: threading.Thread) -> int:
    return KIND_MAIN if thread is sys.modules["threading"].main_thread() else KIND_PYTHON


def _bootstrap_inner(self: threading.Thread) -> None:
    # Never the main thread (it does not run _bootstrap_inner).
    register_current(self._name, KIND_PYTHON,  # type: ignore[attr-defined]
                     _starts.get(id(self), _NO_START)[0])
    try:
        _original_bootstrap_inner(self)
    finally:
        unregister_current()
        _starts.pop(id(self), None)


def _set_name(self: threading.Thread, value: str) -> None:
    _original_name.fset(self, value)
    native_id = getattr(self, "_native_id", None)
    ident = getattr(self, "_ident", None)
    if native_id and ident and self.is_alive():
        try:
            _native.thread_register(native_id, ident, str(value), _kind_of(self))
        except Exception:  # noqa: BLE001
            pass


# ---- QThreads --------------------------------------------------------------
_qthread_class: Any = None        # QThread, once _attach_qthreads has run


def _on_qthread_class_complete(type_dict: dict[str, Any]) -> None:
    from . import qthreads

    qthreads.wrap_start_in(type_dict)


def _attach_qthreads(qtcore: Any) -> None:
    """Wrap QThread.start - when the app first uses QThread, not now.

    sip creates a class's attributes (and its enums) on first use; doing it
    here would cost every app 0.4-0.8 ms, QThread or not, and so would
    loading the tracking code (:mod:`pyqtguard.registry.qthreads`).  So the wrapper
    goes in when sip completes the class (src/sipattach.c); if the class is
    complete already, or sip cannot call back, it goes in now."""
    global _qthread_class
    if _qthread_class is not None:
        return
    _qthread_class = cls = qtcore.QThread
    if "start" in _native.type_dict(cls) or not _native.when_class_completes(
            cls, _on_qthread_class_complete):
        from . import qthreads

        qthreads.wrap_start_now(cls)


# ---- install / uninstall ---------------------------------------------------------

_installed = False


def install(config: Config) -> None:
    """Name and track Python threads once threading is imported (now, if it
    is), QThreads once Qt is imported; record the main thread now."""
    global _installed
    _installed = True
    threading = loaded_threading()
    if threading is not None:
        _track_python_threads(threading)
    else:
        if in_main_thread():
            try:
                _native.thread_register(_thread.get_native_id(), _thread.get_ident(),
                                        MAIN_THREAD_NAME, KIND_MAIN)
            except Exception:  # noqa: BLE001
                pass
        qt_attach.when_imported("threading", _threading_imported)
    qt_attach.when_qt_imported(_attach_qthreads)


def _threading_imported(threading: ModuleType) -> None:
    if _installed:                      # not uninstalled meanwhile
        _track_python_threads(threading)


def _track_python_threads(threading: ModuleType) -> None:
    """Wrap threading.Thread's start, run and name; record the threads
    already running."""
    global _original_thread_start, _original_bootstrap_inner, _original_name
    if _original_thread_start is None:
        _original_thread_start = threading.Thread.start
        threading.Thread.start = _start_python_thread  # type: ignore[method-assign]
    if _original_bootstrap_inner is None:
        _original_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
        threading.Thread._bootstrap_inner = _bootstrap_inner  # type: ignore[attr-defined]
        _original_name = threading.Thread.name
        threading.Thread.name = property(_original_name.fget, _set_name)  # type: ignore[assignment]
    current = _thread.get_ident()
    for thread in threading.enumerate():
        # After a fork, 3.11's threading keeps the parent's native id for the
        # thread that forked (a forkserver worker's main thread).
        native_id = _thread.get_native_id() if thread.ident == current else thread.native_id
        kind = _kind_of(thread)
        if kind == KIND_MAIN and main_thread_elsewhere(native_id):
            # threading took another thread for the main one (a thread Qt
            # started imported it first): the registry keeps the real one
            # and that thread keeps its own name.
            continue
        if native_id and thread.ident:
            try:
                _native.thread_register(native_id, thread.ident, thread.name, kind)
            except Exception:  # noqa: BLE001
                pass


def uninstall() -> None:
    """Put threading's own methods back; stop wrapping QThread.start."""
    global _original_thread_start, _original_bootstrap_inner, _original_name, _qthread_class
    global _installed
    _installed = False
    threading = loaded_threading()
    if _original_thread_start is not None:
        threading.Thread.start = _original_thread_start  # type: ignore[method-assign]
        _original_thread_start = None
    if _original_bootstrap_inner is not None:
        threading.Thread._bootstrap_inner = _original_bootstrap_inner  # type: ignore[attr-defined]
        threading.Thread.name = _original_name  # type: ignore[assignment]
        _original_bootstrap_inner = None
        _original_name = None
    if _qthread_class is not None:
        _native.forget_class_completion(_qthread_class)
        _qthread_class = None
    qthreads = loaded_qthreads()
    if qthreads is not None:
        qthreads.unwrap_start()


def detach_at_exit() -> None:
    """QThreads still running must not call into Python while they are ended
    during the interpreter's teardown."""
    qthreads = loaded_qthreads()
    if qthreads is not None:
        qthreads.detach_at_exit()


def loaded_qthreads() -> Any:
    """QThread tracking, if the app has used QThread (it is loaded then)."""
    return sys.modules.get("pyqtguard.registry.qthreads")
