/*
 * ring/liveness.c -- is a shm object a ring with a live writer?  See
 * liveness.h.
 */
#include <sys/mman.h>

#include "ring/liveness.h"
#include "ring/ring_internal.h"

int h5tier__ring_live_writer(int fd, uint64_t size, pid_t *pid)
{
    *pid = 0;
    if (size < sizeof(ring_hdr_t))
        return 0;
    ring_hdr_t *h = h5tier_sys.mmap(NULL, sizeof(ring_hdr_t), PROT_READ, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED)
        return -errno;
    int live = 0;
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == RING_MAGIC) {
        bool alive = false;
        pid_t p = h5tier__owner_check(&h->writer_pid, &h->writer_start, &alive);
        if (p > 0 && alive) {
            *pid = p;
            live = 1;
        }
    }
    h5tier_sys.munmap(h, sizeof(ring_hdr_t));
    return live;
}
