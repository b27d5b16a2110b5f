/*
 * tools/cmd_ring_net.c -- `h5tier ring publish|subscribe|keygen`: fan a
 * ring out to other hosts over ZeroMQ (include/h5tier_net.h).  argv starts
 * at the subcommand.  Options are parsed with getopt_long (GNU
 * `--opt=value`, `--` ends the options).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "h5tier.h"
#include "h5tier_net.h"
#include "h5tier_ring.h"

static volatile sig_atomic_t net_stop;

static void on_signal(int sig)
{
    (void)sig;
    net_stop = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void log_line(const char *line, void *arg)
{
    (void)arg;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

static int num(const char *cmd, const char *opt, const char *v, double *out)
{
    if (cli_parse_number(v, out) < 0 || *out < 0)
        return cli_usage(cmd, "%s needs a number >= 0, not '%s'", opt, v);
    return 0;
}

/* ---- publish ----------------------------------------------------------------------------- */

static void publish_help(FILE *to)
{
    fprintf(to,
            "usage: h5tier ring publish NAME --bind tcp://ADDR:PORT [--stream PATH]... [options]\n"
            "\n"
            "Publish the records of ring NAME to subscribers over ZeroMQ (`h5tier ring subscribe`).\n"
            "Each subscriber gets the ring's schema (an HDF5 image: paths, types, attributes) on\n"
            "connect, then the records in batches with their sequence numbers; a lossless\n"
            "subscriber holds the ring through a tether (net-ID) and grants credit.\n"
            "\n"
            "  --bind EP         ZeroMQ endpoint, e.g. tcp://127.0.0.1:5555 or tcp://0.0.0.0:5555\n"
            "  --stream PATH     publish this stream (repeatable; default: every stream)\n"
            "  --curve DIR       encrypt and authenticate with the CURVE key in DIR/server.key\n"
            "                    (make it with `h5tier ring keygen DIR`; give subscribers server.pub)\n"
            "  --insecure        allow a non-loopback --bind without --curve\n"
            "  --batch SIZE      bytes per message (default 256k)\n"
            "  --hwm N           ZeroMQ send high-water mark, messages (default 1000)\n"
            "  --duration SEC    stop after SEC seconds (default: until Ctrl-C)\n"
            "  -q, --quiet       no event lines\n");
}

static int cmd_publish(int argc, char **argv)
{
    static const struct option lo[] = {{"bind", required_argument, 0, 'b'},   {"stream", required_argument, 0, 's'},
                                       {"curve", required_argument, 0, 'c'},  {"insecure", no_argument, 0, 'i'},
                                       {"batch", required_argument, 0, 'B'},  {"hwm", required_argument, 0, 'H'},
                                       {"duration", required_argument, 0, 'd'}, {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *cmd = "ring publish";
    h5tier_net_pub_opts_t o;
    h5tier_net_pub_opts_init(&o);
    const char *streams[H5TIER_RING_MAX_STREAMS];
    unsigned ns = 0;
    int quiet = 0, c;
    double d;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        switch (c) {
        case 'b': o.bind = optarg; break;
        case 's':
            if (ns == H5TIER_RING_MAX_STREAMS)
                return cli_usage(cmd, "too many --stream");
            streams[ns++] = optarg;
            break;
        case 'c': o.curve_dir = optarg; break;
        case 'i': o.insecure = 1; break;
        case 'B': {
            uint64_t x;
            if (h5tier_parse_size(optarg, &x) < 0 || x == 0)
                return cli_usage(cmd, "--batch needs a size such as 256k");
            o.batch_bytes = (size_t)x;
            break;
        }
        case 'H':
            if (num(cmd, "--hwm", optarg, &d))
                return 2;
            o.sndhwm = (int)d;
            break;
        case 'd':
            if (num(cmd, "--duration", optarg, &d))
                return 2;
            o.duration_s = d;
            break;
        case 'q': quiet = 1; break;
        case 'h': publish_help(stdout); return 0;
        default: return cli_usage(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage(cmd, "need exactly one ring NAME");
    if (!o.bind)
        return cli_usage(cmd, "need --bind tcp://ADDR:PORT");
    o.streams = ns ? streams : NULL;
    o.nstreams = ns;
    o.stop = &net_stop;
    o.log = quiet ? NULL : log_line;
    catch_signals();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h5tier_net_stats_t st;
    int rc = h5tier_net_publish(argv[optind], &o, &st);
    if (rc < 0)
        return cli_fail(cmd, rc,
                        rc == -EPERM ? "make keys with `h5tier ring keygen DIR` and pass --curve DIR" : NULL,
                        "ring '%s' on %s", argv[optind], o.bind);
    printf("published %" PRIu64 " records (%.1f MB) in %" PRIu64 " batches in %.2f s; dropped %" PRIu64
           " at the high-water mark; %" PRIu64 " subscriber connections; %" PRIu64 " refused\n",
           st.records, (double)st.bytes / 1e6, st.batches, st.seconds, st.lost_records, st.reconnects, st.refused);
    return 0;
}

/* ---- subscribe ----------------------------------------------------------------------------- */

static void subscribe_help(FILE *to)
{
    fprintf(to,
            "usage: h5tier ring subscribe tcp://HOST:PORT (--mirror NAME | --archive OUT.h5) [options]\n"
            "\n"
            "Receive a published ring: --mirror creates ring NAME here with the same schema (paths,\n"
            "types, attributes) and writes the records into it, so local readers, `ring tail` and\n"
            "`ring archive` work unchanged; --archive appends to OUT.h5 (the archiver's layout, with\n"
            "the publisher's sequence numbers; gaps go to /.h5tier/PATH/lost).\n"
            "\n"
            "  --lossless        the publisher's ring waits for this subscriber (tether net-ID);\n"
            "                    with --archive a restart resumes exactly: no loss, no duplicate\n"
            "  --id ID           subscriber id (default 'sub'): names the tether, keep it across restarts\n"
            "  --keep-tether     keep the tether on a clean stop (default: removed; a kill keeps it)\n"
            "  --curve DIR       the publisher's CURVE public key DIR/server.pub\n"
            "  --window N        lossless credit, records per stream (default 4096)\n"
            "  --count N         stop after N records\n"
            "  --timeout SEC     stop when nothing arrived for SEC seconds\n"
            "  --connect-timeout SEC  fail when no schema arrived within SEC (default 10)\n"
            "  --duration SEC    stop after SEC seconds\n"
            "  --force           --mirror: replace a ring of that name with another schema\n"
            "  -q, --quiet       no event lines\n");
}

static int cmd_subscribe(int argc, char **argv)
{
    static const struct option lo[] = {
        {"mirror", required_argument, 0, 'm'},   {"archive", required_argument, 0, 'a'},
        {"lossless", no_argument, 0, 'L'},       {"id", required_argument, 0, 'I'},
        {"curve", required_argument, 0, 'c'},    {"window", required_argument, 0, 'w'},
        {"count", required_argument, 0, 'n'},    {"timeout", required_argument, 0, 't'},
        {"connect-timeout", required_argument, 0, 'C'}, {"duration", required_argument, 0, 'd'},
        {"force", no_argument, 0, 'f'},          {"quiet", no_argument, 0, 'q'},
        {"keep-tether", no_argument, 0, 'K'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *cmd = "ring subscribe";
    h5tier_net_sub_opts_t o;
    h5tier_net_sub_opts_init(&o);
    int quiet = 0, c;
    double d;
    uint64_t x;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o.mirror = optarg; break;
        case 'a': o.archive = optarg; break;
        case 'L': o.lossless = 1; break;
        case 'I': o.id = optarg; break;
        case 'c': o.curve_dir = optarg; break;
        case 'w':
        case 'n':
            if (h5tier_parse_size(optarg, &x) < 0 || x == 0)
                return cli_usage(cmd, "--%s needs a positive number", c == 'w' ? "window" : "count");
            if (c == 'w')
                o.window = x;
            else
                o.count = x;
            break;
        case 't':
        case 'C':
        case 'd':
            if (num(cmd, "--timeout/--connect-timeout/--duration", optarg, &d))
                return 2;
            if (c == 't')
                o.idle_timeout_s = d;
            else if (c == 'C')
                o.connect_timeout_s = d;
            else
                o.duration_s = d;
            break;
        case 'f': o.force = 1; break;
        case 'K': o.keep_tether = 1; break;
        case 'q': quiet = 1; break;
        case 'h': subscribe_help(stdout); return 0;
        default: return cli_usage(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage(cmd, "need exactly one address tcp://HOST:PORT");
    if (!o.mirror == !o.archive)
        return cli_usage(cmd, "need exactly one of --mirror NAME or --archive OUT.h5");
    o.connect = argv[optind];
    o.stop = &net_stop;
    o.log = quiet ? NULL : log_line;
    catch_signals();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h5tier_net_stats_t st;
    int rc = h5tier_net_subscribe(&o, &st);
    printf("received %" PRIu64 " records (%.1f MB) in %.2f s; lost %" PRIu64 " in %" PRIu64 " ranges; %" PRIu64
           " duplicates dropped; %" PRIu64 " reconnects\n",
           st.records, (double)st.bytes / 1e6, st.seconds, st.lost_records, st.lost_ranges, st.duplicates,
           st.reconnects);
    if (rc < 0)
        return cli_fail(cmd, rc,
                        rc == -H5TIER_ESCHEMA ? "mirror into another ring name (or --force), or another archive"
                                              : NULL,
                        "%s", o.connect);
    return 0;
}

/* ---- keygen ------------------------------------------------------------------------------- */

static int cmd_keygen(int argc, char **argv)
{
    if (argc == 2 && cli_is_help(argv[1])) {
        printf("usage: h5tier ring keygen DIR\n\nMake a CURVE key pair for `ring publish --curve DIR`:\n"
               "DIR/server.key (secret, 0600) and DIR/server.pub (copy it to the subscribers' DIR).\n");
        return 0;
    }
    if (argc != 2)
        return cli_usage("ring keygen", "need exactly one DIR");
    int rc = h5tier_net_keygen(argv[1]);
    if (rc < 0)
        return cli_fail("ring keygen", rc, rc == -EEXIST ? "the directory already holds a key" : NULL, "%s", argv[1]);
    printf("keys in %s: server.key (secret, 0600), server.pub (for subscribers)\n", argv[1]);
    return 0;
}

int h5tier_cmd_ring_net(int argc, char **argv)
{
    if (!strcmp(argv[0], "publish"))
        return cmd_publish(argc, argv);
    if (!strcmp(argv[0], "subscribe"))
        return cmd_subscribe(argc, argv);
    return cmd_keygen(argc, argv);
}
