/*
 * ring/payload.h -- self-checking synthetic records, used by `h5tier ring
 * write`, the ring tests, the benchmark and the archive checks.  Not
 * installed.
 *
 * A payload of `size` bytes for sequence number seq:
 *     bytes [0, 8)             seq (little-endian u64)          (size >= 16)
 *     bytes [8, size - 8)      a pattern derived from seq and the offset
 *     bytes [size - 8, size)   XXH3-64 (libxxhash, seed 0) of bytes [0, size - 8),
 *                              little-endian; the Python checkers compute the
 *                              same with python3-xxhash's xxh3_64_intdigest
 * Records of 8..15 bytes hold seq then pattern bytes; shorter ones only a
 * pattern byte per position.  ring_payload_check() tells the seq back and
 * whether the record is intact: a record torn between two writes fails it.
 */
#ifndef H5TIER_RING_PAYLOAD_H
#define H5TIER_RING_PAYLOAD_H

#include <stdint.h>
#include <string.h>
#include <xxhash.h>

static inline uint64_t ring_payload_mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* The checksum of a record: XXH3-64 of all of it (XXH3 runs at memory
 * speed, so even 1 MiB records are hashed whole). */
static inline uint64_t ring_payload_sum(const unsigned char *p, size_t n) { return XXH3_64bits(p, n); }

static inline void ring_payload_fill(void *buf, size_t size, uint64_t seq)
{
    unsigned char *p = buf;
    uint64_t base = ring_payload_mix(seq);
    size_t i = 0;
    if (size >= 8) {
        memcpy(p, &seq, 8);
        i = 8;
    }
    size_t end = size >= 16 ? size - 8 : size;
    for (; i + 8 <= end; i += 8) {
        uint64_t w = base + i;
        memcpy(p + i, &w, 8);
    }
    for (; i < end; i++)
        p[i] = (unsigned char)(base + i);
    if (size >= 16) {
        uint64_t h = ring_payload_sum(p, size - 8);
        memcpy(p + size - 8, &h, 8);
    }
}

/* 1 if intact; *seq receives the sequence number it carries (records >= 8 B;
 * for shorter records pass the expected seq in *seq). */
static inline int ring_payload_check(const void *buf, size_t size, uint64_t *seq)
{
    const unsigned char *p = buf;
    uint64_t s = *seq;
    size_t i = 0;
    if (size >= 8) {
        memcpy(&s, p, 8);
        i = 8;
        *seq = s;
    }
    uint64_t base = ring_payload_mix(s);
    size_t end = size >= 16 ? size - 8 : size;
    for (; i + 8 <= end; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != base + i)
            return 0;
    }
    for (; i < end; i++)
        if (p[i] != (unsigned char)(base + i))
            return 0;
    if (size >= 16) {
        uint64_t h;
        memcpy(&h, p + size - 8, 8);
        if (h != ring_payload_sum(p, size - 8))
            return 0;
    }
    return 1;
}

#endif /* H5TIER_RING_PAYLOAD_H */
