/* interrupt.c: Ctrl+C (SIGINT) and SIGTERM end a Qt app while its event
 * loop waits (pyqtguard/interrupts.py has the policy).
 *
 * Python's own handler only sets a flag that the interpreter looks at when
 * it next runs bytecode; while Qt's event loop sleeps in poll() no bytecode
 * runs, so Ctrl+C does nothing.  While the loop runs, pyqtguard puts this
 * handler in instead:
 *
 * - first signal: remember it and write one byte to a pipe whose read end a
 *   QSocketNotifier watches in the GUI thread.  poll() returns, the
 *   notifier's slot (Python) closes the app.  No polling, no timer.
 * - a second one (while closing, or while the GUI thread never got to the
 *   first because it is stuck): write the thread report - the same
 *   async-signal-safe report the exit deadline writes (the thread table and,
 *   where the interpreter allows, every Python stack) - and _exit(128+sig).
 *
 * Everything the handler calls is async-signal-safe: write() (to a
 * non-blocking pipe, the log and stderr descriptors opened beforehand),
 * the report writers documented as signal-safe in pyqtguard_native.h, and
 * _exit().  No lock, no malloc, no Python API.
 *
 * Other signals that have a Python handler (pytest-timeout's SIGALRM, an
 * app's SIGUSR1) have the same problem: the handler runs only when some
 * Python code next runs - in whichever slot Qt dispatches first, where an
 * exception it raises is handed to sys.excepthook and lost (pytest-qt's
 * wait then never ends).  While the loop runs, pyqtguard forwards them
 * (forward_*): its handler also writes a byte to the same pipe, and the
 * notifier's first slot (forward_check, C: no bytecode before it, where the
 * eval loop would run the handlers outside any try) runs the handlers there
 * (PyErr_CheckSignals) and keeps what one raised for the next slot.  In the
 * app's own exec() the handler also calls CPython's at once, so Python code
 * running meanwhile (a slot busy computing, or blocked in a read: Python's
 * sa_flags, no SA_RESTART) runs the handler first, as without pyqtguard.  In
 * a loop in the application's place (a test's wait, where pytest-timeout's
 * exception must end the loop, not be caught by whichever Python slot Qt
 * dispatches first) the first signal is only marked pending, handed to
 * Python by the slot (PyErr_SetInterruptEx, which also writes Python's
 * wake-up descriptor); a second one while the first still waits for the
 * slot (the GUI thread is busy) trips Python at once.

 * The previous sigactions are saved and put back exactly on disarm, unless
 * someone (the app, with signal.signal) replaced this handler meanwhile.
 * Windows has no sigaction (a console control handler would be the way):
 * there this module does nothing and says so.
 */
#include "pyqtguard_native.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#ifdef _WIN32
#  include <stdlib.h>
#  include <windows.h>
#endif
#ifndef _WIN32
#  include <unistd.h>

#define PQG_INTERRUPT_SIGNALS 2
static const int handled_signals[PQG_INTERRUPT_SIGNALS] = {SIGINT, SIGTERM};

/* Set with the GIL held while no handler of ours is installed for the
 * signal (arm/disarm), read by the handler. */
static struct sigaction previous[PQG_INTERRUPT_SIGNALS];
static int armed[PQG_INTERRUPT_SIGNALS];
static volatile sig_atomic_t wake_fd = -1;
/* Whether a signal was received since arming, and the first one's number.
 * sa_mask keeps the handler from interrupting itself in one thread, but a
 * process-directed signal arriving while one thread runs the handler goes
 * to another thread: the handler can run in two threads at once.  So the
 * first signal and the end are claimed with atomic exchanges (lock-free
 * atomics are async-signal-safe). */
#if ATOMIC_INT_LOCK_FREE != 2
#  error "the interrupt handler needs lock-free atomic int"
#endif
static atomic_int received = 0;
static volatile sig_atomic_t first_signal = 0;
/* Set by the one thread that writes the report and ends the process. */
static atomic_int ending = 0;
/* Whether the GUI thread's slot took the first signal (interrupt_signal()).
 * SIGTERM's default action ends a process at once; pyqtguard closes the app
 * in the GUI thread instead, and a GUI thread stuck in a slot never takes
 * it: the process would live on where `timeout`, a service manager or a
 * test runner waits for it to end.  So a SIGTERM not taken within
 * term_grace_ns (the exit budget; < 0: never) ends the process as an exit
 * timeout does (watchdog.c asks, pqg_interrupt_untaken; an untaken SIGINT
 * gets a hint there that a second Ctrl+C ends the app). */
static atomic_int taken = 0;
static long long term_grace_ns = -1;

static const char *
signal_label(int signum)
{
    return signum == SIGINT ? "SIGINT" : "SIGTERM";
}

/* The second signal: the report, to the log and to stderr, then the end. */
static void
end_at_once(int signum)
{
    if (atomic_exchange(&ending, 1) != 0) {
        /* Another thread writes the report and calls _exit(): one report,
         * one exit status.  pause() is async-signal-safe. */
        for (;;) {
            pause();
        }
    }
    int fds[2] = {pqg_log_fd_checked(), pqg_stderr_fd()};
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0 || (i == 1 && fds[1] == fds[0])) {
            continue;
        }
        /* Composed in logfd.c's static buffer and written once (another
         * process sharing the log cannot cut into it): an atomic exchange,
         * memcpy and write(), async-signal-safe. */
        int out = pqg_compose_begin(fds[i]);
        pqg_puts(out, "\n=== pyqtguard: second ");
        pqg_puts(out, signal_label(signum));
        pqg_puts(out, " while closing: ending now ===\n");
        pqg_puts(out, "exit status ");
        pqg_put_dec(out, (unsigned long long)(128 + signum));
        pqg_puts(out, "; the threads still alive:\n");
        pqg_write_threads_report(out, "");
        pqg_compose_end(out);
    }
    _exit(128 + signum);
}

static void
interrupt_handler(int signum)
{
    int saved = errno;
    if (atomic_exchange(&received, 1) == 0) {
        first_signal = signum;
        int fd = wake_fd;
        if (fd >= 0) {
            char byte = (char)signum;
            /* write() is async-signal-safe; the pipe is non-blocking, and a
             * full pipe means the GUI thread has a wake-up pending anyway. */
            ssize_t n = write(fd, &byte, 1);
            (void)n;
        }
    }
    else {
        end_at_once(signum);
    }
    errno = saved;
}

/* ---- signals forwarded to their Python handlers while the loop runs ---- */
#ifdef NSIG
#  define PQG_FORWARD_SIGNALS NSIG
#else
#  define PQG_FORWARD_SIGNALS 65
#endif
static struct sigaction forward_previous[PQG_FORWARD_SIGNALS];
static int forward_armed[PQG_FORWARD_SIGNALS];
static atomic_int forward_pending[PQG_FORWARD_SIGNALS];
static volatile sig_atomic_t forward_wake_fd = -1;
static volatile sig_atomic_t forward_defer = 0;
/* CPython's own C handler (the one behind every Python-level handler), as
 * read from SIGINT's sigaction at install: only a signal whose handler is
 * exactly that one is forwarded - not one whose handler C code (Qt's
 * SIGCHLD handler on some platforms) put in behind Python's back.  Set once,
 * before forward_handler is ever installed. */
static void (*python_handler)(int) = NULL;

/* While the loop runs: a byte to the pipe, and CPython's handler - at once
 * (the app's own exec(): a slot busy in Python code, or blocked in a read,
 * is interrupted by the handler as without pyqtguard), or, in a loop in the
 * application's place (forward_defer: a test's wait), only when the slot
 * hands it to Python, so that its exception ends the loop - unless one of
 * the same signal is still waiting for that slot (the GUI thread is busy):
 * then this one trips Python now.  Outside a loop (C code that chains to the
 * handler it found, faulthandler's register(chain=True), found this one and
 * keeps it): CPython's handler alone. */
static void
forward_handler(int signum)
{
    int saved = errno;
    int fd = forward_wake_fd;
    int deferred = fd >= 0 && forward_defer && signum > 0 && signum < PQG_FORWARD_SIGNALS
                   && atomic_exchange(&forward_pending[signum], 1) == 0;
    void (*chained)(int) = python_handler;
    if (!deferred && chained != NULL) {
        chained(signum);            /* async-signal-safe: trip, wake-up fd */
    }
    if (fd >= 0) {
        char byte = (char)signum;
        ssize_t n = write(fd, &byte, 1);    /* non-blocking; full: woken anyway */
        (void)n;
    }
    errno = saved;
}

/* The previous sigaction of signum back, if the handler there is still ours
 * (signal.signal since put CPython's in: that one stays). */
static void
forward_restore(int signum)
{
    if (!forward_armed[signum]) {
        return;
    }
    forward_armed[signum] = 0;
    struct sigaction current;
    if (sigaction(signum, NULL, &current) == 0
        && !(current.sa_flags & SA_SIGINFO)
        && current.sa_handler == forward_handler) {
        (void)sigaction(signum, &forward_previous[signum], NULL);
    }
}

static int
slot_of(int signum)
{
    for (int i = 0; i < PQG_INTERRUPT_SIGNALS; i++) {
        if (handled_signals[i] == signum) {
            return i;
        }
    }
    return -1;
}

/* Put back the saved sigaction of slot i if the handler there is still ours. */
static void
restore_slot(int i)
{
    if (!armed[i]) {
        return;
    }
    armed[i] = 0;
    struct sigaction current;
    if (sigaction(handled_signals[i], NULL, &current) == 0
        && !(current.sa_flags & SA_SIGINFO)
        && current.sa_handler == interrupt_handler) {
        (void)sigaction(handled_signals[i], &previous[i], NULL);
    }
}
/* fork() (multiprocessing's workers): the child is not the app whose loop
 * is closing - and its writes would wake the parent's notifier.  It gets
 * the previous handlers back, so Ctrl+C interrupts its Python code as usual. */
static void
forget_in_child(void)
{
    for (int i = 0; i < PQG_INTERRUPT_SIGNALS; i++) {
        restore_slot(i);
    }
    wake_fd = -1;
    atomic_store(&received, 0);
    first_signal = 0;
    atomic_store(&ending, 0);
    atomic_store(&taken, 0);
    /* A pending forwarded signal was the parent's. */
    for (int s = 1; s < PQG_FORWARD_SIGNALS; s++) {
        forward_restore(s);
        atomic_store(&forward_pending[s], 0);
    }
    forward_wake_fd = -1;
}
#endif /* !_WIN32 */

/* What a handler raised in forward_check, for the slot after it (GIL; on
 * every platform: forward_raised() is, and stays None where nothing is
 * forwarded). */
static PyObject *forward_raised = NULL;

/* ---- an uncaught KeyboardInterrupt ends the process by SIGINT ----
 *
 * CPython ends by SIGINT after an uncaught KeyboardInterrupt, so that the
 * shell sees 130 (bpo-1054041).  Its flag for that is cleared by every
 * exec() of a string, and the excepthook's first report imports modules that
 * do that (collections.namedtuple): the process then exits with status 1.
 * pyqtguard's excepthook calls pqg_exit_by_sigint_at_end() instead, and
 * the end of finalization (Py_AtExit: public API, 3.11-3.14) does what
 * CPython's exit_sigint() does (on Windows: exit status 0xC000013A,
 * STATUS_CONTROL_C_EXIT, which cmd.exe reads as Ctrl+C). */
static int exit_by_sigint = 0;

static void
kill_by_sigint(void)
{
#ifndef _WIN32
    if (exit_by_sigint) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        if (sigaction(SIGINT, &dfl, NULL) == 0) {
            sigset_t just_sigint;
            sigemptyset(&just_sigint);
            sigaddset(&just_sigint, SIGINT);
            (void)sigprocmask(SIG_UNBLOCK, &just_sigint, NULL);
            (void)kill(getpid(), SIGINT);
        }
    }
#else
    if (exit_by_sigint) {
        /* exit(), as CPython's exit_sigint(): the C runtime's own atexit
         * functions and stdio buffers are done, as at any other end. */
        exit((int)STATUS_CONTROL_C_EXIT);
    }
#endif
}

void
pqg_exit_by_sigint_at_end(void)
{
    static int registered = 0;
    if (!registered && Py_AtExit(kill_by_sigint) == 0) {
        registered = 1;
    }
    exit_by_sigint = registered;
}

/* The arguments of interrupt_arm and forward_arm, (wake_fd, signals[, defer]): 0,
 * or -1 with the exception set (always on Windows: no sigaction there).
 * Either arms something a fork child must forget: registered here, once. */
static int
parse_wake_args(PyObject *args, const char *format, int *fd, PyObject **signals, void *extra)
{
    /* extra: where the optional third argument goes, of the type format says */
    if (!PyArg_ParseTuple(args, format, fd, &PyTuple_Type, signals, extra)) {
        return -1;
    }
#ifdef _WIN32
    PyErr_SetString(PyExc_OSError, "no sigaction on Windows");
    return -1;
#else
    if (*fd < 0) {
        PyErr_SetString(PyExc_ValueError, "wake_fd must be >= 0");
        return -1;
    }
    static int atfork_registered = 0;
    pqg_on_fork_child(forget_in_child, &atfork_registered);
    return 0;
#endif
}

/* interrupt_arm(wake_fd, signals, term_grace=-1): handle `signals` (SIGINT
 * and/or SIGTERM) as described above, waking the GUI thread through
 * `wake_fd`; a SIGTERM it has not taken after term_grace seconds ends the
 * process (the watchdog's exit timeout; < 0: never). */
static PyObject *
interrupt_arm_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    int fd;
    PyObject *signals;
    double grace = -1.0;
    if (parse_wake_args(args, "iO!|d:interrupt_arm", &fd, &signals, &grace) < 0) {
        return NULL;
    }
#ifdef _WIN32
    Py_RETURN_NONE;                     /* not reached: parse_wake_args refuses */
#else
    int wanted[PQG_INTERRUPT_SIGNALS] = {0, 0};
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(signals); k++) {
        long signum = PyLong_AsLong(PyTuple_GET_ITEM(signals, k));
        if (signum == -1 && PyErr_Occurred()) {
            return NULL;
        }
        int i = slot_of((int)signum);
        if (i < 0) {
            PyErr_Format(PyExc_ValueError, "not SIGINT or SIGTERM: %ld", signum);
            return NULL;
        }
        wanted[i] = 1;
    }
    first_signal = 0;
    atomic_store(&received, 0);
    atomic_store(&taken, 0);
    term_grace_ns = grace < 0 ? -1 : (long long)(grace * 1e9);
    wake_fd = fd;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = interrupt_handler;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, SIGINT);     /* never nested in itself */
    sigaddset(&action.sa_mask, SIGTERM);
    action.sa_flags = SA_RESTART;
    for (int i = 0; i < PQG_INTERRUPT_SIGNALS; i++) {
        if (!wanted[i] || armed[i]) {
            continue;
        }
        if (sigaction(handled_signals[i], &action, &previous[i]) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return NULL;
        }
        armed[i] = 1;
    }
    Py_RETURN_NONE;
#endif
}

/* interrupt_disarm(): the previous sigactions back (where still ours). */
static PyObject *
interrupt_disarm_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    int seen = 0;
#ifndef _WIN32
    for (int i = 0; i < PQG_INTERRUPT_SIGNALS; i++) {
        restore_slot(i);
    }
    /* Read only now: a signal that arrived until the previous handlers were
     * back is returned, not lost (the loop's end asks for it this way). */
    if (atomic_load(&received)) {
        seen = first_signal;
    }
    wake_fd = -1;
    first_signal = 0;
    atomic_store(&received, 0);
    atomic_store(&taken, 0);
#endif
    return PyLong_FromLong(seen);
}

/* interrupt_reset(): forget the signal received (the application refused
 * to close): the next one is a first signal again, not a second. */
static PyObject *
interrupt_reset_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifndef _WIN32
    first_signal = 0;
    atomic_store(&received, 0);
    atomic_store(&taken, 0);
#endif
    Py_RETURN_NONE;
}

/* interrupt_signal() -> the first signal received since arming, or 0. */
static PyObject *
interrupt_signal_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifdef _WIN32
    return PyLong_FromLong(0);
#else
    int signum = first_signal;
    if (signum != 0) {
        atomic_store(&taken, 1);        /* the GUI thread has it: no untaken SIGTERM */
    }
    return PyLong_FromLong((long)signum);
#endif
}

/* The first signal, received and not taken by the GUI thread (and the
 * process not already ending by a second one): its number, and in *grace_ns
 * the grace a SIGTERM gets (< 0: none); else 0.  Called by the watchdog
 * thread (no GIL). */
int
pqg_interrupt_untaken(long long *grace_ns)
{
#ifdef _WIN32
    (void)grace_ns;
    return 0;
#else
    int signum = first_signal;
    if (signum == 0 || !atomic_load(&received) || atomic_load(&taken)
        || atomic_load(&ending)) {
        return 0;
    }
    *grace_ns = signum == SIGTERM ? term_grace_ns : -1;
    return signum;
#endif
}

/* interrupt_stop_waking(): the GUI thread no longer watches the pipe (the
 * event loop ended): a second signal still ends the process with the
 * report, the pipe may be closed. */
static PyObject *
interrupt_stop_waking_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifndef _WIN32
    wake_fd = -1;
#endif
    Py_RETURN_NONE;
}


#ifndef _WIN32
/* Hand every deferred signal to Python (PyErr_SetInterruptEx also writes
 * Python's wake-up descriptor, as Python's own handler does), then run the
 * tripped handlers now: -1 with the exception set if one raised (the others
 * stay tripped, for the next check, as in Python). */
static int
forward_run(void)
{
    for (int s = 1; s < PQG_FORWARD_SIGNALS; s++) {
        if (atomic_load(&forward_pending[s]) && atomic_exchange(&forward_pending[s], 0)) {
            /* Ignored when Python no longer handles s (SIG_DFL, SIG_IGN). */
            (void)PyErr_SetInterruptEx(s);
        }
    }
    return PyErr_CheckSignals();
}
#endif

/* forward_learn(signum) -> whether signum's handler (Python's, as
 * signal.getsignal says) could be read as CPython's own. */
static PyObject *
forward_learn_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    int signum = (int)PyLong_AsLong(arg);
    if (signum == -1 && PyErr_Occurred()) {
        return NULL;
    }
#ifdef _WIN32
    (void)signum;
    Py_RETURN_FALSE;
#else
    struct sigaction current;
    if (python_handler == NULL && sigaction(signum, NULL, &current) == 0
        && !(current.sa_flags & SA_SIGINFO) && current.sa_handler != SIG_DFL
        && current.sa_handler != SIG_IGN && current.sa_handler != interrupt_handler
        && current.sa_handler != forward_handler) {
        python_handler = current.sa_handler;
    }
    return PyBool_FromLong(python_handler != NULL);
#endif
}

/* forward_arm(wake_fd, signals, defer=False): while the loop runs, each of
 * `signals` (Python handlers) also wakes it through `wake_fd`; `defer`: see
 * forward_handler. */
static PyObject *
forward_arm_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    int fd;
    PyObject *signals;
    int defer = 0;
    if (parse_wake_args(args, "iO!|p:forward_arm", &fd, &signals, &defer) < 0) {
        return NULL;
    }
#ifdef _WIN32
    Py_RETURN_NONE;                     /* not reached: parse_wake_args refuses */
#else
    forward_wake_fd = fd;
    forward_defer = defer;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(signals); k++) {
        long signum = PyLong_AsLong(PyTuple_GET_ITEM(signals, k));
        if (signum == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (signum <= 0 || signum >= PQG_FORWARD_SIGNALS) {
            PyErr_Format(PyExc_ValueError, "signal number out of range: %ld", signum);
            return NULL;
        }
        if (forward_armed[signum] || python_handler == NULL) {
            continue;
        }
        if (sigaction((int)signum, NULL, &forward_previous[signum]) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return NULL;
        }
        if ((forward_previous[signum].sa_flags & SA_SIGINFO)
            || forward_previous[signum].sa_handler != python_handler) {
            continue;                   /* not Python's handler: left alone */
        }
        /* Python's sa_flags and mask (SA_ONSTACK; no SA_RESTART: a read in a
         * slot is interrupted, and its handler runs, as without pyqtguard). */
        struct sigaction action = forward_previous[signum];
        action.sa_handler = forward_handler;
        if (sigaction((int)signum, &action, NULL) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return NULL;
        }
        forward_armed[signum] = 1;
    }
    Py_RETURN_NONE;
#endif
}

/* forward_check(*args): the notifier's first slot, in C so that no
 * bytecode (whose eval-breaker check would run the handlers there, outside
 * any try) comes before: the tripped handlers run now; what one raises is
 * kept for forward_raised() (the slot after this one), not raised here. */
static PyObject *
forward_check_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(args))
{
#ifdef _WIN32
    if (PyErr_CheckSignals() < 0) {
#else
    if (forward_run() < 0) {
#endif
        PyObject *exc;
#if PY_VERSION_HEX >= 0x030C0000
        exc = PyErr_GetRaisedException();
#else
        PyObject *type, *tb;
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_NormalizeException(&type, &exc, &tb);
        if (exc != NULL && tb != NULL) {
            (void)PyException_SetTraceback(exc, tb);
        }
        Py_XDECREF(type);
        Py_XDECREF(tb);
#endif
        if (forward_raised == NULL) {
            forward_raised = exc;       /* the first; later ones, as Python, lost */
        }
        else {
            Py_XDECREF(exc);
        }
    }
    Py_RETURN_NONE;
}

/* forward_raised(): what a handler raised in forward_check, or None (once). */
static PyObject *
forward_raised_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyObject *exc = forward_raised;
    forward_raised = NULL;
    if (exc == NULL) {
        Py_RETURN_NONE;
    }
    return exc;
}

/* forward_disarm(): the previous sigactions back (where still ours), then
 * the handlers of signals that came meanwhile and were not run yet run
 * now, raising what they raise. */
static PyObject *
forward_disarm_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifndef _WIN32
    for (int s = 1; s < PQG_FORWARD_SIGNALS; s++) {
        forward_restore(s);
    }
    forward_wake_fd = -1;
    if (forward_run() < 0) {
        return NULL;
    }
#endif
    Py_RETURN_NONE;
}

static PyMethodDef interrupt_methods[] = {
    {"interrupt_arm", interrupt_arm_py, METH_VARARGS,
     PyDoc_STR("interrupt_arm($module, wake_fd, signals, term_grace=-1, /)\n--\n\n"
               "Handle SIGINT/SIGTERM: the first writes a byte to wake_fd, "
               "a second writes the thread report and ends the process; a "
               "SIGTERM not taken (interrupt_signal) within term_grace "
               "seconds ends it through the watchdog (< 0: never).")},
    {"interrupt_disarm", interrupt_disarm_py, METH_NOARGS,
     PyDoc_STR("interrupt_disarm($module, /)\n--\n\nPut back the previous "
               "sigactions (where the handler is still pyqtguard's); returns "
               "the first signal received until then, or 0.")},
    {"interrupt_signal", interrupt_signal_py, METH_NOARGS,
     PyDoc_STR("interrupt_signal($module, /)\n--\n\nThe first signal "
               "received since interrupt_arm, or 0.")},
    {"interrupt_reset", interrupt_reset_py, METH_NOARGS,
     PyDoc_STR("interrupt_reset($module, /)\n--\n\nForget the signal "
               "received: the next one is a first signal again.")},
    {"interrupt_stop_waking", interrupt_stop_waking_py, METH_NOARGS,
     PyDoc_STR("interrupt_stop_waking($module, /)\n--\n\nStop writing to "
               "the wake-up descriptor.")},
    {"forward_learn", forward_learn_py, METH_O,
     PyDoc_STR("forward_learn($module, signum, /)\n--\n\nRead CPython's own "
               "signal handler from signum's sigaction (once); whether it is known.")},
    {"forward_arm", forward_arm_py, METH_VARARGS,
     PyDoc_STR("forward_arm($module, wake_fd, signals, defer=False, /)\n--\n\n"
               "While the loop runs, each of signals (Python-handled) also writes "
               "a byte to wake_fd; with defer, trips Python only when the slot runs "
               "(or when one is still waiting for it).")},
    {"forward_check", forward_check_py, METH_VARARGS,
     PyDoc_STR("forward_check($module, /, *args)\n--\n\nThe wake-up notifier's "
               "first slot: run the Python handlers of the signals received; what "
               "one raises is kept for forward_raised().")},
    {"forward_raised", forward_raised_py, METH_NOARGS,
     PyDoc_STR("forward_raised($module, /)\n--\n\nWhat a handler raised in "
               "forward_check, or None; cleared.")},
    {"forward_disarm", forward_disarm_py, METH_NOARGS,
     PyDoc_STR("forward_disarm($module, /)\n--\n\nPut back the previous "
               "sigactions (where still pyqtguard's), then run the handlers of "
               "signals not run yet; raises what a handler raises.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_interrupt_init(PyObject *module)
{
    return PyModule_AddFunctions(module, interrupt_methods);
}
