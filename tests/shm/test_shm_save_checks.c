/*
 * Proves (issue 8 item 9) that `shm save` never writes a silent bad copy and
 * `shm load` never exposes a partial object under the final name:
 *  - save of an object truncated to 3000 bytes (its superblock says more),
 *    of an object holding only the HDF5 signature, and of an object whose
 *    SWMR writer is alive fail with -H5TIER_ETRUNC / -EBUSY and an errmsg
 *    naming the object and the reason, and write no file (main exited 0 with
 *    an unopenable file); after the SWMR writer closed, save works and
 *    h5dump reads the copy; while the writer is live, h5py with swmr=True
 *    reads the shm file and h5dump refuses it (what docs/ and the man page say);
 *    a SWMR writer killed while open leaves the mark: save makes the copy,
 *    returns 1 with a message naming h5clear, and h5clear -s makes it readable;
 *  - load killed (SIGKILL injected through the system-call table) at every
 *    read or copy, the reservation and the final publish never leaves
 *    an object under the final name, and the next load cleans the temporary
 *    object the killed one left in the shm directory;
 *  - 20 loads of a 48 MiB file killed at random moments: the final name is
 *    always absent or byte-identical to the source (main: 9 of 40 partial).
 */
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "persist_util.h"
#include "shmtest.h"

static const char *shm_dir(void) { return st_shm_dir(); }

static void put_object(const char *name, const void *buf, size_t len)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", shm_dir(), name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    CHECKF(fd >= 0, "create %s: %s", p, strerror(errno));
    CHECK(write(fd, buf, len) == (ssize_t)len);
    close(fd);
}

static int obj_exists(const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", shm_dir(), name);
    return access(p, F_OK) == 0;
}

/* entries of the shm directory starting with ".NAME" other than the control object */
static int leftovers(const char *name)
{
    char pre[300], ctl[300];
    snprintf(pre, sizeof pre, ".%s", name);
    snprintf(ctl, sizeof ctl, ".%s.h5tier", name);
    DIR *d = opendir(shm_dir());
    CHECK(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, pre, strlen(pre)) && strcmp(e->d_name, ctl)) {
            tu_log("leftover: %s", e->d_name);
            n++;
        }
    closedir(d);
    return n;
}

static int swmr_writer(const char *name, const char *dir)
{
    hid_t fapl = st_fapl_swmr(name, 1 << 20);
    hid_t file = H5Fcreate("w.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECK(file >= 0);
    hid_t space = H5Screate_simple(1, (hsize_t[]){0}, (hsize_t[]){H5S_UNLIMITED});
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_chunk(dcpl, 1, (hsize_t[]){1024}) >= 0);
    hid_t d = H5Dcreate2(file, "x", H5T_NATIVE_INT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0 && H5Fstart_swmr_write(file) >= 0);
    int v[4096];
    for (int i = 0; i < 4096; i++)
        v[i] = i;
    CHECK(H5Dset_extent(d, (hsize_t[]){4096}) >= 0);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    CHECK(H5Dflush(d) >= 0);
    char p[4400];
    snprintf(p, sizeof p, "%s/ready", dir);
    st_mark(p);
    snprintf(p, sizeof p, "%s/stop", dir);
    CHECKF(st_wait_file(p, 60) == 0, "never told to stop");
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    CHECK(H5Fclose(file) >= 0);
    H5Pclose(fapl);
    return 0;
}

/* In a child: arm a SIGKILL at the nth call of `call`, then load. */
static int killed_load(const char *file, const char *name, const char *call, unsigned long nth)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        h5tier_fault_set(call, nth, 0, H5TIER_FAULT_KILL);
        int r = h5tier_shm_load(file, name, 0600, 0, NULL, NULL);
        _exit(r == 0 ? 0 : 3);
    }
    return tu_wait(pid);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "swmr-writer"))
        return swmr_writer(argv[2], argv[3]);
    tu_h5_quiet();
    const char *dir = tu_tmpdir();
    pimg_t a;
    pimg_create(&a, 1u << 18, 3); /* ~1 MiB */
    CHECK(a.len > 4096);
    const char *src = tu_path("src.h5");
    pimg_write_file(src, &a);
    const char *out = tu_path("out.h5");

    /* ---- truncated and signature-only objects ---- */
    char *n1 = tu_shm_name("savechk");
    put_object(n1, a.buf, 3000);
    int r = h5tier_shm_save(n1, out, 0, NULL, NULL);
    tu_log("truncated: %d %s", r, h5tier_errmsg());
    CHECKF(r == -H5TIER_ETRUNC, "save of a truncated object returned %d", r);
    CHECK(strstr(h5tier_errmsg(), n1) && strstr(h5tier_errmsg(), "truncated"));
    CHECK(!pexists(out));
    put_object(n1, a.buf, 8); /* the signature only */
    r = h5tier_shm_save(n1, out, 0, NULL, NULL);
    tu_log("signature only: %d %s", r, h5tier_errmsg());
    CHECKF(r == -H5TIER_ETRUNC || r == -H5TIER_ENOTHDF5, "save of a bare signature returned %d", r);
    CHECK(!pexists(out));
    put_object(n1, a.buf, a.len); /* complete: saved byte for byte */
    CHECK_OK(h5tier_shm_save(n1, out, 0, NULL, NULL));
    CHECK(pimg_file_is(out, &a));
    unlink(out);

    /* ---- a live SWMR writer ---- */
    char *n2 = tu_shm_name("savechk");
    pid_t w = tu_spawn_self("swmr-writer", n2, dir, NULL);
    CHECKF(st_wait_file(tu_path("ready"), 30) == 0, "SWMR writer did not start");
    r = h5tier_shm_save(n2, out, 0, NULL, NULL);
    tu_log("live SWMR writer: %d %s", r, h5tier_errmsg());
    CHECKF(r == -EBUSY, "save under a live SWMR writer returned %d", r);
    CHECK(strstr(h5tier_errmsg(), n2) && strstr(h5tier_errmsg(), "SWMR"));
    CHECK(!pexists(out));
    /* what the docs say works on a live SWMR shm file: h5py with swmr=True;
     * and what does not: h5dump (HDF5 1.10 refuses a file marked open) */
    char txt0[4096];
    if (tu_have_h5py()) {
        int s1 = tu_sh(txt0, sizeof txt0,
                       "%s -c \"import h5py; f=h5py.File('%s','r',libver='latest',swmr=True); print(f['x'].shape)\"",
                       tu_python(), st_shm_path(n2));
        CHECKF(s1 == 0 && strstr(txt0, "(4096,)"), "h5py swmr=True on the live shm file: %s", txt0);
    }
    int s2 = tu_sh(txt0, sizeof txt0, "h5dump -H '%s'", st_shm_path(n2));
    tu_log("h5dump on the live SWMR shm file exits %d (documented: refused while open for writing)", s2);
    CHECK(s2 != 0);
    st_mark(tu_path("stop"));
    CHECK(tu_wait_timeout(w, 30) == 0);
    CHECK_OK(h5tier_shm_save(n2, out, 0, NULL, NULL));
    char txt[4096];
    int st = tu_sh(txt, sizeof txt, "h5dump -d /x -s 4095 -c 1 '%s'", out);
    CHECKF(st == 0 && strstr(txt, "4095"), "h5dump of the saved copy: %s", txt);
    unlink(out);

    /* ---- a SWMR writer killed while open: the mark stays in the superblock;
     * save makes the copy, says so (returns 1, errmsg names h5clear), and
     * h5clear -s makes the copy readable ---- */
    char *n5 = tu_shm_name("savechk");
    const char *dir5 = tu_path("w5");
    CHECK(mkdir(dir5, 0700) == 0);
    char ready5[4400];
    snprintf(ready5, sizeof ready5, "%s/ready", dir5);
    pid_t w5 = tu_spawn_self("swmr-writer", n5, dir5, NULL);
    CHECKF(st_wait_file(ready5, 30) == 0, "second SWMR writer did not start");
    kill(w5, SIGKILL);
    tu_wait(w5);
    r = h5tier_shm_save(n5, out, 0, NULL, NULL);
    tu_log("killed SWMR writer: %d %s", r, h5tier_errmsg());
    CHECKF(r == 1 && strstr(h5tier_errmsg(), "h5clear"), "save after a killed SWMR writer returned %d", r);
    st = tu_sh(txt, sizeof txt, "h5clear -s '%s' && h5dump -d /x -s 4095 -c 1 '%s'", out, out);
    CHECKF(st == 0 && strstr(txt, "4095"), "h5clear + h5dump of the copy: %s", txt);
    unlink(out);

    /* ---- load killed at each step: never a partial object under the name ---- */
    char *n3 = tu_shm_name("loadkill");
    int kills = 0;
    const char *calls[] = {"pread", "copy_file_range", "pwrite", "fallocate", "fchmod", "shm_open", "link", "unlink", "close"};
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        for (unsigned long nth = 1; nth < 64; nth++) {
            st = killed_load(src, n3, calls[c], nth);
            if (st == 0) { /* the load finished before the nth call */
                char p[600];
                snprintf(p, sizeof p, "%s/%s", shm_dir(), n3);
                CHECKF(pimg_file_is(p, &a), "load completed but the object differs (%s #%lu)", calls[c], nth);
                CHECK_OK(h5tier_shm_remove(n3, 0));
                break;
            }
            CHECKF(st == 128 + SIGKILL, "load with a kill at %s #%lu exited %d", calls[c], nth, st);
            kills++;
            if (obj_exists(n3)) {
                char p[600];
                snprintf(p, sizeof p, "%s/%s", shm_dir(), n3);
                CHECKF(pimg_file_is(p, &a), "kill at %s #%lu left a partial object under the final name", calls[c],
                       nth);
                CHECK_OK(h5tier_shm_remove(n3, 0)); /* killed after the publish: complete */
            }
        }
    }
    tu_log("%d killed loads, no partial object", kills);
    /* the next load removes what the killed ones left in the shm directory */
    CHECK_OK(h5tier_shm_load(src, n3, 0600, 0, NULL, NULL));
    CHECKF(leftovers(n3) == 0, "temporary objects of killed loads were not removed");
    CHECK_OK(h5tier_shm_remove(n3, 0));

    /* ---- random kills of the CLI loading 48 MiB ---- */
    pimg_t big;
    pimg_create(&big, 12u << 20, 5);
    const char *bigf = tu_path("big.h5");
    pimg_write_file(bigf, &big);
    char *n4 = tu_shm_name("loadkill");
    char p4[600];
    snprintf(p4, sizeof p4, "%s/%s", shm_dir(), n4);
    int partial = 0, complete = 0;
    for (int i = 0; i < 20; i++) {
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            execl(tu_cli(), "h5tier", "shm", "load", bigf, n4, (char *)NULL);
            _exit(127);
        }
        struct timespec ts = {0, (long)(5 + (i * 7919) % 200) * 1000000L}; /* 5..204 ms */
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        tu_wait(pid);
        if (pexists(p4)) {
            if (pimg_file_is(p4, &big))
                complete++;
            else
                partial++;
            h5tier_shm_remove(n4, 1);
        }
    }
    tu_log("random kills: %d complete, %d partial objects under the final name", complete, partial);
    CHECKF(partial == 0, "%d of 20 killed loads left a partial object under the final name", partial);
    free(big.buf);
    free(a.buf);
    tu_log("ok");
    return 0;
}
