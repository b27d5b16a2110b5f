/*
 * bench/bench_net.c -- ring fan-out over ZeroMQ on loopback, side by side
 * with ZeroMQ's own PUSH/PULL (the transport's limit) in the same run, for
 * records of 64 B, 4 KiB and 1 MiB:
 *   raw       PUSH -> PULL, one message per record, TCP loopback
 *   lossy     ring writer -> h5tier_net_publish -> h5tier_net_subscribe ->
 *             mirror ring; records delivered into the mirror per second
 *             (the writer runs flat out; what the lossy path cannot carry is
 *             lost and counted)
 *   lossless  the same with a lossless subscriber (tethered, credit): the
 *             writer is held back, nothing is lost
 * and the latency from a put on the publisher's ring to the record's
 * arrival in the mirror (p50 / p99, 64 B records at 2000/s).  Goals (issue
 * 11): >= 0.8x raw at 4 KiB and 1 MiB, >= 10 M records/s at 64 B,
 * lossless >= 0.7x lossy.  H5TIER_BENCH_QUICK=1: about 10 s.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "benchutil.h"
#include "h5tier_net.h"
#include "h5tier_ring.h"

static int free_port(void)
{
    static int next;
    if (!next)
        next = 30000 + (int)(getpid() % 20000);
    return next++;
}

/* ---- raw ZeroMQ ------------------------------------------------------------------------- */

typedef struct rawarg {
    const char *ep;
    size_t size;
    uint64_t n;
} rawarg_t;

static void *raw_push(void *p)
{
    rawarg_t *a = p;
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
    zmq_connect(s, a->ep);
    char *buf = malloc(a->size);
    bench_fill(buf, a->size, 1);
    for (uint64_t i = 0; i < a->n; i++)
        zmq_send(s, buf, a->size, 0);
    free(buf);
    int l = -1;
    zmq_setsockopt(s, ZMQ_LINGER, &l, sizeof l);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return NULL;
}

static double raw_rate(size_t size, uint64_t n)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", free_port());
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PULL);
    zmq_bind(s, ep);
    rawarg_t a = {ep, size, n};
    pthread_t t;
    char *buf = malloc(size);
    pthread_create(&t, NULL, raw_push, &a);
    zmq_recv(s, buf, size, 0);
    double t0 = bench_now();
    for (uint64_t i = 1; i < n; i++)
        zmq_recv(s, buf, size, 0);
    double dt = bench_now() - t0;
    pthread_join(t, NULL);
    free(buf);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return (double)(n - 1) / dt;
}

/* ---- through h5tier -------------------------------------------------------------------------- */

typedef struct nets {
    char ring[64], mirror[64], ep[64];
    volatile sig_atomic_t stop_pub, stop_sub;
    int lossless;
    h5tier_net_stats_t pst, sst;
    int prc, src;
} nets_t;

static void *pub_thread(void *p)
{
    nets_t *n = p;
    h5tier_net_pub_opts_t o;
    h5tier_net_pub_opts_init(&o);
    o.bind = n->ep;
    o.stop = &n->stop_pub;
    o.batch_bytes = 1u << 20;
    n->prc = h5tier_net_publish(n->ring, &o, &n->pst);
    return NULL;
}

static void *sub_thread(void *p)
{
    nets_t *n = p;
    h5tier_net_sub_opts_t o;
    h5tier_net_sub_opts_init(&o);
    o.connect = n->ep;
    o.mirror = n->mirror;
    o.force = 1;
    o.lossless = n->lossless;
    o.id = "bench";
    o.window = 1u << 20;
    o.stop = &n->stop_sub;
    n->src = h5tier_net_subscribe(&o, &n->sst);
    return NULL;
}

static uint64_t mirror_tail(const char *m)
{
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    return h5tier_ring_info(m, &info, &si, 1) == 0 ? si.tail : 0;
}

/* Records per second delivered into the mirror (and the fraction lost), or the latency
   percentiles when lat != NULL. */
static double through(size_t size, uint64_t n, int lossless, double *lost_frac, double *lat)
{
    nets_t *ns = calloc(1, sizeof *ns);
    snprintf(ns->ring, sizeof ns->ring, "h5t-bnet-%d", (int)getpid());
    snprintf(ns->mirror, sizeof ns->mirror, "h5t-bnetm-%d", (int)getpid());
    snprintf(ns->ep, sizeof ns->ep, "tcp://127.0.0.1:%d", free_port());
    ns->lossless = lossless;
    uint64_t cap = 1;
    while (cap * size < (32u << 20) && cap < (1u << 20))
        cap *= 2;
    if (cap < 8)
        cap = 8;
    char dt[32];
    snprintf(dt, sizeof dt, "u1[%zu]", size);
    h5tier_ring_stream_spec_t sp;
    h5tier_ring_stream_from_dtype(&sp, "data", dt, cap);
    if (h5tier_ring_create(ns->ring, &sp, 1, 0600, H5TIER_RING_CREATE_FORCE) < 0) {
        fprintf(stderr, "bench_net: %s\n", h5tier_errmsg());
        exit(1);
    }
    h5tier_ring_stream_spec_free(&sp);
    h5tier_ring_remove(ns->mirror, 1);
    pthread_t pt, st;
    pthread_create(&pt, NULL, pub_thread, ns);
    usleep(100000);
    pthread_create(&st, NULL, sub_thread, ns);
    for (int i = 0; i < 500; i++) {
        h5tier_ring_info_t info;
        if (h5tier_ring_info(ns->mirror, &info, NULL, 0) == 0 && info.writer_pid)
            break;
        usleep(10000);
    }
    usleep(200000); /* START reached the publisher: its reader (and tether) exist */
    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    wo.tether_timeout_ms = 20000;
    h5tier_ring_t *w;
    h5tier_ring_open_writer(ns->ring, &wo, &w);
    size_t batch = size >= (1u << 20) ? 1 : (1u << 20) / size;
    if (batch > cap / 4)
        batch = cap / 4;
    char *buf = malloc(batch * size);
    bench_fill(buf, batch * size, 2);
    double result = 0;
    double t0 = bench_now();
    if (lat) {
        /* 64 B at 2000/s: each record carries its put time; a mirror reader measures arrival */
        h5tier_ring_reader_opts_t ro;
        h5tier_ring_reader_opts_init(&ro);
        ro.from = H5TIER_RING_FROM_LATEST;
        ro.batch_wait_ns = 0;
        h5tier_ring_reader_t *r;
        h5tier_ring_reader_open(ns->mirror, NULL, &ro, &r);
        uint64_t m = n;
        double *d = malloc(m * sizeof *d);
        uint64_t got = 0;
        for (uint64_t i = 0; i < m; i++) {
            double ts = bench_now();
            memcpy(buf, &ts, sizeof ts);
            h5tier_ring_put(w, 0, buf, size);
            char rb[64];
            uint64_t seq;
            if (h5tier_ring_next(r, rb, sizeof rb, &seq, 1000) == 0) {
                double sent;
                memcpy(&sent, rb, sizeof sent);
                d[got++] = bench_now() - sent;
            }
            while (bench_now() - ts < 0.0005)
                ;
        }
        h5tier_ring_reader_close(r);
        for (uint64_t i = 1; i < got; i++) /* insertion sort is fine for a few thousand */
            for (uint64_t j = i; j > 0 && d[j] < d[j - 1]; j--) {
                double x = d[j];
                d[j] = d[j - 1];
                d[j - 1] = x;
            }
        lat[0] = got ? d[got / 2] * 1e6 : 0;
        lat[1] = got ? d[got * 99 / 100] * 1e6 : 0;
        free(d);
    } else {
        for (uint64_t i = 0; i < n; i += batch)
            h5tier_ring_put_many(w, 0, buf, (size_t)(n - i < batch ? n - i : batch), size);
        /* until the mirror stops growing */
        uint64_t last = mirror_tail(ns->mirror);
        double tlast = bench_now();
        while (bench_now() - tlast < 0.3 && last < n) {
            usleep(200);
            uint64_t t = mirror_tail(ns->mirror);
            if (t != last) {
                last = t;
                tlast = bench_now();
            }
        }
        result = (double)last / (tlast - t0);
        if (lost_frac)
            *lost_frac = 1.0 - (double)last / (double)n;
    }
    double tw = bench_now() - t0;
    (void)tw;
    ns->stop_sub = 1;
    pthread_join(st, NULL);
    ns->stop_pub = 1;
    pthread_join(pt, NULL);
    h5tier_ring_close(w);
    free(buf);
    h5tier_ring_untether(ns->ring, NULL, "net-bench");
    h5tier_ring_remove(ns->ring, 1);
    h5tier_ring_remove(ns->mirror, 1);
    if (ns->prc < 0 || ns->src < 0)
        fprintf(stderr, "bench_net: publisher %d subscriber %d: %s\n", ns->prc, ns->src, h5tier_errmsg());
    free(ns);
    return result;
}

int main(int argc, char **argv)
{
    int quick = bench_quick(argc, argv);
    struct {
        size_t size;
        uint64_t n;
    } cases[] = {{64, quick ? 2000000 : 10000000}, {4096, quick ? 50000 : 400000}, {1u << 20, quick ? 300 : 2000}};
    printf("ring fan-out over ZeroMQ, TCP loopback (publisher -> subscriber -> mirror ring)\n");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t sz = cases[c].size;
        uint64_t n = cases[c].n;
        double raw = raw_rate(sz, n > 2000000 ? 2000000 : n);
        double lostf = 0, lostf2 = 0;
        double lossy = through(sz, n, 0, &lostf, NULL);
        double lossless = through(sz, n, 1, &lostf2, NULL);
        char name[64];
        printf("  %7zu B: raw PUSH/PULL %.3g msg/s (%.0f MB/s); lossy %.3g rec/s (%.0f MB/s, %.1f%% lost); "
               "lossless %.3g rec/s (%.0f MB/s)\n",
               sz, raw, raw * sz / 1e6, lossy, lossy * sz / 1e6, 100 * lostf, lossless, lossless * sz / 1e6);
        snprintf(name, sizeof name, "lossy %zu B rec/s", sz);
        bench_result("net", name, lossy, "rec/s", "zmq PUSH/PULL msg/s", raw, sz >= 4096 ? GOAL_GE : GOAL_NONE,
                     sz >= 4096 ? 0.8 : 0);
        snprintf(name, sizeof name, "lossless %zu B rec/s vs raw", sz);
        bench_result("net", name, lossless, "rec/s", "zmq PUSH/PULL msg/s", raw, sz >= 4096 ? GOAL_GE : GOAL_NONE,
                     sz >= 4096 ? 0.8 : 0);
        snprintf(name, sizeof name, "lossless %zu B rec/s", sz);
        bench_result("net", name, lossless, "rec/s", "lossy rec/s", lossy, GOAL_GE, 0.7);
        if (sz == 64) {
            bench_result("net", "lossy 64 B rec/s vs 10 M/s", lossy, "rec/s", "10 M rec/s goal", 10e6, GOAL_GE, 1.0);
            bench_result("net", "lossless 64 B rec/s vs 10 M/s", lossless, "rec/s", "10 M rec/s goal", 10e6, GOAL_GE,
                         1.0);
        }
    }
    double lat[2] = {0, 0};
    through(64, quick ? 1000 : 5000, 0, NULL, lat);
    printf("  latency put -> mirror, 64 B at 2000/s: p50 %.0f us, p99 %.0f us\n", lat[0], lat[1]);
    bench_result("net", "latency p50 us", lat[0], "us", NULL, 0, GOAL_NONE, 0);
    bench_result("net", "latency p99 us", lat[1], "us", NULL, 0, GOAL_NONE, 0);
    bench_note("net", "TCP loopback on this machine (2 cores shared); raw = ZeroMQ PUSH/PULL, one message per "
                      "record; ours batches records (up to 1 MiB per message) and writes them into a mirror ring");
    return 0;
}
