/*
 * Proves that space the shm driver reserves for an allocated end (EOA) that
 * is raised and lowered again without a write is given back at close
 * (issue 8, item 14), so /dev/shm holds what sec2 would hold on disk:
 * (1) an empty family file with 100-byte shm members: after close every
 * member object has exactly the size of the same member made by sec2 (before
 * the fix, members reserved but never written stayed at 64 MiB each); while
 * it is open, members the family driver creates reserve at most their member
 * size (its maxaddr), not a whole growth increment;
 * (2) H5FD level: an existing file opened read-write, its EOA raised to
 * 32 MiB (reserved at once) and lowered again, closed without a write: the
 * object is back to its size at open, and still opens with its data;
 * (3) a file whose 16 MiB early-allocated dataset is deleted before close:
 * the object ends where the sec2 file ends;
 * (4) a writer whose populate-ahead thread reserved the next growth step and
 * whose logical end is exactly the size it knows: the step is given back.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmtest.h"

/* Sizes of members 0.. of a family whose members are named by fmt (one %d)
 * under dir ("/dev/shm" or a directory); returns the count. */
static int member_sizes(const char *dir, const char *fmt, off_t *sizes, int max)
{
    int n = 0;
    for (; n < max; n++) {
        char m[256], p[512];
        snprintf(m, sizeof m, fmt, n);
        snprintf(p, sizeof p, "%s/%s", dir, m);
        struct stat st;
        if (stat(p, &st) != 0)
            break;
        sizes[n] = st.st_size;
    }
    return n;
}

static void family_empty(void)
{
    char fmt[128];
    snprintf(fmt, sizeof fmt, "h5t-rel-fam-%d-%%d.h5", (int)getpid());
    for (int i = 0; i < 64; i++) { /* removed at exit */
        char m[256];
        snprintf(m, sizeof m, fmt, i);
        tu_shm_cleanup(m);
    }
    /* the sec2 reference */
    hid_t fa = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_family(fa, 100, H5P_DEFAULT) >= 0);
    char ref[512];
    snprintf(ref, sizeof ref, "%s/%s", tu_tmpdir(), fmt);
    hid_t f = H5Fcreate(ref, H5F_ACC_TRUNC, H5P_DEFAULT, fa);
    CHECK(f >= 0);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fa);
    off_t want[64], got[64];
    int nwant = member_sizes(tu_tmpdir(), fmt, want, 64);
    CHECK(nwant > 1);

    /* the same over shm members */
    hid_t memb = st_fapl(NULL, 0, H5TIER_SHM_KEEP); /* default 64 MiB increment */
    fa = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_family(fa, 100, memb) >= 0);
    f = H5Fcreate(fmt, H5F_ACC_TRUNC, H5P_DEFAULT, fa);
    CHECK(f >= 0);
    int nopen = member_sizes(st_shm_dir(), fmt, got, 64);
    long long open_total = 0;
    for (int i = 1; i < nopen; i++) {
        CHECKF(got[i] <= 4096, "while open, member %d reserves %lld bytes for a 100-byte member", i, (long long)got[i]);
        open_total += got[i];
    }
    tu_log("while open: %d members; members 1.. reserve %lld bytes in all (member 0: %lld)", nopen, open_total,
           (long long)got[0]);
    CHECK(H5Fclose(f) >= 0);
    int ngot = member_sizes(st_shm_dir(), fmt, got, 64);
    long long total = 0;
    for (int i = 0; i < ngot; i++)
        total += got[i];
    tu_log("after close: sec2 made %d members, shm %d; /dev/shm holds %lld bytes", nwant, ngot, total);
    CHECKF(ngot == nwant, "%d shm members, %d sec2 members", ngot, nwant);
    for (int i = 0; i < ngot; i++)
        CHECKF(got[i] == want[i], "member %d: %lld bytes in /dev/shm, %lld with sec2", i, (long long)got[i],
               (long long)want[i]);
    H5Pclose(fa);
    H5Pclose(memb);
}

static void raise_lower(void)
{
    char *name = tu_shm_name("rel-eoa");
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t f = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){4}, NULL);
    hid_t d = H5Dcreate2(f, "d", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, (int[]){7, 8, 9, 10}) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    CHECK(H5Fclose(f) >= 0);
    off_t at_open = st_shm_size(name);
    CHECK(at_open > 0 && at_open < 65536);

    H5FD_t *w = H5FDopen("x.h5", H5F_ACC_RDWR, fapl, HADDR_UNDEF);
    CHECK(w);
    haddr_t eoa = H5FDget_eof(w, H5FD_MEM_DEFAULT);
    CHECK(H5FDset_eoa(w, H5FD_MEM_DEFAULT, 32 << 20) >= 0);
    CHECKF(st_shm_size(name) >= 32 << 20, "EOA 32 MiB: object %lld bytes", (long long)st_shm_size(name));
    CHECK(H5FDset_eoa(w, H5FD_MEM_DEFAULT, eoa) >= 0);
    CHECK(H5FDclose(w) >= 0);
    tu_log("raise to 32 MiB and lower again without a write: %lld bytes at open, %lld after close",
           (long long)at_open, (long long)st_shm_size(name));
    CHECKF(st_shm_size(name) == at_open, "object %lld bytes after close, %lld at open", (long long)st_shm_size(name),
           (long long)at_open);
    char out[4096];
    int st = tu_sh(out, sizeof out, "h5dump -d /d '%s'", st_shm_path(name));
    CHECKF(st == 0 && strstr(out, "7, 8, 9, 10"), "h5dump (%d): %s", st, out);
    H5Pclose(fapl);
}

/* Create a file with a 16 MiB early-allocated dataset, delete it, close. */
static void alloc_delete(hid_t fapl, const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0);
    CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){16 << 20}, NULL);
    hid_t d = H5Dcreate2(f, "big", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    CHECK(H5Ldelete(f, "big", H5P_DEFAULT) >= 0);
    CHECK(H5Fclose(f) >= 0);
}

static void allocated_deleted(void)
{
    hid_t sec2 = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_sec2(sec2) >= 0);
    alloc_delete(sec2, tu_path("ad.h5"));
    H5Pclose(sec2);
    struct stat st;
    CHECK(stat(tu_path("ad.h5"), &st) == 0);
    char *name = tu_shm_name("rel-ad");
    hid_t fapl = st_fapl(name, 0, H5TIER_SHM_KEEP);
    alloc_delete(fapl, "x.h5");
    H5Pclose(fapl);
    tu_log("16 MiB allocated, deleted, closed: sec2 %lld bytes, /dev/shm %lld", (long long)st.st_size,
           (long long)st_shm_size(name));
    CHECK(st_shm_size(name) == st.st_size);
}

/* The populate-ahead thread reserves the next step while the writer writes;
 * a file whose logical end is exactly the size the writer knows must still
 * give that step back at close. */
static void ahead_step(void)
{
    char *name = tu_shm_name("rel-ahead");
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg); /* POPULATE | POPULATE_AHEAD */
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.increment = 16 << 20;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    H5FD_t *w = H5FDopen("x.h5", H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC, fapl, HADDR_UNDEF);
    CHECK(w);
    CHECK(H5FDset_eoa(w, H5FD_MEM_DEFAULT, 16 << 20) >= 0);
    static char blk[1 << 20];
    memset(blk, 'a', sizeof blk);
    for (int i = 0; i < 16; i++)
        CHECK(H5FDwrite(w, H5FD_MEM_DRAW, H5P_DEFAULT, (haddr_t)i << 20, sizeof blk, blk) >= 0);
    off_t seen = 0;
    for (int i = 0; i < 200 && (seen = st_shm_size(name)) <= 16 << 20; i++)
        usleep(5000);
    CHECK(H5FDtruncate(w, H5P_DEFAULT, 1) >= 0);
    CHECK(H5FDclose(w) >= 0);
    tu_log("ahead: object %lld bytes while open (the thread %s the next step), %lld after close", (long long)seen,
           seen > 16 << 20 ? "reserved" : "did not reserve", (long long)st_shm_size(name));
    CHECKF(st_shm_size(name) == 16 << 20, "object %lld bytes after close, logical end 16 MiB",
           (long long)st_shm_size(name));
    H5Pclose(fapl);
}

int main(void)
{
    family_empty();
    raise_lower();
    allocated_deleted();
    ahead_step();
    return 0;
}
