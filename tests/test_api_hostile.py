"""The public API's promises under hostile use (docs/hostile-review.md,
"The public API: install(), uninstall(), options"): options with extreme or
wrong values, environment variables with junk, install() called again with
other options, inside a running event loop, with stderr's descriptor closed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from apprunner import child_env, run_app
from pyqtguard.config import MAX_SECONDS, make_config


# ---- option values: the C core's limits are checked (or clamped) up front ----

@pytest.mark.parametrize("value", [float("inf"), 1e12, 10**400])
def test_huge_repeat_interval_is_taken_as_the_longest(value):
    assert make_config(repeat_interval=value).repeat_interval == MAX_SECONDS


@pytest.mark.parametrize("value", [float("inf"), 1e10, 1e308, 10**400])
def test_huge_exit_timeout_is_taken_as_the_longest(value):
    assert make_config(exit_timeout=value).exit_timeout == MAX_SECONDS


def test_huge_freeze_ms_is_taken_as_the_longest():
    assert make_config(freeze_ms=2**63).freeze_ms == 2**31 - 1


@pytest.mark.parametrize("signum", [
    signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL,
    signal.SIGFPE, signal.SIGABRT, signal.SIGINT, signal.SIGTERM, signal.NSIG, 1000, 2**70])
def test_dump_signal_that_cannot_or_must_not_be_taken_is_refused(signum):
    with pytest.raises(ValueError, match="dump_signal"):
        make_config(dump_signal=signum)


def test_dump_signal_usr2_and_enum_accepted():
    assert make_config(dump_signal=signal.SIGUSR2).dump_signal == signal.SIGUSR2


@pytest.mark.parametrize("value", ["", "   ", "/tmp/a\0b"])
def test_log_dir_empty_or_with_nul_is_refused(value):
    with pytest.raises(ValueError, match="log_dir"):
        make_config(log_dir=value)


def test_repeat_interval_inf_keeps_the_exception_hooks(tmp_path):
    result = run_app("""
        import sys, threading, pyqtguard
        pyqtguard.install(repeat_interval=float("inf"))
        for _ in range(3):
            t = threading.Thread(target=lambda: 1/0); t.start(); t.join()
        print("done", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "not installed" not in result.stderr, result.describe()
    assert result.log.count("ZeroDivisionError: division by zero") == 1, result.describe()


def test_exit_timeout_inf_never_ends_the_app_at_exit(tmp_path):
    result = run_app("""
        import threading, time, pyqtguard
        pyqtguard.install(exit_timeout=float("inf"))
        threading.Thread(target=time.sleep, args=(1,)).start()
        print("main done", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "exit timeout" not in result.log, result.describe()


def test_env_huge_values_do_not_break_the_guards(tmp_path):
    result = run_app("""
        import pyqtguard
        c = pyqtguard.install()
        from PyQt6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication([])
        QTimer.singleShot(50, app.quit)
        app.exec()
        print(c.repeat_interval, c.exit_timeout, c.freeze_ms, flush=True)
    """, tmp_path, env={"PYQTGUARD_REPEAT_INTERVAL": "inf", "PYQTGUARD_EXIT_TIMEOUT": "1e400",
                        "PYQTGUARD_FREEZE_MS": "99999999999999"})
    assert result.returncode == 0, result.describe()
    assert result.stderr == "", result.describe()
    assert result.stdout.split() == [repr(MAX_SECONDS), repr(MAX_SECONDS), str(2**31 - 1)]


@pytest.mark.parametrize("value", ["maybe", "2", "enable"])
def test_env_disable_junk_is_warned_about(tmp_path, value):
    result = run_app("""
        import pyqtguard
        print(pyqtguard.install() is not None, flush=True)
    """, tmp_path, env={"PYQTGUARD_DISABLE": value})
    assert result.stdout.strip() == "True"
    assert result.stderr.count(f"ignoring PYQTGUARD_DISABLE={value!r}") == 1, result.describe()


def test_env_junk_value_is_shortened_in_the_warning(tmp_path):
    result = run_app("""
        import pyqtguard; pyqtguard.install()
    """, tmp_path, env={"PYQTGUARD_FREEZE_MS": "9" * 5000})
    assert result.returncode == 0
    assert "PYQTGUARD_FREEZE_MS" in result.stderr
    assert len(result.stderr) < 300, result.describe()


# ---- install() again ----------------------------------------------------------

def test_second_install_with_other_options_says_they_are_ignored(tmp_path):
    result = run_app("""
        import pyqtguard
        first = pyqtguard.install(app_name="first", freeze_ms=0)
        assert pyqtguard.install(app_name="first", freeze_ms=0) is first
        assert pyqtguard.install() is first
        second = pyqtguard.install(app_name="second", exit_timeout=3)
        assert second is first
        pyqtguard.install(app_name="second", exit_timeout=3)
        print("ok", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    lines = [line for line in result.stderr.splitlines() if "already installed" in line]
    assert len(lines) == 1, result.describe()
    assert "app_name='second'" in lines[0] and "exit_timeout=3" in lines[0], lines
    assert "freeze_ms" not in lines[0]


# ---- descriptors 0-2 ----------------------------------------------------------

def test_closed_stderr_descriptor_is_not_taken_by_pyqtguard(tmp_path):
    """An app started with fd 2 closed (`2>&-`, some launchers): pyqtguard's
    log and pipes must not become fd 2, where any library's write to
    "stderr" would land in them."""
    script = tmp_path / "app.py"
    script.write_text(
        "import os, sys, threading, pyqtguard\n"
        "def low():\n"
        "    taken = {}\n"
        "    for fd in (0, 1, 2):\n"
        "        try: taken[fd] = os.readlink(f'/proc/self/fd/{fd}')\n"
        "        except OSError: pass\n"
        "    return taken\n"
        "pyqtguard.install()\n"
        "print(low(), flush=True)\n"          # log, crash stage pipe
        "from PyQt6.QtCore import QCoreApplication, QTimer\n"
        "app = QCoreApplication([])\n"        # Qt's eventfd takes fd 2 (as unguarded)
        "os.close(0)\n"                       # and stdin goes too: 0 is free
        "t = threading.Thread(target=lambda: 1/0); t.start(); t.join()\n"
        "QTimer.singleShot(50, app.quit); app.exec()\n"   # wake pipes
        "print(low(), flush=True)\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                          env=child_env(tmp_path / "logs"), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          preexec_fn=lambda: os.close(2), timeout=60)
    assert proc.returncode == 0, proc.stdout
    at_install, after_loop = (eval(line) for line in proc.stdout.splitlines())  # noqa: S307
    # Kept descriptors (the log, pipes); a directory pyqtguard's own thread
    # lists for a moment (/proc/self/task, the log folder) may pass by.
    def kept(target):
        return target.startswith("pipe:") or target.endswith(".log")
    assert not kept(at_install.get(2, "")), at_install
    assert not kept(after_loop.get(0, "")), after_loop


# ---- install() while the event loop runs ------------------------------------

def test_install_inside_running_loop_watches_that_loop(tmp_path):
    result = run_app("""
        import time, pyqtguard
        from PyQt6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication([])
        def later():
            pyqtguard.install(freeze_ms=200)
            QTimer.singleShot(50, lambda: time.sleep(0.8))
            QTimer.singleShot(1200, app.quit)
        QTimer.singleShot(0, later)
        print("rc", app.exec(), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.log.count("GUI freeze: the event loop has not turned for") == 1, result.describe()
    assert "shutdown began (the Qt event loop ended)" in result.log, result.describe()


def test_install_in_loop_then_uninstall_then_next_exec_is_watched(tmp_path):
    result = run_app("""
        import time, pyqtguard
        from PyQt6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication([])
        def later():
            pyqtguard.install(freeze_ms=200)
            pyqtguard.uninstall()
            pyqtguard.install(freeze_ms=200)
            QTimer.singleShot(50, app.quit)
        QTimer.singleShot(0, later)
        app.exec()
        QTimer.singleShot(50, lambda: time.sleep(0.8))
        QTimer.singleShot(1200, app.quit)
        app.exec()
        print("done", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.log.count("GUI freeze: the event loop has not turned for") == 1, result.describe()


# ---- uninstall() after another tool wrapped a hook --------------------------

def test_uninstall_under_a_tools_wrapper_reports_nothing_more(tmp_path):
    """sentry-sdk (or any tool) wraps sys.excepthook after install(): at
    uninstall() pyqtguard's hook stays inside the tool's, and must then act
    as the hook it replaced - Python's own here - not report any more."""
    result = run_app("""
        import sys, threading, pyqtguard
        pyqtguard.install()
        inner_sys, inner_thread = sys.excepthook, threading.excepthook
        def tool_sys(*a): print("tool saw", a[1], flush=True); inner_sys(*a)
        def tool_thread(a): print("tool saw", a.exc_value, flush=True); inner_thread(a)
        sys.excepthook, threading.excepthook = tool_sys, tool_thread
        pyqtguard.uninstall()
        assert sys.excepthook is tool_sys
        t = threading.Thread(target=lambda: 1/0, name="after-uninstall"); t.start(); t.join()
        try:
            raise KeyError("after uninstall")
        except KeyError:
            sys.excepthook(*sys.exc_info())
        pyqtguard.install()
        t = threading.Thread(target=lambda: 1/0, name="reinstalled"); t.start(); t.join()
        print("end", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.stdout.count("tool saw") == 3, result.describe()
    assert "after-uninstall" not in result.log and "after uninstall" not in result.log, \
        result.describe()
    # Python's own hooks printed them, as without pyqtguard
    assert "Exception in thread after-uninstall:" in result.stderr, result.describe()
    assert "KeyError: 'after uninstall'" in result.stderr, result.describe()
    assert "reinstalled" in result.log, result.describe()


# ---- fork() after install() -----------------------------------------------------

@pytest.mark.parametrize("child_ends", ["exit timeout", "crash"])
def test_forked_childs_end_is_not_the_parents_outcome(tmp_path, child_ends):
    """A child forked after install() writes to the parent's run log (one
    log for the app): its exit timeout or crash must not become the
    parent's outcome in `pyqtguard logs`."""
    result = run_app(f"""
        import os, sys, threading, time, ctypes, pyqtguard
        pyqtguard.install(exit_timeout=1)
        pid = os.fork()
        if pid == 0:
            if {child_ends!r} == "crash":
                ctypes.string_at(0)
            threading.Thread(target=time.sleep, args=(30,)).start()
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.stdout.split() == ["child", "124" if child_ends == "exit timeout" else "-11"]
    from pyqtguard.logs.summary import summarize
    run = summarize(result.logs[-1])
    assert run.pid != 0 and run.outcome == "clean", (run, result.describe())


def test_uninstall_install_in_a_slot_keeps_the_loop_watched(tmp_path):
    result = run_app("""
        import time, pyqtguard
        pyqtguard.install(freeze_ms=200)
        from PyQt6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication([])
        def cycle():
            pyqtguard.uninstall()
            pyqtguard.install(freeze_ms=200)
        QTimer.singleShot(50, cycle)
        QTimer.singleShot(200, lambda: time.sleep(0.8))
        QTimer.singleShot(1400, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.log.count("GUI freeze: the event loop has not turned for") == 1, result.describe()
    assert "shutdown began (the Qt event loop ended)" in result.log, result.describe()


def test_a_misspelt_option_names_install_and_its_options(tmp_path):
    # The TypeError named pyqtguard's internal make_config(), not the call
    # the app wrote, and did not say what the options are.
    result = run_app("""
        import pyqtguard
        try:
            pyqtguard.install(exit_timout=5)
        except TypeError as exc:
            print(exc)
        print("installed", pyqtguard.installer.installed_config() is not None)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    message, installed = result.stdout.splitlines()
    assert message.startswith("install() got an unexpected keyword argument 'exit_timout'")
    assert "exit_timeout" in message.split(";")[1] and "make_config" not in message
    assert installed == "installed False"


def test_a_misspelt_option_left_uncaught_shows_one_traceback(tmp_path):
    # Uncaught, the TypeError came chained to make_config()'s ("The above
    # exception was the direct cause..."): the first traceback a newcomer
    # read named pyqtguard's internal function, not the option list.
    result = run_app("""
        import pyqtguard
        pyqtguard.install(exit_timout=5)
    """, tmp_path)
    assert result.returncode == 1, result.describe()
    assert "make_config" not in result.stderr, result.describe()
    assert result.stderr.count("Traceback (most recent call last)") == 1, result.describe()
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("TypeError: install() got an unexpected keyword argument "
                           "'exit_timout'; its options: "), result.describe()
