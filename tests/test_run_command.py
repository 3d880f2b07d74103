"""``pyqtguard run`` behaves as ``python`` would, with pyqtguard installed."""
from __future__ import annotations

import subprocess
import sys

from apprunner import REPO, child_env, run_app

PROBE = """
import sys
print("name", __name__)
print("argv", sys.argv)
print("path0", sys.path[0])
print("file", __file__)
print("guarded", sys.excepthook.__module__)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""


def _python(args, tmp_path, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=child_env(tmp_path / "logs"), **kwargs)


def test_script_sees_what_python_gives_it(tmp_path):
    (tmp_path / "sub").mkdir()
    script = tmp_path / "sub" / "probe.py"
    script.write_text(PROBE)
    plain = _python(["sub/probe.py", "7", "--flag"], tmp_path)
    guarded = _python(["-m", "pyqtguard", "run", "sub/probe.py", "7", "--flag"], tmp_path)
    assert plain.returncode == guarded.returncode == 7
    plain_lines = plain.stdout.splitlines()
    guarded_lines = guarded.stdout.splitlines()
    assert plain_lines[:4] == guarded_lines[:4], (plain.stdout, guarded.stdout)
    assert guarded_lines[4] == "guarded pyqtguard._native"
    assert plain_lines[4] == "guarded sys"


def test_module_mode(tmp_path):
    pkg = tmp_path / "toolpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text(PROBE)
    plain = _python(["-m", "toolpkg.cli", "3"], tmp_path)
    guarded = _python(["-m", "pyqtguard", "run", "-m", "toolpkg.cli", "3"], tmp_path)
    assert plain.returncode == guarded.returncode == 3
    assert plain.stdout.splitlines()[:4] == guarded.stdout.splitlines()[:4]
    assert "guarded pyqtguard._native" in guarded.stdout


def test_uncaught_exception_exit_status_and_log(tmp_path):
    result = run_app("""
        def main():
            raise RuntimeError("unhandled")
        main()
    """, tmp_path, under_run=True)
    assert result.returncode == 1
    assert "RuntimeError: unhandled" in result.stderr
    assert "RuntimeError: unhandled" in result.log
    assert "cli/run.py" not in result.log  # the runner's frames are hidden
    assert 'app.py", line 4, in <module>' in result.log


def test_missing_file_directory_and_syntax_error_match_python(tmp_path):
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "broken.py").write_text("x = (\n")
    for target in ("missing.py", "emptydir", "broken.py"):
        plain = _python([target], tmp_path)
        guarded = _python(["-m", "pyqtguard", "run", target], tmp_path)
        assert plain.returncode == guarded.returncode, target
        last_plain = plain.stderr.strip().splitlines()[-1]
        assert last_plain in guarded.stderr, (target, plain.stderr, guarded.stderr)


def test_directory_with_main_runs(tmp_path):
    (tmp_path / "appdir").mkdir()
    (tmp_path / "appdir" / "__main__.py").write_text("print('dir main', __name__)\n")
    guarded = _python(["-m", "pyqtguard", "run", "appdir"], tmp_path)
    assert guarded.returncode == 0, guarded.stderr
    assert "dir main __main__" in guarded.stdout


def test_console_script_help_and_version(tmp_path):
    version = _python(["-m", "pyqtguard", "--version"], tmp_path)
    assert version.stdout.strip() == "pyqtguard 0.1.0"
    helptext = _python(["-m", "pyqtguard", "--help"], tmp_path)
    assert helptext.returncode == 0 and "run" in helptext.stdout
    run_help = _python(["-m", "pyqtguard", "run", "--help"], tmp_path)
    assert "SCRIPT" in run_help.stdout
    none = _python(["-m", "pyqtguard", "run"], tmp_path)
    assert none.returncode == 2


def test_log_dir_option(tmp_path):
    script = tmp_path / "a.py"
    script.write_text("raise SystemExit('bye')\n")
    result = _python(["-m", "pyqtguard", "run", "--log-dir", "mylogs", "a.py"], tmp_path)
    assert result.returncode == 1 and "bye" in result.stderr
    assert len(list((tmp_path / "mylogs").glob("pyqtguard-*.log"))) == 1
    assert REPO.exists()
