/*
 * shm/image.c -- checks of an existing HDF5 image in shared memory before
 * the shm driver uses it: an HDF5 signature at 0, 512, 1024, ..., and a
 * superblock (versions 0-3) whose end-of-file address fits in the object.
 */
#include "shm/shm_driver.h"

/* quiet: record errmsg only; else also push on the HDF5 error stack */
#define REPORT(err, ...) (quiet ? h5tier__fail((err), __VA_ARGS__) : H5TIER_PUSH(H5TIER_AREA_SHM, (err), __VA_ARGS__))

int h5tier__shm_check_image(const char *canon, const unsigned char *img, uint64_t len, uint64_t *end, int quiet)
{
    *end = 0;
    if (len == 0)
        return REPORT(H5TIER_ENOTHDF5, "shm object '%s' is not an HDF5 file (the object is empty)",
                           canon);
    long long sig = h5tier__h5_signature_offset(img, len);
    if (sig < 0)
        return REPORT(H5TIER_ENOTHDF5,
                           "shm object '%s' is not an HDF5 file (no signature at 0, 512, 1024, ... in %llu bytes)",
                           canon, (unsigned long long)len);
    const unsigned char *sb = img + sig;
    uint64_t avail = len - (uint64_t)sig;
    if (avail < 9)
        goto short_sb;
    unsigned ver = sb[8], osz, at;
    if (ver <= 1) {
        if (avail < 16)
            goto short_sb;
        osz = sb[13];
        at = (ver == 0 ? 24 : 28) + 2 * osz; /* base, free-space, then end-of-file address */
    } else if (ver <= 3) {
        if (avail < 12)
            goto short_sb;
        osz = sb[9];
        at = 12 + 2 * osz; /* base, extension, then end-of-file address */
    } else
        return 0; /* a newer superblock: leave the checks to the library */
    if (osz != 2 && osz != 4 && osz != 8)
        return REPORT(H5TIER_ENOTHDF5,
                           "shm object '%s' is not an HDF5 file (superblock says offsets are %u bytes)", canon, osz);
    if (avail < (uint64_t)at + osz)
        goto short_sb;
    uint64_t eofa = h5tier__le_get(sb + at, osz);
    uint64_t undef = osz == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * osz)) - 1;
    if (eofa == undef)
        return 0;
    /* The end-of-file address is absolute (it counts a userblock: a file with
     * an 8 KiB userblock and 2 KiB of HDF5 data stores 10 KiB), unlike the
     * other addresses, which are relative to the base address. */
    *end = eofa;
    if (*end > len)
        return REPORT(H5TIER_ETRUNC,
                           "shm object '%s' is truncated: superblock says %llu bytes, object has %llu", canon,
                           (unsigned long long)*end, (unsigned long long)len);
    return 0;
short_sb:
    return REPORT(H5TIER_ETRUNC,
                       "shm object '%s' is truncated: it ends inside the superblock (%llu bytes)", canon,
                       (unsigned long long)len);
}
