"""Any ``concurrent.futures.Future`` (a ProcessPoolExecutor's, say) as a
worker: the same events, delivered in the GUI thread.

    >>> executor = ProcessPoolExecutor()
    >>> job = watch_future(executor.submit(render_thumbnail, path))
    >>> job.returned.connect(show_thumbnail)
    >>> job.errored.connect(show_error)      # BrokenProcessPool too, never a crash
"""
from __future__ import annotations

import itertools
import threading

from . import _events, _worker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Future

_numbers = itertools.count(1)


class FutureWorker:
    """Events of a watched future: ``started`` (at once), then ``returned``,
    ``errored`` or ``cancelled``, then ``finished``.  ``cancel()`` cancels the
    future if it has not started."""

    def __init__(self, future: Future[object], name: str | None = None) -> None:
        if not all(hasattr(future, a) for a in ("add_done_callback", "result", "cancel")):
            raise TypeError(f"future must be a concurrent.futures.Future, not "
                            f"{type(future).__name__}")
        _events.hub()
        for event in _worker.EVENTS:
            setattr(self, event, _events.Event(event))
        self.name = name or f"future-{next(_numbers)}"
        self.future = future
        self._delivered_finished = False
        self._status = "running"
        # Where an error nobody listens to is reported: the thread that set
        # the future's outcome (the executor's thread that ran the task).
        self._origin: tuple[str, int] | None = None
        _events.post(self, "started")
        self._watching = threading.get_ident()
        future.add_done_callback(self._done)        # any thread, even at once
        self._watching = None

    def cancel(self) -> bool:
        return bool(self.future.cancel())

    @property
    def is_done(self) -> bool:
        """True once ``finished`` has been delivered."""
        return self._delivered_finished

    def _done(self, future: Future[object]) -> None:
        self._status = "done"
        if future.cancelled():
            _events.post(self, "cancelled")
        else:
            error = future.exception()
            if error is not None:
                self._origin = self._task_thread()
                _events.post(self, "errored", error)
            else:
                _events.post(self, "returned", future.result())
        _events.post(self, "finished")

    def _task_thread(self) -> tuple[str, int]:
        """The thread calling the done callback: the one that set the outcome
        - a ThreadPoolExecutor's worker that ran the task, a process pool's
        manager thread - except for a future already done when watched,
        whose callback runs at once in the watching thread."""
        if self._watching == threading.get_ident():
            return (f"unknown: {self.name} was done before it was watched", 0)
        from .. import _native
        from ..exceptions.delivery import _describe_current_thread

        return (_describe_current_thread(), _native.current_native_id())

    def _error_origin(self) -> tuple[str, int] | None:
        return self._origin

    _deliver = _worker.Worker._deliver
    _deliver_batch = _worker.Worker._deliver_batch


def watch_future(future: Future[object], name: str | None = None) -> FutureWorker:
    """Deliver *future*'s outcome to the GUI thread as worker events."""
    return FutureWorker(future, name)
