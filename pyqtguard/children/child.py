"""Guard a spawn/forkserver child while it re-imports the main module.

Imported first thing in children started by a guarded parent (see
:mod:`pyqtguard.children.parent`).  While multiprocessing bootstraps the child -
re-running the main module as ``__mp_main__`` - building a
QApplication/QGuiApplication/QCoreApplication, starting a process or
running a Python subprocess is refused before any window can appear: the
child writes a message naming the file and line, the path there from the main
module, and the fix (:mod:`pyqtguard.children.site`), and exits.
Once bootstrapping is over (the child runs its target), nothing is refused.

Kept small: nothing here imports Qt; the application classes are patched
only if and when the child imports PyQt6.
"""
from __future__ import annotations

import os
import sys

from .. import qt as qt_attach

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

EXIT_STATUS_REFUSED = 3
_APP_CLASSES = {
    "PyQt6.QtCore": "QCoreApplication", "PyQt6.QtGui": "QGuiApplication",
    "PyQt6.QtWidgets": "QApplication", "PyQt5.QtCore": "QCoreApplication",
    "PyQt5.QtGui": "QGuiApplication", "PyQt5.QtWidgets": "QApplication",
}
_FIXES = {
    "app": ("app = QApplication(sys.argv)\n        window = MainWindow()\n"
            "        window.show()\n        sys.exit(app.exec())"),
    "process": ("multiprocessing.freeze_support()\n"
                "        with multiprocessing.Pool() as pool:\n            ..."),
}


def bootstrapping() -> bool:
    """True while multiprocessing re-imports the main module in this child."""
    process = sys.modules.get("multiprocessing.process")
    return bool(process is not None
                and getattr(process.current_process(), "_inheriting", False))


def refuse(what: str, fix: str, kind: str = "", error: BaseException | None = None) -> None:
    """Report and end this child; never returns.  The message names the
    app's line that did it and the path there from the main module
    (:mod:`pyqtguard.children.site`); *kind* (``"app"``, ``"process"``,
    ``"raise"``) chooses the advice.  With *error*, the line is where that
    exception was raised (its traceback), and *fix* may be empty: the main
    module's line is the one to move."""
    try:
        from .site import app_code_chain, error_chain, message as compose, source_line

        if error is not None:
            chain = error_chain(error.__traceback__)
            fix = fix or source_line(chain.links[0])
        else:
            chain = app_code_chain(sys._getframe(1))
        message = compose(what, kind, fix, chain)
    except Exception:  # noqa: BLE001 - the child must still refuse and tell
        message = f"pyqtguard: {what} while this child process starts.\n"
    if not _tell_parent(message):
        try:
            os.write(2, message.encode("utf-8", "replace"))
        except OSError:
            pass
    os._exit(EXIT_STATUS_REFUSED)


def _tell_parent(message: str) -> bool:
    """Append to the guarded parent's report file; it prints the message
    once, however many children (a Pool respawns them) refuse.  False when
    there is no parent to tell."""
    report = os.environ.get("PYQTGUARD_CHILD_REPORT")
    if not report:
        return False
    try:
        if os.path.getsize(report) > 0:
            return True                   # an earlier child already said it
    except OSError:
        return True                       # gone: the parent has told and ended
    try:
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(report, flags)
        try:
            os.write(fd, (message + "\n\n\x1e").encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except OSError:
        return False
    return True


def _guard_app_class(module: object) -> None:
    cls = getattr(module, _APP_CLASSES[module.__name__], None)  # type: ignore[attr-defined]
    if cls is None or "__init__" in cls.__dict__ and getattr(
            cls.__dict__["__init__"], "_pyqtguard", False):
        return
    original = cls.__init__
    name = cls.__name__

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        if bootstrapping():
            refuse(f"builds a {name}", _FIXES["app"], "app")
        original(self, *args, **kwargs)

    __init__._pyqtguard = True  # type: ignore[attr-defined]
    cls.__init__ = __init__


def _guard_process_starts(spawn: object) -> None:
    original = spawn._check_not_importing_main  # type: ignore[attr-defined]

    def _check_not_importing_main() -> None:
        if bootstrapping():
            refuse("starts a process", _FIXES["process"], "process")
        original()

    spawn._check_not_importing_main = _check_not_importing_main  # type: ignore[attr-defined]
    for name in ("_fixup_main_from_path", "_fixup_main_from_name"):
        if hasattr(spawn, name):
            setattr(spawn, name, refusing_when_main_raises(getattr(spawn, name)))


def refusing_when_main_raises(rerun: Any) -> Any:
    """The re-run of the main module raising (``set_start_method`` at its
    top level: "context has already been set", argparse's SystemExit, ...)
    is refused too: the child would die before its target, and a Pool would
    respawn it forever."""

    def guarded(*args: object, **kwargs: object) -> object:
        try:
            return rerun(*args, **kwargs)
        except (Exception, SystemExit) as error:
            text = str(error).strip().splitlines()
            detail = f": {text[0][:200]}" if text else ""
            refuse(f"raises {type(error).__name__}{detail}", "", "raise", error)
            raise                                       # not reached

    guarded._pyqtguard = True  # type: ignore[attr-defined]
    return guarded


def _refuse_python_subprocess(event: str, args: tuple) -> None:
    if not bootstrapping():
        return
    text = " ".join(str(a) for a in args[:2])
    if sys.executable and sys.executable in text:
        refuse("starts a Python subprocess", "subprocess.run([sys.executable, ...])")


_worker_options: dict[str, object] = {}
_warned_by_app: list[str] = []
_forkserver_pid = 0


def in_forkserver() -> None:
    """Called by the guard's prefix in a forkserver, before its ``main()``.
    A forkserver runs no task: it forks the workers.  From 3.14 it imports
    the main module itself (its preload; 3.11-3.13 passed it no main path,
    and each forked worker re-ran the main module), so an ``install()`` at
    the main module's top level runs here: :func:`is_forkserver` makes it
    do nothing, and each worker the forkserver forks installs once
    prepared (:func:`install_when_prepared`), with a log of its own, as
    with ``spawn``.  By pid: a forked worker inherits this module."""
    global _forkserver_pid
    _forkserver_pid = os.getpid()


def is_forkserver() -> bool:
    """True in a guarded forkserver itself (not in the workers it forks)."""
    return _forkserver_pid == os.getpid()


def install_when_prepared(options: dict[str, object], warned: Sequence[str] = ()) -> None:
    """Install pyqtguard with the app's *options* (see
    :func:`pyqtguard.children.parent.worker_options`) once multiprocessing
    has prepared this worker - re-run the main module - if that re-run did
    not install it: the app calls install() under ``if __name__ ==
    "__main__":`` or runs under ``pyqtguard run``.  The worker then has a
    log of its own (``pyqtguard-worker-...``) and a crash in it is reported
    there, not only as a ``BrokenProcessPool`` in the app.  *warned*: the
    keys of the warnings the app gave already, not given again here."""
    _worker_options.clear()
    _worker_options.update(options)
    _warned_by_app[:] = warned
    qt_attach.when_imported("multiprocessing.spawn", _install_after_prepare)


def _install_after_prepare(spawn: Any) -> None:
    original = spawn.prepare

    def prepare(*args: object, **kwargs: object) -> object:
        result = original(*args, **kwargs)
        _install_in_worker()
        return result

    prepare._pyqtguard = True  # type: ignore[attr-defined]
    spawn.prepare = prepare


def _install_in_worker() -> None:
    config = sys.modules.get("pyqtguard.config")
    if config is not None and config.installed_config() is not None:
        return                        # the main module's re-run installed it
    try:
        import pyqtguard
        from .. import logs

        logs.already_warned(_warned_by_app)
        pyqtguard.install(**_worker_options)
    except Exception as exc:  # noqa: BLE001 - the guard must never break a child
        try:
            os.write(2, f"pyqtguard: this worker is not guarded: {exc!r}\n".encode(
                "utf-8", "replace"))
        except OSError:
            pass


def _install() -> None:
    os.environ["PYQTGUARD_IN_CHILD"] = "1"
    for name in _APP_CLASSES:
        qt_attach.when_imported(name, _guard_app_class)
    qt_attach.when_imported("multiprocessing.spawn", _guard_process_starts)
    try:
        from . import parent

        parent.install_in_child()
    except Exception:  # noqa: BLE001 - the guard must never break a child
        pass
    try:
        from .. import _native

        _native.process_audit(_refuse_python_subprocess)
    except Exception:  # noqa: BLE001 - the guard must never break a child
        pass


_install()
