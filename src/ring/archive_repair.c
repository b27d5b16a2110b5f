/*
 * ring/archive_repair.c -- reading and repairing the superblock of an
 * archive whose archiver was killed.
 *
 * A SWMR writer that dies leaves two things behind in a version 2/3
 * superblock: the status flags still say "open for (SWMR) write", so
 * H5Fopen refuses the file, and the stored end-of-file address is the one
 * of the last superblock write (often the file's size at creation), so a
 * new writer would allocate over live chunks.  The repair is h5clear's
 * (-s --increment=0): clear the flags, raise the end-of-file address to the
 * file's size, recompute the lookup3 checksum.  The checksum of the
 * untouched superblock is verified first, so a superblock this code does
 * not understand is never rewritten.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "common/internal.h"
#include "ring/archive_internal.h"

#define rot(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
#define MIX(a, b, c)                                                                               \
    do {                                                                                           \
        a -= c; a ^= rot(c, 4); c += b;                                                            \
        b -= a; b ^= rot(a, 6); a += c;                                                            \
        c -= b; c ^= rot(b, 8); b += a;                                                            \
        a -= c; a ^= rot(c, 16); c += b;                                                           \
        b -= a; b ^= rot(a, 19); a += c;                                                           \
        c -= b; c ^= rot(b, 4); b += a;                                                            \
    } while (0)
#define FINAL(a, b, c)                                                                             \
    do {                                                                                           \
        c ^= b; c -= rot(b, 14);                                                                   \
        a ^= c; a -= rot(c, 11);                                                                   \
        b ^= a; b -= rot(a, 25);                                                                   \
        c ^= b; c -= rot(b, 16);                                                                   \
        a ^= c; a -= rot(c, 4);                                                                    \
        b ^= a; b -= rot(a, 14);                                                                   \
        c ^= b; c -= rot(b, 24);                                                                   \
    } while (0)

uint32_t h5tier__lookup3(const void *key, size_t length, uint32_t initval)
{
    const uint8_t *k = key;
    uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + (uint32_t)length + initval;
    while (length > 12) {
        a += k[0] + ((uint32_t)k[1] << 8) + ((uint32_t)k[2] << 16) + ((uint32_t)k[3] << 24);
        b += k[4] + ((uint32_t)k[5] << 8) + ((uint32_t)k[6] << 16) + ((uint32_t)k[7] << 24);
        c += k[8] + ((uint32_t)k[9] << 8) + ((uint32_t)k[10] << 16) + ((uint32_t)k[11] << 24);
        MIX(a, b, c);
        length -= 12;
        k += 12;
    }
    switch (length) {
    case 12: c += (uint32_t)k[11] << 24; /* fall through */
    case 11: c += (uint32_t)k[10] << 16; /* fall through */
    case 10: c += (uint32_t)k[9] << 8;   /* fall through */
    case 9: c += k[8];                   /* fall through */
    case 8: b += (uint32_t)k[7] << 24;   /* fall through */
    case 7: b += (uint32_t)k[6] << 16;   /* fall through */
    case 6: b += (uint32_t)k[5] << 8;    /* fall through */
    case 5: b += k[4];                   /* fall through */
    case 4: a += (uint32_t)k[3] << 24;   /* fall through */
    case 3: a += (uint32_t)k[2] << 16;   /* fall through */
    case 2: a += (uint32_t)k[1] << 8;    /* fall through */
    case 1: a += k[0]; break;
    case 0: return c;
    }
    FINAL(a, b, c);
    return c;
}

/* The v2/v3 superblock with 8-byte addresses: signature, version, sizes,
 * flags, 4 addresses, checksum. */
#define SB23_LEN (12 + 4 * 8 + 4)

static int sb_load(int fd, const char *path, h5tier_sb_state_t *st, uint8_t sb[SB23_LEN])
{
    struct stat sbuf;
    if (h5tier_sys.fstat(fd, &sbuf) < 0)
        return h5tier__fail(errno, "archive '%s': fstat", path);
    memset(st, 0, sizeof *st);
    st->file_size = (uint64_t)sbuf.st_size;
    long long off = h5tier__h5_signature_fd(fd, st->file_size);
    if (off < -1)
        return h5tier__fail((int)-off, "archive '%s': reading the superblock", path);
    if (off < 0)
        return h5tier__fail(H5TIER_ENOTHDF5, "archive '%s': no HDF5 signature at 0, 512, 1024, ...", path);
    size_t got = 0;
    memset(sb, 0, SB23_LEN);
    int rc = h5tier__pread_full(fd, sb, SB23_LEN, (off_t)off, &got);
    if (rc < 0)
        return h5tier__fail(-rc, "archive '%s': reading the superblock at %lld", path, off);
    st->offset = (uint64_t)off;
    st->version = got > 8 ? sb[8] : 0;
    if (st->version < 2)
        return 0; /* v0/v1: flags and addresses elsewhere; never repaired here */
    if (got < SB23_LEN || sb[9] != 8)
        return h5tier__fail(H5TIER_ENOTHDF5, "archive '%s': superblock v%u with %u-byte addresses is not supported",
                            path, st->version, (unsigned)sb[9]);
    uint32_t sum = (uint32_t)h5tier__le_get(sb + SB23_LEN - 4, 4);
    if (h5tier__lookup3(sb, SB23_LEN - 4, 0) != sum)
        return h5tier__fail(H5TIER_ENOTHDF5, "archive '%s': superblock checksum mismatch", path);
    st->flags = sb[11];
    st->base = h5tier__le_get(sb + 12, 8);
    st->eoa = h5tier__le_get(sb + 12 + 16, 8);
    return 0;
}

int h5tier__sb_read(int fd, const char *path, h5tier_sb_state_t *st)
{
    uint8_t sb[SB23_LEN];
    return sb_load(fd, path, st, sb);
}

int h5tier__sb_repair(int fd, const char *path)
{
    uint8_t sb[SB23_LEN];
    h5tier_sb_state_t st;
    int rc = sb_load(fd, path, &st, sb);
    if (rc < 0)
        return rc;
    if (st.version < 2)
        return h5tier__fail(EINVAL, "archive '%s': superblock v%u cannot be repaired here", path,
                            st.version);
    uint64_t eoa = st.eoa;
    if (st.file_size > st.base && st.file_size - st.base > eoa)
        eoa = st.file_size - st.base;
    sb[11] = 0;
    h5tier__le_put(sb + 12 + 16, eoa, 8);
    h5tier__le_put(sb + SB23_LEN - 4, h5tier__lookup3(sb, SB23_LEN - 4, 0), 4);
    rc = h5tier__pwrite_full(fd, sb, SB23_LEN, (off_t)st.offset);
    if (rc < 0)
        return h5tier__fail(-rc, "archive '%s': rewriting the superblock", path);
    return 0;
}
