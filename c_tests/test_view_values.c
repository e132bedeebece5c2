/* Element values (pybuf_get_item, pybuf_set_item, pybuf_item_fields), iteration
   (pybuf_iter_*), equality (pybuf_equal), validation (pybuf_validate, pybuf_extent); and
   every refusal with its status, outputs untouched. */
#include <math.h>
#include <stdint.h>

#include "check.h"

/* A 2-element array of the record T{b:a:xxx>i:b:d:c:}: 1 + 3 pad + 4 + 8 = 16 bytes,
   `b` big-endian, and so is `c` (a marker holds until the next one). */
static unsigned char records[2][16];

static void put_be(unsigned char *p, const void *value, int n) {
    const unsigned char *v = (const unsigned char *)value;
    int k;
    uint16_t one = 1;
    int little = *(const unsigned char *)&one == 1;
    for (k = 0; k < n; k++)
        p[k] = little ? v[n - 1 - k] : v[k];
}

static pybuf_buffer record_view(pybuf_ssize_t *shape) {
    pybuf_buffer v;
    int32_t b[2] = {-7, 123456};
    double c[2] = {2.5, -0.125};
    int r;
    for (r = 0; r < 2; r++) {
        records[r][0] = (unsigned char)(r ? -1 : 5);
        memset(&records[r][1], 0xEE, 3);
        put_be(&records[r][4], &b[r], 4);
        put_be(&records[r][8], &c[r], 8);
    }
    shape[0] = 2;
    v = make_view(records, 16, 1, shape, NULL, NULL);
    v.format = (char *)"T{b:a:xxx>i:b:d:c:}";
    return v;
}

static void get_items(void) {
    pybuf_ssize_t shape[1], ix[1] = {1};
    pybuf_buffer v = record_view(shape);
    pybuf_value out;
    CHECK_EQ(pybuf_item_fields(&v), 3);
    CHECK_STATUS(pybuf_get_item(&v, ix, 2, &out), 0); /* the third field, as a double */
    CHECK_EQ(out.kind, PYBUF_VALUE_DOUBLE);
    CHECK(out.real == -0.125);
    CHECK_STATUS(pybuf_get_item(&v, ix, 1, &out), 0);
    CHECK_EQ(out.kind, PYBUF_VALUE_INT);
    CHECK_EQ(out.i, 123456);
    CHECK_STATUS(pybuf_get_item(&v, ix, 0, &out), 0);
    CHECK_EQ(out.i, -1);
    ix[0] = 0;
    CHECK_STATUS(pybuf_get_item(&v, ix, 1, &out), 0);
    CHECK_EQ(out.i, -7);
    {
        /* '>d', 'Zd', '?', '3s', 'p', 'Q' */
        unsigned char be[8], z[16], flag = 2, s[3] = {'a', 'b', 'c'}, p[4] = {9, 'x', 'y', 'z'};
        uint64_t q = UINT64_MAX;
        double re = 1.5, im = -2;
        pybuf_buffer w;
        put_be(be, &re, 8);
        w = make_view(be, 8, 0, NULL, NULL, NULL);
        w.format = (char *)">d";
        CHECK_STATUS(pybuf_get_item(&w, NULL, 0, &out), 0);
        CHECK(out.kind == PYBUF_VALUE_DOUBLE && out.real == 1.5);
        memcpy(z, &re, 8);
        memcpy(z + 8, &im, 8);
        w = make_view(z, 16, 0, NULL, NULL, NULL);
        w.format = (char *)"Zd";
        CHECK_STATUS(pybuf_get_item(&w, NULL, 0, &out), 0);
        CHECK(out.kind == PYBUF_VALUE_COMPLEX && out.real == 1.5 && out.imag == -2);
        w = make_view(&flag, 1, 0, NULL, NULL, NULL);
        w.format = (char *)"?";
        CHECK_STATUS(pybuf_get_item(&w, NULL, 0, &out), 0);
        CHECK(out.kind == PYBUF_VALUE_BOOL && out.b == 1);
        w = make_view(s, 3, 0, NULL, NULL, NULL);
        w.format = (char *)"3s";
        CHECK_STATUS(pybuf_get_item(&w, NULL, 0, &out), 0);
        CHECK(out.kind == PYBUF_VALUE_BYTES && out.size == 3 && out.bytes == (const void *)s);
        w = make_view(p, 4, 0, NULL, NULL, NULL);
        w.format = (char *)"4p"; /* length byte 9: at most 3 bytes, as struct.unpack */
        CHECK_STATUS(pybuf_get_item(&w, NULL, 0, &out), 0);
        CHECK(out.kind == PYBUF_VALUE_BYTES && out.size == 3 && out.bytes == (const void *)(p + 1));
        w = make_view(&q, 8, 0, NULL, NULL, NULL);
        w.format = (char *)"Q";
        CHECK_STATUS(pybuf_get_item(&w, NULL, 0, &out), 0);
        CHECK(out.kind == PYBUF_VALUE_UINT && out.u == UINT64_MAX);
        /* a NULL format is "B" */
        w.format = NULL;
        CHECK_EQ(pybuf_item_fields(&w), 1);
        CHECK_STATUS(pybuf_get_item(&w, NULL, 0, &out), 0);
        CHECK(out.kind == PYBUF_VALUE_UINT && out.u == 255);
    }
}

static void set_items(void) {
    pybuf_ssize_t shape[1], ix[1] = {1};
    pybuf_buffer v = record_view(shape);
    pybuf_value in, out;
    unsigned char before[16];
    memset(&in, 0, sizeof in);
    in.kind = PYBUF_VALUE_DOUBLE;
    in.real = 6.75;
    memcpy(before, records[1], 16);
    CHECK_STATUS(pybuf_set_item(&v, ix, 2, &in), 0);
    CHECK_STATUS(pybuf_get_item(&v, ix, 2, &out), 0);
    CHECK(out.real == 6.75);
    CHECK_MEM_EQ(records[1], before, 8); /* the other fields and the padding */
    in.kind = PYBUF_VALUE_INT; /* an int into a double field, as struct.pack */
    in.i = -3;
    CHECK_STATUS(pybuf_set_item(&v, ix, 2, &in), 0);
    CHECK_STATUS(pybuf_get_item(&v, ix, 2, &out), 0);
    CHECK(out.real == -3);
    in.i = 0x01020304;
    CHECK_STATUS(pybuf_set_item(&v, ix, 1, &in), 0);
    CHECK_EQ(records[1][4], 1); /* big-endian */
    CHECK_EQ(records[1][7], 4);
    /* refusals, the memory untouched */
    memcpy(before, records[1], 16);
    in.i = 128;
    CHECK_STATUS(pybuf_set_item(&v, ix, 0, &in), PYBUF_STATUS_VALUE_OUT_OF_RANGE);
    CHECK_STR_EQ(pybuf_last_error(), "int 128 is out of range for a 'b' value of this size (-128..=127)");
    in.kind = PYBUF_VALUE_DOUBLE;
    in.real = 1;
    CHECK_STATUS(pybuf_set_item(&v, ix, 0, &in), PYBUF_STATUS_TYPE_MISMATCH);
    in.kind = PYBUF_VALUE_COMPLEX;
    CHECK_STATUS(pybuf_set_item(&v, ix, 2, &in), PYBUF_STATUS_TYPE_MISMATCH);
    in.kind = PYBUF_VALUE_BYTES;
    in.bytes = "x";
    in.size = 1;
    CHECK_STATUS(pybuf_set_item(&v, ix, 1, &in), PYBUF_STATUS_TYPE_MISMATCH);
    in.size = -1;
    CHECK_STATUS(pybuf_set_item(&v, ix, 1, &in), PYBUF_STATUS_INVALID_ARGUMENT);
    in.bytes = NULL;
    in.size = 2;
    CHECK_STATUS(pybuf_set_item(&v, ix, 1, &in), PYBUF_STATUS_NULL_POINTER);
    in.kind = 7;
    CHECK_STATUS(pybuf_set_item(&v, ix, 1, &in), PYBUF_STATUS_INVALID_ARGUMENT);
    in.kind = PYBUF_VALUE_BOOL;
    in.b = 2;
    CHECK_STATUS(pybuf_set_item(&v, ix, 1, &in), PYBUF_STATUS_INVALID_ARGUMENT);
    in.b = 1;
    CHECK_STATUS(pybuf_set_item(&v, ix, 3, &in), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(pybuf_set_item(&v, ix, 1, NULL), PYBUF_STATUS_NULL_POINTER);
    v.readonly = 1;
    CHECK_STATUS(pybuf_set_item(&v, ix, 1, &in), PYBUF_STATUS_READ_ONLY);
    CHECK_MEM_EQ(records[1], before, 16);
    {
        /* 'f' overflow, 'c' needs one byte, 'O' is never written, 's' pads */
        float f = 0;
        char c[1] = {'q'}, s[4] = {'w', 'w', 'w', 'w'};
        void *o = NULL;
        pybuf_buffer w = make_view(&f, 4, 0, NULL, NULL, NULL);
        w.format = (char *)"f";
        in.kind = PYBUF_VALUE_DOUBLE;
        in.real = 1e300;
        CHECK_STATUS(pybuf_set_item(&w, NULL, 0, &in), PYBUF_STATUS_VALUE_OUT_OF_RANGE);
        CHECK(f == 0);
        in.real = HUGE_VAL;
        CHECK_STATUS(pybuf_set_item(&w, NULL, 0, &in), 0);
        CHECK(isinf(f));
        w = make_view(c, 1, 0, NULL, NULL, NULL);
        w.format = (char *)"c";
        in.kind = PYBUF_VALUE_BYTES;
        in.bytes = "ab";
        in.size = 2;
        CHECK_STATUS(pybuf_set_item(&w, NULL, 0, &in), PYBUF_STATUS_TYPE_MISMATCH);
        in.size = 1;
        CHECK_STATUS(pybuf_set_item(&w, NULL, 0, &in), 0);
        CHECK_EQ(c[0], 'a');
        w = make_view(s, 4, 0, NULL, NULL, NULL);
        w.format = (char *)"4s";
        in.size = 2;
        CHECK_STATUS(pybuf_set_item(&w, NULL, 0, &in), 0);
        CHECK_MEM_EQ(s, "ab\0\0", 4);
        w = make_view(&o, sizeof o, 0, NULL, NULL, NULL);
        w.format = (char *)"O";
        in.kind = PYBUF_VALUE_UINT;
        in.u = 8;
        CHECK_STATUS(pybuf_set_item(&w, NULL, 0, &in), PYBUF_STATUS_TYPE_MISMATCH);
        CHECK_PTR_EQ(o, NULL);
    }
}

static void item_refusals(void) {
    pybuf_ssize_t shape[1], ix[1] = {2}, empty_len = 0;
    pybuf_buffer v = record_view(shape), e;
    pybuf_value out, snapshot;
    memset(&out, 0x5A, sizeof out);
    snapshot = out;
    CHECK_STATUS(pybuf_get_item(&v, ix, 0, &out), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(pybuf_get_item(&v, NULL, 0, &out), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_get_item(NULL, ix, 0, &out), PYBUF_STATUS_NULL_POINTER);
    ix[0] = 0;
    CHECK_STATUS(pybuf_get_item(&v, ix, 0, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_get_item(&v, ix, 3, &out), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STR_EQ(pybuf_last_error(),
                 "field = 3 is out of range: an item of format \"T{b:a:xxx>i:b:d:c:}\" has 3 values");
    CHECK_STATUS(pybuf_get_item(&v, ix, -1, &out), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    v.format = (char *)"T{b:a:";
    CHECK_STATUS(pybuf_get_item(&v, ix, 0, &out), PYBUF_STATUS_INVALID_FORMAT);
    CHECK_EQ(pybuf_item_fields(&v), -1);
    CHECK_LAST(PYBUF_STATUS_INVALID_FORMAT);
    v.format = (char *)"t";
    CHECK_STATUS(pybuf_get_item(&v, ix, 0, &out), PYBUF_STATUS_UNSUPPORTED_FORMAT);
    v.format = (char *)"3d"; /* 24 bytes of values in a 16-byte item */
    CHECK_STATUS(pybuf_get_item(&v, ix, 0, &out), PYBUF_STATUS_INVALID_ITEMSIZE);
    CHECK_EQ(pybuf_item_fields(&v), -1);
    CHECK_LAST(PYBUF_STATUS_INVALID_ITEMSIZE);
    CHECK_EQ(pybuf_item_fields(NULL), -1);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    v.format = NULL;
    v.itemsize = 0;
    CHECK_STATUS(pybuf_get_item(&v, ix, 0, &out), PYBUF_STATUS_INVALID_ITEMSIZE);
    /* an empty 0-d view (numpy's answer to PYBUF_SIMPLE for an empty array) */
    e = make_view(records, 8, 0, NULL, NULL, NULL);
    e.len = empty_len;
    CHECK_STATUS(pybuf_get_item(&e, NULL, 0, &out), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_MEM_EQ(&out, &snapshot, sizeof out);
}

static void iteration(void) {
    static int32_t a[2][3];
    pybuf_ssize_t shape[2] = {2, 3}, strides[2] = {-12, 4}, ix[2];
    pybuf_buffer v = make_view(&a[1][0], 4, 2, shape, strides, NULL);
    pybuf_iter *it, *untouched = (pybuf_iter *)&v;
    void *p;
    int n = 0, rc;
    CHECK_STATUS(pybuf_iter_new(&v, 'F', &it), 0);
    while ((rc = pybuf_iter_next(it, &p, ix)) == 1) {
        /* F order: (0,0) (1,0) (0,1) (1,1) (0,2) (1,2) */
        CHECK_EQ(ix[0], n % 2);
        CHECK_EQ(ix[1], n / 2);
        CHECK_PTR_EQ(p, &a[1 - ix[0]][ix[1]]);
        n++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 6);
    CHECK_EQ(pybuf_iter_next(it, &p, ix), 0); /* keeps returning 0 */
    pybuf_iter_free(it);
    pybuf_iter_free(NULL);
    CHECK_STATUS(pybuf_iter_new(&v, 'C', &it), 0);
    CHECK_EQ(pybuf_iter_next(it, NULL, NULL), 1);
    CHECK_EQ(pybuf_iter_next(it, &p, NULL), 1);
    CHECK_PTR_EQ(p, &a[1][1]);
    pybuf_iter_free(it);
    /* 0-d: one element; empty: none */
    v.ndim = 0;
    v.len = 4;
    CHECK_STATUS(pybuf_iter_new(&v, 'A', &it), 0);
    CHECK_EQ(pybuf_iter_next(it, &p, NULL), 1);
    CHECK_PTR_EQ(p, &a[1][0]);
    CHECK_EQ(pybuf_iter_next(it, &p, NULL), 0);
    pybuf_iter_free(it);
    v.ndim = 2;
    shape[1] = 0;
    v.len = 0;
    CHECK_STATUS(pybuf_iter_new(&v, 'C', &it), 0);
    CHECK_EQ(pybuf_iter_next(it, &p, ix), 0);
    pybuf_iter_free(it);
    /* refusals */
    it = untouched;
    CHECK_STATUS(pybuf_iter_new(&v, 'K', &it), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_iter_new(NULL, 'C', &it), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_iter_new(&v, 'C', NULL), PYBUF_STATUS_NULL_POINTER);
    v.len = 4;
    CHECK_STATUS(pybuf_iter_new(&v, 'C', &it), PYBUF_STATUS_LENGTH_MISMATCH);
    CHECK_PTR_EQ(it, untouched);
    CHECK_STATUS(pybuf_iter_next(NULL, &p, ix), PYBUF_STATUS_NULL_POINTER);
}

static void equality(void) {
    int32_t li[3] = {1, -2, 3};
    unsigned char bi[12];
    double d[3] = {3, -2, 1}, nan[1];
    signed char sb[3] = {1, -2, 3};
    pybuf_ssize_t three[1] = {3}, rev[1] = {-8}, one[1] = {1}, two[1] = {2};
    pybuf_ssize_t e0[2] = {0, 3}, e1[2] = {0, 4};
    pybuf_buffer a = make_view(li, 4, 1, three, NULL, NULL), b, c, n;
    int k;
    for (k = 0; k < 3; k++)
        put_be(bi + 4 * k, &li[k], 4);
    a.format = (char *)"<i";
    b = make_view(bi, 4, 1, three, NULL, NULL);
    b.format = (char *)">i"; /* '<i' equals '>i' holding the same values */
    CHECK_EQ(pybuf_equal(&a, &b), 1);
    CHECK_LAST(PYBUF_STATUS_OK);
    c = make_view(&d[2], 8, 1, three, rev, NULL);
    c.format = (char *)"d"; /* 1.0, -2.0, 3.0 read backwards */
    CHECK_EQ(pybuf_equal(&a, &c), 1);
    c = make_view(sb, 1, 1, three, NULL, NULL);
    c.format = (char *)"b";
    CHECK_EQ(pybuf_equal(&c, &b), 1);
    sb[1] = 2;
    CHECK_EQ(pybuf_equal(&c, &b), 0);
    CHECK_LAST(PYBUF_STATUS_VALUE_MISMATCH);
    CHECK_STR_EQ(pybuf_last_error(), "element [1], value 0: int 2 ('b') differs from int -2 ('i')");
    c.shape = two;
    c.len = 2;
    CHECK_EQ(pybuf_equal(&c, &b), 0);
    CHECK_LAST(PYBUF_STATUS_SHAPE_MISMATCH);
    /* NaN != NaN: a view holding one is not equal to itself */
    nan[0] = NAN;
    n = make_view(nan, 8, 1, one, NULL, NULL);
    n.format = (char *)"d";
    CHECK_EQ(pybuf_equal(&n, &n), 0);
    CHECK_LAST(PYBUF_STATUS_VALUE_MISMATCH);
    /* empty views are equal up to the first zero of the shape */
    a = make_view(li, 4, 2, e0, NULL, NULL);
    b = make_view(d, 8, 2, e1, NULL, NULL);
    CHECK_EQ(pybuf_equal(&a, &b), 1);
    /* refusals */
    CHECK_EQ(pybuf_equal(NULL, &b), PYBUF_STATUS_NULL_POINTER);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    b.format = (char *)"T{";
    CHECK_EQ(pybuf_equal(&a, &b), PYBUF_STATUS_INVALID_FORMAT);
    b.format = (char *)"2d";
    CHECK_EQ(pybuf_equal(&a, &b), PYBUF_STATUS_INVALID_ITEMSIZE);
    b.format = NULL;
    b.len = 1;
    CHECK_EQ(pybuf_equal(&a, &b), PYBUF_STATUS_LENGTH_MISMATCH);
}

static void validation(void) {
    static double mem[12];
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {32, 8}, subs[2] = {-1, -1}, neg[2] = {3, -4};
    pybuf_ssize_t lo = 7, hi = 7;
    pybuf_buffer v = make_view(mem, 8, 2, shape, strides, NULL);
    v.format = (char *)"d";
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, NULL, 0), 0);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, NULL, 0), 0);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, mem, sizeof mem), 0);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, mem, sizeof mem - 1), PYBUF_STATUS_LENGTH_MISMATCH);
    CHECK_STR_EQ(pybuf_last_error(), "an element reaches bytes [0, 96) relative to base, outside the 95-byte memory");
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, &mem[1], 88), PYBUF_STATUS_LENGTH_MISMATCH);
    CHECK_STATUS(pybuf_extent(&v, &lo, &hi), 0);
    CHECK_EQ(lo, 0);
    CHECK_EQ(hi, 96);
    /* rows reversed: the extent reaches back from buf */
    v.buf = &mem[8];
    strides[0] = -32;
    CHECK_STATUS(pybuf_extent(&v, &lo, &hi), 0);
    CHECK_EQ(lo, -64);
    CHECK_EQ(hi, 32);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, mem, sizeof mem), 0);
    /* each level's refusals */
    CHECK_STATUS(pybuf_validate(&v, 0, NULL, 0), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_validate(&v, 4, NULL, 0), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_validate(NULL, 1, NULL, 0), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, NULL, 96), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, mem, -1), PYBUF_STATUS_INVALID_ARGUMENT);
    v.format = (char *)"f";
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, NULL, 0), 0);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, NULL, 0), PYBUF_STATUS_INVALID_ITEMSIZE);
    CHECK_STR_EQ(pybuf_last_error(), "itemsize = 8 but format \"f\" has size 4");
    v.format = (char *)"T{d";
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, NULL, 0), PYBUF_STATUS_INVALID_FORMAT);
    v.format = NULL; /* not checked: a request without PYBUF_FORMAT */
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, NULL, 0), 0);
    v.ndim = -1;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_INVALID_NDIM);
    v.ndim = 2;
    v.shape = neg;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_INVALID_SHAPE);
    v.shape = NULL;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_INVALID_SHAPE);
    v.shape = shape;
    v.itemsize = -8;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = 8;
    v.len = 97;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_LENGTH_MISMATCH);
    v.len = 96;
    strides[1] = PTRDIFF_MAX / 2;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_OVERFLOW);
    strides[1] = 8;
    v.readonly = 3;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_INVALID_ARGUMENT);
    v.readonly = 0;
    v.buf = NULL;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_NULL_POINTER);
    v.buf = &mem[8];
    v.suboffsets = subs; /* suboffsets without strides */
    v.strides = NULL;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_INVALID_SUBOFFSETS);
    v.shape = NULL; /* strides without a shape */
    v.ndim = 1;
    v.suboffsets = NULL;
    v.strides = strides;
    CHECK_STATUS(pybuf_validate(&v, 1, NULL, 0), PYBUF_STATUS_INVALID_STRIDES);
    /* extent refusals, outputs untouched */
    lo = hi = 7;
    CHECK_STATUS(pybuf_extent(&v, &lo, &hi), PYBUF_STATUS_INVALID_STRIDES);
    CHECK_STATUS(pybuf_extent(NULL, &lo, &hi), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_extent(&v, NULL, &hi), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_extent(&v, &lo, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(lo, 7);
    CHECK_EQ(hi, 7);
}

static void validation_with_pointers(void) {
    /* A PIL-style 2x4 int32 image in one block: two row pointers, then the rows. */
    static unsigned char block[2 * sizeof(void *) + 32];
    unsigned char *rows = block + 2 * sizeof(void *);
    unsigned char *ptrs[2];
    pybuf_ssize_t shape[2] = {2, 4}, strides[2] = {(pybuf_ssize_t)sizeof(void *), 4}, subs[2] = {0, -1};
    pybuf_ssize_t lo, hi;
    pybuf_buffer v = make_view(block, 4, 2, shape, strides, subs);
    ptrs[0] = rows + 16;
    ptrs[1] = rows;
    memcpy(block, ptrs, sizeof ptrs);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, block, sizeof block), 0);
    CHECK_STATUS(pybuf_extent(&v, &lo, &hi), 0);
    CHECK_EQ(lo, 0);
    CHECK_EQ(hi, (pybuf_ssize_t)sizeof block);
    /* a row that runs past the block */
    subs[0] = 4;
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, block, sizeof block), PYBUF_STATUS_LENGTH_MISMATCH);
    /* a pointer slot outside the block is refused before it is read */
    subs[0] = 0;
    strides[0] = 4096;
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, block, sizeof block), PYBUF_STATUS_LENGTH_MISMATCH);
    strides[0] = (pybuf_ssize_t)sizeof(void *);
    /* a pointer to the far end of the address space: its elements cannot be told as an
       offset from buf (nothing is read there) */
    ptrs[0] = (unsigned char *)((uintptr_t)block + (uintptr_t)PTRDIFF_MAX);
    memcpy(block, ptrs, sizeof ptrs);
    lo = hi = 7;
    CHECK_STATUS(pybuf_extent(&v, &lo, &hi), PYBUF_STATUS_OVERFLOW);
    CHECK_EQ(lo, 7);
    CHECK_STATUS(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, block, sizeof block), PYBUF_STATUS_LENGTH_MISMATCH);
}

int main(void) {
    RUN(get_items);
    RUN(set_items);
    RUN(item_refusals);
    RUN(iteration);
    RUN(equality);
    RUN(validation);
    RUN(validation_with_pointers);
    return check_report();
}
