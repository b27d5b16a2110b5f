/* Fuzz target: the shm driver's check of an existing HDF5 image
 * (h5tier__shm_check_image, src/shm/image.c), which decides whether bytes
 * found in /dev/shm are an HDF5 file and where it ends.  Invariants: 0,
 * -H5TIER_ENOTHDF5 or -H5TIER_ETRUNC; on success the end lies within the
 * bytes given.  (ASan catches any read outside them.) */
#include "shm/shm_driver.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy, so ASan sees reads past the end */
    uint8_t *img = malloc(size ? size : 1);
    FUZZ_CHECK(img != NULL);
    memcpy(img, data, size);
    uint64_t end = UINT64_MAX;
    int rc = h5tier__shm_check_image("/fuzz", img, size, &end, 1);
    FUZZ_CHECK(rc == 0 || rc == -H5TIER_ENOTHDF5 || rc == -H5TIER_ETRUNC);
    if (rc == 0)
        FUZZ_CHECK(end <= size);
    free(img);
    return 0;
}
