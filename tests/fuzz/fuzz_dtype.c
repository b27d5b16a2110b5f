/* Fuzz target: the ring's --dtype grammar (h5tier_ring_stream_from_dtype,
 * src/ring/schema.c).  Invariants: success or a negative error with a
 * message; on success a valid HDF5 type and a record size in (0, 2^40]; no
 * HDF5 datatype ID leaks, on success or failure. */
#include <hdf5.h>

#include "h5tier_ring.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        init = 1;
    }
    char *s = fuzz_cstr(data, size);
    hsize_t before = 0, after = 0;
    H5Inmembers(H5I_DATATYPE, &before);
    h5tier_ring_stream_spec_t spec;
    int rc = h5tier_ring_stream_from_dtype(&spec, "s", s, 1024);
    if (rc == 0) {
        FUZZ_CHECK(H5Iis_valid(spec.type) > 0);
        uint64_t rs = h5tier_ring_spec_record_size(&spec);
        FUZZ_CHECK(rs > 0 && rs <= (UINT64_C(1) << 40));
        h5tier_ring_stream_spec_free(&spec);
    } else {
        FUZZ_CHECK(rc < 0 && h5tier_errmsg()[0] != 0);
    }
    H5Inmembers(H5I_DATATYPE, &after);
    FUZZ_CHECK(after == before);
    free(s);
    return 0;
}
