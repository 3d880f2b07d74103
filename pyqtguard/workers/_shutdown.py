"""One shutdown path for workers: cancel all, wait while the GUI paints,
report the ones that do not stop - and return within the timeout.

``app.quit()`` (aboutToQuit), a window's close (:class:`ShutdownOnClose` or
:func:`shutdown_on_close`) and interpreter exit all lead here.
"""
from __future__ import annotations

import math
import sys
import threading
import time

from ..qt import guithread
from ..qt.enums import qt_enum
from . import _worker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_TIMEOUT = 5.0
_app_connected = guithread.AppMark()     # the app whose aboutToQuit is connected


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    try:
        seconds = float(timeout)
    except OverflowError:
        seconds = math.inf
    # Not NaN and not infinite: shutdown must return (it never hangs).
    if not 0 <= seconds < math.inf:
        raise ValueError(f"timeout must be a finite number of seconds >= 0, not {timeout!r:.40}")
    return seconds


def shutdown(timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Cancel every worker and wait up to *timeout* seconds for them to end,
    processing events meanwhile (the GUI keeps painting).  Workers still
    running then are logged by name with their stacks.  Returns their names
    (empty: all ended).  New workers cannot start afterwards.  Called off
    the GUI thread it waits in the calling thread, processing no events.

    Example::

        def closeEvent(self, event):
            pyqtguard.shutdown(timeout=3)
            event.accept()
    """
    return _shutdown(_check_timeout(timeout), again=True)


def _shutdown(timeout: float, again: bool) -> list[str]:
    """shutdown(); *again* False (pyqtguard's own later shutdowns: aboutToQuit,
    interpreter exit): a worker an earlier shutdown gave up on and reported
    is neither waited for nor reported again - a request that never answers
    cost 5 s and a second report at each of them, within the exit deadline."""
    _worker.stop_accepting()
    workers = _worker.active_workers()
    if not again:
        workers = [w for w in workers if not w._given_up]
    for worker in workers:
        worker.cancel()
    # Called from a worker: that one is cancelled too, but not waited for
    # (it cannot end while it waits here) nor reported as a straggler.
    here = threading.get_native_id()
    workers = [w for w in workers if not (w._status == "running" and w._native_id == here)]
    qtcore = sys.modules.get("PyQt6.QtCore")
    app = qtcore.QCoreApplication.instance() if qtcore is not None else None
    if app is not None and qtcore.QThread.currentThread() is not app.thread():
        # Another thread (a worker, a plain thread): the GUI thread goes on
        # painting by itself, and Qt refuses an event filter on the app from
        # here ("Cannot filter events for objects in a different thread").
        app = None
    if app is None or not workers:
        _wait(workers, timeout, None, None)
    else:
        held = _QuitHeldBack.over(app, qtcore)
        try:
            _wait(workers, timeout, app, qtcore)
        finally:
            held.release()
    stragglers = [w for w in workers if w._status != "done"]
    if stragglers:
        _report(stragglers, timeout)
        for worker in stragglers:
            worker._given_up = True
    return [w.name for w in stragglers]


def _wait(workers: list[_worker.Worker], timeout: float, app: Any, qtcore: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(w._status == "done" for w in workers):
            break
        if app is not None:
            app.processEvents(qtcore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
    if app is not None:                      # deliver the last events
        app.processEvents()


class _QuitHeldBack:
    """Holds back the application's Quit events while shutdown() processes
    events, and posts one again afterwards.

    Why: Qt marks aboutToQuit as emitted only after the signal returns, and
    the last window's close has posted a Quit event by then.  Delivered while
    shutdown() waits inside aboutToQuit, that event quit again and emitted
    aboutToQuit a second time: the app's own slots ran twice.  Elsewhere a
    quit() from a slot run meanwhile waits until the workers are stopped,
    then happens as it would have.
    """

    _filter_class: Any = None

    def __init__(self, app: Any, qtcore: Any, event_filter: Any) -> None:
        self._app, self._qtcore, self._filter = app, qtcore, event_filter

    @classmethod
    def over(cls, app: Any, qtcore: Any) -> _QuitHeldBack:
        if cls._filter_class is None:        # built on first use: no cost at import
            quit_type = _quit_event_type(qtcore)

            class QuitFilter(qtcore.QObject):
                held = False

                def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802
                    if event.type() == quit_type:
                        self.held = True
                        return True
                    return False

            cls._filter_class = QuitFilter
        event_filter = cls._filter_class()
        app.installEventFilter(event_filter)
        return cls(app, qtcore, event_filter)

    def release(self) -> None:
        self._app.removeEventFilter(self._filter)
        if self._filter.held:
            qtcore = self._qtcore
            qtcore.QCoreApplication.postEvent(self._app, qtcore.QEvent(_quit_event_type(qtcore)))


def _quit_event_type(qtcore: Any) -> Any:
    """``QEvent.Type.Quit``.  PyQt6 6.4 does not name it (its QEvent.Type has
    no ``Quit`` member: AttributeError in every shutdown with an application);
    Qt's value, 20, is the same in every Qt 6, and the enum takes it."""
    event_type = qtcore.QEvent.Type
    return getattr(event_type, "Quit", None) or event_type(20)


def _report(workers: list[_worker.Worker], timeout: float) -> None:
    from .. import logs as logfile
    from ..registry.listing import python_stack

    lines = [f"pyqtguard: shutdown: {len(workers)} worker(s) did not stop within "
             f"{timeout:g} s of being cancelled:"]
    for worker in workers:
        stack = python_stack(worker._native_id) or "  (no stack)\n"
        lines.append(f"worker {worker.name!r} ({worker._status}), most recent call last:\n{stack}")
    logfile.log_event("\n".join(lines).rstrip())


def connect_app_quit(app: Any) -> None:
    """app.aboutToQuit -> shutdown (once per application); called by the
    first worker started under *app*."""
    if app is not None and _app_connected.changed(app):
        # Direct: aboutToQuit is emitted in the application's thread.  A
        # plain function is called through a proxy QObject PyQt makes in the
        # connecting thread - a worker's, a plain thread's, when the app's
        # first worker starts there - and an automatic connection queued
        # the call to that thread, which runs no loop: workers were left
        # running at quit (and the app's destructor waited for them).
        qtcore = sys.modules["PyQt6.QtCore"]
        app.aboutToQuit.connect(_on_about_to_quit,
                                qt_enum(qtcore, "ConnectionType").DirectConnection)


def _on_about_to_quit() -> None:
    if _worker.active_workers():
        _shutdown(DEFAULT_TIMEOUT, again=False)


def shutdown_on_close(window: Any, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Make closing *window* run :func:`shutdown` (one line, any widget) - after
    the window's own ``closeEvent``, and only if that accepted the close.

    Example::

        pyqtguard.workers.shutdown_on_close(main_window, timeout=3)
    """
    timeout = _check_timeout(timeout)
    original = window.closeEvent

    def closeEvent(event: Any) -> None:  # noqa: N802 - Qt's name
        original(event)
        if event.isAccepted():           # "Unsaved changes: Cancel" keeps the workers
            shutdown(timeout)

    window.closeEvent = closeEvent


class ShutdownOnClose:
    """Mixin for a QWidget/QMainWindow: closing it shuts workers down, once
    the classes after it in the MRO have accepted the close.

    Example::

        class MainWindow(pyqtguard.workers.ShutdownOnClose, QMainWindow):
            shutdown_timeout = 3.0
    """

    shutdown_timeout: float = DEFAULT_TIMEOUT

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().closeEvent(event)  # type: ignore[misc]
        if event.isAccepted():           # a refused close keeps the workers
            shutdown(self.shutdown_timeout)


def _at_exit() -> None:
    if _worker.active_workers():
        _shutdown(DEFAULT_TIMEOUT, again=False)


__import__("atexit").register(_at_exit)
_worker.when_app_seen(connect_app_quit)
