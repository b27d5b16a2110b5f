/*
 * shm/persist.c -- backing files of the shm driver: size check and load,
 * dirty-page commit through a journal (or a whole temp file + rename), and
 * crash recovery.
 *
 * Journal mode (the default for an existing backing file PATH):
 *
 *   1. recover any leftover PATH.h5tier-journal (see below);
 *   2. write PATH.h5tier-journal (O_EXCL | O_NOFOLLOW, 0600, same directory):
 *        header  64 bytes: magic "H5TJRNL1", version (3), header size, page
 *                size, old size, new eof, number of runs, offset of the
 *                commit record, hash of the header;
 *        runs    per run of dirty pages (clipped to eof): a 32-byte record
 *                {offset, length, hash of the data, hash of the record},
 *                then the data;
 *        commit  the 32-byte commit record {magic "H5TJCMT1", hash chained
 *                over the header and every run record (each of which holds
 *                its data's hash), copy of the header hash, hash of the
 *                record};
 *      then ONE fdatasync of the journal and, at the same time on a helper
 *      thread, an fsync of the directory (the journal's name is durable).  The commit record is written with the
 *      data, not after a separate sync: it only counts when every checksum
 *      of the journal verifies, so a journal torn by a crash before its sync
 *      finished (commit record on disk, some data not) is recognised as
 *      never committed;
 *   3. apply: write the runs in place into PATH (O_NOFOLLOW), ftruncate to
 *      eof, fdatasync PATH (data and size; the times are not needed);
 *   4. unlink the journal.  The directory is NOT synced again before
 *      returning: if a crash makes the removal be forgotten, the journal
 *      comes back and recovery applies the same bytes again (idempotent:
 *      PATH already holds them).  The next journal commit's directory sync,
 *      or the sync a rename-mode commit does before its rename, makes the
 *      removal durable before PATH is changed again by h5tier.
 *
 * Per commit: 2 data syncs + 1 directory sync (format 1 did 3 + 2), ~2x
 * the dirty bytes plus small headers written, nothing read back.  Honest
 * caveats: (a) between step 3's first write and step 4 the bytes of PATH
 * are a mix of the old and the new version; they become exactly the new
 * version once h5tier_shm_recover() has run (the driver and `h5tier shm
 * load/recover` run it automatically); a foreign tool that opens PATH right
 * after a crash, before any recovery, may see the mix.  (b) A foreign tool
 * that rewrites pages of PATH in place within the file system's commit
 * interval (seconds) after a journal commit, followed by a crash, may have
 * those pages replaced by the journal's on the next recovery.  Use rename
 * mode (H5TIER_SHM_RENAME_SAVE) when every tool must always see a complete
 * file.
 *
 * Recovery (h5tier_shm_recover):
 *   no journal                                      -> 0
 *   header, commit record, a run record, or a run's data missing, torn or
 *     failing its checksum: never committed (apply only ever starts after
 *     the journal's sync), journal unlinked, PATH untouched  -> 2
 *   committed and every checksum valid              -> runs re-applied
 *     (idempotent), truncate, fsync, unlink, fsync dir  -> 1
 *   committed but PATH is missing, or another format version
 *                                                   -> -H5TIER_EJOURNAL /
 *     -H5TIER_EVERSION, journal kept for inspection.
 *   Every hash of format 3 is xxHash's XXH3-64 (libxxhash, seeded with the
 *   chain value where a hash is chained); formats 1 and 2 used a hash
 *   written here (jhash_v2 below) and are still read with it: the header's
 *   version picks the hash before any hash is checked, and a header with the
 *   right magic but an unknown version is refused and kept, never taken for
 *   a torn one.
 *   Format 1 journals (h5tier before 2026-12-07: data and commit record
 *   synced separately) are still replayed; for them a valid commit record
 *   with a failing data checksum means damage after the commit, so they
 *   are kept with -H5TIER_EJOURNAL as before.
 *
 * Rename mode, a new backing file, or a commit in which every page is dirty:
 * the whole image goes to PATH.h5tier-tmp (O_EXCL, same directory), fsync,
 * fsync the directory, rename over PATH, fsync the directory.  A leftover PATH.h5tier-tmp from a
 * killed commit is removed by recovery.  One committer per backing file at a
 * time is assumed (the driver's single writer); two processes committing to
 * the same PATH concurrently is not supported.
 *
 * Every system call goes through h5tier_sys, so tests inject ENOSPC, EIO,
 * short writes and kills at each step.  Journal fields are in host byte
 * order: a journal is recovered on the machine that wrote it.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "shm/shm_internal.h"

#define J_MAGIC UINT64_C(0x314C4E524A543548)   /* "H5TJRNL1" little-endian */
#define J_CMAGIC UINT64_C(0x31544D434A543548)  /* "H5TJCMT1" little-endian */
#define J_VERSION 3u     /* written (XXH3); 1 and 2 are still read (see above) */
#define J_VERSION_V2 2u  /* same layout and sync order as 3, the old hash */
#define J_VERSION_V1 1u
#define J_HDR 64u
#define J_REC 32u
#define J_SUFFIX ".h5tier-journal"
#define T_SUFFIX ".h5tier-tmp"
#define COPY_CHUNK ((size_t)8 << 20)

unsigned h5tier__journal_write_version = J_VERSION;

typedef struct jhdr {
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;
    uint64_t page_size;
    uint64_t old_size;
    uint64_t new_eof;
    uint64_t nruns;
    uint64_t commit_off; /* where the commit record goes */
    uint64_t hash;       /* of the 56 bytes above */
} jhdr_t;
_Static_assert(sizeof(jhdr_t) == J_HDR, "journal header layout");

typedef struct jrec {
    uint64_t off;
    uint64_t len;
    uint64_t data_hash;
    uint64_t hash; /* of the 24 bytes above */
} jrec_t;
_Static_assert(sizeof(jrec_t) == J_REC, "journal run record layout");

typedef struct jcommit {
    uint64_t magic;
    uint64_t chain;    /* hash chained over the header and every run record */
    uint64_t hdr_hash; /* copy of the header's hash */
    uint64_t hash;     /* of the 24 bytes above */
} jcommit_t;
_Static_assert(sizeof(jcommit_t) == J_REC, "journal commit record layout");

/* ---- checksum ------------------------------------------------------------
 * Format 3: XXH3-64 (libxxhash).  Formats 1 and 2 (read only): a 64-bit
 * hash written once here: four independent lanes of
 * rotl((h ^ word) * prime, 31) over 8-byte words (so the multiply latency
 * overlaps), the tail byte-wise FNV-1a, then a murmur3 fmix64 finaliser.
 * Not cryptographic; it detects torn and garbled journal writes. */
#define P1 UINT64_C(0x100000001b3)
#define P2 UINT64_C(0x9E3779B185EBCA87)

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k *= UINT64_C(0xc4ceb9fe1a85ec53);
    k ^= k >> 33;
    return k;
}

static uint64_t jhash_v2(uint64_t seed, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t a = seed ^ UINT64_C(0xcbf29ce484222325), b = a + P2, c = a ^ P2, d = rotl64(a, 17) + 1;
    size_t n = len;
    while (n >= 32) {
        uint64_t w[4];
        memcpy(w, p, 32);
        a = rotl64((a ^ w[0]) * P2, 31);
        b = rotl64((b ^ w[1]) * P2, 31);
        c = rotl64((c ^ w[2]) * P2, 31);
        d = rotl64((d ^ w[3]) * P2, 31);
        p += 32;
        n -= 32;
    }
    uint64_t h = fmix64(a) ^ rotl64(fmix64(b), 13) ^ rotl64(fmix64(c), 29) ^ rotl64(fmix64(d), 47);
    while (n--) {
        h ^= *p++;
        h *= P1;
    }
    return fmix64(h ^ (uint64_t)len);
}

/* The journal hash of format version ver: XXH3-64 seeded with seed for
 * format 3, the old hand-written one for formats 1 and 2. */
static uint64_t jhash(unsigned ver, uint64_t seed, const void *buf, size_t len)
{
    if (ver >= 3)
        return XXH3_64bits_withSeed(buf, len, seed);
    return jhash_v2(seed, buf, len);
}

/* Hash of a run's data: jhash chained over COPY_CHUNK-sized pieces, the
 * same pieces recovery reads back, so neither side needs the whole run. */
static uint64_t data_hash(unsigned ver, const void *buf, uint64_t len)
{
    uint64_t h = 0;
    const unsigned char *p = buf;
    while (len) {
        size_t n = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
        h = jhash(ver, h, p, n);
        p += n;
        len -= n;
    }
    return h;
}

/* ---- small helpers -------------------------------------------------------- */

static int side_path(const char *path, const char *suffix, char *out, size_t outlen)
{
    if (!path || !*path)
        return h5tier__fail(EINVAL, "backing file: empty path");
    int n = snprintf(out, outlen, "%s%s", path, suffix);
    if (n < 0 || (size_t)n >= outlen)
        return h5tier__fail(ENAMETOOLONG, "backing file '%s': path too long", path);
    return 0;
}

static void close_keep_errno(int fd)
{
    if (fd >= 0) {
        int e = errno;
        h5tier_sys.close(fd);
        errno = e;
    }
}

/* Open PATH (flags: O_RDONLY or O_RDWR) without following a symlink; must
 * be a regular file.  The fd, or -errno (-ENOENT when it does not exist). */
static int open_regular(const char *path, int flags, struct stat *st)
{
    int fd = h5tier_sys.open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return h5tier__fail(ELOOP, "backing file '%s': is a symbolic link (refused)", path);
        if (e == ENOENT)
            return h5tier__fail(ENOENT, "backing file '%s': does not exist", path);
        return h5tier__fail(e, "backing file '%s': open%s failed: %s", path,
                            (flags & O_ACCMODE) == O_RDONLY ? "" : " for writing", strerror(e));
    }
    if (h5tier_sys.fstat(fd, st) < 0) {
        int e = errno;
        h5tier_sys.close(fd);
        return h5tier__fail(e, "backing file '%s': fstat failed: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        h5tier_sys.close(fd);
        return h5tier__fail(EINVAL, "backing file '%s': not a regular file", path);
    }
    return fd;
}

/* ---- recovery --------------------------------------------------------------- */

/* Validate (apply == 0) or apply (apply == 1) the runs of a committed journal. */
static int walk_runs(const char *path, const char *jpath, int jfd, const jhdr_t *h, const jcommit_t *c,
                     int tfd, int apply, void *buf, size_t buflen)
{
    unsigned ver = h->version;
    uint64_t chain = jhash(ver, 0, h, J_HDR);
    uint64_t pos = J_HDR;
    for (uint64_t i = 0; i < h->nruns; i++) {
        jrec_t r;
        size_t got = 0;
        int e = h5tier__pread_full(jfd, &r, J_REC, (off_t)pos, &got);
        if (e < 0)
            return h5tier__fail(-e, "backing file '%s': read of journal '%s' failed: %s", path, jpath, strerror(-e));
        if (got < J_REC || r.hash != jhash(ver, 0, &r, 24) || r.off + r.len < r.off || r.off + r.len > h->new_eof ||
            pos + J_REC + r.len > h->commit_off)
            return h5tier__fail(H5TIER_EJOURNAL,
                                "backing file '%s': journal '%s' is committed but run record %llu is damaged; "
                                "journal kept, file not changed by recovery",
                                path, jpath, (unsigned long long)i);
        chain = jhash(ver, chain, &r, J_REC);
        pos += J_REC;
        uint64_t hsum = 0, done = 0;
        while (done < r.len) {
            size_t n = r.len - done < buflen ? (size_t)(r.len - done) : buflen;
            /* hash pieces exactly as data_hash() does: COPY_CHUNK-sized */
            e = h5tier__pread_full(jfd, buf, n, (off_t)(pos + done), &got);
            if (e < 0)
                return h5tier__fail(-e, "backing file '%s': read of journal '%s' failed: %s", path, jpath,
                                    strerror(-e));
            if (got < n)
                return h5tier__fail(H5TIER_EJOURNAL, "backing file '%s': journal '%s' is committed but shorter "
                                    "than its runs; journal kept", path, jpath);
            if (apply) {
                e = h5tier__pwrite_full(tfd, buf, n, (off_t)(r.off + done));
                if (e < 0)
                    return h5tier__fail(-e, "backing file '%s': write while replaying journal failed: %s", path,
                                        strerror(-e));
            } else {
                hsum = jhash(ver, hsum, buf, n);
            }
            done += n;
        }
        if (!apply && hsum != r.data_hash)
            return h5tier__fail(H5TIER_EJOURNAL,
                                "backing file '%s': journal '%s' is committed but the data of run %llu "
                                "(offset %llu, %llu bytes) fails its checksum; journal kept, file not changed "
                                "by recovery",
                                path, jpath, (unsigned long long)i, (unsigned long long)r.off,
                                (unsigned long long)r.len);
        pos += r.len;
    }
    if (!apply && (pos != h->commit_off || chain != c->chain))
        return h5tier__fail(H5TIER_EJOURNAL,
                            "backing file '%s': journal '%s' is committed but its records do not match the "
                            "commit checksum; journal kept",
                            path, jpath);
    return 0;
}

static int discard_journal(const char *path, const char *jpath)
{
    if (h5tier_sys.unlink(jpath) < 0 && errno != ENOENT) {
        int e = errno;
        return h5tier__fail(e, "backing file '%s': unlink of incomplete journal '%s' failed: %s", path, jpath,
                            strerror(e));
    }
    int e = h5tier__fsync_dir(jpath);
    if (e < 0)
        return h5tier__fail(-e, "backing file '%s': fsync of directory after discarding the journal failed: %s",
                            path, strerror(-e));
    return 2;
}

int h5tier_shm_recover(const char *backing_file)
{
    char jpath[PATH_MAX], tpath[PATH_MAX];
    int r = side_path(backing_file, J_SUFFIX, jpath, sizeof jpath);
    if (r < 0)
        return r;
    r = side_path(backing_file, T_SUFFIX, tpath, sizeof tpath);
    if (r < 0)
        return r;
    /* A temp file left by a killed rename-mode commit is garbage: the name
     * still holds the complete old version. */
    if (h5tier_sys.unlink(tpath) < 0 && errno != ENOENT) {
        int e = errno;
        return h5tier__fail(e, "backing file '%s': cannot remove leftover temp file '%s': %s", backing_file, tpath,
                            strerror(e));
    }

    int jfd = h5tier_sys.open(jpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (jfd < 0) {
        int e = errno;
        if (e == ENOENT)
            return 0;
        if (e == ELOOP)
            return h5tier__fail(ELOOP, "backing file '%s': journal '%s' is a symbolic link (refused)", backing_file,
                                jpath);
        return h5tier__fail(e, "backing file '%s': open of journal '%s' failed: %s", backing_file, jpath, strerror(e));
    }
    int tfd = -1, ret;
    void *buf = NULL;
    struct stat st;
    jhdr_t h;
    jcommit_t c;
    size_t got = 0;
    if (h5tier_sys.fstat(jfd, &st) < 0) {
        ret = h5tier__fail(errno, "backing file '%s': fstat of journal failed: %s", backing_file, strerror(errno));
        goto out;
    }
    int e = h5tier__pread_full(jfd, &h, J_HDR, 0, &got);
    if (e < 0) {
        ret = h5tier__fail(-e, "backing file '%s': read of journal failed: %s", backing_file, strerror(-e));
        goto out;
    }
    /* Torn or empty header, or no valid commit record: the journal was never
     * committed, so the target was never touched.  Discard it. */
    /* The version picks the hash, so it is looked at first: a header with
     * our magic and a version this h5tier does not know may be a newer
     * h5tier's committed journal, kept rather than discarded. */
    if (got >= J_HDR && h.magic == J_MAGIC &&
        ((h.version != J_VERSION && h.version != J_VERSION_V2 && h.version != J_VERSION_V1) || h.hdr_size != J_HDR)) {
        ret = h5tier__fail(H5TIER_EVERSION,
                           "backing file '%s': journal '%s' has format version %u (this h5tier reads %u to %u); "
                           "kept, file not changed",
                           backing_file, jpath, h.version, J_VERSION_V1, J_VERSION);
        goto out;
    }
    if (got < J_HDR || h.magic != J_MAGIC || h.hash != jhash(h.version, 0, &h, 56)) {
        h5tier_sys.close(jfd);
        jfd = -1;
        ret = discard_journal(backing_file, jpath);
        goto out;
    }
    got = 0;
    if ((uint64_t)st.st_size >= h.commit_off + J_REC) {
        e = h5tier__pread_full(jfd, &c, J_REC, (off_t)h.commit_off, &got);
        if (e < 0) {
            ret = h5tier__fail(-e, "backing file '%s': read of journal failed: %s", backing_file, strerror(-e));
            goto out;
        }
    }
    if (got < J_REC || c.magic != J_CMAGIC || c.hash != jhash(h.version, 0, &c, 24) || c.hdr_hash != h.hash) {
        h5tier_sys.close(jfd);
        jfd = -1;
        ret = discard_journal(backing_file, jpath);
        goto out;
    }
    /* Committed: validate everything before touching the target. */
    size_t buflen = COPY_CHUNK;
    buf = malloc(buflen);
    if (!buf) {
        ret = h5tier__fail(ENOMEM, "backing file '%s': out of memory for recovery", backing_file);
        goto out;
    }
    ret = walk_runs(backing_file, jpath, jfd, &h, &c, -1, 0, buf, buflen);
    if (ret == -H5TIER_EJOURNAL && h.version != J_VERSION_V1) {
        /* Format 2 syncs the data and the commit record together: a
         * checksum that fails means the sync never finished, so the apply
         * never started and PATH is the old version. */
        h5tier_sys.close(jfd);
        jfd = -1;
        ret = discard_journal(backing_file, jpath);
        goto out;
    }
    if (ret < 0)
        goto out;
    tfd = h5tier_sys.open(backing_file, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
    if (tfd < 0) {
        e = errno;
        ret = h5tier__fail(e == ENOENT ? H5TIER_EJOURNAL : e,
                           "backing file '%s': cannot open it to replay committed journal '%s': %s; journal kept",
                           backing_file, jpath, strerror(e));
        goto out;
    }
    ret = walk_runs(backing_file, jpath, jfd, &h, &c, tfd, 1, buf, buflen);
    if (ret < 0)
        goto out;
    if (h5tier_sys.ftruncate(tfd, (off_t)h.new_eof) < 0) {
        ret = h5tier__fail(errno, "backing file '%s': truncate while replaying journal failed: %s", backing_file,
                           strerror(errno));
        goto out;
    }
    e = h5tier__fsync(tfd);
    if (e < 0) {
        ret = h5tier__fail(-e, "backing file '%s': fsync while replaying journal failed: %s", backing_file,
                           strerror(-e));
        goto out;
    }
    if (h5tier_sys.unlink(jpath) < 0) {
        ret = h5tier__fail(errno, "backing file '%s': unlink of replayed journal failed: %s", backing_file,
                           strerror(errno));
        goto out;
    }
    e = h5tier__fsync_dir(jpath);
    if (e < 0) {
        ret = h5tier__fail(-e, "backing file '%s': fsync of directory after replay failed: %s", backing_file,
                           strerror(-e));
        goto out;
    }
    ret = 1;
out:
    free(buf);
    if (tfd >= 0)
        h5tier_sys.close(tfd);
    if (jfd >= 0)
        h5tier_sys.close(jfd);
    return ret;
}

/* ---- size and load ------------------------------------------------------- */

int h5tier__backing_size(const char *path, uint64_t *size)
{
    int r = h5tier_shm_recover(path);
    if (r < 0)
        return r;
    struct stat st;
    int fd = open_regular(path, O_RDONLY, &st);
    if (fd < 0)
        return fd;
    int ret = -H5TIER_ENOTHDF5;
    long long at = h5tier__h5_signature_fd(fd, (uint64_t)st.st_size);
    if (at < 0 && at != -1) {
        ret = h5tier__fail((int)-at, "backing file '%s': read failed: %s", path, strerror((int)-at));
        goto out;
    }
    if (at >= 0) {
        *size = (uint64_t)st.st_size;
        ret = 0;
        goto out;
    }
    ret = h5tier__fail(H5TIER_ENOTHDF5, "backing file '%s': not an HDF5 file (no signature at 0, 512, 1024, ...)",
                       path);
out:
    h5tier_sys.close(fd);
    return ret;
}

int h5tier__read_in(int fd, void *dst, uint64_t size, void (*progress)(uint64_t done, uint64_t total, void *arg),
                    void *arg, uint64_t *at)
{
    uint64_t done = 0;
    while (done < size) {
        size_t n = size - done < COPY_CHUNK ? (size_t)(size - done) : COPY_CHUNK;
        size_t got = 0;
        int e = h5tier__pread_full(fd, (char *)dst + done, n, (off_t)done, &got);
        if (e < 0) {
            *at = done;
            return e;
        }
        if (got < n) {
            *at = done + got;
            return -H5TIER_ETRUNC;
        }
        done += n;
        if (progress)
            progress(done, size, arg);
    }
    *at = done;
    return 0;
}

int h5tier__backing_load(const char *path, void *dst, uint64_t size,
                         void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    struct stat st;
    int fd = open_regular(path, O_RDONLY, &st);
    if (fd < 0)
        return fd;
    uint64_t at = 0;
    int ret = h5tier__read_in(fd, dst, size, progress, arg, &at);
    if (ret == -H5TIER_ETRUNC)
        ret = h5tier__fail(H5TIER_ETRUNC, "backing file '%s': shorter than expected (%llu of %llu bytes); "
                           "it changed while being loaded", path, (unsigned long long)at, (unsigned long long)size);
    else if (ret < 0)
        ret = h5tier__fail(-ret, "backing file '%s': read at offset %llu failed: %s", path, (unsigned long long)at,
                           strerror(-ret));
    h5tier_sys.close(fd);
    return ret;
}

/* ---- commit ----------------------------------------------------------------- */

/* Whole image -> PATH.h5tier-tmp -> fsync -> fsync dir -> rename -> fsync dir. */
static int commit_rename(const char *path, const void *image, uint64_t eof, mode_t mode,
                         h5tier_persist_stats_t *stats)
{
    char tpath[PATH_MAX];
    int r = side_path(path, T_SUFFIX, tpath, sizeof tpath);
    if (r < 0)
        return r;
    int fd = h5tier_sys.open(tpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        return h5tier__fail(e, "backing file '%s': create of temp file '%s' failed: %s", path, tpath, strerror(e));
    }
    int ret = 0, e;
    if (h5tier_sys.fchmod(fd, mode) < 0) { /* the umask must not narrow an explicit mode */
        ret = h5tier__fail(errno, "backing file '%s': chmod of temp file failed: %s", path, strerror(errno));
        goto fail;
    }
    for (uint64_t done = 0; done < eof;) {
        size_t n = eof - done < COPY_CHUNK ? (size_t)(eof - done) : COPY_CHUNK;
        e = h5tier__pwrite_full(fd, (const char *)image + done, n, (off_t)done);
        if (e < 0) {
            ret = h5tier__fail(-e, "backing file '%s': write of temp file '%s' failed: %s", path, tpath,
                               strerror(-e));
            goto fail;
        }
        done += n;
    }
    e = h5tier__fsync(fd);
    if (e < 0) {
        ret = h5tier__fail(-e, "backing file '%s': fsync of temp file failed: %s", path, strerror(-e));
        goto fail;
    }
    e = h5tier_sys.close(fd);
    fd = -1;
    if (e < 0) {
        ret = h5tier__fail(errno, "backing file '%s': close of temp file failed: %s", path, strerror(errno));
        goto fail;
    }
    /* Make the directory durable before the rename: a journal commit
     * removes its journal without a directory sync, and a journal that a
     * crash brought back must never be applied over this new file. */
    if ((e = h5tier__fsync_dir(tpath)) < 0) {
        ret = h5tier__fail(-e, "backing file '%s': fsync of directory before rename failed: %s", path, strerror(-e));
        goto fail;
    }
    bool renamed;
    e = h5tier__rename_durable(tpath, path, &renamed);
    if (e < 0 && !renamed) {
        ret = h5tier__fail(-e, "backing file '%s': rename of temp file over it failed: %s", path, strerror(-e));
        goto fail;
    }
    if (e < 0) /* the new file is in place; only its name's durability is in doubt */
        return h5tier__fail(-e, "backing file '%s': fsync of directory after rename failed: %s", path, strerror(-e));
    if (stats) {
        stats->bytes_written += eof;
        stats->full = 1;
    }
    return 0;
fail:
    close_keep_errno(fd);
    h5tier_sys.unlink(tpath);
    return ret;
}

/* Iterate over the runs to persist: the dirty runs of pm clipped to eof, plus
 * everything in [old_size, eof) (growth is always written, whatever the map
 * says).  *page is the cursor; returns 0 at the end. */
typedef struct runiter {
    const h5tier_pagemap_t *pm;
    uint64_t eof, grow_from, page_size;
    size_t page; /* next page to look at */
} runiter_t;

static int next_run(runiter_t *it, uint64_t *off, uint64_t *len)
{
    uint64_t ps = it->page_size;
    for (;;) {
        uint64_t start = (uint64_t)it->page * ps;
        if (start >= it->eof)
            return 0;
        size_t p = it->page, cnt = 0;
        bool found = it->pm && h5tier__pagemap_next_run(it->pm, &p, &cnt);
        uint64_t rs = found ? (uint64_t)p * ps : UINT64_MAX;
        if (rs >= it->grow_from) { /* the growth region, from max(cursor, grow_from) */
            uint64_t g = it->grow_from > start ? it->grow_from : start;
            if (g >= it->eof)
                return 0;
            *off = g;
            *len = it->eof - g;
            it->page = (size_t)((it->eof + ps - 1) / ps);
            return 1;
        }
        uint64_t re = (uint64_t)(p + cnt) * ps;
        if (re > it->grow_from) /* merge with the growth region that follows */
            re = it->eof;
        if (re > it->eof)
            re = it->eof;
        it->page = (size_t)((re + ps - 1) / ps);
        if (re <= rs)
            continue;
        *off = rs;
        *len = re - rs;
        return 1;
    }
}

/* The directory fsync of a journal commit, run beside the journal's own
 * sync. */
typedef struct dirsync {
    const char *path;
    pthread_t th;
    int rc;
} dirsync_t;

static void *dirsync_main(void *arg)
{
    dirsync_t *d = arg;
    d->rc = h5tier__fsync_dir(d->path);
    return NULL;
}

static int commit_journal(const char *path, int tfd, uint64_t old_size, const void *image, uint64_t eof,
                          const h5tier_pagemap_t *dirty, h5tier_persist_stats_t *stats)
{
    char jpath[PATH_MAX];
    int r = side_path(path, J_SUFFIX, jpath, sizeof jpath);
    if (r < 0)
        return r;
    uint64_t ps = dirty->page_size;
    runiter_t it0 = {.pm = dirty, .eof = eof, .grow_from = old_size < eof ? old_size : eof, .page_size = ps};
    runiter_t it = it0;
    uint64_t nruns = 0, bytes = 0, off, len;
    while (next_run(&it, &off, &len)) {
        nruns++;
        bytes += len;
    }
    jhdr_t h = {.magic = J_MAGIC, .version = J_VERSION, .hdr_size = J_HDR, .page_size = ps, .old_size = old_size,
                .new_eof = eof, .nruns = nruns, .commit_off = J_HDR + nruns * J_REC + bytes};
    if (h5tier__journal_write_version != J_VERSION) /* tests only */
        h.version = h5tier__journal_write_version;
    unsigned ver = h.version;
    h.hash = jhash(ver, 0, &h, 56);

    int jfd = h5tier_sys.open(jpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (jfd < 0) {
        int e = errno;
        return h5tier__fail(e, "backing file '%s': create of journal '%s' failed: %s", path, jpath, strerror(e));
    }
    int ret = 0, e;
    bool committed = false;
    const char *step = "write of journal";
    e = h5tier__pwrite_full(jfd, &h, J_HDR, 0);
    uint64_t chain = jhash(ver, 0, &h, J_HDR), pos = J_HDR;
    it = it0;
    while (e == 0 && next_run(&it, &off, &len)) {
        jrec_t rec = {.off = off, .len = len, .data_hash = data_hash(ver, (const char *)image + off, len)};
        rec.hash = jhash(ver, 0, &rec, 24);
        chain = jhash(ver, chain, &rec, J_REC);
        e = h5tier__pwrite_full(jfd, &rec, J_REC, (off_t)pos);
        if (e == 0)
            e = h5tier__pwrite_full(jfd, (const char *)image + off, (size_t)len, (off_t)(pos + J_REC));
        pos += J_REC + len;
    }
    if (e < 0)
        goto jfail;
    jcommit_t c = {.magic = J_CMAGIC, .chain = chain, .hdr_hash = h.hash};
    c.hash = jhash(ver, 0, &c, 24);
    step = "write of journal commit record";
    if ((e = h5tier__pwrite_full(jfd, &c, J_REC, (off_t)pos)) < 0)
        goto jfail;
    /* One sync for data and commit record: recovery trusts the record only
     * when every checksum verifies (see the top of the file). */
    /* The directory's fsync (the journal's name) runs on a helper thread
     * while this one syncs the data: the file system can serve both with
     * one commit.  The apply starts only after both have succeeded. */
    dirsync_t ds = {.path = jpath};
    bool threaded = pthread_create(&ds.th, NULL, dirsync_main, &ds) == 0;
    step = "fdatasync of journal";
    e = h5tier__fdatasync(jfd);
    int de = threaded ? (pthread_join(ds.th, NULL), ds.rc) : h5tier__fsync_dir(jpath);
    if (e < 0)
        goto jfail;
    step = "fsync of directory after writing the journal";
    if ((e = de) < 0)
        goto jfail;
    committed = true;
    h5tier_sys.close(jfd);
    jfd = -1;

    /* Apply in place.  From here on a failure leaves a committed journal that
     * recovery replays: the commit is durable, only its application is not. */
    step = "write of dirty pages";
    it = it0;
    while (next_run(&it, &off, &len))
        if ((e = h5tier__pwrite_full(tfd, (const char *)image + off, (size_t)len, (off_t)off)) < 0)
            goto jfail;
    step = "truncate";
    if (h5tier_sys.ftruncate(tfd, (off_t)eof) < 0) {
        e = -errno;
        goto jfail;
    }
    step = "fdatasync";
    if ((e = h5tier__fdatasync(tfd)) < 0)
        goto jfail;
    /* No directory sync after the unlink: a journal that a crash brings
     * back is applied again, which changes nothing (see the top). */
    step = "unlink of applied journal";
    if (h5tier_sys.unlink(jpath) < 0) {
        e = -errno;
        goto jfail;
    }
    if (stats) {
        stats->bytes_written += h.commit_off + J_REC + bytes;
        stats->pages += (bytes + ps - 1) / ps;
    }
    return 0;
jfail:
    close_keep_errno(jfd);
    if (!committed) {
        h5tier_sys.unlink(jpath); /* never committed: the target is untouched */
        ret = h5tier__fail(-e, "backing file '%s': %s failed: %s (file unchanged)", path, step, strerror(-e));
    } else {
        ret = h5tier__fail(-e, "backing file '%s': %s failed: %s (the commit is in journal '%s'; "
                           "run 'h5tier shm recover %s' or reopen it to finish)",
                           path, step, strerror(-e), jpath, path);
    }
    return ret;
}

int h5tier__backing_commit(const char *path, const void *image, uint64_t eof, const h5tier_pagemap_t *dirty,
                           unsigned flags, mode_t mode, h5tier_persist_stats_t *stats)
{
    if (!path || !*path || (!image && eof))
        return h5tier__fail(EINVAL, "backing file: no path or image given");
    if (dirty && (dirty->page_size == 0 || (dirty->page_size & (dirty->page_size - 1))))
        return h5tier__fail(EINVAL, "backing file '%s': page size %zu is not a power of two", path, dirty->page_size);
    int r = h5tier_shm_recover(path);
    if (r < 0)
        return r;
    struct stat st;
    int tfd = open_regular(path, O_RDWR, &st);
    if (tfd == -ENOENT)
        return commit_rename(path, image, eof, mode ? mode : 0600, stats);
    if (tfd < 0)
        return tfd;
    uint64_t old_size = (uint64_t)st.st_size;
    /* Every page up to eof dirty (or no map; growth counts as dirty): a temp
     * file + rename writes half the bytes of a journal and is just as safe.
     * An existing file keeps its permissions. */
    bool all = !dirty;
    if (dirty) {
        uint64_t kept = old_size < eof ? old_size : eof;
        uint64_t pages = (kept + dirty->page_size - 1) / dirty->page_size;
        size_t p = 0, cnt = 0;
        all = pages == 0 ||
              (dirty->ndirty >= pages && h5tier__pagemap_next_run(dirty, &p, &cnt) && p == 0 && cnt >= pages);
    }
    if ((flags & H5TIER_SHM_RENAME_SAVE) || all) {
        h5tier_sys.close(tfd);
        return commit_rename(path, image, eof, st.st_mode & 07777, stats);
    }
    r = commit_journal(path, tfd, old_size, image, eof, dirty, stats);
    if (h5tier_sys.close(tfd) < 0 && r == 0)
        r = h5tier__fail(errno, "backing file '%s': close failed: %s", path, strerror(errno));
    return r;
}
