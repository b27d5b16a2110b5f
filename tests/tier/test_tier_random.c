/*
 * Proves the tier driver never loses or invents a byte: seeded random
 * workloads (unaligned writes from 1 B to 3x the page, overlapping, small
 * metadata-like ones, reads checked after every operation, flushes) run
 * through the tier driver and through sec2; the files after close are
 * identical to each other and to an in-memory model.  The configurations
 * cover pages smaller and larger than the writes, RAM tiers of 4 pages that
 * force eviction on nearly every operation, an SSD tier smaller than the
 * file, LRU and LFU, fastest/round-robin/random placement, read-ahead on and
 * off, synchronous and asynchronous write-back, the streaming bypass, and
 * a dirty bound of one page, and a kept SSD tier (the file is then
 * reopened twice through the kept cache and read at random: never stale).  Then an HDF5-level workload (chunked and
 * contiguous datasets, random hyperslab writes and reads, attributes)
 * through both drivers gives byte-identical files, and h5dump reads the tier
 * file.
 */
#include <stdio.h>

#include "tiertest.h"

static void vfd_case(const char *cfg, uint64_t seed, int nops, size_t span, size_t maxw)
{
    char cfgx[2048];
    snprintf(cfgx, sizeof cfgx, cfg, tu_tmpdir());
    const char *pt = tu_path("t.bin"), *ps = tu_path("s.bin");
    static char pts[4096], pss[4096];
    snprintf(pts, sizeof pts, "%s", pt);
    snprintf(pss, sizeof pss, "%s", ps);
    hid_t ft = tt_fapl(cfgx), fs = tt_fapl(NULL);
    size_t lt, ls;
    unsigned char *mt = tt_vfd_workload(pts, ft, seed, nops, span, maxw, &lt);
    unsigned char *ms = tt_vfd_workload(pss, fs, seed, nops, span, maxw, &ls);
    CHECK(lt == ls && memcmp(mt, ms, lt) == 0);
    tt_check_model(pts, mt, lt);
    tt_check_model(pss, ms, ls);
    CHECKF(tt_same_files(pts, pss), "config '%s' seed %llu", cfgx, (unsigned long long)seed);
    if (strstr(cfgx, "keep=yes")) { /* reopen twice: the kept cache is used, never stale */
        unsigned char *rb = malloc(lt);
        for (int round = 0; round < 2; round++) {
            H5FD_t *f = H5FDopen(pts, H5F_ACC_RDONLY, ft, HADDR_UNDEF);
            CHECK(f);
            CHECK(H5FDset_eoa(f, H5FD_MEM_DRAW, lt) >= 0);
            uint64_t s = seed * 7 + (uint64_t)round;
            for (int i = 0; i < 300; i++) {
                size_t off = (size_t)(tt_rand(&s) % lt), len = 1 + (size_t)(tt_rand(&s) % 20000);
                if (off + len > lt)
                    len = lt - off;
                CHECK(H5FDread(f, H5FD_MEM_DRAW, H5P_DEFAULT, off, len, rb) >= 0);
                CHECKF(memcmp(rb, mt + off, len) == 0, "kept reopen %d: read %zu at %zu differs", round, len, off);
            }
            CHECK(H5FDclose(f) >= 0);
        }
        free(rb);
    }
    free(mt);
    free(ms);
    H5Pclose(ft);
    H5Pclose(fs);
    tu_log("ok: %s (seed %llu, %d ops, %zu KiB span)", cfgx, (unsigned long long)seed, nops, span >> 10);
}

#define N 1000
#define M 200000

static void h5_workload(hid_t fapl, const char *path, uint64_t seed)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    CHECKF(file >= 0, "H5Fcreate %s", path);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t dcplc = H5Pcopy(dcpl);
    H5Pset_chunk(dcplc, 1, (hsize_t[]){4096});
    hid_t sp = H5Screate_simple(1, (hsize_t[]){M}, NULL);
    hid_t d[2];
    d[0] = H5Dcreate2(file, "contig", H5T_NATIVE_INT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    d[1] = H5Dcreate2(file, "chunked", H5T_NATIVE_INT, sp, H5P_DEFAULT, dcplc, H5P_DEFAULT);
    CHECK(d[0] >= 0 && d[1] >= 0);
    int *model[2] = {calloc(M, sizeof(int)), calloc(M, sizeof(int))};
    int *buf = malloc(M * sizeof(int));
    uint64_t s = seed;
    for (int i = 0; i < 300; i++) {
        int k = (int)(tt_rand(&s) % 2);
        hsize_t off = tt_rand(&s) % M, cnt = 1 + tt_rand(&s) % 20000;
        if (off + cnt > M)
            cnt = M - off;
        hid_t ms = H5Screate_simple(1, &cnt, NULL), fs = H5Dget_space(d[k]);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
        if (tt_rand(&s) % 3) {
            for (hsize_t j = 0; j < cnt; j++)
                buf[j] = (int)tt_rand(&s);
            CHECK(H5Dwrite(d[k], H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, buf) >= 0);
            memcpy(model[k] + off, buf, cnt * sizeof(int));
        } else {
            CHECK(H5Dread(d[k], H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, buf) >= 0);
            CHECKF(memcmp(buf, model[k] + off, cnt * sizeof(int)) == 0, "dataset %d read at %llu", k,
                   (unsigned long long)off);
        }
        H5Sclose(ms);
        H5Sclose(fs);
        if (i % 50 == 0) {
            char an[32];
            snprintf(an, sizeof an, "a%d", i);
            hid_t as = H5Screate(H5S_SCALAR);
            hid_t a = H5Acreate2(d[k], an, H5T_NATIVE_INT, as, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, H5T_NATIVE_INT, &i);
            H5Aclose(a);
            H5Sclose(as);
            H5Fflush(file, H5F_SCOPE_GLOBAL);
        }
    }
    for (int k = 0; k < 2; k++)
        H5Dclose(d[k]);
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Pclose(dcplc);
    H5Pclose(fcpl);
    CHECK(H5Fclose(file) >= 0);
    /* reopen and read everything back */
    file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    CHECK(file >= 0);
    const char *names[2] = {"contig", "chunked"};
    for (int k = 0; k < 2; k++) {
        hid_t ds = H5Dopen2(file, names[k], H5P_DEFAULT);
        CHECK(H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        CHECKF(memcmp(buf, model[k], M * sizeof(int)) == 0, "%s after reopen", names[k]);
        H5Dclose(ds);
    }
    CHECK(H5Fclose(file) >= 0);
    free(model[0]);
    free(model[1]);
    free(buf);
}

int main(void)
{
    const char *cfgs[] = {
        "ram=64KiB page=16KiB flush=sync",
        "ram=16KiB page=4KiB ssd=%s:64KiB prefetch=auto",
        "ram=1MiB page=256KiB ssd=%s:512KiB evict=lfu",
        "ram=256KiB page=64KiB ssd=%s:256KiB place=roundrobin dirty=64KiB",
        "ram=128KiB page=8KiB ssd=%s:64KiB ssd=%s:64KiB place=random evict=lfu prefetch=seq",
        "ram=8MiB page=1MiB bypass=1MiB",
        "ram=32KiB page=4KiB dirty=4KiB prefetch=off",
        "ram=64MiB page=64KiB",
    };
    uint64_t seed = 12345;
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        /* a two-ssd line gets the same directory twice */
        const char *two = strstr(cfgs[i], "ssd=%s:64KiB ssd=%s");
        if (two) {
            char d[4200];
            snprintf(d, sizeof d, "ram=128KiB page=8KiB ssd=%s:64KiB ssd=%s:64KiB place=random evict=lfu prefetch=seq",
                     tu_tmpdir(), tu_tmpdir());
            vfd_case(d, seed + i, N, 600000, 40000);
            continue;
        }
        vfd_case(cfgs[i], seed + i, N, 600000, 40000);
    }
    /* pages larger than every write, and writes many pages long */
    vfd_case("ram=4MiB page=1MiB", 99, N, 3000000, 3000);
    vfd_case("ram=64KiB page=4KiB ssd=%s:128KiB", 98, 400, 1500000, 400000);
    /* a kept SSD tier: promoted pages keep their kept copy until written */
    vfd_case("ram=32KiB page=4KiB ssd=%s:256KiB keep=yes", 97, N, 600000, 20000);
    vfd_case("ram=32KiB page=4KiB ssd=%s:256KiB keep=yes evict=lfu", 96, N, 600000, 20000);

    /* HDF5 level */
    char pt[4096], ps[4096], cfg[4200];
    snprintf(pt, sizeof pt, "%s", tu_path("h_tier.h5"));
    snprintf(ps, sizeof ps, "%s", tu_path("h_sec2.h5"));
    snprintf(cfg, sizeof cfg, "ram=256KiB page=16KiB ssd=%s:256KiB", tu_tmpdir());
    hid_t ft = tt_fapl(cfg), fs = tt_fapl(NULL);
    h5_workload(ft, pt, 7);
    h5_workload(fs, ps, 7);
    CHECK(tt_same_files(pt, ps));
    char out[4096];
    int st = tu_sh(out, sizeof out, "h5dump -H '%s' >/dev/null", pt);
    CHECKF(st == 0, "h5dump of the tier file: %s", out);
    H5Pclose(ft);
    H5Pclose(fs);
    tu_log("ok: HDF5 workload byte-identical to sec2");
    return 0;
}
