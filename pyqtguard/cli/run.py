"""``pyqtguard run``: run an unmodified script or module under pyqtguard.

``pyqtguard run app.py a b`` behaves as ``python app.py a b`` would -
``__name__ == "__main__"``, ``sys.argv``, ``sys.path[0]``, an absolute
``__file__``, the exit status, and the messages for a missing file, a
directory without ``__main__.py`` or a syntax error - with
:func:`pyqtguard.install` done first.  ``pyqtguard run -m pkg.mod`` likewise
behaves as ``python -m pkg.mod``.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import types
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "run",
        help="run a script (or -m module) with pyqtguard installed",
        description="Run SCRIPT (or -m MODULE) exactly as python would, "
        "with pyqtguard installed first.",
        usage="pyqtguard run [--log-dir DIR] (SCRIPT | -m MODULE) [ARGS ...]",
    )
    parser.add_argument("--log-dir", metavar="DIR", help="folder for the run logs")
    parser.add_argument("-m", dest="module", metavar="MODULE",
                        help="run a library module as a script")
    parser.add_argument("target", nargs=argparse.REMAINDER,
                        help="the script and its arguments")
    parser.set_defaults(func=main)


def _python_name() -> str:
    return sys.executable or "python"


def _install(log_dir: str | None, app_name: str) -> None:
    import pyqtguard

    pyqtguard.install(log_dir=log_dir, app_name=app_name)


def main(args: argparse.Namespace) -> int:
    if args.module:
        return _run_module(args.module, list(args.target), args.log_dir)
    if not args.target:
        sys.stderr.write("pyqtguard run: a SCRIPT or -m MODULE is required\n")
        return 2
    script, *script_args = args.target
    return _run_path(script, script_args, args.log_dir)


def _run_module(module: str, module_args: list[str], log_dir: str | None) -> int:
    sys.argv = [module, *module_args]  # runpy replaces argv[0] with the file
    sys.path[0] = os.getcwd()
    _install(log_dir, module.split(".")[-1])
    runpy._run_module_as_main(module, alter_argv=True)  # type: ignore[attr-defined]
    return 0


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
        sys.path[0] = str(path.absolute())
        _install(log_dir, path.absolute().name)
        runpy.run_path(script, run_name="__main__")
        return 0
    sys.path[0] = str(path.resolve().parent)
    _install(log_dir, path.stem)
    return _exec_script(path)


def _exec_script(path: Path) -> int:
    filename = str(path.absolute())
    try:
        source = path.read_bytes()
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        _report(exc, skip_frames=True)
        return 1
    except OSError as exc:
        sys.stderr.write(f"{_python_name()}: can't open file {filename!r}: "
                         f"[Errno {exc.errno}] {exc.strerror}\n")
        return 2
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=filename, __builtins__=__builtins__,
                         __cached__=None, __spec__=None, __loader__=None)
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - report it like python does
        _report(exc, skip_frames=False)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return 1
    return 0


def _report(exc: BaseException, *, skip_frames: bool) -> None:
    """Hand *exc* to sys.excepthook without this runner's own frames."""
    tb = None if skip_frames else exc.__traceback__
    if tb is not None:
        tb = tb.tb_next  # drop _exec_script's frame: the script's come next
    sys.excepthook(type(exc), exc, tb)
