/*
 * test_ring_prefault -- proves that opening a ring as writer and as reader
 * maps every page of the ring at once (MADV_POPULATE_WRITE / _READ), so the
 * first lap takes no page faults on the hot path: right after each open,
 * the kernel reports the whole mapping of /dev/shm/NAME as resident in this
 * process (Rss == Size in /proc/self/smaps), although nothing was put or
 * read yet.  Skips on kernels without MADV_POPULATE_READ (before 5.14).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "tutil.h"

/* Size and Rss (kB) of this process's mapping of path with permissions perms
 * ("rw-s" or "r--s") and exactly want_kb kB; 0 when there is none. */
static int find_map(const char *path, const char *perms, unsigned long want_kb, unsigned long *rss_kb)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    CHECK(f != NULL);
    char line[512];
    int in = 0, found = 0;
    unsigned long size = 0;
    while (fgets(line, sizeof line, f)) {
        char p[8];
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, p) == 3 && strchr(line, '/')) {
            size_t n = strlen(line);
            if (n && line[n - 1] == '\n')
                line[--n] = 0;
            in = !strcmp(p, perms) && n >= strlen(path) && !strcmp(line + n - strlen(path), path);
            continue;
        }
        if (in && sscanf(line, "Size: %lu kB", &size) == 1)
            continue;
        if (in && sscanf(line, "Rss: %lu kB", rss_kb) == 1 && size == want_kb) {
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

int main(void)
{
    void *probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(probe != MAP_FAILED);
#ifdef MADV_POPULATE_READ
    if (madvise(probe, 4096, MADV_POPULATE_READ) < 0 && errno == EINVAL)
        tu_skip("kernel without MADV_POPULATE_READ");
#else
    tu_skip("headers without MADV_POPULATE_READ");
#endif
    munmap(probe, 4096);

    char *name = tu_shm_name("prefault");
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "u1[64]", 1u << 15)); /* 2 MiB of records */
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
    h5tier_ring_stream_spec_free(&s);
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size >= (2 << 20));
    unsigned long kb = (unsigned long)((st.st_size + 4095) / 4096 * 4);

    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    unsigned long rss = 0;
    CHECKF(find_map(path, "rw-s", kb, &rss), "no rw-s mapping of %lu kB of %s", kb, path);
    CHECKF(rss == kb, "writer: %lu of %lu kB resident right after open", rss, kb);

    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    CHECKF(find_map(path, "r--s", kb, &rss), "no r--s mapping of %lu kB of %s", kb, path);
    CHECKF(rss == kb, "reader: %lu of %lu kB resident right after open", rss, kb);

    /* and the ring still works */
    unsigned char rec[64], got[64];
    memset(rec, 0xa5, sizeof rec);
    CHECK_OK(h5tier_ring_put(w, 0, rec, sizeof rec));
    uint64_t seq = 99;
    CHECK_OK(h5tier_ring_next(r, got, sizeof got, &seq, 1000));
    CHECK(seq == 0 && !memcmp(rec, got, sizeof rec));
    h5tier_ring_reader_close(r);
    h5tier_ring_close(w);
    h5tier_ring_remove(name, 1);
    free(name);
    return 0;
}
