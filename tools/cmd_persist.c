/* tools/cmd_persist.c -- placeholder until the persist area lands (being written now). */
#include <stdio.h>

#include "cli.h"

int h5tier_cmd_persist(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "h5tier persist: not built yet\n");
    return 2;
}
