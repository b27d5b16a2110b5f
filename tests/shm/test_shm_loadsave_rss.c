/*
 * Proves that `shm load` and `shm save` (h5tier_shm_load / h5tier_shm_save)
 * copy on the descriptors instead of faulting the object into the process:
 * a forked child loads a 96 MiB HDF5 file into shm, another saves it back,
 * and the peak RSS of each (VmHWM from /proc/self/status, before vs after)
 * grows by less than 24 MiB (72 MiB under AddressSanitizer; mapping the
 * object, as before, grew it by the whole 96 MiB).  The object and the saved file are byte-identical to the
 * source, h5dump reads the copy, and progress reports reach the total.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "persist_util.h"
#include "shmtest.h"

#define MiB (1024ull * 1024ull)
#define FILE_BYTES (96 * MiB)
#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer's allocator and shadow add tens of MiB to any peak; still
 * well below the object's 96 MiB that a mapping faulted in would add. */
#define RSS_BOUND (72 * MiB)
#else
#define RSS_BOUND (24 * MiB)
#endif

/* Peak resident set size of this process, bytes (VmHWM). */
static unsigned long long vm_hwm(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f);
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            break;
    fclose(f);
    CHECK(kb > 0);
    return kb * 1024;
}

static void progress(uint64_t done, uint64_t total, void *arg)
{
    uint64_t *last = arg;
    CHECKF(done <= total && done >= *last, "progress %llu of %llu after %llu", (unsigned long long)done,
           (unsigned long long)total, (unsigned long long)*last);
    *last = done;
}

/* In a child: run load (save = 0) or save, exit 0 when the peak RSS grew by
 * less than RSS_BOUND, 3 when more, 2 when the call failed. */
static int in_child(int save, const char *file, const char *name)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        unsigned long long before = vm_hwm();
        uint64_t last = 0;
        int r = save ? h5tier_shm_save(name, file, 0, progress, &last)
                     : h5tier_shm_load(file, name, 0600, 0, progress, &last);
        unsigned long long grew = vm_hwm() - before;
        fprintf(stderr, "%s: %d, progress %llu, peak RSS grew by %.1f MiB\n", save ? "save" : "load", r,
                (unsigned long long)last, grew / (double)MiB);
        if (r != 0) {
            fprintf(stderr, "%s\n", h5tier_errmsg());
            _exit(2);
        }
        if (last == 0)
            _exit(4);
        _exit(grew < RSS_BOUND ? 0 : 3);
    }
    return tu_wait(pid);
}

int main(void)
{
    const char *src = tu_path("src.h5"), *out = tu_path("saved.h5");
    /* a 96 MiB HDF5 file written with sec2: one contiguous dataset */
    hid_t f = H5Fcreate(src, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    hsize_t n = FILE_BYTES / 4;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "x", H5T_NATIVE_INT32, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int32_t *buf = malloc(FILE_BYTES);
    CHECK(buf);
    for (hsize_t i = 0; i < n; i++)
        buf[i] = (int32_t)(i * 2654435761u);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Dclose(d);
    H5Sclose(sp);
    CHECK(H5Fclose(f) >= 0);

    char *name = tu_shm_name("lsrss");
    int st = in_child(0, src, name);
    CHECKF(st == 0, "load child exited %d (3: peak RSS grew by the object's size)", st);
    pimg_t a;
    a.buf = pimg_read_file(src, &a.len);
    CHECK(a.buf && a.len >= FILE_BYTES);
    CHECKF(pimg_file_is(st_shm_path(name), &a), "the loaded object differs from the source");

    st = in_child(1, out, name);
    CHECKF(st == 0, "save child exited %d (3: peak RSS grew by the object's size)", st);
    CHECKF(pimg_file_is(out, &a), "the saved file differs from the source");
    char txt[4096];
    st = tu_sh(txt, sizeof txt, "h5dump -d /x -s 25165823 -c 1 '%s'", out);
    CHECKF(st == 0 && strstr(txt, "25165823"), "h5dump of the saved copy: %s", txt);
    CHECK_OK(h5tier_shm_remove(name, 0));
    free(a.buf);
    tu_log("load and save of %llu MiB with peak RSS growth < %llu MiB each", FILE_BYTES / MiB, RSS_BOUND / MiB);
    return 0;
}
