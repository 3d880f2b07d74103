"""The same exception over and over (a paintEvent or a model's data() that
raises on every call) is reported in full once per repeat_interval; the
repeats are counted, and the count is logged with the next full report or
at exit - not megabytes of identical tracebacks."""
from __future__ import annotations

from apprunner import run_app

FLOOD_APP = """
    import sys, time
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


def flood(tmp_path, options="", between="", env=None):
    return run_app(FLOOD_APP.replace("{options}", options).replace("{between}", between),
                   tmp_path, env=env)


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
