/*
 * common/h5sig.c -- find the HDF5 format signature in an image.
 */
#include <string.h>

#include "common/internal.h"

long long h5tier__h5_signature_offset(const void *image, uint64_t len)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    const unsigned char *p = image;
    for (uint64_t off = 0; off + 8 <= len; off = off ? off * 2 : 512)
        if (!memcmp(p + off, sig, 8))
            return (long long)off;
    return -1;
}
