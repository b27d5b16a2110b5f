/*
 * Proves the shared helpers behave: size parsing and formatting (units,
 * garbage, overflow), the dirty-page map (marks, runs, growth), shm name
 * validation/derivation (refuses traversal and hidden names), error text.
 */
#include <errno.h>
#include <string.h>

#include "common/internal.h"
#include "tutil.h"

static void sizes(void)
{
    uint64_t v;
    CHECK_OK(h5tier_parse_size("4096", &v)); CHECK(v == 4096);
    CHECK_OK(h5tier_parse_size("64k", &v)); CHECK(v == 65536);
    CHECK_OK(h5tier_parse_size("64KiB", &v)); CHECK(v == 65536);
    CHECK_OK(h5tier_parse_size("1.5G", &v)); CHECK(v == 1610612736ull);
    CHECK_OK(h5tier_parse_size(".5k", &v)); CHECK(v == 512);
    CHECK(h5tier_parse_size("1.5e3", &v) == -EINVAL);            /* no exponents (fuzz finding: e99999 reached inf) */
    CHECK(h5tier_parse_size("999.9e99999", &v) == -EINVAL);
    CHECK_OK(h5tier_parse_size("2MB", &v)); CHECK(v == 2097152);
    CHECK_OK(h5tier_parse_size(" 7 ", &v)); CHECK(v == 7);
    CHECK(h5tier_parse_size("abc", &v) == -EINVAL);
    CHECK(strstr(h5tier_errmsg(), "abc") != NULL);
    CHECK(h5tier_parse_size("12q", &v) == -EINVAL);
    CHECK(h5tier_parse_size("12kx", &v) == -EINVAL);
    CHECK(h5tier_parse_size("99999999999999999999999", &v) == -ERANGE);
    CHECK(h5tier_parse_size("9000000P", &v) == -ERANGE);
    char buf[32];
    CHECK(!strcmp(h5tier_format_size(1536, buf, sizeof buf), "1.50 KiB"));
    CHECK(!strcmp(h5tier_format_size(12, buf, sizeof buf), "12 B"));
}

static void pagemap(void)
{
    h5tier_pagemap_t pm;
    CHECK(h5tier__pagemap_init(&pm, 3000, 0) == -EINVAL);
    CHECK_OK(h5tier__pagemap_init(&pm, 4096, 10 * 4096));
    size_t p = 0, n = 0;
    CHECK(!h5tier__pagemap_next_run(&pm, &p, &n));
    CHECK_OK(h5tier__pagemap_mark(&pm, 4095, 2)); /* pages 0 and 1 */
    CHECK_OK(h5tier__pagemap_mark(&pm, 5 * 4096, 1));
    CHECK_OK(h5tier__pagemap_mark(&pm, 1000ull * 4096 + 7, 3 * 4096)); /* grows: 1000..1003 */
    CHECK(pm.ndirty == 2 + 1 + 4);
    p = 0;
    CHECK(h5tier__pagemap_next_run(&pm, &p, &n) && p == 0 && n == 2);
    p += n;
    CHECK(h5tier__pagemap_next_run(&pm, &p, &n) && p == 5 && n == 1);
    p += n;
    CHECK(h5tier__pagemap_next_run(&pm, &p, &n) && p == 1000 && n == 4);
    p += n;
    CHECK(!h5tier__pagemap_next_run(&pm, &p, &n));
    CHECK_OK(h5tier__pagemap_mark(&pm, 0, 4096)); /* already dirty: count unchanged */
    CHECK(pm.ndirty == 7);
    CHECK_OK(h5tier__pagemap_mark_all(&pm, 200 * 4096));
    p = 0;
    CHECK(h5tier__pagemap_next_run(&pm, &p, &n) && p == 0 && n == 200);
    h5tier__pagemap_clear(&pm);
    p = 0;
    CHECK(!h5tier__pagemap_next_run(&pm, &p, &n) && pm.ndirty == 0);
    h5tier__pagemap_free(&pm);
}

static void names(void)
{
    char out[H5TIER_SHM_NAME_MAX + 2];
    CHECK_OK(h5tier__shm_name_canon("run1", out, sizeof out)); CHECK(!strcmp(out, "/run1"));
    CHECK_OK(h5tier__shm_name_canon("/run-1.h5", out, sizeof out)); CHECK(!strcmp(out, "/run-1.h5"));
    CHECK(h5tier__shm_name_canon("", out, sizeof out) == -EINVAL);
    CHECK(h5tier__shm_name_canon(NULL, out, sizeof out) == -EINVAL);
    CHECK(h5tier__shm_name_canon("/", out, sizeof out) == -EINVAL);
    CHECK(h5tier__shm_name_canon("../etc", out, sizeof out) == -EINVAL);
    CHECK(h5tier__shm_name_canon("a/b", out, sizeof out) == -EINVAL);
    CHECK(strstr(h5tier_errmsg(), "a/b") && strstr(h5tier_errmsg(), "forbidden"));
    CHECK(h5tier__shm_name_canon(".hidden", out, sizeof out) == -EINVAL);
    CHECK_OK(h5tier__shm_name_canon("sp ace", out, sizeof out)); CHECK(!strcmp(out, "/sp ace"));
    CHECK(h5tier__shm_name_canon("tab\there", out, sizeof out) == -EINVAL);
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK(h5tier__shm_name_canon(longname, out, sizeof out) == -ENAMETOOLONG);
    CHECK_OK(h5tier__shm_name_from_path("shm:abc", out, sizeof out)); CHECK(!strcmp(out, "/abc"));
    CHECK_OK(h5tier__shm_name_from_path("/dev/shm/abc", out, sizeof out)); CHECK(!strcmp(out, "/abc"));
    CHECK_OK(h5tier__shm_name_from_path("/home/u/data/run.h5", out, sizeof out)); CHECK(!strcmp(out, "/run.h5"));
    CHECK(h5tier__shm_name_from_path("/home/u/dir/", out, sizeof out) == -EINVAL);
}

static void errors(void)
{
    CHECK(!strcmp(h5tier_strerror(-H5TIER_ENOTHDF5), "not an HDF5 file"));
    CHECK(!strcmp(h5tier_strerror(H5TIER_ELAPPED), h5tier_strerror(-H5TIER_ELAPPED)));
    CHECK(strstr(h5tier_strerror(-ENOSPC), "space") != NULL);
    CHECK(!strcmp(h5tier_strerror(0), "success"));
    CHECK(!strcmp(h5tier_strerror(H5TIER_EBASE + 999), "unknown h5tier error"));
    CHECK(h5tier__fail(ENOENT, "shm object '%s'", "x") == -ENOENT);
    CHECK(strstr(h5tier_errmsg(), "shm object 'x'") && strstr(h5tier_errmsg(), "No such file"));
    /* a push lands on the HDF5 error stack under the h5tier class */
    H5Eclear2(H5E_DEFAULT);
    CHECK(H5TIER_PUSH(H5TIER_AREA_SHM, EIO, "file '%s' at offset %d", "f", 42) == -EIO);
    CHECK(H5Eget_num(H5E_DEFAULT) == 1);
    char buf[64];
    CHECK(H5Eget_class_name(h5tier__h5e_class(), buf, sizeof buf) > 0 && !strcmp(buf, "h5tier"));
    H5Eclear2(H5E_DEFAULT);
}

int main(void)
{
    sizes();
    pagemap();
    names();
    errors();
    return 0;
}
