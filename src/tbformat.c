/* tbformat.c: write a Python traceback without any Python module.
 *
 * The exception hooks normally format with the traceback module (source
 * lines included).  During interpreter finalization module globals are
 * already cleared and that fails; so does a hook that re-enters itself.
 * This file is the fallback: it walks the traceback and exception chain with
 * the C API only and writes the report to the log fd (and the stderr fd),
 * one write() each.
 * It needs the GIL; it is not for signal handlers. */
#include "pyqtguard_native.h"

#include <string.h>

#define MAX_CHAIN 16
#define MAX_FRAMES 200

/* One report, composed in memory and written with one write() per
 * descriptor: fork children sharing the run log and reporting at once
 * wrote their pieces ('  File "', the name, '", line ', ...: hundreds of
 * write()s) into one another's - as their crash reports did once
 * (logfd.c's capture).  An O_APPEND write() of a regular file lands in one
 * piece.  A local per report, not a static: str() of an exception runs
 * Python code, which may let another thread in here, or re-enter.  Should
 * memory run out, what is composed is written and the rest goes straight
 * to the descriptor, as before. */
typedef struct {
    int fd;                     /* -1: none (the log past its size limit) */
    char *buf;                  /* PyMem */
    size_t len, size;
    int direct;                 /* no memory: write as it comes */
} report_part;

typedef struct {
    report_part log;            /* defused: the app's text cannot forge lines */
    report_part err;            /* stderr: as it is */
    int to_stderr;
} report_text;

static void
part_flush(report_part *part)
{
    if (part->len > 0) {
        pqg_write_all(part->fd, part->buf, part->len);
        part->len = 0;
    }
}

/* Room for n more bytes; 0 if there is none (then the part is direct). */
static int
part_reserve(report_part *part, size_t n)
{
    if (part->direct) {
        return 0;
    }
    if (part->len + n <= part->size) {
        return 1;
    }
    size_t size = part->size ? part->size : 4096;
    while (size < part->len + n) {
        size *= 2;
    }
    char *grown = PyMem_Realloc(part->buf, size);
    if (grown == NULL) {
        part_flush(part);
        part->direct = 1;
        return 0;
    }
    part->buf = grown;
    part->size = size;
    return 1;
}

static void
part_append(report_part *part, const char *s, size_t n)
{
    if (part->fd < 0 || n == 0) {
        return;
    }
    if (!part_reserve(part, n)) {
        pqg_write_all(part->fd, s, n);
        return;
    }
    memcpy(part->buf + part->len, s, n);
    part->len += n;
}

/* The app's text, defused (logfd.c: pqg_defuse_text). */
static void
part_append_defused(report_part *part, const char *s, size_t n, int at_line_start)
{
    if (part->fd < 0 || n == 0) {
        return;
    }
    size_t defused = pqg_defuse_text(s, n, at_line_start, NULL);
    if (!part_reserve(part, defused)) {
        pqg_write_text(part->fd, s, n, at_line_start);
        return;
    }
    (void)pqg_defuse_text(s, n, at_line_start, part->buf + part->len);
    part->len += defused;
}

static void
part_done(report_part *part)
{
    part_flush(part);
    PyMem_Free(part->buf);
    part->buf = NULL;
    part->size = 0;
}

static void
put_both(report_text *out, const char *s)
{
    part_append(&out->log, s, strlen(s));
    if (out->to_stderr) {
        part_append(&out->err, s, strlen(s));
    }
}

static void
put_unicode(report_text *out, PyObject *text)
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
    part_append_defused(&out->log, utf8, (size_t)len, 0);
    if (out->to_stderr) {
        part_append(&out->err, utf8, (size_t)len);
    }
    Py_XDECREF(holder);
}

static void
put_long(report_text *out, long value)
{
    char buf[24];
    PyOS_snprintf(buf, sizeof(buf), "%ld", value);
    put_both(out, buf);
}

static void
write_frame(report_text *out, PyObject *tb)
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
    put_both(out, "  File \"");
    put_unicode(out, filename);
    put_both(out, "\", line ");
    put_long(out, lineno ? PyLong_AsLong(lineno) : -1);
    PyErr_Clear();
    put_both(out, ", in ");
    put_unicode(out, name);
    put_both(out, "\n");
    Py_XDECREF(name);
    Py_XDECREF(filename);
    Py_XDECREF((PyObject *)code);
    Py_XDECREF(lineno);
    Py_XDECREF(frame);
}

static void
write_one(report_text *out, PyObject *exc_type, PyObject *exc_value, PyObject *exc_tb)
{
    if (exc_tb != NULL && exc_tb != Py_None) {
        put_both(out, "Traceback (most recent call last):\n");
        PyObject *tb = Py_NewRef(exc_tb);
        int count = 0;
        while (tb != NULL && tb != Py_None) {
            if (count++ == MAX_FRAMES) {
                put_both(out, "  ... (more frames omitted)\n");
                break;
            }
            write_frame(out, tb);
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
    put_both(out, type_name);
    if (exc_value != NULL && exc_value != Py_None) {
        PyObject *message = PyObject_Str(exc_value);
        if (message == NULL) {
            PyErr_Clear();
            put_both(out, ": <exception str() failed>");
        }
        else if (PyUnicode_GetLength(message) > 0) {
            put_both(out, ": ");
            put_unicode(out, message);
        }
        Py_XDECREF(message);
    }
    put_both(out, "\n");
}

/* Oldest first, like traceback.print_exception(chain=True); after
 * `header` (UTF-8; its first line pyqtguard's own), the log's copy ending
 * with an empty line. */
void
pqg_write_exception_fallback(int log_fd, const char *header, PyObject *exc_type,
                             PyObject *exc_value, PyObject *exc_tb, int to_stderr)
{
    report_text out = {
        .log = {.fd = log_fd},
        .err = {.fd = to_stderr ? pqg_stderr_fd() : -1},
        .to_stderr = to_stderr,
    };
    if (header != NULL) {
        part_append_defused(&out.log, header, strlen(header), 1);
        if (to_stderr) {
            part_append(&out.err, header, strlen(header));
        }
    }
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
        write_one(&out, (PyObject *)Py_TYPE(chain[i]), chain[i], tb);
        Py_XDECREF(tb);
        put_both(&out, explicit_cause[i - 1]
                       ? "\nThe above exception was the direct cause of the "
                         "following exception:\n\n"
                       : "\nDuring handling of the above exception, another "
                         "exception occurred:\n\n");
    }
    write_one(&out, exc_type, exc_value, exc_tb);
    part_append(&out.log, "\n", 1);
    part_done(&out.log);                /* the log first, as crash reports */
    part_done(&out.err);
}
