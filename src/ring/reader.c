/*
 * ring/reader.c -- ring readers: lossy (copy out / zero-copy views,
 * validated against tail_intent after the copy) and tethered (lossless: a
 * position in the control block the writer respects), blocking with spin
 * then futex, writer death detection, statistics slots.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ring/ring_internal.h"

struct h5tier_ring_reader {
    ring_map_t m;
    ring_hdr_t *hdr;
    ring_stream_t *st;   /* in the data object (read-only mapping) */
    ring_rstream_t *rs;  /* in the reader table (read-write unless m.rtab_writable is false) */
    const char *sname;   /* validated copy of the stream's name (m.geom) */
    const char *data;    /* in the read-only mapping */
    uint64_t rsize, cap, mask;
    uint64_t pos;        /* next sequence number to return */
    uint64_t tail_cache; /* last tail loaded */
    uint64_t records, lost, laps;
    h5tier_ring_reader_opts_t opts;
    ring_rslot_t *slot;     /* statistics slot or NULL */
    ring_tether_t *tether;  /* tether or NULL */
    uint64_t released;      /* tether position last published */
    uint64_t view_pos;      /* pending view: first seq */
    uint64_t view_n;        /* pending view: count (0 = none) */
    int flowing;           /* the last look at tail found records at once */
    uint64_t last_look_ns; /* when (for the rate estimate of batch_wait_ns) */
    uint64_t last_alive_ns; /* last time a timeout-0 read found the writer alive */
    pid_t pid;
};

void h5tier_ring_reader_opts_init(h5tier_ring_reader_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->from = H5TIER_RING_FROM_OLDEST;
    opts->spin_us = 50;
    opts->batch_wait_ns = 5000;
}

static inline void ring_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t oldest_of(uint64_t tail, uint64_t cap) { return tail > cap ? tail - cap : 0; }

/* The oldest record that is still intact now (below tail_intent - cap a
 * write may be under way); *tail receives the published tail. */
static uint64_t oldest_intact(const ring_stream_t *st, uint64_t cap, uint64_t *tail)
{
    *tail = atomic_load_explicit(&st->tail, memory_order_acquire);
    uint64_t intent = atomic_load_explicit(&st->tail_intent, memory_order_acquire);
    return oldest_of(intent > *tail ? intent : *tail, cap);
}

static void slot_update(h5tier_ring_reader_t *r)
{
    if (!r->slot)
        return;
    atomic_store_explicit(&r->slot->pos, r->pos, memory_order_relaxed);
    atomic_store_explicit(&r->slot->records, r->records, memory_order_relaxed);
    atomic_store_explicit(&r->slot->lost, r->lost, memory_order_relaxed);
    atomic_store_explicit(&r->slot->laps, r->laps, memory_order_relaxed);
}

static void take_slot(h5tier_ring_reader_t *r)
{
    if (!r->m.rtab_writable)
        return; /* a reader that may not write the reader table: no slot, it polls */
    h5tier__ring_repair_sleepers(r->rs); /* bits of readers killed in their sleep */
    for (int pass = 0; pass < 2 && !r->slot; pass++)
        for (int k = 0; k < H5TIER_RING_MAX_READERS; k++) {
            ring_rslot_t *s = &r->rs->readers[k];
            int32_t cur = atomic_load(&s->pid);
            if (pass == 0 && cur != 0)
                continue;
            /* pass 1: reclaim slots of dead processes */
            bool alive;
            if (pass == 1 && (cur == 0 || ring__owner_check(&s->pid, &s->start, &alive) == 0 || alive))
                continue;
            if (h5tier__owner_claim(&s->pid, &s->start, cur)) {
                atomic_fetch_and(&r->rs->sleepers, ~(UINT32_C(1) << k)); /* a dead owner's bit */
                atomic_store(&s->tethered, r->tether != NULL);
                r->slot = s;
                break;
            }
        }
    slot_update(r);
}

static int take_tether(h5tier_ring_reader_t *r, const char *name, uint64_t pos)
{
    if (!r->m.rtab_writable)
        return h5tier__fail(EACCES, "stream '%s': no write permission on the ring's reader table: a tethered "
                            "reader needs it (ask the ring's owner for a mode giving your group read access)",
                            r->sname);
    if (strlen(name) == 0 || strlen(name) > H5TIER_RING_TETHER_NAME_MAX)
        return h5tier__fail(EINVAL, "tether name '%s' must have 1 to %d characters", name,
                            H5TIER_RING_TETHER_NAME_MAX);
    /* an existing tether of that name: take it over if its holder is gone */
    for (int t = 0; t < H5TIER_RING_MAX_TETHERS; t++) {
        ring_tether_t *te = &r->rs->tethers[t];
        if (!atomic_load(&te->active) || strncmp(te->name, name, sizeof te->name) != 0)
            continue;
        int32_t raw = atomic_load(&te->pid);
        bool alive;
        pid_t pid = ring__owner_check(&te->pid, &te->start, &alive);
        if (pid && pid != r->pid && alive)
            return h5tier__fail(EBUSY, "stream '%s': tether '%s' is held by live pid %d", r->sname, name, (int)pid);
        if (!h5tier__owner_claim(&te->pid, &te->start, raw))
            return h5tier__fail(EBUSY, "stream '%s': tether '%s' was just taken by another process", r->sname, name);
        r->tether = te;
        r->released = atomic_load(&te->pos);
        atomic_fetch_add(&r->rs->tgen, 1);
        return 1;
    }
    for (int t = 0; t < H5TIER_RING_MAX_TETHERS; t++) {
        ring_tether_t *te = &r->rs->tethers[t];
        if (atomic_load(&te->active) || !h5tier__owner_claim(&te->pid, &te->start, 0))
            continue;
        snprintf(te->name, sizeof te->name, "%s", name);
        atomic_store(&te->pos, pos);
        atomic_store_explicit(&te->active, 1, memory_order_release);
        atomic_fetch_add(&r->rs->tgen, 1); /* the writer re-reads the tethers before its next put */
        r->tether = te;
        r->released = pos;
        return 0;
    }
    return h5tier__fail(EUSERS, "stream '%s': all %d tethers are in use (untether one: h5tier ring stat shows them)",
                        r->sname, H5TIER_RING_MAX_TETHERS);
}

int h5tier_ring_reader_open(const char *name, const char *stream, const h5tier_ring_reader_opts_t *opts,
                            h5tier_ring_reader_t **out)
{
    *out = NULL;
    h5tier_ring_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return h5tier__fail(ENOMEM, "ring '%s': out of memory", name);
    if (opts)
        r->opts = *opts;
    else
        h5tier_ring_reader_opts_init(&r->opts);
    if (r->opts.spin_us < 0)
        r->opts.spin_us = 0;
    int rc = h5tier__ring_map(name, false, &r->m);
    if (rc < 0) {
        free(r);
        return rc;
    }
    rc = h5tier__ring_check_hdf5(&r->m);
    if (rc < 0)
        goto fail;
    rc = h5tier__ring_find_stream(&r->m, stream);
    if (rc < 0)
        goto fail;
    r->hdr = r->m.ctl;
    r->st = ring__stream_at(r->m.ctl, (unsigned)rc);
    r->rs = ring__rstream_at(r->m.rtab, (unsigned)rc);
    r->sname = r->m.geom[rc].name;
    r->data = (const char *)r->m.all + r->m.geom[rc].data_offset;
    r->rsize = r->m.geom[rc].record_size;
    r->cap = r->m.geom[rc].capacity;
    r->mask = r->cap - 1;
    r->pid = getpid();
    h5tier__ring_prefault(&r->m); /* before positioning: FROM_LATEST means after the wait */
    uint64_t tail;
    uint64_t oldest = oldest_intact(r->st, r->cap, &tail);
    switch (r->opts.from) {
    case H5TIER_RING_FROM_OLDEST:
        r->pos = oldest;
        break;
    case H5TIER_RING_FROM_LATEST:
        r->pos = tail;
        break;
    case H5TIER_RING_FROM_SEQ:
        if (r->opts.seq < oldest) {
            rc = h5tier__fail(H5TIER_EGONE,
                              "ring '%s' stream '%s': record %llu is gone (the ring holds %llu .. %llu now)", name,
                              r->sname, (unsigned long long)r->opts.seq, (unsigned long long)oldest,
                              (unsigned long long)(tail ? tail - 1 : 0));
            goto fail;
        }
        r->pos = r->opts.seq;
        break;
    default:
        rc = h5tier__fail(EINVAL, "ring '%s': bad reader start %d", name, (int)r->opts.from);
        goto fail;
    }
    r->tail_cache = tail;
    if (r->opts.tether) {
        rc = take_tether(r, r->opts.tether, r->pos);
        if (rc < 0)
            goto fail;
        if (rc == 1 && r->opts.from == H5TIER_RING_FROM_OLDEST) {
            /* resuming a tether: continue where it was released */
            uint64_t tp = atomic_load(&r->tether->pos);
            if (tp > r->pos)
                r->pos = tp;
        }
        /* move the tether up to the start; never down (a reader that starts before what the
           tether already released keeps the promise monotonic: records below it may be gone) */
        if (r->released < r->pos) {
            atomic_store_explicit(&r->tether->pos, r->pos, memory_order_release);
            r->released = r->pos;
        }
    }
    take_slot(r);
    *out = r;
    return 0;
fail:
    h5tier__ring_unmap(&r->m);
    free(r);
    return rc;
}

int h5tier_ring_reader_close(h5tier_ring_reader_t *r)
{
    if (!r)
        return 0;
    if (r->slot) {
        int32_t me = r->pid;
        atomic_compare_exchange_strong(&r->slot->pid, &me, 0);
    }
    if (r->tether) { /* the tether stays (and holds the writer); it is just not held now */
        int32_t me = r->pid;
        atomic_compare_exchange_strong(&r->tether->pid, &me, 0);
    }
    h5tier__ring_unmap(&r->m);
    free(r);
    return 0;
}

int h5tier_ring_untether(const char *name, const char *stream, const char *tether)
{
    ring_map_t m;
    int r = h5tier__ring_map(name, false, &m);
    if (r < 0)
        return r;
    int s = h5tier__ring_find_stream(&m, stream);
    if (s < 0) {
        h5tier__ring_unmap(&m);
        return s;
    }
    ring_rstream_t *rs = ring__rstream_at(m.rtab, (unsigned)s);
    if (!m.rtab_writable) {
        h5tier__ring_unmap(&m);
        return h5tier__fail(EACCES, "ring '%s': no write permission on its reader table (tethers live there)",
                            name);
    }
    r = h5tier__fail(ENOENT, "ring '%s' stream '%s': no tether '%s'", name, m.geom[s].name, tether ? tether : "");
    for (int t = 0; tether && t < H5TIER_RING_MAX_TETHERS; t++) {
        ring_tether_t *te = &rs->tethers[t];
        if (atomic_load(&te->active) && !strncmp(te->name, tether, sizeof te->name)) {
            atomic_store_explicit(&te->active, 0, memory_order_release);
            atomic_store(&te->pid, 0);
            atomic_fetch_add(&rs->tgen, 1);
            atomic_fetch_add(&rs->wfutex, 1);
            h5tier__futex_wake(&rs->wfutex);
            r = 0;
            break;
        }
    }
    h5tier__ring_unmap(&m);
    return r;
}

/* ---- waiting ------------------------------------------------------------------- */

/* Publish the tether position (records below upto may be overwritten). */
static void tether_publish(h5tier_ring_reader_t *r, uint64_t upto)
{
    if (upto <= r->released)
        return;
    r->released = upto;
    /* seq_cst store + load: pairs with the writer's seq_cst store of wwaiting and re-check */
    atomic_store_explicit(&r->tether->pos, upto, memory_order_seq_cst);
    if (atomic_load_explicit(&r->rs->wwaiting, memory_order_seq_cst)) {
        atomic_fetch_add(&r->rs->wfutex, 1);
        h5tier__futex_wake(&r->rs->wfutex);
    }
}

/* Wait until tail > r->pos.  0 when there is something, or -EAGAIN,
 * -ETIMEDOUT, -H5TIER_EDEADWRITER, -EINTR. */
static int wait_data(h5tier_ring_reader_t *r, int timeout_ms)
{
    ring_stream_t *st = r->st;
    uint64_t t = atomic_load_explicit(&st->tail, memory_order_acquire);
    if (t > r->pos) {
        if (r->opts.batch_wait_ns > 0 && (t - r->pos) * r->rsize < 4096) {
            /* Caught up with only a few new records.  If they came fast (>= 4 per us since the
               last look), the writer is streaming: let records accumulate without touching its
               cache lines.  A slower stream is not worth batching: no wait, no latency. */
            uint64_t now = h5tier__ring_now_ns();
            if (r->flowing && (t - r->pos) * 250u >= now - r->last_look_ns) {
                uint64_t until = now + (uint64_t)r->opts.batch_wait_ns;
                do {
                    for (int k = 0; k < 8; k++)
                        ring_cpu_relax();
                    now = h5tier__ring_now_ns();
                } while (now < until);
                t = atomic_load_explicit(&st->tail, memory_order_acquire);
            }
            r->last_look_ns = now;
        }
        r->flowing = 1;
        r->tail_cache = t;
        return 0;
    }
    r->flowing = 0;
    if (H5TIER_UNLIKELY(t < r->tail_cache))
        return h5tier__fail(H5TIER_EMAGIC,
                            "stream '%s': control block corrupted: the tail went back from %llu to %llu", r->sname,
                            (unsigned long long)r->tail_cache, (unsigned long long)t);
    if (timeout_ms == 0) {
        /* a reader polling with timeout 0 checks the writer (kill + /proc) at most every 10 ms */
        uint64_t now = h5tier__ring_now_ns();
        if (now - r->last_alive_ns >= 10000000u) {
            if (h5tier__ring_writer_state(r->hdr, r->opts.dead_after_ms) < 0)
                goto dead;
            r->last_alive_ns = now;
        }
        return -EAGAIN;
    }
    uint64_t t0 = h5tier__ring_now_ns();
    uint64_t spin_end = t0 + (uint64_t)r->opts.spin_us * 1000u;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : t0 + (uint64_t)timeout_ms * 1000000u;
    for (unsigned i = 0;; i++) {
        t = atomic_load_explicit(&st->tail, memory_order_acquire);
        if (t > r->pos) {
            r->tail_cache = t;
            return 0;
        }
        if ((i & 63) == 63 && h5tier__ring_now_ns() > spin_end)
            break;
        ring_cpu_relax();
    }
    for (;;) {
        int ws = h5tier__ring_writer_state(r->hdr, r->opts.dead_after_ms);
        if (ws < 0) {
            t = atomic_load_explicit(&st->tail, memory_order_acquire);
            if (t > r->pos) {
                r->tail_cache = t;
                return 0;
            }
            goto dead;
        }
        uint64_t now = h5tier__ring_now_ns();
        if (now >= deadline)
            return h5tier__fail(ETIMEDOUT, "stream '%s': no record %llu within %d ms", r->sname,
                                (unsigned long long)r->pos, timeout_ms);
        int slice = 10;
        if (deadline != UINT64_MAX && (deadline - now) / 1000000u < 10)
            slice = (int)((deadline - now) / 1000000u) + 1;
        int rc = 0;
        if (r->slot) {
            /* our slot's bit in sleepers: a kill here leaves only that bit, which is cleared
               once the slot's owner is seen dead (h5tier__ring_repair_sleepers) */
            uint32_t bit = UINT32_C(1) << (r->slot - r->rs->readers);
            atomic_fetch_or(&r->rs->sleepers, bit);
            uint32_t f = atomic_load(&st->futex);
            t = atomic_load(&st->tail);
            if (t <= r->pos)
                rc = h5tier__futex_wait(&st->futex, f, slice);
            if (rc == -EFAULT || rc == -ENOSYS) { /* a kernel refusing FUTEX_WAIT on a read-only mapping */
                struct timespec ts = {0, 1000000L};
                nanosleep(&ts, NULL);
                rc = 0;
            }
            atomic_fetch_and(&r->rs->sleepers, ~bit);
        } else {
            /* no statistics slot (all taken): poll, 1 ms at a time */
            struct timespec ts = {0, 1000000L};
            if (nanosleep(&ts, NULL) < 0)
                rc = -errno;
        }
        t = atomic_load_explicit(&st->tail, memory_order_acquire);
        if (t > r->pos) {
            r->tail_cache = t;
            return 0;
        }
        if (H5TIER_UNLIKELY(h5tier__ring_broken(&r->m) < 0))
            return -EIO; /* truncated under us: avail() says which object */
        if (rc == -EINTR)
            return h5tier__fail(EINTR, "stream '%s': wait interrupted by a signal", r->sname);
    }
dead: {
    bool alive;
    pid_t pid = ring__owner_check(&r->hdr->writer_pid, &r->hdr->writer_start, &alive);
    return h5tier__fail(H5TIER_EDEADWRITER,
                        "stream '%s': the writer (pid %d) died; the ring ends at record %llu until a writer attaches",
                        r->sname, (int)pid, (unsigned long long)r->pos);
}
}

/* The reader at pos was lapped: intent says records below intent - cap may be
 * overwritten.  Count the loss and move on; report it as -H5TIER_ELAPPED
 * when `report`. */
static int lapped(h5tier_ring_reader_t *r, uint64_t valid_from, bool report)
{
    uint64_t lost = valid_from - r->pos;
    r->lost += lost;
    r->laps++;
    r->pos = valid_from;
    uint64_t t = atomic_load_explicit(&r->st->tail, memory_order_acquire);
    if (t > r->tail_cache)
        r->tail_cache = t;
    if (r->tether)
        tether_publish(r, valid_from); /* cannot happen for a respected tether, kept monotonic anyway */
    slot_update(r);
    if (report)
        return h5tier__fail(H5TIER_ELAPPED, "stream '%s': lapped by the writer, %llu records lost; resumed at %llu",
                            r->sname, (unsigned long long)lost, (unsigned long long)valid_from);
    return 0;
}

/* Make sure records are available at r->pos; handle a lap before copying.
 * Returns the count available (>= 1) or an error. */
static long avail(h5tier_ring_reader_t *r, int timeout_ms)
{
    for (;;) {
        int rb = h5tier__ring_broken(&r->m);
        if (H5TIER_UNLIKELY(rb < 0))
            return rb;
        if (r->pos >= r->tail_cache) {
            int rc = wait_data(r, timeout_ms);
            if (rc < 0)
                return (rb = h5tier__ring_broken(&r->m)) < 0 ? rb : rc; /* zeros misread as a bad tail */
        }
        uint64_t old = oldest_of(r->tail_cache, r->cap);
        if (r->pos < old) {
            int rc = lapped(r, old, r->opts.flags & H5TIER_RING_REPORT_LAPS);
            if (rc < 0)
                return rc;
            continue;
        }
        return (long)(r->tail_cache - r->pos);
    }
}

/* After copying records starting at `first`: the first sequence number that
 * is still valid (<= first: all copied records are intact). */
static uint64_t validate(h5tier_ring_reader_t *r, uint64_t first)
{
    uint64_t intent = RING_LOAD_AFTER_COPY(&r->st->tail_intent);
    if (H5TIER_LIKELY(intent - first <= r->cap))
        return first;
    return intent - r->cap;
}

static void advance(h5tier_ring_reader_t *r, uint64_t n)
{
    r->pos += n;
    r->records += n;
    if (r->tether && !(r->opts.flags & H5TIER_RING_MANUAL_RELEASE))
        tether_publish(r, r->pos);
    slot_update(r);
}

long h5tier_ring_next_many(h5tier_ring_reader_t *r, void *buf, size_t max, size_t size, uint64_t *first_seq,
                           int timeout_ms)
{
    if (H5TIER_UNLIKELY(max == 0 || size < max * r->rsize))
        return h5tier__fail(H5TIER_ESCHEMA, "stream '%s': buffer of %zu bytes for %zu records of %llu bytes",
                            r->sname, size, max, (unsigned long long)r->rsize);
    for (;;) {
        long a = avail(r, timeout_ms);
        if (a < 0)
            return a;
        uint64_t n = (uint64_t)a < max ? (uint64_t)a : max;
        uint64_t pos = r->pos;
        uint64_t slot = pos & r->mask;
        uint64_t first = r->cap - slot < n ? r->cap - slot : n;
        memcpy(buf, r->data + slot * r->rsize, first * r->rsize);
        if (first < n)
            memcpy((char *)buf + first * r->rsize, r->data, (n - first) * r->rsize);
        int rb = h5tier__ring_broken(&r->m); /* zeros from a truncated object are never returned as records */
        if (H5TIER_UNLIKELY(rb < 0))
            return rb;
        uint64_t valid = validate(r, pos);
        if (H5TIER_UNLIKELY(valid > pos)) {
            int rc = lapped(r, valid, r->opts.flags & H5TIER_RING_REPORT_LAPS);
            if (rc < 0)
                return rc; /* REPORT_LAPS: the valid part is read again next time */
            if (valid >= pos + n)
                continue;
            uint64_t bad = valid - pos;
            memmove(buf, (char *)buf + bad * r->rsize, (n - bad) * r->rsize);
            n -= bad;
            pos = valid;
        }
        if (first_seq)
            *first_seq = pos;
        advance(r, n);
        return (long)n;
    }
}

int h5tier_ring_next(h5tier_ring_reader_t *r, void *buf, size_t size, uint64_t *seq, int timeout_ms)
{
    long n = h5tier_ring_next_many(r, buf, 1, size, seq, timeout_ms);
    return n < 0 ? (int)n : 0;
}

long h5tier_ring_view(h5tier_ring_reader_t *r, const void **data, size_t max, uint64_t *first_seq, int timeout_ms)
{
    if (max == 0)
        return h5tier__fail(EINVAL, "stream '%s': view of 0 records", r->sname);
    long a = avail(r, timeout_ms);
    if (a < 0)
        return a;
    uint64_t n = (uint64_t)a < max ? (uint64_t)a : max;
    uint64_t slot = r->pos & r->mask;
    if (r->cap - slot < n)
        n = r->cap - slot;
    *data = r->data + slot * r->rsize;
    if (first_seq)
        *first_seq = r->pos;
    r->view_pos = r->pos;
    r->view_n = n;
    return (long)n;
}

int h5tier_ring_view_done(h5tier_ring_reader_t *r)
{
    if (!r->view_n)
        return h5tier__fail(EINVAL, "stream '%s': no view is pending", r->sname);
    uint64_t n = r->view_n;
    r->view_n = 0;
    int rb = h5tier__ring_broken(&r->m);
    if (rb < 0)
        return rb;
    uint64_t valid = validate(r, r->view_pos);
    if (valid > r->view_pos)
        return lapped(r, valid, true); /* the caller used torn records: always say so */
    advance(r, n);
    return 0;
}

int h5tier_ring_reader_release(h5tier_ring_reader_t *r, uint64_t upto)
{
    if (!r->tether)
        return h5tier__fail(EINVAL, "stream '%s': release on a reader without a tether", r->sname);
    if (upto > r->pos)
        upto = r->pos;
    tether_publish(r, upto);
    return 0;
}

int h5tier_ring_reader_seek(h5tier_ring_reader_t *r, uint64_t seq)
{
    uint64_t tail;
    uint64_t old = oldest_intact(r->st, r->cap, &tail);
    if (seq < old)
        return h5tier__fail(H5TIER_EGONE, "stream '%s': record %llu is gone (the ring holds %llu .. %llu now)",
                            r->sname, (unsigned long long)seq, (unsigned long long)old,
                            (unsigned long long)(tail ? tail - 1 : 0));
    if (seq > tail)
        return h5tier__fail(EINVAL, "stream '%s': record %llu is beyond the tail %llu", r->sname,
                            (unsigned long long)seq, (unsigned long long)tail);
    r->pos = seq;
    r->tail_cache = tail;
    r->view_n = 0;
    slot_update(r);
    return 0;
}

int h5tier_ring_reader_stats(const h5tier_ring_reader_t *r, h5tier_ring_reader_stats_t *s)
{
    s->position = r->pos;
    s->records = r->records;
    s->lost = r->lost;
    s->laps = r->laps;
    s->tail = atomic_load(&r->st->tail);
    s->generation = atomic_load(&r->hdr->generation);
    return 0;
}

size_t h5tier_ring_reader_record_size(const h5tier_ring_reader_t *r) { return (size_t)r->rsize; }
uint64_t h5tier_ring_reader_capacity(const h5tier_ring_reader_t *r) { return r->cap; }
const char *h5tier_ring_reader_stream(const h5tier_ring_reader_t *r) { return r->sname; }

int h5tier_ring_reader_schema(const h5tier_ring_reader_t *r, hid_t *type, int *rank, hsize_t *dims)
{
    hid_t f = h5tier_ring_open_hdf5(r->m.name + 1);
    if (f < 0)
        return (int)f;
    int rc = 0;
    hid_t d = H5Dopen2(f, r->sname, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    hid_t t = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t all[H5TIER_RING_MAX_RANK + 1];
    if (nd < 1 || nd > H5TIER_RING_MAX_RANK + 1 || t < 0 || H5Sget_simple_extent_dims(sp, all, NULL) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "ring '%s': cannot read the schema of stream '%s'", r->m.name + 1,
                          r->sname);
        if (t >= 0)
            H5Tclose(t);
    } else {
        *type = t;
        *rank = nd - 1;
        for (int k = 1; k < nd; k++)
            dims[k - 1] = all[k];
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    H5Fclose(f);
    return rc;
}
