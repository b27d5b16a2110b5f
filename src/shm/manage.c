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
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/shm_internal.h"

#define SHM_DIR "/dev/shm"
#define COPY_CHUNK ((size_t)8 << 20)

/* ---- info and list ----------------------------------------------------- */

int h5tier_shm_info(const char *name, h5tier_shm_info_t *info)
{
    char canon[H5TIER_SHM_NAME_MAX + 2];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", canon);
    int fd = h5tier_sys.shm_open(canon, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return h5tier__fail(ENOENT, "shm object '%s' does not exist", canon);
        return h5tier__fail(e, "shm object '%s': cannot open: %s", canon, strerror(e));
    }
    struct stat st;
    if (h5tier_sys.fstat(fd, &st) < 0) {
        r = h5tier__fail(errno, "shm object '%s': fstat failed: %s", canon, strerror(errno));
        h5tier_sys.close(fd);
        return r;
    }
    info->size = (uint64_t)st.st_size;
    info->owner = st.st_uid;
    info->mode = st.st_mode & 07777;
    long long sig = h5tier__h5_signature_fd(fd, info->size);
    h5tier_sys.close(fd);
    if (sig < -1)
        return h5tier__fail((int)-sig, "shm object '%s': read failed: %s", canon, strerror((int)-sig));
    info->is_hdf5 = sig >= 0;

    int cfd = -1;
    h5tier_shmc_t *ctl = NULL;
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", h5tier_errmsg());
    if (h5tier__shmc_open(canon, 0, 1, 0, &cfd, &ctl) == 0) {
        info->has_control = 1;
        info->generation = atomic_load(&ctl->generation);
        info->eof = atomic_load(&ctl->eof);
        info->writer_pid = atomic_load(&ctl->writer_pid);
        uint64_t start = atomic_load(&ctl->writer_start);
        info->writer_alive = info->writer_pid > 0 && h5tier__pid_alive(info->writer_pid, start);
        size_t n = strnlen(ctl->backing_file, sizeof ctl->backing_file);
        if (n >= sizeof info->backing_file)
            n = sizeof info->backing_file - 1;
        memcpy(info->backing_file, ctl->backing_file, n);
        info->backing_file[n] = 0;
        h5tier__shmc_close(cfd, ctl);
    } else {
        /* no (or an unreadable) control object is not an error for info */
        h5tier__fail(0, "%s", saved);
    }
    return 0;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int h5tier_shm_list(int (*cb)(const h5tier_shm_info_t *info, void *arg), void *arg)
{
    DIR *d = opendir(SHM_DIR);
    if (!d)
        return h5tier__fail(errno, "cannot read %s: %s", SHM_DIR, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') /* ".", "..", and control objects */
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
                ret = h5tier__fail(ENOMEM, "listing %s: out of memory", SHM_DIR);
                goto out;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(canon))) {
            ret = h5tier__fail(ENOMEM, "listing %s: out of memory", SHM_DIR);
            goto out;
        }
        n++;
    }
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

int h5tier_shm_load(const char *file, const char *name, mode_t mode, int force,
                    void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    char canon[H5TIER_SHM_NAME_MAX + 2];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    if (!file || !*file)
        return h5tier__fail(EINVAL, "load into shm object '%s': no file given", canon);
    if (!mode)
        mode = 0600;
    /* A journal left by a killed persist is finished first, so we copy the
     * old or the new version, never a mix. */
    r = h5tier_shm_recover(file);
    if (r < 0)
        return r;
    int src = h5tier_sys.open(file, O_RDONLY | O_CLOEXEC, 0);
    if (src < 0) {
        int e = errno;
        return h5tier__fail(e, "file '%s': %s", file, e == ENOENT ? "does not exist" : strerror(e));
    }
    int fd = -1, created = 0, ret = 0;
    void *map = MAP_FAILED;
    struct stat st;
    if (h5tier_sys.fstat(src, &st) < 0) {
        ret = h5tier__fail(errno, "file '%s': fstat failed: %s", file, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = h5tier__fail(EINVAL, "file '%s': not a regular file", file);
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

    fd = h5tier_sys.shm_open(canon, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST) {
        if (!force) {
            ret = h5tier__fail(EEXIST, "shm object '%s' already exists (remove it first, or force)", canon);
            goto out;
        }
        r = h5tier_shm_remove(canon, 0); /* a live writer's file is never replaced */
        if (r < 0 && r != -ENOENT) {
            ret = r;
            goto out;
        }
        fd = h5tier_sys.shm_open(canon, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    }
    if (fd < 0) {
        ret = h5tier__fail(errno, "shm object '%s': cannot create: %s", canon, strerror(errno));
        goto out;
    }
    created = 1;
    if (h5tier_sys.fchmod(fd, mode) < 0) { /* the umask must not narrow what was asked for */
        ret = h5tier__fail(errno, "shm object '%s': chmod failed: %s", canon, strerror(errno));
        goto out;
    }
    if (size == 0)
        goto out;
    r = h5tier__reserve(fd, (off_t)size);
    if (r < 0) {
        char b[32];
        ret = h5tier__fail(-r, "shm object '%s': cannot reserve %s in %s for '%s': %s", canon,
                           h5tier_format_size(size, b, sizeof b), SHM_DIR, file, strerror(-r));
        goto out;
    }
    map = h5tier_sys.mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        ret = h5tier__fail(errno, "shm object '%s': mmap failed: %s", canon, strerror(errno));
        goto out;
    }
    uint64_t at = 0;
    r = h5tier__read_in(src, map, size, progress, arg, &at);
    if (r == -H5TIER_ETRUNC)
        ret = h5tier__fail(H5TIER_ETRUNC, "file '%s': shrank while being loaded (%llu of %llu bytes)", file,
                           (unsigned long long)at, (unsigned long long)size);
    else if (r < 0)
        ret = h5tier__fail(-r, "file '%s': read at offset %llu failed: %s", file, (unsigned long long)at,
                           strerror(-r));
out:
    if (map != MAP_FAILED)
        h5tier_sys.munmap(map, (size_t)size);
    if (fd >= 0)
        h5tier_sys.close(fd);
    if (ret < 0 && created)
        h5tier_sys.shm_unlink(canon); /* nothing half-loaded stays behind */
    h5tier_sys.close(src);
    return ret;
}

/* ---- save -------------------------------------------------------------- */

int h5tier_shm_save(const char *name, const char *file, int force,
                    void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    char canon[H5TIER_SHM_NAME_MAX + 2];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    if (!file || !*file)
        return h5tier__fail(EINVAL, "save of shm object '%s': no file given", canon);
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.h5tier-save.%d", file, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return h5tier__fail(ENAMETOOLONG, "file '%s': path too long", file);

    struct stat dst;
    if (lstat(file, &dst) == 0) {
        if (!force)
            return h5tier__fail(EEXIST, "file '%s' already exists (choose another name, or force)", file);
        if (S_ISDIR(dst.st_mode))
            return h5tier__fail(EISDIR, "file '%s' is a directory", file);
    } else if (errno != ENOENT) {
        return h5tier__fail(errno, "file '%s': %s", file, strerror(errno));
    }

    h5tier_shm_info_t info;
    r = h5tier_shm_info(canon, &info);
    if (r < 0)
        return r;
    if (!info.is_hdf5)
        return h5tier__fail(H5TIER_ENOTHDF5, "shm object '%s': not an HDF5 file (no signature at 0, 512, 1024, ...)",
                            canon);
    /* The writer publishes the logical end of file; the object itself may be
     * larger (growth increment). */
    uint64_t size = info.eof && info.eof <= info.size ? info.eof : info.size;

    int fd = h5tier_sys.shm_open(canon, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return h5tier__fail(errno, "shm object '%s': cannot open: %s", canon, strerror(errno));
    int out = -1, ret = 0, made = 0;
    void *map = MAP_FAILED;
    if (size) {
        map = h5tier_sys.mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            ret = h5tier__fail(errno, "shm object '%s': mmap failed: %s", canon, strerror(errno));
            goto done;
        }
    }
    out = h5tier_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        ret = h5tier__fail(errno, "file '%s': cannot create temp file '%s': %s", file, tmp, strerror(errno));
        goto done;
    }
    made = 1;
    for (uint64_t done = 0; done < size;) {
        size_t len = size - done < COPY_CHUNK ? (size_t)(size - done) : COPY_CHUNK;
        r = h5tier__pwrite_full(out, (const char *)map + done, len, (off_t)done);
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
    if (!force && lstat(file, &dst) == 0) { /* appeared meanwhile */
        ret = h5tier__fail(EEXIST, "file '%s' already exists (choose another name, or force)", file);
        goto done;
    }
    bool renamed;
    r = h5tier__rename_durable(tmp, file, &renamed); /* replaces a symlink itself, never its target */
    made = !renamed;
    if (r < 0)
        ret = renamed ? h5tier__fail(-r, "file '%s': fsync of its directory failed: %s", file, strerror(-r))
                      : h5tier__fail(-r, "file '%s': rename of the temp file failed: %s", file, strerror(-r));
done:
    if (out >= 0)
        h5tier_sys.close(out);
    if (made)
        h5tier_sys.unlink(tmp);
    if (map != MAP_FAILED)
        h5tier_sys.munmap(map, (size_t)size);
    h5tier_sys.close(fd);
    return ret;
}

/* ---- remove ------------------------------------------------------------ */

int h5tier_shm_remove(const char *name, int force)
{
    char canon[H5TIER_SHM_NAME_MAX + 2], cname[H5TIER_SHM_NAME_MAX + 16];
    int r = h5tier__shm_name_canon(name, canon, sizeof canon);
    if (r < 0)
        return r;
    r = h5tier__shmc_name(canon, cname, sizeof cname);
    if (r < 0)
        return r;
    /* Take the writer's lock on the control object (if any) so no writer can
     * start while we unlink; failing to get it means a live writer. */
    int cfd = h5tier_sys.shm_open(cname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    int locked = 0;
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
                return h5tier__fail(EBUSY, "shm object '%s' is open by a live writer (pid %d); close it first, or "
                                    "force", canon, (int)pid);
            }
            break; /* forced, or locking unsupported: go on */
        }
    }
    int ret = 0;
    if (h5tier_sys.shm_unlink(canon) < 0) {
        int e = errno;
        if (e != ENOENT || cfd < 0)
            ret = h5tier__fail(e, "shm object '%s': %s", canon, e == ENOENT ? "does not exist" : strerror(e));
    }
    if (cfd >= 0 && h5tier_sys.shm_unlink(cname) < 0 && errno != ENOENT && ret == 0)
        ret = h5tier__fail(errno, "shm object '%s': cannot remove control object '%s': %s", canon, cname,
                           strerror(errno));
    if (cfd >= 0) {
        if (locked)
            h5tier_sys.flock(cfd, LOCK_UN);
        h5tier_sys.close(cfd);
    }
    return ret;
}
