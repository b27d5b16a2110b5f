/*
 * Proves the archive's own system calls fail cleanly (faults injected
 * through the h5tier_sys table): a failing rename at creation returns the
 * error and leaves neither OUT.h5 nor a temporary file; a SIGKILL at that
 * rename leaves only OUT.h5.tmp-PID, which the next archiver removes (and
 * nothing else); a failing open of
 * the directory is reported; on an archive whose archiver was SIGKILLed,
 * a failing superblock write (ENOSPC) is reported and changes nothing, short
 * writes are completed, and the repaired archive opens with every record
 * that was flushed before the kill.  A seq dataset whose tail is not
 * increasing (extent on disk, data not) is trimmed, records with it.
 */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5tier_archive.h"
#include "h5tier_sys.h"
#include "test_archive_common.h"

static h5tier_archive_stream_spec_t spec(void)
{
    h5tier_archive_stream_spec_t sp = {.path = "/events", .like = H5I_INVALID_HID, .type = ev_type(), .rank = 0,
                                       .chunk_bytes = 64 * 32};
    return sp;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "crash")) {
        /* archive 100 records, flush, then die without closing */
        h5tier_archive_stream_spec_t sp = spec();
        h5tier_archive_t *a = NULL;
        CHECK_OK(h5tier_archive_open(argv[2], &sp, 1, H5TIER_ARCHIVE_CREATE, &a));
        ev_t e[100];
        for (int i = 0; i < 100; i++)
            ev_make(&e[i], (uint64_t)i);
        CHECK_OK(h5tier_archive_append(a, 0, 0, e, 100));
        CHECK_OK(h5tier_archive_flush(a, 0));
        CHECK_OK(h5tier_archive_append(a, 0, 100, e, 5)); /* buffered only: lost with the process */
        kill(getpid(), SIGKILL);
        return 1;
    }
    if (argc > 2 && !strcmp(argv[1], "crash-create")) {
        /* SIGKILLed at the rename that would publish a brand-new archive */
        h5tier_archive_stream_spec_t sp = spec();
        h5tier_archive_t *a = NULL;
        CHECK_OK(h5tier_fault_set("rename", 1, 0, H5TIER_FAULT_KILL));
        h5tier_archive_open(argv[2], &sp, 1, H5TIER_ARCHIVE_CREATE, &a);
        return 1;
    }
    tu_h5_quiet();
    h5tier_archive_stream_spec_t sp = spec();
    h5tier_archive_t *a = NULL;
    const char *dir = tu_tmpdir();

    pid_t p0;
    /* rename fails: nothing is left behind */
    const char *out = tu_path("r.h5");
    CHECK_OK(h5tier_fault_set("rename", 1, EIO, 0));
    int rc = h5tier_archive_open(out, &sp, 1, H5TIER_ARCHIVE_CREATE, &a);
    CHECKF(rc == -EIO && a == NULL && strstr(h5tier_errmsg(), "rename"), "%d %s", rc, h5tier_errmsg());
    h5tier_fault_clear();
    CHECKF(entries(dir) == 0, "%d files left in %s", entries(dir), dir);
    /* killed while creating: the next archiver removes the temporary file */
    p0 = tu_spawn_self("crash-create", out, NULL);
    CHECK(tu_wait(p0) == 128 + SIGKILL);
    char tmpname[4200], other[4200];
    snprintf(tmpname, sizeof tmpname, "%s.tmp-%d", out, (int)p0);
    CHECKF(access(tmpname, F_OK) == 0 && access(out, F_OK) != 0, "after a kill at creation: %s", tmpname);
    snprintf(other, sizeof other, "%s.tmp-notapid", out); /* not ours: stays */
    FILE *fp = fopen(other, "w");
    CHECK(fp && fclose(fp) == 0);
    CHECK_OK(h5tier_archive_open(out, &sp, 1, H5TIER_ARCHIVE_CREATE, &a));
    CHECK_OK(h5tier_archive_close(a));
    a = NULL;
    CHECKF(access(tmpname, F_OK) != 0, "%s was left behind", tmpname);
    CHECK(access(other, F_OK) == 0);
    CHECK(unlink(other) == 0 && unlink(out) == 0);
    CHECKF(entries(dir) == 0, "%d files left in %s", entries(dir), dir);
    /* the directory cannot be opened */
    CHECK_OK(h5tier_fault_set("open", 1, EACCES, 0));
    rc = h5tier_archive_open(out, &sp, 1, H5TIER_ARCHIVE_CREATE, &a);
    CHECKF(rc == -EACCES && strstr(h5tier_errmsg(), "directory"), "%d %s", rc, h5tier_errmsg());
    h5tier_fault_clear();

    /* a crashed archive: the repair's superblock write fails, then is short */
    const char *crashed = tu_path("crashed.h5");
    pid_t p = tu_spawn_self("crash", crashed, NULL);
    CHECK(tu_wait(p) == 128 + SIGKILL);
    char before[256], after[256];
    CHECK(tu_sh(before, sizeof before, "od -A d -t x1 -N 48 '%s' | md5sum", crashed) == 0);
    CHECK_OK(h5tier_fault_set("pwrite", 1, ENOSPC, H5TIER_FAULT_PERSIST));
    rc = h5tier_archive_open(crashed, &sp, 1, 0, &a);
    CHECKF(rc == -ENOSPC && strstr(h5tier_errmsg(), "superblock"), "%d %s", rc, h5tier_errmsg());
    h5tier_fault_clear();
    CHECK(tu_sh(after, sizeof after, "od -A d -t x1 -N 48 '%s' | md5sum", crashed) == 0);
    CHECKF(!strcmp(before, after), "the failed repair changed the superblock");
    CHECK_OK(h5tier_fault_set("pwrite", 1, 0, H5TIER_FAULT_SHORT | H5TIER_FAULT_PERSIST));
    rc = h5tier_archive_open(crashed, &sp, 1, 0, &a);
    long fired = h5tier_fault_fired();
    h5tier_fault_clear();
    CHECKF(rc == 0 && fired > 0, "short writes: %d (%s), %ld faults", rc, h5tier_errmsg(), fired);
    h5tier_archive_stream_info_t in;
    CHECK_OK(h5tier_archive_stream_info(a, 0, &in));
    CHECKF(in.records == 100 && in.next_seq == 100 && in.last_seq == 99, "%llu records",
           (unsigned long long)in.records);
    ev_t e[10];
    for (int i = 0; i < 10; i++)
        ev_make(&e[i], 100 + (uint64_t)i);
    CHECK_OK(h5tier_archive_append(a, 0, 100, e, 10));
    CHECK_OK(h5tier_archive_close(a));
    if (tu_have_h5py()) {
        char res[2048];
        rc = ev_pycheck(crashed, "/events", res, sizeof res);
        CHECKF(rc == 0 && strstr(res, "count=110 first=0 last=109 gaps=0"), "%s", res);
    }
    /* a seq tail that is not increasing (its extent reached the file, its
       data did not): trimmed away with the records */
    hid_t f = H5Fopen(crashed, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0);
    hid_t d1 = H5Dopen2(f, "/events", H5P_DEFAULT), d2 = H5Dopen2(f, "/.h5tier/events/seq", H5P_DEFAULT);
    hsize_t n = 130;
    CHECK(H5Dset_extent(d1, &n) >= 0 && H5Dset_extent(d2, &n) >= 0);
    uint64_t junk[20] = {0};
    junk[3] = 7;
    hsize_t start = 110, cnt = 20;
    hid_t fs = H5Dget_space(d2), ms = H5Screate_simple(1, &cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL);
    CHECK(H5Dwrite(d2, H5T_NATIVE_UINT64, ms, fs, H5P_DEFAULT, junk) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d1);
    H5Dclose(d2);
    H5Fclose(f);
    CHECK_OK(h5tier_archive_open(crashed, &sp, 1, 0, &a));
    CHECK_OK(h5tier_archive_stream_info(a, 0, &in));
    CHECKF(in.records == 110 && in.next_seq == 110, "after a bad seq tail: %llu records, next %llu",
           (unsigned long long)in.records, (unsigned long long)in.next_seq);
    CHECK_OK(h5tier_archive_close(a));
    if (tu_have_h5py()) {
        char res[2048];
        rc = ev_pycheck(crashed, "/events", res, sizeof res);
        CHECKF(rc == 0 && strstr(res, "count=110 first=0 last=109 gaps=0"), "%s", res);
    }
    H5Tclose(sp.type);
    return 0;
}
