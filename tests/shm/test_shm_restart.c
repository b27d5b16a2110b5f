/*
 * Proves that H5Pset_fapl_shm selects the shm driver after every library
 * restart (H5close), whatever driver registers first afterwards (issue 8,
 * item 12): the driver id is forgotten by the driver's terminate callback,
 * so a stale id that now names the core (or family, or sec2) driver is never
 * installed.  For each order -- H5close then core then shm, shm then core,
 * family then shm, two restarts in a row, H5FDunregister of the shm id --
 * a file created through the shm fapl must (1) report the shm driver on
 * its fapl, (2) exist as /dev/shm/NAME after close holding the dataset
 * (checked with h5dump), and (3) with a backing file, have written the
 * same bytes to that disk file (h5dump again).  A file still open at H5close
 * reaches /dev/shm and its backing file, and shm works again afterwards.  Before the fix the core
 * driver was silently installed and nothing reached /dev/shm.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmtest.h"

static int values[16];

/* Create NAME through a fresh shm fapl (after `before` registered whatever it
 * registers), write /d, close, and check the object and the backing file. */
static void shm_roundtrip(const char *tag, int backed)
{
    char *name = tu_shm_name(tag);
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.increment = 1 << 20;
    const char *bpath = NULL;
    if (backed) {
        bpath = tu_path(tag);
        snprintf(cfg.backing_file, sizeof cfg.backing_file, "%s", bpath);
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(fapl >= 0);
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    hid_t drv = H5Pget_driver(fapl);
    CHECKF(drv == h5tier_shm_driver_id(), "%s: fapl driver %lld is not the shm driver %lld", tag, (long long)drv,
           (long long)h5tier_shm_driver_id());
    CHECKF(drv != H5FD_CORE && drv != H5FD_SEC2 && drv != H5FD_FAMILY, "%s: fapl got a built-in driver", tag);
    h5tier_shm_config_t back;
    CHECK(H5Pget_fapl_shm(fapl, &back) >= 0 && strcmp(back.name, name) == 0);

    hid_t f = H5Fcreate("ignored.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hid_t fa = H5Fget_access_plist(f);
    CHECKF(H5Pget_driver(fa) == h5tier_shm_driver_id(), "%s: open file uses driver %lld", tag,
           (long long)H5Pget_driver(fa));
    H5Pclose(fa);
    CHECKF(st_shm_exists(name), "%s: /dev/shm/%s does not exist while the file is open", tag, name);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){16}, NULL);
    hid_t d = H5Dcreate2(f, "d", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
    CHECK(access("ignored.h5", F_OK) != 0);

    char out[8192];
    int st = tu_sh(out, sizeof out, "h5dump -d /d '%s'", st_shm_path(name));
    CHECKF(st == 0 && strstr(out, "(0): 1000, 1001, 1002") && strstr(out, "1015"), "%s: h5dump /dev/shm/%s (%d): %s",
           tag, name, st, out);
    if (backed) {
        st = tu_sh(out, sizeof out, "h5dump -d /d %s", bpath);
        CHECKF(st == 0 && strstr(out, "(0): 1000, 1001, 1002") && strstr(out, "1015"), "%s: h5dump backing %s (%d): %s",
               tag, bpath, st, out);
    }
    tu_log("%s: shm driver selected, /dev/shm/%s%s holds the data", tag, name, backed ? " and its backing file" : "");
}

/* An in-memory core file works as before, and makes nothing in /dev/shm. */
static void core_file(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0);
    CHECK(H5Pget_driver(fapl) == H5FD_CORE);
    h5tier_shm_config_t c;
    H5E_BEGIN_TRY { CHECK(H5Pget_fapl_shm(fapl, &c) < 0); } H5E_END_TRY;
    char nm[64];
    snprintf(nm, sizeof nm, "h5t-restart-core-%d", (int)getpid());
    hid_t f = H5Fcreate(nm, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
    CHECK(!st_shm_exists(nm) && access(nm, F_OK) != 0);
}

/* A file left open at H5close: the library closes it, and the driver's close
 * (persist included) runs before its class is freed. */
static void open_at_close(void)
{
    char *name = tu_shm_name("restart-open");
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    const char *bpath = tu_path("restart-open.h5");
    snprintf(cfg.backing_file, sizeof cfg.backing_file, "%s", bpath);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    hid_t f = H5Fcreate("ignored.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){16}, NULL);
    hid_t d = H5Dcreate2(f, "d", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
    CHECK(H5close() >= 0); /* file, dataset, space and fapl still open */
    char out[8192];
    int st = tu_sh(out, sizeof out, "h5dump -d /d '%s'", st_shm_path(name));
    CHECKF(st == 0 && strstr(out, "(0): 1000, 1001, 1002"), "open at H5close: h5dump /dev/shm/%s (%d): %s", name, st,
           out);
    st = tu_sh(out, sizeof out, "h5dump -d /d %s", bpath);
    CHECKF(st == 0 && strstr(out, "(0): 1000, 1001, 1002"), "open at H5close: h5dump backing (%d): %s", st, out);
    tu_log("a file left open at H5close reached /dev/shm/%s and its backing file", name);
}

static void family_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_family(fapl, 1 << 20, H5P_DEFAULT) >= 0);
    H5Pclose(fapl);
}

int main(void)
{
    for (int i = 0; i < 16; i++)
        values[i] = 1000 + i;

    /* baseline: first use in the process */
    shm_roundtrip("restart-first", 0);

    /* H5close, then core registers first, then shm */
    CHECK(H5close() >= 0);
    core_file();
    shm_roundtrip("restart-core-shm", 0);
    shm_roundtrip("restart-core-shm-b", 1);

    /* H5close, then shm first, then core */
    CHECK(H5close() >= 0);
    shm_roundtrip("restart-shm-core", 1);
    core_file();
    shm_roundtrip("restart-shm-core2", 0);

    /* H5close, then family (which registers sec2 too), then core, then shm */
    CHECK(H5close() >= 0);
    family_fapl();
    core_file();
    shm_roundtrip("restart-fam-shm", 1);

    /* two restarts in a row with nothing in between, then core, then shm */
    CHECK(H5close() >= 0);
    CHECK(H5open() >= 0);
    CHECK(H5close() >= 0);
    core_file();
    shm_roundtrip("restart-twice", 0);

    /* the shm driver unregistered by the application, core registered in
     * its place, then shm again */
    CHECK(H5FDunregister(h5tier_shm_driver_id()) >= 0);
    CHECK(H5close() >= 0);
    core_file();
    shm_roundtrip("restart-unreg", 1);

    /* a file still open at H5close, then core first, then shm again */
    open_at_close();
    core_file();
    shm_roundtrip("restart-after-open", 1);
    tu_log("every order selects the shm driver");
    return 0;
}
