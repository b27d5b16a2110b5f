/*
 * Proves the shm driver accepts HDF5 files with a userblock (as rings and
 * h5py's userblock_size make them): the superblock's end-of-file address is
 * absolute, so a complete file with an 8 KiB userblock opens read-only and
 * through h5dump, while the same file cut short is still refused as
 * truncated with a message naming the object and both sizes.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shmtest.h"

int main(void)
{
    char *name = tu_shm_name("ublock");
    hid_t fapl = st_fapl(name, 0, H5TIER_SHM_KEEP), fcpl = H5Pcreate(H5P_FILE_CREATE);
    CHECK(H5Pset_userblock(fcpl, 8192) >= 0);
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, fcpl, fapl);
    CHECK(f >= 0);
    int data[4] = {1, 2, 3, 4};
    hsize_t dims = 4;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t d = H5Dcreate2(f, "x", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    CHECK(H5Fclose(f) >= 0);

    /* reopen read-only through the driver: the userblock must not count twice */
    f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    CHECKF(f >= 0, "a complete file with a userblock was refused: %s", h5tier_errmsg());
    int back[4] = {0};
    d = H5Dopen2(f, "x", H5P_DEFAULT);
    CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    CHECK(!memcmp(data, back, sizeof data));
    H5Dclose(d);
    hsize_t ub = 0;
    hid_t cp = H5Fget_create_plist(f);
    CHECK(H5Pget_userblock(cp, &ub) >= 0 && ub == 8192);
    H5Pclose(cp);
    H5Fclose(f);
    char out[8192];
    CHECKF(tu_sh(out, sizeof out, "h5dump -d /x /dev/shm/%s", name) == 0, "h5dump: %s", out);
    CHECK(strstr(out, "1, 2, 3, 4") != NULL);

    /* cut it short (no writer or reader holds it): refused as truncated */
    char path[300];
    snprintf(path, sizeof path, "/%s", name);
    int fd = shm_open(path, O_RDWR, 0);
    CHECK(fd >= 0);
    off_t len = lseek(fd, 0, SEEK_END);
    CHECK(len > 8192 + 100 && ftruncate(fd, len - 100) == 0);
    close(fd);
    tu_h5_quiet();
    f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    CHECK(f < 0);
    CHECKF(strstr(h5tier_errmsg(), "truncated") && strstr(h5tier_errmsg(), name), "errmsg: %s", h5tier_errmsg());
    H5Pclose(fcpl);
    H5Pclose(fapl);
    free(name);
    tu_log("userblock ok");
    return 0;
}
