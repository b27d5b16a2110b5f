/*
 * tools/cli.c -- shared CLI helpers (errors, usage, progress bar).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "h5tier.h"

int cli_fail(const char *cmd, int err, const char *hint, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "h5tier %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    /* The recorded explanation already ends with the error text; print it
     * alone, or the bare error text when nothing was recorded. */
    const char *detail = h5tier_errmsg();
    fprintf(stderr, ": %s\n", detail && *detail ? detail : h5tier_strerror(err));
    if (hint)
        fprintf(stderr, "hint: %s\n", hint);
    return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "h5tier %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'h5tier %s --help'.\n", cmd);
    return 2;
}

int cli_is_help(const char *arg) { return arg && (!strcmp(arg, "-h") || !strcmp(arg, "--help")); }

void cli_progress(uint64_t done, uint64_t total, void *arg)
{
    static struct timespec last;
    if (!isatty(STDERR_FILENO) || total == 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - last.tv_sec) + (double)(now.tv_nsec - last.tv_nsec) / 1e9;
    if (done < total && dt < 0.1)
        return;
    last = now;
    int width = 40, filled = (int)((double)done / (double)total * width);
    char a[32], b[32];
    fprintf(stderr, "\r%s [", arg ? (const char *)arg : "copy");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %s / %s", h5tier_format_size(done, a, sizeof a), h5tier_format_size(total, b, sizeof b));
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

int cli_parse_mode(const char *text, unsigned *mode)
{
    char *end;
    if (!text || !*text)
        return -1;
    errno = 0;
    unsigned long m = strtoul(text, &end, 8);
    if (errno || *end || m > 07777)
        return -1;
    *mode = (unsigned)m;
    return 0;
}

int cli_parse_number(const char *text, double *out)
{
    char *end;
    if (!text || !*text)
        return -1;
    errno = 0;
    double d = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(d) || d < 0)
        return -1;
    *out = d;
    return 0;
}

/* ---- option parsing (getopt_long, one behaviour for every subcommand) ---- */

void cli_getopt_begin(cli_getopt_t *p, const char *cmd, int argc, char **argv, const char *shorts,
                      const struct option *lo)
{
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->lo = lo;
    /* ':' first: a missing value is reported as ':' rather than '?', and
     * getopt prints nothing itself (opterr = 0 as well). */
    if (shorts && shorts[0] == '+') /* "+...": stop at the first positional (glibc: '+' before ':') */
        snprintf(p->shorts, sizeof p->shorts, "+:%s", shorts + 1);
    else
        snprintf(p->shorts, sizeof p->shorts, ":%s", shorts ? shorts : "");
    p->ind = argc;
    optind = 0; /* glibc: 0 re-initialises everything, including permutation state */
    opterr = 0;
}

/* The long option whose val is v (for messages about short options). */
static const char *long_name(const struct option *lo, int v)
{
    for (; lo && lo->name; lo++)
        if (lo->val == v)
            return lo->name;
    return NULL;
}

/* 1 if w ("-xyz", not "--...") is not a valid cluster of the short options
 * in shorts; *bad receives the first letter that is not one. */
static int cluster_bad(const char *shorts, const char *w, char *bad)
{
    for (size_t i = 1; w[i]; i++) {
        const char *o = w[i] == ':' || w[i] == '+' ? NULL : strchr(shorts + 1, w[i]);
        if (!o) {
            *bad = w[i];
            return 1;
        }
        if (o[1] == ':')
            return 0; /* the rest is that option's value */
    }
    return 0;
}

int cli_getopt_next(cli_getopt_t *p)
{
    p->arg = NULL;
    if (p->argc < 1)
        return -1;
    int c = getopt_long(p->argc, p->argv, p->shorts, p->lo, NULL);
    if (c == -1) {
        p->ind = optind;
        return -1;
    }
    /* The word that was being parsed: getopt has already moved past it. */
    const char *word = optind > 0 && optind <= p->argc ? p->argv[optind - 1] : "?";
    if (c == ':') {
        const char *ln = long_name(p->lo, optopt);
        if (word[0] == '-' && word[1] == '-')
            cli_usage(p->cmd, "option '%s' needs a value", word);
        else if (ln)
            cli_usage(p->cmd, "option '-%c' (--%s) needs a value", optopt, ln);
        else
            cli_usage(p->cmd, "option '-%c' needs a value", optopt);
        return CLI_GETOPT_ERROR;
    }
    if (c == '?') {
        if (word[0] == '-' && word[1] == '-') {
            char name[64];
            snprintf(name, sizeof name, "%s", word);
            char *eq = strchr(name, '=');
            if (eq)
                *eq = 0;
            if (optopt && eq)
                cli_usage(p->cmd, "option '%s' takes no value (got '%s')", name, word);
            else
                cli_usage(p->cmd, "unknown or ambiguous option '%s'", name);
        } else if (optopt) {
            /* The cluster it came from (getopt does not say): the first word
             * "-..." holding that letter.  A name starting with '-' that was
             * meant as an argument is the usual cause. */
            const char *in = NULL;
            for (int i = 1; i < p->argc && !in; i++)
                if (p->argv[i][0] == '-' && p->argv[i][1] != '-' && strchr(p->argv[i] + 1, optopt))
                    in = p->argv[i];
            if (in && strlen(in) > 2)
                cli_usage(p->cmd, "unknown option '-%c' in '%s' (an argument starting with '-' goes after '--')",
                          optopt, in);
            else
                cli_usage(p->cmd, "unknown option '-%c'", optopt);
        } else {
            cli_usage(p->cmd, "unknown option '%s'", word);
        }
        return CLI_GETOPT_ERROR;
    }
    if (c == 'h') {
        /* -h inside a word that is not a valid cluster ("-h5t-run", a name
         * meant as an argument) would print the help and exit 0 before the
         * bad letter is seen: report the word instead. */
        for (int i = 1; i < p->argc && strcmp(p->argv[i], "--"); i++) {
            const char *w = p->argv[i];
            char bad;
            if (w[0] == '-' && w[1] && w[1] != '-' && strchr(w, 'h') && cluster_bad(p->shorts, w, &bad) &&
                strchr(w, 'h') < strchr(w + 1, bad)) {
                cli_usage(p->cmd, "unknown option '-%c' in '%s' (an argument starting with '-' goes after '--')",
                          bad, w);
                return CLI_GETOPT_ERROR;
            }
        }
    }
    p->arg = optarg;
    return c;
}

int cli_bad_value(const char *cmd, const char *opt, const char *value, const char *why)
{
    return cli_usage(cmd, "bad %s '%s'%s%s", opt, value ? value : "", why ? ": " : "", why ? why : "");
}

int cli_parse_size(const char *text, uint64_t *out)
{
    return text && h5tier_parse_size(text, out) == 0 ? 0 : -1;
}
