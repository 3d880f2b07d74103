/* threadlist.c: every OS thread of the process, with its OS-level name -
 * including threads Python never heard of (a library's worker threads,
 * Qt's pool threads, a driver's threads).
 *
 * Linux: /proc/self/task/<tid>/comm.  macOS: task_threads() and
 * pthread_getname_np() via the pthread of each Mach thread.  Windows:
 * a Toolhelp snapshot and GetThreadDescription() (Windows 10 1607+).
 * Not signal-safe (allocates Python objects); called with the GIL.
 */
#include "pyqtguard_native.h"

#include <string.h>

#if defined(__linux__)
#  include <dirent.h>
#  include <stdatomic.h>
#  include <sys/stat.h>
#  include <stdio.h>
#  include <fcntl.h>
#  include <stdlib.h>
#  include <unistd.h>
#elif defined(__APPLE__)
#  include <mach/mach.h>
#  include <pthread.h>
#elif defined(_WIN32)
#  include <windows.h>
#  include <tlhelp32.h>
#endif

/* Append (native id, name), or the bare native id if name is NULL. */
static int
append_thread(PyObject *list, unsigned long native_id, const char *name)
{
    PyObject *entry = name == NULL ? PyLong_FromUnsignedLong(native_id) : Py_BuildValue(
        "(kN)", native_id,
        PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "replace"));
    if (entry == NULL) {
        return -1;
    }
    int result = PyList_Append(list, entry);
    Py_DECREF(entry);
    return result;
}

#if defined(__linux__)
static void
read_comm(const char *tid, char *name, size_t size)
{
    char path[96];
    name[0] = '\0';
    if (strlen(tid) > 24) {
        return;                          /* not a thread id */
    }
    snprintf(path, sizeof(path), "/proc/self/task/%.24s/comm", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t n = read(fd, name, size - 1);
    close(fd);
    if (n < 0) {
        n = 0;
    }
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == '\0')) {
        n--;
    }
    name[n] = '\0';
}

static int
list_threads(PyObject *list, int with_names)
{
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, "/proc/self/task");
        return -1;
    }
    struct dirent *entry;
    char name[64];
    int result = 0;
    while (result == 0 && (entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') {
            continue;
        }
        if (with_names) {
            read_comm(entry->d_name, name, sizeof(name));
        }
        result = append_thread(list, strtoul(entry->d_name, NULL, 10),
                               with_names ? name : NULL);
    }
    closedir(dir);
    return result;
}

#elif defined(__APPLE__)
static int
list_threads(PyObject *list, int with_names)
{
    thread_act_array_t threads;
    mach_msg_type_number_t count;
    if (task_threads(mach_task_self(), &threads, &count) != KERN_SUCCESS) {
        PyErr_SetString(PyExc_OSError, "task_threads failed");
        return -1;
    }
    int result = 0;
    for (mach_msg_type_number_t i = 0; i < count; i++) {
        char name[64] = "";
        uint64_t tid = 0;
        pthread_t pthread = pthread_from_mach_thread_np(threads[i]);
        if (pthread != NULL) {
            if (with_names) {
                pthread_getname_np(pthread, name, sizeof(name));
            }
            pthread_threadid_np(pthread, &tid);
        }
        if (result == 0) {
            result = append_thread(list, (unsigned long)tid, with_names ? name : NULL);
        }
        mach_port_deallocate(mach_task_self(), threads[i]);
    }
    vm_deallocate(mach_task_self(), (vm_address_t)threads, count * sizeof(thread_act_t));
    return result;
}

#elif defined(_WIN32)
typedef HRESULT (WINAPI *get_description_fn)(HANDLE, PWSTR *);

static void
thread_description(DWORD tid, char *name, size_t size)
{
    static get_description_fn get_description = NULL;
    name[0] = '\0';
    if (get_description == NULL) {
        get_description = (get_description_fn)(void (*)(void))GetProcAddress(
            GetModuleHandleW(L"kernel32.dll"), "GetThreadDescription");
        if (get_description == NULL) {
            return;                      /* before Windows 10 1607 */
        }
    }
    HANDLE handle = OpenThread(THREAD_QUERY_LIMITED_INFORMATION, FALSE, tid);
    if (handle == NULL) {
        return;
    }
    PWSTR wide = NULL;
    if (SUCCEEDED(get_description(handle, &wide)) && wide != NULL) {
        WideCharToMultiByte(CP_UTF8, 0, wide, -1, name, (int)size, NULL, NULL);
        LocalFree(wide);
    }
    CloseHandle(handle);
}

static int
list_threads(PyObject *list, int with_names)
{
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    if (snapshot == INVALID_HANDLE_VALUE) {
        PyErr_SetFromWindowsErr(0);
        return -1;
    }
    THREADENTRY32 entry;
    entry.dwSize = sizeof(entry);
    DWORD pid = GetCurrentProcessId();
    int result = 0;
    for (BOOL ok = Thread32First(snapshot, &entry); ok && result == 0;
         ok = Thread32Next(snapshot, &entry)) {
        if (entry.th32OwnerProcessID != pid) {
            continue;
        }
        char name[64];
        if (with_names) {
            thread_description(entry.th32ThreadID, name, sizeof(name));
        }
        result = append_thread(list, (unsigned long)entry.th32ThreadID,
                               with_names ? name : NULL);
    }
    CloseHandle(snapshot);
    return result;
}

#else
static int
list_threads(PyObject *list, int with_names)
{
    (void)list;
    (void)with_names;
    PyErr_SetString(PyExc_NotImplementedError, "no thread listing on this platform");
    return -1;
}
#endif

static PyObject *
listed_threads(int with_names)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    if (list_threads(list, with_names) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

static PyObject *
os_threads_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return listed_threads(1);
}

/* Native ids only: on Linux one directory read, no file per thread (what
 * QThread.start's wrapper takes before and after the start). */
static PyObject *
os_thread_ids_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return listed_threads(0);
}

/* (ident, native id) of every thread that has a Python thread state - also
 * those threading does not know (Qt's pool threads running a QRunnable).
 * PyThreadState's thread_id and native_thread_id exist in 3.11-3.14.
 *
 * Both walks of the thread states here keep the GIL from the first state
 * to the last, or a thread that ends meanwhile frees the state the walk
 * stands on.  Nothing in them lets it go but a garbage collection: 3.11
 * runs one inside any GC-tracked allocation (the frame object made for a
 * thread, a tuple), whose callbacks and finalizers run Python code that
 * may (a sleep, a file closed) - SIGSEGV in the next PyThreadState_Next.
 * So the collector is off for the walk (3.12+ only schedules one there). */
static PyObject *
python_thread_ids_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    PyInterpreterState *interp = PyInterpreterState_Get();
    int gc_was_on = PyGC_Disable();      /* the GIL kept: see above */
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL;
         t = PyThreadState_Next(t)) {
        PyObject *pair = Py_BuildValue("(kk)", t->thread_id, t->native_thread_id);
        if (pair == NULL || PyList_Append(list, pair) < 0) {
            Py_XDECREF(pair);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(pair);
    }
    if (gc_was_on) {
        PyGC_Enable();
    }
    return list;
}

/* {ident: frame} of the calling interpreter's threads that run Python
 * code: sys._current_frames() of this interpreter alone.  CPython's
 * (3.12-3.14, _PyThread_CurrentFrames) walks every interpreter and makes
 * frame objects for the frames of the others, with this interpreter's
 * allocator: a subinterpreter with its own (the default config of 3.12+:
 * _interpreters, concurrent.interpreters) frees them with its own when the
 * frame returns - "free(): invalid pointer", SIGABRT.  A thread that runs a
 * subinterpreter keeps its state here too, whose frame is where it entered
 * it (run_string, Interpreter.exec): that is what is returned for it.
 * The list is walked with the GIL held, as python_thread_ids does: a
 * thread deletes its own state holding the GIL (3.11-3.14), and the
 * collector is off meanwhile (see python_thread_ids_py). */
static PyObject *
current_frames_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyObject *frames = PyDict_New();
    if (frames == NULL) {
        return NULL;
    }
    PyInterpreterState *interp = PyInterpreterState_Get();
    int gc_was_on = PyGC_Disable();      /* see python_thread_ids_py */
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL;
         t = PyThreadState_Next(t)) {
        PyFrameObject *frame = PyThreadState_GetFrame(t);   /* new reference */
        if (frame == NULL) {
            if (PyErr_Occurred()) {
                Py_CLEAR(frames);
                break;
            }
            continue;                     /* runs no Python code */
        }
        PyObject *ident = PyLong_FromUnsignedLong(t->thread_id);
        int failed = ident == NULL
                     || PyDict_SetItem(frames, ident, (PyObject *)frame) < 0;
        Py_XDECREF(ident);
        Py_DECREF(frame);
        if (failed) {
            Py_CLEAR(frames);
            break;
        }
    }
    if (gc_was_on) {
        PyGC_Enable();
    }
    return frames;
}

/* ---- the thread count ----
 *
 * Asked at every clean exit (are threads other than ours still alive?), so
 * it must be cheap there.  Linux: /proc/self/task, opened ahead of need by
 * the watchdog thread (pqg_prepare_thread_count), reports the thread count
 * in its link count (2 + threads, kept by proc_task_getattr since Linux
 * 2.6): one fstat() on an open descriptor, ~10 us at exit where opening and
 * reading /proc/self/stat costs 40-90 us (its /proc entries are cold by
 * then).  Without it (no watchdog yet, a forked child whose descriptor
 * still names the parent): field 20 of /proc/self/stat. */

#if defined(__linux__)
static atomic_int task_dir_fd = -1;
static atomic_long task_dir_pid = 0;

/* The descriptor, if it was opened by this process (not a fork parent), or -1. */
static int
own_task_dir_fd(void)
{
    int fd = atomic_load(&task_dir_fd);
    return fd >= 0 && atomic_load(&task_dir_pid) == pqg_getpid() ? fd : -1;
}

static long
count_from_task_dir(void)
{
    int fd = own_task_dir_fd();
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_nlink < 3) {
        return -1;
    }
    return (long)st.st_nlink - 2;
}

/* Counted after the ')' that ends the command name (which may itself hold
 * spaces and parentheses). */
static long
count_from_proc_stat(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    /* After ')': field 3 (state) is the 1st word, field 20 the 18th. */
    for (int field = 2; p != NULL && field < 20; field++) {
        p = strchr(p + 1, ' ');
    }
    return p != NULL ? strtol(p + 1, NULL, 10) : -1;
}
#endif

/* Called by the watchdog thread when it starts (no GIL needed).  The link
 * count is trusted only if it agrees that at least this thread and the
 * main thread exist; otherwise the descriptor is closed again. */
void
pqg_prepare_thread_count(void)
{
#if defined(__linux__)
    if (own_task_dir_fd() >= 0) {
        return;
    }
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        return;
    }
    if (fstat(fd, &st) != 0 || st.st_nlink < 2 + 2) {
        close(fd);
        return;
    }
    atomic_store(&task_dir_pid, pqg_getpid());
    int old = atomic_exchange(&task_dir_fd, fd);
    if (old >= 0) {
        close(old);                      /* a forked child's copy of the parent's */
    }
#endif
}

/* How many threads the process has, or -1 if that cannot be told cheaply
 * here (then callers list them).  No GIL needed. */
long
pqg_os_thread_count(void)
{
    long count = -1;
#if defined(__linux__)
    count = count_from_task_dir();
    if (count < 0) {
        count = count_from_proc_stat();
    }
#endif
    return count > 0 ? count : -1;
}

static PyObject *
os_thread_count_py(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(pqg_os_thread_count());
}

static PyMethodDef threadlist_methods[] = {
    {"os_thread_count", os_thread_count_py, METH_NOARGS,
     PyDoc_STR("os_thread_count($module, /)\n--\n\n"
               "The process's thread count, or -1 where not known cheaply.")},
    {"python_thread_ids", python_thread_ids_py, METH_NOARGS,
     PyDoc_STR("python_thread_ids($module, /)\n--\n\n"
               "(ident, native_id) of every Python thread state.")},
    {"current_frames", current_frames_py, METH_NOARGS,
     PyDoc_STR("current_frames($module, /)\n--\n\n"
               "sys._current_frames() of this interpreter's threads only.")},
    {"os_threads", os_threads_py, METH_NOARGS,
     PyDoc_STR("os_threads($module, /)\n--\n\n"
               "Every OS thread of the process as (native_id, os_name).")},
    {"os_thread_ids", os_thread_ids_py, METH_NOARGS,
     PyDoc_STR("os_thread_ids($module, /)\n--\n\n"
               "The native id of every OS thread of the process.")},
    {NULL, NULL, 0, NULL},
};

int
pqg_threadlist_init(PyObject *module)
{
    return PyModule_AddFunctions(module, threadlist_methods);
}
