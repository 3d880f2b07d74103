/* altstack.c: an alternate signal stack for every thread pyqtguard reaches.
 *
 * A fatal-signal handler runs on the faulting thread.  When the fault is a
 * stack overflow, that thread's stack has no room left: the kernel can only
 * run the handler on an alternate stack (sigaltstack), and an alternate stack
 * belongs to one thread.  CPython's faulthandler sets one up for the thread
 * that enables it (the main thread) and no other, up to 3.14 at least, so a
 * stack overflow in any other thread killed the process with no report.
 *
 * Here each thread gets its own when it starts: Python threads, QThreads and
 * pyqtguard workers when they record themselves in the thread table
 * (threadtable.c), pyqtguard's own native threads when they start
 * (ownthread.c), the thread that installs the crash handler then (crash.c).
 * The rules, faulthandler's and ours:
 *
 *  - never replace an alternate stack the thread already has (faulthandler's
 *    in the main thread, a Go runtime's, a library's): sigaltstack(NULL, &old)
 *    first, and an enabled one is kept;
 *  - the size: faulthandler's (SIGSTKSZ * 2, or SIGSTKSZ + the kernel's
 *    AT_MINSIGSTKSZ where Linux gives it: bpo-21131, bpo-46968) plus 64 KiB
 *    for our handler, which walks the native stack and, on 3.13+, chains to
 *    faulthandler's on the same stack;
 *  - mapped on its own with a PROT_NONE guard page below it, not taken from
 *    the heap: an overflow of the handler's own stack faults (the kernel ends
 *    the process) instead of overwriting whatever lay next to it;
 *  - freed when the thread ends, by a pthread key destructor (it runs in the
 *    ending thread, after its start routine returned, for any pthread: Python's
 *    and Qt's alike), and only if it is still the thread's alternate stack and
 *    not in use: disabled first (SS_DISABLE), then unmapped.  One the thread
 *    replaced since is left mapped (counted): whoever replaced it may put it
 *    back, and signal delivery must never land in memory mapped for
 *    something else.
 *
 * Cost: starting a thread costs mmap + mprotect + 2 sigaltstack calls, ending
 * it sigaltstack x 2 + munmap.  Freed stacks are kept in a small lock-free
 * cache for the next threads, so a steady stream of short threads costs four
 * sigaltstack calls each and no change to the address space.
 *
 * Nothing here runs in a signal handler; the handler only benefits from the
 * stacks (SA_ONSTACK, crash.c).
 *
 * Windows has no sigaltstack: an SEH filter runs on the faulting thread's
 * own stack, and SetThreadStackGuarantee() keeps room at its end after a
 * stack overflow (EXCEPTION_STACK_OVERFLOW) for the filter to write the
 * report.  It is set per thread, at the same points.
 */
#include "pyqtguard_native.h"

#include <stdatomic.h>
#include <string.h>

#ifdef _WIN32
#  include <windows.h>
#else
#  include <errno.h>
#  include <pthread.h>
#  include <signal.h>
#  include <sys/mman.h>
#  include <unistd.h>
#  if defined(__linux__)
#    include <sys/auxv.h>
#  endif
#endif

/* What our handler needs beyond faulthandler's size: its own frames, the
 * native stack walk (libgcc's unwinder keeps a context of a few KiB per
 * frame it steps through) and, on 3.13+, faulthandler's handler on top. */
#define PQG_HANDLER_EXTRA (64 * 1024)
/* Freed stacks kept for the next threads. */
#define CACHE_SLOTS 16

static atomic_int threads_on = 0;       /* new threads get a stack */
static atomic_ulong installed = 0;      /* counters, for tests and docs */
static atomic_ulong kept_foreign = 0;
static atomic_ulong left_mapped = 0;
static atomic_ulong failed = 0;

#ifndef _WIN32

static size_t page_size = 0;
static size_t usable_size = 0;          /* the part handed to sigaltstack */
static int key_ready = 0;
static pthread_key_t key;
/* A thread that kept its own stack: the key holds this, not a mapping. */
static char foreign_marker;
#define FOREIGN ((void *)&foreign_marker)
/* Each slot holds a mapping's base or NULL; taken with an exchange, given
 * back with a compare-and-swap: no lock (fork-safe), no ABA (a slot is one
 * pointer, owned by whoever exchanged it out). */
static _Atomic(char *) cache[CACHE_SLOTS];

static size_t
stack_size_needed(void)
{
    size_t size = (size_t)SIGSTKSZ * 2;
#  if defined(__linux__) && defined(AT_MINSIGSTKSZ)
    unsigned long minimum = getauxval(AT_MINSIGSTKSZ);
    if (minimum != 0 && (size_t)SIGSTKSZ + minimum > size) {
        size = (size_t)SIGSTKSZ + minimum;
    }
#  endif
    size += PQG_HANDLER_EXTRA;
    return (size + page_size - 1) / page_size * page_size;
}

static char *
take_mapping(void)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (atomic_load_explicit(&cache[i], memory_order_relaxed) != NULL) {
            char *mapping = atomic_exchange(&cache[i], NULL);
            if (mapping != NULL) {
                return mapping;
            }
        }
    }
    char *mapping = mmap(NULL, usable_size + page_size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        return NULL;
    }
    (void)mprotect(mapping, page_size, PROT_NONE);  /* the guard page: best effort */
    return mapping;
}

static void
give_back_mapping(char *mapping)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        char *expected = NULL;
        if (atomic_compare_exchange_strong(&cache[i], &expected, mapping)) {
            return;
        }
    }
    (void)munmap(mapping, usable_size + page_size);
}

/* The key's destructor: the thread is ending (its start routine returned or
 * it called pthread_exit); runs in that thread. */
static void
release_at_thread_end(void *value)
{
    if (value == NULL || value == FOREIGN) {
        return;
    }
    char *mapping = value;
    stack_t current;
    if (sigaltstack(NULL, &current) != 0
        || (char *)current.ss_sp != mapping + page_size
        || (current.ss_flags & SS_ONSTACK))
    {
        /* Replaced since (or in use: a handler that never returned): whoever
         * holds it now may restore ours; leave it mapped. */
        atomic_fetch_add(&left_mapped, 1);
        return;
    }
    stack_t off;
    memset(&off, 0, sizeof(off));
    off.ss_flags = SS_DISABLE;
    if (sigaltstack(&off, NULL) != 0) {
        atomic_fetch_add(&left_mapped, 1);
        return;
    }
    give_back_mapping(mapping);
}

int
pqg_altstack_prepare(void)
{
    if (!key_ready) {
        page_size = (size_t)sysconf(_SC_PAGESIZE);
        usable_size = stack_size_needed();
        int error = pthread_key_create(&key, release_at_thread_end);
        if (error != 0) {
            errno = error;
            return -1;
        }
        key_ready = 1;
    }
    atomic_store(&threads_on, 1);
    return 0;
}

int
pqg_altstack_this_thread(int always)
{
    /* threads_on is stored after the key and the sizes are set (prepare):
     * loading it first orders those reads after their writes. */
    if (!always && !atomic_load_explicit(&threads_on, memory_order_acquire)) {
        return 0;
    }
    if (!key_ready) {
        return 0;
    }
    if (pthread_getspecific(key) != NULL) {
        return 0;                      /* done for this thread: ours, or kept */
    }
    stack_t old;
    if (sigaltstack(NULL, &old) != 0) {
        atomic_fetch_add(&failed, 1);
        return -1;
    }
    if (!(old.ss_flags & SS_DISABLE)) {
        /* The thread has one (faulthandler's, a runtime's): keep it. */
        atomic_fetch_add(&kept_foreign, 1);
        (void)pthread_setspecific(key, FOREIGN);
        return 0;
    }
    char *mapping = take_mapping();
    if (mapping == NULL) {
        atomic_fetch_add(&failed, 1);
        return -1;
    }
    stack_t alt;
    memset(&alt, 0, sizeof(alt));
    alt.ss_sp = mapping + page_size;
    alt.ss_size = usable_size;
    alt.ss_flags = 0;
    if (sigaltstack(&alt, NULL) != 0) {
        int saved = errno;
        give_back_mapping(mapping);
        errno = saved;
        atomic_fetch_add(&failed, 1);
        return -1;
    }
    if (pthread_setspecific(key, mapping) != 0) {
        /* No destructor would free it: leave it installed for this thread's
         * life (a leak of one stack) rather than unprotected. */
        atomic_fetch_add(&left_mapped, 1);
    }
    atomic_fetch_add(&installed, 1);
    return 1;
}

/* The thread's alternate stack is faulthandler's, set up when pyqtguard
 * itself enabled faulthandler (3.13+: crash_enable with faulthandler's file
 * pyqtguard's memfd), and smaller than ours: replace it.  Four handlers nest
 * on it at a stack overflow (ours, faulthandler's, the stacks handler, the
 * app's earlier one), each under a kernel signal frame; faulthandler's 16.5
 * KiB left the last 4.4 KiB.  faulthandler sets its stack up once (at its
 * first enable) and, unloading, restores the one it found only if its own
 * is still current: ours stays; its memory it frees then, not in use.
 * 1 replaced, 0 nothing to do, -1 failed (errno). */
int
pqg_altstack_replace_smaller(void)
{
    if (!key_ready) {
        return 0;
    }
    void *value = pthread_getspecific(key);
    if (value != NULL && value != FOREIGN) {
        return 0;                           /* ours already */
    }
    stack_t old;
    if (sigaltstack(NULL, &old) != 0) {
        return -1;
    }
    if ((old.ss_flags & SS_DISABLE) || (old.ss_flags & SS_ONSTACK)
        || old.ss_size >= usable_size) {
        return 0;
    }
    char *mapping = take_mapping();
    if (mapping == NULL) {
        return -1;
    }
    stack_t alt;
    memset(&alt, 0, sizeof(alt));
    alt.ss_sp = mapping + page_size;
    alt.ss_size = usable_size;
    if (sigaltstack(&alt, NULL) != 0) {
        int saved = errno;
        give_back_mapping(mapping);
        errno = saved;
        return -1;
    }
    if (pthread_setspecific(key, mapping) != 0) {
        atomic_fetch_add(&left_mapped, 1);
    }
    atomic_fetch_add(&installed, 1);
    return 1;
}

static void
describe_current(PyObject *dict)
{
    stack_t current;
    if (sigaltstack(NULL, &current) == 0) {
        PyObject *sp = PyLong_FromVoidPtr(current.ss_sp);
        PyObject *size = PyLong_FromSize_t(current.ss_size);
        PyObject *enabled = PyBool_FromLong(!(current.ss_flags & SS_DISABLE));
        if (sp != NULL && size != NULL && enabled != NULL) {
            (void)PyDict_SetItemString(dict, "this_thread_sp", sp);
            (void)PyDict_SetItemString(dict, "this_thread_size", size);
            (void)PyDict_SetItemString(dict, "this_thread_enabled", enabled);
        }
        Py_XDECREF(sp);
        Py_XDECREF(size);
        Py_XDECREF(enabled);
    }
    void *value = key_ready ? pthread_getspecific(key) : NULL;
    PyObject *owner = PyUnicode_FromString(
        value == NULL ? "none" : value == FOREIGN ? "kept" : "pyqtguard");
    if (owner != NULL) {
        (void)PyDict_SetItemString(dict, "this_thread", owner);
        Py_DECREF(owner);
    }
}

#else  /* _WIN32 */

int
pqg_altstack_replace_smaller(void)
{
    return 0;                           /* no alternate stacks (SEH) */
}

int
pqg_altstack_prepare(void)
{
    atomic_store(&threads_on, 1);
    return 0;
}

static PQG_THREAD_LOCAL int guaranteed = 0;

int
pqg_altstack_this_thread(int always)
{
    if (guaranteed || (!always && !atomic_load(&threads_on))) {
        return 0;
    }
    /* Room kept at the end of the stack after EXCEPTION_STACK_OVERFLOW for
     * the filter (crash.c) to write the report.  A larger guarantee the
     * thread already has is kept: the call only ever raises it. */
    ULONG guarantee = 0;
    if (SetThreadStackGuarantee(&guarantee) && guarantee >= PQG_HANDLER_EXTRA) {
        atomic_fetch_add(&kept_foreign, 1);
        guaranteed = 1;
        return 0;
    }
    guarantee = PQG_HANDLER_EXTRA;
    if (!SetThreadStackGuarantee(&guarantee)) {
        atomic_fetch_add(&failed, 1);
        return -1;
    }
    guaranteed = 1;
    atomic_fetch_add(&installed, 1);
    return 1;
}

static void
describe_current(PyObject *dict)
{
    PyObject *owner = PyUnicode_FromString(guaranteed ? "pyqtguard" : "none");
    if (owner != NULL) {
        (void)PyDict_SetItemString(dict, "this_thread", owner);
        Py_DECREF(owner);
    }
}

#endif

void
pqg_altstack_stop(void)
{
    atomic_store(&threads_on, 0);     /* threads that have one keep it to their end */
}

/* ---- Python API ---- */

static PyObject *
altstack_stats_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyObject *dict = Py_BuildValue(
        "{sisksksksksn}", "new_threads", atomic_load(&threads_on),
        "installed", atomic_load(&installed), "kept_foreign", atomic_load(&kept_foreign),
        "left_mapped", atomic_load(&left_mapped), "failed", atomic_load(&failed),
#ifndef _WIN32
        "size", (Py_ssize_t)usable_size
#else
        "size", (Py_ssize_t)PQG_HANDLER_EXTRA
#endif
    );
    if (dict != NULL) {
        describe_current(dict);
    }
    return dict;
}

static PyObject *
altstack_for_new_threads_py(PyObject *Py_UNUSED(self), PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0) {
        return NULL;
    }
    int was = atomic_load(&threads_on);
    if (on) {
        if (pqg_altstack_prepare() < 0) {
            return PyErr_SetFromErrno(PyExc_OSError);
        }
    }
    else {
        pqg_altstack_stop();
    }
    return PyBool_FromLong(was);
}

static PyMethodDef altstack_methods[] = {
    {"altstack_stats", altstack_stats_py, METH_NOARGS,
     PyDoc_STR("altstack_stats($module, /)\n--\n\n"
               "Per-thread alternate signal stacks: counters, their size, and "
               "the calling thread's.")},
    {"altstack_for_new_threads", altstack_for_new_threads_py, METH_O,
     PyDoc_STR("altstack_for_new_threads($module, on, /)\n--\n\n"
               "Whether threads that start from now on get an alternate "
               "signal stack (on while the crash handler is); returns the "
               "previous setting.  For benchmarks and tests.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_altstack_init(PyObject *module)
{
    return PyModule_AddFunctions(module, altstack_methods);
}
