/*
 * Proves the shm driver's configuration string (HDF5_DRIVER_CONFIG,
 * H5Pset_driver_by_name) parses as documented: every key sets its field,
 * spaces and empty items are ignored, and each kind of bad item (unknown key,
 * no '=', bad size, bad mode, bad yes/no, too long a name, a result the
 * struct check refuses) fails with -EINVAL/-ENAMETOOLONG and a message naming
 * the item.  Against HDF5 1.14 it also proves the string reaches the driver
 * through H5Pset_driver_by_name (the file lands in the named shm object, read
 * back equal), that a bad string makes H5Fopen fail with our message on the
 * HDF5 error stack, and that H5Fdelete (the 1.14 `del` callback) removes the
 * object and then reports that it is gone.
 */
#include <string.h>
#include <unistd.h>

#include "shm/plugin.h"
#include "shmtest.h"
#include "tutil.h"

static void bad(const char *text, int want, const char *needle)
{
    h5tier_shm_config_t c;
    int rc = h5tier__shm_config_parse(text, &c);
    CHECKF(rc == -want, "'%s' gave %d, expected %d", text, rc, -want);
    CHECKF(strstr(h5tier_errmsg(), needle), "'%s': message '%s' lacks '%s'", text, h5tier_errmsg(), needle);
    tu_log("ok: '%.40s' -> %s", text, h5tier_errmsg());
}

int main(void)
{
    h5tier_shm_config_t c, d;
    h5tier_shm_config_init(&d);
    CHECK_OK(h5tier__shm_config_parse(NULL, &c));
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    CHECK_OK(h5tier__shm_config_parse(" , ,", &c));
    CHECK(memcmp(&c, &d, sizeof c) == 0);

    CHECK_OK(h5tier__shm_config_parse(" name = run1 , backing=/data/run 1.h5,increment=2MiB, page_size=8k,"
                                      "on_close=unlink,mode=0640,populate=no,populate_ahead=off,"
                                      "persist_on_flush=0,save=rename,",
                                      &c));
    CHECK(strcmp(c.name, "run1") == 0);
    CHECK(strcmp(c.backing_file, "/data/run 1.h5") == 0);
    CHECK(c.increment == 2u << 20 && c.page_size == 8192);
    CHECK(c.on_close == H5TIER_SHM_UNLINK && c.mode == 0640);
    CHECK(c.flags == (H5TIER_SHM_RENAME_SAVE | H5TIER_SHM_NO_PERSIST_ON_FLUSH));
    CHECK_OK(h5tier__shm_config_parse("populate=yes,persist_on_flush=on,save=journal,on_close=keep", &c));
    CHECK(c.flags == (H5TIER_SHM_POPULATE | H5TIER_SHM_POPULATE_AHEAD) && c.on_close == H5TIER_SHM_KEEP);
    tu_log("ok: every key parsed");

    bad("colour=blue", EINVAL, "unknown key 'colour'");
    bad("name", EINVAL, "item 'name' is not key=value");
    bad("increment=lots", EINVAL, "increment='lots' is not a size");
    bad("mode=0999", EINVAL, "mode='0999'");
    bad("mode=01777", EINVAL, "mode='01777'");
    bad("populate=maybe", EINVAL, "populate='maybe' is not a yes/no");
    bad("on_close=burn", EINVAL, "on_close='burn'");
    bad("save=tape", EINVAL, "save='tape'");
    bad("page_size=5000", EINVAL, "page size 5000");
    bad("name=../etc/passwd", EINVAL, "bad name");
    char longname[400];
    memset(longname, 'x', sizeof longname);
    memcpy(longname, "name=", 5);
    longname[sizeof longname - 1] = 0;
    bad(longname, ENAMETOOLONG, "name is");
    char *huge = malloc(20000);
    CHECK(huge);
    memset(huge, ',', 19999);
    huge[19999] = 0;
    bad(huge, ENAMETOOLONG, "longer than");
    free(huge);

#if defined(H5FD_CLASS_VERSION)
    tu_h5_quiet();
    char *name = tu_shm_name("cfgstr");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "name=%s,on_close=keep,increment=1MiB", name);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(fapl >= 0);
    CHECK(h5tier_shm_driver_id() >= 0); /* registered: found by name without a plugin path */
    CHECK(H5Pset_driver_by_name(fapl, H5TIER_SHM_DRIVER_NAME, cfg) >= 0);
    int v[64], w[64];
    for (int i = 0; i < 64; i++)
        v[i] = i * i;
    hid_t f = H5Fcreate(tu_path("not-used.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECKF(f >= 0, "H5Fcreate with the config string: %s", st_errstack());
    hsize_t n = 64;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(f, "v", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    CHECK(H5Fclose(f) >= 0);
    CHECKF(st_shm_exists(name), "the config string's name=%s was not used", name);
    CHECK(access(tu_path("not-used.h5"), F_OK) != 0);
    f = H5Fopen("whatever.h5", H5F_ACC_RDONLY, fapl);
    CHECK(f >= 0);
    ds = H5Dopen2(f, "v", H5P_DEFAULT);
    CHECK(ds >= 0 && H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
    CHECK(memcmp(v, w, sizeof v) == 0);
    H5Dclose(ds);
    H5Fclose(f);
    tu_log("ok: H5Pset_driver_by_name string reached the driver");

    hid_t badfapl = H5Pcreate(H5P_FILE_ACCESS);
    snprintf(cfg, sizeof cfg, "name=%s,colour=blue", name);
    CHECK(H5Pset_driver_by_name(badfapl, H5TIER_SHM_DRIVER_NAME, cfg) >= 0);
    H5E_BEGIN_TRY { f = H5Fopen("whatever.h5", H5F_ACC_RDONLY, badfapl); } H5E_END_TRY;
    CHECK(f < 0);
    f = H5Fopen("whatever.h5", H5F_ACC_RDONLY, badfapl);
    CHECK(f < 0);
    const char *stack = st_errstack();
    CHECKF(strstr(stack, "unknown key 'colour'"), "error stack lacks the key: %s", stack);
    H5Pclose(badfapl);
    tu_log("ok: bad string refused: %s", stack);

    CHECKF(H5Fdelete("whatever.h5", fapl) >= 0, "H5Fdelete: %s", st_errstack());
    CHECK(!st_shm_exists(name));
    herr_t r;
    H5E_BEGIN_TRY { r = H5Fdelete("whatever.h5", fapl); } H5E_END_TRY;
    CHECK(r < 0);
    H5Pclose(fapl);
    tu_log("ok: H5Fdelete removed %s, a second delete fails", name);
#else
    tu_log("HDF5 before 1.14: driver-by-name and H5Fdelete parts not applicable");
#endif
    return 0;
}
