/*
 * tools/h5tier.c -- the h5tier command: dispatch to one subcommand per file
 * (cmd_shm.c, cmd_ring.c, cmd_persist.c).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "h5tier.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"shm", h5tier_cmd_shm, "HDF5 files in POSIX shared memory: ls, info, load, save, rm"},
    {"ring", h5tier_cmd_ring, "live circular buffers with an HDF5 schema: create, write, tail, stat, archive"},
    {"persist", h5tier_cmd_persist, "copy chosen objects to disk with the layout their final size deserves"},
    {"top", h5tier_cmd_top, "live view of every ring and shm file: rates, readers, lag, losses, writers"},
    {"merge", h5tier_cmd_merge, "replay the per-rank logs of a multifile directory into one HDF5 file"},
    {"tier", h5tier_cmd_tier, "RAM/SSD tiers in front of slow files: stat, cache ls|rm, check"},
    {"run", h5tier_cmd_run, "run an unmodified HDF5 program with an h5tier driver (tier, shm)"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: h5tier <command> [options]\n"
            "\n"
            "h5tier puts the bytes of HDF5 files where they serve best.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "examples:\n"
            "  h5tier shm load data.h5 run1        # copy a disk file into /dev/shm/run1\n"
            "  h5tier shm ls                       # list HDF5 files in shared memory\n"
            "  h5tier ring create ev --dtype 'u8,f4[4]' --capacity 1M\n"
            "  h5tier ring tail ev --from latest --count 10\n"
            "  h5tier persist shm:run1 out.h5 --object /results --dry-run\n"
            "  h5tier merge out.h5.mf out.h5            # per-rank logs -> one HDF5 file\n"
            "  h5tier run --driver tier --config 'ram=1GiB ssd=/scratch:20GiB' -- python3 job.py\n"
            "\n"
            "'h5tier <command> --help' shows a command's options and examples.\n"
            "h5tier %s\n",
            H5TIER_VERSION_STRING);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("h5tier %s\n", H5TIER_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "h5tier: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
