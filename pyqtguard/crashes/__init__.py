"""Crash reports: the fatal-signal handler (:mod:`.handler`), Qt's messages
and ``qFatal`` (:mod:`.qt_messages`), and reading reports back
(:mod:`.reports`: ``last_crash()``, ``pyqtguard report``).
C side: ``src/crash.c``, ``src/threadlist.c``.

This package's face is the fatal-signal handler (what was ``crashes.handler``):

The fatal-signal handler: the Python side of ``src/crash.c``.

Fatal signals: the C handler writes the report (signal, time, thread name and
native id, native stack, thread legend, every thread's Python stack) to the
run log and stderr, then chains to the previous handler and re-raises the
signal.  Python stacks come from the C core itself on CPython 3.11-3.12.  On
3.13+ the dumpers it would need are no longer exported, so the stdlib
faulthandler is the engine: :func:`install` enables it on the run log
*before* the C handler is installed, so that the C handler runs first
(header, native stack, names) and then chains to faulthandler (stacks, then
the re-raise).  If the app had enabled faulthandler itself, its choice of
file is kept.  Otherwise, on Linux, faulthandler writes into a memfd and a
second C handler, installed before faulthandler is enabled (so that its
re-raise runs it), copies the stacks to the run log with pyqtguard's own
frames left out, as on 3.11-3.12.
"""
from __future__ import annotations

import sys

from .. import _native
from ..logs import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from ..config import Config

# Whether install() enabled faulthandler (3.13+); uninstall() disables it
# again only then.
_enabled_faulthandler = False
# ... with the run log's descriptor as its file (3.13+).
_faulthandler_on_run_log = False
# ... with the C core's memfd as its file (3.13+ on Linux), or -1.
_faulthandler_stacks_fd = -1


def write_fatal_report(reason: str) -> bool:
    """Write a full crash report for a fatal error that is not a signal yet
    (a Qt fatal message); the abort that follows adds one line, not a second
    report.  Returns False if a report was already being written."""
    written = bool(_native.write_fatal_report(reason))
    if written and _native.python_stacks_engine() == "faulthandler":
        # On Linux the report's log part waits in the C core for the stacks
        # copied from the memfd, so that it lands in one write() with them
        # (fork children sharing the log); released whatever happens here.
        try:
            fd = _native.log_fd()
            stacks_fd = _native.crash_stacks_fd()      # -1 once the app closed it
            if stacks_fd >= 0:
                import faulthandler
                import os

                start = os.lseek(stacks_fd, 0, os.SEEK_END)
                faulthandler.dump_traceback(file=stacks_fd, all_threads=True)
                _native.crash_copy_stacks(start)
            elif _faulthandler_stacks_fd >= 0:
                pass                                   # not into the app's file
            elif fd >= 0:
                import faulthandler

                faulthandler.dump_traceback(file=fd, all_threads=True)
        finally:
            _native.crash_release_report()
    return written


def _faulthandler_engine() -> bool:
    """Enable faulthandler on the run log where it must be the engine (3.13+)."""
    global _enabled_faulthandler, _faulthandler_on_run_log, _faulthandler_stacks_fd
    if _native.own_python_stacks_supported():
        return False                       # 3.11-3.12: the C core dumps stacks
    import faulthandler  # here: on 3.11-3.12 its module would only cost exit time

    if not faulthandler.is_enabled():
        fd = _native.log_fd()
        # 3.14's C stack symbolizes with dladdr(), which takes the loader's
        # lock (docs/crashes.md); the C core writes the native stack itself.
        no_c_stack = {"c_stack": False} if sys.version_info >= (3, 14) else {}
        # Its handler chains to the one in place when it is enabled: the C
        # core's stacks handler, which copies the dump from the memfd.
        stacks_fd = _native.crash_stacks_prepare()
        try:
            faulthandler.enable(file=stacks_fd if stacks_fd >= 0 else fd if fd >= 0 else 2,
                                all_threads=True, **no_c_stack)
        except BaseException:
            _native.crash_stacks_release()
            raise
        _enabled_faulthandler = True
        _faulthandler_stacks_fd = stacks_fd
        _faulthandler_on_run_log = stacks_fd < 0 and fd >= 0
        _watch_apps_enable(faulthandler)
    return True


# faulthandler.enable as it was before install() wrapped it, or None.
_original_enable: Callable[..., None] | None = None


def _watch_apps_enable(faulthandler: ModuleType) -> None:
    """Wrap ``faulthandler.enable`` while the faulthandler install() enabled
    is in force: an app that enables it again after install() (its own file)
    has made it its own, and uninstall() must leave it enabled."""
    global _original_enable
    if _original_enable is not None:
        return
    original = faulthandler.enable

    def enable(*args: Any, **kwargs: Any) -> None:
        global _enabled_faulthandler
        original(*args, **kwargs)
        _enabled_faulthandler = False           # the app's from now on

    enable.__doc__ = original.__doc__
    enable.__wrapped__ = original               # type: ignore[attr-defined]
    _original_enable = original
    faulthandler.enable = enable


def _unwatch_apps_enable() -> None:
    global _original_enable
    faulthandler = sys.modules.get("faulthandler")
    if _original_enable is None or faulthandler is None:
        return
    if getattr(faulthandler.enable, "__wrapped__", None) is _original_enable:
        faulthandler.enable = _original_enable  # unless the app wrapped it since
    _original_enable = None


def _dumped(text: str) -> str:
    """*text* as CPython's crash dumper (_Py_DumpASCII) writes it."""
    return "".join(c if " " <= c <= "~" else
                   f"\\x{ord(c):02x}" if ord(c) <= 0xFF else
                   f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"
                   for c in text)


def _own_frame_lines() -> tuple[bytes, bytes]:
    """How the crash report's stacks (the C core's on 3.11-3.12,
    faulthandler's on 3.13+) begin a frame line of pyqtguard's files, and of
    `pyqtguard run`'s launcher: those frames are left out of the crash
    report's stacks (registry/frames.py app_frames' rule)."""
    import os

    folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    launcher = os.path.join(folder, "cli", "run.py")
    return (f'  File "{_dumped(folder)}'.encode("ascii"),
            f'  File "{_dumped(launcher)}", line '.encode("ascii"))


def install(config: Config) -> None:
    """Arm the fatal-signal handlers (unless ``crash_handler=False``)."""
    if not config.crash_handler or _native.crash_enabled():
        return
    try:
        engine = _faulthandler_engine()
        # faulthandler keeps the run log's descriptor number: the C handler
        # does not chain to it once the app has closed the log (src/crash.c).
        # engine and not enabled by install(): the app's, its file kept
        _native.crash_enable(engine, _faulthandler_on_run_log, *_own_frame_lines(),
                             _faulthandler_stacks_fd, engine and not _enabled_faulthandler)
    except (OSError, MemoryError, ValueError, RuntimeError) as exc:
        warn_once("crash", f"crash reports are off: {exc}")


def uninstall() -> None:
    """Disarm the handlers; disable faulthandler if install() enabled it."""
    global _enabled_faulthandler, _faulthandler_on_run_log, _faulthandler_stacks_fd
    _native.crash_disable()
    _unwatch_apps_enable()
    if _enabled_faulthandler:
        import faulthandler

        faulthandler.disable()
    if _faulthandler_stacks_fd >= 0 or _enabled_faulthandler:
        # under faulthandler's: now on top (or, the app's faulthandler kept,
        # still under it: reached then, it passes the signal to the default)
        _native.crash_stacks_release()
    _enabled_faulthandler = False
    _faulthandler_on_run_log = False
    _faulthandler_stacks_fd = -1
