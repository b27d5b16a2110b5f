/*
 * persist/plan.c -- the layout decision: from a source dataset's final
 * extent, file type and creation properties to the destination's layout,
 * maximum dimensions, chunk shape and filters, with the reason in words.
 * Also the chunk-shape rule and short type descriptions for plans.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "persist/persist_internal.h"

const char *h5tier_persist_layout_name(h5tier_persist_layout_t layout)
{
    switch (layout) {
    case H5TIER_LAYOUT_COMPACT: return "compact";
    case H5TIER_LAYOUT_CONTIGUOUS: return "contiguous";
    case H5TIER_LAYOUT_CHUNKED: return "chunked";
    default: return "-";
    }
}

const char *h5tier_persist_kind_name(h5tier_persist_kind_t kind)
{
    switch (kind) {
    case H5TIER_PERSIST_GROUP: return "group";
    case H5TIER_PERSIST_DATASET: return "dataset";
    case H5TIER_PERSIST_DATATYPE: return "datatype";
    case H5TIER_PERSIST_HARD_LINK: return "hard link";
    case H5TIER_PERSIST_SOFT_LINK: return "soft link";
    case H5TIER_PERSIST_EXTERNAL_LINK: return "external link";
    }
    return "?";
}

int h5tier_persist_chunk_shape(int rank, const hsize_t *dims, size_t type_size, uint64_t target_bytes,
                               hsize_t *chunk)
{
    if (rank < 1 || rank > H5S_MAX_RANK || !dims || !chunk || type_size == 0)
        return h5tier__fail(EINVAL, "chunk shape: bad rank %d or type size %zu", rank, type_size);
    uint64_t left = target_bytes / type_size; /* elements still to place */
    if (left == 0)
        left = 1;
    for (int i = rank - 1; i >= 0; i--) {
        hsize_t d = dims[i] ? dims[i] : 1;
        if (left >= d) {
            chunk[i] = d;
            left /= d;
        } else {
            chunk[i] = left ? left : 1;
            left = 1;
        }
    }
    /* HDF5 limits a chunk to 4 GiB - 1 bytes and 2^32 - 1 elements per dim */
    return 0;
}

void h5tier__persist_type_text(hid_t type, char *buf, size_t len)
{
    size_t size = H5Tget_size(type);
    H5T_class_t cls = H5Tget_class(type);
    H5T_order_t order = H5Tget_order(type);
    const char *be = order == H5T_ORDER_BE ? "be" : "";
    switch (cls) {
    case H5T_INTEGER:
        snprintf(buf, len, "%sint%zu%s", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", size * 8, be);
        break;
    case H5T_FLOAT: snprintf(buf, len, "float%zu%s", size * 8, be); break;
    case H5T_STRING:
        if (H5Tis_variable_str(type) > 0)
            snprintf(buf, len, "string(variable)");
        else
            snprintf(buf, len, "string(%zu)", size);
        break;
    case H5T_COMPOUND: snprintf(buf, len, "compound(%d members, %zu B)", H5Tget_nmembers(type), size); break;
    case H5T_ENUM: snprintf(buf, len, "enum(%zu B)", size); break;
    case H5T_ARRAY: snprintf(buf, len, "array(%zu B)", size); break;
    case H5T_VLEN: snprintf(buf, len, "vlen"); break;
    case H5T_OPAQUE: snprintf(buf, len, "opaque(%zu B)", size); break;
    case H5T_BITFIELD: snprintf(buf, len, "bitfield%zu", size * 8); break;
    case H5T_TIME: snprintf(buf, len, "time(%zu B)", size); break;
    case H5T_REFERENCE:
        snprintf(buf, len, "%s", H5Tequal(type, H5T_STD_REF_OBJ) > 0 ? "objref" : "regionref");
        break;
    default: snprintf(buf, len, "type(%zu B)", size); break;
    }
    if (H5Tcommitted(type) > 0) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, " (named)");
    }
}

int h5tier__persist_type_refs(hid_t type, int *plain_obj)
{
    *plain_obj = 0;
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_REFERENCE) {
        *plain_obj = H5Tequal(type, H5T_STD_REF_OBJ) > 0;
        return 1;
    }
    return H5Tdetect_class(type, H5T_REFERENCE) > 0;
}

int h5tier__persist_type_vlen(hid_t type)
{
    return H5Tdetect_class(type, H5T_VLEN) > 0 || H5Tis_variable_str(type) > 0 ||
           (H5Tget_class(type) != H5T_STRING && H5Tdetect_class(type, H5T_STRING) > 0);
}

int h5tier__persist_sparse(hid_t dset, hid_t dcpl, hid_t space, int rank, size_t tsize, uint64_t bytes,
                          hsize_t *chunk, hsize_t *nch)
{
    *nch = 0;
    if (H5Pget_layout(dcpl) != H5D_CHUNKED || bytes == 0 || H5Pget_chunk(dcpl, rank, chunk) != rank ||
        H5Dget_num_chunks(dset, space, nch) < 0)
        return 0;
    double per = (double)tsize;
    for (int i = 0; i < rank; i++)
        per *= (double)chunk[i];
    return (double)*nch * per < 0.5 * (double)bytes;
}

static void dims_text(char *buf, size_t len, int rank, const hsize_t *d, int unlimited_ok)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && k < len; i++) {
        if (unlimited_ok && d[i] == H5S_UNLIMITED)
            k += (size_t)snprintf(buf + k, len - k, "%sinf", i ? "x" : "");
        else
            k += (size_t)snprintf(buf + k, len - k, "%s%" PRIuMAX, i ? "x" : "", (uintmax_t)d[i]);
    }
}

/* "created chunked 1024x1024 unlimited", "created contiguous", ... */
static void source_text(hid_t dcpl, int rank, const hsize_t *dims, const hsize_t *maxd, char *buf, size_t len)
{
    H5D_layout_t lay = H5Pget_layout(dcpl);
    const char *name = lay == H5D_COMPACT ? "compact"
                       : lay == H5D_CONTIGUOUS ? "contiguous"
                       : lay == H5D_CHUNKED ? "chunked"
                       : lay == H5D_VIRTUAL ? "virtual" : "?";
    size_t k = (size_t)snprintf(buf, len, "created %s", name);
    if (lay == H5D_CHUNKED && rank > 0 && k < len) {
        hsize_t c[H5S_MAX_RANK];
        if (H5Pget_chunk(dcpl, rank, c) == rank) {
            k += (size_t)snprintf(buf + k, len - k, " ");
            if (k < len)
                dims_text(buf + k, len - k, rank, c, 0);
            k = strlen(buf);
        }
    }
    int unl = 0, bigger = 0;
    for (int i = 0; i < rank; i++) {
        if (maxd[i] == H5S_UNLIMITED)
            unl = 1;
        else if (maxd[i] > dims[i])
            bigger = 1;
    }
    if (k < len && (unl || bigger)) {
        k += (size_t)snprintf(buf + k, len - k, unl ? " unlimited" : " max ");
        if (!unl && k < len)
            dims_text(buf + k, len - k, rank, maxd, 1);
    }
    if (H5Pget_nfilters(dcpl) > 0) {
        k = strlen(buf);
        if (k < len)
            snprintf(buf + k, len - k, " filtered");
    }
}

int h5tier__persist_plan_dataset(h5tier__pctx_t *ctx, hid_t dset, const char *dst_path,
                                 h5tier_persist_plan_t *plan, char *tbuf, size_t tlen, char *rbuf,
                                 size_t rlen, char *sbuf, size_t slen)
{
    int rc = 0;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    memset(plan, 0, sizeof *plan);
    plan->path = dst_path;
    plan->kind = H5TIER_PERSIST_DATASET;
    plan->compress_level = -1;
    plan->type = tbuf;
    plan->reason = rbuf;
    plan->source = sbuf;
    rbuf[0] = sbuf[0] = tbuf[0] = 0;

    if ((type = H5Dget_type(dset)) < 0 || (space = H5Dget_space(dset)) < 0 || (dcpl = H5Dget_create_plist(dset)) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot read its type, dataspace or properties", dst_path);
        goto done;
    }
    h5tier__persist_type_text(type, tbuf, tlen);
    int plain = 0;
    if (h5tier__persist_type_refs(type, &plain) && !plain) {
        rc = h5tier__fail(ENOTSUP, "dataset '%s': type %s holds region references or references inside "
                          "another type; only plain object references can be persisted", dst_path, tbuf);
        goto done;
    }
    size_t tsize = H5Tget_size(type);
    H5S_class_t scls = H5Sget_simple_extent_type(space);
    hsize_t maxd[H5S_MAX_RANK];
    if (scls == H5S_NULL) {
        plan->rank = -1;
    } else {
        plan->rank = H5Sget_simple_extent_dims(space, plan->dims, maxd);
        if (plan->rank < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot read its extent", dst_path);
            goto done;
        }
    }
    int rank = plan->rank > 0 ? plan->rank : 0;
    uint64_t elems = scls == H5S_NULL ? 0 : 1;
    for (int i = 0; i < rank; i++)
        elems *= plan->dims[i];
    plan->bytes = elems * tsize;
    source_text(dcpl, rank, plan->dims, maxd, sbuf, slen);

    int growable = 0;
    for (int i = 0; i < rank; i++) {
        plan->maxdims[i] = plan->dims[i];
        if (maxd[i] != plan->dims[i])
            growable = 1;
    }
    int keep = ctx->o.keep_growable && growable;
    if (keep)
        memcpy(plan->maxdims, maxd, (size_t)rank * sizeof *maxd);

    hsize_t c[H5S_MAX_RANK], nch;
    int sparse = h5tier__persist_sparse(dset, dcpl, space, rank, tsize, plan->bytes, c, &nch);

    char b[64];
    if (plan->bytes < ctx->o.compact_below && !keep) {
        plan->layout = H5TIER_LAYOUT_COMPACT;
        snprintf(rbuf, rlen, "below %" PRIu64 " B", ctx->o.compact_below);
    } else if (plan->bytes == 0 && !keep) {
        /* no elements and compact disabled: a chunk could not fit a zero-length fixed dimension */
        plan->layout = H5TIER_LAYOUT_CONTIGUOUS;
        snprintf(rbuf, rlen, "no elements");
    } else if (rank == 0) {
        /* scalar or null dataspace too large for compact: only contiguous fits */
        plan->layout = H5TIER_LAYOUT_CONTIGUOUS;
        snprintf(rbuf, rlen, "%s dataspace", plan->rank < 0 ? "null" : "scalar");
    } else {
        int compress = ctx->o.compress_level >= 0 && ctx->deflate_ok;
        if (keep)
            snprintf(rbuf, rlen, "kept growable");
        else if (compress)
            snprintf(rbuf, rlen, "compressed");
        else if (sparse)
            snprintf(rbuf, rlen, "sparse source: unallocated chunks stay unallocated");
        else if (plan->bytes > ctx->o.contiguous_max)
            snprintf(rbuf, rlen, "above %s", h5tier_format_size(ctx->o.contiguous_max, b, sizeof b));
        if (rbuf[0]) {
            plan->layout = H5TIER_LAYOUT_CHUNKED;
            if (sparse) {
                /* what is allocated follows the source's chunk grid: keep that grid
                 * (clipped to the extent; split if a source chunk exceeds chunk_bytes) */
                for (int i = 0; i < rank; i++)
                    c[i] = c[i] < plan->dims[i] ? c[i] : plan->dims[i];
                h5tier_persist_chunk_shape(rank, c, tsize, ctx->o.chunk_bytes, plan->chunk);
            } else {
                h5tier_persist_chunk_shape(rank, plan->dims, tsize, ctx->o.chunk_bytes, plan->chunk);
            }
            if (compress) {
                plan->compress_level = ctx->o.compress_level;
                plan->shuffle = ctx->shuffle_ok && tsize > 1 && H5Tdetect_class(type, H5T_VLEN) <= 0 &&
                                H5Tis_variable_str(type) <= 0;
            }
        } else {
            plan->layout = H5TIER_LAYOUT_CONTIGUOUS;
            snprintf(rbuf, rlen, "fixed size, at most %s", h5tier_format_size(ctx->o.contiguous_max, b, sizeof b));
        }
        if (ctx->o.compress_level >= 0 && !ctx->deflate_ok) {
            size_t k = strlen(rbuf);
            snprintf(rbuf + k, rlen - k, "; deflate unavailable, not compressed");
        }
    }
done:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return rc;
}
