/*
 * bench/bench_python.c -- the Python reader (python/h5tier, over ctypes)
 * against the C reader, side by side in one run (issue 13):
 *
 *   1. 64 B records in batches of 1024: records/s of h5tier.Reader.read()
 *      (a new numpy array per batch) vs h5tier_ring_next_many() into a C
 *      buffer.  Goal >= 0.5x the C reader.
 *   2. 1 MiB records (batches of 4): MB/s, same pair.  Goal >= 0.9x.
 *   3. For information: 64 B zero-copy views in Python (view, touch one byte
 *      per record, view_done) vs h5tier_ring_view() + the same in C.
 *
 * Method: this program creates a ring, fills it to capacity with a writer
 * (then detached), and reads it from the oldest record to the tail, PASSES
 * times, first in C, then by running bench/bench_python.py under
 * $H5TIER_PYTHON (default /usr/bin/python3) with the package of this source
 * tree and the library of this build; best pass of each, three rounds
 * alternating C and Python, best round.  No writer runs meanwhile, so both
 * readers measure only their own cost (the ring's protocol, the copy, and
 * for Python the ctypes call and the numpy array per batch).
 *
 *   bench_python [--quick]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "h5tier_ring.h"

#ifndef H5TIER_SRC_DIR
#define H5TIER_SRC_DIR "."
#endif
#ifndef H5TIER_BUILD_DIR
#define H5TIER_BUILD_DIR "build"
#endif

static const char *S = "python";

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_python: %s: %s (%s)\n", what, h5tier_strerror(err), h5tier_errmsg());
    exit(1);
}

/* Create ring `name` with one stream "data" of `dtype` and `cap` records, filled. */
static void make_ring(const char *name, const char *dtype, uint64_t cap, size_t rs)
{
    h5tier_ring_stream_spec_t spec;
    int r = h5tier_ring_stream_from_dtype(&spec, "data", dtype, cap);
    if (r < 0)
        die("stream spec", r);
    r = h5tier_ring_create(name, &spec, 1, 0600, H5TIER_RING_CREATE_FORCE);
    h5tier_ring_stream_spec_free(&spec);
    if (r < 0)
        die("create", r);
    h5tier_ring_t *w;
    if ((r = h5tier_ring_open_writer(name, NULL, &w)) < 0)
        die("writer", r);
    size_t per = rs >= (1u << 20) ? 1 : 1024;
    char *buf = malloc(per * rs);
    bench_fill(buf, per * rs, 1);
    for (uint64_t done = 0; done < cap; done += per)
        if ((r = h5tier_ring_put_many(w, 0, buf, per, rs)) < 0)
            die("put_many", r);
    free(buf);
    h5tier_ring_close(w);
}

/* C reader: records/s of the best of `passes` passes from oldest to tail. */
static double c_read(const char *name, size_t batch, int passes, int view)
{
    h5tier_ring_reader_t *rd;
    h5tier_ring_reader_opts_t o;
    h5tier_ring_reader_opts_init(&o);
    int r = h5tier_ring_reader_open(name, NULL, &o, &rd);
    if (r < 0)
        die("reader", r);
    size_t rs = h5tier_ring_reader_record_size(rd);
    uint64_t cap = h5tier_ring_reader_capacity(rd);
    char *buf = malloc(batch * rs);
    double best = 0;
    volatile uint64_t sink = 0;
    for (int p = 0; p < passes; p++) {
        h5tier_ring_reader_stats_t st;
        h5tier_ring_reader_stats(rd, &st);
        h5tier_ring_reader_seek(rd, st.tail > cap ? st.tail - cap : 0);
        uint64_t n = 0, seq;
        double t0 = bench_now();
        for (;;) {
            long k;
            if (view) {
                const void *d;
                k = h5tier_ring_view(rd, &d, batch, &seq, 0);
                if (k > 0) {
                    uint64_t s = 0;
                    for (long i = 0; i < k; i++)
                        s += ((const unsigned char *)d)[(size_t)i * rs];
                    sink += s;
                    if (h5tier_ring_view_done(rd) < 0)
                        die("view_done", -EAGAIN);
                }
            } else {
                k = h5tier_ring_next_many(rd, buf, batch, batch * rs, &seq, 0);
            }
            if (k == -EAGAIN)
                break;
            if (k < 0)
                die("read", (int)k);
            n += (uint64_t)k;
        }
        double dt = bench_now() - t0;
        if ((double)n / dt > best)
            best = (double)n / dt;
    }
    (void)sink;
    free(buf);
    h5tier_ring_reader_close(rd);
    return best;
}

/* Python reader: runs bench_python.py; records/s or -1. */
static double py_read(const char *name, size_t batch, int passes, const char *mode)
{
    const char *py = getenv("H5TIER_PYTHON");
    if (!py || !*py)
        py = "/usr/bin/python3";
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "PYTHONPATH='%s/python' H5TIER_BUILD_DIR='%s' '%s' '%s/bench/bench_python.py' '%s' %zu %d %s",
             H5TIER_SRC_DIR, H5TIER_BUILD_DIR, py, H5TIER_SRC_DIR, name, batch, passes, mode);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    char line[512] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    int st = pclose(f);
    const char *p = strstr(line, "\"records_per_s\":");
    if (st != 0 || !p) {
        fprintf(stderr, "bench_python: %s failed (status %d): %s\n", cmd, st, line);
        return -1;
    }
    return strtod(p + strlen("\"records_per_s\":"), NULL);
}

int main(int argc, char **argv)
{
    int quick = bench_quick(argc, argv);
    char small[64], big[64];
    snprintf(small, sizeof small, "h5tier-bench-py-%d-64", (int)getpid());
    snprintf(big, sizeof big, "h5tier-bench-py-%d-1m", (int)getpid());
    uint64_t cap64 = quick ? (1u << 18) : (1u << 20); /* 16 / 64 MiB */
    uint64_t cap1m = quick ? 32 : 128;                 /* 32 / 128 MiB */
    int passes = quick ? 3 : 8, rounds = quick ? 2 : 3;
    make_ring(small, "u1[64]", cap64, 64);
    make_ring(big, "u1[1048576]", cap1m, 1u << 20);

    double c64 = 0, p64 = 0, c1m = 0, p1m = 0, cv = 0, pv = 0;
    for (int r = 0; r < rounds; r++) {
        double v;
        if ((v = c_read(small, 1024, passes, 0)) > c64)
            c64 = v;
        if ((v = py_read(small, 1024, passes, "read")) > p64)
            p64 = v;
        if ((v = c_read(big, 4, passes, 0)) > c1m)
            c1m = v;
        if ((v = py_read(big, 4, passes, "read")) > p1m)
            p1m = v;
        if ((v = c_read(small, 1024, passes, 1)) > cv)
            cv = v;
        if ((v = py_read(small, 1024, passes, "view")) > pv)
            pv = v;
    }
    h5tier_ring_remove(small, 1);
    h5tier_ring_remove(big, 1);
    if (p64 < 0 || p1m < 0 || pv < 0) {
        fprintf(stderr, "bench_python: the Python reader failed\n");
        return 1;
    }
    bench_result(S, "Python read() 64 B x1024 (M records/s)", p64 / 1e6, "M/s", "C next_many 64 B x1024", c64 / 1e6,
                 GOAL_GE, 0.5);
    bench_result(S, "Python read() 1 MiB x4 (MB/s)", p1m * 1.048576, "MB/s", "C next_many 1 MiB x4", c1m * 1.048576,
                 GOAL_GE, 0.9);
    bench_result(S, "Python view() 64 B x1024 + touch (M records/s)", pv / 1e6, "M/s", "C view 64 B x1024 + touch",
                 cv / 1e6, GOAL_NONE, 0);
    bench_note(S,
               "reading a full ring (%" PRIu64 " x 64 B, %" PRIu64 " x 1 MiB) from oldest to tail with no writer "
               "running; best of %d passes x %d rounds; Python: h5tier.Reader.read() returns a new numpy array per "
               "batch (ctypes call + array; the previous batch's buffer is reused when the caller dropped it), C copies "
               "into one reused buffer",
               cap64, cap1m, passes, rounds);
    return 0;
}
