/*
 * Proves bad input and failures give a clear error and no file: a missing
 * object path (-ENOENT naming it), an existing destination (-EEXIST, file
 * untouched; force replaces it), a missing destination directory, bad
 * options, region references (-ENOTSUP naming the dataset), an object
 * reference to an object that is not persisted (-H5TIER_ESCHEMA naming
 * both), a plan callback that stops the run; injected faults at every
 * finalisation call (temp create, reopen, fsync, existence re-check,
 * rename) leave neither the destination nor the temporary file; a failing
 * directory fsync after the rename is reported.  Through the CLI: missing
 * and non-HDF5 sources, existing destination (hint --force), usage errors,
 * a real "disk full" (RLIMIT_FSIZE: HDF5's own writes fail with EFBIG) and a
 * kill at the rename leave no file under the final name (and the next
 * persist to it removes the killed one's temporary file).
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5tier_persist.h"
#include "h5tier_sys.h"
#include "tutil.h"

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Number of leftover temporary files in the test directory. */
static int temps(void)
{
    DIR *d = opendir(tu_tmpdir());
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".h5tier-tmp-"))
            n++;
    if (d)
        closedir(d);
    return n;
}

static hid_t make_source(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    hid_t f = H5Fcreate("errsrc.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    CHECK(f >= 0);
    hsize_t n = 10;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    int v[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    hid_t g = H5Gcreate2(f, "keep", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d = H5Dcreate2(g, "x", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    d = H5Dcreate2(f, "other", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    /* an object reference from /keep/ptr to /other */
    hobj_ref_t r;
    CHECK(H5Rcreate(&r, f, "other", H5R_OBJECT, -1) >= 0);
    hid_t s1 = H5Screate(H5S_SCALAR);
    d = H5Dcreate2(g, "ptr", H5T_STD_REF_OBJ, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, &r) >= 0);
    H5Dclose(d);
    /* a region reference in /regions */
    hdset_reg_ref_t rr;
    hsize_t st = 2, cnt = 3;
    CHECK(H5Sselect_hyperslab(sp, H5S_SELECT_SET, &st, NULL, &cnt, NULL) >= 0);
    CHECK(H5Rcreate(&rr, f, "/keep/x", H5R_DATASET_REGION, sp) >= 0);
    d = H5Dcreate2(f, "regions", H5T_STD_REF_DSETREG, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_STD_REF_DSETREG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &rr) >= 0);
    H5Dclose(d);
    H5Sclose(s1);
    H5Sclose(sp);
    H5Gclose(g);
    return f;
}

static int stop_cb(const h5tier_persist_plan_t *p, void *arg)
{
    (void)arg;
    return p->kind == H5TIER_PERSIST_DATASET ? 42 : 0;
}

int main(void)
{
    tu_h5_quiet();
    hid_t f = make_source();
    const char *dst = tu_path("out.h5");
    h5tier_persist_opts_t o;
    const char *keep[] = {"/keep/x"};
    const char *missing[] = {"/keep/x", "/keep/nope/deeper"};
    const char *ptr[] = {"/keep"};
    const char *regs[] = {"/regions"};

    /* missing object */
    h5tier_persist_opts_init(&o);
    o.objects = missing;
    o.nobjects = 2;
    CHECK(h5tier_persist(f, dst, &o) == -ENOENT);
    tu_log("missing: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), "'/keep/nope/deeper'"));
    CHECK(!exists(dst) && temps() == 0);

    /* bad options and arguments */
    h5tier_persist_opts_init(&o);
    o.compact_below = 70000;
    CHECK(h5tier_persist(f, dst, &o) == -EINVAL);
    h5tier_persist_opts_init(&o);
    o.compress_level = 12;
    CHECK(h5tier_persist(f, dst, &o) == -EINVAL);
    CHECK(h5tier_persist(f, NULL, NULL) == -EINVAL);
    hid_t sp = H5Screate(H5S_SCALAR);
    CHECK(h5tier_persist(sp, dst, NULL) == -EINVAL);
    H5Sclose(sp);
    CHECK(!exists(dst) && temps() == 0);
    CHECK(h5tier_persist(f, tu_path("no/such/dir/out.h5"), NULL) == -ENOENT);
    CHECK(strstr(h5tier_errmsg(), "does not exist"));

    /* region references are refused, naming the dataset */
    h5tier_persist_opts_init(&o);
    CHECK(h5tier_persist(f, dst, &o) == -ENOTSUP);
    tu_log("regref: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), "regions") && strstr(h5tier_errmsg(), "region reference"));
    CHECK(!exists(dst) && temps() == 0);
    o.objects = regs;
    o.nobjects = 1;
    o.dry_run = 1;
    CHECK(h5tier_persist(f, dst, &o) == -ENOTSUP); /* the dry run refuses too */

    /* a reference to an object left out */
    h5tier_persist_opts_init(&o);
    o.objects = ptr;
    o.nobjects = 1;
    CHECK(h5tier_persist(f, dst, &o) == -H5TIER_ESCHEMA);
    tu_log("dangling: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), "/keep/ptr") && strstr(h5tier_errmsg(), "/other"));
    CHECK(!exists(dst) && temps() == 0);

    /* plan callback stops the run */
    h5tier_persist_opts_init(&o);
    o.objects = keep;
    o.nobjects = 1;
    o.plan_cb = stop_cb;
    CHECK(h5tier_persist(f, dst, &o) == -42);
    CHECK(!exists(dst) && temps() == 0);

    /* success, then an existing destination is refused and kept */
    h5tier_persist_opts_init(&o);
    o.objects = keep;
    o.nobjects = 1;
    CHECK(h5tier_persist(f, dst, &o) == 1);
    struct stat st1, st2;
    CHECK(stat(dst, &st1) == 0);
    CHECK(h5tier_persist(f, dst, &o) == -EEXIST);
    CHECK(strstr(h5tier_errmsg(), "already exists"));
    o.dry_run = 1;
    CHECK(h5tier_persist(f, dst, &o) == -EEXIST);
    o.dry_run = 0;
    CHECK(stat(dst, &st2) == 0 && st1.st_ino == st2.st_ino);
    o.force = 1;
    CHECK(h5tier_persist(f, dst, &o) == 1);
    CHECK(stat(dst, &st2) == 0 && st1.st_ino != st2.st_ino);
    CHECK(temps() == 0);
    CHECK(unlink(dst) == 0);
    o.force = 0;

    /* faults at every call site, swept N = 1, 2, ... over the calls a run
     * makes: opens (existence probes, temp file, HDF5's tentative and real
     * opens, the reopen for fsync), every pwrite (HDF5's own writes go
     * through the output driver), the file fsync and the rename.  A failure
     * must leave neither the destination nor the temporary file; an open
     * fault may be survived (HDF5 retries its tentative open). */
    const char *calls[] = {"open", "pwrite", "ftruncate", "fsync", "rename"};
    int errs[] = {EIO, ENOSPC, EIO, EIO, ENOSPC};
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        h5tier_fault_count_start();
        CHECK(h5tier_persist(f, dst, &o) == 1);
        long ncalls = h5tier_fault_calls(calls[c]);
        h5tier_fault_clear();
        CHECK(unlink(dst) == 0);
        tu_log("%s: %ld calls per run", calls[c], ncalls);
        CHECK(ncalls >= (strcmp(calls[c], "ftruncate") ? 1 : 0));
        for (long nth = 1; nth <= ncalls; nth++) {
            CHECK_OK(h5tier_fault_set(calls[c], (unsigned long)nth, errs[c], 0));
            int r = h5tier_persist(f, dst, &o);
            long fired = h5tier_fault_fired();
            h5tier_fault_clear();
            tu_log("%s #%ld: %d %s", calls[c], nth, r, r < 0 ? h5tier_errmsg() : "");
            CHECKF(fired == 1, "fault %s #%ld did not fire", calls[c], nth);
            if (!strcmp(calls[c], "fsync") && nth == ncalls) {
                /* the directory fsync comes after the rename: the file is complete */
                CHECK(r == -EIO && strstr(h5tier_errmsg(), "directory"));
                CHECK(exists(dst) && temps() == 0);
                CHECK(tu_sh(NULL, 0, "h5dump -d /keep/x '%s' >/dev/null", dst) == 0);
                CHECK(unlink(dst) == 0);
                continue;
            }
            if (!strcmp(calls[c], "open") && nth == ncalls && r < 0) {
                /* the directory open for its fsync, after the rename */
                CHECK(strstr(h5tier_errmsg(), "directory") && exists(dst));
                CHECK(unlink(dst) == 0);
                continue;
            }
            if (r >= 0) {
                CHECKF(!strcmp(calls[c], "open"), "%s fault #%ld was ignored", calls[c], nth);
                CHECK(unlink(dst) == 0);
                continue;
            }
            if (!strcmp(calls[c], "pwrite"))
                CHECKF(r == -ENOSPC && strstr(h5tier_errmsg(), "No space"), "pwrite fault: %d %s", r,
                       h5tier_errmsg());
            CHECKF(!exists(dst), "destination left after %s fault #%ld", calls[c], nth);
            CHECKF(temps() == 0, "temporary file left after %s fault #%ld", calls[c], nth);
        }
    }

    /* ---- through the CLI ---- */
    int r;
    char out[4096];
    const char *cli = tu_cli();
    CHECK(tu_sh(out, sizeof out, "'%s' persist '%s' '%s'", cli, tu_path("missing.h5"), dst) == 1);
    CHECKF(strstr(out, "missing.h5") && strstr(out, "hint:"), "%s", out);
    FILE *fp = fopen(tu_path("junk.h5"), "w");
    fputs("not hdf5 at all\n", fp);
    fclose(fp);
    CHECK(tu_sh(out, sizeof out, "'%s' persist '%s' '%s'", cli, tu_path("junk.h5"), dst) == 1);
    CHECKF(strstr(out, "not an HDF5 file"), "%s", out);
    CHECK(tu_sh(out, sizeof out, "'%s' persist a.h5", cli) == 2);
    CHECK(tu_sh(out, sizeof out, "'%s' persist a.h5 b.h5 --compact-below 70000", cli) == 2);
    CHECK(tu_sh(out, sizeof out, "'%s' persist a.h5 b.h5 --compress 11", cli) == 2);
    CHECK(tu_sh(out, sizeof out, "'%s' persist --help", cli) == 0 && strstr(out, "examples:"));

    /* a source on disk with 4 MiB of data */
    const char *big = tu_path("big.h5");
    hid_t fb = H5Fcreate(big, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 1 << 20;
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(fb, "data", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int *buf = malloc(n * sizeof *buf);
    for (hsize_t i = 0; i < n; i++)
        buf[i] = (int)(i * 2654435761u);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(fb);

    CHECK(tu_sh(out, sizeof out, "'%s' persist '%s' '%s' --object /nope", cli, big, dst) == 1);
    CHECKF(strstr(out, "'/nope'") && strstr(out, "hint:"), "%s", out);
    fp = fopen(dst, "w");
    fclose(fp);
    CHECK(tu_sh(out, sizeof out, "'%s' persist '%s' '%s'", cli, big, dst) == 1);
    CHECKF(strstr(out, "--force"), "%s", out);
    CHECK(unlink(dst) == 0);

    /* real disk full: files may not grow past 1 MiB, SIGXFSZ ignored so
     * HDF5's writes fail with EFBIG */
    r = tu_sh(out, sizeof out, "trap '' XFSZ; prlimit --fsize=1048576 '%s' persist '%s' '%s' --memory 256k",
                  cli, big, dst);
    tu_log("fsize limit: exit %d: %s", r, out);
    CHECK(r == 1);
    CHECK(strstr(out, "h5tier persist:"));
    CHECK(!exists(dst) && temps() == 0);

    /* killed at the rename: nothing under the final name */
    r = tu_sh(out, sizeof out, "H5TIER_FAULT=rename:1:0:kill '%s' persist '%s' '%s'", cli, big, dst);
    CHECK(r == 128 + 9);
    CHECK(!exists(dst));
    CHECKF(temps() == 1, "a kill at the rename leaves the temporary file: %d", temps());

    /* and without limits it works; the dead process's temporary file goes */
    CHECK(tu_sh(out, sizeof out, "'%s' persist '%s' '%s' --memory 256k", cli, big, dst) == 0);
    CHECK(tu_sh(NULL, 0, "h5diff '%s' '%s'", big, dst) == 0);
    CHECKF(temps() == 0, "%d temporary files left", temps());
    H5Fclose(f);
    return 0;
}
