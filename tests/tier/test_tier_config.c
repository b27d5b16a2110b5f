/*
 * Proves the configuration string is checked token by token: every bad
 * token (typo in a key, unknown policy, bad unit, impossible size, page not
 * a power of two, dirty bound above half the RAM tier, ssd without a size,
 * keep without an ssd tier, too long) is refused by h5tier_tier_config_check
 * and by H5Pset_fapl_tier with a message that quotes the token and says what
 * is allowed; no configuration gives the documented defaults; good strings
 * normalise; H5TIER_CONFIG is used when the config is NULL, and a bad one
 * makes H5Pset_fapl_tier fail (never a crash or a silent default).
 */
#include <stdio.h>

#include "tiertest.h"

static void bad(const char *cfg, const char *want1, const char *want2)
{
    char canon[1024];
    int rc = h5tier_tier_config_check(cfg, canon, sizeof canon);
    CHECKF(rc < 0, "'%s' accepted: %s", cfg, canon);
    const char *m = h5tier_errmsg();
    CHECKF(strstr(m, want1), "'%s': message '%s' lacks '%s'", cfg, m, want1);
    CHECKF(!want2 || strstr(m, want2), "'%s': message '%s' lacks '%s'", cfg, m, want2);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECKF(H5Pset_fapl_tier(fapl, cfg) < 0, "H5Pset_fapl_tier accepted '%s'", cfg);
    H5Pclose(fapl);
    tu_log("ok: '%s' -> %s", cfg, m);
}

int main(void)
{
    tu_h5_quiet();
    bad("rma=1G", "'rma=1G'", "did you mean 'ram'");
    bad("ram=2GiB evict=lfru", "'evict=lfru'", "allowed: lru, lfu");
    bad("ram=2Gx", "'ram=2Gx'", "size");
    bad("ram=lots", "'ram=lots'", "size like");
    bad("page=3000", "'page=3000'", "power of two");
    bad("page=128MiB", "power of two from 4KiB to 64MiB", NULL);
    bad("ram=1MiB page=512KiB", "at least 4 pages", NULL);
    bad("ram=64MiB dirty=48MiB", "'dirty=", "half the RAM tier");
    bad("ssd=/tmp", "'ssd=/tmp'", "ssd=DIRECTORY:SIZE");
    bad("ssd=/tmp:", "'ssd=/tmp:'", "ssd=DIRECTORY:SIZE");
    bad("ssd=/tmp:1", "at least one page", NULL);
    bad("keep=yes", "needs an ssd tier", NULL);
    bad("keep=maybe", "'keep=maybe'", "yes or no");
    bad("place=fast", "'place=fast'", "fastest, roundrobin, random");
    bad("prefetch=always", "'prefetch=always'", "off, seq, auto");
    bad("flush=later", "'flush=later'", "async, sync");
    bad("depth=0", "'depth=0'", "1 to 1024");
    bad("ram", "'ram'", "missing value");
    bad("ram=", "'ram='", "empty value");
    bad("hello", "'hello'", "KEY=VALUE");
    bad("ssd=/a:1G ssd=/b:1G ssd=/c:1G ssd=/d:1G", "at most 3 ssd tiers", NULL);
    char longcfg[5000];
    memset(longcfg, 'a', sizeof longcfg - 1);
    longcfg[sizeof longcfg - 1] = 0;
    bad(longcfg, "longer than", NULL);

    char canon[1024];
    CHECK_OK(h5tier_tier_config_check(NULL, canon, sizeof canon));
    CHECKF(strstr(canon, "page=262144B") && strstr(canon, "evict=lru") && strstr(canon, "prefetch=auto") &&
               strstr(canon, "flush=async") && strstr(canon, "place=fastest"),
           "defaults: %s", canon);
    CHECK_OK(h5tier_tier_config_check("  ", canon, sizeof canon));
    CHECK_OK(h5tier_tier_config_check("ram=2GiB ssd=/local/cache:20GiB page=1MiB evict=lru prefetch=auto flush=async",
                                      canon, sizeof canon));
    CHECKF(strstr(canon, "ram=2147483648B") && strstr(canon, "ssd=/local/cache:21474836480B") &&
               strstr(canon, "page=1048576B") && strstr(canon, "dirty=268435456B"),
           "normalised: %s", canon);
    CHECK_OK(h5tier_tier_config_check("RAM=64MiB;Evict=LFU;bypass=off keep=no warn=off", canon, sizeof canon));
    CHECKF(strstr(canon, "evict=lfu") && strstr(canon, "bypass=off"), "%s", canon);

    /* H5TIER_CONFIG when config is NULL */
    setenv("H5TIER_CONFIG", "evict=nope", 1);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_tier(fapl, NULL) < 0);
    CHECK(strstr(h5tier_errmsg(), "'evict=nope'"));
    setenv("H5TIER_CONFIG", "ram=8MiB page=64KiB", 1);
    CHECK(H5Pset_fapl_tier(fapl, NULL) >= 0);
    char got[256];
    CHECK(H5Pget_fapl_tier(fapl, got, sizeof got) >= 0);
    CHECKF(!strcmp(got, "ram=8MiB page=64KiB"), "%s", got);
    CHECK(H5Pget_driver(fapl) == h5tier_tier_driver_id());
    hid_t f = H5Fcreate(tu_path("env.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
    return 0;
}
