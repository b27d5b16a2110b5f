/*
 * h5tier_tier.h -- the tiered page-cache HDF5 file driver ("h5tier_tier").
 *
 * The file named in H5Fcreate/H5Fopen is the backing store: a plain HDF5
 * file, readable by every tool after close.  In front of it sit tiers: RAM
 * (this process's memory) and up to three SSD tiers (one cache file each in
 * a directory), each with a capacity.  The logical file is cut into pages;
 * a read is served by the fastest tier holding the page, a miss is filled
 * from the next tier or the backing store (with sequential/strided
 * read-ahead), writes land in RAM and a write-behind thread drains dirty
 * pages to the backing store within a dirty-bytes bound.  H5Fflush and
 * H5Fclose make everything durable in the backing file (written and
 * fsync'ed) and report any failure of the backing store.
 *
 * Configuration is one string (see docs/tier.md for the grammar):
 *
 *     hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
 *     H5Pset_fapl_tier(fapl, "ram=512MiB ssd=/local/cache:20GiB page=256KiB");
 *     hid_t f = H5Fcreate("/pfs/run1.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
 *
 * With config NULL the environment variable H5TIER_CONFIG is used, and
 * without it the defaults: a RAM tier of a quarter of the available memory
 * (at most 4 GiB), 256 KiB pages, LRU, read-ahead, asynchronous write-behind.
 *
 * Dirty pages live only in RAM (the dirty bound is at most half the RAM
 * tier): an SSD tier holds clean copies only, so a failing SSD (ENOSPC, EIO,
 * short I/O) is never a loss -- the tier is switched off with one warning on
 * stderr and the pages are read from the backing store again.
 *
 * SWMR is not supported (the driver caches; it does not set
 * H5FD_FEAT_SUPPORTS_SWMR_IO).
 *
 * Caveats: do not use a file opened through this driver in a child after
 * fork() (its write-behind thread is not there; HDF5 itself is not fork-safe
 * with open files either).  Paths in the configuration cannot contain blanks
 * or ';' (the separators).  Memory: up to ram= bytes of pages (and page
 * buffers prepared ahead), plus a copy of each page written to while its
 * write-back is in flight; the SSD tiers' cache files grow to at most their
 * capacity.
 */
#ifndef H5TIER_TIER_H
#define H5TIER_TIER_H

#include <stdint.h>

#include <hdf5.h>

#include "h5tier.h"

#ifdef __cplusplus
extern "C" {
#endif

#define H5TIER_TIER_DRIVER_NAME "h5tier_tier"
#define H5TIER_TIER_DRIVER_VALUE 601 /* H5FD_class_value_t requested for 1.14 (third-party range) */
#define H5TIER_TIER_MAX_TIERS 4      /* RAM + up to three SSD tiers */
#define H5TIER_TIER_CONFIG_MAX 4096  /* longest configuration string */

/* The driver's HDF5 id, registering it on first use; H5I_INVALID_HID on error. */
H5TIER_API hid_t h5tier_tier_driver_id(void);

/* Select the tier driver on a file access property list.  config is the
 * configuration string (NULL: $H5TIER_CONFIG, or the defaults when unset).
 * The string is checked here: a bad token is an error naming it and saying
 * what is allowed.  Returns non-negative on success, negative on failure
 * (the reason is on the HDF5 error stack and in h5tier_errmsg()).
 * Errors: bad configuration (EINVAL/ERANGE), fapl_id not a file access list. */
H5TIER_API herr_t H5Pset_fapl_tier(hid_t fapl_id, const char *config);

/* Copy the configuration string of a fapl using the tier driver into buf
 * (size len).  Negative if fapl_id does not use the tier driver or len is too
 * small. */
H5TIER_API herr_t H5Pget_fapl_tier(hid_t fapl_id, char *buf, size_t len);

/* Check a configuration string without opening anything.  0, or -EINVAL /
 * -ERANGE with h5tier_errmsg() quoting the bad token and what is allowed.
 * If canon is not NULL the normalised configuration (every setting, with
 * defaults) is written to it (canon_len bytes, NUL-terminated). */
H5TIER_API int h5tier_tier_config_check(const char *config, char *canon, size_t canon_len);

/* ---- per-transfer hints (selective buffering) ---------------------------- */

typedef enum h5tier_tier_hint {
    H5TIER_HINT_NONE = 0,    /* default placement */
    H5TIER_HINT_HOT = 1,     /* keep in RAM: counted as re-used, evicted last */
    H5TIER_HINT_COLD = 2,    /* cache, but evict first (no promotion) */
    H5TIER_HINT_NOCACHE = 3  /* do not cache: reads and writes of uncached pages go
                                straight to the backing store (cached pages are still
                                used, so nothing is ever stale) */
} h5tier_tier_hint_t;

/* Mark the transfers made with data transfer list dxpl_id (H5Dread/H5Dwrite)
 * with a hint.  It is a property of that dxpl, so a dxpl per access pattern
 * is the usual use.  Metadata always stays in RAM regardless of hints.
 * 0, -EINVAL (bad hint), -H5TIER_EHDF5 (not a dxpl). */
H5TIER_API int h5tier_tier_dxpl_hint(hid_t dxpl_id, h5tier_tier_hint_t hint);

/* ---- statistics ----------------------------------------------------------- */

typedef struct h5tier_tier_tier_stats {
    char name[16];            /* "ram", "ssd0", ... */
    uint64_t capacity;        /* bytes */
    uint64_t used;            /* bytes held now */
    uint64_t hits, misses;    /* page lookups served / not served by this tier */
    uint64_t bytes_in;        /* bytes written into the tier */
    uint64_t bytes_out;       /* bytes read out of the tier */
    uint64_t evictions;       /* pages evicted or demoted out of the tier */
    uint64_t promotions;      /* pages promoted into the tier from a slower one */
    double busy_s;            /* seconds spent in this tier's I/O */
    double ns_per_byte;       /* measured service time (moving average) */
    int failed;               /* 1 once the tier was switched off after an error */
} h5tier_tier_tier_stats_t;

typedef struct h5tier_tier_stats_s {
    unsigned ntiers;
    h5tier_tier_tier_stats_t tier[H5TIER_TIER_MAX_TIERS];
    uint64_t backing_reads, backing_read_bytes;   /* preads of the backing store */
    uint64_t backing_writes, backing_write_bytes; /* pwrites of the backing store */
    uint64_t bypass_bytes;       /* bytes written/read straight (nocache, streaming) */
    uint64_t prefetch_pages;     /* pages read ahead */
    uint64_t prefetch_hits;      /* of those, pages later read */
    uint64_t prefetch_waste;     /* of those, pages evicted (or closed) unread */
    uint64_t writeback_pages;    /* dirty pages written to the backing store */
    uint64_t writeback_stalls;   /* writes that waited for the dirty bound */
    uint64_t dirty_bytes;        /* dirty now */
    uint64_t kept_loaded_pages;  /* pages found in a kept SSD cache at open */
    double backing_busy_s;       /* seconds spent in backing-store I/O */
} h5tier_tier_stats_t;

/* Statistics of an open file (its file id).  0, -EINVAL (not a file using the
 * tier driver). */
H5TIER_API int h5tier_tier_stats(hid_t file_id, h5tier_tier_stats_t *st);

/* Write stats as one JSON object to path (the format H5TIER_STATS uses at
 * close and `h5tier tier stat` reads).  0 or -errno. */
H5TIER_API int h5tier_tier_stats_json(const h5tier_tier_stats_t *st, const char *file, const char *path);

/* ---- kept SSD caches (keep=yes) -------------------------------------------- */

typedef struct h5tier_tier_cache_info {
    char index[4096];      /* the index file */
    char backing[4096];    /* the backing file it caches */
    uint64_t backing_size; /* size and mtime it was valid for */
    int64_t mtime_ns;
    uint64_t page_size;
    uint64_t pages;        /* pages held */
    int stale;             /* 1 if the backing file is gone or changed since */
} h5tier_tier_cache_info_t;

/* List the kept caches in dir (cb per cache; stops at a non-zero return and
 * returns it).  0, -ENOENT, -errno. */
H5TIER_API int h5tier_tier_cache_list(const char *dir, int (*cb)(const h5tier_tier_cache_info_t *, void *),
                                      void *arg);

/* Remove the kept caches in dir: all (backing == NULL) or the one of a
 * backing file; only stale ones when stale_only.  Never removes a cache a
 * live process holds (flock).  Returns how many were removed, or -errno. */
H5TIER_API int h5tier_tier_cache_remove(const char *dir, const char *backing, int stale_only);

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_TIER_H */
