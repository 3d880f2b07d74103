"""The child guard in frozen apps (PyInstaller, cx_Freeze): a spawn child is
the app's executable again, started as ``exe --multiprocessing-fork
tracker_fd=N pipe_handle=M`` (Windows: ``parent_pid=P pipe_handle=H``), and
runs the app's script as ``__main__`` up to ``freeze_support()``.  Without
the guard an app that never calls it is a fork bomb (each child runs the
whole script, Pool and all: 290 processes in 5 minutes, orphans that
outlive a timeout), so every app here runs in a process group of its own
that is killed afterwards.

The frozen executable is played by a shell script (as PyInstaller's
bootloader: the ``-c`` helpers multiprocessing starts run as Python, anything
else runs the app's script with the arguments it was given), and the app sets
``sys.frozen`` itself, first thing, as the bootloader would have."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from apprunner import child_env, run_app, run_in_group

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="a /bin/sh stand-in for the frozen exe")

REFUSED = 3

FROZEN_EXE = """#!/bin/sh
case "$*" in
  *" -c "*|-c*) exec {python} "$@";;
esac
exec {python} {script} "$@"
"""

# What the bootloader does before the app's script runs; the app's own code
# follows.  Line 5 of app.py is the app's first line.
FROZEN_PROLOGUE = """\
import multiprocessing as mp, multiprocessing.spawn, os, sys
sys.frozen = True
sys.executable = {exe!r}
mp.set_executable(sys.executable)
"""


def runtime_dir_env(tmp_path, env=None):
    """*env* with XDG_RUNTIME_DIR set to a private folder: these tests expect
    an empty stderr, and Qt 6.4 (not 6.5 and later) warns "QStandardPaths:
    XDG_RUNTIME_DIR not set" as a QApplication is made without one, with or
    without pyqtguard."""
    runtime_dir = tmp_path / "xdg-runtime"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    return {"XDG_RUNTIME_DIR": str(runtime_dir), **(env or {})}


def frozen_app(tmp_path, source: str, *, args=(), env=None, timeout=60):
    exe = tmp_path / "frozen_app"
    exe.write_text(FROZEN_EXE.format(python=sys.executable, script=tmp_path / "app.py"))
    exe.chmod(0o755)
    prologue = FROZEN_PROLOGUE.format(exe=str(exe))
    return run_app(prologue + textwrap.dedent(source), tmp_path, args=list(args),
                   env=runtime_dir_env(tmp_path, env), timeout=timeout, kill_group=True)


def plain_and_guarded(tmp_path, source: str, **kwargs):
    """The same frozen app without pyqtguard (PYQTGUARD_DISABLE=1) and with it."""
    plain = frozen_app(tmp_path, source, env={"PYQTGUARD_DISABLE": "1"}, **kwargs)
    guarded = frozen_app(tmp_path, source, **kwargs)
    return plain, guarded


INSTALL_FIRST = """\
import pyqtguard
pyqtguard.install()
from PyQt6.QtWidgets import QApplication
print("module loaded", flush=True)          # in the parent and in each child, as unfrozen
def work(n):
    return n * 2
if __name__ == "__main__":
    multiprocessing.spawn.freeze_support()     # what PyInstaller makes freeze_support() do
    app = QApplication(sys.argv)
    print("QApplication built in", mp.current_process().name, flush=True)
    with mp.get_context("spawn").Pool(1) as pool:
        print(pool.map(work, [1, 2, 3]), flush=True)
"""

FREEZE_SUPPORT_FIRST = """\
from PyQt6.QtWidgets import QApplication
print("module loaded", flush=True)
def work(n):
    return n * 2
if __name__ == "__main__":
    multiprocessing.spawn.freeze_support()     # the children never reach install()
    import pyqtguard
    pyqtguard.install()
    app = QApplication(sys.argv)
    print("QApplication built in", mp.current_process().name, flush=True)
    with mp.get_context("spawn").Pool(1) as pool:
        print(pool.map(work, [1, 2, 3]), flush=True)
"""


@pytest.mark.parametrize("source", [INSTALL_FIRST, FREEZE_SUPPORT_FIRST],
                         ids=["install-first", "freeze-support-first"])
def test_frozen_app_calling_freeze_support_correctly_is_unchanged(tmp_path, source):
    """``freeze_support()`` first under the main guard, ``install()`` first
    in the app (the order the README asks for) or after it: the same output,
    exit status and (empty) stderr as without pyqtguard."""
    plain, guarded = plain_and_guarded(tmp_path, source)
    assert plain.returncode == 0, plain.describe()
    assert guarded.returncode == 0, guarded.describe()
    assert guarded.stdout == plain.stdout == (
        "module loaded\nQApplication built in MainProcess\nmodule loaded\n[2, 4, 6]\n"
    ), guarded.describe()
    assert guarded.stderr == plain.stderr == "", guarded.describe()


def test_frozen_app_with_target_defined_after_install_and_no_freeze_support(tmp_path):
    """An app that never calls freeze_support() (fine unfrozen on Linux):
    its children are handed to multiprocessing at install(), and the
    target - defined below install() - is found, as in an unfrozen child."""
    result = frozen_app(tmp_path, """\
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtWidgets import QApplication
    def work(n):
        return n * 2
    if __name__ == "__main__":
        app = QApplication(sys.argv)
        print("QApplication built in", mp.current_process().name, flush=True)
        with mp.get_context("spawn").Pool(2) as pool:
            print(pool.map(work, [1, 2, 3]), flush=True)
    """)
    assert result.returncode == 0, result.describe()
    assert result.stdout == "QApplication built in MainProcess\n[2, 4, 6]\n", result.describe()


def test_frozen_app_without_multiprocessing_is_unchanged(tmp_path):
    source = """\
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtWidgets import QApplication, QLabel
    app = QApplication(sys.argv)
    label = QLabel("hello")
    label.show()
    print("argv", sys.argv[1:], "multiprocessing.spawn" in sys.modules, flush=True)
    """
    plain, guarded = plain_and_guarded(tmp_path, source, args=["a.txt"])
    assert guarded.returncode == plain.returncode == 0, guarded.describe()
    assert guarded.stdout == plain.stdout == "argv ['a.txt'] True\n", guarded.describe()
    assert guarded.stderr == plain.stderr == "", guarded.describe()


@pytest.mark.parametrize("args", [
    ["--multiprocessing-fork"],                                  # a file of that name
    ["--multiprocessing-fork", "notes.txt"],
    ["--multiprocessing-fork", "pipe_handle=7"],                 # no tracker_fd
    ["--multiprocessing-fork", "tracker_fd=5", "pipe_handle=99"],   # closed fds
    ["--multiprocessing-fork", "tracker_fd=4", "pipe_handle=1"],    # stdout: a pipe, not readable
    ["--multiprocessing-fork", "tracker_fd=2", "pipe_handle=0"],    # stdin, stderr: pipes
    ["--multiprocessing-fork", "tracker_fd=2", "pipe_handle=x"],
    ["--multiprocessing-fork", "pipe_handle=3", "evil=__import__('os')"],
])
def test_forged_multiprocessing_fork_arguments_do_not_hijack_the_app(tmp_path, args):
    """A user's own ``--multiprocessing-fork`` argument: the app is not a
    child (no parent's pipe to read), so it runs as it would without
    pyqtguard; a child-like command line that is not a child's is said once
    on stderr."""
    source = """\
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv)
    print("app ran with", sys.argv[1:], flush=True)
    """
    exe = tmp_path / "frozen_app"
    exe.write_text(FROZEN_EXE.format(python=sys.executable, script=tmp_path / "app.py"))
    exe.chmod(0o755)
    (tmp_path / "app.py").write_text(FROZEN_PROLOGUE.format(exe=str(exe))
                                     + textwrap.dedent(source))
    proc = run_in_group([str(exe), *args], tmp_path,
                        child_env(tmp_path / "logs", runtime_dir_env(tmp_path)), 60,
                        stdin=subprocess.PIPE)     # stdin: a readable pipe, at EOF
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stdout == f"app ran with {args}\n", (proc.stdout, proc.stderr)
    if any("=" in arg for arg in args):                  # child-like: said once
        assert proc.stderr.count("but not as a multiprocessing child") == 1, proc.stderr
    else:
        assert proc.stderr == "", proc.stderr


def test_frozen_child_starting_processes_before_freeze_support_ends_the_program(tmp_path):
    """A Pool at the top level of a frozen app: each child would start its
    own Pool (the classic frozen fork bomb).  The first child refuses and
    the program ends with exit status 3, in bounded time."""
    try:
        result = frozen_app(tmp_path, """\
        import pyqtguard
        pyqtguard.install()
        def work(n):
            return n * 2
        pool = mp.get_context("spawn").Pool(2)
        print(pool.map(work, [1, 2, 3]), flush=True)
        """, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the frozen app kept starting children")
    assert result.returncode == REFUSED, result.describe()
    assert result.stderr.count("app.py:9 starts a process") == 1, result.describe()


# A QApplication at the top level, above freeze_support() (line 10).
TOP_LEVEL_QAPP = """\
import pyqtguard
pyqtguard.install({options})
from PyQt6.QtWidgets import QApplication
def work(n):
    return n * 2
app = QApplication(sys.argv)
print("QApplication built in", os.getpid(), flush=True)
if __name__ == "__main__":
    multiprocessing.spawn.freeze_support()
    with mp.get_context("{method}").Pool(2) as pool:
        print(pool.map(work, [1, 2, 3]), flush=True)
"""


def test_frozen_child_guard_can_be_turned_off(tmp_path):
    """``install(guard_children=False)``: the frozen child is left alone, as
    today (it builds its QApplication, then freeze_support() runs it)."""
    result = frozen_app(tmp_path, TOP_LEVEL_QAPP.format(options="guard_children=False",
                                                        method="spawn"))
    assert result.returncode == 0, result.describe()
    assert "[2, 4, 6]" in result.stdout, result.describe()
    built = [line for line in result.stdout.splitlines() if "QApplication built" in line]
    assert len(built) >= 2, result.describe()     # the parent's, and a child's or two


def test_frozen_grandchild_is_guarded_too(tmp_path):
    """A frozen child whose target starts a process of its own: the
    grandchild is the frozen exe again and is guarded the same way."""
    result = frozen_app(tmp_path, """\
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtWidgets import QApplication
    def job():
        print("job ran", flush=True)
    def start():
        p = mp.get_context("spawn").Process(target=job)
        p.start()
        p.join(30)
        print("grandchild exit status", p.exitcode, flush=True)
    if mp.current_process().name == "SpawnProcess-1:1":     # the grandchild only
        app = QApplication(sys.argv)
    if __name__ == "__main__":
        p = mp.get_context("spawn").Process(target=start)
        p.start()
        p.join(40)
        print("child exit status", p.exitcode, flush=True)
    """, timeout=90)
    assert result.returncode == REFUSED, result.describe()
    assert "job ran" not in result.stdout
    assert result.stderr.count("app.py:16 builds a QApplication") == 1, result.describe()


# multiprocessing's helper processes.  A bootloader that runs the app for
# every command line, ``-c`` too (PyInstaller's does; its freeze_support()
# runs the helpers, CPython's does not).
BARE_EXE = """#!/bin/sh
exec {python} {script} "$@"
"""


def bare_frozen_app(tmp_path, source: str, *, args=(), timeout=60):
    exe = tmp_path / "frozen_app"
    exe.write_text(BARE_EXE.format(python=sys.executable, script=tmp_path / "app.py"))
    exe.chmod(0o755)
    return run_app(FROZEN_PROLOGUE.format(exe=str(exe)) + textwrap.dedent(source), tmp_path,
                   args=list(args), timeout=timeout, kill_group=True)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_frozen_app_helpers_run_as_helpers(tmp_path, method):
    """The resource tracker (a Lock) and the forkserver are the app's
    executable again: each is run as the helper at install(), and the
    forkserver finds the target defined below install()."""
    result = bare_frozen_app(tmp_path, """\
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtWidgets import QApplication
    def work(n):
        return n * 2
    if __name__ == "__main__":
        multiprocessing.spawn.freeze_support()
        app = QApplication(sys.argv)
        print("QApplication built in", mp.current_process().name, flush=True)
        ctx = mp.get_context(sys.argv[1])
        lock = ctx.Lock()
        with ctx.Pool(2) as pool:
            print(pool.map(work, [1, 2, 3]), flush=True)
    """, args=[method])
    assert result.returncode == 0, result.describe()
    assert result.stdout == "QApplication built in MainProcess\n[2, 4, 6]\n", result.describe()
    assert "pyqtguard" not in result.stderr, result.describe()


def test_frozen_forkserver_building_a_qapplication_is_refused(tmp_path):
    """A QApplication at the top level: the forkserver (the app again) refuses
    it, naming the line, instead of opening a second window and serving
    children from it.  Up to 3.13 the forkserver does not preload the main
    module (its ``main_path`` never arrives): each child it forks runs it and
    refuses, and the program ends with exit status 3; where it does (3.14),
    the forkserver refuses and the parent's Pool fails at once."""
    try:
        result = bare_frozen_app(tmp_path, TOP_LEVEL_QAPP.format(options="",
                                                                 method="forkserver"))
    except subprocess.TimeoutExpired:
        pytest.fail("the frozen app hung")
    if sys.version_info < (3, 14):
        assert result.returncode == REFUSED, result.describe()
    else:                                   # not run here: no 3.14 on this machine
        assert result.returncode != 0, result.describe()
    built = [line for line in result.stdout.splitlines() if "QApplication built" in line]
    assert len(built) == 1, result.describe()
    assert result.stderr.count("app.py:10 builds a QApplication") == 1, result.describe()


@pytest.mark.parametrize("args, warned", [
    (["-c", "settings.ini"], False),                      # the app's own -c option
    (["-c", "from multiprocessing.resource_tracker import main;main(99)"], True),
    (["-c", "from multiprocessing.resource_tracker import main;main(0)"], True),
    (["-B", "-c", "from multiprocessing.resource_tracker import main;main(5); "
      "print('hijacked')"], True),
    (["-c", "import sys; from multiprocessing.forkserver import main; "
      "main(__import__('os').getpid(), 4, None)"], True),
])
def test_forged_helper_commands_do_not_hijack_the_app(tmp_path, args, warned):
    result = bare_frozen_app(tmp_path, """\
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv)
    print("app ran", flush=True)
    """, args=args)
    assert result.returncode == 0, result.describe()
    assert result.stdout == "app ran\n", result.describe()
    assert "hijacked" not in result.stdout
    assert result.stderr.count("but not as its helper") == (1 if warned else 0), result.describe()


def test_helper_command_shapes():
    """The helper commands CPython 3.11-3.14 writes are recognised, with the
    values they carry; nothing else is."""
    from pyqtguard.children import helpers

    assert helpers.helper_command(["app", "-B", "-s", "-c", "from multiprocessing.x"]) == (
        3, "from multiprocessing.x")
    assert helpers.helper_command(["app", "file.txt", "-c", "from multiprocessing.x"]) is None
    assert helpers.helper_command(["app", "-c", "print(1)"]) is None
    assert helpers.tracker_fd("from multiprocessing.resource_tracker import main;main(7)") == 7
    assert helpers.tracker_fd("from multiprocessing.resource_tracker import main;main(7);x") \
        is None
    # 3.11-3.13.12 (and 3.14.0-3.14.3 with authkey_r)
    old = ("from multiprocessing.forkserver import main; main(6, 8, ['__main__'], "
           "**{'sys_path': ['/app'], 'main_path': '/app/app.py'})")
    assert helpers.forkserver_call(old, ["x"]) == (
        [6, 8, ["__main__"]], {"sys_path": ["/app"], "main_path": "/app/app.py"})
    # 3.13.13+, 3.14.4+: the parent's argv after the command (gh-144503)
    new = ("import sys; from multiprocessing.forkserver import main; main(6, 8, ['__main__'], "
           "sys_argv=sys.argv[1:], **{'sys_path': ['/app'], 'authkey_r': 10})")
    assert helpers.forkserver_call(new, ["app.py", "--verbose"]) == (
        [6, 8, ["__main__"]],
        {"sys_argv": ["app.py", "--verbose"], "sys_path": ["/app"], "authkey_r": 10})
    for forged in [
        old + "; import os",
        old.replace("main(6", "main(len('x')"),
        old.replace("'sys_path'", "'evil'"),
        new.replace("sys.argv[1:]", "__import__('os').environ"),
        "from multiprocessing.forkserver import main as m; m(6, 8, None)",
        "from multiprocessing.forkserver import main; main(6, 8, None, evil=1)",
    ]:
        with pytest.raises(helpers.NotAHelper):
            helpers.forkserver_call(forged, [])
