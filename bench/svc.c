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
 *
 * -DTALK build (a service that logs): write the up marker as above, then
 * wait for SIGUSR1, so that the harness starts every talker at a moment of
 * its choosing; then write LINES lines of 100 bytes to stdout, PER_WRITE
 * lines per write(2), at RATE writes a second (0: as fast as the pipe
 * takes them); then write MARKDIR/talked/NAME ("START_NS END_NS") and wait
 * for SIGTERM like the default build.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "marks.h"

#ifndef MARKDIR
#error "compile with -DMARKDIR=\"/path\""
#endif
#ifndef LINES
#define LINES 100000
#endif
#ifndef PER_WRITE
#define PER_WRITE 40 /* 4,000 B: under PIPE_BUF, so writers sharing a pipe stay whole */
#endif
#ifndef RATE
#define RATE 0
#endif
#define LINE_BYTES 100

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
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/%s", MARKDIR, sub, name);
    put_file(path, text, append);
}

#ifdef TALK
/* Write all of BUF (a pipe may take part of it). */
static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(1, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static void talk(const char *name)
{
    static char buf[PER_WRITE * LINE_BYTES];
    for (int i = 0; i < PER_WRITE; i++) {
        char *line = buf + i * LINE_BYTES;
        memset(line, 'x', LINE_BYTES - 1);
        memcpy(line, name, strnlen(name, 40));
        line[LINE_BYTES - 1] = '\n';
    }
    /* Paced writes are due every 1/RATE s: a sleep must not overshoot by
     * the default 50 us of timer slack. */
    prctl(PR_SET_TIMERSLACK, 1UL);
    long long start = now_ns();
    for (long long w = 0; w < LINES / PER_WRITE; w++) {
        if (RATE > 0) {
            long long due = start + w * 1000000000LL / (RATE > 0 ? RATE : 1);
            struct timespec ts = {due / 1000000000LL, due % 1000000000LL};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
        write_all(buf, sizeof buf);
    }
    char text[64];
    snprintf(text, sizeof text, "%lld %lld\n", start, now_ns());
    mark("talked", name, text, 0);
}
#endif

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
    /* Whatever the supervisor left us, we want TERM (and a talker's USR1)
     * delivered to sigwait, blocked before the up marker tells the harness
     * it may send them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    signal(SIGTERM, SIG_DFL);
#ifdef TALK
    sigaddset(&set, SIGUSR1);
#endif
    sigprocmask(SIG_BLOCK, &set, NULL);

    snprintf(buf, sizeof buf, "%lld\n", now_ns());
    mark("up", name, buf, 0);

    int sig;
#ifdef TALK
    while (sigwait(&set, &sig) != 0)
        ;
    if (sig == SIGUSR1)
        talk(name);
    if (sig != SIGTERM)
#endif
        while (sigwait(&set, &sig) != 0 || sig != SIGTERM)
            ;
    snprintf(buf, sizeof buf, "%lld\n", now_ns());
    mark("term", name, buf, 0);
    return 0;
#endif
}
