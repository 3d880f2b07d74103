/* tbformat.c: write a Python traceback without any Python module.
 *
 * The exception hooks normally format with the traceback module (source
 * lines included).  During interpreter finalization module globals are
 * already cleared and that fails; so does a hook that re-enters itself.
 * This file is the fallback: it walks the traceback and exception chain with
 * the C API only and writes straight to the log fd (and the stderr fd).
 * It needs the GIL; it is not for signal handlers. */
#include "pyqtguard_native.h"

#include <string.h>

#define MAX_CHAIN 16
#define MAX_FRAMES 200

/* The log fd of the report being written (-1: the log leaves it out, past
 * its size limit): set by pqg_write_exception_fallback(), under the GIL. */
static int report_log_fd = -1;

static void
put_both(const char *s, int to_stderr)
{
    pqg_puts(report_log_fd, s);
    if (to_stderr) {
        pqg_puts(pqg_stderr_fd(), s);
    }
}

static void
put_unicode(PyObject *text, int to_stderr)
{
    Py_ssize_t len = 3;
    PyObject *holder = NULL;        /* a file name that is not UTF-8: escaped */
    const char *utf8 = text != NULL ? pqg_utf8(text, &len, &holder) : NULL;
    if (utf8 == NULL) {
        PyErr_Clear();
        utf8 = "<?>";
        len = 3;
    }
    /* A message or file name from the app, after "Type: " or 'File "':
     * its next lines must not pass for a marker (logfd.c). */
    pqg_write_text(report_log_fd, utf8, (size_t)len, 0);
    if (to_stderr) {
        pqg_write_all(pqg_stderr_fd(), utf8, (size_t)len);
    }
    Py_XDECREF(holder);
}

static void
put_long(long value, int to_stderr)
{
    char buf[24];
    PyOS_snprintf(buf, sizeof(buf), "%ld", value);
    put_both(buf, to_stderr);
}

static void
write_frame(PyObject *tb, int to_stderr)
{
    PyObject *frame = PyObject_GetAttrString(tb, "tb_frame");
    PyObject *lineno = PyObject_GetAttrString(tb, "tb_lineno");
    PyCodeObject *code = NULL;
    if (frame != NULL && PyFrame_Check(frame)) {
        code = PyFrame_GetCode((PyFrameObject *)frame);   /* 3.9+ */
    }
    PyObject *filename = code ? PyObject_GetAttrString((PyObject *)code,
                                                       "co_filename") : NULL;
    PyObject *name = code ? PyObject_GetAttrString((PyObject *)code,
                                                   "co_name") : NULL;
    PyErr_Clear();
    put_both("  File \"", to_stderr);
    put_unicode(filename, to_stderr);
    put_both("\", line ", to_stderr);
    put_long(lineno ? PyLong_AsLong(lineno) : -1, to_stderr);
    PyErr_Clear();
    put_both(", in ", to_stderr);
    put_unicode(name, to_stderr);
    put_both("\n", to_stderr);
    Py_XDECREF(name);
    Py_XDECREF(filename);
    Py_XDECREF((PyObject *)code);
    Py_XDECREF(lineno);
    Py_XDECREF(frame);
}

static void
write_one(PyObject *exc_type, PyObject *exc_value, PyObject *exc_tb,
          int to_stderr)
{
    if (exc_tb != NULL && exc_tb != Py_None) {
        put_both("Traceback (most recent call last):\n", to_stderr);
        PyObject *tb = Py_NewRef(exc_tb);
        int count = 0;
        while (tb != NULL && tb != Py_None) {
            if (count++ == MAX_FRAMES) {
                put_both("  ... (more frames omitted)\n", to_stderr);
                break;
            }
            write_frame(tb, to_stderr);
            PyObject *next = PyObject_GetAttrString(tb, "tb_next");
            PyErr_Clear();
            Py_SETREF(tb, next);
        }
        Py_XDECREF(tb);
    }
    const char *type_name = "<unknown exception type>";
    if (exc_type != NULL && PyType_Check(exc_type)) {
        type_name = ((PyTypeObject *)exc_type)->tp_name;
    }
    put_both(type_name, to_stderr);
    if (exc_value != NULL && exc_value != Py_None) {
        PyObject *message = PyObject_Str(exc_value);
        if (message == NULL) {
            PyErr_Clear();
            put_both(": <exception str() failed>", to_stderr);
        }
        else if (PyUnicode_GetLength(message) > 0) {
            put_both(": ", to_stderr);
            put_unicode(message, to_stderr);
        }
        Py_XDECREF(message);
    }
    put_both("\n", to_stderr);
}

/* Oldest first, like traceback.print_exception(chain=True). */
void
pqg_write_exception_fallback(int log_fd, PyObject *exc_type, PyObject *exc_value,
                             PyObject *exc_tb, int to_stderr)
{
    report_log_fd = log_fd;
    PyObject *chain[MAX_CHAIN];
    int explicit_cause[MAX_CHAIN];
    int n = 0;
    PyObject *exc = exc_value;
    while (exc != NULL && PyExceptionInstance_Check(exc) && n < MAX_CHAIN) {
        int seen = 0;
        for (int i = 0; i < n; i++) {
            seen |= chain[i] == exc;        /* cycles happen in practice */
        }
        if (seen) {
            break;
        }
        chain[n] = exc;
        PyObject *cause = PyException_GetCause(exc);         /* new ref */
        PyObject *context = PyException_GetContext(exc);     /* new ref */
        int suppress = ((PyBaseExceptionObject *)exc)->suppress_context;
        explicit_cause[n] = cause != NULL;
        n++;
        exc = cause != NULL ? cause : (suppress ? NULL : context);
        /* The chain members stay alive through exc_value's references. */
        Py_XDECREF(cause);
        Py_XDECREF(context);
    }
    for (int i = n - 1; i >= 1; i--) {
        PyObject *tb = PyException_GetTraceback(chain[i]);
        write_one((PyObject *)Py_TYPE(chain[i]), chain[i], tb, to_stderr);
        Py_XDECREF(tb);
        put_both(explicit_cause[i - 1]
                 ? "\nThe above exception was the direct cause of the "
                   "following exception:\n\n"
                 : "\nDuring handling of the above exception, another "
                   "exception occurred:\n\n", to_stderr);
    }
    write_one(exc_type, exc_value, exc_tb, to_stderr);
}
