/*
 * Proves failures at every system call of a merge and of a writing rank
 * leave nothing corrupt, swept through the project's fault injector
 * (SQLite style: N = 1, 2, ... until the fault no longer fires):
 *   - merge with ENOSPC/EIO at the Nth pwrite, fsync, ftruncate, open,
 *     pread or rename (N = 1..16, then steps of N/8): the merge fails with
 *     an explanation, no temporary file is left, and OUT does not exist --
 *     or, when only the directory fsync after the rename failed, OUT is
 *     complete (h5diff); once no fault fires the merge succeeds and its
 *     output matches the reference;
 *   - a single writing rank with ENOSPC at its Nth pwrite (rewriting the
 *     same name each time): when the fault fired the run never merges (no
 *     metafile, or the rank has no close record), even though a complete
 *     earlier run was there; when it did not fire the run merges; `merge
 *     --allow-incomplete` still gives a file HDF5 opens or a clear error.
 */
#include <sys/stat.h>

#include "h5tier_sys.h"
#include "mf_test.h"

static void quiet_warn(const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void sweep_merge(const char *dir, const char *ref, const char *call, int err)
{
    char out[8192];
    char merged[4400];
    snprintf(merged, sizeof merged, "%s", tu_path("sweep_out.h5"));
    h5tier_merge_opts_t o = {.threads = 2, .warn = quiet_warn};
    for (unsigned long n = 1;; n++) {
        unlink(merged);
        CHECK_OK(h5tier_fault_set(call, n, err, 0));
        int rc = h5tier_multifile_merge(dir, merged, &o, NULL);
        long fired = h5tier_fault_fired();
        h5tier_fault_clear();
        int rest = tu_sh(out, sizeof out, "ls %s.tmp.* 2>/dev/null | wc -l", merged);
        CHECKF(rest == 0 && atoi(out) == 0, "%s #%lu: temporary file left", call, n);
        if (!fired) {
            CHECKF(rc == 0, "%s #%lu (not fired): merge failed: %s", call, n, h5tier_errmsg());
            CHECK(tu_sh(out, sizeof out, "h5diff %s %s", ref, merged) == 0);
            tu_log("%s: swept up to call %lu", call, n - 1);
            return;
        }
        CHECKF(rc < 0, "%s #%lu fired but the merge succeeded", call, n);
        CHECKF(strlen(h5tier_errmsg()) > 10, "%s #%lu: no explanation", call, n);
        /* OUT is absent, or (the directory fsync after the rename failed) complete */
        if (exists(merged))
            CHECKF(tu_sh(out, sizeof out, "h5diff %s %s", ref, merged) == 0, "%s #%lu: OUT exists and differs: %s",
                   call, n, out);
        CHECKF(n < 100000, "%s: sweep does not end", call);
        n += n < 16 ? 0 : n / 8; /* every site early on, then geometric steps */
    }
}

int main(void)
{
    tu_h5_quiet();
    const char *ref = mf_path("ref.h5"), *name = mf_path("run.h5");
    mf_write_reference(ref);
    for (int r = 0; r < 2; r++) {
        hid_t fapl = mf_fapl(r, 2, H5TIER_MULTIFILE_NO_SYNC);
        CHECK(mf_write_rank(name, fapl, r, 2, 0) == 0);
        H5Pclose(fapl);
    }
    char dir[4400];
    snprintf(dir, sizeof dir, "%s.mf", name);
    sweep_merge(dir, ref, "pwrite", ENOSPC);
    sweep_merge(dir, ref, "pread", EIO);
    sweep_merge(dir, ref, "fsync", EIO);
    sweep_merge(dir, ref, "ftruncate", ENOSPC);
    sweep_merge(dir, ref, "open", EMFILE);
    sweep_merge(dir, ref, "rename", EIO);

    /* a writing rank (rank 0 of 1) with ENOSPC at its Nth pwrite */
    char w[4400], wdir[4500], wout[4400], winc[4400], out[8192];
    snprintf(w, sizeof w, "%s", tu_path("w.h5"));
    snprintf(wdir, sizeof wdir, "%s.mf", w);
    snprintf(wout, sizeof wout, "%s", tu_path("w_out.h5"));
    snprintf(winc, sizeof winc, "%s", tu_path("w_inc.h5"));
    unsigned long n;
    for (n = 1;; n++) {
        /* each attempt in its own process: HDF5 1.10 keeps a file ID whose
         * close failed, so a process that hit ENOSPC is not reused */
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            hid_t fapl = mf_fapl(0, 1, 0);
            CHECK_OK(h5tier_fault_set("pwrite", n, ENOSPC, 0));
            int rc = mf_write_rank(w, fapl, 0, 1, 0);
            long fired = h5tier_fault_fired();
            _exit((rc == 0 ? 0 : 1) + (fired ? 10 : 0));
        }
        int st = tu_wait(pid);
        CHECKF(st == 0 || st == 10 || st == 11, "writer #%lu: status %d", n, st);
        int rc = st % 10, fired = st >= 10;
        int m = tu_sh(out, sizeof out, "%s merge --force %s %s", tu_cli(), wdir, wout);
        if (!fired) {
            CHECKF(rc == 0 && m == 0, "writer #%lu (not fired): rc %d, merge %d: %s", n, rc, m, out);
            CHECK(tu_sh(out, sizeof out, "h5diff %s %s", ref, wout) == 0);
            break;
        }
        CHECKF(m == 1 && strstr(out, "merge failed"), "writer #%lu failed but merge said (%d): %s", n, m, out);
        m = tu_sh(out, sizeof out, "%s merge --force --allow-incomplete %s %s", tu_cli(), wdir, winc);
        CHECKF(m == 0 || (m == 1 && strstr(out, "merge failed")), "incomplete merge #%lu (%d): %s", n, m, out);
        CHECKF(n < 100000, "writer sweep does not end");
        n += n < 16 ? 0 : n / 8;
    }
    tu_log("writer: swept up to pwrite %lu", n - 1);
    return 0;
}
