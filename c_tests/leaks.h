/* Counting what a test may leave behind: open file descriptors and mappings of a file.
 * For the tests of files, pipes, mappings and archives (include after check.h, with
 * _POSIX_C_SOURCE 200809L defined). */
#ifndef PYBUF_C_TESTS_LEAKS_H
#define PYBUF_C_TESTS_LEAKS_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

/* The open fds of this process (the entries of /proc/self/fd, less the directory's own). */
static inline int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

/* The lines of /proc/self/maps that map `file`. */
static inline int count_maps(const char *file) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int n = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, file) != NULL;
    fclose(f);
    return n;
}

#endif
