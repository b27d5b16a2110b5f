/*
 * Proves the backing-file persistence of the shm driver (src/shm/persist.c)
 * on real files with real HDF5 images: a new backing file is written whole
 * (temp + rename); a later commit writes only the dirty pages through the
 * journal (bytes written ~= 2x dirty bytes + headers, counted by the stats)
 * and the result is byte-identical to the new image and passes h5dump and
 * h5diff; growth and shrink commits, rename mode, load and size checks work;
 * recovery discards a torn journal without touching the file (also one
 * whose commit record is valid but whose data or run record fails its
 * checksum: format 2 syncs them together), replays a committed one, and
 * re-applies one that a crash brought back after its commit finished; a
 * format 1 journal is still replayed, and refused (kept) when its data is
 * damaged after a valid commit record; format 2 journals (the hash written
 * by hand before XXH3) are still replayed, and format 2 and 3 journals with
 * a damaged run are discarded; a journal of an unknown version is
 * refused with an error naming it and kept; symlinks and non-HDF5 files are refused with a clear error.
 */
#include "persist_util.h"

#define PS 4096u
#define NELEM (1u << 20) /* 4 MiB of int32 */

static void check_h5(const char *path, const pimg_t *img)
{
    char ref[4400], out[8192];
    snprintf(ref, sizeof ref, "%s.ref", path);
    pimg_write_file(ref, img);
    int rc = tu_sh(out, sizeof out, "h5dump -H '%s' >/dev/null", path);
    CHECKF(rc == 0, "h5dump %s: exit %d: %s", path, rc, out);
    rc = tu_sh(out, sizeof out, "h5diff '%s' '%s'", path, ref);
    CHECKF(rc == 0, "h5diff %s %s: exit %d: %s", path, ref, rc, out);
    unlink(ref);
}

static void progress_cb(uint64_t done, uint64_t total, void *arg)
{
    uint64_t *last = arg;
    CHECK(done <= total && done >= *last);
    *last = done;
}

int main(void)
{
    tu_h5_quiet();
    const char *path = tu_path("backing.h5");
    char jpath[4500];
    snprintf(jpath, sizeof jpath, "%s.h5tier-journal", path);

    pimg_t a, b, c, d;
    pimg_create(&a, NELEM, 3);
    /* b: 1% of the pages differ (10 scattered 4 KiB slices) */
    size_t pos[10];
    for (int k = 0; k < 10; k++)
        pos[k] = (size_t)k * (NELEM / 10) + 77;
    pimg_modify(&a, &b, pos, 10, 1024, 100000, 0);
    CHECK(a.len == b.len);

    /* 1. new file: whole image, temp + rename */
    h5tier_persist_stats_t st = {0};
    CHECK_OK(h5tier__backing_commit(path, a.buf, a.len, NULL, 0, 0, &st));
    CHECK(st.full == 1 && st.bytes_written == a.len);
    CHECK(pimg_file_is(path, &a));
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    check_h5(path, &a);
    uint64_t size = 0;
    CHECK_OK(h5tier__backing_size(path, &size));
    CHECK(size == a.len);

    /* 2. dirty pages only, through the journal */
    h5tier_pagemap_t pm;
    size_t ndirty = pimg_diff(&a, &b, PS, &pm);
    size_t npages = (b.len + PS - 1) / PS;
    tu_log("image %zu bytes, %zu pages, %zu dirty", b.len, npages, ndirty);
    CHECK(ndirty > 0 && ndirty * 50 < npages); /* ~1% */
    memset(&st, 0, sizeof st);
    CHECK_OK(h5tier__backing_commit(path, b.buf, b.len, &pm, 0, 0600, &st));
    CHECK(st.full == 0);
    CHECK(st.pages == ndirty);
    size_t runs = pimg_runs(&pm), pg = 0, cnt = 0;
    uint64_t expect = 2 * (uint64_t)ndirty * PS + 64 + 32 * (runs + 1);
    tu_log("journal commit wrote %llu bytes (expected %llu)", (unsigned long long)st.bytes_written,
           (unsigned long long)expect);
    CHECK(st.bytes_written <= expect);
    CHECK(pimg_file_is(path, &b));
    CHECK(!pexists(jpath));
    check_h5(path, &b);
    h5tier__pagemap_free(&pm);

    /* 3. growth: add a dataset (the file gets longer) */
    pimg_modify(&b, &c, pos, 2, 100, 555, 300000);
    CHECK(c.len > b.len);
    ndirty = pimg_diff(&b, &c, PS, &pm);
    memset(&st, 0, sizeof st);
    CHECK_OK(h5tier__backing_commit(path, c.buf, c.len, &pm, 0, 0600, &st));
    CHECK(st.full == 0 && pimg_file_is(path, &c));
    check_h5(path, &c);
    h5tier__pagemap_free(&pm);
    /* growth pages are written even if the map forgets them */
    ndirty = pimg_diff(&c, &b, PS, &pm);
    CHECK_OK(h5tier__backing_commit(path, b.buf, b.len, &pm, 0, 0600, NULL)); /* shrink back to b */
    CHECK(pimg_file_is(path, &b));
    h5tier__pagemap_free(&pm);
    ndirty = pimg_diff(&b, &c, PS, &pm);
    /* forget the pages past b's end: commit must still write them */
    h5tier_pagemap_t pm2;
    CHECK(h5tier__pagemap_init(&pm2, PS, c.len) == 0);
    pg = 0;
    while (h5tier__pagemap_next_run(&pm, &pg, &cnt)) {
        if ((uint64_t)pg * PS < b.len)
            CHECK(h5tier__pagemap_mark(&pm2, (uint64_t)pg * PS, (uint64_t)cnt * PS) == 0);
        pg += cnt;
    }
    CHECK_OK(h5tier__backing_commit(path, c.buf, c.len, &pm2, 0, 0600, NULL));
    CHECK(pimg_file_is(path, &c));
    h5tier__pagemap_free(&pm);
    h5tier__pagemap_free(&pm2);

    /* 4. shrink: back to a (dirty = pages where they differ within a) */
    ndirty = pimg_diff(&c, &a, PS, &pm);
    CHECK_OK(h5tier__backing_commit(path, a.buf, a.len, &pm, 0, 0600, NULL));
    CHECK(pimg_file_is(path, &a));
    check_h5(path, &a);
    h5tier__pagemap_free(&pm);

    /* 5. rename mode: whole image, result b, old permissions kept */
    CHECK(chmod(path, 0640) == 0);
    ndirty = pimg_diff(&a, &b, PS, &pm);
    memset(&st, 0, sizeof st);
    CHECK_OK(h5tier__backing_commit(path, b.buf, b.len, &pm, H5TIER_SHM_RENAME_SAVE, 0600, &st));
    CHECK(st.full == 1 && pimg_file_is(path, &b));
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640);
    /* all pages dirty: also the rename path (half the bytes of a journal) */
    h5tier_pagemap_t all;
    CHECK(h5tier__pagemap_init(&all, PS, a.len) == 0);
    CHECK(h5tier__pagemap_mark_all(&all, a.len) == 0);
    memset(&st, 0, sizeof st);
    CHECK_OK(h5tier__backing_commit(path, a.buf, a.len, &all, 0, 0600, &st));
    CHECK(st.full == 1 && pimg_file_is(path, &a));
    h5tier__pagemap_free(&all);

    /* 6. load */
    unsigned char *back = malloc(a.len);
    uint64_t last = 0;
    CHECK_OK(h5tier__backing_load(path, back, a.len, progress_cb, &last));
    CHECK(last == a.len && !memcmp(back, a.buf, a.len));
    CHECK(h5tier__backing_load(path, back, a.len + 10, NULL, NULL) == -H5TIER_ETRUNC);
    free(back);

    /* 7. recovery: nothing to do; a torn (uncommitted) journal is discarded */
    CHECK(h5tier_shm_recover(path) == 0);
    int fd = open(jpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && write(fd, "H5TJRNL1garbage", 15) == 15);
    close(fd);
    CHECK(h5tier_shm_recover(path) == 2);
    CHECK(!pexists(jpath) && pimg_file_is(path, &a));
    /* a stale journal is handled before the next commit */
    fd = open(jpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && write(fd, "xx", 2) == 2);
    close(fd);
    CHECK_OK(h5tier__backing_commit(path, b.buf, b.len, &pm, 0, 0600, NULL));
    CHECK(pimg_file_is(path, &b) && !pexists(jpath));
    h5tier__pagemap_free(&pm);

    /* 8. a committed journal whose apply failed (its first in-place write):
     * recovery replays it. */
    ndirty = pimg_diff(&b, &a, PS, &pm);
    pimg_commit_unapplied(path, &a, &pm);
    tu_log("apply failure message: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), path) && strstr(h5tier_errmsg(), "recover"));
    CHECK(pexists(jpath) && pimg_file_is(path, &b));
    CHECK(h5tier_shm_recover(path) == 1);
    CHECK(!pexists(jpath) && pimg_file_is(path, &a));
    CHECK(h5tier_shm_recover(path) == 0);

    /* 9. format 2 syncs the data and the commit record together, so a
     * journal whose commit record is valid but whose data or a run record
     * fails its checksum is one a crash tore before its sync finished: the
     * apply never started, recovery discards it and the file stays old. */
    h5tier__pagemap_free(&pm);
    ndirty = pimg_diff(&a, &b, PS, &pm);
    const long dmg[] = {64 + 32 + 100, 64 + 8}; /* a data byte of run 0; run 0's record */
    for (int k = 0; k < 2; k++) {
        pimg_commit_unapplied(path, &b, &pm);
        fd = open(jpath, O_RDWR);
        CHECK(fd >= 0);
        unsigned char byte;
        CHECK(pread(fd, &byte, 1, dmg[k]) == 1);
        byte ^= 0xff;
        CHECK(pwrite(fd, &byte, 1, dmg[k]) == 1);
        close(fd);
        int r = h5tier_shm_recover(path);
        CHECKF(r == 2, "recover of a torn format-2 journal (damage at %ld) returned %d", dmg[k], r);
        CHECK(!pexists(jpath) && pimg_file_is(path, &a));
    }
    /* the data never written at all (zeros where a torn sync left holes) */
    pimg_commit_unapplied(path, &b, &pm);
    {
        size_t jl = 0;
        unsigned char *jb = pimg_read_file(jpath, &jl);
        CHECK(jb && jl > 64 + 32 + 4096 + 32);
        memset(jb + 64 + 32, 0, 4096);
        fd = open(jpath, O_WRONLY | O_TRUNC);
        CHECK(fd >= 0 && write(fd, jb, jl) == (ssize_t)jl);
        close(fd);
        free(jb);
    }
    CHECK(h5tier_shm_recover(path) == 2);
    CHECK(!pexists(jpath) && pimg_file_is(path, &a));

    /* 9b. a journal that a crash brought back after its commit finished
     * (format 2 does not sync the directory after the unlink): recovery
     * applies the same bytes again and the file stays the new version. */
    pimg_commit_unapplied(path, &b, &pm);
    char saved[4600];
    snprintf(saved, sizeof saved, "%s.saved", jpath);
    {
        size_t jl = 0;
        unsigned char *jb = pimg_read_file(jpath, &jl);
        CHECK(jb);
        fd = open(saved, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0 && write(fd, jb, jl) == (ssize_t)jl);
        close(fd);
        free(jb);
    }
    CHECK(h5tier_shm_recover(path) == 1);
    CHECK(!pexists(jpath) && pimg_file_is(path, &b));
    CHECK(rename(saved, jpath) == 0);
    CHECK(h5tier_shm_recover(path) == 1); /* re-applied */
    CHECK(!pexists(jpath) && pimg_file_is(path, &b));
    check_h5(path, &b);

    /* 9c. a format 1 journal (written by older h5tier, data synced before
     * the commit record) is still read: replayed when whole, and one whose
     * data fails its checksum after a valid commit record is damage after
     * the commit: refused, kept. */
    h5tier__pagemap_free(&pm);
    ndirty = pimg_diff(&b, &a, PS, &pm);
    h5tier__journal_write_version = 1;
    pimg_commit_unapplied(path, &a, &pm);
    h5tier__journal_write_version = 3;
    CHECK(h5tier_shm_recover(path) == 1);
    CHECK(!pexists(jpath) && pimg_file_is(path, &a));
    h5tier__pagemap_free(&pm);
    ndirty = pimg_diff(&a, &b, PS, &pm);
    h5tier__journal_write_version = 1;
    pimg_commit_unapplied(path, &b, &pm);
    h5tier__journal_write_version = 3;
    fd = open(jpath, O_RDWR);
    CHECK(fd >= 0);
    unsigned char byte;
    CHECK(pread(fd, &byte, 1, 64 + 32 + 100) == 1);
    byte ^= 0xff;
    CHECK(pwrite(fd, &byte, 1, 64 + 32 + 100) == 1);
    close(fd);
    int r = h5tier_shm_recover(path);
    CHECKF(r == -H5TIER_EJOURNAL, "recover of damaged format-1 journal returned %d", r);
    tu_log("damaged journal message: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), "checksum"));
    CHECK(pexists(jpath) && pimg_file_is(path, &a));
    CHECK(h5tier__backing_commit(path, b.buf, b.len, &pm, 0, 0600, NULL) == -H5TIER_EJOURNAL);
    CHECK(unlink(jpath) == 0);
    /* 9d. a format 2 journal (h5tier before XXH3: the old hand-written
     * hash) is still read: replayed when whole; one with a damaged run is
     * discarded (format 2 syncs data and commit record together), file
     * untouched.  And the format 3 journal (XXH3) detects the same damage. */
    for (unsigned v = 2; v <= 3; v++) {
        h5tier__journal_write_version = v;
        pimg_commit_unapplied(path, &b, &pm);
        h5tier__journal_write_version = 3;
        fd = open(jpath, O_RDONLY);
        CHECK(fd >= 0);
        uint32_t ver = 0;
        CHECK(pread(fd, &ver, 4, 8) == 4);
        close(fd);
        CHECKF(ver == v, "journal written as format %u says %u", v, ver);
        r = h5tier_shm_recover(path);
        CHECKF(r == 1, "recover of a whole format-%u journal returned %d", v, r);
        CHECK(!pexists(jpath) && pimg_file_is(path, &b));
        /* back to a, damaged: discarded, b stays */
        h5tier__pagemap_free(&pm);
        ndirty = pimg_diff(&b, &a, PS, &pm);
        h5tier__journal_write_version = v;
        pimg_commit_unapplied(path, &a, &pm);
        h5tier__journal_write_version = 3;
        fd = open(jpath, O_RDWR);
        CHECK(fd >= 0);
        CHECK(pread(fd, &byte, 1, 64 + 32 + 100) == 1);
        byte ^= 0x01;
        CHECK(pwrite(fd, &byte, 1, 64 + 32 + 100) == 1);
        close(fd);
        r = h5tier_shm_recover(path);
        CHECKF(r == 2, "recover of a damaged format-%u journal returned %d (want 2: discarded)", v, r);
        CHECK(!pexists(jpath) && pimg_file_is(path, &b));
        /* the file holds b; a whole journal takes it back to a */
        pimg_commit_unapplied(path, &a, &pm);
        CHECK(h5tier_shm_recover(path) == 1);
        CHECK(!pexists(jpath) && pimg_file_is(path, &a));
        h5tier__pagemap_free(&pm);
        ndirty = pimg_diff(&a, &b, PS, &pm);
    }
    /* a committed journal of an unknown format version (valid checksums):
     * a clear error naming the version, journal kept, file untouched */
    h5tier__journal_write_version = 4;
    pimg_commit_unapplied(path, &b, &pm);
    h5tier__journal_write_version = 3;
    r = h5tier_shm_recover(path);
    CHECKF(r == -H5TIER_EVERSION, "recover of a format-4 journal returned %d", r);
    tu_log("unknown version message: %s", h5tier_errmsg());
    CHECK(strstr(h5tier_errmsg(), "version 4") && strstr(h5tier_errmsg(), "kept"));
    CHECK(pexists(jpath) && pimg_file_is(path, &a));
    CHECK(unlink(jpath) == 0);
    h5tier__pagemap_free(&pm);

    /* 10. bad input */
    CHECK(h5tier__backing_size(tu_path("missing.h5"), &size) == -ENOENT);
    const char *txt = tu_path("notes.txt");
    fd = open(txt, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char junk[4096];
    memset(junk, 'x', sizeof junk);
    CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    close(fd);
    CHECK(h5tier__backing_size(txt, &size) == -H5TIER_ENOTHDF5);
    CHECK(strstr(h5tier_errmsg(), "notes.txt"));
    const char *link = tu_path("link.h5");
    CHECK(symlink(path, link) == 0);
    CHECK(h5tier__backing_size(link, &size) == -ELOOP);
    CHECK(h5tier__backing_commit(link, a.buf, a.len, NULL, 0, 0600, NULL) == -ELOOP);
    CHECK(pimg_file_is(path, &a)); /* the link's target was not touched */
    struct stat lsb;
    CHECK(lstat(link, &lsb) == 0 && S_ISLNK(lsb.st_mode));

    free(a.buf);
    free(b.buf);
    free(c.buf);
    (void)d;
    tu_log("ok");
    return 0;
}
