/*
 * tools/cmd_run.c -- `h5tier run --driver NAME [--config STR] -- CMD ARGS...`:
 * run an unmodified HDF5 program with an h5tier driver, by preloading
 * libh5tier_shim.so (tools/shim/h5tier_shim.c), which sets the driver
 * wherever the program opens or creates a file with a default file-access
 * list.  The driver names come from the shim itself, so a driver added to
 * its table is accepted here with no change.
 */
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "h5tier.h"
#include "h5tier_tier.h"

#define CMD "run"

#ifndef H5TIER_SHIM_INSTALL_PATH
#define H5TIER_SHIM_INSTALL_PATH "/usr/local/lib/libh5tier_shim.so"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: h5tier run --driver NAME [--config STR] [-v] -- CMD [ARGS...]\n"
            "\n"
            "Run an unmodified HDF5 program (h5py scripts, h5dump, h5repack, your own) so that\n"
            "every file it opens or creates with a default file-access list uses an h5tier\n"
            "driver.  A program that sets its own driver keeps it.\n"
            "\n"
            "drivers:\n"
            "  tier   RAM and SSD tiers in front of the file (--config: the tier configuration,\n"
            "         e.g. 'ram=2GiB ssd=/local/cache:20GiB keep=yes'; default $H5TIER_CONFIG)\n"
            "  shm    a working copy in POSIX shared memory, loaded from the file at open and\n"
            "         written back at flush and close\n"
            "\n"
            "options:\n"
            "  --driver NAME   the driver (required)\n"
            "  --config STR    driver configuration (checked before the program starts)\n"
            "  -v, --verbose   the shim says on stderr which files it redirected\n"
            "\n"
            "It cannot catch statically linked programs, setuid programs, or an HDF5 library\n"
            "other than the system one (e.g. a pip wheel of h5py): see h5tier-run(1).\n"
            "\n"
            "examples:\n"
            "  h5tier run --driver tier --config 'ram=1GiB ssd=/scratch/c:50GiB keep=yes' -- python3 train.py\n"
            "  H5TIER_STATS=r.json h5tier run --driver tier -- h5repack in.h5 out.h5 && h5tier tier stat r.json\n"
            "  h5tier run --driver shm -- h5dump -H data.h5\n");
}

/* The shim: $H5TIER_SHIM, next to this executable, or the installed one. */
static int find_shim(char *out, size_t len)
{
    const char *env = getenv("H5TIER_SHIM");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return access(out, R_OK);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        snprintf(out, len, "%s/libh5tier_shim.so", dirname(exe));
        if (access(out, R_OK) == 0)
            return 0;
    }
    snprintf(out, len, "%s", H5TIER_SHIM_INSTALL_PATH);
    return access(out, R_OK);
}

int h5tier_cmd_run(int argc, char **argv)
{
    const char *driver = NULL, *config = NULL;
    int verbose = 0, i;
    static const struct option lo[] = {{"driver", required_argument, 0, 'd'}, {"config", required_argument, 0, 'c'},
                                       {"verbose", no_argument, 0, 'v'},        {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    cli_getopt_t p; /* '+': no permutation, everything after the options is the program's */
    cli_getopt_begin(&p, CMD, argc, argv, "+vh", lo);
    int oc;
    while ((oc = cli_getopt_next(&p)) != -1) {
        switch (oc) {
        case 'h': usage(stdout); return 0;
        case 'd': driver = p.arg; break;
        case 'c': config = p.arg; break;
        case 'v': verbose = 1; break;
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    i = p.ind;
    if (i < argc && strcmp(argv[i - 1], "--"))
        return cli_usage(CMD, "unexpected argument '%s' (the program comes after --)", argv[i]);
    if (!driver)
        return cli_usage(CMD, "--driver is required (tier or shm)");
    if (i >= argc)
        return cli_usage(CMD, "no program given: h5tier run --driver %s -- CMD ARGS...", driver);
    char shim[PATH_MAX];
    if (find_shim(shim, sizeof shim) != 0) {
        fprintf(stderr, "h5tier run: cannot find libh5tier_shim.so (looked at '%s')\nhint: set H5TIER_SHIM=PATH\n", shim);
        return 1;
    }
    /* the driver names from the shim itself */
    void *h = dlopen(shim, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "h5tier run: cannot load '%s': %s\n", shim, dlerror());
        return 1;
    }
    const char **names = (const char **)dlsym(h, "h5tier_shim_driver_names");
    int known = 0;
    char list[256] = "";
    for (int k = 0; names && names[k]; k++) {
        known |= !strcmp(names[k], driver);
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", names[k]);
    }
    if (!known) {
        fprintf(stderr, "h5tier run: unknown driver '%s' (allowed: %s)\n", driver, list);
        return 2;
    }
    if (!strcmp(driver, "tier")) {
        const char *c = config ? config : getenv("H5TIER_CONFIG");
        if (h5tier_tier_config_check(c, NULL, 0) < 0) {
            fprintf(stderr, "h5tier run: %s\n", h5tier_errmsg());
            return 2;
        }
    } else if (config && *config) {
        fprintf(stderr, "h5tier run: the %s driver takes no --config\n", driver);
        return 2;
    }
    const char *pre = getenv("LD_PRELOAD");
    char *preload = malloc(strlen(shim) + (pre ? strlen(pre) : 0) + 2);
    if (!preload)
        return cli_fail(CMD, ENOMEM, NULL, "out of memory");
    /* the shim after what is already preloaded (a sanitizer runtime must stay first) */
    sprintf(preload, "%s%s%s", pre && *pre ? pre : "", pre && *pre ? ":" : "", shim);
    setenv("LD_PRELOAD", preload, 1);
    setenv("H5TIER_RUN_DRIVER", driver, 1);
    if (config)
        setenv("H5TIER_RUN_CONFIG", config, 1);
    if (verbose)
        setenv("H5TIER_RUN_VERBOSE", "1", 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "h5tier run: cannot run '%s': %s\n", argv[i], strerror(errno));
    return 127;
}
