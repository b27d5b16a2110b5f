/*
 * shm/image.c -- checks of an existing HDF5 image in shared memory before
 * the shm driver uses it: an HDF5 signature at 0, 512, 1024, ..., and a
 * superblock (versions 0-3) whose end-of-file address fits in the object.
 *
 * Members of multi-file layouts are not standalone images: a family's
 * member 0 holds a superblock whose end of file counts the whole family, and
 * a family's later members, split's raw file and multi's data members hold
 * no signature at all.  The superblock of a family or multi (split) file
 * names its driver in a driver-information block ("NCSAfami", "NCSAmult";
 * superblock versions 0 and 1): such a member 0 is recognised from its
 * bytes.  Everything else about membership comes from the caller
 * (H5TIER_IMAGE_MEMBER): the driver knows it from its configuration
 * (H5TIER_SHM_MEMBER) or from the control object's record that the last
 * writer closed the object as a member (H5TIER_SHMC_MEMBER).
 *
 * Every offset read from the image is checked against its length first.
 */
#include <string.h>

#include "shm/shm_driver.h"

/* What the bytes say, with no message. */
enum probe_code { P_OK, P_EMPTY, P_NOSIG, P_SHORT, P_OSZ, P_TRUNC };
typedef struct probe {
    enum probe_code code;
    unsigned osz;      /* P_OSZ: the offset size found */
    uint64_t end;      /* the superblock's end-of-file address, absolute (0 if unknown) */
    int multi_driver;  /* the superblock names the family or multi driver */
} probe_t;

/* A v0/v1 superblock's driver-information block names the family or multi
 * driver.  sb: the superblock (avail bytes from it to the image's end);
 * drv_at: offset of the driver-info address field in it. */
static int names_multi_driver(const unsigned char *img, uint64_t len, uint64_t sig, const unsigned char *sb,
                              uint64_t avail, unsigned drv_at, unsigned osz)
{
    if (avail < (uint64_t)drv_at + osz)
        return 0;
    uint64_t a = h5tier__le_get(sb + drv_at, osz);
    uint64_t undef = osz == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * osz)) - 1;
    if (a == undef || a > len || sig > len - a || len - (sig + a) < 16)
        return 0;
    const unsigned char *blk = img + sig + a; /* version, 3 reserved, size (4), driver id (8) */
    return blk[0] == 0 && (memcmp(blk + 8, "NCSAfami", 8) == 0 || memcmp(blk + 8, "NCSAmult", 8) == 0);
}

static void image_probe(const unsigned char *img, uint64_t len, probe_t *p)
{
    memset(p, 0, sizeof *p);
    if (len == 0) {
        p->code = P_EMPTY;
        return;
    }
    long long sig = h5tier__h5_signature_offset(img, len);
    if (sig < 0) {
        p->code = P_NOSIG;
        return;
    }
    const unsigned char *sb = img + sig;
    uint64_t avail = len - (uint64_t)sig;
    p->code = P_SHORT;
    if (avail < 9)
        return;
    unsigned ver = sb[8], osz, at;
    if (ver <= 1) {
        if (avail < 16)
            return;
        osz = sb[13];
        at = (ver == 0 ? 24 : 28) + 2 * osz; /* base, free-space, then end-of-file address */
    } else if (ver <= 3) {
        if (avail < 12)
            return;
        osz = sb[9];
        at = 12 + 2 * osz; /* base, extension, then end-of-file address */
    } else {
        p->code = P_OK; /* a newer superblock: leave the checks to the library */
        return;
    }
    if (osz != 2 && osz != 4 && osz != 8) {
        p->code = P_OSZ;
        p->osz = osz;
        return;
    }
    if (avail < (uint64_t)at + osz)
        return;
    uint64_t eofa = h5tier__le_get(sb + at, osz);
    uint64_t undef = osz == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * osz)) - 1;
    p->code = P_OK;
    if (eofa == undef)
        return;
    /* The end-of-file address is absolute (it counts a userblock: a file with
     * an 8 KiB userblock and 2 KiB of HDF5 data stores 10 KiB), unlike the
     * other addresses, which are relative to the base address. */
    p->end = eofa;
    if (ver <= 1)
        p->multi_driver = names_multi_driver(img, len, (uint64_t)sig, sb, avail, at + osz, osz);
    if (eofa > len)
        p->code = P_TRUNC;
}

/* quiet: record errmsg only; else also push on the HDF5 error stack */
#define REPORT(err, ...) (quiet ? h5tier__fail((err), __VA_ARGS__) : H5TIER_PUSH(H5TIER_AREA_SHM, (err), __VA_ARGS__))

int h5tier__shm_check_image_ex(const char *canon, const unsigned char *img, uint64_t len, unsigned flags,
                               uint64_t *end, int *member, int quiet)
{
    probe_t p;
    image_probe(img, len, &p);
    int memb = (flags & H5TIER_IMAGE_MEMBER) != 0;
    *end = 0;
    if (member)
        *member = 0;
    switch (p.code) {
    case P_EMPTY:
        if (memb)
            break;
        return REPORT(H5TIER_ENOTHDF5, "shm object '%s' is not an HDF5 file (the object is empty)", canon);
    case P_NOSIG:
        if (memb)
            break;
        return REPORT(H5TIER_ENOTHDF5,
                      "shm object '%s' is not an HDF5 file (no signature at 0, 512, 1024, ... in %llu bytes)", canon,
                      (unsigned long long)len);
    case P_SHORT:
        return REPORT(H5TIER_ETRUNC, "shm object '%s' is truncated: it ends inside the superblock (%llu bytes)", canon,
                      (unsigned long long)len);
    case P_OSZ:
        return REPORT(H5TIER_ENOTHDF5, "shm object '%s' is not an HDF5 file (superblock says offsets are %u bytes)",
                      canon, p.osz);
    case P_TRUNC:
        if (memb || p.multi_driver) {
            /* member 0 of a family or multi file: its end counts every member */
            if (member)
                *member = 1;
            return 0;
        }
        *end = p.end;
        return REPORT(H5TIER_ETRUNC, "shm object '%s' is truncated: superblock says %llu bytes, object has %llu", canon,
                      (unsigned long long)p.end, (unsigned long long)len);
    case P_OK:
        *end = p.end;
        return 0;
    }
    if (member)
        *member = 1; /* empty or no signature, accepted as a member */
    return 0;
}

int h5tier__shm_check_image(const char *canon, const unsigned char *img, uint64_t len, uint64_t *end, int quiet)
{
    return h5tier__shm_check_image_ex(canon, img, len, 0, end, NULL, quiet);
}

int h5tier__shm_image_is_member(const unsigned char *img, uint64_t len)
{
    probe_t p;
    image_probe(img, len, &p);
    return p.code == P_EMPTY || p.code == P_NOSIG || p.code == P_TRUNC;
}
