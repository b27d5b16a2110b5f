/*
 * tests/python/py_sizes.c -- prints the size of every public struct the
 * Python package mirrors with ctypes (python/h5tier/_lib.py), one
 * "name size" per line; test_sizes.py compares them, so a change to a public
 * struct that the Python declarations miss fails the suite.
 */
#include <stdio.h>

#include "h5tier_archive.h"
#include "h5tier_persist.h"
#include "h5tier_ring.h"
#include "h5tier_shm.h"

#define P(t) printf("%s %zu\n", #t, sizeof(t))

int main(void)
{
    P(h5tier_ring_stream_spec_t);
    P(h5tier_ring_writer_opts_t);
    P(h5tier_ring_reader_opts_t);
    P(h5tier_ring_reader_stats_t);
    P(h5tier_ring_reader_info_t);
    P(h5tier_ring_tether_info_t);
    P(h5tier_ring_stream_info_t);
    P(h5tier_ring_info_t);
    P(h5tier_shm_config_t);
    P(h5tier_shm_info_t);
    P(h5tier_persist_plan_t);
    P(h5tier_persist_opts_t);
    P(h5tier_archiver_stats_t);
    P(h5tier_archiver_opts_t);
    return 0;
}
