/* watchdog.c: one native thread that watches the process from outside the
 * interpreter: the bounded-shutdown deadline and the GUI-freeze detector.
 *
 * It needs neither the GIL nor a healthy interpreter for its timing.  When
 * something is due it starts a short-lived helper thread that takes the GIL
 * (PyGILState_Ensure) and calls pyqtguard's Python request handler, which
 * writes the rich report - thread table with start sites, every stack - and
 * waits a bounded time for the helper's acknowledgement.  The watchdog itself
 * never waits for the GIL, and no Python thread idles for the whole run only
 * to be there when a report is due.  If the interpreter cannot answer (the
 * GIL is held forever by a native call, or finalization has stopped Python
 * threads) it writes a fallback report
 * itself, without the GIL: the thread table and, on CPython 3.11-3.12,
 * every Python stack via _Py_DumpTraceback() (as faulthandler's own
 * dump_traceback_later watchdog does).  Then, for an exit deadline, it ends
 * the process with _exit(status).
 *
 * Idle cost: the thread sleeps in a timed condition wait; with freeze
 * detection on it wakes every freeze_ms/20 to compare two integers.
 *
 * Exit cost: a thread still sleeping when the process calls exit_group()
 * must be woken and killed by the kernel before the process is gone - about
 * 2 ms on a small VM, a tenth of a PyQt6 app's whole exit.  So on Linux,
 * once the interpreter starts finalizing (after which Python could not write
 * its report anyway), the watchdog hands the exit deadline to a POSIX timer
 * and ends, in parallel with the interpreter's teardown.  If the timer fires,
 * its signal handler writes the same fallback report - async-signal-safe:
 * write() only, the thread table and the interpreter's thread list read
 * without locks, as faulthandler does - and ends the process.
 */
#include "pyqtguard_native.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#  include <windows.h>
#else
#  include <limits.h>
#  include <pthread.h>
#  include <unistd.h>
#endif
#ifdef __linux__
#  include <fcntl.h>
#  include <poll.h>
#  include <sys/syscall.h>
#  include <sys/wait.h>
/* timer_create() with a signal: Linux (glibc, musl).  macOS has no POSIX
 * timers and Windows no signals: there the thread keeps the deadline to the
 * end. */
#  define PQG_EXIT_TIMER 1
#endif

#if PY_VERSION_HEX < 0x030D0000
/* Exported by 3.11 and 3.12 only (see crash.c). */
PyAPI_FUNC(void) _Py_DumpTraceback(int fd, PyThreadState *tstate);
#  define PQG_GIL_FREE_STACKS 1
#endif

/* Requests to the Python handler: the one-letter code it is called with. */
#define REQUEST_EXIT_REPORT 'X'
#define REQUEST_FREEZE_REPORT 'F'
#define REQUEST_LASTING_FREEZE 'L'
#define REQUEST_DUMP 'D'
#define ACK_WAIT_NS (1500LL * 1000 * 1000)   /* Python gets 1.5 s to answer */

/* ---- state ---- */

/* Written by Python callers under `lock`; read by the watchdog under it.
 * The heartbeat and acknowledgement are atomics: the GUI thread and the
 * report helper update them without taking the lock. */
static atomic_llong last_beat_ns;
static atomic_int ack_count;
/* Requests are numbered; one the watchdog gave up waiting for (and wrote
 * the fallback of) is not written again by a helper that gets the GIL
 * later. */
static atomic_int request_seq;
static atomic_int abandoned_seq;
static atomic_int dump_requested;        /* set by the dump signal handler */

static int started = 0;
static int stopping = 0;
static long long exit_deadline_ns = 0;    /* 0: not armed */
/* Counts watchdog_arm_exit() calls: an answer that armed the deadline again
 * is told by it, not by exit_deadline_ns, which the hand-off at interpreter
 * exit may have moved to the timer meanwhile. */
static int exit_arm_generation = 0;
static int exit_kill = 1;
static int exit_status = 124;
static char exit_reason[128];
static long long freeze_ns = 0;           /* 0: off */
static unsigned long gui_native_id = 0;
static int freeze_active = 0;
static long long freeze_began_ns = 0;
/* A freeze that lasts this long gets every thread's stack, once (a deadlock
 * shows its other side): 5 x the threshold, at least 3 s. */
#define LASTING_FREEZE_FACTOR 5
#define LASTING_FREEZE_MIN_NS (3000LL * 1000 * 1000)
static int lasting_reported = 0;
/* Until when the watchdog sleeps (monotonic ns); 0 while it is awake and will
 * look at the state again before it sleeps. */
static long long sleeping_until_ns = 0;
static PyInterpreterState *interpreter = NULL;
/* The Python callable a report helper calls with the request's code.  Set
 * and read only with the GIL held (by watchdog_start and the helper). */
static PyObject *request_handler = NULL;
/* A chore posted by another part of the core (deleting old run logs), run
 * by the watchdog at its next wake instead of by a thread of its own.
 * Read and written with the lock held. */
static void (*posted_chore)(void) = NULL;

#ifdef _WIN32
static CRITICAL_SECTION lock;
static CONDITION_VARIABLE wakeup;
#  define WATCHDOG_STACK (64 * 1024)
#else
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wakeup;
#  define WATCHDOG_STACK (256 * 1024)
#endif

static void
lock_state(void)
{
#ifdef _WIN32
    EnterCriticalSection(&lock);
#else
    pthread_mutex_lock(&lock);
#endif
}

static void
unlock_state(void)
{
#ifdef _WIN32
    LeaveCriticalSection(&lock);
#else
    pthread_mutex_unlock(&lock);
#endif
}

static void
wake_watchdog(void)
{
#ifdef _WIN32
    WakeConditionVariable(&wakeup);
#else
    pthread_cond_signal(&wakeup);
#endif
}

/* Wake it only if it would sleep past `when_ns`: a state change it can
 * see at its next regular wake costs no cross-CPU wake-up (two of them at
 * the event loop's end otherwise).  Lock held. */
static void
wake_watchdog_before(long long when_ns)
{
    if (sleeping_until_ns != 0 && sleeping_until_ns > when_ns) {
        wake_watchdog();
    }
}

/* Sleep until `deadline_ns` (monotonic) or a wake-up; lock held. */
static void
wait_until(long long deadline_ns)
{
#ifdef _WIN32
    long long ms = (deadline_ns - pqg_monotonic_ns()) / 1000000LL;
    SleepConditionVariableCS(&wakeup, &lock,
                             deadline_ns == 0 ? INFINITE : (DWORD)(ms > 0 ? ms : 0));
#else
    if (deadline_ns == 0) {
        pthread_cond_wait(&wakeup, &lock);
        return;
    }
#  ifdef __APPLE__
    /* macOS has no pthread_condattr_setclock: pthread_cond_timedwait would
     * read this monotonic deadline as a wall-clock time decades ago and
     * return at once - the watchdog would spin.  The relative wait takes a
     * duration instead (measured on the monotonic clock, so a wall-clock
     * jump cannot stretch it). */
    long long left = deadline_ns - pqg_monotonic_ns();
    if (left < 0) {
        left = 0;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)(left / 1000000000LL);
    ts.tv_nsec = (long)(left % 1000000000LL);
    pthread_cond_timedwait_relative_np(&wakeup, &lock, &ts);
#  else
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline_ns / 1000000000LL);
    ts.tv_nsec = (long)(deadline_ns % 1000000000LL);
    pthread_cond_timedwait(&wakeup, &lock, &ts);   /* CLOCK_MONOTONIC: see ensure_started */
#  endif
#endif
}

/* ---- writing ---- */

/* "[time] ", a fork child's "(forked child, pid N) ", then parts[0..n), in
 * one write(): a fork child shares the log, and `pyqtguard logs` counts only
 * the freeze lines without the mark as the app's (a child's "GUI freeze"
 * lines were read as the app's freezes).  Signal-safe: stack buffers,
 * pqg_join(), write(). */
static void
write_event_line(int fd, const char *const *parts, size_t n)
{
    char stamp[32];
    char child[48];
    char line[512];
    pqg_format_timestamp(stamp);
    const char *head[] = {"[", stamp, "] ", pqg_forked_child_mark(child)};
    size_t used = pqg_join(line, sizeof(line), head, sizeof(head) / sizeof(head[0]));
    used += pqg_join(line + used, sizeof(line) - used, parts, n);
    pqg_write_all(fd, line, used);
}

#define N_PARTS(parts) (sizeof(parts) / sizeof((parts)[0]))

#ifdef PQG_GIL_FREE_STACKS
static void
dump_thread_without_gil(int fd, PyThreadState *tstate)
{
    char name[PQG_THREAD_NAME_MAX];
    pqg_puts(fd, "\nThread ");
    if (pqg_thread_name_by_native_id(tstate->native_thread_id, name, sizeof(name))) {
        pqg_puts(fd, "'");
        pqg_put_escaped(fd, name, sizeof(name));
        pqg_puts(fd, "' ");
    }
    pqg_puts(fd, "(native id ");
    pqg_put_dec(fd, tstate->native_thread_id);
    pqg_puts(fd, "):\n");
    _Py_DumpTraceback(fd, tstate);
}
#endif

/* The fallback when Python cannot answer: table and, where the interpreter
 * exports the dumper, the stacks - read without the GIL, like faulthandler,
 * accepting that a thread changing its frames right now shows partially. */
#define NOTE_NO_ANSWER "(pyqtguard: Python did not answer within 1.5 s - the " \
    "GIL is held or the interpreter is finalizing; written without it)\n"
#define NOTE_FINALIZING "(pyqtguard: the interpreter was finalizing; written " \
    "without the GIL)\n"

/* 3.13+ (no GIL-free stack dumper exported): a real-time signal on which
 * pyqtguard registered faulthandler (faulthandler.register, the run log as
 * its file, all threads); raising it writes every Python stack.  0: none. */
static volatile sig_atomic_t stack_dump_signal = 0;

static int is_report_helper(unsigned long native_id);

#ifdef PQG_GIL_FREE_STACKS
/* Whether a fallback report dumps thread *t*: *only_native_id*'s (0: every
 * thread), never one of pyqtguard's report helpers. */
static int
dumped_in_fallback(PyThreadState *t, unsigned long only_native_id)
{
    return !is_report_helper((unsigned long)t->native_thread_id)
           && (only_native_id == 0 || t->native_thread_id == only_native_id);
}
#endif

#if defined(PQG_GIL_FREE_STACKS) && !defined(__linux__)
/* Those threads' stacks, read without the GIL in this process (no copy of
 * it to read them in: see below). */
static void
dump_threads_without_gil(int fd, unsigned long only_native_id)
{
    PyThreadState *t = PyInterpreterState_ThreadHead(interpreter);
    for (; t != NULL; t = PyThreadState_Next(t)) {
        if (dumped_in_fallback(t, only_native_id)) {
            dump_thread_without_gil(fd, t);
        }
    }
}
#endif

#if defined(__linux__)
/* The stack reader - faulthandler's (3.13+), or _Py_DumpTraceback()
 * (3.11-3.12) - reads every thread's frames without the GIL.  Done in this
 * process, a fault there turns the report's end (exit status 130, 143, 124)
 * into a SIGSEGV (-11), or kills an app that was to be left running:
 *   - a thread running Python meanwhile changes its frames under the reader
 *     (3.11: once in a full-suite run, the second Ctrl+C's report);
 *   - CPython 3.13.0 reads the C-stack frame of a call from C into Python
 *     (FRAME_OWNED_BY_CSTACK, its f_executable None) as a code object when
 *     it is a thread's top frame, which it is as each such call returns
 *     (gh-123967; 3.13.1 skips one such frame), or when two are in a row: a
 *     thread blocked in a __del__ that ran as a function called from C
 *     returned faults the dump every time (seen on 3.13.0; gh-140815's
 *     type checks, in later 3.13.x, are meant to stop such reads).
 * So the stacks are read in a copy of the process: fork() freezes every
 * thread's frames as they are (nothing runs in the copy but the reader),
 * and a fault ends the copy, not this process: the reader's output stops
 * there, and the report says so. */
#  define PQG_STACKS_IN_A_COPY 1
#  define COPY_FAULTED 3                     /* the copy's exit status */
#  define COPY_WAIT_NS (3000LL * 1000 * 1000)

#  ifndef PQG_GIL_FREE_STACKS
static void
copy_fault(int signum)
{
    (void)signum;
    _exit(COPY_FAULTED);              /* async-signal-safe; ends the copy */
}
#  endif

#  ifdef PQG_GIL_FREE_STACKS
/* 3.11-3.12, in the copy: a thread whose frames fault the reader is left
 * for the next one - the copy's memory is a snapshot nobody else uses, so
 * jumping out of the reader leaves nothing half done that matters. */
#    define MAX_UNREADABLE_THREADS 16
static sigjmp_buf copy_escape;

static void
copy_fault_escape(int signum)
{
    (void)signum;
    siglongjmp(copy_escape, 1);       /* back to the copy's thread loop */
}

static void
dump_threads_in_the_copy(int fd, unsigned long only_native_id)
{
    PyThreadState *volatile t = PyInterpreterState_ThreadHead(interpreter);
    volatile int unreadable = 0;
    while (t != NULL) {
        if (sigsetjmp(copy_escape, 1) != 0) {
            pqg_puts(fd, "\n(pyqtguard: the rest of this thread's stack could not be "
                         "read: the reader faulted on its next frame)\n");
            if (++unreadable >= MAX_UNREADABLE_THREADS) {
                return;
            }
            t = PyThreadState_Next(t);
            continue;
        }
        if (dumped_in_fallback(t, only_native_id)) {
            dump_thread_without_gil(fd, t);
        }
        t = PyThreadState_Next(t);
    }
}
#  endif

/* The raw system call: glibc's fork() runs atfork handlers and takes
 * malloc's locks (neither is async-signal-safe; a lock held by the code
 * this handler interrupted would never be released).  Arches without a
 * fork call (aarch64, riscv64, loongarch64) have clone(flags, stack, ...):
 * flags = the signal for the parent at the end, the rest 0 = a fork. */
static pid_t
raw_fork(void)
{
#  ifdef SYS_fork
    return (pid_t)syscall(SYS_fork);
#  else
    return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#  endif
}

/* In the copy: one thread (this one), the others' memory as it was. */
static void
dump_in_the_copy(int fd, unsigned long only_native_id)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    struct sigaction quiet;
    memset(&quiet, 0, sizeof(quiet));
#  ifdef PQG_GIL_FREE_STACKS
    quiet.sa_handler = copy_fault_escape;
    quiet.sa_flags = SA_NODEFER;      /* a fault again in the next thread */
#  else
    quiet.sa_handler = copy_fault;
#  endif
    sigemptyset(&quiet.sa_mask);
    sigset_t mask;
    sigfillset(&mask);
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        /* Not pyqtguard's crash handler: no crash report from the copy. */
        (void)sigaction(faults[i], &quiet, NULL);
        sigdelset(&mask, faults[i]);
    }
#  ifdef PQG_GIL_FREE_STACKS
    /* A Ctrl+C to the process group is not the copy's. */
    (void)sigprocmask(SIG_SETMASK, &mask, NULL);   /* one thread: defined */
    dump_threads_in_the_copy(fd, only_native_id);
#  else
    (void)fd;                      /* faulthandler writes to its own file */
    (void)only_native_id;
    /* Only the dump signal (the caller may be one of pyqtguard's threads,
     * which block it); a Ctrl+C to the process group is not the copy's. */
    sigdelset(&mask, stack_dump_signal);
    (void)sigprocmask(SIG_SETMASK, &mask, NULL);   /* one thread: defined */
    /* By the copy's own ids, from the kernel: after a raw fork, glibc
     * before 2.25 caches the parent's pid and musl the parent's thread id,
     * which raise() would use.  Unblocked and sent to this thread, the
     * signal is handled before tgkill returns. */
    (void)syscall(SYS_tgkill, (pid_t)syscall(SYS_getpid),
                  (pid_t)syscall(SYS_gettid), (int)stack_dump_signal);
#  endif
    _exit(0);
}

/* What the copy wrote so far, from the pipe's non-blocking end `from` to
 * fd (the composed report).  Signal-safe: read(), write(). */
static void
take_from_the_copy(int from, int fd)
{
    char chunk[2048];
    for (;;) {
        ssize_t n = read(from, chunk, sizeof(chunk));
        if (n > 0) {
            pqg_write_all(fd, chunk, (size_t)n);
        }
        else if (n == 0 || errno != EINTR) {
            return;                   /* none left for now (EAGAIN), or the end */
        }
    }
}

/* The Python stacks of all threads (*only_native_id*'s: 0 for all), read
 * in a copy: 3.11-3.12 by _Py_DumpTraceback(), 3.13+ by faulthandler to
 * its file (the run log's number, fd's descriptor).  The copy writes into a
 * pipe read here, so that the stacks join fd's composed report (one write,
 * logfd.c) instead of going to the file in pieces of their own; the copy's
 * descriptors are its own, so 3.13's faulthandler gets the pipe as the log's
 * number there (dup2).  The pipe is read while the copy runs (it holds 64
 * KiB); when the copy has ended all it wrote is in the pipe - no end of file
 * is waited for (a fork of another thread may hold the write end meanwhile).
 * Without a pipe, as before: the copy writes to the descriptor itself.
 * Signal-safe: pipe(), fcntl(), dup2(), poll(), read(), waitpid(). */
static void
dump_stacks_in_a_copy(int fd, unsigned long only_native_id)
{
    int real = pqg_compose_target(fd);
    int pipe_fds[2] = {-1, -1};
    if (pqg_pipe_above_stdio(pipe_fds) == 0) {
        for (int i = 0; i < 2; i++) {
            (void)fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
        }
        (void)fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    }
    else {
        pipe_fds[0] = pipe_fds[1] = -1;
        pqg_compose_flush(fd);       /* the copy writes to the descriptor */
        fd = real;
    }
    pid_t copy = raw_fork();
    if (copy == 0) {
        int to = pipe_fds[1] >= 0 ? pipe_fds[1] : real;
#  ifndef PQG_GIL_FREE_STACKS
        if (to != real) {
            (void)dup2(to, real);     /* faulthandler's file: the log's number */
        }
#  endif
        dump_in_the_copy(to, only_native_id);     /* does not return */
    }
    if (pipe_fds[1] >= 0) {
        close(pipe_fds[1]);
    }
    if (copy < 0) {
        if (pipe_fds[0] >= 0) {
            close(pipe_fds[0]);
        }
        pqg_puts(fd, "(pyqtguard: not written: no copy of the process to "
                     "read them in)\n");
        return;
    }
    int status = 0;
    int ended = 0;
    long long give_up = pqg_monotonic_ns() + COPY_WAIT_NS;
    struct timespec tick = {0, 1000 * 1000};
    for (;;) {
        if (pipe_fds[0] >= 0) {
            take_from_the_copy(pipe_fds[0], fd);
        }
        pid_t done = waitpid(copy, &status, WNOHANG);    /* signal-safe */
        if (done == copy) {
            ended = 1;
            break;
        }
        if (done < 0 && errno != EINTR) {
            break;       /* reaped by someone else (SIGCHLD ignored): unknown */
        }
        if (pqg_monotonic_ns() > give_up) {
            (void)kill(copy, SIGKILL);
            (void)waitpid(copy, &status, 0);
            if (pipe_fds[0] >= 0) {
                take_from_the_copy(pipe_fds[0], fd);
                close(pipe_fds[0]);
            }
            pqg_puts(fd, "\n(pyqtguard: the stack reader did not finish within 3 s; "
                         "stopped)\n");
            return;
        }
        if (pipe_fds[0] >= 0) {
            struct pollfd ready = {pipe_fds[0], POLLIN, 0};
            (void)poll(&ready, 1, 1);           /* output, or 1 ms */
        }
        else {
            nanosleep(&tick, NULL);
        }
    }
    if (pipe_fds[0] >= 0) {
        take_from_the_copy(pipe_fds[0], fd);    /* the rest: the copy has ended */
        close(pipe_fds[0]);
    }
    if (ended && WIFEXITED(status) && WEXITSTATUS(status) == COPY_FAULTED) {
        pqg_puts(fd, "\n(pyqtguard: the Python stacks stop here: the stack reader "
                     "faulted on the next frame - in a copy of the process, "
                     "read for that; this process goes on)\n");
    }
    else if (ended && WIFSIGNALED(status)) {
        pqg_puts(fd, "\n(pyqtguard: the Python stacks stop here: the copy of "
                     "the process they were read in was ended by signal ");
        pqg_put_dec(fd, (unsigned long long)WTERMSIG(status));
        pqg_puts(fd, ")\n");
    }
}
#endif

#if defined(PQG_STACKS_IN_A_COPY) && !defined(PQG_GIL_FREE_STACKS)
/* 3.13+: the main interpreter's Python stacks, written into into_fd, for
 * a crash report whose crashing thread runs a subinterpreter (crash.c).
 * faulthandler dumps the threads of the interpreter of the calling
 * thread's bound state (PyGILState_GetThisThreadState(), a pthread key),
 * which 3.12+ rebind to the subinterpreter's state the thread switched to.
 * In a copy of the process (see above), that key is found by its value,
 * `own`, and set to `in_main` - the thread's state in the main interpreter,
 * or NULL (then faulthandler takes the main interpreter) - the run log's
 * number, faulthandler's file for the stack signal, is made into_fd's, and
 * the stack signal raised.  Called from a crash handler: raw fork, getpid,
 * gettid, sigaction, sigprocmask, dup2, tgkill, waitpid, nanosleep, _exit,
 * and pthread_get/setspecific on a key the copy's only thread already has
 * a value for (glibc and musl: a read and a store in the thread's own
 * table; the copy is single-threaded, its memory its own).  1 if written. */
int
pqg_main_interpreter_stacks(int into_fd, const void *own, void *in_main)
{
    int log = pqg_log_fd_checked();
    if (stack_dump_signal == 0 || log < 0 || into_fd < 0 || own == NULL) {
        return 0;
    }
    pid_t copy = raw_fork();
    if (copy == 0) {
        static const int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        struct sigaction quiet;
        memset(&quiet, 0, sizeof(quiet));
        quiet.sa_handler = copy_fault;
        sigemptyset(&quiet.sa_mask);
        sigset_t mask;
        sigfillset(&mask);
        for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
            (void)sigaction(faults[i], &quiet, NULL);   /* no crash report */
            sigdelset(&mask, faults[i]);
        }
        int rebound = 0;
        for (unsigned long k = 0; k < PTHREAD_KEYS_MAX && !rebound; k++) {
            if (pthread_getspecific((pthread_key_t)k) == own) {
                rebound = pthread_setspecific((pthread_key_t)k, in_main) == 0;
            }
        }
        if (!rebound || dup2(into_fd, log) < 0) {
            _exit(2);              /* faulthandler would dump the same again */
        }
        sigdelset(&mask, stack_dump_signal);
        (void)sigprocmask(SIG_SETMASK, &mask, NULL);   /* one thread: defined */
        (void)syscall(SYS_tgkill, (pid_t)syscall(SYS_getpid),
                      (pid_t)syscall(SYS_gettid), (int)stack_dump_signal);
        _exit(0);
    }
    if (copy < 0) {
        return 0;
    }
    int status = 0;
    long long give_up = pqg_monotonic_ns() + COPY_WAIT_NS;
    struct timespec tick = {0, 1000 * 1000};
    for (;;) {
        pid_t done = waitpid(copy, &status, WNOHANG);
        if (done == copy) {
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        }
        if ((done < 0 && errno != EINTR) || pqg_monotonic_ns() > give_up) {
            (void)kill(copy, SIGKILL);
            (void)waitpid(copy, &status, 0);
            return 0;
        }
        nanosleep(&tick, NULL);
    }
}
#endif

/* The report helpers running (native ids; 0: a free slot): a helper that
 * waits for the GIL is pyqtguard's, not the app's - the reports written
 * without Python leave it out (its stack is pyqtguard's report code). */
#define MAX_HELPERS 8
static atomic_ulong helper_native_ids[MAX_HELPERS];

static void
note_helper(unsigned long native_id, int running)
{
    for (int i = 0; i < MAX_HELPERS; i++) {
        unsigned long expected = running ? 0 : native_id;
        if (atomic_compare_exchange_strong(&helper_native_ids[i], &expected,
                                           running ? native_id : 0)) {
            return;
        }
    }
}

static int
is_report_helper(unsigned long native_id)
{
    for (int i = 0; native_id != 0 && i < MAX_HELPERS; i++) {
        if (atomic_load(&helper_native_ids[i]) == native_id) {
            return 1;
        }
    }
    return 0;
}

/* fd: a descriptor, or PQG_COMPOSE_FD (the report composed, logfd.c). */
static void
write_fallback(int fd, unsigned long only_native_id, const char *note)
{
    int real = pqg_compose_target(fd);
    (void)real;                          /* not needed where stacks are read in a copy */
    pqg_puts(fd, note);
    if (pqg_write_unreported(fd) > 0) {   /* reports Python could not write */
        pqg_puts(fd, "\n");
    }
    pqg_write_thread_legend_without(fd, is_report_helper);
#ifdef PQG_GIL_FREE_STACKS
    if (interpreter != NULL) {
#  ifdef PQG_STACKS_IN_A_COPY
        dump_stacks_in_a_copy(fd, only_native_id);
#  else
        pqg_compose_flush(fd);           /* read here, straight to the file */
        dump_threads_without_gil(real, only_native_id);
#  endif
    }
#else
    (void)only_native_id;
    if (stack_dump_signal != 0 && real == pqg_log_fd_checked()) {
        pqg_puts(fd, "\nPython stacks of all threads (by faulthandler):\n");
#  ifdef PQG_STACKS_IN_A_COPY
        dump_stacks_in_a_copy(fd, 0);    /* async-signal-safe; see there */
#  else
        pqg_compose_flush(fd);           /* faulthandler writes to the file */
        raise(stack_dump_signal);        /* async-signal-safe; see above */
#  endif
    }
    else if (stack_dump_signal != 0) {
        pqg_puts(fd, "(Python stacks: in the run log)\n");
    }
    else {
        pqg_puts(fd, "(Python stacks need the GIL on this CPython version)\n");
    }
#endif
}

/* The same report for another signal handler (interrupt.c's second
 * Ctrl+C): async-signal-safe, as write_fallback is. */
void
pqg_write_threads_report(int fd, const char *note)
{
    write_fallback(fd, 0, note);
}

/* ---- asking Python: a helper thread per report ---- */

/* The request this helper thread answers (0: not a helper): the handler
 * asks report_wanted() before it writes, since it may lose the GIL midway
 * (a GUI thread that takes it back for a long C call) and get it again only
 * after the watchdog has given up and written the fallback - its report
 * would then come seconds late, a second one for the same event. */
static PQG_THREAD_LOCAL int helper_seq = 0;
static PQG_THREAD_LOCAL int helper_acked = 0;

/* The watchdog may stop waiting: the report is written.  Once per request,
 * and not for one it has given up on (its fallback is written; a late
 * acknowledgement would be taken for the next request's). */
static void
acknowledge(int seq)
{
    if (!helper_acked && atomic_load(&abandoned_seq) < seq) {
        helper_acked = 1;
        atomic_fetch_add(&ack_count, 1);
    }
}

/* The helper: take the GIL (this may wait as long as another thread holds
 * it - which is why the watchdog does not do it itself), call the handler,
 * acknowledge.  If the handler returns a callable (the on_freeze callbacks,
 * which may take their time), it is called after the acknowledgement.  Not
 * when the interpreter is finalizing or gone: taking the GIL then would end
 * or hang the thread, or touch freed state; nor once the watchdog has given
 * up on this request and written the fallback. */
static void
run_request(char request, int seq)
{
    if (!Py_IsInitialized() || PQG_IS_FINALIZING()) {
        return;
    }
    unsigned long self_id = pqg_current_native_id();
    note_helper(self_id, 1);
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *handler = request_handler;
    if (handler != NULL && !PQG_IS_FINALIZING()
            && atomic_load(&abandoned_seq) < seq) {
        Py_INCREF(handler);
        helper_seq = seq;
        helper_acked = 0;
        PyObject *result = PyObject_CallFunction(handler, "C", (int)request);
        helper_seq = 0;
        Py_DECREF(handler);
        if (result != NULL) {
            acknowledge(seq);
            if (result != Py_None && PyCallable_Check(result)) {
                PyObject *after = PyObject_CallNoArgs(result);
                Py_XDECREF(after);
            }
            Py_DECREF(result);
        }
        PyErr_Clear();              /* no acknowledgement: the C fallback */
    }
    PyGILState_Release(gil);
    note_helper(self_id, 0);
}

#ifdef _WIN32
static DWORD WINAPI
report_helper_main(LPVOID arg)
{
    run_request((char)((intptr_t)arg & 0xff), (int)((intptr_t)arg >> 8));
    return 0;
}
#else
static void *
report_helper_main(void *arg)
{
    pqg_name_this_thread("pyqtguard-rep");
    run_request((char)((intptr_t)arg & 0xff), (int)((intptr_t)arg >> 8));
    return NULL;
}
#endif

/* Start a helper for `request`, number `seq`; 0 if none could be started. */
static int
start_report_helper(char request, int seq)
{
    intptr_t arg = ((intptr_t)seq << 8) | (unsigned char)request;
    return pqg_start_own_thread(report_helper_main, (void *)arg, 0, NULL) == 0;
}

/* Ask Python for the report; wait (lock released) for the acknowledgement,
 * at most ACK_WAIT_NS.  0: the caller writes the fallback. */
static int
ask_python(char request)
{
    int before = atomic_load(&ack_count);
    int seq = (atomic_fetch_add(&request_seq, 1) + 1) & 0x7fffff;  /* fits arg */
    if (!start_report_helper(request, seq)) {
        return 0;
    }
    long long give_up = pqg_monotonic_ns() + ACK_WAIT_NS;
    while (atomic_load(&ack_count) == before && pqg_monotonic_ns() < give_up) {
        unlock_state();
#ifdef _WIN32
        Sleep(10);
#else
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
#endif
        lock_state();
    }
    if (atomic_load(&ack_count) != before) {
        return 1;
    }
    atomic_store(&abandoned_seq, seq);  /* a helper that gets the GIL now: no */
    return 0;
}

/* ---- the checks ---- */

/* "GUI freeze ended" with the freeze's length up to `turned_ns`, when the
 * event loop turned again.  Lock held. */
static void
log_freeze_end(long long turned_ns)
{
    int fd = pqg_log_report_fd_checked();
    if (fd < 0) {
        return;
    }
    char ms[PQG_DEC_SIZE];
    const char *parts[] = {
        "GUI freeze ended: the event loop was blocked for ",
        pqg_format_dec(ms, (unsigned long long)((turned_ns - freeze_began_ns) / 1000000LL)),
        " ms\n",
    };
    write_event_line(fd, parts, N_PARTS(parts));
}

static long long
lasting_freeze_ns(void)
{
    long long lasting = freeze_ns * LASTING_FREEZE_FACTOR;
    return lasting > LASTING_FREEZE_MIN_NS ? lasting : LASTING_FREEZE_MIN_NS;
}

/* A freeze report the watchdog writes itself (Python did not answer): its
 * line - head, the freeze's length in ms, tail - and the stacks of
 * only_native_id's thread (0: every thread), composed and written once
 * (logfd.c). */
static void
write_freeze_report(int fd, const char *head, long long length_ns, const char *tail,
                    unsigned long only_native_id)
{
    char ms[PQG_DEC_SIZE];
    int out = pqg_compose_begin(fd);
    const char *parts[] = {head, pqg_format_dec(ms, (unsigned long long)(length_ns / 1000000LL)),
                           tail};
    write_event_line(out, parts, N_PARTS(parts));
    write_fallback(out, only_native_id, NOTE_NO_ANSWER);
    pqg_compose_end(out);
}

static void
check_freeze(long long now)
{
    if (freeze_ns == 0 || gui_native_id == 0) {
        return;
    }
    long long beat = atomic_load(&last_beat_ns);
    int fd;         /* a report's: left out past the log's size limit */
    if (!freeze_active && beat != 0 && now - beat > freeze_ns) {
        freeze_active = 1;
        freeze_began_ns = beat;
        if (!ask_python(REQUEST_FREEZE_REPORT) && (fd = pqg_log_report_fd_checked()) >= 0) {
            write_freeze_report(fd, "GUI freeze: the event loop has not turned for ",
                                now - beat, " ms\n", gui_native_id);
        }
    }
    else if (freeze_active && beat > freeze_began_ns) {
        freeze_active = 0;
        lasting_reported = 0;
        log_freeze_end(beat);
    }
    else if (freeze_active && !lasting_reported && now - freeze_began_ns >= lasting_freeze_ns()) {
        lasting_reported = 1;
        if (!ask_python(REQUEST_LASTING_FREEZE) && (fd = pqg_log_report_fd_checked()) >= 0) {
            write_freeze_report(fd, "GUI freeze: still frozen after ", now - freeze_began_ns,
                                " ms; every thread:\n", 0);
        }
    }
}

/* The exit-timeout fallback report, to the log and stderr, then the end of
 * the process if asked.  Async-signal-safe (the timer's handler calls it):
 * write() of fixed strings and pre-opened fds, composed in logfd.c's static
 * buffer (an atomic exchange, memcpy) and written once per descriptor - fork
 * children reaching their deadlines together cut into one another's
 * reports - and _exit(). */
static void
report_exit_timeout_in_c(const char *note)
{
    int fds[2] = {pqg_log_fd_checked(), pqg_stderr_fd()};
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0 || (i == 1 && fds[1] == fds[0])) {
            continue;
        }
        int out = pqg_compose_begin(fds[i]);
        pqg_puts(out, "\n=== pyqtguard exit timeout ===\npid: ");
        pqg_put_dec(out, (unsigned long long)getpid());
        pqg_puts(out, "\n");
        pqg_puts(out, exit_reason);
        pqg_puts(out, "\n");
        write_fallback(out, 0, note);
        if (i == 1) {
            size_t len;     /* a static buffer: write() only, signal-safe */
            const char *line = pqg_log_path_line(&len);
            pqg_write_all(out, line, len);
        }
        pqg_compose_end(out);
    }
}

static void
end_process_if_asked(void)
{
    if (!exit_kill) {
        return;
    }
    int fd = pqg_log_fd_checked();
    if (fd >= 0) {
        char status[PQG_DEC_SIZE];
        char pid[PQG_DEC_SIZE];
        char stamp[32];
        char line[160];
        pqg_format_timestamp(stamp);
        /* One write(); the pid: a fork child shares the log (no mark here:
         * `pyqtguard logs` reads the pid). */
        const char *parts[] = {
            "[", stamp, "] pyqtguard: ending the process (exit status ",
            pqg_format_dec(status, (unsigned long long)exit_status), "), pid ",
            pqg_format_dec(pid, (unsigned long long)getpid()), "\n",
        };
        pqg_write_all(fd, line, pqg_join(line, sizeof(line), parts, N_PARTS(parts)));
    }
    _exit(exit_status);
}

static void
check_exit_deadline(long long now)
{
    if (exit_deadline_ns == 0 || now < exit_deadline_ns) {
        return;
    }
    exit_deadline_ns = 0;
    int generation = exit_arm_generation;
    if (!ask_python(REQUEST_EXIT_REPORT)) {
        report_exit_timeout_in_c(NOTE_NO_ANSWER);
    }
    else if (exit_arm_generation != generation) {
        /* The report armed the deadline again (a thread stopped at a
         * breakpoint: pyqtguard/watchdog/debugger.py; a process still
         * working: watchdog/progress.py): not the end - even if the main
         * thread reached the interpreter's exit meanwhile and the deadline
         * is the timer's now. */
        return;
    }
    end_process_if_asked();
}

/* The first SIGINT/SIGTERM the GUI thread has not taken (interrupt.c),
 * stuck in a slot.  Lock held.
 *
 * SIGTERM: an exit deadline from when the watchdog first sees it (at most a
 * second late: its longest sleep), with SIGTERM's exit status - its default
 * action would have ended the process at once.  Taken meanwhile (the app
 * closes, or refuses to), that deadline is dropped.  A deadline already
 * armed (shutdown began) stays as it is.
 *
 * SIGINT: a person at the terminal, who can press Ctrl+C again; the slot
 * that says so never ran, so the watchdog says it, once, after a second. */
static int term_deadline = 0;            /* the armed deadline is SIGTERM's */
static long long sigint_seen_ns = 0;     /* an untaken SIGINT, first seen */
static int sigint_hinted = 0;

#define SIGINT_HINT "pyqtguard: SIGINT received, but the GUI thread is busy and has " \
    "not taken it: Ctrl+C again ends the app now, with a thread report\n"

static void
log_untaken_term(long long grace_ns)
{
    int fd = pqg_log_fd_checked();
    if (fd < 0) {
        return;
    }
    long long tenths = grace_ns / 100000000LL;
    char whole[PQG_DEC_SIZE];
    char tenth[PQG_DEC_SIZE];
    const char *parts[] = {
        "pyqtguard: SIGTERM received and not taken: the GUI thread is busy; "
        "the process ends in ",
        pqg_format_dec(whole, (unsigned long long)(tenths / 10)),
        tenths % 10 != 0 ? "." : "",
        tenths % 10 != 0 ? pqg_format_dec(tenth, (unsigned long long)(tenths % 10)) : "",
        " s unless it takes it\n",
    };
    write_event_line(fd, parts, N_PARTS(parts));
}

static void
hint_untaken_sigint(void)
{
    int fds[2] = {pqg_log_fd_checked(), pqg_stderr_fd()};
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0 || (i == 1 && fds[1] == fds[0])) {
            continue;
        }
        if (i == 0) {
            const char *parts[] = {SIGINT_HINT};
            write_event_line(fds[i], parts, N_PARTS(parts));
            continue;
        }
        pqg_puts(fds[i], SIGINT_HINT);
    }
}

static void
check_untaken_signal(long long now)
{
    long long grace_ns = -1;
    int signum = pqg_interrupt_untaken(&grace_ns);
    if (signum == SIGTERM && grace_ns >= 0 && !term_deadline && exit_deadline_ns == 0) {
        static const char reason[] = "SIGTERM received and not taken: the GUI thread is busy";
        term_deadline = 1;
        exit_deadline_ns = now + grace_ns + 1;
        exit_kill = 1;
        exit_status = 128 + SIGTERM;
        memcpy(exit_reason, reason, sizeof(reason));      /* fits: 128 */
        log_untaken_term(grace_ns);
    }
    else if (signum != SIGTERM && term_deadline) {
        term_deadline = 0;
        exit_deadline_ns = 0;
    }
    if (signum != SIGINT) {
        sigint_seen_ns = 0;
        sigint_hinted = 0;
    }
    else if (sigint_seen_ns == 0) {
        sigint_seen_ns = now;
    }
    else if (!sigint_hinted && now - sigint_seen_ns >= 1000000000LL) {
        sigint_hinted = 1;
        hint_untaken_sigint();
    }
}

static long long
next_wake(long long now)
{
    long long wake = 0;
    if (exit_deadline_ns != 0) {
        wake = exit_deadline_ns;
    }
    if (freeze_ns != 0 && gui_native_id != 0) {
        long long tick = now + freeze_ns / 20;
        if (wake == 0 || tick < wake) {
            wake = tick;
        }
    }
    if (wake == 0 || wake > now + 1000000000LL) {
        wake = now + 1000000000LL;       /* a dump request is at most 1 s late */
    }
    return wake;
}

/* The watchdog woke `late` ns after the time it asked for: the process was
 * stopped (SIGSTOP and SIGCONT, a debugger's pause) or not scheduled at all,
 * while CLOCK_MONOTONIC ran on (a system suspend it does not count).  Neither
 * the GUI thread nor an exiting app could run then: that time is no freeze
 * and does not count against the exit deadline.  A stop that began before
 * the watchdog last went to sleep is excused only from then on (at most one
 * tick less).  Lock held. */
#define STOPPED_NS (100LL * 1000 * 1000)

static void
excuse_a_stop(long long asked_ns)
{
    long long late = pqg_monotonic_ns() - asked_ns;
    if (late < STOPPED_NS) {
        return;
    }
    if (exit_deadline_ns != 0) {
        exit_deadline_ns += late;
    }
    long long beat = atomic_load(&last_beat_ns);
    if (!freeze_active && beat != 0 && beat < asked_ns) {
        /* The GUI thread may have beaten since: then its beat stands. */
        atomic_compare_exchange_strong(&last_beat_ns, &beat, beat + late);
    }
}

/* Lock held; released while the chore runs (a file deletion can take a
 * while: a request or the freeze check must not wait behind it). */
static void
run_posted_chore(void)
{
    void (*chore)(void) = posted_chore;
    if (chore != NULL) {
        posted_chore = NULL;
        unlock_state();
        chore();
        lock_state();
    }
}

#ifdef _WIN32
static DWORD WINAPI
watchdog_main(LPVOID arg)
#else
static void *
watchdog_main(void *arg)
#endif
{
    (void)arg;
    pqg_prepare_thread_count();          /* for the exit's lingering-thread check */
    lock_state();
    while (!stopping) {
        run_posted_chore();
        long long now = pqg_monotonic_ns();
        if (atomic_exchange(&dump_requested, 0)) {
            if (!ask_python(REQUEST_DUMP) && pqg_log_fd_checked() >= 0) {
                int out = pqg_compose_begin(pqg_log_fd_checked());   /* one write() */
                pqg_puts(out, "\n=== pyqtguard thread dump ===\n");
                write_fallback(out, 0, NOTE_NO_ANSWER);
                pqg_compose_end(out);
            }
        }
        check_freeze(now);
        check_untaken_signal(now);
        check_exit_deadline(now);
        sleeping_until_ns = next_wake(pqg_monotonic_ns());
        wait_until(sleeping_until_ns);
        excuse_a_stop(sleeping_until_ns);
        sleeping_until_ns = 0;
    }
    run_posted_chore();                  /* one posted before the stop */
    unlock_state();
    return 0;
}

/* Give `chore` to the watchdog: 1 if it will run it (soon: it is woken),
 * 0 if it is not running or busy with another - the caller's to do then. */
int
pqg_watchdog_post(void (*chore)(void))
{
    int taken = 0;
    if (!started) {
        return 0;                        /* the lock is set up by ensure_started */
    }
    lock_state();
    if (started && !stopping && posted_chore == NULL) {
        posted_chore = chore;
        wake_watchdog();
        taken = 1;
    }
    unlock_state();
    return taken;
}

/* ---- hand-off to a POSIX timer for the end of the exit ---- */

#ifdef PQG_EXIT_TIMER
static timer_t exit_timer;
static int exit_timer_armed = 0;

/* The timer's signal handler: the interpreter is finalizing and the
 * deadline has passed.  Everything it calls is async-signal-safe (see
 * report_exit_timeout_in_c); errno is preserved for the interrupted code. */
static void
exit_timer_fired(int signum)
{
    (void)signum;
    int saved = errno;
    report_exit_timeout_in_c(NOTE_FINALIZING);
    end_process_if_asked();
    errno = saved;
}

/* A real-time signal nobody handles (from the top: glibc and libraries take
 * the low ones), or 0. */
static int
free_realtime_signal(void)
{
    for (int signum = SIGRTMAX; signum > SIGRTMIN + 2; signum--) {
        struct sigaction current;
        if (sigaction(signum, NULL, &current) == 0
            && !(current.sa_flags & SA_SIGINFO)
            && current.sa_handler == SIG_DFL) {
            return signum;
        }
    }
    return 0;
}

/* Arm a one-shot timer that raises the deadline's signal in `delay_ns`.
 * 0 on success; -1 (nothing changed) if no signal or timer is available. */
static int
arm_exit_timer(long long delay_ns)
{
    int signum = free_realtime_signal();
    if (signum == 0) {
        return -1;
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = exit_timer_fired;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART | SA_ONSTACK;
    if (sigaction(signum, &action, NULL) != 0) {
        return -1;
    }
    struct sigevent event;
    memset(&event, 0, sizeof(event));
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = signum;
    if (timer_create(CLOCK_MONOTONIC, &event, &exit_timer) != 0) {
        signal(signum, SIG_DFL);
        return -1;
    }
    struct itimerspec when;
    memset(&when, 0, sizeof(when));
    if (delay_ns < 1) {
        delay_ns = 1;                     /* 0 would disarm */
    }
    when.it_value.tv_sec = (time_t)(delay_ns / 1000000000LL);
    when.it_value.tv_nsec = (long)(delay_ns % 1000000000LL);
    if (timer_settime(exit_timer, 0, &when, NULL) != 0) {
        timer_delete(exit_timer);
        signal(signum, SIG_DFL);
        return -1;
    }
    exit_timer_armed = 1;
    return 0;
}

static void
disarm_exit_timer(void)
{
    if (exit_timer_armed) {
        timer_delete(exit_timer);
        exit_timer_armed = 0;
    }
}
#endif

/* The interpreter is finalizing: Python can no longer answer a request, so
 * the thread is of no more use than a timer.  Hand the deadline over and let
 * the thread end now, while the interpreter tears down, rather than be
 * killed at exit_group().  Without a timer the thread stays.  Lock held;
 * returns 1 if the thread is to be woken to end - by the caller, once it
 * has released the lock, so that the thread does not wake only to wait for
 * it (it sees `stopping` under the lock whenever it looks). */
static int
hand_off_to_timer(void)
{
#ifdef PQG_EXIT_TIMER
    if (!started || stopping) {
        return 0;
    }
    if (exit_deadline_ns != 0) {
        if (arm_exit_timer(exit_deadline_ns - pqg_monotonic_ns()) != 0) {
            return 0;                         /* keep the thread */
        }
        exit_deadline_ns = 0;
    }
    freeze_ns = 0;
    stopping = 1;
    return 1;
#else
    return 0;
#endif
}

/* ---- start ---- */

#ifndef _WIN32
/* fork() copies no thread: in the child the watchdog is not running, its
 * lock may be held by the vanished thread, and no deadline applies. */
static void
forget_watchdog_in_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&lock, &fresh, sizeof(lock));
    started = 0;
    stopping = 0;
    posted_chore = NULL;
    exit_deadline_ns = 0;
    freeze_ns = 0;
    gui_native_id = 0;
    freeze_active = 0;
    sleeping_until_ns = 0;
    pqg_compose_forget_in_child();       /* stores: the composer is gone */
#ifdef PQG_EXIT_TIMER
    exit_timer_armed = 0;                /* timers are not inherited */
#endif
}
#endif

static int
ensure_started(void)
{
    if (started) {
        return 0;
    }
#ifndef _WIN32
    static int atfork_registered = 0;
    pqg_on_fork_child(forget_watchdog_in_child, &atfork_registered);
#endif
    interpreter = PyInterpreterState_Main();
#ifdef _WIN32
    InitializeCriticalSection(&lock);
    InitializeConditionVariable(&wakeup);
#else
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
#  ifndef __APPLE__
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);   /* immune to clock jumps */
#  endif
    pthread_cond_init(&wakeup, &attr);
    pthread_condattr_destroy(&attr);
#endif
    int error = pqg_start_own_thread(watchdog_main, NULL, WATCHDOG_STACK,
                                     "pyqtguard-wdog");
    if (error != 0) {
        errno = error;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    started = 1;
    return 0;
}

/* ---- Python API ---- */

/* watchdog_start(handler): start the watchdog (once); handler(code) writes
 * the report a request asks for. */
static PyObject *
watchdog_start_py(PyObject *Py_UNUSED(self), PyObject *handler)
{
    if (!PyCallable_Check(handler)) {
        PyErr_Format(PyExc_TypeError, "handler must be callable, not %.100s",
                     Py_TYPE(handler)->tp_name);
        return NULL;
    }
    if (ensure_started() < 0) {
        return NULL;
    }
    Py_XSETREF(request_handler, Py_NewRef(handler));
    Py_RETURN_NONE;
}

/* Threads other than the caller and the watchdog, or -1 if not known
 * cheaply: at a clean exit, 0 spares the caller listing them.  A report
 * helper or the log pruner still running counts as other (the
 * caller's listing then leaves them out). */
static long
other_thread_count(void)
{
    long count = pqg_os_thread_count();
    return count < 0 ? -1 : (count - 2 > 0 ? count - 2 : 0);
}

static PyObject *
watchdog_arm_exit_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    double timeout;
    int kill = 1;
    int status = 124;
    const char *reason = "";
    if (!PyArg_ParseTuple(args, "d|pis:watchdog_arm_exit", &timeout, &kill,
                          &status, &reason)) {
        return NULL;
    }
    if (!(timeout >= 0)) {
        PyErr_SetString(PyExc_ValueError, "timeout must be >= 0");
        return NULL;
    }
    if (ensure_started() < 0) {
        return NULL;
    }
    lock_state();
    term_deadline = 0;                   /* the caller's deadline from now on */
    exit_deadline_ns = pqg_monotonic_ns() + (long long)(timeout * 1e9) + 1;
    exit_arm_generation++;
    exit_kill = kill;
    exit_status = status;
    size_t n = strlen(reason);
    if (n >= sizeof(exit_reason)) {
        n = sizeof(exit_reason) - 1;
    }
    memcpy(exit_reason, reason, n);
    exit_reason[n] = '\0';
#ifdef PQG_EXIT_TIMER
    if (stopping) {
        /* Handed off (the interpreter is exiting) while the watchdog asked
         * Python: the timer keeps this deadline; the thread is ending. */
        disarm_exit_timer();
        if (arm_exit_timer(exit_deadline_ns - pqg_monotonic_ns()) == 0) {
            exit_deadline_ns = 0;
        }
    }
#endif
    wake_watchdog_before(exit_deadline_ns);
    unlock_state();
    return PyLong_FromLong(other_thread_count());
}

static PyObject *
watchdog_disarm_exit_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    if (started) {
        lock_state();
        exit_deadline_ns = 0;
        term_deadline = 0;               /* an untaken SIGTERM arms it again */
#ifdef PQG_EXIT_TIMER
        disarm_exit_timer();
#endif
        unlock_state();
    }
    Py_RETURN_NONE;
}

static PyObject *
watchdog_hand_off_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    if (started) {
        lock_state();
        int wake = hand_off_to_timer();
        unlock_state();
        if (wake) {
            wake_watchdog();
        }
    }
    /* Python cannot answer from here on (a helper that runs now holds its
     * own reference).  Dropping the handler lets pyqtguard's modules, and
     * what they import, be freed with the rest rather than outlive the first
     * collection of the interpreter's teardown and be cleared one by one. */
    Py_CLEAR(request_handler);
    Py_RETURN_NONE;
}

/* watchdog_stack_signal(signum): the signal faulthandler was registered on
 * for the fallback's Python stacks (3.13+); 0: none. */
static PyObject *
watchdog_stack_signal_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    long signum = PyLong_AsLong(arg);
    if (signum == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (signum < 0 || signum >= 128) {
        PyErr_SetString(PyExc_ValueError, "not a signal number");
        return NULL;
    }
    stack_dump_signal = (sig_atomic_t)signum;
    Py_RETURN_NONE;
}

/* free_realtime_signal(): a real-time signal nobody handles, or 0 (also
 * where there are no POSIX timers and real-time signals to spare). */
static PyObject *
free_realtime_signal_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifdef PQG_EXIT_TIMER
    return PyLong_FromLong(free_realtime_signal());
#else
    return PyLong_FromLong(0);
#endif
}

/* In C, not a Python flag: after fork() the child has no watchdog thread,
 * and forget_watchdog_in_child already says so (no Python fork hook, which
 * would keep pyqtguard's modules alive through the interpreter's teardown). */
static PyObject *
watchdog_running_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(started);
}

static PyObject *
watchdog_exit_armed_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    int armed = 0;
    if (started) {
        lock_state();
        armed = exit_deadline_ns != 0;
#ifdef PQG_EXIT_TIMER
        armed = armed || exit_timer_armed;
#endif
        unlock_state();
    }
    return PyBool_FromLong(armed);
}

/* freeze_watch(threshold_ms, gui_native_id): 0 ms stops watching. */
static PyObject *
freeze_watch_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    long threshold_ms;
    unsigned long native_id = 0;
    if (!PyArg_ParseTuple(args, "l|k:freeze_watch", &threshold_ms, &native_id)) {
        return NULL;
    }
    if (threshold_ms < 0) {
        PyErr_SetString(PyExc_ValueError, "threshold_ms must be >= 0");
        return NULL;
    }
    if (ensure_started() < 0) {
        return NULL;
    }
    lock_state();
    if (threshold_ms == 0 && freeze_active) {
        /* The loop ended right after a freeze, before the watchdog saw a
         * heartbeat: the GUI thread runs again (it is calling this). */
        log_freeze_end(pqg_monotonic_ns());
    }
    freeze_ns = (long long)threshold_ms * 1000000LL;
    gui_native_id = threshold_ms ? native_id : 0;
    freeze_active = 0;
    lasting_reported = 0;
    long long now = pqg_monotonic_ns();
    atomic_store(&last_beat_ns, now);
    if (freeze_ns != 0) {       /* a stopped watch: check_freeze ignores it */
        wake_watchdog_before(now + freeze_ns / 20);
    }
    unlock_state();
    Py_RETURN_NONE;
}

/* Called by a GUI-thread timer: the event loop turned.  One atomic store. */
static PyObject *
heartbeat_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    atomic_store(&last_beat_ns, pqg_monotonic_ns());
    Py_RETURN_NONE;
}

/* freeze_state() -> (age_ms, turned_again): how long the loop had not
 * turned when the freeze now reported began - up to now, or up to the turn
 * that ended it if the GUI thread ran again before the report (it held the
 * GIL).  Outside a freeze: the time since the last heartbeat, False. */
static PyObject *
freeze_state_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    long long now = pqg_monotonic_ns();
    long long beat = atomic_load(&last_beat_ns);
    long long began = beat;
    int turned_again = 0;
    if (started) {
        lock_state();
        if (freeze_active) {
            began = freeze_began_ns;
            turned_again = beat > began;
        }
        unlock_state();
    }
    long long until = turned_again ? beat : now;
    return Py_BuildValue("LO", began ? (until - began) / 1000000LL : 0LL,
                         turned_again ? Py_True : Py_False);
}

/* report_written(): in a report helper, tell the watchdog the report is
 * in the log now - before the rest of the handler, which may lose the GIL
 * for seconds (a GUI thread that takes it back), and the watchdog would
 * then write its fallback: the same report twice.  Elsewhere nothing. */
static PyObject *
report_written_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    if (helper_seq != 0) {
        acknowledge(helper_seq);
    }
    Py_RETURN_NONE;
}

/* report_wanted() -> bool: False in a report helper whose request the
 * watchdog has given up on (it wrote the fallback report itself); True
 * elsewhere. */
static PyObject *
report_wanted_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(helper_seq == 0 || atomic_load(&abandoned_seq) < helper_seq);
}

/* The dump signal's C handler: an atomic store and a wake-up byte - both
 * async-signal-safe; the report itself is written outside the handler. */
static void
dump_signal_handler(int signum)
{
    (void)signum;
    int saved = errno;
    /* The watchdog polls this flag at least once a second: signalling its
     * condition variable from here would not be async-signal-safe. */
    atomic_store(&dump_requested, 1);
    errno = saved;
}

#ifndef _WIN32
/* The dump signal's disposition before pyqtguard took it, put back exactly
 * (handler, mask, flags) by dump_signal_disable.  0: not taken.  Written
 * with the GIL held (install/uninstall). */
static int dump_signum = 0;
static struct sigaction dump_previous;
#endif

/* signal_disposition(signum) -> 0 default, 1 ignored, 2 handled: the real
 * sigaction, not Python's cached view (signal.getsignal), which knows
 * nothing of a SIG_IGN or a handler set by C code. */
static PyObject *
signal_disposition_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    int signum = (int)PyLong_AsLong(arg);
    if (signum == -1 && PyErr_Occurred()) {
        return NULL;
    }
#ifdef _WIN32
    (void)signum;
    return PyLong_FromLong(0);
#else
    struct sigaction current;
    if (sigaction(signum, NULL, &current) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    if (current.sa_flags & SA_SIGINFO) {
        return PyLong_FromLong(2);
    }
    if (current.sa_handler == SIG_IGN) {
        return PyLong_FromLong(1);
    }
    return PyLong_FromLong(current.sa_handler == SIG_DFL ? 0 : 2);
#endif
}

static PyObject *
dump_signal_enable_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    int signum = (int)PyLong_AsLong(arg);
    if (signum == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (ensure_started() < 0) {
        return NULL;
    }
#ifdef _WIN32
    (void)dump_signal_handler;
    PyErr_SetString(PyExc_OSError, "no dump signal on Windows");
    return NULL;
#else
    if (dump_signum == signum) {
        Py_RETURN_NONE;                   /* already ours: keep the saved one */
    }
    if (dump_signum != 0) {
        (void)sigaction(dump_signum, &dump_previous, NULL);
        dump_signum = 0;
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = dump_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(signum, &action, &dump_previous) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    dump_signum = signum;
    Py_RETURN_NONE;
#endif
}

/* dump_signal_disable(): put back the sigaction the dump signal had before
 * dump_signal_enable - SIG_IGN, a C library's handler or Python's, exactly
 * (Python's cached view of it was never changed) - if the handler there is
 * still pyqtguard's: one the app set since (signal.signal) stays. */
static PyObject *
dump_signal_disable_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifndef _WIN32
    if (dump_signum != 0) {
        int signum = dump_signum;
        dump_signum = 0;
        struct sigaction current;
        if (sigaction(signum, NULL, &current) == 0
            && ((current.sa_flags & SA_SIGINFO) || current.sa_handler != dump_signal_handler)) {
            Py_RETURN_NONE;
        }
        if (sigaction(signum, &dump_previous, NULL) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return NULL;
        }
    }
#endif
    Py_RETURN_NONE;
}

/* A QThread still running when the interpreter finalizes would be
 * destroyed while running - Qt's abort.  Such an object is given a reference
 * nobody releases: it outlives finalization and dies with the process. */
static PyObject *
keep_until_exit_py(PyObject *Py_UNUSED(self), PyObject *obj)
{
    Py_INCREF(obj);
    Py_RETURN_NONE;
}

static PyMethodDef watchdog_methods[] = {
    {"keep_until_exit", keep_until_exit_py, METH_O,
     PyDoc_STR("keep_until_exit($module, obj, /)\n--\n\n"
               "Leak one reference to obj on purpose (see watchdog.c).")},
    {"watchdog_start", watchdog_start_py, METH_O,
     PyDoc_STR("watchdog_start($module, handler, /)\n--\n\nStart the watchdog "
               "thread; handler(code) writes the report a request asks for, "
               "in a helper thread started for it.")},
    {"watchdog_arm_exit", watchdog_arm_exit_py, METH_VARARGS,
     PyDoc_STR("watchdog_arm_exit($module, timeout, kill=True, status=124, "
               "reason='', /)\n--\n\nShutdown began: report (and end the "
               "process if kill) unless it is gone within timeout seconds.  "
               "Returns how many threads other than the caller and the "
               "watchdog exist (-1: not known cheaply).")},
    {"watchdog_disarm_exit", watchdog_disarm_exit_py, METH_NOARGS,
     PyDoc_STR("watchdog_disarm_exit($module, /)\n--\n\nCancel the deadline.")},
    {"watchdog_hand_off", watchdog_hand_off_py, METH_NOARGS,
     PyDoc_STR("watchdog_hand_off($module, /)\n--\n\nThe interpreter is "
               "finalizing: keep the exit deadline with a timer (Linux) and "
               "end the watchdog thread.")},
    {"watchdog_stack_signal", watchdog_stack_signal_py, METH_O,
     PyDoc_STR("watchdog_stack_signal($module, signum, /)\n--\n\nThe signal "
               "faulthandler is registered on for the fallback reports' Python "
               "stacks (3.13+); 0: none.")},
    {"free_realtime_signal", free_realtime_signal_py, METH_NOARGS,
     PyDoc_STR("free_realtime_signal($module, /)\n--\n\nA real-time signal "
               "without a handler, or 0.")},
    {"watchdog_running", watchdog_running_py, METH_NOARGS,
     PyDoc_STR("watchdog_running($module, /)\n--\n\nWhether the watchdog "
               "was started in this process (not in a fork child).")},
    {"watchdog_exit_armed", watchdog_exit_armed_py, METH_NOARGS,
     PyDoc_STR("watchdog_exit_armed($module, /)\n--\n\nWhether a deadline runs.")},
    {"freeze_watch", freeze_watch_py, METH_VARARGS,
     PyDoc_STR("freeze_watch($module, threshold_ms, gui_native_id=0, /)\n--\n\n"
               "Watch the GUI thread's heartbeat; 0 stops.")},
    {"heartbeat", heartbeat_py, METH_NOARGS,
     PyDoc_STR("heartbeat($module, /)\n--\n\nThe GUI event loop turned.")},
    {"report_written", report_written_py, METH_NOARGS,
     PyDoc_STR("report_written($module, /)\n--\n\nIn a report helper: the report "
               "is written, the watchdog may stop waiting.")},
    {"report_wanted", report_wanted_py, METH_NOARGS,
     PyDoc_STR("report_wanted($module, /)\n--\n\nFalse in a report helper whose "
               "request the watchdog gave up on (it wrote its own report).")},
    {"freeze_state", freeze_state_py, METH_NOARGS,
     PyDoc_STR("freeze_state($module, /)\n--\n\n(age_ms, turned_again) of the "
               "freeze being reported.")},
    {"dump_signal_enable", dump_signal_enable_py, METH_O,
     PyDoc_STR("dump_signal_enable($module, signum, /)\n--\n\n"
               "On signum, dump every thread to the run log.")},
    {"dump_signal_disable", dump_signal_disable_py, METH_NOARGS,
     PyDoc_STR("dump_signal_disable($module, /)\n--\n\nPut back the "
               "dump signal's previous sigaction, exactly.")},
    {"signal_disposition", signal_disposition_py, METH_O,
     PyDoc_STR("signal_disposition($module, signum, /)\n--\n\nThe real "
               "disposition of signum: 0 default, 1 ignored, 2 handled.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_watchdog_init(PyObject *module)
{
    return PyModule_AddFunctions(module, watchdog_methods);
}
