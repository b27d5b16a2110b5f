/*
 * Proves that h5tier_persist starts the writeback of its output while it
 * writes (sync_file_range every 16 MiB, so the final fsync waits for the
 * tail only): a 40 MiB dataset makes it call sync_file_range at least
 * twice; and that the call is advisory: with every sync_file_range failing
 * (EIO) the persist still succeeds and the output holds exactly the source
 * data (read back with HDF5 and compared), while a failing fsync still
 * fails the persist.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5tier_persist.h"
#include "h5tier_sys.h"
#include "tutil.h"

#define ROWS 10240u /* x 1024 float32 = 40 MiB */
#define COLS 1024u

static void check_output(const char *path, const float *want)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    hid_t d = H5Dopen2(f, "data", H5P_DEFAULT);
    CHECK(d >= 0);
    float *got = malloc((size_t)ROWS * COLS * sizeof *got);
    CHECK(got && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    CHECK(!memcmp(got, want, (size_t)ROWS * COLS * sizeof *got));
    free(got);
    H5Dclose(d);
    H5Fclose(f);
}

int main(void)
{
    tu_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0);
    hid_t f = H5Fcreate("wbsrc.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    H5Pclose(fapl);
    hsize_t dims[2] = {ROWS, COLS}, unl[2] = {H5S_UNLIMITED, H5S_UNLIMITED}, chunk[2] = {1024, 1024};
    hid_t sp = H5Screate_simple(2, dims, unl);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_chunk(dcpl, 2, chunk) >= 0);
    hid_t d = H5Dcreate2(f, "data", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    float *v = malloc((size_t)ROWS * COLS * sizeof *v);
    CHECK(v);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = (float)(i % 1000003) * 0.5f;
    CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);

    const char *out = tu_path("out.h5");
    /* 1. writeback is started while writing */
    h5tier_fault_count_start();
    int n = h5tier_persist(f, out, NULL);
    CHECKF(n >= 1, "persist: %d %s", n, n < 0 ? h5tier_errmsg() : "");
    long kicks = h5tier_fault_calls("sync_file_range");
    h5tier_fault_clear();
    tu_log("sync_file_range calls for 40 MiB: %ld", kicks);
    CHECKF(kicks >= 2, "expected writeback to start at least twice, saw %ld", kicks);
    check_output(out, v);
    CHECK(unlink(out) == 0);

    /* 2. advisory: every sync_file_range failing changes nothing */
    CHECK_OK(h5tier_fault_set("sync_file_range", 1, EIO, H5TIER_FAULT_PERSIST));
    int r = h5tier_persist(f, out, NULL);
    long fired = h5tier_fault_fired();
    h5tier_fault_clear();
    CHECKF(r == n, "persist with failing sync_file_range: %d %s", r, r < 0 ? h5tier_errmsg() : "");
    CHECK(fired >= 2);
    check_output(out, v);
    CHECK(unlink(out) == 0);

    /* 3. the fsync still decides: a failing file fsync fails the persist, no file */
    CHECK_OK(h5tier_fault_set("fsync", 1, EIO, 0));
    r = h5tier_persist(f, out, NULL);
    h5tier_fault_clear();
    CHECK(r == -EIO && access(out, F_OK) != 0);

    free(v);
    H5Fclose(f);
    tu_log("ok");
    return 0;
}
