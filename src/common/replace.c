/*
 * common/replace.c -- what `--force` may replace: a regular file, or a
 * symbolic link itself (a rename replaces the link, never its target).
 * Never a device (/dev/null), a FIFO, a socket or a directory.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/internal.h"

int h5tier__check_replaceable(const char *path, const struct stat *st)
{
    if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
        return 0;
    const char *kind = S_ISDIR(st->st_mode)    ? "a directory"
                       : S_ISFIFO(st->st_mode) ? "a FIFO"
                       : S_ISCHR(st->st_mode)  ? "a character device"
                       : S_ISBLK(st->st_mode)  ? "a block device"
                       : S_ISSOCK(st->st_mode) ? "a socket"
                                               : "a special file";
    char esc[1024];
    return h5tier__fail(S_ISDIR(st->st_mode) ? EISDIR : EINVAL,
                        "'%s' is %s, not a regular file: force replaces only regular files; refusing to replace it",
                        h5tier__esc(path, (size_t)-1, esc, sizeof esc), kind);
}
