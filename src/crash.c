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
/* The pid that sent a fault signal with kill()/tgkill() (si_code <= 0: no
 * fault, and no si_addr), or 0.  Set by the reporter before its report. */
static volatile long report_sender = 0;
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
    char digits[24];
    size_t nd = 0;
    unsigned long v = native_id;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && nd < sizeof(digits));
    while (nd > 0 && len < sizeof(path) - 8) {
        path[len++] = digits[--nd];
    }
    memcpy(path + len, "/comm", 6);
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
        pqg_puts(fd, " (kill(), not a fault)\n");
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
#endif
}

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

/* The thread table (ident -> name): one line per thread, many small writes,
 * collected in memory first and written with one write() per descriptor. */
static void
write_legend(const int *fds, int nfds, unsigned long crashing_native_id)
{
    size_t len;
    pqg_capture_reset();
    write_legend_to(PQG_CAPTURE_FD, crashing_native_id);
    const char *text = pqg_capture_text(&len);
    for (int i = 0; i < nfds; i++) {
        pqg_write_all(fds[i], text, len);
    }
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
/* faulthandler would write into a file that is no longer the run log. */
static int
faulthandler_stale(int log_fd)
{
    return faulthandler_on_run_log && log_fd < 0;
}

#ifndef PQG_OWN_PYTHON_STACKS
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

static void
write_report(const fatal_signal *sig, const char *reason, const void *address,
             int has_address, const void *ucontext)
{
    int fds[2] = {-1, -1};
    int nfds = report_fds(fds);
    quiet_gil_waiters();
    unsigned long native_id = pqg_current_native_id();
    for (int i = 0; i < nfds; i++) {
        write_header(fds[i], sig, reason, address, has_address, native_id);
        pqg_write_unreported(fds[i]);       /* the likely cause comes first */
    }
    atomic_fetch_add(&report_progress, 1);
    write_native_stack(fds, nfds, ucontext);
    atomic_fetch_add(&report_progress, 1);
    write_legend(fds, nfds, native_id);
    atomic_fetch_add(&report_progress, 1);
#ifdef PQG_OWN_PYTHON_STACKS
    if (!engine_is_faulthandler) {
        write_python_stacks(fds, nfds, native_id);
    }
#endif
    restore_gil_waiters();
#ifndef PQG_OWN_PYTHON_STACKS
    if (engine_is_faulthandler && !faulthandler_stale(pqg_log_fd_checked())) {
        wait_for_unbound_thread_states();   /* before faulthandler's dump */
    }
#endif
    size_t path_len;
    const char *path_line = pqg_log_path_line(&path_len);
    int log_fd = pqg_log_fd_checked();
    for (int i = 0; i < nfds; i++) {
        int is_log = fds[i] == log_fd;
        if (engine_is_faulthandler && faulthandler_stale(log_fd)) {
            pqg_puts(fds[i], "\nPython stacks of all threads: not written (the app "
                     "closed the run log; its descriptor now names another file)\n");
        }
        else if (engine_is_faulthandler) {
            pqg_puts(fds[i], is_log
                     ? "\nPython stacks of all threads (by faulthandler):\n"
                     : "\nPython stacks of all threads: see the run log\n");
        }
        if (!is_log) {
            /* stderr's copy ends naming the log (a static buffer set at
             * install: write() only, signal-safe). */
            pqg_write_all(fds[i], path_line, path_len);
        }
    }
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

#ifndef _WIN32
/* A second thread that crashes while the first writes the report waits
 * for it: its own re-raise would end the process with the report cut
 * short.  It used to sleep a fixed 5 s; now it waits as long as the report
 * makes progress (the reporter counts each part it writes), gives up after
 * 1 s without any (a reporter that is stuck, so the process still ends),
 * and returns at once if the report is given up (a Qt fatal error's report
 * releases the claim for the abort that follows: it is then this thread's
 * turn).  Normally it waits for nothing: the reporter ends the process.
 * Atomic loads and nanosleep(): async-signal-safe. */
static void
wait_for_reporter(void)
{
    struct timespec tick = {0, 1000 * 1000};         /* 1 ms */
    int seen = atomic_load(&report_progress);
    int idle_ms = 0;
    for (int total_ms = 0; total_ms < 30 * 1000 && idle_ms < 1000; total_ms++) {
        if (atomic_load(&reporter) == 0) {
            return;
        }
        nanosleep(&tick, NULL);
        int now = atomic_load(&report_progress);
        idle_ms = now == seen ? idle_ms + 1 : 0;
        seen = now;
    }
}

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

static void
fatal_signal_handler(int signum, siginfo_t *info, void *ucontext)
{
    int saved_errno = errno;
    fatal_signal *sig = find_signal(signum);
    if (sig == NULL) {
        return;
    }
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
    int claimed = claim_reporter(native_id);
    if (!claimed && (unsigned long)atomic_load(&reporter) != native_id) {
        wait_for_reporter();
        claimed = claim_reporter(native_id);    /* given up: this thread's turn */
    }
    if (claimed) {
        if (signum == SIGABRT && fatal_already_reported) {
            int fds[2] = {-1, -1};
            int nfds = report_fds(fds);
            for (int i = 0; i < nfds; i++) {
                pqg_puts(fds[i], "signal: SIGABRT after the fatal error reported above\n");
            }
        }
        else {
            /* si_addr is the faulting address only for a fault the kernel
             * raised (si_code > 0); a fault signal sent with kill() has the
             * sender's pid in its place. */
            int real_fault = info != NULL && is_fault(signum) && info->si_code > 0;
            report_sender = (info != NULL && is_fault(signum) && info->si_code <= 0)
                            ? (long)info->si_pid : 0;
            report_passed_on = report_sender == (long)pqg_getpid()
                               && passed_on_by_another_handler(ucontext);
            write_report(sig, NULL, real_fault ? info->si_addr : NULL, real_fault, ucontext);
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
    if (faulthandler_stale(pqg_log_fd_checked())) {
        restore_default_action(sig);        /* not faulthandler: see above */
    }
    else {
        restore_previous_handler(sig);
    }
    errno = saved_errno;
    if (refaults) {
        return;
    }
    raise(signum);
}

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

static int
install_handlers(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = fatal_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
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
    if (claim_reporter(pqg_current_native_id())) {
        fatal_signal sig = {.signum = 0, .name = "EXCEPTION",
                            .description = "unhandled Windows exception"};
        write_report(&sig, NULL, pointers->ExceptionRecord->ExceptionAddress, 1, NULL);
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

static int
install_handlers(void)
{
    previous_filter = SetUnhandledExceptionFilter(unhandled_exception_filter);
    return 0;
}

static void
uninstall_handlers(void)
{
    SetUnhandledExceptionFilter(previous_filter);
    previous_filter = NULL;
}
#endif

/* ---- Python API ---- */

static PyObject *
crash_enable_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    int faulthandler_engine = 0;
    int on_run_log = 0;
    const char *own = NULL, *launcher = NULL;
    Py_ssize_t own_len = 0, launcher_len = 0;
    if (!PyArg_ParseTuple(args, "|ppy#y#:crash_enable", &faulthandler_engine, &on_run_log,
                          &own, &own_len, &launcher, &launcher_len)) {
        return NULL;
    }
    faulthandler_on_run_log = on_run_log;
#ifdef PQG_OWN_PYTHON_STACKS
    engine_is_faulthandler = faulthandler_engine;
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
    write_report(NULL, reason, NULL, 0, NULL);
    fatal_already_reported = 1;
    atomic_store(&reporter, 0);         /* the SIGABRT may now add its line */
    return PyBool_FromLong(1);
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
               "launcher_frame_line=b'', /)\n--\n\n"
               "Install the fatal-signal handlers (chaining the current ones)."
               "\nWith faulthandler_engine, Python stacks are left to an "
               "already enabled faulthandler (always so on 3.13+); with "
               "faulthandler_on_run_log, it writes to the run log's descriptor "
               "and is not chained to once that names another file.  "
               "Frame lines starting with own_frame_line (pyqtguard's) and "
               "launcher_frame_line with the frames outside it are left "
               "out of the stacks (3.11-3.12).")},
    {"crash_disable", crash_disable_py, METH_NOARGS,
     PyDoc_STR("crash_disable($module, /)\n--\n\nRestore the previous handlers.")},
    {"crash_enabled", crash_enabled_py, METH_NOARGS,
     PyDoc_STR("crash_enabled($module, /)\n--\n\nWhether the handlers are on.")},
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
    return PyModule_AddFunctions(module, crash_methods);
}
