/*
 * tools/cmd_persist.c -- `h5tier persist SRC DST`: copy chosen objects of an
 * HDF5 file (a disk file or shm:NAME) to a new disk file, each dataset with
 * the layout its final size deserves; --dry-run prints the decisions.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "h5tier.h"
#include "h5tier_persist.h"
#include "h5tier_shm.h"
#include "common/internal.h"

#define CMD "persist"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: h5tier persist SRC DST [options]\n"
            "\n"
            "Copy objects of the HDF5 file SRC (a disk file, or shm:NAME for a file in shared\n"
            "memory) into the new file DST.  Every dataset gets the layout its FINAL extent\n"
            "deserves, not the one it was created with: compact below the threshold, contiguous\n"
            "when fixed-size and modest, chunked (chunks of about 1 MiB shaped from the actual\n"
            "extent) when compressed, kept growable, sparse, or above --contiguous-max.\n"
            "Groups, attributes, named types, fill values, soft/external/hard links and object\n"
            "references are kept, and the creation order of links and attributes where SRC\n"
            "tracks it (h5py track_order=True).  DST is written to a temporary file and\n"
            "renamed into place.\n"
            "\n"
            "options:\n"
            "  --object PATH          persist PATH (a group recursively); repeatable; default: all\n"
            "  --compact-below BYTES  datasets smaller than this become compact (default 60000,\n"
            "                         at most 65000; 0 disables compact)\n"
            "  --contiguous-max BYTES larger fixed-size datasets are chunked (default 256MiB)\n"
            "  --chunk BYTES          target chunk size (default 1MiB)\n"
            "  --compress LEVEL       deflate (0-9) + shuffle on every non-compact dataset\n"
            "  --keep-growable        keep unlimited maximum dimensions (chunked)\n"
            "  --memory BYTES         slab buffer budget (default 64MiB)\n"
            "  --force                replace DST if it exists\n"
            "  --dry-run              print the layout chosen per object and why; write nothing\n"
            "  -v, --verbose          print the decisions while persisting\n"
            "  -h, --help             this text\n"
            "\n"
            "examples:\n"
            "  h5tier persist shm:run1 results.h5 --dry-run\n"
            "  h5tier persist shm:run1 results.h5 --object /final --object /meta\n"
            "  h5tier persist scratch.h5 small.h5 --compress 4 --force\n"
            "\n"
            "dry-run line format: PATH  TYPE DIMS = BYTES  LAYOUT (reason); how the source was created\n");
}

static void dims_text(char *buf, size_t len, int rank, const hsize_t *d)
{
    size_t k = 0;
    buf[0] = 0;
    if (rank < 0) {
        snprintf(buf, len, "null");
        return;
    }
    if (rank == 0) {
        snprintf(buf, len, "scalar");
        return;
    }
    for (int i = 0; i < rank && k < len; i++) {
        if (d[i] == H5S_UNLIMITED)
            k += (size_t)snprintf(buf + k, len - k, "%sinf", i ? "x" : "");
        else
            k += (size_t)snprintf(buf + k, len - k, "%s%" PRIuMAX, i ? "x" : "", (uintmax_t)d[i]);
    }
}

static int print_plan(const h5tier_persist_plan_t *p, void *arg)
{
    (void)arg;
    char d[256], c[256], m[256], ep[4096], et[4096];
    /* object names and link targets come from the file: printed escaped */
    const char *path = h5tier__esc(p->path, (size_t)-1, ep, sizeof ep);
    switch (p->kind) {
    case H5TIER_PERSIST_DATASET:
        dims_text(d, sizeof d, p->rank, p->dims);
        printf("%s  %s %s = %" PRIu64 " B  %s", path, p->type, d, p->bytes,
               h5tier_persist_layout_name(p->layout));
        if (p->layout == H5TIER_LAYOUT_CHUNKED) {
            dims_text(c, sizeof c, p->rank, p->chunk);
            printf(" %s", c);
            int grow = 0;
            for (int i = 0; i < p->rank; i++)
                grow |= p->maxdims[i] != p->dims[i];
            if (grow) {
                dims_text(m, sizeof m, p->rank, p->maxdims);
                printf(" max %s", m);
            }
            if (p->compress_level >= 0)
                printf(" deflate %d%s", p->compress_level, p->shuffle ? " shuffle" : "");
        }
        printf(" (%s); %s\n", p->reason, p->source);
        break;
    case H5TIER_PERSIST_DATATYPE: printf("%s  named datatype %s\n", path, p->type); break;
    case H5TIER_PERSIST_GROUP: /* reason: "creation order kept" or "" */
        printf("%s  group%s%s%s\n", path, p->reason[0] ? " (" : "", p->reason, p->reason[0] ? ")" : "");
        break;
    default: printf("%s  %s -> %s\n", path, h5tier_persist_kind_name(p->kind), h5tier__esc(p->target, (size_t)-1, et, sizeof et)); break;
    }
    return 0;
}

static hid_t open_source(const char *src, int *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = H5I_INVALID_HID;
    *err = 0;
    if (fapl < 0) {
        *err = -H5TIER_EHDF5;
        return H5I_INVALID_HID;
    }
    const char *path = src;
    if (!strncmp(src, "shm:", 4)) {
        /* a reader of the shm object: H5F_ACC_RDONLY maps it read-only */
        h5tier_shm_info_t info;
        int r = h5tier_shm_info(src + 4, &info);
        if (r < 0) {
            *err = r;
            goto done;
        }
        if (!info.is_hdf5) {
            *err = -H5TIER_ENOTHDF5;
            goto done;
        }
        h5tier_shm_config_t cfg;
        h5tier_shm_config_init(&cfg);
        snprintf(cfg.name, sizeof cfg.name, "%s", src + 4);
        if (H5Pset_fapl_shm(fapl, &cfg) < 0) {
            *err = -EINVAL;
            goto done;
        }
        path = src + 4;
    } else {
        struct stat st;
        if (stat(src, &st) < 0) {
            *err = -errno;
            goto done;
        }
        if (H5Fis_hdf5(src) <= 0) {
            *err = -H5TIER_ENOTHDF5;
            goto done;
        }
    }
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0)
        *err = -H5TIER_EHDF5;
done:
    H5Pclose(fapl);
    return f;
}

static int parse_bytes(const char *opt, const char *text, uint64_t *out)
{
    if (h5tier_parse_size(text, out) < 0)
        return cli_usage(CMD, "%s: '%s' is not a size (try 60000, 64k, 1MiB)", opt, text);
    return 0;
}

int h5tier_cmd_persist(int argc, char **argv)
{
    static const struct option lo[] = {
        {"object", required_argument, 0, 'o'},       {"compact-below", required_argument, 0, 'c'},
        {"contiguous-max", required_argument, 0, 'M'}, {"chunk", required_argument, 0, 'C'},
        {"compress", required_argument, 0, 'z'},     {"keep-growable", no_argument, 0, 'g'},
        {"memory", required_argument, 0, 'm'},       {"force", no_argument, 0, 'f'},
        {"dry-run", no_argument, 0, 'n'},            {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    h5tier_persist_opts_t o;
    h5tier_persist_opts_init(&o);
    const char **objs = calloc((size_t)argc + 1, sizeof *objs);
    size_t nobj = 0;
    int verbose = 0, c, ret = 0;
    hid_t f = H5I_INVALID_HID;
    if (!objs)
        return cli_fail(CMD, -ENOMEM, NULL, "out of memory");
    cli_getopt_t p;
    cli_getopt_begin(&p, CMD, argc, argv, "o:vhfn", lo);
    while ((c = cli_getopt_next(&p)) != -1) {
        const char *val = p.arg;
        char *end;
        switch (c) {
        case 'o': objs[nobj++] = val; break;
        case 'c': if ((ret = parse_bytes("--compact-below", val, &o.compact_below))) goto done; break;
        case 'M': if ((ret = parse_bytes("--contiguous-max", val, &o.contiguous_max))) goto done; break;
        case 'C': if ((ret = parse_bytes("--chunk", val, &o.chunk_bytes))) goto done; break;
        case 'm': if ((ret = parse_bytes("--memory", val, &o.memory))) goto done; break;
        case 'z':
            o.compress_level = (int)strtol(val, &end, 10);
            if (*end || end == val || o.compress_level < 0 || o.compress_level > 9) {
                ret = cli_usage(CMD, "--compress: '%s' is not a level 0..9", val);
                goto done;
            }
            break;
        case 'g': o.keep_growable = 1; break;
        case 'f': o.force = 1; break;
        case 'n': o.dry_run = 1; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); goto done;
        default: ret = 2; goto done; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    int first = p.ind;
    if (argc - first != 2) {
        ret = cli_usage(CMD, "expected SRC and DST, got %d argument%s", argc - first, argc - first == 1 ? "" : "s");
        goto done;
    }
    if (o.compact_below > 65000) {
        ret = cli_usage(CMD, "--compact-below: %" PRIu64 " B does not fit in an HDF5 object header (max 65000)",
                        o.compact_below);
        goto done;
    }
    const char *src = argv[first], *dst = argv[first + 1];
    o.objects = nobj ? objs : NULL;
    o.nobjects = nobj;
    if (o.dry_run || verbose)
        o.plan_cb = print_plan;
    if (isatty(STDERR_FILENO)) /* the bar costs a pass over the datasets for the total */
        o.progress = cli_progress;
    o.arg = (void *)"persist";
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int err;
    if ((f = open_source(src, &err)) < 0) {
        const char *hint = err == -ENOENT            ? "check the path; for shared memory use shm:NAME (see 'h5tier shm ls')"
                           : err == -H5TIER_ENOTHDF5 ? "SRC must be an HDF5 file"
                                                     : "is SRC a readable HDF5 file?";
        char es[4096 * 4 + 8];
        ret = cli_fail(CMD, err, hint, "cannot open source '%s'", h5tier__esc(src, (size_t)-1, es, sizeof es));
        goto done;
    }
    int r = h5tier_persist(f, dst, &o);
    if (r < 0) {
        char dcopy[4096];
        snprintf(dcopy, sizeof dcopy, "%s", dst);
        struct stat dst_dir;
        int no_dir = r == -ENOENT && !o.dry_run && stat(dirname(dcopy), &dst_dir) < 0;
        const char *hint = r == -EEXIST && strstr(h5tier_errmsg(), "temporary")
                               ? "that temporary name is taken (left by another process, or planted by another "
                                 "user: it is never followed nor overwritten): retry, and look at who owns it"
                           : r == -EEXIST  ? "use --force to replace the destination"
                           : no_dir        ? "create the destination directory first (mkdir -p)"
                           : r == -EINVAL && strstr(h5tier_errmsg(), "not a regular file")
                                           ? "--force replaces only a regular file: give a new file name as DST"
                           : r == -ENOENT  ? "check the --object paths with 'h5ls -r SRC'"
                           : r == -ENOTSUP ? "leave that object out with --object for the others"
                           : r == -H5TIER_ESCHEMA ? "persist the referenced object too (add --object)"
                                                  : NULL;
        char es[4096 * 4 + 8], ed[4096 * 4 + 8];
        ret = cli_fail(CMD, r, hint, "%s '%s' -> '%s'", o.dry_run ? "planning" : "persisting",
                       h5tier__esc(src, (size_t)-1, es, sizeof es), h5tier__esc(dst, (size_t)-1, ed, sizeof ed));
        goto done;
    }
    if (!o.dry_run) {
        struct stat st;
        char b[32];
        if (stat(dst, &st) == 0)
        {
            char ed[4096 * 4 + 8];
            fprintf(stderr, "h5tier persist: %d objects -> %s (%s)\n", r, h5tier__esc(dst, (size_t)-1, ed, sizeof ed),
                    h5tier_format_size((uint64_t)st.st_size, b, sizeof b));
        }
    } else {
        printf("dry run: %d objects, nothing written\n", r);
    }
done:
    if (f >= 0)
        H5Fclose(f);
    free(objs);
    return ret;
}
