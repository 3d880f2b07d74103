"""Native crashes: each app crashes on purpose in a subprocess; the test
asserts on the exit status (the signal's), the crash report in the run log
(crashing thread's name and Python frames, every other thread under its
name) and, for the two-run pattern, on `pyqtguard report` afterwards."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from apprunner import child_env, run_app

SEGV = -signal.SIGSEGV
ABRT = -signal.SIGABRT
MARKER = "=== pyqtguard crash report ==="

# A helper thread that is alive, parked in a recognisable function, when the
# crash happens: its stack must be in the report under its name.
_IDLE_HELPER_CODE = """
import threading, time
_parked = threading.Event()
def parked_helper_function():
    _parked.set()
    time.sleep(60)
threading.Thread(target=parked_helper_function, name="idle-helper", daemon=True).start()
_parked.wait()
"""
IDLE_HELPER = f"exec({_IDLE_HELPER_CODE!r})"  # one line: fits any indentation


ENGINE_313 = pytest.mark.xfail(
    sys.version_info >= (3, 13), strict=True,
    reason="3.13+: faulthandler writes the Python stacks to its one file; see docs/crashes.md")


def crash_section(log: str) -> str:
    """The one crash report in *log*, with thread names in every stack
    heading (on 3.13+ faulthandler writes the stacks; the legend names them)."""
    from pyqtguard.crashes.reports import annotate_thread_names

    assert log.count(MARKER) == 1, log
    return annotate_thread_names(log[log.index(MARKER):])


def assert_thread_stack(report: str, name: str, function: str) -> None:
    """The report names *name* and shows *function* in that thread's stack."""
    heading = f"thread '{name}'"
    lowered = report.lower()
    assert heading.lower() in lowered, report
    start = lowered.index(heading.lower(), lowered.index("python stacks"))
    block = report[start:].split("\n\n", 1)[0]
    assert f"in {function}" in block, block


def assert_started_at(report: str, name: str, tmp_path, call: str) -> None:
    """The report's thread legend has *name*'s line, then "started at" the
    app's line that holds *call*."""
    source = (tmp_path / "app.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if call in text)
    legend = report[report.index("Threads (ident"):]
    expected = f"  '{name}'\n      started at {tmp_path / 'app.py'}:{line}\n"
    assert expected in legend, legend[:3000]


@pytest.mark.parametrize("os_name", ["", " [python]", " [decoder-7]", " [a]b) [c]"])
def test_faulthandlers_headings_get_the_legends_names_in_each_versions_format(os_name):
    # 3.13 writes "Thread 0x... (most recent call first):"; 3.14 adds the OS
    # thread name in brackets (the process name for the main thread).  Both
    # get the legend's name, and the same heading.
    from pyqtguard.crashes.reports import annotate_thread_names

    report = (f"{MARKER}\nThreads (ident, native id, kind, name):\n"
              "  0x7f5abaa80200  native 7262  main  'MainThread'\n"
              "  0x7f5aba3236c0  native 7268  python  'decoder-7'\n\n"
              "Python stacks of all threads (by faulthandler):\n"
              f"Current thread 0x00007f5aba3236c0{os_name} (most recent call first):\n"
              '  File "app.py", line 7 in decode\n\n'
              f"Thread 0x00007f5abaa80200{os_name} (most recent call first):\n"
              '  File "app.py", line 9 in <module>\n\n'
              f"Thread 0x00007f5abaa8aaaa{os_name} (most recent call first):\n"
              '  File "app.py", line 3 in unknown\n')
    annotated = annotate_thread_names(report)
    assert "Current thread 'decoder-7' 0x00007f5aba3236c0 (most recent call first):\n" \
        in annotated, annotated
    assert "\nThread 'MainThread' 0x00007f5abaa80200 (most recent call first):\n" \
        in annotated, annotated
    # a thread the legend does not name keeps faulthandler's heading
    assert f"\nThread 0x00007f5abaa8aaaa{os_name} (most recent call first):\n" \
        in annotated, annotated


def test_segfault_in_main_thread(tmp_path):
    result = run_app(f"""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        {IDLE_HELPER}
        def decode_frame():
            ctypes.string_at(0)
        decode_frame()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "signal: SIGSEGV (Segmentation fault)" in report
    assert "thread: 'MainThread'" in report
    assert_thread_stack(report, "MainThread", "decode_frame")
    assert_thread_stack(report, "idle-helper", "parked_helper_function")
    assert "Native stack of the crashing thread" in report
    assert "_ctypes" in report  # the native frame where it happened
    assert MARKER in result.stderr  # copied to stderr too


def test_crash_right_after_install_has_its_native_stack(tmp_path):
    # The unwinder is linked (glibc) and walked directly: nothing has to be
    # loaded first, so the very next statement's crash has its native stack.
    result = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        ctypes.string_at(0)
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "Native stack of the crashing thread" in report
    assert "not collected" not in report
    assert "_ctypes" in report


def test_segfault_in_named_python_thread(tmp_path):
    result = run_app(f"""
        import ctypes, threading
        import pyqtguard
        pyqtguard.install()
        {IDLE_HELPER}
        def decode_in_thread():
            ctypes.string_at(0)
        worker = threading.Thread(target=decode_in_thread, name="decoder-7")
        worker.start()
        worker.join()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "thread: 'decoder-7' (native id" in report
    assert "Current thread 'decoder-7'" in report
    assert_thread_stack(report, "decoder-7", "decode_in_thread")
    assert_thread_stack(report, "idle-helper", "parked_helper_function")
    assert_thread_stack(report, "MainThread", "<module>")
    # The legend says where each thread was started (the C core writes it,
    # from the registry): which of the app's threads it was, at a glance.
    assert_started_at(report, "decoder-7", tmp_path, "worker.start()")


WRAPPED_THREADS_CRASH_APP = f"""
    import ctypes, sys, threading, time
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    {IDLE_HELPER}
    app = QApplication(sys.argv)
    def decode_in_thread():
        ctypes.string_at(0)
    def on_timer():
        threading.Thread(target=decode_in_thread, name="decoder-7").start()
        time.sleep(10)
    QTimer.singleShot(0, on_timer)
    app.exec()
"""


def python_stacks(report: str) -> str:
    start = report.index("Python stacks")
    end = report.find("Python stacks written", start)
    return report[start:end if end >= 0 else len(report)]


@pytest.mark.parametrize("under_run", [False, True], ids=["install", "run"])
def test_crash_report_stacks_are_pythons_without_pyqtguards_frames(tmp_path, under_run):
    """Every thread's Python stack in a crash report is the one python
    would show without pyqtguard: no frame of its thread bootstrap wrapper
    (registry/tracking.py), its exec() wrapper (qt/__init__.py), its
    Thread.start() wrapper, nor under `pyqtguard run` its launcher and the
    runpy frames outside it.  They were written as CPython dumps them."""
    result = run_app(WRAPPED_THREADS_CRASH_APP, tmp_path, under_run=under_run)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    stacks = python_stacks(report)
    own = [line for line in stacks.splitlines()
           if "/pyqtguard/" in line or "runpy" in line]
    assert own == [], stacks
    assert_thread_stack(report, "decoder-7", "decode_in_thread")
    assert_thread_stack(report, "decoder-7", "_bootstrap_inner")   # threading's own
    assert_thread_stack(report, "idle-helper", "parked_helper_function")
    assert_thread_stack(report, "MainThread", "on_timer")
    assert_thread_stack(report, "MainThread", "<module>")
    main = stacks[stacks.index("Thread 'MainThread'"):].split("\n\n", 1)[0]
    frames = [line.rsplit(" in ", 1)[1] for line in main.splitlines() if line.startswith("  File")]
    assert frames[-3:] == ["start", "on_timer", "<module>"], main


def test_segfault_in_qthread(tmp_path):
    result = run_app(f"""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        {IDLE_HELPER}
        app = QtCore.QCoreApplication([])
        class CodecThread(QtCore.QThread):
            def run(self):
                self.decode_in_qthread()
            def decode_in_qthread(self):
                ctypes.string_at(0)
        thread = CodecThread()
        thread.setObjectName("codec-thread")
        thread.start()
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "thread: 'codec-thread'" in report
    assert_thread_stack(report, "codec-thread", "decode_in_qthread")
    assert_started_at(report, "codec-thread", tmp_path, "thread.start()")
    assert_thread_stack(report, "MainThread", "<module>")  # in app.exec()
    assert_thread_stack(report, "idle-helper", "parked_helper_function")


def test_segfault_in_a_use_qthread_worker_says_where_it_was_started(tmp_path):
    # A use_qthread worker's QThread is named again as the work begins
    # (kind pool): that renaming cleared the start site its QThread had.
    result = run_app(f"""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        from pyqtguard import workers
        {IDLE_HELPER}
        app = QtCore.QCoreApplication([])

        def decode_in_worker():
            ctypes.string_at(0)

        worker = workers.Worker(decode_in_worker, use_qthread=True, name="codec-worker")
        worker.start()
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "thread: 'codec-worker'" in report
    assert_started_at(report, "codec-worker", tmp_path, "worker.start()")


def test_segfault_in_qthreadpool_task(tmp_path):
    result = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Task(QtCore.QRunnable):
            def run(self):
                decode_in_pool()
        def decode_in_pool():
            ctypes.string_at(0)
        QtCore.QThreadPool.globalInstance().start(Task())
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    # Qt's pool threads are not Python's: their OS name is what there is.
    assert "thread: 'Thread (pooled)'" in report
    assert_thread_stack(report, "Thread (pooled)", "decode_in_pool")
    assert_thread_stack(report, "MainThread", "<module>")


def test_abort(tmp_path):
    result = run_app("""
        import os
        import pyqtguard
        pyqtguard.install()
        def give_up():
            os.abort()
        give_up()
    """, tmp_path)
    assert result.returncode == ABRT, result.describe()
    report = crash_section(result.log)
    assert "signal: SIGABRT (Aborted)" in report
    assert_thread_stack(report, "MainThread", "give_up")


def test_crash_while_threads_are_being_started_shows_the_crashing_stack(tmp_path):
    # A thread state that CPython has created but whose thread has not run
    # yet carries its creator's native id: the report must still pick the
    # crashing thread's own state, not a frameless newborn one.  On 3.14 its
    # thread_id is 0 until it runs, which faulthandler takes for a freed
    # state: it wrote "<freed thread state>" and no stack at all (about
    # half the runs) until the handler let such threads start first.
    result = run_app("""
        import _thread, os, time
        import pyqtguard
        pyqtguard.install()
        def give_up():
            # One CPU: the new threads wait for this one to be preempted.
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
            for _ in range(20):
                _thread.start_new_thread(time.sleep, (5,))
            os.abort()
        give_up()
    """, tmp_path)
    assert result.returncode == ABRT, result.describe()
    report = crash_section(result.log)
    assert_thread_stack(report, "MainThread", "give_up")
    assert report.count("Current thread") == 1, report


@pytest.mark.skipif(sys.version_info >= (3, 12),
                    reason="3.12+ bound C recursion separately: no overflow")
def test_c_stack_overflow_is_reported_from_the_alternate_stack(tmp_path):
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install()
        sys.setrecursionlimit(10 ** 8)
        nested = []
        for _ in range(5_000_000):
            nested = [nested]
        def overflow():
            repr(nested)
        overflow()
    """, tmp_path, timeout=120)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "signal: SIGSEGV" in report and "thread: 'MainThread'" in report
    assert "in overflow" in report


def test_qt_fatal_writes_one_full_report_then_aborts(tmp_path):
    """A qFatal (here from a QThread) writes one full report with every
    thread's stack, then Qt aborts: one line, not a second report."""
    result = run_app(f"""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        {IDLE_HELPER}
        app = QtCore.QCoreApplication([])
        class Checker(QtCore.QThread):
            def run(self):
                check_invariants()
        def check_invariants():
            QtCore.qFatal("index corrupted beyond repair")
        thread = Checker()
        thread.setObjectName("checker-thread")
        thread.start()
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == ABRT, result.describe()
    report = crash_section(result.log)
    assert "fatal: Qt fatal error: index corrupted beyond repair" in report
    assert "thread: 'checker-thread'" in report
    assert_thread_stack(report, "checker-thread", "check_invariants")
    assert_thread_stack(report, "idle-helper", "parked_helper_function")
    assert "SIGABRT after the fatal error reported above" in report
    assert "Qt fatal: index corrupted beyond repair" in result.log
    assert "index corrupted beyond repair" in result.stderr  # Qt's own output kept


@ENGINE_313
def test_app_that_enabled_faulthandler_itself_gets_one_report(tmp_path):
    result = run_app("""
        import ctypes, faulthandler, sys
        import pyqtguard
        pyqtguard.install()
        faulthandler.enable(file=sys.stderr, all_threads=True)
        def decode_frame():
            ctypes.string_at(0)
        decode_frame()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)  # exactly one, complete
    assert_thread_stack(report, "MainThread", "decode_frame")
    assert "Fatal Python error: Segmentation fault" in result.stderr  # the app's


@ENGINE_313
def test_faulthandler_enabled_before_install_is_chained(tmp_path):
    result = run_app("""
        import ctypes, faulthandler, sys
        faulthandler.enable(file=sys.stderr)
        import pyqtguard
        pyqtguard.install()
        def decode_frame():
            ctypes.string_at(0)
        decode_frame()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert_thread_stack(report, "MainThread", "decode_frame")
    assert "Fatal Python error: Segmentation fault" in result.stderr


def test_app_that_disables_faulthandler_after_install_still_gets_a_report(tmp_path):
    # 3.13+: faulthandler.disable() puts back the handler that was there
    # when install() enabled it - it used to be the default action, and the
    # crash left no report; it is now pyqtguard's second (stacks) handler.
    result = run_app("""
        import ctypes, faulthandler
        import pyqtguard
        pyqtguard.install()
        faulthandler.disable()
        def decode_frame():
            ctypes.string_at(0)
        decode_frame()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "signal: SIGSEGV (Segmentation fault)" in report
    assert "thread: 'MainThread'" in report
    assert "Native stack of the crashing thread" in report
    if sys.version_info >= (3, 13):
        assert "Python stacks of all threads: not here (the app disabled faulthandler" \
            in report, report
    else:
        assert_thread_stack(report, "MainThread", "decode_frame")


def test_crash_with_the_log_file_gone_still_reports_to_stderr(tmp_path):
    result = run_app("""
        import ctypes, os
        import pyqtguard
        from pyqtguard import _native
        pyqtguard.install()
        os.close(_native.log_fd())      # the disk went away
        def decode_frame():
            ctypes.string_at(0)
        decode_frame()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    assert MARKER in result.stderr
    assert "in decode_frame" in result.stderr


def test_crash_with_a_full_disk_still_reports_to_stderr(tmp_path):
    result = run_app("""
        import ctypes, os
        import pyqtguard
        from pyqtguard import _native
        pyqtguard.install()
        full = os.open("/dev/full", os.O_WRONLY)   # every write: ENOSPC
        os.dup2(full, _native.log_fd())
        def decode_frame():
            ctypes.string_at(0)
        decode_frame()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    assert MARKER in result.stderr and "signal: SIGSEGV" in result.stderr


def test_unwritable_log_dir_still_reports_to_stderr_and_reraises(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        ctypes.string_at(0)
    """, tmp_path, env={"PYQTGUARD_LOG_DIR": str(blocker / "logs")})
    assert result.returncode == SEGV, result.describe()
    assert MARKER in result.stderr


def test_crash_handler_off_leaves_the_default(tmp_path):
    result = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install(crash_handler=False)
        ctypes.string_at(0)
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    assert MARKER not in result.log


def test_two_runs_report_shows_the_previous_crash(tmp_path):
    crashed = run_app("""
        import ctypes, threading
        import pyqtguard
        pyqtguard.install(app_name="viewer")
        def decode_in_thread():
            ctypes.string_at(0)
        worker = threading.Thread(target=decode_in_thread, name="decoder-7")
        worker.start()
        worker.join()
    """, tmp_path)
    assert crashed.returncode == SEGV, crashed.describe()
    second = run_app("""
        import pyqtguard
        pyqtguard.install(app_name="viewer")
        crash = pyqtguard.last_crash()
        print("last:", crash.reason, crash.thread_name, crash.frame, sep="|")
    """, tmp_path)
    assert second.returncode == 0, second.describe()
    line = second.stdout.strip().splitlines()[-1]
    assert line.startswith("last:|SIGSEGV (Segmentation fault)|decoder-7|"), line
    assert "decode_in_thread" in line

    env = child_env(crashed.log_dir)
    listed = subprocess.run(
        [sys.executable, "-m", "pyqtguard", "report", "--log-dir", str(crashed.log_dir),
         "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    crashes = json.loads(listed.stdout)
    assert len(crashes) == 1
    assert crashes[0]["reason"] == "SIGSEGV (Segmentation fault)"
    assert crashes[0]["thread_name"] == "decoder-7"
    assert "decode_in_thread" in crashes[0]["frame"]
    last = subprocess.run(
        [sys.executable, "-m", "pyqtguard", "report", "--log-dir", str(crashed.log_dir),
         "--last"], capture_output=True, text=True, env=env, timeout=60)
    assert last.returncode == 0, last.stderr
    assert MARKER in last.stdout and "in decode_in_thread" in last.stdout


def test_last_crash_before_install_reads_the_app_folder(tmp_path):
    # An app may ask before install() (to decide what to show first): the
    # folder then comes from the environment and the app's default name.
    crashed = run_app("""
        import ctypes
        import pyqtguard
        pyqtguard.install()
        ctypes.string_at(0)
    """, tmp_path)
    assert crashed.returncode == SEGV, crashed.describe()
    second = run_app("""
        import pyqtguard
        crash = pyqtguard.last_crash()
        print("last:", crash.reason if crash else None)
    """, tmp_path)
    assert second.returncode == 0, second.describe()
    assert "last: SIGSEGV (Segmentation fault)" in second.stdout


def _report(*args: str, log_dir) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyqtguard", "report", *args],
                          capture_output=True, text=True, env=child_env(log_dir), timeout=60)


def test_report_skips_truncated_and_damaged_reports_with_a_note(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "pyqtguard-20260101-100000-11-0.log").write_text(
        f"header\n{MARKER}\nsignal: SIGSEGV (Segmentation fault)\ntime: x\n")  # cut short
    (logs / "pyqtguard-20260101-100001-12-0.log").write_bytes(
        MARKER.encode() + b"\n\xff\xfe garbage without fields\n")
    (logs / "pyqtguard-20260101-100002-13-0.log").write_text("a clean run\n")
    (logs / "pyqtguard-20260101-100003-14-0.log").write_text(
        f"{MARKER}\nsignal: SIGBUS (Bus error)\ntime: t\npid: 14\n"
        "thread: 'loader' (native id 99)\n\nCurrent thread 'loader' (native id 99), "
        'ident 0x1:\nStack (most recent call first):\n  File "/app/load.py", line 3 in read\n')
    listed = _report("--log-dir", str(logs), "--json", log_dir=logs)
    assert listed.returncode == 0, listed.stderr
    crashes = json.loads(listed.stdout)
    assert [c["reason"] for c in crashes] == ["SIGBUS (Bus error)"]
    assert crashes[0]["frame"] == 'File "/app/load.py", line 3 in read'
    assert "100000-11-0.log" in listed.stderr and "100001-12-0.log" in listed.stderr
    text = _report("--log-dir", str(logs), log_dir=logs)
    assert "SIGBUS (Bus error)" in text.stdout and "'loader'" in text.stdout


def test_report_on_a_folder_without_crashes_and_a_missing_folder(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "pyqtguard-20260101-100000-11-0.log").write_text("a clean run\n")
    clean = _report("--log-dir", str(logs), log_dir=logs)
    assert clean.returncode == 0 and "no crash reports" in clean.stdout
    assert _report("--log-dir", str(logs), "--last", log_dir=logs).returncode == 1
    missing = _report("--log-dir", str(tmp_path / "nope"), log_dir=logs)
    assert missing.returncode == 2 and "no such folder" in missing.stderr


def test_last_crash_is_none_after_a_clean_run(tmp_path):
    for _ in range(2):
        result = run_app("""
            import pyqtguard
            pyqtguard.install(app_name="viewer")
            print("last:", pyqtguard.last_crash())
        """, tmp_path)
        assert result.returncode == 0, result.describe()
        assert "last: None" in result.stdout


# One signal, two slots: the first raises (PyQt6 hands the exception to
# sys.excepthook, whose report a reporter thread writes once it has the GIL),
# the second runs {next_slot} at once.  {install} and {exception} vary.
_EXCEPTION_THEN = """
import ctypes, faulthandler, sys
import pyqtguard
pyqtguard.install({install})
from PyQt6 import QtCore
app = QtCore.QCoreApplication(sys.argv)
class Model(QtCore.QObject):
    changed = QtCore.pyqtSignal()
model = Model()
def load_rows():
    raise {exception}
def next_slot():
    {next_slot}
model.changed.connect(load_rows)
model.changed.connect(next_slot)
QtCore.QTimer.singleShot(0, model.changed.emit)
QtCore.QTimer.singleShot(50, app.quit)
app.exec()
"""


def test_exception_just_before_a_crash_is_in_the_crash_report(tmp_path):
    # As when a virtual fails and Qt then uses what it returned: the crash
    # comes before the exception's full report is written, and the exception
    # - the root cause - must still be in the log.
    result = run_app(_EXCEPTION_THEN.format(
        install="", exception='ValueError("row 42 has no id")',
        next_slot="faulthandler._sigsegv()"), tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    written_before = result.log[:result.log.index(MARKER)]
    if "row 42 has no id" not in written_before:   # the usual order: crash first
        summary = report.split("Uncaught exceptions not reported in full yet")[1]
        summary = summary.split("\n\n", 1)[0]
        assert "thread 'MainThread': ValueError in load_rows" in summary, report
        assert "row 42 has no id" in summary, report
        # ...and the next start's summary of the crash says so.
        listed = _report("--log-dir", str(tmp_path / "logs"), log_dir=tmp_path / "logs")
        assert "just before: [" in listed.stdout, listed.stdout
        assert "ValueError in load_rows" in listed.stdout and "row 42" in listed.stdout
        crashes = json.loads(_report("--log-dir", str(tmp_path / "logs"), "--json",
                                     log_dir=tmp_path / "logs").stdout)
        assert "ValueError in load_rows" in crashes[0]["pending_exceptions"][0], crashes


def test_exception_queued_while_the_gil_is_held_is_in_the_freeze_fallback(tmp_path):
    # The next slot keeps the GIL (PyDLL: a C call that does not release it),
    # so the freeze report comes from the C watchdog, without Python - and
    # must still name the exception waiting behind it.
    result = run_app(_EXCEPTION_THEN.format(
        install="freeze_ms=200", exception='KeyError("row 7")',
        next_slot="ctypes.PyDLL(None).usleep(3_000_000)"), tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert "Python did not answer within 1.5 s" in log, log
    fallback = log[log.index("Uncaught exceptions not reported in full yet"):]
    assert "thread 'MainThread': KeyError in load_rows" in fallback.split("\n")[1], log
    # The GUI thread's stack too (3.13+: faulthandler in a copy of the process;
    # from the watchdog thread, which blocks the dump signal, it was missing).
    assert "in next_slot" in fallback.split("GUI freeze:")[0], log
    assert "row 7" in log[log.index("Traceback"):], log     # the full report, later


def test_crash_with_more_than_100_threads_says_where_the_crashing_threads_stack_is(tmp_path):
    """faulthandler (3.13+) writes 100 threads' stacks, the newest first: the
    crashing main thread, the oldest, is not among them with 300 threads.
    The report must have its stack (3.11-3.12: it comes first) or say that
    it is not there - not leave a reader looking for it."""
    result = run_app("""
        import ctypes, threading, time
        import pyqtguard
        pyqtguard.install()
        ready = threading.Barrier(301)
        def parked_many():
            ready.wait()
            time.sleep(60)
        for i in range(300):
            threading.Thread(target=parked_many, name=f"w{i}", daemon=True).start()
        ready.wait()
        def crash_here():
            ctypes.string_at(0)
        crash_here()
    """, tmp_path, timeout=120)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "in crash_here" in report or (
        "The crashing thread's Python stack is not among these" in report), report[-3000:]
