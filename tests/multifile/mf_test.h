/*
 * tests/multifile/mf_test.h -- what the multifile tests share: one writer
 * of the standard content (2-D datasets split among ranks by rows and by
 * columns, contiguous and chunked with chunks shared between ranks, groups
 * and attributes), run as one rank of n with any fapl, so the same function
 * writes the serial sec2 reference (rank 0 of 1) and every rank of a
 * multifile job; and a checker of that content in any open file.
 */
#ifndef MF_TEST_H
#define MF_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5tier_multifile.h"
#include "tutil.h"

#define MF_NR 64
#define MF_NC 48
#define MF_CH 8 /* chunk edge: a column split of 4 ranks (12 columns each) shares chunks */

/* Variants for the error tests. */
#define MFV_DIVERGE 0x1u /* rank 2 adds an attribute no other rank adds */
#define MFV_OVERLAP 0x2u /* rank 1 also writes rank 0's first row of /rows_contig */
#define MFV_EPOCHS 0x4u  /* after a flush, every rank rewrites its rows of /rows_contig (+1) */
#define MFV_SLOW 0x8u    /* write /rows_contig row by row (many records, for kill tests) */
#define MFV_READS 0x10u  /* odd ranks read datasets back and walk the file before closing,
                            with a tiny metadata cache: their cache flushes in another order */

/* tu_path() in a buffer of its own that lives to the end (tu_path rotates 8
 * buffers); at most 64 per test program, never reused. */
static inline const char *mf_path(const char *leaf)
{
    static char bufs[64][4400];
    static int n;
    CHECKF(n < 64, "mf_path: more than 64 paths; keep a local copy instead");
    char *p = bufs[n++];
    snprintf(p, sizeof bufs[0], "%s", tu_path(leaf));
    return p;
}

static inline int mf_ival(int i, int j) { return i * 1000 + j; }
static inline double mf_dval(int i, int j) { return i * 1000 + j + 0.5; }

/* Rows [*a, *b) (or columns) of rank r of n over len. */
static inline void mf_part(int len, int r, int n, int *a, int *b)
{
    *a = (int)((long)len * r / n);
    *b = (int)((long)len * (r + 1) / n);
}

static inline hid_t mf_dcpl(int chunked)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked)
        H5Pset_chunk(dcpl, 2, (hsize_t[]){MF_CH, MF_CH});
    CHECK_OK(h5tier_multifile_dcpl_init(dcpl));
    return dcpl;
}

/* Write the part of one dataset: by rows or by columns. */
static inline int mf_write_part(hid_t d, hid_t mtype, int by_cols, int r, int n, int is_double, int bump)
{
    int a, b;
    mf_part(by_cols ? MF_NC : MF_NR, r, n, &a, &b);
    if (b <= a)
        return 0;
    hsize_t start[2] = {by_cols ? 0 : (hsize_t)a, by_cols ? (hsize_t)a : 0};
    hsize_t count[2] = {by_cols ? MF_NR : (hsize_t)(b - a), by_cols ? (hsize_t)(b - a) : MF_NC};
    size_t nel = (size_t)(count[0] * count[1]);
    void *buf = malloc(nel * 8);
    for (hsize_t i = 0; i < count[0]; i++)
        for (hsize_t j = 0; j < count[1]; j++) {
            int gi = (int)(start[0] + i), gj = (int)(start[1] + j);
            if (is_double)
                ((double *)buf)[i * count[1] + j] = mf_dval(gi, gj) + bump;
            else
                ((int *)buf)[i * count[1] + j] = mf_ival(gi, gj) + bump;
        }
    hid_t fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(2, count, NULL);
    herr_t e = H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    free(buf);
    return e < 0 ? -1 : 0;
}

/* Write the standard content as rank r of n into name with fapl.  Returns 0,
 * or -1 when an HDF5 call failed (the error stack says why). */
static inline int mf_write_rank(const char *name, hid_t fapl, int r, int n, unsigned variant)
{
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0)
        return -1;
    int rc = 0;
    hid_t g = H5Gcreate2(f, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(2, (hsize_t[]){MF_NR, MF_NC}, NULL);
    hid_t c0 = mf_dcpl(0), c1 = mf_dcpl(1);
    hid_t d[4];
    d[0] = h5tier_multifile_dcreate(f, "rows_contig", H5T_STD_I32LE, space, H5P_DEFAULT, c0, H5P_DEFAULT);
    d[1] = h5tier_multifile_dcreate(f, "cols_contig", H5T_IEEE_F64LE, space, H5P_DEFAULT, c0, H5P_DEFAULT);
    d[2] = h5tier_multifile_dcreate(g, "rows_chunk", H5T_STD_I32LE, space, H5P_DEFAULT, c1, H5P_DEFAULT);
    d[3] = h5tier_multifile_dcreate(g, "cols_chunk", H5T_IEEE_F64LE, space, H5P_DEFAULT, c1, H5P_DEFAULT);
    hid_t as = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(f, "nranks_in_job", H5T_STD_I32LE, as, H5P_DEFAULT, H5P_DEFAULT);
    int one = 4;
    H5Awrite(at, H5T_NATIVE_INT, &one);
    H5Aclose(at);
    if ((variant & MFV_DIVERGE) && r == 2) {
        at = H5Acreate2(g, "only_on_rank_2", H5T_STD_I32LE, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, H5T_NATIVE_INT, &r);
        H5Aclose(at);
    }
    for (int k = 0; k < 4; k++)
        if (d[k] < 0)
            rc = -1;
    if (rc == 0 && (variant & MFV_SLOW)) {
        int a, b;
        mf_part(MF_NR, r, n, &a, &b);
        for (int i = a; i < b && rc == 0; i++) {
            int row[MF_NC];
            for (int j = 0; j < MF_NC; j++)
                row[j] = mf_ival(i, j);
            hid_t fs = H5Dget_space(d[0]);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, (hsize_t[]){(hsize_t)i, 0}, NULL, (hsize_t[]){1, MF_NC}, NULL);
            hid_t ms = H5Screate_simple(2, (hsize_t[]){1, MF_NC}, NULL);
            if (H5Dwrite(d[0], H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, row) < 0)
                rc = -1;
            H5Sclose(ms);
            H5Sclose(fs);
            usleep(2000);
        }
    } else if (rc == 0) {
        rc |= mf_write_part(d[0], H5T_NATIVE_INT, 0, r, n, 0, 0);
    }
    if (rc == 0) {
        rc |= mf_write_part(d[1], H5T_NATIVE_DOUBLE, 1, r, n, 1, 0);
        rc |= mf_write_part(d[2], H5T_NATIVE_INT, 0, r, n, 0, 0);
        rc |= mf_write_part(d[3], H5T_NATIVE_DOUBLE, 1, r, n, 1, 0);
    }
    if (rc == 0 && (variant & MFV_OVERLAP) && r == 1)
        rc |= mf_write_part(d[0], H5T_NATIVE_INT, 0, 0, MF_NR, 0, 7); /* row 0: rank 0's */
    if (rc == 0 && (variant & MFV_EPOCHS)) {
        if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0)
            rc = -1;
        rc |= mf_write_part(d[0], H5T_NATIVE_INT, 0, r, n, 0, 1);
    }
    if (rc == 0 && (variant & MFV_READS) && (r % 2)) {
        double *tmp = malloc(sizeof(double) * MF_NR * MF_NC);
        for (int k = 3; k >= 0; k--)
            if (H5Dread(d[k], (k % 2) ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) < 0)
                rc = -1;
        free(tmp);
        H5O_info_t oi;
        if (H5Oget_info_by_name(f, "grp/cols_chunk", &oi, H5P_DEFAULT) < 0)
            rc = -1;
    }
    for (int k = 0; k < 4; k++)
        if (d[k] >= 0)
            H5Dclose(d[k]);
    H5Sclose(as);
    H5Pclose(c0);
    H5Pclose(c1);
    H5Sclose(space);
    H5Gclose(g);
    if (H5Fclose(f) < 0)
        rc = -1;
    return rc;
}

/* Check the standard content of an open file (bump added to /rows_contig).
 * Returns the number of wrong elements. */
static inline long mf_check_content(hid_t f, int bump)
{
    static const char *names[4] = {"rows_contig", "cols_contig", "grp/rows_chunk", "grp/cols_chunk"};
    long bad = 0;
    double *buf = malloc(sizeof(double) * MF_NR * MF_NC);
    for (int k = 0; k < 4; k++) {
        hid_t d = H5Dopen2(f, names[k], H5P_DEFAULT);
        if (d < 0)
            return MF_NR * MF_NC;
        int dbl = k == 1 || k == 3;
        if (H5Dread(d, dbl ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            bad += MF_NR * MF_NC;
        else
            for (int i = 0; i < MF_NR; i++)
                for (int j = 0; j < MF_NC; j++) {
                    int b = k == 0 ? bump : 0;
                    if (dbl ? ((double *)buf)[i * MF_NC + j] != mf_dval(i, j) + b
                            : ((int *)buf)[i * MF_NC + j] != mf_ival(i, j) + b)
                        bad++;
                }
        H5Dclose(d);
    }
    free(buf);
    return bad;
}

/* A multifile fapl: explicit rank (r >= 0) or from the environment (r < 0). */
static inline hid_t mf_fapl(int r, int n, unsigned flags)
{
    h5tier_multifile_config_t cfg;
    h5tier_multifile_config_init(&cfg);
    cfg.rank = r;
    cfg.nranks = r >= 0 ? n : -1;
    cfg.flags = flags;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_multifile(fapl, &cfg) >= 0);
    return fapl;
}

/* The serial reference: the same content with sec2, in one process. */
static inline void mf_write_reference(const char *name)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fapl);
    CHECK(mf_write_rank(name, fapl, 0, 1, 0) == 0);
    H5Pclose(fapl);
}

/* Start ranks 0..nstart-1 of n as processes of this program ("child") with
 * H5TIER_RANK, H5TIER_NRANKS and a fresh H5TIER_RUN_ID set (extra_env
 * "NAME=VALUE" for rank extra_rank, or NULL), and wait for them; returns how
 * many failed. */
static inline int mf_run_env_ranks_some(int n, int nstart, const char *name, const char *variant, int extra_rank,
                                        const char *extra_env)
{
    pid_t pids[64];
    char rs[16], ns[16], run[64];
    static int runs;
    snprintf(run, sizeof run, "test-%d-%d", (int)getpid(), runs++);
    setenv("H5TIER_RUN_ID", run, 1); /* one job: the same id on every rank */
    for (int r = 0; r < nstart; r++) {
        snprintf(rs, sizeof rs, "%d", r);
        snprintf(ns, sizeof ns, "%d", n);
        setenv("H5TIER_RANK", rs, 1);
        setenv("H5TIER_NRANKS", ns, 1);
        char *eq = NULL, envname[64] = "";
        if (extra_env && r == extra_rank) {
            eq = strchr(extra_env, '=');
            snprintf(envname, sizeof envname, "%.*s", (int)(eq - extra_env), extra_env);
            setenv(envname, eq + 1, 1);
        }
        pids[r] = tu_spawn_self("child", name, variant, NULL);
        if (envname[0])
            unsetenv(envname);
    }
    unsetenv("H5TIER_RANK");
    unsetenv("H5TIER_NRANKS");
    unsetenv("H5TIER_RUN_ID");
    int failed = 0;
    for (int r = 0; r < nstart; r++)
        if (tu_wait_timeout(pids[r], 60) != 0)
            failed++;
    return failed;
}

static inline int mf_run_env_ranks(int n, const char *name, const char *variant, int extra_rank, const char *extra_env)
{
    return mf_run_env_ranks_some(n, n, name, variant, extra_rank, extra_env);
}

/* Child entry: "child NAME VARIANT" writes as the rank the environment says. */
static inline int mf_child_main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "child"))
        return -1;
    int r, n;
    const char *src;
    CHECK_OK(h5tier_multifile_rank_from_env(&r, &n, &src));
    hid_t fapl = mf_fapl(-1, -1, H5TIER_MULTIFILE_NO_SYNC);
    unsigned variant = (unsigned)strtoul(argv[3], NULL, 0);
    if ((variant & MFV_READS) && (r % 2)) { /* small metadata cache: evictions in a rank-specific order */
        H5AC_cache_config_t cc = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};
        CHECK(H5Pget_mdc_config(fapl, &cc) >= 0);
        cc.set_initial_size = 1;
        cc.initial_size = cc.min_size = 1024;
        cc.max_size = 4096;
        cc.incr_mode = H5C_incr__off;
        cc.decr_mode = H5C_decr__off;
        cc.flash_incr_mode = H5C_flash_incr__off;
        CHECK(H5Pset_mdc_config(fapl, &cc) >= 0);
    }
    int rc = mf_write_rank(argv[2], fapl, r, n, variant);
    H5Pclose(fapl);
    return rc == 0 ? 0 : 1;
}

#endif
