/*
 * Proves the system-call table and fault injector work and that the shared
 * I/O loops survive them: short writes and reads are completed, EINTR is
 * retried, ENOSPC/EIO surface as -errno, the Nth-call and persistent modes
 * fire exactly where asked, the H5TIER_FAULT environment variable arms a
 * child process, and the kill mode really kills.  Also that a durable
 * rename reports which step failed: a failed rename changes nothing, a failed
 * directory fsync leaves the new file in place.  And that the file copy
 * (copy_file_range) completes short transfers, falls back to pread/pwrite
 * where the kernel cannot copy, and reports real errors with the bytes
 * copied.
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

/* copy_file_range that copies half at its first call and fails with
   script_err at call number script_fail_at */
static int script_calls, script_fail_at, script_err;
static ssize_t scripted_cfr(int in, off_t *oin, int out, off_t *oout, size_t l, unsigned fl)
{
    if (++script_calls == script_fail_at) {
        errno = script_err;
        return -1;
    }
    return copy_file_range(in, oin, out, oout, script_calls == 1 && l > 1 ? l / 2 : l, fl);
}
static void script(int fail_at, int err)
{
    script_calls = 0;
    script_fail_at = fail_at;
    script_err = err;
    h5tier_sys.copy_file_range = scripted_cfr;
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

    /* h5tier__copy_file: copy_file_range with short transfers, the buffered
       fallback where the kernel cannot copy (EXDEV at the first call and in
       the middle), errors surfacing with the bytes copied so far, and a
       source shorter than asked */
    {
        int out = -1;
        uint64_t done = 0;
        const char *cpath = tu_path("copy.bin");
        fd = open(path, O_RDWR | O_TRUNC, 0600);
        CHECK(fd >= 0);
        CHECK_OK(h5tier__pwrite_full(fd, buf, len, 0));
#define FRESH_OUT()                                                                                  \
    do {                                                                                             \
        if (out >= 0)                                                                                \
            close(out);                                                                              \
        out = open(cpath, O_RDWR | O_CREAT | O_TRUNC, 0600);                                         \
        CHECK(out >= 0);                                                                             \
    } while (0)
#define SAME_AS_BUF(n)                                                                               \
    do {                                                                                             \
        memset(back, 0, len);                                                                        \
        CHECK(pread(out, back, len, 0) == (ssize_t)(n) && !memcmp(back, buf, (n)));                  \
    } while (0)
        FRESH_OUT();
        h5tier_fault_count_start();
        CHECK_OK(h5tier__copy_file(fd, out, len, &done));
        CHECK(done == len && h5tier_fault_calls("copy_file_range") >= 1 && h5tier_fault_calls("pwrite") == 0);
        h5tier_fault_clear();
        SAME_AS_BUF(len);

        FRESH_OUT(); /* every kernel copy halved */
        CHECK_OK(h5tier_fault_set("copy_file_range", 1, 0, H5TIER_FAULT_SHORT | H5TIER_FAULT_PERSIST));
        CHECK_OK(h5tier__copy_file(fd, out, len, &done));
        CHECK(done == len && h5tier_fault_calls("copy_file_range") >= 20);
        h5tier_fault_clear();
        SAME_AS_BUF(len);

        FRESH_OUT(); /* no kernel copy at all: all through pread/pwrite */
        CHECK_OK(h5tier_fault_set("copy_file_range", 1, EXDEV, H5TIER_FAULT_PERSIST));
        CHECK_OK(h5tier__copy_file(fd, out, len, &done));
        CHECK(done == len && h5tier_fault_calls("copy_file_range") == 1 && h5tier_fault_calls("pwrite") >= 1);
        h5tier_fault_clear();
        SAME_AS_BUF(len);

        FRESH_OUT(); /* half in the kernel, then ENOSYS: the buffered loop finishes from there */
        script(2, ENOSYS);
        CHECK_OK(h5tier__copy_file(fd, out, len, &done));
        CHECK(done == len && script_calls == 2);
        h5tier_sys_reset();
        SAME_AS_BUF(len);

        FRESH_OUT(); /* a real error is not a fallback: it surfaces with what was copied */
        script(2, ENOSPC);
        CHECK(h5tier__copy_file(fd, out, len, &done) == -ENOSPC && done == len / 2);
        h5tier_sys_reset();
        FRESH_OUT(); /* the same in the fallback */
        CHECK_OK(h5tier_fault_set("copy_file_range", 1, EXDEV, 0));
        CHECK_OK(h5tier_fault_set("pwrite", 1, EIO, H5TIER_FAULT_PERSIST));
        CHECK(h5tier__copy_file(fd, out, len, &done) == -EIO && done == 0);
        h5tier_fault_clear();

        FRESH_OUT(); /* the source is shorter than asked: 0 and done = its size, both paths */
        CHECK_OK(h5tier__copy_file(fd, out, 2 * (uint64_t)len, &done));
        CHECK(done == len);
        SAME_AS_BUF(len);
        FRESH_OUT();
        CHECK_OK(h5tier_fault_set("copy_file_range", 1, EXDEV, 0));
        CHECK_OK(h5tier__copy_file(fd, out, 2 * (uint64_t)len, &done));
        h5tier_fault_clear();
        CHECK(done == len);
        SAME_AS_BUF(len);
        close(out);
        close(fd);
#undef FRESH_OUT
#undef SAME_AS_BUF
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
