/*
 * multifile/H5FDmultifile.c -- the HDF5 virtual file driver
 * "h5tier_multifile": each rank of a parallel job writes its part of one
 * logical HDF5 file into its own append-only log in the directory NAME.mf/,
 * at the speed of independent POSIX writes; `h5tier merge` (merge.c) turns
 * the logs into one plain HDF5 file, and opening NAME read-only with this
 * driver reads the logs in place (catalog.c).
 *
 * Writer (H5F_ACC_TRUNC or H5F_ACC_EXCL, with H5F_ACC_CREAT): raw data
 * (H5FD_MEM_DRAW) is appended to the rank's log, then a DATA record is
 * queued for its index (records are written in order, after their data:
 * at once after a raw write of 64 KiB or more, else in batches of 64 KiB of
 * records and at every flush).  Metadata of every type goes into
 * an in-memory image (so this rank reads its own metadata back); rank 0
 * also appends it to its log with META records.  At close each rank appends
 * DIGEST records (its metadata image by address and content) and a CLOSE
 * record, then fsyncs log and index (unless H5TIER_MULTIFILE_NO_SYNC).  An
 * H5Fflush ends an epoch.  After a failed write (ENOSPC, EIO) the rank
 * writes nothing more and never its CLOSE record, so merge reports it.
 * A rank reads back its own raw writes from its log; other ranks' raw bytes
 * read as zeros.
 *
 * Reader (H5F_ACC_RDONLY): every rank's index is loaded and checked
 * (headers, record checksums, close records, metadata digests) and merged
 * into one sorted segment list; reads are served from the logs through a
 * bounded cache of open files (data checksums are verified first only with
 * H5TIER_MULTIFILE_VERIFY).  H5F_ACC_RDWR without CREAT is refused.
 *
 * Not H5FD_FEAT_DATA_SIEVE: the sieve buffer would read-modify-write 64 KiB
 * around each small raw write, writing zeros over other ranks' bytes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "multifile/mf_driver.h"

#define MF_MAXADDR ((haddr_t)INT64_MAX - 1)
#define MF_IDXBUF ((size_t)64 << 10)
#define MF_READER_FILES 64u
#define MF_LOG_DATA 4096u /* first data byte of a log: page-aligned, so page-aligned raw writes stay aligned */
#define MF_IDX_EAGER ((size_t)64 << 10) /* raw writes this big publish their record at once */

typedef struct mf_file {
    H5FD_t pub;                    /* public part; must be first */
    h5tier_multifile_config_t cfg; /* configuration, defaults filled in */
    char dir[4096];                /* NAME.mf */
    int writer;
    dev_t dev;                     /* identity of the directory, for cmp */
    ino_t ino;
    haddr_t eoa, eof;
    /* writer */
    int rank, nranks;
    uint64_t run_id;               /* the job's id, in every header (0: unknown) */
    int log_fd, idx_fd;
    uint64_t log_end;              /* next log offset */
    uint64_t idx_off;              /* file offset of the next index write */
    unsigned char *idxbuf;         /* queued records */
    size_t idx_n;                  /* bytes queued */
    uint64_t seq;
    uint32_t epoch;
    int failed;                    /* errno of the write that failed; nothing more is written */
    mf_image_t meta;               /* metadata written (all ranks) */
    mf_extmap_t own;               /* this rank's raw data: address -> log offset */
    /* reader */
    mf_catalog_t *cat;
    mf_fdcache_t fds;
} mf_file_t;

int h5tier__mf_push_last(int rc)
{
    static _Thread_local char why[1024];
    snprintf(why, sizeof why, "%s", h5tier_errmsg());
    return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, rc, "%s", why);
}

static void *vfd_fapl_get(H5FD_t *_f)
{
    mf_file_t *f = (mf_file_t *)_f;
    h5tier_multifile_config_t *c = malloc(sizeof *c);
    if (c)
        *c = f->cfg;
    return c;
}

static void *vfd_fapl_copy(const void *old)
{
    h5tier_multifile_config_t *c = malloc(sizeof *c);
    if (c)
        memcpy(c, old, sizeof *c);
    return c;
}

static herr_t vfd_fapl_free(void *fa)
{
    free(fa);
    return 0;
}

/* ---- writer: the log and the index -------------------------------------- */

/* Write the queued index records.  0 or -errno (pushed; the rank fails). */
static int idx_flush(mf_file_t *f)
{
    if (f->idx_n == 0)
        return 0;
    int rc = h5tier__pwrite_full(f->idx_fd, f->idxbuf, f->idx_n, (off_t)f->idx_off);
    if (rc < 0) {
        f->failed = -rc;
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, -rc, "multifile '%s' rank %d: cannot write the index at %llu",
                           f->dir, f->rank, (unsigned long long)f->idx_off);
    }
    f->idx_off += f->idx_n;
    f->idx_n = 0;
    return 0;
}

static int idx_add(mf_file_t *f, uint32_t kind, uint64_t addr, uint64_t len, uint64_t log_off, uint64_t hash,
                   uint64_t aux)
{
    if (f->idx_n + MF_REC_SIZE > MF_IDXBUF && idx_flush(f) < 0)
        return -1;
    mf_rec_t r = {kind, f->epoch, f->seq++, addr, len, log_off, hash, aux};
    h5tier__mf_rec_encode(&r, f->idxbuf + f->idx_n);
    f->idx_n += MF_REC_SIZE;
    return 0;
}

/* Append [buf, size) to the log as a record of kind; *log_off gets where. */
static int log_append(mf_file_t *f, uint32_t kind, haddr_t addr, size_t size, const void *buf, uint64_t *log_off)
{
    int rc = h5tier__pwrite_full(f->log_fd, buf, size, (off_t)f->log_end);
    if (rc < 0) {
        f->failed = -rc;
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, -rc,
                           "multifile '%s' rank %d: cannot append %zu bytes (address %llu) to its log at %llu",
                           f->dir, f->rank, size, (unsigned long long)addr, (unsigned long long)f->log_end);
    }
    *log_off = f->log_end;
    f->log_end += size;
    return idx_add(f, kind, addr, size, *log_off, h5tier__mf_hash(buf, size, MF_SEED_DATA), 0);
}

static int write_header(mf_file_t *f, int fd, const char *magic, const char *what)
{
    mf_hdr_t h = {.version = MF_VERSION, .hdr_size = MF_HDR_SIZE, .rank = (uint32_t)f->rank,
                  .nranks = (uint32_t)f->nranks, .rec_size = MF_REC_SIZE, .ctime = (uint64_t)time(NULL),
                  .run_id = f->run_id};
    memcpy(h.magic, magic, 8);
    unsigned char b[MF_HDR_SIZE];
    h5tier__mf_hdr_encode(&h, b);
    int rc = h5tier__pwrite_full(fd, b, sizeof b, 0);
    if (rc < 0)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, -rc, "multifile '%s' rank %d: cannot write the %s header",
                           f->dir, f->rank, what);
    return 0;
}

/* Rank 0: the metafile, written to a temporary name and renamed. */
static int write_meta(mf_file_t *f, unsigned flags)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s", f->dir, MF_META_NAME);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp%ld", f->dir, MF_META_NAME, (long)getpid());
    if (flags & H5F_ACC_EXCL) {
        struct stat st;
        int fd = h5tier_sys.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
        if (fd >= 0 || (errno != ENOENT)) {
            if (fd >= 0)
                h5tier_sys.close(fd);
            (void)st;
            return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, EEXIST,
                               "multifile '%s' exists (H5F_ACC_EXCL); remove it or create with H5F_ACC_TRUNC", f->dir);
        }
    }
    /* an earlier run's metafile goes first: if this create fails, merge finds none */
    if (h5tier_sys.unlink(path) < 0 && errno != ENOENT)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, errno, "multifile '%s': cannot remove the old metafile", f->dir);
    int fd = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f->cfg.mode);
    if (fd < 0)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, errno, "multifile '%s': cannot create '%s'", f->dir, tmp);
    mf_hdr_t h = {.version = MF_VERSION, .hdr_size = MF_HDR_SIZE, .rank = 0, .nranks = (uint32_t)f->nranks,
                  .flags = f->cfg.flags, .ctime = (uint64_t)time(NULL), .run_id = f->run_id};
    memcpy(h.magic, "H5TMFDIR", 8);
    unsigned char b[MF_HDR_SIZE];
    h5tier__mf_hdr_encode(&h, b);
    int rc = h5tier__pwrite_full(fd, b, sizeof b, 0);
    if (rc == 0 && !(f->cfg.flags & H5TIER_MULTIFILE_NO_SYNC))
        rc = h5tier__fsync(fd);
    h5tier_sys.close(fd);
    bool renamed = false;
    if (rc == 0 && (f->cfg.flags & H5TIER_MULTIFILE_NO_SYNC)) {
        if (h5tier_sys.rename(tmp, path) < 0)
            rc = -errno;
        else
            renamed = true;
    } else if (rc == 0) {
        rc = h5tier__rename_durable(tmp, path, &renamed);
    }
    if (rc < 0) {
        if (!renamed)
            h5tier_sys.unlink(tmp);
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, -rc, "multifile '%s': cannot write the metafile", f->dir);
    }
    return 0;
}

static int open_rank_file(mf_file_t *f, const char *ext, unsigned flags)
{
    char path[4200];
    if (h5tier__mf_rank_path(path, sizeof path, f->dir, (unsigned)f->rank, ext) < 0)
        return h5tier__mf_push_last(ENAMETOOLONG);
    /* no O_TRUNC: an existing file is checked (regular, ours) before it is emptied */
    int of = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | ((flags & H5F_ACC_EXCL) ? O_EXCL : 0);
    int fd = h5tier_sys.open(path, of, f->cfg.mode);
    if (fd < 0)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, errno, "multifile '%s' rank %d: cannot create '%s'%s", f->dir,
                           f->rank, path, errno == EEXIST ? " (H5F_ACC_EXCL)" : "");
    struct stat st;
    if (h5tier_sys.fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        h5tier_sys.close(fd);
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, EPERM, "multifile '%s': '%s' is not a regular file owned by us",
                           f->dir, path);
    }
    if (st.st_size > 0 && h5tier_sys.ftruncate(fd, 0) < 0) {
        int e = errno;
        h5tier_sys.close(fd);
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, e, "multifile '%s': cannot empty '%s'", f->dir, path);
    }
    return fd;
}

static int open_writer(mf_file_t *f, unsigned flags)
{
    const char *src = NULL;
    int rc = h5tier__mf_resolve_rank(&f->cfg, &f->rank, &f->nranks, &src);
    if (rc < 0)
        return h5tier__mf_push_last(rc);
    f->run_id = h5tier__mf_run_id(&f->cfg, f->rank);
    mode_t dmode = f->cfg.mode | ((f->cfg.mode & 0444) >> 2) | 0700;
    if (h5tier_sys.mkdir(f->dir, dmode) < 0 && errno != EEXIST)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, errno, "multifile: cannot create directory '%s'", f->dir);
    int dfd = h5tier_sys.open(f->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    struct stat st;
    if (dfd < 0)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, errno, "multifile: '%s' is not a directory we can open", f->dir);
    rc = h5tier_sys.fstat(dfd, &st);
    h5tier_sys.close(dfd);
    if (rc < 0)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, errno, "multifile: fstat '%s'", f->dir);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (f->rank == 0 && write_meta(f, flags) < 0)
        return -1;
    if ((f->log_fd = open_rank_file(f, "log", flags)) < 0)
        return -1;
    if ((f->idx_fd = open_rank_file(f, "idx", flags)) < 0)
        return -1;
    if (write_header(f, f->log_fd, "H5TMFLOG", "log") < 0 || write_header(f, f->idx_fd, "H5TMFIDX", "index") < 0)
        return -1;
    f->log_end = MF_LOG_DATA; /* data page-aligned */
    f->idx_off = MF_HDR_SIZE;
    if (!(f->idxbuf = malloc(MF_IDXBUF)))
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, ENOMEM, "multifile '%s': out of memory", f->dir);
    return 0;
}

static void quiet_warn(const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
}

static int open_reader(mf_file_t *f)
{
    struct stat st;
    int dfd = h5tier_sys.open(f->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (dfd < 0)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, errno, "multifile: cannot open directory '%s'", f->dir);
    int rc = h5tier_sys.fstat(dfd, &st);
    h5tier_sys.close(dfd);
    if (rc < 0)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, errno, "multifile: fstat '%s'", f->dir);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (f->cfg.flags & H5TIER_MULTIFILE_VERIFY) { /* every data checksum first, as merge --check */
        h5tier_merge_opts_t o = {.threads = 1, .max_open_files = MF_READER_FILES, .warn = quiet_warn,
                                 .flags = (f->cfg.flags & H5TIER_MULTIFILE_ALLOW_INCOMPLETE)
                                              ? H5TIER_MERGE_ALLOW_INCOMPLETE | H5TIER_MERGE_ALLOW_OVERLAPS
                                              : H5TIER_MERGE_ALLOW_OVERLAPS};
        if ((rc = h5tier_multifile_merge(f->dir, NULL, &o, NULL)) < 0)
            return h5tier__mf_push_last(rc);
    }
    if (!(f->cat = calloc(1, sizeof *f->cat)))
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, ENOMEM, "multifile '%s': out of memory", f->dir);
    unsigned cf = (f->cfg.flags & H5TIER_MULTIFILE_ALLOW_INCOMPLETE) ? MF_CAT_ALLOW_INCOMPLETE : 0;
    rc = h5tier__mf_catalog_load(f->cat, f->dir, cf | MF_CAT_ALLOW_OVERLAPS, NULL, NULL);
    if (rc < 0)
        return h5tier__mf_push_last(rc);
    if ((rc = h5tier__mf_fdcache_init(&f->fds, f->dir, MF_READER_FILES)) < 0)
        return h5tier__mf_push_last(rc);
    f->eof = f->cat->eoa;
    return 0;
}

static void file_free(mf_file_t *f)
{
    if (f->log_fd >= 0)
        h5tier_sys.close(f->log_fd);
    if (f->idx_fd >= 0)
        h5tier_sys.close(f->idx_fd);
    free(f->idxbuf);
    h5tier__mf_image_free(&f->meta);
    h5tier__mf_extmap_free(&f->own);
    if (f->cat) {
        h5tier__mf_catalog_free(f->cat);
        free(f->cat);
    }
    h5tier__mf_fdcache_free(&f->fds);
    free(f);
}

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl_id, haddr_t maxaddr)
{
    (void)maxaddr;
    mf_file_t *f = calloc(1, sizeof *f);
    if (!f) {
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, ENOMEM, "multifile: out of memory opening '%s'", name ? name : "");
        return NULL;
    }
    f->log_fd = f->idx_fd = -1;
    const h5tier_multifile_config_t *fa = NULL;
    if (fapl_id != H5P_DEFAULT && fapl_id != H5P_FILE_ACCESS_DEFAULT)
        fa = H5Pget_driver_info(fapl_id);
    if (h5tier__mf_config_check(fa, &f->cfg) < 0) {
        h5tier__mf_push_last(EINVAL);
        goto fail;
    }
    if (!name || h5tier__mf_dir_name(name, f->dir, sizeof f->dir) < 0) {
        h5tier__mf_push_last(EINVAL);
        goto fail;
    }
    f->writer = (flags & H5F_ACC_RDWR) != 0;
    if (f->writer && !(flags & H5F_ACC_CREAT)) {
        /* also HDF5's tentative open before a create: it then retries with CREAT */
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, ENOTSUP,
                    "multifile '%s': opening for writing without creating is not supported "
                    "(create with H5F_ACC_TRUNC, or open read-only; merge with 'h5tier merge')", f->dir);
        goto fail;
    }
    if ((f->writer ? open_writer(f, flags) : open_reader(f)) < 0)
        goto fail;
    return &f->pub;
fail:
    file_free(f);
    return NULL;
}

static void report_close_failure(void)
{
    H5E_auto2_t func = NULL;
    void *data = NULL;
    if (H5Eget_auto2(H5E_DEFAULT, &func, &data) >= 0 && func)
        func(H5E_DEFAULT, data);
}

static int digest_one(uint64_t addr, uint64_t len, uint64_t hash, void *arg)
{
    return idx_add((mf_file_t *)arg, MF_KIND_DIGEST, addr, len, 0, hash, 0);
}

/* Close: digest, close record, sync (writer).  A failure is pushed and
 * printed but the callback returns success (as in the shm driver: a failing
 * close in HDF5 1.10 leaves a dangling file ID); the missing close record
 * makes merge report the rank. */
static herr_t vfd_close(H5FD_t *_f)
{
    mf_file_t *f = (mf_file_t *)_f;
    int failed = 0;
    if (f->writer) {
        if (f->failed) {
            idx_flush(f); /* records of the data that did reach the log */
            H5TIER_PUSH(H5TIER_AREA_MULTIFILE, f->failed,
                        "multifile '%s' rank %d: closed after a failed write; the log has no close record and "
                        "merge will report this rank", f->dir, f->rank);
            failed = 1;
        } else if (h5tier__mf_image_digest(&f->meta, digest_one, f) < 0 ||
                   idx_add(f, MF_KIND_CLOSE, f->seq, f->log_end, 0, 0, (uint64_t)f->eoa) < 0) {
            failed = 1;
        } else {
            int rc = 0;
            if (!(f->cfg.flags & H5TIER_MULTIFILE_NO_SYNC) && (rc = h5tier__fsync(f->log_fd)) < 0)
                H5TIER_PUSH(H5TIER_AREA_MULTIFILE, -rc, "multifile '%s' rank %d: fsync of the log", f->dir, f->rank);
            /* the close record goes out only after the data is durable */
            if (rc < 0 || idx_flush(f) < 0)
                failed = 1;
            else if (!(f->cfg.flags & H5TIER_MULTIFILE_NO_SYNC) && (rc = h5tier__fsync(f->idx_fd)) < 0) {
                H5TIER_PUSH(H5TIER_AREA_MULTIFILE, -rc, "multifile '%s' rank %d: fsync of the index", f->dir,
                            f->rank);
                failed = 1;
            }
        }
    }
    if (failed)
        report_close_failure();
    file_free(f);
    return 0;
}

/* ---- I/O ---------------------------------------------------------------- */

static int addr_check(const mf_file_t *f, haddr_t addr, size_t size)
{
    if (addr == HADDR_UNDEF || addr > MF_MAXADDR || (haddr_t)size > MF_MAXADDR - addr)
        return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, EINVAL, "multifile '%s': address %llu + %zu is out of range",
                           f->dir, (unsigned long long)addr, size);
    return 0;
}

/* Writer: this rank's raw bytes from its log, zeros elsewhere. */
static int read_own(mf_file_t *f, haddr_t addr, size_t size, unsigned char *buf)
{
    uint64_t end = addr + size, done = addr; /* [addr, done) filled */
    for (size_t i = h5tier__mf_extmap_find(&f->own, addr); i < f->own.n && f->own.v[i].addr < end; i++) {
        const mf_ext_t *e = &f->own.v[i];
        uint64_t a = e->addr > addr ? e->addr : addr;
        uint64_t b = e->addr + e->len < end ? e->addr + e->len : end;
        if (a > done)
            memset(buf + (done - addr), 0, (size_t)(a - done));
        done = b;
        size_t got = 0;
        int rc = h5tier__pread_full(f->log_fd, buf + (a - addr), (size_t)(b - a), (off_t)(e->log_off + (a - e->addr)),
                                    &got);
        if (rc < 0 || got != b - a)
            return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, rc < 0 ? -rc : EIO,
                               "multifile '%s' rank %d: cannot read back address %llu from its log", f->dir, f->rank,
                               (unsigned long long)a);
    }
    if (end > done) /* zeros where this rank wrote nothing */
        memset(buf + (done - addr), 0, (size_t)(end - done));
    return 0;
}

/* Reader: the merged image. */
static int read_merged(mf_file_t *f, haddr_t addr, size_t size, unsigned char *buf)
{
    const mf_catalog_t *c = f->cat;
    uint64_t end = addr + size, done = addr; /* [addr, done) filled */
    for (size_t i = h5tier__mf_catalog_find(c, addr); i < c->nsegs && c->segs[i].addr < end; i++) {
        const mf_seg_t *s = &c->segs[i];
        const mf_crec_t *r = &c->recs[s->rec];
        uint64_t a = s->addr > addr ? s->addr : addr;
        uint64_t b = s->addr + s->len < end ? s->addr + s->len : end;
        if (a > done)
            memset(buf + (done - addr), 0, (size_t)(a - done));
        done = b;
        int fd = h5tier__mf_fdcache_get(&f->fds, r->rank);
        if (fd < 0)
            return h5tier__mf_push_last(fd);
        size_t got = 0;
        int rc = h5tier__pread_full(fd, buf + (a - addr), (size_t)(b - a), (off_t)(r->log_off + (a - r->addr)), &got);
        if (rc < 0 || got != b - a)
            return H5TIER_PUSH(H5TIER_AREA_MULTIFILE, rc < 0 ? -rc : EIO,
                               "multifile '%s': rank %u's log is shorter than its index says (address %llu)", f->dir,
                               r->rank, (unsigned long long)a);
    }
    if (end > done) /* never written: zeros */
        memset(buf + (done - addr), 0, (size_t)(end - done));
    return 0;
}

static herr_t vfd_read(H5FD_t *_f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf)
{
    (void)dxpl;
    mf_file_t *f = (mf_file_t *)_f;
    if (addr_check(f, addr, size) < 0)
        return -1;
    if (!f->writer)
        return read_merged(f, addr, size, buf) < 0 ? -1 : 0;
    if (type != H5FD_MEM_DRAW) {
        h5tier__mf_image_read(&f->meta, addr, buf, size);
        return 0;
    }
    return read_own(f, addr, size, buf) < 0 ? -1 : 0;
}

static herr_t vfd_write(H5FD_t *_f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf)
{
    (void)dxpl;
    mf_file_t *f = (mf_file_t *)_f;
    if (!f->writer) {
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, EBADF, "multifile '%s' is open read-only", f->dir);
        return -1;
    }
    if (addr_check(f, addr, size) < 0)
        return -1;
    if (f->failed) {
        H5TIER_PUSH(H5TIER_AREA_MULTIFILE, f->failed,
                    "multifile '%s' rank %d: an earlier write failed; nothing more is written", f->dir, f->rank);
        return -1;
    }
    uint64_t off;
    if (type == H5FD_MEM_DRAW) {
        if (log_append(f, MF_KIND_DATA, addr, size, buf, &off) < 0)
            return -1;
        /* a big write's record goes out at once (one more small pwrite), so a
         * rank killed later keeps it; small ones are batched */
        if (size >= MF_IDX_EAGER && idx_flush(f) < 0)
            return -1;
        if (h5tier__mf_extmap_put(&f->own, addr, size, off) < 0) {
            f->failed = ENOMEM;
            H5TIER_PUSH(H5TIER_AREA_MULTIFILE, ENOMEM, "multifile '%s': out of memory", f->dir);
            return -1;
        }
    } else {
        if (h5tier__mf_image_write(&f->meta, addr, buf, size) < 0) {
            f->failed = ENOMEM;
            H5TIER_PUSH(H5TIER_AREA_MULTIFILE, ENOMEM, "multifile '%s': out of memory for metadata", f->dir);
            return -1;
        }
        if (f->rank == 0 && log_append(f, MF_KIND_META, addr, size, buf, &off) < 0)
            return -1;
    }
    if (addr + size > f->eof)
        f->eof = addr + size;
    return 0;
}

static haddr_t vfd_get_eoa(const H5FD_t *_f, H5FD_mem_t type)
{
    (void)type;
    return ((const mf_file_t *)_f)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *_f, H5FD_mem_t type, haddr_t addr)
{
    (void)type;
    mf_file_t *f = (mf_file_t *)_f;
    if (addr_check(f, addr, 0) < 0)
        return -1;
    f->eoa = addr;
    return 0;
}

static haddr_t vfd_get_eof(const H5FD_t *_f, H5FD_mem_t type)
{
    (void)type;
    return ((const mf_file_t *)_f)->eof;
}

static herr_t vfd_flush(H5FD_t *_f, hid_t dxpl, hbool_t closing)
{
    (void)dxpl;
    mf_file_t *f = (mf_file_t *)_f;
    if (!f->writer || closing || f->failed)
        return 0;
    if (idx_flush(f) < 0)
        return -1;
    f->epoch++; /* an H5Fflush ends an epoch */
    return 0;
}

static herr_t vfd_truncate(H5FD_t *_f, hid_t dxpl, hbool_t closing)
{
    (void)dxpl;
    (void)closing;
    mf_file_t *f = (mf_file_t *)_f;
    if (f->writer)
        f->eof = f->eoa;
    return 0;
}

static int vfd_cmp(const H5FD_t *_a, const H5FD_t *_b)
{
    const mf_file_t *a = (const mf_file_t *)_a, *b = (const mf_file_t *)_b;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return 0;
}

/* sec2's aggregation and accumulation, without the data sieve (see the
 * banner) and without SWMR or a POSIX-compatible handle (there is no single
 * file). */
static herr_t vfd_query(const H5FD_t *_f, unsigned long *flags)
{
    (void)_f;
    if (flags)
        *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}

/* ---- the class table ----------------------------------------------------- */

static const H5FD_class_t mf_class = {
#if defined(H5FD_CLASS_VERSION)
    .version = H5FD_CLASS_VERSION,                 /* struct version (1.14+) */
    .value = (H5FD_class_value_t)H5TIER_MULTIFILE_DRIVER_VALUE, /* driver value (1.14+) */
#endif
    .name = H5TIER_MULTIFILE_DRIVER_NAME,          /* name shown by HDF5 */
    .maxaddr = MF_MAXADDR,                         /* largest address: off_t range */
    .fc_degree = H5F_CLOSE_WEAK,                   /* default file close degree, like sec2 */
    .terminate = NULL,                             /* nothing global to release */
    .sb_size = NULL,                               /* no driver info in the superblock: */
    .sb_encode = NULL,                             /*   the merged image is a plain */
    .sb_decode = NULL,                             /*   sec2-compatible HDF5 file */
    .fapl_size = sizeof(h5tier_multifile_config_t), /* size of the fapl driver info */
    .fapl_get = vfd_fapl_get,                      /* configuration of an open file */
    .fapl_copy = vfd_fapl_copy,                    /* copy the configuration */
    .fapl_free = vfd_fapl_free,                    /* free a copy */
    .dxpl_size = 0,                                /* no transfer properties */
    .dxpl_copy = NULL,
    .dxpl_free = NULL,
    .open = vfd_open,                              /* writer: this rank's log + index; reader: catalog */
    .close = vfd_close,                            /* writer: digest, close record, fsync */
    .cmp = vfd_cmp,                                /* same directory: st_dev/st_ino */
    .query = vfd_query,                            /* feature flags (no data sieve) */
    .get_type_map = NULL,                          /* default type map */
    .alloc = NULL,                                 /* library allocates at EOA (same on every rank) */
    .free = NULL,                                  /* library frees */
    .get_eoa = vfd_get_eoa,                        /* end of allocated address space */
    .set_eoa = vfd_set_eoa,                        /* set it */
    .get_eof = vfd_get_eof,                        /* writer: end of bytes written; reader: merged end */
    .get_handle = NULL,                            /* no single file descriptor */
    .read = vfd_read,                              /* metadata image / own log / merged logs */
    .write = vfd_write,                            /* raw: append to the log; metadata: image (+ log on rank 0) */
    .flush = vfd_flush,                            /* write queued records; next epoch */
    .truncate = vfd_truncate,                      /* logical end := EOA */
    .lock = NULL,                                  /* no file locking: each rank owns its files */
    .unlock = NULL,
    .fl_map = H5FD_FLMAP_DICHOTOMY,                /* free-list map, like sec2 */
};

const H5FD_class_t *h5tier__mf_class(void) { return &mf_class; }
