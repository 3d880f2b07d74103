"""The dump signal respects what was there before pyqtguard (issue 18, item 5):
a native SIG_IGN or a C library's handler is left alone, and uninstall()
puts back exactly the sigaction that was there."""
from __future__ import annotations

from apprunner import run_app

# A native disposition, set behind Python's back (Python's signal module
# still believes SIG_DFL): through ctypes, as a C library would.
NATIVE_IGNORE = """
    import ctypes, os, signal
    libc = ctypes.CDLL(None, use_errno=True)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.signal(signal.SIGUSR1, ctypes.c_void_p(1))          # SIG_IGN
    def ignored(signum):
        with open("/proc/self/status") as status:
            line = next(l for l in status if l.startswith("SigIgn:"))
        return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
"""


def test_native_sig_ign_is_left_alone_and_kept(tmp_path):
    result = run_app(NATIVE_IGNORE + """
    import time
    import pyqtguard
    pyqtguard.install()
    print("ignored after install:", ignored(signal.SIGUSR1), flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)      # ignored: nothing happens
    time.sleep(1.5)
    pyqtguard.uninstall()
    print("ignored after uninstall:", ignored(signal.SIGUSR1), flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)      # still ignored: the process lives
    time.sleep(0.1)
    print("alive", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "ignored after install: True" in result.stdout
    assert "ignored after uninstall: True" in result.stdout
    assert "alive" in result.stdout
    assert "=== pyqtguard thread dump ===" not in result.log
    warnings = [l for l in result.stderr.splitlines() if "SIGUSR1" in l]
    assert len(warnings) == 1, result.stderr
    assert "ignored" in warnings[0] and "dump_signal=" in warnings[0], warnings


def test_explicit_dump_signal_takes_it_and_uninstall_restores_sig_ign(tmp_path):
    result = run_app(NATIVE_IGNORE + """
    import time
    import pyqtguard
    pyqtguard.install(dump_signal=signal.SIGUSR1)      # the app asks for it
    print("ignored after install:", ignored(signal.SIGUSR1), flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(1.5)
    pyqtguard.uninstall()
    print("ignored after uninstall:", ignored(signal.SIGUSR1), flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.1)
    print("alive", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "ignored after install: False" in result.stdout
    assert "=== pyqtguard thread dump ===" in result.log
    assert "ignored after uninstall: True" in result.stdout
    assert "alive" in result.stdout
    assert "SIGUSR1" not in result.stderr


def test_uninstall_restores_the_default_disposition(tmp_path):
    # SIG_DFL before install: SIG_DFL after uninstall (the process dies on
    # SIGUSR1 as it would without pyqtguard) - and Python's view agrees.
    result = run_app("""
    import os, signal
    import pyqtguard
    pyqtguard.install()
    pyqtguard.uninstall()
    print("python view:", signal.getsignal(signal.SIGUSR1), flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)
    import time; time.sleep(1)
    print("still alive", flush=True)
    """, tmp_path)
    assert result.returncode == -10, result.describe()
    assert "python view: 0" in result.stdout        # SIG_DFL
    assert "still alive" not in result.stdout


def test_a_c_library_handler_is_left_alone(tmp_path):
    # faulthandler.register installs a native handler Python's signal
    # module does not know about, as a C library would.
    result = run_app("""
    import faulthandler, os, signal, sys, time
    faulthandler.register(signal.SIGUSR1, file=sys.stdout, all_threads=False)
    import pyqtguard
    pyqtguard.install()
    print("--", flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(1.5)
    pyqtguard.uninstall()
    print("-- after uninstall", flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.1)
    print("alive", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.stdout.count("Stack (most recent call first)") == 2, result.stdout  # faulthandler's
    assert "alive" in result.stdout
    assert "=== pyqtguard thread dump ===" not in result.log
    warnings = [l for l in result.stderr.splitlines() if "SIGUSR1" in l]
    assert len(warnings) == 1 and "handled" in warnings[0], result.stderr


def test_dump_signal_warning_reads_as_documented(tmp_path):
    # docs/threads.md quotes the warning: one "pyqtguard: " prefix, as every
    # warn_once() line has (it adds the prefix itself).
    result = run_app(NATIVE_IGNORE + """
    import pyqtguard
    pyqtguard.install()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert ("pyqtguard: no dump signal: signal 10 is in use (SIGUSR1 is ignored (SIG_IGN)) "
            "and left alone; pick another with install(dump_signal=signal.SIGUSR2), or "
            "silence this with dump_signal=None\n") in result.stderr, result.stderr
    assert "pyqtguard: pyqtguard:" not in result.stderr, result.stderr


def test_uninstall_leaves_a_handler_the_app_set_over_the_dump_signal(tmp_path):
    # The app took SIGUSR1 after install() (pyqtguard's dump handler gave way
    # to its own); uninstall() must not put back the SIG_DFL pyqtguard found,
    # which would end the process at the app's next SIGUSR1.
    result = run_app("""
    import os, signal, time
    import pyqtguard
    pyqtguard.install()
    calls = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: calls.append(signum))
    pyqtguard.uninstall()
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.05)
    print("handler ran", len(calls), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "handler ran 1" in result.stdout, result.describe()
