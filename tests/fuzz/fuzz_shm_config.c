/* Fuzz target: the shm driver's configuration string (HDF5_DRIVER_CONFIG,
 * h5tier__shm_config_parse, src/shm/plugin.c).  Invariants: 0, -EINVAL or
 * -ENAMETOOLONG only; on success the result passes the driver's own check
 * and its strings are NUL-terminated. */
#include <errno.h>

#include "shm/plugin.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    h5tier_shm_config_t c, d;
    int rc = h5tier__shm_config_parse(s, &c);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
    if (rc == 0) {
        FUZZ_CHECK(memchr(c.name, 0, sizeof c.name) && memchr(c.backing_file, 0, sizeof c.backing_file));
        FUZZ_CHECK(h5tier__shm_config_check(&c, &d) == 0);
        FUZZ_CHECK(c.page_size >= 4096 && (c.page_size & (c.page_size - 1)) == 0 && c.mode <= 0777);
    }
    free(s);
    return 0;
}
