/*
 * tier/H5FDtier.c -- the HDF5 virtual file driver "h5tier_tier": a page
 * cache over RAM and SSD tiers in front of a (slow) backing file.
 *
 * Contract:
 * - The name given to H5Fcreate/H5Fopen is the backing file, opened like
 *   sec2 would (same flags, mode 0666 minus umask); after close it is a
 *   plain HDF5 file, byte for byte what sec2 would have written.
 * - The logical file is cut into pages (page=).  A page is cached in exactly
 *   one tier: RAM (tier 0, malloc'd) or an SSD tier (a slot in a cache file).
 *   Reads are served from the tier holding the page; a miss reads a run of
 *   pages from the backing store (extended by read-ahead) and installs them
 *   per the placement policy.  A write to a page not fully covered first
 *   reads it (read-modify-write), so partial pages never lose or invent
 *   bytes; pages past the backing file's end read as zeros, like sec2.
 * - Dirty pages live only in RAM, at most dirty= bytes of them.  A
 *   write-behind thread (flush=async) writes runs of dirty pages to the
 *   backing store outside the lock, keeping each page pinned ("busy") until
 *   its write landed, so no reader can miss it and read the old bytes.
 * - flush/close: every dirty page is written and the backing file fsync'ed;
 *   a backing-store failure is returned by that call (or by the next write
 *   call after the thread met it), and the pages stay dirty: nothing is lost.
 * - SSD tiers hold clean pages only: a failing SSD (ENOSPC, EIO, short I/O)
 *   switches that tier off with one warning and its pages are simply read
 *   from the backing store again.
 * - No SWMR (the driver caches).  Locking: flock on the backing file, as sec2.
 *
 * Files: this one (callbacks, page table, policies, write-behind), config.c
 * (the configuration string), kept.c (SSD caches kept across processes),
 * stats.c (statistics JSON).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tier/tier_internal.h"

#define TIER_MAXADDR ((haddr_t)INT64_MAX - 1)
#define TIER_RUN_BYTES ((uint64_t)16 << 20) /* largest backing I/O of one run */
#define TIER_SCAN 64                        /* eviction candidates looked at */
#define TIER_AGE_NS 5000000ll               /* write-behind lets a page rest 5 ms */
#define TIER_REWRITE_NS 200000000ll         /* and writes a page again at most every 200 ms
                                               (without pressure): hot pages are not rewritten
                                               for every small change */
#define TIER_AHEAD_BYTES ((uint64_t)2 << 20) /* most bytes read ahead at once */
#define HINT_PROP "h5tier_tier_hint"
#define WB_IOV_BYTES (sizeof(struct iovec) * (TIER_RUN_BYTES / 4096))

typedef struct tpage {
    uint64_t pno;
    struct tpage *hnext;         /* hash chain */
    struct tpage *prev, *next;   /* its tier's recency list (head = most recent) */
    struct tpage *dprev, *dnext; /* dirty list, oldest first (RAM pages only) */
    unsigned char *buf;          /* tier 0: the bytes */
    unsigned char *wb_buf;       /* busy page written to meanwhile: the old bytes its write-back
                                    is writing (freed when it ends); buf is the new copy */
    uint64_t slot;               /* SSD tiers: the slot in the cache file */
    uint64_t kslot;              /* RAM page promoted from a kept tier: its slot there, still valid */
    int64_t wtime;               /* last write (ns, monotonic) */
    int64_t wbtime;              /* last write-back (ns, monotonic; 0 = never) */
    uint32_t freq;               /* uses (LFU) */
    int8_t tier;                 /* 0 = RAM, 1.. = SSD tiers */
    uint8_t dirty, busy, meta, prefetched, hint, has_kslot;
} tpage_t;

typedef struct ttier {
    int ssd;                     /* 0 = RAM */
    uint64_t cap;                /* pages */
    uint64_t used;               /* pages */
    tpage_t *head, *tail;
    int fd;                      /* SSD: the cache file */
    char path[PATH_MAX];
    char dir[TIER_PATH_MAX];
    uint8_t *slot_used;          /* SSD: one byte per slot: 0 free, 1 used, 2 pinned (kept, never reused) */
    uint64_t slot_cursor;
    int failed, readonly;
    double ewma_ns;              /* measured ns per page operation */
    h5tier_tier_tier_stats_t st;
} ttier_t;

typedef struct tier_file {
    H5FD_t pub;                  /* public part; must be first */
    tier_cfg_t cfg;
    char cfgtext[H5TIER_TIER_CONFIG_MAX];
    char path[PATH_MAX];
    int fd;                      /* the backing file */
    int writer;
    dev_t dev;
    ino_t ino;
    haddr_t eoa, eof;
    uint64_t bsize;              /* bytes the backing file holds on disk */
    uint64_t P;
    unsigned shift;
    ttier_t tiers[H5TIER_TIER_MAX_TIERS];
    unsigned ntiers;
    tpage_t **ht;
    size_t hcap, hcount;
    tpage_t *dhead, *dtail;      /* dirty pages, oldest first */
    uint64_t dirty_bytes;
    uint64_t nbusy;              /* pages whose write-back is in flight */
    unsigned char **pool;        /* page buffers already touched (first-touch faults paid ahead) */
    uint64_t npool, pool_cap;
    unsigned char *stage;        /* the caller's bounce buffer for reads */
    size_t stage_len;
    unsigned char *wbuf;         /* the caller's write-back buffer (never the same as stage: a
                                    write-back may happen while stage holds pages to install) */
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* a write-back finished */
    pthread_cond_t wake;         /* work for the write-behind thread */
    pthread_t thr;
    int thr_on, thr_failed, stop, flush_req;
    int wb_err;                  /* a write-back failed (errno), reported at the next call */
    unsigned char *wb_src[TIER_RUN_BYTES / 4096]; /* the run wb_collect pinned */
    int synced;                  /* nothing written since the last fsync */
    char wb_msg[512];
    /* read-ahead detector */
    uint64_t last_first, last_end;
    int64_t stride;
    int seq_streak, stride_streak;
    unsigned depth_cur, depth_hits;
    /* learned predictor (prefetch=learn): per page, the page the next read
     * started at, with a confidence count (a direct-mapped table) */
    struct tier_succ {
        uint64_t from, to;
        uint32_t count;
    } *succ;
    uint64_t learn_prev;         /* first page of the previous read + 1 (0 = none) */
    uint64_t last_touch;         /* page last touched + 1 (0 = none) */
    unsigned rr;
    uint64_t rng;
    double backing_ewma_ns;
    h5tier_tier_stats_t st;
    tier_kept_t kept;
    int kept_on;
    pid_t pid;
} tier_file_t;

typedef struct tier_fa {
    char text[H5TIER_TIER_CONFIG_MAX];
} tier_fa_t;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void ewma(double *avg, double v) { *avg = *avg == 0 ? v : *avg * 0.9 + v * 0.1; }

#define PUSHF(err, ...) H5TIER_PUSH(H5TIER_AREA_TIER, (err), __VA_ARGS__)
#define TIER_POOL_BYTES ((uint64_t)64 << 20) /* most page buffers kept touched ahead */

/* A page buffer: one from the pool when there is one (its pages are already
 * faulted in: a first write into it runs at memcpy speed), else malloc. */
static unsigned char *buf_get(tier_file_t *f)
{
    if (f->npool)
        return f->pool[--f->npool];
    return malloc(f->P);
}

/* Give a page buffer back: to the pool while it has room, else free. */
static void buf_put(tier_file_t *f, unsigned char *b)
{
    if (b && f->pool && f->npool < f->pool_cap && f->tiers[0].used + f->npool < f->tiers[0].cap)
        f->pool[f->npool++] = b; /* pages + pool never exceed the RAM tier */
    else
        free(b);
}

/* ---- page table ----------------------------------------------------------- */

static size_t hslot(const tier_file_t *f, uint64_t pno) { return (size_t)((pno * 0x9E3779B97F4A7C15ull) >> 20) & (f->hcap - 1); }

static tpage_t *find(const tier_file_t *f, uint64_t pno)
{
    for (tpage_t *p = f->ht[hslot(f, pno)]; p; p = p->hnext)
        if (p->pno == pno)
            return p;
    return NULL;
}

static int ht_grow(tier_file_t *f)
{
    size_t ncap = f->hcap * 2;
    tpage_t **n = calloc(ncap, sizeof *n);
    if (!n)
        return -ENOMEM;
    tpage_t **old = f->ht;
    size_t ocap = f->hcap;
    f->ht = n;
    f->hcap = ncap;
    for (size_t i = 0; i < ocap; i++)
        for (tpage_t *p = old[i], *nx; p; p = nx) {
            nx = p->hnext;
            size_t h = hslot(f, p->pno);
            p->hnext = n[h];
            n[h] = p;
        }
    free(old);
    return 0;
}

static void ht_insert(tier_file_t *f, tpage_t *p)
{
    if (f->hcount + 1 > f->hcap / 2)
        ht_grow(f); /* on ENOMEM the chains only get longer */
    size_t h = hslot(f, p->pno);
    p->hnext = f->ht[h];
    f->ht[h] = p;
    f->hcount++;
}

static void ht_remove(tier_file_t *f, tpage_t *p)
{
    tpage_t **pp = &f->ht[hslot(f, p->pno)];
    while (*pp && *pp != p)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = p->hnext;
        f->hcount--;
    }
}

static void lru_unlink(ttier_t *t, tpage_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        t->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        t->tail = p->prev;
    p->prev = p->next = NULL;
}

static void lru_front(ttier_t *t, tpage_t *p)
{
    p->prev = NULL;
    p->next = t->head;
    if (t->head)
        t->head->prev = p;
    t->head = p;
    if (!t->tail)
        t->tail = p;
}

static void touch(tier_file_t *f, tpage_t *p)
{
    ttier_t *t = &f->tiers[p->tier];
    if (t->head != p) {
        lru_unlink(t, p);
        lru_front(t, p);
    }
    /* a use is counted once per visit: a page touched again right away (the
     * next part of the same stream) is not re-used */
    if (p->freq < UINT32_MAX / 2 && f->last_touch != p->pno + 1)
        p->freq++;
    f->last_touch = p->pno + 1;
}

static void dirty_add(tier_file_t *f, tpage_t *p)
{
    p->dirty = 1;
    p->dnext = NULL;
    p->dprev = f->dtail;
    if (f->dtail)
        f->dtail->dnext = p;
    else
        f->dhead = p;
    f->dtail = p;
    f->dirty_bytes += f->P;
    f->st.dirty_bytes = f->dirty_bytes;
}

static void dirty_del(tier_file_t *f, tpage_t *p)
{
    if (!p->dirty)
        return;
    if (p->dprev)
        p->dprev->dnext = p->dnext;
    else
        f->dhead = p->dnext;
    if (p->dnext)
        p->dnext->dprev = p->dprev;
    else
        f->dtail = p->dprev;
    p->dprev = p->dnext = NULL;
    p->dirty = 0;
    f->dirty_bytes -= f->P;
    f->st.dirty_bytes = f->dirty_bytes;
}

/* A RAM page's copy in the kept tier is no longer valid (or no longer wanted). */
static void kslot_release(tier_file_t *f, tpage_t *p)
{
    if (!p->has_kslot)
        return;
    ttier_t *k = &f->tiers[1];
    if (k->slot_used && k->slot_used[p->kslot] == 1)
        k->slot_used[p->kslot] = 0;
    p->has_kslot = 0;
}

/* Drop a clean, idle page from the cache entirely. */
static void page_drop(tier_file_t *f, tpage_t *p)
{
    ttier_t *t = &f->tiers[p->tier];
    kslot_release(f, p);
    if (p->prefetched)
        f->st.prefetch_waste++;
    lru_unlink(t, p);
    ht_remove(f, p);
    t->used--;
    t->st.used = t->used * f->P;
    if (t->ssd) {
        if (t->slot_used && t->slot_used[p->slot] == 1)
            t->slot_used[p->slot] = 0;
    } else {
        buf_put(f, p->buf);
    }
    free(p);
}

/* ---- SSD tiers -------------------------------------------------------------- */

static void tier_fail(tier_file_t *f, ttier_t *t, int err, const char *what)
{
    if (t->failed)
        return;
    t->failed = 1;
    t->st.failed = 1;
    if (f->cfg.warn)
        fprintf(stderr,
                "h5tier tier: warning: ssd tier '%s' failed (%s: %s); switched off for '%s', its pages are read "
                "from the backing file again\n",
                t->dir, what, h5tier_strerror(err), f->path);
    /* its pages are clean copies: drop them all */
    if (t == &f->tiers[1])
        for (tpage_t *q = f->tiers[0].head; q; q = q->next)
            q->has_kslot = 0;
    while (t->head) {
        tpage_t *p = t->head;
        if (p->prefetched)
            p->prefetched = 0;
        page_drop(f, p);
    }
}

static int slot_alloc(ttier_t *t, uint64_t *slot)
{
    for (uint64_t i = 0; i < t->cap; i++) {
        uint64_t s = (t->slot_cursor + i) % t->cap;
        if (t->slot_used[s] == 0) {
            t->slot_used[s] = 1;
            t->slot_cursor = s + 1;
            *slot = s;
            return 0;
        }
    }
    return -ENOSPC;
}

/* The eviction victim among the least recent pages of tier t: clean and idle;
 * LRU takes the first, LFU the least used, 2Q the least recent page used
 * only once (else the least recent); cold pages go first, hot and metadata
 * pages last. */
static tpage_t *victim(tier_file_t *f, ttier_t *t)
{
    tpage_t *best = NULL;
    long bscore = 0;
    int n = 0;
    uint64_t meta_limit = t->cap / 2;
    uint64_t nmeta = 0;
    for (tpage_t *p = t->tail; p && n < TIER_SCAN; p = p->prev) {
        if (p->dirty || p->busy)
            continue;
        n++;
        long score = f->cfg.evict == TIER_EVICT_LFU ? (long)p->freq : n;
        if (f->cfg.evict == TIER_EVICT_2Q && p->freq < 2)
            score -= 100000; /* 2Q (simplified): pages used once go before re-used ones */
        if (p->hint == H5TIER_HINT_COLD)
            score -= 1000000;
        if (p->hint == H5TIER_HINT_HOT)
            score += 1000000;
        if (p->meta && !t->ssd) {
            nmeta++;
            score += 2000000;
        }
        if (!best || score < bscore) {
            best = p;
            bscore = score;
        }
    }
    (void)meta_limit;
    (void)nmeta;
    return best;
}

/* Store a clean page image into SSD tier t: *slot.  0, or -errno after the
 * tier was switched off (or -ENOSPC when it has no reusable slot). */
static int ssd_store(tier_file_t *f, ttier_t *t, const unsigned char *buf, uint64_t *slot)
{
    if (t->failed || t->readonly)
        return -EROFS;
    if (slot_alloc(t, slot) < 0) {
        tpage_t *v = victim(f, t);
        if (!v)
            return -ENOSPC;
        t->st.evictions++;
        page_drop(f, v);
        if (slot_alloc(t, slot) < 0)
            return -ENOSPC; /* the victim's slot was pinned by the kept index */
    }
    int64_t t0 = now_ns();
    int rc = h5tier__pwrite_full(t->fd, buf, f->P, (off_t)(*slot * f->P));
    int64_t dt = now_ns() - t0;
    t->st.busy_s += (double)dt / 1e9;
    if (rc < 0) {
        t->slot_used[*slot] = 0;
        tier_fail(f, t, -rc, "write");
        return rc;
    }
    ewma(&t->ewma_ns, (double)dt);
    t->st.ns_per_byte = t->ewma_ns / (double)f->P;
    t->st.bytes_in += f->P;
    if (f->kept_on && t == &f->tiers[1])
        f->kept.wrote = 1;
    return 0;
}

/* Read [off, off+len) of SSD page p into dst.  0, or -errno after the tier
 * was switched off (p is then gone). */
static int ssd_load_range(tier_file_t *f, tpage_t *p, uint64_t off, size_t len, unsigned char *dst)
{
    ttier_t *t = &f->tiers[p->tier];
    size_t got = 0;
    int64_t t0 = now_ns();
    int rc = h5tier__pread_full(t->fd, dst, len, (off_t)(p->slot * f->P + off), &got);
    int64_t dt = now_ns() - t0;
    t->st.busy_s += (double)dt / 1e9;
    if (rc == 0 && got != len)
        rc = -EIO; /* a short cache file: its pages cannot be trusted */
    if (rc < 0) {
        tier_fail(f, t, -rc, "read");
        return rc;
    }
    ewma(&t->ewma_ns, (double)dt * (double)f->P / (double)(len ? len : 1));
    t->st.ns_per_byte = t->ewma_ns / (double)f->P;
    t->st.bytes_out += len;
    return 0;
}

static int ssd_load(tier_file_t *f, tpage_t *p, unsigned char *dst) { return ssd_load_range(f, p, 0, (size_t)f->P, dst); }

/* The SSD tier a demoted or placed clean page goes to: the one with the
 * lowest measured service time that has a free slot, else the fastest;
 * never one measured slower than the backing store itself.  NULL if none. */
static ttier_t *ssd_target(tier_file_t *f)
{
    ttier_t *best = NULL;
    int best_free = 0;
    for (unsigned i = 1; i < f->ntiers; i++) {
        ttier_t *t = &f->tiers[i];
        if (t->failed || t->readonly)
            continue;
        if (f->backing_ewma_ns > 0 && t->ewma_ns > f->backing_ewma_ns * 2 && t->st.bytes_in > 64 * f->P &&
            !(f->kept_on && i == 1))
            continue; /* dynamic: slower than the source it would save us from (a kept
                         tier is for the next process: always filled) */
        int fr = t->used < t->cap;
        if (!best || (fr && !best_free) || (fr == best_free && t->ewma_ns < best->ewma_ns)) {
            best = t;
            best_free = fr;
        }
    }
    return best;
}

/* Move a clean RAM page down to an SSD tier, or drop it. */
static void demote(tier_file_t *f, tpage_t *p)
{
    ttier_t *ram = &f->tiers[0];
    ram->st.evictions++;
    if (p->has_kslot && !f->tiers[1].failed) { /* its kept copy is still valid: no write */
        ttier_t *k = &f->tiers[1];
        lru_unlink(ram, p);
        ram->used--;
        ram->st.used = ram->used * f->P;
        buf_put(f, p->buf);
        p->buf = NULL;
        p->slot = p->kslot;
        p->has_kslot = 0;
        p->tier = 1;
        k->used++;
        k->st.used = k->used * f->P;
        lru_front(k, p);
        return;
    }
    ttier_t *t = ssd_target(f);
    uint64_t slot;
    if (t && ssd_store(f, t, p->buf, &slot) == 0) {
        lru_unlink(ram, p);
        ram->used--;
        ram->st.used = ram->used * f->P;
        buf_put(f, p->buf);
        p->buf = NULL;
        p->slot = slot;
        p->tier = (int8_t)(t - f->tiers);
        t->used++;
        t->st.used = t->used * f->P;
        lru_front(t, p);
        return;
    }
    page_drop(f, p);
}

/* ---- write-back ------------------------------------------------------------- */

/* Take a run of dirty pages starting at the oldest one (and its dirty
 * neighbours): pinned busy, no longer dirty; their buffers in f->wb_src
 * (written by wb_write straight from there, outside the lock; a writer
 * meanwhile gives the page a new buffer, copy on write).  *len: bytes to write
 * (clipped to the logical end).  Returns the number of pages (0: none). */
static uint64_t wb_collect(tier_file_t *f, uint64_t *first, size_t *len, int aged_only)
{
    tpage_t *s = NULL;
    int64_t now = aged_only ? now_ns() : 0;
    for (tpage_t *p = f->dhead; p; p = p->dnext) {
        if (p->busy)
            continue;
        if (aged_only && (now - p->wtime < TIER_AGE_NS || (p->wbtime && now - p->wbtime < TIER_REWRITE_NS)))
            continue;
        s = p;
        break;
    }
    if (!s)
        return 0;
    uint64_t maxn = TIER_RUN_BYTES / f->P ? TIER_RUN_BYTES / f->P : 1;
    uint64_t lo = s->pno, hi = s->pno;
    /* neighbours join the run only if they rested too: a page being written
     * now would make its writer wait for the whole run */
    while (hi - lo + 1 < maxn) {
        tpage_t *q = lo > 0 ? find(f, lo - 1) : NULL;
        if (!q || !q->dirty || q->busy ||
            (aged_only && (now - q->wtime < TIER_AGE_NS || (q->wbtime && now - q->wbtime < TIER_REWRITE_NS))))
            break;
        lo--;
    }
    while (hi - lo + 1 < maxn) {
        tpage_t *q = find(f, hi + 1);
        if (!q || !q->dirty || q->busy ||
            (aged_only && (now - q->wtime < TIER_AGE_NS || (q->wbtime && now - q->wbtime < TIER_REWRITE_NS))))
            break;
        hi++;
    }
    uint64_t n = hi - lo + 1;
    for (uint64_t i = 0; i < n; i++) {
        tpage_t *q = find(f, lo + i);
        dirty_del(f, q);
        q->busy = 1; /* pinned: not evicted, not written to, until wb_write ends */
        f->nbusy++;
        f->wb_src[i] = q->buf;
    }
    uint64_t start = lo * f->P, end = (hi + 1) * f->P;
    if (end > f->eof)
        end = f->eof > start ? f->eof : start;
    *first = lo;
    *len = (size_t)(end - start);
    return n;
}

/* Write a collected run (lock NOT held during the I/O), then unpin it.
 * buf: the calling writer's own space for WB_IOV_MAX iovecs. */
static int wb_write(tier_file_t *f, unsigned char *buf, uint64_t first, uint64_t n, size_t len)
{
    struct iovec *iov = (struct iovec *)(void *)buf; /* the caller's own: used without the lock */
    size_t left = len;
    int cnt = 0;
    for (uint64_t i = 0; i < n && left > 0; i++) {
        iov[cnt].iov_base = f->wb_src[i];
        iov[cnt].iov_len = left < f->P ? left : (size_t)f->P;
        left -= iov[cnt].iov_len;
        cnt++;
    }
    pthread_mutex_unlock(&f->mu);
    /* busy pages are read here, straight from their buffers, and written
     * nowhere else meanwhile (write_page waits for them) */
    int64_t t0 = now_ns();
    int rc = len ? h5tier__pwritev_full(f->fd, iov, cnt, (off_t)(first * f->P)) : 0;
    int64_t dt = now_ns() - t0;
    pthread_mutex_lock(&f->mu);
    f->st.backing_busy_s += (double)dt / 1e9;
    if (len && rc == 0) {
        f->st.backing_writes++;
        f->st.backing_write_bytes += len;
        f->st.writeback_pages += n;
        if (first * f->P + len > f->bsize)
            f->bsize = first * f->P + len;
    }
    for (uint64_t i = 0; i < n; i++) {
        tpage_t *q = find(f, first + i);
        if (!q)
            continue;
        q->busy = 0;
        f->nbusy--;
        q->wbtime = now_ns();
        if (q->wb_buf) { /* written to meanwhile: it is dirty again with its new buffer */
            free(q->wb_buf);
            q->wb_buf = NULL;
        }
        if (rc < 0 && !q->dirty)
            dirty_add(f, q); /* stays dirty: nothing is lost */
    }
    if (rc < 0 && !f->wb_err) {
        f->wb_err = -rc;
        snprintf(f->wb_msg, sizeof f->wb_msg, "tier file '%.300s': writing %zu bytes at %llu to the backing file",
                 f->path, len, (unsigned long long)(first * f->P));
    }
    pthread_cond_broadcast(&f->cv);
    return rc;
}

static void *flusher(void *arg)
{
    tier_file_t *f = arg;
    unsigned char *buf = malloc(WB_IOV_BYTES);
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        if (buf && f->dhead && !f->wb_err) {
            int pressure = f->flush_req || f->dirty_bytes >= f->cfg.dirty / 2;
            uint64_t first;
            size_t len;
            uint64_t n = wb_collect(f, &first, &len, !pressure);
            if (n) {
                wb_write(f, buf, first, n, len);
                continue;
            }
        }
        if (f->flush_req && (!f->dhead || f->wb_err))
            f->flush_req = 0;
        /* idle: touch page buffers ahead for the writer (never beyond the RAM tier) */
        if (f->pool && f->npool < f->pool_cap && f->tiers[0].used + f->npool < f->tiers[0].cap && !f->flush_req) {
            unsigned char *b = malloc(f->P);
            if (b) {
                pthread_mutex_unlock(&f->mu);
                memset(b, 0, f->P);
                pthread_mutex_lock(&f->mu);
                if (f->npool < f->pool_cap)
                    f->pool[f->npool++] = b;
                else
                    free(b);
                continue;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&f->wake, &f->mu, &ts);
    }
    pthread_mutex_unlock(&f->mu);
    free(buf);
    return NULL;
}

/* Report (and clear, so it is retried) a failure the write-behind thread met. */
static int take_wb_err(tier_file_t *f)
{
    if (!f->wb_err)
        return 0;
    int e = f->wb_err;
    f->wb_err = 0;
    return PUSHF(e, "%s", f->wb_msg);
}

/* Make progress on write-back from the caller: write the oldest run here
 * (sync mode, or to help the thread).  0, or -errno (pushed). */
static int wb_sync_one(tier_file_t *f)
{
    if (!f->wbuf && !(f->wbuf = malloc(WB_IOV_BYTES)))
        return PUSHF(ENOMEM, "tier file '%s': write-back buffer", f->path);
    uint64_t first;
    size_t len;
    uint64_t n = wb_collect(f, &first, &len, 0);
    if (!n) {
        if (f->nbusy) /* the thread's write-back: a failure re-dirties its pages, we retry them */
            pthread_cond_wait(&f->cv, &f->mu);
        f->wb_err = 0;
        return 0;
    }
    int rc = wb_write(f, f->wbuf, first, n, len);
    if (rc < 0) {
        f->wb_err = 0;
        return PUSHF(-rc, "tier file '%s': writing %zu bytes at %llu to the backing file", f->path, len,
                     (unsigned long long)(first * f->P));
    }
    return 0;
}

/* Wait until something changes for a caller blocked on the dirty bound or
 * on a RAM tier full of dirty pages.  0 or -errno (pushed). */
static int wait_progress(tier_file_t *f)
{
    int rc = take_wb_err(f);
    if (rc < 0)
        return rc;
    if (!f->thr_on)
        return wb_sync_one(f);
    f->flush_req = 1;
    pthread_cond_signal(&f->wake);
    pthread_cond_wait(&f->cv, &f->mu);
    return take_wb_err(f);
}

/* Write every dirty page and wait for all write-backs.  0 or -errno (pushed).
 * A failure the thread met earlier is retried here, not reported: what
 * counts at a flush is whether every byte is on the backing store now. */
static int wb_all(tier_file_t *f)
{
    int rc;
    f->wb_err = 0;
    while (f->dhead || f->nbusy) {
        if ((rc = wb_sync_one(f)) < 0)
            return rc;
    }
    return 0;
}

/* ---- RAM pages -------------------------------------------------------------- */

/* A new RAM page for pno (not in the table), room made by demotion. */
static int ram_new(tier_file_t *f, uint64_t pno, tpage_t **out)
{
    ttier_t *ram = &f->tiers[0];
    while (ram->used >= ram->cap) {
        tpage_t *v = victim(f, ram);
        if (v) {
            demote(f, v);
            continue;
        }
        int rc = wait_progress(f); /* every RAM page is dirty or in flight */
        if (rc < 0)
            return rc;
        if (find(f, pno))
            return -EAGAIN; /* cannot happen: only this thread installs pages */
    }
    tpage_t *p = calloc(1, sizeof *p);
    unsigned char *b = p ? buf_get(f) : NULL;
    if (!b) {
        free(p);
        return PUSHF(ENOMEM, "tier file '%s': no memory for a %llu-byte page", f->path, (unsigned long long)f->P);
    }
    p->pno = pno;
    p->buf = b;
    p->tier = 0;
    ht_insert(f, p);
    lru_front(ram, p);
    ram->used++;
    ram->st.used = ram->used * f->P;
    *out = p;
    return 0;
}

/* Bring SSD page p into RAM (promotion; its slot is freed).  0, or -errno
 * when the SSD read failed (the tier is then off and p is gone). */
static int promote(tier_file_t *f, tpage_t *p)
{
    ttier_t *t = &f->tiers[p->tier], *ram = &f->tiers[0];
    unsigned char *b = buf_get(f);
    if (!b)
        return PUSHF(ENOMEM, "tier file '%s': no memory for a page", f->path);
    if (ssd_load(f, p, b) < 0) {
        free(b);
        return -EIO;
    }
    /* take it out of the SSD tier first, so demotions below may use its slot */
    lru_unlink(t, p);
    t->used--;
    t->st.used = t->used * f->P;
    if (f->kept_on && t == &f->tiers[1] && !t->readonly) {
        p->kslot = p->slot; /* inclusive: the kept copy stays for the next process */
        p->has_kslot = 1;
    } else if (t->slot_used[p->slot] == 1) {
        t->slot_used[p->slot] = 0;
    }
    ht_remove(f, p);
    while (ram->used >= ram->cap) {
        tpage_t *v = victim(f, ram);
        if (v) {
            demote(f, v);
            continue;
        }
        int rc = wait_progress(f);
        if (rc < 0) {
            free(b);
            free(p);
            return rc;
        }
    }
    p->buf = b;
    p->tier = 0;
    ht_insert(f, p);
    lru_front(ram, p);
    ram->used++;
    ram->st.used = ram->used * f->P;
    ram->st.promotions++;
    return 0;
}

/* ---- backing reads ------------------------------------------------------- */

static int backing_read(tier_file_t *f, void *buf, size_t len, uint64_t off)
{
    int64_t t0 = now_ns();
    int rc = h5tier__pread_zero(f->fd, buf, len, (off_t)off);
    int64_t dt = now_ns() - t0;
    f->st.backing_busy_s += (double)dt / 1e9;
    f->st.backing_reads++;
    f->st.backing_read_bytes += len;
    if (rc < 0)
        return PUSHF(-rc, "tier file '%s': reading %zu bytes at %llu from the backing file", f->path, len,
                     (unsigned long long)off);
    ewma(&f->backing_ewma_ns, (double)dt * (double)f->P / (double)(len ? len : 1));
    return 0;
}

static int stage_reserve(tier_file_t *f, size_t need)
{
    if (f->stage_len >= need)
        return 0;
    unsigned char *b = realloc(f->stage, need);
    if (!b)
        return PUSHF(ENOMEM, "tier file '%s': no memory for a %zu-byte transfer buffer", f->path, need);
    f->stage = b;
    f->stage_len = need;
    return 0;
}

/* Install a clean page image (just read from the backing store) per the
 * placement policy. */
static void install_clean(tier_file_t *f, uint64_t pno, const unsigned char *img, int prefetched, int meta, int hint)
{
    int target = 0;
    if (f->ntiers > 1 && f->cfg.place != TIER_PLACE_FASTEST && !meta && hint != H5TIER_HINT_HOT) {
        if (f->cfg.place == TIER_PLACE_RR)
            target = (int)(f->rr++ % f->ntiers);
        else {
            f->rng = f->rng * 6364136223846793005ull + 1442695040888963407ull;
            target = (int)((f->rng >> 33) % f->ntiers);
        }
    }
    tpage_t *p = NULL;
    if (target > 0) {
        ttier_t *t = &f->tiers[target];
        uint64_t slot;
        if (!t->failed && !t->readonly && ssd_store(f, t, img, &slot) == 0) {
            p = calloc(1, sizeof *p);
            if (!p) {
                t->slot_used[slot] = 0;
                return;
            }
            p->pno = pno;
            p->slot = slot;
            p->tier = (int8_t)target;
            ht_insert(f, p);
            lru_front(t, p);
            t->used++;
            t->st.used = t->used * f->P;
        }
    }
    if (!p) {
        if (ram_new(f, pno, &p) < 0) {
            H5Eclear2(H5E_DEFAULT); /* caching is optional: the caller already has the bytes */
            return;
        }
        memcpy(p->buf, img, f->P);
        f->tiers[0].st.bytes_in += f->P;
    }
    p->prefetched = (uint8_t)prefetched;
    p->meta = (uint8_t)meta;
    p->hint = (uint8_t)hint;
    p->freq = hint == H5TIER_HINT_HOT ? 8 : 1;
    if (prefetched)
        f->st.prefetch_pages++;
}

/* ---- hints ----------------------------------------------------------------- */

static int get_hint(hid_t dxpl)
{
    if (dxpl < 0 || dxpl == H5P_DEFAULT || dxpl == H5P_DATASET_XFER_DEFAULT)
        return 0;
    int h = 0;
    htri_t ex;
    H5E_BEGIN_TRY { ex = H5Pexist(dxpl, HINT_PROP); }
    H5E_END_TRY;
    if (ex > 0 && H5Pget(dxpl, HINT_PROP, &h) < 0)
        h = 0;
    return h;
}

int h5tier_tier_dxpl_hint(hid_t dxpl_id, h5tier_tier_hint_t hint)
{
    if ((int)hint < H5TIER_HINT_NONE || (int)hint > H5TIER_HINT_NOCACHE)
        return h5tier__fail(EINVAL, "tier hint %d: expected H5TIER_HINT_NONE, HOT, COLD or NOCACHE", (int)hint);
    int v = (int)hint;
    htri_t ex = H5Pexist(dxpl_id, HINT_PROP);
    if (ex < 0)
        return h5tier__fail(H5TIER_EHDF5, "tier hint: %lld is not a property list", (long long)dxpl_id);
    if (ex == 0 && H5Pinsert2(dxpl_id, HINT_PROP, sizeof v, &v, NULL, NULL, NULL, NULL, NULL, NULL) < 0)
        return h5tier__fail(H5TIER_EHDF5, "tier hint: cannot add the hint to property list %lld", (long long)dxpl_id);
    if (ex > 0 && H5Pset(dxpl_id, HINT_PROP, &v) < 0)
        return h5tier__fail(H5TIER_EHDF5, "tier hint: cannot set the hint on property list %lld", (long long)dxpl_id);
    return 0;
}

/* ---- read-ahead -------------------------------------------------------------- */

/* Update the detector with a read of pages [first, last]; returns how many
 * pages to read ahead past `last` (0 when the pattern is not sequential). */
static unsigned detect(tier_file_t *f, uint64_t first, uint64_t last)
{
    if (f->cfg.prefetch == TIER_PREFETCH_OFF)
        return 0;
    int64_t d = (int64_t)first - (int64_t)f->last_first;
    if (first == f->last_end || first == f->last_end + 1)
        f->seq_streak++;
    else if (d != 0)
        f->seq_streak = 0;
    if (d != 0 && d == f->stride)
        f->stride_streak++;
    else if (d != 0) {
        f->stride = d;
        f->stride_streak = 0;
    }
    f->last_first = first;
    f->last_end = last;
    unsigned cap = (unsigned)(TIER_AHEAD_BYTES / f->P ? TIER_AHEAD_BYTES / f->P : 1);
    return f->seq_streak >= 2 ? (f->depth_cur < cap ? f->depth_cur : cap) : 0;
}

static void prefetch_hit(tier_file_t *f, tpage_t *p)
{
    if (!p->prefetched)
        return;
    p->prefetched = 0;
    f->st.prefetch_hits++;
    if (++f->depth_hits >= f->depth_cur) {
        f->depth_hits = 0;
        if (f->depth_cur < f->cfg.depth)
            f->depth_cur = f->depth_cur * 2 > f->cfg.depth ? f->cfg.depth : f->depth_cur * 2;
    }
}

#define SUCC_SLOTS 8192

/* prefetch=learn: record the transition previous read -> this one, then, if
 * this read's page has been followed twice or more by the same page, read
 * that one (span pages) ahead.  Optional: failures are ignored. */
static void learn_and_predict(tier_file_t *f, uint64_t first, uint64_t span, uint64_t eofp)
{
    if (f->learn_prev) {
        uint64_t from = f->learn_prev - 1;
        struct tier_succ *e = &f->succ[(from * 0x9E3779B97F4A7C15ull >> 40) % SUCC_SLOTS];
        if (from != first) {
            if (e->from == from && e->to == first) {
                if (e->count < 1000)
                    e->count++;
            } else if (e->from == from && e->count > 1) {
                e->count--; /* a different successor: lose confidence first */
            } else {
                *e = (struct tier_succ){from, first, 1};
            }
        }
    }
    f->learn_prev = first + 1;
    struct tier_succ *e = &f->succ[(first * 0x9E3779B97F4A7C15ull >> 40) % SUCC_SLOTS];
    if (e->from != first || e->count < 2)
        return;
    uint64_t s = e->to, n = 0;
    if (span > 16)
        span = 16;
    while (n < span && s + n <= eofp && !find(f, s + n))
        n++;
    if (n == 0 || stage_reserve(f, (size_t)(n * f->P)) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return;
    }
    if (backing_read(f, f->stage, (size_t)(n * f->P), s * f->P) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return;
    }
    for (uint64_t j = 0; j < n; j++)
        install_clean(f, s + j, f->stage + j * f->P, 1, 0, 0);
}

/* ---- the I/O callbacks ------------------------------------------------------ */

static int addr_check(tier_file_t *f, haddr_t addr, size_t size)
{
    if (addr == HADDR_UNDEF || addr > TIER_MAXADDR || (haddr_t)size > TIER_MAXADDR - addr)
        return PUSHF(EINVAL, "tier file '%s': address %llu + %zu is out of range", f->path, (unsigned long long)addr,
                     size);
    return 0;
}

/* Read [pno, pno+n) (all missing) from the backing store, install them and
 * copy the part of [addr, addr+size) they cover into ubuf.  extra: pages past
 * the request (read-ahead) are among the n. */
static int read_missing(tier_file_t *f, uint64_t pno, uint64_t n, uint64_t nreq, haddr_t addr, size_t size,
                        unsigned char *ubuf, int meta, int hint)
{
    size_t len = (size_t)(n * f->P);
    if (stage_reserve(f, len) < 0)
        return -1;
    if (backing_read(f, f->stage, len, pno * f->P) < 0)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t ps = (pno + i) * f->P;
        if (i < nreq) {
            uint64_t a = addr > ps ? addr : ps, b = addr + size < ps + f->P ? addr + size : ps + f->P;
            if (b > a)
                memcpy(ubuf + (a - addr), f->stage + i * f->P + (a - ps), (size_t)(b - a));
            f->tiers[0].st.misses++;
        }
        if (hint != H5TIER_HINT_NOCACHE)
            install_clean(f, pno + i, f->stage + i * f->P, i >= nreq, meta, hint);
        if (i < nreq)
            f->last_touch = pno + i + 1; /* its first use */
    }
    return 0;
}

static herr_t vfd_read(H5FD_t *_f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf)
{
    tier_file_t *f = (tier_file_t *)_f;
    if (addr_check(f, addr, size) < 0)
        return -1;
    if (size == 0)
        return 0;
    int meta = type != H5FD_MEM_DRAW, hint = meta ? 0 : get_hint(dxpl);
    unsigned char *ub = buf;
    pthread_mutex_lock(&f->mu);
    int ret = 0;
    uint64_t first = addr >> f->shift, last = (addr + size - 1) >> f->shift;
    unsigned ahead = detect(f, first, last);
    uint64_t eofp = f->eof ? ((f->eof - 1) >> f->shift) : 0;
    for (uint64_t pno = first; pno <= last;) {
        tpage_t *p = find(f, pno);
        if (p && p->tier > 0 && (f->tiers[p->tier].failed))
            p = NULL;
        if (p) {
            uint64_t ps = pno * f->P;
            uint64_t a = addr > ps ? addr : ps, b = addr + size < ps + f->P ? addr + size : ps + f->P;
            ttier_t *t = &f->tiers[p->tier];
            t->st.hits++;
            prefetch_hit(f, p);
            if (meta)
                p->meta = 1;
            if (p->tier > 0) {
                /* promotion of re-used pages (and metadata) only: a page read
                 * once is served from the SSD tier where it is */
                int prom = hint != H5TIER_HINT_COLD && hint != H5TIER_HINT_NOCACHE &&
                           (meta || (p->freq >= 2 && f->seq_streak == 0)); /* not a stream passing by */
                if (prom) {
                    if (promote(f, p) < 0) {
                        H5Eclear2(H5E_DEFAULT);
                        continue; /* gone (the tier failed): a miss now */
                    }
                } else {
                    /* the part wanted, straight into the caller's buffer */
                    if (ssd_load_range(f, p, a - ps, (size_t)(b - a), ub + (a - addr)) < 0)
                        continue; /* the tier is off: read it from the backing store */
                    touch(f, p);
                    pno++;
                    continue;
                }
            } else {
                t->st.bytes_out += b - a;
            }
            memcpy(ub + (a - addr), p->buf + (a - ps), (size_t)(b - a));
            touch(f, p);
            pno++;
            continue;
        }
        /* a run of missing pages */
        uint64_t maxn = TIER_RUN_BYTES / f->P ? TIER_RUN_BYTES / f->P : 1;
        uint64_t q = pno + 1;
        while (q <= last && q - pno < maxn && !find(f, q))
            q++;
        uint64_t nreq = q - pno, n = nreq;
        if (q > last && ahead && hint != H5TIER_HINT_NOCACHE)
            while (n < nreq + ahead && n < maxn && pno + n <= eofp && !find(f, pno + n))
                n++;
        if (read_missing(f, pno, n, nreq, addr, size, ub, meta, hint) < 0) {
            ret = -1;
            break;
        }
        pno = q;
    }
    /* strided read-ahead: the next positions of a constant stride */
    if (ret == 0 && f->succ && hint != H5TIER_HINT_NOCACHE)
        learn_and_predict(f, first, last - first + 1, eofp);
    if (ret == 0 && f->cfg.prefetch >= TIER_PREFETCH_AUTO && f->stride_streak >= 2 && f->stride > 1 &&
        hint != H5TIER_HINT_NOCACHE && f->seq_streak == 0) {
        uint64_t span = last - first + 1;
        unsigned k = f->depth_cur / (unsigned)span;
        if (k < 1)
            k = 1;
        if (k > 8)
            k = 8;
        for (unsigned i = 1; i <= k; i++) {
            uint64_t s = first + (uint64_t)f->stride * i;
            if (s > eofp)
                break;
            uint64_t n = 0;
            while (n < span && s + n <= eofp && !find(f, s + n))
                n++;
            if (n == 0 || stage_reserve(f, (size_t)(n * f->P)) < 0)
                continue;
            if (backing_read(f, f->stage, (size_t)(n * f->P), s * f->P) < 0) {
                H5Eclear2(H5E_DEFAULT); /* read-ahead is optional */
                break;
            }
            for (uint64_t j = 0; j < n; j++)
                install_clean(f, s + j, f->stage + j * f->P, 1, 0, hint);
        }
    }
    pthread_mutex_unlock(&f->mu);
    return ret;
}

/* Write [a, b) of page pno from src, making the page dirty in RAM. */
static int write_page(tier_file_t *f, uint64_t pno, uint64_t a, uint64_t b, const unsigned char *src, int meta,
                      int hint)
{
    uint64_t ps = pno * f->P;
    for (;;) {
        tpage_t *p = find(f, pno);
        if (p && p->tier > 0 && f->tiers[p->tier].failed)
            p = NULL;
        if (p && p->busy && !p->wb_buf && p->tier == 0) {
            /* its write-back is reading buf without the lock: copy on write (the
             * write-back keeps the old buffer, the page gets a new one) */
            unsigned char *nb = buf_get(f);
            if (!nb) {
                pthread_cond_wait(&f->cv, &f->mu); /* no memory: wait for the write-back instead */
                continue;
            }
            memcpy(nb, p->buf, f->P);
            p->wb_buf = p->buf;
            p->buf = nb;
        }
        if (!(p && p->tier == 0 && p->dirty) && f->dirty_bytes + f->P > f->cfg.dirty) {
            f->st.writeback_stalls++;
            int rc = wait_progress(f);
            if (rc < 0)
                return rc;
            continue; /* the table may have changed while waiting */
        }
        if (p && p->tier > 0) {
            if (promote(f, p) < 0) {
                H5Eclear2(H5E_DEFAULT);
                continue;
            }
        }
        if (!p) {
            int rc = ram_new(f, pno, &p);
            if (rc < 0)
                return rc;
            f->tiers[0].st.misses++;
            if (a != ps || b != ps + f->P) { /* read-modify-write of a partial page */
                if (ps >= f->bsize)
                    memset(p->buf, 0, f->P);
                else if (backing_read(f, p->buf, (size_t)f->P, ps) < 0) {
                    page_drop(f, p);
                    return -1;
                }
            }
        } else {
            f->tiers[0].st.hits++;
            prefetch_hit(f, p);
        }
        kslot_release(f, p); /* the kept copy is about to be stale */
        memcpy(p->buf + (a - ps), src, (size_t)(b - a));
        f->tiers[0].st.bytes_in += b - a;
        if (meta)
            p->meta = 1;
        if (hint)
            p->hint = (uint8_t)hint;
        if (!p->dirty)
            dirty_add(f, p);
        p->wtime = now_ns();
        touch(f, p);
        return 0;
    }
}

static herr_t vfd_write(H5FD_t *_f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf)
{
    tier_file_t *f = (tier_file_t *)_f;
    if (!f->writer) {
        PUSHF(EBADF, "tier file '%s' is open read-only", f->path);
        return -1;
    }
    if (addr_check(f, addr, size) < 0)
        return -1;
    if (size == 0)
        return 0;
    int meta = type != H5FD_MEM_DRAW, hint = meta ? 0 : get_hint(dxpl);
    int bypass = !meta && hint != H5TIER_HINT_HOT &&
                 (hint == H5TIER_HINT_NOCACHE || (f->cfg.bypass && size >= f->cfg.bypass));
    const unsigned char *src = buf;
    int ret = 0;
    pthread_mutex_lock(&f->mu);
    if (take_wb_err(f) < 0) {
        pthread_mutex_unlock(&f->mu);
        return -1;
    }
    /* the new end first: a write-back during this call clips to it */
    if (addr + size > f->eof)
        f->eof = addr + size;
    uint64_t first = addr >> f->shift, last = (addr + size - 1) >> f->shift;
    for (uint64_t pno = first; pno <= last && ret == 0;) {
        uint64_t ps = pno * f->P;
        tpage_t *p = find(f, pno);
        if (bypass && (!p || (p->tier > 0 && !p->busy))) {
            /* straight to the backing store: a run of pages with no dirty copy */
            uint64_t q = pno;
            while (q <= last) {
                tpage_t *c = find(f, q);
                if (c && c->tier == 0)
                    break;
                if (c) /* an SSD copy would go stale: drop it */
                    page_drop(f, c);
                q++;
            }
            uint64_t a = addr > ps ? addr : ps, e = q * f->P < addr + size ? q * f->P : addr + size;
            int64_t t0 = now_ns();
            int rc = h5tier__pwrite_full(f->fd, src + (a - addr), (size_t)(e - a), (off_t)a);
            f->st.backing_busy_s += (double)(now_ns() - t0) / 1e9;
            if (rc < 0) {
                PUSHF(-rc, "tier file '%s': writing %llu bytes at %llu to the backing file", f->path,
                      (unsigned long long)(e - a), (unsigned long long)a);
                ret = -1;
                break;
            }
            f->st.backing_writes++;
            f->st.backing_write_bytes += e - a;
            f->st.bypass_bytes += e - a;
            if (e > f->bsize)
                f->bsize = e;
            pno = q;
            continue;
        }
        uint64_t a = addr > ps ? addr : ps, b = addr + size < ps + f->P ? addr + size : ps + f->P;
        if (write_page(f, pno, a, b, src + (a - addr), meta, hint) < 0)
            ret = -1;
        pno++;
    }
    f->synced = 0;
    if (!f->thr_on && !f->thr_failed && f->cfg.flush == TIER_FLUSH_ASYNC && f->pid == getpid()) {
        /* started at the first write: read-only work never pays for a thread */
        if (pthread_create(&f->thr, NULL, flusher, f) == 0)
            f->thr_on = 1;
        else
            f->thr_failed = 1; /* the caller writes back itself, as flush=sync */
    }
    if (f->thr_on && f->dhead)
        pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->mu);
    return ret;
}

/* ---- open / close ------------------------------------------------------------ */

static void *vfd_fapl_get(H5FD_t *_f)
{
    tier_file_t *f = (tier_file_t *)_f;
    tier_fa_t *c = malloc(sizeof *c);
    if (c)
        snprintf(c->text, sizeof c->text, "%s", f->cfgtext);
    return c;
}

static void *vfd_fapl_copy(const void *old)
{
    tier_fa_t *c = malloc(sizeof *c);
    if (c)
        memcpy(c, old, sizeof *c);
    return c;
}

static herr_t vfd_fapl_free(void *fa)
{
    free(fa);
    return 0;
}

static int open_ssd(tier_file_t *f, unsigned i)
{
    ttier_t *t = &f->tiers[i + 1];
    t->ssd = 1;
    t->fd = -1;
    memcpy(t->dir, f->cfg.ssd[i].dir, sizeof t->dir);
    snprintf(t->st.name, sizeof t->st.name, "ssd%u", i);
    t->cap = f->cfg.ssd[i].cap / f->P;
    t->st.capacity = t->cap * f->P;
    t->slot_used = calloc(t->cap, 1);
    if (!t->slot_used)
        return -ENOMEM;
    if (i == 0 && f->cfg.keep) {
        int rc = h5tier__tier_kept_open(&f->kept, t->dir, f->path, f->fd, f->P, t->cap, f->writer, 0);
        if (rc == 0) {
            f->kept_on = 1;
            t->fd = f->kept.fd;
            snprintf(t->path, sizeof t->path, "%s", f->kept.data_path);
            t->readonly = !f->kept.exclusive;
            for (uint64_t k = 0; k < f->kept.nent; k++) {
                tier_kept_entry_t *e = &f->kept.ent[k];
                if (t->slot_used[e->slot] || find(f, e->pno) || e->pno * f->P >= f->eof)
                    continue;
                tpage_t *p = calloc(1, sizeof *p);
                if (!p)
                    break;
                p->pno = e->pno;
                p->slot = e->slot;
                p->tier = 1;
                p->freq = 1;
                t->slot_used[e->slot] = 2; /* pinned: other processes may read this slot */
                ht_insert(f, p);
                lru_front(t, p);
                t->used++;
                f->st.kept_loaded_pages++;
            }
            for (uint64_t k = 0; k < f->kept.pin_below && k < t->cap; k++)
                if (!t->slot_used[k])
                    t->slot_used[k] = 2;
            t->st.used = t->used * f->P;
            return 0;
        }
        if (f->cfg.warn)
            fprintf(stderr, "h5tier tier: warning: not keeping the ssd cache of '%s': %s\n", f->path,
                    h5tier_errmsg());
    }
    /* a private cache file, gone at close */
    static _Atomic unsigned seq;
    for (int tries = 0; tries < 100 && t->fd < 0; tries++) {
        char tp[PATH_MAX];
        snprintf(tp, sizeof tp, "%.1023s/.h5tier-tier-%d-%u", f->cfg.ssd[i].dir, (int)getpid(), atomic_fetch_add(&seq, 1));
        memcpy(t->path, tp, sizeof t->path);
        t->fd = h5tier_sys.open(t->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (t->fd < 0 && errno != EEXIST)
            break;
    }
    if (t->fd < 0) {
        int e = errno;
        t->failed = 1;
        t->st.failed = 1;
        if (f->cfg.warn)
            fprintf(stderr, "h5tier tier: warning: ssd tier '%s' unusable (%s); working without it\n", t->dir,
                    h5tier_strerror(e));
        return 0;
    }
    h5tier_sys.unlink(t->path);
    return 0;
}

static void free_tiers(tier_file_t *f)
{
    for (size_t i = 0; f->ht && i < f->hcap; i++)
        for (tpage_t *p = f->ht[i], *nx; p; p = nx) {
            nx = p->hnext;
            free(p->buf);
            free(p);
        }
    free(f->ht);
    for (unsigned i = 1; i < f->ntiers; i++) {
        ttier_t *t = &f->tiers[i];
        if (t->fd >= 0 && !(f->kept_on && i == 1))
            h5tier_sys.close(t->fd);
        free(t->slot_used);
    }
    if (f->kept_on)
        h5tier__tier_kept_close(&f->kept);
    free(f->stage);
    free(f->wbuf);
    free(f->succ);
    for (uint64_t i = 0; i < f->npool; i++)
        free(f->pool[i]);
    free(f->pool);
}

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl_id, haddr_t maxaddr)
{
    if (!name || !*name) {
        PUSHF(EINVAL, "tier driver: no file name");
        return NULL;
    }
    if (maxaddr == 0 || maxaddr == HADDR_UNDEF || maxaddr > TIER_MAXADDR)
        maxaddr = TIER_MAXADDR;
    const tier_fa_t *fa = H5Pget_driver_info(fapl_id);
    tier_file_t *f = calloc(1, sizeof *f);
    if (!f) {
        PUSHF(ENOMEM, "tier file '%s': no memory", name);
        return NULL;
    }
    f->fd = -1;
    snprintf(f->cfgtext, sizeof f->cfgtext, "%s", fa ? fa->text : "");
    if (h5tier__tier_config_parse(f->cfgtext, &f->cfg) < 0) {
        PUSHF(EINVAL, "%s", h5tier_errmsg());
        free(f);
        return NULL;
    }
    snprintf(f->path, sizeof f->path, "%s", name);
    f->writer = (flags & H5F_ACC_RDWR) != 0;
    int o = f->writer ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC)
        o |= O_TRUNC;
    if (flags & H5F_ACC_CREAT)
        o |= O_CREAT;
    if (flags & H5F_ACC_EXCL)
        o |= O_EXCL;
    f->fd = h5tier_sys.open(name, o | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        PUSHF(errno, "tier file '%s': cannot open the backing file", name);
        free(f);
        return NULL;
    }
    struct stat st;
    if (h5tier_sys.fstat(f->fd, &st) < 0) {
        PUSHF(errno, "tier file '%s': fstat", name);
        h5tier_sys.close(f->fd);
        free(f);
        return NULL;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->eof = f->bsize = (uint64_t)st.st_size;
    f->P = f->cfg.page;
    f->shift = (unsigned)__builtin_ctzll(f->P);
    f->hcap = 1024;
    f->ht = calloc(f->hcap, sizeof *f->ht);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_cond_init(&f->wake, NULL);
    f->depth_cur = f->cfg.depth < 4 ? f->cfg.depth : 4;
    if (f->cfg.prefetch == TIER_PREFETCH_LEARN)
        f->succ = calloc(SUCC_SLOTS, sizeof *f->succ); /* NULL: no learning, nothing else changes */
    f->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull + 1;
    f->pid = getpid();
    ttier_t *ram = &f->tiers[0];
    snprintf(ram->st.name, sizeof ram->st.name, "ram");
    ram->cap = f->cfg.ram / f->P;
    ram->st.capacity = ram->cap * f->P;
    ram->fd = -1;
    f->ntiers = 1 + f->cfg.nssd;
    int rc = f->ht ? 0 : -ENOMEM;
    for (unsigned i = 0; rc == 0 && i < f->cfg.nssd; i++)
        rc = open_ssd(f, i);
    if (rc < 0) {
        PUSHF(-rc, "tier file '%s': setting up the tiers", name);
        free_tiers(f);
        h5tier_sys.close(f->fd);
        free(f);
        return NULL;
    }
    f->synced = 1;
    if (f->writer) {
        f->pool_cap = TIER_POOL_BYTES / f->P;
        if (f->pool_cap > ram->cap / 2)
            f->pool_cap = ram->cap / 2;
        if (f->pool_cap && !(f->pool = calloc(f->pool_cap, sizeof *f->pool)))
            f->pool_cap = 0; /* no pool: buffers are simply malloc'ed */
    }
    (void)maxaddr;
    return &f->pub;
}

static int kept_finish(tier_file_t *f)
{
    ttier_t *t = &f->tiers[1];
    if (!f->kept_on || !f->kept.exclusive || t->failed)
        return 0;
    /* warm the next process: clean RAM pages go down while there is room */
    for (tpage_t *p = f->tiers[0].head; p && t->used < t->cap; p = p->next) {
        uint64_t slot;
        if (p->has_kslot) { /* already there */
            tpage_t *q = calloc(1, sizeof *q);
            if (!q)
                break;
            q->pno = p->pno;
            q->slot = p->kslot;
            q->tier = 1;
            q->next = t->head;
            if (t->head)
                t->head->prev = q;
            t->head = q;
            t->used++;
            continue;
        }
        if (p->dirty || p->pno * f->P >= f->eof || slot_alloc(t, &slot) < 0)
            continue;
        t->slot_used[slot] = 0;
        if (ssd_store(f, t, p->buf, &slot) < 0)
            return 0;
        tpage_t *q = calloc(1, sizeof *q);
        if (!q)
            break;
        q->pno = p->pno; /* a shadow entry in the SSD list only (not in the hash) */
        q->slot = slot;
        q->tier = 1;
        q->next = t->head;
        if (t->head)
            t->head->prev = q;
        t->head = q;
        t->used++;
    }
    uint64_t n = 0;
    for (tpage_t *p = t->head; p; p = p->next)
        if (p->pno * f->P < f->eof)
            n++;
    tier_kept_entry_t *ent = malloc((n ? n : 1) * sizeof *ent);
    if (!ent)
        return -ENOMEM;
    uint64_t i = 0;
    for (tpage_t *p = t->head; p; p = p->next)
        if (p->pno * f->P < f->eof)
            ent[i++] = (tier_kept_entry_t){p->pno, p->slot};
    int rc = 0;
    if (f->writer || f->kept.wrote || n != f->kept.nent) /* else the index on disk says it all */
        rc = h5tier__tier_kept_save(&f->kept, f->path, f->fd, f->P, ent, n);
    free(ent);
    /* free the shadow entries (those not in the hash table) */
    for (tpage_t *p = t->head, *nx; p; p = nx) {
        nx = p->next;
        if (find(f, p->pno) != p) {
            lru_unlink(t, p);
            free(p);
        }
    }
    return rc;
}

void h5tier__tier_fill_stats(tier_file_t *f, h5tier_tier_stats_t *st);
int h5tier__tier_write_stats(tier_file_t *f);

static herr_t vfd_close(H5FD_t *_f)
{
    tier_file_t *f = (tier_file_t *)_f;
    int ret = 0;
    pthread_mutex_lock(&f->mu);
    if (f->writer && !f->synced) {
        if (wb_all(f) < 0)
            ret = -1;
        else if (h5tier__fsync(f->fd) < 0) {
            PUSHF(errno, "tier file '%s': fsync of the backing file", f->path);
            ret = -1;
        }
    }
    if (f->thr_on) {
        f->stop = 1;
        pthread_cond_signal(&f->wake);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->thr, NULL);
        pthread_mutex_lock(&f->mu);
        f->thr_on = 0;
    }
    if (ret == 0 && f->kept_on && kept_finish(f) < 0 && f->cfg.warn)
        fprintf(stderr, "h5tier tier: warning: the kept cache of '%s' was not saved: %s\n", f->path, h5tier_errmsg());
    /* prefetched pages never read are waste */
    for (size_t i = 0; i < f->hcap; i++)
        for (tpage_t *p = f->ht[i]; p; p = p->hnext)
            if (p->prefetched)
                f->st.prefetch_waste++;
    h5tier__tier_write_stats(f);
    pthread_mutex_unlock(&f->mu);
    if (ret < 0 && f->dhead) {
        /* the backing store refused the data: say how much is lost with this handle */
        PUSHF(EIO, "tier file '%s': closing with %llu dirty bytes that the backing file did not take", f->path,
              (unsigned long long)f->dirty_bytes);
    }
    free_tiers(f);
    if (h5tier_sys.close(f->fd) < 0 && ret == 0) {
        PUSHF(errno, "tier file '%s': close", f->path);
        ret = -1;
    }
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    pthread_cond_destroy(&f->wake);
    free(f);
    return ret;
}

static haddr_t vfd_get_eoa(const H5FD_t *_f, H5FD_mem_t type)
{
    (void)type;
    return ((const tier_file_t *)_f)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *_f, H5FD_mem_t type, haddr_t addr)
{
    (void)type;
    tier_file_t *f = (tier_file_t *)_f;
    if (addr_check(f, addr, 0) < 0)
        return -1;
    f->eoa = addr;
    return 0;
}

static haddr_t vfd_get_eof(const H5FD_t *_f, H5FD_mem_t type)
{
    (void)type;
    tier_file_t *f = (tier_file_t *)_f;
    pthread_mutex_lock(&f->mu);
    haddr_t e = f->eof;
    pthread_mutex_unlock(&f->mu);
    return e;
}

static herr_t vfd_get_handle(H5FD_t *_f, hid_t fapl, void **handle)
{
    (void)fapl;
    tier_file_t *f = (tier_file_t *)_f;
    if (!handle) {
        PUSHF(EINVAL, "tier file '%s': get_handle without an output pointer", f->path);
        return -1;
    }
    *handle = &f->fd;
    return 0;
}

static herr_t vfd_flush(H5FD_t *_f, hid_t dxpl, hbool_t closing)
{
    (void)dxpl;
    tier_file_t *f = (tier_file_t *)_f;
    if (!f->writer || closing) /* at closing, vfd_close writes and fsyncs after the last truncate */
        return 0;
    pthread_mutex_lock(&f->mu);
    int rc = f->synced ? 0 : wb_all(f);
    if (rc == 0 && !f->synced) {
        if (h5tier__fsync(f->fd) < 0)
            rc = PUSHF(errno, "tier file '%s': fsync of the backing file", f->path);
        else
            f->synced = 1;
    }
    pthread_mutex_unlock(&f->mu);
    return rc < 0 ? -1 : 0;
}

static herr_t vfd_truncate(H5FD_t *_f, hid_t dxpl, hbool_t closing)
{
    (void)dxpl;
    (void)closing;
    tier_file_t *f = (tier_file_t *)_f;
    if (!f->writer)
        return 0;
    pthread_mutex_lock(&f->mu);
    int rc = 0;
    if (f->eoa != f->eof) {
        /* no write-back may land past the new end after the ftruncate */
        while (f->nbusy)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->eoa < f->eof) {
            uint64_t endp = f->eoa >> f->shift; /* the page holding the new end */
            for (size_t i = 0; i < f->hcap; i++)
                for (tpage_t *p = f->ht[i], *nx; p; p = nx) {
                    nx = p->hnext;
                    if (p->pno < endp || (p->pno == endp && p->tier == 0))
                        continue;
                    dirty_del(f, p); /* past the end: gone, as in sec2 */
                    page_drop(f, p);
                }
            tpage_t *p = find(f, endp);
            if (p) { /* zeros past the end, as a shrunk and regrown file reads */
                uint64_t off = f->eoa - endp * f->P;
                memset(p->buf + off, 0, (size_t)(f->P - off));
            }
        }
        if (h5tier_sys.ftruncate(f->fd, (off_t)f->eoa) < 0)
            rc = PUSHF(errno, "tier file '%s': truncating the backing file to %llu", f->path,
                       (unsigned long long)f->eoa);
        else
            f->eof = f->bsize = f->eoa;
        f->synced = 0;
    }
    pthread_mutex_unlock(&f->mu);
    return rc < 0 ? -1 : 0;
}

static herr_t vfd_lock(H5FD_t *_f, hbool_t rw)
{
    tier_file_t *f = (tier_file_t *)_f;
    int op = (rw ? LOCK_EX : LOCK_SH) | LOCK_NB;
    while (h5tier_sys.flock(f->fd, op) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == ENOSYS)
            return 0;
        int e = errno;
        PUSHF(e == EWOULDBLOCK ? EBUSY : e, "tier file '%s': cannot take the HDF5 file lock (%s)", f->path,
              rw ? "exclusive" : "shared");
        return -1;
    }
    return 0;
}

static herr_t vfd_unlock(H5FD_t *_f)
{
    tier_file_t *f = (tier_file_t *)_f;
    while (h5tier_sys.flock(f->fd, LOCK_UN) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == ENOSYS)
            return 0;
        PUSHF(errno, "tier file '%s': cannot release the HDF5 file lock", f->path);
        return -1;
    }
    return 0;
}

static int vfd_cmp(const H5FD_t *_a, const H5FD_t *_b)
{
    const tier_file_t *a = (const tier_file_t *)_a, *b = (const tier_file_t *)_b;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return 0;
}

/* sec2's feature set minus H5FD_FEAT_POSIX_COMPAT_HANDLE (the fd does not
 * show the cached bytes) and without SWMR (the driver caches). */
static herr_t vfd_query(const H5FD_t *_f, unsigned long *flags)
{
    (void)_f;
    if (flags)
        *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
                 H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

/* ---- the class table ----------------------------------------------------------- */

static const H5FD_class_t tier_class = {
#if defined(H5FD_CLASS_VERSION)
    .version = H5FD_CLASS_VERSION,                  /* struct version (1.14+) */
    .value = (H5FD_class_value_t)H5TIER_TIER_DRIVER_VALUE, /* driver value (1.14+) */
#endif
    .name = H5TIER_TIER_DRIVER_NAME,                /* name shown by H5Pget_driver_info etc. */
    .maxaddr = TIER_MAXADDR,                        /* largest address: off_t range */
    .fc_degree = H5F_CLOSE_WEAK,                    /* default file close degree, like sec2 */
    .terminate = NULL,                              /* nothing global to release */
    .sb_size = NULL,                                /* no driver info in the superblock: */
    .sb_encode = NULL,                              /*   the backing file stays a plain */
    .sb_decode = NULL,                              /*   sec2-compatible HDF5 file */
    .fapl_size = sizeof(tier_fa_t),                 /* the configuration string */
    .fapl_get = vfd_fapl_get,                       /* configuration of an open file */
    .fapl_copy = vfd_fapl_copy,                     /* copy it */
    .fapl_free = vfd_fapl_free,                     /* free a copy */
    .dxpl_size = 0,                                 /* hints are a dxpl property (h5tier_tier_dxpl_hint) */
    .dxpl_copy = NULL,
    .dxpl_free = NULL,
    .open = vfd_open,                               /* open the backing file, set up tiers, start write-behind */
    .close = vfd_close,                             /* write back, fsync, save a kept cache, stats */
    .cmp = vfd_cmp,                                 /* same backing file: st_dev/st_ino */
    .query = vfd_query,                             /* feature flags (no SWMR) */
    .get_type_map = NULL,                           /* default type map */
    .alloc = NULL,                                  /* library allocates at EOA */
    .free = NULL,                                   /* library frees */
    .get_eoa = vfd_get_eoa,                         /* end of allocated address space */
    .set_eoa = vfd_set_eoa,                         /* set it */
    .get_eof = vfd_get_eof,                         /* logical end (cached writes included) */
    .get_handle = vfd_get_handle,                   /* pointer to the backing fd */
    .read = vfd_read,                               /* fastest tier holding each page, misses from backing */
    .write = vfd_write,                             /* dirty pages in RAM (or bypass for streams) */
    .flush = vfd_flush,                             /* write back everything, fsync */
    .truncate = vfd_truncate,                       /* logical end := EOA, ftruncate the backing file */
    .lock = vfd_lock,                               /* flock on the backing file */
    .unlock = vfd_unlock,                           /* release it */
    .fl_map = H5FD_FLMAP_DICHOTOMY,                 /* free-list map, like sec2 */
};

/* ---- registration, fapl, stats --------------------------------------------- */

static hid_t tier_driver = H5I_INVALID_HID;
static pthread_mutex_t tier_driver_lock = PTHREAD_MUTEX_INITIALIZER;

hid_t h5tier_tier_driver_id(void)
{
    pthread_mutex_lock(&tier_driver_lock);
    if (tier_driver < 0 || H5Iget_type(tier_driver) != H5I_VFL)
        tier_driver = H5FDregister(&tier_class);
    hid_t id = tier_driver;
    pthread_mutex_unlock(&tier_driver_lock);
    return id;
}

herr_t H5Pset_fapl_tier(hid_t fapl_id, const char *config)
{
    if (!config)
        config = getenv("H5TIER_CONFIG");
    tier_fa_t fa;
    memset(&fa, 0, sizeof fa);
    if (config && strlen(config) >= sizeof fa.text) {
        PUSHF(EINVAL, "tier config: longer than %zu bytes", sizeof fa.text - 1);
        return -1;
    }
    snprintf(fa.text, sizeof fa.text, "%s", config ? config : "");
    tier_cfg_t c;
    if (h5tier__tier_config_parse(fa.text, &c) < 0) {
        char why[1024];
        snprintf(why, sizeof why, "%s", h5tier_errmsg());
        PUSHF(EINVAL, "%s", why);
        return -1;
    }
    hid_t id = h5tier_tier_driver_id();
    if (id < 0) {
        PUSHF(H5TIER_EHDF5, "tier driver: cannot register with HDF5");
        return -1;
    }
    if (H5Pset_driver(fapl_id, id, &fa) < 0) {
        PUSHF(H5TIER_EHDF5, "tier driver: H5Pset_driver failed (not a file access list?)");
        return -1;
    }
    return 0;
}

herr_t H5Pget_fapl_tier(hid_t fapl_id, char *buf, size_t len)
{
    hid_t id = h5tier_tier_driver_id();
    if (id < 0 || H5Pget_driver(fapl_id) != id) {
        PUSHF(EINVAL, "tier driver: file access list does not use the tier driver");
        return -1;
    }
    const tier_fa_t *fa = H5Pget_driver_info(fapl_id);
    if (!fa || !buf || strlen(fa->text) >= len) {
        PUSHF(EINVAL, "tier driver: no configuration, or buffer too small");
        return -1;
    }
    strcpy(buf, fa->text);
    return 0;
}

void h5tier__tier_fill_stats(tier_file_t *f, h5tier_tier_stats_t *st)
{
    *st = f->st;
    st->ntiers = f->ntiers;
    for (unsigned i = 0; i < f->ntiers; i++)
        st->tier[i] = f->tiers[i].st;
    st->dirty_bytes = f->dirty_bytes;
}

int h5tier__tier_write_stats(tier_file_t *f)
{
    const char *path = getenv("H5TIER_STATS");
    if (!path || !*path)
        path = f->cfg.stats;
    if (!path || !*path)
        return 0;
    h5tier_tier_stats_t st;
    h5tier__tier_fill_stats(f, &st);
    int rc = h5tier_tier_stats_json(&st, f->path, path);
    if (rc < 0 && f->cfg.warn)
        fprintf(stderr, "h5tier tier: warning: statistics not written to '%s': %s\n", path, h5tier_errmsg());
    return rc;
}

int h5tier_tier_stats(hid_t file_id, h5tier_tier_stats_t *st)
{
    hid_t fapl = H5Fget_access_plist(file_id);
    if (fapl < 0)
        return h5tier__fail(EINVAL, "tier stats: %lld is not an open file", (long long)file_id);
    hid_t drv = H5Pget_driver(fapl);
    H5Pclose(fapl);
    if (drv != h5tier_tier_driver_id())
        return h5tier__fail(EINVAL, "tier stats: the file does not use the tier driver");
    void *h = NULL;
    if (H5Fget_vfd_handle(file_id, H5P_DEFAULT, &h) < 0 || !h)
        return h5tier__fail(H5TIER_EHDF5, "tier stats: cannot reach the driver");
    tier_file_t *f = (tier_file_t *)(void *)((char *)h - offsetof(tier_file_t, fd));
    pthread_mutex_lock(&f->mu);
    h5tier__tier_fill_stats(f, st);
    pthread_mutex_unlock(&f->mu);
    return 0;
}
