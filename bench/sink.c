/*
 * sink.c - the reader at the end of the log throughput measure of bench.py.
 *
 *     sink EXPECTED_LINES RESULT_FILE  < pipe
 *
 * Stands for the container runtime reading PID 1's stdout: reads its stdin
 * in 64 KiB reads and counts newlines.  When EXPECTED_LINES have arrived it
 * writes "NOW_NS LINES BYTES" (CLOCK_MONOTONIC) to RESULT_FILE (via a temp
 * name and rename, so a reader never sees half of it), then reads on to end
 * of file so that no writer ever blocks or gets SIGPIPE; at end of file it
 * writes the final counts there again.  Written in C so that the reader
 * costs little of the 2 cores next to the writers being measured.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "marks.h"

static void result(const char *path, long long lines, long long bytes)
{
    char text[96];
    snprintf(text, sizeof text, "%lld %lld %lld\n", now_ns(), lines, bytes);
    put_file(path, text, 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sink EXPECTED_LINES RESULT_FILE\n");
        return 2;
    }
    long long expected = atoll(argv[1]), lines = 0, bytes = 0;
    int reported = 0;
    static char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        bytes += n;
        for (char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
            lines++;
        if (!reported && lines >= expected) {
            result(argv[2], lines, bytes);
            reported = 1;
        }
    }
    if (!reported)
        result(argv[2], lines, bytes);
    return 0;
}
