/*
 * Proves the documented limit of the shm driver (issue 8, item 16, size
 * half): every allocated byte is reserved in memory when the library sets
 * the allocated end (EOA), so an EOA beyond what the shm file system holds
 * -- 1 TiB, or the 3e18 bytes of HDF5's own test/mf.c -- fails, and the
 * error names the requested size (human and exact bytes), the shm
 * directory and its free space, instead of "cannot grow ... (/dev/shm is
 * full)".  After the failure nothing is lost or leaked: the same file takes
 * a normal EOA and a write, closes, and its object is shrunk to its logical
 * end.  Through the HDF5 API: an early-allocated 1 TiB dataset fails
 * H5Dcreate with that message, and the file closes, reopens and dumps
 * (h5dump) with its other dataset intact.  As root, in a private 8 MiB tmpfs
 * mounted at a directory named by H5TIER_SHM_DIR, a 16 MiB EOA fails naming
 * that directory and its 8 MiB.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmtest.h"

static const char *shm_dir(void) { return st_shm_dir(); }

static off_t obj_size(const char *name) { return st_shm_size(name); }

/* H5FD level: an EOA of `eoa` bytes fails with a message holding each of
 * the strings in want (NULL-terminated); the file stays usable. */
static void fd_level(haddr_t eoa, const char *const *want)
{
    char *name = tu_shm_name("eoalim");
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    H5FD_t *w = H5FDopen("x.h5", H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC, fapl, HADDR_UNDEF);
    CHECK(w);
    herr_t r;
    H5E_BEGIN_TRY { r = H5FDset_eoa(w, H5FD_MEM_DEFAULT, eoa); } H5E_END_TRY;
    CHECKF(r < 0, "an EOA of %llu bytes was accepted", (unsigned long long)eoa);
    const char *msg = h5tier_errmsg();
    tu_log("EOA %llu: %s", (unsigned long long)eoa, msg);
    CHECKF(strstr(msg, name), "message does not name the object: %s", msg);
    for (int i = 0; want[i]; i++)
        CHECKF(strstr(msg, want[i]), "message lacks '%s': %s", want[i], msg);
    CHECK(H5FDget_eoa(w, H5FD_MEM_DEFAULT) == 0); /* unchanged */
    /* still usable, and no reservation leaked */
    CHECK(H5FDset_eoa(w, H5FD_MEM_DEFAULT, 8192) >= 0);
    CHECK(H5FDwrite(w, H5FD_MEM_DRAW, H5P_DEFAULT, 4096, 5, "after") >= 0);
    char buf[5];
    CHECK(H5FDread(w, H5FD_MEM_DRAW, H5P_DEFAULT, 4096, 5, buf) >= 0 && !memcmp(buf, "after", 5));
    CHECK(H5FDclose(w) >= 0);
    CHECKF(obj_size(name) == 4101, "object %lld bytes after close, want 4101", (long long)obj_size(name));
    H5Pclose(fapl);
}

static void api_level(void)
{
    char *name = tu_shm_name("eoalim-api");
    hid_t fapl = st_fapl(name, 0, H5TIER_SHM_KEEP);
    hid_t f = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){3}, NULL);
    hid_t d = H5Dcreate2(f, "small", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, (int[]){11, 22, 33}) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0);
    sp = H5Screate_simple(1, (hsize_t[]){(hsize_t)1 << 40}, NULL);
    H5E_BEGIN_TRY { d = H5Dcreate2(f, "huge", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT); } H5E_END_TRY;
    CHECKF(d < 0, "a 1 TiB early-allocated dataset was created in shm");
    const char *es = st_errstack();
    CHECKF(strstr(es, name) && strstr(es, "TiB") && strstr(es, "free of") && strstr(es, shm_dir()), "stack: %s", es);
    tu_log("1 TiB dataset: refused (%s)", h5tier_errmsg());
    H5Sclose(sp);
    H5Pclose(dcpl);
    CHECK(H5Fclose(f) >= 0);
    char out[8192];
    int st = tu_sh(out, sizeof out, "h5dump -d /small '%s'", st_shm_path(name));
    CHECKF(st == 0 && strstr(out, "11, 22, 33"), "h5dump (%d): %s", st, out);
    CHECKF(obj_size(name) < 65536, "object %lld bytes after close", (long long)obj_size(name));
    H5Pclose(fapl);
}

/* In the private namespace: H5TIER_SHM_DIR names an 8 MiB tmpfs. */
static int tmpfs_child(const char *dir)
{
    setenv("H5TIER_SHM_DIR", dir, 1);
    tu_h5_quiet();
    const char *want[] = {"16.00 MiB", "16777216 bytes", dir, " MiB free of 8.00 MiB", NULL};
    fd_level((haddr_t)16 << 20, want);
    printf("tmpfs at %s: a 16 MiB EOA fails naming the directory and its 8 MiB\n", dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "tmpfs"))
        return tmpfs_child(argv[2]);
    tu_h5_quiet();
    const char *tib[] = {"1.00 TiB", "1099511627776 bytes", "free of", "every allocated byte in memory", NULL};
    char dirfree[300];
    snprintf(dirfree, sizeof dirfree, "%s has ", shm_dir());
    tib[2] = dirfree;
    fd_level((haddr_t)1 << 40, tib);
    const char *mf[] = {"3000000000000000000 bytes", dirfree, NULL};
    fd_level((haddr_t)3000000000000000000ULL, mf);
    api_level();
    if (geteuid() != 0)
        tu_skip("1 TiB and 3e18 parts passed; the tmpfs part needs root");
    char mnt[600], margs[800], cargs[800], out[8192];
    snprintf(mnt, sizeof mnt, "%s", tu_path("shmdir"));
    CHECK(mkdir(mnt, 0700) == 0);
    snprintf(margs, sizeof margs, "-t tmpfs -o size=8m tmpfs %s", mnt);
    snprintf(cargs, sizeof cargs, "tmpfs %s", mnt);
    int st = tu_in_mount_ns(out, sizeof out, margs, cargs);
    if (st == 77)
        tu_skip("1 TiB and 3e18 parts passed; cannot mount a private tmpfs: %s", out);
    CHECKF(st == 0, "tmpfs child exited %d: %s", st, out);
    tu_log("%s", out);
    return 0;
}
