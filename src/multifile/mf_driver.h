/*
 * multifile/mf_driver.h -- what the driver's files share (H5FDmultifile.c:
 * the callbacks and class table; fapl.c: configuration, registration and the
 * public fapl and dataset-rule functions).
 */
#ifndef H5TIER_MF_DRIVER_H
#define H5TIER_MF_DRIVER_H

#include "multifile/mf_internal.h"

/* The driver's class table (H5FDmultifile.c). */
const H5FD_class_t *h5tier__mf_class(void);

/* Check cfg (NULL = defaults) into *out with defaults filled in.  0 or
 * -EINVAL with errmsg. */
int h5tier__mf_config_check(const h5tier_multifile_config_t *cfg, h5tier_multifile_config_t *out);

#endif
