"""``pyqtguard run`` behaves as ``python`` would, with pyqtguard installed."""
from __future__ import annotations

import subprocess
import sys

import pytest

from apprunner import REPO, child_env, run_app

PROBE = """
import sys

import pytest
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


# ---- issue 20: everything after the target belongs to the target ----------
ARGV_PROBE = """
import sys

import pytest
print("name", __name__)
print("argv", sys.argv)
print("path0", sys.path[0])
print("file", __file__)
print("globals", sorted(k for k in globals() if not k.startswith("__")))
"""

TARGET_ARGS = [
    ["-h"], ["--help"], ["--version"], ["-q", "-p", "no:cacheprovider"],
    ["--log-dir", "Y"], ["--log-dir=Y"], ["-m", "foo"], ["--", "-q"], ["-", "x"],
]


def _targets(tmp_path):
    """The same probe as a script and as a module: (python args) pairs."""
    (tmp_path / "probe.py").write_text(ARGV_PROBE)
    pkg = tmp_path / "probepkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text(ARGV_PROBE)
    return {"script": ["probe.py"], "module": ["-m", "probepkg.cli"]}


@pytest.mark.parametrize("form", ["script", "module"])
@pytest.mark.parametrize("extra", TARGET_ARGS, ids=" ".join)
def test_options_after_the_target_are_the_targets(tmp_path, form, extra):
    target = _targets(tmp_path)[form]
    plain = _python([*target, *extra], tmp_path)
    guarded = _python(["-m", "pyqtguard", "run", *target, *extra], tmp_path)
    assert plain.returncode == guarded.returncode == 0, guarded.stderr
    assert plain.stdout == guarded.stdout, (plain.stdout, guarded.stdout)
    assert guarded.stderr == ""
    assert not (tmp_path / "Y").exists()      # --log-dir Y went to the target


def test_pyqtguard_options_before_the_target(tmp_path):
    target = _targets(tmp_path)
    plain = _python([*target["module"], "a"], tmp_path)
    guarded = _python(["-m", "pyqtguard", "run", "--log-dir", "L", *target["module"], "a"],
                      tmp_path)
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout == plain.stdout
    assert (tmp_path / "L").is_dir()
    joined = _python(["-m", "pyqtguard", "run", "--log-dir=L2", "-mprobepkg.cli", "a"],
                     tmp_path)
    assert joined.stdout == plain.stdout and (tmp_path / "L2").is_dir()
    plain = _python(["--", "probe.py", "-q"], tmp_path)
    guarded = _python(["-m", "pyqtguard", "run", "--", "probe.py", "-q"], tmp_path)
    assert guarded.returncode == 0 and guarded.stdout == plain.stdout


def test_unknown_option_before_the_target_is_an_error(tmp_path):
    _targets(tmp_path)
    result = _python(["-m", "pyqtguard", "run", "-q", "probe.py"], tmp_path)
    assert result.returncode == 2
    assert "unrecognized arguments: -q" in result.stderr
    assert result.stdout == ""
    missing = _python(["-m", "pyqtguard", "run", "-m"], tmp_path)
    assert missing.returncode == 2 and "-m" in missing.stderr


def test_run_help_usage_shows_h(tmp_path):
    result = _python(["-m", "pyqtguard", "run", "--help"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: pyqtguard run [-h] [--log-dir DIR]")
    assert "-m MODULE" in result.stdout and "SCRIPT" in result.stdout
    short = _python(["-m", "pyqtguard", "run", "-h"], tmp_path)
    assert short.stdout == result.stdout


def test_exit_status_of_the_module_is_pythons(tmp_path):
    pkg = tmp_path / "exitpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("import sys\nsys.exit(sys.argv[1])\n")
    for code in ("0", "5", "text"):
        plain = _python(["-m", "exitpkg", code], tmp_path)
        guarded = _python(["-m", "pyqtguard", "run", "-m", "exitpkg", code], tmp_path)
        assert plain.returncode == guarded.returncode, code
        assert plain.stderr == guarded.stderr, code


# ---- the launcher's frames are hidden, as runpy hides its own --------------
RAISER = """
def load():
    raise LookupError("top level")

load()
"""


def _frames(text):
    """The traceback's frame lines (with their source lines) and last line."""
    lines = text.splitlines()
    start = lines.index("Traceback (most recent call last):")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    return lines[start:end + 1]


@pytest.mark.parametrize("form", ["script", "module", "directory"])
def test_traceback_shows_the_frames_python_shows(tmp_path, form):
    (tmp_path / "raiser.py").write_text(RAISER)
    (tmp_path / "raisedir").mkdir()
    (tmp_path / "raisedir" / "__main__.py").write_text(RAISER)
    target = {"script": ["raiser.py"], "module": ["-m", "raiser"],
              "directory": ["raisedir"]}[form]
    plain = _python(target, tmp_path)
    guarded = _python(["-m", "pyqtguard", "run", *target], tmp_path)
    assert plain.returncode == guarded.returncode == 1
    assert _frames(guarded.stderr) == _frames(plain.stderr), guarded.stderr
    from pyqtguard.logs.folder import run_logs

    [log] = run_logs(tmp_path / "logs")
    assert _frames(log.read_text()) == _frames(plain.stderr)
    assert "pyqtguard" not in "".join(_frames(log.read_text()))


@pytest.mark.parametrize("form", ["script", "module"])
def test_keyboard_interrupt_reported_once_and_ends_as_in_python(tmp_path, form):
    (tmp_path / "interrupted.py").write_text(
        "def wait():\n    raise KeyboardInterrupt\n\nwait()\n")
    target = {"script": ["interrupted.py"], "module": ["-m", "interrupted"]}[form]
    plain = _python(target, tmp_path)
    guarded = _python(["-m", "pyqtguard", "run", *target], tmp_path)
    assert plain.returncode == guarded.returncode == -2   # killed by its SIGINT
    assert guarded.stderr.count("Traceback (most recent call last):") == 1, guarded.stderr
    assert _frames(guarded.stderr) == _frames(plain.stderr), guarded.stderr
