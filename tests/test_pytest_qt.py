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
