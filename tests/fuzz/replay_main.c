/*
 * Proves every input ever kept for a fuzz target (its seed corpus
 * tests/fuzz/corpus/<target>/ and the crashes found, tests/fuzz/regress/<target>/)
 * still passes the target's invariants, in an ordinary (gcc, or ASan) build:
 * each file is fed to LLVMFuzzerTestOneInput, which aborts on a violation.
 * Usage: replay_<target> DIR...   (files directly in each DIR)
 */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            FUZZ_CHECK(buf != NULL);
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d)
            continue; /* no regression inputs yet for this target */
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            if (replay_file(path) != 0)
                return 1;
            files++;
        }
        closedir(d);
    }
    if (files == 0) {
        fprintf(stderr, "no inputs found in the given directories\n");
        return 1;
    }
    printf("ok: %d inputs replayed without an invariant failure\n", files);
    return 0;
}
