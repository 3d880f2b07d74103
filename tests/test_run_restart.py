"""An app that restarts itself under ``pyqtguard run`` comes back guarded
(docs/hostile-review.md, "session 14: run launcher restarts").

Under ``run`` ``sys.argv`` is the app's, so ``os.execv(sys.executable,
[sys.executable] + sys.argv)`` names ``python app.py``: the launcher rewrites
such a command - this interpreter running the app's own script, module or
``-c`` program - to run it under ``pyqtguard run`` again with the same
options, and leaves every other command as it is.  Every case runs the real
launcher in a subprocess; the restarted app's uncaught exception must be in
a run log.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from apprunner import child_env, run_app

RESTARTING_APP = """\
import os, subprocess, sys
MARK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "restarted")
if not os.path.exists(MARK):
    open(MARK, "w").close()
    sys.stdout.flush()
    {restart}
    sys.exit(0)
print("argv", sys.argv[1:])
print("guarded", sys.excepthook.__module__)
sys.stdout.flush()
raise RuntimeError("after restart")
"""

RESTARTS = {
    "execv": "os.execv(sys.executable, [sys.executable] + sys.argv)",
    "execl": "os.execl(sys.executable, sys.executable, *sys.argv)",
    "execle": "os.execle(sys.executable, sys.executable, *sys.argv, dict(os.environ))",
    "execlp": "os.execlp(sys.executable, sys.executable, *sys.argv)",
    "execvp": "os.execvp(sys.executable, [sys.executable, *sys.argv])",
    "execvpe": "os.execvpe(sys.executable, [sys.executable, *sys.argv], dict(os.environ))",
    "execve-bytes": "os.execve(os.fsencode(sys.executable), "
                    "[os.fsencode(a) for a in [sys.executable, *sys.argv]], os.environ)",
    "orig_argv": "os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])",
    "python-options": "os.execv(sys.executable, [sys.executable, '-X', 'dev', '-u', *sys.argv])",
    "popen": "subprocess.Popen([sys.executable] + sys.argv)",
    "spawnv": "sys.exit(os.spawnv(os.P_WAIT, sys.executable, [sys.executable, *sys.argv]) and 1)",
    "posix_spawn": "sys.exit(os.waitstatus_to_exitcode(os.waitpid(os.posix_spawn("
                   "sys.executable, [sys.executable, *sys.argv], os.environ), 0)[1]))",
}
HOSTILE_ARGS = ["two\nlines", "q'u\"ote", "--log-dir", "-m", "x", "", "sp ace", "\u00e9"]


def _guarded_restart(result, args):
    assert f"argv {args!r}" in result.stdout, result.describe()
    assert "guarded pyqtguard._native" in result.stdout, result.describe()
    assert any("RuntimeError: after restart" in log.read_text(errors="replace")
               for log in result.logs), result.describe()


@pytest.mark.parametrize("style", sorted(RESTARTS))
def test_restarted_app_is_guarded_again(tmp_path, style):
    result = run_app(RESTARTING_APP.format(restart=RESTARTS[style]), tmp_path,
                     under_run=True, args=HOSTILE_ARGS)
    _guarded_restart(result, HOSTILE_ARGS)
    if style != "popen":       # the restart's status: the uncaught exception
        assert result.returncode == 1, result.describe()


def test_restart_keeps_python_options(tmp_path):
    app = RESTARTING_APP.format(restart=RESTARTS["python-options"]).replace(
        'print("argv"', 'print("dev", sys.flags.dev_mode, "unbuffered", '
        'not sys.stdout.line_buffering and sys.stdout.write_through)\nprint("argv"')
    result = run_app(app, tmp_path, under_run=True)
    assert "dev True unbuffered True" in result.stdout, result.describe()
    _guarded_restart(result, [])


QT_RESTARTING_APP = """\
import os, sys
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv)
if len(sys.argv) < 2:
    app.quit()
    del app
    os.execv(sys.executable, [sys.executable, *sys.argv, "--restarted"])
print("guarded", sys.excepthook.__module__, sys.argv[1:])
label = QLabel("restarted")
label.show()
def boom():
    raise RuntimeError("slot after restart")
QTimer.singleShot(0, boom)
QTimer.singleShot(100, app.quit)
sys.exit(app.exec() + 5)
"""


def test_qt_app_restarted_with_execv_reports_its_slot_exception(tmp_path):
    result = run_app(QT_RESTARTING_APP, tmp_path, under_run=True)
    assert result.returncode == 5, result.describe()
    assert "guarded pyqtguard._native ['--restarted']" in result.stdout, result.describe()
    assert "RuntimeError: slot after restart" in result.log, result.describe()
    assert len(result.logs) == 2, result.describe()


def test_restart_keeps_log_dir_option_after_chdir(tmp_path):
    """``--log-dir mylogs`` (relative) and a script path given relative:
    the app changes folder, then restarts by its absolute path."""
    (tmp_path / "elsewhere").mkdir()
    app = RESTARTING_APP.format(restart="os.chdir('elsewhere'); os.execv(sys.executable, "
                                "[sys.executable, __file__, *sys.argv[1:]])")
    (tmp_path / "app.py").write_text(app)
    proc = subprocess.run([sys.executable, "-m", "pyqtguard", "run", "--log-dir", "mylogs",
                           "app.py", "a"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env=child_env(tmp_path / "envlogs"))
    assert proc.returncode == 1, proc.stderr
    assert "guarded pyqtguard._native" in proc.stdout, proc.stderr
    logs = sorted((tmp_path / "mylogs").glob("pyqtguard-*.log"))
    assert len(logs) == 2, (proc.stderr, list(tmp_path.rglob("*.log")))
    assert "RuntimeError: after restart" in logs[-1].read_text()
    assert not (tmp_path / "elsewhere" / "mylogs").exists()


def test_relative_restart_after_chdir_is_what_python_does(tmp_path):
    """``python app.py`` restarted by its relative name after a chdir runs
    whatever app.py the new folder has (another program: left alone), or
    fails as python fails."""
    for sub, other in (("other", "print('other', __import__('sys').excepthook.__module__)"),
                       ("empty", None)):
        case = tmp_path / sub
        case.mkdir()
        (case / "inner").mkdir()
        if other:
            (case / "inner" / "app.py").write_text(other)
        app = RESTARTING_APP.format(restart="os.chdir('inner'); "
                                    "os.execv(sys.executable, [sys.executable] + sys.argv)")
        (case / "app.py").write_text(app)
        results = []
        for launcher in ([], ["-m", "pyqtguard", "run"]):
            (case / "restarted").unlink(missing_ok=True)
            results.append(subprocess.run([sys.executable, *launcher, "app.py"], cwd=case,
                                          capture_output=True, text=True, timeout=60,
                                          env=child_env(tmp_path / "logs")))
        plain, guarded = results
        assert plain.returncode == guarded.returncode, (plain, guarded)
        assert plain.stdout == guarded.stdout, (plain, guarded)
        assert plain.stderr == guarded.stderr, (plain, guarded)


def test_module_target_restarts_guarded(tmp_path):
    pkg = tmp_path / "apppkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, restart in (("by_name", "os.execv(sys.executable, [sys.executable, '-m', "
                                      "'apppkg.by_name', *sys.argv[1:]])"),
                          ("by_argv", RESTARTS["execv"])):
        (pkg / f"{name}.py").write_text(RESTARTING_APP.format(restart=restart))
        (tmp_path / "apppkg" / "restarted").unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pyqtguard", "run", "-m", f"apppkg.{name}",
                               "x y"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, env=child_env(tmp_path / "logs"))
        assert proc.returncode == 1, (name, proc.stderr)
        assert "argv ['x y']" in proc.stdout and "guarded pyqtguard._native" in proc.stdout, \
            (name, proc.stdout, proc.stderr)


def test_command_and_zip_targets_restart_guarded(tmp_path):
    body = RESTARTING_APP.replace("os.path.dirname(os.path.abspath(__file__))", "'.'")
    (tmp_path / "c.py").write_text(body.format(
        restart="os.execv(sys.executable, [sys.executable, '-c', os.environ['APP_COMMAND'], "
                "*sys.argv[1:]])"))
    command = "exec(open('c.py').read())"
    with zipfile.ZipFile(tmp_path / "app.pyz", "w") as archive:
        archive.writestr("__main__.py", body.format(restart=RESTARTS["execv"]))
    for target in (["-c", command], ["app.pyz"]):
        (tmp_path / "restarted").unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pyqtguard", "run", *target, "z"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env=child_env(tmp_path / "logs", {"APP_COMMAND": command}))
        assert proc.returncode == 1, (target, proc.stderr)
        assert "argv ['z']" in proc.stdout, (target, proc.stdout, proc.stderr)
        assert "guarded pyqtguard._native" in proc.stdout, (target, proc.stdout, proc.stderr)


def test_restart_with_an_environment_that_cannot_find_pyqtguard(tmp_path):
    """execve with an environment without PYTHONPATH, python -S -E: the
    restarted launcher still finds pyqtguard, and the app's sys.path is
    python's."""
    restart = ("env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}; "
               "os.execve(sys.executable, [sys.executable, '-S', '-E', *sys.argv], env)")
    app = RESTARTING_APP.format(restart=restart).replace(
        'print("argv"', 'print("path", sys.path[1:])\nprint("argv"')
    result = run_app(app, tmp_path, under_run=True)
    _guarded_restart(result, [])
    plain = subprocess.run([sys.executable, "-S", "-E", "-c", "import sys; print(sys.path[1:])"],
                           capture_output=True, text=True, env={})
    assert f"path {plain.stdout.strip()}" in result.stdout, (plain.stdout, result.describe())


OTHER_PROGRAMS = {
    "echo": "os.execv('/bin/echo', ['echo', 'not', 'python'])",
    "python-c": "os.execv(sys.executable, [sys.executable, '-c', "
                "'import sys; print(sys.orig_argv[1:], sys.excepthook.__module__)'])",
    "other-script": "os.execv(sys.executable, [sys.executable, 'other.py', *sys.argv[1:]])",
    "version": "os.execv(sys.executable, [sys.executable, '--version'])",
    "stdin": "os.execv(sys.executable, [sys.executable, '-', *sys.argv[1:]])",
    "popen-other": "subprocess.run([sys.executable, 'other.py'])",
}


@pytest.mark.parametrize("style", sorted(OTHER_PROGRAMS))
def test_other_programs_are_left_alone(tmp_path, style):
    (tmp_path / "other.py").write_text(
        "import sys; print('other', sys.orig_argv[1:], sys.excepthook.__module__)\n")
    app = RESTARTING_APP.format(restart=OTHER_PROGRAMS[style])
    (tmp_path / "app.py").write_text(app)
    outputs = []
    for launcher in ([], ["-m", "pyqtguard", "run"]):
        (tmp_path / "restarted").unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, *launcher, "app.py", "q"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, input="",
                              env=child_env(tmp_path / "logs"))
        outputs.append((proc.returncode, proc.stdout, proc.stderr))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("where", ["run", "exec"])
def test_disabled_restart_is_left_alone(tmp_path, where):
    """PYQTGUARD_DISABLE=1 for the whole run, or in the environment the app
    restarts with: python's command, unchanged."""
    restart = ("os.execve(sys.executable, [sys.executable, *sys.argv], "
               "dict(os.environ, PYQTGUARD_DISABLE='1'))" if where == "exec"
               else RESTARTS["execv"])
    app = RESTARTING_APP.format(restart=restart).replace(
        'print("argv"', 'print("orig", sys.orig_argv[1:])\nprint("argv"')
    env = {"PYQTGUARD_DISABLE": "1"} if where == "run" else None
    result = run_app(app, tmp_path, under_run=True, env=env)
    assert result.returncode == 1, result.describe()
    assert f"orig [{str(tmp_path / 'app.py')!r}]" in result.stdout, result.describe()
    assert "guarded sys" in result.stdout, result.describe()


def test_restarts_twice_and_by_orig_argv_after_a_rewrite(tmp_path):
    app = """\
import os, sys
n = int(os.environ.get("GEN", "0"))
print("gen", n, sys.excepthook.__module__, sys.argv[1:], flush=True)
os.environ["GEN"] = str(n + 1)
if n == 0:
    os.execv(sys.executable, [sys.executable] + sys.argv)
if n == 1:
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
raise RuntimeError("after restart")
"""
    result = run_app(app, tmp_path, under_run=True, args=["a"])
    assert result.returncode == 1, result.describe()
    for gen in range(3):
        assert f"gen {gen} pyqtguard._native ['a']" in result.stdout, result.describe()
    assert "RuntimeError: after restart" in result.log


def test_posix_spawnp_looks_a_bare_name_up_on_this_process_s_path(tmp_path):
    """posix_spawnp searches the caller's PATH, not the PATH of the
    environment it is given: with this python's folder on the latter only,
    the rule rewrote the arguments and the C library ran another program of
    that name with pyqtguard's bootstrap instead of the app's script."""
    name = os.path.basename(sys.executable)
    restart = ("env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep "
               "+ os.environ['PATH']); "
               f"os.waitpid(os.posix_spawnp({name!r}, [{name!r}, *sys.argv], env), 0)")
    outputs = restarts_of_a_namesake(tmp_path, RESTARTING_APP.format(restart=restart))
    assert "other program: app.py q" in outputs[0][1], outputs
    assert outputs[0] == outputs[1], outputs


def restarts_of_a_namesake(tmp_path, app: str, **run: object) -> list[tuple[int, str]]:
    """(exit status, stdout) of *app*, run as ``app.py q`` without and with
    ``pyqtguard run``, with another program named like this python first
    on PATH (it prints its arguments): the two must be the same."""
    other = tmp_path / "bin" / os.path.basename(sys.executable)
    other.parent.mkdir()
    other.write_text('#!/bin/sh\necho "other program:" "$@"\n')
    other.chmod(0o755)
    (tmp_path / "app.py").write_text(app)
    outputs = []
    for launcher in ([], ["-m", "pyqtguard", "run"]):
        (tmp_path / "restarted").unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, *launcher, "app.py", "q"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60,
                              env=child_env(tmp_path / "logs",
                                            {"PATH": f"{other.parent}:/usr/bin:/bin"}),
                              **run)
        outputs.append((proc.returncode, proc.stdout))
    return outputs
