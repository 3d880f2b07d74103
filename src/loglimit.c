/* loglimit.c: the run log's size limit.
 *
 * An app that floods its log (a distinct Qt warning on every paint, an
 * exception per item with repeat_interval=0, a freeze every few seconds for
 * days) must not fill the user's disk.  Once the log holds `limit` bytes,
 * a new *report* (an exception, a Qt message, a freeze) is counted, not
 * written; the first one left out writes one notice, to the log and to
 * stderr.  What says how the run went on and ended (pyqtguard's own
 * lifecycle lines, the exit report, a crash report, a requested thread
 * dump) is written whatever the size: those are few, and they are what a
 * full log must still answer.  The stderr copy of reports goes on, as it
 * would without pyqtguard.
 *
 * A report is let through or left out whole, at its start: the writers ask
 * pqg_log_report_fd() once per report and write all of it to what it
 * returns.  The size is the log's size when it was handed over plus what
 * this process wrote since (logfd.c counts each write); a fork child sharing
 * the log counts its own writes from the fork on.  Lock-free atomics only:
 * the watchdog thread asks too, and a crash handler may count a write. */
#include "pyqtguard_native.h"

#include <stdatomic.h>
#include <string.h>

static volatile unsigned long long limit = 0;      /* 0: no limit */
static atomic_ullong log_bytes = 0;
static atomic_int notice_written = 0;
static atomic_ulong reports_left_out = 0;

/* Every successful write to the log fd (logfd.c).  Signal-safe. */
void
pqg_log_limit_count(size_t len)
{
    atomic_fetch_add_explicit(&log_bytes, (unsigned long long)len, memory_order_relaxed);
}

/* The one notice, when the first report is left out.  Signal-safe: stack
 * buffers and write() (pqg_puts). */
static void
write_notice(int log)
{
    char stamp[32];
    pqg_format_timestamp(stamp);
    int fds[2] = {log, pqg_stderr_fd()};
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0) {
            continue;
        }
        if (i == 0) {
            pqg_puts(fds[i], "[");
            pqg_puts(fds[i], stamp);
            pqg_puts(fds[i], "] ");
        }
        pqg_puts(fds[i], "pyqtguard: this run's log reached its size limit (");
        pqg_put_dec(fds[i], limit);
        pqg_puts(fds[i], i == 0
                 ? " bytes, max_log_bytes): later reports are counted, not written "
                   "(the count is written at exit); the copy on stderr goes on\n"
                 : " bytes, max_log_bytes): later reports go to stderr only\n");
    }
}

static int
report_fd(int fd)
{
    if (fd < 0 || limit == 0
            || atomic_load_explicit(&log_bytes, memory_order_relaxed) < limit) {
        return fd;
    }
    if (atomic_exchange(&notice_written, 1) == 0) {
        write_notice(fd);
    }
    atomic_fetch_add_explicit(&reports_left_out, 1, memory_order_relaxed);
    return -1;
}

/* The fd a new report is written to: the log's, or -1 once the log has
 * reached its limit (the report is then counted).  Signal-safe. */
int
pqg_log_report_fd(void)
{
    return report_fd(pqg_log_fd());
}

/* The same for writers off the GIL (the watchdog thread): the log's
 * identity checked now.  Signal-safe. */
int
pqg_log_report_fd_checked(void)
{
    return report_fd(pqg_log_fd_checked());
}

/* A new log (or none) handed over with `size` bytes in it already. */
void
pqg_log_limit_reset(unsigned long long size)
{
    atomic_store(&log_bytes, size);
    atomic_store(&notice_written, 0);
    atomic_store(&reports_left_out, 0);
}

static PyObject *
set_log_limit_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    unsigned long long value = PyLong_AsUnsignedLongLong(arg);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    limit = value;
    Py_RETURN_NONE;
}

static PyObject *
log_limit_state_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("KKk", limit,
                         atomic_load(&log_bytes),
                         atomic_load(&reports_left_out));
}

static PyMethodDef loglimit_methods[] = {
    {"set_log_limit", set_log_limit_py, METH_O,
     PyDoc_STR("set_log_limit($module, limit, /)\n--\n\n"
               "The run log's size limit in bytes (0: none): past it, reports "
               "are counted, not written.")},
    {"log_limit_state", log_limit_state_py, METH_NOARGS,
     PyDoc_STR("log_limit_state($module, /)\n--\n\n"
               "(limit, the log's size as counted, reports left out).")},
    {NULL, NULL, 0, NULL},
};

int
pqg_loglimit_init(PyObject *module)
{
    return PyModule_AddFunctions(module, loglimit_methods);
}
