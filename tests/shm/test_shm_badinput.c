/*
 * Proves bad input gives clear errors and loses nothing: malformed names
 * (H5Pset_fapl_shm and file names), a bad configuration, an shm object that
 * is not HDF5 (garbage and empty), a truncated image, permission denied
 * (checked as an unprivileged user: as root the check runs in a child that
 * drops to uid 65534), a reader that writes, a missing object, H5F_ACC_EXCL
 * on an existing object.  Each error's HDF5 stack names the object and the
 * reason, and the objects involved are unchanged afterwards.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "common/internal.h"
#include "shmtest.h"

/* Expect H5Fopen/H5Fcreate to have failed with a stack containing a and b. */
#define EXPECT_FAIL(call, a, b)                                                                        \
    do {                                                                                               \
        hid_t f_ = (call);                                                                             \
        CHECKF(f_ < 0, "%s succeeded", #call);                                                         \
        const char *es_ = st_errstack();                                                               \
        CHECKF(strstr(es_, (a)) && strstr(es_, (b)), "%s: stack lacks '%s'/'%s': %s", #call, (a), (b), es_); \
    } while (0)

static void make_object(const char *name, const void *bytes, size_t len, mode_t mode)
{
    char p[300];
    snprintf(p, sizeof p, "/%s", name);
    int fd = shm_open(p, O_RDWR | O_CREAT | O_EXCL, mode);
    CHECK(fd >= 0);
    if (len)
        CHECK(write(fd, bytes, len) == (ssize_t)len);
    close(fd);
}

static char *read_object(const char *name, size_t *len)
{
    char p[300];
    snprintf(p, sizeof p, "/dev/shm/%s", name);
    FILE *fp = fopen(p, "rb");
    CHECK(fp);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

/* A small valid HDF5 file in shm (KEEP) with dataset "v" = 0..99. */
static void make_h5(const char *name, mode_t mode)
{
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.increment = 65536;
    cfg.mode = mode;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    hid_t f = H5Fcreate("x.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    int v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i;
    hid_t s = H5Screate_simple(1, (hsize_t[]){100}, NULL);
    hid_t d = H5Dcreate2(f, "v", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Sclose(s);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
}

static void check_h5(const char *name)
{
    hid_t fapl = st_fapl(name, 65536, H5TIER_SHM_KEEP);
    hid_t f = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECKF(f >= 0, "%s no longer opens: %s", name, st_errstack());
    int v[100];
    hid_t d = H5Dopen2(f, "v", H5P_DEFAULT);
    CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    for (int i = 0; i < 100; i++)
        CHECK(v[i] == i);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);
}

static void bad_names(void)
{
    h5tier_shm_config_t cfg;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    const char *bad[] = {"a/b", ".hidden", "ctl\x01char", "/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        h5tier_shm_config_init(&cfg);
        snprintf(cfg.name, sizeof cfg.name, "%s", bad[i]);
        CHECK(H5Pset_fapl_shm(fapl, &cfg) < 0);
        const char *es = st_errstack();
        char esc[64]; /* the control byte is printed escaped, never raw */
        h5tier__esc(bad[i], (size_t)-1, esc, sizeof esc);
        CHECKF(strstr(es, esc) && strstr(es, "bad name") && !strchr(es, '\x01'), "name '%s': %s", esc, es);
        CHECK(strstr(h5tier_errmsg(), esc));
    }
    h5tier_shm_config_init(&cfg);
    cfg.version = 99;
    CHECK(H5Pset_fapl_shm(fapl, &cfg) < 0);
    CHECK(strstr(st_errstack(), "version 99"));
    h5tier_shm_config_init(&cfg);
    cfg.page_size = 3000;
    CHECK(H5Pset_fapl_shm(fapl, &cfg) < 0);
    CHECK(strstr(st_errstack(), "page size 3000"));
    h5tier_shm_config_init(&cfg);
    cfg.on_close = (h5tier_shm_close_t)7;
    CHECK(H5Pset_fapl_shm(fapl, &cfg) < 0);

    /* names derived from file names */
    CHECK(H5Pset_fapl_shm(fapl, NULL) >= 0);
    EXPECT_FAIL(H5Fcreate("some/dir/ctl\x02.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "ctl\\x02.h5", "forbidden character");
    EXPECT_FAIL(H5Fcreate("shm:.hidden", H5F_ACC_TRUNC, H5P_DEFAULT, fapl), ".hidden", "must not start with '.'");
    EXPECT_FAIL(H5Fopen("dir/", H5F_ACC_RDONLY, fapl), "dir/", "bad name");
    H5Pclose(fapl);
}

static void not_hdf5(void)
{
    char *name = tu_shm_name("bad-garbage");
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 31 + 7);
    make_object(name, junk, sizeof junk, 0600);
    hid_t fapl = st_fapl(name, 65536, H5TIER_SHM_KEEP);
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDONLY, fapl), name, "is not an HDF5 file (no signature");
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDWR, fapl), name, "is not an HDF5 file (no signature");
    size_t len;
    char *after = read_object(name, &len);
    CHECK(len == sizeof junk && memcmp(after, junk, len) == 0);
    free(after);
    H5Pclose(fapl);
    free(name);

    name = tu_shm_name("bad-empty");
    make_object(name, NULL, 0, 0600);
    fapl = st_fapl(name, 65536, H5TIER_SHM_KEEP);
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDONLY, fapl), name, "is not an HDF5 file (the object is empty)");
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDWR, fapl), name, "the object is empty");
    CHECK(st_shm_size(name) == 0);
    H5Pclose(fapl);
    free(name);
}

static void truncated(void)
{
    char *good = tu_shm_name("bad-good");
    make_h5(good, 0600);
    size_t len;
    char *img = read_object(good, &len);
    CHECK(len > 1024);
    char *name = tu_shm_name("bad-trunc");
    size_t half = len / 2;
    make_object(name, img, half, 0600);
    hid_t fapl = st_fapl(name, 65536, H5TIER_SHM_KEEP);
    char want[128];
    snprintf(want, sizeof want, "is truncated: superblock says %zu bytes, object has %zu", len, half);
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDONLY, fapl), name, want);
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDWR, fapl), name, want);
    size_t len2;
    char *after = read_object(name, &len2);
    CHECK(len2 == half && memcmp(after, img, half) == 0);
    free(after);
    free(img);
    check_h5(good);
    H5Pclose(fapl);
    free(name);
    free(good);
}

static void reader_writes_and_missing(void)
{
    char *name = tu_shm_name("bad-ro");
    make_h5(name, 0600);
    hid_t fapl = st_fapl(name, 65536, H5TIER_SHM_KEEP);
    hid_t f = H5Fopen("x.h5", H5F_ACC_RDONLY, fapl);
    CHECK(f >= 0);
    hid_t d = H5Dopen2(f, "v", H5P_DEFAULT);
    int v[100] = {0};
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0);
    CHECK(H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) < 0);
    H5Dclose(d);
    H5Fclose(f);
    H5FD_t *raw = H5FDopen("x.h5", H5F_ACC_RDONLY, fapl, HADDR_UNDEF);
    CHECK(raw);
    CHECK(H5FDset_eoa(raw, H5FD_MEM_DEFAULT, 4096) >= 0);
    CHECK(H5FDwrite(raw, H5FD_MEM_DRAW, H5P_DEFAULT, 0, 4, "oops") < 0);
    const char *es = st_errstack();
    CHECKF(strstr(es, name) && strstr(es, "a reader cannot write"), "stack: %s", es);
    H5FDclose(raw);
    check_h5(name);

    /* H5F_ACC_EXCL on an existing object fails and leaves it alone */
    EXPECT_FAIL(H5Fcreate("x.h5", H5F_ACC_EXCL, H5P_DEFAULT, fapl), name, "already exists");
    check_h5(name);
    H5Pclose(fapl);
    free(name);

    char *missing = tu_shm_name("bad-missing");
    fapl = st_fapl(missing, 65536, H5TIER_SHM_KEEP);
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDONLY, fapl), missing, "does not exist");
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDWR, fapl), missing, "does not exist");
    char ctl[300];
    snprintf(ctl, sizeof ctl, ".%s.h5tier", missing);
    CHECKF(st_shm_size(missing) < 0 && st_shm_size(ctl) < 0, "side effects: %lld %lld", (long long)st_shm_size(missing), (long long)st_shm_size(ctl));
    H5Pclose(fapl);
    free(missing);
}

/* Runs unprivileged: objects it cannot open must say "permission denied". */
static int perm_checks(const char *foreign)
{
    tu_h5_quiet();
    if (foreign) { /* created 0600 by another user */
        hid_t fapl = st_fapl(foreign, 65536, H5TIER_SHM_KEEP);
        EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDONLY, fapl), foreign, "permission denied opening it for reading");
        EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDWR, fapl), foreign, "permission denied opening it for writing");
        H5Pclose(fapl);
    }
    char *name = tu_shm_name("bad-perm");
    make_h5(name, 0400);
    hid_t fapl = st_fapl(name, 65536, H5TIER_SHM_KEEP);
    EXPECT_FAIL(H5Fopen("x.h5", H5F_ACC_RDWR, fapl), name, "permission denied opening it for writing");
    check_h5(name); /* readable and intact */
    H5Pclose(fapl);
    free(name);
    printf("permission checks passed as uid %d\n", (int)geteuid());
    return 0;
}

static void permissions(void)
{
    if (geteuid() != 0) {
        perm_checks(NULL);
        return;
    }
    char *name = tu_shm_name("bad-root");
    make_h5(name, 0600);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = 0;
    char out[8192];
    int st = tu_sh(out, sizeof out, "'%s' perm-child %s", exe, name);
    CHECKF(st == 0 && strstr(out, "permission checks passed as uid 65534"), "unprivileged child (%d): %s", st, out);
    check_h5(name);
    free(name);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "perm-child")) {
        /* drop to nobody before any HDF5 call; TMPDIR for the child's own temp files */
        CHECK(setgid(65534) == 0 && setuid(65534) == 0);
        return perm_checks(argv[2]);
    }
    tu_h5_quiet();
    bad_names();
    not_hdf5();
    truncated();
    reader_writes_and_missing();
    permissions();
    tu_log("ok");
    return 0;
}
