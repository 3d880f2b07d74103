/* logprune.c: deleting old run logs off the app's start-up path.
 *
 * Once the log folder holds its N runs, every start deletes the oldest:
 * one unlink() costs 0.5-1 ms on ext4 (the journal), more on network file
 * systems, which the app would pay before its first window.  The watchdog
 * thread does it instead when it runs (pqg_watchdog_post), else a
 * short-lived thread of pyqtguard's own, while the app starts.
 *
 * The interpreter's exit waits for deletions still running (at most
 * PRUNE_EXIT_WAIT_MS, from a Py_AtExit function: after the teardown, with a
 * single atomic load when nothing is pending), so the folder still holds the
 * newest N runs when a run ends a millisecond after it began.
 *
 * Windows: not done here (its paths are wide strings); the Python side
 * deletes them itself when unlink_in_background() says False.
 */
#include "pyqtguard_native.h"

#include <string.h>

#ifndef _WIN32
#  include <pthread.h>
#  include <stdatomic.h>
#  include <unistd.h>

#  define PRUNE_EXIT_WAIT_MS 200
#  define PRUNE_STACK (64 * 1024)

/* One deletion at a time, from a static buffer: the thread neither
 * allocates nor frees (a first malloc or free in a thread makes glibc give
 * it an arena of its own: 64 MiB of address space for the process's life).
 * Paths that do not fit, or a second request while one runs, are deleted
 * by the caller. */
static char paths[16 * 1024];        /* NUL-terminated paths, then "" */
static atomic_int pending = 0;       /* 1 while the thread owns `paths` */

static void
delete_paths(void)
{
    for (char *path = paths; *path != '\0'; path += strlen(path) + 1) {
        (void)unlink(path);          /* one that cannot go is left, as before */
    }
    atomic_store(&pending, 0);
}

static void *
deletion_thread_main(void *arg)
{
    (void)arg;
    pqg_name_this_thread("pyqtguard-prune");   /* registry: one of ours */
    delete_paths();
    return NULL;
}

/* fork() copies no thread: a child has no deletion running. */
static void
forget_deletions_in_child(void)
{
    atomic_store(&pending, 0);
}

/* Py_AtExit: runs after the interpreter's teardown, without Python. */
static void
wait_for_deletions(void)
{
    (void)pqg_wait_for_flag(&pending, 0, PRUNE_EXIT_WAIT_MS);
}

/* Pack the paths of `list` (str or bytes, file system encoding) into
 * `paths`.  1: packed; 0: they do not fit (nothing set); -1: error set. */
static int
pack_paths(PyObject *list)
{
    size_t used = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *encoded;
        if (!PyUnicode_FSConverter(PyList_GET_ITEM(list, i), &encoded)) {
            return -1;
        }
        size_t size = (size_t)PyBytes_GET_SIZE(encoded) + 1;
        int fits = size > 1 && used + size < sizeof(paths);
        if (fits) {
            memcpy(paths + used, PyBytes_AS_STRING(encoded), size);
            used += size;
        }
        Py_DECREF(encoded);
        if (!fits) {
            return 0;
        }
    }
    paths[used] = '\0';
    return 1;
}
#endif

/* unlink_in_background(paths: list) -> bool: True if a thread of ours
 * deletes them; False if the caller must (no thread could be started, or
 * Windows). */
static PyObject *
unlink_in_background_py(PyObject *Py_UNUSED(self), PyObject *list)
{
    if (!PyList_Check(list)) {
        PyErr_Format(PyExc_TypeError, "paths must be a list, not %.100s",
                     Py_TYPE(list)->tp_name);
        return NULL;
    }
#ifdef _WIN32
    Py_RETURN_FALSE;
#else
    if (PyList_GET_SIZE(list) == 0) {
        Py_RETURN_TRUE;
    }
    int idle = 0;
    if (!atomic_compare_exchange_strong(&pending, &idle, 1)) {
        Py_RETURN_FALSE;                 /* one is running: the caller deletes */
    }
    int packed = pack_paths(list);
    if (packed <= 0) {
        atomic_store(&pending, 0);
        if (packed < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    /* The watchdog does it if it runs: a thread started and ended costs
     * the app more than the deletion (and makes glibc's malloc take its
     * multi-threaded paths for the rest of the process). */
    if (pqg_watchdog_post(delete_paths)) {
        Py_RETURN_TRUE;
    }
    if (pqg_start_own_thread(deletion_thread_main, NULL, PRUNE_STACK, NULL) != 0) {
        atomic_store(&pending, 0);
        Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
#endif
}

static PyMethodDef logprune_methods[] = {
    {"unlink_in_background", unlink_in_background_py, METH_O,
     PyDoc_STR("unlink_in_background($module, paths, /)\n--\n\n"
               "Delete the files in a thread of pyqtguard's own (the exit "
               "waits for it); False if the caller must delete them.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_logprune_init(PyObject *module)
{
#ifndef _WIN32
    pthread_atfork(NULL, NULL, forget_deletions_in_child);
    (void)Py_AtExit(wait_for_deletions);     /* one atomic load if none runs */
#endif
    return PyModule_AddFunctions(module, logprune_methods);
}
