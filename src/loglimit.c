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
 * this process wrote since (logfd.c counts each write), raised to the file's
 * own size whenever logfd.c reads it: the check of the log's identity, an
 * fstat() at most once per PQG_LOG_CHECK_NS (1 ms) and on every crash or
 * watchdog write, returns st_size too.  So fork children sharing the log
 * (multiprocessing's fork workers, os.fork()) and their parent count one
 * another's writes, with no syscall of its own: past the limit each process
 * writes at most what it writes within 1 ms, and the report under way,
 * before it sees the size.  (Each counted its own writes alone before: 8
 * workers wrote 8 times the limit.)  Lock-free atomics only: the watchdog
 * thread asks too, and a crash handler may count a write. */
#include "pyqtguard_native.h"

#include <stdatomic.h>
#include <string.h>
#ifndef _WIN32
#  include <sys/mman.h>
#endif

static volatile unsigned long long limit = 0;      /* 0: no limit */
static atomic_ullong log_bytes = 0;
static atomic_int notice_written = 0;
static atomic_ulong reports_left_out = 0;
/* Whether the log's notice is written, shared by every process the log was
 * handed over to or forked from (POSIX: a MAP_SHARED page of its own per
 * log, inherited by fork children; atomics on it are address-free): one
 * notice per log, not one per process (8 pool workers wrote 8).  Points at
 * the per-process flag where there is no such page.  One page per process
 * at most, reused for its next log; a fork child's next log gets its own
 * (the parent's page stays with the parent's log).  Never unmapped: the
 * watchdog thread may be reading it. */
static atomic_int *volatile log_notice_written = &notice_written;
#ifndef _WIN32
static long notice_page_owner = 0;        /* the pid that mapped it */
#endif

/* Every successful write to the log fd (logfd.c).  Signal-safe. */
void
pqg_log_limit_count(size_t len)
{
    atomic_fetch_add_explicit(&log_bytes, (unsigned long long)len, memory_order_relaxed);
}

/* The log's size as read from the file (st_size): what every process
 * sharing it wrote.  Raises the count, never lowers it.  Signal-safe. */
void
pqg_log_limit_seen_size(unsigned long long size)
{
    unsigned long long seen = atomic_load_explicit(&log_bytes, memory_order_relaxed);
    while (seen < size
           && !atomic_compare_exchange_weak_explicit(&log_bytes, &seen, size,
                                                     memory_order_relaxed,
                                                     memory_order_relaxed)) {
    }
}

/* The one notice, when the first report is left out: one write() per
 * descriptor, so that the lines of other processes sharing the log never
 * land inside it (five writes did).  Signal-safe: stack buffers, write(). */
static void
write_notice(int log)
{
    char stamp[32];
    char number[PQG_DEC_SIZE];
    char line[400];
    const char *p = pqg_format_dec(number, limit);
    pqg_format_timestamp(stamp);
    int fds[2] = {log, pqg_stderr_fd()};
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0) {
            continue;
        }
        const char *parts[] = {
            i == 0 ? "[" : "", i == 0 ? stamp : "", i == 0 ? "] " : "",
            "pyqtguard: this run's log reached its size limit (", p,
            i == 0 ? " bytes, max_log_bytes): later reports are counted, not written "
                     "(the count is written at exit); the copy on stderr goes on\n"
                   : " bytes, max_log_bytes): later reports go to stderr only\n",
        };
        pqg_write_all(fds[i], line,
                      pqg_join(line, sizeof(line), parts, sizeof(parts) / sizeof(parts[0])));
    }
}

static int
report_fd(int fd)
{
    if (fd < 0 || limit == 0
            || atomic_load_explicit(&log_bytes, memory_order_relaxed) < limit) {
        return fd;
    }
    atomic_int *shared = log_notice_written;
    if (atomic_exchange(&notice_written, 1) == 0
            && (shared == &notice_written || atomic_exchange(shared, 1) == 0)) {
        write_notice(fd);           /* this process's first, and the log's */
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
#ifndef _WIN32
    if (notice_page_owner == pqg_getpid()) {
        atomic_store(log_notice_written, 0);
        return;
    }
    void *page = mmap(NULL, sizeof(atomic_int), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED) {
        atomic_init((atomic_int *)page, 0);
        log_notice_written = (atomic_int *)page;
        notice_page_owner = pqg_getpid();
        return;
    }
#endif
    log_notice_written = &notice_written;
}

#ifndef _WIN32
/* A fork child counts the reports it leaves out from the fork on: each
 * process writes its own count at exit, and `pyqtguard logs` adds them up
 * (a child counted its parent's again).  The notice stays written: the
 * parent's is in the log already.  After fork(), one thread: a store. */
static void
left_out_renew_in_child(void)
{
    atomic_store(&reports_left_out, 0);
}
#endif

static PyObject *
set_log_limit_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    unsigned long long value = PyLong_AsUnsignedLongLong(arg);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    limit = value;
#ifndef _WIN32
    static int atfork_registered = 0;
    pqg_on_fork_child(left_out_renew_in_child, &atfork_registered);
#endif
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
