/*
 * tools/cmd_merge.c -- `h5tier merge DIR OUT.h5`: replay the per-rank logs
 * of a multifile directory (written with the h5tier_multifile driver) into
 * one plain HDF5 file; `h5tier merge --check DIR` validates without writing.
 */
#ifdef H5TIER_HAVE_MPI
#include <mpi.h> /* first: h5tier_multifile.h declares h5tier_multifile_merge_mpi after it */
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "h5tier.h"
#include "h5tier_multifile.h"

#define CMD "merge"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: h5tier merge DIR OUT.h5 [options]\n"
            "       h5tier merge --check DIR\n"
            "\n"
            "Replay the per-rank logs of the multifile directory DIR (made by a parallel job\n"
            "writing NAME with the h5tier_multifile driver: DIR is NAME.mf, or NAME itself)\n"
            "into the plain HDF5 file OUT.h5.  Overlapping writes are ordered by (epoch,\n"
            "sequence, rank), never by clock time.  Before anything is written every rank's\n"
            "index is checked: headers and versions, record checksums (a torn last record is\n"
            "ignored and reported), a close record per rank, the same metadata on every rank\n"
            "(digests against rank 0), and no two ranks writing the same bytes in one epoch.\n"
            "Every record's data is checksummed while it is copied.  OUT.h5 is written to a\n"
            "temporary file, checked to open as HDF5, and renamed into place: on any error\n"
            "there is no OUT.h5.\n"
            "\n"
            "options:\n"
            "  --check              validate DIR (all checksums included); write nothing\n"
            "  -j, --threads N      copy threads (default: CPUs)\n"
            "  --max-open N         rank logs open at once (default 64)\n"
            "  --buffer BYTES       copy buffer per thread (default 4MiB)\n"
            "  --force              replace OUT.h5 if it exists\n"
            "  --allow-overlaps     same-epoch overlaps between ranks are warnings (ordered by\n"
            "                       sequence, then rank) instead of errors\n"
            "  --allow-incomplete   merge ranks that did not finish (killed, disk full)\n"
            "  --mpi                run under mpirun: the ranks share the copy (each its part of\n"
            "                       the records, -j threads each); rank 0 prints\n"
            "  -q, --quiet          no summary line\n"
            "  -h, --help           this text\n"
            "\n"
            "examples:\n"
            "  mpirun -np 64 ./sim out.h5          # writes out.h5.mf/\n"
            "  h5tier merge out.h5.mf out.h5\n"
            "  h5tier merge --check out.h5.mf\n"
            "  h5tier merge -j 8 --max-open 256 out.h5.mf /scratch/out.h5 --force\n"
            "  mpirun -np 16 h5tier merge --mpi -j 2 out.h5.mf /lustre/out.h5\n"
            "\n"
            "exit status: 0 merged (or valid), 1 error (message names rank, file and address), 2 usage\n");
}

static void warn_cb(const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, "h5tier merge: warning: %s\n", msg);
}

/* Print the failure or the summary line; the exit status. */
static int report(int rc, int check, int quiet, const char *out, const h5tier_merge_stats_t *sp)
{
    h5tier_merge_stats_t st = *sp;
    if (rc < 0)
        return cli_fail(CMD, rc, check ? NULL : "nothing was written; 'h5tier merge --check DIR' lists the problem",
                        "%s", check ? "check failed" : "merge failed");
    if (!quiet) {
        char a[32], b[32];
        printf("%s: %u ranks, %" PRIu64 " records, %s logged, %u epoch%s, %" PRIu64 " torn record%s ignored",
               check ? "valid" : out, st.nranks, st.records, h5tier_format_size(st.bytes_logged, a, sizeof a),
               st.epochs, st.epochs == 1 ? "" : "s", st.torn, st.torn == 1 ? "" : "s");
        if (!check)
            printf(", %s file", h5tier_format_size(st.out_size, b, sizeof b));
        printf(" in %.2f s (index %s, at most %u logs open)\n", st.seconds,
               h5tier_format_size(st.index_bytes, b, sizeof b), st.max_open);
    }
    return 0;
}

int h5tier_cmd_merge(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"check", no_argument, 0, 'c'},          {"threads", required_argument, 0, 'j'},
        {"max-open", required_argument, 0, 'm'}, {"buffer", required_argument, 0, 'b'},
        {"force", no_argument, 0, 'f'},          {"allow-overlaps", no_argument, 0, 'o'},
        {"allow-incomplete", no_argument, 0, 'i'}, {"quiet", no_argument, 0, 'q'},
        {"mpi", no_argument, 0, 'M'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    h5tier_merge_opts_t o = {0};
    int check = 0, quiet = 0, mpi = 0, c;
    double num;
    uint64_t sz;
    cli_getopt_t p;
    cli_getopt_begin(&p, CMD, argc, argv, "j:qh", longopts);
    while ((c = cli_getopt_next(&p)) != -1) {
        const char *val = p.arg;
        switch (c) {
        case 'c': check = 1; break;
        case 'j':
            if (cli_parse_number(val, &num) < 0 || num < 1 || num > 64 || num != (unsigned)num)
                return cli_usage(CMD, "--threads wants a whole number from 1 to 64, not '%s'", val);
            o.threads = (unsigned)num;
            break;
        case 'm':
            if (cli_parse_number(val, &num) < 0 || num < 1 || num > 65536 || num != (unsigned)num)
                return cli_usage(CMD, "--max-open wants a whole number from 1 to 65536, not '%s'", val);
            o.max_open_files = (unsigned)num;
            break;
        case 'b':
            if (h5tier_parse_size(val, &sz) < 0 || sz < 4096 || sz > ((uint64_t)1 << 30))
                return cli_usage(CMD, "--buffer wants a size from 4KiB to 1GiB, not '%s'", val);
            o.buffer_size = (size_t)sz;
            break;
        case 'f': o.flags |= H5TIER_MERGE_FORCE; break;
        case 'o': o.flags |= H5TIER_MERGE_ALLOW_OVERLAPS; break;
        case 'i': o.flags |= H5TIER_MERGE_ALLOW_INCOMPLETE; break;
        case 'q': quiet = 1; break;
        case 'M': mpi = 1; break;
        case 'h': usage(stdout); return 0;
        default: return 2; /* CLI_GETOPT_ERROR: the message is printed */
        }
    }
    int first = p.ind, nargs = argc - first;
    if (check ? nargs != 1 : nargs != 2) {
        usage(stderr);
        return cli_usage(CMD, check ? "--check wants one argument: DIR" : "want two arguments: DIR OUT.h5");
    }
    const char *dir = argv[first], *out = check ? NULL : argv[first + 1];
    o.warn = warn_cb;
    o.progress = cli_progress;
    o.progress_arg = (void *)"merge";
    h5tier_merge_stats_t st = {0};
    int rc;
    if (mpi) {
#ifdef H5TIER_HAVE_MPI
        int me = 0;
        MPI_Init(NULL, NULL);
        MPI_Comm_rank(MPI_COMM_WORLD, &me);
        rc = h5tier_multifile_merge_mpi(MPI_COMM_WORLD, dir, out, &o, &st);
        int np = 1, status = rc < 0 ? 1 : 0;
        MPI_Comm_size(MPI_COMM_WORLD, &np);
        if (me == 0) { /* one voice, before any rank exits (mpirun then stops the job) */
            if (rc == 0 && !quiet)
                printf("merged by %d MPI ranks\n", np);
            status = report(rc, check, quiet, out, &st);
            fflush(NULL);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Finalize();
        return status;
#else
        return cli_usage(CMD, "--mpi: this h5tier was built without MPI (install libopenmpi-dev and rebuild)");
#endif
    } else {
        rc = h5tier_multifile_merge(dir, out, &o, &st);
    }
    return report(rc, check, quiet, out, &st);
}
