"""Where run logs live: the per-app folder, the names of run logs, creating
this run's log and deleting old ones.

One text log per run, in a per-app folder::

    install(log_dir=...)            # used as is
    $PYQTGUARD_LOG_DIR              # used as is
    Linux:   $XDG_STATE_HOME/pyqtguard/<app>   (~/.local/state/pyqtguard/<app>)
    macOS:   ~/Library/Logs/pyqtguard/<app>
    Windows: %LOCALAPPDATA%/pyqtguard/<app>/Logs

Files are created 0600 with ``O_NOFOLLOW | O_EXCL`` (a planted symlink is
refused, never followed), folders 0700 (and the parents pyqtguard creates),
whatever the umask.  A folder is used only if it is this user's and not
writable by group or others (a symlink to such a folder is fine), and only
the newest ``keep_logs`` runs are kept.

A spawn or forkserver worker that runs the app's ``install()`` again (it
re-imports the main module as ``__mp_main__``) writes a log of its own,
named ``pyqtguard-worker-...`` (:data:`WORKER_PREFIX`): not a run of the
app.  Worker logs are counted apart, with a cap of their own
(:func:`worker_logs_kept`), and a worker prunes only worker logs: a pool
never pushes out the app's logs - last run's crash above all - nor the
app's live log.  What writes to this run's log is :mod:`pyqtguard.logs`.

Start-up cost matters (this runs in every app's start-up), so the install
path uses ``os.path`` strings; ``pathlib`` is imported only by the functions
that return paths to callers.
"""
from __future__ import annotations

import os
import stat
import sys
import time

from .. import _native
from .._version import __version__
from .. import logs as runlog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Config

LOG_PREFIX = "pyqtguard-"
LOG_SUFFIX = ".log"
WORKER_PREFIX = "pyqtguard-worker-"     # a multiprocessing worker's own log
WORKER_LOGS_PER_CPU = 4                 # worker logs kept: see worker_logs_kept()


def _default_root() -> str:
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, "pyqtguard")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Logs", "pyqtguard")
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    base = state if state and os.path.isabs(state) else os.path.join(home, ".local", "state")
    return os.path.join(base, "pyqtguard")


def folder_for(log_dir: str | os.PathLike[str] | None, app_name: str) -> str:
    """:func:`resolve_log_dir` as a string (no ``pathlib``: for start-up code)."""
    if log_dir is not None:
        return os.fspath(log_dir)
    if sys.platform == "win32":
        return os.path.join(_default_root(), app_name, "Logs")
    return os.path.join(_default_root(), app_name)


def default_root() -> Path:
    """The platform's folder for app state and logs, plus ``pyqtguard``."""
    from pathlib import Path

    return Path(_default_root())


def resolve_log_dir(log_dir: str | os.PathLike[str] | None, app_name: str) -> Path:
    """The folder this app's run logs go to."""
    from pathlib import Path

    return Path(folder_for(log_dir, app_name))


def is_run_log(name: str) -> bool:
    """True for the file names pyqtguard gives run logs:
    ``pyqtguard-YYYYmmdd-HHMMSSmmm-<pid>-<seq>.log`` (milliseconds, so
    runs started within one second still sort in order; names without
    them, from older versions, are accepted)."""
    if not (name.startswith(LOG_PREFIX) and name.endswith(LOG_SUFFIX)):
        return False
    parts = name[len(LOG_PREFIX):-len(LOG_SUFFIX)].split("-")
    return (len(parts) == 4 and all(p.isdigit() and p.isascii() for p in parts)
            and len(parts[0]) == 8 and len(parts[1]) in (6, 9))


def is_worker_log_name(name: str) -> bool:
    """True for the names of multiprocessing workers' own logs:
    ``pyqtguard-worker-YYYYmmdd-HHMMSSmmm-<pid>-<seq>.log`` (not run logs
    of the app: :func:`is_run_log` is False for them)."""
    return (name.startswith(WORKER_PREFIX)
            and is_run_log(LOG_PREFIX + name[len(WORKER_PREFIX):]))


def _is_any_log(name: str) -> bool:
    return is_run_log(name) or is_worker_log_name(name)


def _stem(name: str) -> str:
    """``DATE-TIME-PID-N`` of a run log's or a worker log's name."""
    prefix = WORKER_PREFIX if name.startswith(WORKER_PREFIX) else LOG_PREFIX
    return name[len(prefix):-len(LOG_SUFFIX)]


def pid_in_name(path: str | os.PathLike[str]) -> int:
    """The pid a run log's name gives (``pyqtguard-DATE-TIME-PID-N.log``,
    a worker's ``pyqtguard-worker-DATE-TIME-PID-N.log``); -1 if the name
    has none."""
    parts = _stem(os.path.basename(os.fspath(path))).split("-")
    return int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else -1


def _sort_key(name: str) -> tuple[str, int]:
    day, clock, _pid, seq = _stem(name).split("-")
    return (day + clock.ljust(9, "0"), int(seq))


def _unsorted_names(folder: str, test=is_run_log) -> list[str]:
    try:
        return [n for n in os.listdir(folder) if test(n)]
    except OSError:
        return []


def run_logs(folder: str | os.PathLike[str], *, workers: bool = False) -> list[Path]:
    """The run logs of the app's runs in *folder*, oldest first (names sort
    by start time); ``workers=True``: its multiprocessing workers' own logs
    too, in the same order."""
    from pathlib import Path

    names = _unsorted_names(os.fspath(folder), _is_any_log if workers else is_run_log)
    return [Path(folder, n) for n in sorted(names, key=_sort_key)]


def list_run_logs(folder: str | os.PathLike[str], *, workers: bool = False) -> list[Path]:
    """:func:`run_logs`, but a folder that exists and cannot be listed
    raises OSError (a missing folder has no run logs)."""
    from pathlib import Path

    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    test = _is_any_log if workers else is_run_log
    return [Path(folder, n) for n in sorted(filter(test, names), key=_sort_key)]


def worker_logs_kept(keep: int) -> int:
    """How many worker logs a folder keeps: ``max(keep_logs, 4 x CPUs)`` -
    a pool's default size is the CPU count, so the logs of the last few
    pools, a crashed worker's among them, outlive the clean workers
    started after it; a pool started again and again stays bounded."""
    return max(keep, WORKER_LOGS_PER_CPU * (os.cpu_count() or 1))


def is_multiprocessing_worker() -> bool:
    """Whether this process is a spawn or forkserver worker starting up:
    running the main module again (``__mp_main__`` is loaded and is not
    ``__main__``: in the app, importing multiprocessing makes the two names
    one module; in a worker ``__main__`` is multiprocessing's bootstrap), or
    just done with that and still bootstrapping (multiprocessing's
    ``_inheriting`` flag, 3.11-3.14: where :mod:`pyqtguard.children.child`
    installs pyqtguard in a worker whose main module did not)."""
    mp_main = sys.modules.get("__mp_main__")
    if mp_main is not None and mp_main is not sys.modules.get("__main__"):
        return True
    process = sys.modules.get("multiprocessing.process")
    return bool(process is not None
                and getattr(process.current_process(), "_inheriting", False))


class UnsafeFolder(OSError):
    """A log folder others could tamper with: not used (see :func:`check_folder`)."""


def _make_dirs_private(folder: str) -> None:
    """Create *folder* and any missing parents, each 0700 whatever the umask
    (``os.makedirs`` gives the parents ``0777 & ~umask``)."""
    missing = []
    path = os.path.abspath(folder)
    while not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue                  # made by another process meanwhile: checked below
        os.chmod(path, 0o700)         # a umask such as 0o277 takes bits from mkdir's mode


def check_folder(info: os.stat_result, folder: str) -> None:
    """Raise :class:`UnsafeFolder` unless *info* (the folder's ``stat``,
    symlinks followed) is a folder owned by this user and not writable by
    group or others - what OpenSSH demands of ``~/.ssh`` and the XDG spec of
    ``$XDG_RUNTIME_DIR``: anyone else who can write there can delete the
    live log, plant a FIFO or plant a "crashed last time" report."""
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFolder(f"{folder} is not a directory")
    if not hasattr(os, "getuid"):
        return                        # Windows: ACLs, not mode bits
    if info.st_uid != os.getuid():
        raise UnsafeFolder(f"refused: it is owned by another user (uid {info.st_uid}), "
                           "who could tamper with the logs")
    if info.st_mode & 0o022:
        raise UnsafeFolder("refused: it is writable by group or others "
                           f"(mode {stat.S_IMODE(info.st_mode):04o}), who could tamper "
                           "with the logs")


def _open_private_dir(folder: str) -> int | None:
    """Create *folder* if missing (0700), check it and return a descriptor
    on it to create files in (None where ``dir_fd`` is not supported)."""
    if not os.path.lexists(folder):
        _make_dirs_private(folder)
    if os.open not in os.supports_dir_fd or not hasattr(os, "O_DIRECTORY"):
        check_folder(os.stat(folder), folder)
        return None
    # The checks are made on the open folder, and the file is created in
    # it: swapping the path afterwards redirects nothing.
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        check_folder(os.fstat(dir_fd), folder)
    except OSError:
        os.close(dir_fd)
        raise
    return dir_fd


def prune_old_runs(own_log: str, keep: int) -> None:
    """Delete all but the newest *keep* run logs in the folder of *own_log*,
    this run's log (never deleted, whatever the clock said to earlier runs),
    and all but the newest :func:`worker_logs_kept` workers' logs.  A
    worker (*own_log* is a worker log) prunes workers' logs only: it never
    deletes a log of the app's, the app's live log included.  Workers' logs
    that hold a report go after the quiet ones (:func:`_quiet_first`).

    Deleted by the C core's own thread where it can: off the start-up path
    (an unlink costs ~1 ms on ext4), and the exit waits for it."""
    folder, own = os.path.split(own_log)
    try:
        listing = os.listdir(folder)
    except OSError:
        return
    old: list[str] = []
    kinds = [(is_worker_log_name, worker_logs_kept(keep))]
    if not is_worker_log_name(own):
        kinds.insert(0, (is_run_log, keep))
    for test, cap in kinds:
        names = [n for n in listing if test(n)]
        if len(names) <= cap:
            continue                  # nothing to delete: no need to sort
        if own in names:
            names.remove(own)
            cap -= 1
        names.sort(key=_sort_key)
        if test is is_worker_log_name:
            names = _quiet_first(folder, names)
        old += [os.path.join(folder, n) for n in names[: max(0, len(names) - cap)]]
    # A log its run still holds open stays: another instance of the app (a
    # single-instance app's every launch is a short guarded run), a worker
    # still at work.  Its reports, a crash report too, went to an unlinked
    # file.  It goes once its run has ended.
    old = [path for path in old if not _held_by_its_run(path)]
    if not old:
        return
    # With each run log goes the runtime file of its dump handler, if the run
    # left one (see pyqtguard.watchdog.dump: it is not removed at exit).
    old += [path[: -len(LOG_SUFFIX)] + ".dump" for path in old]
    try:
        if _native.unlink_in_background(old):
            return
    except (OSError, ValueError):
        pass                          # a name the C side cannot take: below
    for path in old:
        try:
            os.unlink(path)
        except OSError:
            pass


def _held_by_its_run(path: str) -> bool:
    """Whether the run its name gives - another process than this one -
    still has *path* open (:func:`holds_open`)."""
    pid = pid_in_name(path)
    return pid != os.getpid() and holds_open(pid, path)


def holds_open(pid: int, path: str | os.PathLike[str]) -> bool:
    """Whether process *pid* is alive and - where the system says so (Linux's
    ``/proc``) - has *path* open: the run log stays open for the whole run,
    so a reused pid of another program does not count.  Elsewhere a live
    pid is enough.  A dead pid costs one ``listdir`` (or ``kill(pid, 0)``).

    Example::

        holds_open(4242, "/home/me/.local/state/pyqtguard/app/run.log")
    """
    if pid <= 0:
        return False
    fd_dir = f"/proc/{pid}/fd"
    if sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd"):
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return False              # gone, or another user's: not this log's
        target = os.path.realpath(path)
        for name in names:
            try:
                if os.readlink(os.path.join(fd_dir, name)) == target:
                    return True
            except OSError:
                continue
        return False
    if sys.platform == "win32":
        return windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True                    # alive, another user's
    return True


def windows_pid_alive(pid: int) -> bool:
    """Windows: whether process *pid* still runs (``OpenProcess``, then
    ``GetExitCodeProcess`` is ``STILL_ACTIVE``).  Not ``os.kill(pid, 0)``:
    there signal 0 is ``CTRL_C_EVENT``, which ``GenerateConsoleCtrlEvent``
    sends to the processes of the caller's console (the caller included),
    and which never raises for a pid that has ended (every log of an ended
    run read "still running").  A process that ended with status 259
    (``STILL_ACTIVE`` itself) reads as running."""
    import _winapi

    try:
        handle = _winapi.OpenProcess(0x1000, False, pid)   # PROCESS_QUERY_LIMITED_INFORMATION
    except OverflowError:
        return False
    except OSError as error:
        return getattr(error, "winerror", None) == 5       # access denied: alive, protected
    try:
        return _winapi.GetExitCodeProcess(handle) == 259   # STILL_ACTIVE
    except OSError:
        return False
    finally:
        _winapi.CloseHandle(handle)


# A worker log larger than this holds more than its header and a few
# lifecycle lines: a report (a crash report is several KB).
REPORT_BYTES = 1024


def _quiet_first(folder: str, names: list[str]) -> list[str]:
    """Workers' logs (oldest first) in the order they go: the quiet ones
    (header only: a clean worker's) before those that hold a report, so
    that churning workers (``Pool(maxtasksperchild=1)``, a pool started
    again and again) do not push out a crashed worker's log; oldest first
    within each."""
    def holds_report(name: str) -> bool:
        try:
            return os.stat(os.path.join(folder, name), follow_symlinks=False).st_size > REPORT_BYTES
        except OSError:
            return False
    return sorted(names, key=holds_report)          # stable: oldest first in each


def _open_exclusive(folder: str, dir_fd: int | None,
                    prefix: str = LOG_PREFIX) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    # Windows: not text mode, whose _write() turns each "\n" into "\r\n"
    # (the readers end lines at "\n" alone: a "\r" may be the app's text).
    flags |= getattr(os, "O_BINARY", 0)
    now = time.time()
    t = time.gmtime(now)
    stamp = (f"{t.tm_year:04d}{t.tm_mon:02d}{t.tm_mday:02d}-{t.tm_hour:02d}{t.tm_min:02d}"
             f"{t.tm_sec:02d}{int(now * 1000) % 1000:03d}")
    for seq in range(1000):
        name = f"{prefix}{stamp}-{os.getpid()}-{seq}{LOG_SUFFIX}"
        try:
            if dir_fd is None:
                fd = os.open(os.path.join(folder, name), flags, 0o600)
            else:
                fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            continue
        return name, runlog.above_stdio(fd)
    raise OSError(f"no free log file name in {folder}")


def create_run_log(folder: str, header: str, *, worker: bool = False) -> tuple[str, int]:
    """Create this run's log in *folder* and write *header* to it; return
    its path and descriptor (``worker=True``: named as a multiprocessing
    worker's log, :data:`WORKER_PREFIX`).  The folder is created 0700 if missing (its
    missing parents too) and used only if it is this user's and private
    (:func:`check_folder`; a symlink to such a folder is fine).  The file is
    created 0600, never through a symlink, and removed again if the header
    cannot be written (a full disk leaves no empty logs behind).  Raises
    OSError (:class:`UnsafeFolder` for a folder others could tamper with).
    """
    dir_fd = _open_private_dir(folder)
    try:
        name, fd = _open_exclusive(folder, dir_fd, WORKER_PREFIX if worker else LOG_PREFIX)
        try:
            data = header.encode("utf-8", "backslashreplace")
            if os.write(fd, data) != len(data):
                import errno        # here: every start would pay for its 139 names

                raise OSError(errno.ENOSPC, "the run log's header could not be written")
        except OSError:
            os.close(fd)
            try:
                if dir_fd is None:
                    os.unlink(os.path.join(folder, name))
                else:
                    os.unlink(name, dir_fd=dir_fd)
            except OSError:
                pass
            raise
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    return os.path.join(folder, name), fd


# ---- this run's log ------------------------------------------------------------

_FORKSERVER_COMMAND = b"from multiprocessing.forkserver import main"


def _forkservers_parent(ppid: int) -> int:
    """The app's pid if process *ppid* is multiprocessing's forkserver
    (its command line says so) and the system tells its parent (Linux's
    /proc, two small bounded reads); 0 otherwise."""
    try:
        with open(f"/proc/{ppid}/cmdline", "rb") as file:
            if _FORKSERVER_COMMAND not in file.read(4096):
                return 0
        with open(f"/proc/{ppid}/stat", "rb") as file:
            fields = file.read(4096).rpartition(b")")[2].split()
        return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
    except (OSError, ValueError):
        return 0


def _worker_line() -> str:
    """``worker of: pid N (...)``: whose worker this process is - the app's
    pid; a forkserver worker names the app (the forkserver's parent) where
    the system tells it, and the forkserver."""
    ppid = os.getppid()
    app = _forkservers_parent(ppid) if sys.platform.startswith("linux") else 0
    if app > 1:
        return (f"worker of: pid {app} (a multiprocessing child running the main "
                f"module again, forked by the forkserver pid {ppid})\n")
    return (f"worker of: pid {ppid} (a multiprocessing child running the main "
            "module again)\n")


def run_log_header(config: Config) -> str:
    """The first lines of a run log: what ran, where, when (no argument
    values, no environment: they may hold secrets)."""
    started = runlog.stamp()
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "-"
    # A spawn or forkserver worker runs the main module again as
    # __mp_main__, and so the app's install(): its log says whose it is
    # (read back by read.is_worker_log and summary.py; the log's name says
    # it too, for the pruner).
    worker = _worker_line() if is_multiprocessing_worker() else ""
    return (
        f"pyqtguard {__version__} run log\n"
        f"app: {config.app_name}\n"
        f"pid: {os.getpid()}\n"
        + worker +
        f"started: {started}\n"
        f"python: {sys.version.split()[0]} ({sys.platform})\n"
        f"script: {script} ({max(0, len(sys.argv) - 1)} arguments, values not logged)\n"
        "\n"
    )


def open_run_log(config: Config) -> str | None:
    """Create this run's log and hand it to the C core; returns its path.
    Without one (the folder cannot be used), reports go to stderr only, with
    one warning, and this returns None.

    Example::

        path = open_run_log(make_config(app_name="photo-editor"))
    """
    kept = runlog.run_log_path()
    if kept is not None:                        # from an earlier install()
        _native.set_log_limit(config.max_log_bytes or 0)
        return kept
    folder = folder_for(config.log_dir, config.app_name)
    try:
        path, fd = create_run_log(folder, run_log_header(config),
                                  worker=is_multiprocessing_worker())
    except OSError as exc:
        runlog.warn_once("logdir", f"cannot write run logs to {folder} ({exc}); "
                         "reports go to stderr only")
        return None
    runlog.use_run_log(path, fd)
    _native.set_log_limit(config.max_log_bytes or 0)
    return path
