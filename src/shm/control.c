/*
 * shm/control.c -- the control object /dev/shm/.NAME.h5tier next to each shm
 * HDF5 file: who the writer is (pid + start time, held by an flock on the
 * control fd for the writer's whole life, so the kernel releases it when the
 * writer dies), the generation bumped by each writer, the logical end of the
 * file, and reader slots so the writer knows when it may shrink the object.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm_internal.h"

int h5tier__shmc_name(const char *canon, char *out, size_t outlen)
{
    if (!canon || canon[0] != '/' || !canon[1])
        return h5tier__fail(EINVAL, "shm name '%s' is not canonical", canon ? canon : "(null)");
    int n = snprintf(out, outlen, "/.%s.h5tier", canon + 1);
    if (n < 0 || (size_t)n >= outlen)
        return h5tier__fail(ENAMETOOLONG, "shm object '%s': control object name too long", canon);
    return 0;
}

mode_t h5tier__shmc_mode(mode_t mode) { return mode | ((mode & 0444) >> 1); }

int h5tier__shmc_trust(const char *canon, const char *cname, int fd)
{
    char path[4096], what[4200], esc[4096];
    if (h5tier__shm_path(cname, path, sizeof path) < 0)
        return -ENAMETOOLONG;
    snprintf(what, sizeof what, "control object '%s'", h5tier__esc(path, (size_t)-1, esc, sizeof esc));
    /* The data object's owner may own the control object (a reader of a
     * shared file opens its writer's); its mode says who may write it. */
    char dpath[4096];
    struct stat dst;
    int have_data = h5tier__shm_path(canon, dpath, sizeof dpath) == 0 && lstat(dpath, &dst) == 0 &&
                    S_ISREG(dst.st_mode);
    struct stat st;
    int rc = h5tier__check_shared_fd(fd, what, H5TIER_TRUST_SHARED | (have_data ? H5TIER_TRUST_ALT_OWNER : 0u),
                                     have_data ? dst.st_uid : (uid_t)-1, &st);
    if (rc < 0)
        return rc;
    /* Writable by group/others only as far as the data object is readable
     * by them (the reader slots): never for a private file. */
    mode_t allowed = have_data ? h5tier__shmc_mode(dst.st_mode & 0666) & 022 : 0;
    if (st.st_mode & 022 & ~allowed)
        return h5tier__fail(EPERM,
                            "%s is writable by %s (mode %04o) but shm object '%s' is not readable by them "
                            "(mode %04o); refusing to trust it",
                            what, (st.st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st.st_mode & 07777),
                            h5tier__esc(canon + 1, (size_t)-1, esc, sizeof esc),
                            have_data ? (unsigned)(dst.st_mode & 07777) : 0u);
    return 0;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Fill a freshly created control object; magic is stored last (release) so a
 * concurrent opener that sees it sees every other field. */
static void shmc_init(h5tier_shmc_t *ctl)
{
    ctl->version = H5TIER_SHMC_VERSION;
    ctl->size = (uint32_t)sizeof(h5tier_shmc_t);
    atomic_store(&ctl->generation, 0);
    atomic_store(&ctl->writer_pid, 0);
    atomic_store(&ctl->writer_start, 0);
    atomic_store(&ctl->eof, 0);
    __atomic_store_n(&ctl->magic, H5TIER_SHMC_MAGIC, __ATOMIC_RELEASE);
}

int h5tier__shmc_open(const char *canon, int create, int readonly, mode_t mode, int *fdp, h5tier_shmc_t **ctlp)
{
    char cname[H5TIER_SHM_NAME_MAX + 16];
    int rc = h5tier__shmc_name(canon, cname, sizeof cname);
    if (rc < 0)
        return rc;
    if (!mode)
        mode = 0600;
    int fd = -1, created = 0;
    void *map = MAP_FAILED;
    int oflags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW;
    if (create && !readonly) {
        fd = h5tier_sys.shm_open(cname, oflags | O_CREAT | O_EXCL, mode);
        if (fd >= 0)
            created = 1;
        else if (errno != EEXIST) {
            rc = h5tier__fail(errno, "shm object '%s': cannot create control object '%s'", canon, cname);
            goto fail;
        }
    }
    if (fd < 0) {
        fd = h5tier_sys.shm_open(cname, oflags, 0);
        if (fd < 0) {
            rc = -errno;
            if (rc == -ENOENT)
                h5tier__fail(ENOENT, "shm object '%s': no control object '%s'", canon, cname);
            else
                h5tier__fail(-rc, "shm object '%s': cannot open control object '%s'", canon, cname);
            goto fail;
        }
    }
    if (!created && (rc = h5tier__shmc_trust(canon, cname, fd)) < 0)
        goto fail; /* checked before a single field is believed */
    if (created) {
        if (h5tier_sys.fchmod(fd, mode) < 0) { /* the umask must not narrow what the caller asked for */
            rc = h5tier__fail(errno, "shm object '%s': chmod control object", canon);
            goto fail;
        }
        rc = h5tier__reserve(fd, H5TIER_SHMC_SIZE);
        if (rc < 0) {
            h5tier__fail(-rc, "shm object '%s': cannot size control object", canon);
            goto fail;
        }
    } else {
        /* A creator may be between shm_open and the reservation: wait up to ~2 s. */
        struct stat st;
        for (int tries = 0;; tries++) {
            if (h5tier_sys.fstat(fd, &st) < 0) {
                rc = h5tier__fail(errno, "shm object '%s': fstat control object", canon);
                goto fail;
            }
            if (st.st_size >= H5TIER_SHMC_SIZE || tries >= 200)
                break;
            pause_ms(10);
        }
        if (st.st_size < (off_t)sizeof(h5tier_shmc_t)) {
            rc = h5tier__fail(H5TIER_EMAGIC, "shm object '%s': control object '%s' is too short (%lld bytes)",
                              canon, cname, (long long)st.st_size);
            goto fail;
        }
    }
    if (readonly) {
        /* A reader of the control object takes a private snapshot (pread),
         * never a shared mapping: whoever may write the object (everyone
         * who may read a shared file) could truncate it under the mapping
         * and kill us with SIGBUS. */
        map = h5tier_sys.mmap(NULL, H5TIER_SHMC_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    } else {
        map = h5tier_sys.mmap(NULL, H5TIER_SHMC_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    if (map == MAP_FAILED) {
        rc = h5tier__fail(errno, "shm object '%s': cannot map control object", canon);
        goto fail;
    }
    if (!readonly) /* anyone who may read the file may write, so truncate, this object: survive it */
        h5tier__sigbus_register(map, H5TIER_SHMC_SIZE, PROT_READ | PROT_WRITE);
    h5tier_shmc_t *ctl = map;
    if (created)
        shmc_init(ctl);
    else {
        uint64_t magic = 0;
        for (int tries = 0; tries < 200; tries++) { /* creator still initialising */
            if (readonly) {
                size_t got = 0;
                int e = h5tier__pread_full(fd, map, sizeof(h5tier_shmc_t), 0, &got);
                if (e < 0) {
                    rc = h5tier__fail(-e, "shm object '%s': cannot read control object '%s'", canon, cname);
                    goto fail;
                }
                if (got < sizeof(h5tier_shmc_t)) { /* shrank since the size check */
                    rc = h5tier__fail(H5TIER_EMAGIC, "shm object '%s': control object '%s' is too short (%zu bytes)",
                                      canon, cname, got);
                    goto fail;
                }
            }
            magic = __atomic_load_n(&ctl->magic, __ATOMIC_ACQUIRE);
            if (magic)
                break;
            pause_ms(10);
        }
        if (magic != H5TIER_SHMC_MAGIC) {
            rc = h5tier__fail(H5TIER_EMAGIC, "shm object '%s': control object '%s' has a bad magic", canon, cname);
            goto fail;
        }
        if (ctl->version != H5TIER_SHMC_VERSION || ctl->size != sizeof(h5tier_shmc_t)) {
            rc = h5tier__fail(H5TIER_EVERSION, "shm object '%s': control object '%s' has version %u size %u (want %u, %zu)",
                              canon, cname, ctl->version, ctl->size, H5TIER_SHMC_VERSION, sizeof(h5tier_shmc_t));
            goto fail;
        }
    }
    *fdp = fd;
    *ctlp = ctl;
    return 0;
fail:
    if (map != MAP_FAILED) {
        h5tier__sigbus_unregister(map);
        h5tier_sys.munmap(map, H5TIER_SHMC_SIZE);
    }
    if (fd >= 0)
        h5tier_sys.close(fd);
    if (created)
        h5tier_sys.shm_unlink(cname);
    return rc;
}

void h5tier__shmc_close(int fd, h5tier_shmc_t *ctl)
{
    if (ctl) {
        h5tier__sigbus_unregister(ctl);
        h5tier_sys.munmap(ctl, H5TIER_SHMC_SIZE);
    }
    if (fd >= 0)
        h5tier_sys.close(fd);
}

int h5tier__shmc_writer_acquire(int fd, h5tier_shmc_t *ctl, const char *canon)
{
    while (h5tier_sys.flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK) {
            pid_t pid = atomic_load(&ctl->writer_pid);
            char esc[H5TIER_SHM_NAME_MAX * 4 + 8];
            const char *n = h5tier__esc(canon, (size_t)-1, esc, sizeof esc);
            if (pid <= 0)
                return h5tier__fail(EBUSY, "shm object '%s' is locked by another process (a load, save or rm "
                                    "in progress?); try again", n);
            return h5tier__fail(EBUSY, "shm object '%s' already has a writer (pid %d%s)", n, (int)pid,
                                pid == getpid() ? ", this process" : "");
        }
        return h5tier__fail(errno, "shm object '%s': cannot lock the control object", canon);
    }
    /* A previous writer that died left its pid here; the lock proves it is gone. */
    pid_t me = getpid();
    atomic_store(&ctl->writer_start, h5tier__proc_start_time(me));
    atomic_store(&ctl->writer_pid, me);
    atomic_fetch_add(&ctl->generation, 1);
    return 0;
}

void h5tier__shmc_writer_release(int fd, h5tier_shmc_t *ctl)
{
    if (ctl) {
        atomic_store(&ctl->writer_pid, 0);
        atomic_store(&ctl->writer_start, 0);
    }
    if (fd >= 0)
        h5tier_sys.flock(fd, LOCK_UN);
}

/* A slot is claimed with h5tier__owner_claim so a checker never pairs our
 * pid with a previous reader's start time. */
int h5tier__shmc_reader_add(h5tier_shmc_t *ctl)
{
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            h5tier__shmc_live_readers(ctl); /* frees the slots of dead readers */
        for (int i = 0; i < H5TIER_SHMC_READERS; i++) {
            h5tier_shmc_reader_t *r = &ctl->readers[i];
            if (h5tier__owner_claim(&r->pid, &r->start, 0))
                return i;
        }
    }
    return -EAGAIN;
}

void h5tier__shmc_reader_remove(h5tier_shmc_t *ctl, int slot)
{
    if (!ctl || slot < 0 || slot >= H5TIER_SHMC_READERS)
        return;
    h5tier_shmc_reader_t *r = &ctl->readers[slot];
    int32_t me = (int32_t)getpid();
    atomic_compare_exchange_strong(&r->pid, &me, 0);
}

int h5tier__shmc_live_readers(h5tier_shmc_t *ctl)
{
    int n = 0;
    for (int i = 0; i < H5TIER_SHMC_READERS; i++) {
        h5tier_shmc_reader_t *r = &ctl->readers[i];
        bool alive;
        int32_t raw = atomic_load(&r->pid);
        if (raw == INT32_MIN) { /* no pid at all (corrupt or hostile): free the slot */
            atomic_compare_exchange_strong(&r->pid, &raw, 0);
            continue;
        }
        int32_t pid = h5tier__owner_check(&r->pid, &r->start, &alive);
        if (alive)
            n++;
        else if (pid)
            atomic_compare_exchange_strong(&r->pid, &pid, 0); /* dead: free the slot */
    }
    return n;
}
