"""Hostile crash cases (review h7): each app crashes on purpose in a
subprocess; the test asserts on the exit status, the run log and the files
the app itself owns."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap

import pytest

from apprunner import STDERR_A_FULL_PIPE, build_shared_library, run_app

SEGV = -signal.SIGSEGV
MARKER = "=== pyqtguard crash report ==="


def report_of(text: str) -> str:
    assert text.count("\n" + MARKER + "\n") == 1, text
    return text[text.index(MARKER):]


def test_crash_after_the_app_closed_our_descriptors_writes_nothing_into_its_files(tmp_path):
    """os.closerange() (a daemonizing library, a "close every fd" helper)
    closes the run log and the staging pipe; the app's next files get those
    numbers.  A crash must not write its report into the app's files."""
    result = run_app("""
        import ctypes, os
        import pyqtguard
        pyqtguard.install()
        os.closerange(3, 4096)
        fds = [os.open(f"user{i}.db", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
               for i in range(8)]
        for fd in fds:
            os.write(fd, b"PRECIOUS\\n")
        def after_close():
            ctypes.string_at(0)
        after_close()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    for i in range(8):
        data = (tmp_path / f"user{i}.db").read_text(errors="replace")
        assert data == "PRECIOUS\n", f"user{i}.db:\n{data}"
    report = report_of(result.stderr)        # the report still reaches stderr
    if sys.version_info >= (3, 13):
        # faulthandler writes the Python stacks to the descriptor it was
        # given (pyqtguard's memfd, closed too): it is not chained to once
        # that names another file.
        assert "Python stacks of all threads: not written (the app closed" \
            in report, report
    else:
        assert "in after_close" in report, report


def test_a_sent_sigsegv_has_no_fault_address(tmp_path):
    """kill(getpid(), SIGSEGV) is no fault: si_addr is not set (the sender's
    pid is in its place), so the report must not show it as an address."""
    result = run_app("""
        import os, signal, time
        import pyqtguard
        pyqtguard.install()
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(5)
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "signal: SIGSEGV" in report
    assert "\naddress: " not in report, report
    assert re.search(r"\nsent by: pid \d+", report), report


def test_a_call_through_a_bad_function_pointer_shows_the_bad_address_and_its_caller(tmp_path):
    """A jump to address 0x10 (a call through a garbage function pointer):
    the unwinder faults on the bad pc.  The native stack must start at the
    faulting pc and name the caller, not list the crash handler's own frames."""
    result = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        def call_garbage_pointer():
            ctypes.CFUNCTYPE(ctypes.c_int)(0x10)()
        call_garbage_pointer()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    native = report.split("Native stack of the crashing thread", 1)[1].split("\n\n", 1)[0]
    frames = [line for line in native.splitlines() if line.startswith("  #")]
    assert frames and frames[0].startswith("  #0 0x10 "), native
    assert "_native" not in native, native           # not the handler's own frames
    assert "libffi" in native or "_ctypes" in native, native   # the caller
    assert "in call_garbage_pointer" in report


def test_a_report_with_a_crash_context_line_is_listed(tmp_path):
    """The pytest plugin puts 'context: pytest: <test id>' under the header
    of any crash report; `pyqtguard report` must list that report, not skip
    it as damaged."""
    import json
    import subprocess
    import sys

    from apprunner import child_env

    result = run_app("""
        import ctypes
        import pyqtguard
        from pyqtguard import _native
        pyqtguard.install()
        _native.set_crash_context("pytest: tests/test_x.py::test_y")
        def crash_in_test():
            ctypes.string_at(0)
        crash_in_test()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    assert "\ncontext: pytest: tests/test_x.py::test_y\n" in report_of(result.log)
    listed = subprocess.run([sys.executable, "-m", "pyqtguard", "report", "--log-dir",
                             str(result.log_dir), "--json"], capture_output=True, text=True,
                            env=child_env(result.log_dir), timeout=60)
    assert "unreadable header" not in listed.stderr, listed.stderr
    reports = json.loads(listed.stdout)
    assert len(reports) == 1, listed.stdout
    assert "crash_in_test" in reports[0]["frame"]


@pytest.mark.skipif(sys.version_info >= (3, 12),
                    reason="3.12+ bound C recursion separately: no overflow")
def test_c_stack_overflow_in_a_worker_thread_is_reported(tmp_path):
    result = run_app("""
        import sys, threading, time
        import pyqtguard
        pyqtguard.install()
        sys.setrecursionlimit(10 ** 8)
        nested = []
        for _ in range(5_000_000):
            nested = [nested]
        def overflow_in_thread():
            repr(nested)
        threading.Thread(target=overflow_in_thread, name="deep-thread").start()
        time.sleep(60)
    """, tmp_path, timeout=120)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "thread: 'deep-thread'" in report


# ---- stack overflows in threads other than the main thread (h15) ----------
# Each thread gets its own alternate signal stack when it starts (an
# alternate stack is per thread: the main thread's does not help a worker).

RECURSE_C = r"""
int recurse(int depth)
{
    volatile char pad[4096];
    pad[0] = (char)depth;
    if (depth == 0) {
        return pad[0];
    }
    return recurse(depth - 1) + pad[0];
}
"""


def _recursive_library(tmp_path) -> str:
    """A shared library with a recursive C function (no tail call at -O0),
    built with the system's C compiler: a native library overflowing its
    thread's stack, on any CPython version."""
    return build_shared_library(tmp_path, "recurse", RECURSE_C,
                                why="the test builds a recursive native function")


@pytest.mark.needs_cc
@pytest.mark.skipif(sys.platform != "linux", reason="Linux: ELF library and sigaltstack")
def test_native_stack_overflow_in_a_python_thread_is_reported(tmp_path):
    lib = _recursive_library(tmp_path)
    result = run_app(f"""
        import ctypes, threading, time
        import pyqtguard
        pyqtguard.install()
        recurse = ctypes.CDLL({lib!r}).recurse
        def decode_in_thread():
            recurse(10 ** 7)
        threading.Thread(target=decode_in_thread, name="decoder-7").start()
        time.sleep(60)
    """, tmp_path, timeout=120)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "thread: 'decoder-7'" in report, report
    assert "librecurse.so" in report, report        # the native stack was walked


@pytest.mark.skipif(sys.platform != "linux", reason="Linux: sigaltstack")
def test_c_recursion_in_a_thread_started_with_a_small_stack_is_reported(tmp_path):
    """threading.stack_size(128 KiB), then C recursion (repr of a nested
    list) 3,000 deep: below CPython 3.12-3.13's C recursion limit, beyond
    the thread's stack.  Without pyqtguard: a bare -11."""
    result = run_app("""
        import sys, threading, time
        import pyqtguard
        pyqtguard.install()
        sys.setrecursionlimit(100_000)          # 3.11: Python's limit counts C too
        nested = []
        for _ in range(3_000):
            nested = [nested]
        def overflow_in_thread():
            try:
                repr(nested)
            except RecursionError:
                print("RecursionError", flush=True)
                import os
                os._exit(0)
        threading.stack_size(128 * 1024)
        threading.Thread(target=overflow_in_thread, name="small-stack").start()
        time.sleep(60)
    """, tmp_path, timeout=120)
    if result.returncode == 0 and "RecursionError" in result.stdout:
        pytest.skip("this CPython bounds C recursion by the thread's real stack")
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "thread: 'small-stack'" in report, report


@pytest.mark.needs_cc
@pytest.mark.skipif(sys.platform != "linux", reason="Linux: ELF library and sigaltstack")
def test_native_stack_overflow_in_a_qthread_is_reported(tmp_path):
    lib = _recursive_library(tmp_path)
    result = run_app(f"""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        from PyQt6.QtCore import QCoreApplication, QThread, QTimer
        app = QCoreApplication([])
        recurse = ctypes.CDLL({lib!r}).recurse
        class Parser(QThread):
            def run(self):
                recurse(10 ** 7)
        thread = Parser()
        thread.setObjectName("parser")
        thread.setStackSize(256 * 1024)
        thread.start()
        QTimer.singleShot(60_000, app.quit)
        app.exec()
    """, tmp_path, timeout=120)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "thread: 'parser'" in report, report


@pytest.mark.needs_cc
@pytest.mark.skipif(sys.platform != "linux", reason="Linux: ELF library and sigaltstack")
def test_native_stack_overflow_in_a_pyqtguard_worker_is_reported(tmp_path):
    """pyqtguard workers run on QThreadPool threads (Qt's, not Python's)."""
    lib = _recursive_library(tmp_path)
    result = run_app(f"""
        import ctypes
        import pyqtguard
        from pyqtguard.workers import Worker
        pyqtguard.install()
        from PyQt6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication([])
        recurse = ctypes.CDLL({lib!r}).recurse
        def parse_huge_file():
            recurse(10 ** 7)
        worker = Worker(parse_huge_file)
        worker.start()
        QTimer.singleShot(60_000, app.quit)
        app.exec()
    """, tmp_path, timeout=120)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "parse_huge_file" in report, report


STACK_T = """
import ctypes
class stack_t(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int),
                ("ss_size", ctypes.c_size_t)]
libc = ctypes.CDLL(None, use_errno=True)
def current_altstack():
    old = stack_t()
    assert libc.sigaltstack(None, ctypes.byref(old)) == 0
    return (old.ss_sp or 0, old.ss_size, old.ss_flags)
def set_altstack(size):
    buf = ctypes.create_string_buffer(size)
    new = stack_t(ctypes.cast(buf, ctypes.c_void_p), 0, size)
    assert libc.sigaltstack(ctypes.byref(new), None) == 0
    return buf, ctypes.addressof(buf)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="Linux: stack_t's layout")
def test_an_alternate_stack_a_thread_already_has_is_kept(tmp_path):
    """A thread that set up its own alternate stack (faulthandler in the main
    thread, a Go runtime or a library in another) keeps it: pyqtguard checks
    sigaltstack() first and never replaces one.  Threads without one get
    pyqtguard's, and lose it when they end."""
    result = run_app(STACK_T + """
import faulthandler, threading
faulthandler.enable()                     # its alternate stack: the main thread's
main_before = current_altstack()
assert main_before[0] != 0, main_before
import pyqtguard
pyqtguard.install()
assert current_altstack() == main_before, (current_altstack(), main_before)

import _thread
from pyqtguard import _native
seen = {}
def own_then_registered(done):
    # A thread pyqtguard did not start (a library's, via _thread) sets up its
    # own alternate stack, then records itself (as a worker's pool thread
    # does for each task).
    keep, address = set_altstack(64 * 1024)
    _native.thread_register_current("foreign-runtime")
    seen["own"] = (address, current_altstack(), _native.altstack_stats()["this_thread"])
    _native.thread_unregister_current()
    done.release()
done = _thread.allocate_lock()
done.acquire()
_thread.start_new_thread(own_then_registered, (done,))
done.acquire()
def plain():
    seen["plain"] = current_altstack()
    seen["plain_owner"] = _native.altstack_stats()["this_thread"]
thread = threading.Thread(target=plain)
thread.start()
thread.join()
address, now, owner = seen["own"]
assert now[0] == address and owner == "kept", (hex(now[0]), hex(address), owner)
assert seen["plain"][0] not in (0, main_before[0]), seen["plain"]
assert seen["plain"][1] >= 64 * 1024, seen["plain"]
assert seen["plain_owner"] == "pyqtguard", seen
print("OK")
""", tmp_path)
    assert result.returncode == 0 and "OK" in result.stdout, result.describe()


@pytest.mark.skipif(sys.platform != "linux", reason="Linux: /proc/self/maps")
def test_thread_alternate_stacks_are_freed_when_threads_end(tmp_path):
    """500 threads started and joined leave no alternate stacks mapped
    behind them (a few cached for the next threads at most)."""
    result = run_app("""
import threading
import pyqtguard
pyqtguard.install()
def mappings():
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)
def work():
    sum(range(100))
def run(n):
    for _ in range(n):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
run(50)
before = mappings()
run(500)
after = mappings()
print("mappings", before, after)
assert after - before < 20, (before, after)
print("OK")
""", tmp_path)
    assert result.returncode == 0 and "OK" in result.stdout, result.describe()


def test_a_null_pointer_read_shows_address_0x0(tmp_path):
    """The commonest fault, a read through a NULL pointer (strlen(NULL) here,
    as in docs/crashes.md's sample report): its address, 0x0, is the clue -
    a report without an address line reads as a fault sent with kill()."""
    result = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        ctypes.string_at(0)
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "signal: SIGSEGV" in report
    assert "\naddress: 0x0\n" in report, report
    assert "sent by:" not in report, report


def test_a_fault_reraised_by_the_apps_faulthandler_is_not_called_a_kill(tmp_path):
    """The app disables faulthandler after install() and enables it again on
    a file of its own: faulthandler's handler is now on top, writes its dump
    there and raise()s the signal into the handler it found, pyqtguard's
    second one (3.13+ on Linux).  That raise() is no kill() from outside: the
    report must not call a real NULL read 'kill(), not a fault'.  (3.11-
    3.12: faulthandler enabled after install() is above pyqtguard's handler
    and re-raises into it the same way.)"""
    result = run_app("""
        import ctypes, faulthandler
        import pyqtguard
        pyqtguard.install()
        faulthandler.disable()
        own = open("own-faults.txt", "w")
        faulthandler.enable(file=own, all_threads=True)
        def decode_frame():
            ctypes.string_at(0)
        decode_frame()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "signal: SIGSEGV" in report
    assert "kill(), not a fault" not in report, report
    # On 3.11-3.12 the app's faulthandler is on top of pyqtguard's handler.
    assert re.search(r"\nsent by: (pid \d+ \(raised again in this process|this thread's own "
                     r"raise\(\) in another handler)", report), report
    assert "in decode_frame" in (tmp_path / "own-faults.txt").read_text()   # the app's


def test_forked_children_crashing_at_once_each_report_their_own_stacks(tmp_path):
    """Forked children (a fork pool's workers, all fed the same bad input)
    inherit the app's run log and pyqtguard's descriptors.  On 3.13+ the
    stacks go through a memfd: one shared with the parent and every child
    (one open file, one offset) had their dumps overwrite and interleave -
    `File3 <string>"orker_3_faults` - and a report held another's stacks or
    none.  Each child's dump must be its own."""
    result = run_app("""
        import ctypes, os, time
        import pyqtguard
        pyqtguard.install()
        start = time.time() + 0.5
        children = []
        for i in range(8):
            pid = os.fork()
            if pid == 0:
                exec(f"def worker_{i}_faults(depth):\\n"
                     f"    if depth:\\n"
                     f"        return worker_{i}_faults(depth - 1)\\n"
                     f"    time.sleep(max(0, start - time.time()))\\n"
                     f"    ctypes.string_at(0)\\n"
                     f"worker_{i}_faults(40)")
                os._exit(0)
            children.append(pid)
        statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
        print("children", statuses)
    """, tmp_path, kill_group=True)
    assert result.returncode == 0, result.describe()
    assert "children [-11, -11, -11, -11, -11, -11, -11, -11]" in result.stdout, result.describe()
    log = result.log
    frame_lines = [line for line in log.splitlines() if line.startswith("  File ")]
    garbled = [line for line in frame_lines
               if not re.fullmatch(r'  File "[^"]*", line \d+ in \S+', line)]
    assert garbled == [], log
    for i in range(8):
        # its 41 frames, once: in its own report, not in another's too
        assert sum(f"in worker_{i}_faults" in line for line in frame_lines) == 41, log
    assert log.count("Fatal Python error: Segmentation fault") == (
        8 if sys.version_info >= (3, 13) else 0), log


def test_qt_fatal_reports_the_stacks_once(tmp_path):
    """A qFatal's report has every stack; the abort() Qt calls after it adds
    one line (as on 3.11-3.12), not faulthandler's whole dump a second time
    (3.13+: its re-raise was copied from the memfd like a crash's)."""
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        def check_invariants():
            QtCore.qFatal("index corrupted beyond repair")
        QtCore.QTimer.singleShot(0, check_invariants)
        app.exec()
    """, tmp_path)
    assert result.returncode == -signal.SIGABRT, result.describe()
    report = report_of(result.log)
    assert "in check_invariants" in report, report
    after = report.split("signal: SIGABRT after the fatal error reported above\n", 1)[1]
    assert "  File " not in after and "Fatal Python error" not in after, report


def test_the_main_threads_alternate_stack_has_room_for_the_nested_handlers(tmp_path):
    """A stack overflow in the main thread runs the handlers on its
    alternate stack.  On 3.13+ (Linux) four of them nest there, each under a
    kernel signal frame (3.5 KiB with AVX-512): pyqtguard's, faulthandler's,
    pyqtguard's stacks handler, then the handler the app had before (a
    native crash reporter's).  faulthandler's own alternate stack, set up
    when install() enables it, is 16.5 KiB: the app's handler was left 4.4
    KiB (10.8 KiB with faulthandler alone).  The main thread must have an
    alternate stack of pyqtguard's size, as every other thread it reaches."""
    result = run_app("""
        import pyqtguard
        from pyqtguard import _native
        pyqtguard.install()
        stats = _native.altstack_stats()
        print("main", stats["this_thread_enabled"], stats["this_thread_size"], stats["size"])
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    enabled, size, ours = result.stdout.split("main ", 1)[1].split()
    assert enabled == "True" and int(size) >= int(ours) >= 64 * 1024, result.stdout


@pytest.mark.skipif(sys.version_info[:2] not in ((3, 13), (3, 14))
                    or not sys.platform.startswith("linux"),
                    reason="writes into 3.13/3.14's PyThreadState layout; the memfd copy is Linux's")
def test_a_fault_inside_faulthandlers_dump_is_said_where_the_stacks_stop(tmp_path):
    """Memory the crash damaged can make faulthandler's own dump fault (here a
    thread's frame pointer is garbage).  Its handler put pyqtguard's stacks
    handler back first, which gets that fault, copies what was dumped and
    ends the process - the report must say that the stacks stop there
    because the dump faulted, not just end."""
    result = run_app("""
        import ctypes, threading, time
        import pyqtguard
        pyqtguard.install()
        ctypes.pythonapi.PyThreadState_Get.restype = ctypes.c_void_p
        ctypes.pythonapi.PyInterpreterState_Get.restype = ctypes.c_void_p
        box = {}
        ready = threading.Event()
        def victim_parked():
            box["tstate"] = ctypes.pythonapi.PyThreadState_Get()
            ready.set()
            time.sleep(60)
        threading.Thread(target=victim_parked, name="victim", daemon=True).start()
        ready.wait()
        time.sleep(0.1)
        tstate = box["tstate"]
        # prev, next, interp, eval_breaker, _status + 8 ints (3.13: _whence,
        # state, 2 py_recursion, c_recursion_remaining, headroom, tracing,
        # what_event; 3.14: holds_gil instead of c_recursion_remaining), then
        # padding: current_frame at 72 on both (Include/cpython/pystate.h).
        assert ctypes.c_void_p.from_address(tstate + 16).value == \\
            ctypes.pythonapi.PyInterpreterState_Get()
        # Unmapped (below vm.mmap_min_addr) but above 0xff: 3.14's
        # faulthandler takes a frame pointer <= 0xff for a freed one
        # (_PyMem_IsPtrFreed in 3.14's internal/pycore_pymem.h; 3.13's only
        # NULL) and writes "<freed frame>" without touching it, so 0x10 never
        # faulted on 3.14 (3 runs of 3; 0x1000 faults on 3.13 and 3.14).
        ctypes.c_void_p.from_address(tstate + 72).value = 0x1000
        def crash_here():
            ctypes.string_at(0)
        crash_here()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "Fatal Python error: Segmentation fault" in report, report
    assert "faulthandler's dump faulted" in report, report


def test_python_x_faulthandler_report_says_where_the_stacks_are(tmp_path):
    """`python -X faulthandler app.py` (or PYTHONFAULTHANDLER=1, a common
    development setting) enables faulthandler on stderr before install():
    its file is kept.  On 3.13+ the stacks are then on stderr, not in the run
    log: the log's report must not announce stacks that never come, and
    stderr must not send the reader to the run log for them."""
    result = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        def crash_here():
            ctypes.string_at(0)
        crash_here()
    """, tmp_path, python_args=["-X", "faulthandler"])
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert "in crash_here" in report or "in crash_here" in result.stderr, result.describe()
    if "in crash_here" not in report:
        assert "Python stacks of all threads: not here" in report, report
        assert "Python stacks of all threads: see the run log" not in result.stderr, result.stderr


def test_a_crash_after_pythons_shutdown_is_not_blamed_on_the_app(tmp_path):
    """The classic PyQt crash at exit: a C or C++ destructor run by exit()
    after Python has shut down (here an on_exit() function pointer into
    nowhere).  On 3.13+ faulthandler is unloaded by then, which puts
    pyqtguard's stacks handler back on top; its report must not say the app
    disabled faulthandler."""
    result = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        libc = ctypes.CDLL(None)
        libc.on_exit(ctypes.c_void_p(0x10), None)   # called by exit(): faults
        print("main done", flush=True)
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    assert "main done" in result.stdout
    report = report_of(result.log)
    assert "signal: SIGSEGV" in report
    assert "the app disabled faulthandler" not in report, report


# ---- stderr that cannot take the report: the log's copy goes first (h12) ---
# The report is composed in memory and written with one write() per
# descriptor (session 18).  That write() to stderr may never return (a pipe
# nobody reads, full) or end the process (a closed pipe, SIGPIPE at its
# default action): the run log's copy must be out before it, as it was when
# each part went to the log first.


STUCK_REPORTER_APP = STDERR_A_FULL_PIPE + """
import ctypes, sys, threading, time
import pyqtguard
pyqtguard.install()
if "second" in sys.argv:
    def second():
        time.sleep(0.5)                 # while the reporter is stuck
        ctypes.string_at(0)
    threading.Thread(target=second, name="second").start()
libc = ctypes.CDLL(None)
libc.strlen.argtypes = [ctypes.c_void_p]
def crash_here():
    libc.strlen(None)                   # the GIL released: "second" runs
crash_here()
"""


def _whole(report: str) -> None:
    assert "signal: SIGSEGV" in report, report
    assert "Native stack of the crashing thread" in report, report
    assert "Threads (ident, native id, kind, name):" in report, report
    assert "in crash_here" in report, report


@pytest.mark.skipif(sys.platform != "linux", reason="pipes and fcntl as on Linux")
def test_a_closed_stderr_pipe_with_sigpipe_at_its_default_leaves_the_log_whole(tmp_path):
    """`app 2>&1 | head`, the reader gone, and an app that puts SIGPIPE back
    to its default (as command-line tools do): the first write() to stderr
    ends the process.  Before: stderr's copy went first, and the log had
    nothing (the old part-by-part way had at least the header)."""
    result = run_app("""
        import ctypes, os, signal
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(read_end)
        import pyqtguard
        pyqtguard.install()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        def crash_here():
            ctypes.string_at(0)
        crash_here()
    """, tmp_path)
    # The write() to stderr still ends it: SIGPIPE, as before the change.
    assert result.returncode in (SEGV, -signal.SIGPIPE), result.describe()
    _whole(report_of(result.log))


@pytest.mark.skipif(sys.platform != "linux", reason="pipes and fcntl as on Linux")
def test_a_reporter_stuck_on_stderr_leaves_the_log_whole_when_a_second_thread_crashes(tmp_path):
    """The reporter blocks writing to a full stderr pipe; a second thread
    crashes, waits 1 s without progress, and its re-raise ends the process.
    Before: the log had no report at all."""
    result = run_app(STUCK_REPORTER_APP, tmp_path, args=["second"], timeout=60)
    assert result.returncode == SEGV, result.describe()
    _whole(report_of(result.log))


@pytest.mark.skipif(sys.platform != "linux", reason="pipes and fcntl as on Linux")
def test_a_full_stderr_pipe_does_not_turn_a_crash_into_a_hang(tmp_path):
    """The handler's write() to a full stderr pipe never returned: the
    process hung in it until a supervisor killed it (the log's copy was out
    by then, written first).  Without pyqtguard the app dies of the fault at
    once.  A write to stderr now waits for room a second at most: the
    log has the report and the process dies of its signal by itself."""
    result = run_app(STUCK_REPORTER_APP, tmp_path, timeout=40)
    assert result.returncode == SEGV, result.describe()
    _whole(report_of(result.log))


def test_a_report_longer_than_the_capture_buffer_is_whole_in_the_log_and_on_stderr(tmp_path):
    """200 threads 90 frames deep, 200-character names: a report of some
    3 MB, written in 1 MiB parts as the buffer fills.  On 3.13+ the log's
    part is held for faulthandler's stacks and stderr's copy waits for it:
    it must still get the report (header to thread table), not a note."""
    result = run_app("""
        import ctypes, threading, time
        import pyqtguard
        pyqtguard.install()
        name = "deep_" + "x" * 200
        source = f"def {name}(n, ev):\\n    if n: return {name}(n - 1, ev)\\n    ev.wait()\\n"
        space = {}
        exec(compile(source, "long_file_name_" * 10 + ".py", "exec"), space)
        ev = threading.Event()
        for i in range(200):
            threading.Thread(target=space[name], args=(90, ev), name=f"worker-{i}",
                             daemon=True).start()
        time.sleep(1)
        def crash_here():
            ctypes.string_at(0)
        crash_here()
    """, tmp_path, timeout=120)
    assert result.returncode == SEGV, result.describe()[:3000]
    report = report_of(result.log)
    assert len(report) > 1024 * 1024, len(report)
    assert "Threads (ident, native id, kind, name):" in report
    assert "'worker-199'" in report
    assert report.count("in deep_") > 1000, report[:3000]
    err = result.stderr
    assert err.count("\n" + MARKER + "\n") == 1, err[:3000]
    assert "Native stack of the crashing thread" in err, err[:3000]
    assert "'worker-199'" in err, err[:3000]
    assert "this run's log: " in err, err[-3000:]


def test_a_start_site_in_the_thread_legend_is_escaped_and_keeps_its_tail(tmp_path):
    # The site is the app's text (its path): a file name holding newlines and
    # a report marker must not forge a report, and a long path keeps its end
    # (the file and line), cut in front.
    deep = tmp_path / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    (deep / "starter.py").write_text(textwrap.dedent("""
        import threading
        def start(target):
            thread = threading.Thread(target=target, name="deep")
            thread.start()
            return thread
    """))
    result = run_app(f"""
        import ctypes, sys, threading
        import pyqtguard
        pyqtguard.install()
        sys.path.insert(0, {str(deep)!r})
        import starter
        def park():
            threading.Event().wait()
        starter.start(park)
        forged = threading.Thread(target=park, name="forged", daemon=True)
        exec(compile("forged.start()", "x\\n{MARKER}\\nforged.py", "exec"))
        threading.Thread(target=lambda: ctypes.string_at(0), name="crasher").start()
        threading.Event().wait()
    """, tmp_path)
    assert result.returncode == -signal.SIGSEGV, result.describe()
    report = report_of(result.log)
    legend = report[report.index("Threads (ident"):]
    assert f"  'forged'\n      started at x\\x0a{MARKER}\\x0aforged.py:1\n" in legend, legend
    deep_line = legend.split("  'deep'\n      started at ", 1)[1].split("\n", 1)[0]
    assert deep_line.startswith("...") and deep_line.endswith("e" * 20 + "/starter.py:5"), deep_line
    assert len(deep_line.encode()) == 160 - 1, deep_line


def test_backslashes_in_paths_and_names_read_as_written_and_stay_unambiguous(tmp_path):
    """A backslash was written as ``\\x5c`` wherever the C core escapes text
    (thread names, start sites): every Windows path in a crash report read
    ``C:\\x5cUsers\\x5capp\\x5c...`` (seen under Wine), while the Python
    stack lines beside it showed the path as it is.  Only a backslash that
    could begin an escape (one before an ``x``) needs escaping: the report
    stays unambiguous, and ``crashes.symbolize`` reads it back."""
    folder = tmp_path / "C:\\Users\\app"           # a folder name with backslashes (Linux)
    folder.mkdir()
    result = run_app("""
        import ctypes, threading
        import pyqtguard
        pyqtguard.install()
        def crash():
            ctypes.string_at(0)
        threading.Thread(target=crash, name="job\\\\x41\\\\done").start()
        threading.Event().wait(30)
    """, folder, timeout=60)
    assert result.returncode == SEGV, result.describe()
    report = report_of(result.log)
    assert re.search(r"^      started at .*C:\\Users\\app/app\.py:\d+$", report, re.M), report
    assert "x5cUsers" not in report, report
    # The name's backslash before "x" is escaped, the other one is not.
    assert "'job\\x5cx41\\done'" in report, report
    from pyqtguard.crashes.symbolize import _unescape
    assert _unescape("job\\x5cx41\\done") == "job\\x41\\done"
