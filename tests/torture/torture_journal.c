/*
 * tests/torture/torture_journal.c -- the victim of scripts/torture.sh's
 * "journal" scenario (not a test by itself).
 *
 *   torture_journal init BACKING.h5            create BACKING.h5 with /v (2 M u32, all 0)
 *   torture_journal run NAME BACKING.h5 SEED   open shm NAME backed by BACKING.h5 and, forever,
 *                                              write a random run of pages of /v with value k and
 *                                              H5Fflush (one journal commit per k), k = 1, 2, ...
 *   torture_journal check BACKING.h5           after a kill and `h5tier shm recover`: the file
 *                                              opens and /v holds only values of a prefix of commits:
 *                                              every value k appears only if every region k wrote
 *                                              is complete (checked through the run log in /v_log)
 *
 * The invariant the torture checks is the journal's promise: after any
 * SIGKILL the backing file is the old or the new version of each commit.
 * Each commit k writes value k into one contiguous random range [a, b) of
 * /v and records (a, b) in /v_log[k] in the same commit; so a recovered
 * file must have, for the last commit K in /v_log, every element of each
 * range equal to the largest k' <= K covering it, and no value > K.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5tier_shm.h"

#define N (2u * 1024 * 1024)
#define MAXC 100000

static int die(const char *what)
{
    fprintf(stderr, "torture_journal: %s failed\n", what);
    return 1;
}

static int init(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return die("H5Fcreate");
    hsize_t n = N, nl[2] = {MAXC, 2};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    hid_t s = H5Screate_simple(1, &n, NULL), sl = H5Screate_simple(2, nl, NULL);
    hid_t d = H5Dcreate2(f, "v", H5T_NATIVE_UINT32, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t dl = H5Dcreate2(f, "v_log", H5T_NATIVE_UINT32, sl, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t a = H5Acreate2(f, "last", H5T_NATIVE_UINT32, H5Screate(H5S_SCALAR), H5P_DEFAULT, H5P_DEFAULT);
    unsigned zero = 0;
    H5Awrite(a, H5T_NATIVE_UINT32, &zero);
    if (d < 0 || dl < 0 || a < 0) return die("create");
    H5Aclose(a); H5Dclose(d); H5Dclose(dl); H5Sclose(s); H5Sclose(sl); H5Pclose(dcpl);
    return H5Fclose(f) < 0 ? die("H5Fclose") : 0;
}

static int run(const char *name, const char *backing, unsigned seed)
{
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    snprintf(cfg.backing_file, sizeof cfg.backing_file, "%s", backing);
    cfg.page_size = 4096;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (H5Pset_fapl_shm(fapl, &cfg) < 0) return die("H5Pset_fapl_shm");
    hid_t f = H5Fopen(name, H5F_ACC_RDWR, fapl);
    if (f < 0) return die("H5Fopen");
    hid_t d = H5Dopen2(f, "v", H5P_DEFAULT), dl = H5Dopen2(f, "v_log", H5P_DEFAULT);
    hid_t a = H5Aopen(f, "last", H5P_DEFAULT);
    unsigned k = 0;
    H5Aread(a, H5T_NATIVE_UINT32, &k);
    static unsigned buf[N];
    srand(seed);
    for (;;) {
        if (++k >= MAXC) k = 1; /* never reached in practice */
        hsize_t lo = (hsize_t)rand() % N, len = 1 + (hsize_t)rand() % (N / 8);
        if (lo + len > N) len = N - lo;
        for (hsize_t i = 0; i < len; i++) buf[i] = k;
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &len, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &lo, NULL, &len, NULL);
        if (H5Dwrite(d, H5T_NATIVE_UINT32, ms, fs, H5P_DEFAULT, buf) < 0) return die("H5Dwrite");
        H5Sclose(fs); H5Sclose(ms);
        unsigned rec[2] = {(unsigned)lo, (unsigned)(lo + len)};
        hsize_t st[2] = {k, 0}, cnt[2] = {1, 2};
        fs = H5Dget_space(dl); ms = H5Screate_simple(2, cnt, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, cnt, NULL);
        if (H5Dwrite(dl, H5T_NATIVE_UINT32, ms, fs, H5P_DEFAULT, rec) < 0) return die("H5Dwrite log");
        H5Sclose(fs); H5Sclose(ms);
        if (H5Awrite(a, H5T_NATIVE_UINT32, &k) < 0) return die("H5Awrite");
        if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) return die("H5Fflush");
    }
}

static int check(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return die("H5Fopen of the recovered backing file");
    hid_t d = H5Dopen2(f, "v", H5P_DEFAULT), dl = H5Dopen2(f, "v_log", H5P_DEFAULT);
    hid_t a = H5Aopen(f, "last", H5P_DEFAULT);
    unsigned last = 0;
    static unsigned v[N], want[N], log_[MAXC][2];
    if (d < 0 || dl < 0 || a < 0 || H5Aread(a, H5T_NATIVE_UINT32, &last) < 0 ||
        H5Dread(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0 ||
        H5Dread(dl, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, log_) < 0)
        return die("reading the recovered backing file");
    if (last >= MAXC) { fprintf(stderr, "torture_journal: 'last' = %u is impossible\n", last); return 1; }
    memset(want, 0, sizeof want);
    for (unsigned k = 1; k <= last; k++) {
        unsigned lo = log_[k][0], hi = log_[k][1];
        if (lo >= hi || hi > N) { fprintf(stderr, "torture_journal: log[%u] = [%u, %u) torn\n", k, lo, hi); return 1; }
        for (unsigned i = lo; i < hi; i++) want[i] = k;
    }
    for (unsigned i = 0; i < N; i++)
        if (v[i] != want[i]) {
            fprintf(stderr, "torture_journal: v[%u] = %u, expected %u (last commit %u): not the old or the new version\n",
                    i, v[i], want[i], last);
            return 1;
        }
    for (unsigned k = last + 1; k < MAXC && k < last + 1000; k++)
        if (log_[k][0] || log_[k][1]) {
            fprintf(stderr, "torture_journal: log[%u] set past the last commit %u\n", k, last);
            return 1;
        }
    printf("%u\n", last);
    H5Aclose(a); H5Dclose(d); H5Dclose(dl);
    return H5Fclose(f) < 0 ? die("H5Fclose") : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "init")) return init(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "run")) return run(argv[2], argv[3], (unsigned)atoi(argv[4]));
    if (argc == 3 && !strcmp(argv[1], "check")) return check(argv[2]);
    fprintf(stderr, "usage: torture_journal init BACKING | run NAME BACKING SEED | check BACKING\n");
    return 2;
}
