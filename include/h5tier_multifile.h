/*
 * h5tier_multifile.h -- parallel writes to one logical HDF5 file at
 * file-per-process speed ("h5tier_multifile" driver), merged afterwards into
 * one plain HDF5 file or read in place.
 *
 * Every process ("rank") of a parallel job runs the ordinary serial HDF5
 * library and makes the same metadata calls (create the same groups,
 * datasets and attributes in the same order, with early allocation); each
 * writes only its own hyperslabs.  The driver puts rank r's raw data into
 * its own append-only log, so writing costs what independent POSIX writes
 * cost.  Creating "out.h5" makes the directory "out.h5.mf/":
 *
 *     out.h5.mf/meta           magic, version, number of ranks (rank 0 writes it)
 *     out.h5.mf/r000000.log    rank 0's data log: header + the bytes it wrote
 *     out.h5.mf/r000000.idx    rank 0's index: header + 64-byte records
 *     out.h5.mf/r000001.log    ... one pair per rank
 *
 * An index record holds (kind, epoch, sequence, logical address, length,
 * offset in the log, checksum of the data, checksum of the record), fixed
 * little-endian; data is written before its record, so a crash leaves at
 * most a torn last record, which readers ignore and report.  Only rank 0
 * logs metadata; every rank keeps the metadata it would have written in
 * memory (reads of it are served from there) and at close records a digest
 * of it by address and content, so `h5tier merge` can prove all ranks agreed.
 * An epoch ends at each H5Fflush: writes of one epoch may overlap only within
 * one rank; a later epoch overrides an earlier one.
 *
 * The rules (docs/multifile.md):
 *   1. every rank makes the same metadata calls, in the same order;
 *   2. datasets are contiguous or chunked, allocated early
 *      (H5D_ALLOC_TIME_EARLY), with no filters and no fill at allocation
 *      (H5D_FILL_TIME_NEVER), without object times (H5Pset_obj_track_times
 *      0: each rank's clock would differ); h5tier_multifile_dcpl_check() says which rule a
 *      creation property list breaks, h5tier_multifile_dcreate() refuses it;
 *   3. each rank writes its own hyperslabs; a rank reads back only its own
 *      raw data (other ranks' bytes read as zeros until merged);
 *   4. no variable-length data, no deleting objects while writing.
 * The driver turns the chunk cache off in the fapl (H5Pset_cache with 0
 * bytes), so a partial-chunk write sends only the selected elements; a
 * dataset access list that turns it back on breaks rule 3 (merge reports the
 * resulting overlaps).
 *
 * Usage (ranks from MPI, Slurm, Open MPI, PMI or H5TIER_RANK/H5TIER_NRANKS):
 *     hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
 *     H5Pset_fapl_multifile(fapl, NULL);
 *     hid_t f = H5Fcreate("out.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
 *     ... same metadata calls everywhere, each rank H5Dwrite's its rows ...
 *     H5Fclose(f);
 *   then:  h5tier merge out.h5.mf out.h5
 */
#ifndef H5TIER_MULTIFILE_H
#define H5TIER_MULTIFILE_H

#include <stdint.h>
#include <sys/types.h>

#include <hdf5.h>

#include "h5tier.h"

#ifdef __cplusplus
extern "C" {
#endif

#define H5TIER_MULTIFILE_DRIVER_NAME "h5tier_multifile"
#define H5TIER_MULTIFILE_DRIVER_VALUE 602 /* H5FD_class_value_t requested for 1.14 (third-party range) */
#define H5TIER_MULTIFILE_CONFIG_VERSION 1
#define H5TIER_MULTIFILE_SUFFIX ".mf"      /* "out.h5" -> directory "out.h5.mf" */
#define H5TIER_MULTIFILE_MAX_RANKS (1 << 20)

/* Flags for h5tier_multifile_config_t.flags */
#define H5TIER_MULTIFILE_NO_SYNC 0x1u /* do not fsync the logs at close (faster; a crash of the
                                          machine may then lose the tail of a rank's log) */
#define H5TIER_MULTIFILE_ALLOW_INCOMPLETE 0x2u /* read in place even if a rank did not close (its
                                                   records up to the torn one are served) */
#define H5TIER_MULTIFILE_VERIFY 0x4u /* read in place only after every record's data checksum was
                                         verified (reads all logs once at open, like merge --check) */

typedef struct h5tier_multifile_config {
    unsigned version; /* H5TIER_MULTIFILE_CONFIG_VERSION */
    int rank;         /* this process's rank, or -1: from MPI / the environment (default) */
    int nranks;       /* number of ranks, or -1 (default); both or neither are set */
    unsigned flags;   /* H5TIER_MULTIFILE_* above */
    mode_t mode;      /* permissions of the files made (default 0600; directory: +x where r) */
    unsigned char comm[16]; /* internal: the MPI communicator of H5Pset_fapl_multifile_mpi */
    int has_comm;           /* internal */
} h5tier_multifile_config_t;

/* Defaults: rank and nranks -1 (found at open), flags 0, mode 0600. */
H5TIER_API void h5tier_multifile_config_init(h5tier_multifile_config_t *cfg);

/* Use the multifile driver for files opened with fapl_id; cfg NULL means
 * defaults.  Also sets the fapl's raw-data chunk cache to 0 bytes (rule 3).
 * Errors (pushed on the HDF5 error stack, h5tier_errmsg() explains): bad
 * config version, rank outside [0, nranks), only one of rank/nranks set,
 * nranks above H5TIER_MULTIFILE_MAX_RANKS, mode beyond 0777.  Returns 0 or
 * a negative value.
 *
 * Opening: H5Fcreate(name, H5F_ACC_TRUNC or H5F_ACC_EXCL) makes name+".mf/"
 * if needed and this rank's log and index (EXCL: fails if they exist);
 * H5Fopen(name, H5F_ACC_RDONLY) reads the directory in place (name may
 * also be the directory itself); H5Fopen(..., H5F_ACC_RDWR) of an existing
 * directory is refused (merge it first).
 * Caveats: one process is one rank (a second H5Fcreate of the same name in
 * the process shares the open file, as HDF5 does); the directory must be
 * on a file system every rank and the merging process can reach. */
H5TIER_API herr_t H5Pset_fapl_multifile(hid_t fapl_id, const h5tier_multifile_config_t *cfg);

/* The configuration in a fapl that uses the driver.  Negative if not. */
H5TIER_API herr_t H5Pget_fapl_multifile(hid_t fapl_id, h5tier_multifile_config_t *cfg);

/* The driver's HDF5 id (registered on first use), or a negative value. */
H5TIER_API hid_t h5tier_multifile_driver_id(void);

/* True (1) when the library was built with MPI (H5Pset_fapl_multifile_mpi
 * works), else 0. */
H5TIER_API int h5tier_multifile_have_mpi(void);

#if defined(MPI_VERSION) || defined(H5TIER_MULTIFILE_WANT_MPI)
/* Like H5Pset_fapl_multifile, with rank and size from comm (MPI must be
 * initialised; comm is used at open, not duplicated: keep it alive until
 * H5Fcreate returns).  H5Fcreate is then collective over comm (rank 0
 * broadcasts the run id), as every metadata call is by rule 1.  Fails with ENOTSUP when the library was built
 * without MPI.  Include <mpi.h> before this header to see it. */
H5TIER_API herr_t H5Pset_fapl_multifile_mpi(hid_t fapl_id, MPI_Comm comm, const h5tier_multifile_config_t *cfg);
#endif

/* Where this process's rank comes from when the config leaves it to the
 * driver (no MPI communicator): H5TIER_RANK/H5TIER_NRANKS, then Open MPI
 * (OMPI_COMM_WORLD_RANK/SIZE), PMIx/PMI (PMIX_RANK with OMPI/PMI size,
 * PMI_RANK/PMI_SIZE), Slurm (SLURM_PROCID/SLURM_NTASKS); none of them means
 * a single process (rank 0 of 1).  *source (if not NULL) receives the
 * variable's name or "single process".  0, or -EINVAL with an errmsg naming
 * the variable whose value is malformed or out of range. */
H5TIER_API int h5tier_multifile_rank_from_env(int *rank, int *nranks, const char **source);

/* Check a dataset creation property list against rule 2.  0 if it follows
 * the rules, else -EINVAL with h5tier_errmsg() naming the rule broken
 * ("rule 2: filters ...", "rule 2: allocation time ...", "rule 2: fill
 * time ...", "rule 2: object times ...", "rule 2: compact/virtual layout ...").  -H5TIER_EHDF5 if the
 * list cannot be read. */
H5TIER_API int h5tier_multifile_dcpl_check(hid_t dcpl_id);

/* Make dcpl follow rule 2 without changing its layout: early allocation,
 * fill time never, no object times.  0 or -H5TIER_EHDF5. */
H5TIER_API int h5tier_multifile_dcpl_init(hid_t dcpl_id);

/* H5Dcreate2 that first checks dcpl_id (rule 2): a dataset breaking a rule
 * is not created and the error (pushed on the HDF5 stack) names the rule.
 * Returns the dataset id or a negative value. */
H5TIER_API hid_t h5tier_multifile_dcreate(hid_t loc_id, const char *name, hid_t type_id, hid_t space_id,
                                          hid_t lcpl_id, hid_t dcpl_id, hid_t dapl_id);

/* ---- merge ----------------------------------------------------------- */

#define H5TIER_MERGE_FORCE 0x1u            /* replace OUT if it is a regular file */
#define H5TIER_MERGE_ALLOW_OVERLAPS 0x2u   /* same-epoch cross-rank overlaps: warn, order by (seq, rank) */
#define H5TIER_MERGE_ALLOW_INCOMPLETE 0x4u /* merge ranks that did not close (warn) */

typedef struct h5tier_merge_opts {
    unsigned threads;        /* copy threads; 0 = online CPUs (at most 64) */
    unsigned max_open_files; /* rank logs open at once, over all threads; 0 = 64 */
    size_t buffer_size;      /* copy buffer per thread; 0 = 4 MiB */
    unsigned flags;          /* H5TIER_MERGE_* */
    /* Called now and then with bytes done and total (may be NULL). */
    void (*progress)(uint64_t done, uint64_t total, void *arg);
    void *progress_arg;
    /* Called with each warning (torn last record ignored, allowed overlap,
     * incomplete rank allowed); NULL = print to stderr. */
    void (*warn)(const char *msg, void *arg);
    void *warn_arg;
} h5tier_merge_opts_t;

typedef struct h5tier_merge_stats {
    unsigned nranks;
    uint64_t records;        /* data + metadata records replayed */
    uint64_t bytes_logged;   /* bytes in those records */
    uint64_t bytes_written;  /* bytes written to OUT (after overrides) */
    uint64_t out_size;       /* size of OUT (end of allocated space) */
    uint64_t overlaps;       /* same-epoch cross-rank overlaps found */
    uint64_t torn;           /* torn last records ignored */
    unsigned epochs;         /* highest epoch + 1 */
    uint64_t index_bytes;    /* memory held by the merged index */
    unsigned max_open;       /* rank logs open at once, at most */
    double seconds;
} h5tier_merge_stats_t;

/* Replay the logs of directory dir (an "X.mf" directory, or X itself) into
 * the new plain HDF5 file out: written as out.tmp.PID then renamed, so out
 * is either absent, or the old file, or complete.  out NULL: check only
 * (everything below, no file written).  opts/stats may be NULL.
 * Checks, each failing with an errmsg naming rank, file and address:
 *   ENOENT              a rank's log or index is missing (or the metafile)
 *   EBADMSG             a rank file belongs to another rank count or run
 *                       (run id: a rank of this run did not start)
 *   -H5TIER_EMAGIC      a header is not ours
 *   -H5TIER_EVERSION    a header's version is not 1
 *   EBADMSG             a record's checksum (not the last) or data checksum fails
 *   -H5TIER_EINCOMPLETE a rank did not close (killed, disk full): its index
 *                       has no close record (unless ALLOW_INCOMPLETE)
 *   -H5TIER_EDIVERGED   a rank's metadata digest differs from rank 0's: names
 *                       the first diverging rank and address
 *   -H5TIER_EOVERLAP    two ranks wrote the same bytes in one epoch (unless
 *                       ALLOW_OVERLAPS)
 *   EEXIST              out exists (without FORCE), or is not a regular file
 *   ENOSPC, EIO, ...    writing out failed (the temp file is removed)
 *   -H5TIER_ENOTHDF5    the merged image does not open as HDF5 (not renamed)
 * Memory: about 80 bytes per record plus one buffer per thread; open files:
 * at most max_open_files logs plus out. */
H5TIER_API int h5tier_multifile_merge(const char *dir, const char *out, const h5tier_merge_opts_t *opts,
                                      h5tier_merge_stats_t *stats);

#if defined(MPI_VERSION) || defined(H5TIER_MULTIFILE_WANT_MPI)
/* h5tier_multifile_merge by the ranks of comm (collective; every rank
 * passes the same dir, out and flags): every rank loads and checks the
 * indexes, rank 0 creates OUT.tmp.PID at its full size, each rank copies its
 * share of the records (log order, about equal bytes) with opts->threads
 * threads, and rank 0 fsyncs, checks and renames.  Only rank 0 warns and
 * shows progress.  Every rank returns the same success or failure: its own
 * error, or "rank R of the merge failed".  ENOTSUP is never returned: the
 * function exists only when h5tier is built with MPI. */
H5TIER_API int h5tier_multifile_merge_mpi(MPI_Comm comm, const char *dir, const char *out,
                                          const h5tier_merge_opts_t *opts, h5tier_merge_stats_t *stats);
#endif

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_MULTIFILE_H */
