/*
 * Proves (issue 8 item 1, driver side) that the shm driver's WRITER never
 * adopts a data object planted by another user: user B (uid 65534) plants
 * /dev/shm/NAME (a valid HDF5 image, mode 0666) and its control object
 * .NAME.h5tier (0666) before user A (uid 65533) creates NAME with
 * H5F_ACC_TRUNC (asking for a new private 0600 file).  That must fail with a
 * message on the HDF5 error stack naming the owner; A's bytes must never
 * land in B's object (B could read them, rewrite them under A, or truncate
 * it).  A's READ-ONLY open of B's file works (reading it is up to its
 * mode); H5F_ACC_RDWR of B's 0666 object is only noted (it may be sharing
 * B chose).
 * Root is needed to chown the plant and to switch to two uids (exit 77
 * otherwise).
 *
 * KNOWN DEFECT (found by the hostile-shm pass, not fixed there: the driver,
 * src/shm/H5FDshm.c open_writer/open_data, belongs to another helper): on
 * main the writer opens B's object with O_RDWR without checking its owner
 * (no h5tier__check_shared_fd), h5tier__shmc_trust accepts B's control
 * object because B owns the data object too, and H5Fcreate succeeds, writing
 * A's file into B's object.  While H5TIER_KNOWN_DEFECT_DRIVER_FOREIGN is
 * defined below, an observed failure exits 77 naming the defect; remove the
 * define with the fix so the test guards it.
 */
/* fixed: H5TIER_KNOWN_DEFECT_DRIVER_FOREIGN is no longer defined, so a regression fails */

#include <sys/stat.h>
#include <sys/wait.h>

#include "persist_util.h"
#include "shmtest.h"

#define UID_A 65533
#define UID_B 65534

/* In the child (uid A): 0 when every writer open is refused and the read-only
 * open works, 1 when a writer open was accepted (the defect), 2 on another
 * failure. */
static int as_a(const char *n)
{
    if (setresgid(UID_A, UID_A, UID_A) < 0 || setresuid(UID_A, UID_A, UID_A) < 0)
        return 2;
    hid_t fapl = st_fapl(n, 0, H5TIER_SHM_KEEP);
    int bad = 0;
    hid_t f = H5Fcreate(n, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f >= 0) {
        fprintf(stderr, "DEFECT: uid %d's H5Fcreate(TRUNC) adopted uid %d's planted object\n", UID_A, UID_B);
        H5Fclose(f);
        bad = 1;
    } else if (!strstr(st_errstack(), "owned by uid 65534")) {
        fprintf(stderr, "create refused without naming the owner: %s\n", st_errstack());
        return 2;
    }
    /* RDWR of an object its owner made 0666 may be deliberate sharing: a note, not a failure */
    f = H5Fopen(n, H5F_ACC_RDWR, fapl);
    if (f >= 0) {
        fprintf(stderr, "note: uid %d's H5Fopen(RDWR) of uid %d's 0666 object was accepted\n", UID_A, UID_B);
        H5Fclose(f);
    }
    f = H5Fopen(n, H5F_ACC_RDONLY, fapl);
    if (f < 0) {
        fprintf(stderr, "read-only open of another user's readable object refused: %s\n", st_errstack());
        return 2;
    }
    H5Fclose(f);
    H5Pclose(fapl);
    return bad;
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root to plant an object owned by another uid and to switch uids\n");
        return 77;
    }
    tu_h5_quiet();
    pimg_t a;
    pimg_create(&a, 4096, 2);
    const char *file = tu_path("b.h5");
    pimg_write_file(file, &a);
    char *n = tu_shm_name("hostdrv");
    char canon[300], dpath[600], cpath[600];
    snprintf(canon, sizeof canon, "/%s", n);
    snprintf(dpath, sizeof dpath, "%s/%s", st_shm_dir(), n);
    snprintf(cpath, sizeof cpath, "%s/.%s.h5tier", st_shm_dir(), n);
    /* B's plant: a valid image and a valid control object, both 0666, both B's */
    CHECK_OK(h5tier_shm_load(file, n, 0666, 0, NULL, NULL));
    int cfd = -1;
    h5tier_shmc_t *ctl = NULL;
    CHECK_OK(h5tier__shmc_open(canon, 1, 0, 0666, &cfd, &ctl));
    h5tier__shmc_close(cfd, ctl);
    CHECK(chown(dpath, UID_B, UID_B) == 0 && chmod(dpath, 0666) == 0);
    CHECK(chown(cpath, UID_B, UID_B) == 0 && chmod(cpath, 0666) == 0);
    struct stat before;
    CHECK(stat(dpath, &before) == 0);

    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(as_a(n));
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    int rc = WEXITSTATUS(status);
    unlink(dpath);
    unlink(cpath);
    free(a.buf);
    CHECKF(rc != 2, "child failed (see above)");
    if (rc == 1) {
#ifdef H5TIER_KNOWN_DEFECT_DRIVER_FOREIGN
        printf("SKIP: known defect (issue 8 item 1, src/shm/H5FDshm.c open_writer): the shm driver's writer adopts "
               "a data object planted by another user (mode 0666) instead of refusing it\n");
        return 77;
#else
        CHECKF(0, "the driver's writer adopted another user's planted object");
#endif
    }
    printf("all ok\n");
    return 0;
}
