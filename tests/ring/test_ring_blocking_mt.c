/*
 * test_ring_blocking_mt -- proves blocking reads and the lossless writer's
 * waits, with threads of one process: a read on an empty stream times out
 * with -ETIMEDOUT after at least its timeout (and timeout 0 gives -EAGAIN at
 * once); a reader sleeping with no timeout is counted as a futex waiter and
 * wakes up with the record a later put publishes; three reader threads
 * blocking record by record receive everything a writer thread puts with
 * pauses in between; a writer that would overwrite a record a tethered
 * reader has not released fails after its tether timeout with -ETIMEDOUT and
 * a message naming the reader, and with no timeout it waits until the
 * tethered reader moves.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "ring/payload.h"
#include "tutil.h"

#define RS 32
#define CAP 1024
#define MANY 600

static const char *g_name;
static atomic_int g_returned;

static void *blocked_reader(void *arg)
{
    h5tier_ring_reader_t *r = arg;
    char buf[RS];
    uint64_t seq = 0;
    int rc = h5tier_ring_next(r, buf, RS, &seq, -1);
    atomic_store(&g_returned, 1);
    uint64_t s2 = seq;
    CHECKF(rc == 0 && ring_payload_check(buf, RS, &s2) && s2 == seq, "blocked reader: %d", rc);
    return (void *)(uintptr_t)(seq + 1);
}

static void *many_reader(void *arg)
{
    (void)arg;
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_SEQ;
    ro.seq = 1;
    ro.spin_us = 0; /* go to the futex at once */
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(g_name, NULL, &ro, &r));
    for (uint64_t want = 1; want < 1 + MANY; want++) {
        char buf[RS];
        uint64_t seq;
        int rc = h5tier_ring_next(r, buf, RS, &seq, 20000);
        CHECKF(rc == 0, "many_reader at %" PRIu64 ": %d (%s)", want, rc, h5tier_errmsg());
        uint64_t s2 = seq;
        CHECKF(seq == want && ring_payload_check(buf, RS, &s2) && s2 == seq, "many_reader: %" PRIu64 " vs %" PRIu64,
               seq, want);
    }
    h5tier_ring_reader_close(r);
    return NULL;
}

static void *tether_mover(void *arg)
{
    h5tier_ring_reader_t *r = arg;
    usleep(50000);
    char buf[RS];
    CHECK_OK(h5tier_ring_next(r, buf, RS, NULL, 0)); /* releases one record */
    return NULL;
}

int main(void)
{
    char *name = tu_shm_name("block");
    g_name = name;
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "u8[4]", CAP));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
    h5tier_ring_stream_spec_free(&s);
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));

    /* timeouts */
    char buf[RS];
    double t0 = tu_now();
    CHECK(h5tier_ring_next(r, buf, RS, NULL, 0) == -EAGAIN);
    t0 = tu_now();
    int rc = h5tier_ring_next(r, buf, RS, NULL, 120);
    double dt = tu_now() - t0;
    CHECKF(rc == -ETIMEDOUT && dt >= 0.119, "timeout: rc %d after %.3f s", rc, dt);
    CHECKF(strstr(h5tier_errmsg(), "within 120 ms"), "errmsg: %s", h5tier_errmsg());

    /* a sleeping reader wakes on put */
    pthread_t th;
    pthread_create(&th, NULL, blocked_reader, r);
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    t0 = tu_now();
    do {
        usleep(1000);
        CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
        CHECKF(tu_now() - t0 < 20, "the reader never went to sleep on the futex");
    } while (si.waiters == 0);
    CHECK(atomic_load(&g_returned) == 0); /* it cannot return without a record */
    ring_payload_fill(buf, RS, 0);
    CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
    void *ret;
    pthread_join(th, &ret);
    CHECK((uintptr_t)ret == 1);

    /* three readers blocking per record; the writer pauses now and then */
    pthread_t many[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&many[i], NULL, many_reader, NULL);
    for (uint64_t seq = 1; seq < 1 + MANY; seq++) {
        if (seq % 50 == 0)
            usleep(2000);
        ring_payload_fill(buf, RS, seq);
        CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
    }
    for (int i = 0; i < 3; i++)
        pthread_join(many[i], NULL);
    h5tier_ring_close(w);

    /* lossless: a tethered reader that does not read holds the writer back, also when it
       registers after the writer has started putting */
    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    wo.tether_timeout_ms = 100;
    CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
    ring_payload_fill(buf, RS, h5tier_ring_tail(w, 0));
    CHECK_OK(h5tier_ring_put(w, 0, buf, RS)); /* the writer has cached "no tethers" */
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_LATEST;
    ro.tether = "slow";
    h5tier_ring_reader_t *t;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &t));
    uint64_t base = h5tier_ring_tail(w, 0);
    for (uint64_t i = 0; i < CAP; i++) {
        ring_payload_fill(buf, RS, base + i);
        CHECK_OK(h5tier_ring_put(w, 0, buf, RS));
    }
    ring_payload_fill(buf, RS, base + CAP);
    t0 = tu_now();
    rc = h5tier_ring_put(w, 0, buf, RS);
    dt = tu_now() - t0;
    CHECKF(rc == -ETIMEDOUT && dt >= 0.099, "tether timeout: %d after %.3f s", rc, dt);
    char want[128];
    snprintf(want, sizeof want, "tethered reader 'slow' (pid %d) is %d records behind", (int)getpid(), CAP);
    CHECKF(strstr(h5tier_errmsg(), want), "errmsg: %s", h5tier_errmsg());
    CHECK(h5tier_ring_tail(w, 0) == base + CAP); /* nothing was overwritten */
    /* put_many publishes what fits, then fails */
    CHECK(h5tier_ring_put_many(w, 0, buf, 1, RS) == -ETIMEDOUT);
    h5tier_ring_close(w);
    wo.tether_timeout_ms = -1;
    CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
    pthread_create(&th, NULL, tether_mover, t);
    CHECK_OK(h5tier_ring_put(w, 0, buf, RS)); /* waits until the tethered reader released one */
    pthread_join(th, NULL);
    CHECK(h5tier_ring_tail(w, 0) == base + CAP + 1);
    /* the tethered reader still sees every record in order */
    for (uint64_t q = base + 1; q <= base + CAP; q++) {
        uint64_t seq;
        CHECK_OK(h5tier_ring_next(t, buf, RS, &seq, 0));
        uint64_t s2 = seq;
        CHECK(seq == q && ring_payload_check(buf, RS, &s2) && s2 == q);
    }
    h5tier_ring_close(w);
    h5tier_ring_reader_close(t);
    CHECK_OK(h5tier_ring_untether(name, NULL, "slow"));
    CHECK(h5tier_ring_untether(name, NULL, "slow") == -ENOENT);
    h5tier_ring_reader_close(r);
    CHECK_OK(h5tier_ring_remove(name, 0));
    return 0;
}
