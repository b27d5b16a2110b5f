/*
 * Proves that `shm rm`'s question "is this a ring with a live writer?"
 * (h5tier__ring_live_writer) cannot be killed by whoever may write the ring
 * (today every reader of a ring maps it read-write): a process truncating a
 * real ring object (made by `h5tier ring create`) to 0 and writing its first
 * 64 KiB back, in a tight loop, while the check runs for ~3 s.  Main mapped
 * the header and died of SIGBUS when the truncation landed between its
 * fstat and the read; now every call returns 0 or 1 (no live writer here),
 * never a signal.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ring/liveness.h"
#include "shmtest.h"

int main(void)
{
    char *n = tu_shm_name("hostringtr");
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' ring create '%s' --dtype u8 --capacity 1024", tu_cli(), n);
    int st = tu_sh(out, sizeof out, "%s", cmd);
    if (st != 0) {
        printf("SKIP: cannot make a ring to test with (%s): %s\n", cmd, out);
        return 77;
    }
    const char *path = st_shm_path(n);
    char canon[300];
    snprintf(canon, sizeof canon, "/%s", n);
    pid_t t = fork();
    CHECK(t >= 0);
    if (t == 0) {
        static char orig[65536];
        int fd = open(path, O_RDWR);
        ssize_t len = fd < 0 ? -1 : pread(fd, orig, sizeof orig, 0);
        if (len <= 0)
            _exit(1);
        for (;;)
            if (ftruncate(fd, 0) < 0 || pwrite(fd, orig, (size_t)len, 0) != len)
                _exit(1);
    }
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0) {
        double t0 = tu_now();
        long calls = 0;
        while (tu_now() - t0 < 3.0) {
            int fd = h5tier_sys.shm_open(canon, O_RDONLY, 0);
            if (fd < 0)
                _exit(2);
            struct stat sb;
            pid_t pid;
            if (fstat(fd, &sb) == 0 && h5tier__ring_live_writer(fd, (uint64_t)sb.st_size, &pid) < 0)
                _exit(3);
            close(fd);
            calls++;
        }
        fprintf(stderr, "%ld checks\n", calls);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(c, &status, 0) == c);
    kill(t, SIGKILL);
    waitpid(t, NULL, 0);
    tu_sh(out, sizeof out, "'%s' ring rm --force '%s'", tu_cli(), n);
    CHECKF(!WIFSIGNALED(status), "the liveness check died of signal %d", WTERMSIG(status));
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "checker exit %d", WEXITSTATUS(status));
    printf("all ok\n");
    return 0;
}
