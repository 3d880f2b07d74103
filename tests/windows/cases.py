"""Run each case of case_app.py and spawn_app.py plain and under pyqtguard,
with the interpreter running this file (a Windows one: on Windows, or under
Wine through .ci/windows/wine-python), and print what happened.  Not a
pytest test and not run by CI; by hand:

    .ci/windows/wine-python Z:/path/to/tests/windows/cases.py [CASE...] > out.txt

Each run: exit status (hex for NTSTATUS-like ones), seconds, the last lines
of stdout and stderr, and for a guarded run the run log's report lines."""
import glob
import os
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
app = os.path.join(here, "case_app.py")
spawn_app = os.path.join(here, "spawn_app.py")
log_dir = tempfile.mkdtemp(prefix="pqg-cases-")
scripts = os.path.join(os.path.dirname(sys.executable), "Scripts")
env = dict(os.environ, PYQTGUARD_LOG_DIR=log_dir, PYQTGUARD_EXIT_TIMEOUT="4",
           PYQTGUARD_FREEZE_MS="500", PYTHONFAULTHANDLER="")
env.pop("PYTHONFAULTHANDLER")


def status_text(rc):
    if rc is None:
        return "killed (timeout)"
    return f"{rc} (0x{rc & 0xFFFFFFFF:08X})" if rc < 0 or rc > 255 else str(rc)


def tail(text, n):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-n:]


def run(title, argv, timeout=40):
    before = set(glob.glob(os.path.join(log_dir, "**", "*.log"), recursive=True))
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, text=True,
                            encoding="utf-8", errors="replace")
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        rc = None
    took = time.monotonic() - start
    print(f"=== {title}: {status_text(rc)} in {took:.1f} s", flush=True)
    for line in tail(out, 4):
        print("  out|", line[:200])
    for line in tail(err, 25):
        print("  err|", line[:200])
    logs = set(glob.glob(os.path.join(log_dir, "**", "*.log"), recursive=True)) - before
    for path in sorted(logs):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        print(f"  log {os.path.relpath(path, log_dir)}: {len(text)} chars")
        for line in tail(text, 40):
            print("  log|", line[:200])
    print(flush=True)
    return rc


cases = sys.argv[1:] or ["slot", "ctypes", "segv", "segv-main", "overflow", "native-segv",
                         "native-overflow", "native-segv-two", "freeze", "stuck",
                         "run", "spawn", "logs"]
py = sys.executable
for case in cases:
    if case in ("slot", "ctypes", "segv", "segv-main", "overflow", "native-segv",
                "native-overflow", "native-segv-two", "freeze", "stuck"):
        run(f"{case} plain", [py, app, case], timeout=20 if case == "stuck" else 40)
        run(f"{case} guarded", [py, app, case, "guard"])
    elif case == "run":
        run("run slot (python -m pyqtguard run)", [py, "-m", "pyqtguard", "run", app, "slot"])
        run("run segv (python -m pyqtguard run)", [py, "-m", "pyqtguard", "run", app, "segv"])
    elif case == "spawn":
        run("spawn plain", [py, spawn_app], timeout=30)
        run("spawn guarded", [py, spawn_app, "guard"], timeout=30)
    elif case == "logs":
        run("python -m pyqtguard logs", [py, "-m", "pyqtguard", "logs"])
        run("Scripts\\pyqtguard.exe logs", [os.path.join(scripts, "pyqtguard.exe"), "logs"])
        run("python -m pyqtguard report", [py, "-m", "pyqtguard", "report"])
print("log folder:", log_dir)
