/*
 * tools/cmd_top.c -- `h5tier top`: a live view, like top(1), of every ring
 * and shm file on the host, refreshed once a second: per stream records/s,
 * MB/s, tail and capacity; readers with their lag and losses; tethers
 * (lossless readers) with their lag; archivers (`h5tier ring archive`
 * processes and tethers named "archive...") with their lag; writers alive or
 * dead.  `--once` prints one sample as text, `--once --json` as JSON.
 *
 * Only public API is used: h5tier_shm_list / h5tier_shm_info for the
 * objects, h5tier_ring_info for rings.  Rates come from two samples an
 * interval apart.  Every name read from shm (ring, stream, tether, backing
 * file) and from /proc (process names) is untrusted and printed escaped
 * (h5tier__esc; in JSON, \u00NN for control characters and invalid UTF-8).
 */
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/internal.h"
#include "h5tier_ring.h"
#include "h5tier_shm.h"

/* ---- one sample of the host ------------------------------------------------------- */

typedef struct obj {
    char name[256]; /* canonical "/name" (as listed; untrusted bytes) */
    int is_ring;
    h5tier_shm_info_t shm;
    h5tier_ring_info_t ring;
    h5tier_ring_stream_info_t *streams; /* ring.nstreams entries */
} obj_t;

typedef struct sample {
    double t;
    obj_t *objs;
    size_t n, cap;
    char **filter; /* names to show (NULL: all) */
    int nfilter;
} sample_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *bare(const char *canon)
{
    return canon[0] == '/' ? canon + 1 : canon;
}

static int wanted(const sample_t *s, const char *canon)
{
    if (!s->filter)
        return 1;
    for (int i = 0; i < s->nfilter; i++) /* "name" and "/name" both match */
        if (!strcmp(bare(s->filter[i]), bare(canon)))
            return 1;
    return 0;
}

static int collect_one(const h5tier_shm_info_t *info, void *arg)
{
    sample_t *s = arg;
    if (!wanted(s, info->name))
        return 0;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        obj_t *no = realloc(s->objs, nc * sizeof *no);
        if (!no)
            return -ENOMEM;
        s->objs = no;
        s->cap = nc;
    }
    obj_t *o = &s->objs[s->n];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", info->name);
    o->shm = *info;
    if (h5tier_ring_info(info->name, &o->ring, NULL, 0) == 0 && o->ring.nstreams > 0 &&
        o->ring.nstreams <= H5TIER_RING_MAX_STREAMS) {
        o->streams = calloc(o->ring.nstreams, sizeof *o->streams);
        if (!o->streams)
            return -ENOMEM;
        if (h5tier_ring_info(info->name, &o->ring, o->streams, o->ring.nstreams) == 0) {
            o->is_ring = 1;
            if (o->ring.nstreams > H5TIER_RING_MAX_STREAMS)
                o->ring.nstreams = H5TIER_RING_MAX_STREAMS;
        } else {
            free(o->streams);
            o->streams = NULL;
        }
    }
    s->n++;
    return 0;
}

static void sample_free(sample_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->objs[i].streams);
    free(s->objs);
    s->objs = NULL;
    s->n = s->cap = 0;
}

static int sample_take(sample_t *s)
{
    sample_free(s);
    s->t = now_s();
    return h5tier_shm_list(collect_one, s);
}

/* The same stream in the previous sample (same object, generation and name). */
static const h5tier_ring_stream_info_t *prev_stream(const sample_t *p, const obj_t *o, unsigned k)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n; i++) {
        const obj_t *q = &p->objs[i];
        if (!q->is_ring || strcmp(q->name, o->name) || q->ring.nstreams <= k)
            continue;
        if (!strncmp(q->streams[k].name, o->streams[k].name, sizeof q->streams[k].name) &&
            q->streams[k].tail <= o->streams[k].tail)
            return &q->streams[k];
    }
    return NULL;
}

/* ---- untrusted text --------------------------------------------------------------- */

/* Printable form of untrusted bytes (h5tier__esc: controls, backslash and
 * invalid UTF-8 as \xNN, valid UTF-8 kept), at most inlen bytes of in. */
static const char *esc(const char *in, size_t inlen, char *buf, size_t len)
{
    return h5tier__esc(in, strnlen(in, inlen), buf, len);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t k = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if (k == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
        return 0; /* overlong, surrogate */
    if (k == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)))
        return 0; /* overlong, beyond U+10FFFF */
    return k;
}

/* JSON string of untrusted bytes (at most inlen): valid UTF-8 as is, '"' and
 * '\\' escaped, control characters and bytes of invalid UTF-8 as \u00NN (so
 * an invalid byte reads back as the Latin-1 character of that value). */
static void json_str(FILE *f, const char *in, size_t inlen)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = strnlen(in, inlen);
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t k = utf8_len(p + i, n - i);
            if (k) {
                fwrite(p + i, 1, k, f);
                i += k;
                continue;
            }
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            fputc(c, f);
        else if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else
            fprintf(f, "\\u%04x", c);
        i++;
    }
    fputc('"', f);
}

/* The process name of pid (from /proc; untrusted), "" if unknown, and
 * whether it is an archiver (`h5tier ring archive ...`). */
static void proc_name(pid_t pid, char *name, size_t len, int *archiver)
{
    char path[64], buf[512];
    *archiver = 0;
    name[0] = 0;
    if (pid <= 0)
        return;
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            buf[strcspn(buf, "\n")] = 0;
            esc(buf, (size_t)n, name, len);
        }
    }
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            /* argv: h5tier ring archive ... */
            const char *a[4] = {0};
            size_t off = 0;
            for (int k = 0; k < 4 && off < (size_t)n; k++) {
                a[k] = buf + off;
                off += strlen(buf + off) + 1;
            }
            if (a[1] && a[2] && !strcmp(a[1], "ring") && !strcmp(a[2], "archive"))
                *archiver = 1;
        }
    }
}

static int is_archive_tether(const char *name)
{
    return !strncmp(name, "archive", 7);
}

/* ---- text rendering (shared by the curses screen and --once) --------------------- */

typedef struct lines {
    char **v;
    size_t n, cap;
    int nrings, nfiles;
} lines_t;

static void add(lines_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(lines_t *l, const char *fmt, ...)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return;
        l->v = nv;
        l->cap = nc;
    }
    char *s = malloc(512);
    if (!s)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, 512, fmt, ap);
    va_end(ap);
    l->v[l->n++] = s;
}

static void lines_free(lines_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static const char *rate(double v, char *buf, size_t len)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else if (v >= 1e9)
        snprintf(buf, len, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else
        snprintf(buf, len, "%.0f", v);
    return buf;
}

static const char *mbrate(double v, char *buf, size_t len)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else if (v < 1000)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.0f", v);
    return buf;
}

#define HEADER_FMT "%-26s %-8s %-14s %9s %9s %14s %10s %10s  %s"

static void render(const sample_t *cur, const sample_t *prev, lines_t *l)
{
    double dt = prev ? cur->t - prev->t : 0;
    add(l, HEADER_FMT, "NAME", "KIND", "WRITER/PID", "REC/S", "MB/S", "TAIL/EOF", "LAG", "LOST", "INFO");
    for (size_t i = 0; i < cur->n; i++) {
        const obj_t *o = &cur->objs[i];
        char name[96], wbuf[32], sz[32], b1[32], b2[32];
        esc(bare(o->name), sizeof o->name, name, 27);
        if (!o->is_ring) {
            l->nfiles++;
            const h5tier_shm_info_t *s = &o->shm;
            if (s->writer_pid)
                snprintf(wbuf, sizeof wbuf, "%d %s", (int)s->writer_pid, s->writer_alive ? "alive" : "DEAD");
            else
                snprintf(wbuf, sizeof wbuf, "none");
            char eof[32], back[96];
            h5tier_format_size(s->eof, eof, sizeof eof);
            esc(s->backing_file, sizeof s->backing_file, back, 60);
            add(l, "%-26s %-8s %-14s %9s %9s %14s %10s %10s  %s%s%s", name, "shm", wbuf, "-", "-", eof, "-", "-",
                h5tier_format_size(s->size, sz, sizeof sz), back[0] ? ", backing " : "", back);
            continue;
        }
        l->nrings++;
        const h5tier_ring_info_t *r = &o->ring;
        if (r->writer_pid)
            snprintf(wbuf, sizeof wbuf, "%d %s", (int)r->writer_pid, r->writer_alive ? "alive" : "DEAD");
        else
            snprintf(wbuf, sizeof wbuf, "none");
        add(l, "%-26s %-8s %-14s %9s %9s %14s %10s %10s  gen %" PRIu64 ", %s, %u stream%s", name, "ring", wbuf, "",
            "", "", "", "", r->generation, h5tier_format_size(r->size, sz, sizeof sz), r->nstreams,
            r->nstreams == 1 ? "" : "s");
        for (unsigned k = 0; k < r->nstreams; k++) {
            const h5tier_ring_stream_info_t *st = &o->streams[k];
            const h5tier_ring_stream_info_t *ps = prev_stream(prev, o, k);
            double rps = ps && dt > 0 ? (double)(st->tail - ps->tail) / dt : -1;
            char sname[64], tail[32];
            esc(st->name, sizeof st->name, sname + 2, sizeof sname - 2);
            sname[0] = ' ';
            sname[1] = ' ';
            snprintf(tail, sizeof tail, "%" PRIu64, st->tail);
            add(l, "%-26s %-8s %-14s %9s %9s %14s %10s %10s  %" PRIu64 " x %" PRIu64 " B", sname, "stream", "",
                rate(rps, b1, sizeof b1), mbrate(rps * (double)st->record_size / 1e6, b2, sizeof b2),
                tail, "", "", st->capacity, st->record_size);
            for (unsigned j = 0; j < st->nreaders && j < H5TIER_RING_MAX_READERS; j++) {
                const h5tier_ring_reader_info_t *rd = &st->readers[j];
                char pn[40], pid[32], lag[32], lost[32];
                int arch;
                proc_name(rd->pid, pn, sizeof pn, &arch);
                snprintf(pid, sizeof pid, "%d%s", (int)rd->pid, rd->alive ? "" : " DEAD");
                snprintf(lag, sizeof lag, "%" PRIu64, st->tail > rd->position ? st->tail - rd->position : 0);
                snprintf(lost, sizeof lost, "%" PRIu64, rd->lost);
                add(l, "%-26s %-8s %-14s %9s %9s %14" PRIu64 " %10s %10s  %s%s%s, %" PRIu64 " laps", "",
                    arch ? "archiver" : "reader", pid, "", "", rd->position, lag, lost, pn[0] ? pn : "?",
                    rd->tethered ? ", tethered" : "", arch ? (rd->tethered ? ", lossless" : ", lossy") : "",
                    rd->laps);
            }
            for (unsigned j = 0; j < st->ntethers && j < H5TIER_RING_MAX_TETHERS; j++) {
                const h5tier_ring_tether_info_t *t = &st->tethers[j];
                char tn[64], pid[32], lag[32];
                esc(t->name, sizeof t->name, tn, sizeof tn);
                if (t->pid)
                    snprintf(pid, sizeof pid, "%d%s", (int)t->pid, t->alive ? "" : " DEAD");
                else
                    snprintf(pid, sizeof pid, "not held");
                snprintf(lag, sizeof lag, "%" PRIu64, st->tail - t->position);
                add(l, "%-26s %-8s %-14s %9s %9s %14" PRIu64 " %10s %10s  tether '%s'%s", "", "tether", pid, "", "",
                    t->position, lag, "-", tn, is_archive_tether(tn) ? " (archiver)" : "");
            }
        }
    }
}

/* ---- JSON ------------------------------------------------------------------------- */

static void print_json(const sample_t *cur, const sample_t *prev)
{
    double dt = prev ? cur->t - prev->t : 0;
    printf("{\"interval_s\": %.3f, \"rings\": [", dt);
    int first = 1;
    for (size_t i = 0; i < cur->n; i++) {
        const obj_t *o = &cur->objs[i];
        if (!o->is_ring)
            continue;
        const h5tier_ring_info_t *r = &o->ring;
        printf("%s{\"name\": ", first ? "" : ", ");
        first = 0;
        json_str(stdout, bare(o->name), sizeof o->name);
        printf(", \"generation\": %" PRIu64 ", \"writer_pid\": %d, \"writer_alive\": %s, \"heartbeat_age_s\": %.3f, "
               "\"size\": %" PRIu64 ", \"streams\": [",
               r->generation, (int)r->writer_pid, r->writer_alive ? "true" : "false", r->heartbeat_age_s, r->size);
        for (unsigned k = 0; k < r->nstreams; k++) {
            const h5tier_ring_stream_info_t *st = &o->streams[k];
            const h5tier_ring_stream_info_t *ps = prev_stream(prev, o, k);
            double rps = ps && dt > 0 ? (double)(st->tail - ps->tail) / dt : 0;
            printf("%s{\"name\": ", k ? ", " : "");
            json_str(stdout, st->name, sizeof st->name);
            printf(", \"record_size\": %" PRIu64 ", \"capacity\": %" PRIu64 ", \"tail\": %" PRIu64
                   ", \"oldest\": %" PRIu64 ", \"records_per_s\": %.1f, \"mb_per_s\": %.6f, \"readers\": [",
                   st->record_size, st->capacity, st->tail, st->oldest, rps, rps * (double)st->record_size / 1e6);
            for (unsigned j = 0; j < st->nreaders && j < H5TIER_RING_MAX_READERS; j++) {
                const h5tier_ring_reader_info_t *rd = &st->readers[j];
                char pn[40];
                int arch;
                proc_name(rd->pid, pn, sizeof pn, &arch);
                printf("%s{\"pid\": %d, \"alive\": %s, \"tethered\": %s, \"archiver\": %s, \"process\": ", j ? ", " : "",
                       (int)rd->pid, rd->alive ? "true" : "false", rd->tethered ? "true" : "false",
                       arch ? "true" : "false");
                json_str(stdout, pn, sizeof pn);
                printf(", \"position\": %" PRIu64 ", \"lag\": %" PRIu64 ", \"records\": %" PRIu64 ", \"lost\": %" PRIu64
                       ", \"laps\": %" PRIu64 "}",
                       rd->position, st->tail > rd->position ? st->tail - rd->position : 0, rd->records, rd->lost,
                       rd->laps);
            }
            printf("], \"tethers\": [");
            for (unsigned j = 0; j < st->ntethers && j < H5TIER_RING_MAX_TETHERS; j++) {
                const h5tier_ring_tether_info_t *t = &st->tethers[j];
                printf("%s{\"name\": ", j ? ", " : "");
                json_str(stdout, t->name, sizeof t->name);
                printf(", \"pid\": %d, \"alive\": %s, \"archiver\": %s, \"position\": %" PRIu64 ", \"lag\": %" PRIu64 "}",
                       (int)t->pid, t->alive ? "true" : "false", is_archive_tether(t->name) ? "true" : "false",
                       t->position, st->tail - t->position);
            }
            printf("]}");
        }
        printf("]}");
    }
    printf("], \"shm_files\": [");
    first = 1;
    for (size_t i = 0; i < cur->n; i++) {
        const obj_t *o = &cur->objs[i];
        if (o->is_ring)
            continue;
        const h5tier_shm_info_t *s = &o->shm;
        printf("%s{\"name\": ", first ? "" : ", ");
        first = 0;
        json_str(stdout, bare(o->name), sizeof o->name);
        printf(", \"size\": %" PRIu64 ", \"eof\": %" PRIu64 ", \"writer_pid\": %d, \"writer_alive\": %s, "
               "\"generation\": %" PRIu64 ", \"owner\": %u, \"mode\": \"%04o\", \"backing_file\": ",
               s->size, s->eof, (int)s->writer_pid, s->writer_alive ? "true" : "false", s->generation,
               (unsigned)s->owner, (unsigned)(s->mode & 07777));
        json_str(stdout, s->backing_file, sizeof s->backing_file);
        printf("}");
    }
    printf("]}\n");
}

/* ---- the live screen ---------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int run_curses(sample_t *cur, sample_t *prev, double interval)
{
    if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
        fprintf(stderr, "h5tier top: not a terminal; use --once (or --once --json) in scripts\n");
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    setlocale(LC_ALL, ""); /* UTF-8 names on a UTF-8 terminal (ncursesw) */
    if (!initscr()) {
        fprintf(stderr, "h5tier top: cannot initialise the terminal (TERM=%s)\n", getenv("TERM") ? getenv("TERM") : "");
        return 1;
    }
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    int offset = 0;
    double next = 0;
    while (!stop_flag) {
        if (now_s() >= next) {
            sample_t t = *prev;
            *prev = *cur;
            *cur = t;
            if (sample_take(cur) < 0) {
                endwin();
                return cli_fail("top", -errno, NULL, "listing /dev/shm");
            }
            next = cur->t + interval;
        }
        lines_t l = {0};
        render(cur, prev->t > 0 ? prev : NULL, &l);
        time_t wall = time(NULL);
        struct tm tm;
        localtime_r(&wall, &tm);
        char clock[16];
        strftime(clock, sizeof clock, "%H:%M:%S", &tm);
        erase();
        attron(A_BOLD);
        mvprintw(0, 0, "h5tier top - %s   %d ring%s, %d shm file%s   every %.1f s   q: quit  up/down: scroll", clock,
                 l.nrings, l.nrings == 1 ? "" : "s", l.nfiles, l.nfiles == 1 ? "" : "s", interval);
        attroff(A_BOLD);
        if (l.n > 0) {
            attron(A_REVERSE);
            mvaddnstr(2, 0, l.v[0], COLS);
            attroff(A_REVERSE);
        }
        int rows = LINES - 3;
        if (offset > (int)l.n - 1 - rows)
            offset = (int)l.n - 1 - rows;
        if (offset < 0)
            offset = 0;
        for (int y = 0; y < rows && (size_t)(y + 1 + offset) < l.n; y++)
            mvaddnstr(3 + y, 0, l.v[y + 1 + offset], COLS);
        refresh();
        lines_free(&l);
        double wait = next - now_s();
        timeout(wait > 0 ? (int)(wait * 1000) + 1 : 0);
        int c = getch();
        if (c == 'q' || c == 'Q')
            break;
        if (c == KEY_DOWN || c == 'j')
            offset++;
        else if (c == KEY_UP || c == 'k')
            offset--;
        else if (c == KEY_NPAGE || c == ' ')
            offset += rows;
        else if (c == KEY_PPAGE)
            offset -= rows;
    }
    endwin();
    return 0;
}

static void top_help(FILE *out)
{
    fprintf(out,
            "usage: h5tier top [--once] [--json] [--interval SEC] [NAME ...]\n"
            "\n"
            "A live view of every ring and shm file in /dev/shm (or only NAMEs), refreshed\n"
            "every second: per ring its writer (pid, alive or DEAD), per stream records/s,\n"
            "MB/s, tail and capacity, each reader's position, lag (records behind the\n"
            "tail) and losses, tethers (lossless readers) and archivers with their lag;\n"
            "per shm file its writer, size, end of file and backing file.  Keys: q quits,\n"
            "up/down/space scroll.  Names read from shared memory are printed escaped.\n"
            "\n"
            "  --once          print one sample (two looks --interval apart, for the rates)\n"
            "                  as text and exit\n"
            "  --json          with --once: print it as one JSON object\n"
            "  --interval SEC  refresh period / rate window (default 1)\n"
            "\n"
            "examples:\n"
            "  h5tier top\n"
            "  h5tier top --once --json | python3 -c 'import json,sys; print(json.load(sys.stdin))'\n"
            "  h5tier top ev run1\n");
}

int h5tier_cmd_top(int argc, char **argv)
{
    int once = 0, json = 0;
    double interval = 1.0;
    sample_t cur = {0}, prev = {0};
    char **names = calloc((size_t)argc + 1, sizeof *names);
    int nnames = 0;
    if (!names)
        return cli_fail("top", -ENOMEM, NULL, "arguments");
    static const struct option lo[] = {{"once", no_argument, 0, 'o'},
                                       {"json", no_argument, 0, 'j'},
                                       {"interval", required_argument, 0, 'i'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    cli_getopt_t p;
    cli_getopt_begin(&p, "top", argc, argv, "h", lo);
    int c;
    while ((c = cli_getopt_next(&p)) != -1) {
        switch (c) {
        case 'h':
            top_help(stdout);
            free(names);
            return 0;
        case 'o': once = 1; break;
        case 'j': json = 1; break;
        case 'i':
            if (cli_parse_number(p.arg, &interval) < 0 || interval < 0.05 || interval > 3600) {
                free(names);
                return cli_usage("top", "bad --interval '%s': expected seconds (0.05 to 3600)", p.arg);
            }
            break;
        default: free(names); return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    for (int i = p.ind; i < argc; i++)
        names[nnames++] = argv[i];
    if (json && !once) {
        free(names);
        return cli_usage("top", "--json needs --once");
    }
    if (nnames) {
        cur.filter = prev.filter = names;
        cur.nfilter = prev.nfilter = nnames;
    }
    int rc = 0;
    if (once) {
        if (sample_take(&prev) < 0) {
            rc = cli_fail("top", -ENOENT, NULL, "listing /dev/shm");
            goto out;
        }
        struct timespec ts = {(time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9)};
        nanosleep(&ts, NULL);
        if (sample_take(&cur) < 0) {
            rc = cli_fail("top", -ENOENT, NULL, "listing /dev/shm");
            goto out;
        }
        if (json) {
            print_json(&cur, &prev);
        } else {
            lines_t l = {0};
            render(&cur, &prev, &l);
            printf("h5tier top - %d ring%s, %d shm file%s, rates over %.1f s\n\n", l.nrings, l.nrings == 1 ? "" : "s",
                   l.nfiles, l.nfiles == 1 ? "" : "s", interval);
            for (size_t i = 0; i < l.n; i++) {
                size_t e = strlen(l.v[i]);
                while (e > 0 && l.v[i][e - 1] == ' ')
                    l.v[i][--e] = 0;
                printf("%s\n", l.v[i]);
            }
            lines_free(&l);
        }
    } else {
        rc = run_curses(&cur, &prev, interval);
    }
out:
    sample_free(&cur);
    sample_free(&prev);
    free(names);
    return rc;
}
