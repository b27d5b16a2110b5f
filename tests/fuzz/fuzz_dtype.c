/*
 * libFuzzer target: the --dtype grammar (h5tier_ring_stream_from_dtype),
 * which users type and scripts generate.  Any input gives a stream spec with
 * a valid HDF5 type whose size is what the spec claims, or an error with a
 * message; nothing leaks (spec freed), nothing crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5tier_ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        quiet = 1;
    }
    char text[1024];
    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = 0;
    h5tier_ring_stream_spec_t spec;
    int r = h5tier_ring_stream_from_dtype(&spec, "s", text, 1024);
    if (r < 0) {
        if (!h5tier_errmsg() || !*h5tier_errmsg())
            abort();
        return 0;
    }
    if (spec.type < 0 || H5Tget_size(spec.type) == 0)
        abort(); /* a successful parse gives a real type */
    h5tier_ring_stream_spec_free(&spec);
    return 0;
}
