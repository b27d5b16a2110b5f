/*
 * shm/plugin.c -- what HDF5 1.14 adds for the shm driver, kept out of the
 * driver proper (H5FDshm.c):
 *   - the configuration string (HDF5_DRIVER_CONFIG / H5Pset_driver_by_name),
 *     parsed by h5tier__shm_config_parse (version independent, so its tests
 *     run under 1.10 as well);
 *   - the class HDF5 1.14 registers: the driver's table with an `open` that
 *     applies such a string first, so that a program that never heard of
 *     h5tier (h5dump, h5ls, h5py) gets the driver with
 *       HDF5_DRIVER=h5tier_shm HDF5_PLUGIN_PATH=<dir of libh5tier_shm_vfd.so>
 *       HDF5_DRIVER_CONFIG="name=run1,on_close=keep"
 *     (the plugin entry points themselves are in plugins/shm.c, a separate
 *     module, so libh5tier.so exports no H5PL* symbol);
 *   - the 1.14 `del` callback (H5Fdelete).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/plugin.h"

#define CONFIG_TEXT_MAX 8192

/* Copy [v, v+n) into dst[cap] as a string, or fail naming key. */
static int set_text(char *dst, size_t cap, const char *key, const char *v, size_t n)
{
    if (n >= cap)
        return h5tier__fail(ENAMETOOLONG, "shm driver config: %s is %zu characters long (at most %zu)", key, n,
                            cap - 1);
    memcpy(dst, v, n);
    dst[n] = 0;
    return 0;
}

static int set_bool(unsigned *flags, unsigned bit, int invert, const char *key, const char *v)
{
    int on;
    if (!strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcasecmp(v, "true"))
        on = 1;
    else if (!strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcasecmp(v, "false"))
        on = 0;
    else
        return h5tier__fail(EINVAL, "shm driver config: %s='%.64s' is not a yes/no value (1/0, yes/no, on/off)",
                            key, v);
    if (on != invert)
        *flags |= bit;
    else
        *flags &= ~bit;
    return 0;
}

static int set_size(size_t *dst, const char *key, const char *v)
{
    uint64_t b;
    if (h5tier_parse_size(v, &b) < 0 || b > SIZE_MAX)
        return h5tier__fail(EINVAL, "shm driver config: %s='%.64s' is not a size (e.g. 64MiB, 1G, 4096)", key, v);
    *dst = (size_t)b;
    return 0;
}

/* Apply one "key=value" item (already trimmed, NUL-terminated). */
static int apply_item(h5tier_shm_config_t *cfg, char *item)
{
    char *eq = strchr(item, '=');
    if (!eq)
        return h5tier__fail(EINVAL, "shm driver config: item '%.64s' is not key=value (keys: name, backing, "
                            "increment, page_size, on_close, mode, populate, populate_ahead, "
                            "persist_on_flush, save)", item);
    *eq = 0;
    const char *key = item;
    char *v = eq + 1;
    size_t kl = strlen(key);
    while (kl && isspace((unsigned char)key[kl - 1]))
        item[--kl] = 0;
    while (isspace((unsigned char)*v))
        v++;
    if (!strcmp(key, "name"))
        return set_text(cfg->name, sizeof cfg->name, key, v, strlen(v));
    if (!strcmp(key, "backing") || !strcmp(key, "backing_file"))
        return set_text(cfg->backing_file, sizeof cfg->backing_file, key, v, strlen(v));
    if (!strcmp(key, "increment"))
        return set_size(&cfg->increment, key, v);
    if (!strcmp(key, "page_size"))
        return set_size(&cfg->page_size, key, v);
    if (!strcmp(key, "on_close")) {
        if (!strcmp(v, "keep"))
            cfg->on_close = H5TIER_SHM_KEEP;
        else if (!strcmp(v, "unlink"))
            cfg->on_close = H5TIER_SHM_UNLINK;
        else
            return h5tier__fail(EINVAL, "shm driver config: on_close='%.64s' is neither keep nor unlink", v);
        return 0;
    }
    if (!strcmp(key, "mode")) {
        char *end;
        errno = 0;
        unsigned long m = strtoul(v, &end, 8);
        if (!*v || *end || errno || m == 0 || m > 0777)
            return h5tier__fail(EINVAL, "shm driver config: mode='%.64s' is not octal permissions 1..0777", v);
        cfg->mode = (mode_t)m;
        return 0;
    }
    if (!strcmp(key, "populate"))
        return set_bool(&cfg->flags, H5TIER_SHM_POPULATE, 0, key, v);
    if (!strcmp(key, "populate_ahead"))
        return set_bool(&cfg->flags, H5TIER_SHM_POPULATE_AHEAD, 0, key, v);
    if (!strcmp(key, "persist_on_flush"))
        return set_bool(&cfg->flags, H5TIER_SHM_NO_PERSIST_ON_FLUSH, 1, key, v);
    if (!strcmp(key, "save")) {
        if (!strcmp(v, "journal"))
            cfg->flags &= ~H5TIER_SHM_RENAME_SAVE;
        else if (!strcmp(v, "rename"))
            cfg->flags |= H5TIER_SHM_RENAME_SAVE;
        else
            return h5tier__fail(EINVAL, "shm driver config: save='%.64s' is neither journal nor rename", v);
        return 0;
    }
    return h5tier__fail(EINVAL, "shm driver config: unknown key '%.64s' (keys: name, backing, increment, "
                        "page_size, on_close, mode, populate, populate_ahead, persist_on_flush, save)", key);
}

int h5tier__shm_config_parse(const char *text, h5tier_shm_config_t *cfg)
{
    h5tier_shm_config_init(cfg);
    if (!text)
        return 0;
    size_t len = strnlen(text, CONFIG_TEXT_MAX + 1);
    if (len > CONFIG_TEXT_MAX)
        return h5tier__fail(ENAMETOOLONG, "shm driver config: longer than %d characters", CONFIG_TEXT_MAX);
    char *buf = malloc(len + 1);
    if (!buf)
        return h5tier__fail(ENOMEM, "shm driver config: out of memory");
    memcpy(buf, text, len + 1);
    int rc = 0;
    for (char *p = buf; rc == 0 && p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        while (isspace((unsigned char)*p))
            p++;
        size_t n = strlen(p);
        while (n && isspace((unsigned char)p[n - 1]))
            p[--n] = 0;
        if (n)
            rc = apply_item(cfg, p);
        p = comma ? comma + 1 : NULL;
    }
    free(buf);
    if (rc == 0)
        rc = h5tier__shm_config_check(cfg, cfg);
    return rc;
}

#if defined(H5FD_CLASS_VERSION)

/* The configuration a file access list asks for: the driver's struct when set
 * by H5Pset_fapl_shm, else its configuration string, else the defaults.
 * *from_string tells the caller the struct must be put on a copy of fapl. */
static int fapl_config(hid_t fapl_id, h5tier_shm_config_t *cfg, int *from_string)
{
    *from_string = 0;
    const h5tier_shm_config_t *fa = NULL;
    if (fapl_id != H5P_DEFAULT && fapl_id != H5P_FILE_ACCESS_DEFAULT)
        fa = H5Pget_driver_info(fapl_id);
    if (fa || fapl_id == H5P_DEFAULT || fapl_id == H5P_FILE_ACCESS_DEFAULT)
        return h5tier__shm_config_check(fa, cfg);
    ssize_t n;
    H5E_BEGIN_TRY { n = H5Pget_driver_config_str(fapl_id, NULL, 0); }
    H5E_END_TRY;
    if (n <= 0)
        return h5tier__shm_config_check(NULL, cfg);
    if (n > CONFIG_TEXT_MAX)
        return h5tier__fail(ENAMETOOLONG, "shm driver config: longer than %d characters", CONFIG_TEXT_MAX);
    char *s = malloc((size_t)n + 1);
    if (!s)
        return h5tier__fail(ENOMEM, "shm driver config: out of memory");
    int rc;
    if (H5Pget_driver_config_str(fapl_id, s, (size_t)n + 1) < 0)
        rc = h5tier__fail(H5TIER_EHDF5, "shm driver config: cannot read the configuration string");
    else
        rc = h5tier__shm_config_parse(s, cfg);
    free(s);
    *from_string = rc == 0;
    return rc;
}

static const H5FD_class_t *base_class;
static H5FD_class_t class14;
static pthread_once_t class14_once = PTHREAD_ONCE_INIT;

static H5FD_t *open14(const char *name, unsigned flags, hid_t fapl_id, haddr_t maxaddr)
{
    h5tier_shm_config_t cfg;
    int from_string;
    if (fapl_config(fapl_id, &cfg, &from_string) < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, EINVAL, "shm driver: cannot open '%s': %s", name ? name : "",
                    h5tier__shm_why());
        return NULL;
    }
    if (!from_string)
        return base_class->open(name, flags, fapl_id, maxaddr);
    /* Put the parsed struct on a copy of the access list: the driver reads its
     * configuration from there, as for H5Pset_fapl_shm. */
    hid_t copy = H5Pcopy(fapl_id);
    if (copy < 0 || H5Pset_driver(copy, H5Pget_driver(fapl_id), &cfg) < 0) {
        if (copy >= 0)
            H5Pclose(copy);
        H5TIER_PUSH(H5TIER_AREA_SHM, H5TIER_EHDF5, "shm driver: cannot apply the configuration string to '%s'",
                    name ? name : "");
        return NULL;
    }
    H5FD_t *f = base_class->open(name, flags, copy, maxaddr);
    H5Pclose(copy);
    return f;
}

static void class14_init(void)
{
    class14 = *base_class;
    class14.open = open14;
}

const H5FD_class_t *h5tier__shm_class14(const H5FD_class_t *base)
{
    base_class = base;
    pthread_once(&class14_once, class14_init);
    return &class14;
}

herr_t h5tier__shm_vfd_del(const char *name, hid_t fapl_id)
{
    h5tier_shm_config_t cfg;
    int from_string;
    char canon[H5TIER_SHM_NAME_MAX + 2];
    if (fapl_config(fapl_id, &cfg, &from_string) < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, EINVAL, "shm driver: cannot delete '%s': %s", name ? name : "",
                    h5tier__shm_why());
        return -1;
    }
    int rc = cfg.name[0] ? h5tier__shm_name_canon(cfg.name, canon, sizeof canon)
                         : h5tier__shm_name_from_path(name, canon, sizeof canon);
    if (rc < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, -rc, "shm driver: cannot delete '%s': bad name (%s)", name ? name : "",
                    h5tier__shm_why());
        return -1;
    }
    rc = h5tier_shm_remove(canon, 0);
    if (rc < 0) {
        H5TIER_PUSH(H5TIER_AREA_SHM, -rc, "shm driver: cannot delete shm object '%s': %s", canon,
                    h5tier__shm_why());
        return -1;
    }
    return 0;
}

#endif /* H5FD_CLASS_VERSION */
