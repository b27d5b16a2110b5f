/*
 * ring/schema.c -- what a stream holds: type specs ("u2[1024,1024]",
 * "{seq:u8,ts:f8,adc:u2[16]}") parsed into HDF5 types, schemas taken from an
 * existing dataset (--like FILE.h5:/path), and attribute copies from the
 * source onto the ring's dataset.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring/ring_internal.h"

void h5tier_ring_stream_spec_init(h5tier_ring_stream_spec_t *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->type = H5I_INVALID_HID;
    spec->attr_source = H5I_INVALID_HID;
}

void h5tier_ring_stream_spec_free(h5tier_ring_stream_spec_t *spec)
{
    if (spec->owns_ids) {
        if (spec->type > 0 && H5Iis_valid(spec->type) > 0)
            H5Tclose(spec->type);
        if (spec->attr_source > 0 && H5Iis_valid(spec->attr_source) > 0) {
            hid_t f = H5Iget_file_id(spec->attr_source);
            H5Oclose(spec->attr_source);
            if (f >= 0) {
                H5Fclose(f); /* the reference H5Iget_file_id added */
                H5Fclose(f); /* the open of stream_from_like */
            }
        }
    }
    h5tier_ring_stream_spec_init(spec);
}

uint64_t h5tier_ring_spec_record_size(const h5tier_ring_stream_spec_t *spec)
{
    if (spec->type <= 0)
        return 0;
    size_t es = H5Tget_size(spec->type);
    if (es == 0)
        return 0;
    uint64_t n = es;
    for (int k = 0; k < spec->rank && k < H5TIER_RING_MAX_RANK; k++) {
        if (spec->dims[k] == 0 || n * spec->dims[k] / spec->dims[k] != n)
            return 0;
        n *= spec->dims[k];
    }
    return n;
}

/* ---- the type spec parser ---------------------------------------------------------- */

typedef struct parser {
    const char *text;
    const char *p;
    int err;
} parser_t;

static void skip_ws(parser_t *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static int perr(parser_t *ps, const char *what)
{
    if (!ps->err)
        ps->err = h5tier__fail(EINVAL, "type spec '%s': %s at position %d ('%.10s')", ps->text, what,
                               (int)(ps->p - ps->text), ps->p);
    return ps->err;
}

/* shape := '[' N (',' N)* ']' ; returns rank (0 if no shape) */
static int parse_shape(parser_t *ps, hsize_t *dims)
{
    skip_ws(ps);
    if (*ps->p != '[')
        return 0;
    ps->p++;
    int rank = 0;
    for (;;) {
        skip_ws(ps);
        if (!isdigit((unsigned char)*ps->p))
            return perr(ps, "expected a dimension");
        char *end;
        unsigned long long v = strtoull(ps->p, &end, 10);
        if (v == 0 || v > (1ull << 40))
            return perr(ps, "dimension out of range (1 .. 2^40)");
        if (rank >= H5TIER_RING_MAX_RANK) {
            ps->err = h5tier__fail(ERANGE, "type spec '%s': more than %d dimensions", ps->text, H5TIER_RING_MAX_RANK);
            return ps->err;
        }
        dims[rank++] = v;
        ps->p = end;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == ']') {
            ps->p++;
            return rank;
        }
        return perr(ps, "expected ',' or ']' in a shape");
    }
}

static hid_t parse_type(parser_t *ps);

static hid_t parse_base(parser_t *ps)
{
    skip_ws(ps);
    int big = 0;
    if (*ps->p == '<' || *ps->p == '=') {
        ps->p++;
    } else if (*ps->p == '>') {
        big = 1;
        ps->p++;
    }
    char kind = *ps->p;
    if (kind != 'i' && kind != 'u' && kind != 'f') {
        perr(ps, "expected a type (i1 i2 i4 i8 u1 u2 u4 u8 f4 f8, or {...})");
        return H5I_INVALID_HID;
    }
    ps->p++;
    int bytes = 0; /* any width but 1, 2, 4, 8 is refused below; cap it so "u99999999999" cannot overflow */
    while (isdigit((unsigned char)*ps->p)) {
        if (bytes < 1000)
            bytes = bytes * 10 + (*ps->p - '0');
        ps->p++;
    }
    hid_t base = H5I_INVALID_HID;
    if (kind == 'f') {
        if (bytes == 4)
            base = big ? H5T_IEEE_F32BE : H5T_IEEE_F32LE;
        else if (bytes == 8)
            base = big ? H5T_IEEE_F64BE : H5T_IEEE_F64LE;
    } else {
        static const struct {
            int b;
            hid_t *le_i, *be_i, *le_u, *be_u;
        } tab[] = {{1, &H5T_STD_I8LE_g, &H5T_STD_I8BE_g, &H5T_STD_U8LE_g, &H5T_STD_U8BE_g},
                   {2, &H5T_STD_I16LE_g, &H5T_STD_I16BE_g, &H5T_STD_U16LE_g, &H5T_STD_U16BE_g},
                   {4, &H5T_STD_I32LE_g, &H5T_STD_I32BE_g, &H5T_STD_U32LE_g, &H5T_STD_U32BE_g},
                   {8, &H5T_STD_I64LE_g, &H5T_STD_I64BE_g, &H5T_STD_U64LE_g, &H5T_STD_U64BE_g}};
        (void)H5T_STD_I8LE; /* make sure the library is initialised (the macros call H5open) */
        for (size_t k = 0; k < sizeof tab / sizeof tab[0]; k++)
            if (tab[k].b == bytes)
                base = kind == 'i' ? *(big ? tab[k].be_i : tab[k].le_i) : *(big ? tab[k].be_u : tab[k].le_u);
    }
    if (base < 0) {
        perr(ps, "unknown size for this kind (integers: 1 2 4 8 bytes, floats: 4 8)");
        return H5I_INVALID_HID;
    }
    return H5Tcopy(base);
}

/* fields until `close` (0 for a top-level list "u8,f4[4]": numpy names f0, f1, ...) */
static hid_t parse_fields(parser_t *ps, char close)
{
    hid_t types[256];
    char names[256][64];
    int n = 0;
    hid_t ct = H5I_INVALID_HID;
    for (;;) {
        skip_ws(ps);
        if (n >= 256) {
            perr(ps, "more than 256 fields");
            goto done;
        }
        if (close) {
            const char *s = ps->p;
            while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
                ps->p++;
            size_t len = (size_t)(ps->p - s);
            if (len == 0 || len >= sizeof names[0]) {
                perr(ps, "expected a field name");
                goto done;
            }
            memcpy(names[n], s, len);
            names[n][len] = 0;
            for (int k = 0; k < n; k++)
                if (!strcmp(names[k], names[n])) {
                    perr(ps, "duplicate field name");
                    goto done;
                }
            skip_ws(ps);
            if (*ps->p != ':') {
                perr(ps, "expected ':' after a field name");
                goto done;
            }
            ps->p++;
        } else {
            snprintf(names[n], sizeof names[n], "f%d", n);
        }
        hid_t t = parse_type(ps);
        if (t < 0)
            goto done;
        hsize_t dims[H5TIER_RING_MAX_RANK];
        int rank = parse_shape(ps, dims);
        if (rank < 0) {
            H5Tclose(t);
            goto done;
        }
        if (rank > 0) {
            hid_t at = H5Tarray_create2(t, (unsigned)rank, dims);
            H5Tclose(t);
            if (at < 0) {
                perr(ps, "cannot make an array member");
                goto done;
            }
            t = at;
        }
        types[n++] = t;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (close && *ps->p == close) {
            ps->p++;
            break;
        }
        if (!close && *ps->p == 0)
            break;
        perr(ps, close ? "expected ',' or '}'" : "expected ','");
        goto done;
    }
    size_t total = 0;
    for (int k = 0; k < n; k++)
        total += H5Tget_size(types[k]);
    ct = H5Tcreate(H5T_COMPOUND, total);
    size_t off = 0;
    for (int k = 0; k < n && ct >= 0; k++) {
        if (H5Tinsert(ct, names[k], off, types[k]) < 0) {
            H5Tclose(ct);
            ct = H5I_INVALID_HID;
            perr(ps, "cannot build the compound type");
        }
        off += H5Tget_size(types[k]);
    }
done:
    for (int k = 0; k < n; k++)
        H5Tclose(types[k]);
    return ct;
}

static hid_t parse_type(parser_t *ps)
{
    skip_ws(ps);
    if (*ps->p == '{') {
        ps->p++;
        return parse_fields(ps, '}');
    }
    return parse_base(ps);
}

/* A spec's capacity must be a power of two >= 2; on failure the spec is freed. */
static int check_capacity(h5tier_ring_stream_spec_t *spec, uint64_t capacity)
{
    if (capacity >= 2 && (capacity & (capacity - 1)) == 0)
        return 0;
    h5tier_ring_stream_spec_free(spec);
    return h5tier__fail(ERANGE, "capacity %llu is not a power of two >= 2", (unsigned long long)capacity);
}

int h5tier_ring_stream_from_dtype(h5tier_ring_stream_spec_t *spec, const char *name, const char *dtype,
                                  uint64_t capacity)
{
    h5tier_ring_stream_spec_init(spec);
    if (!dtype || !*dtype)
        return h5tier__fail(EINVAL, "type spec is empty (examples: u8, f4[4], u2[1024,1024], {seq:u8,ts:f8})");
    int r = h5tier__ring_check_stream_name(name ? name : "data");
    if (r < 0)
        return r;
    parser_t ps = {dtype, dtype, 0};
    hid_t t;
    /* a top-level comma outside brackets/braces means a numpy-style field list */
    int depth = 0, comma = 0;
    for (const char *c = dtype; *c; c++) {
        if (*c == '[' || *c == '{')
            depth++;
        else if (*c == ']' || *c == '}')
            depth--;
        else if (*c == ',' && depth == 0)
            comma = 1;
    }
    if (comma)
        t = parse_fields(&ps, 0);
    else
        t = parse_type(&ps);
    if (t < 0)
        return ps.err ? ps.err : perr(&ps, "bad type");
    spec->type = t;
    spec->owns_ids = 1;
    if (!comma) {
        spec->rank = parse_shape(&ps, spec->dims);
        if (spec->rank < 0) {
            r = spec->rank;
            spec->rank = 0;
            h5tier_ring_stream_spec_free(spec);
            return r;
        }
    }
    skip_ws(&ps);
    if (*ps.p) {
        r = perr(&ps, "unexpected text after the type");
        h5tier_ring_stream_spec_free(spec);
        return r;
    }
    snprintf(spec->name, sizeof spec->name, "%s", name ? ring__spath(name) : "data");
    spec->capacity = capacity;
    if ((r = check_capacity(spec, capacity)) < 0)
        return r;
    if (h5tier_ring_spec_record_size(spec) == 0 || h5tier_ring_spec_record_size(spec) > (UINT64_C(1) << 40)) {
        h5tier_ring_stream_spec_free(spec);
        return h5tier__fail(ERANGE, "type spec '%s': record size out of range", dtype);
    }
    return 0;
}

int h5tier_ring_stream_from_like(h5tier_ring_stream_spec_t *spec, const char *name, const char *like,
                                 uint64_t capacity)
{
    h5tier_ring_stream_spec_init(spec);
    const char *colon = like ? strrchr(like, ':') : NULL;
    if (!colon || colon == like || !colon[1])
        return h5tier__fail(EINVAL, "--like '%s': expected FILE.h5:/path/to/dataset", like ? like : "");
    char file[4096];
    if ((size_t)(colon - like) >= sizeof file)
        return h5tier__fail(ENAMETOOLONG, "--like '%s': file name too long", like);
    memcpy(file, like, (size_t)(colon - like));
    file[colon - like] = 0;
    const char *path = colon + 1;
    const char *sname = name ? name : ring__spath(path); /* the stream keeps the dataset's path */
    int r = h5tier__ring_check_stream_name(sname);
    if (r < 0)
        return r;
    if (access(file, R_OK) < 0)
        return h5tier__fail(errno, "--like '%s': cannot read %s: %s", like, file, strerror(errno));
    htri_t is = H5Fis_hdf5(file);
    if (is <= 0)
        return h5tier__fail(H5TIER_ENOTHDF5, "--like '%s': %s is not an HDF5 file", like, file);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return h5tier__fail(H5TIER_EHDF5, "--like '%s': cannot open %s", like, file);
    hid_t d = H5I_INVALID_HID, sp = H5I_INVALID_HID, t = H5I_INVALID_HID;
    if (H5Lexists(f, path, H5P_DEFAULT) <= 0) {
        r = h5tier__fail(ENOENT, "--like '%s': no object %s in %s", like, path, file);
        goto fail;
    }
    d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) {
        r = h5tier__fail(EINVAL, "--like '%s': %s is not a dataset", like, path);
        goto fail;
    }
    t = H5Dget_type(d);
    sp = H5Dget_space(d);
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (t < 0 || nd < 0) {
        r = h5tier__fail(H5TIER_EHDF5, "--like '%s': cannot read the type and shape", like);
        goto fail;
    }
    if (nd < 1) {
        r = h5tier__fail(EINVAL, "--like '%s': a scalar dataset has no record axis (its first dimension)", like);
        goto fail;
    }
    if (nd - 1 > H5TIER_RING_MAX_RANK) {
        r = h5tier__fail(ERANGE, "--like '%s': records of rank %d (at most %d)", like, nd - 1, H5TIER_RING_MAX_RANK);
        goto fail;
    }
    if (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0) {
        r = h5tier__fail(H5TIER_ESCHEMA, "--like '%s': variable-length type: ring records need a fixed size", like);
        goto fail;
    }
    hsize_t dims[H5TIER_RING_MAX_RANK + 1];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    sp = H5I_INVALID_HID;
    spec->rank = nd - 1;
    for (int k = 1; k < nd; k++)
        spec->dims[k - 1] = dims[k];
    spec->type = t;
    spec->attr_source = d;
    spec->owns_ids = 1;
    spec->capacity = capacity;
    snprintf(spec->name, sizeof spec->name, "%s", ring__spath(sname));
    if ((r = check_capacity(spec, capacity)) < 0)
        return r;
    return 0;
fail:
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (d >= 0)
        H5Dclose(d);
    H5Fclose(f);
    return r;
}

/* ---- attributes ----------------------------------------------------------------------- */

/* Copy one attribute exactly: read and written with its own file type as the
 * memory type, so nothing is converted; variable-length data is reclaimed. */
static herr_t copy_one(hid_t src, const char *aname, const H5A_info_t *ainfo, void *op)
{
    (void)ainfo;
    hid_t dst = *(hid_t *)op;
    herr_t ret = -1;
    if (H5Aexists(dst, aname) > 0)
        return 0; /* kept: a template's attribute already there, or the archiver's own */
    hid_t a = H5Aopen(src, aname, H5P_DEFAULT), t = H5I_INVALID_HID, sp = H5I_INVALID_HID, na = H5I_INVALID_HID;
    void *buf = NULL;
    if (a < 0 || (t = H5Aget_type(a)) < 0 || (sp = H5Aget_space(a)) < 0)
        goto done;
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    size_t sz = H5Tget_size(t) * (size_t)(np > 0 ? np : 1);
    buf = calloc(1, sz ? sz : 1);
    if (!buf || H5Aread(a, t, buf) < 0)
        goto done;
    na = H5Acreate2(dst, aname, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (na >= 0 && H5Awrite(na, t, buf) >= 0)
        ret = 0;
    H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
done:
    free(buf);
    if (na >= 0)
        H5Aclose(na);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    if (ret < 0)
        h5tier__fail(H5TIER_EHDF5, "cannot copy attribute '%s'", aname);
    return ret;
}

int h5tier__ring_copy_attrs(hid_t src, hid_t dst)
{
    hsize_t idx = 0;
    if (H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_one, &dst) < 0)
        return -H5TIER_EHDF5;
    return 0;
}

/* ---- whole files: template -> ring -> archive ------------------------------------------ */

static hid_t lcpl_intermediate(void)
{
    hid_t l = H5Pcreate(H5P_LINK_CREATE);
    if (l >= 0 && H5Pset_create_intermediate_group(l, 1) < 0) {
        H5Pclose(l);
        l = H5I_INVALID_HID;
    }
    return l;
}

/* Open group `path` of dst, creating it (and its parents) if missing. */
static hid_t group_here(hid_t dst, const char *path)
{
    if (!strcmp(path, ".") || !strcmp(path, "/"))
        return H5Gopen2(dst, "/", H5P_DEFAULT);
    htri_t e;
    H5E_BEGIN_TRY { e = H5Lexists(dst, path, H5P_DEFAULT); } H5E_END_TRY;
    if (e > 0)
        return H5Gopen2(dst, path, H5P_DEFAULT);
    hid_t l = lcpl_intermediate();
    hid_t g = l >= 0 ? H5Gcreate2(dst, path, l, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
    if (l >= 0)
        H5Pclose(l);
    return g;
}

typedef struct rest_ctx {
    hid_t dst;
    const char *const *skip;
    unsigned nskip;
    int rc;
} rest_ctx_t;

static herr_t rest_one(hid_t src, const char *name, const H5O_info_t *info, void *op)
{
    rest_ctx_t *c = op;
    if (!strncmp(name, ".h5tier", 7) && (name[7] == 0 || name[7] == '/'))
        return 0; /* an archive's bookkeeping is never user data */
    for (unsigned k = 0; k < c->nskip; k++)
        if (!strcmp(ring__spath(c->skip[k]), name))
            return 0;
    if (info->type == H5O_TYPE_GROUP) {
        hid_t g = group_here(c->dst, name);
        hid_t sg = H5Oopen(src, name, H5P_DEFAULT);
        int r = g >= 0 && sg >= 0 ? h5tier__ring_copy_attrs(sg, g) : -H5TIER_EHDF5;
        if (sg >= 0)
            H5Oclose(sg);
        if (g >= 0)
            H5Gclose(g);
        if (r < 0) {
            c->rc = h5tier__fail(H5TIER_EHDF5, "cannot copy group '/%s' and its attributes",
                                 strcmp(name, ".") ? name : "");
            return -1;
        }
        return 0;
    }
    htri_t e;
    H5E_BEGIN_TRY { e = H5Lexists(c->dst, name, H5P_DEFAULT); } H5E_END_TRY;
    if (e > 0)
        return 0; /* already there (a stream created by the caller, or a second hard link) */
    hid_t l = lcpl_intermediate();
    herr_t r = l >= 0 ? H5Ocopy(src, name, c->dst, name, H5P_DEFAULT, l) : -1;
    if (l >= 0)
        H5Pclose(l);
    if (r < 0) {
        c->rc = h5tier__fail(H5TIER_EHDF5, "cannot copy '/%s' from the template", name);
        return -1;
    }
    return 0;
}

int h5tier__h5_copy_rest(hid_t src, hid_t dst, const char *const *skip, unsigned nskip)
{
    rest_ctx_t c = {dst, skip, nskip, 0};
    if (H5Ovisit(src, H5_INDEX_NAME, H5_ITER_INC, rest_one, &c) < 0 && c.rc == 0)
        c.rc = h5tier__fail(H5TIER_EHDF5, "cannot walk the template file");
    return c.rc;
}

static int copy_group_attrs(hid_t src, const char *gp, hid_t dst)
{
    hid_t sg = H5Oopen(src, gp, H5P_DEFAULT);
    hid_t g = sg >= 0 ? group_here(dst, gp) : H5I_INVALID_HID;
    int r = g >= 0 ? h5tier__ring_copy_attrs(sg, g) : -H5TIER_EHDF5;
    if (g >= 0)
        H5Gclose(g);
    if (sg >= 0)
        H5Oclose(sg);
    return r < 0 ? h5tier__fail(H5TIER_EHDF5, "cannot copy the attributes of group '%s'", gp) : 0;
}

int h5tier__h5_copy_ancestors(hid_t src, const char *src_path, hid_t dst)
{
    char p[1024];
    const char *sp = ring__spath(src_path);
    if (strlen(sp) >= sizeof p)
        return h5tier__fail(ENAMETOOLONG, "path '%s' is too long", src_path);
    snprintf(p, sizeof p, "%s", sp);
    int r = copy_group_attrs(src, "/", dst);
    for (char *s = strchr(p, '/'); s && r == 0; s = strchr(s + 1, '/')) {
        *s = 0;
        r = copy_group_attrs(src, p, dst);
        *s = '/';
    }
    return r;
}

/* ---- a whole template file -------------------------------------------------------------- */

typedef struct tmpl_ctx {
    char (*paths)[H5TIER_RING_STREAM_NAME_MAX + 2];
    unsigned n, max;
    int rc;
} tmpl_ctx_t;

static herr_t tmpl_one(hid_t f, const char *name, const H5O_info_t *info, void *op)
{
    tmpl_ctx_t *c = op;
    if (info->type != H5O_TYPE_DATASET || (!strncmp(name, ".h5tier", 7) && (name[7] == 0 || name[7] == '/')))
        return 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[32], maxd[32];
    int unlimited = nd >= 1 && nd <= 32 && H5Sget_simple_extent_dims(sp, dims, maxd) >= 0 && maxd[0] == H5S_UNLIMITED;
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    if (!unlimited)
        return 0;
    if (c->n >= c->max) {
        c->rc = h5tier__fail(EINVAL, "more than %u datasets with an unlimited first dimension (the ring takes %d "
                             "streams; pick some with --select)", c->max, H5TIER_RING_MAX_STREAMS);
        return -1;
    }
    if (strlen(name) > H5TIER_RING_STREAM_NAME_MAX) {
        c->rc = h5tier__fail(ENAMETOOLONG, "dataset '/%s': stream paths have at most %d characters", name,
                             H5TIER_RING_STREAM_NAME_MAX);
        return -1;
    }
    snprintf(c->paths[c->n++], sizeof c->paths[0], "/%s", name);
    return 0;
}

int h5tier_ring_streams_from_file(const char *file, const char *const *select, unsigned nselect, uint64_t capacity,
                                  h5tier_ring_stream_spec_t *specs, unsigned max)
{
    if (!file || !specs || max == 0 || (nselect && !select))
        return h5tier__fail(EINVAL, "template: need a file name and room for the specs");
    char(*paths)[H5TIER_RING_STREAM_NAME_MAX + 2] = calloc(H5TIER_RING_MAX_STREAMS, sizeof *paths);
    if (!paths)
        return h5tier__fail(ENOMEM, "template '%s'", file);
    unsigned n = 0;
    int r = 0;
    if (nselect) {
        if (nselect > max || nselect > H5TIER_RING_MAX_STREAMS) {
            free(paths);
            return h5tier__fail(EINVAL, "template '%s': %u datasets selected (room for %u)", file, nselect,
                                max < H5TIER_RING_MAX_STREAMS ? max : H5TIER_RING_MAX_STREAMS);
        }
        for (; n < nselect; n++)
            snprintf(paths[n], sizeof paths[0], "/%s", ring__spath(select[n]));
    } else {
        if (access(file, R_OK) < 0) {
            r = h5tier__fail(errno, "template: cannot read %s: %s", file, strerror(errno));
            free(paths);
            return r;
        }
        htri_t is;
        H5E_BEGIN_TRY { is = H5Fis_hdf5(file); } H5E_END_TRY;
        if (is <= 0) {
            free(paths);
            return h5tier__fail(H5TIER_ENOTHDF5, "template: %s is not an HDF5 file", file);
        }
        hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0) {
            free(paths);
            return h5tier__fail(H5TIER_EHDF5, "template: cannot open %s", file);
        }
        tmpl_ctx_t c = {paths, 0, max < H5TIER_RING_MAX_STREAMS ? max : H5TIER_RING_MAX_STREAMS, 0};
        if (H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, tmpl_one, &c) < 0 && c.rc == 0)
            c.rc = h5tier__fail(H5TIER_EHDF5, "template: cannot walk %s", file);
        H5Fclose(f);
        if (c.rc < 0) {
            free(paths);
            return c.rc;
        }
        n = c.n;
        if (n == 0) {
            free(paths);
            return h5tier__fail(EINVAL, "template %s has no dataset with an unlimited first dimension (name the "
                                "streams with --select PATH)", file);
        }
    }
    size_t flen = strlen(file);
    char *like = malloc(flen + H5TIER_RING_STREAM_NAME_MAX + 8);
    if (!like) {
        free(paths);
        return h5tier__fail(ENOMEM, "template '%s'", file);
    }
    unsigned made = 0;
    for (; made < n; made++) {
        sprintf(like, "%s:%s", file, paths[made]);
        r = h5tier_ring_stream_from_like(&specs[made], NULL, like, capacity);
        if (r < 0)
            break;
    }
    free(like);
    free(paths);
    if (r < 0) {
        for (unsigned k = 0; k < made; k++)
            h5tier_ring_stream_spec_free(&specs[k]);
        return r;
    }
    return (int)n;
}
