"""Guard the spawn and forkserver children of a guarded app (parent side).

When ``multiprocessing.util`` is imported, ``spawnv_passfds`` - through which
both the spawn start method and the forkserver launch their Python
processes on POSIX - is wrapped: the child's ``-c`` program first imports
:mod:`pyqtguard.children.child` (with pyqtguard's folder on ``sys.path``), so the
child is guarded even when the app never imports pyqtguard at the top of its
main module.  On Windows, ``spawn.get_command_line`` is wrapped the same way.
A frozen app's children are started as the app again (``exe
--multiprocessing-fork ...``, no ``-c``): there ``spawn.get_preparation_data``
is wrapped to name the report file, and :mod:`pyqtguard.children.frozen` guards
the child when its ``install()`` runs.

A child that refuses to bootstrap (it was about to build a QApplication or
start processes while re-running the main module) appends its message to a
report file named in ``PYQTGUARD_CHILD_REPORT``.  A watcher thread here sees
it, writes it to the run log and stderr, ends the children and ends the
program with exit status :data:`EXIT_STATUS_REFUSED` - rather than letting a
Pool respawn refusing workers forever or the app wait for results that never
come.  ``fork`` children are not touched.
"""
from __future__ import annotations

import os
import sys
import threading

from .. import qt as qt_attach

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ENV_REPORT = "PYQTGUARD_CHILD_REPORT"
# A frozen app's children (``exe --multiprocessing-fork ...``) have no -c
# program to name the report file in: it goes in the preparation data the
# parent sends them (read by :mod:`.frozen`; CPython's prepare() ignores it).
REPORT_KEY = "pyqtguard_child_report"
EXIT_STATUS_REFUSED = 3
_CHILD_MARKERS = ("spawn_main", "multiprocessing.forkserver import main")

_enabled = False
_in_child = False
_original_spawnv: Any = None
_original_command_line: Any = None
_original_preparation_data: Any = None
_report_path: str | None = None
_watcher_started = False


def _guard_prefix(forkserver: bool = False) -> str:
    """The guard's lines put before a child's ``-c`` program; *forkserver*:
    that program is the forkserver's (it is told so: see
    :func:`pyqtguard.children.child.in_forkserver`)."""
    # children/parent.py -> the folder that holds the pyqtguard package
    folder = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # pyqtguard's folder goes on sys.path only for this import (and only if
    # it is not there already), so the child's own sys.path is unchanged.
    # The report file is named in the child's environment (and so its own
    # children's), not in the app's: every subprocess of the app inherits that.
    report = _report_path or os.environ.get(ENV_REPORT)
    name_report = (f"__import__('os').environ.setdefault({ENV_REPORT!r}, {report!r})\n"
                   if report else "")
    options = worker_options()
    install_worker = ("    pyqtguard.children.child.install_when_prepared("
                      f"{options!r}, {_warned_here()!r})\n" if options else "")
    mark_forkserver = "    pyqtguard.children.child.in_forkserver()\n" if forkserver else ""
    return (name_report + "import sys\n"
            f"_pqg_added = {folder!r} not in sys.path\n"
            "if _pqg_added:\n"
            f"    sys.path.append({folder!r})\n"
            "try:\n"
            "    import pyqtguard.children.child\n"
            + mark_forkserver + install_worker +
            "except Exception:\n"
            "    pass\n"
            "finally:\n"
            "    if _pqg_added:\n"
            "        sys.path.pop()\n"
            "    del _pqg_added\n")


# install()'s options a worker gets from the app: the ones that are plain
# values.  Not dialogs (a worker shows none), report_to, scrub, auto_send.
_PASSED_TO_WORKERS = ("app_name", "keep_logs", "stderr", "exit_timeout", "freeze_ms",
                      "crash_handler", "qt_messages", "repeat_interval", "app_version")


def worker_options() -> dict[str, object]:
    """The options a worker whose main module does not call install() (the
    app calls it under ``if __name__ == "__main__":``, or runs under
    ``pyqtguard run``) installs pyqtguard with once multiprocessing has
    prepared it (:func:`pyqtguard.children.child.install_when_prepared`):
    the app's, its log folder the app's log's folder.  Only values whose
    ``repr`` is a Python literal (they are written into the child's ``-c``
    program); empty when pyqtguard is not installed here."""
    config_module = sys.modules.get("pyqtguard.config")
    config = config_module.installed_config() if config_module is not None else None
    if config is None:
        return {}
    options: dict[str, object] = {name: getattr(config, name) for name in _PASSED_TO_WORKERS}
    if config.dump_signal is None or config.dump_signal_explicit:
        options["dump_signal"] = config.dump_signal
    from .. import logs as runlog

    run_log = runlog.run_log_path()
    options["log_dir"] = os.path.dirname(run_log) if run_log is not None else config.log_dir
    return {name: value for name, value in options.items() if _is_literal(value)}


def _warned_here() -> list[str]:
    """The warnings this process gave already (say, its log folder cannot
    be used): its workers, installed with its options, would give them
    again each - one per task in a ``Pool(maxtasksperchild=1)``."""
    from .. import logs as runlog

    return runlog.warned()


def _is_literal(value: object) -> bool:
    if value is None or type(value) in (bool, int, str):
        return True
    return type(value) is float and value - value == 0.0       # finite: not inf, not nan


def _guarded_args(args: list[str]) -> list[str]:
    """The same command line, its ``-c`` program guarded first."""
    args = list(args)
    if getattr(sys, "frozen", False) and args and _runs_this_app(args[0]):
        # A frozen app's forkserver is the app again, which runs no -c program:
        # a prefix would only hide the command from the freeze_support() of
        # PyInstaller (it matches how the command starts) and from
        # children/helpers.py.
        return args
    for index in range(len(args) - 1):
        if args[index] == "-c" and any(m in args[index + 1] for m in _CHILD_MARKERS):
            if not _in_child:
                _ensure_report_file()     # a child's children report to its parent's
            forkserver = _CHILD_MARKERS[1] in args[index + 1]
            args[index + 1] = _guard_prefix(forkserver) + args[index + 1]
            break
    return args


def _runs_this_app(executable: object) -> bool:
    try:
        return bool(sys.executable) and os.fsdecode(executable) == sys.executable  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _spawnv_passfds(path: str, args: list[str], passfds: Any) -> int:
    if _enabled:
        args = _guarded_args(args)
    return _original_spawnv(path, args, passfds)  # type: ignore[no-any-return]


def _get_command_line(**kwds: Any) -> list[str]:
    args = _original_command_line(**kwds)
    return _guarded_args(args) if _enabled else args


def _get_preparation_data(name: str) -> Any:
    data = _original_preparation_data(name)
    if _enabled and isinstance(data, dict):
        try:
            if not _in_child:
                _ensure_report_file()
            report = _report_path or os.environ.get(ENV_REPORT)
            if report:
                data[REPORT_KEY] = report
        except Exception:  # noqa: BLE001 - the guard must never stop a launch
            pass
    return data


def _ensure_report_file() -> None:
    global _report_path
    if _report_path is not None:
        return
    from .. import logs as logfile

    current = logfile.current_path()
    folder = os.fspath(current.parent) if current is not None else None
    if folder is None:
        import tempfile

        folder = tempfile.gettempdir()
    path = os.path.join(folder, f".pyqtguard-children-{os.getpid()}")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        os.close(os.open(path, flags, 0o600))
    except OSError:
        return
    _report_path = path
    _start_watcher()
    import atexit

    atexit.register(_check_at_exit)


def _check_at_exit() -> None:
    """The app may end first (a BrokenProcessPool raised at once): the
    message must still be told, once, before the process is gone."""
    message = _read_report()
    if message:
        _end_program(message)
    elif _report_path:
        try:
            os.unlink(_report_path)
        except OSError:
            pass


def _read_report() -> str:
    try:
        with open(_report_path or "", encoding="utf-8", errors="replace") as stream:
            return stream.read().split("\n\n\x1e", 1)[0]
    except OSError:
        return ""


def _start_watcher() -> None:
    global _watcher_started
    if _watcher_started:
        return
    _watcher_started = True
    threading.Thread(target=_watch, name="pyqtguard-childwatch", daemon=True).start()


def end_if_a_child_refused() -> None:
    """Called before an exception report is written: a child that refused
    to start has ended, and the app's pool may have seen it die (a
    BrokenProcessPool) before the watcher read its message.  That exception
    is pyqtguard's doing: the child's message is told instead, and the
    program ends as the watcher would have ended it."""
    path = _report_path
    if path is None:
        return
    try:
        if os.path.getsize(path) == 0:
            return
    except OSError:
        return
    import time

    time.sleep(0.05)                      # let the child finish its message
    _end_program(_read_report())


def _watch() -> None:
    import time

    path = _report_path
    while path is not None:
        try:
            if os.path.getsize(path) > 0:
                break
        except OSError:
            return
        time.sleep(0.1)
    else:
        return
    time.sleep(0.05)                      # let the child finish its message
    _end_program(_read_report())


_ending = threading.Lock()


def _end_program(message: str) -> None:
    if not _ending.acquire(blocking=False):
        return                     # the watcher and atexit raced: one tells
    from .. import _native

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # noqa: BLE001
            pass
    # pyqtguard.logs.summary.CHILD_REFUSED_MARKER reads this line back.
    text = (f"\n{message.rstrip()}\n\npyqtguard: a child process refused to start (see "
            f"above); ending the program (exit status {EXIT_STATUS_REFUSED}) instead of "
            "letting it hang or respawn workers.\n")
    _native.log_write(text)
    if sys.stderr is not None:
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
    try:
        import multiprocessing

        for child in multiprocessing.active_children():
            child.terminate()
    except Exception:  # noqa: BLE001
        pass
    try:
        if _report_path:
            os.unlink(_report_path)
    except OSError:
        pass
    os._exit(EXIT_STATUS_REFUSED)


def _attach_util(util: Any) -> None:
    global _original_spawnv
    if _original_spawnv is None and hasattr(util, "spawnv_passfds"):
        _original_spawnv = util.spawnv_passfds
        util.spawnv_passfds = _spawnv_passfds


def _attach_spawn(spawn: Any) -> None:
    global _original_command_line, _original_preparation_data
    if sys.platform == "win32" and _original_command_line is None:
        _original_command_line = spawn.get_command_line
        spawn.get_command_line = _get_command_line
    if getattr(sys, "frozen", False) and _original_preparation_data is None:
        _original_preparation_data = spawn.get_preparation_data
        spawn.get_preparation_data = _get_preparation_data


def install(config: object = None) -> None:
    global _enabled
    if config is not None and not getattr(config, "guard_children", True):
        return
    if os.environ.get("PYQTGUARD_IN_CHILD"):
        return                              # a guarded child: its parent watches
    _enabled = True
    qt_attach.when_imported("multiprocessing.util", _attach_util)
    qt_attach.when_imported("multiprocessing.spawn", _attach_spawn)


def install_in_child() -> None:
    """In a guarded child: its own spawn/forkserver children are guarded too
    (a worker whose target starts processes).  They report to the same file,
    named in the environment the child inherited; the guarded parent at the
    top watches it."""
    global _enabled, _in_child
    if not os.environ.get(ENV_REPORT):
        return
    _enabled = _in_child = True
    qt_attach.when_imported("multiprocessing.util", _attach_util)
    qt_attach.when_imported("multiprocessing.spawn", _attach_spawn)


def uninstall() -> None:
    global _enabled
    _enabled = False
