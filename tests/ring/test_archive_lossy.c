/*
 * Proves lossy archiving records exactly what it lost.  (1) Deterministic:
 * after 100 records are archived, the writer puts 1000 more into a ring of
 * 256 slots; the next run finds records 100..843 gone and records the lost
 * range [100, 843] before archiving 844..1099.  (2) A writer process puts
 * 400 000 self-checking records as fast as it can into the 256-slot ring
 * while a lossy archiver follows (so it is lapped whenever the scheduler
 * lets the writer run ahead).  h5py then checks that every archived record
 * is intact (never torn), sequence numbers only grow, the lost ranges are
 * exactly the gaps in the sequence, and records + lost cover 0 .. N-1
 * without overlap.  (3) Lossy archivers SIGKILLed four times while a paced
 * writer runs, then restarted: still no duplicate and every gap is a
 * recorded lost range.  How much is lost depends on timing; the
 * consistency must not.
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "h5tier_archive.h"
#include "h5tier_ring.h"
#include "test_archive_common.h"

#define N_FAST 400000ull
#define N_PACED 200000ull

static void put_range(const char *name, uint64_t from, uint64_t n)
{
    h5tier_ring_t *w = NULL;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    ev_t b[64];
    for (uint64_t s = from; s < from + n;) {
        size_t k = from + n - s < 64 ? (size_t)(from + n - s) : 64;
        for (size_t i = 0; i < k; i++)
            ev_make(&b[i], s + i);
        CHECK_OK(h5tier_ring_put_many(w, 0, b, k, sizeof(ev_t)));
        s += k;
    }
    h5tier_ring_close(w);
}

static int archive(const char *name, const char *out, uint64_t count, double idle, h5tier_archiver_stats_t *st)
{
    h5tier_archiver_opts_t o;
    h5tier_archiver_opts_init(&o);
    o.count = count;
    o.idle_timeout_s = idle;
    return h5tier_archive_ring(name, out, &o, st);
}

/* ~100 k records/s, so that archivers killed and restarted find some records gone */
static void put_paced(const char *name, uint64_t from, uint64_t n)
{
    h5tier_ring_t *w = NULL;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    ev_t b[100];
    for (uint64_t s = from; s < from + n; s += 100) {
        for (size_t i = 0; i < 100; i++)
            ev_make(&b[i], s + i);
        CHECK_OK(h5tier_ring_put_many(w, 0, b, 100, sizeof(ev_t)));
        usleep(1000);
    }
    h5tier_ring_close(w);
}

/* h5py: seq strictly increasing from 0 to n-1, the lost ranges are exactly
 * the gaps, records + lost cover 0 .. n-1 without overlap. */
static int consistent(const char *out, unsigned long long n, char *res, size_t len)
{
    return tu_sh(res, len,
               "%s - '%s' %llu <<'EOF'\n"
               "import sys, h5py, numpy as np\n"
               "f = h5py.File(sys.argv[1], 'r')\n"
               "last = int(sys.argv[2]) - 1\n"
               "seq = f['/.h5tier/events/seq'][:].astype(np.int64)\n"
               "lost = f['/.h5tier/events/lost'][:]\n"
               "assert (np.diff(seq) > 0).all(), 'seq not strictly increasing (a duplicate?)'\n"
               "gi = np.nonzero(np.diff(seq) != 1)[0]\n"
               "gaps = [(int(seq[i]) + 1, int(seq[i + 1]) - 1) for i in gi]\n"
               "ranges = [(int(a), int(b)) for a, b in lost]\n"
               "assert gaps == ranges, (gaps[:5], ranges[:5])\n"
               "assert seq[0] == 0 and seq[-1] == last, (seq[0], seq[-1], last)\n"
               "covered = len(seq) + sum(b - a + 1 for a, b in ranges)\n"
               "assert covered == last + 1, (covered, last + 1)\n"
               "print('ok', len(seq), len(ranges))\n"
               "EOF\n",
               tu_python(), out, n);
}

int main(int argc, char **argv)
{
    if (argc > 3 && !strcmp(argv[1], "writer")) {
        put_range(argv[2], strtoull(argv[3], NULL, 10), N_FAST);
        return 0;
    }
    if (argc > 3 && !strcmp(argv[1], "paced")) {
        put_paced(argv[2], strtoull(argv[3], NULL, 10), N_PACED);
        return 0;
    }
    if (argc > 4 && !strcmp(argv[1], "archiver")) {
        h5tier_archiver_stats_t st;
        int rc = archive(argv[2], argv[3], 0, atof(argv[4]), &st);
        CHECKF(rc == 0, "archiver: %s", h5tier_errmsg());
        return 0;
    }
    tu_h5_quiet();
    if (!tu_have_h5py())
        tu_skip("no h5py");
    char *name = tu_shm_name("arlossy");
    const char *out = tu_path("lossy.h5");
    ev_ring_create(name, 256);

    /* (1) a deterministic gap */
    h5tier_archiver_stats_t st;
    put_range(name, 0, 100);
    CHECK_OK(archive(name, out, 100, 3, &st));
    CHECK(st.records == 100 && st.lost_records == 0);
    put_range(name, 100, 1000);
    CHECK_OK(archive(name, out, 256, 3, &st));
    CHECKF(st.records == 256 && st.lost_records == 744 && st.lost_ranges == 1, "%llu records, %llu lost",
           (unsigned long long)st.records, (unsigned long long)st.lost_records);
    char res[8192];
    int rc = ev_pycheck(out, "/events", res, sizeof res);
    CHECKF(rc == 0 && strstr(res, "count=356 first=0 last=1099 gaps=1 lost=1 lostrec=744"), "%s", res);

    /* (2) a writer faster than the archiver */
    pid_t w = tu_spawn_self("writer", name, "1100", NULL);
    rc = archive(name, out, 0, 1.0, &st);
    CHECKF(rc == 0, "archiver: %s", h5tier_errmsg());
    int ws = tu_wait_timeout(w, 50);
    CHECKF(ws == 0, "writer: %d", ws);
    tu_log("fast writer: archived %llu, lost %llu in %llu ranges", (unsigned long long)st.records,
           (unsigned long long)st.lost_records, (unsigned long long)st.lost_ranges);
    rc = ev_pycheck(out, "/events", res, sizeof res);
    CHECKF(rc == 0, "%s", res);
    rc = consistent(out, 1100 + N_FAST, res, sizeof res);
    CHECKF(rc == 0 && strstr(res, "ok"), "lost ranges vs gaps: %s", res);
    tu_log("%s", res);

    /* (3) lossy archivers SIGKILLed while a paced writer runs: still no
       duplicate, and every gap is a recorded lost range */
    uint64_t base = 1100 + N_FAST;
    char bs[32];
    snprintf(bs, sizeof bs, "%llu", (unsigned long long)base);
    w = tu_spawn_self("paced", name, bs, NULL);
    srand(99);
    for (int round = 0; round < 4; round++) {
        pid_t a = tu_spawn_self("archiver", name, out, "60", NULL);
        usleep((useconds_t)(100000 + rand() % 300000));
        kill(a, SIGKILL);
        CHECK(tu_wait(a) == 128 + SIGKILL);
        usleep(20000); /* let the writer move on: records may be gone */
    }
    pid_t a = tu_spawn_self("archiver", name, out, "1.0", NULL);
    CHECKF(tu_wait_timeout(w, 50) == 0, "paced writer");
    CHECKF(tu_wait_timeout(a, 30) == 0, "final lossy archiver");
    rc = ev_pycheck(out, "/events", res, sizeof res);
    CHECKF(rc == 0, "%s", res);
    rc = consistent(out, base + N_PACED, res, sizeof res);
    CHECKF(rc == 0 && strstr(res, "ok"), "after kills: lost ranges vs gaps: %s", res);
    tu_log("%s", res);
    free(name);
    return 0;
}
