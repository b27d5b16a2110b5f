/*
 * Proves that an shm file reads as zeros past its end and wherever nothing
 * was written since it shrank (issue 8, item 13), exactly like sec2: a 1 MiB
 * dataset of 0xAB is written and flushed, deleted and flushed again (the
 * library truncates the file to its new, smaller end), then a dataset
 * allocated early with fill time NEVER and never written takes the same
 * space; H5Dread must give the zeros sec2 gives, not the old 0xAB bytes --
 * in the open file, while the shm object still holds the space reserved
 * beyond the end (every byte of /dev/shm/NAME past the logical end is read
 * raw and must be 0), and after close and reopen (also read with h5py).
 * The same steps run on a sec2 file on disk side by side as the reference.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmtest.h"

#define N (1 << 20)

static hid_t early_never_dcpl(void)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0);
    CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0);
    return dcpl;
}

/* Count bytes != 0 in dset. */
static size_t nonzero(hid_t f, const char *dset)
{
    unsigned char *buf = malloc(N);
    CHECK(buf);
    memset(buf, 0x5a, N);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    CHECK(d >= 0);
    CHECK(H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        n += buf[i] != 0;
    free(buf);
    return n;
}

/* Every byte of the shm object at or beyond `from` is zero. */
static void object_zero_from(const char *name, uint64_t from)
{
    char p[512];
    snprintf(p, sizeof p, "%s", st_shm_path(name));
    int fd = open(p, O_RDONLY);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    unsigned char buf[65536];
    uint64_t bad = 0, at = from;
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof buf, (off_t)at);
        CHECK(r >= 0);
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            bad += buf[i] != 0;
        at += (uint64_t)r;
    }
    close(fd);
    tu_log("/dev/shm/%s: %lld bytes, %llu past the logical end %llu, %llu of them non-zero", name,
           (long long)st.st_size, (unsigned long long)(at > from ? at - from : 0), (unsigned long long)from,
           (unsigned long long)bad);
    CHECKF(bad == 0, "%llu stale non-zero bytes past the end of /dev/shm/%s", (unsigned long long)bad, name);
}

/* The scenario on one file; returns the non-zero count of /fresh. */
static size_t scenario(hid_t fapl, const char *path, const char *shm_name)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){N}, NULL);
    unsigned char *ab = malloc(N);
    CHECK(ab);
    memset(ab, 0xAB, N);
    hid_t d = H5Dcreate2(f, "old", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, ab) >= 0);
    H5Dclose(d);
    free(ab);
    CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
    hsize_t big = 0, small = 0;
    CHECK(H5Fget_filesize(f, &big) >= 0);
    CHECK(H5Ldelete(f, "old", H5P_DEFAULT) >= 0);
    CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
    CHECK(H5Fget_filesize(f, &small) >= 0);
    tu_log("%s: %llu bytes with /old, %llu after deleting it and flushing", shm_name ? "shm" : "sec2",
           (unsigned long long)big, (unsigned long long)small);
    CHECKF(small + N <= big, "the file did not shrink (%llu -> %llu)", (unsigned long long)big,
           (unsigned long long)small);
    if (shm_name)
        object_zero_from(shm_name, small);
    hid_t dcpl = early_never_dcpl();
    d = H5Dcreate2(f, "fresh", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    haddr_t off = H5Dget_offset(d);
    tu_log("%s: /fresh allocated at %llu (the old data was at ~%llu)", shm_name ? "shm" : "sec2",
           (unsigned long long)off, (unsigned long long)(big - N));
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    size_t nz = nonzero(f, "fresh");
    CHECK(H5Fclose(f) >= 0);
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    CHECK(f >= 0);
    size_t nz2 = nonzero(f, "fresh");
    CHECK(H5Fclose(f) >= 0);
    CHECKF(nz == nz2, "%zu non-zero bytes while open, %zu after reopen", nz, nz2);
    return nz;
}

int main(void)
{
    hid_t sec2 = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_sec2(sec2) >= 0);
    size_t ref = scenario(sec2, tu_path("ref.h5"), NULL);
    CHECKF(ref == 0, "sec2 reference: %zu non-zero bytes (the scenario no longer shows the case)", ref);
    H5Pclose(sec2);

    char *name = tu_shm_name("trunc0");
    hid_t fapl = st_fapl(name, 8 << 20, H5TIER_SHM_KEEP);
    size_t got = scenario(fapl, "x.h5", name);
    CHECKF(got == 0, "shm: never-written dataset reads %zu non-zero (stale) bytes where sec2 reads zeros", got);

    if (tu_have_h5py()) {
        char out[4096];
        int st = tu_sh(out, sizeof out,
                       "%s -c \"import h5py,sys; f=h5py.File('%s','r'); a=f['fresh'][()]; "
                       "print('nonzero', int((a!=0).sum()))\"",
                       tu_python(), st_shm_path(name));
        CHECKF(st == 0 && strstr(out, "nonzero 0"), "h5py (%d): %s", st, out);
        tu_log("h5py reads /fresh as zeros");
    }
    H5Pclose(fapl);
    return 0;
}
