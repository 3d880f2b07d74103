"""``pyqtguard dump PID``: the thread table and every stack of a running -
possibly hung - process that runs under pyqtguard.

It sends the process its dump signal (SIGUSR1 unless configured otherwise),
then prints the dump from that process's run log.  The dump is written by
pyqtguard's watchdog, which does not need the process's main thread: it works
while the GUI is frozen.

The dump signal's default action ends a process, so nothing is sent unless
the target proves it is a pyqtguard app with its dump handler armed now
(see :mod:`pyqtguard.watchdog.dumptarget`); otherwise the command says why and
exits with status 2.  Linux only: elsewhere there is no ``/proc`` to prove
it with, and the command refuses.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from ._output import folder

END_MARKERS = ("=== end of thread dump ===", "written without it)")
REFUSED = 2
MAX_DUMP_BYTES = 32 * 1024 * 1024


def _pid(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a process id: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"{value}: a process id must be > 0 (dump signals one process, never a "
            "process group or every process)")
    return value


def _signal_number(text: str) -> int:
    """``USR1``, ``SIGUSR1``, ``usr1`` or ``10``; only signals a dump can use."""
    import signal

    name = text.strip().upper()
    try:
        signum = int(name)
    except ValueError:
        if not name.startswith("SIG"):
            name = "SIG" + name
        signum = getattr(signal, name, None) if not name.startswith("SIG_") else None
        if not isinstance(signum, int):
            raise argparse.ArgumentTypeError(f"no such signal: {text!r}") from None
    allowed = {getattr(signal, n) for n in ("SIGUSR1", "SIGUSR2") if hasattr(signal, n)}
    if hasattr(signal, "SIGRTMIN"):
        allowed.update(range(signal.SIGRTMIN, signal.SIGRTMAX + 1))
    if signum not in allowed:
        try:
            shown = signal.Signals(signum).name
        except ValueError:
            shown = f"signal {signum}"
        raise argparse.ArgumentTypeError(
            f"refusing {shown}: dump sends only a dump signal (SIGUSR1, SIGUSR2 or a "
            "real-time signal), never one that ends, stops or interrupts a process")
    return signum


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "dump", help="dump the threads and stacks of a running process",
        description="Make a running process (under pyqtguard, with its dump signal "
        "on) write its thread table and every stack to its run log, and print it. "
        "Nothing is sent to a process that does not prove it is one (Linux: its "
        "start time and runtime file, the signal caught now, pyqtguard loaded). "
        "Exit status 0 when the dump is printed; 1 when none came within --timeout; "
        "2 when nothing was sent (no such process, not proven, a refused signal).")
    parser.add_argument("pid", type=_pid, help="process id (> 0)")
    parser.add_argument("--log-dir", metavar="DIR", type=folder,
                        help="the process's log folder (default: searched)")
    parser.add_argument("--signal", type=_signal_number, default=None, metavar="SIGNAL",
                        help="the dump signal the process uses, by name (USR1, SIGUSR2) "
                        "or number; default: the one it armed. Only that one is sent")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for the dump (default: 5)")
    parser.set_defaults(func=main)


def _folders(log_dir: str | None) -> list[str]:
    from .. import config
    from ..logs import folder as logdir

    env_dir = os.environ.get(config.ENV_LOG_DIR)
    if log_dir or env_dir:
        return [log_dir or env_dir]  # type: ignore[list-item]
    root = os.fspath(logdir.default_root())
    try:
        return [os.path.join(root, name) for name in sorted(os.listdir(root))]
    except OSError:
        return []


def _refuse(pid: int, why: str) -> int:
    print(f"pyqtguard dump: process {pid}: {why}; nothing sent", file=sys.stderr)
    return REFUSED


def _exists(pid: int) -> bool:
    if sys.platform == "win32":          # os.kill(pid, 0) is a Ctrl+C there
        from ..logs.folder import windows_pid_alive
        return windows_pid_alive(pid)
    from ..watchdog.dumptarget import has_proc

    if has_proc():
        return os.path.exists(f"/proc/{pid}/stat")
    try:
        os.kill(pid, 0)                  # signal 0: an existence check, nothing sent
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def _send(pid: int, pidfd: int | None, signum: int) -> str | None:
    """Send *signum*, through the pidfd if there is one; None or why not."""
    import signal

    try:
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        return "it has ended"
    except PermissionError:
        return "not allowed to signal it"
    return None


def main(args: argparse.Namespace) -> int:
    from ..watchdog import dump as dump_signal
    from ..watchdog import dumptarget

    pid = args.pid
    if args.timeout < 0:
        print("pyqtguard dump: --timeout must be >= 0", file=sys.stderr)
        return 2
    if not _exists(pid):
        print(f"pyqtguard dump: no process {pid}", file=sys.stderr)
        return 2
    # Pin the process first: what is checked below is what gets the signal
    # (a PID reused between the checks and the signal would otherwise slip in).
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            print(f"pyqtguard dump: no process {pid}", file=sys.stderr)
            return 2
        except OSError:
            pidfd = None
    try:
        if not dumptarget.has_proc():
            return _refuse(pid, "this system has no /proc, so pyqtguard cannot prove the "
                           "process is a pyqtguard app waiting for its dump signal "
                           "(`pyqtguard dump` works on Linux; in the app, call "
                           "pyqtguard.dump_threads() instead)")
        target = dumptarget.find_target(pid, _folders(args.log_dir))
        if isinstance(target, str):
            return _refuse(pid, "not a pyqtguard app waiting for a dump signal (" + target + ")")
        problem = dumptarget.verify(target)
        if problem is not None:
            return _refuse(pid, "not a pyqtguard app waiting for a dump signal: " + problem)
        if args.signal is not None and args.signal != target.signum:
            return _refuse(pid, f"its dump signal is {dump_signal.signal_name(target.signum)}, "
                           f"not {dump_signal.signal_name(args.signal)}")
        log = target.run_log
        start = _log_size(log)
        if start is None:
            return _refuse(pid, f"its run log {log} cannot be read")
        why = _send(pid, pidfd, target.signum)
        if why is not None:
            print(f"pyqtguard dump: process {pid}: {why}", file=sys.stderr)
            return 2
    finally:
        if pidfd is not None:
            os.close(pidfd)
    return _print_dump(pid, log, start, args.timeout)


def _log_size(path: str) -> int | None:
    import stat

    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _read_from(path: str, offset: int) -> str:
    """What the log holds past *offset* (at most MAX_DUMP_BYTES); '' if it
    cannot be read.  No symlink followed, no blocking on a FIFO."""
    import stat

    flags = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(path, flags)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        os.lseek(fd, offset, os.SEEK_SET)
        chunks, size = [], 0
        while size < MAX_DUMP_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_DUMP_BYTES - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _print_dump(pid: int, log: str, start: int, timeout: float) -> int:
    from ._output import printable, printable_text

    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        text = _read_from(log, start)
        if any(marker in text for marker in END_MARKERS):
            begin = text.find("=== pyqtguard thread dump ===")
            sys.stdout.write(printable_text(text[max(begin, 0):]))
            print(f"(written to {printable(log)})")
            return 0
        time.sleep(0.05)
    print(f"pyqtguard dump: no dump from process {pid} within {timeout:g} s "
          f"(the signal was sent); log: {printable(log)}", file=sys.stderr)
    return 1
