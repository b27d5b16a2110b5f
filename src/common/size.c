/*
 * common/size.c -- sizes for people: "64k", "1.5GiB" <-> bytes.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/internal.h"

int h5tier_parse_size(const char *text, uint64_t *bytes)
{
    if (!text || !bytes)
        return h5tier__fail(EINVAL, "size: missing text");
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p) && *p != '.')
        return h5tier__fail(EINVAL, "size '%s': expected a number like 4096, 64k or 1.5GiB", text);
    char *end;
    errno = 0;
    uint64_t whole = strtoull(p, &end, 10);
    if (errno == ERANGE)
        return h5tier__fail(ERANGE, "size '%s' is too large", text);
    double frac = 0;
    if (*end == '.') { /* digits only: "1.5e9" is not a size, and an exponent could reach inf */
        double scale = 0.1;
        for (end++; isdigit((unsigned char)*end); end++, scale /= 10)
            frac += (*end - '0') * scale;
    }
    while (isspace((unsigned char)*end))
        end++;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    case 'P': shift = 50; break;
    case 'B': case '\0': break;
    default: return h5tier__fail(EINVAL, "size '%s': unknown unit '%s' (use k, M, G, T)", text, end);
    }
    if (shift) {
        end++;
        if (!strncasecmp(end, "iB", 2))
            end += 2;
        else if (toupper((unsigned char)*end) == 'B')
            end++;
    } else if (toupper((unsigned char)*end) == 'B') {
        end++;
    }
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return h5tier__fail(EINVAL, "size '%s': trailing text '%s'", text, end);
    if (shift && whole > (UINT64_C(1) << 63) >> shift)
        return h5tier__fail(ERANGE, "size '%s' is too large", text);
    uint64_t v = whole << shift;
    double f = ldexp(frac, (int)shift);
    if (f >= 1)
        v += (uint64_t)f;
    if (v > (UINT64_C(1) << 63))
        return h5tier__fail(ERANGE, "size '%s' is too large", text);
    *bytes = v;
    return 0;
}

char *h5tier_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, len, "%.2f %s", v, units[u]);
    return buf;
}
