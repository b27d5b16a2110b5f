/*
 * Proves the archive is readable while it grows: a lossless archiver
 * process follows a ring, and a separate h5py process opens the archive
 * with swmr=True and follows it with refresh().  The test puts records in
 * four steps and waits, after each step, until the reader has seen (and
 * validated: seq continuity, record seq == /.h5tier/events/seq, check words) every record
 * so far -- so the reader provably saw the archive grow while the archiver
 * kept it open for writing.  While the archiver lives, a second archiver
 * on the same file is refused (-EBUSY, naming the pid).  Finally the
 * archiver stops cleanly and the reader has seen all 40 000 records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5tier_archive.h"
#include "h5tier_ring.h"
#include "test_archive_common.h"

#define STEP 10000
#define STEPS 4

static const char *reader_py =
    "import os, sys, time, h5py, numpy as np\n"
    "path, N, prog = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
    "t0 = time.time()\n"
    "while not os.path.exists(path):\n"
    "    assert time.time() - t0 < 30, 'archive never appeared'\n"
    "    time.sleep(0.01)\n"
    "f = h5py.File(path, 'r', libver='latest', swmr=True)\n"
    "ds, sq = f['events'], f['/.h5tier/events/seq']\n"
    "seen, grew = 0, 0\n"
    "while seen < N:\n"
    "    assert time.time() - t0 < 45, 'reader timed out at %d' % seen\n"
    "    sq.refresh(); ds.refresh()\n"
    "    m = min(sq.shape[0], ds.shape[0])\n"
    "    if m > seen:\n"
    "        s, d = sq[seen:m], ds[seen:m]\n"
    "        v = d.view(np.uint8).reshape(len(d), -1).view('<u8')\n"
    "        assert (s == np.arange(seen, m)).all(), 'seq gap at %d' % seen\n"
    "        assert (v[:, 0] == s).all(), 'record seq differs'\n"
    "        assert (np.bitwise_xor.reduce(v[:, :7], axis=1) == v[:, 7]).all(), 'bad record'\n"
    "        seen, grew = m, grew + 1\n"
    "        with open(prog + '.tmp', 'w') as p: p.write('%d' % seen)\n"
    "        os.rename(prog + '.tmp', prog)\n"
    "    time.sleep(0.01)\n"
    "print('reader saw %d records in %d refreshes' % (seen, grew))\n";

static long progress(const char *file)
{
    FILE *f = fopen(file, "r");
    long v = 0;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc > 4 && !strcmp(argv[1], "archiver")) {
        h5tier_archiver_opts_t o;
        h5tier_archiver_opts_init(&o);
        o.lossless = 1;
        o.idle_timeout_s = atof(argv[4]);
        o.flush_interval_s = 0.05;
        int rc = h5tier_archive_ring(argv[2], argv[3], &o, NULL);
        CHECKF(rc == 0, "archiver: %s", h5tier_errmsg());
        return 0;
    }
    if (argc > 4 && !strcmp(argv[1], "pyreader")) {
        char n[32];
        snprintf(n, sizeof n, "%d", STEP * STEPS);
        execl(tu_python(), "python3", "-c", reader_py, argv[2], n, argv[3], (char *)NULL);
        return 127;
    }
    tu_h5_quiet();
    if (!tu_have_h5py())
        tu_skip("no h5py");
    char *name = tu_shm_name("arswmr");
    const char *out = tu_path("swmr.h5"), *prog = tu_path("progress");
    ev_ring_create(name, 4096);

    pid_t arch = tu_spawn_self("archiver", name, out, "2", NULL);
    double t0 = tu_now();
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    do {
        usleep(2000);
        CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    } while (si.ntethers == 0 && tu_now() - t0 < 20);
    CHECK(si.ntethers == 1);
    pid_t reader = tu_spawn_self("pyreader", out, prog, "x", NULL);

    h5tier_ring_writer_opts_t wo;
    h5tier_ring_writer_opts_init(&wo);
    wo.tether_timeout_ms = 20000;
    h5tier_ring_t *w = NULL;
    CHECK_OK(h5tier_ring_open_writer(name, &wo, &w));
    uint64_t seq = 0;
    for (int step = 1; step <= STEPS; step++) {
        for (; seq < (uint64_t)step * STEP; seq++) {
            ev_t e;
            ev_make(&e, seq);
            CHECK_OK(h5tier_ring_put(w, 0, &e, sizeof e));
        }
        h5tier_ring_heartbeat(w);
        t0 = tu_now();
        while (progress(prog) < (long)seq && tu_now() - t0 < 30)
            usleep(5000);
        CHECKF(progress(prog) == (long)seq, "step %d: the reader saw %ld of %llu records", step, progress(prog),
               (unsigned long long)seq);
        tu_log("step %d: the SWMR reader saw all %llu records while the archive was open", step,
               (unsigned long long)seq);
        if (step == 1) {
            /* a second archiver on the same file is refused while the first lives */
            h5tier_archive_stream_spec_t as = {.path = "/events", .like = H5I_INVALID_HID, .type = ev_type()};
            h5tier_archive_t *a2 = NULL;
            int rc2 = h5tier_archive_open(out, &as, 1, 0, &a2);
            CHECKF(rc2 == -EBUSY && a2 == NULL && strstr(h5tier_errmsg(), "archiver pid"), "second archiver: %d %s",
                   rc2, h5tier_errmsg());
            H5Tclose(as.type);
        }
    }
    h5tier_ring_close(w);
    int rs = tu_wait_timeout(reader, 30);
    CHECKF(rs == 0, "reader exited with %d", rs);
    int as = tu_wait_timeout(arch, 30);
    CHECKF(as == 0, "archiver exited with %d", as);
    char res[4096];
    int rc = ev_pycheck(out, "/events", res, sizeof res);
    CHECKF(rc == 0 && strstr(res, "count=40000 first=0 last=39999 gaps=0 lost=0"), "%s", res);
    free(name);
    return 0;
}
