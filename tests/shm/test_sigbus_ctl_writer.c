/*
 * test_sigbus_ctl_writer -- proves that a writer of a shm HDF5 file survives
 * another process truncating its control object /dev/shm/.NAME.h5tier (0666
 * for a file shared 0644: every reader may write it, so truncate it) and
 * loses nothing: a writer process with a backing file writes dataset a and
 * flushes; a separate process truncates the control object to 0 bytes; the
 * writer then writes dataset b (touching the control object: the published
 * end of file), its H5Fflush fails with an error naming the control object
 * and "truncated by another process" (after persisting), and it closes and
 * exits 0 (on main it died of SIGBUS).  Afterwards both datasets read back
 * right from the data object /dev/shm/NAME and from the backing file (sec2,
 * the HDF5 library as the client), and `h5tier shm rm NAME` removes both
 * objects (the truncated control object is no obstacle).
 */
#include "sigbus_util.h"

#define N 50000

int main(void)
{
    tu_h5_quiet();
    char *n = tu_shm_name("sbctlw");
    char cpath[600], dpath[600], bpath[600];
    snprintf(cpath, sizeof cpath, "%s/.%s.h5tier", st_shm_dir(), n);
    snprintf(dpath, sizeof dpath, "%s/%s", st_shm_dir(), n);
    snprintf(bpath, sizeof bpath, "%s", tu_path("backing.h5"));
    sb_pipe_t ready, go;
    sb_pipe(&ready);
    sb_pipe(&go);
    pid_t w = fork();
    CHECK(w >= 0);
    if (w == 0) {
        h5tier_shm_config_t cfg;
        h5tier_shm_config_init(&cfg);
        snprintf(cfg.name, sizeof cfg.name, "%s", n);
        snprintf(cfg.backing_file, sizeof cfg.backing_file, "%s", bpath);
        /* 0600: with a backing file, H5Fcreate of a 0644 file is refused
         * ("control object writable by others but the shm object is not
         * readable by them": the library's probe open leaves a 0666 control
         * object before the data object exists; not this test's subject).
         * The truncating process is then of the same uid (test_hostile_ctl_truncate
         * covers another uid on a 0644 file). */
        cfg.mode = 0600;
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (H5Pset_fapl_shm(fapl, &cfg) < 0)
            _exit(3);
        hid_t f = H5Fcreate(n, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (f < 0 || sb_write(f, "a", N, 1, 0) < 0 || H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) {
            fprintf(stderr, "writer setup failed: %s | %s\n", st_errstack(), h5tier_errmsg());
            _exit(4);
        }
        sb_post(&ready);
        sb_wait(&go); /* the control object is 0 bytes now */
        if (sb_write(f, "b", N, 2, 7) < 0)
            _exit(5);
        if (H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0) {
            fprintf(stderr, "flush after the truncation succeeded without a word\n");
            _exit(6);
        }
        if (!sb_said("truncated by another process") || !sb_said(".h5tier")) {
            fprintf(stderr, "flush error does not say what happened: %s\n", st_errstack());
            _exit(7);
        }
        H5Eclear2(H5E_DEFAULT);
        if (H5Fclose(f) < 0)
            _exit(8);
        if (!strstr(h5tier_errmsg(), "truncated by another process")) {
            fprintf(stderr, "close did not report it: %s\n", h5tier_errmsg());
            _exit(9);
        }
        H5Pclose(fapl);
        _exit(0);
    }
    sb_wait(&ready);
    struct stat st;
    CHECK(stat(cpath, &st) == 0 && st.st_size > 0);
    CHECK(sb_truncate(cpath, 0) == 0);
    sb_post(&go);
    int status = tu_wait(w);
    CHECKF(status == 0, "writer ended with status %d (128+%d = SIGBUS)", status, SIGBUS);
    /* The data object and the backing file hold both datasets. */
    const char *files[2] = {dpath, bpath};
    for (int i = 0; i < 2; i++) {
        hid_t f = H5Fopen(files[i], H5F_ACC_RDONLY, H5P_DEFAULT);
        CHECKF(f >= 0, "cannot open %s", files[i]);
        CHECKF(sb_check(f, "a", N, 1, 0) == 1, "%s: dataset a", files[i]);
        CHECKF(sb_check(f, "b", N, 2, 7) == 1, "%s: dataset b", files[i]);
        H5Fclose(f);
    }
    /* The truncated control object does not stand in the way of removal. */
    char out[4096];
    int rm = tu_sh(out, sizeof out, "'%s' shm rm '%s'", tu_cli(), n);
    tu_log("shm rm after the truncation: status %d: %s", rm, out);
    CHECKF(rm == 0 && access(dpath, F_OK) != 0 && access(cpath, F_OK) != 0, "shm rm: status %d: %s", rm, out);
    printf("all ok\n");
    return 0;
}
