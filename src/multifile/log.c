/*
 * multifile/log.c -- the multifile on-disk formats (see mf_internal.h): the
 * checksum (XXH3-64 from libxxhash), header and record encoding in fixed little-endian, and
 * the names of a directory's files.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "multifile/mf_internal.h"

/* ---- checksum: XXH3-64 (libxxhash) --------------------------------------- */

void h5tier__mf_hash_init(mf_hash_t *h, uint64_t seed)
{
    XXH3_INITSTATE(&h->st);
    XXH3_64bits_reset_withSeed(&h->st, seed);
}

void h5tier__mf_hash_update(mf_hash_t *h, const void *data, size_t len)
{
    XXH3_64bits_update(&h->st, data, len);
}

uint64_t h5tier__mf_hash_final(const mf_hash_t *h) { return XXH3_64bits_digest(&h->st); }

uint64_t h5tier__mf_hash(const void *p, size_t len, uint64_t seed) { return XXH3_64bits_withSeed(p, len, seed); }

/* ---- records and headers ------------------------------------------------- */

void h5tier__mf_rec_encode(const mf_rec_t *r, unsigned char out[MF_REC_SIZE])
{
    h5tier__le_put(out + 0, r->kind, 4);
    h5tier__le_put(out + 4, r->epoch, 4);
    h5tier__le_put(out + 8, r->seq, 8);
    h5tier__le_put(out + 16, r->addr, 8);
    h5tier__le_put(out + 24, r->len, 8);
    h5tier__le_put(out + 32, r->log_off, 8);
    h5tier__le_put(out + 40, r->data_hash, 8);
    h5tier__le_put(out + 48, r->aux, 8);
    h5tier__le_put(out + 56, h5tier__mf_hash(out, 56, MF_SEED_REC), 8);
}

int h5tier__mf_rec_decode(const unsigned char in[MF_REC_SIZE], mf_rec_t *r)
{
    if (h5tier__le_get(in + 56, 8) != h5tier__mf_hash(in, 56, MF_SEED_REC))
        return -EBADMSG;
    r->kind = (uint32_t)h5tier__le_get(in + 0, 4);
    r->epoch = (uint32_t)h5tier__le_get(in + 4, 4);
    r->seq = h5tier__le_get(in + 8, 8);
    r->addr = h5tier__le_get(in + 16, 8);
    r->len = h5tier__le_get(in + 24, 8);
    r->log_off = h5tier__le_get(in + 32, 8);
    r->data_hash = h5tier__le_get(in + 40, 8);
    r->aux = h5tier__le_get(in + 48, 8);
    return 0;
}

void h5tier__mf_hdr_encode(const mf_hdr_t *h, unsigned char out[MF_HDR_SIZE])
{
    memset(out, 0, MF_HDR_SIZE);
    memcpy(out, h->magic, 8);
    h5tier__le_put(out + 8, h->version, 4);
    h5tier__le_put(out + 12, h->hdr_size, 4);
    h5tier__le_put(out + 16, h->rank, 4);
    h5tier__le_put(out + 20, h->nranks, 4);
    h5tier__le_put(out + 24, h->rec_size, 4);
    h5tier__le_put(out + 28, h->flags, 4);
    h5tier__le_put(out + 32, h->ctime, 8);
    h5tier__le_put(out + 40, h->run_id, 8);
    h5tier__le_put(out + 56, h5tier__mf_hash(out, 56, MF_SEED_HDR), 8);
}

int h5tier__mf_hdr_decode(const unsigned char in[MF_HDR_SIZE], const char *magic, const char *what, mf_hdr_t *h)
{
    if (memcmp(in, magic, 8) != 0)
        return h5tier__fail(H5TIER_EMAGIC, "%s: no multifile header (magic is not %.8s)", what, magic);
    memcpy(h->magic, in, 8);
    h->version = (uint32_t)h5tier__le_get(in + 8, 4);
    if (h->version == MF_VERSION_HANDHASH)
        return h5tier__fail(H5TIER_EVERSION,
                            "%s: format version %u (written by an h5tier before 2026-12-08, whose checksums "
                            "were not XXH3), this h5tier reads version %u; merge it with the h5tier that wrote it",
                            what, h->version, MF_VERSION);
    if (h->version != MF_VERSION)
        return h5tier__fail(H5TIER_EVERSION, "%s: format version %u, this h5tier reads version %u", what,
                            h->version, MF_VERSION);
    if (h5tier__le_get(in + 56, 8) != h5tier__mf_hash(in, 56, MF_SEED_HDR))
        return h5tier__fail(EBADMSG, "%s: header checksum mismatch (corrupted header)", what);
    h->hdr_size = (uint32_t)h5tier__le_get(in + 12, 4);
    h->rank = (uint32_t)h5tier__le_get(in + 16, 4);
    h->nranks = (uint32_t)h5tier__le_get(in + 20, 4);
    h->rec_size = (uint32_t)h5tier__le_get(in + 24, 4);
    h->flags = (uint32_t)h5tier__le_get(in + 28, 4);
    h->ctime = h5tier__le_get(in + 32, 8);
    h->run_id = h5tier__le_get(in + 40, 8);
    if (h->hdr_size != MF_HDR_SIZE)
        return h5tier__fail(EBADMSG, "%s: header size %u is not %u", what, h->hdr_size, MF_HDR_SIZE);
    if (h->nranks == 0 || h->nranks > H5TIER_MULTIFILE_MAX_RANKS || h->rank >= h->nranks)
        return h5tier__fail(EBADMSG, "%s: rank %u of %u is out of range", what, h->rank, h->nranks);
    return 0;
}

/* ---- names ------------------------------------------------------------- */

int h5tier__mf_rank_path(char *buf, size_t len, const char *dir, unsigned rank, const char *ext)
{
    int n = snprintf(buf, len, "%s/r%06u.%s", dir, rank, ext);
    if (n < 0 || (size_t)n >= len)
        return h5tier__fail(ENAMETOOLONG, "multifile directory '%s': path too long", dir);
    return 0;
}

int h5tier__mf_dir_name(const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '/')
        n--;
    size_t sl = strlen(H5TIER_MULTIFILE_SUFFIX);
    int has = n > sl && memcmp(name + n - sl, H5TIER_MULTIFILE_SUFFIX, sl) == 0;
    int w = snprintf(buf, len, "%.*s%s", (int)n, name, has ? "" : H5TIER_MULTIFILE_SUFFIX);
    if (n == 0 || w < 0 || (size_t)w >= len)
        return h5tier__fail(n ? ENAMETOOLONG : EINVAL, "multifile name '%s': %s", name,
                            n ? "too long" : "empty");
    return 0;
}

int h5tier__mf_open_ro(const char *path, struct stat *st)
{
    int fd = h5tier_sys.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
    if (fd < 0)
        return h5tier__fail(errno, "'%s'", path);
    if (h5tier_sys.fstat(fd, st) < 0) {
        int e = errno;
        h5tier_sys.close(fd);
        return h5tier__fail(e, "'%s': fstat", path);
    }
    if (!S_ISREG(st->st_mode)) {
        h5tier_sys.close(fd);
        return h5tier__fail(EINVAL, "'%s' is not a regular file", path);
    }
    return fd;
}
