"""A guarded app's spawn and forkserver workers are guarded even when the
main module's re-run does not call install(): the app calls it inside
``if __name__ == "__main__":`` (the pattern the docs recommend), or the app
runs under ``pyqtguard run`` with no install() at all.  Before, such a
worker's segfault showed in the app only as ``BrokenProcessPool``, with no
report anywhere.

Real pools in a subprocess app, a worker crashing in native code; the tests
assert on the worker's own log and on what ``pyqtguard logs`` says.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from apprunner import REPO, child_env, run_app

POOL = """
    import ctypes, multiprocessing as mp, os, sys
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    {top}

    def crash_in_worker(x):
        if x < 0:
            ctypes.string_at(0)            # native code faults in the worker
        return x * x

    if __name__ == "__main__":
        {main}
        method = os.environ["APP_METHOD"]
        with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context(method)) as ex:
            print(list(ex.map(crash_in_worker, range(4))), flush=True)
        with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context(method)) as ex:
            try:
                ex.submit(crash_in_worker, -1).result(timeout=60)
            except BrokenProcessPool:
                print("pool broken", flush=True)
"""

IN_MAIN_GUARD = POOL.format(top="import pyqtguard",
                            main='pyqtguard.install(app_name="photo", keep_logs=5)')
UNDER_RUN = POOL.format(top="", main="pass")
AT_TOP = POOL.format(top='import pyqtguard; pyqtguard.install(app_name="photo", keep_logs=5)',
                     main="pass")


def _logs(log_dir):
    return sorted(p for p in log_dir.iterdir() if p.suffix == ".log")


def _worker_logs(log_dir):
    return [p for p in _logs(log_dir) if p.name.startswith("pyqtguard-worker-")]


def _app_logs(log_dir):
    return [p for p in _logs(log_dir) if not p.name.startswith("pyqtguard-worker-")]


def _cli(log_dir, *args):
    return subprocess.run([sys.executable, "-m", "pyqtguard", *args, "--log-dir", str(log_dir)],
                          capture_output=True, text=True, timeout=60,
                          env=child_env(log_dir), cwd=REPO)


def _assert_worker_crash_reported(result, app_name):
    assert result.returncode == 0, result.describe()
    assert "pool broken" in result.stdout, result.describe()
    apps = _app_logs(result.log_dir)
    assert len(apps) == 1, [p.name for p in _logs(result.log_dir)]
    app_pid = int(apps[0].name.split("-")[3])
    crashed = [p for p in _worker_logs(result.log_dir)
               if "Fatal signal SIGSEGV" in p.read_text(errors="replace")
               or "SIGSEGV" in p.read_text(errors="replace")]
    assert len(crashed) == 1, [(p.name, p.read_text(errors="replace")[:300])
                               for p in _worker_logs(result.log_dir)]
    text = crashed[0].read_text(errors="replace")
    assert f"worker of: pid {app_pid}" in text, text
    assert f"app: {app_name}" in text, text
    assert "crash_in_worker" in text, text          # the worker's Python stack
    listing = _cli(result.log_dir, "logs")
    assert listing.returncode == 0, listing.stderr
    lines = [line for line in listing.stdout.splitlines() if "crashed (SIGSEGV" in line]
    assert len(lines) == 1 and f"worker of pid {app_pid}" in lines[0], listing.stdout
    assert "already installed" not in result.stderr, result.stderr
    return text


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_install_in_the_main_guard_still_guards_the_workers(tmp_path, method):
    result = run_app(IN_MAIN_GUARD, tmp_path, env={"APP_METHOD": method}, timeout=120)
    _assert_worker_crash_reported(result, "photo")
    # the app's options reach its workers: their logs keep to its folder and cap
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in _logs(result.log_dir))


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_the_workers_of_an_app_under_run_are_guarded(tmp_path, method):
    result = run_app(UNDER_RUN, tmp_path, env={"APP_METHOD": method}, timeout=120,
                     under_run=True)
    _assert_worker_crash_reported(result, "app")


def test_install_at_the_top_runs_once_in_a_worker_with_the_apps_own_options(tmp_path):
    """The main module's re-run installs first (as before): the worker does
    not install a second time, and says nothing about it."""
    result = run_app(AT_TOP, tmp_path, env={"APP_METHOD": "spawn"}, timeout=120)
    text = _assert_worker_crash_reported(result, "photo")
    assert text.count("run log\n") == 1, text
    assert "pyqtguard:" not in result.stderr.replace("pyqtguard: this run's log", ""), \
        result.stderr


def test_guard_children_false_leaves_the_workers_alone(tmp_path):
    source = POOL.format(top="import pyqtguard",
                         main="pyqtguard.install(guard_children=False)")
    result = run_app(source, tmp_path, env={"APP_METHOD": "spawn"}, timeout=120)
    assert result.returncode == 0 and "pool broken" in result.stdout, result.describe()
    assert _worker_logs(result.log_dir) == [], [p.name for p in _logs(result.log_dir)]


def test_a_python_subprocess_of_the_app_is_not_guarded_by_it(tmp_path):
    """Only multiprocessing's workers: a plain Python subprocess started by
    the guarded app writes no log (nothing is passed through the environment)."""
    source = """
        import subprocess, sys
        import pyqtguard
        if __name__ == "__main__":
            pyqtguard.install()
            import multiprocessing              # the child guard is attached
            out = subprocess.run([sys.executable, "-c", "import os; print(sorted(k for k in os.environ if 'PYQTGUARD' in k))"],
                                 capture_output=True, text=True).stdout
            print("child env:", out.strip(), flush=True)
    """
    result = run_app(source, tmp_path)
    assert result.returncode == 0, result.describe()
    assert len(_logs(result.log_dir)) == 1, [p.name for p in _logs(result.log_dir)]
    assert "child env: [" in result.stdout, result.stdout
    assert "PYQTGUARD_IN_CHILD" not in result.stdout, result.stdout
    assert "PYQTGUARD_CHILD_REPORT" not in result.stdout, result.stdout



def test_a_log_folder_with_quotes_and_a_newline_reaches_the_workers(tmp_path):
    """The options are written into the worker's ``-c`` program as Python
    literals: a folder name that would end a string or a line there must
    arrive as it is."""
    folder = tmp_path / "lo'g\"s\n); import os; os._exit(9) #"
    source = POOL.format(top="import pyqtguard",
                         main=f"pyqtguard.install(log_dir={str(folder)!r})")
    result = run_app(source, tmp_path, env={"APP_METHOD": "spawn"}, timeout=120)
    assert result.returncode == 0 and "pool broken" in result.stdout, result.describe()
    crashed = [p for p in _worker_logs(folder) if "SIGSEGV" in p.read_text(errors="replace")]
    assert len(crashed) == 1, sorted(p.name for p in folder.iterdir())


def test_a_relative_log_folder_is_the_apps_after_it_changes_its_folder(tmp_path):
    """``install(log_dir="rel")``, then the app changes its working folder
    before the pool starts: the workers (started in the app's folder of the
    moment) write to the app's log folder, not to a ``rel`` of their own
    made in the new folder."""
    source = POOL.format(top="import pyqtguard",
                         main='pyqtguard.install(log_dir="rel"); '
                              'os.makedirs("elsewhere"); os.chdir("elsewhere")')
    result = run_app(source, tmp_path, env={"APP_METHOD": "spawn"}, timeout=120)
    assert result.returncode == 0 and "pool broken" in result.stdout, result.describe()
    assert not (tmp_path / "elsewhere" / "rel").exists(), \
        sorted(p.name for p in (tmp_path / "elsewhere" / "rel").iterdir())
    crashed = [p for p in _worker_logs(tmp_path / "rel")
               if "SIGSEGV" in p.read_text(errors="replace")]
    assert len(crashed) == 1, sorted(p.name for p in (tmp_path / "rel").iterdir())


def test_a_log_folder_the_app_cannot_use_is_warned_about_once_not_by_every_worker(tmp_path):
    """The app says once that its log folder cannot be used; its workers,
    installed with the same folder, do not say it again each (a pool with
    ``maxtasksperchild=1`` starts one per task).  A worker's crash still
    goes to stderr."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)                       # refused: others could tamper with it
    source = f"""
        import ctypes, multiprocessing as mp, os
        import pyqtguard

        def square(x):
            if x < 0:
                ctypes.string_at(0)
            return x * x

        if __name__ == "__main__":
            pyqtguard.install(log_dir={str(folder)!r})
            with mp.get_context("spawn").Pool(2, maxtasksperchild=1) as pool:
                print(sum(pool.map(square, range(6), chunksize=1)), flush=True)
            pool = mp.get_context("spawn").Pool(1)
            try:
                pool.apply_async(square, (-1,)).get(timeout=3)
            except mp.TimeoutError:
                print("worker gone", flush=True)
            pool.terminate()
    """
    result = run_app(source, tmp_path, timeout=120)
    assert result.returncode == 0 and "55\n" in result.stdout, result.describe()
    assert result.stderr.count("cannot write run logs") == 1, result.stderr
    assert "=== pyqtguard crash report ===" in result.stderr, result.stderr
    assert "square" in result.stderr.split("=== pyqtguard crash report ===")[1], result.stderr
    assert list(folder.iterdir()) == []
