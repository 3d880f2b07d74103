"""Loops in the application's place: the GUI thread runs no loop yet, and a
dialog's (``sys.exit(dialog.exec())``, ``wizard.exec()``,
``QMessageBox.question(...)`` first and last) or a ``QEventLoop``'s starts -
small tools, installers and wizards whose only loop that is.  The listeners
registered with ``top_level=True`` (freeze watch, Ctrl+C, queued reports)
hear it as they hear ``app.exec()``.

The calls that run such a loop are wrapped: ``QDialog.exec`` (every dialog
class inherits it), ``QEventLoop.exec`` and the static helpers whose loop
starts in C++ (``QMessageBox.question``..., out of reach of a wrapper of the
loop itself).  This module is loaded when sip first completes one of those
classes (:func:`pyqtguard.qt._attach_loop_starters`): an app that never
touches a dialog never loads it.  Nested in a running loop the wrappers only
call on.  The face hands its ``top_level_loop`` over (this module does not
import it back).

Example (what the face does when sip completes QMessageBox)::

    toplevel.wrap(QtWidgets.QMessageBox, type_dict, top_level_loop)
"""
from __future__ import annotations

import sys

from .. import _native
from ..registry import in_main_thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# Class name -> (static?, the names that run a loop).
STARTERS = {
    "QEventLoop": (False, ("exec",)),
    "QDialog": (False, ("exec",)),
    "QMessageBox": (True, ("question", "information", "warning", "critical", "about",
                           "aboutQt")),
    "QFileDialog": (True, ("getOpenFileName", "getOpenFileNames", "getSaveFileName",
                           "getExistingDirectory", "getOpenFileUrl", "getOpenFileUrls",
                           "getSaveFileUrl", "getExistingDirectoryUrl")),
    "QInputDialog": (True, ("getText", "getMultiLineText", "getInt", "getDouble", "getItem")),
    "QColorDialog": (True, ("getColor",)),
    "QFontDialog": (True, ("getFont",)),
}

# (class, name) -> (the original descriptor, what pyqtguard put in its place)
_wrapped: dict[tuple[Any, str], tuple[Any, Any]] = {}
# While a loop in the application's place runs: the QEventLoop running it
# when the app started one itself, else True (a dialog's); None otherwise.
running: Any = None
# While one runs: the objects whose exec() runs a loop in the GUI thread, that
# one's first, then those nested in it (a QEventLoop, a QDialog; None for a
# static helper's own dialog).
loops: list[Any] = []


def quit() -> bool:  # noqa: A001
    """End a top-level ``QEventLoop.exec()`` (a dialog's loop ends with its
    window: close that); False if none runs."""
    if running is not None and running is not True:
        running.quit()
        return True
    return False


def end_loops() -> None:
    """End the loop in the application's place and every loop nested in it,
    innermost first (a signal handler raised during them: its exception
    comes out of the outermost).  A dialog ends as ``done(Rejected)`` ends
    it - QDialog's own, whatever a subclass made of ``done``/``reject``."""
    qtcore = sys.modules.get("PyQt6.QtCore")
    qtwidgets = sys.modules.get("PyQt6.QtWidgets")
    for target in reversed(loops):
        if qtcore is not None and isinstance(target, qtcore.QEventLoop):
            target.quit()
            continue
        if target is None and qtwidgets is not None:        # a static helper's dialog
            target = qtwidgets.QApplication.activeModalWidget()
        if qtwidgets is not None and isinstance(target, qtwidgets.QDialog):
            qtwidgets.QDialog.done(target, qtwidgets.QDialog.DialogCode.Rejected)


def __tracebackhide__(excinfo: Any) -> bool:
    """pytest: this module's frames are hidden from the exception pyqtguard
    raises out of a loop on purpose (see ``pyqtguard.qt.__tracebackhide__``)."""
    face = sys.modules.get(__name__.rpartition(".")[0])
    return face is not None and face.__tracebackhide__(excinfo)


def close_windows(app: Any) -> None:
    """Close every window, as ``quit()`` does before ending ``app.exec()``
    (which it does not do outside it, in Qt 6; and ``exit()`` would make
    every later loop end at once): their ``closeEvent`` runs, a dialog's
    loop ends with its window."""
    qtwidgets = sys.modules.get("PyQt6.QtWidgets")
    qtgui = sys.modules.get("PyQt6.QtGui")
    if qtwidgets is not None and isinstance(app, qtwidgets.QApplication):
        qtwidgets.QApplication.closeAllWindows()
    elif qtgui is not None and isinstance(app, qtgui.QGuiApplication):
        for window in qtgui.QGuiApplication.topLevelWindows():
            window.close()


def _starter(cls: Any, name: str, static: bool, descriptor: Any,
             top_level_loop: Callable[[bool], bool]) -> Any:
    """The wrapper of *cls*.*name*: when the GUI thread runs no loop yet,
    the loop this call runs is watched as the application's would be;
    nested in another loop, it only calls on."""
    key = (cls, name)
    original = descriptor.__get__(None, cls)
    is_loop = name == "exec" and not static

    def run(*args: Any, **kwargs: Any) -> Any:
        global running
        qtcore = sys.modules.get("PyQt6.QtCore")
        if (_wrapped.get(key, (None, None))[1] is not placed   # unwrapped since
                or qtcore is None or qtcore.QCoreApplication.instance() is None
                or not in_main_thread()):              # another thread's loop
            return original(*args, **kwargs)
        # Set before the listeners run (they ask in_top_level_loop()); put
        # back at once when this call is nested in a running loop (the GUI
        # thread's own: no other thread touches it).
        outer = running
        target = args[0] if is_loop and args else None
        running = target if isinstance(target, qtcore.QEventLoop) else True
        entered = False
        try:
            entered = top_level_loop(True)
        finally:
            if not entered:
                running = outer
        if not entered:
            if outer is None:                   # in app.exec(): nothing to keep
                return original(*args, **kwargs)
            loops.append(target)
            try:
                return original(*args, **kwargs)
            finally:
                loops.pop()
        loops[:] = [target]
        try:
            return original(*args, **kwargs)
        finally:
            loops.clear()
            try:
                top_level_loop(False)
            finally:
                running = None

    # type.__getattribute__: while sip completes the class (when this runs),
    # cls.__name__ would go through sip's getattr and complete it again.
    run.__name__ = name
    run.__qualname__ = f"{type.__getattribute__(cls, '__name__')}.{name}"
    run.__doc__ = getattr(original, "__doc__", None)
    placed = staticmethod(run) if static else run
    return placed


def wrap(cls: Any, type_dict: dict[str, Any] | None,
         top_level_loop: Callable[[bool], bool]) -> None:
    """Wrap *cls*'s starters: in *type_dict* while sip completes the class
    (an attribute access now would recurse), else on the class."""
    static, names = STARTERS[type.__getattribute__(cls, "__name__")]
    if type_dict is None:
        getattr(cls, names[0])                    # noqa: B018 - completes the class
    own = type_dict if type_dict is not None else _native.type_dict(cls)
    for name in names:
        descriptor = own.get(name)
        if descriptor is None or (cls, name) in _wrapped:
            continue
        placed = _starter(cls, name, static, descriptor, top_level_loop)
        _wrapped[(cls, name)] = (descriptor, placed)
        if type_dict is not None:
            type_dict[name] = placed
        else:
            setattr(cls, name, placed)


def unwrap() -> None:
    """Put the originals back where pyqtguard's wrapper is still in place (a
    tool's wrapper put over it since stays; ours, inside it, goes inert)."""
    for (cls, name), (original, placed) in list(_wrapped.items()):
        if _native.type_dict(cls).get(name) is placed:
            setattr(cls, name, original)
    _wrapped.clear()
