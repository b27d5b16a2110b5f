/*
 * common/proc.c -- is a process alive, and is it still the same process?
 * A pid alone can be reused; the start time from /proc/PID/stat (field 22,
 * clock ticks since boot) tells a reused pid from the original.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/internal.h"

uint64_t h5tier__proc_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
    if (!p)
        return 0;
    unsigned long long start = 0;
    /* after ") " come fields 3..: state ppid pgrp session tty tpgid flags minflt cminflt majflt
       cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &start) != 1)
        return 0;
    return start;
}

bool h5tier__pid_alive(pid_t pid, uint64_t start_time)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return false;
    if (start_time == 0)
        return true;
    uint64_t now = h5tier__proc_start_time(pid);
    return now == 0 || now == start_time; /* 0: cannot tell (no /proc): assume alive */
}

bool h5tier__owner_claim(_Atomic int32_t *pid, _Atomic uint64_t *start, int32_t expect)
{
    pid_t me = getpid();
    uint64_t my_start = h5tier__proc_start_time(me);
    if (!atomic_compare_exchange_strong(pid, &expect, -(int32_t)me))
        return false;
    atomic_store(start, my_start);
    atomic_store_explicit(pid, (int32_t)me, memory_order_release);
    return true;
}

pid_t h5tier__owner_check(_Atomic int32_t *pid, _Atomic uint64_t *start, bool *alive)
{
    for (;;) {
        int32_t p = atomic_load_explicit(pid, memory_order_acquire);
        if (p == 0 || p == INT32_MIN) { /* INT32_MIN: garbage from shm (cannot be negated): nobody */
            *alive = false;
            return 0;
        }
        bool ok = p < 0 ? h5tier__pid_alive(-p, 0) : h5tier__pid_alive(p, atomic_load(start));
        /* a claim between our two loads pairs p with a newer start: look again */
        if (atomic_load_explicit(pid, memory_order_acquire) != p)
            continue;
        *alive = ok;
        return p < 0 ? -p : p;
    }
}
