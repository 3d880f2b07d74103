"""Worker events: callbacks run in the GUI thread, in order, never into a
deleted widget.

A worker's events (``started``, ``progress``, ``yielded``, ``returned``,
``errored``, ``cancelled``, ``finished``) are plain Python event objects,
not Qt signals: the worker thread appends ``(worker, events)`` to one
queue, and one hub QObject living in the GUI thread delivers the queue's
contents there, in order, calling the callbacks.  The hub is woken by one
queued Qt signal per event-loop turn, not one per event: a batch of results
costs one Qt event.  That gives the order (one queue), ``finished`` last,
and control over each call: a callback bound to a widget that has been
deleted is dropped (debug log), never an error.
"""
from __future__ import annotations

import sys
import threading
from collections import deque
from ..registry import renewed_in_fork_children
from ..qt import guithread
from ..qt.enums import qt_enum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Event:
    """One worker event; ``connect(callback)`` like a Qt signal.

    Example::

        worker.returned.connect(label.setText)
    """

    __slots__ = ("name", "_callbacks")

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[..., object]] = []

    def connect(self, callback: Callable[..., object]) -> Callable[..., object]:
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        bound = _bound_signal(callback)
        probe = _probe_for(bound) if bound is not None else None
        # A signal itself (`connect(obj.done)`, as Qt connects signals) is
        # emitted: calling it raises "native Qt signal is not callable".
        wrap = probe is not None or bound is callback
        self._callbacks.append(_SignalTarget(callback, probe) if wrap else callback)
        return callback

    def disconnect(self, callback: Callable[..., object] | None = None) -> None:
        if callback is None:
            self._callbacks.clear()
        else:
            self._callbacks.remove(callback)

    @property
    def connected(self) -> bool:
        return bool(self._callbacks)

    def emit(self, *args: object) -> None:
        """Call every callback (in the calling thread: the hub's, the GUI)."""
        for callback in list(self._callbacks):
            if _receiver_deleted(callback):
                _debug(f"dropped {self.name} for a deleted receiver {callback!r}")
                continue
            try:
                callback(*args)
            except RuntimeError as exc:
                if "has been deleted" in str(exc):
                    _debug(f"dropped {self.name}: {exc}")
                    continue
                sys.excepthook(type(exc), exc, exc.__traceback__)
            except Exception as exc:  # noqa: BLE001 - a callback's bug is reported
                sys.excepthook(type(exc), exc, exc.__traceback__)


_sip: Any = None


class _SignalTarget:
    """A Qt signal (or its ``emit``) connected as a callback.

    PyQt6 crashes (SIGSEGV) emitting a signal whose QObject has been deleted,
    and such a callback's ``__self__`` is the signal, not its QObject.  A
    private probe signal connected to it tells: Qt removes that connection
    when the signal's QObject is destroyed."""

    __slots__ = ("_call", "_probe", "callback")

    def __init__(self, callback: Callable[..., object], probe: Any) -> None:
        self.callback = callback
        self._probe = probe        # None: a signature no probe can be made for
        is_signal = _bound_signal(callback) is callback
        self._call = callback.emit if is_signal else callback  # type: ignore[attr-defined]

    def __call__(self, *args: object) -> object:
        return self._call(*args)

    def __eq__(self, other: object) -> bool:
        return other is self or bool(self.callback == other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self.callback)

    def receiver_deleted(self) -> bool:
        probe = self._probe
        if probe is None:
            return False
        from PyQt6 import sip

        if sip.isdeleted(probe):
            # Deleted with its QApplication (PyQt6 deletes the QObjects
            # Python made without a parent then): so were the app's, and
            # asking the probe would raise into the event's delivery.
            return True
        return probe.receivers(probe.fire) == 0


_probe_classes: dict[tuple[str, ...], Any] = {}


def _bound_signal(callback: object) -> Any:
    """The pyqtBoundSignal *callback* is or emits, else None."""
    qtcore = sys.modules.get("PyQt6.QtCore")
    cls = getattr(qtcore, "pyqtBoundSignal", None)
    if cls is None:
        return None
    if isinstance(callback, cls):
        return callback
    owner = getattr(callback, "__self__", None)
    return owner if isinstance(owner, cls) else None


def _signal_types(signature: str) -> tuple[str, ...]:
    """``"2name(int,QList<QPair<int,int>>)"`` -> ``("int", "QList<QPair<int,int>>")``."""
    inner = signature[signature.index("(") + 1:signature.rindex(")")]
    types, depth, start = [], 0, 0
    for index, char in enumerate(inner):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "," and depth == 0:
            types.append(inner[start:index].strip())
            start = index + 1
    if inner.strip():
        types.append(inner[start:].strip())
    return tuple(types)


def _probe_for(bound: Any) -> Any:
    """A QObject whose ``fire`` signal is connected to *bound*; None when that
    cannot be made (then the callback is called as it is)."""
    try:
        qtcore = sys.modules["PyQt6.QtCore"]
        types = _signal_types(bound.signal)
        cls = _probe_classes.get(types)
        if cls is None:
            cls = type("_SignalProbe", (qtcore.QObject,), {"fire": qtcore.pyqtSignal(*types)})
            _probe_classes[types] = cls
        probe = cls()
        probe.fire.connect(bound)
        app = qtcore.QCoreApplication.instance()
        if app is not None and probe.thread() is not app.thread():
            probe.moveToThread(app.thread())
        return probe
    except Exception:  # noqa: BLE001 - an unusual signature: no probe, as before
        return None


def _receiver_deleted(callback: object) -> bool:
    global _sip
    if type(callback) is _SignalTarget:
        return callback.receiver_deleted()
    owner = getattr(callback, "__self__", None)
    if owner is None:
        return False
    if _sip is None:
        from PyQt6 import sip as _sip_module

        _sip = _sip_module
    return isinstance(owner, _sip.simplewrapper) and bool(_sip.isdeleted(owner))


def _debug(text: str) -> None:
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("pyqtguard.workers").debug(text)


# ---- the hub: one QObject in the GUI thread -----------------------------------

_hub: Any = None
_hub_lock = renewed_in_fork_children(threading.Lock())
# (target, events) posted and not yet delivered, in posting order.
_queue: deque[tuple[Any, tuple]] = deque()
# True from a wake-up's posting to the start of its delivery: a post while
# it is True rides with that delivery instead of posting another Qt event.
_armed = False
_wake: Any = None
_hub_app = guithread.AppMark()      # the QCoreApplication hub() saw last


def _make_hub(qtcore: Any, app: Any) -> Any:
    class _Hub(qtcore.QObject):  # type: ignore[misc,name-defined]
        wake = qtcore.pyqtSignal()

        def __init__(self) -> None:
            super().__init__()
            self.wake.connect(self._deliver,
                              qt_enum(qtcore, "ConnectionType").QueuedConnection)

        # A slot of the hub's own, not a Python callable: PyQt calls a plain
        # callable through a proxy QObject made in the connecting thread,
        # which moveToThread() below leaves behind - the first worker made
        # off the GUI thread (inside another worker, a plain thread) had its
        # events queued to that thread, which runs no loop: none delivered.
        @qtcore.pyqtSlot()
        def _deliver(self) -> None:
            deliver_queued()

    hub = _Hub()
    if hub.thread() is not app.thread():
        hub.moveToThread(app.thread())
    # Owned by C++, kept for the process's life: PyQt6 deletes the
    # Python-owned QObjects without a parent with the QApplication, and
    # `_wake` (emit of a deleted object) would then crash the next app's
    # first worker.  It lives in the GUI thread, whichever app runs there.
    from PyQt6 import sip

    sip.transferto(hub, None)
    return hub


def hub() -> Any:
    """The hub, made in the GUI thread; RuntimeError without a QApplication."""
    global _hub, _wake
    qtcore = sys.modules.get("PyQt6.QtCore")
    app = qtcore.QCoreApplication.instance() if qtcore is not None else None
    if app is None:
        raise RuntimeError("pyqtguard workers need a QApplication: create it before "
                           "starting a worker")
    if _hub_app.changed(app):
        _wake_lost()
    if _hub is not None:
        return _hub                      # the fast path: one per worker
    with _hub_lock:
        if _hub is None:
            made = _make_hub(qtcore, app)
            _wake = made.wake.emit       # one bound signal, not one per post
            _hub = made
        return _hub


def _wake_lost() -> None:
    """A new QCoreApplication: a wake-up posted under the one before was
    thrown away with it (Qt deletes the GUI thread's posted events with its
    application), and ``_armed`` left True would hold back every later one:
    no worker event delivered again.  Wake the hub again for what waits."""
    global _armed
    _armed = False
    if _queue and _wake is not None:
        _armed = True
        _wake()


def post(worker: object, event: str, payload: object = None) -> None:
    """Queue *event* of *worker* for delivery in the GUI thread."""
    post_many(worker, ((event, payload),))


def post_many(worker: object, events: tuple) -> None:
    """Queue several events in one hop (delivered in order)."""
    global _armed
    # Append first, then look at _armed (both atomic under the GIL): either
    # the delivery that clears _armed runs after this append and takes it,
    # or this post sees _armed cleared and wakes the hub itself.
    _queue.append((worker, events))
    if not _armed:
        _armed = True
        try:
            _wake()
        except BaseException:
            _armed = False               # the next post tries again
            raise


def deliver_queued() -> None:
    """Deliver what is queued now (in the GUI thread, from the hub's wake-up).

    What is posted meanwhile waits for the next event-loop turn (its post
    woke the hub again), so a flood of results never starves painting."""
    global _armed
    _armed = False
    popleft = _queue.popleft
    for _ in range(len(_queue)):
        try:
            target, events = popleft()
        except IndexError:
            return                       # a nested event loop delivered them
        try:
            target._deliver_batch(events)   # a worker, a future, or a GUI call
        except BaseException as exc:  # noqa: BLE001 - the next targets still get theirs
            sys.excepthook(type(exc), exc, exc.__traceback__)


class EventSlot:
    """Class attribute that makes the instance's :class:`Event` on first use,
    so a worker pays only for the events something listens to."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        event = instance.__dict__.get(self.name)
        if event is None:
            event = instance.__dict__[self.name] = Event(self.name)
        return event


def listened(instance: object, name: str) -> bool:
    event = instance.__dict__.get(name)
    return event is not None and event.connected
