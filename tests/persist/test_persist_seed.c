/*
 * Proves seed 001's example 3 ("delaying decisions"): a 2x3 int32 dataset
 * created in a core-driver shadow file (no backing store) chunked
 * 1024x1024 with unlimited dimensions, grown to 200000x300000 and shrunk
 * back to 2x3, persists as a COMPACT dataset in a file of about 2 KiB
 * (h5dump -p shows COMPACT and the data 0..5, maxdims equal to dims),
 * while H5Ocopy of the same dataset keeps the 4 MiB chunk (> 4 MiB file).
 * Also checks the dry-run plan reports "compact" with the source layout,
 * and that the CLI's --dry-run line on a saved copy says the same.
 */
#include <string.h>
#include <sys/stat.h>

#include "h5tier_persist.h"
#include "tutil.h"

static char plan_line[512];
static int plan_cb(const h5tier_persist_plan_t *p, void *arg)
{
    (void)arg;
    if (p->kind == H5TIER_PERSIST_DATASET)
        snprintf(plan_line, sizeof plan_line, "%s %s %s (%s); %s", p->path, p->type,
                 h5tier_persist_layout_name(p->layout), p->reason, p->source);
    return 0;
}

static long long fsize(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

int main(void)
{
    tu_h5_quiet();
    int data[] = {0, 1, 2, 3, 4, 5};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_core(fapl, 1024 * 1024, 0) >= 0);
    hid_t fm = H5Fcreate("core.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(fm >= 0);
    hsize_t dims[2] = {2, 3}, maxd[2] = {H5S_UNLIMITED, H5S_UNLIMITED}, chunk[2] = {1024, 1024};
    hid_t sp = H5Screate_simple(2, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_chunk(dcpl, 2, chunk) >= 0);
    hid_t d = H5Dcreate2(fm, "2x3", H5T_NATIVE_INT32, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    CHECK(H5Dset_extent(d, (hsize_t[]){200, 300}) >= 0);
    CHECK(H5Dset_extent(d, (hsize_t[]){200000, 300000}) >= 0);
    CHECK(H5Dset_extent(d, (hsize_t[]){2, 3}) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);

    /* dry run: the decision and its reason */
    h5tier_persist_opts_t o;
    h5tier_persist_opts_init(&o);
    o.dry_run = 1;
    o.plan_cb = plan_cb;
    const char *out = tu_path("disk.h5");
    CHECK_OK(h5tier_persist(fm, out, &o));
    tu_log("plan: %s", plan_line);
    CHECK(strstr(plan_line, "/2x3 int32 compact (below 60000 B); created chunked 1024x1024 unlimited"));
    CHECK(fsize(out) < 0); /* dry run wrote nothing */

    /* the real thing */
    h5tier_persist_opts_init(&o);
    CHECK(h5tier_persist(fm, out, &o) == 2); /* root group + dataset */
    long long ours = fsize(out);

    /* H5Ocopy keeps the creation properties */
    const char *copy = tu_path("ocopy.h5");
    hid_t fc = H5Fcreate(copy, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Ocopy(fm, "2x3", fc, "2x3", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(fc);
    long long theirs = fsize(copy);
    tu_log("persisted: %lld B, H5Ocopy: %lld B", ours, theirs);
    CHECKF(ours > 0 && ours <= 2600, "persisted file is %lld B, expected about 2 KiB", ours);
    CHECKF(theirs > 4 * 1024 * 1024, "H5Ocopy file is %lld B, expected > 4 MiB", theirs);

    char buf[8192];
    CHECK(tu_sh(buf, sizeof buf, "h5dump -p '%s'", out) == 0);
    CHECKF(strstr(buf, "COMPACT"), "h5dump -p shows no COMPACT layout:\n%s", buf);
    CHECKF(strstr(buf, "( 2, 3 ) / ( 2, 3 )"), "maxdims not fixed:\n%s", buf);
    CHECKF(strstr(buf, "0, 1, 2,") && strstr(buf, "3, 4, 5"), "data differs:\n%s", buf);
    CHECKF(strstr(buf, "H5T_STD_I32LE"), "type differs:\n%s", buf);
    CHECK(tu_sh(NULL, 0, "h5diff '%s' '%s'", out, copy) == 0);

    /* the CLI on a saved image of the shadow file gives the same plan */
    const char *saved = tu_path("shadow.h5");
    CHECK(H5Fflush(fm, H5F_SCOPE_GLOBAL) >= 0); /* 1.10: the image is only complete after a flush */
    ssize_t n = H5Fget_file_image(fm, NULL, 0);
    CHECK(n > 0);
    char *img = malloc((size_t)n);
    CHECK(H5Fget_file_image(fm, img, (size_t)n) == n);
    FILE *fp = fopen(saved, "wb");
    CHECK(fp && fwrite(img, 1, (size_t)n, fp) == (size_t)n && fclose(fp) == 0);
    free(img);
    int st = tu_sh(buf, sizeof buf, "'%s' persist '%s' '%s' --dry-run", tu_cli(), saved, tu_path("cli.h5"));
    CHECKF(st == 0, "CLI exit %d:\n%s", st, buf);
    tu_log("cli: %s", buf);
    CHECKF(strstr(buf, "/2x3  int32 2x3 = 24 B  compact (below 60000 B); created chunked 1024x1024 unlimited"),
           "CLI dry run:\n%s", buf);
    H5Fclose(fm);
    H5Pclose(fapl);
    return 0;
}
