"""One run log, several processes: ``fork`` children (multiprocessing's
``fork`` workers, ``os.fork()``) inherit the app's run log and write their
reports into it.  Each report must still land whole, name its own pid,
and be found by the readers (``pyqtguard logs``, ``parse_report``).

Real apps in subprocesses (tests/apprunner.py), with real forks and real
faults, their logs read back.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest

from apprunner import child_env, run_app

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
    started = []
    for line in result.stdout.splitlines():
        pids, codes = re.fullmatch(r"round \[(.*)\] \[(.*)\]", line).groups()
        started += [int(p) for p in pids.split(", ")]
        assert codes.split(", ") == [str(-signal.SIGSEGV)] * children, line
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
    cli = subprocess.run([sys.executable, "-m", "pyqtguard", "logs", "--json",
                          "--log-dir", str(result.log_dir)],
                         capture_output=True, text=True, timeout=60,
                         env=child_env(result.log_dir))
    assert cli.returncode == 0, cli.stderr
    newest = json.loads(cli.stdout)[0]
    assert newest["outcome"] == "clean", newest
    assert newest["child_crash"].startswith("pid "), newest
