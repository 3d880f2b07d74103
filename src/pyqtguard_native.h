/* pyqtguard._native: the part of pyqtguard that must not depend on a healthy
 * interpreter.  Each C file in src/ holds one concern; this header is the only
 * contract between them.
 *
 * Functions marked "signal-safe" only call async-signal-safe functions
 * (write(), clock_gettime(), atomics) and may be called from a signal handler.
 */
#ifndef PYQTGUARD_NATIVE_H
#define PYQTGUARD_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

#ifdef _MSC_VER
#  define PQG_THREAD_LOCAL __declspec(thread)
#else
#  define PQG_THREAD_LOCAL _Thread_local
#endif

#ifdef _WIN32
#  include <process.h>
#  define pqg_getpid() ((long)_getpid())
#else
#  include <unistd.h>
#  define pqg_getpid() ((long)getpid())
#endif

/* ---- logfd.c: the run's log file descriptor and signal-safe writers ---- */
int pqg_logfd_init(PyObject *module);
int pqg_logprune_init(PyObject *module);      /* logprune.c: old logs, off-thread */
/* ---- loglimit.c: the run log's size limit ---- */
int pqg_loglimit_init(PyObject *module);
void pqg_log_limit_count(size_t len);              /* signal-safe; a write to the log */
void pqg_log_limit_reset(unsigned long long size); /* a new log, holding size bytes */
void pqg_log_limit_seen_size(unsigned long long size); /* signal-safe; st_size read */
/* The fd a new report goes to: the log's, or -1 past the size limit (the
 * report counted, the first one refused writing a notice).  Ask once per
 * report and write all of it there. */
int pqg_log_report_fd(void);                       /* signal-safe */
int pqg_log_report_fd_checked(void);               /* signal-safe; off the GIL */
int pqg_log_fd(void);          /* signal-safe; -1 if none; identity checked each ms at most */
int pqg_log_fd_checked(void);  /* signal-safe; identity checked now (crash, signal paths) */
#define PQG_LOG_CHECK_NS 1000000LL
int pqg_stderr_fd(void);                            /* signal-safe; -1 if none */
const char *pqg_forked_child_mark(char *buf);     /* signal-safe; buf >= 48 bytes */
const char *pqg_log_path_line(size_t *len);        /* signal-safe; len 0: none */
void pqg_write_all(int fd, const char *buf, size_t len);   /* signal-safe */
/* Writes to this pseudo-descriptor collect in a static buffer (for the crash
 * handler's thread only): reset, write, then copy the text to each real fd. */
#define PQG_CAPTURE_FD 0x7ffffff0
void pqg_capture_reset(void);                       /* signal-safe */
const char *pqg_capture_text(size_t *len);          /* signal-safe */
/* A whole crash report composed there, one write() per descriptor. */
void pqg_capture_begin(const int *fds, int nfds);   /* signal-safe */
const int *pqg_capture_targets(int *n);             /* signal-safe */
void pqg_capture_set_targets(const int *fds, int nfds); /* signal-safe */
void pqg_capture_flush(void);                       /* signal-safe */
void pqg_capture_reserve(size_t n);                 /* signal-safe */
void pqg_capture_write_to(int fd);                  /* signal-safe */
size_t pqg_capture_mark(void);                      /* signal-safe */
void pqg_capture_truncate(size_t len);              /* signal-safe */
void pqg_capture_end(void);                         /* signal-safe */
void pqg_capture_defer(int fd, size_t common, const char *tail, size_t len); /* signal-safe */
/* The watchdog's own reports (and the second Ctrl+C's) composed in a
 * static buffer of their own and written with one write() (logfd.c):
 * out = pqg_compose_begin(fd); writes to out; pqg_compose_end(out).  out
 * is fd itself when the buffer is in use elsewhere.  All signal-safe. */
#define PQG_COMPOSE_FD 0x7ffffff1
int pqg_compose_begin(int fd);
int pqg_compose_target(int out);
void pqg_compose_flush(int out);
void pqg_compose_end(int out);
void pqg_compose_forget_in_child(void);
void pqg_puts(int fd, const char *s);               /* signal-safe */
void pqg_put_dec(int fd, unsigned long long value); /* signal-safe */
/* *value* in decimal at the end of buf (PQG_DEC_SIZE bytes, NUL included);
 * returns where it starts.  Signal-safe. */
#define PQG_DEC_SIZE 24
const char *pqg_format_dec(char *buf, unsigned long long value);
/* parts[0..n) joined into buf, cut at size (no NUL); the length.
 * Signal-safe. */
size_t pqg_join(char *buf, size_t size, const char *const *parts, size_t n);
void pqg_put_hex(int fd, unsigned long long value); /* signal-safe */
void pqg_put_escaped(int fd, const char *s, size_t max_len);  /* signal-safe */
/* As pqg_put_escaped, newlines kept, each next line PQG_TEXT_INDENT-ed. */
void pqg_put_escaped_lines(int fd, const char *s, size_t max_len); /* signal-safe */
/* Text from the app: a line that begins with '=' gets PQG_TEXT_INDENT in
 * front, so that it cannot pass for a section marker (logfd.c). */
#define PQG_TEXT_INDENT "  "
size_t pqg_defuse_text(const char *in, size_t len, int at_line_start, char *out);
void pqg_write_text(int fd, const char *buf, size_t len, int at_line_start); /* signal-safe */
void pqg_format_timestamp(char *buf);  /* signal-safe, UTC, >= 32 bytes */
/* The UTF-8 of a str (GIL held), a lone surrogate in it written escaped
 * ("\udce9"): a file or folder name whose bytes are not UTF-8
 * (surrogateescape) is shown, never refused.  *holder* keeps the escaped
 * copy alive: Py_XDECREF it after use.  NULL (error set) if not a str. */
const char *pqg_utf8(PyObject *text, Py_ssize_t *len, PyObject **holder);
long long pqg_monotonic_ns(void);      /* signal-safe */
void pqg_put_timestamp(int fd);                     /* signal-safe, UTC */
/* Write to the log fd and, when present, to the stderr fd. */
void pqg_report_puts(const char *s);                /* signal-safe */
void pqg_report_write(const char *buf, size_t len); /* signal-safe */
unsigned long pqg_current_native_id(void);          /* signal-safe */

/* ---- threadtable.c: thread names readable from a signal handler ---- */
#define PQG_THREAD_NAME_MAX 64
int pqg_threadtable_init(PyObject *module);
/* Copy the registered name of a thread into buf (NUL-terminated).
 * Returns 1 if found, 0 otherwise.  Signal-safe, lock-free. */
int pqg_thread_name_by_native_id(unsigned long native_id, char *buf, size_t size);
int pqg_thread_name_by_ident(unsigned long long ident, char *buf, size_t size);
/* crash.c: /proc/self/task/TID/comm on Linux (0 elsewhere); signal-safe. */
int pqg_os_thread_name(unsigned long native_id, char *buf, size_t size);
/* Visit every registered thread (signal-safe; the callback must be too). */
/* Where a thread was started (the app's "file:line", from pyqtguard's
 * registry), kept with its name: its tail if longer. */
#define PQG_THREAD_SITE_MAX 160
/* `site` is "" when not known (the main thread, a thread started before
 * install(), a pool thread). */
typedef void (*pqg_thread_visitor)(unsigned long native_id,
                                   unsigned long long ident,
                                   const char *name, const char *site,
                                   int kind, void *arg);
void pqg_threadtable_visit(pqg_thread_visitor visit, void *arg);
/* "Threads (ident, native id, kind, name):" and one line per thread.
 * Kinds: 0 python, 1 main, 2 qthread, 3 pool, 4 native.  Signal-safe. */
void pqg_write_thread_legend(int fd);
/* The same, leaving out the threads skip() is true for. */
void pqg_write_thread_legend_without(int fd, int (*skip)(unsigned long native_id));

/* ---- exchooks.c: sys.excepthook, threading.excepthook, unraisablehook ---- */
int pqg_exchooks_init(PyObject *module);

/* unreported.c: summaries of queued exception reports, for the crash report.
 * A fork child inherits the table with the queue it describes. */
int pqg_unreported_add(const char *stamp, const char *thread, const char *where,
                       const char *message);      /* slot, or -1 */
void pqg_unreported_remove(int slot);
void pqg_unreported_forget_in_child(void);  /* fork child: stores only */
int pqg_write_unreported(int fd);   /* signal-safe; lines written */

/* excrepeats.c: the same exception reported in full once per interval.
 * A check returns 1 (report in full; `where` then says what it is, e.g.
 * "TypeError in paintEvent (/path/app.py:42)", and *counted_before how often
 * it was repeated since its last full report) or 0 (a repeat, counted). */
#define PQG_REPEAT_WHERE_MAX 256
typedef void (*pqg_repeat_visitor)(const char *where, unsigned long counted,
                                   int log_only, void *arg);
int pqg_excrepeats_init(PyObject *module);
int pqg_repeat_check(int source, PyObject *exc_type, PyObject *exc_tb,
                     unsigned long *counted_before, char *where,
                     size_t where_size, pqg_repeat_visitor evicted, void *arg);
int pqg_repeat_check_text(const char *text, size_t len,
                          unsigned long *counted_before, char *where,
                          size_t where_size, pqg_repeat_visitor evicted,
                          void *arg);
void pqg_repeat_drain(pqg_repeat_visitor visit, void *arg);

/* ---- tbformat.c: traceback formatting that needs no Python module ---- */
/* Write header (UTF-8, or NULL) and "Traceback (most recent call last):
 * ..." for exc (chained causes included) to log_fd (-1: none;
 * pqg_log_report_fd()), then an empty line, and, if to_stderr, to the
 * stderr fd: one write() each.  Needs the GIL but no module globals: used
 * during finalization and as a fallback. */
void pqg_write_exception_fallback(int log_fd, const char *header, PyObject *exc_type,
                                  PyObject *exc_value, PyObject *exc_tb, int to_stderr);

/* ---- Components filled in by later issues (each in its own file) ---- */
int pqg_crash_init(PyObject *module);     /* crash.c: fatal signals */
/* crashcontext.c: a line the app sets (the running test) for crash reports */
int pqg_crashcontext_init(PyObject *module);
void pqg_write_crash_context(int fd);      /* signal-safe */
void pqg_write_crash_notice(void);          /* signal-safe */
/* nativestack.c: the crashing thread's native stack (raw frames, modules and
 * offsets; symbols are resolved later by `pyqtguard report`). */
void pqg_native_stack_prepare(void);      /* with the GIL, at install */
const char *pqg_native_stack_method(void);
void pqg_write_native_stack(const int *fds, int nfds,
                            const void *ucontext);   /* signal-safe, no lock */
void pqg_write_native_stack_after_fault(const int *fds, int nfds,
                                        const void *ucontext);   /* same */
int pqg_watchdog_init(PyObject *module);  /* watchdog.c: exit/freeze watchdog */
/* The thread table and (where the interpreter allows) every Python stack,
 * without the GIL; signal-safe. */
void pqg_write_threads_report(int fd, const char *note);
int pqg_interrupt_init(PyObject *module); /* interrupt.c: Ctrl+C, SIGTERM */
/* The first SIGINT/SIGTERM, not taken by the GUI thread: its number and
 * a SIGTERM's grace (ns; < 0: none), else 0; no GIL. */
int pqg_interrupt_untaken(long long *grace_ns);
/* An uncaught KeyboardInterrupt: end by SIGINT after finalization, as
 * CPython does (GIL held). */
void pqg_exit_by_sigint_at_end(void);
/* Have the watchdog thread run chore() soon (no GIL, no Python); 0 if it
 * is not running or has one pending: the caller's to run then. */
int pqg_watchdog_post(void (*chore)(void));
/* 3.13+, Linux: the main interpreter's Python stacks into into_fd, by
 * faulthandler in a copy of the process, for a crashing thread whose bound
 * state `own` is a subinterpreter's (in_main: its state in the main
 * interpreter, or NULL).  1 if written.  Signal-safe (see watchdog.c). */
#if PY_VERSION_HEX >= 0x030D0000 && defined(__linux__)
int pqg_main_interpreter_stacks(int into_fd, const void *own, void *in_main);
#endif
int pqg_audit_init(PyObject *module);     /* audit.c: audit hook */
int pqg_sipattach_init(PyObject *module); /* sipattach.c: lazy PyQt6 patches */

/* widgetcheck.c: install(check_threads=True), widgets used off the GUI thread */
int pqg_widgetcheck_init(PyObject *module);
void pqg_widgetcheck_this_thread(int keep_state);  /* a thread (not the main one) recorded */
void pqg_widgetcheck_thread_ends(void);            /* ... and forgets itself */

/* ---- ownthread.c: pyqtguard's own native threads ---- */
#ifdef _WIN32
typedef unsigned long (__stdcall *pqg_thread_main)(void *arg);
#else
typedef void *(*pqg_thread_main)(void *arg);
#endif
/* Start a detached thread with every signal blocked but the fault signals
 * (SEGV, BUS, FPE, ILL, ABRT: a crash there is reported), named (Linux) if name
 * is not NULL; stack_size 0: the default.  0, or an errno / Win32 error. */
int pqg_start_own_thread(pqg_thread_main main, void *arg, size_t stack_size,
                         const char *name);
void pqg_name_this_thread(const char *name);  /* from the thread itself */
#ifndef _WIN32
#  include <stdatomic.h>
int pqg_wait_for_flag(atomic_int *flag, int value, int max_ms);  /* signal-safe */
/* pthread_atfork(child) once per `registered` flag (one per caller). */
void pqg_on_fork_child(void (*child)(void), int *registered);
/* Both ends of pipe(2), never numbered 0-2 (an app started with stderr
 * closed would otherwise hand pyqtguard fd 2, where every library's write
 * to "stderr" would land): 0, or -1 with errno. */
int pqg_pipe_above_stdio(int fds[2]);
#endif
/* ---- libraryfaults.c: a library's own faults offered to it first ---- */
#ifndef _WIN32
#  include <signal.h>
/* A handler that may take faults of its own (SA_SIGINFO, not a default). */
int pqg_is_library_handler(const struct sigaction *action);
/* In a fault handler: call `library` as the kernel would have.  TOOK: it
 * took the fault (return: the app goes on).  Else it gave up on it (the
 * signal it raised dropped, `ours` in place again: report, then pass the
 * fault on): GAVE_UP (it raised), to the library, as to any previous
 * handler; PUT_BACK, to `left`, the default action (or a handler without
 * SA_SIGINFO) it put back: it is not called a second time.  HANDED_ON: it
 * put back, in place of its own, `left`, a handler that may take faults
 * (the library before it), and left the chain: `ours` in place again, the
 * fault comes again and is offered to `left`.  Async-signal-safe. */
#  define PQG_LIBRARY_TOOK 1
#  define PQG_LIBRARY_GAVE_UP 0
#  define PQG_LIBRARY_PUT_BACK 2
#  define PQG_LIBRARY_HANDED_ON 3
int pqg_offer_fault_to_library(const struct sigaction *library, int signum,
                               siginfo_t *info, void *ucontext,
                               const struct sigaction *ours, struct sigaction *left);
#endif
/* ---- altstack.c: an alternate signal stack for each thread ---- */
int pqg_altstack_init(PyObject *module);
/* With the GIL, at crash_enable: threads that start from now on get one.
 * 0, or -1 with errno. */
int pqg_altstack_prepare(void);
void pqg_altstack_stop(void);               /* new threads get none */
/* Give the calling thread its alternate stack unless it has one (kept) or
 * new threads get none (always: regardless).  1 installed, 0 nothing to do,
 * -1 failed (errno).  Not signal-safe; cheap once done for the thread. */
int pqg_altstack_this_thread(int always);
/* Replace the thread's alternate stack if it is smaller than ours (the one
 * faulthandler set up when pyqtguard enabled it, 3.13+).  1, 0, -1 (errno). */
int pqg_altstack_replace_smaller(void);
int pqg_threadlist_init(PyObject *module); /* threadlist.c: OS threads */
void pqg_prepare_thread_count(void);       /* no GIL needed; not signal-safe */
long pqg_os_thread_count(void);            /* no GIL needed; -1 if unknown */

/* ---- Version compatibility (CPython 3.11 to 3.14) ---- */
/* Py_IsFinalizing() is public from 3.13; _Py_IsFinalizing() exists in
 * 3.11-3.12 (it was removed from the public API in 3.13). */
#if PY_VERSION_HEX >= 0x030D0000
#  define PQG_IS_FINALIZING() Py_IsFinalizing()
#else
#  define PQG_IS_FINALIZING() _Py_IsFinalizing()
#endif

#endif /* PYQTGUARD_NATIVE_H */
