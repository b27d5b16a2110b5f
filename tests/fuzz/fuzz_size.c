/* Fuzz target: size/units parsing (h5tier_parse_size, src/common/size.c).
 * Invariants: returns 0, -EINVAL or -ERANGE only; on success the value is at
 * most 2^63, and formatting it never overflows the buffer. */
#include <errno.h>

#include "h5tier.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    uint64_t v = 12345;
    int rc = h5tier_parse_size(s, &v);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
    if (rc == 0) {
        FUZZ_CHECK(v <= (UINT64_C(1) << 63));
        char buf[32];
        FUZZ_CHECK(h5tier_format_size(v, buf, sizeof buf) == buf);
        FUZZ_CHECK(memchr(buf, 0, sizeof buf) != NULL);
    }
    free(s);
    return 0;
}
