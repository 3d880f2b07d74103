"""The runtime child guard against hostile but common apps (review h5):
real spawn/forkserver children, exit status, output and bounded time."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from apprunner import run_app

METHODS = ["spawn", "forkserver"]
REFUSED = 3


@pytest.mark.parametrize("method", METHODS)
def test_set_start_method_at_top_level_ends_instead_of_respawning(tmp_path, method):
    """The most common unguarded app: ``set_start_method`` at the top level.
    In the child it raises ("context has already been set") before any
    refused call, so the child dies with a traceback; a Pool respawns it
    forever (1,200 processes a minute) and the app hangs."""
    started = time.monotonic()
    try:
        result = run_app("""
            import multiprocessing as mp, sys
            from PyQt6.QtWidgets import QApplication
            def square(n):
                return n * n
            mp.set_start_method(sys.argv[1])
            app = QApplication(sys.argv)
            print("QApplication built in", mp.current_process().name, flush=True)
            with mp.Pool(2) as pool:
                print(pool.map(square, [1, 2, 3]), flush=True)
        """, tmp_path, under_run=True, args=[method], timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the app hung: the pool kept respawning children that raise")
    assert result.returncode == REFUSED, result.describe()
    assert time.monotonic() - started < 30
    assert "QApplication built in SpawnPoolWorker" not in result.stdout
    assert "QApplication built in ForkServerPoolWorker" not in result.stdout
    assert 'if __name__ == "__main__":' in result.stderr
    if method == "forkserver" and sys.version_info >= (3, 14):
        # 3.14's forkserver preloads the main module itself (3.11-3.13 passed
        # it no main_path: each forked child re-ran it).  In the forkserver no
        # start method is set yet, so line 6 passes; line 7 is refused there.
        assert result.stderr.count("app.py:7 builds a QApplication") == 1, result.describe()
        assert "app = QApplication(sys.argv)" in result.stderr
        return
    assert result.stderr.count("app.py:6 raises RuntimeError") == 1, result.describe()
    assert "context has already been set" in result.stderr
    assert "mp.set_start_method(sys.argv[1])" in result.stderr   # the line to move


def test_child_of_guarded_app_whose_main_raises_is_told_once(tmp_path):
    """A main module that raises at its top level in a child (argparse, a
    missing file...) ends the program with the message, not a hang."""
    try:
        result = run_app("""
            import multiprocessing as mp, sys
            def square(n):
                return n * n
            if __name__ != "__main__":
                raise SystemExit("settings.ini not found")
            if __name__ == "__main__":
                with mp.get_context(sys.argv[1]).Pool(2) as pool:
                    print(pool.map(square, [1, 2, 3]), flush=True)
        """, tmp_path, under_run=True, args=["spawn"], timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the app hung: the pool kept respawning children that exit")
    assert result.returncode == REFUSED, result.describe()
    assert result.stderr.count("app.py:6 raises SystemExit") == 1, result.describe()


@pytest.mark.parametrize("method", METHODS)
def test_grandchild_is_guarded_too(tmp_path, method):
    """A child whose target starts a process of its own: the grandchild
    imports ``tasks`` to unpickle its target, and ``tasks`` builds a
    QApplication at import time - refused there as in a child."""
    (tmp_path / "tasks.py").write_text(
        "import multiprocessing as mp\n"
        "from PyQt6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "print('tasks built a QApplication in', mp.current_process().name, flush=True)\n"
        "def job():\n"
        "    print('job ran', flush=True)\n")
    (tmp_path / "helper.py").write_text(
        "import multiprocessing as mp\n"
        "def start(method):\n"
        "    import tasks\n"
        "    p = mp.get_context(method).Process(target=tasks.job)\n"
        "    p.start()\n"
        "    p.join(20)\n"
        "    print('grandchild exit status', p.exitcode, flush=True)\n")
    result = run_app("""
        import multiprocessing as mp, sys
        import helper
        if __name__ == "__main__":
            p = mp.get_context(sys.argv[1]).Process(target=helper.start, args=(sys.argv[1],))
            p.start()
            p.join(30)
            print("child exit status", p.exitcode, flush=True)
    """, tmp_path, under_run=True, args=[method], timeout=60)
    assert result.returncode == REFUSED, result.describe()
    built = [line for line in result.stdout.splitlines() if "built a QApplication" in line]
    assert len(built) == 1, result.describe()      # in the child's target: legitimate
    assert "job ran" not in result.stdout
    assert result.stderr.count("tasks.py:3 builds a QApplication") == 1, result.describe()


FROZEN_EXE = """#!/bin/sh
# Stands in for a frozen executable (PyInstaller's bootloader): the helpers
# multiprocessing starts with -c run as Python; anything else runs the app.
case "$*" in
  *" -c "*|-c*) exec {python} "$@";;
esac
exec {python} {script} "$@"
"""


@pytest.mark.skipif(sys.platform == "win32", reason="a /bin/sh stand-in for the frozen exe")
def test_frozen_app_child_building_a_qapplication_before_freeze_support(tmp_path):
    """A frozen app's spawn child runs the app's script as ``__main__``;
    what comes before ``freeze_support()`` runs in every child.  Its
    ``install()`` hands it to multiprocessing at once, the script is run
    again as ``__mp_main__``, and its QApplication is refused there.
    More frozen cases: tests/test_spawn_guard_frozen.py."""
    exe = tmp_path / "frozen_app"
    exe.write_text(FROZEN_EXE.format(python=sys.executable, script=tmp_path / "app.py"))
    exe.chmod(0o755)
    result = run_app(f"""
        import multiprocessing as mp, multiprocessing.spawn, os, sys
        sys.frozen = True
        sys.executable = {str(exe)!r}
        mp.set_executable(sys.executable)
        import pyqtguard
        pyqtguard.install()
        from PyQt6.QtWidgets import QApplication
        def work(n):
            return n * 2
        app = QApplication(sys.argv)
        print("QApplication built in", os.getpid(), flush=True)
        if __name__ == "__main__":
            multiprocessing.spawn.freeze_support()    # what PyInstaller makes freeze_support() do
            with mp.get_context("spawn").Pool(1) as pool:
                print(pool.map(work, [1, 2]), flush=True)
    """, tmp_path, timeout=60, kill_group=True)
    built = [line for line in result.stdout.splitlines() if "QApplication built" in line]
    assert len(built) == 1, result.describe()
    assert result.returncode == REFUSED, result.describe()
    assert result.stderr.count("app.py:11 builds a QApplication") == 1, result.describe()
    assert 'if __name__ == "__main__":' in result.stderr
    # In the parent's run log (the child's re-run install() has a log of its own).
    assert any("app.py:11 builds a QApplication" in log.read_text() for log in result.logs)
