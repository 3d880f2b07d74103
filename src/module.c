/* Module definition: each component adds its own functions in its init. */
#include "pyqtguard_native.h"

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyqtguard._native",
    .m_doc = "pyqtguard's C core: exception hooks, log fd, thread table, "
             "fatal-signal handler, watchdog and audit hook.",
    .m_size = -1,   /* process-global state: signal handlers are global too */
};

/* Whether the calling interpreter is the main one: pyqtguard runs there
 * only (a legacy subinterpreter, which shares the GIL, is given a copy of
 * this module's dict; an isolated one refuses it). */
static PyObject *
in_main_interpreter_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(PyInterpreterState_Get() == PyInterpreterState_Main());
}

static PyMethodDef module_methods[] = {
    {"in_main_interpreter", in_main_interpreter_py, METH_NOARGS,
     PyDoc_STR("in_main_interpreter($module, /)\n--\n\n"
               "Whether this is the main interpreter.")},
    {NULL, NULL, 0, NULL},
};

PyMODINIT_FUNC
PyInit__native(void)
{
    /* The state in src/ is the process's (signal handlers, the run log's
     * descriptor, hooks holding Python objects): it belongs to the main
     * interpreter.  A legacy subinterpreter (3.12+ create(isolated=False)
     * or 'legacy'; every subinterpreter of 3.11) would run this first when
     * the main interpreter has not imported the module yet, and every
     * later import, the main interpreter's too, would get a copy of a dict
     * made by an interpreter that may be gone.  Once the main interpreter
     * has it, a legacy subinterpreter gets that copy without a call here:
     * install() asks in_main_interpreter() for those. */
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_ImportError,
                        "pyqtguard._native is loaded in the main interpreter only: "
                        "pyqtguard.install() there guards the whole process, "
                        "subinterpreters included");
        return NULL;
    }
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddFunctions(module, module_methods) < 0
        || pqg_logfd_init(module) < 0
        || pqg_logprune_init(module) < 0
        || pqg_loglimit_init(module) < 0
        || pqg_threadtable_init(module) < 0
        || pqg_exchooks_init(module) < 0
        || pqg_excrepeats_init(module) < 0
        || pqg_crash_init(module) < 0
        || pqg_altstack_init(module) < 0
        || pqg_crashcontext_init(module) < 0
        || pqg_watchdog_init(module) < 0
        || pqg_interrupt_init(module) < 0
        || pqg_threadlist_init(module) < 0
        || pqg_audit_init(module) < 0
        || pqg_sipattach_init(module) < 0
        || pqg_widgetcheck_init(module) < 0)
    {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
