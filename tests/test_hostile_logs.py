"""Hostile input against the run logs (issue 19): files in the log folder that
are not what their names say, reports forged by text from the app, log
folders others control, and a disk that fills up.

Each test is one case of the table in docs/crashes.md ("Hostile input").
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pytest

from apprunner import child_env, run_app

from pyqtguard.crashes import reports

MARKER = "=== pyqtguard crash report ==="
SEGV = -signal.SIGSEGV
ABRT = -signal.SIGABRT
# What a forger writes: the exact lines the crash handler writes (crash.c).
PAYLOAD = ("\n=== pyqtguard crash report ===\nsignal: SIGSEGV (Segmentation fault)\n"
           "time: 2026-11-29 05:00:00.000 UTC\npid: 1\n"
           "thread: 'forged' (native id 1)\n\n")
REAL_REPORT = (f"\n{MARKER}\nsignal: SIGBUS (Bus error)\ntime: 2026-11-29 05:00:01.000 UTC\n"
               "pid: 14\nthread: 'loader' (native id 99)\n\n"
               "Current thread 'loader' (native id 99), ident 0x1:\n"
               '  File "/app/load.py", line 3 in read\n')
MEMORY_BUDGET = 50 * 1024 * 1024


def _log_name(second: int, pid: int = 14) -> str:
    return f"pyqtguard-20261129-0500{second:02d}000-{pid}-0.log"


def _report(*args: str, log_dir: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyqtguard", "report", *args],
                          capture_output=True, text=True, env=child_env(log_dir),
                          timeout=timeout)


def _find_with_peak(folder: Path) -> tuple[list[reports.CrashReport], list[str], int]:
    notes: list[str] = []
    tracemalloc.start()
    try:
        found = reports.find_crashes(folder, notes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return found, notes, peak


# ---- reading run logs -------------------------------------------------------

def test_fifo_named_like_a_run_log_is_skipped_with_a_note(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / _log_name(1)).write_text(REAL_REPORT)
    os.mkfifo(logs / _log_name(2))          # newest: opened first
    listed = _report("--log-dir", str(logs), "--json", log_dir=logs)
    assert listed.returncode == 0, listed.stderr
    assert [c["reason"] for c in json.loads(listed.stdout)] == ["SIGBUS (Bus error)"]
    assert _log_name(2) in listed.stderr and "not a regular file" in listed.stderr


def test_last_crash_does_not_hang_on_a_fifo(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    os.mkfifo(logs / _log_name(2))
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        print("last:", pyqtguard.last_crash())
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "last: None" in result.stdout


@pytest.mark.parametrize("size", [2 << 30, 8 << 30], ids=["2GB", "8GB-sparse"])
def test_huge_log_is_read_from_its_tail_only(tmp_path, size):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    path = logs / _log_name(1)
    with open(path, "wb") as stream:     # sparse: no disk used
        stream.truncate(size - len(REAL_REPORT))
        stream.seek(0, os.SEEK_END)
        stream.write(REAL_REPORT.encode())
    found, notes, peak = _find_with_peak(logs)
    assert [c.reason for c in found] == ["SIGBUS (Bus error)"], notes
    assert found[0].frame == 'File "/app/load.py", line 3 in read'
    assert peak < MEMORY_BUDGET, peak


def test_symlink_to_dev_zero_is_skipped_with_a_note(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / _log_name(1)).write_text(REAL_REPORT)
    (logs / _log_name(2)).symlink_to("/dev/zero")
    found, notes, peak = _find_with_peak(logs)
    assert [c.reason for c in found] == ["SIGBUS (Bus error)"]
    assert any(_log_name(2) in n and "not a regular file" in n for n in notes), notes
    assert peak < MEMORY_BUDGET, peak


def test_a_5000_digit_native_id_skips_that_file_only(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / _log_name(1)).write_text(REAL_REPORT)
    (logs / _log_name(2)).write_text(REAL_REPORT.replace("native id 99)", f"native id {'9' * 5000})"))
    (logs / _log_name(3)).write_text(REAL_REPORT.replace("pid: 14", f"pid: {'1' * 5000}"))
    found, notes, _ = _find_with_peak(logs)
    assert [c.reason for c in found] == ["SIGBUS (Bus error)"]
    assert len(notes) == 2 and _log_name(2) in notes[1] + notes[0], notes
    listed = _report("--log-dir", str(logs), "--json", log_dir=logs)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 1 and "Traceback" not in listed.stderr


@pytest.mark.parametrize("kind", ["directory", "symlink-loop", "dangling-symlink", "socket"])
def test_other_things_named_like_run_logs_are_skipped_with_a_note(tmp_path, kind,
                                                                 monkeypatch):
    import socket

    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / _log_name(1)).write_text(REAL_REPORT)
    odd = logs / _log_name(2)
    if kind == "directory":
        odd.mkdir()
    elif kind == "symlink-loop":
        odd.symlink_to(odd.name)
    elif kind == "dangling-symlink":
        odd.symlink_to(tmp_path / "gone")
    else:
        server = socket.socket(socket.AF_UNIX)
        monkeypatch.chdir(logs)           # a relative name: AF_UNIX paths are short
        server.bind(odd.name)
        server.close()
    found, notes, _ = _find_with_peak(logs)
    assert [c.reason for c in found] == ["SIGBUS (Bus error)"]
    assert len(notes) == 1 and _log_name(2) in notes[0], notes


def test_report_at_the_very_start_and_unicode_line_breaks(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    pending = ("\nUncaught exceptions not reported in full yet (their reports wait "
               "for the GIL):\n  [t] thread 'x': ValueError in f (a.py:1): a\u2028b\n")
    (logs / _log_name(1)).write_text(REAL_REPORT.lstrip("\n").replace("\n\n", "\n" + pending + "\n", 1))
    [crash] = reports.find_crashes(logs)
    assert crash.pending_exceptions == ("[t] thread 'x': ValueError in f (a.py:1): a\u2028b",)


def _world_readable_tmp() -> Path:
    """A folder another user can reach (pytest's tmp_path is 0700 root)."""
    folder = Path(tempfile.mkdtemp(prefix="pqg-hostile-"))
    folder.chmod(0o755)
    return folder


_AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _can_run_as_nobody() -> bool:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    probe = subprocess.run([*_AS_NOBODY, sys.executable, "-c", "import pyqtguard"],
                           capture_output=True, env=child_env(Path("/nonexistent")), timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_run_as_nobody(),
                    reason="needs root, setpriv and a Python that another user can run")
def test_unreadable_folder_is_a_note_not_no_crash_reports():
    base = _world_readable_tmp()
    try:
        logs = base / "logs"
        logs.mkdir(mode=0o700)                  # root's: nobody cannot list it
        (logs / _log_name(1)).write_text(REAL_REPORT)
        listed = subprocess.run(
            [*_AS_NOBODY, sys.executable, "-m", "pyqtguard", "report", "--log-dir", str(logs)],
            capture_output=True, text=True, env=child_env(logs), timeout=30)
        assert listed.returncode == 2, listed
        assert "cannot read" in listed.stderr and str(logs) in listed.stderr
        assert "no crash reports" not in listed.stdout
    finally:
        shutil.rmtree(base)


# ---- forged crash reports ---------------------------------------------------

_CLEAN_EXIT = f"""
import sys, threading
import pyqtguard
pyqtguard.install()
from PyQt6 import QtCore
PAYLOAD = {PAYLOAD!r}
{{forge}}
{{then}}
"""
FORGERS = {
    "exception-message": "sys.excepthook(ValueError, ValueError('bad record: ' + PAYLOAD), None)",
    "thread-name": ("t = threading.Thread(target=lambda: 1 / 0, name='worker' + PAYLOAD)\n"
                    "t.start(); t.join()"),
    "qt-message": "QtCore.qWarning('decoder: ' + PAYLOAD)",
    # A path from the app: a traceback's 'File "..."' line.
    "file-name": ("try:\n"
                  "    exec(compile('1 / 0', 'plugin.py' + PAYLOAD, 'exec'))\n"
                  "except ZeroDivisionError:\n"
                  "    sys.excepthook(*sys.exc_info())"),
    # A report asked for while one is being formatted: the C-only writer
    # (src/tbformat.c) writes it.
    "reentrant-report": (
        "class Loud(Exception):\n"
        "    def __str__(self):\n"
        "        sys.excepthook(ValueError, ValueError('inner: ' + PAYLOAD), None)\n"
        "        return 'outer'\n"
        "sys.excepthook(Loud, Loud(), None)"),
    "exception-in-callback": (
        "def bad_callback(record):\n"
        "    raise RuntimeError('callback: ' + PAYLOAD)\n"
        "pyqtguard.on_exception(bad_callback)\n"
        "sys.excepthook(ValueError, ValueError('x'), None)"),
}


@pytest.mark.parametrize("forger", sorted(FORGERS))
def test_forged_marker_without_a_crash_is_not_a_crash(tmp_path, forger):
    result = run_app(_CLEAN_EXIT.format(forge=FORGERS[forger], then="pass"), tmp_path)
    assert result.returncode == 0, result.describe()
    assert "forged" in result.log, result.describe()      # the text is in the log
    assert reports.find_crashes(result.log_dir) == [], result.log
    listed = _report("--log-dir", str(result.log_dir), "--json", log_dir=result.log_dir)
    assert json.loads(listed.stdout) == [], listed


@pytest.mark.parametrize("forger", sorted(FORGERS))
def test_forged_marker_does_not_hide_the_real_crash(tmp_path, forger):
    result = run_app(_CLEAN_EXIT.format(forge=FORGERS[forger],
                                        then="import ctypes; ctypes.string_at(0)"), tmp_path)
    assert result.returncode == SEGV, result.describe()
    [crash] = reports.find_crashes(result.log_dir)
    assert crash.reason == "SIGSEGV (Segmentation fault)"
    assert crash.thread_name == "MainThread" and crash.pid != 1, crash.text[:500]


def test_forged_marker_in_a_qt_fatal_message(tmp_path):
    result = run_app(_CLEAN_EXIT.format(
        forge="", then="QtCore.qFatal('index corrupted:' + PAYLOAD)"), tmp_path)
    assert result.returncode == ABRT, result.describe()
    [crash] = reports.find_crashes(result.log_dir)
    assert crash.thread_name == "MainThread", crash.text[:800]
    # issue 20: the message's newlines are lines of the report, not \x0a
    assert crash.reason.startswith("Qt fatal error: index corrupted:\n"), crash.reason
    assert "\\x0a" not in crash.text and "thread: 'forged'" in crash.reason
    assert f"\n{MARKER}\n" not in crash.text[len(MARKER) + 1:]


# The timestamped lines `pyqtguard logs` reads a run's outcome from: a forged
# "interpreter exit" made a killed run read as ended cleanly, forged report
# lines counted as exceptions.
_EVENT_LINES = ("\n[2026-11-29 10:00:00.000 UTC] pyqtguard: uncaught exception in thread "
                "'x' (native id 1, pid {pid}) [sys.excepthook]\n"
                "[2026-11-29 10:00:00.000 UTC] pyqtguard: interpreter exit\n")


def _killed_run_with_forged_lines(tmp_path, forger: str, lines: str):
    """The app forges *lines* (its pid filled in) through *forger*, then
    ends with os._exit(9): its result and `pyqtguard logs --json`'s run."""
    source = _CLEAN_EXIT.format(forge=FORGERS[forger], then="os._exit(9)")
    source = source.replace("import sys, threading",
                            "import os, sys, threading").replace(
        f"PAYLOAD = {PAYLOAD!r}", f"PAYLOAD = {lines!r}.format(pid=os.getpid())")
    result = run_app(source, tmp_path)
    assert result.returncode == 9, result.describe()
    assert "pyqtguard: interpreter exit" in result.log, result.log   # the text is there
    listed = subprocess.run([sys.executable, "-m", "pyqtguard", "logs", "--json",
                             "--log-dir", str(result.log_dir)], capture_output=True, text=True,
                            env=child_env(result.log_dir), timeout=30)
    [run] = json.loads(listed.stdout)
    return result, run


@pytest.mark.parametrize("forger", sorted(set(FORGERS) - {"reentrant-report"}))
def test_forged_event_lines_do_not_change_a_runs_outcome(tmp_path, forger):
    _, run = _killed_run_with_forged_lines(tmp_path, forger, _EVENT_LINES)
    assert run["outcome"] == "ended unrecorded", run
    # the real report counts (a thread's name on its header's line), the
    # forged line not; a Qt warning and a callback's own error are no exception
    assert run["exceptions"] == (0 if forger == "qt-message" else 1), run


# Line ends other than the writers' "\n": bytes.splitlines() also ends a
# line at "\r", str.splitlines() at "\x0b", "\x0c", "\x1c"-"\x1e", "\x85",
# U+2028 and U+2029; a terminal's "\r" returns to the line's start, so a
# `cat` of the log showed the forged line in place of the real one.
_OTHER_LINE_ENDS = {"cr": "\r", "crlf": "\r\n", "vt": "\x0b", "ff": "\x0c", "fs": "\x1c",
                    "nel": "\x85", "ls": "\u2028", "ps": "\u2029"}


@pytest.mark.parametrize(("forger", "line_end"), [
    (forger, line_end) for forger in ("exception-message", "thread-name", "qt-message")
    for line_end in sorted(_OTHER_LINE_ENDS)
    # PyQt6's qWarning() takes ASCII only
    if forger != "qt-message" or _OTHER_LINE_ENDS[line_end].isascii()])
def test_forged_event_lines_behind_other_line_ends(tmp_path, forger, line_end):
    lines = _EVENT_LINES.replace("\n", _OTHER_LINE_ENDS[line_end])
    result, run = _killed_run_with_forged_lines(tmp_path, forger, lines)
    assert run["outcome"] == "ended unrecorded", run
    assert run["exceptions"] == (0 if forger == "qt-message" else 1), run
    # what a terminal shows: no line of the log, cut where a terminal or a
    # reader would cut it, begins with a forged timestamp
    raw = (result.log_dir / Path(run["path"]).name).read_bytes().decode("utf-8", "replace")
    for line in raw.splitlines():
        assert not line.startswith("[2026-11-29 10:00:00.000 UTC]"), repr(line)


def test_a_log_of_an_older_version_with_a_forged_line_behind_a_carriage_return(tmp_path):
    """Written before the writer indented after "\r": the reader alone must
    not take the text behind it for a line."""
    source = _CLEAN_EXIT.format(forge="", then=(
        "from pyqtguard import _native\n"
        "os.write(_native.log_fd(), b'ValueError: bad\\r[2026-11-29 10:00:00.000 UTC] '\n"
        "         b'pyqtguard: interpreter exit\\n')\n"
        "os._exit(9)")).replace("import sys, threading", "import os, sys, threading")
    result = run_app(source, tmp_path)
    assert result.returncode == 9, result.describe()
    [log] = result.log_dir.glob("*.log")
    assert b"\r[2026-11-29 10:00:00.000 UTC] pyqtguard: interpreter exit" in log.read_bytes()
    listed = subprocess.run([sys.executable, "-m", "pyqtguard", "logs", "--json",
                             "--log-dir", str(result.log_dir)], capture_output=True, text=True,
                            env=child_env(result.log_dir), timeout=30)
    [run] = json.loads(listed.stdout)
    assert run["outcome"] == "ended unrecorded", run


@pytest.mark.parametrize("line_end", sorted(_OTHER_LINE_ENDS))
def test_forged_crash_report_behind_other_line_ends(tmp_path, line_end):
    payload = PAYLOAD.replace("\n", _OTHER_LINE_ENDS[line_end])
    source = _CLEAN_EXIT.format(forge=FORGERS["exception-message"], then="pass").replace(
        f"PAYLOAD = {PAYLOAD!r}", f"PAYLOAD = {payload!r}")
    result = run_app(source, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "forged" in result.log, result.describe()
    assert reports.find_crashes(result.log_dir) == [], result.log
    listed = _report("--log-dir", str(result.log_dir), "--json", log_dir=result.log_dir)
    assert json.loads(listed.stdout) == [], listed


def test_forged_old_log_the_parser_takes_the_handlers_report(tmp_path):
    """A log of an older version, where the forged marker came first."""
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / _log_name(1)).write_text("ValueError: bad record: " + PAYLOAD + "\n" + REAL_REPORT)
    [crash] = reports.find_crashes(logs)
    assert crash.thread_name == "loader" and crash.reason == "SIGBUS (Bus error)"


def test_marker_inside_a_line_is_not_a_marker(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / _log_name(1)).write_text("[t] Qt warning: x" + PAYLOAD.replace("\n", "\r"))
    assert reports.find_crashes(logs) == []


# ---- log folders ------------------------------------------------------------

_EXCEPTION_RUN = """
import sys
import pyqtguard
pyqtguard.install()
print("log:", pyqtguard.log_path(), flush=True)
sys.excepthook(ValueError, ValueError("reported"), None)
"""


def _assert_refused(result, folder: Path, reason: str) -> None:
    assert result.returncode == 0, result.describe()
    assert "log: None" in result.stdout, result.describe()
    warnings = [line for line in result.stderr.splitlines() if str(folder) in line]
    assert len(warnings) == 1 and reason in warnings[0], result.stderr
    assert "ValueError: reported" in result.stderr      # the report: stderr only
    assert not any(p.name.endswith(".log") for p in folder.iterdir())


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_folder_owned_by_another_user_is_not_used(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    result = run_app(_EXCEPTION_RUN, tmp_path)
    _assert_refused(result, folder, "owned by another user")


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777], ids=["777", "770", "sticky-1777"])
def test_folder_writable_by_others_is_not_used(tmp_path, mode):
    folder = tmp_path / "logs"
    folder.mkdir()
    folder.chmod(mode)
    result = run_app(_EXCEPTION_RUN, tmp_path)
    _assert_refused(result, folder, "writable by group or others")


def test_folders_created_are_private_whatever_the_umask(tmp_path):
    state = tmp_path / "state"
    result = run_app("import os\nos.umask(0)\n" + _EXCEPTION_RUN, tmp_path,
                     env={"PYQTGUARD_LOG_DIR": "", "XDG_STATE_HOME": str(state)},
                     script_name="viewer.py")
    assert result.returncode == 0, result.describe()
    for folder in (state, state / "pyqtguard", state / "pyqtguard" / "viewer"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    [log] = (state / "pyqtguard" / "viewer").glob("pyqtguard-*.log")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_symlink_to_a_private_folder_is_used(tmp_path, slash):
    real = tmp_path / "real-logs"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    result = run_app(_EXCEPTION_RUN, tmp_path, env={"PYQTGUARD_LOG_DIR": str(link) + slash})
    assert result.returncode == 0, result.describe()
    assert "cannot write run logs" not in result.stderr, result.stderr
    [log] = real.glob("pyqtguard-*.log")
    assert "ValueError: reported" in log.read_text()


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_symlink_to_a_shared_folder_is_refused(tmp_path, slash):
    real = tmp_path / "shared"
    real.mkdir()
    real.chmod(0o777)
    link = tmp_path / "link"
    link.symlink_to(real)
    result = run_app(_EXCEPTION_RUN, tmp_path, env={"PYQTGUARD_LOG_DIR": str(link) + slash})
    _assert_refused(result, link, "writable by group or others")


def test_last_crash_ignores_a_report_planted_in_a_shared_folder(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    folder.chmod(0o777)
    (folder / _log_name(1)).write_text(REAL_REPORT)   # "crashed last time"
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        print("last:", pyqtguard.last_crash())
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "last: None" in result.stdout, result.describe()


# ---- a full disk ------------------------------------------------------------

# RLIMIT_FSIZE makes every write past the limit fail with EFBIG, as a full
# disk fails with ENOSPC; SIGXFSZ ignored, as a full disk sends none.
_FILL = """
import os, resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
def disk_full(at=0):
    resource.setrlimit(resource.RLIMIT_FSIZE, (at, resource.RLIM_INFINITY))
def disk_freed():
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
"""


def test_start_with_a_full_disk_leaves_no_empty_log(tmp_path):
    result = run_app(_FILL + "disk_full()\n" + _EXCEPTION_RUN, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.logs == [], [p.stat().st_size for p in result.logs]
    assert "log: None" in result.stdout
    assert "ValueError: reported" in result.stderr


def test_disk_full_then_crash_warns_at_once(tmp_path):
    result = run_app(_FILL + """
import ctypes, sys, time
import pyqtguard
from pyqtguard import _native
pyqtguard.install()
disk_full(os.fstat(_native.log_fd()).st_size)
sys.excepthook(ValueError, ValueError("lost on disk"), None)
time.sleep(0.5)
ctypes.string_at(0)
""", tmp_path)
    assert result.returncode == SEGV, result.describe()
    warnings = [line for line in result.stderr.splitlines()
                if line.startswith("pyqtguard: cannot write to the run log")]
    assert len(warnings) == 1, result.stderr
    assert str(result.logs[0]) in warnings[0]


def test_disk_freed_again_the_log_says_what_is_missing(tmp_path):
    result = run_app(_FILL + """
import sys, time
import pyqtguard
from pyqtguard import _native
pyqtguard.install(repeat_interval=0)   # each report written, not counted
disk_full(os.fstat(_native.log_fd()).st_size)
for n in range(3):
    sys.excepthook(ValueError, ValueError(f"lost {n}"), None)
    time.sleep(0.2)
disk_freed()
sys.excepthook(ValueError, ValueError("written again"), None)
""", tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert "lost 0" not in log and "ValueError: written again" in log, log
    assert "3 entries could not be written" in log, log
    assert log.index("could not be written") < log.index("written again")
    warnings = [line for line in result.stderr.splitlines()
                if line.startswith("pyqtguard: cannot write to the run log")]
    assert len(warnings) == 1, result.stderr


# ---- the defusing rule, byte for byte ---------------------------------------

_DEFUSE_CHECK = r"""
import json, os, random, sys
import pyqtguard
from pyqtguard import _native
pyqtguard.install()
# Printable ASCII in runs (copied eight bytes at a time) broken by what the
# rule looks at: every line end, the two marker characters, other bytes.
pieces = ["a", "bcdefgh", "0123456789abcdef", " ", "=", "[", "\n", "\r", "\x0b", "\x0c",
          "\x1c", "\x1d", "\x1e", "\x1f", "\x7f", "\x85", "\u2028", "\u2029", "é", "\t", "\x00"]
rng = random.Random(int(sys.argv[1]))
path = pyqtguard.log_path()
mismatches = []
for _ in range(1500):
    text = "".join(rng.choice(pieces) * rng.randint(1, 9) for _ in range(rng.randint(0, 12)))
    before = os.path.getsize(path)
    _native.log_write(text)
    with open(path, "rb") as log:
        log.seek(before)
        written = log.read()
    mismatches.append((text, written.decode("utf-8", "surrogateescape")))
print(json.dumps(mismatches))
"""


def _defused(text: str) -> bytes:
    """The rule of src/logfd.c (pqg_defuse_text), one byte at a time: a line
    of the app's text that begins with '=', or with '[' past its first line,
    gets two spaces in front."""
    data = text.encode("utf-8")
    out = bytearray()
    line_start, first_line = True, True
    for i, byte in enumerate(data):
        if line_start and (byte == ord("=") or (byte == ord("[") and not first_line)):
            out += b"  "
        out.append(byte)
        line_start = (byte in b"\n\r\x0b\x0c\x1c\x1d\x1e"
                      or (byte == 0x85 and i >= 1 and data[i - 1] == 0xC2)
                      or (byte in (0xA8, 0xA9) and data[i - 2:i] == b"\xe2\x80"))
        first_line = first_line and not line_start
    return bytes(out)


@pytest.mark.parametrize("seed", [1, 2])
def test_defusing_follows_its_rule_byte_for_byte(tmp_path, seed):
    result = run_app(_DEFUSE_CHECK, tmp_path, args=[str(seed)])
    assert result.returncode == 0, result.describe()
    cases = json.loads(result.stdout)
    assert len(cases) == 1500
    for text, written in cases:
        assert written.encode("utf-8", "surrogateescape") == _defused(text), repr(text)
