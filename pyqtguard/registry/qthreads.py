"""QThread tracking, loaded when the app first uses QThread.

``QThread.start`` is wrapped (see :mod:`pyqtguard.registry.tracking` for when).
Each started QThread

- is named in the C thread table (its ``objectName()``, else its class
  name) while it runs;
- is kept alive by pyqtguard until it has finished: a QThread that loses its
  last Python reference while running no longer aborts the process with
  "QThread: Destroyed while thread is still running"; that it happened is
  logged with the start site.  The moment the last reference goes is seen
  exactly: QThread gets a finalizer (``__del__``, :func:`_on_last_reference`)
  that keeps the thread (resurrects it) if it has not ended yet, and reports
  it only if it was still running then (``isRunning()``, false from the
  moment ``finished`` is emitted: what ``~QThread`` aborts on), so a thread
  dropped after its ``finished`` signal is no loss;
- at interpreter exit is asked to stop (``requestInterruption()`` and
  ``quit()``) and waited for within the shutdown deadline (:func:`stop_all`);
  one that does not stop is reported by name and kept alive until the
  process ends, instead of Qt's bare abort.  When the event loop ends it is
  left alone (the app may still use it: save through it, let it finish a
  job, run a second loop), unless a parent owns it and that parent is
  destroyed first (:func:`stop_with_parent`): Qt would delete it with the
  parent while it runs.

In a ``fork()`` child the parent's QThreads are not there (a fork copies the
forking thread alone), though Qt still says they run: they are marked
``not_here``, never waited for nor reported, only kept from Qt's abort.
"""
from __future__ import annotations

import _thread
import os
import sys
import time
import weakref

from .. import _native
from .. import logs as logfile
from ..qt import guithread
from ..qt.enums import qt_enum
from . import (KIND_QTHREAD, forking_native_id, register_current, renewed_in_fork_children,
               start_site, unregister_current)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: start-up cost
    from collections.abc import Callable
    from typing import Any


class _QThreadRecord:
    __slots__ = ("ref", "kept", "name", "started", "site", "native_id", "finished", "lost",
                 "given_up", "not_here")

    def __init__(self, thread: Any, site: str | None) -> None:
        # The app's references keep the thread alive; pyqtguard's own is weak
        # until the last of the app's goes before the thread has ended (then
        # ``kept`` holds it, see _on_last_reference).
        self.ref: Any = _weak_or_strong(thread)
        self.kept: Any = None
        self.name = thread.objectName() or type(thread).__name__
        self.started = time.time()
        self.site = site
        self.native_id: int | None = None
        self.finished = False
        self.lost = False               # dropped by the app while it ran
        self.given_up = False           # did not stop when asked: kept to the end
        self.not_here = False           # a fork child's: the parent's thread (_forked)

    @property
    def thread(self) -> Any:
        return self.kept if self.kept is not None else self.ref()


def _weak_or_strong(thread: Any) -> Any:
    """A weak reference; or, for a class whose own ``__del__`` hides
    pyqtguard's (the last reference cannot be seen), a strong one (a
    callable returning the thread): kept alive to the end, judged at
    ``finished``."""
    if getattr(type(thread), "__del__", None) is _on_last_reference:
        try:
            return weakref.ref(thread)
        except TypeError:
            pass
    return lambda: thread


_records: dict[int, _QThreadRecord] = {}       # id(QThread) -> record, while running
_lock = renewed_in_fork_children(_thread.allocate_lock())
# QThreads that have pyqtguard's started/finished slots -> the two
# connections (kept here, not as an attribute of the app's object: its
# __setattr__ and vars() are the app's).  Disconnected by these handles:
# by the slot's name, Qt looks it up in the receiver's QMetaObject, which
# PyQt no longer gives at interpreter exit ("No such slot
# QObject::finished()"), and the slot stayed connected (see detach_at_exit).
_connected: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()
_original_qthread_start: Any = None      # callable as start(thread, *args, **kwargs)
_original_start_descriptor: Any = None   # what QThread's dict held
_original_qthread_terminate: Any = None  # callable as terminate(thread)
_original_terminate_descriptor: Any = None
_qtcore: Any = sys.modules.get("PyQt6.QtCore")
def _forked() -> None:
    """In a fork child: only the forking thread was copied.  The parent's
    other QThreads are not here, though Qt says they run (its state is
    copied): the child's exit asked them to stop, waited for them to its
    deadline and logged "did not stop when asked" as the child's.  Marked
    not here instead (no lock: the child has this one thread), and the
    forking thread's own record (a QThread that forks) takes its new id.
    A record whose native id was not known yet (its started slot had not
    run) counts as another thread's."""
    forker = forking_native_id()
    for record in list(_records.values()):
        if forker is not None and record.native_id == forker:
            record.native_id = _thread.get_native_id()
        else:
            record.not_here = True


if hasattr(os, "register_at_fork"):      # not on Windows
    os.register_at_fork(after_in_child=_forked)


def _on_started() -> None:
    """QThread.started, direct connection: runs in the new thread."""
    thread = _qtcore.QThread.currentThread()
    record = _records.get(id(thread))
    if record is None:
        return
    record.name = thread.objectName() or type(thread).__name__
    record.native_id = _thread.get_native_id()
    register_current(record.name, KIND_QTHREAD, record.site)


def _on_finished() -> None:
    """QThread.finished, direct connection: runs in the finishing thread.

    pyqtguard's hold (if the app dropped the thread) must not end here: the
    QThread would be destroyed inside its own finished signal.  The GUI
    thread ends it instead (_release)."""
    unregister_current()
    thread = _qtcore.QThread.currentThread()
    record = _records.get(id(thread))
    if record is not None:
        if not isinstance(record.ref, weakref.ref):
            # No finalizer to tell: nobody but pyqtguard holds it now (left:
            # `thread`, the hold, getrefcount's argument).  The app may have
            # let go after `finished` began: a report may be wrong, never missing.
            record.lost = record.lost or (sys.getrefcount(thread) <= 3
                                          and sys.modules["PyQt6.sip"].ispyowned(thread))
        record.finished = True
        key = id(thread)
        guithread.post_to_gui_thread(lambda: _release(key))


def _on_last_reference(thread: Any) -> None:
    """QThread's ``__del__``: the app let go of a thread.

    CPython calls a finalizer when the last reference goes, before the
    object is freed (sip would destroy the C++ QThread then), and does not
    free an object the finalizer made reachable again (PEP 442).  A started
    thread that has not ended is kept: one still running would abort
    ("Destroyed while thread is still running"); one inside its finish would
    make ~QThread wait for it here, holding the GIL its `finished` slots may
    want.  Only the first is a loss to report.  A finalizer runs once per
    object: _release frees the thread later without a second call."""
    try:
        record = _records.get(id(thread))
        # The garbage collector clears weak references to a cycle before it
        # calls the cycle's finalizers: a dead reference is this thread's
        # (another object with its id would have a record of its own once
        # started; unstarted, it has ended below).
        if record is None or record.kept is not None:
            return
        held = record.ref()
        if held is not None and held is not thread:
            return
        if not sys.modules["PyQt6.sip"].ispyowned(thread):
            return             # C++ owns it (a parent, transferto): nothing is destroyed
        running = thread.isRunning()
        if not running and _ended(thread, record.native_id):
            return             # Qt destroys it, as it would without pyqtguard
        # No lock: a finalizer may run (by a garbage collection) inside a
        # `with _lock:` block of this very thread; two stores under the GIL.
        record.kept = thread
        record.lost = record.lost or running
    except Exception:  # noqa: BLE001 - a finalizer must not raise; Qt decides
        pass


def _ended(thread: Any, native_id: int | None = None) -> bool:
    """*thread* is finished and out of its finish (``finished`` emitted to
    every slot).  Asked from the thread itself it is not (wait() would warn
    "Thread tried to wait on itself").

    *native_id*: the thread's, if known (its record's).  Another than the
    caller's answers "not the thread itself" without
    ``QThread.currentThread()``, which in the GUI thread makes (and drops)
    a wrapper of the main thread's QThread at each call unless the app
    keeps one: a third of this finalizer's cost."""
    if (native_id is None or native_id == _thread.get_native_id()) \
            and thread is _qtcore.QThread.currentThread():
        return False
    return bool(thread.wait(0))


def _release(key: int) -> None:
    """In the GUI thread, after `finished`: pyqtguard lets go of the thread."""
    with _lock:
        record = _records.get(key)
        if record is None or not record.finished:
            return
        del _records[key]
        thread, record.kept = record.thread, None
    if thread is None:
        return
    # Deleted already: Qt destroyed it (a deleteLater connected to its
    # `finished` - a use_qthread worker's - can run before this), and
    # ~QThread waited for its end.
    if not sys.modules["PyQt6.sip"].isdeleted(thread) \
            and not thread.wait(2000):   # finished was emitted: the end is near
        _native.keep_until_exit(thread)
    if record.lost:
        logfile.log_event(f"pyqtguard: QThread {record.name!r} (started at {record.site or '?'}) lost "
             "its last Python reference while running; it was kept alive until it "
             "finished (without pyqtguard: 'QThread: Destroyed while thread is still "
             "running' and an abort)", report=True)


def _start_qthread(self: Any, *args: Any, **kwargs: Any) -> None:
    key = id(self)
    if not _finalizer_set:
        _set_finalizer()
    with _lock:
        record = _records.get(key)
        fresh = record is None or record.thread is not self
        if fresh:
            record = _QThreadRecord(self, start_site())
            _records[key] = record
        record.finished = False
        record.native_id = None
    connect_slots(self)
    before = _thread_ids_unless_running(self)
    _original_qthread_start(self, *args, **kwargs)   # start(priority=...)
    if before is not None:
        _take_native_id(record, before)


def connect_slots(thread: Any) -> None:
    """Connect pyqtguard's started/finished slots to *thread*, once.  At its
    first start(), or (``check_threads=True``) as it is made: a slot runs
    after those connected before it, and the app's on ``started`` - the
    worker's ``run`` - would run before the thread is recorded and checked."""
    try:
        if thread in _connected:
            return
    except TypeError:                   # no weak references: tracking degrades
        return
    try:
        receiver = _receiver()
        direct = qt_enum(_qtcore, "ConnectionType").DirectConnection
        _connected[thread] = (thread.started.connect(receiver.started, direct),
                              thread.finished.connect(receiver.finished, direct))
    except Exception:  # noqa: BLE001 - tracking degrades, the start must not
        pass


_slots: Any = None      # the one QObject whose slots every QThread's signals call


def _receiver() -> Any:
    """The QObject whose ``started`` and ``finished`` slots call
    :func:`_on_started` and :func:`_on_finished`, made at the first start.

    A signal connected to a plain Python function makes PyQt build a proxy
    QObject for that one connection - its own QMetaObject included - and
    delete it with the thread: about 45,000 instructions for each of the
    two, at every QThread's first start.  Connected to a decorated slot of
    a QObject, it is Qt's own connection.  Direct connections: the slots
    run in the thread that emits, whichever thread this object belongs to.
    C++ owns it (``transferto``): never destroyed, not even by the
    interpreter's last clean-up while a QThread still runs."""
    global _slots
    if _slots is None:
        class _QThreadSlots(_qtcore.QObject):  # type: ignore[name-defined,misc]
            @_qtcore.pyqtSlot()
            def started(self) -> None:
                _on_started()

            @_qtcore.pyqtSlot()
            def finished(self) -> None:
                _on_finished()

        slots = _QThreadSlots()
        sys.modules["PyQt6.sip"].transferto(slots, None)
        _slots = slots
    return _slots


def _terminate_qthread(self: Any) -> None:
    """QThread.terminate(): pyqtguard's slots come off the thread first, and
    its `finished` work is done in the thread the QThread object belongs to.

    A thread terminated inside a Python call - its run() in a sleep, a wait
    or its event loop, or a slot - leaves that call's thread state behind,
    its C frames on a stack that is gone, and Qt emits ``finished`` in that
    thread as it ends.  A Python slot run there (PyQt takes that thread
    state again) reads the dead frames: on Qt 6.4, which emits it from
    inside the cancellation's unwinding, the app crashed with SIGSEGV in
    pyqtguard's `finished` slot where without pyqtguard it went on; later
    Qt emits it once the stack is unwound and the read happens to find what
    it needs.  So no Python of pyqtguard's runs in a terminated thread."""
    try:
        if self in _connected and self.isRunning():
            _detach(self)
            thread_ref = weakref.ref(self)

            def finished_after_terminate() -> None:
                thread = thread_ref()
                if thread is not None:
                    try:
                        thread.finished.disconnect(finished_after_terminate)
                    except (TypeError, RuntimeError):
                        pass
                    _after_terminate(thread)

            self.finished.connect(finished_after_terminate,
                                  qt_enum(_qtcore, "ConnectionType").QueuedConnection)
    except Exception:  # noqa: BLE001 - tracking degrades, the terminate must not
        pass
    _original_qthread_terminate(self)


def _after_terminate(thread: Any) -> None:
    """What _on_finished does, for a terminated thread, from outside it (a
    queued slot: in the GUI thread, as a rule)."""
    record = _records.get(id(thread))
    if record is None or record.thread is not thread:
        return
    if record.native_id:
        _native.thread_unregister(record.native_id)
    record.finished = True
    _release(id(thread))


def _detach(thread: Any) -> None:
    """Take pyqtguard's started/finished slots off *thread*."""
    try:
        connections = _connected.pop(thread, ())
    except TypeError:                   # no weak references: never connected
        return
    for connection in connections:
        try:
            _qtcore.QObject.disconnect(connection)
        except (TypeError, RuntimeError):   # disconnected, or the object is gone
            pass


_finalizer_set = False


def _set_finalizer() -> None:
    """QThread.__del__ = _on_last_reference, unless QThread has one.  Set at
    the first start(): on the class (not its dictionary) so that CPython
    updates the slot of QThread and of every subclass."""
    global _finalizer_set
    _finalizer_set = True
    if "__del__" not in _native.type_dict(_qtcore.QThread):
        _qtcore.QThread.__del__ = _on_last_reference


def _thread_ids_unless_running(thread: Any) -> set[int] | None:
    """The OS threads now, if *thread* is about to get one of its own."""
    try:
        return None if thread.isRunning() else set(_native.os_thread_ids())
    except (OSError, NotImplementedError, RuntimeError):
        return None


def _take_native_id(record: _QThreadRecord, before: set[int]) -> None:
    """The new QThread's native id: the thread that start() created.

    Our started slot cannot be relied on for it: it runs after the slots the
    app connected to ``started`` before ``start()`` - in the worker pattern
    (``thread.started.connect(worker.run)``) only once the work is done - so
    the registry and the exit report would not know the thread while it
    works.  Another thread started meanwhile makes it ambiguous: then the
    started slot tells, later."""
    try:
        new = set(_native.os_thread_ids()) - before
    except (OSError, NotImplementedError):
        return
    if len(new) == 1 and record.native_id is None:
        record.native_id = new.pop()


def running_by_native_id() -> dict[int, tuple[str, float | None, str | None]]:
    """native id -> (name, start time, start site) of running QThreads."""
    return {r.native_id: (r.name, r.started, r.site)
            for r in list(_records.values()) if r.native_id and not r.finished
            and not r.not_here}


def running() -> list[_QThreadRecord]:
    return [r for r in list(_records.values())
            if r.thread is not None and not r.finished and not r.not_here
            and _is_running(r.thread)]


def _is_running(thread: Any) -> bool:
    try:
        return bool(thread.isRunning())
    except RuntimeError:           # its C++ object is gone (deleted by its parent)
        return False


def stop_all(deadline: float, records: list[_QThreadRecord] | None = None
             ) -> list[_QThreadRecord]:
    """Ask every running QThread (or those of *records*) to stop; wait until
    *deadline* (time.monotonic()); return the ones still running, kept alive
    for good.  A fork child's records of the parent's threads (``not_here``)
    are only kept alive: nothing there to ask or wait for, nothing to report."""
    if records is None:
        records = running() + [r for r in list(_records.values())
                               if r.not_here and r.thread is not None]
    for record in [r for r in records if r.not_here and not r.given_up]:
        if _is_running(record.thread):       # Qt's copied state: it would abort
            _keep_to_the_end(record)
    still = [r for r in records if not r.given_up and not r.not_here]
    # The thread running this - a QThread whose run() raised SystemExit
    # (PyQt6 ends the interpreter there) - cannot wait for itself: it is
    # exiting, not refusing to stop.  Kept alive (Qt would abort deleting it
    # running), neither asked nor waited for nor reported.
    here = _thread.get_native_id()
    for record in [r for r in still if r.native_id == here]:
        still.remove(record)
        _keep_to_the_end(record)
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
        _keep_to_the_end(record)
    return stubborn


def _keep_to_the_end(record: _QThreadRecord) -> None:
    record.given_up = True
    try:
        # A parent (a window) would delete it with itself; no parent and
        # a reference nobody releases: it is never destroyed while running.
        if record.thread.parent() is not None:
            record.thread.setParent(None)
    except RuntimeError:
        pass
    _native.keep_until_exit(record.thread)


# (weak reference to a parent, the slot on its destroyed signal, ids of the
# records of its threads) for each watch of stop_with_parent.
_parent_watches: list[tuple[Any, Any, set[int]]] = []


def stop_with_parent(stop: Callable[[list[_QThreadRecord]], None]) -> None:
    """At the event loop's end: call ``stop(records)`` for the running
    QThreads that a parent owns, all at once, when that parent is destroyed
    (the window of a ``main()`` that returned, PyQt's clean-up at exit) -
    before Qt deletes them with it.

    The parent's ``destroyed`` is emitted before its children are deleted;
    only weak references to the parents are kept, so none lives longer."""
    watched = set().union(*(keys for _, _, keys in _parent_watches))
    owned: dict[int, tuple[Any, list[_QThreadRecord]]] = {}
    for record in running():
        if id(record) in watched:
            continue
        try:
            parent = record.thread.parent()
        except RuntimeError:                # its C++ object is gone already
            continue
        if parent is not None:
            owned.setdefault(id(parent), (parent, []))[1].append(record)
    for parent, records in owned.values():

        def parent_going(*_args: object, records: list[_QThreadRecord] = records) -> None:
            going = [r for r in records if not r.finished and r.thread is not None
                     and _is_running(r.thread)]
            if going:
                stop(going)

        try:
            parent.destroyed.connect(parent_going,
                                     qt_enum(_qtcore, "ConnectionType").DirectConnection)
        except (RuntimeError, TypeError):   # its C++ object is gone already
            continue
        _parent_watches.append((weakref.ref(parent), parent_going,
                                {id(record) for record in records}))


def unwatch_parents() -> None:
    """Disconnect what :func:`stop_with_parent` connected (at exit, before
    the teardown deletes the parents; at uninstall)."""
    watches, _parent_watches[:] = list(_parent_watches), []
    for parent_ref, slot, _ in watches:
        parent = parent_ref()
        if parent is None:
            continue
        try:
            parent.destroyed.disconnect(slot)
        except (TypeError, RuntimeError):   # disconnected, or the object is gone
            pass


def detach_at_exit() -> None:
    """Take our Python slots off the QThreads still running at interpreter
    exit (from pyqtguard's exit handler, before the interpreter finalizes).

    On 3.11-3.13 a thread that wants the GIL once the interpreter finalizes
    is ended with pthread_exit(): a forced unwind, whose clean-up emits
    QThread.finished in that thread.  A Python slot connected directly would
    want the GIL again, inside the unwind - a second pthread_exit there makes
    C++ call std::terminate: the abort pyqtguard is there to prevent."""
    for record in running():
        _detach(record.thread)


def _take_original_start(descriptor: Any) -> bool:
    """Remember QThread's own start; False if there is nothing to wrap."""
    global _original_qthread_start, _original_start_descriptor
    if descriptor is None or descriptor is _start_qthread or _original_start_descriptor is not None:
        return False
    _original_start_descriptor = descriptor
    _original_qthread_start = descriptor.__get__(None, _qtcore.QThread)
    return True


def _take_original_terminate(descriptor: Any) -> bool:
    """Remember QThread's own terminate; False if there is nothing to wrap."""
    global _original_qthread_terminate, _original_terminate_descriptor
    if (descriptor is None or descriptor is _terminate_qthread
            or _original_terminate_descriptor is not None):
        return False
    _original_terminate_descriptor = descriptor
    _original_qthread_terminate = descriptor.__get__(None, _qtcore.QThread)
    return True


def wrap_start_in(type_dict: dict[str, Any]) -> None:
    """Called while sip creates QThread's attributes: only the dictionary
    is touched here (an attribute access on QThread now would recurse).
    Wraps start and terminate."""
    if _take_original_start(type_dict.get("start")):
        type_dict["start"] = _start_qthread
    if _take_original_terminate(type_dict.get("terminate")):
        type_dict["terminate"] = _terminate_qthread


def wrap_start_now(cls: Any) -> None:
    """QThread's attributes exist already (or sip cannot call back)."""
    cls.start                                     # noqa: B018 - completes the class
    if _take_original_start(_native.type_dict(cls).get("start")):
        cls.start = _start_qthread
    if _take_original_terminate(_native.type_dict(cls).get("terminate")):
        cls.terminate = _terminate_qthread


def unwrap_start() -> None:
    global _original_qthread_start, _original_start_descriptor, _finalizer_set
    global _original_qthread_terminate, _original_terminate_descriptor
    if _original_start_descriptor is not None and _qtcore is not None:
        _qtcore.QThread.start = _original_start_descriptor
    if _original_terminate_descriptor is not None and _qtcore is not None:
        _qtcore.QThread.terminate = _original_terminate_descriptor
    if _finalizer_set and _qtcore is not None:
        if _native.type_dict(_qtcore.QThread).get("__del__") is _on_last_reference:
            del _qtcore.QThread.__del__   # threads kept now stay kept to their end
        _finalizer_set = False
    _original_qthread_start = None
    _original_start_descriptor = None
    _original_qthread_terminate = None
    _original_terminate_descriptor = None
