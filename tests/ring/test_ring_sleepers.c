/*
 * test_ring_sleepers -- proves that readers killed while they sleep on the
 * ring's futex do not leave the writer paying a futex wake per put (issue 8
 * item 5): 40 reader processes are SIGKILLed in turn while blocked in
 * h5tier_ring_next (each is seen asleep in `ring stat`'s waiter count first);
 * afterwards the writer's own puts bring the count back to 0 within a few
 * hundred milliseconds and it stays 0 (the publish path reads that field to
 * decide whether to call futex_wake), with no reader opening in between.  A
 * live sleeping reader in another process still keeps its bit through the
 * repair and is woken by the next put; a reader opening later also clears
 * bits of dead sleepers without any writer attached.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "ring/payload.h"
#include "tutil.h"

#define RS 32
#define KILLS 40

static unsigned waiters(const char *name)
{
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    return si.waiters;
}

/* A child that sleeps in h5tier_ring_next until a record comes; exits 0 with one. */
static pid_t sleeper(const char *name)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        h5tier_ring_reader_opts_t ro;
        h5tier_ring_reader_opts_init(&ro);
        ro.from = H5TIER_RING_FROM_LATEST;
        ro.spin_us = 0;
        h5tier_ring_reader_t *r;
        if (h5tier_ring_reader_open(name, NULL, &ro, &r) < 0)
            _exit(3);
        unsigned char buf[RS];
        int rc = h5tier_ring_next(r, buf, RS, NULL, -1);
        _exit(rc == 0 ? 0 : 4);
    }
    return pid;
}

static void wait_asleep(const char *name, unsigned n)
{
    double t0 = tu_now();
    while (waiters(name) < n) {
        CHECKF(tu_now() - t0 < 20, "readers never went to sleep (%u of %u)", waiters(name), n);
        usleep(500);
    }
}

int main(void)
{
    tu_h5_quiet();
    char *name = tu_shm_name("sleep");
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "data", "u1[32]", 1024));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0600, 0));
    h5tier_ring_stream_spec_free(&s);
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    unsigned char buf[RS];
    uint64_t seq = 0;

    /* kill sleeping readers, one at a time and two at a time */
    for (int k = 0; k < KILLS; k++) {
        pid_t a = sleeper(name), b = k % 4 == 0 ? sleeper(name) : 0;
        wait_asleep(name, b ? 2 : 1);
        kill(a, SIGKILL);
        CHECK(tu_wait(a) == 128 + SIGKILL);
        if (b) {
            kill(b, SIGKILL);
            CHECK(tu_wait(b) == 128 + SIGKILL);
        }
    }
    unsigned left = waiters(name);
    tu_log("after %d kills: waiter count %u", KILLS, left);
    CHECKF(left > 0, "the count went to 0 without a put: the test would not tell a leak");

    /* the writer's puts repair the count; no reader opens meanwhile */
    double t0 = tu_now();
    while (waiters(name) != 0) {
        CHECKF(tu_now() - t0 < 5, "waiter count stays %u after %.1f s of puts: dead sleepers leaked", waiters(name),
               tu_now() - t0);
        for (int i = 0; i < 1000; i++) {
            ring_payload_fill(buf, RS, seq++);
            CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
        }
        usleep(1000);
    }
    tu_log("repaired after %.3f s and %llu puts", tu_now() - t0, (unsigned long long)seq);
    for (int i = 0; i < 100000; i++) {
        ring_payload_fill(buf, RS, seq++);
        CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
    }
    CHECK(waiters(name) == 0);

    /* a live sleeper keeps its bit through repairs and wakes on a put */
    pid_t live = sleeper(name);
    wait_asleep(name, 1);
    pid_t dead = sleeper(name);
    wait_asleep(name, 2);
    kill(dead, SIGKILL);
    CHECK(tu_wait(dead) == 128 + SIGKILL);
    usleep(30000); /* longer than the writer's 10 ms repair period */
    for (int i = 0; i < 300; i++) { /* enough puts for a heartbeat + repair, each wakes `live` */
        ring_payload_fill(buf, RS, seq++);
        CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
    }
    CHECKF(tu_wait_timeout(live, 10) == 0, "the live sleeping reader did not get its record");

    /* without a writer: an opening reader clears a dead sleeper's bit */
    CHECK_OK(h5tier_ring_close(w));
    pid_t d2 = sleeper(name);
    wait_asleep(name, 1);
    kill(d2, SIGKILL);
    CHECK(tu_wait(d2) == 128 + SIGKILL);
    CHECK(waiters(name) == 1);
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    CHECK(waiters(name) == 0);
    h5tier_ring_reader_close(r);
    CHECK_OK(h5tier_ring_remove(name, 0));
    return 0;
}
