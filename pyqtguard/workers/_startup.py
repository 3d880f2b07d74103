"""Staged start-up: a splash first, heavy steps next, the main window last,
each on its own event-loop turn so the splash paints in between.

    >>> startup = StagedStartup(splash=QSplashScreen(QPixmap("splash.png")))
    >>> startup.step("loading plugins", load_plugins)
    >>> startup.step("opening the last project", open_last_project)
    >>> startup.window(MainWindow)          # built and shown last
    >>> startup.start()
    >>> sys.exit(app.exec())

An exception in a step is reported (pyqtguard's exception hook, the run log)
and the remaining steps still run; if the window factory itself fails, the
splash is closed so the app is not left with a splash and nothing else.
``splash.finish(window)`` is called only when there is a splash.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class StagedStartup:
    """Start-up steps run in order on successive event-loop turns."""

    def __init__(self, splash: Any = None) -> None:
        self.splash = splash
        self.steps: list[tuple[str, Callable[[], object]]] = []
        self.failed: list[tuple[str, BaseException]] = []
        self.main_window: Any = None
        self._window_factory: Callable[[], Any] | None = None
        self._started = False
        self._done_callbacks: list[Callable[[Any], object]] = []

    def step(self, label: str, func: Callable[[], object]) -> StagedStartup:
        if not callable(func):
            raise TypeError(f"func must be callable, not {type(func).__name__}")
        self.steps.append((str(label), func))
        return self

    def window(self, factory: Callable[[], Any]) -> StagedStartup:
        """The main window's factory (a class or function), built last."""
        if not callable(factory):
            raise TypeError(f"factory must be callable, not {type(factory).__name__}")
        self._window_factory = factory
        return self

    def on_done(self, callback: Callable[[Any], object]) -> StagedStartup:
        """``callback(main_window)`` once start-up is over (None if it failed)."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        self._done_callbacks.append(callback)
        return self

    def start(self) -> None:
        """Run the steps from the next event-loop turn on.  In the GUI thread,
        once the QApplication exists (RuntimeError otherwise)."""
        qtcore = sys.modules.get("PyQt6.QtCore")
        if qtcore is None or qtcore.QCoreApplication.instance() is None:
            raise RuntimeError("StagedStartup needs a QApplication: create it first")
        if qtcore.QThread.currentThread() is not qtcore.QCoreApplication.instance().thread():
            # Its timer would belong to this thread, which runs no loop of
            # the app's: the steps would never run.
            raise RuntimeError("StagedStartup.start() must be called in the GUI thread")
        if self._started:
            raise RuntimeError("start-up was already started")
        self._started = True
        if self.splash is not None:
            self.splash.show()
        qtcore.QTimer.singleShot(0, lambda: self._run(0))

    def _live_splash(self) -> Any:
        """The splash, or None once it has been deleted (closed with
        WA_DeleteOnClose, deleted by a step): start-up goes on without it."""
        splash = self.splash
        if splash is not None:
            from PyQt6 import sip

            if isinstance(splash, sip.simplewrapper) and sip.isdeleted(splash):
                return None
        return splash

    def _message(self, text: str) -> None:
        splash = self._live_splash()
        if splash is not None and hasattr(splash, "showMessage"):
            splash.showMessage(text)

    def _run(self, index: int) -> None:
        qtcore = sys.modules["PyQt6.QtCore"]
        if index < len(self.steps):
            label, func = self.steps[index]
            self._message(label)
            try:
                func()
            except Exception as exc:  # noqa: BLE001 - reported; later steps still run
                self.failed.append((label, exc))
                sys.excepthook(type(exc), exc, exc.__traceback__)
            qtcore.QTimer.singleShot(0, lambda: self._run(index + 1))
            return
        self._finish()

    def _finish(self) -> None:
        window = None
        if self._window_factory is not None:
            try:
                window = self._window_factory()
                window.show()
            except Exception as exc:  # noqa: BLE001
                self.failed.append(("main window", exc))
                sys.excepthook(type(exc), exc, exc.__traceback__)
                window = None
        splash = self._live_splash()
        if splash is not None:
            if window is not None:
                splash.finish(window)
            else:
                splash.close()
        self.main_window = window
        for callback in self._done_callbacks:
            callback(window)
