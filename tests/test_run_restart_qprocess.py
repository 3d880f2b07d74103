"""An app that restarts itself through ``QProcess`` under ``pyqtguard run``
comes back guarded (docs/hostile-review.md, R19 and "session 15: QProcess
restarts").

Qt starts the program in C++, so the wrapper of ``os.execv``/``Popen``
never sees it: ``QProcess.startDetached``/``start``/``startCommand``/
``open``/``execute`` apply restart.py's rule before Qt does.  Every case
runs the real launcher in a subprocess with real PyQt6 (offscreen); the
restarted app's uncaught exception must be in a run log, and a command that
is not the app's own must run as under python.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from apprunner import child_env, run_app
from test_run_restart import RESTARTING_APP
from test_run_restart import _guarded_restart as guarded_again
from test_run_restart import restarts_of_a_namesake

pytest.importorskip("PyQt6.QtCore")

# test_run_restart's app, restarting through QProcess
APP = RESTARTING_APP.replace("import os, subprocess, sys\n", """\
import os, sys
from PyQt6.QtCore import QCoreApplication, QIODeviceBase, QProcess, QProcessEnvironment
FORWARD = QProcess.ProcessChannelMode.ForwardedChannels
""")

# The restart, as an app writes it; a started (not detached) child is waited
# for, and its channels forwarded, so that the test sees its output.
_WAIT = "p.waitForStarted(); p.waitForFinished(-1); sys.exit(p.exitCode())"
RESTARTS = {
    "startDetached-static": "ok, pid = QProcess.startDetached(sys.executable, sys.argv); "
                            "assert ok and pid > 0",
    "startDetached-static-kw": "QProcess.startDetached(sys.executable, arguments=sys.argv, "
                               "workingDirectory='')",
    "startDetached-via-object": "QProcess().startDetached(sys.executable, sys.argv)",
    "startDetached-member": "p = QProcess(); p.setProgram(sys.executable); "
                            "p.setArguments(sys.argv); ok, pid = p.startDetached(); "
                            "assert ok and pid > 0 and p.arguments() == sys.argv",
    "startDetached-unbound": "p = QProcess(); p.setProgram(sys.executable); "
                             "p.setArguments(sys.argv); QProcess.startDetached(p)",
    "start": "p = QProcess(); p.setProcessChannelMode(FORWARD); "
             "p.start(sys.executable, sys.argv); " + _WAIT,
    "start-kw": "p = QProcess(); p.setProcessChannelMode(FORWARD); "
                "p.start(sys.executable, arguments=sys.argv, "
                "mode=QIODeviceBase.OpenModeFlag.ReadWrite); " + _WAIT,
    "start-no-arguments": "p = QProcess(); p.setProcessChannelMode(FORWARD); "
                          "p.setProgram(sys.executable); p.setArguments(sys.argv); p.start(); "
                          + _WAIT,
    "open": "p = QProcess(); p.setProcessChannelMode(FORWARD); p.setProgram(sys.executable); "
            "p.setArguments(sys.argv); assert p.open(); " + _WAIT,
    "execute": "sys.exit(QProcess.execute(sys.executable, sys.argv))",
    "subclass": "P = type('P', (QProcess,), {'start': lambda self, *a, **k: "
                "QProcess.start(self, *a, **k)}); p = P(); p.setProcessChannelMode(FORWARD); "
                "p.start(sys.executable, sys.argv); " + _WAIT,
    "subclass-detached": "P = type('P', (QProcess,), {}); p = P(); "
                         "p.setProgram(sys.executable); p.setArguments(sys.argv); "
                         "p.startDetached()",
    "environment": "p = QProcess(); p.setProcessChannelMode(FORWARD); "
                   "e = QProcessEnvironment.systemEnvironment(); e.insert('X', 'y'); "
                   "p.setProcessEnvironment(e); p.start(sys.executable, sys.argv); " + _WAIT,
}
HOSTILE_ARGS = ["two\nlines", "q'u\"ote", "--log-dir", "-m", "x", "", "sp ace", "\u00e9"]
_DETACHED = {"startDetached-static", "startDetached-static-kw", "startDetached-via-object",
             "startDetached-member", "startDetached-unbound", "subclass-detached"}


def _guarded_restart(result, args):
    guarded_again(result, args)
    assert "not guarded" not in result.stderr, result.describe()
    assert "already running" not in result.stderr, result.describe()


@pytest.mark.parametrize("style", sorted(RESTARTS))
def test_qprocess_restart_is_guarded(tmp_path, style):
    result = run_app(APP.format(restart=RESTARTS[style]), tmp_path, under_run=True,
                     args=HOSTILE_ARGS)
    _guarded_restart(result, HOSTILE_ARGS)
    # a detached child's status is its own; a waited-for one's is the app's
    assert result.returncode == (0 if style in _DETACHED else 1), result.describe()


def test_start_command_restart_is_guarded(tmp_path):
    """``startCommand`` splits one string as Qt does (double quotes, three
    of them for a quote itself; no empty argument)."""
    args = ["two\nlines", "q'u\"ote", "-m", "sp  ace", "\u00e9", "a\"\"b"]
    restart = ("q = lambda a: '\"' + a.replace('\"', '\"\"\"') + '\"'; "
               "p = QProcess(); p.setProcessChannelMode(FORWARD); "
               "p.startCommand(' '.join(q(a) for a in [sys.executable, *sys.argv])); " + _WAIT)
    result = run_app(APP.format(restart=restart), tmp_path, under_run=True, args=args)
    _guarded_restart(result, args)
    assert result.returncode == 1, result.describe()


def test_relative_script_against_working_directory(tmp_path):
    """The app's script named relative to the working directory the
    QProcess is given (the app having moved elsewhere itself)."""
    (tmp_path / "elsewhere").mkdir()
    for restart in ("os.chdir('elsewhere'); QProcess.startDetached(sys.executable, "
                    "['app.py', *sys.argv[1:]], os.path.dirname(MARK))",
                    "os.chdir('elsewhere'); p = QProcess(); p.setProgram(sys.executable); "
                    "p.setArguments(['app.py', *sys.argv[1:]]); "
                    "p.setWorkingDirectory(os.path.dirname(MARK)); "
                    "p.setProcessChannelMode(FORWARD); p.start(); " + _WAIT):
        (tmp_path / "restarted").unlink(missing_ok=True)
        result = run_app(APP.format(restart=restart), tmp_path, under_run=True, args=["w"])
        _guarded_restart(result, ["w"])


def test_qt_app_restarts_from_its_event_loop(tmp_path):
    """The usual Qt restart: a slot calls ``QProcess.startDetached(
    sys.executable, sys.argv)`` and quits; the new run reports its slot's
    exception in a run log of its own."""
    app = """\
import os, sys
from PyQt6.QtCore import QProcess, QTimer
from PyQt6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv)
label = QLabel("hello")
label.show()
def restart():
    QProcess.startDetached(sys.executable, [*sys.argv, "--restarted"])
    app.quit()
def boom():
    print("guarded", sys.excepthook.__module__, sys.argv[1:], "pyqtguard" in sys.modules,
          flush=True)
    raise RuntimeError("slot after restart")
if "--restarted" in sys.argv:
    QTimer.singleShot(0, boom)
    QTimer.singleShot(100, app.quit)
else:
    QTimer.singleShot(0, restart)
sys.exit(app.exec())
"""
    result = run_app(app, tmp_path, under_run=True)
    assert result.returncode == 0, result.describe()
    assert "guarded pyqtguard._native ['--restarted'] True" in result.stdout, result.describe()
    assert "RuntimeError: slot after restart" in result.log, result.describe()
    assert len(result.logs) == 2, result.describe()


OTHER_PROGRAMS = {
    "echo": "QProcess.execute('/bin/echo', ['not', 'python'])",
    "echo-detached": "p = QProcess(); p.setProgram('/bin/echo'); p.setArguments(['x']); "
                     "p.startDetached(); import time; time.sleep(0.5)",
    "python-c": "QProcess.execute(sys.executable, ['-c', "
                "'import sys; print(sys.orig_argv[1:], sys.excepthook.__module__)'])",
    "other-script": "QProcess.execute(sys.executable, ['other.py', *sys.argv[1:]])",
    "other-script-start": "p = QProcess(); p.setProcessChannelMode(FORWARD); "
                          "p.start(sys.executable, ['other.py']); " + _WAIT,
    "version": "QProcess.execute(sys.executable, ['--version'])",
    "disabled-environment": "p = QProcess(); p.setProcessChannelMode(FORWARD); "
                            "e = QProcessEnvironment.systemEnvironment(); "
                            "e.insert('PYQTGUARD_DISABLE', '1'); p.setProcessEnvironment(e); "
                            "p.start(sys.executable, sys.argv); " + _WAIT,
    "other-folder": "QProcess.startDetached(sys.executable, ['app.py', 'w'], "
                    "os.path.join(os.path.dirname(MARK), 'inner')); import time; "
                    "time.sleep(1)",
}


@pytest.mark.parametrize("style", sorted(OTHER_PROGRAMS))
def test_other_qprocess_commands_are_left_alone(tmp_path, style):
    (tmp_path / "other.py").write_text(
        "import sys; print('other', sys.orig_argv[1:], sys.excepthook.__module__)\n")
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "app.py").write_text(
        "import sys; print('inner', sys.orig_argv[1:], sys.excepthook.__module__)\n")
    (tmp_path / "app.py").write_text(APP.format(restart=OTHER_PROGRAMS[style]))
    outputs = []
    for launcher in ([], ["-m", "pyqtguard", "run"]):
        (tmp_path / "restarted").unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, *launcher, "app.py", "q"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, input="",
                              env=child_env(tmp_path / "logs"))
        outputs.append((proc.returncode, proc.stdout, proc.stderr))
    assert outputs[0] == outputs[1]
    if style == "disabled-environment":
        assert "guarded sys" in outputs[1][1], outputs


def test_restart_that_cannot_be_guarded_warns_once(tmp_path):
    """Anything going wrong leaves the command as it is, with one warning:
    the restart happens, unguarded."""
    restart = ("import pyqtguard.cli.restart as r; r._bootstrap = lambda: 1 / 0; "
               "q = QProcess(); q.setWorkingDirectory('/nonexistent'); "
               "q.start(sys.executable, sys.argv); assert not q.waitForStarted(); "
               "p = QProcess(); p.setProcessChannelMode(FORWARD); "
               "p.start(sys.executable, sys.argv); " + _WAIT)
    result = run_app(APP.format(restart=restart), tmp_path, under_run=True, args=["a"])
    assert result.returncode == 1, result.describe()
    assert "argv ['a']" in result.stdout, result.describe()
    assert "guarded sys" in result.stdout, result.describe()
    assert result.stderr.count("a restart of the app is not guarded (ZeroDivisionError") == 1, \
        result.describe()


def test_qprocess_untouched_without_run(tmp_path):
    """Only ``run`` wraps QProcess: an app with ``install()`` keeps Qt's
    own methods, and pyqtguard does not import PyQt6 for it."""
    app = """\
import sys
import pyqtguard
pyqtguard.install()
print("qt", "PyQt6.QtCore" in sys.modules)
from PyQt6.QtCore import QProcess
print("start", type(QProcess.__dict__["start"]).__name__)
"""
    result = run_app(app, tmp_path)
    assert "qt False" in result.stdout and "start methoddescriptor" in result.stdout, \
        result.describe()


def test_a_bare_program_name_is_looked_up_on_the_path_qt_uses(tmp_path):
    """Qt looks a program name without a folder up on the app's own PATH,
    not on the QProcess environment's.  With this python's folder on the
    latter only, the rule took the name for this python and rewrote the
    arguments - and Qt ran another program of that name (another python)
    with pyqtguard's bootstrap instead of the app's script."""
    name = os.path.basename(sys.executable)
    restart = ("p = QProcess(); p.setProcessChannelMode(FORWARD); "
               "e = QProcessEnvironment.systemEnvironment(); "
               "e.insert('PATH', os.path.dirname(sys.executable) + os.pathsep + e.value('PATH')); "
               f"p.setProcessEnvironment(e); p.start({name!r}, sys.argv); " + _WAIT)
    outputs = restarts_of_a_namesake(tmp_path, APP.format(restart=restart), input="")
    assert "other program: app.py q" in outputs[0][1], outputs
    assert outputs[0] == outputs[1], outputs
