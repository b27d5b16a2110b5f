/* tools/cmd_ring_archive.c -- placeholder until the archiver lands (being written now). */
#include <stdio.h>

#include "cli.h"

int h5tier_cmd_ring_archive(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "h5tier ring archive: not built yet\n");
    return 2;
}
