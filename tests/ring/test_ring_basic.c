/*
 * test_ring_basic -- proves that a ring is a real HDF5 file in /dev/shm:
 * created from a --dtype spec and from a --like dataset (type, record shape,
 * attributes), h5dump and h5py read it, records put through the C API come
 * back from a reader in order with their sequence numbers, the type spec
 * grammar builds the HDF5 types it documents, and claim/commit and views work.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5tier_ring.h"
#include "tutil.h"

static void dtype_grammar(void)
{
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, NULL, "u8", 4));
    CHECK(h5tier_ring_spec_record_size(&s) == 8 && s.rank == 0 && !strcmp(s.name, "data"));
    CHECK(H5Tequal(s.type, H5T_STD_U64LE) > 0);
    h5tier_ring_stream_spec_free(&s);
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "img", "u2[1024,1024]", 2));
    CHECK(h5tier_ring_spec_record_size(&s) == 2u * 1024 * 1024 && s.rank == 2 && s.dims[1] == 1024);
    h5tier_ring_stream_spec_free(&s);
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "be", ">f8", 2));
    CHECK(H5Tequal(s.type, H5T_IEEE_F64BE) > 0);
    h5tier_ring_stream_spec_free(&s);
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "{seq:u8,ts:f8,adc:u2[16]}", 8));
    CHECK(h5tier_ring_spec_record_size(&s) == 8 + 8 + 32);
    CHECK(H5Tget_class(s.type) == H5T_COMPOUND && H5Tget_nmembers(s.type) == 3);
    CHECK(H5Tget_member_offset(s.type, 2) == 16);
    h5tier_ring_stream_spec_free(&s);
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "np", "u8,f4[4]", 8));
    CHECK(h5tier_ring_spec_record_size(&s) == 24 && H5Tget_nmembers(s.type) == 2);
    h5tier_ring_stream_spec_free(&s);
    const char *bad[] = {"", "u3", "q8", "{a:u8", "{a:u8,a:u4}", "u8[0]", "u8[2", "u8 x", "{:u8}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = h5tier_ring_stream_from_dtype(&s, NULL, bad[i], 8);
        CHECKF(r == -EINVAL, "spec '%s' gave %d", bad[i], r);
        CHECKF(strstr(h5tier_errmsg(), "spec") != NULL, "errmsg '%s'", h5tier_errmsg());
    }
    CHECK(h5tier_ring_stream_from_dtype(&s, NULL, "u8", 6) == -ERANGE);
}

int main(void)
{
    tu_h5_quiet();
    dtype_grammar();

    /* a source file with a dataset and attributes, for --like */
    const char *src = tu_path("src.h5");
    hid_t f = H5Fcreate(src, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {5, 3, 2};
    hid_t sp = H5Screate_simple(3, dims, NULL);
    hid_t d = H5Dcreate2(f, "/det/frames", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d < 0); /* no group yet */
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    d = H5Dcreate2(f, "/det/frames", H5T_STD_I32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0);
    hid_t asp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(d, "units", H5T_STD_I32LE, asp, H5P_DEFAULT, H5P_DEFAULT);
    int v = 42;
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    a = H5Acreate2(d, "detector", st, asp, H5P_DEFAULT, H5P_DEFAULT);
    const char *det = "cspad";
    H5Awrite(a, st, &det);
    H5Aclose(a);
    H5Tclose(st);
    H5Sclose(asp);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
    H5Fclose(f);

    char *name = tu_shm_name("basic");
    h5tier_ring_stream_spec_t specs[2];
    CHECK_OK(h5tier_ring_stream_from_dtype(&specs[0], "events", "{seq:u8,ts:f8,adc:u2[16]}", 16));
    char like[512];
    snprintf(like, sizeof like, "%s:/det/frames", src);
    CHECK_OK(h5tier_ring_stream_from_like(&specs[1], NULL, like, 4));
    CHECKF(!strcmp(specs[1].name, "det/frames"), "--like keeps the path: '%s'", specs[1].name);
    h5tier_ring_stream_spec_free(&specs[1]);
    CHECK_OK(h5tier_ring_stream_from_like(&specs[1], "frames", like, 4)); /* an explicit name moves it */
    CHECK(!strcmp(specs[1].name, "frames") && specs[1].rank == 2 && specs[1].dims[0] == 3);
    CHECK_OK(h5tier_ring_create(name, specs, 2, 0, 0));
    CHECK(h5tier_ring_create(name, specs, 2, 0, 0) == -EEXIST);
    h5tier_ring_stream_spec_free(&specs[0]);
    h5tier_ring_stream_spec_free(&specs[1]);

    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    CHECK(h5tier_ring_nstreams(w) == 2);
    int ev = h5tier_ring_stream_index(w, "events"), fr = h5tier_ring_stream_index(w, "frames");
    CHECK(ev == 0 && fr == 1);
    CHECK(h5tier_ring_record_size(w, ev) == 48 && h5tier_ring_record_size(w, fr) == 24);
    struct {
        uint64_t seq;
        double ts;
        uint16_t adc[16];
    } rec;
    for (uint64_t i = 0; i < 20; i++) {
        memset(&rec, 0, sizeof rec);
        rec.seq = i;
        rec.ts = (double)i * 0.5;
        rec.adc[3] = (uint16_t)(i * 3);
        CHECK_OK(h5tier_ring_put(w, ev, &rec, sizeof rec));
    }
    CHECK(h5tier_ring_tail(w, ev) == 20);
    int32_t frame[6];
    for (int i = 0; i < 3; i++) {
        int32_t *slot;
        uint64_t seq;
        CHECK_OK(h5tier_ring_claim(w, fr, (void **)&slot, &seq));
        CHECK(seq == (uint64_t)i);
        for (int k = 0; k < 6; k++)
            slot[k] = i * 100 + k;
        CHECK_OK(h5tier_ring_commit(w, fr));
    }
    (void)frame;

    /* oldest = 4 (capacity 16), in order */
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, "events", NULL, &r));
    for (uint64_t i = 4; i < 20; i++) {
        uint64_t seq;
        CHECK_OK(h5tier_ring_next(r, &rec, sizeof rec, &seq, 0));
        CHECK(seq == i && rec.seq == i && rec.adc[3] == i * 3);
    }
    uint64_t seq;
    CHECK(h5tier_ring_next(r, &rec, sizeof rec, &seq, 0) == -EAGAIN);
    CHECK(h5tier_ring_next(r, &rec, sizeof rec, &seq, 30) == -ETIMEDOUT);
    h5tier_ring_reader_close(r);

    /* views on the frames stream */
    CHECK_OK(h5tier_ring_reader_open(name, "frames", NULL, &r));
    const void *p;
    uint64_t first;
    long n = h5tier_ring_view(r, &p, 10, &first, 0);
    CHECK(n == 3 && first == 0 && ((const int32_t *)p)[6 + 5] == 105);
    CHECK_OK(h5tier_ring_view_done(r));
    CHECK(h5tier_ring_view_done(r) == -EINVAL);
    hid_t rt;
    int rank;
    hsize_t rd[H5TIER_RING_MAX_RANK];
    CHECK_OK(h5tier_ring_reader_schema(r, &rt, &rank, rd));
    CHECK(rank == 2 && rd[0] == 3 && rd[1] == 2 && H5Tequal(rt, H5T_STD_I32LE) > 0);
    H5Tclose(rt);
    h5tier_ring_reader_close(r);

    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si[2];
    CHECK_OK(h5tier_ring_info(name, &info, si, 2));
    CHECK(info.nstreams == 2 && info.generation == 1 && info.writer_alive && si[0].tail == 20);
    CHECK(si[1].capacity == 4 && si[1].record_size == 24);

    /* real clients read the ring */
    char out[16384];
    int rc = tu_sh(out, sizeof out, "h5dump -A /dev/shm/%s", name);
    CHECKF(rc == 0, "h5dump failed: %s", out);
    CHECKF(strstr(out, "DATASET \"events\"") && strstr(out, "DATASET \"frames\"") &&
               strstr(out, "ATTRIBUTE \"units\"") && strstr(out, "cspad") && strstr(out, "\"adc\""),
           "h5dump output: %s", out);
    rc = tu_sh(out, sizeof out, "h5dump -d /frames /dev/shm/%s", name);
    CHECKF(rc == 0 && strstr(out, "105"), "h5dump data: %s", out);
    if (tu_have_h5py()) {
        rc = tu_sh(out, sizeof out,
                   "%s -c \"import h5py; f=h5py.File('/dev/shm/%s','r'); e=f['events']; fr=f['frames'];"
                   "assert e.shape==(16,) and e.dtype.names==('seq','ts','adc'), e.dtype;"
                   "assert fr.shape==(4,3,2) and fr.attrs['units']==42;"
                   "assert int(e[19%%16]['seq'])==19 and int(fr[2][2][1])==205; print('ok')\"",
                   tu_python(), name);
        CHECKF(rc == 0 && strstr(out, "ok"), "h5py: %s", out);
    }
    CHECK_OK(h5tier_ring_close(w));
    CHECK(h5tier_ring_remove(name, 0) == 0);
    CHECK(h5tier_ring_remove(name, 0) == -ENOENT);
    tu_log("ring basic ok");
    free(name);
    return 0;
}
