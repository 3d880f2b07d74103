"""Under Wine or on Windows (not pytest, not CI): pyqtguard's "does this pid
run" answers right and sends nothing.  Before the fix it was os.kill(pid, 0),
a CTRL_C_EVENT there, and every pid read as running.

    .ci/windows/wine-python Z:/path/to/tests/windows/check_pid_alive.py

Prints what it checked and "2 passed, 0 failed" (exit 1 on a failure)."""
import subprocess
import sys
import time

from pyqtguard.cli import dump
from pyqtguard.logs import folder

running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
ended = subprocess.Popen([sys.executable, "-c", "pass"])
ended.wait()
time.sleep(1)
answers = {"running": (folder.holds_open(running.pid, "C:/x.log"), dump._exists(running.pid)),
           "ended": (folder.holds_open(ended.pid, "C:/x.log"), dump._exists(ended.pid))}
time.sleep(0.5)
still_running = running.poll() is None
running.kill()
checks = {"a running pid is alive, and left running": answers["running"] == (True, True)
          and still_running,
          "an ended pid is not": answers["ended"] == (False, False)}
for what, ok in checks.items():
    print("ok  " if ok else "FAIL", what, answers)
failed = sum(not ok for ok in checks.values())
print(f"{len(checks) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
