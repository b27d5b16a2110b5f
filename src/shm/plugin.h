/*
 * shm/plugin.h -- the shm driver's configuration string and its HDF5 1.14
 * additions (plugin class, `del`), implemented in plugin.c.  Not installed.
 */
#ifndef H5TIER_SHM_PLUGIN_H
#define H5TIER_SHM_PLUGIN_H

#include "shm/shm_driver.h"

/* Parse a configuration string (HDF5_DRIVER_CONFIG, H5Pset_driver_by_name)
 * into *cfg: the defaults of h5tier_shm_config_init, then comma-separated
 * key=value items (spaces around items ignored, empty items allowed):
 *   name=NAME             shm object name ("run1" or "/run1")
 *   backing=PATH          backing file (load from / persist to)
 *   increment=SIZE        growth step ("64MiB", "1G", ...)
 *   page_size=SIZE        write-tracking page size (power of two >= 4096)
 *   on_close=keep|unlink  what happens to the object at the last writer close
 *   mode=OCTAL            permissions of created objects ("0640")
 *   populate=BOOL, populate_ahead=BOOL, persist_on_flush=BOOL (1/0, yes/no, on/off)
 *   save=journal|rename   how the backing file is written
 * Values cannot contain a comma.  The result is checked like a struct given
 * to H5Pset_fapl_shm.  0, or -EINVAL / -ENAMETOOLONG with an errmsg naming
 * the item and the reason. */
int h5tier__shm_config_parse(const char *text, h5tier_shm_config_t *cfg);

#if defined(H5FD_CLASS_VERSION)
/* HDF5 1.14+: the class HDF5 registers for this driver, built once from the
 * driver's class table `base`: the same callbacks, except that `open` first
 * turns a configuration string on the file access list (HDF5_DRIVER_CONFIG,
 * H5Pset_driver_by_name) into the driver's configuration. */
const H5FD_class_t *h5tier__shm_class14(const H5FD_class_t *base);

/* HDF5 1.14+ `del` callback (H5Fdelete): remove the shm object named by the
 * access list's configuration, or derived from name, and its control object.
 * A backing file is left alone.  Fails (error pushed) if no such object
 * exists or a live writer holds it. */
herr_t h5tier__shm_vfd_del(const char *name, hid_t fapl_id);
#endif

#endif /* H5TIER_SHM_PLUGIN_H */
