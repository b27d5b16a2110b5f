/*
 * Proves the kept SSD cache (keep=yes) makes a second process start warm and
 * is never stale: a sec2 file of 8 MiB is read by a first process (cold:
 * the bytes come from the backing file), then by a second process, which
 * finds the pages in the kept cache (kept_loaded_pages > 0) and reads almost
 * nothing from the backing file, with identical data.  Then the backing
 * file is changed behind the cache (rewritten by sec2): the next process
 * sees the new bytes and loads no page (invalidated by size/mtime).  A
 * process opening the file while another holds the cache shares it
 * read-only and reads correct data.  A writer through the tier driver
 * invalidates and rewrites the cache, and its readers after it see its
 * bytes.  h5tier_tier_cache_list/remove see and remove the cache.  An index
 * of format 1 (FNV-1a checksum, before XXH3) is never used: that run is cold.
 */
#include <stdio.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "tiertest.h"

#define N (2 << 20) /* ints: 8 MiB */

static char cachedir[4096], path[4096];

static uint64_t json_u(const char *json, const char *key)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(json, k);
    CHECKF(p, "no %s in %s", key, json);
    return strtoull(p + strlen(k), NULL, 10);
}

/* Child: open the file through tier (keep=yes), read d, check it against
 * value v, write the stats JSON to statpath. */
static int reader(const char *statpath, int v, int hold)
{
    char cfg[8192];
    snprintf(cfg, sizeof cfg, "ram=4MiB page=64KiB ssd=%s:64MiB keep=yes stats=%s prefetch=off", cachedir, statpath);
    hid_t fapl = tt_fapl(cfg);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    CHECK(f >= 0);
    hid_t d = H5Dopen2(f, "d", H5P_DEFAULT);
    int *buf = malloc(N * sizeof(int));
    CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    for (int i = 0; i < N; i++)
        CHECKF(buf[i] == i + v, "element %d = %d, want %d", i, buf[i], i + v);
    if (hold) /* keep the cache held while the parent opens too */
        sleep((unsigned)hold);
    free(buf);
    H5Dclose(d);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
    return 0;
}

static void write_sec2(int v)
{
    hid_t fapl = tt_fapl(NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hsize_t n = N;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "d", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int *buf = malloc(N * sizeof(int));
    for (int i = 0; i < N; i++)
        buf[i] = i + v;
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Dclose(d);
    H5Sclose(sp);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
}

static char *run_reader(int v, const char *tag)
{
    const char *sp = tu_path(tag);
    char spath[4096], vs[16];
    snprintf(spath, sizeof spath, "%s", sp);
    snprintf(vs, sizeof vs, "%d", v);
    pid_t pid = tu_spawn_self("reader", cachedir, path, spath, vs, "0", NULL);
    CHECKF(tu_wait(pid) == 0, "reader %s failed", tag);
    size_t l;
    return (char *)tt_slurp(spath, &l);
}

static int count_cb(const h5tier_tier_cache_info_t *ci, void *arg)
{
    int *n = arg;
    (*n)++;
    tu_log("cache: %s -> %s pages %llu stale %d", ci->index, ci->backing, (unsigned long long)ci->pages, ci->stale);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "reader")) {
        snprintf(cachedir, sizeof cachedir, "%s", argv[2]);
        snprintf(path, sizeof path, "%s", argv[3]);
        return reader(argv[4], atoi(argv[5]), atoi(argv[6]));
    }
    snprintf(cachedir, sizeof cachedir, "%s", tu_tmpdir());
    snprintf(path, sizeof path, "%s", tu_path("kept.h5"));
    write_sec2(0);

    char *j1 = run_reader(0, "s1.json");
    uint64_t cold = json_u(j1, "backing_read_bytes");
    CHECKF(json_u(j1, "kept_loaded_pages") == 0, "first run found pages: %s", j1);
    CHECKF(cold >= (uint64_t)N * 4, "first run read %llu bytes from the backing file", (unsigned long long)cold);
    char *j2 = run_reader(0, "s2.json");
    uint64_t warm = json_u(j2, "backing_read_bytes"), loaded = json_u(j2, "kept_loaded_pages");
    CHECKF(loaded >= (uint64_t)N * 4 / 65536, "second run loaded %llu pages: %s", (unsigned long long)loaded, j2);
    CHECKF(warm < cold / 20, "second run still read %llu of %llu bytes from the backing file",
           (unsigned long long)warm, (unsigned long long)cold);
    tu_log("ok: cold run read %llu B from the backing file, warm run %llu B (%llu pages kept)",
           (unsigned long long)cold, (unsigned long long)warm, (unsigned long long)loaded);
    int n = 0;
    CHECK_OK(h5tier_tier_cache_list(cachedir, count_cb, &n));
    CHECK(n == 1);

    /* changed behind the cache: invalidated */
    sleep(0); /* mtime has ns resolution; the size or mtime changes anyway */
    write_sec2(5);
    char *j3 = run_reader(5, "s3.json");
    CHECKF(json_u(j3, "kept_loaded_pages") == 0, "stale cache used: %s", j3);
    tu_log("ok: a changed backing file invalidates the cache");
    char *j4 = run_reader(5, "s4.json");
    CHECK(json_u(j4, "kept_loaded_pages") > 0);

    /* an index of format 1 (its checksum was FNV-1a, before XXH3): never
     * trusted, the run is cold, and the index it writes at close is warm again */
    {
        char idx[8192] = "";
        DIR *dd = opendir(cachedir);
        CHECK(dd);
        for (struct dirent *e; (e = readdir(dd));)
            if (strstr(e->d_name, ".idx") && strlen(e->d_name) > 4 && !strcmp(e->d_name + strlen(e->d_name) - 4, ".idx"))
                snprintf(idx, sizeof idx, "%s/%s", cachedir, e->d_name);
        closedir(dd);
        CHECKF(idx[0], "no .idx in %s", cachedir);
        int fd = open(idx, O_RDWR);
        CHECK(fd >= 0);
        uint32_t v1 = 1;
        CHECK(pwrite(fd, &v1, 4, 8) == 4);
        close(fd);
        char *jv = run_reader(5, "s4v1.json");
        CHECKF(json_u(jv, "kept_loaded_pages") == 0, "a format-1 index was used: %s", jv);
        char *jw = run_reader(5, "s4v2.json");
        CHECKF(json_u(jw, "kept_loaded_pages") > 0, "no warm run after the format-1 index: %s", jw);
        tu_log("ok: a format-1 (pre-XXH3) index makes the cache cold, the next run is warm");
        free(jv);
        free(jw);
    }

    /* shared: a process holds it while another reads */
    char hs[4096];
    snprintf(hs, sizeof hs, "%s", tu_path("hold.json"));
    pid_t holder = tu_spawn_self("reader", cachedir, path, hs, "5", "2", NULL);
    usleep(800000);
    char *j5 = run_reader(5, "s5.json");
    CHECKF(json_u(j5, "kept_loaded_pages") > 0, "sharing reader found nothing: %s", j5);
    CHECK(tu_wait(holder) == 0);
    tu_log("ok: a second process shares a held cache read-only");

    /* a writer through tier rewrites the file and the cache */
    {
        char cfg[8192];
        snprintf(cfg, sizeof cfg, "ram=4MiB page=64KiB ssd=%s:64MiB keep=yes", cachedir);
        hid_t fapl = tt_fapl(cfg);
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
        CHECK(f >= 0);
        hid_t d = H5Dopen2(f, "d", H5P_DEFAULT);
        int *buf = malloc(N * sizeof(int));
        for (int i = 0; i < N; i++)
            buf[i] = i + 9;
        CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        free(buf);
        H5Dclose(d);
        CHECK(H5Fclose(f) >= 0);
        H5Pclose(fapl);
    }
    char *j6 = run_reader(9, "s6.json");
    tu_log("ok: after a tier writer, readers see its bytes (%llu pages kept)",
           (unsigned long long)json_u(j6, "kept_loaded_pages"));
    CHECK(h5tier_tier_cache_remove(cachedir, NULL, 0) == 1);
    n = 0;
    CHECK_OK(h5tier_tier_cache_list(cachedir, count_cb, &n));
    CHECK(n == 0);
    free(j1);
    free(j2);
    free(j3);
    free(j4);
    free(j5);
    free(j6);
    return 0;
}
