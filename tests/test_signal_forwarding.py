"""Signals with the app's own Python handlers while a top-level loop runs
(pyqtguard.interrupts' forwarding): real apps, real signals, each compared
with what CPython and PyQt6 do without pyqtguard."""
from __future__ import annotations

import pytest

from apprunner import run_app

# A slot busy in Python code (a computation; or a read that SIGALRM's handler
# is meant to time out) must be interrupted by a Python handler at once, as
# Python interrupts any code - not when the slot is over.  SIGUSR1's handler
# stops the computation as a stack dumper would look at it: from where it is
# (an exception would do on 3.11 and 3.12; 3.13.0's own except clauses miss
# one raised by a handler in a loop, with or without pyqtguard).
BUSY = """
    import os, signal, sys, threading, time
    if {guard}:
        import pyqtguard
        pyqtguard.install(exit_timeout=5)
    from PyQt6 import QtCore, QtWidgets
    app = QtWidgets.QApplication(sys.argv)

    stop = []

    def on_signal(signum, frame):
        stop.append(frame.f_code.co_name)
        if signum == signal.SIGALRM:
            raise TimeoutError("the handler's")

    signal.signal(signal.{signame}, on_signal)
    read_end, write_end = os.pipe()

    def busy():
        started = time.monotonic()
        try:
            if {blocking}:
                signal.setitimer(signal.ITIMER_REAL, 0.3)
                os.read(read_end, 1)
            else:
                threading.Timer(0.3, os.kill, (os.getpid(), signal.{signame})).start()
                while not stop and time.monotonic() - started < 4:
                    pass
                if stop == ["busy"]:
                    raise TimeoutError("stopped by the handler")
            print("not interrupted", stop, flush=True)
        except TimeoutError:
            print(f"interrupted after {{time.monotonic() - started:.1f}} s", flush=True)
        app.quit()

    QtCore.QTimer.singleShot(100, busy)
    threading.Timer(5, os.write, (write_end, b"x")).start()
    app.exec()
"""


@pytest.mark.parametrize("guard", [False, True])
@pytest.mark.parametrize("blocking", [False, True], ids=["computing", "blocking-read"])
def test_a_python_handler_interrupts_a_busy_slot_as_without_pyqtguard(tmp_path, guard,
                                                                      blocking):
    source = BUSY.format(guard=guard, blocking=blocking,
                         signame="SIGALRM" if blocking else "SIGUSR1")
    result = run_app(source, tmp_path, timeout=60)
    assert "interrupted after 0." in result.stdout, result.describe()
    assert "not interrupted" not in result.stdout, result.describe()


# A library that chains to the handler it found (faulthandler.register(chain=
# True)), registered from a slot while the loop runs, found pyqtguard's: the
# app's Python handler must still run when it chains, after the loop too.
CHAINED = """
    import faulthandler, os, signal, sys, time
    import pyqtguard
    pyqtguard.install(exit_timeout=5)
    from PyQt6 import QtCore, QtWidgets
    app = QtWidgets.QApplication(sys.argv)
    calls = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: calls.append(signum))
    sink = open(os.devnull, "w")
    QtCore.QTimer.singleShot(
        50, lambda: faulthandler.register(signal.SIGUSR1, file=sink, chain=True))
    QtCore.QTimer.singleShot(150, app.quit)
    app.exec()
    for _ in range(3):
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.02)
    print("after the loop", len(calls), flush=True)
    faulthandler.unregister(signal.SIGUSR1)
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.02)
    print("after unregister", len(calls), flush=True)
"""


def test_a_library_chaining_to_the_handler_it_found_still_reaches_python(tmp_path):
    result = run_app(CHAINED, tmp_path, timeout=60)
    assert "after the loop 3" in result.stdout, result.describe()
    assert "after unregister 4" in result.stdout, result.describe()


# A SIGTERM handler that calls sys.exit(3) (a common way to end a Qt app on
# SIGTERM): in PyQt6 a slot's SystemExit ends the process with its status;
# the handler, run in pyqtguard's slot, must do the same, not be reported as
# an uncaught exception with the app going on.
SYS_EXIT = """
    import os, signal, sys
    import pyqtguard
    pyqtguard.install(exit_timeout=5)
    from PyQt6 import QtCore, QtWidgets
    app = QtWidgets.QApplication(sys.argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(3))
    QtCore.QTimer.singleShot(200, lambda: os.kill(os.getpid(), signal.SIGTERM))
    QtCore.QTimer.singleShot(5000, lambda: (print("still running", flush=True), app.quit()))
    app.exec()
    print("exec returned", flush=True)
"""


def test_a_handler_s_sys_exit_in_app_exec_ends_the_app_as_a_slot_s_does(tmp_path):
    result = run_app(SYS_EXIT, tmp_path, timeout=60)
    assert result.returncode == 3, result.describe()
    assert "still running" not in result.stdout, result.describe()
    assert "uncaught exception" not in result.stderr, result.describe()


# A dialog app (its dialog's exec() in app.exec()'s place): there the first
# signal waits for pyqtguard's slot (so that a test's pytest-timeout ends the
# wait); a second one while the GUI thread is still busy reaches the busy
# slot at once, as without pyqtguard.
DIALOG_BUSY = """
    import os, signal, sys, threading, time
    import pyqtguard
    pyqtguard.install(exit_timeout=5)
    from PyQt6 import QtCore, QtWidgets
    app = QtWidgets.QApplication(sys.argv)
    dialog = QtWidgets.QDialog()
    stop = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: stop.append(frame.f_code.co_name))

    def busy():
        started = time.monotonic()
        for delay in (0.2, 0.4):
            threading.Timer(delay, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        while not stop and time.monotonic() - started < 4:
            pass
        print(f"stopped {{stop}} after {{time.monotonic() - started:.1f}} s", flush=True)
        dialog.done(0)

    QtCore.QTimer.singleShot(100, busy)
    dialog.exec()
"""


def test_a_second_signal_reaches_a_busy_slot_in_a_dialog_app(tmp_path):
    result = run_app(DIALOG_BUSY.format(), tmp_path, timeout=60)
    assert "stopped ['busy'] after 0." in result.stdout, result.describe()
