/*
 * ring/archive.c -- the append-only disk archive of ring streams (see
 * include/h5tier_archive.h for the file layout and guarantees).
 *
 * Each stream has two "appenders" (records and sequence numbers) that
 * buffer exactly one chunk.  A full chunk goes to the file with
 * H5Dwrite_chunk (no chunk cache, no type conversion, no hyperslab
 * machinery); the partial last chunk is written with H5Dwrite at flush and
 * rewritten whole once it fills.  The buffer always starts at a chunk
 * boundary, so on open the partial last chunk is read back into it.
 *
 * Ordering (what makes resume exact): the record rows reach the file before
 * their sequence numbers, and both are flushed after each commit; the seq
 * dataset's length is therefore the number of complete records, and open
 * trims the record dataset to it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/internal.h"
#include "h5tier_archive.h"
#include "ring/archive_internal.h"
#include "ring/ring_internal.h"

#define MAX_STREAMS 64
#define DEFAULT_CHUNK_BYTES (1u << 20)
#define SEQ_MIN_CHUNK 1024
#define LOST_CHUNK 256
#define COMMIT_BYTES (4u << 20) /* flush the datasets after about this many bytes of full chunks */
#define OWNER_ATTR "h5tier_archiver"
#define RECORDS_ATTR "h5tier_records"
#define FORMAT_ATTR "h5tier_archive_format"
#define BOOK H5TIER_ARCHIVE_BOOK /* "/.h5tier": the archiver's bookkeeping, out of the user's namespace */
#define OLD_SEQ_SUFFIX "_seq"      /* format 1: PATH_seq / PATH_lost next to PATH */
#define OLD_LOST_SUFFIX "_lost"

typedef struct appender {
    hid_t dset;
    hid_t type;          /* file type, used as memory type (no conversion) */
    size_t row_bytes;    /* bytes per row (one record, or one uint64) */
    size_t chunk_n;      /* rows per chunk */
    int rank;            /* dataset rank */
    hsize_t dims[H5TIER_ARCHIVE_MAX_RANK + 1]; /* current extent; dims[0] = rows in the file */
    int direct;          /* chunk covers whole rows and no filters: H5Dwrite_chunk allowed */
    unsigned char *buf;  /* chunk_n * row_bytes */
    uint64_t buf_start;  /* row of buf[0], a multiple of chunk_n */
    size_t buf_n;        /* rows in buf */
    uint64_t written;    /* rows in the file */
    uint64_t chunks_direct, chunks_plain;
    uint64_t prev_last;  /* for 8-byte rows: the last row before buf_start */
} appender_t;

typedef struct stream {
    char *path, *seq_path, *lost_path;
    appender_t rec, seq;
    hid_t lost;
    uint64_t nlost, lost_records; /* lost ranges (nlost > 0: last_lost* are set) */
    uint64_t last_lost;   /* last seq of the last lost range */
    uint64_t last_lost_first; /* first seq of the last lost range */
    uint64_t first_seq, last_seq; /* valid when rows > 0 */
    size_t pending_chunks; /* full record chunks written since the last commit */
    uint64_t flushed_rows; /* rows of both datasets flushed (a kill keeps them) */
    uint64_t flushed_next; /* 1 + the largest seq flushed (records or lost ranges) */
} stream_t;

struct h5tier_archive {
    char *path;
    hid_t file;
    unsigned flags;
    size_t n;
    stream_t s[];
};

static hid_t lost_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, 16);
    if (t < 0)
        return t;
    if (H5Tinsert(t, "first", 0, H5T_STD_U64LE) < 0 || H5Tinsert(t, "last", 8, H5T_STD_U64LE) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

static int hfail(const char *file, const char *what, const char *obj)
{
    return h5tier__fail(H5TIER_EHDF5, "archive '%s': %s '%s'", file, what, obj);
}

/* ---- appender ------------------------------------------------------------ */

static int ap_set_extent(appender_t *ap, uint64_t rows)
{
    if (ap->dims[0] == rows)
        return 0;
    hsize_t d[H5TIER_ARCHIVE_MAX_RANK + 1];
    memcpy(d, ap->dims, sizeof d);
    d[0] = rows;
    if (H5Dset_extent(ap->dset, d) < 0)
        return -H5TIER_EHDF5;
    ap->dims[0] = rows;
    return 0;
}

/* H5Dwrite rows [first, first+count) from mem, or H5Dread them into mem. */
static int ap_rows_io(appender_t *ap, uint64_t first, uint64_t count, void *mem, int write)
{
    int rc = -H5TIER_EHDF5;
    hsize_t start[H5TIER_ARCHIVE_MAX_RANK + 1] = {0}, cnt[H5TIER_ARCHIVE_MAX_RANK + 1];
    memcpy(cnt, ap->dims, sizeof cnt);
    start[0] = first;
    cnt[0] = count;
    hid_t fs = H5Dget_space(ap->dset), ms = H5I_INVALID_HID;
    if (fs < 0)
        goto done;
    if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0)
        goto done;
    ms = H5Screate_simple(ap->rank, cnt, NULL);
    if (ms < 0)
        goto done;
    if ((write ? H5Dwrite(ap->dset, ap->type, ms, fs, H5P_DEFAULT, mem)
               : H5Dread(ap->dset, ap->type, ms, fs, H5P_DEFAULT, mem)) < 0)
        goto done;
    rc = 0;
done:
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    return rc;
}

/* Write the chunk starting at row buf_start from src (the buffer, or the
 * caller's rows when a whole chunk is available and nothing is buffered). */
static int ap_write_full(appender_t *ap, int plain, const unsigned char *src)
{
    uint64_t end = ap->buf_start + ap->chunk_n;
    int rc = ap_set_extent(ap, end > ap->dims[0] ? end : ap->dims[0]);
    if (rc < 0)
        return rc;
    if (ap->direct && !plain) {
        hsize_t off[H5TIER_ARCHIVE_MAX_RANK + 1] = {0};
        off[0] = ap->buf_start;
        if (H5Dwrite_chunk(ap->dset, H5P_DEFAULT, 0, off, ap->chunk_n * ap->row_bytes, src) < 0)
            return -H5TIER_EHDF5;
        ap->chunks_direct++;
    } else {
        uint64_t from = ap->written > ap->buf_start ? ap->written : ap->buf_start;
        rc = ap_rows_io(ap, from, end - from, (void *)(src + (from - ap->buf_start) * ap->row_bytes), 1);
        if (rc < 0)
            return rc;
        ap->chunks_plain++;
    }
    if (ap->row_bytes == sizeof(uint64_t))
        memcpy(&ap->prev_last, src + (ap->chunk_n - 1) * ap->row_bytes, sizeof(uint64_t));
    ap->written = end;
    ap->buf_start = end;
    ap->buf_n = 0;
    return 0;
}

/* Buffer n rows, writing each chunk that fills; whole chunks arriving with
 * nothing buffered are written straight from the caller's memory.  *full
 * counts chunks written. */
static int ap_push(appender_t *ap, const void *rows, size_t n, int plain, int *full)
{
    const unsigned char *p = rows;
    while (n > 0) {
        if (ap->buf_n == 0 && n >= ap->chunk_n) {
            int rc = ap_write_full(ap, plain, p);
            if (rc < 0)
                return rc;
            (*full)++;
            p += ap->chunk_n * ap->row_bytes;
            n -= ap->chunk_n;
            continue;
        }
        size_t take = ap->chunk_n - ap->buf_n;
        if (take > n)
            take = n;
        memcpy(ap->buf + ap->buf_n * ap->row_bytes, p, take * ap->row_bytes);
        ap->buf_n += take;
        p += take * ap->row_bytes;
        n -= take;
        if (ap->buf_n == ap->chunk_n) {
            int rc = ap_write_full(ap, plain, ap->buf);
            if (rc < 0)
                return rc;
            (*full)++;
        }
    }
    return 0;
}

/* Write the buffered rows not yet in the file (the partial last chunk). */
static int ap_write_tail(appender_t *ap)
{
    uint64_t end = ap->buf_start + ap->buf_n;
    if (end <= ap->written)
        return 0;
    int rc = ap_set_extent(ap, end);
    if (rc < 0)
        return rc;
    rc = ap_rows_io(ap, ap->written, end - ap->written, ap->buf + (ap->written - ap->buf_start) * ap->row_bytes, 1);
    if (rc < 0)
        return rc;
    ap->written = end;
    return 0;
}

/* Set up an appender on an open dataset with rows rows (already trimmed):
 * read chunk size and extent, load the partial last chunk. */
static int ap_init(appender_t *ap, hid_t dset, hid_t type, uint64_t rows, const char *file,
                   const char *obj)
{
    int rc = 1; /* 1: a generic HDF5 failure, reported at done */
    hid_t dcpl = H5I_INVALID_HID, fs = H5I_INVALID_HID;
    ap->dset = dset;
    ap->type = type;
    fs = H5Dget_space(dset);
    if (fs < 0)
        goto done;
    ap->rank = H5Sget_simple_extent_ndims(fs);
    if (ap->rank < 1 || ap->rank > H5TIER_ARCHIVE_MAX_RANK + 1)
        goto done;
    H5Sget_simple_extent_dims(fs, ap->dims, NULL);
    ap->row_bytes = H5Tget_size(type);
    for (int i = 1; i < ap->rank; i++)
        ap->row_bytes *= ap->dims[i];
    dcpl = H5Dget_create_plist(dset);
    hsize_t cdims[H5TIER_ARCHIVE_MAX_RANK + 1];
    if (dcpl < 0 || H5Pget_layout(dcpl) != H5D_CHUNKED || H5Pget_chunk(dcpl, ap->rank, cdims) != ap->rank) {
        rc = h5tier__fail(H5TIER_ESCHEMA, "archive '%s': dataset '%s' is not chunked", file, obj);
        goto done;
    }
    ap->chunk_n = cdims[0];
    ap->direct = H5Pget_nfilters(dcpl) == 0;
    for (int i = 1; i < ap->rank; i++)
        if (cdims[i] != ap->dims[i])
            ap->direct = 0;
    ap->buf = malloc(ap->chunk_n * ap->row_bytes);
    if (!ap->buf) {
        rc = h5tier__fail(ENOMEM, "archive '%s': chunk buffer for '%s'", file, obj);
        goto done;
    }
    ap->written = rows;
    ap->buf_start = rows / ap->chunk_n * ap->chunk_n;
    ap->buf_n = (size_t)(rows - ap->buf_start);
    if (ap->dims[0] != rows && ap_set_extent(ap, rows) < 0) {
        rc = hfail(file, "cannot trim", obj);
        goto done;
    }
    if (ap->buf_n > 0 && ap_rows_io(ap, ap->buf_start, ap->buf_n, ap->buf, 0) < 0) {
        rc = hfail(file, "cannot read the last chunk of", obj);
        goto done;
    }
    rc = 0;
done:
    if (rc == 1)
        rc = hfail(file, "cannot inspect", obj);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (fs >= 0)
        H5Sclose(fs);
    return rc;
}

static void ap_free(appender_t *ap)
{
    free(ap->buf);
    if (ap->dset > 0)
        H5Dclose(ap->dset);
    if (ap->type > 0)
        H5Tclose(ap->type);
    memset(ap, 0, sizeof *ap);
}

/* ---- schema ---------------------------------------------------------------- */

typedef struct schema {
    hid_t type;
    int rank; /* per record */
    hsize_t dims[H5TIER_ARCHIVE_MAX_RANK];
    size_t record_bytes; /* element size x per-record dims, > 0 */
    hid_t attrs_from;
} schema_t;

static int schema_from_spec(const char *file, const h5tier_archive_stream_spec_t *sp, schema_t *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->type = H5I_INVALID_HID;
    sc->attrs_from = H5I_INVALID_HID;
    if (sp->like >= 0 && H5Iget_type(sp->like) == H5I_DATASET) {
        hid_t fs = H5Dget_space(sp->like);
        int r = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
        hsize_t d[H5TIER_ARCHIVE_MAX_RANK + 1];
        if (r < 1 || r > H5TIER_ARCHIVE_MAX_RANK + 1) {
            if (fs >= 0)
                H5Sclose(fs);
            return h5tier__fail(H5TIER_ESCHEMA, "archive '%s': schema dataset for '%s' must have rank 1..%d",
                                file, sp->path, H5TIER_ARCHIVE_MAX_RANK + 1);
        }
        H5Sget_simple_extent_dims(fs, d, NULL);
        H5Sclose(fs);
        sc->rank = r - 1;
        memcpy(sc->dims, d + 1, (size_t)sc->rank * sizeof(hsize_t));
        sc->type = H5Dget_type(sp->like);
        sc->attrs_from = sp->like;
    } else if (sp->like >= 0 && H5Iis_valid(sp->like) > 0) {
        return h5tier__fail(EINVAL, "archive '%s': schema source for '%s' is not a dataset", file, sp->path);
    } else {
        if (sp->rank < 0 || sp->rank > H5TIER_ARCHIVE_MAX_RANK || sp->type < 0)
            return h5tier__fail(EINVAL, "archive '%s': stream '%s' needs a type and a rank 0..%d", file,
                                sp->path, H5TIER_ARCHIVE_MAX_RANK);
        sc->rank = sp->rank;
        memcpy(sc->dims, sp->dims, (size_t)sc->rank * sizeof(hsize_t));
        sc->type = H5Tcopy(sp->type);
    }
    if (sc->type < 0)
        return hfail(file, "cannot get the type for", sp->path);
    size_t sz = H5Tget_size(sc->type);
    htri_t vstr = H5Tget_class(sc->type) == H5T_STRING ? H5Tis_variable_str(sc->type) : 0;
    if (sz == 0 || vstr > 0 || H5Tdetect_class(sc->type, H5T_VLEN) > 0 ||
        H5Tdetect_class(sc->type, H5T_REFERENCE) > 0) {
        H5Tclose(sc->type);
        sc->type = H5I_INVALID_HID;
        return h5tier__fail(H5TIER_ESCHEMA, "archive '%s': stream '%s' needs a fixed-size type without "
                                            "variable-length parts or references", file, sp->path);
    }
    for (int i = 0; i < sc->rank; i++)
        sz *= sc->dims[i];
    if (sz == 0) {
        H5Tclose(sc->type);
        sc->type = H5I_INVALID_HID;
        return h5tier__fail(EINVAL, "archive '%s': stream '%s' has records of 0 bytes", file, sp->path);
    }
    sc->record_bytes = sz;
    return 0;
}

typedef struct attr_check {
    hid_t dst;
    char bad[256];
} attr_check_t;

static herr_t check_attr(hid_t loc, const char *name, const H5A_info_t *info, void *arg)
{
    (void)info;
    attr_check_t *ac = arg;
    int ok = 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), b = -1, ta = -1, tb = -1;
    if (a >= 0 && H5Aexists(ac->dst, name) > 0 && (b = H5Aopen(ac->dst, name, H5P_DEFAULT)) >= 0 &&
        (ta = H5Aget_type(a)) >= 0 && (tb = H5Aget_type(b)) >= 0)
        ok = H5Tequal(ta, tb) > 0;
    if (tb >= 0)
        H5Tclose(tb);
    if (ta >= 0)
        H5Tclose(ta);
    if (b >= 0)
        H5Aclose(b);
    if (a >= 0)
        H5Aclose(a);
    if (!ok) {
        snprintf(ac->bad, sizeof ac->bad, "%s", name);
        return 1;
    }
    return 0;
}

static int set_string_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    if (t >= 0 && s >= 0 && H5Tset_size(t, strlen(value) + 1) >= 0 &&
        (a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT)) >= 0 && H5Awrite(a, t, value) >= 0)
        rc = 0;
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
    return rc;
}

/* Dataset access without a chunk cache: a partial chunk written with
 * H5Dwrite reaches the file before H5Dwrite returns, so no flush of the
 * dataset's extent by the metadata cache can get ahead of its data, and
 * direct chunk writes never race a cached copy. */
static hid_t nocache_dapl(void)
{
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0 && H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0) {
        H5Pclose(dapl);
        return H5I_INVALID_HID;
    }
    return dapl;
}

/* Create an empty chunked dataset (0, *dims) with unlimited first dimension. */
static hid_t create_dset(hid_t file, const char *path, hid_t type, int rank, const hsize_t *dims,
                         size_t chunk_n)
{
    hsize_t cur[H5TIER_ARCHIVE_MAX_RANK + 1], max[H5TIER_ARCHIVE_MAX_RANK + 1],
        chunk[H5TIER_ARCHIVE_MAX_RANK + 1];
    cur[0] = 0;
    max[0] = H5S_UNLIMITED;
    chunk[0] = chunk_n;
    for (int i = 0; i < rank; i++)
        cur[i + 1] = max[i + 1] = chunk[i + 1] = dims[i];
    hid_t d = H5I_INVALID_HID;
    hid_t sp = H5Screate_simple(rank + 1, cur, max);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dapl = nocache_dapl();
    if (sp >= 0 && dcpl >= 0 && lcpl >= 0 && dapl >= 0 && H5Pset_chunk(dcpl, rank + 1, chunk) >= 0 &&
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0)
        d = H5Dcreate2(file, path, type, sp, lcpl, dcpl, dapl);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    return d;
}

static uint64_t dset_rows(hid_t d)
{
    hsize_t dims[H5TIER_ARCHIVE_MAX_RANK + 1] = {0};
    hid_t s = H5Dget_space(d);
    if (s >= 0) {
        if (H5Sget_simple_extent_ndims(s) <= H5TIER_ARCHIVE_MAX_RANK + 1)
            H5Sget_simple_extent_dims(s, dims, NULL);
        H5Sclose(s);
    }
    return dims[0];
}

/* Check an existing dataset: type, rank, per-record dims, unlimited first dim. */
static int check_dset(const char *file, const char *path, hid_t d, hid_t type, int rank, const hsize_t *dims)
{
    int ok = 0;
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    hsize_t cur[H5TIER_ARCHIVE_MAX_RANK + 1], max[H5TIER_ARCHIVE_MAX_RANK + 1];
    if (t < 0 || s < 0)
        goto done;
    if (H5Tequal(t, type) <= 0) {
        h5tier__fail(H5TIER_ESCHEMA, "archive '%s': dataset '%s' exists with another element type", file, path);
        goto done;
    }
    if (H5Sget_simple_extent_ndims(s) != rank + 1) {
        h5tier__fail(H5TIER_ESCHEMA, "archive '%s': dataset '%s' has rank %d, the stream needs %d", file,
                     path, H5Sget_simple_extent_ndims(s), rank + 1);
        goto done;
    }
    H5Sget_simple_extent_dims(s, cur, max);
    for (int i = 0; i < rank; i++)
        if (cur[i + 1] != dims[i]) {
            h5tier__fail(H5TIER_ESCHEMA, "archive '%s': dataset '%s' has another record shape (dim %d is %llu, "
                         "the stream has %llu)", file, path, i + 1, (unsigned long long)cur[i + 1],
                         (unsigned long long)dims[i]);
            goto done;
        }
    if (max[0] != H5S_UNLIMITED) {
        h5tier__fail(H5TIER_ESCHEMA, "archive '%s': dataset '%s' is not extendible (first dimension "
                     "not unlimited)", file, path);
        goto done;
    }
    ok = 1;
done:
    if (t >= 0)
        H5Tclose(t);
    if (s >= 0)
        H5Sclose(s);
    if (!ok && (t < 0 || s < 0))
        return hfail(file, "cannot inspect", path);
    return ok ? 0 : -H5TIER_ESCHEMA;
}

static char *cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 1);
    if (r) {
        memcpy(r, a, la);
        memcpy(r + la, b, lb + 1);
    }
    return r;
}

/* "/.h5tier" + PATH (with its leading '/') + "/" + leaf */
static char *book_path(const char *path, const char *leaf)
{
    size_t l = strlen(BOOK) + strlen(path) + strlen(leaf) + 3;
    char *r = malloc(l);
    if (r)
        snprintf(r, l, "%s%s%s/%s", BOOK, path[0] == '/' ? "" : "/", path, leaf);
    return r;
}

static int is_book(const char *p)
{
    static const char name[] = ".h5tier"; /* BOOK without its '/' */
    size_t n = sizeof name - 1;
    p = p[0] == '/' ? p + 1 : p;
    return !strncmp(p, name, n) && (p[n] == 0 || p[n] == '/');
}

static int ends_with(const char *s, const char *suf)
{
    size_t ls = strlen(s), lf = strlen(suf);
    return ls >= lf && strcmp(s + ls - lf, suf) == 0;
}

/* Read rows [first, first+count) of a 1-D uint64 dataset.  0 or -H5TIER_EHDF5. */
static int read_u64_rows(hid_t d, uint64_t first, uint64_t count, uint64_t *out)
{
    hsize_t start = first, cnt = count;
    int rc = -H5TIER_EHDF5;
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
    if (fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL) >= 0 &&
        H5Dread(d, H5T_NATIVE_UINT64, ms, fs, H5P_DEFAULT, out) >= 0)
        rc = 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    return rc;
}

/* The seq dataset's tail must be strictly increasing.  A kill after the
 * dataset's new extent reached the file but before its data did would
 * leave zeros or stale values there: keep only the increasing prefix of
 * the last SEQ_CHECK_ROWS rows (more than are ever written between two
 * flushes).  *rows: in = the length, out = the valid length. */
#define SEQ_CHECK_ROWS (256u * 1024)
static int seq_valid_rows(hid_t seq, uint64_t *rows)
{
    uint64_t n = *rows;
    if (n < 2)
        return 0;
    uint64_t from = n > SEQ_CHECK_ROWS ? n - SEQ_CHECK_ROWS : 0, cnt = n - from;
    uint64_t *v = malloc(cnt * sizeof *v);
    if (!v)
        return -ENOMEM;
    int rc = read_u64_rows(seq, from, cnt, v);
    if (rc == 0) {
        uint64_t k = 1;
        while (k < cnt && v[k] > v[k - 1])
            k++;
        *rows = from + k;
    }
    free(v);
    return rc;
}

/* Open or create the three datasets of one stream and reconcile lengths. */
static int stream_setup(h5tier_archive_t *a, stream_t *st, const h5tier_archive_stream_spec_t *sp)
{
    const char *file = a->path;
    schema_t sc;
    int rc = schema_from_spec(file, sp, &sc);
    if (rc < 0)
        return rc;
    hid_t rec = H5I_INVALID_HID, seq = H5I_INVALID_HID, lt = H5I_INVALID_HID;
    st->lost = H5I_INVALID_HID;
    st->path = strdup(sp->path);
    st->seq_path = book_path(sp->path, "seq");
    st->lost_path = book_path(sp->path, "lost");
    if (!st->path || !st->seq_path || !st->lost_path) {
        rc = h5tier__fail(ENOMEM, "archive '%s': stream '%s'", file, sp->path);
        goto done;
    }
    lt = lost_type();
    if (lt < 0) {
        rc = hfail(file, "cannot build the lost-range type for", sp->path);
        goto done;
    }
    int exists = 0, stray = 0;
    H5E_BEGIN_TRY {
        exists = H5Lexists(a->file, sp->path, H5P_DEFAULT) > 0;
        stray = H5Lexists(a->file, st->seq_path, H5P_DEFAULT) > 0 || H5Lexists(a->file, st->lost_path, H5P_DEFAULT) > 0;
    } H5E_END_TRY;
    if (!exists && stray) {
        rc = h5tier__fail(H5TIER_ESCHEMA, "archive '%s': '%s' or '%s' exists without '%s'", file, st->seq_path,
                          st->lost_path, sp->path);
        goto done;
    }
    if (!exists) {
        size_t rsz = sc.record_bytes;
        size_t cb = sp->chunk_bytes ? sp->chunk_bytes : DEFAULT_CHUNK_BYTES;
        size_t cn = cb / rsz ? cb / rsz : 1;
        if (cn > ((uint64_t)1 << 31) / (rsz < 8 ? 8 : rsz))
            cn = (size_t)(((uint64_t)1 << 31) / (rsz < 8 ? 8 : rsz));
        size_t sn = cn >= SEQ_MIN_CHUNK ? cn : cn * ((SEQ_MIN_CHUNK + cn - 1) / cn);
        rec = create_dset(a->file, sp->path, sc.type, sc.rank, sc.dims, cn);
        if (rec < 0) {
            rc = hfail(file, "cannot create dataset", sp->path);
            goto done;
        }
        if (sc.attrs_from >= 0) {
            if (h5tier__ring_copy_attrs(sc.attrs_from, rec) < 0) {
                rc = hfail(file, "cannot copy the attributes of", sp->path);
                goto done;
            }
        }
        seq = create_dset(a->file, st->seq_path, H5T_STD_U64LE, 0, NULL, sn);
        st->lost = create_dset(a->file, st->lost_path, lt, 0, NULL, LOST_CHUNK);
        if (seq < 0 || st->lost < 0 || set_string_attr(seq, RECORDS_ATTR, sp->path) < 0 ||
            set_string_attr(st->lost, RECORDS_ATTR, sp->path) < 0) {
            rc = hfail(file, "cannot create the seq/lost datasets of", sp->path);
            goto done;
        }
    } else {
        hid_t dapl = nocache_dapl();
        H5E_BEGIN_TRY {
            rec = H5Dopen2(a->file, sp->path, dapl);
            seq = H5Dopen2(a->file, st->seq_path, dapl);
            st->lost = H5Dopen2(a->file, st->lost_path, dapl);
        } H5E_END_TRY;
        if (dapl >= 0)
            H5Pclose(dapl);
        if (rec < 0) {
            rc = h5tier__fail(H5TIER_ESCHEMA, "archive '%s': '%s' exists but is not a dataset", file, sp->path);
            goto done;
        }
        rc = check_dset(file, sp->path, rec, sc.type, sc.rank, sc.dims);
        if (rc < 0)
            goto done;
        if (seq < 0 || st->lost < 0) {
            rc = h5tier__fail(H5TIER_ESCHEMA, "archive '%s': dataset '%s' exists but '%s' or '%s' is missing "
                              "(not an h5tier archive)", file, sp->path, st->seq_path, st->lost_path);
            goto done;
        }
        if (check_dset(file, st->seq_path, seq, H5T_STD_U64LE, 0, NULL) < 0 ||
            check_dset(file, st->lost_path, st->lost, lt, 0, NULL) < 0) {
            rc = -H5TIER_ESCHEMA;
            goto done;
        }
        if (sc.attrs_from >= 0) {
            attr_check_t ac = {rec, ""};
            if (H5Aiterate2(sc.attrs_from, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, check_attr, &ac) != 0) {
                rc = h5tier__fail(H5TIER_ESCHEMA, "archive '%s': dataset '%s' lacks attribute '%s' of the "
                                  "same type as the stream's", file, sp->path, ac.bad);
                goto done;
            }
        }
    }
    /* Reconcile: the seq dataset is written after the records. */
    uint64_t nrec = dset_rows(rec), nseq = dset_rows(seq), n = nrec < nseq ? nrec : nseq;
    rc = seq_valid_rows(seq, &n);
    if (rc < 0) {
        rc = rc == -ENOMEM ? h5tier__fail(ENOMEM, "archive '%s': checking '%s'", file, st->seq_path)
                           : hfail(file, "cannot read", st->seq_path);
        goto done;
    }
    rc = ap_init(&st->rec, rec, sc.type, n, file, sp->path);
    rec = H5I_INVALID_HID;
    sc.type = H5I_INVALID_HID;
    if (rc < 0)
        goto done;
    rc = ap_init(&st->seq, seq, H5Tcopy(H5T_STD_U64LE), n, file, st->seq_path);
    seq = H5I_INVALID_HID;
    if (rc < 0)
        goto done;
    if (n > 0) {
        uint64_t *seqs = (uint64_t *)st->seq.buf;
        if (st->seq.buf_n > 0) {
            st->last_seq = seqs[st->seq.buf_n - 1];
        } else {
            if (read_u64_rows(st->seq.dset, n - 1, 1, &st->last_seq) < 0) {
                rc = hfail(file, "cannot read the last sequence number of", sp->path);
                goto done;
            }
            st->seq.prev_last = st->last_seq;
        }
        if (read_u64_rows(st->seq.dset, 0, 1, &st->first_seq) < 0) {
            rc = hfail(file, "cannot read the first sequence number of", sp->path);
            goto done;
        }
    }
    st->nlost = dset_rows(st->lost);
    if (st->nlost > 0) {
        uint64_t *all = malloc(st->nlost * 16);
        if (!all) {
            rc = h5tier__fail(ENOMEM, "archive '%s': lost ranges of '%s'", file, sp->path);
            goto done;
        }
        if (H5Dread(st->lost, lt, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) < 0) {
            free(all);
            rc = hfail(file, "cannot read", st->lost_path);
            goto done;
        }
        for (uint64_t i = 0; i < st->nlost; i++)
            st->lost_records += all[2 * i + 1] - all[2 * i] + 1;
        st->last_lost = all[2 * st->nlost - 1];
        st->last_lost_first = all[2 * st->nlost - 2];
        free(all);
    }
    st->flushed_rows = n;
    st->flushed_next = n > 0 ? st->last_seq + 1 : 0;
    if (st->nlost > 0 && st->last_lost + 1 > st->flushed_next)
        st->flushed_next = st->last_lost + 1;
    rc = 0;
done:
    if (sc.type >= 0)
        H5Tclose(sc.type);
    if (rec >= 0)
        H5Dclose(rec);
    if (seq >= 0)
        H5Dclose(seq);
    if (lt >= 0)
        H5Tclose(lt);
    return rc;
}

static void stream_free(stream_t *st)
{
    ap_free(&st->rec);
    ap_free(&st->seq);
    if (st->lost > 0)
        H5Dclose(st->lost);
    free(st->path);
    free(st->seq_path);
    free(st->lost_path);
}

/* ---- ownership ------------------------------------------------------------ */

static int read_owner(hid_t file, uint64_t owner[2])
{
    int rc = -1;
    H5E_BEGIN_TRY {
        hid_t at = H5Aopen_by_name(file, BOOK, OWNER_ATTR, H5P_DEFAULT, H5P_DEFAULT);
        if (at < 0)
            at = H5Aopen(file, OWNER_ATTR, H5P_DEFAULT); /* format 1: on the root group */
        if (at >= 0) {
            if (H5Aread(at, H5T_NATIVE_UINT64, owner) >= 0)
                rc = 0;
            H5Aclose(at);
        }
    } H5E_END_TRY;
    return rc;
}

/* Open (create) the bookkeeping group /.h5tier, with its format attribute. */
static hid_t book_group(hid_t file)
{
    hid_t g;
    H5E_BEGIN_TRY { g = H5Gopen2(file, BOOK, H5P_DEFAULT); } H5E_END_TRY;
    if (g >= 0)
        return g;
    g = H5Gcreate2(file, BOOK, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return g;
    uint32_t fmt = H5TIER_ARCHIVE_FORMAT;
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = sp >= 0 ? H5Acreate2(g, FORMAT_ATTR, H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
    herr_t w = at >= 0 ? H5Awrite(at, H5T_NATIVE_UINT32, &fmt) : -1;
    if (at >= 0)
        H5Aclose(at);
    if (sp >= 0)
        H5Sclose(sp);
    if (w < 0) {
        H5Gclose(g);
        return H5I_INVALID_HID;
    }
    return g;
}

static int write_owner(hid_t file)
{
    uint64_t owner[2] = {(uint64_t)getpid(), h5tier__proc_start_time(getpid())};
    hsize_t two = 2;
    int rc = -1;
    hid_t at = H5I_INVALID_HID, sp = H5I_INVALID_HID, g = book_group(file);
    if (g < 0)
        return -1;
    H5E_BEGIN_TRY { at = H5Aopen(g, OWNER_ATTR, H5P_DEFAULT); } H5E_END_TRY;
    if (at < 0) {
        sp = H5Screate_simple(1, &two, NULL);
        if (sp >= 0)
            at = H5Acreate2(g, OWNER_ATTR, H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    }
    if (at >= 0 && H5Awrite(at, H5T_NATIVE_UINT64, owner) >= 0)
        rc = 0;
    if (at >= 0)
        H5Aclose(at);
    if (sp >= 0)
        H5Sclose(sp);
    H5Gclose(g);
    return rc;
}

/* An archive of format 1 keeps PATH_seq / PATH_lost next to PATH and the
 * archiver's identity on the root group, and has no /.h5tier. */
static int old_layout(hid_t file, const h5tier_archive_stream_spec_t *specs, size_t n)
{
    htri_t e;
    H5E_BEGIN_TRY { e = H5Lexists(file, BOOK, H5P_DEFAULT); } H5E_END_TRY;
    if (e > 0)
        return 0;
    H5E_BEGIN_TRY { e = H5Aexists(file, OWNER_ATTR); } H5E_END_TRY;
    if (e > 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        char *p = cat(specs[i].path, OLD_SEQ_SUFFIX);
        H5E_BEGIN_TRY { e = p ? H5Lexists(file, p, H5P_DEFAULT) : 0; } H5E_END_TRY;
        free(p);
        if (e > 0)
            return 1;
    }
    return 0;
}

static hid_t make_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return fapl;
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    return fapl;
}

/* The file exists; we hold the directory lock.  Decide whether its status flags say
 * a live writer has it (-EBUSY) or a dead archiver left it (repair). */
static int check_and_repair(const char *path, int fd, hid_t fapl)
{
    h5tier_sb_state_t sb;
    int rc = h5tier__sb_read(fd, path, &sb);
    if (rc < 0)
        return rc;
    if (sb.version < 2 || sb.flags == 0)
        return 0;
    uint64_t owner[2] = {0, 0};
    int have_owner = -1;
    if (sb.flags & H5TIER_SB_SWMR_WRITE) {
        hid_t f;
        H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl); } H5E_END_TRY;
        if (f >= 0) {
            have_owner = read_owner(f, owner);
            H5Fclose(f);
        }
        if (have_owner < 0)
            return h5tier__fail(EBUSY, "archive '%s': open for SWMR write by a process that is not an "
                                "h5tier archiver (if none runs: h5clear -s '%s')", path, path);
        if ((pid_t)owner[0] != getpid() && h5tier__pid_alive((pid_t)owner[0], owner[1]))
            return h5tier__fail(EBUSY, "archive '%s': archiver pid %llu is writing it", path,
                                (unsigned long long)owner[0]);
    }
    /* We hold the lock and the recorded writer is gone: a killed archiver
     * (or a non-SWMR writer that crashed). */
    return h5tier__sb_repair(fd, path);
}

/* Lock the directory holding path (flock on the directory, not the file:
 * HDF5 flocks the file itself).  This serialises the check-repair-open
 * sequence of archivers; it is held only during h5tier_archive_open.
 * Returns the locked fd or -errno (-EBUSY after 10 s). */
static int lock_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = h5tier_sys.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return h5tier__fail(errno, "archive '%s': open directory '%s'", path, dir);
    for (int i = 0;; i++) {
        if (h5tier_sys.flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        int e = errno;
        if ((e != EWOULDBLOCK && e != EINTR) || i >= 1000) {
            h5tier_sys.close(fd);
            return h5tier__fail(e == EWOULDBLOCK ? EBUSY : e, "archive '%s': lock on directory '%s'", path, dir);
        }
        usleep(10000);
    }
}

/* ---- adding streams to an existing archive --------------------------------------- */

/* How many specs name a dataset the open file does not have (what
 * stream_setup would create). */
static size_t missing_streams(hid_t file, const h5tier_archive_stream_spec_t *specs, size_t n)
{
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        htri_t e;
        H5E_BEGIN_TRY { e = H5Lexists(file, specs[i].path, H5P_DEFAULT); } H5E_END_TRY;
        if (e <= 0)
            missing++;
    }
    return missing;
}

/* Copy the bytes of the open file src (path for messages) to a new file
 * "PATH.tmp-PID" created with O_EXCL | O_NOFOLLOW and given src's permission
 * bits, through h5tier_sys (copy_file_range, in the kernel and a reflink
 * where the file system can; pread/pwrite pieces of 4 MiB where it cannot;
 * tests fail or kill the copy at any call).  The copy is not synced here: the caller
 * fsyncs it once it is complete.  0 and *tmp (malloc'd), or -errno with
 * nothing left behind. */
static int copy_to_tmp(const char *path, int src, char **tmp)
{
    *tmp = NULL;
    int rc = 0, dst = -1;
    uint64_t copied = 0;
    char *name = malloc(strlen(path) + 32);
    struct stat st;
    if (!name)
        return h5tier__fail(ENOMEM, "archive '%s': copy", path);
    sprintf(name, "%s.tmp-%d", path, (int)getpid());
    if (h5tier_sys.fstat(src, &st) < 0) {
        rc = h5tier__fail(errno, "archive '%s': fstat", path);
        free(name);
        return rc;
    }
    dst = h5tier_sys.open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (dst < 0) {
        rc = h5tier__fail(errno, "archive '%s': cannot create the copy '%s' (is the directory writable?)", path,
                          name);
        free(name);
        return rc;
    }
    /* the archive's own permission bits (open's mode went through the umask) */
    if (h5tier_sys.fchmod(dst, st.st_mode & 07777) < 0) {
        rc = h5tier__fail(errno, "archive '%s': chmod of the copy '%s'", path, name);
        goto done;
    }
    rc = h5tier__copy_file(src, dst, (uint64_t)st.st_size, &copied);
    if (rc < 0)
        rc = h5tier__fail(-rc, "archive '%s': copying to '%s' failed at byte %llu of %lld", path, name,
                          (unsigned long long)copied, (long long)st.st_size);
    else if (copied < (uint64_t)st.st_size)
        rc = h5tier__fail(EIO, "archive '%s': the file shrank to %llu bytes while being copied", path,
                          (unsigned long long)copied);
done:
    if (h5tier_sys.close(dst) < 0 && rc == 0)
        rc = h5tier__fail(errno, "archive '%s': close of the copy '%s'", path, name);
    if (rc < 0) {
        h5tier_sys.unlink(name);
        free(name);
        return rc;
    }
    *tmp = name;
    return 0;
}

/* fsync a finished temporary file before its rename makes it visible. */
static int sync_tmp(const char *path, const char *tmp)
{
    int fd = h5tier_sys.open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return h5tier__fail(errno, "archive '%s': open '%s' for fsync", path, tmp);
    int rc = h5tier__fsync(fd);
    h5tier_sys.close(fd);
    return rc < 0 ? h5tier__fail(-rc, "archive '%s': fsync of '%s'", path, tmp) : 0;
}

/* ---- public ------------------------------------------------------------------ */

int h5tier_archive_open(const char *path, const h5tier_archive_stream_spec_t *specs, size_t nspecs,
                        unsigned flags, h5tier_archive_t **out)
{
    return h5tier_archive_open_template(path, specs, nspecs, flags, H5I_INVALID_HID, NULL, 0, out);
}

int h5tier_archive_open_template(const char *path, const h5tier_archive_stream_spec_t *specs, size_t nspecs,
                                 unsigned flags, hid_t tmpl, const char *const *skip, size_t nskip,
                                 h5tier_archive_t **out)
{
    int created = 0;
    if (out)
        *out = NULL;
    if (!path || !*path || !specs || !out || nspecs == 0 || nspecs > MAX_STREAMS)
        return h5tier__fail(EINVAL, "archive: need a path, 1..%d stream specs and an out pointer", MAX_STREAMS);
    for (size_t i = 0; i < nspecs; i++) {
        const char *p = specs[i].path;
        if (!p || !*p || is_book(p) || p[strlen(p) - 1] == '/' || !strcmp(p, "/"))
            return h5tier__fail(EINVAL, "archive '%s': bad stream path '%s' (empty, the root, ends with '/', or "
                                "under %s, which holds the archiver's bookkeeping)", path, p ? p : "(null)", BOOK);
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[j].path, p) == 0)
                return h5tier__fail(EINVAL, "archive '%s': stream '%s' given twice", path, p);
    }
    mode_t mode = (flags & H5TIER_ARCHIVE_HAS_MODE) ? (mode_t)((flags >> 16) & 07777u) : 0600;
    {
        char what[600];
        snprintf(what, sizeof what, "archive '%.500s'", path);
        int mr = h5tier__check_mode(mode, what);
        if (mr < 0)
            return mr;
    }
    int rc = 0, fd = -1, dfd = -1;
    char *tmp = NULL;
    hid_t fapl = make_fapl();
    h5tier_archive_t *a = calloc(1, sizeof *a + nspecs * sizeof(stream_t));
    if (!a || fapl < 0 || !(a->path = strdup(path))) {
        rc = a && fapl >= 0 ? h5tier__fail(ENOMEM, "archive '%s'", path) : hfail(path, "cannot set up", "fapl");
        goto fail;
    }
    a->file = H5I_INVALID_HID;
    a->flags = flags;
    a->n = nspecs;
    dfd = lock_dir(path);
    if (dfd < 0) {
        rc = dfd;
        goto fail;
    }
    {
        /* under the directory lock no other archiver is creating `path`, so
           every PATH.tmp-PID is what a creator killed before its rename left */
        char dir[4096], prefix[512];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 0, path);
        snprintf(prefix, sizeof prefix, "%s.tmp-", slash ? slash + 1 : path);
        h5tier__remove_stale_tmps(dir, prefix, true);
    }
    fd = h5tier_sys.open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0 && errno == ENOENT) {
        if (!(flags & H5TIER_ARCHIVE_CREATE)) {
            rc = h5tier__fail(ENOENT, "archive '%s' does not exist", path);
            goto fail;
        }
        /* build it under a temporary name and rename it once it is complete
           and in SWMR mode: a kill during creation leaves no half file */
        tmp = malloc(strlen(path) + 32);
        if (!tmp) {
            rc = h5tier__fail(ENOMEM, "archive '%s'", path);
            goto fail;
        }
        sprintf(tmp, "%s.tmp-%d", path, (int)getpid());
        /* created here with its final permissions (the umask does not apply), before HDF5
           writes a byte: nobody else can open it meanwhile */
        int tfd = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (tfd < 0) {
            rc = h5tier__fail(errno, "archive '%s': cannot create '%s': %s", path, tmp, strerror(errno));
            goto fail;
        }
        if (h5tier_sys.fchmod(tfd, mode) < 0) {
            rc = h5tier__fail(errno, "archive '%s': fchmod %04o of '%s': %s", path, (unsigned)mode, tmp,
                              strerror(errno));
            h5tier_sys.close(tfd);
            h5tier_sys.unlink(tmp);
            goto fail;
        }
        h5tier_sys.close(tfd);
        created = 1;
        H5E_BEGIN_TRY { a->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl); } H5E_END_TRY;
        if (a->file < 0) {
            h5tier_sys.unlink(tmp);
            rc = h5tier__fail(EACCES, "archive '%s': cannot create '%s' (is the directory writable?)", path, tmp);
            goto fail;
        }
    } else if (fd < 0) {
        rc = h5tier__fail(errno, "archive '%s': open", path);
        goto fail;
    } else {
        if (flags & H5TIER_ARCHIVE_EXCL) {
            rc = h5tier__fail(EEXIST, "archive '%s' exists", path);
            goto fail;
        }
        rc = check_and_repair(path, fd, fapl);
        if (rc < 0)
            goto fail;
        H5E_BEGIN_TRY { a->file = H5Fopen(path, H5F_ACC_RDWR, fapl); } H5E_END_TRY;
        if (a->file < 0) {
            rc = h5tier__fail(EBUSY, "archive '%s': HDF5 cannot open it for writing (another process "
                              "has it open?)", path);
            goto fail;
        }
        if (old_layout(a->file, specs, nspecs)) {
            rc = h5tier__fail(H5TIER_EVERSION, "archive '%s' has the format-1 layout (PATH_seq and PATH_lost "
                              "next to the records); convert it once with 'h5tier ring archive --convert %s' "
                              "(moves them to %s/PATH/seq and %s/PATH/lost)", path, path, BOOK, BOOK);
            goto fail;
        }
        if (missing_streams(a->file, specs, nspecs) > 0) {
            /* Creating datasets rewrites the root group and allocates new
               metadata while the file is not in SWMR mode: a kill in that
               window (or in the flush after it) can leave the archive torn.
               So the new version is built on a copy, which is renamed over
               PATH once complete, like a new archive; PATH itself is never
               written.  The existence check above is all that opening an
               archive whose streams all exist adds. */
            herr_t closed = H5Fclose(a->file);
            a->file = H5I_INVALID_HID;
            if (closed < 0) {
                rc = hfail(path, "cannot close before copying", path);
                goto fail;
            }
            rc = copy_to_tmp(path, fd, &tmp);
            if (rc < 0)
                goto fail;
            H5E_BEGIN_TRY { a->file = H5Fopen(tmp, H5F_ACC_RDWR, fapl); } H5E_END_TRY;
            if (a->file < 0) {
                rc = hfail(path, "cannot open the copy", tmp);
                goto fail;
            }
        }
        h5tier_sys.close(fd);
        fd = -1;
    }
    if (write_owner(a->file) < 0) {
        rc = hfail(path, "cannot record the archiver in", "/");
        goto fail;
    }
    for (size_t i = 0; i < nspecs; i++) {
        rc = stream_setup(a, &a->s[i], &specs[i]);
        if (rc < 0)
            goto fail;
    }
    if (created && tmpl >= 0 && H5Iis_valid(tmpl) > 0) {
        /* the user's schema around the streams (groups, attributes, fixed datasets), once, before
           SWMR mode forbids new objects */
        const char **sk = calloc(nspecs + nskip + 1, sizeof *sk);
        if (!sk) {
            rc = h5tier__fail(ENOMEM, "archive '%s'", path);
            goto fail;
        }
        for (size_t i = 0; i < nspecs; i++)
            sk[i] = specs[i].path;
        for (size_t i = 0; i < nskip; i++)
            sk[nspecs + i] = skip[i];
        rc = h5tier__h5_copy_rest(tmpl, a->file, sk, (unsigned)(nspecs + nskip));
        free(sk);
        if (rc < 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", h5tier_errmsg());
            rc = h5tier__fail(-rc, "archive '%s': copying the ring's schema: %s", path, why);
            goto fail;
        }
    }
    if (H5Fstart_swmr_write(a->file) < 0) {
        rc = hfail(path, "cannot start SWMR writing on", path);
        goto fail;
    }
    if (tmp) {
        /* data, fsync, then the rename that makes it visible */
        rc = sync_tmp(path, tmp);
        if (rc < 0)
            goto fail;
        bool renamed;
        rc = h5tier__rename_durable(tmp, path, &renamed);
        if (rc < 0 && !renamed) {
            rc = h5tier__fail(-rc, "archive '%s': rename from '%s'", path, tmp);
            goto fail;
        }
        /* a directory that cannot be synced leaves a complete, open archive:
           carry on; its name becomes durable with the next successful sync */
        rc = 0;
        free(tmp);
        tmp = NULL;
    }
    if (fd >= 0)
        h5tier_sys.close(fd);
    h5tier_sys.close(dfd); /* unlock */
    H5Pclose(fapl);
    *out = a;
    return 0;
fail:
    if (a) {
        for (size_t i = 0; i < a->n; i++)
            stream_free(&a->s[i]);
        if (a->file >= 0)
            H5Fclose(a->file);
        free(a->path);
        free(a);
    }
    if (tmp) {
        h5tier_sys.unlink(tmp);
        free(tmp);
    }
    if (fd >= 0)
        h5tier_sys.close(fd);
    if (dfd >= 0)
        h5tier_sys.close(dfd);
    if (fapl >= 0)
        H5Pclose(fapl);
    return rc;
}

static int bad_stream(h5tier_archive_t *a, size_t stream)
{
    if (!a)
        return h5tier__fail(EINVAL, "archive: NULL handle");
    if (stream >= a->n)
        return h5tier__fail(EINVAL, "archive '%s': no stream %zu (it has %zu)", a->path, stream, a->n);
    return 0;
}

static uint64_t stream_rows(const stream_t *st) { return st->rec.buf_start + st->rec.buf_n; }

/* The seq of row `row` right after the seq tail was written: it is in the
 * seq buffer, or it is the last row of the previous seq chunk (the seq
 * buffer starts at or before the record dataset's written end). */
static uint64_t seq_of_row(const stream_t *st, uint64_t row)
{
    if (row >= st->seq.buf_start && row < st->seq.buf_start + st->seq.buf_n)
        return ((const uint64_t *)st->seq.buf)[row - st->seq.buf_start];
    return st->seq.prev_last;
}

/* Write the seq entries of every record written so far, then flush both. */
static int stream_commit(h5tier_archive_t *a, stream_t *st, int tail)
{
    int rc = 0;
    if (tail)
        rc = ap_write_tail(&st->rec);
    if (rc == 0)
        rc = ap_write_tail(&st->seq);
    if (rc == 0 && (H5Dflush(st->rec.dset) < 0 || H5Dflush(st->seq.dset) < 0))
        rc = -H5TIER_EHDF5;
    if (rc < 0)
        return hfail(a->path, "cannot write", st->path);
    st->pending_chunks = 0;
    uint64_t rows = st->rec.written < st->seq.written ? st->rec.written : st->seq.written;
    if (rows > st->flushed_rows) {
        st->flushed_rows = rows;
        uint64_t next = seq_of_row(st, rows - 1) + 1;
        if (next > st->flushed_next)
            st->flushed_next = next;
    }
    return 0;
}

static int check_next(h5tier_archive_t *a, stream_t *st, uint64_t seq)
{
    if ((stream_rows(st) > 0 && seq <= st->last_seq) || (st->nlost > 0 && seq <= st->last_lost))
        return h5tier__fail(EINVAL, "archive '%s': stream '%s': seq %llu is not above what is archived "
                            "(last record %llu%s)", a->path, st->path, (unsigned long long)seq,
                            (unsigned long long)st->last_seq, st->nlost > 0 ? " or a lost range" : "");
    return 0;
}

static int append_common(h5tier_archive_t *a, size_t stream, uint64_t first_seq, const uint64_t *seqs,
                         const void *records, size_t n)
{
    int rc = bad_stream(a, stream);
    if (rc < 0)
        return rc;
    stream_t *st = &a->s[stream];
    if (n == 0)
        return 0;
    if (!records)
        return h5tier__fail(EINVAL, "archive '%s': NULL records", a->path);
    rc = check_next(a, st, seqs ? seqs[0] : first_seq);
    if (rc < 0)
        return rc;
    if (seqs) {
        for (size_t i = 1; i < n; i++)
            if (seqs[i] <= seqs[i - 1])
                return h5tier__fail(EINVAL, "archive '%s': sequence numbers not increasing at %zu", a->path, i);
    } else if (first_seq + n - 1 < first_seq) {
        return h5tier__fail(EINVAL, "archive '%s': sequence numbers overflow", a->path);
    }
    int plain = (a->flags & H5TIER_ARCHIVE_PLAIN_WRITE) != 0;
    const unsigned char *p = records;
    uint64_t tmp[512];
    size_t done = 0;
    if (stream_rows(st) == 0)
        st->first_seq = seqs ? seqs[0] : first_seq;
    while (done < n) {
        /* the records of one chunk at most, so seq entries follow each chunk closely */
        size_t room = st->rec.chunk_n - st->rec.buf_n, take = n - done;
        if (take > room)
            take = room;
        int full = 0;
        rc = ap_push(&st->rec, p + done * st->rec.row_bytes, take, plain, &full);
        if (rc < 0)
            return hfail(a->path, "cannot write", st->path);
        for (size_t i = 0; i < take;) {
            size_t k = take - i < 512 ? take - i : 512;
            const uint64_t *src = seqs ? seqs + done + i : tmp;
            if (!seqs)
                for (size_t j = 0; j < k; j++)
                    tmp[j] = first_seq + done + i + j;
            int sfull = 0;
            rc = ap_push(&st->seq, src, k, plain, &sfull);
            if (rc < 0)
                return hfail(a->path, "cannot write", st->seq_path);
            i += k;
        }
        done += take;
        st->last_seq = seqs ? seqs[done - 1] : first_seq + done - 1;
        st->pending_chunks += (size_t)full;
        if (full && st->pending_chunks * st->rec.chunk_n * st->rec.row_bytes >= COMMIT_BYTES) {
            rc = stream_commit(a, st, 0);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int h5tier_archive_append(h5tier_archive_t *a, size_t stream, uint64_t first_seq, const void *records, size_t n)
{
    return append_common(a, stream, first_seq, NULL, records, n);
}

int h5tier_archive_append_seqs(h5tier_archive_t *a, size_t stream, const uint64_t *seqs, const void *records,
                               size_t n)
{
    if (n > 0 && !seqs)
        return h5tier__fail(EINVAL, "archive: NULL seqs");
    return append_common(a, stream, 0, seqs, records, n);
}

int h5tier_archive_lost(h5tier_archive_t *a, size_t stream, uint64_t first, uint64_t last)
{
    int rc = bad_stream(a, stream);
    if (rc < 0)
        return rc;
    stream_t *st = &a->s[stream];
    if (first > last)
        return h5tier__fail(EINVAL, "archive '%s': lost range [%llu, %llu] is empty", a->path,
                            (unsigned long long)first, (unsigned long long)last);
    rc = check_next(a, st, first);
    if (rc < 0)
        return rc;
    rc = stream_commit(a, st, 1);
    if (rc < 0)
        return rc;
    /* a range right after the last one, with no record in between (e.g. an
       archiver restarted twice before archiving anything), extends it: the
       lost ranges stay exactly the gaps of the seq dataset */
    int extend = st->nlost > 0 && first == st->last_lost + 1 &&
                 (stream_rows(st) == 0 || st->last_seq < st->last_lost_first);
    hsize_t n = extend ? st->nlost : st->nlost + 1, start = n - 1, one = 1;
    uint64_t range[2] = {extend ? st->last_lost_first : first, last};
    hid_t lt = lost_type(), fs = -1, ms = -1;
    rc = -H5TIER_EHDF5;
    if (lt >= 0 && H5Dset_extent(st->lost, &n) >= 0 && (fs = H5Dget_space(st->lost)) >= 0 &&
        (ms = H5Screate_simple(1, &one, NULL)) >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &one, NULL) >= 0 &&
        H5Dwrite(st->lost, lt, ms, fs, H5P_DEFAULT, range) >= 0 && H5Dflush(st->lost) >= 0)
        rc = 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (lt >= 0)
        H5Tclose(lt);
    if (rc < 0)
        return hfail(a->path, "cannot record a lost range in", st->lost_path);
    if (!extend) {
        st->nlost++;
        st->last_lost_first = first;
    }
    st->lost_records += last - first + 1;
    st->last_lost = last;
    if (last + 1 > st->flushed_next)
        st->flushed_next = last + 1;
    return 0;
}

int h5tier_archive_flush(h5tier_archive_t *a, int durable)
{
    if (!a)
        return h5tier__fail(EINVAL, "archive: NULL handle");
    for (size_t i = 0; i < a->n; i++) {
        int rc = stream_commit(a, &a->s[i], 1);
        if (rc < 0)
            return rc;
    }
    if (durable) {
        if (H5Fflush(a->file, H5F_SCOPE_LOCAL) < 0)
            return hfail(a->path, "cannot flush", a->path);
        int fd = h5tier_sys.open(a->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0)
            return h5tier__fail(errno, "archive '%s': open for fsync", a->path);
        int rc = h5tier__fsync(fd);
        h5tier_sys.close(fd);
        if (rc < 0)
            return h5tier__fail(-rc, "archive '%s': fsync", a->path);
    }
    return 0;
}

int h5tier_archive_stream_info(h5tier_archive_t *a, size_t stream, h5tier_archive_stream_info_t *info)
{
    int rc = bad_stream(a, stream);
    if (rc < 0)
        return rc;
    if (!info)
        return h5tier__fail(EINVAL, "archive: NULL info");
    stream_t *st = &a->s[stream];
    memset(info, 0, sizeof *info);
    info->records = stream_rows(st);
    info->written = st->flushed_rows;
    info->empty = info->records == 0 && st->nlost == 0;
    info->first_seq = st->first_seq;
    info->last_seq = st->last_seq;
    uint64_t next = 0;
    if (info->records > 0)
        next = st->last_seq + 1;
    if (st->nlost > 0 && st->last_lost + 1 > next)
        next = st->last_lost + 1;
    info->next_seq = next;
    info->written_next = st->flushed_next;
    info->lost_ranges = st->nlost;
    info->lost_records = st->lost_records;
    info->record_size = st->rec.row_bytes;
    info->chunk_records = st->rec.chunk_n;
    info->chunks_direct = st->rec.chunks_direct;
    info->chunks_plain = st->rec.chunks_plain;
    return 0;
}

hid_t h5tier_archive_file(h5tier_archive_t *a) { return a ? a->file : H5I_INVALID_HID; }

int h5tier_archive_close(h5tier_archive_t *a)
{
    if (!a)
        return 0;
    int rc = h5tier_archive_flush(a, 0);
    for (size_t i = 0; i < a->n; i++)
        stream_free(&a->s[i]);
    if (a->file >= 0 && H5Fclose(a->file) < 0 && rc == 0)
        rc = hfail(a->path, "cannot close", a->path);
    free(a->path);
    free(a);
    return rc;
}

/* ---- converting a format-1 archive ---------------------------------------------------------- */

typedef struct conv_ctx {
    hid_t file;
    const char *path;
    char (*seqs)[1024];
    size_t n, max;
} conv_ctx_t;

static herr_t conv_find(hid_t f, const char *name, const H5O_info_t *info, void *op)
{
    conv_ctx_t *c = op;
    (void)f;
    if (info->type != H5O_TYPE_DATASET || !ends_with(name, OLD_SEQ_SUFFIX) || is_book(name))
        return 0;
    htri_t e;
    H5E_BEGIN_TRY { e = H5Aexists_by_name(c->file, name, RECORDS_ATTR, H5P_DEFAULT); } H5E_END_TRY;
    if (e <= 0 || c->n >= c->max || strlen(name) >= sizeof c->seqs[0])
        return 0;
    snprintf(c->seqs[c->n++], sizeof c->seqs[0], "/%s", name);
    return 0;
}

static int move_link(hid_t f, const char *from, const char *to)
{
    htri_t e;
    H5E_BEGIN_TRY { e = H5Lexists(f, from, H5P_DEFAULT); } H5E_END_TRY;
    if (e <= 0)
        return 0; /* moved by an earlier, interrupted run */
    hid_t l = H5Pcreate(H5P_LINK_CREATE);
    herr_t r = l >= 0 && H5Pset_create_intermediate_group(l, 1) >= 0 ? H5Lmove(f, from, f, to, l, H5P_DEFAULT) : -1;
    if (l >= 0)
        H5Pclose(l);
    return r < 0 ? -1 : 0;
}

int h5tier_archive_convert(const char *path)
{
    if (!path || !*path)
        return h5tier__fail(EINVAL, "archive convert: no file name");
    int dfd = lock_dir(path);
    if (dfd < 0)
        return dfd;
    int rc = 0, fd = h5tier_sys.open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    hid_t fapl = make_fapl(), f = H5I_INVALID_HID;
    char(*seqs)[1024] = calloc(MAX_STREAMS, sizeof *seqs);
    if (fd < 0) {
        rc = h5tier__fail(errno, "archive '%s': open: %s", path, strerror(errno));
        goto done;
    }
    if (!seqs || fapl < 0) {
        rc = h5tier__fail(ENOMEM, "archive '%s'", path);
        goto done;
    }
    if ((rc = check_and_repair(path, fd, fapl)) < 0) /* -EBUSY while an archiver writes it */
        goto done;
    H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT); } H5E_END_TRY;
    if (f < 0) {
        rc = h5tier__fail(H5TIER_ENOTHDF5, "archive '%s': HDF5 cannot open it for writing", path);
        goto done;
    }
    conv_ctx_t c = {f, path, seqs, 0, MAX_STREAMS};
    if (H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, conv_find, &c) < 0) {
        rc = hfail(path, "cannot walk", "/");
        goto done;
    }
    hid_t g = book_group(f);
    if (g < 0) {
        rc = hfail(path, "cannot create", BOOK);
        goto done;
    }
    H5Gclose(g);
    for (size_t i = 0; i < c.n; i++) {
        char rec[1024], lost[1100];
        size_t l = strlen(seqs[i]) - strlen(OLD_SEQ_SUFFIX);
        snprintf(rec, sizeof rec, "%.*s", (int)l, seqs[i]);
        snprintf(lost, sizeof lost, "%s%s", rec, OLD_LOST_SUFFIX);
        char *nseq = book_path(rec, "seq"), *nlost = book_path(rec, "lost");
        int bad = !nseq || !nlost || move_link(f, seqs[i], nseq) < 0 || move_link(f, lost, nlost) < 0;
        free(nseq);
        free(nlost);
        if (bad) {
            rc = hfail(path, "cannot move the bookkeeping of", rec);
            goto done;
        }
    }
    H5E_BEGIN_TRY {
        if (H5Aexists(f, OWNER_ATTR) > 0)
            H5Adelete(f, OWNER_ATTR);
    } H5E_END_TRY;
    rc = (int)c.n;
done:
    if (f >= 0 && H5Fclose(f) < 0 && rc >= 0)
        rc = hfail(path, "cannot close", path);
    if (fd >= 0)
        h5tier_sys.close(fd);
    if (fapl >= 0)
        H5Pclose(fapl);
    free(seqs);
    h5tier_sys.close(dfd);
    return rc;
}
