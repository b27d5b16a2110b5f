/*
 * tier/config.c -- the tier driver's configuration string:
 *
 *     ram=2GiB ssd=/local/cache:20GiB page=1MiB evict=lru prefetch=auto flush=async
 *
 * Settings are KEY=VALUE tokens separated by blanks (or ';').  Every token is
 * checked; an error quotes the bad token and lists what is allowed (with a
 * "did you mean" for a misspelt key).  Missing settings take the defaults.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tier/tier_internal.h"

#define MIN_PAGE ((uint64_t)4096)
#define MAX_PAGE ((uint64_t)64 << 20)
#define DEFAULT_PAGE ((uint64_t)256 << 10)

static const char *const keys[] = {"ram", "ssd", "page", "evict", "place", "prefetch", "depth",
                                   "flush", "dirty", "keep", "bypass", "warn", "stats"};
#define NKEYS (sizeof keys / sizeof keys[0])
#define ALLOWED_KEYS "ram, ssd, page, evict, place, prefetch, depth, flush, dirty, keep, bypass, warn, stats"

uint64_t h5tier__tier_default_ram(void)
{
    long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    uint64_t avail = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : ((uint64_t)1 << 30);
    uint64_t r = avail / 4;
    if (r < ((uint64_t)64 << 20))
        r = (uint64_t)64 << 20;
    if (r > ((uint64_t)4 << 30))
        r = (uint64_t)4 << 30;
    return r;
}

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 30 || lb > 30)
        return 99;
    unsigned d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            unsigned c = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            unsigned x = d[i - 1][j] + 1, y = d[i][j - 1] + 1;
            d[i][j] = c < x ? (c < y ? c : y) : (x < y ? x : y);
        }
    return d[la][lb];
}

static int bad(const char *tok, const char *fmt, const char *arg)
{
    char why[512];
    snprintf(why, sizeof why, fmt, arg);
    return h5tier__fail(EINVAL, "tier config: '%s': %s", tok, why);
}

static int size_value(const char *tok, const char *val, uint64_t *out, const char *what)
{
    int rc = h5tier_parse_size(val, out);
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", h5tier_errmsg());
        return h5tier__fail(-rc, "tier config: '%s': %s must be a size like 512MiB, 4k or 2GiB (%s)", tok, what,
                            why);
    }
    return 0;
}

static int choice(const char *tok, const char *val, const char *const *names, int n, const char *what, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcasecmp(val, names[i])) {
            *out = i;
            return 0;
        }
    char allowed[256] = "";
    for (int i = 0; i < n; i++) {
        strncat(allowed, names[i], sizeof allowed - strlen(allowed) - 1);
        if (i + 1 < n)
            strncat(allowed, ", ", sizeof allowed - strlen(allowed) - 1);
    }
    char why[512];
    snprintf(why, sizeof why, "unknown %s '%s' (allowed: %s)", what, val, allowed);
    return h5tier__fail(EINVAL, "tier config: '%s': %s", tok, why);
}

static int yesno(const char *tok, const char *val, int *out)
{
    static const char *const yes[] = {"yes", "on", "true", "1"}, *const no[] = {"no", "off", "false", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(val, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(val, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return bad(tok, "expected yes or no, got '%s'", val);
}

static int parse_token(char *tok, tier_cfg_t *c, int *ram_set, int *dirty_set, int *bypass_set)
{
    char orig[TIER_PATH_MAX + 64];
    snprintf(orig, sizeof orig, "%s", tok);
    char *eq = strchr(tok, '=');
    if (!eq) {
        /* the key alone: say which value it wants */
        for (size_t i = 0; i < NKEYS; i++)
            if (!strcasecmp(tok, keys[i]))
                return bad(orig, "missing value: write %s=VALUE", keys[i]);
        return bad(orig, "expected KEY=VALUE (keys: %s)", ALLOWED_KEYS);
    }
    *eq = 0;
    char *key = tok, *val = eq + 1;
    if (!*val)
        return bad(orig, "empty value for '%s'", key);
    if (!strcasecmp(key, "ram")) {
        *ram_set = 1;
        return size_value(orig, val, &c->ram, "the RAM tier");
    }
    if (!strcasecmp(key, "ssd")) {
        if (c->nssd >= TIER_MAX_SSD)
            return h5tier__fail(EINVAL, "tier config: '%s': at most %d ssd tiers", orig, TIER_MAX_SSD);
        char *colon = strrchr(val, ':');
        if (!colon || colon == val || !colon[1])
            return bad(orig, "expected ssd=DIRECTORY:SIZE, e.g. ssd=/local/cache:20GiB (got '%s')", val);
        *colon = 0;
        if (strlen(val) >= TIER_PATH_MAX)
            return bad(orig, "directory name longer than %s bytes", "1023");
        uint64_t cap;
        int rc = size_value(orig, colon + 1, &cap, "the ssd capacity");
        if (rc < 0)
            return rc;
        strcpy(c->ssd[c->nssd].dir, val);
        c->ssd[c->nssd].cap = cap;
        c->nssd++;
        return 0;
    }
    if (!strcasecmp(key, "page")) {
        int rc = size_value(orig, val, &c->page, "the page size");
        if (rc < 0)
            return rc;
        if (c->page < MIN_PAGE || c->page > MAX_PAGE || (c->page & (c->page - 1)))
            return h5tier__fail(EINVAL, "tier config: '%s': the page size must be a power of two from 4KiB to 64MiB",
                                orig);
        return 0;
    }
    if (!strcasecmp(key, "evict")) {
        static const char *const n[] = {"lru", "lfu", "2q"};
        return choice(orig, val, n, 3, "eviction policy", &c->evict);
    }
    if (!strcasecmp(key, "place")) {
        static const char *const n[] = {"fastest", "roundrobin", "random"};
        return choice(orig, val, n, 3, "placement policy", &c->place);
    }
    if (!strcasecmp(key, "prefetch")) {
        static const char *const n[] = {"off", "seq", "auto", "learn"};
        return choice(orig, val, n, 4, "prefetch mode", &c->prefetch);
    }
    if (!strcasecmp(key, "flush")) {
        static const char *const n[] = {"async", "sync"};
        return choice(orig, val, n, 2, "flush mode", &c->flush);
    }
    if (!strcasecmp(key, "depth")) {
        char *end;
        unsigned long v = strtoul(val, &end, 10);
        if (*end || !isdigit((unsigned char)*val) || v < 1 || v > 1024)
            return bad(orig, "depth is a number of pages from 1 to 1024, got '%s'", val);
        c->depth = (unsigned)v;
        return 0;
    }
    if (!strcasecmp(key, "dirty")) {
        *dirty_set = 1;
        return size_value(orig, val, &c->dirty, "the dirty-bytes bound");
    }
    if (!strcasecmp(key, "bypass")) {
        *bypass_set = 1;
        if (!strcasecmp(val, "off") || !strcasecmp(val, "no")) {
            c->bypass = 0;
            return 0;
        }
        return size_value(orig, val, &c->bypass, "the bypass threshold (or off)");
    }
    if (!strcasecmp(key, "keep"))
        return yesno(orig, val, &c->keep);
    if (!strcasecmp(key, "warn"))
        return yesno(orig, val, &c->warn);
    if (!strcasecmp(key, "stats")) {
        if (strlen(val) >= TIER_PATH_MAX)
            return bad(orig, "path longer than %s bytes", "1023");
        strcpy(c->stats, val);
        return 0;
    }
    const char *best = NULL;
    unsigned bd = 3;
    for (size_t i = 0; i < NKEYS; i++) {
        unsigned d = edit_distance(key, keys[i]);
        if (d < bd) {
            bd = d;
            best = keys[i];
        }
    }
    char why[512];
    if (best)
        snprintf(why, sizeof why, "unknown setting '%s' (did you mean '%s'? allowed: %s)", key, best, ALLOWED_KEYS);
    else
        snprintf(why, sizeof why, "unknown setting '%s' (allowed: %s)", key, ALLOWED_KEYS);
    return h5tier__fail(EINVAL, "tier config: '%s': %s", orig, why);
}

int h5tier__tier_config_parse(const char *text, tier_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->page = DEFAULT_PAGE;
    c->evict = TIER_EVICT_LRU;
    c->place = TIER_PLACE_FASTEST;
    c->prefetch = TIER_PREFETCH_AUTO;
    c->depth = 16;
    c->flush = TIER_FLUSH_ASYNC;
    c->keep = 0;
    c->bypass = (uint64_t)4 << 20;
    c->warn = 1;
    int ram_set = 0, dirty_set = 0, bypass_set = 0;
    if (text) {
        size_t n = strlen(text);
        if (n >= H5TIER_TIER_CONFIG_MAX)
            return h5tier__fail(EINVAL, "tier config: longer than %d bytes", H5TIER_TIER_CONFIG_MAX - 1);
        char buf[H5TIER_TIER_CONFIG_MAX];
        memcpy(buf, text, n + 1);
        char *save = NULL;
        for (char *tok = strtok_r(buf, " \t\n;", &save); tok; tok = strtok_r(NULL, " \t\n;", &save)) {
            int rc = parse_token(tok, c, &ram_set, &dirty_set, &bypass_set);
            if (rc < 0)
                return rc;
        }
    }
    if (!ram_set)
        c->ram = h5tier__tier_default_ram();
    if (c->ram < 4 * c->page) {
        char a[32], b[32];
        return h5tier__fail(EINVAL,
                            "tier config: 'ram=%s': the RAM tier must hold at least 4 pages of %s (dirty pages "
                            "live in RAM)",
                            h5tier_format_size(c->ram, a, sizeof a), h5tier_format_size(c->page, b, sizeof b));
    }
    if (!dirty_set) {
        c->dirty = c->ram / 2;
        if (c->dirty > ((uint64_t)256 << 20))
            c->dirty = (uint64_t)256 << 20;
    }
    if (c->dirty < c->page || c->dirty > c->ram / 2) {
        char a[32], b[32];
        return h5tier__fail(EINVAL,
                            "tier config: 'dirty=%s': the dirty bound must be between one page and half the RAM "
                            "tier (%s)",
                            h5tier_format_size(c->dirty, a, sizeof a), h5tier_format_size(c->ram / 2, b, sizeof b));
    }
    for (unsigned i = 0; i < c->nssd; i++)
        if (c->ssd[i].cap < c->page)
            return h5tier__fail(EINVAL, "tier config: 'ssd=%s:%llu': an ssd tier must hold at least one page",
                                c->ssd[i].dir, (unsigned long long)c->ssd[i].cap);
    if (c->keep && c->nssd == 0)
        return h5tier__fail(EINVAL, "tier config: 'keep=yes' needs an ssd tier (ssd=DIRECTORY:SIZE) to keep");
    if (c->bypass && c->bypass < c->page)
        c->bypass = c->page;
    if (c->bypass && c->bypass < 4 * c->page && !bypass_set)
        c->bypass = 4 * c->page;
    return 0;
}

void h5tier__tier_config_format(const tier_cfg_t *c, char *out, size_t len)
{
    static const char *const ev[] = {"lru", "lfu", "2q"}, *const pl[] = {"fastest", "roundrobin", "random"},
                             *const pf[] = {"off", "seq", "auto", "learn"}, *const fl[] = {"async", "sync"};
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(out + n, n < len ? len - n : 0, __VA_ARGS__);                            \
        if (w_ > 0)                                                                                \
            n += (size_t)w_;                                                                       \
    } while (0)
    PUT("ram=%lluB", (unsigned long long)c->ram);
    for (unsigned i = 0; i < c->nssd; i++)
        PUT(" ssd=%s:%lluB", c->ssd[i].dir, (unsigned long long)c->ssd[i].cap);
    PUT(" page=%lluB evict=%s place=%s prefetch=%s depth=%u flush=%s dirty=%lluB keep=%s", (unsigned long long)c->page,
        ev[c->evict], pl[c->place], pf[c->prefetch], c->depth, fl[c->flush], (unsigned long long)c->dirty,
        c->keep ? "yes" : "no");
    if (c->bypass)
        PUT(" bypass=%lluB", (unsigned long long)c->bypass);
    else
        PUT(" bypass=off");
    PUT(" warn=%s", c->warn ? "yes" : "no");
    if (c->stats[0])
        PUT(" stats=%s", c->stats);
#undef PUT
}

int h5tier_tier_config_check(const char *config, char *canon, size_t canon_len)
{
    tier_cfg_t c;
    int rc = h5tier__tier_config_parse(config, &c);
    if (rc < 0)
        return rc;
    if (canon && canon_len)
        h5tier__tier_config_format(&c, canon, canon_len);
    return 0;
}
