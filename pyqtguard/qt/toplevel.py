"""Loops in the application's place: the GUI thread runs no loop yet, and a
dialog's (``sys.exit(dialog.exec())``, ``wizard.exec()``,
``QMessageBox.question(...)`` first and last) or a ``QEventLoop``'s starts -
small tools, installers and wizards whose only loop that is.  The listeners
registered with ``top_level=True`` (freeze watch, Ctrl+C, queued reports)
hear it as they hear ``app.exec()``.

The calls that run such a loop are wrapped: ``QDialog.exec`` (every dialog
class inherits it), ``QEventLoop.exec``, the ``exec()`` of ``QMenu``,
``QDrag``, ``QPrintDialog`` and ``QPageSetupDialog`` (their own, not
QDialog's) and the static helpers whose loop starts in C++
(``QMessageBox.question``..., out of reach of a wrapper of the loop
itself).  This module is loaded when sip first completes one of those
classes (:func:`pyqtguard.qt._attach_loop_starters`): an app that never
touches one of them never loads it.  Nested in a running loop the
wrappers only call on.  The face hands its ``top_level_loop`` over (this
module does not import it back).

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
    # An exec() of their own, not QDialog's: a popup menu's, a drag's loop
    # (Qt's QSimpleDrag, X11's; offscreen's drag runs none), a print dialog's.
    "QMenu": (False, ("exec",)),
    "QDrag": (False, ("exec",)),
    "QPrintDialog": (False, ("exec",)),
    "QPageSetupDialog": (False, ("exec",)),
}
# The classes whose object ends the loop its exec() runs (quit()).
_ENDED_BY_OBJECT = ("QEventLoop", "QDrag")

# (class, name) -> (the original descriptor, what pyqtguard put in its place)
_wrapped: dict[tuple[Any, str], tuple[Any, Any]] = {}
# While a loop in the application's place runs: the QEventLoop or QDrag
# running it, else True (a dialog's, a menu's); None otherwise.
running: Any = None
# While one runs: the objects whose exec() runs a loop in the GUI thread, that
# one's first, then those nested in it (a QEventLoop, a QDialog; None for a
# static helper's own dialog).
loops: list[Any] = []


def quit() -> bool:  # noqa: A001
    """End a top-level ``QEventLoop.exec()`` or drag (a dialog's or a menu's
    loop ends with its window: close that); False if none runs."""
    return running is not None and running is not True and _end_by_object(running)


def _end_by_object(target: Any) -> bool:
    """End the loop of a ``QEventLoop`` (``quit()``) or a drag
    (``QDrag.cancel()``: static, the drag running); False for any other."""
    qtcore = sys.modules.get("PyQt6.QtCore")
    qtgui = sys.modules.get("PyQt6.QtGui")
    if qtcore is not None and isinstance(target, qtcore.QEventLoop):
        target.quit()
        return True
    if qtgui is not None and isinstance(target, qtgui.QDrag):
        qtgui.QDrag.cancel()
        return True
    return False


def end_loops() -> None:
    """End the loop in the application's place and every loop nested in it,
    innermost first (a signal handler raised during them: its exception
    comes out of the outermost).  A dialog ends as ``done(Rejected)`` ends
    it - QDialog's own, whatever a subclass made of ``done``/``reject``."""
    qtwidgets = sys.modules.get("PyQt6.QtWidgets")
    for target in reversed(loops):
        if _end_by_object(target):
            continue
        if target is None and qtwidgets is not None:        # a static helper's dialog
            target = qtwidgets.QApplication.activeModalWidget()
        if qtwidgets is not None and isinstance(target, qtwidgets.QDialog):
            qtwidgets.QDialog.done(target, qtwidgets.QDialog.DialogCode.Rejected)
        elif qtwidgets is not None and isinstance(target, qtwidgets.QMenu):
            target.close()


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
        for _ in range(_BOXES_ENDED_AT_MOST):
            qtwidgets.QApplication.closeAllWindows()
            if not end_box_without_escape():
                break
    elif qtgui is not None and isinstance(app, qtgui.QGuiApplication):
        for window in qtgui.QGuiApplication.topLevelWindows():
            window.close()


# Boxes ended one after another by one signal, at most (a box whose end
# shows another, again and again, is the app's loop, not a close).
_BOXES_ENDED_AT_MOST = 16


def end_box_without_escape() -> bool:
    """After a close of every window that did not go through: if the window
    that stopped it is a ``QMessageBox`` with no escape button, ``reject()``
    it (True; the caller closes again).  Qt ignores the close of such a box
    - two No buttons, or custom ones, none of them the obvious "cancel" -
    by its own rule (``QMessageBox.closeEvent``), not because the app said
    no: ``reject()`` is what ``QDialog.closeEvent`` does, and the call that
    runs the box returns as after Escape (``exec()`` 0, the static helpers
    ``NoButton``).  A box whose class overrides ``closeEvent`` refused on
    the app's behalf, and is left open, as any window that refuses.

    The stopper is the first window still shown in the order Qt closes them
    (``QApplicationPrivate::tryCloseAllWidgetWindows``): the active modal
    one, else the first top-level one shown."""
    qtwidgets = sys.modules.get("PyQt6.QtWidgets")
    if qtwidgets is None:
        return False
    qt = sys.modules["PyQt6.QtCore"].Qt
    stopper = qtwidgets.QApplication.activeModalWidget()
    if stopper is None or not stopper.isVisible():
        stopper = next((widget for widget in qtwidgets.QApplication.topLevelWidgets()
                        if widget.isVisible() and widget.windowType() != qt.WindowType.Desktop
                        and not widget.testAttribute(qt.WidgetAttribute.WA_DontShowOnScreen)),
                       None)
    box = qtwidgets.QMessageBox
    if not isinstance(stopper, box):
        return False
    getattr(box, "closeEvent")                   # noqa: B009 - completes the class
    for klass in type(stopper).__mro__:
        if "closeEvent" in _native.type_dict(klass):
            if klass is not box:
                return False                     # the app's closeEvent said no
            break
    stopper.reject()
    return True


def _starter(cls: Any, name: str, static: bool, descriptor: Any,
             top_level_loop: Callable[[bool], bool]) -> Any:
    """The wrapper of *cls*.*name*: when the GUI thread runs no loop yet,
    the loop this call runs is watched as the application's would be;
    nested in another loop, it only calls on."""
    key = (cls, name)
    original = descriptor.__get__(None, cls)
    ended_by_object = type.__getattribute__(cls, "__name__") in _ENDED_BY_OBJECT

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
        # The object whose exec() this is (None: a static helper's dialog,
        # QMenu.exec(actions, pos)).
        target = args[0] if args and isinstance(args[0], cls) else None
        running = target if ended_by_object and target is not None else True
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
