/* Module definition: each component adds its own functions in its init. */
#include "pyqtguard_native.h"

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyqtguard._native",
    .m_doc = "pyqtguard's C core: exception hooks, log fd, thread table, "
             "fatal-signal handler, watchdog and audit hook.",
    .m_size = -1,   /* process-global state: signal handlers are global too */
};

PyMODINIT_FUNC
PyInit__native(void)
{
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    if (pqg_logfd_init(module) < 0
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
