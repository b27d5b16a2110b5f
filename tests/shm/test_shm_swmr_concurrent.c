/*
 * Proves SWMR works on the shm driver between real processes: a writer with
 * H5F_ACC_SWMR_WRITE appends 20000 records one by one with H5DOappend to a
 * chunked dataset (H5Dflush every 250), while a reader process with
 * H5F_ACC_SWMR_READ follows with H5Drefresh until it has seen every record
 * with the right value (the library retries torn metadata reads).
 */
#include <stdlib.h>

#include <hdf5_hl.h>

#include "shmtest.h"

#define NREC 20000
#define FLUSH_EVERY 250

typedef struct rec {
    long long seq;
    double x;
} rec_t;

static hid_t rec_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(rec_t));
    H5Tinsert(t, "seq", HOFFSET(rec_t, seq), H5T_NATIVE_LLONG);
    H5Tinsert(t, "x", HOFFSET(rec_t, x), H5T_NATIVE_DOUBLE);
    return t;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

static int writer(const char *name, const char *dir)
{
    hid_t fapl = st_fapl_swmr(name, 256 << 10);
    hid_t file = H5Fcreate("swmr.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    hid_t t = rec_type();
    hid_t space = H5Screate_simple(1, (hsize_t[]){0}, (hsize_t[]){H5S_UNLIMITED});
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_chunk(dcpl, 1, (hsize_t[]){512}) >= 0);
    hid_t d = H5Dcreate2(file, "records", t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    CHECK(H5Fstart_swmr_write(file) >= 0);
    char ready[4400];
    snprintf(ready, sizeof ready, "%s/ready", dir);
    st_mark(ready);
    for (long long i = 0; i < NREC; i++) {
        rec_t r = {i, (double)i * 0.5};
        CHECK(H5DOappend(d, H5P_DEFAULT, 0, 1, t, &r) >= 0);
        if ((i + 1) % FLUSH_EVERY == 0)
            CHECK(H5Dflush(d) >= 0);
    }
    CHECK(H5Dflush(d) >= 0);
    /* stay open until the reader is done, so it follows a live writer */
    char done[4400];
    snprintf(done, sizeof done, "%s/reader-done", dir);
    CHECKF(st_wait_file(done, 30) == 0, "reader did not finish");
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(t);
    CHECK(H5Fclose(file) >= 0);
    H5Pclose(fapl);
    return 0;
}

static int reader(const char *name, const char *dir)
{
    char ready[4400], done[4400];
    snprintf(ready, sizeof ready, "%s/ready", dir);
    snprintf(done, sizeof done, "%s/reader-done", dir);
    CHECKF(st_wait_file(ready, 30) == 0, "writer not ready");
    hid_t fapl = st_fapl_swmr(name, 256 << 10);
    CHECK(H5Pset_metadata_read_attempts(fapl, 500) >= 0);
    hid_t file = H5Fopen("swmr.h5", H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    CHECKF(file >= 0, "SWMR open: %s", st_errstack());
    hid_t d = H5Dopen2(file, "records", H5P_DEFAULT);
    CHECK(d >= 0);
    hid_t t = rec_type();
    rec_t *buf = malloc(NREC * sizeof *buf);
    CHECK(buf);
    hsize_t seen = 0;
    long refreshes = 0;
    double t_end = tu_now() + 30;
    while (seen < NREC) {
        CHECK(H5Drefresh(d) >= 0);
        refreshes++;
        hsize_t dims = 0;
        hid_t fs = H5Dget_space(d);
        H5Sget_simple_extent_dims(fs, &dims, NULL);
        if (dims > seen) {
            hsize_t cnt = dims - seen;
            CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &seen, NULL, &cnt, NULL) >= 0);
            hid_t ms = H5Screate_simple(1, &cnt, NULL);
            CHECK(H5Dread(d, t, ms, fs, H5P_DEFAULT, buf) >= 0);
            H5Sclose(ms);
            for (hsize_t i = 0; i < cnt; i++)
                CHECKF(buf[i].seq == (long long)(seen + i) && buf[i].x == (double)(seen + i) * 0.5,
                       "record %llu: seq %lld x %g", (unsigned long long)(seen + i), buf[i].seq, buf[i].x);
            seen = dims;
        } else {
            CHECKF(tu_now() < t_end, "reader stuck at %llu records", (unsigned long long)seen);
            sleep_us(500);
        }
        H5Sclose(fs);
    }
    printf("reader: %llu records checked after %ld refreshes\n", (unsigned long long)seen, refreshes);
    st_mark(done);
    free(buf);
    H5Tclose(t);
    H5Dclose(d);
    CHECK(H5Fclose(file) >= 0);
    H5Pclose(fapl);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "writer"))
        return writer(argv[2], argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "reader"))
        return reader(argv[2], argv[3]);
    char *name = tu_shm_name("swmr");
    const char *dir = tu_tmpdir();
    pid_t r = tu_spawn_self("reader", name, dir, NULL);
    pid_t w = tu_spawn_self("writer", name, dir, NULL);
    int sr = tu_wait_timeout(r, 60), sw = tu_wait_timeout(w, 60);
    CHECKF(sr == 0 && sw == 0, "reader exit %d, writer exit %d", sr, sw);
    char out[4096];
    int st = tu_sh(out, sizeof out, "h5dump -d /records -s 19999 -c 1 /dev/shm/%s", name);
    CHECKF(st == 0 && strstr(out, "19999") && strstr(out, "9999.5"), "h5dump: %s", out);
    free(name);
    tu_log("ok");
    return 0;
}
