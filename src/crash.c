/* crash.c: crash reports for fatal signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT) and for Qt fatal errors.
 *
 * Model: CPython's Modules/faulthandler.c.  The handler runs on an alternate
 * stack (so a stack overflow is reported too), writes with write() only to
 * descriptors opened long before (the run log and stderr), takes no lock,
 * allocates nothing and calls no Python API that could allocate.  Then it
 * restores the handler that was there before pyqtguard and passes the
 * signal on (a real fault by returning, so that it faults again; a kill()'s
 * by raising it): earlier handlers are chained, and the exit status (-11 for
 * a segfault) and core dumps stay the truth.
 *
 * A report is delimited by "=== pyqtguard crash report ===" and runs to the
 * end of the run log (the process dies after it); `pyqtguard report` parses it.
 *
 * Python stacks, by CPython version:
 *   3.11-3.12  _Py_DumpTraceback() is exported (PyAPI_FUNC in
 *              internal/pycore_traceback.h): we write every thread's stack
 *              ourselves, each under its name from the thread table.
 *   3.13-3.14  the traceback dumpers are no longer exported (plain extern):
 *              the stdlib faulthandler is the engine.  The Python layer
 *              enables it on the run log *before* our handler is installed;
 *              our handler writes the header, the native stack and the
 *              thread legend (ident -> name), then chains to faulthandler's,
 *              which appends every thread's Python stack and re-raises.
 *              On Linux faulthandler writes them into a memfd, not the log:
 *              a second handler of ours, installed *under* faulthandler's
 *              (before it was enabled), is what its re-raise runs; it reads
 *              the dump back, leaves pyqtguard's frames out as on 3.11-3.12
 *              and writes it to the log ("the stacks handler" below).
 *
 * Windows: the same report from an unhandled-exception filter (SEH); see the
 * _WIN32 part at the end.  It is written for review; it is not built here.
 */
#include "pyqtguard_native.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#ifdef _WIN32
#  include <windows.h>
#else
#  include <fcntl.h>
#  include <sys/mman.h>
#  include <sys/stat.h>
#  include <time.h>
#  include <unistd.h>
#endif
#ifndef _WIN32
#  include <setjmp.h>
#endif
#ifdef __linux__
#  include <ucontext.h>
#endif
#include <stdint.h>

#if PY_VERSION_HEX >= 0x030D0000 && !defined(_WIN32) && defined(MFD_CLOEXEC)
/* 3.13+ on Linux: faulthandler dumps into a memfd that the stacks handler
 * reads back (see the top of this file and "the stacks handler"). */
#  define PQG_STACKS_HANDLER 1
#endif

#if PY_VERSION_HEX < 0x030D0000
/* Exported by CPython 3.11 and 3.12 (PyAPI_FUNC); declared in an internal
 * header that needs Py_BUILD_CORE, so we repeat the prototype. */
PyAPI_FUNC(void) _Py_DumpTraceback(int fd, PyThreadState *tstate);
#  define PQG_OWN_PYTHON_STACKS 1
#endif

/* Python stacks written at most, as faulthandler: with 1,000 threads a
 * report of every stack cost 3x faulthandler's (issue 21); the thread table
 * still names every thread, and the report says how many were written. */
#define MAX_PYTHON_STACKS 100
#define REASON_MAX 512

/* ---- state (written under the GIL before the handlers are armed) ---- */

typedef struct {
    int signum;
    const char *name;
    const char *description;
    int installed;
#ifndef _WIN32
    struct sigaction previous;
    int under_installed;                /* the stacks handler (3.13+, below) */
    struct sigaction under_previous;
#endif
} fatal_signal;

/* POSIX only: on Windows the exception filter reports by exception code. */
#ifndef _WIN32
static fatal_signal fatal_signals[] = {
    {.signum = SIGBUS, .name = "SIGBUS", .description = "Bus error"},
    {.signum = SIGILL, .name = "SIGILL", .description = "Illegal instruction"},
    {.signum = SIGFPE, .name = "SIGFPE", .description = "Floating-point exception"},
    {.signum = SIGABRT, .name = "SIGABRT", .description = "Aborted"},
    {.signum = SIGSEGV, .name = "SIGSEGV", .description = "Segmentation fault"},
};
#define N_FATAL_SIGNALS (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
#endif

static volatile sig_atomic_t enabled = 0;   /* read by the handler */
static PyInterpreterState *interpreter = NULL;
static atomic_int reporter = 0;            /* 0, or native id of the reporter */
static atomic_int report_progress = 0;     /* parts written: see wait_for_reporter */
static volatile sig_atomic_t fatal_already_reported = 0;  /* by qt_fatal */
static volatile sig_atomic_t engine_is_faulthandler = 0;
/* faulthandler was enabled by pyqtguard with the run log's descriptor as its
 * file (3.13+).  It keeps the number: once the app has closed the log and
 * the number names one of the app's own files, chaining to faulthandler
 * would write the stacks into that file - so the handler does not. */
static volatile sig_atomic_t faulthandler_on_run_log = 0;
/* faulthandler was enabled by the app before install() (-X faulthandler,
 * PYTHONFAULTHANDLER=1, its own enable()): its file is kept, and has the
 * stacks; pyqtguard does not know which file that is. */
static volatile sig_atomic_t faulthandler_apps_own = 0;
/* The pid that sent a fault signal with kill()/tgkill() (si_code <= 0: no
 * fault, and no si_addr), or 0.  Set by the reporter before its report. */
static volatile long report_sender = 0;
/* ... and it came from raise()/tgkill() in this process (SI_TKILL, our own
 * pid): a handler that ran before ours - faulthandler's, enabled again by
 * the app after install(), or a library's - raising a fault again after its
 * own work.  A real fault then, whose address that handler's raise() lost. */
static volatile sig_atomic_t report_sender_is_self_raise = 0;
/* The signal was raised again by this thread while it ran on its
 * alternate signal stack: another handler of the signal, set after ours
 * (faulthandler.enable() after install()), wrote its text and passed the
 * signal on with raise().  Its first cause - a fault or a kill() - is lost
 * with that handler's siginfo; "kill(), not a fault" would be a guess, and
 * for the usual case (a real fault) a wrong one. */
static volatile sig_atomic_t report_passed_on = 0;

/* ---- small signal-safe writers ---- */

/* The two descriptors a report goes to: the run log, and stderr when the
 * process has one and reports are copied there.  Each part of the report is
 * written to each in turn (the log first: it is what survives). */
static int
report_fds(int fds[2])
{
    int n = 0;
    int log = pqg_log_fd_checked();
    int err = pqg_stderr_fd();
    if (log >= 0) {
        fds[n++] = log;
    }
    if (err >= 0 && err != log) {
        fds[n++] = err;
    }
    return n;
}

/* The OS-level name of a thread (/proc/self/task/TID/comm on Linux), for
 * threads the table does not know (Qt's pool threads, a library's threads).
 * open/read/close are async-signal-safe. */
int
pqg_os_thread_name(unsigned long native_id, char *buf, size_t size)
{
#ifdef __linux__
    char path[64] = "/proc/self/task/";
    size_t len = strlen(path);
    char digits[PQG_DEC_SIZE];
    const char *id = pqg_format_dec(digits, native_id);
    size_t id_len = strlen(id);             /* 20 at most: the path's room */
    memcpy(path + len, id, id_len);
    memcpy(path + len + id_len, "/comm", 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) {
        n--;
    }
    buf[n] = '\0';
    return n > 0;
#else
    (void)native_id;
    (void)buf;
    (void)size;
    return 0;
#endif
}

/* "'name' (native id N)": the table's name, else the OS name, else "?". */
static void
write_thread_label(int fd, unsigned long native_id)
{
    char name[PQG_THREAD_NAME_MAX];
    if (pqg_thread_name_by_native_id(native_id, name, sizeof(name))
        || pqg_os_thread_name(native_id, name, sizeof(name)))
    {
        pqg_puts(fd, "'");
        pqg_put_escaped(fd, name, sizeof(name));
        pqg_puts(fd, "'");
    }
    else {
        pqg_puts(fd, "(unnamed)");
    }
    pqg_puts(fd, " (native id ");
    pqg_put_dec(fd, native_id);
    pqg_puts(fd, ")");
}

static void
write_header(int fd, const fatal_signal *sig, const char *reason,
             const void *fault_address, int has_address, unsigned long native_id)
{
    pqg_puts(fd, "\n=== pyqtguard crash report ===\n");
    if (sig != NULL) {
        pqg_puts(fd, "signal: ");
        pqg_puts(fd, sig->name);
        pqg_puts(fd, " (");
        pqg_puts(fd, sig->description);
        pqg_puts(fd, ")\n");
    }
    else {
        pqg_puts(fd, "fatal: ");
        /* Its lines as lines, each next one indented: not a header field */
        pqg_put_escaped_lines(fd, reason, REASON_MAX);
        pqg_puts(fd, "\n");
    }
    if (has_address) {                  /* 0x0 too: a NULL pointer's read */
        pqg_puts(fd, "address: ");
        pqg_put_hex(fd, (unsigned long long)(uintptr_t)fault_address);
        pqg_puts(fd, "\n");
    }
    if (report_passed_on) {
        pqg_puts(fd, "sent by: this thread's own raise() in another handler of the signal "
                     "(one set after pyqtguard's, such as faulthandler's, passing it on); "
                     "its first cause, a fault or a kill(), and a fault's address are not "
                     "known here\n");
    }
    else if (report_sender > 0) {
        pqg_puts(fd, "sent by: pid ");
        pqg_put_dec(fd, (unsigned long long)report_sender);
        pqg_puts(fd, report_sender_is_self_raise
                 ? " (raised again in this process: by a handler that ran before "
                   "pyqtguard's - faulthandler's, a library's - after a fault, "
                   "whose address it did not pass on; or by raise())\n"
                 : " (kill(), not a fault)\n");
    }
    pqg_puts(fd, "time: ");
    pqg_put_timestamp(fd);
    pqg_puts(fd, "\npid: ");
    pqg_put_dec(fd, (unsigned long long)pqg_getpid());
    pqg_puts(fd, "\nthread: ");
    write_thread_label(fd, native_id);
    pqg_puts(fd, "\n");
    pqg_write_crash_context(fd);
}

/* The native stack: raw frames, modules and offsets, no lock taken
 * (nativestack.c).  A walk follows memory the crash may have damaged; if it
 * faults, the handler is entered again on this thread and jumps back here
 * (siglongjmp from a handler: allowed, the interrupted code is our own walk,
 * which holds nothing), writes the frames found before the fault, and the
 * report goes on. */
#ifndef _WIN32
static sigjmp_buf walk_escape;
static volatile sig_atomic_t walking = 0;
#endif

static void
write_native_stack(const int *fds, int nfds, const void *ucontext)
{
#ifndef _WIN32
    walking = 1;
    if (sigsetjmp(walk_escape, 0) == 0) {
        pqg_write_native_stack(fds, nfds, ucontext);
    }
    else if (sigsetjmp(walk_escape, 0) == 0) {      /* the frames found before */
        pqg_write_native_stack_after_fault(fds, nfds, ucontext);
    }
    else {
        for (int i = 0; i < nfds; i++) {
            pqg_puts(fds[i], "\n(native stack: the walk faulted: damaged stack)\n");
        }
    }
    walking = 0;
#else
    pqg_write_native_stack(fds, nfds, ucontext);
#endif
}

/* ---- pyqtguard's own frames (both engines) ---- */

/* pyqtguard's own frames, left out of the stacks as python would show them
 * without pyqtguard (registry/frames.py app_frames, the same rule): the
 * frame lines _Py_DumpTraceback writes for a file in pyqtguard's folder
 * start with own_line_prefix ('  File "' + the folder, as _Py_DumpASCII
 * escapes it); launcher_line_prefix marks `pyqtguard run`'s launcher, whose
 * frame and every frame outside it (runpy's) are left out.  Set under the
 * GIL at crash_enable(), before the handlers are armed; a length of 0
 * leaves every stack as CPython writes it. */
#define OWN_PREFIX_MAX 1100
static char own_line_prefix[OWN_PREFIX_MAX];
static size_t own_line_prefix_len = 0;
static char launcher_line_prefix[OWN_PREFIX_MAX];
static size_t launcher_line_prefix_len = 0;

/* The filter runs over CPython's dump (3.11-3.12) and over faulthandler's
 * read back from the memfd (3.13+ on Linux); elsewhere there is none. */
#if !defined(_WIN32) && (defined(PQG_OWN_PYTHON_STACKS) || defined(PQG_STACKS_HANDLER))
static int
line_starts_with(const char *line, size_t len, const char *prefix, size_t prefix_len)
{
    return prefix_len > 0 && len >= prefix_len && memcmp(line, prefix, prefix_len) == 0;
}

#define FRAME_LINE "  File \""
#define MAX_FILTERED_FRAMES 256

/* Leave pyqtguard's frames out of one thread's dump in buf[0:len) (frames
 * innermost first, one per line; other lines - the heading, "  ...",
 * "<no Python frame>" - stay) and compact it in place; returns the new
 * length.  registry/frames.py app_frames' rule: the launcher's frame and
 * those outside it go (unless the launcher is the innermost), pyqtguard's
 * frames go, except the innermost ones (the thread is in pyqtguard's code
 * right now: that is where it is).  Only reads and memmove. */
static size_t
filter_own_frames(char *buf, size_t len)
{
    /* Static, not on the (alternate) stack: only the thread that claimed
     * the report gets here, as for drain_buffer. */
    static size_t starts[MAX_FILTERED_FRAMES];   /* frame lines' offsets */
    static size_t ends[MAX_FILTERED_FRAMES];
    static unsigned char own[MAX_FILTERED_FRAMES];
    size_t nframes = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - buf) + 1 : len;
        if (line_starts_with(buf + pos, end - pos, FRAME_LINE, sizeof(FRAME_LINE) - 1)) {
            if (nframes == MAX_FILTERED_FRAMES) {
                return len;             /* not a dump we know: as written */
            }
            starts[nframes] = pos;
            ends[nframes] = end;
            own[nframes] = (unsigned char)line_starts_with(buf + pos, end - pos,
                                                           own_line_prefix,
                                                           own_line_prefix_len);
            nframes++;
        }
        pos = end;
    }
    /* Frames kept: [0, outer) less the own ones past the innermost run. */
    size_t outer = nframes;
    for (size_t i = 0; i < nframes; i++) {
        if (line_starts_with(buf + starts[i], ends[i] - starts[i],
                             launcher_line_prefix, launcher_line_prefix_len)) {
            outer = i > 0 ? i : nframes;
            break;
        }
    }
    size_t innermost_own = 0;
    while (innermost_own < outer && own[innermost_own]) {
        innermost_own++;
    }
    /* Compact: copy every byte but the dropped frame lines. */
    size_t out = 0, in = 0;
    for (size_t i = 0; i < nframes; i++) {
        int drop = i >= outer || (i >= innermost_own && own[i]);
        if (!drop) {
            continue;
        }
        size_t keep = starts[i] - in;
        memmove(buf + out, buf + in, keep);
        out += keep;
        in = ends[i];
    }
    memmove(buf + out, buf + in, len - in);
    return out + (len - in);
}

#endif  /* !_WIN32 && (PQG_OWN_PYTHON_STACKS || PQG_STACKS_HANDLER) */

/* ---- subinterpreters ----
 * A thread may run Python code in a subinterpreter (3.12+: _interpreters,
 * concurrent.interpreters; an interpreter of its own, with a GIL and thread
 * list of its own): a thread of the main interpreter inside
 * run_string()/Interpreter.exec() has a state in each, a thread that the
 * subinterpreter started has one there only.  pyqtguard's table and the
 * main interpreter's list do not know the latter.  The crashing thread's
 * state in a subinterpreter: its own (the thread-specific one, which 3.12+
 * binds to the state it switched to), else one with its native id in
 * another interpreter's list (3.11, which binds the first state only).
 * PyInterpreterState_Head/Next and PyThreadState_Next only read pointers,
 * as faulthandler reads the thread list: no lock, no allocation. */
static PyThreadState *
subinterpreter_thread_state(unsigned long crashing_native_id)
{
    if (interpreter == NULL) {
        return NULL;
    }
    PyThreadState *own = PyGILState_GetThisThreadState();
    if (own != NULL && own->interp != NULL && own->interp != interpreter) {
        return own;
    }
    int n = 0;
    for (PyInterpreterState *i = PyInterpreterState_Head(); i != NULL && n < 10000;
         i = PyInterpreterState_Next(i), n++) {
        if (i == interpreter) {
            continue;
        }
        PyThreadState *t = PyInterpreterState_ThreadHead(i);
        for (; t != NULL && n < 10000; t = PyThreadState_Next(t), n++) {
            if (t->native_thread_id == crashing_native_id) {
                return t;
            }
        }
    }
    return NULL;
}

/* The id of a subinterpreter (a plain read for a state's interpreter). */
static unsigned long long
interpreter_id(PyThreadState *tstate)
{
    long long id = PyInterpreterState_GetID(tstate->interp);
    return id > 0 ? (unsigned long long)id : 0;
}

#ifdef PQG_OWN_PYTHON_STACKS
/* The staging pipe.  _Py_DumpTraceback() writes a frame in many small
 * write()s; to a file each costs an inode lock and the page cache, and the
 * report goes to two descriptors.  So each thread's stack is dumped once into
 * a pipe (in-memory, non-blocking: a full pipe truncates, never blocks) and
 * copied from there to the log and stderr in one write each.  Opened at
 * enable time; read()/write() are async-signal-safe; the drain buffer is
 * static, used only by the one thread that claimed the report. */
static int stage_write = -1;              /* stays -1 on Windows: direct writes */
#ifndef _WIN32
static int stage_read = -1;
/* One thread's whole dump fits: _Py_DumpTraceback writes at most 100
 * frames, each line at most ~1,040 bytes (its strings cut at 500 chars). */
static char drain_buffer[256 * 1024];
static dev_t stage_dev;                   /* the pipe's identity (both ends) */
static ino_t stage_ino;
#endif
static int stage_ok = 0;                  /* checked at each report */

/* Are the staging pipe's descriptors still our pipe?  An app that closed
 * every descriptor (os.closerange) frees their numbers for its own files:
 * a stack dumped there would land in the app's file.  fstat() is
 * async-signal-safe. */
static int
stage_is_ours(void)
{
#ifndef _WIN32
    struct stat st;
    int ends[2] = {stage_read, stage_write};
    if (stage_write < 0) {
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        if (fstat(ends[i], &st) != 0 || !S_ISFIFO(st.st_mode)
            || st.st_dev != stage_dev || st.st_ino != stage_ino)
        {
            return 0;
        }
    }
    return 1;
#else
    return 0;
#endif
}

#ifndef _WIN32
static void stage_renew_in_child(void);
#endif

static void
open_stage(void)
{
#ifndef _WIN32
    int ends[2];
    if (stage_read >= 0 || pqg_pipe_above_stdio(ends) != 0) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(ends[i], F_SETFD, FD_CLOEXEC);
        fcntl(ends[i], F_SETFL, fcntl(ends[i], F_GETFL) | O_NONBLOCK);
    }
#  ifdef F_SETPIPE_SZ
    fcntl(ends[1], F_SETPIPE_SZ, 1024 * 1024);   /* Linux: room for a big stack */
#  endif
    struct stat st;
    if (fstat(ends[0], &st) != 0) {
        close(ends[0]);
        close(ends[1]);
        return;
    }
    stage_dev = st.st_dev;
    stage_ino = st.st_ino;
    stage_read = ends[0];
    stage_write = ends[1];
    static int atfork_registered = 0;
    pqg_on_fork_child(stage_renew_in_child, &atfork_registered);
#endif
}


#ifndef _WIN32
/* A forked child shares the staging pipe with its parent and siblings:
 * crashing at once, each drained the others' stacks into its own report.
 * The child gets a pipe of its own under the same numbers, unless they are
 * no longer ours (the app's files then, left alone).  After fork(), one
 * thread: pipe, fcntl, dup2, close, fstat only (dup2 then FD_CLOEXEC: no
 * other thread can exec in between; dup3 is Linux's alone). */
static void
stage_renew_in_child(void)
{
    int ends[2];
    if (!stage_is_ours() || pqg_pipe_above_stdio(ends) != 0) {
        return;
    }
    int targets[2] = {stage_read, stage_write};
    for (int i = 0; i < 2; i++) {
        fcntl(ends[i], F_SETFL, fcntl(ends[i], F_GETFL) | O_NONBLOCK);
    }
#  ifdef F_SETPIPE_SZ
    fcntl(ends[1], F_SETPIPE_SZ, 1024 * 1024);
#  endif
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        if (ends[i] == targets[0] || ends[i] == targets[1]
            || dup2(ends[i], targets[i]) < 0
            || fcntl(targets[i], F_SETFD, FD_CLOEXEC) < 0) {
            ok = 0;
        }
    }
    struct stat st;
    if (ok && fstat(stage_read, &st) == 0) {
        stage_dev = st.st_dev;
        stage_ino = st.st_ino;
    }
    for (int i = 0; i < 2; i++) {
        if (ends[i] != targets[0] && ends[i] != targets[1]) {
            close(ends[i]);
        }
    }
}
#endif

static void
drain_stage(const int *fds, int nfds)
{
#ifndef _WIN32
    for (;;) {
        ssize_t n = read(stage_read, drain_buffer, sizeof(drain_buffer));
        if (n <= 0) {
            return;                     /* empty (EAGAIN) or broken */
        }
        for (int i = 0; i < nfds; i++) {
            pqg_write_all(fds[i], drain_buffer, (size_t)n);
        }
    }
#else
    (void)fds;
    (void)nfds;
#endif
}

#ifndef _WIN32
/* Read one thread's dump from the staging pipe, leave pyqtguard's frames
 * out and write it to each descriptor; as written when it does not fit. */
static void
drain_stage_filtered(const int *fds, int nfds)
{
    size_t len = 0;
    while (len < sizeof(drain_buffer)) {
        ssize_t n = read(stage_read, drain_buffer + len, sizeof(drain_buffer) - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len < sizeof(drain_buffer)) {
        len = filter_own_frames(drain_buffer, len);
    }
    for (int i = 0; i < nfds; i++) {
        pqg_write_all(fds[i], drain_buffer, len);
    }
    drain_stage(fds, nfds);             /* the rest of a dump too big */
}
#endif

/* One thread's Python stack under its name.  Reads the thread states the
 * way faulthandler does: without the GIL or a lock, accepting that a thread
 * that is changing its frames right now may show a partial stack. */
static void
write_python_thread(int fd, PyThreadState *tstate, int current)
{
    pqg_puts(fd, current ? "\nCurrent thread " : "\nThread ");
    write_thread_label(fd, tstate->native_thread_id);
    pqg_puts(fd, ", ident ");
    pqg_put_hex(fd, (unsigned long long)tstate->thread_id);
    if (tstate->interp != interpreter) {
        pqg_puts(fd, ", in subinterpreter ");
        pqg_put_dec(fd, interpreter_id(tstate));
    }
    pqg_puts(fd, ":\n");
    _Py_DumpTraceback(fd, tstate);
}

/* Dump one thread through the staging pipe when there is one (one write
 * per descriptor), else straight to each descriptor. */
static void
emit_python_thread(const int *fds, int nfds, PyThreadState *tstate, int current)
{
    atomic_fetch_add(&report_progress, 1);
    if (stage_ok) {
        drain_stage(NULL, 0);                 /* leftovers of a failed dump */
        write_python_thread(stage_write, tstate, current);
#ifndef _WIN32
        drain_stage_filtered(fds, nfds);
#else
        drain_stage(fds, nfds);
#endif
        return;
    }
    if (nfds == 1 && fds[0] == PQG_CAPTURE_FD) {
        /* No pipe: CPython writes straight to descriptors.  What is composed
         * so far goes first, then the stack to each real one. */
        pqg_capture_flush();
        fds = pqg_capture_targets(&nfds);
    }
    for (int i = 0; i < nfds; i++) {
        write_python_thread(fds[i], tstate, current);
    }
}

/* The crashing thread's state.  Fatal signals are delivered to the thread
 * that faulted, so its own thread-specific storage says which state is its
 * (a read of pthread_getspecific: what faulthandler does in its handler).
 * Matching native ids alone is not enough: a thread that is being started
 * carries its creator's id until it runs.  Falls back to the id for a
 * thread without a bound state. */
static PyThreadState *
crashing_thread_state(PyThreadState *head, unsigned long crashing_native_id)
{
    PyThreadState *own = PyGILState_GetThisThreadState();
    for (PyThreadState *t = head; t != NULL; t = PyThreadState_Next(t)) {
        if (t == own) {
            return own;
        }
    }
    for (PyThreadState *t = head; t != NULL; t = PyThreadState_Next(t)) {
        if (t->native_thread_id == crashing_native_id) {
            return t;
        }
    }
    return NULL;
}

/* The oldest thread state: the interpreter puts each new one at the head
 * of its list (3.11-3.14), so this is the main thread's in almost every app. */
static PyThreadState *
oldest_thread_state(PyThreadState *head)
{
    PyThreadState *last = head;
    for (PyThreadState *t = head; t != NULL; t = PyThreadState_Next(t)) {
        last = t;
    }
    return last;
}

static void
write_python_stacks(const int *fds, int nfds, unsigned long crashing_native_id)
{
    if (interpreter == NULL) {
        return;
    }
    for (int i = 0; i < nfds; i++) {
        pqg_puts(fds[i], "\nPython stacks of all threads (the crashing thread first):\n");
    }
    stage_ok = stage_is_ours();
    /* PyInterpreterState_ThreadHead/PyThreadState_Next only read pointers. */
    PyThreadState *head = PyInterpreterState_ThreadHead(interpreter);
    PyThreadState *current = crashing_thread_state(head, crashing_native_id);
    PyThreadState *oldest = oldest_thread_state(head);
    unsigned long long written = 0, threads = 0;
    /* A crash in a subinterpreter's code: that stack is where it happened;
     * the thread's state in the main interpreter, if it has one, follows
     * (where it entered the subinterpreter). */
    PyThreadState *sub = subinterpreter_thread_state(crashing_native_id);
    if (sub != NULL) {
        emit_python_thread(fds, nfds, sub, 1);
        written++;
        threads++;
    }
    if (current != NULL) {
        emit_python_thread(fds, nfds, current, 1);
        written++;
    }
    /* Then the main thread (the GUI thread of a Qt app): it would be the
     * last one in the list, the first to be cut with many threads. */
    if (oldest != NULL && oldest != current
        && oldest->native_thread_id != crashing_native_id)
    {
        emit_python_thread(fds, nfds, oldest, 0);
        written++;
    }
    for (PyThreadState *t = head; t != NULL; t = PyThreadState_Next(t)) {
        /* Another state with the crashing thread's id belongs to a thread
         * that is being started: until it runs, CPython 3.11-3.12 give it
         * the id of the thread that created it.  It has no frames yet. */
        if (t == current || t->native_thread_id == crashing_native_id) {
            continue;
        }
        threads++;
        if (t != oldest && written < MAX_PYTHON_STACKS) {
            emit_python_thread(fds, nfds, t, 0);
            written++;
        }
    }
    threads += current != NULL;
    for (int i = 0; i < nfds; i++) {
        pqg_puts(fds[i], "\nPython stacks written: ");
        pqg_put_dec(fds[i], written);
        pqg_puts(fds[i], " of ");
        pqg_put_dec(fds[i], threads);
        pqg_puts(fds[i], written < threads
                 ? " threads (the thread table above names them all)\n\n"
                 : " threads\n\n");
    }
}
#endif

/* Python threads the table does not know (Qt's pool threads running
 * Python code, threads started by C extensions), named by the OS.  The
 * thread_id/native_thread_id fields exist in PyThreadState in 3.11-3.14. */
static void
write_unregistered_python_threads(int fd)
{
    if (interpreter == NULL) {
        return;
    }
    char name[PQG_THREAD_NAME_MAX];
    PyThreadState *t = PyInterpreterState_ThreadHead(interpreter);
    for (; t != NULL; t = PyThreadState_Next(t)) {
        if (pqg_thread_name_by_native_id(t->native_thread_id, name, sizeof(name))) {
            continue;
        }
        pqg_puts(fd, "  ");
        pqg_put_hex(fd, (unsigned long long)t->thread_id);
        pqg_puts(fd, "  native ");
        pqg_put_dec(fd, t->native_thread_id);
        pqg_puts(fd, "  other  '");
        if (!pqg_os_thread_name(t->native_thread_id, name, sizeof(name))) {
            memcpy(name, "?", 2);
        }
        pqg_put_escaped(fd, name, sizeof(name));
        pqg_puts(fd, "'\n");
    }
}

/* A crashing thread that neither the table nor the interpreter knows: a
 * thread a native library started (OpenBLAS's workers, a codec's, a
 * driver's).  Its OS name is usually the process's ('python'), which reads
 * like Python's own thread: one line says what it is. */
static void
write_foreign_crashing_thread(int fd, unsigned long native_id)
{
    char name[PQG_THREAD_NAME_MAX];
    if (native_id == 0 || pqg_thread_name_by_native_id(native_id, name, sizeof(name))) {
        return;
    }
    if (interpreter != NULL) {
        PyThreadState *t = PyInterpreterState_ThreadHead(interpreter);
        for (; t != NULL; t = PyThreadState_Next(t)) {
            if (t->native_thread_id == native_id) {
                return;
            }
        }
    }
    if (!pqg_os_thread_name(native_id, name, sizeof(name))) {
        memcpy(name, "?", 2);
    }
    pqg_puts(fd, "  the crashing thread, native ");
    pqg_put_dec(fd, native_id);
    pqg_puts(fd, " '");
    pqg_put_escaped(fd, name, sizeof(name));
    PyThreadState *sub = subinterpreter_thread_state(native_id);
    if (sub != NULL) {
        /* before: "a native library started it", for a Python thread */
        pqg_puts(fd, "', is a Python thread of subinterpreter ");
        pqg_put_dec(fd, interpreter_id(sub));
        pqg_puts(fd, ", started there (pyqtguard's thread table and registry know the "
                 "main interpreter's threads); its name is the one the OS gave it\n");
        return;
    }
    pqg_puts(fd, "', is not a Python thread, QThread or pyqtguard worker: a native "
             "library started it (a BLAS, codec or driver thread, or Qt's own), and "
             "its name is the one the OS gave it\n");
}

static void
write_legend_to(int fd, unsigned long crashing_native_id)
{
    pqg_puts(fd, "\n");
    pqg_write_thread_legend(fd);
    write_unregistered_python_threads(fd);
    write_foreign_crashing_thread(fd, crashing_native_id);
}

/* ---- the GIL's waiters, while the report is written ----
 * A crashing thread that holds the GIL keeps it to the end.  Meanwhile each
 * thread waiting for it wakes every switch interval (5 ms) to ask again:
 * 1,000 of them are 200,000 wake-ups a second, which starve the handler on
 * a small machine; its 10 ms of writes then took up to seconds (issue 21).
 * Raising the interval to 10 s quiets them after their current wait.
 * _PyEval_Get/SetSwitchInterval are exported in 3.11-3.12 (cpython/ceval.h)
 * and are plain loads and stores there (3.12 finds the interpreter from the
 * thread's attached state, checked first: it would be a fatal error
 * without one).  3.13+ no longer export them (faulthandler is the engine
 * there, see above): nothing is done.  Restored before the signal is passed
 * on, in case the previous handler lets the process live. */
#ifdef PQG_OWN_PYTHON_STACKS
static unsigned long saved_switch_interval = 0;
#endif

static void
quiet_gil_waiters(void)
{
#ifdef PQG_OWN_PYTHON_STACKS
    PyThreadState *attached = _PyThreadState_UncheckedGet();
    if (attached != NULL && attached == PyGILState_GetThisThreadState()) {
        saved_switch_interval = _PyEval_GetSwitchInterval();
        _PyEval_SetSwitchInterval(10UL * 1000 * 1000);
    }
#endif
}

static void
restore_gil_waiters(void)
{
#ifdef PQG_OWN_PYTHON_STACKS
    if (saved_switch_interval != 0) {
        _PyEval_SetSwitchInterval(saved_switch_interval);
        saved_switch_interval = 0;
    }
#endif
}

/* Everything a report says, to every report descriptor.  Called from the
 * signal handler (sig != NULL) or, with the GIL, for a Qt fatal error. */
/* ---- the stacks handler (3.13+, Linux) ----
 * faulthandler's handler restores the handler that was there when it was
 * enabled, writes the stacks to its file and raises the signal again: that
 * previous handler runs at once, nested, in the same thread (SA_NODEFER).
 * So install() puts stacks_signal_handler() in place first, points
 * faulthandler at a memfd (an in-memory file: writing never blocks, any
 * size fits), then installs fatal_signal_handler() on top:
 *
 *   fatal_signal_handler   header, native stack, thread table; notes where
 *     |                    the memfd ends and that this thread waits for
 *     v                    its stacks; chains to faulthandler
 *   faulthandler           "Fatal Python error", every thread's stack,
 *     |                    into the memfd; raise()
 *     v
 *   stacks_signal_handler  reads the dump back from where it started,
 *                          leaves pyqtguard's frames out (the 3.11-3.12
 *                          rule, filter_own_frames, one thread at a time),
 *                          writes it to the run log; then the handler that
 *                          was there before pyqtguard, and raise()
 *
 * lseek(), read(), write(), fstat(), sigaction(), raise(): async-signal-
 * safe; one static buffer, used only by the thread that reports. */
#ifdef PQG_STACKS_HANDLER
static int stacks_fd = -1;                  /* the memfd */
static dev_t stacks_dev;
static ino_t stacks_ino;
/* faulthandler writes into stacks_fd: set by crash_enable() */
static volatile sig_atomic_t stacks_armed = 0;
/* The thread whose report waits for faulthandler's dump, and where that
 * dump starts in the memfd (a fork child shares it, and its offset). */
static volatile unsigned long stacks_pending = 0;
static volatile off_t stacks_start = 0;
/* That thread's fault was offered to a library, which gave up by putting
 * this disposition in place (libraryfaults.c): the stacks handler passes
 * the fault on to it instead of to the handler under its own. */
static volatile sig_atomic_t stacks_to_left = 0;
static struct sigaction stacks_left;
/* The stacks handler ran first (faulthandler was disabled by the app, which
 * put it back on top; or the app enabled faulthandler again after that):
 * the report it writes has no stacks of faulthandler's to copy. */
static volatile sig_atomic_t report_from_stacks_handler = 0;
/* ... because Python had shut down: faulthandler's unload at finalization
 * put the stacks handler back on top (a C or C++ destructor run by exit()
 * crashing: no Python code runs, there are no stacks to write). */
static volatile sig_atomic_t report_after_shutdown = 0;
/* The native id of the thread that finalized the interpreter, set at the
 * end of the teardown (Py_AtExit, public API 3.11-3.14, runs in that
 * thread).  A crash after it in another thread is that thread coming back
 * into the finished interpreter from native code: sys.exit() outside the
 * main thread, while the main thread waited in Qt (CPython 3.13-3.14 crash
 * there in take_gil, python/cpython gh-87135). */
#ifdef PQG_STACKS_HANDLER
static volatile unsigned long finalized_by = 0;
static volatile pid_t finalized_in = 0;     /* ... in this process (not a fork child) */
#endif
/* The abort() after a fatal error already reported with every stack (Qt's
 * after a qFatal): faulthandler's dump of it is not copied a second time. */
static volatile sig_atomic_t stacks_discard = 0;
#define STACKS_BUFFER_SIZE (1024 * 1024)
static char stacks_buffer[STACKS_BUFFER_SIZE];

/* Is stacks_fd still our memfd?  An app that closed every descriptor
 * (os.closerange) freed its number for its own files: faulthandler would
 * write into one of them. */
static int
stacks_fd_is_ours(void)
{
    struct stat st;
    return stacks_fd >= 0 && fstat(stacks_fd, &st) == 0
           && st.st_dev == stacks_dev && st.st_ino == stacks_ino;
}

static int
is_stack_heading(const char *line, size_t len)
{
    return line_starts_with(line, len, "Thread 0x", 9)
           || line_starts_with(line, len, "Current thread 0x", 17);
}

/* Leave pyqtguard's frames out of each thread's stack in buf[0:len), a
 * part of faulthandler's dump made of whole threads (a thread's stack
 * starts at its heading line); compacted in place, returns the length. */
static size_t
filter_dump(char *buf, size_t len)
{
    size_t out = 0, segment = 0, pos = 0;
    while (pos <= len) {
        const char *nl = pos < len ? memchr(buf + pos, '\n', len - pos) : NULL;
        size_t end = nl != NULL ? (size_t)(nl - buf) + 1 : len;
        if (pos == len || (pos > segment && is_stack_heading(buf + pos, end - pos))) {
            size_t n = filter_own_frames(buf + segment, pos - segment);
            memmove(buf + out, buf + segment, n);
            out += n;
            segment = pos;
        }
        if (pos == len) {
            break;
        }
        pos = end;
    }
    return out;
}

/* Where the last thread's stack in buf[0:len) starts (0: none after the
 * start): what comes before it is made of whole threads. */
static size_t
last_heading(const char *buf, size_t len)
{
    size_t last = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - buf) + 1 : len;
        if (pos > 0 && is_stack_heading(buf + pos, end - pos)) {
            last = pos;
        }
        pos = end;
    }
    return last;
}

/* Does buf[0:len) have the crashing thread's heading ("Current thread"),
 * and faulthandler's "..." line (it stopped after 100 threads)? */
static void
scan_dump(const char *buf, size_t len, int *has_current, int *threads_cut)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - buf) + 1 : len;
        if (line_starts_with(buf + pos, end - pos, "Current thread 0x", 17)) {
            *has_current = 1;
        }
        else if (end - pos == 4 && memcmp(buf + pos, "...\n", 4) == 0) {
            *threads_cut = 1;
        }
        pos = end;
    }
}

/* Copy faulthandler's dump from `start` to the end of the memfd to fd,
 * pyqtguard's frames left out; a thread's stack larger than the buffer
 * (CPython writes at most 100 frames of 500-character names: 100 KiB) is
 * copied as written. */
static size_t
copy_faulthandler_stacks(int fd, off_t start)
{
    if (fd < 0 || !stacks_fd_is_ours() || lseek(stacks_fd, start, SEEK_SET) < 0) {
        return 0;
    }
    size_t len = 0, copied = 0;
    int eof = 0, has_current = 0, threads_cut = 0;
    for (;;) {
        while (!eof && len < sizeof(stacks_buffer)) {
            ssize_t n = read(stacks_fd, stacks_buffer + len, sizeof(stacks_buffer) - len);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                eof = 1;
                break;
            }
            len += (size_t)n;
        }
        if (len == 0) {
            if (copied > 0 && threads_cut && !has_current) {
                /* 3.13+: the newest 100 threads' stacks; the crashing
                 * thread (the main thread, the oldest, often) was not one */
                pqg_puts(fd, "The crashing thread's Python stack is not among these: "
                         "faulthandler writes 100 threads' stacks, the newest "
                         "first (the thread table above names them all).\n");
            }
            return copied;
        }
        size_t whole = eof ? len : last_heading(stacks_buffer, len);
        size_t out;
        if (whole == 0) {               /* one thread's stack fills the buffer */
            whole = len;
            out = len;
        }
        else {
            out = filter_dump(stacks_buffer, whole);
        }
        scan_dump(stacks_buffer, out, &has_current, &threads_cut);
        pqg_write_all(fd, stacks_buffer, out);
        copied += out;
        atomic_fetch_add(&report_progress, 1);
        memmove(stacks_buffer, stacks_buffer + whole, len - whole);
        len -= whole;
    }
}
#endif

/* Where the stacks handler copies the stacks: the run log, unless the app
 * closed it (its number names no file: writes would fail), then stderr. */
static int
stacks_target_fd(void)
{
    int log = pqg_log_fd_checked();
#ifndef _WIN32
    struct stat st;
    if (log >= 0 && fstat(log, &st) != 0) {
        log = -1;
    }
#endif
    return log >= 0 ? log : pqg_stderr_fd();
}

/* faulthandler would write into a file that is no longer the run log, or
 * no longer our memfd. */
static int
faulthandler_stale(int log_fd)
{
#ifdef PQG_STACKS_HANDLER
    if (stacks_armed) {
        return !stacks_fd_is_ours();
    }
#endif
    return faulthandler_on_run_log && log_fd < 0;
}

/* Where the Python stacks go: the run log, else stderr when faulthandler's
 * dump is copied by the stacks handler (it would go nowhere else). */
static int
stacks_copied(void)
{
#ifdef PQG_STACKS_HANDLER
    return stacks_armed && !report_from_stacks_handler;
#else
    return 0;
#endif
}

#ifndef _WIN32
/* 3.13+: the log's part of the report is held in the capture buffer until
 * the stacks handler appends faulthandler's dump to it (write_report). */
static volatile sig_atomic_t log_part_held = 0;

/* Whether the report about to be written will have faulthandler's dump
 * copied after it by the stacks handler (the chain in report_and_chain
 * arms it): then the log's part waits for the stacks. */
static int
hold_log_part(int under)
{
#ifdef PQG_STACKS_HANDLER
    return !under && stacks_armed && !faulthandler_stale(pqg_log_fd_checked());
#else
    (void)under;
    return 0;
#endif
}

/* A held log part written as it is, or with the stacks when they came,
 * then stderr's copy (pqg_capture_defer, in write_report).  write() and
 * memcpy only: signal-safe. */
static void
release_log_part(void)
{
    if (log_part_held) {
        log_part_held = 0;
        pqg_capture_flush();
        pqg_capture_end();
    }
}
#endif

#ifndef PQG_OWN_PYTHON_STACKS
/* The report is written by the stacks handler, run first (no dump of
 * faulthandler's follows it). */
static inline int
reported_by_stacks_handler(void)
{
#ifdef PQG_STACKS_HANDLER
    return report_from_stacks_handler;
#else
    return 0;
#endif
}

/* 3.13+: faulthandler writes the Python stacks, from the head of the
 * interpreter's thread list, where each new thread state is put.  A state
 * made by start_new_thread() whose thread has not run yet has thread_id 0
 * until that thread binds it (3.13+: as it starts, before it waits for the
 * GIL).  CPython 3.14's faulthandler takes a thread_id of 0 for a freed
 * state (gh-116008: _PyMem_IsULongFreed()), writes "<freed thread state>"
 * and stops: no Python stack at all, the crashing thread's included.  Such
 * threads bind their states within a scheduling slice once the crashing
 * thread lets them run: it waits for them, 1 ms at a time, 100 ms at most
 * (a thread whose creation itself was cut short never binds).  Reads of
 * the list and of a public field only, as faulthandler's; nanosleep() and
 * Sleep() are safe in a handler. */
#define UNBOUND_WAIT_MS 100

static int
unbound_thread_state(void)
{
    if (interpreter == NULL) {
        return 0;
    }
    PyThreadState *t = PyInterpreterState_ThreadHead(interpreter);
    for (int n = 0; t != NULL && n < 10000; t = PyThreadState_Next(t), n++) {
        if (t->thread_id == 0) {
            return 1;
        }
    }
    return 0;
}

static void
wait_for_unbound_thread_states(void)
{
    for (int ms = 0; ms < UNBOUND_WAIT_MS && unbound_thread_state(); ms++) {
#  ifdef _WIN32
        Sleep(1);
#  else
        struct timespec tick = {0, 1000 * 1000};
        nanosleep(&tick, NULL);
#  endif
    }
}
#endif

#ifdef PQG_STACKS_HANDLER
/* Py_AtExit: the interpreter is gone; no Python API.  One store. */
static void
note_finalizing_thread(void)
{
    finalized_in = getpid();
    finalized_by = pqg_current_native_id();
}

/* Is this the main thread, after another thread ended the interpreter?  It
 * was waiting in native code (PyQt6's QThread.wait(), say) and came back
 * into the finished interpreter: CPython 3.13-3.14 fault there (take_gil
 * reads the freed GIL).  Signal-safe: word reads, getpid(). */
static int
main_thread_after_exit_elsewhere(void)
{
    unsigned long by = finalized_by;
    pid_t pid = getpid();
    unsigned long main_id = (unsigned long)pid;        /* Linux: main tid */
    return by != 0 && finalized_in == pid && by != main_id
           && pqg_current_native_id() == main_id;
}

/* The report's note for it.  Signal-safe: static strings, write_thread_label
 * (the thread table, /proc). */
static void
write_reentry_note(int out)
{
    if (!main_thread_after_exit_elsewhere()) {
        return;
    }
    pqg_puts(out, "The interpreter was ended by thread ");
    write_thread_label(out, finalized_by);
    pqg_puts(out, ", not by the main thread (sys.exit() or an uncaught "
             "SystemExit there), while the main thread still waited in native "
             "code: on CPython 3.13 and 3.14 its return into the finished interpreter "
             "crashes (python/cpython gh-87135).  Have the main thread exit "
             "instead.\n");
}

/* How long the main thread is held at most (below).  The exiting thread's
 * exit() - atexit handlers, C++ destructors - ends the process in
 * milliseconds; an exit() that waits for a lock the faulting main thread
 * holds (a library's real bug, its own clean-up taking the same lock) never
 * would: held forever, the app hung for good with exit_timeout=None and
 * the real fault was never reported.  After this the fault is reported and
 * ends the process as any other. */
#define HOLD_AFTER_EXIT_ELSEWHERE_NS (2000LL * 1000000LL)

/* A fault of the main thread's after another thread ended the interpreter
 * (above): the process is already ending, in that thread's exit(), with the
 * status the app asked for.  The main thread is held here (at most
 * HOLD_AFTER_EXIT_ELSEWHERE_NS), as CPython 3.14 holds threads that come
 * back after finalization, and the exit goes on; one line in the log and on
 * stderr says so.  Before, the fault ended the process with SIGSEGV in
 * about 1 such exit in 8.  Returns if the process is still there then: the
 * caller reports the fault.  Signal-safe: write(), nanosleep(),
 * clock_gettime(). */
static void
hold_main_thread_after_exit_elsewhere(int signum, const siginfo_t *info)
{
    int fds[2] = {-1, -1};
    int nfds = report_fds(fds);
    for (int i = 0; i < nfds; i++) {
        /* One write() per descriptor: the exiting thread's exit() may end
         * the process at any moment (the note was cut in 1 of 8 runs). */
        int out = pqg_compose_begin(fds[i]);
        pqg_puts(out, "\n[");
        pqg_put_timestamp(out);
        pqg_puts(out, "] pyqtguard: MainThread faulted (");
        pqg_puts(out, signum == SIGBUS ? "SIGBUS" : "SIGSEGV");
        pqg_puts(out, " at ");
        pqg_put_hex(out, (unsigned long long)(uintptr_t)info->si_addr);
        pqg_puts(out, ") after thread ");
        write_thread_label(out, finalized_by);
        pqg_puts(out, " had ended the interpreter: most likely on its way back "
                 "into the finished interpreter (CPython 3.13-3.14, python/cpython "
                 "gh-87135; sys.exit() outside the main thread).  It is held until "
                 "the process ends (at most 2 s, then reported as a crash); the exit "
                 "goes on with that thread's status.\n");
        pqg_compose_end(out);
    }
    long long until = pqg_monotonic_ns() + HOLD_AFTER_EXIT_ELSEWHERE_NS;
    for (;;) {
        long long left = until - pqg_monotonic_ns();
        if (left <= 0) {
            return;     /* exit() did not end the process: report the fault */
        }
        struct timespec step = {.tv_sec = 0, .tv_nsec = left < 50000000LL ? (long)left
                                                                          : 50000000L};
        (void)nanosleep(&step, NULL);   /* the exiting thread's exit() ends the process */
    }
}
#endif

/* One descriptor's own last lines of the report, appended to the capture
 * after the common text.  Signal-safe: the capture, static strings. */
static void
compose_tail(int fd, int log_fd)
{
    const int out = PQG_CAPTURE_FD;
    int is_log = fd == log_fd;
    if (engine_is_faulthandler && faulthandler_stale(log_fd)) {
        pqg_puts(out, stacks_copied()
                 ? "\nPython stacks of all threads: not written (the app closed "
                   "pyqtguard's descriptors; faulthandler's now names another file)\n"
                 : "\nPython stacks of all threads: not written (the app "
                   "closed the run log; its descriptor now names another file)\n");
    }
#ifdef PQG_STACKS_HANDLER
    else if (engine_is_faulthandler && report_from_stacks_handler
             && report_after_shutdown) {
        pqg_puts(out, "\nPython stacks of all threads: none (Python had shut "
                 "down: the crash came from native code run at exit)\n");
        write_reentry_note(out);
    }
    else if (engine_is_faulthandler && report_from_stacks_handler) {
        pqg_puts(out, "\nPython stacks of all threads: not here (the app disabled "
                 "faulthandler after install(); if it enabled it again, its "
                 "file has them)\n");
    }
#endif
    else if (engine_is_faulthandler && faulthandler_apps_own) {
        pqg_puts(out, "\nPython stacks of all threads: not here (faulthandler was "
                 "enabled before install(); they are in its file: stderr with "
                 "-X faulthandler or PYTHONFAULTHANDLER=1)\n");
    }
    else if (engine_is_faulthandler) {
        PyThreadState *own = PyGILState_GetThisThreadState();
        if (!is_log && !(stacks_copied() && fd == stacks_target_fd())) {
            pqg_puts(out, "\nPython stacks of all threads: see the run log\n");
        }
        else if (own != NULL && own->interp != NULL && interpreter != NULL
                 && own->interp != interpreter) {
            /* faulthandler (3.13-3.14) dumps the threads of the interpreter
             * of the crashing thread's own state: a subinterpreter's. */
            pqg_puts(out, "\nPython stacks of subinterpreter ");
            pqg_put_dec(out, interpreter_id(own));
            pqg_puts(out, "'s threads (by faulthandler, which writes those of the "
                     "crashing thread's interpreter only; the main interpreter's "
                     "threads, the GUI thread among them, follow):\n");
        }
        else {
            pqg_puts(out, "\nPython stacks of all threads (by faulthandler):\n");
        }
    }
    if (!is_log) {
        /* stderr's copy ends naming the log (a static buffer set at
         * install: write() only, signal-safe). */
        size_t path_len;
        const char *path_line = pqg_log_path_line(&path_len);
        pqg_write_all(out, path_line, path_len);
    }
}

static void
write_report(const fatal_signal *sig, const char *reason, const void *address,
             int has_address, const void *ucontext, int hold_log)
{
#ifndef PQG_STACKS_HANDLER
    (void)hold_log;
#endif
#ifndef _WIN32
    release_log_part();             /* a Qt fatal error's, if its stacks never came */
#endif
    int fds[2] = {-1, -1};
    int nfds = report_fds(fds);
    quiet_gil_waiters();
    unsigned long native_id = pqg_current_native_id();
    /* The report is composed in memory and written with one write() per
     * descriptor (logfd.c, pqg_capture_begin): fork children that share
     * the run log and crash at once no longer mix their reports. */
    const int composed[1] = {PQG_CAPTURE_FD};
    pqg_capture_begin(fds, nfds);
    write_header(PQG_CAPTURE_FD, sig, reason, address, has_address, native_id);
    pqg_write_unreported(PQG_CAPTURE_FD);   /* the likely cause comes first */
    atomic_fetch_add(&report_progress, 1);
    write_native_stack(composed, 1, ucontext);
    atomic_fetch_add(&report_progress, 1);
    write_legend_to(PQG_CAPTURE_FD, native_id);
    atomic_fetch_add(&report_progress, 1);
#ifdef PQG_OWN_PYTHON_STACKS
    if (!engine_is_faulthandler) {
        write_python_stacks(composed, 1, native_id);
    }
#endif
    restore_gil_waiters();
#ifndef PQG_OWN_PYTHON_STACKS
    if (engine_is_faulthandler && !faulthandler_stale(pqg_log_fd_checked())
        && !reported_by_stacks_handler())
    {
        wait_for_unbound_thread_states();   /* before faulthandler's dump */
    }
#endif
    int log_fd = pqg_log_fd_checked();
    /* Each descriptor's own last lines, after the common text: one write
     * (room for them first: a flush now goes to every descriptor). */
    pqg_capture_reserve(8192);
    size_t common = pqg_capture_mark();
    int hold = 0;
#ifdef PQG_STACKS_HANDLER
    /* report_fds() puts the log first. */
    hold = hold_log && nfds > 0 && fds[0] == log_fd && log_fd == stacks_target_fd();
#endif
    if (!hold) {
        /* The log first, then stderr: a write() to stderr may never return
         * (a pipe nobody reads, full) or end the process (a closed pipe,
         * SIGPIPE at its default action): the log's copy is out by then. */
        for (int i = 0; i < nfds; i++) {
            pqg_capture_truncate(common);
            compose_tail(fds[i], log_fd);
            pqg_capture_write_to(fds[i]);       /* write() */
        }
        pqg_capture_end();
    }
#ifndef _WIN32
    else {
        /* 3.13+: faulthandler's dump follows, copied to the log by the
         * stacks handler: the log's part waits for it there, so that the
         * whole report is one write() (children crashing at once put their
         * stacks under one another's headers).  stderr's copy waits too,
         * and goes out right after the log's (the next flush: the stacks
         * handler's, or one of a report longer than the buffer), for the
         * reasons above. */
        size_t tail_len = 0;
        const char *tail = NULL;
        if (nfds > 1) {
            compose_tail(fds[1], log_fd);
            tail = pqg_capture_text(&tail_len) + common;
            tail_len -= common;
            /* set aside (memcpy into a static buffer) before the log's own
             * lines take its place */
            pqg_capture_defer(fds[1], common, tail, tail_len);
            pqg_capture_truncate(common);
        }
        compose_tail(fds[0], log_fd);
        pqg_capture_set_targets(&fds[0], 1);
        log_part_held = 1;
    }
#endif
    pqg_write_crash_notice();               /* "where is the report", if asked */
}

/* ---- the reporter claim: one report per process ---- */

/* The first thread to crash writes the report; a second one (two threads
 * faulting at once) waits for it, bounded, so the first report is whole.
 * atomic_int is lock-free on every platform we build for. */
static int
claim_reporter(unsigned long native_id)
{
    int expected = 0;
    return atomic_compare_exchange_strong(&reporter, &expected, (int)native_id);
}

/* A second thread that crashes while the first writes the report waits
 * for it: its own re-raise (on Windows, its return to the system's
 * unhandled-exception path) would end the process with the report cut
 * short.  It used to sleep a fixed 5 s; now it waits as long as the report
 * makes progress (the reporter counts each part it writes), gives up after
 * 1 s without any (a reporter that is stuck, so the process still ends),
 * and returns at once if the report is given up (a Qt fatal error's report
 * releases the claim for the abort that follows: it is then this thread's
 * turn).  Normally it waits for nothing: the reporter ends the process.
 * Atomic loads and nanosleep() (Sleep() on Windows): async-signal-safe. */
static void
wait_for_reporter(void)
{
#ifndef _WIN32
    struct timespec tick = {0, 1000 * 1000};         /* 1 ms */
#endif
    int seen = atomic_load(&report_progress);
    int idle_ms = 0;
    for (int total_ms = 0; total_ms < 30 * 1000 && idle_ms < 1000; total_ms++) {
        if (atomic_load(&reporter) == 0) {
            return;
        }
#ifndef _WIN32
        nanosleep(&tick, NULL);
#else
        Sleep(1);
#endif
        int now = atomic_load(&report_progress);
        idle_ms = now == seen ? idle_ms + 1 : 0;
        seen = now;
    }
}

/* This thread's turn to report: the claim, or - another thread writing a
 * report - the claim once that report is written or given up
 * (wait_for_reporter).  0 as well when this thread is the reporter already
 * (entered again: its writing faulted).  Atomics and nanosleep()/Sleep():
 * async-signal-safe. */
static int
claim_after_any_other_report(unsigned long native_id)
{
    if (claim_reporter(native_id)) {
        return 1;
    }
    if ((unsigned long)atomic_load(&reporter) == native_id) {
        return 0;
    }
    wait_for_reporter();
    return claim_reporter(native_id);           /* given up: this thread's turn */
}

#ifndef _WIN32
/* ---- POSIX: the handler ---- */

static fatal_signal *
find_signal(int signum)
{
    for (size_t i = 0; i < N_FATAL_SIGNALS; i++) {
        if (fatal_signals[i].signum == signum) {
            return &fatal_signals[i];
        }
    }
    return NULL;
}

static void
restore_previous_handler(fatal_signal *sig)
{
    if (sig->installed) {
        sigaction(sig->signum, &sig->previous, NULL);   /* async-signal-safe */
        sig->installed = 0;
    }
}

/* The default action, not the previous handler (a stale faulthandler). */
static void
restore_default_action(fatal_signal *sig)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(sig->signum, &action, NULL);              /* async-signal-safe */
    sig->installed = 0;
}

#ifdef PQG_STACKS_HANDLER
static void
restore_under_previous(fatal_signal *sig)
{
    if (sig->under_installed) {
        sigaction(sig->signum, &sig->under_previous, NULL);   /* async-signal-safe */
        sig->under_installed = 0;
    }
    else {
        restore_default_action(sig);
    }
}
#endif

static int
is_fault(int signum)
{
    return signum == SIGSEGV || signum == SIGBUS || signum == SIGFPE
           || signum == SIGILL;
}

/* Whether the interrupted code ran on this thread's alternate signal
 * stack - inside a signal handler (see report_passed_on): its stack
 * pointer, from the signal's context, lies in the range sigaltstack()
 * (async-signal-safe) gives.  (The kernel's uc_stack.ss_flags cannot tell:
 * since Linux 4.7 it holds the thread's setting, not SS_ONSTACK.)  Other
 * systems and architectures: not known, 0. */
static int
passed_on_by_another_handler(const void *ucontext)
{
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
    const ucontext_t *uc = ucontext;
    if (uc == NULL) {
        return 0;
    }
#  if defined(__x86_64__)
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#  else
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.sp;
#  endif
    stack_t alt;
    if (sigaltstack(NULL, &alt) != 0 || (alt.ss_flags & SS_DISABLE) || alt.ss_sp == NULL) {
        return 0;
    }
    uintptr_t low = (uintptr_t)alt.ss_sp;
    return sp > low && sp <= low + alt.ss_size;
#else
    (void)ucontext;
    return 0;
#endif
}

static void fatal_signal_handler(int signum, siginfo_t *info, void *ucontext);
#ifdef PQG_STACKS_HANDLER
static void stacks_signal_handler(int signum, siginfo_t *info, void *ucontext);
#endif
static void fault_action(struct sigaction *action,
                         void (*handler)(int, siginfo_t *, void *));

/* The handler that was in place before pyqtguard's: the one under the
 * stacks handler (3.13+ on Linux), else the one pyqtguard's replaced: a
 * library's, also one set after the app's own faulthandler (enabled before
 * install(): 3.13+ then has no stacks handler; that library was not offered
 * its faults, its own became crash reports), or faulthandler's (not
 * SA_SIGINFO: never offered).  One below faulthandler's is not known (it
 * keeps what was before it to itself). */
static struct sigaction *
handler_before_pyqtguard(fatal_signal *sig)
{
#ifdef PQG_STACKS_HANDLER
    if (sig->under_installed) {
        return &sig->under_previous;
    }
#endif
    if (!sig->installed) {
        return NULL;
    }
    return &sig->previous;
}

/* A real fault, and a library's handler was there before pyqtguard's: it
 * gets the fault first (libraryfaults.c).  PQG_LIBRARY_TOOK: it took it;
 * PUT_BACK: it gave up, and the fault goes on to `left`; GAVE_UP (also: not
 * offered): passed on as always.  (HANDED_ON is dealt with here: TOOK, the
 * fault comes again.)  Not offered: a fault inside a signal
 * handler (the library's own, or another's), or a handler of pyqtguard's
 * own left from an earlier install(). */
static int
offered_to_library(fatal_signal *sig, int signum, siginfo_t *info, void *ucontext,
                   int under, struct sigaction *left)
{
    struct sigaction *slot = handler_before_pyqtguard(sig);
    if (slot == NULL) {
        return PQG_LIBRARY_GAVE_UP;
    }
    /* A copy: another thread's offer may change the slot (below) */
    struct sigaction copy = *slot;
    const struct sigaction *library = &copy;
    if (!pqg_is_library_handler(library) || library->sa_sigaction == fatal_signal_handler
#ifdef PQG_STACKS_HANDLER
        || library->sa_sigaction == stacks_signal_handler
#endif
        || passed_on_by_another_handler(ucontext))
    {
        return PQG_LIBRARY_GAVE_UP;
    }
    struct sigaction ours;
#ifdef PQG_STACKS_HANDLER
    fault_action(&ours, under ? stacks_signal_handler : fatal_signal_handler);
#else
    (void)under;
    fault_action(&ours, fatal_signal_handler);
#endif
    int offer = pqg_offer_fault_to_library(library, signum, info, ucontext, &ours, left);
    if (offer == PQG_LIBRARY_HANDED_ON) {
        /* It left the chain for the handler before its own: that one is
         * offered faults from now on, the next the one coming again now.
         * A plain copy into the saved disposition (no call: async-signal-
         * safe; uninstall() puts it back); an offer of another thread
         * copying it meanwhile calls either handler, both SA_SIGINFO. */
        *slot = *left;
        return PQG_LIBRARY_TOOK;
    }
    return offer;
}

/* The library gave up on the fault by putting the default action (or a
 * handler without SA_SIGINFO: faulthandler's) back, `left`: the fault goes
 * on to that, not to the library a second time - what the library did
 * once may not happen again (faulthandler's handler, called by it, puts the
 * default action back only the first time: then raised into the library,
 * called again, for ever).  sigaction() is async-signal-safe. */
static void
pass_on_to_what_the_library_left(fatal_signal *sig, const struct sigaction *left, int under)
{
    sigaction(sig->signum, left, NULL);
#ifdef PQG_STACKS_HANDLER
    if (under) {
        sig->under_installed = 0;       /* as restore_under_previous() */
        return;
    }
#else
    (void)under;
#endif
    sig->installed = 0;                 /* as restore_previous_handler() */
}

/* The report: from fatal_signal_handler(), or from stacks_signal_handler()
 * when that one is reached first (under != 0). */
static void
report_and_chain(fatal_signal *sig, int signum, siginfo_t *info, void *ucontext,
                 int under)
{
    int saved_errno = errno;
    if (!enabled) {
        /* Uninstalled, and reached all the same: a handler set after ours
         * kept it as the one it passes the signal on to, or put it back
         * (faulthandler.enable() after install(), then disable()).  As for
         * an exception hook a tool wrapped: after uninstall(), no report.
         * The default action, not the handler that was before ours: that
         * may be a faulthandler disabled since, whose handler returns - a
         * fault would run into it again without end. */
        restore_default_action(sig);
        errno = saved_errno;
        raise(signum);
        return;
    }
    /* A fault the kernel raised (si_code > 0), not one sent with kill():
     * the faulting instruction runs again when this handler returns. */
    int refaults = info != NULL && is_fault(signum) && info->si_code > 0;
    unsigned long native_id = pqg_current_native_id();
    if (walking && (unsigned long)atomic_load(&reporter) == native_id) {
        siglongjmp(walk_escape, 1);     /* our own stack walk faulted */
    }
    struct sigaction left;              /* what the library put in place */
    int offer = refaults ? offered_to_library(sig, signum, info, ucontext, under, &left)
                         : PQG_LIBRARY_GAVE_UP;
    if (offer == PQG_LIBRARY_TOOK) {
        errno = saved_errno;            /* the library's own fault: it goes on */
        return;
    }
    int to_left = offer == PQG_LIBRARY_PUT_BACK;
    int claimed = claim_after_any_other_report(native_id);
    if (!claimed && (unsigned long)atomic_load(&reporter) == native_id) {
        /* Entered again by the thread writing the report: its writing
         * faulted (a Python stack read from memory the crash damaged).
         * What it composed is written before the process ends. */
        if (log_part_held) {
            release_log_part();         /* the log's part, then stderr's */
        }
        else {
            pqg_capture_flush();
        }
    }
    if (claimed) {
        if (signum == SIGABRT && fatal_already_reported) {
            int fds[2] = {-1, -1};
            int nfds = report_fds(fds);
            for (int i = 0; i < nfds; i++) {
                pqg_puts(fds[i], "signal: SIGABRT after the fatal error reported above\n");
            }
#ifdef PQG_STACKS_HANDLER
            stacks_discard = 1;
#endif
        }
        else {
            /* si_addr is the faulting address only for a fault the kernel
             * raised (si_code > 0); a fault signal sent with kill() has the
             * sender's pid in its place. */
            int real_fault = info != NULL && is_fault(signum) && info->si_code > 0;
            report_sender = (info != NULL && is_fault(signum) && info->si_code <= 0)
                            ? (long)info->si_pid : 0;
#ifdef SI_TKILL
            report_sender_is_self_raise = report_sender > 0 && info->si_code == SI_TKILL
                                          && report_sender == (long)pqg_getpid();
#endif
            report_passed_on = report_sender == (long)pqg_getpid()
                               && passed_on_by_another_handler(ucontext);
            write_report(sig, NULL, real_fault ? info->si_addr : NULL, real_fault, ucontext,
                         hold_log_part(under));
        }
    }
    /* Chain: the previous handler (faulthandler, a library's, or the default
     * action) gets the signal now.  A real fault is not raised again: this
     * handler returns, the faulting instruction runs again and faults into
     * the previous handler with the kernel's own siginfo - what a library
     * that handles SIGSEGV itself (a JVM's, CoreCLR's or a wasm runtime's
     * guard pages) needs to recognise its fault and go on, and what a core
     * dump then shows.  A raise() gave it a signal sent with tgkill and
     * the app died.  A signal sent with kill() does not come again by
     * itself: SA_NODEFER lets raise() deliver it inside this handler. */
#ifdef PQG_STACKS_HANDLER
    if (under) {
        release_log_part();
        if (to_left) {
            pass_on_to_what_the_library_left(sig, &left, under);
        }
        else {
            restore_under_previous(sig);    /* what was there before pyqtguard */
        }
        errno = saved_errno;
        raise(signum);
        return;
    }
#else
    (void)under;
#endif
    if (faulthandler_stale(pqg_log_fd_checked())) {
        release_log_part();
        restore_default_action(sig);        /* not faulthandler: see above */
    }
    else {
#ifdef PQG_STACKS_HANDLER
        if (!stacks_armed) {
            release_log_part();
        }
        if (stacks_armed) {                 /* its dump: appended from here on */
            off_t end = lseek(stacks_fd, 0, SEEK_END);
            stacks_start = end > 0 ? end : 0;
            /* faulthandler's dump first, then what the library left:
             * the stacks handler passes the fault on to it (a copy of a
             * struct, read by this thread in a nested handler). */
            stacks_to_left = to_left;
            if (to_left) {
                stacks_left = left;
            }
            stacks_pending = native_id;
            to_left = 0;
        }
#endif
        if (to_left) {
            pass_on_to_what_the_library_left(sig, &left, 0);
        }
        else {
            restore_previous_handler(sig);
        }
    }
    errno = saved_errno;
    if (refaults) {
        return;
    }
    raise(signum);
}

static void
fatal_signal_handler(int signum, siginfo_t *info, void *ucontext)
{
    fatal_signal *sig = find_signal(signum);
    if (sig != NULL) {
        report_and_chain(sig, signum, info, ucontext, 0);
    }
}

#ifdef PQG_STACKS_HANDLER
/* The crashing thread runs a subinterpreter: faulthandler's dump just
 * copied has that interpreter's threads only (see compose_tail).  The main
 * interpreter's - the GUI thread's among them - follow, dumped by
 * faulthandler in a copy of the process whose thread is bound to its
 * main-interpreter state (watchdog.c), into the memfd, then copied as
 * faulthandler's dump is.  Reads of the thread list only, as above. */
static void
append_main_interpreter_stacks(int out)
{
    PyThreadState *own = PyGILState_GetThisThreadState();
    if (own == NULL || interpreter == NULL || own->interp == interpreter
        || !stacks_fd_is_ours())
    {
        return;
    }
    unsigned long native_id = pqg_current_native_id();
    PyThreadState *in_main = PyInterpreterState_ThreadHead(interpreter);
    for (int n = 0; in_main != NULL && n < 10000; in_main = PyThreadState_Next(in_main), n++) {
        if (in_main->native_thread_id == native_id) {
            break;
        }
    }
    off_t start = lseek(stacks_fd, 0, SEEK_END);
    pqg_puts(out, "\nPython stacks of the main interpreter's threads (by faulthandler, "
             "in a copy of the process):\n");
    if (start < 0 || !pqg_main_interpreter_stacks(stacks_fd, own, in_main)
        || copy_faulthandler_stacks(out, start) == 0)
    {
        pqg_puts(out, "(not written: no stack signal of faulthandler's, or the copy "
                 "of the process failed)\n");
    }
}

static void
stacks_signal_handler(int signum, siginfo_t *info, void *ucontext)
{
    int saved_errno = errno;
    fatal_signal *sig = find_signal(signum);
    if (sig == NULL) {
        return;
    }
    unsigned long native_id = pqg_current_native_id();
    if (native_id != 0 && stacks_pending == native_id) {
        /* faulthandler's re-raise (or a fault in its dump) */
        stacks_pending = 0;
        int fd = stacks_target_fd();
        /* The report's log part waits in the capture buffer: the stacks
         * join it, and the whole goes out in one write(). */
        int out = log_part_held && fd >= 0 ? PQG_CAPTURE_FD : fd;
        if (stacks_discard) {
            /* the fatal error's report above has them */
        }
        else if (copy_faulthandler_stacks(out, stacks_start) == 0 && fd >= 0) {
            pqg_puts(out, "(none here: the app gave faulthandler a file of its own; "
                     "they are there)\n");
        }
        if (!stacks_discard && fd >= 0 && info != NULL && info->si_code > 0) {
            /* A fault of the kernel's, not faulthandler's raise(): its dump
             * read memory the crash damaged (a thread's frames) and faulted. */
            pqg_puts(out, "\n(faulthandler's dump faulted here, reading memory the "
                     "crash damaged: the stacks stop)\n");
        }
        else if (!stacks_discard && fd >= 0) {
            append_main_interpreter_stacks(out);
        }
        release_log_part();
        if (stacks_to_left) {               /* the library gave up: to what it left */
            stacks_to_left = 0;
            pass_on_to_what_the_library_left(sig, &stacks_left, 1);
        }
        else {
            restore_under_previous(sig);
        }
        errno = saved_errno;
        raise(signum);
        return;
    }
    /* First to see the signal: faulthandler's handler and ours above it
     * are gone (faulthandler.disable() put this one back). */
    report_from_stacks_handler = 1;
    /* Reads of two runtime fields (a plain int, an atomic pointer). */
    report_after_shutdown = !Py_IsInitialized() || Py_IsFinalizing();
    if (report_after_shutdown && enabled && info != NULL && info->si_code > 0
        && (signum == SIGSEGV || signum == SIGBUS) && main_thread_after_exit_elsewhere())
    {
        hold_main_thread_after_exit_elsewhere(signum, info);
    }
    errno = saved_errno;
    report_and_chain(sig, signum, info, ucontext, 1);
}
#endif

/* The alternate stack lets the handler run when the thread's own stack is
 * exhausted.  It is per thread (altstack.c): this covers the thread that
 * enables the handler (the main thread), and from now on every thread that
 * records itself in the thread table or that pyqtguard starts.  One the
 * thread already has (faulthandler's) is kept. */
static int
ensure_alt_stack(void)
{
    if (pqg_altstack_prepare() < 0 || pqg_altstack_this_thread(1) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

/* The disposition both of pyqtguard's fault handlers are installed with:
 * siginfo (the fault's address, a kill()'s sender), re-entered by a raise()
 * inside it (SA_NODEFER: the chain), on the alternate stack. */
static void
fault_action(struct sigaction *action,
             void (*handler)(int, siginfo_t *, void *))
{
    memset(action, 0, sizeof(*action));
    action->sa_sigaction = handler;
    sigemptyset(&action->sa_mask);
    action->sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
}

static int
install_handlers(void)
{
    struct sigaction action;
    fault_action(&action, fatal_signal_handler);
    for (size_t i = 0; i < N_FATAL_SIGNALS; i++) {
        fatal_signal *sig = &fatal_signals[i];
        if (sig->installed) {
            continue;
        }
        if (sigaction(sig->signum, &action, &sig->previous) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        sig->installed = 1;
    }
    return 0;
}

static void
uninstall_handlers(void)
{
    for (size_t i = 0; i < N_FATAL_SIGNALS; i++) {
        fatal_signal *sig = &fatal_signals[i];
        if (!sig->installed) {
            continue;
        }
        /* Only restore if ours is still the one in place: a handler that
         * was installed after us (and chains to us) must not be dropped. */
        struct sigaction current;
        if (sigaction(sig->signum, NULL, &current) == 0
            && (current.sa_flags & SA_SIGINFO)
            && current.sa_sigaction == fatal_signal_handler)
        {
            sigaction(sig->signum, &sig->previous, NULL);
        }
        sig->installed = 0;
    }
}

#else  /* _WIN32 */

/* ---- Windows: structured exception handling ----
 * An unhandled-exception filter runs on the faulting thread, after the
 * vectored handlers and before Windows Error Reporting.  It writes the same
 * report (no POSIX signal name: the exception code instead), then returns
 * EXCEPTION_CONTINUE_SEARCH so the previous filter and WER still see the
 * crash and the exit status stays the exception code. */
static LPTOP_LEVEL_EXCEPTION_FILTER previous_filter = NULL;

static LONG WINAPI
unhandled_exception_filter(EXCEPTION_POINTERS *pointers)
{
    DWORD code = pointers->ExceptionRecord->ExceptionCode;
    /* C++ exceptions and debugger notifications are not crashes. */
    if ((code & 0x80000000) == 0 || code == 0xE06D7363) {
        goto chain;
    }
    unsigned long native_id = pqg_current_native_id();
    /* Another thread writing a report: returning would end the process
     * with it cut short (POSIX's handler waits too). */
    int claimed = claim_after_any_other_report(native_id);
    if (!claimed && (unsigned long)atomic_load(&reporter) == native_id) {
        /* Entered again by the thread writing the report (its writing
         * faulted): what it composed is written before the process ends,
         * as on POSIX. */
        pqg_capture_flush();
    }
    if (claimed) {
        fatal_signal sig = {.signum = 0, .name = "EXCEPTION",
                            .description = "unhandled Windows exception"};
        write_report(&sig, NULL, pointers->ExceptionRecord->ExceptionAddress, 1, NULL, 0);
        int fds[2] = {-1, -1};
        int nfds = report_fds(fds);
        for (int i = 0; i < nfds; i++) {
            pqg_puts(fds[i], "exception code: ");
            pqg_put_hex(fds[i], (unsigned long long)code);
            pqg_puts(fds[i], "\n");
        }
    }
chain:
    if (previous_filter != NULL) {
        return previous_filter(pointers);
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

static int
ensure_alt_stack(void)
{
    /* SEH filters run on the faulting stack; SetThreadStackGuarantee keeps
     * room to report a stack overflow (altstack.c: for every thread). */
    (void)pqg_altstack_prepare();
    (void)pqg_altstack_this_thread(1);
    return 0;
}

/* abort() raises no exception on Windows: the C runtime calls its SIGABRT
 * handler, then ends the process (__fastfail, 0xC0000409, or _exit(3)),
 * so the filter never sees it - Py_FatalError, a C library's failed
 * assert, os.abort().  A CRT handler reports it as POSIX's SIGABRT handler
 * does.  The .pyd and python3X.dll share the UCRT's handler table (MSVC's
 * and zig's builds link the same ucrtbase); the CRT sets SIGABRT back to
 * SIG_DFL before calling, so abort() goes on to end the process after. */
static void (__cdecl *previous_abort)(int) = SIG_DFL;
static fatal_signal abort_signal = {.signum = SIGABRT, .name = "SIGABRT",
                                    .description = "Aborted"};

static void __cdecl
abort_handler(int signum)
{
    unsigned long native_id = pqg_current_native_id();
    if (claim_after_any_other_report(native_id)) {
        if (fatal_already_reported) {
            int fds[2] = {-1, -1};
            int nfds = report_fds(fds);
            for (int i = 0; i < nfds; i++) {
                pqg_puts(fds[i], "signal: SIGABRT after the fatal error reported above\n");
            }
        }
        else {
            write_report(&abort_signal, NULL, NULL, 0, NULL, 0);
        }
    }
    if (previous_abort != SIG_DFL && previous_abort != SIG_IGN && previous_abort != SIG_ERR) {
        previous_abort(signum);         /* faulthandler's, or the app's */
    }
}

static int
install_handlers(void)
{
    previous_filter = SetUnhandledExceptionFilter(unhandled_exception_filter);
    previous_abort = signal(SIGABRT, abort_handler);
    return 0;
}

static void
uninstall_handlers(void)
{
    SetUnhandledExceptionFilter(previous_filter);
    previous_filter = NULL;
    void (__cdecl *current)(int) =
        signal(SIGABRT, previous_abort == SIG_ERR ? SIG_DFL : previous_abort);
    if (current != abort_handler && current != SIG_ERR) {
        (void)signal(SIGABRT, current);     /* replaced since: theirs stays */
    }
    previous_abort = SIG_DFL;
}
#endif

/* ---- Python API ---- */

static PyObject *
crash_enable_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    int faulthandler_engine = 0;
    int on_run_log = 0;
    int faulthandler_fd = -1;
    int apps_own = 0;
    const char *own = NULL, *launcher = NULL;
    Py_ssize_t own_len = 0, launcher_len = 0;
    if (!PyArg_ParseTuple(args, "|ppy#y#ip:crash_enable", &faulthandler_engine, &on_run_log,
                          &own, &own_len, &launcher, &launcher_len, &faulthandler_fd,
                          &apps_own)) {
        return NULL;
    }
    faulthandler_on_run_log = on_run_log;
    faulthandler_apps_own = faulthandler_engine && apps_own;
#ifdef PQG_STACKS_HANDLER
    /* faulthandler writes into the memfd: the stacks handler copies them */
    stacks_armed = faulthandler_fd >= 0 && faulthandler_fd == stacks_fd;
    if (stacks_armed && pqg_altstack_prepare() == 0) {
        /* faulthandler's alternate stack, set up by the enable install()
         * did: too small for four nested handlers (altstack.c) */
        (void)pqg_altstack_replace_smaller();
    }
#else
    (void)faulthandler_fd;
#endif
    {
    /* Length 0 first: a handler running meanwhile filters nothing. */
    own_line_prefix_len = 0;
    launcher_line_prefix_len = 0;
    if (own != NULL && own_len > 0 && (size_t)own_len <= OWN_PREFIX_MAX) {
        memcpy(own_line_prefix, own, (size_t)own_len);
        if (launcher != NULL && launcher_len > 0
            && (size_t)launcher_len <= OWN_PREFIX_MAX) {
            memcpy(launcher_line_prefix, launcher, (size_t)launcher_len);
            launcher_line_prefix_len = (size_t)launcher_len;
        }
        own_line_prefix_len = (size_t)own_len;
    }
    }
#ifdef PQG_OWN_PYTHON_STACKS
    engine_is_faulthandler = faulthandler_engine;
#else
    engine_is_faulthandler = 1;     /* 3.13+: the only way to Python stacks */
    (void)faulthandler_engine;
#endif
    interpreter = PyInterpreterState_Main();
    pqg_native_stack_prepare();   /* how to walk; the unwinder's set-up */
#ifdef PQG_OWN_PYTHON_STACKS
    open_stage();
#endif
    enabled = 1;                /* first: a handler armed meanwhile reports */
    if (ensure_alt_stack() < 0 || install_handlers() < 0) {
        uninstall_handlers();
        enabled = 0;
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
crash_disable_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    if (enabled) {
        uninstall_handlers();
        pqg_altstack_stop();        /* running threads keep theirs to their end */
        enabled = 0;
    }
    Py_RETURN_NONE;
}

static PyObject *
crash_enabled_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(enabled);
}

/* A fatal error that is not a signal yet (Qt's qFatal, from its message
 * handler, with the GIL): write the whole report now, and let the SIGABRT
 * that follows add one line instead of a second report. */
static PyObject *
write_fatal_report_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    Py_ssize_t len;
    const char *reason = PyUnicode_AsUTF8AndSize(arg, &len);
    if (reason == NULL) {
        return NULL;
    }
    if (!claim_reporter(pqg_current_native_id())) {
        Py_RETURN_FALSE;                /* a report is being written already */
    }
    /* 3.13+: the Python side dumps the stacks into the memfd next and
     * copies them (crash_copy_stacks): the log's part waits for them, and
     * crash_release_report() writes it if they do not come. */
#ifdef PQG_STACKS_HANDLER
    int hold = stacks_armed && stacks_fd_is_ours() && !faulthandler_stale(pqg_log_fd_checked());
#else
    int hold = 0;
#endif
    write_report(NULL, reason, NULL, 0, NULL, hold);
    fatal_already_reported = 1;
    atomic_store(&reporter, 0);         /* the SIGABRT may now add its line */
    return PyBool_FromLong(1);
}

/* 3.13+ on Linux: create the memfd and install the stacks handler, before
 * faulthandler is enabled on it (its handler then chains to this one).
 * Returns the memfd's descriptor, or -1 where there is none (faulthandler
 * then writes to the run log, as written). */
#ifdef PQG_STACKS_HANDLER
static void stacks_fd_renew_in_child(void);
#endif

static PyObject *
crash_stacks_prepare_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifdef PQG_STACKS_HANDLER
    if (stacks_fd < 0) {
        int fd = memfd_create("pyqtguard-stacks", MFD_CLOEXEC);
        if (fd >= 0 && fd <= 2) {               /* not where stdio belongs */
            int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
            close(fd);
            fd = high;
        }
        struct stat st;
        if (fd < 0) {
            return PyLong_FromLong(-1);
        }
        if (fstat(fd, &st) != 0) {
            close(fd);
            return PyLong_FromLong(-1);
        }
        stacks_dev = st.st_dev;
        stacks_ino = st.st_ino;
        stacks_fd = fd;
    }
    static int atfork_registered = 0;
    pqg_on_fork_child(stacks_fd_renew_in_child, &atfork_registered);
    struct sigaction action;
    fault_action(&action, stacks_signal_handler);
    for (size_t i = 0; i < N_FATAL_SIGNALS; i++) {
        fatal_signal *sig = &fatal_signals[i];
        if (!sig->under_installed
            && sigaction(sig->signum, &action, &sig->under_previous) == 0) {
            sig->under_installed = 1;
        }
    }
    return PyLong_FromLong(stacks_fd);
#else
    return PyLong_FromLong(-1);
#endif
}

#ifdef PQG_STACKS_HANDLER
/* A forked child (a fork pool's worker) shares the memfd with its parent and
 * its siblings: one open file, one offset.  Crashing at once, they wrote
 * their dumps over each other's and read back each other's.  The child gets
 * a memfd of its own under the same number - faulthandler keeps writing to
 * that number - unless the number is no longer ours (the app closed it and
 * reused it: that file is the app's, left alone).  After fork(), one thread:
 * memfd_create, dup3, close, fstat only. */
static void
stacks_fd_renew_in_child(void)
{
    if (!stacks_fd_is_ours()) {
        return;
    }
    int fd = memfd_create("pyqtguard-stacks", MFD_CLOEXEC);
    if (fd < 0) {
        return;                             /* shared, as before */
    }
    if (fd != stacks_fd && dup3(fd, stacks_fd, O_CLOEXEC) >= 0) {
        struct stat st;
        if (fstat(stacks_fd, &st) == 0) {
            stacks_dev = st.st_dev;
            stacks_ino = st.st_ino;
        }
    }
    if (fd != stacks_fd) {
        close(fd);
    }
}
#endif

/* Undo crash_stacks_prepare() once faulthandler is disabled again. */
static PyObject *
crash_stacks_release_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifdef PQG_STACKS_HANDLER
    stacks_armed = 0;
    for (size_t i = 0; i < N_FATAL_SIGNALS; i++) {
        fatal_signal *sig = &fatal_signals[i];
        struct sigaction current;
        if (sig->under_installed && sigaction(sig->signum, NULL, &current) == 0
            && (current.sa_flags & SA_SIGINFO)
            && current.sa_sigaction == stacks_signal_handler)
        {
            sigaction(sig->signum, &sig->under_previous, NULL);
        }
        sig->under_installed = 0;
    }
    if (stacks_fd >= 0) {
        close(stacks_fd);
        stacks_fd = -1;
    }
#endif
    Py_RETURN_NONE;
}

/* The memfd's descriptor while it is still the memfd (an app that closed
 * pyqtguard's descriptors may have its own file under that number), or -1. */
static PyObject *
crash_stacks_fd_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifdef PQG_STACKS_HANDLER
    if (stacks_armed && stacks_fd_is_ours()) {
        return PyLong_FromLong(stacks_fd);
    }
#endif
    return PyLong_FromLong(-1);
}

/* A dump that faulthandler.dump_traceback() wrote into the memfd from
 * `start` on (a Qt fatal error's report, with the GIL): to the run log,
 * pyqtguard's frames left out. */
static PyObject *
crash_copy_stacks_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
#ifdef PQG_STACKS_HANDLER
    long long start = PyLong_AsLongLong(arg);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int fd = stacks_target_fd();
    copy_faulthandler_stacks(log_part_held && fd >= 0 ? PQG_CAPTURE_FD : fd, (off_t)start);
    release_log_part();
#else
    (void)arg;
#endif
    Py_RETURN_NONE;
}

/* A Qt fatal error's report held for its stacks (write_fatal_report), to
 * the log now as it is.  Nothing if none is held. */
static PyObject *
crash_release_report_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifndef _WIN32
    release_log_part();
#endif
    Py_RETURN_NONE;
}

static PyObject *
python_stacks_engine_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyUnicode_FromString(engine_is_faulthandler ? "faulthandler" : "pyqtguard");
}

static PyObject *
own_python_stacks_supported_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
#ifdef PQG_OWN_PYTHON_STACKS
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

static PyMethodDef crash_methods[] = {
    {"crash_enable", crash_enable_py, METH_VARARGS,
     PyDoc_STR("crash_enable($module, faulthandler_engine=False, "
               "faulthandler_on_run_log=False, own_frame_line=b'', "
               "launcher_frame_line=b'', faulthandler_fd=-1, "
               "faulthandler_apps_own=False, /)\n--\n\n"
               "Install the fatal-signal handlers (chaining the current ones)."
               "\nWith faulthandler_engine, Python stacks are left to an "
               "already enabled faulthandler (always so on 3.13+); with "
               "faulthandler_on_run_log, it writes to the run log's descriptor "
               "and is not chained to once that names another file.  "
               "Frame lines starting with own_frame_line (pyqtguard's) and "
               "launcher_frame_line with the frames outside it are left "
               "out of the stacks (3.11-3.12; 3.13+ when faulthandler_fd is "
               "crash_stacks_prepare()'s memfd).")},
    {"crash_stacks_prepare", crash_stacks_prepare_py, METH_NOARGS,
     PyDoc_STR("crash_stacks_prepare($module, /)\n--\n\n"
               "3.13+ on Linux: a memfd for faulthandler to write the stacks "
               "into, and the handler under faulthandler's that copies them "
               "to the run log without pyqtguard's frames.  Call before "
               "faulthandler.enable(file=fd); -1 where not supported.")},
    {"crash_stacks_release", crash_stacks_release_py, METH_NOARGS,
     PyDoc_STR("crash_stacks_release($module, /)\n--\n\n"
               "Undo crash_stacks_prepare() (after faulthandler.disable()).")},
    {"crash_stacks_fd", crash_stacks_fd_py, METH_NOARGS,
     PyDoc_STR("crash_stacks_fd($module, /)\n--\n\n"
               "The memfd faulthandler writes into, if it is still that; else -1.")},
    {"crash_copy_stacks", crash_copy_stacks_py, METH_O,
     PyDoc_STR("crash_copy_stacks($module, start, /)\n--\n\n"
               "Copy faulthandler's dump in the memfd from offset start to "
               "the run log, pyqtguard's frames left out.")},
    {"crash_disable", crash_disable_py, METH_NOARGS,
     PyDoc_STR("crash_disable($module, /)\n--\n\nRestore the previous handlers.")},
    {"crash_enabled", crash_enabled_py, METH_NOARGS,
     PyDoc_STR("crash_enabled($module, /)\n--\n\nWhether the handlers are on.")},
    {"crash_release_report", crash_release_report_py, METH_NOARGS,
     PyDoc_STR("crash_release_report($module, /)\n--\n\n"
               "Write a fatal error's report held for its Python stacks, if any.")},
    {"write_fatal_report", write_fatal_report_py, METH_O,
     PyDoc_STR("write_fatal_report($module, reason, /)\n--\n\n"
               "Write a crash report for a fatal error that is not a signal.")},
    {"python_stacks_engine", python_stacks_engine_py, METH_NOARGS,
     PyDoc_STR("python_stacks_engine($module, /)\n--\n\n"
               "'pyqtguard' (3.11-3.12) or 'faulthandler'.")},
    {"own_python_stacks_supported", own_python_stacks_supported_py, METH_NOARGS,
     PyDoc_STR("own_python_stacks_supported($module, /)\n--\n\n"
               "True where the C core can dump Python stacks itself (3.11-3.12).")},
    {NULL, NULL, 0, NULL},
};

int
pqg_crash_init(PyObject *module)
{
#ifdef PQG_STACKS_HANDLER
    (void)Py_AtExit(note_finalizing_thread);
#endif
    return PyModule_AddFunctions(module, crash_methods);
}
