/*
 * Proves that `shm info`, `shm ls` and `shm save` (the management functions
 * that only read a control object) cannot be killed by whoever may write
 * that control object: a process (another user, for a shared 0644 file
 * whose control object is 0666) truncating it to 0 and writing its bytes
 * back in a
 * tight loop while h5tier_shm_info and h5tier_shm_save run 3000 / 300 times
 * (at most ~4 s / ~3 s: a refused call waits up to 2 s for a creator).
 * Main mapped the control object and died of SIGBUS when the truncation
 * landed between its size check and a field read; every call must now
 * return (success, or a clear error about a short control object) and the
 * saves must be complete copies.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "persist_util.h"
#include "shmtest.h"

int main(void)
{
    tu_h5_quiet();
    pimg_t a;
    pimg_create(&a, 4096, 2);
    const char *file = tu_path("a.h5");
    pimg_write_file(file, &a);
    char *n = tu_shm_name("hostsnap");
    char canon[300], cpath[600];
    snprintf(canon, sizeof canon, "/%s", n);
    snprintf(cpath, sizeof cpath, "%s/.%s.h5tier", st_shm_dir(), n);
    CHECK_OK(h5tier_shm_load(file, n, 0644, 0, NULL, NULL));
    int cfd = -1;
    h5tier_shmc_t *ctl = NULL;
    CHECK_OK(h5tier__shmc_open(canon, 1, 0, 0666, &cfd, &ctl));
    h5tier__shmc_close(cfd, ctl);

    pid_t t = fork(); /* the truncator */
    CHECK(t >= 0);
    if (t == 0) {
        static char orig[H5TIER_SHMC_SIZE];
        int fd = open(cpath, O_RDWR);
        if (fd < 0 || pread(fd, orig, sizeof orig, 0) != (ssize_t)sizeof orig)
            _exit(1);
        for (;;) { /* cut it, then put the same bytes back */
            if (ftruncate(fd, 0) < 0 || pwrite(fd, orig, sizeof orig, 0) != (ssize_t)sizeof orig)
                _exit(1);
        }
    }
    pid_t c = fork(); /* the victim, in its own process so a SIGBUS is seen */
    CHECK(c >= 0);
    if (c == 0) {
        int ok = 0, refused = 0;
        double t0 = tu_now();
        for (int i = 0; i < 3000 && tu_now() - t0 < 4.0; i++) {
            h5tier_shm_info_t in;
            int r = h5tier_shm_info(n, &in);
            if (r < 0)
                _exit(2);
            if (in.has_control)
                ok++;
            else
                refused++;
        }
        const char *saved = tu_path("saved.h5");
        t0 = tu_now();
        for (int i = 0; i < 300 && tu_now() - t0 < 3.0; i++) {
            if (h5tier_shm_save(n, saved, 1, NULL, NULL) != 0 || !pimg_file_is(saved, &a))
                _exit(3);
        }
        fprintf(stderr, "info: %d with the control object, %d without (short or bad while truncated)\n", ok, refused);
        _exit(ok > 0 ? 0 : 4); /* the intact moments must still be read */
    }
    int status = 0;
    CHECK(waitpid(c, &status, 0) == c);
    kill(t, SIGKILL);
    waitpid(t, NULL, 0);
    h5tier_shm_remove(n, 1);
    CHECKF(!WIFSIGNALED(status), "the reader of the control object died of signal %d", WTERMSIG(status));
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "victim exit %d", WEXITSTATUS(status));
    free(a.buf);
    printf("all ok\n");
    return 0;
}
