/*
 * Proves the C API details: a core-driver source (with backing store, so
 * h5diff can compare afterwards) persisted with a 4 KiB memory budget
 * copies 1-d to 4-d datasets whose single rows exceed the budget (slabs
 * split along inner dimensions), variable-length strings and sequences
 * (reclaimed per slab: ASan/LSan would see leaks), and big-endian data,
 * byte for byte; the progress callback is monotone and ends at its total;
 * 60000 B of compact data next to a 200-member compound type (a 12 KB
 * datatype message) still fits the object header; compression picks chunked
 * with deflate; h5tier_persist_to writes into an open group of an existing
 * file, merges overlapping --object paths, and refuses to overwrite an
 * existing dataset (-EEXIST naming it); h5tier_persist_chunk_shape fills
 * the fastest-varying dimensions first and clips to the extent; the output
 * is in the 1.8 format (superblock 2) unless earliest_format asks for 0.
 */
#include <errno.h>
#include <string.h>

#include "h5tier_persist.h"
#include "tutil.h"

static uint64_t last_done, last_total, ncalls;
static int monotone = 1;
static void progress(uint64_t done, uint64_t total, void *arg)
{
    (void)arg;
    if (done < last_done || done > total)
        monotone = 0;
    last_done = done;
    last_total = total;
    ncalls++;
}

static char fallback_reason[256];
static int plan_cb(const h5tier_persist_plan_t *p, void *arg)
{
    (void)arg;
    if (p->kind == H5TIER_PERSIST_DATASET && !strcmp(p->path, "/wide_type"))
        snprintf(fallback_reason, sizeof fallback_reason, "%s %s", h5tier_persist_layout_name(p->layout), p->reason);
    return 0;
}

static void dset(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                 const void *data)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0);
    if (data)
        CHECK(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
}

int main(void)
{
    tu_h5_quiet();
    /* chunk shape rule */
    hsize_t c[4];
    CHECK_OK(h5tier_persist_chunk_shape(2, (hsize_t[]){1000, 1000}, 4, 1 << 20, c));
    CHECK(c[0] == 262 && c[1] == 1000);
    CHECK_OK(h5tier_persist_chunk_shape(2, (hsize_t[]){2, 3}, 4, 1 << 20, c));
    CHECK(c[0] == 2 && c[1] == 3);
    CHECK_OK(h5tier_persist_chunk_shape(3, (hsize_t[]){5, 0, 10000000}, 8, 1 << 20, c));
    CHECK(c[0] == 1 && c[1] == 1 && c[2] == 131072);
    CHECK(h5tier_persist_chunk_shape(0, c, 4, 1, c) == -EINVAL);

    const char *srcpath = tu_path("src.h5");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_core(fapl, 1 << 20, 1) >= 0);
    hid_t f = H5Fcreate(srcpath, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);

    /* 1-d .. 4-d, rows larger than the 4 KiB budget */
    static double d1[20000];
    static int32_t d2[8][3000];
    static int16_t d3[3][4][2000];
    static uint8_t d4[2][3][4][5000];
    for (int i = 0; i < 20000; i++)
        d1[i] = i * 0.5;
    for (int i = 0; i < 8 * 3000; i++)
        (&d2[0][0])[i] = i * 7;
    for (int i = 0; i < 3 * 4 * 2000; i++)
        (&d3[0][0][0])[i] = (int16_t)(i * 3);
    for (int i = 0; i < 2 * 3 * 4 * 5000; i++)
        (&d4[0][0][0][0])[i] = (uint8_t)(i * 13);
    dset(f, "d1", H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, 1, (hsize_t[]){20000}, d1);
    dset(f, "d2", H5T_STD_I32BE, H5T_NATIVE_INT32, 2, (hsize_t[]){8, 3000}, d2);
    dset(f, "d3", H5T_STD_I16LE, H5T_NATIVE_INT16, 3, (hsize_t[]){3, 4, 2000}, d3);
    dset(f, "d4", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, (hsize_t[]){2, 3, 4, 5000}, d4);
    double sc = 42.5;
    hid_t s0 = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, "scalar", H5T_IEEE_F64LE, s0, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &sc) >= 0);
    H5Dclose(d);

    /* variable-length strings and sequences, 3000 of each (many slabs) */
    enum { NV = 3000 };
    static char *strs[NV];
    static hvl_t seqs[NV];
    static int pool[NV * 8];
    for (int i = 0; i < NV; i++) {
        strs[i] = malloc(48);
        snprintf(strs[i], 48, "string number %d%s", i, i % 3 ? "" : " with a longer tail");
        seqs[i].len = (size_t)(i % 8);
        seqs[i].p = &pool[i * 8];
        for (int k = 0; k < 8; k++)
            pool[i * 8 + k] = i * 10 + k;
    }
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    dset(f, "vstr", st, st, 1, (hsize_t[]){NV}, strs);
    hid_t vt = H5Tvlen_create(H5T_STD_I32BE), vm = H5Tvlen_create(H5T_NATIVE_INT);
    dset(f, "vseq", vt, vm, 1, (hsize_t[]){NV}, seqs);
    for (int i = 0; i < NV; i++)
        free(strs[i]);

    /* a compound type so large that compact data no longer fits the header */
    hid_t wt = H5Tcreate(H5T_COMPOUND, 200 * 4);
    for (int i = 0; i < 200; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "member_with_a_rather_long_name_number_%03d", i);
        H5Tinsert(wt, nm, (size_t)i * 4, H5T_STD_I32LE);
    }
    static char wide[75][800];
    memset(wide, 7, sizeof wide);
    dset(f, "wide_type", wt, wt, 1, (hsize_t[]){75}, wide); /* 60000 B */

    /* a chunked, compressed source (8x5 chunks): 4 KiB slabs are cut to whole chunks (200 rows) */
    hid_t cdcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(cdcpl, 2, (hsize_t[]){8, 5});
    H5Pset_deflate(cdcpl, 1);
    hid_t csp = H5Screate_simple(2, (hsize_t[]){2000, 5}, NULL);
    d = H5Dcreate2(f, "chunky", H5T_STD_I32LE, csp, H5P_DEFAULT, cdcpl, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, d2) >= 0);
    H5Dclose(d);
    H5Sclose(csp);
    H5Pclose(cdcpl);

    hid_t g = H5Gcreate2(f, "a", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g2 = H5Gcreate2(g, "b", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    dset(g2, "x", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, (hsize_t[]){3000}, d2);
    H5Gclose(g2);
    H5Gclose(g);

    /* ---- persist everything with a 4 KiB budget and compact up to 65000 B */
    const char *out = tu_path("out.h5");
    h5tier_persist_opts_t o;
    h5tier_persist_opts_init(&o);
    o.memory = 4096;
    o.compact_below = 65000;
    o.progress = progress;
    o.plan_cb = plan_cb;
    int n = h5tier_persist(f, out, &o);
    CHECKF(n == 13, "persisted %d objects: %s", n, h5tier_errmsg());
    tu_log("progress: %llu calls, %llu / %llu; wide_type: %s", (unsigned long long)ncalls,
           (unsigned long long)last_done, (unsigned long long)last_total, fallback_reason);
    CHECK(monotone && last_done == last_total && ncalls > 100);
    CHECKF(strstr(fallback_reason, "compact below 65000 B"), "%s", fallback_reason);

    /* the oldest file format on request: same content */
    const char *old16 = tu_path("old16.h5");
    h5tier_persist_opts_init(&o);
    o.earliest_format = 1;
    CHECK(h5tier_persist(f, old16, &o) == 13);

    /* compression */
    const char *gz = tu_path("gz.h5");
    h5tier_persist_opts_init(&o);
    o.compress_level = 4;
    o.compact_below = 0;
    CHECK(h5tier_persist(f, gz, &o) == 13);

    char buf0[4096];

    /* into an open group of another file, overlapping paths merged */
    const char *into = tu_path("into.h5");
    hid_t fd = H5Fcreate(into, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dg = H5Gcreate2(fd, "into/here", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    const char *objs[] = {"/a/b", "/a", "/d2", "/a/b/x"};
    h5tier_persist_opts_init(&o);
    o.objects = objs;
    o.nobjects = 4;
    n = h5tier_persist_to(f, dg, &o);
    CHECKF(n == 4, "persist_to: %d %s", n, h5tier_errmsg()); /* a/b, a, d2, a/b/x once */
    CHECK(H5Lexists(dg, "a/b/x", H5P_DEFAULT) > 0 && H5Lexists(dg, "d2", H5P_DEFAULT) > 0);
    CHECK(H5Lexists(dg, "d1", H5P_DEFAULT) == 0);
    n = h5tier_persist_to(f, dg, &o);
    CHECK(n == -EEXIST);
    tu_log("again: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), "a/b/x"));
    H5Gclose(dg);
    H5Pclose(lcpl);
    H5Fclose(fd);

    /* a link reached twice (--object /g --object /g/soft) is persisted once */
    {
        const char *lsrc = tu_path("links-src.h5"), *ldst = tu_path("links-dst.h5");
        hid_t lf = H5Fcreate(lsrc, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hid_t lg = H5Gcreate2(lf, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(lg >= 0 && H5Lcreate_soft("/g/target", lg, "soft", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        CHECK(H5Lcreate_external("other.h5", "/x", lg, "ext", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        H5Gclose(lg);
        const char *lobjs[] = {"/g", "/g/soft", "/g/ext", "/g/soft"};
        h5tier_persist_opts_init(&o);
        o.objects = lobjs;
        o.nobjects = 4;
        n = h5tier_persist(lf, ldst, &o);
        CHECKF(n == 3, "links persisted %d: %s", n, h5tier_errmsg()); /* /g, /g/soft, /g/ext once each */
        H5Fclose(lf);
        CHECK(tu_sh(buf0, sizeof buf0, "h5ls -r '%s'", ldst) == 0 && strstr(buf0, "Soft Link {/g/target}") &&
              strstr(buf0, "External Link {other.h5//x}"));
    }

    H5Fclose(f); /* writes the backing store for h5diff */
    H5Pclose(fapl);
    H5Sclose(s0);
    H5Tclose(st);
    H5Tclose(vt);
    H5Tclose(vm);
    H5Tclose(wt);

    char buf[8192];
    int r = tu_sh(buf, sizeof buf, "h5diff -r '%s' '%s'", srcpath, out);
    CHECKF(r == 0, "h5diff: %s", buf);
    CHECK(tu_sh(NULL, 0, "h5diff -r '%s' '%s'", srcpath, gz) == 0);
    CHECK(tu_sh(NULL, 0, "h5diff -r '%s' '%s'", srcpath, old16) == 0);
    CHECK(tu_sh(buf, sizeof buf, "h5dump -B -H '%s'", old16) == 0 && strstr(buf, "SUPERBLOCK_VERSION 0"));
    CHECK(tu_sh(buf, sizeof buf, "h5dump -B -H '%s'", out) == 0 && strstr(buf, "SUPERBLOCK_VERSION 2"));
    CHECK(tu_sh(NULL, 0, "h5diff '%s' '%s' /a/b/x /into/here/a/b/x", srcpath, into) == 0);
    CHECK(tu_sh(NULL, 0, "h5dump -p -H -d /wide_type '%s' | grep -q COMPACT", out) == 0);
    CHECK(tu_sh(buf, sizeof buf, "h5dump -p -H -d /d1 '%s'", out) == 0 && strstr(buf, "H5T_IEEE_F64BE") &&
          strstr(buf, "CONTIGUOUS"));
    CHECK(tu_sh(buf, sizeof buf, "h5dump -p -H -d /vseq '%s'", out) == 0 && strstr(buf, "H5T_STD_I32BE"));
    CHECK(tu_sh(buf, sizeof buf, "h5dump -p -H -d /d2 '%s'", gz) == 0 && strstr(buf, "DEFLATE { LEVEL 4 }") &&
          strstr(buf, "CHUNKED ( 8, 3000 )"));
    return 0;
}
