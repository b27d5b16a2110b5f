/*
 * tier/tier_internal.h -- what the tier driver's files share: the parsed
 * configuration (config.c), the kept SSD cache (kept.c) and the statistics
 * JSON (stats.c).  Not used outside src/tier/.
 */
#ifndef H5TIER_TIER_INTERNAL_H
#define H5TIER_TIER_INTERNAL_H

#include <limits.h>

#include "common/internal.h"
#include "h5tier_tier.h"

enum { TIER_EVICT_LRU, TIER_EVICT_LFU, TIER_EVICT_2Q };
enum { TIER_PLACE_FASTEST, TIER_PLACE_RR, TIER_PLACE_RANDOM };
enum { TIER_PREFETCH_OFF, TIER_PREFETCH_SEQ, TIER_PREFETCH_AUTO, TIER_PREFETCH_LEARN };
enum { TIER_FLUSH_ASYNC, TIER_FLUSH_SYNC };

#define TIER_MAX_SSD (H5TIER_TIER_MAX_TIERS - 1)
#define TIER_PATH_MAX 1024

typedef struct tier_cfg {
    uint64_t ram;                 /* bytes of the RAM tier */
    unsigned nssd;                /* SSD tiers */
    struct {
        char dir[TIER_PATH_MAX];  /* directory of its cache file */
        uint64_t cap;             /* bytes */
    } ssd[TIER_MAX_SSD];
    uint64_t page;                /* page size, a power of two */
    int evict;                    /* TIER_EVICT_* */
    int place;                    /* TIER_PLACE_* */
    int prefetch;                 /* TIER_PREFETCH_* */
    unsigned depth;               /* most pages read ahead at once */
    int flush;                    /* TIER_FLUSH_* */
    uint64_t dirty;               /* dirty-bytes bound */
    int keep;                     /* keep the first SSD tier across processes */
    uint64_t bypass;              /* raw writes at least this large skip the cache (0 = never) */
    int warn;                     /* print the one warning of a failing tier */
    char stats[TIER_PATH_MAX];    /* JSON statistics at close ("" = none; H5TIER_STATS wins) */
} tier_cfg_t;

/* Parse text (NULL or blank = all defaults) into *cfg.  0, or -EINVAL/-ERANGE
 * with an errmsg quoting the bad token and saying what is allowed. */
int h5tier__tier_config_parse(const char *text, tier_cfg_t *cfg);

/* The normalised text of cfg (every setting). */
void h5tier__tier_config_format(const tier_cfg_t *cfg, char *out, size_t len);

/* The default RAM tier: a quarter of the available memory, 64 MiB .. 4 GiB. */
uint64_t h5tier__tier_default_ram(void);

/* ---- kept SSD cache (kept.c) -------------------------------------------- */

#define TIER_KEPT_MAGIC "H5TKEPT1"
#define TIER_KEPT_VERSION 2u /* 2: XXH3 checksum (1: FNV-1a, read as stale) */

typedef struct tier_kept_entry {
    uint64_t pno;  /* page number in the logical file */
    uint64_t slot; /* slot in the cache data file */
} tier_kept_entry_t;

typedef struct tier_kept {
    char data_path[PATH_MAX];
    char idx_path[PATH_MAX];
    int fd;               /* the cache data file, flock'ed */
    int lock_fd;          /* the .lock file, flock'ed LOCK_EX by the builder; -1 otherwise */
    int exclusive;        /* the builder: may add pages and rewrite the index */
    uint64_t pin_below;   /* slots below this may be read by other users: never rewritten */
    int wrote;            /* pages were written to the data file since open */
    tier_kept_entry_t *ent; /* entries of a valid index at open */
    uint64_t nent;
} tier_kept_t;

/* Open the kept cache for the backing file (fd bfd, path bpath) in dir, for
 * pages of page bytes.  Takes LOCK_EX, or LOCK_SH when a live process holds
 * it (then read-only; want_exclusive callers get -EBUSY instead).  A valid
 * index (identity, size, mtime, page size, checksum) fills k->ent; a writer
 * (invalidate) removes the index so that a crash never leaves a stale one.
 * 0 or -errno (the caller then works with a private cache file). */
int h5tier__tier_kept_open(tier_kept_t *k, const char *dir, const char *bpath, int bfd, uint64_t page,
                           uint64_t cap_slots, int invalidate, int want_exclusive);

/* Write the index for ent[0..n) durably (data fdatasync, temp, fsync,
 * rename) describing the backing file's current size and mtime.  0 or -errno. */
int h5tier__tier_kept_save(tier_kept_t *k, const char *bpath, int bfd, uint64_t page,
                           const tier_kept_entry_t *ent, uint64_t n);

/* Release: unlock and close (the files stay). */
void h5tier__tier_kept_close(tier_kept_t *k);

/* The cache base name for a backing file identity. */
void h5tier__tier_kept_name(uint64_t dev, uint64_t ino, char *out, size_t len);

#endif
