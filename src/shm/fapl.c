/*
 * shm/fapl.c -- the shm driver's configuration: defaults, validation, the
 * driver's registration with HDF5 and the public H5Pset_fapl_shm /
 * H5Pget_fapl_shm.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "shm/shm_driver.h"

/* The driver's id while it is registered, H5I_INVALID_HID otherwise.  HDF5
 * reuses ids after a library restart (H5close, or the atexit cleanup before a
 * re-open), so an id kept across one may name another driver (core, if it
 * registers first): h5tier__shm_terminate, the class's terminate callback,
 * forgets it when HDF5 frees the class, as sec2 does.  Atomic: terminate runs
 * under HDF5's global lock and must not take shm_driver_lock, which
 * h5tier_shm_driver_id holds while it calls into HDF5 (a lock-order
 * inversion otherwise). */
static _Atomic hid_t shm_driver = H5I_INVALID_HID;
static pthread_mutex_t shm_driver_lock = PTHREAD_MUTEX_INITIALIZER;

const char *h5tier__shm_why(void)
{
    static _Thread_local char why[1024];
    snprintf(why, sizeof why, "%s", h5tier_errmsg());
    return why;
}

/* Push the message recorded by the last failing h5tier__* call (errmsg) on
 * the HDF5 stack.  -err. */
int h5tier__shm_push_last(int rc) { return H5TIER_PUSH(H5TIER_AREA_SHM, rc, "%s", h5tier__shm_why()); }

/* ---- configuration ------------------------------------------------------ */

void h5tier_shm_config_init(h5tier_shm_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->version = H5TIER_SHM_CONFIG_VERSION;
    cfg->increment = SHM_DEFAULT_INCREMENT;
    cfg->page_size = SHM_DEFAULT_PAGE_SIZE;
    cfg->on_close = H5TIER_SHM_KEEP;
    cfg->mode = 0600;
    cfg->flags = H5TIER_SHM_POPULATE | H5TIER_SHM_POPULATE_AHEAD;
}

int h5tier__shm_config_check(const h5tier_shm_config_t *cfg, h5tier_shm_config_t *out)
{
    if (!cfg) {
        h5tier_shm_config_init(out);
        return 0;
    }
    if (cfg->version != H5TIER_SHM_CONFIG_VERSION)
        return h5tier__fail(EINVAL, "shm config: version %u is not supported (want %u)", cfg->version,
                            H5TIER_SHM_CONFIG_VERSION);
    *out = *cfg;
    if (memchr(out->name, 0, sizeof out->name) == NULL || memchr(out->backing_file, 0, sizeof out->backing_file) == NULL)
        return h5tier__fail(EINVAL, "shm config: name or backing file is not NUL-terminated");
    if (out->name[0]) {
        char canon[H5TIER_SHM_NAME_MAX + 2];
        int rc = h5tier__shm_name_canon(out->name, canon, sizeof canon);
        if (rc < 0)
            return h5tier__fail(-rc, "shm object '%s': bad name (%s)", out->name, h5tier__shm_why());
    }
    if (out->page_size == 0)
        out->page_size = SHM_DEFAULT_PAGE_SIZE;
    if (out->page_size < 4096 || (out->page_size & (out->page_size - 1)))
        return h5tier__fail(EINVAL, "shm config: page size %zu is not a power of two >= 4096", out->page_size);
    if (out->increment == 0)
        out->increment = SHM_DEFAULT_INCREMENT;
    if ((uint64_t)out->increment > SHM_MAX_INCREMENT)
        return h5tier__fail(EINVAL, "shm config: increment %zu is larger than 1 TiB", out->increment);
    if (out->on_close != H5TIER_SHM_KEEP && out->on_close != H5TIER_SHM_UNLINK)
        return h5tier__fail(EINVAL, "shm config: on_close %d is neither KEEP nor UNLINK", (int)out->on_close);
    if (out->mode == 0)
        out->mode = 0600;
    if (out->mode & ~(mode_t)0777)
        return h5tier__fail(EINVAL, "shm config: mode %o has bits beyond 0777", (unsigned)out->mode);
    if (out->flags & ~(H5TIER_SHM_POPULATE | H5TIER_SHM_RENAME_SAVE | H5TIER_SHM_NO_PERSIST_ON_FLUSH |
                       H5TIER_SHM_POPULATE_AHEAD | H5TIER_SHM_MEMBER))
        return h5tier__fail(EINVAL, "shm config: unknown flags 0x%x", out->flags);
    return 0;
}

herr_t h5tier__shm_terminate(void)
{
    atomic_store(&shm_driver, H5I_INVALID_HID);
    return 0;
}

hid_t h5tier_shm_driver_id(void)
{
    pthread_mutex_lock(&shm_driver_lock);
    hid_t id = atomic_load(&shm_driver);
    /* H5Iget_type: also re-registers after an H5FDunregister that HDF5 did
     * not report through terminate (a reference still held by a fapl). */
    if (id < 0 || H5Iget_type(id) != H5I_VFL) {
        id = H5FDregister(h5tier__shm_class());
        atomic_store(&shm_driver, id);
    }
    pthread_mutex_unlock(&shm_driver_lock);
    return id;
}

herr_t H5Pset_fapl_shm(hid_t fapl_id, const h5tier_shm_config_t *cfg)
{
    h5tier_shm_config_t c;
    int rc = h5tier__shm_config_check(cfg, &c);
    if (rc < 0) {
        h5tier__shm_push_last(rc);
        return -1;
    }
    hid_t id = h5tier_shm_driver_id();
    if (id < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, H5TIER_EHDF5, "shm driver: cannot register with HDF5");
        return -1;
    }
    if (H5Pset_driver(fapl_id, id, &c) < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, H5TIER_EHDF5, "shm driver: H5Pset_driver failed (not a file access list?)");
        return -1;
    }
    return 0;
}

herr_t H5Pget_fapl_shm(hid_t fapl_id, h5tier_shm_config_t *cfg)
{
    hid_t id = h5tier_shm_driver_id();
    if (id < 0 || H5Pget_driver(fapl_id) != id) {
        H5TIER_PUSH(H5TIER_AREA_SHM, EINVAL, "shm driver: file access list does not use the shm driver");
        return -1;
    }
    const h5tier_shm_config_t *c = H5Pget_driver_info(fapl_id);
    if (!c) {
        H5TIER_PUSH(H5TIER_AREA_SHM, EINVAL, "shm driver: file access list has no shm configuration");
        return -1;
    }
    *cfg = *c;
    return 0;
}

