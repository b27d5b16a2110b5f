/*
 * h5tier_shm.h -- the shared-memory HDF5 file driver ("h5tier_shm").
 *
 * The bytes of an HDF5 file live in a named POSIX shared-memory object,
 * /dev/shm/NAME, exactly as they would in a file on disk: once the writer has
 * flushed, `h5dump /dev/shm/NAME` and h5py read it unmodified.  One writer and
 * any number of readers in other processes open it at once; readers map it
 * read-only.  SWMR (H5F_ACC_SWMR_WRITE / H5F_ACC_SWMR_READ) is supported.
 *
 * Optionally the file has a backing file on disk: it is loaded into shm when
 * the shm object does not exist yet, and on flush/close only the pages that
 * changed are written back, through a journal, so a crash at any point
 * leaves the backing file recoverable to the old or the new version.
 *
 * Usage:
 *     hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
 *     H5Pset_fapl_shm(fapl, NULL);                  // defaults: name from file name
 *     hid_t f = H5Fcreate("run1.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);  // /dev/shm/run1.h5
 *
 * Next to each object the driver keeps a small control object,
 * /dev/shm/.NAME.h5tier (magic, version, generation, writer pid and start
 * time, logical size, backing file) that `h5tier shm ls` reads.
 */
#ifndef H5TIER_SHM_H
#define H5TIER_SHM_H

#include <sys/types.h>

#include <hdf5.h>

#include "h5tier.h"

#ifdef __cplusplus
extern "C" {
#endif

#define H5TIER_SHM_DRIVER_NAME "h5tier_shm"
#define H5TIER_SHM_DRIVER_VALUE 320 /* HDF5 1.14 driver value: in 256-511, the range for drivers not
                                       registered with The HDF Group (its VFD registry assigns 512+) */
#define H5TIER_SHM_CONFIG_VERSION 1

/* What happens to the shm object when the last writer handle closes. */
typedef enum h5tier_shm_close {
    H5TIER_SHM_KEEP = 0,  /* keep it so other processes can open it (default) */
    H5TIER_SHM_UNLINK = 1 /* unlink it: like the core driver without backing store */
} h5tier_shm_close_t;

/* Flags for h5tier_shm_config_t.flags */
#define H5TIER_SHM_POPULATE 0x1u   /* pre-fault new space (fast first writes; default on) */
#define H5TIER_SHM_RENAME_SAVE 0x2u /* persist by writing a whole temp file + rename instead of the
                                       journal: the backing file name always holds a complete old or new
                                       file for every tool, at the price of writing everything */
#define H5TIER_SHM_NO_PERSIST_ON_FLUSH 0x4u /* write the backing file only at close, not on H5Fflush */
/* H5TIER_SHM_POPULATE_AHEAD (default on): once a writer has written 8 MiB,
 * one helper thread per open file (1) fallocates the next growth step (at
 * most max(increment, 32 MiB)) when the data gets within half a step of the
 * reserved end and (2) writes zeros (pwrite on the fd, no mapping) into
 * reserved pages 4 to 12 MiB ahead of the writer, so that a first write finds
 * its pages allocated and zeroed and only has to map them.
 * It pays when the writing process leaves a CPU idle.  Measured (HDF5 1.10,
 * first write vs the core driver, without -> with): 1 MiB H5Dwrite blocks
 * 1.15x -> 1.40x (64 MiB), 1.25x -> 1.60x (256 MiB); 4 KiB blocks 0.54x ->
 * 0.70x, 1.10x -> 1.42x.  With every CPU busy it costs: zeroing by pwrite
 * takes more CPU than the faults it saves, so the thread stops zeroing for a
 * file when it keeps falling behind the writer or runs on the writer's CPU
 * (two writers at once on 2 CPUs: 1.14x -> 0.99x at 64 MiB, 1.19x -> 1.19x at
 * 256 MiB), and no thread is started in a process allowed on one CPU only.
 * Clear the flag for processes that keep every core busy.
 * The bytes are never affected: the thread only writes pages the writer has
 * not touched, and the writer never touches a page while the thread writes
 * it.  A failure of the thread (ENOSPC, ...) is only recorded: the writer
 * reserves itself and the write that needs the space reports the error, as
 * without the flag.  While open, the object may be up to one step larger than
 * needed (shrunk at close as always).  Read-only openers never start a
 * thread.  After fork() the child has no thread (the driver checks the pid):
 * its writer works as without the flag.  Close joins the thread before
 * shrinking the object.  The thread's system calls go through h5tier_sys
 * like all others (a fault armed process-wide may hit them). */
#define H5TIER_SHM_POPULATE_AHEAD 0x8u
/* H5TIER_SHM_MEMBER: the objects opened through this fapl are members of a
 * family, split or multi file (the fapl given to H5Pset_fapl_family,
 * H5Pset_fapl_split or H5Pset_fapl_multi): an object may be empty, hold no
 * HDF5 signature, or be shorter than its superblock's end of file.  Not
 * needed for members the shm driver wrote itself (the control object records
 * it at close) nor for member 0 of a family or multi file with a version 0/1
 * superblock (it names its driver); needed for members copied into shm by
 * other means. */
#define H5TIER_SHM_MEMBER 0x10u

typedef struct h5tier_shm_config {
    unsigned version;     /* H5TIER_SHM_CONFIG_VERSION */
    char name[256];       /* shm object name ("run1" or "/run1"); "" = derive from the file
                             name given to H5Fcreate/H5Fopen ("shm:NAME", "/dev/shm/NAME" or
                             the basename of a path) */
    size_t increment;     /* growth step in bytes, rounded up to the page size; 0 = 64 MiB */
    char backing_file[4096]; /* disk file to load from and persist to; "" = none */
    size_t page_size;     /* write-tracking page size for the backing file (power of two,
                             >= 4096); 0 = 64 KiB */
    h5tier_shm_close_t on_close; /* keep or unlink at writer close */
    mode_t mode;          /* permissions of created objects; 0 = 0600 */
    unsigned flags;       /* H5TIER_SHM_* flags */
} h5tier_shm_config_t;

/* Fill *cfg with the defaults (version set, name "", increment 64 MiB, no
 * backing file, page size 64 KiB, KEEP, mode 0600, POPULATE | POPULATE_AHEAD). */
H5TIER_API void h5tier_shm_config_init(h5tier_shm_config_t *cfg);

/* The driver's HDF5 id, registering it on first use; H5I_INVALID_HID on error. */
H5TIER_API hid_t h5tier_shm_driver_id(void);

/* Select the shm driver on a file access property list.  cfg may be NULL for
 * the defaults.  Returns a non-negative value on success, negative on failure
 * (bad name, page size or version; the reason is on the HDF5 error stack and
 * in h5tier_errmsg()). */
H5TIER_API herr_t H5Pset_fapl_shm(hid_t fapl_id, const h5tier_shm_config_t *cfg);

/* Copy the shm configuration of fapl_id into *cfg.  Negative if fapl_id does
 * not use the shm driver. */
H5TIER_API herr_t H5Pget_fapl_shm(hid_t fapl_id, h5tier_shm_config_t *cfg);

/* ---- management without HDF5 (used by the CLI) --------------------------- */

typedef struct h5tier_shm_info_s { /* tag != function name: C++ -Wshadow */
    char name[256];       /* canonical "/name" */
    uint64_t size;        /* bytes of the shm object (allocated) */
    uint64_t eof;         /* logical end of the HDF5 file (0 if unknown) */
    uid_t owner;          /* owner uid */
    mode_t mode;          /* permission bits */
    pid_t writer_pid;     /* pid of the writer holding it open, 0 if none */
    int writer_alive;     /* 1 if that writer process is alive */
    uint64_t generation;  /* bumped by each writer open */
    int is_hdf5;          /* 1 if the bytes start with the HDF5 signature (or at 512, 1024...) */
    int has_control;      /* 1 if the .NAME.h5tier control object exists and is trusted */
    char backing_file[4096]; /* as the writer wrote it (raw bytes: escape before printing) */
    int control_ignored;  /* 1 if a control object exists but is not trusted (not owned by you or
                             by the object's owner, not a regular file, ...): nothing is taken
                             from it (generation, eof, writer, backing_file stay 0/"") */
    char control_note[1024]; /* why it was ignored */
} h5tier_shm_info_t;

/* Describe one shm object.  0, -ENOENT, -EINVAL (bad name, or not a regular
 * file: a FIFO or directory at the name is refused at once), -EACCES.
 * The shm directory is /dev/shm, or $H5TIER_SHM_DIR. */
H5TIER_API int h5tier_shm_info(const char *name, h5tier_shm_info_t *info);

/* List the shm objects in /dev/shm that are HDF5 files or have an h5tier
 * control object.  Calls cb for each; stops and returns cb's value if
 * non-zero.  0 or -errno. */
H5TIER_API int h5tier_shm_list(int (*cb)(const h5tier_shm_info_t *info, void *arg), void *arg);

/* Copy a disk HDF5 file into a new shm object (refuses to replace an existing
 * object unless force).  The copy is built under a temporary name
 * (.NAME~PID, hidden) and published complete, so a killed load never leaves
 * a partial object under NAME; the next load removes such leftovers.  mode:
 * read/write bits only (setuid/setgid/sticky/execute: -EINVAL).  Refused
 * (-EPERM) next to a control object that is not ours to trust.  progress, if
 * not NULL, is called with bytes done and total.  0, -EEXIST, -ENOENT,
 * -H5TIER_ENOTHDF5, -ENOSPC, ... */
H5TIER_API int h5tier_shm_load(const char *file, const char *name, mode_t mode, int force,
                               void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg);

/* Save a shm object to a disk file atomically (temp file, fsync, rename);
 * refuses an existing file unless force, and with force replaces only a
 * regular file (or a symbolic link itself, never its target).  Refuses
 * (-H5TIER_ETRUNC) an object shorter than its superblock's end of file and
 * (-EBUSY) one whose live writer has it marked open in the superblock
 * (SWMR or latest format).  Temp files of killed saves to the same file
 * are removed first.  0; 1 when saved but the copy's superblock still marks
 * it open (its writer died without closing it: h5tier_errmsg() says to run
 * h5clear -s); or -ENOENT, -EEXIST, -ENOSPC, ... */
H5TIER_API int h5tier_shm_save(const char *name, const char *file, int force,
                               void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg);

/* Unlink a shm object and its control object.  -EBUSY if a live writer holds
 * it (or it is a ring whose writer is alive), unless force.  A control object
 * that is not ours to trust (planted by another user) is neither believed
 * (its lock blocks nothing) nor removed: then the data object is removed and
 * 1 is returned, h5tier_errmsg() naming what was left in place. */
H5TIER_API int h5tier_shm_remove(const char *name, int force);

/* Replay or discard a leftover persist journal next to a backing file, so the
 * file is exactly the old or the new version.  Returns 0 when nothing was to
 * be done, 1 when a committed journal was applied, 2 when an incomplete one
 * was discarded, or -errno / -H5TIER_EJOURNAL. */
H5TIER_API int h5tier_shm_recover(const char *backing_file);

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_SHM_H */
