/*
 * Proves write-behind runs concurrently with the application and stays
 * correct (run under TSan by `make test-tsan`): with flush=async and a small
 * dirty bound, a long random workload of writes and checked reads runs while
 * the write-behind thread drains pages (reads of pages whose write-back is
 * in flight must return the new bytes); the file after close equals the
 * model.  Then an alternating compute/I-O pattern: after each burst of
 * writes the application "computes" (sleeps) and the thread drains the
 * dirty pages in the background (dirty bytes drop to 0 without any flush
 * call), the statistics count write-backs and stalls, and H5TIER_STATS
 * writes the JSON at close.
 */
#include <stdio.h>
#include <time.h>

#include "tiertest.h"

int main(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_path("wb.bin"));
    hid_t fapl = tt_fapl("ram=1MiB page=4KiB dirty=64KiB flush=async");
    size_t ml;
    unsigned char *m = tt_vfd_workload(path, fapl, 31337, 6000, 2000000, 30000, &ml);
    tt_check_model(path, m, ml);
    free(m);
    H5Pclose(fapl);
    tu_log("ok: random workload under write-behind equals the model");

    /* alternating compute and I/O, at the HDF5 level */
    const char *stats = tu_path("stats.json");
    setenv("H5TIER_STATS", stats, 1);
    fapl = tt_fapl("ram=16MiB page=64KiB dirty=4MiB flush=async");
    hid_t file = H5Fcreate(tu_path("alt.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    hsize_t n = 1 << 20; /* 4 MiB of ints */
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(file, "x", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0);
    int *buf = malloc(n * sizeof(int));
    h5tier_tier_stats_t st;
    for (int burst = 0; burst < 4; burst++) {
        for (hsize_t i = 0; i < n; i++)
            buf[i] = (int)(i * 3 + (hsize_t)burst);
        hsize_t off = 0, cnt = n / 4;
        for (int k = 0; k < 4; k++) {
            off = cnt * (hsize_t)k;
            hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
            CHECK(H5Dwrite(d, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, buf + off) >= 0);
            H5Sclose(fs);
            H5Sclose(ms);
        }
        /* compute: the thread drains meanwhile */
        double t0 = tu_now();
        do {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
            CHECK_OK(h5tier_tier_stats(file, &st));
        } while (st.dirty_bytes > 0 && tu_now() - t0 < 5);
        CHECKF(st.dirty_bytes == 0, "burst %d: %llu dirty bytes not drained in the background", burst,
               (unsigned long long)st.dirty_bytes);
        /* read back while nothing is dirty */
        int *rb = malloc(n * sizeof(int));
        CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rb) >= 0);
        CHECK(memcmp(rb, buf, n * sizeof(int)) == 0);
        free(rb);
    }
    CHECKF(st.writeback_pages > 0, "no write-back counted");
    H5Dclose(d);
    H5Sclose(sp);
    CHECK(H5Fclose(file) >= 0);
    unsetenv("H5TIER_STATS");
    size_t jl;
    unsigned char *j = tt_slurp(stats, &jl);
    CHECKF(strstr((char *)j, "\"writeback_pages\"") && strstr((char *)j, "\"name\": \"ram\""), "stats JSON: %s", j);
    free(j);
    /* the file reads back with sec2 */
    hid_t s2 = tt_fapl(NULL);
    file = H5Fopen(tu_path("alt.h5"), H5F_ACC_RDONLY, s2);
    CHECK(file >= 0);
    d = H5Dopen2(file, "x", H5P_DEFAULT);
    int *rb = malloc(n * sizeof(int));
    CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rb) >= 0);
    CHECK(memcmp(rb, buf, n * sizeof(int)) == 0);
    free(rb);
    H5Dclose(d);
    H5Fclose(file);
    H5Pclose(s2);
    H5Pclose(fapl);
    free(buf);
    tu_log("ok: alternating compute/I-O drained in the background; %llu pages written back, %llu stalls",
           (unsigned long long)st.writeback_pages, (unsigned long long)st.writeback_stalls);
    return 0;
}
