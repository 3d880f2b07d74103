"""Under Wine or on Windows x86_64 (not pytest, not CI): two threads that
crash at once leave one whole report.  The second thread's unhandled-
exception filter used to return at once, and the system ended the process
with the first thread's report cut short (under Wine 8: 160-370 of its 2,780
lines, every run); it now waits for the report, as POSIX's handler does.

    .ci/windows/wine-python Z:/path/to/tests/windows/check_two_crashes.py [RUNS]

Prints each run's count and "N passed, N failed" (exit 1 on a failure)."""
import os
import subprocess
import sys

app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "case_app.py")
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
failed = 0
for run in range(runs):
    result = subprocess.run([sys.executable, app, "native-segv-two", "guard"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, encoding="utf-8", errors="replace",
                            timeout=60)
    err = result.stderr
    whole = ("Python stacks written: 41 of 41 threads" in err and "exception code: 0xc0000005" in err
             and result.returncode == 0xC0000005)
    failed += not whole
    print("ok  " if whole else "FAIL", f"run {run}: exit 0x{result.returncode & 0xFFFFFFFF:08X}, "
          f"{len(err.splitlines())} lines on stderr")
print(f"{runs - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
