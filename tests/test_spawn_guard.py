"""The runtime guard, for real: apps without a main guard run under
pyqtguard with the spawn and forkserver start methods; no child builds a
QApplication, the message names the file and line, and the program ends in
bounded time.  Correctly guarded apps and fork are untouched."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from apprunner import child_env, run_app

METHODS = ["spawn", "forkserver"]
REFUSED = 3
CORPUS = __import__("pathlib").Path(__file__).resolve().parent / "corpus"


def run_guarded(source: str, tmp_path, method: str, *, under_run: bool = True, **kwargs):
    started = time.monotonic()
    result = run_app(source, tmp_path, under_run=under_run, args=[method], timeout=60,
                     **kwargs)
    return result, time.monotonic() - started


@pytest.mark.parametrize("method", METHODS)
def test_unguarded_qapplication_is_refused_in_children(tmp_path, method):
    result, elapsed = run_guarded("""
        import multiprocessing as mp, sys
        from PyQt6.QtWidgets import QApplication
        def square(n):
            return n * n
        ctx = mp.get_context(sys.argv[1])
        app = QApplication(sys.argv)
        print("QApplication built in", mp.current_process().name, flush=True)
        with ctx.Pool(2) as pool:
            print(pool.map(square, [1, 2, 3]), flush=True)
    """, tmp_path, method)
    assert result.returncode == REFUSED, result.describe()
    assert elapsed < 30
    built = [l for l in result.stdout.splitlines() if l.startswith("QApplication built")]
    assert built == ["QApplication built in MainProcess"]          # no child built one
    assert result.stderr.count("app.py:7 builds a QApplication") == 1  # said once
    assert 'if __name__ == "__main__":' in result.stderr
    assert "app.py:7 builds a QApplication" in result.log


@pytest.mark.parametrize("method", METHODS)
def test_unguarded_pool_without_qt_ends_instead_of_respawning(tmp_path, method):
    result, elapsed = run_guarded("""
        import multiprocessing as mp, sys
        def square(n):
            return n * n
        ctx = mp.get_context(sys.argv[1])
        pool = ctx.Pool(2)
        print(pool.map(square, [1, 2, 3]), flush=True)
    """, tmp_path, method)
    assert result.returncode == REFUSED, result.describe()
    assert elapsed < 30
    assert result.stderr.count("app.py:6 starts a process") == 1
    # CPython's own message for this case is not repeated on top of ours.
    assert "bootstrapping phase" not in result.stderr


@pytest.mark.parametrize("method", METHODS)
def test_unguarded_process_pool_executor(tmp_path, method):
    result, elapsed = run_guarded("""
        import multiprocessing as mp, sys
        from concurrent.futures import ProcessPoolExecutor
        def square(n):
            return n * n
        executor = ProcessPoolExecutor(2, mp_context=mp.get_context(sys.argv[1]))
        print(list(executor.map(square, [1, 2, 3])), flush=True)
    """, tmp_path, method)
    assert result.returncode == REFUSED, result.describe()
    assert elapsed < 30
    assert result.stderr.count("app.py:7 starts a process") == 1


def test_button_that_starts_a_process_in_an_unguarded_app(tmp_path):
    result, elapsed = run_guarded("""
        import multiprocessing as mp, sys
        from PyQt6.QtCore import QTimer
        from PyQt6.QtWidgets import QApplication, QPushButton
        def export(path):
            print("exported", path, flush=True)
        def start_export():
            mp.get_context(sys.argv[1]).Process(target=export, args=("out.csv",)).start()
        app = QApplication(sys.argv)
        print("QApplication built in", mp.current_process().name, flush=True)
        button = QPushButton("Export")
        button.clicked.connect(start_export)
        button.show()
        QTimer.singleShot(100, button.click)
        QTimer.singleShot(20000, app.quit)
        app.exec()
    """, tmp_path, "spawn")
    assert result.returncode == REFUSED, result.describe()
    assert elapsed < 30
    assert "QApplication built in Process" not in result.stdout
    assert "app.py:9 builds a QApplication" in result.stderr


@pytest.mark.parametrize("imports", [
    "import pyqtguard\npyqtguard.install()\nimport multiprocessing as mp, sys",
    "import multiprocessing as mp, sys\nimport pyqtguard\npyqtguard.install()",
], ids=["multiprocessing-after-install", "multiprocessing-before-install"])
def test_install_in_the_parent_guards_children_too(tmp_path, imports):
    result, _ = run_guarded(imports + """
from PyQt6.QtCore import QCoreApplication
def square(n):
    return n * n
app = QCoreApplication(sys.argv)
with mp.get_context(sys.argv[1]).Pool(1) as pool:
    print(pool.map(square, [2]), flush=True)
""", tmp_path, "spawn", under_run=False)
    assert result.returncode == REFUSED, result.describe()
    assert "app.py:7 builds a QCoreApplication" in result.stderr


@pytest.mark.parametrize("method", METHODS)
def test_python_dash_m_package_entry_point(tmp_path, method):
    """`python -m viewer`: the child imports viewer.render to unpickle the
    process target, and that module builds a QApplication at import time."""
    shutil.copytree(CORPUS / "entry_package" / "viewer", tmp_path / "viewer")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pyqtguard", "run", "-m", "viewer", method],
                          cwd=tmp_path, env=child_env(tmp_path / "logs"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == REFUSED, proc.stdout + proc.stderr
    assert time.monotonic() - started < 30
    assert "render.py:4 builds a QApplication" in proc.stderr
    assert "rendered" not in proc.stdout


@pytest.mark.parametrize("folder, method, expected", [
    ("guarded_widgets", "spawn", "thumbnails: [2, 4, 6]"),
    ("guarded_pool_app", "spawn", "cubes: [1, 8]"),
])
def test_correctly_guarded_apps_run_unchanged(tmp_path, folder, method, expected):
    source = (CORPUS / folder / "app.py").read_text()
    result = run_app(source, tmp_path, under_run=True, timeout=60)
    assert result.returncode == 0, result.describe()
    assert expected in result.stdout
    assert "pyqtguard:" not in result.stderr


def test_correctly_guarded_package_runs_unchanged(tmp_path):
    shutil.copytree(CORPUS / "guarded_package" / "photo", tmp_path / "photo")
    proc = subprocess.run([sys.executable, "-m", "pyqtguard", "run", "-m", "photo"],
                          cwd=tmp_path, env=child_env(tmp_path / "logs"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "resized: [5]" in proc.stdout


def test_fork_is_not_touched(tmp_path):
    result, _ = run_guarded("""
        import multiprocessing as mp, sys
        from PyQt6.QtCore import QCoreApplication
        def square(n):
            return n * n
        app = QCoreApplication(sys.argv)
        with mp.get_context(sys.argv[1]).Pool(2) as pool:
            print(pool.map(square, [1, 2, 3]), flush=True)
    """, tmp_path, "fork")
    assert result.returncode == 0, result.describe()
    assert "[1, 4, 9]" in result.stdout


def test_guard_off(tmp_path):
    result, _ = run_guarded("""
        import pyqtguard
        pyqtguard.install(guard_children=False)
        import multiprocessing as mp, sys
        def square(n):
            return n * n
        if __name__ == "__main__":
            with mp.get_context(sys.argv[1]).Pool(1) as pool:
                print(pool.map(square, [3]), flush=True)
    """, tmp_path, "spawn", under_run=False)
    assert result.returncode == 0, result.describe()
    assert "[9]" in result.stdout
