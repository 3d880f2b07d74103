"""Guard a frozen app's spawn children (PyInstaller, cx_Freeze and the like).

A frozen app's spawn child is the app's executable again, started as
``app --multiprocessing-fork tracker_fd=N pipe_handle=M`` (POSIX) or
``app.exe --multiprocessing-fork parent_pid=P pipe_handle=H`` (Windows)
(``multiprocessing.spawn.get_command_line`` when ``sys.frozen``).  There is no
``-c`` program to put the guard in front of, and the child runs the app's
script as ``__main__`` - not ``__mp_main__`` - until the app calls
``multiprocessing.freeze_support()``; an app that calls it late, or never,
builds a second QApplication (or a Pool: the classic frozen fork bomb) in
every child.

:func:`hand_over` is called by ``install()`` when ``sys.frozen`` is set.  If
this process is such a child - ``sys.argv[1]`` is ``--multiprocessing-fork``,
as ``multiprocessing.spawn.is_forking`` and PyInstaller's runtime hook test,
and the rest are exactly the arguments a parent passes, naming a pipe this
process can read - it does what ``freeze_support()`` does, at once: it runs
``multiprocessing.spawn.spawn_main`` and the process ends there.  While the
child prepares, the main module's code is run again as ``__mp_main__``, as an
unfrozen spawn child does (so its target is found wherever the script
defines it, and nothing under the main guard runs), with the child guard
(:mod:`.child`) on: a QApplication or a process started there is refused,
naming the line.  The report file the guarded parent watches comes in the
preparation data (:data:`.parent.REPORT_KEY`), not the environment.

A command line that looks like a child's but is not (a user's own file named
``--multiprocessing-fork``, a forged or stale pipe) is not acted on: the app
runs as without pyqtguard, with one warning when it was child-like.
"""
from __future__ import annotations

import os
import sys

from ..logs import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType, ModuleType
    from typing import Any

FLAG = "--multiprocessing-fork"
# The keyword arguments a parent passes (popen_spawn_posix / popen_spawn_win32,
# CPython 3.11-3.14).
_POSIX_KEYS = frozenset({"tracker_fd", "pipe_handle"})
_WINDOWS_KEYS = frozenset({"parent_pid", "pipe_handle"})

_state = ""           # "", "not a child", "declined", "handing over"


class NotAChild(ValueError):
    """The command line has the flag but is not a multiprocessing child's."""


def spawn_arguments(args: list[str]) -> dict[str, int]:
    """``spawn_main``'s keyword arguments from the words after the flag,
    checked; raises :class:`NotAChild` saying why not."""
    keys = _WINDOWS_KEYS if sys.platform == "win32" else _POSIX_KEYS
    kwds: dict[str, int] = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep or name not in keys or name in kwds:
            raise NotAChild(f"unexpected argument {arg[:40]!r}")
        if not value.isdigit() or len(value) > 20:        # isdigit: no sign, no 'None'
            raise NotAChild(f"{name}={value[:40]!r} is not a number")
        kwds[name] = int(value)
    if set(kwds) != keys:
        raise NotAChild("expected " + " ".join(f"{key}=..." for key in sorted(keys)))
    if sys.platform == "win32":
        _check_windows(kwds)
    else:
        _check_posix(kwds)
    return kwds


def _check_posix(kwds: dict[str, int]) -> None:
    import fcntl
    import stat

    def check(name: str, mode: int, what: str) -> None:
        fd = kwds[name]
        if fd <= 2:
            # The app's own stdin/stdout/stderr: `cat x | app --multiprocessing-fork
            # tracker_fd=1 pipe_handle=0` would otherwise read a pickle from stdin.
            raise NotAChild(f"{name}={fd} is a standard stream")
        try:
            is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
            access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        except (OSError, OverflowError, ValueError):
            raise NotAChild(f"{name}={fd} is not open") from None
        if not is_pipe or access != mode:
            raise NotAChild(f"{name}={fd} is not {what}")

    if kwds["pipe_handle"] == kwds["tracker_fd"]:
        raise NotAChild("pipe_handle and tracker_fd are the same")
    check("pipe_handle", os.O_RDONLY, "the read end of a pipe")
    check("tracker_fd", os.O_WRONLY, "the write end of a pipe")


def _check_windows(kwds: dict[str, int]) -> None:       # pragma: no cover - Windows
    import _winapi

    pid = kwds["parent_pid"]
    if pid in (0, os.getpid()) or not kwds["pipe_handle"]:
        raise NotAChild("no parent process named")
    try:
        handle = _winapi.OpenProcess(_winapi.PROCESS_DUP_HANDLE, False, pid)
    except OSError:
        raise NotAChild(f"parent_pid={pid} cannot be opened") from None
    _winapi.CloseHandle(handle)


def main_code(main: ModuleType) -> CodeType | None:
    """The code of the main module's top level, from its running frame (the
    script of a frozen app need not exist as a file); None when it is not on
    the stack, or is compiled (Nuitka)."""
    if "__compiled__" in vars(main):
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            return frame.f_code
        frame = frame.f_back
    return None


def hand_over(config: object = None) -> None:
    """Called by ``install()`` in a frozen app.  In a frozen multiprocessing
    child: run it as ``freeze_support()`` would, and end the process (never
    returns).  Anywhere else: return at once, having changed nothing."""
    global _state
    if _state:
        return                  # decided already; or the main module's re-run
    argv = sys.argv
    if len(argv) < 2 or argv[1] != FLAG:
        _state = "not a child"
        return
    _state = "declined"
    try:
        kwds = spawn_arguments(list(argv[2:]))
    except NotAChild as why:
        if not any(arg.partition("=")[0] in _POSIX_KEYS | _WINDOWS_KEYS for arg in argv[2:]):
            return              # a file of that name, say: nothing child-like to tell
        warn_once("frozen-child", f"this frozen app was started with {FLAG}, but not as "
                  f"a multiprocessing child ({why}): running it as the app")
        return
    except Exception as exc:  # noqa: BLE001 - never make the app worse
        warn_once("frozen-child", f"frozen child check failed: {exc!r}")
        return
    main = sys.modules.get("__main__")
    code = main_code(main) if main is not None else None
    if main is None or code is None:
        warn_once("frozen-child", "a frozen multiprocessing child, but its main module's "
                  "code was not found: left to freeze_support()")
        return
    try:
        import multiprocessing.spawn as spawn

        from . import child

        spawn.prepare = preparing(spawn.prepare, child.refusing_when_main_raises(
            lambda: rerun_main(spawn, main, code)))
    except Exception as exc:  # noqa: BLE001
        warn_once("frozen-child", f"frozen child not guarded: {exc!r}")
        return
    _state = "handing over"
    # Runs the target and ends with sys.exit().  An error here (the parent
    # died before sending the target: EOFError) ends the child with its
    # traceback, as in an unfrozen child: going on as the app would start the
    # app's own processes from an orphan, which is how a fork bomb begins.
    spawn.spawn_main(**kwds)


def preparing(original: Any, rerun: Any) -> Any:
    def prepare(data: Any) -> None:
        """``spawn.prepare`` in this child: the report file the parent named,
        the parent's settings, then the main module run again."""
        from . import parent

        if isinstance(data, dict):
            report = data.pop(parent.REPORT_KEY, None)
            if isinstance(report, str) and report:
                os.environ.setdefault(parent.ENV_REPORT, report)
                parent.install_in_child()          # and its own children report there
            name = data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
        else:
            name = None
        original(data)
        if name is not None and (name == "__main__" or name.endswith(".__main__")):
            return                               # as CPython: a package's __main__ is not re-run
        rerun()

    prepare._pyqtguard = True  # type: ignore[attr-defined]
    return prepare


def rerun_main(spawn: Any, main: ModuleType, code: CodeType) -> None:
    """What ``spawn._fixup_main_from_path`` does with the script, from the
    code object: the top level again as ``__mp_main__``, which then is
    ``__main__`` too.  Once: a forkserver's forked child has it already."""
    import builtins
    import types

    if sys.modules.get("__main__") is not main:
        return

    module = types.ModuleType("__mp_main__")
    module.__dict__.update(__file__=getattr(main, "__file__", None), __builtins__=builtins,
                           __loader__=getattr(main, "__loader__", None), __spec__=None,
                           __package__=None, __cached__=None)
    spawn.old_main_modules.append(main)
    previous = sys.modules.get("__mp_main__")
    sys.modules["__mp_main__"] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - the app's own main module, again
    except BaseException:
        if previous is None:
            sys.modules.pop("__mp_main__", None)
        else:
            sys.modules["__mp_main__"] = previous
        raise
    sys.modules["__main__"] = module
