/* threadtable.c: a fixed table of thread names that a signal handler can
 * read without locks or allocation.
 *
 * Writers (thread start, rename, end) run in Python with the GIL held; the
 * reader may be a signal handler interrupting a writer on the same thread.
 * Each slot is therefore guarded by a sequence counter (a seqlock): a writer
 * makes it odd while it changes the slot and even again afterwards; a reader
 * copies the slot and accepts the copy only if the counter was even and
 * unchanged.  Only C11 atomics are used, which are lock-free on every
 * platform we build for and thus async-signal-safe. */
#include "pyqtguard_native.h"

#include <stdatomic.h>
#include <string.h>
#ifndef _WIN32
#  include <pthread.h>
#endif

#define TABLE_SIZE 4096

typedef struct {
    atomic_uint seq;                  /* odd while being written */
    atomic_ulong native_id;           /* 0: free slot */
    unsigned long long ident;         /* threading.get_ident() */
    int kind;
    char name[PQG_THREAD_NAME_MAX];
    char site[PQG_THREAD_SITE_MAX];   /* "" when not known */
} thread_slot;

static thread_slot table[TABLE_SIZE];
static atomic_int slots_in_use;       /* high-water mark, bounds scans */
static atomic_ulong dropped;          /* registrations that found no slot */

/* Copy a UTF-8 name, cutting it at a character boundary. */
static void
copy_name(char *dst, const char *src, size_t len)
{
    if (len >= PQG_THREAD_NAME_MAX) {
        len = PQG_THREAD_NAME_MAX - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80) {
            len--;              /* don't split a multi-byte character */
        }
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Copy a start site's tail ("...project/app.py:12"): the file name and
 * line are what tell, the folders in front are cut first. */
static void
copy_site(char *dst, const char *src, size_t len)
{
    if (len >= PQG_THREAD_SITE_MAX) {
        size_t skip = len - (PQG_THREAD_SITE_MAX - 4);
        while (skip < len && ((unsigned char)src[skip] & 0xC0) == 0x80) {
            skip++;             /* don't start inside a multi-byte character */
        }
        memcpy(dst, "...", 3);
        dst += 3;
        src += skip;
        len -= skip;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Record a thread; `site` NULL keeps the slot's (a rename), "" clears it. */
static void
slot_write(thread_slot *slot, unsigned long native_id,
           unsigned long long ident, int kind, const char *name, size_t len,
           const char *site, size_t site_len)
{
    atomic_fetch_add(&slot->seq, 1);          /* odd: readers retry */
    slot->ident = ident;
    slot->kind = kind;
    copy_name(slot->name, name, len);
    if (site != NULL) {
        copy_site(slot->site, site, site_len);
    }
    atomic_store(&slot->native_id, native_id);
    atomic_fetch_add(&slot->seq, 1);          /* even: consistent */
}

static thread_slot *
find_slot(unsigned long native_id)
{
    int used = atomic_load(&slots_in_use);
    for (int i = 0; i < used; i++) {
        if (atomic_load(&table[i].native_id) == native_id) {
            return &table[i];
        }
    }
    return NULL;
}

static thread_slot *
claim_slot(unsigned long native_id)
{
    for (int i = 0; i < TABLE_SIZE; i++) {
        unsigned long expected = 0;
        if (atomic_compare_exchange_strong(&table[i].native_id, &expected,
                                           native_id)) {
            int used = atomic_load(&slots_in_use);
            while (used < i + 1
                   && !atomic_compare_exchange_weak(&slots_in_use, &used,
                                                    i + 1)) {
            }
            return &table[i];
        }
    }
    atomic_fetch_add(&dropped, 1);
    return NULL;
}

/* Copy a consistent snapshot of a slot; 0 if it kept changing or is free.
 * `site`, if not NULL, gets the start site (PQG_THREAD_SITE_MAX bytes).
 * Signal-safe. */
static int
slot_read(thread_slot *slot, unsigned long *native_id,
          unsigned long long *ident, int *kind, char *buf, size_t size, char *site)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned before = atomic_load(&slot->seq);
        if (before & 1u) {
            continue;
        }
        unsigned long id = atomic_load(&slot->native_id);
        unsigned long long id2 = slot->ident;
        int k = slot->kind;
        char name[PQG_THREAD_NAME_MAX];
        memcpy(name, slot->name, sizeof(name));
        if (site != NULL) {
            memcpy(site, slot->site, PQG_THREAD_SITE_MAX);
        }
        if (atomic_load(&slot->seq) != before) {
            continue;
        }
        if (id == 0) {
            return 0;
        }
        name[sizeof(name) - 1] = '\0';
        if (site != NULL) {
            site[PQG_THREAD_SITE_MAX - 1] = '\0';
        }
        *native_id = id;
        *ident = id2;
        *kind = k;
        if (size > 0) {
            size_t n = strlen(name);
            if (n >= size) {
                n = size - 1;
            }
            memcpy(buf, name, n);
            buf[n] = '\0';
        }
        return 1;
    }
    return 0;
}

int
pqg_thread_name_by_native_id(unsigned long native_id, char *buf, size_t size)
{
    int used = atomic_load(&slots_in_use);
    for (int i = 0; i < used; i++) {
        unsigned long id;
        unsigned long long ident;
        int kind;
        if (atomic_load(&table[i].native_id) == native_id
            && slot_read(&table[i], &id, &ident, &kind, buf, size, NULL)
            && id == native_id) {
            return 1;
        }
    }
    return 0;
}

int
pqg_thread_name_by_ident(unsigned long long ident, char *buf, size_t size)
{
    int used = atomic_load(&slots_in_use);
    for (int i = 0; i < used; i++) {
        unsigned long id;
        unsigned long long found;
        int kind;
        if (slot_read(&table[i], &id, &found, &kind, buf, size, NULL)
            && found == ident) {
            return 1;
        }
    }
    return 0;
}

void
pqg_threadtable_visit(pqg_thread_visitor visit, void *arg)
{
    int used = atomic_load(&slots_in_use);
    for (int i = 0; i < used; i++) {
        unsigned long id;
        unsigned long long ident;
        int kind;
        char name[PQG_THREAD_NAME_MAX];
        char site[PQG_THREAD_SITE_MAX];
        if (slot_read(&table[i], &id, &ident, &kind, name, sizeof(name), site)) {
            visit(id, ident, name, site, kind, arg);
        }
    }
}

/* The kinds pyqtguard.registry passes (KIND_PYTHON = 0, KIND_MAIN = 1, ...). */
#define KIND_MAIN 1
#define KIND_QTHREAD 2

static const char *const kind_names[] = {
    "python", "main", "qthread", "pool", "native",
};

static void
write_legend_line(unsigned long native_id, unsigned long long ident,
                  const char *name, const char *site, int kind, void *arg)
{
    int fd = *(const int *)arg;
    pqg_puts(fd, "  ");
    pqg_put_hex(fd, ident);
    pqg_puts(fd, "  native ");
    pqg_put_dec(fd, native_id);
    pqg_puts(fd, "  ");
    pqg_puts(fd, kind >= 0 && kind < (int)Py_ARRAY_LENGTH(kind_names)
                 ? kind_names[kind] : "other");
    pqg_puts(fd, "  '");
    pqg_put_escaped(fd, name, PQG_THREAD_NAME_MAX);
    pqg_puts(fd, "'\n");
    if (site[0] != '\0') {
        /* A line of its own: the name's line keeps its form (parsed by
         * pyqtguard.crashes.reports), and the site - a path, the app's
         * text - is escaped as names are. */
        pqg_puts(fd, "      started at ");
        pqg_put_escaped(fd, site, PQG_THREAD_SITE_MAX);
        pqg_puts(fd, "\n");
    }
}

/* The table as "ident native-id kind 'name'" lines, so that the hex thread
 * ids faulthandler prints can be read as names.  Signal-safe. */
void
pqg_write_thread_legend(int fd)
{
    pqg_puts(fd, "Threads (ident, native id, kind, name):\n");
    pqg_threadtable_visit(write_legend_line, &fd);
}

typedef struct {
    int fd;
    int (*skip)(unsigned long native_id);
} legend_without;

static void
write_legend_line_unless(unsigned long native_id, unsigned long long ident,
                         const char *name, const char *site, int kind, void *arg)
{
    const legend_without *how = arg;
    if (!how->skip(native_id)) {
        int fd = how->fd;
        write_legend_line(native_id, ident, name, site, kind, &fd);
    }
}

/* The same, without the threads skip() is true for (pyqtguard's own report
 * helpers, in the watchdog's reports).  Signal-safe if skip() is. */
void
pqg_write_thread_legend_without(int fd, int (*skip)(unsigned long native_id))
{
    legend_without how = {fd, skip};
    pqg_puts(fd, "Threads (ident, native id, kind, name):\n");
    pqg_threadtable_visit(write_legend_line_unless, &how);
}

/* ---- Python API ---- */

static PyObject *
thread_register_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    unsigned long native_id;
    unsigned long long ident;
    const char *name;
    Py_ssize_t len;
    int kind = 0;
    if (!PyArg_ParseTuple(args, "kKs#|i:thread_register",
                          &native_id, &ident, &name, &len, &kind)) {
        return NULL;
    }
    if (native_id == 0) {
        PyErr_SetString(PyExc_ValueError, "native_id must not be 0");
        return NULL;
    }
    thread_slot *slot = find_slot(native_id);
    if (slot == NULL) {
        slot = claim_slot(native_id);
    }
    if (slot == NULL) {
        Py_RETURN_FALSE;                 /* table full: names degrade only */
    }
    slot_write(slot, native_id, ident, kind, name, (size_t)len, NULL, 0);
    Py_RETURN_TRUE;
}

/* Name the calling thread: one C call for the per-task path of workers
 * (no Python-level lookups of the native id and ident).  Every thread that
 * records itself here (Python threads as they start, QThreads, workers' pool
 * threads) also gets its alternate signal stack now, if the crash handler is
 * on and it has none (altstack.c; a pthread_getspecific() once done). */
static PyObject *
thread_register_current_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    const char *name;
    Py_ssize_t len;
    int kind = 0;
    const char *site = NULL;
    Py_ssize_t site_len = 0;
    if (!PyArg_ParseTuple(args, "s#|iz#:thread_register_current", &name, &len, &kind,
                          &site, &site_len)) {
        return NULL;
    }
    (void)pqg_altstack_this_thread(0);     /* failure: unprotected, not an error */
    if (kind != KIND_MAIN) {
        /* check_threads=True: widgets used off the GUI thread */
        pqg_widgetcheck_this_thread(kind == KIND_QTHREAD);
    }
    unsigned long native_id = pqg_current_native_id();
    thread_slot *slot = find_slot(native_id);
    if (slot == NULL) {
        slot = claim_slot(native_id);
    }
    if (slot == NULL) {
        Py_RETURN_FALSE;
    }
    slot_write(slot, native_id, (unsigned long long)PyThread_get_thread_ident(), kind,
               name, (size_t)len, site != NULL ? site : "", (size_t)site_len);
    Py_RETURN_TRUE;
}

static int
forget(unsigned long native_id)
{
    thread_slot *slot = find_slot(native_id);
    if (slot == NULL) {
        return 0;
    }
    atomic_fetch_add(&slot->seq, 1);
    slot->name[0] = '\0';
    slot->site[0] = '\0';
    atomic_store(&slot->native_id, 0UL);
    atomic_fetch_add(&slot->seq, 1);
    return 1;
}

/* ---- threads that have just ended ----
 * A thread takes itself out of the table as it ends, and join() returns
 * then; its OS thread goes on a moment (its thread state freed, the C
 * library's exit), still in /proc/self/task under the process's name.
 * Listed then, it looked like a native thread of some library still running
 * at shutdown.  Its id is kept here for a few seconds: a thread id the
 * kernel gives again so soon (after pid_max threads and processes) is not a
 * case worth a wrong listing the other way round. */
#define ENDED_SLOTS 64
#define ENDED_FOR_NS (5LL * 1000 * 1000 * 1000)

typedef struct {
    atomic_ulong native_id;
    atomic_llong at_ns;
} ended_slot;

static ended_slot ended[ENDED_SLOTS];
static atomic_uint ended_next = 0;

static void
note_ended(unsigned long native_id)
{
    ended_slot *slot = &ended[atomic_fetch_add(&ended_next, 1) % ENDED_SLOTS];
    atomic_store(&slot->native_id, 0UL);        /* no half-written pair read */
    atomic_store(&slot->at_ns, pqg_monotonic_ns());
    atomic_store(&slot->native_id, native_id);
}

static PyObject *
recently_ended_threads_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyObject *ids = PySet_New(NULL);
    long long now = pqg_monotonic_ns();
    for (size_t i = 0; ids != NULL && i < ENDED_SLOTS; i++) {
        unsigned long native_id = atomic_load(&ended[i].native_id);
        if (native_id == 0 || now - atomic_load(&ended[i].at_ns) > ENDED_FOR_NS) {
            continue;
        }
        PyObject *id = PyLong_FromUnsignedLong(native_id);
        if (id == NULL || PySet_Add(ids, id) < 0) {
            Py_CLEAR(ids);
        }
        Py_XDECREF(id);
    }
    return ids;
}

static PyObject *
thread_unregister_current_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    pqg_widgetcheck_thread_ends();
    unsigned long native_id = pqg_current_native_id();
    note_ended(native_id);
    return PyBool_FromLong(forget(native_id));
}

static PyObject *
thread_unregister_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    unsigned long native_id = PyLong_AsUnsignedLong(arg);
    if (native_id == (unsigned long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyBool_FromLong(forget(native_id));
}

static PyObject *
thread_name_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    unsigned long native_id = PyLong_AsUnsignedLong(arg);
    if (native_id == (unsigned long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    char name[PQG_THREAD_NAME_MAX];
    if (!pqg_thread_name_by_native_id(native_id, name, sizeof(name))) {
        Py_RETURN_NONE;
    }
    return PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "replace");
}

static void
append_entry(unsigned long native_id, unsigned long long ident,
             const char *name, const char *site, int kind, void *arg)
{
    (void)site;                      /* Python has its own (registry.tracking) */
    PyObject *list = (PyObject *)arg;
    PyObject *entry = Py_BuildValue(
        "(kKNi)", native_id, ident,
        PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "replace"), kind);
    if (entry == NULL || PyList_Append(list, entry) < 0) {
        PyErr_Clear();
    }
    Py_XDECREF(entry);
}

static PyObject *
thread_table_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    pqg_threadtable_visit(append_entry, list);
    return list;
}

static PyObject *
thread_table_stats_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    int used = atomic_load(&slots_in_use);
    int live = 0;
    for (int i = 0; i < used; i++) {
        if (atomic_load(&table[i].native_id) != 0) {
            live++;
        }
    }
    return Py_BuildValue("{sisisisk}", "capacity", TABLE_SIZE,
                         "high_water", used, "live", live,
                         "dropped", atomic_load(&dropped));
}

static PyObject *
current_native_id_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromUnsignedLong(pqg_current_native_id());
}

static PyObject *
write_thread_legend_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (fd < 0 || fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "fd must be >= 0");
        return NULL;
    }
    pqg_write_thread_legend((int)fd);
    Py_RETURN_NONE;
}

static PyMethodDef threadtable_methods[] = {
    {"write_thread_legend", write_thread_legend_py, METH_O,
     PyDoc_STR("write_thread_legend($module, fd, /)\n--\n\n"
               "Write the thread table to fd, one line per thread.")},
    {"thread_register", thread_register_py, METH_VARARGS,
     PyDoc_STR("thread_register($module, native_id, ident, name, kind=0, /)"
               "\n--\n\nRecord or rename a thread; False if the table is "
               "full.")},
    {"thread_register_current", thread_register_current_py, METH_VARARGS,
     PyDoc_STR("thread_register_current($module, name, kind=0, site=None, /)\n--\n\n"
               "Record or rename the calling thread, and where it was started "
               "(written with the name in crash and fallback reports).")},
    {"thread_unregister_current", thread_unregister_current_py, METH_NOARGS,
     PyDoc_STR("thread_unregister_current($module, /)\n--\n\n"
               "Forget the calling thread.")},
    {"thread_unregister", thread_unregister_py, METH_O,
     PyDoc_STR("thread_unregister($module, native_id, /)\n--\n\n"
               "Forget a thread that ended.")},
    {"thread_name", thread_name_py, METH_O,
     PyDoc_STR("thread_name($module, native_id, /)\n--\n\n"
               "The registered name, or None.")},
    {"recently_ended_threads", recently_ended_threads_py, METH_NOARGS,
     PyDoc_STR("recently_ended_threads($module, /)\n--\n\n"
               "Native ids of threads that took themselves out of the table "
               "as they ended, in the last few seconds: their OS threads may "
               "still be finishing.")},
    {"thread_table", thread_table_py, METH_NOARGS,
     PyDoc_STR("thread_table($module, /)\n--\n\n"
               "[(native_id, ident, name, kind), ...]")},
    {"thread_table_stats", thread_table_stats_py, METH_NOARGS,
     PyDoc_STR("thread_table_stats($module, /)\n--\n\n"
               "Capacity, high-water mark, live and dropped counts.")},
    {"current_native_id", current_native_id_py, METH_NOARGS,
     PyDoc_STR("current_native_id($module, /)\n--\n\n"
               "The kernel id of the calling thread.")},
    {NULL, NULL, 0, NULL},
};

#ifndef _WIN32
/* fork(): the child has one thread, the one that forked, under a new kernel
 * id; every other row describes a thread of the parent.  Left as they were,
 * a crash in the child named its own thread 'python' (unknown id) and
 * listed the parent's threads as its own.  The forking thread's row takes
 * its new id; the rest are freed.  The prepare handler runs in the forking
 * thread, the child handler in the child's only thread: no reader races. */
static PQG_THREAD_LOCAL unsigned long forking_native_id;  /* two threads may fork at once */

static void
note_forking_thread(void)
{
    forking_native_id = pqg_current_native_id();
}

static void
keep_only_the_forking_thread(void)
{
    unsigned long now = pqg_current_native_id();
    int used = atomic_load(&slots_in_use);
    for (int i = 0; i < used; i++) {
        unsigned long id = atomic_load(&table[i].native_id);
        if (id == 0) {
            continue;
        }
        atomic_fetch_add(&table[i].seq, 1);
        if (id == forking_native_id) {
            atomic_store(&table[i].native_id, now);
        } else {
            table[i].name[0] = '\0';
            table[i].site[0] = '\0';
            atomic_store(&table[i].native_id, 0UL);
        }
        atomic_fetch_add(&table[i].seq, 1);
    }
}
#endif

int
pqg_threadtable_init(PyObject *module)
{
#ifndef _WIN32
    static int atfork_registered = 0;
    if (!atfork_registered) {
        pthread_atfork(note_forking_thread, NULL, keep_only_the_forking_thread);
        atfork_registered = 1;
    }
#endif
    return PyModule_AddFunctions(module, threadtable_methods);
}
