"""Worker processes' own run logs (spawn and forkserver pools of an app
that calls install() at its top): they must never push out the app's own
logs - last run's crash above all - and must stay bounded themselves.

Real pools in a subprocess app, a tmp log folder and a small keep_logs;
the tests assert which files remain and what ``pyqtguard logs``,
``pyqtguard report`` and ``last_crash()`` say.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from apprunner import child_env, run_app

KEEP = 3

POOL_APP = """
    import ctypes, multiprocessing as mp, os, sys
    import pyqtguard
    pyqtguard.install(keep_logs=%d)        # at the top: runs in every worker too
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    def work(x):
        if x < 0:
            ctypes.string_at(0)            # a worker crashes in native code
        return x * x

    if __name__ == "__main__":
        crash = pyqtguard.last_crash()
        print("last crash:", crash and (crash.reason, crash.pid), flush=True)
        method = os.environ["APP_METHOD"]
        for _ in range(int(os.environ.get("ROUNDS", "1"))):
            with ProcessPoolExecutor(max_workers=4, mp_context=mp.get_context(method)) as ex:
                print(list(ex.map(work, range(8))), flush=True)
        if os.environ.get("WORKER_CRASH"):
            with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context(method)) as ex:
                try:
                    ex.submit(work, -1).result(timeout=30)
                except BrokenProcessPool:
                    print("pool broken", flush=True)
        print("own log kept:", os.path.exists(pyqtguard.log_path()), flush=True)
        if os.environ.get("APP_CRASH"):
            ctypes.string_at(0)            # then the app itself crashes
""" % KEEP

NEXT_START = """
    import pyqtguard
    pyqtguard.install(keep_logs=%d)
    crash = pyqtguard.last_crash()
    print("last crash:", crash and (crash.reason, crash.pid))
""" % KEEP

CRASHING_APP = """
    import ctypes, os
    import pyqtguard
    pyqtguard.install(keep_logs=%d)
    print("pid", os.getpid(), flush=True)
    ctypes.string_at(0)
""" % KEEP


def _names(log_dir):
    return sorted(os.listdir(log_dir))


def app_logs(log_dir):
    from pyqtguard.logs.folder import run_logs

    return [p.name for p in run_logs(log_dir)]


def worker_logs(log_dir):
    return [n for n in _names(log_dir) if n.endswith(".log") and n not in app_logs(log_dir)]


def cli(log_dir, *args):
    return subprocess.run([sys.executable, "-m", "pyqtguard", *args, "--log-dir", str(log_dir)],
                          capture_output=True, text=True, env=child_env(log_dir), timeout=60)


def worker_cap():
    return max(KEEP, 4 * (os.cpu_count() or 1))


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_workers_never_push_out_the_apps_logs_or_last_runs_crash(tmp_path, method):
    """Before: each worker's install() pruned the folder to keep_logs as if
    it were a run of the app - the app's previous crash went, and so did
    the app's own live log (its crash report then went nowhere)."""
    first = run_app(CRASHING_APP, tmp_path)
    assert first.returncode == -11, first.describe()
    crash_log = app_logs(first.log_dir)
    assert len(crash_log) == 1

    result = run_app(POOL_APP, tmp_path, env={"APP_METHOD": method, "ROUNDS": "3",
                                               "APP_CRASH": "1"})
    assert result.returncode == -11, result.describe()
    assert "last crash: ('SIGSEGV" in result.stdout, result.describe()
    assert "own log kept: True" in result.stdout, result.describe()
    apps = app_logs(result.log_dir)
    assert len(apps) == 2 and apps[0] == crash_log[0], _names(result.log_dir)
    workers = worker_logs(result.log_dir)
    assert 4 <= len(workers) <= worker_cap(), _names(result.log_dir)

    # The next start is offered the pool app's own crash, not a worker's.
    app_pid = int(apps[1].split("-")[3])
    again = run_app(NEXT_START, tmp_path)
    assert f"last crash: ('SIGSEGV (Segmentation fault)', {app_pid})" in again.stdout, \
        again.describe()
    assert len(app_logs(result.log_dir)) == KEEP


def test_worker_logs_stay_bounded_and_leave_no_other_files(tmp_path):
    """A pool started many times leaves at most the workers' own cap of
    logs (and their .dump files), whatever keep_logs is for the app."""
    result = run_app(POOL_APP, tmp_path, env={"APP_METHOD": "spawn", "ROUNDS": "5"})
    assert result.returncode == 0, result.describe()
    for _ in range(2):
        run_app(POOL_APP, tmp_path, env={"APP_METHOD": "spawn", "ROUNDS": "5"})
    names = _names(result.log_dir)
    workers = worker_logs(result.log_dir)
    assert len(app_logs(result.log_dir)) == KEEP, names
    assert len(workers) <= worker_cap(), names
    dumps = [n for n in names if n.endswith(".dump")]
    assert len(dumps) <= KEEP + worker_cap(), names
    assert len(names) <= 2 * (KEEP + worker_cap()), names
    for name in names:
        assert os.stat(result.log_dir / name).st_mode & 0o777 == 0o600, name


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_workers_crash_is_listed_under_the_app_and_not_offered_as_its_crash(tmp_path,
                                                                                method):
    result = run_app(POOL_APP, tmp_path, env={"APP_METHOD": method, "WORKER_CRASH": "1"})
    assert result.returncode == 0, result.describe()
    assert "pool broken" in result.stdout, result.describe()
    apps = app_logs(result.log_dir)
    assert len(apps) == 1, _names(result.log_dir)
    app_pid = int(apps[0].split("-")[3])

    listing = cli(result.log_dir, "logs")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    own = [line for line in lines if f"  {app_pid}  " in line]
    assert len(own) == 1 and "  clean  " in own[0], listing.stdout
    if method == "spawn":                  # the first pool's four: one line
        assert f"4 workers of pid {app_pid}: clean" in listing.stdout, listing.stdout
    crashed = [line for line in lines if "crashed (SIGSEGV" in line]
    assert len(crashed) == 1 and "worker of pid " in crashed[0], listing.stdout
    assert f"worker of pid {app_pid}" in crashed[0], \
        listing.stdout

    report = cli(result.log_dir, "report")
    assert report.returncode == 0 and "SIGSEGV" in report.stdout, report.stdout + report.stderr

    again = run_app(NEXT_START, tmp_path)
    assert "last crash: None" in again.stdout, again.describe()


# An app whose work(x) crashes a worker for x < 0 (the apps below go on).
CRASHING_WORK = """
    import ctypes, multiprocessing as mp, os
    import pyqtguard
    pyqtguard.install(keep_logs=%d)

    def work(x):
        if x < 0:
            ctypes.string_at(0)
        return x
""" % KEEP

FORK_CHILD_CRASH_APP = CRASHING_WORK + """
    if __name__ == "__main__":
        child = mp.get_context("fork").Process(target=work, args=(-1,))
        child.start()
        child.join()
        print("child exit", child.exitcode, flush=True)
        if os.environ.get("APP_CRASH"):
            ctypes.string_at(0)
"""


def test_a_fork_childs_crash_is_not_offered_as_the_apps(tmp_path):
    result = run_app(FORK_CHILD_CRASH_APP, tmp_path)
    assert result.returncode == 0 and "child exit -11" in result.stdout, result.describe()
    again = run_app(NEXT_START, tmp_path)
    assert "last crash: None" in again.stdout, again.describe()
    # ...and when the app then crashed too, its own crash is the one offered.
    crashed = run_app(FORK_CHILD_CRASH_APP, tmp_path, env={"APP_CRASH": "1"})
    assert crashed.returncode == -11, crashed.describe()
    app_pid = int(app_logs(crashed.log_dir)[-1].split("-")[3])
    again = run_app(NEXT_START, tmp_path)
    assert f"last crash: ('SIGSEGV (Segmentation fault)', {app_pid})" in again.stdout, \
        again.describe()


ORPHAN_CRASH_APP = """
    import ctypes, multiprocessing as mp, os, time
    import pyqtguard
    pyqtguard.install(keep_logs=%d)

    def late_crash():
        time.sleep(0.5)                    # outlives the app, then crashes
        ctypes.string_at(0)

    if __name__ == "__main__":
        mp.get_context("fork").Process(target=late_crash).start()
        ctypes.string_at(0)                # the app crashes first
""" % KEEP


def test_the_apps_crash_is_offered_even_when_a_fork_child_crashed_after_it(tmp_path):
    """A fork child shares the app's log: one that outlived the crashed app
    and crashed later wrote the log's last report.  last_crash() offered
    nothing (the last report was not the app's); it is the app's own."""
    import time

    result = run_app(ORPHAN_CRASH_APP, tmp_path)
    assert result.returncode == -11, result.describe()
    [log] = app_logs(result.log_dir)
    app_pid = int(log.split("-")[3])
    for _ in range(100):                   # the orphan writes its report meanwhile
        if result.log.count("=== pyqtguard crash report ===") == 2:
            break
        time.sleep(0.05)
    assert result.log.count("=== pyqtguard crash report ===") == 2, result.log
    again = run_app(NEXT_START, tmp_path)
    assert f"last crash: ('SIGSEGV (Segmentation fault)', {app_pid})" in again.stdout, \
        again.describe()
    listing = cli(result.log_dir, "logs").stdout
    assert "crashed (SIGSEGV" in listing and "forked child crashed" in listing, listing


# ---- the pruner and the readers, in-process ------------------------------------

def _make(folder, prefix, second, pid):
    path = folder / f"{prefix}20261129-1000{second:02d}000-{pid}-0.log"
    path.write_text(f"pyqtguard 0.1.0 run log\napp: a\npid: {pid}\n\n")
    path.with_suffix(".dump").write_text("")
    return path.name


def _settle(folder, expected, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(os.listdir(folder)) != expected:
        time.sleep(0.02)
    return sorted(os.listdir(folder))


def test_a_worker_prunes_only_worker_logs_and_the_app_both_kinds_apart(tmp_path):
    from pyqtguard.logs import folder as logdir

    apps = [_make(tmp_path, "pyqtguard-", s, 100 + s) for s in range(5)]
    cap = logdir.worker_logs_kept(2)
    workers = [_make(tmp_path, "pyqtguard-worker-", 10 + s, 200 + s) for s in range(cap + 5)]
    # A worker starts (its log the newest): the app's five logs all stay.
    logdir.prune_old_runs(str(tmp_path / workers[-1]), 2)
    names = _settle(tmp_path, 2 * (5 + cap))
    assert all(name in names for name in apps), names
    assert [n for n in names if n.endswith(".log") and "worker" in n] == workers[-cap:]
    # The app starts: its own kind to keep_logs, the workers' to their cap.
    own = _make(tmp_path, "pyqtguard-", 59, 999)
    logdir.prune_old_runs(str(tmp_path / own), 2)
    names = _settle(tmp_path, 2 * (2 + cap))
    assert [n for n in names if n.endswith(".log") and "worker" not in n] == [apps[-1], own]
    assert [n for n in names if n.endswith(".dump") and "worker" not in n] == \
        [apps[-1][:-4] + ".dump", own[:-4] + ".dump"]


def test_worker_log_names_are_recognised_strictly(tmp_path):
    from pyqtguard.logs import folder as logdir

    good = "pyqtguard-worker-20261129-151426750-25772-0.log"
    assert logdir.is_worker_log_name(good) and not logdir.is_run_log(good)
    assert logdir.pid_in_name(good) == 25772
    for bad in ("pyqtguard-worker-.log", "pyqtguard-worker-x-1-2-3.log",
                good + ".bak", "pyqtguard-worker-20261129-151426750-25772-0-1.log",
                "pyqtguard-worker-worker-20261129-151426750-25772-0.log"):
        assert not logdir.is_worker_log_name(bad), bad
    (tmp_path / good).write_text("")
    (tmp_path / "pyqtguard-20261129-151426000-1-0.log").write_text("")
    assert [p.name for p in logdir.run_logs(tmp_path)] == ["pyqtguard-20261129-151426000-1-0.log"]
    assert [p.name for p in logdir.run_logs(tmp_path, workers=True)][-1] == good


def test_the_logs_limit_counts_the_apps_runs_not_its_workers(tmp_path, monkeypatch):
    from pyqtguard.logs import summary

    apps = [_make(tmp_path, "pyqtguard-", s, 100 + s) for s in (0, 20)]
    for s in range(1, 20):
        _make(tmp_path, "pyqtguard-worker-", s, 200 + s)
    runs = summary.recent_runs([tmp_path], limit=1)
    assert runs[0].path.name == apps[1] and len(runs) == 1
    runs = summary.recent_runs([tmp_path], limit=2)
    assert [r.path.name for r in runs if "worker" not in r.path.name] == apps[::-1]
    assert len(runs) == 21
    monkeypatch.setattr(summary, "MAX_WORKERS_PER_RUN", 5)
    notes: list[str] = []
    runs = summary.recent_runs([tmp_path], limit=2, notes=notes)
    assert len(runs) == 12 and notes == ["9 more worker logs not listed (--limit 0 lists all)"]


def test_a_forkserver_workers_header_names_the_app_and_the_forkserver():
    from pyqtguard.logs import summary

    text = ("pid 41 (a multiprocessing child running the main module again, forked "
            "by the forkserver pid 57)")
    assert summary._worker_of(text) == (41, 57)
    assert summary._worker_of("pid 41 (a multiprocessing child running the main "
                              "module again)") == (41, 0)
    assert summary._worker_of("pid " + "9" * 400) == (0, 0)


CHURN_APP = CRASHING_WORK + """
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if __name__ == "__main__":
        context = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as ex:
            try:
                ex.submit(work, -1).result(timeout=60)
            except BrokenProcessPool:
                print("pool broken", flush=True)
        # then a worker per task, many more than the folder keeps
        with ProcessPoolExecutor(max_workers=2, mp_context=context,
                                 max_tasks_per_child=1) as ex:
            print(sum(ex.map(work, range(int(os.environ["TASKS"])))), flush=True)
"""


def test_a_crashed_workers_log_outlives_clean_workers_churning_after_it(tmp_path):
    """Pool(maxtasksperchild=1)-style churn: every task a new worker, each a
    log.  The clean workers' header-only logs go first; the crashed
    worker's report is kept while the folder's worker logs stay capped."""
    tasks = worker_cap() * 2 + 4
    result = run_app(CHURN_APP, tmp_path, env={"TASKS": str(tasks)}, timeout=240)
    assert result.returncode == 0 and "pool broken" in result.stdout, result.describe()
    workers = worker_logs(result.log_dir)
    assert len(workers) <= worker_cap(), workers
    crashed = [n for n in workers if "SIGSEGV" in (result.log_dir / n).read_text()]
    assert len(crashed) == 1, workers
    listing = cli(result.log_dir, "logs")
    assert "crashed (SIGSEGV" in listing.stdout, listing.stdout


def test_a_forkserver_that_runs_install_is_no_worker_each_worker_has_its_own_log(tmp_path):
    """A forkserver runs install() when it imports what the app calls
    install() in: the main module from 3.14 (its preload), here a module
    named to set_forkserver_preload() (every version).  Before: the
    forkserver got a worker log, and the workers it forked wrote into it as
    its forked children - none had its own, and a worker's crash was listed
    as the forkserver's child's."""
    (tmp_path / "preloaded.py").write_text("import pyqtguard\npyqtguard.install(keep_logs=50)\n")
    result = run_app("""
        import multiprocessing as mp, os, sys
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import preloaded

        def work(x):
            import time
            time.sleep(0.2)                # each of the two workers gets tasks
            return os.getpid()

        if __name__ == "__main__":
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["preloaded"])
            with ctx.Pool(2) as pool:
                print("workers", sorted(set(pool.map(work, range(8)))), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    line = next(x for x in result.stdout.splitlines() if x.startswith("workers"))
    workers = {int(pid) for pid in line[len("workers ["):-1].split(", ")}
    logged = {int(name.split("-")[4]) for name in worker_logs(result.log_dir)}
    assert logged == workers, (_names(result.log_dir), workers)
