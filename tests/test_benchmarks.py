"""The benchmark scripts still run and print their ratio (a smoke test with
few runs: the figures themselves are for people, not for assertions)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script, args", [
    ("startup.py", ["--runs", "3"]),
    ("shutdown.py", ["--runs", "3"]),
])
def test_benchmark_prints_its_ratio_with_an_interval(script, args):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # \d+: on a loaded machine a ratio or a bound can be 10 or more
    assert re.search(r"ratio: \d+\.\d{3} \(target <= 1\.05; 95% interval "
                     r"\d+\.\d{3}-\d+\.\d{3}\)", result.stdout), result.stdout
    assert re.search(r"CPU ratio: \d+\.\d{3} \(95% interval", result.stdout), result.stdout
    assert re.search(r"target 1\.05: (met|NOT met) \(wall interval up to \d+\.\d{3}, "
                     r"CPU ratio \d+\.\d{3}\)", result.stdout), result.stdout


def test_startup_breakdown_prints_what_each_layer_adds():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, str(BENCHMARKS / "startup.py"), "--breakdown",
                             "--runs", "2"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    layers = re.findall(r"^  (no pyqtguard|package \+ C core|\+ the other (\d+) start-up modules"
                        r"|\+ install\(\)) +\d+\.\d\d ms  adds +[+-]\d+\.\d\d ms",
                        result.stdout, re.MULTILINE)
    assert [name.split()[0] for name, _ in layers] == ["no", "package", "+", "+"], result.stdout
    # the count comes from a real install(): pyqtguard loads some modules
    assert int(layers[2][1]) > 0, result.stdout


def test_workers_benchmark_compares_with_raw_and_the_executor():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, str(BENCHMARKS / "workers.py"), "--tasks", "200",
                             "--runs", "2", "--memory-tasks", "500"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for heading in ("pyqtguard / raw:", "pyqtguard / ThreadPoolExecutor:"):
        assert heading in result.stdout, result.stdout
    assert len(re.findall(r"target 1\.00: (met|NOT met)", result.stdout)) == 2, result.stdout
    # superqt's figure, or a clean line saying it is not installed
    assert re.search(r"superqt (/ raw:|thread_worker: skipped)", result.stdout), result.stdout
    assert "after     500 tasks: RSS" in result.stdout, result.stdout


def test_verdict_needs_both_the_wall_interval_and_the_cpu_ratio_under_the_target():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from measure import verdict
    finally:
        sys.path.remove(str(BENCHMARKS))
    plain = [100.0 + i / 10 for i in range(21)]
    same = list(plain)
    slower = [x * 1.10 for x in plain]
    assert verdict(plain, same, plain, same, 1.05).startswith("target 1.05: met")
    assert "NOT met" in verdict(plain, slower, plain, same, 1.05)     # wall
    assert "NOT met" in verdict(plain, same, plain, slower, 1.05)     # CPU


def test_ratio_helper():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from ratio import median_ratio_interval, ratio_line
    finally:
        sys.path.remove(str(BENCHMARKS))
    plain = [100.0 + i for i in range(21)]
    guarded = [x * 1.10 for x in plain]
    low, high = median_ratio_interval(plain, guarded)
    assert low <= 1.10 <= high and high - low < 0.2
    assert ratio_line(plain, guarded, target=1.05).startswith("ratio: 1.100 ")


def test_exception_reports_benchmark_prints_its_ratios():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, str(BENCHMARKS / "exception_reports.py"), "--short"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert re.search(r"pyqtguard / python hook, wall ratio: \d+\.\d{3} \(target <= 1\.00; "
                     r"95% interval \d+\.\d{3}-\d+\.\d{3}\)", result.stdout), result.stdout
    assert re.search(r"pyqtguard / python hook, cpu  ratio: \d+\.\d{3}", result.stdout)
    assert "peak RSS growth:" in result.stdout


def test_thread_altstack_benchmark_prints_wall_and_cpu_ratios():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "thread_altstack.py"),
                             "--threads", "20", "--rounds", "3"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for kind in ("wall", "CPU "):
        assert re.search(kind + r" ratio: \d+\.\d{3} \(target <= 1\.05; 95% interval "
                         r"\d+\.\d{3}-\d+\.\d{3}\)", result.stdout), result.stdout


def test_wrong_thread_benchmark_prints_both_ratios(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=str(tmp_path),
               PYTHONPATH=str(BENCHMARKS.parent))
    result = subprocess.run([sys.executable, str(BENCHMARKS / "wrong_thread.py"),
                             "--rounds", "1", "--calls", "20000"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for kind in ("C calls only", "usual mix"):
        assert re.search(kind + r".* ms -> .* ms   ratio \d+\.\d\d", result.stdout), result.stdout
