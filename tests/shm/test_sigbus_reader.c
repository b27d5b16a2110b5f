/*
 * test_sigbus_reader -- proves that a reader of a shm HDF5 file survives
 * another process truncating what it maps, and never takes zeros for data:
 * (1) a reader process (registered in a reader slot of the control object)
 * reads a dataset, another process truncates the control object to 0, the
 * reader reads the dataset again (right: the data object is intact), closes
 * and exits 0 (its close reports the control object as "truncated by another
 * process");
 * (2) a reader process reads a dataset, another process truncates the data
 * object /dev/shm/NAME to 4096 bytes, the reader's next H5Dread of the
 * dataset fails with an error saying "truncated by another process" (on main
 * it died of SIGBUS; a read answered with zeros would be a silent bad read),
 * and it exits 0.
 */
#include "sigbus_util.h"

#define N 200000 /* 800 KB of raw data: well past the first 4096 bytes */

static int reader(const char *n, sb_pipe_t *ready, sb_pipe_t *go, int data_case)
{
    hid_t fapl = st_fapl(n, 0, H5TIER_SHM_KEEP);
    hid_t f = H5Fopen(n, H5F_ACC_RDONLY, fapl);
    if (f < 0 || sb_check(f, "a", N, 3, 1) != 1)
        return 3;
    sb_post(ready);
    sb_wait(go);
    H5Eclear2(H5E_DEFAULT);
    int rc = sb_check(f, "a", N, 3, 1);
    if (!data_case) {
        if (rc != 1) {
            fprintf(stderr, "reader: read after the control object was truncated: %d (%s)\n", rc, st_errstack());
            return 4;
        }
        if (H5Fclose(f) < 0)
            return 5;
        if (!strstr(h5tier_errmsg(), "truncated by another process")) {
            fprintf(stderr, "reader close did not say so: %s\n", h5tier_errmsg());
            return 6;
        }
    } else {
        if (rc != -1) {
            fprintf(stderr, "reader: read of a truncated data object %s\n", rc == 1 ? "succeeded" : "returned zeros");
            return 7;
        }
        if (!sb_said("truncated by another process")) {
            fprintf(stderr, "reader: the error does not say what happened: %s | %s\n", st_errstack(), h5tier_errmsg());
            return 8;
        }
        H5Fclose(f);
    }
    H5Pclose(fapl);
    return 0;
}

int main(void)
{
    tu_h5_quiet();
    for (int data_case = 0; data_case < 2; data_case++) {
        char *n = tu_shm_name("sbrd");
        char cpath[600], dpath[600];
        snprintf(cpath, sizeof cpath, "%s/.%s.h5tier", st_shm_dir(), n);
        snprintf(dpath, sizeof dpath, "%s/%s", st_shm_dir(), n);
        hid_t fapl = st_fapl(n, 0, H5TIER_SHM_KEEP);
        hid_t f = H5Fcreate(n, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        CHECK(f >= 0);
        CHECK(sb_write(f, "a", N, 3, 1) == 0);
        CHECK(H5Fclose(f) >= 0);
        H5Pclose(fapl);
        sb_pipe_t ready, go;
        sb_pipe(&ready);
        sb_pipe(&go);
        pid_t r = fork();
        CHECK(r >= 0);
        if (r == 0)
            _exit(reader(n, &ready, &go, data_case));
        sb_wait(&ready);
        CHECK(sb_truncate(data_case ? dpath : cpath, data_case ? 4096 : 0) == 0);
        sb_post(&go);
        int status = tu_wait(r);
        CHECKF(status == 0, "%s case: reader ended with status %d (128+%d = SIGBUS)",
               data_case ? "data object" : "control object", status, SIGBUS);
        unlink(dpath);
        unlink(cpath);
    }
    printf("all ok\n");
    return 0;
}
