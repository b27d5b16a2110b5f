/*
 * Proves a full /dev/shm is an HDF5 error, never a SIGBUS, and loses nothing:
 * (1) always: fallocate failing with ENOSPC (fault injection through the
 * syscall table) makes the growing write fail with the h5tier ENOSPC message
 * on the HDF5 error stack; after close the earlier data reopens intact;
 * (2) as root: re-executed in a private mount namespace with an 8 MiB tmpfs
 * over /dev/shm, 256 KiB datasets are written until the space runs out; the
 * failure is an HDF5 error naming the object and "No space left on device",
 * the process survives, and every dataset written before reopens intact.
 * Exits 77 (after part 1 passed) when part 2 cannot run (not root, no
 * unshare/mount permission).
 */
#include <stdlib.h>

#include "shmtest.h"

#define BLOCK 65536 /* ints per dataset: 256 KiB */

static char last_stack[8192]; /* error stack of make_block's failing call */

static int make_block(hid_t file, int k, const int *buf)
{
    char dn[32];
    snprintf(dn, sizeof dn, "d%d", k);
    hid_t space = H5Screate_simple(1, (hsize_t[]){BLOCK}, NULL);
    hid_t d = H5Dcreate2(file, dn, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0) {
        snprintf(last_stack, sizeof last_stack, "%s", st_errstack());
        H5Sclose(space);
        return -1;
    }
    H5Sclose(space);
    herr_t w = H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (w < 0)
        snprintf(last_stack, sizeof last_stack, "%s", st_errstack());
    herr_t c = H5Dclose(d);
    if (w >= 0 && c < 0)
        snprintf(last_stack, sizeof last_stack, "%s", st_errstack());
    return w < 0 || c < 0 ? -1 : 0;
}

static void fill(int *buf, int k)
{
    for (int i = 0; i < BLOCK; i++)
        buf[i] = k * 1000000 + i;
}

static void check_blocks(const char *name, int n)
{
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t file = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECKF(file >= 0, "reopen after ENOSPC: %s", st_errstack());
    int *buf = malloc(BLOCK * sizeof *buf);
    for (int k = 0; k < n; k++) {
        char dn[32];
        snprintf(dn, sizeof dn, "d%d", k);
        hid_t d = H5Dopen2(file, dn, H5P_DEFAULT);
        CHECKF(d >= 0, "dataset %s lost", dn);
        CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        for (int i = 0; i < BLOCK; i++)
            CHECKF(buf[i] == k * 1000000 + i, "%s[%d] = %d", dn, i, buf[i]);
        H5Dclose(d);
    }
    free(buf);
    CHECK(H5Fclose(file) >= 0);
    H5Pclose(fapl);
}

static void injected(void)
{
    char *name = tu_shm_name("nospc-f");
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t file = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    int *buf = malloc(BLOCK * sizeof *buf);
    int k = 0;
    for (; k < 3; k++) {
        fill(buf, k);
        CHECK(make_block(file, k, buf) == 0);
    }
    CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0);
    off_t before = st_shm_size(name);
    CHECK_OK(h5tier_fault_set("fallocate", 1, ENOSPC, H5TIER_FAULT_PERSIST));
    int failed = -1;
    const char *es = "";
    for (; k < 40 && failed < 0; k++) { /* 10 MiB: must cross the 1 MiB reservation */
        fill(buf, k);
        if (make_block(file, k, buf) < 0) {
            es = last_stack;
            failed = k;
        }
    }
    CHECK(failed >= 3);
    CHECK(h5tier_fault_fired() >= 1);
    CHECKF(strstr(es, "cannot grow") && strstr(es, "No space left on device") && strstr(es, name), "stack: %s", es);
    CHECK(st_shm_size(name) == before); /* nothing reserved beyond what fitted */
    h5tier_fault_clear();
    H5Fclose(file); /* may report the failed dataset; must not crash */
    check_blocks(name, failed); /* every dataset completed before the fault: intact */
    tu_log("fault injection: ENOSPC on growth at dataset %d: HDF5 error, the %d before intact", failed, failed);
    free(buf);
    H5Pclose(fapl);
    free(name);
}

/* Runs inside the private namespace, /dev/shm being an 8 MiB tmpfs. */
static int tmpfs_child(void)
{
    char *name = tu_shm_name("nospc-t");
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t file = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    tu_h5_quiet();
    int *buf = malloc(BLOCK * sizeof *buf);
    int ok = 0;
    const char *es = NULL;
    for (int k = 0; k < 64; k++) { /* 16 MiB worth: cannot fit in 8 MiB */
        fill(buf, k);
        if (make_block(file, k, buf) < 0) {
            es = last_stack;
            break;
        }
        if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) {
            es = st_errstack();
            break;
        }
        ok = k + 1;
    }
    CHECKF(es != NULL, "8 MiB tmpfs never filled up");
    CHECKF(strstr(es, "No space left on device") && strstr(es, name), "stack: %s", es);
    CHECKF(ok >= 16, "only %d datasets fitted in 8 MiB", ok);
    H5Fclose(file);
    check_blocks(name, ok);
    printf("tmpfs: %d datasets of 256 KiB fitted, then ENOSPC as an HDF5 error; all %d reread intact\n", ok, ok);
    free(buf);
    H5Pclose(fapl);
    free(name);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "tmpfs"))
        return tmpfs_child();
    tu_h5_quiet();
    injected();
    if (geteuid() != 0)
        tu_skip("fault-injection part passed; the tmpfs part needs root");
    char out[8192];
    int st = tu_in_mount_ns(out, sizeof out, "-t tmpfs -o size=8m tmpfs /dev/shm", "tmpfs");
    if (st == 77)
        tu_skip("fault-injection part passed; cannot mount a private tmpfs: %s", out);
    CHECKF(st == 0, "tmpfs child exited %d: %s", st, out);
    tu_log("%s", out);
    tu_log("ok");
    return 0;
}
