/*
 * h5tier_net.h -- fan a ring out to other machines over ZeroMQ (libzmq).
 *
 * A PUBLISHER follows the streams of a local ring (as ordinary ring readers,
 * one set per subscriber) and sends their records in batches over a ZeroMQ
 * ROUTER socket.  A SUBSCRIBER (DEALER socket) connects, receives the
 * ring's SCHEMA -- the ring's HDF5 metadata as a small file image: every
 * group and attribute, the fixed datasets, and each stream as an empty
 * dataset with an unlimited first dimension, plus each stream's capacity --
 * and writes the records it receives either into a MIRROR ring it creates
 * from that image (same paths, types, attributes: local readers, `ring tail`
 * and the archiver work unchanged on the remote host) or into an ARCHIVE
 * (h5tier_archive.h layout, with the records' own sequence numbers).
 *
 * PROTOCOL (version 1; every message starts with a 32-byte header: magic
 * "H5TN", version, type, stream, count, seq, aux).  The subscriber sends
 * HELLO (its id, lossless or not); the publisher answers SCHEMA (stream
 * table, image, a 64-bit hash of both).  The subscriber sends START (per
 * stream the sequence number to resume from, or "oldest"), then receives
 * DATA (stream, first seq, n records).  Every second the publisher sends
 * PING (the schema hash: a publisher restarted on another schema is
 * detected) and the subscriber KEEPALIVE; a subscriber that hears nothing
 * for 2 s says HELLO again, so a publisher restart or a cut link is
 * recovered from without configuration.  Sequence numbers travel with the
 * records: a gap (the ring lapped a lossy publisher reader, the publisher
 * dropped a batch at the high-water mark, a reconnect) is counted and, with
 * an archive, recorded in /.h5tier/PATH/lost exactly as the lossy archiver
 * does; a batch older than what was received is dropped (no duplicate).
 *
 * LOSSLESS.  A lossless subscriber gets a tethered reader on the publisher
 * (tether "net-ID"): the ring's writer waits for it.  Credit: the publisher
 * sends at most `window` records beyond what the subscriber acknowledged;
 * the subscriber acknowledges (ACK) after writing, and the publisher then
 * releases the tether up to there.  A restarted subscriber with an archive
 * resumes from the archive's next sequence number: no loss, no duplicate.
 * A clean stop (count, timeout, signal) removes the tether unless
 * keep_tether; a killed subscriber's tether stays (remove it with
 * h5tier_ring_untether(ring, stream, "net-ID") if it is not coming back).
 * A mirror resumes after the last record it acknowledged (a kill between
 * writing a batch and acknowledging it can duplicate that batch in the
 * mirror; the mirror's records are numbered by the mirror, densely).
 *
 * SECURITY.  A publisher bound to an address other than loopback needs
 * CURVE keys (opts.curve_dir, made by h5tier_net_keygen(): server.key
 * secret 0600, server.pub public) or opts.insecure.  A subscriber given the
 * directory (only server.pub is needed) encrypts and authenticates the
 * server; a subscriber without the right key is refused: the publisher
 * reports the failed handshake, the subscriber reports that it got no
 * schema and why.
 *
 * Errors: 0 or a negative errno / -H5TIER_E* with h5tier_errmsg().
 * Not thread-safe; one call runs until a stop condition or *stop.
 */
#ifndef H5TIER_NET_H
#define H5TIER_NET_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "h5tier.h"

#ifdef __cplusplus
extern "C" {
#endif

#define H5TIER_NET_PROTOCOL 1

typedef struct h5tier_net_stats {
    uint64_t records;      /* records sent (publisher) or written (subscriber) */
    uint64_t bytes;        /* their bytes */
    uint64_t lost_records; /* subscriber: records known lost (gaps); publisher: records dropped at HWM */
    uint64_t lost_ranges;  /* subscriber: gaps recorded */
    uint64_t duplicates;   /* subscriber: records received twice and dropped */
    uint64_t batches;      /* messages of records */
    uint64_t reconnects;   /* subscriber: HELLOs after the first; publisher: subscribers seen */
    uint64_t refused;      /* publisher: failed handshakes (wrong or missing CURVE key) */
    double seconds;        /* wall time of the run */
} h5tier_net_stats_t;

typedef struct h5tier_net_pub_opts {
    const char *bind;          /* "tcp://127.0.0.1:5555" */
    const char *const *streams; /* stream paths to publish (NULL: every stream) */
    unsigned nstreams;
    const char *curve_dir;     /* directory with server.key (CURVE), or NULL */
    int insecure;              /* allow a non-loopback bind without CURVE */
    size_t batch_bytes;        /* bytes per DATA message (default 256 KiB; at least one record) */
    int sndhwm;                /* ZeroMQ send high-water mark in messages (default 1000) */
    double duration_s;         /* stop after this long (0: until *stop) */
    volatile sig_atomic_t *stop; /* set to stop */
    void (*log)(const char *line, void *arg); /* events: subscribers, refusals (may be NULL) */
    void *log_arg;
} h5tier_net_pub_opts_t;

typedef struct h5tier_net_sub_opts {
    const char *connect;    /* "tcp://host:5555" */
    const char *mirror;     /* create (or reuse, same schema) this local ring ... */
    const char *archive;    /* ... or append to this archive file */
    int lossless;           /* tethered on the publisher, credit flow control */
    const char *id;         /* subscriber id (tether "net-ID"; default "sub") */
    const char *curve_dir;  /* directory with server.pub, or NULL */
    uint64_t window;        /* lossless credit in records per stream (default 4096) */
    uint64_t count;         /* stop after this many records (0: no limit) */
    double idle_timeout_s;  /* stop when nothing arrived for this long, once started (0: never) */
    double connect_timeout_s; /* fail when no schema arrived within this (default 10 s) */
    double duration_s;
    int force;              /* mirror: replace a ring of another schema */
    int keep_tether;        /* lossless: keep the tether on a clean stop (the publisher's writer then
                               keeps waiting for this id); default: a clean stop removes it, a kill
                               keeps it so that a restart resumes without loss */
    volatile sig_atomic_t *stop;
    void (*log)(const char *line, void *arg);
    void *log_arg;
} h5tier_net_sub_opts_t;

/* Zero and set the defaults. */
H5TIER_API void h5tier_net_pub_opts_init(h5tier_net_pub_opts_t *o);
H5TIER_API void h5tier_net_sub_opts_init(h5tier_net_sub_opts_t *o);

/* Publish ring `ring` until opts->duration_s or *opts->stop.  Errors:
 * -EINVAL (bad options), -EPERM (non-loopback bind without curve_dir or
 * insecure), -ENOENT (ring, stream, key file), -EADDRINUSE and other errno
 * of zmq_bind, -H5TIER_EMAGIC etc. from opening the ring readers. */
H5TIER_API int h5tier_net_publish(const char *ring, const h5tier_net_pub_opts_t *opts, h5tier_net_stats_t *stats);

/* Subscribe until count, idle_timeout_s, duration_s or *stop.  Errors:
 * -ETIMEDOUT (no schema within connect_timeout_s: no publisher, or a CURVE
 * key mismatch; errmsg says which the socket saw), -H5TIER_ESCHEMA (the
 * mirror or archive exists with another schema, or the publisher's schema
 * changed), -EEXIST, the errors of h5tier_ring_create / h5tier_archive_open,
 * -EPROTO (a malformed message). */
H5TIER_API int h5tier_net_subscribe(const h5tier_net_sub_opts_t *opts, h5tier_net_stats_t *stats);

/* Make a CURVE key pair in directory dir (created 0700 if missing):
 * dir/server.key (secret, 0600, O_EXCL) and dir/server.pub.  -EEXIST if a
 * key is there, -errno. */
H5TIER_API int h5tier_net_keygen(const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_NET_H */
