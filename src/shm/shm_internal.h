/*
 * shm/shm_internal.h -- what the shm area's files share: the layout of the
 * control object next to each shm HDF5 file, and the persistence (backing
 * file) interface used by the driver and the management functions.
 *
 *   H5FDshm.c   the HDF5 driver
 *   control.c   the control object (.NAME.h5tier): writer ownership, reader slots
 *   persist.c   backing files: load, dirty-page commit through a journal, recover
 *   manage.c    info / list / load / save / remove without HDF5 (the CLI's base)
 */
#ifndef H5TIER_SHM_INTERNAL_H
#define H5TIER_SHM_INTERNAL_H

#include <stdatomic.h>

#include "common/internal.h"
#include "h5tier_shm.h"

/* ---- the control object: /dev/shm/.NAME.h5tier ------------------------- */

#define H5TIER_SHMC_MAGIC UINT64_C(0x314354534D543548) /* "H5TMSTC1" little-endian */
#define H5TIER_SHMC_VERSION 1u
#define H5TIER_SHMC_READERS 64 /* reader slots */
#define H5TIER_SHMC_SIZE 16384 /* bytes of the control object */

/* One registered reader, on its own cache line. */
typedef struct h5tier_shmc_reader {
    _Atomic int32_t pid;   /* 0 = free slot */
    uint32_t pad0;
    _Atomic uint64_t start; /* start time of pid (h5tier__proc_start_time) */
    char pad[H5TIER_CACHELINE - 16];
} h5tier_shmc_reader_t;

/* The control object's layout.  Every field is written by the writer only,
 * except reader slots (each reader its own).  Little-endian host layout: the
 * object never leaves the machine. */
typedef struct h5tier_shmc {
    uint64_t magic;               /* H5TIER_SHMC_MAGIC */
    uint32_t version;             /* H5TIER_SHMC_VERSION */
    uint32_t size;                /* sizeof(h5tier_shmc_t) */
    _Atomic uint64_t generation;  /* bumped by each writer open */
    _Atomic int32_t writer_pid;   /* pid of the writer holding the file open, 0 if none */
    uint32_t flags;               /* H5TIER_SHM_* flags of the current writer, and H5TIER_SHMC_MEMBER */
    _Atomic uint64_t writer_start; /* start time of writer_pid */
    _Atomic uint64_t eof;         /* logical end of the HDF5 file, published by the writer */
    uint64_t page_size;           /* write-tracking page size */
    char backing_file[4096];      /* backing file of the current writer, "" if none */
    char pad[H5TIER_CACHELINE * 66 - 4096 - 56];
    h5tier_shmc_reader_t readers[H5TIER_SHMC_READERS];
} h5tier_shmc_t;
_Static_assert(sizeof(h5tier_shmc_t) <= H5TIER_SHMC_SIZE, "control object too large");

/* In h5tier_shmc_t.flags: the last writer closed the object as a member of a
 * family, split or multi file (no HDF5 signature, or a superblock whose end
 * of file lies beyond the object); kept across writer opens until a writer
 * closes it again.  It only relaxes the driver's own image check: the HDF5
 * library still validates what it reads. */
#define H5TIER_SHMC_MEMBER 0x80000000u

/* Canonical control-object name for a canonical shm name "/x": "/.x.h5tier". */
int h5tier__shmc_name(const char *canon, char *out, size_t outlen);

/* Open (and when create, create 0600/mode, O_EXCL) the control object of
 * canon and map it (read-write unless readonly).  An existing one is checked
 * with h5tier__shmc_trust first (-EPERM / -EINVAL), then its magic, version
 * and size: -H5TIER_EMAGIC / -H5TIER_EVERSION with an errmsg naming the
 * object.  Fields other readers may write (eof, pids, backing_file) are
 * still only hints: callers bound-check them.  readonly gives a private
 * snapshot read with pread (a shared mapping could be truncated under us,
 * SIGBUS), not a live view; *fd is still the object (for flock).
 * When !create and it does not exist: -ENOENT. */
int h5tier__shmc_open(const char *canon, int create, int readonly, mode_t mode, int *fd, h5tier_shmc_t **ctl);
void h5tier__shmc_close(int fd, h5tier_shmc_t *ctl);
/* A shared (not readonly) mapping is registered with h5tier__sigbus_register:
 * when another process truncates the object under it, the process survives
 * and this says so; from then on the mapping is private zeros (reader slots,
 * writer fields and eof are lost to the others), which callers report as
 * "truncated by another process". */
static inline bool h5tier__shmc_broken(const h5tier_shmc_t *ctl) { return ctl && h5tier__sigbus_broken(ctl); }

/* Before an existing control object is believed (h5tier__shmc_open does it
 * for every opener): it must be a regular file owned by the caller or by
 * the owner of the data object, and writable by group/others only as far as
 * the data object is readable by them (h5tier__shmc_mode).  0, or -EINVAL /
 * -EPERM with an errmsg naming the control object and the reason (another
 * user may have planted it: /dev/shm is shared by every user). */
int h5tier__shmc_trust(const char *canon, const char *cname, int fd);

/* Mode of a control object for a data object of `mode`: whoever may read
 * the file may also write the control object (to take a reader slot). */
mode_t h5tier__shmc_mode(mode_t mode);

/* Become the one writer: flock(LOCK_EX|LOCK_NB) on the control fd, then set
 * writer_pid/writer_start and bump generation.  -EBUSY (errmsg names the
 * live writer's pid) when another writer holds it. */
int h5tier__shmc_writer_acquire(int fd, h5tier_shmc_t *ctl, const char *canon);
void h5tier__shmc_writer_release(int fd, h5tier_shmc_t *ctl);

/* Register / unregister this process as a reader.  Returns the slot index
 * or -EAGAIN when all slots are taken (then the reader works unregistered and
 * the writer never shrinks the object). */
int h5tier__shmc_reader_add(h5tier_shmc_t *ctl);
void h5tier__shmc_reader_remove(h5tier_shmc_t *ctl, int slot);
/* Number of live registered readers (dead ones are cleared). */
int h5tier__shmc_live_readers(h5tier_shmc_t *ctl);

/* ---- backing files (persist.c) ------------------------------------------ */

typedef struct h5tier_persist_stats {
    uint64_t bytes_written; /* bytes written to the journal plus the target */
    uint64_t pages;         /* dirty pages persisted */
    int full;               /* 1 if the whole image was written (new file or rename mode) */
} h5tier_persist_stats_t;

/* Size of the backing file after recovering any leftover journal (see
 * h5tier_shm_recover).  -ENOENT when it does not exist, -H5TIER_ENOTHDF5 when
 * it is not an HDF5 file.  Never follows a symlink in the last component. */
int h5tier__backing_size(const char *path, uint64_t *size);

/* Read [0, size) of fd into dst in 8 MiB pieces, calling progress (may be
 * NULL) after each.  0, -errno of a failed read, or -H5TIER_ETRUNC when fd
 * ends early; *at receives the offset reached (on a read error: the start of
 * the failing piece).  Nothing is recorded as errmsg: the caller names the
 * file. */
int h5tier__read_in(int fd, void *dst, uint64_t size, void (*progress)(uint64_t done, uint64_t total, void *arg),
                    void *arg, uint64_t *at);

/* Read the backing file's size bytes into dst. */
int h5tier__backing_load(const char *path, void *dst, uint64_t size,
                         void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg);

/* Make path hold image[0, eof) durably, writing only the pages marked in
 * dirty when the file exists and rename mode is off:
 *   journal mode: dirty pages + commit record -> PATH.h5tier-journal,
 *     fdatasync, fsync dir, apply in place, truncate to eof, fdatasync,
 *     unlink journal (directory not synced: a resurrected journal re-applies
 *     the same bytes).
 *   rename mode (H5TIER_SHM_RENAME_SAVE) or new file: whole image -> temp file
 *     in the same directory, fsync, fsync dir, rename over path, fsync dir.
 * A kill at any point leaves a file that is the old or the new version once
 * h5tier_shm_recover() has run (the driver runs it at open).  dirty may be
 * NULL (= everything).  0 or -errno. */
int h5tier__backing_commit(const char *path, const void *image, uint64_t eof, const h5tier_pagemap_t *dirty,
                           unsigned flags, mode_t mode, h5tier_persist_stats_t *stats);

/* Tests only: the format version new journals are labelled with
 * (default 2; 1 makes a journal with format 1's recovery rules, any other
 * value one this library refuses to replay). */
extern unsigned h5tier__journal_write_version;

#endif /* H5TIER_SHM_INTERNAL_H */
