/*
 * tools/shim/h5tier_shim.c -- libh5tier_shim.so, the library `h5tier run`
 * preloads (LD_PRELOAD) so that an unmodified HDF5 program uses an h5tier
 * driver.
 *
 * It interposes H5Fcreate and H5Fopen.  When the program passes a default
 * file-access list (H5P_DEFAULT, or a list whose driver is sec2, which is
 * what h5py, h5dump, h5ls and h5repack pass), the call is made with a copy
 * of that list on which the chosen driver is set; the caller's list is never
 * modified.  A program that chose another driver itself (core, family,
 * mpio, ...) is left alone.
 *
 * Environment (set by `h5tier run`):
 *   H5TIER_RUN_DRIVER   a name from the table below
 *   H5TIER_RUN_CONFIG   the driver's configuration (tier: the config string)
 *   H5TIER_RUN_VERBOSE  1: say on stderr which opens were redirected
 *
 * Adding a driver is one entry in `drivers[]`: a name and a function that
 * sets the driver on a file-access list for a given file name.
 *
 * What the shim cannot catch: programs linked statically against HDF5 (no
 * PLT call to interpose), files opened by the HDF5 library internally
 * without going through the public H5Fopen (external links and mounts
 * inherit the parent's list, so they follow it), programs calling H5Fopen
 * through a handle they dlopen'ed with RTLD_DEEPBIND, setuid programs (the
 * loader ignores LD_PRELOAD), and HDF5 libraries other than the one this
 * shim is linked with (for example a pip wheel of h5py bundling its own
 * libhdf5).
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5tier_shm.h"
#include "h5tier_tier.h"

#define SHIM_API __attribute__((visibility("default")))

static int apply_tier(hid_t fapl, const char *config, const char *name)
{
    (void)name;
    return H5Pset_fapl_tier(fapl, config && *config ? config : NULL) < 0 ? -1 : 0;
}

/* shm objects this process made (removed at exit: a read-only open leaves
 * its loaded copy behind otherwise). */
static char *shm_made[64];
static int nshm_made;
static pthread_mutex_t shm_made_lock = PTHREAD_MUTEX_INITIALIZER;

static void shm_cleanup(void)
{
    pthread_mutex_lock(&shm_made_lock);
    for (int i = 0; i < nshm_made; i++) {
        h5tier_shm_remove(shm_made[i], 0); /* refuses (EBUSY) while a live writer holds it */
        free(shm_made[i]);
    }
    nshm_made = 0;
    pthread_mutex_unlock(&shm_made_lock);
}

static void shm_remember(const char *name)
{
    pthread_mutex_lock(&shm_made_lock);
    int have = 0;
    for (int i = 0; i < nshm_made; i++)
        have |= !strcmp(shm_made[i], name);
    if (!have && nshm_made < 64) {
        if (nshm_made == 0)
            atexit(shm_cleanup);
        shm_made[nshm_made++] = strdup(name);
    }
    pthread_mutex_unlock(&shm_made_lock);
}

/* shm: the shm object is a working copy of the named disk file: loaded from
 * it at open, written back to it at flush and close, unlinked at close (and
 * at exit for read-only opens). */
static int apply_shm(hid_t fapl, const char *config, const char *name)
{
    (void)config;
    h5tier_shm_config_t c;
    h5tier_shm_config_init(&c);
    char abs[PATH_MAX];
    if (!realpath(name, abs)) {
        /* a file being created: its directory must exist */
        if (strlen(name) >= sizeof abs)
            return -1;
        snprintf(abs, sizeof abs, "%s", name);
    }
    snprintf(c.backing_file, sizeof c.backing_file, "%s", abs);
    /* a name unique to this process and file */
    unsigned long h = 5381;
    for (const char *p = abs; *p; p++)
        h = h * 33 + (unsigned char)*p;
    snprintf(c.name, sizeof c.name, "h5tier-run-%d-%lx", (int)getpid(), h);
    c.on_close = H5TIER_SHM_UNLINK;
    if (H5Pset_fapl_shm(fapl, &c) < 0)
        return -1;
    shm_remember(c.name);
    return 0;
}

static const struct shim_driver {
    const char *name;
    int (*apply)(hid_t fapl, const char *config, const char *file);
} drivers[] = {
    {"tier", apply_tier},
    {"shm", apply_shm},
    /* {"multifile", apply_multifile}, -- a new driver is one line here */
};

/* The driver names, NULL-terminated (`h5tier run` checks --driver with it),
 * filled from drivers[] when the library loads: a new driver is one line
 * in the table above and nothing else. */
SHIM_API const char *h5tier_shim_driver_names[sizeof drivers / sizeof drivers[0] + 1];

__attribute__((constructor)) static void names_init(void)
{
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        h5tier_shim_driver_names[i] = drivers[i].name;
}

static _Thread_local int inside; /* no redirection of our own nested calls */

static const struct shim_driver *chosen(void)
{
    const char *n = getenv("H5TIER_RUN_DRIVER");
    if (!n || !*n)
        return NULL;
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (!strcmp(n, drivers[i].name))
            return &drivers[i];
    static int warned;
    if (!warned++)
        fprintf(stderr, "h5tier shim: unknown driver '%s' in H5TIER_RUN_DRIVER; files open with sec2\n", n);
    return NULL;
}

/* A copy of fapl with the driver set, or -1 to use fapl unchanged. */
static hid_t redirect(const char *name, hid_t fapl)
{
    const struct shim_driver *d = inside ? NULL : chosen();
    if (!d || !name)
        return -1;
    inside = 1;
    hid_t out = -1;
    if (fapl == H5P_DEFAULT)
        out = H5Pcreate(H5P_FILE_ACCESS);
    else if (H5Pget_driver(fapl) == H5FD_SEC2)
        out = H5Pcopy(fapl);
    if (out >= 0 && d->apply(out, getenv("H5TIER_RUN_CONFIG"), name) < 0) {
        fprintf(stderr, "h5tier shim: cannot use the %s driver for '%s'; opening it with sec2\n", d->name, name);
        H5Eprint2(H5E_DEFAULT, stderr);
        H5Pclose(out);
        out = -1;
    }
    if (out >= 0 && getenv("H5TIER_RUN_VERBOSE"))
        fprintf(stderr, "h5tier shim: %s -> %s driver\n", name, d->name);
    inside = 0;
    return out;
}

SHIM_API hid_t H5Fcreate(const char *name, unsigned flags, hid_t fcpl, hid_t fapl)
{
    static hid_t (*real)(const char *, unsigned, hid_t, hid_t);
    if (!real)
        real = (hid_t(*)(const char *, unsigned, hid_t, hid_t))dlsym(RTLD_NEXT, "H5Fcreate");
    hid_t mine = redirect(name, fapl);
    hid_t r = real(name, flags, fcpl, mine >= 0 ? mine : fapl);
    if (mine >= 0)
        H5Pclose(mine);
    return r;
}

SHIM_API hid_t H5Fopen(const char *name, unsigned flags, hid_t fapl)
{
    static hid_t (*real)(const char *, unsigned, hid_t);
    if (!real)
        real = (hid_t(*)(const char *, unsigned, hid_t))dlsym(RTLD_NEXT, "H5Fopen");
    hid_t mine = redirect(name, fapl);
    hid_t r = real(name, flags, mine >= 0 ? mine : fapl);
    if (mine >= 0)
        H5Pclose(mine);
    return r;
}
