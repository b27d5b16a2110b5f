/*
 * Proves the ring -> archive schema round trip and the archiver's answers
 * to bad input.  A ring with two streams -- "events" made --like a disk
 * dataset (compound type, attributes of several types incl. a vlen string)
 * and "adc" from a dtype spec (u2 records of shape 4x3) -- is archived:
 * h5py finds in the archive the same dataset paths, element types,
 * per-record shapes and attributes as in the ring itself (/dev/shm/NAME),
 * chunked with maxshape (None, ...), the same record bytes, seq ==
 * arange(...) (adc starts at the oldest record the ring still held), and
 * h5dump shows the layout.  A second run continues after the last record.
 * Bad input gives clear errors: an OUT.h5 with another schema at the path
 * (-H5TIER_ESCHEMA), an unknown stream (-ENOENT listing the streams), no
 * such ring (-ENOENT), an shm object that is not a ring (-H5TIER_EMAGIC),
 * and a re-created ring behind the archive (-ERANGE).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "h5tier_archive.h"
#include "h5tier_ring.h"
#include "test_archive_common.h"

static void make_source(const char *file)
{
    hid_t f = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = ev_type();
    hsize_t d = 4;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(f, "/src", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(ds >= 0);
    ev_attr_f64(ds, "rate_hz", 1e6);
    hsize_t two = 2;
    hid_t s2 = H5Screate_simple(1, &two, NULL);
    short lim[2] = {-5, 5};
    hid_t a = H5Acreate2(ds, "limits", H5T_STD_I16BE, s2, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Awrite(a, H5T_NATIVE_SHORT, lim) >= 0);
    H5Aclose(a);
    ev_attr_vstr(ds, "description", "self-checking events");
    H5Sclose(s2);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
}

static void put_events(const char *name, uint64_t from, uint64_t n, uint64_t adc_n)
{
    h5tier_ring_t *w = NULL;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    int se = h5tier_ring_stream_index(w, "events"), sa = h5tier_ring_stream_index(w, "adc");
    CHECK(se >= 0 && sa >= 0);
    for (uint64_t s = from; s < from + n; s++) {
        ev_t e;
        ev_make(&e, s);
        CHECK_OK(h5tier_ring_put(w, se, &e, sizeof e));
    }
    for (uint64_t s = 0; s < adc_n; s++) {
        uint16_t v[12];
        for (int k = 0; k < 12; k++)
            v[k] = (uint16_t)(s * 12 + (uint64_t)k);
        CHECK_OK(h5tier_ring_put(w, sa, v, sizeof v));
    }
    h5tier_ring_close(w);
}

static int run(const char *name, const char *out, const char *stream, uint64_t count, h5tier_archiver_stats_t *st)
{
    h5tier_archiver_opts_t o;
    h5tier_archiver_opts_init(&o);
    const char *streams[1] = {stream};
    if (stream) {
        o.streams = streams;
        o.nstreams = 1;
    }
    o.count = count;
    o.idle_timeout_s = 3; /* a safety net: count stops it first */
    return h5tier_archive_ring(name, out, &o, st);
}

int main(void)
{
    tu_h5_quiet();
    if (!tu_have_h5py())
        tu_skip("no h5py");
    const char *src = tu_path("src.h5"), *out = tu_path("out.h5");
    make_source(src);
    char like[4200];
    snprintf(like, sizeof like, "%s:/src", src);
    char *name = tu_shm_name("arschema");
    h5tier_ring_stream_spec_t sp[2];
    h5tier_ring_stream_spec_init(&sp[0]);
    h5tier_ring_stream_spec_init(&sp[1]);
    CHECK_OK(h5tier_ring_stream_from_like(&sp[0], "events", like, 1024));
    CHECK_OK(h5tier_ring_stream_from_dtype(&sp[1], "adc", "u2[4,3]", 256));
    CHECK_OK(h5tier_ring_create(name, sp, 2, 0, 0));
    put_events(name, 0, 1000, 300);

    h5tier_archiver_stats_t st;
    CHECK_OK(run(name, out, NULL, 1000 + 256, &st));
    CHECKF(st.records == 1256 && st.lost_records == 0, "%llu records", (unsigned long long)st.records);

    char res[8192];
    int rc = tu_sh(res, sizeof res,
                   "%s - '/dev/shm/%s' '%s' <<'EOF'\n"
                   "import sys, h5py, numpy as np\n"
                   "r = h5py.File(sys.argv[1], 'r')\n"
                   "a = h5py.File(sys.argv[2], 'r')\n"
                   "for p in ('events', 'adc'):\n"
                   "    R, A = r[p], a[p]\n"
                   "    assert A.dtype == R.dtype, (p, A.dtype, R.dtype)\n"
                   "    assert A.shape[1:] == R.shape[1:], (p, A.shape, R.shape)\n"
                   "    assert A.maxshape == (None,) + R.shape[1:], (p, A.maxshape)\n"
                   "    assert A.chunks is not None and A.chunks[1:] == R.shape[1:], A.chunks\n"
                   "    assert sorted(A.attrs) == sorted(R.attrs), (p, list(A.attrs), list(R.attrs))\n"
                   "    for k in R.attrs:\n"
                   "        assert A.attrs.get_id(k).dtype == R.attrs.get_id(k).dtype, (p, k)\n"
                   "        assert np.array_equal(np.asarray(A.attrs[k]), np.asarray(R.attrs[k])), (p, k)\n"
                   "    seq = a['/.h5tier/' + p.strip('/') + '/seq'][:]\n"
                   "    cap = R.shape[0]\n"
                   "    assert np.array_equal(A[:], R[:][seq %% cap]), p\n"
                   "    assert len(a['/.h5tier/' + p.strip('/') + '/lost']) == 0\n"
                   "assert np.array_equal(a['/.h5tier/events/seq'][:], np.arange(1000))\n"
                   "assert np.array_equal(a['/.h5tier/adc/seq'][:], np.arange(44, 300))\n"
                   "assert a['adc'][0, 3, 2] == 44 * 12 + 11\n"
                   "assert a['events'].attrs['description'] == 'self-checking events'\n"
                   "print('ok', sorted(a['events'].attrs))\n"
                   "EOF\n",
                   tu_python(), name, out);
    CHECKF(rc == 0 && strstr(res, "ok"), "h5py: %s", res);
    rc = ev_pycheck(out, "/events", res, sizeof res);
    CHECKF(rc == 0 && strstr(res, "count=1000 first=0 last=999 gaps=0"), "%s", res);
    rc = tu_sh(res, sizeof res, "h5dump -p -H '%s'", out);
    CHECKF(rc == 0, "h5dump: %s", res);
    CHECKF(strstr(res, "DATASET \"events\"") && strstr(res, "GROUP \".h5tier\"") &&
               strstr(res, "( 256, 4, 3 ) / ( H5S_UNLIMITED, 4, 3 )") && strstr(res, "\"limits\"") &&
               strstr(res, "H5T_STD_I16BE"),
           "h5dump: %s", res);

    /* continue: 50 more events, only that stream */
    put_events(name, 1000, 50, 0);
    CHECK_OK(run(name, out, "events", 50, &st));
    CHECK(st.records == 50 && st.first_seq == 1000);
    rc = ev_pycheck(out, "/events", res, sizeof res);
    CHECKF(rc == 0 && strstr(res, "count=1050 first=0 last=1049 gaps=0 lost=0"), "%s", res);

    /* bad input ------------------------------------------------------------ */
    const char *bad = tu_path("bad.h5");
    hid_t f = H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t z = 0, um = H5S_UNLIMITED, ch = 16;
    hid_t s = H5Screate_simple(1, &z, &um), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &ch);
    H5Dclose(H5Dcreate2(f, "/events", H5T_STD_I32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    H5Pclose(dcpl);
    H5Sclose(s);
    H5Fclose(f);
    rc = run(name, bad, "events", 1, &st);
    CHECKF(rc == -H5TIER_ESCHEMA && strstr(h5tier_errmsg(), "/events") && strstr(h5tier_errmsg(), "type"),
           "other schema: %d %s", rc, h5tier_errmsg());
    rc = run(name, tu_path("u.h5"), "nope", 1, &st);
    CHECKF(rc == -ENOENT && strstr(h5tier_errmsg(), "nope") && strstr(h5tier_errmsg(), "events, adc"),
           "unknown stream: %d %s", rc, h5tier_errmsg());
    CHECK(access(tu_path("u.h5"), F_OK) != 0);
    char *missing = tu_shm_name("arnone");
    rc = run(missing, tu_path("m.h5"), NULL, 1, &st);
    CHECKF(rc == -ENOENT, "no ring: %d %s", rc, h5tier_errmsg());
    char *junk = tu_shm_name("arjunk");
    char jp[300];
    snprintf(jp, sizeof jp, "/%s", junk);
    int fd = shm_open(jp, O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 65536) == 0 && write(fd, "not a ring at all", 17) == 17);
    close(fd);
    rc = run(junk, tu_path("j.h5"), NULL, 1, &st);
    CHECKF(rc == -H5TIER_EMAGIC || rc == -H5TIER_ENOTHDF5, "not a ring: %d %s", rc, h5tier_errmsg());
    /* the ring is re-created: its sequence starts again below the archive's end */
    CHECK_OK(h5tier_ring_create(name, sp, 2, 0, H5TIER_RING_CREATE_FORCE));
    put_events(name, 0, 10, 0);
    rc = run(name, out, "events", 10, &st);
    CHECKF(rc == -ERANGE && strstr(h5tier_errmsg(), "re-created"), "re-created ring: %d %s", rc, h5tier_errmsg());
    h5tier_ring_stream_spec_free(&sp[0]);
    h5tier_ring_stream_spec_free(&sp[1]);
    free(name);
    free(missing);
    free(junk);
    return 0;
}
