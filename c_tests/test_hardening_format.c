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

/* Defect 3: the size of padding with a shape wrapped: (2**61,) of '|V8' gave "T{<i:a:}"
 * (no padding at all), (2**61 + 1,) gave "T{<i:a:8x}". */
static void padding_sizes_do_not_wrap(void) {
    static const char *const descrs[] = {
        "[('a','<i4'),('','|V8',(2305843009213693952,))]",
        "[('a','<i4'),('','|V8',(2305843009213693953,))]",
        "[('a','<i4'),('','|V2',(4611686018427387904, 2))]",
        "[('a','<i4'),('b','<i4',(2305843009213693952,))]",
    };
    size_t i;
    for (i = 0; i < sizeof descrs / sizeof descrs[0]; ++i) {
        char out[256];
        memset(out, 0x5a, sizeof out);
        CHECK_EQ(pybuf_format_from_descr(descrs[i], out, sizeof out), PYBUF_STATUS_OVERFLOW);
        CHECK_LAST(PYBUF_STATUS_OVERFLOW);
        CHECK(strstr(pybuf_last_error(), descrs[i]) != NULL);
        CHECK_EQ(out[0], 0x5a); /* nothing written */
        CHECK_EQ(pybuf_format_from_descr(descrs[i], NULL, 0), PYBUF_STATUS_OVERFLOW);
    }
}

/* Defect 7: on "100000000T{id}" (1.6 GB items), pybuf_get_item took 1.2 s to refuse
 * field == pybuf_item_fields(view): the lookup walked every value before the field. The
 * memory is reserved, never touched but for the pages read (zero). */
static void field_lookup_among_huge_repeat_counts(void) {
    const pybuf_ssize_t itemsize = (pybuf_ssize_t)100000000 * 16;
    pybuf_buffer v;
    pybuf_value out;
    pybuf_ssize_t fields;
    void *mem = mmap(NULL, (size_t)itemsize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        printf("field_lookup_among_huge_repeat_counts skipped: no 1.6 GB address range\n");
        return;
    }
    memset(&v, 0, sizeof v);
    v.buf = mem;
    v.len = itemsize;
    v.itemsize = itemsize;
    v.readonly = 1;
    v.ndim = 0;
    v.format = (char *)"100000000T{id}";
    fields = pybuf_item_fields(&v);
    CHECK_EQ(fields, 200000000);
    memset(&out, 0x5a, sizeof out);
    CHECK_STATUS(pybuf_get_item(&v, NULL, fields, &out), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK(strstr(pybuf_last_error(), "field = 200000000 is out of range") != NULL);
    CHECK_EQ(out.kind, 0x5a5a5a5a); /* untouched */
    CHECK_STATUS(pybuf_get_item(&v, NULL, fields - 1, &out), PYBUF_STATUS_OK);
    CHECK_EQ(out.kind, PYBUF_VALUE_DOUBLE);
    CHECK(out.real == 0.0);
    CHECK_STATUS(pybuf_get_item(&v, NULL, fields - 2, &out), PYBUF_STATUS_OK);
    CHECK_EQ(out.kind, PYBUF_VALUE_INT);
    CHECK_EQ(out.i, 0);
    munmap(mem, (size_t)itemsize);
}

int main(void) {
    RUN(many_unnamed_fields);
    RUN(named_and_unnamed_fields);
    RUN(padding_sizes_do_not_wrap);
    RUN(field_lookup_among_huge_repeat_counts);
    return check_report();
}
