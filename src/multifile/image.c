/*
 * multifile/image.c -- in-memory maps of the multifile driver: the sparse
 * image of the metadata a rank wrote (served back to its own reads, and
 * digested by address and content at close, independent of the order the
 * metadata cache flushed in), and the extent map of a rank's own raw data.
 */
#include <stdlib.h>
#include <string.h>

#include "multifile/mf_internal.h"

#define PG_SHIFT 12u
#define PG_SIZE (1u << PG_SHIFT)

struct mf_page {
    uint64_t no;
    uint64_t valid[PG_SIZE / 64]; /* bit per byte: written */
    unsigned char data[PG_SIZE];
};

/* Index of the first page with number >= no. */
static size_t page_lb(const mf_image_t *im, uint64_t no)
{
    size_t lo = 0, hi = im->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (im->pages[mid]->no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void bits_set(uint64_t *v, unsigned from, unsigned to) /* [from, to) */
{
    for (unsigned i = from; i < to;) {
        if ((i & 63) == 0 && to - i >= 64) {
            v[i / 64] = ~0ull;
            i += 64;
        } else {
            v[i / 64] |= 1ull << (i & 63);
            i++;
        }
    }
}

static inline int bit_get(const uint64_t *v, unsigned i) { return (int)((v[i / 64] >> (i & 63)) & 1); }

int h5tier__mf_image_write(mf_image_t *im, uint64_t addr, const void *buf, size_t len)
{
    const unsigned char *src = buf;
    while (len > 0) {
        uint64_t no = addr >> PG_SHIFT;
        unsigned off = (unsigned)(addr & (PG_SIZE - 1));
        unsigned n = PG_SIZE - off < len ? PG_SIZE - off : (unsigned)len;
        size_t i = page_lb(im, no);
        if (i == im->n || im->pages[i]->no != no) {
            if (im->n == im->cap) {
                size_t cap = im->cap ? im->cap * 2 : 64;
                mf_page_t **np = realloc(im->pages, cap * sizeof *np);
                if (!np)
                    return -ENOMEM;
                im->pages = np;
                im->cap = cap;
            }
            mf_page_t *pg = calloc(1, sizeof *pg);
            if (!pg)
                return -ENOMEM;
            pg->no = no;
            memmove(im->pages + i + 1, im->pages + i, (im->n - i) * sizeof *im->pages);
            im->pages[i] = pg;
            im->n++;
        }
        mf_page_t *pg = im->pages[i];
        memcpy(pg->data + off, src, n);
        bits_set(pg->valid, off, off + n);
        addr += n;
        src += n;
        len -= n;
    }
    return 0;
}

void h5tier__mf_image_read(const mf_image_t *im, uint64_t addr, void *buf, size_t len)
{
    unsigned char *dst = buf;
    size_t i = page_lb(im, addr >> PG_SHIFT);
    while (len > 0) {
        uint64_t no = addr >> PG_SHIFT;
        unsigned off = (unsigned)(addr & (PG_SIZE - 1));
        unsigned n = PG_SIZE - off < len ? PG_SIZE - off : (unsigned)len;
        while (i < im->n && im->pages[i]->no < no)
            i++;
        if (i < im->n && im->pages[i]->no == no) {
            const mf_page_t *pg = im->pages[i];
            for (unsigned k = 0; k < n; k++)
                dst[k] = bit_get(pg->valid, off + k) ? pg->data[off + k] : 0;
        } else {
            memset(dst, 0, n);
        }
        addr += n;
        dst += n;
        len -= n;
    }
}

int h5tier__mf_image_digest(const mf_image_t *im, int (*fn)(uint64_t, uint64_t, uint64_t, void *), void *arg)
{
    mf_hash_t h;
    uint64_t start = 0, end = 0; /* current piece [start, end) */
    int open = 0;
    for (size_t i = 0; i < im->n; i++) {
        const mf_page_t *pg = im->pages[i];
        uint64_t base = pg->no << PG_SHIFT;
        for (unsigned k = 0; k < PG_SIZE;) {
            uint64_t a = base + k;
            int v = bit_get(pg->valid, k);
            /* a piece ends at a gap or a multiple of MF_DIGEST_PIECE */
            if (open && (!v || a != end || a % MF_DIGEST_PIECE == 0)) {
                int rc = fn(start, end - start, h5tier__mf_hash_final(&h), arg);
                if (rc < 0)
                    return rc;
                open = 0;
            }
            if (!v) {
                k++;
                continue;
            }
            if (!open) {
                h5tier__mf_hash_init(&h, MF_SEED_DATA);
                start = end = a;
                open = 1;
            }
            /* extend over the run of valid bytes within this page and piece */
            unsigned j = k;
            while (j < PG_SIZE && bit_get(pg->valid, j) && (j == k || (base + j) % MF_DIGEST_PIECE != 0))
                j++;
            h5tier__mf_hash_update(&h, pg->data + k, j - k);
            end = base + j;
            k = j;
        }
    }
    if (open)
        return fn(start, end - start, h5tier__mf_hash_final(&h), arg);
    return 0;
}

void h5tier__mf_image_free(mf_image_t *im)
{
    for (size_t i = 0; i < im->n; i++)
        free(im->pages[i]);
    free(im->pages);
    memset(im, 0, sizeof *im);
}

/* ---- extent map -------------------------------------------------------- */

size_t h5tier__mf_extmap_find(const mf_extmap_t *m, uint64_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->v[mid].addr + m->v[mid].len <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int ext_reserve(mf_extmap_t *m, size_t extra)
{
    if (m->n + extra <= m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 64;
    while (cap < m->n + extra)
        cap *= 2;
    mf_ext_t *nv = realloc(m->v, cap * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    m->v = nv;
    m->cap = cap;
    return 0;
}

int h5tier__mf_extmap_put(mf_extmap_t *m, uint64_t addr, uint64_t len, uint64_t log_off)
{
    if (len == 0)
        return 0;
    if (ext_reserve(m, 2) < 0)
        return -ENOMEM;
    uint64_t end = addr + len;
    size_t i = h5tier__mf_extmap_find(m, addr);
    /* fast path: append past the last extent */
    if (i == m->n) {
        if (m->n && m->v[m->n - 1].addr + m->v[m->n - 1].len == addr &&
            m->v[m->n - 1].log_off + m->v[m->n - 1].len == log_off) {
            m->v[m->n - 1].len += len;
            return 0;
        }
        m->v[m->n++] = (mf_ext_t){addr, len, log_off};
        return 0;
    }
    /* extents [i, j) overlap [addr, end) */
    size_t j = i;
    while (j < m->n && m->v[j].addr < end)
        j++;
    mf_ext_t head = {0, 0, 0}, tail = {0, 0, 0};
    if (i < j && m->v[i].addr < addr)
        head = (mf_ext_t){m->v[i].addr, addr - m->v[i].addr, m->v[i].log_off};
    if (i < j && m->v[j - 1].addr + m->v[j - 1].len > end) {
        const mf_ext_t *l = &m->v[j - 1];
        tail = (mf_ext_t){end, l->addr + l->len - end, l->log_off + (end - l->addr)};
    }
    mf_ext_t repl[3];
    size_t nr = 0;
    if (head.len)
        repl[nr++] = head;
    repl[nr++] = (mf_ext_t){addr, len, log_off};
    if (tail.len)
        repl[nr++] = tail;
    size_t removed = j - i;
    memmove(m->v + i + nr, m->v + j, (m->n - j) * sizeof *m->v);
    memcpy(m->v + i, repl, nr * sizeof *repl);
    m->n = m->n - removed + nr;
    return 0;
}

void h5tier__mf_extmap_free(mf_extmap_t *m)
{
    free(m->v);
    memset(m, 0, sizeof *m);
}
