/*
 * common/h5sig.c -- HDF5 format basics every area needs: the format
 * signature and where it sits (0, 512, 1024, ... in memory or in a file),
 * and little-endian integers as superblocks store them.
 */
#include <string.h>

#include "common/internal.h"

const unsigned char h5tier__h5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

long long h5tier__h5_signature_offset(const void *image, uint64_t len)
{
    const unsigned char *p = image;
    for (uint64_t off = 0; off + 8 <= len; off = off ? off * 2 : 512)
        if (!memcmp(p + off, h5tier__h5_sig, 8))
            return (long long)off;
    return -1;
}

long long h5tier__h5_signature_fd(int fd, uint64_t size)
{
    for (uint64_t off = 0; off + 8 <= size; off = off ? off * 2 : 512) {
        unsigned char b[8];
        size_t got = 0;
        int e = h5tier__pread_full(fd, b, 8, (off_t)off, &got);
        if (e < 0)
            return e;
        if (got == 8 && !memcmp(b, h5tier__h5_sig, 8))
            return (long long)off;
    }
    return -1;
}

uint64_t h5tier__le_get(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

void h5tier__le_put(unsigned char *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)v;
}
