"""Any ``concurrent.futures.Future`` (a ProcessPoolExecutor's, say) as a
worker: the same events, delivered in the GUI thread.

    >>> executor = ProcessPoolExecutor()
    >>> job = watch_future(executor.submit(render_thumbnail, path))
    >>> job.returned.connect(show_thumbnail)
    >>> job.errored.connect(show_error)      # BrokenProcessPool too, never a crash
"""
from __future__ import annotations

import itertools

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
        _events.post(self, "started")
        future.add_done_callback(self._done)        # any thread, even at once

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
                _events.post(self, "errored", error)
            else:
                _events.post(self, "returned", future.result())
        _events.post(self, "finished")

    _deliver = _worker.Worker._deliver
    _deliver_batch = _worker.Worker._deliver_batch


def watch_future(future: Future[object], name: str | None = None) -> FutureWorker:
    """Deliver *future*'s outcome to the GUI thread as worker events."""
    return FutureWorker(future, name)
