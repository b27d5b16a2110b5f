/*
 * test_ring_claim_concurrent -- proves the zero-copy batch claim
 * (h5tier_ring_claim_many / h5tier_ring_commit_many):
 *  - single process, deterministic: a claimed run stops at the end of the
 *    data area (slots contiguous, the next run starts at slot 0) and at what
 *    a tethered reader allows; every -EINVAL case (bad stream, max 0, no slot
 *    pointer, a claim already pending blocks put/put_many/claim, commit
 *    without a claim, commit of 0 or of more than claimed, the claim staying
 *    pending after a bad commit); committing fewer than claimed releases the
 *    rest (tail stops there, tail_intent stays ahead and never goes back, the
 *    next claim reuses the sequence numbers and slots; closing the writer
 *    releases a pending claim the same way; h5tier_ring_cancel publishes
 *    nothing and gives the run back); a reader that copies
 *    slots under a pending or released claim is lapped to the right record
 *    and never gets a torn or foreign record; the tether timeout fails
 *    claim_many with -ETIMEDOUT and put's message;
 *  - across processes: a writer claims batches of random size (1..64) on a
 *    64 x 40 B ring (runs wrap often), fills them in place, sometimes commits
 *    fewer than claimed (scribbling wrong records into the released slots)
 *    or cancels the claim (h5tier_ring_cancel, the run scribbled),
 *    while a tethered reader sees every record exactly once and in order and
 *    lossy readers see increasing sequence numbers, intact records only, and
 *    lost counts equal to the gaps; then again without the tether, where the
 *    writer laps the lossy readers freely.
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

#define RS 40u  /* record size */
#define CAP 64u /* capacity */

static char *make_ring(const char *tag)
{
    char *name = tu_shm_name(tag);
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "data", "u1[40]", CAP));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
    h5tier_ring_stream_spec_free(&s);
    return name;
}

static uint64_t intent_of(const char *name)
{
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    return si.tail_intent;
}

static void fill_run(void *slots, uint64_t first, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++)
        ring_payload_fill((char *)slots + k * RS, RS, first + k);
}

/* Read one record with a lossy reader (no wait); check it is intact and carries its seq. */
static int read_one(h5tier_ring_reader_t *r, uint64_t *seq)
{
    char buf[RS];
    int rc = h5tier_ring_next(r, buf, sizeof buf, seq, 0);
    if (rc == 0) {
        uint64_t carried = 0;
        CHECKF(ring_payload_check(buf, RS, &carried) && carried == *seq,
               "torn or foreign record at seq %" PRIu64 " (carries %" PRIu64 ")", *seq, carried);
    }
    return rc;
}

static void deterministic(void)
{
    char *name = make_ring("claim1");
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    void *base, *p;
    uint64_t seq;

    /* argument errors, nothing claimed */
    CHECK(h5tier_ring_claim_many(w, -1, 4, &p, &seq) == -EINVAL);
    CHECK(h5tier_ring_claim_many(w, 1, 4, &p, &seq) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "out of range"), "%s", h5tier_errmsg());
    CHECK(h5tier_ring_claim_many(w, 0, 0, &p, &seq) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "0 records"), "%s", h5tier_errmsg());
    CHECK(h5tier_ring_claim_many(w, 0, 4, NULL, &seq) == -EINVAL);
    CHECK(h5tier_ring_commit_many(w, 0, 1) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "without a claim"), "%s", h5tier_errmsg());
    CHECK(h5tier_ring_commit(w, 0) == -EINVAL);
    CHECK(h5tier_ring_commit_many(w, 3, 1) == -EINVAL);
    CHECK(h5tier_ring_tail(w, 0) == 0 && intent_of(name) == 0);

    /* more than the capacity: the whole ring, from slot 0 */
    CHECK(h5tier_ring_claim_many(w, 0, 1000, &base, &seq) == (long)CAP && seq == 0);
    CHECK(intent_of(name) == CAP);
    /* pending: every other write of the stream and bad commits fail, the claim stays */
    char rec[RS];
    ring_payload_fill(rec, RS, 0);
    CHECK(h5tier_ring_put(w, 0, rec, RS) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "not committed"), "%s", h5tier_errmsg());
    CHECK(h5tier_ring_put_many(w, 0, rec, 1, RS) == -EINVAL);
    CHECK(h5tier_ring_claim(w, 0, &p, &seq) == -EINVAL);
    CHECK(h5tier_ring_claim_many(w, 0, 1, &p, &seq) == -EINVAL);
    CHECK(h5tier_ring_commit_many(w, 0, 0) == -EINVAL);
    CHECK(h5tier_ring_commit_many(w, 0, CAP + 1) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "64 are claimed"), "%s", h5tier_errmsg());
    CHECK(h5tier_ring_tail(w, 0) == 0);
    /* fill 5, release the other 59 */
    fill_run(base, 0, 5);
    memset((char *)base + 5 * RS, 0xab, (CAP - 5) * RS);
    CHECK_OK(h5tier_ring_commit_many(w, 0, 5));
    CHECK(h5tier_ring_tail(w, 0) == 5 && intent_of(name) == CAP);
    CHECK(h5tier_ring_commit_many(w, 0, 1) == -EINVAL); /* nothing claimed any more */

    /* a reader from the oldest gets 0..4 and nothing of the released run */
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    for (uint64_t i = 0; i < 5; i++) {
        CHECK_OK(read_one(r, &seq));
        CHECK(seq == i);
    }
    CHECK(read_one(r, &seq) == -EAGAIN);

    /* the next claim reuses seq 5 and slot 5, and stops at the end of the data area */
    CHECK(h5tier_ring_claim_many(w, 0, 64, &p, &seq) == (long)(CAP - 5) && seq == 5);
    CHECK((char *)p == (char *)base + 5 * RS);
    CHECK(intent_of(name) == CAP); /* already covered */
    fill_run(p, 5, CAP - 5);
    CHECK_OK(h5tier_ring_commit(w, 0)); /* commit = everything claimed */
    CHECK(h5tier_ring_tail(w, 0) == CAP);
    /* the next run starts at slot 0 */
    CHECK(h5tier_ring_claim_many(w, 0, 3, &p, &seq) == 3 && seq == CAP && p == base);
    CHECK(intent_of(name) == CAP + 3);
    fill_run(p, CAP, 3);
    CHECK_OK(h5tier_ring_commit_many(w, 0, 3));
    /* single claim/commit is a batch of one */
    CHECK_OK(h5tier_ring_claim(w, 0, &p, &seq));
    CHECK(seq == CAP + 3 && (char *)p == (char *)base + 3 * RS && intent_of(name) == CAP + 4);
    fill_run(p, seq, 1);
    CHECK_OK(h5tier_ring_commit(w, 0));
    CHECK(h5tier_ring_tail(w, 0) == CAP + 4); /* 68 */

    /* the reader is at 5; oldest is 4.  A claim covering slots 4..63 laps it while pending:
       it gets the records the claim cannot touch, never the slots under the claim */
    h5tier_ring_reader_close(r);
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_SEQ;
    ro.seq = 10;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    CHECK(h5tier_ring_claim_many(w, 0, 64, &p, &seq) == (long)(CAP - 4) && seq == CAP + 4);
    CHECK(intent_of(name) == 2 * CAP);
    fill_run(p, seq, CAP - 4); /* as if the DMA ran, but only 1 is committed */
    memset((char *)p + RS, 0xcd, RS / 2);   /* and the second is torn */
    CHECK_OK(read_one(r, &seq));           /* 10..63 are under the claim: lapped to 64 */
    CHECK(seq == CAP);
    h5tier_ring_reader_stats_t st;
    h5tier_ring_reader_stats(r, &st);
    CHECK(st.lost == CAP - 10 && st.laps == 1);
    CHECK_OK(h5tier_ring_commit_many(w, 0, 1));
    CHECK(h5tier_ring_tail(w, 0) == CAP + 5 && intent_of(name) == 2 * CAP); /* intent stays ahead */
    /* later puts do not lower it: the released slots 5..63 hold records from this lap now */
    ring_payload_fill(rec, RS, CAP + 5);
    CHECK_OK(h5tier_ring_put(w, 0, rec, RS));
    CHECK(intent_of(name) == 2 * CAP);
    for (uint64_t i = CAP + 1; i < CAP + 6; i++) {
        CHECK_OK(read_one(r, &seq));
        CHECK(seq == i);
    }
    CHECK(read_one(r, &seq) == -EAGAIN);
    h5tier_ring_reader_close(r);
    /* a new reader from the oldest starts above the released run's lap */
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    CHECK_OK(read_one(r, &seq));
    CHECK(seq == CAP);
    h5tier_ring_reader_close(r);
    /* writing on past the held intent raises it again */
    for (uint64_t s = CAP + 6; s < 2 * CAP + 2; s++) {
        CHECK(h5tier_ring_claim_many(w, 0, 1, &p, &seq) == 1 && seq == s);
        fill_run(p, s, 1);
        CHECK_OK(h5tier_ring_commit_many(w, 0, 1));
    }
    CHECK(h5tier_ring_tail(w, 0) == 2 * CAP + 2 && intent_of(name) == 2 * CAP + 2);
    /* cancel: only a pending claim; nothing is published, the intent stays ahead, a reader
       waiting at the tail gets nothing of the scribbled run, the next put reuses its seq */
    CHECK(h5tier_ring_cancel(w, 0) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "without a claim"), "%s", h5tier_errmsg());
    CHECK(h5tier_ring_cancel(w, -1) == -EINVAL && h5tier_ring_cancel(w, 1) == -EINVAL);
    ro.from = H5TIER_RING_FROM_LATEST;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    CHECK(h5tier_ring_claim_many(w, 0, 4, &p, &seq) == 4 && seq == 2 * CAP + 2);
    fill_run(p, seq + 100, 4); /* intact records of the wrong sequence numbers */
    CHECK_OK(h5tier_ring_cancel(w, 0));
    CHECK(h5tier_ring_tail(w, 0) == 2 * CAP + 2 && intent_of(name) == 2 * CAP + 6);
    CHECK(h5tier_ring_cancel(w, 0) == -EINVAL); /* nothing claimed any more */
    CHECK(read_one(r, &seq) == -EAGAIN);
    ring_payload_fill(rec, RS, 2 * CAP + 2);
    CHECK_OK(h5tier_ring_put(w, 0, rec, RS));
    CHECK(h5tier_ring_tail(w, 0) == 2 * CAP + 3 && intent_of(name) == 2 * CAP + 6);
    CHECK_OK(read_one(r, &seq));
    CHECK(seq == 2 * CAP + 2);
    CHECK(read_one(r, &seq) == -EAGAIN);
    h5tier_ring_reader_close(r);
    /* closing the writer releases a pending claim; the next writer keeps the intent */
    CHECK(h5tier_ring_claim_many(w, 0, 5, &p, &seq) == 5 && seq == 2 * CAP + 3);
    h5tier_ring_close(w);
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    CHECK(h5tier_ring_tail(w, 0) == 2 * CAP + 3 && intent_of(name) == 2 * CAP + 8);
    CHECK(h5tier_ring_claim_many(w, 0, 1, &p, &seq) == 1 && seq == 2 * CAP + 3);
    CHECK(intent_of(name) == 2 * CAP + 8);
    fill_run(p, seq, 1);
    CHECK_OK(h5tier_ring_commit(w, 0));
    h5tier_ring_close(w);
    CHECK_OK(h5tier_ring_remove(name, 0));
    free(name);
}

static void tethered_room(void)
{
    char *name = make_ring("claim2");
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.tether = "slow";
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    wo.tether_timeout_ms = 50;
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
    char buf[CAP * RS];
    fill_run(buf, 0, 50);
    CHECK_OK(h5tier_ring_put_many(w, 0, buf, 50, RS));
    uint64_t seq;
    for (int i = 0; i < 20; i++)
        CHECK_OK(h5tier_ring_next(r, buf, RS, &seq, 0)); /* the tether moves to 20 */
    void *p;
    CHECK(h5tier_ring_claim_many(w, 0, 64, &p, &seq) == 14 && seq == 50); /* the wrap */
    fill_run(p, 50, 14);
    CHECK_OK(h5tier_ring_commit(w, 0));
    CHECK(h5tier_ring_claim_many(w, 0, 64, &p, &seq) == 20 && seq == CAP); /* the tether */
    fill_run(p, CAP, 20);
    CHECK_OK(h5tier_ring_commit(w, 0));
    /* no room: the same timeout and message as put */
    double t0 = tu_now();
    long n = h5tier_ring_claim_many(w, 0, 8, &p, &seq);
    double dt = tu_now() - t0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", h5tier_errmsg());
    CHECKF(n == -ETIMEDOUT && dt >= 0.045, "claim_many with no room: %ld after %.3f s (%s)", n, dt, msg);
    CHECKF(strstr(msg, "stream 'data': tethered reader 'slow' (pid ") && strstr(msg, "is 64 records behind; waited"),
           "%s", msg);
    CHECK(h5tier_ring_commit(w, 0) == -EINVAL); /* nothing claimed */
    ring_payload_fill(buf, RS, 84);
    CHECK(h5tier_ring_put(w, 0, buf, RS) == -ETIMEDOUT);
    char msg2[512];
    snprintf(msg2, sizeof msg2, "%s", h5tier_errmsg());
    CHECKF(!strncmp(msg, msg2, (size_t)(strstr(msg, "waited") - msg)), "claim_many '%s' vs put '%s'", msg, msg2);
    /* the reader moves: claim works again and the reader gets everything intact */
    for (uint64_t i = 20; i < 84; i++) {
        CHECK_OK(h5tier_ring_next(r, buf, RS, &seq, 0));
        uint64_t c = 0;
        CHECK(seq == i && ring_payload_check(buf, RS, &c) && c == i);
    }
    CHECK(h5tier_ring_claim_many(w, 0, 64, &p, &seq) == 44 && seq == 84); /* 84 % 64 = 20: 44 to the end */
    fill_run(p, 84, 44);
    CHECK_OK(h5tier_ring_commit_many(w, 0, 44));
    h5tier_ring_reader_close(r);
    h5tier_ring_close(w);
    CHECK_OK(h5tier_ring_remove(name, 0));
    free(name);
}

/* ---- across processes --------------------------------------------------------------- */

static int run_writer(const char *name, uint64_t count, unsigned seed)
{
    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    wo.tether_timeout_ms = 60000;
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
    CHECK(h5tier_ring_record_size(w, 0) == RS);
    srand(seed);
    uint64_t seq = h5tier_ring_tail(w, 0), partial = 0, cancels = 0;
    CHECK(seq == 0);
    char buf[8 * RS];
    while (seq < count) {
        if (rand() % 16 == 0) { /* now and then a copying put between claims */
            uint64_t m = 1 + (uint64_t)(rand() % 8);
            if (m > count - seq)
                m = count - seq;
            fill_run(buf, seq, m);
            CHECK_OK(h5tier_ring_put_many(w, 0, buf, (size_t)m, RS));
            seq += m;
            continue;
        }
        size_t max = 1 + (size_t)(rand() % 64);
        void *p;
        uint64_t first;
        long n = h5tier_ring_claim_many(w, 0, max, &p, &first);
        CHECKF(n >= 1 && (size_t)n <= max, "claim_many(%zu) = %ld (%s)", max, n, h5tier_errmsg());
        CHECK(first == seq);
        uint64_t to_end = CAP - first % CAP;
        CHECKF((uint64_t)n <= to_end, "claim of %ld at slot %" PRIu64 " runs past the end", n, first % CAP);
        if (rand() % 8 == 0) { /* give the whole run back, scribbled, with a torn record */
            for (uint64_t k = 0; k < (uint64_t)n; k++)
                ring_payload_fill((char *)p + k * RS, RS, seq + k + 2000000);
            memset((char *)p + 8, 0xee, RS / 2);
            CHECK_OK(h5tier_ring_cancel(w, 0));
            CHECK(h5tier_ring_tail(w, 0) == seq);
            cancels++;
            continue;
        }
        uint64_t m = (uint64_t)n;
        if (rand() % 4 == 0) {
            m = 1 + (uint64_t)rand() % m;
            partial++;
        }
        if (m > count - seq)
            m = count - seq;
        fill_run(p, seq, m);
        /* the released rest: records of the wrong sequence numbers, and a torn one */
        for (uint64_t k = m; k < (uint64_t)n; k++)
            ring_payload_fill((char *)p + k * RS, RS, seq + k + 1000000);
        if (m < (uint64_t)n)
            memset((char *)p + m * RS + 8, 0xee, RS / 2);
        CHECK_OK(h5tier_ring_commit_many(w, 0, (size_t)m));
        seq += m;
        CHECK(h5tier_ring_tail(w, 0) == seq);
    }
    printf("writer: %" PRIu64 " records, %" PRIu64 " partial commits, %" PRIu64 " cancelled claims\n", seq, partial,
           cancels);
    h5tier_ring_close(w);
    return 0;
}

static int run_reader(const char *name, const char *mode, uint64_t count, unsigned seed)
{
    int tethered = !strcmp(mode, "tethered");
    uint64_t start;
    h5tier_ring_reader_t *r = tr_open_random(name, "claim", tethered, seed, &start);
    h5tier_ring_reader_stats_t st;
    char buf[32 * RS];
    uint64_t expect = start, seen = 0, gaps = 0;
    while (expect < count) {
        uint64_t first;
        long n = tr_read_random(r, buf, RS, mode, tethered, expect, &first);
        if (n == 0)
            continue;
        gaps += first - expect;
        for (long k = 0; k < n; k++) {
            uint64_t s = 0;
            CHECKF(ring_payload_check(buf + (size_t)k * RS, RS, &s) && s == first + (uint64_t)k,
                   "%s reader: torn or foreign record at seq %" PRIu64 " (carries %" PRIu64 ")", mode,
                   first + (uint64_t)k, s);
        }
        expect = first + (uint64_t)n;
        seen += (uint64_t)n;
        h5tier_ring_reader_stats(r, &st);
        CHECKF(st.lost == gaps, "%s: lost %" PRIu64 ", gaps %" PRIu64, mode, st.lost, gaps);
    }
    h5tier_ring_reader_stats(r, &st);
    CHECKF(st.lost == gaps && st.records == seen, "%s: lost %" PRIu64 " gaps %" PRIu64 " records %" PRIu64
           " seen %" PRIu64, mode, st.lost, gaps, st.records, seen);
    CHECK(seen + gaps == count - start);
    if (tethered)
        CHECK(gaps == 0 && st.laps == 0 && seen == count);
    printf("%s: %" PRIu64 " records, %" PRIu64 " lost, %" PRIu64 " laps\n", mode, seen, st.lost, st.laps);
    h5tier_ring_reader_close(r);
    return 0;
}

static void concurrent(int with_tether, uint64_t count, unsigned seed)
{
    char *name = make_ring("claimc");
    if (with_tether) { /* register the tether before the writer starts, then hand it over */
        h5tier_ring_reader_opts_t ro;
        h5tier_ring_reader_opts_init(&ro);
        ro.tether = "claim";
        h5tier_ring_reader_t *r;
        CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
        h5tier_ring_reader_close(r);
    }
    char cnt[32], sw[32], s1[32], s2[32], s3[32];
    snprintf(cnt, sizeof cnt, "%" PRIu64, count);
    snprintf(sw, sizeof sw, "%u", seed);
    snprintf(s1, sizeof s1, "%u", seed * 3 + 1);
    snprintf(s2, sizeof s2, "%u", seed * 5 + 2);
    snprintf(s3, sizeof s3, "%u", seed * 7 + 3);
    pid_t rt = with_tether ? tu_spawn_self("reader", name, "tethered", cnt, s1, NULL) : 0;
    pid_t l1 = tu_spawn_self("reader", name, "lossy", cnt, s2, NULL);
    pid_t l2 = tu_spawn_self("reader", name, "lossy", cnt, s3, NULL);
    pid_t w = tu_spawn_self("writer", name, cnt, sw, NULL);
    int ew = tu_wait_timeout(w, 120), et = rt ? tu_wait_timeout(rt, 120) : 0;
    int e1 = tu_wait_timeout(l1, 120), e2 = tu_wait_timeout(l2, 120);
    CHECKF(ew == 0 && et == 0 && e1 == 0 && e2 == 0, "%s tether: writer %d, tethered %d, lossy %d %d",
           with_tether ? "with" : "without", ew, et, e1, e2);
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    CHECK(si.tail == count && si.tail_intent >= count);
    if (with_tether)
        CHECK(si.ntethers == 1 && si.tethers[0].position == count);
    CHECK_OK(h5tier_ring_remove(name, 0));
    free(name);
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "writer"))
        return run_writer(argv[2], strtoull(argv[3], NULL, 10), (unsigned)atoi(argv[4]));
    if (argc >= 6 && !strcmp(argv[1], "reader"))
        return run_reader(argv[2], argv[3], strtoull(argv[4], NULL, 10), (unsigned)atoi(argv[5]));

    deterministic();
    tu_log("deterministic checks: ok");
    tethered_room();
    tu_log("tethered room and timeout: ok");
    unsigned seed = (unsigned)tu_now();
    tu_log("seed %u", seed);
    concurrent(1, 100000, seed);
    tu_log("writer + tethered + 2 lossy readers: ok");
    concurrent(0, 300000, seed + 1);
    tu_log("writer + 2 lossy readers: ok");
    return 0;
}
