/*
 * Proves that a writer may create a shm file shared with its group or with
 * everyone (mode 0640, 0644, 0660, 0666), with and without a backing file,
 * and that a reader then opens it: the control object, made before the data
 * object with the mode asked for, is trusted because it is the caller's own
 * (found by the sigbus and perfshm passes: a backed create with mode 0644
 * was refused as "writable by others but not readable by them (mode 0000)").
 * The objects get exactly the requested mode; the data reads back.
 */
#include <sys/stat.h>

#include "shmtest.h"

static void one(mode_t mode, int backed)
{
    char tag[64];
    snprintf(tag, sizeof tag, "modes-%o-%d", (unsigned)mode, backed);
    char *name = tu_shm_name(tag);
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.mode = mode;
    if (backed)
        snprintf(cfg.backing_file, sizeof cfg.backing_file, "%s", tu_path(tag));
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    CHECK(H5Pset_fapl_shm(fapl, &cfg) >= 0);
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    CHECKF(f >= 0, "mode %04o backed %d: create refused: %s", (unsigned)mode, backed, st_errstack());
    int v[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w[8] = {0};
    hsize_t n = 8;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "d", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    CHECK(H5Fclose(f) >= 0);
    struct stat st;
    CHECK(stat(st_shm_path(name), &st) == 0);
    CHECKF((st.st_mode & 0777) == mode, "object mode %04o, asked %04o", (unsigned)(st.st_mode & 0777), (unsigned)mode);
    f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    CHECKF(f >= 0, "mode %04o backed %d: reader refused: %s", (unsigned)mode, backed, st_errstack());
    d = H5Dopen2(f, "d", H5P_DEFAULT);
    CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
    for (int i = 0; i < 8; i++)
        CHECK(w[i] == v[i]);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);
}

int main(void)
{
    tu_h5_quiet();
    const mode_t modes[] = {0600, 0640, 0644, 0660, 0666};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        for (int backed = 0; backed < 2; backed++)
            one(modes[i], backed);
    printf("test_shm_shared_modes: ok\n");
    return 0;
}
