"""The queue pool workers run from: one Python queue, drained by at most
``QThreadPool.maxThreadCount()`` runners on the global QThreadPool.

A QRunnable per task costs a C++ object, a sip wrapper and a wake-up of a
pool thread for each one; here a task is a ``deque.append``, and a runner
already running takes the next task without going back to Qt.  Runners are
ordinary QThreadPool tasks (``waitForDone`` and the pool's thread limit
still apply) and end as soon as the queue is empty.

A queued task is taken off the queue by :func:`take` (cancellation):
exactly one of :func:`take` and the runner that pops it wins, since both
remove it from ``_queued`` (a ``set.remove``, atomic under the GIL).

    >>> queue_task(task)          # task.run_queued() runs in a pool thread
    >>> take(task)                # True: it had not started and never will
    True
"""
from __future__ import annotations

import sys
import threading
from collections import deque

from ..registry import renewed_in_fork_children
from .. import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_queue: deque[Any] = deque()
_queued: set[Any] = set()            # queued and not taken: the claim tokens
_lock = renewed_in_fork_children(threading.Lock())             # guards _runners against a runner's exit
_runners = 0
_runner_class: Any = None


def _global_pool() -> Any:
    """Qt's global pool, asked for each time: Qt deletes it with the
    QCoreApplication and makes another for the next one, and a wrapper kept
    from before would point at freed memory (sip cannot tell: Qt made it)."""
    global _runner_class
    qtcore = sys.modules["PyQt6.QtCore"]
    if _runner_class is None:

        # A QRunnable per runner, not per task (pool.start(callable) would
        # do too, but not on every PyQt6 release this package supports).
        class _Runner(qtcore.QRunnable):  # type: ignore[misc,name-defined]
            def run(self) -> None:
                _run_queue()

        _runner_class = _Runner
    return qtcore.QThreadPool.globalInstance()


def queue_task(task: Any) -> None:
    """Queue *task*: its ``run_queued(native_id)`` is called in a pool thread."""
    global _runners
    _queued.add(task)
    _queue.append(task)
    with _lock:
        pool = _global_pool()
        if _runners >= pool.maxThreadCount():
            return                   # a runner will get to it
        _runners += 1
    pool.start(_runner_class())          # the pool owns and deletes it


def take(task: Any) -> bool:
    """Take a queued *task* off the queue; False when it has started."""
    try:
        _queued.remove(task)
    except KeyError:
        return False
    return True


def _run_queue() -> None:
    """A runner: run queued tasks until the queue is empty."""
    global _runners
    native_id = threading.get_native_id()
    popleft = _queue.popleft
    claim = _queued.remove
    try:
        while True:
            try:
                task = popleft()
            except IndexError:
                with _lock:
                    if _queue:
                        continue          # queued after our pop: ours to run
                    _runners -= 1
                    return
            try:
                claim(task)
            except KeyError:
                continue                  # cancelled while queued
            task.run_queued(native_id)
    except BaseException:
        with _lock:
            _runners -= 1                 # never strand the queue
        raise
    finally:
        # The runner's thread showed each task's name while running it; it
        # goes back to the pool nameless.
        _native.thread_unregister_current()
