/*
 * test_ring_readers_concurrent -- proves one writer serves many reader
 * processes at once: 4 readers (2 tethered with different tether names, one
 * lossy copying batches, one lossy using zero-copy views) register first
 * (visible in the statistics slots that `ring stat` shows), then a writer
 * process puts 200k records; both tethered readers see every record in
 * order, the lossy ones see increasing sequence numbers with loss counted
 * exactly, and nobody ever sees a torn record.
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

#define RS 64
#define COUNT 200000

static int run_writer(const char *name)
{
    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    wo.tether_timeout_ms = 60000;
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
    char buf[RS * 32];
    for (uint64_t seq = 0; seq < COUNT;) {
        uint64_t n = seq % 3 ? 1 : 32;
        if (n > COUNT - seq)
            n = COUNT - seq;
        for (uint64_t k = 0; k < n; k++)
            ring_payload_fill(buf + k * RS, RS, seq + k);
        CHECK_OK(n == 1 ? h5tier_ring_put(w, 0, buf, RS) : h5tier_ring_put_many(w, 0, buf, (size_t)n, RS));
        seq += n;
    }
    h5tier_ring_close(w);
    return 0;
}

static int run_reader(const char *name, const char *mode)
{
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    int tethered = !strncmp(mode, "tether", 6);
    if (tethered)
        ro.tether = mode;
    int use_view = !strcmp(mode, "view");
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    char buf[RS * 16];
    uint64_t expect = 0, gaps = 0, seen = 0;
    while (expect < COUNT) {
        uint64_t first;
        long n;
        if (use_view) {
            const void *p;
            n = h5tier_ring_view(r, &p, 16, &first, 30000);
            CHECKF(n > 0, "%s: %ld (%s)", mode, n, h5tier_errmsg());
            memcpy(buf, p, (size_t)n * RS);
            if (h5tier_ring_view_done(r) == -H5TIER_ELAPPED)
                continue;
        } else {
            n = h5tier_ring_next_many(r, buf, 16, sizeof buf, &first, 30000);
            CHECKF(n > 0, "%s: %ld (%s)", mode, n, h5tier_errmsg());
        }
        CHECKF(first >= expect && (!tethered || first == expect), "%s: got %" PRIu64 " expected %" PRIu64, mode, first,
               expect);
        gaps += first - expect;
        for (long k = 0; k < n; k++) {
            uint64_t s = first + (uint64_t)k;
            CHECKF(ring_payload_check(buf + k * RS, RS, &s) && s == first + (uint64_t)k, "%s: torn record %" PRIu64,
                   mode, first + (uint64_t)k);
        }
        expect = first + (uint64_t)n;
        seen += (uint64_t)n;
    }
    h5tier_ring_reader_stats_t st;
    h5tier_ring_reader_stats(r, &st);
    CHECKF(st.lost == gaps && seen + gaps == COUNT, "%s: lost %" PRIu64 ", gaps %" PRIu64, mode, st.lost, gaps);
    printf("%s: %" PRIu64 " records, %" PRIu64 " lost, %" PRIu64 " laps\n", mode, seen, st.lost, st.laps);
    h5tier_ring_reader_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "writer"))
        return run_writer(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "reader"))
        return run_reader(argv[2], argv[3]);

    char *name = tu_shm_name("readers");
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "ev", "{seq:u8,ts:f8,adc:u2[24]}", 4096));
    CHECK(h5tier_ring_spec_record_size(&s) == RS);
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0, 0));
    h5tier_ring_stream_spec_free(&s);
    const char *modes[4] = {"tether1", "tether2", "copy", "view"};
    pid_t rp[4];
    for (int i = 0; i < 4; i++)
        rp[i] = tu_spawn_self("reader", name, modes[i], NULL);
    /* wait until all four are registered (statistics slots + two tethers) */
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    double t0 = tu_now();
    for (;;) {
        CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
        if (si.nreaders == 4 && si.ntethers == 2)
            break;
        CHECKF(tu_now() - t0 < 30, "readers did not register: %u readers, %u tethers", si.nreaders, si.ntethers);
        usleep(2000);
    }
    int tethered = 0;
    for (unsigned k = 0; k < si.nreaders; k++) {
        CHECK(si.readers[k].alive);
        tethered += si.readers[k].tethered;
    }
    CHECK(tethered == 2);
    pid_t wp = tu_spawn_self("writer", name, NULL);
    CHECK(tu_wait_timeout(wp, 120) == 0);
    for (int i = 0; i < 4; i++)
        CHECKF(tu_wait_timeout(rp[i], 120) == 0, "reader %s failed", modes[i]);
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    CHECK(si.tail == COUNT && si.nreaders == 0 && si.ntethers == 2);
    for (unsigned k = 0; k < si.ntethers; k++)
        CHECK(si.tethers[k].position == COUNT && si.tethers[k].pid == 0);
    CHECK_OK(h5tier_ring_remove(name, 0));
    free(name);
    return 0;
}
