/*
 * common/internal.h -- helpers shared by every h5tier area, written once:
 * error recording, HDF5 error-stack pushes, full-length I/O loops, page maps,
 * shm name checks.  Not installed.
 */
#ifndef H5TIER_COMMON_INTERNAL_H
#define H5TIER_COMMON_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <hdf5.h>

#include "h5tier.h"
#include "h5tier_sys.h"

#define H5TIER_LIKELY(x) __builtin_expect(!!(x), 1)
#define H5TIER_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define H5TIER_CACHELINE 64

/* ---- errors (error.c) --------------------------------------------------- */

/* Record "fmt..." as this thread's h5tier_errmsg() and return -err (err is a
 * positive errno or H5TIER_E* value). */
int h5tier__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Areas, for the HDF5 error stack's major message. */
typedef enum {
    H5TIER_AREA_COMMON,
    H5TIER_AREA_SHM,
    H5TIER_AREA_RING,
    H5TIER_AREA_PERSIST,
    H5TIER_AREA_TIER,
    H5TIER_AREA_MULTIFILE,
    H5TIER_AREA_N
} h5tier_area_t;

/* Push "fmt...: <strerror(err)>" on the HDF5 error stack under the h5tier
 * class (major = area, minor chosen from err) and record it as errmsg.
 * Returns -err.  Used inside driver callbacks, which then return FAIL. */
int h5tier__h5push(h5tier_area_t area, const char *file, const char *func, unsigned line, int err,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define H5TIER_PUSH(area, err, ...) h5tier__h5push((area), __FILE__, __func__, __LINE__, (err), __VA_ARGS__)

/* The h5tier HDF5 error class (registered on first use). */
hid_t h5tier__h5e_class(void);
/* Forget the class at library shutdown (every driver's terminate callback
 * calls this): the next use after H5close registers it again. */
void h5tier__h5e_forget(void);

/* ---- I/O loops (io.c) --------------------------------------------------- */

/* Read up to len bytes at off, retrying EINTR and short reads, in pieces of
 * at most 1 GiB.  *got receives the bytes read (less than len only at EOF).
 * Returns 0 or -errno. */
int h5tier__pread_full(int fd, void *buf, size_t len, off_t off, size_t *got);

/* Like h5tier__pread_full but zero-fills the part past EOF. */
int h5tier__pread_zero(int fd, void *buf, size_t len, off_t off);

/* Write exactly len bytes at off (EINTR, short writes, 1 GiB pieces).
 * Returns 0 or -errno (-EIO when the kernel writes nothing). */
int h5tier__pwrite_full(int fd, const void *buf, size_t len, off_t off);

/* Write the iovcnt buffers of iov (each at most 1 GiB, iovcnt <= IOV_MAX)
 * contiguously from off, retrying EINTR and short writes.  0 or -errno
 * (-EIO when the kernel writes nothing).  iov is not modified. */
int h5tier__pwritev_full(int fd, const struct iovec *iov, int iovcnt, off_t off);

/* Copy [0, len) of src to the same offsets of dst: copy_file_range (in the
 * kernel, a reflink where the file system can), falling back to a 4 MiB
 * pread/pwrite loop where it cannot copy between these files.  *done: bytes
 * copied; less than len with a 0 return when src ended early.  0 or -errno. */
int h5tier__copy_file(int src, int dst, uint64_t len, uint64_t *done);

/* fsync with EINTR retry.  Returns 0 or -errno. */
int h5tier__fsync(int fd);

/* fdatasync with EINTR retry: the data and the metadata needed to read it
 * back (size, allocation), not the times.  Returns 0 or -errno. */
int h5tier__fdatasync(int fd);

/* fsync the directory holding path (after a create or rename). */
int h5tier__fsync_dir(const char *path);

/* Reserve [off, off+len) (posix_fallocate semantics through the table,
 * EINTR retried; may grow the file).  0 or -errno. */
int h5tier__reserve_range(int fd, off_t off, off_t len);
/* Reserve [0, len). */
int h5tier__reserve(int fd, off_t len);

/* Publish a finished temp file: rename tmp over dst (replacing a symlink at
 * dst itself, never its target), then fsync dst's directory so the new name
 * survives a crash.  *renamed tells which step failed: false = nothing
 * changed (tmp is still there), true = dst is the new file and only the
 * directory's durability is in doubt.  0 or -errno. */
int h5tier__rename_durable(const char *tmp, const char *dst, bool *renamed);

/* Remove the temporary files `PREFIXPID` (PID: decimal digits) that killed
 * writers left in directory `dir` ("" = the current one), for a file that
 * is built under a temporary name and renamed: all of them when `all` (the
 * caller holds a lock that excludes every other builder), otherwise only
 * those whose PID is gone or is this process.  Regular files only; unlink
 * never follows a symlink.  Best effort: returns how many were removed. */
int h5tier__remove_stale_tmps(const char *dir, const char *prefix, bool all);

/* What `force` may replace at a destination (replace.c): a regular file, or
 * a symbolic link itself (the rename replaces the link, never its target).
 * st: lstat of path.  0, or -EINVAL / -EISDIR naming the path and its type
 * (a device such as /dev/null, a FIFO, a socket, a directory). */
struct stat;
int h5tier__check_replaceable(const char *path, const struct stat *st);

/* ---- page map: one bit per page (pagemap.c) ----------------------------- */

typedef struct h5tier_pagemap {
    uint64_t *bits;   /* one bit per page, 1 = dirty */
    size_t npages;    /* pages the bitmap covers */
    size_t page_size; /* bytes per page, a power of two */
    unsigned shift;   /* log2(page_size) */
    size_t ndirty;    /* pages currently marked */
} h5tier_pagemap_t;

int h5tier__pagemap_init(h5tier_pagemap_t *pm, size_t page_size, uint64_t bytes);
void h5tier__pagemap_free(h5tier_pagemap_t *pm);
/* Mark [off, off+len) dirty, growing the map as needed.  0 or -ENOMEM. */
int h5tier__pagemap_mark(h5tier_pagemap_t *pm, uint64_t off, uint64_t len);
/* Mark everything in [0, bytes) dirty. */
int h5tier__pagemap_mark_all(h5tier_pagemap_t *pm, uint64_t bytes);
/* Find the next run of dirty pages at or after *page: returns true and sets
 * *page (first page) and *count (pages in the run), or false at the end. */
bool h5tier__pagemap_next_run(const h5tier_pagemap_t *pm, size_t *page, size_t *count);
void h5tier__pagemap_clear(h5tier_pagemap_t *pm);

/* ---- shm names (name.c) ------------------------------------------------- */

#define H5TIER_SHM_NAME_MAX 240

/* Validate a POSIX shm name and write its canonical form "/name" to out
 * (size >= H5TIER_SHM_NAME_MAX + 2).  Accepted: an optional leading '/',
 * then 1..240 bytes of anything but '/', NUL and control characters
 * (0x01-0x1f, 0x7f), not starting with '.' (reserved for control objects)
 * and not "." or "..".  Names are printed through h5tier__esc.  Returns 0 or
 * -EINVAL with an errmsg naming the problem. */
int h5tier__shm_name_canon(const char *name, char *out, size_t outlen);

/* Derive an shm name from a file name given to H5Fcreate/H5Fopen:
 * "shm:NAME" -> NAME, "/dev/shm/NAME" -> NAME, "dir/file.h5" -> "file.h5".
 * Writes the canonical "/name" form.  0 or -EINVAL. */
int h5tier__shm_name_from_path(const char *path, char *out, size_t outlen);

/* ---- the shm directory and trust checks (shmdir.c) ----------------------- */

/* The directory holding shm objects: $H5TIER_SHM_DIR when set (non-empty),
 * else "/dev/shm".  Use it only after h5tier__shm_dir_check (open/unlink
 * below do). */
const char *h5tier__shm_dir(void);
/* Is a set $H5TIER_SHM_DIR usable?  0 (also when unset), or with an errmsg
 * naming it: -EINVAL relative, -ENOENT missing, -ENOTDIR not a directory,
 * -EPERM owned by another user than the caller or root, or writable by
 * group/others without the sticky bit. */
int h5tier__shm_dir_check(void);
/* "DIR/name" for a canonical "/name" into out.  0, or -ENAMETOOLONG. */
int h5tier__shm_path(const char *canon, char *out, size_t outlen);
/* The real calls behind h5tier_sys.shm_open / shm_unlink: open (unlink)
 * DIR/name; open adds O_NOFOLLOW|O_CLOEXEC, and O_NONBLOCK during the open
 * so a FIFO planted at the name never blocks (cleared again unless asked).
 * -1 with errno (EINVAL for a name with a '/' after the first byte; the
 * errno of h5tier__shm_dir_check for a refused H5TIER_SHM_DIR). */
int h5tier__shm_open_path(const char *canon, int flags, mode_t mode);
int h5tier__shm_unlink_path(const char *canon);

#define H5TIER_TRUST_SHARED 1u    /* group/other write bits allowed (created shared) */
#define H5TIER_TRUST_ALT_OWNER 2u /* alt_owner is an acceptable owner too */
#define H5TIER_TRUST_ANY_OWNER 4u /* skip the owner check (type still checked) */
/* Before believing an object opened by fd: fstat it (into *st when not
 * NULL) and refuse, with an errmsg naming `what` and the reason:
 *   -EINVAL  not a regular file (FIFO, directory, device, socket)
 *   -EPERM   owned by another uid than geteuid() (or alt_owner, with
 *            H5TIER_TRUST_ALT_OWNER), unless H5TIER_TRUST_ANY_OWNER
 *   -EPERM   writable by group or others, unless H5TIER_TRUST_SHARED
 *   -errno   fstat failed */
int h5tier__check_shared_fd(int fd, const char *what, unsigned flags, uid_t alt_owner, struct stat *st);

/* A creation mode given by a user: only read/write bits (no setuid, setgid,
 * sticky or execute).  0 or -EINVAL naming `what`. */
int h5tier__check_mode(mode_t mode, const char *what);

/* Printable form of untrusted text (a name, path or string read from shared
 * memory or a file): control bytes, DEL, C1 controls, bidirectional
 * overrides/marks (U+202A-E, U+2066-9, U+200E/F, U+061C), backslash and
 * invalid UTF-8 become "\xNN" and "\\"; other valid UTF-8 is kept.  inlen (size_t)-1 = up to NUL.
 * Cut with "..." to fit buflen.  Returns buf. */
const char *h5tier__esc(const char *in, size_t inlen, char *buf, size_t buflen);

/* ---- processes (proc.c) ------------------------------------------------ */

/* Start time of pid (clock ticks since boot, /proc/PID/stat field 22), or 0. */
uint64_t h5tier__proc_start_time(pid_t pid);
/* True if pid exists and, when start_time != 0, is the same process. */
bool h5tier__pid_alive(pid_t pid, uint64_t start_time);

/* An owner in shared memory is a pair (pid, start time) that other processes
 * check for liveness.  Claiming it in place would let a checker pair the new
 * pid with the previous owner's start time and call a live owner dead, so a
 * claim goes through three steps: pid `expect` -> -me (claiming; checked by
 * pid only), store the start time, then pid = me (release).  Returns true
 * when this process now owns the pair; false when *pid was not `expect`
 * (a concurrent claim won). */
bool h5tier__owner_claim(_Atomic int32_t *pid, _Atomic uint64_t *start, int32_t expect);
/* The owner's pid (never negative; 0 = none) and whether it is alive.
 * Re-reads until pid and start time were read from one owner. */
pid_t h5tier__owner_check(_Atomic int32_t *pid, _Atomic uint64_t *start, bool *alive);

/* ---- HDF5 signature check (h5sig.c) ------------------------------------- */

/* The 8-byte HDF5 format signature. */
extern const unsigned char h5tier__h5_sig[8];

/* Look for the HDF5 signature at 0, 512, 1024, ... within [0, len) of an
 * image in memory.  Returns its offset, or -1 when absent. */
long long h5tier__h5_signature_offset(const void *image, uint64_t len);

/* The same within the first size bytes of a file descriptor: the offset,
 * -1 when absent, or -errno when a read fails. */
long long h5tier__h5_signature_fd(int fd, uint64_t size);

/* Little-endian integers of n (1..8) bytes, as HDF5 superblocks store them. */
uint64_t h5tier__le_get(const unsigned char *p, unsigned n);
void h5tier__le_put(unsigned char *p, uint64_t v, unsigned n);

/* ---- mappings others may truncate (sigbus.c) ----------------------------- */

/* Register the shared mapping [addr, addr + len) of an object that another
 * process may truncate (prot: its protection).  A SIGBUS inside it then maps
 * private zero pages over it from the faulting page on and marks it broken
 * instead of killing the process (see sigbus.c; H5TIER_NO_SIGBUS_HANDLER=1
 * opts out).  0, or -ENOSPC when the table is full (the mapping stays
 * unprotected; callers carry on).  Unregister before unmapping or
 * remapping. */
int h5tier__sigbus_register(void *addr, size_t len, int prot);
void h5tier__sigbus_unregister(const void *addr);
/* Was the region registered at addr hit by a truncation?  Cheap when no
 * region is broken (one relaxed load): callers check after each access
 * batch and never return what a broken region held. */
extern _Atomic unsigned h5tier__sigbus_nbroken;
bool h5tier__sigbus_broken_slow(const void *addr);
static inline bool h5tier__sigbus_broken(const void *addr)
{
    return __builtin_expect(atomic_load_explicit(&h5tier__sigbus_nbroken, memory_order_relaxed) != 0, 0) &&
           h5tier__sigbus_broken_slow(addr);
}
/* Is the handler installed (not opted out, registration happened)? */
bool h5tier__sigbus_installed(void);

#endif /* H5TIER_COMMON_INTERNAL_H */
