/*
 * tests/shm/persist_util.h -- helpers shared by the persist tests (header
 * only, included by each test program): HDF5 images built in memory with
 * the core driver, page maps of the differences between two images, and
 * whole-file reads for byte comparisons.
 */
#ifndef H5TIER_PERSIST_UTIL_H
#define H5TIER_PERSIST_UTIL_H

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/shm_internal.h"
#include "tutil.h"

typedef struct pimg {
    unsigned char *buf;
    size_t len;
} pimg_t;

static inline void pimg_grab(hid_t f, pimg_t *img)
{
    CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
    ssize_t n = H5Fget_file_image(f, NULL, 0);
    CHECK(n > 0);
    img->buf = malloc((size_t)n);
    img->len = (size_t)n;
    CHECK(H5Fget_file_image(f, img->buf, (size_t)n) == n);
}

/* Create the contiguous dataset `name` of nelem int32 in f (no time stamps,
 * so images are reproducible), element i holding (i * mul) ^ flip. */
static inline void pimg_dataset(hid_t f, const char *name, size_t nelem, size_t mul, size_t flip)
{
    hsize_t dims[1] = {nelem};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t d = H5Dcreate2(f, name, H5T_NATIVE_INT32, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    int32_t *v = malloc(nelem * sizeof *v);
    for (size_t i = 0; i < nelem; i++)
        v[i] = (int32_t)((i * mul) ^ flip);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    free(v);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
}

/* A fresh file: dataset /data of nelem int32 (value i*seed), contiguous. */
static inline void pimg_create(pimg_t *img, size_t nelem, int seed)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0);
    hid_t f = H5Fcreate("pimg-create.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    pimg_dataset(f, "data", nelem, (size_t)seed, 0);
    pimg_grab(f, img);
    H5Fclose(f);
    H5Pclose(fapl);
}

/* Open src in memory, overwrite `count` elements at each of the positions,
 * with value base+k, optionally add a dataset /extra of extra_elems int32,
 * and return the new image. */
static inline void pimg_modify(const pimg_t *src, pimg_t *dst, const size_t *pos, int npos, size_t count, int base,
                               size_t extra_elems)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0);
    CHECK(H5Pset_file_image(fapl, src->buf, src->len) >= 0);
    hid_t f = H5Fopen("pimg-modify.h5", H5F_ACC_RDWR, fapl);
    CHECK(f >= 0);
    hid_t d = H5Dopen2(f, "data", H5P_DEFAULT);
    CHECK(d >= 0);
    hid_t fs = H5Dget_space(d);
    int32_t *v = malloc(count * sizeof *v);
    for (int k = 0; k < npos; k++) {
        for (size_t i = 0; i < count; i++)
            v[i] = base + k * 7 + (int32_t)i;
        hsize_t start[1] = {pos[k]}, cnt[1] = {count};
        hid_t ms = H5Screate_simple(1, cnt, NULL);
        CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0);
        CHECK(H5Dwrite(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, v) >= 0);
        H5Sclose(ms);
    }
    free(v);
    H5Sclose(fs);
    H5Dclose(d);
    if (extra_elems)
        pimg_dataset(f, "extra", extra_elems, 1, 0x5a5a);
    pimg_grab(f, dst);
    H5Fclose(f);
    H5Pclose(fapl);
}

/* Mark the pages of [0, b->len) where a and b differ (a shorter = differs). */
static inline size_t pimg_diff(const pimg_t *a, const pimg_t *b, size_t ps, h5tier_pagemap_t *pm)
{
    CHECK(h5tier__pagemap_init(pm, ps, b->len) == 0);
    size_t n = 0;
    for (size_t off = 0; off < b->len; off += ps) {
        size_t l = b->len - off < ps ? b->len - off : ps;
        if (off + l > a->len || memcmp(a->buf + off, b->buf + off, l)) {
            CHECK(h5tier__pagemap_mark(pm, off, l) == 0);
            n++;
        }
    }
    return n;
}

/* Number of runs of dirty pages in pm. */
static inline size_t pimg_runs(const h5tier_pagemap_t *pm)
{
    size_t runs = 0, pg = 0, cnt = 0;
    while (h5tier__pagemap_next_run(pm, &pg, &cnt)) {
        runs++;
        pg += cnt;
    }
    return runs;
}

/* Commit `to` (dirty pages pm) over path, journal mode, with the first
 * in-place write failing (EIO): leaves a committed journal whose apply
 * failed.  The pwrites of a journal commit: header, record and data per
 * run, commit record, then the in-place writes. */
static inline void pimg_commit_unapplied(const char *path, const pimg_t *to, const h5tier_pagemap_t *pm)
{
    CHECK_OK(h5tier_fault_set("pwrite", 1 + 2 * pimg_runs(pm) + 1 + 1, EIO, 0));
    int r = h5tier__backing_commit(path, to->buf, to->len, pm, 0, 0600, NULL);
    h5tier_fault_clear();
    CHECKF(r == -EIO, "commit with a failing first in-place write returned %d", r);
}

/* Read a whole file; returns malloc'd bytes, *len set; NULL if it cannot be read. */
static inline unsigned char *pimg_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    unsigned char *b = malloc((size_t)st.st_size + 1);
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t r = pread(fd, b + done, (size_t)st.st_size - done, (off_t)done);
        CHECK(r > 0);
        done += (size_t)r;
    }
    close(fd);
    *len = done;
    return b;
}

/* 1 if path holds exactly img's bytes. */
static inline int pimg_file_is(const char *path, const pimg_t *img)
{
    size_t len = 0;
    unsigned char *b = pimg_read_file(path, &len);
    int same = b && len == img->len && !memcmp(b, img->buf, len);
    free(b);
    return same;
}

static inline void pimg_write_file(const char *path, const pimg_t *img)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, img->buf, img->len) == (ssize_t)img->len);
    close(fd);
}

static inline int pexists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Start a case afresh: remove path and its journal and temp file, then
 * write img's bytes to path (img NULL: leave path absent). */
static inline void pimg_set_file(const char *path, const pimg_t *img)
{
    char side[4600];
    snprintf(side, sizeof side, "%s.h5tier-journal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s.h5tier-tmp", path);
    unlink(side);
    unlink(path);
    if (img)
        pimg_write_file(path, img);
}

#endif
