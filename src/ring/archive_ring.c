/*
 * ring/archive_ring.c -- the archiver: follows ring streams (lossy, or as a
 * tethered lossless reader) and appends their records to an archive with
 * the same schema (h5tier_archive_ring, declared in h5tier_archive.h).
 *
 * Lossless order, per stream: view records in the ring (zero copy; the
 * tether keeps the writer off them), append them to the archive (a whole
 * chunk goes from the ring mapping to H5Dwrite_chunk), and release the
 * tether only up to what the archive has written and flushed.  A SIGKILL at
 * any point therefore leaves the tether at or below the archive's end, and
 * the next run resumes exactly after the last archived record.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/internal.h"
#include "h5tier_archive.h"
#include "h5tier_ring.h"
#include "ring/ring_internal.h"

#define DEFAULT_TETHER "archive"

typedef struct follow {
    h5tier_ring_reader_t *r;
    size_t rsize;
    uint64_t cap;
    size_t max;        /* records per read */
    int have_expected; /* expected is known */
    uint64_t expected; /* seq of the next record we expect */
    uint64_t released; /* tether position published */
} follow_t;

void h5tier_archiver_opts_init(h5tier_archiver_opts_t *o)
{
    memset(o, 0, sizeof *o);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Release stream i's tether up to what the archive has written. */
static int release(h5tier_archive_t *a, size_t i, follow_t *f)
{
    h5tier_archive_stream_info_t in;
    int rc = h5tier_archive_stream_info(a, i, &in);
    if (rc < 0)
        return rc;
    if (in.written_next > f->released) {
        rc = h5tier_ring_reader_release(f->r, in.written_next);
        if (rc < 0)
            return rc;
        f->released = in.written_next;
    }
    return 0;
}

static int flush_release(h5tier_archive_t *a, follow_t *fs, size_t n, int lossless)
{
    int rc = h5tier_archive_flush(a, 0);
    for (size_t i = 0; rc == 0 && lossless && i < n; i++)
        rc = release(a, i, &fs[i]);
    return rc;
}

int h5tier_archive_ring(const char *ring, const char *out, const h5tier_archiver_opts_t *opts_in,
                        h5tier_archiver_stats_t *stats_out)
{
    h5tier_archiver_opts_t opts;
    if (opts_in)
        opts = *opts_in;
    else
        h5tier_archiver_opts_init(&opts);
    h5tier_archiver_stats_t stats;
    memset(&stats, 0, sizeof stats);
    if (!ring || !out)
        return h5tier__fail(EINVAL, "archive: need a ring name and an output file");
    const char *tether = opts.tether && *opts.tether ? opts.tether : DEFAULT_TETHER;
    double flush_iv = opts.flush_interval_s > 0 ? opts.flush_interval_s : 0.25;

    int rc = 0;
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t *sinfo = calloc(H5TIER_RING_MAX_STREAMS, sizeof *sinfo);
    h5tier_archive_stream_spec_t *specs = calloc(H5TIER_RING_MAX_STREAMS, sizeof *specs);
    follow_t *fs = calloc(H5TIER_RING_MAX_STREAMS, sizeof *fs);
    hid_t dsets[H5TIER_RING_MAX_STREAMS];
    char paths[H5TIER_RING_MAX_STREAMS][H5TIER_RING_STREAM_NAME_MAX + 2];
    unsigned char *copybuf = NULL;
    h5tier_archive_t *a = NULL;
    hid_t rf = H5I_INVALID_HID;
    size_t n = 0;
    double t0 = now_s(), t_first = 0, t_last = 0;
    for (size_t i = 0; i < H5TIER_RING_MAX_STREAMS; i++)
        dsets[i] = H5I_INVALID_HID;
    if (!sinfo || !specs || !fs) {
        rc = h5tier__fail(ENOMEM, "archive of ring '%s'", ring);
        goto done;
    }
    rc = h5tier_ring_info(ring, &info, sinfo, H5TIER_RING_MAX_STREAMS);
    if (rc < 0)
        goto done;
    /* the control block against the HDF5 metadata, before anything is created */
    rc = h5tier__ring_verify(ring);
    if (rc < 0)
        goto done;
    /* which streams */
    unsigned idx[H5TIER_RING_MAX_STREAMS];
    if (opts.streams && opts.nstreams > 0) {
        if (opts.nstreams > H5TIER_RING_MAX_STREAMS) {
            rc = h5tier__fail(EINVAL, "archive of ring '%s': too many streams", ring);
            goto done;
        }
        for (unsigned k = 0; k < opts.nstreams; k++) {
            const char *want = opts.streams[k];
            if (want && *want == '/')
                want++;
            unsigned j = 0;
            while (j < info.nstreams && (!want || strcmp(sinfo[j].name, want) != 0))
                j++;
            if (j == info.nstreams) {
                char list[1024] = "";
                for (unsigned q = 0; q < info.nstreams; q++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", q ? ", " : "", sinfo[q].name);
                rc = h5tier__fail(ENOENT, "ring '%s' has no stream '%s' (it has: %s)", ring,
                                  opts.streams[k] ? opts.streams[k] : "(null)", list);
                goto done;
            }
            for (size_t q = 0; q < n; q++)
                if (idx[q] == j) {
                    rc = h5tier__fail(EINVAL, "archive of ring '%s': stream '%s' given twice", ring, want);
                    goto done;
                }
            idx[n++] = j;
        }
    } else {
        for (unsigned j = 0; j < info.nstreams; j++)
            idx[n++] = j;
    }
    if (n == 0) {
        rc = h5tier__fail(EINVAL, "ring '%s' has no streams", ring);
        goto done;
    }
    /* the schema: the ring's own datasets */
    rf = h5tier_ring_open_hdf5(ring);
    if (rf < 0) {
        rc = (int)rf;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const h5tier_ring_stream_info_t *si = &sinfo[idx[i]];
        snprintf(paths[i], sizeof paths[i], "/%s", si->name);
        dsets[i] = H5Dopen2(rf, paths[i], H5P_DEFAULT);
        if (dsets[i] < 0) {
            rc = h5tier__fail(H5TIER_EHDF5, "ring '%s': cannot open dataset '%s'", ring, paths[i]);
            goto done;
        }
        specs[i].path = paths[i];
        specs[i].like = dsets[i];
        size_t cb = opts.chunk_bytes;
        if (cb == 0) {
            uint64_t quarter = si->capacity * si->record_size / 4;
            cb = quarter < (1u << 20) ? (size_t)quarter : (1u << 20);
        }
        specs[i].chunk_bytes = cb;
    }
    {
        /* the ring's other streams are not copied as fixed datasets */
        const char *skip[H5TIER_RING_MAX_STREAMS];
        size_t nskip = 0;
        for (unsigned j = 0; j < info.nstreams; j++)
            skip[nskip++] = sinfo[j].name;
        rc = h5tier_archive_open_template(out, specs, n, opts.archive_flags | H5TIER_ARCHIVE_CREATE, rf, skip,
                                          nskip, &a);
    }
    for (size_t i = 0; i < n; i++) {
        H5Dclose(dsets[i]);
        dsets[i] = H5I_INVALID_HID;
    }
    H5Fclose(rf);
    rf = H5I_INVALID_HID;
    if (rc < 0)
        goto done;
    /* the readers: resume after what is archived */
    size_t maxbuf = 0;
    for (size_t i = 0; i < n; i++) {
        const h5tier_ring_stream_info_t *si = &sinfo[idx[i]];
        h5tier_archive_stream_info_t ai;
        h5tier_archive_stream_info(a, i, &ai);
        h5tier_ring_reader_opts_t ro;
        h5tier_ring_reader_opts_init(&ro);
        if (opts.lossless) {
            ro.tether = tether;
            ro.flags |= H5TIER_RING_MANUAL_RELEASE;
        }
        if (!ai.empty) {
            if (ai.next_seq > si->tail) {
                rc = h5tier__fail(ERANGE, "archive '%s' stream '%s' continues at record %llu but ring '%s' has "
                                  "only %llu (the ring was re-created?): archive into a new file", out, si->name,
                                  (unsigned long long)ai.next_seq, ring, (unsigned long long)si->tail);
                goto done;
            }
            ro.from = H5TIER_RING_FROM_SEQ;
            ro.seq = ai.next_seq;
            fs[i].have_expected = 1;
            fs[i].expected = ai.next_seq;
        }
        rc = h5tier_ring_reader_open(ring, si->name, &ro, &fs[i].r);
        if (rc == -H5TIER_EGONE) {
            /* the records after the archive's end are gone: the gap becomes a lost range */
            ro.from = H5TIER_RING_FROM_OLDEST;
            rc = h5tier_ring_reader_open(ring, si->name, &ro, &fs[i].r);
        }
        if (rc < 0)
            goto done;
        h5tier_ring_reader_stats_t rs;
        h5tier_ring_reader_stats(fs[i].r, &rs);
        fs[i].released = rs.position;
        fs[i].rsize = h5tier_ring_reader_record_size(fs[i].r);
        if (fs[i].rsize != ai.record_size) { /* the archive's rows are what the reader hands over */
            rc = h5tier__fail(H5TIER_EMAGIC, "ring '%s' stream '%s': control block corrupted: record size %zu, the "
                              "archive's records have %llu bytes", ring, si->name, fs[i].rsize,
                              (unsigned long long)ai.record_size);
            goto done;
        }
        fs[i].cap = h5tier_ring_reader_capacity(fs[i].r);
        fs[i].max = ai.chunk_records;
        if (opts.lossless && fs[i].max > fs[i].cap / 2)
            fs[i].max = fs[i].cap / 2 ? fs[i].cap / 2 : 1;
        if (fs[i].max * fs[i].rsize > maxbuf)
            maxbuf = fs[i].max * fs[i].rsize;
        if (i == 0)
            stats.first_seq = rs.position;
    }
    if (!opts.lossless) {
        copybuf = malloc(maxbuf ? maxbuf : 1);
        if (!copybuf) {
            rc = h5tier__fail(ENOMEM, "archive of ring '%s': read buffer", ring);
            goto done;
        }
    }

    t0 = now_s();
    double last_data = t0, last_flush = t0, last_progress = t0;
    for (;;) {
        int got_any = 0, dead = 0;
        for (size_t i = 0; i < n; i++) {
            follow_t *f = &fs[i];
            double now = now_s();
            int tmo = 0;
            if (n == 1) {
                double until = last_flush + flush_iv - now;
                tmo = until <= 0 ? 0 : (int)(until * 1000) + 1;
                if (tmo > 100)
                    tmo = 100;
            }
            uint64_t first = 0;
            const void *data = NULL;
            long got;
            double t_read = now;
            if (opts.lossless) {
                got = h5tier_ring_view(f->r, &data, f->max, &first, tmo);
            } else {
                got = h5tier_ring_next_many(f->r, copybuf, f->max, maxbuf, &first, tmo);
                data = copybuf;
            }
            if (got == -EAGAIN || got == -ETIMEDOUT || got == -EINTR || got == -H5TIER_ELAPPED)
                continue;
            if (got == -H5TIER_EDEADWRITER) {
                dead = 1;
                stats.writer_dead = 1;
                continue;
            }
            if (got < 0) {
                rc = (int)got;
                goto done;
            }
            if (f->have_expected && first < f->expected) {
                rc = h5tier__fail(EPROTO, "ring '%s' stream '%s': got record %llu again (expected %llu)", ring,
                                  paths[i] + 1, (unsigned long long)first, (unsigned long long)f->expected);
                goto done;
            }
            if (f->have_expected && first > f->expected) {
                rc = h5tier_archive_lost(a, i, f->expected, first - 1);
                if (rc < 0)
                    goto done;
                stats.lost_records += first - f->expected;
                stats.lost_ranges++;
            }
            rc = h5tier_archive_append(a, i, first, data, (size_t)got);
            if (rc < 0)
                goto done;
            if (opts.lossless) {
                rc = h5tier_ring_view_done(f->r);
                if (rc < 0) {
                    rc = h5tier__fail(H5TIER_ELAPPED, "ring '%s' stream '%s': records %llu.. were overwritten "
                                      "under a tethered reader (tether removed?)", ring, paths[i] + 1,
                                      (unsigned long long)first);
                    goto done;
                }
                /* hand back what the archive has written; flush early when the writer
                   would otherwise soon wait for us */
                rc = release(a, i, f);
                if (rc == 0 && first + (uint64_t)got - f->released >= f->cap / 2)
                    rc = flush_release(a, fs, n, 1);
                if (rc < 0)
                    goto done;
            }
            f->have_expected = 1;
            f->expected = first + (uint64_t)got;
            if (stats.records == 0)
                t_first = t_read;
            t_last = now_s();
            stats.records += (uint64_t)got;
            stats.bytes += (uint64_t)got * f->rsize;
            got_any = 1;
        }
        double now = now_s();
        if (got_any)
            last_data = now;
        else if (n > 1 || dead)
            usleep(dead ? 10000 : 1000);
        if (now - last_flush >= flush_iv) {
            rc = flush_release(a, fs, n, opts.lossless);
            if (rc < 0)
                goto done;
            last_flush = now;
        }
        if (opts.progress && now - last_progress >= 1.0) {
            uint64_t lag = 0, unrel = 0;
            for (size_t i = 0; i < n; i++) {
                h5tier_ring_reader_stats_t rs;
                h5tier_ring_reader_stats(fs[i].r, &rs);
                lag += rs.tail > rs.position ? rs.tail - rs.position : 0;
                unrel += rs.position > fs[i].released ? rs.position - fs[i].released : 0;
            }
            stats.lag = lag;
            stats.unreleased = unrel;
            stats.seconds = now - t0;
            stats.active_seconds = stats.records ? t_last - t_first : 0;
            opts.progress(&stats, opts.progress_arg);
            last_progress = now;
        }
        if ((opts.stop && *opts.stop) || (opts.count && stats.records >= opts.count) ||
            (opts.duration_s > 0 && now - t0 >= opts.duration_s) ||
            (opts.idle_timeout_s > 0 && now - last_data >= opts.idle_timeout_s))
            break;
    }
    rc = flush_release(a, fs, n, opts.lossless);
    if (rc == 0 && opts.lossless && !opts.keep_tether) {
        for (size_t i = 0; i < n; i++) {
            h5tier_ring_reader_close(fs[i].r);
            fs[i].r = NULL;
            h5tier_ring_untether(ring, paths[i] + 1, tether);
        }
    }
done:
    for (size_t i = 0; fs && i < n; i++)
        h5tier_ring_reader_close(fs[i].r);
    if (a) {
        int crc = h5tier_archive_close(a);
        if (rc == 0)
            rc = crc;
    }
    for (size_t i = 0; i < H5TIER_RING_MAX_STREAMS; i++)
        if (dsets[i] >= 0)
            H5Dclose(dsets[i]);
    if (rf >= 0)
        H5Fclose(rf);
    stats.seconds = now_s() - t0;
    stats.active_seconds = stats.records ? t_last - t_first : 0;
    stats.first_record_s = stats.records ? t_first - t0 : 0;
    if (stats_out)
        *stats_out = stats;
    free(copybuf);
    free(fs);
    free(specs);
    free(sinfo);
    return rc;
}
