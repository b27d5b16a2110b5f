/*
 * Proves the lossless archiver survives being killed: a writer process puts
 * 300 000 self-checking 64 B events into a ring of 8192 slots while a
 * lossless archiver process (a tethered reader) is SIGKILLed at random
 * points 15 times and restarted each time (the kills land in the archive's
 * creation, in chunk writes, in flushes, in tether releases).  The writer
 * waits for the dead archiver through the tether instead of overwriting.
 * At the end h5py finds every record exactly once, in order (seq ==
 * arange(N)), every checksum valid, no lost range; the writer never timed
 * out.  The kill points vary with timing; the outcome must not.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5tier_archive.h"
#include "h5tier_ring.h"
#include "test_archive_common.h"

#define N_RECORDS 300000ull
#define ROUNDS 15

static int writer_main(const char *name)
{
    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    wo.tether_timeout_ms = 30000;
    h5tier_ring_t *w = NULL;
    CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
    ev_t batch[256];
    uint64_t seq = 0;
    srand(7);
    while (seq < N_RECORDS) {
        size_t n = 1 + (size_t)(rand() % 200);
        if (n > N_RECORDS - seq)
            n = (size_t)(N_RECORDS - seq);
        for (size_t i = 0; i < n; i++)
            ev_make(&batch[i], seq + i);
        int rc = h5tier_ring_put_many(w, 0, batch, n, sizeof(ev_t));
        CHECKF(rc == 0, "put at %llu: %s (%s)", (unsigned long long)seq, h5tier_strerror(rc), h5tier_errmsg());
        seq += n;
        usleep(1000); /* ~100 k records/s: the kills land while records flow */
    }
    h5tier_ring_close(w);
    return 0;
}

static int archiver_main(const char *name, const char *out, const char *idle)
{
    h5tier_archiver_opts_t o;
    h5tier_archiver_opts_init(&o);
    o.lossless = 1;
    o.idle_timeout_s = atof(idle);
    o.flush_interval_s = 0.05;
    h5tier_archiver_stats_t st;
    int rc = h5tier_archive_ring(name, out, &o, &st);
    CHECKF(rc == 0, "archiver: %s (%s)", h5tier_strerror(rc), h5tier_errmsg());
    tu_log("final archiver: %llu records from %llu, lost %llu", (unsigned long long)st.records,
           (unsigned long long)st.first_seq, (unsigned long long)st.lost_records);
    return 0;
}

static int tethers(const char *name, uint64_t *tail, uint64_t *tpos)
{
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    if (h5tier_ring_info(name, &info, &si, 1) < 0)
        return 0;
    *tail = si.tail;
    *tpos = si.ntethers ? si.tethers[0].position : 0;
    return (int)si.ntethers;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "writer"))
        return writer_main(argv[2]);
    if (argc > 4 && !strcmp(argv[1], "archiver"))
        return archiver_main(argv[2], argv[3], argv[4]);
    tu_h5_quiet();
    if (!tu_have_h5py())
        tu_skip("no h5py");
    char *name = tu_shm_name("arkill");
    const char *out = tu_path("kill.h5");
    ev_ring_create(name, 8192);

    srand(12345);
    pid_t writer = -1;
    int mid = 0; /* kills while the writer was still writing (for the log) */
    for (int round = 0; round < ROUNDS; round++) {
        pid_t arch = tu_spawn_self("archiver", name, out, "60", NULL);
        if (writer < 0) {
            /* the tether must exist before the first record is put */
            double t0 = tu_now();
            uint64_t tl, tp;
            while (tethers(name, &tl, &tp) == 0 && tu_now() - t0 < 20)
                usleep(2000);
            CHECK(tethers(name, &tl, &tp) == 1);
            writer = tu_spawn_self("writer", name, NULL);
        }
        usleep((useconds_t)(20000 + rand() % 300000));
        kill(arch, SIGKILL);
        int st = tu_wait(arch);
        uint64_t tl = 0, tp = 0;
        tethers(name, &tl, &tp);
        tu_log("round %d: killed with the ring at %llu, tether at %llu", round, (unsigned long long)tl,
               (unsigned long long)tp);
        if (tl > 0 && tl < N_RECORDS)
            mid++;
        CHECKF(st == 128 + SIGKILL, "archiver round %d ended with %d before the kill", round, st);
    }
    /* the last archiver runs until the writer is done and the ring is drained */
    pid_t arch = tu_spawn_self("archiver", name, out, "1.5", NULL);
    int wst = tu_wait_timeout(writer, 55);
    CHECKF(wst == 0, "writer exited with %d", wst);
    int ast = tu_wait_timeout(arch, 30);
    CHECKF(ast == 0, "final archiver exited with %d", ast);

    char res[4096];
    int st = ev_pycheck(out, "/events", res, sizeof res);
    CHECKF(st == 0, "h5py check: %s", res);
    char want[256];
    snprintf(want, sizeof want, "count=%llu first=0 last=%llu gaps=0 lost=0 lostrec=0", N_RECORDS, N_RECORDS - 1);
    CHECKF(strstr(res, want), "archive: %s (want %s)", res, want);
    tu_log("%s; %d of %d kills while records flowed", res, mid, ROUNDS);
    free(name);
    return 0;
}
