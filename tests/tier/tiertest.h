/*
 * tests/tier/tiertest.h -- what the tier tests share: a seeded random
 * workload at the driver level (H5FDopen/H5FDwrite/H5FDread) checked
 * against an in-memory model of the file, an HDF5-level dataset workload,
 * and file comparison.
 */
#ifndef H5TIER_TIERTEST_H
#define H5TIER_TIERTEST_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5tier_tier.h"
#include "tutil.h"

static inline uint64_t tt_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline hid_t tt_fapl(const char *config)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(fapl >= 0);
    if (config)
        CHECKF(H5Pset_fapl_tier(fapl, config) >= 0, "H5Pset_fapl_tier(%s): %s", config, h5tier_errmsg());
    else
        CHECK(H5Pset_fapl_sec2(fapl) >= 0);
    return fapl;
}

/* Read a whole file; *len its size.  malloc'd. */
static inline unsigned char *tt_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    CHECKF(fd >= 0, "open %s", path);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    unsigned char *b = malloc((size_t)st.st_size + 1);
    CHECK(b);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        CHECK(r > 0);
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return b;
}

/* 1 when the two files hold the same bytes. */
static inline int tt_same_files(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = tt_slurp(a, &la), *y = tt_slurp(b, &lb);
    int same = la == lb && memcmp(x, y, la) == 0;
    if (!same) {
        size_t i = 0;
        while (i < la && i < lb && x[i] == y[i])
            i++;
        tu_log("files %s (%zu bytes) and %s (%zu bytes) differ first at byte %zu", a, la, b, lb, i);
    }
    free(x);
    free(y);
    return same;
}

/* A random driver-level workload of nops operations on the file path opened
 * with fapl: writes (1 B .. maxw, unaligned, often overlapping), reads
 * checked against the model, flushes, a truncate and close.  The model of
 * the file (what sec2 would hold) is returned (malloc'd), *mlen its size. */
static inline unsigned char *tt_vfd_workload(const char *path, hid_t fapl, uint64_t seed, int nops, size_t span,
                                             size_t maxw, size_t *mlen)
{
    unsigned char *model = calloc(1, span + maxw);
    unsigned char *buf = malloc(maxw), *rb = malloc(maxw);
    CHECK(model && buf && rb);
    size_t eof = 0;
    H5FD_t *f = H5FDopen(path, H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC, fapl, HADDR_UNDEF);
    CHECKF(f, "H5FDopen %s", path);
    CHECK(H5FDset_eoa(f, H5FD_MEM_DRAW, span + maxw) >= 0);
    uint64_t s = seed;
    for (int i = 0; i < nops; i++) {
        uint64_t r = tt_rand(&s);
        int kind = (int)(r % 100);
        size_t len = 1 + (size_t)(tt_rand(&s) % maxw);
        if (tt_rand(&s) % 4 == 0)
            len = 1 + len % 64; /* many small ones, like metadata */
        size_t off = (size_t)(tt_rand(&s) % span);
        if (kind < 8) /* sequential runs, to wake read-ahead */
            off = (size_t)((i * 7919) % span);
        H5FD_mem_t type = tt_rand(&s) % 3 == 0 ? H5FD_MEM_SUPER : H5FD_MEM_DRAW;
        if (kind < 50) {
            for (size_t k = 0; k < len; k++)
                buf[k] = (unsigned char)(tt_rand(&s) | 1);
            CHECKF(H5FDwrite(f, type, H5P_DEFAULT, off, len, buf) >= 0, "write %zu at %zu (op %d)", len, off, i);
            memcpy(model + off, buf, len);
            if (off + len > eof)
                eof = off + len;
        } else if (kind < 97) {
            CHECKF(H5FDread(f, type, H5P_DEFAULT, off, len, rb) >= 0, "read %zu at %zu (op %d)", len, off, i);
            for (size_t k = 0; k < len; k++)
                if (rb[k] != model[off + k])
                    tu_die(__FILE__, __LINE__, "op %d: read %zu at %zu: byte %zu is %u, want %u (seed %llu)", i, len,
                           off, off + k, rb[k], model[off + k], (unsigned long long)seed);
        } else {
            CHECK(H5FDflush(f, H5P_DEFAULT, 0) >= 0);
        }
    }
    /* the library truncates to the EOA at close: end the file at the model's eof */
    CHECK(H5FDset_eoa(f, H5FD_MEM_DRAW, eof) >= 0);
    CHECK(H5FDtruncate(f, H5P_DEFAULT, 1) >= 0);
    CHECK(H5FDclose(f) >= 0);
    free(buf);
    free(rb);
    *mlen = eof;
    return model;
}

/* The file at path holds exactly model[0, mlen). */
static inline void tt_check_model(const char *path, const unsigned char *model, size_t mlen)
{
    size_t len;
    unsigned char *b = tt_slurp(path, &len);
    CHECKF(len == mlen, "%s: %zu bytes, want %zu", path, len, mlen);
    for (size_t i = 0; i < len; i++)
        if (b[i] != model[i])
            tu_die(__FILE__, __LINE__, "%s: byte %zu is %u, want %u", path, i, b[i], model[i]);
    free(b);
}

#endif
