"""Feed thread names to the C table that the crash handler reads.

A signal handler cannot ask Python for a thread's name, so every Python thread
is recorded in ``_native``'s lock-free table when it starts, again when it is
renamed, and removed when it ends.  Threads that were already running at
:func:`install` are recorded then.  Kinds let reports tell thread sorts apart.
"""
from __future__ import annotations

import sys
import threading

from . import _native, _qtattach

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: start-up cost
    from typing import Any

KIND_PYTHON = 0
KIND_MAIN = 1
KIND_QTHREAD = 2
KIND_POOL = 3
KIND_NATIVE = 4

_original_bootstrap_inner: Any = None
_original_name: Any = None


def register_current(name: str, kind: int = KIND_PYTHON) -> None:
    """Record the calling thread under *name*; never raises."""
    try:
        _native.thread_register(threading.get_native_id(), threading.get_ident(),
                                name, kind)
    except Exception:  # noqa: BLE001 - odd names degrade, never crash
        pass


def unregister_current() -> None:
    try:
        _native.thread_unregister(threading.get_native_id())
    except Exception:  # noqa: BLE001
        pass


def _kind_of(thread: threading.Thread) -> int:
    return KIND_MAIN if thread is threading.main_thread() else KIND_PYTHON


def _bootstrap_inner(self: threading.Thread) -> None:
    register_current(self._name, _kind_of(self))  # type: ignore[attr-defined]
    try:
        _original_bootstrap_inner(self)
    finally:
        unregister_current()


def _set_name(self: threading.Thread, value: str) -> None:
    _original_name.fset(self, value)
    native_id = getattr(self, "_native_id", None)
    ident = getattr(self, "_ident", None)
    if native_id and ident and self.is_alive():
        try:
            _native.thread_register(native_id, ident, str(value), _kind_of(self))
        except Exception:  # noqa: BLE001
            pass


# ---- QThreads: named in the table while they run ---------------------------

_original_qthread_start: Any = None


def _register_qthread() -> None:
    """Connected to QThread.started (direct): runs in the new thread."""
    qtcore = sys.modules.get(_qtattach.QTCORE)
    if qtcore is None:
        return
    thread = qtcore.QThread.currentThread()
    if thread is not None:
        register_current(thread.objectName() or type(thread).__name__, KIND_QTHREAD)


def _qthread_start(self: Any, *args: Any) -> None:
    if not getattr(self, "_pyqtguard_named", False):
        try:
            direct = sys.modules[_qtattach.QTCORE].Qt.ConnectionType.DirectConnection
            self.started.connect(_register_qthread, direct)
            self.finished.connect(unregister_current, direct)
            self._pyqtguard_named = True
        except Exception:  # noqa: BLE001 - names degrade, the start must not
            pass
    _original_qthread_start(self, *args)


def _attach_qt(qtcore: Any) -> None:
    global _original_qthread_start
    if _original_qthread_start is None and _original_bootstrap_inner is not None:
        _original_qthread_start = qtcore.QThread.start
        qtcore.QThread.start = _qthread_start


def _detach_qt() -> None:
    global _original_qthread_start
    qtcore = sys.modules.get(_qtattach.QTCORE)
    if _original_qthread_start is not None and qtcore is not None:
        qtcore.QThread.start = _original_qthread_start
    _original_qthread_start = None


def install(config: Any = None) -> None:
    global _original_bootstrap_inner, _original_name
    if _original_bootstrap_inner is None:
        _original_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
        threading.Thread._bootstrap_inner = _bootstrap_inner  # type: ignore[attr-defined]
        _original_name = threading.Thread.name
        threading.Thread.name = property(_original_name.fget, _set_name)  # type: ignore[assignment]
    for thread in threading.enumerate():
        if thread.native_id and thread.ident:
            try:
                _native.thread_register(thread.native_id, thread.ident, thread.name,
                                        _kind_of(thread))
            except Exception:  # noqa: BLE001
                pass
    _qtattach.when_qt_imported(_attach_qt)


def uninstall() -> None:
    global _original_bootstrap_inner, _original_name
    _detach_qt()
    if _original_bootstrap_inner is not None:
        threading.Thread._bootstrap_inner = _original_bootstrap_inner  # type: ignore[attr-defined]
        threading.Thread.name = _original_name  # type: ignore[assignment]
        _original_bootstrap_inner = None
        _original_name = None
