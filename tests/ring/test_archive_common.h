/*
 * tests/ring/test_archive_common.h -- what the archive tests share: a 64 B
 * self-checking event (seq + 6 words derived from it + an xor check word),
 * its HDF5 compound type, a one-stream ring of it, the scalar attributes the
 * schema tests put on their source datasets, and the h5py check of an
 * archive.
 *
 * The h5py check reads PATH and /.h5tier/PATH/seq and verifies: the lengths agree
 * (after trimming to len(/.h5tier/PATH/seq)), every record's check word is the xor of
 * its other words, the record's own seq equals /.h5tier/PATH/seq, and /.h5tier/PATH/seq is
 * strictly increasing; it prints "count=N first=F last=L gaps=G lost=R
 * lostrec=M" for the caller to compare.
 */
#ifndef H5TIER_TEST_ARCHIVE_COMMON_H
#define H5TIER_TEST_ARCHIVE_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <hdf5.h>

#include "h5tier_ring.h"
#include "tutil.h"

typedef struct ev {
    uint64_t seq;
    uint64_t w[6];
    uint64_t check;
} ev_t;

static inline uint64_t ev_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline void ev_make(ev_t *e, uint64_t seq)
{
    e->seq = seq;
    e->check = seq;
    for (int i = 0; i < 6; i++) {
        e->w[i] = ev_mix(seq * 7 + (uint64_t)i);
        e->check ^= e->w[i];
    }
}

static inline int ev_ok(const ev_t *e)
{
    uint64_t c = e->seq;
    for (int i = 0; i < 6; i++)
        c ^= e->w[i];
    return c == e->check;
}

/* The compound file type of ev_t (little-endian, packed: 64 bytes). */
static inline hid_t ev_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ev_t));
    hsize_t six = 6;
    hid_t arr = H5Tarray_create2(H5T_STD_U64LE, 1, &six);
    H5Tinsert(t, "seq", 0, H5T_STD_U64LE);
    H5Tinsert(t, "w", 8, arr);
    H5Tinsert(t, "check", 56, H5T_STD_U64LE);
    H5Tclose(arr);
    return t;
}

/* Create ring `name` with one stream "events" of ev_t records and the
 * given capacity. */
static inline void ev_ring_create(const char *name, uint64_t capacity)
{
    h5tier_ring_stream_spec_t sp;
    h5tier_ring_stream_spec_init(&sp);
    snprintf(sp.name, sizeof sp.name, "events");
    sp.type = ev_type();
    sp.capacity = capacity;
    CHECK_OK(h5tier_ring_create(name, &sp, 1, 0, 0));
    H5Tclose(sp.type);
}

/* Scalar attributes on obj: a little-endian double, a variable-length string. */
static inline void ev_attr_f64(hid_t obj, const char *name, double v)
{
    hid_t s1 = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, s1, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Awrite(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    H5Sclose(s1);
}

static inline void ev_attr_vstr(hid_t obj, const char *name, const char *v)
{
    hid_t s1 = H5Screate(H5S_SCALAR);
    hid_t vs = H5Tcopy(H5T_C_S1);
    H5Tset_size(vs, H5T_VARIABLE);
    hid_t a = H5Acreate2(obj, name, vs, s1, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Awrite(a, vs, &v) >= 0);
    H5Aclose(a);
    H5Tclose(vs);
    H5Sclose(s1);
}

/* Run the h5py check on FILE:PATH; out receives its one-line summary.
 * Returns the python exit status (0 = all records valid). */
static inline int ev_pycheck(const char *file, const char *path, char *out, size_t outlen)
{
    return tu_sh(out, outlen,
                 "%s - '%s' '%s' <<'EOF'\n"
                 "import sys, h5py, numpy as np\n"
                 "f = h5py.File(sys.argv[1], 'r')\n"
                 "p = sys.argv[2]\n"
                 "seq = f['/.h5tier/' + p.strip('/') + '/seq'][:]\n"
                 "n = len(seq)\n"
                 "d = f[p][:n]\n"
                 "v = d.view(np.uint8).reshape(n, -1).view('<u8') if n else np.zeros((0, 8), '<u8')\n"
                 "assert len(d) == n, 'records shorter than seq'\n"
                 "x = np.bitwise_xor.reduce(v[:, :7], axis=1) if n else v[:, 0]\n"
                 "bad = np.nonzero(x != v[:, 7])[0]\n"
                 "assert len(bad) == 0, 'bad check word at rows %%s' %% bad[:5]\n"
                 "assert (v[:, 0] == seq).all(), 'record seq differs from /.h5tier/PATH/seq'\n"
                 "assert n < 2 or (np.diff(seq.astype(np.int64)) > 0).all(), 'seq not increasing'\n"
                 "gaps = int((np.diff(seq.astype(np.int64)) != 1).sum()) if n > 1 else 0\n"
                 "lost = f['/.h5tier/' + p.strip('/') + '/lost'][:]\n"
                 "lr = int((lost['last'].astype(np.int64) - lost['first'].astype(np.int64) + 1).sum()) if len(lost) else 0\n"
                 "print('count=%%d first=%%d last=%%d gaps=%%d lost=%%d lostrec=%%d' %% (n, seq[0] if n else -1, "
                 "seq[-1] if n else -1, gaps, len(lost), lr))\n"
                 "EOF\n",
                 tu_python(), file, path);
}

#endif
