/*
 * shm/ahead.c -- the shm writer's populate-ahead helper thread
 * (H5TIER_SHM_POPULATE_AHEAD).
 *
 * A first write into tmpfs pays for allocating, zeroing and mapping every
 * page.  This thread takes the first two off the writer's critical path:
 *
 *  - reserve ahead: when the writer's frontier gets within half a growth step
 *    of the reserved end, the thread fallocates the next step, so the
 *    writer's grow() finds it reserved.  A failure (ENOSPC, ...) is only
 *    recorded: the writer then reserves itself and reports its own error at
 *    the write that needs the space.
 *  - zero ahead: the thread writes zeros (pwrite on the fd, no mapping) into
 *    reserved pages that the writer has not touched yet, from AHEAD_GAP to
 *    AHEAD_DISTANCE beyond the writer's frontier.  A fallocated tmpfs page is
 *    not zeroed until first use; written, it is up to date, so the writer's
 *    MADV_POPULATE_WRITE / write fault then only maps it (about a third of
 *    the cost).  The thread never maps the object, so the writer's mremap
 *    (MAYMOVE) cannot race it, and a pwrite beyond the end of the object
 *    fails instead of raising SIGBUS.
 *
 * Safety of the zeros: the writer only touches pages below its frontier.
 * Before it moves the frontier to F it makes sure no unit in progress lies
 * below F (h5tier__shm_ahead_frontier: it populates less, or, if the write
 * itself reaches into the unit, waits), and the thread only starts units at
 * or beyond the frontier + AHEAD_GAP; so a page the writer filled is never
 * overwritten.  The gap is the writer's own populate step: the writer
 * hardly ever waits, even when the thread gets no CPU.
 *
 * Adaptivity: zeroing helps only when the thread runs on a CPU of its own
 * (pwrite of zeros costs more CPU than the faults it saves).  No thread is
 * started in a process allowed on one CPU only; and when the writer keeps
 * reaching pages the thread has not zeroed yet, or keeps running on the CPU
 * the thread last zeroed on, the thread stops zeroing for that file.
 *
 * Synchronisation: one mutex + two condition variables.  grow() cancels a
 * reservation not yet started and waits for one in progress, so the thread's
 * and the writer's fallocate never overlap; close (and with it the shrink to
 * the logical end) stops and joins the thread first.
 *
 * Fork: the thread belongs to the process that started it (recorded pid).  In
 * a child after fork() it does not exist; every function here then does
 * nothing (the mutex may have been held at the fork: it is never touched),
 * and the child's writer reserves and zeroes for itself.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/shm_driver.h"

/* Zeroing unit: one pwrite; the writer waits for at most one unit in
 * progress where it is about to write. */
#define AHEAD_UNIT ((uint64_t)256 << 10)
/* The thread leaves this much beyond the writer's frontier to the writer: its
 * next MADV_POPULATE_WRITE step (H5FDshm.c) never has to wait for a unit in
 * progress, even when the thread is behind (no free CPU). */
#define AHEAD_GAP ((uint64_t)4 << 20)
/* How far ahead of the writer's frontier to zero: reserved space the file
 * never uses (the rest of the last growth step) is not worth zeroing. */
#define AHEAD_DISTANCE ((uint64_t)12 << 20)
/* After this many writer steps into pages the thread had not zeroed yet (or
 * had to wait for), or on the CPU the thread last zeroed on, the thread stops
 * zeroing for this file.  The first step after the start usually misses. */
#define AHEAD_MAX_MISSES 4
/* Map behind: one MADV_POPULATE_WRITE call; the writer's mremap waits for at
 * most one. */
#define AHEAD_POP ((uint64_t)1 << 20)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

enum { RES_NONE, RES_PENDING, RES_BUSY, RES_DONE, RES_FAILED };

struct h5tier__shm_ahead {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the thread waits for work or stop */
    pthread_cond_t done;    /* the writer waits for a reservation or a zeroing unit in progress */
    pthread_t th;
    pid_t pid;              /* process that owns the thread */
    int fd;                 /* the data object (the writer's fd, kept open by it) */
    int stop;
    int no_zero;            /* zero no more: a pwrite of zeros failed, or the thread does not keep up */
    int misses;             /* writer steps into pages the thread had not zeroed (or had to wait for) */
    int thread_cpu;         /* CPU the thread last zeroed on (-1: unknown) */
    int same_cpu;           /* writer steps seen on the thread's last CPU */
    /* reservation request [res_from, res_to) and its state (under mu) */
    uint64_t res_from, res_to;
    int res_state;
    /* zeroing: everything in [zeroed_to, limit) beyond the frontier */
    uint64_t limit;         /* reserved end: the thread zeroes below it only (under mu) */
    uint64_t zeroed_to;     /* thread: zeroed up to here (under mu) */
    uint64_t claim_from, claim_to; /* window being zeroed now, empty if none (under mu) */
    _Atomic uint64_t frontier; /* writer: [frontier, ...) never touched since reserved */
    /* map behind (under mu): populate the writer's mapping at base over
     * [pop_to, behind_to), the range it wrote with pwrite */
    unsigned char *base;    /* NULL: the writer is moving its mapping, or none given */
    uint64_t pop_to, behind_to;
    int pop_busy;           /* the thread is populating now (base in use) */
};

static int mine(const h5tier__shm_ahead_t *a) { return a && a->pid == getpid(); }

/* The source of the zeros: never written (in .bss, not in the library file). */
static unsigned char zeros[AHEAD_UNIT];

static void *ahead_main(void *arg)
{
    h5tier__shm_ahead_t *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        if (a->stop)
            break;
        if (a->res_state == RES_PENDING) {
            uint64_t from = a->res_from, to = a->res_to;
            a->res_state = RES_BUSY;
            pthread_mutex_unlock(&a->mu);
            int e = -h5tier__reserve_range(a->fd, (off_t)from, (off_t)(to - from));
            pthread_mutex_lock(&a->mu);
            a->res_state = e ? RES_FAILED : RES_DONE;
            if (!e && to > a->limit)
                a->limit = to;
            pthread_cond_broadcast(&a->done);
            continue;
        }
        if (a->base && a->pop_to < a->behind_to) {
            uint64_t from = a->pop_to, to = from + AHEAD_POP < a->behind_to ? from + AHEAD_POP : a->behind_to;
            unsigned char *base = a->base;
            a->pop_busy = 1;
            pthread_mutex_unlock(&a->mu);
            /* best effort (EINVAL before Linux 5.14): the writer's own access faults instead */
            h5tier_sys.madvise(base + from, (size_t)(to - from), MADV_POPULATE_WRITE);
            pthread_mutex_lock(&a->mu);
            a->pop_busy = 0;
            a->pop_to = to;
            pthread_cond_broadcast(&a->done);
            continue;
        }
        uint64_t fr = atomic_load_explicit(&a->frontier, memory_order_relaxed);
        uint64_t from = a->zeroed_to > fr + AHEAD_GAP ? a->zeroed_to : fr + AHEAD_GAP;
        uint64_t end = fr + AHEAD_DISTANCE < a->limit ? fr + AHEAD_DISTANCE : a->limit;
        if (!a->no_zero && from < end) {
            uint64_t to = from + AHEAD_UNIT < end ? from + AHEAD_UNIT : end;
            a->claim_from = from;
            a->claim_to = to;
            pthread_mutex_unlock(&a->mu);
            int rc = h5tier__pwrite_full(a->fd, zeros, (size_t)(to - from), (off_t)from); /* to - from <= a unit */
            pthread_mutex_lock(&a->mu);
            a->claim_from = a->claim_to = 0;
            a->thread_cpu = sched_getcpu();
            pthread_cond_broadcast(&a->done);
            if (rc < 0)
                a->no_zero = 1; /* best effort: the writer's faults zero the pages */
            else if (to > a->zeroed_to)
                a->zeroed_to = to;
            continue;
        }
        pthread_cond_wait(&a->cv, &a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

h5tier__shm_ahead_t *h5tier__shm_ahead_start(int fd, uint64_t size, uint64_t frontier)
{
    /* Only worth it with a second CPU to run on (not for a process pinned to
     * one core, like a typical MPI rank). */
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) < 2)
        return NULL;
    h5tier__shm_ahead_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->fd = fd;
    a->pid = getpid();
    a->limit = size;
    a->zeroed_to = frontier;
    a->thread_cpu = -1;
    atomic_init(&a->frontier, frontier);
    if (pthread_mutex_init(&a->mu, NULL) != 0)
        goto fail_mu;
    if (pthread_cond_init(&a->cv, NULL) != 0)
        goto fail_cv;
    if (pthread_cond_init(&a->done, NULL) != 0)
        goto fail_done;
    /* Signals go to the application's threads, not to this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&a->th, NULL, ahead_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        return a;
    pthread_cond_destroy(&a->done);
fail_done:
    pthread_cond_destroy(&a->cv);
fail_cv:
    pthread_mutex_destroy(&a->mu);
fail_mu:
    free(a);
    return NULL;
}

uint64_t h5tier__shm_ahead_frontier(h5tier__shm_ahead_t *a, uint64_t need, uint64_t to)
{
    if (!mine(a))
        return to;
    pthread_mutex_lock(&a->mu);
    /* The writer is about to touch [old frontier, to).  A unit being zeroed
     * there (only possible beyond old frontier + AHEAD_GAP) is left alone by
     * populating less; only when the write itself reaches into it, wait. */
    int missed = 0;
    if (a->claim_to > a->claim_from && a->claim_from < to) {
        if (a->claim_from >= need)
            to = a->claim_from;
        else {
            missed = 1;
            while (a->claim_to > a->claim_from && a->claim_from < to)
                pthread_cond_wait(&a->done, &a->mu);
        }
    }
    if (a->zeroed_to < to)
        missed = 1;
    /* A thread that keeps falling behind, or that zeroes on the writer's own
     * CPU, gets no CPU of its own: its zeroing (dearer than the faults it
     * saves) then only competes with the writer, so it stops (reserving goes
     * on). */
    if (missed && ++a->misses >= AHEAD_MAX_MISSES)
        a->no_zero = 1;
    if (a->thread_cpu >= 0 && a->thread_cpu == sched_getcpu() && ++a->same_cpu >= AHEAD_MAX_MISSES)
        a->no_zero = 1;
    atomic_store_explicit(&a->frontier, to, memory_order_relaxed);
    pthread_cond_signal(&a->cv); /* zero further ahead */
    pthread_mutex_unlock(&a->mu);
    return to;
}

void h5tier__shm_ahead_kick(h5tier__shm_ahead_t *a, uint64_t size, uint64_t res_to)
{
    if (!mine(a))
        return;
    pthread_mutex_lock(&a->mu);
    if (size > a->limit)
        a->limit = size;
    if (res_to > size && (a->res_state == RES_NONE || a->res_state == RES_FAILED) && res_to > a->limit) {
        a->res_from = size;
        a->res_to = res_to;
        a->res_state = RES_PENDING;
    }
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

uint64_t h5tier__shm_ahead_take(h5tier__shm_ahead_t *a, uint64_t size)
{
    if (!mine(a))
        return size;
    uint64_t got = size;
    pthread_mutex_lock(&a->mu);
    if (a->res_state == RES_PENDING)
        a->res_state = RES_NONE; /* not started: the writer reserves itself */
    while (a->res_state == RES_BUSY)
        pthread_cond_wait(&a->done, &a->mu);
    if (a->res_state == RES_DONE && a->res_from == size)
        got = a->res_to;
    a->res_state = RES_NONE;
    pthread_mutex_unlock(&a->mu);
    return got;
}

void h5tier__shm_ahead_behind(h5tier__shm_ahead_t *a, unsigned char *base, uint64_t written_to)
{
    if (!mine(a))
        return;
    pthread_mutex_lock(&a->mu);
    a->base = base;
    a->no_zero = 1; /* no unit starts after this; wait for one in progress: */
    while (a->claim_to > a->claim_from)
        pthread_cond_wait(&a->done, &a->mu);
    if (written_to > a->behind_to)
        a->behind_to = written_to;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void h5tier__shm_ahead_unmap(h5tier__shm_ahead_t *a)
{
    if (!mine(a))
        return;
    pthread_mutex_lock(&a->mu);
    while (a->pop_busy)
        pthread_cond_wait(&a->done, &a->mu);
    a->base = NULL;
    pthread_mutex_unlock(&a->mu);
}

void h5tier__shm_ahead_stop(h5tier__shm_ahead_t *a)
{
    if (!mine(a))
        return; /* NULL, or a forked child: no thread here; the parent's copy is not ours to free */
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    pthread_cond_destroy(&a->done);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
