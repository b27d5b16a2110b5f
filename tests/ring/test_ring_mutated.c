/*
 * test_ring_mutated -- proves that a control block mutated by another
 * process (any reader can write it) never makes a reader, a writer, `ring
 * tail` or `ring archive` read or write outside what the ring's HDF5
 * metadata says: each size, capacity, offset, count, position and name
 * field of a real ring is set to a bad value in turn (record_size 7 for a
 * 24-byte type, the case, among them) and every consumer refuses it
 * with -H5TIER_EMAGIC and a message naming the field, the CLI with exit 1
 * and no archive file; a field mutated after a reader opened does not
 * change what the reader returns; a stream or tether name full of escape
 * sequences is printed escaped by `ring stat`.  Run under ASan, an
 * out-of-bounds access anywhere fails the test.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5tier_archive.h"
#include "h5tier_ring.h"
#include "ring/payload.h"
#include "ring/ring_internal.h"
#include "tutil.h"

static char path[512];

static void poke(off_t off, const void *bytes, size_t n)
{
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, bytes, n, off) == (ssize_t)n);
    close(fd);
}

static void peek(off_t off, void *bytes, size_t n)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(pread(fd, bytes, n, off) == (ssize_t)n);
    close(fd);
}

#define SOFF(field) ((off_t)RING_HDR_BYTES + (off_t)offsetof(ring_stream_t, field))
#define HOFF(field) ((off_t)offsetof(ring_hdr_t, field))

typedef struct mut {
    const char *what; /* text the error must hold */
    off_t off;
    size_t n;
    uint64_t value;
} mut_t;

int main(void)
{
    tu_h5_quiet();
    char *name = tu_shm_name("mut");
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "{seq:u8,ts:f8,adc:u2[4]}", 1024));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0600, 0));
    h5tier_ring_stream_spec_free(&s);
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    CHECK(h5tier_ring_record_size(w, 0) == 24);
    unsigned char rec[24];
    for (uint64_t q = 0; q < 2000; q++) {
        ring_payload_fill(rec, sizeof rec, q);
        CHECK_OK(h5tier_ring_put(w, 0, rec, sizeof rec));
    }
    CHECK_OK(h5tier_ring_close(w));

    uint64_t data_offset, size;
    peek(SOFF(data_offset), &data_offset, 8);
    peek(HOFF(size), &size, 8);
    const mut_t muts[] = {
        {"record size", SOFF(record_size), 8, 7}, /* the case */
        {"record size", SOFF(record_size), 8, 48},
        {"record size", SOFF(record_size), 8, 0},
        {"record size", SOFF(record_size), 8, UINT64_MAX},
        {"capacity", SOFF(capacity), 8, 2048},
        {"capacity", SOFF(capacity), 8, 512},
        {"capacity", SOFF(capacity), 8, 1000},
        {"capacity", SOFF(capacity), 8, 0},
        {"data", SOFF(data_offset), 8, data_offset + 24},
        {"data", SOFF(data_offset), 8, data_offset - 4096},
        {"data", SOFF(data_offset), 8, UINT64_MAX - 8},
        {"streams", HOFF(nstreams), 4, 2},
        {"streams", HOFF(nstreams), 4, 0},
        {"streams", HOFF(nstreams), 4, 0x7fffffff},
        {"userblock", HOFF(userblock), 8, 4096},
        {"userblock", HOFF(userblock), 8, 16384},
        {"size", HOFF(size), 8, size - 4096},
        {"size", HOFF(size), 8, size + 4096},
        {"tail", SOFF(tail), 8, UINT64_MAX - 5}, /* beyond its intent */
        {"tail", SOFF(tail_intent), 8, 3},       /* intent below the tail */
        {"name", SOFF(name), 8, 0x5b1b5b1b5b1b5b1bu},
    };
    unsigned char saved[RING_HDR_BYTES + RING_STREAM_BYTES];
    peek(0, saved, sizeof saved);
    const char *cli = tu_cli();
    char out[8192];
    for (size_t k = 0; k < sizeof muts / sizeof muts[0]; k++) {
        const mut_t *m = &muts[k];
        poke(m->off, &m->value, m->n);
        if (m->off == SOFF(name)) { /* no terminating NUL left in the name */
            unsigned char junk[H5TIER_RING_STREAM_NAME_MAX + 1];
            memset(junk, 0x1b, sizeof junk);
            poke(SOFF(name), junk, sizeof junk);
        }
        tu_log("mutation %zu: %s at offset %lld = %llu", k, m->what, (long long)m->off, (unsigned long long)m->value);

        h5tier_ring_reader_t *r = NULL;
        int rc = h5tier_ring_reader_open(name, NULL, NULL, &r);
        CHECKF(rc == -H5TIER_EMAGIC, "reader_open with bad %s gave %d (%s)", m->what, rc, h5tier_errmsg());
        CHECKF(strstr(h5tier_errmsg(), m->what) && strstr(h5tier_errmsg(), name), "reader_open: errmsg '%s' lacks '%s'",
               h5tier_errmsg(), m->what);
        rc = h5tier_ring_open_writer(name, NULL, &w);
        CHECKF(rc == -H5TIER_EMAGIC, "open_writer with bad %s gave %d (%s)", m->what, rc, h5tier_errmsg());

        /* the CLI: a clear error, exit 1, nothing printed from the bytes */
        int st = tu_sh(out, sizeof out, "%s ring tail %s --count 3 --timeout 0.3", cli, name);
        CHECKF(st == 1 && strstr(out, m->what) && strstr(out, "corrupt"), "ring tail with bad %s: status %d: %s",
               m->what, st, out);
        CHECKF(strchr(out, 0x1b) == NULL, "ring tail printed a raw escape byte: %s", out);
        const char *arch = tu_path("a.h5");
        unlink(arch);
        st = tu_sh(out, sizeof out, "%s ring archive %s %s --timeout 0.3 -q", cli, name, arch);
        CHECKF(st == 1 && strstr(out, m->what), "ring archive with bad %s: status %d: %s", m->what, st, out);
        CHECKF(access(arch, F_OK) != 0, "ring archive with bad %s left %s", m->what, arch);
        st = tu_sh(out, sizeof out, "%s ring stat %s", cli, name);
        CHECKF(st == 1 || st == 0, "ring stat with bad %s: status %d: %s", m->what, st, out);
        CHECKF(strchr(out, 0x1b) == NULL, "ring stat printed a raw escape byte: %s", out);
        poke(0, saved, sizeof saved);
    }

    /* restored: everything works again */
    h5tier_ring_reader_t *r;
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    CHECK(h5tier_ring_reader_record_size(r) == 24);
    /* mutated after the open: the reader keeps what it validated */
    uint64_t seven = 7, big = 1u << 20;
    poke(SOFF(record_size), &seven, 8);
    poke(SOFF(capacity), &big, 8);
    CHECK(h5tier_ring_reader_record_size(r) == 24 && h5tier_ring_reader_capacity(r) == 1024);
    for (int k = 0; k < 1024; k++) {
        uint64_t seq;
        CHECK_OK(h5tier_ring_next(r, rec, sizeof rec, &seq, 0));
        uint64_t s2 = seq;
        CHECKF(ring_payload_check(rec, sizeof rec, &s2) && s2 == seq, "record %llu torn", (unsigned long long)seq);
    }
    /* the tail going back is noticed, not waited on */
    uint64_t back = 5;
    poke(SOFF(tail), &back, 8);
    uint64_t seq;
    int rc = h5tier_ring_next(r, rec, sizeof rec, &seq, 50);
    CHECKF(rc == -H5TIER_EMAGIC && strstr(h5tier_errmsg(), "tail"), "tail went back: %d (%s)", rc, h5tier_errmsg());
    h5tier_ring_reader_close(r);
    poke(0, saved, sizeof saved);

    /* a tether name with escape bytes is printed escaped */
    h5tier_ring_reader_opts_init(&ro);
    ro.tether = "t1";
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    h5tier_ring_reader_close(r);
    const char evil[] = "\x1b]0;pwn\x07";
    {
        /* tethers live in the reader table, which readers may write */
        char rpath[600];
        snprintf(rpath, sizeof rpath, "/dev/shm/.%s.readers", name);
        int fd = open(rpath, O_RDWR);
        CHECK(fd >= 0);
        off_t off = (off_t)RING_HDR_BYTES + (off_t)offsetof(ring_rstream_t, tethers[0].name);
        CHECK(pwrite(fd, evil, sizeof evil, off) == (ssize_t)sizeof evil);
        close(fd);
    }
    int st = tu_sh(out, sizeof out, "%s ring stat %s; %s ring stat %s --json", cli, name, cli, name);
    CHECKF(st == 0 && strchr(out, 0x1b) == NULL && strchr(out, 0x07) == NULL, "ring stat: %d: %s", st, out);
    CHECKF(strstr(out, "\\x1b"), "ring stat does not show the escaped name: %s", out);
    CHECK_OK(h5tier_ring_untether(name, NULL, evil));

    /* reader-table pids of INT32_MIN (no process; negating it is undefined) and a tether
       beyond the tail: stat and the writer stay well-defined (UBSan) */
    {
        char rpath[600];
        snprintf(rpath, sizeof rpath, "/dev/shm/.%s.readers", name);
        int fd = open(rpath, O_RDWR);
        CHECK(fd >= 0);
        int32_t imin = INT32_MIN;
        uint32_t one = 1;
        uint64_t far = UINT64_MAX - 3;
        off_t base = (off_t)RING_HDR_BYTES;
        CHECK(pwrite(fd, &imin, 4, base + (off_t)offsetof(ring_rstream_t, readers[0].pid)) == 4);
        CHECK(pwrite(fd, &imin, 4, base + (off_t)offsetof(ring_rstream_t, tethers[1].pid)) == 4);
        CHECK(pwrite(fd, &far, 8, base + (off_t)offsetof(ring_rstream_t, tethers[1].pos)) == 8);
        CHECK(pwrite(fd, "x", 2, base + (off_t)offsetof(ring_rstream_t, tethers[1].name)) == 2);
        CHECK(pwrite(fd, &one, 4, base + (off_t)offsetof(ring_rstream_t, tethers[1].active)) == 4);
        uint32_t bits = UINT32_MAX;
        CHECK(pwrite(fd, &bits, 4, base + (off_t)offsetof(ring_rstream_t, sleepers)) == 4);
        close(fd);
        st = tu_sh(out, sizeof out, "%s ring stat %s", cli, name);
        CHECKF(st == 0, "ring stat with INT32_MIN pids: %d: %s", st, out);
        h5tier_ring_writer_opts_t wo;
        h5tier_ring_writer_opts_init(&wo);
        wo.tether_timeout_ms = 50;
        CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
        for (int k = 0; k < 1000; k++) { /* the tether beyond the tail counts as at the tail: room for a lap */
            ring_payload_fill(rec, sizeof rec, 2000 + (uint64_t)k);
            CHECK_OK(h5tier_ring_put(w, 0, rec, sizeof rec));
        }
        CHECK_OK(h5tier_ring_close(w));
        h5tier_ring_info_t info;
        h5tier_ring_stream_info_t si;
        CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
        CHECKF(si.waiters == 0, "sleeper bits of slots without a live owner were not cleared: %u", si.waiters);
        CHECK_OK(h5tier_ring_untether(name, NULL, "x"));
    }
    CHECK_OK(h5tier_ring_remove(name, 0));
    return 0;
}
