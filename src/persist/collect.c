/*
 * persist/collect.c -- walk the source and list what to persist: every link
 * below the chosen paths (or below the source location), group by group in
 * creation order where the group tracks it (else name order), classified as a
 * group, dataset, named datatype, soft link, external link, or a second
 * hard link to an object already listed.  Builds the source-address map
 * that hard links, named types and object references are resolved with.
 */
#include <stdlib.h>
#include <string.h>

#include "persist/persist_internal.h"

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/' && lb)
        s[k++] = '/';
    memcpy(s + k, b, lb + 1);
    return s;
}

static int push(h5tier__pctx_t *ctx, const char *src, const char *dst, h5tier_persist_kind_t kind,
                haddr_t addr, const char *target, const char *file)
{
    if (ctx->n == ctx->cap) {
        size_t nc = ctx->cap ? ctx->cap * 2 : 64;
        h5tier__pobj_t *nv = realloc(ctx->v, nc * sizeof *nv);
        if (!nv)
            return h5tier__fail(ENOMEM, "persist: out of memory listing objects");
        ctx->v = nv;
        ctx->cap = nc;
    }
    h5tier__pobj_t *o = &ctx->v[ctx->n];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->addr = addr;
    o->held = H5I_INVALID_HID;
    o->src = strdup(src);
    o->dst = strdup(dst);
    o->target = target ? strdup(target) : NULL;
    o->file = file ? strdup(file) : NULL;
    if (!o->src || !o->dst || (target && !o->target) || (file && !o->file)) {
        free(o->src), free(o->dst), free(o->target), free(o->file);
        return h5tier__fail(ENOMEM, "persist: out of memory listing objects");
    }
    ctx->n++;
    return 0;
}

/* Add the link `name` in loc (src path spath, destination path dpath). */
static int add_link(h5tier__pctx_t *ctx, hid_t loc, const char *name, const H5L_info_t *li,
                    const char *spath, const char *dpath)
{
    if (li->corder_valid) /* its group tracks link creation order */
        ctx->ordered = 1;
    if (li->type == H5L_TYPE_SOFT || li->type == H5L_TYPE_EXTERNAL) {
        size_t len = li->u.val_size ? li->u.val_size : 1;
        char *val = malloc(len + 1);
        if (!val)
            return h5tier__fail(ENOMEM, "persist: out of memory");
        int rc = 0;
        if (H5Lget_val(loc, name, val, len, H5P_DEFAULT) < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "link '%s': cannot read its value", spath);
        } else if (li->type == H5L_TYPE_SOFT) {
            val[len] = 0;
            rc = push(ctx, spath, dpath, H5TIER_PERSIST_SOFT_LINK, HADDR_UNDEF, val, NULL);
        } else {
            const char *file = NULL, *obj = NULL;
            unsigned flags = 0;
            if (H5Lunpack_elink_val(val, len, &flags, &file, &obj) < 0)
                rc = h5tier__fail(H5TIER_EHDF5, "external link '%s': cannot decode its value", spath);
            else
                rc = push(ctx, spath, dpath, H5TIER_PERSIST_EXTERNAL_LINK, HADDR_UNDEF, obj, file);
        }
        free(val);
        return rc;
    }
    if (li->type != H5L_TYPE_HARD)
        return h5tier__fail(ENOTSUP, "link '%s': user-defined link class %d cannot be persisted", spath,
                            (int)li->type);
    H5O_info_t oi;
    if (H5Oget_info_by_name2(loc, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        return h5tier__fail(H5TIER_EHDF5, "object '%s': cannot read its object header", spath);
    h5tier_persist_kind_t kind;
    switch (oi.type) {
    case H5O_TYPE_GROUP: kind = H5TIER_PERSIST_GROUP; break;
    case H5O_TYPE_DATASET: kind = H5TIER_PERSIST_DATASET; break;
    case H5O_TYPE_NAMED_DATATYPE: kind = H5TIER_PERSIST_DATATYPE; break;
    default: return h5tier__fail(ENOTSUP, "object '%s': unknown object type %d", spath, (int)oi.type);
    }
    return push(ctx, spath, dpath, kind, oi.addr, NULL, NULL);
}

typedef struct visit {
    h5tier__pctx_t *ctx;
    const char *sbase, *dbase;
    int rc;
} visit_t;

static herr_t visit_cb(hid_t g, const char *name, const H5L_info_t *li, void *arg)
{
    visit_t *vi = arg;
    char *sp = join(vi->sbase, name), *dp = join(vi->dbase, name);
    if (!sp || !dp) {
        free(sp), free(dp);
        vi->rc = h5tier__fail(ENOMEM, "persist: out of memory");
        return -1;
    }
    vi->rc = add_link(vi->ctx, g, name, li, sp, dp);
    free(sp), free(dp);
    return vi->rc < 0 ? -1 : 0;
}

/* List every link below the group spath; children are named sbase/... in
 * the source and dbase/... in the destination.  HDF5 falls back to name
 * order in each group that does not track creation order. */
static int visit(h5tier__pctx_t *ctx, const char *spath, const char *sbase, const char *dbase)
{
    visit_t vi = {ctx, sbase, dbase, 0};
    herr_t r = H5Lvisit_by_name(ctx->src, spath, H5_INDEX_CRT_ORDER, H5_ITER_INC, visit_cb, &vi, H5P_DEFAULT);
    if (vi.rc < 0)
        return vi.rc;
    if (r < 0)
        return h5tier__fail(H5TIER_EHDF5, "group '%s': cannot list its links", spath);
    return 0;
}

static int add_root(h5tier__pctx_t *ctx, const char *spath)
{
    H5O_info_t oi;
    if (H5Oget_info_by_name2(ctx->src, spath, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        return h5tier__fail(H5TIER_EHDF5, "group '%s': cannot read its object header", spath);
    int rc = push(ctx, spath, "", H5TIER_PERSIST_GROUP, oi.addr, NULL, NULL);
    if (rc < 0)
        return rc;
    /* children of "." get paths relative to src, or absolute when src is
     * the file or its root group (clearer in messages) */
    const char *base = spath;
    if (!strcmp(spath, ".")) {
        char name[4];
        base = "";
        if (H5Iget_type(ctx->src) == H5I_FILE ||
            (H5Iget_name(ctx->src, name, sizeof name) == 1 && !strcmp(name, "/")))
            base = "/";
    }
    return visit(ctx, spath, base, "");
}

int h5tier__persist_path_exists(hid_t loc, const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char save = buf[i];
        buf[i] = 0;
        if (strcmp(buf, "/") && strcmp(buf, ".") && buf[0]) {
            htri_t e;
            H5E_BEGIN_TRY { e = H5Lexists(loc, buf, H5P_DEFAULT); }
            H5E_END_TRY;
            if (e <= 0)
                return 0;
            if (save) {
                H5O_info_t oi;
                herr_t r;
                H5E_BEGIN_TRY { r = H5Oget_info_by_name2(loc, buf, &oi, H5O_INFO_BASIC, H5P_DEFAULT); }
                H5E_END_TRY;
                if (r < 0 || oi.type != H5O_TYPE_GROUP)
                    return 0;
            }
        }
        buf[i] = save;
    }
    return 1;
}

static int cmp_map(const void *a, const void *b)
{
    const h5tier__amap_t *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    /* ties: keep listing order (dst_path temporarily holds the index) */
    uintptr_t i = (uintptr_t)x->dst_path, j = (uintptr_t)y->dst_path;
    return i < j ? -1 : i > j;
}

/* Second and later paths to one object become hard links, and an entry
 * listed twice (overlapping object paths) is dropped; build the map. */
static int dedupe(h5tier__pctx_t *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < ctx->n; i++)
        if (ctx->v[i].addr != HADDR_UNDEF)
            n++;
    ctx->map = calloc(n ? n : 1, sizeof *ctx->map);
    if (!ctx->map)
        return h5tier__fail(ENOMEM, "persist: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < ctx->n; i++)
        if (ctx->v[i].addr != HADDR_UNDEF) {
            ctx->map[k].src = ctx->v[i].addr;
            ctx->map[k].dst = HADDR_UNDEF;
            ctx->map[k].dst_path = (const char *)(uintptr_t)i;
            k++;
        }
    qsort(ctx->map, n, sizeof *ctx->map, cmp_map);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t idx = (size_t)(uintptr_t)ctx->map[i].dst_path;
        if (out && ctx->map[out - 1].src == ctx->map[i].src) {
            h5tier__pobj_t *first = (h5tier__pobj_t *)ctx->map[out - 1].dst_path;
            h5tier__pobj_t *o = &ctx->v[idx];
            if (!strcmp(first->dst, o->dst)) { /* listed twice: dropped below */
                free(o->src);
                o->src = NULL;
                continue;
            }
            o->kind = H5TIER_PERSIST_HARD_LINK;
            o->target = strdup(first->dst);
            if (!o->target)
                return h5tier__fail(ENOMEM, "persist: out of memory");
            continue;
        }
        ctx->map[out] = ctx->map[i];
        ctx->map[out].dst_path = (const char *)&ctx->v[idx];
        out++;
    }
    for (size_t i = 0; i < out; i++)
        ctx->map[i].dst_path = ((h5tier__pobj_t *)ctx->map[i].dst_path)->dst;
    ctx->nmap = out;
    /* Soft and external links have no address, so the map cannot see a link
     * reached twice (--object /g --object /g/soft): keep its first entry. */
    for (size_t i = 0; i < ctx->n; i++) {
        h5tier__pobj_t *o = &ctx->v[i];
        if (!o->src || (o->kind != H5TIER_PERSIST_SOFT_LINK && o->kind != H5TIER_PERSIST_EXTERNAL_LINK))
            continue;
        for (size_t j = 0; j < i; j++)
            if (ctx->v[j].src && ctx->v[j].kind == o->kind && !strcmp(ctx->v[j].dst, o->dst)) {
                free(o->src);
                o->src = NULL;
                break;
            }
    }
    /* the map points at the dst strings, not at the entries: safe to compact */
    size_t w = 0;
    for (size_t i = 0; i < ctx->n; i++) {
        h5tier__pobj_t *o = &ctx->v[i];
        if (!o->src) {
            free(o->dst), free(o->target), free(o->file);
            continue;
        }
        ctx->v[w++] = *o;
    }
    ctx->n = w;
    return 0;
}

/* The link at the first n bytes of path, quietly (0, or -1 if there is
 * none or the prefix is too long). */
static int prefix_info(hid_t loc, const char *path, size_t n, H5L_info_t *li)
{
    char buf[4096];
    herr_t r;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, path, n);
    buf[n] = 0;
    H5E_BEGIN_TRY { r = H5Lget_info(loc, buf, li, H5P_DEFAULT); }
    H5E_END_TRY;
    return r < 0 ? -1 : 0;
}

/* 1 if a link on the way to path lies in a group that tracks link
 * creation order. */
static int path_tracked(hid_t loc, const char *path)
{
    H5L_info_t li;
    for (size_t i = 1; path[i - 1]; i++)
        if ((path[i] == '/' || !path[i]) && path[i - 1] != '/' && prefix_info(loc, path, i, &li) == 0 &&
            li.corder_valid)
            return 1;
    return 0;
}

/* qsort_r: two object paths in the order a visit of the source lists them
 * (a group before what is below it; at the first component that differs,
 * by creation order where that group tracks it, else by name). */
static int cmp_source_order(const void *x, const void *y, void *arg)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    hid_t loc = *(const hid_t *)arg;
    size_t k = 0, start = 0;
    for (; a[k] && a[k] == b[k]; k++)
        if (a[k] == '/')
            start = k + 1;
    if (a[k] == b[k])
        return 0;
    if ((!a[k] && b[k] == '/') || (!b[k] && a[k] == '/')) /* one is the other's group */
        return a[k] ? 1 : -1;
    size_t ea = start + strcspn(a + start, "/"), eb = start + strcspn(b + start, "/");
    H5L_info_t la, lb;
    if (prefix_info(loc, a, ea, &la) == 0 && prefix_info(loc, b, eb, &lb) == 0 && la.corder_valid &&
        lb.corder_valid && la.corder != lb.corder)
        return la.corder < lb.corder ? -1 : 1;
    size_t na = ea - start, nb = eb - start;
    int c = memcmp(a + start, b + start, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

/* The object paths to persist in the order to create them: the order given,
 * unless some group on the way tracks link creation order; then the
 * source's order, so that the chosen links keep it too.  Free the array. */
static const char **objects_in_order(h5tier__pctx_t *ctx)
{
    size_t n = ctx->o.nobjects;
    const char **v = malloc(n * sizeof *v);
    if (!v)
        return NULL;
    int sort = 0, null = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = ctx->o.objects[i];
        if (!v[i])
            null = 1; /* refused by collect_objects */
        else if (!sort)
            sort = path_tracked(ctx->src, v[i]);
    }
    if (sort && !null)
        qsort_r(v, n, sizeof *v, cmp_source_order, &ctx->src);
    return v;
}

static int collect_objects(h5tier__pctx_t *ctx, const char *const *objects)
{
    int rc;
    for (size_t i = 0; i < ctx->o.nobjects; i++) {
        const char *p = objects[i];
        if (!p || !*p)
            return h5tier__fail(EINVAL, "persist: empty object path");
        if (!strcmp(p, "/") || !strcmp(p, ".")) {
            if ((rc = add_root(ctx, p)) < 0)
                return rc;
            continue;
        }
        const char *d = p;
        while (*d == '/')
            d++;
        if (!h5tier__persist_path_exists(ctx->src, p))
            return h5tier__fail(ENOENT, "object '%s': no such object in the source", p);
        H5L_info_t li;
        if (H5Lget_info(ctx->src, p, &li, H5P_DEFAULT) < 0)
            return h5tier__fail(H5TIER_EHDF5, "object '%s': cannot read its link", p);
        /* the link's own name inside its parent, for H5Lget_val */
        if ((rc = add_link(ctx, ctx->src, p, &li, p, d)) < 0)
            return rc;
        if (ctx->v[ctx->n - 1].kind == H5TIER_PERSIST_GROUP && (rc = visit(ctx, p, p, d)) < 0)
            return rc;
    }
    return 0;
}

int h5tier__persist_collect(h5tier__pctx_t *ctx)
{
    int rc;
    if (!ctx->o.objects || ctx->o.nobjects == 0) {
        rc = add_root(ctx, ".");
        return rc < 0 ? rc : dedupe(ctx);
    }
    const char **objects = objects_in_order(ctx);
    if (!objects)
        return h5tier__fail(ENOMEM, "persist: out of memory");
    rc = collect_objects(ctx, objects);
    free(objects);
    return rc < 0 ? rc : dedupe(ctx);
}

h5tier__amap_t *h5tier__persist_find(h5tier__pctx_t *ctx, haddr_t src)
{
    size_t lo = 0, hi = ctx->nmap;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ctx->map[mid].src == src)
            return &ctx->map[mid];
        if (ctx->map[mid].src < src)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int h5tier__persist_record(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t id)
{
    H5O_info_t oi;
    if (H5Oget_info2(id, &oi, H5O_INFO_BASIC) < 0)
        return h5tier__fail(H5TIER_EHDF5, "%s '/%s': cannot read its new address",
                            h5tier_persist_kind_name(ob->kind), ob->dst);
    h5tier__amap_t *m = h5tier__persist_find(ctx, ob->addr);
    if (m)
        m->dst = oi.addr;
    return 0;
}

void h5tier__persist_free(h5tier__pctx_t *ctx)
{
    for (size_t i = 0; i < ctx->n; i++) {
        if (ctx->v[i].held >= 0)
            H5Tclose(ctx->v[i].held);
        free(ctx->v[i].src);
        free(ctx->v[i].dst);
        free(ctx->v[i].target);
        free(ctx->v[i].file);
    }
    free(ctx->v);
    free(ctx->map);
    free(ctx->buf);
    ctx->v = NULL;
    ctx->map = NULL;
    ctx->buf = NULL;
    ctx->n = ctx->cap = ctx->nmap = 0;
}
