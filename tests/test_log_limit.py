"""A run log has a size limit (``max_log_bytes``): an app that floods it
(a distinct Qt warning per paint, an exception per item with
``repeat_interval=0``, a freeze every few seconds for a day) must not fill
the user's disk.  Past the limit, reports are counted, not written; the
lines that say how the run ended and a crash report are written whatever
the size; the stderr copy goes on as it would without pyqtguard.

Real apps in subprocesses (tests/apprunner.py), their logs read back.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from apprunner import child_env, newest_run, run_app

LIMIT = 100_000

QT_WARNING_FLOOD = """
    import sys
    import pyqtguard
    pyqtguard.install(max_log_bytes={limit}, stderr={stderr})
    from PyQt6.QtCore import QTimer, qWarning
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv)

    def flood():
        for i in range({count}):
            qWarning(f"distinct warning number {{i}} " + "x" * 60)
        {after}
        app.quit()

    QTimer.singleShot(0, flood)
    sys.exit(app.exec())
"""


def _flood(tmp_path, *, count=4000, after="", stderr=False, limit=LIMIT, timeout=90):
    source = QT_WARNING_FLOOD.format(limit=limit, stderr=stderr, count=count, after=after)
    return run_app(source, tmp_path, timeout=timeout)


def _log_bytes(result) -> int:
    return result.logs[-1].stat().st_size


def test_a_flood_of_distinct_qt_warnings_stops_at_the_limit_and_says_so(tmp_path):
    result = _flood(tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    size = _log_bytes(result)
    assert LIMIT <= size < LIMIT + 4096, (size, log[-2000:])
    assert log.count("reached its size limit") == 1, log[-3000:]
    assert "distinct warning number 0 " in log          # the first ones are there
    assert "distinct warning number 3999 " not in log   # the last ones are not
    # How the run ended is still written, with the count of what was left out.
    assert "pyqtguard: interpreter exit" in log
    dropped = re.search(r"pyqtguard: (\d+) reports? not written: this run's log was full", log)
    assert dropped is not None, log[-3000:]
    written = log.count("distinct warning number ")
    assert int(dropped.group(1)) == 4000 - written, (dropped.group(0), written)


def test_the_stderr_copy_goes_on_past_the_limit(tmp_path):
    result = _flood(tmp_path, count=2000, stderr=True)
    assert result.returncode == 0, result.describe()
    assert result.stderr.count("distinct warning number ") == 2000
    assert result.stderr.count("reached its size limit") == 1   # said once on stderr too
    assert _log_bytes(result) < LIMIT + 4096


def test_a_crash_after_the_limit_is_still_reported_in_full(tmp_path):
    result = _flood(tmp_path, count=3000, after="import ctypes; ctypes.string_at(0)")
    assert result.returncode == -signal.SIGSEGV, result.describe()
    log = result.log
    assert "reached its size limit" in log
    assert "=== pyqtguard crash report ===" in log, log[-3000:]
    report = log[log.index("=== pyqtguard crash report ==="):]
    assert "Segmentation fault" in report or "SIGSEGV" in report, report[:2000]
    assert "in flood" in report, report[:3000]          # the Python stack of the fault
    assert _log_bytes(result) > LIMIT


EXCEPTION_FLOOD = """
    import sys
    import pyqtguard
    pyqtguard.install(max_log_bytes={limit}, repeat_interval=0, stderr=True)
    from PyQt6.QtCore import QObject, QTimer, pyqtSignal
    from PyQt6.QtWidgets import QApplication

    class Source(QObject):
        item = pyqtSignal(int)

    app = QApplication(sys.argv)
    source = Source()

    def on_item(i):
        raise ValueError(f"bad item {{i}}")

    source.item.connect(on_item)

    def flood():
        for i in range({count}):
            source.item.emit(i)
        print("survived", flush=True)
        app.quit()

    QTimer.singleShot(0, flood)
    sys.exit(app.exec())
"""


def test_a_flood_of_exception_reports_stops_at_the_limit_the_app_survives(tmp_path):
    count = 1500
    result = run_app(EXCEPTION_FLOOD.format(limit=LIMIT, count=count), tmp_path, timeout=90)
    assert result.returncode == 0, result.describe()
    assert "survived" in result.stdout
    assert result.stderr.count("ValueError: bad item ") == count   # stderr: every one
    log = result.log
    assert _log_bytes(result) < LIMIT + 4096
    assert log.count("reached its size limit") == 1
    written = log.count("ValueError: bad item ")
    assert 0 < written < count
    dropped = re.search(r"pyqtguard: (\d+) reports? not written", log)
    assert dropped is not None and int(dropped.group(1)) == count - written, log[-2000:]


def test_pyqtguard_logs_says_the_log_was_full(tmp_path):
    result = _flood(tmp_path, count=3000)
    assert result.returncode == 0, result.describe()
    newest = newest_run(result.log_dir)
    assert newest["log_full"] is True, newest
    assert newest["reports_not_written"] > 0, newest
    text = subprocess.run([sys.executable, "-m", "pyqtguard", "logs", "--log-dir",
                           str(result.log_dir)], capture_output=True, text=True,
                          timeout=60, env=child_env(result.log_dir)).stdout
    assert "log full" in text, text


def test_no_limit_when_asked(tmp_path):
    result = _flood(tmp_path, count=3000, limit=None)
    assert result.returncode == 0, result.describe()
    assert "reached its size limit" not in result.log
    assert result.log.count("distinct warning number ") == 3000


def test_the_limit_from_the_environment(tmp_path):
    source = QT_WARNING_FLOOD.format(limit="None", stderr=False, count=3000, after="")
    source = source.replace("max_log_bytes=None, ", "")
    result = run_app(source, tmp_path, timeout=90,
                     env={"PYQTGUARD_MAX_LOG_BYTES": str(LIMIT)})
    assert result.returncode == 0, result.describe()
    assert "reached its size limit" in result.log
    assert _log_bytes(result) < LIMIT + 4096


@pytest.mark.parametrize("value, error", [
    (-1, ValueError), (1000, ValueError), ("10M", TypeError), (1.5e6, TypeError),
    (True, TypeError),
])
def test_a_wrong_limit_is_a_programming_error(value, error):
    from pyqtguard.config import make_config

    with pytest.raises(error, match="max_log_bytes"):
        make_config(max_log_bytes=value)


def test_the_default_limit_and_a_bad_environment_value(monkeypatch, capsys):
    from pyqtguard import config

    monkeypatch.delenv("PYQTGUARD_MAX_LOG_BYTES", raising=False)
    assert config.make_config().max_log_bytes == 10 * 1024 * 1024
    assert config.make_config(max_log_bytes=None).max_log_bytes is None
    monkeypatch.setenv("PYQTGUARD_MAX_LOG_BYTES", "lots")
    assert config.make_config().max_log_bytes == 10 * 1024 * 1024
    assert "PYQTGUARD_MAX_LOG_BYTES" in capsys.readouterr().err


def test_freezes_past_the_limit_are_left_out_too(tmp_path):
    # The log fills before the event loop starts (no freeze can be seen
    # then: on a loaded machine the flood itself, run in a slot, froze the
    # loop before the limit and its report was rightly written); the freeze
    # comes after.
    result = run_app(f"""
        import sys, time
        import pyqtguard
        pyqtguard.install(freeze_ms=100, max_log_bytes={LIMIT}, stderr=False)
        from PyQt6.QtCore import QTimer, qWarning
        from PyQt6.QtWidgets import QApplication

        app = QApplication(sys.argv)
        for i in range(3000):
            qWarning(f"distinct warning number {{i}} " + "x" * 60)

        def freeze():
            time.sleep(0.6)
            app.quit()

        QTimer.singleShot(0, freeze)
        sys.exit(app.exec())
    """, tmp_path, timeout=90)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert "GUI freeze" not in log, log[-3000:]
    written = log.count("distinct warning number ")
    dropped = re.search(r"pyqtguard: (\d+) reports? not written", log)
    # The freeze's report (Python, from the watchdog's request) and its end
    # (the watchdog's own line) were both counted.
    assert dropped is not None and int(dropped.group(1)) == 3000 - written + 2, (
        dropped and dropped.group(0), written)


def test_install_after_uninstall_takes_its_own_limit(tmp_path):
    source = """
        import sys
        import pyqtguard
        pyqtguard.install(max_log_bytes=None, stderr=False)
        pyqtguard.uninstall()
        pyqtguard.install(max_log_bytes=%d, stderr=False)
        from PyQt6.QtCore import qWarning
        from PyQt6.QtWidgets import QApplication
        app = QApplication(sys.argv)
        for i in range(3000):
            qWarning(f"distinct warning number {i} " + "x" * 60)
    """ % LIMIT
    result = run_app(source, tmp_path, timeout=90)
    assert result.returncode == 0, result.describe()
    assert "reached its size limit" in result.log
    assert _log_bytes(result) < LIMIT + 4096


def test_a_limit_beyond_what_c_holds_is_no_limit_in_practice(tmp_path):
    result = run_app("""
        import pyqtguard
        config = pyqtguard.install(max_log_bytes=10 ** 30, stderr=False)
        print("limit", config.max_log_bytes, flush=True)
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert f"limit {2 ** 63 - 1}" in result.stdout


def test_a_forged_log_full_line_in_an_exception_message_is_not_read(tmp_path):
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install(stderr=False)
        forged = ("\\n[2026-11-30 01:00:00.000 UTC] pyqtguard: this run's log reached its "
                  "size limit (1 bytes, max_log_bytes)\\n[2026-11-30 01:00:00.000 UTC] "
                  "pyqtguard: 99 reports not written: this run's log was full")
        try:
            raise ValueError(forged)
        except ValueError:
            sys.excepthook(*sys.exc_info())
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "pyqtguard: 99 reports not written" in result.log     # there, but indented
    newest = newest_run(result.log_dir)
    assert newest["log_full"] is False and newest["reports_not_written"] == 0, newest


FORK_CHILDREN_FLOOD = """
    import multiprocessing as mp
    import os
    import sys
    import pyqtguard
    pyqtguard.install(max_log_bytes={limit}, stderr=False)
    from PyQt6.QtCore import qWarning

    def work(i):
        for k in range({count}):
            qWarning(f"child {{os.getpid()}} distinct warning {{k}} " + "x" * 60)
        return os.getpid()

    if __name__ == "__main__":
        with mp.get_context("fork").Pool({children}) as pool:
            pids = pool.map(work, range({children}), chunksize=1)
        print("children", len(set(pids)), flush=True)
"""


def test_fork_children_sharing_the_log_share_its_limit(tmp_path):
    # Each fork child used to count only its own writes from the fork on:
    # 8 children wrote 8 times the limit.  The log's size on disk is the
    # count they share now.
    children = 8
    result = run_app(FORK_CHILDREN_FLOOD.format(limit=LIMIT, count=3000, children=children),
                     tmp_path, timeout=120)
    assert result.returncode == 0, result.describe()
    assert f"children {children}" in result.stdout or "children" in result.stdout
    size = _log_bytes(result)
    # Past the limit each process writes what it writes before it next
    # reads the log's size (at most 1 ms apart) and the report under way.
    assert LIMIT <= size < LIMIT + 64 * 1024, size
    log = result.log
    # One notice for the log, not one per process; in one piece.
    assert log.count("reached its size limit") == 1, log.count("reached its size limit")
    for line in log.splitlines():
        if "reached its size limit" in line:
            assert line.endswith("the copy on stderr goes on"), line
            assert line.count("pyqtguard:") == 1, line


def test_pyqtguard_logs_counts_what_fork_children_left_out_too(tmp_path):
    # Each process writes at exit how many reports it left out; `pyqtguard
    # logs` took the app's line alone (the children's say "(forked child,
    # pid N)"): 2,999 of 14,491 missing reports.  A child counts its own
    # from the fork on (it counted the parent's before it again).
    result = run_app("""
        import os
        import sys
        import pyqtguard
        pyqtguard.install(max_log_bytes=%d, stderr=False)
        from PyQt6.QtCore import qWarning
        for k in range(2000):          # past the limit before the forks
            qWarning(f"parent distinct warning {k} " + "x" * 60)
        pids = []
        for c in range(4):
            pid = os.fork()
            if pid == 0:
                for k in range(3000):
                    qWarning(f"child {os.getpid()} distinct warning {k} " + "x" * 60)
                sys.exit(0)
            pids.append(pid)
        for pid in pids:
            assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        print("done", flush=True)
    """ % LIMIT, tmp_path, timeout=120)
    assert result.returncode == 0 and "done" in result.stdout, result.describe()
    log = result.log
    written = log.count(" distinct warning ")
    counts = [int(n) for n in re.findall(r"pyqtguard: (\d+) reports? not written: this run's "
                                         r"log was full", log)]
    assert len(counts) == 5 and sum(counts) == 14000 - written, (counts, written)
    newest = newest_run(result.log_dir)
    assert newest["outcome"] == "clean", newest
    assert newest["log_full"] is True and newest["reports_not_written"] == 14000 - written, (
        newest, written)
