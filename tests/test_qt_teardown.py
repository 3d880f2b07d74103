"""pyqtguard's own Qt objects and references across an application's
teardown: an app that deletes its QApplication (and makes another), quits
from a worker or exits with threads running behaves as it does without
pyqtguard - the same output, the same exit status, no hang.

Each app runs twice, without and with ``pyqtguard.install()``; what it
prints and its exit status must match, and pyqtguard must add nothing to
stderr.
"""
from __future__ import annotations

import textwrap

from apprunner import run_app


def _both(tmp_path, body: str, install: str = "stderr=False", timeout: float = 30):
    """(without, with) pyqtguard: the AppResults of *body* run bare and
    after ``pyqtguard.install(<install>)``."""
    body = textwrap.dedent(body)
    bare_dir = tmp_path / "bare"
    guarded_dir = tmp_path / "guarded"
    bare_dir.mkdir()
    guarded_dir.mkdir()
    bare = run_app(body, bare_dir, timeout=timeout)
    guarded = run_app(f"import pyqtguard\npyqtguard.install({install})\n" + body,
                      guarded_dir, timeout=timeout)
    return bare, guarded


def _same(bare, guarded):
    assert guarded.returncode == bare.returncode, guarded.describe()
    assert guarded.stdout == bare.stdout, guarded.describe()
    assert guarded.stderr == bare.stderr, guarded.describe()


def test_a_deleted_application_is_gone_and_a_second_one_runs(tmp_path):
    # A QThread's end posts pyqtguard's bookkeeping to the GUI thread (the
    # bridge of pyqtguard.qt.guithread).  The bridge held the application
    # it was made for: `del app` left it alive (instance() still answered),
    # the second QApplication was made beside it, and the first was
    # destroyed when the second QThread's end replaced the bridge - in that
    # QThread, while the main thread waited for it: a hang at exit.
    bare, guarded = _both(tmp_path, """
        import gc, sys
        from PyQt6.QtCore import QCoreApplication, QThread, QTimer
        from PyQt6.QtWidgets import QApplication
        for i in range(2):
            app = QApplication(sys.argv)
            thread = QThread()
            thread.start()
            QTimer.singleShot(100, app.quit)
            print("exec", app.exec(), flush=True)
            thread.quit()
            thread.wait()
            del thread, app
            gc.collect()
            print("instance after del:", QCoreApplication.instance(), flush=True)
        """, install="")
    assert bare.stdout.count("instance after del: None") == 2, bare.describe()
    _same(bare, guarded)


def test_dialogs_and_a_second_application(tmp_path):
    # install(dialogs=True) posts its warm-up and the crash offer to the GUI
    # thread at each loop's start, the warm-up from a thread of its own:
    # that thread replaced the bridge of the first application, destroying
    # it there (Qt: "Timers cannot be stopped from another thread"), and the
    # process hung.
    bare, guarded = _both(tmp_path, """
        import gc, sys
        from PyQt6.QtCore import QCoreApplication, QTimer
        from PyQt6.QtWidgets import QApplication, QLabel
        for i in range(3):
            app = QApplication(sys.argv)
            label = QLabel("x")
            label.show()
            QTimer.singleShot(150, app.quit)
            print("exec", app.exec(), flush=True)
            del label, app
            gc.collect()
            print("instance after del:", QCoreApplication.instance(), flush=True)
        """, install="dialogs=True, stderr=False")
    _same(bare, guarded)


def test_workers_let_a_deleted_application_go(tmp_path):
    # The first worker's start kept the QApplication (to connect its
    # aboutToQuit once): `del app` left it alive, a second one was made
    # beside it, and deleting that one crashed (SIGSEGV) - with or
    # without install().
    result = run_app("""
        import gc, sys, time
        import pyqtguard
        pyqtguard.install(stderr=False)
        from PyQt6.QtCore import QCoreApplication
        from PyQt6.QtWidgets import QApplication, QLabel
        from pyqtguard import workers

        def task(n):
            time.sleep(0.05)
            return str(n)

        for i in range(3):
            app = QApplication(sys.argv)
            label = QLabel()
            worker = workers.Worker(task, i)
            worker.returned.connect(label.setText)
            worker.start()
            deadline = time.monotonic() + 10
            while label.text() != str(i) and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)
            print("label", label.text(), flush=True)
            del worker, label, app
            gc.collect()
            print("instance after del:", QCoreApplication.instance(), flush=True)
        """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert result.stdout == "".join(f"label {i}\ninstance after del: None\n"
                                    for i in range(3)), result.describe()
    assert result.stderr == "", result.describe()


def test_workers_after_the_application_quit_let_it_go(tmp_path):
    result = run_app("""
        import gc, sys, time
        import pyqtguard
        pyqtguard.install(stderr=False)
        from PyQt6.QtCore import QCoreApplication
        from PyQt6.QtWidgets import QApplication
        from pyqtguard import workers

        app = QApplication(sys.argv)
        worker = workers.Worker(lambda: 42)
        worker.returned.connect(lambda value: (print("returned", value), app.quit()))
        worker.start()
        print("exec", app.exec(), flush=True)
        del worker, app
        gc.collect()
        print("instance after del:", QCoreApplication.instance(), flush=True)
        app = QApplication(sys.argv)
        print("second", type(app).__name__, flush=True)
        """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert result.stdout == ("returned 42\nexec 0\ninstance after del: None\n"
                             "second QApplication\n"), result.describe()
    assert result.stderr == "", result.describe()


def test_workers_deliver_after_an_application_took_their_wake_up(tmp_path):
    # A worker finishing while its QApplication is deleted (its destructor
    # waits for the pool) wakes the hub with a Qt event that Qt throws away
    # with the app: every later worker's events waited for that wake-up,
    # never delivered.  A signal connected as a callback (its probe deleted
    # with the app) raised into the delivery.
    result = run_app("""
        import gc, sys, time
        import pyqtguard
        pyqtguard.install(stderr=False)
        from PyQt6.QtCore import QCoreApplication, QObject, pyqtSignal
        from PyQt6.QtWidgets import QApplication
        from pyqtguard import workers

        class Sink(QObject):
            got = pyqtSignal(str)

        def task():
            time.sleep(0.3)
            return "late"

        app = QApplication(sys.argv)
        sink = Sink()
        first = workers.Worker(task)
        first.returned.connect(sink.got)
        first.returned.connect(lambda value: print("returned", value, flush=True))
        first.start()
        del app                       # waits for the pool: `first` ends meanwhile
        gc.collect()
        app = QApplication(sys.argv)
        second = workers.Worker(lambda: "second")
        second.returned.connect(lambda value: print("returned", value, flush=True))
        second.start()
        deadline = time.monotonic() + 10
        while not second.is_done and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        for _ in range(5):
            app.processEvents()
        print("end", flush=True)
        """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert result.stdout == "returned late\nreturned second\nend\n", result.describe()
    assert "uncaught" not in result.log, result.describe()


def test_error_notification_in_a_second_application(tmp_path):
    # The notification's poll timer (a QTimer without a parent) is deleted
    # by PyQt6 with the first QApplication; the second app's first
    # notification started it again: RuntimeError in pyqtguard's callback.
    result = run_app("""
        import gc, sys, time
        import pyqtguard
        pyqtguard.install(dialogs=True, stderr=False)
        from PyQt6.QtCore import QTimer
        from PyQt6.QtWidgets import QApplication, QLabel

        def first():
            raise ValueError("in the first app")

        def second():
            raise KeyError("in the second app")

        def shown():
            return [w.objectName() for w in QApplication.topLevelWidgets()
                    if w.isVisible() and w.objectName()]

        for slot in (first, second):
            app = QApplication(sys.argv)
            label = QLabel("x")
            label.show()
            QTimer.singleShot(50, slot)
            # Until the notification shows (a loaded machine: it once took
            # longer than the 400 ms this waited), at most 10 s.
            given_up = time.monotonic() + 10
            def check():
                if shown() or time.monotonic() > given_up:
                    print("shown:", shown(), flush=True)
                    QApplication.quit()
                else:
                    QTimer.singleShot(50, check)
            QTimer.singleShot(50, check)
            app.exec()
            del label, app
            gc.collect()
        """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert result.stdout.count("shown: ['pyqtguardErrorNotification']") == 2, result.describe()
    assert "callback" not in result.log and "has been deleted" not in result.log, \
        result.describe()
