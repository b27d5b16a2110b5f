/*
 * Proves persist reads shared-memory sources: a file made with the h5tier
 * shm driver (the seed's 2x3 dataset created chunked 1024x1024 unlimited,
 * plus a 1 MB dataset and a group with attributes) is persisted by the C
 * API straight from the writer's open handle, and by the CLI as
 * `h5tier persist shm:NAME DST` (a read-only reader of the shm object) with
 * the same result: h5diff finds no difference, /2x3 is COMPACT, the big one
 * CONTIGUOUS, and --dry-run names the decisions.  A missing shm name gives
 * exit 1 with a hint and no file.
 */
#include <string.h>
#include <sys/stat.h>

#include "h5tier_persist.h"
#include "h5tier_shm.h"
#include "tutil.h"

int main(void)
{
    tu_h5_quiet();
    char *name = tu_shm_name("persist");
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.increment = 8 << 20;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECKF(f >= 0, "shm create: %s", h5tier_errmsg());

    int data[] = {0, 1, 2, 3, 4, 5};
    hsize_t dims[2] = {2, 3}, maxd[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
    hid_t sp = H5Screate_simple(2, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_chunk(dcpl, 2, (hsize_t[]){1024, 1024}) >= 0);
    hid_t d = H5Dcreate2(f, "2x3", H5T_NATIVE_INT32, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    CHECK(H5Dset_extent(d, (hsize_t[]){2000, 3000}) >= 0 && H5Dset_extent(d, dims) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    hid_t g = H5Gcreate2(f, "results", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 250000;
    sp = H5Screate_simple(1, &n, NULL);
    float *big = malloc(n * sizeof *big);
    for (hsize_t i = 0; i < n; i++)
        big[i] = (float)i * 0.25f;
    d = H5Dcreate2(g, "big", H5T_IEEE_F32BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, big) >= 0);
    free(big);
    H5Dclose(d);
    H5Sclose(sp);
    sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(g, "run", H5T_STD_I64BE, sp, H5P_DEFAULT, H5P_DEFAULT);
    long long run = 7;
    CHECK(H5Awrite(a, H5T_NATIVE_LLONG, &run) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Gclose(g);
    CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);

    /* the C API from the writer's handle */
    const char *api = tu_path("api.h5");
    CHECKF(h5tier_persist(f, api, NULL) == 4, "%s", h5tier_errmsg());
    CHECK(H5Fclose(f) >= 0); /* the shm object stays (KEEP) */
    H5Pclose(fapl);

    /* the CLI as a reader */
    char out[8192];
    const char *cli_out = tu_path("cli.h5");
    int r = tu_sh(out, sizeof out, "'%s' persist shm:%s '%s' --dry-run", tu_cli(), name, cli_out);
    CHECKF(r == 0, "dry run exit %d: %s", r, out);
    CHECKF(strstr(out, "/2x3  int32 2x3 = 24 B  compact (below 60000 B); created chunked 1024x1024 unlimited") &&
           strstr(out, "/results/big  float32be 250000 = 1000000 B  contiguous"),
           "%s", out);
    r = tu_sh(out, sizeof out, "'%s' persist shm:%s '%s'", tu_cli(), name, cli_out);
    CHECKF(r == 0, "persist exit %d: %s", r, out);
    CHECK(tu_sh(out, sizeof out, "h5diff -r '%s' '%s'", api, cli_out) == 0);
    CHECK(tu_sh(out, sizeof out, "h5diff -r /dev/shm/%s '%s'", name, cli_out) == 0);
    CHECK(tu_sh(out, sizeof out, "h5dump -p -H -d /2x3 '%s'", cli_out) == 0 && strstr(out, "COMPACT"));
    CHECK(tu_sh(out, sizeof out, "h5dump -p -H -d /results/big '%s'", cli_out) == 0 && strstr(out, "CONTIGUOUS"));
    struct stat st;
    CHECK(stat(cli_out, &st) == 0 && st.st_size < 1100000);

    /* a missing shm object */
    r = tu_sh(out, sizeof out, "'%s' persist shm:no-such-%s '%s'", tu_cli(), name, tu_path("none.h5"));
    CHECKF(r == 1 && strstr(out, "hint:"), "exit %d: %s", r, out);
    CHECK(stat(tu_path("none.h5"), &st) != 0);
    free(name);
    return 0;
}
