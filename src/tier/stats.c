/*
 * tier/stats.c -- the tier driver's statistics as one JSON object (written
 * at close when H5TIER_STATS=path or stats= is set; read by
 * `h5tier tier stat`).  The file is written to a temporary name and renamed,
 * so a reader never sees half of it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tier/tier_internal.h"

static void json_str(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(o, "\\%c", c);
        else if (c < 32)
            fprintf(o, "\\u%04x", c);
        else
            fputc(c, o);
    }
    fputc('"', o);
}

int h5tier_tier_stats_json(const h5tier_tier_stats_t *st, const char *file, const char *path)
{
    char tmp[PATH_MAX + 32];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= (int)sizeof tmp)
        return h5tier__fail(ENAMETOOLONG, "stats file '%s'", path);
    int fd = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return h5tier__fail(errno, "stats file '%s'", tmp);
    FILE *o = fdopen(fd, "w");
    if (!o) {
        h5tier_sys.close(fd);
        return h5tier__fail(errno, "stats file '%s'", tmp);
    }
    fprintf(o, "{\"file\": ");
    json_str(o, file ? file : "");
    uint64_t pf = st->prefetch_pages;
    fprintf(o,
            ", \"backing_reads\": %llu, \"backing_read_bytes\": %llu, \"backing_writes\": %llu, "
            "\"backing_write_bytes\": %llu, \"bypass_bytes\": %llu, \"prefetch_pages\": %llu, \"prefetch_hits\": %llu, "
            "\"prefetch_waste\": %llu, \"prefetch_accuracy\": %.4f, \"writeback_pages\": %llu, "
            "\"writeback_stalls\": %llu, \"dirty_bytes\": %llu, \"kept_loaded_pages\": %llu, \"backing_busy_s\": %.6f, "
            "\"tiers\": [",
            (unsigned long long)st->backing_reads, (unsigned long long)st->backing_read_bytes,
            (unsigned long long)st->backing_writes, (unsigned long long)st->backing_write_bytes,
            (unsigned long long)st->bypass_bytes, (unsigned long long)pf, (unsigned long long)st->prefetch_hits,
            (unsigned long long)st->prefetch_waste, pf ? (double)st->prefetch_hits / (double)pf : 0.0,
            (unsigned long long)st->writeback_pages, (unsigned long long)st->writeback_stalls,
            (unsigned long long)st->dirty_bytes, (unsigned long long)st->kept_loaded_pages, st->backing_busy_s);
    for (unsigned i = 0; i < st->ntiers && i < H5TIER_TIER_MAX_TIERS; i++) {
        const h5tier_tier_tier_stats_t *t = &st->tier[i];
        fprintf(o, "%s{\"name\": ", i ? ", " : "");
        json_str(o, t->name);
        fprintf(o,
                ", \"capacity\": %llu, \"used\": %llu, \"hits\": %llu, \"misses\": %llu, \"bytes_in\": %llu, "
                "\"bytes_out\": %llu, \"evictions\": %llu, \"promotions\": %llu, \"busy_s\": %.6f, "
                "\"ns_per_byte\": %.4f, \"failed\": %d}",
                (unsigned long long)t->capacity, (unsigned long long)t->used, (unsigned long long)t->hits,
                (unsigned long long)t->misses, (unsigned long long)t->bytes_in, (unsigned long long)t->bytes_out,
                (unsigned long long)t->evictions, (unsigned long long)t->promotions, t->busy_s, t->ns_per_byte,
                t->failed);
    }
    fprintf(o, "]}\n");
    int bad = ferror(o);
    if (fclose(o) != 0 || bad) {
        h5tier_sys.unlink(tmp);
        return h5tier__fail(EIO, "stats file '%s': write", tmp);
    }
    if (h5tier_sys.rename(tmp, path) < 0) {
        int e = errno;
        h5tier_sys.unlink(tmp);
        return h5tier__fail(e, "stats file '%s'", path);
    }
    return 0;
}
