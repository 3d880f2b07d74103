"""The pytest plugin (pyqtguard.pytest_plugin), run as real inner pytest
sessions in subprocesses: each check has an inner test that fails and one
that passes, and the plugin composes with pytest-qt, pytest-xdist and
pytest-timeout without changing what they do."""
from __future__ import annotations

import os
import re

import pytest

pytest_plugins = ["pytester"]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The inner sessions leave out hypothesis's plugin, which none of them uses:
# importing it took 0.7 of an inner pytest's 1.0 s start (session 21).
WITHOUT_HYPOTHESIS = " ".join(
    p for p in (os.environ.get("PYTEST_ADDOPTS", ""), "-p no:hypothesispytest") if p)


@pytest.fixture
def inner(pytester, tmp_path, monkeypatch):
    """Run an inner pytest session in a subprocess; its run logs go to tmp_path/logs."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("PYQTGUARD_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("PYQTGUARD_DISABLE", raising=False)
    for name in list(os.environ):          # this suite may itself run under xdist
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_CURRENT_TEST":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (REPO, os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("PYTEST_ADDOPTS", WITHOUT_HYPOTHESIS)

    def run(*args: str, timeout: float = 120):
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=timeout)

    run.logs = tmp_path / "logs"
    return run


def _logs_text(folder) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(folder.glob("*.log")))


# ---- activation ----------------------------------------------------------------

def test_inactive_the_plugin_changes_nothing_and_imports_nothing(pytester, inner):
    pytester.makepyfile(test_probe="""
        import sys, threading
        def test_probe():
            loaded = sorted(m for m in sys.modules if m.startswith("pyqtguard"))
            print("loaded:", loaded)
            print("hooks:", sys.excepthook.__module__, threading.excepthook.__module__)
            threading.Thread(target=__import__("time").sleep, args=(0.5,)).start()
    """)
    result = inner("-s")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    # the package and its fork note (a few lines: os.register_at_fork), nothing else
    assert "loaded: ['pyqtguard', 'pyqtguard._forknote', 'pyqtguard.pytest_plugin']" in out
    assert "_native" not in out.split("hooks:")[1].splitlines()[0]


@pytest.mark.parametrize("how", [["--pyqtguard"], ["-p", "pyqtguard"], ["ini"]])
def test_each_way_of_turning_it_on(pytester, inner, how):
    if how == ["ini"]:
        pytester.makeini("[pytest]\npyqtguard = true\n")
        how = []
    pytester.makepyfile(test_leak="""
        import threading, time
        def test_leaks():
            threading.Thread(target=time.sleep, args=(1.5,), name="stray").start()
    """)
    result = inner(*how, "--pyqtguard-leak-grace", "0")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*left running after the test's teardown:*",
                                 "*thread 'stray', started at *test_leak.py:3*"])


def test_an_app_thread_named_like_pyqtguard_s_own_is_still_a_leak(pytester, inner):
    # pyqtguard's own threads are skipped by their exact names, not by the
    # "pyqtguard-" prefix an app may use too.
    pytester.makepyfile(test_leak="""
        import threading, time
        def test_leaks():
            threading.Thread(target=time.sleep, args=(1.5,), name="pyqtguard-sync").start()
    """)
    result = inner("--pyqtguard", "--pyqtguard-leak-grace", "0")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*thread 'pyqtguard-sync', started at *test_leak.py:3*"])


def test_a_bad_option_value_is_a_usage_error(pytester, inner):
    pytester.makepyfile(test_x="def test_x(): pass\n")
    pytester.makeini("[pytest]\npyqtguard = true\npyqtguard_leaks = sometimes\n")
    result = inner()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pyqtguard_leaks must be one of fail, warn, off*"])


# ---- leaks -----------------------------------------------------------------------

def test_leaked_threads_qthreads_and_workers_fail_the_test_that_started_them(pytester, inner):
    pytester.makepyfile(test_leaks="""
        import threading, time
        import pytest
        from PyQt6.QtCore import QThread
        from PyQt6.QtWidgets import QApplication
        from pyqtguard import workers

        app = QApplication.instance() or QApplication([])
        kept = []

        class Busy(QThread):
            def run(self):
                self.msleep(1500)

        def test_python_thread():
            threading.Thread(target=time.sleep, args=(1.5,), name="poller").start()

        def test_qthread():
            t = Busy(); t.setObjectName("indexer"); t.start(); kept.append(t)

        def test_worker():
            def slow(state):
                while not state.cancelled:
                    time.sleep(0.01)
            w = workers.Worker(slow, name="cruncher"); w.start(); kept.append(w)

        def test_joined_thread_passes():
            t = threading.Thread(target=time.sleep, args=(0.01,)); t.start(); t.join()

        def test_a_thread_that_ends_soon_after_passes():
            threading.Thread(target=time.sleep, args=(0.2,)).start()

        @pytest.mark.pyqtguard(allow_threads=True)
        def test_allowed():
            threading.Thread(target=time.sleep, args=(1.5,), name="allowed").start()

        def test_zz_cleanup():
            for item in kept:
                if isinstance(item, workers.Worker):
                    item.cancel()
            for item in kept:
                if isinstance(item, QThread):
                    item.wait()
            time.sleep(1.6)
    """)
    result = inner("--pyqtguard", "--pyqtguard-leak-grace", "0.5")
    result.assert_outcomes(passed=7, errors=3)
    out = result.stdout.str()
    assert re.search(r"ERROR at teardown of test_python_thread.*?thread 'poller', started at "
                     r"\S*test_leaks.py:15", out, re.S), out
    assert re.search(r"ERROR at teardown of test_qthread.*?QThread 'indexer', started at "
                     r"\S*test_leaks.py:18", out, re.S), out
    assert re.search(r"ERROR at teardown of test_worker.*?worker 'cruncher', started at "
                     r"\S*test_leaks.py:24", out, re.S), out
    assert "allowed" not in out


def test_threads_of_session_module_and_class_scoped_fixtures_are_not_blamed_on_a_test(
        pytester, inner):
    # A server thread a session fixture (or unittest's setUpClass) starts and
    # stops at its own teardown is no leak of the first test that used it.
    pytester.makeconftest("""
        import threading, pytest

        @pytest.fixture(scope="session")
        def server():
            stop = threading.Event()
            t = threading.Thread(target=stop.wait, name="session-server"); t.start()
            yield
            stop.set(); t.join()
    """)
    pytester.makepyfile(test_scoped="""
        import threading, time, unittest
        import pytest

        @pytest.fixture(scope="module")
        def watcher():
            stop = threading.Event()
            t = threading.Thread(target=stop.wait, name="module-watcher"); t.start()
            yield
            stop.set(); t.join()

        def test_one(server, watcher):
            pass

        def test_two(server):
            pass

        def test_function_scoped_leak_is_still_caught(server):
            threading.Thread(target=time.sleep, args=(1.5,), name="stray").start()

        @pytest.fixture
        def leaky():
            threading.Thread(target=time.sleep, args=(1.5,), name="leaky-fixture").start()

        @pytest.fixture(scope="session")
        def late_session():
            yield

        def test_a_function_fixture_leak_before_a_session_fixture_is_caught(leaky, late_session):
            pass

        class TestWithClassServer(unittest.TestCase):
            @classmethod
            def setUpClass(cls):
                cls.stop = threading.Event()
                cls.t = threading.Thread(target=cls.stop.wait, name="class-server")
                cls.t.start()

            @classmethod
            def tearDownClass(cls):
                cls.stop.set(); cls.t.join()

            def test_a(self):
                pass

            def test_b(self):
                pass
    """)
    result = inner("--pyqtguard", "--pyqtguard-leak-grace", "0.2")
    result.assert_outcomes(passed=6, errors=2)
    out = result.stdout.str()
    assert "ERROR at teardown of test_function_scoped_leak_is_still_caught" in out, out
    assert "thread 'leaky-fixture'" in out, out
    for name in ("session-server", "module-watcher", "class-server"):
        assert name not in out, out


SESSION_EXECUTOR = """
    import concurrent.futures, pytest

    @pytest.fixture(scope="session")
    def executor():
        with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="pool") as ex:
            yield ex
"""


def test_idle_workers_of_a_session_thread_pool_executor_are_no_leak(pytester, inner):
    pytester.makeconftest(SESSION_EXECUTOR)
    pytester.makepyfile(test_pool="""
        def test_submits(executor):
            assert executor.submit(lambda: 1).result() == 1

        def test_later():               # the session's fixtures end after this one
            pass
    """)
    result = inner("--pyqtguard", "--pyqtguard-leak-grace", "0.2")
    result.assert_outcomes(passed=2)


def test_a_pool_worker_still_running_the_tests_task_is_a_leak(pytester, inner):
    """Only an idle executor thread is excused: one still running a task the
    test submitted is reported, with the task's pool thread named."""
    pytester.makeconftest(SESSION_EXECUTOR)
    pytester.makepyfile(test_pool="""
        import threading
        release = threading.Event()

        def test_leaves_a_task_running(executor):
            executor.submit(release.wait, 10)

        def test_later():
            release.set()
    """)
    result = inner("--pyqtguard", "--pyqtguard-leak-grace", "0.2")
    result.assert_outcomes(passed=2, errors=1)
    out = result.stdout.str()
    assert "ERROR at teardown of test_leaves_a_task_running" in out, out
    assert "thread 'pool_0'" in out, out


def test_an_unshut_executor_the_test_dropped_is_no_leak(pytester, inner):
    """A test that drops its executor without shutdown(): the idle workers
    end once the executor is collected, within the grace period."""
    pytester.makepyfile(test_pool="""
        import concurrent.futures

        def test_forgets_shutdown():
            ex = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="dropped")
            assert ex.submit(sum, [1, 2]).result() == 3
    """)
    result = inner("--pyqtguard", "--pyqtguard-leak-grace", "0.5")
    result.assert_outcomes(passed=1)


def test_threads_a_library_starts_for_a_session_object_on_first_use_are_no_leak(
        pytester, inner):
    """A session fixture's ProcessPoolExecutor starts its manager thread, and a
    multiprocessing.Queue its feeder thread, at first use - inside the first
    test that submits or puts.  Idle, they belong to the fixture's object (its
    teardown ends them), not to that test; a manager thread still waiting for
    a task the test submitted (its first use here) is that test's leak."""
    pytester.makeconftest("""
        import concurrent.futures, multiprocessing, pytest

        @pytest.fixture(scope="session")
        def processes():
            with concurrent.futures.ProcessPoolExecutor(1) as ex:
                yield ex

        @pytest.fixture(scope="session")
        def queue():
            q = multiprocessing.Queue()
            yield q
            q.close(); q.join_thread()
    """)
    pytester.makepyfile(test_lib="""
        import time

        def test_leaves_a_task_running(processes):
            processes.submit(time.sleep, 2)

        def test_submits(processes):
            assert processes.submit(abs, -3).result() == 3

        def test_puts(queue):
            queue.put(1)
            assert queue.get(timeout=10) == 1

        def test_later():
            pass
    """)
    result = inner("--pyqtguard", "--pyqtguard-leak-grace", "0.5")
    result.assert_outcomes(passed=4, errors=1)
    out = result.stdout.str()
    assert "ERROR at teardown of test_leaves_a_task_running" in out, out
    assert "QueueFeederThread" not in out, out


def test_warn_mode_warns_and_passes(pytester, inner):
    pytester.makepyfile(test_leak="""
        import threading, time
        def test_leaks():
            threading.Thread(target=time.sleep, args=(1.0,), name="stray").start()
    """)
    result = inner("--pyqtguard", "--pyqtguard-leaks", "warn", "--pyqtguard-leak-grace", "0")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*PyqtguardWarning: pyqtguard: left running after the test's "
                                 "teardown:*", "*thread 'stray', started at *test_leak.py:3*"])


def test_leaked_top_level_widgets_fail_with_widgets_on(pytester, inner):
    pytester.makepyfile(test_widgets="""
        from PyQt6.QtWidgets import QApplication, QDialog, QLabel
        app = QApplication.instance() or QApplication([])
        kept = []

        def test_leaves_a_dialog():
            d = QDialog(); d.setObjectName("settingsDialog"); d.show(); kept.append(d)

        def test_closes_and_deletes_later():
            label = QLabel("temporary"); label.show(); label.close(); label.deleteLater()
            kept.append(label)

        def test_a_widget_only_the_test_held():
            label = QLabel("local"); label.show()
    """)
    result = inner("--pyqtguard", "--pyqtguard-widgets")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaves_a_dialog*",
                                 "*top-level widgets left alive*",
                                 "*widget QDialog objectName='settingsDialog' (still shown)*"])
    assert "QLabel" not in result.stdout.str()


def test_a_widget_a_function_fixture_made_is_no_leak_once_the_fixture_ended(
        pytester, inner):
    """pytest keeps a function fixture's value in ``item.funcargs`` until the
    teardown is reported: a widget the fixture made (closed in its teardown,
    or simply returned) is gone right after, as a widget the test body made.
    One the fixture also put somewhere that outlives the test is a leak."""
    pytester.makepyfile(test_widgets="""
        import pytest
        from PyQt6.QtWidgets import QApplication, QWidget
        kept = []

        @pytest.fixture
        def shown(qapp):
            w = QWidget(); w.setObjectName("shown"); w.show()
            yield w
            w.close()

        @pytest.fixture
        def returned(qapp):
            w = QWidget(); w.setObjectName("returned")
            return w

        @pytest.fixture
        def stored(qapp):
            w = QWidget(); w.setObjectName("stored"); kept.append(w)
            return w

        def test_shown(shown):
            assert shown.isVisible()

        def test_returned(returned):
            pass

        def test_stored(stored):
            pass

        def test_after():
            names = [w.objectName() for w in QApplication.topLevelWidgets()]
            assert names == ["stored"], names
    """)
    result = inner("--pyqtguard", "--pyqtguard-widgets")
    result.assert_outcomes(passed=4, errors=1)
    out = result.stdout.str()
    assert "ERROR at teardown of test_stored" in out, out
    assert "objectName='stored'" in out, out
    assert "'shown'" not in out and "'returned'" not in out, out


# ---- exceptions ----------------------------------------------------------------------

def test_a_flood_of_thread_exceptions_fails_with_the_first_ten_and_a_count(pytester, inner):
    # 300 threads raising in one test made a failure of 300 tracebacks (5.5
    # MB for 3,000): the first ten are shown, the rest counted, the run log
    # named (it has every one).
    pytester.makepyfile(test_flood="""
        import threading

        def fail(n):
            raise ValueError(f"row {n} is bad")

        def test_flood():
            threads = [threading.Thread(target=fail, args=(n,), name=f"loader-{n}")
                       for n in range(300)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    """)
    result = inner("--pyqtguard", "-p", "no:pytest-qt", "-p", "no:threadexception",
                   "-p", "no:logging")
    result.assert_outcomes(failed=1)
    # The failure itself, not the summary's one-line excerpt of it (cut to
    # the terminal's width).
    out = result.stdout.str().split("short test summary info")[0]
    assert out.count("uncaught exception in thread 'loader-") == 10, out[-3000:]
    assert "and 290 more uncaught exceptions in this test" in out, out[-3000:]
    assert "row 299 is bad" not in out
    assert "row 299 is bad" in _logs_text(inner.logs)


def test_exceptions_from_threads_slots_and_del_fail_the_test(pytester, inner):
    pytester.makepyfile(test_exc="""
        import threading
        from PyQt6.QtCore import QObject, QTimer, QEventLoop
        from PyQt6.QtWidgets import QApplication
        app = QApplication.instance() or QApplication([])

        def test_thread():
            t = threading.Thread(target=lambda: 1 / 0, name="loader-2"); t.start(); t.join()

        def test_slot():
            loop = QEventLoop()
            def slot():
                raise KeyError("from-a-slot")
            QTimer.singleShot(0, slot)
            QTimer.singleShot(50, loop.quit)
            loop.exec()

        def test_del():
            class Handle:
                def __del__(self):
                    raise OSError("close failed")
            Handle()

        def test_clean():
            t = threading.Thread(target=lambda: None); t.start(); t.join()
    """)
    result = inner("--pyqtguard", "-p", "no:pytest-qt")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines([
        "*_ test_thread _*", "*uncaught exception in thread 'loader-2' [[]threading.excepthook[]]*",
        "*ZeroDivisionError*"])
    result.stdout.fnmatch_lines(["*_ test_slot _*", "*KeyError: 'from-a-slot'*"])
    result.stdout.fnmatch_lines(["*_ test_del _*", "*[[]sys.unraisablehook[]]*",
                                 "*OSError: close failed*"])


def test_an_exception_from_a_thread_an_earlier_test_left_names_that_test(pytester, inner):
    """The running test fails (the exception happened during it), and the
    failure says the thread is not its own: which test left it, started where."""
    pytester.makepyfile(test_late="""
        import threading, time
        import pytest

        @pytest.mark.pyqtguard(allow_threads=True)
        def test_starts_it():
            def later():
                time.sleep(0.5)
                raise ValueError("late")
            threading.Thread(target=later, name="latecomer").start()

        def test_runs_meanwhile():
            time.sleep(1.0)
    """)
    result = inner("--pyqtguard")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert re.search(r"uncaught exception in thread 'latecomer' \[threading.excepthook\] \(a "
                     r"thread left running by test_late.py::test_starts_it, started at "
                     r"\S*test_late.py:9\):", out), out


def test_with_pytest_qt_capturing_a_slot_exception_fails_once(pytester, inner):
    pytester.makepyfile(test_qt="""
        import pytest
        from PyQt6.QtCore import QTimer

        def test_slot(qtbot):
            def slot():
                raise KeyError("from-a-slot")
            QTimer.singleShot(0, slot)
            qtbot.wait(50)

        @pytest.mark.qt_no_exception_capture
        def test_slot_uncaptured(qtbot):
            def slot():
                raise KeyError("uncaptured")
            QTimer.singleShot(0, slot)
            qtbot.wait(50)
    """)
    result = inner("--pyqtguard")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    # pytest-qt reports the first (its capture), pyqtguard the second: once each.
    assert out.count("KeyError: 'from-a-slot'") >= 1
    assert "pyqtguard: uncaught exception" not in out.split("_ test_slot_uncaptured _")[0]
    assert "pyqtguard: uncaught exception" in out.split("_ test_slot_uncaptured _")[1]


# ---- freezes ----------------------------------------------------------------------------

def test_a_blocking_slot_inside_an_event_loop_fails_with_its_stack(pytester, inner):
    pytester.makepyfile(test_freeze="""
        import time
        import pytest
        from PyQt6.QtCore import QTimer, QEventLoop
        from PyQt6.QtWidgets import QApplication
        app = QApplication.instance() or QApplication([])

        def run_loop(slot, ms):
            loop = QEventLoop()
            QTimer.singleShot(0, slot)
            QTimer.singleShot(ms, loop.quit)
            loop.exec()

        def parse_everything():
            time.sleep(0.8)

        def test_blocking_slot():
            run_loop(parse_everything, 100)

        def test_quick_slot():
            run_loop(lambda: None, 100)

        def test_blocking_outside_a_loop_is_no_freeze():
            time.sleep(0.8)

        @pytest.mark.pyqtguard(freeze_ms=0)
        def test_budget_off():
            run_loop(parse_everything, 100)
    """)
    result = inner("--pyqtguard", "--pyqtguard-freeze-ms", "300")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*_ test_blocking_slot _*", "*GUI freeze: the event loop did "
                                 "not turn for * ms (budget 300 ms)*",
                                 "*in parse_everything*"])


def test_a_freeze_inside_the_applications_exec_fails_even_after_an_uninstall(pytester, inner):
    # qapp.exec() is QApplication.exec, not QCoreApplication.exec; and a test
    # that uninstalls pyqtguard (which unwraps the application's exec) must
    # not turn the freeze check off for the tests after it.
    pytester.makepyfile(test_app_freeze="""
        import time
        import pyqtguard
        from PyQt6.QtCore import QTimer

        def run_app(qapp):
            QTimer.singleShot(0, lambda: time.sleep(0.8))
            QTimer.singleShot(900, qapp.quit)
            qapp.exec()

        def test_1_app_exec(qapp):
            run_app(qapp)

        def test_2_uninstalls(qapp):
            pyqtguard.uninstall()

        def test_3_app_exec_again(qapp):
            run_app(qapp)
    """)
    result = inner("--pyqtguard", "--pyqtguard-freeze-ms", "300")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*_ test_1_app_exec _*", "*GUI freeze*"])
    result.stdout.fnmatch_lines(["*_ test_3_app_exec_again _*", "*GUI freeze*"])


# ---- crashes --------------------------------------------------------------------------

def test_a_crash_names_the_test_and_phase_in_the_report_and_on_the_terminal(pytester, inner):
    pytester.makepyfile(test_crash="""
        import ctypes, threading
        import pytest

        def test_fine():
            pass

        @pytest.fixture
        def broken_codec():
            yield
            ctypes.string_at(0)

        def test_segfault_in_teardown(broken_codec):
            pass
    """)
    result = inner("--pyqtguard")
    assert result.ret in (-11, 139), result.stdout.str()
    out = result.stdout.str() + result.stderr.str()
    assert re.search(r"pyqtguard: crashed during pytest: test test_crash.py::"
                     r"test_segfault_in_teardown \(teardown\); report in \S+\.log", out), out
    # pytest's own faulthandler plugin still dumps the stacks on the terminal.
    assert "Fatal Python error: Segmentation fault" in out, out
    log = _logs_text(inner.logs)
    assert "=== pyqtguard crash report ===" in log
    assert "context: pytest: test test_crash.py::test_segfault_in_teardown (teardown)" in log


INNER_RUNS = '''
    import pytest
    pytest_plugins = ["pytester"]

    @pytest.mark.pyqtguard(allow_exceptions=True)
    def test_runs_a_guarded_suite_in_process_twice(pytester):
        pytester.makepyfile(test_inner="""
            import threading
            def test_x():
                t = threading.Thread(target=lambda: 1 / 0, name="inner-raiser")
                t.start(); t.join()
        """)
        for _ in range(2):
            pytester.runpytest("--pyqtguard", "-p", "no:cacheprovider").assert_outcomes(failed=1)
'''


@pytest.mark.parametrize("outer", [[], ["--pyqtguard"]])
def test_a_guarded_pytest_run_in_process_twice_fails_both_times(pytester, inner, outer):
    """pytester's in-process runs: the modules a run imported are dropped after
    it; the next run's must not start from half of pyqtguard (a second
    session that missed its thread exceptions)."""
    pytester.makepyfile(test_outer=INNER_RUNS)
    result = inner(*outer)
    result.assert_outcomes(passed=1)


def test_a_crash_after_an_in_process_guarded_run_is_still_named_on_the_terminal(
        pytester, inner):
    """An inner session's end must not take the outer session's crash notice."""
    pytester.makepyfile(test_outer=INNER_RUNS + '''
    def test_crashes():
        import ctypes
        ctypes.string_at(0)
''')
    result = inner("--pyqtguard")
    assert result.ret in (-11, 139), result.stdout.str()
    out = result.stdout.str() + result.stderr.str()
    assert re.search(r"pyqtguard: crashed during pytest: test test_outer.py::test_crashes "
                     r"\(call\); report in \S+\.log", out), out


def test_with_xdist_the_report_names_the_worker_and_the_test(pytester, inner):
    pytester.makepyfile(test_many="""
        import ctypes, os, pytest
        @pytest.mark.parametrize("n", range(4))
        def test_n(n):
            if n == 2:
                ctypes.string_at(0)
    """)
    result = inner("--pyqtguard", "-n", "2")
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*crashed while running*test_n[[]2[]]*"])  # xdist's own line
    log = _logs_text(inner.logs)
    assert re.search(r"context: pytest: test test_many.py::test_n\[2\] \(call\) "
                     r"\[pytest-xdist worker gw\d\]", log), out + log


# ---- hang at exit ---------------------------------------------------------------------------

def test_a_thread_that_would_hang_the_exit_is_named_and_the_run_ends_124(pytester, inner):
    pytester.makepyfile(test_hang="""
        import threading
        forever = threading.Event()
        def test_starts_a_listener():
            threading.Thread(target=forever.wait, name="listener").start()
        def test_other():
            pass
    """)
    result = inner("--pyqtguard", "--pyqtguard-leaks", "warn", "--pyqtguard-leak-grace", "0",
                   "--pyqtguard-exit-timeout", "2", timeout=60)
    assert result.ret == 124, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines([
        "*1 thread(s) still alive at the end of the session will keep the process from "
        "ending (exit timeout: 2 s):*",
        "*'listener' started at *test_hang.py:4, left by test_hang.py::test_starts_a_listener*"])
    assert "exit timeout" in _logs_text(inner.logs)


@pytest.mark.parametrize("how", ["marker", "leaks off"])
def test_a_thread_a_test_may_leave_still_names_that_test_at_the_end(pytester, inner, how):
    # With the leak check off for the test (allow_threads=True, or
    # --pyqtguard-leaks off) the session's end listed the thread without
    # "left by": docs/pytest.md says each comes with the test that left it.
    marker = "@pytest.mark.pyqtguard(allow_threads=True)" if how == "marker" else ""
    pytester.makepyfile(test_hang=f"""
        import threading
        import pytest
        forever = threading.Event()
        {marker}
        def test_starts_a_listener():
            threading.Thread(target=forever.wait, name="listener").start()
    """)
    options = ["--pyqtguard-leaks", "off"] if how == "leaks off" else []
    result = inner("--pyqtguard", *options, "--pyqtguard-exit-timeout", "2", timeout=60)
    assert result.ret == 124, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        ["*'listener' started at *test_hang.py:*, left by test_hang.py::test_starts_a_listener*"])


def test_a_suite_that_installs_pyqtguard_in_its_conftest_still_fails_thread_exceptions(
        pytester, inner):
    # The conftest's install() runs before pytest's own threading.excepthook
    # goes in (which does not chain): the plugin must still see them, without
    # the app's repeat counting, and keep its own exit timeout.
    pytester.makeconftest("""
        import pyqtguard
        pyqtguard.install(app_name="myapp")
    """)
    pytester.makepyfile(test_conftest_install="""
        import threading
        def boom():
            1 / 0
        def test_1():
            t = threading.Thread(target=boom, name="t1"); t.start(); t.join()
        def test_2():
            t = threading.Thread(target=boom, name="t2"); t.start(); t.join()
        def test_3_listener():
            threading.Thread(target=threading.Event().wait, name="listener").start()
    """)
    result = inner("--pyqtguard", "--pyqtguard-leaks", "warn", "--pyqtguard-exit-timeout", "2",
                   "-p", "no:warnings", timeout=60)
    out = result.stdout.str()
    assert result.ret == 124, out + result.stderr.str()
    assert "uncaught exception in thread 't1'" in out, out
    assert "uncaught exception in thread 't2'" in out, out
    result.stdout.fnmatch_lines(["*FAILED*test_1*", "*FAILED*test_2*"])


def test_a_suite_that_installs_and_uninstalls_pyqtguard_per_test_keeps_every_check(
        pytester, inner):
    pytester.makeconftest("""
        import pytest, pyqtguard

        @pytest.fixture(autouse=True)
        def guarded():
            pyqtguard.install(app_name="myapp")
            yield
            pyqtguard.uninstall()
    """)
    pytester.makepyfile(test_per_test_install="""
        import threading
        def boom():
            1 / 0
        def test_1():
            t = threading.Thread(target=boom, name="t1"); t.start(); t.join()
        def test_2():
            t = threading.Thread(target=boom, name="t2"); t.start(); t.join()
        def test_3():
            t = threading.Thread(target=boom, name="t3"); t.start(); t.join()
        def test_4_listener():
            threading.Thread(target=threading.Event().wait, name="listener").start()
    """)
    result = inner("--pyqtguard", "--pyqtguard-leaks", "warn", "--pyqtguard-exit-timeout", "2",
                   "-p", "no:warnings", timeout=60)
    out = result.stdout.str()
    # Every exception fails its test (no repeat counting), and the last
    # uninstall() does not take the bounded exit away: 124, not a hang.
    assert result.ret == 124, out + result.stderr.str()
    result.stdout.fnmatch_lines(["*FAILED*test_1*", "*FAILED*test_2*", "*FAILED*test_3*"])


# ---- lint ---------------------------------------------------------------------------------

def test_check_reports_findings_as_one_failing_item(pytester, inner):
    pytester.makepyfile(test_app="""
        import sys
        from PyQt6.QtWidgets import QApplication
        app = QApplication(sys.argv)
        def test_x():
            pass
    """)
    result = inner("--pyqtguard", "--pyqtguard-check")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*pyqtguard check: code that re-runs in spawn/forkserver*",
                                 "*test_app.py:3:*PQG001*"])


def test_check_passes_on_clean_code(pytester, inner):
    pytester.makepyfile(test_ok="def test_x():\n    pass\n")
    result = inner("--pyqtguard", "--pyqtguard-check")
    result.assert_outcomes(passed=2)


# ---- composition -----------------------------------------------------------------------

def test_pytest_timeout_still_times_out_a_test(pytester, inner):
    pytester.makepyfile(test_slow="""
        import time
        def test_slow():
            time.sleep(5)
    """)
    result = inner("--pyqtguard", "--timeout", "1", "--timeout-method", "thread", timeout=60)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*+ Timeout +*", "*in test_slow*"])


# ---- widgets used outside the GUI thread -------------------------------------------

WRONG_THREAD_TESTS = """
    import threading
    from PyQt6 import QtWidgets

    def helper_that_updates(label):
        label.setText("done")                  # the bug, shared by two tests

    def test_worker_updates_a_label(qapp):
        label = QtWidgets.QLabel()
        worker = threading.Thread(target=helper_that_updates, args=(label,), name="fetcher")
        worker.start()
        worker.join()

    def test_same_line_again(qapp):
        label = QtWidgets.QLabel()
        worker = threading.Thread(target=helper_that_updates, args=(label,))
        worker.start()
        worker.join()

    def test_gui_thread_is_fine(qapp):
        QtWidgets.QLabel().setText("fine")
"""

QAPP_FIXTURE = """
    import pytest
    from PyQt6 import QtWidgets

    @pytest.fixture(scope="session")
    def qapp():
        return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
"""


def test_a_widget_used_from_a_worker_thread_fails_each_test_that_does_it(pytester, inner):
    pytester.makeconftest(QAPP_FIXTURE)
    pytester.makepyfile(test_widgets=WRONG_THREAD_TESTS)
    result = inner("--pyqtguard", "--pyqtguard-check-threads", "fail")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*pyqtguard: Qt widget used outside the GUI thread: QLabel.setText() called in "
        "thread 'fetcher'*", "*test_widgets.py*line 5, in helper_that_updates*"])


def test_widgets_used_from_workers_warn_or_pass_unchecked(pytester, inner):
    pytester.makeconftest(QAPP_FIXTURE)
    pytester.makepyfile(test_widgets=WRONG_THREAD_TESTS)
    result = inner("--pyqtguard", "--pyqtguard-check-threads", "warn")
    result.assert_outcomes(passed=3, warnings=2)
    result = inner("--pyqtguard")                     # off by default
    result.assert_outcomes(passed=3)
    pytester.makeini("[pytest]\npyqtguard = true\npyqtguard_check_threads = fail\n")
    inner().assert_outcomes(passed=1, failed=2)
