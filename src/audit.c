/* audit.c: a C audit hook that sees process creation.
 *
 * Used by the spawn/forkserver child guard: while a child re-imports the
 * main module, starting a Python subprocess is refused.  The hook is in C
 * (PySys_AddAuditHook) so that, when no guard is active, an audit event
 * costs one flag test - Python-level hooks would run Python code for every
 * event of the process.  Audit hooks cannot be removed; the flag turns
 * this one into a no-op.
 *
 * Events differ across versions: "subprocess.Popen" and "os.posix_spawn",
 * "os.spawn", "os.exec", "os.system" exist in 3.8-3.14; "os.fork" from 3.9;
 * "_winapi.CreateProcess" on Windows.  QProcess raises no audit event at
 * all: Qt starts processes in C++.
 *
 * Hooks added with PySys_AddAuditHook are the runtime's: every interpreter's
 * events reach this one, a subinterpreter's too (3.12+: _interpreters,
 * concurrent.interpreters), with that interpreter's thread state attached
 * and its GIL - not the main interpreter's.  The callback is an object of
 * the interpreter that set it: called from another it ran that one's code
 * with the other's types and allocator (a TypeError naming os.stat_result
 * against os.stat_result, on 3.12).  Another interpreter's events are left
 * to it, as without pyqtguard.
 */
#include "pyqtguard_native.h"

#include <string.h>

static int hook_added = 0;
static int active = 0;
static PyObject *callback = NULL;        /* strong reference while active */
static PyInterpreterState *callback_interp = NULL;   /* the one that set it */

static const char *const process_events[] = {
    "subprocess.Popen", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
    "os.fork", "os.forkpty", "_winapi.CreateProcess",
};

static int
is_process_event(const char *event)
{
    for (size_t i = 0; i < Py_ARRAY_LENGTH(process_events); i++) {
        if (strcmp(event, process_events[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
audit_hook(const char *event, PyObject *args, void *user_data)
{
    (void)user_data;
    if (!active || callback == NULL || !is_process_event(event)) {
        return 0;
    }
    /* The runtime calls its hooks with a thread state attached; unchecked,
     * as a NULL one is no interpreter's.  PyThreadState_GetUnchecked() is
     * public from 3.13; _PyThreadState_UncheckedGet() is its 3.11-3.12 name. */
#if PY_VERSION_HEX >= 0x030D0000
    PyThreadState *tstate = PyThreadState_GetUnchecked();
#else
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
#endif
    if (tstate == NULL || PyThreadState_GetInterpreter(tstate) != callback_interp) {
        return 0;                         /* another interpreter's event */
    }
    PyObject *result = PyObject_CallFunction(callback, "sO", event, args);
    if (result == NULL) {
        return -1;                        /* the callback refused: raise */
    }
    Py_DECREF(result);
    return 0;
}

static PyObject *
process_audit_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    if (arg != Py_None && !PyCallable_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "callback must be callable or None");
        return NULL;
    }
    if (!hook_added) {
        if (PySys_AddAuditHook(audit_hook, NULL) < 0) {
            return NULL;
        }
        hook_added = 1;
    }
    Py_XINCREF(arg == Py_None ? NULL : arg);
    Py_XSETREF(callback, arg == Py_None ? NULL : arg);
    callback_interp = PyInterpreterState_Get();
    active = callback != NULL;
    Py_RETURN_NONE;
}

static PyMethodDef audit_methods[] = {
    {"process_audit", process_audit_py, METH_O,
     PyDoc_STR("process_audit($module, callback, /)\n--\n\n"
               "Call callback(event, args) on process-creation audit events; "
               "it may raise to refuse.  None turns it off.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_audit_init(PyObject *module)
{
    return PyModule_AddFunctions(module, audit_methods);
}
