/* widgetcheck.c: install(check_threads=True) - a Qt widget used from a
 * thread other than the GUI thread.
 *
 * Widgets (and pixmaps) belong to the GUI thread.  A release Qt does not
 * check: a worker's label.setText() works a thousand times and crashes the
 * app at random on the next.  While the check is on, each thread that
 * records itself in the thread table (Python threads as they start, a
 * QThread's run(), pyqtguard workers' pool threads: threadtable.c) gets a C
 * profile function.  At each call of a C function it looks whether that is
 * a method bound to an instance of a checked class (PyQt6's methods are
 * builtin methods whose self is the wrapper) and then calls the reporter,
 * once per (class, method, calling code, line).  The GUI thread never gets
 * the function, so on 3.11 it costs nothing there (from 3.12 a profile
 * function is instrumentation shared by all threads: see
 * pqg_widgetcheck_thread_ends); a checked thread pays a type check per C
 * call.
 *
 * A thread that already runs a profiler (cProfile, yappi) keeps it; one set
 * later replaces the check in that thread.
 *
 * A QThread calls into Python from C++ once per slot and once for run():
 * sip takes the GIL with PyGILState_Ensure, and the thread state made for
 * that call is deleted when it returns, profile function and all.  So while
 * the check is on, a QThread's thread state is kept from its `started` to
 * its `finished` (one more PyGILState_Ensure, released at the end): its
 * later calls reuse it.  Only then, and only for QThreads.
 *
 * CPython API: PyEval_SetProfile, PyTrace_C_CALL, PyFrame_GetCode and
 * PyFrame_GetLineNumber are public in 3.11-3.14.  Not limited API, present
 * in 3.11-3.14: PyThreadState's c_profilefunc field (to leave a profiler in
 * place) and PyCFunctionObject's m_ml (the method's name).
 */
#include "pyqtguard_native.h"

#include <string.h>

static PyObject *checked_types;     /* tuple of classes, while the check is on */
static PyObject *reporter;          /* reporter(cls, method name) */
static int enabled;
/* Set (to a non-NULL marker) in a QThread whose thread state is kept. */
static Py_tss_t kept_state = Py_tss_NEEDS_INIT;
static char kept_marker;

/* Where a report was made: (class, method, code, line); a full table
 * reports nothing new (SEEN_SLOTS / 2 = 256 places, the documented limit: a
 * program with that many distinct wrong calls has been told).  Pointers are
 * keys only, never followed. */
#define SEEN_SLOTS 512
typedef struct {
    const void *type;
    const void *method;
    const void *code;
    int line;
} seen_key;
static seen_key seen[SEEN_SLOTS];
static unsigned int seen_count;

#ifndef _WIN32
/* A fork child reports its own wrong calls: it starts with an empty table.
 * The copied one kept a child from reporting a place its parent had
 * reported - the child's own thread's misuse went unreported (unlike the
 * parent's report, the child's is about a thread of the child).  As
 * excrepeats.c does for its repeats.  pthread_atfork's child handler runs
 * inside fork() in the child's one thread, before CPython's own after-fork
 * work: memset of a static array and a store are async-signal-safe
 * (POSIX.1-2008 TC2 lists memset); no lock, no allocation, no Python. */
static void
forget_in_child(void)
{
    memset(seen, 0, sizeof(seen));
    seen_count = 0;
}
#endif

/* Calls documented thread-safe (QObject::thread, deleteLater) or that only
 * ask what an object is. */
static const char *const thread_safe[] = {
    "thread", "deleteLater", "metaObject", "inherits", "isWidgetType",
    "isWindowType", NULL,
};

static int
is_thread_safe(const char *name)
{
    for (const char *const *safe = thread_safe; *safe != NULL; safe++) {
        if (strcmp(name, *safe) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
is_checked(PyTypeObject *type)
{
    Py_ssize_t n = PyTuple_GET_SIZE(checked_types);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyType_IsSubtype(type, (PyTypeObject *)PyTuple_GET_ITEM(checked_types, i))) {
            return 1;
        }
    }
    return 0;
}

/* Field by field: memcmp would compare the struct's padding too, which an
 * initializer or an assignment need not set. */
static int
same_place(const seen_key *a, const seen_key *b)
{
    return a->type == b->type && a->method == b->method && a->code == b->code
           && a->line == b->line;
}

/* 1 if the key is new (and now remembered), 0 if seen or the table is full.
 * The GIL serialises every caller. */
static int
remember(const seen_key *key)
{
    unsigned long long h = (unsigned long long)(uintptr_t)key->type * 31u
                           + (unsigned long long)(uintptr_t)key->method * 17u
                           + (unsigned long long)(uintptr_t)key->code * 7u
                           + (unsigned long long)(unsigned int)key->line;
    for (unsigned int probe = 0; probe < SEEN_SLOTS; probe++) {
        seen_key *slot = &seen[(h + probe) % SEEN_SLOTS];
        if (slot->type == NULL) {
            if (seen_count >= SEEN_SLOTS / 2) {
                return 0;               /* half full: stop, probes stay short */
            }
            *slot = *key;
            seen_count++;
            return 1;
        }
        if (same_place(slot, key)) {
            return 0;
        }
    }
    return 0;
}

/* The reporter must not disturb the call being made: an exception set
 * around it is kept, one it raises is dropped. */
static void
report(PyTypeObject *type, const char *method)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *result = PyObject_CallFunction(reporter, "Os", (PyObject *)type, method);
    if (result == NULL) {
        PyErr_Clear();
    }
    Py_XDECREF(result);
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

static int
widget_call_profile(PyObject *Py_UNUSED(obj), PyFrameObject *frame, int what, PyObject *arg)
{
    if (what != PyTrace_C_CALL || !enabled || arg == NULL || !PyCFunction_Check(arg)) {
        return 0;
    }
    PyObject *self = PyCFunction_GET_SELF(arg);
    if (self == NULL || PyType_Check(self) || !is_checked(Py_TYPE(self))) {
        return 0;
    }
    PyMethodDef *method = ((PyCFunctionObject *)arg)->m_ml;
    if (method == NULL || method->ml_name == NULL || is_thread_safe(method->ml_name)) {
        return 0;
    }
    seen_key key = {Py_TYPE(self), method, NULL, 0};
    if (frame != NULL) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        key.code = code;
        key.line = PyFrame_GetLineNumber(frame);
        Py_DECREF(code);
    }
    if (remember(&key)) {
        report(Py_TYPE(self), method->ml_name);
    }
    return 0;                           /* never an error: the call goes on */
}

/* Called by threadtable.c for every thread that records itself, other than
 * the main thread; *keep_state* for a QThread (see the top). */
void
pqg_widgetcheck_this_thread(int keep_state)
{
    if (!enabled) {
        return;
    }
    if (keep_state && PyThread_tss_is_created(&kept_state)
        && PyThread_tss_get(&kept_state) == NULL)
    {
        (void)PyGILState_Ensure();      /* we hold the GIL: LOCKED, released at the end */
        if (PyThread_tss_set(&kept_state, &kept_marker) != 0) {
            PyGILState_Release(PyGILState_LOCKED);
        }
    }
    PyThreadState *tstate = PyThreadState_Get();
    if (tstate->c_profilefunc != NULL) {
        return;                         /* a profiler runs here: it stays */
    }
    PyEval_SetProfile(widget_call_profile, NULL);
}

/* The thread forgets itself (threadtable.c): its check goes, and a
 * QThread's kept state goes with the call that is ending it.
 *
 * From 3.12 CPython runs profile functions through sys.monitoring
 * instrumentation shared by every thread: while one thread has one, every
 * thread's calls (the GUI thread's) are slowed, 2-3x in call-heavy code.
 * The count of profiling threads falls when a thread state is deleted, but
 * the instrumentation is only recomputed by a PyEval_SetProfile call: without
 * this one it stayed for good after the first checked thread. */
void
pqg_widgetcheck_thread_ends(void)
{
    PyThreadState *tstate = PyThreadState_Get();
    int kept = PyThread_tss_is_created(&kept_state) && PyThread_tss_get(&kept_state) != NULL;
    /* A kept QThread ends with two holds of its state: ours and the call of
     * its `finished` slot.  A third is a Python call that never returned -
     * QThread.terminate() inside run() or a slot - whose frames were on a
     * stack that is gone: the recomputation walks every thread state's
     * frames (3.12+), that one's included.  Its profile function stays:
     * the count of profiling threads never falls to 0 again, nothing is
     * recomputed, the instrumentation stays for the rest of the run (as it
     * did before for every checked thread). */
    if (tstate->c_profilefunc == widget_call_profile
        && !(kept && tstate->gilstate_counter > 2)) {
        PyEval_SetProfile(NULL, NULL);
    }
    if (kept) {
        (void)PyThread_tss_set(&kept_state, NULL);
        PyGILState_Release(PyGILState_LOCKED);
    }
}

/* check_widget_threads(types, reporter) turns the check on for threads that
 * record themselves from now on; check_widget_threads(None, None) off (a
 * thread that has the function keeps it, doing nothing). */
static PyObject *
check_widget_threads_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *types, *callback;
    if (!PyArg_ParseTuple(args, "OO:check_widget_threads", &types, &callback)) {
        return NULL;
    }
    if (types == Py_None) {
        enabled = 0;
        Py_CLEAR(checked_types);
        Py_CLEAR(reporter);
        Py_RETURN_NONE;
    }
    if (!PyTuple_Check(types) || !PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError,
                        "check_widget_threads(types, reporter): a tuple of classes "
                        "and a callable");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(types); i++) {
        if (!PyType_Check(PyTuple_GET_ITEM(types, i))) {
            PyErr_SetString(PyExc_TypeError, "check_widget_threads: types must be classes");
            return NULL;
        }
    }
#ifndef _WIN32
    /* Registered once the check is first on: until then the table is empty. */
    static int atfork_registered = 0;
    pqg_on_fork_child(forget_in_child, &atfork_registered);
#endif
    Py_INCREF(types);
    Py_XSETREF(checked_types, types);
    Py_INCREF(callback);
    Py_XSETREF(reporter, callback);
    enabled = 1;
    Py_RETURN_NONE;
}

/* forget_widget_reports(): each place is reported again from now on. */
static PyObject *
forget_widget_reports_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    memset(seen, 0, sizeof(seen));       /* the GIL is held: no profile function runs */
    seen_count = 0;
    Py_RETURN_NONE;
}

static PyMethodDef widgetcheck_methods[] = {
    {"check_widget_threads", check_widget_threads_py, METH_VARARGS,
     PyDoc_STR("check_widget_threads($module, types, reporter, /)\n--\n\n"
               "Threads that record themselves from now on call reporter(cls, "
               "method) the first time each line calls a method of an instance of "
               "one of types; (None, None) turns it off.")},
    {"forget_widget_reports", forget_widget_reports_py, METH_NOARGS,
     PyDoc_STR("forget_widget_reports($module, /)\n--\n\n"
               "Report each place again from now on.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_widgetcheck_init(PyObject *module)
{
    if (PyThread_tss_create(&kept_state) != 0) {
        PyErr_NoMemory();
        return -1;
    }
    return PyModule_AddFunctions(module, widgetcheck_methods);
}
