/*
 * libFuzzer target: shm names from users and files (h5tier__shm_name_canon,
 * h5tier__shm_name_from_path) and the escaping of untrusted text for
 * printing (h5tier__esc).  An accepted name is one path component: "/x"
 * with no other '/', no control byte, not hidden; escaped text never holds a
 * control byte and always fits its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[512];
    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = 0;
    char canon[H5TIER_SHM_NAME_MAX + 2];
    for (int pass = 0; pass < 2; pass++) {
        int r = pass ? h5tier__shm_name_from_path(text, canon, sizeof canon)
                     : h5tier__shm_name_canon(text, canon, sizeof canon);
        if (r == 0) {
            if (canon[0] != '/' || !canon[1] || canon[1] == '.' || strchr(canon + 1, '/'))
                abort();
            for (const unsigned char *p = (const unsigned char *)canon; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                    abort();
        } else if (!*h5tier_errmsg()) {
            abort();
        }
        for (const unsigned char *p = (const unsigned char *)h5tier_errmsg(); *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                abort(); /* messages quote names escaped */
    }
    for (size_t cap = 1; cap < 80; cap += 13) {
        char out[80];
        memset(out, 'Z', sizeof out);
        h5tier__esc(text, size, out, cap);
        size_t len = strnlen(out, cap);
        if (len >= cap)
            abort();
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
                abort();
        if (cap < sizeof out && out[cap] != 'Z')
            abort(); /* never writes past its buffer */
    }
    return 0;
}
