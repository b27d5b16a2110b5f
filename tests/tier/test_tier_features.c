/*
 * Proves the tier driver behaves as HDF5 expects of a sec2-like driver:
 * the feature flags are exactly sec2's minus the POSIX-compatible handle
 * (and no SWMR), so SWMR create/open are refused; H5F_ACC_EXCL on an
 * existing file fails and leaves it intact; a missing file is an error on
 * the HDF5 stack naming it; a read-only file refuses writes; the file lock
 * keeps a second process from opening the file for writing while it is
 * open (and lets it after close); a file with a 4 KiB userblock round-trips
 * and h5dump reads it; the open file's fapl gives back the configuration
 * string; H5Fget_filesize and the file after close match sec2's for the
 * same program.
 */
#include <stdio.h>

#include "tiertest.h"

static char errbuf[8192];
static herr_t walk(unsigned n, const H5E_error2_t *e, void *arg)
{
    (void)n;
    (void)arg;
    size_t l = strlen(errbuf);
    snprintf(errbuf + l, sizeof errbuf - l, "%s\n", e->desc ? e->desc : "");
    return 0;
}
static const char *stack(void)
{
    errbuf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, NULL);
    return errbuf;
}

static void program(const char *path, hid_t fapl, hsize_t ub)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (ub)
        H5Pset_userblock(fcpl, ub);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    CHECK(f >= 0);
    hsize_t n = 5000;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t d = H5Dcreate2(f, "x", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    double *v = malloc(n * sizeof *v);
    for (hsize_t i = 0; i < n; i++)
        v[i] = (double)i * 0.25;
    CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    hsize_t sz = 0;
    CHECK(H5Fget_filesize(f, &sz) >= 0);
    CHECK(sz > n * 8);
    free(v);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Pclose(fcpl);
    CHECK(H5Fclose(f) >= 0);
}

int main(int argc, char **argv)
{
    tu_h5_quiet();
    const char *cfg = "ram=8MiB page=16KiB";
    if (argc == 3 && !strcmp(argv[1], "lock")) { /* child: try to open for writing */
        hid_t fapl = tt_fapl(cfg);
        hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, fapl);
        if (f >= 0) {
            H5Fclose(f);
            return 0;
        }
        return 3;
    }
    hid_t fapl = tt_fapl(cfg), s2 = tt_fapl(NULL);
    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s", tu_path("feat.h5"));
    snprintf(q, sizeof q, "%s", tu_path("feat_sec2.h5"));

    /* feature flags, exactly */
    H5FD_t *fd = H5FDopen(p, H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC, fapl, HADDR_UNDEF);
    CHECK(fd);
    unsigned long fl = 0;
    CHECK(H5FDquery(fd, &fl) >= 0);
    unsigned long want = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
                         H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    CHECKF(fl == want, "feature flags 0x%lx, want 0x%lx", fl, want);
    CHECK(!(fl & H5FD_FEAT_SUPPORTS_SWMR_IO));
    CHECK(H5FDclose(fd) >= 0);

    /* the same program through tier and sec2: identical files */
    program(p, fapl, 0);
    program(q, s2, 0);
    CHECK(tt_same_files(p, q));
    program(p, fapl, 4096);
    program(q, s2, 4096);
    CHECK(tt_same_files(p, q));
    char out[4096];
    CHECKF(tu_sh(out, sizeof out, "h5dump -d /x -c 3 '%s'", p) == 0 && strstr(out, "0.25"), "h5dump: %s", out);
    tu_log("ok: files equal sec2's (with and without a userblock), h5dump reads them");

    /* the fapl of the open file gives the configuration back */
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, fapl);
    CHECK(f >= 0);
    hid_t fa = H5Fget_access_plist(f);
    char got[256];
    CHECK(H5Pget_fapl_tier(fa, got, sizeof got) >= 0);
    CHECKF(!strcmp(got, cfg), "config back: '%s'", got);
    H5Pclose(fa);
    /* read-only: writes refused */
    hid_t d = H5Dopen2(f, "x", H5P_DEFAULT);
    double v = 1;
    hsize_t one = 1, off = 0;
    hid_t ms = H5Screate_simple(1, &one, NULL), fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL);
    CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v) < 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    CHECK(H5Fclose(f) >= 0);

    /* SWMR refused */
    hid_t lv = H5Pcopy(fapl);
    H5Pset_libver_bounds(lv, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    CHECK(H5Fcreate(tu_path("swmr.h5"), H5F_ACC_TRUNC | H5F_ACC_SWMR_WRITE, H5P_DEFAULT, lv) < 0);
    CHECK(H5Fopen(p, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, lv) < 0);
    H5Pclose(lv);
    tu_log("ok: SWMR create and open refused");

    /* EXCL on an existing file */
    size_t l0;
    unsigned char *before = tt_slurp(p, &l0);
    CHECK(H5Fcreate(p, H5F_ACC_EXCL, H5P_DEFAULT, fapl) < 0);
    size_t l1;
    unsigned char *after = tt_slurp(p, &l1);
    CHECK(l0 == l1 && memcmp(before, after, l0) == 0);
    free(before);
    free(after);
    /* a missing file */
    H5Eclear2(H5E_DEFAULT);
    CHECK(H5Fopen(tu_path("missing.h5"), H5F_ACC_RDONLY, fapl) < 0);
    CHECKF(strstr(stack(), "missing.h5") && strstr(errbuf, "No such file"), "stack: %s", errbuf);
    tu_log("ok: EXCL leaves an existing file intact; a missing file is named on the HDF5 stack");

    /* the file lock: another process cannot open it for writing while open */
    f = H5Fopen(p, H5F_ACC_RDWR, fapl);
    CHECK(f >= 0);
    int st = tu_wait(tu_spawn_self("lock", p, NULL));
    CHECKF(st == 3, "a second writer was not refused (status %d)", st);
    CHECK(H5Fclose(f) >= 0);
    st = tu_wait(tu_spawn_self("lock", p, NULL));
    CHECKF(st == 0, "after close the file did not open for writing (status %d)", st);
    tu_log("ok: the HDF5 file lock refuses a second writer process");
    H5Pclose(fapl);
    H5Pclose(s2);
    return 0;
}
