/*
 * bench/benchutil.c -- see benchutil.h.
 */
#include "benchutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_quick(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quick"))
            return 1;
    const char *e = getenv("H5TIER_BENCH_QUICK");
    return e && *e == '1';
}

static void json_str(FILE *f, const char *s)
{
    if (!s) { /* a row without an anchor */
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static FILE *jsonl(void)
{
    const char *p = getenv("H5TIER_BENCH_JSONL");
    return p && *p ? fopen(p, "a") : NULL;
}

void bench_result(const char *suite, const char *case_name, double ours, const char *unit,
                  const char *anchor, double anchor_value, bench_goal_t dir, double goal)
{
    double ratio = anchor_value != 0 ? ours / anchor_value : 0;
    int met = dir == GOAL_GE ? ratio >= goal : dir == GOAL_LE ? ratio <= goal : -1;
    printf("%-12s %-44s %12.4g %-8s vs %-28s %12.4g  ratio %7.3f", suite, case_name, ours, unit,
           anchor ? anchor : "-", anchor_value, ratio);
    if (dir != GOAL_NONE)
        printf("  goal %s%.2f %s", dir == GOAL_GE ? ">=" : "<=", goal, met ? "MET" : "NOT MET");
    putchar('\n');
    fflush(stdout);
    FILE *f = jsonl();
    if (!f)
        return;
    fputs("{\"suite\":", f);
    json_str(f, suite);
    fputs(",\"case\":", f);
    json_str(f, case_name);
    fprintf(f, ",\"ours\":%.6g,\"anchor\":", ours);
    json_str(f, anchor);
    fprintf(f, ",\"anchor_value\":%.6g,\"unit\":", anchor_value);
    json_str(f, unit);
    fprintf(f, ",\"ratio\":%.6g,\"goal\":", ratio);
    if (dir == GOAL_NONE)
        fputs("null,\"met\":null}\n", f);
    else
        fprintf(f, "\"%s%.2f\",\"met\":%s}\n", dir == GOAL_GE ? ">=" : "<=", goal, met ? "true" : "false");
    fclose(f);
}

void bench_note(const char *suite, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("note [%s] %s\n", suite, msg);
    FILE *f = jsonl();
    if (!f)
        return;
    fputs("{\"suite\":", f);
    json_str(f, suite);
    fputs(",\"note\":", f);
    json_str(f, msg);
    fputs("}\n", f);
    fclose(f);
}

void bench_fill(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    unsigned char *p = buf;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < len; i++)
        p[i] = (unsigned char)(x >> (i % 8));
}
