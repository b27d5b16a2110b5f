/*
 * bench/mpi/phdf5_ior.c -- the parallel-HDF5 anchor of bench_multifile: an
 * IOR-like write with HDF5's MPI-IO driver to one shared file.  Each rank
 * writes NBLOCKS blocks of BLOCK bytes (transfer = block) into one shared
 * contiguous uint8 dataset, block k of rank r at ((k * nranks) + r) * BLOCK
 * (IOR's segmented layout), independent or collective transfers.  Rank 0
 * prints "seconds S" from the barrier before the create to the barrier
 * after the close.  Built by build_phdf5.sh against libhdf5-openmpi.
 *   mpirun -np N phdf5_ior FILE BLOCK NBLOCKS indep|coll
 */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int r, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    if (argc != 5) {
        if (r == 0)
            fprintf(stderr, "usage: phdf5_ior FILE BLOCK NBLOCKS indep|coll\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    hsize_t block = strtoull(argv[2], NULL, 0), nb = strtoull(argv[3], NULL, 0);
    int coll = !strcmp(argv[4], "coll");
    unsigned char *buf = malloc(block);
    for (hsize_t i = 0; i < block; i++)
        buf[i] = (unsigned char)(i * 31 + r);
    H5open(); /* library start-up is not part of the I/O being timed */
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
    hid_t f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hsize_t total = block * nb * (hsize_t)n;
    hid_t space = H5Screate_simple(1, &total, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_UCHAR, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, coll ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
    hid_t ms = H5Screate_simple(1, &block, NULL);
    int bad = 0;
    for (hsize_t k = 0; k < nb; k++) {
        hsize_t start = (k * (hsize_t)n + (hsize_t)r) * block;
        hid_t fs = H5Dget_space(d);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &block, NULL);
        if (H5Dwrite(d, H5T_NATIVE_UCHAR, ms, fs, dxpl, buf) < 0)
            bad = 1;
        H5Sclose(fs);
    }
    H5Sclose(ms);
    H5Pclose(dxpl);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (H5Fclose(f) < 0)
        bad = 1;
    H5Pclose(fapl);
    MPI_Barrier(MPI_COMM_WORLD);
    double t1 = MPI_Wtime();
    int anybad = 0;
    MPI_Reduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);
    if (r == 0)
        printf("seconds %.6f%s\n", t1 - t0, anybad ? " FAILED" : "");
    free(buf);
    MPI_Finalize();
    return anybad;
}
