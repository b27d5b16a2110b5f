/*
 * test_sigbus_rtab -- proves that a ring's writer and readers survive
 * another process truncating what they map, and say so instead of going on
 * with zeros:
 * (1) a writer process and two reader processes (one tethered, one not) run
 *     on a ring; a separate process truncates the reader table
 *     /dev/shm/.NAME.readers (every reader may write it) to 0 bytes; the
 *     writer's next put fails with an error naming the reader table and
 *     "truncated by another process", its close reports it too, and the
 *     writer reattached as the ring's owner rebuilds the table and puts
 *     again; both readers, blocked waiting for a record, return the same
 *     error instead of dying of SIGBUS (as on main) or waiting forever;
 * (2) a reader has read half of what the ring holds; a process truncates the
 *     ring's data object /dev/shm/NAME to 4096 bytes; the reader's next read
 *     fails with "truncated by another process" (never zeros as records).
 * Every process exits 0 (a status of 128+7 is death by SIGBUS).
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "tutil.h"

typedef struct {
    int fd[2];
} pp_t;
static void pp_post(pp_t *p) { CHECK(write(p->fd[1], "x", 1) == 1); }
static void pp_wait(pp_t *p)
{
    struct pollfd pf = {p->fd[0], POLLIN, 0};
    char c;
    CHECKF(poll(&pf, 1, 60000) == 1 && read(p->fd[0], &c, 1) == 1, "no word from the other process");
}

static int said_truncated(const char *what)
{
    const char *m = h5tier_errmsg();
    if (strstr(m, "truncated by another process") && strstr(m, what))
        return 1;
    fprintf(stderr, "pid %d: error does not say it: %s\n", (int)getpid(), m);
    return 0;
}

static int writer(const char *n, pp_t *ready, pp_t *go)
{
    h5tier_ring_t *w;
    if (h5tier_ring_open_writer(n, NULL, &w) < 0)
        return 3;
    for (uint64_t v = 0; v < 100; v++)
        if (h5tier_ring_put(w, 0, &v, 8) < 0)
            return 4;
    pp_post(ready);
    pp_wait(go);
    uint64_t v = 100;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) /* the first put may be the one that meets the truncation */
        rc = h5tier_ring_put(w, 0, &v, 8);
    if (rc >= 0 || !said_truncated("reader table"))
        return 5;
    if (h5tier_ring_close(w) >= 0 || !said_truncated("reader table"))
        return 6;
    if (h5tier_ring_open_writer(n, NULL, &w) < 0) { /* the owner rebuilds the table */
        fprintf(stderr, "reattach: %s\n", h5tier_errmsg());
        return 7;
    }
    if (h5tier_ring_put(w, 0, &v, 8) < 0 || h5tier_ring_close(w) < 0)
        return 8;
    return 0;
}

static int reader(const char *n, const char *tether, pp_t *ready)
{
    h5tier_ring_reader_opts_t o;
    h5tier_ring_reader_opts_init(&o);
    o.tether = tether;
    h5tier_ring_reader_t *r;
    if (h5tier_ring_reader_open(n, NULL, &o, &r) < 0)
        return 10;
    uint64_t v, seq;
    for (uint64_t i = 0; i < 100; i++)
        if (h5tier_ring_next(r, &v, 8, &seq, 10000) < 0 || v != i)
            return 11;
    pp_post(ready);
    int rc = h5tier_ring_next(r, &v, 8, &seq, 20000); /* blocks; the table is cut under it */
    if (rc >= 0 || !said_truncated("reader table"))
        return 12;
    h5tier_ring_reader_close(r);
    return 0;
}

static int data_reader(const char *n, pp_t *ready, pp_t *go)
{
    h5tier_ring_reader_t *r;
    if (h5tier_ring_reader_open(n, NULL, NULL, &r) < 0)
        return 20;
    uint64_t buf[64], seq;
    if (h5tier_ring_next_many(r, buf, 50, sizeof buf, &seq, 1000) != 50 || buf[49] != 49)
        return 21;
    pp_post(ready);
    pp_wait(go);
    long got = h5tier_ring_next_many(r, buf, 50, sizeof buf, &seq, 1000);
    if (got >= 0) {
        fprintf(stderr, "data reader: %ld records from a truncated ring (first %llu)\n", got,
                (unsigned long long)buf[0]);
        return 22;
    }
    if (!said_truncated("shm object"))
        return 23;
    h5tier_ring_reader_close(r);
    return 0;
}

static pid_t child(int (*fn)(void), int *dummy)
{
    (void)dummy;
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0)
        _exit(fn());
    return p;
}

static const char *g_name;
static pp_t g_rw, g_gw, g_r1, g_r2;
static int run_writer(void) { return writer(g_name, &g_rw, &g_gw); }
static int run_tethered(void) { return reader(g_name, "arch", &g_r1); }
static int run_lossy(void) { return reader(g_name, NULL, &g_r2); }
static int run_data(void) { return data_reader(g_name, &g_r1, &g_gw); }

static int truncate_by_other(const char *path, off_t len)
{
    pid_t t = fork();
    CHECK(t >= 0);
    if (t == 0)
        _exit(truncate(path, len) == 0 ? 0 : 1);
    return tu_wait(t);
}

int main(void)
{
    char *n = tu_shm_name("sbrtab");
    g_name = n;
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "data", "u8", 1024));
    CHECK_OK(h5tier_ring_create(n, &s, 1, 0600, H5TIER_RING_CREATE_FORCE));
    h5tier_ring_stream_spec_free(&s);
    char dpath[600], rpath[600];
    snprintf(dpath, sizeof dpath, "/dev/shm/%s", n);
    snprintf(rpath, sizeof rpath, "/dev/shm/.%s.readers", n);
    CHECK(pipe(g_rw.fd) == 0 && pipe(g_gw.fd) == 0 && pipe(g_r1.fd) == 0 && pipe(g_r2.fd) == 0);

    /* (1) the reader table under a writer and two readers */
    pid_t w = child(run_writer, NULL);
    pp_wait(&g_rw);
    pid_t r1 = child(run_tethered, NULL), r2 = child(run_lossy, NULL);
    pp_wait(&g_r1);
    pp_wait(&g_r2);
    usleep(100000); /* both readers asleep in their next */
    CHECK(truncate_by_other(rpath, 0) == 0);
    pp_post(&g_gw);
    int st = tu_wait(w);
    CHECKF(st == 0, "writer: status %d (128+%d = SIGBUS)", st, SIGBUS);
    st = tu_wait(r1);
    CHECKF(st == 0, "tethered reader: status %d", st);
    st = tu_wait(r2);
    CHECKF(st == 0, "lossy reader: status %d", st);

    /* (2) the data object under a reader (the writer is gone) */
    pid_t d = child(run_data, NULL);
    pp_wait(&g_r1);
    CHECK(truncate_by_other(dpath, 4096) == 0);
    pp_post(&g_gw);
    st = tu_wait(d);
    CHECKF(st == 0, "data reader: status %d (128+%d = SIGBUS)", st, SIGBUS);
    h5tier_ring_remove(n, 1);
    printf("all ok\n");
    return 0;
}
