/*
 * test_ring_readonly -- proves the split of a ring into a data object that
 * readers map read-only and a reader table that is all they write (issue 8
 * item 4): a reader's mapping of /dev/shm/NAME is read-only (a store through
 * a view pointer kills the reader with SIGSEGV, /proc/self/maps shows no
 * write bit, its descriptor is O_RDONLY) while its statistics slot, tether
 * and sleeping bit live in /dev/shm/.NAME.readers; a reader sleeping on the
 * futex in the read-only mapping is woken by a put; the reader table gets
 * read-write exactly for the classes that may read the ring (0600 -> 0600,
 * 0640 -> 0660, 0644 -> 0666, whatever the umask); a reader table of another
 * ring id, of the wrong size, owned by another uid or missing is refused
 * with a message naming it, and the ring's owner attaching the writer
 * rebuilds it; a ring of an older format is refused with a message saying
 * how to re-create it; removal takes both objects.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5tier_ring.h"
#include "ring/ring_internal.h"
#include "tutil.h"

static char dpath[600], rpath[600];

static unsigned mode_of(const char *p)
{
    struct stat st;
    CHECKF(stat(p, &st) == 0, "%s missing", p);
    return (unsigned)(st.st_mode & 07777);
}

static void make(const char *name, mode_t mode)
{
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "data", "u8", 64));
    CHECK_OK(h5tier_ring_create(name, &s, 1, mode, H5TIER_RING_CREATE_FORCE));
    h5tier_ring_stream_spec_free(&s);
    snprintf(dpath, sizeof dpath, "/dev/shm/%s", name);
    snprintf(rpath, sizeof rpath, "/dev/shm/.%s.readers", name);
}

static void put_some(const char *name, uint64_t n)
{
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    uint64_t t = h5tier_ring_tail(w, 0);
    for (uint64_t q = 0; q < n; q++) {
        uint64_t v = t + q;
        CHECK_OK(h5tier_ring_put(w, 0, &v, 8));
    }
    CHECK_OK(h5tier_ring_close(w));
}

/* The permissions and mapping of /dev/shm/NAME as this process sees them. */
static void check_maps(const char *name)
{
    char line[1024], want[600];
    snprintf(want, sizeof want, "/dev/shm/%s\n", name);
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line), wl = strlen(want);
        if (l < wl || strcmp(line + l - wl, want) != 0)
            continue;
        char *perm = strchr(line, ' ');
        CHECK(perm);
        CHECKF(perm[2] == '-', "a reader maps the ring's data writable: %s", line);
        n++;
    }
    fclose(f);
    CHECKF(n >= 1, "no mapping of %s found", want);
}

static void on_segv(int sig)
{
    (void)sig;
    _exit(42);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tu_h5_quiet();
    char *name = tu_shm_name("ro");
    umask(022);

    /* modes: the reader table is read-write where the ring is readable */
    const unsigned modes[][2] = {{0600, 0600}, {0640, 0660}, {0644, 0666}, {0660, 0660}, {0400, 0600}};
    for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
        make(name, modes[k][0]);
        CHECKF(mode_of(dpath) == modes[k][0] && mode_of(rpath) == modes[k][1],
               "ring mode %04o: data %04o, reader table %04o (expected %04o)", modes[k][0], mode_of(dpath),
               mode_of(rpath), modes[k][1]);
    }
    make(name, 0600);
    put_some(name, 10);

    /* a reader maps the data read-only; a store through a view kills it */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        h5tier_ring_reader_t *r;
        if (h5tier_ring_reader_open(name, NULL, NULL, &r) < 0)
            _exit(3);
        check_maps(name);
        const void *v;
        if (h5tier_ring_view(r, &v, 1, NULL, 0) != 1)
            _exit(4);
        struct sigaction sa; /* our own handler: sanitizers would turn the fault into exit 1 */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_segv;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        *(volatile uint64_t *)v = 42; /* must fault */
        _exit(5);
    }
    int st = tu_wait(pid);
    CHECKF(st == 42 || st == 128 + SIGSEGV, "a reader writing through a view pointer: status %d (expected a fault)",
           st);

    /* the reader's descriptor of the data object is read-only */
    h5tier_ring_reader_t *r;
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.tether = "t";
    CHECK_OK(h5tier_ring_reader_open(name, NULL, &ro, &r));
    check_maps(name);
    {
        char fdp[64], link[700];
        int found = 0;
        for (int fd = 3; fd < 1024; fd++) {
            snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(fdp, link, sizeof link - 1);
            if (n <= 0)
                continue;
            link[n] = 0;
            if (strcmp(link, dpath) != 0)
                continue;
            int fl = fcntl(fd, F_GETFL);
            CHECKF((fl & O_ACCMODE) == O_RDONLY, "a reader holds the data object with flags %#x", fl);
            found++;
        }
        CHECK(found >= 1);
    }
    h5tier_ring_info_t info;
    h5tier_ring_stream_info_t si;
    CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
    CHECK(si.ntethers == 1 && si.nreaders >= 1);
    h5tier_ring_reader_close(r);
    CHECK_OK(h5tier_ring_untether(name, NULL, "t"));

    /* a sleeper on the read-only futex word is woken by a put */
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        h5tier_ring_reader_opts_t o2;
        h5tier_ring_reader_opts_init(&o2);
        o2.from = H5TIER_RING_FROM_LATEST;
        o2.spin_us = 0;
        h5tier_ring_reader_t *r2;
        if (h5tier_ring_reader_open(name, NULL, &o2, &r2) < 0)
            _exit(3);
        uint64_t v;
        _exit(h5tier_ring_next(r2, &v, 8, NULL, 20000) == 0 ? 0 : 4);
    }
    double t0 = tu_now();
    do {
        CHECK_OK(h5tier_ring_info(name, &info, &si, 1));
        CHECKF(tu_now() - t0 < 10, "the reader never slept");
        usleep(1000);
    } while (si.waiters == 0);
    put_some(name, 1);
    CHECKF(tu_wait_timeout(pid, 10) == 0, "the reader sleeping on the read-only futex was not woken");

    /* a reader table of another ring id: refused by readers, rebuilt by the owner's writer */
    int fd = open(rpath, O_RDWR);
    CHECK(fd >= 0);
    uint64_t id = 12345;
    CHECK(pwrite(fd, &id, 8, offsetof(ring_rtab_hdr_t, ring_id)) == 8);
    close(fd);
    int rc = h5tier_ring_reader_open(name, NULL, NULL, &r);
    CHECKF(rc == -H5TIER_EMAGIC && strstr(h5tier_errmsg(), "reader table") && strstr(h5tier_errmsg(), "another ring"),
           "foreign reader table: %d (%s)", rc, h5tier_errmsg());
    put_some(name, 1); /* the owner's writer rebuilds it */
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    h5tier_ring_reader_close(r);

    /* wrong size */
    CHECK(truncate(rpath, 8192 + 4096) == 0);
    rc = h5tier_ring_reader_open(name, NULL, NULL, &r);
    CHECKF(rc == -H5TIER_EMAGIC && strstr(h5tier_errmsg(), "wrong size"), "reader table of the wrong size: %d (%s)", rc,
           h5tier_errmsg());
    put_some(name, 1);

    /* owned by another uid (root can plant that; a user cannot replace another's file in /dev/shm) */
    if (geteuid() == 0) {
        CHECK(chown(rpath, 65534, 65534) == 0);
        rc = h5tier_ring_reader_open(name, NULL, NULL, &r);
        CHECKF(rc == -EPERM && strstr(h5tier_errmsg(), "owned by uid 65534"), "reader table of another owner: %d (%s)",
               rc, h5tier_errmsg());
        CHECK(chown(rpath, 0, 0) == 0);
    }

    /* missing: a clear error; the owner's writer restores it */
    CHECK(unlink(rpath) == 0);
    rc = h5tier_ring_reader_open(name, NULL, NULL, &r);
    CHECKF(rc == -ENOENT && strstr(h5tier_errmsg(), ".readers"), "missing reader table: %d (%s)", rc, h5tier_errmsg());
    put_some(name, 1);
    CHECK(access(rpath, F_OK) == 0 && mode_of(rpath) == 0600);
    CHECK_OK(h5tier_ring_reader_open(name, NULL, NULL, &r));
    h5tier_ring_reader_close(r);

    /* an older format */
    fd = open(dpath, O_RDWR);
    CHECK(fd >= 0);
    uint32_t v2 = 2;
    CHECK(pwrite(fd, &v2, 4, offsetof(ring_hdr_t, version)) == 4);
    close(fd);
    rc = h5tier_ring_reader_open(name, NULL, NULL, &r);
    CHECKF(rc == -H5TIER_EVERSION && strstr(h5tier_errmsg(), "re-create") && strstr(h5tier_errmsg(), "--force"),
           "old format: %d (%s)", rc, h5tier_errmsg());

    /* removal takes both objects, even of a ring it cannot open */
    CHECK_OK(h5tier_ring_remove(name, 0));
    CHECK(access(dpath, F_OK) != 0 && access(rpath, F_OK) != 0);

    /* a reader table left behind by removing only the data object is removed by ring rm */
    make(name, 0600);
    CHECK(unlink(dpath) == 0 && access(rpath, F_OK) == 0);
    CHECK_OK(h5tier_ring_remove(name, 0));
    CHECK(access(rpath, F_OK) != 0);
    rc = h5tier_ring_remove(name, 0);
    CHECKF(rc == -ENOENT, "ring rm of nothing: %d", rc);
    return 0;
}
