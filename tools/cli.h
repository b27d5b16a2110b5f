/*
 * tools/cli.h -- helpers shared by the h5tier subcommands: error reports
 * that say what to do next, and a progress bar for long copies.
 */
#ifndef H5TIER_CLI_H
#define H5TIER_CLI_H

#include <getopt.h>
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
int h5tier_cmd_ring_net(int argc, char **argv); /* tools/cmd_ring_net.c: publish, subscribe, keygen */

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

/* One option parser for every subcommand (getopt_long underneath, GNU rules):
 * `--opt=value` and `--opt value`, short options as listed in shorts
 * ("fm:" gives -f and -m VALUE; each short letter must be the val of a long
 * option), unique prefixes of long options, `--` ends the options, and
 * options may follow positional arguments (argv is permuted so that the
 * positionals end up at argv[p.ind..argc)).  shorts starting with '+' turn
 * the permutation off: parsing stops at the first positional (for commands
 * whose trailing arguments belong to another program, `h5tier run`).
 *
 *     cli_getopt_t p;
 *     cli_getopt_begin(&p, "shm load", argc, argv, "fm:", longopts);
 *     while ((c = cli_getopt_next(&p)) != -1) {
 *         if (c == CLI_GETOPT_ERROR) return 2;     (message already printed)
 *         switch (c) { case 'm': use(p.arg); ... }
 *     }
 *     positional: argv[p.ind] .. argv[argc - 1]
 *
 * Errors (unknown option, ambiguous prefix, missing value, value given to a
 * flag) print "h5tier CMD: ..." naming the option and "Try 'h5tier CMD
 * --help'." on stderr; cli_getopt_next() then returns CLI_GETOPT_ERROR and the
 * caller exits with status 2.  argv[0] is the subcommand's own name and is
 * never parsed.  Not reentrant (getopt's state is global); every parse starts
 * afresh, so nested subcommands may each parse their own slice of argv. */
#define CLI_GETOPT_ERROR (-2)
typedef struct cli_getopt {
    const char *cmd;          /* for messages: "shm load" */
    int argc;
    char **argv;
    const struct option *lo;  /* {0,0,0,0}-terminated */
    char shorts[64];          /* ':' + the caller's short options */
    const char *arg;          /* value of the option just returned, or NULL */
    int ind;                  /* after -1: index of the first positional */
} cli_getopt_t;
void cli_getopt_begin(cli_getopt_t *p, const char *cmd, int argc, char **argv, const char *shorts,
                      const struct option *lo);
int cli_getopt_next(cli_getopt_t *p);

/* Report a bad option value: "h5tier CMD: bad --opt 'value': why" plus the
 * --help pointer.  Returns 2 (the exit status). */
int cli_bad_value(const char *cmd, const char *opt, const char *value, const char *why);

/* Parse a size with units (4096, 64k, 1MiB; h5tier_parse_size) / a whole
 * count with optional units.  0, or -1 if malformed. */
int cli_parse_size(const char *text, uint64_t *out);

/* True if argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
