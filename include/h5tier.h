/*
 * h5tier.h -- the common part of the h5tier API: version, error codes,
 * error text and size parsing.  Every public h5tier function returns 0 (or a
 * non-negative count) on success and a negative error number on failure:
 * either -errno (e.g. -ENOENT, -ENOSPC) or one of the -H5TIER_E* codes below.
 *
 * Besides the code, a failing call records a one-line explanation that names
 * the object and the reason ("shm object 'run1': not an HDF5 file (no
 * signature at 0, 512, 1024, ...)"); h5tier_errmsg() returns it.  The message
 * is per thread and stays until the next failure in that thread.
 *
 * Inside HDF5 driver callbacks the same explanation is pushed on the HDF5
 * error stack under the error class "h5tier", so H5Eprint shows it.
 */
#ifndef H5TIER_H
#define H5TIER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(H5TIER_BUILDING)
#define H5TIER_API __attribute__((visibility("default")))
#else
#define H5TIER_API
#endif

#define H5TIER_VERSION_MAJOR 0
#define H5TIER_VERSION_MINOR 1
#define H5TIER_VERSION_PATCH 0
#define H5TIER_VERSION_STRING "0.1.0"

/* h5tier's own error numbers, beyond errno's range.  Functions return them
 * negated, like errno values. */
enum h5tier_error {
    H5TIER_EBASE = 10000,
    H5TIER_ENOTHDF5,    /* the object or file is not an HDF5 file */
    H5TIER_ETRUNC,      /* an HDF5 image is shorter than its superblock says */
    H5TIER_EMAGIC,      /* a shared header has the wrong magic: not ours or corrupted */
    H5TIER_EVERSION,    /* a shared header has a format version we do not speak */
    H5TIER_EHDF5,       /* an HDF5 library call failed; see the HDF5 error stack */
    H5TIER_EDEADWRITER, /* the writer process died (pid gone or heartbeat stale) */
    H5TIER_ELAPPED,     /* a reader was overtaken by the writer: records were lost */
    H5TIER_EGONE,       /* the requested sequence number is no longer in the ring */
    H5TIER_ESCHEMA,     /* types, shapes or record sizes do not match */
    H5TIER_EJOURNAL,    /* a persist journal is damaged and was not applied */
    H5TIER_EDIVERGED,   /* multifile: a rank's metadata differs from rank 0's */
    H5TIER_EOVERLAP,    /* multifile: two ranks wrote the same bytes in one epoch */
    H5TIER_EINCOMPLETE, /* multifile: a rank's log has no close record (killed, disk full) */
    H5TIER_ELAST
};

/* Text for an error number (negative or positive, errno or H5TIER_E*).
 * Never returns NULL; the string is static. */
H5TIER_API const char *h5tier_strerror(int err);

/* The explanation recorded by the last failing h5tier call in this thread,
 * or "" if none.  Valid until the next h5tier call in this thread. */
H5TIER_API const char *h5tier_errmsg(void);

/* Parse a size such as "4096", "64k", "64KiB", "1.5G", "2MB" (binary
 * multiples: k = 1024).  Returns 0, -EINVAL for malformed text, -ERANGE for
 * values above 2^63. */
H5TIER_API int h5tier_parse_size(const char *text, uint64_t *bytes);

/* Format a byte count for people ("1.50 GiB") into buf; returns buf. */
H5TIER_API char *h5tier_format_size(uint64_t bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_H */
