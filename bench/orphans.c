/*
 * orphans.c - orphan spawner for the reaping measure of bench.py.
 *
 * Run as a service (cwd = its service dir).  Compile-time settings:
 *   -DMARKDIR="..."   where the result goes (MARKDIR/reap/NAME)
 *   -DCOUNT=10000     how many orphans
 *   -DLIMIT_MS=10000  how long to wait for the zombies to go
 *   -DPAUSE_MS=1000   pause between creating the orphans and releasing them
 *
 * 1. Double-fork COUNT orphans: an intermediate child forks them all and
 *    exits (we reap it ourselves), so every orphan is reparented to PID 1 of
 *    the namespace.  The orphans block on a "release" pipe and each holds the
 *    write end of a "done" pipe.
 * 2. Pause PAUSE_MS, so that the release falls in the supervisor's steady
 *    state, not in its startup (runsvdir, for one, reaps on a timer that
 *    runs 1 s after its start, then every 5 s: released during startup, the
 *    orphans would be reaped by luck of phase).
 *    Close the release pipe: every orphan wakes and exits.  EOF on the done
 *    pipe means the last orphan has closed its files, i.e. is exiting: that
 *    is t_last.
 * 3. Meanwhile and after, poll (kill(pid, 0), which succeeds on a zombie)
 *    until every orphan pid is gone, i.e. reaped by PID 1, or LIMIT_MS passed
 *    since t_last: that is t_gone.
 * 4. Write "spawn_ns exit_ns reap_ns left" to MARKDIR/reap/NAME, where
 *    spawn_ns = time to create the orphans, exit_ns = release -> t_last,
 *    reap_ns = t_last -> t_gone, left = orphans still not reaped at the limit
 *    (0 when all went).  Then wait for SIGTERM (a supervisor must not see us
 *    exit, or it would restart us and spawn another batch).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "marks.h"

#ifndef MARKDIR
#error "compile with -DMARKDIR=\"/path\""
#endif
#ifndef COUNT
#define COUNT 10000
#endif
#ifndef LIMIT_MS
#define LIMIT_MS 10000
#endif
#ifndef PAUSE_MS
#define PAUSE_MS 1000
#endif

static void write_result(const char *text)
{
    char cwd[PATH_MAX], path[PATH_MAX + 64];
    const char *name = getcwd(cwd, sizeof cwd) ? strrchr(cwd, '/') + 1 : "orphans";
    snprintf(path, sizeof path, "%s/reap/%s", MARKDIR, name);
    put_file(path, text, 0);
}

int main(void)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_BLOCK, &term, NULL);

    /* The orphans' pids, then their count, written by the intermediate. */
    pid_t *pids = mmap(NULL, (COUNT + 1) * sizeof(pid_t), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int release[2], done[2];
    if (pids == MAP_FAILED || pipe(release) < 0 || pipe(done) < 0) {
        write_result("error setup\n");
        goto idle;
    }

    long long t0 = now_ns();
    pid_t mid = fork();
    if (mid == 0) {
        /* The intermediate: fork every orphan, then exit, so that they are
         * all reparented to PID 1 at once. */
        int n = 0;
        for (; n < COUNT; n++) {
            pid_t orphan = fork();
            if (orphan < 0)
                break;
            if (orphan == 0) {
                char c;
                close(release[1]);
                close(done[0]);
                while (read(release[0], &c, 1) < 0 && errno == EINTR)
                    ;
                _exit(0);
            }
            pids[n] = orphan;
        }
        pids[COUNT] = n;
        _exit(0);
    }
    int status;
    while (mid > 0 && waitpid(mid, &status, 0) < 0 && errno == EINTR)
        ;
    int made = mid > 0 ? pids[COUNT] : 0;
    long long t_spawned = now_ns();

    close(release[0]);
    close(done[1]);
    fcntl(done[0], F_SETFL, O_NONBLOCK);
    struct timespec pause = {PAUSE_MS / 1000, (PAUSE_MS % 1000) * 1000000L};
    while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
        ;
    long long t_release = now_ns();
    close(release[1]); /* go */

    /* Follow the reaping while the orphans exit, so that the scan of the
     * pids is mostly done by t_last and adds little after it. */
    long long t_last = 0, t_gone, deadline = t_release + LIMIT_MS * 1000000LL;
    int i = 0;
    struct timespec nap = {0, 20000}; /* 20 us between looks */
    for (;;) {
        while (i < made && kill(pids[i], 0) < 0 && errno == ESRCH)
            i++;
        t_gone = now_ns();
        if (!t_last) {
            char c;
            if (read(done[0], &c, 1) == 0) { /* EOF: the last orphan is exiting */
                t_last = now_ns();
                deadline = t_last + LIMIT_MS * 1000000LL;
                continue;
            }
        } else if (i == made) {
            break;
        }
        if (t_gone > deadline)
            break;
        nanosleep(&nap, NULL);
    }
    if (!t_last)
        t_last = t_gone; /* orphans did not all exit: counted in `left` */
    int left = 0;
    for (int j = i; j < made; j++)
        left += !(kill(pids[j], 0) < 0 && errno == ESRCH);

    char buf[160];
    if (made < COUNT)
        snprintf(buf, sizeof buf, "error made %d of %d\n", made, COUNT);
    else
        snprintf(buf, sizeof buf, "%lld %lld %lld %d\n", t_spawned - t0,
                 t_last - t_release, t_gone - t_last, left);
    write_result(buf);

idle:
    for (;;) {
        int sig;
        if (sigwait(&term, &sig) == 0 && sig == SIGTERM)
            return 0;
    }
}
