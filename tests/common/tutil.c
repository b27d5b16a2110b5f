/*
 * tests/common/tutil.c -- see tutil.h.
 */
#include "tutil.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "h5tier.h"
#include "h5tier_sys.h"

#define MAX_NAMES 256
static char *names[MAX_NAMES];
static int nnames;
static char tmpdir[4096];
static pid_t owner_pid;

const char *tu_errtext(int err)
{
    static char buf[1400];
    snprintf(buf, sizeof buf, "%s; %s", h5tier_strerror(err), h5tier_errmsg());
    return buf;
}

void tu_die(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void tu_skip(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "SKIP: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(TU_SKIP);
}

void tu_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void cleanup(void)
{
    if (getpid() != owner_pid)
        return;
    for (int i = 0; i < nnames; i++) {
        char ctl[300], obj[300];
        /* through the library's table: the shm directory may be $H5TIER_SHM_DIR */
        snprintf(obj, sizeof obj, "/%s", names[i][0] == '/' ? names[i] + 1 : names[i]);
        h5tier_sys.shm_unlink(obj);
        snprintf(ctl, sizeof ctl, "/.%s.h5tier", names[i][0] == '/' ? names[i] + 1 : names[i]);
        h5tier_sys.shm_unlink(ctl);
    }
    if (tmpdir[0]) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    }
}

static void ensure_atexit(void)
{
    if (!owner_pid) {
        owner_pid = getpid();
        atexit(cleanup);
    }
}

void tu_shm_cleanup(const char *name)
{
    ensure_atexit();
    if (nnames < MAX_NAMES)
        names[nnames++] = strdup(name);
}

char *tu_shm_name(const char *tag)
{
    static int n;
    char buf[200];
    snprintf(buf, sizeof buf, "h5t-%s-%d-%d", tag, (int)getpid(), n++);
    tu_shm_cleanup(buf);
    return strdup(buf);
}

const char *tu_tmpdir(void)
{
    if (!tmpdir[0]) {
        ensure_atexit();
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/h5tier-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
            tu_die(__FILE__, __LINE__, "mkdtemp %s: %s", tmpdir, strerror(errno));
    }
    return tmpdir;
}

const char *tu_path(const char *name)
{
    static char bufs[8][4400];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tu_tmpdir(), name);
    return b;
}

const char *tu_cli(void)
{
    const char *c = getenv("H5TIER_CLI");
    return c && *c ? c : "h5tier";
}

const char *tu_python(void)
{
    const char *p = getenv("H5TIER_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

int tu_have_h5py(void) { return tu_sh(NULL, 0, "%s -c 'import h5py' 2>/dev/null", tu_python()) == 0; }

static int status_of(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

int tu_sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[16500];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        tu_die(__FILE__, __LINE__, "popen %s: %s", cmd, strerror(errno));
    size_t n = 0;
    char tmp[4096];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, p)) > 0) {
        if (out && n + 1 < outlen) {
            size_t c = r < outlen - 1 - n ? r : outlen - 1 - n;
            memcpy(out + n, tmp, c);
            n += c;
        }
    }
    if (out && outlen)
        out[n] = 0;
    return status_of(pclose(p));
}

int tu_in_mount_ns(char *out, size_t outlen, const char *mount_args, const char *child_args)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = 0;
    int st = tu_sh(out, outlen,
                   "unshare -m --propagation private sh -c "
                   "'mount %s 2>/dev/null || exit 77; exec \"$0\" %s' '%s'",
                   mount_args, child_args, exe);
    if (st == 1 && out && strstr(out, "unshare"))
        st = 77; /* unshare itself refused: no namespace here */
    return st;
}

pid_t tu_spawn_self(const char *arg0, ...)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = "self";
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        tu_die(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0) {
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int tu_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status_of(st);
}

int tu_wait_timeout(pid_t pid, double timeout_s)
{
    double end = tu_now() + timeout_s;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return status_of(st);
        if (r < 0 && errno != EINTR)
            return -1;
        if (tu_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(2000);
    }
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tu_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
