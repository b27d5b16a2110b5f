/*
 * shm/H5FDshm.c -- the HDF5 virtual file driver "h5tier_shm": the bytes of
 * an HDF5 file in a named POSIX shared-memory object /dev/shm/NAME, from
 * offset 0, so that the object is a valid HDF5 file for every tool.
 *
 * One writer (H5F_ACC_RDWR) maps the object read-write; its ownership is an
 * flock on the control object (control.c), released by the kernel if it
 * dies.  Readers in any number of processes map it PROT_READ and follow its
 * growth by remapping on demand.  Space is reserved with fallocate before it
 * is mapped, so a full /dev/shm is an ENOSPC error, never a SIGBUS; the
 * object is never shrunk while a registered reader is alive.
 *
 * Reservation: a writer reserves up to every EOA the library sets (set_eoa),
 * in growth steps (the increment, or a quarter of the size for big files),
 * but never past the maxaddr it was opened with (a family driver opens its
 * members with the member size).  Close gives back what is reserved past the
 * logical end (written or truncated file) or past the size at open (a file
 * opened read-write and left unchanged), unless a reader is alive.
 *
 * Zeros: the file reads as zeros past its end and wherever nothing was
 * written since it shrank, as with sec2.  When truncate lowers the logical
 * end, the bytes between the new end and the highest byte written (hw) are
 * zeroed in place (the pages stay reserved until close); bytes past hw were
 * never written or were zeroed before.
 *
 * SWMR: each write is a memcpy into the shared mapping followed by a release
 * fence, each read an acquire fence then a memcpy: writes become visible in
 * order, there is no driver cache, reads past EOA are allowed (zero past the
 * object's end), and lock/unlock are flock on the data object.
 *
 * With a backing file the object is loaded from it at open when it does not
 * exist yet (by a writer, or by a reader holding the writer role while it
 * loads), and the pages written since the last commit are persisted on flush
 * and close (persist.c); the first commit after the shm bytes did not come
 * from the backing file writes everything.
 *
 * Files: this one (the callbacks and the class table), fapl.c (configuration
 * and H5Pset_fapl_shm), image.c (checks of an existing image), control.c
 * (the control object).
 *
 * Registration: h5tier_shm_driver_id registers the class on first use; the
 * class's terminate callback forgets the id when HDF5 frees it (H5close,
 * H5FDunregister), so after a library restart H5Pset_fapl_shm registers
 * again instead of installing whatever driver now holds the old id.
 *
 * Open semantics: H5F_ACC_EXCL fails on an existing object; H5F_ACC_TRUNC
 * empties it, but is refused (EBUSY) while a registered reader is alive, as
 * its mapping would SIGBUS; a second open in the process that holds the
 * writer role shares the file without taking the role (the library opens a
 * file twice to detect that it is already open).  Existing objects are
 * checked before use: empty or no signature -> H5TIER_ENOTHDF5, shorter than
 * the superblock's end-of-file address -> H5TIER_ETRUNC.
 *
 * Member driver (H5Pset_fapl_family / _split / _multi with shm members): a
 * member may be empty, hold no signature (family members 1.., split's raw
 * file) or be shorter than its superblock's end (family member 0: the end
 * counts the whole family).  Such an object is accepted when the
 * configuration says so (H5TIER_SHM_MEMBER), when the control object records
 * that the last writer closed it as a member (H5TIER_SHMC_MEMBER, set at
 * close from the image), or, for member 0, when its superblock names the
 * family or multi driver (image.c).  A member's logical end is its size.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "shm/shm_driver.h"
#include "shm/plugin.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* With H5TIER_SHM_POPULATE a write into never-touched space first faults in
 * (MADV_POPULATE_WRITE) this much ahead in one call: one batched population
 * costs about a third of the page faults it replaces.  Measured and rejected:
 * pwrite into fresh pages (tmpfs skips zeroing whole pages: first writes
 * ~1.4x faster) leaves the pages unmapped, so the next rewrite faults on
 * every page and runs at ~0.4x of a mapped memcpy. */
#define SHM_POPULATE_AHEAD ((uint64_t)4 << 20)
/* H5TIER_SHM_POPULATE_AHEAD starts its helper thread once the writer has
 * written this far: below, a thread costs more than the pages it prepares. */
#define SHM_AHEAD_MIN ((uint64_t)8 << 20)
#define SHM_AHEAD_RESERVE ((uint64_t)32 << 20)
/* Largest address: off_t is signed 64-bit. */
#define SHM_MAXADDR ((haddr_t)INT64_MAX - 1)

typedef struct shm_file {
    H5FD_t pub;                  /* public part; must be first */
    h5tier_shm_config_t cfg;     /* configuration, defaults filled in */
    char canon[H5TIER_SHM_NAME_MAX + 2]; /* "/name" */
    int fd;                      /* the data object */
    int writer;                  /* opened H5F_ACC_RDWR */
    int owner;                   /* holds the writer role (flock on the control object) */
    unsigned char *map;          /* mapping of [0, maplen), NULL when maplen == 0 */
    size_t maplen;
    uint64_t size;               /* writer: physical (reserved) size of the object */
    uint64_t open_size;          /* writer: physical size at open (kept at close if nothing changed) */
    uint64_t fresh;              /* writer: [fresh, size) never touched since reserved (a hint only) */
    uint64_t hw;                 /* writer: every byte at or past hw is zero (written high-water mark) */
    haddr_t eoa;                 /* end of allocated space, set by the library */
    haddr_t eof;                 /* writer: logical end of the file */
    int touched;                 /* writer: wrote or truncated, so close may shrink */
    int ctl_fd;                  /* control object, -1 if none */
    h5tier_shmc_t *ctl;
    int reader_slot;             /* reader: slot in ctl, -1 if unregistered */
    dev_t dev;                   /* identity, for cmp */
    ino_t ino;
    size_t pagesz;               /* system page size */
    int backed;                  /* cfg.backing_file is set */
    h5tier_pagemap_t dirty;      /* pages written since the last backing commit */
    int full_commit;             /* next commit writes everything (shm not loaded from the backing file) */
    uint64_t committed_eof;      /* eof of the last commit (or of the loaded file) */
    h5tier__shm_ahead_t *ahead;  /* writer: populate-ahead thread (ahead.c), NULL if none */
    int ahead_off;               /* writer: the thread could not be started: do not retry */
    uint64_t ahead_at;           /* writer: frontier at which to ask for the next reservation */
} shm_file_t;

static void *vfd_fapl_get(H5FD_t *_f)
{
    shm_file_t *f = (shm_file_t *)_f;
    h5tier_shm_config_t *c = malloc(sizeof *c);
    if (c)
        *c = f->cfg;
    return c;
}

static void *vfd_fapl_copy(const void *old)
{
    h5tier_shm_config_t *c = malloc(sizeof *c);
    if (c)
        memcpy(c, old, sizeof *c);
    return c;
}

static herr_t vfd_fapl_free(void *fa)
{
    free(fa);
    return 0;
}

/* ---- mapping and growth ------------------------------------------------- */

static uint64_t round_up(uint64_t x, uint64_t to) { return (x + to - 1) / to * to; }

/* A reader's mapping of the data object was cut short under it (SIGBUS
 * caught, sigbus.c).  Pushes the error; returns -EIO. */
static int push_data_broken(const shm_file_t *f)
{
    return H5TIER_PUSH(H5TIER_AREA_SHM, EIO,
                       "shm object '%s' (%s%s) was truncated by another process while this reader had it mapped: "
                       "what it read there is not the file's (reopen it)",
                       f->canon, h5tier__shm_dir(), f->canon);
}

/* The control object was truncated under our mapping (sigbus.c): pushes the
 * error, returns -EIO.  The data object (and a backing file) are intact. */
static int push_ctl_broken(const shm_file_t *f)
{
    return H5TIER_PUSH(H5TIER_AREA_SHM, EIO,
                       "shm object '%s': its control object %s/.%s.h5tier was truncated by another process: reader "
                       "slots and the published end of file are lost (the data in %s%s%s%s is intact)",
                       f->canon, h5tier__shm_dir(), f->canon + 1, h5tier__shm_dir(), f->canon,
                       f->backed ? " and the backing file " : "", f->backed ? f->cfg.backing_file : "");
}

/* Map (or remap) [0, len) of the object.  0 or -errno (pushed). */
static int map_to(shm_file_t *f, size_t len)
{
    if (len == f->maplen)
        return 0;
    if (!f->writer && f->map && h5tier__sigbus_broken(f->map))
        return push_data_broken(f); /* its pages are private zeros now: nothing to extend */
    void *p;
    if (f->map) {
        if (!f->writer)
            h5tier__sigbus_unregister(f->map);
        p = h5tier_sys.mremap(f->map, f->maplen, len, MREMAP_MAYMOVE);
    } else
        p = h5tier_sys.mmap(NULL, len, f->writer ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        if (f->map && !f->writer)
            h5tier__sigbus_register(f->map, f->maplen, PROT_READ); /* the old mapping stays */
        return H5TIER_PUSH(H5TIER_AREA_SHM, e, "shm object '%s': cannot map %zu bytes (was %zu)", f->canon, len,
                           f->maplen);
    }
    f->map = p;
    f->maplen = len;
    /* A reader's view of another process's object: its owner may shrink it
     * under us (a writer closing while we read unregistered, or anyone with
     * write permission): survive, and let vfd_read report it. */
    if (!f->writer)
        h5tier__sigbus_register(p, len, PROT_READ);
    return 0;
}

/* A file opened with a maximum address (a family member: its member size)
 * never reserves past it: the increment would cost a whole step of RAM per
 * 100-byte member. */
static uint64_t cap_target(const shm_file_t *f, uint64_t target, uint64_t need)
{
    haddr_t max = f->pub.maxaddr;
    if (max == 0 || max == HADDR_UNDEF || max >= SHM_MAXADDR)
        return target;
    uint64_t cap = round_up((uint64_t)max, f->pagesz), low = round_up(need, f->pagesz);
    if (cap < low)
        cap = low;
    return target < cap ? target : cap;
}

/* The reserved size growth to cover need goes to: rounded to the increment
 * and at least a quarter more than the current size (geometric for big
 * files, so a file of N bytes costs O(log N) remaps). */
static uint64_t grow_target(const shm_file_t *f, uint64_t need)
{
    uint64_t inc = round_up(f->cfg.increment, f->pagesz);
    uint64_t target = need;
    if (f->size > 0 && target < f->size + f->size / 4)
        target = f->size + f->size / 4;
    return cap_target(f, round_up(target, inc), need);
}

/* Writer: keep the populate-ahead thread informed.  frontier: [frontier,
 * size) was never touched.  Starts the thread once the frontier passes
 * SHM_AHEAD_MIN (small files never get one), tells it the reserved size (it
 * zeroes up to there) and, once the frontier is within half a growth step of
 * the reserved end, asks it to reserve the next step.  f->ahead_at is the
 * frontier at which the write path calls this again. */
static void ahead_update(shm_file_t *f, uint64_t frontier)
{
    f->ahead_at = UINT64_MAX;
    if (!(f->cfg.flags & H5TIER_SHM_POPULATE_AHEAD) || !f->owner || f->ahead_off)
        return;
    if (!f->ahead) {
        if (frontier < SHM_AHEAD_MIN) {
            f->ahead_at = SHM_AHEAD_MIN;
            return;
        }
        if (frontier >= f->size)
            return; /* all written: the next grow() calls this again */
        f->ahead = h5tier__shm_ahead_start(f->fd, f->size, frontier);
        if (!f->ahead) {
            f->ahead_off = 1; /* no thread: the writer does everything itself, as without the flag */
            return;
        }
    }
    /* The next growth step, but at most one increment or 32 MiB: what the file
     * never uses of a reservation ahead is wasted work (and memory until
     * close); grow() simply grows again sooner. */
    uint64_t inc = round_up(f->cfg.increment, f->pagesz), cap = inc > SHM_AHEAD_RESERVE ? inc : SHM_AHEAD_RESERVE;
    uint64_t step = grow_target(f, f->size + 1) - f->size;
    if (step > cap)
        step = cap;
    uint64_t at = f->size - (step / 2 < f->size ? step / 2 : f->size);
    int reserve = frontier >= at;
    h5tier__shm_ahead_kick(f->ahead, f->size, reserve ? f->size + step : 0);
    if (!reserve)
        f->ahead_at = at;
}

/* Push the failure to reserve [0, want) (need of it required) with error e,
 * naming the sizes and the free space of the shm directory: the driver
 * reserves every allocated byte in memory, so an allocated end beyond what
 * the shm file system holds (1 TiB, or HDF5's test of a 3e18-byte EOA)
 * fails here.  fstatvfs only informs this message, so it is called directly
 * rather than through h5tier_sys.  Returns -e. */
static int push_grow_failure(shm_file_t *f, int e, uint64_t want, uint64_t need)
{
    char ws[32], ns[32], fs[32], ts[32], where[160];
    struct statvfs vs;
    h5tier_format_size(want, ws, sizeof ws);
    h5tier_format_size(need, ns, sizeof ns);
    if (fstatvfs(f->fd, &vs) == 0)
        snprintf(where, sizeof where, "%s has %s free of %s", h5tier__shm_dir(),
                 h5tier_format_size((uint64_t)vs.f_bavail * vs.f_frsize, fs, sizeof fs),
                 h5tier_format_size((uint64_t)vs.f_blocks * vs.f_frsize, ts, sizeof ts));
    else
        snprintf(where, sizeof where, "free space of %s unknown", h5tier__shm_dir());
    return H5TIER_PUSH(H5TIER_AREA_SHM, e,
                       "shm object '%s': cannot grow to %s (%llu bytes) for an allocated end of %s (%llu bytes; "
                       "reserved now: %llu): %s; the shm driver keeps every allocated byte in memory",
                       f->canon, ws, (unsigned long long)want, ns, (unsigned long long)need,
                       (unsigned long long)f->size, where);
}

/* Writer: make sure [0, need) is reserved and mapped. */
static int grow(shm_file_t *f, uint64_t need)
{
    if (need <= f->maplen)
        return 0;
    if (need > f->size && f->ahead) {
        /* Take what the thread reserved ahead (waiting if it is at it now);
         * if it failed, the writer tries itself below and reports. */
        f->size = h5tier__shm_ahead_take(f->ahead, f->size);
    }
    if (need > f->size) {
        uint64_t inc = round_up(f->cfg.increment, f->pagesz);
        uint64_t target = grow_target(f, need);
        if (target > (uint64_t)SIZE_MAX || target > (uint64_t)INT64_MAX)
            return push_grow_failure(f, EFBIG, target, need);
        /* Reserve only the new range: ENOSPC now, not SIGBUS at first touch.
         * When the generous target does not fit, try the increment, then the
         * bare need: a nearly full shm directory still takes what fits. */
        uint64_t cand[3] = {target, cap_target(f, round_up(need, inc), need), round_up(need, f->pagesz)}, tried = 0;
        int e = 0;
        for (int i = 0; i < 3; i++) {
            if (i > 0 && cand[i] >= tried)
                continue; /* not smaller than what just failed */
            tried = cand[i];
            e = -h5tier__reserve_range(f->fd, (off_t)f->size, (off_t)(tried - f->size));
            if (e == 0) {
                target = tried;
                break;
            }
            if (e != ENOSPC && e != EDQUOT)
                break;
        }
        if (e)
            return push_grow_failure(f, e, tried, need);
        f->size = target;
    }
    int rc = map_to(f, (size_t)f->size);
    if (rc == 0)
        ahead_update(f, f->fresh);
    return rc;
}

/* Reader: follow the writer's growth.  0 or -errno (pushed). */
static int reader_refresh(shm_file_t *f)
{
    struct stat st;
    if (h5tier_sys.fstat(f->fd, &st) < 0)
        return H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': fstat", f->canon);
    if ((uint64_t)st.st_size > f->maplen && (uint64_t)st.st_size <= SIZE_MAX)
        return map_to(f, (size_t)st.st_size);
    return 0;
}

/* ---- open / close -------------------------------------------------------- */

static void file_free(shm_file_t *f)
{
    h5tier__shm_ahead_stop(f->ahead); /* first: no fallocate or mapping of ours may race what follows */
    if (f->map) {
        h5tier__sigbus_unregister(f->map);
        h5tier_sys.munmap(f->map, f->maplen);
    }
    if (f->ctl) {
        if (f->reader_slot >= 0)
            h5tier__shmc_reader_remove(f->ctl, f->reader_slot);
        if (f->owner)
            h5tier__shmc_writer_release(f->ctl_fd, f->ctl);
    }
    h5tier__shmc_close(f->ctl_fd, f->ctl);
    if (f->fd >= 0)
        h5tier_sys.close(f->fd);
    if (f->backed)
        h5tier__pagemap_free(&f->dirty);
    free(f);
}

/* Push "the object does not exist" (naming the backing file, if any, that
 * could not provide it either).  Returns -ENOENT. */
static int push_missing(const shm_file_t *f)
{
    if (f->cfg.backing_file[0])
        return H5TIER_PUSH(H5TIER_AREA_SHM, ENOENT, "shm object '%s' does not exist (%s%s) and no backing file '%s'",
                           f->canon, h5tier__shm_dir(), f->canon, f->cfg.backing_file);
    return H5TIER_PUSH(H5TIER_AREA_SHM, ENOENT, "shm object '%s' does not exist (%s%s)", f->canon, h5tier__shm_dir(),
                       f->canon);
}

/* Open the data object.  0 or -errno; pushes a message naming the object
 * unless the error is ENOENT and quiet_enoent. */
static int open_data(shm_file_t *f, int oflags, int quiet_enoent)
{
    int fd = h5tier_sys.shm_open(f->canon, oflags | O_CLOEXEC | O_NOFOLLOW, f->cfg.mode);
    if (fd >= 0) {
        f->fd = fd;
        return 0;
    }
    int e = errno;
    switch (e) {
    case ENOENT:
        return quiet_enoent ? -ENOENT : push_missing(f);
    case EEXIST:
        return H5TIER_PUSH(H5TIER_AREA_SHM, e, "shm object '%s' already exists (H5F_ACC_EXCL)", f->canon);
    case EACCES:
        return H5TIER_PUSH(H5TIER_AREA_SHM, e, "shm object '%s': permission denied opening it %s", f->canon,
                           (oflags & O_ACCMODE) == O_RDONLY ? "for reading" : "for writing");
    default:
        return H5TIER_PUSH(H5TIER_AREA_SHM, e, "shm object '%s': cannot open", f->canon);
    }
}

/* An existing data object is believed only when it is a regular file; a
 * writer that would truncate it (H5F_ACC_TRUNC: "make me a new file") also
 * needs it to be its own: another user's object, even one writable by all,
 * would receive this process's file (the other user could read it, rewrite
 * it under us or truncate it).  Opening another user's shared file for
 * read-write without TRUNC stays possible: that sharing was its owner's
 * choice.  0 or -errno pushed. */
static int check_existing(shm_file_t *f, int truncating)
{
    char what[H5TIER_SHM_NAME_MAX + 64];
    snprintf(what, sizeof what, "shm object '%s'", f->canon);
    struct stat st;
    int rc = h5tier__check_shared_fd(f->fd, what, H5TIER_TRUST_ANY_OWNER | H5TIER_TRUST_SHARED, 0, &st);
    if (rc < 0)
        return h5tier__shm_push_last(rc);
    if (truncating && st.st_uid != geteuid())
        return H5TIER_PUSH(H5TIER_AREA_SHM, EPERM,
                           "shm object '%s' is owned by uid %u, not by you (uid %u): H5F_ACC_TRUNC would write "
                           "your new file into another user's object; remove it (its owner can) or choose "
                           "another name",
                           f->canon, (unsigned)st.st_uid, (unsigned)geteuid());
    return 0;
}

/* Fill the freshly created, empty object f->fd (mapped read-write by the
 * caller's role) from the backing file.  0 or -errno pushed (-ENOENT when
 * there is no backing file). */
static int load_backing(shm_file_t *f, int fd, int writable_map)
{
    uint64_t bsize = 0;
    int rc = h5tier__backing_size(f->cfg.backing_file, &bsize); /* recovers a leftover journal first */
    if (rc == -ENOENT)
        return push_missing(f);
    if (rc < 0)
        return H5TIER_PUSH(H5TIER_AREA_SHM, rc, "shm object '%s': cannot load: %s", f->canon, h5tier__shm_why());
    if (bsize == 0 || bsize > (uint64_t)SIZE_MAX || bsize > (uint64_t)INT64_MAX)
        return H5TIER_PUSH(H5TIER_AREA_SHM, H5TIER_ENOTHDF5, "shm object '%s': backing file '%s' has an unusable size %llu",
                           f->canon, f->cfg.backing_file, (unsigned long long)bsize);
    uint64_t len = round_up(bsize, f->pagesz);
    if ((rc = h5tier__reserve(fd, (off_t)len)) < 0)
        return H5TIER_PUSH(H5TIER_AREA_SHM, rc, "shm object '%s': cannot reserve %llu bytes to load backing file '%s'%s%s%s",
                           f->canon, (unsigned long long)len, f->cfg.backing_file,
                           rc == -ENOSPC ? " (" : "", rc == -ENOSPC ? h5tier__shm_dir() : "",
                           rc == -ENOSPC ? " is full)" : "");
    void *p = h5tier_sys.mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': cannot map %llu bytes to load", f->canon,
                           (unsigned long long)len);
    rc = h5tier__backing_load(f->cfg.backing_file, p, bsize, NULL, NULL);
    if (rc < 0) {
        h5tier_sys.munmap(p, (size_t)len);
        return H5TIER_PUSH(H5TIER_AREA_SHM, rc, "shm object '%s': cannot load: %s", f->canon, h5tier__shm_why());
    }
    atomic_thread_fence(memory_order_release);
    if (writable_map) {
        f->map = p;
        f->maplen = (size_t)len;
        f->size = len;
    } else
        h5tier_sys.munmap(p, (size_t)len);
    f->committed_eof = bsize;
    return 0;
}

/* Persist the image to the backing file if anything changed since the last
 * commit.  0 or -errno pushed (naming the object and the backing file). */
static int commit_backing(shm_file_t *f)
{
    if (!f->owner || !f->backed)
        return 0;
    if (!f->full_commit && f->dirty.ndirty == 0 && f->eof == f->committed_eof)
        return 0;
    h5tier_persist_stats_t stats = {0};
    int rc = h5tier__backing_commit(f->cfg.backing_file, f->map, (uint64_t)f->eof, f->full_commit ? NULL : &f->dirty,
                                    f->cfg.flags, f->cfg.mode, &stats);
    if (rc < 0)
        return H5TIER_PUSH(H5TIER_AREA_SHM, rc, "shm object '%s': persist failed: %s", f->canon, h5tier__shm_why());
    h5tier__pagemap_clear(&f->dirty);
    f->full_commit = 0;
    f->committed_eof = (uint64_t)f->eof;
    return 0;
}

/* Mode of a new control object: whoever may read the file may also write
 * the control object, so every reader can take a reader slot (an
 * unregistered reader is invisible to the writer's shrink check). */
static mode_t ctl_mode(mode_t mode) { return mode | ((mode & 0444) >> 1); }

/* H5TIER_IMAGE_MEMBER when the object may be a member of a family, split or
 * multi file: configured so, or recorded so in the control object ctl (may
 * be NULL) by the last writer's close. */
static unsigned image_flags(const shm_file_t *f, const h5tier_shmc_t *ctl)
{
    /* relaxed atomic: a writer in another thread may be closing it now */
    if ((f->cfg.flags & H5TIER_SHM_MEMBER) ||
        (ctl && (__atomic_load_n(&ctl->flags, __ATOMIC_RELAXED) & H5TIER_SHMC_MEMBER)))
        return H5TIER_IMAGE_MEMBER;
    return 0;
}

/* Writer side of open: take the writer role, create/truncate/load. */
static int open_writer(shm_file_t *f, unsigned flags)
{
    int rc;
    int creat = (flags & H5F_ACC_CREAT) != 0, excl = (flags & H5F_ACC_EXCL) != 0;
    /* Probe without side effects first: no control object for a missing file. */
    int may_create = creat || f->backed;
    rc = open_data(f, O_RDWR, may_create);
    if (rc < 0 && (rc != -ENOENT || !may_create))
        return rc;
    int exists = rc == 0;
    if (exists && excl)
        return H5TIER_PUSH(H5TIER_AREA_SHM, EEXIST, "shm object '%s' already exists (H5F_ACC_EXCL)", f->canon);
    if (exists && (rc = check_existing(f, (flags & H5F_ACC_TRUNC) != 0)) < 0)
        return rc;
    rc = h5tier__shmc_open(f->canon, 1, 0, ctl_mode(f->cfg.mode), &f->ctl_fd, &f->ctl);
    if (rc < 0)
        return h5tier__shm_push_last(rc);
    rc = h5tier__shmc_writer_acquire(f->ctl_fd, f->ctl, f->canon);
    if (rc == -EBUSY && atomic_load(&f->ctl->writer_pid) == getpid() && exists &&
        !(flags & (H5F_ACC_TRUNC | H5F_ACC_EXCL))) {
        /* This process already writes it (the library opens a file a second
         * time to detect that); this handle shares the file without the role. */
        rc = 0;
    } else if (rc < 0)
        return h5tier__shm_push_last(rc);
    else
        f->owner = 1;
    int created = 0;
    if (!exists) {
        /* O_EXCL: we hold the writer role, so only a foreign creator can race us. */
        if ((rc = open_data(f, O_RDWR | O_CREAT | O_EXCL, 0)) < 0)
            return rc;
        created = 1;
        h5tier_sys.fchmod(f->fd, f->cfg.mode); /* the umask must not narrow the requested mode */
        if (f->backed && !creat) {
            rc = load_backing(f, f->fd, 1);
            if (rc < 0) {
                h5tier_sys.shm_unlink(f->canon); /* leave nothing half-loaded behind */
                return rc;
            }
        }
    }
    struct stat st;
    if (h5tier_sys.fstat(f->fd, &st) < 0)
        return H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': fstat", f->canon);
    if ((flags & H5F_ACC_TRUNC) && st.st_size > 0) {
        int readers = h5tier__shmc_live_readers(f->ctl);
        if (readers > 0)
            return H5TIER_PUSH(H5TIER_AREA_SHM, EBUSY,
                               "shm object '%s' has %d live reader(s): refusing to truncate it under them", f->canon,
                               readers);
        if (f->map) {
            h5tier_sys.munmap(f->map, f->maplen);
            f->map = NULL;
            f->maplen = 0;
        }
        if (h5tier_sys.ftruncate(f->fd, 0) < 0)
            return H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': cannot truncate", f->canon);
        st.st_size = 0;
        f->committed_eof = 0;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = (uint64_t)st.st_size;
    f->fresh = f->size;
    f->hw = f->size; /* what an earlier writer left past the end is unknown */
    f->open_size = f->size;
    /* The first commit writes everything unless the bytes came from the
     * backing file just now (an older shm object may differ from it). */
    f->full_commit = !(created && f->committed_eof > 0);
    if (f->size > 0) {
        /* Back every page: a hole left by another creator must not SIGBUS us later. */
        if (!created && (rc = h5tier__reserve(f->fd, (off_t)f->size)) < 0)
            return H5TIER_PUSH(H5TIER_AREA_SHM, rc, "shm object '%s': cannot reserve %llu bytes", f->canon,
                               (unsigned long long)f->size);
        if ((rc = map_to(f, (size_t)f->size)) < 0)
            return rc;
        uint64_t end;
        int member;
        if ((rc = h5tier__shm_check_image_ex(f->canon, f->map, f->size, image_flags(f, f->ctl), &end, &member, 0)) < 0)
            return rc;
        /* A member's own end is its size: the family driver sizes its members
         * by member 0's end of file. */
        f->eof = end && !member ? end : f->size;
    } else if (!creat && !image_flags(f, f->ctl)) {
        return H5TIER_PUSH(H5TIER_AREA_SHM, H5TIER_ENOTHDF5, "shm object '%s' is not an HDF5 file (the object is empty)",
                           f->canon);
    }
    if (f->owner) {
        uint32_t member = __atomic_load_n(&f->ctl->flags, __ATOMIC_RELAXED) & H5TIER_SHMC_MEMBER;
        __atomic_store_n(&f->ctl->flags, f->cfg.flags | member, __ATOMIC_RELAXED);
        f->ctl->page_size = f->cfg.page_size;
        snprintf(f->ctl->backing_file, sizeof f->ctl->backing_file, "%s", f->cfg.backing_file);
        atomic_store(&f->ctl->eof, (uint64_t)f->eof);
    }
    return 0;
}

/* A reader of a missing object with a backing file loads it first, holding
 * the writer role meanwhile so no writer sees a half-loaded object.  0 when
 * the object now exists (loaded by us or by someone else), or -errno pushed. */
static int reader_load(shm_file_t *f)
{
    int cfd = -1, fd = -1, rc;
    h5tier_shmc_t *ctl = NULL;
    rc = h5tier__shmc_open(f->canon, 1, 0, ctl_mode(f->cfg.mode), &cfd, &ctl);
    if (rc < 0)
        return h5tier__shm_push_last(rc);
    rc = h5tier__shmc_writer_acquire(cfd, ctl, f->canon);
    if (rc == -EBUSY) { /* a writer is creating it: give it a moment */
        for (int i = 0; i < 200 && (fd = h5tier_sys.shm_open(f->canon, O_RDONLY | O_CLOEXEC, 0)) < 0; i++)
            usleep(10000);
        if (fd >= 0)
            h5tier_sys.close(fd);
        h5tier__shmc_close(cfd, ctl);
        return 0;
    }
    if (rc < 0) {
        h5tier__shmc_close(cfd, ctl);
        return h5tier__shm_push_last(rc);
    }
    fd = h5tier_sys.shm_open(f->canon, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, f->cfg.mode);
    if (fd < 0) {
        rc = errno == EEXIST ? 0 : H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': cannot create to load it",
                                               f->canon);
    } else {
        h5tier_sys.fchmod(fd, f->cfg.mode);
        rc = load_backing(f, fd, 0);
        if (rc < 0)
            h5tier_sys.shm_unlink(f->canon);
        else
            atomic_store(&ctl->eof, f->committed_eof);
        h5tier_sys.close(fd);
    }
    h5tier__shmc_writer_release(cfd, ctl);
    h5tier__shmc_close(cfd, ctl);
    return rc;
}

/* Reader side of open: read-only mapping, register in a reader slot. */
static int open_reader(shm_file_t *f)
{
    int rc = open_data(f, O_RDONLY, f->backed);
    if (rc == -ENOENT && f->backed) {
        if ((rc = reader_load(f)) < 0)
            return rc;
        rc = open_data(f, O_RDONLY, 0);
    }
    if (rc < 0)
        return rc;
    if ((rc = check_existing(f, 0)) < 0) /* a FIFO or directory at the name: refused, never mapped */
        return rc;
    struct stat st;
    if (h5tier_sys.fstat(f->fd, &st) < 0)
        return H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': fstat", f->canon);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    /* Register before mapping, so a writer closing now does not shrink under us. */
    if (h5tier__shmc_open(f->canon, 0, 0, 0, &f->ctl_fd, &f->ctl) == 0) {
        int slot = h5tier__shmc_reader_add(f->ctl);
        f->reader_slot = slot >= 0 ? slot : -1; /* all slots taken: read unregistered */
    } else {
        f->ctl_fd = -1; /* no control object, or not ours to write: read unregistered */
        f->ctl = NULL;
    }
    if (h5tier_sys.fstat(f->fd, &st) < 0)
        return H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': fstat", f->canon);
    if (st.st_size > 0 && (rc = map_to(f, (size_t)st.st_size)) < 0)
        return rc;
    uint64_t end;
    unsigned iflags;
    if (f->ctl)
        iflags = image_flags(f, f->ctl);
    else {
        /* not ours to write: read its member record read-only */
        int cfd = -1;
        h5tier_shmc_t *c = NULL;
        iflags = image_flags(f, NULL);
        if (!iflags && h5tier__shmc_open(f->canon, 0, 1, 0, &cfd, &c) == 0) {
            iflags = image_flags(f, c);
            h5tier__shmc_close(cfd, c);
        }
    }
    /* A live writer may be creating or loading it right now: give it up to
     * ~2 s to become a complete image before calling it bad. */
    for (int tries = 0; f->ctl && tries < 200; tries++) {
        rc = h5tier__shm_check_image_ex(f->canon, f->map, f->maplen, iflags, &end, NULL, 1);
        pid_t w = atomic_load(&f->ctl->writer_pid);
        if (rc == 0 || !(rc == -H5TIER_ETRUNC || f->maplen == 0) || w == 0 || w == getpid() ||
            !h5tier__pid_alive(w, atomic_load(&f->ctl->writer_start)))
            break;
        usleep(10000);
        if ((rc = reader_refresh(f)) < 0)
            return rc;
    }
    return h5tier__shm_check_image_ex(f->canon, f->map, f->maplen, iflags, &end, NULL, 0);
}

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl_id, haddr_t maxaddr)
{
    (void)maxaddr;
    shm_file_t *f = calloc(1, sizeof *f);
    if (!f) {
        H5TIER_PUSH(H5TIER_AREA_SHM, ENOMEM, "shm driver: out of memory opening '%s'", name ? name : "");
        return NULL;
    }
    f->fd = f->ctl_fd = -1;
    f->reader_slot = -1;
    f->pagesz = (size_t)sysconf(_SC_PAGESIZE);
    const h5tier_shm_config_t *fa = NULL;
    if (fapl_id != H5P_DEFAULT && fapl_id != H5P_FILE_ACCESS_DEFAULT)
        fa = H5Pget_driver_info(fapl_id);
    if (h5tier__shm_config_check(fa, &f->cfg) < 0) {
        h5tier__shm_push_last(EINVAL);
        goto fail;
    }
    int rc = f->cfg.name[0] ? h5tier__shm_name_canon(f->cfg.name, f->canon, sizeof f->canon)
                            : h5tier__shm_name_from_path(name, f->canon, sizeof f->canon);
    if (rc < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, -rc, "shm object '%s': bad name (%s)", f->cfg.name[0] ? f->cfg.name : (name ? name : ""),
                    h5tier__shm_why());
        goto fail;
    }
    f->writer = (flags & H5F_ACC_RDWR) != 0;
    f->backed = f->cfg.backing_file[0] != 0;
    if (f->backed && h5tier__pagemap_init(&f->dirty, f->cfg.page_size, 0) < 0) {
        f->backed = 0;
        H5TIER_PUSH(H5TIER_AREA_SHM, ENOMEM, "shm object '%s': out of memory for the page map", f->canon);
        goto fail;
    }
    if ((f->writer ? open_writer(f, flags) : open_reader(f)) < 0)
        goto fail;
    f->eoa = 0;
    return &f->pub;
fail:
    file_free(f);
    return NULL;
}

/* Close: persist (backing file), unmap, shrink to the logical end unless a
 * reader is alive, unlink per on_close, release the writer role.
 *
 * A failure here is reported, but the callback still returns success: in
 * HDF5 1.10 a failing file close frees the file yet leaves its ID behind, and
 * the library's atexit cleanup then crashes on it.  So failures are pushed on
 * the error stack, recorded for h5tier_errmsg(), printed like any HDF5 error
 * when automatic printing is on (the default), and nothing is lost: an
 * object whose final persist failed is kept even with H5TIER_SHM_UNLINK. */
static void report_close_failure(void)
{
    H5E_auto2_t func = NULL;
    void *data = NULL;
    if (H5Eget_auto2(H5E_DEFAULT, &func, &data) >= 0 && func)
        func(H5E_DEFAULT, data);
}

static herr_t vfd_close(H5FD_t *_f)
{
    shm_file_t *f = (shm_file_t *)_f;
    int failed = 0;
    if (f->ahead) { /* before the shrink below: no reservation ahead may race it */
        h5tier__shm_ahead_stop(f->ahead);
        f->ahead = NULL;
    }
    if (f->owner) {
        atomic_store(&f->ctl->eof, (uint64_t)f->eof);
        int persisted = commit_backing(f) == 0;
        if (!persisted)
            failed = 1;
        /* Record whether this is a member of a family, split or multi file,
         * so the next open accepts what a standalone file may not be. */
        if (h5tier__shm_image_is_member(f->map, (uint64_t)f->eof))
            __atomic_fetch_or(&f->ctl->flags, H5TIER_SHMC_MEMBER, __ATOMIC_RELAXED);
        else
            __atomic_fetch_and(&f->ctl->flags, ~H5TIER_SHMC_MEMBER, __ATOMIC_RELAXED);
        if (f->map) {
            h5tier_sys.munmap(f->map, f->maplen);
            f->map = NULL;
            f->maplen = 0;
        }
        /* Give back what was reserved for an EOA that was raised and not (or
         * no longer) used: shrink to the logical end when the file was written
         * or truncated, else to the size at open (an untouched file keeps
         * whatever it held, e.g. bytes past the superblock's end that h5clear
         * could still recover).  Only when no reader could be mapping past it. */
        uint64_t keep = f->touched ? (uint64_t)f->eof : (f->open_size > f->eof ? f->open_size : (uint64_t)f->eof);
        /* The physical size: the populate-ahead thread may have reserved a
         * step beyond f->size that the writer never took. */
        uint64_t phys = f->size;
        struct stat st;
        if (h5tier_sys.fstat(f->fd, &st) == 0 && (uint64_t)st.st_size > phys)
            phys = (uint64_t)st.st_size;
        /* A truncated control object lost its reader slots: readers may be
         * mapping past keep, so the reservation stays. */
        int ctl_broken = h5tier__shmc_broken(f->ctl);
        if (ctl_broken) {
            push_ctl_broken(f);
            failed = 1;
        }
        if (phys > keep && !ctl_broken && h5tier__shmc_live_readers(f->ctl) == 0) {
            if (h5tier_sys.ftruncate(f->fd, (off_t)keep) < 0) {
                H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': cannot shrink to %llu bytes", f->canon,
                            (unsigned long long)keep);
                failed = 1;
            }
        }
        if (f->cfg.on_close == H5TIER_SHM_UNLINK && !persisted) {
            /* the shm object holds the only copy of the latest bytes: keep it */
            H5TIER_PUSH(H5TIER_AREA_SHM, EIO, "shm object '%s' kept (not unlinked): persisting to '%s' failed; "
                        "save it with 'h5tier shm save'", f->canon, f->cfg.backing_file);
        } else if (f->cfg.on_close == H5TIER_SHM_UNLINK) {
            char cname[H5TIER_SHM_NAME_MAX + 16];
            h5tier_sys.shm_unlink(f->canon);
            if (h5tier__shmc_name(f->canon, cname, sizeof cname) == 0)
                h5tier_sys.shm_unlink(cname);
        }
    }
    if (!f->owner && f->ctl && f->reader_slot >= 0) {
        h5tier__shmc_reader_remove(f->ctl, f->reader_slot);
        f->reader_slot = -1;
        if (h5tier__shmc_broken(f->ctl)) { /* a reader's slot was lost: said, nothing else is */
            push_ctl_broken(f);
            failed = 1;
        }
    }
    if (failed)
        report_close_failure();
    file_free(f);
    return 0;
}

/* ---- the I/O callbacks --------------------------------------------------- */

static int addr_check(const shm_file_t *f, haddr_t addr, size_t size)
{
    if (addr == HADDR_UNDEF || addr > SHM_MAXADDR || (haddr_t)size > SHM_MAXADDR - addr)
        return H5TIER_PUSH(H5TIER_AREA_SHM, EINVAL, "shm object '%s': address %llu + %zu is out of range", f->canon,
                           (unsigned long long)addr, size);
    return 0;
}

static herr_t vfd_read(H5FD_t *_f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf)
{
    (void)type;
    (void)dxpl;
    shm_file_t *f = (shm_file_t *)_f;
    if (addr_check(f, addr, size) < 0)
        return -1;
    if (!f->writer && addr + size > f->maplen && reader_refresh(f) < 0)
        return -1;
    atomic_thread_fence(memory_order_acquire); /* see the writer's bytes in the order it wrote them */
    /* The writer knows [fresh, ...) was never written: zeros without touching
     * (and faulting in) those pages -- the metadata accumulator reads
     * ahead of every small first write. */
    size_t valid = f->writer && f->fresh < f->maplen ? (size_t)f->fresh : f->maplen;
    size_t n = 0;
    if (addr < valid) {
        n = valid - (size_t)addr;
        if (n > size)
            n = size;
        memcpy(buf, f->map + addr, n);
        if (!f->writer && H5TIER_UNLIKELY(h5tier__sigbus_broken(f->map))) {
            push_data_broken(f); /* zeros, not the file: never returned as data */
            return -1;
        }
    }
    if (n < size) /* past the end (SWMR readers may read past EOA) or never written */
        memset((unsigned char *)buf + n, 0, size - n);
    return 0;
}

static herr_t vfd_write(H5FD_t *_f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf)
{
    (void)type;
    (void)dxpl;
    shm_file_t *f = (shm_file_t *)_f;
    if (!f->writer) {
        H5TIER_PUSH(H5TIER_AREA_SHM, EBADF, "shm object '%s' is open read-only: a reader cannot write", f->canon);
        return -1;
    }
    if (addr_check(f, addr, size) < 0)
        return -1;
    haddr_t end = addr + size;
    if (end > f->maplen && grow(f, end) < 0)
        return -1;
    if (end > f->fresh) {
        uint64_t to = round_up(end, f->pagesz);
        int populate = (f->cfg.flags & H5TIER_SHM_POPULATE) != 0;
        uint64_t from = f->fresh > addr ? f->fresh : addr & ~((uint64_t)f->pagesz - 1);
        if (populate) {
            if (to < from + SHM_POPULATE_AHEAD)
                to = round_up(from + SHM_POPULATE_AHEAD, f->pagesz);
            if (to > f->maplen)
                to = f->maplen;
        }
        if (f->ahead) /* stops short of a unit the thread is zeroing (ahead.c) */
            to = h5tier__shm_ahead_frontier(f->ahead, round_up(end, f->pagesz), to);
        if (to >= f->ahead_at)
            ahead_update(f, to);
        /* best effort: EINVAL before Linux 5.14; the memcpy faults instead */
        if (populate)
            h5tier_sys.madvise(f->map + from, (size_t)(to - from), MADV_POPULATE_WRITE);
        f->fresh = to;
    }
    memcpy(f->map + addr, buf, size);
    atomic_thread_fence(memory_order_release); /* SWMR: this write is visible before any later one */
    if (f->backed && h5tier__pagemap_mark(&f->dirty, addr, size) < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, ENOMEM, "shm object '%s': out of memory tracking dirty pages", f->canon);
        return -1;
    }
    f->touched = 1;
    if (end > f->hw)
        f->hw = end;
    if (end > f->eof) {
        f->eof = end;
        if (f->owner)
            atomic_store_explicit(&f->ctl->eof, (uint64_t)end, memory_order_release);
    }
    return 0;
}

static haddr_t vfd_get_eoa(const H5FD_t *_f, H5FD_mem_t type)
{
    (void)type;
    return ((const shm_file_t *)_f)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *_f, H5FD_mem_t type, haddr_t addr)
{
    (void)type;
    shm_file_t *f = (shm_file_t *)_f;
    if (addr_check(f, addr, 0) < 0)
        return -1;
    /* A writer reserves allocated space at once: the object never ends before
     * the EOA its superblock may record, and ENOSPC shows at allocation. */
    if (f->writer && addr > f->maplen && grow(f, addr) < 0)
        return -1;
    f->eoa = addr;
    return 0;
}

static haddr_t vfd_get_eof(const H5FD_t *_f, H5FD_mem_t type)
{
    (void)type;
    const shm_file_t *f = (const shm_file_t *)_f;
    if (f->writer)
        return f->eof;
    struct stat st;
    if (h5tier_sys.fstat(f->fd, &st) < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': fstat", f->canon);
        return HADDR_UNDEF;
    }
    return (haddr_t)st.st_size;
}

static herr_t vfd_get_handle(H5FD_t *_f, hid_t fapl, void **handle)
{
    (void)fapl;
    shm_file_t *f = (shm_file_t *)_f;
    if (!handle) {
        H5TIER_PUSH(H5TIER_AREA_SHM, EINVAL, "shm object '%s': get_handle without an output pointer", f->canon);
        return -1;
    }
    *handle = &f->fd;
    return 0;
}

static herr_t vfd_flush(H5FD_t *_f, hid_t dxpl, hbool_t closing)
{
    (void)dxpl;
    shm_file_t *f = (shm_file_t *)_f;
    if (!f->owner)
        return 0;
    atomic_store_explicit(&f->ctl->eof, (uint64_t)f->eof, memory_order_release);
    /* At closing the commit happens in vfd_close (see there why). */
    if (f->backed && !closing && !(f->cfg.flags & H5TIER_SHM_NO_PERSIST_ON_FLUSH) && commit_backing(f) < 0)
        return -1;
    /* After the commit: a broken control object never costs the data its persist. */
    if (!closing && h5tier__shmc_broken(f->ctl)) {
        push_ctl_broken(f);
        return -1;
    }
    return 0;
}

static herr_t vfd_truncate(H5FD_t *_f, hid_t dxpl, hbool_t closing)
{
    (void)dxpl;
    (void)closing;
    shm_file_t *f = (shm_file_t *)_f;
    if (!f->writer)
        return 0;
    /* The logical end becomes the EOA; the physical object is shrunk at close
     * (never under a live reader). */
    if (f->eoa > f->maplen && grow(f, f->eoa) < 0)
        return -1;
    if (f->eof != f->eoa)
        f->touched = 1;
    if (f->owner && f->eoa < f->hw) {
        /* The file shrinks: what lay past the new end must read as zeros when
         * the space is allocated again (sec2 cuts the file; the shm object
         * keeps its pages, reserved, until close).  Only the part ever
         * touched: [fresh, ...) is still zero.  Only the handle holding the
         * writer role: a second handle of this process (the library's probe
         * whether the file is open already) never changes the bytes. */
        uint64_t to = f->hw < f->fresh ? f->hw : f->fresh;
        if (to > f->maplen)
            to = f->maplen;
        if (to > f->eoa)
            memset(f->map + f->eoa, 0, (size_t)(to - f->eoa));
        atomic_thread_fence(memory_order_release);
        f->hw = f->eoa;
    }
    f->eof = f->eoa;
    if (f->owner)
        atomic_store_explicit(&f->ctl->eof, (uint64_t)f->eof, memory_order_release);
    return 0;
}

static herr_t vfd_lock(H5FD_t *_f, hbool_t rw)
{
    shm_file_t *f = (shm_file_t *)_f;
    int op = (rw ? LOCK_EX : LOCK_SH) | LOCK_NB;
    while (h5tier_sys.flock(f->fd, op) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == ENOSYS) /* file system without flock: like sec2 when locks are disabled */
            return 0;
        int e = errno;
        H5TIER_PUSH(H5TIER_AREA_SHM, e == EWOULDBLOCK ? EBUSY : e,
                    "shm object '%s': cannot take the HDF5 file lock (%s); another process has it open%s", f->canon,
                    rw ? "exclusive" : "shared", rw ? "" : " for writing");
        return -1;
    }
    return 0;
}

static herr_t vfd_unlock(H5FD_t *_f)
{
    shm_file_t *f = (shm_file_t *)_f;
    while (h5tier_sys.flock(f->fd, LOCK_UN) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == ENOSYS)
            return 0;
        H5TIER_PUSH(H5TIER_AREA_SHM, errno, "shm object '%s': cannot release the HDF5 file lock", f->canon);
        return -1;
    }
    return 0;
}

static int vfd_cmp(const H5FD_t *_a, const H5FD_t *_b)
{
    const shm_file_t *a = (const shm_file_t *)_a, *b = (const shm_file_t *)_b;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return 0;
}

/* sec2's feature set plus SWMR, minus H5FD_FEAT_DATA_SIEVE: the mapping is
 * memory, so the library's sieve buffer only adds a copy (and a read of 64
 * KiB around every small write); without it a 4 KiB H5Dwrite is one memcpy
 * into the mapping (4 KiB rewrites ~1.4x faster, reads ~1.2x).  Not
 * H5FD_FEAT_POSIX_COMPAT_HANDLE, although
 * get_handle returns the fd: with it the library lstat()s the name given to
 * H5Fcreate/H5Fopen as a path ("shm:run1" or "run1.h5" need not exist on
 * disk) and fails. */
static herr_t vfd_query(const H5FD_t *_f, unsigned long *flags)
{
    (void)_f;
    if (flags)
        *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA |
                 H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_SUPPORTS_SWMR_IO |
                 H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

/* ---- the class table ----------------------------------------------------- */

static const H5FD_class_t shm_class = {
#if defined(H5FD_CLASS_VERSION)
    .version = H5FD_CLASS_VERSION,                 /* struct version (1.14+) */
    .value = (H5FD_class_value_t)H5TIER_SHM_DRIVER_VALUE, /* driver value (1.14+) */
    .del = h5tier__shm_vfd_del,                    /* H5Fdelete (1.14+, plugin.c) */
#endif
    .name = H5TIER_SHM_DRIVER_NAME,                /* name shown by H5Pget_driver_info etc. */
    .maxaddr = SHM_MAXADDR,                        /* largest address: off_t range */
    .fc_degree = H5F_CLOSE_WEAK,                   /* default file close degree, like sec2 */
    .terminate = h5tier__shm_terminate,            /* forget the driver id (fapl.c) */
    .sb_size = NULL,                               /* no driver info in the superblock: */
    .sb_encode = NULL,                             /*   the image stays a plain sec2-compatible */
    .sb_decode = NULL,                             /*   HDF5 file */
    .fapl_size = sizeof(h5tier_shm_config_t),      /* size of the fapl driver info */
    .fapl_get = vfd_fapl_get,                      /* configuration of an open file */
    .fapl_copy = vfd_fapl_copy,                    /* copy the configuration */
    .fapl_free = vfd_fapl_free,                    /* free a copy */
    .dxpl_size = 0,                                /* no transfer properties */
    .dxpl_copy = NULL,
    .dxpl_free = NULL,
    .open = vfd_open,                              /* map the object (writer or reader) */
    .close = vfd_close,                            /* unmap, shrink/unlink per config, release roles */
    .cmp = vfd_cmp,                                /* same object: st_dev/st_ino */
    .query = vfd_query,                            /* feature flags (SWMR capable) */
    .get_type_map = NULL,                          /* default type map */
    .alloc = NULL,                                 /* library allocates at EOA */
    .free = NULL,                                  /* library frees */
    .get_eoa = vfd_get_eoa,                        /* end of allocated address space */
    .set_eoa = vfd_set_eoa,                        /* set it; a writer reserves up to it */
    .get_eof = vfd_get_eof,                        /* writer: logical end; reader: object size */
    .get_handle = vfd_get_handle,                  /* pointer to the data object's fd */
    .read = vfd_read,                              /* memcpy out (zero past the end) */
    .write = vfd_write,                            /* grow, memcpy in, release fence */
    .flush = vfd_flush,                            /* publish the logical end */
    .truncate = vfd_truncate,                      /* logical end := EOA */
    .lock = vfd_lock,                              /* flock on the data object */
    .unlock = vfd_unlock,                          /* release it */
    .fl_map = H5FD_FLMAP_DICHOTOMY,                /* free-list map, like sec2 */
};

#if defined(H5FD_CLASS_VERSION)
const H5FD_class_t *h5tier__shm_class(void) { return h5tier__shm_class14(&shm_class); } /* plugin.c */
#else
const H5FD_class_t *h5tier__shm_class(void) { return &shm_class; }
#endif
