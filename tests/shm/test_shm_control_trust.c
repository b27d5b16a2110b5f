/*
 * Proves (issue 8 item 1, driver and library side) that a control object is
 * checked before a single field is believed, and that fields from shared
 * memory are bounded before use (run under ASan/UBSan by make test-asan):
 *  - owned by another uid (root: chown to 65534; skipped otherwise):
 *    h5tier__shmc_open fails -EPERM naming the owner, the driver's writer
 *    open fails with that message on the HDF5 error stack, a reader still
 *    reads the file (unregistered), and info ignores it (control_ignored);
 *  - a FIFO at the control name is refused at once (-EINVAL), never waited on;
 *  - mode 0666 next to a 0600 data object is refused; next to a 0644 one
 *    (readers take reader slots) it is accepted;
 *  - mutated fields: an eof beyond the object, a backing path without a NUL
 *    and with escape bytes, a negative writer pid, a wrong version: info and
 *    save stay in bounds (eof reported 0, save copies the real image),
 *    `shm info` prints the path escaped, a bad version is -H5TIER_EVERSION.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "persist_util.h"
#include "shmtest.h"

static void ctl_path(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/.%s.h5tier", st_shm_dir(), name);
}

int main(void)
{
    tu_h5_quiet();
    pimg_t a;
    pimg_create(&a, 4096, 2);
    const char *file = tu_path("a.h5");
    pimg_write_file(file, &a);
    char *n = tu_shm_name("ctltrust");
    char canon[300], cpath[600];
    snprintf(canon, sizeof canon, "/%s", n);
    ctl_path(n, cpath, sizeof cpath);
    CHECK_OK(h5tier_shm_load(file, n, 0600, 0, NULL, NULL));
    int cfd = -1;
    h5tier_shmc_t *ctl = NULL;

    /* ---- another owner ---- */
    if (geteuid() == 0) {
        CHECK_OK(h5tier__shmc_open(canon, 1, 0, 0600, &cfd, &ctl));
        h5tier__shmc_close(cfd, ctl);
        CHECK(chown(cpath, 65534, 65534) == 0);
        int r = h5tier__shmc_open(canon, 0, 1, 0, &cfd, &ctl);
        tu_log("foreign control: %d %s", r, h5tier_errmsg());
        CHECK(r == -EPERM && strstr(h5tier_errmsg(), "owned by uid 65534"));
        hid_t fapl = st_fapl(n, 0, H5TIER_SHM_KEEP);
        hid_t f = H5Fopen(n, H5F_ACC_RDWR, fapl);
        CHECK(f < 0);
        const char *stack = st_errstack();
        tu_log("driver writer open: %s", stack);
        CHECK(strstr(stack, "owned by uid 65534"));
        f = H5Fopen(n, H5F_ACC_RDONLY, fapl);
        CHECKF(f >= 0, "reader refused next to a foreign control object: %s", st_errstack());
        CHECK(H5Fclose(f) >= 0);
        H5Pclose(fapl);
        h5tier_shm_info_t in;
        CHECK_OK(h5tier_shm_info(n, &in));
        CHECK(in.control_ignored && !in.has_control && strstr(in.control_note, "65534"));
        CHECK(unlink(cpath) == 0);
    } else {
        tu_log("not root: the foreign-owner part is skipped (chown needs root)");
    }

    /* ---- a FIFO at the control name ---- */
    CHECK(mkfifo(cpath, 0600) == 0);
    double t0 = tu_now();
    int r = h5tier__shmc_open(canon, 0, 1, 0, &cfd, &ctl);
    CHECK(r == -EINVAL && strstr(h5tier_errmsg(), "FIFO"));
    r = h5tier__shmc_open(canon, 1, 0, 0600, &cfd, &ctl);
    CHECK(r == -EINVAL);
    CHECK(tu_now() - t0 < 2.0);
    h5tier_shm_info_t in;
    CHECK_OK(h5tier_shm_info(n, &in));
    CHECK(in.control_ignored);
    CHECK(unlink(cpath) == 0);

    /* ---- writable by others ---- */
    CHECK_OK(h5tier__shmc_open(canon, 1, 0, 0600, &cfd, &ctl));
    h5tier__shmc_close(cfd, ctl);
    CHECK(chmod(cpath, 0666) == 0);
    r = h5tier__shmc_open(canon, 0, 1, 0, &cfd, &ctl);
    CHECK(r == -EPERM && strstr(h5tier_errmsg(), "writable by others"));
    CHECK(chmod(st_shm_path(n), 0644) == 0);
    CHECK_OK(h5tier__shmc_open(canon, 0, 1, 0, &cfd, &ctl)); /* shared for readers: fine */
    h5tier__shmc_close(cfd, ctl);
    CHECK(chmod(cpath, 0600) == 0 && chmod(st_shm_path(n), 0600) == 0);

    /* ---- mutated fields ---- */
    CHECK_OK(h5tier__shmc_open(canon, 0, 0, 0, &cfd, &ctl));
    atomic_store(&ctl->eof, UINT64_MAX - 5);
    atomic_store(&ctl->writer_pid, -12345);
    memset(ctl->backing_file, 'A', sizeof ctl->backing_file); /* no NUL */
    memcpy(ctl->backing_file, "\x1b]0;pwned\x07", 10);
    CHECK_OK(h5tier_shm_info(n, &in));
    CHECK(in.eof == 0 && in.writer_pid == 0 && strlen(in.backing_file) < sizeof in.backing_file);
    char out[16384];
    int st = tu_sh(out, sizeof out, "'%s' shm info '%s'", tu_cli(), n);
    CHECKF(st == 0 && !strchr(out, 0x1b) && !strchr(out, 0x07) && strstr(out, "\\x1b]0;pwned\\x07"),
           "shm info printed: %.300s", out);
    const char *saved = tu_path("saved.h5");
    CHECK_OK(h5tier_shm_save(n, saved, 0, NULL, NULL));
    CHECK(pimg_file_is(saved, &a));
    atomic_store(&ctl->eof, 100); /* below the superblock's end: still a complete copy */
    CHECK_OK(h5tier_shm_save(n, saved, 1, NULL, NULL));
    CHECK(pimg_file_is(saved, &a));
    ctl->version = 77;
    h5tier_shmc_t *ctl2 = NULL;
    int cfd2 = -1;
    r = h5tier__shmc_open(canon, 0, 1, 0, &cfd2, &ctl2);
    CHECK(r == -H5TIER_EVERSION);
    ctl->version = H5TIER_SHMC_VERSION;
    h5tier__shmc_close(cfd, ctl);
    CHECK_OK(h5tier_shm_remove(n, 0));
    free(a.buf);
    tu_log("ok");
    return 0;
}
