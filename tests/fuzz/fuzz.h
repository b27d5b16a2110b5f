/*
 * tests/fuzz/fuzz.h -- shared by the libFuzzer targets (tests/fuzz/fuzz_*.c).
 * Each target defines LLVMFuzzerTestOneInput and checks invariants with
 * FUZZ_CHECK (abort: libFuzzer records the input as a crash).  The same
 * sources are built without libFuzzer by replay_main.c, which feeds every
 * file of the seed corpus and of the regression directory to the target
 * (ctest fuzz/replay_*), so every crash ever found stays a test.
 */
#ifndef H5TIER_FUZZ_H
#define H5TIER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* The input as a NUL-terminated string (free it). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
