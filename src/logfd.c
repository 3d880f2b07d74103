/* logfd.c: the run's log file descriptor and the signal-safe writers that
 * every report (exception, crash, hang) goes through.
 *
 * The descriptor is opened by the Python layer (0600, O_NOFOLLOW, O_APPEND)
 * and handed over once; from then on it stays open for the whole process so
 * that a signal handler or the watchdog thread can write to it without
 * allocating, locking or touching the interpreter. */
#include "pyqtguard_native.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#  include <io.h>
#  include <windows.h>
#  define pqg_raw_write(fd, buf, len) _write((fd), (buf), (unsigned int)(len))
#else
#  include <unistd.h>
#  include <sys/types.h>
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

int
pqg_log_fd(void)
{
    return log_fd;
}

int
pqg_stderr_fd(void)
{
    return stderr_fd;
}

/* Write the whole buffer, retrying on EINTR and short writes.  A failure
 * (full disk, closed fd) is remembered, never reported here: this runs in
 * signal handlers.  Signal-safe: write() only. */
/* The crash handler's memory "descriptor": writes to PQG_CAPTURE_FD collect
 * in a static buffer, so a part made of many small writes (the thread table:
 * 1,000 threads are ~7,000 of them) costs one write() per real descriptor.
 * Only the thread that claimed the crash report uses it (crash.c).  A part
 * longer than the buffer is cut, and says so.  Signal-safe: memcpy. */
static char capture[1024 * 1024];
static size_t capture_len = 0;
static int capture_cut = 0;

static void
capture_append(const char *buf, size_t len)
{
    static const char cut[] = "\n...(cut: longer than the crash report's buffer)\n";
    if (capture_cut) {
        return;
    }
    if (len > sizeof(capture) - sizeof(cut) - capture_len) {
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

void
pqg_write_all(int fd, const char *buf, size_t len)
{
    if (fd == PQG_CAPTURE_FD) {
        capture_append(buf, len);
        return;
    }
    if (fd < 0) {
        return;
    }
    int saved_errno = errno;
    while (len > 0) {
        long n = (long)pqg_raw_write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (fd == log_fd) {
                write_failed = 1;
            }
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    errno = saved_errno;
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
    char buf[24];
    char *p = buf + sizeof(buf);
    do {
        *--p = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    pqg_write_all(fd, p, (size_t)(buf + sizeof(buf) - p));
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
 * Signal-safe: stack buffer only. */
void
pqg_put_escaped(int fd, const char *s, size_t max_len)
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
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[used++] = (char)c;
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
    pqg_write_all(log_fd, buf, len);
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
set_log_fd_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    int fd;
    if (fd_from_object(arg, &fd) < 0) {
        return NULL;
    }
    log_fd = fd;
    write_failed = 0;
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
    Py_RETURN_NONE;
}

static PyObject *
get_log_fd_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(log_fd);
}

/* Write to the log with the GIL released; True if it was written. */
static PyObject *
write_to_log(const char *buf, size_t len)
{
    int fd = log_fd;
    Py_BEGIN_ALLOW_THREADS
    pqg_write_all(fd, buf, len);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(fd >= 0 && !write_failed);
}

static PyObject *
log_write_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (text == NULL) {
        return NULL;
    }
    return write_to_log(text, (size_t)len);
}

/* log_line(text): "[time UTC] text\n", one write() so that lines from
 * several threads never interleave (the fd is O_APPEND). */
static PyObject *
log_line_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (text == NULL) {
        return NULL;
    }
    char stamp[32];
    pqg_format_timestamp(stamp);
    size_t stamp_len = strlen(stamp);
    size_t total = 1 + stamp_len + 2 + (size_t)len + 1;
    char *line = PyMem_Malloc(total);
    if (line == NULL) {
        return PyErr_NoMemory();
    }
    line[0] = '[';
    memcpy(line + 1, stamp, stamp_len);
    memcpy(line + 1 + stamp_len, "] ", 2);
    memcpy(line + 3 + stamp_len, text, (size_t)len);
    line[total - 1] = '\n';
    PyObject *written = write_to_log(line, total);
    PyMem_Free(line);
    return written;
}

static PyObject *
take_write_failure_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    int failed = write_failed;
    write_failed = 0;
    return PyBool_FromLong(failed);
}

static PyMethodDef logfd_methods[] = {
    {"set_log_fd", set_log_fd_py, METH_O,
     PyDoc_STR("set_log_fd($module, fd, /)\n--\n\n"
               "Hand the run's log fd to the core (-1: none). Kept open.")},
    {"log_fd", get_log_fd_py, METH_NOARGS,
     PyDoc_STR("log_fd($module, /)\n--\n\nThe log fd, or -1.")},
    {"set_stderr_fd", set_stderr_fd_py, METH_O,
     PyDoc_STR("set_stderr_fd($module, fd, /)\n--\n\n"
               "The fd native reports copy to (-1: none).")},
    {"log_line", log_line_py, METH_O,
     PyDoc_STR("log_line($module, text, /)\n--\n\nAppend '[time UTC] text' "
               "as one line (one write); False if it could not be written.")},
    {"log_write", log_write_py, METH_O,
     PyDoc_STR("log_write($module, text, /)\n--\n\n"
               "Append text to the log; True if it was written.")},
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
