/* tools/cmd_shm.c -- placeholder until the shm area lands (being written now). */
#include <stdio.h>

#include "cli.h"

int h5tier_cmd_shm(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "h5tier shm: not built yet\n");
    return 2;
}
