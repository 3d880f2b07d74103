/* logfd.c: the run's log file descriptor and the signal-safe writers that
 * every report (exception, crash, hang) goes through.
 *
 * The descriptor is opened by the Python layer (0600, O_NOFOLLOW, O_APPEND)
 * and handed over once; from then on it stays open for the whole process so
 * that a signal handler or the watchdog thread can write to it without
 * allocating, locking or touching the interpreter. */
#include "pyqtguard_native.h"

#include <errno.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#  include <io.h>
#  include <windows.h>
#  define pqg_raw_write(fd, buf, len) _write((fd), (buf), (unsigned int)(len))
#else
#  include <limits.h>
#  include <poll.h>
#  include <unistd.h>
#  include <sys/types.h>
#  include <sys/stat.h>
#  define pqg_raw_write(fd, buf, len) write((fd), (buf), (len))
#endif
#ifdef __linux__
#  include <sys/syscall.h>
#endif
#ifdef __APPLE__
#  include <pthread.h>
#endif

/* Plain ints: read from signal handlers, written only under the GIL before
 * any handler that reads them is armed.  volatile so a handler sees the
 * latest store. */
static volatile int log_fd = -1;
static volatile int stderr_fd = -1;
static volatile int write_failed = 0;
/* The process the log was handed over in: a fork child shares the log, and
 * its own lines must not read as the app's ("(forked child, pid N)"). */
static volatile long log_owner_pid = 0;

/* A full disk (or a log file gone): the first failed write warns on stderr
 * at once, one line; later entries are counted, not written; the first
 * write that works again is preceded by a line saying how many are missing.
 * Plain volatile ints and static buffers: set from whichever thread or
 * signal handler writes; a race can miscount by one, never crash. */
static volatile int log_broken = 0;
static volatile int broken_errno = 0;
static volatile unsigned long entries_missed = 0;
static char broken_since[32];
static char log_path[1024];           /* for the warning; "" if unknown */

/* "pyqtguard: this run's log: <path>\n", ending a crash report's copy on
 * stderr.  Set under the GIL at install; the handler reads the length
 * first, and a new line is stored with the length 0 meanwhile. */
static char log_path_line[4096];
static volatile size_t log_path_line_len = 0;

#ifndef _WIN32
/* Which file the log descriptor named when it was handed over.  An app that
 * closes every descriptor (os.closerange(), a daemonizing helper) frees its
 * number, and the app's next open() gets it: writing on would put reports
 * into the app's own file.  fstat() is async-signal-safe. */
static volatile int log_identity_known = 0;
static dev_t log_dev;
static ino_t log_ino;
/* When the log descriptor's identity was last found right (monotonic ns). */
static volatile long long identity_checked_ns = 0;
#endif

static void warn_log_broken(int err);

int
pqg_log_fd(void)
{
#ifndef _WIN32
    /* A write under the GIL (an exception report, a log line) checks at most
     * once per PQG_LOG_CHECK_NS (1 ms): an fstat() per report was 2-4% of a
     * report's cost in a flood.  A report alone always checks; to hit a file
     * of the app's, the app would have to close the log and open that file
     * within 1 ms of a previous report.  Crash and signal paths use
     * pqg_log_fd_checked(). */
    long long now = pqg_monotonic_ns();
    if (log_fd >= 0 && log_identity_known && now - identity_checked_ns < PQG_LOG_CHECK_NS) {
        return log_fd;
    }
    int fd = pqg_log_fd_checked();
    if (fd >= 0) {
        identity_checked_ns = now;
    }
    return fd;
#else
    return log_fd;
#endif
}

int
pqg_log_fd_checked(void)
{
    int fd = log_fd;
#ifndef _WIN32
    if (fd >= 0 && log_identity_known) {
        struct stat st;
        int saved_errno = errno;
        int failed = fstat(fd, &st) != 0;
        errno = saved_errno;
        if (!failed && (st.st_dev != log_dev || st.st_ino != log_ino)) {
            identity_checked_ns = 0;        /* pqg_log_fd() checks each time now */
            /* Another file now: never write to it (closed, not gone: a
             * plain close still fails with EBADF and warns when written). */
            if (!log_broken) {
                broken_errno = EBADF;
                pqg_format_timestamp(broken_since);
                entries_missed = 0;
                log_broken = 1;
                warn_log_broken(EBADF);
            }
            return -1;
        }
        if (!failed && st.st_size > 0) {
            /* What every process sharing the log wrote (loglimit.c). */
            pqg_log_limit_seen_size((unsigned long long)st.st_size);
        }
    }
#endif
    return fd;
}

/* parts[0..n) one after the other into buf, cut at its size (no NUL):
 * a line made of several pieces goes out in one write().  Returns its
 * length.  Signal-safe: strlen and memcpy. */
size_t
pqg_join(char *buf, size_t size, const char *const *parts, size_t n)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(parts[i]);
        if (len > size - used) {
            len = size - used;
        }
        memcpy(buf + used, parts[i], len);
        used += len;
    }
    return used;
}

/* *value* in decimal, NUL-terminated, at the end of buf (PQG_DEC_SIZE
 * bytes): returns where it starts.  Signal-safe: no state. */
const char *
pqg_format_dec(char *buf, unsigned long long value)
{
    char *p = buf + PQG_DEC_SIZE - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    return p;
}

/* "(forked child, pid N) " in a fork child of the process that opened the
 * log, else "", into buf (at least 48 bytes).  Signal-safe. */
const char *
pqg_forked_child_mark(char *buf)
{
    long pid = pqg_getpid();
    buf[0] = '\0';
    if (log_owner_pid <= 0 || pid == log_owner_pid) {
        return buf;
    }
    char digits[PQG_DEC_SIZE];
    const char *p = pqg_format_dec(digits, (unsigned long long)pid);
    static const char head[] = "(forked child, pid ";
    size_t used = sizeof(head) - 1;
    memcpy(buf, head, used);
    size_t len = strlen(p);
    memcpy(buf + used, p, len);
    used += len;
    memcpy(buf + used, ") ", 3);
    return buf;
}

int
pqg_stderr_fd(void)
{
    return stderr_fd;
}

/* The crash handler's memory "descriptor": writes to PQG_CAPTURE_FD collect
 * in a static buffer, so a part made of many small writes (the thread table:
 * 1,000 threads are ~7,000 of them) costs one write() per real descriptor.
 * Only the thread that claimed the crash report uses it (crash.c).
 *
 * A crash report is composed here whole (pqg_capture_begin) and written
 * with one write() per descriptor: fork children sharing the run log and
 * crashing at once (a pool's workers hitting the same fault) wrote their
 * reports' ~100 small pieces each into one another - headers mixed byte by
 * byte, a report's stacks under another's header, reports with no pid line
 * left.  An O_APPEND write() of a regular file lands in one piece.  A
 * report longer than the buffer is written in parts as it fills.  Without
 * targets (a part captured alone), a part longer than the buffer is cut,
 * and says so.  Signal-safe: memcpy and write(). */
static char capture[1024 * 1024];
static size_t capture_len = 0;
static int capture_cut = 0;
static int capture_targets[2];
static int capture_ntargets = 0;
/* Another descriptor's copy of what is composed, written after the
 * targets' (pqg_capture_defer): stderr's copy of a report whose log part is
 * held for the Python stacks (crash.c): the first deferred_common bytes
 * of the capture, then its own last lines. */
static int deferred_fd = -1;
static size_t deferred_common = 0;
static char deferred_tail[8192];
static size_t deferred_len = 0;

static void
capture_append(const char *buf, size_t len)
{
    static const char cut[] = "\n...(cut: longer than the crash report's buffer)\n";
    if (capture_cut) {
        return;
    }
    if (capture_ntargets > 0 && len > sizeof(capture) - capture_len) {
        pqg_capture_flush();
        if (len > sizeof(capture)) {
            for (int i = 0; i < capture_ntargets; i++) {
                pqg_write_all(capture_targets[i], buf, len);
            }
            return;
        }
    }
    if (len > sizeof(capture) - sizeof(cut) - capture_len && capture_ntargets == 0) {
        memcpy(capture + capture_len, cut, sizeof(cut) - 1);
        capture_len += sizeof(cut) - 1;
        capture_cut = 1;
        return;
    }
    memcpy(capture + capture_len, buf, len);
    capture_len += len;
}

void
pqg_capture_reset(void)
{
    capture_len = 0;
    capture_cut = 0;
}

const char *
pqg_capture_text(size_t *len)
{
    *len = capture_len;
    return capture;
}

/* Compose a report for fds[0..nfds) (at most 2): empty the buffer, and
 * write it to them whenever it fills.  Signal-safe. */
void
pqg_capture_begin(const int *fds, int nfds)
{
    pqg_capture_reset();
    deferred_fd = -1;
    capture_ntargets = 0;
    for (int i = 0; i < nfds && i < 2; i++) {
        capture_targets[capture_ntargets++] = fds[i];
    }
}

/* Other targets for what is composed (kept). */
void
pqg_capture_set_targets(const int *fds, int nfds)
{
    capture_ntargets = 0;
    for (int i = 0; i < nfds && i < 2; i++) {
        capture_targets[capture_ntargets++] = fds[i];
    }
}

/* The descriptors pqg_capture_begin() was given (n: how many). */
const int *
pqg_capture_targets(int *n)
{
    *n = capture_ntargets;
    return capture_targets;
}

/* fd gets the first common bytes composed and then tail[0:len) (cut at
 * 8 KiB), in one write(), at the next flush - after the targets' write(),
 * while those bytes are still at the buffer's start.  Signal-safe: memcpy. */
void
pqg_capture_defer(int fd, size_t common, const char *tail, size_t len)
{
    deferred_fd = -1;
    if (fd < 0 || common > capture_len) {
        return;
    }
    deferred_common = common;
    deferred_len = len < sizeof(deferred_tail) ? len : sizeof(deferred_tail);
    memcpy(deferred_tail, tail, deferred_len);
    deferred_fd = fd;
}

/* What is composed so far, to each target, one write() each; emptied.
 * Then a deferred copy (pqg_capture_defer), once.  Signal-safe: write(),
 * memcpy. */
void
pqg_capture_flush(void)
{
    for (int i = 0; i < capture_ntargets; i++) {
        pqg_write_all(capture_targets[i], capture, capture_len);
    }
    int fd = deferred_fd;
    deferred_fd = -1;
    if (fd >= 0) {
        /* The common text is still the buffer's start: nothing was flushed
         * since pqg_capture_defer (this is the first flush); its own lines
         * go where the targets' came after it.  Room: they were composed
         * there first (crash.c). */
        size_t room = sizeof(capture) - deferred_common;
        size_t len = deferred_len < room ? deferred_len : room;
        memcpy(capture + deferred_common, deferred_tail, len);
        pqg_write_all(fd, capture, deferred_common + len);
    }
    capture_len = 0;
}

/* At least n bytes free: else what is composed goes out now. */
void
pqg_capture_reserve(size_t n)
{
    if (capture_ntargets > 0 && n > sizeof(capture) - capture_len) {
        pqg_capture_flush();
    }
}

/* What is composed so far, to fd alone (one write()); kept. */
void
pqg_capture_write_to(int fd)
{
    pqg_write_all(fd, capture, capture_len);
}

/* The composed length, and back to it (a descriptor's own last lines). */
size_t
pqg_capture_mark(void)
{
    return capture_len;
}

void
pqg_capture_truncate(size_t len)
{
    if (len < capture_len) {
        capture_len = len;
    }
}

/* Composing over: the buffer back to capturing a part alone. */
void
pqg_capture_end(void)
{
    capture_ntargets = 0;
    deferred_fd = -1;
    pqg_capture_reset();
}

/* The watchdog's own reports (an exit timeout or a freeze Python did not
 * answer, a thread dump without Python) and the second Ctrl+C's: writes to
 * PQG_COMPOSE_FD collect here, and the report goes out with one write() to
 * its descriptor (pqg_compose_end).  They were ~20 write()s each (marker,
 * pid, table rows, each stack's pieces): fork children reaching their exit
 * deadline together cut into one another's reports, and a child's
 * exception report landed inside the app's freeze report.  A report longer
 * than the buffer is written in parts as it fills.
 *
 * Its own buffer, not the crash handler's: the watchdog thread may compose
 * while another thread crashes.  Users: the watchdog thread, the exit
 * timer's signal handler, interrupt.c's second-signal handler - one at a
 * time, claimed with an atomic exchange (lock-free: async-signal-safe); a
 * caller that finds it taken writes straight to its descriptor, as before.
 * Signal-safe: an atomic exchange, memcpy, write(). */
static char compose[1024 * 1024];
static size_t compose_len = 0;
static int compose_target = -1;
static atomic_int compose_taken = 0;

static void
compose_append(const char *buf, size_t len)
{
    if (len > sizeof(compose) - compose_len) {
        pqg_write_all(compose_target, compose, compose_len);   /* a part, whole */
        compose_len = 0;
        if (len > sizeof(compose)) {
            pqg_write_all(compose_target, buf, len);
            return;
        }
    }
    memcpy(compose + compose_len, buf, len);
    compose_len += len;
}

/* Where to write a report meant for fd: PQG_COMPOSE_FD (claimed), or fd
 * itself when fd < 0 or the buffer is in use. */
int
pqg_compose_begin(int fd)
{
    if (fd < 0 || atomic_exchange(&compose_taken, 1) != 0) {
        return fd;
    }
    compose_target = fd;
    compose_len = 0;
    return PQG_COMPOSE_FD;
}

/* The real descriptor behind out (out itself if it is one). */
int
pqg_compose_target(int out)
{
    return out == PQG_COMPOSE_FD ? compose_target : out;
}

/* What is composed so far goes out now (one write()); composing goes on. */
void
pqg_compose_flush(int out)
{
    if (out == PQG_COMPOSE_FD) {
        pqg_write_all(compose_target, compose, compose_len);
        compose_len = 0;
    }
}

/* The report, in one write() to its descriptor; the buffer free again. */
void
pqg_compose_end(int out)
{
    if (out == PQG_COMPOSE_FD) {
        pqg_compose_flush(out);
        compose_target = -1;
        atomic_store(&compose_taken, 0);
    }
}

/* A fork child: no thread of the parent composes here (one thread; a
 * store, async-signal-safe). */
void
pqg_compose_forget_in_child(void)
{
    compose_len = 0;
    compose_target = -1;
    atomic_store(&compose_taken, 0);
}

/* The line naming the run log (or "" before there is one).  Signal-safe:
 * reads a static buffer. */
const char *
pqg_log_path_line(size_t *len)
{
    *len = log_path_line_len;
    return log_path_line;
}

/* write() until done; 0, or the errno of the failure.  Signal-safe. */
static int
write_fully(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        long n = (long)pqg_raw_write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno != 0 ? errno : EIO;
        }
        if (n == 0) {
            return EIO;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- stderr: never waited for long ----
 * stderr may be a pipe nobody reads, full (a parent that waits for the exit
 * before it reads; a reader that stopped).  A write() there never returns.
 * Without pyqtguard a crashing app still dies of its fault; with it, the
 * crash handler's copy of the report hung the process for good, and the
 * exit deadline with it.  So a write to stderr waits for room at most
 * STDERR_WAIT_MS and goes in pieces a pipe takes whole (PIPE_BUF: poll()'s
 * POLLOUT means that much fits); once it had to give up, stderr is left
 * alone for the rest of the run: the log has everything.  A regular file is
 * written as before.  poll(), fstat() and write() are async-signal-safe. */
#define STDERR_WAIT_MS 1000

static volatile int stderr_stuck = 0;       /* a plain int: read in handlers */

#ifndef _WIN32
static int
write_waiting_for_room(int fd, const char *buf, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        return write_fully(fd, buf, len);
    }
    while (len > 0) {
        struct pollfd room = {.fd = fd, .events = POLLOUT, .revents = 0};
        int ready = poll(&room, 1, STDERR_WAIT_MS);
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready == 0) {
            stderr_stuck = 1;               /* full for a second: let it be */
            return EAGAIN;
        }
        /* Ready, or an error poll() reports (a pipe without a reader): the
         * write() says what it is (EPIPE, or SIGPIPE as without pyqtguard).
         * A piece of PIPE_BUF at most fits whole in the room POLLOUT means. */
        size_t piece = len < PIPE_BUF ? len : PIPE_BUF;
        int err = write_fully(fd, buf, piece);
        if (err != 0) {
            return err;
        }
        buf += piece;
        len -= piece;
    }
    return 0;
}
#endif

/* strerror() is not async-signal-safe: the reasons a log write fails. */
static const char *
write_error_name(int err)
{
    switch (err) {
    case ENOSPC: return "no space left on the device";
#ifdef EDQUOT
    case EDQUOT: return "disk quota exceeded";
#endif
#ifdef EFBIG
    case EFBIG: return "file too large";
#endif
    case EIO: return "input/output error";
    case EBADF: return "the file is closed";
    case EROFS: return "read-only file system";
    default: return "write error";
    }
}

/* Only newlines or spaces: a separator, not an entry of the log. */
static int
is_blank(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n' && buf[i] != ' ') {
            return 0;
        }
    }
    return 1;
}

/* The one line on stderr when the log stops taking writes: one write(),
 * through pqg_write_all() - a full stderr pipe is waited for a second at
 * most, as for every copy on stderr.  Signal-safe. */
static void
warn_log_broken(int err)
{
    int fd = stderr_fd;
    if (fd < 0) {
        return;                        /* the Python side warns (logs/__init__.py) */
    }
    char line[sizeof(log_path) + 256];        /* the fixed text and an errno name */
    const char *parts[] = {
        "pyqtguard: cannot write to the run log",
        log_path[0] != '\0' ? " " : "", log_path,
        " (disk full or file gone: ", write_error_name(err),
        "); reports go to stderr only until it can be written again\n",
    };
    pqg_write_all(fd, line, pqg_join(line, sizeof(line), parts, sizeof(parts) / sizeof(parts[0])));
}

/* Before the first entry written after a failure: the line saying how many
 * are missing.  1 if the log takes writes again.  Signal-safe. */
static int
write_recovery_note(int fd)
{
    char line[320];
    char stamp[32];
    char count[PQG_DEC_SIZE];
    const char *p = pqg_format_dec(count, entries_missed);
    pqg_format_timestamp(stamp);
    const char *parts[] = {
        "[", stamp, "] pyqtguard: ", p, entries_missed == 1 ? " entry" : " entries",
        " could not be written to this log since ", broken_since, " (",
        write_error_name(broken_errno), "); reports among them went to stderr only\n",
    };
    size_t used = pqg_join(line, sizeof(line), parts, sizeof(parts) / sizeof(parts[0]));
    if (write_fully(fd, line, used) != 0) {
        return 0;
    }
    log_broken = 0;
    entries_missed = 0;
    return 1;
}

/* Write the whole buffer, retrying on EINTR and short writes.  For the log:
 * the first failure (full disk, file gone) warns on stderr at once, entries
 * that fail after it are counted, and the first that works again says how
 * many are missing.  Signal-safe: write() and stack buffers only. */
void
pqg_write_all(int fd, const char *buf, size_t len)
{
    if (fd == PQG_CAPTURE_FD) {
        capture_append(buf, len);
        return;
    }
    if (fd == PQG_COMPOSE_FD) {
        compose_append(buf, len);
        return;
    }
    if (fd < 0) {
        return;
    }
    int saved_errno = errno;
    int is_log = fd == log_fd;
    if (is_log && log_broken && !write_recovery_note(fd)) {
        if (!is_blank(buf, len)) {
            entries_missed++;
        }
        errno = saved_errno;
        return;
    }
    int err;
#ifndef _WIN32
    if (fd == stderr_fd && !is_log) {
        err = stderr_stuck ? EAGAIN : write_waiting_for_room(fd, buf, len);
    }
    else
#endif
    {
        err = write_fully(fd, buf, len);
    }
    if (err == 0 && is_log) {
        pqg_log_limit_count(len);
    }
    if (err != 0 && is_log) {
        write_failed = 1;
        if (!log_broken) {
            broken_errno = err;
            pqg_format_timestamp(broken_since);
            entries_missed = 0;
            log_broken = 1;
            warn_log_broken(err);
        }
        if (!is_blank(buf, len)) {
            entries_missed++;
        }
    }
    errno = saved_errno;
}

/* Lines of text that came from the app (exception messages, thread names,
 * file names, Qt messages) must not pass for pyqtguard's own lines: a
 * section marker ("=== pyqtguard crash report ===" and the others) or, past
 * the text's first line, a timestamped event line ("[2026-11-29 10:00:00.000
 * UTC] pyqtguard: interpreter exit": `pyqtguard logs` reads a run's outcome
 * and its exceptions from those).  Such a line gets PQG_TEXT_INDENT in
 * front.  The text's first line may be pyqtguard's own "[time] ..." (a
 * report's header): it keeps its '['.  Signal-safe: no state. */
static int
needs_indent(char c, int line_start, int first_line)
{
    return line_start && (c == '=' || (c == '[' && !first_line));
}

/* Whether text[i] ends a line for some reader of the log: '\n' (the
 * writers' own line end), '\r' (bytes.splitlines(), and a terminal returns
 * to the line's start: a `cat` showed the text after it in place of the real
 * line), '\v', '\f', '\x1c'-'\x1e' (str.splitlines()), and the UTF-8 of
 * U+0085, U+2028 and U+2029 (str.splitlines(), editors).  A '[' or '=' after
 * any of them is indented (the text's own first '[' is pyqtguard's). */
static inline int
ends_a_line(const char *text, size_t i)
{
    unsigned char c = (unsigned char)text[i];
    if (c >= 0x20 && c < 0x80) {
        return 0;                       /* the common case: printable ASCII */
    }
    if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) {
        return 1;
    }
    if (c == 0x85) {                                    /* U+0085: C2 85 */
        return i >= 1 && (unsigned char)text[i - 1] == 0xc2;
    }
    if (c == 0xa8 || c == 0xa9) {                       /* U+2028/9: E2 80 A8/A9 */
        return i >= 2 && (unsigned char)text[i - 2] == 0xe2
               && (unsigned char)text[i - 1] == 0x80;
    }
    return 0;
}

/* How many bytes from s on are printable ASCII (0x20-0x7f): inside a line
 * they neither end it nor get an indent, so they are copied as they are.
 * Eight at a time: a byte below 0x20 borrows into its high bit when 0x20 is
 * taken from it, a byte from 0x80 has it set; a borrow may also mark a byte
 * above a marked one, so the last word is finished byte by byte.  Most of a
 * report is such bytes: byte by byte, defusing was a tenth of its time. */
static size_t
printable_ascii_run(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t high_bits = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, s + i, sizeof word);
        if (((word - 0x20 * ones) | word) & high_bits) {
            break;
        }
    }
    while (i < n && (unsigned char)(s[i] - 0x20) < 0x60) {
        i++;
    }
    return i;
}

/* Copies `in` to `out` (out == NULL: only counts), defused as above, and
 * returns the length of the result.  at_line_start: `in` begins a line of
 * the log. */
size_t
pqg_defuse_text(const char *in, size_t len, int at_line_start, char *out)
{
    size_t extra = sizeof(PQG_TEXT_INDENT) - 1;
    size_t used = 0;
    int line_start = at_line_start;
    int first_line = 1;
    for (size_t i = 0; i < len; i++) {
        if (!line_start) {
            size_t run = printable_ascii_run(in + i, len - i);
            if (run > 0) {
                if (out != NULL) {
                    memcpy(out + used, in + i, run);
                }
                used += run;
                i += run;
                if (i == len) {
                    break;
                }
            }
        }
        if (needs_indent(in[i], line_start, first_line)) {
            if (out != NULL) {
                memcpy(out + used, PQG_TEXT_INDENT, extra);
            }
            used += extra;
        }
        if (out != NULL) {
            out[used] = in[i];
        }
        used++;
        line_start = ends_a_line(in, i);
        first_line = first_line && !line_start;
    }
    return used;
}

/* pqg_defuse_text() straight to fd, in as few writes as the text allows
 * (one when no line needs the indent).  Signal-safe: write() only. */
void
pqg_write_text(int fd, const char *buf, size_t len, int at_line_start)
{
    size_t start = 0;
    int line_start = at_line_start;
    int first_line = 1;
    for (size_t i = 0; i < len; i++) {
        if (needs_indent(buf[i], line_start, first_line)) {
            pqg_write_all(fd, buf + start, i - start);
            pqg_write_all(fd, PQG_TEXT_INDENT, sizeof(PQG_TEXT_INDENT) - 1);
            start = i;
        }
        line_start = ends_a_line(buf, i);
        first_line = first_line && !line_start;
    }
    pqg_write_all(fd, buf + start, len - start);
}

void
pqg_puts(int fd, const char *s)
{
    pqg_write_all(fd, s, strlen(s));
}

/* Signal-safe: formats into a stack buffer. */
void
pqg_put_dec(int fd, unsigned long long value)
{
    char buf[PQG_DEC_SIZE];
    const char *p = pqg_format_dec(buf, value);
    pqg_write_all(fd, p, strlen(p));
}

/* Signal-safe: formats into a stack buffer, "0x" prefixed, lower case. */
void
pqg_put_hex(int fd, unsigned long long value)
{
    static const char digits[] = "0123456789abcdef";
    char buf[20];
    char *p = buf + sizeof(buf);
    do {
        *--p = digits[value & 0xf];
        value >>= 4;
    } while (value != 0);
    *--p = 'x';
    *--p = '0';
    pqg_write_all(fd, p, (size_t)(buf + sizeof(buf) - p));
}

/* Write at most max_len bytes of s, printable ASCII as is and everything
 * else as \xNN, so a hostile thread name cannot break the log's layout.
 * A backslash is escaped only where it could begin an escape (before an
 * "x"): Windows paths (start sites) read as they are, not C:\x5cUsers, and
 * a reader still tells a written "\x41" from an escaped byte;
 * with `lines`, a newline is kept as a line break and the next line starts
 * with PQG_TEXT_INDENT (a continuation line, which no marker or header
 * field of a report starts with).  Signal-safe: stack buffer only. */
static void
put_escaped(int fd, const char *s, size_t max_len, int lines)
{
    static const char digits[] = "0123456789abcdef";
    char out[256];
    size_t used = 0;
    for (size_t i = 0; i < max_len && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (used + 4 > sizeof(out)) {
            pqg_write_all(fd, out, used);
            used = 0;
        }
        int plain_backslash = c == '\\' && !(i + 1 < max_len && s[i + 1] == 'x');
        if ((c >= 0x20 && c < 0x7f && c != '\\') || plain_backslash) {
            out[used++] = (char)c;
        }
        else if (c == '\n' && lines) {
            out[used++] = '\n';
            memcpy(out + used, PQG_TEXT_INDENT, sizeof(PQG_TEXT_INDENT) - 1);
            used += sizeof(PQG_TEXT_INDENT) - 1;
        }
        else {
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = digits[c >> 4];
            out[used++] = digits[c & 0xf];
        }
    }
    pqg_write_all(fd, out, used);
}

void
pqg_put_escaped(int fd, const char *s, size_t max_len)
{
    put_escaped(fd, s, max_len, 0);
}

void
pqg_put_escaped_lines(int fd, const char *s, size_t max_len)
{
    put_escaped(fd, s, max_len, 1);
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm):
 * gmtime_r() is not async-signal-safe, this is plain arithmetic. */
static void
civil_from_days(long long z, int *year, unsigned *month, unsigned *day)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(y + (*month <= 2));
}

static void
put_two_digits(char *p, unsigned v)
{
    p[0] = (char)('0' + (v / 10) % 10);
    p[1] = (char)('0' + v % 10);
}

/* Format "2026-11-22 13:41:35.123 UTC" into buf (at least 32 bytes).
 * Signal-safe: clock_gettime() is on the POSIX async-signal-safe list. */
void
pqg_format_timestamp(char *buf)
{
    long long secs;
    long millis;
#ifdef _WIN32
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    unsigned long long t = ((unsigned long long)ft.dwHighDateTime << 32)
                           | ft.dwLowDateTime;
    t -= 116444736000000000ULL;          /* 1601 -> 1970, 100 ns units */
    secs = (long long)(t / 10000000ULL);
    millis = (long)((t / 10000ULL) % 1000ULL);
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    secs = (long long)ts.tv_sec;
    millis = ts.tv_nsec / 1000000L;
#endif
    long long days = secs / 86400;
    long rem = (long)(secs % 86400);
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    memcpy(buf, "0000-00-00 00:00:00.000 UTC", 28);
    buf[0] = (char)('0' + (year / 1000) % 10);
    buf[1] = (char)('0' + (year / 100) % 10);
    put_two_digits(buf + 2, (unsigned)(year % 100));
    put_two_digits(buf + 5, month);
    put_two_digits(buf + 8, day);
    put_two_digits(buf + 11, (unsigned)(rem / 3600));
    put_two_digits(buf + 14, (unsigned)((rem / 60) % 60));
    put_two_digits(buf + 17, (unsigned)(rem % 60));
    buf[20] = (char)('0' + (millis / 100) % 10);
    put_two_digits(buf + 21, (unsigned)(millis % 100));
}

/* Monotonic nanoseconds, for intervals and deadlines (not wall time).
 * Signal-safe: clock_gettime() is on the POSIX async-signal-safe list. */
long long
pqg_monotonic_ns(void)
{
#ifdef _WIN32
    return (long long)GetTickCount64() * 1000000LL;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
#endif
}

void
pqg_put_timestamp(int fd)
{
    char buf[32];
    pqg_format_timestamp(buf);
    pqg_write_all(fd, buf, strlen(buf));
}

void
pqg_report_write(const char *buf, size_t len)
{
    pqg_write_all(pqg_log_fd(), buf, len);
    pqg_write_all(stderr_fd, buf, len);
}

void
pqg_report_puts(const char *s)
{
    pqg_report_write(s, strlen(s));
}

/* The kernel's id of the calling thread (what threading.get_native_id()
 * returns).  Signal-safe: a bare syscall on Linux. */
unsigned long
pqg_current_native_id(void)
{
#if defined(__linux__)
    return (unsigned long)syscall(SYS_gettid);
#elif defined(__APPLE__)
    uint64_t tid = 0;
    pthread_threadid_np(NULL, &tid);
    return (unsigned long)tid;
#elif defined(_WIN32)
    return (unsigned long)GetCurrentThreadId();
#else
    return (unsigned long)PyThread_get_thread_native_id();
#endif
}

/* ---- Python API ---- */

static int
fd_from_object(PyObject *arg, int *out)
{
    /* PyLong_AsInt() is 3.13+ only: go through long for 3.11-3.12. */
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (fd < -1 || fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "fd must be >= 0, or -1 for none");
        return -1;
    }
    *out = (int)fd;
    return 0;
}

static PyObject *
set_log_fd_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *fd_arg;
    const char *path = NULL;
    if (!PyArg_ParseTuple(args, "O|z:set_log_fd", &fd_arg, &path)) {
        return NULL;
    }
    int fd;
    if (fd_from_object(fd_arg, &fd) < 0) {
        return NULL;
    }
#ifndef _WIN32
    struct stat st;
    unsigned long long size = 0;
    log_identity_known = 0;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        log_dev = st.st_dev;
        log_ino = st.st_ino;
        log_identity_known = 1;
        identity_checked_ns = pqg_monotonic_ns();
        size = st.st_size > 0 ? (unsigned long long)st.st_size : 0;
    }
    pqg_log_limit_reset(size);
#else
    pqg_log_limit_reset(0);
#endif
    log_fd = fd;
    log_owner_pid = pqg_getpid();
    write_failed = 0;
    log_broken = 0;
    entries_missed = 0;
    PyOS_snprintf(log_path, sizeof(log_path), "%s", path != NULL ? path : "");
    Py_RETURN_NONE;
}

static PyObject *
set_stderr_fd_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    int fd;
    if (fd_from_object(arg, &fd) < 0) {
        return NULL;
    }
    stderr_fd = fd;
    stderr_stuck = 0;               /* a stderr of the new install()'s: tried again */
    Py_RETURN_NONE;
}

static PyObject *
set_log_path_line_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    char *text;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(arg, &text, &len) < 0) {
        return NULL;
    }
    log_path_line_len = 0;
    if ((size_t)len >= sizeof(log_path_line)) {
        Py_RETURN_FALSE;            /* a path that long: no line, not a cut one */
    }
    memcpy(log_path_line, text, (size_t)len);
    log_path_line_len = (size_t)len;
    Py_RETURN_TRUE;
}

static PyObject *
get_log_fd_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(pqg_log_fd());
}

/* Write to the log with the GIL released; True if it was written.  A
 * report (not one of pyqtguard's lifecycle lines or sections) is left out
 * past the log's size limit (loglimit.c). */
static PyObject *
write_to_log(const char *buf, size_t len, int report)
{
    int fd = report ? pqg_log_report_fd() : pqg_log_fd();
    Py_BEGIN_ALLOW_THREADS
    pqg_write_all(fd, buf, len);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(fd >= 0 && !write_failed && !log_broken);
}

const char *
pqg_utf8(PyObject *text, Py_ssize_t *len, PyObject **holder)
{
    *holder = NULL;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, len);
    if (utf8 != NULL || !PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        return utf8;
    }
    /* Lone surrogates (os.fsdecode() of a name that is not UTF-8): as
     * Python's own stderr writes them, not the report lost. */
    PyErr_Clear();
    *holder = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
    if (*holder == NULL) {
        return NULL;
    }
    *len = PyBytes_GET_SIZE(*holder);
    return PyBytes_AS_STRING(*holder);
}

/* prefix + defused text + suffix, built in one buffer: one write(), so that
 * entries of several threads never interleave (the fd is O_APPEND). */
static PyObject *
write_entry(const char *prefix, size_t prefix_len, PyObject *text,
            const char *suffix, size_t suffix_len, int report)
{
    Py_ssize_t len;
    PyObject *holder;
    const char *utf8 = pqg_utf8(text, &len, &holder);
    if (utf8 == NULL) {
        return NULL;
    }
    size_t body = pqg_defuse_text(utf8, (size_t)len, 1, NULL);
    size_t total = prefix_len + body + suffix_len;
    char *entry = PyMem_Malloc(total > 0 ? total : 1);
    if (entry == NULL) {
        Py_XDECREF(holder);
        return PyErr_NoMemory();
    }
    memcpy(entry, prefix, prefix_len);
    (void)pqg_defuse_text(utf8, (size_t)len, 1, entry + prefix_len);
    Py_XDECREF(holder);
    memcpy(entry + prefix_len + body, suffix, suffix_len);
    PyObject *written = write_to_log(entry, total, report);
    PyMem_Free(entry);
    return written;
}

/* log_write(text, report=False): text from Python code, its lines defused
 * (no line that begins with '=' passes for a section marker). */
static PyObject *
log_write_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *text;
    int report = 0;
    if (!PyArg_ParseTuple(args, "U|p:log_write", &text, &report)) {
        return NULL;
    }
    return write_entry("", 0, text, "", 0, report);
}

/* log_section(heading, body, footer): one of pyqtguard's own sections (a
 * thread dump, an exit-timeout report): heading and footer as they are,
 * the body (names, stacks) defused; one write. */
static PyObject *
log_section_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    const char *heading;
    const char *footer;
    Py_ssize_t heading_len, footer_len;
    PyObject *body;
    int report = 0;
    if (!PyArg_ParseTuple(args, "s#Us#|p:log_section", &heading, &heading_len,
                          &body, &footer, &footer_len, &report)) {
        return NULL;
    }
    return write_entry(heading, (size_t)heading_len, body, footer, (size_t)footer_len,
                       report);
}

/* log_line(text, report=False): "[time UTC] text\n", one write() so that
 * lines from several threads never interleave (the fd is O_APPEND). */
static PyObject *
log_line_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *arg;
    int report = 0;
    if (!PyArg_ParseTuple(args, "U|p:log_line", &arg, &report)) {
        return NULL;
    }
    char stamp[40];
    pqg_format_timestamp(stamp + 1);
    stamp[0] = '[';
    size_t stamp_len = strlen(stamp);
    memcpy(stamp + stamp_len, "] ", 2);
    return write_entry(stamp, stamp_len + 2, arg, "\n", 1, report);
}

static PyObject *
stderr_fd_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(stderr_fd);
}

static PyObject *
take_write_failure_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    int failed = write_failed;
    write_failed = 0;
    return PyBool_FromLong(failed);
}

static PyMethodDef logfd_methods[] = {
    {"set_log_fd", set_log_fd_py, METH_VARARGS,
     PyDoc_STR("set_log_fd($module, fd, path=None, /)\n--\n\n"
               "Hand the run's log fd (and its path, for warnings) to the "
               "core (-1: none). Kept open.")},
    {"stderr_fd", stderr_fd_py, METH_NOARGS,
     PyDoc_STR("stderr_fd($module, /)\n--\n\nThe fd reports copy to, or -1.")},
    {"log_section", log_section_py, METH_VARARGS,
     PyDoc_STR("log_section($module, heading, body, footer, report=False, /)\n--\n\n"
               "Append one of pyqtguard's sections: heading and footer as "
               "given, the body's lines defused; one write.  report=True: "
               "left out past the log's size limit.")},
    {"set_log_path_line", set_log_path_line_py, METH_O,
     PyDoc_STR("set_log_path_line($module, line, /)\n--\n\nThe line (bytes) "
               "ending a crash report's copy on stderr; False if too long.")},
    {"log_fd", get_log_fd_py, METH_NOARGS,
     PyDoc_STR("log_fd($module, /)\n--\n\nThe log fd, or -1.")},
    {"set_stderr_fd", set_stderr_fd_py, METH_O,
     PyDoc_STR("set_stderr_fd($module, fd, /)\n--\n\n"
               "The fd native reports copy to (-1: none).")},
    {"log_line", log_line_py, METH_VARARGS,
     PyDoc_STR("log_line($module, text, report=False, /)\n--\n\nAppend '[time UTC] "
               "text' as one line (one write); False if it was not written "
               "(report=True: left out past the log's size limit).")},
    {"log_write", log_write_py, METH_VARARGS,
     PyDoc_STR("log_write($module, text, report=False, /)\n--\n\n"
               "Append text to the log (a line of it that begins with '=' is "
               "indented: app text cannot forge a marker); True if written "
               "(report=True: left out past the log's size limit).")},
    {"take_write_failure", take_write_failure_py, METH_NOARGS,
     PyDoc_STR("take_write_failure($module, /)\n--\n\n"
               "True once after a write to the log fd failed.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_logfd_init(PyObject *module)
{
    return PyModule_AddFunctions(module, logfd_methods);
}
