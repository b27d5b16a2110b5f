/*
 * bench/benchutil.h -- what every benchmark shares: a clock, quick/full
 * sizing, and one function that records a measured case side by side with
 * its anchor: it prints a row and appends one JSON object to
 * $H5TIER_BENCH_JSONL (suite, case, ours, anchor, anchor_value, unit,
 * ratio, goal, met).
 */
#ifndef H5TIER_BENCHUTIL_H
#define H5TIER_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

double bench_now(void);
/* True when run with --quick or H5TIER_BENCH_QUICK=1. */
int bench_quick(int argc, char **argv);

/* Goal direction: ratio = ours / anchor_value must be >= goal (higher is
 * better, e.g. GB/s) or <= goal (lower is better, e.g. seconds).  A goal of 0
 * means "for information": goal and met are null in the JSON. */
typedef enum { GOAL_NONE, GOAL_GE, GOAL_LE } bench_goal_t;

void bench_result(const char *suite, const char *case_name, double ours, const char *unit,
                  const char *anchor, double anchor_value, bench_goal_t dir, double goal);

/* A note printed under the suite's table in BENCHMARKS.md (what limits a
 * missed goal, the machine, the sizes). */
void bench_note(const char *suite, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fill buf with a pattern that defeats zero-page tricks. */
void bench_fill(void *buf, size_t len, uint64_t seed);

#endif
