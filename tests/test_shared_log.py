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


# The watchdog's own reports, written in C when Python cannot answer (the
# GIL held past the deadline or through a freeze): fork children reaching
# their exit deadline at the same moment, each with the GIL held at exit.
CHILDREN_EXIT_TIMEOUT_AT_ONCE = """
    import atexit, ctypes, os, sys
    import pyqtguard
    pyqtguard.install(exit_timeout=1, stderr=False)
    CHILDREN = {children}

    def hold_the_gil():
        ctypes.PyDLL(None).sleep(30)        # Python cannot answer the watchdog

    go_read, go_write = os.pipe()
    pids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            os.read(go_read, 1)
            atexit.register(hold_the_gil)
            sys.exit(0)                      # all of them at the same moment
        pids.append(pid)
    os.write(go_write, b"x" * CHILDREN)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    print("children", pids, codes, flush=True)
"""

EXIT_TIMEOUT_LINE = "\n=== pyqtguard exit timeout ===\n"


def _sections(log: str, marker: str) -> list[str]:
    """Each *marker* section of the log, up to the next section or the next
    time-stamped line (another entry)."""
    sections = []
    for part in log.split(marker)[1:]:
        lines = []
        for line in part.split("\n"):
            if STAMP.match(line) or line.startswith("=== "):
                break
            lines.append(line)
        sections.append("\n".join(lines))
    return sections


def test_fork_children_timing_out_at_once_write_whole_exit_timeout_reports(tmp_path):
    # The watchdog's exit-timeout report written without Python (~20
    # write()s: marker, pid, reason, note, thread table, each stack's
    # pieces) - children reaching the deadline together cut into one
    # another's: a stack under another child's report, frame lines
    # broken ('  File \\nThread ...').  Now composed and written once.
    children = 8
    result = run_app(CHILDREN_EXIT_TIMEOUT_AT_ONCE.format(children=children), tmp_path,
                     timeout=120)
    assert result.returncode == 0, result.describe()
    found = re.search(r"^children \[(.*)\] \[(.*)\]$", result.stdout, re.M)
    assert found, result.describe()
    pids = [int(p) for p in found.group(1).split(", ")]
    assert found.group(2).split(", ") == ["124"] * children, result.describe()
    log = result.log
    sections = _sections(log, EXIT_TIMEOUT_LINE)
    written = []
    for section in sections:
        lines = section.split("\n")
        assert re.fullmatch(r"pid: \d+", lines[0]), section
        pid = int(lines[0][5:])
        written.append(pid)
        assert lines[1] == "the interpreter is exiting", section
        assert lines[2].startswith("(pyqtguard: Python did not answer within 1.5 s"), section
        # Its own thread table and stack, no other's, its frame whole.
        assert set(re.findall(r"native (?:id )?(\d+)", section)) == {str(pid)}, section
        assert len(re.findall(r'^  File "[^"\n]*app\.py", line \d+ in hold_the_gil$',
                              section, re.M)) == 1, section
    assert sorted(written) == sorted(pids), log
    for pid in pids:
        assert len(re.findall(rf"^{STAMP.pattern}pyqtguard: ending the process \(exit status "
                              rf"124\), pid {pid}$", log, re.M)) == 1, log
    # The app itself ended cleanly: its children's deadlines are not its own.
    newest = newest_run(result.log_dir)
    assert newest["outcome"] == "clean", newest


# The app's GUI thread freezes with the GIL held (a C call that never lets
# it go): the watchdog writes the freeze report itself, while fork children
# write exception reports into the shared log all along.
FREEZE_WHILE_CHILDREN_REPORT = """
    import ctypes, os, sys, time
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    pyqtguard.install(freeze_ms=300, repeat_interval=0, stderr=False)
    CHILDREN = 6

    def deep(n, name):
        if n == 0:
            raise LookupError(name)
        deep(n - 1, name)

    def child(until):
        i = 0
        while time.time() < until:
            try:
                deep(8, f"child {{os.getpid()}} #{{i}}")
            except LookupError:
                sys.excepthook(*sys.exc_info())
            i += 1
            time.sleep(0.002)
        os._exit(0)

    until = time.time() + 3
    pids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            child(until)
        pids.append(pid)

    app = QApplication([])

    def frozen():
        ctypes.PyDLL(None).usleep(3500 * 1000)   # the GIL held: Python cannot answer
        QTimer.singleShot(100, app.quit)

    QTimer.singleShot(200, frozen)
    app.exec()
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    print("children's exit statuses", sorted(set(codes)), flush=True)
"""

FREEZE_LINE = re.compile(STAMP.pattern + r"GUI freeze: the event loop has not turned for \d+ ms$")


def test_a_freeze_the_watchdog_reports_itself_is_whole_among_childrens_reports(tmp_path):
    # The watchdog's freeze report written without Python was ~15
    # write()s (its line, the note, the thread table, the stack's pieces):
    # the children's reports landed inside it - the freeze's stack under a
    # child's exception, `pyqtguard logs` placing the freeze nowhere (or at
    # a child's frame).  Now composed and written once.
    result = run_app(FREEZE_WHILE_CHILDREN_REPORT.format(), tmp_path, timeout=120)
    assert result.returncode == 0, result.describe()
    assert "children's exit statuses [0]" in result.stdout, result.describe()
    log = result.log
    lines = log.split("\n")
    starts = [n for n, line in enumerate(lines) if FREEZE_LINE.match(line)]
    assert len(starts) == 1, log[-5000:]
    report = []
    for line in lines[starts[0] + 1:]:
        if STAMP.match(line) or line.startswith("=== "):
            break
        report.append(line)
    text = "\n".join(report)
    pid = newest_run(result.log_dir)["pid"]
    assert text.startswith("(pyqtguard: Python did not answer within 1.5 s"), text
    assert re.search(r'^  File "[^"\n]*app\.py", line \d+ in frozen$', text, re.M), text
    assert "LookupError" not in text and "deep" not in text, text
    assert f"native {pid}  main  'MainThread'" in text, text
    # The children's reports are whole too (the freeze's lines not in them).
    reports, damaged = _damaged_reports(log)
    assert not damaged, f"{len(damaged)} damaged, first:\n" + damaged[0]
    assert reports > 0
    newest = newest_run(result.log_dir)
    assert newest["freezes"] == 1, newest
    if sys.version_info < (3, 13):
        assert re.fullmatch(r"app\.py:\d+ in frozen", newest["freeze_where"]), newest
    # 3.13+: faulthandler dumps every thread (pyqtguard's helper waiting for
    # the GIL too): the reader names no GUI thread's place then.


# A fork child runs a Qt app of its own (forked before the app made its
# QApplication) and freezes, the GIL held; the app itself never freezes.
CHILDS_OWN_FREEZE = """
    import ctypes, os, sys
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    pyqtguard.install(freeze_ms=300, stderr=False)

    pid = os.fork()
    if pid == 0:
        app = QApplication([])

        def frozen():
            ctypes.PyDLL(None).usleep({freeze_ms} * 1000)   # {how}
            QTimer.singleShot(100, app.quit)

        QTimer.singleShot(200, frozen)
        app.exec()
        os._exit(0)
    print("child", pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


@pytest.mark.parametrize("freeze_ms", [2500, 6000], ids=["freeze", "lasting-freeze"])
def test_a_fork_childs_freeze_written_by_the_watchdog_is_not_read_as_the_apps(tmp_path,
                                                                             freeze_ms):
    # The watchdog's own freeze lines (Python did not answer; the freeze's
    # end, always the watchdog's) had no "(forked child, pid N)": `pyqtguard
    # logs` counted a fork child's freeze as the app's, and a child's "GUI
    # freeze ended" could end the app's own freeze with the child's length.
    result = run_app(CHILDS_OWN_FREEZE.format(freeze_ms=freeze_ms, how="the GIL held"),
                     tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    child = re.search(r"^child (\d+) 0$", result.stdout, re.M)
    assert child, result.describe()
    pid = child.group(1)
    log = result.log
    mark = rf"{STAMP.pattern}\(forked child, pid {pid}\) "
    assert re.search(rf"^{mark}GUI freeze: the event loop has not turned for \d+ ms$", log,
                     re.M), log
    assert re.search(rf"^{mark}GUI freeze ended: the event loop was blocked for \d+ ms$", log,
                     re.M), log
    if freeze_ms > 3000:
        assert re.search(rf"^{mark}GUI freeze: still frozen after \d+ ms; every thread:$", log,
                         re.M), log
    assert not re.search(rf"^{STAMP.pattern}GUI freeze", log, re.M), log
    newest = newest_run(result.log_dir)
    assert newest["freezes"] == 0 and newest["outcome"] == "clean", newest


# The app crashes while a fork child goes on: the child's entries come
# after the app's crash report in the shared log.
CHILD_WRITES_AFTER_THE_APPS_CRASH = """
    import ctypes, os, sys, time
    import pyqtguard
    pyqtguard.install(stderr=False)
    parent = os.getpid()

    def leftover_from_the_child():
        raise LookupError(f"child {{os.getpid()}} after its parent's crash")

    pid = os.fork()
    if pid == 0:
        while os.getppid() == parent:       # until the app has crashed
            time.sleep(0.01)
        try:
            leftover_from_the_child()
        except LookupError:
            sys.excepthook(*sys.exc_info())
        {child_crash}
        os._exit(0)
    print("child", pid, flush=True)
    time.sleep(0.2)
    ctypes.string_at(0)
"""


@pytest.mark.parametrize("child_crash", ["", "ctypes.string_at(0)"],
                         ids=["child-reports", "child-reports-and-crashes"])
def test_a_crash_reports_text_ends_where_another_processs_entries_begin(tmp_path, child_crash):
    # A crash report was read as running to the end of the log (the process
    # died after writing it); a fork child's entries written after it were
    # part of the app's report: `pyqtguard report --last` printed the
    # child's exception as the app's crash report, and the report's frame
    # and its "not reported in full yet" lines could be taken from there.
    import json
    import time

    result = run_app(CHILD_WRITES_AFTER_THE_APPS_CRASH.format(child_crash=child_crash),
                     tmp_path, timeout=60)
    assert result.returncode == -signal.SIGSEGV, result.describe()
    child = int(re.search(r"^child (\d+)$", result.stdout, re.M).group(1))
    path = result.logs[-1]
    for _ in range(500):                      # the child writes after the app's end
        if "after its parent's crash" in path.read_text() and (
                not child_crash or path.read_text().count(MARKER) == 2):
            break
        time.sleep(0.01)
    log = path.read_text()
    assert f"child {child} after its parent's crash" in log, log
    from pyqtguard.crashes.reports import parse_report

    app = newest_run(result.log_dir)["pid"]
    report = parse_report(path, app)
    assert report is not None and report.pid == app, log
    assert "after its parent's crash" not in report.raw_text, report.raw_text
    assert "leftover_from_the_child" not in report.raw_text, report.raw_text
    # ... and it ends where it ended in the log: at its last stack line.
    own = _reports(log)[0].split("\n[")[0].rstrip("\n")
    assert report.raw_text.rstrip("\n").split("\n")[-1] == own.split("\n")[-1], report.raw_text
    cli = subprocess.run([sys.executable, "-m", "pyqtguard", "report", "--last", "--json",
                          "--log-dir", str(result.log_dir)], capture_output=True, text=True,
                         timeout=60, env=child_env(result.log_dir))
    assert cli.returncode == 0, cli.stderr
    shown = json.loads(cli.stdout)[0]
    assert "after its parent's crash" not in shown["text"], shown["text"]
    if child_crash:
        # The last report is the child's: its own, whole, and only that.
        assert shown["pid"] == child, shown
        assert shown["text"].count("Native stack of the crashing thread") == 1, shown["text"]
