/* unreported.c: one line per exception report that is queued but not
 * written yet, for the crash report.
 *
 * exchooks.c queues the report of an exception PyQt6 hands to
 * sys.excepthook, for the GUI or main thread to write a moment later.  When
 * the process crashes before that thread gets to it - an exception in a slot or
 * virtual, then Qt uses what it returned and faults - the exception is the
 * root cause and must not be lost.  So, when a report is queued, a one-line
 * summary (time, thread, type, where, message) is put in a fixed table that
 * the fatal-signal handler can write with write() alone: no malloc, no lock,
 * no Python.  The line is formatted when it is queued (not in the handler),
 * and taken out once the full report is written.
 *
 * A slot is claimed with a compare-and-swap (free -> filling), filled, and
 * published (ready) with a release store; the handler writes ready slots
 * only.  A slot reused while the handler writes it may show a mixed line:
 * the same tolerance as faulthandler's reads of thread states. */
#include "pyqtguard_native.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define UNREPORTED_SLOTS 16
#define UNREPORTED_LINE_MAX 512

enum { SLOT_FREE = 0, SLOT_FILLING = 1, SLOT_READY = 2 };

typedef struct {
    atomic_int state;
    char line[UNREPORTED_LINE_MAX];
} unreported_slot;

static unreported_slot slots[UNREPORTED_SLOTS];
/* Queued while every slot was taken: counted, so that the crash report
 * says how many more there are. */
static atomic_int unlisted = 0;

/* Copy `text` to `out` on one line: control characters become spaces. */
static void
copy_one_line(char *out, size_t size, const char *text)
{
    size_t n = 0;
    for (; text[n] != '\0' && n + 1 < size; n++) {
        unsigned char c = (unsigned char)text[n];
        out[n] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[n] = '\0';
}

int
pqg_unreported_add(const char *stamp, const char *thread, const char *where,
                   const char *message)
{
    for (int i = 0; i < UNREPORTED_SLOTS; i++) {
        int expected = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expected, SLOT_FILLING)) {
            continue;
        }
        char text[UNREPORTED_LINE_MAX];
        snprintf(text, sizeof(text), "[%s] thread '%s': %s%s%s", stamp,
                 thread[0] != '\0' ? thread : "?", where,
                 message[0] != '\0' ? ": " : "", message);
        copy_one_line(slots[i].line, sizeof(slots[i].line) - 1, text);
        strcat(slots[i].line, "\n");
        atomic_store_explicit(&slots[i].state, SLOT_READY, memory_order_release);
        return i;
    }
    atomic_fetch_add(&unlisted, 1);          /* all taken: counted only */
    return -1;
}

void
pqg_unreported_remove(int slot)
{
    if (slot >= 0 && slot < UNREPORTED_SLOTS) {
        atomic_store_explicit(&slots[slot].state, SLOT_FREE, memory_order_release);
    }
    else if (slot == -1) {
        atomic_fetch_sub(&unlisted, 1);
    }
}

/* A fork child: every listed report is its parent's (queued reports are
 * the parent's to write, see exchooks.c).  Stores only (a fork handler). */
void
pqg_unreported_forget_in_child(void)
{
    for (int i = 0; i < UNREPORTED_SLOTS; i++) {
        atomic_store_explicit(&slots[i].state, SLOT_FREE, memory_order_relaxed);
    }
    atomic_store_explicit(&unlisted, 0, memory_order_relaxed);
}

/* Signal-safe: atomic loads and write() of lines formatted beforehand.
 * Returns how many lines it wrote. */
int
pqg_write_unreported(int fd)
{
    int written = 0;
    for (int i = 0; i < UNREPORTED_SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) != SLOT_READY) {
            continue;
        }
        if (written == 0) {
            pqg_puts(fd, "\nUncaught exceptions not reported in full yet "
                         "(queued for the GUI or main thread to write):\n  ");
        }
        else {
            pqg_puts(fd, "  ");
        }
        pqg_puts(fd, slots[i].line);
        written++;
    }
    int more = atomic_load(&unlisted);
    if (more > 0 && written > 0) {
        pqg_puts(fd, "  ... and ");
        pqg_put_dec(fd, (unsigned long long)more);
        pqg_puts(fd, " more\n");
    }
    return written;
}
