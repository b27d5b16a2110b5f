/*
 * ring/liveness.h -- the one question other areas ask a ring: is this shm
 * object a ring with a live writer?  (`h5tier shm rm` refuses such a ring,
 * as `h5tier ring rm` does.)  Implemented in ring/liveness.c, next to the
 * ring's layout, so the shm area never reads ring internals itself.
 */
#ifndef H5TIER_RING_LIVENESS_H
#define H5TIER_RING_LIVENESS_H

#include <stdint.h>
#include <sys/types.h>

/* fd: an open shm object of size bytes.  Returns 1 when it carries a ring
 * control block whose writer process is alive (*pid = that pid), 0 when it
 * is not a ring or has no live writer, -errno when it cannot be read.
 * Reads a private copy of the header with pread (never a mapping, which a
 * truncation would turn into SIGBUS); trusts nothing but the magic
 * and the (pid, start time) pair checked with h5tier__owner_check. */
int h5tier__ring_live_writer(int fd, uint64_t size, pid_t *pid);

#endif
