"""Qt's own messages reach the run log and the ``pyqtguard.qt`` logger, the
handler that was there before still gets them, and a Qt fatal error leaves a
full crash report."""
from __future__ import annotations

import re
import signal

import pytest

from apprunner import run_app

# Qt's own warning for QTimer().start(-1) depends on the Qt version: Qt 6.4
# to 6.8 (the PyQt6-Qt6 wheels tried) write "QObject::startTimer: Timers
# cannot have negative intervals", Qt 6.11 "QTimer::start: negative intervals
# aren't allowed; the interval will be set to 1ms.".  pyqtguard passes on
# whichever text Qt gives; these tests take either.
NEGATIVE_TIMER = re.compile(r"negative intervals aren't allowed|Timers cannot have negative intervals")


def _negative_timer_text(output: str) -> str:
    """The wording of the negative-interval warning found in *output*."""
    found = NEGATIVE_TIMER.search(output)
    assert found is not None, output
    return found.group()


def test_warnings_reach_log_logger_and_the_previous_handler(tmp_path):
    result = run_app("""
        import logging
        from PyQt6 import QtCore
        seen = []
        def apps_own_handler(kind, context, message):
            seen.append(message)
        QtCore.qInstallMessageHandler(apps_own_handler)   # before pyqtguard
        import pyqtguard
        pyqtguard.install()
        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append((record.name, record.levelname, record.getMessage()))
        logging.getLogger("pyqtguard.qt").addHandler(Keep())
        app = QtCore.QCoreApplication([])
        def start_bad_timer():
            QtCore.QTimer().start(-1)          # Qt itself warns
        start_bad_timer()
        QtCore.qWarning("disk almost full")    # the app warns through Qt
        print("previous handler saw:", seen, flush=True)
        print("logger saw:", records, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert NEGATIVE_TIMER.search(result.log), result.log
    assert "Qt warning: disk almost full (" in result.log
    assert "app.py:" in result.log.split("disk almost full", 1)[1].splitlines()[0]
    # (repr() quotes the later wording, which has an apostrophe, with ")
    assert re.search(r"""previous handler saw: \[["'](QTimer::start: negative|"""
                     r"QObject::startTimer: Timers cannot have negative)", result.stdout), result.stdout
    assert "'disk almost full'" in result.stdout.split("previous handler saw:")[1]
    assert "('pyqtguard.qt', 'WARNING', 'Qt warning: disk almost full (" in result.stdout
    # Stamped like every other log line (UTC, to the millisecond), once.
    assert re.search(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC\] Qt warning: disk almost full",
                     result.log, re.MULTILINE), result.log
    # The app's own handler replaced Qt's default printing: nothing on stderr.
    assert "disk almost full" not in result.stderr


def test_default_handler_keeps_printing_to_stderr(tmp_path):
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        QtCore.qWarning("visible on the terminal")
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "visible on the terminal" in result.stderr
    assert "Qt warning: visible on the terminal" in result.log


def test_category_and_fatal_from_a_missing_platform_plugin(tmp_path):
    """The classic "could not find the Qt platform plugin": a categorised
    warning, then a qFatal - which now leaves a crash report."""
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtWidgets
        def start_gui():
            return QtWidgets.QApplication([])
        app = start_gui()
    """, tmp_path, env={"QT_QPA_PLATFORM": "no-such-platform"})
    assert result.returncode == -signal.SIGABRT, result.describe()
    assert 'Could not find the Qt platform plugin "no-such-platform"' in result.log
    assert "(category qt.qpa.plugin)" in result.log
    assert "fatal: Qt fatal error: This application failed to start" in result.log
    report = result.log[result.log.index("=== pyqtguard crash report ==="):]
    assert "in start_gui" in report


def test_a_logging_handler_that_triggers_qt_warnings_does_not_recurse(tmp_path):
    result = run_app("""
        import logging
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        calls = []
        class Noisy(logging.Handler):
            def emit(self, record):
                calls.append(record.getMessage())
                QtCore.qWarning("warning from inside the log handler")
        logging.getLogger("pyqtguard.qt").addHandler(Noisy())
        QtCore.qWarning("first")
        print("handler calls:", len(calls), flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "handler calls: 1" in result.stdout
    assert "warning from inside the log handler" in result.stderr  # still shown


def test_handler_is_removed_before_finalization(tmp_path):
    result = run_app("""
        import atexit
        from PyQt6 import QtCore
        def late():   # registered first, so it runs after pyqtguard's atexit
            QtCore.qWarning("late message at exit")
        atexit.register(late)
        import pyqtguard
        pyqtguard.install()
        QtCore.qWarning("early message")
        app = QtCore.QCoreApplication([])
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "Qt warning: early message" in result.log
    assert "late message at exit" not in result.log
    assert "late message at exit" in result.stderr   # Qt's default got it


def test_qt_messages_off(tmp_path):
    result = run_app("""
        import pyqtguard
        pyqtguard.install(qt_messages=False)
        from PyQt6 import QtCore
        QtCore.qWarning("not bridged")
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "not bridged" not in result.log and "not bridged" in result.stderr


def test_a_repeated_qt_warning_is_logged_once_and_counted(tmp_path):
    """A warning from every paint would fill the run log: it is logged once
    per repeat interval and counted; the previous handler still gets each."""
    result = run_app("""
        from PyQt6 import QtCore
        seen = []
        QtCore.qInstallMessageHandler(lambda kind, context, message: seen.append(message))
        import pyqtguard
        pyqtguard.install()
        def paint():
            QtCore.qWarning("QPainter::begin: Paint device returned engine == 0")
        for _ in range(300):
            paint()
        QtCore.qWarning("another warning")
        print("previous handler saw:", len(seen), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert log.count("Paint device returned engine == 0") == 2, log   # the line, the count
    assert "engine == 0 (" in log and ": 299 more times since its last full report" in log
    assert "Qt warning: another warning" in log
    assert "previous handler saw: 301" in result.stdout
    assert "more times" not in result.stderr      # Qt's handler printed each one


@pytest.mark.parametrize("setup", ["unconfigured", "configured", "configured-later",
                                   "configured-to-a-file"])
def test_each_qt_message_reaches_stderr_once_whatever_the_logging_setup(tmp_path, setup):
    """An app that imports logging without configuring it (pyqtgraph does)
    must not get a second copy from logging's last-resort handler; one that
    configures logging to stderr gets the logging copy instead of Qt's."""
    result = run_app("""
        import logging, sys
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        setup = sys.argv[1]
        if setup == "configured":
            logging.basicConfig()
        elif setup == "configured-to-a-file":
            logging.basicConfig(filename="app.log")
        app = QtCore.QCoreApplication([])
        QtCore.qWarning("first warning")
        if setup == "configured-later":
            logging.basicConfig()
        QtCore.qWarning("second warning")
        QtCore.QTimer().start(-1)              # Qt itself warns
        print("done", flush=True)
    """, tmp_path, args=[setup])
    assert result.returncode == 0, result.describe()
    assert "done" in result.stdout
    for text in ("first warning", "second warning", _negative_timer_text(result.log)):
        assert result.stderr.count(text) == 1, result.describe()
        assert result.log.count(text) == 1, result.describe()
    if setup == "configured-to-a-file":
        assert (tmp_path / "app.log").read_text().count("second warning") == 1


@pytest.mark.parametrize("logging_setup", [False, True])
def test_qt_prints_to_the_process_stderr_even_when_sys_stderr_is_replaced(tmp_path,
                                                                          logging_setup):
    """Qt's default handler writes to the process's stderr (fd 2), whatever
    sys.stderr is: an app that captures sys.stderr (a console pane, a
    StringIO) must not find Qt's messages there, nor lose them from the
    terminal, because pyqtguard forwards them."""
    result = run_app("""
        import io, logging, sys
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        captured = io.StringIO()
        sys.stderr = captured
        if sys.argv[1] == "True":
            logging.basicConfig()           # a handler on the StringIO
        QtCore.qWarning("printed by Qt")
        sys.stderr = sys.__stderr__
        print("captured:", repr(captured.getvalue()), flush=True)
    """, tmp_path, args=[str(logging_setup)])
    assert result.returncode == 0, result.describe()
    assert result.stderr.count("printed by Qt") == 1, result.describe()
    if not logging_setup:
        assert "captured: ''" in result.stdout, result.describe()
    assert "Qt warning: printed by Qt" in result.log


@pytest.mark.parametrize("uninstall", [False, True])
def test_the_apps_own_handler_installed_later_is_left_in_place(tmp_path, uninstall):
    """pyqtguard takes its handler out at exit (and at uninstall()); a
    handler the app installed after pyqtguard's is the app's, and stays."""
    result = run_app("""
        import atexit, sys
        from PyQt6 import QtCore
        atexit.register(lambda: QtCore.qWarning("late warning at exit"))   # runs last
        import pyqtguard
        pyqtguard.install()
        def apps_own_handler(kind, context, message):
            print("app's handler:", message, flush=True)
        QtCore.qInstallMessageHandler(apps_own_handler)
        if sys.argv[1] == "True":
            pyqtguard.uninstall()
        QtCore.qWarning("a warning")
    """, tmp_path, args=[str(uninstall)])
    assert result.returncode == 0, result.describe()
    assert result.stdout.splitlines() == ["app's handler: a warning",
                                          "app's handler: late warning at exit"], result.describe()


def _event(log: str, text: str) -> str:
    """The log event holding *text*: from its line to the next event's (app
    text cannot start a line with '[': see test_hostile_logs)."""
    start = log.index(text)
    start = log.rindex("\n", 0, start) + 1
    end = log.find("\n[", start)
    return log[start:end if end >= 0 else len(log)].rstrip("\n")


def test_a_qt_warning_from_another_thread_names_the_thread_and_the_python_line(tmp_path):
    """Qt warns when a thread misuses an object of the GUI thread, but says
    neither which thread nor where: the run log says both (a release Qt
    has no file or line of its own)."""
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        owner = QtCore.QObject()
        def fetch():
            child = QtCore.QObject(owner)      # a parent in another thread
        worker = threading.Thread(target=fetch, name="fetcher\\n[forged] pyqtguard: x")
        worker.start()
        worker.join()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    event = _event(result.log, "Cannot create children for a parent that is in a different")
    assert "thread 'fetcher\\n[forged] pyqtguard: x' (not the GUI thread)" in event, event
    assert "line 9, in fetch" in event and "child = QtCore.QObject(owner)" in event, event
    assert "[forged]" not in result.log.replace("\\n[forged]", ""), result.log
    assert "pyqtguard/" not in event and "threading.py" not in event, event


def test_a_qt_warning_raised_by_a_python_call_shows_that_call(tmp_path):
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        def start_bad_timer():
            QtCore.QTimer().start(-1)
        start_bad_timer()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    event = _event(result.log, _negative_timer_text(result.log))
    assert "in start_bad_timer" in event and "QtCore.QTimer().start(-1)" in event, event
    assert "not the GUI thread" not in event, event


def test_a_qt_warning_from_inside_the_event_loop_has_no_stack_to_show(tmp_path):
    """Qt's own code warning inside exec() (no Python line of the app made
    it): no stack is shown - it would only point at app.exec()."""
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        gui_thread = QtCore.QThread.currentThread()
        QtCore.QTimer.singleShot(0, gui_thread.wait)    # C++ code, run by the loop
        QtCore.QTimer.singleShot(50, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    event = _event(result.log, "Thread tried to wait on itself")
    assert "\n" not in event, event


def test_a_qt_warnings_origin_costs_no_traceback_import_and_reads_no_fifo(tmp_path):
    """Formatting where a warning came from must not import traceback (with
    linecache, tokenize and re: milliseconds of every app that gets one Qt
    warning), and a code object naming a FIFO as its file must not block."""
    import os

    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    result = run_app(f"""
        import sys
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        def warn():
            QtCore.QTimer().start(-1)
        warn()
        code = compile("def from_fifo():\\n    QtCore.QObject().killTimer(77)\\n", {str(fifo)!r},
                       "exec")
        exec(code)
        from_fifo()
        print("imported:", "traceback" in sys.modules, "linecache" in sys.modules, flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "imported: False False" in result.stdout, result.stdout
    assert "QtCore.QTimer().start(-1)" in result.log      # its source line, read here
    assert f'File "{fifo}", line 2, in from_fifo' in result.log, result.log


def test_a_thread_whose_name_raises_still_gets_its_qt_warning_logged(tmp_path):
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        owner = QtCore.QObject()
        class Odd(threading.Thread):
            @property
            def name(self):
                raise RuntimeError("no name today")
            @name.setter
            def name(self, value):
                pass
        worker = Odd(target=lambda: QtCore.QObject(owner))
        worker.start()
        worker.join()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "Cannot create children for a parent that is in a different thread" in result.log
