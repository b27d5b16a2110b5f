/*
 * persist/attr.c -- attributes and types: copy every attribute of an object
 * with its own file type (read and written with that type, so no
 * conversion), remapping object references, in creation order when the
 * object tracks it (else in name order); and choose the destination
 * type for a source type: the persisted named type when the source type is
 * a committed type that is persisted too, otherwise an embedded copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist/persist_internal.h"

hid_t h5tier__persist_dst_type(h5tier__pctx_t *ctx, hid_t stype)
{
    if (H5Tcommitted(stype) > 0) {
        H5O_info_t oi;
        if (H5Oget_info2(stype, &oi, H5O_INFO_BASIC) >= 0) {
            h5tier__amap_t *m = h5tier__persist_find(ctx, oi.addr);
            if (m && m->dst != HADDR_UNDEF && m->dst_path[0]) {
                /* by address: it may be committed but not linked yet (ctx->ordered) */
                hid_t t = H5Oopen_by_addr(ctx->dst, m->dst);
                if (t >= 0)
                    return t;
                return h5tier__fail(H5TIER_EHDF5, "named datatype '/%s': cannot open it in the destination",
                                    m->dst_path);
            }
        }
    }
    hid_t t = H5Tcopy(stype);
    if (t < 0)
        return h5tier__fail(H5TIER_EHDF5, "persist: cannot copy a datatype");
    return t;
}

typedef struct actx {
    h5tier__pctx_t *ctx;
    hid_t dobj;
    const char *what;
    int mode;    /* H5TIER__ATTRS_* */
    int ordered; /* in creation order: the first attribute holding references and all after it wait */
    int met_ref; /* that first one has been met */
    int skipped; /* attributes with references left for later */
    int rc;
} actx_t;

static int copy_one(actx_t *a, hid_t sobj, const char *name)
{
    h5tier__pctx_t *ctx = a->ctx;
    int rc = 0;
    hid_t sa = H5I_INVALID_HID, da = H5I_INVALID_HID, stype = H5I_INVALID_HID, dtype = H5I_INVALID_HID;
    hid_t mtype = H5I_INVALID_HID, space = H5I_INVALID_HID;
    void *buf = NULL;
    int vlen = 0;
    char what[1400];
    snprintf(what, sizeof what, "attribute '%s' of '%s'", name, a->what);
    if ((sa = H5Aopen(sobj, name, H5P_DEFAULT)) < 0 || (stype = H5Aget_type(sa)) < 0 ||
        (space = H5Aget_space(sa)) < 0 || (mtype = H5Tcopy(stype)) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "%s: cannot open it or read its type", what);
        goto done;
    }
    int plain = 0, refs = h5tier__persist_type_refs(stype, &plain);
    a->met_ref |= refs;
    int later = a->ordered ? a->met_ref : refs; /* copied once every object exists */
    if ((a->mode == H5TIER__ATTRS_NO_REFS && later) || (a->mode == H5TIER__ATTRS_REFS && !later)) {
        a->skipped += later;
        goto done;
    }
    if (refs && !plain) {
        rc = h5tier__fail(ENOTSUP, "%s: region references or references inside another type cannot be "
                          "persisted", what);
        goto done;
    }
    if ((dtype = h5tier__persist_dst_type(ctx, stype)) < 0) {
        rc = (int)dtype;
        dtype = H5I_INVALID_HID;
        goto done;
    }
    if ((da = H5Acreate2(a->dobj, name, dtype, space, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "%s: cannot create it in the destination", what);
        goto done;
    }
    hssize_t n = H5Sget_select_npoints(space);
    if (H5Sget_simple_extent_type(space) == H5S_NULL || n <= 0)
        goto done;
    size_t tsize = H5Tget_size(stype);
    if (!(buf = calloc((size_t)n, tsize))) {
        rc = h5tier__fail(ENOMEM, "%s: out of memory", what);
        goto done;
    }
    vlen = h5tier__persist_type_vlen(stype);
    if (H5Aread(sa, mtype, buf) < 0) {
        vlen = 0;
        rc = h5tier__fail(H5TIER_EHDF5, "%s: reading it failed", what);
        goto done;
    }
    if (refs && (rc = h5tier__persist_remap_refs(ctx, buf, (size_t)n, what)) < 0)
        goto done;
    if (H5Awrite(da, mtype, buf) < 0)
        rc = h5tier__fail(H5TIER_EHDF5, "%s: writing it failed", what);
done:
    if (vlen)
        H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf);
    free(buf);
    if (da >= 0)
        H5Aclose(da);
    if (sa >= 0)
        H5Aclose(sa);
    if (space >= 0)
        H5Sclose(space);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (dtype >= 0)
        H5Tclose(dtype);
    if (stype >= 0)
        H5Tclose(stype);
    return rc;
}

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *arg)
{
    (void)info;
    actx_t *a = arg;
    a->rc = copy_one(a, loc, name);
    return a->rc < 0 ? -1 : 0;
}

int h5tier__persist_attrs(h5tier__pctx_t *ctx, hid_t sobj, hid_t dobj, const char *what, int mode)
{
    unsigned links, attrs;
    int rc = h5tier__persist_order_get(sobj, &links, &attrs);
    if (rc < 0)
        return rc;
    actx_t a = {ctx, dobj, what, mode, (attrs & H5P_CRT_ORDER_TRACKED) != 0, 0, 0, 0};
    hsize_t idx = 0;
    herr_t r = H5Aiterate2(sobj, a.ordered ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, &a);
    if (a.rc < 0)
        return a.rc;
    if (r < 0)
        return h5tier__fail(H5TIER_EHDF5, "object '%s': cannot list its attributes", what);
    return a.skipped;
}
