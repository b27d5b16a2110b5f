/*
 * multifile/catalog.c -- everything known about a multifile directory,
 * checked: the metafile, every rank's log and index headers, every index
 * record's checksum (a torn last record is ignored and reported), the close
 * records, the metadata digests of all ranks against rank 0's, and the
 * merged image: the records ordered by (epoch, sequence, rank) and swept by
 * address into disjoint segments, the latest record owning each byte.
 * Same-epoch overlaps between ranks are found during the sweep.  Merge
 * (merge.c) and the read-only driver (H5FDmultifile.c) both use it.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "multifile/mf_internal.h"

#define RD_BUF ((size_t)1 << 20)
#define MAX_REPORTED_OVERLAPS 5

typedef struct dig {
    uint64_t addr, len, hash;
} dig_t;

typedef struct loader {
    mf_catalog_t *c;
    unsigned flags;
    void (*warn)(const char *, void *);
    void *warn_arg;
    size_t cap;
    dig_t *dig0; /* rank 0's digest */
    size_t ndig0, capdig0;
    uint64_t eoa0;
    int have_eoa0;
    unsigned char *buf;
} loader_t;

static void warnf(loader_t *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(loader_t *L, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L->warn)
        L->warn(msg, L->warn_arg);
}

static int add_rec(loader_t *L, const mf_crec_t *r)
{
    mf_catalog_t *c = L->c;
    if (c->nrecs == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 1024;
        mf_crec_t *n = realloc(c->recs, cap * sizeof *n);
        if (!n)
            return h5tier__fail(ENOMEM, "multifile '%s': out of memory for the index (%zu records)", c->dir, cap);
        c->recs = n;
        L->cap = cap;
    }
    c->recs[c->nrecs++] = *r;
    return 0;
}

/* Read and check one header file; fd and size out. */
static int open_checked(const mf_catalog_t *c, const char *path, const char *magic, const char *what, unsigned rank,
                        int check_rank, int *fdp, uint64_t *size)
{
    struct stat st;
    int fd = h5tier__mf_open_ro(path, &st);
    if (fd < 0) {
        if (fd == -ENOENT)
            return h5tier__fail(ENOENT, "multifile '%s': rank %u's %s '%s' is missing (the rank never ran, or "
                                        "the directory is incomplete)", c->dir, rank, what, path);
        return fd;
    }
    unsigned char b[MF_HDR_SIZE];
    size_t got = 0;
    int rc = h5tier__pread_full(fd, b, sizeof b, 0, &got);
    if (rc < 0 || got < sizeof b) {
        h5tier_sys.close(fd);
        return rc < 0 ? h5tier__fail(-rc, "multifile: reading '%s'", path)
                      : h5tier__fail(EBADMSG, "multifile: '%s' is shorter than its header (%zu bytes)", path, got);
    }
    mf_hdr_t h;
    char desc[4200];
    snprintf(desc, sizeof desc, "multifile: '%s'", path);
    if ((rc = h5tier__mf_hdr_decode(b, magic, desc, &h)) < 0) {
        h5tier_sys.close(fd);
        return rc;
    }
    if (check_rank && (h.run_id != c->run_id)) {
        h5tier_sys.close(fd);
        return h5tier__fail(EBADMSG, "multifile '%s': '%s' belongs to another run (run id %016llx, the metafile's is "
                                     "%016llx): rank %u of this run did not start, or an earlier run's files remain; "
                                     "remove the directory before rerunning", c->dir, path,
                            (unsigned long long)h.run_id, (unsigned long long)c->run_id, rank);
    }
    if (check_rank && (h.rank != rank || h.nranks != c->nranks)) {
        h5tier_sys.close(fd);
        return h5tier__fail(EBADMSG, "multifile '%s': '%s' belongs to rank %u of %u, expected rank %u of %u (a file "
                                     "left from another run?)", c->dir, path, h.rank, h.nranks, rank, c->nranks);
    }
    if (!check_rank && magic[5] == 'D') { /* the metafile */
        ((mf_catalog_t *)c)->nranks = h.nranks;
        ((mf_catalog_t *)c)->run_id = h.run_id;
    }
    *fdp = fd;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int digest_cmp(loader_t *L, unsigned rank, const dig_t *d, size_t nd)
{
    if (rank == 0)
        return 0;
    size_t n = nd < L->ndig0 ? nd : L->ndig0;
    for (size_t i = 0; i <= n; i++) {
        const dig_t *a = i < L->ndig0 ? &L->dig0[i] : NULL, *b = i < nd ? &d[i] : NULL;
        if (!a && !b)
            return 0;
        if (a && b && a->addr == b->addr && a->len == b->len && a->hash == b->hash)
            continue;
        const dig_t *lo = a && b ? (a->addr <= b->addr ? a : b) : (a ? a : b);
        uint64_t at = lo->addr, end = lo->addr + lo->len - 1;
        const char *why = !a ? "metadata rank 0 never wrote"
                          : !b ? "metadata it never wrote (rank 0 did)"
                          : a->addr != b->addr || a->len != b->len ? "metadata at different addresses"
                                                                      : "different metadata bytes";
        return h5tier__fail(H5TIER_EDIVERGED,
                            "multifile '%s': rank %u's metadata diverges from rank 0's at address %llu (block "
                            "%llu..%llu: %s): the ranks did not make the same metadata calls (rule 1); no file was "
                            "produced", L->c->dir, rank, (unsigned long long)at, (unsigned long long)at,
                            (unsigned long long)end, why);
    }
    return 0;
}

/* Load rank r's index. */
static int load_rank(loader_t *L, unsigned r)
{
    mf_catalog_t *c = L->c;
    char path[4200];
    int rc, lfd = -1, ifd = -1;
    uint64_t lsize = 0, isize = 0;
    dig_t *dig = NULL;
    size_t nd = 0, capd = 0;
    if ((rc = h5tier__mf_rank_path(path, sizeof path, c->dir, r, "log")) < 0 ||
        (rc = open_checked(c, path, "H5TMFLOG", "log", r, 1, &lfd, &lsize)) < 0)
        return rc;
    h5tier_sys.close(lfd);
    if ((rc = h5tier__mf_rank_path(path, sizeof path, c->dir, r, "idx")) < 0 ||
        (rc = open_checked(c, path, "H5TMFIDX", "index", r, 1, &ifd, &isize)) < 0)
        return rc;
    uint64_t nrec = (isize - MF_HDR_SIZE) / MF_REC_SIZE;
    uint64_t tail = (isize - MF_HDR_SIZE) % MF_REC_SIZE;
    int closed = 0;
    uint64_t first_bad = UINT64_MAX; /* first record with a bad checksum */
    uint64_t prev_seq = 0;
    uint32_t prev_epoch = 0;
    for (uint64_t i = 0; i < nrec;) {
        size_t want = (size_t)((nrec - i) * MF_REC_SIZE < RD_BUF ? (nrec - i) * MF_REC_SIZE : RD_BUF);
        size_t got = 0;
        rc = h5tier__pread_full(ifd, L->buf, want, (off_t)(MF_HDR_SIZE + i * MF_REC_SIZE), &got);
        if (rc < 0 || got != want) {
            rc = rc < 0 ? h5tier__fail(-rc, "multifile: reading '%s'", path)
                        : h5tier__fail(EIO, "multifile: '%s' shrank while being read", path);
            goto out;
        }
        for (size_t k = 0; k < want / MF_REC_SIZE; k++, i++) {
            mf_rec_t rec;
            uint64_t at = MF_HDR_SIZE + i * MF_REC_SIZE;
            if (h5tier__mf_rec_decode(L->buf + k * MF_REC_SIZE, &rec) < 0) {
                /* torn, if nothing valid follows (a batch of records cut by a crash) */
                if (first_bad == UINT64_MAX && !closed)
                    first_bad = i;
                else if (first_bad == UINT64_MAX)
                    goto bad;
                continue;
            }
            if (first_bad != UINT64_MAX) { /* a valid record after a bad one: corruption, not a tear */
                i = first_bad;
                at = MF_HDR_SIZE + i * MF_REC_SIZE;
            bad:
                rc = h5tier__fail(EBADMSG, "multifile '%s': rank %u: index record %llu at offset %llu of '%s' has a "
                                           "bad checksum (corrupted index)", c->dir, r, (unsigned long long)i,
                                  (unsigned long long)at, path);
                goto out;
            }
            if (closed) {
                rc = h5tier__fail(EBADMSG, "multifile '%s': rank %u: record %llu follows the close record in '%s'",
                                  c->dir, r, (unsigned long long)i, path);
                goto out;
            }
            if ((i > 0 && rec.seq <= prev_seq) || rec.epoch < prev_epoch) {
                rc = h5tier__fail(EBADMSG, "multifile '%s': rank %u: record %llu goes back in sequence or epoch "
                                           "(corrupted index)", c->dir, r, (unsigned long long)i);
                goto out;
            }
            prev_seq = rec.seq;
            prev_epoch = rec.epoch;
            if (rec.epoch + 1 > c->epochs)
                c->epochs = rec.epoch + 1;
            switch (rec.kind) {
            case MF_KIND_META:
                if (r != 0) {
                    rc = h5tier__fail(EBADMSG, "multifile '%s': rank %u logged metadata (only rank 0 does)", c->dir, r);
                    goto out;
                }
                /* fall through */
            case MF_KIND_DATA:
                if (rec.log_off < MF_HDR_SIZE || rec.len > lsize || rec.log_off > lsize - rec.len ||
                    rec.addr > (uint64_t)INT64_MAX - rec.len) {
                    rc = h5tier__fail(EBADMSG, "multifile '%s': rank %u: record %llu (address %llu, %llu bytes at log "
                                               "offset %llu) points past the end of its log (%llu bytes): log truncated?",
                                      c->dir, r, (unsigned long long)i, (unsigned long long)rec.addr,
                                      (unsigned long long)rec.len, (unsigned long long)rec.log_off,
                                      (unsigned long long)lsize);
                    goto out;
                }
                if (rec.len == 0)
                    break;
                mf_crec_t cr = {rec.addr, rec.len, rec.log_off, rec.seq, rec.data_hash, r, rec.epoch};
                if ((rc = add_rec(L, &cr)) < 0)
                    goto out;
                c->bytes_logged += rec.len;
                break;
            case MF_KIND_DIGEST:
                if (nd == capd) {
                    capd = capd ? capd * 2 : 256;
                    dig_t *n = realloc(dig, capd * sizeof *n);
                    if (!n) {
                        rc = h5tier__fail(ENOMEM, "multifile '%s': out of memory", c->dir);
                        goto out;
                    }
                    dig = n;
                }
                dig[nd++] = (dig_t){rec.addr, rec.len, rec.data_hash};
                break;
            case MF_KIND_CLOSE:
                closed = 1;
                if (r == 0) {
                    L->eoa0 = rec.aux;
                    L->have_eoa0 = 1;
                } else if (L->have_eoa0 && rec.aux != L->eoa0) {
                    rc = h5tier__fail(H5TIER_EDIVERGED, "multifile '%s': rank %u's metadata diverges from rank 0's: "
                                      "its file ends at address %llu, rank 0's at %llu (rule 1); no file was produced",
                                      c->dir, r, (unsigned long long)rec.aux, (unsigned long long)L->eoa0);
                    goto out;
                }
                if (rec.aux > c->eoa)
                    c->eoa = rec.aux;
                break;
            default:
                rc = h5tier__fail(EBADMSG, "multifile '%s': rank %u: record %llu has unknown kind %u", c->dir, r,
                                  (unsigned long long)i, rec.kind);
                goto out;
            }
        }
    }
    if (first_bad != UINT64_MAX) {
        warnf(L, "multifile '%s': rank %u: torn last index record%s at offset %llu ignored (%llu record%s)", c->dir, r,
              nrec - first_bad > 1 ? "s" : "", (unsigned long long)(MF_HDR_SIZE + first_bad * MF_REC_SIZE),
              (unsigned long long)(nrec - first_bad), nrec - first_bad > 1 ? "s" : "");
        c->torn += nrec - first_bad;
    }
    if (tail) {
        warnf(L, "multifile '%s': rank %u: torn last index record (%llu of %u bytes) ignored", c->dir, r,
              (unsigned long long)tail, MF_REC_SIZE);
        c->torn++;
    }
    if (!closed) {
        if (!(L->flags & MF_CAT_ALLOW_INCOMPLETE)) {
            rc = h5tier__fail(H5TIER_EINCOMPLETE, "multifile '%s': rank %u did not finish: '%s' has no close record "
                                                  "(the rank was killed, or a write failed, e.g. a full disk); "
                                                  "allow an incomplete merge to use its %llu records anyway",
                              c->dir, r, path, (unsigned long long)nrec);
            goto out;
        }
        warnf(L, "multifile '%s': rank %u did not finish (no close record); using its records", c->dir, r);
        c->incomplete++;
    } else if (r == 0) {
        L->dig0 = dig;
        L->ndig0 = nd;
        dig = NULL;
    } else if (L->have_eoa0 && (rc = digest_cmp(L, r, dig, nd)) < 0) {
        goto out;
    }
    rc = 0;
out:
    free(dig);
    h5tier_sys.close(ifd);
    return rc;
}

static int by_priority(const void *a, const void *b)
{
    const mf_crec_t *x = a, *y = b;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return 0;
}

static const mf_crec_t *sort_recs;
static int by_addr(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (sort_recs[i].addr != sort_recs[j].addr)
        return sort_recs[i].addr < sort_recs[j].addr ? -1 : 1;
    return i < j ? -1 : (i > j);
}

/* max-heap of record indices (higher index = later = wins) */
typedef struct heap {
    uint32_t *v;
    size_t n;
} heap_t;
static void heap_push(heap_t *h, uint32_t x)
{
    size_t i = h->n++;
    h->v[i] = x;
    while (i > 0 && h->v[(i - 1) / 2] < h->v[i]) {
        uint32_t t = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}
static void heap_pop(heap_t *h)
{
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l] > h->v[m])
            m = l;
        if (r < h->n && h->v[r] > h->v[m])
            m = r;
        if (m == i)
            break;
        uint32_t t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

static int sweep(loader_t *L)
{
    mf_catalog_t *c = L->c;
    size_t n = c->nrecs;
    if (n > UINT32_MAX - 1)
        return h5tier__fail(E2BIG, "multifile '%s': too many records (%zu)", c->dir, n);
    if (n)
        qsort(c->recs, n, sizeof *c->recs, by_priority);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    heap_t h = {malloc((n ? n : 1) * sizeof(uint32_t)), 0};
    size_t segcap = n + 16;
    c->segs = malloc(segcap * sizeof *c->segs);
    if (!order || !h.v || !c->segs) {
        free(order);
        free(h.v);
        return h5tier__fail(ENOMEM, "multifile '%s': out of memory for the merged index", c->dir);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    sort_recs = c->recs;
    qsort(order, n, sizeof *order, by_addr);
    uint64_t pos = 0;
    size_t k = 0;
    int rc = 0;
    while (k < n || h.n > 0) {
        if (h.n == 0)
            pos = c->recs[order[k]].addr;
        while (k < n && c->recs[order[k]].addr <= pos) {
            uint32_t x = order[k++];
            const mf_crec_t *a = &c->recs[x];
            for (size_t j = 0; j < h.n; j++) {
                const mf_crec_t *b = &c->recs[h.v[j]];
                if (b->addr + b->len > a->addr && b->rank != a->rank && b->epoch == a->epoch) {
                    c->overlaps++;
                    uint64_t e = a->addr + a->len < b->addr + b->len ? a->addr + a->len : b->addr + b->len;
                    if (!(L->flags & MF_CAT_ALLOW_OVERLAPS)) {
                        rc = h5tier__fail(H5TIER_EOVERLAP, "multifile '%s': ranks %u and %u both wrote addresses "
                                          "%llu..%llu in epoch %u (rule 3: each rank writes its own hyperslabs; "
                                          "separate rewrites with H5Fflush); no file was produced", c->dir, b->rank,
                                          a->rank, (unsigned long long)a->addr, (unsigned long long)e - 1, a->epoch);
                        goto out;
                    }
                    if (c->overlaps <= MAX_REPORTED_OVERLAPS)
                        warnf(L, "multifile '%s': ranks %u and %u both wrote addresses %llu..%llu in epoch %u; "
                                 "ordered by (sequence, rank)", c->dir, b->rank, a->rank,
                              (unsigned long long)a->addr, (unsigned long long)e - 1, a->epoch);
                }
            }
            heap_push(&h, x);
        }
        while (h.n > 0 && c->recs[h.v[0]].addr + c->recs[h.v[0]].len <= pos)
            heap_pop(&h);
        if (h.n == 0)
            continue;
        uint32_t top = h.v[0];
        uint64_t next = c->recs[top].addr + c->recs[top].len;
        if (k < n && c->recs[order[k]].addr < next)
            next = c->recs[order[k]].addr;
        mf_seg_t *last = c->nsegs ? &c->segs[c->nsegs - 1] : NULL;
        if (last && last->rec == top && last->addr + last->len == pos) {
            last->len += next - pos;
        } else {
            if (c->nsegs == segcap) {
                segcap *= 2;
                mf_seg_t *ns = realloc(c->segs, segcap * sizeof *ns);
                if (!ns) {
                    rc = h5tier__fail(ENOMEM, "multifile '%s': out of memory for the merged index", c->dir);
                    goto out;
                }
                c->segs = ns;
            }
            c->segs[c->nsegs++] = (mf_seg_t){pos, next - pos, top};
        }
        pos = next;
    }
    if (c->overlaps > MAX_REPORTED_OVERLAPS)
        warnf(L, "multifile '%s': %llu same-epoch overlaps in all", c->dir, (unsigned long long)c->overlaps);
    if (c->nsegs && c->segs[c->nsegs - 1].addr + c->segs[c->nsegs - 1].len > c->eoa)
        c->eoa = c->segs[c->nsegs - 1].addr + c->segs[c->nsegs - 1].len;
out:
    free(order);
    free(h.v);
    return rc;
}

int h5tier__mf_catalog_load(mf_catalog_t *c, const char *dir, unsigned flags, void (*warn)(const char *, void *),
                            void *warn_arg)
{
    memset(c, 0, sizeof *c);
    int rc = h5tier__mf_dir_name(dir, c->dir, sizeof c->dir);
    if (rc < 0)
        return rc;
    loader_t L = {.c = c, .flags = flags, .warn = warn, .warn_arg = warn_arg};
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", c->dir, MF_META_NAME);
    int fd;
    uint64_t size;
    struct stat st;
    if (stat(c->dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return h5tier__fail(errno ? errno : ENOTDIR, "multifile: '%s' is not a multifile directory", c->dir);
    rc = open_checked(c, path, "H5TMFDIR", "metafile", 0, 0, &fd, &size);
    if (rc < 0) {
        if (rc == -ENOENT)
            return h5tier__fail(ENOENT, "multifile '%s': no metafile '%s' (rank 0 never started, or this is not a "
                                        "multifile directory)", c->dir, path);
        return rc;
    }
    h5tier_sys.close(fd);
    if (!(L.buf = malloc(RD_BUF)))
        return h5tier__fail(ENOMEM, "multifile '%s': out of memory", c->dir);
    for (unsigned r = 0; r < c->nranks && rc == 0; r++)
        rc = load_rank(&L, r);
    if (rc == 0)
        rc = sweep(&L);
    free(L.buf);
    free(L.dig0);
    if (rc < 0)
        h5tier__mf_catalog_free(c);
    return rc;
}

void h5tier__mf_catalog_free(mf_catalog_t *c)
{
    free(c->recs);
    free(c->segs);
    c->recs = NULL;
    c->segs = NULL;
    c->nrecs = c->nsegs = 0;
}

size_t h5tier__mf_catalog_find(const mf_catalog_t *c, uint64_t addr)
{
    size_t lo = 0, hi = c->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->segs[mid].addr + c->segs[mid].len <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- open rank logs, LRU ------------------------------------------------- */

int h5tier__mf_fdcache_init(mf_fdcache_t *fc, const char *dir, unsigned cap)
{
    memset(fc, 0, sizeof *fc);
    fc->dir = dir;
    fc->cap = cap ? cap : 1;
    fc->fd = malloc(fc->cap * sizeof *fc->fd);
    fc->rank = malloc(fc->cap * sizeof *fc->rank);
    fc->used = malloc(fc->cap * sizeof *fc->used);
    if (!fc->fd || !fc->rank || !fc->used) {
        h5tier__mf_fdcache_free(fc);
        return h5tier__fail(ENOMEM, "multifile: out of memory");
    }
    return 0;
}

int h5tier__mf_fdcache_get(mf_fdcache_t *fc, unsigned rank)
{
    unsigned lru = 0;
    for (unsigned i = 0; i < fc->n; i++) {
        if (fc->rank[i] == rank) {
            fc->used[i] = ++fc->tick;
            return fc->fd[i];
        }
        if (fc->used[i] < fc->used[lru])
            lru = i;
    }
    char path[4200];
    int rc = h5tier__mf_rank_path(path, sizeof path, fc->dir, rank, "log");
    if (rc < 0)
        return rc;
    struct stat st;
    int fd = h5tier__mf_open_ro(path, &st);
    if (fd < 0)
        return fd;
    unsigned slot;
    if (fc->n < fc->cap) {
        slot = fc->n++;
    } else {
        slot = lru; /* the least recently used log makes room */
        h5tier_sys.close(fc->fd[slot]);
    }
    fc->fd[slot] = fd;
    fc->rank[slot] = rank;
    fc->used[slot] = ++fc->tick;
    if (fc->n > fc->peak)
        fc->peak = fc->n;
    return fd;
}

void h5tier__mf_fdcache_free(mf_fdcache_t *fc)
{
    for (unsigned i = 0; i < fc->n; i++)
        h5tier_sys.close(fc->fd[i]);
    free(fc->fd);
    free(fc->rank);
    free(fc->used);
    memset(fc, 0, sizeof *fc);
}
