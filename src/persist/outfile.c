/*
 * persist/outfile.c -- the small HDF5 file driver h5tier_persist writes its
 * temporary destination file with ("h5tier_persist_out").
 *
 * Why not sec2: with HDF5 1.10, once a write fails (disk full, EFBIG) the
 * H5Fclose that follows fails too and leaves the file in HDF5's id table
 * half-closed; the library then crashes when it closes it again at exit.
 * This driver does all I/O through h5tier_sys (so the fault injector
 * reaches HDF5's own writes too) and, after the first failed write,
 * records the error and DISCARDS every later write while reporting
 * success.  HDF5 then closes the file cleanly, and h5tier_persist, which
 * polls h5tier__persist_out_error() after every slab and after the close,
 * reports the real errno (-ENOSPC, -EFBIG, -EIO) and deletes the file.
 * The file is never used after a failure, so discarding is safe.
 * Every 16 MiB written it starts the writeback of the file
 * (sync_file_range), so the fsync that ends a persist waits for the last
 * few MiB instead of the whole file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <H5FDpublic.h>

#include "persist/persist_internal.h"

#define OUT_KICK ((uint64_t)16 << 20) /* start writeback every 16 MiB written */
#define OUT_MAXADDR (((haddr_t)1 << (8 * sizeof(off_t) - 1)) - 1)

typedef struct outfile {
    H5FD_t pub; /* HDF5's part, must be first */
    int fd;
    haddr_t eoa, eof;
    uint64_t unkicked; /* bytes written since writeback was last started */
    dev_t dev;
    ino_t ino;
    char name[4096];
} outfile_t;

/* The first write error since the last reset, per thread (one persist
 * at a time per thread writes through this driver). */
static _Thread_local int out_err;
static _Thread_local char out_msg[4096 + 160];
static hid_t out_driver = H5I_INVALID_HID;

int h5tier__persist_out_error(void) { return out_err; }
void h5tier__persist_out_reset(void) { out_err = 0; }

int h5tier__persist_out_fail(void)
{
    if (!out_err)
        return 0;
    return h5tier__fail(out_err, "%s", out_msg);
}

static void record(int err, const outfile_t *f, const char *what, haddr_t addr, size_t size)
{
    if (out_err)
        return;
    out_err = err ? err : EIO;
    if (size)
        snprintf(out_msg, sizeof out_msg, "writing '%s' failed: %s of %zu bytes at offset %llu", f->name, what,
                 size, (unsigned long long)addr);
    else
        snprintf(out_msg, sizeof out_msg, "writing '%s' failed: %s at %llu bytes", f->name, what,
                 (unsigned long long)addr);
    h5tier__fail(out_err, "%s", out_msg);
}

static H5FD_t *out_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr)
{
    (void)fapl;
    if (!name || !*name || maxaddr == 0 || maxaddr == HADDR_UNDEF || maxaddr > OUT_MAXADDR) {
        H5TIER_PUSH(H5TIER_AREA_PERSIST, EINVAL, "persist output: bad file name or address space");
        return NULL;
    }
    int oflags = O_CLOEXEC | O_NOFOLLOW | ((flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY);
    if (flags & H5F_ACC_TRUNC)
        oflags |= O_TRUNC;
    if (flags & H5F_ACC_CREAT)
        oflags |= O_CREAT;
    if (flags & H5F_ACC_EXCL)
        oflags |= O_EXCL;
    int fd = h5tier_sys.open(name, oflags, 0600);
    if (fd < 0) {
        H5TIER_PUSH(H5TIER_AREA_PERSIST, errno, "persist output '%s': cannot open", name);
        return NULL;
    }
    struct stat st;
    if (h5tier_sys.fstat(fd, &st) < 0) {
        H5TIER_PUSH(H5TIER_AREA_PERSIST, errno, "persist output '%s': cannot stat", name);
        h5tier_sys.close(fd);
        return NULL;
    }
    outfile_t *f = calloc(1, sizeof *f);
    if (!f) {
        h5tier_sys.close(fd);
        H5TIER_PUSH(H5TIER_AREA_PERSIST, ENOMEM, "persist output '%s'", name);
        return NULL;
    }
    f->fd = fd;
    f->eof = (haddr_t)st.st_size;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    snprintf(f->name, sizeof f->name, "%s", name);
    return &f->pub;
}

static herr_t out_close(H5FD_t *file)
{
    outfile_t *f = (outfile_t *)file;
    if (h5tier_sys.close(f->fd) < 0)
        record(errno, f, "close", 0, 0); /* reported through out_err, see the banner */
    free(f);
    return 0;
}

static int out_cmp(const H5FD_t *a, const H5FD_t *b)
{
    const outfile_t *x = (const outfile_t *)a, *y = (const outfile_t *)b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return 0;
}

static herr_t out_query(const H5FD_t *file, unsigned long *flags)
{
    (void)file;
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}

static haddr_t out_get_eoa(const H5FD_t *file, H5FD_mem_t type)
{
    (void)type;
    return ((const outfile_t *)file)->eoa;
}

static herr_t out_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr)
{
    (void)type;
    ((outfile_t *)file)->eoa = addr;
    return 0;
}

static haddr_t out_get_eof(const H5FD_t *file, H5FD_mem_t type)
{
    (void)type;
    return ((const outfile_t *)file)->eof;
}

static herr_t out_get_handle(H5FD_t *file, hid_t fapl, void **handle)
{
    (void)fapl;
    *handle = &((outfile_t *)file)->fd;
    return 0;
}

static herr_t out_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf)
{
    (void)type, (void)dxpl;
    outfile_t *f = (outfile_t *)file;
    int r = h5tier__pread_zero(f->fd, buf, size, (off_t)addr);
    if (r < 0) {
        H5TIER_PUSH(H5TIER_AREA_PERSIST, -r, "persist output '%s': read of %zu bytes at %llu", f->name, size,
                    (unsigned long long)addr);
        return -1;
    }
    return 0;
}

static herr_t out_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf)
{
    (void)type, (void)dxpl;
    outfile_t *f = (outfile_t *)file;
    if (out_err)
        return 0; /* failed already: discard (see the banner) */
    int r = h5tier__pwrite_full(f->fd, buf, size, (off_t)addr);
    if (r < 0) {
        record(-r, f, "write", addr, size);
        return 0;
    }
    if (addr + size > f->eof)
        f->eof = addr + size;
    /* Start writeback every OUT_KICK bytes so the disk works while the
     * data is still being copied: the final fsync then waits for the tail
     * only, not for the whole file (below the kernel's background dirty
     * threshold nothing would be written before it).  Advisory: an error
     * here is reported again by that fsync, so it is ignored. */
    f->unkicked += size;
    if (f->unkicked >= OUT_KICK) {
        f->unkicked = 0;
        (void)h5tier_sys.sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
    return 0;
}

static herr_t out_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing)
{
    (void)dxpl, (void)closing;
    outfile_t *f = (outfile_t *)file;
    if (out_err || f->eoa == f->eof)
        return 0;
    if (h5tier_sys.ftruncate(f->fd, (off_t)f->eoa) < 0) {
        record(errno, f, "truncate", f->eoa, 0);
        return 0;
    }
    f->eof = f->eoa;
    return 0;
}

static const H5FD_class_t out_class = { /* names where 1.14 adds fields */
#if defined(H5FD_CLASS_VERSION)
    .version = H5FD_CLASS_VERSION, .value = (H5FD_class_value_t)321, /* 1.14+: private, testing range */
#endif
    .name = "h5tier_persist_out", /* name */
    OUT_MAXADDR,            /* maxaddr */
    H5F_CLOSE_WEAK,         /* fc_degree */
    NULL,                   /* terminate */
    NULL,                   /* sb_size: no driver info in the superblock */
    NULL,                   /* sb_encode */
    NULL,                   /* sb_decode */
    0,                      /* fapl_size: no configuration */
    NULL,                   /* fapl_get */
    NULL,                   /* fapl_copy */
    NULL,                   /* fapl_free */
    0,                      /* dxpl_size */
    NULL,                   /* dxpl_copy */
    NULL,                   /* dxpl_free */
    out_open,               /* open */
    out_close,              /* close */
    out_cmp,                /* cmp: same device and inode */
    out_query,              /* query: the features sec2 has */
    NULL,                   /* get_type_map */
    NULL,                   /* alloc: HDF5's default allocator */
    NULL,                   /* free */
    out_get_eoa,            /* get_eoa */
    out_set_eoa,            /* set_eoa */
    out_get_eof,            /* get_eof */
    out_get_handle,         /* get_handle: the fd */
    out_read,               /* read: zero-filled past EOF */
    out_write,              /* write: discards after the first failure */
    .flush = NULL,          /* flush: h5tier_persist fsyncs after close */
    out_truncate,           /* truncate: to the EOA at close */
    NULL,                   /* lock: the temp file is private (O_EXCL name) */
    NULL,                   /* unlock */
    .fl_map = H5FD_FLMAP_DICHOTOMY /* fl_map */
};

hid_t h5tier__persist_out_fapl(int earliest)
{
    if (out_driver < 0 || H5Iis_valid(out_driver) <= 0) {
        out_driver = H5FDregister(&out_class);
        if (out_driver < 0) {
            h5tier__fail(H5TIER_EHDF5, "persist: cannot register the output file driver");
            return H5I_INVALID_HID;
        }
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_driver(fapl, out_driver, NULL) < 0 ||
        (!earliest && H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0)) {
        if (fapl >= 0)
            H5Pclose(fapl);
        h5tier__fail(H5TIER_EHDF5, "persist: cannot select the output file driver");
        return H5I_INVALID_HID;
    }
    return fapl;
}
