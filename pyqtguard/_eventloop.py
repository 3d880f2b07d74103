"""Know when the Qt application's event loop starts and ends.

``QCoreApplication.exec``, ``QGuiApplication.exec`` and ``QApplication.exec``
are wrapped (each when its module is imported) so that listeners run just
before the main event loop starts and right after it ends.  Freeze detection
starts with the loop; bounded shutdown begins when it ends.
"""
from __future__ import annotations

from . import _qtattach

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_APP_CLASSES = {
    "PyQt6.QtCore": "QCoreApplication",
    "PyQt6.QtGui": "QGuiApplication",
    "PyQt6.QtWidgets": "QApplication",
}
_started: list[Callable[[], None]] = []
_ended: list[Callable[[], None]] = []
_originals: dict[Any, Any] = {}
_depth = 0


def on_loop_started(callback: Callable[[], None]) -> None:
    if callback not in _started:
        _started.append(callback)


def on_loop_ended(callback: Callable[[], None]) -> None:
    if callback not in _ended:
        _ended.append(callback)


def _notify(callbacks: list[Callable[[], None]]) -> None:
    for callback in list(callbacks):
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - never break the app's exec()
            from ._warn import warn_once

            warn_once(f"eventloop:{callback!r}", f"pyqtguard: {callback!r} failed: {exc!r}")


def _wrap(cls: Any) -> None:
    descriptor = cls.__dict__.get("exec")
    if descriptor is None or cls in _originals:
        return
    original = getattr(cls, "exec")      # the static method, callable

    def exec() -> int:  # noqa: A001 - the name PyQt6 uses
        global _depth
        _depth += 1
        if _depth == 1:
            _notify(_started)
        try:
            return original()  # type: ignore[no-any-return]
        finally:
            _depth -= 1
            if _depth == 0:
                _notify(_ended)

    exec.__doc__ = getattr(original, "__doc__", None)
    _originals[cls] = descriptor
    cls.exec = staticmethod(exec)


def _attach(module: Any) -> None:
    cls = getattr(module, _APP_CLASSES[module.__name__], None)
    if cls is not None:
        _wrap(cls)


def install(config: object = None) -> None:
    for name in _APP_CLASSES:
        _qtattach.when_imported(name, _attach)


def uninstall() -> None:
    for cls, original in list(_originals.items()):
        cls.exec = original
    _originals.clear()
