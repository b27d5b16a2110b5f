/*
 * Proves the driver's contract with the library: the exact feature flags;
 * cmp (same object -> 0, different -> non-zero, antisymmetric); lock
 * conflicts between processes (a writer's exclusive lock keeps a plain
 * reader out, with a message naming the object); the get_eof/get_eoa rules
 * (writer: logical end; reader: object size; reads past the end are zero);
 * truncate (logical end := EOA; the object shrinks at close only without a
 * live reader; H5F_ACC_TRUNC is refused while a reader process has it
 * open); a second open in the same process shares the file; with every
 * reader slot taken a reader still works and the writer does not shrink; the H5Pget_fapl_shm round trip; and fault injection on
 * fallocate, mremap and mmap during growth giving a clean HDF5 error that
 * leaves earlier data readable (a failing madvise is harmless).
 */
#include <stdlib.h>

#include "shm/shm_internal.h"
#include "shmtest.h"

static hid_t make_file(const char *name, int ndata)
{
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t f = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    H5Pclose(fapl);
    if (ndata > 0) {
        int *v = malloc((size_t)ndata * sizeof *v);
        for (int i = 0; i < ndata; i++)
            v[i] = i ^ 0x5a5a;
        hid_t s = H5Screate_simple(1, (hsize_t[]){(hsize_t)ndata}, NULL);
        hid_t d = H5Dcreate2(f, "d0", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
        H5Dclose(d);
        H5Sclose(s);
        free(v);
        CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0);
    }
    return f;
}

static void check_d0(const char *name, int ndata)
{
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t f = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECKF(f >= 0, "reopen: %s", st_errstack());
    int *v = malloc((size_t)ndata * sizeof *v);
    hid_t d = H5Dopen2(f, "d0", H5P_DEFAULT);
    CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    for (int i = 0; i < ndata; i++)
        CHECK(v[i] == (i ^ 0x5a5a));
    free(v);
    H5Dclose(d);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
}

static void flags_and_cmp(void)
{
    char *a = tu_shm_name("feat-a"), *b = tu_shm_name("feat-b");
    H5Fclose(make_file(a, 10));
    H5Fclose(make_file(b, 10));
    hid_t fa = st_fapl(a, 1 << 20, H5TIER_SHM_KEEP), fb = st_fapl(b, 1 << 20, H5TIER_SHM_KEEP);
    H5FD_t *a1 = H5FDopen("x.h5", H5F_ACC_RDONLY, fa, HADDR_UNDEF);
    H5FD_t *a2 = H5FDopen("x.h5", H5F_ACC_RDONLY, fa, HADDR_UNDEF);
    H5FD_t *b1 = H5FDopen("x.h5", H5F_ACC_RDONLY, fb, HADDR_UNDEF);
    CHECK(a1 && a2 && b1);
    unsigned long fl = 0;
    CHECK(H5FDquery(a1, &fl) >= 0);
    /* no H5FD_FEAT_DATA_SIEVE: the mapping is memory, a sieve buffer only adds a copy */
    unsigned long want = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA |
                         H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_SUPPORTS_SWMR_IO | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    CHECKF(fl == want, "feature flags 0x%lx, want 0x%lx", fl, want);
    CHECK(H5FDcmp(a1, a2) == 0);
    int ab = H5FDcmp(a1, b1), ba = H5FDcmp(b1, a1);
    CHECK(ab != 0 && ba == -ab);
    void *h = NULL;
    CHECK(H5FDget_vfd_handle(a1, fa, &h) >= 0 && h && *(int *)h >= 0);
    H5FDclose(a1);
    H5FDclose(a2);
    H5FDclose(b1);

    /* H5Pget_fapl_shm round trip, also from an open file */
    h5tier_shm_config_t in, out;
    h5tier_shm_config_init(&in);
    snprintf(in.name, sizeof in.name, "%s", a);
    in.increment = 12345;
    in.page_size = 1 << 16;
    in.on_close = H5TIER_SHM_KEEP;
    in.mode = 0640;
    in.flags = 0;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_shm(fapl, &in) >= 0);
    memset(&out, 0xee, sizeof out);
    CHECK(H5Pget_fapl_shm(fapl, &out) >= 0);
    CHECK(memcmp(&in, &out, sizeof in) == 0);
    hid_t f = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECK(f >= 0);
    hid_t ap = H5Fget_access_plist(f);
    memset(&out, 0, sizeof out);
    CHECK(H5Pget_fapl_shm(ap, &out) >= 0);
    CHECK(!strcmp(out.name, a) && out.increment == 12345 && out.mode == 0640);
    H5Pclose(ap);
    H5Fclose(f);
    hid_t plain = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pget_fapl_shm(plain, &out) < 0); /* not an shm fapl */
    CHECK(strstr(st_errstack(), "does not use the shm driver"));
    H5Pclose(plain);
    H5Pclose(fapl);
    H5Pclose(fa);
    H5Pclose(fb);
    free(a);
    free(b);
}

static void eof_eoa_truncate(void)
{
    char *name = tu_shm_name("feat-eof");
    H5Fclose(make_file(name, 10));
    off_t sz0 = st_shm_size(name);
    CHECK(sz0 > 0 && sz0 < 65536); /* shrunk to the EOA at close */
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    H5FD_t *w = H5FDopen("x.h5", H5F_ACC_RDWR, fapl, HADDR_UNDEF);
    CHECK(w);
    CHECK(H5FDget_eof(w, H5FD_MEM_DEFAULT) == (haddr_t)sz0); /* superblock's end of file */
    CHECK(H5FDset_eoa(w, H5FD_MEM_DEFAULT, 200000) >= 0);
    CHECK(st_shm_size(name) >= 200000);                       /* reserved at once */
    CHECK(H5FDget_eof(w, H5FD_MEM_DEFAULT) == (haddr_t)sz0); /* logical end unchanged */
    CHECK(H5FDget_eoa(w, H5FD_MEM_DEFAULT) == 200000);
    CHECK(H5FDwrite(w, H5FD_MEM_DRAW, H5P_DEFAULT, 100000, 8, "ABCDEFGH") >= 0);
    CHECK(H5FDget_eof(w, H5FD_MEM_DEFAULT) == 100008);

    H5FD_t *r = H5FDopen("x.h5", H5F_ACC_RDONLY, fapl, HADDR_UNDEF);
    CHECK(r);
    off_t phys = st_shm_size(name);
    CHECK(H5FDget_eof(r, H5FD_MEM_DEFAULT) == (haddr_t)phys); /* reader: object size */
    CHECK(H5FDset_eoa(r, H5FD_MEM_DEFAULT, 64 << 20) >= 0);
    CHECK(st_shm_size(name) == phys); /* a reader never grows the object */
    char buf[16];
    CHECK(H5FDread(r, H5FD_MEM_DRAW, H5P_DEFAULT, 100000, 8, buf) >= 0 && !memcmp(buf, "ABCDEFGH", 8));
    memset(buf, 'x', sizeof buf);
    CHECK(H5FDread(r, H5FD_MEM_DRAW, H5P_DEFAULT, (haddr_t)phys + 4096, 16, buf) >= 0); /* past the end */
    for (int i = 0; i < 16; i++)
        CHECK(buf[i] == 0);
    /* the writer grows; the reader follows by remapping */
    CHECK(H5FDset_eoa(w, H5FD_MEM_DEFAULT, 5 << 20) >= 0);
    CHECK(H5FDwrite(w, H5FD_MEM_DRAW, H5P_DEFAULT, (4 << 20) + 3, 8, "growing!") >= 0);
    CHECK(H5FDread(r, H5FD_MEM_DRAW, H5P_DEFAULT, (4 << 20) + 3, 8, buf) >= 0 && !memcmp(buf, "growing!", 8));
    CHECK(H5FDget_eof(r, H5FD_MEM_DEFAULT) >= (5 << 20));

    /* truncate: logical end := EOA */
    CHECK(H5FDset_eoa(w, H5FD_MEM_DEFAULT, 150000) >= 0);
    CHECK(H5FDtruncate(w, H5P_DEFAULT, 0) >= 0);
    CHECK(H5FDget_eof(w, H5FD_MEM_DEFAULT) == 150000);
    off_t before = st_shm_size(name);
    CHECK(H5FDclose(w) >= 0);
    CHECK(st_shm_size(name) == before); /* live reader: never shrunk under it */
    /* ... but past the new end it reads zeros, as a cut sec2 file would */
    CHECK(H5FDread(r, H5FD_MEM_DRAW, H5P_DEFAULT, (4 << 20) + 3, 8, buf) >= 0 && !memcmp(buf, "\0\0\0\0\0\0\0\0", 8));
    CHECK(H5FDclose(r) >= 0);

    /* without readers the writer's close shrinks to the logical end */
    w = H5FDopen("x.h5", H5F_ACC_RDWR, fapl, HADDR_UNDEF);
    CHECK(w);
    CHECK(H5FDset_eoa(w, H5FD_MEM_DEFAULT, 150000) >= 0);
    CHECK(H5FDtruncate(w, H5P_DEFAULT, 1) >= 0);
    CHECK(H5FDclose(w) >= 0);
    CHECK(st_shm_size(name) == 150000);
    check_d0(name, 10);
    H5Pclose(fapl);
    free(name);
}

/* Child: hold the file open (read-write or read-only) until released. */
static int hold(const char *name, const char *dir, unsigned flags)
{
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t f = H5Fopen("x.h5", flags, fapl);
    CHECK(f >= 0);
    char p[4400];
    snprintf(p, sizeof p, "%s/holding", dir);
    st_mark(p);
    snprintf(p, sizeof p, "%s/release", dir);
    CHECK(st_wait_file(p, 30) == 0);
    CHECK(H5Fclose(f) >= 0);
    return 0;
}

static void locks(void)
{
    char *name = tu_shm_name("feat-lock");
    H5Fclose(make_file(name, 10));
    const char *dir = tu_tmpdir();
    pid_t c = tu_spawn_self("hold-rw", name, dir, NULL);
    char p[4400];
    snprintf(p, sizeof p, "%s/holding", dir);
    CHECK(st_wait_file(p, 30) == 0);
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t f = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECK(f < 0);
    const char *es = st_errstack();
    CHECKF(strstr(es, name) && strstr(es, "cannot take the HDF5 file lock (shared)"), "stack: %s", es);
    H5FD_t *raw = H5FDopen("x.h5", H5F_ACC_RDONLY, fapl, HADDR_UNDEF);
    CHECK(raw);
    CHECK(H5FDlock(raw, 0) < 0);
    snprintf(p, sizeof p, "%s/release", dir);
    st_mark(p);
    CHECK(tu_wait_timeout(c, 30) == 0);
    CHECK(H5FDlock(raw, 0) >= 0);  /* free now */
    CHECK(H5FDlock(raw, 1) >= 0);  /* upgrade: nobody else holds it */
    CHECK(H5FDunlock(raw) >= 0);
    H5FDclose(raw);
    check_d0(name, 10);

    /* a live reader in another process: H5F_ACC_TRUNC is refused by the
     * driver itself (even with HDF5's file locking off), nothing is lost */
    dir = tu_path("ro");
    CHECK(mkdir(dir, 0700) == 0);
    c = tu_spawn_self("hold-ro", name, dir, NULL);
    snprintf(p, sizeof p, "%s/holding", dir);
    CHECK(st_wait_file(p, 30) == 0);
    CHECK(H5Pset_file_locking(fapl, 0, 1) >= 0);
    f = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f < 0);
    es = st_errstack();
    CHECKF(strstr(es, name) && strstr(es, "1 live reader(s): refusing to truncate"), "stack: %s", es);
    snprintf(p, sizeof p, "%s/release", dir);
    st_mark(p);
    CHECK(tu_wait_timeout(c, 30) == 0);
    check_d0(name, 10);
    H5Pclose(fapl);
    free(name);
}

static void growth_faults(void)
{
    static const struct {
        const char *call;
        unsigned long nth;
        int err;
        const char *msg;
    } cases[] = {{"fallocate", 1, EIO, "cannot grow"}, {"mremap", 1, ENOMEM, "cannot map"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *name = tu_shm_name("feat-fault");
        hid_t f = make_file(name, 1000);
        CHECK_OK(h5tier_fault_set(cases[i].call, cases[i].nth, cases[i].err, H5TIER_FAULT_PERSIST));
        hid_t s = H5Screate_simple(1, (hsize_t[]){1 << 20}, NULL); /* 4 MiB: beyond the 1 MiB reservation */
        int *big = calloc(1 << 20, sizeof *big);
        hid_t d = H5Dcreate2(f, "big", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        herr_t w = d >= 0 ? H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, big) : -1;
        const char *es = st_errstack();
        CHECKF(w < 0 && strstr(es, cases[i].msg) && strstr(es, name), "%s fault: %s", cases[i].call, es);
        CHECK(h5tier_fault_fired() >= 1);
        h5tier_fault_clear();
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(s);
        free(big);
        H5Fclose(f);
        check_d0(name, 1000);
        free(name);
    }
    /* the first data mapping (mmap #1 is the control object's) */
    char *name = tu_shm_name("feat-mmap");
    CHECK_OK(h5tier_fault_set("mmap", 2, ENOMEM, 0));
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t f = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f < 0);
    const char *es = st_errstack();
    CHECKF(strstr(es, "cannot map") && strstr(es, name), "mmap fault: %s", es);
    h5tier_fault_clear();
    H5Pclose(fapl);
    H5Fclose(make_file(name, 1000)); /* works again */
    check_d0(name, 1000);
    free(name);
    /* MADV_POPULATE_WRITE is only an optimisation */
    name = tu_shm_name("feat-madv");
    CHECK_OK(h5tier_fault_set("madvise", 1, EINVAL, H5TIER_FAULT_PERSIST));
    H5Fclose(make_file(name, 1 << 19));
    CHECK(h5tier_fault_fired() >= 1);
    h5tier_fault_clear();
    check_d0(name, 1 << 19);
    free(name);
}

/* The library opens a file a second time to detect an already open one; in
 * one process a second read-write or read-only open shares the file. */
static void same_process(void)
{
    char *name = tu_shm_name("feat-same");
    hid_t f1 = make_file(name, 10);
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t f2 = H5Fopen("x.h5", H5F_ACC_RDWR, fapl);
    CHECKF(f2 >= 0, "second read-write open in the same process: %s", st_errstack());
    hid_t f3 = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl); /* shares the read-write file */
    CHECKF(f3 >= 0, "read-only open in the writing process: %s", st_errstack());
    hid_t g = H5Gcreate2(f2, "via_f2", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(g >= 0);
    H5Gclose(g);
    CHECK(H5Lexists(f1, "via_f2", H5P_DEFAULT) > 0); /* same shared file */
    CHECK(H5Lexists(f3, "via_f2", H5P_DEFAULT) > 0);
    CHECK(H5Fclose(f3) >= 0);
    CHECK(H5Fclose(f2) >= 0);
    CHECK(H5Fclose(f1) >= 0);
    hid_t f = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECK(f >= 0 && H5Lexists(f, "via_f2", H5P_DEFAULT) > 0);
    H5Fclose(f);
    H5Pclose(fapl);
    free(name);
}

/* All reader slots taken: a reader still works (unregistered) and the writer
 * counts the slots as live readers, so it never shrinks the object.  The
 * control object is writable by whoever may read the file. */
static void reader_slots(void)
{
    char *name = tu_shm_name("feat-slots");
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.increment = 1 << 20;
    cfg.mode = 0640;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    hid_t f = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    char ctlname[300], p[400];
    snprintf(ctlname, sizeof ctlname, "/.%s.h5tier", name);
    snprintf(p, sizeof p, "/dev/shm%s", ctlname);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0660);
    snprintf(p, sizeof p, "/dev/shm/%s", name);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640);
    char canon[300];
    snprintf(canon, sizeof canon, "/%s", name);
    int cfd;
    h5tier_shmc_t *ctl;
    CHECK_OK(h5tier__shmc_open(canon, 0, 0, 0, &cfd, &ctl));
    for (int i = 0; i < H5TIER_SHMC_READERS; i++)
        CHECK(h5tier__shmc_reader_add(ctl) == i);
    CHECK(h5tier__shmc_reader_add(ctl) == -EAGAIN);
    CHECK(h5tier__shmc_live_readers(ctl) == H5TIER_SHMC_READERS);
    H5FD_t *r = H5FDopen("x.h5", H5F_ACC_RDONLY, fapl, HADDR_UNDEF);
    CHECK(r); /* unregistered, still reads */
    char sig[8];
    CHECK(H5FDset_eoa(r, H5FD_MEM_DEFAULT, 4096) >= 0 && H5FDread(r, H5FD_MEM_DRAW, H5P_DEFAULT, 0, 8, sig) >= 0);
    CHECK(!memcmp(sig, "\211HDF", 4));
    CHECK(H5Fclose(f) >= 0);
    CHECK(st_shm_size(name) == 1 << 20); /* not shrunk: readers count as live */
    H5FDclose(r);
    for (int i = 0; i < H5TIER_SHMC_READERS; i++)
        h5tier__shmc_reader_remove(ctl, i);
    CHECK(h5tier__shmc_live_readers(ctl) == 0);
    h5tier__shmc_close(cfd, ctl);
    H5Pclose(fapl);
    free(name);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "hold-rw"))
        return hold(argv[2], argv[3], H5F_ACC_RDWR);
    if (argc >= 4 && !strcmp(argv[1], "hold-ro"))
        return hold(argv[2], argv[3], H5F_ACC_RDONLY);
    tu_h5_quiet();
    flags_and_cmp();
    eof_eoa_truncate();
    locks();
    same_process();
    reader_slots();
    growth_faults();
    tu_log("ok");
    return 0;
}
