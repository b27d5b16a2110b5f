/*
 * test_archive_mode -- proves that archives are private by default and get
 * exactly the permissions asked for (issue 8 item 11): with a umask of 022,
 * `ring archive` and h5tier_archive_open create OUT.h5 0600 (not 0644);
 * --mode 0640 / H5TIER_ARCHIVE_MODE(0640) give 0640 whatever the umask;
 * modes with setuid, setgid, sticky or execute bits are refused (CLI exit 2,
 * API -EINVAL naming the mode) and create nothing; an existing archive keeps
 * its permissions.  Also: archiving into a missing directory names the
 * directory as the problem, not the ring.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5tier_archive.h"
#include "h5tier_ring.h"
#include "tutil.h"

static unsigned mode_of(const char *p)
{
    struct stat st;
    CHECKF(stat(p, &st) == 0, "%s missing", p);
    return (unsigned)(st.st_mode & 07777);
}

int main(void)
{
    tu_h5_quiet();
    umask(022);
    char *name = tu_shm_name("amode");
    h5tier_ring_stream_spec_t s;
    CHECK_OK(h5tier_ring_stream_from_dtype(&s, "data", "u8", 64));
    CHECK_OK(h5tier_ring_create(name, &s, 1, 0600, 0));
    h5tier_ring_stream_spec_free(&s);
    h5tier_ring_t *w;
    CHECK_OK(h5tier_ring_open_writer(name, NULL, &w));
    for (uint64_t q = 0; q < 10; q++)
        CHECK_OK(h5tier_ring_put(w, 0, &q, 8));
    CHECK_OK(h5tier_ring_close(w));
    const char *cli = tu_cli();
    char out[4096];

    const char *a = tu_path("a.h5");
    int st = tu_sh(out, sizeof out, "umask 022; %s ring archive %s %s --timeout 0.2 -q", cli, name, a);
    CHECKF(st == 0, "archive: %d: %s", st, out);
    CHECKF(mode_of(a) == 0600, "default archive mode %04o, expected 0600", mode_of(a));
    /* continuing it keeps its mode, even with another --mode */
    CHECK(chmod(a, 0640) == 0);
    st = tu_sh(out, sizeof out, "umask 077; %s ring archive %s %s --timeout 0.2 -q --mode 0600", cli, name, a);
    CHECKF(st == 0 && mode_of(a) == 0640, "continued archive: %d, mode %04o: %s", st, mode_of(a), out);

    const char *b = tu_path("b.h5");
    st = tu_sh(out, sizeof out, "umask 077; %s ring archive %s %s --timeout 0.2 -q --mode 0640", cli, name, b);
    CHECKF(st == 0 && mode_of(b) == 0640, "--mode 0640 under umask 077: %d, mode %04o: %s", st, mode_of(b), out);

    const char *bad[] = {"4600", "2640", "1600", "0700", "0755", "0644x", "8"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *c = tu_path("c.h5");
        st = tu_sh(out, sizeof out, "%s ring archive %s %s --timeout 0.2 -q --mode %s", cli, name, c, bad[k]);
        CHECKF(st == 2 && strstr(out, "--mode"), "--mode %s: status %d: %s", bad[k], st, out);
        CHECKF(access(c, F_OK) != 0, "--mode %s created %s", bad[k], c);
    }

    /* the API */
    hid_t ft = H5Tcopy(H5T_NATIVE_UINT64);
    h5tier_archive_stream_spec_t spec = {.path = "/x", .like = H5I_INVALID_HID, .type = ft};
    h5tier_archive_t *ar;
    const char *d = tu_path("d.h5");
    int rc = h5tier_archive_open(d, &spec, 1, H5TIER_ARCHIVE_CREATE | H5TIER_ARCHIVE_MODE(04600), &ar);
    CHECKF(rc == -EINVAL && strstr(h5tier_errmsg(), "4600"), "API mode 04600: %d (%s)", rc, h5tier_errmsg());
    rc = h5tier_archive_open(d, &spec, 1, H5TIER_ARCHIVE_CREATE | H5TIER_ARCHIVE_MODE(0750), &ar);
    CHECKF(rc == -EINVAL && strstr(h5tier_errmsg(), "execute"), "API mode 0750: %d (%s)", rc, h5tier_errmsg());
    CHECK(access(d, F_OK) != 0);
    CHECK_OK(h5tier_archive_open(d, &spec, 1, H5TIER_ARCHIVE_CREATE, &ar));
    CHECK_OK(h5tier_archive_close(ar));
    CHECKF(mode_of(d) == 0600, "API default mode %04o", mode_of(d));
    const char *e = tu_path("e.h5");
    CHECK_OK(h5tier_archive_open(e, &spec, 1, H5TIER_ARCHIVE_CREATE | H5TIER_ARCHIVE_MODE(0444), &ar));
    CHECK_OK(h5tier_archive_close(ar));
    CHECKF(mode_of(e) == 0444, "API mode 0444 gave %04o", mode_of(e));
    H5Tclose(ft);

    /* a missing directory is named as such */
    st = tu_sh(out, sizeof out, "%s ring archive %s %s/no/such/dir/x.h5 --timeout 0.2 -q", cli, name, tu_tmpdir());
    CHECKF(st == 1 && strstr(out, "directory") && !strstr(out, "list rings"), "missing dir: %d: %s", st, out);
    CHECK_OK(h5tier_ring_remove(name, 0));
    return 0;
}
