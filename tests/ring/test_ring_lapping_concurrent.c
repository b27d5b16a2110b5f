/*
 * test_ring_lapping_concurrent -- proves what happens to a reader the writer
 * laps: (1) deterministically, a reader that read one record and then slept
 * while a writer process wrote 200 laps resumes at the oldest record with
 * its loss counted exactly (= the records it missed), (2) with
 * H5TIER_RING_REPORT_LAPS it gets -H5TIER_ELAPPED once with the count in
 * the message, (3) a zero-copy view whose records were overwritten during
 * use is reported -H5TIER_ELAPPED at view_done, (4) a deliberately slow
 * reader following a running writer process is lapped many times, never
 * returns a torn record, and its reported loss equals the gaps it saw.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "ring/payload.h"
#include "tutil.h"

#define CAP 64
#define RS 40

static int run_writer(const char *name, uint64_t count, int slow)
{
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    char buf[RS * 16];
    uint64_t seq = h5tier_ring_tail(w, 0), end = seq + count;
    while (seq < end) {
        uint64_t n = 1 + seq % 16;
        if (n > end - seq)
            n = end - seq;
        for (uint64_t k = 0; k < n; k++)
            ring_payload_fill(buf + k * RS, RS, seq + k);
        CHECK_OK(h5tier_ring_put_many(w, 0, buf, (size_t)n, RS));
        seq += n;
        if (slow && seq % 512 < 16)
            usleep(200);
    }
    h5tier_ring_close(w);
    return 0;
}

static void read_check(h5tier_ring_reader_t *r, uint64_t want_seq)
{
    char buf[RS];
    uint64_t seq;
    CHECK_OK(h5tier_ring_next(r, buf, sizeof buf, &seq, 10000));
    uint64_t s2 = seq;
    CHECKF(seq == want_seq, "got %" PRIu64 ", want %" PRIu64, seq, want_seq);
    CHECK(ring_payload_check(buf, RS, &s2) && s2 == seq);
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "writer"))
        return run_writer(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]));

    char *name = tu_shm_name("lap");
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "u1[40]", CAP));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
    h5tier_ring_stream_spec_free(&s);

    /* 1-3: deterministic laps */
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    char buf[RS];
    for (uint64_t i = 0; i < 10; i++) {
        ring_payload_fill(buf, RS, i);
        CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
    }
    h5tier_ring_close(w);
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    h5tier_ring_reader_t *a, *b, *v;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &a));
    ro.flags = H5TIER_RING_REPORT_LAPS;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &b));
    h5tier_ring_reader_opts_init(&ro);
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &v));
    read_check(a, 0);
    read_check(b, 0);
    const void *view;
    uint64_t vfirst;
    CHECK(h5tier_ring_view(v, &view, 4, &vfirst, 0) == 4 && vfirst == 0);

    const uint64_t N = 200 * CAP;
    pid_t wp = tu_spawn_self("writer", name, "12800", "0", NULL);
    CHECK(tu_wait_timeout(wp, 60) == 0);
    uint64_t tail = 10 + N, oldest = tail - CAP;

    read_check(a, oldest); /* resynced to the oldest valid record */
    h5tier_ring_reader_stats_t st;
    h5tier_ring_reader_stats(a, &st);
    CHECKF(st.lost == oldest - 1 && st.laps == 1, "lost %" PRIu64 " laps %" PRIu64, st.lost, st.laps);
    for (uint64_t q = oldest + 1; q < tail; q++)
        read_check(a, q);
    CHECK(h5tier_ring_next(a, buf, RS, NULL, 0) == -EAGAIN);

    uint64_t seq;
    int rc = h5tier_ring_next(b, buf, RS, &seq, 0);
    CHECKF(rc == -H5TIER_ELAPPED, "REPORT_LAPS reader got %d", rc);
    char expect_msg[64];
    snprintf(expect_msg, sizeof expect_msg, "%" PRIu64 " records lost", oldest - 1);
    CHECKF(strstr(h5tier_errmsg(), expect_msg), "errmsg: %s", h5tier_errmsg());
    read_check(b, oldest);

    rc = h5tier_ring_view_done(v);
    CHECKF(rc == -H5TIER_ELAPPED, "view over overwritten records: %d", rc);
    read_check(v, oldest);
    h5tier_ring_reader_stats(v, &st);
    CHECK(st.lost == oldest && st.records == 1);

    /* a seq that is gone */
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_SEQ;
    ro.seq = oldest - 1;
    h5tier_ring_reader_t *g;
    CHECK(h5tier_ring_reader_open(name, NULL, &ro, &g) == -H5TIER_EGONE);
    CHECKF(strstr(h5tier_errmsg(), "is gone"), "errmsg: %s", h5tier_errmsg());
    ro.seq = oldest;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &g));
    read_check(g, oldest);
    h5tier_ring_reader_close(g);

    /* 4: a slow reader following a live writer */
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_LATEST;
    h5tier_ring_reader_t *slow;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &slow));
    const uint64_t M = 60000;
    uint64_t start = tail, end = tail + M;
    wp = tu_spawn_self("writer", name, "60000", "1", NULL);
    uint64_t expect = start, gaps = 0, seen = 0;
    while (expect < end) {
        char many[RS * 8];
        uint64_t first;
        long n = h5tier_ring_next_many(slow, many, 8, sizeof many, &first, 20000);
        CHECKF(n > 0, "slow reader: %ld (%s)", n, h5tier_errmsg());
        CHECK(first >= expect);
        gaps += first - expect;
        for (long k = 0; k < n; k++) {
            uint64_t s2 = first + (uint64_t)k;
            CHECKF(ring_payload_check(many + k * RS, RS, &s2) && s2 == first + (uint64_t)k, "torn record %" PRIu64,
                   first + (uint64_t)k);
        }
        expect = first + (uint64_t)n;
        seen += (uint64_t)n;
        if (seen % 64 < (uint64_t)n)
            usleep(100); /* deliberately slow */
    }
    CHECK(tu_wait_timeout(wp, 60) == 0);
    h5tier_ring_reader_stats(slow, &st);
    CHECKF(st.lost == gaps && seen + gaps == M, "lost %" PRIu64 " gaps %" PRIu64 " seen %" PRIu64, st.lost, gaps, seen);
    tu_log("slow reader: %" PRIu64 " records, %" PRIu64 " lost in %" PRIu64 " laps", seen, st.lost, st.laps);

    h5tier_ring_reader_close(a);
    h5tier_ring_reader_close(b);
    h5tier_ring_reader_close(v);
    h5tier_ring_reader_close(slow);
    CHECK_OK(h5tier_ring_remove(name, 0));
    free(name);
    return 0;
}
