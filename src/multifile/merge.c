/*
 * multifile/merge.c -- h5tier_multifile_merge: replay every rank's log into
 * one plain HDF5 file.  The catalog (catalog.c) has checked the directory
 * and decided which record owns each byte; here threads copy the records,
 * each reading its share of records in log order (rank, log offset) through
 * a bounded cache of open logs, checksumming every record's data while it
 * copies the parts the record still owns.  The output is built as
 * OUT.tmp.PID, checked to open as HDF5, fsynced and renamed over OUT: a
 * failure at any point leaves no partial OUT.
 */
#ifdef H5TIER_HAVE_MPI
#include <mpi.h> /* first: h5tier_multifile.h declares h5tier_multifile_merge_mpi after it */
#endif

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "multifile/mf_internal.h"

#define DEFAULT_BUF ((size_t)4 << 20)
#define DEFAULT_OPEN 64u
#define MAX_THREADS 64u

typedef struct job {
    const mf_catalog_t *c;
    const uint32_t *work;     /* record indices in (rank, log offset) order */
    const size_t *own_start;  /* per record: first index in own[] */
    const uint32_t *own;      /* segment indices grouped by record */
    int out_fd;               /* -1: check only */
    size_t bufsize;
    unsigned files_per_thread;
    _Atomic uint64_t done;
    uint64_t total;
    atomic_int stop;
    pthread_mutex_t lock;
    int rc;
    char msg[1024];
    unsigned peak_open;
    void (*progress)(uint64_t, uint64_t, void *);
    void *progress_arg;
    double last_progress;
} job_t;

typedef struct worker {
    job_t *j;
    size_t from, to; /* slice of work[] */
    int first;       /* calls progress */
    pthread_t th;
} worker_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void job_fail(job_t *j, int rc)
{
    pthread_mutex_lock(&j->lock);
    if (j->rc == 0) {
        j->rc = rc;
        snprintf(j->msg, sizeof j->msg, "%s", h5tier_errmsg());
    }
    pthread_mutex_unlock(&j->lock);
    atomic_store(&j->stop, 1);
}

static int copy_record(job_t *j, mf_fdcache_t *fc, unsigned char *buf, uint32_t ri)
{
    const mf_catalog_t *c = j->c;
    const mf_crec_t *r = &c->recs[ri];
    int fd = h5tier__mf_fdcache_get(fc, r->rank);
    if (fd < 0)
        return fd;
    mf_hash_t h;
    h5tier__mf_hash_init(&h, MF_SEED_DATA);
    size_t si = j->own_start[ri], se = j->own_start[ri + 1];
    for (uint64_t off = 0; off < r->len;) {
        size_t n = r->len - off < j->bufsize ? (size_t)(r->len - off) : j->bufsize;
        size_t got = 0;
        int rc = h5tier__pread_full(fd, buf, n, (off_t)(r->log_off + off), &got);
        if (rc < 0 || got != n)
            return h5tier__fail(rc < 0 ? -rc : EBADMSG, "multifile '%s': rank %u: reading %zu bytes at log offset %llu",
                                c->dir, r->rank, n, (unsigned long long)(r->log_off + off));
        h5tier__mf_hash_update(&h, buf, n);
        if (j->out_fd >= 0) {
            uint64_t a0 = r->addr + off, a1 = a0 + n;
            for (; si < se; si++) {
                const mf_seg_t *s = &c->segs[j->own[si]];
                if (s->addr >= a1)
                    break;
                uint64_t a = s->addr > a0 ? s->addr : a0;
                uint64_t b = s->addr + s->len < a1 ? s->addr + s->len : a1;
                if (a < b && (rc = h5tier__pwrite_full(j->out_fd, buf + (a - a0), (size_t)(b - a), (off_t)a)) < 0)
                    return h5tier__fail(-rc, "multifile merge: writing %llu bytes at address %llu of the output",
                                        (unsigned long long)(b - a), (unsigned long long)a);
                if (s->addr + s->len > a1)
                    break; /* continues in the next chunk */
            }
        }
        off += n;
        atomic_fetch_add(&j->done, n);
        if (atomic_load(&j->stop))
            return 0;
    }
    if (h5tier__mf_hash_final(&h) != r->data_hash)
        return h5tier__fail(EBADMSG, "multifile '%s': rank %u: data of address %llu (%llu bytes at log offset %llu) "
                                     "fails its checksum (corrupted log); no file was produced", c->dir, r->rank,
                            (unsigned long long)r->addr, (unsigned long long)r->len, (unsigned long long)r->log_off);
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    job_t *j = w->j;
    mf_fdcache_t fc;
    unsigned char *buf = malloc(j->bufsize);
    int rc = buf ? h5tier__mf_fdcache_init(&fc, j->c->dir, j->files_per_thread)
                 : h5tier__fail(ENOMEM, "multifile merge: out of memory for a %zu-byte buffer", j->bufsize);
    if (rc < 0) {
        free(buf);
        job_fail(j, rc);
        return NULL;
    }
    for (size_t i = w->from; i < w->to && !atomic_load(&j->stop); i++) {
        if ((rc = copy_record(j, &fc, buf, j->work[i])) < 0) {
            job_fail(j, rc);
            break;
        }
        if (w->first && j->progress) {
            double t = now_s();
            if (t - j->last_progress > 0.1) {
                j->last_progress = t;
                j->progress(atomic_load(&j->done), j->total, j->progress_arg);
            }
        }
    }
    pthread_mutex_lock(&j->lock);
    j->peak_open += fc.peak;
    pthread_mutex_unlock(&j->lock);
    h5tier__mf_fdcache_free(&fc);
    free(buf);
    return NULL;
}

static const mf_crec_t *work_recs;
static int by_log(const void *a, const void *b)
{
    const mf_crec_t *x = &work_recs[*(const uint32_t *)a], *y = &work_recs[*(const uint32_t *)b];
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->log_off < y->log_off ? -1 : (x->log_off > y->log_off);
}

static void default_warn(const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, "h5tier merge: warning: %s\n", msg);
}

/* Copy (or only check) the records of part `part` of `nparts` (records in
 * log order, cut into parts of about equal bytes: one per MPI rank, or the
 * whole when nparts is 1) with the option's threads. */
static int run_copy(const mf_catalog_t *c, int out_fd, const h5tier_merge_opts_t *o, unsigned *peak_open,
                    unsigned part, unsigned nparts)
{
    size_t n = c->nrecs;
    uint32_t *work = malloc((n ? n : 1) * sizeof *work);
    size_t *own_start = calloc(n + 2, sizeof *own_start);
    uint32_t *own = malloc((c->nsegs ? c->nsegs : 1) * sizeof *own);
    if (!work || !own_start || !own) {
        free(work);
        free(own_start);
        free(own);
        return h5tier__fail(ENOMEM, "multifile merge: out of memory for %zu records", n);
    }
    /* group segments by owning record (counting sort keeps address order) */
    for (size_t i = 0; i < c->nsegs; i++)
        own_start[c->segs[i].rec + 1]++;
    for (size_t i = 0; i < n; i++)
        own_start[i + 1] += own_start[i];
    size_t *fill = calloc(n + 1, sizeof *fill);
    if (!fill) {
        free(work);
        free(own_start);
        free(own);
        return h5tier__fail(ENOMEM, "multifile merge: out of memory");
    }
    for (size_t i = 0; i < c->nsegs; i++) {
        uint32_t r = c->segs[i].rec;
        own[own_start[r] + fill[r]++] = (uint32_t)i;
    }
    free(fill);
    for (size_t i = 0; i < n; i++)
        work[i] = (uint32_t)i;
    work_recs = c->recs;
    if (n)
        qsort(work, n, sizeof *work, by_log);

    unsigned threads = o->threads ? o->threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    unsigned maxopen = o->max_open_files ? o->max_open_files : DEFAULT_OPEN;
    if (threads > maxopen)
        threads = maxopen;
    if (threads > n && n > 0)
        threads = (unsigned)n;
    job_t j = {.c = c, .work = work, .own_start = own_start, .own = own, .out_fd = out_fd,
               .bufsize = o->buffer_size ? o->buffer_size : DEFAULT_BUF, .files_per_thread = maxopen / threads,
               .total = c->bytes_logged, .progress = o->progress, .progress_arg = o->progress_arg};
    pthread_mutex_init(&j.lock, NULL);
    worker_t *w = calloc(threads, sizeof *w);
    int rc = 0;
    if (!w) {
        rc = h5tier__fail(ENOMEM, "multifile merge: out of memory");
        goto out;
    }
    /* this part: [lo, hi) of work[], about bytes_logged / nparts bytes */
    size_t lo = 0, hi = 0;
    uint64_t acc = 0, bytes = 0;
    for (unsigned p = 0; p <= part; p++) {
        lo = hi;
        uint64_t goal = c->bytes_logged / nparts * (p + 1);
        while (hi < n && (p == nparts - 1 || acc < goal))
            acc += c->recs[work[hi++]].len;
    }
    for (size_t i = lo; i < hi; i++)
        bytes += c->recs[work[i]].len;
    j.total = bytes;
    /* slices of about equal bytes for the threads */
    uint64_t per = bytes / threads + 1;
    size_t at = lo;
    acc = 0;
    for (unsigned t = 0; t < threads; t++) {
        w[t].j = &j;
        w[t].from = at;
        uint64_t goal = per * (t + 1);
        while (at < hi && (t == threads - 1 || acc < goal))
            acc += c->recs[work[at++]].len;
        w[t].to = at;
        w[t].first = t == 0;
    }
    unsigned started = 0;
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&w[t].th, NULL, worker_main, &w[t]) != 0) {
            job_fail(&j, h5tier__fail(EAGAIN, "multifile merge: cannot start thread %u", t));
            break;
        }
        started = t;
    }
    worker_main(&w[0]);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(w[t].th, NULL);
    if (j.progress)
        j.progress(atomic_load(&j.done), j.total, j.progress_arg);
    *peak_open = j.peak_open;
    if (j.rc < 0)
        rc = h5tier__fail(-j.rc, "%s", j.msg);
out:
    pthread_mutex_destroy(&j.lock);
    free(w);
    free(work);
    free(own_start);
    free(own);
    return rc;
}

static void fill_stats(h5tier_merge_stats_t *stats, const mf_catalog_t *c, unsigned peak, double t0)
{
    memset(stats, 0, sizeof *stats);
    stats->nranks = c->nranks;
    stats->records = c->nrecs;
    stats->bytes_logged = c->bytes_logged;
    for (size_t i = 0; i < c->nsegs; i++)
        stats->bytes_written += c->segs[i].len;
    stats->out_size = c->eoa;
    stats->overlaps = c->overlaps;
    stats->torn = c->torn;
    stats->epochs = c->epochs;
    stats->index_bytes = c->nrecs * (sizeof(mf_crec_t) + 2 * sizeof(uint32_t) + sizeof(size_t)) +
                         c->nsegs * (sizeof(mf_seg_t) + sizeof(uint32_t));
    stats->max_open = peak;
    stats->seconds = now_s() - t0;
}

/* OUT may be created: absent, or a regular file and FORCE.  0 or -EEXIST. */
static int out_allowed(const char *out, unsigned flags)
{
    struct stat st;
    if (lstat(out, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return h5tier__fail(EEXIST, "merge: output '%s' exists and is not a regular file", out);
        if (!(flags & H5TIER_MERGE_FORCE))
            return h5tier__fail(EEXIST, "merge: output '%s' exists (use --force to replace it)", out);
    }
    return 0;
}

/* The merged temp file is complete: fsync it, prove HDF5 opens it, rename it
 * over out.  *tmp_gone is set once tmp no longer exists under its name. */
static int publish(const mf_catalog_t *c, int fd, const char *tmp, const char *out, int *tmp_gone)
{
    int rc = h5tier__fsync(fd);
    h5tier_sys.close(fd);
    if (rc < 0)
        return h5tier__fail(-rc, "merge: fsync '%s'", tmp);
    hid_t f = H5I_INVALID_HID;
    H5E_BEGIN_TRY { f = H5Fopen(tmp, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (f < 0)
        return h5tier__fail(H5TIER_ENOTHDF5, "merge: the merged image of '%s' does not open as an HDF5 file; '%s' was "
                                             "not written", c->dir, out);
    H5Fclose(f);
    bool renamed = false;
    if ((rc = h5tier__rename_durable(tmp, out, &renamed)) < 0) {
        *tmp_gone = renamed;
        return h5tier__fail(-rc, "merge: cannot rename '%s' to '%s'", tmp, out);
    }
    *tmp_gone = 1;
    return 0;
}

int h5tier_multifile_merge(const char *dir, const char *out, const h5tier_merge_opts_t *opts,
                           h5tier_merge_stats_t *stats)
{
    h5tier_merge_opts_t o = {0};
    if (opts)
        o = *opts;
    if (!o.warn)
        o.warn = default_warn;
    if (!dir)
        return h5tier__fail(EINVAL, "multifile merge: no directory given");
    double t0 = now_s();
    mf_catalog_t c;
    unsigned cf = ((o.flags & H5TIER_MERGE_ALLOW_OVERLAPS) ? MF_CAT_ALLOW_OVERLAPS : 0) |
                  ((o.flags & H5TIER_MERGE_ALLOW_INCOMPLETE) ? MF_CAT_ALLOW_INCOMPLETE : 0);
    int rc = h5tier__mf_catalog_load(&c, dir, cf, o.warn, o.warn_arg);
    if (rc < 0)
        return rc;
    char tmp[4200] = "";
    int fd = -1;
    unsigned peak = 0;
    if (out) {
        if ((rc = out_allowed(out, o.flags)) < 0)
            goto out;
        if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid()) >= (int)sizeof tmp) {
            rc = h5tier__fail(ENAMETOOLONG, "merge: output name '%s' is too long", out);
            goto out;
        }
        fd = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0) {
            rc = h5tier__fail(errno, "merge: cannot create '%s'", tmp);
            tmp[0] = 0;
            goto out;
        }
        if (h5tier_sys.ftruncate(fd, (off_t)c.eoa) < 0) {
            rc = h5tier__fail(errno, "merge: cannot size '%s' to %llu bytes", tmp, (unsigned long long)c.eoa);
            goto out;
        }
    }
    if ((rc = run_copy(&c, fd, &o, &peak, 0, 1)) < 0)
        goto out;
    if (out) {
        int gone = 0;
        rc = publish(&c, fd, tmp, out, &gone);
        fd = -1;
        if (gone)
            tmp[0] = 0;
        if (rc < 0)
            goto out;
    }
    if (stats)
        fill_stats(stats, &c, peak, t0);
out:
    if (fd >= 0)
        h5tier_sys.close(fd);
    if (tmp[0])
        h5tier_sys.unlink(tmp);
    h5tier__mf_catalog_free(&c);
    return rc;
}

#ifdef H5TIER_HAVE_MPI
/* Every rank's rc, agreed: 0 if all succeeded, else this rank's own error or
 * "rank R failed" naming the first failing rank of the merge. */
static int agree(MPI_Comm comm, int rc, int me)
{
    int in[2] = {rc < 0 ? rc : 0, me}, res[2] = {0, 0};
    if (MPI_Allreduce(in, res, 1, MPI_2INT, MPI_MINLOC, comm) != MPI_SUCCESS)
        return h5tier__fail(EIO, "merge: MPI_Allreduce failed");
    if (rc < 0)
        return rc;
    if (res[0] < 0)
        return h5tier__fail(-res[0], "merge: rank %d of the merge failed (its message says why)", res[1]);
    return 0;
}

int h5tier_multifile_merge_mpi(MPI_Comm comm, const char *dir, const char *out, const h5tier_merge_opts_t *opts,
                               h5tier_merge_stats_t *stats)
{
    int me = 0, np = 1;
    if (MPI_Comm_rank(comm, &me) != MPI_SUCCESS || MPI_Comm_size(comm, &np) != MPI_SUCCESS)
        return h5tier__fail(EINVAL, "merge: MPI_Comm_rank/MPI_Comm_size failed");
    h5tier_merge_opts_t o = {0};
    if (opts)
        o = *opts;
    if (!o.warn)
        o.warn = default_warn;
    if (me != 0) { /* one voice: rank 0 warns and shows progress */
        o.warn = NULL;
        o.progress = NULL;
    }
    double t0 = now_s();
    mf_catalog_t c;
    memset(&c, 0, sizeof c);
    unsigned cf = ((o.flags & H5TIER_MERGE_ALLOW_OVERLAPS) ? MF_CAT_ALLOW_OVERLAPS : 0) |
                  ((o.flags & H5TIER_MERGE_ALLOW_INCOMPLETE) ? MF_CAT_ALLOW_INCOMPLETE : 0);
    int rc = dir ? h5tier__mf_catalog_load(&c, dir, cf, o.warn, o.warn_arg)
                 : h5tier__fail(EINVAL, "multifile merge: no directory given");
    int loaded = rc == 0;
    rc = agree(comm, rc, me);
    char tmp[4200] = "";
    int fd = -1, tmp_made = 0;
    unsigned peak = 0;
    if (rc == 0 && out) {
        if (me == 0) { /* rank 0 makes the temp file at its full size */
            rc = out_allowed(out, o.flags);
            if (rc == 0 && snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid()) >= (int)sizeof tmp)
                rc = h5tier__fail(ENAMETOOLONG, "merge: output name '%s' is too long", out);
            if (rc == 0 && (fd = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666)) < 0)
                rc = h5tier__fail(errno, "merge: cannot create '%s'", tmp);
            tmp_made = fd >= 0;
            if (rc == 0 && h5tier_sys.ftruncate(fd, (off_t)c.eoa) < 0)
                rc = h5tier__fail(errno, "merge: cannot size '%s' to %llu bytes", tmp, (unsigned long long)c.eoa);
        }
        rc = agree(comm, rc, me);
        if (rc == 0) {
            MPI_Bcast(tmp, (int)sizeof tmp, MPI_CHAR, 0, comm);
            if (me != 0 && (fd = h5tier_sys.open(tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0)) < 0)
                rc = h5tier__fail(errno, "merge: rank %d cannot open '%s'", me, tmp);
            rc = agree(comm, rc, me);
        }
    }
    if (rc == 0) { /* each rank copies its part of the records (log order, equal bytes) */
        rc = run_copy(&c, fd, &o, &peak, (unsigned)me, (unsigned)np);
        rc = agree(comm, rc, me);
    }
    /* rc is the same on every rank here, and so is out: the collectives
     * below are reached by all ranks in the same order */
    if (me != 0 && fd >= 0) {
        h5tier_sys.close(fd);
        fd = -1;
    }
    if (out) {
        MPI_Barrier(comm); /* every rank has written and closed its descriptor */
        int pub = rc;
        if (me == 0 && rc == 0) { /* rank 0: fsync, check, rename */
            int gone = 0;
            pub = publish(&c, fd, tmp, out, &gone);
            fd = -1;
            tmp_made = !gone;
        }
        MPI_Bcast(&pub, 1, MPI_INT, 0, comm);
        if (me == 0)
            rc = pub;
        else if (rc == 0 && pub < 0)
            rc = h5tier__fail(-pub, "merge: rank 0 could not publish '%s' (its message says why)", out);
    }
    if (fd >= 0)
        h5tier_sys.close(fd);
    if (me == 0 && tmp_made && tmp[0])
        h5tier_sys.unlink(tmp);
    if (rc == 0 && stats)
        fill_stats(stats, &c, peak, t0);
    if (loaded)
        h5tier__mf_catalog_free(&c);
    return rc;
}
#endif
