/*
 * tests/python/py_swmr_writer.c -- a C writer for the Python tests: creates
 * shm file NAME through the h5tier_shm driver (latest format), a chunked
 * unlimited int64 dataset /x, starts SWMR writing, creates READY_FILE, then
 * appends COUNT values (x[i] = i) one per row every ~200 us, flushing each,
 * and exits 0.  The Python test follows it with h5tier.shm_file(..., swmr=True).
 *
 *   py_swmr_writer NAME COUNT READY_FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hdf5.h>

#include "h5tier_shm.h"

static int fail(const char *what)
{
    fprintf(stderr, "py_swmr_writer: %s failed: %s\n", what, h5tier_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: py_swmr_writer NAME COUNT READY_FILE\n");
        return 2;
    }
    long count = atol(argv[2]);
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", argv[1]);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (H5Pset_fapl_shm(fapl, &cfg) < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0)
        return fail("fapl");
    hid_t f = H5Fcreate("swmr.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0)
        return fail("H5Fcreate");
    hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = 64;
    hid_t sp = H5Screate_simple(1, &dims, &maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    hid_t d = H5Dcreate2(f, "x", H5T_STD_I64LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0 || H5Fstart_swmr_write(f) < 0)
        return fail("dataset / H5Fstart_swmr_write");
    FILE *ready = fopen(argv[3], "w");
    if (!ready)
        return fail("ready file");
    fclose(ready);
    for (long i = 0; i < count; i++) {
        hsize_t n = (hsize_t)i + 1, off = (hsize_t)i, one = 1;
        long long v = i;
        if (H5Dset_extent(d, &n) < 0)
            return fail("H5Dset_extent");
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &one, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL);
        if (H5Dwrite(d, H5T_NATIVE_LLONG, ms, fs, H5P_DEFAULT, &v) < 0 || H5Dflush(d) < 0)
            return fail("H5Dwrite");
        H5Sclose(fs);
        H5Sclose(ms);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Pclose(fapl);
    return H5Fclose(f) < 0 ? fail("H5Fclose") : 0;
}
