/* ownthread.c: starting pyqtguard's own native threads (the watchdog, its
 * report helpers, the stack-walker loader) the one way they all need:
 * detached, with every signal blocked - signals belong to the app's threads,
 * and a fatal or dump signal must not land in a thread that is only there
 * to watch - and named where the OS lets a thread be named from outside.
 */
#include "pyqtguard_native.h"

#ifdef _WIN32
#  include <windows.h>
#else
#  include <pthread.h>
#  include <signal.h>
#endif

int
pqg_start_own_thread(pqg_thread_main main, void *arg, size_t stack_size,
                     const char *name)
{
#ifdef _WIN32
    (void)name;                     /* SetThreadDescription: Windows 10+ only */
    HANDLE thread = CreateThread(NULL, stack_size, main, arg, 0, NULL);
    if (thread == NULL) {
        return (int)GetLastError();
    }
    CloseHandle(thread);            /* detached: nobody joins it */
    return 0;
#else
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);   /* the new thread inherits it */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack_size != 0) {
        pthread_attr_setstacksize(&attr, stack_size);
    }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int error = pthread_create(&thread, &attr, main, arg);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
#  ifdef __linux__
    if (error == 0 && name != NULL) {
        pthread_setname_np(thread, name);
    }
#  else
    (void)name;                     /* macOS names only the calling thread */
#  endif
    return error;
#endif
}
