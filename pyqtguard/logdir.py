"""Where run logs live: the per-app folder, the names of run logs, creating
this run's log and deleting old ones.

One text log per run, in a per-app folder::

    install(log_dir=...)            # used as is
    $PYQTGUARD_LOG_DIR              # used as is
    Linux:   $XDG_STATE_HOME/pyqtguard/<app>   (~/.local/state/pyqtguard/<app>)
    macOS:   ~/Library/Logs/pyqtguard/<app>
    Windows: %LOCALAPPDATA%/pyqtguard/<app>/Logs

Files are created 0600 with ``O_NOFOLLOW | O_EXCL`` (a planted symlink is
refused, never followed), folders 0700, and only the newest ``keep_logs`` runs
are kept.  What writes to this run's log is :mod:`pyqtguard.logfile`.

:func:`pyqtguard.install` loads this module for the call only (see
:func:`pyqtguard._installed.run_installer`); reports and the command line
load it as any module.  Start-up cost matters (this runs in every app's
start-up), so the install path uses ``os.path`` strings; ``pathlib`` is
imported only by the functions that return paths to callers.
"""
from __future__ import annotations

import os
import stat
import sys
import time

from . import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

LOG_PREFIX = "pyqtguard-"
LOG_SUFFIX = ".log"


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


def _sort_key(name: str) -> tuple[str, int]:
    day, clock, _pid, seq = name[len(LOG_PREFIX):-len(LOG_SUFFIX)].split("-")
    return (day + clock.ljust(9, "0"), int(seq))


def _unsorted_run_log_names(folder: str) -> list[str]:
    try:
        return [n for n in os.listdir(folder) if is_run_log(n)]
    except OSError:
        return []


def _run_log_names(folder: str) -> list[str]:
    return sorted(_unsorted_run_log_names(folder), key=_sort_key)


def run_logs(folder: str | os.PathLike[str]) -> list[Path]:
    """The run logs in *folder*, oldest first (names sort by start time)."""
    from pathlib import Path

    return [Path(folder, n) for n in _run_log_names(os.fspath(folder))]


def _make_private_dir(folder: str) -> None:
    try:
        info = os.lstat(folder)       # the usual case: there from earlier runs
    except FileNotFoundError:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode):
        raise OSError(f"{folder} is a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{folder} is not a directory")


def prune_old_runs(own_log: str, keep: int) -> None:
    """Delete all but the newest *keep* run logs in the folder of *own_log*,
    this run's log (never deleted, whatever the clock said to earlier runs).

    Deleted by the C core's own thread where it can: off the start-up path
    (an unlink costs ~1 ms on ext4), and the exit waits for it."""
    folder, own = os.path.split(own_log)
    names = _unsorted_run_log_names(folder)
    if len(names) <= keep:
        return                        # nothing to delete: no need to sort
    if own in names:
        names.remove(own)
    names.sort(key=_sort_key)
    old = [os.path.join(folder, n) for n in names[: max(0, len(names) - (keep - 1))]]
    # With each run log goes the runtime file of its dump handler, if the run
    # left one (see pyqtguard._dumptarget: it is not removed at exit).
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


def _open_exclusive(folder: str) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    now = time.time()
    t = time.gmtime(now)
    stamp = (f"{t.tm_year:04d}{t.tm_mon:02d}{t.tm_mday:02d}-{t.tm_hour:02d}{t.tm_min:02d}"
             f"{t.tm_sec:02d}{int(now * 1000) % 1000:03d}")
    for seq in range(1000):
        path = os.path.join(folder, f"{LOG_PREFIX}{stamp}-{os.getpid()}-{seq}{LOG_SUFFIX}")
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            continue
        return path, fd
    raise OSError(f"no free log file name in {folder}")



def create_run_log(folder: str, header: str) -> tuple[str, int]:
    """Create this run's log in *folder* (made private if new), write
    *header* to it and return its path and descriptor; raises OSError."""
    _make_private_dir(folder)
    path, fd = _open_exclusive(folder)
    try:
        os.write(fd, header.encode("utf-8", "backslashreplace"))
    except OSError:
        os.close(fd)
        raise
    return path, fd
