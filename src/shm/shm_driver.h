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

/* Check cfg (NULL = defaults) and write it with defaults filled in to *out.
 * 0 or -EINVAL/-ENAMETOOLONG with an errmsg naming the problem. */
int h5tier__shm_config_check(const h5tier_shm_config_t *cfg, h5tier_shm_config_t *out);

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

#endif /* H5TIER_SHM_DRIVER_H */
