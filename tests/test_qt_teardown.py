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
