/*
 * ring_read_random.h -- one read of a stress-test reader, in a mode chosen
 * at random: next_many (1..32 records), a zero-copy view of 1..32 records
 * copied out, or a single next.  Fails the test on an error, on a tethered
 * reader that skipped or was lapped, and on a lossy reader that went back.
 * Returns the number of records now in buf (first at *first), or 0 when a
 * lossy reader's view was overwritten during use (read again).
 * tr_open_random opens such a reader.
 */
#ifndef H5TIER_TEST_RING_READ_RANDOM_H
#define H5TIER_TEST_RING_READ_RANDOM_H

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "h5tier_ring.h"
#include "tutil.h"

/* Open a stress-test reader (tethered as `tether` when tethered, else
 * lossy), seed rand() and return where it starts (a tethered one at 0). */
static inline h5tier_ring_reader_t *tr_open_random(const char *name, const char *tether, int tethered, unsigned seed,
                                                   uint64_t *start)
{
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.tether = tethered ? tether : NULL;
    h5tier_ring_reader_t *r;
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    srand(seed);
    h5tier_ring_reader_stats_t st;
    h5tier_ring_reader_stats(r, &st);
    *start = st.position; /* a lossy reader opened late starts at the oldest record */
    CHECK(!tethered || *start == 0);
    return r;
}

/* buf holds at least 32 records of rs bytes. */
static inline long tr_read_random(h5tier_ring_reader_t *r, char *buf, size_t rs, const char *mode, int tethered,
                                  uint64_t expect, uint64_t *first)
{
    int how = rand() % 3;
    long n;
    if (how == 0) {
        n = h5tier_ring_next_many(r, buf, 1 + (size_t)(rand() % 32), rs * 32, first, 30000);
    } else if (how == 1) {
        const void *view;
        n = h5tier_ring_view(r, &view, 1 + (size_t)(rand() % 32), first, 30000);
        if (n > 0) {
            memcpy(buf, view, (size_t)n * rs);
            int v = h5tier_ring_view_done(r);
            if (v == -H5TIER_ELAPPED) {
                CHECKF(!tethered, "tethered reader lapped in a view");
                return 0;
            }
            CHECK_OK(v);
        }
    } else {
        n = h5tier_ring_next(r, buf, rs, first, 30000);
        if (n == 0)
            n = 1;
    }
    CHECKF(n > 0, "%s reader: read failed at %" PRIu64 ": %ld (%s)", mode, expect, n, h5tier_errmsg());
    if (tethered)
        CHECKF(*first == expect, "tethered reader: got %" PRIu64 ", expected %" PRIu64, *first, expect);
    else
        CHECKF(*first >= expect, "lossy reader went back: %" PRIu64 " < %" PRIu64, *first, expect);
    return n;
}

#endif
