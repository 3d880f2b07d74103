"""Under Wine or on Windows (not pytest, not CI): abort() leaves a crash
report.  Windows raises no exception for it (the C runtime calls its SIGABRT
handler, then ends the process), so the exception filter never saw
Py_FatalError, a C library's failed assert or os.abort(); a CRT SIGABRT
handler now reports it.  A Qt fatal error (qFatal) is reported once.

    .ci/windows/wine-python Z:/path/to/tests/windows/check_abort.py

Prints what it checked and "N passed, N failed" (exit 1 on a failure)."""
import subprocess
import sys

ABORT = """
import os, sys, threading
import pyqtguard
pyqtguard.install()
threading.Thread(target=os.abort, name="aborter").start()
"""
QFATAL = """
import pyqtguard
pyqtguard.install()
from PyQt6.QtCore import QCoreApplication, qFatal
app = QCoreApplication([])
qFatal("fatal on purpose")
"""


def run(source):
    return subprocess.run([sys.executable, "-c", source], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=60)


checks = {}
result = run(ABORT)
checks["os.abort() in a thread: one report, the thread named, abort's exit"] = (
    result.stderr.count("=== pyqtguard crash report ===") == 1
    and "signal: SIGABRT (Aborted)" in result.stderr
    and "thread: 'aborter'" in result.stderr and result.returncode != 0)
result = run(QFATAL)
checks["qFatal: one report"] = (
    result.stderr.count("=== pyqtguard crash report ===") == 1
    and "fatal on purpose" in result.stderr and result.returncode != 0)
for what, ok in checks.items():
    print("ok  " if ok else "FAIL", what)
failed = sum(not ok for ok in checks.values())
if failed:
    print(result.stderr[-3000:])
print(f"{len(checks) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
