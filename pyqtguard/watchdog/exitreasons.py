"""Why an exit is held: the sentence the exit timeout report ends with
(:mod:`pyqtguard.watchdog.exit`), for the usual causes - the main thread
waiting for non-daemon threads, Qt's thread pool waiting for its tasks (also
a count a fork child copied without the threads), a thread other than the
main one exiting the interpreter.  Loaded only when that report is written.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_KIND_LABELS = {"qthread": "QThread", "pool": "pool thread"}


def thread_label(kind: str, name: str) -> str:
    """``QThread 'name'``, ``pool thread 'name'`` or ``thread 'name'``."""
    return f"{_KIND_LABELS.get(kind, 'thread')} {printable_name(name)!r}"


def printable_name(name: str) -> str:
    """*name* as the thread table prints it (no line breaks or controls)."""
    from ..registry.listing import _printable

    return _printable(name)


def why_held(infos: list[Any], began_in: tuple[int, str, str] | None, *,
             pool_busy_in_fork_child: int = 0) -> str:
    """The sentence a user needs when the main thread is in
    ``threading._shutdown`` (Python waits for every non-daemon thread), or
    runs no Python code while pool threads run theirs (QApplication's
    destructor waits for Qt's thread pool) - or when another thread than
    the main one exits the interpreter and waits so."""
    if began_in is not None:
        exiting = next((t for t in infos if t.native_id == began_in[0]), None)
        if exiting is not None:
            return _why_the_exiting_thread_waits(exiting, infos)
    main = next((t for t in infos if t.kind == "main"), None)
    if main is not None and not (main.stack or "").strip():
        return _why_main_waits_for_the_pool(infos, pool_busy_in_fork_child)
    if main is None or not _in_threading_shutdown(main.stack):
        return ""
    names = [repr(t.name) for t in infos if t.kind == "python" and t.daemon is False]
    if not names:
        return ""
    which = _listed(names, "thread", "threads")
    return (f"\nMainThread is waiting for the non-daemon {which} to end: Python does "
            "not exit before every non-daemon thread has returned.  Tell "
            f"{'it' if len(names) == 1 else 'them'} to stop when the window closes "
            "(a flag or a threading.Event), or start "
            f"{'it' if len(names) == 1 else 'them'} with daemon=True.\n")


def _listed(names: list[str], one: str, many: str) -> str:
    """``thread 'a'``, or ``threads 'a', 'b' and 'c'``."""
    if len(names) == 1:
        return f"{one} {names[0]}"
    return f"{many} {', '.join(names[:-1])} and {names[-1]}"


def _in_threading_shutdown(stack: str | None) -> bool:
    """The stack's innermost frame is ``threading._shutdown``: Python waits
    there for every non-daemon thread before it exits."""
    last = (stack or "").rstrip().splitlines()[-2:]
    return bool(last and "threading.py" in last[0] and last[0].endswith(", in _shutdown"))


def _why_the_exiting_thread_waits(exiting: Any, infos: list[Any]) -> str:
    """The thread that began the shutdown is not the main one and has not
    ended: in ``threading._shutdown`` it waits for the non-daemon threads -
    MainThread, still in its event loop, among them; with no Python frame,
    a pool thread waits in QApplication's destructor (PyQt6's clean-up, run
    in the exiting thread) for Qt's thread pool, its own task included."""
    who = thread_label(exiting.kind, exiting.name)
    advice = ("sys.exit() outside the GUI thread exits the interpreter from there while "
              "the GUI thread runs on: have that thread ask the GUI thread to quit instead "
              "(a signal connected to QApplication.quit, or QMetaObject.invokeMethod).")
    if _in_threading_shutdown(exiting.stack):
        names = [repr(printable_name(t.name)) for t in infos if t.daemon is False
                 and t.kind in ("main", "python") and t.native_id != exiting.native_id]
        if not names:
            return ""
        which = _listed(names, "thread", "threads")
        return (f"\n{who} is exiting the interpreter and waits for the non-daemon {which} "
                f"to end: Python does not exit before every non-daemon thread has "
                f"returned.  {advice}\n")
    if exiting.kind == "pool" and not (exiting.stack or "").strip():
        return (f"\n{who} is exiting the interpreter (a SystemExit raised in a pool task: "
                f"PyQt6 then ends the interpreter there) "
                f"and runs no Python code: there, PyQt6's clean-up destroys the "
                f"QApplication, whose destructor waits for Qt's thread pool to be done - "
                f"for that thread's own task too, which cannot end.  {advice}\n")
    return ""


def _why_main_waits_for_the_pool(infos: list[Any], pool_busy_in_fork_child: int) -> str:
    """MainThread has no Python frame left (the interpreter is exiting: PyQt6
    destroys the QApplication from atexit), and pool threads still run
    Python code: QCoreApplication's destructor waits for the global
    QThreadPool to be done."""
    names = [repr(t.name) for t in infos if t.kind == "pool" and (t.stack or "").strip()]
    if not names:
        return _why_a_fork_child_waits_for_the_pool(infos, pool_busy_in_fork_child)
    which = _listed(names, "pool thread", "pool threads") + (
        " still runs its task" if len(names) == 1 else " still run their tasks")
    return (f"\nMainThread runs no Python code: the interpreter is exiting, and "
            f"QApplication's destructor waits for Qt's thread pool "
            f"(QThreadPool.globalInstance(): QRunnables, pyqtguard workers), where "
            f"{which} (stack above).  Make such a task return when the app quits: "
            f"a cancel flag it checks, a timeout on its blocking calls.\n")


def _why_a_fork_child_waits_for_the_pool(infos: list[Any], busy: int) -> str:
    """A fork child whose parent's global QThreadPool ran tasks at the fork,
    with no pool thread of its own: QCoreApplication's destructor waits for
    the busy threads the pool's copied count says it has."""
    if not busy or any(t.kind == "pool" for t in infos):
        return ""
    tasks = f"{busy} task{'s' if busy != 1 else ''}"
    return ("\nMainThread runs no Python code: the interpreter is exiting, and "
            "QApplication's destructor waits for Qt's thread pool, whose count of busy "
            f"threads this fork child copied from its parent ({tasks} running at the "
            "fork) - a fork copies only the thread that forks, so those never end here.  "
            "End a fork child with os._exit(), or fork before starting pool tasks (or "
            "use multiprocessing's spawn start method).\n")
