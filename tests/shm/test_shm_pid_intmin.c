/*
 * Proves (issue 8, smaller items) that a pid field holding 0x80000000
 * (INT32_MIN, written by a corrupt or hostile process into a control
 * object) is read as "no owner": h5tier__owner_check returns 0 and not
 * alive (main negated INT_MIN: undefined behaviour reported by UBSan at
 * src/common/proc.c:66, and a negative "pid" returned against its
 * contract), the reader-slot sweep frees such a slot, and `shm info`
 * reports no writer.  Run under UBSan (make test-asan) it also proves the
 * negation is gone.
 */
#include "persist_util.h"
#include "shmtest.h"

int main(void)
{
    tu_h5_quiet();
    _Atomic int32_t pid = INT32_MIN;
    _Atomic uint64_t start = 12345;
    bool alive = true;
    pid_t p = h5tier__owner_check(&pid, &start, &alive);
    CHECKF(p == 0 && !alive, "owner_check of INT32_MIN returned %d alive=%d", (int)p, (int)alive);

    /* a real control object with the field mutated */
    pimg_t a;
    pimg_create(&a, 1024, 1);
    const char *file = tu_path("a.h5");
    pimg_write_file(file, &a);
    char *n = tu_shm_name("intmin");
    CHECK_OK(h5tier_shm_load(file, n, 0600, 0, NULL, NULL));
    char canon[300];
    snprintf(canon, sizeof canon, "/%s", n);
    int cfd = -1;
    h5tier_shmc_t *ctl = NULL;
    CHECK_OK(h5tier__shmc_open(canon, 1, 0, 0600, &cfd, &ctl));
    atomic_store(&ctl->writer_pid, INT32_MIN);
    atomic_store(&ctl->writer_start, 99);
    atomic_store(&ctl->readers[3].pid, INT32_MIN);
    atomic_store(&ctl->readers[3].start, 7);
    CHECK(h5tier__shmc_live_readers(ctl) == 0);
    CHECK(atomic_load(&ctl->readers[3].pid) == 0); /* freed */
    h5tier_shm_info_t in;
    CHECK_OK(h5tier_shm_info(n, &in));
    CHECKF(in.writer_pid == 0 && !in.writer_alive, "info: writer pid %d", (int)in.writer_pid);
    char out[4096];
    int st = tu_sh(out, sizeof out, "'%s' shm info '%s'", tu_cli(), n);
    CHECKF(st == 0 && strstr(out, "writer:      none") && !strstr(out, "-2147483648"), "shm info: %s", out);
    h5tier__shmc_close(cfd, ctl);
    CHECK_OK(h5tier_shm_remove(n, 0));
    free(a.buf);
    tu_log("ok");
    return 0;
}
