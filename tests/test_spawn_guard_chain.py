"""The runtime child guard names the line that did it - in the module that
did it - and the chain of imports or calls that led there from the main
module, with advice that fits (issue 20)."""
from __future__ import annotations

import textwrap

import pytest

from apprunner import run_app

METHODS = ["spawn", "forkserver"]
REFUSED = 3

UI_SETUP = '''\
"""Builds the application at import time."""
import sys
from PyQt6.QtWidgets import QApplication

app = QApplication(sys.argv)
'''

JOBS = '''\
"""Starts its worker processes at import time."""
import multiprocessing as mp, sys

pool = mp.get_context(sys.argv[1]).Pool(1)
'''

UI_FACTORY = '''\
"""Builds the application when asked."""
import sys
from PyQt6.QtWidgets import QApplication


def create_app():
    return QApplication(sys.argv)
'''


def run_with(tmp_path, method, modules, main):
    for name, text in modules.items():
        (tmp_path / name).write_text(text)
    return run_app(textwrap.dedent(main).lstrip("\n"), tmp_path, under_run=True,
                   args=[method], timeout=60)


def fix_of(stderr: str) -> str:
    return stderr[stderr.index("Fix:"):]


@pytest.mark.parametrize("method", METHODS)
def test_imported_module_building_the_app_is_named_with_the_import_chain(tmp_path, method):
    result = run_with(tmp_path, method, {"ui_setup.py": UI_SETUP}, """
        import multiprocessing as mp, sys
        def square(n):
            return n * n
        import ui_setup
        with mp.get_context(sys.argv[1]).Pool(1) as pool:
            print(pool.map(square, [2]), flush=True)
    """)
    assert result.returncode == REFUSED, result.describe()
    assert result.stderr.count("ui_setup.py:5 builds a QApplication") == 1, result.describe()
    assert "app.py:4 builds" not in result.stderr
    assert "app.py:4 -> ui_setup.py:5" in result.stderr
    fix = fix_of(result.stderr)
    assert "import ui_setup" in fix                 # move the import under the guard
    assert "function" in fix                        # ... or build the app in one
    assert "ui_setup.py:5 builds a QApplication" in result.log


@pytest.mark.parametrize("method", METHODS)
def test_imported_module_starting_processes_is_named_with_the_import_chain(tmp_path, method):
    result = run_with(tmp_path, method, {"jobs.py": JOBS}, """
        import sys
        import jobs
        print(jobs.pool.map(abs, [-2]), flush=True)
    """)
    assert result.returncode == REFUSED, result.describe()
    assert result.stderr.count("jobs.py:4 starts a process") == 1, result.describe()
    assert "app.py:2 -> jobs.py:4" in result.stderr
    fix = fix_of(result.stderr)
    assert "import jobs" in fix and "function" in fix


@pytest.mark.parametrize("method", METHODS)
def test_call_into_another_module_names_the_building_line_and_the_call(tmp_path, method):
    result = run_with(tmp_path, method, {"ui_factory.py": UI_FACTORY}, """
        import multiprocessing as mp, sys
        from ui_factory import create_app
        def square(n):
            return n * n
        app = create_app()
        with mp.get_context(sys.argv[1]).Pool(1) as pool:
            print(pool.map(square, [2]), flush=True)
    """)
    assert result.returncode == REFUSED, result.describe()
    assert result.stderr.count("ui_factory.py:7 builds a QApplication") == 1, result.describe()
    assert "app.py:5 -> ui_factory.py:7" in result.stderr
    fix = fix_of(result.stderr)
    assert 'if __name__ == "__main__":' in fix and "app.py:5" in fix
