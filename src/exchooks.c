/* exchooks.c: sys.excepthook, threading.excepthook and sys.unraisablehook.
 *
 * PyQt6 calls qFatal() (and so abort()) on an exception in a slot or virtual
 * method only while sys.excepthook is the interpreter default; installing
 * any other hook turns that abort into a call of the hook.  These hooks
 * write one report per exception to the run's log and to stderr, hand a
 * record to the Python layer (logging, user callbacks), chain to the hook
 * they replaced, and never raise.
 *
 * The Python layer supplies three callables:
 *   formatter(exc_type, exc_value, exc_tb) -> str   the traceback text
 *   describer() -> str                              current thread's name
 *   dispatcher(source, exc_type, exc_value, exc_tb, thread, thread_name,
 *              native_id, report_text)            logging and callbacks
 * either directly (configure_hooks) or as the module that defines them as
 * _format, _describe_current_thread and _dispatch, imported at the first
 * exception (configure_hooks_from): an app that raises nothing never pays
 * for importing them.  Any of them failing, the import failing, or the
 * interpreter finalizing, falls back to C. */
#include "pyqtguard_native.h"

#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#  include <windows.h>
#else
#  include <fcntl.h>
#  include <time.h>
#  include <unistd.h>
#endif

typedef struct {
    PyObject *formatter;
    PyObject *describer;
    PyObject *dispatcher;
    PyObject *stderr_poster;    /* optional: see posted_to_gui_thread */
    PyObject *path_noter;       /* optional: see note_log_path */
    PyObject *helpers_module;   /* str: where the helpers come from, or NULL */
    PyObject *previous[3];      /* NULL: nothing to chain to */
    int to_stderr;              /* copy reports to sys.stderr */
} hook_state;

enum { HOOK_SYS = 0, HOOK_THREADING = 1, HOOK_UNRAISABLE = 2, HOOK_ASYNCIO = 3,
       HOOK_MATPLOTLIB = 4, N_SOURCES = 5 };

/* HOOK_ASYNCIO and HOOK_MATPLOTLIB are no hooks of Python's but libraries
 * that catch an exception of the app's code and only print it: asyncio's
 * default exception handler (replaced by
 * pyqtguard/exceptions/asyncio_loops.py) and matplotlib's
 * traceback.print_exc() in its callbacks and Qt canvas
 * (pyqtguard/exceptions/matplotlib_printing.py).  They report through
 * library_report().  Nothing to chain to: the arrays of chained hooks keep
 * three slots. */
static const char *const hook_sources[N_SOURCES] = {
    "sys.excepthook", "threading.excepthook", "sys.unraisablehook", "asyncio",
    "matplotlib",
};

static hook_state state;

/* Re-entry guard, per thread: another thread's exception while a callback
 * runs is a separate report, not a recursion. */
static PQG_THREAD_LOCAL int hook_depth = 0;

/* ---- saving the caller's pending exception (3.12 changed the API) ---- */
typedef struct {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc;
#else
    PyObject *type, *value, *tb;
#endif
} saved_error;

static void
save_error(saved_error *saved)
{
#if PY_VERSION_HEX >= 0x030C0000
    saved->exc = PyErr_GetRaisedException();      /* 3.12+ */
#else
    PyErr_Fetch(&saved->type, &saved->value, &saved->tb);  /* 3.11 */
#endif
}

static void
restore_error(saved_error *saved)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(saved->exc);
#else
    PyErr_Restore(saved->type, saved->value, saved->tb);
#endif
}

/* ---- the Python helpers, imported on first use ---- */

static void
take_helper(PyObject *module, const char *name, PyObject **slot)
{
    PyObject *helper = PyObject_GetAttrString(module, name);
    if (helper != NULL && PyCallable_Check(helper)) {
        Py_XSETREF(*slot, helper);
        return;
    }
    Py_XDECREF(helper);
    PyErr_Clear();
}

/* Import the helpers' module if it is known and not imported yet.  Not
 * during finalization (the import system is being torn down): the C
 * fallback reports then. */
static void
ensure_helpers(void)
{
    if (state.helpers_module == NULL || state.formatter != NULL
        || PQG_IS_FINALIZING()) {
        return;
    }
    PyObject *module = PyImport_Import(state.helpers_module);
    if (module == NULL) {
        PyErr_Clear();
        return;
    }
    take_helper(module, "_describe_current_thread", &state.describer);
    take_helper(module, "_dispatch", &state.dispatcher);
    take_helper(module, "_post_stderr_copy", &state.stderr_poster);
    take_helper(module, "_log_path_note", &state.path_noter);
    take_helper(module, "_format", &state.formatter);   /* last: the flag */
    Py_DECREF(module);
}

/* ---- pieces of a report ---- */

/* Who saw the exception, and when: taken when the hook is called, so that a
 * report written later by another thread still says so. */
typedef struct {
    unsigned long native_id;
    char stamp[32];
    char name[PQG_THREAD_NAME_MAX];     /* "": ask the describer */
} report_origin;

/* Set by excepthook_for_thread() while it reports, on its thread only: the
 * thread the exception was raised in, when it is reported from another
 * (a pyqtguard worker's error, delivered in the GUI thread). */
static PQG_THREAD_LOCAL const char *origin_name_override = NULL;
static PQG_THREAD_LOCAL unsigned long origin_id_override = 0;

static void
origin_now(report_origin *origin)
{
    origin->native_id = origin_name_override != NULL ? origin_id_override
                                                     : pqg_current_native_id();
    pqg_format_timestamp(origin->stamp);
    origin->name[0] = '\0';
    if (origin_name_override != NULL) {
        snprintf(origin->name, sizeof(origin->name), "%s", origin_name_override);
    }
}

static PyObject *
thread_name_of(PyObject *thread, const report_origin *origin)
{
    PyObject *name = NULL;
    if (thread != NULL && thread != Py_None) {
        name = PyObject_GetAttrString(thread, "name");
    }
    else if (origin->name[0] != '\0') {
        return PyUnicode_DecodeUTF8(origin->name, (Py_ssize_t)strlen(origin->name),
                                    "replace");
    }
    else if (state.describer != NULL && !PQG_IS_FINALIZING()) {
        name = PyObject_CallNoArgs(state.describer);
    }
    if (name != NULL && PyUnicode_Check(name)) {
        return name;
    }
    Py_XDECREF(name);
    PyErr_Clear();
    char buf[PQG_THREAD_NAME_MAX];
    if (pqg_thread_name_by_native_id(origin->native_id, buf, sizeof(buf))) {
        return PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
    }
    return PyUnicode_FromString("<unknown>");
}

/* "Exception ignored in: <object repr>" for unraisable exceptions, like the
 * interpreter's default hook prints it. */
static PyObject *
unraisable_context(PyObject *hook_args)
{
    PyObject *err_msg = PyObject_GetAttrString(hook_args, "err_msg");
    PyObject *obj = PyObject_GetAttrString(hook_args, "object");
    PyObject *result = NULL;
    PyErr_Clear();
    if (err_msg == NULL || err_msg == Py_None) {
        Py_XSETREF(err_msg, PyUnicode_FromString("Exception ignored in"));
    }
    if (obj != NULL && obj != Py_None) {
        PyObject *repr = PyObject_Repr(obj);
        if (repr == NULL) {
            PyErr_Clear();
            repr = PyUnicode_FromString("<object repr() failed>");
        }
        result = PyUnicode_FromFormat("%S: %S", err_msg, repr);
        Py_XDECREF(repr);
    }
    else {
        result = Py_XNewRef(err_msg);
    }
    Py_XDECREF(err_msg);
    Py_XDECREF(obj);
    PyErr_Clear();
    return result;
}

/* `text` (a thread's name, an object's repr, a message: the app's) on one
 * line: control characters as \xNN, so that a name with a newline cannot
 * cut the report's header line and put a line of its own in the log (one
 * `pyqtguard logs` would read).  New reference, NULL on error. */
static PyObject *
one_line(PyObject *text)
{
    static PyObject *controls = NULL;       /* code point -> "\xNN", made once */
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int clean = 1;
    for (Py_ssize_t i = 0; i < len && clean; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        clean = c >= 0x20 && c != 0x7f;
    }
    if (clean) {
        return Py_NewRef(text);
    }
    if (controls == NULL) {
        PyObject *table = PyDict_New();
        for (int c = 0; table != NULL && c < 0x80; c++) {
            if (c >= 0x20 && c != 0x7f) {
                continue;
            }
            PyObject *key = PyLong_FromLong(c);
            PyObject *value = PyUnicode_FromFormat("\\x%02x", c);
            if (key == NULL || value == NULL || PyDict_SetItem(table, key, value) < 0) {
                Py_CLEAR(table);
            }
            Py_XDECREF(key);
            Py_XDECREF(value);
        }
        if (table == NULL) {
            return NULL;
        }
        controls = table;                   /* kept for the process's life */
    }
    return PyObject_CallMethod(text, "translate", "O", controls);
}

static PyObject *
format_header(int source, PyObject *thread_name, PyObject *context,
              const report_origin *origin)
{
    const char *what = source == HOOK_UNRAISABLE ? "unraisable exception"
                                                 : "uncaught exception";
    PyObject *name = one_line(thread_name);
    PyObject *shown = context != NULL ? one_line(context) : NULL;
    if (name == NULL || (context != NULL && shown == NULL)) {
        Py_XDECREF(name);
        Py_XDECREF(shown);
        return NULL;
    }
    PyObject *header = PyUnicode_FromFormat(
        "[%s] pyqtguard: %s in thread '%U' (native id %lu, pid %ld) [%s]",
        origin->stamp, what, name, origin->native_id, pqg_getpid(),
        hook_sources[source]);
    Py_DECREF(name);
    if (header != NULL) {
        PyObject *tail = shown ? PyUnicode_FromFormat(": %U\n", shown)
                               : PyUnicode_FromString("\n");
        Py_SETREF(header, tail ? PyUnicode_Concat(header, tail) : NULL);
        Py_XDECREF(tail);
    }
    Py_XDECREF(shown);
    return header;
}

static PyObject *
format_traceback(PyObject *exc_type, PyObject *exc_value, PyObject *exc_tb,
                 PyObject *callers)
{
    if (state.formatter == NULL) {
        return NULL;
    }
    PyObject *text = PyObject_CallFunctionObjArgs(
        state.formatter, exc_type, exc_value ? exc_value : Py_None,
        exc_tb ? exc_tb : Py_None, callers, NULL);      /* callers may be NULL: 3 args */
    if (text != NULL && !PyUnicode_Check(text)) {
        Py_CLEAR(text);
    }
    PyErr_Clear();
    return text;
}

static int
stderr_available(void)
{
    if (!state.to_stderr) {
        return 0;
    }
    PyObject *err = PySys_GetObject("stderr");   /* borrowed */
    return err != NULL && err != Py_None;
}

/* A stream the app put in sys.stderr's place (a console widget, say) may
 * only be written from the GUI thread: from any other thread, while the
 * event loop runs, the helper posts the write there.  Returns 1 if it did. */
static int
posted_to_gui_thread(PyObject *err, PyObject *text)
{
    if (state.stderr_poster == NULL || PQG_IS_FINALIZING()
        || err == PySys_GetObject("__stderr__")) {
        return 0;
    }
    PyObject *posted = PyObject_CallOneArg(state.stderr_poster, text);
    int done = posted == Py_True;
    Py_XDECREF(posted);
    PyErr_Clear();
    return done;
}

static void
write_text_to_stderr(PyObject *text)
{
    if (!stderr_available()) {
        return;
    }
    PyObject *err = PySys_GetObject("stderr");   /* borrowed */
    if (posted_to_gui_thread(err, text)) {
        return;
    }
    Py_INCREF(err);
    if (PyFile_WriteObject(text, err, Py_PRINT_RAW) == 0) {
        PyObject *res = PyObject_CallMethod(err, "flush", NULL);
        Py_XDECREF(res);
    }
    Py_DECREF(err);
    PyErr_Clear();
}

/* After the first report on stderr, one line naming the run log: where
 * the rest is (freezes, lost QThreads, the threads at exit) and what
 * `pyqtguard report` reads.  The helper returns the line once per run
 * (None after that, or without a log); the same path as the report's copy,
 * so that a copy posted to the GUI thread is followed by its note. */
static void
note_log_path(void)
{
    if (state.path_noter == NULL || PQG_IS_FINALIZING() || !stderr_available()) {
        return;
    }
    PyObject *line = PyObject_CallNoArgs(state.path_noter);
    if (line != NULL && PyUnicode_Check(line)) {
        write_text_to_stderr(line);
    }
    else if (line == NULL || line == Py_None) {
        Py_CLEAR(state.path_noter);     /* said, or nothing to say: done */
    }
    Py_XDECREF(line);
    PyErr_Clear();
}

static void
write_text_to_log(int fd, PyObject *text)
{
    if (fd < 0) {
        return;
    }
    Py_ssize_t len;
    PyObject *holder;
    const char *utf8 = pqg_utf8(text, &len, &holder);
    if (utf8 == NULL) {
        PyErr_Clear();
        return;
    }
    pqg_write_text(fd, utf8, (size_t)len, 1);   /* no forged markers */
    Py_XDECREF(holder);
}

/* A report and the empty line after it, in one write(); its lines defused
 * (the report holds the app's text: no forged markers).  Left out whole
 * past the log's size limit (loglimit.c). */
static void
write_report_to_log(PyObject *report)
{
    int fd = pqg_log_report_fd();
    if (fd < 0) {
        return;
    }
    Py_ssize_t len;
    PyObject *holder;       /* a file name that is not UTF-8: written escaped */
    const char *utf8 = pqg_utf8(report, &len, &holder);
    size_t defused = utf8 != NULL ? pqg_defuse_text(utf8, (size_t)len, 1, NULL) : 0;
    char *buf = utf8 != NULL ? PyMem_Malloc(defused + 1) : NULL;
    if (buf == NULL) {
        PyErr_Clear();
        Py_XDECREF(holder);
        write_text_to_log(fd, report);
        pqg_puts(fd, "\n");
        return;
    }
    (void)pqg_defuse_text(utf8, (size_t)len, 1, buf);
    Py_XDECREF(holder);
    buf[defused] = '\n';
    pqg_write_all(fd, buf, defused + 1);
    PyMem_Free(buf);
}

/* The C-only path: used when re-entered or when Python formatting fails.
 * The header and the traceback in one write() (tbformat.c). */
static void
report_fallback(PyObject *header, PyObject *exc_type, PyObject *exc_value,
                PyObject *exc_tb)
{
    Py_ssize_t len;
    PyObject *holder = NULL;    /* a file name that is not UTF-8: escaped */
    const char *head = header != NULL ? pqg_utf8(header, &len, &holder) : NULL;
    if (head == NULL) {
        PyErr_Clear();
        head = "pyqtguard: uncaught exception\n";
    }
    pqg_write_exception_fallback(pqg_log_report_fd(), head, exc_type, exc_value, exc_tb,
                                 stderr_available());
    Py_XDECREF(holder);
}

static void
dispatch(int source, PyObject *exc_type, PyObject *exc_value,
         PyObject *exc_tb, PyObject *thread, PyObject *thread_name,
         PyObject *report, unsigned long native_id)
{
    if (state.dispatcher == NULL || PQG_IS_FINALIZING()) {
        return;
    }
    PyObject *res = PyObject_CallFunction(
        state.dispatcher, "sOOOOOkO", hook_sources[source], exc_type,
        exc_value ? exc_value : Py_None, exc_tb ? exc_tb : Py_None,
        thread ? thread : Py_None, thread_name, native_id, report);
    if (res == NULL) {
        PyErr_Clear();
        pqg_puts(pqg_log_fd(), "pyqtguard: the exception dispatcher failed; "
                               "callbacks and logging skipped\n");
    }
    Py_XDECREF(res);
}

/* The app's own hook, chained to, raised: that must not take the app down,
 * and its error is not lost either - reported as Python reports a failing
 * hook ("Error in sys.excepthook"), to the log and stderr, then cleared. */
static void
report_hook_error(int source)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);  /* 3.11-3.14 (deprecated from 3.12) */
    PyErr_NormalizeException(&exc_type, &exc_value, &exc_tb);
    PyObject *header = PyUnicode_FromFormat(
        "pyqtguard: the app's own %s raised (it runs after pyqtguard's report):\n",
        hook_sources[source]);
    PyObject *text = format_traceback(exc_type, exc_value, exc_tb, NULL);
    if (header != NULL && text != NULL) {
        Py_SETREF(text, PyUnicode_Concat(header, text));
    }
    if (text != NULL) {
        write_report_to_log(text);
        write_text_to_stderr(text);
    }
    else {
        report_fallback(header, exc_type, exc_value, exc_tb);
    }
    Py_XDECREF(header);
    Py_XDECREF(text);
    Py_XDECREF(exc_type);
    Py_XDECREF(exc_value);
    Py_XDECREF(exc_tb);
    PyErr_Clear();
}

/* Set while this thread calls on to the hook that was there before ours.
 * A tool that wrapped our hook, and that install() (again) found in place,
 * calls ours from inside: ours then returns at once - the exception was
 * reported, and chaining on would call the tool again, without end. */
static PQG_THREAD_LOCAL int chaining[3] = {0, 0, 0};

/* Call the hook that was there before ours (None if there was none); NULL
 * with an exception if it raised. */
static PyObject *
call_previous(int source, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *previous = state.previous[source];
    if (previous == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(previous);
    chaining[source]++;
    PyObject *res = PyObject_Vectorcall(previous, args, (size_t)nargs, NULL);
    chaining[source]--;
    Py_DECREF(previous);
    return res;
}

static void
chain_previous(int source, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *res = call_previous(source, args, nargs);
    if (res == NULL) {
        report_hook_error(source);
    }
    Py_XDECREF(res);
}

/* "[time] pyqtguard: ValueError in paintEvent (app.py:9): 812 more times
 * since its last full report (...)" - see excrepeats.c. */
static void
write_repeat_count(const char *where, unsigned long counted, int log_only,
                   void *Py_UNUSED(arg))
{
    char stamp[32];
    char child[48];
    pqg_format_timestamp(stamp);
    /* A fork child's count is its own, not the app's (`pyqtguard logs`). */
    PyObject *line = PyUnicode_FromFormat(
        "[%s] %spyqtguard: %s: %lu more time%s since its last full report "
        "(repeats are counted, not reported again)\n",
        stamp, pqg_forked_child_mark(child), where, counted, counted == 1 ? "" : "s");
    if (line == NULL) {
        PyErr_Clear();
        return;
    }
    write_text_to_log(pqg_log_report_fd(), line);
    if (!log_only) {
        write_text_to_stderr(line);
    }
    Py_DECREF(line);
}

/* The report itself: header, traceback (with source lines: Python code
 * that reads files and may let other threads run), log, stderr, logging
 * and callbacks. */
static void
emit_report(int source, PyObject *exc_type, PyObject *exc_value,
            PyObject *exc_tb, PyObject *thread, PyObject *hook_args,
            const report_origin *origin, PyObject *callers)
{
    hook_depth++;
    if (hook_depth == 1) {
        ensure_helpers();
    }
    PyObject *thread_name = thread_name_of(thread, origin);
    PyObject *context = source == HOOK_UNRAISABLE ? unraisable_context(hook_args)
                        : source >= HOOK_ASYNCIO ? Py_XNewRef(hook_args) : NULL;
    PyObject *header = thread_name
                       ? format_header(source, thread_name, context, origin) : NULL;
    PyErr_Clear();
    PyObject *text = hook_depth == 1
                     ? format_traceback(exc_type, exc_value, exc_tb, callers) : NULL;
    if (header == NULL || text == NULL) {
        report_fallback(header, exc_type, exc_value, exc_tb);
    }
    else {
        PyObject *report = PyUnicode_Concat(header, text);
        if (report == NULL) {
            PyErr_Clear();
            report_fallback(header, exc_type, exc_value, exc_tb);
        }
        else {
            write_report_to_log(report);
            write_text_to_stderr(report);
            note_log_path();
            dispatch(source, exc_type, exc_value, exc_tb, thread,
                     thread_name, report, origin->native_id);
            Py_DECREF(report);
        }
    }
    Py_XDECREF(text);
    Py_XDECREF(header);
    Py_XDECREF(context);
    Py_XDECREF(thread_name);
    hook_depth--;
    PyErr_Clear();
}

/* ---- reports written right after the hook returns (sys.excepthook) ----
 *
 * PyQt6 calls sys.excepthook from pyqt6_err_print(), which guards against
 * recursion with one process-wide flag (qpycore_public_api.cpp, PyQt6 6.x):
 * while one thread is in the hook, an exception of another thread is
 * dropped without a word - and left set in that thread.  A report lets other
 * threads run (it reads source files, writes stderr, runs Python code that
 * yields the GIL), so four QThreads failing at once gave one report.  So
 * when sys.excepthook is called by PyErr_Print() the hook only takes the
 * exception - C code that keeps the GIL from the hook's call to its return -
 * and queues it.  The report is written a moment later, outside any hook,
 * by one of the app's own threads - never by a thread of pyqtguard's: the
 * app's logging handlers run there, where a crash is reported, and nothing
 * of pyqtguard's is left running Python or Qt code into the interpreter's
 * teardown (a reporter thread did both):
 *  - the GUI thread, while its event loop runs: the hook writes a byte to a
 *    pipe that a QSocketNotifier watches (pyqtguard/exceptions/__init__.py),
 *    so the reports are written at the loop's next turn - a point where the app expects queued
 *    calls, also when the loop idles and no Python code runs otherwise;
 *  - the main thread, when no event loop is watching: at its next Python
 *    instruction (Py_AddPendingCall: main thread only, 3.11-3.14);
 *  - any thread that enters one of the hooks to write a report at once
 *    (threading.excepthook, an app's own call): the queued ones first;
 *  - uninstall() and the exit handler, synchronously; at exit within a time
 *    budget, and what does not fit is counted in one line, never dropped
 *    without a word.
 * Queue and flags: protected by the GIL. */

typedef struct pending_report {
    struct pending_report *next;
    PyObject *exc_type, *exc_value, *exc_tb;
    PyObject *callers;                  /* capture_callers(...), or NULL */
    report_origin origin;
    unsigned long counted;              /* repeats before it (excrepeats.c) */
    char where[PQG_REPEAT_WHERE_MAX];
    int unreported;                     /* its line for a crash report, or -1 */
} pending_report;

static pending_report *pending_head = NULL, *pending_tail = NULL;
static size_t pending_count = 0;
static int reports_synchronous = 0;     /* from the exit handler on */
/* The thread writing queued reports now (PyThread ident; 0: none): one
 * writer at a time keeps them in order, as it lets other threads run. */
static unsigned long writer = 0;
/* The exit handler's thread once it owns the queue: other writers stop
 * after the report in hand. */
static unsigned long exit_writer = 0;
static int pending_call_queued = 0;     /* Py_AddPendingCall done, not run yet */
/* The thread running that pending call now (PyThread ident; 0: none). */
static unsigned long pending_call_runner = 0;
/* A fork child's copy of the parent's queue (see forget_in_child): the
 * parent writes those reports; the child lets them go, without a word. */
static pending_report *forgotten_head = NULL;
/* Once shutdown has begun: when writing queued reports stops (monotonic
 * ns; 0: no limit) - the rest are counted at exit. */
static long long shutdown_deadline_ns = 0;
static int gui_loop_watching = 0;       /* a QSocketNotifier reads wake_pipe[0] */
#ifndef _WIN32
static int wake_pipe[2] = {-1, -1};
#endif
/* This thread is inside one of the hooks: queued reports are not written
 * from here (PyQt6's flag may be set, see above). */
static PQG_THREAD_LOCAL int in_hook = 0;

static void
note_main(unsigned long native_id, unsigned long long ident, const char *name,
          const char *site, int kind, void *arg)
{
    (void)ident;
    (void)name;
    (void)site;
    if (kind == 1) {                    /* KIND_MAIN: named at install() */
        *(unsigned long *)arg = native_id;
    }
}

/* threading took this thread for the main thread, but the process's main
 * thread (the registry's) is another: a thread Qt started imported
 * threading first (Qt Quick's render thread in a paint()). */
static int
main_elsewhere(unsigned long native_id)
{
    unsigned long main_id = 0;
    pqg_threadtable_visit(note_main, &main_id);
    return main_id != 0 && main_id != native_id;
}

/* threading's record of the current thread (one started before install()
 * is not in the thread table): its _name, an instance attribute - read
 * without running Python code.  0 if none, a _DummyThread's, or a
 * _MainThread's that is not the process's main thread. */
static int
name_from_threading(unsigned long native_id, char *buf, size_t size)
{
    PyObject *module = PyDict_GetItemString(PyImport_GetModuleDict(), "threading");
    PyObject *active = module ? PyObject_GetAttrString(module, "_active") : NULL;
    PyObject *key = PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    PyObject *thread = active && key && PyDict_Check(active)
                       ? PyDict_GetItemWithError(active, key) : NULL;   /* borrowed */
    const char *type = thread ? Py_TYPE(thread)->tp_name : "";
    PyObject *name = thread && strcmp(type, "_DummyThread") != 0
                     && !(strcmp(type, "_MainThread") == 0 && main_elsewhere(native_id))
                     ? PyObject_GetAttrString(thread, "_name") : NULL;
    Py_ssize_t len;
    PyObject *holder = NULL;
    const char *utf8 = name && PyUnicode_Check(name) ? pqg_utf8(name, &len, &holder) : NULL;
    if (utf8 != NULL) {
        snprintf(buf, size, "%s", utf8);
    }
    Py_XDECREF(holder);
    Py_XDECREF(name);
    Py_XDECREF(key);
    Py_XDECREF(active);
    PyErr_Clear();
    return utf8 != NULL;
}

/* A thread's name without running Python code (the describer would): the
 * thread table, threading's record, then the OS's (Qt names its threads). */
static void
capture_thread_name(report_origin *origin)
{
    size_t size = sizeof(origin->name);
    if (origin->name[0] != '\0') {
        return;                         /* excepthook_for_thread()'s */
    }
    if (!pqg_thread_name_by_native_id(origin->native_id, origin->name, size)
        && !name_from_threading(origin->native_id, origin->name, size)
        && !pqg_os_thread_name(origin->native_id, origin->name, size)) {
        origin->name[0] = '\0';
    }
}

static void
free_pending(pending_report *item)
{
    pqg_unreported_remove(item->unreported);
    Py_XDECREF(item->exc_type);
    Py_XDECREF(item->exc_value);
    Py_XDECREF(item->exc_tb);
    Py_XDECREF(item->callers);
    PyMem_RawFree(item);
}

static pending_report *
pop_pending(void)
{
    pending_report *item = pending_head;
    if (item != NULL) {
        pending_head = item->next;
        if (pending_head == NULL) {
            pending_tail = NULL;
        }
        pending_count--;
    }
    return item;
}

static void
write_pending(pending_report *item)
{
    saved_error saved;
    save_error(&saved);
    if (item->counted > 0) {
        write_repeat_count(item->where, item->counted, 0, NULL);
    }
    emit_report(HOOK_SYS, item->exc_type, item->exc_value, item->exc_tb, NULL,
                NULL, &item->origin, item->callers);
    restore_error(&saved);
}

/* The earlier of two monotonic deadlines (0: none). */
static long long
earlier_deadline(long long a, long long b)
{
    return a == 0 ? b : (b == 0 || a < b ? a : b);
}

#ifndef _WIN32
static void watch_forks(void);
#endif

/* A fork child's copy of the parent's queued reports: released (GIL held,
 * at a point where Python code may run), not written. */
static void
drop_forgotten(void)
{
    while (forgotten_head != NULL) {
        pending_report *item = forgotten_head;
        forgotten_head = item->next;
        item->unreported = -2;          /* its slot was the parent's */
        free_pending(item);
    }
}

/* Write the queued reports in this thread, oldest first, until the queue
 * is empty or `deadline_ns` or the shutdown's has passed.  Not from inside
 * a hook or a report, and not while another thread writes them: that one
 * takes what is queued meanwhile too.  GIL held. */
static void
write_queued(long long deadline_ns)
{
    unsigned long me = PyThread_get_thread_ident();
    deadline_ns = earlier_deadline(deadline_ns, shutdown_deadline_ns);
    if (writer != 0 || in_hook || hook_depth > 0 || PQG_IS_FINALIZING()) {
        return;
    }
    writer = me;
    drop_forgotten();
    pending_report *item;
    while ((exit_writer == 0 || exit_writer == me)
           && (deadline_ns == 0 || pqg_monotonic_ns() < deadline_ns)
           && (item = pop_pending()) != NULL) {
        write_pending(item);
        free_pending(item);
    }
    if (writer == me) {
        writer = 0;
    }
}

/* The pending call (Py_AddPendingCall): runs in the main thread, GIL
 * held, at its next Python instruction. */
static int
write_queued_in_main_thread(void *Py_UNUSED(arg))
{
    pending_call_queued = 0;
    pending_call_runner = PyThread_get_thread_ident();
    if (!gui_loop_watching) {           /* else the loop's next turn writes them */
        write_queued(0);
    }
    pending_call_runner = 0;
    return 0;
}

/* Whether no pending call will ever run here: a fork child of another
 * thread than the one that ran ours at the fork.  CPython's
 * make_pending_calls() was busy then, and stays so in the child (3.11: a
 * static flag, set for good) - the child's queued reports were never
 * written.  Its reports are written at once then, in the hook. */
static int
pending_calls_stuck(void)
{
    if (pending_call_runner == 0 || gui_loop_watching) {
        return 0;
    }
    PyInterpreterState *interp = PyThreadState_GetInterpreter(PyThreadState_Get());
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL;
         t = PyThreadState_Next(t)) {
        if (t->thread_id == pending_call_runner) {
            return 0;                   /* it runs here: it ends */
        }
    }
    return 1;
}

/* Have the queued reports written soon (see the comment above the queue).
 * Called with the GIL held, from a hook: no Python code, nothing that lets
 * other threads run - a write() to a non-blocking pipe at most. */
static void
wake_a_writer(void)
{
#ifndef _WIN32
    if (gui_loop_watching && wake_pipe[1] >= 0) {
        char byte = 1;
        ssize_t n = write(wake_pipe[1], &byte, 1);  /* full: already woken */
        (void)n;
        return;
    }
#endif
    if (!pending_call_queued && Py_AddPendingCall(write_queued_in_main_thread, NULL) == 0) {
        pending_call_queued = 1;
    }
}

static void
sleep_one_ms(void)
{
    Py_BEGIN_ALLOW_THREADS
#ifdef _WIN32
    Sleep(1);
#else
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
#endif
    Py_END_ALLOW_THREADS
}

/* At exit (the main thread, GIL held): every queued report, now, within
 * `budget` seconds (< 0: no limit).  Another thread writing one is let
 * finish it (it stops after it); what does not fit is counted in one line
 * and let go. */
static void
write_queued_at_exit(double budget)
{
    long long deadline = budget < 0 ? 0
                         : pqg_monotonic_ns() + (long long)(budget * 1e9) + 1;
    deadline = earlier_deadline(deadline, shutdown_deadline_ns);
    unsigned long me = PyThread_get_thread_ident();
#ifndef _WIN32
    watch_forks();
#endif
    exit_writer = me;
    size_t abandoned = 0;
    while (writer != 0 && writer != me) {
        if (deadline != 0 && pqg_monotonic_ns() >= deadline) {
            abandoned = 1;                  /* still in that thread's hands */
            writer = 0;
            break;
        }
        sleep_one_ms();
    }
    write_queued(deadline);
    size_t left = pending_count + abandoned;
    pending_report *item;
    while ((item = pop_pending()) != NULL) {
        free_pending(item);
    }
    if (left > 0) {
        char line[200];
        snprintf(line, sizeof(line), "pyqtguard: %zu exception report%s not "
                 "written: the time for them at exit ran out\n", left,
                 left == 1 ? "" : "s");
        pqg_report_puts(line);
    }
}

#ifndef _WIN32
/* The child's own pipe on the parent's descriptor numbers (see
 * forget_in_child).  A QSocketNotifier on it stays in the Qt state the child
 * copied, and the forking thread's loop may go on in the child (os.fork()
 * in a slot): closed instead, the number went to the child's next file - a
 * file is always readable, and the child's idle loop spun on it (0.93 s of
 * CPU a second) - or Qt warned "Invalid socket".  Nor may the child touch
 * that notifier: a Qt call could wait for a lock another thread held at the
 * fork.  pipe(), dup2(), fcntl() and close() are async-signal-safe. */
static void
renew_wake_pipe_in_child(void)
{
    int fresh[2];
    if (wake_pipe[0] >= 0 && pipe(fresh) == 0) {
        int renewed = dup2(fresh[0], wake_pipe[0]) >= 0 && dup2(fresh[1], wake_pipe[1]) >= 0;
        (void)close(fresh[0]);
        (void)close(fresh[1]);
        if (renewed) {
            for (int i = 0; i < 2; i++) {
                (void)fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
                (void)fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);  /* dup2 clears it */
            }
            return;
        }
    }
    for (int i = 0; i < 2; i++) {            /* no pipe: as before, closed */
        if (wake_pipe[i] >= 0) {
            (void)close(wake_pipe[i]);
            wake_pipe[i] = -1;
        }
    }
}

/* fork() copies no thread, and the pipe would be shared with the parent
 * (each could read the other's wake-ups): the child gets one of its own on
 * the same numbers (renew_wake_pipe_in_child) and writes its queue from its
 * main thread until an event loop of its own watches the pipe.  The queue
 * is the parent's, who writes it: a child that wrote it too wrote each
 * report twice, the second as its own; and the threads writing it (writer,
 * exit_writer) are not in the child - its own queued reports were never
 * written.  Nor has its shutdown begun.
 * Stores and pipe calls only, async-signal-safe, as a fork handler must be
 * (the parent's queue is released later, see drop_forgotten). */
static void
forget_in_child(void)
{
    renew_wake_pipe_in_child();
    gui_loop_watching = 0;
    pending_call_queued = 0;
    writer = 0;
    exit_writer = 0;
    shutdown_deadline_ns = 0;
    /* A fork from C without the GIL (QProcess) may come between the two
     * stores of a queueing: such a queue is left as it is (a leak in a
     * child that execs), never followed. */
    if (pending_head != NULL && pending_tail != NULL) {
        pending_tail->next = forgotten_head;
        forgotten_head = pending_head;
    }
    pending_head = pending_tail = NULL;
    pending_count = 0;
    pqg_unreported_forget_in_child();
}

/* Have forget_in_child run in fork children: from the first queued
 * report, wake-up pipe or exit on. */
static void
watch_forks(void)
{
    static int atfork_registered = 0;
    pqg_on_fork_child(forget_in_child, &atfork_registered);
}

static int
ensure_wake_pipe(void)
{
    if (wake_pipe[0] >= 0) {
        return 0;
    }
    int fds[2];
    if (pqg_pipe_above_stdio(fds) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        (void)fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        (void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    wake_pipe[0] = fds[0];
    wake_pipe[1] = fds[1];
    watch_forks();
    return 0;
}
#endif

/* PyErr_Print() - PyQt6's way in, and the interpreter's for an uncaught
 * exception - sets sys.last_value to the exception before it calls the
 * hook (3.11-3.13; 3.12+ also sys.last_exc).  An app's own call of
 * sys.excepthook(...) does not: it gets its report at once, as it expects. */
static int
called_by_err_print(PyObject *exc_value)
{
    PyObject *last = PySys_GetObject("last_value");     /* borrowed */
    return last != NULL && last == exc_value;
}

/* The exception's message, if reading it runs no Python code: one str
 * argument and no __str__ of a Python class (which could let other threads
 * run: the hook keeps the GIL, see above).  The args field is
 * PyBaseExceptionObject's (cpython/pyerrors.h, 3.11-3.14; 3.12 added
 * PyException_GetArgs, which returns the same tuple). */
static void
plain_message(PyObject *exc_value, char *buf, size_t size)
{
    buf[0] = '\0';
    if (exc_value == NULL || !PyExceptionInstance_Check(exc_value)) {
        return;
    }
    PyTypeObject *type = Py_TYPE(exc_value);
    PyTypeObject *builtin = type;
    while (builtin != NULL && PyType_HasFeature(builtin, Py_TPFLAGS_HEAPTYPE)) {
        builtin = builtin->tp_base;
    }
    if (builtin == NULL || type->tp_str != builtin->tp_str) {
        return;                             /* a class of the app's own __str__ */
    }
    PyObject *args = ((PyBaseExceptionObject *)exc_value)->args;
    if (args == NULL || !PyTuple_Check(args) || PyTuple_GET_SIZE(args) != 1
        || !PyUnicode_Check(PyTuple_GET_ITEM(args, 0))) {
        return;
    }
    Py_ssize_t len;
    PyObject *holder;
    const char *utf8 = pqg_utf8(PyTuple_GET_ITEM(args, 0), &len, &holder);
    if (utf8 == NULL) {
        PyErr_Clear();
        return;
    }
    snprintf(buf, size, "%s", utf8);
    Py_XDECREF(holder);
}

/* The Python frames of this thread while the hook runs, innermost first, as
 * [(filename, line, function), ...], or NULL when there are none.  For an
 * exception PyQt6 hands over from a slot or a virtual, they are the code
 * that called into Qt: the line that emitted the signal (same thread), or
 * the event loop's exec().  Taken now: a queued report is written later,
 * when those frames have moved on.  PyEval_GetFrame, PyFrame_GetBack,
 * PyFrame_GetCode and PyFrame_GetLineNumber are public API (3.9+: all of
 * 3.11-3.14); co_filename and co_name are PyCodeObject fields in 3.11-3.14.
 * At most CALLERS_MAX frames; any failure gives NULL (no section). */
#define CALLERS_MAX 64

/* Whether *frame* holds *exc_value* in a local variable (or in a tuple
 * there: a hook taking *args): the frame of an excepthook set after ours
 * that calls on to it (an app's own wrapper, sentry-sdk's
 * ExcepthookIntegration), not code that made Qt call the slot.  f_locals
 * is the frame type's own getter (3.11-3.12: a dict filled from the fast
 * locals; 3.13+: a proxy; a module's frame: its globals) and identity
 * comparisons run no Python code. */
static int
frame_holds(PyFrameObject *frame, PyObject *exc_value)
{
    PyObject *locals = PyObject_GetAttrString((PyObject *)frame, "f_locals");
    if (locals == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *values = PyDict_Check(locals) ? PyDict_Values(locals)
                                            : PyMapping_Values(locals);
    Py_DECREF(locals);
    if (values == NULL) {
        PyErr_Clear();
        return 0;
    }
    int found = 0;
    for (Py_ssize_t i = 0; !found && i < PyList_GET_SIZE(values); i++) {
        PyObject *value = PyList_GET_ITEM(values, i);
        if (value == exc_value) {
            found = 1;
        }
        else if (PyTuple_CheckExact(value)) {
            for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(value); j++) {
                if (PyTuple_GET_ITEM(value, j) == exc_value) {
                    found = 1;
                    break;
                }
            }
        }
    }
    Py_DECREF(values);
    return found;
}

static PyObject *
capture_callers(PyObject *exc_value)
{
    PyFrameObject *frame = PyEval_GetFrame();          /* borrowed */
    if (frame == NULL) {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_INCREF(frame);
    /* The innermost frames that hold the exception are hooks chained to
     * ours (see frame_holds), left out; a QThread's run() has no caller
     * but them. */
    while (frame != NULL && exc_value != NULL && exc_value != Py_None
           && frame_holds(frame, exc_value)) {
        PyFrameObject *back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
    for (int n = 0; frame != NULL && n < CALLERS_MAX; n++) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        PyObject *item = Py_BuildValue("(OiO)", code->co_filename,
                                       PyFrame_GetLineNumber(frame), code->co_name);
        Py_DECREF(code);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(frame);
            Py_DECREF(list);
            PyErr_Clear();
            return NULL;
        }
        Py_DECREF(item);
        PyFrameObject *back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
    Py_XDECREF(frame);
    return list;
}

/* Queue the report and have it written soon; 0 (nothing queued) when it
 * has to be written now: at exit, during finalization, from inside a
 * report, or without memory. */
static int
defer_report(PyObject *exc_type, PyObject *exc_value, PyObject *exc_tb,
             PyObject *callers, unsigned long counted, const char *where)
{
    if (reports_synchronous || hook_depth > 0 || PQG_IS_FINALIZING()
        || pending_calls_stuck()) {
        return 0;
    }
    pending_report *item = PyMem_RawCalloc(1, sizeof(*item));
    if (item == NULL) {
        return 0;
    }
#ifndef _WIN32
    watch_forks();
#endif
    item->exc_type = Py_NewRef(exc_type);
    item->exc_value = Py_XNewRef(exc_value);
    item->exc_tb = Py_XNewRef(exc_tb);
    item->callers = Py_XNewRef(callers);
    origin_now(&item->origin);
    capture_thread_name(&item->origin);
    item->counted = counted;
    snprintf(item->where, sizeof(item->where), "%s", where);
    char message[200];
    plain_message(exc_value, message, sizeof(message));
    item->unreported = pqg_unreported_add(item->origin.stamp, item->origin.name,
                                          where, message);
    if (pending_tail != NULL) {
        pending_tail->next = item;
    }
    else {
        pending_head = item;
    }
    pending_tail = item;
    pending_count++;
    wake_a_writer();
    return 1;
}

static void
report_exception(int source, PyObject *exc_type, PyObject *exc_value,
                 PyObject *exc_tb, PyObject *thread, PyObject *hook_args)
{
    saved_error saved;
    save_error(&saved);
    char where[PQG_REPEAT_WHERE_MAX];
    unsigned long counted = 0;
    if (!pqg_repeat_check(source, exc_type, exc_tb, &counted, where,
                          sizeof(where), write_repeat_count, NULL)) {
        PyErr_Clear();
        restore_error(&saved);              /* a repeat: counted only */
        return;
    }
    int from_err_print = source == HOOK_SYS && called_by_err_print(exc_value);
    /* Where the slot (or virtual) that raised was called from: the frames
     * are on this thread's stack now only. */
    PyObject *callers = from_err_print ? capture_callers(exc_value) : NULL;
    if (from_err_print
        && defer_report(exc_type, exc_value, exc_tb, callers, counted, where)) {
        Py_XDECREF(callers);
        restore_error(&saved);              /* written soon, see above */
        return;
    }
    if (!from_err_print) {
        in_hook--;                          /* not under PyQt6's flag: */
        write_queued(0);                    /* the queued reports come first */
        in_hook++;
    }
    if (counted > 0) {
        write_repeat_count(where, counted, 0, NULL);
    }
    report_origin origin;
    origin_now(&origin);
    emit_report(source, exc_type, exc_value, exc_tb, thread, hook_args, &origin, callers);
    Py_XDECREF(callers);
    restore_error(&saved);
}

/* ---- the hooks ---- */

/* A writer woken while this thread was in the hook (a chained hook of the
 * app's ran Python code) left the queue alone: wake one again. */
static void
leave_hook(void)
{
    in_hook--;
    if (in_hook == 0 && pending_head != NULL) {
        wake_a_writer();
    }
}

/* After uninstall(), a hook of ours that another tool wrapped in between
 * (sentry-sdk, a test helper) stays inside that tool's hook: it then only
 * calls on to the hook it had replaced, as if it were not there. */
static int hooks_inert = 0;

static PyObject *
excepthook_py(PyObject *Py_UNUSED(self), PyObject *const *args,
              Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "excepthook expects (type, value, traceback)");
        return NULL;
    }
    if (chaining[HOOK_SYS]) {
        Py_RETURN_NONE;                 /* called back by the hook we chain to */
    }
    if (hooks_inert) {
        return call_previous(HOOK_SYS, args, nargs);
    }
    in_hook++;
    report_exception(HOOK_SYS, args[0], args[1], args[2], NULL, NULL);
    chain_previous(HOOK_SYS, args, nargs);
    leave_hook();
    /* Uncaught at the top level (no frame runs): end by SIGINT, as Python
     * would have if the report's imports had not reset its flag. */
    if (PyEval_GetFrame() == NULL
        && PyErr_GivenExceptionMatches(args[0], PyExc_KeyboardInterrupt)) {
        pqg_exit_by_sigint_at_end();
    }
    Py_RETURN_NONE;
}

/* excepthook_for_thread(exc_type, exc_value, exc_tb, thread_name, native_id):
 * sys.excepthook's report and chaining, for an exception raised in another
 * thread than the one reporting it: the report names that thread. */
static PyObject *
excepthook_for_thread_py(PyObject *self, PyObject *args)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    const char *name;
    unsigned long native_id;
    if (!PyArg_ParseTuple(args, "OOOsk:excepthook_for_thread", &exc_type, &exc_value,
                          &exc_tb, &name, &native_id)) {
        return NULL;
    }
    PyObject *hook_args[3] = {exc_type, exc_value, exc_tb};
    const char *saved_name = origin_name_override;
    unsigned long saved_id = origin_id_override;
    origin_name_override = name;
    origin_id_override = native_id;
    PyObject *res = excepthook_py(self, hook_args, 3);
    origin_name_override = saved_name;
    origin_id_override = saved_id;
    return res;
}

/* threading.excepthook(args): args has exc_type, exc_value, exc_traceback
 * and thread.  SystemExit in a thread is silently ignored, as by default. */
static PyObject *
threading_excepthook_py(PyObject *Py_UNUSED(self), PyObject *hook_args)
{
    if (chaining[HOOK_THREADING]) {
        Py_RETURN_NONE;                 /* called back by the hook we chain to */
    }
    if (hooks_inert) {
        return call_previous(HOOK_THREADING, &hook_args, 1);
    }
    PyObject *exc_type = PyObject_GetAttrString(hook_args, "exc_type");
    PyObject *exc_value = PyObject_GetAttrString(hook_args, "exc_value");
    PyObject *exc_tb = PyObject_GetAttrString(hook_args, "exc_traceback");
    PyObject *thread = PyObject_GetAttrString(hook_args, "thread");
    if (exc_type == NULL || exc_value == NULL || exc_tb == NULL
        || thread == NULL) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError,
                        "threading.excepthook expects ExceptHookArgs");
    }
    else if (exc_type != PyExc_SystemExit) {
        in_hook++;
        report_exception(HOOK_THREADING, exc_type, exc_value, exc_tb,
                         thread, hook_args);
        chain_previous(HOOK_THREADING, &hook_args, 1);
        leave_hook();
    }
    Py_XDECREF(exc_type);
    Py_XDECREF(exc_value);
    Py_XDECREF(exc_tb);
    Py_XDECREF(thread);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
unraisablehook_py(PyObject *Py_UNUSED(self), PyObject *hook_args)
{
    if (chaining[HOOK_UNRAISABLE]) {
        Py_RETURN_NONE;                 /* called back by the hook we chain to */
    }
    if (hooks_inert) {
        return call_previous(HOOK_UNRAISABLE, &hook_args, 1);
    }
    PyObject *exc_type = PyObject_GetAttrString(hook_args, "exc_type");
    PyObject *exc_value = PyObject_GetAttrString(hook_args, "exc_value");
    PyObject *exc_tb = PyObject_GetAttrString(hook_args, "exc_traceback");
    if (exc_type == NULL || exc_value == NULL || exc_tb == NULL) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError,
                        "unraisablehook expects UnraisableHookArgs");
    }
    else {
        in_hook++;
        report_exception(HOOK_UNRAISABLE, exc_type, exc_value, exc_tb,
                         NULL, hook_args);
        chain_previous(HOOK_UNRAISABLE, &hook_args, 1);
        leave_hook();
    }
    Py_XDECREF(exc_type);
    Py_XDECREF(exc_value);
    Py_XDECREF(exc_tb);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* An exception a library caught and would only have printed (see
 * HOOK_ASYNCIO), reported as a hook's; the context is one line saying
 * where the library caught it. */
static PyObject *
library_report(int source, PyObject *exc_value, PyObject *context)
{
    if (!PyExceptionInstance_Check(exc_value)) {
        PyErr_Format(PyExc_TypeError, "%s report expects an exception",
                     hook_sources[source]);
        return NULL;
    }
    PyObject *exc_tb = PyException_GetTraceback(exc_value);
    in_hook++;
    report_exception(source, (PyObject *)Py_TYPE(exc_value), exc_value,
                     exc_tb != NULL ? exc_tb : Py_None, NULL, context);
    leave_hook();
    Py_XDECREF(exc_tb);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* asyncio_report(exception, context): an exception asyncio's default handler
 * got (a callback's, a task's never retrieved); the context is the
 * handler's message, one line. */
static PyObject *
asyncio_report_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *exc_value;
    PyObject *context;
    if (!PyArg_ParseTuple(args, "OU:asyncio_report", &exc_value, &context)) {
        return NULL;
    }
    return library_report(HOOK_ASYNCIO, exc_value, context);
}

/* matplotlib_report(exception, context): an exception matplotlib caught
 * and would have printed with traceback.print_exc(). */
static PyObject *
matplotlib_report_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *exc_value;
    PyObject *context;
    if (!PyArg_ParseTuple(args, "OU:matplotlib_report", &exc_value, &context)) {
        return NULL;
    }
    return library_report(HOOK_MATPLOTLIB, exc_value, context);
}

/* ---- configuration ---- */

static int
set_callable(PyObject **slot, PyObject *value, const char *what)
{
    if (value != Py_None && !PyCallable_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be callable or None", what);
        return -1;
    }
    Py_XSETREF(*slot, value == Py_None ? NULL : Py_NewRef(value));
    return 0;
}

static PyObject *
configure_hooks_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *formatter, *describer, *dispatcher;
    int to_stderr = 1;
    if (!PyArg_ParseTuple(args, "OOO|p:configure_hooks",
                          &formatter, &describer, &dispatcher, &to_stderr)) {
        return NULL;
    }
    state.to_stderr = to_stderr;
    Py_CLEAR(state.helpers_module);
    Py_CLEAR(state.stderr_poster);
    Py_CLEAR(state.path_noter);
    if (set_callable(&state.formatter, formatter, "formatter") < 0
        || set_callable(&state.describer, describer, "describer") < 0
        || set_callable(&state.dispatcher, dispatcher, "dispatcher") < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
configure_hooks_from_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *module_name;
    int to_stderr = 1;
    if (!PyArg_ParseTuple(args, "U|p:configure_hooks_from", &module_name,
                          &to_stderr)) {
        return NULL;
    }
    state.to_stderr = to_stderr;
    Py_XSETREF(state.helpers_module, Py_NewRef(module_name));
    Py_CLEAR(state.formatter);
    Py_CLEAR(state.describer);
    Py_CLEAR(state.dispatcher);
    Py_CLEAR(state.stderr_poster);
    Py_CLEAR(state.path_noter);
    Py_RETURN_NONE;
}

static PyObject *
set_previous_hooks_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *hooks[3];
    int inert = 0;
    if (!PyArg_ParseTuple(args, "OOO|p:set_previous_hooks",
                          &hooks[0], &hooks[1], &hooks[2], &inert)) {
        return NULL;
    }
    hooks_inert = inert;
    for (int i = 0; i < 3; i++) {
        if (set_callable(&state.previous[i], hooks[i], hook_sources[i]) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* message_repeat(text): False if `text` (a Qt message) is a repeat within
 * the interval - counted, not to be logged; True if it is to be logged
 * (after the count of its repeats since it last was, if any). */
static PyObject *
message_repeat_py(PyObject *Py_UNUSED(self), PyObject *text)
{
    Py_ssize_t len;
    const char *utf8 = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &len) : NULL;
    if (utf8 == NULL) {
        PyErr_Clear();
        Py_RETURN_TRUE;                 /* log it: never lose a message here */
    }
    char where[PQG_REPEAT_WHERE_MAX];
    unsigned long counted = 0;
    if (!pqg_repeat_check_text(utf8, (size_t)len, &counted, where, sizeof(where),
                               write_repeat_count, NULL)) {
        Py_RETURN_FALSE;
    }
    if (counted > 0) {
        write_repeat_count(where, counted, 1, NULL);
    }
    Py_RETURN_TRUE;
}

/* flush_exception_reports(exiting=False, budget=-1.0): write the queued
 * reports and the counts of repeats not yet reported (at exit, at
 * uninstall); exiting: from now on every report is written at once, in the
 * hook, and the queue within `budget` seconds (< 0: no limit). */
static PyObject *
flush_exception_reports_py(PyObject *Py_UNUSED(self), PyObject *args)
{
    int exiting = 0;
    double budget = -1.0;
    if (!PyArg_ParseTuple(args, "|pd:flush_exception_reports", &exiting, &budget)) {
        return NULL;
    }
    if (exiting) {
        reports_synchronous = 1;
        write_queued_at_exit(budget);
    }
    else {
        /* Another thread writing them: it takes these too, in order. */
        write_queued(0);
    }
    pqg_repeat_drain(write_repeat_count, NULL);
    PyErr_Clear();
    Py_RETURN_NONE;
}

/* write_queued_reports(*ignored): the GUI thread's QSocketNotifier slot
 * (it is passed the socket and its type): empty the wake-up pipe, write
 * what is queued. */
static PyObject *
write_queued_reports_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(args))
{
#ifndef _WIN32
    char bytes[64];
    while (wake_pipe[0] >= 0 && read(wake_pipe[0], bytes, sizeof(bytes)) > 0) {
    }
#endif
    write_queued(0);
    PyErr_Clear();
    Py_RETURN_NONE;
}

/* report_wakeup_fd(watch): watch=True - the GUI thread's event loop
 * watches the returned fd (readable: call write_queued_reports), -1 where
 * there is no such pipe (Windows: the main thread's pending call only);
 * watch=False - it no longer does. */
static PyObject *
report_wakeup_fd_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    int watch = PyObject_IsTrue(arg);
    if (watch < 0) {
        return NULL;
    }
    gui_loop_watching = 0;
#ifndef _WIN32
    if (watch && ensure_wake_pipe() == 0) {
        gui_loop_watching = 1;
        if (pending_head != NULL) {
            wake_a_writer();
        }
        return PyLong_FromLong(wake_pipe[0]);
    }
#endif
    if (pending_head != NULL) {
        wake_a_writer();
    }
    return PyLong_FromLong(-1);
}

/* report_deadline(budget): shutdown has begun - queued reports are written
 * for `budget` more seconds at most, the rest counted at exit; budget < 0:
 * it has not (an event loop runs again), no limit. */
static PyObject *
report_deadline_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    double budget = PyFloat_AsDouble(arg);
    if (budget == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    shutdown_deadline_ns = budget < 0 ? 0
                           : pqg_monotonic_ns() + (long long)(budget * 1e9) + 1;
    Py_RETURN_NONE;
}

static PyMethodDef exchooks_methods[] = {
    {"report_deadline", report_deadline_py, METH_O,
     PyDoc_STR("report_deadline($module, budget, /)\n--\n\nShutdown has begun: "
               "write queued exception reports for budget more seconds at most "
               "(< 0: no limit).")},
    {"message_repeat", message_repeat_py, METH_O,
     PyDoc_STR("message_repeat($module, text, /)\n--\n\nFalse if this Qt "
               "message repeats one logged within the repeat interval.")},
    {"flush_exception_reports", flush_exception_reports_py, METH_VARARGS,
     PyDoc_STR("flush_exception_reports($module, exiting=False, budget=-1.0, /)"
               "\n--\n\nWrite the queued exception reports and how often each "
               "exception was repeated since its last full report; exiting: "
               "report at once from now on, and write the queue within budget "
               "seconds (< 0: no limit).")},
    {"write_queued_reports", write_queued_reports_py, METH_VARARGS,
     PyDoc_STR("write_queued_reports($module, *ignored)\n--\n\nWrite the queued "
               "exception reports now (the GUI thread's wake-up slot).")},
    {"report_wakeup_fd", report_wakeup_fd_py, METH_O,
     PyDoc_STR("report_wakeup_fd($module, watch, /)\n--\n\nTrue: the GUI "
               "thread watches the returned fd (-1: none) and calls "
               "write_queued_reports when it is readable; False: it stops.")},
    {"excepthook", (PyCFunction)(void (*)(void))excepthook_py, METH_FASTCALL,
     PyDoc_STR("excepthook($module, exc_type, exc_value, exc_tb, /)\n--\n\n"
               "pyqtguard's sys.excepthook: report, chain, never raise.")},
    {"excepthook_for_thread", excepthook_for_thread_py, METH_VARARGS,
     PyDoc_STR("excepthook_for_thread($module, exc_type, exc_value, exc_tb, "
               "thread_name, native_id, /)\n--\n\n"
               "sys.excepthook for an exception raised in another thread: "
               "the report names that thread.")},
    {"threading_excepthook", threading_excepthook_py, METH_O,
     PyDoc_STR("threading_excepthook($module, args, /)\n--\n\n"
               "pyqtguard's threading.excepthook.")},
    {"unraisablehook", unraisablehook_py, METH_O,
     PyDoc_STR("unraisablehook($module, args, /)\n--\n\n"
               "pyqtguard's sys.unraisablehook.")},
    {"asyncio_report", asyncio_report_py, METH_VARARGS,
     PyDoc_STR("asyncio_report($module, exception, context, /)\n--\n\n"
               "Report an exception asyncio's default handler got.")},
    {"matplotlib_report", matplotlib_report_py, METH_VARARGS,
     PyDoc_STR("matplotlib_report($module, exception, context, /)\n--\n\n"
               "Report an exception matplotlib caught and would have printed.")},
    {"configure_hooks", configure_hooks_py, METH_VARARGS,
     PyDoc_STR("configure_hooks($module, formatter, describer, dispatcher, "
               "to_stderr=True, /)\n--\n\nSet the Python helpers (None: C "
               "fallback only) and whether reports go to stderr too.")},
    {"configure_hooks_from", configure_hooks_from_py, METH_VARARGS,
     PyDoc_STR("configure_hooks_from($module, module_name, to_stderr=True, "
               "/)\n--\n\nTake the Python helpers (_format, "
               "_describe_current_thread, _dispatch) from module_name, "
               "imported at the first exception.")},
    {"set_previous_hooks", set_previous_hooks_py, METH_VARARGS,
     PyDoc_STR("set_previous_hooks($module, excepthook, threading_hook, "
               "unraisablehook, inert=False, /)\n--\n\nHooks to chain to (None: "
               "none); inert: the hooks only call on to them (uninstalled).")},
    {NULL, NULL, 0, NULL},
};

int
pqg_exchooks_init(PyObject *module)
{
    return PyModule_AddFunctions(module, exchooks_methods);
}
