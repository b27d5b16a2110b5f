/*
 * test_ring_continuity_concurrent -- proves the ring's core promise across
 * processes: a writer process putting records (single puts, batches and
 * claim/commit, chosen at random) and, at the same time, a tethered
 * (lossless) reader process that sees EVERY record exactly once and in
 * order, plus a lossy reader process that sees strictly increasing sequence
 * numbers whose gaps add up exactly to the loss it reports.  Every record
 * carries its sequence number and a checksum: no reader ever returns a torn
 * record.  Record types/sizes vary: 6 B, 8 B, 16 B compound, 100 B, 24 B,
 * 4 KiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5tier_ring.h"
#include "ring/payload.h"
#include "tutil.h"
#include "ring_read_random.h"

static int run_writer(const char *name, uint64_t count, unsigned seed)
{
    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    wo.tether_timeout_ms = 30000;
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
    size_t rs = h5tier_ring_record_size(w, 0);
    char *buf = malloc(rs * 64);
    srand(seed);
    uint64_t seq = h5tier_ring_tail(w, 0);
    CHECK(seq == 0);
    while (seq < count) {
        int how = rand() % 4;
        if (how == 0) {
            uint64_t n = 1 + (uint64_t)(rand() % 64);
            if (n > count - seq)
                n = count - seq;
            for (uint64_t k = 0; k < n; k++)
                ring_payload_fill(buf + k * rs, rs, seq + k);
            CHECK_OK(h5tier_ring_put_many(w, 0, buf, (size_t)n, rs));
            seq += n;
        } else if (how == 1) {
            void *slot;
            uint64_t s;
            CHECK_OK(h5tier_ring_claim(w, 0, &slot, &s));
            CHECK(s == seq);
            ring_payload_fill(slot, rs, seq);
            CHECK_OK(h5tier_ring_commit(w, 0));
            seq++;
        } else {
            ring_payload_fill(buf, rs, seq);
            CHECK_OK(h5tier_ring_put(w, 0, buf, rs));
            seq++;
        }
        CHECK(h5tier_ring_tail(w, 0) == seq);
    }
    free(buf);
    h5tier_ring_close(w);
    return 0;
}

static int run_reader(const char *name, const char *mode, uint64_t count, unsigned seed)
{
    int tethered = !strcmp(mode, "tethered");
    uint64_t start;
    h5tier_ring_reader_t *r = tr_open_random(name, "cont", tethered, seed, &start);
    h5tier_ring_reader_stats_t st;
    size_t rs = h5tier_ring_reader_record_size(r);
    char *buf = malloc(rs * 32);
    uint64_t expect = start, seen = 0, gaps = 0;
    while (expect < count) {
        uint64_t first;
        long n = tr_read_random(r, buf, rs, mode, tethered, expect, &first);
        if (n == 0)
            continue;
        gaps += first - expect;
        for (long k = 0; k < n; k++) {
            uint64_t s = first + (uint64_t)k;
            CHECKF(ring_payload_check(buf + (size_t)k * rs, rs, &s) && s == first + (uint64_t)k,
                   "%s reader: torn or wrong record at seq %" PRIu64 " (carries %" PRIu64 ", %zu B)", mode,
                   first + (uint64_t)k, s, rs);
        }
        expect = first + (uint64_t)n;
        seen += (uint64_t)n;
        {
            h5tier_ring_reader_stats_t st0;
            h5tier_ring_reader_stats(r, &st0);
            CHECKF(st0.lost == gaps, "lost %" PRIu64 ", gaps %" PRIu64 " (first %" PRIu64 ", n %ld)", st0.lost, gaps,
                   first, n);
        }
    }
    h5tier_ring_reader_stats(r, &st);
    CHECKF(st.lost == gaps, "%s: reported lost %" PRIu64 " but gaps sum to %" PRIu64, mode, st.lost, gaps);
    CHECKF(st.records == seen, "%s: records %" PRIu64 " vs %" PRIu64, mode, st.records, seen);
    CHECK(seen + gaps == count - start);
    if (tethered)
        CHECK(gaps == 0 && st.laps == 0);
    printf("%s: %" PRIu64 " records, %" PRIu64 " lost, %" PRIu64 " laps\n", mode, seen, st.lost, st.laps);
    free(buf);
    h5tier_ring_reader_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "writer"))
        return run_writer(argv[2], strtoull(argv[3], NULL, 10), (unsigned)atoi(argv[4]));
    if (argc >= 6 && !strcmp(argv[1], "reader"))
        return run_reader(argv[2], argv[3], strtoull(argv[4], NULL, 10), (unsigned)atoi(argv[5]));

    static const struct {
        const char *dtype;
        uint64_t capacity, count;
    } cfg[] = {
        {"u2[3]", 64, 60000},          {"u8", 256, 100000},      {"{seq:u8,ts:f8}", 1024, 100000},
        {"u1[100]", 128, 40000},       {"u8[3]", 16, 40000},     {"u1[4096]", 64, 8000},
    };
    unsigned seed = (unsigned)tu_now();
    tu_log("seed %u", seed);
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        char *name = tu_shm_name("cont");
        h5tier_ring_stream_spec_t s;
        CHECK_OK(h5tier_ring_stream_from_dtype(&s, "data", cfg[c].dtype, cfg[c].capacity));
        CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
        h5tier_ring_stream_spec_free(&s);
        /* register the tether before the writer starts, then hand it to the reader process */
        h5tier_ring_reader_opts_t ro;
        h5tier_ring_reader_opts_init(&ro);
        ro.tether = "cont";
        h5tier_ring_reader_t *r;
        CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
        h5tier_ring_reader_close(r);

        char cnt[32], sd[32], sd2[32], sd3[32];
        snprintf(cnt, sizeof cnt, "%" PRIu64, cfg[c].count);
        snprintf(sd, sizeof sd, "%u", seed + (unsigned)c);
        snprintf(sd2, sizeof sd2, "%u", seed * 3 + (unsigned)c);
        snprintf(sd3, sizeof sd3, "%u", seed * 7 + (unsigned)c);
        pid_t rt = tu_spawn_self("reader", name, "tethered", cnt, sd2, NULL);
        pid_t rl = tu_spawn_self("reader", name, "lossy", cnt, sd3, NULL);
        pid_t w = tu_spawn_self("writer", name, cnt, sd, NULL);
        int sw = tu_wait_timeout(w, 120), st = tu_wait_timeout(rt, 120), sl = tu_wait_timeout(rl, 120);
        CHECKF(sw == 0 && st == 0 && sl == 0, "%s: writer %d, tethered %d, lossy %d", cfg[c].dtype, sw, st, sl);
        h5tier_ring_info_t info;
        h5tier_ring_stream_info_t si;
        CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
        CHECK(si.tail == cfg[c].count && si.ntethers == 1 && si.tethers[0].position == cfg[c].count);
        CHECK_OK(h5tier_ring_remove(name, 0));
        tu_log("%s x %" PRIu64 ": ok", cfg[c].dtype, cfg[c].count);
        free(name);
    }
    return 0;
}
