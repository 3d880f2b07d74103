"""Hostile review of the command line (docs/hostile-review.md, "The command
line"): ``pyqtguard run`` gives the target what ``python`` gives it for
targets python accepts (zip apps, .pyc files, FIFOs, ``-``), and the other
commands survive broken pipes, hostile text and bad arguments.  Every case
runs the real command in a subprocess."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from apprunner import child_env

NAMESPACE_PROBE = """\
import sys, __main__
print("builtins", type(__builtins__).__name__)
print("loader", type(__loader__).__name__, getattr(__loader__, "name", None),
      getattr(__loader__, "path", None))
print("keys", sorted(vars(__main__)))
print("spec", __spec__, "package", __package__, "cached", __cached__)
print("file", __file__)
print("argv", sys.argv)
print("path0", repr(sys.path[0]))
print("annotations", __annotations__ if "__annotations__" in vars(__main__) else "-")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""


def _python(args, tmp_path, env=None, **kwargs):
    kwargs.setdefault("capture_output", True)
    return subprocess.run([sys.executable, *args], cwd=tmp_path, text=True,
                          timeout=60, env=env or child_env(tmp_path / "logs"), **kwargs)


def _run(args, tmp_path, env=None, **kwargs):
    return _python(["-m", "pyqtguard", "run", *args], tmp_path, env, **kwargs)


def _same(tmp_path, args, **kwargs):
    """``python ARGS`` and ``pyqtguard run ARGS``: same status and stdout."""
    plain = _python(args, tmp_path, **kwargs)
    guarded = _run(args, tmp_path, **kwargs)
    assert plain.returncode == guarded.returncode, (plain, guarded)
    assert plain.stdout == guarded.stdout, (plain.stdout, guarded.stdout, guarded.stderr)
    return plain, guarded


# ---- run: the __main__ module python gives ---------------------------------
def test_main_namespace_is_pythons(tmp_path):
    (tmp_path / "probe.py").write_text(NAMESPACE_PROBE)
    plain, guarded = _same(tmp_path, ["probe.py", "4"])
    assert "builtins module" in guarded.stdout
    assert "loader SourceFileLoader __main__" in guarded.stdout


def test_builtins_module_usable_as_in_python(tmp_path):
    (tmp_path / "b.py").write_text("__builtins__.answer = 42\nprint(answer)\n")
    _same(tmp_path, ["b.py"])


def test_main_modules_annotations_are_the_scripts(tmp_path):
    # 3.14 (PEP 649) gives __main__ no __annotations__ entry: the module's
    # __annotations__ is computed from its __annotate__.  An __annotations__
    # set up in advance (3.11-3.13's {}) would hide the script's own.
    (tmp_path / "probe.py").write_text(
        "import __main__, typing\n"
        "answer: int = 42\n"
        "print('annotations', __main__.__annotations__)\n"
        "print('hints', typing.get_type_hints(__main__))\n")
    plain, guarded = _same(tmp_path, ["probe.py"])
    assert "annotations {'answer': <class 'int'>}" in guarded.stdout, guarded.stdout


def test_zip_app_runs_as_in_python(tmp_path):
    with zipfile.ZipFile(tmp_path / "app.pyz", "w") as archive:
        archive.writestr("__main__.py", NAMESPACE_PROBE + "")
        archive.writestr("helper.py", "X = 1\n")
    plain, guarded = _same(tmp_path, ["app.pyz", "3"])
    assert "app.pyz" in guarded.stdout and guarded.returncode == 3


def test_pyc_file_runs_as_in_python(tmp_path):
    import py_compile

    (tmp_path / "probe.py").write_text(NAMESPACE_PROBE)
    py_compile.compile(str(tmp_path / "probe.py"), cfile=str(tmp_path / "probe.pyc"))
    (tmp_path / "probe.py").unlink()
    plain, guarded = _same(tmp_path, ["probe.pyc", "5"])
    assert "loader SourcelessFileLoader __main__" in guarded.stdout


def test_dev_null_runs_as_an_empty_script(tmp_path):
    _same(tmp_path, [os.devnull])


def test_pipe_given_as_dev_fd_runs_as_in_python(tmp_path):
    """``pyqtguard run <(generate-script)``: bash passes /dev/fd/N, a pipe."""
    results = []
    for runner in (_python, _run):
        read_end, write_end = os.pipe()
        os.write(write_end, b"import sys\nprint('from a pipe', sys.argv[1:])\n")
        os.close(write_end)
        try:
            results.append(runner([f"/dev/fd/{read_end}", "x"], tmp_path,
                                  pass_fds=(read_end,)))
        finally:
            os.close(read_end)
    plain, guarded = results
    assert plain.returncode == guarded.returncode == 0, guarded.stderr
    assert plain.stdout == guarded.stdout == "from a pipe ['x']\n"


def test_fifo_script_runs_as_in_python(tmp_path):
    fifo = tmp_path / "script.fifo"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as writer:
            writer.write(b"print('from a fifo')\n")

    feeder = threading.Thread(target=feed)
    feeder.start()
    guarded = _run([str(fifo)], tmp_path)
    feeder.join(10)
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout == "from a fifo\n"


def test_dev_zero_ends_with_pythons_syntax_error_not_a_hang(tmp_path):
    """python reads /dev/zero for ever; pyqtguard stops at the first NUL,
    which python would refuse anyway."""
    start = time.monotonic()
    guarded = _run(["/dev/zero"], tmp_path)
    assert time.monotonic() - start < 30
    assert guarded.returncode == 1
    assert "SyntaxError: source code cannot contain null bytes" in guarded.stderr


def test_script_from_stdin_dash(tmp_path):
    source = NAMESPACE_PROBE.replace("sys.exit(", "print('exit', ").replace(
        'print("file", __file__)', 'print("file", __file__ if "__file__" in globals() else "-")')
    plain, guarded = _same(tmp_path, ["-", "7"], input=source)
    assert "argv ['-', '7']" in guarded.stdout


def test_dash_with_stdin_closed_runs_nothing_as_python(tmp_path):
    plain, guarded = _same(tmp_path, ["-"], stdin=subprocess.DEVNULL,
                           preexec_fn=lambda: os.close(0))
    assert guarded.returncode == 0 and "Traceback" not in guarded.stderr, guarded.stderr


@pytest.mark.parametrize("case", ["loop", "not-a-folder", "too-long", "missing"])
def test_script_that_cannot_be_opened_says_why_as_python(tmp_path, case):
    if case == "loop":
        os.symlink("loop.py", tmp_path / "loop.py")
        target = "loop.py"
    elif case == "not-a-folder":
        (tmp_path / "file").write_text("")
        target = "file/app.py"
    elif case == "too-long":
        target = "a" * 5000 + ".py"
    else:
        target = "missing.py"
    plain = _python([target], tmp_path)
    guarded = _run([target], tmp_path)
    assert plain.returncode == guarded.returncode == 2
    assert plain.stderr == guarded.stderr


def _wait_blocked_on_fifo(pid, timeout=30.0):
    """Until *pid* waits in open() for a FIFO's writer (Linux's wchan)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/wchan") as wchan:
                if wchan.read().strip() == "wait_for_partner":
                    return
        except OSError:
            pytest.skip("no /proc/PID/wchan")
        time.sleep(0.02)
    raise AssertionError("never blocked on the FIFO")


def test_ctrl_c_while_a_fifo_script_waits_for_its_writer(tmp_path):
    import signal

    os.mkfifo(tmp_path / "wait.fifo")
    results = []
    for command in ([sys.executable, "wait.fifo"],
                    [sys.executable, "-m", "pyqtguard", "run", "wait.fifo"]):
        proc = subprocess.Popen(command, cwd=tmp_path, env=child_env(tmp_path / "logs"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_blocked_on_fifo(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        results.append((proc.returncode, err))
    (plain_code, plain_err), (code, err) = results
    assert code == plain_code == 2, err
    assert err == plain_err


def test_safe_path_keeps_sys_path(tmp_path):
    """``python -P`` (3.11+) adds no script folder to sys.path: neither may
    pyqtguard, which overwrote sys.path[0] (the standard library's zip
    entry) with the script's folder."""
    (tmp_path / "probe.py").write_text(NAMESPACE_PROBE)
    plain = _python(["-P", "probe.py"], tmp_path)
    guarded = _python(["-P", "-m", "pyqtguard", "run", "probe.py"], tmp_path)
    assert plain.returncode == guarded.returncode == 0, guarded.stderr
    assert plain.stdout == guarded.stdout


PATH_PROBE = "import sys; print(sys.path)"


@pytest.mark.parametrize("python_args", [[], ["-P"]], ids=["default", "safe-path"])
@pytest.mark.parametrize("form", ["script", "module", "command", "stdin", "zip"])
def test_whole_sys_path_is_pythons(tmp_path, form, python_args):
    """Not only sys.path[0]: the launcher's own entry goes, nothing else
    (a PYTHONPATH entry stays), under -P too."""
    (tmp_path / "extra").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.py").write_text(PATH_PROBE)
    (tmp_path / "extra" / "pmod.py").write_text(PATH_PROBE)   # found under -P too
    with zipfile.ZipFile(tmp_path / "p.pyz", "w") as archive:
        archive.writestr("__main__.py", PATH_PROBE)
    target = {"script": ["sub/p.py"], "module": ["-m", "pmod"], "command": ["-c", PATH_PROBE],
              "stdin": ["-"], "zip": ["p.pyz"]}[form]
    env = child_env(tmp_path / "logs")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "extra"), env["PYTHONPATH"]])
    stdin = PATH_PROBE if form == "stdin" else None
    plain = _python([*python_args, *target], tmp_path, env=env, input=stdin)
    guarded = _python([*python_args, "-m", "pyqtguard", "run", *target], tmp_path, env=env,
                      input=stdin)
    assert plain.returncode == guarded.returncode == 0, guarded.stderr
    assert plain.stdout == guarded.stdout


@pytest.mark.parametrize("form", ["module", "script"])
def test_target_in_a_deleted_cwd_as_python(tmp_path, form):
    """In a folder deleted under the shell, python -m adds no cwd entry:
    pyqtguard run raised FileNotFoundError from os.getcwd() for -m, and for
    a script overwrote the first PYTHONPATH entry, taking it for its own."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "pmod.py").write_text(PATH_PROBE)
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "p.py").write_text(PATH_PROBE)
    gone = tmp_path / "gone"
    gone.mkdir()
    env = child_env(tmp_path / "logs")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "lib"), env["PYTHONPATH"]])
    results = []
    for prefix in ([], ["-m", "pyqtguard", "run"]):
        code = ("import os, subprocess, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
                "sys.exit(subprocess.run(sys.argv[2:]).returncode)")
        results.append(subprocess.run(
            [sys.executable, "-c", code, str(gone), sys.executable, *prefix,
             *(["-m", "pmod"] if form == "module" else [str(tmp_path / "s" / "p.py")])],
            env=env, capture_output=True, text=True, timeout=60))
        gone.mkdir()
    plain, guarded = results
    assert plain.returncode == guarded.returncode == 0, guarded.stderr
    assert plain.stdout == guarded.stdout


def test_empty_module_name_is_pythons_error_not_a_traceback(tmp_path):
    plain = _python(["-m", ""], tmp_path)
    guarded = _run(["-m", ""], tmp_path)
    assert plain.returncode == guarded.returncode == 1
    assert "Traceback" not in guarded.stderr
    assert plain.stderr == guarded.stderr


def test_dash_c_runs_as_in_python(tmp_path):
    probe = ("import sys, __main__\nprint(sorted(vars(__main__)), __loader__, __spec__)\n"
             "print('argv', sys.argv, repr(sys.path[0]))")
    plain, guarded = _same(tmp_path, ["-c", probe, "6", "-m", "--log-dir"])
    assert "argv ['-c', '6', '-m', '--log-dir']" in guarded.stdout
    raised = _run(["-c", "def f():\n    raise KeyError('k')\nf()"], tmp_path)
    assert raised.returncode == 1 and 'File "<string>", line 2, in f' in raised.stderr


def test_spawn_children_unpickle_script_classes_as_in_python(tmp_path):
    (tmp_path / "mp_app.py").write_text(
        "import multiprocessing as mp\n"
        "class Thing:\n"
        "    def __init__(self, x): self.x = x\n"
        "def work(t): return (__name__, t.x * 2, type(t).__qualname__)\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('spawn').Pool(2) as pool:\n"
        "        print(pool.map(work, [Thing(1), Thing(2)]))\n")
    plain, guarded = _same(tmp_path, ["mp_app.py"])
    assert guarded.stdout == "[('__mp_main__', 2, 'Thing'), ('__mp_main__', 4, 'Thing')]\n"


QT_ZIP_MAIN = """\
import sys
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

app = QApplication(sys.argv)
def slot():
    raise ValueError("in a slot of a zip app")
QTimer.singleShot(0, slot)
QTimer.singleShot(50, app.quit)
print("exec", app.exec(), flush=True)
sys.exit(4)
"""


def test_qt_zip_app_is_guarded(tmp_path):
    """The reason to run a zip app under pyqtguard: a slot's exception is
    reported and the app goes on (python alone aborts)."""
    with zipfile.ZipFile(tmp_path / "qtapp.pyz", "w") as archive:
        archive.writestr("__main__.py", QT_ZIP_MAIN)
    guarded = _run(["qtapp.pyz"], tmp_path)
    assert guarded.returncode == 4, guarded.stderr
    assert guarded.stdout == "exec 0\n"
    assert "ValueError: in a slot of a zip app" in guarded.stderr
    from pyqtguard.logs.folder import run_logs

    [log] = run_logs(tmp_path / "logs")
    assert "ValueError: in a slot of a zip app" in log.read_text()
    assert "app: qtapp" in log.read_text()


def test_install_failing_leaves_the_app_running_unguarded(tmp_path):
    """Whatever install() raises (a bug, a folder it cannot handle), the
    target still runs: one line says so."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(
        "import pyqtguard\n"
        "def install(**options):\n"
        "    raise OSError('simulated')\n"
        "pyqtguard.install = install\n")
    (tmp_path / "app.py").write_text("import sys\nprint('ran', sys.argv[1:])\nsys.exit(3)\n")
    env = child_env(tmp_path / "logs")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), env["PYTHONPATH"]])
    guarded = _run(["app.py", "x"], tmp_path, env=env)
    assert guarded.returncode == 3
    assert guarded.stdout == "ran ['x']\n"
    assert guarded.stderr == ("pyqtguard run: not installed (OSError: simulated); "
                              "running unguarded\n")


# ---- run: non-UTF-8 log folder ---------------------------------------------
def test_non_utf8_log_folder_does_not_stop_the_app(tmp_path):
    folder = os.path.join(os.fsencode(tmp_path), b"l\xe9gs")
    env = child_env(tmp_path / "unused")
    env = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    env[b"PYQTGUARD_LOG_DIR"] = folder
    (tmp_path / "app.py").write_text("import ctypes\nprint('up', flush=True)\n"
                                     "raise ValueError('x')\n")
    guarded = subprocess.run([sys.executable, "-m", "pyqtguard", "run", "app.py"],
                             cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert guarded.stdout == b"up\n", guarded.stderr
    assert guarded.returncode == 1
    assert b"UnicodeEncodeError" not in guarded.stderr
    assert b"ValueError: x" in guarded.stderr
    [log] = [n for n in os.listdir(folder) if n.endswith(b".log")]
    assert b"ValueError: x" in open(os.path.join(folder, log), "rb").read()
    listing = subprocess.run([sys.executable, "-m", "pyqtguard", "logs"], cwd=tmp_path,
                             env=env, capture_output=True, timeout=60)
    assert listing.returncode == 0 and b"1 exception" in listing.stdout, listing.stderr


# ---- broken pipes -----------------------------------------------------------
@pytest.fixture
def many_logs(tmp_path):
    """A folder of 3 run logs, one of them crashed."""
    folder = tmp_path / "logs"
    (tmp_path / "ok.py").write_text("print('ok')\n")
    (tmp_path / "boom.py").write_text("import ctypes\nctypes.string_at(0)\n")
    for name in ("ok.py", "ok.py", "boom.py"):
        _run([name], tmp_path)
    return folder


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
@pytest.mark.parametrize("command", [
    ["logs"], ["logs", "--json"], ["report"], ["report", "--json"], ["report", "--last"],
    ["--help"], ["run", "--help"], ["check", "."],
], ids=" ".join)
def test_closed_stdout_is_no_traceback(tmp_path, many_logs, command, unbuffered):
    """``pyqtguard logs | head -1``: a reader gone before we write.  Both
    with and without PYTHONUNBUFFERED (set or not in the environment the
    suite runs in: the outcome of --help depends on it)."""
    env = child_env(many_logs)
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "pyqtguard", *command], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                      # the reader is gone
    err = proc.stderr.read().decode()
    code = proc.wait(60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    # As a shell reports a SIGPIPE death.  argparse's --help ignores the
    # error of its write - which fails there only when stdout is unbuffered;
    # buffered, the flush at exit fails, and that is a SIGPIPE death too.
    assert code == (0 if "--help" in command and unbuffered else 141), err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="Linux's /dev/full")
@pytest.mark.parametrize("command", [
    ["logs"], ["logs", "--json"], ["report"], ["report", "--last"], ["check", "."],
], ids=" ".join)
def test_stdout_on_a_full_disk_is_one_line(tmp_path, many_logs, command):
    """``pyqtguard logs > /dev/full`` (stdout on a full disk): one line
    saying so and exit status 74 (EX_IOERR), not a traceback of the write
    and another of the interpreter's flush at exit."""
    env = child_env(many_logs)
    env.pop("PYTHONUNBUFFERED", None)
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "pyqtguard", *command], cwd=tmp_path,
                              env=env, stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=60)
    assert proc.stderr == ("pyqtguard: cannot write its output: "
                           "[Errno 28] No space left on device\n"), proc.stderr
    assert proc.returncode == 74, proc.stderr


# ---- hostile text in logs printed to a terminal ------------------------------
def _forge_crash_log(folder, pid=4242, thread="t", extra=""):
    folder.mkdir(parents=True, exist_ok=True)
    text = (f"pyqtguard 0.1.0 run log\napp: forged\npid: {pid}\n"
            "started: 2026-11-29 10:00:00 UTC\npython: 3.11.7 (linux)\n"
            "script: app.py (0 arguments, values not logged)\n\n"
            "=== pyqtguard crash report ===\nsignal: SIGSEGV (Segmentation fault)\n"
            f"time: 2026-11-29 10:00:01.000 UTC\npid: {pid}\n"
            f"thread: '{thread}' (native id {pid})\n\n"
            "Python stacks of all threads (the crashing thread first):\n"
            f"Current thread 0x00007f (most recent call first):\n"
            f"  File \"/tmp/app{extra}.py\", line 3 in boom{extra}\n"
            f"{extra}\n")
    path = folder / f"pyqtguard-20261129-100000000-{pid}-0.log"
    path.write_text(text)
    return path


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\r"


def test_report_escapes_terminal_control_in_forged_logs(tmp_path):
    _forge_crash_log(tmp_path / "logs", extra=ESCAPES)
    for command in (["report"], ["report", "--last"], ["logs"]):
        result = _python(["-m", "pyqtguard", *command], tmp_path)
        assert result.returncode == 0, result.stderr
        assert "forged" in result.stdout or "SIGSEGV" in result.stdout, result.stdout
        for char in "\x1b\x07\x9b\r":
            assert char not in result.stdout, (command, result.stdout)


def test_report_prints_non_utf8_paths(tmp_path):
    folder = os.path.join(os.fsencode(tmp_path), b"l\xe9gs")
    os.mkdir(folder, 0o700)
    _forge_crash_log(tmp_path / os.fsdecode(b"l\xe9gs"))
    env = child_env(tmp_path / os.fsdecode(b"l\xe9gs"))
    env["PYTHONIOENCODING"] = "utf-8"       # a UTF-8 terminal: strict errors
    for command in (["report"], ["logs"]):
        result = _python(["-m", "pyqtguard", *command], tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert "\\udce9" in result.stdout or "\\xe9" in result.stdout, result.stdout


@pytest.mark.parametrize("command", [["logs"], ["report"], ["report", "--last"]],
                         ids=" ".join)
def test_a_stdout_that_cannot_encode_a_name_gets_it_escaped(tmp_path, command):
    """An ASCII locale or a Windows console's code page: an app named
    'café' (names keep letters) must not make the listing raise."""
    _forge_crash_log(tmp_path / "logs")
    log = next((tmp_path / "logs").glob("*.log"))
    log.write_text(log.read_text().replace("app: forged", "app: caf\u00e9")
                   .replace("/tmp/app", "/tmp/caf\u00e9"))
    env = child_env(tmp_path / "logs")
    env["PYTHONIOENCODING"] = "ascii"
    result = _python(["-m", "pyqtguard", *command], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "caf\\xe9" in result.stdout, result.stdout


def test_logs_says_an_unreadable_folder_cannot_be_read(tmp_path):
    """As ``report`` does: not "no run logs", status 0."""
    from test_hostile_logs import _AS_NOBODY, _can_run_as_nobody, _world_readable_tmp

    if not _can_run_as_nobody():
        pytest.skip("needs root, setpriv and a Python that another user can run")
    base = _world_readable_tmp()
    try:
        logs = base / "logs"
        _forge_crash_log(logs)
        logs.chmod(0o700)                       # root's: nobody cannot list it
        listed = subprocess.run(
            [*_AS_NOBODY, sys.executable, "-m", "pyqtguard", "logs", "--log-dir", str(logs)],
            capture_output=True, text=True, env=child_env(logs), timeout=30)
        assert listed.returncode == 2, listed
        assert f"cannot read {logs}: Permission denied" in listed.stderr
        assert "no run logs" not in listed.stdout
    finally:
        shutil.rmtree(base)


# ---- bad arguments: a clear error, status 2, no traceback -------------------
@pytest.mark.parametrize("args", [
    ["run", "--log", "L", "probe.py"], ["run", "-X", "dev", "probe.py"],
    ["run", "--log-dir"], ["run", "-m"], ["logs", "-n", "x"], ["logs", "-n", "-1"],
    ["report", "--bogus"], ["bogus"], ["dump", "abc"], ["check"],
    ["run", "--log-dir", "", "probe.py"], ["logs", "--log-dir", ""],
    ["report", "--log-dir="], ["dump", "--log-dir", " ", "1"], ["logs", "--app", ""],
], ids=repr)
def test_bad_arguments_exit_2_without_traceback(tmp_path, args):
    (tmp_path / "probe.py").write_text("print('ran')\n")
    result = _python(["-m", "pyqtguard", *args], tmp_path)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "ran" not in result.stdout
    assert result.stderr.strip(), "an error says what is wrong"


def test_abbreviated_option_is_not_taken_for_log_dir(tmp_path):
    (tmp_path / "probe.py").write_text("print('ran')\n")
    result = _python(["-m", "pyqtguard", "run", "--log", "L", "probe.py"], tmp_path)
    assert result.returncode == 2
    assert "unrecognized arguments: --log" in result.stderr, result.stderr


def test_python_options_get_a_hint(tmp_path):
    (tmp_path / "probe.py").write_text("print('ran')\n")
    result = _python(["-m", "pyqtguard", "run", "-X", "dev", "probe.py"], tmp_path)
    assert result.returncode == 2
    assert "python -X dev -m pyqtguard run" in result.stderr, result.stderr


def test_no_command_is_a_usage_error_on_stderr(tmp_path):
    result = _python(["-m", "pyqtguard"], tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: pyqtguard" in result.stderr


def test_console_script_is_the_same_program(tmp_path):
    exe = shutil.which("pyqtguard", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("no console script beside this python")
    (tmp_path / "probe.py").write_text(NAMESPACE_PROBE)
    via_module = _run(["probe.py", "2"], tmp_path)
    via_script = subprocess.run([exe, "run", "probe.py", "2"], cwd=tmp_path, text=True,
                                capture_output=True, timeout=60,
                                env=child_env(tmp_path / "logs"))
    assert via_module.returncode == via_script.returncode == 2
    assert via_module.stdout == via_script.stdout


@pytest.mark.parametrize("command", [[], ["run"], ["logs"], ["report"], ["dump"], ["check"]],
                         ids=lambda c: " ".join(c) or "pyqtguard")
def test_every_help_states_its_exit_statuses(tmp_path, command):
    result = _python(["-m", "pyqtguard", *command, "--help"], tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Exit status" in text, text
    assert "2 " in text.split("Exit status", 1)[1], text


def test_run_loads_no_more_of_pyqtguard_than_it_needs(tmp_path):
    """The launcher's own modules are the app's start-up time (and names it
    cannot shadow): not the checker's."""
    result = _run(["-c", "import sys; print(sorted(m for m in sys.modules "
                         "if m.startswith('pyqtguard.check') or m == 'ast'))"], tmp_path)
    assert result.stdout == "[]\n", result.stdout


def test_console_script_gives_pythons_whole_sys_path(tmp_path):
    exe = shutil.which("pyqtguard", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("no console script beside this python")
    (tmp_path / "p.py").write_text(PATH_PROBE)
    plain = _python(["p.py"], tmp_path)
    via_script = subprocess.run([exe, "run", "p.py"], cwd=tmp_path, text=True,
                                capture_output=True, timeout=60,
                                env=child_env(tmp_path / "logs"))
    assert via_script.returncode == 0, via_script.stderr
    assert via_script.stdout == plain.stdout


# ---- run: the app's own modules win, as with python (session 14) -----------
# Standard-library names the launcher imported before the app ran (argparse
# and what its help formatter pulls in, typing, pathlib, pkgutil, runpy's
# helpers) and some an app plausibly has (queue.py, code.py, token.py).
SHADOWING_NAMES = ("argparse", "gettext", "locale", "shutil", "bz2", "lzma", "zlib",
                   "typing", "pkgutil", "weakref", "pathlib", "fnmatch",
                   "queue", "code", "token", "tokenize", "linecache", "traceback",
                   "signal")
SHADOWING_APP = f"""\
import sys
for name in {SHADOWING_NAMES!r}:
    print(name, getattr(__import__(name), "SHADOW", "stdlib"))
print("guarded", sys.excepthook.__module__)
"""


@pytest.mark.parametrize("launcher", ["-m", "console-script"])
@pytest.mark.parametrize("python_args", [[], ["-S"]], ids=["site", "no-site"])
@pytest.mark.parametrize("form", ["script-in-cwd", "script-elsewhere", "module"])
def test_app_modules_named_as_stdlib_ones_are_the_apps(tmp_path, form, python_args, launcher):
    """An app folder holding queue.py, typing.py, argparse.py...: the app
    imports its own, under run as under python (python -S: nothing but the
    interpreter's start-up modules imported before, as in a clean venv).
    Not types.py, functools.py...: ``python -m`` itself needs those (runpy)."""
    if launcher == "-m":
        launcher_args = ["-m", "pyqtguard"]
    else:
        exe = shutil.which("pyqtguard", path=os.path.dirname(sys.executable))
        if exe is None:
            pytest.skip("no console script beside this python")
        launcher_args = [exe]
    app = tmp_path / "app"
    app.mkdir()
    for name in SHADOWING_NAMES:
        (app / f"{name}.py").write_text("SHADOW = 'app'\n")
    (app / "app.py").write_text(SHADOWING_APP)
    cwd, target = {"script-in-cwd": (app, ["app.py"]),
                   "script-elsewhere": (tmp_path, ["app/app.py"]),
                   "module": (app, ["-m", "app"])}[form]
    env = child_env(cwd / "logs")
    if python_args == ["-S"]:
        # No site: an installed pyqtguard (a wheel in site-packages, as in
        # CI's wheel run) is found through PYTHONPATH, as a clean venv's
        # python -S would need too.
        import pyqtguard

        installed = os.path.dirname(os.path.dirname(os.path.abspath(pyqtguard.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), installed)
                                            if p)
    plain = _python([*python_args, *target], cwd, env)
    guarded = _python([*python_args, *launcher_args, "run", *target], cwd, env)
    assert plain.returncode == guarded.returncode == 0, guarded.stderr
    assert guarded.stderr == "", guarded.stderr
    assert "queue app" in plain.stdout, plain.stdout
    plain_lines, guarded_lines = plain.stdout.splitlines(), guarded.stdout.splitlines()
    assert plain_lines[:-1] == guarded_lines[:-1], (plain.stdout, guarded.stdout)
    assert guarded_lines[-1] == "guarded pyqtguard._native", guarded.stdout
