/*
 * Proves that adding a stream to an existing archive copies it with
 * copy_file_range, so on a file system with reflinks (XFS here, on a loop
 * image in a private mount namespace; skipped without root, mkfs.xfs or loop
 * devices) the copy shares the archive's extents instead of duplicating its
 * bytes:
 *   - a 64 MiB archive, held open by a "reader" so its old inode stays
 *     allocated, gets a second stream: the add makes copy_file_range calls
 *     and no pread/pwrite, and the file system's used space grows by less
 *     than 16 MiB (a byte copy needs 64 MiB more);
 *   - the same with copy_file_range failing EXDEV (the buffered fallback)
 *     does grow it by at least the archive's size: the space check can fail;
 *   - both results are read back with h5py: every record of the first stream
 *     intact, the new stream present and empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "h5tier_archive.h"
#include "h5tier_sys.h"
#include "tutil.h"

#define REC 4096u
#define NREC 16384u /* 64 MiB */

static void specs(h5tier_archive_stream_spec_t sp[2], hid_t t)
{
    memset(sp, 0, 2 * sizeof sp[0]);
    sp[0] = (h5tier_archive_stream_spec_t){.path = "/img", .like = H5I_INVALID_HID, .type = t, .rank = 1,
                                           .dims = {REC}};
    sp[1] = sp[0];
    sp[1].path = "/b/img";
}

static double used_mib(const char *dir)
{
    struct statvfs v;
    sync();
    CHECK(statvfs(dir, &v) == 0);
    return (double)(v.f_blocks - v.f_bfree) * (double)v.f_frsize / 1048576.0;
}

/* Create PATH with stream /img, hold it open, add /b/img; returns the growth
 * of the used space in MiB. */
static double add_one(const char *dir, const char *path, int fallback)
{
    hid_t t = H5Tcopy(H5T_NATIVE_UINT8);
    h5tier_archive_stream_spec_t sp[2];
    specs(sp, t);
    h5tier_archive_t *a = NULL;
    CHECK_OK(h5tier_archive_open(path, sp, 1, H5TIER_ARCHIVE_CREATE | H5TIER_ARCHIVE_EXCL, &a));
    unsigned char *rec = malloc((size_t)REC * 256);
    CHECK(rec);
    for (unsigned i = 0; i < NREC; i += 256) {
        for (unsigned k = 0; k < 256; k++)
            memset(rec + (size_t)k * REC, (int)((i + k) & 0xff), REC);
        CHECK_OK(h5tier_archive_append(a, 0, i, rec, 256));
    }
    free(rec);
    CHECK_OK(h5tier_archive_close(a));

    int keep = open(path, O_RDONLY | O_CLOEXEC); /* a reader keeps the old version alive */
    CHECK(keep >= 0);
    double before = used_mib(dir);
    if (fallback)
        CHECK_OK(h5tier_fault_set("copy_file_range", 1, EXDEV, H5TIER_FAULT_PERSIST));
    else
        h5tier_fault_count_start();
    CHECK_OK(h5tier_archive_open(path, sp, 2, 0, &a));
    long cfr = h5tier_fault_calls("copy_file_range"), pw = h5tier_fault_calls("pwrite");
    h5tier_fault_clear();
    CHECK_OK(h5tier_archive_close(a));
    if (fallback)
        CHECKF(cfr == 1 && pw > 0, "fallback: %ld copy_file_range, %ld pwrite calls", cfr, pw);
    else
        CHECKF(cfr >= 1 && pw == 0 && h5tier_fault_calls("pread") <= 0,
               "the copy should go through copy_file_range only: %ld copy_file_range, %ld pwrite", cfr, pw);
    double grew = used_mib(dir) - before;
    close(keep);
    H5Tclose(t);

    char out[4096];
    int st = tu_sh(out, sizeof out,
                   "%s - '%s' <<'EOF'\n"
                   "import sys, h5py, numpy as np\n"
                   "f = h5py.File(sys.argv[1], 'r')\n"
                   "d = f['img']\n"
                   "assert d.shape == (%u, %u), d.shape\n"
                   "for i in range(0, d.shape[0], 997):\n"
                   "    assert (d[i] == (i & 0xff)).all(), i\n"
                   "assert (f['/.h5tier/img/seq'][:] == np.arange(d.shape[0])).all()\n"
                   "assert f['b/img'].shape == (0, %u), f['b/img'].shape\n"
                   "print('ok')\n"
                   "EOF\n",
                   tu_python(), path, NREC, REC, REC);
    CHECKF(st == 0 && strstr(out, "ok"), "%s: h5py check: %s", path, out);
    return grew;
}

static int inner(const char *dir)
{
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/reflink.h5", dir);
    snprintf(p2, sizeof p2, "%s/buffered.h5", dir);
    double shared = add_one(dir, p1, 0), copied = add_one(dir, p2, 1);
    printf("adding a stream to a 64 MiB archive held open: +%.1f MiB with copy_file_range, +%.1f MiB buffered\n",
           shared, copied);
    CHECKF(shared < 16.0, "the copy_file_range copy took %.1f MiB: no reflink", shared);
    CHECKF(copied >= 60.0, "the buffered copy took only %.1f MiB: the space check cannot tell", copied);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "inner"))
        return inner(argv[2]);
    tu_h5_quiet();
    if (!tu_have_h5py())
        tu_skip("no h5py");
    if (geteuid() != 0)
        tu_skip("mounting an XFS loop image needs root");
    if (tu_sh(NULL, 0, "command -v mkfs.xfs && command -v unshare") != 0)
        tu_skip("no mkfs.xfs (Debian package xfsprogs) or unshare");
    char img[4096], dir[4096], out[8192], margs[8300], cargs[4200];
    snprintf(img, sizeof img, "%s", tu_path("xfs.img"));
    snprintf(dir, sizeof dir, "%s", tu_path("xfs"));
    CHECK(tu_sh(out, sizeof out, "rm -f '%s' && truncate -s 512M '%s' && mkdir -p '%s'", img, img, dir) == 0);
    if (tu_sh(out, sizeof out, "mkfs.xfs -q -m reflink=1 '%s'", img) != 0)
        tu_skip("mkfs.xfs with reflinks failed: %s", out);
    snprintf(margs, sizeof margs, "-o loop \"%s\" \"%s\"", img, dir);
    snprintf(cargs, sizeof cargs, "inner \"%s\"", dir);
    int st = tu_in_mount_ns(out, sizeof out, margs, cargs);
    unlink(img);
    if (st == 77)
        tu_skip("cannot mount an XFS loop image here: %s", out);
    CHECKF(st == 0, "inner test exited %d: %s", st, out);
    tu_log("%s", out);
    tu_log("ok");
    return 0;
}
