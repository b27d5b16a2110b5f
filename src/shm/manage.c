/*
 * shm/manage.c -- managing shm HDF5 files without HDF5: describe, list,
 * load a disk file into shm, save shm to a disk file atomically, remove.
 * The base of `h5tier shm ls|info|load|save|rm`.
 *
 * The control object (.NAME.h5tier, see shm_internal.h) is only read here,
 * except by remove, which takes the writer's flock for the moment of the
 * unlink so no writer can start in between.  A live writer is recognised by
 * that lock (held by the driver for the writer's whole life, released by the
 * kernel when the writer dies), not only by its pid.
 *
 * Trust (the shm directory is shared by every user): objects are opened
 * with O_NOFOLLOW|O_NONBLOCK (h5tier_sys.shm_open) and refused unless they
 * are regular files; a control object is believed only when
 * h5tier__shmc_trust accepts it (owned by the caller or the data's owner),
 * and even then its eof is bounded by the object's size.  Load builds the
 * object under a temporary name and publishes it complete; save checks the
 * image (truncation, a live writer marked in the superblock) before copying.
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ring/liveness.h"
#include "shm/shm_driver.h"
#include "shm/shm_internal.h"

#define COPY_CHUNK ((size_t)8 << 20)
#define ESC_NAME (H5TIER_SHM_NAME_MAX * 4 + 8)

/* Printable form of a canonical name without its '/', for messages. */
#define NM(canon, buf) h5tier__esc((canon) + 1, (size_t)-1, (buf), sizeof(buf))

/* Open the data object canon read-only and check that it is a regular file
 * (anyone's: reading another user's object is up to its mode).  *st gets its
 * stat.  fd, or -errno with an errmsg naming the object. */
static int open_data_ro(const char *canon, struct stat *st)
{
    char e[ESC_NAME];
    int fd = h5tier_sys.shm_open(canon, O_RDONLY, 0);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT)
            return h5tier__fail(ENOENT, "shm object '%s' does not exist", NM(canon, e));
        if (err == ELOOP)
            return h5tier__fail(ELOOP, "shm object '%s' is a symbolic link; refusing to follow it", NM(canon, e));
        return h5tier__fail(err, "shm object '%s': cannot open: %s", NM(canon, e), strerror(err));
    }
    char what[ESC_NAME + 32];
    snprintf(what, sizeof what, "shm object '%s'", NM(canon, e));
    int r = h5tier__check_shared_fd(fd, what, H5TIER_TRUST_ANY_OWNER | H5TIER_TRUST_SHARED, 0, st);
    if (r < 0) {
        h5tier_sys.close(fd);
        return r;
    }
    return fd;
}

/* An error for a temporary name that already exists (left by another
 * process with our pid in another pid namespace, or planted by another user
 * to make us follow or overwrite it): it is never followed nor reused.
 * path is the full path, shown escaped with its kind and owner.  -EEXIST. */
static int planted_tmp(const char *what, const char *path)
{
    char esc[4096], kind[96] = "";
    struct stat st;
    if (lstat(path, &st) == 0)
        snprintf(kind, sizeof kind, " (%s owned by uid %u)",
                 S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISREG(st.st_mode) ? "a file" : "not a regular file",
                 (unsigned)st.st_uid);
    return h5tier__fail(EEXIST,
                        "%s: its temporary '%s' already exists%s: another process or user left or planted it; it is "
                        "never followed nor overwritten: retry (a new process uses a new temporary name), and remove it "
                        "if it is yours",
                        what, h5tier__esc(path, (size_t)-1, esc, sizeof esc), kind);
}

/* ---- info and list ----------------------------------------------------- */

int h5tier_shm_info(const char *name, h5tier_shm_info_t *info)
{
    char canon[H5TIER_SHM_NAME_MAX + 2];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    if ((r = h5tier__shm_dir_check()) < 0)
        return r;
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", canon);
    struct stat st;
    int fd = open_data_ro(canon, &st);
    if (fd < 0)
        return fd;
    info->size = (uint64_t)st.st_size;
    info->owner = st.st_uid;
    info->mode = st.st_mode & 07777;
    long long sig = h5tier__h5_signature_fd(fd, info->size);
    h5tier_sys.close(fd);
    char e[ESC_NAME];
    if (sig < -1)
        return h5tier__fail((int)-sig, "shm object '%s': read failed: %s", NM(canon, e), strerror((int)-sig));
    info->is_hdf5 = sig >= 0;

    int cfd = -1;
    h5tier_shmc_t *ctl = NULL;
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", h5tier_errmsg());
    r = h5tier__shmc_open(canon, 0, 1, 0, &cfd, &ctl);
    if (r == 0) {
        info->has_control = 1;
        info->generation = atomic_load(&ctl->generation);
        uint64_t eof = atomic_load(&ctl->eof);
        info->eof = eof <= info->size ? eof : 0; /* a hint from shared memory: bounded */
        int32_t wp = atomic_load(&ctl->writer_pid);
        info->writer_pid = wp > 0 ? wp : 0;
        uint64_t start = atomic_load(&ctl->writer_start);
        info->writer_alive = info->writer_pid > 0 && h5tier__pid_alive(info->writer_pid, start);
        size_t n = strnlen(ctl->backing_file, sizeof ctl->backing_file);
        if (n >= sizeof info->backing_file)
            n = sizeof info->backing_file - 1;
        memcpy(info->backing_file, ctl->backing_file, n); /* raw: print it with h5tier__esc */
        info->backing_file[n] = 0;
        h5tier__shmc_close(cfd, ctl);
        h5tier__fail(0, "%s", saved);
    } else if (r == -ENOENT) {
        h5tier__fail(0, "%s", saved); /* no control object is not an error for info */
    } else {
        /* there is one, but it is not believed: say why, use nothing from it */
        info->control_ignored = 1;
        snprintf(info->control_note, sizeof info->control_note, "%s", h5tier_errmsg());
        h5tier__fail(0, "%s", saved);
    }
    return 0;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int h5tier_shm_list(int (*cb)(const h5tier_shm_info_t *info, void *arg), void *arg)
{
    int r0 = h5tier__shm_dir_check();
    if (r0 < 0)
        return r0;
    const char *dir = h5tier__shm_dir();
    DIR *d = opendir(dir);
    if (!d)
        return h5tier__fail(errno, "cannot read the shm directory %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') /* ".", "..", control objects and temporary objects */
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        char canon[H5TIER_SHM_NAME_MAX + 2];
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", h5tier_errmsg());
        if (h5tier__shm_name_canon(e->d_name, canon, sizeof canon) < 0) {
            h5tier__fail(0, "%s", saved); /* not a name we could have made: skip quietly */
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) {
                ret = h5tier__fail(ENOMEM, "listing %s: out of memory", dir);
                goto out;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(canon))) {
            ret = h5tier__fail(ENOMEM, "listing %s: out of memory", dir);
            goto out;
        }
        n++;
    }
    if (n) /* qsort(NULL, 0, ...) is undefined */
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && ret == 0; i++) {
        h5tier_shm_info_t info;
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", h5tier_errmsg());
        if (h5tier_shm_info(names[i], &info) < 0) { /* vanished or not readable: skip */
            h5tier__fail(0, "%s", saved);
            continue;
        }
        if (!info.is_hdf5 && !info.has_control)
            continue;
        ret = cb(&info, arg);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return ret;
}

/* ---- load -------------------------------------------------------------- */

/* "/.NAME~" : the prefix of load's temporary objects (".NAME~PID"), hidden
 * from `ls` by the leading dot. */
static void load_tmp_prefix(const char *canon, char *out, size_t len) { snprintf(out, len, "/.%s~", canon + 1); }

/* Copy [0, size) of src to dst on the descriptors (copy_file_range, else
 * pread/pwrite through a 4 MiB buffer: h5tier__copy_range), in COPY_CHUNK
 * pieces with progress after each.  Neither file is mapped, so the pages
 * are never faulted into this process: peak RSS stays bounded whatever the
 * size.  0, -errno, or -H5TIER_ETRUNC when src ends early; *at: bytes
 * copied.  Nothing is recorded as errmsg: the caller names the files. */
static int copy_fds(int src, int dst, uint64_t size, void (*progress)(uint64_t done, uint64_t total, void *arg),
                    void *arg, uint64_t *at)
{
    uint64_t done = 0;
    while (done < size) {
        uint64_t n = size - done < COPY_CHUNK ? size - done : COPY_CHUNK, got = 0;
        int r = h5tier__copy_range(src, dst, done, n, &got);
        done += got;
        if (r < 0 || got < n) {
            *at = done;
            return r < 0 ? r : -H5TIER_ETRUNC;
        }
        if (progress)
            progress(done, size, arg);
    }
    *at = done;
    return 0;
}

/* Remove what killed loads of ANY name left: ".X~PID" objects owned by the
 * caller whose process is gone (or is us: a previous process with our pid).
 * Hidden by the dot, they would hold RAM unseen by `shm ls` until someone
 * loads the same X again.  Another user's are never touched, nor a live
 * process's.  A data object never starts with '.', and a control object
 * ends in ".h5tier", so nothing else matches.  Best effort. */
static void sweep_load_tmps(void)
{
    const char *dir = h5tier__shm_dir();
    DIR *d = opendir(dir);
    if (!d)
        return;
    uid_t me = geteuid();
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name, *tilde = strrchr(n, '~');
        if (n[0] != '.' || !tilde || tilde == n + 1)
            continue;
        size_t nd = strspn(tilde + 1, "0123456789");
        if (nd == 0 || nd > 9 || tilde[1 + nd] != 0)
            continue;
        pid_t pid = (pid_t)atol(tilde + 1);
        if (pid != getpid() && !(pid > 0 && kill(pid, 0) < 0 && errno == ESRCH))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || st.st_uid != me)
            continue;
        char full[4096];
        if (snprintf(full, sizeof full, "%s/%s", dir, n) < (int)sizeof full)
            (void)h5tier_sys.unlink(full);
    }
    closedir(d);
}

/* Refuse to make canon next to a control object that is not ours to trust. */
static int check_foreign_control(const char *canon)
{
    char cname[H5TIER_SHM_NAME_MAX + 16];
    int r = h5tier__shmc_name(canon, cname, sizeof cname);
    if (r < 0)
        return r;
    int cfd = h5tier_sys.shm_open(cname, O_RDONLY, 0);
    if (cfd < 0) {
        int err = errno;
        if (err == ENOENT)
            return 0;
        char path[4096], esc[4096];
        h5tier__shm_path(cname, path, sizeof path);
        return h5tier__fail(err == EACCES ? EPERM : err,
                            "control object '%s' exists but cannot be opened (%s): another user may have planted "
                            "it; refusing to create '%s' next to it (choose another name, or ask its owner)",
                            h5tier__esc(path, (size_t)-1, esc, sizeof esc), strerror(err), cname + 2);
    }
    r = h5tier__shmc_trust(canon, cname, cfd);
    h5tier_sys.close(cfd);
    return r;
}

int h5tier_shm_load(const char *file, const char *name, mode_t mode, int force,
                    void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    char canon[H5TIER_SHM_NAME_MAX + 2], e[ESC_NAME];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    if (!file || !*file)
        return h5tier__fail(EINVAL, "load into shm object '%s': no file given", NM(canon, e));
    if ((r = h5tier__shm_dir_check()) < 0)
        return r;
    if (!mode)
        mode = 0600;
    char what[ESC_NAME + 64];
    snprintf(what, sizeof what, "load into shm object '%s'", NM(canon, e));
    if ((r = h5tier__check_mode(mode, what)) < 0)
        return r;
    /* A journal left by a killed persist is finished first, so we copy the
     * old or the new version, never a mix. */
    r = h5tier_shm_recover(file);
    if (r < 0)
        return r;
    /* O_NONBLOCK: a FIFO given as the file must not block the open */
    int src = h5tier_sys.open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
    if (src < 0) {
        int err = errno;
        return h5tier__fail(err, "file '%s': %s", file, err == ENOENT ? "does not exist" : strerror(err));
    }
    int fd = -1, ret = 0, made_tmp = 0;
    char tmp[H5TIER_SHM_NAME_MAX + 32], prefix[H5TIER_SHM_NAME_MAX + 8], shmpath[4096];
    struct stat st;
    if (h5tier_sys.fstat(src, &st) < 0) {
        ret = h5tier__fail(errno, "file '%s': fstat failed: %s", file, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = h5tier__fail(EINVAL, "file '%s' is %s, not a regular file", file,
                           S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory" : "a special file");
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    long long sig = h5tier__h5_signature_fd(src, size);
    if (sig < -1) {
        ret = h5tier__fail((int)-sig, "file '%s': read failed: %s", file, strerror((int)-sig));
        goto out;
    }
    if (sig < 0) {
        ret = h5tier__fail(H5TIER_ENOTHDF5, "file '%s': not an HDF5 file (no signature at 0, 512, 1024, ...)", file);
        goto out;
    }
    if ((ret = check_foreign_control(canon)) < 0)
        goto out;
    if (!force) { /* early, friendly refusal; the publish below is the real check */
        int xfd = h5tier_sys.shm_open(canon, O_RDONLY, 0);
        if (xfd >= 0 || errno != ENOENT) {
            if (xfd >= 0)
                h5tier_sys.close(xfd);
            ret = h5tier__fail(EEXIST, "shm object '%s' already exists (remove it first, or force)", NM(canon, e));
            goto out;
        }
    }

    /* Build the copy under a temporary name, publish it only complete: a
     * killed load never leaves a partial object under the final name. */
    load_tmp_prefix(canon, prefix, sizeof prefix);
    sweep_load_tmps(); /* what killed loads (of any name) left */
    snprintf(tmp, sizeof tmp, "%s%d", prefix, (int)getpid());
    fd = h5tier_sys.shm_open(tmp, O_RDWR | O_CREAT | O_EXCL, 0600); /* private until complete */
    if (fd < 0 && errno == EEXIST) {
        char tp[4096];
        h5tier__shm_path(tmp, tp, sizeof tp);
        ret = planted_tmp(what, tp);
        goto out;
    }
    if (fd < 0) {
        ret = h5tier__fail(errno, "shm object '%s': cannot create its temporary object '%s' in %s: %s", NM(canon, e),
                           tmp + 1, h5tier__shm_dir(), strerror(errno));
        goto out;
    }
    made_tmp = 1;
    if (size > 0) {
        r = h5tier__reserve(fd, (off_t)size);
        if (r < 0) {
            char b[32];
            ret = h5tier__fail(-r, "shm object '%s': cannot reserve %s in %s for '%s': %s", NM(canon, e),
                               h5tier_format_size(size, b, sizeof b), h5tier__shm_dir(), file, strerror(-r));
            goto out;
        }
        uint64_t at = 0;
        r = copy_fds(src, fd, size, progress, arg, &at); /* no mapping: RSS stays bounded */
        if (r == -H5TIER_ETRUNC) {
            ret = h5tier__fail(H5TIER_ETRUNC, "file '%s': shrank while being loaded (%llu of %llu bytes)", file,
                               (unsigned long long)at, (unsigned long long)size);
            goto out;
        } else if (r < 0) {
            ret = h5tier__fail(-r, "file '%s': copy into shm object '%s' failed at offset %llu: %s", file,
                               NM(canon, e), (unsigned long long)at, strerror(-r));
            goto out;
        }
    }
    /* The requested mode only now: while it was being filled nobody else
     * could write or truncate it (SIGBUS under our mapping).  Also the
     * umask must not narrow what was asked for. */
    if (h5tier_sys.fchmod(fd, mode) < 0) {
        ret = h5tier__fail(errno, "shm object '%s': chmod failed: %s", NM(canon, e), strerror(errno));
        goto out;
    }
    /* publish: a second name for the complete object, never replacing one */
    char tpath[4096];
    if (h5tier__shm_path(tmp, tpath, sizeof tpath) < 0 || h5tier__shm_path(canon, shmpath, sizeof shmpath) < 0) {
        ret = -ENAMETOOLONG;
        goto out;
    }
    r = h5tier_sys.link(tpath, shmpath);
    if (r < 0 && errno == EEXIST && force) {
        r = h5tier_shm_remove(canon, 0); /* a live writer's file is never replaced */
        if (r < 0 && r != -ENOENT) {
            ret = r;
            goto out;
        }
        r = h5tier_sys.link(tpath, shmpath);
    }
    if (r < 0) {
        int err = errno;
        ret = err == EEXIST ? h5tier__fail(EEXIST, "shm object '%s' already exists (remove it first, or force)",
                                           NM(canon, e))
                            : h5tier__fail(err, "shm object '%s': cannot publish the loaded copy: %s", NM(canon, e),
                                           strerror(err));
        goto out;
    }
out:
    if (fd >= 0)
        h5tier_sys.close(fd);
    if (made_tmp)
        h5tier_sys.shm_unlink(tmp); /* published or failed: the temporary name goes */
    h5tier_sys.close(src);
    return ret;
}

/* ---- save -------------------------------------------------------------- */

/* HDF5 superblock versions >= 2 keep "file consistency flags" at byte 11;
 * 1.10 sets bit 0 (open for writing) and bit 2 (open for SWMR writing) in
 * version 3 while a writer has the file open.  A copy with them set is
 * refused by HDF5 tools until `h5clear -s`.  Returns the flags, or 0. */
static unsigned sb_open_flags(const unsigned char *img, uint64_t len)
{
    long long sig = h5tier__h5_signature_offset(img, len);
    if (sig < 0 || (uint64_t)sig + 12 > len)
        return 0;
    const unsigned char *sb = img + sig;
    return sb[8] >= 2 ? (sb[11] & 0x05u) : 0;
}

int h5tier_shm_save(const char *name, const char *file, int force,
                    void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    char canon[H5TIER_SHM_NAME_MAX + 2], e[ESC_NAME];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    if (!file || !*file)
        return h5tier__fail(EINVAL, "save of shm object '%s': no file given", NM(canon, e));
    if ((r = h5tier__shm_dir_check()) < 0)
        return r;
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.h5tier-save.%d", file, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return h5tier__fail(ENAMETOOLONG, "file '%s': path too long", file);

    struct stat dst;
    if (lstat(file, &dst) == 0) {
        if (!force)
            return h5tier__fail(EEXIST, "file '%s' already exists (choose another name, or force)", file);
        if ((r = h5tier__check_replaceable(file, &dst)) < 0)
            return r;
    } else if (errno != ENOENT) {
        return h5tier__fail(errno, "file '%s': %s", file, strerror(errno));
    }
    {
        /* what killed saves to this file left behind */
        char dcopy[PATH_MAX], bcopy[PATH_MAX], prefix[NAME_MAX + 32];
        snprintf(dcopy, sizeof dcopy, "%s", file);
        snprintf(bcopy, sizeof bcopy, "%s", file);
        snprintf(prefix, sizeof prefix, "%s.h5tier-save.", basename(bcopy));
        h5tier__remove_stale_tmps(dirname(dcopy), prefix, false);
    }

    struct stat st;
    int fd = open_data_ro(canon, &st);
    if (fd < 0)
        return fd;
    uint64_t osize = (uint64_t)st.st_size;
    int out = -1, ret = 0, made = 0, cfd = -1;
    h5tier_shmc_t *ctl = NULL;
    void *map = MAP_FAILED, *buf = NULL;
    uint64_t mapped = 0, size = 0, eof = 0;
    pid_t writer = 0;
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", h5tier_errmsg());
    if (h5tier__shmc_open(canon, 0, 1, 0, &cfd, &ctl) == 0) {
        /* a writer holds LOCK_EX for its whole life: probe it */
        if (h5tier_sys.flock(cfd, LOCK_SH | LOCK_NB) == 0)
            h5tier_sys.flock(cfd, LOCK_UN);
        else if (errno == EWOULDBLOCK) {
            int32_t wp = atomic_load(&ctl->writer_pid);
            writer = wp > 0 ? wp : -1;
        }
        eof = atomic_load(&ctl->eof);
    } else {
        h5tier__fail(0, "%s", saved); /* none, or not ours: nothing from it is believed */
    }
    /* Nothing of the object is mapped: whoever shrinks it meanwhile (its
     * writer at close, anyone allowed to write a shared object) would kill
     * us with SIGBUS.  Its head (userblock + superblock) is read into a
     * private anonymous image of the object's size (untouched pages cost
     * nothing), which the checks below read; the copy goes by pread. */
    long long sig = osize ? h5tier__h5_signature_fd(fd, osize) : -1;
    if (sig < -1) {
        ret = h5tier__fail((int)-sig, "shm object '%s': read failed: %s", NM(canon, e), strerror((int)-sig));
        goto done;
    }
    if (sig < 0) {
        ret = h5tier__fail(H5TIER_ENOTHDF5, "shm object '%s': not an HDF5 file (no signature at 0, 512, 1024, ...)",
                           NM(canon, e));
        goto done;
    }
    map = h5tier_sys.mmap(NULL, (size_t)osize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0);
    if (map == MAP_FAILED) {
        ret = h5tier__fail(errno, "shm object '%s': mmap failed: %s", NM(canon, e), strerror(errno));
        goto done;
    }
    mapped = osize;
    {
        uint64_t head = (uint64_t)sig + 4096 < osize ? (uint64_t)sig + 4096 : osize;
        size_t got = 0;
        if ((r = h5tier__pread_full(fd, map, (size_t)head, 0, &got)) < 0) {
            ret = h5tier__fail(-r, "shm object '%s': read failed: %s", NM(canon, e), strerror(-r));
            goto done;
        }
        if (got < head) {
            ret = h5tier__fail(H5TIER_ETRUNC, "shm object '%s' shrank while being saved (to %zu bytes); nothing "
                               "was saved", NM(canon, e), got);
            goto done;
        }
    }
    if (h5tier__h5_signature_offset(map, osize) < 0) { /* changed since the first look */
        ret = h5tier__fail(H5TIER_ENOTHDF5, "shm object '%s': not an HDF5 file (no signature at 0, 512, 1024, ...)",
                           NM(canon, e));
        goto done;
    }
    /* The superblock's end of file must lie within the object (a truncated
     * or partial object is an error, never a silent bad copy). */
    uint64_t end = 0;
    if ((r = h5tier__shm_check_image(canon, map, osize, &end, 1)) < 0) {
        ret = r;
        goto done;
    }
    if (writer && sb_open_flags(map, osize)) {
        char wbuf[48] = "";
        if (writer > 0)
            snprintf(wbuf, sizeof wbuf, " (pid %d)", (int)writer);
        ret = h5tier__fail(EBUSY,
                           "shm object '%s' is open by a live %swriter%s: its superblock marks the file open for "
                           "writing, so a copy now would be refused by HDF5 tools; save it after the writer closes "
                           "it (live readers: h5py with swmr=True)",
                           NM(canon, e), (sb_open_flags(map, osize) & 0x04u) ? "SWMR " : "", wbuf);
        goto done;
    }
    /* Up to the end published by the writer (the object may be larger: the
     * growth increment); without one, up to the superblock's end of file
     * (an object extended by anyone must not make us copy its holes); never
     * less than the superblock's end of file. */
    size = eof && eof <= osize ? eof : end ? end : osize;
    if (end > size)
        size = end;

    out = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0 && errno == EEXIST) {
        char w[4200], ef[4096];
        snprintf(w, sizeof w, "file '%s'", h5tier__esc(file, (size_t)-1, ef, sizeof ef));
        ret = planted_tmp(w, tmp);
        goto done;
    }
    if (out < 0) {
        ret = h5tier__fail(errno, "file '%s': cannot create temp file '%s': %s", file, tmp, strerror(errno));
        goto done;
    }
    made = 1;
    buf = malloc(size < COPY_CHUNK ? (size_t)size : COPY_CHUNK);
    if (!buf) {
        ret = h5tier__fail(ENOMEM, "file '%s': out of memory for the copy buffer", file);
        goto done;
    }
    for (uint64_t done = 0; done < size;) {
        size_t len = size - done < COPY_CHUNK ? (size_t)(size - done) : COPY_CHUNK, got = 0;
        r = h5tier__pread_full(fd, buf, len, (off_t)done, &got);
        if (r < 0) {
            ret = h5tier__fail(-r, "shm object '%s': read at offset %llu failed: %s", NM(canon, e),
                               (unsigned long long)done, strerror(-r));
            goto done;
        }
        if (got < len) {
            ret = h5tier__fail(H5TIER_ETRUNC, "shm object '%s' shrank while being saved (at byte %llu of %llu); "
                               "nothing was saved", NM(canon, e), (unsigned long long)(done + got),
                               (unsigned long long)size);
            goto done;
        }
        r = h5tier__pwrite_full(out, buf, len, (off_t)done);
        if (r < 0) {
            ret = h5tier__fail(-r, "file '%s': write failed: %s", file, strerror(-r));
            goto done;
        }
        done += len;
        if (progress)
            progress(done, size, arg);
    }
    r = h5tier__fsync(out);
    if (r < 0) {
        ret = h5tier__fail(-r, "file '%s': fsync failed: %s", file, strerror(-r));
        goto done;
    }
    r = h5tier_sys.close(out);
    out = -1;
    if (r < 0) {
        ret = h5tier__fail(errno, "file '%s': close failed: %s", file, strerror(errno));
        goto done;
    }
    if (lstat(file, &dst) == 0) { /* appeared (or changed) meanwhile */
        if (!force) {
            ret = h5tier__fail(EEXIST, "file '%s' already exists (choose another name, or force)", file);
            goto done;
        }
        if ((r = h5tier__check_replaceable(file, &dst)) < 0) {
            ret = r;
            goto done;
        }
    }
    bool renamed;
    r = h5tier__rename_durable(tmp, file, &renamed); /* replaces a symlink itself, never its target */
    made = !renamed;
    if (r < 0) {
        ret = renamed ? h5tier__fail(-r, "file '%s': fsync of its directory failed: %s", file, strerror(-r))
                      : h5tier__fail(-r, "file '%s': rename of the temp file failed: %s", file, strerror(-r));
        goto done;
    }
    if (sb_open_flags(map, size)) {
        /* no live writer, but it did not close the file (crashed): say so */
        h5tier__fail(0, "the saved copy's superblock still marks the file open for writing (its writer did not "
                     "close it): run 'h5clear -s %s' before other HDF5 tools open it", file);
        ret = 1;
    }
done:
    free(buf);
    if (out >= 0)
        h5tier_sys.close(out);
    if (made)
        h5tier_sys.unlink(tmp);
    if (map != MAP_FAILED)
        h5tier_sys.munmap(map, (size_t)mapped);
    if (ctl)
        h5tier__shmc_close(cfd, ctl);
    h5tier_sys.close(fd);
    return ret;
}

/* ---- remove ------------------------------------------------------------ */

int h5tier_shm_remove(const char *name, int force)
{
    char canon[H5TIER_SHM_NAME_MAX + 2], cname[H5TIER_SHM_NAME_MAX + 16], e[ESC_NAME];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    r = h5tier__shmc_name(canon, cname, sizeof cname);
    if (r < 0)
        return r;
    if ((r = h5tier__shm_dir_check()) < 0)
        return r;
    /* A ring with a live writer is refused, as `ring rm` does. */
    int dfd = h5tier_sys.shm_open(canon, O_RDONLY, 0);
    if (dfd >= 0) {
        struct stat st;
        pid_t rp = 0;
        if (!force && h5tier_sys.fstat(dfd, &st) == 0 && S_ISREG(st.st_mode) &&
            h5tier__ring_live_writer(dfd, (uint64_t)st.st_size, &rp) > 0) {
            h5tier_sys.close(dfd);
            return h5tier__fail(EBUSY, "shm object '%s' is a ring whose writer (pid %d) is alive; stop it first, "
                                "or force", NM(canon, e), (int)rp);
        }
        h5tier_sys.close(dfd);
    }
    /* Take the writer's lock on the control object (if any, and only when it
     * is ours to trust) so no writer can start while we unlink; failing to
     * get it means a live writer. */
    int cfd = h5tier_sys.shm_open(cname, O_RDONLY, 0);
    int locked = 0, foreign = 0;
    char note[1024] = "";
    if (cfd < 0 && errno != ENOENT) {
        char path[4096], esc[4096];
        h5tier__shm_path(cname, path, sizeof path);
        snprintf(note, sizeof note, "control object '%s' cannot be opened: %s",
                 h5tier__esc(path, (size_t)-1, esc, sizeof esc), strerror(errno));
        foreign = 1;
    } else if (cfd >= 0 && h5tier__shmc_trust(canon, cname, cfd) < 0) {
        /* planted by another user (or not a file): its lock means nothing, and
         * we leave it alone; the data object is removed as if it were absent */
        snprintf(note, sizeof note, "%s", h5tier_errmsg());
        h5tier_sys.close(cfd);
        cfd = -1;
        foreign = 1;
    }
    if (cfd >= 0) {
        for (;;) {
            if (h5tier_sys.flock(cfd, LOCK_EX | LOCK_NB) == 0) {
                locked = 1;
                break;
            }
            if (errno == EINTR)
                continue;
            if (errno == EWOULDBLOCK && !force) {
                h5tier_shm_info_t info;
                pid_t pid = h5tier_shm_info(canon, &info) == 0 ? info.writer_pid : 0;
                h5tier_sys.close(cfd);
                if (pid > 0)
                    return h5tier__fail(EBUSY, "shm object '%s' is open by a live writer (pid %d); close it first, "
                                        "or force", NM(canon, e), (int)pid);
                return h5tier__fail(EBUSY, "shm object '%s' is locked by another process (a writer starting, or a "
                                    "load, save or rm in progress); try again, or force", NM(canon, e));
            }
            break; /* forced, or locking unsupported: go on */
        }
    }
    int ret = 0;
    if (h5tier_sys.shm_unlink(canon) < 0) {
        int err = errno;
        char dpath[4096];
        struct stat dst;
        if ((err == EPERM || err == EACCES) && h5tier__shm_path(canon, dpath, sizeof dpath) == 0 &&
            lstat(dpath, &dst) == 0 && dst.st_uid != geteuid())
            ret = h5tier__fail(EPERM, "shm object '%s' belongs to uid %u (you are uid %u): only its owner can remove "
                               "or replace it", NM(canon, e), (unsigned)dst.st_uid, (unsigned)geteuid());
        else if (err != ENOENT || cfd < 0)
            ret = h5tier__fail(err, "shm object '%s': %s", NM(canon, e),
                               err == ENOENT ? "does not exist" : strerror(err));
    }
    /* the control object goes only with its data object (never "data gone, then a failure") */
    if (cfd >= 0 && ret == 0 && h5tier_sys.shm_unlink(cname) < 0 && errno != ENOENT)
        ret = h5tier__fail(errno, "shm object '%s' removed, but not its control object '%s': %s", NM(canon, e),
                           cname + 1, strerror(errno));
    if (cfd >= 0) {
        if (locked)
            h5tier_sys.flock(cfd, LOCK_UN);
        h5tier_sys.close(cfd);
    }
    if (ret == 0 && foreign) {
        h5tier__fail(0, "left in place, not ours to remove: %s", note);
        return 1;
    }
    return ret;
}
