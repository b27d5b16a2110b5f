/*
 * Proves the populate-ahead helper thread (H5TIER_SHM_POPULATE_AHEAD) is
 * invisible except in speed:
 * (1) a 40 MiB file written as 40 datasets of 1 MiB (64 KiB hyperslabs, a
 *     1 MiB increment: many growth steps) reads back exactly, with the thread
 *     running (it exists once 8 MiB are written: the process has one more
 *     task) and joined at close (one task less); a read-only opener never
 *     starts one;
 *     with the flag cleared (it is on by default) a writer starts no thread;
 * (2) every fallocate made by the helper thread fails with ENOSPC (the
 *     syscall table is replaced to fail calls from any thread but the main
 *     one): the writer reserves for itself, every write succeeds, the bytes
 *     are exact;
 * (3) /dev/shm "full" at 24 MiB for everybody (fallocate beyond 24 MiB fails
 *     with ENOSPC, whichever thread asks): the write that needs the space
 *     fails with a clean HDF5 error naming the object and "No space left on
 *     device", no SIGBUS, the object stays within 24 MiB, and every dataset
 *     completed before reopens intact;
 * (4) closing in the middle of growth, at a different point each time (the
 *     thread may be zeroing or reserving ahead right then), 8 times: each
 *     file reopens with exact contents and the shm object is exactly the
 *     logical end long (close joined the thread before shrinking).
 * Throughout, every pwrite of the helper thread is checked just before it
 * happens (the syscall table): the range must hold only zeros (the data
 * written is never zero) and a file must be open (close joins the thread).
 * Run under ThreadSanitizer by the integrator (name contains _mt).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "shmtest.h"

#define NDSET 40
#define DSET_INTS (256 * 1024) /* 1 MiB per dataset */
#define SLAB_INTS (16 * 1024)  /* 64 KiB per H5Dwrite */
#define FULL_AT ((off_t)24 << 20)

static pthread_t main_thread;
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static _Atomic long zero_writes;      /* pwrites by the helper thread */
static _Atomic long long overwrote;   /* 1 + offset of a written byte the helper was about to zero, 0 if none */
static _Atomic int file_open;         /* cleared once H5Fclose returned: the helper must be gone */
static _Atomic long after_close;      /* helper pwrites seen with no file open */
static int base_tasks; /* tasks before any file is open (a sanitizer may add its own later) */
static int (*real_fallocate)(int, off_t, off_t);
static _Atomic long helper_calls, helper_fails;

static int tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Every pwrite of the helper thread is checked before it happens: the range
 * it is about to zero must hold zeros only (the test's data is never zero),
 * and a file must be open (close joins the thread). */
static ssize_t pwrite_checked(int fd, const void *buf, size_t len, off_t off)
{
    if (!pthread_equal(pthread_self(), main_thread)) {
        atomic_fetch_add(&zero_writes, 1);
        if (!atomic_load(&file_open))
            atomic_fetch_add(&after_close, 1);
        unsigned char *old = malloc(len);
        CHECK(old);
        ssize_t n = pread(fd, old, len, off);
        for (ssize_t i = 0; i < n; i++)
            if (old[i]) {
                long long zero = 0;
                atomic_compare_exchange_strong(&overwrote, &zero, (long long)off + i + 1);
                break;
            }
        free(old);
    }
    return real_pwrite(fd, buf, len, off);
}

static void check_helper(const char *what)
{
    CHECKF(atomic_load(&overwrote) == 0, "%s: the helper thread zeroed written data at byte %lld", what,
           atomic_load(&overwrote) - 1);
    CHECKF(atomic_load(&after_close) == 0, "%s: %ld helper writes after H5Fclose returned", what,
           atomic_load(&after_close));
}

/* fallocate failing with ENOSPC for every thread but the main one. */
static int falloc_helper_enospc(int fd, off_t off, off_t len)
{
    if (!pthread_equal(pthread_self(), main_thread)) {
        atomic_fetch_add(&helper_calls, 1);
        atomic_fetch_add(&helper_fails, 1);
        errno = ENOSPC;
        return -1;
    }
    return real_fallocate(fd, off, len);
}

/* fallocate failing with ENOSPC beyond FULL_AT, whoever calls. */
static int falloc_full(int fd, off_t off, off_t len)
{
    if (!pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&helper_calls, 1);
    if (off + len > FULL_AT) {
        if (!pthread_equal(pthread_self(), main_thread))
            atomic_fetch_add(&helper_fails, 1);
        errno = ENOSPC;
        return -1;
    }
    return real_fallocate(fd, off, len);
}

/* st_fapl with the populate-ahead thread on (the default) or off. */
static hid_t ahead_fapl_set(const char *name, int on)
{
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    h5tier_shm_config_t cfg;
    CHECK(H5Pget_fapl_shm(fapl, &cfg) >= 0);
    CHECK(cfg.flags & H5TIER_SHM_POPULATE_AHEAD); /* on by default */
    if (!on)
        cfg.flags &= ~H5TIER_SHM_POPULATE_AHEAD;
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    return fapl;
}

static hid_t ahead_fapl(const char *name) { return ahead_fapl_set(name, 1); }

static int val(int k, int i) { return k * 1000003 + i; }

/* Write dataset k (1 MiB) in 64 KiB slabs.  0 or -1 (error stack in *es). */
static int write_dset(hid_t file, int k, int *buf, char *es, size_t eslen)
{
    char dn[16];
    snprintf(dn, sizeof dn, "d%03d", k);
    hid_t space = H5Screate_simple(1, (hsize_t[]){DSET_INTS}, NULL);
    hid_t mem = H5Screate_simple(1, (hsize_t[]){SLAB_INTS}, NULL);
    hid_t d = H5Dcreate2(file, dn, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 ? -1 : 0;
    for (int s = 0; rc == 0 && s < DSET_INTS / SLAB_INTS; s++) {
        for (int i = 0; i < SLAB_INTS; i++)
            buf[i] = val(k, s * SLAB_INTS + i);
        hsize_t start = (hsize_t)s * SLAB_INTS, cnt = SLAB_INTS;
        H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &cnt, NULL);
        if (H5Dwrite(d, H5T_NATIVE_INT, mem, space, H5P_DEFAULT, buf) < 0)
            rc = -1;
    }
    if (rc < 0 && es)
        snprintf(es, eslen, "%s", st_errstack());
    if (d >= 0 && H5Dclose(d) < 0)
        rc = -1;
    H5Sclose(mem);
    H5Sclose(space);
    return rc;
}

/* Reopen read-only and check datasets 0..n-1; also that no thread starts. */
static void check_file(const char *name, int n)
{
    hid_t fapl = ahead_fapl(name);
    int before = tasks();
    hid_t file = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECKF(file >= 0, "reopen %s: %s", name, st_errstack());
    int *buf = malloc(DSET_INTS * sizeof *buf);
    CHECK(buf);
    for (int k = 0; k < n; k++) {
        char dn[16];
        snprintf(dn, sizeof dn, "d%03d", k);
        hid_t d = H5Dopen2(file, dn, H5P_DEFAULT);
        CHECKF(d >= 0, "%s: dataset %s lost", name, dn);
        CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        for (int i = 0; i < DSET_INTS; i++)
            CHECKF(buf[i] == val(k, i), "%s: %s[%d] = %d, want %d", name, dn, i, buf[i], val(k, i));
        H5Dclose(d);
    }
    CHECKF(tasks() == before, "a read-only opener started a thread (%d tasks, %d before)", tasks(), before);
    free(buf);
    CHECK(H5Fclose(file) >= 0);
    H5Pclose(fapl);
}

/* The end of allocated space recorded in the file equals the object's size:
 * close shrank the object to the logical end (no reservation ahead left). */
static void check_shrunk(const char *name)
{
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t file = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECK(file >= 0);
    haddr_t sz = 0;
    CHECK(H5Fget_eoa(file, &sz) >= 0);
    CHECK(H5Fclose(file) >= 0);
    H5Pclose(fapl);
    CHECKF((off_t)sz == st_shm_size(name), "%s: object %lld bytes, file %llu", name, (long long)st_shm_size(name),
           (unsigned long long)sz);
}

static void plain(void)
{
    char *name = tu_shm_name("pop-mt");
    hid_t fapl = ahead_fapl(name);
    atomic_store(&file_open, 1);
    hid_t file = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECKF(file >= 0, "create: %s", st_errstack());
    int *buf = malloc(SLAB_INTS * sizeof *buf);
    for (int k = 0; k < NDSET; k++) {
        CHECKF(write_dset(file, k, buf, NULL, 0) == 0, "dataset %d: %s", k, st_errstack());
        if (k == 6) /* 7 MiB written: below the thread's start */
            CHECKF(tasks() == base_tasks, "a thread before 8 MiB were written: %d tasks", tasks());
    }
    int open_tasks = tasks();
    CHECKF(open_tasks > base_tasks, "no populate-ahead thread after 40 MiB (%d tasks)", open_tasks);
    CHECK(H5Fclose(file) >= 0);
    atomic_store(&file_open, 0);
    CHECKF(tasks() == open_tasks - 1, "thread not joined at close: %d tasks, %d before", tasks(), open_tasks);
    check_file(name, NDSET);
    check_shrunk(name);
    free(buf);
    H5Pclose(fapl);
    free(name);
}

/* Flag cleared: a writer of 12 MiB has no thread. */
static void flag_off(void)
{
    char *name = tu_shm_name("pop-mt-d");
    hid_t fapl = ahead_fapl_set(name, 0);
    int before = tasks();
    atomic_store(&file_open, 1);
    hid_t file = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    int *buf = malloc(SLAB_INTS * sizeof *buf);
    for (int k = 0; k < 12; k++)
        CHECK(write_dset(file, k, buf, NULL, 0) == 0);
    CHECKF(tasks() == before, "a thread without H5TIER_SHM_POPULATE_AHEAD (%d tasks, %d before)", tasks(), before);
    CHECK(H5Fclose(file) >= 0);
    check_file(name, 12);
    free(buf);
    H5Pclose(fapl);
    free(name);
}

static void helper_enospc(void)
{
    char *name = tu_shm_name("pop-mt-h");
    h5tier_sys.fallocate = falloc_helper_enospc; /* no thread exists now */
    hid_t fapl = ahead_fapl(name);
    atomic_store(&file_open, 1);
    hid_t file = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    int *buf = malloc(SLAB_INTS * sizeof *buf);
    for (int k = 0; k < NDSET; k++)
        CHECKF(write_dset(file, k, buf, NULL, 0) == 0, "dataset %d with the helper's fallocate failing: %s", k,
               st_errstack());
    CHECK(H5Fclose(file) >= 0); /* joins the thread */
    atomic_store(&file_open, 0);
    h5tier_sys.fallocate = real_fallocate;
    tu_log("helper fallocate: %ld calls, all failed with ENOSPC; the writer reserved itself",
           atomic_load(&helper_calls));
    check_file(name, NDSET);
    free(buf);
    H5Pclose(fapl);
    free(name);
}

static void full(void)
{
    char *name = tu_shm_name("pop-mt-f");
    atomic_store(&helper_calls, 0);
    atomic_store(&helper_fails, 0);
    h5tier_sys.fallocate = falloc_full;
    hid_t fapl = ahead_fapl(name);
    atomic_store(&file_open, 1);
    hid_t file = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    int *buf = malloc(SLAB_INTS * sizeof *buf);
    static char es[8192];
    int failed = -1;
    for (int k = 0; k < NDSET && failed < 0; k++)
        if (write_dset(file, k, buf, es, sizeof es) < 0)
            failed = k;
    CHECKF(failed >= 16 && failed < 24, "failed at dataset %d", failed);
    CHECKF(strstr(es, "cannot grow") && strstr(es, "No space left on device") && strstr(es, name), "stack: %s", es);
    CHECK(st_shm_size(name) <= FULL_AT);
    H5Fclose(file); /* may report the failed dataset; must not crash */
    atomic_store(&file_open, 0);
    h5tier_sys.fallocate = real_fallocate;
    tu_log("full at 24 MiB: failed at dataset %d; helper fallocate %ld calls, %ld failed", failed,
           atomic_load(&helper_calls), atomic_load(&helper_fails));
    check_file(name, failed);
    free(buf);
    H5Pclose(fapl);
    free(name);
}

static void close_mid_growth(void)
{
    int *buf = malloc(SLAB_INTS * sizeof *buf);
    for (int round = 0; round < 8; round++) {
        char *name = tu_shm_name("pop-mt-c");
        hid_t fapl = ahead_fapl(name);
        atomic_store(&file_open, 1);
    hid_t file = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        CHECK(file >= 0);
        int n = 9 + 2 * round; /* 9 .. 23 MiB: past the thread's start, inside growth steps */
        for (int k = 0; k < n; k++)
            CHECKF(write_dset(file, k, buf, NULL, 0) == 0, "round %d dataset %d: %s", round, k, st_errstack());
        int open_tasks = tasks();
        CHECK(H5Fclose(file) >= 0);
        atomic_store(&file_open, 0);
        CHECKF(tasks() == open_tasks - 1, "round %d: thread not joined at close", round);
        check_file(name, n);
        check_shrunk(name);
        tu_shm_cleanup(name);
        H5Pclose(fapl);
        free(name);
    }
    free(buf);
}

int main(void)
{
    tu_h5_quiet();
    main_thread = pthread_self();
    real_fallocate = h5tier_sys.fallocate;
    real_pwrite = h5tier_sys.pwrite;
    h5tier_sys.pwrite = pwrite_checked; /* no thread exists yet */
    base_tasks = tasks();
    flag_off();
    plain();
    check_helper("40 MiB");
    helper_enospc();
    full();
    close_mid_growth();
    check_helper("all");
    tu_log("the helper thread wrote zeros %ld times, never over written data", atomic_load(&zero_writes));
    h5tier_sys.pwrite = real_pwrite;
    return 0;
}
