/*
 * tests/common/tutil.h -- the small test harness every h5tier test program
 * uses: checks that name the failing line, skips (exit 77), unique shm
 * names cleaned up at exit, temporary directories, running real processes
 * and capturing what they print.
 */
#ifndef H5TIER_TUTIL_H
#define H5TIER_TUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include <hdf5.h>

#define TU_SKIP 77

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond))                                                                          \
            tu_die(__FILE__, __LINE__, "check failed: %s", #cond);                           \
    } while (0)
#define CHECKF(cond, ...)                                                                     \
    do {                                                                                      \
        if (!(cond))                                                                          \
            tu_die(__FILE__, __LINE__, __VA_ARGS__);                                          \
    } while (0)
/* An h5tier call that must succeed (returns >= 0). */
#define CHECK_OK(expr)                                                                        \
    do {                                                                                      \
        long long tu_r_ = (long long)(expr);                                                  \
        if (tu_r_ < 0)                                                                        \
            tu_die(__FILE__, __LINE__, "%s failed: %lld (%s)", #expr, tu_r_, tu_errtext((int)tu_r_)); \
    } while (0)

void tu_die(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
const char *tu_errtext(int err);
void tu_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void tu_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A unique shm name "h5t-<tag>-<pid>-<n>" (no leading '/'), removed with its
 * control object at exit.  Returns a malloc'd string the caller may free
 * or keep until exit (LSan is told so in tests/lsan.supp). */
char *tu_shm_name(const char *tag);
/* Register an extra shm name for removal at exit. */
void tu_shm_cleanup(const char *name);

/* A fresh temporary directory, removed at exit (rm -rf). */
const char *tu_tmpdir(void);
/* tu_tmpdir()/name, in a static rotating buffer. */
const char *tu_path(const char *name);

/* Paths from the environment ctest sets. */
const char *tu_cli(void);    /* the h5tier CLI */
const char *tu_python(void); /* python3 with h5py */
int tu_have_h5py(void);

/* Run /bin/sh -c "fmt..." capturing stdout+stderr into out (may be NULL).
 * Returns the exit status, or 128+signal. */
int tu_sh(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Run this test program again as `EXE CHILD_ARGS` in a private mount
 * namespace, after `mount MOUNT_ARGS` there (root only; the mount ends with
 * the namespace).  Neither string may hold a single quote.  Returns the
 * child's status, or 77 when the namespace or the mount cannot be made here
 * (out, if given, says why). */
int tu_in_mount_ns(char *out, size_t outlen, const char *mount_args, const char *child_args);

/* Start this test program again as a child: /proc/self/exe with args
 * (NULL-terminated).  Returns the pid. */
pid_t tu_spawn_self(const char *arg0, ...);
/* Wait for pid; returns exit status or 128+signal. */
int tu_wait(pid_t pid);
/* Wait up to timeout_s; kills (SIGKILL) and returns -1 on timeout. */
int tu_wait_timeout(pid_t pid, double timeout_s);

double tu_now(void);

/* HDF5 helpers: silence the automatic error printing (tests of bad input). */
void tu_h5_quiet(void);

#endif
