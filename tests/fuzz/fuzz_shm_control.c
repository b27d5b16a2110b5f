/* Fuzz target: the shm control object (/dev/shm/.NAME.h5tier) as found by
 * a reader, the CLI's `shm info`, and a second writer: the input becomes the
 * control object (its first 16 KiB, zero-padded to the control object's size;
 * the data object exists and is empty),
 * then h5tier_shm_info() and h5tier__shmc_open() + h5tier__shmc_live_readers()
 * read it.  Invariants: no crash or out-of-bounds read (ASan), errors are
 * negative with a message, and a control object that is accepted has the
 * right magic and version.  Inputs with a zero magic are skipped: the opener
 * then waits ~2 s for a creator by design, which is not parsing.  (Short
 * objects are refused before any field is read: test_shm_badinput.) */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/shm_internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t img[H5TIER_SHMC_SIZE];
    memset(img, 0, sizeof img);
    memcpy(img, data, size < sizeof img ? size : sizeof img);
    uint64_t magic;
    memcpy(&magic, img, sizeof magic);
    if (magic == 0)
        return 0;
    char canon[64], cname[96];
    snprintf(canon, sizeof canon, "/h5tier-fuzzctl-%d", (int)getpid());
    FUZZ_CHECK(h5tier__shmc_name(canon, cname, sizeof cname) == 0);
    shm_unlink(canon);
    shm_unlink(cname);
    int dfd = shm_open(canon, O_RDWR | O_CREAT | O_EXCL, 0600);
    int cfd = shm_open(cname, O_RDWR | O_CREAT | O_EXCL, 0600);
    FUZZ_CHECK(dfd >= 0 && cfd >= 0);
    FUZZ_CHECK(write(cfd, img, sizeof img) == (ssize_t)sizeof img);
    close(dfd);
    close(cfd);

    h5tier_shm_info_t info;
    int rc = h5tier_shm_info(canon, &info);
    FUZZ_CHECK(rc == 0 || (rc < 0 && h5tier_errmsg()[0]));
    if (rc == 0)
        FUZZ_CHECK(memchr(info.backing_file, 0, sizeof info.backing_file) != NULL);

    int fd = -1;
    h5tier_shmc_t *ctl = NULL;
    rc = h5tier__shmc_open(canon, 0, 0, 0600, &fd, &ctl);
    if (rc == 0) {
        FUZZ_CHECK(ctl->magic == H5TIER_SHMC_MAGIC && ctl->version == H5TIER_SHMC_VERSION);
        int n = h5tier__shmc_live_readers(ctl);
        FUZZ_CHECK(n >= 0 && n <= H5TIER_SHMC_READERS);
        h5tier__shmc_close(fd, ctl);
    } else {
        FUZZ_CHECK(rc < 0 && h5tier_errmsg()[0]);
    }
    shm_unlink(canon);
    shm_unlink(cname);
    return 0;
}
