/*
 * Proves adding a stream to an existing archive is all-or-nothing under
 * SIGKILL.  An archive holds stream A (3000 records with a lost range, mode
 * 0640).  Child processes open a copy of it with specs A and B (B in a new
 * group) and are SIGKILLed: at the Nth call of every kind of system call the
 * open makes through h5tier_sys (open, close, flock, fstat, fchmod, pread,
 * pwrite, fsync, rename, copy_file_range, and pread/pwrite again with
 * copy_file_range failing EXDEV so the copy goes through a buffer; N swept
 * until the open completes), at the Nth
 * pwrite64 system call of the process, HDF5's own writes included (strace
 * -e inject=pwrite64:signal=KILL:when=N; skipped where strace cannot
 * trace), then at pseudo-random delays (fixed seed) across the whole open.  After each kill
 * OUT.h5 must be exactly one of:
 *   old: every byte after the superblock equals the original archive (the
 *        open never wrote the file; only the superblock's status flags may
 *        differ), and no B;
 *   new: B complete (B, /.h5tier/B/seq and lost, all empty) with the original mode.
 * Either way h5py (on an `h5clear -s` copy, as after any killed writer)
 * finds all of A's records, sequence numbers and lost range, and h5dump
 * reads the file.  A kill at the first rename (the copy being published)
 * must fire and leave the old archive: adding a stream goes through a
 * renamed copy.  Then the next archiver opens every outcome (A and B),
 * removing every OUT.h5.tmp-* the kills left, and both streams archive
 * records (h5py check).  A copy
 * that fails (ENOSPC injected, in the kernel or in the buffered fallback)
 * is reported, leaves no temporary file and
 * the archive byte for byte unchanged; reopening an archive whose streams
 * all exist writes and renames nothing.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5tier_archive.h"
#include "h5tier_sys.h"
#include "test_archive_common.h"

#define A_RECORDS 3000u
#define MAX_RUNS 200
#define DELAY_RUNS 90
#define SB_BYTES 48 /* the v3 superblock: its flags (and checksum) may change */

static void specs(h5tier_archive_stream_spec_t sp[2])
{
    hid_t t = ev_type();
    sp[0] = (h5tier_archive_stream_spec_t){.path = "/events", .like = H5I_INVALID_HID, .type = t, .rank = 0,
                                           .chunk_bytes = 64 * 32};
    sp[1] = sp[0];
    sp[1].path = "/more/events_b";
}

static long kill_after_us;
static void *killer(void *arg)
{
    (void)arg;
    usleep((useconds_t)kill_after_us);
    kill(getpid(), SIGKILL);
    return NULL;
}

/* child: open OUT with A and B, killed by a fault spec or after a delay */
static int add_main(const char *out, const char *mode, const char *arg)
{
    h5tier_archive_stream_spec_t sp[2];
    specs(sp);
    if (!strcmp(mode, "fault")) {
        CHECK_OK(h5tier_fault_parse(arg));
    } else if (!strcmp(mode, "delay")) {
        kill_after_us = atol(arg);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, killer, NULL) == 0);
    }
    h5tier_archive_t *a = NULL;
    int rc = h5tier_archive_open(out, sp, 2, 0, &a);
    CHECKF(rc == 0, "open: %s (%s)", h5tier_strerror(rc), h5tier_errmsg());
    CHECK_OK(h5tier_archive_close(a));
    if (!strcmp(mode, "delay"))
        sleep(30); /* the kill comes */
    return 0;
}

static void ev_fill(ev_t *e, uint64_t first, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ev_make(&e[i], first + i);
}

static void make_golden(const char *path)
{
    h5tier_archive_stream_spec_t sp[2];
    specs(sp);
    h5tier_archive_t *a = NULL;
    CHECK_OK(h5tier_archive_open(path, sp, 1, H5TIER_ARCHIVE_CREATE | H5TIER_ARCHIVE_EXCL, &a));
    static ev_t e[A_RECORDS];
    ev_fill(e, 0, A_RECORDS);
    CHECK_OK(h5tier_archive_append(a, 0, 0, e, 2000));
    CHECK_OK(h5tier_archive_lost(a, 0, 2000, 2099));
    CHECK_OK(h5tier_archive_append(a, 0, 2100, e + 2100, A_RECORDS - 2100));
    CHECK_OK(h5tier_archive_close(a));
    H5Tclose(sp[0].type);
    CHECK(chmod(path, 0640) == 0);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECKF(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int tmps_of(const char *out)
{
    char res[256];
    CHECK(tu_sh(res, sizeof res, "ls -1 '%s'.tmp-* 2>/dev/null | wc -l", out) == 0);
    return atoi(res);
}

typedef struct run {
    char what[64];
    char out[4096];
    int old; /* bytes after the superblock unchanged */
} run_t;

static run_t runs[MAX_RUNS];
static int nruns;

/* copy the golden archive to a fresh OUT, run a child on it, classify */
static int one_run(const char *golden, const unsigned char *gold, size_t glen, const char *mode, const char *arg)
{
    CHECK(nruns < MAX_RUNS);
    run_t *r = &runs[nruns];
    snprintf(r->what, sizeof r->what, "%s %s", mode, arg);
    snprintf(r->out, sizeof r->out, "%s", tu_path("run.h5"));
    snprintf(r->out + strlen(r->out) - 3, 16, "%d.h5", nruns);
    CHECK(tu_sh(NULL, 0, "cp -p '%s' '%s'", golden, r->out) == 0);
    int st;
    if (!strcmp(mode, "strace")) {
        /* strace SIGKILLs the child on entering its Nth pwrite64, HDF5's
           included (LeakSanitizer cannot run under ptrace: off for it) */
        char exe[4096], res[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        CHECK(n > 0);
        exe[n] = 0;
        st = tu_sh(res, sizeof res, "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "
                   "strace -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:signal=KILL:when=%s "
                   "'%s' add '%s' plain -", arg, exe, r->out);
    } else {
        pid_t p = tu_spawn_self("add", r->out, mode, arg, NULL);
        st = tu_wait_timeout(p, 50);
    }
    CHECKF(st == 0 || st == 128 + SIGKILL, "%s: child ended with %d", r->what, st);
    size_t len;
    unsigned char *b = slurp(r->out, &len);
    r->old = len == glen && memcmp(b + SB_BYTES, gold + SB_BYTES, glen - SB_BYTES) == 0;
    free(b);
    if (!r->old) {
        struct stat s;
        CHECK(stat(r->out, &s) == 0);
        CHECKF((s.st_mode & 07777) == 0640, "%s: the new archive has mode %o, not 0640", r->what,
               (unsigned)(s.st_mode & 07777));
    }
    nruns++;
    return st;
}

int main(int argc, char **argv)
{
    if (argc > 4 && !strcmp(argv[1], "add"))
        return add_main(argv[2], argv[3], argv[4]);
    tu_h5_quiet();
    if (!tu_have_h5py())
        tu_skip("no h5py");
    if (tu_sh(NULL, 0, "command -v h5clear && command -v h5dump") != 0)
        tu_skip("no h5clear/h5dump");
    char golden[4096], probe[4096];
    snprintf(golden, sizeof golden, "%s", tu_path("golden.h5"));
    snprintf(probe, sizeof probe, "%s", tu_path("probe.h5"));
    make_golden(golden);
    size_t glen;
    unsigned char *gold = slurp(golden, &glen);

    /* how long a complete add takes here: the random kills spread over it */
    CHECK(tu_sh(NULL, 0, "cp -p '%s' '%s'", golden, probe) == 0);
    h5tier_archive_stream_spec_t sp[2];
    specs(sp);
    h5tier_archive_t *a = NULL;
    double t0 = tu_now();
    CHECK_OK(h5tier_archive_open(probe, sp, 2, 0, &a));
    double took = tu_now() - t0;
    CHECK_OK(h5tier_archive_close(a));

    /* the copy fails (no space): the error says so, nothing is left behind
       and the archive is unchanged */
    for (int fallback = 0; fallback < 2; fallback++) { /* in the kernel, then through pread/pwrite */
        CHECK(tu_sh(NULL, 0, "cp -p '%s' '%s'", golden, probe) == 0);
        if (fallback) {
            CHECK_OK(h5tier_fault_parse("copy_file_range:1:EXDEV:persist,pwrite:1:ENOSPC:persist"));
        } else {
            CHECK_OK(h5tier_fault_set("copy_file_range", 1, ENOSPC, H5TIER_FAULT_PERSIST));
        }
        int rc = h5tier_archive_open(probe, sp, 2, 0, &a);
        h5tier_fault_clear();
        CHECKF(rc == -ENOSPC && a == NULL && strstr(h5tier_errmsg(), "copy"), "a failing copy (fallback %d): %d (%s)",
               fallback, rc, h5tier_errmsg());
        CHECKF(tmps_of(probe) == 0, "a failed copy left a temporary file");
        size_t plen;
        unsigned char *pb = slurp(probe, &plen);
        CHECK(plen == glen && memcmp(pb, gold, glen) == 0);
        free(pb);
    }
    /* where the kernel cannot copy between the files, the buffered copy adds the stream
       (checked with the kill outcomes below) */
    CHECKF(one_run(golden, gold, glen, "fault", "copy_file_range:1:EXDEV:persist") == 0 && !runs[nruns - 1].old,
           "adding a stream through the buffered copy");

    /* sweep: a kill at the Nth call of each kind, N = 1, 2, ... until the
       open completes without reaching it */
    static const char *const calls[] = {"open",  "close",  "flock", "fstat",  "fchmod",         "pread",
                                        "pwrite", "fsync", "rename", "copy_file_range", "pread", "pwrite"};
    const size_t ncalls = sizeof calls / sizeof calls[0];
    int kills = 0;
    for (size_t c = 0; c < ncalls; c++) {
        for (int n = 1;; n++) {
            CHECKF(n <= 12, "%s: still killed at call %d", calls[c], n);
            char spec[96];
            /* the last two: the buffered copy, where copy_file_range cannot copy */
            snprintf(spec, sizeof spec, "%s%s:%d:0:kill", c + 2 >= ncalls ? "copy_file_range:1:EXDEV:persist," : "",
                     calls[c], n);
            int st = one_run(golden, gold, glen, "fault", spec);
            if (!strcmp(calls[c], "rename") && n == 1)
                CHECKF(st == 128 + SIGKILL && runs[nruns - 1].old && tmps_of(runs[nruns - 1].out) == 1,
                       "a kill at the first rename while adding a stream: child %d, old %d, %d temporary "
                       "files (the stream must be added to a copy that is renamed over the archive)",
                       st, runs[nruns - 1].old, tmps_of(runs[nruns - 1].out));
            if (st == 0)
                break;
            kills++;
        }
    }
    /* a kill at the Nth write of the process, HDF5's own writes included
       (they do not go through h5tier_sys): strace's syscall injection */
    if (tu_sh(NULL, 0, "strace -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:signal=KILL:when=1000 true") == 0) {
        for (int n = 1;; n++) {
            CHECKF(n <= 60, "still killed at pwrite %d", n);
            char when[16];
            snprintf(when, sizeof when, "%d", n);
            if (one_run(golden, gold, glen, "strace", when) == 0)
                break;
            kills++;
        }
    } else {
        tu_log("strace cannot trace here: HDF5's own writes are hit only by the random kills below");
    }
    /* real SIGKILLs at pseudo-random times across the open (and the close) */
    srand(4242);
    long span = (long)(took * 1.5e6) + 200;
    for (int i = 0; i < DELAY_RUNS; i++) {
        char us[32];
        snprintf(us, sizeof us, "%ld", rand() % span);
        one_run(golden, gold, glen, "delay", us);
        kills++;
    }

    /* every result: h5clear'd copy, h5py, h5dump */
    char listfile[4096];
    snprintf(listfile, sizeof listfile, "%s", tu_path("runs.txt"));
    FILE *lf = fopen(listfile, "w");
    CHECK(lf);
    int nold = 0;
    for (int i = 0; i < nruns; i++) {
        char chk[4200];
        snprintf(chk, sizeof chk, "%s.chk", runs[i].out);
        char res[4096];
        int st = tu_sh(res, sizeof res, "cp '%s' '%s' && h5clear -s --increment=0 '%s' && h5dump -H '%s' >/dev/null",
                       runs[i].out, chk, chk, chk);
        CHECKF(st == 0, "%s: h5clear/h5dump of the archive after the kill failed (%.300s)", runs[i].what, res);
        fprintf(lf, "%d %s\n", runs[i].old, chk);
        nold += runs[i].old;
    }
    CHECK(fclose(lf) == 0);
    char res[16384];
    int st = tu_sh(res, sizeof res,
                   "%s - '%s' <<'EOF'\n"
                   "import sys, h5py, numpy as np\n"
                   "runs = [l.rstrip('\\n').split(' ', 1) for l in open(sys.argv[1])]\n"
                   "bad = 0\n"
                   "for old, path in runs:\n"
                   "    try:\n"
                   "        f = h5py.File(path, 'r')\n"
                   "        seq = f['/.h5tier/events/seq'][:]\n"
                   "        d = f['events'][:len(seq)].view(np.uint8).reshape(len(seq), -1).view('<u8')\n"
                   "        want = np.r_[np.arange(2000), np.arange(2100, %u)]\n"
                   "        assert len(seq) == len(want) and (seq == want).all(), 'A seq'\n"
                   "        assert (d[:, 0] == seq).all() and (np.bitwise_xor.reduce(d[:, :7], axis=1) == d[:, 7]).all(), 'A records'\n"
                   "        lost = f['/.h5tier/events/lost'][:]\n"
                   "        assert len(lost) == 1 and lost['first'][0] == 2000 and lost['last'][0] == 2099, 'A lost'\n"
                   "        b = [n in f for n in ('more/events_b', '.h5tier/more/events_b/seq', '.h5tier/more/events_b/lost')]\n"
                   "        if old == '1':\n"
                   "            assert not any(b) and 'more' not in f, 'old archive with parts of B'\n"
                   "        else:\n"
                   "            assert all(b), 'new archive without a complete B: %%s' %% b\n"
                   "            assert f['more/events_b'].shape == (0,) and f['/.h5tier/more/events_b/seq'].shape == (0,), 'B not empty'\n"
                   "            assert f['more/events_b'].dtype == f['events'].dtype, 'B type'\n"
                   "    except Exception as e:\n"
                   "        print('BAD', path, type(e).__name__, e)\n"
                   "        bad += 1\n"
                   "print('checked', len(runs), 'bad', bad)\n"
                   "sys.exit(1 if bad else 0)\n"
                   "EOF\n",
                   tu_python(), listfile, A_RECORDS);
    CHECKF(st == 0, "h5py: %s", res);
    tu_log("%d kills (%d runs): %d left the old archive, %d the new one; add took %.1f ms here", kills, nruns,
           nold, nruns - nold, took * 1e3);
    CHECKF(nold > 0 && nold < nruns, "the kills should leave both outcomes (%d of %d old)", nold, nruns);

    /* the next archiver opens every outcome (repairing the flags a killed
       writer leaves), adds B where it is missing and removes the leftovers */
    const char *out = NULL;
    for (int i = 0; i < nruns; i++) {
        int left = tmps_of(runs[i].out);
        int rc = h5tier_archive_open(runs[i].out, sp, 2, 0, &a);
        CHECKF(rc == 0, "%s: the next open failed: %s (%s)", runs[i].what, h5tier_strerror(rc), h5tier_errmsg());
        CHECK_OK(h5tier_archive_close(a));
        CHECKF(tmps_of(runs[i].out) == 0, "%s: %d temporary files left after a successful open", runs[i].what,
               tmps_of(runs[i].out));
        if (!out && runs[i].old && left > 0)
            out = runs[i].out;
    }
    CHECKF(out, "no run left a temporary file");
    /* and both streams archive records */
    CHECK_OK(h5tier_archive_open(out, sp, 2, 0, &a));
    static ev_t e[200];
    ev_fill(e, A_RECORDS, 200);
    CHECK_OK(h5tier_archive_append(a, 0, A_RECORDS, e, 200));
    ev_fill(e, 0, 150);
    CHECK_OK(h5tier_archive_append(a, 1, 0, e, 150));
    CHECK_OK(h5tier_archive_close(a));
    /* reopening with streams that all exist copies nothing */
    h5tier_fault_count_start();
    CHECK_OK(h5tier_archive_open(out, sp, 2, 0, &a));
    CHECKF(h5tier_fault_calls("rename") == 0 && h5tier_fault_calls("pwrite") == 0,
           "opening an archive whose streams exist renamed %ld / wrote %ld times", h5tier_fault_calls("rename"),
           h5tier_fault_calls("pwrite"));
    h5tier_fault_clear();
    CHECK_OK(h5tier_archive_close(a));
    CHECKF(tmps_of(out) == 0, "a temporary file after reopening");
    char r1[2048], r2[2048];
    st = ev_pycheck(out, "/events", r1, sizeof r1);
    CHECKF(st == 0 && strstr(r1, "count=3100 first=0 last=3199 gaps=1 lost=1 lostrec=100"), "A: %s", r1);
    st = ev_pycheck(out, "/more/events_b", r2, sizeof r2);
    CHECKF(st == 0 && strstr(r2, "count=150 first=0 last=149 gaps=0 lost=0"), "B: %s", r2);
    free(gold);
    H5Tclose(sp[0].type);
    return 0;
}
