/* libraryfaults.c: a fault a library handles itself is offered to it first.
 *
 * Some native libraries take SIGSEGV (and SIGBUS, SIGFPE, SIGILL) for their
 * own work: a JVM's implicit null checks and safepoint polls, CoreCLR's and
 * Mono's NullReferenceException, a wasm runtime's bounds checks, a guard
 * page unprotected on first touch (libsigsegv, incremental garbage
 * collectors).  Their handler was installed before pyqtguard's, so the
 * kernel delivers their faults to pyqtguard first.  Writing a crash report
 * there and then passing the fault on is wrong twice: the report is of no
 * crash (the next start says the app crashed), and a JVM may take such a
 * fault thousands of times a second.
 *
 * So a real fault (one the kernel raised) goes to that handler first, called
 * directly with the kernel's siginfo and context, as the kernel would have
 * (the library's mask and the signal blocked, on the stack pyqtguard's
 * handler runs on).  What it does tells the rest:
 *
 *   - it returns, having fixed the cause (a page unprotected) or moved the
 *     context to a recovery routine (a JVM's exception stub), or it jumps
 *     out with siglongjmp(): the app goes on; no report, pyqtguard's
 *     handler stays for the next fault;
 *   - it gives up on a fault that is not its own the usual ways: the
 *     default action put back and the signal raised (pending here: it is
 *     blocked), or the default action (or a handler that takes no faults,
 *     without SA_SIGINFO: faulthandler's) put back for the fault to come
 *     again (faulthandler's handler, called by it, puts the default back
 *     too): a real crash.  The raised signal is discarded (POSIX: setting
 *     SIG_IGN discards a pending signal) and pyqtguard's handler put back,
 *     so that the report is written whole; the fault is then passed on
 *     to what the library put in place, not to the library a second time
 *     (what it did once - faulthandler's handler, which puts the default
 *     action back only the first time it runs - may not happen again: that
 *     was a loop for ever), or, when it only raised, to the library, as
 *     always;
 *   - it puts back, in place of its own, the handler of the library before
 *     it and returns, for the fault to come again into that one (Breakpad's
 *     way): it left the chain.  That one is offered faults from now on,
 *     pyqtguard's handler is put back on top and the fault comes again;
 *   - it ends the process (abort(): then pyqtguard's SIGABRT report; _exit)
 *     or never returns: as without pyqtguard.
 *
 * Only a handler with SA_SIGINFO is offered faults: one that handles faults
 * needs their address.  faulthandler's (sa_handler) never is: it would dump
 * and raise.  Nor one with SA_RESETHAND: a one-shot crash handler (below).
 * A fault inside a handler is not offered (crash.c): a library handler
 * faulting in its own work would recurse.  (Its own signal is blocked
 * while it runs: such a fault the kernel ends the process with, unreported,
 * as it would without pyqtguard.)  Nothing is kept across
 * the call - a siglongjmp() out of it leaves no state behind (the mask is
 * the one its sigsetjmp() saved).  Async-signal-safe: pthread_sigmask,
 * sigpending, sigaction and the handler's own code (which runs in a signal
 * handler in any case). */
#include "pyqtguard_native.h"

#ifndef _WIN32

#include <signal.h>
#include <string.h>

/* Not one set with SA_RESETHAND: that is a one-shot crash handler
 * (backward-cpp's; a library that handles faults needs its handler for each
 * one), and the kernel's reset to the default action is part of what it
 * does - called directly nothing is reset: one that returns for the fault to
 * come again into the default action was offered it for ever, and
 * backward-cpp's raise() pended (blocked) and its _exit(1) fallback ended
 * the app with no report.  Such a handler gets the fault after the report,
 * from the kernel, as any handler pyqtguard passes a fault on to.  Reads of
 * a struct only. */
int
pqg_is_library_handler(const struct sigaction *action)
{
    return action != NULL && (action->sa_flags & SA_SIGINFO)
           && !(action->sa_flags & SA_RESETHAND)
           && action->sa_sigaction != NULL
           && action->sa_handler != SIG_IGN && action->sa_handler != SIG_DFL;
}

/* Whether two dispositions are the same handler (or both the default, or
 * both ignore).  Reads of two structs only. */
static int
same_disposition(const struct sigaction *a, const struct sigaction *b)
{
    if ((a->sa_flags & SA_SIGINFO) != (b->sa_flags & SA_SIGINFO)) {
        return 0;
    }
    return (a->sa_flags & SA_SIGINFO) ? a->sa_sigaction == b->sa_sigaction
                                      : a->sa_handler == b->sa_handler;
}

/* Drop the signal the library raised (so that unblocking it does not end
 * the process before the report) and put pyqtguard's handler back. */
static void
take_the_fault_back(int signum, const struct sigaction *ours)
{
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(signum, &ignore, NULL);       /* discards a pending one (POSIX) */
    sigaction(signum, ours, NULL);
}

int
pqg_offer_fault_to_library(const struct sigaction *library, int signum, siginfo_t *info,
                           void *ucontext, const struct sigaction *ours,
                           struct sigaction *left)
{
    /* In place now: pyqtguard's handler, or one set after it that passed
     * the fault on to it.  sigaction() is async-signal-safe. */
    struct sigaction before;
    int before_known = sigaction(signum, NULL, &before) == 0;
    sigset_t block = library->sa_mask;
    sigset_t previous_mask;
    sigaddset(&block, signum);                              /* async-signal-safe */
    pthread_sigmask(SIG_BLOCK, &block, &previous_mask);     /* async-signal-safe */
    library->sa_sigaction(signum, info, ucontext);
    /* It gave up if it raised the signal (pending: it is blocked here)... */
    sigset_t pending;
    int raised = sigpending(&pending) == 0                  /* async-signal-safe */
                 && sigismember(&pending, signum) == 1;
    /* ... or put back, for the fault to come again into it, the default
     * action (CoreCLR; faulthandler's handler, called by it, does so too)
     * or a handler that takes no faults of its own (no SA_SIGINFO: the
     * app's faulthandler, Breakpad's way of putting back the one before
     * its own).  Then the fault goes on to that, not to the library a
     * second time.  Such a handler only if it is new (one set after
     * pyqtguard's is in place during the call); the default action
     * always: another thread's library may have just put it there too. */
    int put_back = sigaction(signum, NULL, left) == 0       /* async-signal-safe */
                   && !pqg_is_library_handler(left)
                   && (left->sa_handler == SIG_DFL || left->sa_handler == SIG_IGN
                       || !before_known || !same_disposition(left, &before));
    /* ... or it put back, in place of its own, a handler that may take
     * faults (SA_SIGINFO: the library before it, Breakpad's way) for the
     * fault to come again into that one: it left the chain.  pyqtguard's
     * handler goes back on top; the caller makes that handler the one
     * offered faults, and the fault comes again (it may be that one's). */
    int handed_on = !put_back && pqg_is_library_handler(left)
                    && !same_disposition(left, ours) && !same_disposition(left, library)
                    && (!before_known || !same_disposition(left, &before));
    if (raised || put_back) {
        take_the_fault_back(signum, ours);
    }
    else if (handed_on) {
        sigaction(signum, ours, NULL);                      /* async-signal-safe */
    }
    pthread_sigmask(SIG_SETMASK, &previous_mask, NULL);     /* async-signal-safe */
    if (handed_on && !raised) {
        return PQG_LIBRARY_HANDED_ON;
    }
    return put_back ? PQG_LIBRARY_PUT_BACK : raised ? PQG_LIBRARY_GAVE_UP : PQG_LIBRARY_TOOK;
}

#endif  /* !_WIN32 */
