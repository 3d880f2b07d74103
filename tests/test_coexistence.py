"""pyqtguard next to the crash and exception tools apps already use
(faulthandler, sentry-sdk, an app's own hooks and signal handlers): each
case is a real app in a subprocess; the other tool must still work and
pyqtguard's report must still tell the truth.  docs/hostile-review.md
"Coexistence with other crash tools (h12)"."""
from __future__ import annotations

import platform
import re
import shutil
import signal
import subprocess
import sys
import sysconfig

import pytest

from apprunner import run_app

CALLED_FROM = "was called by Qt from this Python code"


def _reports(log: str) -> dict[str, str]:
    """Each exception report of the run log, by its last line's type."""
    parts = re.split(r"\n(?=\[\d{4}-\d\d-\d\d [\d:.]+ UTC\] )", log)
    found = {}
    for part in parts:
        for name in ("ValueError", "RuntimeError"):
            if f"\n{name}: " in part:
                found[name] = part
    return found


WRAPPED_HOOK_APP = """
    import sys
    import pyqtguard
    pyqtguard.install()
    {wrap}
    from PyQt6 import QtCore, QtWidgets
    app = QtWidgets.QApplication(sys.argv)
    def slot_raises():
        raise ValueError("from slot")
    class Loader(QtCore.QThread):
        def run(self):
            raise RuntimeError("from qthread")
    loader = Loader()
    QtCore.QTimer.singleShot(50, slot_raises)
    QtCore.QTimer.singleShot(100, loader.start)
    QtCore.QTimer.singleShot(700, app.quit)
    app.exec()
    loader.wait()
    print("seen by the app's hook:", sorted(seen), flush=True)
"""

OWN_WRAPPER = """
seen = []
previous = sys.excepthook
def apps_own_excepthook(exc_type, exc_value, exc_tb):
    seen.append(exc_type.__name__)
    previous(exc_type, exc_value, exc_tb)
sys.excepthook = apps_own_excepthook
"""

SENTRY = """
seen = []
import sentry_sdk
def before_send(event, hint):
    seen.append(event["exception"]["values"][-1]["type"])
    return None
sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", before_send=before_send)
"""


@pytest.mark.parametrize("wrapper", ["own", "sentry"])
def test_an_excepthook_wrapper_set_after_install_is_not_shown_as_qts_caller(tmp_path, wrapper):
    """A hook set after install() that calls on to pyqtguard's (the app's
    own, sentry-sdk's ExcepthookIntegration): its frame is no code that
    made Qt call the slot.  It was listed under "called by Qt from", and a
    QThread.run() - which no Python code calls - got a block of it alone."""
    if wrapper == "sentry":
        pytest.importorskip("sentry_sdk", reason="sentry-sdk is an optional integration")
    import textwrap
    wrap = textwrap.indent(OWN_WRAPPER if wrapper == "own" else SENTRY, " " * 4)
    result = run_app(WRAPPED_HOOK_APP.format(wrap=wrap.strip()), tmp_path)
    assert result.returncode == 0, result.describe()
    assert "seen by the app's hook: ['RuntimeError', 'ValueError']" in result.stdout, \
        result.describe()
    reports = _reports(result.log)
    slot = reports["ValueError"]
    assert CALLED_FROM in slot, result.log
    called_from = slot[slot.index(CALLED_FROM):]
    assert "app.exec()" in called_from, called_from
    for hook in ("in apps_own_excepthook", "in sentry_sdk_excepthook"):
        assert hook not in called_from, called_from
    assert CALLED_FROM not in reports["RuntimeError"], result.log


# ---- faulthandler -------------------------------------------------------------

SEGV = -signal.SIGSEGV
MARKER = "=== pyqtguard crash report ==="
# 3.13+: install() enables faulthandler itself (the Python-stack engine)
ENGINE_313 = sys.version_info >= (3, 13)


@pytest.mark.parametrize("where", ["slot", "thread"])
def test_faulthandler_enabled_after_install_a_real_fault_is_not_called_a_kill(tmp_path, where):
    """faulthandler.enable() after install(): faulthandler's handler runs
    first, writes its text and raises the signal again with raise(), which
    pyqtguard's handler then gets as a signal its own process sent.  The
    report said "sent by: pid N (kill(), not a fault)" of a NULL-pointer
    read: it must say the signal was passed on by another handler."""
    result = run_app(f"""
        import ctypes, faulthandler, sys, threading
        import pyqtguard
        pyqtguard.install()
        faulthandler.enable(all_threads=True)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        def read_null_pointer():
            ctypes.string_at(0)
        def start():
            if {where!r} == "slot":
                read_null_pointer()
            else:
                threading.Thread(target=read_null_pointer, name="reader").start()
        QtCore.QTimer.singleShot(50, start)
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    report = result.log[result.log.index(MARKER):]
    assert "Fatal Python error: Segmentation fault" in result.stderr   # the app's faulthandler
    assert "not a fault" not in report, report
    if ENGINE_313:
        # faulthandler, already enabled by install() as the engine, is only
        # told its new file: pyqtguard's handler stays first and sees the
        # fault itself; the Python stacks go where the app sent faulthandler
        # (docs/crashes.md, the known limit)
        assert "\naddress: 0x0\n" in report, report
        assert "in read_null_pointer" in result.stderr, result.describe()
        return
    assert "sent by: this thread's own raise() in another handler" in report, report
    assert "in read_null_pointer" in report, report


def test_a_sigsegv_sent_with_kill_is_still_called_one_with_faulthandler_after_install(tmp_path):
    result = run_app("""
        import faulthandler, os, signal, time
        import pyqtguard
        pyqtguard.install()
        faulthandler.enable()
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(5)
    """, tmp_path)
    assert result.returncode == SEGV, result.describe()
    report = result.log[result.log.index(MARKER):]
    assert "Fatal Python error: Segmentation fault" in result.stderr
    if ENGINE_313:                      # pyqtguard's handler first: see above
        assert re.search(r"\nsent by: pid \d+ \(kill\(\), not a fault\)", report), report
        return
    # faulthandler passes it on with raise(): pyqtguard cannot tell this
    # kill() from a fault it passed on; it says so rather than "not a fault".
    assert "sent by: " in report and "not a fault" not in report, report


# ---- sentry-sdk initialised before install() -------------------------------------

def test_sentry_initialised_before_install_each_traceback_once_on_stderr(tmp_path):
    """sentry-sdk's hooks wrap Python's default ones, which print; pyqtguard
    chained to them and wrote its own copy: every slot's, QThread's and
    __del__'s traceback was on stderr twice.  Sentry must still get each
    once, and uninstall() must give sentry its printing back."""
    pytest.importorskip("sentry_sdk", reason="sentry-sdk is an optional integration")
    result = run_app("""
        import sys
        import sentry_sdk
        from sentry_sdk.integrations.unraisablehook import UnraisablehookIntegration
        seen = []
        def before_send(event, hint):
            seen.append(event["exception"]["values"][-1]["type"])
            return None
        sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", before_send=before_send,
                        integrations=[UnraisablehookIntegration()])
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        def slot_raises():
            raise ValueError("from slot")
        class Loader(QtCore.QThread):
            def run(self):
                raise RuntimeError("from qthread")
        class Handle:
            def __del__(self):
                raise KeyError("from del")
        loader = Loader()
        QtCore.QTimer.singleShot(50, slot_raises)
        QtCore.QTimer.singleShot(100, loader.start)
        QtCore.QTimer.singleShot(150, lambda: Handle())
        QtCore.QTimer.singleShot(700, app.quit)
        app.exec()
        loader.wait()
        print("sentry saw:", sorted(seen), flush=True)
        pyqtguard.uninstall()
        try:
            raise LookupError("after uninstall")
        except LookupError:
            sys.excepthook(*sys.exc_info())    # sentry's, printing again
        print("sentry saw after:", sorted(seen), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "sentry saw: ['KeyError', 'RuntimeError', 'ValueError']" in result.stdout, \
        result.describe()
    assert "sentry saw after: ['KeyError', 'LookupError', 'RuntimeError', 'ValueError']" \
        in result.stdout, result.describe()
    for line in ("ValueError: from slot", "RuntimeError: from qthread",
                 "KeyError: 'from del'", "LookupError: after uninstall"):
        assert result.stderr.count(line) == 1, (line, result.stderr)
    for line in ("ValueError: from slot", "RuntimeError: from qthread", "KeyError: 'from del'"):
        assert result.log.count(line) == 1, (line, result.log)


@pytest.mark.parametrize("then", [
    "crash", "disable, then crash"])
def test_after_uninstall_a_handler_that_chains_to_ours_gets_no_report(tmp_path, then):
    """faulthandler enabled after install() keeps pyqtguard's handler as the
    one it passes the signal on to (or puts it back at disable()); after
    uninstall() that handler still wrote a whole crash report, and then
    raised the signal into itself until the alternate stack overflowed.
    As the exception hooks a tool wrapped: after uninstall(), no report;
    the signal's default action ends the process."""
    result = run_app(f"""
        import ctypes, faulthandler
        import pyqtguard
        pyqtguard.install()
        faulthandler.enable()
        pyqtguard.uninstall()
        if {then!r}.startswith("disable"):
            faulthandler.disable()
        print("crashing", flush=True)
        ctypes.string_at(0)
    """, tmp_path, timeout=30)
    assert result.returncode == SEGV, result.describe()
    assert "crashing" in result.stdout
    assert MARKER not in result.log and MARKER not in result.stderr, result.describe()
    if then == "crash":
        assert "Fatal Python error: Segmentation fault" in result.stderr  # the app's


@pytest.mark.parametrize("order", ["before", "after"])
def test_sentry_with_logging_configured_gets_each_exception_once(tmp_path, order):
    """With logging configured (a root handler) sentry-sdk's logging
    integration makes an event of each ERROR record with exc_info - and
    pyqtguard logs every uncaught exception so on its logger: each slot's
    and thread's exception reached Sentry twice (its own hook's event and
    the record's; its Dedupe keeps only the last exception of a context).
    One event each; an exception only pyqtguard sees (``__del__``: no
    unraisablehook integration by default) still gets there once."""
    pytest.importorskip("sentry_sdk", reason="sentry-sdk is an optional integration")
    result = run_app(f"""
        import logging, sys, threading
        logging.basicConfig()
        seen = []
        def before_send(event, hint):
            seen.append(event["exception"]["values"][-1]["type"])
            return None
        def init_sentry():
            import sentry_sdk
            sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", before_send=before_send)
        if {order!r} == "before":
            init_sentry()
        import pyqtguard
        pyqtguard.install()
        if {order!r} == "after":
            init_sentry()
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication(sys.argv)
        def first():
            raise ValueError("first")
        def second():
            raise KeyError("second")
        def in_thread():
            raise TypeError("in thread")
        class Handle:
            def __del__(self):
                raise LookupError("in del")
        def both():                     # two in one turn of the loop
            QtCore.QTimer.singleShot(0, first)
            QtCore.QTimer.singleShot(0, second)
        QtCore.QTimer.singleShot(50, both)
        QtCore.QTimer.singleShot(150, lambda: threading.Thread(target=in_thread).start())
        QtCore.QTimer.singleShot(250, lambda: Handle())
        QtCore.QTimer.singleShot(700, app.quit)
        app.exec()
        print("sentry saw:", sorted(seen), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "sentry saw: ['KeyError', 'LookupError', 'TypeError', 'ValueError']" \
        in result.stdout, result.describe()


# ---- a native library that handles SIGSEGV itself ------------------------------

# What each stand-in library below shares: a page it keeps unreadable (its
# own faults are there), and its handler set for SIGSEGV with SA_SIGINFO and
# `flags`, the handler before it kept in `previous`.
TAKES_SIGSEGV_C = r"""#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static char *page;
static long pagesize;
static struct sigaction previous;
static void handler(int sig, siginfo_t *info, void *ctx);
static int take_sigsegv(int flags) {
    pagesize = sysconf(_SC_PAGESIZE);
    page = mmap(NULL, pagesize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSEGV, &sa, &previous);
}
"""

GUARD_C = TAKES_SIGSEGV_C + r"""
/* A library that uses SIGSEGV for its own purposes (as a JVM, CoreCLR or a
 * wasm runtime does): a guard page it unprotects on first touch. */
static volatile int handled = 0;
static void handler(int sig, siginfo_t *info, void *ctx) {
    char *addr = info->si_addr;
    if (info->si_code > 0 && addr >= page && addr < page + pagesize) {
        mprotect(page, pagesize, PROT_READ | PROT_WRITE);
        handled++;
        return;                         /* re-executes the write: it works now */
    }
    sigaction(sig, &previous, NULL);    /* not ours: the default */
    raise(sig);
}
int guard_install(void) { return take_sigsegv(SA_NODEFER); }
int guard_touch(void) { page[10] = 42; return page[10] + handled * 1000; }
"""


def _guard_library(tmp_path, source: str = GUARD_C, name: str = "guard") -> str:
    for cc in (sysconfig.get_config_var("CC") or "", "cc", "gcc"):
        cc = cc.split()[0] if cc else ""
        if cc and shutil.which(cc):
            break
    else:
        pytest.skip("no C compiler on PATH: the test builds a library with a SIGSEGV handler")
    path = tmp_path / f"{name}lib.c"
    path.write_text(source)
    lib = tmp_path / f"lib{name}.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(lib), str(path)],
                   check=True, capture_output=True, timeout=120)
    return str(lib)


def _touch_then_crash(lib: str, first: str = "") -> str:
    """The app of several tests below: *first* (one line), the library *lib*
    loaded and its handler set, pyqtguard installed, the library's own fault
    (handled: "touch -> 1042"), then a NULL read in the app's own
    ``crash_in_this_function``."""
    return f"""
        import ctypes
        {first}
        lib = ctypes.CDLL({lib!r})
        lib.guard_install()
        import pyqtguard
        pyqtguard.install()
        print("touch ->", lib.guard_touch(), flush=True)
        def crash_in_this_function():
            ctypes.string_at(0)
        crash_in_this_function()
    """


LINUX_ONLY = pytest.mark.skipif(sys.platform != "linux",
                                reason="the library uses Linux's mmap flags")


@LINUX_ONLY
def test_a_fault_a_library_handles_itself_does_not_end_the_app(tmp_path):
    """A library that takes SIGSEGV for its own work before install() - a
    guard page it unprotects on first touch, as a JVM (JPype), CoreCLR
    (pythonnet) or a wasm runtime does - gets the real fault and the app goes
    on, with no crash report: the fault is offered to the library's handler
    first.  Before, pyqtguard passed the signal on with raise() (the library
    saw a signal sent with tgkill, not its fault, and the app died: -11);
    then, on 3.11-3.12, by returning - after writing a crash report of a
    fault that was no crash (a "crashed last time" for a run that went on),
    and with its own handler off for the rest of the run; on 3.13+
    faulthandler's raise() still ended the app."""
    lib = _guard_library(tmp_path)
    result = run_app(f"""
        import ctypes
        lib = ctypes.CDLL({lib!r})
        lib.guard_install()
        import pyqtguard
        pyqtguard.install()
        print("touch ->", lib.guard_touch(), flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "touch -> 1042" in result.stdout, result.describe()
    assert MARKER not in result.log and MARKER not in result.stderr, result.describe()


@LINUX_ONLY
def test_a_real_crash_after_a_fault_the_library_handled_is_reported(tmp_path):
    """The library's fault handled, pyqtguard's handler is still in place:
    a real NULL read later (not the library's: it gives up, putting the
    default action back and raising) is reported, and the process dies of
    it as without pyqtguard (-11).  Before, pyqtguard's handler was off
    after the library's first fault: no report at all."""
    lib = _guard_library(tmp_path)
    result = run_app(_touch_then_crash(lib), tmp_path, timeout=30)
    assert result.returncode == SEGV, result.describe()
    assert "touch -> 1042" in result.stdout, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    report = result.log[result.log.index(MARKER):]
    assert "signal: SIGSEGV (Segmentation fault)" in report, report
    assert "address: 0x0" in report, report
    assert "crash_in_this_function" in report, report


@LINUX_ONLY
def test_a_crash_the_library_does_not_recognise_is_reported(tmp_path):
    """The same library, no fault of its own: a NULL read goes to its
    handler first, which gives up (default action back, raise()); pyqtguard
    writes the report - the real fault's, address included - and the
    process dies of the signal (-11)."""
    lib = _guard_library(tmp_path)
    result = run_app(f"""
        import ctypes
        lib = ctypes.CDLL({lib!r})
        lib.guard_install()
        import pyqtguard
        pyqtguard.install()
        print("crashing", flush=True)
        ctypes.string_at(0)
    """, tmp_path, timeout=30)
    assert result.returncode == SEGV, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    report = result.log[result.log.index(MARKER):]
    assert "address: 0x0" in report and "sent by" not in report, report


REDIRECT_C = TAKES_SIGSEGV_C + r"""
/* A runtime that turns a fault of its generated code into an exception
 * (a JVM's implicit null check, CoreCLR's NullReferenceException): its
 * handler moves the interrupted context to a recovery routine and returns. */
#include <ucontext.h>
static volatile int recovered = 0;
__attribute__((noinline)) int probe(volatile int *p) { return *p; }
__attribute__((noinline)) int recovery(void) { recovered++; return -1; }
static void handler(int sig, siginfo_t *info, void *ctx) {
    ucontext_t *uc = ctx;
    char *addr = info->si_addr;
    if (info->si_code > 0 && addr >= page && addr < page + pagesize) {
        /* probe's first instruction faulted: its caller's return address is
         * on top of the stack, so recovery() returns in probe's place */
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)recovery;
        return;
    }
    sigaction(sig, &previous, NULL);
    raise(sig);
}
int runtime_install(void) { return take_sigsegv(0); }
int runtime_null_checks(int n) {
    int sum = 0;
    for (int i = 0; i < n; i++) {
        sum += probe((volatile int *)(page + 8));
    }
    return sum * 1000 + recovered;
}
"""


@LINUX_ONLY
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="the stand-in runtime moves x86-64's instruction pointer")
def test_a_runtime_turning_faults_into_exceptions_runs_on(tmp_path):
    """A runtime whose handler turns a fault into an exception of its own
    by moving the interrupted context (a JVM's implicit null checks, which
    a Java program may hit thousands of times): 500 such faults, the app
    goes on with no crash report and pyqtguard's handler still in place for
    a real crash afterwards."""
    lib = _guard_library(tmp_path, REDIRECT_C, "runtime")
    result = run_app(f"""
        import ctypes
        lib = ctypes.CDLL({lib!r})
        lib.runtime_install()
        import pyqtguard
        pyqtguard.install()
        print("null checks ->", lib.runtime_null_checks(500), flush=True)
        ctypes.string_at(0)
    """, tmp_path, timeout=60)
    assert "null checks -> -499500" in result.stdout, result.describe()
    assert result.returncode == SEGV, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    assert "address: 0x0" in result.log[result.log.index(MARKER):], result.describe()


JUMP_C = TAKES_SIGSEGV_C + r"""
/* A library that recovers from a fault in its own probing code with
 * siglongjmp() (libsigsegv's way, a "can this address be read" probe). */
#include <setjmp.h>
static __thread sigjmp_buf *volatile probing;   /* stores kept: the handler reads it */
static void handler(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    char *addr = info->si_addr;
    if (probing != NULL && info->si_code > 0 && addr >= page && addr < page + pagesize) {
        siglongjmp(*probing, 1);
    }
    sigaction(sig, &previous, NULL);
    raise(sig);
}
int probe_install(void) { return take_sigsegv(0); }
int probe_many(int n) {
    int unreadable = 0;
    for (int i = 0; i < n; i++) {
        sigjmp_buf here;
        if (sigsetjmp(here, 1) == 0) {
            probing = &here;
            unreadable -= *(volatile char *)(page + i % pagesize);
        }
        else {
            unreadable++;
        }
        probing = NULL;
    }
    return unreadable;
}
"""


@LINUX_ONLY
def test_a_library_jumping_out_of_its_faults_in_several_threads_runs_on(tmp_path):
    """A library that recovers from its own faults with siglongjmp(), run
    in four threads at once (ctypes releases the GIL), 2,000 faults each:
    every one recovered, no report, and a real crash afterwards is still
    pyqtguard's to report."""
    lib = _guard_library(tmp_path, JUMP_C, "probe")
    result = run_app(f"""
        import ctypes, threading
        lib = ctypes.CDLL({lib!r})
        lib.probe_install()
        import pyqtguard
        pyqtguard.install()
        results = []
        threads = [threading.Thread(target=lambda: results.append(lib.probe_many(2000)))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("probes ->", results, flush=True)
        ctypes.string_at(0)
    """, tmp_path, timeout=60)
    assert "probes -> [2000, 2000, 2000, 2000]" in result.stdout, result.describe()
    assert result.returncode == SEGV, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    assert "address: 0x0" in result.log[result.log.index(MARKER):], result.describe()


GIVES_UP = "    sigaction(sig, &previous, NULL);    /* not ours: the default */\n    raise(sig);\n"
# HotSpot's and CoreCLR's way with a fault not their own: the handler that
# was there before theirs is called directly.
CALLS_PREVIOUS = """\
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, ctx);
    } else if (previous.sa_handler == SIG_DFL) {
        signal(sig, SIG_DFL);
        raise(sig);
    } else if (previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    }
"""
# Breakpad's way: the previous handler put back, and the fault left to come
# again into it.
PUTS_PREVIOUS_BACK = "    sigaction(sig, &previous, NULL);\n    return;\n"


@LINUX_ONLY
@pytest.mark.parametrize("gives_up", ["calls_it", "puts_it_back"])
def test_a_library_calling_faulthandler_enabled_before_it_gets_the_crash_reported(
        tmp_path, gives_up):
    """faulthandler enabled by the app, then a library whose handler calls
    the one before it (faulthandler's) on a fault not its own, then
    install().  Its own faults go on; a NULL read is reported once and the
    process dies of it (-11), with faulthandler's dump on stderr.  Before:
    3.11-3.12 hung after the report - the offer had called faulthandler's
    handler once (which puts the default action back only the first time),
    pyqtguard passed the fault on to the library again, and faulthandler's
    handler then raised into the library, which called it again, for ever;
    3.13+ did not offer the library the fault at all (faulthandler is the
    engine there): its own fault was reported as a crash, pyqtguard's
    handler went off with it, and the real crash had no report.  A
    library that puts faulthandler's handler back and returns instead, for
    the fault to come again into it: the same on 3.13+; on 3.11-3.12 its
    return was taken for a fault it handled (no report)."""
    body = {"calls_it": CALLS_PREVIOUS, "puts_it_back": PUTS_PREVIOUS_BACK}[gives_up]
    source = GUARD_C.replace(GIVES_UP, body).replace("take_sigsegv(SA_NODEFER)",
                                                     "take_sigsegv(0)")
    assert body in source and "SA_NODEFER" not in source
    lib = _guard_library(tmp_path, source, "chaining")
    result = run_app(_touch_then_crash(lib, first="import faulthandler; faulthandler.enable()"),
                     tmp_path, timeout=20)
    assert result.returncode == SEGV, result.describe()
    assert "touch -> 1042" in result.stdout, result.describe()
    assert "Fatal Python error: Segmentation fault" in result.stderr, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    report = result.log[result.log.index(MARKER):]
    assert "address: 0x0" in report, report
    # 3.13+: the Python stacks are in the app's faulthandler's file (stderr)
    assert "crash_in_this_function" in report + result.stderr, result.describe()


@LINUX_ONLY
def test_a_library_putting_back_the_handler_before_it_gets_the_crash_reported(tmp_path):
    """Two libraries before install(): A (a guard page; the default action
    and raise() on a fault not its own), then B, whose handler puts A's back
    and returns on a fault not its own, for the fault to come again into A
    (Breakpad's way: B leaves the chain).  B's own fault goes on, then A's
    (through B, which puts A back), then a NULL read - now A's to give up
    on - is reported once and the process dies of it (-11).  Before, B's
    return was taken for a fault it handled: pyqtguard's handler was
    replaced by A's for good, and the real crash had no report."""
    lib_a = _guard_library(tmp_path, GUARD_C, "guarda")
    source_b = GUARD_C.replace(GIVES_UP, PUTS_PREVIOUS_BACK).replace("guard_", "other_")
    assert "return;\n}" in source_b
    lib_b = _guard_library(tmp_path, source_b, "guardb")
    result = run_app(f"""
        import ctypes
        a = ctypes.CDLL({lib_a!r})
        a.guard_install()
        b = ctypes.CDLL({lib_b!r})
        b.other_install()
        import pyqtguard
        pyqtguard.install()
        print("touch ->", b.other_touch(), a.guard_touch(), flush=True)
        def crash_in_this_function():
            ctypes.string_at(0)
        crash_in_this_function()
    """, tmp_path, timeout=20)
    assert result.returncode == SEGV, result.describe()
    assert "touch -> 1042 1042" in result.stdout, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    report = result.log[result.log.index(MARKER):]
    assert "address: 0x0" in report and "crash_in_this_function" in report, report


ONE_SHOT_C = r"""/* A one-shot crash handler installed with SA_RESETHAND, backward-cpp's
 * way: the kernel puts the default action back as it delivers the signal. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <unistd.h>
static void handler(int sig, siginfo_t *info, void *ctx) {
    (void)sig; (void)ctx;
    write(2, "one-shot: its stack trace\n", 26);
    GIVE_UP
}
int oneshot_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSEGV, &sa, NULL);
}
"""


@LINUX_ONLY
@pytest.mark.parametrize("give_up", ["raise_then_exit", "return"])
def test_a_one_shot_handler_set_with_sa_resethand_gets_the_crash_after_the_report(
        tmp_path, give_up):
    """A crash handler installed with SA_RESETHAND is one-shot: it is no
    library that handles faults (that needs its handler for every fault),
    and the kernel's reset to the default action is part of what it does.
    backward-cpp's raises the signal, then calls _exit(1) should the raise
    return; others just return, for the fault to come again into the
    default action.  The report is written and the process dies of the
    fault (-11).  Before, the fault was offered to it (called directly,
    the signal blocked, nothing reset): its raise() pended and _exit(1)
    ended the app with status 1 and no report; the one that returns was
    offered the fault again and again (a hang)."""
    body = {"raise_then_exit": "raise(info->si_signo);\n    _exit(1);",
            "return": "(void)info;"}[give_up]
    lib = _guard_library(tmp_path, ONE_SHOT_C.replace("GIVE_UP", body), "oneshot")
    result = run_app(f"""
        import ctypes
        lib = ctypes.CDLL({lib!r})
        lib.oneshot_install()
        import pyqtguard
        pyqtguard.install()
        def crash_in_this_function():
            ctypes.string_at(0)
        crash_in_this_function()
    """, tmp_path, timeout=20)
    assert result.returncode == SEGV, result.describe()
    assert "one-shot: its stack trace" in result.stderr, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    report = result.log[result.log.index(MARKER):]
    assert "address: 0x0" in report and "crash_in_this_function" in report, report


@LINUX_ONLY
def test_a_library_that_aborts_on_a_fault_not_its_own_gets_the_abort_reported(tmp_path):
    """A runtime whose handler ends the process itself on a fault that is
    not its own (a JVM writes its hs_err file, then calls abort()): that
    happens as without pyqtguard (-6), and the abort is reported, with the
    Python stack that led to the fault."""
    source = GUARD_C.replace("    sigaction(sig, &previous, NULL);    /* not ours: the default */\n"
                             "    raise(sig);\n",
                             "    abort();                            /* not ours: give up */\n")
    source = source.replace("#include <unistd.h>", "#include <stdlib.h>\n#include <unistd.h>")
    assert "abort();" in source
    lib = _guard_library(tmp_path, source, "aborting")
    result = run_app(_touch_then_crash(lib), tmp_path, timeout=30)
    assert result.returncode == -signal.SIGABRT, result.describe()
    assert "touch -> 1042" in result.stdout, result.describe()
    assert result.log.count(MARKER) == 1, result.describe()
    report = result.log[result.log.index(MARKER):]
    assert "signal: SIGABRT" in report and "crash_in_this_function" in report, report
