/*
 * test_ring_handover_concurrent -- ownership changes hands while others
 * watch.  A writer, a reader slot and a tether are each owned by a (pid,
 * start time) pair in shared memory; a checker that paired a new owner's pid
 * with the previous owner's start time would call a live process dead.
 *
 * (1) Writer handover: 150 writer processes attach one after another, each
 *     puts 20 records and detaches, while a blocked reader (heartbeat death
 *     detection on, too) follows.  The reader must never be told the writer
 *     died, and it must see every record in order (the ring never laps it).
 * (2) Tether handover: a lossless writer (H5TIER_RING_DROP_DEAD_TETHERS, a
 *     ring of 16 records) is held back by a tether that 60 reader processes
 *     take over one after another, each reading 40 records.  Had the writer
 *     judged a taking-over reader dead, it would have dropped the tether and
 *     lapped it: every reader checks that it lost nothing and that its first
 *     record is the one after its predecessor's last.
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

#define RS 32
#define WRITERS 150
#define PER_WRITER 20
#define HOLDERS 60
#define PER_HOLDER 40

static int one_writer(const char *name, uint64_t count, int lossless)
{
    h5tier_ring_writer_opts_t o;
    h5tier_ring_writer_opts_init(&o);
    if (lossless) {
        o.flags = H5TIER_RING_DROP_DEAD_TETHERS;
        o.tether_timeout_ms = 60000;
    }
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, &o, &w));
    char buf[RS];
    uint64_t seq = h5tier_ring_tail(w, 0);
    for (uint64_t i = 0; i < count; i++, seq++) {
        ring_payload_fill(buf, RS, seq);
        CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
    }
    CHECK_OK(h5tier_ring_close(w));
    return 0;
}

/* Spawns the writers one after another (each exits before the next starts). */
static int writer_chain(const char *name)
{
    char count[32];
    snprintf(count, sizeof count, "%d", PER_WRITER);
    for (int i = 0; i < WRITERS; i++) {
        pid_t p = tu_spawn_self("writer", name, count, "0", NULL);
        CHECKF(tu_wait_timeout(p, 60) == 0, "writer %d failed", i);
    }
    return 0;
}

/* A tethered reader: reads `count` records from where the tether stands,
 * which must be `first`; prints nothing, fails loudly. */
static int one_holder(const char *name, uint64_t first, uint64_t count)
{
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.tether = "arch";
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    char buf[RS];
    for (uint64_t i = 0; i < count; i++) {
        uint64_t seq;
        int rc = h5tier_ring_next(r, buf, RS, &seq, 30000);
        CHECKF(rc == 0, "holder: next: %d (%s)", rc, h5tier_errmsg());
        uint64_t s2 = seq;
        CHECKF(seq == first + i, "holder starting at %" PRIu64 ": got %" PRIu64 ", want %" PRIu64, first, seq,
               first + i);
        CHECK(ring_payload_check(buf, RS, &s2) && s2 == seq);
    }
    h5tier_ring_reader_stats_t st;
    h5tier_ring_reader_stats(r, &st);
    CHECKF(st.lost == 0, "tethered reader lost %" PRIu64 " records", st.lost);
    CHECK_OK(h5tier_ring_reader_close(r));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "writer"))
        return one_writer(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]));
    if (argc >= 3 && !strcmp(argv[1], "chain"))
        return writer_chain(argv[2]);
    if (argc >= 5 && !strcmp(argv[1], "holder"))
        return one_holder(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));

    /* (1) writer handover under a blocked reader */
    char *name = tu_shm_name("hand");
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "u1[32]", 4096));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
    h5tier_ring_stream_spec_free(&s);

    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.dead_after_ms = 10000;
    ro.spin_us = 0; /* go to the futex (and the liveness check) at once */
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    pid_t chain = tu_spawn_self("chain", name, NULL);
    const uint64_t total = (uint64_t)WRITERS * PER_WRITER;
    char buf[RS];
    for (uint64_t want = 0; want < total; want++) {
        uint64_t seq;
        int rc = h5tier_ring_next(r, buf, RS, &seq, 30000);
        CHECKF(rc == 0, "record %" PRIu64 ": %d (%s)", want, rc, h5tier_errmsg());
        uint64_t s2 = seq;
        CHECKF(seq == want, "got %" PRIu64 ", want %" PRIu64, seq, want);
        CHECK(ring_payload_check(buf, RS, &s2) && s2 == seq);
    }
    CHECK(tu_wait_timeout(chain, 120) == 0);
    h5tier_ring_info_t info;
    CHECK_OK(h5tier_ring_info(name, &info, NULL, 0));
    CHECKF(info.generation >= WRITERS, "generation %" PRIu64, info.generation);
    CHECK(info.writer_pid == 0);
    h5tier_ring_reader_close(r);
    CHECK_OK(h5tier_ring_remove(name, 0));
    tu_log("writer handover: %d writers, %" PRIu64 " records followed, generation %" PRIu64, WRITERS, total,
           info.generation);

    /* (2) tether handover under a lossless writer */
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "u1[32]", 16));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
    h5tier_ring_stream_spec_free(&s);
    ro.tether = "arch";
    ro.dead_after_ms = 0;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r)); /* creates the tether at 0 */
    CHECK_OK(h5tier_ring_reader_close(r));                  /* it stays, unheld */
    char count[32];
    const uint64_t held = (uint64_t)HOLDERS * PER_HOLDER;
    snprintf(count, sizeof count, "%" PRIu64, held);
    pid_t w = tu_spawn_self("writer", name, count, "1", NULL);
    for (int i = 0; i < HOLDERS; i++) {
        char first[32], n[32];
        snprintf(first, sizeof first, "%" PRIu64, (uint64_t)i * PER_HOLDER);
        snprintf(n, sizeof n, "%d", PER_HOLDER);
        pid_t h = tu_spawn_self("holder", name, first, n, NULL);
        CHECKF(tu_wait_timeout(h, 60) == 0, "holder %d failed", i);
    }
    CHECK(tu_wait_timeout(w, 60) == 0);
    CHECK_OK(h5tier_ring_untether(name, "ev", "arch"));
    CHECK_OK(h5tier_ring_remove(name, 0));
    tu_log("tether handover: %d holders, %" PRIu64 " records, none lost", HOLDERS, held);
    free(name);
    return 0;
}
