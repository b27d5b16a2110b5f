/*
 * net/net.c -- ring fan-out over ZeroMQ: the publisher (ROUTER, ring
 * readers per subscriber), the subscriber (DEALER, into a mirror ring or an
 * archive), the schema image, CURVE keys.  Protocol and guarantees:
 * include/h5tier_net.h.  Everything received is untrusted: each header is
 * checked (magic, version, type, stream index, counts against the frame
 * sizes) before use, and nothing received is printed raw.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zmq.h>

#include "common/internal.h"
#include "h5tier_archive.h"
#include "h5tier_net.h"
#include "h5tier_ring.h"
#include "ring/ring_internal.h"

#define NET_MAGIC 0x4e543548u /* "H5TN" */
enum { M_HELLO = 1, M_SCHEMA, M_START, M_DATA, M_ACK, M_PING, M_KEEPALIVE, M_BYE };

typedef struct net_hdr {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t stream;
    uint32_t n;
    uint64_t seq;
    uint64_t aux;
} net_hdr_t;
_Static_assert(sizeof(net_hdr_t) == 32, "net_hdr_t is 32 bytes on the wire");

/* one stream in the SCHEMA table */
typedef struct net_stream {
    char path[H5TIER_RING_STREAM_NAME_MAX + 1];
    uint64_t capacity;
    uint64_t record_size;
} net_stream_t;

#define NET_FROM_OLDEST UINT64_MAX
#define NET_ID_MAX 27 /* "net-" + id fits a tether name */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void logf_(void (*log)(const char *, void *), void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(void (*log)(const char *, void *), void *arg, const char *fmt, ...)
{
    if (!log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(line, arg);
}

static void zfree(void *data, void *hint)
{
    (void)hint;
    free(data);
}

static net_hdr_t hdr(uint16_t type, uint32_t stream, uint32_t n, uint64_t seq, uint64_t aux)
{
    net_hdr_t h = {NET_MAGIC, H5TIER_NET_PROTOCOL, type, stream, n, seq, aux};
    return h;
}

static int zfail(const char *what)
{
    int e = zmq_errno();
    return h5tier__fail(e ? e : EIO, "%s: %s", what, zmq_strerror(e));
}

void h5tier_net_pub_opts_init(h5tier_net_pub_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->batch_bytes = 256 * 1024;
    o->sndhwm = 1000;
}

void h5tier_net_sub_opts_init(h5tier_net_sub_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = "sub";
    o->window = 4096;
    o->connect_timeout_s = 10;
}

/* ---- keys ------------------------------------------------------------------------------ */

static int write_key(const char *dir, const char *file, const char *z85, mode_t mode)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = h5tier_sys.open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return h5tier__fail(errno, "keygen: cannot create %s: %s", p, strerror(errno));
    char line[64];
    int len = snprintf(line, sizeof line, "%s\n", z85);
    int rc = h5tier_sys.fchmod(fd, mode) < 0 ? -errno : h5tier__pwrite_full(fd, line, (size_t)len, 0);
    h5tier_sys.close(fd);
    return rc < 0 ? h5tier__fail(-rc, "keygen: cannot write %s", p) : 0;
}

int h5tier_net_keygen(const char *dir)
{
    if (!dir || !*dir)
        return h5tier__fail(EINVAL, "keygen: no directory");
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return h5tier__fail(errno, "keygen: cannot create directory %s: %s", dir, strerror(errno));
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0)
        return zfail("keygen: zmq_curve_keypair (libzmq without CURVE?)");
    int rc = write_key(dir, "server.key", sec, 0600);
    if (rc == 0)
        rc = write_key(dir, "server.pub", pub, 0644);
    memset(sec, 0, sizeof sec);
    return rc;
}

/* Read a Z85 key (40 characters) from dir/file; a secret key must be a regular file of ours
   that nobody else can read. */
static int read_key(const char *dir, const char *file, int secret, char key[41])
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = h5tier_sys.open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return h5tier__fail(errno, "CURVE key %s: %s (make keys with 'h5tier ring keygen DIR')", p, strerror(errno));
    struct stat sb;
    int rc = 0;
    if (h5tier_sys.fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
        rc = h5tier__fail(EINVAL, "CURVE key %s: not a regular file", p);
    else if (secret && (sb.st_uid != geteuid() || (sb.st_mode & 077)))
        rc = h5tier__fail(EACCES, "CURVE key %s: a secret key must belong to you and be mode 0600 (it is %04o)", p,
                          (unsigned)(sb.st_mode & 07777));
    char buf[64] = {0};
    size_t got = 0;
    if (rc == 0 && h5tier__pread_full(fd, buf, sizeof buf - 1, 0, &got) < 0)
        got = 0;
    h5tier_sys.close(fd);
    if (rc < 0)
        return rc;
    if (got < 40)
        return h5tier__fail(EINVAL, "CURVE key %s: expected 40 Z85 characters", p);
    memcpy(key, buf, 40);
    key[40] = 0;
    uint8_t bin[32];
    if (!zmq_z85_decode(bin, key))
        return h5tier__fail(EINVAL, "CURVE key %s: not a Z85 key", p);
    return 0;
}

/* tcp://127.*, tcp://localhost, tcp://[::1], ipc://, inproc:// */
static int is_loopback(const char *ep)
{
    if (!strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
        return 1;
    if (strncmp(ep, "tcp://", 6))
        return 0;
    const char *h = ep + 6;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost:", 10) || !strncmp(h, "[::1]:", 6);
}

/* ---- the schema image ------------------------------------------------------------------- */

/* The schema hash folds each piece in with XXH3-64, seeded by the hash so far. */
static uint64_t schema_hash(uint64_t h, const void *p, size_t n) { return XXH3_64bits_withSeed(p, n, h); }

/* Build the image: published streams as empty unlimited datasets (type, record shape,
   attributes), and everything else of the ring besides its streams.  *hash covers each
   stream's path, record size, encoded type and shape. */
static int build_schema(const char *ring, const h5tier_ring_stream_info_t *si, unsigned nall, const unsigned *idx,
                        unsigned n, void **img, size_t *len, uint64_t *hash)
{
    int rc = 0;
    hid_t rf = h5tier_ring_open_hdf5(ring), fapl = H5Pcreate(H5P_FILE_ACCESS), mf = H5I_INVALID_HID;
    *img = NULL;
    *hash = 0;
    if (rf < 0 || fapl < 0 || H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 ||
        (mf = H5Fcreate("h5tier-schema", H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) {
        rc = h5tier__fail(H5TIER_EHDF5, "ring '%s': cannot build the schema image", ring);
        goto done;
    }
    for (unsigned k = 0; k < n && rc == 0; k++) {
        const char *path = si[idx[k]].name;
        hid_t d = H5Dopen2(rf, path, H5P_DEFAULT);
        hid_t t = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID, sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
        hsize_t dims[H5TIER_RING_MAX_RANK + 1], maxd[H5TIER_RING_MAX_RANK + 1], chunk[H5TIER_RING_MAX_RANK + 1];
        int nd = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
        hid_t nd_ = H5I_INVALID_HID;
        if (nd >= 1) {
            dims[0] = 0;
            maxd[0] = H5S_UNLIMITED;
            chunk[0] = 1;
            for (int j = 1; j < nd; j++)
                maxd[j] = chunk[j] = dims[j];
            hid_t ms = H5Screate_simple(nd, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE),
                  l = H5Pcreate(H5P_LINK_CREATE);
            if (ms >= 0 && dcpl >= 0 && l >= 0 && H5Pset_chunk(dcpl, nd, chunk) >= 0 &&
                H5Pset_create_intermediate_group(l, 1) >= 0)
                nd_ = H5Dcreate2(mf, path, t, ms, l, dcpl, H5P_DEFAULT);
            if (nd_ >= 0 && h5tier__ring_copy_attrs(d, nd_) < 0) {
                H5Dclose(nd_);
                nd_ = H5I_INVALID_HID;
            }
            size_t tl = 0;
            H5Tencode(t, NULL, &tl);
            unsigned char *tb = tl ? malloc(tl) : NULL;
            if (tb && H5Tencode(t, tb, &tl) >= 0)
                *hash = schema_hash(*hash, tb, tl);
            free(tb);
            *hash = schema_hash(*hash, path, strlen(path) + 1);
            *hash = schema_hash(*hash, &si[idx[k]].record_size, 8);
            *hash = schema_hash(*hash, dims + 1, sizeof(hsize_t) * (size_t)(nd - 1));
            if (ms >= 0)
                H5Sclose(ms);
            if (dcpl >= 0)
                H5Pclose(dcpl);
            if (l >= 0)
                H5Pclose(l);
        }
        if (nd_ < 0)
            rc = h5tier__fail(H5TIER_EHDF5, "ring '%s': stream '%s': cannot describe it in the schema image", ring,
                              path);
        else
            H5Dclose(nd_);
        if (sp >= 0)
            H5Sclose(sp);
        if (t >= 0)
            H5Tclose(t);
        if (d >= 0)
            H5Dclose(d);
    }
    if (rc == 0) {
        const char *skip[H5TIER_RING_MAX_STREAMS];
        for (unsigned j = 0; j < nall; j++)
            skip[j] = si[j].name;
        rc = h5tier__h5_copy_rest(rf, mf, skip, nall);
    }
    if (rc == 0) {
        H5Fflush(mf, H5F_SCOPE_LOCAL);
        ssize_t sz = H5Fget_file_image(mf, NULL, 0);
        void *b = sz > 0 ? malloc((size_t)sz) : NULL;
        if (!b || H5Fget_file_image(mf, b, (size_t)sz) != sz) {
            free(b);
            rc = h5tier__fail(H5TIER_EHDF5, "ring '%s': cannot take the schema image", ring);
        } else {
            *img = b;
            *len = (size_t)sz;
        }
    }
done:
    if (mf >= 0)
        H5Fclose(mf);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (rf >= 0)
        H5Fclose(rf);
    return rc;
}

/* ---- publisher --------------------------------------------------------------------------- */

typedef struct pstream {
    h5tier_ring_reader_t *rd;
    uint64_t next;  /* next seq to send */
    uint64_t acked; /* credit: the subscriber has up to here */
    void *pend;     /* lossless: a batch the socket did not take (HWM), sent again */
    size_t pend_n;
    uint64_t pend_first;
} pstream_t;

typedef struct peer {
    unsigned char id[256];
    size_t idlen;
    char name[NET_ID_MAX + 1]; /* the subscriber's id, checked */
    int lossless, started;
    uint64_t window;
    double seen;
    pstream_t s[H5TIER_RING_MAX_STREAMS];
} peer_t;

#define MAX_PEERS 64

typedef struct pub {
    const char *ring;
    const h5tier_net_pub_opts_t *o;
    void *sock;
    unsigned n; /* published streams */
    unsigned idx[H5TIER_RING_MAX_STREAMS];
    net_stream_t table[H5TIER_RING_MAX_STREAMS];
    char names[H5TIER_RING_MAX_STREAMS][H5TIER_RING_STREAM_NAME_MAX + 1];
    void *img;
    size_t img_len;
    uint64_t hash;
    peer_t *peers[MAX_PEERS];
    h5tier_net_stats_t *st;
} pub_t;

static void peer_stop(peer_t *p, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        h5tier_ring_reader_close(p->s[k].rd);
        p->s[k].rd = NULL;
        free(p->s[k].pend);
        p->s[k].pend = NULL;
    }
    p->started = 0;
}

/* A message without records to p (identity, header). */
static int send_hdr(void *sock, const peer_t *p, const net_hdr_t *h)
{
    if (zmq_send(sock, p->id, p->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -zmq_errno();
    return zmq_send(sock, h, sizeof *h, 0) < 0 ? -zmq_errno() : 0;
}

static void send_schema(pub_t *P, peer_t *p)
{
    net_hdr_t h = hdr(M_SCHEMA, 0, P->n, 0, P->hash);
    if (zmq_send(P->sock, p->id, p->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send(P->sock, &h, sizeof h, ZMQ_SNDMORE);
    zmq_send(P->sock, P->table, P->n * sizeof(net_stream_t), ZMQ_SNDMORE);
    zmq_send(P->sock, P->img, P->img_len, 0);
}

static peer_t *peer_find(pub_t *P, const unsigned char *id, size_t idlen, int make)
{
    for (int i = 0; i < MAX_PEERS; i++)
        if (P->peers[i] && P->peers[i]->idlen == idlen && !memcmp(P->peers[i]->id, id, idlen))
            return P->peers[i];
    if (!make)
        return NULL;
    for (int i = 0; i < MAX_PEERS; i++)
        if (!P->peers[i]) {
            peer_t *p = calloc(1, sizeof *p);
            if (!p)
                return NULL;
            memcpy(p->id, id, idlen);
            p->idlen = idlen;
            P->peers[i] = p;
            return p;
        }
    return NULL;
}

static void peer_drop(pub_t *P, peer_t *p)
{
    for (int i = 0; i < MAX_PEERS; i++)
        if (P->peers[i] == p) {
            peer_stop(p, P->n);
            free(p);
            P->peers[i] = NULL;
        }
}

static int id_ok(const char *s, size_t n)
{
    if (n == 0 || n > NET_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

static int start_peer(pub_t *P, peer_t *p, const uint64_t *from)
{
    peer_stop(p, P->n);
    for (unsigned k = 0; k < P->n; k++) {
        h5tier_ring_reader_opts_t ro;
        h5tier_ring_reader_opts_init(&ro);
        char tether[H5TIER_RING_TETHER_NAME_MAX + 1];
        if (p->lossless) {
            snprintf(tether, sizeof tether, "net-%s", p->name);
            ro.tether = tether;
            ro.flags |= H5TIER_RING_MANUAL_RELEASE;
        }
        ro.batch_wait_ns = 0;
        if (from[k] != NET_FROM_OLDEST) {
            ro.from = H5TIER_RING_FROM_SEQ;
            ro.seq = from[k];
        }
        int r = h5tier_ring_reader_open(P->ring, P->names[k], &ro, &p->s[k].rd);
        if (r == -H5TIER_EGONE || r == -EINVAL) { /* older than the ring keeps, or beyond it: the gap is counted */
            ro.from = r == -EINVAL ? H5TIER_RING_FROM_LATEST : H5TIER_RING_FROM_OLDEST;
            r = h5tier_ring_reader_open(P->ring, P->names[k], &ro, &p->s[k].rd);
        }
        if (r < 0) {
            logf_(P->o->log, P->o->log_arg, "subscriber '%s': cannot open a reader of stream '%s': %s", p->name,
                  P->names[k], h5tier_errmsg());
            peer_stop(p, P->n);
            return r;
        }
        h5tier_ring_reader_stats_t rs;
        h5tier_ring_reader_stats(p->s[k].rd, &rs);
        p->s[k].next = p->s[k].acked = rs.position;
    }
    p->started = 1;
    return 0;
}

/* One message from the socket (identity, header, body frames). */
static void pub_recv(pub_t *P)
{
    unsigned char id[256];
    int idl = zmq_recv(P->sock, id, sizeof id, ZMQ_DONTWAIT);
    if (idl < 0)
        return;
    zmq_msg_t parts[3];
    size_t np = 0;
    int more = 1;
    size_t ml = sizeof more;
    zmq_getsockopt(P->sock, ZMQ_RCVMORE, &more, &ml);
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, P->sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        if (np < 3)
            parts[np++] = m;
        else
            zmq_msg_close(&m);
        more = zmq_msg_more(&m);
    }
    if (np == 0 || idl > (int)sizeof id || zmq_msg_size(&parts[0]) != sizeof(net_hdr_t))
        goto out;
    net_hdr_t h;
    memcpy(&h, zmq_msg_data(&parts[0]), sizeof h);
    if (h.magic != NET_MAGIC || h.version != H5TIER_NET_PROTOCOL)
        goto out;
    peer_t *p = peer_find(P, id, (size_t)idl, h.type == M_HELLO);
    if (!p)
        goto out;
    p->seen = now_s();
    if (h.type == M_HELLO) {
        const char *nm = np > 1 ? zmq_msg_data(&parts[1]) : "";
        size_t nl = np > 1 ? zmq_msg_size(&parts[1]) : 0;
        if (!id_ok(nm, nl)) {
            logf_(P->o->log, P->o->log_arg, "a subscriber sent a bad id (1-%d of [A-Za-z0-9_.-]): ignored",
                  NET_ID_MAX);
            peer_drop(P, p);
            goto out;
        }
        memcpy(p->name, nm, nl);
        p->name[nl] = 0;
        for (int i = 0; i < MAX_PEERS; i++) /* a restarted subscriber: its old connection lets go of the tether */
            if (P->peers[i] && P->peers[i] != p && !strcmp(P->peers[i]->name, p->name)) {
                logf_(P->o->log, P->o->log_arg, "subscriber '%s' reconnected: its old connection is dropped",
                      p->name);
                peer_drop(P, P->peers[i]);
            }
        p->lossless = (h.aux & 1) != 0;
        peer_stop(p, P->n);
        P->st->reconnects++;
        logf_(P->o->log, P->o->log_arg, "subscriber '%s' connected (%s)", p->name,
              p->lossless ? "lossless" : "lossy");
        send_schema(P, p);
    } else if (h.type == M_START) {
        if (np < 2 || zmq_msg_size(&parts[1]) != P->n * sizeof(uint64_t) || h.n != P->n)
            goto out;
        uint64_t from[H5TIER_RING_MAX_STREAMS];
        memcpy(from, zmq_msg_data(&parts[1]), P->n * sizeof(uint64_t));
        p->window = h.seq ? h.seq : 4096;
        start_peer(P, p, from);
    } else if (h.type == M_BYE) {
        /* a clean stop: a lossless subscriber's tether goes, so the writer no longer waits for it */
        int was_lossless = p->lossless;
        char tether[H5TIER_RING_TETHER_NAME_MAX + 1];
        snprintf(tether, sizeof tether, "net-%s", p->name);
        logf_(P->o->log, P->o->log_arg, "subscriber '%s' stopped%s", p->name,
              was_lossless ? (h.aux & 1 ? " (its tether stays)" : " (its tether is removed)") : "");
        peer_drop(P, p);
        if (was_lossless && !(h.aux & 1))
            for (unsigned k = 0; k < P->n; k++)
                h5tier_ring_untether(P->ring, P->names[k], tether);
    } else if (h.type == M_ACK && p->started && h.stream < P->n) {
        pstream_t *s = &p->s[h.stream];
        if (h.seq > s->acked && h.seq <= s->next)
            s->acked = h.seq;
        if (p->lossless && h.aux)
            h5tier_ring_reader_release(s->rd, h.aux < s->acked ? h.aux : s->acked);
    }
out:
    for (size_t i = 0; i < np; i++)
        zmq_msg_close(&parts[i]);
}

/* Send a batch to p: 0 (buf now belongs to ZeroMQ), -EAGAIN (the high-water mark: buf is still
   the caller's), or another -errno (buf freed). */
static int send_batch(pub_t *P, peer_t *p, unsigned k, void *buf, size_t n, uint64_t first)
{
    size_t rs = (size_t)P->table[k].record_size;
    if (zmq_send(P->sock, p->id, p->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        if (e != EAGAIN)
            free(buf);
        return -e;
    }
    net_hdr_t h = hdr(M_DATA, k, (uint32_t)n, first, 0);
    zmq_send(P->sock, &h, sizeof h, ZMQ_SNDMORE);
    zmq_msg_t m;
    zmq_msg_init_data(&m, buf, n * rs, zfree, NULL);
    if (zmq_msg_send(&m, P->sock, 0) < 0) {
        zmq_msg_close(&m);
        return -zmq_errno();
    }
    P->st->records += n;
    P->st->bytes += n * rs;
    P->st->batches++;
    return 0;
}

/* Send what each started peer may get; returns 1 if anything was sent. */
static int pub_pump(pub_t *P)
{
    int busy = 0;
    for (int i = 0; i < MAX_PEERS; i++) {
        peer_t *p = P->peers[i];
        if (!p || !p->started)
            continue;
        for (unsigned k = 0; k < P->n && p->started; k++) {
            pstream_t *s = &p->s[k];
            size_t rs = (size_t)P->table[k].record_size;
            if (s->pend) {
                int r = send_batch(P, p, k, s->pend, s->pend_n, s->pend_first);
                if (r == -EAGAIN)
                    continue;
                s->pend = NULL;
                if (r < 0)
                    peer_stop(p, P->n); /* gone: start over on its next HELLO */
                busy = 1;
                continue;
            }
            uint64_t max = P->o->batch_bytes / rs;
            if (max == 0)
                max = 1;
            if (max > 1u << 20)
                max = 1u << 20;
            if (p->lossless) {
                uint64_t allowed = s->acked + p->window > s->next ? s->acked + p->window - s->next : 0;
                if (allowed == 0)
                    continue;
                if (max > allowed)
                    max = allowed;
            }
            void *buf = malloc((size_t)max * rs);
            if (!buf)
                continue;
            uint64_t first = 0;
            long n = h5tier_ring_next_many(s->rd, buf, (size_t)max, (size_t)max * rs, &first, 0);
            if (n <= 0) {
                free(buf);
                continue;
            }
            s->next = first + (uint64_t)n;
            busy = 1;
            int r = send_batch(P, p, k, buf, (size_t)n, first);
            if (r == -EAGAIN && p->lossless) {
                s->pend = buf; /* sent again when the socket takes it */
                s->pend_n = (size_t)n;
                s->pend_first = first;
            } else if (r == -EAGAIN) {
                free(buf);
                P->st->lost_records += (uint64_t)n; /* lossy: dropped at the HWM; the subscriber sees the gap */
            } else if (r < 0) {
                peer_stop(p, P->n);
            }
        }
    }
    return busy;
}

/* Report handshake failures seen by a socket monitor; returns the number seen. */
static int monitor_drain(void *mon, void (*log)(const char *, void *), void *arg, const char *side, int *disc)
{
    int seen = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return seen;
        }
        uint16_t ev = 0;
        if (zmq_msg_size(&m) >= 6)
            memcpy(&ev, zmq_msg_data(&m), 2);
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) {
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, mon, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (ev == ZMQ_EVENT_DISCONNECTED && disc)
            (*disc)++;
        if (ev & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
            seen++;
            logf_(log, arg, "%s: refused: the security handshake failed (%s)", side,
                  ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH       ? "authentication"
                  : ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "mechanism mismatch: CURVE on one side only"
                                                              : "wrong CURVE key");
        }
    }
}

static void *monitor_open(void *ctx, void *sock, const char *name)
{
    char ep[64];
    static int seq;
    snprintf(ep, sizeof ep, "inproc://h5tier-mon-%s-%d-%d", name, (int)getpid(), ++seq);
    if (zmq_socket_monitor(sock, ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED) < 0)
        return NULL;
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    if (mon && zmq_connect(mon, ep) < 0) {
        zmq_close(mon);
        return NULL;
    }
    return mon;
}

int h5tier_net_publish(const char *ring, const h5tier_net_pub_opts_t *o, h5tier_net_stats_t *stats)
{
    h5tier_net_stats_t st;
    memset(&st, 0, sizeof st);
    if (!ring || !o || !o->bind || !*o->bind)
        return h5tier__fail(EINVAL, "publish: need a ring and a --bind address");
    if (!is_loopback(o->bind) && !o->curve_dir && !o->insecure)
        return h5tier__fail(EPERM, "publish '%s' on %s: a non-loopback address needs CURVE keys (--curve DIR, made "
                            "by 'h5tier ring keygen DIR') or an explicit --insecure", ring, o->bind);
    pub_t *P = calloc(1, sizeof *P);
    h5tier_ring_stream_info_t *si = calloc(H5TIER_RING_MAX_STREAMS, sizeof *si);
    h5tier_ring_info_t info;
    void *ctx = NULL, *mon = NULL;
    int rc = 0;
    if (!P || !si) {
        rc = h5tier__fail(ENOMEM, "publish '%s'", ring);
        goto done;
    }
    P->ring = ring;
    P->o = o;
    P->st = &st;
    if ((rc = h5tier_ring_info(ring, &info, si, H5TIER_RING_MAX_STREAMS)) < 0)
        goto done;
    if (o->streams && o->nstreams) {
        for (unsigned k = 0; k < o->nstreams; k++) {
            const char *want = ring__spath(o->streams[k]);
            unsigned j = 0;
            while (j < info.nstreams && strcmp(si[j].name, want))
                j++;
            if (j == info.nstreams) {
                rc = h5tier__fail(ENOENT, "publish: ring '%s' has no stream '%s'", ring, o->streams[k]);
                goto done;
            }
            P->idx[P->n++] = j;
        }
    } else {
        for (unsigned j = 0; j < info.nstreams; j++)
            P->idx[P->n++] = j;
    }
    for (unsigned k = 0; k < P->n; k++) {
        const h5tier_ring_stream_info_t *s = &si[P->idx[k]];
        snprintf(P->names[k], sizeof P->names[k], "%s", s->name);
        memset(&P->table[k], 0, sizeof P->table[k]);
        snprintf(P->table[k].path, sizeof P->table[k].path, "%s", s->name);
        P->table[k].capacity = s->capacity;
        P->table[k].record_size = s->record_size;
    }
    if ((rc = build_schema(ring, si, info.nstreams, P->idx, P->n, &P->img, &P->img_len, &P->hash)) < 0)
        goto done;
    ctx = zmq_ctx_new();
    P->sock = ctx ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
    if (!P->sock) {
        rc = zfail("publish: cannot make a ZeroMQ socket");
        goto done;
    }
    int one = 1, zero = 0, hwm = o->sndhwm > 0 ? o->sndhwm : 1000;
    zmq_setsockopt(P->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(P->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    zmq_setsockopt(P->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(P->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (o->curve_dir) {
        char sec[41];
        if ((rc = read_key(o->curve_dir, "server.key", 1, sec)) < 0)
            goto done;
        if (zmq_setsockopt(P->sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
            zmq_setsockopt(P->sock, ZMQ_CURVE_SECRETKEY, sec, 40) < 0) {
            memset(sec, 0, sizeof sec);
            rc = zfail("publish: CURVE (libzmq built without libsodium?)");
            goto done;
        }
        memset(sec, 0, sizeof sec);
    }
    mon = monitor_open(ctx, P->sock, "pub");
    if (zmq_bind(P->sock, o->bind) < 0) {
        int e = zmq_errno();
        rc = h5tier__fail(e, "publish '%s': cannot bind %s: %s", ring, o->bind, zmq_strerror(e));
        goto done;
    }
    logf_(o->log, o->log_arg, "publishing ring '%s' (%u stream%s, schema %zu bytes) on %s%s", ring, P->n,
          P->n == 1 ? "" : "s", P->img_len, o->bind, o->curve_dir ? " with CURVE" : "");
    double t0 = now_s(), last_ping = t0;
    int busy = 0;
    while (!(o->stop && *o->stop) && !(o->duration_s > 0 && now_s() - t0 >= o->duration_s)) {
        zmq_pollitem_t it[2] = {{P->sock, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        int np = zmq_poll(it, mon ? 2 : 1, busy ? 0 : 1);
        if (np < 0 && zmq_errno() != EINTR) {
            rc = zfail("publish: zmq_poll");
            break;
        }
        if (np > 0 && (it[0].revents & ZMQ_POLLIN))
            for (int k = 0; k < 256; k++) {
                int ev = 0;
                size_t el = sizeof ev;
                zmq_getsockopt(P->sock, ZMQ_EVENTS, &ev, &el);
                if (!(ev & ZMQ_POLLIN))
                    break;
                pub_recv(P);
            }
        if (mon && np > 0 && (it[1].revents & ZMQ_POLLIN))
            st.refused += (uint64_t)monitor_drain(mon, o->log, o->log_arg, "publisher", NULL);
        busy = pub_pump(P);
        double t = now_s();
        if (t - last_ping >= 1.0) {
            last_ping = t;
            for (int i = 0; i < MAX_PEERS; i++) {
                peer_t *p = P->peers[i];
                if (!p)
                    continue;
                if (t - p->seen > 10) {
                    logf_(o->log, o->log_arg, "subscriber '%s' silent for 10 s: dropped (a tether stays)", p->name);
                    peer_drop(P, p);
                    continue;
                }
                net_hdr_t h = hdr(M_PING, 0, P->n, 0, P->hash);
                send_hdr(P->sock, p, &h);
            }
        }
    }
    st.seconds = now_s() - t0;
done:
    if (P) {
        for (int i = 0; i < MAX_PEERS; i++)
            if (P->peers[i])
                peer_drop(P, P->peers[i]);
        free(P->img);
        if (P->sock)
            zmq_close(P->sock);
    }
    if (mon)
        zmq_close(mon);
    if (ctx)
        zmq_ctx_term(ctx);
    free(P);
    free(si);
    if (stats)
        *stats = st;
    return rc;
}

/* ---- subscriber ---------------------------------------------------------------------------- */

typedef struct sub {
    const h5tier_net_sub_opts_t *o;
    unsigned n;
    net_stream_t table[H5TIER_RING_MAX_STREAMS];
    uint64_t hash;
    h5tier_ring_t *w;
    int widx[H5TIER_RING_MAX_STREAMS];
    h5tier_archive_t *a;
    uint64_t exp[H5TIER_RING_MAX_STREAMS]; /* next remote seq expected; NET_FROM_OLDEST = none yet */
} sub_t;

/* Mirror ring or archive from the schema.  0 or an error. */
static int sub_setup(sub_t *S, const void *img, size_t len)
{
    const h5tier_net_sub_opts_t *o = S->o;
    char tmpl[4096];
    const char *td = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/h5tier-schema-XXXXXX", td && *td ? td : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return h5tier__fail(errno, "subscribe: cannot make a temporary file for the schema: %s", strerror(errno));
    int rc = h5tier__pwrite_full(fd, img, len, 0) < 0 ? h5tier__fail(errno, "subscribe: writing the schema") : 0;
    close(fd);
    const char *sel[H5TIER_RING_MAX_STREAMS];
    char paths[H5TIER_RING_MAX_STREAMS][H5TIER_RING_STREAM_NAME_MAX + 2];
    for (unsigned k = 0; k < S->n; k++) {
        snprintf(paths[k], sizeof paths[k], "/%s", S->table[k].path);
        sel[k] = paths[k];
    }
    h5tier_ring_stream_spec_t *specs = calloc(H5TIER_RING_MAX_STREAMS, sizeof *specs);
    int made = 0;
    if (rc == 0 && !specs)
        rc = h5tier__fail(ENOMEM, "subscribe");
    if (rc == 0) {
        H5E_BEGIN_TRY { made = h5tier_ring_streams_from_file(tmpl, sel, S->n, 2, specs, H5TIER_RING_MAX_STREAMS); }
        H5E_END_TRY;
        if (made < 0) {
            rc = made;
            made = 0;
        }
    }
    for (int k = 0; rc == 0 && k < made; k++) {
        specs[k].capacity = S->table[k].capacity;
        if (h5tier_ring_spec_record_size(&specs[k]) != S->table[k].record_size)
            rc = h5tier__fail(EPROTO, "subscribe: the schema of stream '%s' does not match its record size",
                              S->table[k].path);
    }
    if (rc == 0 && o->mirror) {
        h5tier_ring_info_t info;
        h5tier_ring_stream_info_t *si = calloc(H5TIER_RING_MAX_STREAMS, sizeof *si);
        int have = si ? h5tier_ring_info(o->mirror, &info, si, H5TIER_RING_MAX_STREAMS) : -ENOMEM;
        if (have == 0 && !o->force) {
            /* an existing mirror must have this schema: same streams, record sizes and types */
            hid_t rf = h5tier_ring_open_hdf5(o->mirror);
            for (unsigned k = 0; rc == 0 && k < S->n; k++) {
                unsigned j = 0;
                while (j < info.nstreams && strcmp(si[j].name, S->table[k].path))
                    j++;
                htri_t same = 0;
                if (j < info.nstreams && si[j].record_size == S->table[k].record_size && rf >= 0) {
                    hid_t d = H5Dopen2(rf, S->table[k].path, H5P_DEFAULT);
                    hid_t t = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
                    same = t >= 0 ? H5Tequal(t, specs[k].type) : 0;
                    if (t >= 0)
                        H5Tclose(t);
                    if (d >= 0)
                        H5Dclose(d);
                }
                if (same <= 0)
                    rc = h5tier__fail(H5TIER_ESCHEMA, "subscribe: ring '%s' exists with another schema (stream "
                                      "'%s' differs or is missing): mirror into another name, or --force", o->mirror,
                                      S->table[k].path);
            }
            if (rf >= 0)
                H5Fclose(rf);
        } else if (have == 0 || have == -ENOENT) {
            rc = h5tier_ring_create(o->mirror, specs, (unsigned)made, 0600,
                                    H5TIER_RING_CREATE_TEMPLATE | (have == 0 ? H5TIER_RING_CREATE_FORCE : 0));
        } else {
            rc = have;
        }
        free(si);
        if (rc == 0)
            rc = h5tier_ring_open_writer(o->mirror, NULL, &S->w);
        for (unsigned k = 0; rc == 0 && k < S->n; k++) {
            S->widx[k] = h5tier_ring_stream_index(S->w, S->table[k].path);
            if (S->widx[k] < 0)
                rc = S->widx[k];
        }
    } else if (rc == 0) {
        h5tier_archive_stream_spec_t as[H5TIER_RING_MAX_STREAMS];
        memset(as, 0, sizeof as);
        hid_t tf = H5Fopen(tmpl, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t ds[H5TIER_RING_MAX_STREAMS];
        for (unsigned k = 0; k < S->n; k++) {
            ds[k] = tf >= 0 ? H5Dopen2(tf, paths[k], H5P_DEFAULT) : H5I_INVALID_HID;
            as[k].path = paths[k];
            as[k].like = ds[k];
            uint64_t q = S->table[k].capacity * S->table[k].record_size / 4;
            as[k].chunk_bytes = q < (1u << 20) ? (size_t)(q ? q : 1) : (1u << 20);
        }
        rc = h5tier_archive_open_template(o->archive, as, S->n, H5TIER_ARCHIVE_CREATE, tf, NULL, 0, &S->a);
        for (unsigned k = 0; k < S->n; k++)
            if (ds[k] >= 0)
                H5Dclose(ds[k]);
        if (tf >= 0)
            H5Fclose(tf);
        for (unsigned k = 0; rc == 0 && k < S->n; k++) {
            h5tier_archive_stream_info_t ai;
            h5tier_archive_stream_info(S->a, k, &ai);
            if (!ai.empty)
                S->exp[k] = ai.next_seq; /* resume: no loss, no duplicate */
        }
    }
    for (int k = 0; k < made; k++)
        h5tier_ring_stream_spec_free(&specs[k]);
    free(specs);
    unlink(tmpl);
    return rc;
}

static int sub_send(void *sock, net_hdr_t h, const void *body, size_t blen)
{
    if (zmq_send(sock, &h, sizeof h, body ? ZMQ_SNDMORE | ZMQ_DONTWAIT : ZMQ_DONTWAIT) < 0)
        return -zmq_errno();
    if (body && zmq_send(sock, body, blen, ZMQ_DONTWAIT) < 0)
        return -zmq_errno();
    return 0;
}

static int sub_hello(sub_t *S, void *sock)
{
    return sub_send(sock, hdr(M_HELLO, 0, 0, 0, S->o->lossless ? 1 : 0), S->o->id, strlen(S->o->id));
}

static int sub_start(sub_t *S, void *sock)
{
    return sub_send(sock, hdr(M_START, 0, S->n, S->o->window, 0), S->exp, S->n * sizeof(uint64_t));
}

/* Acknowledge stream k: credit up to exp, release up to what is durable. */
static void sub_ack(sub_t *S, void *sock, unsigned k)
{
    uint64_t durable = S->exp[k];
    if (S->a) {
        h5tier_archive_stream_info_t ai;
        h5tier_archive_stream_info(S->a, k, &ai);
        durable = ai.written_next;
    }
    sub_send(sock, hdr(M_ACK, k, 0, S->exp[k], durable), NULL, 0);
}

/* A DATA batch: drop what was seen, record a gap, write the rest. */
static int sub_data(sub_t *S, const net_hdr_t *h, const void *body, size_t blen, h5tier_net_stats_t *st)
{
    if (h->stream >= S->n)
        return h5tier__fail(EPROTO, "subscribe: a batch for stream %u of %u", h->stream, S->n);
    unsigned k = h->stream;
    uint64_t rs = S->table[k].record_size, n = h->n, first = h->seq;
    if (n == 0 || blen != n * rs || first > UINT64_MAX / 2)
        return h5tier__fail(EPROTO, "subscribe: a malformed batch (%" PRIu64 " records, %zu bytes)", n, blen);
    const char *rec = body;
    uint64_t e = S->exp[k];
    if (e != NET_FROM_OLDEST && first < e) {
        uint64_t dup = e - first < n ? e - first : n;
        st->duplicates += dup;
        first += dup;
        rec += dup * rs;
        n -= dup;
        if (n == 0)
            return 0;
    }
    int rc = 0;
    if (e != NET_FROM_OLDEST && first > e) {
        st->lost_records += first - e;
        st->lost_ranges++;
        logf_(S->o->log, S->o->log_arg, "stream '%s': records %" PRIu64 "..%" PRIu64 " lost", S->table[k].path, e,
              first - 1);
        if (S->a && (rc = h5tier_archive_lost(S->a, k, e, first - 1)) < 0)
            return rc;
    }
    if (S->a)
        rc = h5tier_archive_append(S->a, k, first, rec, (size_t)n);
    else
        rc = h5tier_ring_put_many(S->w, S->widx[k], rec, (size_t)n, (size_t)rs);
    if (rc < 0)
        return rc;
    S->exp[k] = first + n;
    st->records += n;
    st->bytes += n * rs;
    st->batches++;
    return 0;
}

int h5tier_net_subscribe(const h5tier_net_sub_opts_t *o, h5tier_net_stats_t *stats)
{
    h5tier_net_stats_t st;
    memset(&st, 0, sizeof st);
    if (!o || !o->connect || (!o->mirror == !o->archive))
        return h5tier__fail(EINVAL, "subscribe: need an address and exactly one of a mirror ring or an archive");
    if (!id_ok(o->id ? o->id : "", o->id ? strlen(o->id) : 0))
        return h5tier__fail(EINVAL, "subscribe: id '%s': 1 to %d characters of [A-Za-z0-9_.-]", o->id ? o->id : "",
                            NET_ID_MAX);
    sub_t *S = calloc(1, sizeof *S);
    void *ctx = zmq_ctx_new(), *sock = NULL, *mon = NULL;
    int rc = 0, zero = 0;
    if (!S || !ctx) {
        rc = h5tier__fail(ENOMEM, "subscribe");
        goto done;
    }
    S->o = o;
    for (unsigned k = 0; k < H5TIER_RING_MAX_STREAMS; k++)
        S->exp[k] = NET_FROM_OLDEST;
    sock = zmq_socket(ctx, ZMQ_DEALER);
    if (!sock) {
        rc = zfail("subscribe: zmq_socket");
        goto done;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    if (o->curve_dir) {
        char spub[41], cpub[41], csec[41];
        if ((rc = read_key(o->curve_dir, "server.pub", 0, spub)) < 0)
            goto done;
        if (zmq_curve_keypair(cpub, csec) != 0 || zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, spub, 40) < 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, cpub, 40) < 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, csec, 40) < 0) {
            rc = zfail("subscribe: CURVE");
            goto done;
        }
        memset(csec, 0, sizeof csec);
    }
    mon = monitor_open(ctx, sock, "sub");
    if (zmq_connect(sock, o->connect) < 0) {
        int e = zmq_errno();
        rc = h5tier__fail(e, "subscribe: cannot connect to %s: %s", o->connect, zmq_strerror(e));
        goto done;
    }
    double t0 = now_s(), last_rx = 0, last_data = 0, last_hello = t0, last_keep = t0, last_flush = t0;
    int have_schema = 0, refused = 0, disconnects = 0;
    sub_hello(S, sock);
    while (!(o->stop && *o->stop)) {
        double t = now_s();
        if (o->duration_s > 0 && t - t0 >= o->duration_s)
            break;
        if (o->count && st.records >= o->count)
            break;
        if (!have_schema && t - t0 > (o->connect_timeout_s > 0 ? o->connect_timeout_s : 10)) {
            rc = h5tier__fail(ETIMEDOUT, "subscribe: no schema from %s within %.0f s: %s", o->connect,
                              o->connect_timeout_s > 0 ? o->connect_timeout_s : 10,
                              refused ? "refused: the security handshake failed (the publisher uses CURVE and this "
                                        "subscriber has no or the wrong server.pub: --curve DIR)"
                              : disconnects ? "refused: the publisher closed the connection during the handshake "
                                              "(a wrong CURVE key in --curve DIR, or CURVE on one side only)"
                                            : "no publisher answered (is it running, is the address right?)");
            break;
        }
        if (have_schema && o->idle_timeout_s > 0 && t - last_data > o->idle_timeout_s)
            break;
        if (t - (last_rx > last_hello ? last_rx : last_hello) > 2.0) {
            sub_hello(S, sock); /* publisher restarted, link cut: start over (resuming where we are) */
            last_hello = t;
        }
        if (t - last_keep >= 1.0) {
            last_keep = t;
            if (have_schema)
                sub_send(sock, hdr(M_KEEPALIVE, 0, 0, 0, 0), NULL, 0);
        }
        if (S->a && t - last_flush >= 0.25) {
            last_flush = t;
            if ((rc = h5tier_archive_flush(S->a, 0)) < 0)
                break;
            if (o->lossless)
                for (unsigned k = 0; k < S->n; k++)
                    if (S->exp[k] != NET_FROM_OLDEST)
                        sub_ack(S, sock, k);
        }
        zmq_pollitem_t it[2] = {{sock, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        int np = zmq_poll(it, mon ? 2 : 1, 20);
        if (np < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = zfail("subscribe: zmq_poll");
            break;
        }
        if (mon && (it[1].revents & ZMQ_POLLIN))
            refused += monitor_drain(mon, o->log, o->log_arg, "subscriber", &disconnects);
        if (!(it[0].revents & ZMQ_POLLIN))
            continue;
        for (int burst = 0; burst < 1024 && rc == 0; burst++) {
            zmq_msg_t parts[3];
            size_t np2 = 0;
            int more = 1;
            while (more) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, sock, np2 ? 0 : ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                more = zmq_msg_more(&m);
                if (np2 < 3)
                    parts[np2++] = m;
                else
                    zmq_msg_close(&m);
            }
            if (np2 == 0)
                break;
            net_hdr_t h;
            if (zmq_msg_size(&parts[0]) == sizeof h) {
                memcpy(&h, zmq_msg_data(&parts[0]), sizeof h);
                if (h.magic != NET_MAGIC || h.version != H5TIER_NET_PROTOCOL) {
                    rc = h5tier__fail(EPROTO, "subscribe: %s speaks another protocol (version %u)", o->connect,
                                      (unsigned)h.version);
                } else if (h.type == M_SCHEMA && np2 == 3) {
                    last_rx = now_s();
                    size_t tl = zmq_msg_size(&parts[1]);
                    if (h.n == 0 || h.n > H5TIER_RING_MAX_STREAMS || tl != h.n * sizeof(net_stream_t)) {
                        rc = h5tier__fail(EPROTO, "subscribe: a malformed schema");
                    } else if (have_schema) {
                        if (h.aux != S->hash)
                            rc = h5tier__fail(H5TIER_ESCHEMA, "subscribe: the publisher at %s now has another "
                                              "schema (it was restarted on another ring?): stopped", o->connect);
                        else {
                            st.reconnects++;
                            sub_start(S, sock);
                        }
                    } else {
                        S->n = h.n;
                        memcpy(S->table, zmq_msg_data(&parts[1]), tl);
                        for (unsigned k = 0; k < S->n && rc == 0; k++) {
                            S->table[k].path[H5TIER_RING_STREAM_NAME_MAX] = 0;
                            if (h5tier__ring_check_stream_name(S->table[k].path) < 0 ||
                                S->table[k].record_size == 0 || S->table[k].capacity < 2 ||
                                (S->table[k].capacity & (S->table[k].capacity - 1)))
                                rc = h5tier__fail(EPROTO, "subscribe: schema: bad stream %u", k);
                        }
                        S->hash = h.aux;
                        if (rc == 0)
                            rc = sub_setup(S, zmq_msg_data(&parts[2]), zmq_msg_size(&parts[2]));
                        if (rc == 0) {
                            have_schema = 1;
                            last_data = now_s(); /* the idle timeout counts from here */
                            logf_(o->log, o->log_arg, "schema from %s: %u stream%s -> %s '%s'", o->connect, S->n,
                                  S->n == 1 ? "" : "s", o->mirror ? "ring" : "archive",
                                  o->mirror ? o->mirror : o->archive);
                            sub_start(S, sock);
                        }
                    }
                } else if (h.type == M_DATA && np2 == 2 && have_schema) {
                    last_rx = last_data = now_s();
                    rc = sub_data(S, &h, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), &st);
                    if (rc == 0 && o->lossless && !S->a)
                        sub_ack(S, sock, h.stream);
                    else if (rc == 0 && o->lossless)
                        sub_send(sock, hdr(M_ACK, h.stream, 0, S->exp[h.stream], 0), NULL, 0); /* credit */
                } else if (h.type == M_PING) {
                    last_rx = now_s();
                    if (have_schema && h.aux != S->hash)
                        rc = h5tier__fail(H5TIER_ESCHEMA, "subscribe: the publisher at %s now has another schema "
                                          "(restarted on another ring?): stopped", o->connect);
                }
            }
            for (size_t i = 0; i < np2; i++)
                zmq_msg_close(&parts[i]);
        }
        if (rc < 0)
            break;
    }
    st.seconds = now_s() - t0;
done:
    if (S) {
        if (S->a) {
            int r = h5tier_archive_flush(S->a, 1);
            if (o->lossless && sock && r == 0)
                for (unsigned k = 0; k < S->n; k++)
                    if (S->exp[k] != NET_FROM_OLDEST)
                        sub_ack(S, sock, k);
            r = h5tier_archive_close(S->a);
            if (rc == 0 && r < 0)
                rc = r;
        }
        h5tier_ring_close(S->w);
    }
    if (sock && S && S->n) /* a clean stop; a killed subscriber sends nothing and its tether stays */
        sub_send(sock, hdr(M_BYE, 0, 0, 0, o->keep_tether ? 1 : 0), NULL, 0);
    if (sock) {
        int l = 200; /* the last acknowledgements */
        zmq_setsockopt(sock, ZMQ_LINGER, &l, sizeof l);
        zmq_close(sock);
    }
    if (mon)
        zmq_close(mon);
    if (ctx)
        zmq_ctx_term(ctx);
    free(S);
    if (stats)
        *stats = st;
    return rc;
}
