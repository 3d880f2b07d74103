"""A small PyQt6 app for tests/windows/check_ctrl_c.py.

    python ctrl_c_app.py CASE

Re-enables Ctrl+C for its process (it runs in a new process group, which
ignores Ctrl+C), calls pyqtguard.install(), shows a window and prints
"loop running" once app.exec() runs; a QTimer ends the app with exit()
status 7 after 20 s if nothing else did.  CASE: wait (an idle loop), refuse
(the window refuses the first close), stuck (the window's closeEvent sleeps
20 s, in Python), own-handler (the app set its own SIGINT handler first),
restore (the loop ends by itself after 1 s; prints what SIGINT's handler and
the wake-up descriptor are then), busy (a slot sleeps 3 s in time.sleep
half a second after the loop starts).  Prints what happened: "closeEvent",
"aboutToQuit", "exec raised KeyboardInterrupt" (and re-raises it), "exec
returned N"."""
import ctypes
import signal
import sys
import time

ctypes.WinDLL("kernel32").SetConsoleCtrlHandler(None, False)

import pyqtguard  # noqa: E402

case = sys.argv[1]
if case == "own-handler":
    signal.signal(signal.SIGINT, lambda *_: print("own handler ran", flush=True))
pyqtguard.install()

from PyQt6.QtCore import QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication, QLabel  # noqa: E402

closes = []


class Window(QLabel):
    def closeEvent(self, event):
        closes.append(1)
        print("closeEvent", flush=True)
        if case == "refuse" and len(closes) == 1:
            print("refused", flush=True)
            event.ignore()
            return
        if case == "stuck":
            time.sleep(20)
            print("stuck closeEvent ended", flush=True)
        event.accept()


app = QApplication(sys.argv[:1])
window = Window(case)
window.show()
app.aboutToQuit.connect(lambda: print("aboutToQuit", flush=True))
QTimer.singleShot(0, lambda: print("loop running", flush=True))


def busy():
    print("busy", flush=True)
    time.sleep(3)
    print("busy done", flush=True)


if case == "busy":
    QTimer.singleShot(500, busy)
QTimer.singleShot(1000 if case == "restore" else 20000, lambda: app.exit(7))
try:
    status = app.exec()
except KeyboardInterrupt:
    print("exec raised KeyboardInterrupt", flush=True)
    raise
print("exec returned", status, flush=True)
if case == "restore":
    print("after the loop: default handler", signal.getsignal(signal.SIGINT) is signal.default_int_handler,
          "wakeup fd", signal.set_wakeup_fd(-1), flush=True)
    time.sleep(2)            # a Ctrl+C here interrupts it, as in any Python program
    print("slept", flush=True)
sys.exit(status)
