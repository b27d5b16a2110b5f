/* Fuzz target: the persist journal reader (h5tier_shm_recover,
 * src/shm/persist.c), which replays or discards PATH.h5tier-journal left by a
 * crash.  The input becomes the journal next to a 64 KiB backing file.
 * Invariants: the result is 0, 1 (applied), 2 (discarded) or a negative
 * error with a message; unless a journal was applied (which needs a valid
 * checksum the fuzzer cannot forge by chance) the backing file is unchanged;
 * no crash or out-of-bounds access (ASan). */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5tier_shm.h"
#include "fuzz.h"

#define BSIZE 65536

static char dir[256];
static unsigned char orig[BSIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/h5tier-fuzzj-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        for (size_t i = 0; i < BSIZE; i++)
            orig[i] = (unsigned char)(i * 131 + 7);
    }
    char path[512], jpath[600], tpath[600];
    snprintf(path, sizeof path, "%s/b.h5", dir);
    snprintf(jpath, sizeof jpath, "%s.h5tier-journal", path);
    snprintf(tpath, sizeof tpath, "%s.h5tier-tmp", path);
    unlink(tpath);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0 && write(fd, orig, BSIZE) == BSIZE);
    close(fd);
    fd = open(jpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0 && (size == 0 || write(fd, data, size) == (ssize_t)size));
    close(fd);

    int rc = h5tier_shm_recover(path);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == 2 || (rc < 0 && h5tier_errmsg()[0]));
    if (rc != 1) {
        static unsigned char now[BSIZE + 1];
        fd = open(path, O_RDONLY);
        FUZZ_CHECK(fd >= 0);
        ssize_t n = read(fd, now, sizeof now);
        close(fd);
        FUZZ_CHECK(n == BSIZE && memcmp(now, orig, BSIZE) == 0);
    }
    unlink(jpath);
    unlink(tpath);
    return 0;
}
