/*
 * ring/archive_internal.h -- what archive.c uses from archive_repair.c: the
 * superblock check and repair of an archive left behind by a killed
 * archiver.  Not installed.
 */
#ifndef H5TIER_RING_ARCHIVE_INTERNAL_H
#define H5TIER_RING_ARCHIVE_INTERNAL_H

#include <stdint.h>

/* HDF5's metadata checksum (Bob Jenkins' lookup3 hashlittle, as
 * H5_checksum_lookup3). */
uint32_t h5tier__lookup3(const void *key, size_t length, uint32_t initval);

/* What the superblock of an open file says. */
typedef struct h5tier_sb_state {
    uint64_t offset;    /* absolute offset of the superblock */
    unsigned version;   /* superblock version */
    unsigned flags;     /* status flags (v2+: bit 0 write access, bit 2 SWMR write) */
    uint64_t eoa;       /* stored end-of-file address, relative to the base */
    uint64_t base;      /* base address */
    uint64_t file_size; /* bytes in the file */
} h5tier_sb_state_t;

#define H5TIER_SB_WRITE_ACCESS 0x1u
#define H5TIER_SB_SWMR_WRITE 0x4u

/* Read the superblock of fd (path for messages).  0, -H5TIER_ENOTHDF5 (no
 * signature, truncated or checksum mismatch), -errno. */
int h5tier__sb_read(int fd, const char *path, h5tier_sb_state_t *st);

/* Clear the status flags and set the stored end-of-file address to
 * max(stored, file size - base), rewriting the checksum: what `h5clear -s
 * --increment=0` does.  Only for superblock versions 2 and 3 with 8-byte
 * addresses.  0, -H5TIER_ENOTHDF5, -EINVAL (other versions), -errno. */
int h5tier__sb_repair(int fd, const char *path);

#endif
