/*
 * h5tier_sys.h -- the one table of system calls every h5tier driver uses,
 * and the fault injector built on it.
 *
 * All file, shared-memory and mapping system calls made by h5tier go
 * through h5tier_sys (like SQLite's aSyscall[]).  A test can replace an
 * entry with its own function, or ask the built-in injector to fail the
 * Nth call of a kind, so ENOSPC, EIO, short transfers and crashes at exact
 * points are tested without touching driver code.
 *
 * Every entry follows the POSIX convention "return -1 (MAP_FAILED for mmap)
 * and set errno"; fallocate follows it too (unlike posix_fallocate).
 *
 * The injector can also be armed from the environment, for whole processes
 * started by a test (for example the h5tier CLI):
 *
 *     H5TIER_FAULT="pwrite:3:ENOSPC"          fail the 3rd pwrite once
 *     H5TIER_FAULT="fsync:1:EIO:persist"      fail every fsync from the 1st on
 *     H5TIER_FAULT="pwrite:2:0:short"         2nd pwrite transfers only half
 *     H5TIER_FAULT="rename:1:0:kill"          SIGKILL the process at the 1st rename
 *
 * Several specs may be joined with ','.  Caveat: the table is process-wide
 * and not synchronised; change it only while no other thread uses h5tier.
 */
#ifndef H5TIER_SYS_H
#define H5TIER_SYS_H

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "h5tier.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct h5tier_syscalls {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    int (*shm_open)(const char *name, int flags, mode_t mode);
    int (*shm_unlink)(const char *name);
    int (*ftruncate)(int fd, off_t len);
    int (*fallocate)(int fd, off_t off, off_t len); /* reserves space, may grow the file */
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    int (*munmap)(void *addr, size_t len);
    void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags);
    int (*madvise)(void *addr, size_t len, int advice);
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*flock)(int fd, int op);
    int (*fstat)(int fd, struct stat *st);
    int (*fchmod)(int fd, mode_t mode);
    /* In-kernel file-to-file copy (a reflink where the file system can).
     * Callers fall back to pread/pwrite on ENOSYS, EXDEV, EINVAL,
     * EOPNOTSUPP and EPERM (no such call, or not between these files). */
    ssize_t (*copy_file_range)(int fd_in, off_t *off_in, int fd_out, off_t *off_out, size_t len,
                               unsigned flags);
    /* A directory (the multifile driver's NAME.mf). */
    int (*mkdir)(const char *path, mode_t mode);
    /* A second name for a file; fails with EEXIST instead of replacing
     * (publishes a finished temporary object without a race). */
    int (*link)(const char *from, const char *to);
    /* Start (SYNC_FILE_RANGE_WRITE) or wait for writeback of a range; len 0
     * = to the end of the file.  Advisory: durability still needs fsync. */
    int (*sync_file_range)(int fd, off_t off, off_t len, unsigned flags);
    /* Gathered write (the tier driver writes a run of cached pages in one call). */
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t off);
} h5tier_syscalls_t;

/* The live table.  Entries may be replaced; h5tier_sys_reset() restores. */
H5TIER_API extern h5tier_syscalls_t h5tier_sys;

/* Restore every entry to the real system call. */
H5TIER_API void h5tier_sys_reset(void);

/* Fault injection.  `call` is an entry name above ("pwrite", "fsync", ...).
 * The nth call (1-based, counted from this arming) fails with `err`, or
 * with the behaviour chosen by flags:
 *   H5TIER_FAULT_PERSIST  every call from the nth on fails, not just one
 *   H5TIER_FAULT_SHORT    pread/pwrite/pwritev/copy_file_range transfer half the
 *                         bytes (at least 1)
 *                         instead of failing; err is ignored
 *   H5TIER_FAULT_KILL     the process SIGKILLs itself at that call (crash test)
 * Returns 0, -EINVAL for an unknown call name or a bad nth. */
#define H5TIER_FAULT_PERSIST 0x1u
#define H5TIER_FAULT_SHORT 0x2u
#define H5TIER_FAULT_KILL 0x4u
H5TIER_API int h5tier_fault_set(const char *call, unsigned long nth, int err, unsigned flags);

/* Arm from a spec string in the H5TIER_FAULT format above. */
H5TIER_API int h5tier_fault_parse(const char *spec);

/* Disarm every fault and reset the counters. */
H5TIER_API void h5tier_fault_clear(void);

/* How many calls of that kind were made since the last arm or clear
 * (counted while any fault is armed, or after h5tier_fault_count_start()).
 * Tests use it to sweep N = 1, 2, ... until no fault fires.  -EINVAL for an
 * unknown name. */
H5TIER_API long h5tier_fault_calls(const char *call);

/* How many injected faults fired since the last arm or clear. */
H5TIER_API long h5tier_fault_fired(void);

/* Count calls without failing any (to learn how many call sites a save has). */
H5TIER_API void h5tier_fault_count_start(void);

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_SYS_H */
