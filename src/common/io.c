/*
 * common/io.c -- the I/O loops every driver uses: full-length pread/pwrite
 * with EINTR retry, short-transfer handling and a 1 GiB cap per call; fsync
 * of files and directories; space reservation; durable renames and the
 * removal of what a killed rename-builder left behind.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/internal.h"

#define IO_CAP ((size_t)1 << 30)

int h5tier__pread_full(int fd, void *buf, size_t len, off_t off, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < IO_CAP ? len - done : IO_CAP;
        ssize_t r = h5tier_sys.pread(fd, (char *)buf + done, n, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (got)
                *got = done;
            return -errno;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    if (got)
        *got = done;
    return 0;
}

int h5tier__pread_zero(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;
    int r = h5tier__pread_full(fd, buf, len, off, &got);
    if (r < 0)
        return r;
    if (got < len)
        memset((char *)buf + got, 0, len - got);
    return 0;
}

int h5tier__pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < IO_CAP ? len - done : IO_CAP;
        ssize_t r = h5tier_sys.pwrite(fd, (const char *)buf + done, n, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -EIO;
        done += (size_t)r;
    }
    return 0;
}

int h5tier__pwritev_full(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    int i = 0;
    size_t skip = 0; /* bytes of iov[i] already written */
    while (i < iovcnt) {
        struct iovec v[1024]; /* IOV_MAX on Linux */
        int n = 0;
        for (int k = i; k < iovcnt && n < 1024; k++, n++) {
            v[n] = iov[k];
            if (k == i) {
                v[n].iov_base = (char *)v[n].iov_base + skip;
                v[n].iov_len -= skip;
            }
        }
        ssize_t r = h5tier_sys.pwritev(fd, v, n, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -EIO;
        off += r;
        size_t left = (size_t)r;
        while (i < iovcnt && left >= iov[i].iov_len - skip) {
            left -= iov[i].iov_len - skip;
            skip = 0;
            i++;
        }
        skip += left;
    }
    return 0;
}

/* copy_file_range cannot copy between these files (or does not exist). */
static bool copy_unsupported(int e)
{
    return e == ENOSYS || e == EXDEV || e == EINVAL || e == EOPNOTSUPP || e == ENOTSUP || e == EPERM;
}

#define COPY_BUF ((size_t)4 << 20)

int h5tier__copy_file(int src, int dst, uint64_t len, uint64_t *done)
{
    uint64_t off = 0;
    int rc = 0;
    bool kernel = true;
    while (kernel && off < len) {
        off_t in = (off_t)off, out = (off_t)off;
        size_t n = len - off < IO_CAP ? (size_t)(len - off) : IO_CAP;
        ssize_t r = h5tier_sys.copy_file_range(src, &in, dst, &out, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (!copy_unsupported(errno)) {
                rc = -errno;
                goto out;
            }
            kernel = false; /* the rest through a buffer */
        } else if (r == 0) {
            goto out; /* the source ended early: *done < len tells the caller */
        } else {
            off += (uint64_t)r;
        }
    }
    if (off < len) {
        size_t piece = len - off < COPY_BUF ? (size_t)(len - off) : COPY_BUF;
        unsigned char *buf = malloc(piece);
        if (!buf) {
            rc = -ENOMEM;
            goto out;
        }
        while (off < len) {
            size_t want = len - off < piece ? (size_t)(len - off) : piece, got = 0;
            rc = h5tier__pread_full(src, buf, want, (off_t)off, &got);
            if (rc == 0 && got > 0)
                rc = h5tier__pwrite_full(dst, buf, got, (off_t)off);
            if (rc < 0)
                break;
            off += got;
            if (got < want)
                break;
        }
        free(buf);
    }
out:
    *done = off;
    return rc;
}

int h5tier__fsync(int fd)
{
    for (;;) {
        if (h5tier_sys.fsync(fd) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int h5tier__fdatasync(int fd)
{
    for (;;) {
        if (h5tier_sys.fdatasync(fd) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int h5tier__fsync_dir(const char *path)
{
    char tmp[PATH_MAX];
    if (strlen(path) >= sizeof tmp)
        return -ENAMETOOLONG;
    strcpy(tmp, path);
    const char *dir = dirname(tmp);
    int fd = h5tier_sys.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = h5tier__fsync(fd);
    h5tier_sys.close(fd);
    return r;
}

int h5tier__reserve_range(int fd, off_t off, off_t len)
{
    for (;;) {
        if (h5tier_sys.fallocate(fd, off, len) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int h5tier__reserve(int fd, off_t len) { return h5tier__reserve_range(fd, 0, len); }

int h5tier__rename_durable(const char *tmp, const char *dst, bool *renamed)
{
    *renamed = false;
    if (h5tier_sys.rename(tmp, dst) < 0)
        return -errno;
    *renamed = true;
    return h5tier__fsync_dir(dst);
}

int h5tier__remove_stale_tmps(const char *dir, const char *prefix, bool all)
{
    const char *d0 = dir && *dir ? dir : ".";
    DIR *d = opendir(d0);
    if (!d)
        return 0;
    size_t plen = strlen(prefix);
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        if (strncmp(n, prefix, plen) != 0 || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
            continue;
        const char *digits = n + plen;
        size_t nd = strspn(digits, "0123456789");
        if (nd == 0 || nd > 9 || digits[nd] != 0)
            continue;
        pid_t pid = (pid_t)atol(digits);
        if (!all && pid != getpid() && !(pid > 0 && kill(pid, 0) < 0 && errno == ESRCH))
            continue;
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s/%s", d0, n) >= (int)sizeof full)
            continue;
        /* only our own regular files: never another user's (root, or a
         * directory without the sticky bit, could otherwise remove it) */
        struct stat st;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        if (h5tier_sys.unlink(full) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
