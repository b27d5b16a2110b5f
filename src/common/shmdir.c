/*
 * common/shmdir.c -- where shm objects live, and what a process checks
 * before it believes one.
 *
 * The shm directory is /dev/shm, or $H5TIER_SHM_DIR (an absolute path to a
 * directory: containers often mount a larger tmpfs elsewhere, and tests use
 * a small private tmpfs).  A set H5TIER_SHM_DIR that is relative, missing,
 * not a directory, owned by another user (not root), or writable by others
 * without the sticky bit is refused (h5tier__shm_dir_check), never replaced
 * by /dev/shm behind the user's back.  Every shm object is opened through
 * h5tier_sys.shm_open, which opens DIR/name with O_NOFOLLOW (a symlink
 * planted at the name is never followed) and O_NONBLOCK (a FIFO planted at
 * the name never blocks the open); h5tier__check_shared_fd then refuses
 * what is not a regular file, not owned by the caller, or writable by others
 * when it should not be.  Text read from shared memory goes through
 * h5tier__esc before it is printed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/internal.h"

#define SHM_DIR_DEFAULT "/dev/shm"

const char *h5tier__shm_dir(void)
{
    const char *d = getenv("H5TIER_SHM_DIR");
    if (d && *d)
        return d; /* as given: h5tier__shm_dir_check refuses what is unusable, never silently /dev/shm */
    return SHM_DIR_DEFAULT;
}

int h5tier__shm_dir_check(void)
{
    const char *d = getenv("H5TIER_SHM_DIR");
    if (!d || !*d)
        return 0; /* /dev/shm */
    char esc[512];
    const char *e = h5tier__esc(d, (size_t)-1, esc, sizeof esc);
    if (d[0] != '/')
        return h5tier__fail(EINVAL, "H5TIER_SHM_DIR='%s' is not an absolute path; refusing to use it (and never "
                            "falling back to /dev/shm): give an absolute path, or unset it", e);
    if (strlen(d) >= 3000)
        return h5tier__fail(ENAMETOOLONG, "H5TIER_SHM_DIR='%s' is too long", e);
    struct stat st;
    if (stat(d, &st) < 0) {
        int err = errno;
        return h5tier__fail(err, "H5TIER_SHM_DIR='%s' %s", e,
                            err == ENOENT ? "does not exist (create it, e.g. a tmpfs mount, or unset H5TIER_SHM_DIR)"
                            : err == ENOTDIR ? "is not a directory" : strerror(err));
    }
    if (!S_ISDIR(st.st_mode))
        return h5tier__fail(ENOTDIR, "H5TIER_SHM_DIR='%s' is not a directory", e);
    uid_t me = geteuid();
    if (st.st_uid != me && st.st_uid != 0)
        return h5tier__fail(EPERM, "H5TIER_SHM_DIR='%s' is owned by uid %u, not by you (uid %u) nor root: its owner "
                            "could rename or replace your objects; refusing to use it", e, (unsigned)st.st_uid,
                            (unsigned)me);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return h5tier__fail(EPERM, "H5TIER_SHM_DIR='%s' is writable by %s (mode %04o) without the sticky bit: "
                            "anyone could delete or replace your objects; refusing to use it (chmod +t it, as "
                            "/dev/shm is, or chmod go-w)", e, (st.st_mode & S_IWOTH) ? "others" : "its group",
                            (unsigned)(st.st_mode & 07777));
    return 0;
}

int h5tier__shm_path(const char *canon, char *out, size_t outlen)
{
    if (!canon || !out)
        return -EINVAL;
    const char *dir = h5tier__shm_dir();
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--; /* "/mnt/shm/" + "/name" -> "/mnt/shm/name" */
    const char *n = canon[0] == '/' ? canon + 1 : canon;
    int w = snprintf(out, outlen, "%.*s/%s", (int)dl, dir, n);
    if (w < 0 || (size_t)w >= outlen)
        return h5tier__fail(ENAMETOOLONG, "shm path for '%.40s' is too long", n);
    return 0;
}

/* The path of canonical "/name" in a usable shm directory, for the system
 * calls below: 0, or -1 with errno (EINVAL for a name that is not one
 * component, the directory check's error, ENAMETOOLONG). */
static int object_path(const char *canon, char *path, size_t len)
{
    if (!canon || canon[0] != '/' || !canon[1] || strchr(canon + 1, '/')) {
        errno = EINVAL; /* one component under the shm directory, nothing else */
        return -1;
    }
    int dr = h5tier__shm_dir_check();
    if (dr < 0) {
        errno = -dr;
        return -1;
    }
    if (h5tier__shm_path(canon, path, len) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int h5tier__shm_open_path(const char *canon, int flags, mode_t mode)
{
    char path[4096];
    if (object_path(canon, path, sizeof path) < 0)
        return -1;
    int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (!(flags & O_NONBLOCK)) { /* keep ordinary blocking semantics for what was asked */
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    return fd;
}

int h5tier__shm_unlink_path(const char *canon)
{
    char path[4096];
    return object_path(canon, path, sizeof path) < 0 ? -1 : unlink(path);
}

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

int h5tier__check_shared_fd(int fd, const char *what, unsigned flags, uid_t alt_owner, struct stat *st_out)
{
    struct stat st;
    char esc[256];
    const char *w = h5tier__esc(what ? what : "object", (size_t)-1, esc, sizeof esc);
    if (h5tier_sys.fstat(fd, &st) < 0)
        return h5tier__fail(errno, "%s: fstat failed: %s", w, strerror(errno));
    if (st_out)
        *st_out = st;
    if (!S_ISREG(st.st_mode))
        return h5tier__fail(EINVAL, "%s is %s, not a regular file; refusing to use it", w, kind_of(st.st_mode));
    if (!(flags & H5TIER_TRUST_ANY_OWNER)) {
        uid_t me = geteuid();
        bool ok = st.st_uid == me || ((flags & H5TIER_TRUST_ALT_OWNER) && st.st_uid == alt_owner);
        if (!ok)
            return h5tier__fail(EPERM,
                                "%s is owned by uid %u, not by you (uid %u); another user may have planted it: "
                                "refusing to trust it (remove it, or ask its owner)",
                                w, (unsigned)st.st_uid, (unsigned)me);
    }
    if (!(flags & H5TIER_TRUST_SHARED) && (st.st_mode & (S_IWGRP | S_IWOTH)))
        return h5tier__fail(EPERM,
                            "%s is writable by %s (mode %04o) but was not created shared; refusing to trust it",
                            w, (st.st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st.st_mode & 07777));
    return 0;
}

int h5tier__check_mode(mode_t mode, const char *what)
{
    if (mode & ~(mode_t)0777)
        return h5tier__fail(EINVAL, "%s: mode %04o has setuid, setgid or sticky bits; allowed: 0000-0666 (e.g. 0600, 0640)",
                            what ? what : "mode", (unsigned)mode);
    if (mode & 0111)
        return h5tier__fail(EINVAL, "%s: mode %04o has execute bits; allowed: read/write bits only (e.g. 0600, 0640, 0660)",
                            what ? what : "mode", (unsigned)mode);
    return 0;
}

/* Length of a valid UTF-8 sequence starting at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) { len = 2; cp = p[0] & 0x1f; }
    else if (p[0] >= 0xe0 && p[0] <= 0xef) { len = 3; cp = p[0] & 0x0f; }
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) { len = 4; cp = p[0] & 0x07; }
    else return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0; /* overlong or surrogate */
    if (cp >= 0x80 && cp < 0xa0)
        return 0; /* C1 controls (e.g. U+009B, a CSI) are escaped too */
    if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f ||
        cp == 0x061c)
        return 0; /* bidirectional overrides and marks reorder what a terminal shows ("Trojan Source") */
    return len;
}

const char *h5tier__esc(const char *in, size_t inlen, char *buf, size_t buflen)
{
    if (!buf || buflen == 0)
        return "";
    if (!in)
        in = "(null)";
    if (inlen == (size_t)-1)
        inlen = strlen(in);
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, i = 0;
    const size_t room = buflen > 4 ? buflen - 4 : 0; /* keep space for "..." + NUL */
    while (i < inlen && p[i]) {
        char tmp[8];
        size_t tl, adv = 1;
        size_t ul = p[i] >= 0x80 ? utf8_len(p + i, inlen - i) : 0;
        if (p[i] == '\\') {
            memcpy(tmp, "\\\\", 2);
            tl = 2;
        } else if (p[i] >= 0x20 && p[i] < 0x7f) {
            tmp[0] = (char)p[i];
            tl = 1;
        } else if (ul) {
            memcpy(tmp, p + i, ul);
            tl = ul;
            adv = ul;
        } else {
            snprintf(tmp, sizeof tmp, "\\x%02x", p[i]);
            tl = 4;
        }
        if (o + tl > room) {
            if (buflen >= 4) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(buf + o, tmp, tl);
        o += tl;
        i += adv;
    }
    buf[o < buflen ? o : buflen - 1] = '\0';
    return buf;
}
