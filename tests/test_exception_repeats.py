"""The same exception over and over (a paintEvent or a model's data() that
raises on every call) is reported in full once per repeat_interval; the
repeats are counted, and the count is logged with the next full report or
at exit - not megabytes of identical tracebacks."""
from __future__ import annotations

from pathlib import Path

from apprunner import run_app

FLOOD_APP = """
    import sys, time{setup}
    import pyqtguard
    pyqtguard.install({options})
    from PyQt6 import QtCore
    app = QtCore.QCoreApplication([])
    callbacks = []
    pyqtguard.on_exception(lambda record: callbacks.append(record.exc_type.__name__))
    class Model(QtCore.QObject):
        changed = QtCore.pyqtSignal(int)
        def data(self, row):
            return self.rows[row]          # the bug: no .rows
        def other(self, row):
            raise KeyError(row)
    model = Model()
    model.changed.connect(model.data)
    for row in range(500):
        model.changed.emit(row)
    {between}
    model.changed.disconnect(model.data)
    model.changed.connect(model.other)
    model.changed.emit(7)
    QtCore.QTimer.singleShot(100, app.quit)   # callbacks run in the GUI thread
    app.exec()
    print("callbacks:", callbacks, flush=True)
"""


def flood_source(options="", between="", setup=""):
    return (FLOOD_APP.replace("{options}", options).replace("{between}", between)
            .replace("{setup}", setup))


def flood(tmp_path, options="", between="", env=None, setup=""):
    # Queued reports get half the exit deadline: a generous one, so that a
    # loaded test machine does not count reports as "not written".
    env = {"PYQTGUARD_EXIT_TIMEOUT": "60", **(env or {})}
    return run_app(flood_source(options, between, setup), tmp_path, env=env)


def test_a_flood_of_one_exception_is_one_report_and_a_count(tmp_path):
    result = flood(tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert log.count("AttributeError: 'Model' object has no attribute 'rows'") == 1, log
    assert ("AttributeError in data (" in log
            and "app.py:12): 499 more times since its last full report" in log), log
    assert "KeyError: 7" in log                      # another exception: its own report
    assert result.stderr.count("Traceback") == 2, result.stderr
    assert "callbacks: ['AttributeError', 'KeyError']" in result.stdout
    # The count is written at exit, after the event loop's end.
    assert log.index(": 499 more times") > log.index("shutdown began")


def test_repeats_after_the_interval_are_reported_again_with_the_count(tmp_path):
    result = flood(tmp_path, options="repeat_interval=0.3",
                   between="time.sleep(0.4); model.changed.emit(500)")
    assert result.returncode == 0, result.describe()
    log = result.log
    assert log.count("AttributeError: 'Model' object has no attribute 'rows'") == 2, log
    count_line = log.index(": 499 more times")
    # The count comes right before the second full report, not at exit.
    assert count_line < log.index("KeyError: 7") < log.index("shutdown began")
    assert "more times" not in log[log.index("shutdown began"):]


def test_repeat_interval_zero_reports_every_one(tmp_path):
    result = flood(tmp_path, env={"PYQTGUARD_REPEAT_INTERVAL": "0"})
    assert result.returncode == 0, result.describe()
    assert result.log.count("AttributeError: 'Model' object has no attribute 'rows'") == 500
    assert "more times" not in result.log


# The app's logging handler takes a few ms a report (a file on a slow disk, a
# network handler), and 1.5 s for the last one: longer than the old reporter
# thread's exit wait of 1 s, after which that thread went on running the
# handler (and then Qt code) into the interpreter's teardown.  Registered
# before install(), the atexit function below runs after pyqtguard's exit
# handler: by then every report must be done.
SLOW_HANDLER = """
    import atexit, logging, threading, time
    class Slow(logging.Handler):
        def emit(self, record):
            last = record.exc_info[0] is KeyError
            time.sleep(1.5 if last else 0.002)
            threads.add(threading.current_thread().name)
            done.append(last)
    threads, done = set(), []
    logging.getLogger("pyqtguard").addHandler(Slow())
    atexit.register(lambda: print("after the exit handler:", len(done), "reports done,",
                                  "last done:", any(done), "handler threads:",
                                  sorted(threads), flush=True))"""


def test_a_flood_right_before_exit_is_written_in_full_and_exits_cleanly(tmp_path):
    # Issue 18.3: each of the 500 reports is in the log, the process exits
    # with status 0 (no segfault in the teardown), and the app's handler ran
    # on the app's own thread, never on one of pyqtguard's.
    result = flood(tmp_path, env={"PYQTGUARD_REPEAT_INTERVAL": "0"}, setup=SLOW_HANDLER)
    assert result.returncode == 0, result.describe()
    assert result.log.count("AttributeError: 'Model' object has no attribute 'rows'") == 500
    assert "KeyError: 7" in result.log
    assert "not written" not in result.log
    assert ("after the exit handler: 501 reports done, last done: True handler threads: "
            "['MainThread']") in result.stdout, result.describe()


def test_the_flood_at_exit_holds_run_after_run(tmp_path):
    # The stress script runs this 200 times (tests/stress/flood_at_exit.py).
    import sys
    sys.path.insert(0, str(Path(__file__).parent / "stress"))
    from flood_at_exit import main
    assert main(["-n", "5"]) == 0


PAINT_FLOOD_APP = """
    import sys
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtGui import QPainter
    from PyQt6.QtWidgets import QApplication, QWidget
    class Chart(QWidget):
        points = None                  # loaded later; paintEvent forgets to check
        def paintEvent(self, event):
            p = QPainter(self)
            for x, y in enumerate(self.points):
                p.drawPoint(x, y)
            p.end()
    app = QApplication(sys.argv)
    chart = Chart()
    chart.show()
    timer = QTimer()
    timer.timeout.connect(chart.repaint)
    timer.start(5)
    QTimer.singleShot(600, app.quit)
    app.exec()
"""


def test_an_exception_raised_from_a_specialized_instruction_is_the_same_one(tmp_path):
    """CPython 3.11's specializing interpreter raises the same error from
    two bytecode offsets (a call is made by PRECALL once specialized, by
    CALL before): one bug, one full report, one count line."""
    result = run_app(PAINT_FLOOD_APP, tmp_path, env={"PYQTGUARD_EXIT_TIMEOUT": "60"})
    assert result.returncode == 0, result.describe()
    log = result.log
    assert log.count("TypeError: 'NoneType' object is not iterable") == 1, log
    assert log.count("TypeError in paintEvent (") == 1, log
    assert result.stderr.count("Traceback") == 1, result.stderr
