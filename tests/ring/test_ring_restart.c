/*
 * test_ring_restart -- proves writer death and restart: a writer process
 * that published 1000 records and then died by SIGKILL in the middle of a
 * claimed (announced, half-written) record makes a reader process that is
 * asleep waiting for more return -H5TIER_EDEADWRITER instead of hanging,
 * and a reader that opens later also gets it once caught up; `stat` shows
 * the writer dead; a second writer cannot attach while the first lives
 * (-EBUSY); a restarted writer continues the sequence at 1000 with
 * generation + 1, and readers get its records intact (the torn record was
 * never published).  A writer that closed cleanly makes readers wait (not
 * fail), and a heartbeat threshold (dead_after_ms) reports a stalled writer.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "ring/payload.h"
#include "tutil.h"

#define RS 48
#define CAP 4096

static int run_writer(const char *name, uint64_t count, int die)
{
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    char buf[RS];
    uint64_t seq = h5tier_ring_tail(w, 0);
    for (uint64_t i = 0; i < count; i++, seq++) {
        ring_payload_fill(buf, RS, seq);
        CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
    }
    if (!die) {
        h5tier_ring_close(w);
        return 0;
    }
    void *slot;
    CHECK_OK(h5tier_ring_claim(w, 0, &slot, NULL));
    memset(slot, 0xee, RS / 2); /* half a record, never committed */
    for (;;)
        pause(); /* the parent kills us */
}

static int run_reader(const char *name, uint64_t until)
{
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    char buf[RS];
    uint64_t seq = 0, n = 0;
    int rc;
    while ((rc = h5tier_ring_next(r, buf, RS, &seq, 60000)) == 0) {
        uint64_t s2 = seq;
        CHECK(ring_payload_check(buf, RS, &s2) && s2 == seq && seq == n);
        n++;
    }
    CHECKF(rc == -H5TIER_EDEADWRITER, "reader: %d (%s) after %" PRIu64 " records", rc, h5tier_errmsg(), n);
    CHECKF(n == until, "reader saw %" PRIu64 " records", n);
    CHECK(strstr(h5tier_errmsg(), "died"));
    h5tier_ring_reader_close(r);
    return 0;
}

static void wait_tail(const char *name, uint64_t tail)
{
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    double t0 = tu_now();
    for (;;) {
        CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
        if (si.tail >= tail)
            return;
        CHECKF(tu_now() - t0 < 30, "tail stuck at %" PRIu64, si.tail);
        usleep(1000);
    }
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "writer"))
        return run_writer(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]));
    if (argc >= 4 && !strcmp(argv[1], "reader"))
        return run_reader(argv[2], strtoull(argv[3], NULL, 10));

    char *name = tu_shm_name("restart");
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "{seq:u8,x:f8[4],cs:u8}", CAP));
    CHECK(h5tier_ring_spec_record_size(&s) == RS);
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
    h5tier_ring_stream_spec_free(&s);

    /* a cleanly closed writer: readers wait, they do not fail */
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    char buf[RS];
    CHECK(h5tier_ring_next(r, buf, RS, NULL, 30) == -ETIMEDOUT);
    h5tier_ring_reader_close(r);

    pid_t rp = tu_spawn_self("reader", name, "1000", NULL);
    pid_t wp = tu_spawn_self("writer", name, "1000", "1", NULL);
    wait_tail(name, 1000);
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    /* the writer is alive: nobody else may write */
    h5tier_ring_t *w;
    CHECK(h5tier_ring_open_writer(name, NULL, &w) == -EBUSY);
    char pidtxt[32];
    snprintf(pidtxt, sizeof pidtxt, "pid %d", (int)wp);
    CHECKF(strstr(h5tier_errmsg(), pidtxt), "errmsg: %s", h5tier_errmsg());
    CHECK(h5tier_ring_remove(name, 0) == -EBUSY);
    /* wait until the reader sleeps on the futex, and the claim is announced */
    double t0 = tu_now();
    do {
        usleep(1000);
        CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
        CHECKF(tu_now() - t0 < 30, "reader never slept");
    } while (si.waiters == 0 || si.tail_intent != 1001);
    CHECK(info.writer_alive && info.writer_pid == wp && info.generation == 1);
    kill(wp, SIGKILL);
    CHECK(tu_wait(wp) == 128 + SIGKILL);
    t0 = tu_now();
    CHECKF(tu_wait_timeout(rp, 30) == 0, "the sleeping reader did not report the dead writer");
    tu_log("sleeping reader reported the dead writer after %.3f s", tu_now() - t0);
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    CHECK(!info.writer_alive && info.writer_pid == wp && si.tail == 1000 && si.tail_intent == 1001);

    /* a reader opened now reads the 1000 records, then gets EDEADWRITER */
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_SEQ;
    ro.seq = 990;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    for (uint64_t q = 990; q < 1000; q++) {
        uint64_t seq;
        CHECK_OK(h5tier_ring_next(r, buf, RS, &seq, 0));
        CHECK(seq == q);
    }
    CHECK(h5tier_ring_next(r, buf, RS, NULL, 0) == -H5TIER_EDEADWRITER);
    CHECK(h5tier_ring_next(r, buf, RS, NULL, 5000) == -H5TIER_EDEADWRITER);

    /* restart: the sequence continues at 1000, generation 2 */
    wp = tu_spawn_self("writer", name, "500", "0", NULL);
    CHECK(tu_wait_timeout(wp, 60) == 0);
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    CHECK(info.generation == 2 && info.writer_pid == 0 && si.tail == 1500);
    for (uint64_t q = 1000; q < 1500; q++) {
        uint64_t seq;
        CHECK_OK(h5tier_ring_next(r, buf, RS, &seq, 0));
        uint64_t s2 = seq;
        CHECKF(seq == q && ring_payload_check(buf, RS, &s2) && s2 == q, "after restart: seq %" PRIu64 " want %" PRIu64,
               seq, q);
    }
    h5tier_ring_reader_stats_t st;
    h5tier_ring_reader_stats(r, &st);
    CHECK(st.lost == 0 && st.generation == 2);
    CHECK(h5tier_ring_next(r, buf, RS, NULL, 0) == -EAGAIN); /* closed cleanly: not dead */
    h5tier_ring_reader_close(r);

    /* a stalled writer (alive, no heartbeat) counts as dead with dead_after_ms */
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_LATEST;
    ro.dead_after_ms = 100;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    usleep(150000);
    CHECK(h5tier_ring_next(r, buf, RS, NULL, 2000) == -H5TIER_EDEADWRITER);
    h5tier_ring_heartbeat(w);
    CHECK(h5tier_ring_next(r, buf, RS, NULL, 20) == -ETIMEDOUT);
    h5tier_ring_reader_close(r);
    h5tier_ring_close(w);
    CHECK_OK(h5tier_ring_remove(name, 0));
    free(name);
    return 0;
}
