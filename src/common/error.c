/*
 * common/error.c -- error numbers, their text, the per-thread explanation of
 * the last failure, and pushes onto the HDF5 error stack under "h5tier".
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/internal.h"

static _Thread_local char errmsg_buf[1024];

static const char *const own_errors[] = {
    [H5TIER_ENOTHDF5 - H5TIER_EBASE] = "not an HDF5 file",
    [H5TIER_ETRUNC - H5TIER_EBASE] = "truncated HDF5 image",
    [H5TIER_EMAGIC - H5TIER_EBASE] = "bad magic in shared header (not an h5tier object, or corrupted)",
    [H5TIER_EVERSION - H5TIER_EBASE] = "unsupported h5tier format version",
    [H5TIER_EHDF5 - H5TIER_EBASE] = "HDF5 library call failed",
    [H5TIER_EDEADWRITER - H5TIER_EBASE] = "writer process is dead",
    [H5TIER_ELAPPED - H5TIER_EBASE] = "reader was lapped by the writer; records lost",
    [H5TIER_EGONE - H5TIER_EBASE] = "requested record is no longer available",
    [H5TIER_ESCHEMA - H5TIER_EBASE] = "schema mismatch",
    [H5TIER_EJOURNAL - H5TIER_EBASE] = "damaged persist journal",
    [H5TIER_EDIVERGED - H5TIER_EBASE] = "ranks wrote different metadata",
    [H5TIER_EOVERLAP - H5TIER_EBASE] = "ranks wrote the same bytes in one epoch",
    [H5TIER_EINCOMPLETE - H5TIER_EBASE] = "a rank did not finish its log",
};

const char *h5tier_strerror(int err)
{
    if (err < 0)
        err = -err;
    if (err == 0)
        return "success";
    if (err > H5TIER_EBASE && err < H5TIER_ELAST)
        return own_errors[err - H5TIER_EBASE];
    if (err >= H5TIER_EBASE)
        return "unknown h5tier error";
    return strerror(err); /* glibc: thread-safe for known values */
}

const char *h5tier_errmsg(void) { return errmsg_buf; }

static void record(int err, const char *fmt, va_list ap)
{
    int n = vsnprintf(errmsg_buf, sizeof errmsg_buf, fmt, ap);
    if (n < 0)
        n = 0;
    const char *reason = err != 0 ? h5tier_strerror(err) : "";
    size_t rl = err != 0 ? strlen(reason) + 2 : 0; /* ": reason" */
    if ((size_t)n + rl >= sizeof errmsg_buf) {
        /* too long (a long path or spec): cut the middle, never the reason at the end */
        size_t keep = sizeof errmsg_buf - rl - 4;
        if ((size_t)n > keep) {
            n = (int)keep;
            memcpy(errmsg_buf + n, "...", 4);
            n += 3;
        }
        if (err != 0)
            snprintf(errmsg_buf + n, sizeof errmsg_buf - (size_t)n, ": %s", reason);
        return;
    }
    if (err != 0 && !strstr(errmsg_buf, reason))
        snprintf(errmsg_buf + n, sizeof errmsg_buf - (size_t)n, ": %s", reason);
}

int h5tier__fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(err, fmt, ap);
    va_end(ap);
    return -(err < 0 ? -err : err);
}

/* ---- HDF5 error class --------------------------------------------------- */

/* Registered on first use and forgotten when the library shuts down (the
 * drivers' terminate callbacks call h5tier__h5e_forget), so a push after
 * H5close + re-initialisation registers the class again instead of using an
 * id that HDF5 has freed or given to another class. */
static pthread_mutex_t class_lock = PTHREAD_MUTEX_INITIALIZER;
static hid_t class_id = H5I_INVALID_HID;
static hid_t major_ids[H5TIER_AREA_N];
enum { MIN_SYS, MIN_ARGS, MIN_FORMAT, MIN_NOSPACE, MIN_PERM, MIN_UNSUPP, MIN_N };
static hid_t minor_ids[MIN_N];

static void register_class(void)
{
    static const char *const majors[H5TIER_AREA_N] = {
        "h5tier", "h5tier shm driver", "h5tier ring", "h5tier persist", "h5tier tier", "h5tier multifile"};
    static const char *const minors[MIN_N] = {"system call failed", "bad argument", "bad file format",
                                              "out of space", "permission denied", "unsupported operation"};
    class_id = H5Eregister_class("h5tier", "h5tier", H5TIER_VERSION_STRING);
    if (class_id < 0)
        return;
    for (int i = 0; i < H5TIER_AREA_N; i++)
        major_ids[i] = H5Ecreate_msg(class_id, H5E_MAJOR, majors[i]);
    for (int i = 0; i < MIN_N; i++)
        minor_ids[i] = H5Ecreate_msg(class_id, H5E_MINOR, minors[i]);
}

hid_t h5tier__h5e_class(void)
{
    pthread_mutex_lock(&class_lock);
    if (class_id < 0)
        register_class();
    hid_t id = class_id;
    pthread_mutex_unlock(&class_lock);
    return id;
}

void h5tier__h5e_forget(void)
{
    pthread_mutex_lock(&class_lock);
    class_id = H5I_INVALID_HID; /* HDF5 frees its error classes at shutdown */
    pthread_mutex_unlock(&class_lock);
}

static int minor_for(int err)
{
    switch (err) {
    case EINVAL: case ENAMETOOLONG: case EBADF: case EEXIST: case ENOENT: return MIN_ARGS;
    case ENOSPC: case ENOMEM: case EFBIG: case EDQUOT: return MIN_NOSPACE;
    case EACCES: case EPERM: case EROFS: return MIN_PERM;
    case ENOTSUP: case ENOSYS: return MIN_UNSUPP;
    default:
        if (err > H5TIER_EBASE)
            return (err == H5TIER_EHDF5 || err == H5TIER_EDEADWRITER) ? MIN_SYS : MIN_FORMAT;
        return MIN_SYS;
    }
}

int h5tier__h5push(h5tier_area_t area, const char *file, const char *func, unsigned line, int err,
                   const char *fmt, ...)
{
    va_list ap;
    if (err < 0)
        err = -err;
    va_start(ap, fmt);
    record(err, fmt, ap);
    va_end(ap);
    hid_t cls = h5tier__h5e_class();
    if (cls >= 0)
        H5Epush2(H5E_DEFAULT, file, func, line, cls, major_ids[area], minor_ids[minor_for(err)], "%s",
                 errmsg_buf);
    return -err;
}
