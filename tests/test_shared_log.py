"""One run log, several processes: ``fork`` children (multiprocessing's
``fork`` workers, ``os.fork()``) inherit the app's run log and write their
reports into it.  Each report must still land whole, name its own pid,
and be found by the readers (``pyqtguard logs``, ``parse_report``).

Real apps in subprocesses (tests/apprunner.py), with real forks and real
faults, their logs read back.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from apprunner import child_env, newest_run, run_app

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork start method")

MARKER = "=== pyqtguard crash report ==="

CHILDREN_CRASH_AT_ONCE = """
    import ctypes
    import multiprocessing as mp
    import time
    import pyqtguard
    pyqtguard.install(stderr=False)

    def work(start):
        while time.time() < start:      # all of them fault at the same moment
            pass
        ctypes.string_at(0)

    if __name__ == "__main__":
        ctx = mp.get_context("fork")
        for round in range({rounds}):
            start = time.time() + 0.3
            procs = [ctx.Process(target=work, args=(start,)) for _ in range({children})]
            for p in procs:
                p.start()
            for p in procs:
                p.join(60)
            print("round", [p.pid for p in procs], [p.exitcode for p in procs], flush=True)
"""


def _reports(log: str) -> list[str]:
    return log.split("\n" + MARKER + "\n")[1:]


def _check_report(report: str) -> int:
    """The report's pid, after checking that it is one process's, whole."""
    head = report.split("\n")[:5]
    assert head[0] == "signal: SIGSEGV (Segmentation fault)", head
    assert head[1] == "address: 0x0", head
    assert head[2].startswith("time: "), head
    assert re.fullmatch(r"pid: \d+", head[3]), head
    pid = int(head[3][5:])
    assert head[4] == f"thread: 'MainThread' (native id {pid})", head
    # Its own native stack, thread table and Python stack - no other's.
    assert report.count("Native stack of the crashing thread") == 1, report[:3000]
    assert report.count("Threads (ident, native id, kind, name):") == 1, report[:3000]
    assert report.count("Current thread") == 1, report[:3000]
    assert set(re.findall(r"native id (\d+)", report)) == {str(pid)}, report[:3000]
    assert "in work" in report, report[:3000]
    return pid


def _started_children(stdout: str, children: int, status: int) -> list[int]:
    """The pids of the children each "round [pids] [exit codes]" line of the
    app names; each of them ended with *status*."""
    started = []
    for line in stdout.splitlines():
        pids, codes = re.fullmatch(r"round \[(.*)\] \[(.*)\]", line).groups()
        started += [int(p) for p in pids.split(", ")]
        assert codes.split(", ") == [str(status)] * children, line
    return started


def test_fork_children_crashing_at_once_each_write_one_whole_report(tmp_path):
    # Before: each report was ~100 small write()s; 8 children faulting at
    # once mixed them in 7 runs of 20 - headers byte by byte ("signal:
    # signal: SIGSEGVSIGSEGV"), a report's stacks under another's header,
    # reports with no pid line left.  Now each is composed in memory and
    # written with one write() on the O_APPEND descriptor.
    rounds, children = 4, 8
    result = run_app(CHILDREN_CRASH_AT_ONCE.format(rounds=rounds, children=children),
                     tmp_path, timeout=180)
    assert result.returncode == 0, result.describe()
    started = _started_children(result.stdout, children, -signal.SIGSEGV)
    assert len(started) == rounds * children, result.stdout
    log = result.log
    written = [_check_report(report) for report in _reports(log)]
    assert sorted(written) == sorted(started), (written, started)

    # The readers find each child's report under its pid, and the app's
    # run is still clean.
    from pyqtguard.crashes.reports import parse_report

    path = result.logs[-1]
    for pid in started:
        report = parse_report(path, pid)
        assert report is not None and report.pid == pid, pid
        assert report.native_id == pid and report.thread_name == "MainThread", report
        assert "in work" in report.frame, report.frame
    newest = newest_run(result.log_dir)
    assert newest["outcome"] == "clean", newest
    assert newest["child_crash"].startswith("pid "), newest
    # Every child's crash counted, not only the last one named.
    assert newest["child_crashes"] == rounds * children, newest
    assert f"; {rounds * children} forked children crashed (last: pid " in newest["summary"], newest


LONG_RUN = """
    import ctypes
    import os
    import sys
    import time
    import pyqtguard
    pyqtguard.install(keep_logs=1, stderr=False)
    print("ready", flush=True)
    while not os.path.exists(sys.argv[1]):      # until the other run has pruned
        time.sleep(0.02)
    ctypes.string_at(0)
"""

SHORT_RUN = """
    import pyqtguard
    pyqtguard.install(keep_logs=1, stderr=False)
    print("short run", flush=True)
"""


def test_a_run_still_going_keeps_its_log_when_another_run_prunes(tmp_path):
    # A single-instance app: each launch is a short guarded run that hands
    # its arguments to the instance already running.  Pruning to keep_logs
    # deleted the running instance's live log: its crash report went to an
    # unlinked file.  A log its run still holds open is kept.
    import textwrap

    log_dir = tmp_path / "logs"
    env = child_env(log_dir)
    (tmp_path / "long.py").write_text(textwrap.dedent(LONG_RUN))
    (tmp_path / "short.py").write_text(textwrap.dedent(SHORT_RUN))
    go = tmp_path / "go"
    long_run = subprocess.Popen([sys.executable, str(tmp_path / "long.py"), str(go)],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        assert long_run.stdout.readline().strip() == "ready"
        for _ in range(2):
            short = subprocess.run([sys.executable, str(tmp_path / "short.py")], cwd=tmp_path,
                                   env=env, capture_output=True, text=True, timeout=60)
            assert short.returncode == 0, short.stderr
        go.write_text("")
        long_run.wait(60)
    finally:
        long_run.kill()
        long_run.communicate()
    assert long_run.returncode == -signal.SIGSEGV
    from pyqtguard.logs.folder import pid_in_name, run_logs

    logs = run_logs(log_dir)
    mine = [p for p in logs if pid_in_name(p) == long_run.pid]
    assert len(mine) == 1, logs
    assert MARKER in mine[0].read_text(), mine[0].read_text()[-2000:]
    # Once it has ended, the next run prunes it as before.
    subprocess.run([sys.executable, str(tmp_path / "short.py")], cwd=tmp_path, env=env,
                   capture_output=True, timeout=60, check=True)
    assert len(run_logs(log_dir)) == 1


def test_a_fork_childs_repeat_counts_are_not_read_as_the_apps_exceptions(tmp_path):
    # The count of a repeated exception is written in C when the process
    # ends; a fork child's line had no "(forked child, pid N)", so `pyqtguard
    # logs` added the children's repeats to the app's: "exceptions (32)"
    # for an app that raised none.
    result = run_app("""
        import os
        import sys
        import threading
        import pyqtguard
        pyqtguard.install(stderr=False)

        def boom(i):
            raise ValueError(f"child {os.getpid()} thread exception {i}")

        pids = []
        for c in range(4):
            pid = os.fork()
            if pid == 0:
                for i in range(5):
                    t = threading.Thread(target=boom, args=(i,))
                    t.start()
                    t.join()
                sys.exit(0)
            pids.append(pid)
        for pid in pids:
            assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        print("children", pids, flush=True)
    """, tmp_path, timeout=120)
    assert result.returncode == 0, result.describe()
    pids = [int(p) for p in re.search(r"children \[(.*)\]", result.stdout).group(1).split(", ")]
    log = result.log
    for pid in pids:
        assert re.search(rf"^\[[^\]]+\] \(forked child, pid {pid}\) pyqtguard: ValueError in boom "
                         rf"\(.*\): 4 more times since its last full report", log, re.M), log
    newest = newest_run(result.log_dir)
    assert newest["outcome"] == "clean" and newest["exceptions"] == 0, newest


REPEATS_ON_BOTH_SIDES_OF_A_FORK = """
    import os, sys, threading
    from PyQt6.QtCore import qWarning
    import pyqtguard
    pyqtguard.install(stderr=False)

    def boom():
        raise LookupError("the same bug")

    def repeat(times):
        for _ in range(times):
            if {what!r} == "exception":
                thread = threading.Thread(target=boom)
                thread.start()
                thread.join()
            else:
                qWarning("the same warning")

    repeat(3)                       # in full once, 2 repeats counted
    pid = os.fork()
    if pid == 0:
        repeat(4)
        sys.exit(0)                 # the interpreter's exit writes the counts
    print("child", pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


@pytest.mark.parametrize("what", ["exception", "qt-message"])
def test_a_fork_childs_repeats_are_its_own_not_its_parents(tmp_path, what):
    # The repeat table (C, static) was copied into the child: the child's
    # first occurrence was counted as a repeat of the parent's (no full
    # report of the child's own), and the child's count at its exit held the
    # parent's uncounted repeats again: "6 more times" for its 4.
    result = run_app(REPEATS_ON_BOTH_SIDES_OF_A_FORK.format(what=what), tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    child = re.search(r"^child (\d+) 0$", result.stdout, re.M)
    assert child, result.describe()
    pid = int(child.group(1))
    log = result.log
    if what == "exception":
        # each process reports its first in full, under its own pid
        headers = re.findall(r"^\[[^\]]+\] pyqtguard: uncaught exception in thread .*pid (\d+)\)",
                             log, re.M)
        assert sorted(map(int, headers)) == sorted([pid, int(newest_run(result.log_dir)["pid"])]), log
        counted = r"LookupError in boom \(.*\)"
    else:
        assert len(re.findall(rf"^\[[^\]]+\] \(forked child, pid {pid}\) Qt warning: "
                              r"the same warning \(", log, re.M)) == 1, log
        counted = r"Qt warning: the same warning \(.*\)"
    assert len(re.findall(rf"^\[[^\]]+\] \(forked child, pid {pid}\) pyqtguard: {counted}: "
                          r"3 more times since its last full report", log, re.M)) == 1, log
    assert len(re.findall(rf"^\[[^\]]+\] pyqtguard: {counted}: 2 more times since its last "
                          r"full report", log, re.M)) == 1, log
    assert log.count("more times since its last full report") == 2, log


# Fork children raising at once, each report into the shared log.  The
# app's on_exception callback leaves an object whose __del__ raises: that
# report comes inside pyqtguard's own (re-entered), written by the C
# fallback without the traceback module.
CHILDREN_REPORT_AT_ONCE = """
    import os, sys, threading
    import pyqtguard
    pyqtguard.install(repeat_interval=0, stderr=False)
    CHILDREN, EACH, DEPTH = 16, 12, 8

    def deep(n, name):
        if n == 0:
            raise LookupError(name)
        deep(n - 1, name)

    class Closing:
        def __init__(self, name):
            self.name = name
        def __del__(self):
            deep(DEPTH, self.name)          # sys.unraisablehook, inside the report

    def callback(record):
        if "outer" in str(record.exc_value):
            Closing(str(record.exc_value).replace("outer", "inner"))

    pyqtguard.on_exception(callback)

    def child(go):
        os.read(go, 1)
        for i in range(EACH):
            name = f"child {{os.getpid()}} #{{i}} outer"
            if i % 2:
                thread = threading.Thread(target=deep, args=(DEPTH, name))
                thread.start()
                thread.join()
            else:
                try:
                    deep(DEPTH, name)
                except LookupError:
                    sys.excepthook(*sys.exc_info())
        os._exit(0)

    def fork_all():
        go_read, go_write = os.pipe()
        pids = []
        for _ in range(CHILDREN):
            pid = os.fork()
            if pid == 0:
                child(go_read)
            pids.append(pid)
        os.write(go_write, b"x" * CHILDREN)      # all at once
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        print("children's exit statuses", sorted(set(codes)), flush=True)

    {how}
"""

STAMP = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC\] ")


def _damaged_reports(log: str) -> tuple[int, list[str]]:
    """(exception reports found, what is wrong): a report is its header
    line (with its pid) up to the next line that begins with a time stamp;
    whole, its exception lines (the inner report's chain has the outer's
    too) are its own process's, the last one ends it, and a traceback
    comes first."""
    damaged = [f"line {n}: a time stamp inside a line: {line[:100]!r}"
               for n, line in enumerate(log.splitlines(), 1)
               if any(m.start() > 0 for m in STAMP.finditer(line))]
    entries: list[list[str]] = []
    for line in log.splitlines():
        if STAMP.match(line):
            entries.append([line])
        elif entries:
            entries[-1].append(line)
    reports = 0
    for entry in entries:
        header = re.search(r"pyqtguard: (uncaught|unraisable) exception .*pid (\d+)\)", entry[0])
        if not header:
            continue
        reports += 1
        pid = header.group(2)
        ends = [line for line in entry if line.startswith("LookupError: ")]
        lines = [line for line in entry if line]
        if (not ends or lines[-1] != ends[-1] or entry[1] != "Traceback (most recent call last):"
                or not all(end.startswith(f"LookupError: child {pid} #") for end in ends)):
            damaged.append("\n".join(entry[:40]))
    return reports, damaged


@pytest.mark.parametrize("how", ["fork_all()", "thread = threading.Thread(target=fork_all)\n"
                                 "    thread.start()\n    thread.join()"],
                         ids=["from-the-main-thread", "from-another-thread"])
def test_fork_children_reporting_at_once_write_whole_exception_reports(tmp_path, how):
    # A report written by the C fallback (a report inside a report: the
    # app's callback's clean-up raised) went out in hundreds of write()s -
    # '  File "', the file name, '", line ', ... - each child's into the
    # others': '  File "[2026-... pyqtguard: uncaught exception ...' (seen
    # once in session 20; 238 damaged reports of 640 here).  Now composed
    # and written once, as the other reports are.
    result = run_app(CHILDREN_REPORT_AT_ONCE.format(how=how), tmp_path, timeout=180)
    assert result.returncode == 0, result.describe()
    assert "children's exit statuses [0]" in result.stdout, result.describe()
    reports, damaged = _damaged_reports(result.log)
    assert not damaged, f"{len(damaged)} damaged, first:\n" + damaged[0]
    assert reports == 16 * 12 * 2, reports          # outer and inner, each child


def test_pool_workers_write_their_repeat_counts_before_multiprocessing_ends_them(tmp_path):
    # multiprocessing ends a fork worker with os._exit() after its own
    # finalizers: no atexit, so the worker's counts of repeated exceptions
    # (and of reports a full log left out) were never written.
    result = run_app("""
        import multiprocessing as mp
        import os
        import threading
        import pyqtguard
        pyqtguard.install(stderr=False)

        def boom(i):
            raise ValueError(f"worker {os.getpid()} thread exception {i}")

        def work(n):
            for i in range(5):
                t = threading.Thread(target=boom, args=(i,))
                t.start()
                t.join()
            return os.getpid()

        if __name__ == "__main__":
            pool = mp.get_context("fork").Pool(2)
            pids = sorted(set(pool.map(work, range(2), chunksize=1)))
            pool.close()                # not terminate(): SIGTERM ends them unwritten
            pool.join()
            print("workers", len(pids), flush=True)
    """, tmp_path, timeout=120)
    assert result.returncode == 0, result.describe()
    log = result.log
    counts = re.findall(r"^\[[^\]]+\] \(forked child, pid (\d+)\) pyqtguard: ValueError in boom "
                        r"\(.*\): (\d+) more times? since its last full report", log, re.M)
    full = re.findall(r"uncaught exception in thread .*, pid (\d+)\)", log)
    per_pid = {pid: full.count(pid) + sum(int(n) for p, n in counts if p == pid)
               for pid in set(full)}
    assert sum(per_pid.values()) == 10 and counts, (per_pid, counts, log[-3000:])


QT_FATAL_AT_ONCE = """
    import multiprocessing as mp
    import os
    import time
    import pyqtguard
    pyqtguard.install(stderr=False)
    from PyQt6.QtCore import qFatal

    def work(start):
        while time.time() < start:
            pass
        qFatal(f"fatal in child {{os.getpid()}}")

    if __name__ == "__main__":
        ctx = mp.get_context("fork")
        for round in range({rounds}):
            start = time.time() + 0.3
            procs = [ctx.Process(target=work, args=(start,)) for _ in range({children})]
            for p in procs:
                p.start()
            for p in procs:
                p.join(60)
            print("round", [p.pid for p in procs], [p.exitcode for p in procs], flush=True)
"""


def test_fork_children_with_qt_fatal_errors_at_once_keep_their_stacks(tmp_path):
    # A Qt fatal error's report is written from Python's side; on 3.13+ its
    # Python stacks (faulthandler's, copied from the memfd) were a second
    # write: under 8 children at once, a report without stacks and the next
    # with two.
    rounds, children = 3, 8
    result = run_app(QT_FATAL_AT_ONCE.format(rounds=rounds, children=children),
                     tmp_path, timeout=180)
    assert result.returncode == 0, result.describe()
    started = _started_children(result.stdout, children, -signal.SIGABRT)
    reports = _reports(result.log)
    written = []
    for report in reports:
        fatal = re.search(r"^fatal: Qt fatal error: fatal in child (\d+)$", report, re.M)
        pid = re.search(r"^pid: (\d+)$", report, re.M)
        assert fatal and pid and fatal.group(1) == pid.group(1), report[:2000]
        written.append(int(pid.group(1)))
        stacks = report.split("Python stacks of all threads", 1)[1]
        assert len(re.findall(r"^Current thread", stacks, re.M)) == 1, report
        assert "in work" in stacks, report
    assert sorted(written) == sorted(started)
