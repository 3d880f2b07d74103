"""One small PyQt6 app per trouble, for tests/windows/cases.py.

    python case_app.py CASE [guard]

CASE: slot (raises in a slot), ctypes (ctypes.string_at(0) in a worker
thread: on Windows ctypes catches the access violation and raises OSError),
segv (a real access violation in a worker thread, faulthandler._read_null),
segv-main (the same in the GUI thread), overflow (a stack overflow in a
worker thread: Python recursion through map(), no recursion limit), freeze (the GUI thread sleeps 2 s in a slot), stuck (a
non-daemon thread never ends), ok.  With "guard", pyqtguard.install() first
(the log folder, exit timeout and freeze threshold come from the
PYQTGUARD_* variables cases.py sets).  Each prints a line before the trouble
and "exit" after app.exec() returns."""
import sys

if len(sys.argv) > 2 and sys.argv[2] == "guard":
    import pyqtguard
    pyqtguard.install()

import ctypes
import faulthandler
import threading
import time

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QLabel

case = sys.argv[1]
app = QApplication(sys.argv[:1])
label = QLabel(case)
label.show()


def recurse(n):
    return list(map(recurse, [n - 1])) if n else 0


def trouble():
    print("trouble:", case, flush=True)
    if case == "slot":
        raise ValueError("raised in a slot")
    if case in ("ctypes", "segv", "overflow"):
        if case == "overflow":   # past the C stack before the recursion limits
            sys.setrecursionlimit(1_000_000)   # (Windows' thread stacks: 2 MB)
        target = {"ctypes": lambda: ctypes.string_at(0), "segv": lambda: faulthandler._read_null(),
                  "overflow": lambda: recurse(100000)}[case]
        worker = threading.Thread(target=target, name=f"{case}-worker")
        worker.start()
        worker.join()
    if case == "segv-main":
        faulthandler._read_null()
    if case == "freeze":
        time.sleep(2)
    if case == "stuck":
        threading.Thread(target=threading.Event().wait, name="stuck-worker").start()


QTimer.singleShot(100, trouble)
QTimer.singleShot(600 if case != "freeze" else 2800, app.quit)
status = app.exec()
print("exit", status, flush=True)
sys.exit(status)
