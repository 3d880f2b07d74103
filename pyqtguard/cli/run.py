"""``pyqtguard run``: run an unmodified script or module under pyqtguard.

    pyqtguard run [-h] [--log-dir DIR] (-m MODULE | SCRIPT) [ARGS ...]

``pyqtguard run app.py a b`` behaves as ``python app.py a b`` would -
``__name__ == "__main__"``, ``sys.argv``, ``sys.path[0]``, an absolute
``__file__``, the exit status, the traceback of an uncaught exception, and
the messages for a missing file, a directory without ``__main__.py`` or a
syntax error - with :func:`pyqtguard.install` done first.  ``pyqtguard run
-m pkg.mod`` likewise behaves as ``python -m pkg.mod``.

As with ``python``, pyqtguard's own options come before the target only:
everything after the script or module name - ``-h``, ``--log-dir``, ``-m``,
``--`` - is the target's (:func:`split_argv`).  Tracebacks show the frames
``python`` shows: this launcher's own are left out (:func:`app_traceback`),
on stderr and in the run log alike.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

USAGE = "pyqtguard run [-h] [--log-dir DIR] (-m MODULE | SCRIPT) [ARGS ...]"
DESCRIPTION = ("Run SCRIPT (or -m MODULE) exactly as python would, with pyqtguard "
               "installed first.  Options go before SCRIPT or -m MODULE: "
               "everything after them is passed to the script or module.")


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """List ``run`` in ``pyqtguard --help``; its arguments are parsed by
    :func:`main_argv` (argparse cannot stop at the target as python does)."""
    parser = subparsers.add_parser(
        "run", help="run a script (or -m module) with pyqtguard installed",
        description=DESCRIPTION, usage=USAGE, add_help=False)
    parser.set_defaults(func=None)


def _options_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyqtguard run", usage=USAGE,
                                     description=DESCRIPTION)
    parser.add_argument("--log-dir", metavar="DIR", help="folder for the run logs")
    # Shown in the help only: -m, SCRIPT and ARGS are taken by split_argv.
    parser.add_argument("-m", dest="module", metavar="MODULE",
                        help="run a library module as a script (as python -m)")
    parser.add_argument("script", nargs="?", metavar="SCRIPT",
                        help="the script (a file, or a folder with __main__.py)")
    parser.add_argument("args", nargs="*", metavar="ARGS",
                        help="passed to the script or module as sys.argv[1:]")
    return parser


class Target(NamedTuple):
    """What :func:`split_argv` found: pyqtguard's options, and the target."""

    options: list[str]      # pyqtguard's own, for argparse
    module: str | None      # -m MODULE, or None
    script: str | None      # SCRIPT, or None
    args: list[str]         # the target's sys.argv[1:]


_VALUED = ("--log-dir",)


def split_argv(argv: Sequence[str]) -> Target:
    """Split ``run``'s arguments where python would: at ``-m MODULE`` (or
    ``-mMODULE``) or at the first argument that is not an option (``--``
    ends the options, as in ``python -- app.py``).

    >>> split_argv(["--log-dir", "L", "-m", "pytest", "-q", "--log-dir", "X"])
    Target(options=['--log-dir', 'L'], module='pytest', script=None, args=['-q', '--log-dir', 'X'])
    >>> split_argv(["app.py", "-m", "x"])
    Target(options=[], module=None, script='app.py', args=['-m', 'x'])
    """
    argv = list(argv)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest = argv[i + 1:]
            return Target(argv[:i], None, rest[0] if rest else None, rest[1:])
        if arg == "-m":
            if i + 1 == len(argv):
                return Target(argv, None, None, [])      # argparse: needs a value
            return Target(argv[:i], argv[i + 1], None, argv[i + 2:])
        if arg.startswith("-m") and not arg.startswith("--"):
            return Target(argv[:i], arg[2:], None, argv[i + 1:])
        if arg in _VALUED:
            i += 2
            continue
        if arg.startswith("-") and arg != "-":
            i += 1
            continue
        return Target(argv[:i], None, arg, argv[i + 1:])
    return Target(argv, None, None, [])


def main_argv(argv: Sequence[str]) -> int:
    """``pyqtguard run ARGV...``; returns the exit status."""
    target = split_argv(argv)
    parser = _options_parser()
    # -h, --log-dir; an unknown option or a "-m" without a module: exit 2
    options = parser.parse_args(target.options)
    if target.module is not None:
        return _run_module(target.module, target.args, options.log_dir)
    if target.script is None:
        parser.print_usage(sys.stderr)
        sys.stderr.write("pyqtguard run: a SCRIPT or -m MODULE is required\n")
        return 2
    return _run_path(target.script, target.args, options.log_dir)


def _python_name() -> str:
    return sys.executable or "python"


def _install(log_dir: str | None, app_name: str) -> None:
    import pyqtguard

    pyqtguard.install(log_dir=log_dir, app_name=app_name)


def _fresh_main_module() -> types.ModuleType:
    """An empty ``__main__`` in sys.modules, as python starts with: runpy
    runs a module in ``__main__``'s namespace, which would otherwise be
    pyqtguard's own entry point's (its imports visible to the app)."""
    main = types.ModuleType("__main__")
    main.__dict__.update(__builtins__=__builtins__, __loader__=None, __spec__=None)
    sys.modules["__main__"] = main
    return main


def _run_module(module: str, module_args: list[str], log_dir: str | None) -> int:
    sys.argv = [module, *module_args]  # runpy replaces argv[0] with the file
    sys.path[0] = os.getcwd()
    _install(log_dir, module.split(".")[-1])
    _fresh_main_module()
    return _call_as_python_would(
        lambda: runpy._run_module_as_main(module, alter_argv=True))  # type: ignore[attr-defined]


def _run_path(script: str, script_args: list[str], log_dir: str | None) -> int:
    path = Path(script)
    if not path.exists():
        sys.stderr.write(f"{_python_name()}: can't open file {str(path.absolute())!r}: "
                         "[Errno 2] No such file or directory\n")
        return 2
    sys.argv = [script, *script_args]
    if path.is_dir() or not path.is_file():
        if not (path / "__main__.py").exists():
            sys.stderr.write(f"{_python_name()}: can't find '__main__' module in "
                             f"{str(path.absolute())!r}\n")
            return 1
        # What python does for a folder: it goes first on sys.path and its
        # __main__ module runs as with -m (same frames in a traceback).
        sys.path[0] = str(path.absolute())
        _install(log_dir, path.absolute().name)
        _fresh_main_module()
        return _call_as_python_would(
            lambda: runpy._run_module_as_main("__main__", alter_argv=False))  # type: ignore[attr-defined]
    sys.path[0] = str(path.resolve().parent)
    _install(log_dir, path.stem)
    return _exec_script(path)


def _exec_script(path: Path) -> int:
    filename = str(path.absolute())
    try:
        source = path.read_bytes()
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        sys.excepthook(type(exc), exc, None)   # python shows no frames for it
        return 1
    except OSError as exc:
        sys.stderr.write(f"{_python_name()}: can't open file {filename!r}: "
                         f"[Errno {exc.errno}] {exc.strerror}\n")
        return 2
    main = _fresh_main_module()
    main.__dict__.update(__file__=filename, __cached__=None)
    return _call_as_python_would(lambda: exec(code, main.__dict__))


def _call_as_python_would(run: Callable[[], object]) -> int:
    """Run the target; an uncaught exception goes to ``sys.excepthook``
    without this launcher's frames and makes the exit status 1, as in
    python.  SystemExit passes (python's exit status rules apply)."""
    try:
        run()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - report it like python does
        sys.excepthook(type(exc), exc, app_traceback(exc.__traceback__))
        if isinstance(exc, KeyboardInterrupt):
            # Python ends such a run by SIGINT, after finalization: let the
            # exception reach the top level for that, reported once only.
            _skip_at_top_level(exc)
            raise
        return 1
    return 0


def _skip_at_top_level(reported: BaseException) -> None:
    """Have python's top level, which hands an uncaught exception to
    ``sys.excepthook``, not report *reported* again (with this launcher's
    frames); the hook in place is restored at that call."""
    hook = sys.excepthook

    def skip_once(exc_type: type[BaseException], exc: BaseException,
                  tb: types.TracebackType | None, /) -> None:
        sys.excepthook = hook
        if exc is not reported:
            hook(exc_type, exc, tb)

    sys.excepthook = skip_once


def app_traceback(tb: types.TracebackType | None) -> types.TracebackType | None:
    """*tb* without its leading frames of this launcher (those of the
    ``pyqtguard run`` machinery and of the lambdas here), as python's own
    start-up code leaves its frames out.  runpy's frames stay: ``python -m``
    shows them too."""
    launcher = {__file__, _call_as_python_would.__code__.co_filename}
    while tb is not None and tb.tb_frame.f_code.co_filename in launcher:
        tb = tb.tb_next
    return tb
