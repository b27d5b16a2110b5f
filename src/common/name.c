/*
 * common/name.c -- shm object names: validation and derivation from file
 * names.  A name is one path component under /dev/shm; anything that could
 * reach another directory or a hidden control object is refused.
 */
#include <string.h>

#include "common/internal.h"

int h5tier__shm_name_canon(const char *name, char *out, size_t outlen)
{
    if (!name || !*name)
        return h5tier__fail(EINVAL, "shm name is missing");
    const char *n = name[0] == '/' ? name + 1 : name;
    size_t len = strlen(n);
    if (len == 0)
        return h5tier__fail(EINVAL, "shm name '%s' is empty after the leading '/'", name);
    if (len > H5TIER_SHM_NAME_MAX)
        return h5tier__fail(ENAMETOOLONG, "shm name '%.40s...' is longer than %d characters", name,
                            H5TIER_SHM_NAME_MAX);
    if (n[0] == '.')
        return h5tier__fail(EINVAL, "shm name '%s' must not start with '.'", name);
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '_' || c == '-' || c == '+' || c == '@';
        if (!ok)
            return h5tier__fail(EINVAL,
                                "shm name '%s' has a forbidden character at %zu (allowed: letters, digits, ._+@-)",
                                name, i);
    }
    if (outlen < len + 2)
        return h5tier__fail(ENAMETOOLONG, "shm name '%s': output buffer too small", name);
    out[0] = '/';
    memcpy(out + 1, n, len + 1);
    return 0;
}

int h5tier__shm_name_from_path(const char *path, char *out, size_t outlen)
{
    if (!path || !*path)
        return h5tier__fail(EINVAL, "file name is missing");
    const char *n = path;
    if (!strncmp(n, "shm:", 4))
        n += 4;
    else if (!strncmp(n, "/dev/shm/", 9))
        n += 9;
    else {
        const char *slash = strrchr(n, '/');
        if (slash)
            n = slash + 1;
    }
    return h5tier__shm_name_canon(n, out, outlen);
}
