/*
 * h5tier_persist.h -- persist chosen objects of an HDF5 file (typically a
 * memory-backed "shadow" file: core or shm driver) to a disk file, giving
 * every dataset the storage layout its FINAL extent deserves instead of the
 * creation properties it was born with.
 *
 * H5Ocopy keeps creation properties: a 2x3 int32 dataset created chunked
 * 1024x1024 with unlimited dimensions still costs a 4 MiB chunk after the
 * copy.  h5tier_persist() re-creates each dataset from its final extent and
 * type: the same dataset becomes COMPACT (its 24 bytes live in the object
 * header) and the output file is about 2 KiB.
 *
 * Layout rules (bytes = elements x file type size of the final extent):
 *   1. bytes < compact_below (default 60000)            -> COMPACT
 *      (unless kept growable; if HDF5 refuses because the object header
 *      would exceed 64 KiB, for example with many attributes, the dataset
 *      falls back to CONTIGUOUS and the plan says so)
 *   2. kept growable (keep_growable and the source has maxdims > dims),
 *      compression requested (compress_level >= 0), a sparse chunked
 *      source (less than half of its chunks allocated), or
 *      bytes > contiguous_max (default 256 MiB)           -> CHUNKED
 *   3. otherwise                                          -> CONTIGUOUS
 *   Chunk shapes come from the final extent, never from the source's chunk:
 *   about 1 MiB per chunk (chunk_bytes), filled along the fastest-varying
 *   (last) dimensions first, clipped to the extent.  Maximum dimensions
 *   become the current ones unless keep_growable.
 *
 * What is kept: groups (nested), attributes of every kind on groups,
 * datasets and named datatypes, named (committed) datatypes (datasets and
 * attributes using a persisted named type refer to the persisted copy,
 * otherwise embed a copy of the type), fill values and fill time, soft
 * links, external links (recreated, not followed), hard links (a second
 * path to an already persisted object becomes a hard link, not a copy),
 * object references (remapped to the persisted objects).  Every dataset's
 * and attribute's FILE type is preserved exactly (byte order, sizes,
 * compound/enum/array/string/vlen); data travels with the file type as
 * memory type, so no conversion happens.
 *
 * Creation order: a group whose source tracks link creation order
 * (H5Pset_link_creation_order, h5py track_order=True) is created with the
 * same flags and gets its links in the source's creation order; an object
 * (group, dataset, named type) that tracks attribute creation order is
 * created with the same flags and gets its attributes in that order.  The
 * new file's root group takes the flags of the source location (on the
 * file creation property list).  Everything else is created in name order.
 * The paths in opts->objects are created in the source's order when a
 * group on their way tracks link creation order, else in the order given.
 *
 * Objects are created without modification times (H5Pset_obj_track_times
 * off), so persisting the same source twice gives byte-identical files.
 * A source tracking no creation order gives the same bytes as h5tier
 * before creation order was kept.
 *
 * What is refused, with an error naming the object: region references
 * (H5T_STD_REF_DSETREG), references nested in compound/array/vlen types,
 * object references whose target is not persisted, user-defined links.
 *
 * Durability: h5tier_persist() writes a temporary file ".NAME.h5tier-tmp-PID"
 * in the destination's directory (created O_EXCL, mode 0600, which the
 * final file keeps), fsyncs it, renames it over the final name and fsyncs
 * the directory.  A failure removes the temporary file; a kill leaves at
 * most the temporary file, never a partial file under the final name.  The
 * temporary file is written through a small driver of h5tier's own whose
 * I/O goes through h5tier_sys (fault injection reaches it) and which turns a
 * failed write (disk full, EFBIG, EIO) into a clean error instead of
 * HDF5 1.10's crash after a failed H5Fclose.
 */
#ifndef H5TIER_PERSIST_H
#define H5TIER_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "h5tier.h"

#ifdef __cplusplus
extern "C" {
#endif

#define H5TIER_PERSIST_COMPACT_BELOW 60000u                       /* bytes */
#define H5TIER_PERSIST_CONTIGUOUS_MAX (256ull * 1024 * 1024)      /* bytes */
#define H5TIER_PERSIST_CHUNK_BYTES (1024u * 1024u)                /* target chunk size */
#define H5TIER_PERSIST_MEMORY (64ull * 1024 * 1024)               /* slab budget */

/* What one persisted (or planned) object is. */
typedef enum h5tier_persist_kind {
    H5TIER_PERSIST_GROUP,
    H5TIER_PERSIST_DATASET,
    H5TIER_PERSIST_DATATYPE,      /* a named (committed) datatype */
    H5TIER_PERSIST_HARD_LINK,     /* another path to an object persisted under target */
    H5TIER_PERSIST_SOFT_LINK,     /* target = the link value */
    H5TIER_PERSIST_EXTERNAL_LINK  /* target = "FILE:/OBJECT" */
} h5tier_persist_kind_t;

typedef enum h5tier_persist_layout {
    H5TIER_LAYOUT_NONE = 0, /* not a dataset */
    H5TIER_LAYOUT_COMPACT,
    H5TIER_LAYOUT_CONTIGUOUS,
    H5TIER_LAYOUT_CHUNKED
} h5tier_persist_layout_t;

/* One decision, passed to plan_cb right after the object is created (in a
 * dry run instead of creating it; a compact dataset that HDF5 refused shows
 * its contiguous fallback).  All pointers are valid only during the call. */
typedef struct h5tier_persist_plan {
    const char *path;               /* destination path, e.g. "/results/2x3" */
    h5tier_persist_kind_t kind;
    h5tier_persist_layout_t layout; /* datasets only */
    int rank;                       /* -1 for a null dataspace, 0 for scalar */
    hsize_t dims[H5S_MAX_RANK];     /* final extent */
    hsize_t maxdims[H5S_MAX_RANK];  /* destination maximum dimensions */
    hsize_t chunk[H5S_MAX_RANK];    /* destination chunk shape (CHUNKED only) */
    uint64_t bytes;                 /* elements x type size of the final extent */
    const char *type;               /* short type text: "int32", "float64be", "compound(12 B)", ... */
    int compress_level;             /* deflate level applied, -1 = none */
    int shuffle;                    /* 1 if the shuffle filter is applied */
    const char *reason;             /* why this layout: "below 60000 B", "sparse source", ...;
                                       groups: "creation order kept" if the source group tracks
                                       link or attribute creation order, else "" */
    const char *source;             /* how the source was created: "chunked 1024x1024 unlimited" */
    const char *target;             /* links: soft value, "file:/path", or the hard link's object */
} h5tier_persist_plan_t;

typedef struct h5tier_persist_opts {
    const char *const *objects; /* paths to persist (groups recursively); NULL = everything */
    size_t nobjects;            /* entries in objects */
    uint64_t compact_below;     /* datasets smaller than this become COMPACT; default 60000,
                                   at most 65000 (HDF5 object header limit); 0 = never compact */
    uint64_t contiguous_max;    /* larger fixed-size datasets become CHUNKED; default 256 MiB */
    uint64_t chunk_bytes;       /* target chunk size for chunk shapes; default 1 MiB */
    int compress_level;         /* -1 = none (default); 0..9 = deflate (+ shuffle for
                                   multi-byte fixed-size types) on every non-compact dataset,
                                   which is then CHUNKED; ignored when deflate is unavailable */
    int keep_growable;          /* keep unlimited/larger maxdims (CHUNKED); default 0 */
    uint64_t memory;            /* slab buffer budget in bytes; default 64 MiB, minimum 4 KiB.
                                   Filtered chunked sources use all of it (slabs of whole
                                   chunks); others use at most 8 MiB, which is as fast */
    int force;                  /* replace an existing destination file */
    int earliest_format;        /* h5tier_persist only: 1 = the oldest HDF5 file format (readable
                                   by HDF5 1.6); 0 (default) = the 1.8 format: smaller object
                                   headers and compact groups, readable by HDF5 1.8 and later */
    int dry_run;                /* only decide and call plan_cb; write nothing */
    /* Called once per object and link, in creation order (groups and named
     * types, then datasets, then links; when some source group tracks link
     * creation order, all in the source's order), with the decision.  A
     * non-zero return stops the run; h5tier_persist returns that value
     * negated if it is positive, as is if negative. */
    int (*plan_cb)(const h5tier_persist_plan_t *plan, void *arg);
    /* Called after every slab with the data bytes done and the total
     * (elements x type size of every dataset; when set, the datasets are
     * opened once more beforehand to add it up). */
    void (*progress)(uint64_t done, uint64_t total, void *arg);
    void *arg;                  /* passed to both callbacks */
} h5tier_persist_opts_t;

/* Fill *opts with the defaults above (all objects, compact below 60000 B,
 * contiguous up to 256 MiB, 1 MiB chunks, no compression, not growable,
 * 64 MiB memory, no force, no dry run, no callbacks). */
H5TIER_API void h5tier_persist_opts_init(h5tier_persist_opts_t *opts);

/* Persist objects of the open file or group `src` (any driver: core, shm,
 * sec2, ...) into a new HDF5 file at dst_path, atomically (see the banner).
 * Paths in opts->objects are resolved from `src` (absolute paths from its
 * file's root) and keep their path in the destination; missing parent
 * groups are created empty.  With objects == NULL everything below `src`
 * is persisted, plus the attributes of `src` itself on the root group.
 * opts may be NULL for the defaults.
 *
 * Returns the number of objects and links persisted (or planned, in a dry
 * run), or a negative error with h5tier_errmsg() naming the object:
 *   -EINVAL            bad argument or option (NULL dst_path, compact_below
 *                      above 65000, bad compress level, src not a file/group)
 *   -EEXIST            dst_path exists and opts->force is 0 (also in a dry run)
 *   -ENOENT            an object path in opts->objects does not exist, or the
 *                      destination directory is missing
 *   -ENOTSUP           region references, references inside other types,
 *                      user-defined links
 *   -H5TIER_ESCHEMA    an object reference points at an object that is not
 *                      persisted (the message names the dataset and target)
 *   -H5TIER_EHDF5      an HDF5 call failed (reading the source, creating an
 *                      object; see the HDF5 error stack)
 *   -ENOSPC, -EFBIG, -EIO, ...  writing, syncing or renaming the destination
 *                      failed (the message names the file and offset)
 *   -ENOMEM            the slab buffer could not be allocated
 *   the plan_cb's value, when it stops the run
 * On any failure no file exists under dst_path (a previous file is kept when
 * force was given) and the temporary file is removed -- with one exception:
 * if only the directory fsync after the rename fails, the complete new file
 * is in place and the error says so.  An existing destination is checked
 * at the start and again just before the rename (a file appearing in
 * between is not replaced without force; the window between that check
 * and rename(2) remains).
 *
 * Caveats: the source is read, never modified, but it must not be written
 * concurrently.  A dry run reads no data, so it cannot see an object
 * reference whose target is left out (the real run refuses it).  Soft link values are copied verbatim (an absolute value
 * keeps pointing at the same path in the new file).  Virtual and external
 * raw-data datasets are materialised as ordinary datasets.  Not thread-safe
 * with other HDF5 use unless HDF5 is. */
H5TIER_API int h5tier_persist(hid_t src, const char *dst_path, const h5tier_persist_opts_t *opts);

/* Like h5tier_persist() but into the open group dst_group (of a file open
 * for writing); object paths are created relative to it.  No temporary
 * file, rename or fsync: the caller owns the destination file and its
 * durability.  opts->force and opts->earliest_format are ignored.  An
 * existing group at a destination path is reused (merged into); any other
 * existing object there gives -EEXIST naming it.  dst_group (and any
 * existing group merged into) keeps its own creation order flags.  On
 * failure objects already created stay in dst_group.  Same returns and errors as
 * h5tier_persist() otherwise. */
H5TIER_API int h5tier_persist_to(hid_t src, hid_t dst_group, const h5tier_persist_opts_t *opts);

/* Short names for the enums, for messages: "compact", "contiguous",
 * "chunked", "-"; "group", "dataset", "datatype", "hard link", ... */
H5TIER_API const char *h5tier_persist_layout_name(h5tier_persist_layout_t layout);
H5TIER_API const char *h5tier_persist_kind_name(h5tier_persist_kind_t kind);

/* The chunk shape h5tier_persist chooses for an extent: about target_bytes
 * per chunk, taking whole fastest-varying dimensions first, clipped to the
 * extent (zero-length dimensions get 1).  rank 1..32; chunk receives rank
 * values.  Returns 0 or -EINVAL. */
H5TIER_API int h5tier_persist_chunk_shape(int rank, const hsize_t *dims, size_t type_size,
                                          uint64_t target_bytes, hsize_t *chunk);

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_PERSIST_H */
