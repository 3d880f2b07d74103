/* watchdog.c: placeholder, filled in by its issue. */
#include "pyqtguard_native.h"

int
pqg_watchdog_init(PyObject *module)
{
    (void)module;
    return 0;
}
