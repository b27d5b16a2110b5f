/*
 * shm/shm_driver.h -- what the shm driver's own files share (H5FDshm.c, the
 * driver; fapl.c, its configuration and public fapl functions; image.c,
 * checks of an existing HDF5 image).  Not used outside the driver.
 */
#ifndef H5TIER_SHM_DRIVER_H
#define H5TIER_SHM_DRIVER_H

#include "shm/shm_internal.h"

#define SHM_DEFAULT_INCREMENT ((size_t)64 << 20)
#define SHM_DEFAULT_PAGE_SIZE ((size_t)64 << 10)
#define SHM_MAX_INCREMENT ((uint64_t)1 << 40)

/* The driver's class table (H5FDshm.c). */
const H5FD_class_t *h5tier__shm_class(void);

/* The class's terminate callback: HDF5 frees the class (H5close, the atexit
 * cleanup, H5FDunregister), so the driver's id is forgotten and the next
 * h5tier_shm_driver_id registers it again.  Always 0. */
herr_t h5tier__shm_terminate(void);

/* Check cfg (NULL = defaults) and write it with defaults filled in to *out.
 * 0 or -EINVAL/-ENAMETOOLONG with an errmsg naming the problem. */
int h5tier__shm_config_check(const h5tier_shm_config_t *cfg, h5tier_shm_config_t *out);

/* A copy of errmsg (this thread's), for a message that wraps it: recording
 * the new message overwrites errmsg while it is being formatted.  Valid until
 * the next call in this thread. */
const char *h5tier__shm_why(void);

/* Push the message recorded by the last failing h5tier__* call (errmsg) on
 * the HDF5 error stack under the shm area.  Returns -|rc|. */
int h5tier__shm_push_last(int rc);

/* Check that [0, len) of an existing object (canonical name canon) holds an
 * HDF5 file whose superblock's end-of-file address fits: *end receives that
 * absolute address (0 when unknown).  0, -H5TIER_ENOTHDF5 (empty, no
 * signature at 0, 512, 1024, ..., impossible offset size) or -H5TIER_ETRUNC
 * (shorter than the superblock or than its end-of-file address), recorded
 * as errmsg naming the object and, unless quiet, pushed on the HDF5 error
 * stack. */
int h5tier__shm_check_image(const char *canon, const unsigned char *img, uint64_t len, uint64_t *end, int quiet);

/* flags of h5tier__shm_check_image_ex */
#define H5TIER_IMAGE_MEMBER 0x1u /* the object may be a member of a family, split or multi file: an
                                    empty object, no signature, or an end of file beyond the object
                                    are accepted (*member = 1) */

/* h5tier__shm_check_image with flags.  A superblock (v0/v1) that names the
 * family or multi driver in its driver-information block is member 0 of
 * such a file whatever the flags: its end of file may lie beyond the object.
 * *member (may be NULL) receives 1 when the object was accepted as a member
 * (then *end is 0: the object's own size is its end).  Same errors. */
int h5tier__shm_check_image_ex(const char *canon, const unsigned char *img, uint64_t len, unsigned flags,
                               uint64_t *end, int *member, int quiet);

/* 1 if img[0, len) is not a standalone HDF5 image but looks like a member
 * of a family, split or multi file: empty, no signature, or a superblock
 * whose end of file lies beyond len.  No message; never fails. */
int h5tier__shm_image_is_member(const unsigned char *img, uint64_t len);

/* ---- the populate-ahead helper thread (ahead.c) ---------------------------
 * One per writer file with H5TIER_SHM_POPULATE_AHEAD, started by the writer
 * (never by a read-only opener).  Every function is a no-op in a process other
 * than the one that started the thread (a child after fork). */
typedef struct h5tier__shm_ahead h5tier__shm_ahead_t;

/* Start the thread for the data object fd (kept open by the writer), whose
 * [0, size) is reserved and [frontier, size) never touched.  NULL if it
 * cannot be started (the writer then simply works without it). */
h5tier__shm_ahead_t *h5tier__shm_ahead_start(int fd, uint64_t size, uint64_t frontier);

/* Writer: it is about to touch pages up to `to` (its populate step) for a
 * write ending at `need` (page aligned, <= to).  Returns the new frontier,
 * between need and to: less than to when the thread is zeroing a unit there
 * (populate less), waiting only if the write itself reaches into it. */
uint64_t h5tier__shm_ahead_frontier(h5tier__shm_ahead_t *a, uint64_t need, uint64_t to);

/* Writer: [0, size) is reserved; if res_to > size, ask for [size, res_to) to
 * be reserved ahead (ignored while a reservation is pending or done). */
void h5tier__shm_ahead_kick(h5tier__shm_ahead_t *a, uint64_t size, uint64_t res_to);

/* Writer, before reserving beyond size itself: cancel a reservation not yet
 * started, wait for one in progress, and return the end up to which
 * [size, end) is now reserved (size if nothing, or if the reservation ahead
 * failed: the writer then reserves itself and reports its own error). */
uint64_t h5tier__shm_ahead_take(h5tier__shm_ahead_t *a, uint64_t size);

/* Stop and join the thread and free it (NULL: nothing). */
void h5tier__shm_ahead_stop(h5tier__shm_ahead_t *a);
/* Map behind: the writer wrote [.., written_to) of its mapping at base with
 * pwrite (no page tables filled); the thread fills them (MADV_POPULATE_WRITE)
 * up to there, so rewrites and reads do not fault.  Stops zeroing ahead
 * (pwrite needs no zeroed pages) and waits for a zeroing unit in progress:
 * call it before the pwrite, and after it with the new end. */
void h5tier__shm_ahead_behind(h5tier__shm_ahead_t *a, unsigned char *base, uint64_t written_to);
/* Before the writer moves its mapping (mremap): waits for a population in
 * progress and forgets base until the next h5tier__shm_ahead_behind. */
void h5tier__shm_ahead_unmap(h5tier__shm_ahead_t *a);

#endif /* H5TIER_SHM_DRIVER_H */
