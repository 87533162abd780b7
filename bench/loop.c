/*
 * loop.c - the plain loop of bench.py: the least a PID 1 can do to start
 * a directory of services, the baseline for startup and for output.
 *
 *     loop SERVICES_DIR
 *
 * For each service dir, in name order: fork; in the child, signal mask
 * cleared, cd into the dir, new session, stdin from /dev/null, exec ./run
 * (stdout and stderr are the loop's own: services write straight into
 * whatever PID 1's output is).  Then wait: reap every child (services and
 * orphans); on SIGTERM, send TERM to every other process of the namespace
 * (kill(-1), as PID 1) and exit 0 once no child is left.  No restarts, no
 * logs, no control: only fork and exec, which is the cost a supervisor's
 * startup is compared with.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int is_service(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: loop SERVICES_DIR\n");
        return 2;
    }
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);

    struct dirent **names;
    int n = scandir(argv[1], &names, is_service, alphasort);
    if (n < 0) {
        perror(argv[1]);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", argv[1], names[i]->d_name);
        if (fork() == 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            int null = open("/dev/null", O_RDONLY);
            if (chdir(dir) < 0 || setsid() < 0 || null < 0 || dup2(null, 0) < 0)
                _exit(126);
            execl("./run", "./run", (char *)NULL);
            _exit(127);
        }
    }

    int stopping = 0, sig;
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM && !stopping) {
            stopping = 1;
            kill(-1, SIGTERM);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (stopping && waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
            return 0;
    }
}
