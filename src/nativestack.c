/* nativestack.c: the crashing thread's native stack, written from the crash
 * handler without taking a lock.
 *
 * Why not backtrace_symbols_fd(): glibc symbolizes with _dl_addr(), which
 * takes the dynamic loader's lock.  dlopen() holds that lock while a
 * library's constructors run; a constructor that waits for the GIL the
 * crashing thread holds (PyGILState_Ensure) then waits for ever, and so
 * did the handler (issue 18, item 2).  So the handler symbolizes nothing:
 * it writes each frame's address, the module it falls in and its offset in
 * that module's file, and `pyqtguard report` resolves the names afterwards
 * from the modules' symbol tables (pyqtguard/crashes/symbolize.py), as crash
 * reporters do.
 *
 * Frame line format (parsed by pyqtguard/crashes/symbolize.py):
 *     "  #<n> 0x<address> <module path, escaped> +0x<file offset>"
 *     "  #<n> 0x<address> (no module)"
 * The path is escaped like every name in a report (bytes outside printable
 * ASCII and the backslash as \xNN), so a newline in a file name cannot forge
 * a line.
 *
 * Modules: /proc/self/maps, read with open()/read() (async-signal-safe) in
 * the handler into a static buffer, so a library loaded a moment before the
 * crash is named too; the kernel side of that read takes the process's
 * mmap lock for reading only, never a lock of ours or of a library's.
 *
 * Walking the stack, glibc/Linux (CPython 3.11-3.14 alike):
 *   - libgcc's unwinder (_Unwind_Backtrace, linked: setup.py), when it finds
 *     a frame's unwind table lock-free: libgcc_s from GCC 12 on, built for
 *     glibc 2.35 or later, looks the table up with _dl_find_object(), which
 *     never locks (its readers retry on a version counter).  Older ones call
 *     dl_iterate_phdr(), which takes the loader's lock: the same hang.  So
 *     the unwinder is used only when the loaded libgcc_s imports
 *     _dl_find_object (checked once at install, below).  A residue, named
 *     honestly: libgcc before GCC 13 also takes its own object_mutex if some
 *     code registered unwind tables at run time (__register_frame: JITs);
 *     that mutex guards a list lookup and is not held across a wait for
 *     another thread, but that lookup can malloc().  GCC 13+ made it a
 *     lock-free b-tree.
 *   - otherwise the frame-pointer chain from the signal's context: no lock,
 *     no call at all, but short where code is built without frame pointers
 *     (most distributions' -O2).  The heading says which walk was used.
 *   A walk reads memory the crash may have damaged: a fault during it is
 *   caught by the handler, which abandons the walk (crash.c).
 * macOS: backtrace() walks frame pointers (always kept there, lock-free);
 * modules are not named in the handler (dladdr() takes dyld's lock).
 * Windows: see crash.c (not built here).
 */
#include "pyqtguard_native.h"

#include <stdint.h>
#include <string.h>

#if defined(__linux__) && defined(__GLIBC__)
#  include <dlfcn.h>
#  include <fcntl.h>
#  include <link.h>
#  include <ucontext.h>
#  include <unistd.h>
#  include <unwind.h>
#  define PQG_LINUX_STACK 1
#elif defined(__APPLE__)
#  include <execinfo.h>             /* in libSystem: nothing to load */
#  define PQG_APPLE_STACK 1
#endif

#define MAX_FRAMES 64
#define MODULE_PATH_MAX 512
#define LINE_MAX_BYTES (MODULE_PATH_MAX * 4 + 64)     /* a frame, fully escaped */

/* All static: the handler allocates nothing.  Only the one thread that
 * claimed the report (crash.c) uses them. */
typedef struct {
    uintptr_t pc;
    uintptr_t offset;               /* in the module's file */
    int has_module;
    char module[MODULE_PATH_MAX];
} native_frame;

static native_frame frames[MAX_FRAMES];
#ifdef PQG_LINUX_STACK
static volatile int walked = 0;     /* frames found so far, if a walk faults */
#endif
static char text[MAX_FRAMES * LINE_MAX_BYTES / 4 + 4096];
static size_t text_len;

/* ---- a bounded text buffer (signal-safe: memcpy and arithmetic) ---- */

static void
put(const char *s, size_t len)
{
    if (text_len + len > sizeof(text)) {
        len = sizeof(text) - text_len;
    }
    memcpy(text + text_len, s, len);
    text_len += len;
}

static void
put_str(const char *s)
{
    put(s, strlen(s));
}

static void
put_hex(uintptr_t value)
{
    static const char digits[] = "0123456789abcdef";
    char out[2 + 2 * sizeof(uintptr_t)];
    size_t n = sizeof(out);
    do {
        out[--n] = digits[value & 0xf];
        value >>= 4;
    } while (value != 0 && n > 2);
    out[--n] = 'x';
    out[--n] = '0';
    put(out + n, sizeof(out) - n);
}

static void
put_dec(unsigned value)
{
    char out[12];
    size_t n = sizeof(out);
    do {
        out[--n] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0 && n > 0);
    put(out + n, sizeof(out) - n);
}

/* As pqg_put_escaped: printable ASCII as is, everything else as \xNN. */
static void
put_escaped(const char *s)
{
    static const char digits[] = "0123456789abcdef";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            put((const char *)&c, 1);
        }
        else {
            char esc[4] = {'\\', 'x', digits[c >> 4], digits[c & 0xf]};
            put(esc, sizeof(esc));
        }
    }
}

#ifdef PQG_LINUX_STACK
/* ---- walking: libgcc's unwinder, when it is lock-free here ---- */

static int unwinder_lock_free = 0;          /* decided by pqg_native_stack_prepare */

typedef struct {
    int count;
    uintptr_t last_cfa;
} unwind_walk;

static _Unwind_Reason_Code
add_unwound_frame(struct _Unwind_Context *context, void *arg)
{
    unwind_walk *walk = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(context);
    uintptr_t cfa = (uintptr_t)_Unwind_GetCFA(context);
    if (ip == 0 || walk->count >= MAX_FRAMES) {
        return _URC_END_OF_STACK;
    }
    /* A frame that repeats itself with the same frame address: the unwind
     * data is wrong here, and the walk would never end (glibc's check). */
    if (walk->count > 0 && frames[walk->count - 1].pc == ip && cfa == walk->last_cfa) {
        return _URC_END_OF_STACK;
    }
    walk->last_cfa = cfa;
    frames[walk->count++].pc = ip;
    walked = walk->count;
    return _URC_NO_REASON;
}

/* The interrupted program counter and frame pointer of a signal's context. */
static int
context_registers(const void *ucontext, uintptr_t *pc, uintptr_t *fp)
{
    const ucontext_t *uc = ucontext;
    if (uc == NULL) {
        return 0;
    }
#  if defined(__x86_64__)
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    return 1;
#  elif defined(__aarch64__)
    *pc = (uintptr_t)uc->uc_mcontext.pc;
    *fp = (uintptr_t)uc->uc_mcontext.regs[29];
    return 1;
#  else
    (void)pc;
    (void)fp;
    return 0;
#  endif
}

/* Follow the chain of saved frame pointers: [fp] is the caller's fp,
 * [fp + 1 word] the return address.  Each step must go up the stack by a
 * sane amount, so a garbage chain ends instead of looping. */
static int
walk_frame_pointers(uintptr_t pc, uintptr_t fp)
{
    int n = 0;
    frames[n++].pc = pc;
    walked = n;
    while (n < MAX_FRAMES && fp != 0 && fp % sizeof(void *) == 0) {
        const uintptr_t *slot = (const uintptr_t *)fp;
        uintptr_t next = slot[0];
        uintptr_t ret = slot[1];
        if (ret == 0) {
            break;
        }
        frames[n++].pc = ret;
        walked = n;
        if (next <= fp || next - fp > 8 * 1024 * 1024) {
            break;
        }
        fp = next;
    }
    return n;
}

/* Drop the handler's own frames (the unwinder starts in this file): those
 * before the one at the context's program counter, when it is among them. */
static int
from_interrupted_frame(int count, int have_context, uintptr_t pc)
{
    int start = 0;
    for (int i = 0; have_context && i < count; i++) {
        if (frames[i].pc == pc) {
            start = i;
            break;
        }
    }
    memmove(frames, frames + start, (size_t)(count - start) * sizeof(frames[0]));
    return count - start;
}

/* The frames from the interrupted one outwards. */
static int
walk(const void *ucontext, const char **how)
{
    uintptr_t pc = 0, fp = 0;
    int have_context = context_registers(ucontext, &pc, &fp);
    walked = 0;
    if (unwinder_lock_free) {
        unwind_walk state = {0, 0};
        *how = "libgcc unwinder";
        (void)_Unwind_Backtrace(add_unwound_frame, &state);
        return from_interrupted_frame(state.count, have_context, pc);
    }
    if (have_context) {
        *how = "frame pointers, may be incomplete";
        return walk_frame_pointers(pc, fp);
    }
    *how = "not available: no signal context";
    return 0;
}

/* The interrupted frame's caller when the pc itself is garbage (a call
 * through a bad function pointer): x86-64's call pushed the return address
 * at the stack pointer (read: may fault, then the handler gives the walk
 * up); AArch64's bl left it in the link register.  0 if not known. */
static uintptr_t
caller_of_bad_pc(const void *ucontext)
{
    const ucontext_t *uc = ucontext;
    if (uc == NULL) {
        return 0;
    }
#  if defined(__x86_64__)
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    return sp != 0 && sp % sizeof(void *) == 0 ? *(const uintptr_t *)sp : 0;
#  elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.regs[30];
#  else
    return 0;
#  endif
}

/* After a fault in walk(): the frames it had found.  The unwinder starts in
 * the handler and faults before it reaches the interrupted frame when that
 * frame's pc is no code (it reads the instructions there to recognise a
 * signal frame): a jump to a bad address.  The frames it found are then the
 * handler's own, which say nothing; the interrupted pc and its caller do. */
static int
walked_before_fault(const void *ucontext, const char **how)
{
    uintptr_t pc = 0, fp = 0;
    int have_context = context_registers(ucontext, &pc, &fp);
    *how = "the walk stopped at a fault: damaged stack";
    int count = walked;
    if (!unwinder_lock_free) {
        return count;
    }
    for (int i = 0; i < count; i++) {
        if (have_context && frames[i].pc == pc) {
            return from_interrupted_frame(count, have_context, pc);
        }
    }
    if (!have_context) {
        return 0;
    }
    *how = "the unwinder faulted at the interrupted pc (a jump to a bad address?): "
           "that pc, then its caller's return address";
    frames[0].pc = pc;
    walked = 1;
    uintptr_t caller = caller_of_bad_pc(ucontext);
    if (caller == 0) {
        return 1;
    }
    frames[1].pc = caller;
    walked = 2;
    return 2;
}

/* ---- modules: /proc/self/maps ---- */

static char maps[64 * 1024];

static const char *
parse_hex(const char *p, uintptr_t *value)
{
    uintptr_t v = 0;
    for (;; p++) {
        char c = *p;
        if (c >= '0' && c <= '9') {
            v = v * 16 + (uintptr_t)(c - '0');
        }
        else if (c >= 'a' && c <= 'f') {
            v = v * 16 + (uintptr_t)(c - 'a' + 10);
        }
        else {
            break;
        }
    }
    *value = v;
    return p;
}

static const char *
skip_field(const char *p)
{
    while (*p == ' ') {
        p++;
    }
    while (*p != ' ' && *p != '\0') {
        p++;
    }
    return p;
}

/* One line: "start-end perms offset dev inode   path".  Each frame in it
 * gets the path and its offset in the file. */
static int frames_without_module;

static void
match_maps_line(const char *line, int n)
{
    uintptr_t start, end, offset;
    const char *p = parse_hex(line, &start);
    if (*p != '-') {
        return;
    }
    p = parse_hex(p + 1, &end);
    p = skip_field(p);                      /* perms */
    while (*p == ' ') {
        p++;
    }
    p = parse_hex(p, &offset);
    p = skip_field(skip_field(p));          /* dev, inode */
    while (*p == ' ') {
        p++;
    }
    for (int i = 0; i < n; i++) {
        native_frame *f = &frames[i];
        if (f->has_module || f->pc < start || f->pc >= end) {
            continue;
        }
        f->has_module = 1;
        frames_without_module--;
        f->offset = f->pc - start + offset;
        size_t len = strlen(p);
        if (len == 0) {
            p = "[anonymous]";              /* a JIT's code, say */
            len = strlen(p);
        }
        if (len >= MODULE_PATH_MAX) {
            len = MODULE_PATH_MAX - 1;
        }
        memcpy(f->module, p, len);
        f->module[len] = '\0';
    }
}

static void
find_modules(int n)
{
    for (int i = 0; i < n; i++) {
        frames[i].has_module = 0;
    }
    frames_without_module = n;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    size_t have = 0;
    /* Stop once every frame has its module: with 1,000 threads the file
     * has 2,000 lines of thread stacks, which the kernel formats as read. */
    while (frames_without_module > 0) {
        ssize_t got = read(fd, maps + have, sizeof(maps) - 1 - have);
        if (got <= 0) {
            break;                          /* the end, or an error: what we have */
        }
        have += (size_t)got;
        char *line = maps;
        char *newline;
        while ((newline = memchr(line, '\n', have - (size_t)(line - maps))) != NULL) {
            *newline = '\0';
            match_maps_line(line, n);
            line = newline + 1;
        }
        size_t rest = have - (size_t)(line - maps);
        if (rest == sizeof(maps) - 1) {
            rest = 0;                       /* a line longer than the buffer: dropped */
        }
        memmove(maps, line, rest);
        have = rest;
    }
    close(fd);
}

/* Does libgcc_s (the one the unwinder is in) find unwind tables with
 * _dl_find_object?  Its dynamic string table names every symbol it imports;
 * libgcc never defines that one itself.  Not signal-safe: at install. */
typedef struct {
    const char *path;
    int found;
} dynstr_search;

static int
search_dynstr(struct dl_phdr_info *info, size_t size, void *arg)
{
    dynstr_search *search = arg;
    (void)size;
    if (info->dlpi_name == NULL || strcmp(info->dlpi_name, search->path) != 0) {
        return 0;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) {
            continue;
        }
        const ElfW(Dyn) *dyn = (const ElfW(Dyn) *)(info->dlpi_addr
                                                   + info->dlpi_phdr[i].p_vaddr);
        uintptr_t strtab = 0;
        size_t strsz = 0;
        for (; dyn->d_tag != DT_NULL; dyn++) {
            if (dyn->d_tag == DT_STRTAB) {
                strtab = (uintptr_t)dyn->d_un.d_ptr;
            }
            else if (dyn->d_tag == DT_STRSZ) {
                strsz = (size_t)dyn->d_un.d_val;
            }
        }
        if (strtab != 0 && strtab < info->dlpi_addr) {
            strtab += info->dlpi_addr;      /* not relocated by ld.so here */
        }
        static const char wanted[] = "_dl_find_object";
        if (strtab != 0 && memmem((const void *)strtab, strsz, wanted, sizeof(wanted))) {
            search->found = 1;
        }
    }
    return 1;
}

static int
libgcc_unwinder_is_lock_free(void)
{
    Dl_info info;
    if (dladdr((void *)(uintptr_t)_Unwind_Backtrace, &info) == 0 || info.dli_fname == NULL
        || dlsym(RTLD_DEFAULT, "_dl_find_object") == NULL)
    {
        return 0;
    }
    dynstr_search search = {info.dli_fname, 0};
    dl_iterate_phdr(search_dynstr, &search);
    return search.found;
}
#endif  /* PQG_LINUX_STACK */

/* Decide how the handler walks, and do the unwinder's one-time set-up (its
 * register table, behind a pthread_once) now, outside any handler.  With
 * the GIL, at install. */
void
pqg_native_stack_prepare(void)
{
#ifdef PQG_LINUX_STACK
    unwinder_lock_free = libgcc_unwinder_is_lock_free();
    if (unwinder_lock_free) {
        unwind_walk state = {0, 0};
        (void)_Unwind_Backtrace(add_unwound_frame, &state);
    }
#endif
}

/* 'unwinder' or 'frame-pointers' (or 'backtrace' on macOS, 'none'). */
const char *
pqg_native_stack_method(void)
{
#if defined(PQG_LINUX_STACK)
    return unwinder_lock_free ? "unwinder" : "frame-pointers";
#elif defined(PQG_APPLE_STACK)
    return "backtrace";
#else
    return "none";
#endif
}

static void
emit(const int *fds, int nfds, int n, const char *how)
{
    text_len = 0;
    put_str("\nNative stack of the crashing thread (most recent call first; ");
    put_str(how);
    put_str("; names: pyqtguard report):\n");
    for (int i = 0; i < n; i++) {
        put_str("  #");
        put_dec((unsigned)i);
        put_str(" ");
        put_hex(frames[i].pc);
        if (frames[i].has_module) {
            put_str(" ");
            put_escaped(frames[i].module);
            put_str(" +");
            put_hex(frames[i].offset);
        }
        else {
            put_str(" (no module)");
        }
        put_str("\n");
    }
    for (int i = 0; i < nfds; i++) {
        pqg_write_all(fds[i], text, text_len);
    }
}

/* Compose the whole native stack block into the static buffer, then write
 * it to each descriptor in one write().  Signal-safe; `ucontext` is the
 * handler's third argument, or NULL outside a signal. */
void
pqg_write_native_stack(const int *fds, int nfds, const void *ucontext)
{
    const char *how = "not available on this platform";
    int n = 0;
#if defined(PQG_LINUX_STACK)
    n = walk(ucontext, &how);
    find_modules(n);
#elif defined(PQG_APPLE_STACK)
    (void)ucontext;
    void *addresses[MAX_FRAMES];
    n = backtrace(addresses, MAX_FRAMES);
    for (int i = 0; i < n; i++) {
        frames[i].pc = (uintptr_t)addresses[i];
        frames[i].has_module = 0;
    }
    how = "backtrace(); modules not named";
#else
    (void)ucontext;
#endif
    emit(fds, nfds, n, how);
}

/* The walk of pqg_write_native_stack() faulted (crash.c caught it): write
 * the frames found before the fault - the crashing frame among them. */
void
pqg_write_native_stack_after_fault(const int *fds, int nfds, const void *ucontext)
{
    const char *how = "the walk stopped at a fault: damaged stack";
    int n = 0;
#if defined(PQG_LINUX_STACK)
    n = walked_before_fault(ucontext, &how);
    find_modules(n);
#else
    (void)ucontext;
#endif
    emit(fds, nfds, n, how);
}
