/*
 * Proves merge scales past one machine's worth of ranks in bounded memory
 * and open files: a test helper makes 1024 real rank logs (this process
 * opens the file 1024 times with the driver as rank r of 1024, each time
 * making the same metadata calls and writing its own row of a 1024 x 256
 * int32 dataset, contiguous, plus its 16-row band of a chunked one);
 * `h5tier merge --max-open 16 -j 2 --buffer 1MiB` runs under `ulimit -n 48`
 * (it cannot hold 1024 logs open) and its peak RSS stays under 64 MiB (not
 * checked under sanitizers, whose shadow memory dominates); the
 * merged file has every rank's row (checked element by element); the
 * directory read in place (64 logs open at most) gives the same values.
 */
#include <sys/resource.h>

#include "mf_test.h"

#define NR 1024
#define NC 256

static void write_rank(const char *name, int r)
{
    hid_t fapl = mf_fapl(r, NR, H5TIER_MULTIFILE_NO_SYNC);
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hid_t space = H5Screate_simple(2, (hsize_t[]){NR, NC}, NULL);
    hid_t c0 = mf_dcpl(0), c1 = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(c1, 2, (hsize_t[]){64, 64});
    CHECK_OK(h5tier_multifile_dcpl_init(c1));
    hid_t d0 = h5tier_multifile_dcreate(f, "rows", H5T_STD_I32LE, space, H5P_DEFAULT, c0, H5P_DEFAULT);
    hid_t d1 = h5tier_multifile_dcreate(f, "chunked", H5T_STD_I32LE, space, H5P_DEFAULT, c1, H5P_DEFAULT);
    CHECK(d0 >= 0 && d1 >= 0);
    int row[NC];
    for (int j = 0; j < NC; j++)
        row[j] = r * NC + j;
    hid_t fs = H5Dget_space(d0);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, (hsize_t[]){(hsize_t)r, 0}, NULL, (hsize_t[]){1, NC}, NULL);
    hid_t ms = H5Screate_simple(2, (hsize_t[]){1, NC}, NULL);
    CHECK(H5Dwrite(d0, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, row) >= 0);
    CHECK(H5Dwrite(d1, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, row) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d0);
    H5Dclose(d1);
    H5Pclose(c0);
    H5Pclose(c1);
    H5Sclose(space);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
}

static void check_file(hid_t f)
{
    static int buf[NR * NC];
    static const char *names[] = {"rows", "chunked"};
    for (int k = 0; k < 2; k++) {
        hid_t d = H5Dopen2(f, names[k], H5P_DEFAULT);
        CHECK(d >= 0);
        CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        for (int i = 0; i < NR * NC; i++)
            CHECKF(buf[i] == i, "%s element %d = %d", names[k], i, buf[i]);
        H5Dclose(d);
    }
}

int main(void)
{
    char out[8192];
    const char *name = mf_path("scale.h5"), *merged = mf_path("scale_merged.h5");
    double t0 = tu_now();
    for (int r = 0; r < NR; r++)
        write_rank(name, r);
    double t1 = tu_now();
    int rc = tu_sh(out, sizeof out, "ulimit -n 48 && %s merge --max-open 16 -j 2 --buffer 1MiB %s.mf %s", tu_cli(),
                   name, merged);
    CHECKF(rc == 0, "merge of 1024 ranks under ulimit -n 48 (%d): %s", rc, out);
    CHECKF(strstr(out, "1024 ranks"), "%s", out);
    const char *m = strstr(out, "at most ");
    CHECKF(m && atoi(m + 8) <= 16, "more than 16 logs open: %s", out);
    struct rusage ru;
    CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) /* sanitizers' shadow memory */
    CHECKF(ru.ru_maxrss < 64 * 1024, "merge peak RSS %ld KiB", ru.ru_maxrss);
#endif
    hid_t f = H5Fopen(merged, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    check_file(f);
    H5Fclose(f);
    hid_t fapl = mf_fapl(-1, -1, 0);
    f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    CHECKF(f >= 0, "read in place: %s", h5tier_errmsg());
    check_file(f);
    H5Fclose(f);
    H5Pclose(fapl);
    tu_log("1024 rank logs written in %.2f s; %s; merge peak RSS %ld KiB", t1 - t0, out, ru.ru_maxrss);
    return 0;
}
