/*
 * Proves a SIGKILL during write-behind never damages what was flushed: a
 * child process writes dataset "a" through the tier driver (flush=async,
 * small dirty bound), calls H5Fflush, tells the parent, and keeps rewriting
 * the early-allocated contiguous dataset "b" in a loop (write-behind busy
 * draining).  The parent SIGKILLs it at a varying moment.  Each time the
 * file opens with sec2 and h5dump, "a" is exactly what was flushed, and
 * every element of "b" is either the flushed value or one of the child's
 * later values (never a torn or invented one).
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "tiertest.h"

#define NA 200000
#define NB 400000

static int child(const char *path, int fd)
{
    hid_t fapl = tt_fapl("ram=2MiB page=16KiB dirty=256KiB flush=async");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    hsize_t na = NA, nb = NB;
    hid_t sa = H5Screate_simple(1, &na, NULL), sb = H5Screate_simple(1, &nb, NULL);
    hid_t a = H5Dcreate2(file, "a", H5T_NATIVE_INT, sa, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t b = H5Dcreate2(file, "b", H5T_NATIVE_INT, sb, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int *buf = malloc(NB * sizeof(int));
    for (int i = 0; i < NA; i++)
        buf[i] = i * 7;
    CHECK(H5Dwrite(a, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    for (int i = 0; i < NB; i++)
        buf[i] = -1;
    CHECK(H5Dwrite(b, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0);
    CHECK(write(fd, "F", 1) == 1);
    for (int round = 0;; round++) { /* rewrite b in slices until killed */
        hsize_t cnt = 10000;
        for (hsize_t off = 0; off < NB; off += cnt) {
            for (hsize_t i = 0; i < cnt; i++)
                buf[i] = round * 1000000 + (int)(off + i) % 1000000;
            hid_t fs = H5Dget_space(b), ms = H5Screate_simple(1, &cnt, NULL);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
            H5Dwrite(b, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, buf);
            H5Sclose(fs);
            H5Sclose(ms);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "child"))
        return child(argv[2], 1);
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_path("kill.h5"));
    int *buf = malloc(NB * sizeof(int));
    for (int trial = 0; trial < 6; trial++) {
        int p[2];
        CHECK(pipe(p) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            _exit(child(path, p[1]));
        }
        close(p[1]);
        char c;
        CHECK(read(p[0], &c, 1) == 1 && c == 'F');
        close(p[0]);
        struct timespec ts = {0, 20000000L + trial * 30000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        CHECK(WIFSIGNALED(st));
        hid_t s2 = tt_fapl(NULL);
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, s2);
        CHECKF(file >= 0, "trial %d: the killed writer's file does not open", trial);
        hid_t a = H5Dopen2(file, "a", H5P_DEFAULT), b = H5Dopen2(file, "b", H5P_DEFAULT);
        CHECK(a >= 0 && b >= 0);
        CHECK(H5Dread(a, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        for (int i = 0; i < NA; i++)
            CHECKF(buf[i] == i * 7, "trial %d: flushed a[%d] = %d", trial, i, buf[i]);
        CHECK(H5Dread(b, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        int newer = 0;
        for (int i = 0; i < NB; i++) {
            int v = buf[i];
            CHECKF(v == -1 || (v >= 0 && v % 1000000 == i % 1000000), "trial %d: b[%d] = %d is torn", trial, i, v);
            newer += v != -1;
        }
        H5Dclose(a);
        H5Dclose(b);
        H5Fclose(file);
        H5Pclose(s2);
        char out[2048];
        CHECKF(tu_sh(out, sizeof out, "h5dump -H '%s' >/dev/null", path) == 0, "h5dump: %s", out);
        tu_log("ok: trial %d: flushed data intact, %d of %d later elements had landed", trial, newer, NB);
    }
    free(buf);
    return 0;
}
