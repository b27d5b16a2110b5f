/*
 * test_sigbus_ls_concurrent -- proves that listing and describing shm
 * objects never crashes while another process truncates them: four shm
 * HDF5 files exist; a separate process truncates their control objects and
 * data objects to 0 and back (sizes 0, 100, full) in a loop, bounded: at
 * least 3 s, 16 info calls and 4 CLI runs of each kind, at most ~60 s;
 * meanwhile this process calls h5tier_shm_list and h5tier_shm_info on every
 * name (each returns 0 or an error; -- a control object is read with pread
 * as a snapshot, never mapped) and runs the CLI's `h5tier shm ls` and
 * `h5tier shm info NAME` (each exits 0 or with an error message, never
 * "Bus error", status 135).  Under TSan this is the concurrent test of the
 * same paths.
 */
#include "sigbus_util.h"

#define NOBJ 4

static char names[NOBJ][128];

static int count_cb(const h5tier_shm_info_t *info, void *arg)
{
    (void)info;
    (*(int *)arg)++;
    return 0;
}

int main(void)
{
    tu_h5_quiet();
    char cpath[NOBJ][600], dpath[NOBJ][600];
    off_t full[NOBJ];
    for (int i = 0; i < NOBJ; i++) {
        char *n = tu_shm_name("sbls");
        snprintf(names[i], sizeof names[i], "%s", n);
        snprintf(cpath[i], sizeof cpath[i], "%s/.%s.h5tier", st_shm_dir(), n);
        snprintf(dpath[i], sizeof dpath[i], "%s/%s", st_shm_dir(), n);
        hid_t fapl = st_fapl(n, 0, H5TIER_SHM_KEEP);
        hid_t f = H5Fcreate(n, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        CHECK(f >= 0 && sb_write(f, "a", 10000, 1, 0) == 0 && H5Fclose(f) >= 0);
        H5Pclose(fapl);
        struct stat st;
        CHECK(stat(dpath[i], &st) == 0);
        full[i] = st.st_size;
    }
    double end = tu_now() + 3.0;
    pid_t t = fork();
    CHECK(t >= 0);
    if (t == 0) {
        const off_t csizes[3] = {0, 100, 16384};
        for (unsigned k = 0; tu_now() < end + 90; k++) /* the parent ends it earlier */
            for (int i = 0; i < NOBJ; i++) {
                if (truncate(cpath[i], csizes[k % 3]) < 0)
                    _exit(1);
                const off_t dsizes[3] = {0, 100, full[i]};
                if (truncate(dpath[i], dsizes[(k + (unsigned)i) % 3]) < 0)
                    _exit(1);
            }
        _exit(0);
    }
    unsigned calls = 0, clis = 0;
    while ((tu_now() < end || calls < 16 || clis < 4) && tu_now() < end + 60) {
        int seen = 0;
        int rc = h5tier_shm_list(count_cb, &seen);
        CHECKF(rc >= 0 || rc < 0, "list: %d", rc); /* any answer; the point is being here */
        for (int i = 0; i < NOBJ; i++) {
            h5tier_shm_info_t info;
            (void)h5tier_shm_info(names[i], &info);
            calls++;
        }
        if (clis < 12) {
            char out[8192];
            int st = tu_sh(out, sizeof out, "'%s' shm ls", tu_cli());
            CHECKF(st < 128, "'h5tier shm ls' died (status %d): %s", st, out);
            st = tu_sh(out, sizeof out, "'%s' shm info '%s'", tu_cli(), names[clis % NOBJ]);
            CHECKF(st < 128, "'h5tier shm info' died (status %d): %s", st, out);
            CHECKF(!strstr(out, "Bus error"), "'h5tier shm info': %s", out);
            clis++;
        }
    }
    kill(t, SIGTERM);
    int ts = tu_wait(t);
    CHECKF(ts == 128 + SIGTERM, "the truncating process failed (status %d)", ts);
    CHECKF(calls >= 16 && clis >= 4, "only %u info calls and %u CLI runs in 60 s", calls, clis);
    tu_log("%u info calls and %u CLI runs while the objects were truncated", calls, clis);
    for (int i = 0; i < NOBJ; i++) {
        unlink(dpath[i]);
        unlink(cpath[i]);
    }
    printf("all ok\n");
    return 0;
}
