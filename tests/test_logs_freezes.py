"""``pyqtguard logs`` tells a run's GUI freezes: how many, the longest, and
where the GUI thread was stuck (the innermost app frame of the freeze
report's stack) - from real runs whose slots block; and only freezes the
watchdog reported: lines an app's text forges are no freezes."""
from __future__ import annotations

import json
import subprocess
import sys

from apprunner import child_env, run_app

from pyqtguard.logs import summary

# Two freezes: on_click sleeps 0.5 s, then on_save waits 0.9 s in the
# standard library (threading.Event.wait: the innermost frame is threading's,
# the innermost app frame on_save's).
TWO_FREEZES = """
    import sys, threading, time
    import pyqtguard
    pyqtguard.install(freeze_ms=100)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv)

    def on_click():
        time.sleep(0.5)

    def on_save():
        threading.Event().wait(0.9)

    QTimer.singleShot(50, on_click)
    QTimer.singleShot(800, on_save)
    QTimer.singleShot(2200, app.quit)
    app.exec()
"""


def _line_of(source: str, text: str) -> int:
    """The line number of *text* in the script run_app writes from *source*."""
    [number] = [n for n, line in enumerate(source.split("\n"), 1) if text in line]
    return number


SLEEP_LINE = _line_of(TWO_FREEZES, "time.sleep(0.5)")
WAIT_LINE = _line_of(TWO_FREEZES, "Event().wait(0.9)")


def _logs(log_dir, *args):
    return subprocess.run([sys.executable, "-m", "pyqtguard", "logs", "--log-dir",
                           str(log_dir), *args], capture_output=True, text=True,
                          env=child_env(log_dir), timeout=60)


def test_logs_lists_a_runs_freezes_the_longest_and_where(tmp_path):
    result = run_app(TWO_FREEZES, tmp_path, script_name="sluggish.py")
    assert result.returncode == 0, result.describe()
    assert result.log.count("] GUI freeze: the event loop has not turned for ") == 2, \
        result.describe()
    listed = _logs(result.log_dir)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert "  sluggish  " in line, line
    where = f"sluggish.py:{WAIT_LINE} in on_save"
    assert "  clean; 2 GUI freezes (longest " in line and f" ms, at {where})  " in line, line
    [run] = json.loads(_logs(result.log_dir, "--json").stdout)
    assert run["outcome"] == "clean" and run["exceptions"] == 0, run
    assert run["freezes"] == 2 and run["freezes_exact"] is True, run
    # the freeze's whole length, from its "GUI freeze ended" line
    assert 900 <= run["longest_freeze_ms"] < 5000, run
    assert run["longest_freeze_ended"] is True, run
    assert run["freeze_where"] == where, run
    assert [(p["where"], p["count"]) for p in run["freeze_places"]] == [
        (where, 1), (f"sluggish.py:{SLEEP_LINE} in on_click", 1)], run
    assert 500 <= run["freeze_places"][1]["longest_ms"] < run["longest_freeze_ms"], run
    assert run["summary"] == line.split("  ")[3], (run, line)


# The freeze lines an app's text forges, in the watchdog's exact words (and
# with "pyqtguard: " before them), between a real freeze's report and its
# end: neither a freeze, nor its end, nor where it was.
_FORGED = ("disk full\n"
           "[2026-11-29 10:00:00.000 UTC] pyqtguard: GUI freeze: the event loop has not "
           "turned for 99999 ms\n"
           "[2026-11-29 10:00:00.000 UTC] GUI freeze: the event loop has not turned for "
           "99999 ms; the GUI thread is at (most recent call last):\n"
           '  File "/forged/evil.py", line 1, in forged\n'
           "[2026-11-29 10:00:00.000 UTC] GUI freeze: still frozen after 99999 ms; every "
           "thread:\n"
           "[2026-11-29 10:00:00.000 UTC] GUI freeze ended: the event loop was blocked for "
           "99999 ms\n")
FORGES_FREEZES = """
    import sys, threading, time
    import pyqtguard
    pyqtguard.install(freeze_ms=100)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    FORGED = {forged!r}

    def fails():
        time.sleep(0.3)              # the GUI thread frozen meanwhile
        raise OSError(FORGED)

    def on_click():
        threading.Thread(target=fails, name=FORGED).start()
        time.sleep(0.6)

    QTimer.singleShot(50, on_click)
    QTimer.singleShot(1000, app.quit)
    app.exec()
"""


def test_freeze_lines_an_exception_message_forges_are_not_counted(tmp_path):
    where = f"forges.py:{_line_of(FORGES_FREEZES, 'time.sleep(0.6)')} in on_click"
    result = run_app(FORGES_FREEZES.format(forged=_FORGED), tmp_path, script_name="forges.py")
    assert result.returncode == 0, result.describe()
    assert "99999 ms" in result.log, result.describe()         # the text is in the log
    [run] = json.loads(_logs(result.log_dir, "--json").stdout)
    assert run["outcome"] == "exceptions" and run["exceptions"] == 1, run
    assert run["freezes"] == 1, run
    assert 600 <= run["longest_freeze_ms"] < 5000, run
    assert run["freeze_where"] == where, run
    assert [p["where"] for p in run["freeze_places"]] == [where], run
    listing = _logs(result.log_dir).stdout
    assert "99999" not in listing and "evil" not in listing, listing
    assert "1 exception; 1 GUI freeze (longest " in listing, listing


# ---- a forged log file (anyone who can write to the folder) ---------------------------
_STAMP = "[2026-11-29 10:00:{:02d}.000 UTC] "


def _freeze(second: int, age: int, frames: list[tuple[str, int, str]],
            prefix: str = "") -> str:
    stack = "".join(f'  File "{f}", line {n}, in {fn}\n    pass\n' for f, n, fn in frames)
    return (f"{_STAMP.format(second)}{prefix}GUI freeze: the event loop has not turned for "
            f"{age} ms; the GUI thread is at (most recent call last):\n{stack}")


def test_a_forged_logs_freezes_are_bounded_and_only_the_runs_own(tmp_path):
    head = "pyqtguard 0.1.0 run log\napp: forged\npid: 14\nstarted: x\n\n"
    body = []
    for index in range(500):                     # 500 places: the list stays short
        body.append(_freeze(1, 100, [("/app/main.py", 1, "<module>"),
                                     ("/app/slots.py", index + 1, f"slot{index}")]))
        body.append(f"{_STAMP.format(2)}GUI freeze ended: the event loop was blocked for "
                    f"{200 + index} ms\n")
    # a forked child's report (pyqtguard's own prefix) and a debugger's stop
    body.append(_freeze(3, 100, [("/app/child.py", 1, "work")],
                        prefix="(forked child, pid 99) "))
    body.append(f"{_STAMP.format(4)}GUI freeze of 150 ms not reported: the GUI thread is "
                "stopped in a debugger (pdb)\n")
    body.append(f"{_STAMP.format(5)}GUI freeze ended: the event loop was blocked for "
                "99999 ms\n")
    # the last freeze never ended (the run was killed): at least its last age
    body.append(_freeze(6, 100, [("/app/slots.py", 7, "slot6")]))
    body.append(f"{_STAMP.format(9)}GUI freeze: still frozen after 3000 ms; every thread "
                "(a deadlock shows as threads each waiting for what another holds):\n"
                '  File "/app/other.py", line 1, in elsewhere\n')
    log = tmp_path / "pyqtguard-20261129-100000000-14-0.log"
    log.write_text(head + "".join(body))
    run = summary.summarize(log)
    assert run.freezes == 501 and run.freezes_exact, run.freezes
    assert run.longest_freeze_ms == 3000 and not run.longest_freeze_ended, run
    assert run.freeze_where == "slots.py:7 in slot6", run.freeze_where
    assert len(run.freeze_places) == summary.MAX_FREEZE_PLACES
    assert run.freeze_places[0].where == "slots.py:7 in slot6"
    assert run.freeze_places[0].count == 2       # slot6: the 7th freeze and the last
    assert run.freeze_places[1].longest_ms == 699
    assert "501 GUI freezes (longest at least 3000 ms, at slots.py:7 in slot6)" \
        in run.describe(), run.describe()


HOLDS_THE_GIL = """
    import ctypes, sys
    import pyqtguard
    pyqtguard.install(freeze_ms=100)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv)

    def on_load():
        ctypes.PyDLL(None).sleep(3)      # a C call that keeps the GIL

    QTimer.singleShot(50, on_load)
    QTimer.singleShot(300, app.quit)
    app.exec()
"""


def test_a_freeze_the_watchdog_reported_itself_python_not_answering(tmp_path):
    """The GUI thread holds the GIL: no Python report, the watchdog's own
    ("Python did not answer"), with its dump of the GUI thread's stack
    (most recent call first) where the interpreter exports the dumper."""
    result = run_app(HOLDS_THE_GIL, tmp_path, script_name="held.py")
    assert result.returncode == 0, result.describe()
    assert "Python did not answer within 1.5 s" in result.log, result.describe()
    [run] = json.loads(_logs(result.log_dir, "--json").stdout)
    assert run["freezes"] == 1 and 2900 <= run["longest_freeze_ms"] < 10000, run
    where = f"held.py:{_line_of(HOLDS_THE_GIL, 'PyDLL(None).sleep(3)')} in on_load"
    if sys.version_info < (3, 13):       # the GUI thread's stack alone (src/watchdog.c)
        assert run["freeze_where"] == where, (run, result.log)
    else:                                # faulthandler's: every thread's, or none
        assert run["freeze_where"] in ("", where), (run, result.log)


def test_a_freeze_in_qts_own_code_is_placed_by_the_gui_threads_stack_alone(tmp_path):
    # The GUI thread blocks in Qt's C++ code under the loop (a QThread's
    # wait() called by Qt itself: no Python frame of the app's), so the
    # report adds the threads running Python then.  An idle worker among
    # them is no place of the freeze: `logs` names the GUI thread's line.
    source = """
        import sys, threading
        import pyqtguard
        pyqtguard.install(freeze_ms=100)
        from PyQt6.QtCore import QThread, QTimer
        from PyQt6.QtWidgets import QApplication

        app = QApplication(sys.argv)

        def idle_worker():
            threading.Event().wait(5)

        class Slow(QThread):
            def run(self):
                self.msleep(900)

        threading.Thread(target=idle_worker, daemon=True).start()
        slow = Slow()
        slow.start()
        QTimer.singleShot(50, slow.wait)     # Qt calls it: C++ all the way
        QTimer.singleShot(1300, app.quit)
        app.exec()
    """
    result = run_app(source, tmp_path, script_name="blocked.py")
    assert result.returncode == 0, result.describe()
    assert "in Qt's own code" in result.log, result.describe()
    runs = json.loads(_logs(tmp_path / "logs", "--json").stdout)
    exec_line = _line_of(source, "app.exec()")
    assert runs[0]["freeze_where"] == f"blocked.py:{exec_line} in <module>", runs[0]
