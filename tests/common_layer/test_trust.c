/*
 * Proves the common trust layer refuses what it must and accepts what users
 * name: objects in $H5TIER_SHM_DIR are opened there (never through a
 * symlink, never blocking on a FIFO), h5tier__check_shared_fd refuses
 * non-regular files, other owners (as root, with a chown'd file) and
 * group/other-writable objects unless shared, h5tier__check_mode refuses
 * setuid/setgid/sticky/execute bits, the stale-temporary sweep removes only
 * the caller's own regular files, and h5tier__esc never lets a control
 * byte through while keeping valid UTF-8.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/internal.h"
#include "tutil.h"

static char dir[512];

static void shm_dir(void)
{
    snprintf(dir, sizeof dir, "%s/shmdir", tu_tmpdir());
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(setenv("H5TIER_SHM_DIR", dir, 1) == 0);
    CHECK(!strcmp(h5tier__shm_dir(), dir));
    char p[4096];
    CHECK_OK(h5tier__shm_path("/obj 1", p, sizeof p));
    CHECKF(!strncmp(p, dir, strlen(dir)) && !strcmp(p + strlen(dir), "/obj 1"), "path %s", p);

    /* create, reopen, refuse O_EXCL twice, unlink: all inside dir */
    int fd = h5tier_sys.shm_open("/obj 1", O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK_OK(h5tier__check_shared_fd(fd, "shm object '/obj 1'", 0, 0, NULL));
    close(fd);
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(h5tier_sys.shm_open("/obj 1", O_RDWR | O_CREAT | O_EXCL, 0600) < 0 && errno == EEXIST);
    CHECK(h5tier_sys.shm_open("/a/b", O_RDONLY, 0) < 0 && errno == EINVAL);
    CHECK(h5tier_sys.shm_unlink("/obj 1") == 0);
    CHECK(stat(p, &st) < 0 && errno == ENOENT);

    /* a symlink planted at the name is never followed */
    char target[600], link[4096];
    snprintf(target, sizeof target, "%s/target", tu_tmpdir());
    int t = open(target, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(t >= 0);
    close(t);
    CHECK_OK(h5tier__shm_path("/lnk", link, sizeof link));
    CHECK(symlink(target, link) == 0);
    CHECK(h5tier_sys.shm_open("/lnk", O_RDWR, 0) < 0 && errno == ELOOP);
    CHECK(h5tier_sys.shm_open("/lnk", O_RDWR | O_CREAT | O_EXCL, 0600) < 0 && errno == EEXIST);
    unlink(link);

    /* a FIFO planted at the name: the open returns at once, the check refuses it */
    char fifo[4096];
    CHECK_OK(h5tier__shm_path("/fifo", fifo, sizeof fifo));
    CHECK(mkfifo(fifo, 0600) == 0);
    double t0 = tu_now();
    fd = h5tier_sys.shm_open("/fifo", O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK(tu_now() - t0 < 2.0);
    CHECK(h5tier__check_shared_fd(fd, "shm object '/fifo'", 0, 0, NULL) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "FIFO") && strstr(h5tier_errmsg(), "/fifo"), "%s", h5tier_errmsg());
    close(fd);
    unlink(fifo);

    /* a directory */
    CHECK(mkdir(fifo, 0700) == 0);
    fd = open(fifo, O_RDONLY);
    CHECK(h5tier__check_shared_fd(fd, "x", 0, 0, NULL) == -EINVAL && strstr(h5tier_errmsg(), "directory"));
    close(fd);
    rmdir(fifo);
    unsetenv("H5TIER_SHM_DIR");
    CHECK(!strcmp(h5tier__shm_dir(), "/dev/shm"));
    setenv("H5TIER_SHM_DIR", "relative/dir", 1); /* refused, never silently /dev/shm */
    CHECK(h5tier__shm_dir_check() == -EINVAL && strstr(h5tier_errmsg(), "relative/dir"));
    CHECK(h5tier_sys.shm_open("/x", O_RDONLY, 0) < 0 && errno == EINVAL);
    CHECK(h5tier_sys.shm_unlink("/x") < 0 && errno == EINVAL);
    unsetenv("H5TIER_SHM_DIR");
}

static void modes_and_owners(void)
{
    char f[600];
    snprintf(f, sizeof f, "%s/modes", tu_tmpdir());
    int fd = open(f, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK_OK(h5tier__check_shared_fd(fd, "f", 0, 0, NULL));
    CHECK(fchmod(fd, 0666) == 0);
    CHECK(h5tier__check_shared_fd(fd, "control object 'x'", 0, 0, NULL) == -EPERM);
    CHECKF(strstr(h5tier_errmsg(), "0666") && strstr(h5tier_errmsg(), "others"), "%s", h5tier_errmsg());
    CHECK_OK(h5tier__check_shared_fd(fd, "f", H5TIER_TRUST_SHARED, 0, NULL));
    CHECK(fchmod(fd, 0620) == 0);
    CHECK(h5tier__check_shared_fd(fd, "f", 0, 0, NULL) == -EPERM && strstr(h5tier_errmsg(), "group"));
    CHECK(fchmod(fd, 0600) == 0);
    if (geteuid() == 0) {
        CHECK(fchown(fd, 4242, 4242) == 0);
        CHECK(h5tier__check_shared_fd(fd, "control object 'x'", 0, 0, NULL) == -EPERM);
        CHECKF(strstr(h5tier_errmsg(), "uid 4242"), "%s", h5tier_errmsg());
        CHECK_OK(h5tier__check_shared_fd(fd, "f", H5TIER_TRUST_ALT_OWNER, 4242, NULL));
        CHECK(h5tier__check_shared_fd(fd, "f", H5TIER_TRUST_ALT_OWNER, 4243, NULL) == -EPERM);
        CHECK_OK(h5tier__check_shared_fd(fd, "f", H5TIER_TRUST_ANY_OWNER, 0, NULL));
    } else {
        tu_log("not root: the other-owner case is not exercised");
    }
    close(fd);
    unlink(f);

    CHECK_OK(h5tier__check_mode(0600, "--mode"));
    CHECK_OK(h5tier__check_mode(0640, "--mode"));
    CHECK(h5tier__check_mode(04777, "--mode") == -EINVAL && strstr(h5tier_errmsg(), "setuid"));
    CHECK(h5tier__check_mode(01666, "--mode") == -EINVAL);
    CHECK(h5tier__check_mode(0700, "--mode") == -EINVAL && strstr(h5tier_errmsg(), "execute"));
}

/* The sweep of dead processes' temporaries removes only our own regular
 * files: never another user's (as root, or in a directory without the
 * sticky bit), never a symlink's target. */
static void stale_sweep(void)
{
    char d[600], p[700];
    snprintf(d, sizeof d, "%s/sweep", tu_tmpdir());
    CHECK(mkdir(d, 0700) == 0);
    const char *dead = "999999999"; /* above pid_max: never a live process */
    snprintf(p, sizeof p, "%s/t.tmp-%s", d, dead);
    int fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    char other[700], lnk[700], target[700];
    snprintf(other, sizeof other, "%s/t.tmp-999999998", d);
    snprintf(lnk, sizeof lnk, "%s/t.tmp-999999997", d);
    snprintf(target, sizeof target, "%s/target", d);
    fd = open(target, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(symlink(target, lnk) == 0);
    int root = geteuid() == 0;
    if (root) {
        fd = open(other, O_RDWR | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0 && fchown(fd, 4242, 4242) == 0);
        close(fd);
    }
    int n = h5tier__remove_stale_tmps(d, "t.tmp-", false);
    CHECKF(n == 1, "removed %d, expected only our own dead temporary", n);
    struct stat st;
    CHECK(stat(p, &st) < 0);
    CHECK(lstat(lnk, &st) == 0 && stat(target, &st) == 0);
    if (root)
        CHECKF(stat(other, &st) == 0, "another user's temporary was removed");
}

static void escaping(void)
{
    char b[64];
    CHECK(!strcmp(h5tier__esc("plain name.h5", (size_t)-1, b, sizeof b), "plain name.h5"));
    CHECK(!strcmp(h5tier__esc("a\033[2Jb", (size_t)-1, b, sizeof b), "a\\x1b[2Jb"));
    CHECK(!strcmp(h5tier__esc("back\\slash", (size_t)-1, b, sizeof b), "back\\\\slash"));
    CHECK(!strcmp(h5tier__esc("caf\xc3\xa9", (size_t)-1, b, sizeof b), "caf\xc3\xa9"));   /* UTF-8 kept */
    CHECK(!strcmp(h5tier__esc("bad\xc3", (size_t)-1, b, sizeof b), "bad\\xc3"));          /* truncated UTF-8 */
    CHECK(!strcmp(h5tier__esc("c1\xc2\x9b" "x", (size_t)-1, b, sizeof b), "c1\\xc2\\x9bx")); /* C1 CSI */
    CHECK(!strcmp(h5tier__esc("\xc0\xaf", (size_t)-1, b, sizeof b), "\\xc0\\xaf"));         /* overlong */
    CHECK(!strcmp(h5tier__esc("abcdef", 3, b, sizeof b), "abc"));                          /* bounded input */
    char small[8];
    h5tier__esc("abcdefghijkl", (size_t)-1, small, sizeof small);
    CHECKF(!strcmp(small, "abcd..."), "got '%s'", small);
    h5tier__esc("\001\001\001", (size_t)-1, small, sizeof small);
    CHECKF(strlen(small) < sizeof small && !strchr(small, '\001'), "got '%s'", small);
    char tiny[2];
    h5tier__esc("abc", (size_t)-1, tiny, sizeof tiny);
    CHECK(strlen(tiny) < 2);
    /* every byte value: the output never holds a control byte */
    char all[256], out[1200];
    for (int i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    all[255] = 0;
    h5tier__esc(all, (size_t)-1, out, sizeof out);
    for (const unsigned char *p = (const unsigned char *)out; *p; p++)
        CHECKF(*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in escaped output", *p);
}

int main(void)
{
    shm_dir();
    modes_and_owners();
    stale_sweep();
    escaping();
    printf("test_trust: ok\n");
    return 0;
}
