/* excrepeats.c: the same exception over and over - a paintEvent or a
 * model's data() that raises on every call, thousands of times a second -
 * is reported in full once per interval (default 60 s); the repeats in
 * between are only counted, and the count is written with the next full
 * report of that exception, or at exit.  Without this such a bug fills the
 * log and stderr by megabytes a second and the GUI crawls formatting
 * tracebacks.  Qt's messages (a warning from every paint) share the table,
 * keyed by their text, for the run log.
 *
 * "The same exception": the same hook, exception type and traceback - the
 * code object and line of every frame in it, not the message (a KeyError
 * for another key at the same line is the same bug).  Lines, not bytecode
 * offsets: CPython 3.11's specializing interpreter raises the same error
 * from two offsets (a call made by PRECALL once it is specialized, by CALL
 * before), which made one paintEvent bug two "different" exceptions.
 *
 * A fixed table of the most recently seen exceptions; the least recently
 * seen one makes room, its count written first.  Every function here runs
 * with the GIL held (the hooks are called with it), which is the table's
 * lock.
 */
#include "pyqtguard_native.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define REPEAT_SLOTS 64
#define MAX_FRAMES_HASHED 4096        /* a RecursionError's traceback is long */

typedef struct {
    uint64_t key;                     /* 0: free */
    long long last_full_ns;           /* when it was last reported in full */
    long long last_seen_ns;
    unsigned long counted;            /* repeats since that full report */
    int log_only;                     /* a Qt message: Qt printed each one */
    char where[PQG_REPEAT_WHERE_MAX]; /* "AttributeError in data (app.py:11)" */
} repeat_slot;

static repeat_slot slots[REPEAT_SLOTS];
static long long interval_ns = 60LL * 1000000000LL;   /* 0: report every one */

#ifndef _WIN32
/* A fork child's repeats are its own: it starts with an empty table.  The
 * copied one made the child's first occurrence of an exception the parent
 * had reported a "repeat" (no full report of the child's), and the child's
 * count at its exit held the parent's uncounted repeats again (the parent
 * writes those itself).  After fork(), one thread: memset of a static
 * array, async-signal-safe (POSIX.1-2008 TC2), no lock, no allocation. */
static void
forget_in_child(void)
{
    memset(slots, 0, sizeof(slots));
}
#endif

#define FNV_OFFSET 0xcbf29ce484222325ULL

/* FNV-1a over `len` bytes. */
static uint64_t
fnv(uint64_t hash, const void *data, size_t len)
{
    const unsigned char *bytes = data;
    for (size_t i = 0; i < len; i++) {
        hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
    }
    return hash;
}

static uint64_t
mix(uint64_t hash, uint64_t word)
{
    return fnv(hash, &word, sizeof(word));
}

/* The innermost traceback entry, or NULL. */
static PyTracebackObject *
innermost(PyObject *exc_tb)
{
    if (exc_tb == NULL || !PyTraceBack_Check(exc_tb)) {
        return NULL;
    }
    PyTracebackObject *tb = (PyTracebackObject *)exc_tb;
    while (tb->tb_next != NULL) {
        tb = tb->tb_next;
    }
    return tb;
}

/* PyTracebackObject's tb_next, tb_frame and tb_lasti (Include/cpython/
 * traceback.h), PyFrame_GetCode and PyCode_Addr2Line exist in 3.11-3.14
 * (tb_lineno is computed lazily from 3.12 on: -1 until read). */
static uint64_t
exception_key(int source, PyObject *exc_type, PyObject *exc_tb)
{
    uint64_t hash = mix(FNV_OFFSET, (uint64_t)(source + 1));
    hash = mix(hash, (uint64_t)(uintptr_t)exc_type);
    if (exc_tb != NULL && PyTraceBack_Check(exc_tb)) {
        PyTracebackObject *tb = (PyTracebackObject *)exc_tb;
        for (int n = 0; tb != NULL && n < MAX_FRAMES_HASHED; tb = tb->tb_next, n++) {
            PyCodeObject *code = PyFrame_GetCode(tb->tb_frame);
            hash = mix(hash, (uint64_t)(uintptr_t)code);
            hash = mix(hash, (uint64_t)(unsigned)PyCode_Addr2Line(code, tb->tb_lasti));
            Py_DECREF(code);
        }
    }
    return hash;
}

/* "TypeError in paintEvent (/path/app.py:42)" - the type and where it was
 * raised, for the count's line and the crash report's summary (unreported.c).
 * Runs no Python code. */
static void
describe(PyObject *exc_type, PyObject *exc_tb, char *buf, size_t size)
{
    const char *type_name = PyType_Check(exc_type)
                            ? ((PyTypeObject *)exc_type)->tp_name : "exception";
    PyTracebackObject *tb = innermost(exc_tb);
    if (tb == NULL) {
        snprintf(buf, size, "%s", type_name);
        return;
    }
    PyCodeObject *code = PyFrame_GetCode(tb->tb_frame);
    Py_ssize_t len;
    PyObject *function_holder, *file_holder;    /* names that are not UTF-8: escaped */
    const char *function = pqg_utf8(code->co_name, &len, &function_holder);
    PyErr_Clear();
    const char *file = pqg_utf8(code->co_filename, &len, &file_holder);
    PyErr_Clear();
    snprintf(buf, size, "%s in %s (%s:%d)", type_name, function ? function : "?",
             file ? file : "?", PyCode_Addr2Line(code, tb->tb_lasti));
    Py_XDECREF(function_holder);
    Py_XDECREF(file_holder);
    Py_DECREF(code);
}

static repeat_slot *
find_slot(uint64_t key)
{
    for (int i = 0; i < REPEAT_SLOTS; i++) {
        if (slots[i].key == key) {
            return &slots[i];
        }
    }
    return NULL;
}

/* A free slot, else the least recently seen one, whose count is handed to
 * `evicted` first. */
static repeat_slot *
make_room(pqg_repeat_visitor evicted, void *arg)
{
    repeat_slot *oldest = &slots[0];
    for (int i = 0; i < REPEAT_SLOTS; i++) {
        if (slots[i].key == 0) {
            return &slots[i];
        }
        if (slots[i].last_seen_ns < oldest->last_seen_ns) {
            oldest = &slots[i];
        }
    }
    if (oldest->counted > 0) {
        evicted(oldest->where, oldest->counted, oldest->log_only, arg);
    }
    return oldest;
}

/* The slot's verdict on one more occurrence of `key`: 1 report in full
 * (a new key - *fresh set, the caller describes it - or the interval has
 * passed: *counted_before tells the repeats since), 0 count. */
static int
check_key(uint64_t key, int *fresh, repeat_slot **slot_out,
          unsigned long *counted_before, pqg_repeat_visitor evicted, void *arg)
{
    key = key != 0 ? key : 1;              /* 0 marks a free slot */
    long long now = pqg_monotonic_ns();
    repeat_slot *slot = find_slot(key);
    *fresh = slot == NULL;
    if (slot == NULL) {
        slot = make_room(evicted, arg);
        slot->key = key;
        slot->counted = 0;
        slot->last_full_ns = now;
        slot->last_seen_ns = now;
        *slot_out = slot;
        return 1;
    }
    *slot_out = slot;
    slot->last_seen_ns = now;
    if (now - slot->last_full_ns < interval_ns) {
        slot->counted++;
        return 0;
    }
    *counted_before = slot->counted;
    slot->counted = 0;
    slot->last_full_ns = now;
    return 1;
}

/* Nothing counted before yet; 0 when repeats are not counted at all (an
 * interval of 0: every occurrence is reported in full). */
static int
counting(unsigned long *counted_before)
{
    *counted_before = 0;
#ifndef _WIN32
    /* Registered at the first check: until then the table is empty. */
    static int atfork_registered = 0;
    pqg_on_fork_child(forget_in_child, &atfork_registered);
#endif
    return interval_ns != 0;
}

/* A Qt message's text as its description: cut to fit. */
static void
describe_text(const char *text, size_t len, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), text);
}

int
pqg_repeat_check(int source, PyObject *exc_type, PyObject *exc_tb,
                 unsigned long *counted_before, char *where, size_t where_size,
                 pqg_repeat_visitor evicted, void *arg)
{
    if (!counting(counted_before)) {
        describe(exc_type, exc_tb, where, where_size);
        return 1;
    }
    int fresh;
    repeat_slot *slot;
    int verdict = check_key(exception_key(source, exc_type, exc_tb), &fresh, &slot,
                            counted_before, evicted, arg);
    if (fresh) {
        slot->log_only = 0;
        describe(exc_type, exc_tb, slot->where, sizeof(slot->where));
    }
    if (verdict) {
        snprintf(where, where_size, "%s", slot->where);
    }
    return verdict;
}

int
pqg_repeat_check_text(const char *text, size_t len, unsigned long *counted_before,
                      char *where, size_t where_size,
                      pqg_repeat_visitor evicted, void *arg)
{
    if (!counting(counted_before)) {
        describe_text(text, len, where, where_size);
        return 1;
    }
    /* Apart from exceptions' keys, whose first word is a hook (1-3). */
    uint64_t key = fnv(mix(FNV_OFFSET, 0x74657874ULL /* "text" */), text, len);
    int fresh;
    repeat_slot *slot;
    int verdict = check_key(key, &fresh, &slot, counted_before, evicted, arg);
    if (fresh) {
        slot->log_only = 1;
        describe_text(text, len, slot->where, sizeof(slot->where));
    }
    if (verdict) {
        snprintf(where, where_size, "%s", slot->where);
    }
    return verdict;
}

void
pqg_repeat_drain(pqg_repeat_visitor visit, void *arg)
{
    for (int i = 0; i < REPEAT_SLOTS; i++) {
        if (slots[i].key != 0 && slots[i].counted > 0) {
            unsigned long counted = slots[i].counted;
            slots[i].counted = 0;
            visit(slots[i].where, counted, slots[i].log_only, arg);
        }
    }
}

/* ---- Python API ---- */

/* set_repeat_interval(seconds): 0 reports every exception in full. */
static PyObject *
set_repeat_interval_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    double seconds = PyFloat_AsDouble(arg);
    if (seconds == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (!(seconds >= 0.0 && seconds <= 1e9)) {
        PyErr_SetString(PyExc_ValueError, "repeat_interval must be >= 0 seconds");
        return NULL;
    }
    long long wanted = (long long)(seconds * 1e9);
    if (wanted != interval_ns) {        /* the table's pages stay untouched */
        interval_ns = wanted;
        memset(slots, 0, sizeof(slots));
    }
    Py_RETURN_NONE;
}

/* repeats_counted(source, type, traceback): how many repeats of that
 * exception were counted since its last full report (0: none, or repeats
 * are not counted).  source: 0 sys.excepthook, 1 threading.excepthook,
 * 2 sys.unraisablehook.  Reads the table under the GIL, as the hooks do. */
static PyObject *
repeats_counted_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    int source;
    PyObject *exc_type, *exc_tb;
    if (!PyArg_ParseTuple(args, "iOO:repeats_counted", &source, &exc_type, &exc_tb)) {
        return NULL;
    }
    if (interval_ns == 0) {
        return PyLong_FromLong(0);
    }
    uint64_t key = exception_key(source, exc_type, exc_tb == Py_None ? NULL : exc_tb);
    repeat_slot *slot = find_slot(key != 0 ? key : 1);
    return PyLong_FromUnsignedLong(slot != NULL ? slot->counted : 0);
}

static PyMethodDef excrepeats_methods[] = {
    {"repeats_counted", repeats_counted_py, METH_VARARGS,
     PyDoc_STR("repeats_counted($module, source, type, traceback, /)\n--\n\n"
               "Repeats of that exception counted since its last full report.")},
    {"set_repeat_interval", set_repeat_interval_py, METH_O,
     PyDoc_STR("set_repeat_interval($module, seconds, /)\n--\n\n"
               "Report the same exception in full at most once per interval "
               "(0: every time); repeats in between are counted.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_excrepeats_init(PyObject *module)
{
    return PyModule_AddFunctions(module, excrepeats_methods);
}
