/*
 * common/pagemap.c -- a bitmap of dirty pages, for write tracking.
 */
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"

static int ensure(h5tier_pagemap_t *pm, size_t npages)
{
    if (npages <= pm->npages)
        return 0;
    size_t words_old = (pm->npages + 63) / 64;
    size_t want = pm->npages ? pm->npages : 64;
    while (want < npages)
        want *= 2;
    size_t words = (want + 63) / 64;
    uint64_t *b = realloc(pm->bits, words * sizeof *b);
    if (!b)
        return -ENOMEM;
    memset(b + words_old, 0, (words - words_old) * sizeof *b);
    pm->bits = b;
    pm->npages = words * 64;
    return 0;
}

int h5tier__pagemap_init(h5tier_pagemap_t *pm, size_t page_size, uint64_t bytes)
{
    memset(pm, 0, sizeof *pm);
    if (page_size == 0 || (page_size & (page_size - 1)))
        return h5tier__fail(EINVAL, "page size %zu is not a power of two", page_size);
    pm->page_size = page_size;
    pm->shift = (unsigned)__builtin_ctzll(page_size);
    return ensure(pm, (size_t)((bytes + page_size - 1) >> pm->shift));
}

void h5tier__pagemap_free(h5tier_pagemap_t *pm)
{
    free(pm->bits);
    memset(pm, 0, sizeof *pm);
}

int h5tier__pagemap_mark(h5tier_pagemap_t *pm, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    size_t first = (size_t)(off >> pm->shift);
    size_t last = (size_t)((off + len - 1) >> pm->shift);
    if (ensure(pm, last + 1) < 0)
        return -ENOMEM;
    for (size_t p = first; p <= last;) {
        uint64_t *w = &pm->bits[p / 64];
        if ((p % 64) == 0 && last - p >= 63 && *w == ~UINT64_C(0)) {
            p += 64;
            continue;
        }
        uint64_t bit = UINT64_C(1) << (p % 64);
        if (!(*w & bit)) {
            *w |= bit;
            pm->ndirty++;
        }
        p++;
    }
    return 0;
}

int h5tier__pagemap_mark_all(h5tier_pagemap_t *pm, uint64_t bytes)
{
    return h5tier__pagemap_mark(pm, 0, bytes);
}

bool h5tier__pagemap_next_run(const h5tier_pagemap_t *pm, size_t *page, size_t *count)
{
    size_t p = *page;
    while (p < pm->npages) {
        uint64_t w = pm->bits[p / 64] >> (p % 64);
        if (w == 0) {
            p = (p / 64 + 1) * 64;
            continue;
        }
        p += (size_t)__builtin_ctzll(w);
        break;
    }
    if (p >= pm->npages)
        return false;
    size_t q = p;
    while (q < pm->npages && (pm->bits[q / 64] >> (q % 64)) & 1)
        q++;
    *page = p;
    *count = q - p;
    return true;
}

void h5tier__pagemap_clear(h5tier_pagemap_t *pm)
{
    if (pm->bits)
        memset(pm->bits, 0, ((pm->npages + 63) / 64) * sizeof *pm->bits);
    pm->ndirty = 0;
}
