/*
 * Proves that a writer re-opening an existing shm object with a backing file
 * rewrites the backing file only when the two may differ, and that the file
 * is the object's image after every close whatever happened before:
 *  - a reopen that changes nothing keeps the backing file's inode (no temp +
 *    rename of the whole file; before: a full rewrite at every open), one
 *    that changes 4 KiB commits through the journal (same inode);
 *  - a writer SIGKILLed after writing (commit not done) -> the next writer's
 *    close leaves the backing file equal to the object (its data included);
 *  - the backing file changed in place by another program, the object changed
 *    with write(2), a journal left beside the backing file, a control object
 *    others may write (mode 0660): each makes the reopen rewrite the
 *    whole file (new inode), after which file and object agree again;
 *  - writers killed (fault injector) at every pwrite, fdatasync, fsync,
 *    rename, ftruncate, unlink, open, fstat and close of their close: the
 *    next writer's close always leaves the backing file equal to the object.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "persist_util.h"
#include "shmtest.h"

#define NELEM (1u << 18) /* 1 MiB of int32 */

static hid_t fapl_b(const char *name, const char *backing, mode_t mode, unsigned flags)
{
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    snprintf(cfg.backing_file, sizeof cfg.backing_file, "%s", backing);
    cfg.on_close = H5TIER_SHM_KEEP;
    cfg.mode = mode;
    cfg.flags |= flags;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(fapl >= 0 && H5Pset_fapl_shm(fapl, &cfg) >= 0);
    return fapl;
}

/* Write value v into x[0, n) of an open file. */
static void put(hid_t f, int create, int v, hsize_t n)
{
    hsize_t dims = NELEM;
    hid_t space = H5Screate_simple(1, &dims, NULL);
    hid_t d = create ? H5Dcreate2(f, "x", H5T_NATIVE_INT32, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                     : H5Dopen2(f, "x", H5P_DEFAULT);
    CHECK(d >= 0);
    int32_t *buf = malloc(n * sizeof *buf);
    for (hsize_t i = 0; i < n; i++)
        buf[i] = v;
    hsize_t start = 0;
    hid_t mem = H5Screate_simple(1, &n, NULL);
    CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &n, NULL) >= 0);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT32, mem, space, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Sclose(mem);
    H5Dclose(d);
    H5Sclose(space);
}

/* One writer session: create (v >= 0 fills all), or reopen and write v into
 * the first n elements (n == 0: change nothing). */
static void session(const char *name, const char *backing, mode_t mode, int create, int v, hsize_t n)
{
    hid_t fapl = fapl_b(name, backing, mode, 0);
    hid_t f = create ? H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : H5Fopen(name, H5F_ACC_RDWR, fapl);
    CHECKF(f >= 0, "open %s: %s", name, h5tier_errmsg());
    if (create)
        put(f, 1, v, NELEM);
    else if (n)
        put(f, 0, v, n);
    CHECK(H5Fclose(f) >= 0);
    H5Pclose(fapl);
}

static ino_t ino_of(const char *path)
{
    struct stat st;
    CHECKF(stat(path, &st) == 0, "stat %s", path);
    return st.st_ino;
}

/* The backing file holds exactly the object's bytes (the object may only be
 * longer by what its writer reserved and did not give back). */
static int agree(const char *name, const char *backing)
{
    size_t bl = 0, ol = 0;
    unsigned char *b = pimg_read_file(backing, &bl), *o = pimg_read_file(st_shm_path(name), &ol);
    int same = b && o && bl > 0 && ol >= bl && !memcmp(b, o, bl);
    free(b);
    free(o);
    return same;
}

/* x[i] of the backing file read with sec2 (what any HDF5 tool sees). */
static int backing_value(const char *backing, hsize_t i)
{
    hid_t f = H5Fopen(backing, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECKF(f >= 0, "sec2 cannot open %s", backing);
    hid_t d = H5Dopen2(f, "x", H5P_DEFAULT), space = H5Dget_space(d);
    hsize_t one = 1;
    hid_t mem = H5Screate_simple(1, &one, NULL);
    CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, &i, NULL, &one, NULL) >= 0);
    int32_t v = -1;
    CHECK(H5Dread(d, H5T_NATIVE_INT32, mem, space, H5P_DEFAULT, &v) >= 0);
    H5Sclose(mem);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    CHECKF(fd >= 0, "open %s", path);
    unsigned char c;
    CHECK(pread(fd, &c, 1, off) == 1);
    c ^= 0x5a;
    CHECK(pwrite(fd, &c, 1, off) == 1);
    close(fd);
}

/* child: write v into the first half without committing, flush, mark ready, wait to be killed */
static int killed_writer(const char *name, const char *backing, int v, const char *ready)
{
    hid_t fapl = fapl_b(name, backing, 0600, H5TIER_SHM_NO_PERSIST_ON_FLUSH);
    hid_t f = H5Fopen(name, H5F_ACC_RDWR, fapl);
    if (f < 0)
        return 2;
    put(f, 0, v, NELEM / 2);
    H5Fflush(f, H5F_SCOPE_GLOBAL);
    st_mark(ready);
    for (;;)
        pause();
}

/* In a child: reopen, write v into the first 1024 elements, arm a SIGKILL at
 * the nth call of `call`, close.  Returns the child's status. */
static int killed_close(const char *name, const char *backing, int v, const char *call, unsigned long nth)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        hid_t fapl = fapl_b(name, backing, 0600, 0);
        hid_t f = H5Fopen(name, H5F_ACC_RDWR, fapl);
        if (f < 0)
            _exit(2);
        put(f, 0, v, 1024);
        h5tier_fault_set(call, nth, 0, H5TIER_FAULT_KILL);
        _exit(H5Fclose(f) >= 0 ? 0 : 3);
    }
    return tu_wait(pid);
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "killed-writer"))
        return killed_writer(argv[2], argv[3], atoi(argv[4]), argv[5]);
    tu_h5_quiet();
    char *name = tu_shm_name("reopen");
    const char *backing = tu_path("backing.h5");

    session(name, backing, 0600, 1, 1, 0);
    CHECK(agree(name, backing) && backing_value(backing, 0) == 1);
    ino_t i0 = ino_of(backing);
    session(name, backing, 0600, 0, 0, 0);
    CHECKF(ino_of(backing) == i0, "a reopen that changed nothing rewrote the whole backing file");
    CHECK(agree(name, backing));
    session(name, backing, 0600, 0, 2, 1024);
    CHECKF(ino_of(backing) == i0, "a reopen that changed 4 KiB rewrote the whole backing file");
    CHECK(agree(name, backing) && backing_value(backing, 0) == 2 && backing_value(backing, 5000) == 1);
    tu_log("reopen: no change and 4 KiB change keep the backing file's inode");

    /* a writer killed with uncommitted changes in the object */
    const char *ready = tu_path("ready");
    pid_t pid = tu_spawn_self("killed-writer", name, backing, "3", ready, (char *)NULL);
    CHECKF(st_wait_file(ready, 60) == 0, "killed-writer never got ready");
    kill(pid, SIGKILL);
    tu_wait(pid);
    CHECK(backing_value(backing, 0) == 2); /* not committed */
    session(name, backing, 0600, 0, 0, 0);
    CHECKF(agree(name, backing) && backing_value(backing, 0) == 3 && backing_value(backing, NELEM / 2) == 1,
           "after a writer killed with uncommitted changes, the next close left the backing file behind");
    tu_log("killed writer: the next writer's close commits its changes");

    /* the backing file changed in place by someone else, same size */
    struct stat st;
    CHECK(stat(backing, &st) == 0);
    i0 = ino_of(backing);
    flip_byte(backing, st.st_size - 64);
    session(name, backing, 0600, 0, 0, 0);
    CHECKF(agree(name, backing) && ino_of(backing) != i0, "a backing file changed in place was trusted");
    /* the object changed with write(2) */
    i0 = ino_of(backing);
    flip_byte(st_shm_path(name), st.st_size - 64);
    session(name, backing, 0600, 0, 0, 0);
    CHECKF(agree(name, backing) && ino_of(backing) != i0, "an object changed with write(2) was trusted");
    /* a journal beside the backing file */
    i0 = ino_of(backing);
    char jpath[4200];
    snprintf(jpath, sizeof jpath, "%s.h5tier-journal", backing);
    FILE *jf = fopen(jpath, "w");
    CHECK(jf && fputs("H5TJRNL1torn", jf) >= 0 && fclose(jf) == 0);
    session(name, backing, 0600, 0, 0, 0);
    CHECKF(agree(name, backing) && ino_of(backing) != i0, "a reopen with a journal beside the file trusted the record");
    unlink(jpath);
    session(name, backing, 0600, 0, 0, 0); /* record again */
    tu_log("changed backing file, changed object, stray journal: full commit each time");

    /* a control object others may write is not believed (object 0640, its
     * control object 0660: what a writer with mode 0640 makes) */
    char cpath[600];
    snprintf(cpath, sizeof cpath, "%s/.%s.h5tier", st_shm_dir(), name);
    CHECK(chmod(st_shm_path(name), 0640) == 0 && chmod(cpath, 0660) == 0);
    i0 = ino_of(backing);
    session(name, backing, 0640, 0, 0, 0);
    CHECKF(ino_of(backing) != i0, "the record of a group-writable control object was believed");
    CHECK(agree(name, backing));
    CHECK(chmod(st_shm_path(name), 0600) == 0 && chmod(cpath, 0600) == 0);
    session(name, backing, 0600, 0, 0, 0); /* record again */

    /* kills at every step of a writer's close */
    const char *calls[] = {"pwrite", "fdatasync", "fsync", "rename", "ftruncate", "unlink", "open", "fstat", "close"};
    int kills = 0, v = 100;
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        for (unsigned long nth = 1; nth < 200; nth++) {
            v++;
            int s = killed_close(name, backing, v, calls[c], nth);
            CHECKF(s == 0 || s == 128 + SIGKILL, "close killed at %s #%lu: child exited %d", calls[c], nth, s);
            session(name, backing, 0600, 0, 0, 0);
            CHECKF(agree(name, backing), "after a kill at %s #%lu of a close, the next writer's close left the "
                   "backing file different from the object", calls[c], nth);
            CHECKF(backing_value(backing, 0) == v, "the change of a writer killed at %s #%lu was lost", calls[c], nth);
            if (s == 0)
                break;
            kills++;
        }
    }
    tu_log("%d writers killed during close: the backing file always ends equal to the object", kills);
    CHECK_OK(h5tier_shm_remove(name, 0));
    return 0;
}
