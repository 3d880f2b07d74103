"""``pyqtguard run``: run an unmodified script or module under pyqtguard.

    pyqtguard run [-h] [--log-dir DIR] (-m MODULE | -c COMMAND | SCRIPT | -) [ARGS ...]

``pyqtguard run app.py a b`` behaves as ``python app.py a b`` would -
``__name__ == "__main__"``, ``sys.argv``, ``sys.path[0]`` (none added under
``python -P``), an absolute ``__file__``, the ``__main__`` module's other
names (``__builtins__`` the module, ``__loader__``, ``__annotations__``
before 3.14),
the exit status, the traceback of an uncaught exception, and the messages
for a missing file, a directory without ``__main__.py`` or a syntax error -
with :func:`pyqtguard.install` done first.  SCRIPT is what python takes: a
source file, a .pyc file, a folder or zip file with ``__main__.py``, a FIFO
or pipe (``pyqtguard run <(make-script)``), ``-`` for stdin.  ``pyqtguard
run -m pkg.mod`` and ``-c COMMAND`` likewise behave as ``python -m pkg.mod``
and ``python -c COMMAND``.

As with ``python``, pyqtguard's own options come before the target only:
everything after the script or module name - ``-h``, ``--log-dir``, ``-m``,
``--`` - is the target's (:func:`split_argv`).  Tracebacks show the frames
``python`` shows: this launcher's own are left out (:func:`app_traceback`),
on stderr and in the run log alike.  If :func:`pyqtguard.install` itself
fails, one line says so and the target runs unguarded.
"""
from __future__ import annotations

import io
import os
import sys

from ._output import unless_reader_gone

# Before the app runs, this launcher imports nothing python has not
# imported at start-up (os, io, the import system): a module it imported
# would be the standard library's for the app too, where python gives the
# app its own file of that name (queue.py, typing.py in its folder), and
# under ``python -m pyqtguard`` in the app's folder the launcher would get
# the app's.  argparse comes in only for --help and errors; runpy once
# sys.path is the target's, as python imports it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    import types
    from collections.abc import Callable, Sequence
    from typing import BinaryIO

USAGE = "pyqtguard run [-h] [--log-dir DIR] (-m MODULE | -c COMMAND | SCRIPT | -) [ARGS ...]"
DESCRIPTION = ("Run SCRIPT (or -m MODULE, -c COMMAND, - for stdin) exactly as python "
               "would, with pyqtguard installed first.  SCRIPT may be a file, a "
               "folder or zip file with __main__.py, or a .pyc file.  Options go "
               "before the target: everything after it is passed to the target.  "
               "Python's own options (-X, -W, -u, -O, ...) go to python: "
               "python -X dev -m pyqtguard run app.py.  Exit status: the target's, "
               "as python gives it; 2 for a wrong command line before the target.")


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """List ``run`` in ``pyqtguard --help``; its arguments are parsed by
    :func:`main_argv` (argparse cannot stop at the target as python does)."""
    parser = subparsers.add_parser(
        "run", help="run a script (or -m module) with pyqtguard installed",
        description=DESCRIPTION, usage=USAGE, add_help=False)
    parser.set_defaults(func=None)


def _options_parser() -> argparse.ArgumentParser:
    import argparse

    from ._output import folder

    parser = argparse.ArgumentParser(prog="pyqtguard run", usage=USAGE,
                                     description=DESCRIPTION, allow_abbrev=False)
    parser.add_argument("--log-dir", metavar="DIR", type=folder,
                        help="folder for the run logs")
    # Shown in the help only: -m, SCRIPT and ARGS are taken by split_argv.
    parser.add_argument("-m", dest="module", metavar="MODULE",
                        help="run a library module as a script (as python -m)")
    parser.add_argument("-c", dest="command", metavar="COMMAND",
                        help="run the program passed as a string (as python -c)")
    parser.add_argument("script", nargs="?", metavar="SCRIPT",
                        help="the script: a file, a folder or zip file with "
                        "__main__.py, a .pyc file; - reads it from stdin")
    parser.add_argument("args", nargs="*", metavar="ARGS",
                        help="passed to the script or module as sys.argv[1:]")
    return parser


class Target:
    """What :func:`split_argv` found: pyqtguard's options, and the target
    (a plain class: ``typing.NamedTuple`` would import typing)."""

    __slots__ = ("options", "module", "script", "args", "command")

    def __init__(self, options: list[str], module: str | None, script: str | None,
                 args: list[str], command: str | None = None) -> None:
        self.options = options      # pyqtguard's own, for argparse
        self.module = module        # -m MODULE, or None
        self.script = script        # SCRIPT, or None
        self.args = args            # the target's sys.argv[1:]
        self.command = command      # -c COMMAND, or None

    def __repr__(self) -> str:
        return ("Target(" + ", ".join(f"{name}={getattr(self, name)!r}"
                                      for name in self.__slots__) + ")")

    def __eq__(self, other: object) -> bool:
        return type(other) is Target and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None     # type: ignore[assignment]


_VALUED = ("--log-dir",)


def split_argv(argv: Sequence[str]) -> Target:
    """Split ``run``'s arguments where python would: at ``-m MODULE`` (or
    ``-mMODULE``), ``-c COMMAND`` (or ``-cCOMMAND``) or at the first
    argument that is not an option (``--`` ends the options, as in
    ``python -- app.py``; ``-`` is stdin's script).

    >>> split_argv(["--log-dir", "L", "-m", "pytest", "-q", "--log-dir", "X"])
    Target(options=['--log-dir', 'L'], module='pytest', script=None, args=['-q', '--log-dir', 'X'], command=None)
    >>> split_argv(["app.py", "-m", "x"])
    Target(options=[], module=None, script='app.py', args=['-m', 'x'], command=None)
    >>> split_argv(["-c", "print(1)", "-m", "x"])
    Target(options=[], module=None, script=None, args=['-m', 'x'], command='print(1)')
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
        if arg == "-c":
            if i + 1 == len(argv):
                return Target(argv, None, None, [])      # argparse: needs a value
            return Target(argv[:i], None, None, argv[i + 2:], argv[i + 1])
        if arg.startswith("-c") and not arg.startswith("--"):
            return Target(argv[:i], None, None, argv[i + 1:], arg[2:])
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
    global _launcher_first
    _launcher_first = _launcher_entry()
    target = split_argv(argv)
    log_dir = _log_dir_option(target.options)
    if log_dir is False:
        # -h, an unknown option or a "-m" without a module (exit 2): argparse
        parser = _options_parser()
        options = unless_reader_gone(lambda: _parse_options(parser, target))
        if isinstance(options, int):
            return options                  # --help to a reader that went away
        log_dir = options.log_dir
    if target.module is not None:
        return _run_module(target.module, target.args, log_dir)
    if target.command is not None:
        return _run_command(target.command, target.args, log_dir)
    if target.script is None:
        _options_parser().print_usage(sys.stderr)
        sys.stderr.write("pyqtguard run: a SCRIPT, -m MODULE, -c COMMAND or - (stdin) is required\n")
        return 2
    return _run_path(target.script, target.args, log_dir)


def _log_dir_option(options: list[str]) -> str | None | bool:
    """run's options as argparse reads them when they are only ``--log-dir
    DIR`` or ``--log-dir=DIR`` (the last one wins), without importing it:
    the value, None without one; False for anything else (help, an error:
    argparse's to say).

    >>> _log_dir_option(["--log-dir", "a", "--log-dir=b"]), _log_dir_option([])
    ('b', None)
    >>> _log_dir_option(["--log-dir", "-x"]), _log_dir_option(["-h"])
    (False, False)
    """
    log_dir = None
    i = 0
    while i < len(options):
        name, sep, value = options[i].partition("=")
        if name != "--log-dir":
            return False
        if not sep:
            if i + 1 == len(options):
                return False
            i += 1
            value = options[i]
            if value.startswith("-"):       # argparse takes it for an option
                return False
        if not value.strip():
            return False
        log_dir = value
        i += 1
    return log_dir


# python's own options, which pyqtguard run does not take: they go to python.
_PYTHON_OPTION = r"-(?:[bBdEiIOPqsSuvVx]+|[WX].*)"


def _parse_options(parser: argparse.ArgumentParser, target: Target) -> argparse.Namespace:
    """argparse's reading of pyqtguard's own options; for one of python's
    (``-X dev``, ``-u``) the error says where it goes."""
    try:
        return parser.parse_args(target.options)
    except SystemExit as exc:
        import re

        flags = [o for o in target.options if re.fullmatch(_PYTHON_OPTION, o)]
        if exc.code == 2 and flags:
            flag = flags[0]
            value = f" {target.script}" if flag in ("-X", "-W") and target.script else ""
            sys.stderr.write(f"pyqtguard run: {flag} is an option of python's: give it "
                             f"to python, as in: python {flag}{value} -m pyqtguard run "
                             "...\n")
        raise


def _python_name() -> str:
    return sys.executable or "python"


def _install(log_dir: str | None, app_name: str, form: str | None = None,
             target: str = "") -> None:
    """install(), which must never keep the target from running: anything
    it raises (a bug of pyqtguard's, a log folder it cannot handle) is one
    warning, and the target runs unguarded.  Once installed, a restart of
    the target (*form* ``script``, ``module`` or ``command`` and *target*:
    :func:`pyqtguard.cli.restart.guard`) runs under ``pyqtguard run`` too."""
    import pyqtguard
    from ..config import sanitize_app_name

    try:
        installed = pyqtguard.install(log_dir=log_dir, app_name=sanitize_app_name(app_name))
    except Exception as exc:  # noqa: BLE001 - the app runs either way
        sys.stderr.write(f"pyqtguard run: not installed ({type(exc).__name__}: {exc}); "
                         "running unguarded\n")
        return
    if installed is not None and form is not None:
        from . import restart

        try:
            restart.guard(form, target, log_dir)
        except Exception as exc:  # noqa: BLE001 - the app runs either way
            sys.stderr.write(f"pyqtguard run: restarts of the app not guarded "
                             f"({type(exc).__name__}: {exc})\n")


def _launcher_entry() -> bool:
    """Whether sys.path[0] is the entry python added for the launcher
    itself: the console script's folder (or, on Windows, its .exe as a zip
    app), or the cwd of ``python -m pyqtguard``.  Not there under ``python
    -P``, nor for ``python -m`` in a cwd that was deleted: then sys.path[0]
    is someone else's (PYTHONPATH's first entry, the standard library)."""
    if getattr(sys.flags, "safe_path", False) or not sys.path or not sys.argv:
        return False
    candidates = []
    if sys.argv[0]:
        script = os.path.realpath(sys.argv[0])
        candidates += [script, os.path.dirname(script)]
    try:
        candidates.append(os.getcwd())
    except OSError:
        pass
    first = os.path.normcase(os.path.realpath(sys.path[0] or os.curdir))
    return first in {os.path.normcase(c) for c in candidates}


_launcher_first = False     # main_argv's reading of _launcher_entry()


def _set_path0(entry: str | None, *, importer: bool = False) -> None:
    """sys.path as python would make it for the target: the launcher's own
    entry out, then *entry* first - the script's folder, ``''`` for stdin
    and ``-c``, the cwd for ``-m`` (None: a cwd that was deleted, python
    adds nothing), a folder or zip target itself.  Under ``python -P``
    (``sys.flags.safe_path``) python adds only a folder or zip target."""
    global _launcher_first
    if _launcher_first:
        del sys.path[0]
        _launcher_first = False
    if entry is not None and (importer or not getattr(sys.flags, "safe_path", False)):
        sys.path.insert(0, entry)


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:             # deleted under us: python -m adds nothing
        return None


def _fresh_main_module() -> types.ModuleType:
    """An empty ``__main__`` in sys.modules, as python starts with (its
    ``__builtins__`` the module, the built-in importer as ``__loader__``,
    and before 3.14 an empty ``__annotations__``): runpy runs a module in
    ``__main__``'s namespace, which would otherwise be pyqtguard's own
    entry point's (its imports visible to the app).  From 3.14 (PEP 649)
    python's ``__main__`` has no ``__annotations__`` entry: the module's
    annotations come from the ``__annotate__`` its code defines, and an
    entry set here would hide them."""
    import builtins
    from _frozen_importlib import BuiltinImporter   # importlib.machinery's

    main = type(sys)("__main__")
    main.__dict__.update(__builtins__=builtins, __loader__=BuiltinImporter, __spec__=None)
    if sys.version_info < (3, 14):
        main.__dict__["__annotations__"] = {}
    sys.modules["__main__"] = main
    return main


def _run_module(module: str, module_args: list[str], log_dir: str | None) -> int:
    sys.argv = [module, *module_args]  # runpy replaces argv[0] with the file
    _set_path0(_cwd())
    _install(log_dir, module.split(".")[-1], "module", module)
    _fresh_main_module()
    import runpy        # as python does: once sys.path is the target's

    return _call_as_python_would(
        lambda: runpy._run_module_as_main(module, alter_argv=True))  # type: ignore[attr-defined]


def _run_command(command: str, command_args: list[str], log_dir: str | None) -> int:
    """``python -c COMMAND``: sys.argv[0] is ``-c``, sys.path[0] the cwd as
    ``''``, the code's file name ``<string>``."""
    sys.argv = ["-c", *command_args]
    _set_path0("")
    _install(log_dir, "python", "command", command)
    try:
        code = compile(command, "<string>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        sys.excepthook(type(exc), exc, None)
        return 1
    main = _fresh_main_module()
    return _call_as_python_would(lambda: exec(code, main.__dict__))


def _run_path(script: str, script_args: list[str], log_dir: str | None) -> int:
    if script == "-":
        sys.argv = [script, *script_args]
        _set_path0("")
        _install(log_dir, "stdin")
        # No stdin (python - <&-): python runs nothing, status 0.
        stdin = sys.stdin.buffer if sys.stdin is not None else io.BytesIO()
        return _exec_source(stdin, "<stdin>", from_file=False)
    # python's absolute name: the cwd joined, nothing normalized ("": the cwd)
    filename = os.path.join(_cwd() or "", script) if script else (_cwd() or os.curdir)
    try:
        os.stat(script or os.curdir)
    except OSError as exc:          # missing, a loop, too long, not reachable
        return _cannot_open(filename, exc)
    sys.argv = [script, *script_args]
    # What python asks first: is the target a sys.path entry (a folder, a
    # zip file)?  Then it goes first on sys.path and its __main__ module
    # runs as with -m (same frames in a traceback).
    importer = _path_importer(filename)
    if importer is not None:
        if getattr(importer, "find_spec", lambda _: None)("__main__") is None:
            sys.stderr.write(f"{_python_name()}: can't find '__main__' module in "
                             f"{filename!r}\n")
            return 1
        _set_path0(filename, importer=True)
        _install(log_dir, _stem(filename), "script", filename)
        _fresh_main_module()
        import runpy

        return _call_as_python_would(
            lambda: runpy._run_module_as_main("__main__", alter_argv=False))  # type: ignore[attr-defined]
    if os.path.isdir(filename):       # a folder no path hook takes
        sys.stderr.write(f"{_python_name()}: can't find '__main__' module in "
                         f"{filename!r}\n")
        return 1
    try:
        stream = open(filename, "rb")  # noqa: SIM115 - _exec_source closes it
    except OSError as exc:
        return _cannot_open(filename, exc)
    except KeyboardInterrupt:       # Ctrl+C while a FIFO waits for its writer
        import errno

        return _cannot_open(filename, InterruptedError(errno.EINTR, os.strerror(errno.EINTR)))
    _set_path0(os.path.dirname(os.path.realpath(filename)))
    _install(log_dir, _stem(filename), "script", filename)
    return _exec_source(stream, filename, from_file=True)


def _stem(filename: str) -> str:
    """The script's or folder's name without its suffix (the app name)."""
    return os.path.splitext(os.path.basename(os.path.normpath(filename)))[0]


def _path_importer(path: str) -> object:
    """pkgutil.get_importer(*path*), as python asks it of a target, without
    importing pkgutil: the path hook that takes *path* (a zip file, a
    folder), or None."""
    try:
        return sys.path_importer_cache[path]
    except KeyError:
        pass
    for hook in sys.path_hooks:
        try:
            importer = hook(path)
        except ImportError:
            continue
        sys.path_importer_cache.setdefault(path, importer)
        return importer
    return None


def _cannot_open(filename: str, exc: OSError) -> int:
    """python's message and status for a script it cannot open."""
    sys.stderr.write(f"{_python_name()}: can't open file {filename!r}: "
                     f"[Errno {exc.errno}] {exc.strerror}\n")
    return 2


def _load(data: bytes, filename: str, from_file: bool) -> tuple[object, object]:
    """What python does with a script's bytes: from a file, a .pyc (by its
    name or its magic number) is loaded as one, anything else compiled as
    source; returns (code, the ``__loader__`` python gives ``__main__``:
    none for stdin)."""
    from _frozen_importlib import BuiltinImporter       # importlib.machinery's
    from _frozen_importlib_external import MAGIC_NUMBER, SourceFileLoader, SourcelessFileLoader

    if not from_file:
        return _compile(data, filename), BuiltinImporter
    if filename.endswith(".pyc") or data[:2] == MAGIC_NUMBER[:2]:
        return _load_pyc(data), SourcelessFileLoader("__main__", filename)
    return _compile(data, filename), SourceFileLoader("__main__", filename)


def _load_pyc(data: bytes) -> object:
    import marshal

    from _frozen_importlib_external import MAGIC_NUMBER

    if data[:4] != MAGIC_NUMBER:
        raise RuntimeError("Bad magic number in .pyc file")
    code = marshal.loads(data[16:])
    if type(code) is not type(_load_pyc.__code__):
        raise RuntimeError("Bad code object in .pyc file")
    return code


def _compile(source: bytes, filename: str) -> object:
    if b"\0" in source:          # python's file reader says it this way
        line = source.count(b"\n", 0, source.index(b"\0")) + 1
        raise SyntaxError("source code cannot contain null bytes", (filename, line, 0, ""))
    return compile(source, filename, "exec", dont_inherit=True)


def _read_script(stream: BinaryIO) -> bytes:
    """All of *stream* (a file, a FIFO, a pipe, stdin), as python reads a
    script; stopping at a NUL byte, which python refuses in source anyway
    (so /dev/zero is a syntax error, not a read for ever)."""
    from _frozen_importlib_external import MAGIC_NUMBER

    parts = []
    while True:
        data = stream.read(1 << 16)
        if not data:
            break
        parts.append(data)
        if b"\0" in data and parts[0][:2] != MAGIC_NUMBER[:2]:
            break
    return b"".join(parts)


def _exec_source(stream: BinaryIO, filename: str, from_file: bool) -> int:
    """Read *stream* and run it in a fresh ``__main__``, as python runs a
    script (``from_file`` False: stdin, left open for the script)."""
    try:
        data = _read_script(stream)
        if from_file:
            stream.close()
        code, loader = _load(data, filename, from_file)
    except SyntaxError as exc:
        sys.excepthook(type(exc), exc, None)   # python shows no frames for it
        return 1
    except OSError as exc:
        return _cannot_open(filename, exc)
    except (RuntimeError, ValueError, EOFError, TypeError) as exc:   # a bad .pyc
        sys.excepthook(type(exc), exc, None)
        return 1
    main = _fresh_main_module()
    main.__dict__.update(__file__=filename, __cached__=None, __loader__=loader)
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
