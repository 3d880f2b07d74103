"""Track threads while they run: Python threads and QThreads.

A signal handler cannot ask Python for a thread's name, so every thread is
recorded in ``_native``'s lock-free table (``src/threadtable.c``) when it
starts, again when it is renamed, and removed when it ends; threads already
running at :func:`install` are recorded then.  Kinds let reports tell thread
sorts apart.  Each thread's start site and start time are kept for
:func:`pyqtguard.threads` and hang reports.

QThreads get more, when ``PyQt6.QtCore`` is imported (``QThread.start`` is
wrapped).  Each started QThread

- is named in the C table (its ``objectName()``, else its class name) while
  it runs;
- is kept alive by pyqtguard until it has finished: a QThread that loses its
  last Python reference while running no longer aborts the process with
  "QThread: Destroyed while thread is still running"; that it happened is
  logged with the start site;
- at exit (the event loop ended, or the interpreter is shutting down) is asked
  to stop (``requestInterruption()`` and ``quit()``) and waited for within the
  shutdown deadline (:func:`stop_all`); one that does not stop is reported by
  name and kept alive until the process ends, instead of Qt's bare abort.
"""
from __future__ import annotations

import sys
import threading
import time

from . import _native, _qtattach, logfile

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
_original_thread_start: Any = None


def start_site(depth: int = 2) -> str | None:
    """``"file.py:12"`` of the caller's caller, skipping threading's own
    frames (a Timer, an executor, a subclass's ``start``)."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    while frame is not None and frame.f_code.co_filename.endswith(
            ("threading.py", "concurrent/futures/thread.py", "_threadtrack.py")):
        frame = frame.f_back
    if frame is None:
        return None
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _start_python_thread(self: threading.Thread) -> None:
    self._pyqtguard_site = start_site()  # type: ignore[attr-defined]
    self._pyqtguard_started = time.time()  # type: ignore[attr-defined]
    _original_thread_start(self)


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


def _install_python_threads() -> None:
    global _original_bootstrap_inner, _original_name, _original_thread_start
    if _original_thread_start is None:
        _original_thread_start = threading.Thread.start
        threading.Thread.start = _start_python_thread  # type: ignore[method-assign]
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


def _uninstall_python_threads() -> None:
    global _original_bootstrap_inner, _original_name, _original_thread_start
    if _original_thread_start is not None:
        threading.Thread.start = _original_thread_start  # type: ignore[method-assign]
        _original_thread_start = None
    if _original_bootstrap_inner is not None:
        threading.Thread._bootstrap_inner = _original_bootstrap_inner  # type: ignore[attr-defined]
        threading.Thread.name = _original_name  # type: ignore[assignment]
        _original_bootstrap_inner = None
        _original_name = None


# ---- QThreads --------------------------------------------------------------
class _QThreadRecord:
    __slots__ = ("thread", "name", "started", "site", "native_id", "finished")

    def __init__(self, thread: Any, site: str | None) -> None:
        self.thread = thread
        self.name = thread.objectName() or type(thread).__name__
        self.started = time.time()
        self.site = site
        self.native_id: int | None = None
        self.finished = False


_records: dict[int, _QThreadRecord] = {}       # id(QThread) -> record, while running
_lock = threading.Lock()
_original_qthread_start: Any = None      # callable as start(thread, *args)
_original_start_descriptor: Any = None   # what QThread's dict held
_qtcore: Any = None


def _on_started() -> None:
    """QThread.started, direct connection: runs in the new thread."""
    thread = _qtcore.QThread.currentThread()
    record = _records.get(id(thread))
    if record is None:
        return
    record.name = thread.objectName() or type(thread).__name__
    record.native_id = threading.get_native_id()
    register_current(record.name, KIND_QTHREAD)


def _on_finished() -> None:
    """QThread.finished, direct connection: runs in the finishing thread.

    The record (our strong reference) must not be dropped here: if it is the
    last one, the QThread would be destroyed inside its own finished signal,
    while it still counts as running.  The GUI thread drops it instead."""
    unregister_current()
    thread = _qtcore.QThread.currentThread()
    record = _records.get(id(thread))
    if record is not None:
        record.finished = True
        key = id(thread)
        _qtattach.post_to_gui_thread(lambda: _release(key))


def _release(key: int) -> None:
    with _lock:
        record = _records.get(key)
        if record is None or not record.finished:
            return
        del _records[key]
    thread, record.thread = record.thread, None
    if thread is None:
        return
    thread.wait(2000)              # finished was emitted: the end is near
    # Left: `thread` here and getrefcount's argument.  Nothing else means
    # the app had dropped it while it ran - Qt would have aborted.
    if sys.getrefcount(thread) <= 2:
        logfile.log_event(f"pyqtguard: QThread {record.name!r} (started at {record.site or '?'}) lost "
             "its last Python reference while running; it was kept alive until it "
             "finished (without pyqtguard: 'QThread: Destroyed while thread is still "
             "running' and an abort)")


def _start_qthread(self: Any, *args: Any) -> None:
    key = id(self)
    with _lock:
        record = _records.get(key)
        fresh = record is None or record.thread is not self
        if fresh:
            record = _QThreadRecord(self, start_site())
            _records[key] = record
        record.finished = False
    if not getattr(self, "_pyqtguard_connected", False):
        try:
            direct = _qtcore.Qt.ConnectionType.DirectConnection
            self.started.connect(_on_started, direct)
            self.finished.connect(_on_finished, direct)
            self._pyqtguard_connected = True
        except Exception:  # noqa: BLE001 - tracking degrades, the start must not
            pass
    _original_qthread_start(self, *args)


def running_by_native_id() -> dict[int, tuple[str, float | None, str | None]]:
    """native id -> (name, start time, start site) of running QThreads."""
    return {r.native_id: (r.name, r.started, r.site)
            for r in list(_records.values()) if r.native_id and not r.finished}


def running() -> list[_QThreadRecord]:
    return [r for r in list(_records.values())
            if r.thread is not None and not r.finished and r.thread.isRunning()]


def stop_all(deadline: float) -> list[_QThreadRecord]:
    """Ask every running QThread to stop; wait until *deadline*
    (time.monotonic()); return the ones still running, kept alive for good."""
    still = running()
    for record in still:
        try:
            record.thread.requestInterruption()
            record.thread.quit()
        except RuntimeError:       # its C++ object is gone already
            pass
    stubborn = []
    for record in still:
        remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
        try:
            if record.thread.wait(remaining_ms):
                continue
        except RuntimeError:
            continue
        stubborn.append(record)
        try:
            # A parent (a window) would delete it with itself; no parent and
            # a reference nobody releases: it is never destroyed while running.
            if record.thread.parent() is not None:
                record.thread.setParent(None)
        except RuntimeError:
            pass
        _native.keep_until_exit(record.thread)
    return stubborn


def _take_original_start(descriptor: Any) -> bool:
    """Remember QThread's own start; False if there is nothing to wrap."""
    global _original_qthread_start, _original_start_descriptor
    if descriptor is None or descriptor is _start_qthread or _original_start_descriptor is not None:
        return False
    _original_start_descriptor = descriptor
    _original_qthread_start = descriptor.__get__(None, _qtcore.QThread)
    return True


def _patch_start_in(type_dict: dict[str, Any]) -> None:
    """Called by sip while it creates QThread's attributes: only the
    dictionary is touched here (an attribute access on QThread now would
    recurse)."""
    if _take_original_start(type_dict.get("start")):
        type_dict["start"] = _start_qthread


def _attach_qthreads(qtcore: Any) -> None:
    """Wrap QThread.start - when the app first uses QThread, not now.

    sip creates a class's attributes (and its enums) on first use; doing it
    here would cost every app 0.4-0.8 ms, QThread or not.  So the wrapper
    goes in when sip completes the class (src/sipattach.c); if the class is
    complete already, or sip cannot call back, it goes in now."""
    global _qtcore
    if _original_start_descriptor is not None:
        return
    _qtcore = qtcore
    cls = qtcore.QThread
    if "start" in _native.type_dict(cls) or not _native.when_class_completes(cls, _patch_start_in):
        cls.start                                 # noqa: B018 - completes the class
        if _take_original_start(_native.type_dict(cls).get("start")):
            cls.start = _start_qthread


def install(config: object = None) -> None:
    """Name and track Python threads now, QThreads once Qt is imported."""
    _install_python_threads()
    _qtattach.when_qt_imported(_attach_qthreads)


def uninstall() -> None:
    global _original_qthread_start, _original_start_descriptor
    _uninstall_python_threads()
    if _qtcore is not None:
        _native.forget_class_completion(_qtcore.QThread)
        if _original_start_descriptor is not None:
            _qtcore.QThread.start = _original_start_descriptor
    _original_qthread_start = None
    _original_start_descriptor = None
