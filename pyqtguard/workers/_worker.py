"""Workers: a function or generator run off the GUI thread, with events.

    >>> def count_words(path, state):           # `state` is optional
    ...     words = 0
    ...     for line_number, line in enumerate(open(path)):
    ...         if state.cancelled:
    ...             return words
    ...         words += len(line.split())
    ...         state.progress(line_number)
    ...     return words
    >>> worker = pyqtguard.workers.Worker(count_words, "book.txt")
    >>> worker.returned.connect(label.setNum)
    >>> worker.start()

Events, all delivered in the GUI thread in this order, ``finished`` always
last whatever happened: ``started``; ``progress(value)`` and
``yielded(value)`` (each value a generator yields); then one of
``returned(result)``, ``errored(exception)`` or ``cancelled()``; then
``finished()``.
"""
from __future__ import annotations

import itertools
import os
import sys
import threading

from .. import _native
from ..qt import guithread
from ..registry import forking_native_id
from . import _events, _pool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_GeneratorType = type(x for x in ())
_name_thread = _native.thread_register_current
_forget_thread = _native.thread_unregister_current
_queue_task = _pool.queue_task
_WITH_PAYLOAD = frozenset({"progress", "yielded", "returned"})
EVENTS = ("started", "progress", "yielded", "returned", "errored", "cancelled", "finished")
_active: set[Worker] = set()            # strong references until `finished` is delivered
_numbers = itertools.count(1)
_wants_state_cache: dict[object, bool] = {}   # code object -> takes `state`
_WANTS_STATE_MAX = 1024
_shutdown_began = False
# Called with the QCoreApplication when the first worker starts under it
# (pyqtguard.workers._shutdown connects its aboutToQuit handler this way).
_app_seen_callbacks: list[Callable[[Any], None]] = []


def when_app_seen(callback: Callable[[Any], None]) -> None:
    """Call ``callback(app)`` when the first worker starts under a
    QCoreApplication (once per application)."""
    if callback not in _app_seen_callbacks:
        _app_seen_callbacks.append(callback)


def stop_accepting() -> None:
    """From now on, starting a worker raises RuntimeError (shutdown began)."""
    global _shutdown_began
    _shutdown_began = True


class WorkerState:
    """What the work sees of its worker (pass a parameter named ``state``).

    ``state.cancelled`` turns True when the worker is cancelled;
    ``state.progress(value)`` and ``state.partial(value)`` send ``progress``
    and ``yielded`` events to the GUI thread.
    """

    __slots__ = ("_worker",)

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    @property
    def cancelled(self) -> bool:
        return self._worker._cancel_requested

    def progress(self, value: object) -> None:
        self._worker._post("progress", value)

    def partial(self, value: object) -> None:
        self._worker._post("yielded", value)


def _wants_state(func: Callable[..., object]) -> bool:
    # Cached by code object (functions, methods, lambdas: a few per app).
    # Any other callable - a functools.partial, an object with __call__,
    # often a new one per worker - is asked each time: kept as a key, each
    # one and its arguments stayed alive for good (and an unhashable one
    # failed the worker).
    key = getattr(func, "__code__", None)
    wanted = _wants_state_cache.get(key) if key is not None else None
    if wanted is None:
        import inspect

        try:
            wanted = "state" in inspect.signature(func).parameters
        except (TypeError, ValueError):
            wanted = False
        if key is not None:
            if len(_wants_state_cache) >= _WANTS_STATE_MAX:
                _wants_state_cache.clear()      # code made at run time: bounded
            _wants_state_cache[key] = wanted
    return wanted


class Worker:
    started = _events.EventSlot("started")
    progress = _events.EventSlot("progress")
    yielded = _events.EventSlot("yielded")
    returned = _events.EventSlot("returned")
    errored = _events.EventSlot("errored")
    cancelled = _events.EventSlot("cancelled")
    finished = _events.EventSlot("finished")

    """A function (or generator function) to run on a QThreadPool, or on a
    dedicated QThread with ``use_qthread=True``.  See the module docstring.

    Raises RuntimeError when no QApplication exists yet, TypeError when
    *func* is not callable.
    """

    def __init__(self, func: Callable[..., object], *args: object,
                 use_qthread: bool = False, name: str | None = None,
                 **kwargs: object) -> None:
        if not callable(func):
            raise TypeError(f"func must be callable, not {type(func).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, not {type(name).__name__}")
        if _events._hub is None:
            _events.hub()                               # RuntimeError without an app
        self._name = name
        self._number = next(_numbers)
        self._func = func
        self._args = args
        self._kwargs = kwargs
        self._use_qthread = use_qthread
        self._cancel_requested = False    # a bool: set once, read anywhere (GIL)
        self._status = "created"      # created, queued, running, done (worker side)
        self._delivered_finished = False
        self._pending: tuple = ()
        self._native_id: int | None = None
        self._given_up = False             # a shutdown waited for it in vain
        self._thread: Any = None

    @property
    def name(self) -> str:
        """The name given, else ``worker-N:function``: in logs and reports."""
        if self._name is None:
            self._name = f"worker-{self._number}:{getattr(self._func, '__name__', 'work')}"
        return self._name

    # ---- control (GUI thread) ----

    def start(self) -> Worker:
        """Queue the work; returns the worker.  Starting twice is a ValueError."""
        if self._status != "created":
            raise ValueError(f"worker {self.name!r} was already started; make a new Worker")
        if _shutdown_began:
            raise RuntimeError("pyqtguard.shutdown() has begun: no new workers")
        _connect_app_quit()
        _active.add(self)                 # set.add is atomic under the GIL
        self._status = "queued"
        if self._use_qthread:
            self._thread = _dedicated_thread(sys.modules["PyQt6.QtCore"], self)
            self._thread.start()
        else:
            _queue_task(self)             # runs in a pool thread: run_queued()
        return self

    def cancel(self) -> None:
        """Ask the work to stop; a queued worker is taken off the queue.
        Cancelling a finished worker does nothing."""
        if self._status in ("created", "done") or self._cancel_requested:
            if self._status == "created":
                self._cancel_requested = True
            return
        self._cancel_requested = True
        if self._status == "queued" and not self._use_qthread:
            if _pool.take(self):
                self._status = "done"
                _events.post_many(self, (("cancelled", None), ("finished", None)))

    @property
    def is_running(self) -> bool:
        return self._status == "running"

    @property
    def is_done(self) -> bool:
        """True once ``finished`` has been delivered."""
        return self._delivered_finished

    def __repr__(self) -> str:
        return f"<Worker {self.name!r} {self._status}>"

    # ---- the work (worker thread) ----

    def run_queued(self, native_id: int) -> None:
        """Run in a pool thread (see :mod:`pyqtguard.workers._pool`): the
        thread's name is forgotten by the pool's runner, not here."""
        self._native_id = native_id
        self._run(forget=False)

    def _run(self, forget: bool = True) -> None:
        if self._native_id is None:
            self._native_id = threading.get_native_id()
        name = self._name or getattr(self._func, "__name__", "worker")
        if self._thread is not None:
            # Its own QThread, recorded as it started with the app's line
            # that started it: named again with that line kept (renamed
            # without it, crash reports lost where the worker came from).
            _name_dedicated_thread(name, self._thread)
        else:
            try:
                # kind 3: pool.  The worker's own name if it has one, else its
                # function's: cheap here, readable in crash reports and dumps.
                _name_thread(name, 3)
            except (UnicodeEncodeError, ValueError):
                pass
        self._status = "running"
        # `started` goes at once when something listens to it; otherwise it
        # rides with the next event: one queued hop for a tiny task.
        pending: tuple = (("started", None),)
        if _events.listened(self, "started"):
            _events.post_many(self, pending)
            pending = ()
        self._pending = pending
        ending: tuple = ()
        try:
            if self._cancel_requested:
                ending = (("cancelled", None),)
            else:
                try:
                    outcome = self._call()
                except BaseException as exc:  # noqa: BLE001 - delivered, never raised into Qt
                    ending = (("errored", exc),)
                else:
                    ending = ((("cancelled", None),) if self._cancel_requested
                              else (("returned", outcome),))
        finally:
            if forget:
                _forget_thread()
            self._status = "done"
            _events.post_many(self, self._pending + ending + (("finished", None),))
            self._pending = ()

    def _call(self) -> object:
        kwargs = self._kwargs
        if _wants_state(self._func):
            kwargs = dict(kwargs, state=WorkerState(self))
        # No `**{}` for the common call without keywords: it builds a dict.
        result = self._func(*self._args, **kwargs) if kwargs else self._func(*self._args)
        if isinstance(result, _GeneratorType):
            return self._drive(result)
        return result

    def _drive(self, generator: Any) -> object:
        """Run a generator: each value to ``yielded``; cancellation at a yield."""
        while True:
            if self._cancel_requested:
                generator.close()
                return None
            try:
                value = next(generator)
            except StopIteration as stop:
                return stop.value
            self._post("yielded", value)

    def _post(self, event: str, payload: object) -> None:
        """Post from the worker thread, with a deferred `started` first."""
        if self._pending:
            events, self._pending = self._pending + ((event, payload),), ()
            _events.post_many(self, events)
        else:
            _events.post(self, event, payload)

    # ---- delivery (GUI thread, from the hub) ----

    def _deliver_batch(self, events: tuple) -> None:
        own = self.__dict__
        escaped: BaseException | None = None
        for event, payload in events:
            # A callback's Exception is reported by Event.emit; a BaseException
            # (sys.exit(), KeyboardInterrupt) escapes it: the rest of the batch
            # - `finished` above all - is still delivered, then it goes on.
            try:
                if event == "errored":
                    self._deliver(event, payload)
                    continue
                if event == "finished":
                    self._delivered_finished = True
                    _active.discard(self)  # type: ignore[arg-type]
                signal = own.get(event)
                if signal is not None:
                    if event in _WITH_PAYLOAD:
                        signal.emit(payload)
                    else:
                        signal.emit()
            except BaseException as exc:  # noqa: BLE001 - raised after the batch
                escaped = escaped or exc
        if escaped is not None:
            raise escaped

    def _error_origin(self) -> tuple[str, int] | None:
        """(thread name, native id) an unlistened error is reported in."""
        return None if self._native_id is None else (self.name, self._native_id)

    def _deliver(self, event: str, payload: object) -> None:
        if event == "errored":
            exc = payload  # type: ignore[assignment]
            if not _events.listened(self, "errored"):
                # Nobody listens: pyqtguard's hook logs it (never an abort),
                # naming the worker's thread, not this (the GUI) one.
                origin = self._error_origin()
                if sys.excepthook is _native.excepthook and origin is not None:
                    _native.excepthook_for_thread(type(exc), exc, exc.__traceback__,
                                                  *origin)
                else:
                    sys.excepthook(type(exc), exc, exc.__traceback__)  # type: ignore[arg-type]
            else:
                _log_error(self, exc)  # type: ignore[arg-type]
                self.errored.emit(exc)  # type: ignore[attr-defined]
            return
        signal = self.__dict__.get(event)
        if signal is not None:
            if event in ("progress", "yielded", "returned"):
                signal.emit(payload)
            else:
                signal.emit()
        if event == "finished":
            self._delivered_finished = True
            _active.discard(self)  # type: ignore[arg-type]


def _name_dedicated_thread(name: str, thread: Any) -> None:
    """Name a use_qthread worker's thread (kind 3), keeping the start site
    pyqtguard's QThread tracking has for it (None without install())."""
    from .. import registry

    tracking = sys.modules.get("pyqtguard.registry.qthreads")
    record = tracking._records.get(id(thread)) if tracking is not None else None
    registry.register_current(name, 3, record.site if record is not None else None)


def _log_error(worker: Worker, exc: BaseException) -> None:
    import traceback

    from .. import logs as logfile

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    logfile.log_event(f"pyqtguard: worker {worker.name!r} raised (delivered to its errored "
                      f"callbacks):\n{text.rstrip()}", report=True)


_worker_thread_class: Any = None


def _dedicated_thread(qtcore: Any, worker: Worker) -> Any:
    # One class for all workers: PyQt6 keeps each QObject subclass's
    # meta-object for good, so a class made per worker grew the process by
    # a few hundred bytes per use_qthread worker.
    global _worker_thread_class
    if _worker_thread_class is None:
        class _WorkerThread(qtcore.QThread):  # type: ignore[misc,name-defined]
            def run(self) -> None:
                self._worker._run()

        _worker_thread_class = _WorkerThread
    thread = _worker_thread_class()
    thread._worker = worker
    thread.setObjectName(worker.name)
    # Qt deletes it once it has finished (deleteLater, run by the thread
    # the QThread object belongs to), not Python's garbage collector: the worker and its
    # thread hold each other, and a collection after `finished` reached the
    # app deleted the QThread while its run() was still returning - Qt
    # aborted the app ("QThread: Destroyed while thread ... is still
    # running") - or, run in that thread itself, made it wait on itself.
    #
    # That is the GUI thread: a QThread made elsewhere (a plain
    # thread, a pool's, another worker's) belonged to a thread that runs no
    # loop, where the queued deleteLater never ran - each QThread, its
    # wrapper and its worker leaked.
    app = qtcore.QCoreApplication.instance()
    if app is not None and thread.thread() is not app.thread():
        thread.moveToThread(app.thread())
    thread.finished.connect(thread.deleteLater)
    sys.modules["PyQt6.sip"].transferto(thread, None)
    return thread


def _forked() -> None:
    """In a fork child: a worker running on another thread than the forking
    one is not here (a fork copies one thread), and never ends there:
    shutdown() in the child waited its whole timeout for it and logged it
    as the child's straggler.  Let go.  Queued ones stay: Qt's pool may run
    them in the child, as it runs its own queued tasks there."""
    for worker in list(_active):
        if worker._status == "running" and worker._native_id != forking_native_id():
            _active.discard(worker)


if hasattr(os, "register_at_fork"):      # not on Windows
    os.register_at_fork(after_in_child=_forked)


def active_workers() -> list[Worker]:
    """Workers started and not yet finished (their ``finished`` undelivered)."""
    return list(_active)


_app_seen = guithread.AppMark()     # the application the last worker started under


def _connect_app_quit() -> None:
    app = sys.modules["PyQt6.QtCore"].QCoreApplication.instance()
    if app is not None and _app_seen.changed(app):     # once per application
        _events.hub()          # wakes the hub again if the last app took its wake-up
        for callback in _app_seen_callbacks:
            callback(app)


def thread_worker(func: Callable[..., object]) -> Callable[..., Worker]:
    """Decorator: calling the function returns a started :class:`Worker`.

    Example::

        @pyqtguard.workers.thread_worker
        def load(path):
            return open(path).read()

        worker = load("notes.txt")
        worker.returned.connect(editor.setPlainText)
    """
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")

    def start_worker(*args: object, **kwargs: object) -> Worker:
        return Worker(func, *args, **kwargs).start()

    start_worker.__name__ = getattr(func, "__name__", "start_worker")
    start_worker.__doc__ = func.__doc__
    start_worker.__wrapped__ = func  # type: ignore[attr-defined]
    return start_worker


def run_in_worker(func: Callable[..., object], *args: object, **kwargs: object) -> Worker:
    """Start ``func(*args, **kwargs)`` on the pool now; returns the worker."""
    return Worker(func, *args, **kwargs).start()
