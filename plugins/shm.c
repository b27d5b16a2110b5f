/*
 * plugins/shm.c -- the shm driver as an HDF5 1.14 VFD plugin module
 * (libh5tier_shm_vfd.so).  HDF5 loads it when a program asks for the driver
 * by name (HDF5_DRIVER=h5tier_shm, H5Pset_driver_by_name) and finds it on
 * HDF5_PLUGIN_PATH; HDF5_DRIVER_CONFIG carries the configuration string
 * (see docs/shm.md).  The module contains the library statically with hidden
 * symbols, so only these two functions are exported, and the library's own
 * libh5tier.so exports no H5PL* symbol (each driver has its own module).
 */
#include <H5PLextern.h>

#include "shm/shm_driver.h"

H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_VFD; }

const void *H5PLget_plugin_info(void) { return h5tier__shm_class(); }
