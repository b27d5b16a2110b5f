/*
 * common/sigbus.c -- surviving shared objects that another process truncates
 * under our mappings.
 *
 * A shared mapping of a file that shrinks raises SIGBUS at the next access
 * past the new end.  Some of our mappings are of objects that processes we
 * do not control may write, and so truncate: the shm control object (every
 * reader of a shared file may write it), a ring's reader table (every reader
 * writes it), and -- for readers -- the data objects of shm files and rings
 * (their owner may shrink them).  As libwayland-server does for its clients'
 * wl_shm pools, such mappings are registered here; a SIGBUS inside one maps
 * private anonymous zero pages over it from the faulting page to its end
 * (MAP_FIXED, the region's own protection), marks the region broken and
 * returns, so the access completes (reading zeros, or writing into private
 * pages).  The code that owns the mapping checks h5tier__sigbus_broken() at
 * its natural points and reports "truncated by another process" instead of
 * trusting what it read.
 *
 * The table is lock-free (a fixed array of slots claimed with compare and
 * swap) and the handler only loads atomics and calls mmap, both
 * async-signal-safe.  A SIGBUS outside every region goes to the handler
 * that was installed before ours (the application's, or a sanitizer's), or,
 * when that was the default, is re-raised with the default action restored
 * (core dump as before).  The handler is installed on the first
 * registration; H5TIER_NO_SIGBUS_HANDLER=1 in the environment leaves SIGBUS
 * alone (regions are still tracked, nothing is ever marked broken, and a
 * truncation kills the process as it would without this file).
 *
 * Caveats: a table full (H5TIER_SIGBUS_SLOTS regions) leaves further
 * mappings unprotected (register returns -ENOSPC, callers carry on);
 * sigaction and the handler's mmap are called directly, not through
 * h5tier_sys: an injected failure there would only turn a handled fault
 * into the crash this file exists to avoid.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/internal.h"

#define H5TIER_SIGBUS_SLOTS 1024

enum { SLOT_FREE = 0, SLOT_BUSY = 1, SLOT_LIVE = 2 };

typedef struct sigbus_slot {
    _Atomic int state;       /* SLOT_* */
    _Atomic int broken;      /* set by the handler */
    _Atomic int prot;        /* protection of the mapping */
    _Atomic uintptr_t start; /* page-aligned start of the mapping */
    _Atomic size_t len;      /* bytes */
} sigbus_slot_t;

static sigbus_slot_t slots[H5TIER_SIGBUS_SLOTS];
static _Atomic unsigned slots_used;   /* slots [0, slots_used) may be live */
_Atomic unsigned h5tier__sigbus_nbroken; /* live regions marked broken (fast path of the check) */
static struct sigaction previous;     /* the handler before ours */
static _Atomic int installed;         /* 1: ours is installed */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static uintptr_t pagesz = 4096;       /* set before the handler is installed */

/* Pass a SIGBUS that is not ours to whoever had it before. */
static void chain(int sig, siginfo_t *info, void *uctx)
{
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, info, uctx);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    } else if (previous.sa_handler == SIG_IGN && info->si_code <= 0) {
        return; /* an ignored SIGBUS sent by kill(): ignored as before */
    }
    /* Default action (a fault cannot be ignored either: the kernel forces it).
     * A fault re-executes and faults again under the default; a sent signal
     * is raised again (blocked until we return). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGBUS, &dfl, NULL);
    if (info->si_code <= 0)
        raise(SIGBUS);
}

static void handler(int sig, siginfo_t *info, void *uctx)
{
    int saved = errno;
    uintptr_t a = (uintptr_t)info->si_addr;
    if (info->si_code > 0 && a) { /* a fault, not a signal sent by a process */
        unsigned n = atomic_load_explicit(&slots_used, memory_order_acquire);
        for (unsigned i = 0; i < n; i++) {
            sigbus_slot_t *s = &slots[i];
            if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_LIVE)
                continue;
            uintptr_t start = atomic_load_explicit(&s->start, memory_order_relaxed);
            size_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
            if (a < start || a - start >= len)
                continue;
            uintptr_t from = a & ~(pagesz - 1);
            if (from < start)
                from = start;
            void *p = mmap((void *)from, start + len - from, atomic_load_explicit(&s->prot, memory_order_relaxed),
                           MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                break; /* cannot repair: behave as if it were not ours */
            if (atomic_exchange_explicit(&s->broken, 1, memory_order_acq_rel) == 0)
                atomic_fetch_add_explicit(&h5tier__sigbus_nbroken, 1, memory_order_release);
            errno = saved;
            return;
        }
    }
    errno = saved;
    chain(sig, info, uctx);
}

static void install(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (pg > 0)
        pagesz = (uintptr_t)pg;
    const char *off = getenv("H5TIER_NO_SIGBUS_HANDLER");
    if (off && off[0] && strcmp(off, "0") != 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous) == 0)
        atomic_store(&installed, 1);
}

int h5tier__sigbus_register(void *addr, size_t len, int prot)
{
    if (!addr || !len)
        return -EINVAL;
    pthread_once(&install_once, install);
    for (unsigned i = 0; i < H5TIER_SIGBUS_SLOTS; i++) {
        sigbus_slot_t *s = &slots[i];
        int expect = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&s->state, &expect, SLOT_BUSY))
            continue;
        atomic_store_explicit(&s->start, (uintptr_t)addr, memory_order_relaxed);
        atomic_store_explicit(&s->len, len, memory_order_relaxed);
        atomic_store_explicit(&s->prot, prot, memory_order_relaxed);
        atomic_store_explicit(&s->broken, 0, memory_order_relaxed);
        unsigned used = atomic_load(&slots_used);
        while (used < i + 1 && !atomic_compare_exchange_weak(&slots_used, &used, i + 1))
            ;
        atomic_store_explicit(&s->state, SLOT_LIVE, memory_order_release);
        return 0;
    }
    return -ENOSPC;
}

/* The live slot of the region starting at addr, or NULL. */
static sigbus_slot_t *find(const void *addr)
{
    unsigned n = atomic_load_explicit(&slots_used, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) == SLOT_LIVE &&
            atomic_load_explicit(&slots[i].start, memory_order_relaxed) == (uintptr_t)addr)
            return &slots[i];
    return NULL;
}

void h5tier__sigbus_unregister(const void *addr)
{
    if (!addr)
        return;
    sigbus_slot_t *s = find(addr);
    int expect = SLOT_LIVE;
    if (!s || !atomic_compare_exchange_strong(&s->state, &expect, SLOT_BUSY))
        return;
    if (atomic_exchange(&s->broken, 0))
        atomic_fetch_sub(&h5tier__sigbus_nbroken, 1);
    atomic_store_explicit(&s->len, 0, memory_order_relaxed);
    atomic_store_explicit(&s->start, 0, memory_order_relaxed);
    atomic_store_explicit(&s->state, SLOT_FREE, memory_order_release);
}

bool h5tier__sigbus_broken_slow(const void *addr)
{
    sigbus_slot_t *s = find(addr);
    return s && atomic_load_explicit(&s->broken, memory_order_acquire);
}

bool h5tier__sigbus_installed(void) { return atomic_load(&installed) != 0; }
