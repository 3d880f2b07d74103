"""Track threads while they run: Python threads and QThreads.

A signal handler cannot ask Python for a thread's name, so every thread is
recorded in ``_native``'s lock-free table (``src/threadtable.c``) when it
starts, again when it is renamed, and removed when it ends; threads already
running at ``install()`` are recorded then (by the installer,
:mod:`pyqtguard._install`).  Kinds let reports tell thread sorts apart.
Each thread's start site and start time are kept for
:func:`pyqtguard.threads` and hang reports.

QThreads get more (:mod:`pyqtguard._qthreads`: names, keep-alive, stop at
exit) from the app's first use of QThread on: ``QThread.start`` is wrapped
then, see :func:`_attach_qthreads`.
"""
from __future__ import annotations

import sys
import threading
import time

from . import _native

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: start-up cost
    from typing import Any

KIND_PYTHON = 0
KIND_MAIN = 1
KIND_QTHREAD = 2
KIND_POOL = 3
KIND_NATIVE = 4

# threading's own, replaced by the installer (pyqtguard._install) while
# installed.
_original_bootstrap_inner: Any = None
_original_name: Any = None
_original_thread_start: Any = None


def start_site(depth: int = 2) -> str | None:
    """``"file.py:12"`` of the caller's caller, skipping threading's own
    frames (a Timer, an executor, a subclass's ``start``)."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    while frame is not None and frame.f_code.co_filename.endswith(
            ("threading.py", "concurrent/futures/thread.py", "_threadtrack.py", "_qthreads.py")):
        frame = frame.f_back
    if frame is None:
        return None
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


# id(thread) -> (start site, start time) while the thread runs.  Kept apart
# from the Thread's own attributes: adding attributes to a Thread instance
# costs a few microseconds per start (its dict stops sharing the class's keys).
_starts: dict[int, tuple[str | None, float]] = {}


def start_of(thread: threading.Thread) -> tuple[str | None, float | None]:
    """``(start site, start time)`` of a running Python thread started since
    :func:`install`; ``(None, None)`` otherwise."""
    return _starts.get(id(thread), (None, None))


def _start_python_thread(self: threading.Thread) -> None:
    key = id(self)
    _starts[key] = (start_site(), time.time())
    try:
        _original_thread_start(self)
    except BaseException:
        _starts.pop(key, None)
        raise


def register_current(name: str, kind: int = KIND_PYTHON) -> None:
    """Record the calling thread under *name*; never raises."""
    try:
        _native.thread_register_current(name, kind)
    except Exception:  # noqa: BLE001 - odd names degrade, never crash
        pass


def unregister_current() -> None:
    _native.thread_unregister_current()


def _kind_of(thread: threading.Thread) -> int:
    return KIND_MAIN if thread is threading.main_thread() else KIND_PYTHON


def _bootstrap_inner(self: threading.Thread) -> None:
    # Never the main thread (it does not run _bootstrap_inner).
    register_current(self._name, KIND_PYTHON)  # type: ignore[attr-defined]
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
    from . import _qthreads

    _qthreads.wrap_start_in(type_dict)


def _attach_qthreads(qtcore: Any) -> None:
    """Wrap QThread.start - when the app first uses QThread, not now.

    sip creates a class's attributes (and its enums) on first use; doing it
    here would cost every app 0.4-0.8 ms, QThread or not, and so would
    loading the tracking code (:mod:`pyqtguard._qthreads`).  So the wrapper
    goes in when sip completes the class (src/sipattach.c); if the class is
    complete already, or sip cannot call back, it goes in now."""
    global _qthread_class
    if _qthread_class is not None:
        return
    _qthread_class = cls = qtcore.QThread
    if "start" in _native.type_dict(cls) or not _native.when_class_completes(
            cls, _on_qthread_class_complete):
        from . import _qthreads

        _qthreads.wrap_start_now(cls)
