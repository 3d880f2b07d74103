"""pytest-qt suites after top-level loops are watched: every qtbot wait
(waitSignal, waitUntil, wait, waitCallback, waitExposed) is a QEventLoop
run at top level, so Ctrl+C, SIGTERM and the freeze watch act inside it.
Each case is a real inner pytest session in a subprocess, with the plugin
on (``--pyqtguard``) or only ``pyqtguard.install()`` in a conftest."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytest_plugins = ["pytester"]
pytest.importorskip("pytestqt")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LONG_WAIT = """
    import os, pytest
    from PyQt6.QtCore import QObject, pyqtSignal
    from PyQt6.QtWidgets import QWidget

    class Emitter(QObject):
        sig = pyqtSignal()

    class Stubborn(QWidget):                 # a "discard changes?" window under test
        def closeEvent(self, event):
            event.ignore()

    @pytest.fixture(scope="module")
    def shared_window():
        window = QWidget(); window.show()
        yield window
        print("shared window shown at its teardown:", window.isVisible())

    def test_a(qtbot, shared_window):
        assert shared_window.isVisible()

    def test_long(qtbot, shared_window):
        stubborn = Stubborn(); qtbot.addWidget(stubborn); stubborn.show()
        emitter = Emitter()
        open("ready", "w").close()
        with qtbot.waitSignal(emitter.sig, timeout=20000):
            pass

    def test_c(qtbot, shared_window):
        print("test_c ran")
        assert shared_window.isVisible()
"""


def _env(pytester, logs):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=str(logs),
               PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH", ""))
                                          if p))
    env.pop("PYQTGUARD_DISABLE", None)
    for name in list(env):
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_CURRENT_TEST":
            del env[name]
    # No inner session uses hypothesis: its plugin's import was 0.7 of an
    # inner pytest's 1.0 s start.
    env["PYTEST_ADDOPTS"] = " ".join(
        p for p in (env.get("PYTEST_ADDOPTS", ""), "-p no:hypothesispytest") if p)
    return env


def _signalled_run(pytester, tmp_path, args, signum, *, delay=0.3, timeout=40):
    """Run an inner pytest, send *signum* once its test wrote 'ready' (and
    *delay* s more); (exit status or None if it hung, output)."""
    ready = pytester.path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", *args],
        cwd=pytester.path, env=_env(pytester, tmp_path / "logs"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(delay)
    proc.send_signal(signum)
    return _finish(proc, timeout)


def _finish(proc, timeout):
    """(exit status, or None if *proc* had not ended in *timeout* s and was
    killed; its output)."""
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return None, out


@pytest.fixture(params=["plugin", "conftest"])
def how(request, pytester):
    if request.param == "conftest":
        pytester.makeconftest("import pyqtguard\npyqtguard.install()\n")
        return []
    return ["--pyqtguard"]


def test_ctrl_c_in_a_wait_stops_pytest_with_its_summary_at_the_test_s_line(
        pytester, tmp_path, how):
    pytester.makepyfile(test_waits=LONG_WAIT)
    status, out = _signalled_run(pytester, tmp_path, how, signal.SIGINT)
    assert status == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out and "1 passed" in out, out
    assert "test_c ran" not in out
    # The line pytest names is where the wait ran, not pyqtguard's wrapper.
    where = [line for line in out.splitlines() if line.endswith(": KeyboardInterrupt")]
    assert where and "pyqtguard" not in where[0], out


def test_ctrl_c_in_a_wait_leaves_the_other_windows_open(pytester, tmp_path, how):
    # The stubborn window refuses to close: in an app that keeps it running;
    # in a test the wait ends anyway, and the module's window is left alone.
    pytester.makepyfile(test_waits=LONG_WAIT)
    status, out = _signalled_run(pytester, tmp_path, [*how, "-s"], signal.SIGINT)
    assert status == pytest.ExitCode.INTERRUPTED, out
    assert "shared window shown at its teardown: True" in out, out


def test_sigterm_in_a_wait_ends_the_session_with_143(pytester, tmp_path):
    pytester.makepyfile(test_waits=LONG_WAIT)
    status, out = _signalled_run(pytester, tmp_path, ["--pyqtguard", "-s"], signal.SIGTERM)
    assert "test_c ran" not in out, out
    assert status == 143, out
    assert "SIGTERM" in out, out


# ---- pytest-timeout's signal method inside a wait ----------------------------------------
# Its SIGALRM handler is a Python handler: without pyqtguard it runs at the next
# Python slot (pytest-qt's timeout slot, which captures its Failed and never
# quits the loop) or never (a waitSignal with no timer): the test hangs.

STUCK = """
    import threading, pytest
    from PyQt6.QtCore import QEventLoop, QObject, QTimer, pyqtSignal
    from PyQt6.QtWidgets import QDialog

    class Emitter(QObject):
        sig = pyqtSignal()

    def test_a(qtbot):
        qtbot.wait(10)

    def test_stuck(qtbot):
        emitter = Emitter()
        done = threading.Event()        # a thread, for pytest-timeout's stacks
        helper = threading.Thread(target=done.wait, name="helper")
        helper.start()
        try:
            {body}
        finally:
            done.set()
            helper.join()

    def test_c(qtbot):
        emitter = Emitter()
        with qtbot.waitSignal(emitter.sig, timeout=50, raising=False):
            pass
        print("test_c ran")
"""

STUCK_BODIES = {
    "waitSignal": "with qtbot.waitSignal(emitter.sig, timeout=30000): pass",
    "waitUntil": "qtbot.waitUntil(lambda: False, timeout=30000)",
    "QEventLoop.exec": "QEventLoop().exec()",
    "dialog.exec": "dialog = QDialog(); qtbot.addWidget(dialog); dialog.exec()",
    # a loop nested in the wait's: a slot of the wait runs one that never ends
    "nested": ("QTimer.singleShot(0, lambda: QEventLoop().exec())\n"
               "            with qtbot.waitSignal(emitter.sig, timeout=30000): pass"),
}


def _timed_run(pytester, tmp_path, args, *, hard=60):
    """An inner pytest that must end by itself within *hard* seconds:
    (exit status, or None if it hung and was killed; output)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-s", *args],
        cwd=pytester.path, env=_env(pytester, tmp_path / "logs"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    return _finish(proc, hard)


@pytest.mark.parametrize("where", sorted(STUCK_BODIES))
def test_pytest_timeout_signal_method_ends_a_test_stuck_in_a_qt_loop(pytester, tmp_path,
                                                                     where):
    pytester.makepyfile(test_stuck=STUCK.format(body=STUCK_BODIES[where]))
    started = time.monotonic()
    status, out = _timed_run(pytester, tmp_path, ["--pyqtguard", "--timeout=2"])
    assert status == pytest.ExitCode.TESTS_FAILED, out
    assert "+ Timeout +" in out and "Stack of helper" in out, out
    assert "Failed: Timeout (>2.0s)" in out, out
    assert "FAILED test_stuck.py::test_stuck - Failed: Timeout" in out, out
    assert "test_c ran" in out and "2 passed" in out, out
    assert time.monotonic() - started < 25, out       # at the deadline, not the wait's


def test_pytest_timeout_signal_method_with_install_in_a_conftest(pytester, tmp_path):
    pytester.makeconftest("import pyqtguard\npyqtguard.install()\n")
    pytester.makepyfile(test_stuck=STUCK.format(body=STUCK_BODIES["waitSignal"]))
    status, out = _timed_run(pytester, tmp_path, ["--timeout=2"])
    assert status == pytest.ExitCode.TESTS_FAILED, out
    assert "Failed: Timeout (>2.0s)" in out and "test_c ran" in out, out


def test_pytest_timeout_signal_method_no_false_timeouts(pytester, tmp_path):
    # Many short waits under a deadline that never comes: all pass, and the
    # deadline outside a loop still fails a test as it always did.
    pytester.makepyfile(test_waits="""
        import time, pytest
        from PyQt6.QtCore import QTimer

        @pytest.mark.parametrize("n", range(30))
        def test_waits(qtbot, n):
            for _ in range(5):
                qtbot.wait(5)
                qtbot.waitUntil(lambda: True)

        def test_sleeps(qtbot):
            qtbot.wait(5)
            time.sleep(10)

        def test_after(qtbot):
            qtbot.wait(5)
            print("test_after ran")
    """)
    status, out = _timed_run(pytester, tmp_path, ["--pyqtguard", "--timeout=2"])
    assert status == pytest.ExitCode.TESTS_FAILED, out
    assert "31 passed" in out and "1 failed" in out, out
    assert "FAILED test_waits.py::test_sleeps - Failed: Timeout" in out and "Failed: Timeout (>2.0s)" in out, out
    assert "test_after ran" in out, out


def test_an_app_s_own_sigalrm_handler_runs_during_a_wait(pytester, tmp_path):
    # The handler emits the signal waited for: it must run when SIGALRM comes,
    # not when the wait's 30 s are over.
    pytester.makepyfile(test_alarm="""
        import signal, time
        from PyQt6.QtCore import QObject, pyqtSignal

        class Emitter(QObject):
            sig = pyqtSignal()

        def test_alarm(qtbot):
            emitter = Emitter()
            calls = []
            def on_alarm(signum, frame):
                calls.append(signum)
                emitter.sig.emit()
            previous = signal.signal(signal.SIGALRM, on_alarm)
            try:
                started = time.monotonic()
                signal.setitimer(signal.ITIMER_REAL, 0.2)
                with qtbot.waitSignal(emitter.sig, timeout=30000):
                    pass
                assert calls == [signal.SIGALRM]
                assert time.monotonic() - started < 5
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            assert signal.getsignal(signal.SIGALRM) is previous
    """)
    status, out = _timed_run(pytester, tmp_path, ["--pyqtguard", "-p", "no:timeout"], hard=40)
    assert status == pytest.ExitCode.OK, out
