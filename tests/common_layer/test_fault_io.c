/*
 * Proves the system-call table and fault injector work and that the shared
 * I/O loops survive them: short writes and reads are completed, EINTR is
 * retried, ENOSPC/EIO surface as -errno, the Nth-call and persistent modes
 * fire exactly where asked, the H5TIER_FAULT environment variable arms a
 * child process, and the kill mode really kills.  Also that a durable
 * rename reports which step failed: a failed rename changes nothing, a failed
 * directory fsync leaves the new file in place.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common/internal.h"
#include "tutil.h"

static int intr_left;
static ssize_t eintr_pwrite(int fd, const void *b, size_t l, off_t o)
{
    if (intr_left > 0) {
        intr_left--;
        errno = EINTR;
        return -1;
    }
    return pwrite(fd, b, l, o);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child-env")) {
        /* armed by H5TIER_FAULT in our environment: 2nd pwrite fails ENOSPC */
        int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
        char b[16] = "0123456789abcdef";
        if (h5tier__pwrite_full(fd, b, 16, 0) != 0) return 10;
        if (h5tier__pwrite_full(fd, b, 16, 16) != -ENOSPC) return 11;
        if (h5tier_fault_fired() != 1) return 12;
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "child-kill")) {
        int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
        h5tier_fault_set("fsync", 1, 0, H5TIER_FAULT_KILL);
        h5tier__fsync(fd);
        return 0; /* not reached */
    }

    const char *path = tu_path("io.bin");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    size_t len = 1 << 20;
    char *buf = malloc(len), *back = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(i * 31 + 7);

    /* every pwrite transfers only half: the loop must still write it all */
    CHECK_OK(h5tier_fault_set("pwrite", 1, 0, H5TIER_FAULT_SHORT | H5TIER_FAULT_PERSIST));
    CHECK_OK(h5tier__pwrite_full(fd, buf, len, 0));
    CHECK(h5tier_fault_calls("pwrite") >= 20); /* 1 MiB halved down to 1 byte */
    h5tier_fault_clear();
    CHECK_OK(h5tier_fault_set("pread", 1, 0, H5TIER_FAULT_SHORT | H5TIER_FAULT_PERSIST));
    size_t got = 0;
    CHECK_OK(h5tier__pread_full(fd, back, len, 0, &got));
    CHECK(got == len && !memcmp(buf, back, len));
    h5tier_fault_clear();

    /* past EOF: zero-filled */
    memset(back, 0x55, len);
    CHECK_OK(h5tier__pread_zero(fd, back, len, (off_t)len / 2));
    CHECK(!memcmp(back, buf + len / 2, len / 2));
    for (size_t i = len / 2; i < len; i++)
        CHECK(back[i] == 0);

    /* the 3rd pwrite fails once with ENOSPC, the 4th works again */
    CHECK_OK(h5tier_fault_set("pwrite", 3, ENOSPC, 0));
    CHECK_OK(h5tier__pwrite_full(fd, buf, 10, 0));
    CHECK_OK(h5tier__pwrite_full(fd, buf, 10, 0));
    CHECK(h5tier__pwrite_full(fd, buf, 10, 0) == -ENOSPC);
    CHECK_OK(h5tier__pwrite_full(fd, buf, 10, 0));
    CHECK(h5tier_fault_fired() == 1);
    h5tier_fault_clear();

    /* persistent EIO on fsync */
    CHECK_OK(h5tier_fault_parse("fsync:2:EIO:persist"));
    CHECK_OK(h5tier__fsync(fd));
    CHECK(h5tier__fsync(fd) == -EIO);
    CHECK(h5tier__fsync(fd) == -EIO);
    h5tier_fault_clear();
    CHECK_OK(h5tier__fsync(fd));

    /* EINTR is retried, through a replaced table entry */
    h5tier_sys.pwrite = eintr_pwrite;
    intr_left = 3;
    CHECK_OK(h5tier__pwrite_full(fd, buf, 100, 0));
    CHECK(intr_left == 0);
    h5tier_sys_reset();

    /* bad specs are refused with a reason */
    CHECK(h5tier_fault_set("nosuchcall", 1, EIO, 0) == -EINVAL);
    CHECK(strstr(h5tier_errmsg(), "nosuchcall") != NULL);
    CHECK(h5tier_fault_parse("pwrite:x:EIO") == -EINVAL);
    CHECK(h5tier_fault_parse("pwrite:1:EIO:sometimes") == -EINVAL);
    h5tier_fault_clear();

    /* reserve */
    CHECK_OK(h5tier__reserve(fd, 3 << 20));
    CHECK(lseek(fd, 0, SEEK_END) == 3 << 20);
    CHECK_OK(h5tier__fsync_dir(path));
    close(fd);

    /* durable rename: the three outcomes */
    {
        const char *tmp = tu_path("pub.tmp"), *dst = tu_path("pub.dst");
        bool renamed = true;
        int t = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(t >= 0 && write(t, "new", 3) == 3);
        close(t);
        CHECK_OK(h5tier_fault_set("rename", 1, EIO, 0));
        CHECK(h5tier__rename_durable(tmp, dst, &renamed) == -EIO && !renamed);
        CHECK(access(tmp, F_OK) == 0 && access(dst, F_OK) != 0);
        h5tier_fault_clear();
        CHECK_OK(h5tier_fault_set("fsync", 1, EIO, 0));
        CHECK(h5tier__rename_durable(tmp, dst, &renamed) == -EIO && renamed);
        CHECK(access(tmp, F_OK) != 0 && access(dst, F_OK) == 0);
        h5tier_fault_clear();
        t = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(t >= 0);
        close(t);
        CHECK_OK(h5tier__rename_durable(tmp, dst, &renamed));
        CHECK(renamed && access(tmp, F_OK) != 0);
    }

    /* environment arming in a real child process */
    setenv("H5TIER_FAULT", "pwrite:2:ENOSPC", 1);
    pid_t pid = tu_spawn_self("child-env", tu_path("env.bin"), NULL);
    unsetenv("H5TIER_FAULT");
    CHECKF(tu_wait(pid) == 0, "child with H5TIER_FAULT did not see its fault");
    pid = tu_spawn_self("child-kill", tu_path("kill.bin"), NULL);
    CHECK(tu_wait(pid) == 128 + SIGKILL);
    free(buf);
    free(back);
    return 0;
}
