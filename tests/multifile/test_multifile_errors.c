/*
 * Proves every way a multifile job can go wrong ends in a clear error and
 * no corrupt output: metadata that diverges between ranks (the error names
 * the first diverging rank and the address), two ranks writing the same
 * bytes in one epoch (named ranks and addresses; --allow-overlaps merges
 * with a warning), a torn last index record (ignored with a warning, merge
 * still equals the reference), a torn close record (rank reported as not
 * finished), a bad record checksum, a bad data checksum in a log (merge,
 * --check and a read-in-place open with H5TIER_MULTIFILE_VERIFY fail; without
 * it the open serves the bytes, as documented), a missing rank, a rerun into the same directory where
 * a rank did not start (its earlier run's files are refused by run id), a
 * format version mismatch, a rank
 * killed mid-write (fault injector: SIGKILL at its Nth pwrite; reported,
 * --allow-incomplete merges the rest), a full disk for a writer rank
 * (ENOSPC through the syscall table) and for the merge output; the dataset
 * rules refuse filters, compact layout, late allocation and fill at
 * allocation, naming the rule; a symlink planted in place of a rank's log
 * is refused and its target left untouched.  After every failed merge neither OUT nor a
 * temporary file exists.
 */
#include <sys/stat.h>

#include "mf_test.h"

static char out[16384];

static const char *mdir(const char *name)
{
    static char b[4][4400];
    static int k;
    char *p = b[k++ % 4];
    snprintf(p, 4400, "%s.mf", name);
    return p;
}

static void no_output(const char *merged)
{
    struct stat st;
    CHECKF(stat(merged, &st) < 0, "%s exists after a failed merge", merged);
    char ls[4096];
    int rc = tu_sh(ls, sizeof ls, "ls %s.tmp.* 2>/dev/null | wc -l", merged);
    CHECKF(rc == 0 && atoi(ls) == 0, "temporary files left: %s", ls);
}

/* Merge dir into a fresh output expecting failure with `want` in the message. */
static void merge_fails(const char *dir, const char *want, const char *tag)
{
    const char *merged = tu_path(tag);
    int rc = tu_sh(out, sizeof out, "%s merge %s %s", tu_cli(), dir, merged);
    CHECKF(rc == 1, "%s: merge should fail, got %d: %s", tag, rc, out);
    CHECKF(strstr(out, want), "%s: message lacks '%s': %s", tag, want, out);
    no_output(merged);
}

static void patch(const char *path, long off, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f);
    CHECK(fseek(f, off, SEEK_SET) == 0);
    CHECK(fwrite(bytes, 1, n, f) == n);
    fclose(f);
}

static const char *copy_of(const char *good, const char *tag)
{
    const char *d = mf_path(tag);
    CHECK(tu_sh(out, sizeof out, "rm -rf %s && cp -r %s %s", d, good, d) == 0);
    return d;
}

static void rules(void)
{
    tu_h5_quiet();
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(h5tier_multifile_dcpl_check(H5P_DEFAULT) == -EINVAL);
    H5Pset_chunk(dcpl, 2, (hsize_t[]){8, 8});
    CHECK(h5tier_multifile_dcpl_check(dcpl) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "rule 2: allocation time"), "%s", h5tier_errmsg());
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    CHECK(h5tier_multifile_dcpl_check(dcpl) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "rule 2: fill time"), "%s", h5tier_errmsg());
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    CHECK(h5tier_multifile_dcpl_check(dcpl) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "rule 2: object times"), "%s", h5tier_errmsg());
    H5Pset_obj_track_times(dcpl, 0);
    CHECK_OK(h5tier_multifile_dcpl_check(dcpl));
    H5Pset_deflate(dcpl, 4);
    CHECK(h5tier_multifile_dcpl_check(dcpl) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "rule 2: filters"), "%s", h5tier_errmsg());
    H5Pclose(dcpl);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_COMPACT);
    CHECK(h5tier_multifile_dcpl_check(dcpl) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "rule 2: compact"), "%s", h5tier_errmsg());
    /* dcreate refuses and creates nothing */
    hid_t fapl = mf_fapl(0, 1, H5TIER_MULTIFILE_NO_SYNC);
    hid_t f = H5Fcreate(tu_path("rules.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(f >= 0);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){16}, NULL);
    CHECK(h5tier_multifile_dcreate(f, "bad", H5T_STD_I32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT) < 0);
    CHECKF(strstr(h5tier_errmsg(), "dataset 'bad' not created: rule 2"), "%s", h5tier_errmsg());
    CHECK(H5Lexists(f, "bad", H5P_DEFAULT) == 0);
    H5Sclose(sp);
    H5Fclose(f);
    H5Pclose(fapl);
    H5Pclose(dcpl);
    /* bad configurations */
    h5tier_multifile_config_t cfg;
    h5tier_multifile_config_init(&cfg);
    cfg.rank = 4;
    cfg.nranks = 4;
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_multifile(fapl, &cfg) < 0);
    CHECKF(strstr(h5tier_errmsg(), "rank 4 of 4 is out of range"), "%s", h5tier_errmsg());
    H5Pclose(fapl);
    int r, n;
    setenv("H5TIER_RANK", "3", 1);
    setenv("H5TIER_NRANKS", "3", 1);
    CHECK(h5tier_multifile_rank_from_env(&r, &n, NULL) == -EINVAL);
    CHECKF(strstr(h5tier_errmsg(), "H5TIER_RANK=3 is not below H5TIER_NRANKS=3"), "%s", h5tier_errmsg());
    setenv("H5TIER_RANK", "x1", 1);
    CHECK(h5tier_multifile_rank_from_env(&r, &n, NULL) == -EINVAL);
    unsetenv("H5TIER_RANK");
    unsetenv("H5TIER_NRANKS");
    setenv("SLURM_PROCID", "5", 1);
    setenv("SLURM_NTASKS", "8", 1);
    const char *src;
    CHECK(h5tier_multifile_rank_from_env(&r, &n, &src) == 0 && r == 5 && n == 8 && !strcmp(src, "SLURM_PROCID"));
    unsetenv("SLURM_PROCID");
    unsetenv("SLURM_NTASKS");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return mf_child_main(argc, argv);
    int rc;
    char p[4400];
    const char *ref = mf_path("ref.h5");
    mf_write_reference(ref);
    rules();

    /* a good run to corrupt in copies */
    const char *good = mf_path("good.h5");
    CHECK(mf_run_env_ranks(4, good, "0", -1, NULL) == 0);

    /* metadata divergence: rank 2 made an extra attribute */
    const char *div = mf_path("div.h5");
    CHECK(mf_run_env_ranks(4, div, "1", -1, NULL) == 0);
    merge_fails(mdir(div), "rank 2's metadata diverges from rank 0's at address", "div_out.h5");
    rc = tu_sh(out, sizeof out, "%s merge --check %s", tu_cli(), mdir(div));
    CHECKF(rc == 1 && strstr(out, "rule 1"), "check of a diverged run (%d): %s", rc, out);
    tu_h5_quiet();
    hid_t fapl = mf_fapl(-1, -1, 0);
    CHECK(H5Fopen(div, H5F_ACC_RDONLY, fapl) < 0);
    CHECKF(strstr(h5tier_errmsg(), "diverges"), "in-place open of a diverged run: %s", h5tier_errmsg());
    H5Pclose(fapl);

    /* overlap in one epoch */
    const char *ovl = mf_path("ovl.h5");
    CHECK(mf_run_env_ranks(4, ovl, "2", -1, NULL) == 0);
    merge_fails(mdir(ovl), "ranks 0 and 1 both wrote addresses", "ovl_out.h5");
    rc = tu_sh(out, sizeof out, "%s merge --allow-overlaps %s %s", tu_cli(), mdir(ovl), tu_path("ovl_ok.h5"));
    CHECKF(rc == 0 && strstr(out, "warning") && strstr(out, "ordered by (sequence, rank)"),
           "--allow-overlaps (%d): %s", rc, out);

    /* torn last record after the close record: ignored and reported */
    const char *torn = copy_of(mdir(good), "torn.h5.mf");
    snprintf(p, sizeof p, "%s/r000001.idx", torn);
    patch(p, 0, "H5TMFIDX", 8); /* same bytes: header untouched */
    CHECK(tu_sh(out, sizeof out, "head -c 40 /dev/urandom >> %s", p) == 0);
    rc = tu_sh(out, sizeof out, "%s merge %s %s", tu_cli(), torn, tu_path("torn_out.h5"));
    CHECKF(rc == 0 && strstr(out, "rank 1: torn last index record"), "torn tail (%d): %s", rc, out);
    rc = tu_sh(out, sizeof out, "h5diff %s %s", ref, tu_path("torn_out.h5"));
    CHECKF(rc == 0, "h5diff after a torn tail (%d): %s", rc, out);

    /* torn close record: the rank did not finish */
    const char *torn2 = copy_of(mdir(good), "torn2.h5.mf");
    snprintf(p, sizeof p, "%s/r000002.idx", torn2);
    struct stat st;
    CHECK(stat(p, &st) == 0);
    CHECK(truncate(p, st.st_size - 20) == 0);
    merge_fails(torn2, "rank 2 did not finish", "torn2_out.h5");
    CHECK(strstr(out, "torn last index record"));

    /* a crash that zeroed the last batch of records (no close record): torn, reported */
    const char *zeroed = copy_of(mdir(good), "zeroed.h5.mf");
    snprintf(p, sizeof p, "%s/r000001.idx", zeroed);
    CHECK(stat(p, &st) == 0);
    static const unsigned char zeros[192];
    patch(p, (long)st.st_size - 192, zeros, sizeof zeros);
    merge_fails(zeroed, "rank 1 did not finish", "zeroed_out.h5");
    CHECKF(strstr(out, "torn last index records at offset") && strstr(out, "(3 records)"), "%s", out);

    /* a bad checksum in the middle of an index */
    const char *bad = copy_of(mdir(good), "badrec.h5.mf");
    snprintf(p, sizeof p, "%s/r000003.idx", bad);
    patch(p, 64 + 3 * 64 + 20, "\x5a", 1);
    merge_fails(bad, "rank 3: index record 3 at offset 256", "badrec_out.h5");
    CHECK(strstr(out, "bad checksum"));

    /* a bad byte of data in a log: found while copying, and by --check */
    const char *badd = copy_of(mdir(good), "baddata.h5.mf");
    snprintf(p, sizeof p, "%s/r000001.log", badd);
    patch(p, 4096 + 5, "\xff\xfe", 2); /* data starts at 4096 */
    merge_fails(badd, "fails its checksum", "baddata_out.h5");
    rc = tu_sh(out, sizeof out, "%s merge --check %s", tu_cli(), badd);
    CHECKF(rc == 1 && strstr(out, "rank 1: data of address"), "--check of a bad log (%d): %s", rc, out);

    /* read in place: a bad data byte is served unless H5TIER_MULTIFILE_VERIFY */
    char bname[4400];
    snprintf(bname, sizeof bname, "%.*s", (int)(strlen(badd) - 3), badd);
    fapl = mf_fapl(-1, -1, 0);
    hid_t bf = H5Fopen(bname, H5F_ACC_RDONLY, fapl);
    CHECKF(bf >= 0, "in-place open without verification: %s", h5tier_errmsg());
    H5Fclose(bf);
    H5Pclose(fapl);
    fapl = mf_fapl(-1, -1, H5TIER_MULTIFILE_VERIFY);
    CHECK(H5Fopen(bname, H5F_ACC_RDONLY, fapl) < 0);
    CHECKF(strstr(h5tier_errmsg(), "fails its checksum"), "verified open: %s", h5tier_errmsg());
    H5Pclose(fapl);
    fapl = mf_fapl(-1, -1, H5TIER_MULTIFILE_VERIFY);
    bf = H5Fopen(good, H5F_ACC_RDONLY, fapl);
    CHECKF(bf >= 0 && mf_check_content(bf, 0) == 0, "verified open of a good run: %s", h5tier_errmsg());
    H5Fclose(bf);
    H5Pclose(fapl);

    /* a missing rank */
    const char *miss = copy_of(mdir(good), "miss.h5.mf");
    snprintf(p, sizeof p, "%s/r000002.idx", miss);
    CHECK(unlink(p) == 0);
    merge_fails(miss, "rank 2's index", "miss_out.h5");
    CHECK(strstr(out, "is missing"));

    /* a rerun into the same name where rank 3 does not start: its file of the
     * earlier run is not mixed in */
    const char *rerun = mf_path("rerun.h5");
    CHECK(mf_run_env_ranks(4, rerun, "0", -1, NULL) == 0);
    CHECK(mf_run_env_ranks_some(4, 3, rerun, "0", -1, NULL) == 0);
    merge_fails(mdir(rerun), "r000003.log' belongs to another run", "rerun_out.h5");
    CHECK(strstr(out, "rank 3 of this run did not start"));

    /* a version we do not speak */
    const char *ver = copy_of(mdir(good), "ver.h5.mf");
    snprintf(p, sizeof p, "%s/r000001.log", ver);
    patch(p, 8, "\x03", 1);
    merge_fails(ver, "format version 3, this h5tier reads version 2", "ver_out.h5");
    /* a log of format 1 (before XXH3): refused with an error that says why */
    patch(p, 8, "\x01", 1);
    merge_fails(ver, "format version 1 (written by an h5tier before", "ver1_out.h5");
    CHECK(strstr(out, "not XXH3") && strstr(out, "reads version 2"));

    /* a rank killed mid-write (SIGKILL at its 30th pwrite) */
    const char *kill = mf_path("kill.h5");
    int failed = mf_run_env_ranks(4, kill, "8", 1, "H5TIER_FAULT=pwrite:30:0:kill");
    CHECKF(failed == 1, "exactly the killed rank fails (%d)", failed);
    merge_fails(mdir(kill), "rank 1 did not finish", "kill_out.h5");
    rc = tu_sh(out, sizeof out, "%s merge --allow-incomplete %s %s", tu_cli(), mdir(kill), tu_path("kill_ok.h5"));
    CHECKF(rc == 0 && strstr(out, "rank 1 did not finish"), "--allow-incomplete (%d): %s", rc, out);
    /* rank 0's rows are there; rank 1's unindexed rows (records are queued
     * up to 64 KiB or the next H5Fflush) read as zeros */
    hid_t f = H5Fopen(tu_path("kill_ok.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    static int rows[MF_NR * MF_NC];
    hid_t d = H5Dopen2(f, "rows_contig", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    CHECK(rows[0] == mf_ival(0, 0) && rows[(MF_NR / 4 - 1) * MF_NC + 3] == mf_ival(MF_NR / 4 - 1, 3)); /* rank 0 */
    CHECK(rows[(MF_NR / 2) * MF_NC] == mf_ival(MF_NR / 2, 0)); /* rank 2 */
    CHECK(rows[(MF_NR / 2 - 1) * MF_NC + 1] == 0); /* rank 1's last row never written */
    H5Dclose(d);
    H5Fclose(f);

    /* a full disk for a writer rank (ENOSPC at its 12th pwrite) */
    const char *full = mf_path("full.h5");
    failed = mf_run_env_ranks(4, full, "0", 3, "H5TIER_FAULT=pwrite:12:ENOSPC");
    CHECKF(failed == 1, "exactly the rank with a full disk fails (%d)", failed);
    merge_fails(mdir(full), "rank 3 did not finish", "full_out.h5");

    /* a full disk for the merge output */
    const char *merged = mf_path("enospc_out.h5");
    rc = tu_sh(out, sizeof out, "H5TIER_FAULT=pwrite:2:ENOSPC %s merge %s %s", tu_cli(), mdir(good), merged);
    CHECKF(rc == 1 && strstr(out, "No space left"), "merge onto a full disk (%d): %s", rc, out);
    no_output(merged);

    /* a symlink planted where a rank's log goes is refused and its target untouched */
    const char *sym = mf_path("sym.h5"), *target = mf_path("precious.txt");
    FILE *tf = fopen(target, "w");
    CHECK(tf && fputs("keep", tf) >= 0 && fclose(tf) == 0);
    snprintf(p, sizeof p, "%s.mf", sym);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s.mf/r000000.log", sym);
    CHECK(symlink(target, p) == 0);
    fapl = mf_fapl(0, 1, H5TIER_MULTIFILE_NO_SYNC);
    CHECK(H5Fcreate(sym, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) < 0);
    CHECKF(strstr(h5tier_errmsg(), "cannot create") && strstr(h5tier_errmsg(), "r000000.log"), "%s", h5tier_errmsg());
    H5Pclose(fapl);
    CHECK(stat(target, &st) == 0 && st.st_size == 4);

    /* OUT is a directory: refused */
    rc = tu_sh(out, sizeof out, "%s merge --force %s %s", tu_cli(), mdir(good), tu_tmpdir());
    CHECKF(rc == 1 && strstr(out, "not a regular file"), "merge onto a directory (%d): %s", rc, out);
    /* not a multifile directory */
    rc = tu_sh(out, sizeof out, "%s merge %s %s", tu_cli(), tu_path("nothing"), tu_path("x.h5"));
    CHECKF(rc == 1 && strstr(out, "not a multifile directory"), "merge of nothing (%d): %s", rc, out);
    tu_log("divergence, overlap, torn, checksums, missing rank, version, kill, ENOSPC: all reported, no output");
    return 0;
}
