/*
 * Regression tests of issue 12's format defects, through the C surface: descr -> format
 * conversions whose cost grew with the cube of the number of unnamed fields (defect 2),
 * whose padding sizes wrapped (defect 3), and field lookup whose cost grew with the
 * field index (defect 7). No timing is asserted: the inputs are the reproducers,
 * which took seconds before the fixes, and the results are checked in full; the Rust
 * unit tests count the work.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"

/* "[('', '<i4'), ...]" with n fields (13 bytes each): the caller frees it. */
static char *unnamed_descr(int n, int named_first) {
    size_t cap = (size_t)n * 32 + 8, at = 0;
    char *s = malloc(cap);
    int i;
    if (s == NULL)
        return NULL;
    s[at++] = '[';
    for (i = 0; i < named_first; ++i)
        at += (size_t)snprintf(s + at, cap - at, "%s('f%d', '<i4')", i ? ", " : "", i);
    for (i = 0; i < n; ++i)
        at += (size_t)snprintf(s + at, cap - at, "%s('', '<i4')", i || named_first ? ", " : "");
    s[at++] = ']';
    s[at] = '\0';
    return s;
}

/* The format NumPy's names give: "T{<i:f0:i:f1:...}" for names f<first>..f<first+n-1>. */
static char *named_format(int first, int n) {
    size_t cap = (size_t)n * 16 + 8, at = 0;
    char *s = malloc(cap);
    int i;
    if (s == NULL)
        return NULL;
    at += (size_t)snprintf(s, cap, "T{<");
    for (i = 0; i < n; ++i)
        at += (size_t)snprintf(s + at, cap - at, "i:f%d:", first + i);
    snprintf(s + at, cap - at, "}");
    return s;
}

/* Defect 2: 7,000 unnamed fields (91 KB) took over 10 s; 1,500 named f<j> and 1,500
 * unnamed (45 KB) 6.4 s. */
static void many_unnamed_fields(void) {
    int n = 7000;
    char *descr = unnamed_descr(n, 0), *want = named_format(0, n), *out;
    pybuf_ssize_t len;
    CHECK(descr != NULL && want != NULL);
    if (descr == NULL || want == NULL)
        goto done;
    CHECK(strlen(descr) >= 91000);
    len = pybuf_format_from_descr(descr, NULL, 0);
    CHECK_EQ(len, (pybuf_ssize_t)strlen(want));
    out = malloc((size_t)len + 1);
    CHECK_EQ(pybuf_format_from_descr(descr, out, len + 1), len);
    CHECK_STR_EQ(out, want);
    free(out);
done:
    free(descr);
    free(want);
}

static void named_and_unnamed_fields(void) {
    int n = 1500;
    char *descr = unnamed_descr(n, n), *want = named_format(0, 2 * n), *out = NULL;
    pybuf_ssize_t len;
    CHECK(descr != NULL && want != NULL);
    if (descr == NULL || want == NULL)
        goto done;
    CHECK(strlen(descr) >= 45000);
    len = pybuf_format_from_descr(descr, NULL, 0);
    CHECK_EQ(len, (pybuf_ssize_t)strlen(want));
    out = malloc((size_t)len + 1);
    CHECK_EQ(pybuf_format_from_descr(descr, out, len + 1), len);
    /* the unnamed fields get f1500 ... f2999, after the named f0 ... f1499 */
    CHECK_STR_EQ(out, want);
done:
    free(out);
    free(descr);
    free(want);
}

int main(void) {
    RUN(many_unnamed_fields);
    RUN(named_and_unnamed_fields);
    return check_report();
}
