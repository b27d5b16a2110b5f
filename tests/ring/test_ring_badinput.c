/*
 * test_ring_badinput -- proves bad input gets the documented error and a
 * message that names the object and the reason: unknown stream (lists the
 * streams), wrong record size, bad stream index, commit without claim, put
 * during a claim, a sequence number that is gone, a second writer, a
 * corrupted control block (magic, version, stream block) written into the
 * userblock of a real ring (which h5dump still reads), shm objects that are
 * not rings (a plain HDF5 file in shm, random bytes, an empty object), bad
 * names, capacities, stream lists and tether names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "h5tier_shm.h"
#include "tutil.h"

#define EXPECT(expr, err, text)                                                                               \
    do {                                                                                                      \
        long long r_ = (long long)(expr);                                                                     \
        CHECKF(r_ == -(long long)(err), "%s gave %lld (%s), expected %s", #expr, r_, h5tier_errmsg(), #err); \
        CHECKF(strstr(h5tier_errmsg(), (text)) != NULL, "%s: errmsg '%s' lacks '%s'", #expr, h5tier_errmsg(),   \
               (text));                                                                                       \
    } while (0)

static void poke(const char *name, off_t off, const void *bytes, size_t n)
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, bytes, n, off) == (ssize_t)n);
    close(fd);
}

static void peek(const char *name, off_t off, void *bytes, size_t n)
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(pread(fd, bytes, n, off) == (ssize_t)n);
    close(fd);
}

int main(void)
{
    tu_h5_quiet();
    char *name = tu_shm_name("bad");
    h5tier_ring_stream_spec_t s[2];
    CHECK_OK(h5tier_ring_stream_from_dtype(&s[0], "events", "u8[2]", 16));
    CHECK_OK(h5tier_ring_stream_from_dtype(&s[1], "images", "u2[8,8]", 4));

    /* creation errors */
    EXPECT(h5tier_ring_create("a/b", s, 2, 0, 0), EINVAL, "forbidden character");
    EXPECT(h5tier_ring_create(name, s, 0, 0, 0), EINVAL, "0 streams");
    h5tier_ring_stream_spec_t dup[2] = {s[0], s[0]};
    EXPECT(h5tier_ring_create(name, dup, 2, 0, 0), EINVAL, "given twice");
    h5tier_ring_stream_spec_t odd = s[0];
    odd.capacity = 12;
    EXPECT(h5tier_ring_create(name, &odd, 1, 0, 0), ERANGE, "not a power of two");
    h5tier_ring_stream_spec_t badname = s[0];
    snprintf(badname.name, sizeof badname.name, "a b");
    EXPECT(h5tier_ring_create(name, &badname, 1, 0, 0), EINVAL, "stream name 'a b'");
    h5tier_ring_stream_spec_t tmp;
    EXPECT(h5tier_ring_stream_from_like(&tmp, NULL, "nofile.h5", 16), EINVAL, "FILE.h5:/path");
    EXPECT(h5tier_ring_stream_from_like(&tmp, NULL, "/nonexistent/x.h5:/d", 16), ENOENT, "cannot read");
    h5tier_ring_reader_t *r;
    EXPECT(h5tier_ring_reader_open("h5t-no-such-ring", NULL, NULL, &r), ENOENT, "no such shm object");

    CHECK_OK(h5tier_ring_create(name, s, 2, 0, 0));
    EXPECT(h5tier_ring_create(name, s, 2, 0, 0), EEXIST, "already exists");
    h5tier_ring_stream_spec_free(&s[0]);
    h5tier_ring_stream_spec_free(&s[1]);

    /* writer misuse */
    h5tier_ring_t *w, *w2;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    EXPECT(h5tier_ring_open_writer(name, NULL, &w2), EBUSY, "already has a writer handle");
    EXPECT(h5tier_ring_stream_index(w, "nope"), ENOENT, "no stream 'nope' (streams: events, images)");
    uint64_t rec[2] = {1, 2};
    EXPECT(h5tier_ring_put(w, 0, rec, 8), H5TIER_ESCHEMA, "record of 8 bytes, the stream's records have 16");
    EXPECT(h5tier_ring_put(w, 7, rec, 16), EINVAL, "out of range");
    EXPECT(h5tier_ring_put_many(w, 1, rec, 1, 16), H5TIER_ESCHEMA, "have 128");
    EXPECT(h5tier_ring_commit(w, 0), EINVAL, "without a claim");
    void *slot;
    CHECK_OK(h5tier_ring_claim(w, 0, &slot, NULL));
    EXPECT(h5tier_ring_put(w, 0, rec, 16), EINVAL, "not committed");
    memcpy(slot, rec, 16);
    CHECK_OK(h5tier_ring_commit(w, 0));
    for (int i = 0; i < 99; i++)
        CHECK_OK(h5tier_ring_put(w, 0, rec, 16));
    EXPECT(h5tier_ring_remove(name, 0), EBUSY, "is alive");

    /* reader misuse */
    EXPECT(h5tier_ring_reader_open(name, "nope", NULL, &r), ENOENT, "streams: events, images");
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_SEQ;
    ro.seq = 10;
    EXPECT(h5tier_ring_reader_open(name, "events", &ro, &r), H5TIER_EGONE, "record 10 is gone (the ring holds 84 .. 99");
    ro.seq = 84;
    CHECK_OK(h5tier_ring_reader_open(name, "events", &ro, &r));
    EXPECT(h5tier_ring_reader_seek(r, 83), H5TIER_EGONE, "is gone");
    EXPECT(h5tier_ring_reader_seek(r, 101), EINVAL, "beyond the tail");
    char small[8];
    EXPECT(h5tier_ring_next(r, small, sizeof small, NULL, 0), H5TIER_ESCHEMA, "buffer of 8 bytes");
    EXPECT(h5tier_ring_view_done(r), EINVAL, "no view");
    EXPECT(h5tier_ring_reader_release(r, 90), EINVAL, "without a tether");
    h5tier_ring_reader_close(r);
    h5tier_ring_reader_opts_init(&ro);
    ro.tether = "a-very-long-tether-name-beyond-31-chars";
    EXPECT(h5tier_ring_reader_open(name, NULL, &ro, &r), EINVAL, "tether name");
    h5tier_ring_close(w);

    /* corrupted control block: magic, version, stream block */
    uint64_t magic, junk = 0x0123456789abcdefULL;
    peek(name, 0, &magic, 8);
    poke(name, 0, &junk, 8);
    EXPECT(h5tier_ring_reader_open(name, NULL, NULL, &r), H5TIER_EMAGIC, "is an HDF5 file but not a ring");
    EXPECT(h5tier_ring_open_writer(name, NULL, &w), H5TIER_EMAGIC, "no ring magic");
    h5tier_ring_info_t info;
    EXPECT(h5tier_ring_info(name, &info, NULL, 0), H5TIER_EMAGIC, "not a ring");
    char out[4096];
    CHECKF(tu_sh(out, sizeof out, "h5dump -H /dev/shm/%s", name) == 0, "h5dump of a ring with a bad userblock: %s", out);
    poke(name, 0, &magic, 8);
    uint32_t ver, v99 = 99;
    peek(name, 8, &ver, 4);
    poke(name, 8, &v99, 4);
    EXPECT(h5tier_ring_reader_open(name, NULL, NULL, &r), H5TIER_EVERSION, "format version 99, this library speaks");
    EXPECT(h5tier_ring_open_writer(name, NULL, &w), H5TIER_EVERSION, "re-create the ring");
    poke(name, 8, &ver, 4);
    /* stream 0's capacity is at 4096 + 48 + 8 (after name and record size) */
    uint64_t cap, three = 3;
    peek(name, 4096 + 56, &cap, 8);
    CHECK(cap == 16);
    poke(name, 4096 + 56, &three, 8);
    EXPECT(h5tier_ring_reader_open(name, NULL, NULL, &r), H5TIER_EMAGIC, "stream 'events' has capacity 3");
    poke(name, 4096 + 56, &cap, 8);
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    h5tier_ring_reader_close(r);

    /* shm objects that are not rings */
    char *plain = tu_shm_name("plain");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", plain);
    H5Pset_fapl_shm(fapl, &cfg);
    hid_t f = H5Fcreate(plain, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    H5Fclose(f);
    H5Pclose(fapl);
    EXPECT(h5tier_ring_reader_open(plain, NULL, NULL, &r), H5TIER_EMAGIC, "is an HDF5 file but not a ring");
    EXPECT(h5tier_ring_remove(plain, 0), H5TIER_EMAGIC, "not a ring");
    char *rnd = tu_shm_name("random");
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", rnd);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    char bytes[8192];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (char)(i * 7 + 3);
    CHECK(write(fd, bytes, sizeof bytes) == (ssize_t)sizeof bytes);
    close(fd);
    EXPECT(h5tier_ring_reader_open(rnd, NULL, NULL, &r), H5TIER_EMAGIC, "is not a ring (no ring magic at offset 0");
    char *empty = tu_shm_name("empty");
    snprintf(path, sizeof path, "/dev/shm/%s", empty);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    close(fd);
    EXPECT(h5tier_ring_info(empty, &info, NULL, 0), H5TIER_EMAGIC, "0 bytes");
    /* FORCE replaces a non-ring object */
    CHECK_OK(h5tier_ring_stream_from_dtype(&s[0], "x", "f4", 8));
    CHECK_OK(h5tier_ring_create(rnd, s, 1, 0, H5TIER_RING_CREATE_FORCE));
    h5tier_ring_stream_spec_free(&s[0]);
    CHECK_OK(h5tier_ring_info(rnd, &info, NULL, 0));

    CHECK_OK(h5tier_ring_remove(name, 0));
    CHECK_OK(h5tier_ring_remove(rnd, 0));
    EXPECT(h5tier_ring_remove(name, 0), ENOENT, "no such shm object");
    free(name);
    free(plain);
    free(rnd);
    free(empty);
    return 0;
}
