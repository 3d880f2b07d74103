/* crashcontext.c: one line of context the app sets for crash reports, and
 * a notice of where the report went.
 *
 * A test runner (pyqtguard's pytest plugin) says which test runs now and in
 * which phase; the fatal-signal handler writes it under the report's header
 * as "context: ...", so a crash names the test that caused it.  The runner
 * captures stderr, so the report's stderr copy may never be seen: it also
 * asks for a notice on a descriptor of its own (the terminal), written after
 * the report: "pyqtguard: crashed during <context>; <where the report is>".
 *
 * The text is copied, escaped to one line, into one of two fixed buffers
 * when it is set (outside any handler); the handler reads the buffer that
 * was published last, with an atomic load: no malloc, no lock, no Python.
 * Two buffers so that setting the next test's context never rewrites the
 * line a handler may be writing; a handler that runs across two updates may
 * show a mixed line, the tolerance faulthandler has for thread states. */
#include "pyqtguard_native.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#define CONTEXT_MAX 1024

static char buffers[2][CONTEXT_MAX];
static atomic_int current = -1;      /* index of the published buffer; -1: none */

/* Copy `text` into `out` as one line: control characters become spaces
 * (a newline in a test id must not start a line of the report). */
static void
copy_one_line(char *out, size_t size, const char *text, size_t length)
{
    size_t n = 0;
    for (; n < length && n + 1 < size; n++) {
        unsigned char c = (unsigned char)text[n];
        out[n] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[n] = '\0';
}

/* Signal-safe: an atomic load and write() of a line formatted beforehand. */
void
pqg_write_crash_context(int fd)
{
    int index = atomic_load_explicit(&current, memory_order_acquire);
    if (index < 0) {
        return;
    }
    pqg_puts(fd, "context: ");
    pqg_puts(fd, buffers[index]);
    pqg_puts(fd, "\n");
}

static volatile sig_atomic_t notice_fd = -1;   /* read by the handler */
static char notice[CONTEXT_MAX];

/* Signal-safe: write() of text prepared beforehand. */
void
pqg_write_crash_notice(void)
{
    if (notice_fd < 0) {
        return;
    }
    int index = atomic_load_explicit(&current, memory_order_acquire);
    pqg_puts(notice_fd, "\npyqtguard: crashed during ");
    pqg_puts(notice_fd, index >= 0 ? buffers[index] : "(no context)");
    pqg_puts(notice_fd, "; ");
    pqg_puts(notice_fd, notice);
    pqg_puts(notice_fd, "\n");
}

static PyObject *
set_crash_notice(PyObject *self, PyObject *args)
{
    (void)self;
    int fd;
    const char *text;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "is#:set_crash_notice", &fd, &text, &length)) {
        return NULL;
    }
    notice_fd = -1;                       /* no notice while the text changes */
    copy_one_line(notice, sizeof(notice), text, (size_t)length);
    notice_fd = fd;
    Py_RETURN_NONE;
}

static PyObject *
set_crash_context(PyObject *self, PyObject *arg)
{
    (void)self;
    if (arg == Py_None) {
        atomic_store_explicit(&current, -1, memory_order_release);
        Py_RETURN_NONE;
    }
    Py_ssize_t length;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &length);
    if (text == NULL) {
        return NULL;                      /* TypeError: not a str */
    }
    int next = atomic_load_explicit(&current, memory_order_acquire) == 0 ? 1 : 0;
    copy_one_line(buffers[next], sizeof(buffers[next]), text, (size_t)length);
    atomic_store_explicit(&current, next, memory_order_release);
    Py_RETURN_NONE;
}

static PyMethodDef crashcontext_methods[] = {
    {"set_crash_context", set_crash_context, METH_O,
     "set_crash_context(text or None): one line under the header of any crash "
     "report written from now on (e.g. the running test)."},
    {"set_crash_notice", set_crash_notice, METH_VARARGS,
     "set_crash_notice(fd, text): after a crash report, write 'pyqtguard: crashed "
     "during <context>; <text>' to fd (-1: off)."},
    {NULL, NULL, 0, NULL},
};

int
pqg_crashcontext_init(PyObject *module)
{
    return PyModule_AddFunctions(module, crashcontext_methods);
}
