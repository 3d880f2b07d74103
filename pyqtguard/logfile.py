"""Where the run logs live, and the one log file of this run.

One text log per run, in a per-app folder::

    install(log_dir=...)            # used as is
    $PYQTGUARD_LOG_DIR              # used as is
    Linux:   $XDG_STATE_HOME/pyqtguard/<app>   (~/.local/state/pyqtguard/<app>)
    macOS:   ~/Library/Logs/pyqtguard/<app>
    Windows: %LOCALAPPDATA%/pyqtguard/<app>/Logs

Files are created 0600 with ``O_NOFOLLOW | O_EXCL`` (a planted symlink is
refused, never followed), folders 0700, and only the newest ``keep_logs`` runs
are kept.  The descriptor stays open for the whole process and is handed to the
C core, which writes crash and hang reports to it from signal handlers and its
watchdog thread.
"""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from . import _native
from ._warn import warn_once

LOG_PREFIX = "pyqtguard-"
LOG_SUFFIX = ".log"
_RUN_LOG_RE = re.compile(r"^pyqtguard-\d{8}-\d{6}-\d+-\d+\.log$")

_path: Path | None = None


def default_root() -> Path:
    """The platform's folder for app state and logs, plus ``pyqtguard``."""
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / "pyqtguard"
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / "pyqtguard"
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    base_path = Path(state) if state and os.path.isabs(state) else home / ".local" / "state"
    return base_path / "pyqtguard"


def resolve_log_dir(log_dir: Path | None, app_name: str) -> Path:
    """The folder this app's run logs go to."""
    if log_dir is not None:
        return log_dir
    if sys.platform == "win32":
        return default_root() / app_name / "Logs"
    return default_root() / app_name


def is_run_log(name: str) -> bool:
    """True for the file names pyqtguard gives run logs."""
    return bool(_RUN_LOG_RE.match(name))


def run_logs(folder: Path) -> list[Path]:
    """The run logs in *folder*, oldest first (names sort by start time)."""
    try:
        names = [n for n in os.listdir(folder) if is_run_log(n)]
    except OSError:
        return []
    return [folder / n for n in sorted(names, key=_sort_key)]


def _sort_key(name: str) -> tuple[str, int]:
    stem = name[len(LOG_PREFIX) : -len(LOG_SUFFIX)]
    day, clock, pid, seq = stem.split("-")
    return (day + clock, int(seq))


def _make_private_dir(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.is_symlink():
        raise OSError(f"{folder} is a symbolic link")
    if not folder.is_dir():
        raise OSError(f"{folder} is not a directory")


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep - 1`` runs, making room for this one."""
    logs = run_logs(folder)
    for old in logs[: max(0, len(logs) - (keep - 1))]:
        try:
            old.unlink()
        except OSError:
            pass


def _open_exclusive(folder: Path) -> tuple[Path, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for seq in range(1000):
        path = folder / f"{LOG_PREFIX}{stamp}-{os.getpid()}-{seq}{LOG_SUFFIX}"
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            continue
        return path, fd
    raise OSError(f"no free log file name in {folder}")


def open_run_log(folder: Path, keep: int, header: str) -> Path | None:
    """Create this run's log in *folder* and hand its fd to the C core.

    Returns the path, or None (with one warning) when the folder cannot be
    used; reports then go to stderr only.
    """
    global _path
    if _path is not None and _native.log_fd() >= 0:
        return _path
    try:
        _make_private_dir(folder)
        _prune(folder, keep)
        path, fd = _open_exclusive(folder)
        os.write(fd, header.encode("utf-8", "backslashreplace"))
    except OSError as exc:
        warn_once("logdir", f"cannot write run logs to {folder} ({exc}); "
                  "reports go to stderr only")
        return None
    _native.set_log_fd(fd)
    _path = path
    return path


def current_path() -> Path | None:
    """The path of this run's log file, or None if there is none."""
    return _path if _native.log_fd() >= 0 else None


def write(text: str) -> None:
    """Append *text* to this run's log (no-op without one); never raises."""
    if not _native.log_write(text) and _native.log_fd() >= 0:
        if _native.take_write_failure():
            warn_once("logwrite", f"cannot write to the run log {_path} "
                      "(disk full or file gone); reports go to stderr only")
