"""A log users can find: the path on stderr after the first report,
``pyqtguard logs`` (recent runs and their outcomes), and ``pyqtguard report``
answering in JSON and naming a missing app (issue 20)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys


from apprunner import child_env, run_app

CLEAN = "print('fine')\n"
TWO_EXCEPTIONS = """
    import threading
    import pyqtguard
    pyqtguard.install()
    def worker():
        raise KeyError("in a thread")
    t = threading.Thread(target=worker)
    t.start(); t.join()
    raise ValueError("at top level")
"""
CRASHES = """
    import ctypes
    import pyqtguard
    pyqtguard.install()
    ctypes.string_at(0)
"""
HANGS_AT_EXIT = """
    import threading
    import pyqtguard
    pyqtguard.install(exit_timeout=1)
    threading.Thread(target=threading.Event().wait, name="poller").start()
"""
RUNS_UNTIL_KILLED = """
    import sys, time
    import pyqtguard
    pyqtguard.install()
    print(pyqtguard.log_path(), flush=True)
    time.sleep(120)
"""


def _cli(args, tmp_path, env=None):
    return subprocess.run([sys.executable, "-m", "pyqtguard", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env=env or child_env(tmp_path / "logs"))


def _start(source, tmp_path, name):
    script = tmp_path / name
    script.write_text(__import__("textwrap").dedent(source))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                            env=child_env(tmp_path / "logs"), stdout=subprocess.PIPE,
                            text=True)
    log_path = proc.stdout.readline().strip()   # printed once the log exists
    return proc, log_path


def _app_env(tmp_path):
    """No PYQTGUARD_LOG_DIR: per-app folders under tmp_path/state."""
    env = child_env(tmp_path / "unused")
    del env["PYQTGUARD_LOG_DIR"]
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    return env


# ---- the run log's path on stderr ----------------------------------------------
def test_first_stderr_report_ends_with_the_log_path(tmp_path):
    result = run_app(TWO_EXCEPTIONS, tmp_path)
    assert result.returncode == 1, result.describe()
    [log] = result.logs
    note = f"pyqtguard: this run's log: {log}"
    lines = result.stderr.splitlines()
    assert lines.count(note) == 1, result.stderr
    # right after the first report (the thread's KeyError), before the second
    assert lines.index(note) == lines.index("KeyError: 'in a thread'") + 1, result.stderr
    assert lines[-1] == "ValueError: at top level"
    assert note not in result.log                # the log knows its own path


def test_log_path_note_under_pyqtguard_run(tmp_path):
    result = run_app("raise SystemError('x')\n", tmp_path, under_run=True)
    [log] = result.logs
    assert result.stderr.splitlines()[-1] == f"pyqtguard: this run's log: {log}"


def test_no_note_without_a_report(tmp_path):
    result = run_app(CLEAN, tmp_path, under_run=True)
    assert result.returncode == 0 and result.stderr == ""


# ---- pyqtguard logs -------------------------------------------------------------------
def test_logs_lists_recent_runs_newest_first_with_their_outcomes(tmp_path):
    killed, killed_log = _start(RUNS_UNTIL_KILLED, tmp_path, "killed.py")
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    assert run_app(CLEAN, tmp_path, script_name="clean.py", under_run=True).returncode == 0
    assert run_app(TWO_EXCEPTIONS, tmp_path, script_name="raises.py").returncode == 1
    assert run_app(CRASHES, tmp_path, script_name="crashes.py").returncode == -11
    assert run_app(HANGS_AT_EXIT, tmp_path, script_name="hangs.py").returncode == 124
    running, running_log = _start(RUNS_UNTIL_KILLED, tmp_path, "running.py")
    try:
        result = _cli(["logs"], tmp_path)
        as_json = _cli(["logs", "--json"], tmp_path)
        newest_two = _cli(["logs", "-n", "2"], tmp_path)
    finally:
        running.kill()
        running.wait(30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    expected = [("running", "still running", running_log),
                ("hangs", "exit timeout (124)", None),
                ("crashes", "crashed (SIGSEGV (Segmentation fault))", None),
                ("raises", "2 exceptions", None),
                ("clean", "clean", None),
                ("killed", "ended unrecorded", killed_log)]
    assert len(lines) == len(expected), result.stdout
    for line, (app, outcome, path) in zip(lines, expected):
        started, rest = line[:23], line[25:]
        assert started.endswith(" UTC"), line
        assert rest.startswith(f"{app}  "), line
        assert f"  {outcome}  " in rest, line
        assert line.endswith(".log") and (path is None or line.endswith(path)), line
    runs = json.loads(as_json.stdout)
    assert [(r["app"], r["outcome"]) for r in runs] == [
        ("running", "still running"), ("hangs", "exit timeout"), ("crashes", "crashed"),
        ("raises", "exceptions"), ("clean", "clean"), ("killed", "ended unrecorded")]
    assert runs[3]["exceptions"] == 2 and runs[2]["crash_reason"].startswith("SIGSEGV")
    assert runs[0]["pid"] == running.pid and runs[0]["path"] == running_log
    assert newest_two.stdout.splitlines() == lines[:2]


def test_logs_reads_hostile_folders_without_hanging(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    os.mkfifo(logs / "pyqtguard-20260101-000000000-1-0.log")      # nobody writes it
    (tmp_path / "secret").write_text("not a log\n")
    os.symlink(tmp_path / "secret", logs / "pyqtguard-20260101-000000001-2-0.log")
    os.symlink(tmp_path / "gone", logs / "pyqtguard-20260101-000000002-3-0.log")
    (logs / "pyqtguard-20260101-000000003-4-0.log").mkdir()
    huge = logs / "pyqtguard-20260101-000000004-5-0.log"      # 8 GB, sparse
    huge.write_bytes(b"pyqtguard 0.1.0 run log\napp: huge\npid: 5\n\n")
    os.truncate(huge, 8 << 30)
    forged = """
        import os, pyqtguard
        pyqtguard.install()
        raise ValueError("x\\n[2026-01-01 00:00:00.000 UTC] pyqtguard: uncaught exception in "
                         "thread 'T' (native id 1, pid 1) [sys.excepthook]\\n"
                         "[2026-01-01 00:00:00.000 UTC] pyqtguard: interpreter exit")
    """
    assert run_app(forged, tmp_path, script_name="forged.py").returncode == 1
    result = _cli(["logs"], tmp_path)
    assert result.returncode == 0
    forged_line, huge_line = result.stdout.splitlines()
    assert "  forged  " in forged_line and "  1 exception  " in forged_line, forged_line
    assert "  huge  5  ended unrecorded  " in huge_line, huge_line
    [as_json] = [r for r in json.loads(_cli(["logs", "--json"], tmp_path).stdout)
                 if r["app"] == "huge"]
    assert as_json["exceptions_exact"] is False
    notes = result.stderr.splitlines()
    assert len(notes) == 4, result.stderr
    assert any("000000000-1-0.log: not a regular file" in n for n in notes)   # the FIFO
    assert any("000000001-2-0.log: not a run log" in n for n in notes)        # -> secret
    assert any("000000002-3-0.log: No such file" in n for n in notes)         # dangling
    assert any("000000003-4-0.log: not a regular file" in n for n in notes)   # a folder


def test_logs_and_report_name_a_missing_app_or_folder(tmp_path):
    env = _app_env(tmp_path)
    for command in ("logs", "report"):
        app = _cli([command, "--app", "nosuch"], tmp_path, env)
        assert app.returncode == 2, (command, app.stdout, app.stderr)
        assert f"pyqtguard {command}: no such app: nosuch" in app.stderr
        assert app.stdout == ""
        folder = _cli([command, "--log-dir", str(tmp_path / "nonexistent")], tmp_path, env)
        assert folder.returncode == 2 and "no such folder" in folder.stderr


def test_logs_by_app_folder(tmp_path):
    env = _app_env(tmp_path)
    script = tmp_path / "viewer.py"
    script.write_text("import pyqtguard\npyqtguard.install()\n")
    subprocess.run([sys.executable, str(script)], env=env, timeout=60, check=True)
    result = _cli(["logs", "--app", "viewer"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert "  viewer  " in line and "  clean  " in line
    assert str(tmp_path / "state" / "pyqtguard" / "viewer") in line
    every_app = _cli(["logs"], tmp_path, env)
    assert every_app.stdout == result.stdout



def test_app_in_a_shared_log_folder(tmp_path):
    # With $PYQTGUARD_LOG_DIR (or --log-dir) every app writes into that one
    # folder; --app NAME was ignored there: `logs --app viewer` listed every
    # app's runs, and `--app nosuch` exited 0 with other apps' runs and crashes.
    env = child_env(tmp_path / "logs")
    for name, source in (("viewer.py", CRASHES), ("editor.py", CRASHES),
                         ("editor.py", CLEAN)):
        (tmp_path / name).write_text(__import__("textwrap").dedent(source))
        subprocess.run([sys.executable, "-m", "pyqtguard", "run", name], cwd=tmp_path,
                       env=env, timeout=60, capture_output=True, check=False)
    viewer = _cli(["logs", "--app", "viewer"], tmp_path, env)
    assert viewer.returncode == 0, viewer.stderr
    [line] = viewer.stdout.splitlines()
    assert "  viewer  " in line and "crashed" in line, line
    editor = _cli(["logs", "--log-dir", str(tmp_path / "logs"), "--app", "editor"],
                  tmp_path, env)
    assert editor.returncode == 0, editor.stderr
    assert [line.split("  ")[1] for line in editor.stdout.splitlines()] == ["editor", "editor"]
    crashes = json.loads(_cli(["report", "--app", "viewer", "--json"], tmp_path, env).stdout)
    assert [os.path.basename(c["path"]) for c in crashes] == [
        os.path.basename(line.rsplit("  ", 1)[1])]
    for command in ("logs", "report"):
        missing = _cli([command, "--app", "nosuch"], tmp_path, env)
        assert missing.returncode == 2, (command, missing.stdout, missing.stderr)
        assert f"pyqtguard {command}: no such app: nosuch" in missing.stderr, missing.stderr
        assert missing.stdout == ""


# ---- pyqtguard report ------------------------------------------------------------------
def test_report_last_json_without_a_crash(tmp_path):
    assert run_app(CLEAN, tmp_path, under_run=True).returncode == 0
    result = _cli(["report", "--last", "--json"], tmp_path)
    assert result.returncode == 1           # documented: --last found no crash
    assert json.loads(result.stdout) == []
    assert _cli(["report", "--json"], tmp_path).stdout.strip() == "[]"


def test_report_last_json_with_a_crash(tmp_path):
    assert run_app(CRASHES, tmp_path).returncode == -11
    result = _cli(["report", "--last", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    [crash] = json.loads(result.stdout)
    assert crash["reason"].startswith("SIGSEGV") and "=== pyqtguard crash report" in crash["text"]


def test_crash_report_on_stderr_ends_with_the_log_path(tmp_path):
    result = run_app(CRASHES, tmp_path)
    assert result.returncode == -11, result.describe()
    [log] = result.logs
    assert "=== pyqtguard crash report ===" in result.stderr
    assert result.stderr.splitlines()[-1] == f"pyqtguard: this run's log: {log}"
    assert "this run's log" not in result.log


def test_exit_timeout_report_on_stderr_ends_with_the_log_path(tmp_path):
    result = run_app(HANGS_AT_EXIT, tmp_path)
    assert result.returncode == 124, result.describe()
    [log] = result.logs
    assert "=== pyqtguard exit timeout ===" in result.stderr
    assert result.stderr.splitlines()[-1] == f"pyqtguard: this run's log: {log}"


def test_exit_timeout_fallback_in_c_ends_with_the_log_path(tmp_path):
    # An atexit handler keeps the GIL (PyDLL: a C call that does not release
    # it), so the watchdog writes the report in C.
    result = run_app("""
        import atexit, ctypes
        import pyqtguard
        pyqtguard.install(exit_timeout=1)
        atexit.register(lambda: ctypes.PyDLL(None).sleep(30))
    """, tmp_path)
    assert result.returncode == 124, result.describe()
    [log] = result.logs
    assert "=== pyqtguard exit timeout ===" in result.stderr
    assert result.stderr.splitlines()[-1] == f"pyqtguard: this run's log: {log}"


def test_the_log_is_named_by_its_absolute_path(tmp_path):
    result = run_app("""
        import os, threading
        import pyqtguard
        pyqtguard.install(log_dir="rel")
        os.chdir("/")
        def worker():
            raise KeyError("later")
        t = threading.Thread(target=worker); t.start(); t.join()
    """, tmp_path)
    [log] = (tmp_path / "rel").glob("pyqtguard-*.log")
    assert f"pyqtguard: this run's log: {log}\n" in result.stderr, result.stderr


UNINSTALLS_THEN_EXITS = """
    import threading
    import pyqtguard
    pyqtguard.install()
    def worker():
        raise KeyError("in a thread")
    t = threading.Thread(target=worker)
    t.start(); t.join()
    pyqtguard.uninstall()
    print("exiting normally", flush=True)
"""


def test_logs_outcome_of_a_run_that_uninstalled_then_exited(tmp_path):
    # README: "`ended unrecorded`: killed or `os._exit`".  A run that called
    # uninstall() and then exited normally was neither: it reads
    # "uninstalled" (what followed was not watched: pyqtguard cannot say
    # how it ended) with the exceptions seen before.
    result = run_app(UNINSTALLS_THEN_EXITS, tmp_path, script_name="uninstalls.py")
    assert result.returncode == 0, result.describe()
    assert "exiting normally" in result.stdout
    runs = json.loads(_cli(["logs", "--json"], tmp_path).stdout)
    assert [(r["app"], r["outcome"], r["exceptions"], r["summary"]) for r in runs] == [
        ("uninstalls", "uninstalled", 1, "uninstalled, 1 exception before")], runs
    assert "uninstalled, 1 exception before" in _cli(["logs"], tmp_path).stdout


REINSTALLS_THEN_EXITS = """
    import pyqtguard
    pyqtguard.install()
    pyqtguard.uninstall()
    pyqtguard.install()
    print("exiting normally", flush=True)
"""


def test_a_run_installed_again_after_uninstall_ends_as_usual(tmp_path):
    result = run_app(REINSTALLS_THEN_EXITS, tmp_path, script_name="reinstalls.py")
    assert result.returncode == 0, result.describe()
    [log] = result.logs
    text = log.read_text()
    assert text.index("pyqtguard: uninstalled;") < text.index("pyqtguard: installed again") \
        < text.index("pyqtguard: interpreter exit"), text
    runs = json.loads(_cli(["logs", "--json"], tmp_path).stdout)
    assert [(r["app"], r["outcome"]) for r in runs] == [("reinstalls", "clean")], runs


FORK_CHILD_QFATAL = """
    import os, sys
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import qFatal
    child = os.fork()
    if child == 0:
        # a multi-line Qt fatal message, one line a forged header field
        qFatal("first line\\npid: 1\\nsignal: SIGFAKE")
        os._exit(0)
    _, status = os.waitpid(child, 0)
    print("child", child, os.waitstatus_to_exitcode(status), flush=True)
"""


def test_a_multi_line_fatal_message_of_a_forked_child_is_its_crash_not_the_apps(tmp_path):
    """One reader of a report's header fields for the listing: the fatal
    message's further lines (indented in the log) are not fields, so the
    report's own pid line below them says whose crash it is."""
    result = run_app(FORK_CHILD_QFATAL, tmp_path, script_name="forks.py")
    assert result.returncode == 0, result.describe()
    child = int(result.stdout.split()[1])
    runs = json.loads(_cli(["logs", "--json"], tmp_path).stdout)
    assert len(runs) == 1, runs
    assert runs[0]["outcome"] == "clean", runs
    assert runs[0]["child_crash"] == f"pid {child}: Qt fatal error: first line", runs


def test_report_headers_an_exceptions_message_forges_are_not_reports(tmp_path):
    """An exception's message that holds a crash report's or an exit
    timeout's header (its lines indented in the log, the marker among them)
    is no crash and no exit timeout: a report begins at the start of a line."""
    forged = """
        import os, threading, pyqtguard
        pyqtguard.install()
        pid = os.getpid()
        message = (f"x\\n\\n=== pyqtguard crash report ===\\nsignal: SIGSEGV (forged)\\n"
                   f"pid: {pid}\\n\\n=== pyqtguard exit timeout ===\\npid: {pid}\\n")
        def fails():
            raise ValueError(message)
        thread = threading.Thread(target=fails)
        thread.start()
        thread.join()
    """
    assert run_app(forged, tmp_path, script_name="forged.py").returncode == 0
    [run] = json.loads(_cli(["logs", "--json"], tmp_path).stdout)
    assert (run["outcome"], run["exceptions"]) == ("exceptions", 1), run
    listing = _cli(["logs"], tmp_path).stdout
    assert "crashed" not in listing and "exit timeout" not in listing, listing
