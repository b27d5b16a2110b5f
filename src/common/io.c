/*
 * common/io.c -- the I/O loops every driver uses: full-length pread/pwrite
 * with EINTR retry, short-transfer handling and a 1 GiB cap per call; fsync
 * of files and directories; space reservation; durable renames.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
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

int h5tier__fsync(int fd)
{
    for (;;) {
        if (h5tier_sys.fsync(fd) == 0)
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
