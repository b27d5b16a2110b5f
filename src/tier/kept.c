/*
 * tier/kept.c -- an SSD cache that outlives the process (keep=yes).
 *
 * In the first SSD tier's directory, per backing file identity (st_dev,
 * st_ino): `h5tier-<DEV>-<INO>.data` (page slots) and `h5tier-<DEV>-<INO>.idx`
 * (which page is in which slot).  The index starts with a magic, a format
 * version, the backing file's identity, size and mtime (ns) and the page
 * size, and ends with a checksum; anything that does not match makes the
 * cache cold (never wrong).  Order on save: data fdatasync, index to a
 * temporary name, fsync, rename, directory fsync.  A writer removes the index
 * at open, so a crash while it writes leaves no index at all.
 *
 * Sharing: every user holds the data file LOCK_SH (so `cache rm`, which
 * needs LOCK_EX, never removes a cache in use).  The first opener also takes
 * LOCK_EX on `h5tier-<DEV>-<INO>.lock`: the builder, which may add pages and
 * rewrites the index at close; later openers while it lives use the loaded
 * index read-only.  The builder never reuses a slot listed in the index it
 * loaded, and when other users were present at its open, no slot below the
 * data file's end at that time, so shared readers never see a slot change
 * under them.  Everything read from the index is checked
 * (owner, regular file, sizes, slot numbers) before use.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "tier/tier_internal.h"

typedef struct kept_hdr {
    char magic[8];
    uint32_t version;
    uint32_t hdr_size;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    uint64_t page;
    uint64_t nent;
    char path[4096];
} kept_hdr_t;

/* The index checksum: XXH3-64 (libxxhash) of the entries, seeded with the
 * XXH3-64 of the header.  Format 1 used a hand-written FNV-1a; such an index
 * fails the version check: the cache is cold and `cache ls` shows it stale. */
static uint64_t kept_sum(const void *hdr, size_t hlen, const void *ent, size_t elen)
{
    return XXH3_64bits_withSeed(ent, elen, XXH3_64bits(hdr, hlen));
}

void h5tier__tier_kept_name(uint64_t dev, uint64_t ino, char *out, size_t len)
{
    snprintf(out, len, "h5tier-%llx-%llx", (unsigned long long)dev, (unsigned long long)ino);
}

static int64_t mtime_ns(const struct stat *st) { return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec; }

/* Read and check the index; fills k->ent on success.  0 valid, 1 invalid/missing. */
static int load_index(tier_kept_t *k, const struct stat *bst, uint64_t page, uint64_t cap_slots)
{
    int fd = h5tier_sys.open(k->idx_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return 1;
    struct stat st;
    int ok = 0;
    kept_hdr_t h;
    tier_kept_entry_t *ent = NULL;
    if (h5tier_sys.fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (uint64_t)st.st_size < sizeof h + 8)
        goto out;
    size_t got = 0;
    if (h5tier__pread_full(fd, &h, sizeof h, 0, &got) < 0 || got != sizeof h)
        goto out;
    if (memcmp(h.magic, TIER_KEPT_MAGIC, 8) || h.version != TIER_KEPT_VERSION || h.hdr_size != sizeof h ||
        h.dev != (uint64_t)bst->st_dev || h.ino != (uint64_t)bst->st_ino || h.size != (uint64_t)bst->st_size ||
        h.mtime_ns != mtime_ns(bst) || h.page != page || h.nent > cap_slots ||
        (uint64_t)st.st_size != sizeof h + h.nent * sizeof *ent + 8)
        goto out;
    ent = malloc(h.nent ? h.nent * sizeof *ent : 1);
    if (!ent)
        goto out;
    if (h.nent && (h5tier__pread_full(fd, ent, h.nent * sizeof *ent, sizeof h, &got) < 0 || got != h.nent * sizeof *ent))
        goto out;
    uint64_t sum = 0, want = kept_sum(&h, sizeof h, ent, h.nent * sizeof *ent);
    if (h5tier__pread_full(fd, &sum, 8, (off_t)(sizeof h + h.nent * sizeof *ent), &got) < 0 || got != 8 || sum != want)
        goto out;
    for (uint64_t i = 0; i < h.nent; i++)
        if (ent[i].slot >= cap_slots || ent[i].pno > ((uint64_t)1 << 50))
            goto out;
    k->ent = ent;
    k->nent = h.nent;
    ent = NULL;
    ok = 1;
out:
    free(ent);
    h5tier_sys.close(fd);
    return ok ? 0 : 1;
}

int h5tier__tier_kept_open(tier_kept_t *k, const char *dir, const char *bpath, int bfd, uint64_t page,
                           uint64_t cap_slots, int invalidate, int want_exclusive)
{
    (void)bpath;
    memset(k, 0, sizeof *k);
    k->fd = k->lock_fd = -1;
    struct stat bst;
    if (h5tier_sys.fstat(bfd, &bst) < 0)
        return -errno;
    char base[64];
    h5tier__tier_kept_name((uint64_t)bst.st_dev, (uint64_t)bst.st_ino, base, sizeof base);
    if (snprintf(k->data_path, sizeof k->data_path, "%s/%s.data", dir, base) >= (int)sizeof k->data_path ||
        snprintf(k->idx_path, sizeof k->idx_path, "%s/%s.idx", dir, base) >= (int)sizeof k->idx_path)
        return h5tier__fail(ENAMETOOLONG, "kept cache in '%s': path too long", dir);
    int fd = h5tier_sys.open(k->data_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return h5tier__fail(errno, "kept cache '%s': cannot open", k->data_path);
    struct stat st;
    if (h5tier_sys.fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        h5tier_sys.close(fd);
        return h5tier__fail(EPERM, "kept cache '%s': not a private regular file of this user", k->data_path);
    }
    /* every user holds the data file shared (cache rm takes it exclusive) */
    while (h5tier_sys.flock(fd, LOCK_SH | LOCK_NB) < 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        h5tier_sys.close(fd);
        return h5tier__fail(e == EWOULDBLOCK ? EBUSY : e, "kept cache '%s' is being removed", k->data_path);
    }
    /* the builder role (may add pages, rewrites the index) is the lock file's */
    char lock_path[PATH_MAX + 8];
    snprintf(lock_path, sizeof lock_path, "%s/%s.lock", dir, base);
    int lfd = h5tier_sys.open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int excl = 0;
    if (lfd >= 0 && h5tier_sys.fstat(lfd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
        while (h5tier_sys.flock(lfd, LOCK_EX | LOCK_NB) < 0 && errno == EINTR)
            ;
        excl = h5tier_sys.flock(lfd, LOCK_EX | LOCK_NB) == 0;
    }
    if (!excl && lfd >= 0) {
        h5tier_sys.close(lfd);
        lfd = -1;
    }
    k->lock_fd = lfd;
    k->pin_below = 0;
    if (excl) {
        /* other users right now?  Then every slot the file holds may be in
         * use by them: only new slots past its end are written */
        if (h5tier_sys.flock(fd, LOCK_EX | LOCK_NB) == 0)
            h5tier_sys.flock(fd, LOCK_SH); /* alone: back to shared */
        else
            k->pin_below = (uint64_t)st.st_size / page;
        struct stat dst;
        if (h5tier_sys.fstat(fd, &dst) == 0 && k->pin_below)
            k->pin_below = (uint64_t)dst.st_size / page;
    }
    if (!excl && (want_exclusive || invalidate)) {
        h5tier_sys.close(fd);
        return h5tier__fail(EBUSY, "kept cache '%s' is held by another process", k->data_path);
    }
    k->fd = fd;
    k->exclusive = excl;
    int valid = load_index(k, &bst, page, cap_slots) == 0;
    if (!valid && !excl) { /* nothing usable and not ours to rebuild */
        h5tier__tier_kept_close(k);
        return h5tier__fail(ESTALE, "kept cache '%s': no valid index and another process holds it", k->data_path);
    }
    if (excl && (invalidate || !valid))
        h5tier_sys.unlink(k->idx_path); /* a crash from here on leaves the cache cold, never stale */
    return 0;
}

int h5tier__tier_kept_save(tier_kept_t *k, const char *bpath, int bfd, uint64_t page,
                           const tier_kept_entry_t *ent, uint64_t n)
{
    if (!k->exclusive)
        return 0;
    struct stat bst;
    if (h5tier_sys.fstat(bfd, &bst) < 0)
        return -errno;
    int rc = 0;
    if (k->wrote && h5tier_sys.fdatasync(k->fd) < 0)
        return h5tier__fail(errno, "kept cache '%s': fdatasync", k->data_path);
    kept_hdr_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TIER_KEPT_MAGIC, 8);
    h.version = TIER_KEPT_VERSION;
    h.hdr_size = sizeof h;
    h.dev = (uint64_t)bst.st_dev;
    h.ino = (uint64_t)bst.st_ino;
    h.size = (uint64_t)bst.st_size;
    h.mtime_ns = mtime_ns(&bst);
    h.page = page;
    h.nent = n;
    snprintf(h.path, sizeof h.path, "%s", bpath);
    uint64_t sum = kept_sum(&h, sizeof h, ent, n * sizeof *ent);
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", k->idx_path, (int)getpid());
    int fd = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return h5tier__fail(errno, "kept cache index '%s': cannot create", tmp);
    if ((rc = h5tier__pwrite_full(fd, &h, sizeof h, 0)) < 0 ||
        (n && (rc = h5tier__pwrite_full(fd, ent, n * sizeof *ent, sizeof h)) < 0) ||
        (rc = h5tier__pwrite_full(fd, &sum, 8, (off_t)(sizeof h + n * sizeof *ent))) < 0 ||
        (rc = h5tier__fsync(fd)) < 0) {
        h5tier_sys.close(fd);
        h5tier_sys.unlink(tmp);
        return h5tier__fail(-rc, "kept cache index '%s': write", tmp);
    }
    h5tier_sys.close(fd);
    bool renamed;
    rc = h5tier__rename_durable(tmp, k->idx_path, &renamed);
    if (rc < 0 && !renamed)
        h5tier_sys.unlink(tmp);
    return rc < 0 ? h5tier__fail(-rc, "kept cache index '%s': rename", k->idx_path) : 0;
}

void h5tier__tier_kept_close(tier_kept_t *k)
{
    if (k->fd >= 0)
        h5tier_sys.close(k->fd); /* releases the flock */
    if (k->lock_fd > 0)
        h5tier_sys.close(k->lock_fd);
    k->fd = k->lock_fd = -1;
    free(k->ent);
    k->ent = NULL;
    k->nent = 0;
}

/* ---- management (h5tier tier cache ls|rm) --------------------------------- */

#include <dirent.h>

static int read_info(const char *idx, h5tier_tier_cache_info_t *ci)
{
    memset(ci, 0, sizeof *ci);
    snprintf(ci->index, sizeof ci->index, "%s", idx);
    int fd = h5tier_sys.open(idx, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    kept_hdr_t h;
    size_t got = 0;
    struct stat st;
    int rc = 0;
    if (h5tier_sys.fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || h5tier__pread_full(fd, &h, sizeof h, 0, &got) < 0 ||
        got != sizeof h || memcmp(h.magic, TIER_KEPT_MAGIC, 8) || h.version != TIER_KEPT_VERSION) {
        rc = -H5TIER_EMAGIC;
        ci->stale = 1;
        snprintf(ci->backing, sizeof ci->backing, "?");
        goto out;
    }
    h.path[sizeof h.path - 1] = 0;
    for (char *p = h.path; *p; p++) /* never print raw bytes from a file */
        if ((unsigned char)*p < 32 || (unsigned char)*p == 127)
            *p = '?';
    snprintf(ci->backing, sizeof ci->backing, "%s", h.path);
    ci->backing_size = h.size;
    ci->mtime_ns = h.mtime_ns;
    ci->page_size = h.page;
    ci->pages = h.nent;
    struct stat bst;
    ci->stale = !(stat(h.path, &bst) == 0 && (uint64_t)bst.st_dev == h.dev && (uint64_t)bst.st_ino == h.ino &&
                  (uint64_t)bst.st_size == h.size && mtime_ns(&bst) == h.mtime_ns);
out:
    h5tier_sys.close(fd);
    return rc;
}

static int is_idx(const char *n)
{
    size_t l = strlen(n);
    return !strncmp(n, "h5tier-", 7) && l > 11 && !strcmp(n + l - 4, ".idx");
}

int h5tier_tier_cache_list(const char *dir, int (*cb)(const h5tier_tier_cache_info_t *, void *), void *arg)
{
    DIR *d = opendir(dir);
    if (!d)
        return h5tier__fail(errno, "cache directory '%s'", dir);
    int ret = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_idx(e->d_name))
            continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        h5tier_tier_cache_info_t ci;
        read_info(p, &ci);
        if ((ret = cb(&ci, arg)) != 0)
            break;
    }
    closedir(d);
    return ret;
}

int h5tier_tier_cache_remove(const char *dir, const char *backing, int stale_only)
{
    DIR *d = opendir(dir);
    if (!d)
        return h5tier__fail(errno, "cache directory '%s'", dir);
    struct stat want;
    int have_want = backing && stat(backing, &want) == 0;
    if (backing && !have_want) {
        closedir(d);
        return h5tier__fail(ENOENT, "backing file '%s'", backing);
    }
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        size_t l = strlen(n);
        if (strncmp(n, "h5tier-", 7) || l < 12 || strcmp(n + l - 5, ".data"))
            continue;
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)(l - 5), n);
        if (have_want) {
            char wb[64];
            h5tier__tier_kept_name((uint64_t)want.st_dev, (uint64_t)want.st_ino, wb, sizeof wb);
            if (strcmp(wb, base))
                continue;
        }
        char dp[PATH_MAX], ip[PATH_MAX];
        snprintf(dp, sizeof dp, "%s/%s.data", dir, base);
        snprintf(ip, sizeof ip, "%s/%s.idx", dir, base);
        if (stale_only) {
            h5tier_tier_cache_info_t ci;
            if (read_info(ip, &ci) == 0 && !ci.stale)
                continue;
        }
        int fd = h5tier_sys.open(dp, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0)
            continue;
        struct stat st;
        if (h5tier_sys.fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || h5tier_sys.flock(fd, LOCK_EX | LOCK_NB) < 0) {
            h5tier_sys.close(fd); /* in use by a live process (or not a file): leave it */
            continue;
        }
        char lp[PATH_MAX];
        snprintf(lp, sizeof lp, "%s/%s.lock", dir, base);
        h5tier_sys.unlink(ip);
        h5tier_sys.unlink(lp);
        if (h5tier_sys.unlink(dp) == 0)
            removed++;
        h5tier_sys.close(fd);
    }
    closedir(d);
    return removed;
}
