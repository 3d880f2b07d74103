"""``pyqtguard run``: an app that restarts itself comes back guarded.

Under ``run`` ``sys.argv`` is the app's, so the usual restart,
``os.execv(sys.executable, [sys.executable] + sys.argv)`` (or
``subprocess.Popen`` of it, then exit), names ``python app.py``: without
this module the new process would be the app without pyqtguard.  While
``run`` runs a target, the calls through which a Python program starts a
program - ``os.execv`` and ``os.execve`` (``os.execl``, ``execle``,
``execlp``, ``execvp``, ``execvpe`` and ``os.spawn*`` go through them),
``os.posix_spawn``, ``os.posix_spawnp``, ``subprocess.Popen`` and, once the
app uses it, Qt's ``QProcess`` (:mod:`.qprocess`) - look at the command
first.  Only when it is this interpreter running the app's own
target (the same script, zip app or folder by its real path, the same ``-m``
module, the same ``-c`` program), python's own options before it kept, is it
rewritten to run that target under ``pyqtguard run`` again, with run's own
options::

    python -X dev app.py a b   ->   python -X dev -c BOOT run --log-dir D app.py a b

Every other command is left as it is: another program, python running
another script, ``python -c`` with other code, ``python -`` (stdin is not
the same program twice), a shell command line, an environment with
``PYQTGUARD_DISABLE=1``.  BOOT puts pyqtguard's folder on ``sys.path`` for
its own import only (the new environment may not name it: an ``execve``
without ``PYTHONPATH``, ``python -S -E``), so the app's ``sys.path`` is
python's.  Anything that goes wrong here leaves the command unchanged, with
one warning: the restart must happen, guarded or not.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# python's one-letter options without a value (3.11-3.14), and with one
_FLAGS = frozenset("bBdEiIOPqRsSuvx")
_VALUED = frozenset("WX")
_LONG_VALUED = ("--check-hash-based-pycs",)


class _App:
    """What ``run`` runs: its form (``script``, ``module``, ``command``) and
    value (the script's real path, the module name, the program), and run's
    options for the restart."""

    def __init__(self, form: str, value: str, run_options: list[str]) -> None:
        self.form = form
        self.value = value
        self.run_options = run_options


_app: _App | None = None
_originals: dict[str, Any] = {}


def guard(form: str, value: str, log_dir: str | None) -> None:
    """Have restarts of the target run under ``pyqtguard run``: *form* is
    ``script`` (*value* its file, zip or folder), ``module`` or
    ``command``; *log_dir* run's ``--log-dir`` (made absolute here: the app
    may change folder before it restarts)."""
    global _app
    if form not in ("script", "module", "command"):
        raise ValueError(f"form must be script, module or command, not {form!r}")
    if form == "script":
        value = os.path.realpath(value)
    options = ["--log-dir", os.path.abspath(log_dir)] if log_dir is not None else []
    _app = _App(form, value, options)
    for name in ("execv", "execve", "posix_spawn", "posix_spawnp"):
        original = getattr(os, name, None)
        if original is not None and name not in _originals:
            _originals[name] = original
            setattr(os, name, _WRAPPERS[name])
    from .. import qt as qt_attach

    qt_attach.when_imported("subprocess", _attach_subprocess)
    qt_attach.when_qt_imported(_attach_qprocess)


def _execv(path: Any, argv: Any) -> None:
    _originals["execv"](path, _restart_args(path, argv, None, None, search=False) or argv)


def _execve(path: Any, argv: Any, env: Any) -> None:
    _originals["execve"](path, _restart_args(path, argv, env, None, search=False) or argv, env)


def _posix_spawn(path: Any, argv: Any, env: Any, *args: Any, **kwargs: Any) -> int:
    argv = _restart_args(path, argv, env, None, search=False) or argv
    return _originals["posix_spawn"](path, argv, env, *args, **kwargs)  # type: ignore[no-any-return]


def _posix_spawnp(path: Any, argv: Any, env: Any, *args: Any, **kwargs: Any) -> int:
    # the C library looks the name up on this process's PATH, not on env's
    argv = _restart_args(path, argv, env, None, search=True, path_environ=os.environ) or argv
    return _originals["posix_spawnp"](path, argv, env, *args, **kwargs)  # type: ignore[no-any-return]


_WRAPPERS = {"execv": _execv, "execve": _execve, "posix_spawn": _posix_spawn,
             "posix_spawnp": _posix_spawnp}


def _attach_subprocess(subprocess: Any) -> None:
    """``Popen._execute_child`` (every ``subprocess`` call goes through it)
    gets the command rewritten; its parameters are found by name, since
    ``Popen.__init__`` passes them by position and their order differs
    between POSIX and Windows and between versions."""
    popen = getattr(subprocess, "Popen", None)
    original = getattr(popen, "_execute_child", None)
    code = getattr(original, "__code__", None)
    if code is None or "execute_child" in _originals:
        return
    names = code.co_varnames[:code.co_argcount]
    if not {"args", "executable", "cwd", "env", "shell"} <= set(names):
        return
    places = {name: names.index(name) for name in ("args", "executable", "cwd", "env", "shell")}
    _originals["execute_child"] = original

    def _execute_child(*args: Any, **kwargs: Any) -> Any:
        def value(name: str) -> Any:
            index = places[name]
            return args[index] if index < len(args) else kwargs.get(name)

        if not value("shell") and isinstance(value("args"), (list, tuple)):
            command = value("args")
            program = value("executable")
            new = _restart_args(command[0] if program is None and command else program,
                                command, value("env"), value("cwd"), search=True)
            if new is not None:
                index = places["args"]
                if index < len(args):
                    args = (*args[:index], new, *args[index + 1:])
                else:
                    kwargs["args"] = new
        return original(*args, **kwargs)

    popen._execute_child = _execute_child


def _attach_qprocess(qtcore: Any) -> None:
    """``QProcess`` starts its program in C++: its calls that start one
    (:mod:`.qprocess`) are wrapped when sip completes the class - an app
    that never touches QProcess pays nothing - or now if it is complete
    (or sip cannot call back)."""
    from .. import _native

    cls = getattr(qtcore, "QProcess", None)
    if cls is None:
        return

    def completed(type_dict: dict[str, Any] | None) -> None:
        try:
            from . import qprocess

            qprocess.wrap(cls, type_dict, _originals, _qprocess_command, not_guarded)
        except Exception as exc:  # noqa: BLE001 - never break the app's attribute access
            not_guarded(exc)

    if "start" in _native.type_dict(cls) or not _native.when_class_completes(cls, completed):
        completed(None)


def _qprocess_command(program: Any, argv: Any, env: Any, cwd: Any) -> list[str] | None:
    """:func:`_restart_args` for QProcess, which looks a bare program name
    up on the app's own PATH, whatever the QProcess's environment says
    (``QStandardPaths::findExecutable``); handed to :mod:`.qprocess`, which
    does not import this module back."""
    return _restart_args(program, argv, env, cwd, search=True, path_environ=os.environ)


def _restart_args(path: Any, argv: Any, env: Any, cwd: Any, *, search: bool,
                  path_environ: Any = None) -> list[str] | None:
    """The command rewritten to run under ``pyqtguard run``, or None to
    leave it as it is.  A name without a folder is looked up (*search*) on
    *path_environ*'s PATH, the new environment's if None (as subprocess and
    os.execvpe do; posix_spawnp and Qt look on this process's)."""
    if _app is None:
        return None
    try:
        return _rewrite(_app, path, argv, env, cwd, search, path_environ)
    except Exception as exc:  # noqa: BLE001 - the restart happens either way
        not_guarded(exc)
        return None


def not_guarded(exc: BaseException) -> None:
    """The one warning when a restart cannot be guarded (it happens as the
    app wrote it)."""
    from ..logs import warn_once

    warn_once("run:restart", f"a restart of the app is not guarded ({type(exc).__name__}: "
                             f"{exc})")


def _rewrite(app: _App, path: Any, argv: Any, env: Any, cwd: Any,
             search: bool, path_environ: Any = None) -> list[str] | None:
    if isinstance(path, int) or not isinstance(argv, (list, tuple)) or len(argv) < 2:
        return None                     # fexecve(), or bad arguments: python's to refuse
    try:
        program = os.fsdecode(path)
        args = [os.fsdecode(arg) for arg in argv]
        cwd = os.fsdecode(cwd) if cwd is not None else None
    except (TypeError, ValueError):
        return None
    environ = os.environ if env is None else env
    if _disabled(environ):
        return None
    if not _is_this_python(program, environ if path_environ is None else path_environ, cwd,
                           search):
        return None
    split = _split_python_args(args[1:])
    if split is None:
        return None
    options, form, value, rest = split
    if not _is_the_app(app, form, value, cwd):
        return None
    target = {"script": ["--", value] if value.startswith("-") else [value],
              "module": ["-m", value], "command": ["-c", value]}[form]
    return [args[0], *options, "-c", _bootstrap(), "run", *app.run_options, *target, *rest]


def _disabled(environ: Any) -> bool:
    try:
        value = environ.get("PYQTGUARD_DISABLE", environ.get(b"PYQTGUARD_DISABLE", ""))
    except (AttributeError, TypeError):
        return False
    return os.fsdecode(value).strip().lower() in {"1", "true", "yes", "on"}


def _is_this_python(program: str, environ: Any, cwd: str | None, search: bool) -> bool:
    """Whether *program* is ``sys.executable`` (by its path, not by the file
    it links to: another venv's python is another program); a name without
    a folder is looked up on the new environment's PATH when *search*."""
    if not sys.executable:
        return False
    if os.sep not in program and (os.altsep is None or os.altsep not in program):
        if not search:
            return False
        try:
            folders = os.get_exec_path(environ)
        except (TypeError, ValueError):
            return False
        for folder in folders:
            candidate = os.path.join(folder, program)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                program = candidate
                break
        else:
            return False
    return _absolute(program, cwd) == _absolute(sys.executable, None)


def _absolute(path: str, cwd: str | None) -> str:
    return os.path.normcase(os.path.abspath(os.path.join(cwd, path) if cwd else path))


def _split_python_args(args: list[str]) -> tuple[list[str], str, str, list[str]] | None:
    """python's command line after the program name, as python reads it:
    (its options, ``script``/``module``/``command``, the target, the target's
    arguments); None when it runs no script, module or program of ours
    (``--version``, ``-``, an option python refuses).

    >>> _split_python_args(["-X", "dev", "-uB", "app.py", "-m", "x"])
    (['-X', 'dev', '-uB'], 'script', 'app.py', ['-m', 'x'])
    >>> _split_python_args(["-Wignore", "-mpkg.mod", "a"])
    (['-Wignore'], 'module', 'pkg.mod', ['a'])
    >>> _split_python_args(["-", "x"]) is None, _split_python_args(["-V"]) is None
    (True, True)
    """
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return (args[:i], "script", args[i + 1], args[i + 2:]) if i + 1 < len(args) else None
        if arg == "-" or not arg.startswith("-"):
            return (args[:i], "script", arg, args[i + 1:]) if arg != "-" else None
        if arg.startswith("--"):
            if arg in _LONG_VALUED:
                i += 2
                continue
            if arg.split("=", 1)[0] in _LONG_VALUED:
                i += 1
                continue
            return None                 # --help, --version...: no program runs
        for j, letter in enumerate(arg[1:], 1):
            if letter in "cm":
                value, end = (arg[j + 1:], i + 1) if j + 1 < len(arg) else (
                    args[i + 1] if i + 1 < len(args) else None, i + 2)
                if value is None:
                    return None
                form = "command" if letter == "c" else "module"
                option = [arg[:j]] if j > 1 else []
                return [*args[:i], *option], form, value, args[end:]
            if letter in _VALUED:
                i += 0 if j + 1 < len(arg) else 1     # -Xdev, or -X dev
                break
            if letter not in _FLAGS:
                return None             # -h, -V, -?, or one python refuses
        i += 1
    return None


def _is_the_app(app: _App, form: str, value: str, cwd: str | None) -> bool:
    if form != app.form and not (form == "script" and app.form == "module"):
        return False
    if form != "script":
        return value == app.value
    if app.form == "module":           # its file run as a script: sys.argv[0]
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if not isinstance(main_file, str):
            return False
        expected = os.path.realpath(main_file)
    else:
        expected = app.value
    path = os.path.join(cwd, value) if cwd else value
    return os.path.normcase(os.path.realpath(path)) == os.path.normcase(expected)


def _bootstrap() -> str:
    """The ``-c`` program that runs ``pyqtguard run``: pyqtguard's folder is
    on ``sys.path`` for its import only (if it was not there already)."""
    folder = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isfile(os.path.join(folder, "pyqtguard", "cli", "__init__.py")):
        raise OSError(f"pyqtguard is no longer in {folder}")
    return ("import sys\n"
            f"_pqg = {folder!r} not in sys.path and {folder!r}\n"
            "_pqg and sys.path.append(_pqg)\n"
            "try:\n"
            "    from pyqtguard.cli import main as _pqg_main\n"
            "finally:\n"
            "    _pqg and sys.path.remove(_pqg)\n"
            "sys.exit(_pqg_main())\n")
