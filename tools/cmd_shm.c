/*
 * tools/cmd_shm.c -- `h5tier shm`: HDF5 files in POSIX shared memory.
 *
 *   h5tier shm ls [--json]
 *   h5tier shm info NAME [--json]
 *   h5tier shm load FILE.h5 NAME [--force] [--mode 0600]
 *   h5tier shm save NAME FILE.h5 [--force]
 *   h5tier shm rm NAME... [--force]
 *   h5tier shm recover BACKING.h5
 *
 * Exit status: 0 success, 1 failure, 2 usage error.  Built on the management
 * functions of include/h5tier_shm.h; no HDF5 call is made here.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "h5tier_shm.h"
#include "shm/shm_internal.h"

#define CMD "shm"

/* Everything printed that came from shared memory or from a name goes
 * through h5tier__esc (control bytes and invalid UTF-8 become \xNN). */
#define ESC(s, buf) h5tier__esc((s), (size_t)-1, (buf), sizeof(buf))

static const char usage_text[] =
    "usage: h5tier shm <subcommand> [options]\n"
    "\n"
    "HDF5 files whose bytes live in POSIX shared memory (/dev/shm/NAME), as made by\n"
    "the h5tier_shm HDF5 driver or by 'h5tier shm load'.  Any HDF5 tool reads them\n"
    "directly: h5dump /dev/shm/NAME.\n"
    "\n"
    "subcommands:\n"
    "  ls [--json]                          list HDF5 files in /dev/shm\n"
    "  info NAME [--json]                   size, owner, writer, generation, backing file\n"
    "  load FILE.h5 NAME [--force] [--mode M]  copy a disk HDF5 file into /dev/shm/NAME\n"
    "  save NAME FILE.h5 [--force]          copy /dev/shm/NAME to a disk file atomically\n"
    "  rm NAME... [--force]                 remove shm files (and their control objects)\n"
    "  recover BACKING.h5                   finish or discard a persist journal left by a crash\n"
    "\n"
    "NAME is a POSIX shm name: 1-240 bytes, anything but '/' and control characters\n"
    "(spaces, %, unicode are fine), not starting with '.', with or without a leading\n"
    "'/'.  The shm directory is /dev/shm, or $H5TIER_SHM_DIR when set (an absolute\n"
    "path, e.g. a larger tmpfs in a container).\n"
    "\n"
    "examples:\n"
    "  h5tier shm load data.h5 run1         # /dev/shm/run1, mode 0600\n"
    "  h5tier shm ls\n"
    "  h5dump /dev/shm/run1\n"
    "  h5tier shm save run1 run1-copy.h5\n"
    "  h5tier shm rm run1\n"
    "\n"
    "'h5tier shm <subcommand> --help' shows each subcommand's options.\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

static const char ls_help[] =
    "usage: h5tier shm ls [--json]\n"
    "\n"
    "List the objects in /dev/shm that are HDF5 files or have an h5tier control\n"
    "object (/dev/shm/.NAME.h5tier), sorted by name.  Columns:\n"
    "  NAME     shm name (the file is /dev/shm/NAME)\n"
    "  SIZE     bytes of the object (the HDF5 end of file is in 'info')\n"
    "  OWNER    owner user, MODE  permission bits\n"
    "  WRITER   pid of the writer holding it open and whether that process is\n"
    "           alive or dead (crashed); '-' if no writer\n"
    "  GEN      generation, bumped by each writer open ('-' without control object)\n"
    "  BACKING  backing file on disk of the current writer, '-' if none\n"
    "\n"
    "options:\n"
    "  --json   one JSON array of objects instead of the table\n"
    "\n"
    "examples:\n"
    "  h5tier shm ls\n"
    "  h5tier shm ls --json | python3 -m json.tool\n";

static const char info_help[] =
    "usage: h5tier shm info NAME [--json]\n"
    "\n"
    "Describe one shm object: size, HDF5 end of file, owner, mode, whether it is\n"
    "an HDF5 file, its writer (pid, alive/dead), generation and backing file.\n"
    "\n"
    "examples:\n"
    "  h5tier shm info run1\n"
    "  h5tier shm info /run1 --json\n";

static const char load_help[] =
    "usage: h5tier shm load FILE.h5 NAME [--force] [--mode MODE]\n"
    "\n"
    "Copy the disk HDF5 file FILE.h5 into a new shm object /dev/shm/NAME.  The file\n"
    "must be an HDF5 file; space in /dev/shm is reserved before copying, so a full\n"
    "/dev/shm fails cleanly with nothing left behind.  A persist journal left next\n"
    "to FILE.h5 by a crash is recovered first.\n"
    "\n"
    "options:\n"
    "  --force      replace an existing object (never one a live writer holds)\n"
    "  --mode MODE  octal permissions of the new object (default 0600; read/write\n"
    "               bits only: setuid, setgid, sticky and execute bits are refused)\n"
    "\n"
    "The copy is built under a hidden temporary name and appears under NAME only\n"
    "when complete: a killed load never leaves a partial object.\n"
    "\n"
    "examples:\n"
    "  h5tier shm load data.h5 run1\n"
    "  h5tier shm load data.h5 run1 --force --mode 0640\n";

static const char save_help[] =
    "usage: h5tier shm save NAME FILE.h5 [--force]\n"
    "\n"
    "Copy the shm object /dev/shm/NAME to the disk file FILE.h5 atomically: the\n"
    "bytes go to a temporary file in the same directory, which is fsynced and then\n"
    "renamed to FILE.h5, so FILE.h5 is never seen half-written.  Up to the end of\n"
    "file published by the writer is saved (without one, up to the superblock's end\n"
    "of file; never less than the superblock's).\n"
    "Refused: an object shorter than its superblock says (truncated, partial), and\n"
    "one whose live writer marks it open in the superblock (SWMR: read it live\n"
    "with h5py swmr=True, save it after the writer closes it).  Save a file whose\n"
    "non-SWMR writer is still writing only after it has flushed.\n"
    "\n"
    "options:\n"
    "  --force   replace an existing regular FILE.h5 (a symbolic link there is\n"
    "            replaced itself; its target is never written; a device, FIFO or\n"
    "            directory is refused)\n"
    "\n"
    "examples:\n"
    "  h5tier shm save run1 run1.h5\n"
    "  h5tier shm save run1 /data/run1.h5 --force\n";

static const char rm_help[] =
    "usage: h5tier shm rm NAME... [--force]\n"
    "\n"
    "Remove shm objects and their control objects.  Processes that have one open\n"
    "keep their mapping; the name is gone at once.  An object whose writer is\n"
    "alive (or a ring whose writer is alive) is refused unless --force.  A control\n"
    "object planted by another user is ignored and left in place (a note says so).\n"
    "\n"
    "examples:\n"
    "  h5tier shm rm run1\n"
    "  h5tier shm rm run1 run2 --force\n";

static const char recover_help[] =
    "usage: h5tier shm recover BACKING.h5\n"
    "\n"
    "A process killed while persisting a shm file to its backing file can leave\n"
    "BACKING.h5.h5tier-journal next to it.  This replays a committed journal (the\n"
    "file becomes the new version) or discards an incomplete one (the file stays\n"
    "the old version).  The shm driver and 'h5tier shm load' do this by\n"
    "themselves; run it before reading a backing file with other tools after a\n"
    "crash.  A committed journal whose checksums fail is kept and reported.\n"
    "\n"
    "examples:\n"
    "  h5tier shm recover run1.h5 && h5dump -H run1.h5\n";

/* ---- argument helpers ---------------------------------------------------- */

typedef struct opts {
    int json, force, help;
    mode_t mode;
    char **pos; /* the positional arguments: argv's own slots, as many as given */
    int npos;
} opts_t;

/* Parse the options of subcommand sub (argv[0] is the subcommand) with the
 * shared getopt_long parser (tools/cli.c): only the options named in allowed
 * ("json", "force", "mode") exist for that subcommand.  Returns 0, or the
 * exit status 2 after a usage message. */
static int parse(const char *sub, int argc, char **argv, const char *allowed, opts_t *o)
{
    static const struct option all[] = {{"json", no_argument, 0, 'j'},
                                        {"force", no_argument, 0, 'f'},
                                        {"mode", required_argument, 0, 'm'}};
    struct option lo[5];
    char shorts[8] = "h";
    int n = 0;
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (strstr(allowed, all[k].name)) {
            lo[n++] = all[k];
            if (all[k].val == 'f')
                strcat(shorts, "f");
        }
    lo[n++] = (struct option){"help", no_argument, 0, 'h'};
    lo[n] = (struct option){0, 0, 0, 0};
    char what[64];
    snprintf(what, sizeof what, "%s %s", CMD, sub);
    memset(o, 0, sizeof *o);
    cli_getopt_t p;
    cli_getopt_begin(&p, what, argc, argv, shorts, lo);
    int c;
    while ((c = cli_getopt_next(&p)) != -1) {
        switch (c) {
        case 'h': o->help = 1; break;
        case 'j': o->json = 1; break;
        case 'f': o->force = 1; break;
        case 'm': {
            unsigned m;
            if (cli_parse_mode(p.arg, &m) < 0)
                return cli_usage(what, "bad --mode '%s': expected octal permissions such as 0600", p.arg);
            if (h5tier__check_mode((mode_t)m, "--mode") < 0)
                return cli_usage(what, "%s", h5tier_errmsg());
            o->mode = (mode_t)m;
            break;
        }
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    o->pos = argv + p.ind; /* getopt_long has moved the positionals to the end */
    o->npos = argc - p.ind;
    return 0;
}

/* The hint for an error about $H5TIER_SHM_DIR itself (refused by
 * h5tier__shm_dir_check), else NULL. */
static const char *dir_hint(void)
{
    return strstr(h5tier_errmsg(), "H5TIER_SHM_DIR=") ? "unset H5TIER_SHM_DIR to use /dev/shm, or point it at a "
                                                         "private directory (yours, or sticky like /dev/shm)"
                                                       : NULL;
}

/* Validate an shm name for the CLI: exit 2 with the rule on a bad one. */
static int check_name(const char *sub, const char *name, char *canon, size_t len)
{
    if (h5tier__shm_name_canon(name, canon, len) < 0) {
        char what[64];
        snprintf(what, sizeof what, "%s %s", CMD, sub);
        char e[H5TIER_SHM_NAME_MAX * 4 + 8];
        return cli_usage(what, "bad shm name '%s': %s (allowed: 1-240 bytes, anything but '/' and control "
                         "characters, not starting with '.')", ESC(name, e), h5tier_errmsg());
    }
    return 0;
}

static const char *user_name(uid_t uid, char *buf, size_t len)
{
    struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name)
        snprintf(buf, len, "%s", pw->pw_name);
    else
        snprintf(buf, len, "%u", (unsigned)uid);
    return buf;
}

/* A JSON string for raw text: escaped by h5tier__esc first (valid UTF-8
 * without control bytes or bidi overrides), then its escapes are turned into
 * JSON's, so that text holding a backslash or a quote decodes to exactly
 * itself; only bytes h5tier__esc had to escape (invalid UTF-8, controls)
 * decode to the text "\xNN". */
static void json_string(FILE *out, const char *raw)
{
    char buf[4096 * 4 + 8];
    const char *s = ESC(raw, buf);
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (p[0] == '\\' && p[1] == '\\') { /* h5tier__esc's escaped backslash: one backslash */
            fputs("\\\\", out);
            p++;
        } else if (*p == '"' || *p == '\\') /* a quote; the backslash of an "\xNN" escape */
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static const char *writer_state(const h5tier_shm_info_t *in)
{
    if (!in->writer_pid)
        return "none";
    return in->writer_alive ? "alive" : "dead";
}

static void print_json(FILE *out, const h5tier_shm_info_t *in)
{
    char owner[64];
    fprintf(out, "{\"name\": ");
    json_string(out, in->name + 1);
    fprintf(out, ", \"path\": ");
    char path[4096];
    h5tier__shm_path(in->name, path, sizeof path);
    json_string(out, path);
    fprintf(out, ", \"size\": %llu, \"eof\": %llu, \"owner\": ", (unsigned long long)in->size,
            (unsigned long long)in->eof);
    json_string(out, user_name(in->owner, owner, sizeof owner));
    fprintf(out, ", \"uid\": %u, \"mode\": \"%04o\", \"is_hdf5\": %s, \"has_control\": %s, \"writer_pid\": %d, "
            "\"writer\": \"%s\", \"generation\": %llu, \"backing_file\": ",
            (unsigned)in->owner, (unsigned)in->mode, in->is_hdf5 ? "true" : "false",
            in->has_control ? "true" : "false", (int)in->writer_pid, writer_state(in),
            (unsigned long long)in->generation);
    if (in->backing_file[0])
        json_string(out, in->backing_file);
    else
        fputs("null", out);
    fputs(", \"control_ignored\": ", out);
    if (in->control_ignored)
        json_string(out, in->control_note);
    else
        fputs("null", out);
    fputc('}', out);
}

/* ---- ls ------------------------------------------------------------------ */

typedef struct ls_state {
    int json, count;
} ls_state_t;

static int ls_row(const h5tier_shm_info_t *in, void *arg)
{
    ls_state_t *s = arg;
    if (s->json) {
        fputs(s->count ? ",\n  " : "\n  ", stdout);
        print_json(stdout, in);
    } else {
        char size[32], owner[64], writer[48], gen[32];
        h5tier_format_size(in->size, size, sizeof size);
        if (in->writer_pid)
            snprintf(writer, sizeof writer, "%d (%s)", (int)in->writer_pid, writer_state(in));
        else
            snprintf(writer, sizeof writer, "-");
        if (in->has_control)
            snprintf(gen, sizeof gen, "%llu", (unsigned long long)in->generation);
        else
            snprintf(gen, sizeof gen, "-");
        char en[H5TIER_SHM_NAME_MAX * 4 + 8], eb[4096 * 4 + 8];
        printf("%-28s %10s  %-10s %04o  %-16s %5s  %s\n", ESC(in->name + 1, en), size,
               user_name(in->owner, owner, sizeof owner), (unsigned)in->mode, writer,
               in->control_ignored ? "?" : gen,
               in->control_ignored ? "(control object not trusted: see 'h5tier shm info')"
               : in->backing_file[0] ? ESC(in->backing_file, eb) : "-");
    }
    s->count++;
    return 0;
}

static int cmd_ls(int argc, char **argv)
{
    opts_t o;
    int r = parse("ls", argc, argv, "json", &o);
    if (r)
        return r;
    if (o.help) {
        fputs(ls_help, stdout);
        return 0;
    }
    if (o.npos)
        return cli_usage(CMD " ls", "unexpected argument '%s'", o.pos[0]);
    if ((r = h5tier__shm_dir_check()) < 0) /* before any output: a refused directory prints nothing else */
        return cli_fail(CMD " ls", r, "unset H5TIER_SHM_DIR to use /dev/shm, or point it at a private directory",
                        "cannot list the shm directory");
    ls_state_t s = {.json = o.json};
    if (o.json)
        fputc('[', stdout);
    else
        printf("%-28s %10s  %-10s %-4s  %-16s %5s  %s\n", "NAME", "SIZE", "OWNER", "MODE", "WRITER", "GEN", "BACKING");
    r = h5tier_shm_list(ls_row, &s);
    if (o.json)
        fputs(s.count ? "\n]\n" : "]\n", stdout);
    if (r < 0)
        return cli_fail(CMD " ls", r, "check that the shm directory (/dev/shm or $H5TIER_SHM_DIR) exists and is readable",
                        "cannot list %s", h5tier__shm_dir());
    if (!o.json && s.count == 0)
        fprintf(stderr, "(no HDF5 files in %s; 'h5tier shm load FILE.h5 NAME' makes one)\n", h5tier__shm_dir());
    return 0;
}

/* ---- info ---------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    opts_t o;
    int r = parse("info", argc, argv, "json", &o);
    if (r)
        return r;
    if (o.help) {
        fputs(info_help, stdout);
        return 0;
    }
    if (o.npos != 1)
        return cli_usage(CMD " info", "expected one NAME");
    char canon[H5TIER_SHM_NAME_MAX + 2];
    if ((r = check_name("info", o.pos[0], canon, sizeof canon)))
        return r;
    h5tier_shm_info_t in;
    char en[H5TIER_SHM_NAME_MAX * 4 + 8], eb[4096 * 4 + 8], path[4096];
    r = h5tier_shm_info(canon, &in);
    if (r < 0)
        return cli_fail(CMD " info", r, dir_hint() ? dir_hint() : r == -ENOENT ? "'h5tier shm ls' lists the shm files that exist" : NULL,
                        "shm object '%s'", ESC(canon + 1, en));
    if (o.json) {
        print_json(stdout, &in);
        fputc('\n', stdout);
        return 0;
    }
    char size[32], eof[32], owner[64];
    h5tier__shm_path(in.name, path, sizeof path);
    printf("name:        %s\n", ESC(in.name + 1, en));
    printf("path:        %s\n", ESC(path, eb));
    printf("size:        %s (%llu bytes)\n", h5tier_format_size(in.size, size, sizeof size),
           (unsigned long long)in.size);
    if (in.eof)
        printf("eof:         %s (%llu bytes)\n", h5tier_format_size(in.eof, eof, sizeof eof),
               (unsigned long long)in.eof);
    else
        printf("eof:         unknown (no writer has published it)\n");
    printf("owner:       %s (uid %u)\n", user_name(in.owner, owner, sizeof owner), (unsigned)in.owner);
    printf("mode:        %04o\n", (unsigned)in.mode);
    printf("hdf5:        %s\n", in.is_hdf5 ? "yes" : "no (no HDF5 signature)");
    if (in.control_ignored)
        printf("control:     ignored, not trusted: %s\n", ESC(in.control_note, eb));
    else
        printf("control:     %s\n", in.has_control ? "yes" : "no");
    if (in.writer_pid)
        printf("writer:      pid %d (%s)\n", (int)in.writer_pid, writer_state(&in));
    else
        printf("writer:      none\n");
    if (in.has_control)
        printf("generation:  %llu\n", (unsigned long long)in.generation);
    printf("backing:     %s\n", in.backing_file[0] ? ESC(in.backing_file, eb) : "-");
    return 0;
}

/* ---- load / save --------------------------------------------------------- */

static int cmd_load(int argc, char **argv)
{
    opts_t o;
    int r = parse("load", argc, argv, "force mode", &o);
    if (r)
        return r;
    if (o.help) {
        fputs(load_help, stdout);
        return 0;
    }
    if (o.npos != 2)
        return cli_usage(CMD " load", "expected FILE.h5 NAME");
    char canon[H5TIER_SHM_NAME_MAX + 2];
    if ((r = check_name("load", o.pos[1], canon, sizeof canon)))
        return r;
    char label[H5TIER_SHM_NAME_MAX * 4 + 16], en[H5TIER_SHM_NAME_MAX * 4 + 8], ef[4096 * 4 + 8];
    snprintf(label, sizeof label, "load %s", ESC(canon + 1, en));
    r = h5tier_shm_load(o.pos[0], canon, o.mode ? o.mode : 0600, o.force, cli_progress, label);
    if (r < 0) {
        const char *hint = NULL;
        char h[512];
        if (r == -EEXIST && strstr(h5tier_errmsg(), "its temporary")) {
            hint = "retry; if it happens again, look at who owns that temporary ('ls -la' the shm directory)";
        } else if (r == -EEXIST) {
            snprintf(h, sizeof h, "add --force to replace it, or 'h5tier shm rm %s' first", ESC(canon + 1, en));
            hint = h;
        } else if (r == -ENOENT) {
            hint = "check the file name";
        } else if (r == -H5TIER_ENOTHDF5) {
            hint = "only HDF5 files can be loaded; 'h5dump -H FILE' tells whether HDF5 can read it";
        } else if (r == -ENOSPC) {
            snprintf(h, sizeof h, "free space in %s ('df -h %s', 'h5tier shm ls', 'h5tier shm rm NAME'), or set "
                     "H5TIER_SHM_DIR to a larger tmpfs", h5tier__shm_dir(), h5tier__shm_dir());
            hint = h;
        } else if (r == -EBUSY) {
            snprintf(h, sizeof h, "stop the writer, or 'h5tier shm rm --force %s' first", ESC(canon + 1, en));
            hint = h;
        } else if (r == -H5TIER_EJOURNAL) {
            hint = "the journal next to the file is damaged; move it away to load the old version";
        }
        else if (r == -EPERM)
            hint = strstr(h5tier_errmsg(), "control object") ? "a control object of that name belongs to someone "
                                                               "else: choose another NAME"
                                                             : "that name belongs to someone else: choose another NAME";
        if (dir_hint())
            hint = dir_hint();
        return cli_fail(CMD " load", r, hint, "cannot load '%s' into shm object '%s'", ESC(o.pos[0], ef),
                        ESC(canon + 1, en));
    }
    return 0;
}

static int cmd_save(int argc, char **argv)
{
    opts_t o;
    int r = parse("save", argc, argv, "force", &o);
    if (r)
        return r;
    if (o.help) {
        fputs(save_help, stdout);
        return 0;
    }
    if (o.npos != 2)
        return cli_usage(CMD " save", "expected NAME FILE.h5");
    char canon[H5TIER_SHM_NAME_MAX + 2];
    if ((r = check_name("save", o.pos[0], canon, sizeof canon)))
        return r;
    char label[H5TIER_SHM_NAME_MAX * 4 + 16], en[H5TIER_SHM_NAME_MAX * 4 + 8], ef[4096 * 4 + 8];
    snprintf(label, sizeof label, "save %s", ESC(canon + 1, en));
    r = h5tier_shm_save(canon, o.pos[1], o.force, cli_progress, label);
    if (r > 0) {
        fprintf(stderr, "h5tier shm save: warning: %s\n", h5tier_errmsg());
        return 0;
    }
    if (r < 0) {
        const char *hint = NULL;
        if (r == -EEXIST && strstr(h5tier_errmsg(), "its temporary"))
            hint = "retry; if it happens again, look at who owns that temporary ('ls -la' its directory)";
        else if (r == -EEXIST)
            hint = "add --force to replace it, or choose another file name";
        else if (r == -ENOENT)
            hint = "'h5tier shm ls' lists the shm files that exist; the destination directory must exist too";
        else if (r == -ENOSPC)
            hint = "free space on the destination file system";
        else if (r == -H5TIER_ETRUNC)
            hint = "the object is incomplete (truncated, or left by a killed copy): nothing was saved";
        else if (r == -EINVAL || r == -EISDIR)
            hint = "give a regular file (or a new name) as FILE.h5";
        if (dir_hint())
            hint = dir_hint();
        return cli_fail(CMD " save", r, hint, "cannot save shm object '%s' to '%s'", ESC(canon + 1, en),
                        ESC(o.pos[1], ef));
    }
    return 0;
}

/* ---- rm / recover -------------------------------------------------------- */

static int cmd_rm(int argc, char **argv)
{
    opts_t o;
    int r = parse("rm", argc, argv, "force", &o);
    if (r)
        return r;
    if (o.help) {
        fputs(rm_help, stdout);
        return 0;
    }
    if (o.npos < 1)
        return cli_usage(CMD " rm", "expected at least one NAME");
    char canon[H5TIER_SHM_NAME_MAX + 2];
    for (int i = 0; i < o.npos; i++)
        if ((r = check_name("rm", o.pos[i], canon, sizeof canon)))
            return r;
    int status = 0;
    for (int i = 0; i < o.npos; i++) {
        h5tier__shm_name_canon(o.pos[i], canon, sizeof canon);
        char en[H5TIER_SHM_NAME_MAX * 4 + 8];
        r = h5tier_shm_remove(canon, o.force);
        if (r > 0)
            fprintf(stderr, "h5tier shm rm: removed '%s'; note: %s\n", ESC(canon + 1, en), h5tier_errmsg());
        if (r < 0) {
            char h[512];
            const char *hint = NULL;
            if (r == -EBUSY) {
                snprintf(h, sizeof h, "close the writer first, or 'h5tier shm rm --force %s' (its readers keep "
                         "their mapping)", ESC(canon + 1, en));
                hint = h;
            } else if (r == -ENOENT) {
                hint = "'h5tier shm ls' lists the shm files that exist";
            }
            if (dir_hint())
                hint = dir_hint();
            status = cli_fail(CMD " rm", r, hint, "cannot remove shm object '%s'", ESC(canon + 1, en));
        }
    }
    return status;
}

static int cmd_recover(int argc, char **argv)
{
    opts_t o;
    int r = parse("recover", argc, argv, "", &o);
    if (r)
        return r;
    if (o.help) {
        fputs(recover_help, stdout);
        return 0;
    }
    if (o.npos != 1)
        return cli_usage(CMD " recover", "expected BACKING.h5");
    r = h5tier_shm_recover(o.pos[0]);
    if (r < 0)
        return cli_fail(CMD " recover", r,
                        r == -H5TIER_EJOURNAL ? "the journal was kept for inspection; moving it away leaves the file "
                                                "as it is (possibly partly updated)"
                                              : NULL,
                        "cannot recover '%s'", o.pos[0]);
    if (r == 0)
        printf("%s: nothing to recover\n", o.pos[0]);
    else if (r == 1)
        printf("%s: replayed a committed journal; the file is the new version\n", o.pos[0]);
    else
        printf("%s: discarded an incomplete journal; the file is the old version\n", o.pos[0]);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

int h5tier_cmd_shm(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } subs[] = {
        {"ls", cmd_ls},     {"list", cmd_ls},    {"info", cmd_info},       {"load", cmd_load},
        {"save", cmd_save}, {"rm", cmd_rm},      {"remove", cmd_rm},       {"recover", cmd_recover},
    };
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (cli_is_help(argv[1])) {
        fputs(usage_text, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].run(argc - 1, argv + 1);
    return cli_usage(CMD, "unknown subcommand '%s' (expected ls, info, load, save, rm or recover)", argv[1]);
}
