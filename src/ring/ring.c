/*
 * ring/ring.c -- rings as HDF5 files in shared memory: creation (HDF5
 * metadata + control block in the userblock), mapping and checking the
 * control block, removal, inspection, and the writer (put, put_many,
 * claim/commit and claim_many/commit_many, tethers, heartbeat).  Readers
 * are in reader.c, schemas in schema.c.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "h5tier_shm.h"
#include "ring/ring_internal.h"
#include "shm/shm_internal.h"

/* ---- small helpers -------------------------------------------------------- */

uint64_t h5tier__ring_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int h5tier__futex_wait(_Atomic uint32_t *addr, uint32_t val, int timeout_ms)
{
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, timeout_ms < 0 ? NULL : &ts, NULL, 0);
    return r < 0 ? -errno : 0;
}

void h5tier__futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int h5tier__ring_writer_state(ring_hdr_t *hdr, int dead_after_ms)
{
    bool alive;
    if (ring__owner_check(&hdr->writer_pid, &hdr->writer_start, &alive) == 0)
        return 0;
    if (!alive)
        return -1;
    if (dead_after_ms > 0) {
        uint64_t hb = atomic_load_explicit(&hdr->heartbeat_ns, memory_order_relaxed);
        uint64_t now = h5tier__ring_now_ns();
        if (hb && now > hb && now - hb > (uint64_t)dead_after_ms * 1000000u)
            return -1;
    }
    return 1;
}

uint32_t h5tier__ring_repair_sleepers(ring_rstream_t *st)
{
    uint32_t bits = atomic_load(&st->sleepers);
    for (unsigned k = 0; k < H5TIER_RING_MAX_READERS; k++) {
        uint32_t bit = UINT32_C(1) << k;
        if (!(bits & bit))
            continue;
        bool alive;
        if (ring__owner_check(&st->readers[k].pid, &st->readers[k].start, &alive) == 0 || !alive)
            atomic_fetch_and(&st->sleepers, ~bit);
    }
    return atomic_load(&st->sleepers);
}

int h5tier__ring_check_stream_name(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0)
        return h5tier__fail(EINVAL, "stream name is empty");
    if (len > H5TIER_RING_STREAM_NAME_MAX)
        return h5tier__fail(EINVAL, "stream name '%s' is longer than %d characters", name,
                            H5TIER_RING_STREAM_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || (c == '.' && i > 0)))
            return h5tier__fail(EINVAL, "stream name '%s': character %zu is not one of [A-Za-z0-9_.-]", name, i);
    }
    return 0;
}

static bool is_pow2(uint64_t x) { return x >= 2 && (x & (x - 1)) == 0; }

static uint64_t ring_mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* ---- mapping and checking ------------------------------------------------- */

#define RING_MAX_POS (UINT64_C(1) << 62) /* no ring reaches this: 146 years at 1 G records/s */

/* Copy stream block i of the mapped control block into g and check it
 * against its invariants: a name of the stream-name grammar, a power-of-two
 * capacity, a record size of 1 B .. 1 TiB, a data area
 * between the userblock and the end of the object, positions with
 * tail <= tail_intent < 2^62.  The shared block may change at any time, so
 * each field is read once. */
static int check_stream_block(const char *name, const ring_hdr_t *h, ring_stream_t *st, unsigned i, ring_sgeom_t *g)
{
    memcpy(g->name, st->name, sizeof g->name);
    g->record_size = *(volatile uint64_t *)&st->record_size;
    g->capacity = *(volatile uint64_t *)&st->capacity;
    g->data_offset = *(volatile uint64_t *)&st->data_offset;
    if (memchr(g->name, 0, sizeof g->name) == NULL || g->name[0] == 0) {
        g->name[0] = 0;
        return h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: stream %u has no name", name, i);
    }
    for (const char *c = g->name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.')) {
            g->name[0] = 0;
            return h5tier__fail(H5TIER_EMAGIC,
                                "ring '%s': control block corrupted: the name of stream %u holds byte 0x%02x", name, i,
                                (unsigned)(unsigned char)*c);
        }
    if (!is_pow2(g->capacity))
        return h5tier__fail(H5TIER_EMAGIC,
                            "ring '%s': control block corrupted: stream '%s' has capacity %llu (not a power of two)",
                            name, g->name, (unsigned long long)g->capacity);
    if (g->record_size == 0 || g->record_size > (UINT64_C(1) << 40))
        return h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: stream '%s' has record size %llu", name,
                            g->name, (unsigned long long)g->record_size);
    uint64_t bytes = g->record_size * g->capacity;
    if (bytes / g->capacity != g->record_size || g->data_offset > h->size || bytes > h->size - g->data_offset)
        return h5tier__fail(H5TIER_EMAGIC,
                            "ring '%s': control block corrupted: stream '%s': data (offset %llu, capacity %llu x record "
                            "size %llu) ends outside the %llu-byte object",
                            name, g->name, (unsigned long long)g->data_offset, (unsigned long long)g->capacity,
                            (unsigned long long)g->record_size, (unsigned long long)h->size);
    if (g->data_offset < h->userblock)
        return h5tier__fail(H5TIER_EMAGIC,
                            "ring '%s': control block corrupted: stream '%s': data offset %llu is inside the userblock "
                            "(%llu bytes)", name, g->name, (unsigned long long)g->data_offset,
                            (unsigned long long)h->userblock);
    uint64_t tail = atomic_load_explicit(&st->tail, memory_order_acquire);
    uint64_t intent = atomic_load_explicit(&st->tail_intent, memory_order_acquire);
    if (tail > intent || intent >= RING_MAX_POS)
        return h5tier__fail(H5TIER_EMAGIC,
                            "ring '%s': control block corrupted: stream '%s': tail %llu, intent %llu (the tail never "
                            "passes the intent, both stay below 2^62)",
                            name, g->name, (unsigned long long)tail, (unsigned long long)intent);
    return 0;
}

/* Do the data areas of streams 0..n-1 overlap? */
static int check_overlap(const char *name, const ring_map_t *m)
{
    for (unsigned i = 0; i < m->nstreams; i++)
        for (unsigned j = i + 1; j < m->nstreams; j++) {
            const ring_sgeom_t *a = &m->geom[i], *b = &m->geom[j];
            uint64_t ae = a->data_offset + a->record_size * a->capacity;
            uint64_t be = b->data_offset + b->record_size * b->capacity;
            if (a->data_offset < be && b->data_offset < ae)
                return h5tier__fail(H5TIER_EMAGIC,
                                    "ring '%s': control block corrupted: the data of streams '%s' and '%s' overlap",
                                    name, a->name, b->name);
            if (!strcmp(a->name, b->name))
                return h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: two streams named '%s'",
                                    name, a->name);
        }
    return 0;
}

int h5tier__ring_rtab_name(const char *canon, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "/.%s" RING_RTAB_SUFFIX, canon + 1);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Permissions of a reader table for a ring of mode `mode`: read-write for
 * every class that may read the ring (readers write only there). */
static mode_t rtab_mode(mode_t mode)
{
    return 0600 | ((mode & 0040) ? 0060 : 0) | ((mode & 0004) ? 0006 : 0);
}

/* Create the reader table rname (O_EXCL) for a ring of nstreams streams with
 * id ring_id: permissions rtab_mode(mode) whatever the umask, zeroed, the
 * magic written last.  0 or -errno (EEXIST when it exists). */
static int rtab_make(const char *name, const char *rname, unsigned nstreams, uint64_t ring_id, mode_t mode)
{
    uint64_t size = ring__rtab_size(nstreams);
    int fd = h5tier_sys.shm_open(rname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return h5tier__fail(errno, "ring '%s': cannot create its reader table %s%s: %s", name, h5tier__shm_dir(),
                            rname, strerror(errno));
    int r = 0;
    void *p = NULL;
    if (h5tier_sys.fchmod(fd, rtab_mode(mode)) < 0) {
        r = h5tier__fail(errno, "ring '%s': fchmod of its reader table: %s", name, strerror(errno));
        goto out;
    }
    r = h5tier__reserve(fd, (off_t)size);
    if (r < 0) {
        r = h5tier__fail(-r, "ring '%s': cannot reserve its reader table (%llu bytes) in %s: %s", name,
                         (unsigned long long)size, h5tier__shm_dir(), strerror(-r));
        goto out;
    }
    p = h5tier_sys.mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        p = NULL;
        r = h5tier__fail(errno, "ring '%s': mmap of its reader table: %s", name, strerror(errno));
        goto out;
    }
    memset(p, 0, size);
    ring_rtab_hdr_t *h = p;
    h->version = H5TIER_RING_FORMAT_VERSION;
    h->nstreams = nstreams;
    h->size = size;
    h->ring_id = ring_id;
    __atomic_store_n(&h->magic, RING_RTAB_MAGIC, __ATOMIC_RELEASE);
out:
    if (p)
        h5tier_sys.munmap(p, size);
    h5tier_sys.close(fd);
    if (r < 0)
        h5tier_sys.shm_unlink(rname);
    return r;
}

/* Open, check and map the reader table of the mapped ring m (hdr: its
 * validated header, dsb: fstat of the data object).  A writer that owns the
 * ring rebuilds a missing or foreign table; a reader without write
 * permission maps it read-only.  0, or -ENOENT / -EPERM / -H5TIER_EMAGIC /
 * -errno with a message; *retry is set when the table belongs to another
 * ring id (a replacement may be under way). */
static int rtab_open(const char *name, ring_map_t *m, const ring_hdr_t *hdr, const struct stat *dsb, bool writer,
                     bool *retry)
{
    char rname[H5TIER_SHM_NAME_MAX + 32], what[H5TIER_SHM_NAME_MAX * 4 + 64];
    *retry = false;
    if (h5tier__ring_rtab_name(m->name, rname, sizeof rname) < 0)
        return h5tier__fail(ENAMETOOLONG, "ring '%s': name too long for its reader table", name);
    snprintf(what, sizeof what, "reader table of ring '%s'", name);
    bool owner = dsb->st_uid == geteuid();
    uint64_t want = ring__rtab_size(hdr->nstreams);
    for (int attempt = 0;; attempt++) {
        m->rtab_writable = true;
        m->rfd = h5tier_sys.shm_open(rname, O_RDWR | O_CLOEXEC, 0);
        if (m->rfd < 0 && errno == EACCES && !writer) {
            m->rtab_writable = false;
            m->rfd = h5tier_sys.shm_open(rname, O_RDONLY | O_CLOEXEC, 0);
        }
        if (m->rfd < 0) {
            int e = errno;
            if (e == ENOENT && writer && owner && attempt < 3) {
                int r = rtab_make(name, rname, hdr->nstreams, hdr->ring_id, dsb->st_mode & 0777);
                if (r < 0 && r != -EEXIST)
                    return r;
                continue;
            }
            if (e == ENOENT)
                return h5tier__fail(ENOENT, "ring '%s': its reader table %s%s is missing (the ring's owner "
                                    "restores it by attaching the writer, or re-create the ring)",
                                    name, h5tier__shm_dir(), rname);
            return h5tier__fail(e, "ring '%s': cannot open its reader table %s%s: %s", name, h5tier__shm_dir(),
                                rname, strerror(e));
        }
        struct stat rsb;
        int r = h5tier__check_shared_fd(m->rfd, what, H5TIER_TRUST_SHARED | H5TIER_TRUST_ANY_OWNER, 0, &rsb);
        if (r < 0)
            return r;
        if (rsb.st_uid != dsb->st_uid)
            return h5tier__fail(EPERM, "%s is owned by uid %u, the ring by uid %u: not believed", what,
                                (unsigned)rsb.st_uid, (unsigned)dsb->st_uid);
        ring_rtab_hdr_t th;
        size_t got = 0;
        memset(&th, 0, sizeof th);
        r = h5tier__pread_full(m->rfd, &th, sizeof th, 0, &got);
        if (r < 0)
            return h5tier__fail(-r, "%s: read: %s", what, strerror(-r));
        const char *bad = NULL;
        if ((uint64_t)rsb.st_size != want || th.size != want)
            bad = "has the wrong size";
        else if (th.magic != RING_RTAB_MAGIC || th.version != H5TIER_RING_FORMAT_VERSION ||
                 th.nstreams != hdr->nstreams)
            bad = "is corrupted";
        else if (th.ring_id != hdr->ring_id)
            bad = "belongs to another ring of that name";
        if (bad) {
            h5tier_sys.close(m->rfd);
            m->rfd = -1;
            if (writer && owner && attempt < 3) {
                /* ours to repair: readers re-register, tethers start over */
                h5tier_sys.shm_unlink(rname);
                continue;
            }
            *retry = th.ring_id != hdr->ring_id;
            return h5tier__fail(H5TIER_EMAGIC, "ring '%s': its reader table %s%s %s (%llu bytes, %llu expected; "
                                "attaching the ring's writer as its owner rebuilds it)",
                                name, h5tier__shm_dir(), rname, bad, (unsigned long long)rsb.st_size,
                                (unsigned long long)want);
        }
        m->rtab_size = want;
        m->rtab = h5tier_sys.mmap(NULL, want, m->rtab_writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                                  m->rfd, 0);
        if (m->rtab == MAP_FAILED) {
            m->rtab = NULL;
            return h5tier__fail(errno, "%s: mmap: %s", what, strerror(errno));
        }
        /* every reader may write, so truncate, it: survive that (sigbus.c, h5tier__ring_broken) */
        h5tier__sigbus_register(m->rtab, want, m->rtab_writable ? PROT_READ | PROT_WRITE : PROT_READ);
        return 0;
    }
}

/* mode: 0 reader, 1 writer, 2 the data object only, read-only (removal, replacement checks) */
static int ring_map_once(const char *name, int mode, ring_map_t *m, bool *retry)
{
    bool writer = mode == 1;
    memset(m, 0, sizeof *m);
    m->fd = m->rfd = -1;
    *retry = false;
    int r = h5tier__shm_name_canon(name, m->name, sizeof m->name);
    if (r < 0)
        return r;
    /* readers never need write access to the data: records, schema and the writer's positions */
    m->fd = h5tier_sys.shm_open(m->name, (writer ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
    if (m->fd < 0) {
        r = -errno;
        if (r == -ENOENT)
            return h5tier__fail(ENOENT, "ring '%s': no such shm object (%s%s)", name, h5tier__shm_dir(), m->name);
        return h5tier__fail(-r, "ring '%s': cannot open the shm object %s: %s", name,
                            writer ? "read-write (a writer needs write permission)" : "read-only", strerror(-r));
    }
    struct stat sb;
    char what[H5TIER_SHM_NAME_MAX * 4 + 16];
    snprintf(what, sizeof what, "ring '%s'", name);
    /* a FIFO, device or directory at the name is refused before any read; who may open the
       ring is the object's mode (readers of another user's ring are expected) */
    r = h5tier__check_shared_fd(m->fd, what, H5TIER_TRUST_ANY_OWNER | H5TIER_TRUST_SHARED, 0, &sb);
    if (r < 0)
        goto fail;
    m->size = (uint64_t)sb.st_size;
    ring_hdr_t hdr;
    size_t got = 0;
    memset(&hdr, 0, sizeof hdr);
    r = h5tier__pread_full(m->fd, &hdr, sizeof hdr, 0, &got);
    if (r < 0) {
        h5tier__fail(-r, "ring '%s': cannot read the control block: %s", name, strerror(-r));
        goto fail;
    }
    if (got < sizeof hdr || hdr.magic != RING_MAGIC) {
        bool h5 = h5tier__h5_signature_fd(m->fd, m->size) >= 0;
        r = h5tier__fail(H5TIER_EMAGIC,
                         h5 ? "shm object '%s' is an HDF5 file but not a ring (no ring magic in its userblock)"
                            : "shm object '%s' is not a ring (no ring magic at offset 0; %llu bytes)",
                         name, (unsigned long long)m->size);
        goto fail;
    }
    if (hdr.version != H5TIER_RING_FORMAT_VERSION) {
        r = h5tier__fail(H5TIER_EVERSION,
                         "ring '%s': control block format version %u, this library speaks %u (re-create the ring: "
                         "'h5tier ring create %s --force ...' with its type and capacity, which 'h5tier ring stat' "
                         "of the version that made it shows)",
                         name, hdr.version, H5TIER_RING_FORMAT_VERSION, name);
        goto fail;
    }
    if (hdr.nstreams == 0 || hdr.nstreams > H5TIER_RING_MAX_STREAMS) {
        r = h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: %u streams (1 to %d allowed)", name,
                         hdr.nstreams, H5TIER_RING_MAX_STREAMS);
        goto fail;
    }
    if (!is_pow2(hdr.userblock) || hdr.userblock < RING_HDR_BYTES + (uint64_t)hdr.nstreams * RING_STREAM_BYTES ||
        hdr.userblock > m->size) {
        r = h5tier__fail(H5TIER_EMAGIC,
                         "ring '%s': control block corrupted: %u streams and a userblock of %llu bytes (a power of "
                         "two holding 4096 + 4096 per stream, inside the %llu-byte object)",
                         name, hdr.nstreams, (unsigned long long)hdr.userblock, (unsigned long long)m->size);
        goto fail;
    }
    if (hdr.size != m->size) {
        r = h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: size %llu, the object has %llu bytes",
                         name, (unsigned long long)hdr.size, (unsigned long long)m->size);
        goto fail;
    }
    m->userblock = hdr.userblock;
    m->size = hdr.size;
    m->writable = writer;
    m->all = h5tier_sys.mmap(NULL, m->size, writer ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, m->fd, 0);
    if (m->all == MAP_FAILED) {
        m->all = NULL;
        r = h5tier__fail(errno, "ring '%s': mmap of %llu bytes: %s", name, (unsigned long long)m->size,
                         strerror(errno));
        goto fail;
    }
    if (!writer) /* a reader survives the owner truncating it (sigbus.c) */
        h5tier__sigbus_register(m->all, m->size, PROT_READ);
    m->ctl = m->all;
    m->nstreams = hdr.nstreams;
    for (unsigned i = 0; i < hdr.nstreams; i++) {
        r = check_stream_block(name, &hdr, ring__stream_at(m->ctl, i), i, &m->geom[i]);
        if (r < 0)
            goto fail;
    }
    r = check_overlap(name, m);
    if (r < 0)
        goto fail;
    if (mode != 2) {
        r = rtab_open(name, m, &hdr, &sb, writer, retry);
        if (r < 0)
            goto fail;
    }
    return 0;
fail:
    h5tier__ring_unmap(m);
    return r;
}

static int ring_map_mode(const char *name, int mode, ring_map_t *m)
{
    for (int attempt = 0;; attempt++) {
        bool retry;
        int r = ring_map_once(name, mode, m, &retry);
        if (r == 0 || !retry || attempt >= 20)
            return r;
        /* the two objects of a ring being replaced (create --force) are renamed one after the
           other: look again shortly */
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
}

int h5tier__ring_map(const char *name, bool writer, ring_map_t *m) { return ring_map_mode(name, writer ? 1 : 0, m); }

/* The data object only, read-only, without its reader table. */
static int ring_map_data(const char *name, ring_map_t *m) { return ring_map_mode(name, 2, m); }

void h5tier__ring_prefault(ring_map_t *m)
{
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
    /* Best effort: kernels before 5.14 say EINVAL and the pages fault in on first touch. */
    (void)h5tier_sys.madvise(m->all, m->size, m->writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#else
    (void)m;
#endif
}

int h5tier__ring_broken(const ring_map_t *m)
{
    bool data = m->all && h5tier__sigbus_broken(m->all), rtab = m->rtab && h5tier__sigbus_broken(m->rtab);
    if (H5TIER_LIKELY(!data && !rtab))
        return 0;
    char esc[H5TIER_SHM_NAME_MAX * 4 + 8];
    const char *n = h5tier__esc(m->name + 1, (size_t)-1, esc, sizeof esc);
    if (data)
        return h5tier__fail(EIO, "ring '%s': its shm object %s/%s was truncated by another process while mapped "
                            "here: what was read from it is not the ring's (reopen the ring)", n, h5tier__shm_dir(), n);
    return h5tier__fail(EIO, "ring '%s': its reader table %s/.%s" RING_RTAB_SUFFIX " was truncated by another process "
                        "(reader slots, tethers and sleepers are lost; the records are intact; reattach the writer "
                        "as the ring's owner to rebuild the table)", n, h5tier__shm_dir(), n);
}

void h5tier__ring_unmap(ring_map_t *m)
{
    h5tier__sigbus_unregister(m->all);
    h5tier__sigbus_unregister(m->rtab);
    if (m->all)
        h5tier_sys.munmap(m->all, m->size);
    if (m->rtab)
        h5tier_sys.munmap(m->rtab, m->rtab_size);
    if (m->fd >= 0)
        h5tier_sys.close(m->fd);
    if (m->rfd >= 0)
        h5tier_sys.close(m->rfd);
    m->ctl = m->all = m->rtab = NULL;
    m->fd = m->rfd = -1;
}

int h5tier__ring_find_stream(const ring_map_t *m, const char *stream)
{
    if (!stream || !*stream)
        return 0;
    for (unsigned i = 0; i < m->nstreams; i++)
        if (!strcmp(m->geom[i].name, stream))
            return (int)i;
    char list[512] = "";
    size_t n = 0;
    for (unsigned i = 0; i < m->nstreams && n < sizeof list - 64; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", m->geom[i].name);
    return h5tier__fail(ENOENT, "ring '%s': no stream '%s' (streams: %s)", m->name + 1, stream, list);
}

int h5tier__ring_check_hdf5(ring_map_t *m)
{
    const char *name = m->name + 1;
    int r = 0;
    hid_t f;
    H5E_BEGIN_TRY { f = h5tier_ring_open_hdf5(name); } H5E_END_TRY;
    if (f < 0)
        return h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block or HDF5 metadata corrupted: the object does not "
                            "open as an HDF5 file", name);
    H5E_BEGIN_TRY {
        hid_t fcpl = H5Fget_create_plist(f);
        hsize_t ub = 0;
        if (fcpl < 0 || H5Pget_userblock(fcpl, &ub) < 0 || ub != m->userblock)
            r = h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: userblock %llu, the HDF5 superblock "
                             "says %llu", name, (unsigned long long)m->userblock, (unsigned long long)ub);
        if (fcpl >= 0)
            H5Pclose(fcpl);
        for (unsigned i = 0; i < m->nstreams && r == 0; i++) {
            const ring_sgeom_t *g = &m->geom[i];
            hid_t d = H5Dopen2(f, g->name, H5P_DEFAULT);
            hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
            hid_t t = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
            hid_t dcpl = d >= 0 ? H5Dget_create_plist(d) : H5I_INVALID_HID;
            hsize_t dims[H5TIER_RING_MAX_RANK + 2];
            int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
            uint64_t row = t >= 0 ? (uint64_t)H5Tget_size(t) : 0;
            if (d < 0 || t < 0 || dcpl < 0 || nd < 1 || nd > H5TIER_RING_MAX_RANK + 1 ||
                H5Sget_simple_extent_dims(sp, dims, NULL) < 0 || row == 0) {
                r = h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block or HDF5 metadata corrupted: stream '%s' "
                                 "has no readable dataset /%s", name, g->name, g->name);
            } else {
                for (int k = 1; k < nd && row; k++) {
                    uint64_t nrow = row * (uint64_t)dims[k];
                    row = dims[k] && nrow / dims[k] == row && nrow <= (UINT64_C(1) << 40) ? nrow : 0;
                }
                haddr_t off = H5Dget_offset(d);
                if (row != g->record_size)
                    r = h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: stream '%s' has record "
                                     "size %llu, its dataset's records have %llu bytes", name, g->name,
                                     (unsigned long long)g->record_size, (unsigned long long)row);
                else if ((uint64_t)dims[0] != g->capacity)
                    r = h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: stream '%s' has capacity "
                                     "%llu, its dataset holds %llu records", name, g->name,
                                     (unsigned long long)g->capacity, (unsigned long long)dims[0]);
                else if (H5Pget_layout(dcpl) != H5D_CONTIGUOUS || off == HADDR_UNDEF || (uint64_t)off != g->data_offset)
                    r = h5tier__fail(H5TIER_EMAGIC, "ring '%s': control block corrupted: stream '%s' has its data "
                                     "at offset %llu, its dataset at %llu", name, g->name,
                                     (unsigned long long)g->data_offset,
                                     (unsigned long long)(off == HADDR_UNDEF ? 0 : off));
                else if (H5Tdetect_class(t, H5T_VLEN) != 0 || H5Tdetect_class(t, H5T_REFERENCE) != 0 ||
                         H5Tis_variable_str(t) != 0)
                    r = h5tier__fail(H5TIER_EMAGIC, "ring '%s': HDF5 metadata corrupted: stream '%s' has a "
                                     "variable-length or reference type", name, g->name);
            }
            if (dcpl >= 0)
                H5Pclose(dcpl);
            if (t >= 0)
                H5Tclose(t);
            if (sp >= 0)
                H5Sclose(sp);
            if (d >= 0)
                H5Dclose(d);
        }
        H5Fclose(f);
    } H5E_END_TRY;
    return r;
}

int h5tier__ring_verify(const char *name)
{
    ring_map_t m;
    int r = h5tier__ring_map(name, false, &m);
    if (r < 0)
        return r;
    r = h5tier__ring_check_hdf5(&m);
    h5tier__ring_unmap(&m);
    return r;
}

/* ---- creation -------------------------------------------------------------- */

/* Write the HDF5 part of a new ring through the shm driver: the userblock
 * (left for the control block), one contiguous, early-allocated dataset per
 * stream (never filled: the writer fills it), the schema's attributes. */
static int create_hdf5(const char *rname, const char *path, const char *canon, mode_t mode,
                       const h5tier_ring_stream_spec_t *streams, unsigned n, uint64_t ub, uint64_t *offsets)
{
    int r = 0;
    hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", canon);
    cfg.increment = 1u << 20;
    cfg.mode = mode;
    cfg.on_close = H5TIER_SHM_KEEP;
    fcpl = H5Pcreate(H5P_FILE_CREATE);
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fcpl < 0 || fapl < 0 || H5Pset_userblock(fcpl, ub) < 0 || H5Pset_fapl_shm(fapl, &cfg) < 0 ||
        H5Pset_alignment(fapl, RING_DATA_ALIGN, RING_DATA_ALIGN) < 0) {
        r = h5tier__fail(H5TIER_EHDF5, "ring '%s': cannot set up HDF5 property lists", rname);
        goto done;
    }
    file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    if (file < 0) {
        r = h5tier__fail(H5TIER_EHDF5, "ring '%s': H5Fcreate of %s failed", rname, path);
        goto done;
    }
    for (unsigned i = 0; i < n && r == 0; i++) {
        const h5tier_ring_stream_spec_t *s = &streams[i];
        hsize_t dims[H5TIER_RING_MAX_RANK + 1];
        dims[0] = s->capacity;
        for (int k = 0; k < s->rank; k++)
            dims[k + 1] = s->dims[k];
        hid_t space = H5Screate_simple(s->rank + 1, dims, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        hid_t dset = H5I_INVALID_HID;
        if (space >= 0 && dcpl >= 0 && H5Pset_layout(dcpl, H5D_CONTIGUOUS) >= 0 &&
            H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0)
            dset = H5Dcreate2(file, s->name, s->type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (dset < 0) {
            r = h5tier__fail(H5TIER_EHDF5, "ring '%s': cannot create the dataset of stream '%s' (%llu records of %llu "
                             "bytes) in %s", rname, s->name, (unsigned long long)s->capacity,
                             (unsigned long long)h5tier_ring_spec_record_size(s), h5tier__shm_dir());
        } else {
            haddr_t off = H5Dget_offset(dset);
            if (off == HADDR_UNDEF)
                r = h5tier__fail(H5TIER_EHDF5, "ring '%s': stream '%s' has no data offset", rname, s->name);
            offsets[i] = (uint64_t)off;
            if (r == 0 && s->attr_source > 0 && H5Iis_valid(s->attr_source) > 0)
                r = h5tier__ring_copy_attrs(s->attr_source, dset);
            H5Dclose(dset);
        }
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (space >= 0)
            H5Sclose(space);
    }
done:
    if (file >= 0 && H5Fclose(file) < 0 && r == 0)
        r = h5tier__fail(H5TIER_EHDF5, "ring '%s': H5Fclose failed", rname);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (fapl >= 0)
        H5Pclose(fapl);
    return r;
}

/* Temporary name of a ring built to replace another (--force): PREFIX + pid. */
#define RING_NEW_PREFIX "h5tier-ring-new."

/* Unlink the object, the shm driver's control object and the reader table next to it. */
static void unlink_both(const char *canon)
{
    char cname[H5TIER_SHM_NAME_MAX + 32];
    h5tier_sys.shm_unlink(canon);
    if (h5tier__shmc_name(canon, cname, sizeof cname) == 0)
        h5tier_sys.shm_unlink(cname);
    if (h5tier__ring_rtab_name(canon, cname, sizeof cname) == 0)
        h5tier_sys.shm_unlink(cname);
}

int h5tier_ring_create(const char *name, const h5tier_ring_stream_spec_t *streams, unsigned nstreams, mode_t mode,
                       unsigned flags)
{
    char canon[H5TIER_SHM_NAME_MAX + 2], path[PATH_MAX];
    uint64_t offsets[H5TIER_RING_MAX_STREAMS];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    if (mode) {
        char what[H5TIER_SHM_NAME_MAX * 4 + 16];
        snprintf(what, sizeof what, "ring '%s'", name);
        if ((r = h5tier__check_mode(mode, what)) < 0)
            return r;
    }
    if (!streams || nstreams == 0 || nstreams > H5TIER_RING_MAX_STREAMS)
        return h5tier__fail(EINVAL, "ring '%s': %u streams (1 to %d allowed)", name, nstreams,
                            H5TIER_RING_MAX_STREAMS);
    for (unsigned i = 0; i < nstreams; i++) {
        const h5tier_ring_stream_spec_t *s = &streams[i];
        if ((r = h5tier__ring_check_stream_name(s->name)) < 0)
            return r;
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(streams[j].name, s->name))
                return h5tier__fail(EINVAL, "ring '%s': stream '%s' given twice", name, s->name);
        if (!is_pow2(s->capacity))
            return h5tier__fail(ERANGE, "ring '%s': stream '%s': capacity %llu is not a power of two >= 2", name,
                                s->name, (unsigned long long)s->capacity);
        if (s->rank < 0 || s->rank > H5TIER_RING_MAX_RANK)
            return h5tier__fail(ERANGE, "ring '%s': stream '%s': record rank %d (0 to %d allowed)", name, s->name,
                                s->rank, H5TIER_RING_MAX_RANK);
        if (H5Tdetect_class(s->type, H5T_VLEN) > 0 || H5Tis_variable_str(s->type) > 0)
            return h5tier__fail(H5TIER_ESCHEMA,
                                "ring '%s': stream '%s': variable-length types cannot live in a ring (records "
                                "need a fixed size)",
                                name, s->name);
        uint64_t rs = h5tier_ring_spec_record_size(s);
        if (rs == 0 || rs > (UINT64_C(1) << 40) || rs * s->capacity / s->capacity != rs)
            return h5tier__fail(ERANGE, "ring '%s': stream '%s': record size %llu x capacity %llu is out of range",
                                name, s->name, (unsigned long long)rs, (unsigned long long)s->capacity);
    }
    uint64_t ub = 8192;
    while (ub < RING_HDR_BYTES + (uint64_t)nstreams * RING_STREAM_BYTES)
        ub *= 2;
    /* room in the shm directory, said plainly before HDF5 fails somewhere inside H5Dcreate */
    {
        uint64_t need = ub + 65536; /* control block + HDF5 metadata and alignment, roughly */
        for (unsigned i = 0; i < nstreams; i++) {
            uint64_t b = h5tier_ring_spec_record_size(&streams[i]) * streams[i].capacity;
            need = need + b < need ? UINT64_MAX : need + b;
        }
        struct statvfs vfs;
        if (statvfs(h5tier__shm_dir(), &vfs) == 0) {
            uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
            if (need > avail) {
                char b1[32], b2[32];
                return h5tier__fail(ENOSPC, "ring '%s': needs %s (%llu bytes), %s has %s free", name,
                                    h5tier_format_size(need, b1, sizeof b1), (unsigned long long)need,
                                    h5tier__shm_dir(), h5tier_format_size(avail, b2, sizeof b2));
            }
        }
    }

    /* Without FORCE the ring is built in place (O_EXCL; the magic is written last, so nobody
       takes it for a ring before it is complete).  With FORCE it is built under a temporary
       name and renamed over the old one only once complete: a create that fails (too big, a
       full /dev/shm) leaves the old ring as it was. */
    bool replace = false;
    char build[H5TIER_SHM_NAME_MAX + 2];
    snprintf(build, sizeof build, "%s", canon);
    if (flags & H5TIER_RING_CREATE_FORCE) {
        int ofd = h5tier_sys.shm_open(canon, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
        if (ofd >= 0) {
            struct stat osb;
            int e = h5tier_sys.fstat(ofd, &osb) < 0 ? errno : 0;
            h5tier_sys.close(ofd);
            if (e)
                return h5tier__fail(e, "ring '%s': fstat of the existing object: %s", name, strerror(e));
            if (!S_ISREG(osb.st_mode))
                return h5tier__fail(EINVAL, "ring '%s': %s%s is not a regular file; --force replaces only "
                                    "regular files", name, h5tier__shm_dir(), canon);
            ring_map_t om;
            r = ring_map_data(name, &om);
            if (r == 0) {
                bool alive;
                pid_t pid = ring__owner_check(&((ring_hdr_t *)om.ctl)->writer_pid,
                                                &((ring_hdr_t *)om.ctl)->writer_start, &alive);
                int ws = h5tier__ring_writer_state(om.ctl, 0);
                h5tier__ring_unmap(&om);
                if (pid && ws > 0)
                    return h5tier__fail(EBUSY, "ring '%s': writer pid %d is alive (stop it before replacing the "
                                        "ring)", name, (int)pid);
            }
            replace = true;
            h5tier__remove_stale_tmps(h5tier__shm_dir(), RING_NEW_PREFIX, false); /* left by killed creators */
            snprintf(build, sizeof build, "/" RING_NEW_PREFIX "%d", (int)getpid());
        } else if (errno != ENOENT) {
            return h5tier__fail(errno, "ring '%s': cannot open the existing %s%s: %s", name, h5tier__shm_dir(),
                                canon, strerror(errno));
        }
    }
    if (h5tier__shm_path(build, path, sizeof path) < 0)
        return h5tier__fail(ENAMETOOLONG, "ring '%s': the path in %s is too long", name, h5tier__shm_dir());

    /* Create the object ourselves (0600, O_EXCL), then let HDF5 write into it. */
    int fd = h5tier_sys.shm_open(build, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode ? mode : 0600);
    if (fd < 0) {
        if (errno == EEXIST && !replace)
            return h5tier__fail(EEXIST, "ring '%s': %s%s already exists (remove it with 'h5tier ring rm %s')",
                                name, h5tier__shm_dir(), canon, name);
        return h5tier__fail(errno, "ring '%s': cannot create %s%s: %s", name, h5tier__shm_dir(), build,
                            strerror(errno));
    }
    void *ctl = NULL;
    if (h5tier_sys.fchmod(fd, mode ? mode : 0600) < 0) { /* exactly the mode asked for, whatever the umask */
        r = h5tier__fail(errno, "ring '%s': fchmod %04o: %s", name, (unsigned)(mode ? mode : 0600), strerror(errno));
        goto fail;
    }
    r = create_hdf5(name, path, build, mode ? mode : 0600, streams, nstreams, ub, offsets);
    if (r < 0)
        goto fail;
    struct stat sb;
    if (h5tier_sys.fstat(fd, &sb) < 0) {
        r = h5tier__fail(errno, "ring '%s': fstat: %s", name, strerror(errno));
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    for (unsigned i = 0; i < nstreams; i++) {
        uint64_t end = offsets[i] + h5tier_ring_spec_record_size(&streams[i]) * streams[i].capacity;
        if (end > size)
            size = end;
    }
    size = (size + 4095) & ~(uint64_t)4095;
    r = h5tier__reserve(fd, (off_t)size);
    if (r < 0) {
        r = h5tier__fail(-r, "ring '%s': cannot reserve %llu bytes in %s: %s", name, (unsigned long long)size,
                         h5tier__shm_dir(), strerror(-r));
        goto fail;
    }
    ctl = h5tier_sys.mmap(NULL, ub, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ctl == MAP_FAILED) {
        ctl = NULL;
        r = h5tier__fail(errno, "ring '%s': mmap of the control block: %s", name, strerror(errno));
        goto fail;
    }
    memset(ctl, 0, ub);
    ring_hdr_t *h = ctl;
    h->version = H5TIER_RING_FORMAT_VERSION;
    h->nstreams = nstreams;
    h->userblock = ub;
    h->size = size;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->create_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    static _Atomic uint64_t made;
    h->ring_id = ring_mix(h->create_ns ^ ((uint64_t)getpid() << 32) ^ atomic_fetch_add(&made, 1) ^
                          (uint64_t)(uintptr_t)ctl) | 1;
    for (unsigned i = 0; i < nstreams; i++) {
        ring_stream_t *st = ring__stream_at(ctl, i);
        snprintf(st->name, sizeof st->name, "%s", streams[i].name);
        st->record_size = h5tier_ring_spec_record_size(&streams[i]);
        st->capacity = streams[i].capacity;
        st->data_offset = offsets[i];
    }
    uint64_t ring_id = h->ring_id;
    {
        /* the reader table, paired with the data object by ring_id */
        char rname[H5TIER_SHM_NAME_MAX + 32];
        if (h5tier__ring_rtab_name(build, rname, sizeof rname) < 0) {
            r = h5tier__fail(ENAMETOOLONG, "ring '%s': name too long for its reader table", name);
            goto fail;
        }
        /* the data object is new (O_EXCL), so a table of that name is left over from a ring
           removed by other means or a killed creator (another user's cannot be unlinked
           here: then rtab_make says EEXIST) */
        h5tier_sys.shm_unlink(rname);
        r = rtab_make(name, rname, nstreams, ring_id, mode ? mode : 0600);
        if (r < 0)
            goto fail;
    }
    __atomic_store_n(&h->magic, RING_MAGIC, __ATOMIC_RELEASE); /* last: readers check it first */
    h5tier_sys.munmap(ctl, ub);
    ctl = NULL;
    {
        /* the shm driver's control object is not needed by a ring (it opens as a plain HDF5
           file): one object fewer for readers to trust */
        char cname[H5TIER_SHM_NAME_MAX + 32];
        if (h5tier__shmc_name(build, cname, sizeof cname) == 0)
            h5tier_sys.shm_unlink(cname);
    }
    if (replace) {
        /* reader table first, then the data: a reader opening in between sees two ring ids
           and looks again; the old ring's shm control object goes with it */
        char from[PATH_MAX], to[PATH_MAX], rb[H5TIER_SHM_NAME_MAX + 32], rc2[H5TIER_SHM_NAME_MAX + 32];
        if (h5tier__ring_rtab_name(build, rb, sizeof rb) < 0 || h5tier__ring_rtab_name(canon, rc2, sizeof rc2) < 0 ||
            h5tier__shm_path(rb, from, sizeof from) < 0 || h5tier__shm_path(rc2, to, sizeof to) < 0 ||
            h5tier_sys.rename(from, to) < 0) {
            r = h5tier__fail(errno, "ring '%s': rename of the new reader table over the old one: %s", name,
                             strerror(errno));
            goto fail;
        }
        if (h5tier__shm_path(canon, to, sizeof to) < 0 || h5tier_sys.rename(path, to) < 0) {
            r = h5tier__fail(errno, "ring '%s': rename of the new ring over the old one: %s", name, strerror(errno));
            goto fail;
        }
        char cname[H5TIER_SHM_NAME_MAX + 32];
        if (h5tier__shmc_name(canon, cname, sizeof cname) == 0)
            h5tier_sys.shm_unlink(cname);
    }
    h5tier_sys.close(fd);
    return 0;
fail:
    if (ctl)
        h5tier_sys.munmap(ctl, ub);
    h5tier_sys.close(fd);
    unlink_both(build);
    return r;
}

int h5tier_ring_remove(const char *name, int force)
{
    ring_map_t m;
    int r = ring_map_data(name, &m); /* a ring with a broken reader table can still be removed */
    if (r == -H5TIER_EVERSION) {
        /* a ring of another format version: its header keeps the writer's identity where
           this version does (line 1), so its liveness is checked the same way */
        char canon[H5TIER_SHM_NAME_MAX + 2];
        ring_hdr_t hdr;
        size_t got = 0;
        int fd = h5tier__shm_name_canon(name, canon, sizeof canon) == 0
                     ? h5tier_sys.shm_open(canon, O_RDONLY | O_CLOEXEC, 0)
                     : -1;
        memset(&hdr, 0, sizeof hdr);
        if (fd < 0 || h5tier__pread_full(fd, &hdr, sizeof hdr, 0, &got) < 0 || got < sizeof hdr) {
            if (fd >= 0)
                h5tier_sys.close(fd);
            return h5tier__fail(EIO, "ring '%s': cannot read its header", name);
        }
        h5tier_sys.close(fd);
        bool alive;
        pid_t pid = ring__owner_check(&hdr.writer_pid, &hdr.writer_start, &alive);
        if (!force && pid && alive)
            return h5tier__fail(EBUSY, "ring '%s' (format version %u): writer pid %d is alive (stop it, or force)",
                                name, hdr.version, (int)pid);
        unlink_both(canon);
        return 0;
    }
    if (r == -ENOENT) {
        /* the data object is gone (e.g. `h5tier shm rm NAME`): remove a reader table left behind */
        char canon[H5TIER_SHM_NAME_MAX + 2], rname[H5TIER_SHM_NAME_MAX + 32];
        if (h5tier__shm_name_canon(name, canon, sizeof canon) == 0 &&
            h5tier__ring_rtab_name(canon, rname, sizeof rname) == 0 && h5tier_sys.shm_unlink(rname) == 0)
            return 0;
        return r;
    }
    if (r < 0)
        return r;
    ring_hdr_t *h = m.ctl;
    bool alive;
    pid_t pid = ring__owner_check(&h->writer_pid, &h->writer_start, &alive);
    if (!force && pid && h5tier__ring_writer_state(h, 0) > 0) {
        h5tier__ring_unmap(&m);
        return h5tier__fail(EBUSY, "ring '%s': writer pid %d is alive (stop it, or force)", name, (int)pid);
    }
    h5tier__ring_unmap(&m);
    if (h5tier_sys.shm_unlink(m.name) < 0)
        return h5tier__fail(errno, "ring '%s': shm_unlink: %s", name, strerror(errno));
    unlink_both(m.name);
    return 0;
}

hid_t h5tier_ring_open_hdf5(const char *name)
{
    char canon[H5TIER_SHM_NAME_MAX + 2], path[PATH_MAX];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    if (h5tier__shm_path(canon, path, sizeof path) < 0)
        return h5tier__fail(ENAMETOOLONG, "ring '%s': the path in %s is too long", name, h5tier__shm_dir());
    if (access(path, F_OK) < 0)
        return h5tier__fail(ENOENT, "ring '%s': no such shm object (%s)", name, path);
    /* a ring is a plain HDF5 file whose metadata never changes after creation: read it with
       sec2, read-only (readers have no write access to it) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = H5I_INVALID_HID;
    if (fapl >= 0 && H5Pset_fapl_sec2(fapl) >= 0) {
        H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, fapl); }
        H5E_END_TRY;
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0)
        return h5tier__fail(H5TIER_EHDF5, "ring '%s': H5Fopen of %s failed", name, path);
    return f;
}

/* ---- inspection -------------------------------------------------------------- */

int h5tier_ring_info(const char *name, h5tier_ring_info_t *info, h5tier_ring_stream_info_t *streams, unsigned max)
{
    ring_map_t m;
    int r = h5tier__ring_map(name, false, &m);
    if (r < 0)
        return r;
    ring_hdr_t *h = m.ctl;
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%.250s", m.name + 1);
    info->version = h->version;
    info->generation = atomic_load(&h->generation);
    bool walive;
    info->writer_pid = ring__owner_check(&h->writer_pid, &h->writer_start, &walive);
    info->writer_alive = h5tier__ring_writer_state(h, 0) > 0;
    uint64_t hb = atomic_load(&h->heartbeat_ns);
    info->heartbeat_age_s = hb ? (double)(h5tier__ring_now_ns() - hb) / 1e9 : -1.0;
    info->nstreams = m.nstreams;
    info->userblock = m.userblock;
    info->size = m.size;
    for (unsigned i = 0; streams && i < m.nstreams && i < max; i++) {
        ring_stream_t *st = ring__stream_at(m.ctl, i);
        ring_rstream_t *rst = ring__rstream_at(m.rtab, i);
        const ring_sgeom_t *g = &m.geom[i];
        h5tier_ring_stream_info_t *si = &streams[i];
        memset(si, 0, sizeof *si);
        snprintf(si->name, sizeof si->name, "%s", g->name);
        si->record_size = g->record_size;
        si->capacity = g->capacity;
        si->data_offset = g->data_offset;
        si->tail = atomic_load(&st->tail);
        si->tail_intent = atomic_load(&st->tail_intent);
        si->oldest = si->tail > g->capacity ? si->tail - g->capacity : 0;
        si->waiters = (unsigned)__builtin_popcount(atomic_load(&rst->sleepers));
        for (unsigned t = 0; t < H5TIER_RING_MAX_TETHERS; t++) {
            ring_tether_t *te = &rst->tethers[t];
            if (!atomic_load(&te->active))
                continue;
            h5tier_ring_tether_info_t *ti = &si->tethers[si->ntethers++];
            snprintf(ti->name, sizeof ti->name, "%.*s", (int)sizeof te->name - 1, te->name);
            bool alive;
            ti->pid = ring__owner_check(&te->pid, &te->start, &alive);
            ti->alive = alive;
            ti->position = atomic_load(&te->pos);
        }
        for (unsigned k = 0; k < H5TIER_RING_MAX_READERS; k++) {
            ring_rslot_t *rs = &rst->readers[k];
            bool alive;
            pid_t pid = ring__owner_check(&rs->pid, &rs->start, &alive);
            if (!pid)
                continue;
            h5tier_ring_reader_info_t *ri = &si->readers[si->nreaders++];
            ri->pid = pid;
            ri->alive = alive;
            ri->tethered = atomic_load(&rs->tethered);
            ri->position = atomic_load(&rs->pos);
            ri->records = atomic_load(&rs->records);
            ri->lost = atomic_load(&rs->lost);
            ri->laps = atomic_load(&rs->laps);
        }
    }
    h5tier__ring_unmap(&m);
    return 0;
}

/* ---- writer ------------------------------------------------------------------- */

typedef struct wstream {
    ring_stream_t *st;    /* in the data object */
    ring_rstream_t *rs;   /* in the reader table (written by readers: validated on use) */
    const char *name; /* validated copy (m.geom) */
    char *data;
    uint64_t rsize, cap, mask;
    uint64_t tail;   /* local copy of the published tail */
    uint64_t hold;   /* tail_intent left by a dead writer or by records claimed but released
                       uncommitted: intent never goes below it */
    uint64_t limit;  /* cached: puts below this sequence number need no tether check */
    uint32_t tgen;   /* the stream's tgen when limit was computed */
    uint64_t claimed; /* records claimed and not committed yet */
    uint32_t hb_every, hb_count;
    uint64_t repair_ns; /* last look for sleepers bits of dead readers */
} wstream_t;

struct h5tier_ring {
    ring_map_t m;
    ring_hdr_t *hdr;
    h5tier_ring_writer_opts_t opts;
    unsigned n;
    pid_t pid;
    wstream_t s[];
};

void h5tier_ring_writer_opts_init(h5tier_ring_writer_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->tether_timeout_ms = 5000;
}

int h5tier_ring_open_writer(const char *name, const h5tier_ring_writer_opts_t *opts, h5tier_ring_t **out)
{
    *out = NULL;
    ring_map_t m;
    int r = h5tier__ring_map(name, true, &m);
    if (r < 0)
        return r;
    r = h5tier__ring_check_hdf5(&m);
    if (r < 0) {
        h5tier__ring_unmap(&m);
        return r;
    }
    ring_hdr_t *h = m.ctl;
    pid_t me = getpid();
    for (;;) {
        int32_t cur = atomic_load(&h->writer_pid);
        if (cur == me || cur == -me) {
            h5tier__ring_unmap(&m);
            return h5tier__fail(EBUSY, "ring '%s': this process (pid %d) already has a writer handle", name, (int)me);
        }
        if (cur != 0 && h5tier__ring_writer_state(h, 0) > 0) {
            h5tier__ring_unmap(&m);
            return h5tier__fail(EBUSY, "ring '%s': writer pid %d is attached and alive", name, cur < 0 ? -cur : cur);
        }
        /* a fresh heartbeat before the claim: a reader checking the new
           writer must not judge it by the previous writer's last beat */
        atomic_store(&h->heartbeat_ns, h5tier__ring_now_ns());
        if (h5tier__owner_claim(&h->writer_pid, &h->writer_start, cur))
            break;
    }
    h5tier_ring_t *w = calloc(1, sizeof *w + m.nstreams * sizeof(wstream_t));
    if (!w) {
        atomic_store(&h->writer_pid, 0);
        h5tier__ring_unmap(&m);
        return h5tier__fail(ENOMEM, "ring '%s': out of memory", name);
    }
    w->m = m;
    w->hdr = h;
    w->n = m.nstreams;
    w->pid = me;
    if (opts)
        w->opts = *opts;
    else
        h5tier_ring_writer_opts_init(&w->opts);
    atomic_fetch_add(&h->generation, 1);
    atomic_store(&h->heartbeat_ns, h5tier__ring_now_ns());
    for (unsigned i = 0; i < w->n; i++) {
        wstream_t *ws = &w->s[i];
        ws->st = ring__stream_at(w->m.ctl, i);
        ws->rs = ring__rstream_at(w->m.rtab, i);
        ws->name = w->m.geom[i].name;
        ws->data = (char *)w->m.all + w->m.geom[i].data_offset;
        ws->rsize = w->m.geom[i].record_size;
        ws->cap = w->m.geom[i].capacity;
        ws->mask = ws->cap - 1;
        ws->tail = atomic_load(&ws->st->tail);
        ws->hold = atomic_load(&ws->st->tail_intent);
        if (ws->hold >= RING_MAX_POS || ws->tail > ws->hold) /* checked at the map; changed since */
            ws->hold = ws->tail = ws->hold < ws->tail ? ws->hold : ws->tail;
        if (ws->hold < ws->tail)
            ws->hold = ws->tail;
        ws->limit = 0; /* check tethers at the first put */
        uint64_t every = 65536 / ws->rsize;
        ws->hb_every = every < 1 ? 1 : every > 256 ? 256 : (uint32_t)every;
    }
    h5tier__ring_prefault(&w->m);
    *out = w;
    return 0;
}

int h5tier_ring_close(h5tier_ring_t *w)
{
    if (!w)
        return 0;
    int32_t me = w->pid;
    int broken = h5tier__ring_broken(&w->m);
    atomic_compare_exchange_strong(&w->hdr->writer_pid, &me, 0);
    for (unsigned i = 0; i < w->n; i++) /* wake sleepers so they see the change */
        if (atomic_load(&w->s[i].rs->sleepers)) {
            atomic_fetch_add(&w->s[i].st->futex, 1);
            h5tier__futex_wake(&w->s[i].st->futex);
        }
    h5tier__ring_unmap(&w->m);
    free(w);
    return broken;
}

unsigned h5tier_ring_nstreams(const h5tier_ring_t *w) { return w->n; }

int h5tier_ring_stream_index(const h5tier_ring_t *w, const char *name) { return h5tier__ring_find_stream(&w->m, name); }

size_t h5tier_ring_record_size(const h5tier_ring_t *w, int s)
{
    return s >= 0 && (unsigned)s < w->n ? (size_t)w->s[s].rsize : 0;
}

uint64_t h5tier_ring_capacity(const h5tier_ring_t *w, int s)
{
    return s >= 0 && (unsigned)s < w->n ? w->s[s].cap : 0;
}

uint64_t h5tier_ring_tail(const h5tier_ring_t *w, int s) { return s >= 0 && (unsigned)s < w->n ? w->s[s].tail : 0; }

void h5tier_ring_heartbeat(h5tier_ring_t *w)
{
    atomic_store_explicit(&w->hdr->heartbeat_ns, h5tier__ring_now_ns(), memory_order_relaxed);
}

/* The slowest active tether position (UINT64_MAX if none), dropping dead
 * ones when asked.  *who receives the slowest tether's index. */
static uint64_t slowest_tether(h5tier_ring_t *w, wstream_t *ws, int *who)
{
    uint64_t min = UINT64_MAX;
    *who = -1;
    for (int t = 0; t < H5TIER_RING_MAX_TETHERS; t++) {
        ring_tether_t *te = &ws->rs->tethers[t];
        if (!atomic_load_explicit(&te->active, memory_order_acquire))
            continue;
        if (w->opts.flags & H5TIER_RING_DROP_DEAD_TETHERS) {
            bool alive;
            if (ring__owner_check(&te->pid, &te->start, &alive) && !alive)
                continue;
        }
        uint64_t p = atomic_load_explicit(&te->pos, memory_order_seq_cst);
        if (p > ws->tail) /* a reader is never ahead of the tail: the control block was written over */
            p = ws->tail;
        if (p < min) {
            min = p;
            *who = t;
        }
    }
    return min;
}

/* Make sure sequence numbers below `need` may be written: wait for tethered
 * readers.  Returns how many more records (>= 1) may be written from ws->tail,
 * or -ETIMEDOUT. */
static int64_t tether_room(h5tier_ring_t *w, wstream_t *ws, uint64_t need)
{
    int who;
    uint64_t start_ns = 0;
    int spins = 0;
    for (;;) {
        ws->tgen = atomic_load_explicit(&ws->rs->tgen, memory_order_acquire);
        uint64_t min = slowest_tether(w, ws, &who);
        ws->limit = min == UINT64_MAX ? UINT64_MAX : min + ws->cap;
        if (ws->limit >= need || ws->limit > ws->tail)
            return ws->limit == UINT64_MAX ? INT64_MAX : (int64_t)(ws->limit - ws->tail);
        /* No room at all: wait for the slowest tether to move. */
        uint64_t now = h5tier__ring_now_ns();
        if (!start_ns)
            start_ns = now;
        uint64_t waited_ms = (now - start_ns) / 1000000u;
        if (w->opts.tether_timeout_ms >= 0 && waited_ms >= (uint64_t)w->opts.tether_timeout_ms) {
            ring_tether_t *te = &ws->rs->tethers[who];
            bool alive;
            pid_t pid = ring__owner_check(&te->pid, &te->start, &alive);
            char tn[4 * sizeof te->name + 4];
            return h5tier__fail(ETIMEDOUT,
                                "stream '%s': tethered reader '%s' (pid %d%s) is %llu records behind; waited %llu ms",
                                ws->name, ring__esc(te->name, sizeof te->name, tn, sizeof tn), (int)pid,
                                alive ? "" : pid ? ", dead" : ", not held",
                                (unsigned long long)(ws->tail - min), (unsigned long long)waited_ms);
        }
        if (spins < 1000) {
            spins++;
            sched_yield();
            continue;
        }
        uint32_t f = atomic_load(&ws->rs->wfutex);
        atomic_store(&ws->rs->wwaiting, 1);
        uint64_t again = slowest_tether(w, ws, &who);
        if (again != UINT64_MAX && again + ws->cap <= ws->tail) {
            int slice = 10;
            if (w->opts.tether_timeout_ms >= 0 &&
                (uint64_t)w->opts.tether_timeout_ms - waited_ms < (uint64_t)slice)
                slice = (int)((uint64_t)w->opts.tether_timeout_ms - waited_ms) + 1;
            h5tier__futex_wait(&ws->rs->wfutex, f, slice);
        }
        atomic_store(&ws->rs->wwaiting, 0);
    }
}

static inline void publish(h5tier_ring_t *w, wstream_t *ws, uint64_t newtail)
{
    atomic_store_explicit(&ws->st->tail, newtail, memory_order_release);
    ws->tail = newtail;
    if (H5TIER_UNLIKELY(atomic_load_explicit(&ws->rs->sleepers, memory_order_relaxed))) {
        atomic_fetch_add_explicit(&ws->st->futex, 1, memory_order_release);
        h5tier__futex_wake(&ws->st->futex);
    }
    if (H5TIER_UNLIKELY(++ws->hb_count >= ws->hb_every)) {
        ws->hb_count = 0;
        h5tier_ring_heartbeat(w);
        if (H5TIER_UNLIKELY(atomic_load_explicit(&ws->rs->sleepers, memory_order_relaxed))) {
            /* a reader killed in its sleep leaves its bit: without this every put would pay a wake */
            uint64_t now = atomic_load_explicit(&w->hdr->heartbeat_ns, memory_order_relaxed);
            if (now - ws->repair_ns >= 10000000u) {
                ws->repair_ns = now;
                h5tier__ring_repair_sleepers(ws->rs);
            }
        }
    }
}

static inline void announce(wstream_t *ws, uint64_t intent)
{
    if (H5TIER_UNLIKELY(intent < ws->hold))
        intent = ws->hold;
    RING_ANNOUNCE(&ws->st->tail_intent, intent);
}

/* The cached tether limit is stale when it is reached or when a tether came or went. */
static inline bool need_tether_check(const wstream_t *ws, uint64_t end)
{
    return end > ws->limit || atomic_load_explicit(&ws->rs->tgen, memory_order_relaxed) != ws->tgen;
}

static inline int check_put(h5tier_ring_t *w, int s, size_t size)
{
    if (H5TIER_UNLIKELY(s < 0 || (unsigned)s >= w->n))
        return h5tier__fail(EINVAL, "ring '%s': stream index %d out of range (%u streams)", w->m.name + 1, s, w->n);
    if (H5TIER_UNLIKELY(size != w->s[s].rsize))
        return h5tier__fail(H5TIER_ESCHEMA, "ring '%s': stream '%s': record of %zu bytes, the stream's records have %llu",
                            w->m.name + 1, w->s[s].name, size, (unsigned long long)w->s[s].rsize);
    if (H5TIER_UNLIKELY(w->s[s].claimed))
        return h5tier__fail(EINVAL, "ring '%s': stream '%s': claimed records are not committed yet", w->m.name + 1,
                            w->s[s].name);
    return h5tier__ring_broken(&w->m); /* nothing is put after the reader table was cut short */
}

/* Reserve up to n (>= 1, <= cap) records from ws->tail for writing: wait for
 * tethered readers if the cached limit says so, then announce tail_intent
 * over them (never below ws->hold).  The one place where the writer decides
 * what it may overwrite; put, put_many and claim_many all go through it.
 * Returns the count reserved (1 .. n) or -ETIMEDOUT. */
static inline int64_t reserve(h5tier_ring_t *w, wstream_t *ws, uint64_t n)
{
    uint64_t pos = ws->tail;
    if (H5TIER_UNLIKELY(need_tether_check(ws, pos + n))) {
        int64_t room = tether_room(w, ws, pos + n);
        if (room < 0)
            return room;
        if ((uint64_t)room < n)
            n = (uint64_t)room;
    }
    announce(ws, pos + n);
    return (int64_t)n;
}

int h5tier_ring_put(h5tier_ring_t *w, int s, const void *rec, size_t size)
{
    int r = check_put(w, s, size);
    if (H5TIER_UNLIKELY(r < 0))
        return r;
    wstream_t *ws = &w->s[s];
    uint64_t pos = ws->tail;
    int64_t n = reserve(w, ws, 1);
    if (H5TIER_UNLIKELY(n < 0))
        return (int)n;
    memcpy(ws->data + (pos & ws->mask) * size, rec, size);
    publish(w, ws, pos + 1);
    return 0;
}

int h5tier_ring_put_many(h5tier_ring_t *w, int s, const void *recs, size_t count, size_t size)
{
    int r = check_put(w, s, size);
    if (H5TIER_UNLIKELY(r < 0))
        return r;
    wstream_t *ws = &w->s[s];
    const char *src = recs;
    while (count > 0) {
        uint64_t pos = ws->tail;
        int64_t got = reserve(w, ws, count < ws->cap ? count : ws->cap);
        if (H5TIER_UNLIKELY(got < 0))
            return (int)got;
        uint64_t n = (uint64_t)got;
        uint64_t slot = pos & ws->mask;
        uint64_t first = ws->cap - slot < n ? ws->cap - slot : n;
        memcpy(ws->data + slot * size, src, first * size);
        if (first < n)
            memcpy(ws->data, src + first * size, (n - first) * size);
        publish(w, ws, pos + n);
        src += n * size;
        count -= n;
    }
    return 0;
}

long h5tier_ring_claim_many(h5tier_ring_t *w, int s, size_t max, void **slots, uint64_t *first_seq)
{
    int r = check_put(w, s, s >= 0 && (unsigned)s < w->n ? w->s[s].rsize : 0);
    if (r < 0)
        return r;
    wstream_t *ws = &w->s[s];
    if (max == 0 || !slots)
        return h5tier__fail(EINVAL, "ring '%s': stream '%s': claim of %s", w->m.name + 1, ws->name,
                            max == 0 ? "0 records" : "records without a place to put the slot pointer");
    uint64_t pos = ws->tail;
    uint64_t to_end = ws->cap - (pos & ws->mask); /* the run never wraps: slots are contiguous */
    int64_t n = reserve(w, ws, max < to_end ? max : to_end);
    if (n < 0)
        return (long)n;
    ws->claimed = (uint64_t)n;
    *slots = ws->data + (pos & ws->mask) * ws->rsize;
    if (first_seq)
        *first_seq = pos;
    return (long)n;
}

int h5tier_ring_claim(h5tier_ring_t *w, int s, void **slot, uint64_t *seq)
{
    long n = h5tier_ring_claim_many(w, s, 1, slot, seq);
    return n < 0 ? (int)n : 0;
}

/* End the pending claim of ws without publishing what tail does not reach:
 * the claimed slots beyond tail may hold anything now, and tail_intent
 * already covers them, so it must never go back below it (the records they
 * held from the previous lap are gone); the next reservations reuse their
 * sequence numbers.  Used by a partial commit (before publishing) and by
 * cancel. */
static void release_claim(wstream_t *ws)
{
    if (ws->tail + ws->claimed > ws->hold)
        ws->hold = ws->tail + ws->claimed;
    ws->claimed = 0;
}

int h5tier_ring_commit_many(h5tier_ring_t *w, int s, size_t n)
{
    if (s < 0 || (unsigned)s >= w->n || !w->s[s].claimed)
        return h5tier__fail(EINVAL, "ring '%s': commit of stream %d without a claim", w->m.name + 1, s);
    wstream_t *ws = &w->s[s];
    if (n == 0 || n > ws->claimed)
        return h5tier__fail(EINVAL, "ring '%s': stream '%s': commit of %zu records, %llu are claimed (commit 1 .. %llu)",
                            w->m.name + 1, ws->name, n, (unsigned long long)ws->claimed,
                            (unsigned long long)ws->claimed);
    if (n < ws->claimed)
        release_claim(ws);
    else
        ws->claimed = 0;
    publish(w, ws, ws->tail + n);
    return 0;
}

int h5tier_ring_cancel(h5tier_ring_t *w, int s)
{
    if (s < 0 || (unsigned)s >= w->n || !w->s[s].claimed)
        return h5tier__fail(EINVAL, "ring '%s': cancel of stream %d without a claim", w->m.name + 1, s);
    release_claim(&w->s[s]);
    return 0;
}

int h5tier_ring_commit(h5tier_ring_t *w, int s)
{
    return h5tier_ring_commit_many(w, s, s >= 0 && (unsigned)s < w->n ? (size_t)w->s[s].claimed : 0);
}
