"""Apps whose event loop is not the application's: a dialog's exec(), a
static helper's (QMessageBox.question, QFileDialog.getOpenFileName), a
top-level QEventLoop.  Small tools, installers and wizards are built that
way; pyqtguard watches their loops as it watches app.exec(): freezes,
Ctrl+C and SIGTERM, and what happens when the loop ends.  Real apps,
offscreen, in a subprocess; the test asserts on exit status, output, log."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from apprunner import finish, kill_started, launch, next_line, run_app, run_log

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sigaction")

@pytest.fixture(autouse=True)
def _no_app_left_running():
    yield
    kill_started()


def start(tmp_path: Path, source: str) -> subprocess.Popen[str]:
    """Run *source* and wait for its "ready" line (printed from inside its loop)."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(source))
    proc = launch(script, tmp_path)
    line = next_line(proc)
    assert line == "ready", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


# ---- freezes ---------------------------------------------------------------------

def test_a_freeze_in_a_top_level_dialog_is_reported(tmp_path):
    # sys.exit(dialog.exec()): the only loop is the dialog's.
    result = run_app("""
        import sys, time
        import pyqtguard
        pyqtguard.install(freeze_ms=400)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        dialog = QtWidgets.QDialog()
        def load_settings_in_the_gui_thread():
            time.sleep(1.2)
            dialog.done(7)
        QtCore.QTimer.singleShot(200, load_settings_in_the_gui_thread)
        sys.exit(dialog.exec())
    """, tmp_path)
    assert result.returncode == 7, result.describe()
    log = result.log
    assert log.count("GUI freeze: the event loop has not turned for") == 1, result.describe()
    assert "load_settings_in_the_gui_thread" in log.split("GUI freeze:", 1)[1], log
    ended = re.search(r"GUI freeze ended: the event loop was blocked for (\d+) ms", log)
    assert ended and int(ended.group(1)) >= 1000, log


def test_a_freeze_inside_qmessagebox_question_at_top_level_is_reported(tmp_path):
    # A static helper starts its loop in C++: no exec() of the app's to see.
    result = run_app("""
        import sys, time
        import pyqtguard
        pyqtguard.install(freeze_ms=400)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        def check_for_updates_in_the_gui_thread():
            time.sleep(1.2)
            QtWidgets.QApplication.activeModalWidget().done(0)
        QtCore.QTimer.singleShot(200, check_for_updates_in_the_gui_thread)
        answer = QtWidgets.QMessageBox.question(None, "Install", "Install now?")
        print("answer", answer, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert log.count("GUI freeze: the event loop has not turned for") == 1, result.describe()
    assert "check_for_updates_in_the_gui_thread" in log, log


def test_work_between_two_dialogs_is_no_freeze_and_the_second_is_watched(tmp_path):
    # An installer: a question, then work with no loop running (nothing on
    # screen waits for the GUI thread), then a second dialog that freezes.
    result = run_app("""
        import sys, time
        import pyqtguard
        pyqtguard.install(freeze_ms=300, exit_timeout=1)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        QtCore.QTimer.singleShot(100, lambda: QtWidgets.QApplication.activeModalWidget().done(0))
        QtWidgets.QMessageBox.question(None, "Install", "Install now?")
        def copy_files_between_the_dialogs():
            time.sleep(1.5)           # longer than freeze_ms and than exit_timeout
        copy_files_between_the_dialogs()
        print("copied", flush=True)
        dialog = QtWidgets.QDialog()
        def freeze_in_the_second_dialog():
            time.sleep(1.0)
            dialog.accept()
        QtCore.QTimer.singleShot(100, freeze_in_the_second_dialog)
        sys.exit(dialog.exec())
    """, tmp_path)
    assert result.returncode == 1, result.describe()      # accepted
    assert "copied" in result.stdout
    log = result.log
    assert log.count("GUI freeze: the event loop has not turned for") == 1, result.describe()
    report = log.split("GUI freeze:", 1)[1]
    assert "freeze_in_the_second_dialog" in report, log
    assert "copy_files_between_the_dialogs" not in log, log
    # The first dialog's end did not begin shutdown: the work got its time.
    assert "exit timeout" not in log, log
    assert log.count("shutdown began") == 1, log
    assert "shutdown began (the interpreter is exiting)" in log, log


def test_a_nested_dialog_inside_app_exec_is_not_a_new_top_level_loop(tmp_path):
    # After a nested question() returns inside app.exec(), the freeze watch
    # still runs (a freeze then is reported) and shutdown begins once, when
    # the application's loop ends.
    result = run_app("""
        import sys, time
        import pyqtguard
        pyqtguard.install(freeze_ms=400)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        window = QtWidgets.QWidget(); window.show()
        def ask():
            QtCore.QTimer.singleShot(100, lambda: QtWidgets.QApplication.activeModalWidget().done(0))
            QtWidgets.QMessageBox.question(window, "Save", "Save?")
            dialog = QtWidgets.QDialog(window)
            QtCore.QTimer.singleShot(100, dialog.reject)
            dialog.exec()
            print("asked", flush=True)
            QtCore.QTimer.singleShot(100, block_after_the_nested_loops)
        def block_after_the_nested_loops():
            time.sleep(1.2)
            app.quit()
        QtCore.QTimer.singleShot(100, ask)
        sys.exit(app.exec())
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "asked" in result.stdout
    log = result.log
    assert log.count("GUI freeze: the event loop has not turned for") == 1, result.describe()
    assert "block_after_the_nested_loops" in log, log
    assert log.count("shutdown began") == 1, log
    assert "shutdown began (the Qt event loop ended)" in log, log


def test_a_login_dialog_before_app_exec_is_watched_and_app_exec_as_before(tmp_path):
    result = run_app("""
        import sys, time
        import pyqtguard
        pyqtguard.install(freeze_ms=400)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        login = QtWidgets.QDialog()
        def slow_login_check():
            time.sleep(1.0)
            login.accept()
        QtCore.QTimer.singleShot(100, slow_login_check)
        if login.exec() != 1:
            sys.exit(2)
        window = QtWidgets.QWidget(); window.show()
        def slow_main_window_slot():
            time.sleep(1.0)
            app.quit()
        QtCore.QTimer.singleShot(100, slow_main_window_slot)
        sys.exit(app.exec())
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert log.count("GUI freeze: the event loop has not turned for") == 2, result.describe()
    first, second = log.split("GUI freeze: the event loop has not turned for")[1:]
    assert "slow_login_check" in first and "slow_main_window_slot" in second, log
    assert log.count("shutdown began") == 1, log
    assert "shutdown began (the Qt event loop ended)" in log, log


# ---- Ctrl+C and SIGTERM ------------------------------------------------------------

QUESTION_APP = """
    import sys
    import pyqtguard
    pyqtguard.install(exit_timeout=5)
    from PyQt6 import QtCore, QtWidgets
    app = QtWidgets.QApplication(sys.argv)
    QtCore.QTimer.singleShot(300, lambda: print("ready", flush=True))
    try:
        answer = QtWidgets.QMessageBox.question(None, "Install", "Install now?")
    except KeyboardInterrupt:
        print("KeyboardInterrupt out of question()", flush=True)
        raise
    print("answer", answer, flush=True)
"""


def test_ctrl_c_in_a_top_level_question_ends_the_app_as_in_app_exec(tmp_path):
    proc = start(tmp_path, QUESTION_APP)
    proc.send_signal(signal.SIGINT)
    status, out, err = finish(proc)
    assert status is not None, f"still running after SIGINT\n{out}\n{err}"
    assert status == -signal.SIGINT, (status, out, err)
    assert "KeyboardInterrupt out of question()" in out
    assert "answer" not in out
    assert "SIGINT received: closing the application" in err
    assert "SIGINT received: closing the application" in run_log(tmp_path)


def test_sigterm_in_a_top_level_dialog_closes_it_with_status_143(tmp_path):
    proc = start(tmp_path, """
        import sys
        import pyqtguard
        pyqtguard.install(exit_timeout=5)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        class Settings(QtWidgets.QDialog):
            def closeEvent(self, event):
                print("closeEvent", flush=True)
                super().closeEvent(event)
        dialog = Settings()
        QtCore.QTimer.singleShot(300, lambda: print("ready", flush=True))
        status = dialog.exec()
        print("exec returned", status, flush=True)
    """)
    proc.send_signal(signal.SIGTERM)
    status, out, err = finish(proc)
    assert status == 128 + signal.SIGTERM, (status, out, err)
    assert "closeEvent" in out.splitlines()
    assert "exec returned" not in out
    assert "SIGTERM received: closing the application" in run_log(tmp_path)


def test_ctrl_c_in_a_top_level_file_dialog_ends_the_app(tmp_path):
    proc = start(tmp_path, """
        import sys
        import pyqtguard
        pyqtguard.install(exit_timeout=5)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        QtCore.QTimer.singleShot(300, lambda: print("ready", flush=True))
        name, _ = QtWidgets.QFileDialog.getOpenFileName(None, "Open", "", "",
            options=QtWidgets.QFileDialog.Option.DontUseNativeDialog)
        print("chosen", repr(name), flush=True)
    """)
    proc.send_signal(signal.SIGINT)
    status, out, err = finish(proc)
    assert status == -signal.SIGINT, (status, out, err)
    assert "chosen" not in out
    assert "KeyboardInterrupt" in err
    # The traceback ends at the app's call, as if Python had raised it there.
    traceback = err[err.index("Traceback (most recent call last):"):]
    traceback = traceback[:traceback.index("\nKeyboardInterrupt")]
    assert traceback.count('File "') == 1, err
    assert "QFileDialog.getOpenFileName" in traceback and "pyqtguard" not in traceback, err


def test_ctrl_c_in_a_top_level_qeventloop_of_a_console_tool(tmp_path):
    # A QCoreApplication tool waiting on a QEventLoop (no windows at all).
    proc = start(tmp_path, """
        import pyqtguard
        pyqtguard.install(exit_timeout=5)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(300, lambda: print("ready", flush=True))
        try:
            loop.exec()
        except KeyboardInterrupt:
            print("KeyboardInterrupt out of loop.exec()", flush=True)
            raise
        print("loop returned", flush=True)
    """)
    proc.send_signal(signal.SIGINT)
    status, out, err = finish(proc)
    assert status == -signal.SIGINT, (status, out, err)
    assert "KeyboardInterrupt out of loop.exec()" in out
    assert "loop returned" not in out


def test_between_dialogs_ctrl_c_is_python_s_again(tmp_path):
    # Armed only while a loop runs: in the work between two dialogs SIGINT
    # raises KeyboardInterrupt in that work, as without pyqtguard.
    result = run_app("""
        import os, signal, sys, time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        QtCore.QTimer.singleShot(100, lambda: QtWidgets.QApplication.activeModalWidget().done(0))
        QtWidgets.QMessageBox.information(None, "Step 1", "Go")
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
            print("not interrupted", flush=True)
        except KeyboardInterrupt:
            print("KeyboardInterrupt in the work", flush=True)
        dialog = QtWidgets.QDialog()
        QtCore.QTimer.singleShot(100, dialog.accept)
        print("second", dialog.exec(), flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert result.stdout.split("\n")[:2] == ["KeyboardInterrupt in the work", "second 1"], \
        result.describe()


def test_a_refused_close_keeps_the_dialog_running(tmp_path):
    # A wizard whose closeEvent refuses (the user cancels "really quit?"):
    # the first Ctrl+C leaves it running; the second ask closes it.
    result = run_app("""
        import os, signal, sys
        import pyqtguard
        pyqtguard.install(exit_timeout=5)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        closes = []
        class Wizard(QtWidgets.QWizard):
            def closeEvent(self, event):
                closes.append(1)
                print("closeEvent", len(closes), flush=True)
                if len(closes) == 1:
                    event.ignore()
                else:
                    super().closeEvent(event)
        wizard = Wizard()
        wizard.addPage(QtWidgets.QWizardPage())
        QtCore.QTimer.singleShot(200, lambda: os.kill(os.getpid(), signal.SIGINT))
        QtCore.QTimer.singleShot(800, lambda: os.kill(os.getpid(), signal.SIGINT))
        try:
            wizard.exec()
        except KeyboardInterrupt:
            print("KeyboardInterrupt out of exec()", flush=True)
            raise
    """, tmp_path, timeout=30)
    assert result.returncode == -signal.SIGINT, result.describe()
    assert result.stdout.split("\n")[:3] == ["closeEvent 1", "closeEvent 2",
                                             "KeyboardInterrupt out of exec()"], result.describe()
    assert "refused to close" in result.log
    assert "second SIGINT" not in result.stderr


# ---- the rest of what the loop brings ------------------------------------------------

def test_a_thread_left_behind_after_a_dialog_app_still_gets_the_exit_deadline(tmp_path):
    result = run_app("""
        import sys, threading
        import pyqtguard
        pyqtguard.install(exit_timeout=1)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        threading.Thread(target=threading.Event().wait, name="forgotten-upload").start()
        dialog = QtWidgets.QDialog()
        QtCore.QTimer.singleShot(100, dialog.accept)
        sys.exit(dialog.exec())
    """, tmp_path, timeout=30)
    assert result.returncode == 124, result.describe()
    assert "forgotten-upload" in result.log


def test_a_qeventloop_in_a_worker_thread_is_not_a_top_level_loop(tmp_path):
    # A plain thread running its own QEventLoop while the GUI thread works
    # with no loop: not the GUI thread's loop, nothing is armed for it.
    result = run_app("""
        import os, signal, sys, threading, time
        import pyqtguard
        pyqtguard.install(freeze_ms=200)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        def worker():
            loop = QtCore.QEventLoop()
            QtCore.QTimer.singleShot(800, loop.quit)
            loop.exec()
        thread = threading.Thread(target=worker)
        thread.start()
        try:
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(3)
        except KeyboardInterrupt:
            print("KeyboardInterrupt in the main thread", flush=True)
        thread.join()
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "KeyboardInterrupt in the main thread" in result.stdout, result.describe()
    assert "GUI freeze" not in result.log


def test_an_exception_in_a_top_level_dialog_is_written_while_it_waits(tmp_path):
    # PyQt6 hands a slot's exception to sys.excepthook, which queues it; the
    # GUI thread writes it at its loop's next turn - also in a dialog's loop
    # run in the application's place, not only when the dialog has ended
    # (no Python code runs meanwhile: the dialog is ended by a C++ slot).
    result = run_app("""
        import sys, time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        dialog = QtWidgets.QDialog()
        def broken_slot():
            raise ValueError("in a dialog's slot")
        QtCore.QTimer.singleShot(100, broken_slot)
        QtCore.QTimer.singleShot(1500, dialog.accept)
        status = dialog.exec()
        print("ended", time.time(), flush=True)
        sys.exit(status)
    """, tmp_path, timeout=30)
    assert result.returncode == 1, result.describe()
    ended = float(result.stdout.split()[1])
    stamp = re.search(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC\] pyqtguard: uncaught "
                      r"exception", result.log)
    assert stamp and "ValueError: in a dialog's slot" in result.log, result.describe()
    from datetime import datetime, timezone
    written = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(
        tzinfo=timezone.utc).timestamp()
    assert ended - written > 0.8, (ended, written, result.log)


def test_a_question_after_app_exec_gets_the_user_s_time_not_the_exit_deadline(tmp_path):
    # "Save changes?" after app.exec() returned: shutdown had begun, but the
    # user reading the question is not the exit hanging.  When it is
    # answered the deadline begins again: a thread left then still ends
    # the process with 124.
    result = run_app("""
        import sys, threading, time
        import pyqtguard
        pyqtguard.install(exit_timeout=1.5)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        QtCore.QTimer.singleShot(100, app.quit)
        app.exec()
        began = time.monotonic()
        QtCore.QTimer.singleShot(2500, lambda: QtWidgets.QApplication.activeModalWidget().done(0))
        QtWidgets.QMessageBox.question(None, "Save", "Save changes?")
        print("answered after", round(time.monotonic() - began, 1), flush=True)
        threading.Thread(target=threading.Event().wait, name="left-behind").start()
    """, tmp_path, timeout=30)
    assert result.returncode == 124, result.describe()
    assert "answered after 2." in result.stdout, result.describe()
    log = result.log
    assert "shutdown began (the Qt event loop ended)" in log
    assert "shutdown began (the Qt event loop ended, and a dialog's after it)" in log, log
    assert "left-behind" in log.split("exit timeout", 1)[1], log


def test_uninstall_puts_the_loop_starters_back_and_wraps_no_more(tmp_path):
    # QDialog is completed (and wrapped) while installed; QMessageBox only
    # after uninstall(): neither is pyqtguard's afterwards, and a freeze in a
    # top-level dialog then is not watched.
    result = run_app("""
        import sys, time
        import pyqtguard
        pyqtguard.install(freeze_ms=300)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        QtWidgets.QDialog.exec                       # completed, wrapped
        pyqtguard.uninstall()
        print(type(QtWidgets.QDialog.__dict__["exec"]).__name__,
              type(QtWidgets.QMessageBox.__dict__["question"]).__name__, flush=True)
        dialog = QtWidgets.QDialog()
        def block():
            time.sleep(0.8)
            dialog.accept()
        QtCore.QTimer.singleShot(100, block)
        print("exec", dialog.exec(), flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert result.stdout.split("\n")[:2] == ["methoddescriptor methoddescriptor", "exec 1"], \
        result.describe()
    assert "GUI freeze" not in result.log


def test_many_top_level_loops_and_a_second_application_stay_watched(tmp_path):
    """pyqtguard's Qt objects for a loop (the heartbeat timer, the Ctrl+C and
    queued-report notifiers) are kept from one top-level loop to the next:
    after 300 loops, and in a second QApplication made after the first was
    deleted, a freeze, a worker thread's exception and Ctrl+C are still seen."""
    proc = start(tmp_path, """
        import sys, threading, time
        import pyqtguard
        pyqtguard.install(exit_timeout=5, freeze_ms=300)
        from PyQt6 import QtCore, QtWidgets, sip

        def run_loop(*slots):
            loop = QtCore.QEventLoop()
            for delay, slot in slots:
                QtCore.QTimer.singleShot(delay, slot)
            loop.exec()
            return loop

        app = QtWidgets.QApplication(sys.argv)
        for _ in range(300):
            loop = QtCore.QEventLoop()
            QtCore.QTimer.singleShot(0, loop.quit)
            loop.exec()
        sip.delete(app)
        app = QtWidgets.QApplication(sys.argv)
        def fail_in_thread():
            raise ValueError("from the worker, second app")
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(0, lambda: time.sleep(0.8))
        QtCore.QTimer.singleShot(50, lambda: threading.Thread(target=fail_in_thread,
                                                              name="worker-2").start())
        QtCore.QTimer.singleShot(300, lambda: print("ready", flush=True))
        try:
            loop.exec()
        except KeyboardInterrupt:
            print("KeyboardInterrupt out of the loop", flush=True)
            raise
    """)
    proc.send_signal(signal.SIGINT)
    status, out, err = finish(proc)
    assert status == -signal.SIGINT, (status, out, err)
    assert "KeyboardInterrupt out of the loop" in out
    log = run_log(tmp_path)
    assert "GUI freeze" in log, log
    assert "ValueError: from the worker, second app" in log, log
    assert "thread 'worker-2'" in log, log


# ---- second pass: the other loops an app can run in the application's place -------

LOOP_APP = textwrap.dedent("""
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "{platform}"
    import pyqtguard
    pyqtguard.install(exit_timeout=5, freeze_ms=400)
    from PyQt6 import QtCore, QtGui, QtWidgets
    app = QtWidgets.QApplication(sys.argv)
    {setup}
    def slow_slot_in_the_gui_thread():
        time.sleep({block})
    QtCore.QTimer.singleShot(100, slow_slot_in_the_gui_thread)
    QtCore.QTimer.singleShot({ready}, lambda: print("ready", flush=True))
    try:
        result = {call}
    except (KeyboardInterrupt, SystemExit) as exc:
        print(type(exc).__name__, "out of the loop", flush=True)
        raise
    print("returned", result, flush=True)
""")


def start_loop(tmp_path: Path, setup: str, call: str, block: float = 0,
               platform: str = "offscreen") -> subprocess.Popen[str]:
    """LOOP_APP with *setup* (dedented) before *call*, the call that runs the
    app's only loop; a slot blocks *block* s in it, "ready" comes after."""
    return start(tmp_path, LOOP_APP.format(setup=textwrap.dedent(setup).strip(), call=call,
                                           block=block, ready=int(block * 1000) + 300,
                                           platform=platform))


def assert_ended_by(proc: subprocess.Popen[str], tmp_path: Path, sig: int
                    ) -> tuple[str, str]:
    """Send *sig*; the loop's call raises as app.exec() would.  The app's
    output and its run log."""
    proc.send_signal(sig)
    status, out, err = finish(proc, 8)
    raised, expected = (("KeyboardInterrupt", -signal.SIGINT) if sig == signal.SIGINT
                        else ("SystemExit", 128 + signal.SIGTERM))
    assert status == expected, (status, out, err)
    assert out.split("\n")[-1] == f"{raised} out of the loop", (out, err)
    log = run_log(tmp_path)
    assert f"{signal.Signals(sig).name} received: closing the application" in log, log
    assert "refused to close" not in log, log
    return out, log


# Loops started by a call of their own (QMenu, QDrag, QPrintDialog and
# QPageSetupDialog have an exec() that is not QDialog's), and dialogs that
# inherit QDialog.exec, run as an app's only loop.
OTHER_LOOPS = {
    "QMenu.exec": ("""
        menu = QtWidgets.QMenu()
        menu.addAction("Open"); menu.addAction("Quit")
    """, "menu.exec(QtCore.QPoint(10, 10))"),
    "QMenu.exec static": ("""
        actions = [QtGui.QAction("Open", app), QtGui.QAction("Quit", app)]
    """, "QtWidgets.QMenu.exec(actions, QtCore.QPoint(10, 10))"),
    # offscreen's drag ends at once (no loop); "minimal" runs Qt's own
    # QSimpleDrag, a QEventLoop, as X11's drag does.
    "QDrag.exec": ("""
        assert app.platformName() == "minimal"
        source = QtWidgets.QLabel("a file"); source.show()
        drag = QtGui.QDrag(source)
        data = QtCore.QMimeData(); data.setText("a file"); drag.setMimeData(data)
    """, "drag.exec()"),
    "QPrintDialog.exec": ("""
        from PyQt6 import QtPrintSupport
        printer = QtPrintSupport.QPrinter()     # kept: the dialog only points at it
        dialog = QtPrintSupport.QPrintDialog(printer)
    """, "dialog.exec()"),
    "QPageSetupDialog.exec": ("""
        from PyQt6 import QtPrintSupport
        printer = QtPrintSupport.QPrinter()     # kept: the dialog only points at it
        dialog = QtPrintSupport.QPageSetupDialog(printer)
    """, "dialog.exec()"),
    "QPrintPreviewDialog.exec": ("""
        from PyQt6 import QtPrintSupport
        printer = QtPrintSupport.QPrinter()     # kept: the dialog only points at it
        dialog = QtPrintSupport.QPrintPreviewDialog(printer)
    """, "dialog.exec()"),
    "QProgressDialog.exec": ("""
        dialog = QtWidgets.QProgressDialog("Copying", "Cancel", 0, 100)
    """, "dialog.exec()"),
    "QInputDialog.getItem": ("", 'QtWidgets.QInputDialog.getItem(None, "Pick", "Target", ["a"])'),
    "QFileDialog.exec, Qt's widget dialog": ("""
        dialog = QtWidgets.QFileDialog()
        dialog.setOption(QtWidgets.QFileDialog.Option.DontUseNativeDialog)
    """, "dialog.exec()"),
}


@pytest.mark.parametrize("loop", list(OTHER_LOOPS))
def test_other_loops_at_top_level_are_watched(tmp_path, loop):
    proc = start_loop(tmp_path, *OTHER_LOOPS[loop], block=1.0,
                      platform="minimal" if loop == "QDrag.exec" else "offscreen")
    _, log = assert_ended_by(proc, tmp_path, signal.SIGINT)
    assert log.count("GUI freeze: the event loop has not turned for") == 1, log
    assert "slow_slot_in_the_gui_thread" in log.split("GUI freeze:", 1)[1], log


# A QMessageBox with no escape button: Qt ignores its close (closeEvent).
NO_ESCAPE_BOXES = {
    "custom buttons": ("""
        box = QtWidgets.QMessageBox()
        box.setText("A new version is ready.")
        box.addButton("Install now", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Remind me", QtWidgets.QMessageBox.ButtonRole.ActionRole)
    """, "box.exec()"),
    "two NoRole buttons": ("""
        B = QtWidgets.QMessageBox.StandardButton
    """, 'QtWidgets.QMessageBox.question(None, "Overwrite", "Overwrite the files?", '
         'B.Yes | B.YesToAll | B.No | B.NoToAll)'),
}


@pytest.mark.parametrize("box", list(NO_ESCAPE_BOXES))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_message_box_without_an_escape_button_is_closed_by_a_signal(tmp_path, box, sig):
    proc = start_loop(tmp_path, *NO_ESCAPE_BOXES[box])
    assert_ended_by(proc, tmp_path, sig)


def test_a_message_box_that_refuses_in_its_own_close_event_is_left_open(tmp_path):
    # The app's closeEvent says no (not Qt's missing escape button): that
    # box is the app's to end, as any window that refuses.
    result = run_app("""
        import os, signal, sys
        import pyqtguard
        pyqtguard.install(exit_timeout=5)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        class Confirm(QtWidgets.QMessageBox):
            def closeEvent(self, event):
                print("closeEvent", flush=True)
                event.ignore()
        box = Confirm()
        box.setText("Really?")
        box.addButton("Yes", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        box.addButton("No", QtWidgets.QMessageBox.ButtonRole.ActionRole)
        QtCore.QTimer.singleShot(200, lambda: os.kill(os.getpid(), signal.SIGINT))
        QtCore.QTimer.singleShot(800, lambda: box.done(5))
        print("exec", box.exec(), flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert result.stdout.split("\n")[:2] == ["closeEvent", "exec 5"], result.describe()
    assert "refused to close" in result.log


def test_a_message_box_without_escape_inside_app_exec_is_closed_by_ctrl_c(tmp_path):
    # Nested in app.exec() (asked from a slot): app.quit() stopped at the box.
    proc = start_loop(tmp_path, """
        window = QtWidgets.QMainWindow(); window.show()
        def ask():
            B = QtWidgets.QMessageBox.StandardButton
            answer = QtWidgets.QMessageBox.question(
                window, "Overwrite", "Overwrite?", B.Yes | B.YesToAll | B.No | B.NoToAll)
            print("answer", answer, flush=True)
        QtCore.QTimer.singleShot(0, ask)
    """, "app.exec()")
    out, _ = assert_ended_by(proc, tmp_path, signal.SIGINT)
    assert out.split("\n")[-2] == "answer 0", out       # no button: NoButton, as after Escape
