/*
 * Proves the threaded merge is race-free and thread-count independent (run
 * under TSan by `make test-tsan`: the name has _mt): 8 ranks made in this
 * process (explicit rank in the config) write interleaved 64 KiB blocks of
 * one contiguous dataset, rank 0 also rewrites one block of rank 3 in a
 * later epoch; merging with 1, 3 and 8 threads (and 2 open logs) through the
 * library gives byte-identical files with the rewrite in place, and a check
 * with 4 threads reports the same record count.
 */
#include "mf_test.h"

#define RANKS 8
#define BLK 16384 /* int32 elements: 64 KiB */
#define NB 6

static void write_rank(const char *name, int r)
{
    hid_t fapl = mf_fapl(r, RANKS, H5TIER_MULTIFILE_NO_SYNC);
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hsize_t total = (hsize_t)BLK * NB * RANKS, blk = BLK;
    hid_t space = H5Screate_simple(1, &total, NULL), ms = H5Screate_simple(1, &blk, NULL);
    hid_t dcpl = mf_dcpl(0);
    hid_t d = h5tier_multifile_dcreate(f, "data", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    static int buf[BLK];
    for (int k = 0; k < NB; k++) {
        hsize_t start = ((hsize_t)k * RANKS + (hsize_t)r) * BLK;
        for (int i = 0; i < BLK; i++)
            buf[i] = (int)(start + (hsize_t)i);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &blk, NULL);
        CHECK(H5Dwrite(d, H5T_NATIVE_INT, ms, space, H5P_DEFAULT, buf) >= 0);
    }
    CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
    if (r == 0) { /* epoch 1: rank 0 rewrites rank 3's first block */
        hsize_t start = 3 * BLK;
        for (int i = 0; i < BLK; i++)
            buf[i] = -1 - i;
        H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &blk, NULL);
        CHECK(H5Dwrite(d, H5T_NATIVE_INT, ms, space, H5P_DEFAULT, buf) >= 0);
    }
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(ms);
    H5Sclose(space);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
}

static void check_out(const char *path)
{
    static int all[BLK * NB * RANKS];
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    hid_t d = H5Dopen2(f, "data", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) >= 0);
    for (int i = 0; i < BLK * NB * RANKS; i++) {
        int want = i >= 3 * BLK && i < 4 * BLK ? -1 - (i - 3 * BLK) : i;
        CHECKF(all[i] == want, "%s: element %d = %d, want %d", path, i, all[i], want);
    }
    H5Dclose(d);
    H5Fclose(f);
}

static void quiet_warn(const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
}

int main(void)
{
    const char *name = mf_path("mt.h5");
    char dir[4400];
    snprintf(dir, sizeof dir, "%s.mf", name);
    for (int r = 0; r < RANKS; r++)
        write_rank(name, r);
    static const unsigned threads[] = {1, 3, 8};
    h5tier_merge_stats_t st[3];
    for (int t = 0; t < 3; t++) {
        char leaf[32];
        snprintf(leaf, sizeof leaf, "mt_out%u.h5", threads[t]);
        const char *out = mf_path(leaf);
        h5tier_merge_opts_t o = {.threads = threads[t], .max_open_files = t == 1 ? 2 : 0, .buffer_size = 20000,
                                 .warn = quiet_warn};
        CHECK_OK(h5tier_multifile_merge(dir, out, &o, &st[t]));
        CHECK(st[t].epochs == 2 && st[t].overlaps == 0);
        check_out(out);
        if (t > 0) {
            char cmp[8192];
            int rc = tu_sh(cmp, sizeof cmp, "cmp %s %s", mf_path("mt_out1.h5"), out);
            CHECKF(rc == 0, "thread count changed the bytes: %s", cmp);
        }
    }
    h5tier_merge_opts_t o = {.threads = 4, .warn = quiet_warn};
    h5tier_merge_stats_t cs;
    CHECK_OK(h5tier_multifile_merge(dir, NULL, &o, &cs));
    CHECK(cs.records == st[0].records && cs.bytes_logged == st[0].bytes_logged);
    tu_log("%llu records merged identically with 1, 3 and 8 threads", (unsigned long long)cs.records);
    return 0;
}
