/*
 * Proves that every system call of a backing-file commit and of a journal
 * replay fails cleanly: for each call kind and each call number N (swept
 * until no fault fires) with ENOSPC and with EIO, the commit returns exactly
 * that -errno with a message naming the file and the step, and after
 * h5tier_shm_recover() the file is the old or the new version, byte for byte
 * (the old one whenever the message says "file unchanged").  Short writes at
 * every pwrite (once, and at every call) still produce the exact new file.
 * Modes: journal (~1% dirty), journal with growth, rename mode, a new file.
 */
#include "persist_util.h"

#define PS 4096u
#define NELEM (1u << 18) /* 1 MiB of int32 */

static const char *const CALLS[] = {"open", "close", "pwrite", "pread", "fsync", "rename",
                                    "ftruncate", "unlink", "fstat", "fchmod", "fdatasync"};
#define NCALLS (int)(sizeof CALLS / sizeof CALLS[0])

typedef struct mode {
    const char *name;
    const pimg_t *from; /* NULL: the file does not exist before the commit */
    const pimg_t *to;
    unsigned flags;
} mode_t_;

static const char *path;

static void set_file(const pimg_t *img) { pimg_set_file(path, img); }

static int do_commit(const mode_t_ *m)
{
    h5tier_pagemap_t pm;
    static const pimg_t empty = {NULL, 0};
    pimg_diff(m->from ? m->from : &empty, m->to, PS, &pm);
    int r = h5tier__backing_commit(path, m->to->buf, m->to->len, &pm, m->flags, 0600, NULL);
    h5tier__pagemap_free(&pm);
    return r;
}

static void check_after(const mode_t_ *m, int r, const char *what)
{
    int unchanged = r < 0 && strstr(h5tier_errmsg(), "file unchanged") != NULL;
    int rr = h5tier_shm_recover(path);
    CHECKF(rr >= 0, "%s: recover after the fault: %s", what, tu_errtext(rr));
    int is_new = pimg_file_is(path, m->to);
    int is_old = m->from ? pimg_file_is(path, m->from) : !pexists(path);
    CHECKF(is_new || is_old, "%s: file is neither the old nor the new version", what);
    if (unchanged)
        CHECKF(is_old, "%s: message says 'file unchanged' but the file changed", what);
    if (r == 0)
        CHECKF(is_new, "%s: commit succeeded but the file is not the new version", what);
}

int main(void)
{
    tu_h5_quiet();
    path = tu_path("backing.h5");
    pimg_t a, b, c;
    pimg_create(&a, NELEM, 9);
    size_t pos[5];
    for (int k = 0; k < 5; k++)
        pos[k] = (size_t)k * (NELEM / 5) + 3;
    pimg_modify(&a, &b, pos, 5, 300, 777, 0);
    pimg_modify(&a, &c, pos, 1, 10, 1, 50000);
    mode_t_ modes[] = {
        {"journal", &a, &b, 0},
        {"journal-grow", &a, &c, 0},
        {"journal-shrink", &c, &a, 0},
        {"rename", &a, &b, H5TIER_SHM_RENAME_SAVE},
        {"new-file", NULL, &b, 0},
    };
    const int errs[] = {ENOSPC, EIO};
    long faults = 0;
    for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
        const mode_t_ *m = &modes[mi];
        /* count the call sites */
        set_file(m->from);
        h5tier_fault_count_start();
        CHECK_OK(do_commit(m));
        long count[NCALLS];
        for (int k = 0; k < NCALLS; k++)
            count[k] = h5tier_fault_calls(CALLS[k]);
        h5tier_fault_clear();
        CHECK(pimg_file_is(path, m->to));
        for (int k = 0; k < NCALLS; k++) {
            for (long n = 1; n <= count[k] + 1; n++) {
                for (int ei = 0; ei < 2; ei++) {
                    char what[128];
                    snprintf(what, sizeof what, "%s: %s #%ld fails with %s", m->name, CALLS[k], n,
                             errs[ei] == EIO ? "EIO" : "ENOSPC");
                    set_file(m->from);
                    CHECK_OK(h5tier_fault_set(CALLS[k], (unsigned long)n, errs[ei], 0));
                    int r = do_commit(m);
                    long fired = h5tier_fault_fired();
                    h5tier_fault_clear();
                    if (n > count[k]) {
                        CHECKF(fired == 0 && r == 0, "%s: fired %ld, r %d", what, fired, r);
                    } else {
                        CHECKF(fired == 1, "%s: the fault did not fire", what);
                        faults++;
                        if (r < 0) {
                            CHECKF(r == -errs[ei], "%s: returned %d (%s)", what, r, tu_errtext(r));
                            CHECKF(strstr(h5tier_errmsg(), path) != NULL, "%s: message does not name the file: %s",
                                   what, h5tier_errmsg());
                        } else {
                            /* only a failing close of an already synced file may go unreported */
                            CHECKF(!strcmp(CALLS[k], "close"), "%s: commit ignored the fault", what);
                        }
                    }
                    check_after(m, r, what);
                }
            }
        }
        /* short writes: once at each pwrite, and at every pwrite */
        for (long n = 1; n <= count[2]; n++) {
            set_file(m->from);
            CHECK_OK(h5tier_fault_set("pwrite", (unsigned long)n, 0, H5TIER_FAULT_SHORT));
            int r = do_commit(m);
            h5tier_fault_clear();
            CHECKF(r == 0, "%s: short pwrite #%ld: %s", m->name, n, tu_errtext(r));
            CHECKF(pimg_file_is(path, m->to), "%s: short pwrite #%ld: wrong file", m->name, n);
        }
        set_file(m->from);
        CHECK_OK(h5tier_fault_set("pwrite", 1, 0, H5TIER_FAULT_SHORT | H5TIER_FAULT_PERSIST));
        int r = do_commit(m);
        h5tier_fault_clear();
        CHECKF(r == 0 && pimg_file_is(path, m->to), "%s: every pwrite short: %d", m->name, r);
        tu_log("%s: %ld call sites swept", m->name, count[0] + count[1] + count[2] + count[3] + count[4] + count[5] +
               count[6] + count[7] + count[8] + count[9] + count[10]);
    }

    /* faults during the replay of a committed journal */
    h5tier_pagemap_t pm;
    pimg_diff(&a, &b, PS, &pm);
#define MAKE_COMMITTED()                                                                          \
    do {                                                                                          \
        set_file(&a);                                                                             \
        pimg_commit_unapplied(path, &b, &pm);                                                     \
    } while (0)
    MAKE_COMMITTED();
    h5tier_fault_count_start();
    CHECK(h5tier_shm_recover(path) == 1);
    long rcount[NCALLS];
    for (int k = 0; k < NCALLS; k++)
        rcount[k] = h5tier_fault_calls(CALLS[k]);
    h5tier_fault_clear();
    for (int k = 0; k < NCALLS; k++) {
        for (long n = 1; n <= rcount[k]; n++) {
            MAKE_COMMITTED();
            char what[128];
            snprintf(what, sizeof what, "replay: %s #%ld fails with EIO", CALLS[k], n);
            CHECK_OK(h5tier_fault_set(CALLS[k], (unsigned long)n, EIO, 0));
            int r = h5tier_shm_recover(path);
            h5tier_fault_clear();
            if (r < 0)
                CHECKF(r == -EIO && strstr(h5tier_errmsg(), path), "%s: %d (%s)", what, r, tu_errtext(r));
            r = h5tier_shm_recover(path);
            CHECKF(r >= 0, "%s: second recover: %s", what, tu_errtext(r));
            CHECKF(pimg_file_is(path, &b), "%s: a committed journal must end as the new version", what);
            faults++;
        }
    }
    tu_log("%ld injected faults, all reported and recovered", faults);
    h5tier__pagemap_free(&pm);
    free(a.buf);
    free(b.buf);
    free(c.buf);
    return 0;
}
