/*
 * tools/cli.h -- helpers shared by the h5tier subcommands: error reports
 * that say what to do next, and a progress bar for long copies.
 */
#ifndef H5TIER_CLI_H
#define H5TIER_CLI_H

#include <stdint.h>

/* Subcommands: each returns the process exit status (0 ok, 1 failure,
 * 2 usage error). */
int h5tier_cmd_shm(int argc, char **argv);
int h5tier_cmd_ring(int argc, char **argv);
int h5tier_cmd_persist(int argc, char **argv);
int h5tier_cmd_top(int argc, char **argv); /* tools/cmd_top.c */
/* `h5tier merge DIR OUT.h5` (tools/cmd_merge.c). */
int h5tier_cmd_merge(int argc, char **argv);
int h5tier_cmd_tier(int argc, char **argv);
int h5tier_cmd_run(int argc, char **argv);
/* `h5tier ring archive ...` (tools/cmd_ring_archive.c), called by cmd_ring.c. */
int h5tier_cmd_ring_archive(int argc, char **argv);

/* Print "h5tier <cmd>: <what>: <h5tier_errmsg()>" (the recorded explanation,
 * which ends with the error text), or "<what>: <h5tier_strerror(err)>" when
 * nothing was recorded,
 * and, if hint is not NULL, a second line "hint: ...".  Returns 1. */
int cli_fail(const char *cmd, int err, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Print a usage error and return 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A progress callback for h5tier copy functions: draws a bar on stderr when
 * stderr is a terminal, does nothing otherwise.  arg is a label string. */
void cli_progress(uint64_t done, uint64_t total, void *arg);

/* Parse octal permissions ("0600", at most 07777).  0, or -1 if malformed. */
int cli_parse_mode(const char *text, unsigned *mode);

/* Parse a non-negative decimal number (seconds, Hz, ...).  0, or -1 if
 * malformed, negative or not finite. */
int cli_parse_number(const char *text, double *out);

/* True if argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
