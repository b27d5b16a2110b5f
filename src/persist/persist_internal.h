/*
 * persist/persist_internal.h -- the shared state of one h5tier_persist run:
 * the list of objects collected from the source, the source-address to
 * destination-address map (hard links, named types, object references),
 * and the cross-file helpers of the persist area.  Not installed.
 */
#ifndef H5TIER_PERSIST_INTERNAL_H
#define H5TIER_PERSIST_INTERNAL_H

#include "common/internal.h"
#include "h5tier_persist.h"

/* One thing to persist: an object (first path to it) or a link. */
typedef struct h5tier__pobj {
    char *src;                  /* path to open from the source location */
    char *dst;                  /* path relative to the destination group ("" = the group itself) */
    h5tier_persist_kind_t kind;
    haddr_t addr;               /* source address (objects and hard links) */
    char *target;               /* soft value, hard link's first destination path, external object */
    char *file;                 /* external link file */
    int layout;                 /* datasets, once created: h5tier_persist_layout_t, */
    int rank;                   /* rank (-1 null, 0 scalar) */
    uint64_t bytes;             /* and data bytes, for the deferred stage */
    int deferred;               /* H5TIER__DEFER_*: work left until every object exists */
    hid_t held;                 /* named types committed anonymously, until linked at dst */
} h5tier__pobj_t;

/* Source address -> destination address (and destination path). */
typedef struct h5tier__amap {
    haddr_t src;
    haddr_t dst;
    const char *dst_path;       /* points into the owning pobj */
} h5tier__amap_t;

typedef struct h5tier__pctx {
    h5tier_persist_opts_t o;    /* options with defaults applied */
    hid_t src;                  /* source location (file or group), borrowed */
    hid_t src_file;             /* the source file, owned */
    hid_t dst;                  /* destination group, borrowed; H5I_INVALID_HID in a dry run */
    hid_t gcpl, tcpl;           /* creation property lists for groups and named types */
    int ordered;                /* a listed link's group tracks link creation order: every
                                   link is created in listing order, in one pass */
    int deflate_ok;             /* H5Zfilter_avail(deflate) */
    int shuffle_ok;
    h5tier__pobj_t *v;
    size_t n, cap;
    h5tier__amap_t *map;        /* sorted by src after collection */
    size_t nmap, capmap;
    uint64_t total, done;       /* data bytes for progress */
    void *buf;                  /* slab buffer, o.memory bytes */
    size_t buflen;
} h5tier__pctx_t;

/* collect.c: fill ctx->v from ctx->o.objects (or everything) and ctx->map
 * with every object's source address.  Links are listed group by group in
 * creation order where the group tracks it, else in name order, and the
 * chosen objects in the source's order when a group on their way tracks it,
 * else in the order given; sets ctx->ordered when some group tracks it. */
int h5tier__persist_collect(h5tier__pctx_t *ctx);
void h5tier__persist_free(h5tier__pctx_t *ctx);
/* 1 if every component of path exists below loc as a link, every one but
 * the last leading to a group; 0 otherwise, quietly (H5Lexists on a path
 * with a missing parent fails loudly, so this goes component by component). */
int h5tier__persist_path_exists(hid_t loc, const char *path);
/* Address map: find an entry by source address (NULL if absent). */
h5tier__amap_t *h5tier__persist_find(h5tier__pctx_t *ctx, haddr_t src);
/* Record the destination address of ob, just created or opened as id, in
 * the map (its hard links, named-type uses and references resolve to it). */
int h5tier__persist_record(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t id);

/* order.c: the creation order flags of an open file (its root group), group,
 * dataset or committed datatype: *links (H5P_CRT_ORDER_TRACKED|INDEXED bits;
 * 0 for non-groups) and *attrs.  0 or a negative error. */
int h5tier__persist_order_get(hid_t obj, unsigned *links, unsigned *attrs);
/* Give dplist (a group, file, dataset or datatype creation property list)
 * the creation order flags of the object sobj; link flags only where dplist
 * is a group or file list.  Returns 1 if some order is tracked, 0 if none
 * (dplist untouched), or a negative error. */
int h5tier__persist_order_copy(hid_t sobj, hid_t dplist);

/* persist.c: report ctx->done of ctx->total to the progress callback, if
 * there is one and something to report. */
void h5tier__persist_progress(h5tier__pctx_t *ctx);

/* plan.c: decide a dataset's destination layout.  Fills *plan (path, type
 * text and reason point into caller-owned buffers tbuf/rbuf/sbuf). */
int h5tier__persist_plan_dataset(h5tier__pctx_t *ctx, hid_t dset, const char *dst_path,
                                 h5tier_persist_plan_t *plan, char *tbuf, size_t tlen, char *rbuf,
                                 size_t rlen, char *sbuf, size_t slen);
/* 1 if dset, chunked (dcpl: its creation properties, space: its dataspace,
 * bytes: its data bytes), has fewer chunks allocated (*nch) than would hold
 * half its data: a sparse source, copied chunk by chunk and kept on its
 * chunk grid.  chunk[] receives the chunk shape when the layout is chunked. */
int h5tier__persist_sparse(hid_t dset, hid_t dcpl, hid_t space, int rank, size_t tsize, uint64_t bytes,
                          hsize_t *chunk, hsize_t *nch);
/* A short text for a type ("int32", "uint16be", "float64", "string(8)", ...). */
void h5tier__persist_type_text(hid_t type, char *buf, size_t len);
/* 1 if the type (a file type) is or contains a reference; sets *plain_obj to
 * 1 when it is exactly an object reference (the remappable case). */
int h5tier__persist_type_refs(hid_t type, int *plain_obj);
/* 1 if data of the type may hold memory HDF5 allocates on read (variable-
 * length sequences or strings, at top level or inside; also any string inside
 * a compound or array, where the reclaim is then a no-op), to free with
 * H5Dvlen_reclaim. */
int h5tier__persist_type_vlen(hid_t type);

#define H5TIER__DEFER_DATA 0x1  /* object references in the data: data and all attributes later */
#define H5TIER__DEFER_ATTRS 0x2 /* attributes holding references later (with creation order
                                   tracked: from the first of them on, to keep the order) */

/* data.c: create the destination dataset from the plan (recording its new
 * address; plan->layout/reason change if compact is refused); returns the
 * open destination dataset or a negative error. */
hid_t h5tier__persist_dataset(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t sdset,
                              h5tier_persist_plan_t *plan);
/* Copy the data of sdset into ddset (plan: layout, rank, dims, bytes). */
int h5tier__persist_dataset_data(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t sdset, hid_t ddset,
                                 const h5tier_persist_plan_t *plan);
/* Remap n object references in place (source addresses -> destination
 * addresses).  what names the dataset or attribute for errors. */
int h5tier__persist_remap_refs(h5tier__pctx_t *ctx, void *refs, size_t n, const char *what);

/* attr.c: copy the attributes of sobj onto dobj: all, all but those holding
 * references (they wait until every object exists), or only those.  When
 * sobj tracks attribute creation order they are copied in that order (else
 * in name order), and "those holding references" means the first of them
 * and every attribute after it, so that the two calls keep the order.
 * what names the object.  Returns the number of attributes skipped for
 * holding references, or a negative error. */
#define H5TIER__ATTRS_ALL 0
#define H5TIER__ATTRS_NO_REFS 1
#define H5TIER__ATTRS_REFS 2
int h5tier__persist_attrs(h5tier__pctx_t *ctx, hid_t sobj, hid_t dobj, const char *what, int mode);
/* The type to use in the destination for a source file type: the persisted
 * named type if it is committed and persisted, else a transient copy.
 * Returns a new id to close, or a negative error. */
hid_t h5tier__persist_dst_type(h5tier__pctx_t *ctx, hid_t stype);

/* outfile.c: a file access property list selecting the output driver and,
 * unless earliest, the HDF5 1.8 file format (close it); and the first write
 * error the driver met in this thread (0 if none; the errmsg was recorded
 * then), reset before each h5tier_persist. */
hid_t h5tier__persist_out_fapl(int earliest);
int h5tier__persist_out_error(void);
void h5tier__persist_out_reset(void);
/* Re-record that first write error as errmsg (a later HDF5 failure may be
 * its consequence) and return it negated; 0 if there was none. */
int h5tier__persist_out_fail(void);

#endif /* H5TIER_PERSIST_INTERNAL_H */
