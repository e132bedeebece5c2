/*
 * c_tests/check.h: the assertion macros shared by libpybuf's plain C tests.
 *
 * Every CHECK* macro prints "file:line: ..." with the failing expression (and the values
 * it compared) to stderr and marks the test program failed; the program keeps going so
 * that one run reports every failure. main() ends with `return check_report();`, which
 * prints a summary line and returns 1 if any check failed.
 *
 * RUN(fn) runs one test case (a `static void fn(void)`) and counts it.
 *
 * Guarded memory: GUARDED(type, name, n) declares `type *name` pointing at n elements
 * with at least GUARD_BYTES bytes on each side, and a snapshot buffer. GUARD_INIT fills the whole
 * region (guards and data) with GUARD_BYTE; CHECK_GUARDS checks both guards; SNAPSHOT
 * saves the whole region and CHECK_UNCHANGED compares the whole region with it.
 */
#ifndef PYBUF_C_TESTS_CHECK_H
#define PYBUF_C_TESTS_CHECK_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pybuf.h"

static int check_failed_ = 0;
static long check_count_ = 0;
static int check_cases_ = 0;

#define CHECK_FAIL_(...)                                                                   \
    do {                                                                                   \
        fprintf(stderr, __VA_ARGS__);                                                      \
        check_failed_ = 1;                                                                 \
    } while (0)

/* CHECK(expr): expr is true. */
#define CHECK(expr)                                                                        \
    do {                                                                                   \
        ++check_count_;                                                                    \
        if (!(expr))                                                                       \
            CHECK_FAIL_("%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #expr);           \
    } while (0)

/* CHECK_MSG(text): pybuf_last_error() contains `text`. */
#define CHECK_MSG(text)                                                                    \
    do {                                                                                   \
        ++check_count_;                                                                    \
        if (strstr(pybuf_last_error(), (text)) == NULL)                                    \
            CHECK_FAIL_("%s:%d: pybuf_last_error() \"%s\" does not name \"%s\"\n",         \
                        __FILE__, __LINE__, pybuf_last_error(), (text));                   \
    } while (0)

/* CHECK_EQ(a, b): two integers are equal (compared as long long). */
#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long check_a_ = (long long)(a);                                               \
        long long check_b_ = (long long)(b);                                               \
        ++check_count_;                                                                    \
        if (check_a_ != check_b_)                                                          \
            CHECK_FAIL_("%s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", __FILE__,        \
                        __LINE__, #a, #b, check_a_, check_b_);                             \
    } while (0)

/* CHECK_PTR_EQ(a, b): two pointers are equal. */
#define CHECK_PTR_EQ(a, b)                                                                 \
    do {                                                                                   \
        const void *check_a_ = (const void *)(a);                                          \
        const void *check_b_ = (const void *)(b);                                          \
        ++check_count_;                                                                    \
        if (check_a_ != check_b_)                                                          \
            CHECK_FAIL_("%s:%d: CHECK_PTR_EQ(%s, %s) failed: %p != %p\n", __FILE__,        \
                        __LINE__, #a, #b, (void *)check_a_, (void *)check_b_);             \
    } while (0)

/* CHECK_STR_EQ(a, b): two C strings are equal (NULL equals only NULL). */
#define CHECK_STR_EQ(a, b)                                                                 \
    do {                                                                                   \
        const char *check_a_ = (a);                                                        \
        const char *check_b_ = (b);                                                        \
        ++check_count_;                                                                    \
        if (check_a_ == NULL || check_b_ == NULL                                           \
                ? check_a_ != check_b_                                                     \
                : strcmp(check_a_, check_b_) != 0)                                         \
            CHECK_FAIL_("%s:%d: CHECK_STR_EQ(%s, %s) failed: \"%s\" != \"%s\"\n",          \
                        __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(NULL)",        \
                        check_b_ ? check_b_ : "(NULL)");                                   \
    } while (0)

/* CHECK_MEM_EQ(a, b, n): n bytes are equal; reports the first differing offset. */
#define CHECK_MEM_EQ(a, b, n)                                                              \
    do {                                                                                   \
        ++check_count_;                                                                    \
        check_mem_eq_((const void *)(a), (const void *)(b), (size_t)(n), #a, #b,           \
                      __FILE__, __LINE__);                                                 \
    } while (0)

static inline void check_mem_eq_(const void *a, const void *b, size_t n, const char *ea,
                                 const char *eb, const char *file, int line) {
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;
    size_t i;
    for (i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            CHECK_FAIL_("%s:%d: CHECK_MEM_EQ(%s, %s, %lu) failed: byte %lu is 0x%02x, "
                        "expected 0x%02x\n",
                        file, line, ea, eb, (unsigned long)n, (unsigned long)i, x[i], y[i]);
            return;
        }
    }
}

/*
 * CHECK_LAST(status): pybuf_last_status() is `status`, and pybuf_last_error() is
 * non-NULL, empty after success and a non-empty message after a failure.
 */
#define CHECK_LAST(status)                                                                 \
    do {                                                                                   \
        check_count_ += 2;                                                                 \
        check_last_((status), #status, __FILE__, __LINE__);                                \
    } while (0)

static inline void check_last_(int expected, const char *expr, const char *file, int line) {
    int last = pybuf_last_status();
    const char *msg = pybuf_last_error();
    if (last != expected)
        CHECK_FAIL_("%s:%d: pybuf_last_status() is %d (%s), expected %s = %d; last error "
                    "\"%s\"\n",
                    file, line, last, pybuf_status_name(last), expr, expected,
                    msg ? msg : "(NULL)");
    if (msg == NULL)
        CHECK_FAIL_("%s:%d: pybuf_last_error() returned NULL\n", file, line);
    else if (expected == PYBUF_STATUS_OK && msg[0] != '\0')
        CHECK_FAIL_("%s:%d: pybuf_last_error() is \"%s\" after success\n", file, line, msg);
    else if (expected != PYBUF_STATUS_OK && msg[0] == '\0')
        CHECK_FAIL_("%s:%d: pybuf_last_error() is empty after %s\n", file, line, expr);
}

/*
 * CHECK_STATUS(call, status): call (evaluated once) returns `status`, and CHECK_LAST(status).
 */
#define CHECK_STATUS(call, status)                                                         \
    do {                                                                                   \
        int check_rc_ = (int)(call);                                                       \
        ++check_count_;                                                                    \
        if (check_rc_ != (int)(status))                                                    \
            CHECK_FAIL_("%s:%d: %s returned %d (%s), expected %s = %d; last error "        \
                        "\"%s\"\n",                                                        \
                        __FILE__, __LINE__, #call, check_rc_,                              \
                        pybuf_status_name(check_rc_), #status, (int)(status),              \
                        pybuf_last_error());                                               \
        CHECK_LAST(status);                                                                \
    } while (0)

/* Guarded memory. */
#define GUARD_BYTES 64
#define GUARD_BYTE 0xA5

/* The bytes of guard on each side for elements of `elsize` bytes: at least GUARD_BYTES,
   rounded up to whole elements (so that the data stays aligned). */
#define GUARD_SPAN_(elsize) ((GUARD_BYTES + (elsize) - 1) / (elsize) * (elsize))

#define GUARDED(type, name, n)                                                             \
    type name##_region_[2 * (GUARD_SPAN_(sizeof(type)) / sizeof(type)) + (n)];             \
    unsigned char name##_snap_[sizeof(name##_region_)];                                    \
    type *name = name##_region_ + GUARD_SPAN_(sizeof(type)) / sizeof(type);                \
    (void)name##_snap_

/* Fill the whole region, guards and data, with GUARD_BYTE. */
#define GUARD_INIT(name) memset(name##_region_, GUARD_BYTE, sizeof(name##_region_))

#define CHECK_GUARDS(name)                                                                 \
    do {                                                                                   \
        ++check_count_;                                                                    \
        check_guards_((const unsigned char *)name##_region_, sizeof(name##_region_),       \
                      GUARD_SPAN_(sizeof(name##_region_[0])), #name, __FILE__, __LINE__);  \
    } while (0)

static inline void check_guards_(const unsigned char *region, size_t size, size_t guard,
                                 const char *name, const char *file, int line) {
    size_t i;
    for (i = 0; i < guard; i++) {
        if (region[i] != GUARD_BYTE) {
            CHECK_FAIL_("%s:%d: guard before %s overwritten at byte %ld: 0x%02x\n", file,
                        line, name, (long)i - (long)guard, region[i]);
            return;
        }
        if (region[size - guard + i] != GUARD_BYTE) {
            CHECK_FAIL_("%s:%d: guard after %s overwritten at byte %lu past its end: 0x%02x\n",
                        file, line, name, (unsigned long)i, region[size - guard + i]);
            return;
        }
    }
}

/* Save the whole region (guards and data). */
#define SNAPSHOT(name) memcpy(name##_snap_, name##_region_, sizeof(name##_region_))

/* The whole region equals its snapshot: nothing was written, not even a guard. */
#define CHECK_UNCHANGED(name)                                                              \
    do {                                                                                   \
        ++check_count_;                                                                    \
        check_mem_eq_(name##_region_, name##_snap_, sizeof(name##_region_),                \
                      #name " (region)", "its snapshot", __FILE__, __LINE__);              \
    } while (0)

/* Run one test case. */
#define RUN(fn)                                                                            \
    do {                                                                                   \
        int check_before_ = check_failed_;                                                 \
        check_failed_ = 0;                                                                 \
        ++check_cases_;                                                                    \
        fn();                                                                              \
        if (check_failed_)                                                                 \
            fprintf(stderr, "FAILED: %s\n", #fn);                                          \
        check_failed_ |= check_before_;                                                    \
    } while (0)

/* Print the summary; the exit status for main: 0 if every check passed, else 1. */
#define check_report() check_report_(__FILE__)

static inline int check_report_(const char *file) {
    printf("%s: %d cases, %ld checks: %s\n", file, check_cases_, check_count_,
           check_failed_ ? "FAILED" : "ok");
    return check_failed_ ? 1 : 0;
}

/*
 * A view over `buf`: len is product(shape) * itemsize (itemsize for ndim 0). Fields not
 * given are NULL/0; tests change fields afterwards to build malformed views.
 */
static inline pybuf_buffer make_view(void *buf, pybuf_ssize_t itemsize, int ndim,
                                     pybuf_ssize_t *shape, pybuf_ssize_t *strides,
                                     pybuf_ssize_t *suboffsets) {
    pybuf_buffer v;
    /* unsigned, so that the huge shapes of the overflow tests wrap instead of being
       undefined; those tests set len themselves */
    unsigned long long len = (unsigned long long)itemsize;
    int i;
    for (i = 0; i < ndim; i++)
        len *= (unsigned long long)shape[i];
    memset(&v, 0, sizeof v);
    v.buf = buf;
    v.len = (pybuf_ssize_t)len;
    v.itemsize = itemsize;
    v.ndim = ndim;
    v.shape = shape;
    v.strides = strides;
    v.suboffsets = suboffsets;
    return v;
}

/* Provoke a failure so that a following success must reset the thread's last error. */
static inline void check_provoke_error_(void) {
    pybuf_fill_contiguous_strides(-1, NULL, NULL, 1, 'C');
}
#define PROVOKE_ERROR()                                                                    \
    do {                                                                                   \
        check_provoke_error_();                                                            \
        CHECK_LAST(PYBUF_STATUS_INVALID_NDIM);                                             \
    } while (0)

#endif /* PYBUF_C_TESTS_CHECK_H */
