/*
 * tools/cmd_ring.c -- `h5tier ring`: create, write (synthetic producer),
 * tail, stat, rm; `archive` is tools/cmd_ring_archive.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/internal.h"
#include "h5tier_ring.h"
#include "ring/payload.h"
#include "ring/ring_internal.h"

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "1M" = 1048576 records; plain numbers too. */
static int parse_count(const char *s, uint64_t *v)
{
    if (!s)
        return -EINVAL;
    return h5tier_parse_size(s, v);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: h5tier ring <command> NAME [options]\n"
            "\n"
            "A ring is a live circular buffer with an HDF5 schema in /dev/shm/NAME (or\n"
            "$H5TIER_SHM_DIR/NAME): one writer, any number of readers, records with 64-bit\n"
            "sequence numbers.  h5dump /dev/shm/NAME reads it.\n"
            "\n"
            "commands:\n"
            "  create NAME (--dtype SPEC | --like FILE.h5:/path) --capacity N [--stream S ...]\n"
            "  write  NAME [--stream S] [--count N] [--rate HZ] [--duration SEC] [--batch N]\n"
            "  tail   NAME [--stream S] [--from oldest|latest|SEQ] [--count N] [--json] [--timeout SEC]\n"
            "  stat   NAME [--json]\n"
            "  rm     NAME [--force]\n"
            "  archive NAME OUT.h5 [--lossless] ...   (see 'h5tier ring archive --help')\n"
            "  publish NAME --bind tcp://ADDR:PORT [--curve DIR]   (fan-out over ZeroMQ)\n"
            "  subscribe tcp://HOST:PORT (--mirror NAME | --archive OUT.h5) [--lossless]\n"
            "  keygen DIR                             (CURVE keys for publish/subscribe)\n"
            "\n"
            "'h5tier ring <command> --help' shows each command's options and examples.\n");
}

/* A NAME that cannot be an shm name is a usage error (exit 2), as in `h5tier shm`. */
static int bad_name(const char *cmd, const char *name)
{
    char canon[H5TIER_SHM_NAME_MAX + 2];
    if (h5tier__shm_name_canon(name, canon, sizeof canon) == 0)
        return 0;
    return cli_usage(cmd, "bad NAME: %s", h5tier_errmsg());
}

/* ---- create ------------------------------------------------------------------ */

static void create_help(FILE *out)
{
    fprintf(out,
            "usage: h5tier ring create NAME (--dtype SPEC | --like FILE.h5:/path) --capacity N\n"
            "                          [--stream S (--dtype SPEC | --like F:/p) [--capacity N]]...\n"
            "       h5tier ring create NAME --like-file TEMPLATE.h5 [--select PATH]... --capacity N\n"
            "                          [--mode OCTAL] [--force]\n"
            "\n"
            "Create ring NAME in /dev/shm/NAME.  Each stream is a dataset at its path /S (e.g.\n"
            "/daq/events; groups are created) of shape (capacity, *record_shape).\n"
            "\n"
            "  --dtype SPEC      record type (numpy-like):  u8  f4[4]  u2[1024,1024]  >f8\n"
            "                    {seq:u8,ts:f8,adc:u2[16]} (compound; a shape after a field\n"
            "                    makes an array member)   u8,f4 (fields f0, f1)\n"
            "                    kinds: i1 i2 i4 i8 u1 u2 u4 u8 f4 f8; '>' big-endian\n"
            "  --like F.h5:/p    copy type, per-record shape (dims[1:]) and attributes of dataset /p;\n"
            "                    the stream keeps the path /p, its groups get the attributes of F's\n"
            "  --like-file T.h5  the whole template: every dataset of T whose first dimension is\n"
            "                    unlimited becomes a stream at its path; groups, attributes and the\n"
            "                    other datasets (calibration constants...) are copied as they are\n"
            "  --select PATH     with --like-file: only these datasets become streams (repeatable)\n"
            "  --capacity N      records per stream, a power of two (1024, 64k, 1M)\n"
            "  --stream S        start a new stream named S; --dtype/--like/--capacity after it\n"
            "                    describe it.  Options before the first --stream are defaults for\n"
            "                    every stream; without --stream there is one stream, named 'data'\n"
            "                    (or after the --like dataset).\n"
            "  --mode OCTAL      permissions (default 0600; 0640 lets the group read: readers need only\n"
            "                    read access, their reader table .NAME.readers gets read-write)\n"
            "  --force           replace an existing ring of that name\n"
            "\n"
            "examples:\n"
            "  h5tier ring create ev --dtype '{seq:u8,ts:f8,adc:u2[16]}' --capacity 1M\n"
            "  h5tier ring create cam --like run1.h5:/det/frames --capacity 64\n"
            "  h5tier ring create run --like-file nexus_template.h5 --capacity 64k\n"
            "  h5tier ring create exp --capacity 64k --stream events --dtype '{seq:u8,e:f4}' \\\n"
            "                         --stream images --dtype 'u2[512,512]' --capacity 32\n");
}

typedef struct sdef {
    const char *name, *dtype, *like;
    uint64_t capacity;
} sdef_t;

static int cmd_create(int argc, char **argv)
{
    const char *name = NULL;
    sdef_t def = {0}, streams[H5TIER_RING_MAX_STREAMS];
    int ns = 0, force = 0;
    mode_t mode = 0600;
    sdef_t *cur = &def;
    const char *like_file = NULL;
    const char *select[H5TIER_RING_MAX_STREAMS];
    unsigned nselect = 0;
    static const struct option lo[] = {{"stream", required_argument, 0, 's'},   {"dtype", required_argument, 0, 'd'},
                                       {"like-file", required_argument, 0, 'L'}, {"select", required_argument, 0, 'S'},
                                       {"like", required_argument, 0, 'l'},     {"capacity", required_argument, 0, 'c'},
                                       {"mode", required_argument, 0, 'm'},     {"force", no_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    cli_getopt_t p; /* options keep their order: --dtype/--capacity after --stream S belong to S */
    cli_getopt_begin(&p, "ring create", argc, argv, "h", lo);
    int c;
    while ((c = cli_getopt_next(&p)) != -1) {
        switch (c) {
        case 'h': create_help(stdout); return 0;
        case 's':
            if (ns >= H5TIER_RING_MAX_STREAMS)
                return cli_usage("ring create", "more than %d streams", H5TIER_RING_MAX_STREAMS);
            cur = &streams[ns++];
            *cur = (sdef_t){p.arg, NULL, NULL, 0};
            break;
        case 'd': cur->dtype = p.arg; cur->like = NULL; break;
        case 'l': cur->like = p.arg; cur->dtype = NULL; break;
        case 'L': like_file = p.arg; break;
        case 'S':
            if (nselect >= H5TIER_RING_MAX_STREAMS)
                return cli_usage("ring create", "more than %d --select", H5TIER_RING_MAX_STREAMS);
            select[nselect++] = p.arg;
            break;
        case 'c':
            if (parse_count(p.arg, &cur->capacity) < 0)
                return cli_usage("ring create", "bad --capacity '%s'", p.arg);
            break;
        case 'm': {
            unsigned m;
            if (cli_parse_mode(p.arg, &m) < 0)
                return cli_usage("ring create", "bad --mode '%s': expected octal permissions such as 0660", p.arg);
            if (m & 07111)
                return cli_usage("ring create", "--mode %04o: only read/write bits are allowed (no setuid, setgid, "
                                 "sticky or execute), e.g. 0600 or 0640", m);
            mode = (mode_t)m;
            break;
        }
        case 'f': force = 1; break;
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    if (p.ind < argc)
        name = argv[p.ind];
    if (p.ind + 1 < argc)
        return cli_usage("ring create", "unexpected argument '%s'", argv[p.ind + 1]);
    if (!name)
        return cli_usage("ring create", "missing NAME");
    if (bad_name("ring create", name))
        return 2;
    if (nselect && !like_file)
        return cli_usage("ring create", "--select needs --like-file TEMPLATE.h5");
    h5tier_ring_stream_spec_t specs[H5TIER_RING_MAX_STREAMS];
    int made = 0, rc = 0;
    unsigned cflags = force ? H5TIER_RING_CREATE_FORCE : 0;
    if (like_file) {
        if (ns || def.dtype || def.like)
            return cli_usage("ring create", "--like-file takes the streams from the template: no --stream, "
                             "--dtype or --like with it");
        if (!def.capacity)
            return cli_usage("ring create", "--like-file needs --capacity N (a power of two), records per stream");
        int r = h5tier_ring_streams_from_file(like_file, select, nselect, def.capacity, specs,
                                              H5TIER_RING_MAX_STREAMS);
        if (r < 0)
            return cli_fail("ring create", r, "--select PATH names the datasets to stream", "--like-file %s",
                            like_file);
        made = ns = r;
        cflags |= H5TIER_RING_CREATE_TEMPLATE;
        goto create;
    }
    if (ns == 0) {
        streams[0] = def;
        streams[0].name = NULL;
        ns = 1;
    }
    for (int k = 0; k < ns; k++) {
        sdef_t s = streams[k];
        if (!s.dtype && !s.like) {
            s.dtype = def.dtype;
            s.like = def.like;
        }
        if (!s.capacity)
            s.capacity = def.capacity;
        if (!s.dtype && !s.like) {
            rc = cli_usage("ring create", "stream %s needs --dtype SPEC or --like FILE.h5:/path",
                           s.name ? s.name : "1");
            goto done;
        }
        if (!s.capacity) {
            rc = cli_usage("ring create", "stream %s needs --capacity N (a power of two)", s.name ? s.name : "1");
            goto done;
        }
        int r = s.dtype ? h5tier_ring_stream_from_dtype(&specs[k], s.name, s.dtype, s.capacity)
                        : h5tier_ring_stream_from_like(&specs[k], s.name, s.like, s.capacity);
        if (r < 0) {
            const char *hint = NULL;
            if (strstr(h5tier_errmsg(), "capacity"))
                hint = "--capacity takes a power of two >= 2 (1024, 64k, 1M)";
            else if (s.dtype)
                hint = "see 'h5tier ring create --help' for the type grammar";
            rc = cli_fail("ring create", r, hint, "stream %s", s.name ? s.name : "1");
            goto done;
        }
        made++;
    }
create:;
    int r = h5tier_ring_create(name, specs, (unsigned)ns, mode, cflags);
    if (r < 0) {
        const char *hint = r == -EEXIST ? "add --force to replace it"
                           : r == -ENOSPC ? "a smaller --capacity, or more room in the shm directory "
                                            "(H5TIER_SHM_DIR names another tmpfs)"
                                          : NULL;
        rc = cli_fail("ring create", r, hint, "%s", name);
        goto done;
    }
    for (int k = 0; k < ns; k++) {
        char b[32];
        uint64_t rs = h5tier_ring_spec_record_size(&specs[k]);
        printf("ring %s: stream '%s': %" PRIu64 " records of %" PRIu64 " bytes (%s)\n", name, specs[k].name,
               specs[k].capacity, rs, h5tier_format_size(rs * specs[k].capacity, b, sizeof b));
    }
done:
    for (int k = 0; k < made; k++)
        h5tier_ring_stream_spec_free(&specs[k]);
    return rc;
}

/* ---- write -------------------------------------------------------------------- */

static void write_help(FILE *out)
{
    fprintf(out,
            "usage: h5tier ring write NAME [--stream S] [--count N] [--rate HZ] [--duration SEC] [--batch N]\n"
            "\n"
            "A synthetic producer for demos, tests and benchmarks.  Each record carries its\n"
            "sequence number (first 8 bytes), a pattern and a checksum (last 8 bytes), so\n"
            "'h5tier ring tail --verify' and the archive checks can prove nothing was torn.\n"
            "Without --count and --duration it writes until interrupted.\n"
            "\n"
            "  --count N       records to write (1M, 10k, ...)\n"
            "  --rate HZ       records per second (default: as fast as possible)\n"
            "  --duration SEC  stop after this many seconds\n"
            "  --batch N       records per put_many (default 1; 64 for high rates)\n"
            "  --tether-timeout MS  how long to wait for a slow lossless reader (default 5000, -1 forever)\n"
            "\n"
            "examples:\n"
            "  h5tier ring write ev --count 1M\n"
            "  h5tier ring write ev --rate 1000 --duration 10\n");
}

static int cmd_write(int argc, char **argv)
{
    const char *name = NULL, *stream = NULL;
    uint64_t count = UINT64_MAX, batch = 1;
    double rate = 0, duration = 0;
    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    static const struct option lo[] = {{"stream", required_argument, 0, 's'},   {"count", required_argument, 0, 'n'},
                                       {"batch", required_argument, 0, 'b'},    {"rate", required_argument, 0, 'r'},
                                       {"duration", required_argument, 0, 'd'},
                                       {"tether-timeout", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    cli_getopt_t p;
    cli_getopt_begin(&p, "ring write", argc, argv, "h", lo);
    int c;
    while ((c = cli_getopt_next(&p)) != -1) {
        switch (c) {
        case 'h': write_help(stdout); return 0;
        case 's': stream = p.arg; break;
        case 'n':
            if (parse_count(p.arg, &count) < 0)
                return cli_usage("ring write", "bad --count '%s'", p.arg);
            break;
        case 'b':
            if (parse_count(p.arg, &batch) < 0 || batch == 0 || batch > 1u << 20)
                return cli_usage("ring write", "bad --batch '%s'", p.arg);
            break;
        case 'r':
            if (cli_parse_number(p.arg, &rate) < 0)
                return cli_usage("ring write", "bad --rate '%s': expected records per second (0 = full speed)", p.arg);
            break;
        case 'd':
            if (cli_parse_number(p.arg, &duration) < 0 || !(duration > 0))
                return cli_usage("ring write", "bad --duration '%s': expected seconds > 0 (omit it to write until "
                                 "interrupted)", p.arg);
            break;
        case 't': {
            double ms;
            if (cli_parse_number(p.arg, &ms) < 0 || ms > 1e9)
                return cli_usage("ring write", "bad --tether-timeout '%s': expected milliseconds", p.arg);
            wo.tether_timeout_ms = (int)ms;
            break;
        }
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    if (p.ind < argc)
        name = argv[p.ind];
    if (p.ind + 1 < argc)
        return cli_usage("ring write", "unexpected argument '%s'", argv[p.ind + 1]);
    if (!name)
        return cli_usage("ring write", "missing NAME");
    if (bad_name("ring write", name))
        return 2;
    h5tier_ring_t *w;
    int r = h5tier_ring_open_writer(name, &wo, &w);
    if (r < 0)
        return cli_fail("ring write", r, r == -ENOENT ? "create it first: h5tier ring create NAME --dtype ..." : NULL,
                        "%s", name);
    int s = h5tier_ring_stream_index(w, stream);
    if (s < 0) {
        h5tier_ring_close(w);
        return cli_fail("ring write", s, NULL, "%s", name);
    }
    size_t rs = h5tier_ring_record_size(w, s);
    uint64_t cap = h5tier_ring_capacity(w, s);
    if (batch > cap)
        batch = cap;
    char *buf = malloc(rs * batch);
    if (!buf) {
        h5tier_ring_close(w);
        return cli_fail("ring write", -ENOMEM, NULL, "buffer of %zu bytes", rs * batch);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    uint64_t first = h5tier_ring_tail(w, s), done = 0;
    double t0 = now_s(), end = duration > 0 ? t0 + duration : 0;
    int rc = 0;
    while (done < count && !stop_flag) {
        uint64_t n = count - done < batch ? count - done : batch;
        uint64_t seq = h5tier_ring_tail(w, s);
        for (uint64_t k = 0; k < n; k++)
            ring_payload_fill(buf + k * rs, rs, seq + k);
        r = n == 1 ? h5tier_ring_put(w, s, buf, rs) : h5tier_ring_put_many(w, s, buf, (size_t)n, rs);
        if (r < 0) {
            rc = cli_fail("ring write", r, r == -ETIMEDOUT ? "a lossless reader is stuck: see 'h5tier ring stat'" : NULL,
                          "%s record %" PRIu64, name, seq);
            break;
        }
        done += n;
        if (rate > 0 || end > 0) {
            double t = now_s();
            if (end > 0 && t >= end)
                break;
            if (rate > 0) {
                double due = t0 + (double)done / rate;
                if (due > t) {
                    if (end > 0 && due > end)
                        due = end;
                    struct timespec ts = {(time_t)(due - t), (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
                    nanosleep(&ts, NULL);
                    h5tier_ring_heartbeat(w);
                }
            }
        }
    }
    double dt = now_s() - t0;
    char b[32];
    if (done == 0)
        fprintf(stderr, "ring %s: wrote 0 records (the tail stays at %" PRIu64 ")\n", name, first);
    else
        fprintf(stderr,
                "ring %s: wrote %" PRIu64 " records (seq %" PRIu64 "..%" PRIu64 ") in %.3f s: %.3f M records/s, %s/s\n",
                name, done, first, first + done - 1, dt, dt > 0 ? (double)done / dt / 1e6 : 0.0,
                h5tier_format_size((uint64_t)(dt > 0 ? (double)done * (double)rs / dt : 0), b, sizeof b));
    free(buf);
    h5tier_ring_close(w);
    return rc;
}

/* ---- tail ------------------------------------------------------------------------ */

/* Print one value of type t at p as JSON (json) or text. *budget limits the
 * elements printed; returns 1 when something was cut. */
static int print_value(FILE *o, hid_t t, const unsigned char *p, int json, long *budget)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    int cut = 0;
    if (c == H5T_INTEGER || c == H5T_FLOAT || c == H5T_ENUM || c == H5T_BITFIELD) {
        unsigned char v[16];
        int big = H5Tget_order(t) == H5T_ORDER_BE;
        for (size_t k = 0; k < sz && k < sizeof v; k++)
            v[k] = big ? p[sz - 1 - k] : p[k];
        if (c == H5T_FLOAT) {
            double d = 0;
            if (sz == 4) {
                float f;
                memcpy(&f, v, 4);
                d = f;
            } else if (sz == 8) {
                memcpy(&d, v, 8);
            }
            if (json && (d != d || d - d != 0))
                fprintf(o, "null");
            else
                fprintf(o, "%.17g", d);
        } else {
            int sgn = c == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_2;
            uint64_t u = 0;
            for (size_t k = 0; k < sz && k < 8; k++)
                u |= (uint64_t)v[k] << (8 * k);
            if (sgn && sz < 8 && (u >> (8 * sz - 1)) & 1)
                u |= ~UINT64_C(0) << (8 * sz);
            if (sgn)
                fprintf(o, "%" PRId64, (int64_t)u);
            else
                fprintf(o, "%" PRIu64, u);
        }
        (*budget)--;
    } else if (c == H5T_COMPOUND) {
        int n = H5Tget_nmembers(t);
        fputc('{', o);
        for (int k = 0; k < n; k++) {
            char *mn = H5Tget_member_name(t, (unsigned)k);
            hid_t mt = H5Tget_member_type(t, (unsigned)k);
            size_t off = H5Tget_member_offset(t, (unsigned)k);
            fputs(k ? ", " : "", o);
            if (json) {
                fputc('"', o);
                for (const unsigned char *q = (const unsigned char *)(mn ? mn : "?"); *q; q++)
                    fprintf(o, (*q < 32 || *q == '"' || *q == '\\' || *q > 126) ? "\\u%04x" : "%c", *q);
                fputs("\": ", o);
            } else {
                char e[256];
                fprintf(o, "%s=", h5tier__esc(mn ? mn : "?", (size_t)-1, e, sizeof e));
            }
            cut |= print_value(o, mt, p + off, json, budget);
            H5Tclose(mt);
            H5free_memory(mn);
        }
        fputc('}', o);
    } else if (c == H5T_ARRAY) {
        hid_t bt = H5Tget_super(t);
        size_t bs = H5Tget_size(bt);
        size_t n = bs ? sz / bs : 0;
        fputc('[', o);
        for (size_t k = 0; k < n; k++) {
            if (*budget <= 0) {
                cut = 1;
                if (!json)
                    fprintf(o, ", ...");
                break;
            }
            if (k)
                fprintf(o, ", ");
            cut |= print_value(o, bt, p + k * bs, json, budget);
        }
        fputc(']', o);
        H5Tclose(bt);
    } else if (c == H5T_STRING) {
        fputc('"', o);
        for (size_t k = 0; k < sz && p[k]; k++)
            fprintf(o, (p[k] < 32 || p[k] == '"' || p[k] == '\\' || p[k] > 126) ? "\\u%04x" : "%c", p[k]);
        fputc('"', o);
        (*budget)--;
    } else {
        fputc('"', o);
        for (size_t k = 0; k < sz; k++)
            fprintf(o, "%02x", p[k]);
        fputc('"', o);
        (*budget)--;
    }
    return cut;
}

static void tail_help(FILE *out)
{
    fprintf(out,
            "usage: h5tier ring tail NAME [--stream S] [--from oldest|latest|SEQ] [--count N]\n"
            "                        [--json] [--timeout SEC] [--verify] [--tether T] [--max-elems N]\n"
            "\n"
            "Print records as they arrive.  Text: 'seq VALUE'; --json: one object per line,\n"
            "{\"seq\": N, \"data\": VALUE} where VALUE is an object for compounds, an array for\n"
            "records with a shape, a number otherwise; a record after a gap (the reader was\n"
            "lapped) carries \"lost\": K, a record cut by --max-elems \"truncated\": true, and\n"
            "with --verify \"ok\": true|false (payload of 'ring write').\n"
            "\n"
            "  --from WHERE   oldest (default), latest (only new records), or a sequence number\n"
            "  --count N      stop after N records (default: until interrupted or --timeout)\n"
            "  --timeout SEC  give up when no record comes for SEC seconds (exit 0 if at least\n"
            "                 one record was printed, else 1)\n"
            "  --verify       check each record's embedded sequence number and checksum\n"
            "  --tether T     read losslessly: the writer waits for this reader (named T)\n"
            "  --max-elems N  print at most N elements of a record (default 64)\n"
            "\n"
            "examples:\n"
            "  h5tier ring tail ev --from latest --count 10\n"
            "  h5tier ring tail ev --json --count 100 | python3 -c 'import sys,json; ...'\n"
            "  h5tier ring tail ev --from 123456 --verify --timeout 2\n");
}

static int cmd_tail(int argc, char **argv)
{
    const char *name = NULL, *stream = NULL, *tether = NULL;
    uint64_t count = UINT64_MAX;
    int json = 0, verify = 0;
    double timeout = -1;
    long max_elems = 64;
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    static const struct option lo[] = {{"stream", required_argument, 0, 's'},   {"from", required_argument, 0, 'F'},
                                       {"count", required_argument, 0, 'n'},    {"timeout", required_argument, 0, 't'},
                                       {"max-elems", required_argument, 0, 'e'},
                                       {"tether", required_argument, 0, 'T'},   {"json", no_argument, 0, 'j'},
                                       {"verify", no_argument, 0, 'v'},         {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    cli_getopt_t p;
    cli_getopt_begin(&p, "ring tail", argc, argv, "h", lo);
    int c;
    while ((c = cli_getopt_next(&p)) != -1) {
        switch (c) {
        case 'h': tail_help(stdout); return 0;
        case 's': stream = p.arg; break;
        case 'F': {
            const char *f = p.arg;
            if (!strcmp(f, "oldest"))
                ro.from = H5TIER_RING_FROM_OLDEST;
            else if (!strcmp(f, "latest"))
                ro.from = H5TIER_RING_FROM_LATEST;
            else {
                char *e;
                errno = 0;
                ro.seq = strtoull(f, &e, 10);
                if (*e || !*f || *f < '0' || *f > '9' || errno == ERANGE)
                    return cli_usage("ring tail", "--from takes oldest, latest or a sequence number (0 .. 2^64-1), "
                                     "not '%s'", f);
                ro.from = H5TIER_RING_FROM_SEQ;
            }
            break;
        }
        case 'n':
            if (parse_count(p.arg, &count) < 0)
                return cli_usage("ring tail", "bad --count '%s'", p.arg);
            break;
        case 't':
            if (cli_parse_number(p.arg, &timeout) < 0 || timeout > 2e6)
                return cli_usage("ring tail", "bad --timeout '%s': expected seconds (0 = print what is there and "
                                 "stop)", p.arg);
            break;
        case 'e': {
            double me;
            if (cli_parse_number(p.arg, &me) < 0 || me > 1e9 || me != (double)(long)me)
                return cli_usage("ring tail", "bad --max-elems '%s': expected a whole number", p.arg);
            max_elems = (long)me;
            break;
        }
        case 'T': tether = p.arg; break;
        case 'j': json = 1; break;
        case 'v': verify = 1; break;
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    if (p.ind < argc)
        name = argv[p.ind];
    if (p.ind + 1 < argc)
        return cli_usage("ring tail", "unexpected argument '%s'", argv[p.ind + 1]);
    if (!name)
        return cli_usage("ring tail", "missing NAME");
    if (bad_name("ring tail", name))
        return 2;
    ro.tether = tether;
    h5tier_ring_reader_t *r;
    int rc = h5tier_ring_reader_open(name, stream, &ro, &r);
    if (rc < 0)
        return cli_fail("ring tail", rc, rc == -H5TIER_EGONE ? "use --from oldest" : NULL, "%s", name);
    if (ro.from == H5TIER_RING_FROM_SEQ) {
        h5tier_ring_reader_stats_t st0;
        h5tier_ring_reader_stats(r, &st0);
        if (ro.seq > st0.tail)
            fprintf(stderr, "ring %s: waiting for record %" PRIu64 " (the tail is at %" PRIu64 ")\n", name, ro.seq,
                    st0.tail);
    }
    hid_t type;
    int rank;
    hsize_t dims[H5TIER_RING_MAX_RANK];
    rc = h5tier_ring_reader_schema(r, &type, &rank, dims);
    if (rc < 0) {
        h5tier_ring_reader_close(r);
        return cli_fail("ring tail", rc, NULL, "%s: schema", name);
    }
    if (rank > 0) { /* print a record with a shape as a flat array of elements */
        hsize_t n = 1;
        for (int k = 0; k < rank; k++)
            n *= dims[k];
        hid_t at = H5Tarray_create2(type, 1, &n);
        H5Tclose(type);
        type = at;
    }
    size_t rs = h5tier_ring_reader_record_size(r);
    if (type < 0 || H5Tget_size(type) != rs) { /* print_value reads H5Tget_size(type) bytes of each record */
        if (type >= 0)
            H5Tclose(type);
        h5tier_ring_reader_close(r);
        return cli_fail("ring tail", -H5TIER_EMAGIC, NULL,
                        "%s: control block corrupted: records of %zu bytes, the schema says otherwise", name, rs);
    }
    unsigned char *buf = malloc(rs);
    if (!buf) {
        H5Tclose(type);
        h5tier_ring_reader_close(r);
        return cli_fail("ring tail", -ENOMEM, NULL, "buffer of %zu bytes", rs);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_DFL);
    uint64_t got = 0, expect = UINT64_MAX, bad = 0;
    int status = 0;
    int tmo = timeout < 0 ? 200 : (int)(timeout * 1000);
    double last = now_s();
    while (got < count && !stop_flag) {
        uint64_t seq;
        rc = h5tier_ring_next(r, buf, rs, &seq, tmo);
        if (rc == -EAGAIN) /* --timeout 0: nothing more now */
            rc = -ETIMEDOUT;
        if (rc == -ETIMEDOUT) {
            if (timeout >= 0 && now_s() - last >= timeout) {
                if (got == 0)
                    status = cli_fail("ring tail", rc, NULL, "%s: no record within %.3g s", name, timeout);
                break;
            }
            continue;
        }
        if (rc == -EINTR)
            continue;
        if (rc < 0) {
            status = cli_fail("ring tail", rc, NULL, "%s", name);
            break;
        }
        last = now_s();
        uint64_t lost = expect != UINT64_MAX && seq > expect ? seq - expect : 0;
        expect = seq + 1;
        int ok = 1;
        if (verify) {
            uint64_t s2 = seq;
            ok = ring_payload_check(buf, rs, &s2) && s2 == seq;
            bad += !ok;
        }
        long budget = max_elems;
        if (json) {
            printf("{\"seq\": %" PRIu64 ", \"data\": ", seq);
            int cut = print_value(stdout, type, buf, 1, &budget);
            if (lost)
                printf(", \"lost\": %" PRIu64, lost);
            if (cut)
                printf(", \"truncated\": true");
            if (verify)
                printf(", \"ok\": %s", ok ? "true" : "false");
            printf("}\n");
        } else {
            if (lost)
                printf("# lost %" PRIu64 " records (lapped)\n", lost);
            printf("%" PRIu64 " ", seq);
            print_value(stdout, type, buf, 0, &budget);
            if (verify && !ok)
                printf("  # CHECKSUM MISMATCH");
            printf("\n");
        }
        got++;
    }
    fflush(stdout);
    h5tier_ring_reader_stats_t st;
    h5tier_ring_reader_stats(r, &st);
    if (!json || isatty(STDERR_FILENO) || verify)
        fprintf(stderr, "ring %s: %" PRIu64 " records, %" PRIu64 " lost in %" PRIu64 " laps%s\n", name, st.records,
                st.lost, st.laps, verify ? (bad ? ", CHECKSUM ERRORS" : ", all verified") : "");
    free(buf);
    H5Tclose(type);
    h5tier_ring_reader_close(r);
    if (verify && bad)
        return 1;
    return status;
}

/* ---- stat ------------------------------------------------------------------------ */

/* Names read from shared memory, printed safely: text escaped (\xNN), JSON
 * strings with every byte outside 0x20..0x7e as \u00NN. */
static const char *esc(const char *s, size_t max, char *buf, size_t len) { return ring__esc(s, max, buf, len); }

static void json_str(const char *s, size_t max)
{
    putchar('"');
    for (size_t i = 0; i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int cmd_stat(int argc, char **argv)
{
    const char *name = NULL;
    int json = 0;
    static const struct option lo[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_getopt_t p;
    cli_getopt_begin(&p, "ring stat", argc, argv, "h", lo);
    int c;
    while ((c = cli_getopt_next(&p)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: h5tier ring stat NAME [--json]\n"
                   "\n"
                   "Show a ring: generation, writer pid (alive/dead) and heartbeat age; per stream the\n"
                   "tail, the oldest record, readers (position, records, laps, lost) and tethered\n"
                   "(lossless) readers with their lag (the archive lag of a tethered archiver).\n"
                   "\n"
                   "examples:\n"
                   "  h5tier ring stat ev\n"
                   "  watch -n1 h5tier ring stat ev\n");
            return 0;
        case 'j': json = 1; break;
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    if (p.ind < argc)
        name = argv[p.ind];
    if (p.ind + 1 < argc)
        return cli_usage("ring stat", "unexpected argument '%s'", argv[p.ind + 1]);
    if (!name)
        return cli_usage("ring stat", "missing NAME");
    if (bad_name("ring stat", name))
        return 2;
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t *si = calloc(H5TIER_RING_MAX_STREAMS, sizeof *si);
    if (!si)
        return cli_fail("ring stat", -ENOMEM, NULL, "%s", name);
    int r = h5tier_ring_info(name, &info, si, H5TIER_RING_MAX_STREAMS);
    if (r < 0) {
        free(si);
        return cli_fail("ring stat", r, r == -H5TIER_EMAGIC ? "is it a plain shm file? try 'h5tier shm info'" : NULL,
                        "%s", name);
    }
    if (json) {
        printf("{\"name\": ");
        json_str(info.name, sizeof info.name);
        printf(", \"version\": %u, \"generation\": %" PRIu64 ", \"writer_pid\": %d, "
               "\"writer_alive\": %s, \"heartbeat_age_s\": %.3f, \"size\": %" PRIu64 ", \"streams\": [",
               info.version, info.generation, (int)info.writer_pid, info.writer_alive ? "true" : "false",
               info.heartbeat_age_s, info.size);
        for (unsigned i = 0; i < info.nstreams; i++) {
            h5tier_ring_stream_info_t *s = &si[i];
            printf("%s{\"name\": ", i ? ", " : "");
            json_str(s->name, sizeof s->name);
            printf(", \"record_size\": %" PRIu64 ", \"capacity\": %" PRIu64 ", \"tail\": %" PRIu64
                   ", \"oldest\": %" PRIu64 ", \"waiters\": %u, \"readers\": [",
                   s->record_size, s->capacity, s->tail, s->oldest, s->waiters);
            for (unsigned k = 0; k < s->nreaders; k++)
                printf("%s{\"pid\": %d, \"alive\": %s, \"tethered\": %s, \"position\": %" PRIu64 ", \"records\": %" PRIu64
                       ", \"lost\": %" PRIu64 ", \"laps\": %" PRIu64 "}",
                       k ? ", " : "", (int)s->readers[k].pid, s->readers[k].alive ? "true" : "false",
                       s->readers[k].tethered ? "true" : "false", s->readers[k].position, s->readers[k].records,
                       s->readers[k].lost, s->readers[k].laps);
            printf("], \"tethers\": [");
            for (unsigned k = 0; k < s->ntethers; k++) {
                printf("%s{\"name\": ", k ? ", " : "");
                json_str(s->tethers[k].name, sizeof s->tethers[k].name);
                printf(", \"pid\": %d, \"alive\": %s, \"position\": %" PRIu64 ", \"lag\": %" PRIu64 "}",
                       (int)s->tethers[k].pid, s->tethers[k].alive ? "true" : "false", s->tethers[k].position,
                       s->tail > s->tethers[k].position ? s->tail - s->tethers[k].position : 0);
            }
            printf("]}");
        }
        printf("]}\n");
    } else {
        char b[32];
        char e[4 * sizeof info.name + 8];
        printf("ring %s: format %u, generation %" PRIu64 ", %s in %s\n", esc(info.name, sizeof info.name, e, sizeof e),
               info.version, info.generation, h5tier_format_size(info.size, b, sizeof b), h5tier__shm_dir());
        if (info.writer_pid)
            printf("  writer: pid %d, %s, heartbeat %.3f s ago\n", (int)info.writer_pid,
                   info.writer_alive ? "alive" : "DEAD", info.heartbeat_age_s);
        else
            printf("  writer: none attached\n");
        for (unsigned i = 0; i < info.nstreams; i++) {
            h5tier_ring_stream_info_t *s = &si[i];
            char holds[64];
            if (s->tail)
                snprintf(holds, sizeof holds, "holds %" PRIu64 "..%" PRIu64, s->oldest, s->tail - 1);
            else
                snprintf(holds, sizeof holds, "empty");
            printf("  stream '%s': %" PRIu64 " x %" PRIu64 " B, tail %" PRIu64 ", %s, %u sleeping reader(s)\n",
                   esc(s->name, sizeof s->name, e, sizeof e), s->capacity, s->record_size, s->tail, holds,
                   s->waiters);
            for (unsigned k = 0; k < s->nreaders; k++)
                printf("    reader pid %d%s%s: position %" PRIu64 " (lag %" PRIu64 "), %" PRIu64 " records, %" PRIu64
                       " lost in %" PRIu64 " laps\n",
                       (int)s->readers[k].pid, s->readers[k].alive ? "" : " (dead)",
                       s->readers[k].tethered ? " tethered" : "", s->readers[k].position,
                       s->tail > s->readers[k].position ? s->tail - s->readers[k].position : 0, s->readers[k].records,
                       s->readers[k].lost, s->readers[k].laps);
            for (unsigned k = 0; k < s->ntethers; k++)
                printf("    tether '%s' (pid %d%s): released up to %" PRIu64 ", lag %" PRIu64 " records\n",
                       esc(s->tethers[k].name, sizeof s->tethers[k].name, e, sizeof e), (int)s->tethers[k].pid,
                       s->tethers[k].pid == 0 ? ", not held" : s->tethers[k].alive ? "" : ", dead",
                       s->tethers[k].position, s->tail > s->tethers[k].position ? s->tail - s->tethers[k].position : 0);
        }
    }
    free(si);
    return 0;
}

/* ---- rm -------------------------------------------------------------------------- */

static int cmd_rm(int argc, char **argv)
{
    const char *name = NULL;
    int force = 0;
    static const struct option lo[] = {{"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_getopt_t p;
    cli_getopt_begin(&p, "ring rm", argc, argv, "h", lo);
    int c;
    while ((c = cli_getopt_next(&p)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: h5tier ring rm NAME [--force]\n"
                   "\n"
                   "Remove ring NAME from /dev/shm.  Refuses while a live writer is attached unless\n"
                   "--force; processes that have it mapped keep their mapping until they close.\n"
                   "\n"
                   "example:\n"
                   "  h5tier ring rm ev\n");
            return 0;
        case 'f': force = 1; break;
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    if (p.ind < argc)
        name = argv[p.ind];
    if (p.ind + 1 < argc)
        return cli_usage("ring rm", "unexpected argument '%s'", argv[p.ind + 1]);
    if (!name)
        return cli_usage("ring rm", "missing NAME");
    if (bad_name("ring rm", name)) /* a bad name is a usage error (2), as in 'shm rm' */
        return 2;
    int r = h5tier_ring_remove(name, force);
    if (r < 0)
        return cli_fail("ring rm", r, r == -EBUSY ? "stop the writer, or add --force" : NULL, "%s", name);
    return 0;
}

int h5tier_cmd_ring(int argc, char **argv)
{
    /* errors come back as h5tier errors with one explanation; the HDF5 stack would bury it */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (cli_is_help(c)) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "create"))
        return cmd_create(argc - 1, argv + 1);
    if (!strcmp(c, "write"))
        return cmd_write(argc - 1, argv + 1);
    if (!strcmp(c, "tail"))
        return cmd_tail(argc - 1, argv + 1);
    if (!strcmp(c, "stat"))
        return cmd_stat(argc - 1, argv + 1);
    if (!strcmp(c, "rm"))
        return cmd_rm(argc - 1, argv + 1);
    if (!strcmp(c, "archive"))
        return h5tier_cmd_ring_archive(argc - 1, argv + 1);
    if (!strcmp(c, "publish") || !strcmp(c, "subscribe") || !strcmp(c, "keygen"))
        return h5tier_cmd_ring_net(argc - 1, argv + 1); /* tools/cmd_ring_net.c */
    fprintf(stderr, "h5tier ring: unknown command '%s'\n", c);
    usage(stderr);
    return 2;
}
