/*
 * tools/cmd_ring_archive.c -- `h5tier ring archive NAME OUT.h5 ...`: follow
 * a ring's streams into a disk HDF5 file with the same schema (lossy, or
 * lossless as a tethered reader).  argv starts at "archive".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "h5tier.h"
#include "h5tier_archive.h"
#include "h5tier_ring.h"

#define CMD "ring archive"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: h5tier ring archive NAME OUT.h5 [options]\n"
            "       h5tier ring archive --convert OLD.h5   (format-1 archive: S_seq/S_lost -> /.h5tier)\n"
            "\n"
            "Append the records of ring NAME to OUT.h5, a disk HDF5 file with the same schema:\n"
            "for each stream /S the dataset /S (same type, record shape and attributes; first\n"
            "dimension unlimited, chunked), /.h5tier/S/seq (the sequence number of each record)\n"
            "and /.h5tier/S/lost (ranges {first,last} of records known to be lost); groups,\n"
            "attributes and fixed datasets of the ring are copied too.  An existing OUT.h5 is\n"
            "continued after its last record: no duplicate, and with --lossless no loss.\n"
            "OUT.h5 can be read while it grows (SWMR: h5py.File(..., swmr=True)).\n"
            "\n"
            "options:\n"
            "  --stream S        archive stream S (repeatable; default: every stream)\n"
            "  --lossless        be a tethered reader: the writer waits for the archiver (and fails\n"
            "                    after its tether timeout); survives SIGKILL + restart without loss\n"
            "  --tether NAME     tether name (default \"archive\")\n"
            "  --keep-tether     keep the tether after a clean stop (the writer keeps waiting)\n"
            "  --timeout SEC     stop when no record arrived for SEC seconds\n"
            "  --count N         stop after N records\n"
            "  --duration SEC    stop after SEC seconds\n"
            "  --flush SEC       write partial chunks at least every SEC seconds (default 0.25)\n"
            "  --chunk SIZE      chunk size of new datasets (default min(1MiB, ring stream / 4))\n"
            "  --plain           write chunks with H5Dwrite instead of H5Dwrite_chunk\n"
            "  --mode OCTAL      permissions of a new OUT.h5 (default 0600; read/write bits only,\n"
            "                    e.g. 0640 for a group; the umask does not apply)\n"
            "  -q, --quiet       no progress lines\n"
            "Without --timeout/--count/--duration it runs until Ctrl-C (a clean stop).\n"
            "\n"
            "examples:\n"
            "  h5tier ring archive run1 run1.h5 --lossless\n"
            "  h5tier ring archive run1 ev.h5 --stream events --timeout 2\n"
            "  python3 -c \"import h5py; f = h5py.File('run1.h5', 'r', swmr=True); print(f['/.h5tier/events/seq'][-5:])\"\n");
}

static void progress(const h5tier_archiver_stats_t *st, void *arg)
{
    (void)arg;
    double s = st->active_seconds > 0 ? st->active_seconds : 1e-9;
    fprintf(stderr, "archive: %.1f s  %llu records  %.2f M rec/s  %.1f MB/s  lag %llu  lost %llu\n", st->seconds,
            (unsigned long long)st->records, (double)st->records / s / 1e6, (double)st->bytes / s / 1e6,
            (unsigned long long)st->lag, (unsigned long long)st->lost_records);
}

/* Does the directory OUT would be created in exist? */
static int out_dir_exists(const char *out)
{
    char dir[4096];
    const char *slash = strrchr(out, '/');
    if (!slash)
        return 1;
    snprintf(dir, sizeof dir, "%.*s", slash == out ? 1 : (int)(slash - out), out);
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static int parse_double(const char *opt, const char *v, double *out)
{
    if (cli_parse_number(v, out) < 0)
        return cli_usage(CMD, "%s needs a non-negative number of seconds", opt);
    return 0;
}

int h5tier_cmd_ring_archive(int argc, char **argv)
{
    const char *streams[H5TIER_RING_MAX_STREAMS];
    const char *pos[2];
    unsigned nstreams = 0, npos = 0;
    int quiet = 0;
    h5tier_archiver_opts_t o;
    h5tier_archiver_opts_init(&o);
    static const struct option lo[] = {{"stream", required_argument, 0, 's'},   {"lossless", no_argument, 0, 'L'},
                                       {"tether", required_argument, 0, 'T'},   {"keep-tether", no_argument, 0, 'K'},
                                       {"timeout", required_argument, 0, 't'},  {"duration", required_argument, 0, 'd'},
                                       {"flush", required_argument, 0, 'F'},    {"count", required_argument, 0, 'n'},
                                       {"chunk", required_argument, 0, 'c'},    {"mode", required_argument, 0, 'm'},
                                       {"plain", no_argument, 0, 'P'},          {"quiet", no_argument, 0, 'q'},
                                       {"convert", required_argument, 0, 'C'},
                                       {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    cli_getopt_t p;
    cli_getopt_begin(&p, CMD, argc, argv, "qh", lo);
    int c;
    while ((c = cli_getopt_next(&p)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 's':
            if (nstreams == H5TIER_RING_MAX_STREAMS)
                return cli_usage(CMD, "too many --stream");
            streams[nstreams++] = p.arg;
            break;
        case 'C': {
            H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
            int rc = h5tier_archive_convert(p.arg);
            if (rc < 0)
                return cli_fail(CMD, rc, rc == -EBUSY ? "stop the archiver writing it first" : NULL, "--convert '%s'",
                                p.arg);
            printf("archive '%s': %d stream%s moved to the /.h5tier layout\n", p.arg, rc, rc == 1 ? "" : "s");
            return 0;
        }
        case 'L': o.lossless = 1; break;
        case 'T': o.tether = p.arg; break;
        case 'K': o.keep_tether = 1; break;
        case 't':
        case 'd':
        case 'F': {
            const char *opt = c == 't' ? "--timeout" : c == 'd' ? "--duration" : "--flush";
            double d = 0;
            int rc = parse_double(opt, p.arg, &d);
            if (rc)
                return rc;
            if (c == 't')
                o.idle_timeout_s = d;
            else if (c == 'd')
                o.duration_s = d;
            else
                o.flush_interval_s = d;
            break;
        }
        case 'n':
        case 'c': {
            uint64_t x;
            if (h5tier_parse_size(p.arg, &x) < 0 || x == 0)
                return cli_usage(CMD, "%s needs a positive number, not '%s'", c == 'n' ? "--count" : "--chunk", p.arg);
            if (c == 'n')
                o.count = x;
            else
                o.chunk_bytes = (size_t)x;
            break;
        }
        case 'm': {
            unsigned m;
            if (cli_parse_mode(p.arg, &m) < 0)
                return cli_usage(CMD, "--mode needs octal permissions such as 0600 or 0640, not '%s'", p.arg);
            if (m & 07111)
                return cli_usage(CMD, "--mode %04o: only read/write bits are allowed (no setuid, setgid, sticky "
                                 "or execute), e.g. 0600 or 0640", m);
            o.archive_flags |= H5TIER_ARCHIVE_MODE(m);
            break;
        }
        case 'P': o.archive_flags |= H5TIER_ARCHIVE_PLAIN_WRITE; break;
        case 'q': quiet = 1; break;
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    for (int i = p.ind; i < argc; i++) {
        if (npos == 2)
            return cli_usage(CMD, "unexpected argument '%s'", argv[i]);
        pos[npos++] = argv[i];
    }
    if (npos != 2)
        return cli_usage(CMD, "need a ring NAME and an OUT.h5 file");
    o.streams = nstreams ? streams : NULL;
    o.nstreams = nstreams;
    o.stop = &stop_flag;
    if (!quiet) {
        o.progress = progress;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: blocking reads return -EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    h5tier_archiver_stats_t st;
    int rc = h5tier_archive_ring(pos[0], pos[1], &o, &st);
    if (rc < 0) {
        const char *hint = NULL;
        if (rc == -H5TIER_ESCHEMA)
            hint = "OUT.h5 holds a dataset of another schema at that path: choose another file";
        else if (rc == -ENOENT && !out_dir_exists(pos[1]))
            hint = "the directory of OUT.h5 does not exist: create it first";
        else if (rc == -ENOENT)
            hint = "list rings with `h5tier shm ls`; streams with `h5tier ring stat NAME`";
        else if (rc == -H5TIER_EMAGIC)
            hint = "the ring's control block does not match its HDF5 metadata: re-create the ring";
        else if (rc == -EBUSY)
            hint = "another archiver runs on this ring tether or file; `h5tier ring stat NAME` shows tethers";
        else if (rc == -ERANGE)
            hint = "archive a re-created ring into a new file";
        else if (rc == -H5TIER_EVERSION)
            hint = "convert the old archive once: h5tier ring archive --convert OUT.h5";
        return cli_fail(CMD, rc, hint, "ring '%s' -> '%s'", pos[0], pos[1]);
    }
    double s = st.active_seconds > 0 ? st.active_seconds : 1e-9;
    printf("archived %llu records (%.1f MB) from ring '%s' to '%s' in %.2f s (%.2f s of records): "
           "%.2f M records/s, %.1f MB/s; lost %llu records in %llu ranges%s\n",
           (unsigned long long)st.records, (double)st.bytes / 1e6, pos[0], pos[1], st.seconds, st.active_seconds,
           (double)st.records / s / 1e6, (double)st.bytes / s / 1e6, (unsigned long long)st.lost_records,
           (unsigned long long)st.lost_ranges, st.writer_dead ? " (the writer died)" : "");
    return 0;
}
