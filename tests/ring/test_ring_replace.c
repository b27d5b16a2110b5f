/*
 * test_ring_replace -- proves that `ring create --force` (the FORCE flag)
 * never loses the old ring when the new one cannot be made (issue 8 item
 * 8): a replacement too big for /dev/shm fails with an error naming the
 * size, and the old ring is still there with its schema and its records; a
 * replacement that works takes the name atomically (new schema, tail 0), a
 * live writer or a non-regular file at the name refuses it, and no
 * temporary object is left in /dev/shm in any case.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "ring/payload.h"
#include "tutil.h"

static int temps_of(pid_t pid)
{
    char want[64];
    snprintf(want, sizeof want, "h5tier-ring-new.%d", (int)pid);
    DIR *d = opendir("/dev/shm");
    CHECK(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, want) != NULL;
    closedir(d);
    return n;
}

static uint64_t tail_of(const char *name, uint64_t *rs)
{
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    *rs = si.record_size;
    return si.tail;
}

int main(void)
{
    tu_h5_quiet();
    char *name = tu_shm_name("repl");
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "data", "u1[24]", 64));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0600, 0));
    h5tier_ring_stream_spec_free(&s);
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    unsigned char rec[24];
    for (uint64_t q = 0; q < 100; q++) {
        ring_payload_fill(rec, sizeof rec, q);
        CHECK_OK(h5tier_ring_put(w, 0, rec, sizeof rec));
    }

    /* a live writer: refused, nothing touched */
    h5tier_ring_stream_spec_t small;
    CHECK_OK(h5tier_ring_stream_from_dtype(&small, "other", "f8", 16));
    int rc = h5tier_ring_create(name, &small, 1, 0600, H5TIER_RING_CREATE_FORCE);
    CHECKF(rc == -EBUSY && strstr(h5tier_errmsg(), "alive"), "live writer: %d (%s)", rc, h5tier_errmsg());
    CHECK_OK(h5tier_ring_close(w));

    /* too big for /dev/shm: fails, the old ring stays */
    struct statvfs vfs;
    CHECK(statvfs("/dev/shm", &vfs) == 0);
    uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize, cap = 1024;
    while (cap * 8 <= total * 2)
        cap *= 2;
    h5tier_ring_stream_spec_t big;
    CHECK_OK(h5tier_ring_stream_from_dtype(&big, "data", "u8", cap));
    rc = h5tier_ring_create(name, &big, 1, 0600, H5TIER_RING_CREATE_FORCE);
    tu_log("replacement of %llu records of 8 B: %d (%s)", (unsigned long long)cap, rc, h5tier_errmsg());
    CHECKF(rc < 0, "a ring of %llu bytes on a %llu-byte /dev/shm was created", (unsigned long long)(cap * 8),
           (unsigned long long)total);
    uint64_t rs;
    CHECKF(tail_of(name, &rs) == 100 && rs == 24, "the old ring is gone or changed after a failed --force create");
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    uint64_t seq;
    CHECK_OK(h5tier_ring_next(r, rec, sizeof rec, &seq, 0));
    uint64_t s2 = seq;
    CHECK(seq == 36 && ring_payload_check(rec, sizeof rec, &s2) && s2 == seq);
    h5tier_ring_reader_close(r);
    CHECKF(temps_of(getpid()) == 0, "a temporary object was left in /dev/shm");
    h5tier_ring_stream_spec_free(&big);

    /* a replacement that works: new schema, empty */
    CHECK_OK(h5tier_ring_create(name, &small, 1, 0600, H5TIER_RING_CREATE_FORCE));
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    CHECK(!strcmp(si.name, "other") && si.record_size == 8 && si.tail == 0 && si.capacity == 16);
    CHECK(temps_of(getpid()) == 0);
    /* without FORCE: EEXIST, untouched */
    rc = h5tier_ring_create(name, &small, 1, 0600, 0);
    CHECKF(rc == -EEXIST, "create over an existing ring without force: %d", rc);

    /* a FIFO at the name is never replaced */
    char *fifo = tu_shm_name("replfifo");
    char fpath[300];
    snprintf(fpath, sizeof fpath, "/dev/shm/%s", fifo);
    CHECK(mkfifo(fpath, 0600) == 0);
    rc = h5tier_ring_create(fifo, &small, 1, 0600, H5TIER_RING_CREATE_FORCE);
    CHECKF(rc < 0 && strstr(h5tier_errmsg(), "regular file"), "FIFO at the name: %d (%s)", rc, h5tier_errmsg());
    struct stat st;
    CHECK(lstat(fpath, &st) == 0 && S_ISFIFO(st.st_mode));
    unlink(fpath);
    h5tier_ring_stream_spec_free(&small);
    CHECK_OK(h5tier_ring_remove(name, 0));
    return 0;
}
