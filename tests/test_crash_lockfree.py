"""The crash handler takes no lock, and crashes in pyqtguard's own threads are
reported (issue 18, items 2 and 4).

Each app crashes for real in a subprocess with a timeout; the test asserts
its exit status and the report in its run log, and reads the native stack
back through ``pyqtguard report`` (which resolves the frames' symbols after
the fact: the handler writes raw addresses, modules and offsets only).
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from apprunner import build_shared_library, child_env, run_app

SEGV = -signal.SIGSEGV
MARKER = "=== pyqtguard crash report ==="

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="builds shared libraries with the C compiler; Linux")

# A library whose constructor wants the GIL: it runs inside dlopen(), which
# holds the dynamic loader's lock all along.
CTOR_SOURCE = r"""
#include <Python.h>
extern void loader_mark_entered(void);
__attribute__((constructor)) static void
wants_the_gil(void)
{
    loader_mark_entered();
    PyGILState_STATE state = PyGILState_Ensure();   /* waits: main holds it */
    PyGILState_Release(state);
}
"""

# Loaded with ctypes.PyDLL (calls keep the GIL): starts a native thread that
# dlopen()s the library above, waits until its constructor runs (and so
# waits for the GIL inside dlopen), then segfaults while holding the GIL.
LOADER_SOURCE = r"""
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
static atomic_int entered;
static char library[4096];
void loader_mark_entered(void) { atomic_store(&entered, 1); }
static void *load(void *arg) { (void)arg; dlopen(library, RTLD_NOW); return NULL; }
int start_loading(const char *path)
{
    pthread_t thread;
    strncpy(library, path, sizeof(library) - 1);
    return pthread_create(&thread, NULL, load, NULL);
}
void wait_then_crash(void)
{
    struct timespec tick = {0, 1000000}, settle = {0, 200000000};
    while (!atomic_load(&entered)) {
        nanosleep(&tick, NULL);
    }
    nanosleep(&settle, NULL);      /* the constructor is in PyGILState_Ensure */
    *(volatile int *)0 = 42;
}
"""


def _build(tmp_path, name: str, source: str) -> str:
    return build_shared_library(tmp_path, name, source, required=True,
                                why="the test builds small shared libraries")


def _report_last(log_dir) -> str:
    shown = subprocess.run([sys.executable, "-m", "pyqtguard", "report", "--log-dir",
                            str(log_dir), "--last"], capture_output=True, text=True,
                           env=child_env(log_dir), timeout=120)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def _native_stack(report: str) -> str:
    block = report.split("Native stack of the crashing thread", 1)[1]
    return block.split("\n\n", 1)[0]


@pytest.mark.needs_cc
def test_segfault_while_another_thread_is_inside_dlopen_waiting_for_the_gil(tmp_path):
    """glibc's backtrace_symbols_fd() takes the loader's lock (_dl_addr);
    dlopen() holds it while the constructor waits for the GIL the crashing
    thread holds: the old handler hung for ever.  Without pyqtguard the
    program dies at once; with it, it must too, with a complete report."""
    loader = _build(tmp_path, "loader", LOADER_SOURCE)
    wants_gil = _build(tmp_path, "wantsgil", CTOR_SOURCE)
    started = time.monotonic()
    result = run_app("""
        import ctypes, sys
        import pyqtguard
        pyqtguard.install()
        loader = ctypes.PyDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)
        # Looked up before the load starts: ctypes' dlsym() takes the
        # loader's lock too, and would wait for the dlopen() below.
        wait_then_crash = loader.wait_then_crash
        loader.start_loading(sys.argv[2].encode())
        def crash_while_loading():
            wait_then_crash()
        crash_while_loading()
    """, tmp_path, args=[loader, wants_gil], timeout=20)  # hung for ever before
    elapsed = time.monotonic() - started
    assert result.returncode == SEGV, result.describe()
    log = result.log
    assert log.count(MARKER) == 1, log
    assert "in crash_while_loading" in log, log           # the Python stacks too
    shown = _report_last(result.log_dir)
    native = _native_stack(shown)
    assert "libloader.so" in native, shown                # module of each frame
    assert "wait_then_crash" in native, shown             # resolved afterwards
    print(f"dlopen+GIL crash: {elapsed:.2f} s to exit")   # for the notes (-s)


@pytest.mark.needs_cc
def test_native_frames_are_written_raw_and_resolved_by_report(tmp_path):
    """The handler writes address, module and offset; `pyqtguard report`
    adds the function names from the modules' ELF symbol tables."""
    loader = _build(tmp_path, "loader", LOADER_SOURCE.replace(
        "void wait_then_crash(void)", "void crash_now(void) { *(volatile int *)0 = 1; }\n"
        "void wait_then_crash(void)"))
    result = run_app("""
        import ctypes, sys
        import pyqtguard
        pyqtguard.install()
        ctypes.CDLL(sys.argv[1]).crash_now()
    """, tmp_path, args=[loader])
    assert result.returncode == SEGV, result.describe()
    raw = _native_stack(result.log)
    frame = re.compile(r"^  #(\d+) +0x[0-9a-f]+ +(\S.*) \+0x[0-9a-f]+$")
    lines = [line for line in raw.splitlines()[1:] if line.strip()]
    assert lines and all(frame.match(line) or line.endswith("(no module)")
                         for line in lines), raw
    assert lines[0].split()[2].endswith("libloader.so"), raw   # the faulting frame first
    assert "crash_now" not in raw                        # no symbol lookup in the handler
    native = _native_stack(_report_last(result.log_dir))
    first = native.splitlines()[1]
    assert "crash_now" in first and "libloader.so" in first, native


def test_segfault_in_a_logging_handler_run_by_pyqtguard_is_reported(tmp_path):
    """An app's logging handler that crashes while pyqtguard has it write a
    report: the crash report names the thread the handler ran on (today
    pyqtguard's reporter thread, which had every signal blocked)."""
    seen = tmp_path / "handler-thread.txt"
    result = run_app(f"""
        import ctypes, logging, sys, threading
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        class CrashingHandler(logging.Handler):
            def emit(self, record):
                with open({str(seen)!r}, "w") as out:
                    out.write(str(threading.get_native_id()))
                ctypes.string_at(0)
        logging.getLogger("pyqtguard").addHandler(CrashingHandler())
        app = QtCore.QCoreApplication([])
        def load_rows():
            raise ValueError("row 42 has no id")
        QtCore.QTimer.singleShot(0, load_rows)
        QtCore.QTimer.singleShot(5000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    native_id = seen.read_text()
    header = re.search(r"^thread: '(.+)' \(native id (\d+)\)$", result.log, re.M)
    assert header is not None and header[2] == native_id, result.log
    assert "in emit" in result.log, result.log        # the Python stacks are there


def test_a_fault_signal_in_pyqtguards_watchdog_thread_is_reported(tmp_path):
    """pyqtguard's own native threads (here the watchdog) must not block the
    fault signals: a SIGSEGV delivered to one runs the handler, which names
    it.  Blocked, the signal stayed pending and the process ran on."""
    result = run_app("""
        import ctypes, os, signal, time
        import pyqtguard
        pyqtguard.install()
        from pyqtguard import _native
        for _ in range(500):
            found = [n for n, name in _native.os_threads() if name == "pyqtguard-wdog"]
            if found:
                break
            time.sleep(0.01)
        libc = ctypes.CDLL(None, use_errno=True)
        SYS_tgkill = {"x86_64": 234, "aarch64": 131}[os.uname().machine]
        libc.syscall(SYS_tgkill, os.getpid(), found[0], signal.SIGSEGV)
        time.sleep(5)
        print("still running")
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    assert "thread: 'pyqtguard-wdog'" in result.log, result.log


@pytest.mark.skipif(sys.version_info >= (3, 13),
                    reason="3.13+: faulthandler writes the Python stacks (its own limit of 100)")
def test_with_600_threads_the_report_keeps_the_main_thread_and_says_how_many(tmp_path):
    """The Python stacks are capped as faulthandler's (a report's cost stays
    bounded with 1,000 threads, issue 21): the crashing thread and the main
    thread come first - the main thread is the oldest, the first cut before -
    and the report says how many stacks it has; the thread table names all."""
    result = run_app("""
        import ctypes, threading, time
        import pyqtguard
        pyqtguard.install()
        threading.stack_size(256 * 1024)
        ready = threading.Barrier(601)
        def parked_worker():
            ready.wait()
            time.sleep(60)
        for i in range(600):
            threading.Thread(target=parked_worker, name=f"worker-{i}", daemon=True).start()
        ready.wait()
        def decode_in_thread():
            ctypes.string_at(0)
        crasher = threading.Thread(target=decode_in_thread, name="decoder-7")
        def main_thread_waits_here():
            crasher.start()
            crasher.join()
        main_thread_waits_here()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    log = result.log
    assert log.count(MARKER) == 1, log
    assert "Current thread 'decoder-7'" in log, log
    assert "Python stacks written: 100 of 602 threads" in log, log
    main = log.index("Thread 'MainThread'", log.index("Python stacks"))
    assert "in main_thread_waits_here" in log[main:].split("\n\n", 1)[0], log
    legend = log[log.index("Threads (ident, native id, kind, name):"):]
    assert "'worker-0'" in legend and "'worker-599'" in legend


def test_crash_report_benchmark_runs_in_short_mode():
    """benchmarks/crash_report.py --short (CI): it runs and prints its
    figures; the figures themselves are for people (no timing asserted)."""
    from apprunner import REPO

    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "crash_report.py"),
                             "--short"], capture_output=True, text=True, timeout=300,
                            env=child_env(REPO / "unused-logs"))
    assert result.returncode == 0, result.stderr
    assert re.search(r"ratio: \d\.\d{3} \(target <= 1\.50; 95% interval", result.stdout)
    assert re.search(r"pyqtguard: +max +[\d.]+ ms, median +[\d.]+ ms, \d+ runs over 100 ms, "
                     r"\d+-\d+ stacks", result.stdout), result.stdout


# A crash with a damaged stack: the frame's saved frame pointer and return
# address are overwritten, so that unwinding the caller reads unmapped
# memory.  x86-64 at -O0: [rbp] is the caller's rbp, [rbp+8] the return
# address; the fake return address lies inside a function whose unwind rule
# is "CFA = rbp + 16", and that rbp is now 0x1000.
SMASH_SOURCE = r"""
#include <stdint.h>
int padded_function(int x)
{
    int y = x * 3;
    y += x / 2;
    y ^= 0x55;
    return y + 1;
}
void smash_and_crash(void)
{
    uintptr_t *frame = (uintptr_t *)__builtin_frame_address(0);
    frame[0] = 0x1000;                                   /* caller's rbp */
    frame[1] = (uintptr_t)padded_function + 16;          /* return address */
    *(volatile int *)0 = 0;
}
"""


@pytest.mark.needs_cc
@pytest.mark.skipif(__import__("platform").machine() != "x86_64", reason="x86-64 frame layout")
def test_a_fault_while_walking_a_damaged_stack_still_gives_the_rest_of_the_report(tmp_path):
    """Walking the native stack reads memory the crash may have damaged; a
    fault there used to end the process with the report cut after the
    native stack's heading.  Now the walk is abandoned and the report goes
    on: thread table and Python stacks."""
    smash = _build(tmp_path, "smash", SMASH_SOURCE)
    result = run_app("""
        import ctypes, sys
        import pyqtguard
        pyqtguard.install()
        def decode_frame():
            ctypes.CDLL(sys.argv[1]).smash_and_crash()
        decode_frame()
    """, tmp_path, args=[smash])
    assert result.returncode == SEGV, result.describe()
    log = result.log
    assert log.count(MARKER) == 1, log
    native = _native_stack(log)
    assert "the walk stopped at a fault: damaged stack" in native, log
    assert "libsmash.so" in native.splitlines()[1], log        # the crashing frame
    assert "Threads (ident, native id, kind, name):" in log, log
    assert "in decode_frame" in log, log
