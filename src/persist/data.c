/*
 * persist/data.c -- one dataset: create it in the destination from its plan
 * (layout, maxdims, chunk, filters, fill value and time, attribute creation
 * order tracking; compact falls back to contiguous if HDF5 refuses the
 * object header), then stream its data in bounded slabs with the dataset's
 * own file type as the memory type (no conversion, exact bytes), remapping
 * object references, reclaiming variable-length data after each slab, and
 * skipping slabs that hold only the fill value when the destination is
 * chunked.  Sparse chunked sources are copied chunk by chunk over their
 * allocated chunks only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist/persist_internal.h"

#define H5TIER_PERSIST_SLAB (8u << 20) /* slab size for unfiltered sources */

static hid_t make_space(const h5tier_persist_plan_t *plan)
{
    if (plan->rank < 0)
        return H5Screate(H5S_NULL);
    if (plan->rank == 0)
        return H5Screate(H5S_SCALAR);
    return H5Screate_simple(plan->rank, plan->dims, plan->maxdims);
}

/* Copy the user-defined fill value (or its absence) and the fill time. */
static int copy_fill(hid_t sdcpl, hid_t stype, hid_t dcpl, hid_t dtype, const char *what)
{
    int rc = 0;
    H5D_fill_value_t st;
    H5D_fill_time_t ft;
    void *fill = NULL;
    hid_t sp = H5I_INVALID_HID;
    if (H5Pfill_value_defined(sdcpl, &st) < 0 || H5Pget_fill_time(sdcpl, &ft) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot read its fill value", what);
        goto done;
    }
    if (H5Pset_fill_time(dcpl, ft) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot set its fill time", what);
        goto done;
    }
    if (st == H5D_FILL_VALUE_UNDEFINED) {
        if (H5Pset_fill_value(dcpl, dtype, NULL) < 0)
            rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot set an undefined fill value", what);
        goto done;
    }
    if (st != H5D_FILL_VALUE_USER_DEFINED)
        goto done;
    size_t sz = H5Tget_size(stype);
    if (!(fill = calloc(1, sz ? sz : 1))) {
        rc = h5tier__fail(ENOMEM, "dataset '%s': out of memory", what);
        goto done;
    }
    if (H5Pget_fill_value(sdcpl, stype, fill) < 0 || H5Pset_fill_value(dcpl, dtype, fill) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot copy its fill value", what);
        goto done;
    }
    if (h5tier__persist_type_vlen(stype) && (sp = H5Screate(H5S_SCALAR)) >= 0)
        H5Dvlen_reclaim(stype, sp, H5P_DEFAULT, fill);
done:
    if (sp >= 0)
        H5Sclose(sp);
    free(fill);
    return rc;
}

static hid_t create(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t sdset, h5tier_persist_plan_t *plan)
{
    hid_t d = H5I_INVALID_HID, stype = H5I_INVALID_HID, dtype = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t dcpl = H5I_INVALID_HID, sdcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
    int rc = 0;
    if ((stype = H5Dget_type(sdset)) < 0 || (sdcpl = H5Dget_create_plist(sdset)) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot read its type", ob->src);
        goto done;
    }
    if ((dtype = h5tier__persist_dst_type(ctx, stype)) < 0) {
        rc = (int)dtype;
        dtype = H5I_INVALID_HID;
        goto done;
    }
    if ((space = make_space(plan)) < 0 || (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
        (lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot build its dataspace or properties", ob->src);
        goto done;
    }
    if ((rc = copy_fill(sdcpl, stype, dcpl, dtype, ob->src)) < 0 || (rc = h5tier__persist_order_copy(sdset, dcpl)) < 0)
        goto done;
    rc = 0;
    /* no modification times in the header: smaller, and the same input gives the same file */
    H5Pset_obj_track_times(dcpl, 0);
    if (plan->layout == H5TIER_LAYOUT_COMPACT) {
        if (H5Pset_layout(dcpl, H5D_COMPACT) >= 0) {
            H5E_BEGIN_TRY { d = H5Dcreate2(ctx->dst, ob->dst, dtype, space, lcpl, dcpl, H5P_DEFAULT); }
            H5E_END_TRY;
        }
        if (d >= 0)
            goto done;
        plan->layout = H5TIER_LAYOUT_CONTIGUOUS;
        plan->reason = "compact refused by HDF5 (object header limit), contiguous instead";
        if (H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot set contiguous layout", ob->src);
            goto done;
        }
    } else if (plan->layout == H5TIER_LAYOUT_CHUNKED) {
        if (H5Pset_chunk(dcpl, plan->rank, plan->chunk) < 0 ||
            (plan->shuffle && H5Pset_shuffle(dcpl) < 0) ||
            (plan->compress_level >= 0 && H5Pset_deflate(dcpl, (unsigned)plan->compress_level) < 0)) {
            rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot set chunking or filters", ob->src);
            goto done;
        }
    } else if (H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot set contiguous layout", ob->src);
        goto done;
    }
    if ((d = H5Dcreate2(ctx->dst, ob->dst, dtype, space, lcpl, dcpl, H5P_DEFAULT)) < 0)
        rc = h5tier__fail(H5TIER_EHDF5, "dataset '/%s': cannot create it in the destination (%s)", ob->dst,
                          h5tier_persist_layout_name(plan->layout));
done:
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (sdcpl >= 0)
        H5Pclose(sdcpl);
    if (space >= 0)
        H5Sclose(space);
    if (dtype >= 0)
        H5Tclose(dtype);
    if (stype >= 0)
        H5Tclose(stype);
    if (rc < 0) {
        if (d >= 0)
            H5Dclose(d);
        return rc;
    }
    return d;
}

int h5tier__persist_remap_refs(h5tier__pctx_t *ctx, void *refs, size_t n, const char *what)
{
    hobj_ref_t *r = refs;
    for (size_t i = 0; i < n; i++) {
        if (r[i] == 0 || r[i] == HADDR_UNDEF)
            continue; /* null reference */
        h5tier__amap_t *m = h5tier__persist_find(ctx, (haddr_t)r[i]);
        if (m && m->dst != HADDR_UNDEF) {
            r[i] = (hobj_ref_t)m->dst;
            continue;
        }
        char name[1024] = "?";
        ssize_t len;
        H5E_BEGIN_TRY { len = H5Rget_name(ctx->src_file, H5R_OBJECT, &r[i], name, sizeof name); }
        H5E_END_TRY;
        if (len <= 0)
            snprintf(name, sizeof name, "object at address %llu", (unsigned long long)r[i]);
        return h5tier__fail(H5TIER_ESCHEMA,
                            "%s: element %zu is an object reference to '%s', which is not persisted "
                            "(persist it too, or drop the reference)",
                            what, i, name);
    }
    return 0;
}

/* Everything a slab copy needs. */
typedef struct xfer {
    h5tier__pctx_t *ctx;
    const char *what;
    hid_t sdset, ddset, mtype, sfs, dfs;
    int rank;
    size_t tsize;
    int refs;        /* object references: remap */
    int vlen;        /* reclaim after each slab */
    hsize_t align[H5S_MAX_RANK]; /* source chunk shape to align slabs to (0 = none) */
    size_t slab;     /* bytes per slab (<= the buffer) */
    void *fill;      /* skip slabs equal to this element everywhere (NULL = never skip) */
} xfer_t;

static int all_fill(const unsigned char *buf, size_t n, const unsigned char *fill, size_t tsize)
{
    for (size_t i = 0; i < n; i++, buf += tsize)
        if (memcmp(buf, fill, tsize))
            return 0;
    return 1;
}

/* Copy the hyperslab start/count (any size) in blocks that fit the buffer. */
static int copy_region(xfer_t *x, const hsize_t *start, const hsize_t *count)
{
    h5tier__pctx_t *ctx = x->ctx;
    int rank = x->rank, rc = 0;
    hsize_t blk[H5S_MAX_RANK], off[H5S_MAX_RANK], cur[H5S_MAX_RANK], pos[H5S_MAX_RANK];
    for (int i = 0; i < rank; i++)
        if (count[i] == 0)
            return 0;
    h5tier_persist_chunk_shape(rank, count, x->tsize, x->slab, blk);
    /* slabs that cut source chunks make HDF5 read (and decompress) those
     * chunks again for every slab: align to whole chunks where they fit */
    for (int i = 0; i < rank; i++)
        if (x->align[i] && blk[i] < count[i] && blk[i] >= x->align[i])
            blk[i] -= blk[i] % x->align[i];
    memset(off, 0, sizeof off);
    hid_t ms = H5I_INVALID_HID;
    int held = 0; /* ctx->buf holds variable-length data not yet reclaimed */
    for (;;) {
        uint64_t n = 1;
        for (int i = 0; i < rank; i++) {
            cur[i] = count[i] - off[i] < blk[i] ? count[i] - off[i] : blk[i];
            pos[i] = start[i] + off[i];
            n *= cur[i];
        }
        if ((ms = H5Screate_simple(rank, cur, NULL)) < 0 ||
            H5Sselect_hyperslab(x->sfs, H5S_SELECT_SET, pos, NULL, cur, NULL) < 0 ||
            H5Sselect_hyperslab(x->dfs, H5S_SELECT_SET, pos, NULL, cur, NULL) < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "%s: cannot select a slab", x->what);
            goto done;
        }
        if (H5Dread(x->sdset, x->mtype, ms, x->sfs, H5P_DEFAULT, ctx->buf) < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "%s: reading the source failed", x->what);
            goto done;
        }
        held = x->vlen;
        if (x->refs && (rc = h5tier__persist_remap_refs(ctx, ctx->buf, (size_t)n, x->what)) < 0)
            goto done;
        if (!(x->fill && all_fill(ctx->buf, (size_t)n, x->fill, x->tsize)) &&
            H5Dwrite(x->ddset, x->mtype, ms, x->dfs, H5P_DEFAULT, ctx->buf) < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "%s: writing the destination failed (disk full?)", x->what);
            goto done;
        }
        if (h5tier__persist_out_error()) { /* the output file's driver met a write error */
            rc = h5tier__persist_out_fail();
            goto done;
        }
        held = 0;
        if (x->vlen && H5Dvlen_reclaim(x->mtype, ms, H5P_DEFAULT, ctx->buf) < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "%s: cannot release variable-length data", x->what);
            goto done;
        }
        H5Sclose(ms);
        ms = H5I_INVALID_HID;
        ctx->done += n * x->tsize;
        h5tier__persist_progress(ctx);
        int i = rank - 1;
        for (; i >= 0; i--) {
            off[i] += blk[i];
            if (off[i] < count[i])
                break;
            off[i] = 0;
        }
        if (i < 0)
            break;
    }
done:
    if (held)
        H5Dvlen_reclaim(x->mtype, ms, H5P_DEFAULT, ctx->buf);
    if (ms >= 0)
        H5Sclose(ms);
    return rc;
}

int h5tier__persist_dataset_data(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t sdset, hid_t ddset,
                                 const h5tier_persist_plan_t *plan)
{
    int rc = 0;
    char what[1200];
    snprintf(what, sizeof what, "dataset '%s'", ob->src);
    xfer_t x = {.ctx = ctx, .what = what, .sdset = sdset, .ddset = ddset, .mtype = H5I_INVALID_HID,
                .sfs = H5I_INVALID_HID, .dfs = H5I_INVALID_HID, .rank = plan->rank};
    hid_t stype = H5I_INVALID_HID, sdcpl = H5I_INVALID_HID, ddcpl = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    void *one = NULL;
    if (plan->rank < 0 || plan->bytes == 0)
        return 0;
    if ((stype = H5Dget_type(sdset)) < 0 || (x.mtype = H5Tcopy(stype)) < 0 ||
        (x.sfs = H5Dget_space(sdset)) < 0 || (x.dfs = H5Dget_space(ddset)) < 0 ||
        (sdcpl = H5Dget_create_plist(sdset)) < 0 || (ddcpl = H5Dget_create_plist(ddset)) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "%s: cannot read its type or dataspace", what);
        goto done;
    }
    x.tsize = H5Tget_size(stype);
    int plain = 0;
    x.refs = h5tier__persist_type_refs(stype, &plain);
    x.vlen = h5tier__persist_type_vlen(stype);
    /* Slabs: a filtered chunked source gets the whole budget (slabs of whole
     * chunk rows, each chunk decompressed once); otherwise at most 8 MiB,
     * which stays in cache and is as fast as larger slabs. */
    x.slab = (size_t)ctx->o.memory;
    if (H5Pget_layout(sdcpl) != H5D_CHUNKED || H5Pget_nfilters(sdcpl) <= 0)
        x.slab = x.slab < H5TIER_PERSIST_SLAB ? x.slab : H5TIER_PERSIST_SLAB;
    if (x.slab > plan->bytes && plan->bytes >= x.tsize)
        x.slab = (size_t)plan->bytes; /* no bigger than the data */
    if (x.tsize > x.slab && x.tsize > ctx->o.memory) {
        rc = h5tier__fail(EINVAL, "%s: one element (%zu B) exceeds the memory budget (%llu B)", what, x.tsize,
                          (unsigned long long)ctx->o.memory);
        goto done;
    }
    if (x.tsize > x.slab)
        x.slab = x.tsize;
    if (ctx->buflen < x.slab) {
        void *nb = realloc(ctx->buf, x.slab);
        if (!nb) {
            rc = h5tier__fail(ENOMEM, "%s: cannot allocate a %zu-byte slab buffer", what, x.slab);
            goto done;
        }
        ctx->buf = nb;
        ctx->buflen = x.slab;
    }
    if (plan->rank == 0) {
        if ((ms = H5Screate(H5S_SCALAR)) < 0 || H5Dread(sdset, x.mtype, ms, H5S_ALL, H5P_DEFAULT, ctx->buf) < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "%s: reading the source failed", what);
            goto done;
        }
        if (x.refs && (rc = h5tier__persist_remap_refs(ctx, ctx->buf, 1, what)) < 0)
            goto done;
        if (H5Dwrite(ddset, x.mtype, ms, H5S_ALL, H5P_DEFAULT, ctx->buf) < 0)
            rc = h5tier__fail(H5TIER_EHDF5, "%s: writing the destination failed", what);
        if (x.vlen)
            H5Dvlen_reclaim(x.mtype, ms, H5P_DEFAULT, ctx->buf);
        goto done;
    }
    /* fill-only slabs need not be written to a chunked destination */
    H5D_fill_time_t ft;
    if (plan->layout == H5TIER_LAYOUT_CHUNKED && !x.vlen && !x.refs && H5Pget_fill_time(ddcpl, &ft) >= 0 &&
        ft != H5D_FILL_TIME_NEVER) {
        H5D_fill_value_t st;
        if (H5Pfill_value_defined(ddcpl, &st) >= 0 && st != H5D_FILL_VALUE_UNDEFINED &&
            (one = calloc(1, x.tsize)) && H5Pget_fill_value(ddcpl, x.mtype, one) >= 0)
            x.fill = one;
    }
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    hsize_t nch, chunk[H5S_MAX_RANK] = {0};
    int sparse = h5tier__persist_sparse(sdset, sdcpl, x.sfs, plan->rank, x.tsize, plan->bytes, chunk, &nch);
    if (!sparse) {
        if (H5Pget_layout(sdcpl) == H5D_CHUNKED)
            memcpy(x.align, chunk, (size_t)plan->rank * sizeof *chunk);
        rc = copy_region(&x, start, plan->dims);
        goto done;
    }
    /* Which chunks are allocated?  In HDF5 1.10 H5Dget_chunk_info(idx) walks
     * the chunk index from the start on every call (n allocated chunks cost
     * n^2/2 steps, ~12 ns each), while H5Dget_chunk_storage_size(coords) is
     * one index lookup (~0.6 us) per cell of the chunk grid: take the
     * cheaper of the two walks. */
    double cells = 1;
    hsize_t grid[H5S_MAX_RANK], idx[H5S_MAX_RANK] = {0};
    for (int i = 0; i < plan->rank; i++) {
        grid[i] = (plan->dims[i] + chunk[i] - 1) / chunk[i];
        cells *= (double)grid[i];
    }
    int by_grid = cells * 0.6e-6 < (double)nch * (double)nch * 6e-9;
    for (hsize_t c = 0; by_grid ? cells > 0 : c < nch; c++) {
        hsize_t off[H5S_MAX_RANK];
        if (by_grid) {
            hsize_t size = 0;
            herr_t r;
            for (int i = 0; i < plan->rank; i++)
                off[i] = idx[i] * chunk[i];
            H5E_BEGIN_TRY { r = H5Dget_chunk_storage_size(sdset, off, &size); }
            H5E_END_TRY;
            int i = plan->rank - 1;
            for (; i >= 0 && ++idx[i] == grid[i]; i--)
                idx[i] = 0;
            if (i < 0)
                cells = 0; /* last cell */
            if (r < 0 || size == 0)
                continue;
        } else {
            unsigned mask;
            haddr_t addr;
            hsize_t size;
            if (H5Dget_chunk_info(sdset, x.sfs, c, off, &mask, &addr, &size) < 0) {
                rc = h5tier__fail(H5TIER_EHDF5, "%s: cannot read chunk %llu's position", what, (unsigned long long)c);
                goto done;
            }
        }
        for (int i = 0; i < plan->rank; i++) {
            start[i] = off[i];
            count[i] = off[i] >= plan->dims[i] ? 0
                       : (plan->dims[i] - off[i] < chunk[i] ? plan->dims[i] - off[i] : chunk[i]);
        }
        if ((rc = copy_region(&x, start, count)) < 0)
            goto done;
    }
done:
    free(one);
    if (ms >= 0)
        H5Sclose(ms);
    if (ddcpl >= 0)
        H5Pclose(ddcpl);
    if (sdcpl >= 0)
        H5Pclose(sdcpl);
    if (x.dfs >= 0)
        H5Sclose(x.dfs);
    if (x.sfs >= 0)
        H5Sclose(x.sfs);
    if (x.mtype >= 0)
        H5Tclose(x.mtype);
    if (stype >= 0)
        H5Tclose(stype);
    return rc;
}

hid_t h5tier__persist_dataset(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t sdset,
                              h5tier_persist_plan_t *plan)
{
    hid_t d = create(ctx, ob, sdset, plan);
    if (d < 0)
        return d;
    int rc = h5tier__persist_record(ctx, ob, d);
    if (rc < 0) {
        H5Dclose(d);
        return rc;
    }
    return d;
}
