/*
 * tests/shm/shmtest.h -- small helpers shared by the shm driver tests:
 * building a file access list for a named shm object, capturing the HDF5
 * error stack as text, waiting for marker files written by child processes.
 */
#ifndef H5TIER_SHMTEST_H
#define H5TIER_SHMTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "h5tier_shm.h"
#include "h5tier_sys.h"
#include "tutil.h"

/* A fapl selecting the shm driver for `name` (NULL: derive from the file name). */
static inline hid_t st_fapl(const char *name, size_t increment, h5tier_shm_close_t on_close)
{
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    if (name)
        snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.increment = increment;
    cfg.on_close = on_close;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(fapl >= 0);
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    return fapl;
}

/* A fapl for SWMR (latest format) on the shm driver. */
static inline hid_t st_fapl_swmr(const char *name, size_t increment)
{
    hid_t fapl = st_fapl(name, increment, H5TIER_SHM_KEEP);
    CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0);
    return fapl;
}

static char st_errstack_buf[8192];

static inline herr_t st_walk_cb(unsigned n, const H5E_error2_t *e, void *arg)
{
    (void)n;
    (void)arg;
    size_t len = strlen(st_errstack_buf);
    snprintf(st_errstack_buf + len, sizeof st_errstack_buf - len, "%s | ", e->desc ? e->desc : "");
    return 0;
}

/* The current HDF5 error stack as one line (call right after the failure). */
static inline const char *st_errstack(void)
{
    st_errstack_buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, st_walk_cb, NULL);
    return st_errstack_buf;
}

/* Create an empty marker file. */
static inline void st_mark(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

/* Wait until path exists; 0, or -1 after timeout_s. */
static inline int st_wait_file(const char *path, double timeout_s)
{
    double end = tu_now() + timeout_s;
    while (access(path, F_OK) != 0) {
        if (tu_now() > end)
            return -1;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* The shm directory: $H5TIER_SHM_DIR when set (absolute), else /dev/shm. */
static inline const char *st_shm_dir(void)
{
    const char *d = getenv("H5TIER_SHM_DIR");
    return d && d[0] == '/' ? d : "/dev/shm";
}

/* "DIR/name" of a shm object, in a static rotating buffer. */
static inline const char *st_shm_path(const char *name)
{
    static char buf[4][600];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", st_shm_dir(), name[0] == '/' ? name + 1 : name);
    return p;
}

static inline off_t st_shm_size(const char *name)
{
    struct stat st;
    return stat(st_shm_path(name), &st) == 0 ? st.st_size : -1;
}

static inline int st_shm_exists(const char *name) { return st_shm_size(name) >= 0; }

#endif
