"""Under Wine or on Windows (not pytest, not CI): Ctrl+C ends a PyQt6 app
with pyqtguard installed while its event loop waits - closeEvent,
aboutToQuit, exec() raises KeyboardInterrupt, exit status 0xC000013A
(STATUS_CONTROL_C_EXIT: Python's for an uncaught KeyboardInterrupt) - and
leaves the app's own SIGINT handler alone.  Without pyqtguard's Windows part,
Ctrl+C does nothing until some Python code runs (here: a 20 s QTimer).

    .ci/windows/wine-python Z:/path/to/tests/windows/check_ctrl_c.py

This process takes a console of its own (AllocConsole: under wine-python it
has none that Ctrl+C can be sent to), ignores Ctrl+C itself, and starts
tests/windows/ctrl_c_app.py in a new process group, which re-enables Ctrl+C
(a program started from a console window has it on); the event goes to that
group (GenerateConsoleCtrlEvent).  Prints what it checked and
"N passed, M failed" (exit 1 on a failure)."""
import ctypes
import os
import subprocess
import sys
import tempfile
import threading
import time

kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
kernel32.FreeConsole()
if not kernel32.AllocConsole():
    sys.exit(f"AllocConsole failed: {ctypes.get_last_error()}")
kernel32.SetConsoleCtrlHandler(None, True)

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ctrl_c_app.py")
CTRL_C_EXIT = 0xC000013A
log_dir = tempfile.mkdtemp(prefix="pqg-ctrl-c-")
env = dict(os.environ, PYQTGUARD_LOG_DIR=log_dir, PYQTGUARD_EXIT_TIMEOUT="4", PYTHONFAULTHANDLER="")


class App:
    def __init__(self, case):
        self.proc = subprocess.Popen([sys.executable, APP, case], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     creationflags=subprocess.CREATE_NEW_PROCESS_GROUP,
                                     text=True, encoding="utf-8", errors="replace")
        self.lines = []
        self.err = []
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout, self.lines))
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read, args=(self.proc.stderr, self.err))
        self.err_reader.start()

    @staticmethod
    def _read(stream, into):
        for line in stream:
            into.append((time.monotonic(), line.rstrip("\n")))

    def wait_for(self, text, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for _, line in self.lines:
                if line == text:
                    return True
            time.sleep(0.05)
        return False

    def ctrl_c(self):
        self.sent = time.monotonic()
        if not kernel32.GenerateConsoleCtrlEvent(0, self.proc.pid):
            raise OSError(ctypes.get_last_error(), "GenerateConsoleCtrlEvent")

    def finish(self, timeout=40):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.ended = time.monotonic()
        self.reader.join()
        self.err_reader.join()
        self.out = [line for _, line in self.lines]
        self.stderr = "\n".join(line for _, line in self.err)
        return self.proc.returncode & 0xFFFFFFFF

    def took(self):
        return self.ended - self.sent


checks = {}


def check(what, ok, app, status):
    checks[what] = ok
    close = [t for t, line in app.lines if line == "closeEvent"]
    seen = f", closeEvent {close[-1] - app.sent:.1f} s after it" if close else ""
    print("ok  " if ok else "FAIL", what, f"(exit 0x{status:08X}, {app.took():.1f} s after the last Ctrl+C{seen})")
    if not ok:
        print("    stdout:", app.out)
        print("    stderr:", app.stderr[-1500:].replace("\n", "\n            "))


# 1. The first Ctrl+C while the loop waits closes the app; exec() raises.
app = App("wait")
app.wait_for("loop running")
time.sleep(0.5)
app.ctrl_c()
status = app.finish()
check("wait: Ctrl+C closes the app at once, exec() raises KeyboardInterrupt",
      status == CTRL_C_EXIT and app.took() < 10
      and app.out[-3:] == ["closeEvent", "aboutToQuit", "exec raised KeyboardInterrupt"]
      and "pyqtguard: SIGINT received: closing the application" in app.stderr, app, status)

# 2. A window that refuses to close keeps the app running; the next Ctrl+C asks again.
app = App("refuse")
app.wait_for("loop running")
time.sleep(0.5)
app.ctrl_c()
refused = app.wait_for("refused", 10)
time.sleep(1)
still = app.proc.poll() is None
app.ctrl_c()
status = app.finish()
check("refuse: the app goes on after a refused close, the next Ctrl+C closes it",
      refused and still and status == CTRL_C_EXIT and app.took() < 10
      and app.out[-4:] == ["refused", "closeEvent", "aboutToQuit", "exec raised KeyboardInterrupt"]
      and "the application refused to close" in app.stderr, app, status)

# 3. A second Ctrl+C while closing (closeEvent sleeps 20 s) ends the process at once.
app = App("stuck")
app.wait_for("loop running")
time.sleep(0.5)
app.ctrl_c()
closing = app.wait_for("closeEvent", 10)
time.sleep(1)
app.ctrl_c()
status = app.finish()
check("stuck: a second Ctrl+C while closing ends the process at once, with the Python stacks",
      closing and status == CTRL_C_EXIT and app.took() < 8
      and "stuck closeEvent ended" not in app.out
      and "closeEvent" in app.stderr and "ctrl_c_app.py" in app.stderr
      and "native id" in app.stderr, app, status)       # the thread table (registry.listing)

# 3b. Ctrl+C while a slot sleeps (time.sleep: Windows wakes it for SIGINT): the slot ends, then the app closes.
app = App("busy")
app.wait_for("busy")
time.sleep(1)
app.ctrl_c()
status = app.finish()
check("busy: Ctrl+C while a slot sleeps: the slot ends as written, then the app closes",
      status == CTRL_C_EXIT and app.took() < 10
      and app.out[-5:] == ["busy", "busy done", "closeEvent", "aboutToQuit",
                           "exec raised KeyboardInterrupt"], app, status)

# 4. The app's own SIGINT handler: left alone (it runs when Python code next runs).
app = App("own-handler")
app.wait_for("loop running")
time.sleep(0.5)
app.ctrl_c()
status = app.finish()
check("own-handler: pyqtguard leaves the app's own SIGINT handler alone",
      status == 7 and "own handler ran" in app.out and "pyqtguard: SIGINT" not in app.stderr,
      app, status)

# 5. After the loop: Python's handler and no wake-up descriptor; Ctrl+C acts as without pyqtguard.
app = App("restore")
app.wait_for("loop running")
app.wait_for("exec returned 7", 15)
time.sleep(0.5)
app.ctrl_c()
status = app.finish()
check("restore: after the loop, Python's own handler and wake-up descriptor are back",
      "after the loop: default handler True wakeup fd -1" in app.out and "slept" not in app.out
      and status == CTRL_C_EXIT, app, status)

failed = sum(not ok for ok in checks.values())
print(f"{len(checks) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
