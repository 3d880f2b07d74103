/* ownthread.c: starting pyqtguard's own native threads (the watchdog, its
 * report helpers, the log pruner, the exception reporter) the one way they
 * all need: detached, with every asynchronous signal blocked - signals
 * belong to the app's threads, and a dump signal or SIGINT must not land in
 * a thread that is only there to watch - and named where the OS lets a
 * thread be named from outside.
 *
 * The synchronous fault signals stay unblocked: a fault in one of these
 * threads (or in app code they run, a logging handler say) must reach the
 * crash handler.  Blocked, the kernel would not queue them: it unblocks the
 * signal, resets it to the default action and kills the process with no
 * report at all (issue 18, item 4).
 */
#include "pyqtguard_native.h"

#ifdef _WIN32
#  include <windows.h>
#else
#  include <errno.h>
#  include <fcntl.h>
#  include <unistd.h>
#  include <pthread.h>
#  include <signal.h>
#  include <stdlib.h>
#  include <time.h>
#  ifdef __linux__
#    include <sys/prctl.h>
#  endif
#endif

/* A short-lived thread names itself (naming it from outside could touch a
 * thread that has already ended).  Linux and macOS; at most 15 bytes. */
void
pqg_name_this_thread(const char *name)
{
#if defined(__linux__)
    (void)prctl(PR_SET_NAME, name, 0, 0, 0);
#elif defined(__APPLE__)
    (void)pthread_setname_np(name);
#else
    (void)name;
#endif
}

#ifndef _WIN32
/* Never blocked in our threads: the crash handler's signals (crash.c). */
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/* Each of our threads first gets its alternate signal stack (altstack.c), as
 * the app's threads do: the watchdog's report helpers and the exception
 * reporter run app code (on_freeze callbacks, logging handlers). */
typedef struct {
    pqg_thread_main main;
    void *arg;
} own_start;

static void *
own_thread_trampoline(void *raw)
{
    own_start start = *(own_start *)raw;
    free(raw);
    (void)pqg_altstack_this_thread(0);
    return start.main(start.arg);
}
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
    for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++) {
        sigdelset(&all, fault_signals[i]);
    }
    pthread_sigmask(SIG_BLOCK, &all, &previous);   /* the new thread inherits it */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack_size != 0) {
        pthread_attr_setstacksize(&attr, stack_size);
    }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    own_start *start = malloc(sizeof(*start));
    int error;
    if (start != NULL) {
        start->main = main;
        start->arg = arg;
        error = pthread_create(&thread, &attr, own_thread_trampoline, start);
        if (error != 0) {
            free(start);
        }
    }
    else {
        error = pthread_create(&thread, &attr, main, arg);   /* no stack of its own */
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
#  ifdef __linux__
    /* Named from here, after the start: only for threads that live on (the
     * watchdog) - a detached thread that has already ended cannot be named
     * safely, so short-lived ones pass NULL and name themselves. */
    if (error == 0 && name != NULL) {
        pthread_setname_np(thread, name);
    }
#  else
    (void)name;                     /* macOS names only the calling thread */
#  endif
    return error;
#endif
}

#ifndef _WIN32
/* Wait until one of our threads has set *flag to `value`: 1 ms at a time,
 * at most max_ms.  1 if it did.  Async-signal-safe (an atomic load and
 * nanosleep()): the exit waits for the log pruner so, after the teardown. */
int
pqg_wait_for_flag(atomic_int *flag, int value, int max_ms)
{
    struct timespec tick = {0, 1000 * 1000};
    for (int waited = 0; atomic_load(flag) != value && waited < max_ms; waited++) {
        nanosleep(&tick, NULL);
    }
    return atomic_load(flag) == value;
}
#endif

#ifndef _WIN32
void
pqg_on_fork_child(void (*child)(void), int *registered)
{
    if (!*registered) {
        pthread_atfork(NULL, NULL, child);
        *registered = 1;
    }
}

int
pqg_pipe_above_stdio(int fds[2])
{
    if (pipe(fds) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i] <= 2) {
            int above = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (above < 0) {
                int saved = errno;
                close(fds[0]);
                close(fds[1]);
                errno = saved;
                return -1;
            }
            close(fds[i]);
            fds[i] = above;
        }
    }
    return 0;
}
#endif
