/*
 * Proves selective and adaptive buffering do what the statistics say, with
 * the data always right: (1) a NOCACHE hint on a dxpl sends H5Dwrite/H5Dread
 * of uncached pages straight to the backing file (bypass_bytes grows, the RAM
 * tier does not), a HOT hint keeps a dataset's pages in RAM while a COLD one
 * streams through a small RAM tier; bad hints are refused; (2) sequential
 * reads trigger read-ahead whose pages are then used (accuracy > 50%) and
 * strided reads trigger strided read-ahead (prefetch hits > 0), and with
 * prefetch=off nothing is read ahead; a random access order repeated three
 * times is read ahead by prefetch=learn (page-transition statistics) and
 * not by auto; evict=2q keeps a re-used set through a one-time scan that
 * flushes it out under lru; (3) writes of at least `bypass` bytes
 * skip the cache; (4) the statistics API refuses a file of another driver.
 */
#include <errno.h>
#include <stdio.h>

#include "tiertest.h"

#define N (1 << 20) /* ints: 4 MiB */

static hid_t make(const char *path, hid_t fapl, hid_t *d)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hsize_t n = N;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    *d = H5Dcreate2(f, "d", H5T_NATIVE_INT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(*d >= 0);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return f;
}

static void rw(hid_t d, hid_t dxpl, hsize_t off, hsize_t cnt, int *buf, int write)
{
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    if (write)
        CHECK(H5Dwrite(d, H5T_NATIVE_INT, ms, fs, dxpl, buf) >= 0);
    else
        CHECK(H5Dread(d, H5T_NATIVE_INT, ms, fs, dxpl, buf) >= 0);
    H5Sclose(fs);
    H5Sclose(ms);
}

int main(void)
{
    tu_h5_quiet();
    int *buf = malloc(N * sizeof(int)), *rb = malloc(N * sizeof(int));
    for (int i = 0; i < N; i++)
        buf[i] = i ^ 0x5a5a;
    h5tier_tier_stats_t st;

    /* (1) nocache */
    hid_t fapl = tt_fapl("ram=8MiB page=64KiB bypass=off");
    hid_t d, f = make(tu_path("h1.h5"), fapl, &d);
    hid_t nc = H5Pcreate(H5P_DATASET_XFER);
    CHECK_OK(h5tier_tier_dxpl_hint(nc, H5TIER_HINT_NOCACHE));
    CHECK(h5tier_tier_dxpl_hint(nc, (h5tier_tier_hint_t)9) < 0);
    CHECK(strstr(h5tier_errmsg(), "HOT, COLD or NOCACHE"));
    CHECK_OK(h5tier_tier_stats(f, &st));
    uint64_t ram0 = st.tier[0].bytes_in;
    rw(d, nc, 0, N, buf, 1);
    CHECK_OK(h5tier_tier_stats(f, &st));
    CHECKF(st.bypass_bytes >= (uint64_t)N * 4 - 65536, "nocache write bypassed %llu bytes",
           (unsigned long long)st.bypass_bytes);
    CHECKF(st.tier[0].bytes_in - ram0 < 65536 * 4, "nocache write cached %llu bytes",
           (unsigned long long)(st.tier[0].bytes_in - ram0));
    rw(d, nc, 0, N, rb, 0);
    CHECK(memcmp(rb, buf, N * sizeof(int)) == 0);
    CHECK_OK(h5tier_tier_stats(f, &st));
    CHECKF(st.tier[0].used < 1 << 20, "nocache read cached %llu bytes", (unsigned long long)st.tier[0].used);
    /* default dxpl: now it is cached */
    rw(d, H5P_DEFAULT, 0, N / 4, rb, 0);
    CHECK(memcmp(rb, buf, N) == 0);
    CHECK_OK(h5tier_tier_stats(f, &st));
    CHECKF(st.tier[0].used >= (uint64_t)N, "default read cached only %llu bytes", (unsigned long long)st.tier[0].used);
    H5Dclose(d);
    CHECK(H5Fclose(f) >= 0);
    tu_log("ok: nocache reads and writes bypass the cache, default ones fill it");

    /* hot vs cold in a RAM tier of 1 MiB: the hot quarter-MiB region stays */
    H5Pclose(fapl);
    fapl = tt_fapl("ram=1MiB page=16KiB bypass=off evict=lru prefetch=off");
    f = make(tu_path("h2.h5"), fapl, &d);
    rw(d, H5P_DEFAULT, 0, N, buf, 1);
    H5Dclose(d);
    CHECK(H5Fclose(f) >= 0);
    f = H5Fopen(tu_path("h2.h5"), H5F_ACC_RDONLY, fapl);
    d = H5Dopen2(f, "d", H5P_DEFAULT);
    hid_t hot = H5Pcreate(H5P_DATASET_XFER), cold = H5Pcreate(H5P_DATASET_XFER);
    CHECK_OK(h5tier_tier_dxpl_hint(hot, H5TIER_HINT_HOT));
    CHECK_OK(h5tier_tier_dxpl_hint(cold, H5TIER_HINT_COLD));
    rw(d, hot, 0, 65536, rb, 0); /* 256 KiB hot */
    for (hsize_t off = 65536; off < N; off += 16384) /* 3.75 MiB cold stream */
        rw(d, cold, off, 16384, rb, 0);
    CHECK_OK(h5tier_tier_stats(f, &st));
    uint64_t miss0 = st.tier[0].misses;
    rw(d, H5P_DEFAULT, 0, 65536, rb, 0);
    CHECK(memcmp(rb, buf, 65536 * sizeof(int)) == 0);
    CHECK_OK(h5tier_tier_stats(f, &st));
    CHECKF(st.tier[0].misses == miss0, "hot pages were evicted by the cold stream (%llu misses)",
           (unsigned long long)(st.tier[0].misses - miss0));
    H5Dclose(d);
    H5Fclose(f);
    tu_log("ok: hot pages survive a cold stream through a small RAM tier");

    /* (2) read-ahead: sequential, strided, off */
    const char *modes[] = {"ram=16MiB page=16KiB prefetch=auto", "ram=16MiB page=16KiB prefetch=off"};
    for (int m = 0; m < 2; m++) {
        H5Pclose(fapl);
        fapl = tt_fapl(modes[m]);
        f = H5Fopen(tu_path("h2.h5"), H5F_ACC_RDONLY, fapl);
        d = H5Dopen2(f, "d", H5P_DEFAULT);
        for (hsize_t off = 0; off < N / 2; off += 2048) /* 8 KiB sequential reads */
            rw(d, H5P_DEFAULT, off, 2048, rb + off, 0);
        CHECK(memcmp(rb, buf, N / 2 * sizeof(int)) == 0);
        CHECK_OK(h5tier_tier_stats(f, &st));
        uint64_t pp = st.prefetch_pages, ph = st.prefetch_hits;
        for (hsize_t off = N / 2; off + 4096 <= N; off += 16384) /* 16 KiB every 64 KiB */
            rw(d, H5P_DEFAULT, off, 4096, rb + off, 0);
        for (hsize_t off = N / 2; off + 4096 <= N; off += 16384)
            CHECK(memcmp(rb + off, buf + off, 4096 * sizeof(int)) == 0);
        h5tier_tier_stats_t s2;
        CHECK_OK(h5tier_tier_stats(f, &s2));
        if (m == 0) {
            CHECKF(pp > 0 && ph * 2 > pp, "sequential: %llu read ahead, %llu used", (unsigned long long)pp,
                   (unsigned long long)ph);
            CHECKF(s2.prefetch_hits > ph, "strided: no read-ahead page used (%llu ahead)",
                   (unsigned long long)(s2.prefetch_pages - pp));
            tu_log("ok: sequential read-ahead %llu pages, %llu used; strided: %llu more, %llu used",
                   (unsigned long long)pp, (unsigned long long)ph, (unsigned long long)(s2.prefetch_pages - pp),
                   (unsigned long long)(s2.prefetch_hits - ph));
        } else {
            CHECKF(s2.prefetch_pages == 0, "prefetch=off read %llu pages ahead", (unsigned long long)s2.prefetch_pages);
            tu_log("ok: prefetch=off reads nothing ahead");
        }
        H5Dclose(d);
        H5Fclose(f);
    }

    /* (2b) a repeating random pattern: only the learned predictor gets it */
    uint64_t hits[2];
    const char *lmodes[] = {"ram=256KiB page=16KiB prefetch=auto", "ram=256KiB page=16KiB prefetch=learn"};
    for (int m = 0; m < 2; m++) {
        H5Pclose(fapl);
        fapl = tt_fapl(lmodes[m]);
        f = H5Fopen(tu_path("h2.h5"), H5F_ACC_RDONLY, fapl);
        d = H5Dopen2(f, "d", H5P_DEFAULT);
        uint64_t s = 42;
        int pos[64];
        for (int i = 0; i < 64; i++)
            pos[i] = i * 4; /* 64 blocks of 16 KiB, 64 KiB apart */
        for (int i = 63; i > 0; i--) {
            int j = (int)(tt_rand(&s) % (uint64_t)(i + 1)), t = pos[i];
            pos[i] = pos[j];
            pos[j] = t;
        }
        for (int pass = 0; pass < 3; pass++)
            for (int i = 0; i < 64; i++) {
                hsize_t off = (hsize_t)pos[i] * 4096;
                rw(d, H5P_DEFAULT, off, 4096, rb, 0);
                CHECKF(memcmp(rb, buf + off, 4096 * sizeof(int)) == 0, "learned pattern: block %d", pos[i]);
            }
        CHECK_OK(h5tier_tier_stats(f, &st));
        hits[m] = st.prefetch_hits;
        tu_log("%s: %llu read ahead, %llu used", lmodes[m], (unsigned long long)st.prefetch_pages,
               (unsigned long long)st.prefetch_hits);
        H5Dclose(d);
        H5Fclose(f);
    }
    CHECKF(hits[1] >= 80 && hits[1] > 4 * hits[0], "learned predictor: %llu pages used (auto: %llu)",
           (unsigned long long)hits[1], (unsigned long long)hits[0]);
    tu_log("ok: the learned page-transition predictor reads a repeating random pattern ahead");

    /* (2c) scan resistance: a re-used set survives a one-time scan under 2q, not lru */
    uint64_t miss2[2];
    const char *emodes[] = {"ram=512KiB page=16KiB prefetch=off evict=lru", "ram=512KiB page=16KiB prefetch=off evict=2q"};
    for (int m = 0; m < 2; m++) {
        H5Pclose(fapl);
        fapl = tt_fapl(emodes[m]);
        f = H5Fopen(tu_path("h2.h5"), H5F_ACC_RDONLY, fapl);
        d = H5Dopen2(f, "d", H5P_DEFAULT);
        for (int r = 0; r < 2; r++) /* 128 KiB hot set, used twice */
            for (hsize_t off = 0; off < 32768; off += 4096)
                rw(d, H5P_DEFAULT, off, 4096, rb, 0);
        for (hsize_t off = 65536; off < N; off += 4096) /* a 3.75 MiB one-time scan */
            rw(d, H5P_DEFAULT, off, 4096, rb, 0);
        CHECK_OK(h5tier_tier_stats(f, &st));
        uint64_t m0 = st.tier[0].misses;
        for (hsize_t off = 0; off < 32768; off += 4096)
            rw(d, H5P_DEFAULT, off, 4096, rb + off, 0);
        CHECK(memcmp(rb, buf, 32768 * sizeof(int)) == 0);
        CHECK_OK(h5tier_tier_stats(f, &st));
        miss2[m] = st.tier[0].misses - m0;
        H5Dclose(d);
        H5Fclose(f);
    }
    CHECKF(miss2[1] == 0 && miss2[0] > 0, "after a scan, hot set misses: lru %llu, 2q %llu",
           (unsigned long long)miss2[0], (unsigned long long)miss2[1]);
    tu_log("ok: 2q keeps a re-used set through a one-time scan (lru: %llu misses)", (unsigned long long)miss2[0]);

    /* (3) large writes bypass */
    H5Pclose(fapl);
    fapl = tt_fapl("ram=8MiB page=64KiB bypass=1MiB");
    f = make(tu_path("h3.h5"), fapl, &d);
    rw(d, H5P_DEFAULT, 0, N, buf, 1);
    CHECK_OK(h5tier_tier_stats(f, &st));
    CHECKF(st.bypass_bytes >= (uint64_t)N * 4 - 2 * 65536, "a 4 MiB write bypassed only %llu bytes",
           (unsigned long long)st.bypass_bytes);
    rw(d, H5P_DEFAULT, 0, N, rb, 0);
    CHECK(memcmp(rb, buf, N * sizeof(int)) == 0);
    H5Dclose(d);
    CHECK(H5Fclose(f) >= 0);
    tu_log("ok: a write of at least bypass= bytes skips the cache");

    /* (4) statistics of a non-tier file */
    hid_t s2 = tt_fapl(NULL);
    f = H5Fopen(tu_path("h3.h5"), H5F_ACC_RDONLY, s2);
    CHECK(h5tier_tier_stats(f, &st) == -EINVAL);
    H5Fclose(f);
    H5Pclose(s2);
    H5Pclose(fapl);
    H5Pclose(nc);
    H5Pclose(hot);
    H5Pclose(cold);
    free(buf);
    free(rb);
    return 0;
}
