"""The exception hooks' contract: chaining, uninstall, callbacks, logging,
re-entry, finalization and a missing stderr."""
from __future__ import annotations


import re

import pytest

from apprunner import run_app


def test_chains_to_users_earlier_hooks(tmp_path):
    result = run_app("""
        import sys, threading
        seen = []
        sys.excepthook = lambda *a: print("user sys hook:", a[1], flush=True)
        threading.excepthook = lambda a: print("user thread hook:", a.exc_value, flush=True)
        sys.unraisablehook = lambda a: print("user unraisable hook:", a.exc_value, flush=True)
        import pyqtguard; pyqtguard.install()
        t = threading.Thread(target=lambda: 1/0); t.start(); t.join()
        class D:
            def __del__(self): raise KeyError("gone")
        D()
        raise ValueError("top level")
    """, tmp_path)
    assert result.returncode == 1
    assert "user thread hook: division by zero" in result.stdout
    assert "user unraisable hook: 'gone'" in result.stdout
    assert "user sys hook: top level" in result.stdout
    for text in ("ZeroDivisionError", "KeyError: 'gone'", "ValueError: top level"):
        assert text in result.log, result.describe()


def test_install_is_idempotent_and_uninstall_restores_exactly(tmp_path):
    result = run_app("""
        import sys, threading
        def mine(*a): pass
        sys.excepthook = mine
        before = (sys.excepthook, threading.excepthook, sys.unraisablehook)
        import pyqtguard
        first = pyqtguard.install()
        assert pyqtguard.install() is first
        assert sys.excepthook is not mine
        pyqtguard.uninstall()
        after = (sys.excepthook, threading.excepthook, sys.unraisablehook)
        assert after == before, (after, before)
        assert sys.excepthook is mine
        assert threading.excepthook is threading.__excepthook__
        assert sys.unraisablehook is sys.__unraisablehook__
        pyqtguard.uninstall()  # a second uninstall is a no-op
        pyqtguard.install()
        assert sys.excepthook is not mine
        print("ok", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "ok" in result.stdout


def test_callback_gets_one_record_type_for_all_sources(tmp_path):
    result = run_app("""
        import sys, threading
        import pyqtguard
        pyqtguard.install()
        records = []
        pyqtguard.on_exception(records.append)
        t = threading.Thread(target=lambda: 1/0, name="calc"); t.start(); t.join()
        class D:
            def __del__(self): raise KeyError("gone")
        D()
        sys.excepthook(ValueError, ValueError("direct"), None)
        for r in records:
            assert isinstance(r, pyqtguard.ExceptionRecord)
            print(r.source, r.exc_type.__name__, r.thread_name, r.native_id > 0,
                  r.exc_traceback is not None, flush=True)
        assert records[0].thread is not None and records[0].thread.name == "calc"
        assert "ZeroDivisionError" in records[0].traceback_text
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    lines = result.stdout.splitlines()
    assert lines == [
        "threading.excepthook ZeroDivisionError calc True True",
        "sys.unraisablehook KeyError MainThread True True",
        "sys.excepthook ValueError MainThread True False",
    ], result.describe()


def test_callbacks_run_in_the_gui_thread_when_qt_runs(tmp_path):
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install()
        from PyQt6.QtCore import QCoreApplication, QThread, QTimer
        app = QCoreApplication([])
        gui = QThread.currentThread()
        def callback(record):
            print("callback in GUI thread:", QThread.currentThread() is gui,
                  record.exc_value, flush=True)
        pyqtguard.on_exception(callback)
        def fail():
            raise RuntimeError("from worker")
        QTimer.singleShot(0, lambda: threading.Thread(target=fail).start())
        QTimer.singleShot(500, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "callback in GUI thread: True from worker" in result.stdout, result.describe()


def test_callback_that_raises_is_logged_and_ignored(tmp_path):
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install()
        def bad(record):
            raise RuntimeError("callback broke")
        def good(record):
            print("good callback ran", flush=True)
        pyqtguard.on_exception(bad)
        pyqtguard.on_exception(good)
        sys.excepthook(ValueError, ValueError("original"), None)
        print("app continues", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "good callback ran" in result.stdout
    assert "app continues" in result.stdout
    assert "ValueError: original" in result.log
    assert "callback broke" in result.log
    assert result.log.count("ValueError: original") == 1  # no recursion


def test_raising_log_handler_does_not_recurse(tmp_path):
    result = run_app("""
        import logging, sys
        import pyqtguard
        pyqtguard.install()
        class Broken(logging.Handler):
            def emit(self, record):
                raise RuntimeError("handler broke")
            def handleError(self, record):
                raise  # re-raise instead of printing: the worst case
        logging.getLogger("pyqtguard").addHandler(Broken())
        sys.excepthook(ValueError, ValueError("original"), None)
        print("app continues", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "app continues" in result.stdout
    assert result.log.count("ValueError: original") == 1


def test_reentrant_hook_falls_back_without_recursion(tmp_path):
    """A callback that itself triggers the hook gets a C-formatted report."""
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install()
        calls = []
        def nested(record):
            calls.append(record)
            if len(calls) == 1:
                sys.excepthook(KeyError, KeyError("nested"), None)
        pyqtguard.on_exception(nested)
        sys.excepthook(ValueError, ValueError("outer"), None)
        print("calls", len(calls), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "ValueError: outer" in result.log
    assert "KeyError: 'nested'" in result.log


def test_records_reach_the_pyqtguard_logger(tmp_path):
    result = run_app("""
        import logging, sys
        logging.basicConfig(stream=sys.stdout, format="LOG %(name)s %(levelname)s %(message)s")
        import pyqtguard
        pyqtguard.install(stderr=False)
        sys.excepthook(ValueError, ValueError("to logging"), None)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "LOG pyqtguard ERROR uncaught exception in thread 'MainThread'" in result.stdout
    assert "ValueError: to logging" in result.stdout
    assert result.stderr == ""  # stderr=False: the report goes to the log only


def test_no_duplicate_stderr_from_unconfigured_logging(tmp_path):
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install()
        sys.excepthook(ValueError, ValueError("once"), None)
    """, tmp_path)
    assert result.stderr.count("ValueError: once") == 1, result.describe()


def test_works_when_stderr_is_none(tmp_path):
    result = run_app("""
        import sys, threading
        sys.stderr = None   # a windowed / frozen app
        import pyqtguard
        pyqtguard.install()
        t = threading.Thread(target=lambda: 1/0, name="bg"); t.start(); t.join()
        from PyQt6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication([])
        QTimer.singleShot(0, lambda: [][1])
        QTimer.singleShot(200, app.quit)
        app.exec()
        print("alive", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "alive" in result.stdout
    assert "ZeroDivisionError" in result.log
    assert "IndexError: list index out of range" in result.log
    assert result.stderr == ""


def test_exception_during_finalization_is_logged(tmp_path):
    """__del__ of a module global runs while modules are torn down."""
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        class Closer:
            def __del__(self):
                raise RuntimeError("raised during finalization")
        keep = Closer()
        cycle = [Closer()]
        cycle.append(cycle)
        print("main done", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.log.count("raised during finalization") >= 1, result.describe()
    assert "RuntimeError" in result.log


def test_chained_exceptions_are_complete(tmp_path):
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        def load():
            try:
                open("/nonexistent/settings.ini")
            except OSError as exc:
                raise RuntimeError("settings could not be loaded") from exc
        load()
    """, tmp_path)
    assert result.returncode == 1
    log = result.log
    assert "FileNotFoundError" in log
    assert "The above exception was the direct cause" in log
    assert "RuntimeError: settings could not be loaded" in log


def test_no_argument_values_or_environment_in_the_log(tmp_path):
    result = run_app("""
        import os, sys
        import pyqtguard
        pyqtguard.install()
        def login(password):
            raise PermissionError("denied")
        login(sys.argv[2] + os.environ["API_KEY"])
    """, tmp_path, args=["--token", "argv-secret"], env={"API_KEY": "env-secret"})
    log = result.log
    assert "PermissionError: denied" in log
    for secret in ("argv-secret", "env-secret"):
        assert secret not in log, secret


def test_import_does_not_import_pyqt_and_attaches_later(tmp_path):
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install()
        assert "PyQt6" not in sys.modules and "PyQt6.QtCore" not in sys.modules
        from pyqtguard import qt as _qtattach
        seen = []
        _qtattach.when_qt_imported(lambda qtcore: seen.append(qtcore.__name__))
        assert seen == []
        from PyQt6 import QtCore
        assert seen == ["PyQt6.QtCore"], seen
        # The import hook leaves the module's real loader in place.
        assert type(QtCore.__spec__.loader).__name__ == "ExtensionFileLoader", QtCore.__spec__.loader
        assert QtCore.__loader__ is QtCore.__spec__.loader
        _qtattach.when_qt_imported(lambda qtcore: seen.append("now"))
        assert seen[-1] == "now"
        print("ok", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "ok" in result.stdout


def test_report_helpers_are_imported_at_the_first_exception_only(tmp_path):
    # An app that raises nothing does not pay for the report formatting
    # module; the first exception imports it and gets the full report.
    result = run_app("""
        import sys, threading
        import pyqtguard
        pyqtguard.install()
        print("before:", "pyqtguard.exceptions.delivery" in sys.modules, flush=True)
        def fail():
            raise KeyError("first-one")
        t = threading.Thread(target=fail, name="first-failer")
        t.start(); t.join()
        print("after:", "pyqtguard.exceptions.delivery" in sys.modules, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "before: False" in result.stdout
    assert "after: True" in result.stdout
    log = result.log
    assert "first-failer" in log and "KeyError: 'first-one'" in log
    assert 'in fail' in log


@pytest.mark.parametrize("kwargs, error", [
    ({"keep_logs": 0}, ValueError),
    ({"keep_logs": -3}, ValueError),
    ({"keep_logs": "20"}, TypeError),
    ({"log_dir": 42}, TypeError),
    ({"app_name": 3}, TypeError),
    ({"app_name": "  "}, ValueError),
    ({"exit_timeout": -1}, ValueError),
    ({"exit_timeout": "10"}, TypeError),
    ({"freeze_ms": -5}, ValueError),
    ({"freeze_ms": 1.5}, TypeError),
    ({"freeze_ms": 10}, ValueError),          # below the heartbeat's period
    ({"stderr": "yes"}, TypeError),
    ({"repeat_interval": -1}, ValueError),
    ({"repeat_interval": float("nan")}, ValueError),
    ({"repeat_interval": "60"}, TypeError),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, error):
    import pyqtguard

    with pytest.raises(error, match=next(iter(kwargs))):
        pyqtguard.install(**kwargs)


def test_on_exception_rejects_non_callable():
    import pyqtguard

    with pytest.raises(TypeError, match="callback"):
        pyqtguard.on_exception("not callable")  # type: ignore[arg-type]
    assert pyqtguard.remove_exception_callback(print) is False


def test_disable_env_turns_everything_off(tmp_path):
    result = run_app("""
        import sys
        import pyqtguard
        assert pyqtguard.install() is None
        assert sys.excepthook is sys.__excepthook__
        print("disabled", flush=True)
    """, tmp_path, env={"PYQTGUARD_DISABLE": "1"})
    assert result.returncode == 0, result.describe()
    assert result.logs == []


def test_c_fallback_formatter_writes_the_whole_chain(tmp_path):
    """With no Python helpers (as when finalization cleared them), the C
    formatter still writes every frame and the chained causes."""
    result = run_app("""
        import sys
        import pyqtguard
        from pyqtguard import _native
        pyqtguard.install()
        _native.configure_hooks(None, None, None)
        def inner():
            raise KeyError("root cause")
        def outer():
            try:
                inner()
            except KeyError as exc:
                raise RuntimeError("wrapped") from exc
        try:
            outer()
        except RuntimeError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        print("alive", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    root = log.index("KeyError: 'root cause'")
    cause = log.index("The above exception was the direct cause")
    wrapped = log.index("RuntimeError: wrapped")
    assert root < cause < wrapped, log
    assert ", in inner" in log and ", in outer" in log
    assert "thread 'MainThread'" in log  # name from the C thread table


def test_threads_failing_at_once_are_all_reported(tmp_path):
    """PyQt6 guards sys.excepthook with one process-wide recursion flag: an
    exception raised in another thread while the hook runs is dropped
    without a word (4 QThreads failing at once gave 1 report).  pyqtguard's
    hook only takes the exception, keeping the GIL, and a reporter thread
    writes the reports; logging leaves no _DummyThread behind."""
    result = run_app("""
        import logging, threading
        import pyqtguard
        pyqtguard.install()
        logging.basicConfig()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        go = threading.Event()
        ERRORS = {"a": KeyError, "b": ValueError, "c": TypeError, "d": LookupError}
        class Failing(QtCore.QThread):
            def run(self):
                go.wait()
                raise ERRORS[self.objectName()](self.objectName())
        threads = []
        for name in ERRORS:
            thread = Failing()
            thread.setObjectName(name)
            thread.start()
            threads.append(thread)
        go.set()
        for thread in threads:
            thread.wait()
        pyqtguard.uninstall()          # writes what is still queued
        print("threads:", [t.name for t in threading.enumerate()], flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    for name, error in (("a", "KeyError: 'a'"), ("b", "ValueError: b"),
                        ("c", "TypeError: c"), ("d", "LookupError: d")):
        assert f"uncaught exception in thread '{name}'" in log, log
        assert error in log, log
    assert "threads: ['MainThread']" in result.stdout


def test_a_replaced_stderr_is_written_in_the_gui_thread(tmp_path):
    # Apps point sys.stderr at a console widget, which only the GUI thread
    # may touch.  A worker thread's report and a failing slot's (written by
    # the reporter thread) reach such a stream through the GUI thread while
    # the event loop runs, the last ones when it ends; the log has them at
    # once either way.
    result = run_app("""
        import sys, threading
        import pyqtguard; pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        written = []
        class Console:
            def write(self, text):
                written.append((threading.current_thread() is threading.main_thread(), text))
            def flush(self):
                pass
        def worker_fails():
            raise KeyError("from-worker")
        def slot_fails():
            raise ValueError("from-slot")
        def last_words():
            raise LookupError("just-before-quit")
        def quit_now():
            # A report posted right before the loop ends is written still.
            t = threading.Thread(target=last_words); t.start(); t.join()
            app.quit()
        def start():
            t = threading.Thread(target=worker_fails, name="worker"); t.start(); t.join()
            QtCore.QTimer.singleShot(0, slot_fails)
            QtCore.QTimer.singleShot(1000, quit_now)
        sys.stderr = Console()
        QtCore.QTimer.singleShot(0, start)
        app.exec()
        sys.stderr = sys.__stderr__
        text = "".join(t for _, t in written)
        print("off the GUI thread:", sum(1 for main, _ in written if not main), flush=True)
        print("worker:", "from-worker" in text, "slot:", "from-slot" in text,
              "last:", "just-before-quit" in text, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "off the GUI thread: 0" in result.stdout, result.describe()
    assert "worker: True slot: True last: True" in result.stdout, result.describe()
    assert "from-worker" in result.log and "from-slot" in result.log



def test_a_log_handler_that_segfaults_gets_a_crash_report_naming_its_thread(tmp_path):
    # Issue 18.4: the app's logging handlers (and on_exception callbacks) run
    # on the app's threads - here the GUI thread that raised - where the
    # crash handler reports a fault; never on a thread of pyqtguard's own.
    from test_crash import SEGV, assert_thread_stack, crash_section

    result = run_app("""
        import ctypes, logging
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Crashing(logging.Handler):
            def emit(self, record):
                ctypes.string_at(0)
        logging.getLogger("pyqtguard").addHandler(Crashing())
        def slot_fails():
            raise ValueError("reported to a crashing handler")
        QtCore.QTimer.singleShot(0, slot_fails)
        QtCore.QTimer.singleShot(1000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    assert "signal: SIGSEGV" in report, report
    assert "thread: 'MainThread'" in report, report
    assert_thread_stack(report, "MainThread", "emit")
    assert "ValueError: reported to a crashing handler" in result.log


def test_reports_that_do_not_fit_in_the_exit_time_are_counted(tmp_path):
    # Issue 18.3: once shutdown begins (the event loop ended), queued reports
    # get half the exit deadline; what does not fit is counted in one line,
    # never dropped without a word - and the process still ends in time.
    result = run_app("""
        import logging, time
        import pyqtguard
        pyqtguard.install(exit_timeout=3, repeat_interval=0)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Slow(logging.Handler):
            def emit(self, record):
                time.sleep(0.5)
        logging.getLogger("pyqtguard").addHandler(Slow())
        class Failing(QtCore.QThread):
            def run(self):
                raise ValueError("failed-" + self.objectName())
        QtCore.QTimer.singleShot(0, app.quit)
        app.exec()
        threads = []
        for i in range(10):
            thread = Failing()
            thread.setObjectName(str(i))
            threads.append(thread)
            thread.start()
        for thread in threads:
            thread.wait()
        print("main done", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    written = log.count("ValueError: failed-")
    match = re.search(r"pyqtguard: (\d+) exception reports? not written: "
                      r"the time for them at exit ran out", log)
    assert match is not None, result.describe()
    assert 0 < written < 10 and written + int(match.group(1)) == 10, result.describe()


def test_a_qthreads_report_is_written_by_the_idle_gui_thread(tmp_path):
    # While the event loop idles no Python code runs in the GUI thread: the
    # hook wakes it (a pipe its QSocketNotifier watches), and it writes the
    # queued report - running the app's logging handler - at once, not when
    # the loop ends.
    result = run_app("""
        import logging, threading
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        seen = []
        class Handler(logging.Handler):
            def emit(self, record):
                in_loop = QtCore.QThread.currentThread().loopLevel() > 0
                seen.append((threading.current_thread().name, in_loop))
        logging.getLogger("pyqtguard").addHandler(Handler())
        class Worker(QtCore.QObject):
            go = QtCore.pyqtSignal()
            def fail(self):
                raise KeyError("from-qthread")
        thread = QtCore.QThread()
        worker = Worker()
        worker.moveToThread(thread)
        worker.go.connect(worker.fail)
        thread.start()
        # No Python code runs in the GUI thread until the loop has ended.
        QtCore.QTimer.singleShot(0, worker.go.emit)
        QtCore.QTimer.singleShot(1500, app.quit)
        app.exec()
        thread.quit()
        thread.wait()
        print("handler ran in:", seen, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "handler ran in: [('MainThread', True)]" in result.stdout, result.describe()
    assert "KeyError: 'from-qthread'" in result.log


def test_a_crash_report_counts_queued_exceptions_beyond_its_summaries(tmp_path):
    # 20 slots fail, then the next one crashes before the loop's next turn:
    # 16 summary lines head the crash report, and the 4 more are counted.
    from test_crash import SEGV, crash_section

    result = run_app("""
        import faulthandler
        import pyqtguard
        pyqtguard.install(repeat_interval=0)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Model(QtCore.QObject):
            changed = QtCore.pyqtSignal()
        model = Model()
        def load_rows():
            raise ValueError("no rows")
        for _ in range(20):
            model.changed.connect(load_rows)
        model.changed.connect(lambda: faulthandler._sigsegv())
        QtCore.QTimer.singleShot(0, model.changed.emit)
        QtCore.QTimer.singleShot(1000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = crash_section(result.log)
    summary = report.split("Uncaught exceptions not reported in full yet")[1]
    summary = summary.split("\n\n", 1)[0]
    assert summary.count("ValueError in load_rows") == 16, report
    assert "... and 4 more" in summary, report


def test_a_filter_on_the_pyqtguard_logger_sees_every_report(tmp_path):
    # No record is made when nothing but pyqtguard's NullHandler would get
    # it; a filter on the logger (which an app may use to count or route
    # reports) is something that listens.
    result = run_app("""
        import logging, sys
        import pyqtguard
        pyqtguard.install(stderr=False)
        seen = []
        logging.getLogger("pyqtguard").addFilter(lambda record: seen.append(record) or True)
        sys.excepthook(ValueError, ValueError("filtered"), None)
        print("filter saw:", [r.exc_info[1].args[0] for r in seen], flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "filter saw: ['filtered']" in result.stdout


def test_an_exit_from_inside_the_event_loop_writes_the_queued_report(tmp_path):
    # sys.exit() in a slot ends the process from inside exec(): the report
    # queued just before is written by the exit handler, and the wake-up
    # notifier of the loop that never ended is let go quietly.
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        def slot_fails():
            raise ValueError("just before the exit")
        def leave():
            sys.exit(3)
        QtCore.QTimer.singleShot(0, slot_fails)
        QtCore.QTimer.singleShot(0, leave)
        app.exec()
    """, tmp_path)
    assert result.returncode == 3, result.describe()
    assert result.log.count("ValueError: just before the exit") == 1, result.describe()
    assert "unraisable" not in result.log and "RuntimeError" not in result.log, result.describe()


def test_a_thread_reporting_its_own_exception_writes_the_queued_ones_first(tmp_path):
    # The main thread is blocked (in join) and no event loop runs: a QThread's
    # queued report is written by the next thread that enters a hook to
    # report at once - before its own, on that thread.
    result = run_app("""
        import logging, threading, time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        handled = []
        class Handler(logging.Handler):
            def emit(self, record):
                handled.append((record.exc_info[0].__name__, threading.current_thread().name))
        logging.getLogger("pyqtguard").addHandler(Handler())
        class Failing(QtCore.QThread):
            def run(self):
                raise KeyError("queued-first")
        def plain():
            time.sleep(0.3)                 # main is in join() by now
            failing = Failing()
            failing.start()
            failing.wait()
            raise ValueError("own-second")
        worker = threading.Thread(target=plain, name="plain-worker")
        worker.start()
        worker.join()
        print("handled:", handled, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert ("handled: [('KeyError', 'plain-worker'), ('ValueError', 'plain-worker')]"
            in result.stdout), result.describe()
    log = result.log
    assert log.index("KeyError: 'queued-first'") < log.index("ValueError: own-second")


UNINSTALL_FROM_A_WORKER = """
    import sys, threading
    import pyqtguard
    pyqtguard.install()
    from PyQt6 import QtCore, QtWidgets
    app = QtWidgets.QApplication(sys.argv)
    label = QtWidgets.QLabel("x"); label.show()
    def uninstall_from_a_worker():
        worker = threading.Thread(target=pyqtguard.uninstall)
        worker.start(); worker.join()
        print("uninstalled from a worker", flush=True)
        QtCore.QTimer.singleShot(100, app.quit)
    QtCore.QTimer.singleShot(50, uninstall_from_a_worker)
    print("exec returned", app.exec(), flush=True)
"""


def test_uninstall_from_another_thread_while_the_loop_runs(tmp_path):
    # The loop's notifiers and the freeze heartbeat's timer belong to the
    # GUI thread: Qt forbids stopping them from another ("Socket notifiers
    # cannot be enabled or disabled from another thread", "Timers cannot be
    # stopped from another thread").  uninstall() from a worker leaves them
    # to the GUI thread, which deletes them at its next turn.
    result = run_app(UNINSTALL_FROM_A_WORKER, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.stdout.splitlines() == ["uninstalled from a worker", "exec returned 0"], \
        result.describe()
    assert "another thread" not in result.stderr, result.stderr


HOOK_LEFT_BEHIND = """
    import sys, threading
    import pyqtguard
    pyqtguard.install()
    # Another tool swaps sys.excepthook for a while (pytest-qt does, per test
    # phase) and pyqtguard is uninstalled meanwhile: uninstall() leaves the
    # tool's hook alone, and the tool then puts back the one it saved - ours.
    saved = sys.excepthook
    sys.excepthook = lambda *exc: None
    pyqtguard.uninstall()
    sys.excepthook = saved
    pyqtguard.install()
    from pyqtguard import _native
    print("threading hook ours:", threading.excepthook is _native.threading_excepthook)
    print("unraisable hook ours:", sys.unraisablehook is _native.unraisablehook)
    def fail():
        raise KeyError("from a thread")
    worker = threading.Thread(target=fail, name="worker-x")
    worker.start(); worker.join()
    raise ValueError("in the main thread")
"""


def test_install_after_a_hook_of_ours_was_left_behind(tmp_path):
    # install() took "sys.excepthook is ours" for "installed" and put in none
    # of the three hooks (and chaining to a hook of ours would loop).
    result = run_app(HOOK_LEFT_BEHIND, tmp_path)
    assert result.returncode == 1, result.describe()
    assert "threading hook ours: True" in result.stdout, result.describe()
    assert "unraisable hook ours: True" in result.stdout, result.describe()
    [log] = result.logs
    text = log.read_text()
    assert "KeyError: 'from a thread'" in text and "ValueError: in the main thread" in text, text
    assert text.count("ValueError: in the main thread") == 1, text     # reported once, no loop


def test_an_earlier_hook_that_raises_has_its_own_error_reported(tmp_path):
    # Without pyqtguard, Python prints "Error in sys.excepthook:" with the
    # hook's own traceback: a bug in the app's hook is not silently lost.
    result = run_app("""
        import sys, threading
        def broken_hook(*args):
            raise RuntimeError("the app's hook is broken")
        sys.excepthook = broken_hook
        threading.excepthook = broken_hook
        import pyqtguard
        pyqtguard.install()
        t = threading.Thread(target=lambda: 1 / 0)
        t.start(); t.join()
        raise KeyError("main")
    """, tmp_path)
    assert result.returncode == 1, result.describe()
    for text in (result.log, result.stderr):
        assert text.count("RuntimeError: the app's hook is broken") == 2, result.describe()
        assert text.count("in broken_hook") == 2, result.describe()
        assert "sys.excepthook raised" in text and "threading.excepthook raised" in text
    assert "ZeroDivisionError" in result.log and "KeyError: 'main'" in result.log
