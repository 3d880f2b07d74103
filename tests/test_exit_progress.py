"""The exit deadline and a process still working: an app that saves or
computes after ``exec()`` returns for longer than ``exit_timeout`` was
ended with 124 in the middle of it (its file cut short).  At the deadline
pyqtguard now looks half a second at the process: still writing or busy
(a tenth of a core), it gets ``exit_timeout`` more, at most five
times; waiting (a join, a lock, a sleep loop), it is ended as before."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from apprunner import child_env, run_app

HUNG = 124
TIMEOUT_MARKER = "=== pyqtguard exit timeout ==="

PROLOGUE = """
    import os, sys, threading, time
    import pyqtguard
    pyqtguard.install(exit_timeout={timeout})
    from PyQt6 import QtCore
    app = QtCore.QCoreApplication([])
    QtCore.QTimer.singleShot(50, app.quit)
    app.exec()
"""


def _stamp(log: str, text: str) -> float:
    """When the log line holding *text* was written (seconds of the day)."""
    line = next(line for line in log.splitlines() if text in line)
    hours, minutes, seconds = line[12:24].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def shutdown_to_end(log: str) -> float:
    """Seconds from shutdown's start to the watchdog ending the process, as
    the log says (the interpreter's start-up on a loaded machine left out)."""
    return _stamp(log, "pyqtguard: ending the process") - _stamp(log, "shutdown began")


def run_timed(body: str, tmp_path, timeout: float = 1.5):
    source = PROLOGUE.format(timeout=timeout) + body
    started = time.monotonic()
    result = run_app(source, tmp_path, timeout=40)
    return result, time.monotonic() - started


def test_an_app_saving_after_exec_for_longer_than_the_deadline_is_not_cut_short(tmp_path):
    result, _ = run_timed("""
    with open("saved.bin", "wb") as file:       # 5 s of writes, 64 KiB each 0.1 s
        for _ in range(50):
            file.write(b"x" * 65536)
            file.flush()
            time.sleep(0.1)
    print("saved", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "saved" in result.stdout
    assert (tmp_path / "saved.bin").stat().st_size == 50 * 65536
    assert "still working" in result.log, result.log
    assert TIMEOUT_MARKER not in result.log, result.log


COMPUTING = """
    end = time.monotonic() + 4
    total = 0
    while time.monotonic() < end:                # 4 s of pure Python work
        total += sum(range(1000))
    print("computed", flush=True)
"""


def assert_computed_to_the_end(result) -> None:
    assert result.returncode == 0, result.describe()
    assert "computed" in result.stdout
    assert "still working" in result.log and TIMEOUT_MARKER not in result.log, result.log


def test_an_app_computing_after_exec_for_longer_than_the_deadline_finishes(tmp_path):
    result, _ = run_timed(COMPUTING, tmp_path)
    assert_computed_to_the_end(result)


def test_work_that_turns_into_a_hang_is_ended_at_the_next_deadline(tmp_path):
    result, _ = run_timed("""
    with open("saved.bin", "wb") as file:       # 2.5 s of writes, then a wait for ever
        for _ in range(25):
            file.write(b"x" * 65536)
            file.flush()
            time.sleep(0.1)
    print("saved", flush=True)
    threading.Event().wait()
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert "saved" in result.stdout
    # deadline 1.5 s (writing: 1.5 s more), 3 s + the look: waiting, ended
    assert shutdown_to_end(result.log) < 1.5 * 2 + 0.5 * 2 + 2, result.log
    assert result.log.count("still working") == 1, result.log
    assert "in <module>" in result.log.split(TIMEOUT_MARKER)[1], result.log


def test_a_process_busy_for_ever_is_ended_after_five_more_deadlines(tmp_path):
    result, _ = run_timed("""
    print("spinning", flush=True)
    while True:
        pass
    """, tmp_path, timeout=1)
    assert result.returncode == HUNG, result.describe()
    assert shutdown_to_end(result.log) < 6 * (1 + 0.5) + 3, result.log
    assert result.log.count("while the process is still working") == 1, result.log  # once
    report = result.log.split(TIMEOUT_MARKER)[1]
    assert "still working after 5 more deadlines" in report, report
    listed = subprocess.run([sys.executable, "-m", "pyqtguard", "logs", "--json",
                             "--log-dir", str(result.log_dir)], capture_output=True, text=True,
                            env=child_env(result.log_dir), timeout=30)
    [run] = json.loads(listed.stdout)
    assert (run["outcome"], run["exit_status"]) == ("exit timeout", HUNG), run


def test_a_sleeping_loop_is_no_work(tmp_path):
    # A thread polling a flag that never comes: wake-ups, no work.
    result, _ = run_timed("""
    def poll():
        while True:
            time.sleep(0.005)
    threading.Thread(target=poll, name="poller").start()
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert "still working" not in result.log, result.log
    assert shutdown_to_end(result.log) < 1.5 + 0.5 + 2, result.log


def test_an_app_computing_with_many_idle_threads_is_looked_at_in_time(tmp_path):
    # The look reads each thread's schedstat: every read let the computing
    # thread take the GIL back for a switch interval, so with a hundred
    # threads the look outlasted the 1.5 s the watchdog waits for an answer
    # and the process was ended mid-work, as a hung one.
    result, _ = run_timed("""
    idle = threading.Event()
    for _ in range(150):
        threading.Thread(target=idle.wait, daemon=True).start()
""" + COMPUTING, tmp_path)
    assert_computed_to_the_end(result)


def test_a_second_exec_gives_the_next_shutdown_its_own_extensions(tmp_path):
    # exec() again after a first shutdown stops the clock; the extensions
    # the first shutdown used were still counted against the second one,
    # which was ended mid-work before its own five.
    result, _ = run_timed("""
    def compute(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sum(range(1000))
    compute(5)                                   # 3-4 extensions
    QtCore.QTimer.singleShot(50, app.quit)
    app.exec()                                   # a second loop: the clock stops
    compute(5)                                   # 3-4 more: 6 or more in all
    print("computed twice", flush=True)
    """, tmp_path, timeout=1)
    assert result.returncode == 0, result.describe()
    assert "computed twice" in result.stdout
    assert TIMEOUT_MARKER not in result.log, result.log


def test_an_app_saving_through_a_child_process_after_exec_is_not_cut_short(tmp_path):
    """Saving by running a tool (zip, ffmpeg, a converter) and waiting for
    it: the app itself is idle, its child does the work."""
    result, _ = run_timed("""
    import subprocess
    busy = "import time\\nend = time.monotonic() + 4\\nwhile time.monotonic() < end: pass"
    subprocess.run([sys.executable, "-c", busy], check=True)
    print("exported", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "exported" in result.stdout
    assert "child process" in result.log, result.log


def test_an_app_saving_through_a_shell_whose_child_does_the_work_is_not_cut_short(tmp_path):
    """``subprocess.run("tool in out && mv out final", shell=True)``: the
    shell waits idle for its own child, which does the work."""
    result, _ = run_timed("""
    import subprocess
    busy = "import time\\nend = time.monotonic() + 4\\nwhile time.monotonic() < end: pass"
    script = os.path.join(os.getcwd(), "busy.py")
    with open(script, "w") as file:
        file.write(busy)
    # "; true": the shell stays, waiting for its child (no exec of the last command)
    subprocess.run(f'"{sys.executable}" "{script}"; true', shell=True, check=True)
    print("exported", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "exported" in result.stdout
    assert "child process" in result.log, result.log


def test_an_app_waiting_for_an_idle_child_is_still_ended(tmp_path):
    result, _ = run_timed("""
    import subprocess
    subprocess.run([sys.executable, "-c", "import time; time.sleep(6)"])
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert TIMEOUT_MARKER in result.log



ENDS_AS_EXTENDED = PROLOGUE.format(timeout=1.0) + """
    log = str(pyqtguard.log_path())
    while True:                              # busy: the look sees work
        with open(log) as file:
            if "still working" in file.read():
                break
    print("stopped working", flush=True)
"""


def test_work_that_ends_as_the_deadline_is_extended_is_not_ended(tmp_path):
    """The main thread ends its work and reaches the interpreter's exit just
    as the watchdog's look says "still working": the answer armed the
    deadline again, but the hand-off to the exit timer at interpreter exit
    had cleared the deadline the watchdog then read, so it ended the process
    with 124 and no report.  Here the work is to watch the run log for that
    answer and stop at once; eight at a time (on a 2-core machine 14 of 20
    were ended before)."""
    import textwrap

    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(ENDS_AS_EXTENDED))
    runs = [subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                             env=child_env(tmp_path / f"logs{index}"), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for index in range(8)]
    failed = []
    for index, proc in enumerate(runs):
        out, err = proc.communicate(timeout=60)
        if proc.returncode != 0 or "stopped working" not in out:
            log = "".join(p.read_text() for p in (tmp_path / f"logs{index}").glob("*.log"))
            failed.append(f"run {index}: status {proc.returncode}\n{err[-1000:]}\n{log[-1500:]}")
    assert not failed, "\n".join(failed)


def test_a_pid_reused_by_a_process_that_is_not_our_child_is_not_counted():
    """The children are listed once per look and read twice: a child that
    ended and whose pid another process took meanwhile must not count (its
    CPU would pass for the child's work).  Here the stand-in is this
    process's own parent, never its child; a real busy child counts."""
    from pyqtguard.watchdog import progress

    assert progress._children_work({os.getppid(): os.getpid()}) == (0.0, {})
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        cpu, scheduled = progress._children_work({busy.pid: os.getpid()})
        assert cpu > 0 and str(busy.pid) in scheduled, (cpu, scheduled)
    finally:
        busy.kill()
        busy.wait()


def test_off_linux_no_proc_file_is_read(monkeypatch):
    """/proc is Linux's: under Wine "/proc/self/io" reached the Linux process
    hosting Wine (its writes read as the app's work: a hung app's deadline was
    extended five times), on Windows it names a file on the current drive."""
    from pyqtguard.watchdog import progress

    opened = []
    monkeypatch.setattr(progress, "_PROC", False)
    monkeypatch.setattr(progress, "read_bounded", lambda path, *a, **k: opened.append(path))
    monkeypatch.setattr(os, "listdir", lambda path: opened.append(path) or [])
    assert progress._scheduled(time.monotonic() + 1) == {}
    assert progress._child_pids(time.monotonic() + 1) == {}
    if sys.platform == "linux":                      # no resource module on Windows
        assert progress._written()[1] == "blocks"
    # os.times() counts in clock ticks (10 ms at USER_HZ 100): over a 10 ms
    # window one tick the process happened to be charged read as "CPU 99% of
    # a core" - 1 to 2 of 400 runs on 3.11, 3.13 and 3.14 alike, more under
    # load (it failed a 3.14 run with -n 4).  Over 0.25 s two stray ticks
    # are 8%, under MIN_CPU_SHARE.
    assert progress.work_seen(window=0.25) is None
    assert opened == []
