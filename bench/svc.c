/*
 * svc.c - the service used by bench.py, one small process per service.
 *
 * bench.py compiles it into a temp dir and hard-links the binary as the
 * `run` file of every service directory, so a supervisor starts it the way
 * it would start any run script (cwd = the service dir).  It is a compiled
 * program rather than a shell script so that the cost of the services
 * themselves stays small next to the supervisor being measured.
 *
 * The service's name is the basename of its working directory.  MARKDIR is
 * fixed at compile time (-DMARKDIR="...").
 *
 * Default build: write MARKDIR/up/NAME holding the CLOCK_MONOTONIC time of
 * the start in ns (written to a temp name, then renamed, so a reader never
 * sees a half-written file), then wait for SIGTERM; on SIGTERM write
 * MARKDIR/term/NAME and exit 0 at once.
 *
 * -DCRASH build: append "START_NS EXIT_NS\n" to MARKDIR/starts/NAME and
 * exit 1 at once (a service in a crash loop).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef MARKDIR
#error "compile with -DMARKDIR=\"/path\""
#endif

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *service_name(void)
{
    static char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return "unknown";
    char *slash = strrchr(cwd, '/');
    return slash ? slash + 1 : cwd;
}

/* Write TEXT to MARKDIR/SUB/NAME; atomically (via rename) unless APPEND. */
static void mark(const char *sub, const char *name, const char *text, int append)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/%s/%s", MARKDIR, sub, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = append ? open(path, O_WRONLY | O_CREAT | O_APPEND, 0644)
                    : open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    ssize_t ignored = write(fd, text, strlen(text));
    (void)ignored;
    close(fd);
    if (!append)
        rename(tmp, path);
}

int main(void)
{
    char buf[64];
    const char *name = service_name();
#ifdef CRASH
    long long start = now_ns();
    snprintf(buf, sizeof buf, "%lld %lld\n", start, now_ns());
    mark("starts", name, buf, 1);
    return 1;
#else
    /* Whatever the supervisor left us, we want TERM delivered to sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_BLOCK, &set, NULL);

    snprintf(buf, sizeof buf, "%lld\n", now_ns());
    mark("up", name, buf, 0);

    int sig;
    while (sigwait(&set, &sig) != 0 || sig != SIGTERM)
        ;
    snprintf(buf, sizeof buf, "%lld\n", now_ns());
    mark("term", name, buf, 0);
    return 0;
#endif
}
