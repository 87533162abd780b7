/*
 * marks.h - what the C helpers of bench.py share: the clock they stamp
 * with, and how they leave a file for the harness to read.
 */
#ifndef MARKS_H
#define MARKS_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CLOCK_MONOTONIC in ns: the harness's time.monotonic_ns(). */
static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Write TEXT to PATH, appended when APPEND, else whole: written to a temp
 * name and renamed, so that a reader never sees half of it. */
static void put_file(const char *path, const char *text, int append)
{
    char tmp[PATH_MAX + 80]; /* room for the callers' PATH_MAX + 64 */
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

#endif
