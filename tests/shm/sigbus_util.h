/*
 * tests/shm/sigbus_util.h -- helpers of the test_sigbus_* programs: a
 * one-byte pipe handshake between processes, a process that truncates a
 * path, and a small dataset written and checked with the HDF5 library.
 */
#ifndef H5TIER_SIGBUS_UTIL_H
#define H5TIER_SIGBUS_UTIL_H

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "shmtest.h"

typedef struct sb_pipe {
    int fd[2];
} sb_pipe_t;

static inline void sb_pipe(sb_pipe_t *p) { CHECK(pipe(p->fd) == 0); }
static inline void sb_post(sb_pipe_t *p) { CHECK(write(p->fd[1], "x", 1) == 1); }
/* Wait (at most 60 s: the other side may have died) for a sb_post. */
static inline void sb_wait(sb_pipe_t *p)
{
    struct pollfd pf = {p->fd[0], POLLIN, 0};
    char c;
    CHECKF(poll(&pf, 1, 60000) == 1 && read(p->fd[0], &c, 1) == 1, "no word from the other process");
}

/* Another process truncates path to len bytes; returns its exit status. */
static inline int sb_truncate(const char *path, off_t len)
{
    pid_t t = fork();
    CHECK(t >= 0);
    if (t == 0)
        _exit(truncate(path, len) == 0 ? 0 : 1);
    return tu_wait(t);
}

/* Write dataset `name` of n ints, value i * mul + add. */
static inline int sb_write(hid_t f, const char *name, size_t n, int mul, int add)
{
    hsize_t d = n;
    int *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (int)i * mul + add;
    hid_t s = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(s);
    free(v);
    return ok ? 0 : -1;
}

/* 1 when dataset name of f holds sb_write's values, 0 when it differs, -1
 * when it cannot be read. */
static inline int sb_check(hid_t f, const char *name, size_t n, int mul, int add)
{
    int *v = calloc(n, sizeof *v);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    int rc = ds >= 0 && H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 ? 1 : -1;
    if (ds >= 0)
        H5Dclose(ds);
    for (size_t i = 0; rc == 1 && i < n; i++)
        if (v[i] != (int)i * mul + add)
            rc = 0;
    free(v);
    return rc;
}

/* Does the current HDF5 error stack or h5tier_errmsg() mention needle? */
static inline int sb_said(const char *needle)
{
    const char *st = st_errstack();
    return strstr(st, needle) != NULL || strstr(h5tier_errmsg(), needle) != NULL;
}

#endif
