/*
 * Proves that a backing file survives SIGKILL at any point of a commit: after
 * h5tier_shm_recover() it is byte-for-byte the old or the new version, opens
 * with HDF5 and passes h5dump.
 *
 * Part 1 (random): a child process commits alternating versions A/B of an
 * image in a loop (journal mode with ~1% of the pages different; journal mode
 * with growth and shrink A/C; rename mode; full rewrite without a page map)
 * and the parent SIGKILLs it at random moments.
 * Part 2 (deterministic): for each of pwrite, fsync, rename, ftruncate,
 * unlink and fdatasync (format 2 syncs the journal's data and commit record
 * with one fdatasync, and the applied file with another), a fresh child is
 * killed by the fault injector at the Nth call for N = 1, 2, ... until the
 * commit finishes without the fault firing (the count is learnt first with
 * h5tier_fault_count_start).  The same sweep is run over the replay of a
 * committed journal (part 3, a kill during recovery), and over a commit
 * that starts with a journal a crash brought back after it had been applied
 * and removed (part 4; format 2 does not sync that removal).
 */
#include <signal.h>
#include <sys/wait.h>

#include "persist_util.h"

#define PS 4096u
#define NELEM (1u << 19) /* 2 MiB of int32 */

static const char *const CALLS[] = {"pwrite", "fsync", "rename", "ftruncate", "unlink", "fdatasync"};
#define NCALLS (int)(sizeof CALLS / sizeof CALLS[0])

static void load_img(const char *file, pimg_t *img)
{
    img->buf = pimg_read_file(file, &img->len);
    if (!img->buf)
        exit(20);
}

static unsigned parse_flags(const char *s) { return (unsigned)strtoul(s, NULL, 0); }

/* flags: H5TIER_SHM_* plus 0x100 = commit without a page map (everything) */
#define F_NOMAP 0x100u

static int commit_to(const char *path, const pimg_t *from, const pimg_t *to, unsigned flags)
{
    h5tier_pagemap_t pm;
    pimg_diff(from, to, PS, &pm);
    int r = h5tier__backing_commit(path, to->buf, to->len, (flags & F_NOMAP) ? NULL : &pm, flags & 0xffu, 0600, NULL);
    h5tier__pagemap_free(&pm);
    return r;
}

/* child: loop PATH A B FLAGS READY */
static int child_loop(char **argv)
{
    const char *path = argv[2];
    pimg_t a, b;
    load_img(argv[3], &a);
    load_img(argv[4], &b);
    unsigned flags = parse_flags(argv[5]);
    for (long i = 0;; i++) {
        if (h5tier_shm_recover(path) < 0)
            return 4;
        int is_a = pimg_file_is(path, &a);
        if (!is_a && !pimg_file_is(path, &b))
            return 5;
        int r = is_a ? commit_to(path, &a, &b, flags) : commit_to(path, &b, &a, flags);
        if (r < 0) {
            fprintf(stderr, "child commit failed: %s\n", h5tier_errmsg());
            return 6;
        }
        if (i == 0) {
            int fd = open(argv[6], O_WRONLY | O_CREAT, 0600);
            if (fd >= 0)
                close(fd);
        }
    }
}

/* child: kill1 PATH A B FLAGS CALL N -- file holds A; commit B, killed at call N */
static int child_kill1(char **argv)
{
    pimg_t a, b;
    load_img(argv[3], &a);
    load_img(argv[4], &b);
    if (h5tier_fault_set(argv[6], strtoul(argv[7], NULL, 10), 0, H5TIER_FAULT_KILL) < 0)
        return 7;
    int r = commit_to(argv[2], &a, &b, parse_flags(argv[5]));
    free(a.buf);
    free(b.buf);
    return r < 0 ? 3 : 0;
}

/* child: killrec PATH CALL N -- a committed journal exists; killed at call N of recovery */
static int child_killrec(char **argv)
{
    if (h5tier_fault_set(argv[3], strtoul(argv[4], NULL, 10), 0, H5TIER_FAULT_KILL) < 0)
        return 7;
    return h5tier_shm_recover(argv[2]) < 0 ? 3 : 0;
}

static void check_version(const char *path, const pimg_t *a, const pimg_t *b, int h5dump, const char *what)
{
    int r = h5tier_shm_recover(path);
    CHECKF(r >= 0, "%s: recover failed: %s", what, tu_errtext(r));
    char side[4600];
    snprintf(side, sizeof side, "%s.h5tier-journal", path);
    CHECKF(!pexists(side), "%s: journal left after recover", what);
    snprintf(side, sizeof side, "%s.h5tier-tmp", path);
    CHECKF(!pexists(side), "%s: temp file left after recover", what);
    CHECKF(pimg_file_is(path, a) || pimg_file_is(path, b), "%s: backing file is neither version", what);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECKF(f >= 0, "%s: H5Fopen failed", what);
    H5Fclose(f);
    if (h5dump) {
        char out[4096];
        int rc = tu_sh(out, sizeof out, "h5dump -H '%s' >/dev/null", path);
        CHECKF(rc == 0, "%s: h5dump exit %d: %s", what, rc, out);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "loop"))
        return child_loop(argv);
    if (argc > 1 && !strcmp(argv[1], "kill1"))
        return child_kill1(argv);
    if (argc > 1 && !strcmp(argv[1], "killrec"))
        return child_killrec(argv);
    tu_h5_quiet();

    pimg_t a, b, c;
    pimg_create(&a, NELEM, 5);
    size_t pos[6];
    for (int k = 0; k < 6; k++)
        pos[k] = (size_t)k * (NELEM / 6) + 11;
    pimg_modify(&a, &b, pos, 6, 700, 4242, 0);      /* ~1% of the pages differ */
    pimg_modify(&a, &c, pos, 2, 100, 99, 200000);   /* grows by ~800 KB */
    const char *fa = tu_path("A.img"), *fb = tu_path("B.img"), *fc = tu_path("C.img");
    pimg_write_file(fa, &a);
    pimg_write_file(fb, &b);
    pimg_write_file(fc, &c);
    const char *path = tu_path("backing.h5"), *ready = tu_path("ready");

    /* ---- part 1: random kills ---- */
    struct {
        const char *other;
        const pimg_t *oimg;
        unsigned flags;
        const char *name;
    } modes[] = {
        {fb, &b, 0, "journal A/B"},
        {fc, &c, 0, "journal grow/shrink A/C"},
        {fb, &b, H5TIER_SHM_RENAME_SAVE, "rename A/B"},
        {fb, &b, F_NOMAP, "full rewrite A/B"},
    };
    const char *seed_env = getenv("H5TIER_TEST_SEED");
    unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : 20261122u;
    srand(seed);
    tu_log("random kills, seed %u (set H5TIER_TEST_SEED to repeat)", seed);
    int rounds = 40, outcome[3] = {0, 0, 0};
    for (int i = 0; i < rounds; i++) {
        int m = i % 4;
        pimg_set_file(path, &a);
        unlink(ready);
        char flags[32];
        snprintf(flags, sizeof flags, "%u", modes[m].flags);
        pid_t pid = tu_spawn_self("loop", path, fa, modes[m].other, flags, ready, (char *)NULL);
        double t0 = tu_now();
        while (!pexists(ready) && tu_now() - t0 < 20) {
            int st;
            CHECKF(waitpid(pid, &st, WNOHANG) == 0, "loop child exited early (status %d)", st);
            usleep(1000);
        }
        CHECKF(pexists(ready), "loop child never got ready");
        usleep((useconds_t)(rand() % 40000));
        kill(pid, SIGKILL);
        int st = tu_wait(pid);
        CHECKF(st == 128 + SIGKILL, "round %d (%s): child exited with %d instead of being killed", i, modes[m].name,
               st);
        char jpath[4600];
        snprintf(jpath, sizeof jpath, "%s.h5tier-journal", path);
        int r = h5tier_shm_recover(path);
        CHECKF(r >= 0 && r <= 2, "round %d: recover: %s", i, tu_errtext(r));
        outcome[r]++;
        char what[64];
        snprintf(what, sizeof what, "round %d (%s)", i, modes[m].name);
        check_version(path, &a, modes[m].oimg, 1, what);
    }
    tu_log("random kills: %d rounds; recover found nothing %d, replayed %d, discarded %d", rounds, outcome[0],
           outcome[1], outcome[2]);

    /* ---- part 2: deterministic kill at the Nth call ---- */
    struct {
        const char *other;
        const pimg_t *oimg;
        unsigned flags;
        const char *name;
    } smodes[] = {
        {fb, &b, 0, "journal"},
        {fc, &c, 0, "journal-grow"},
        {fb, &b, H5TIER_SHM_RENAME_SAVE, "rename"},
    };
    int kills = 0;
    for (size_t m = 0; m < sizeof smodes / sizeof smodes[0]; m++) {
        /* learn the number of calls of each kind */
        pimg_set_file(path, &a);
        h5tier_fault_count_start();
        CHECK_OK(commit_to(path, &a, smodes[m].oimg, smodes[m].flags));
        long count[NCALLS];
        for (int k = 0; k < NCALLS; k++)
            count[k] = h5tier_fault_calls(CALLS[k]);
        h5tier_fault_clear();
        CHECK(pimg_file_is(path, smodes[m].oimg));
        tu_log("%s commit: pwrite %ld, fsync %ld, rename %ld, ftruncate %ld, unlink %ld, fdatasync %ld",
               smodes[m].name, count[0], count[1], count[2], count[3], count[4], count[5]);
        for (int k = 0; k < NCALLS; k++) {
            for (long n = 1; n <= count[k] + 1; n++) {
                pimg_set_file(path, &a);
                char flags[32], nth[32], what[96];
                snprintf(flags, sizeof flags, "%u", smodes[m].flags);
                snprintf(nth, sizeof nth, "%ld", n);
                pid_t pid = tu_spawn_self("kill1", path, fa, smodes[m].other, flags, CALLS[k], nth, (char *)NULL);
                int st = tu_wait_timeout(pid, 30);
                snprintf(what, sizeof what, "%s: kill at %s #%ld", smodes[m].name, CALLS[k], n);
                if (n <= count[k]) {
                    CHECKF(st == 128 + SIGKILL, "%s: child status %d, expected killed", what, st);
                    kills++;
                } else {
                    CHECKF(st == 0, "%s: child status %d, expected a clean commit", what, st);
                }
                check_version(path, &a, smodes[m].oimg, 0, what);
                if (n > count[k])
                    CHECK(pimg_file_is(path, smodes[m].oimg));
            }
        }
    }

    /* ---- part 3: kill during the replay of a committed journal ---- */
    h5tier_pagemap_t pm;
    pimg_diff(&a, &b, PS, &pm);
    /* a committed journal whose apply failed at its first write */
    #define MAKE_COMMITTED()                                                                          \
        do {                                                                                          \
            pimg_set_file(path, &a);                                                                  \
            pimg_commit_unapplied(path, &b, &pm);                                                     \
        } while (0)
    MAKE_COMMITTED();
    h5tier_fault_count_start();
    CHECK(h5tier_shm_recover(path) == 1);
    long rcount[NCALLS];
    for (int k = 0; k < NCALLS; k++)
        rcount[k] = h5tier_fault_calls(CALLS[k]);
    h5tier_fault_clear();
    CHECK(pimg_file_is(path, &b));
    for (int k = 0; k < NCALLS; k++) {
        for (long n = 1; n <= rcount[k]; n++) {
            MAKE_COMMITTED();
            char nth[32], what[96];
            snprintf(nth, sizeof nth, "%ld", n);
            pid_t pid = tu_spawn_self("killrec", path, CALLS[k], nth, (char *)NULL);
            int st = tu_wait_timeout(pid, 30);
            snprintf(what, sizeof what, "recovery: kill at %s #%ld", CALLS[k], n);
            CHECKF(st == 128 + SIGKILL, "%s: child status %d", what, st);
            kills++;
            check_version(path, &a, &b, 0, what);
            CHECKF(pimg_file_is(path, &b), "%s: a committed journal must end as the new version", what);
        }
    }
    /* ---- part 4: a journal that a crash brought back (format 2 removes it
     * without a directory sync), then the next commit killed at every call:
     * its recovery re-applies the old journal (the file already holds those
     * bytes), then it commits B -> A; after recovery the file is A or B. */
    char jpath[4600];
    snprintf(jpath, sizeof jpath, "%s.h5tier-journal", path);
    MAKE_COMMITTED(); /* file A, committed journal A -> B */
    size_t jlen = 0;
    unsigned char *jbytes = pimg_read_file(jpath, &jlen);
    CHECK(jbytes && jlen > 0);
    CHECK(h5tier_shm_recover(path) == 1 && pimg_file_is(path, &b));
    #define RESURRECT()                                                                   \
        do {                                                                              \
            pimg_set_file(path, &b);                                                      \
            int jfd_ = open(jpath, O_WRONLY | O_CREAT | O_EXCL, 0600);                    \
            CHECK(jfd_ >= 0 && write(jfd_, jbytes, jlen) == (ssize_t)jlen);               \
            close(jfd_);                                                                  \
        } while (0)
    RESURRECT();
    h5tier_fault_count_start();
    CHECK_OK(commit_to(path, &b, &a, 0));
    long c4[NCALLS];
    for (int k = 0; k < NCALLS; k++)
        c4[k] = h5tier_fault_calls(CALLS[k]);
    h5tier_fault_clear();
    CHECK(pimg_file_is(path, &a));
    int kills4 = 0;
    for (int k = 0; k < NCALLS; k++) {
        for (long n = 1; n <= c4[k]; n++) {
            RESURRECT();
            char nth[32], what[96];
            snprintf(nth, sizeof nth, "%ld", n);
            pid_t pid = tu_spawn_self("kill1", path, fb, fa, "0", CALLS[k], nth, (char *)NULL);
            int st = tu_wait_timeout(pid, 30);
            snprintf(what, sizeof what, "resurrected journal, then commit killed at %s #%ld", CALLS[k], n);
            CHECKF(st == 128 + SIGKILL, "%s: child status %d", what, st);
            kills4++;
            check_version(path, &a, &b, 0, what);
        }
    }
    free(jbytes);
    tu_log("resurrected journal + kill sweep: %d kills, all the old or new version", kills4);
    kills += kills4;
    h5tier__pagemap_free(&pm);
    tu_log("deterministic kills: %d, all recovered to the old or new version", kills);
    free(a.buf);
    free(b.buf);
    free(c.buf);
    return 0;
}
