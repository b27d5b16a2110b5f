/*
 * Proves the management functions behind `h5tier shm` (src/shm/manage.c) on
 * real shm objects: load copies a disk HDF5 file byte for byte with progress
 * and mode 0600, refuses a non-HDF5 file, a missing file and an existing
 * object (unless force), and leaves nothing behind when /dev/shm has no room
 * (ENOSPC injected at the reservation); info and list report size, owner,
 * mode, the HDF5 signature and the control object (writer pid alive/dead,
 * generation, eof, backing file), and list skips shm objects that are
 * neither HDF5 nor h5tier; save writes up to the published eof (never
 * short of the superblock's end of file), atomically, refusing an existing file unless force; remove refuses an
 * object whose writer holds the lock (-EBUSY) unless force, and removes the
 * control object too; load of a backing file with a committed journal left
 * by a failed persist loads the new version (recovery runs first).
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "persist_util.h"
#include "shmtest.h"

typedef struct seen {
    const char *want[3];
    int found[3];
    h5tier_shm_info_t info[3];
    int stop_after;
    int calls;
} seen_t;

static int list_cb(const h5tier_shm_info_t *in, void *arg)
{
    seen_t *s = arg;
    s->calls++;
    for (int i = 0; i < 3; i++)
        if (s->want[i] && !strcmp(in->name + 1, s->want[i])) {
            s->found[i]++;
            s->info[i] = *in;
        }
    return s->stop_after && s->calls >= s->stop_after ? 42 : 0;
}

static void progress_cb(uint64_t done, uint64_t total, void *arg)
{
    uint64_t *last = arg;
    CHECK(done > *last && done <= total);
    *last = done;
}

static int shm_exists(const char *name) { return pexists(st_shm_path(name)); }

int main(void)
{
    tu_h5_quiet();
    pimg_t a;
    pimg_create(&a, 1u << 20, 7); /* ~4 MiB */
    const char *file = tu_path("a.h5");
    pimg_write_file(file, &a);
    char *n1 = tu_shm_name("mng"), *n2 = tu_shm_name("mng"), *n3 = tu_shm_name("mng");
    char path1[300];
    snprintf(path1, sizeof path1, "%s", st_shm_path(n1));

    /* load */
    uint64_t last = 0;
    CHECK_OK(h5tier_shm_load(file, n1, 0, 0, progress_cb, &last));
    CHECK(last == a.len);
    CHECK(pimg_file_is(path1, &a));
    struct stat st;
    CHECK(stat(path1, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(h5tier_shm_load(file, n1, 0, 0, NULL, NULL) == -EEXIST);
    CHECK(strstr(h5tier_errmsg(), n1));
    CHECK_OK(h5tier_shm_load(file, n1, 0640, 1, NULL, NULL));
    CHECK(stat(path1, &st) == 0 && (st.st_mode & 0777) == 0640);
    CHECK(h5tier_shm_load(tu_path("missing.h5"), n2, 0, 0, NULL, NULL) == -ENOENT);
    const char *txt = tu_path("t.txt");
    {
        pimg_t junk = {(unsigned char *)"this is not hdf5 at all, not at 0 nor 512", 42};
        pimg_write_file(txt, &junk);
    }
    CHECK(h5tier_shm_load(txt, n2, 0, 0, NULL, NULL) == -H5TIER_ENOTHDF5);
    CHECK(strstr(h5tier_errmsg(), "t.txt"));
    CHECK(!shm_exists(n2));
    CHECK(h5tier_shm_load(file, "../x", 0, 0, NULL, NULL) == -EINVAL);
    /* no room in /dev/shm: clean ENOSPC, nothing left */
    CHECK_OK(h5tier_fault_set("fallocate", 1, ENOSPC, 0));
    int r = h5tier_shm_load(file, n2, 0, 0, NULL, NULL);
    h5tier_fault_clear();
    CHECKF(r == -ENOSPC, "load with full /dev/shm returned %d", r);
    tu_log("ENOSPC message: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), n2) && strstr(h5tier_errmsg(), "reserve"));
    CHECK(!shm_exists(n2));

    /* info and list without a control object */
    h5tier_shm_info_t in;
    CHECK_OK(h5tier_shm_info(n1, &in));
    CHECK(in.size == a.len && in.is_hdf5 && !in.has_control && in.writer_pid == 0 && in.mode == 0640);
    CHECK(in.owner == getuid() && in.name[0] == '/' && !strcmp(in.name + 1, n1));
    CHECK(h5tier_shm_info(n2, &in) == -ENOENT);
    CHECK(h5tier_shm_info("bad/name", &in) == -EINVAL);
    /* a non-HDF5 shm object without control object is not listed */
    char c3[300];
    snprintf(c3, sizeof c3, "/%s", n3);
    int fd = h5tier_sys.shm_open(c3, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
    close(fd);
    seen_t s = {.want = {n1, n3, NULL}};
    CHECK_OK(h5tier_shm_list(list_cb, &s));
    CHECK(s.found[0] == 1 && s.found[1] == 0);
    CHECK(s.info[0].is_hdf5 && s.info[0].size == a.len);
    seen_t s2 = {.stop_after = 1};
    CHECK(h5tier_shm_list(list_cb, &s2) == 42 && s2.calls == 1);

    /* a control object with this process as live writer */
    char canon[300];
    snprintf(canon, sizeof canon, "/%s", n1);
    int cfd = -1;
    h5tier_shmc_t *ctl = NULL;
    CHECK_OK(h5tier__shmc_open(canon, 1, 0, 0600, &cfd, &ctl));
    CHECK_OK(h5tier__shmc_writer_acquire(cfd, ctl, canon));
    atomic_store(&ctl->eof, (uint64_t)a.len - 4096); /* published eof below the object size */
    snprintf(ctl->backing_file, sizeof ctl->backing_file, "/data/run1.h5");
    CHECK_OK(h5tier_shm_info(n1, &in));
    CHECK(in.has_control && in.writer_pid == getpid() && in.writer_alive == 1);
    CHECK(in.generation >= 1 && in.eof == a.len - 4096 && !strcmp(in.backing_file, "/data/run1.h5"));
    memset(&s, 0, sizeof s);
    s.want[0] = n1;
    CHECK_OK(h5tier_shm_list(list_cb, &s));
    CHECK(s.found[0] == 1 && s.info[0].writer_alive == 1);

    /* save: up to the published eof but never short of the superblock's end
     * of file (a published eof below it would make a truncated copy), atomic,
     * no overwrite unless force */
    const char *out = tu_path("saved.h5");
    last = 0;
    CHECK_OK(h5tier_shm_save(n1, out, 0, progress_cb, &last));
    size_t len = 0;
    unsigned char *b = pimg_read_file(out, &len);
    CHECK(b && len == a.len && !memcmp(b, a.buf, len));
    free(b);
    CHECK(stat(out, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(h5tier_shm_save(n1, out, 0, NULL, NULL) == -EEXIST);
    CHECK(strstr(h5tier_errmsg(), "saved.h5"));
    atomic_store(&ctl->eof, (uint64_t)a.len);
    CHECK_OK(h5tier_shm_save(n1, out, 1, NULL, NULL));
    CHECK(pimg_file_is(out, &a));
    /* a failing fsync leaves no file and no temp file */
    const char *out2 = tu_path("saved2.h5");
    CHECK_OK(h5tier_fault_set("fsync", 1, EIO, 0));
    CHECK(h5tier_shm_save(n1, out2, 0, NULL, NULL) == -EIO);
    h5tier_fault_clear();
    CHECK(!pexists(out2));
    CHECK(tu_sh(NULL, 0, "ls '%s' | grep -q h5tier-save", tu_tmpdir()) != 0);
    CHECK(h5tier_shm_save(n3, out2, 0, NULL, NULL) == -H5TIER_ENOTHDF5);
    CHECK(h5tier_shm_save(n2, out2, 0, NULL, NULL) == -ENOENT);

    /* remove and load --force refuse a live writer */
    CHECK(h5tier_shm_remove(n1, 0) == -EBUSY);
    tu_log("EBUSY message: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), n1));
    CHECK(h5tier_shm_load(file, n1, 0, 1, NULL, NULL) == -EBUSY);
    CHECK(shm_exists(n1));

    /* a writer that died: reported dead; the kernel released its lock */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    CHECK(tu_wait(child) == 0);
    h5tier__shmc_writer_release(cfd, ctl);
    atomic_store(&ctl->writer_pid, child);
    atomic_store(&ctl->writer_start, 0);
    CHECK_OK(h5tier_shm_info(n1, &in));
    CHECK(in.writer_pid == child && in.writer_alive == 0);
    h5tier__shmc_close(cfd, ctl);
    CHECK_OK(h5tier_shm_remove(n1, 0));
    CHECK(!shm_exists(n1));
    char cname[300];
    snprintf(cname, sizeof cname, ".%s.h5tier", n1);
    CHECK(!shm_exists(cname));
    CHECK(h5tier_shm_remove(n1, 0) == -ENOENT);

    /* force removes even with a live writer */
    CHECK_OK(h5tier_shm_load(file, n1, 0, 0, NULL, NULL));
    CHECK_OK(h5tier__shmc_open(canon, 1, 0, 0600, &cfd, &ctl));
    CHECK_OK(h5tier__shmc_writer_acquire(cfd, ctl, canon));
    CHECK(h5tier_shm_remove(n1, 0) == -EBUSY);
    CHECK_OK(h5tier_shm_remove(n1, 1));
    CHECK(!shm_exists(n1) && !shm_exists(cname));
    h5tier__shmc_writer_release(cfd, ctl);
    h5tier__shmc_close(cfd, ctl);
    CHECK_OK(h5tier_shm_remove(n3, 0));

    /* load recovers a committed journal first: the new version is loaded */
    pimg_t bimg;
    size_t pos[2] = {1000, 500000};
    pimg_modify(&a, &bimg, pos, 2, 64, 31337, 0);
    h5tier_pagemap_t pm;
    pimg_diff(&a, &bimg, 4096, &pm);
    pimg_commit_unapplied(file, &bimg, &pm); /* first in-place write fails */
    char jpath[4500];
    snprintf(jpath, sizeof jpath, "%s.h5tier-journal", file);
    CHECK(pexists(jpath) && pimg_file_is(file, &a));
    CHECK_OK(h5tier_shm_load(file, n2, 0, 0, NULL, NULL));
    char path2[300];
    snprintf(path2, sizeof path2, "%s", st_shm_path(n2));
    CHECK(pimg_file_is(path2, &bimg) && pimg_file_is(file, &bimg) && !pexists(jpath));
    CHECK_OK(h5tier_shm_remove(n2, 0));
    h5tier__pagemap_free(&pm);
    free(bimg.buf);
    free(a.buf);
    free(n1);
    free(n2);
    free(n3);
    tu_log("ok");
    return 0;
}
