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
