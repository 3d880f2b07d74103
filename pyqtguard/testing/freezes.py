"""GUI freezes during a test: the GUI thread blocked while an event loop ran.

In a test, the GUI thread runs test code most of the time, and that is no
freeze: only while an event loop runs (``QEventLoop.exec``, which
pytest-qt's ``waitSignal``/``wait`` use, ``QCoreApplication.exec``,
``QTest.qWait``) is a slot that blocks it one.  So those are wrapped while
the plugin is active, and pyqtguard's freeze watch
(:mod:`pyqtguard.watchdog.freeze`) runs inside them with the test's budget;
freezes it sees are collected for the running test.

Example::

    watch = FreezeWatch()
    watch.attach()                 # once Qt is imported
    watch.budget_ms = 500          # per test
    ...
    events = watch.take()          # FreezeEvents seen since the last take()
"""
from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def __tracebackhide__(excinfo: Any) -> bool:
    """pytest: the wrapper's frame is hidden from the exception pyqtguard
    raises out of a loop on purpose (see ``pyqtguard.qt.__tracebackhide__``)."""
    face = sys.modules.get("pyqtguard.qt")
    return face is not None and face.__tracebackhide__(excinfo)


class FreezeWatch:
    """Arms pyqtguard's freeze detection inside a test's event loops."""

    def __init__(self) -> None:
        self.budget_ms = 0
        self._events: list[Any] = []
        self._lock = threading.Lock()
        self._depth = 0
        self._originals: list[tuple[Any, str, Any]] = []
        self._subscribed = False
        # The Qt modules attach() last wrapped for (None: wrap again): each
        # test calls it, and looking the exec methods up costs ~20 us.
        self._attached_to: tuple[Any, ...] | None = None

    # ---- what the freeze watch reports ----
    def _on_freeze(self, event: Any) -> None:
        with self._lock:
            self._events.append(event)

    def take(self) -> list[Any]:
        """The freezes seen since the last call."""
        with self._lock:
            events, self._events = self._events, []
        return events

    # ---- arming around event loops ----
    def _enter(self) -> None:
        self._depth += 1
        if self._depth == 1 and self.budget_ms > 0:
            from ..watchdog import freeze

            freeze.start_watch(self.budget_ms)

    def _leave(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            from ..watchdog import freeze

            freeze.stop_watch()

    def _wrapped(self, original: Any) -> Any:
        watch = self

        def run_watched(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                return original(*args, **kwargs)
            watch._enter()
            try:
                return original(*args, **kwargs)
            finally:
                watch._leave()

        run_watched.__doc__ = getattr(original, "__doc__", None)
        return run_watched

    def _is_ours(self, descriptor: Any) -> bool:
        func = getattr(descriptor, "__func__", descriptor)
        return getattr(func, "_pyqtguard_freeze_watch", None) is self

    def _wrap(self, owner: Any, name: str, static: bool) -> None:
        descriptor = owner.__dict__.get(name)
        if descriptor is None or self._is_ours(descriptor):
            return
        # Not (or no longer: pyqtguard.uninstall() puts the application's
        # exec back) wrapped: wrap what is there now; detach() restores it.
        original = getattr(owner, name)
        wrapped = self._wrapped(original)
        wrapped._pyqtguard_freeze_watch = self  # type: ignore[attr-defined]
        setattr(owner, name, staticmethod(wrapped) if static else wrapped)
        self._originals = [entry for entry in self._originals
                           if not (entry[0] is owner and entry[1] == name)]
        self._originals.append((owner, name, descriptor))

    def attach(self) -> None:
        """Wrap the event loops a test may run and subscribe to freeze
        reports; again for modules imported since (``PyQt6.QtTest``) and
        for an ``exec`` unwrapped since."""
        import pyqtguard

        modules = sys.modules
        qtcore = modules.get("PyQt6.QtCore")
        if qtcore is None:
            return
        attached_to = (qtcore, modules.get("PyQt6.QtGui"), modules.get("PyQt6.QtWidgets"),
                       modules.get("PyQt6.QtTest"))
        if attached_to == self._attached_to:
            return                             # nothing imported or unwrapped since
        self._attached_to = attached_to
        if not self._subscribed:
            pyqtguard.on_freeze(self._on_freeze)
            self._subscribed = True
        self._wrap(qtcore.QEventLoop, "exec", static=False)
        # Each application class has its own static exec (qapp.exec() is
        # QApplication.exec, not QCoreApplication.exec).
        self._wrap(qtcore.QCoreApplication, "exec", static=True)
        qtgui = modules.get("PyQt6.QtGui")
        if qtgui is not None:
            self._wrap(qtgui.QGuiApplication, "exec", static=True)
        qtwidgets = modules.get("PyQt6.QtWidgets")
        if qtwidgets is not None:
            self._wrap(qtwidgets.QApplication, "exec", static=True)
        qttest = modules.get("PyQt6.QtTest")
        if qttest is not None:
            self._wrap(qttest.QTest, "qWait", static=True)

    def invalidate(self) -> None:
        """Wrap again at the next :meth:`attach`: pyqtguard was installed
        again, after an ``uninstall()`` that put the application's ``exec``
        back."""
        self._attached_to = None

    def detach(self) -> None:
        """Put the originals back."""
        import pyqtguard

        if self._subscribed:
            pyqtguard.remove_freeze_callback(self._on_freeze)
            self._subscribed = False
        for owner, name, descriptor in reversed(self._originals):
            if self._is_ours(owner.__dict__.get(name)):
                setattr(owner, name, descriptor)
        self._originals.clear()
        self._attached_to = None
