/*
 * Proves the disk side of the archive on its own: a stream whose schema
 * comes from an existing dataset (compound type, 2-D per-record shape,
 * attributes of several types including a variable-length string) is
 * archived at the same path with the same type, record shape and
 * attributes, chunked with an unlimited first dimension (checked with
 * h5py and h5dump); records appended in odd batch sizes land in order with
 * their sequence numbers, full chunks go through H5Dwrite_chunk and give
 * the same bytes as plain H5Dwrite; a reopened archive continues its
 * partial last chunk; lost ranges are recorded and agree with the seq
 * gaps (adjacent lost ranges merge); a lost range or record at or below
 * what is archived is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "h5tier_archive.h"
#include "test_archive_common.h"

static void make_source(const char *file)
{
    hid_t f = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    hid_t t = ev_type();
    hsize_t d[3] = {10, 3, 2};
    hid_t sp = H5Screate_simple(3, d, NULL);
    hid_t g = H5Gcreate2(f, "/det", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t ds = H5Dcreate2(g, "frames", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(ds >= 0);
    /* attributes: a double, an int array, a fixed string, a vlen string */
    hid_t s1 = H5Screate(H5S_SCALAR);
    ev_attr_f64(ds, "rate_hz", 120.5);
    hsize_t three = 3;
    hid_t s3 = H5Screate_simple(1, &three, NULL);
    int dims[3] = {7, 8, 9};
    hid_t a = H5Acreate2(ds, "geometry", H5T_STD_I32LE, s3, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Awrite(a, H5T_NATIVE_INT, dims) >= 0);
    H5Aclose(a);
    hid_t fs = H5Tcopy(H5T_C_S1);
    H5Tset_size(fs, 6);
    a = H5Acreate2(ds, "units", fs, s1, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Awrite(a, fs, "count") >= 0);
    H5Aclose(a);
    ev_attr_vstr(ds, "description", "synthetic test events");
    H5Tclose(fs);
    H5Sclose(s3);
    H5Sclose(s1);
    H5Dclose(ds);
    H5Gclose(g);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
}

/* records of 3x2 events each; event (r, k) carries seq = the record's seq
 * for k == 0 only, so the h5py check below is specific to this test */
static void fill(ev_t *buf, uint64_t first_seq, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 6; k++)
            ev_make(&buf[i * 6 + (size_t)k], (first_seq + i) * 8 + (uint64_t)k);
}

static void archive_some(const char *file, unsigned flags, hid_t like, int reopen)
{
    h5tier_archive_stream_spec_t sp = {.path = "/det/frames", .like = like, .chunk_bytes = 6 * 64 * 10};
    h5tier_archive_t *a = NULL;
    CHECK_OK(h5tier_archive_open(file, &sp, 1, flags | H5TIER_ARCHIVE_CREATE, &a));
    ev_t *buf = malloc(6 * sizeof(ev_t) * 100);
    uint64_t seq = 0;
    size_t sizes[] = {1, 3, 10, 7, 25, 2, 9, 33};
    for (int i = 0; i < 8; i++) {
        if (reopen && i == 4) {
            CHECK_OK(h5tier_archive_close(a));
            a = NULL;
            CHECK_OK(h5tier_archive_open(file, &sp, 1, flags, &a));
            h5tier_archive_stream_info_t in;
            CHECK_OK(h5tier_archive_stream_info(a, 0, &in));
            CHECKF(in.records == seq && in.next_seq == seq && in.last_seq == seq - 1,
                   "reopen: %llu records next %llu", (unsigned long long)in.records,
                   (unsigned long long)in.next_seq);
        }
        fill(buf, seq, sizes[i]);
        CHECK_OK(h5tier_archive_append(a, 0, seq, buf, sizes[i]));
        seq += sizes[i];
        if (i == 2)
            CHECK_OK(h5tier_archive_flush(a, 0)); /* a partial chunk, continued later */
    }
    h5tier_archive_stream_info_t in;
    CHECK_OK(h5tier_archive_stream_info(a, 0, &in));
    CHECK(in.records == 90 && in.chunk_records == 10 && in.record_size == 6 * 64);
    if (flags & H5TIER_ARCHIVE_PLAIN_WRITE)
        CHECK(in.chunks_direct == 0 && in.chunks_plain > 0);
    else
        CHECK(in.chunks_direct > 0 && in.chunks_plain == 0);
    /* lost ranges: [90, 94] then records 95.., then [200, 200] then 201.. */
    CHECK_OK(h5tier_archive_lost(a, 0, 90, 94));
    CHECK(h5tier_archive_lost(a, 0, 94, 96) == -EINVAL);
    CHECK(h5tier_archive_append(a, 0, 94, buf, 1) == -EINVAL);
    fill(buf, 95, 20);
    CHECK_OK(h5tier_archive_append(a, 0, 95, buf, 20));
    CHECK(h5tier_archive_append(a, 0, 114, buf, 1) == -EINVAL);
    CHECK_OK(h5tier_archive_lost(a, 0, 115, 200));
    fill(buf, 201, 5);
    CHECK_OK(h5tier_archive_append(a, 0, 201, buf, 5));
    CHECK_OK(h5tier_archive_stream_info(a, 0, &in));
    CHECK(in.records == 115 && in.lost_ranges == 2 && in.lost_records == 5 + 86 && in.next_seq == 206);
    /* two adjacent lost ranges with no record between them become one */
    CHECK_OK(h5tier_archive_lost(a, 0, 206, 210));
    CHECK_OK(h5tier_archive_lost(a, 0, 211, 220));
    fill(buf, 221, 1);
    CHECK_OK(h5tier_archive_append(a, 0, 221, buf, 1));
    CHECK_OK(h5tier_archive_stream_info(a, 0, &in));
    CHECK(in.records == 116 && in.lost_ranges == 3 && in.lost_records == 5 + 86 + 15 && in.next_seq == 222);
    CHECK_OK(h5tier_archive_close(a));
    free(buf);
}

int main(void)
{
    tu_h5_quiet();
    if (!tu_have_h5py())
        tu_skip("no h5py");
    const char *src = tu_path("source.h5");
    make_source(src);
    hid_t sf = H5Fopen(src, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t like = H5Dopen2(sf, "/det/frames", H5P_DEFAULT);
    CHECK(like >= 0);

    const char *direct = tu_path("direct.h5"), *plain = tu_path("plain.h5");
    archive_some(direct, 0, like, 1);
    archive_some(plain, H5TIER_ARCHIVE_PLAIN_WRITE, like, 0);

    char out[8192];
    /* identical content either way */
    int st = tu_sh(out, sizeof out, "h5diff '%s' '%s' /det/frames /det/frames && h5diff '%s' '%s' "
                   "/det/frames_seq /det/frames_seq", direct, plain, direct, plain);
    CHECKF(st == 0, "h5diff direct vs plain: %s", out);

    /* schema round trip, checked by h5py */
    st = tu_sh(out, sizeof out,
               "%s - '%s' '%s' <<'EOF'\n"
               "import sys, h5py, numpy as np\n"
               "s = h5py.File(sys.argv[1], 'r')['det/frames']\n"
               "f = h5py.File(sys.argv[2], 'r')\n"
               "a = f['det/frames']\n"
               "assert a.dtype == s.dtype, (a.dtype, s.dtype)\n"
               "assert a.shape[1:] == s.shape[1:] and a.maxshape == (None, 3, 2), (a.shape, a.maxshape)\n"
               "assert a.chunks == (10, 3, 2), a.chunks\n"
               "assert sorted(a.attrs) == sorted(s.attrs), (list(a.attrs), list(s.attrs))\n"
               "for k in s.attrs:\n"
               "    assert np.array_equal(np.asarray(a.attrs[k]), np.asarray(s.attrs[k])), k\n"
               "    assert a.attrs.get_id(k).dtype == s.attrs.get_id(k).dtype, k\n"
               "seq = f['det/frames_seq'][:]\n"
               "exp = np.r_[0:90, 95:115, 201:206, 221:222]\n"
               "assert np.array_equal(seq, exp), seq\n"
               "ev = a[:].reshape(len(seq), 6)\n"
               "assert (ev['seq'] == seq[:, None] * 8 + np.arange(6)).all()\n"
               "lost = f['det/frames_lost'][:]\n"
               "assert [tuple(x) for x in lost] == [(90, 94), (115, 200), (206, 220)], lost\n"
               "gaps = np.nonzero(np.diff(seq) != 1)[0]\n"
               "assert [(seq[i] + 1, seq[i + 1] - 1) for i in gaps] == [tuple(x) for x in lost]\n"
               "assert f['det/frames_seq'].attrs['h5tier_records'] == b'/det/frames'\n"
               "print('ok')\n"
               "EOF\n",
               tu_python(), src, direct);
    CHECKF(st == 0 && strstr(out, "ok"), "h5py round trip: %s", out);

    st = tu_sh(out, sizeof out, "h5dump -H -p -d /det/frames '%s'", direct);
    CHECKF(st == 0 && strstr(out, "H5S_UNLIMITED") && strstr(out, "CHUNKED ( 10, 3, 2 )") &&
               strstr(out, "\"description\"") && strstr(out, "\"rate_hz\""),
           "h5dump: %s", out);

    /* a different per-record shape is a schema error, and nothing is changed */
    h5tier_archive_stream_spec_t bad = {.path = "/det/frames", .like = H5I_INVALID_HID, .type = ev_type(),
                                        .rank = 2, .dims = {3, 3}};
    h5tier_archive_t *a = NULL;
    CHECK(h5tier_archive_open(direct, &bad, 1, 0, &a) == -H5TIER_ESCHEMA && a == NULL);
    CHECKF(strstr(h5tier_errmsg(), "record shape"), "%s", h5tier_errmsg());
    bad.rank = 1;
    bad.dims[0] = 6;
    hid_t u8 = H5Tcopy(H5T_STD_U8LE);
    H5Tclose(bad.type);
    bad.type = u8;
    bad.dims[0] = 384;
    CHECK(h5tier_archive_open(direct, &bad, 1, 0, &a) == -H5TIER_ESCHEMA);
    CHECKF(strstr(h5tier_errmsg(), "type"), "%s", h5tier_errmsg());
    /* reserved suffix, duplicate and missing file */
    h5tier_archive_stream_spec_t rs = {.path = "/x_seq", .like = H5I_INVALID_HID, .type = u8, .rank = 0};
    CHECK(h5tier_archive_open(tu_path("n.h5"), &rs, 1, H5TIER_ARCHIVE_CREATE, &a) == -EINVAL);
    rs.path = "/x";
    CHECK(h5tier_archive_open(tu_path("missing.h5"), &rs, 1, 0, &a) == -ENOENT);
    CHECK(h5tier_archive_open(direct, &rs, 1, H5TIER_ARCHIVE_CREATE | H5TIER_ARCHIVE_EXCL, &a) == -EEXIST);
    /* not an HDF5 file */
    FILE *fp = fopen(tu_path("text.h5"), "w");
    fputs("hello, not hdf5\n", fp);
    fclose(fp);
    CHECK(h5tier_archive_open(tu_path("text.h5"), &rs, 1, H5TIER_ARCHIVE_CREATE, &a) == -H5TIER_ENOTHDF5);
    /* adding a stream to an existing archive keeps the old one */
    CHECK_OK(h5tier_archive_open(direct, &rs, 1, 0, &a));
    uint8_t bytes[5] = {1, 2, 3, 4, 5};
    CHECK_OK(h5tier_archive_append(a, 0, 10, bytes, 5));
    CHECK_OK(h5tier_archive_close(a));
    st = tu_sh(out, sizeof out, "%s -c \"import h5py; f = h5py.File('%s', 'r'); "
               "print(f['x_seq'][:].tolist(), len(f['det/frames_seq']))\"", tu_python(), direct);
    CHECKF(st == 0 && strstr(out, "[10, 11, 12, 13, 14] 116"), "%s", out);
    H5Tclose(u8);
    H5Dclose(like);
    H5Fclose(sf);
    return 0;
}
