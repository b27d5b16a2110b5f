/*
 * tools/cmd_tier.c -- `h5tier tier`: the tiered page-cache driver's tools.
 *   h5tier tier stat FILE.json     the statistics JSON (H5TIER_STATS) as a table
 *   h5tier tier cache ls DIR       kept SSD caches in DIR
 *   h5tier tier cache rm DIR [--file F] [--stale]
 *   h5tier tier check CONFIG       check a configuration string, print it normalised
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "h5tier.h"
#include "h5tier_tier.h"

#define CMD "tier"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: h5tier tier stat FILE.json\n"
            "       h5tier tier cache ls DIR\n"
            "       h5tier tier cache rm DIR [--file BACKING] [--stale]\n"
            "       h5tier tier check 'CONFIG'\n"
            "\n"
            "The tier driver puts a RAM tier and SSD tiers in front of a slow backing file\n"
            "(H5Pset_fapl_tier, or `h5tier run --driver tier` for unmodified programs).\n"
            "\n"
            "  stat   print the statistics a run wrote at close (H5TIER_STATS=FILE.json):\n"
            "         per tier hits, misses, bytes in/out, evictions, promotions, busy time,\n"
            "         and prefetch accuracy/waste, write-back, backing-store traffic\n"
            "  cache  list or remove the SSD caches kept across processes (keep=yes) in DIR;\n"
            "         rm never removes a cache a live process uses; --stale: only caches whose\n"
            "         backing file is gone or changed; --file: only that file's cache\n"
            "  check  check a configuration string and print every setting with its default\n"
            "\n"
            "examples:\n"
            "  H5TIER_STATS=run.json h5tier run --driver tier -- python3 train.py\n"
            "  h5tier tier stat run.json\n"
            "  h5tier tier cache ls /local/cache\n"
            "  h5tier tier cache rm /local/cache --stale\n"
            "  h5tier tier check 'ram=2GiB ssd=/local/cache:20GiB page=1MiB'\n");
}

/* Numbers from our own JSON: "key": value after `from`. */
static int jnum(const char *from, const char *key, double *v)
{
    char k[96];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(from, k);
    if (!p)
        return -1;
    char *end;
    *v = strtod(p + strlen(k), &end);
    return end == p + strlen(k) ? -1 : 0;
}

static int jstr(const char *from, const char *key, char *out, size_t len)
{
    char k[96];
    snprintf(k, sizeof k, "\"%s\": \"", key);
    const char *p = strstr(from, k);
    if (!p)
        return -1;
    p += strlen(k);
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < len) {
        unsigned char c = (unsigned char)*p++;
        out[n++] = (char)(c < 32 || c == 127 ? '?' : c);
    }
    out[n] = 0;
    return 0;
}

static int cmd_stat(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return cli_fail(CMD, errno, "H5TIER_STATS=FILE.json makes a run write it at close", "cannot open '%s'", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    double v;
    if (jnum(buf, "backing_reads", &v) < 0) {
        fprintf(stderr, "h5tier tier: '%s' is not a tier statistics file (no \"backing_reads\")\n", path);
        return 1;
    }
    char file[1024] = "?";
    jstr(buf, "file", file, sizeof file);
    printf("file: %s\n\n", file);
    printf("%-6s %12s %12s %10s %10s %7s %12s %12s %9s %9s %8s %6s\n", "tier", "capacity", "used", "hits", "misses",
           "hit%", "bytes in", "bytes out", "evicted", "promoted", "busy s", "state");
    const char *t = strstr(buf, "\"tiers\": [");
    while (t && (t = strstr(t, "{\"name\": "))) {
        char name[32] = "?", cap[32], used[32], bin[32], bout[32];
        jstr(t, "name", name, sizeof name);
        double c = 0, u = 0, h = 0, m = 0, bi = 0, bo = 0, ev = 0, pr = 0, bs = 0, fl = 0;
        jnum(t, "capacity", &c);
        jnum(t, "used", &u);
        jnum(t, "hits", &h);
        jnum(t, "misses", &m);
        jnum(t, "bytes_in", &bi);
        jnum(t, "bytes_out", &bo);
        jnum(t, "evictions", &ev);
        jnum(t, "promotions", &pr);
        jnum(t, "busy_s", &bs);
        jnum(t, "failed", &fl);
        printf("%-6s %12s %12s %10.0f %10.0f %6.1f%% %12s %12s %9.0f %9.0f %8.3f %6s\n", name,
               h5tier_format_size((uint64_t)c, cap, sizeof cap), h5tier_format_size((uint64_t)u, used, sizeof used),
               h, m, h + m > 0 ? 100 * h / (h + m) : 0.0, h5tier_format_size((uint64_t)bi, bin, sizeof bin),
               h5tier_format_size((uint64_t)bo, bout, sizeof bout), ev, pr, bs, fl ? "FAILED" : "ok");
        t++;
    }
    double br = 0, brb = 0, bw = 0, bwb = 0, by = 0, pp = 0, ph = 0, pw = 0, wb = 0, ws = 0, kl = 0, bb = 0;
    jnum(buf, "backing_reads", &br);
    jnum(buf, "backing_read_bytes", &brb);
    jnum(buf, "backing_writes", &bw);
    jnum(buf, "backing_write_bytes", &bwb);
    jnum(buf, "bypass_bytes", &by);
    jnum(buf, "prefetch_pages", &pp);
    jnum(buf, "prefetch_hits", &ph);
    jnum(buf, "prefetch_waste", &pw);
    jnum(buf, "writeback_pages", &wb);
    jnum(buf, "writeback_stalls", &ws);
    jnum(buf, "kept_loaded_pages", &kl);
    jnum(buf, "backing_busy_s", &bb);
    char a[32], b[32], c2[32];
    printf("\nbacking file: %.0f reads (%s), %.0f writes (%s), %s bypassed the cache, busy %.3f s\n", br,
           h5tier_format_size((uint64_t)brb, a, sizeof a), bw, h5tier_format_size((uint64_t)bwb, b, sizeof b),
           h5tier_format_size((uint64_t)by, c2, sizeof c2), bb);
    printf("prefetch: %.0f pages read ahead, %.0f used (accuracy %.1f%%), %.0f wasted\n", pp, ph,
           pp > 0 ? 100 * ph / pp : 0.0, pw);
    printf("write-back: %.0f pages, %.0f writes waited for the dirty bound\n", wb, ws);
    printf("kept cache: %.0f pages found at open\n", kl);
    return 0;
}

static int ls_cb(const h5tier_tier_cache_info_t *ci, void *arg)
{
    int *n = arg;
    if ((*n)++ == 0)
        printf("%-8s %10s %12s %10s  %s\n", "state", "pages", "cached", "page", "backing file");
    char a[32], b[32];
    printf("%-8s %10" PRIu64 " %12s %10s  %s\n", ci->stale ? "stale" : "valid", ci->pages,
           h5tier_format_size(ci->pages * ci->page_size, a, sizeof a), h5tier_format_size(ci->page_size, b, sizeof b),
           ci->backing);
    return 0;
}

int h5tier_cmd_tier(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "stat")) {
        if (argc != 3)
            return cli_usage(CMD, "stat needs one FILE.json");
        return cmd_stat(argv[2]);
    }
    if (!strcmp(argv[1], "check")) {
        if (argc != 3)
            return cli_usage(CMD, "check needs one configuration string (quote it)");
        char canon[8192];
        int rc = h5tier_tier_config_check(argv[2], canon, sizeof canon);
        if (rc < 0) {
            fprintf(stderr, "h5tier tier: %s\n", h5tier_errmsg());
            return 1;
        }
        printf("%s\n", canon);
        return 0;
    }
    if (!strcmp(argv[1], "cache")) {
        if (argc < 4)
            return cli_usage(CMD, "usage: h5tier tier cache ls|rm DIR");
        const char *dir = argv[3]; /* rm: options may come first (GNU), so DIR is found after parsing */
        if (!strcmp(argv[2], "ls")) {
            if (argc != 4)
                return cli_usage(CMD, "cache ls takes only DIR");
            int n = 0;
            int rc = h5tier_tier_cache_list(dir, ls_cb, &n);
            if (rc < 0)
                return cli_fail(CMD, rc, NULL, "cannot list '%s'", dir);
            if (n == 0)
                printf("no kept caches in %s\n", dir);
            return 0;
        }
        if (!strcmp(argv[2], "rm")) {
            const char *file = NULL;
            int stale = 0;
            static const struct option lo[] = {{"stale", no_argument, 0, 's'},
                                               {"file", required_argument, 0, 'f'},
                                               {"help", no_argument, 0, 'h'},
                                               {0, 0, 0, 0}};
            cli_getopt_t p; /* argv + 2: "rm DIR [options]", options also before DIR */
            cli_getopt_begin(&p, CMD " cache rm", argc - 2, argv + 2, "h", lo);
            int c;
            while ((c = cli_getopt_next(&p)) != -1) {
                switch (c) {
                case 'h': usage(stdout); return 0;
                case 's': stale = 1; break;
                case 'f': file = p.arg; break;
                default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
                }
            }
            if (p.ind + 1 != argc - 2)
                return cli_usage(CMD " cache rm", "expected one DIR");
            dir = argv[2 + p.ind];
            int rc = h5tier_tier_cache_remove(dir, file, stale);
            if (rc < 0)
                return cli_fail(CMD, rc, NULL, "cannot remove caches in '%s'", dir);
            printf("removed %d kept cache%s from %s\n", rc, rc == 1 ? "" : "s", dir);
            return 0;
        }
        return cli_usage(CMD, "cache: unknown action '%s' (ls or rm)", argv[2]);
    }
    return cli_usage(CMD, "unknown action '%s' (stat, cache, check)", argv[1]);
}
