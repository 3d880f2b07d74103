"""Under Wine or on Windows (not pytest, not CI): `pyqtguard dump` refuses
at once, saying the system has no /proc, even where a folder named
\\proc\\self exists on the current drive (any user may make one on Windows;
under Wine, "/proc" is the Linux host's).  Before, such a folder let the
command go on to read what it found there as the target's proof - and the
signal it then sends is, on Windows, TerminateProcess.

    .ci/windows/wine-python Z:/path/to/tests/windows/check_dump_no_proc.py

Prints what it checked and "2 passed, 0 failed" (exit 1 on a failure)."""
import os
import subprocess
import sys
import tempfile

drive = tempfile.mkdtemp()
os.chdir(drive)
os.makedirs(os.path.join(os.path.splitdrive(drive)[0] + os.sep, "proc", "self"), exist_ok=True)
target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
asked = subprocess.run([sys.executable, "-m", "pyqtguard", "dump", str(target.pid)],
                       capture_output=True, text=True, timeout=60)
still_running = target.poll() is None
target.kill()
checks = {"refused, because the system has no /proc": asked.returncode != 0
          and "this system has no /proc" in asked.stderr,
          "the target is left running": still_running}
for what, ok in checks.items():
    print("ok  " if ok else "FAIL", what, repr(asked.stderr[-300:]))
failed = sum(not ok for ok in checks.values())
print(f"{len(checks) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
