"""multiprocessing's helper processes in a frozen app (POSIX).

The resource tracker (started with the first semaphore, Lock or Queue of a
spawn or forkserver context) and the forkserver are launched as
``sys.executable`` + interpreter flags + ``-c "from multiprocessing... import
main; main(...)"``.  In a frozen app ``sys.executable`` is the app: a helper
runs the app's script again unless something before it runs the command
(PyInstaller's ``freeze_support()`` does, with ``exec``; CPython's does
not).  A helper that runs the app builds a second window, and an app that
creates a Lock at start-up starts a tracker that starts a tracker...: the
fork bomb of frozen apps that never call ``freeze_support()``.

:func:`hand_over` is called by ``install()`` in a frozen app whose command
line has ``-c``.  The command is not executed: it is matched against the
exact shapes CPython 3.11-3.14 writes (parsed with :mod:`ast`, literals
only), the descriptors it names are checked (pipes and the forkserver's
listening socket, above the standard streams), and the helper's ``main`` is
called with those values.  The main module is run again as ``__mp_main__``
under the child guard - by the forkserver when it preloads it (3.14), or
else in each child it forks, when the child prepares - as in an unfrozen
forkserver (:func:`pyqtguard.children.frozen.rerun_main`).  Anything else:
nothing done.
"""
from __future__ import annotations

import os
import re
import sys

from ..logs import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_TRACKER = re.compile(r"from multiprocessing\.resource_tracker import main;\s?main\((\d{1,9})\)")
_FORKSERVER_IMPORT = "from multiprocessing.forkserver import main"
_FORKSERVER_KEYS = frozenset({"main_path", "sys_path", "authkey_r"})


class NotAHelper(ValueError):
    """The command looks like a helper's but is not one of its shapes."""


def helper_command(argv: list[str]) -> tuple[int, str] | None:
    """(the index of ``-c``, the command) when *argv* is interpreter flags,
    ``-c`` and a multiprocessing command; else None."""
    try:
        index = argv.index("-c", 1)
    except ValueError:
        return None
    if index + 1 >= len(argv):
        return None
    if not all(arg.startswith("-") and len(arg) <= 40 for arg in argv[1:index]):
        return None
    command = argv[index + 1]
    if not command.startswith(("from multiprocessing.", "import sys; from multiprocessing.")):
        return None
    return index, command


def tracker_fd(command: str) -> int | None:
    """The resource tracker's pipe, if *command* is its start command."""
    match = _TRACKER.fullmatch(command)
    return int(match.group(1)) if match else None


def forkserver_call(command: str, after: list[str]) -> tuple[list[Any], dict[str, Any]]:
    """The forkserver's ``main(*args, **kwargs)`` from its start command;
    *after*: the words after the command (``sys.argv[1:]`` in the command
    is those, as ``python -c`` would see them).  Raises NotAHelper."""
    import ast

    try:
        tree = ast.parse(command, mode="exec")
    except (SyntaxError, ValueError):
        raise NotAHelper("not Python") from None
    body = list(tree.body)
    imports_sys = (bool(body) and isinstance(body[0], ast.Import)
                   and [(a.name, a.asname) for a in body[0].names] == [("sys", None)])
    if imports_sys:
        body = body[1:]
    if (len(body) != 2 or not isinstance(body[0], ast.ImportFrom)
            or ast.unparse(body[0]) != _FORKSERVER_IMPORT
            or not isinstance(body[1], ast.Expr) or not isinstance(body[1].value, ast.Call)):
        raise NotAHelper("not the forkserver's command")
    call = body[1].value
    if not (isinstance(call.func, ast.Name) and call.func.id == "main") or len(call.args) != 3:
        raise NotAHelper("not main(fd, fd, preload, ...)")
    try:
        listener, alive, preload = (ast.literal_eval(arg) for arg in call.args)
        kwargs: dict[str, Any] = {}
        for keyword in call.keywords:
            if keyword.arg is None:
                extra = ast.literal_eval(keyword.value)
                if not isinstance(extra, dict) or not set(extra) <= _FORKSERVER_KEYS:
                    raise NotAHelper("unexpected keyword arguments")
                kwargs.update(extra)
            elif keyword.arg == "sys_argv" and imports_sys:
                kwargs["sys_argv"] = (["-c", *after])[_argv_slice(keyword.value):]
            else:
                raise NotAHelper(f"unexpected argument {keyword.arg}")
    except (ValueError, TypeError, SyntaxError):
        raise NotAHelper("arguments are not literals") from None
    if not (type(listener) is int and type(alive) is int):
        raise NotAHelper("descriptors are not numbers")
    if preload is not None and not (isinstance(preload, list)
                                    and all(isinstance(m, str) for m in preload)):
        raise NotAHelper("preload is not a list of module names")
    if not isinstance(kwargs.get("main_path", ""), (str, type(None))) or not isinstance(
            kwargs.get("sys_path", []), list) or type(kwargs.get("authkey_r", 0)) is not int:
        raise NotAHelper("unexpected keyword values")
    return [listener, alive, preload], kwargs


def _argv_slice(node: Any) -> int:
    """N from ``sys.argv[N:]``; anything else raises ValueError."""
    import ast

    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
            and isinstance(node.value.value, ast.Name) and node.value.value.id == "sys"
            and node.value.attr == "argv" and isinstance(node.slice, ast.Slice)
            and node.slice.upper is None and node.slice.step is None
            and isinstance(node.slice.lower, ast.Constant)
            and type(node.slice.lower.value) is int and 0 <= node.slice.lower.value <= 2):
        return int(node.slice.lower.value)
    raise ValueError("not sys.argv[N:]")


def _check_fd(fd: int, what: str, kind: str, access: int | None) -> None:
    import fcntl
    import stat

    if fd <= 2:
        raise NotAHelper(f"{what}={fd} is a standard stream")
    try:
        mode = os.fstat(fd).st_mode
        flags = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except (OSError, OverflowError, ValueError):
        raise NotAHelper(f"{what}={fd} is not open") from None
    right_kind = stat.S_ISSOCK(mode) if kind == "socket" else stat.S_ISFIFO(mode)
    if not right_kind or (access is not None and flags != access):
        raise NotAHelper(f"{what}={fd} is not a {kind} of the parent's")


def hand_over(config: object = None) -> None:
    """Called by ``install()`` in a frozen app whose command line has
    ``-c``.  In multiprocessing's resource tracker or forkserver: run it and
    end the process (never returns).  Anywhere else: return at once."""
    if sys.platform == "win32":
        return                                   # Windows starts no such helpers
    found = helper_command(sys.argv)
    if found is None:
        return
    index, command = found
    try:
        fd = tracker_fd(command)
        if fd is not None:
            _check_fd(fd, "fd", "pipe", os.O_RDONLY)
            run = _tracker(fd)
        else:
            args, kwargs = forkserver_call(command, list(sys.argv[index + 2:]))
            _check_fd(args[0], "listener_fd", "socket", None)
            _check_fd(args[1], "alive_r", "pipe", os.O_RDONLY)
            if "authkey_r" in kwargs:
                _check_fd(kwargs["authkey_r"], "authkey_r", "pipe", os.O_RDONLY)
            run = _forkserver(args, kwargs)
    except NotAHelper as why:
        warn_once("frozen-helper", f"this frozen app was started with a multiprocessing "
                  f"command ({command[:60]!r}...), but not as its helper ({why}): "
                  "running it as the app")
        return
    except Exception as exc:  # noqa: BLE001 - never make the app worse
        warn_once("frozen-helper", f"frozen helper check failed: {exc!r}")
        return
    if run is not None:
        run()
        sys.exit()


def _tracker(fd: int) -> Any:
    from multiprocessing import resource_tracker

    return lambda: resource_tracker.main(fd)


def _forkserver(args: list[Any], kwargs: dict[str, Any]) -> Any:
    """The forkserver's main, its preload of the main module replaced by the
    main module's code run again under the child guard; None (nothing done,
    one warning) when that code cannot be found."""
    from multiprocessing import forkserver, spawn

    from . import frozen

    main = sys.modules.get("__main__")
    code = frozen.main_code(main) if main is not None else None
    if main is None or code is None:
        warn_once("frozen-helper", "a frozen app's forkserver, but its main module's code "
                  "was not found: left to freeze_support()")
        return None
    from . import child

    rerun = child.refusing_when_main_raises(lambda: frozen.rerun_main(spawn, main, code))
    spawn.import_main_path = lambda main_path: rerun()     # the forkserver's preload (3.14)
    spawn.prepare = frozen.preparing(spawn.prepare, rerun)  # each child it forks
    return lambda: forkserver.main(*args, **kwargs)
