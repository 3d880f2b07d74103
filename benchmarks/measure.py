"""Measuring an A/B pair of child processes on a loaded machine.

Wall time on a shared 2-core VM moves by 30% from one run to the next, with
the load of whoever else is on the machine.  So every benchmark here:

- interleaves the two variants (in random order within each pair), so both
  see the same load;
- prints the wall ratio of medians with its 95% bootstrap interval
  (:mod:`ratio`);
- prints beside it a figure the load moves much less: the CPU time (user +
  system) of the child process and its waited-for descendants, read with
  ``os.wait4`` for each run; and, on request, the instructions executed,
  counted by valgrind's callgrind (the same on every run).

A target is met when the upper end of the wall ratio's interval and the CPU
ratio are both under it (:func:`verdict`).

    >>> sample = run_child(["true"], dict(os.environ))
    >>> sample.wall >= 0 and sample.cpu >= 0
    True
"""
from __future__ import annotations

import glob
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from ratio import median_ratio_interval, ratio_line


@dataclass
class Sample:
    """One run of a child: wall seconds, CPU seconds (user + system of the
    child and its waited-for descendants), and what it printed."""

    wall: float
    cpu: float
    stdout: str = ""


def run_child(argv: list[str], env: dict[str, str], *, check: bool = True) -> Sample:
    """Run *argv* to its end; its wall time and CPU time (``os.wait4``)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout is not None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stdout is not None:
        proc.stdout.close()
    if check and proc.returncode != 0:
        raise SystemExit(f"{argv!r} failed: exit status {proc.returncode}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, out)


def interleave(variants: dict[str, object], runs: int, measure, seed: int = 1
               ) -> dict[str, list]:
    """``measure(variant)`` *runs* times for each variant, the variants in a
    fresh random order each round; name -> list of results."""
    results: dict[str, list] = {name: [] for name in variants}
    order = random.Random(seed)
    names = list(variants)
    for _ in range(runs):
        order.shuffle(names)
        for name in names:
            results[name].append(measure(variants[name]))
    return results


def _ratio(plain: list[float], guarded: list[float]) -> float:
    base = statistics.median(plain)
    return statistics.median(guarded) / base if base > 0 else float("inf")


def cpu_line(plain: list[float], guarded: list[float]) -> str:
    """``CPU ratio: R (95% interval L-H)``, of the medians."""
    if min(plain) <= 0:
        return f"CPU ratio: {_ratio(plain, guarded):.3f} (no interval: a run used no CPU time)"
    ratio = _ratio(plain, guarded)
    low, high = median_ratio_interval(plain, guarded)
    return f"CPU ratio: {ratio:.3f} (95% interval {low:.3f}-{high:.3f})"


def verdict(plain_wall: list[float], guarded_wall: list[float],
            plain_cpu: list[float], guarded_cpu: list[float], target: float) -> str:
    """Met when the wall interval's upper end and the CPU ratio are both
    <= *target*."""
    _, wall_high = median_ratio_interval(plain_wall, guarded_wall)
    cpu = _ratio(plain_cpu, guarded_cpu)
    met = wall_high <= target and cpu <= target
    return (f"target {target:.2f}: {'met' if met else 'NOT met'} "
            f"(wall interval up to {wall_high:.3f}, CPU ratio {cpu:.3f})")


def report(label: str, unit_ms: bool, plain: list[Sample], guarded: list[Sample],
           target: float, names: tuple[str, str] = ("without pyqtguard", "with pyqtguard")
           ) -> list[str]:
    """The lines every A/B benchmark prints: medians, wall ratio with its
    interval, CPU ratio with its interval, the verdict."""
    pw, gw = [s.wall for s in plain], [s.wall for s in guarded]
    pc, gc = [s.cpu for s in plain], [s.cpu for s in guarded]
    scale = 1000 if unit_ms else 1
    unit = "ms" if unit_ms else "s"
    width = max(len(n) for n in names) + 1
    return [
        f"{label}, median of {len(plain)} interleaved runs each:",
        f"  {names[0] + ':':<{width}} wall {statistics.median(pw) * scale:8.1f} {unit}, "
        f"CPU {statistics.median(pc) * scale:8.1f} {unit}",
        f"  {names[1] + ':':<{width}} wall {statistics.median(gw) * scale:8.1f} {unit}, "
        f"CPU {statistics.median(gc) * scale:8.1f} {unit}",
        "  wall " + ratio_line(pw, gw, target=target),
        "  " + cpu_line(pc, gc),
        "  " + verdict(pw, gw, pc, gc, target),
    ]


def callgrind(argv: list[str], env: dict[str, str], *, children: bool = False,
              extra: tuple[str, ...] = ()) -> dict[str, int]:
    """Instructions executed by *argv* under valgrind's callgrind: file name
    -> total, one per dump file: ``cg.PID`` per process (all of them with
    *children*), and with ``--dump-before`` in *extra* ``cg.PID.N`` for each
    dump before the one at the process's end, which is ``cg.PID``.  The same on every run, whatever the
    load (hash seed fixed); kernel time and cache misses are not in it."""
    with tempfile.TemporaryDirectory() as out:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p",
                   *extra]
        if children:
            command.append("--trace-children=yes")
        subprocess.run([*command, *argv], env=dict(env, PYTHONHASHSEED="0"), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        totals = {}
        for path in sorted(glob.glob(f"{out}/cg.*")):
            with open(path) as dump:
                match = re.search(r"^totals: (\d+)", dump.read(), re.MULTILINE)
            if match is not None:
                totals[os.path.basename(path)] = int(match.group(1))
        if not totals:
            raise SystemExit("callgrind wrote no counts")
        return totals


def have_valgrind() -> bool:
    from shutil import which

    return which("valgrind") is not None


def package_env(**extra: str) -> dict[str, str]:
    """The environment a benchmark's children run in: pyqtguard found through
    the ordinary path finder (PYTHONPATH: the folder holding the package, as
    with a regular install: an editable install's finder adds a few ms per
    imported module, which no user has), bytecode caches allowed.

    ``PYTHONSAFEPATH=1``: the children (``python -c``) do not put the current
    folder first on ``sys.path``.  Otherwise every import searched it, and
    in a busy folder (``/tmp``, a checkout being built) the import system
    lists it again whenever it changed: callgrind's counts of the same
    program then moved by +-2.5 million instructions, more than what is
    being measured.  Both variants run the same way."""
    import pyqtguard

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pyqtguard.__file__)),
               PYTHONSAFEPATH="1", **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    _note_site_imports_threading(env)
    return env


_noted: list[bool] = []


def _note_site_imports_threading(env: dict[str, str]) -> None:
    """Say once if this interpreter's start-up (a ``.pth`` file, a
    sitecustomize) imports threading: the plain variant then pays for it
    too, and the ratio understates pyqtguard's cost in a clean venv, where
    pyqtguard does not import it (this VM's base interpreter does: its
    sandbox's certificate .pth)."""
    if _noted:
        return
    _noted.append(True)
    probe = subprocess.run([sys.executable, "-c", "import sys; print('threading' in sys.modules)"],
                           env=env, capture_output=True, text=True)
    if probe.stdout.strip() == "True":
        print("note: this interpreter imports threading at start-up (site/.pth); "
              "read the ratios in a clean venv too", file=sys.stderr)
