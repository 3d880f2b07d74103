"""QML / Qt Quick apps: QGuiApplication with QQmlApplicationEngine, Python
objects called from QML, a QQuickPaintedItem painted in the scene graph's
render thread (``QSG_RENDER_LOOP=threaded``).  Real apps, offscreen with
Qt Quick's software backend, in a subprocess; each test asserts on the
exit status, stderr and the run log (docs/hostile-review.md, h22)."""
from __future__ import annotations

import re
import sys

import pytest

from apprunner import run_app

from pyqtguard.crashes.reports import annotate_thread_names

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="offscreen Qt Quick on POSIX")

QUICK = {"QT_QUICK_BACKEND": "software", "QSG_RENDER_LOOP": "threaded"}

# A QML window with a Python QQuickPaintedItem; PAINT is its paint() body.
PAINTED_APP = """
{imports}
import pyqtguard
pyqtguard.install({install})
from PyQt6.QtCore import QTimer
from PyQt6.QtGui import QColor, QGuiApplication
from PyQt6.QtQml import QQmlApplicationEngine, qmlRegisterType
from PyQt6.QtQuick import QQuickPaintedItem

app = QGuiApplication(sys.argv)

class Painted(QQuickPaintedItem):
    def paint(self, painter):
{paint}
        painter.fillRect(0, 0, 10, 10, QColor("red"))

qmlRegisterType(Painted, "Py", 1, 0, "Painted")
engine = QQmlApplicationEngine()
engine.loadData(b'''
import QtQuick
import Py 1.0
Window {{ visible: true; width: 100; height: 100
    Painted {{ width: 50; height: 50 }}
    Timer {{ interval: {quit_ms}; running: true; onTriggered: Qt.quit() }}
}}''')
if not engine.rootObjects():
    sys.exit(-1)
sys.exit(app.exec())
"""


def painted_app(paint: str, *, install: str = "", quit_ms: int = 400,
                imports: str = "import logging, sys, time") -> str:
    body = "\n".join("        " + line for line in paint.strip().splitlines())
    return PAINTED_APP.format(install=install, paint=body, quit_ms=quit_ms, imports=imports)


def test_python_called_from_qml_raising_is_reported_and_the_app_goes_on(tmp_path):
    # A slot, a property getter and setter, a model's data() for each row
    # and a Python slot connected in QML, each raising; console.error and
    # a TypeError in QML, repeated.  Without pyqtguard: abort (134) at the
    # first.
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install()
        from PyQt6.QtCore import (QAbstractListModel, QModelIndex, QObject, Qt,
                                  pyqtProperty, pyqtSignal, pyqtSlot)
        from PyQt6.QtGui import QGuiApplication
        from PyQt6.QtQml import QQmlApplicationEngine

        app = QGuiApplication(sys.argv)

        class Backend(QObject):
            changed = pyqtSignal()
            ping = pyqtSignal(int)
            @pyqtSlot()
            def save(self):
                raise ValueError("slot called from QML")
            @pyqtProperty(int, notify=changed)
            def level(self):
                raise KeyError("getter")
            @level.setter
            def level(self, value):
                raise TypeError("setter")
            @pyqtSlot(int)
            def on_ping(self, value):
                raise LookupError("handler connected in QML")

        class Model(QAbstractListModel):
            def rowCount(self, parent=QModelIndex()):
                return 5
            def data(self, index, role=Qt.ItemDataRole.DisplayRole):
                raise ArithmeticError("data of row %d" % index.row())
            def roleNames(self):
                return {Qt.ItemDataRole.DisplayRole: b"display"}

        backend, model = Backend(), Model()
        engine = QQmlApplicationEngine()
        engine.rootContext().setContextProperty("backend", backend)
        engine.rootContext().setContextProperty("pymodel", model)
        engine.loadData(b'''
        import QtQuick
        Window { visible: true; width: 100; height: 100
            property int shown: backend.level
            ListView { anchors.fill: parent; model: pymodel; delegate: Text { text: display } }
            Component.onCompleted: backend.ping.connect(backend.on_ping)
            Timer { interval: 30; running: true; repeat: true
                onTriggered: { backend.save(); backend.level = 3; backend.ping(1);
                               console.error("from qml"); var o = null; o.x(); } }
            Timer { interval: 400; running: true; onTriggered: Qt.quit() }
        }''')
        sys.exit(app.exec())
    """, tmp_path, timeout=30, env={"QT_QUICK_BACKEND": "software"})
    assert result.returncode == 0, result.describe()
    log = result.log
    for error in ("ValueError: slot called from QML", "KeyError: 'getter'", "TypeError: setter",
                  "LookupError: handler connected in QML", "ArithmeticError: data of row 0"):
        assert log.count(error) == 1, (error, result.describe())
    assert re.search(r"ArithmeticError in data \(.*app\.py:\d+\): 4 more times", log), log
    assert re.search(r"Qt critical: from qml \(category qml, [^)]*app\.py|Qt critical: from qml", log), log
    assert re.search(r"Qt warning: .*TypeError: Cannot .* of null.*: \d+ more times", log), log


def test_a_crash_in_the_render_thread_names_it(tmp_path):
    result = run_app(painted_app("import ctypes\nctypes.string_at(0)"), tmp_path,
                     timeout=30, env=QUICK)
    assert result.returncode == -11, result.describe()
    log = result.log
    assert re.search(r"thread: 'QSG\w*Rend' \(native id \d+\)", log), result.describe()
    # On 3.13+ faulthandler writes the stacks under hex idents; the legend
    # names them, as `pyqtguard report` and last_crash() show them.
    report = annotate_thread_names(log)
    crashing = report.split("Python stacks of all threads", 1)[1].split("Thread 'MainThread'", 1)[0]
    assert "Current thread 'QSG" in crashing and "in paint" in crashing, report


def test_qt_threads_that_ran_python_keep_their_names_in_the_thread_table(tmp_path):
    # A paint() in the render thread that logs: logging asks
    # threading.current_thread(), which lists that Qt thread as "Dummy-1"
    # for good.  The exception report names it by its own name, and so must
    # the shutdown table (it said "Dummy-1  python  yes").
    result = run_app(painted_app("logging.warning('painting')\n"
                                 "raise ValueError('paint in the render thread')"),
                     tmp_path, timeout=30, env=QUICK)
    assert result.returncode == 0, result.describe()
    log = result.log
    named = re.search(r"uncaught exception in thread '(QSG\w*Rend)' \(native id (\d+)", log)
    assert named, result.describe()
    table = log.split("shutdown began", 1)[1]
    assert "Dummy-" not in table, log
    assert re.search(rf"^{named.group(1)} +native +{named.group(2)} ", table, re.M), log


def test_a_render_thread_that_imports_threading_first_is_not_called_main(tmp_path):
    # threading takes the thread that imports it for the main thread: here
    # the render thread (an import of logging in paint(), and the app had
    # not imported threading; pyqtguard does not either).  Python then calls
    # it "MainThread"; pyqtguard's reports must not (they said thread
    # 'MainThread' with the render thread's native id).
    result = run_app(painted_app("import logging\nlogging.warning('painting')\n"
                                 "raise ValueError('paint in the render thread')",
                                 imports="import sys"), tmp_path, timeout=30, env=QUICK)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert re.search(r"uncaught exception in thread 'QSG\w*Rend' \(native id \d+", log), \
        result.describe()
    table = log.split("shutdown began", 1)[1]
    assert not re.search(r"^MainThread +main ", table, re.M), log
    assert re.search(r"^QSG\w*Rend +native ", table, re.M), log


def test_a_freeze_in_the_render_thread_names_it(tmp_path):
    # Threaded render loop: the GUI thread waits in Qt's C++ (the scene
    # graph's sync) while the render thread runs a slow Python paint().
    # The GUI thread's own stack is only app.exec(): the report must show
    # the thread that runs Python meanwhile.
    result = run_app(painted_app("time.sleep(1.2)", install="freeze_ms=400", quit_ms=1800),
                     tmp_path, timeout=30, env=QUICK)
    assert result.returncode == 0, result.describe()
    log = result.log
    freeze = log.split("GUI freeze: the event loop has not turned", 1)[1].split("GUI freeze ended", 1)[0]
    assert "Qt's own code" in freeze, log
    assert re.search(r"'QSG\w*Rend'", freeze), log
    assert "in paint" in freeze and "time.sleep(1.2)" in freeze, log


def test_dialogs_in_an_app_without_qapplication_stay_quiet(tmp_path):
    # install(dialogs=True) in a QML app built on QGuiApplication: the
    # notification and the crash dialog are widgets, which need a
    # QApplication.  No widget, no warning on stderr (it said "could not
    # offer the last crash: RuntimeError(...)" at every start), no
    # QtWidgets import; the log has the exception, and says once why no
    # dialog is shown.
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install(dialogs=True)
        from PyQt6.QtCore import QObject, pyqtSlot
        from PyQt6.QtGui import QGuiApplication
        from PyQt6.QtQml import QQmlApplicationEngine

        app = QGuiApplication(sys.argv)
        class Backend(QObject):
            @pyqtSlot()
            def save(self):
                raise ValueError("slot called from QML")
        backend = Backend()
        engine = QQmlApplicationEngine()
        engine.rootContext().setContextProperty("backend", backend)
        engine.loadData(b'''
        import QtQuick
        Window { visible: true; width: 100; height: 100
            Timer { interval: 50; running: true; onTriggered: backend.save() }
            Timer { interval: 500; running: true; onTriggered: Qt.quit() }
        }''')
        status = app.exec()
        print("QtWidgets imported:", "PyQt6.QtWidgets" in sys.modules)
        sys.exit(status)
    """, tmp_path, timeout=30, env={"QT_QUICK_BACKEND": "software"})
    assert result.returncode == 0, result.describe()
    assert "could not offer" not in result.stderr, result.describe()
    assert [line for line in result.stderr.splitlines() if line.startswith("pyqtguard:")
            and "this run's log" not in line and "uncaught exception" not in line] == [], \
        result.describe()
    assert "QtWidgets imported: False" in result.stdout, result.describe()
    log = result.log
    assert log.count("ValueError: slot called from QML") == 1, log
    assert log.count("no QApplication") == 1, log
