/*
 * Proves the multifile driver under a real MPI launch: `mpirun
 * --oversubscribe -np 4` starts 4 ranks of this program, each takes its rank
 * from the MPI communicator in the fapl (H5Pset_fapl_multifile_mpi; when
 * h5tier is built without MPI, from Open MPI's environment variables) and
 * writes its rows/columns of contiguous and chunked 2-D datasets; `h5tier
 * merge` makes a file that h5diff finds identical to the same data written
 * serially with sec2, and so does `mpirun -np 3 h5tier merge --mpi` (the
 * ranks share the copy; a failure is reported once and leaves nothing), and
 * the directory read in place gives the same values.
 * Skips (77) when mpirun is not installed.  As root it sets
 * OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM); in containers vader's single-copy
 * mechanism is turned off.
 */
#ifdef H5TIER_TEST_MPI
#include <mpi.h>
#endif

#include "mf_test.h"

static int mpi_child(const char *name)
{
    int r = -1, n = -1;
    const char *src = "environment";
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    h5tier_multifile_config_t cfg;
    h5tier_multifile_config_init(&cfg);
    cfg.flags = H5TIER_MULTIFILE_NO_SYNC;
#ifdef H5TIER_TEST_MPI
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    CHECK(H5Pset_fapl_multifile_mpi(fapl, MPI_COMM_WORLD, &cfg) >= 0);
    src = "MPI communicator";
#else
    CHECK_OK(h5tier_multifile_rank_from_env(&r, &n, &src));
    CHECK(H5Pset_fapl_multifile(fapl, &cfg) >= 0);
#endif
    int rc = mf_write_rank(name, fapl, r, n, 0);
    printf("rank %d of %d from %s: %s\n", r, n, src, rc == 0 ? "ok" : "FAILED");
    H5Pclose(fapl);
#ifdef H5TIER_TEST_MPI
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
#endif
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "mpichild"))
        return mpi_child(argv[2]);
    char out[16384];
    if (tu_sh(out, sizeof out, "command -v mpirun") != 0)
        tu_skip("mpirun is not installed (scripts/deps.sh installs openmpi-bin)");
    const char *name = mf_path("mpi.h5"), *ref = mf_path("ref.h5"), *merged = mf_path("merged.h5");
    mf_write_reference(ref);
    int rc = tu_sh(out, sizeof out,
                   "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 " /* Open MPI's own leaks */
                   "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                   "OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1 "
                   "timeout 120 mpirun --oversubscribe -np 4 /proc/%d/exe mpichild %s",
                   (int)getpid(), name);
    if (rc != 0 && (strstr(out, "not enough slots") || strstr(out, "ORTE was unable") || strstr(out, "PMIx")))
        tu_skip("mpirun cannot start 4 ranks here: %.300s", out);
    CHECKF(rc == 0, "mpirun (%d): %s", rc, out);
    for (int r = 0; r < 4; r++) {
        char want[64];
        snprintf(want, sizeof want, "rank %d of 4 from %s: ok", r,
                 h5tier_multifile_have_mpi() ? "MPI communicator" : "OMPI_COMM_WORLD_RANK");
#ifndef H5TIER_TEST_MPI
        snprintf(want, sizeof want, "rank %d of 4 from OMPI_COMM_WORLD_RANK: ok", r);
#endif
        CHECKF(strstr(out, want), "missing '%s' in: %s", want, out);
    }
    rc = tu_sh(out, sizeof out, "%s merge %s.mf %s", tu_cli(), name, merged);
    CHECKF(rc == 0, "merge (%d): %s", rc, out);
    rc = tu_sh(out, sizeof out, "h5diff %s %s", ref, merged);
    CHECKF(rc == 0, "h5diff reference vs merged (%d): %s", rc, out);
    if (h5tier_multifile_have_mpi()) { /* the merge itself by 3 MPI ranks */
        const char *merged2 = mf_path("merged_mpi.h5");
        rc = tu_sh(out, sizeof out,
                   "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 "
                   "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
                   "timeout 120 mpirun --oversubscribe -np 3 %s merge --mpi -j 2 %s.mf %s",
                   tu_cli(), name, merged2);
        CHECKF(rc == 0 && strstr(out, "merged by 3 MPI ranks"), "merge --mpi (%d): %s", rc, out);
        rc = tu_sh(out, sizeof out, "h5diff %s %s", ref, merged2);
        CHECKF(rc == 0, "h5diff reference vs merge --mpi (%d): %s", rc, out);
        /* a failure (OUT exists) is reported by rank 0, every rank exits 1, nothing is left */
        rc = tu_sh(out, sizeof out,
                   "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 "
                   "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
                   "timeout 120 mpirun --oversubscribe -np 3 %s merge --mpi %s.mf %s; ls %s.tmp.* 2>/dev/null | wc -l",
                   tu_cli(), name, merged2, merged2);
        CHECKF(strstr(out, "exists (use --force") && out[strlen(out) - 2] == '0', "merge --mpi onto OUT: %s", out);
    }
    hid_t fapl = mf_fapl(-1, -1, 0);
    hid_t f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    CHECKF(f >= 0, "read in place: %s", h5tier_errmsg());
    CHECK(mf_check_content(f, 0) == 0);
    H5Fclose(f);
    H5Pclose(fapl);
    tu_log("mpirun -np 4 -> merge == sec2 reference (h5diff)");
    return 0;
}
