/*
 * common/name.c -- shm object names: validation and derivation from file
 * names.  A name is one path component under the shm directory (/dev/shm or
 * $H5TIER_SHM_DIR): any bytes but '/', NUL and control characters, so users
 * keep the names they give their files ("run 1.h5", "a%b.h5", unicode);
 * what could reach another directory or a hidden control object is refused.
 */
#include <string.h>

#include "common/internal.h"

int h5tier__shm_name_canon(const char *name, char *out, size_t outlen)
{
    char esc[96];
    if (!name || !*name)
        return h5tier__fail(EINVAL, "shm name is missing");
    const char *n = name[0] == '/' ? name + 1 : name;
    size_t len = strlen(n);
    if (len == 0)
        return h5tier__fail(EINVAL, "shm name '/' is empty after the leading '/'");
    if (len > H5TIER_SHM_NAME_MAX)
        return h5tier__fail(ENAMETOOLONG, "shm name '%s' is longer than %d bytes",
                            h5tier__esc(name, 60, esc, sizeof esc), H5TIER_SHM_NAME_MAX);
    if (n[0] == '.')
        return h5tier__fail(EINVAL, "shm name '%s' must not start with '.' (reserved for control objects)",
                            h5tier__esc(name, (size_t)-1, esc, sizeof esc));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        if (c == '/' || c < 0x20 || c == 0x7f)
            return h5tier__fail(EINVAL,
                                "shm name '%s' has a forbidden character at byte %zu (a name may hold anything "
                                "but '/' and control characters)",
                                h5tier__esc(name, (size_t)-1, esc, sizeof esc), i);
    }
    if (outlen < len + 2)
        return h5tier__fail(ENAMETOOLONG, "shm name '%s': output buffer too small",
                            h5tier__esc(name, (size_t)-1, esc, sizeof esc));
    out[0] = '/';
    memcpy(out + 1, n, len + 1);
    return 0;
}

/* Length of "$H5TIER_SHM_DIR/" when path starts with it, else 0. */
static size_t shm_dir_prefix(const char *path)
{
    const char *d = h5tier__shm_dir();
    size_t dl = strlen(d);
    while (dl > 1 && d[dl - 1] == '/')
        dl--;
    return dl > 1 && !strncmp(path, d, dl) && path[dl] == '/' ? dl + 1 : 0;
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
    else if (shm_dir_prefix(n))
        n += shm_dir_prefix(n);
    else {
        const char *slash = strrchr(n, '/');
        if (slash)
            n = slash + 1;
    }
    return h5tier__shm_name_canon(n, out, outlen);
}
