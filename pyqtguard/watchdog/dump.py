"""The dump signal: ``kill -USR1 PID`` (or ``pyqtguard dump PID``) writes the
thread table and every thread's stack into the run log, without stopping the
app.

The C core catches the signal and wakes the watchdog (``src/watchdog.c``),
whose report helper writes the dump (:mod:`pyqtguard.watchdog`).

The signal is never taken from anyone.  Python's ``signal.getsignal()``
reports what Python itself set; a ``SIG_IGN`` or a handler set by C code (a
library, ``faulthandler``, ``ctypes``) is invisible to it, so the real
disposition is read with ``sigaction`` (``_native.signal_disposition``):

- default: pyqtguard takes the signal;
- ignored, or handled (by Python code or natively): left alone - the dump
  signal is off, with one warning naming the signal and how to pick
  another - unless the app asked for this signal explicitly
  (``install(dump_signal=...)``), which takes it;
- :func:`uninstall` puts back the exact previous ``sigaction`` (handler,
  mask, flags), not ``SIG_DFL`` - unless the app set its own handler since
  (``signal.signal`` after ``install()``), which stays.

While armed, a runtime file next to the run log says so, for ``pyqtguard
dump`` (format and checks: :mod:`pyqtguard.watchdog.dumptarget`).

Also here: on CPython 3.13+ the C core can no longer read Python stacks
without the GIL, so its fallback reports (the GIL held for good; a hang
while the interpreter finalizes) get them from faulthandler, registered on a
free real-time signal with the run log as its file.
"""
from __future__ import annotations

import os
import sys

import _signal  # the C module: `signal` builds enums, ~1 ms of start-up

from .. import _native
from ..logs import run_log_path, warn_once
from .. import watchdog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..config import Config

DEFAULT, IGNORED, HANDLED = 0, 1, 2   # _native.signal_disposition()
SUFFIX = ".dump"                      # the runtime file: the run log's name, this suffix
MAGIC = "pyqtguard dump target 1"

_dump_signal: int | None = None      # the signal armed, while installed
_stack_signal = 0                    # faulthandler's signal for fallback stacks (3.13+)
_written: str | None = None          # this process's runtime file, while armed


def dump_signal() -> int | None:
    """The dump signal armed in this process, or None."""
    return _dump_signal


def _dump() -> None:
    from ..registry import listing as registry

    registry.dump_threads()


def _install_dump_signal(signum: int | None, explicit: bool) -> None:
    global _dump_signal
    if signum is None or not hasattr(_signal, "SIGUSR1"):
        return
    watchdog.on_request("D", _dump)
    if _arm(signum, explicit=explicit, run_log=run_log_path()):
        _dump_signal = signum


def _uninstall_dump_signal() -> None:
    global _dump_signal
    if _dump_signal is not None:
        _disarm()
        _dump_signal = None


def signal_name(signum: int) -> str:
    """``SIGUSR1`` for 10 (without importing the ``signal`` module's enums)."""
    for name in dir(_signal):
        if name.startswith("SIG") and not name.startswith("SIG_") and \
                getattr(_signal, name) == signum and not name.startswith("SIGRT"):
            return name
    return f"signal {signum}"


def _in_use(signum: int) -> str | None:
    """How *signum* is in use, or None if it has its default action."""
    python_view = _signal.getsignal(signum)
    if callable(python_view):
        return "handled by the app's Python code"
    disposition = _native.signal_disposition(signum)
    if disposition == IGNORED:
        return "ignored (SIG_IGN)"
    if disposition == HANDLED:
        return "handled by native code (a library's handler)"
    return None


def _arm(signum: int, *, explicit: bool, run_log: str | None) -> bool:
    """Take *signum* for thread dumps if it is free (or *explicit*);
    True if taken.  Environmental trouble warns once and returns False."""
    watchdog.ensure_started()
    try:
        use = _in_use(signum)
    except (ValueError, OSError) as exc:
        warn_once("dump-signal", f"no dump signal: signal {signum}: {exc}")
        return False
    if use is not None and not explicit:
        name = signal_name(signum)
        other = "SIGUSR2" if name == "SIGUSR1" else "SIGUSR1"
        warn_once("dump-signal",
                  f"no dump signal: signal {signum} is in use ({name} is {use}) "
                  f"and left alone; pick another with install(dump_signal=signal.{other}), "
                  f"or silence this with dump_signal=None")
        return False
    try:
        _native.dump_signal_enable(signum)
    except OSError as exc:
        warn_once("dump-signal", f"no dump signal: {exc}")
        return False
    if run_log is not None:
        try:
            _write_runtime_file(run_log, signum)
        except OSError as exc:
            warn_once("dump-target", f"`pyqtguard dump` will not reach this "
                      f"process: cannot write its runtime file ({exc})")
    return True


def _disarm() -> None:
    """Remove the runtime file, then put back the previous sigaction."""
    _remove_runtime_file()
    _native.dump_signal_disable()


# ---- the runtime file (read by pyqtguard.watchdog.dumptarget, for `pyqtguard dump`) ----

def _own_start_time() -> str | None:
    """Field 22 of /proc/self/stat: this process's start, in clock ticks
    after boot - with the PID, a name no later process can have."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read(4096).rpartition(b")")[2].split()
        return fields[19].decode("ascii") if fields[19].isdigit() else None
    except (OSError, IndexError):
        return None


def _write_runtime_file(run_log: str, signum: int) -> None:
    """Record that this process's handler for *signum* is armed, next to
    its run log (Linux only: elsewhere `pyqtguard dump` cannot check it)."""
    global _written
    if not sys.platform.startswith("linux"):
        return
    _remove_runtime_file()
    start = _own_start_time()
    if start is None:
        return
    path = (run_log[:-4] if run_log.endswith(".log") else run_log) + SUFFIX
    text = f"{MAGIC}\npid: {os.getpid()}\nstart: {start}\nsignal: {signum}\n"
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)
    _written = path


def _remove_runtime_file() -> None:
    global _written
    path, _written = _written, None
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass


def _install_stack_signal() -> None:
    global _stack_signal
    if _native.own_python_stacks_supported():
        return                     # 3.11-3.12: the C core reads them itself
    import faulthandler  # here: on 3.11-3.12 its module would only cost exit time

    if not hasattr(faulthandler, "register"):
        return
    fd = _native.log_fd()
    signum = _native.free_realtime_signal()
    if fd < 0 or signum == 0:
        return
    faulthandler.register(signum, file=fd, all_threads=True, chain=False)
    _native.watchdog_stack_signal(signum)
    _stack_signal = signum


def _uninstall_stack_signal() -> None:
    global _stack_signal
    if _stack_signal:
        import faulthandler

        _native.watchdog_stack_signal(0)
        faulthandler.unregister(_stack_signal)
        _stack_signal = 0


def install(config: Config) -> None:
    """Arm the dump signal (``dump_signal=None``: off) and, on 3.13+, the
    fallback reports' stack signal."""
    _install_stack_signal()
    _install_dump_signal(config.dump_signal, config.dump_signal_explicit)


def uninstall() -> None:
    _uninstall_dump_signal()
    _uninstall_stack_signal()
