/*
 * Proves that `shm save` (h5tier_shm_save) cannot be killed by the object
 * shrinking under it -- its writer shrinking it at close (save takes no
 * reader slot), or anyone allowed to write a shared object truncating it: a
 * process truncating a 4 MiB shm HDF5 object to 0 and writing its bytes back
 * in a tight loop while save runs for ~3 s.  Main mapped the object and died
 * of SIGBUS when a page it copied was gone; now each save returns 0 with a
 * complete copy, or an error (truncated / not HDF5 / shrank while saved)
 * that leaves no file and no temporary behind.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "persist_util.h"
#include "shmtest.h"

int main(void)
{
    tu_h5_quiet();
    pimg_t a;
    pimg_create(&a, 512 * 1024, 3); /* 4 MiB */
    const char *file = tu_path("a.h5");
    pimg_write_file(file, &a);
    char *n = tu_shm_name("hostsavetr");
    CHECK_OK(h5tier_shm_load(file, n, 0600, 0, NULL, NULL));
    const char *path = st_shm_path(n);
    pid_t t = fork();
    CHECK(t >= 0);
    if (t == 0) {
        unsigned char *orig = malloc(a.len);
        int fd = open(path, O_RDWR);
        if (!orig || fd < 0 || pread(fd, orig, a.len, 0) != (ssize_t)a.len)
            _exit(1);
        for (;;)
            if (ftruncate(fd, 0) < 0 || pwrite(fd, orig, a.len, 0) != (ssize_t)a.len)
                _exit(1);
    }
    const char *dir = tu_path("out");
    CHECK(mkdir(dir, 0700) == 0);
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0) {
        char saved[700];
        snprintf(saved, sizeof saved, "%s/s.h5", dir);
        int ok = 0, failed = 0;
        double t0 = tu_now();
        while (tu_now() - t0 < 3.0) {
            int r = h5tier_shm_save(n, saved, 1, NULL, NULL);
            if (r == 0) {
                if (!pimg_file_is(saved, &a)) {
                    fprintf(stderr, "save returned 0 with a bad copy\n");
                    _exit(2);
                }
                ok++;
                unlink(saved);
            } else if (r < 0) {
                failed++;
                struct stat sb;
                if (stat(saved, &sb) == 0) {
                    fprintf(stderr, "a failed save left '%s'\n", saved);
                    _exit(3);
                }
            }
        }
        fprintf(stderr, "saves: %d complete, %d refused\n", ok, failed);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(c, &status, 0) == c);
    kill(t, SIGKILL);
    waitpid(t, NULL, 0);
    h5tier_shm_remove(n, 1);
    CHECKF(!WIFSIGNALED(status), "save died of signal %d", WTERMSIG(status));
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "saver exit %d", WEXITSTATUS(status));
    DIR *d = opendir(dir);
    CHECK(d);
    for (struct dirent *e; (e = readdir(d));)
        CHECKF(e->d_name[0] == '.', "left in the output directory: %s", e->d_name);
    closedir(d);
    free(a.buf);
    printf("all ok\n");
    return 0;
}
