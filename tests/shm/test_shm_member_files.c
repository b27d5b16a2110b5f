/*
 * Proves that the shm driver works as the member driver of family, split
 * and multi files (issue 8, item 15): for each, a file whose members are shm
 * objects is created (groups, a 256 KiB dataset spanning many 64 KiB family
 * members, an attribute), closed, reopened read-only and read back, reopened
 * read-write and extended, reopened again and compared value by value with
 * the same file made with sec2 members on disk; `h5dump --filedriver=...`
 * reads the members in /dev/shm.  Before the fix family member 0 was refused
 * as truncated (its superblock counts the whole family) and members without
 * an HDF5 signature (family members 1.., split's raw file, multi's data
 * members) as "not an HDF5 file", so a family could not be reopened and split
 * reads failed.  A standalone object that is truncated or holds no HDF5 file
 * is still refused with the driver's message (the leniency is for members
 * only): checked at the end.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmtest.h"

#define NBIG (64 * 1024)   /* ints: 256 KiB */
#define MEMB_SIZE (64 * 1024)

enum kind { FAMILY, SPLIT, MULTI };
static const char *kind_name[] = {"family", "split", "multi"};

static int big[NBIG], big2[NBIG];

/* A fapl for kind with members on memb (a sec2 or shm fapl). */
static int latest; /* files in the latest format (superblock v3: the driver is named in an extension) */

static hid_t kind_fapl(enum kind k, hid_t memb)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(fapl >= 0);
    if (latest)
        CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0);
    if (k == FAMILY) {
        CHECK(H5Pset_fapl_family(fapl, MEMB_SIZE, memb) >= 0);
    } else if (k == SPLIT) {
        CHECK(H5Pset_fapl_split(fapl, "-m.h5", memb, "-r.h5", memb) >= 0);
    } else {
        hid_t fapls[H5FD_MEM_NTYPES];
        for (int i = 0; i < H5FD_MEM_NTYPES; i++)
            fapls[i] = memb;
        CHECK(H5Pset_fapl_multi(fapl, NULL, fapls, NULL, NULL, 1) >= 0);
    }
    return fapl;
}

static void create(hid_t fapl, const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECKF(f >= 0, "H5Fcreate %s: %s", path, st_errstack());
    hid_t g = H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(g >= 0);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){NBIG}, NULL);
    hid_t d = H5Dcreate2(g, "big", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, big) >= 0);
    hid_t asp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(d, "answer", H5T_NATIVE_INT, asp, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Awrite(a, H5T_NATIVE_INT, (int[]){42}) >= 0);
    H5Aclose(a);
    H5Sclose(asp);
    H5Dclose(d);
    H5Sclose(sp);
    H5Gclose(g);
    CHECK(H5Fclose(f) >= 0);
}

static void read_check(hid_t fapl, const char *path, int extended, const char *what)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    CHECKF(f >= 0, "%s: reopen %s read-only: %s", what, path, st_errstack());
    int *buf = malloc(sizeof big);
    CHECK(buf);
    hid_t d = H5Dopen2(f, "g/big", H5P_DEFAULT);
    CHECKF(d >= 0, "%s: open g/big: %s", what, st_errstack());
    memset(buf, 0, sizeof big);
    CHECKF(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "%s: read g/big: %s", what,
           st_errstack());
    CHECKF(memcmp(buf, big, sizeof big) == 0, "%s: g/big differs", what);
    int v = 0;
    hid_t a = H5Aopen(d, "answer", H5P_DEFAULT);
    CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_INT, &v) >= 0 && v == 42);
    H5Aclose(a);
    H5Dclose(d);
    if (extended) {
        d = H5Dopen2(f, "more", H5P_DEFAULT);
        CHECKF(d >= 0, "%s: open /more: %s", what, st_errstack());
        memset(buf, 0, sizeof big);
        CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        CHECKF(memcmp(buf, big2, sizeof big2) == 0, "%s: /more differs", what);
        H5Dclose(d);
    }
    free(buf);
    CHECK(H5Fclose(f) >= 0);
}

static void extend(hid_t fapl, const char *path, const char *what)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    CHECKF(f >= 0, "%s: reopen %s read-write: %s", what, path, st_errstack());
    hid_t sp = H5Screate_simple(1, (hsize_t[]){NBIG}, NULL);
    hid_t d = H5Dcreate2(f, "more", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECKF(d >= 0, "%s: create /more: %s", what, st_errstack());
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, big2) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    CHECK(H5Fclose(f) >= 0);
}

/* The member names of kind for base; returns the count (objects that exist
 * in dir). */
static int members(enum kind k, const char *dir, const char *base, char names[][256], int max)
{
    int n = 0;
    if (k == FAMILY) {
        for (int i = 0; i < max; i++) {
            char p[600];
            snprintf(names[n], 256, base, i);
            snprintf(p, sizeof p, "%s/%s", dir, names[n]);
            if (access(p, F_OK) != 0)
                break;
            n++;
        }
        return n;
    }
    const char *sfx[] = {"-m.h5", "-r.h5"};
    const char *msfx[] = {"-s.h5", "-b.h5", "-r.h5", "-g.h5", "-l.h5", "-o.h5"};
    int cnt = k == SPLIT ? 2 : 6;
    for (int i = 0; i < cnt; i++) {
        char p[600];
        snprintf(names[n], 256, "%s%s", base, k == SPLIT ? sfx[i] : msfx[i]);
        snprintf(p, sizeof p, "%s/%s", dir, names[n]);
        if (access(p, F_OK) == 0)
            n++;
    }
    return n;
}

static void run(enum kind k)
{
    char what[64];
    snprintf(what, sizeof what, "%s%s", kind_name[k], latest ? " (latest format)" : "");
    char base[128];
    if (k == FAMILY)
        snprintf(base, sizeof base, "h5t-memb-fam%s-%d-%%d.h5", latest ? "L" : "", (int)getpid());
    else
        snprintf(base, sizeof base, "h5t-memb-%s%s-%d", kind_name[k], latest ? "L" : "", (int)getpid());
    char names[64][256];
    /* register every possible member for removal at exit */
    if (k == FAMILY) {
        for (int i = 0; i < 64; i++) {
            char m[256];
            snprintf(m, sizeof m, base, i);
            tu_shm_cleanup(m);
        }
    } else {
        const char *all[] = {"-m.h5", "-r.h5", "-s.h5", "-b.h5", "-g.h5", "-l.h5", "-o.h5"};
        for (int i = 0; i < 7; i++) {
            char m[256];
            snprintf(m, sizeof m, "%s%s", base, all[i]);
            tu_shm_cleanup(m);
        }
    }

    /* reference: sec2 members on disk */
    hid_t sec2 = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_sec2(sec2) >= 0);
    hid_t rfapl = kind_fapl(k, sec2);
    char rpath[600];
    snprintf(rpath, sizeof rpath, "%s/%s", tu_tmpdir(), base);
    create(rfapl, rpath);
    int nref1 = members(k, tu_tmpdir(), base, names, 64);
    extend(rfapl, rpath, "sec2 reference");
    read_check(rfapl, rpath, 1, "sec2 reference");
    int nref = members(k, tu_tmpdir(), base, names, 64);

    /* shm members */
    hid_t shm = st_fapl(NULL, 1 << 20, H5TIER_SHM_KEEP);
    hid_t fapl = kind_fapl(k, shm);
    create(fapl, base);
    int n = members(k, st_shm_dir(), base, names, 64);
    CHECKF(n == nref1, "%s: %d members in /dev/shm after create, %d with sec2", what, n, nref1);
    read_check(fapl, base, 0, what);
    extend(fapl, base, what);
    read_check(fapl, base, 1, what);
    n = members(k, st_shm_dir(), base, names, 64);
    tu_log("%s: %d shm members (sec2: %d), reopened read-only, extended read-write, read back", what, n, nref);
    CHECKF(n == nref, "%s: %d members in /dev/shm, %d with sec2", what, n, nref);
    if (k == FAMILY) { /* the same bytes as sec2's members, member by member */
        for (int i = 0; i < n; i++) {
            char a[700], b[700], nm[256];
            snprintf(nm, sizeof nm, "%.255s", names[i]);
            snprintf(a, sizeof a, "%s", st_shm_path(nm));
            snprintf(b, sizeof b, "%.300s/%.255s", tu_tmpdir(), nm);
            struct stat sa, sb;
            CHECK(stat(a, &sa) == 0 && stat(b, &sb) == 0);
            CHECKF(sa.st_size == sb.st_size, "member %d: %lld bytes in shm, %lld with sec2", i, (long long)sa.st_size,
                   (long long)sb.st_size);
        }
    }

    /* h5dump reads the shm members with the built-in driver */
    char out[1 << 16], arg[600];
    snprintf(arg, sizeof arg, "%s", st_shm_path(base));
    int st = tu_sh(out, sizeof out, "h5dump --filedriver=%s -H %s", kind_name[k], arg);
    CHECKF(st == 0 && strstr(out, "DATASET \"big\"") && strstr(out, "DATASET \"more\""), "h5dump %s (%d): %.2000s",
           what, st, out);
    st = tu_sh(out, sizeof out, "h5dump --filedriver=%s -a /g/big/answer %s", kind_name[k], arg);
    CHECKF(st == 0 && strstr(out, "42"), "h5dump %s attribute (%d): %.2000s", what, st, out);

    /* members copied into /dev/shm by other means (no control objects):
     * read with H5TIER_SHM_MEMBER */
    if (!latest) {
        char cbase[128];
        if (k == FAMILY)
            snprintf(cbase, sizeof cbase, "h5t-memb-cp%d-%d-%%d.h5", (int)k, (int)getpid());
        else
            snprintf(cbase, sizeof cbase, "h5t-memb-cp%d-%d", (int)k, (int)getpid());
        char cnames[64][256];
        n = members(k, tu_tmpdir(), base, names, 64);
        CHECK(members(k, tu_tmpdir(), cbase, cnames, 64) == 0);
        for (int i = 0; i < n; i++) {
            /* the same member with the copy's base name */
            char src[600], dst[600];
            snprintf(src, sizeof src, "%.300s/%.250s", tu_tmpdir(), names[i]);
            if (k == FAMILY)
                snprintf(cnames[i], 256, cbase, i);
            else
                snprintf(cnames[i], 256, "%s%s", cbase, names[i] + strlen(base));
            char nm[256];
            snprintf(nm, sizeof nm, "%.255s", cnames[i]);
            snprintf(dst, sizeof dst, "%s", st_shm_path(nm));
            tu_shm_cleanup(cnames[i]);
            CHECKF(tu_sh(out, 4096, "cp '%s' '%s'", src, dst) == 0, "cp: %.4000s", out);
        }
        h5tier_shm_config_t cfg;
        h5tier_shm_config_init(&cfg);
        cfg.flags |= H5TIER_SHM_MEMBER;
        hid_t m = H5Pcreate(H5P_FILE_ACCESS);
        CHECK(H5Pset_fapl_shm(m, &cfg) >= 0);
        hid_t cf = kind_fapl(k, m);
        read_check(cf, cbase, 1, "copied members with H5TIER_SHM_MEMBER");
        H5Pclose(cf);
        H5Pclose(m);
        tu_log("%s: %d members copied into /dev/shm read back with H5TIER_SHM_MEMBER", what, n);
    }

    H5Pclose(fapl);
    H5Pclose(shm);
    H5Pclose(rfapl);
    H5Pclose(sec2);
}

/* A standalone object is still checked strictly. */
static void standalone_still_strict(void)
{
    char *name = tu_shm_name("memb-strict");
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    create(fapl, "x.h5");
    off_t sz = st_shm_size(name);
    char p[512];
    snprintf(p, sizeof p, "%s", st_shm_path(name));
    CHECK(truncate(p, sz / 2) == 0);
    H5E_BEGIN_TRY
    {
        CHECK(H5Fopen("x.h5", H5F_ACC_RDONLY, fapl) < 0);
    }
    H5E_END_TRY;
    CHECKF(strstr(h5tier_errmsg(), "truncated") && strstr(h5tier_errmsg(), name), "errmsg: %s", h5tier_errmsg());
    int fd = open(p, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && write(fd, "not hdf5 at all", 15) == 15);
    close(fd);
    H5E_BEGIN_TRY
    {
        CHECK(H5Fopen("x.h5", H5F_ACC_RDWR, fapl) < 0);
    }
    H5E_END_TRY;
    CHECKF(strstr(h5tier_errmsg(), "not an HDF5 file") && strstr(h5tier_errmsg(), name), "errmsg: %s",
           h5tier_errmsg());
    H5Pclose(fapl);
    tu_log("standalone objects: truncated and non-HDF5 objects still refused by the driver");
}

int main(void)
{
    for (int i = 0; i < NBIG; i++) {
        big[i] = i * 7 + 1;
        big2[i] = -i;
    }
    run(FAMILY);
    run(SPLIT);
    run(MULTI);
    latest = 1;
    run(FAMILY);
    run(SPLIT);
    run(MULTI);
    standalone_still_strict();
    return 0;
}
