/*
 * ring/liveness.c -- is a shm object a ring with a live writer?  See
 * liveness.h.
 */
#include <stdlib.h>

#include "ring/liveness.h"
#include "ring/ring_internal.h"

int h5tier__ring_live_writer(int fd, uint64_t size, pid_t *pid)
{
    *pid = 0;
    if (size < sizeof(ring_hdr_t))
        return 0;
    /* A private copy read with pread, never a mapping: whoever may write the
     * ring could truncate it under a mapping and kill us with SIGBUS. */
    ring_hdr_t *h = malloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    size_t got = 0;
    int r = h5tier__pread_full(fd, h, sizeof *h, 0, &got);
    if (r < 0) {
        free(h);
        return r;
    }
    int live = 0;
    if (got == sizeof *h && __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == RING_MAGIC) {
        bool alive = false;
        pid_t p = h5tier__owner_check(&h->writer_pid, &h->writer_start, &alive);
        if (p > 0 && alive) {
            *pid = p;
            live = 1;
        }
    }
    free(h);
    return live;
}
