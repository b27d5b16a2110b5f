/*
 * Proves persist keeps creation order where the source tracks it.  An h5py
 * source made with track_order=True (the file, nested groups, datasets;
 * names inserted out of alphabetical order; dense link and attribute
 * storage; soft, hard and external links and an attribute holding an object
 * reference in the middle of the order; a dataset listed before the named
 * type it uses) persisted whole and as an --object subset given out of
 * order (created in the source's order) with the CLI, and
 * whole, from a group, in the 1.6 format and into a tracked group with the
 * C API, reads back in h5py with every group's keys and every object's
 * attributes in insertion order, tracking order wherever the source does,
 * named types still shared (tests/persist/order.py check), and h5diff finds
 * no difference.  A C-made source tracking order without an index
 * (H5P_CRT_ORDER_TRACKED only) keeps it too.  --dry-run marks such groups
 * "creation order kept".  The same source without tracking gives name order
 * and no tracking, with the same bytes from the CLI and the API.
 */
#include <string.h>

#include "h5tier_persist.h"
#include "tutil.h"

static char script[4096];

static void py(const char *what, const char *args)
{
    char out[8192];
    int r = tu_sh(out, sizeof out, "'%s' '%s' %s", tu_python(), script, args);
    CHECKF(r == 0, "%s: order.py %s: %s", what, args, out);
    tu_log("%s: %s", what, out);
}

static void check_order(const char *what, const char *src, const char *dst)
{
    char args[4096];
    snprintf(args, sizeof args, "check '%s' '%s'", src, dst);
    py(what, args);
}

static void same_data(const char *src, const char *dst, const char *objs)
{
    char out[8192];
    int r = tu_sh(out, sizeof out, "h5diff -r '%s' '%s' %s", src, dst, objs);
    CHECKF(r == 0, "h5diff %s %s %s: %s", src, dst, objs, out);
}

static void persist_api(hid_t src, const char *dst, int earliest)
{
    h5tier_persist_opts_t o;
    h5tier_persist_opts_init(&o);
    o.earliest_format = earliest;
    int n = h5tier_persist(src, dst, &o);
    CHECKF(n > 0, "persist to %s: %d %s", dst, n, h5tier_errmsg());
}

static hid_t order_plist(hid_t cls, unsigned links, unsigned attrs)
{
    hid_t pl = H5Pcreate(cls);
    CHECK(pl >= 0);
    if (links)
        CHECK(H5Pset_link_creation_order(pl, links) >= 0);
    if (attrs)
        CHECK(H5Pset_attr_creation_order(pl, attrs) >= 0);
    return pl;
}

static void attr(hid_t obj, const char *name)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0);
    int v = (int)strlen(name);
    CHECK(H5Awrite(a, H5T_NATIVE_INT, &v) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
}

/* A source made with the C API: tracked, not indexed; a few old-style
 * (symbol table) groups inside that HDF5 lists in name order. */
static void make_c_source(const char *path)
{
    const unsigned T = H5P_CRT_ORDER_TRACKED;
    hid_t fcpl = order_plist(H5P_FILE_CREATE, T, T), gcpl = order_plist(H5P_GROUP_CREATE, T, T);
    hid_t dcpl = order_plist(H5P_DATASET_CREATE, 0, T);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    CHECK(f >= 0);
    const char *names[] = {"zulu", "echo", "alpha", "quebec", "bravo", "xray", "delta", "kilo", "golf", "mike"};
    hid_t sp = H5Screate_simple(1, (hsize_t[]){3}, NULL);
    for (int i = 0; i < 10; i++) { /* 10 > 8 links: dense storage */
        hid_t o;
        if (i % 2)
            o = H5Gcreate2(f, names[i], H5P_DEFAULT, i == 5 ? H5P_DEFAULT : gcpl, H5P_DEFAULT);
        else
            o = H5Dcreate2(f, names[i], H5T_STD_U8LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        CHECK(o >= 0);
        for (int k = 9; k >= 0; k--)
            attr(o, names[(k * 3 + i) % 10]);
        if (i == 3) { /* a tracked group with an old-style group and links out of order inside */
            hid_t old = H5Gcreate2(o, "plain", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            CHECK(old >= 0 && H5Gclose(old) >= 0);
            CHECK(H5Lcreate_soft("/zulu", o, "soft", H5P_DEFAULT, H5P_DEFAULT) >= 0);
            CHECK(H5Lcreate_hard(f, "echo", o, "an_echo", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        }
        H5Oclose(o);
    }
    attr(f, "zz");
    attr(f, "aa");
    H5Sclose(sp);
    H5Pclose(fcpl);
    H5Pclose(gcpl);
    H5Pclose(dcpl);
    CHECK(H5Fclose(f) >= 0);
}

int main(void)
{
    tu_h5_quiet();
    if (!tu_have_h5py())
        tu_skip("no h5py in %s", tu_python());
    if (tu_sh(NULL, 0, "command -v h5diff") != 0)
        tu_skip("no h5diff");
    const char *srcdir = getenv("H5TIER_SRC_DIR");
    if (!srcdir)
        tu_skip("H5TIER_SRC_DIR not set (run through ctest)");
    snprintf(script, sizeof script, "%s/tests/persist/order.py", srcdir);
    const char *dir = tu_tmpdir(), *cli = tu_cli();
    char buf[16384], src[4096], plainsrc[4096];
    snprintf(src, sizeof src, "%s/ordered.h5", dir);
    snprintf(plainsrc, sizeof plainsrc, "%s/plain.h5", dir);
    snprintf(buf, sizeof buf, "make '%s'", dir);
    py("make", buf);

    /* ---- CLI: the whole file, then a subset chosen out of order and overlapping */
    CHECKF(tu_sh(buf, sizeof buf, "cd '%s' && '%s' persist ordered.h5 cli.h5", dir, cli) == 0, "%s", buf);
    check_order("cli whole", src, tu_path("cli.h5"));
    same_data(src, tu_path("cli.h5"), "");
    CHECKF(tu_sh(buf, sizeof buf, "cd '%s' && '%s' persist ordered.h5 sub.h5 --object /mid --object /zeta/inner "
                 "--object /alpha --object /types --object /zeta", dir, cli) == 0, "subset: %s", buf);
    check_order("cli subset", src, tu_path("sub.h5"));
    same_data(src, tu_path("sub.h5"), "/zeta /zeta");
    same_data(src, tu_path("sub.h5"), "/mid /mid");

    /* ---- dry run: groups that track order say so, others do not */
    CHECK(tu_sh(buf, sizeof buf, "cd '%s' && '%s' persist ordered.h5 dry.h5 --dry-run", dir, cli) == 0);
    CHECKF(strstr(buf, "\n/zeta/inner  group (creation order kept)\n") && !strstr(buf, "/zeta/inner  group\n"),
           "%s", buf);
    CHECK(tu_sh(buf, sizeof buf, "cd '%s' && '%s' persist plain.h5 dry.h5 --dry-run", dir, cli) == 0);
    CHECKF(strstr(buf, "\n/zeta/inner  group\n") && !strstr(buf, "creation order"), "%s", buf);

    /* ---- C API: whole file, 1.6 format, from a group, into a tracked group */
    hid_t f = H5Fopen(src, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    persist_api(f, tu_path("api.h5"), 0);
    check_order("api whole", src, tu_path("api.h5"));
    same_data(src, tu_path("api.h5"), "");
    persist_api(f, tu_path("api16.h5"), 1);
    check_order("api 1.6 format", src, tu_path("api16.h5"));
    same_data(src, tu_path("api16.h5"), "");
    hid_t g = H5Gopen2(f, "/zeta/inner", H5P_DEFAULT);
    CHECK(g >= 0);
    persist_api(g, tu_path("group.h5"), 0); /* the root group takes /zeta/inner's place and flags */
    H5Gclose(g);
    char want[12288];
    snprintf(want, sizeof want, "-c 'import h5py; s = h5py.File(\"%s\", \"r\")[\"/zeta/inner\"]; "
             "d = h5py.File(\"%s\", \"r\")[\"/\"]; assert list(d.keys()) == list(s.keys()), list(d.keys()); "
             "assert d.id.get_create_plist().get_link_creation_order() == 3; "
             "assert all((s[k][()] == d[k][()]).all() for k in s if isinstance(s[k], h5py.Dataset))'",
             src, tu_path("group.h5")); /* (h5diff SRC DST /zeta/inner / fails even on equal files) */
    CHECKF(tu_sh(buf, sizeof buf, "'%s' %s", tu_python(), want) == 0, "from a group: %s", buf);

    const char *into = tu_path("into.h5");
    hid_t df = H5Fcreate(into, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t gcpl = order_plist(H5P_GROUP_CREATE, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED, 0);
    hid_t dg = H5Gcreate2(df, "into", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    CHECK(dg >= 0);
    CHECKF(h5tier_persist_to(f, dg, NULL) > 0, "persist_to: %s", h5tier_errmsg());
    H5Gclose(dg);
    H5Pclose(gcpl);
    CHECK(H5Fclose(df) >= 0);
    snprintf(want, sizeof want, "-c 'import h5py; s = h5py.File(\"%s\", \"r\")[\"/\"]; "
             "d = h5py.File(\"%s\", \"r\")[\"/into\"]; assert list(d.keys()) == list(s.keys()), list(d.keys()); "
             "assert list(d[\"zeta\"].keys()) == list(s[\"zeta\"].keys())'", src, into);
    CHECKF(tu_sh(buf, sizeof buf, "'%s' %s", tu_python(), want) == 0, "into a tracked group: %s", buf);
    same_data(src, into, "/zeta /into/zeta"); /* (h5diff SRC DST / /into fails even on equal files) */
    same_data(src, into, "/early /into/early");
    H5Fclose(f);

    /* ---- a C source: tracked without an index, old-style groups inside */
    const char *csrc = tu_path("c-src.h5"), *cdst = tu_path("c-dst.h5");
    make_c_source(csrc);
    f = H5Fopen(csrc, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    persist_api(f, cdst, 0);
    H5Fclose(f);
    check_order("tracked, not indexed", csrc, cdst);
    same_data(csrc, cdst, "");

    /* ---- no tracking: name order, nothing tracked, CLI and API give the same bytes */
    CHECK(tu_sh(buf, sizeof buf, "cd '%s' && '%s' persist plain.h5 plain-cli.h5", dir, cli) == 0);
    f = H5Fopen(plainsrc, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    persist_api(f, tu_path("plain-api.h5"), 0);
    H5Fclose(f);
    snprintf(buf, sizeof buf, "plain '%s'", tu_path("plain-cli.h5"));
    py("plain", buf);
    same_data(plainsrc, tu_path("plain-cli.h5"), "");
    CHECK(tu_sh(buf, sizeof buf, "cmp '%s/plain-cli.h5' '%s/plain-api.h5'", dir, dir) == 0);
    return 0;
}
