"""Is every line the bounded exit writes true?  Apps that end in unusual
ways (sys.exit() outside the main thread, a QThread that ends just after
pyqtguard stopped waiting for it, a fork child of an app whose thread pool
is busy) and what the run log says about them, against what happened."""
from __future__ import annotations

import re
import signal
import sys
import time

from apprunner import build_shared_library, run_app

HUNG = 124


def run_timed(source: str, tmp_path, **kwargs):
    started = time.monotonic()
    result = run_app(source, tmp_path, timeout=30, **kwargs)
    return result, time.monotonic() - started


def shutdown_line(log: str) -> str:
    """The "shutdown began" event, with its table."""
    start = log.index("pyqtguard: shutdown began")
    end = log.find("\n[", start)
    return log[start:end if end != -1 else len(log)]


# sys.exit() in a QThread's run() while MainThread waits for it.
EXIT_IN_A_QTHREAD_WHILE_MAIN_WAITS = """
        import sys, time
        import pyqtguard
        pyqtguard.install(exit_timeout=3)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Exiter(QtCore.QThread):
            def run(self):
                time.sleep(0.2)
                sys.exit(0)
        exiter = Exiter()
        exiter.setObjectName("exiter")
        exiter.start()
        exiter.wait(10000)      # (a running event loop: see the race test below)
    """


def test_sys_exit_in_a_qthreads_run_is_not_a_thread_that_did_not_stop(tmp_path):
    # PyQt6 prints an exception a virtual method raises; SystemExit then
    # ends the interpreter there, from the QThread.  pyqtguard's exit asked
    # that same thread to stop and waited for it ("QThread::wait: Thread
    # tried to wait on itself") and wrote that it "did not stop when asked",
    # with pyqtguard's own stack as the thread's - the process ended at once.
    result, elapsed = run_timed(EXIT_IN_A_QTHREAD_WHILE_MAIN_WAITS, tmp_path)
    # (3.13+: MainThread may fault on its way back into the finished
    # interpreter - CPython's crash; pyqtguard holds it, see the next test.)
    assert result.returncode == 0, result.describe()
    assert elapsed < 8, elapsed
    log = result.log
    assert "did not stop when asked" not in log, log
    assert "wait on itself" not in result.stderr + log, result.describe()
    assert "interpreter exit" in log, log


# The app of the test above, run REENTRY_RUNS times: on CPython 3.13-3.14
# MainThread, woken in QThread.wait() by exit()'s destructors, comes back
# into the interpreter the QThread ended, and faults there (take_gil on the
# freed GIL; python/cpython gh-87135; core dump).  3.13.0 + PyQt6 6.11, 90
# runs each: 41 crashed without pyqtguard, 11 with it before it held that
# thread (0 of 90 after; 8 went through the hold).  30 runs catch the old
# code with ~98% likelihood.
REENTRY_RUNS = 30


def test_the_main_thread_coming_back_after_an_exit_elsewhere_is_held(tmp_path):
    if sys.version_info < (3, 13):
        import pytest
        pytest.skip("CPython 3.11-3.12 end such a thread in take_gil (no fault)")
    held = 0
    for run in range(REENTRY_RUNS):
        (tmp_path / str(run)).mkdir()
        result = run_app(EXIT_IN_A_QTHREAD_WHILE_MAIN_WAITS, tmp_path / str(run), timeout=30)
        assert result.returncode == 0, result.describe()
        assert "pyqtguard: interpreter exit" in result.log, result.log
        if "MainThread faulted" in result.log:
            held += 1
            assert re.search(r"after thread 'exiter' \(native id \d+\) had ended the "
                             r"interpreter: most likely on its way back", result.log), result.log
            assert "=== pyqtguard crash report ===" not in result.log, result.log
    print(f"held {held} of {REENTRY_RUNS}")


def test_sys_exit_in_a_qrunnable_says_the_pool_thread_waits_for_itself(tmp_path):
    # A QRunnable's sys.exit() ends the interpreter in the pool thread,
    # while the main thread still runs the event loop; there PyQt6's
    # clean-up destroys the QCoreApplication, whose destructor waits for the
    # thread pool - for that very thread (without pyqtguard: a hang for
    # good).  The log said "no other threads alive" (MainThread was left
    # out of the table as if it were the exiting thread) and the report had
    # no reason.
    result, _ = run_timed("""
        import sys, time
        import pyqtguard
        pyqtguard.install(exit_timeout=1.5)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Quitter(QtCore.QRunnable):
            def run(self):
                time.sleep(0.2)
                sys.exit(3)
        QtCore.QThreadPool.globalInstance().start(Quitter())
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    log = result.log
    line = shutdown_line(log)
    assert "no other threads alive" not in line, line
    assert "in pool thread 'Thread (pooled)'" in line and "MainThread" in line, line
    assert ("pool thread 'Thread (pooled)' is exiting the interpreter (a SystemExit raised "
            "in a pool task") in log, log
    assert "for that thread's own task too" in log, log


def test_sys_exit_in_a_qthread_waiting_for_the_main_thread_says_so(tmp_path):
    # With threading imported, the QThread that exits the interpreter waits
    # in threading._shutdown for the non-daemon MainThread - still in its
    # event loop.  The deadline ends that (124; without pyqtguard it waits
    # for the loop); the log said the shutdown began with "no other threads
    # alive", and the report gave no reason.
    result, _ = run_timed("""
        import sys, threading, time
        import pyqtguard
        pyqtguard.install(exit_timeout=1.5)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Exiter(QtCore.QThread):
            def run(self):
                time.sleep(0.2)
                sys.exit(0)
        exiter = Exiter()
        exiter.setObjectName("exiter")
        exiter.start()
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
    """, tmp_path)
    log = result.log
    line = shutdown_line(log)
    assert "no other threads alive" not in line, line
    assert "in QThread 'exiter'" in line, line
    if sys.version_info >= (3, 13):
        # 3.13's threading._shutdown, run off the main thread, does not wait
        # for MainThread: the process ends at once, as without pyqtguard.
        assert result.returncode == 0, result.describe()
        return
    assert result.returncode == HUNG, result.describe()
    assert ("QThread 'exiter' is exiting the interpreter and waits for the non-daemon "
            "thread 'MainThread' to end") in log, log


def test_a_fork_child_held_by_the_parents_pool_task_says_why(tmp_path):
    # A child forked while the parent's global QThreadPool runs a task has
    # the pool's count of busy threads but not the threads: at its exit
    # QCoreApplication's destructor waits for them for good (without
    # pyqtguard: a hang).  The child was ended at the deadline, 124, with a
    # report listing only MainThread and no reason.
    result, _ = run_timed("""
        import os, sys, time
        import pyqtguard
        pyqtguard.install(exit_timeout=1.5)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Index(QtCore.QRunnable):
            def run(self):
                time.sleep(6)
        QtCore.QThreadPool.globalInstance().start(Index())
        time.sleep(0.2)
        pid = os.fork()
        if pid == 0:
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print("child status", os.waitstatus_to_exitcode(status), flush=True)
        os._exit(0)
    """, tmp_path)
    assert "child status 124" in result.stdout, result.describe()
    log = result.log
    assert "=== pyqtguard exit timeout ===" in log, log
    assert ("QApplication's destructor waits for Qt's thread pool, whose count of busy "
            "threads this fork child copied from its parent (1 task running at the "
            "fork)") in log, log


def test_a_qthread_given_up_on_before_the_deadline_is_not_said_to_have_had_it(tmp_path):
    # pyqtguard waits for QThreads until half a second before the deadline
    # (a margin for the report); one that needs 2.7 s of a 3 s deadline was
    # logged as not stopping "within the deadline" - and the process then
    # ended at once, at 0, with it still running (its work cut off).
    result, _ = run_timed("""
        import time
        import pyqtguard
        pyqtguard.install(exit_timeout=3)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Saver(QtCore.QThread):
            def run(self):
                time.sleep(2.7)
                print("saved", flush=True)
        saver = Saver()
        saver.setObjectName("saver")
        saver.start()
        QtCore.QTimer.singleShot(100, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "saved" not in result.stdout
    log = result.log
    assert "QThread 'saver'" in log, log
    assert "within the deadline" not in log, log
    assert re.search(r"did not stop when asked \(requestInterruption \+ quit\) within "
                     r"2\.[3-5] s \(the 3 s exit deadline less a margin for the report\)",
                     log), log
    assert "the process may end with it still running" in log, log


# A race test: one run proves little, so the same app runs RACE_RUNS times.
# On the unchanged code about 1 run in 4-6 crashed (SIGSEGV, some SIGABRT;
# 16 of 60 with the 0.2 s sleep below, 7 of 60 with 0.1 s): 30 runs fail the
# test with ~99% likelihood; passing, they take ~12 s.
RACE_RUNS = 30


def test_sys_exit_in_a_qthread_while_the_loop_runs_does_not_crash_the_gui_thread(tmp_path):
    # RACE (repeated runs).  PyQt6 ends the interpreter in the QThread; its
    # clean-up there deletes Python-owned QObjects and then the
    # QCoreApplication, with the GUI thread's event dispatcher, while the
    # GUI thread's loop still runs.  Without pyqtguard the GUI thread sleeps
    # through it (0 of 30 crash).  pyqtguard's own GUI-thread objects (the
    # freeze heartbeat, the wake-up notifiers) were deleted from the exiting
    # thread then - by pyqtguard and by that clean-up - which posts work to
    # the GUI thread: it woke up inside the freed dispatcher (SIGSEGV in
    # QEventDispatcherGlib, ~1 run in 6).
    source = """
        import sys, time
        import pyqtguard
        pyqtguard.install(exit_timeout=3)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Exiter(QtCore.QThread):
            def run(self):
                time.sleep(0.2)
                sys.exit(0)
        exiter = Exiter()
        exiter.setObjectName("exiter")
        exiter.start()
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
    """
    statuses, failed = [], None
    for run in range(RACE_RUNS):
        (tmp_path / str(run)).mkdir()
        result = run_app(source, tmp_path / str(run), timeout=30)
        statuses.append(result.returncode)
        if result.returncode != 0:
            failed = result
        else:
            clean = result
    # A negative status: ended by that signal (the crash report re-raises it).
    # Session 23: the GUI thread, released from pyqtguard's last posted call,
    # still returned through the dispatcher (glib's iteration, Qt's timer
    # sources) while the clean-up freed it - 3 of 360 crashed with 6 such
    # apps at once on 2 cores (3.11), 17 of 40 on CPython 3.14, where this
    # test read 3-4 crashes in 30.  The exit now waits until the GUI thread
    # blocks in poll() again: 0 of 360 (3.11, loaded), 0 of 120 (3.14).
    # One crash in 30 is let pass (a loaded CI machine), not two.
    crashes = sum(status != 0 for status in statuses)
    assert crashes <= 1, (statuses, failed.describe() if failed else "")
    log = clean.log
    assert "interpreter exit" in log, log


def test_the_exit_waits_until_the_gui_thread_blocks_in_poll_again():
    # What the race test above relies on, shown on a real thread: busy in
    # Python code for 0.3 s (as the GUI thread returning through the
    # dispatcher), then blocked in select().  The exiting thread's wait ends
    # only once that thread blocks - not at once, not at the 1 s limit.
    import os
    import select
    import threading

    from pyqtguard.qt import exitquiet

    if not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64"):
        import pytest
        pytest.skip("reads /proc/self/task/N/syscall: Linux on x86_64 or aarch64")
    read_end, write_end = os.pipe()
    started = threading.Event()
    native_ids: list[int] = []
    busy_until: list[float] = []

    def busy_then_blocked() -> None:
        native_ids.append(threading.get_native_id())
        busy_until.append(time.monotonic() + 0.3)
        started.set()
        while time.monotonic() < busy_until[0]:
            pass
        select.select([read_end], [], [], 10)

    thread = threading.Thread(target=busy_then_blocked)
    thread.start()
    try:
        started.wait(5)
        exitquiet.wait_until_blocked(native_ids[0])
        returned = time.monotonic()
        # Not before the thread's busy time ended; soon after it (the 1 s
        # limit would be ~0.7 s after; a loaded machine delays the select).
        assert busy_until[0] <= returned < busy_until[0] + 0.6, returned - busy_until[0]
        began = time.monotonic()
        exitquiet.wait_until_blocked(native_ids[0])        # blocked already: at once
        assert time.monotonic() - began < 0.1
    finally:
        os.write(write_end, b"x")
        thread.join(10)
        os.close(read_end)
        os.close(write_end)


def test_two_forgotten_threads_are_named_together(tmp_path):
    # The exit report's sentence lists every non-daemon thread it waits for,
    # in one sentence ("threads 'a' and 'b'"), and asks to stop "them".
    result, _ = run_timed("""
        import threading, time
        import pyqtguard
        pyqtguard.install(exit_timeout=1)
        for name in ("indexer", "uploader"):
            threading.Thread(target=time.sleep, args=(60,), name=name).start()
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert ("MainThread is waiting for the non-daemon threads 'indexer' and 'uploader' "
            "to end" in result.log), result.log
    assert "Tell them to stop when the window closes" in result.log, result.log


# A library's real bug in MainThread after another thread ended the
# interpreter: it faults while holding its own lock, which its exit-time
# clean-up (an atexit handler, as C/C++ libraries have) also takes.
LOCK_HELD_FAULT_C = r"""
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static void lib_cleanup(void) { pthread_mutex_lock(&lib_lock); pthread_mutex_unlock(&lib_lock); }
__attribute__((constructor)) static void lib_init(void) { atexit(lib_cleanup); }
void work_and_fault(unsigned ms) {
    pthread_mutex_lock(&lib_lock);
    usleep(ms * 1000);
    *(volatile int *)0x10 = 1;
}
"""


def test_a_real_fault_of_the_main_thread_after_an_exit_elsewhere_is_not_held_forever(tmp_path):
    # The hold of a MainThread fault after another thread ended the
    # interpreter assumes that thread's exit() ends the process.  Here the
    # exit() waits for a lock the faulting MainThread holds: held with
    # pause() forever, the app hung for good with exit_timeout=None (before
    # the hold: SIGSEGV and a crash report), and the report of the library's
    # real fault - its native stack - was never written.
    import signal

    import pytest
    if sys.platform != "linux":
        pytest.skip("Linux: an ELF library")
    lib = build_shared_library(tmp_path, "holdlock", LOCK_HELD_FAULT_C)
    started = time.monotonic()
    result = run_app(f"""
        import ctypes, sys, time
        import pyqtguard
        pyqtguard.install(exit_timeout=None)
        from PyQt6 import QtCore
        lib = ctypes.CDLL({lib!r})
        app = QtCore.QCoreApplication([])
        class Exiter(QtCore.QThread):
            def run(self):
                time.sleep(0.2)
                sys.exit(0)
        exiter = Exiter()
        exiter.setObjectName("exiter")
        exiter.start()
        lib.work_and_fault(2500)     # the interpreter ends meanwhile, in 'exiter'
    """, tmp_path, timeout=40)
    elapsed = time.monotonic() - started
    assert result.returncode == -signal.SIGSEGV, result.describe()
    assert "=== pyqtguard crash report ===" in result.log, result.log
    assert "libholdlock.so" in result.log, result.log
    assert elapsed < 20, elapsed


def test_an_exit_elsewhere_waits_for_a_busy_gui_thread_no_longer_than_the_deadline(tmp_path):
    # The GUI thread never idles (a 0 ms timer whose slot sleeps 20 ms), and
    # a QThread calls sys.exit(5).  pyqtguard's turns in the GUI thread and
    # its wait for the thread to block in poll() took QUIET_WAIT each: the
    # exit went past exit_timeout=0.5 by half a second, and the log said
    # nothing (h39).  The wait for poll() now ends at the exit deadline less
    # its report's margin (the two turns are taken at once by a thread that
    # handles events), and a wait given up on is logged.
    result, elapsed = run_timed("""
        import sys, time
        import pyqtguard
        pyqtguard.install(exit_timeout=0.5)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        busy = QtCore.QTimer()
        busy.timeout.connect(lambda: time.sleep(0.02))
        busy.start(0)
        class Exiter(QtCore.QThread):
            def run(self):
                time.sleep(0.3)
                sys.exit(5)
        exiter = Exiter()
        exiter.start()
        app.exec()
    """, tmp_path)
    # LEFT OPEN (session 23): a GUI thread that never idles is in the
    # dispatcher PyQt6's clean-up frees - 1 such exit in 20 crashes without
    # pyqtguard (3.13), about 9 in 40 with it, and some Qt call of
    # pyqtguard's is still made from the exiting thread ("Timers cannot be
    # stopped from another thread").  Here: the deadline and the log line.
    assert result.returncode in (5, -signal.SIGSEGV), result.describe()
    assert ("the interpreter is exiting in another thread and the GUI thread did not "
            "block in its event loop again in time" in result.log), result.log
    assert elapsed < 8, elapsed
