/*
 * persist/persist.c -- h5tier_persist and h5tier_persist_to: options, the
 * run in stages (groups and named types, datasets, data, attributes,
 * links; or, when a source group tracks link creation order, every object
 * and link in one pass in the source's order, then data and attributes),
 * and the atomic destination file (O_EXCL temporary in the target
 * directory, fsync, rename, directory fsync; removed on any failure).
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/persist_internal.h"

void h5tier_persist_opts_init(h5tier_persist_opts_t *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->compact_below = H5TIER_PERSIST_COMPACT_BELOW;
    opts->contiguous_max = H5TIER_PERSIST_CONTIGUOUS_MAX;
    opts->chunk_bytes = H5TIER_PERSIST_CHUNK_BYTES;
    opts->compress_level = -1;
    opts->memory = H5TIER_PERSIST_MEMORY;
}

static int check_opts(h5tier__pctx_t *ctx, const h5tier_persist_opts_t *opts)
{
    if (opts)
        ctx->o = *opts;
    else
        h5tier_persist_opts_init(&ctx->o);
    h5tier_persist_opts_t *o = &ctx->o;
    if (o->compact_below > 65000)
        return h5tier__fail(EINVAL, "persist: compact threshold %llu B exceeds the 65000 B that fit in an "
                            "HDF5 object header", (unsigned long long)o->compact_below);
    if (o->compress_level < -1 || o->compress_level > 9)
        return h5tier__fail(EINVAL, "persist: compression level %d is not in 0..9 (or -1 for none)",
                            o->compress_level);
    if (o->nobjects && !o->objects)
        return h5tier__fail(EINVAL, "persist: %zu objects but no object list", o->nobjects);
    if (o->chunk_bytes == 0)
        o->chunk_bytes = H5TIER_PERSIST_CHUNK_BYTES;
    if (o->contiguous_max == 0)
        o->contiguous_max = H5TIER_PERSIST_CONTIGUOUS_MAX;
    if (o->memory == 0)
        o->memory = H5TIER_PERSIST_MEMORY;
    if (o->memory < 4096)
        o->memory = 4096;
    ctx->deflate_ok = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
    ctx->shuffle_ok = H5Zfilter_avail(H5Z_FILTER_SHUFFLE) > 0;
    return 0;
}

static int open_src(h5tier__pctx_t *ctx, hid_t src)
{
    H5I_type_t t = H5Iget_type(src);
    if (t != H5I_FILE && t != H5I_GROUP)
        return h5tier__fail(EINVAL, "persist: the source id is not an open file or group");
    ctx->src = src;
    if ((ctx->src_file = H5Iget_file_id(src)) < 0)
        return h5tier__fail(H5TIER_EHDF5, "persist: cannot get the source's file");
    return 0;
}

static int call_plan(h5tier__pctx_t *ctx, h5tier_persist_plan_t *p)
{
    if (!ctx->o.plan_cb)
        return 0;
    int r = ctx->o.plan_cb(p, ctx->o.arg);
    if (r == 0)
        return 0;
    return h5tier__fail(r > 0 ? r : -r, "persist: stopped by the plan callback at '%s' (%d)", p->path, r);
}

/* A plan for a non-dataset: path shown from the destination root. */
static void simple_plan(h5tier_persist_plan_t *p, const h5tier__pobj_t *ob, char *path, size_t plen)
{
    memset(p, 0, sizeof *p);
    snprintf(path, plen, "/%s", ob->dst);
    p->path = path;
    p->kind = ob->kind;
    p->compress_level = -1;
    p->reason = "";
    p->source = "";
    p->type = "";
    p->target = ob->target ? ob->target : "";
}

/* 1 (and *type, H5O_TYPE_UNKNOWN for a dangling link) if something is at
 * path in the destination, 0 if not. */
static int exists_dst(h5tier__pctx_t *ctx, const char *path, H5O_type_t *type)
{
    if (!path[0] || !h5tier__persist_path_exists(ctx->dst, path))
        return 0;
    H5O_info_t oi;
    herr_t r;
    H5E_BEGIN_TRY { r = H5Oget_info_by_name2(ctx->dst, path, &oi, H5O_INFO_BASIC, H5P_DEFAULT); }
    H5E_END_TRY;
    *type = r < 0 ? H5O_TYPE_UNKNOWN : oi.type;
    return 1;
}

/* Open ob in the source and, if d is not NULL, in the destination too
 * (close both with close_ob). */
static int open_ob(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t *s, hid_t *d)
{
    const char *kind = h5tier_persist_kind_name(ob->kind);
    if (d)
        *d = H5I_INVALID_HID; /* set on every path (GCC 12 -O3 maybe-uninitialized) */
    if ((*s = H5Oopen(ctx->src, ob->src, H5P_DEFAULT)) < 0)
        return h5tier__fail(H5TIER_EHDF5, "%s '%s': cannot open it in the source", kind, ob->src);
    if (d && (*d = H5Oopen(ctx->dst, ob->dst[0] ? ob->dst : ".", H5P_DEFAULT)) < 0) {
        H5Oclose(*s);
        *s = H5I_INVALID_HID;
        return h5tier__fail(H5TIER_EHDF5, "%s '/%s': cannot open it in the destination", kind, ob->dst);
    }
    return 0;
}

static void close_ob(hid_t s, hid_t d)
{
    if (d >= 0)
        H5Oclose(d);
    if (s >= 0)
        H5Oclose(s);
}

/* The group ob in the destination: created (with gcpl), or opened when it
 * is the destination group itself or an intermediate group made earlier. */
static hid_t make_group(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t lcpl, hid_t gcpl)
{
    H5O_type_t et;
    hid_t id;
    if (!ob->dst[0])
        id = H5Gopen2(ctx->dst, ".", H5P_DEFAULT);
    else if (exists_dst(ctx, ob->dst, &et)) {
        if (et != H5O_TYPE_GROUP)
            return h5tier__fail(EEXIST, "group '/%s': the destination already has a non-group there", ob->dst);
        id = H5Gopen2(ctx->dst, ob->dst, H5P_DEFAULT); /* an intermediate group made earlier */
    } else
        id = H5Gcreate2(ctx->dst, ob->dst, lcpl, gcpl, H5P_DEFAULT);
    if (id < 0)
        return h5tier__fail(H5TIER_EHDF5, "group '/%s': cannot create it in the destination", ob->dst);
    return id;
}

/* A copy of the source type st committed (with tcpl) as ob in the
 * destination, or anonymously (see types_ahead). */
static hid_t commit_type(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t st, hid_t lcpl, hid_t tcpl, bool anon)
{
    H5O_type_t et;
    if (!anon && exists_dst(ctx, ob->dst, &et))
        return h5tier__fail(EEXIST, "named datatype '/%s': the destination already has an object there", ob->dst);
    hid_t ct = H5Tcopy(st);
    herr_t r = -1;
    if (ct >= 0)
        r = anon ? H5Tcommit_anon(ctx->dst, ct, tcpl, H5P_DEFAULT)
                 : H5Tcommit2(ctx->dst, ob->dst, ct, lcpl, tcpl, H5P_DEFAULT);
    if (r < 0) {
        if (ct >= 0)
            H5Tclose(ct);
        return h5tier__fail(H5TIER_EHDF5, "named datatype '/%s': cannot commit it in the destination", ob->dst);
    }
    return ct;
}

/* The named type ob, committed ahead, linked at its path; returns it. */
static hid_t link_type(h5tier__pctx_t *ctx, h5tier__pobj_t *ob, hid_t lcpl)
{
    H5O_type_t et;
    if (exists_dst(ctx, ob->dst, &et))
        return h5tier__fail(EEXIST, "named datatype '/%s': the destination already has an object there", ob->dst);
    if (H5Olink(ob->held, ctx->dst, ob->dst, lcpl, H5P_DEFAULT) < 0)
        return h5tier__fail(H5TIER_EHDF5, "named datatype '/%s': cannot link it in the destination", ob->dst);
    hid_t id = ob->held;
    ob->held = H5I_INVALID_HID;
    return id;
}

/* The creation property list for a group or named type: a copy of the
 * run's (ctx->gcpl, ctx->tcpl) with the creation order flags of the source
 * object s; *tracked = 1 if it has some.  Close it. */
static hid_t object_cpl(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t s, int *tracked)
{
    hid_t cpl = H5Pcopy(ob->kind == H5TIER_PERSIST_GROUP ? ctx->gcpl : ctx->tcpl);
    if (cpl < 0)
        return h5tier__fail(H5TIER_EHDF5, "%s '%s': cannot copy a property list", h5tier_persist_kind_name(ob->kind),
                            ob->src);
    if ((*tracked = h5tier__persist_order_copy(s, cpl)) < 0) {
        H5Pclose(cpl);
        return *tracked;
    }
    return cpl;
}

/* Stage 1, one object: a group or named datatype (linked at its path if
 * committed ahead). */
static int structure_one(h5tier__pctx_t *ctx, h5tier__pobj_t *ob, hid_t lcpl, int *count)
{
    char path[4200], tbuf[128];
    h5tier_persist_plan_t p;
    hid_t id = H5I_INVALID_HID, s, cpl = H5I_INVALID_HID;
    int rc = open_ob(ctx, ob, &s, NULL), tracked = 0;
    if (rc < 0)
        return rc;
    simple_plan(&p, ob, path, sizeof path);
    if (ob->kind == H5TIER_PERSIST_DATATYPE) {
        h5tier__persist_type_text(s, tbuf, sizeof tbuf);
        p.type = tbuf;
    }
    if ((cpl = object_cpl(ctx, ob, s, &tracked)) < 0) {
        rc = (int)cpl;
        goto done;
    }
    if (ctx->dst >= 0) { /* not a dry run */
        if (ob->kind == H5TIER_PERSIST_GROUP)
            id = make_group(ctx, ob, lcpl, cpl);
        else
            id = ob->held >= 0 ? link_type(ctx, ob, lcpl) : commit_type(ctx, ob, s, lcpl, cpl, false);
        rc = id < 0 ? (int)id : h5tier__persist_record(ctx, ob, id);
        unsigned links, attrs; /* a group opened, not created, has flags of its own */
        if (rc == 0 && tracked && (rc = h5tier__persist_order_get(id, &links, &attrs)) == 0)
            tracked = (links | attrs) != 0;
    }
    if (tracked && ob->kind == H5TIER_PERSIST_GROUP)
        p.reason = "creation order kept";
    if (rc == 0 && (rc = call_plan(ctx, &p)) == 0)
        (*count)++;
done:
    if (cpl >= 0)
        H5Pclose(cpl);
    if (id >= 0)
        H5Oclose(id);
    close_ob(s, H5I_INVALID_HID);
    return rc;
}

/* With ctx->ordered, every named type is committed anonymously first (its
 * address recorded), so that a dataset listed before its named type still
 * uses it; structure_one links each one at its place in the listing. */
static int types_ahead(h5tier__pctx_t *ctx)
{
    for (size_t i = 0; i < ctx->n; i++) {
        h5tier__pobj_t *ob = &ctx->v[i];
        if (ob->kind != H5TIER_PERSIST_DATATYPE)
            continue;
        hid_t s, cpl = H5I_INVALID_HID;
        int tracked, rc = open_ob(ctx, ob, &s, NULL);
        if (rc < 0)
            return rc;
        if ((cpl = object_cpl(ctx, ob, s, &tracked)) < 0)
            rc = (int)cpl;
        else if ((ob->held = commit_type(ctx, ob, s, H5P_DEFAULT, cpl, true)) < 0) {
            rc = (int)ob->held;
            ob->held = H5I_INVALID_HID;
        } else
            rc = h5tier__persist_record(ctx, ob, ob->held);
        if (cpl >= 0)
            H5Pclose(cpl);
        close_ob(s, H5I_INVALID_HID);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The data bytes of every dataset, for progress (only when reported). */
static int stage_total(h5tier__pctx_t *ctx)
{
    for (size_t i = 0; i < ctx->n; i++) {
        h5tier__pobj_t *ob = &ctx->v[i];
        if (ob->kind != H5TIER_PERSIST_DATASET)
            continue;
        hid_t d, sp = H5I_INVALID_HID, t = H5I_INVALID_HID;
        int rc = open_ob(ctx, ob, &d, NULL);
        if (rc < 0)
            return rc;
        if ((sp = H5Dget_space(d)) >= 0 && (t = H5Dget_type(d)) >= 0) {
            hssize_t n = H5Sget_simple_extent_npoints(sp);
            if (n > 0)
                ctx->total += (uint64_t)n * H5Tget_size(t);
        }
        if (t >= 0)
            H5Tclose(t);
        if (sp >= 0)
            H5Sclose(sp);
        close_ob(d, H5I_INVALID_HID);
    }
    return 0;
}

void h5tier__persist_progress(h5tier__pctx_t *ctx)
{
    if (ctx->o.progress && ctx->total)
        ctx->o.progress(ctx->done < ctx->total ? ctx->done : ctx->total, ctx->total, ctx->o.arg);
}

/* Data and attributes of one dataset; only those attributes holding
 * references are left for later (their targets may not exist yet). */
static int dataset_content(h5tier__pctx_t *ctx, h5tier__pobj_t *ob, hid_t s, hid_t d,
                           const h5tier_persist_plan_t *p, int attr_mode)
{
    uint64_t before = ctx->done;
    int rc = h5tier__persist_dataset_data(ctx, ob, s, d, p);
    if (rc == 0 && h5tier__persist_out_error())
        rc = h5tier__persist_out_fail();
    ctx->done = before + p->bytes;
    if (rc < 0)
        return rc;
    h5tier__persist_progress(ctx);
    rc = h5tier__persist_attrs(ctx, s, d, ob->src, attr_mode);
    if (rc > 0) {
        ob->deferred |= H5TIER__DEFER_ATTRS;
        rc = 0;
    }
    return rc;
}

/* Stage 2, one dataset: plan and create it, and copy its data and
 * attributes right away unless it holds object references. */
static int dataset_one(h5tier__pctx_t *ctx, h5tier__pobj_t *ob, int *count)
{
    char tbuf[128], rbuf[256], sbuf[256], path[4200];
    h5tier_persist_plan_t p;
    hid_t s, d = H5I_INVALID_HID;
    int rc = open_ob(ctx, ob, &s, NULL);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof path, "/%s", ob->dst);
    rc = h5tier__persist_plan_dataset(ctx, s, path, &p, tbuf, sizeof tbuf, rbuf, sizeof rbuf, sbuf, sizeof sbuf);
    if (rc == 0 && ctx->dst >= 0) {
        H5O_type_t et;
        if ((d = h5tier__persist_dataset(ctx, ob, s, &p)) < 0) {
            rc = (int)d;
            if (exists_dst(ctx, ob->dst, &et)) /* the likely reason, named */
                rc = h5tier__fail(EEXIST, "dataset '/%s': the destination already has an object there", ob->dst);
        }
    }
    if (rc == 0)
        rc = call_plan(ctx, &p);
    if (rc == 0) {
        ob->layout = (int)p.layout;
        ob->rank = p.rank;
        ob->bytes = p.bytes;
        (*count)++;
        int plain;
        hid_t t = H5Dget_type(s);
        if (t >= 0 && h5tier__persist_type_refs(t, &plain))
            ob->deferred |= H5TIER__DEFER_DATA;
        if (t >= 0)
            H5Tclose(t);
        if (d >= 0 && !(ob->deferred & H5TIER__DEFER_DATA))
            rc = dataset_content(ctx, ob, s, d, &p, H5TIER__ATTRS_NO_REFS);
    }
    close_ob(s, d);
    return rc;
}

/* Stage 3: what waited for every object to exist (object references). */
static int stage_deferred(h5tier__pctx_t *ctx)
{
    h5tier_persist_plan_t p;
    for (size_t i = 0; i < ctx->n; i++) {
        h5tier__pobj_t *ob = &ctx->v[i];
        if (ob->kind != H5TIER_PERSIST_DATASET || !ob->deferred)
            continue;
        hid_t s, d;
        int rc = open_ob(ctx, ob, &s, &d);
        if (rc < 0)
            return rc;
        memset(&p, 0, sizeof p);
        p.layout = (h5tier_persist_layout_t)ob->layout;
        p.rank = ob->rank;
        p.bytes = ob->bytes;
        if (ob->rank > 0) {
            hid_t sp = H5Dget_space(s);
            if (sp < 0 || H5Sget_simple_extent_dims(sp, p.dims, NULL) != ob->rank)
                rc = h5tier__fail(H5TIER_EHDF5, "dataset '%s': cannot read its extent", ob->src);
            if (sp >= 0)
                H5Sclose(sp);
        }
        if (rc == 0 && (ob->deferred & H5TIER__DEFER_DATA))
            rc = dataset_content(ctx, ob, s, d, &p, H5TIER__ATTRS_ALL);
        else if (rc == 0) {
            rc = h5tier__persist_attrs(ctx, s, d, ob->src, H5TIER__ATTRS_REFS);
            rc = rc > 0 ? 0 : rc;
        }
        close_ob(s, d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Stage 4: attributes of groups and named types (datasets had theirs with
 * their data). */
static int stage_attrs(h5tier__pctx_t *ctx)
{
    for (size_t i = 0; i < ctx->n; i++) {
        h5tier__pobj_t *ob = &ctx->v[i];
        if (ob->kind != H5TIER_PERSIST_GROUP && ob->kind != H5TIER_PERSIST_DATATYPE)
            continue;
        hid_t s, d;
        int rc = open_ob(ctx, ob, &s, &d);
        if (rc < 0)
            return rc;
        rc = h5tier__persist_attrs(ctx, s, d, ob->src, H5TIER__ATTRS_ALL);
        close_ob(s, d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Stage 5, one link: hard, soft or external. */
static int link_one(h5tier__pctx_t *ctx, const h5tier__pobj_t *ob, hid_t lcpl, int *count)
{
    char path[4200], tgt[4200];
    h5tier_persist_plan_t p;
    int rc;
    H5O_type_t et;
    simple_plan(&p, ob, path, sizeof path);
    if (ob->kind == H5TIER_PERSIST_HARD_LINK) {
        snprintf(tgt, sizeof tgt, "/%s", ob->target);
        p.target = tgt;
    } else if (ob->kind == H5TIER_PERSIST_EXTERNAL_LINK) {
        snprintf(tgt, sizeof tgt, "%s:%s", ob->file, ob->target);
        p.target = tgt;
    }
    if (ctx->dst >= 0) {
        herr_t r;
        if (exists_dst(ctx, ob->dst, &et))
            return h5tier__fail(EEXIST, "link '/%s': the destination already has an object there", ob->dst);
        if (ob->kind == H5TIER_PERSIST_HARD_LINK)
            r = H5Lcreate_hard(ctx->dst, ob->target[0] ? ob->target : ".", ctx->dst, ob->dst, lcpl, H5P_DEFAULT);
        else if (ob->kind == H5TIER_PERSIST_SOFT_LINK)
            r = H5Lcreate_soft(ob->target, ctx->dst, ob->dst, lcpl, H5P_DEFAULT);
        else
            r = H5Lcreate_external(ob->file, ob->target, ctx->dst, ob->dst, lcpl, H5P_DEFAULT);
        if (r < 0)
            return h5tier__fail(H5TIER_EHDF5, "%s '/%s' -> '%s': cannot create it in the destination",
                                h5tier_persist_kind_name(ob->kind), ob->dst, p.target);
    }
    if ((rc = call_plan(ctx, &p)) < 0)
        return rc;
    (*count)++;
    return 0;
}

#define KIND(k) (1u << (k))
#define STRUCTURE (KIND(H5TIER_PERSIST_GROUP) | KIND(H5TIER_PERSIST_DATATYPE))
#define LINKS (KIND(H5TIER_PERSIST_HARD_LINK) | KIND(H5TIER_PERSIST_SOFT_LINK) | KIND(H5TIER_PERSIST_EXTERNAL_LINK))

/* Create the listed objects and links of the kinds in the mask, in listing
 * order (stages 1, 2 and 5; all at once with ctx->ordered). */
static int create_kinds(h5tier__pctx_t *ctx, unsigned kinds, hid_t lcpl, int *count)
{
    for (size_t i = 0; i < ctx->n; i++) {
        h5tier__pobj_t *ob = &ctx->v[i];
        int rc = 0;
        if (!(kinds & KIND(ob->kind)))
            continue;
        if (STRUCTURE & KIND(ob->kind))
            rc = structure_one(ctx, ob, lcpl, count);
        else if (ob->kind == H5TIER_PERSIST_DATASET)
            rc = dataset_one(ctx, ob, count);
        else
            rc = link_one(ctx, ob, lcpl, count);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int run(h5tier__pctx_t *ctx)
{
    int rc, count = 0;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    ctx->gcpl = H5Pcreate(H5P_GROUP_CREATE);
    ctx->tcpl = H5Pcreate(H5P_DATATYPE_CREATE);
    /* no modification times in object headers: smaller, and reproducible */
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 || ctx->gcpl < 0 || ctx->tcpl < 0 ||
        H5Pset_obj_track_times(ctx->gcpl, 0) < 0 || H5Pset_obj_track_times(ctx->tcpl, 0) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "persist: cannot create property lists");
        goto done;
    }
    if ((rc = h5tier__persist_collect(ctx)) < 0)
        goto done;
    if (ctx->dst >= 0 && ctx->o.progress && (rc = stage_total(ctx)) < 0)
        goto done;
    if (ctx->ordered) {
        /* each group's links in the source's creation order: one pass in
         * listing order, named types committed ahead for the datasets */
        if ((ctx->dst >= 0 && (rc = types_ahead(ctx)) < 0) ||
            (rc = create_kinds(ctx, STRUCTURE | KIND(H5TIER_PERSIST_DATASET) | LINKS, lcpl, &count)) < 0)
            goto done;
    } else if ((rc = create_kinds(ctx, STRUCTURE, lcpl, &count)) < 0 ||
               (rc = create_kinds(ctx, KIND(H5TIER_PERSIST_DATASET), lcpl, &count)) < 0)
        goto done;
    if (ctx->dst >= 0) {
        if ((rc = stage_deferred(ctx)) < 0)
            goto done;
        if ((rc = stage_attrs(ctx)) < 0)
            goto done;
    }
    if (!ctx->ordered && (rc = create_kinds(ctx, LINKS, lcpl, &count)) < 0)
        goto done;
    rc = count;
done:
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (ctx->gcpl >= 0)
        H5Pclose(ctx->gcpl);
    if (ctx->tcpl >= 0)
        H5Pclose(ctx->tcpl);
    ctx->gcpl = ctx->tcpl = H5I_INVALID_HID;
    return rc;
}

static int persist_to(hid_t src, hid_t dst_group, const h5tier_persist_opts_t *opts)
{
    h5tier__pctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.src_file = H5I_INVALID_HID;
    ctx.dst = H5I_INVALID_HID;
    ctx.gcpl = ctx.tcpl = H5I_INVALID_HID;
    int rc = check_opts(&ctx, opts);
    if (rc < 0)
        goto done;
    if ((rc = open_src(&ctx, src)) < 0)
        goto done;
    if (!ctx.o.dry_run) {
        H5I_type_t t = H5Iget_type(dst_group);
        if (t != H5I_FILE && t != H5I_GROUP) {
            rc = h5tier__fail(EINVAL, "persist: the destination id is not an open file or group");
            goto done;
        }
        ctx.dst = dst_group;
    }
    rc = run(&ctx);
done:
    if (ctx.src_file >= 0)
        H5Fclose(ctx.src_file);
    h5tier__persist_free(&ctx);
    return rc;
}

int h5tier_persist_to(hid_t src, hid_t dst_group, const h5tier_persist_opts_t *opts)
{
    h5tier__persist_out_reset();
    return persist_to(src, dst_group, opts);
}

/* 1 if something (file, directory, symlink, unreadable file) is at path,
 * 0 if nothing, -errno if that cannot be told. */
static int path_taken(const char *path)
{
    int fd = h5tier_sys.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
    if (fd >= 0) {
        h5tier_sys.close(fd);
        return 1;
    }
    int e = errno;
    if (e == ENOENT)
        return 0;
    if (e == ELOOP || e == EACCES || e == EPERM || e == ENXIO || e == ETXTBSY)
        return 1;
    return h5tier__fail(e, "cannot tell whether destination '%s' exists", path);
}

int h5tier_persist(hid_t src, const char *dst_path, const h5tier_persist_opts_t *opts)
{
    char tmp[PATH_MAX], dcopy[PATH_MAX], bcopy[PATH_MAX];
    int rc, made_tmp = 0, fd = -1;
    hid_t fid = H5I_INVALID_HID, root = H5I_INVALID_HID, fapl = H5I_INVALID_HID, fcpl = H5I_INVALID_HID;
    h5tier_persist_opts_t o;
    if (!dst_path || !*dst_path)
        return h5tier__fail(EINVAL, "persist: no destination path");
    if (strlen(dst_path) + 64 >= sizeof tmp)
        return h5tier__fail(ENAMETOOLONG, "persist: destination '%s': path too long", dst_path);
    if (opts)
        o = *opts;
    else
        h5tier_persist_opts_init(&o);
    if (!o.force && (rc = path_taken(dst_path)) != 0)
        return rc < 0 ? rc
                      : h5tier__fail(EEXIST, "destination '%s' already exists (use force / --force to replace it)",
                                     dst_path);
    struct stat dst_st; /* force replaces only a regular file (or a symlink itself) */
    if (o.force && lstat(dst_path, &dst_st) == 0 && (rc = h5tier__check_replaceable(dst_path, &dst_st)) < 0)
        return rc;
    if (o.dry_run)
        return h5tier_persist_to(src, H5I_INVALID_HID, &o);
    h5tier__persist_out_reset();

    strcpy(dcopy, dst_path);
    strcpy(bcopy, dst_path);
    const char *dir = dirname(dcopy), *base = basename(bcopy);
    snprintf(tmp, sizeof tmp, "%s/.%s.h5tier-tmp-%ld", dir, base, (long)getpid());
    {
        /* what a killed persist to the same destination left behind */
        char prefix[NAME_MAX + 32];
        snprintf(prefix, sizeof prefix, ".%s.h5tier-tmp-", base);
        h5tier__remove_stale_tmps(dir, prefix, false);
    }
    fd = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        if (rc == -ENOENT)
            rc = h5tier__fail(ENOENT, "destination directory '%s' does not exist", dir);
        else
            rc = h5tier__fail(-rc, "cannot create the temporary file '%s' for '%s'", tmp, dst_path);
        goto done;
    }
    made_tmp = 1;
    h5tier_sys.close(fd);
    fd = -1;
    if ((fapl = h5tier__persist_out_fapl(o.earliest_format)) < 0) {
        rc = (int)fapl;
        goto done;
    }
    if ((fcpl = H5Pcreate(H5P_FILE_CREATE)) < 0 || H5Pset_obj_track_times(fcpl, 0) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "persist: cannot create a file creation property list");
        goto done;
    }
    /* the root group stands for src: its creation order flags (a bad src
     * is refused below, by persist_to) */
    H5I_type_t st = H5Iget_type(src);
    if ((st == H5I_FILE || st == H5I_GROUP) && (rc = h5tier__persist_order_copy(src, fcpl)) < 0)
        goto done;
    if ((fid = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl)) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "cannot create the HDF5 file '%s'", tmp);
        goto done;
    }
    if ((root = H5Gopen2(fid, "/", H5P_DEFAULT)) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "cannot open the root group of '%s'", tmp);
        goto done;
    }
    o.dry_run = 0;
    if ((rc = persist_to(src, root, &o)) < 0) {
        if (h5tier__persist_out_error()) /* the root cause: a failed write */
            rc = h5tier__persist_out_fail();
        goto done;
    }
    int count = rc;
    H5Gclose(root);
    root = H5I_INVALID_HID;
    herr_t cr = H5Fclose(fid);
    fid = H5I_INVALID_HID;
    if (h5tier__persist_out_error()) {
        rc = h5tier__persist_out_fail(); /* errmsg names the file, offset and errno */
        goto done;
    }
    if (cr < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "closing '%s' failed", tmp);
        goto done;
    }
    if ((fd = h5tier_sys.open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0)) < 0) {
        rc = h5tier__fail(errno, "cannot reopen '%s' to sync it", tmp);
        goto done;
    }
    if ((rc = h5tier__fsync(fd)) < 0) {
        rc = h5tier__fail(-rc, "cannot sync '%s' to disk", tmp);
        goto done;
    }
    h5tier_sys.close(fd);
    fd = -1;
    if (!o.force && (rc = path_taken(dst_path)) != 0) {
        if (rc > 0)
            rc = h5tier__fail(EEXIST, "destination '%s' appeared while persisting (use force to replace it)",
                              dst_path);
        goto done;
    }
    if (o.force && lstat(dst_path, &dst_st) == 0 && (rc = h5tier__check_replaceable(dst_path, &dst_st)) < 0)
        goto done; /* appeared meanwhile */
    bool renamed;
    if ((rc = h5tier__rename_durable(tmp, dst_path, &renamed)) < 0) {
        made_tmp = !renamed;
        rc = renamed ? h5tier__fail(-rc, "persisted '%s' but could not sync its directory", dst_path)
                     : h5tier__fail(-rc, "cannot rename '%s' to '%s'", tmp, dst_path);
        goto done;
    }
    made_tmp = 0;
    rc = count;
done:
    if (fd >= 0)
        h5tier_sys.close(fd);
    if (root >= 0)
        H5Gclose(root);
    if (fid >= 0)
        H5Fclose(fid);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (made_tmp)
        h5tier_sys.unlink(tmp);
    return rc;
}
