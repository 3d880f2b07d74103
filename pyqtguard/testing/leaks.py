"""What a test left running: Python threads, QThreads, QThreadPool tasks,
pyqtguard workers, and (optionally) top-level widgets.

A :class:`Snapshot` is taken before the test's setup; after its teardown,
:func:`leaks_since` lists what is alive now and was not then, each with its
name and the ``file:line`` that started it (from pyqtguard's thread tracking).
Threads get a short grace period to end, since a test that asked a thread to
stop may not have joined it.

Example::

    before = Snapshot.take(widgets=True)
    ...  # the test
    for leak in leaks_since(before, grace=1.0):
        print(leak)
"""
from __future__ import annotations

import os
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

def is_own_thread(thread: threading.Thread) -> bool:
    """One of pyqtguard's own threads (by its exact name: an app's thread
    named ``pyqtguard-sync`` is the app's)."""
    from ..registry.listing import OWN_THREAD_NAMES

    return thread.name in OWN_THREAD_NAMES


class Leak:
    """One thing a test left alive: ``kind`` (``thread``, ``QThread``,
    ``worker``, ``pool tasks``, ``widget``), ``name`` and ``where`` (the
    ``file:line`` that started it, when known)."""

    __slots__ = ("kind", "name", "where", "key")

    def __init__(self, kind: str, name: str, where: str | None = None,
                 key: object = None) -> None:
        self.kind = kind
        self.name = name
        self.where = where
        self.key = key

    def __str__(self) -> str:
        if self.kind == "widget":                 # "QDialog objectName='settings'"
            return f"widget {self.name}"
        started = f", started at {self.where}" if self.where else ""
        return f"{self.kind} {self.name!r}{started}"

    def __repr__(self) -> str:
        return f"Leak({self})"


def _qtcore() -> Any:
    return sys.modules.get("PyQt6.QtCore")


def _qthread_records() -> list[Any]:
    qthreads = sys.modules.get("pyqtguard.registry.qthreads")   # loaded once QThread is used
    return qthreads.running() if qthreads is not None else []


def _workers() -> list[Any]:
    worker = sys.modules.get("pyqtguard.workers._worker")       # loaded once workers are used
    if worker is None:
        return []
    _record_worker_starts(worker.Worker)
    return worker.active_workers()


# Where each worker was started: Worker.start is wrapped while the plugin runs
# (in tests only: an app's workers pay nothing).  id(worker) -> "file:line".
_worker_sites: dict[int, str] = {}
_WORKER_FRAMES = (os.path.join("pyqtguard", "workers", ""), "functools.py")


def _caller_outside_workers() -> str | None:
    frame = sys._getframe(2)
    while frame is not None and any(part in frame.f_code.co_filename for part in _WORKER_FRAMES):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else None


def _record_worker_starts(cls: Any) -> None:
    original = cls.__dict__.get("start")
    if original is None or getattr(original, "_pyqtguard_records_site", False):
        return

    def start(self: Any) -> Any:
        site = _caller_outside_workers()
        if site is not None:
            if len(_worker_sites) > 10_000:       # bounded: a suite of many workers
                _worker_sites.clear()
            _worker_sites[id(self)] = site
        return original(self)

    start._pyqtguard_records_site = True  # type: ignore[attr-defined]
    start.__doc__ = original.__doc__
    cls.start = start


def _pool_active() -> int:
    qtcore = _qtcore()
    if qtcore is None:
        return 0
    try:
        return int(qtcore.QThreadPool.globalInstance().activeThreadCount())
    except Exception:  # noqa: BLE001 - no pool (no application) is no task
        return 0


def _top_level_widgets() -> list[Any]:
    widgets = sys.modules.get("PyQt6.QtWidgets")
    if widgets is None or widgets.QApplication.instance() is None:
        return []
    return list(widgets.QApplication.topLevelWidgets())


class Snapshot:
    """What runs before a test: the baseline :func:`leaks_since` compares with."""

    __slots__ = ("threads", "qthreads", "workers", "pool_tasks", "widgets")

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.qthreads: set[int] = set()
        self.workers: set[int] = set()
        self.pool_tasks = 0
        self.widgets: set[int] | None = None

    @classmethod
    def take(cls, *, widgets: bool = False) -> Snapshot:
        snapshot = cls()
        snapshot.threads = {id(t) for t in threading.enumerate()}
        snapshot.qthreads = {id(r.thread) for r in _qthread_records()}
        snapshot.workers = {id(w) for w in _workers()}
        snapshot.pool_tasks = _pool_active()
        if widgets:
            snapshot.widgets = {id(w) for w in _top_level_widgets()}
        return snapshot

    def add_started_since(self, start: Snapshot) -> None:
        """Count what was started since *start* as running before the test
        too: what a session, module or class fixture starts outlives the test
        that first used it by design (the fixture's own teardown ends it)."""
        now = Snapshot.take(widgets=self.widgets is not None)
        self.threads |= now.threads - start.threads
        self.qthreads |= now.qthreads - start.qthreads
        self.workers |= now.workers - start.workers
        self.pool_tasks += max(0, now.pool_tasks - start.pool_tasks)
        if self.widgets is not None and now.widgets is not None:
            self.widgets |= now.widgets - (start.widgets or set())


def _start_site(thread: threading.Thread) -> str | None:
    tracking = sys.modules.get("pyqtguard.registry.tracking")
    return tracking.start_of(thread)[0] if tracking is not None else None


# Threads the standard library starts for an object (a pool, a queue), waiting
# for that object's next piece of work: (file, function) of the frame that
# waits, below frames of the waiting itself.
_IDLE_WAITS = (
    # a ThreadPoolExecutor thread between tasks (3.11-3.14)
    (os.path.join("concurrent", "futures", "thread.py"), "_worker"),
    # a ProcessPoolExecutor's manager thread, started at the first submit()
    (os.path.join("concurrent", "futures", "process.py"), "wait_result_broken_or_wakeup"),
    # a multiprocessing.Queue's feeder thread, started at the first put()
    (os.path.join("multiprocessing", "queues.py"), "_feed"),
)
_WAITING_FILES = ("threading.py", "selectors.py", os.path.join("multiprocessing", "connection.py"))


def _is_idle_pool_worker(thread: threading.Thread, frames: dict[int, Any]) -> bool:
    """A thread the standard library runs for a pool or a queue, waiting for
    its next task: a ``ThreadPoolExecutor``'s worker between tasks, a
    ``ProcessPoolExecutor``'s manager thread with no task pending, a
    ``multiprocessing.Queue``'s feeder with nothing to send.  Each is started
    at the object's first use - maybe inside a test, for a session fixture's
    executor or queue - and belongs to that object (it ends when the object is
    shut down or collected), as QThreadPool's idle threads do; one still busy
    with a task is a leak."""
    frame = frames.get(thread.ident) if thread.ident is not None else None
    while frame is not None and frame.f_code.co_filename.endswith(_WAITING_FILES):
        frame = frame.f_back
    if frame is None:
        return False
    where = (frame.f_code.co_filename, frame.f_code.co_name)
    if not any(where[0].endswith(file) and where[1] == name for file, name in _IDLE_WAITS):
        return False
    # The manager thread waits for results too: idle only with nothing pending.
    return not getattr(thread, "pending_work_items", None)


def _thread_leaks(before: Snapshot) -> list[Leak]:
    main = threading.main_thread()
    new = [t for t in threading.enumerate()
           if id(t) not in before.threads and t is not main and t.is_alive()
           and not is_own_thread(t)
           and not isinstance(t, threading._DummyThread)]  # type: ignore[attr-defined]
    if not new:
        return []
    from .. import _native

    frames = _native.current_frames()   # not sys's: see src/threadlist.c
    try:
        return [Leak("thread", t.name, _start_site(t), t) for t in new
                if not _is_idle_pool_worker(t, frames)]
    finally:
        del frames                    # frames keep their locals alive


def _running_leaks(before: Snapshot) -> list[Leak]:
    found = _thread_leaks(before)
    found += [Leak("QThread", r.name, r.site, r.thread) for r in _qthread_records()
              if id(r.thread) not in before.qthreads]
    found += [Leak("worker", w.name, _worker_sites.get(id(w)), w) for w in _workers()
              if id(w) not in before.workers]
    # Pool threads stay alive idle for a while: only tasks still running count.
    extra = _pool_active() - before.pool_tasks
    if extra > 0 and not any(leak.kind == "worker" for leak in found):
        found.append(Leak("pool tasks", f"{extra} QThreadPool task(s) still running"))
    return found


def _widget_leaks(before: Snapshot) -> list[Leak]:
    if before.widgets is None:
        return []
    import gc

    gc.collect()                          # widgets only the test's frames held
    qtcore = _qtcore()
    if qtcore is not None and threading.current_thread() is threading.main_thread():
        # deleteLater() is a request to delete: honour it before counting.
        qtcore.QCoreApplication.sendPostedEvents(None, qtcore.QEvent.Type.DeferredDelete)
    found = []
    for widget in _top_level_widgets():
        if id(widget) in before.widgets:
            continue
        try:
            name = widget.objectName()
            shown = widget.isVisible()
        except RuntimeError:              # deleted on the C++ side meanwhile
            continue
        label = type(widget).__name__ + (f" objectName={name!r}" if name else "")
        found.append(Leak("widget", label + (" (still shown)" if shown else ""), None, widget))
    return found


def leaks_since(before: Snapshot, *, grace: float = 1.0,
                threads: bool = True, widgets: bool = False) -> list[Leak]:
    """What is alive now and was not in *before*; threads get up to *grace*
    seconds to end (Qt events are processed meanwhile in the GUI thread)."""
    found: list[Leak] = []
    if threads:
        deadline = time.monotonic() + grace
        found = _running_leaks(before)
        while found and time.monotonic() < deadline:
            _process_events()
            time.sleep(0.01)
            found = _running_leaks(before)
    if widgets:
        found += _widget_leaks(before)
    return found


def _process_events() -> None:
    qtcore = _qtcore()
    if qtcore is None or threading.current_thread() is not threading.main_thread():
        return
    app = qtcore.QCoreApplication.instance()
    if app is not None:
        app.processEvents()
