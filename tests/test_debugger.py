"""A program stopped at a breakpoint is being debugged, not hung: the exit
deadline must not end it and a GUI thread stopped in the debugger is no
freeze to report.  Before, a developer sitting at a ``breakpoint()`` after
``app.exec()`` returned had the process killed with exit status 124 after
``exit_timeout`` seconds.

Real pdb sessions: the app runs in a subprocess whose stdin the test writes
pdb commands to, after waiting past the deadline; the assertions are on the
exit status, stdout and the run log.  bdb-based debuggers (pdb, ipdb, pudb)
and pydevd (PyCharm, VS Code's debugpy) are recognised by the frames of a
stopped thread; only pdb is run here (the others need an IDE).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from apprunner import child_env


def _debug(source, tmp_path, commands, wait, timeout=60):
    """Run *source*; once it prints "stopping", wait *wait* seconds, then
    type *commands* into pdb."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(source))
    log_dir = tmp_path / "logs"
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                            env=child_env(log_dir), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "stopping" in line, line + proc.stderr.read()
        time.sleep(wait)
        out, err = proc.communicate("".join(c + "\n" for c in commands), timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    logs = sorted(log_dir.glob("pyqtguard-*.log"))
    return proc.returncode, line + out, err, logs[-1].read_text() if logs else ""


AFTER_THE_LOOP = """
    import sys
    import pyqtguard
    pyqtguard.install(exit_timeout=1)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication, QLabel
    app = QApplication(sys.argv)
    label = QLabel("hello")
    label.show()
    QTimer.singleShot(50, app.quit)
    app.exec()
    print("stopping", flush=True)
    breakpoint()
    print("went on after the breakpoint", flush=True)
"""


def test_a_breakpoint_after_the_loop_outlasts_the_exit_deadline(tmp_path):
    status, out, err, log = _debug(AFTER_THE_LOOP, tmp_path, ["p 6 * 7", "c"], wait=3.5)
    assert status == 0, (status, out, err, log)
    assert "42" in out and "went on after the breakpoint" in out, out
    assert "=== pyqtguard exit timeout ===" not in log, log
    assert "stopped in a debugger (pdb" in log, log
    assert log.count("stopped in a debugger") == 1, log       # said once, not every second


IN_A_SLOT = """
    import sys
    import pyqtguard
    pyqtguard.install(freeze_ms=200)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication, QLabel
    app = QApplication(sys.argv)
    label = QLabel("hello")
    label.show()
    def slot():
        print("stopping", flush=True)
        breakpoint()
        app.quit()
    QTimer.singleShot(50, slot)
    app.exec()
    print("loop ended", flush=True)
"""


def test_a_gui_thread_stopped_in_the_debugger_is_no_freeze_report(tmp_path):
    status, out, err, log = _debug(IN_A_SLOT, tmp_path, ["c"], wait=2)
    assert status == 0, (status, out, err, log)
    assert "loop ended" in out, out
    assert "GUI freeze: the event loop has not turned" not in log, log
    assert "the GUI thread is stopped in a debugger (pdb" in log, log


A_THREAD_AT_A_BREAKPOINT = """
    import sys, threading
    import pyqtguard
    pyqtguard.install(exit_timeout=1)
    def work():
        print("stopping", flush=True)
        breakpoint()
        print("thread went on", flush=True)
    threading.Thread(target=work, name="loader").start()
"""


POST_MORTEM = """
    import pdb, sys
    import pyqtguard
    pyqtguard.install(exit_timeout=1)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv)
    QTimer.singleShot(50, app.quit)
    app.exec()
    try:
        {}["missing"]
    except KeyError:
        print("stopping", flush=True)
        pdb.post_mortem()
    print("went on after the post-mortem", flush=True)
"""


@pytest.mark.parametrize("source, went_on, holder", [
    (A_THREAD_AT_A_BREAKPOINT, "thread went on", "loader"),       # main in threading._shutdown
    (POST_MORTEM, "went on after the post-mortem", "MainThread"),  # no bdb frame on the stack
], ids=["thread", "post-mortem"])
def test_a_debugger_session_outlasts_the_exit_deadline(tmp_path, source, went_on, holder):
    status, out, err, log = _debug(source, tmp_path, ["c"], wait=3.5)
    assert status == 0, (status, out, err, log)
    assert went_on in out, out
    assert "=== pyqtguard exit timeout ===" not in log, log
    assert f"{holder!r} is stopped in a debugger (pdb)" in log, log


A_TRACED_HANG = """
    import sys, threading, time
    import pyqtguard
    pyqtguard.install(exit_timeout=1)
    sys.settrace(lambda *args: None)         # a tracer (coverage, a profiler): no debugger
    threading.settrace(lambda *args: None)
    def work():
        time.sleep(60)
    threading.Thread(target=work, name="forgotten").start()
    print("stopping", flush=True)
"""


def test_tracing_alone_is_no_debugger_and_a_hang_still_ends(tmp_path):
    status, out, err, log = _debug(A_TRACED_HANG, tmp_path, [], wait=0)
    assert status == 124, (status, out, err, log)
    assert "=== pyqtguard exit timeout ===" in log, log
    assert "stopped in a debugger" not in log, log


def test_an_apps_own_interaction_in_a_debugger_module_is_no_debugger(tmp_path):
    """Only a debugger's ``interaction`` (a method of a ``bdb.Bdb``
    subclass) holds the deadline: an app's own function of that name, in a
    module named ``...debugger...`` (an IDE's debugger panel), that hangs at
    exit is a hang like any other, ended at the deadline."""
    (tmp_path / "debugger_panel.py").write_text(textwrap.dedent("""
        import pdb, threading
        def interaction():
            threading.Event().wait()        # hangs: waits for a stop that never comes
    """))
    from apprunner import run_app

    result = run_app("""
        import threading
        import pyqtguard
        import debugger_panel
        pyqtguard.install(exit_timeout=1)
        threading.Thread(target=debugger_panel.interaction, name="panel").start()
    """, tmp_path, timeout=30)
    assert result.returncode == 124, result.describe()
    assert "stopped in a debugger" not in result.log, result.log
    assert "=== pyqtguard exit timeout ===" in result.log, result.log
