/*
 * Proves one writer and several reader processes share an shm HDF5 file:
 * 3 exec'd readers (SWMR_READ) read and check every stage while the writer
 * grows the object many times (1 MiB increment, 24 MiB of data: many remaps,
 * no SIGBUS); a reader cannot write (HDF5 refuses, and the driver itself
 * refuses a raw H5FDwrite with a message naming the object); a second writer
 * gets EBUSY naming the live writer's pid; a writer killed with SIGKILL is
 * seen as dead through the control object and a new writer takes over with a
 * bigger generation and finds the flushed data intact (h5dump, h5py).
 *
 * Child modes (also used by scripts/demo_shm.sh):
 *   writer NAME DIR       stages paced by the readers' marker files in DIR
 *   reader NAME DIR K     follows the writer, marks DIR/rK.sS per stage
 *   hold NAME DIR         writes, flushes, marks DIR/held, sleeps (killed)
 *   demo-writer NAME      writes 8 stages of 1 MiB, 0.3 s apart, prints them
 *   demo-reader NAME K    follows until it has checked every stage, prints
 */
#include <signal.h>
#include <stdlib.h>

#include "shm/shm_internal.h"
#include "shmtest.h"

#define STAGES 6
#define N_PER_STAGE ((hsize_t)524288) /* 4 MiB of int64 per stage */
#define CHUNK ((hsize_t)65536)
#define NREADERS 3

#define DEMO_STAGES 8
#define DEMO_N ((hsize_t)131072) /* 1 MiB per stage */

static long long value_at(hsize_t i) { return (long long)i * 7 + 1; }

static const char *mark_path(const char *dir, const char *fmt, int a, int b)
{
    static char buf[4][4400];
    static int n;
    char *p = buf[n++ % 4];
    char leaf[64];
    snprintf(leaf, sizeof leaf, fmt, a, b);
    snprintf(p, 4400, "%s/%s", dir, leaf);
    return p;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The writer: SWMR, chunked int64 dataset extended stage by stage.  With dir
 * it waits for every reader's marker after each stage; without (demo) it
 * sleeps between stages. */
static int run_writer(const char *name, const char *dir, int stages, hsize_t per_stage)
{
    hid_t fapl = st_fapl_swmr(name, 1 << 20);
    hid_t file = H5Fcreate("multiproc.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    hid_t space = H5Screate_simple(1, (hsize_t[]){0}, (hsize_t[]){H5S_UNLIMITED});
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_chunk(dcpl, 1, (hsize_t[]){CHUNK}) >= 0);
    hid_t d = H5Dcreate2(file, "data", H5T_STD_I64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    CHECK(H5Fstart_swmr_write(file) >= 0);
    if (dir)
        st_mark(mark_path(dir, "created", 0, 0));
    long long *buf = malloc(per_stage * sizeof *buf);
    CHECK(buf);
    for (int s = 0; s < stages; s++) {
        hsize_t start = (hsize_t)s * per_stage, total = start + per_stage;
        CHECK(H5Dset_extent(d, &total) >= 0);
        for (hsize_t i = 0; i < per_stage; i++)
            buf[i] = value_at(start + i);
        hid_t fs = H5Dget_space(d);
        CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &per_stage, NULL) >= 0);
        hid_t ms = H5Screate_simple(1, &per_stage, NULL);
        CHECK(H5Dwrite(d, H5T_NATIVE_LLONG, ms, fs, H5P_DEFAULT, buf) >= 0);
        H5Sclose(ms);
        H5Sclose(fs);
        CHECK(H5Dflush(d) >= 0);
        if (dir) {
            st_mark(mark_path(dir, "w.s%d", s, 0));
            for (int k = 0; k < NREADERS; k++)
                CHECKF(st_wait_file(mark_path(dir, "r%d.s%d", k, s), 60) == 0, "reader %d never saw stage %d", k, s);
        } else {
            printf("writer: stage %d: %llu records, shm object %lld bytes\n", s + 1, (unsigned long long)total,
                   (long long)st_shm_size(name));
            fflush(stdout);
            sleep_ms(300);
        }
    }
    free(buf);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    CHECK(H5Fclose(file) >= 0);
    H5Pclose(fapl);
    return 0;
}

/* A reader: SWMR_READ, checks each stage once the writer has flushed it. */
static int run_reader(const char *name, const char *dir, int k, int stages, hsize_t per_stage)
{
    const char *created = dir ? mark_path(dir, "created", 0, 0) : NULL;
    if (created)
        CHECKF(st_wait_file(created, 60) == 0, "writer never created the file");
    hid_t fapl = st_fapl_swmr(name, 1 << 20);
    hid_t file = -1;
    tu_h5_quiet();
    for (int tries = 0; file < 0 && tries < 300; tries++) { /* demo: the writer may not be there yet */
        file = H5Fopen("multiproc.h5", H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
        if (file < 0)
            sleep_ms(20);
    }
    CHECKF(file >= 0, "reader %d: cannot open: %s", k, h5tier_errmsg());
    hid_t d = H5Dopen2(file, "data", H5P_DEFAULT);
    CHECK(d >= 0);
    long long *buf = malloc(per_stage * sizeof *buf);
    CHECK(buf);
    double t_end = tu_now() + 60;
    for (int s = 0; s < stages; s++) {
        hsize_t start = (hsize_t)s * per_stage, need = start + per_stage, dims = 0;
        if (dir)
            CHECKF(st_wait_file(mark_path(dir, "w.s%d", s, 0), 60) == 0, "writer never finished stage %d", s);
        for (;;) { /* follow the writer: refresh until the stage is there */
            CHECK(H5Drefresh(d) >= 0);
            hid_t fs = H5Dget_space(d);
            H5Sget_simple_extent_dims(fs, &dims, NULL);
            H5Sclose(fs);
            if (dims >= need)
                break;
            CHECKF(tu_now() < t_end, "reader %d: stage %d never appeared (dims %llu)", k, s, (unsigned long long)dims);
            sleep_ms(5);
        }
        if (!dir)
            sleep_ms(30); /* demo: the writer flushes right after extending; give it the time */
        for (int attempt = 0;; attempt++) {
            hid_t fs = H5Dget_space(d);
            CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &per_stage, NULL) >= 0);
            hid_t ms = H5Screate_simple(1, &per_stage, NULL);
            CHECK(H5Dread(d, H5T_NATIVE_LLONG, ms, fs, H5P_DEFAULT, buf) >= 0);
            H5Sclose(ms);
            H5Sclose(fs);
            hsize_t bad = per_stage;
            for (hsize_t i = 0; i < per_stage; i++)
                if (buf[i] != value_at(start + i)) {
                    bad = i;
                    break;
                }
            if (bad == per_stage)
                break;
            /* only the demo (no markers) may read a stage before its flush */
            CHECKF(!dir && attempt < 100, "reader %d: stage %d: element %llu is %lld, want %lld", k, s,
                   (unsigned long long)(start + bad), buf[bad], value_at(start + bad));
            sleep_ms(20);
            CHECK(H5Drefresh(d) >= 0);
        }
        if (dir) {
            /* a reader cannot write: the library refuses on a read-only file */
            if (s == 0) {
                hid_t fs = H5Dget_space(d);
                hsize_t one = 1, zero = 0;
                CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &zero, NULL, &one, NULL) >= 0);
                hid_t ms = H5Screate_simple(1, &one, NULL);
                long long v = -1;
                CHECK(H5Dwrite(d, H5T_NATIVE_LLONG, ms, fs, H5P_DEFAULT, &v) < 0);
                H5Sclose(ms);
                H5Sclose(fs);
            }
            st_mark(mark_path(dir, "r%d.s%d", k, s));
        } else {
            printf("reader %d: stage %d checked: records %llu..%llu correct (shm object %lld bytes)\n", k, s + 1,
                   (unsigned long long)start, (unsigned long long)(need - 1), (long long)st_shm_size(name));
            fflush(stdout);
        }
    }
    free(buf);
    H5Dclose(d);
    CHECK(H5Fclose(file) >= 0);
    H5Pclose(fapl);
    return 0;
}

/* A writer that is killed while it holds the file. */
static int run_hold(const char *name, const char *dir)
{
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t file = H5Fcreate("held.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    int v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = i * 3;
    hid_t space = H5Screate_simple(1, (hsize_t[]){1000}, NULL);
    hid_t d = H5Dcreate2(file, "v", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0);
    st_mark(mark_path(dir, "held", 0, 0));
    sleep(120); /* killed by the parent */
    return 3;
}

static void read_ctl(const char *name, uint64_t *gen, pid_t *pid, uint64_t *start)
{
    char canon[H5TIER_SHM_NAME_MAX + 2];
    CHECK_OK(h5tier__shm_name_canon(name, canon, sizeof canon));
    int fd;
    h5tier_shmc_t *ctl;
    CHECK_OK(h5tier__shmc_open(canon, 0, 1, 0, &fd, &ctl));
    *gen = atomic_load(&ctl->generation);
    *pid = atomic_load(&ctl->writer_pid);
    *start = atomic_load(&ctl->writer_start);
    h5tier__shmc_close(fd, ctl);
}

static void readers_and_growth(void)
{
    char *name = tu_shm_name("mp");
    const char *dir = tu_tmpdir();
    pid_t w = tu_spawn_self("writer", name, dir, NULL);
    pid_t r[NREADERS];
    char ks[NREADERS][8];
    for (int k = 0; k < NREADERS; k++) {
        snprintf(ks[k], sizeof ks[k], "%d", k);
        r[k] = tu_spawn_self("reader", name, dir, ks[k], NULL);
    }
    CHECKF(st_wait_file(mark_path(dir, "w.s%d", 0, 0), 60) == 0, "writer did not write stage 0");

    /* a second writer while the first is alive: EBUSY naming its pid */
    tu_h5_quiet();
    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t f2 = H5Fopen("multiproc.h5", H5F_ACC_RDWR, fapl);
    CHECK(f2 < 0);
    const char *es = st_errstack();
    char want[64];
    snprintf(want, sizeof want, "already has a writer (pid %d", (int)w);
    CHECKF(strstr(es, want) && strstr(es, name), "second writer error stack: %s", es);

    /* a raw driver-level write by a reader: refused by the driver */
    H5FD_t *raw = H5FDopen("multiproc.h5", H5F_ACC_RDONLY, fapl, HADDR_UNDEF);
    CHECKF(raw, "H5FDopen read-only: %s", st_errstack());
    CHECK(H5FDset_eoa(raw, H5FD_MEM_DEFAULT, 1 << 20) >= 0);
    char sig[8];
    CHECK(H5FDread(raw, H5FD_MEM_DRAW, H5P_DEFAULT, 0, 8, sig) >= 0);
    CHECK(memcmp(sig, "\211HDF\r\n\032\n", 8) == 0);
    CHECK(H5FDwrite(raw, H5FD_MEM_DRAW, H5P_DEFAULT, 0, 8, "garbage!") < 0);
    es = st_errstack();
    CHECKF(strstr(es, "read-only") && strstr(es, name), "reader write error stack: %s", es);
    CHECK(H5FDclose(raw) >= 0);

    for (int k = 0; k < NREADERS; k++) {
        int st = tu_wait_timeout(r[k], 120);
        CHECKF(st == 0, "reader %d exited with %d (135 = SIGBUS)", k, st);
    }
    int st = tu_wait_timeout(w, 120);
    CHECKF(st == 0, "writer exited with %d", st);

    uint64_t gen, start;
    pid_t pid;
    read_ctl(name, &gen, &pid, &start);
    CHECKF(gen == 1 && pid == 0, "after the writer: generation %llu, writer pid %d", (unsigned long long)gen, (int)pid);
    tu_log("writer + %d readers: %d stages of %llu records, object %lld bytes", NREADERS, STAGES,
           (unsigned long long)N_PER_STAGE, (long long)st_shm_size(name));
    if (tu_have_h5py()) {
        char out[4096];
        st = tu_sh(out, sizeof out,
                   "%s -c \"import h5py, numpy; a=h5py.File('/dev/shm/%s','r')['data'][()]; "
                   "print(len(a), bool((a == numpy.arange(len(a), dtype='i8')*7+1).all()))\"",
                   tu_python(), name);
        char want2[64];
        snprintf(want2, sizeof want2, "%llu True", (unsigned long long)(STAGES * N_PER_STAGE));
        CHECKF(st == 0 && strstr(out, want2), "h5py: %s", out);
    }
    H5Pclose(fapl);
    free(name);
}

static void killed_writer(void)
{
    char *name = tu_shm_name("mpk");
    const char *dir = tu_tmpdir();
    pid_t h = tu_spawn_self("hold", name, dir, NULL);
    CHECKF(st_wait_file(mark_path(dir, "held", 0, 0), 60) == 0, "holder did not start");
    uint64_t gen1, start;
    pid_t pid;
    read_ctl(name, &gen1, &pid, &start);
    CHECK(pid == h && h5tier__pid_alive(pid, start));
    kill(h, SIGKILL);
    CHECK(tu_wait(h) == 128 + SIGKILL);
    uint64_t gen;
    read_ctl(name, &gen, &pid, &start);
    CHECKF(pid == h && !h5tier__pid_alive(pid, start), "control object: pid %d should be recorded but dead", (int)pid);

    hid_t fapl = st_fapl(name, 1 << 20, H5TIER_SHM_KEEP);
    hid_t file = H5Fopen("held.h5", H5F_ACC_RDWR, fapl);
    CHECKF(file >= 0, "takeover failed: %s", st_errstack());
    read_ctl(name, &gen, &pid, &start);
    CHECKF(gen > gen1 && pid == getpid(), "takeover: generation %llu (was %llu), pid %d", (unsigned long long)gen,
           (unsigned long long)gen1, (int)pid);
    int v[1000];
    hid_t d = H5Dopen2(file, "v", H5P_DEFAULT);
    CHECK(d >= 0);
    CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    for (int i = 0; i < 1000; i++)
        CHECK(v[i] == i * 3);
    H5Dclose(d);
    hid_t g = H5Gcreate2(file, "after_takeover", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(g >= 0);
    H5Gclose(g);
    CHECK(H5Fclose(file) >= 0);
    char out[8192];
    int st = tu_sh(out, sizeof out, "h5dump -d /v -s 999 -c 1 /dev/shm/%s && h5ls /dev/shm/%s", name, name);
    CHECKF(st == 0 && strstr(out, "(999): 2997") && strstr(out, "after_takeover"), "h5dump/h5ls: %s", out);
    H5Pclose(fapl);
    free(name);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "writer"))
        return run_writer(argv[2], argv[3], STAGES, N_PER_STAGE);
    if (argc >= 5 && !strcmp(argv[1], "reader"))
        return run_reader(argv[2], argv[3], atoi(argv[4]), STAGES, N_PER_STAGE);
    if (argc >= 4 && !strcmp(argv[1], "hold"))
        return run_hold(argv[2], argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "demo-writer"))
        return run_writer(argv[2], NULL, DEMO_STAGES, DEMO_N);
    if (argc >= 4 && !strcmp(argv[1], "demo-reader"))
        return run_reader(argv[2], NULL, atoi(argv[3]), DEMO_STAGES, DEMO_N);
    readers_and_growth();
    killed_writer();
    tu_log("ok");
    return 0;
}
