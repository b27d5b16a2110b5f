/*
 * multifile/rank.c -- which rank this process is: explicit in the config,
 * from the MPI communicator of H5Pset_fapl_multifile_mpi (when built with
 * MPI), or from the environment a launcher sets (H5TIER_RANK/H5TIER_NRANKS,
 * Open MPI, PMIx, PMI, Slurm).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "multifile/mf_internal.h"

#ifdef H5TIER_HAVE_MPI
#include <mpi.h>
#endif

/* Parse a decimal environment value strictly.  1 = found, 0 = unset,
 * -EINVAL = malformed (errmsg names it). */
static int env_num(const char *name, long *out)
{
    const char *v = getenv(name);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < 0 || x > H5TIER_MULTIFILE_MAX_RANKS)
        return h5tier__fail(EINVAL, "environment variable %s=\"%.32s\" is not a number in [0, %d]", name, v,
                            H5TIER_MULTIFILE_MAX_RANKS);
    *out = x;
    return 1;
}

int h5tier_multifile_rank_from_env(int *rank, int *nranks, const char **source)
{
    static const struct {
        const char *rank, *size;
    } vars[] = {
        {"H5TIER_RANK", "H5TIER_NRANKS"},
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
        {"PMIX_RANK", "OMPI_COMM_WORLD_SIZE"},
        {"PMI_RANK", "PMI_SIZE"},
        {"SLURM_PROCID", "SLURM_NTASKS"},
        {"SLURM_PROCID", "SLURM_NPROCS"},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        long r = 0, n = 0;
        int a = env_num(vars[i].rank, &r);
        if (a < 0)
            return a;
        if (a == 0)
            continue;
        int b = env_num(vars[i].size, &n);
        if (b < 0)
            return b;
        if (b == 0) {
            if (i == 0)
                return h5tier__fail(EINVAL, "H5TIER_RANK is set but H5TIER_NRANKS is not");
            continue;
        }
        if (n < 1 || r >= n)
            return h5tier__fail(EINVAL, "%s=%ld is not below %s=%ld", vars[i].rank, r, vars[i].size, n);
        *rank = (int)r;
        *nranks = (int)n;
        if (source)
            *source = vars[i].rank;
        return 0;
    }
    *rank = 0;
    *nranks = 1;
    if (source)
        *source = "single process";
    return 0;
}

int h5tier_multifile_have_mpi(void)
{
#ifdef H5TIER_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int h5tier__mf_resolve_rank(const h5tier_multifile_config_t *cfg, int *rank, int *nranks, const char **source)
{
    if (cfg->rank >= 0) {
        *rank = cfg->rank;
        *nranks = cfg->nranks;
        if (source)
            *source = "configuration";
        return 0;
    }
    if (cfg->has_comm) {
#ifdef H5TIER_HAVE_MPI
        MPI_Comm comm;
        memcpy(&comm, cfg->comm, sizeof comm);
        int init = 0, r = 0, n = 0;
        MPI_Initialized(&init);
        if (!init)
            return h5tier__fail(EINVAL, "multifile: an MPI communicator was given but MPI is not initialised");
        if (MPI_Comm_rank(comm, &r) != MPI_SUCCESS || MPI_Comm_size(comm, &n) != MPI_SUCCESS)
            return h5tier__fail(EINVAL, "multifile: MPI_Comm_rank/MPI_Comm_size failed on the fapl's communicator");
        if (n < 1 || n > H5TIER_MULTIFILE_MAX_RANKS)
            return h5tier__fail(EINVAL, "multifile: communicator size %d is out of range", n);
        *rank = r;
        *nranks = n;
        if (source)
            *source = "MPI communicator";
        return 0;
#else
        return h5tier__fail(ENOTSUP, "multifile: an MPI communicator was given but h5tier was built without MPI");
#endif
    }
    return h5tier_multifile_rank_from_env(rank, nranks, source);
}

uint64_t h5tier__mf_run_id(const h5tier_multifile_config_t *cfg, int rank)
{
    (void)rank;
#ifdef H5TIER_HAVE_MPI
    if (cfg->rank < 0 && cfg->has_comm) {
        MPI_Comm comm;
        memcpy(&comm, cfg->comm, sizeof comm);
        uint64_t id = 0;
        if (rank == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t seed[3] = {(uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec, (uint64_t)getpid()};
            id = h5tier__mf_hash(seed, sizeof seed, MF_SEED_HDR) | 1;
        }
        if (MPI_Bcast(&id, 1, MPI_UINT64_T, 0, comm) == MPI_SUCCESS)
            return id;
        return 0;
    }
#else
    (void)cfg;
#endif
    static const char *const vars[] = {"H5TIER_RUN_ID", "SLURM_JOB_ID", "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid",
                                       "OMPI_MCA_orte_ess_jobid"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v)
            continue;
        char buf[512];
        const char *step = i == 1 ? getenv("SLURM_STEP_ID") : NULL;
        snprintf(buf, sizeof buf, "%s=%s.%s", vars[i], v, step ? step : "");
        return h5tier__mf_hash(buf, strlen(buf), MF_SEED_HDR) | 1;
    }
    return 0;
}
