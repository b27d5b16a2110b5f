/*
 * Proves the seed 001 examples work with the shm driver: (1) a 2x3 int
 * dataset written into a memory file; with on_close UNLINK nothing remains in
 * /dev/shm, with KEEP `h5dump /dev/shm/NAME` shows the data and h5py reads it
 * unmodified; the file reopens read-only with the same values; (2) H5Ocopy
 * from the shm file to a disk file, checked with h5diff against the original.
 */
#include <string.h>
#include <unistd.h>

#include "shmtest.h"

static const int data[6] = {0, 1, 2, 3, 4, 5};

/* <<make-2D-dataset>> of the seed. */
static hid_t make_2d(hid_t file, const char *name)
{
    hid_t space = H5Screate_simple(2, (hsize_t[]){2, 3}, NULL);
    hid_t dset = H5Dcreate2(file, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(dset >= 0);
    CHECK(H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Sclose(space);
    return dset;
}

static void check_2d(hid_t file, const char *name)
{
    int got[6] = {-1, -1, -1, -1, -1, -1};
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    CHECK(d >= 0);
    CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    CHECK(memcmp(got, data, sizeof data) == 0);
    H5Dclose(d);
}

static void example1_unlink(void)
{
    char *name = tu_shm_name("basic-u");
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_UNLINK);
    hid_t file = H5Fcreate("core.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    H5Dclose(make_2d(file, "2x3"));
    hsize_t size = 0;
    CHECK(H5Fget_filesize(file, &size) >= 0);
    tu_log("example 1 (unlink): file size %llu bytes", (unsigned long long)size);
    CHECK(size > 0 && size < 1 << 20);
    CHECK(st_shm_exists(name));
    CHECK(H5Fclose(file) >= 0);
    CHECK(!st_shm_exists(name));
    char ctl[300];
    snprintf(ctl, sizeof ctl, ".%s.h5tier", name);
    CHECK(!st_shm_exists(ctl));
    /* and the file name given to H5Fcreate did not become a disk file */
    CHECK(access("core.h5", F_OK) != 0);
    H5Pclose(fapl);
    free(name);
}

static void example1_keep(void)
{
    char *name = tu_shm_name("basic-k");
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t file = H5Fcreate("core.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    H5Dclose(make_2d(file, "2x3"));
    CHECK(H5Fclose(file) >= 0);
    CHECK(st_shm_exists(name));

    char out[8192];
    int st = tu_sh(out, sizeof out, "h5dump /dev/shm/%s", name);
    CHECKF(st == 0, "h5dump failed (%d): %s", st, out);
    CHECKF(strstr(out, "DATASET \"2x3\"") && strstr(out, "(0,0): 0, 1, 2,") && strstr(out, "(1,0): 3, 4, 5"),
           "h5dump output: %s", out);
    struct stat sst;
    char p[512];
    snprintf(p, sizeof p, "/dev/shm/%s", name);
    CHECK(stat(p, &sst) == 0);
    CHECKF((sst.st_mode & 0777) == 0600, "mode %o", (unsigned)(sst.st_mode & 0777));
    tu_log("example 1 (keep): /dev/shm/%s is %lld bytes after close", name, (long long)sst.st_size);
    if (tu_have_h5py()) {
        st = tu_sh(out, sizeof out, "%s -c \"import h5py; f=h5py.File('/dev/shm/%s','r'); print(f['2x3'][()].tolist())\"",
                   tu_python(), name);
        CHECKF(st == 0 && strstr(out, "[[0, 1, 2], [3, 4, 5]]"), "h5py: %s", out);
    } else
        tu_log("h5py not available: skipped the h5py check");

    /* reopen read-only through the driver (name derived from the file name) */
    hid_t rfapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_shm(rfapl, NULL) >= 0);
    char fname[300];
    snprintf(fname, sizeof fname, "shm:%s", name);
    file = H5Fopen(fname, H5F_ACC_RDONLY, rfapl);
    CHECK(file >= 0);
    check_2d(file, "2x3");
    CHECK(H5Fclose(file) >= 0);
    /* and through "/dev/shm/NAME" read-write, adding a dataset */
    snprintf(fname, sizeof fname, "/dev/shm/%s", name);
    file = H5Fopen(fname, H5F_ACC_RDWR, rfapl);
    CHECK(file >= 0);
    H5Dclose(make_2d(file, "again"));
    CHECK(H5Fclose(file) >= 0);
    st = tu_sh(out, sizeof out, "h5ls /dev/shm/%s", name);
    CHECKF(st == 0 && strstr(out, "2x3") && strstr(out, "again"), "h5ls: %s", out);
    H5Pclose(rfapl);
    H5Pclose(fapl);
    free(name);
}

static void example2_copy(void)
{
    char *name = tu_shm_name("basic-c");
    const char *disk = tu_path("disk.h5");
    hid_t file_d = H5Fcreate(disk, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(file_d >= 0);
    hid_t fapl = st_fapl(name, 4096, H5TIER_SHM_UNLINK);
    hid_t file_m = H5Fcreate("core.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file_m >= 0);
    H5Dclose(make_2d(file_m, "2x3"));
    hsize_t size = 0;
    CHECK(H5Fget_filesize(file_m, &size) >= 0);
    tu_log("example 2: memory file size %llu bytes", (unsigned long long)size);
    CHECK(H5Ocopy(file_m, "2x3", file_d, "2x3copy", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    CHECK(H5Fclose(file_m) >= 0);
    CHECK(!st_shm_exists(name));
    CHECK(H5Fclose(file_d) >= 0);

    /* the original data, written with sec2, to diff against */
    const char *orig = tu_path("orig.h5");
    hid_t fo = H5Fcreate(orig, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(make_2d(fo, "2x3"));
    H5Fclose(fo);
    char out[4096];
    int st = tu_sh(out, sizeof out, "h5diff -r %s %s /2x3copy /2x3", disk, orig);
    CHECKF(st == 0, "h5diff (%d): %s", st, out);
    H5Pclose(fapl);
    free(name);
}

int main(void)
{
    example1_unlink();
    example1_keep();
    example2_copy();
    tu_log("ok");
    return 0;
}
