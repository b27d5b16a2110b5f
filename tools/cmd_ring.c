/* tools/cmd_ring.c -- placeholder until the ring area lands (being written now). */
#include <stdio.h>

#include "cli.h"

int h5tier_cmd_ring(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "h5tier ring: not built yet\n");
    return 2;
}
