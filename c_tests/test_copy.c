/*
 * pybuf_to_contiguous, pybuf_from_contiguous and pybuf_copy: orders, strides (negative,
 * zero), suboffsets, 0-d and empty views, overlapping memory, and every error path with
 * the destination (and guard bytes around it) untouched.
 *
 * Arrays hold doubles with small integer values, so comparisons are exact; a 3x4 array
 * `a` is a[i][j] = 10 * i + j.
 */
#include <stdint.h>

#include "check.h"

#define CHECK_DOUBLES(got, want, n)                                                        \
    do {                                                                                   \
        ++check_count_;                                                                    \
        check_doubles_((got), (want), (n), #got, __FILE__, __LINE__);                      \
    } while (0)

static void check_doubles_(const double *got, const double *want, size_t n, const char *what,
                           const char *file, int line) {
    size_t k;
    for (k = 0; k < n; k++) {
        if (memcmp(&got[k], &want[k], sizeof(double)) != 0) {
            CHECK_FAIL_("%s:%d: %s[%lu] is %g, expected %g\n", file, line, what,
                        (unsigned long)k, got[k], want[k]);
            return;
        }
    }
}

/* a[i][j] = 10 i + j, C order, into d[0..12) */
static void fill_a(double *d) {
    int i, j;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            d[i * 4 + j] = 10 * i + j;
}

static void iota(double *d, int n, double start) {
    int k;
    for (k = 0; k < n; k++)
        d[k] = start + k;
}

static const double A_C[12] = {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23};
static const double A_F[12] = {0, 10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23};

/* ---------------------------------------------------------------- to_contiguous */

/* to_contiguous(src, order) into a guarded buffer gives `want` (n doubles). */
static void check_to(int line, const pybuf_buffer *src, char order, const double *want,
                     size_t n) {
    GUARDED(double, out, 64);
    GUARD_INIT(out);
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_to_contiguous(out, src, (pybuf_ssize_t)(n * sizeof(double)), order),
                 PYBUF_STATUS_OK);
    if (memcmp(out, want, n * sizeof(double)) != 0)
        fprintf(stderr, "  (from line %d, order '%c')\n", line, order);
    CHECK_DOUBLES(out, want, n);
    /* nothing written past n doubles */
    {
        unsigned char tail[64 * sizeof(double)];
        memset(tail, GUARD_BYTE, sizeof tail);
        CHECK_MEM_EQ(&out[n], tail, (64 - n) * sizeof(double));
    }
    CHECK_GUARDS(out);
}

static void to_contiguous_c_view(void) {
    double a[12];
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {32, 8};
    pybuf_buffer v = make_view(a, 8, 2, shape, strides, NULL);
    fill_a(a);
    check_to(__LINE__, &v, 'C', A_C, 12);
    check_to(__LINE__, &v, 'F', A_F, 12);
    check_to(__LINE__, &v, 'A', A_C, 12);
    /* NULL strides (C-contiguous) in each order */
    v.strides = NULL;
    check_to(__LINE__, &v, 'C', A_C, 12);
    check_to(__LINE__, &v, 'F', A_F, 12);
    check_to(__LINE__, &v, 'A', A_C, 12);
}

static void to_contiguous_transpose(void) {
    /* the transpose t of a: 4x3, t[i][j] = a[j][i], F-contiguous */
    double a[12];
    pybuf_ssize_t shape[2] = {4, 3}, strides[2] = {8, 32};
    pybuf_buffer t = make_view(a, 8, 2, shape, strides, NULL);
    fill_a(a);
    check_to(__LINE__, &t, 'C', A_F, 12); /* t in C order is a in F order */
    check_to(__LINE__, &t, 'F', A_C, 12);
    check_to(__LINE__, &t, 'A', A_C, 12); /* 'A' keeps an F-contiguous view as it lies */
}

static void to_contiguous_strided(void) {
    /* columns 0 and 2 of a: 3x2, strides {32, 16} */
    double a[12];
    pybuf_ssize_t shape[2] = {3, 2}, strides[2] = {32, 16};
    pybuf_buffer v = make_view(a, 8, 2, shape, strides, NULL);
    const double c[6] = {0, 2, 10, 12, 20, 22}, f[6] = {0, 10, 20, 2, 12, 22};
    fill_a(a);
    check_to(__LINE__, &v, 'C', c, 6);
    check_to(__LINE__, &v, 'F', f, 6);
    check_to(__LINE__, &v, 'A', c, 6); /* not contiguous: 'A' means C */
}

static void to_contiguous_negative_strides(void) {
    double a[12];
    pybuf_ssize_t shape[2] = {3, 4}, rows[2] = {-32, 8}, both[2] = {-32, -8};
    pybuf_buffer v = make_view(&a[8], 8, 2, shape, rows, NULL);
    const double rows_c[12] = {20, 21, 22, 23, 10, 11, 12, 13, 0, 1, 2, 3};
    const double rows_f[12] = {20, 10, 0, 21, 11, 1, 22, 12, 2, 23, 13, 3};
    const double both_c[12] = {23, 22, 21, 20, 13, 12, 11, 10, 3, 2, 1, 0};
    const double both_f[12] = {23, 13, 3, 22, 12, 2, 21, 11, 1, 20, 10, 0};
    fill_a(a);
    check_to(__LINE__, &v, 'C', rows_c, 12);
    check_to(__LINE__, &v, 'F', rows_f, 12);
    check_to(__LINE__, &v, 'A', rows_c, 12);
    v.buf = &a[11];
    v.strides = both;
    check_to(__LINE__, &v, 'C', both_c, 12);
    check_to(__LINE__, &v, 'F', both_f, 12);
}

static void to_contiguous_broadcast(void) {
    /* a zero stride in the source: row 1 repeated three times */
    double a[12];
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {0, 8};
    pybuf_buffer v = make_view(&a[4], 8, 2, shape, strides, NULL);
    const double c[12] = {10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13};
    const double f[12] = {10, 10, 10, 11, 11, 11, 12, 12, 12, 13, 13, 13};
    fill_a(a);
    check_to(__LINE__, &v, 'C', c, 12);
    check_to(__LINE__, &v, 'F', f, 12);
}

static void to_contiguous_three_d(void) {
    /* b[i][j][k] = 100 i + 10 j + k stored in F order (strides {8, 16, 48}) */
    double b[24], c[24], f[24];
    pybuf_ssize_t shape[3] = {2, 3, 4}, strides[3] = {8, 16, 48};
    pybuf_buffer v = make_view(b, 8, 3, shape, strides, NULL);
    int i, j, k;
    for (i = 0; i < 2; i++)
        for (j = 0; j < 3; j++)
            for (k = 0; k < 4; k++) {
                b[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
                c[12 * i + 4 * j + k] = 100 * i + 10 * j + k;
                f[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
            }
    check_to(__LINE__, &v, 'C', c, 24);
    check_to(__LINE__, &v, 'F', f, 24);
    check_to(__LINE__, &v, 'A', f, 24);
}

static void to_contiguous_zero_d_and_empty(void) {
    double a[12];
    const double eleven[1] = {11};
    pybuf_buffer v = make_view(&a[5], 8, 0, NULL, NULL, NULL);
    fill_a(a);
    check_to(__LINE__, &v, 'C', eleven, 1);
    check_to(__LINE__, &v, 'F', eleven, 1);
    check_to(__LINE__, &v, 'A', eleven, 1);
    {
        /* empty: nothing written, dst may be NULL */
        pybuf_ssize_t shape[2] = {0, 4}, strides[2] = {-7, 3};
        pybuf_buffer e = make_view(a, 8, 2, shape, strides, NULL);
        GUARDED(double, out, 4);
        GUARD_INIT(out);
        SNAPSHOT(out);
        CHECK_STATUS(pybuf_to_contiguous(out, &e, 0, 'C'), PYBUF_STATUS_OK);
        CHECK_UNCHANGED(out);
        CHECK_STATUS(pybuf_to_contiguous(out, &e, 0, 'F'), PYBUF_STATUS_OK);
        CHECK_UNCHANGED(out);
        CHECK_STATUS(pybuf_to_contiguous(NULL, &e, 0, 'A'), PYBUF_STATUS_OK);
        e.buf = NULL;
        CHECK_STATUS(pybuf_to_contiguous(NULL, &e, 0, 'C'), PYBUF_STATUS_OK);
    }
}

static void to_contiguous_odd_itemsize(void) {
    /* itemsize 3: items "abc" "def" ... ; take every other item, then reversed */
    char s[25] = "abcdefghijklmnopqrstuvwx";
    pybuf_ssize_t shape[1] = {4}, every_other[1] = {6}, reversed[1] = {-3};
    pybuf_buffer v = make_view(s, 3, 1, shape, every_other, NULL);
    GUARDED(char, out, 12);
    GUARD_INIT(out);
    CHECK_STATUS(pybuf_to_contiguous(out, &v, 12, 'C'), PYBUF_STATUS_OK);
    CHECK_MEM_EQ(out, "abcghimnostu", 12);
    CHECK_GUARDS(out);
    v.buf = s + 21;
    v.strides = reversed;
    CHECK_STATUS(pybuf_to_contiguous(out, &v, 12, 'F'), PYBUF_STATUS_OK);
    CHECK_MEM_EQ(out, "vwxstupqrmno", 12);
    CHECK_GUARDS(out);
}

/* A PIL-style 3x4 image of doubles: row i lives in rows_store[2 - i], after a 2-double
   header; row_ptrs[i] points to the header, and suboffset 16 skips it. */
static double rows_store[3][6];
static double *row_ptrs[3];
static pybuf_ssize_t pil_shape[2] = {3, 4};
static pybuf_ssize_t pil_strides[2] = {(pybuf_ssize_t)sizeof(double *), 8};
static pybuf_ssize_t pil_subs[2] = {16, -1};

static pybuf_buffer pil_view(void) {
    int i;
    memset(rows_store, GUARD_BYTE, sizeof rows_store);
    for (i = 0; i < 3; i++)
        row_ptrs[i] = rows_store[2 - i];
    return make_view(row_ptrs, 8, 2, pil_shape, pil_strides, pil_subs);
}

/* element (i, j) of the PIL image */
#define PIL(i, j) rows_store[2 - (i)][2 + (j)]

static void to_contiguous_suboffsets(void) {
    pybuf_buffer v = pil_view();
    int i, j;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            PIL(i, j) = 10 * i + j;
    check_to(__LINE__, &v, 'C', A_C, 12);
    check_to(__LINE__, &v, 'F', A_F, 12);
    check_to(__LINE__, &v, 'A', A_C, 12);
    {
        /* a suboffset in the last dimension: an array of pointers to doubles */
        static double items[3] = {7, 8, 9};
        double *ptrs[3];
        pybuf_ssize_t shape[1] = {3}, strides[1] = {(pybuf_ssize_t)sizeof(double *)},
                      subs[1] = {0};
        pybuf_buffer p = make_view(ptrs, 8, 1, shape, strides, subs);
        const double want[3] = {9, 7, 8};
        ptrs[0] = &items[2];
        ptrs[1] = &items[0];
        ptrs[2] = &items[1];
        check_to(__LINE__, &p, 'C', want, 3);
        check_to(__LINE__, &p, 'A', want, 3);
    }
}

static void to_contiguous_overlap(void) {
    /* dst is the very memory of src: an in-place transpose of a (as t in C order) */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {4, 3}, strides[2] = {8, 32};
        pybuf_buffer t = make_view(m, 8, 2, shape, strides, NULL);
        GUARD_INIT(m);
        fill_a(m);
        CHECK_STATUS(pybuf_to_contiguous(m, &t, 96, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, A_F, 12);
        CHECK_GUARDS(m);
    }
    /* an in-place reversal: src reads m backwards, dst is m */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {12}, strides[1] = {-8};
        pybuf_buffer r = make_view(NULL, 8, 1, shape, strides, NULL);
        double want[12];
        int k;
        GUARD_INIT(m);
        iota(m, 12, 0);
        for (k = 0; k < 12; k++)
            want[k] = 11 - k;
        r.buf = &m[11];
        CHECK_STATUS(pybuf_to_contiguous(m, &r, 96, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* dst shifted into src: src is m[0..10), dst is m[2..12) */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {10};
        pybuf_buffer s = make_view(NULL, 8, 1, shape, NULL, NULL);
        const double want[12] = {0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        GUARD_INIT(m);
        iota(m, 12, 0);
        s.buf = m;
        CHECK_STATUS(pybuf_to_contiguous(&m[2], &s, 80, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* strided: src is the odd elements of m, dst is m[6..12) */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {6}, strides[1] = {16};
        pybuf_buffer s = make_view(NULL, 8, 1, shape, strides, NULL);
        const double want[12] = {0, 1, 2, 3, 4, 5, 1, 3, 5, 7, 9, 11};
        GUARD_INIT(m);
        iota(m, 12, 0);
        s.buf = &m[1];
        CHECK_STATUS(pybuf_to_contiguous(&m[6], &s, 48, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
}

/* to_contiguous(dst = guarded buffer, src, len, order) fails with `status`, dst untouched. */
static void check_to_fails(int line, const pybuf_buffer *src, pybuf_ssize_t len, char order,
                           int status) {
    GUARDED(double, out, 16);
    int failed_before = check_failed_;
    GUARD_INIT(out);
    iota(out, 16, 500);
    SNAPSHOT(out);
    check_failed_ = 0;
    CHECK_STATUS(pybuf_to_contiguous(out, src, len, order), status);
    CHECK_UNCHANGED(out);
    if (check_failed_)
        fprintf(stderr, "  (from line %d)\n", line);
    check_failed_ |= failed_before;
}

static void to_contiguous_errors(void) {
    double a[12];
    pybuf_ssize_t shape[65], strides[65];
    pybuf_buffer v;
    int i;
    fill_a(a);
    for (i = 0; i < 65; i++) {
        shape[i] = 1;
        strides[i] = 8;
    }
    shape[0] = 3;
    shape[1] = 4;
    strides[0] = 32;
    v = make_view(a, 8, 2, shape, strides, NULL);

    /* NULL pointers */
    check_to_fails(__LINE__, NULL, 96, 'C', PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_to_contiguous(NULL, &v, 96, 'C'), PYBUF_STATUS_NULL_POINTER);
    /* len disagreeing with src->len */
    check_to_fails(__LINE__, &v, 95, 'C', PYBUF_STATUS_LENGTH_MISMATCH);
    check_to_fails(__LINE__, &v, 97, 'C', PYBUF_STATUS_LENGTH_MISMATCH);
    check_to_fails(__LINE__, &v, 0, 'C', PYBUF_STATUS_LENGTH_MISMATCH);
    check_to_fails(__LINE__, &v, -1, 'F', PYBUF_STATUS_LENGTH_MISMATCH);
    check_to_fails(__LINE__, &v, PTRDIFF_MIN, 'A', PYBUF_STATUS_LENGTH_MISMATCH);
    /* bad orders */
    check_to_fails(__LINE__, &v, 96, 'X', PYBUF_STATUS_INVALID_ARGUMENT);
    check_to_fails(__LINE__, &v, 96, 0, PYBUF_STATUS_INVALID_ARGUMENT);
    check_to_fails(__LINE__, &v, 96, 'c', PYBUF_STATUS_INVALID_ARGUMENT);

    /* malformed sources */
    v.ndim = -1;
    check_to_fails(__LINE__, &v, 96, 'C', PYBUF_STATUS_INVALID_NDIM);
    v.ndim = 65;
    check_to_fails(__LINE__, &v, 96, 'C', PYBUF_STATUS_INVALID_NDIM);
    v.ndim = 2;
    shape[1] = -4;
    check_to_fails(__LINE__, &v, 96, 'C', PYBUF_STATUS_INVALID_SHAPE);
    check_to_fails(__LINE__, &v, -96, 'C', PYBUF_STATUS_INVALID_SHAPE);
    shape[1] = 4;
    v.shape = NULL;
    check_to_fails(__LINE__, &v, 96, 'C', PYBUF_STATUS_INVALID_SHAPE);
    v.shape = shape;
    v.itemsize = 0;
    check_to_fails(__LINE__, &v, 96, 'C', PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = -8;
    check_to_fails(__LINE__, &v, 96, 'C', PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = 8;
    v.len = 88;
    check_to_fails(__LINE__, &v, 88, 'C', PYBUF_STATUS_LENGTH_MISMATCH);
    v.len = 96;
    v.buf = NULL;
    check_to_fails(__LINE__, &v, 96, 'C', PYBUF_STATUS_NULL_POINTER);
    v.buf = a;
    v.readonly = 2;
    check_to_fails(__LINE__, &v, 96, 'C', PYBUF_STATUS_INVALID_ARGUMENT);
    v.readonly = 1; /* a read-only source is fine */
    check_to(__LINE__, &v, 'C', A_C, 12);
    v.readonly = 0;
    {
        /* overflow: product(shape), shape * itemsize, strides */
        pybuf_ssize_t big[2] = {PTRDIFF_MAX / 2, 4}, two[2] = {2, 2};
        pybuf_ssize_t huge[2] = {PTRDIFF_MAX, 8}, halves[2] = {PTRDIFF_MAX / 2 + 1, 8};
        pybuf_buffer o = make_view(a, 1, 2, big, NULL, NULL);
        o.len = 0;
        check_to_fails(__LINE__, &o, 0, 'C', PYBUF_STATUS_OVERFLOW);
        o.itemsize = 4;
        o.ndim = 1;
        check_to_fails(__LINE__, &o, 0, 'C', PYBUF_STATUS_OVERFLOW);
        o = make_view(a, 8, 2, two, huge, NULL);
        check_to_fails(__LINE__, &o, 32, 'C', PYBUF_STATUS_OVERFLOW);
        halves[1] = PTRDIFF_MAX / 2 + 1;
        o.strides = halves;
        check_to_fails(__LINE__, &o, 32, 'F', PYBUF_STATUS_OVERFLOW);
    }
}

/* ---------------------------------------------------------------- from_contiguous */

static void from_contiguous_transpose(void) {
    /* dst is the transpose t (4x3, strides {8, 32}) of the 3x4 memory m */
    const double c_want[12] = {100, 103, 106, 109, 101, 104, 107, 110, 102, 105, 108, 111};
    double src[12];
    const char orders[3] = {'C', 'F', 'A'};
    int o;
    iota(src, 12, 100);
    for (o = 0; o < 3; o++) {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {4, 3}, strides[2] = {8, 32};
        pybuf_buffer t = make_view(NULL, 8, 2, shape, strides, NULL);
        GUARD_INIT(m);
        t.buf = m;
        PROVOKE_ERROR();
        CHECK_STATUS(pybuf_from_contiguous(&t, src, 96, orders[o]), PYBUF_STATUS_OK);
        /* 'C': t[i][j] = src[3 i + j] is m[i + 4 j]; 'F' and 'A': as t lies, m = src */
        CHECK_DOUBLES(m, orders[o] == 'C' ? c_want : src, 12);
        CHECK_GUARDS(m);
    }
}

static void from_contiguous_null_strides_f(void) {
    /* CPython crashes here (NULL strides with order 'F'): dst[i][j] = src[i + 3 j] */
    const double f_want[12] = {0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11};
    double src[12];
    iota(src, 12, 0);
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {3, 4};
        pybuf_buffer v = make_view(NULL, 8, 2, shape, NULL, NULL);
        GUARD_INIT(m);
        v.buf = m;
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 96, 'F'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, f_want, 12);
        CHECK_GUARDS(m);
        /* 'C' and 'A' with NULL strides: as the view lies */
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 96, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, src, 12);
        iota(m, 12, 50);
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 96, 'A'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, src, 12);
        CHECK_GUARDS(m);
    }
    {
        /* a prefix of 5 elements in F order: (0,0) (1,0) (2,0) (0,1) (1,1) */
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {3, 4};
        pybuf_buffer v = make_view(NULL, 8, 2, shape, NULL, NULL);
        double want[12];
        GUARD_INIT(m);
        iota(m, 12, 50);
        memcpy(want, m, sizeof want);
        want[0] = 0;
        want[4] = 1;
        want[8] = 2;
        want[1] = 3;
        want[5] = 4;
        v.buf = m;
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 40, 'F'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
}

static void from_contiguous_len_cut(void) {
    /* len above dst->len is cut to it: contiguous and strided destinations */
    double src[24];
    iota(src, 24, 100);
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {3, 4};
        pybuf_buffer v = make_view(NULL, 8, 2, shape, NULL, NULL);
        GUARD_INIT(m);
        v.buf = m;
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 192, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, src, 12);
        CHECK_GUARDS(m);
        CHECK_STATUS(pybuf_from_contiguous(&v, src, PTRDIFF_MAX, 'F'), PYBUF_STATUS_OK);
        CHECK_GUARDS(m);
    }
    {
        /* columns 0 and 2 of m (3x2, strides {32, 16}); the gaps stay untouched */
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {3, 2}, strides[2] = {32, 16};
        pybuf_buffer v = make_view(NULL, 8, 2, shape, strides, NULL);
        double want[12];
        GUARD_INIT(m);
        iota(m, 12, 0);
        memcpy(want, m, sizeof want);
        want[0] = 100;
        want[2] = 101;
        want[4] = 102;
        want[6] = 103;
        want[8] = 104;
        want[10] = 105;
        v.buf = m;
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 1000, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
        /* 'F': (0,0) (1,0) (2,0) (0,1) (1,1) (2,1) */
        want[0] = 100;
        want[4] = 101;
        want[8] = 102;
        want[2] = 103;
        want[6] = 104;
        want[10] = 105;
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 48, 'F'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
}

static void from_contiguous_short_len(void) {
    double src[12];
    iota(src, 12, 100);
    {
        /* strided dst, 3 elements (and a partial fourth, which is not written) */
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {3, 2}, strides[2] = {32, 16};
        pybuf_buffer v = make_view(NULL, 8, 2, shape, strides, NULL);
        double want[12];
        GUARD_INIT(m);
        iota(m, 12, 0);
        memcpy(want, m, sizeof want);
        want[0] = 100; /* (0,0) */
        want[2] = 101; /* (0,1) */
        want[4] = 102; /* (1,0) */
        v.buf = m;
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 3 * 8 + 5, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
        iota(m, 12, 0);
        memcpy(want, m, sizeof want);
        want[0] = 100; /* (0,0) */
        want[4] = 101; /* (1,0) */
        want[8] = 102; /* (2,0) */
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 3 * 8, 'F'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        /* less than one element: nothing */
        iota(m, 12, 0);
        memcpy(want, m, sizeof want);
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 7, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 0, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        /* src may be NULL with len 0 */
        CHECK_STATUS(pybuf_from_contiguous(&v, NULL, 0, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
}

/*
 * The header: "a shorter [len] fills only the first len / itemsize elements in that
 * order". With a dst contiguous in that order, the bytes of a partial last element must
 * not be written either (as with a non-contiguous dst, above).
 */
static void from_contiguous_partial_element(void) {
    {
        /* a dst contiguous in the order and a len that is no multiple of itemsize: as
           CPython's memcpy path, the first len bytes (5 elements and 3 bytes of the 6th) */
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {3, 4};
        pybuf_buffer v = make_view(NULL, 8, 2, shape, NULL, NULL);
        unsigned char bytes[96], want[96];
        int k;
        for (k = 0; k < 96; k++)
            bytes[k] = (unsigned char)(k + 1);
        GUARD_INIT(m);
        memcpy(want, m, sizeof want);
        memcpy(want, bytes, 5 * 8 + 3);
        v.buf = m;
        CHECK_STATUS(pybuf_from_contiguous(&v, bytes, 5 * 8 + 3, 'C'), PYBUF_STATUS_OK);
        CHECK_MEM_EQ(m, want, sizeof want);
        CHECK_GUARDS(m);
        /* the same in F order through a transposed (F-contiguous) view */
        {
            pybuf_ssize_t fstrides[2] = {8, 24};
            GUARD_INIT(m);
            v.strides = fstrides;
            CHECK_STATUS(pybuf_from_contiguous(&v, bytes, 5 * 8 + 3, 'F'), PYBUF_STATUS_OK);
            CHECK_MEM_EQ(m, want, sizeof want);
            CHECK_STATUS(pybuf_from_contiguous(&v, bytes, 5 * 8 + 3, 'A'), PYBUF_STATUS_OK);
            CHECK_MEM_EQ(m, want, sizeof want);
            CHECK_GUARDS(m);
        }
    }
}

static void from_contiguous_negative_strides(void) {
    /* dst: m with rows reversed (buf at row 2, strides {-32, 8}) */
    GUARDED(double, m, 12);
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {-32, 8};
    pybuf_buffer v = make_view(NULL, 8, 2, shape, strides, NULL);
    double src[12];
    const double c_want[12] = {108, 109, 110, 111, 104, 105, 106, 107, 100, 101, 102, 103};
    const double f_want[12] = {102, 105, 108, 111, 101, 104, 107, 110, 100, 103, 106, 109};
    iota(src, 12, 100);
    GUARD_INIT(m);
    v.buf = &m[8];
    CHECK_STATUS(pybuf_from_contiguous(&v, src, 96, 'C'), PYBUF_STATUS_OK);
    CHECK_DOUBLES(m, c_want, 12);
    CHECK_STATUS(pybuf_from_contiguous(&v, src, 96, 'F'), PYBUF_STATUS_OK);
    CHECK_DOUBLES(m, f_want, 12);
    CHECK_GUARDS(m);
}

static void from_contiguous_suboffsets(void) {
    pybuf_buffer v = pil_view();
    double src[12], header[2];
    int i, j;
    iota(src, 12, 0);
    memset(header, GUARD_BYTE, sizeof header);
    CHECK_STATUS(pybuf_from_contiguous(&v, src, 96, 'C'), PYBUF_STATUS_OK);
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 4; j++)
            CHECK_EQ(PIL(i, j), 4 * i + j);
        CHECK_MEM_EQ(rows_store[i], header, sizeof header); /* headers untouched */
    }
    CHECK_STATUS(pybuf_from_contiguous(&v, src, 96, 'F'), PYBUF_STATUS_OK);
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            CHECK_EQ(PIL(i, j), i + 3 * j);
    /* a prefix of 6 elements in C order */
    iota(src, 12, 100);
    CHECK_STATUS(pybuf_from_contiguous(&v, src, 48, 'C'), PYBUF_STATUS_OK);
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            CHECK_EQ(PIL(i, j), 4 * i + j < 6 ? 100 + 4 * i + j : i + 3 * j);
    for (i = 0; i < 3; i++)
        CHECK_MEM_EQ(rows_store[i], header, sizeof header);
}

static void from_contiguous_zero_d_and_empty(void) {
    {
        GUARDED(double, m, 1);
        pybuf_buffer v = make_view(NULL, 8, 0, NULL, NULL, NULL);
        const double src[1] = {42};
        GUARD_INIT(m);
        v.buf = m;
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 8, 'F'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, src, 1);
        CHECK_GUARDS(m);
    }
    {
        GUARDED(double, m, 4);
        pybuf_ssize_t shape[2] = {4, 0}, strides[2] = {0, 0};
        pybuf_buffer v = make_view(NULL, 8, 2, shape, strides, NULL);
        const double src[4] = {1, 2, 3, 4};
        GUARD_INIT(m);
        SNAPSHOT(m);
        v.buf = m;
        /* empty: nothing written, zero strides allowed, src may be NULL */
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 32, 'C'), PYBUF_STATUS_OK);
        CHECK_UNCHANGED(m);
        CHECK_STATUS(pybuf_from_contiguous(&v, NULL, 32, 'F'), PYBUF_STATUS_OK);
        CHECK_UNCHANGED(m);
    }
}

static void from_contiguous_overlap(void) {
    /* src is the memory of dst, which is its transpose: m[i + 4 j] = old m[3 i + j] */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {4, 3}, strides[2] = {8, 32};
        pybuf_buffer t = make_view(NULL, 8, 2, shape, strides, NULL);
        const double want[12] = {0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11};
        GUARD_INIT(m);
        iota(m, 12, 0);
        t.buf = m;
        CHECK_STATUS(pybuf_from_contiguous(&t, m, 96, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* a contiguous dst one element after its source */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {11};
        pybuf_buffer v = make_view(NULL, 8, 1, shape, NULL, NULL);
        const double want[12] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        GUARD_INIT(m);
        iota(m, 12, 0);
        v.buf = &m[1];
        CHECK_STATUS(pybuf_from_contiguous(&v, m, 88, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* a reversed dst over its own source, full length: an in-place reversal */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {12}, strides[1] = {-8};
        pybuf_buffer v = make_view(NULL, 8, 1, shape, strides, NULL);
        const double want[12] = {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
        GUARD_INIT(m);
        iota(m, 12, 0);
        v.buf = &m[11];
        CHECK_STATUS(pybuf_from_contiguous(&v, m, 96, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* the same with a prefix of 3 elements: m[3] m[2] m[1] = old m[0] m[1] m[2] */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {4}, strides[1] = {-8};
        pybuf_buffer v = make_view(NULL, 8, 1, shape, strides, NULL);
        const double want[12] = {0, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 11};
        GUARD_INIT(m);
        iota(m, 12, 0);
        v.buf = &m[3];
        CHECK_STATUS(pybuf_from_contiguous(&v, m, 24, 'C'), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
}

/* from_contiguous(dst view over guarded m, src, len, order) fails, m untouched. */
static void check_from_fails(int line, pybuf_buffer v, const void *src, pybuf_ssize_t len,
                             char order, int status) {
    GUARDED(double, m, 16);
    int failed_before = check_failed_;
    GUARD_INIT(m);
    iota(m, 16, 500);
    SNAPSHOT(m);
    if (v.buf != NULL)
        v.buf = m;
    check_failed_ = 0;
    CHECK_STATUS(pybuf_from_contiguous(&v, src, len, order), status);
    CHECK_UNCHANGED(m);
    if (check_failed_)
        fprintf(stderr, "  (from line %d)\n", line);
    check_failed_ |= failed_before;
}

static void from_contiguous_errors(void) {
    double src[16];
    pybuf_ssize_t shape[65], strides[65];
    pybuf_buffer v;
    int i;
    iota(src, 16, 0);
    for (i = 0; i < 65; i++) {
        shape[i] = 1;
        strides[i] = 8;
    }
    shape[0] = 3;
    shape[1] = 4;
    strides[0] = 32;
    v = make_view(src /* replaced by m */, 8, 2, shape, strides, NULL);

    CHECK_STATUS(pybuf_from_contiguous(NULL, src, 96, 'C'), PYBUF_STATUS_NULL_POINTER);
    check_from_fails(__LINE__, v, NULL, 96, 'C', PYBUF_STATUS_NULL_POINTER);
    check_from_fails(__LINE__, v, NULL, 8, 'F', PYBUF_STATUS_NULL_POINTER);
    check_from_fails(__LINE__, v, src, -1, 'C', PYBUF_STATUS_INVALID_ARGUMENT);
    check_from_fails(__LINE__, v, src, PTRDIFF_MIN, 'C', PYBUF_STATUS_INVALID_ARGUMENT);
    check_from_fails(__LINE__, v, src, 96, 'X', PYBUF_STATUS_INVALID_ARGUMENT);
    check_from_fails(__LINE__, v, src, 96, 0, PYBUF_STATUS_INVALID_ARGUMENT);
    check_from_fails(__LINE__, v, src, 96, 'c', PYBUF_STATUS_INVALID_ARGUMENT);

    /* read-only dst, whole and partial */
    v.readonly = 1;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_READ_ONLY);
    check_from_fails(__LINE__, v, src, 16, 'F', PYBUF_STATUS_READ_ONLY);
    v.readonly = 2;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_INVALID_ARGUMENT);
    v.readonly = 0;

    /* a zero stride in dst (aliased elements) */
    strides[0] = 0;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_INVALID_STRIDES);
    check_from_fails(__LINE__, v, src, 8, 'C', PYBUF_STATUS_INVALID_STRIDES);
    strides[0] = 32;

    /* malformed dst */
    v.ndim = -1;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_INVALID_NDIM);
    v.ndim = 65;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_INVALID_NDIM);
    v.ndim = 2;
    shape[0] = -3;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_INVALID_SHAPE);
    shape[0] = 3;
    v.itemsize = 0;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = -1;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = 8;
    v.len = 95;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_LENGTH_MISMATCH);
    v.len = 96;
    v.buf = NULL;
    check_from_fails(__LINE__, v, src, 96, 'C', PYBUF_STATUS_NULL_POINTER);
    v.buf = src;
    {
        pybuf_ssize_t big[2] = {PTRDIFF_MAX / 2, 4}, two[2] = {2, 2};
        pybuf_ssize_t huge[2] = {PTRDIFF_MAX, 8};
        pybuf_buffer o = make_view(src, 1, 2, big, NULL, NULL);
        o.len = 0;
        check_from_fails(__LINE__, o, src, 8, 'C', PYBUF_STATUS_OVERFLOW);
        o.ndim = 1;
        o.itemsize = 4;
        check_from_fails(__LINE__, o, src, 8, 'C', PYBUF_STATUS_OVERFLOW);
        o = make_view(src, 8, 2, two, huge, NULL);
        check_from_fails(__LINE__, o, src, 32, 'C', PYBUF_STATUS_OVERFLOW);
    }
}

/* ---------------------------------------------------------------- copy */

static void copy_transpose(void) {
    double a[12];
    pybuf_ssize_t tshape[2] = {4, 3}, tstrides[2] = {8, 32};
    pybuf_buffer t = make_view(a, 8, 2, tshape, tstrides, NULL);
    fill_a(a);
    {
        /* into a C-contiguous 4x3: the transpose */
        GUARDED(double, m, 12);
        pybuf_buffer d = make_view(NULL, 8, 2, tshape, NULL, NULL);
        GUARD_INIT(m);
        d.buf = m;
        PROVOKE_ERROR();
        CHECK_STATUS(pybuf_copy(&d, &t), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, A_F, 12);
        CHECK_GUARDS(m);
    }
    {
        /* into a 4x3 reversed in both dimensions: m[11 - 3 i - j] = t[i][j] = 10 j + i */
        GUARDED(double, m, 12);
        pybuf_ssize_t strides[2] = {-24, -8};
        pybuf_buffer d = make_view(NULL, 8, 2, tshape, strides, NULL);
        const double want[12] = {23, 13, 3, 22, 12, 2, 21, 11, 1, 20, 10, 0};
        GUARD_INIT(m);
        d.buf = &m[11];
        CHECK_STATUS(pybuf_copy(&d, &t), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
}

static void copy_strided_dst(void) {
    /* a (3x4) into columns 0, 2, 4, 6 of a 3x8 array: the gaps stay untouched */
    double a[12];
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {64, 16};
    pybuf_buffer s = make_view(a, 8, 2, shape, NULL, NULL);
    GUARDED(double, m, 24);
    pybuf_buffer d = make_view(NULL, 8, 2, shape, strides, NULL);
    double want[24];
    int i, j;
    fill_a(a);
    GUARD_INIT(m);
    iota(m, 24, 100);
    memcpy(want, m, sizeof want);
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            want[8 * i + 2 * j] = 10 * i + j;
    d.buf = m;
    CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
    CHECK_DOUBLES(m, want, 24);
    CHECK_GUARDS(m);
}

static void copy_three_d_permuted(void) {
    /* src b[i][j][k] = 100 i + 10 j + k in C order; dst 2x3x4 with strides in the order
       (j slowest, then k, then i): offset = 8 (8 j + 2 k + i) */
    double b[24];
    pybuf_ssize_t shape[3] = {2, 3, 4}, dstrides[3] = {8, 64, 16};
    pybuf_buffer s = make_view(b, 8, 3, shape, NULL, NULL);
    GUARDED(double, m, 24);
    pybuf_buffer d = make_view(NULL, 8, 3, shape, dstrides, NULL);
    double want[24];
    int i, j, k;
    for (i = 0; i < 2; i++)
        for (j = 0; j < 3; j++)
            for (k = 0; k < 4; k++) {
                b[12 * i + 4 * j + k] = 100 * i + 10 * j + k;
                want[8 * j + 2 * k + i] = 100 * i + 10 * j + k;
            }
    GUARD_INIT(m);
    d.buf = m;
    CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
    CHECK_DOUBLES(m, want, 24);
    CHECK_GUARDS(m);
}

static void copy_broadcast_src(void) {
    /* a zero-stride source is fine: row 2 of a, three times */
    double a[12];
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {0, 8};
    pybuf_buffer s = make_view(&a[8], 8, 2, shape, strides, NULL);
    GUARDED(double, m, 12);
    pybuf_buffer d = make_view(NULL, 8, 2, shape, NULL, NULL);
    const double want[12] = {20, 21, 22, 23, 20, 21, 22, 23, 20, 21, 22, 23};
    fill_a(a);
    GUARD_INIT(m);
    d.buf = m;
    CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
    CHECK_DOUBLES(m, want, 12);
    CHECK_GUARDS(m);
    {
        /* a scalar broadcast everywhere */
        pybuf_ssize_t zero[2] = {0, 0};
        const double sevens[12] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
        double seven = 7;
        s.buf = &seven;
        s.strides = zero;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, sevens, 12);
        CHECK_GUARDS(m);
    }
    {
        /* a zero stride in dst is fine where the dimension has one element */
        pybuf_ssize_t one[2] = {1, 4}, dz[2] = {0, 8};
        pybuf_buffer d1 = make_view(NULL, 8, 2, one, dz, NULL);
        pybuf_buffer s1 = make_view(a, 8, 2, one, NULL, NULL);
        const double want1[12] = {0, 1, 2, 3, 7, 7, 7, 7, 7, 7, 7, 7};
        d1.buf = m;
        CHECK_STATUS(pybuf_copy(&d1, &s1), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want1, 12);
    }
}

static void copy_suboffsets(void) {
    double a[12];
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_buffer c = make_view(a, 8, 2, shape, NULL, NULL);
    pybuf_buffer p = pil_view();
    double header[2];
    int i, j;
    memset(header, GUARD_BYTE, sizeof header);
    fill_a(a);
    /* contiguous -> PIL */
    CHECK_STATUS(pybuf_copy(&p, &c), PYBUF_STATUS_OK);
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 4; j++)
            CHECK_EQ(PIL(i, j), 10 * i + j);
        CHECK_MEM_EQ(rows_store[i], header, sizeof header);
    }
    /* PIL -> transposed destination */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t fstrides[2] = {8, 24};
        pybuf_buffer d = make_view(NULL, 8, 2, shape, fstrides, NULL);
        GUARD_INIT(m);
        d.buf = m;
        CHECK_STATUS(pybuf_copy(&d, &p), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, A_F, 12);
        CHECK_GUARDS(m);
    }
    /* PIL -> PIL, rows reversed on the source side through a negative stride */
    {
        static double other_store[3][6];
        double *other_ptrs[3];
        pybuf_ssize_t rstrides[2] = {-(pybuf_ssize_t)sizeof(double *), 8};
        pybuf_buffer q = make_view(&other_ptrs[2], 8, 2, shape, rstrides, pil_subs);
        for (i = 0; i < 3; i++) {
            other_ptrs[i] = other_store[i];
            for (j = 0; j < 4; j++)
                other_store[i][2 + j] = 100 + 10 * i + j;
        }
        /* q[i][j] = other_store[2 - i][2 + j] = 100 + 10 (2 - i) + j */
        CHECK_STATUS(pybuf_copy(&p, &q), PYBUF_STATUS_OK);
        for (i = 0; i < 3; i++)
            for (j = 0; j < 4; j++)
                CHECK_EQ(PIL(i, j), 100 + 10 * (2 - i) + j);
    }
}

static void copy_odd_itemsizes(void) {
    {
        /* itemsize 3, every other item reversed into contiguous memory */
        char s[25] = "abcdefghijklmnopqrstuvwx";
        pybuf_ssize_t shape[1] = {4}, sstrides[1] = {-6};
        pybuf_buffer src = make_view(s + 18, 3, 1, shape, sstrides, NULL);
        GUARDED(char, out, 12);
        pybuf_buffer dst = make_view(NULL, 3, 1, shape, NULL, NULL);
        GUARD_INIT(out);
        dst.buf = out;
        CHECK_STATUS(pybuf_copy(&dst, &src), PYBUF_STATUS_OK);
        CHECK_MEM_EQ(out, "stumnoghiabc", 12);
        CHECK_GUARDS(out);
    }
    {
        /* itemsize 2 and 16, strided both sides */
        unsigned short h[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        GUARDED(unsigned short, out, 8);
        pybuf_ssize_t shape[1] = {4}, s4[1] = {4}, sm2[1] = {-2};
        pybuf_buffer src = make_view(&h[7], 2, 1, shape, sm2, NULL); /* 8 7 6 5 */
        pybuf_buffer dst = make_view(NULL, 2, 1, shape, s4, NULL);
        const unsigned short want[8] = {8, 0xA5A5, 7, 0xA5A5, 6, 0xA5A5, 5, 0xA5A5};
        GUARD_INIT(out);
        dst.buf = out;
        CHECK_STATUS(pybuf_copy(&dst, &src), PYBUF_STATUS_OK);
        CHECK_MEM_EQ(out, want, sizeof want);
        CHECK_GUARDS(out);
    }
    {
        struct pair {
            double x, y;
        } q[4] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
        GUARDED(double, out, 8);
        pybuf_ssize_t shape[1] = {2}, s32[1] = {32};
        pybuf_buffer src = make_view(q, 16, 1, shape, s32, NULL); /* pairs 0 and 2 */
        pybuf_buffer dst = make_view(NULL, 16, 1, shape, NULL, NULL);
        const double want[4] = {1, 2, 5, 6};
        GUARD_INIT(out);
        dst.buf = out;
        CHECK_STATUS(pybuf_copy(&dst, &src), PYBUF_STATUS_OK);
        CHECK_DOUBLES(out, want, 4);
        CHECK_GUARDS(out);
    }
}

static void copy_zero_d_empty_and_formats(void) {
    {
        double x = 3.5;
        GUARDED(double, m, 1);
        pybuf_buffer s = make_view(&x, 8, 0, NULL, NULL, NULL);
        pybuf_buffer d = make_view(NULL, 8, 0, NULL, NULL, NULL);
        GUARD_INIT(m);
        d.buf = m;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, &x, 1);
        CHECK_GUARDS(m);
    }
    {
        /* empty views with different strides: nothing written */
        double a[12];
        pybuf_ssize_t shape[2] = {0, 4}, sstr[2] = {8, 8}, dstr[2] = {-3, 0};
        pybuf_buffer s = make_view(a, 8, 2, shape, sstr, NULL);
        GUARDED(double, m, 4);
        pybuf_buffer d = make_view(NULL, 8, 2, shape, dstr, NULL);
        GUARD_INIT(m);
        SNAPSHOT(m);
        d.buf = m;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_UNCHANGED(m);
        s.buf = NULL;
        d.buf = NULL;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
    }
    {
        /* formats are not compared; a read-only source is fine */
        long long q[3] = {1, 2, 3};
        GUARDED(double, m, 3);
        pybuf_ssize_t shape[1] = {3};
        pybuf_buffer s = make_view(q, 8, 1, shape, NULL, NULL);
        pybuf_buffer d = make_view(NULL, 8, 1, shape, NULL, NULL);
        char qf[] = "q", df[] = "d";
        GUARD_INIT(m);
        d.buf = m;
        s.format = qf;
        s.readonly = 1;
        d.format = df;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_MEM_EQ(m, q, sizeof q);
        CHECK_GUARDS(m);
    }
    {
        /* NULL shape with ndim 1 (a PYBUF_SIMPLE answer) is len unsigned bytes (PEP 3118):
           it copies to another shapeless view, and not to 12 doubles */
        double a[12];
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {12};
        pybuf_buffer s = make_view(a, 8, 1, shape, NULL, NULL);
        pybuf_buffer d = make_view(NULL, 8, 1, shape, NULL, NULL);
        fill_a(a);
        GUARD_INIT(m);
        d.buf = m;
        d.shape = NULL;
        SNAPSHOT(m);
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_SHAPE_MISMATCH);
        CHECK_UNCHANGED(m);
        s.shape = NULL;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, A_C, 12);
        CHECK_GUARDS(m);
    }
}

static void copy_overlap(void) {
    /* 1-D, dst two elements after src: m[2 + k] = old m[k] */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {10};
        pybuf_buffer s = make_view(NULL, 8, 1, shape, NULL, NULL);
        pybuf_buffer d = make_view(NULL, 8, 1, shape, NULL, NULL);
        const double want[12] = {0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        GUARD_INIT(m);
        iota(m, 12, 0);
        s.buf = m;
        d.buf = &m[2];
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* 1-D, dst two elements before src: m[k] = old m[k + 2] */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {10};
        pybuf_buffer s = make_view(NULL, 8, 1, shape, NULL, NULL);
        pybuf_buffer d = make_view(NULL, 8, 1, shape, NULL, NULL);
        const double want[12] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 10, 11};
        GUARD_INIT(m);
        iota(m, 12, 0);
        s.buf = &m[2];
        d.buf = m;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* in-place reversal: src is m backwards, dst is m */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {12}, back[1] = {-8};
        pybuf_buffer s = make_view(NULL, 8, 1, shape, back, NULL);
        pybuf_buffer d = make_view(NULL, 8, 1, shape, NULL, NULL);
        const double want[12] = {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
        GUARD_INIT(m);
        iota(m, 12, 0);
        s.buf = &m[11];
        d.buf = m;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* in-place transpose of a 4x4: m[4 i + j] = old m[4 j + i] */
    {
        GUARDED(double, m, 16);
        pybuf_ssize_t shape[2] = {4, 4}, tstrides[2] = {8, 32};
        pybuf_buffer s = make_view(NULL, 8, 2, shape, tstrides, NULL);
        pybuf_buffer d = make_view(NULL, 8, 2, shape, NULL, NULL);
        double want[16];
        int i, j;
        GUARD_INIT(m);
        for (i = 0; i < 4; i++)
            for (j = 0; j < 4; j++) {
                m[4 * i + j] = 10 * i + j;
                want[4 * i + j] = 10 * j + i;
            }
        s.buf = m;
        d.buf = m;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 16);
        CHECK_GUARDS(m);
    }
    /* interleaved views: dst is the even elements, src the odd ones shifted by one
       element (their extents overlap but no element is shared) */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[1] = {6}, two[1] = {16};
        pybuf_buffer s = make_view(NULL, 8, 1, shape, two, NULL);
        pybuf_buffer d = make_view(NULL, 8, 1, shape, two, NULL);
        const double want[12] = {1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11};
        GUARD_INIT(m);
        iota(m, 12, 0);
        s.buf = &m[1];
        d.buf = m;
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* a 2-D shifted view: rows 0..1 of a 3x4 copied onto rows 1..2 */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {2, 4};
        pybuf_buffer s = make_view(NULL, 8, 2, shape, NULL, NULL);
        pybuf_buffer d = make_view(NULL, 8, 2, shape, NULL, NULL);
        const double want[12] = {0, 1, 2, 3, 0, 1, 2, 3, 10, 11, 12, 13};
        GUARD_INIT(m);
        fill_a(m);
        s.buf = m;
        d.buf = &m[4];
        CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
        CHECK_DOUBLES(m, want, 12);
        CHECK_GUARDS(m);
    }
    /* the same view as both: nothing changes */
    {
        GUARDED(double, m, 12);
        pybuf_ssize_t shape[2] = {3, 4};
        pybuf_buffer v = make_view(NULL, 8, 2, shape, NULL, NULL);
        GUARD_INIT(m);
        fill_a(m);
        SNAPSHOT(m);
        v.buf = m;
        CHECK_STATUS(pybuf_copy(&v, &v), PYBUF_STATUS_OK);
        CHECK_UNCHANGED(m);
    }
}

/* copy(dst over guarded m, src) fails with `status`, m untouched. */
static void check_copy_fails(int line, pybuf_buffer d, const pybuf_buffer *s, int status) {
    GUARDED(double, m, 16);
    int failed_before = check_failed_;
    GUARD_INIT(m);
    iota(m, 16, 500);
    SNAPSHOT(m);
    if (d.buf != NULL)
        d.buf = m;
    check_failed_ = 0;
    CHECK_STATUS(pybuf_copy(&d, s), status);
    CHECK_UNCHANGED(m);
    if (check_failed_)
        fprintf(stderr, "  (from line %d)\n", line);
    check_failed_ |= failed_before;
}

static void copy_errors(void) {
    double a[16];
    pybuf_ssize_t sshape[2] = {3, 4}, dshape[65], dstrides[65];
    pybuf_buffer s = make_view(a, 8, 2, sshape, NULL, NULL);
    pybuf_buffer d;
    int i;
    iota(a, 16, 0);
    for (i = 0; i < 65; i++) {
        dshape[i] = 1;
        dstrides[i] = 8;
    }
    dshape[0] = 3;
    dshape[1] = 4;
    dstrides[0] = 32;
    d = make_view(a /* replaced by m */, 8, 2, dshape, dstrides, NULL);

    /* NULL pointers */
    check_copy_fails(__LINE__, d, NULL, PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_copy(NULL, &s), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_copy(NULL, NULL), PYBUF_STATUS_NULL_POINTER);

    /* shape and itemsize mismatches */
    {
        pybuf_ssize_t t[2] = {4, 3}, flat[1] = {12}, z[2] = {0, 3}, z2[2] = {0, 4};
        pybuf_buffer o = make_view(a, 8, 2, t, NULL, NULL);
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_SHAPE_MISMATCH);
        o = make_view(a, 8, 1, flat, NULL, NULL);
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_SHAPE_MISMATCH);
        o = make_view(a, 4, 2, sshape, NULL, NULL);
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_SHAPE_MISMATCH);
        o = make_view(a, 16, 2, sshape, NULL, NULL);
        o.len = 16 * 12;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_SHAPE_MISMATCH);
        /* empty views of different shapes */
        {
            pybuf_buffer e1 = make_view(a, 8, 2, z, NULL, NULL);
            pybuf_buffer e2 = make_view(a, 8, 2, z2, NULL, NULL);
            check_copy_fails(__LINE__, e1, &e2, PYBUF_STATUS_SHAPE_MISMATCH);
        }
    }

    /* read-only dst */
    d.readonly = 1;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_READ_ONLY);
    d.readonly = 2;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_INVALID_ARGUMENT);
    d.readonly = 0;

    /* a zero stride in dst */
    dstrides[0] = 0;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_INVALID_STRIDES);
    dstrides[0] = 32;

    /* malformed dst */
    d.ndim = -1;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_INVALID_NDIM);
    d.ndim = 65;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_INVALID_NDIM);
    d.ndim = 2;
    dshape[1] = -4;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_INVALID_SHAPE);
    dshape[1] = 4;
    d.itemsize = 0;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_INVALID_ITEMSIZE);
    d.itemsize = -8;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_INVALID_ITEMSIZE);
    d.itemsize = 8;
    d.len = 100;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_LENGTH_MISMATCH);
    d.len = 96;
    d.buf = NULL;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_NULL_POINTER);
    d.buf = a;
    d.shape = NULL;
    check_copy_fails(__LINE__, d, &s, PYBUF_STATUS_INVALID_SHAPE);
    d.shape = dshape;

    /* malformed src */
    {
        pybuf_buffer o = s;
        o.ndim = 65;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_INVALID_NDIM);
        o.ndim = -1;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_INVALID_NDIM);
        o = s;
        o.itemsize = 0;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_INVALID_ITEMSIZE);
        o = s;
        o.len = 8;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_LENGTH_MISMATCH);
        o = s;
        o.buf = NULL;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_NULL_POINTER);
        o = s;
        o.readonly = 3;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_INVALID_ARGUMENT);
    }
    {
        /* negative shape in src */
        pybuf_ssize_t neg[2] = {3, -4};
        pybuf_buffer o = make_view(a, 8, 2, neg, NULL, NULL);
        o.len = 96;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_INVALID_SHAPE);
    }
    {
        /* overflow in src and in dst */
        pybuf_ssize_t big[2] = {PTRDIFF_MAX / 2, 4}, two[2] = {2, 2};
        pybuf_ssize_t huge[2] = {PTRDIFF_MAX, 8};
        pybuf_buffer o = make_view(a, 1, 2, big, NULL, NULL);
        pybuf_buffer d2 = make_view(a, 8, 2, two, NULL, NULL);
        pybuf_buffer s2 = make_view(a, 8, 2, two, NULL, NULL);
        o.len = 0;
        check_copy_fails(__LINE__, d, &o, PYBUF_STATUS_OVERFLOW);
        o = make_view(a, 8, 2, two, huge, NULL);
        check_copy_fails(__LINE__, d2, &o, PYBUF_STATUS_OVERFLOW);
        d2.strides = huge;
        check_copy_fails(__LINE__, d2, &s2, PYBUF_STATUS_OVERFLOW);
    }
}

static void copy_max_ndim(void) {
    /* 64 dimensions: 2 x 1 x ... x 1 x 3, transposed source */
    pybuf_ssize_t shape[64], sstr[64], dstr[64];
    double a[6] = {0, 1, 2, 10, 11, 12}; /* 2x3, C order */
    GUARDED(double, m, 6);
    const double want[6] = {0, 10, 1, 11, 2, 12}; /* F order */
    pybuf_buffer s, d;
    int i;
    for (i = 0; i < 64; i++) {
        shape[i] = 1;
        sstr[i] = 8;
        dstr[i] = 48;
    }
    shape[0] = 2;
    shape[63] = 3;
    sstr[0] = 24;
    sstr[63] = 8;
    dstr[0] = 8;
    dstr[63] = 16;
    s = make_view(a, 8, 64, shape, sstr, NULL);
    d = make_view(NULL, 8, 64, shape, dstr, NULL);
    GUARD_INIT(m);
    d.buf = m;
    CHECK_STATUS(pybuf_copy(&d, &s), PYBUF_STATUS_OK);
    CHECK_DOUBLES(m, want, 6);
    CHECK_GUARDS(m);
}

int main(void) {
    RUN(to_contiguous_c_view);
    RUN(to_contiguous_transpose);
    RUN(to_contiguous_strided);
    RUN(to_contiguous_negative_strides);
    RUN(to_contiguous_broadcast);
    RUN(to_contiguous_three_d);
    RUN(to_contiguous_zero_d_and_empty);
    RUN(to_contiguous_odd_itemsize);
    RUN(to_contiguous_suboffsets);
    RUN(to_contiguous_overlap);
    RUN(to_contiguous_errors);
    RUN(from_contiguous_transpose);
    RUN(from_contiguous_null_strides_f);
    RUN(from_contiguous_len_cut);
    RUN(from_contiguous_short_len);
    RUN(from_contiguous_partial_element);
    RUN(from_contiguous_negative_strides);
    RUN(from_contiguous_suboffsets);
    RUN(from_contiguous_zero_d_and_empty);
    RUN(from_contiguous_overlap);
    RUN(from_contiguous_errors);
    RUN(copy_transpose);
    RUN(copy_strided_dst);
    RUN(copy_three_d_permuted);
    RUN(copy_broadcast_src);
    RUN(copy_suboffsets);
    RUN(copy_odd_itemsizes);
    RUN(copy_zero_d_empty_and_formats);
    RUN(copy_overlap);
    RUN(copy_errors);
    RUN(copy_max_ndim);
    return check_report();
}
