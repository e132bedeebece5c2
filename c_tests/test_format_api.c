/*
 * The format handle API: pybuf_format_parse/free, itemsize, alignment, fields (names,
 * offsets, codes, byte orders, shapes, nested structs), leaves, runs, the canonical
 * string, equality and layout compatibility; pybuf_check_format(_ex); every NULL and
 * error path; and a table of malformed strings, each with its status, that must fail
 * without touching the output and with a message naming the position.
 */
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The byte order of this machine, and the other one. */
static int little_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}
#define NATIVE_ORDER (little_endian() ? PYBUF_BYTE_ORDER_LITTLE : PYBUF_BYTE_ORDER_BIG)
#define FOREIGN_ORDER (little_endian() ? PYBUF_BYTE_ORDER_BIG : PYBUF_BYTE_ORDER_LITTLE)

/* Parse `s`, which must succeed. */
static pybuf_format *parse(const char *s) {
    pybuf_format *f = NULL;
    int rc = pybuf_format_parse(s, &f);
    if (rc != 0 || f == NULL)
        CHECK_FAIL_("%s:%d: pybuf_format_parse(\"%s\") = %d: %s\n", __FILE__, __LINE__, s, rc,
                    pybuf_last_error());
    return f;
}

static pybuf_format_field field_of(const pybuf_format *f, pybuf_ssize_t i) {
    pybuf_format_field out;
    memset(&out, 0, sizeof out);
    CHECK_STATUS(pybuf_format_get_field(f, i, &out), PYBUF_STATUS_OK);
    return out;
}

static pybuf_format_leaf leaf_of(const pybuf_format *f, pybuf_ssize_t i) {
    pybuf_format_leaf out;
    memset(&out, 0, sizeof out);
    CHECK_STATUS(pybuf_format_get_leaf(f, i, &out), PYBUF_STATUS_OK);
    return out;
}

/* ------------------------------------------------------------------------------------ */

static void walks_fields_and_nested_structs(void) {
    pybuf_format *f = parse("T{b:a:(2,3)<h:m:T{d:x:}:s:}:top: 2i");
    pybuf_format_field top, a, m, s, x, ints;
    const pybuf_format *inner, *deeper;
    if (f == NULL)
        return;
    PROVOKE_ERROR();
    CHECK_EQ(pybuf_format_itemsize(f), 21 + 8); /* '<' persists: the ints are unaligned */
    CHECK_LAST(PYBUF_STATUS_OK);
    CHECK_EQ(pybuf_format_field_count(f), 2);
    CHECK_EQ(pybuf_format_alignment(f), 1);

    top = field_of(f, 0);
    CHECK_STR_EQ(top.name, "top");
    CHECK_STR_EQ(top.code, "T{}");
    CHECK_EQ(top.offset, 0);
    CHECK_EQ(top.size, 21);
    CHECK_EQ(top.element_size, 21);
    CHECK_EQ(top.count, 1);
    CHECK_EQ(top.values, 1);
    CHECK_EQ(top.ndim, 0);
    CHECK(top.shape == NULL);
    CHECK_EQ(top.mode, '<');
    CHECK(top.nested != NULL);

    ints = field_of(f, 1);
    CHECK(ints.name == NULL);
    CHECK_STR_EQ(ints.code, "i");
    CHECK_EQ(ints.offset, 21);
    CHECK_EQ(ints.count, 2);
    CHECK_EQ(ints.values, 2);
    CHECK_EQ(ints.element_size, 4);
    CHECK_EQ(ints.size, 8);
    CHECK_EQ(ints.alignment, 1);
    CHECK_EQ(ints.byte_order, PYBUF_BYTE_ORDER_LITTLE);
    CHECK(ints.nested == NULL);

    inner = top.nested;
    CHECK_EQ(pybuf_format_itemsize(inner), 21);
    CHECK_EQ(pybuf_format_field_count(inner), 3);
    a = field_of(inner, 0);
    m = field_of(inner, 1);
    s = field_of(inner, 2);
    CHECK_STR_EQ(a.name, "a");
    CHECK_STR_EQ(a.code, "b");
    CHECK_EQ(a.mode, '@');
    CHECK_EQ(a.byte_order, NATIVE_ORDER);
    CHECK_EQ(a.alignment, 1);
    CHECK_STR_EQ(m.name, "m");
    CHECK_EQ(m.offset, 1);
    CHECK_EQ(m.ndim, 2);
    if (m.ndim == 2 && m.shape != NULL) {
        CHECK_EQ(m.shape[0], 2);
        CHECK_EQ(m.shape[1], 3);
    }
    CHECK_EQ(m.values, 6);
    CHECK_EQ(m.element_size, 2);
    CHECK_EQ(m.mode, '<');
    CHECK_EQ(m.byte_order, PYBUF_BYTE_ORDER_LITTLE);
    CHECK_STR_EQ(s.name, "s");
    CHECK_EQ(s.offset, 13);
    CHECK_STR_EQ(s.code, "T{}");
    deeper = s.nested;
    CHECK(deeper != NULL);
    CHECK_EQ(pybuf_format_field_count(deeper), 1);
    x = field_of(deeper, 0);
    CHECK_STR_EQ(x.name, "x");
    CHECK_STR_EQ(x.code, "d");
    CHECK_EQ(x.offset, 0);
    CHECK_EQ(x.alignment, 1);
    CHECK_STR_EQ(pybuf_format_canonical(deeper), "<d:x:");

    /* A nested handle is part of its parent: freeing it is refused and harmless. */
    pybuf_format_free((pybuf_format *)inner);
    CHECK_LAST(PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(pybuf_format_field_count(inner), 3);

    pybuf_format_free(f);
    CHECK_LAST(PYBUF_STATUS_OK);
}

/* Native layouts equal this C compiler's. */
struct c_mixed {
    char a;
    double b;
    short c[3];
    struct {
        char x;
        int y;
    } s[2];
    long long q;
    char tail;
};

/* The alignment of struct c_mixed, in C99. */
struct c_mixed_probe {
    char c;
    struct c_mixed m;
};

static void native_layout_equals_the_c_compilers(void) {
    pybuf_format *f = parse("T{c:a:d:b:3h:c:(2)T{c:x:i:y:}:s:q:q:c:tail:}");
    pybuf_format_field st, fld;
    if (f == NULL)
        return;
    CHECK_EQ(pybuf_format_itemsize(f), sizeof(struct c_mixed));
    st = field_of(f, 0);
    CHECK_EQ(pybuf_format_alignment(st.nested), offsetof(struct c_mixed_probe, m));
    CHECK_EQ(pybuf_format_alignment(f), offsetof(struct c_mixed_probe, m));
    fld = field_of(st.nested, 1);
    CHECK_EQ(fld.offset, offsetof(struct c_mixed, b));
    fld = field_of(st.nested, 2);
    CHECK_EQ(fld.offset, offsetof(struct c_mixed, c));
    fld = field_of(st.nested, 3);
    CHECK_EQ(fld.offset, offsetof(struct c_mixed, s));
    CHECK_EQ(fld.element_size, sizeof(((struct c_mixed *)0)->s[0]));
    CHECK_EQ(fld.size, sizeof(((struct c_mixed *)0)->s));
    fld = field_of(st.nested, 4);
    CHECK_EQ(fld.offset, offsetof(struct c_mixed, q));
    fld = field_of(st.nested, 5);
    CHECK_EQ(fld.offset, offsetof(struct c_mixed, tail));
    pybuf_format_free(f);

    /* The top level follows struct.calcsize: no trailing padding. */
    f = parse("ib");
    if (f != NULL) {
        CHECK_EQ(pybuf_format_itemsize(f), 5);
        CHECK_EQ(pybuf_format_alignment(f), 4);
    }
    pybuf_format_free(f);
}

static void leaves_flatten_nested_structs(void) {
    pybuf_format *f = parse("b 3T{i(2)h:z:} 4s");
    pybuf_format_leaf l;
    if (f == NULL)
        return;
    PROVOKE_ERROR();
    CHECK_EQ(pybuf_format_leaf_count(f), 4);
    CHECK_LAST(PYBUF_STATUS_OK);
    l = leaf_of(f, 0);
    CHECK_STR_EQ(l.code, "b");
    CHECK_EQ(l.offset, 0);
    CHECK_EQ(l.nrepeats, 0);
    CHECK(l.repeats == NULL);
    CHECK_EQ(l.total, 1);
    l = leaf_of(f, 1);
    CHECK_STR_EQ(l.code, "i");
    CHECK_EQ(l.offset, 4);
    CHECK_EQ(l.size, 4);
    CHECK_EQ(l.count, 1);
    CHECK_EQ(l.nrepeats, 1);
    if (l.nrepeats == 1 && l.repeats != NULL) {
        CHECK_EQ(l.repeats[0].count, 3);
        CHECK_EQ(l.repeats[0].stride, 8);
    }
    CHECK_EQ(l.total, 3);
    CHECK(l.name == NULL);
    l = leaf_of(f, 2);
    CHECK_STR_EQ(l.code, "h");
    CHECK_STR_EQ(l.name, "z");
    CHECK_EQ(l.offset, 8);
    CHECK_EQ(l.count, 2);
    CHECK_EQ(l.total, 6);
    CHECK_EQ(l.byte_order, NATIVE_ORDER);
    CHECK_EQ(l.mode, '@');
    l = leaf_of(f, 3);
    CHECK_STR_EQ(l.code, "s");
    CHECK_EQ(l.offset, 28);
    CHECK_EQ(l.size, 4);
    CHECK_EQ(l.count, 1);
    CHECK_EQ(pybuf_format_itemsize(f), 32);
    pybuf_format_free(f);

    /* A huge repeat costs nothing; nested repeats list outermost first. */
    f = parse("1000000000T{id}");
    if (f != NULL) {
        CHECK_EQ(pybuf_format_leaf_count(f), 2);
        l = leaf_of(f, 1);
        CHECK_EQ(l.total, 1000000000);
        CHECK_EQ(l.offset, 8);
    }
    pybuf_format_free(f);
    f = parse("2T{b3T{>h}}");
    if (f != NULL) {
        l = leaf_of(f, 1);
        CHECK_EQ(l.nrepeats, 2);
        if (l.nrepeats == 2 && l.repeats != NULL) {
            CHECK_EQ(l.repeats[0].count, 2);
            CHECK_EQ(l.repeats[0].stride, 7);
            CHECK_EQ(l.repeats[1].count, 3);
            CHECK_EQ(l.repeats[1].stride, 2);
        }
        CHECK_EQ(l.byte_order, PYBUF_BYTE_ORDER_BIG);
        CHECK_EQ(l.mode, '>');
        CHECK_EQ(l.total, 6);
    }
    pybuf_format_free(f);
    /* Pointers and function pointers are leaves; pads are too. */
    f = parse("&T{ii}xX{i->d}");
    if (f != NULL) {
        CHECK_EQ(pybuf_format_leaf_count(f), 3);
        CHECK_STR_EQ(leaf_of(f, 0).code, "&");
        CHECK_STR_EQ(leaf_of(f, 1).code, "x");
        CHECK_STR_EQ(leaf_of(f, 2).code, "X{}");
        CHECK_EQ(leaf_of(f, 2).size, sizeof(void (*)(void)));
    }
    pybuf_format_free(f);
}

static void runs_walk_every_value_in_offset_order(void) {
    static const struct {
        pybuf_ssize_t offset;
        const char *code;
        pybuf_ssize_t size, count;
    } want[] = {{0, "b", 1, 1}, {4, "i", 4, 1}, {8, "h", 2, 2}, {12, "i", 4, 1},
                {16, "h", 2, 2}, {20, "x", 1, 1}};
    pybuf_format *f = parse("b2T{i(2)h}x");
    pybuf_format_runs *it = NULL;
    pybuf_format_run r, untouched;
    size_t n = 0;
    if (f == NULL)
        return;
    CHECK_STATUS(pybuf_format_runs_new(f, &it), PYBUF_STATUS_OK);
    /* The iterator keeps what it needs: the handle may go first. */
    pybuf_format_free(f);
    if (it == NULL)
        return;
    while (pybuf_format_runs_next(it, &r) == 1) {
        CHECK(n < sizeof want / sizeof want[0]);
        if (n < sizeof want / sizeof want[0]) {
            CHECK_EQ(r.offset, want[n].offset);
            CHECK_STR_EQ(r.code, want[n].code);
            CHECK_EQ(r.size, want[n].size);
            CHECK_EQ(r.count, want[n].count);
            CHECK_EQ(r.mode, '@');
            CHECK_EQ(r.byte_order, NATIVE_ORDER);
        }
        n++;
    }
    CHECK_EQ(n, sizeof want / sizeof want[0]);
    CHECK_LAST(PYBUF_STATUS_OK);
    memset(&untouched, 0x5A, sizeof untouched);
    r = untouched;
    CHECK_EQ(pybuf_format_runs_next(it, &r), 0); /* and again after the end */
    CHECK_MEM_EQ(&r, &untouched, sizeof r);
    CHECK_STATUS(pybuf_format_runs_next(it, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_format_runs_next(NULL, &r), PYBUF_STATUS_NULL_POINTER);
    pybuf_format_runs_free(it);
    pybuf_format_runs_free(NULL);
    CHECK_LAST(PYBUF_STATUS_OK);
}

static void canonical_strings_round_trip(void) {
    static const char *const cases[][2] = {
        {"", ""},
        {" 1i 2x ", "i2x"},
        {"!i", ">i"},
        {"<i<d", "<id"},
        {"(2)<i", "<(2)i"},
        {"T{<i}b", "T{<i}b"},
        {"T{ i :a b: }", "T{i:a b:}"},
        {"X{ii->d}:f:", "X{ii->d}:f:"},
        {"&<i", "&<i"},
        {"Zd Zf", "ZdZf"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pybuf_format *f = parse(cases[i][0]);
        pybuf_format *g;
        const char *c;
        if (f == NULL)
            continue;
        c = pybuf_format_canonical(f);
        CHECK_STR_EQ(c, cases[i][1]);
        CHECK_PTR_EQ(pybuf_format_canonical(f), c); /* cached: the same string */
        g = parse(c);
        if (g != NULL) {
            CHECK_EQ(pybuf_format_equal(f, g), 1);
            CHECK_LAST(PYBUF_STATUS_OK);
            CHECK_EQ(pybuf_format_compatible(f, g), 1);
        }
        pybuf_format_free(g);
        pybuf_format_free(f);
    }
}

/* pybuf_format_equal / compatible of two strings; -100 when one does not parse. */
static int equal(const char *a, const char *b) {
    pybuf_format *f = parse(a), *g = parse(b);
    int r = f && g ? pybuf_format_equal(f, g) : -100;
    pybuf_format_free(g);
    pybuf_format_free(f);
    return r;
}

static int compatible(const char *a, const char *b) {
    pybuf_format *f = parse(a), *g = parse(b);
    int r = f && g ? pybuf_format_compatible(f, g) : -100;
    pybuf_format_free(g);
    pybuf_format_free(f);
    return r;
}

/* As above, but keep the message of the comparison (the frees would clear it). */
static int compatible_msg(const char *a, const char *b, char *msg, size_t n) {
    pybuf_format *f = parse(a), *g = parse(b);
    int r = f && g ? pybuf_format_compatible(f, g) : -100;
    snprintf(msg, n, "%s", pybuf_last_error());
    pybuf_format_free(g);
    pybuf_format_free(f);
    return r;
}

static void equality_and_compatibility(void) {
    pybuf_format *f, *g;
    char msg[512];
    const char *native = little_endian() ? "<d" : ">d";
    const char *foreign = little_endian() ? ">d" : "<d";

    CHECK_EQ(equal("!i", ">i"), 1);
    CHECK_EQ(equal("i  i", "ii"), 1);
    CHECK_EQ(equal("2i", "ii"), 0);
    CHECK_EQ(equal("=i", "i"), 0);
    CHECK_EQ(equal("T{i<}", "T{i}"), 0);

    CHECK_EQ(compatible(native, "d"), 1);
    CHECK_EQ(compatible(foreign, "d"), 0);
    CHECK_EQ(compatible("l", "q"), sizeof(long) == 8 ? 1 : 0);
    CHECK_EQ(compatible("i", "f"), 0);
    CHECK_EQ(compatible("i", "I"), 0);
    CHECK_EQ(compatible("T{ii}", "2i"), 1);
    CHECK_EQ(compatible("T{i:a:f:b:}", "if"), 1);
    CHECK_EQ(compatible("bi", "b3xi"), 1);
    CHECK_EQ(compatible("3s", "3c"), 1);
    CHECK_EQ(compatible("1000000000i", "(1000000000)i"), 1);

    /* 0 records the first difference, with its offset and field. */
    f = parse("T{i:a:d:b:}");
    g = parse("T{i:a:q:b:}");
    if (f != NULL && g != NULL) {
        CHECK_EQ(pybuf_format_equal(f, g), 0);
        CHECK_LAST(PYBUF_STATUS_FORMAT_MISMATCH);
        CHECK(strstr(pybuf_last_error(), "field #0.'b'") != NULL);
        CHECK_EQ(pybuf_format_compatible(f, g), 0);
        CHECK_LAST(PYBUF_STATUS_FORMAT_MISMATCH);
        CHECK(strstr(pybuf_last_error(), "byte offset 8") != NULL);
        CHECK(strstr(pybuf_last_error(), "(field b)") != NULL);
        CHECK_EQ(pybuf_format_equal(f, f), 1);
        CHECK_LAST(PYBUF_STATUS_OK);
    }
    pybuf_format_free(g);
    pybuf_format_free(f);
    CHECK_EQ(compatible_msg("i", "ix", msg, sizeof msg), 0);
    CHECK(strstr(msg, "item sizes differ: 4 vs 5") != NULL);

    /* Nested handles compare like any other. */
    f = parse("T{i:a:}");
    g = parse("i:a:");
    if (f != NULL && g != NULL) {
        pybuf_format_field top = field_of(f, 0);
        CHECK_EQ(pybuf_format_equal(top.nested, g), 1);
        CHECK_EQ(pybuf_format_equal(f, g), 0);
        CHECK_EQ(pybuf_format_compatible(f, g), 1);
    }
    pybuf_format_free(g);
    pybuf_format_free(f);
}

/* ------------------------------------------------------------------------------------ */
/* pybuf_check_format */

static void check_format_as_a_typed_memoryview(void) {
    double d[6] = {0};
    int32_t i[6] = {0};
    pybuf_ssize_t shape1[1] = {6}, shape2[2] = {2, 3}, fstrides[2] = {8, 16};
    pybuf_buffer v = make_view(d, 8, 1, shape1, NULL, NULL);
    char native[3] = {little_endian() ? '<' : '>', 'd', 0};
    char foreign[3] = {little_endian() ? '>' : '<', 'd', 0};

    v.format = native;
    CHECK_STATUS(pybuf_check_format(&v, "d"), PYBUF_STATUS_OK);
    v.format = foreign;
    CHECK_STATUS(pybuf_check_format(&v, "d"), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK(strstr(pybuf_last_error(), "first difference at byte offset 0") != NULL);
    v.format = (char *)"l";
    CHECK_STATUS(pybuf_check_format(&v, "q"),
                 sizeof(long) == 8 ? PYBUF_STATUS_OK : PYBUF_STATUS_FORMAT_MISMATCH);

    v = make_view(i, 4, 1, shape1, NULL, NULL);
    v.format = (char *)"i";
    CHECK_STATUS(pybuf_check_format(&v, "f"), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK(strstr(pybuf_last_error(), "'i' (4 bytes") != NULL);
    CHECK(strstr(pybuf_last_error(), "'f' (4 bytes") != NULL);
    CHECK_STATUS(pybuf_check_format(&v, "d"), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK(strstr(pybuf_last_error(), "view->itemsize is 4") != NULL);
    CHECK_STATUS(pybuf_check_format(&v, "T{i:x:}"), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_check_format(&v, "=i"), PYBUF_STATUS_OK);

    /* A struct: the message names the first differing field and its offset. */
    v = make_view(d, 16, 1, shape2, NULL, NULL);
    v.format = (char *)"T{d:x:i:y:i:z:}";
    CHECK_STATUS(pybuf_check_format(&v, "T{d:x:i:y:i:z:}"), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_check_format(&v, "dii"), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_check_format(&v, "T{d:x:i:y:f:z:}"), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK(strstr(pybuf_last_error(), "byte offset 12") != NULL);
    CHECK(strstr(pybuf_last_error(), "(field z)") != NULL);

    /* The view's format may be shorter than its itemsize (trailing padding). */
    v.format = (char *)"dii";
    CHECK_STATUS(pybuf_check_format(&v, "T{dii}"), PYBUF_STATUS_OK);
    v.format = (char *)"dxxxxi"; /* a value beyond the expected one */
    CHECK_STATUS(pybuf_check_format(&v, "dii"), PYBUF_STATUS_FORMAT_MISMATCH);

    /* NULL format means "B". */
    v = make_view(d, 1, 1, shape1, NULL, NULL);
    CHECK_STATUS(pybuf_check_format(&v, "B"), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_check_format(&v, "b"), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK_STATUS(pybuf_check_format(&v, "x"), PYBUF_STATUS_FORMAT_MISMATCH);

    /* Errors: which string is malformed is said. */
    v = make_view(i, 4, 1, shape1, NULL, NULL);
    v.format = (char *)"i";
    CHECK_STATUS(pybuf_check_format(&v, "T{i"), PYBUF_STATUS_INVALID_FORMAT);
    CHECK(strncmp(pybuf_last_error(), "expected: format \"T{i\" at 3:", 28) == 0);
    v.format = (char *)"q:x";
    CHECK_STATUS(pybuf_check_format(&v, "i"), PYBUF_STATUS_INVALID_FORMAT);
    CHECK(strncmp(pybuf_last_error(), "view->format: ", 14) == 0);
    v.format = (char *)"i";
    CHECK_STATUS(pybuf_check_format(NULL, "i"), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_check_format(&v, NULL), PYBUF_STATUS_NULL_POINTER);
    v.itemsize = 0;
    CHECK_STATUS(pybuf_check_format(&v, "i"), PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = 4;
    v.ndim = -1;
    CHECK_STATUS(pybuf_check_format(&v, "i"), PYBUF_STATUS_INVALID_NDIM);

    /* _ex: ndim and contiguity. */
    v = make_view(d, 8, 2, shape2, NULL, NULL);
    v.format = (char *)"d";
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", 2, 'C'), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", -1, 0), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", 2, 'A'), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", 1, 0), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK(strstr(pybuf_last_error(), "2 dimension(s), expected 1") != NULL);
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", 2, 'F'), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK(strstr(pybuf_last_error(), "Fortran-contiguous") != NULL);
    CHECK_STATUS(pybuf_check_format_ex(&v, "f", 2, 'C'), PYBUF_STATUS_FORMAT_MISMATCH);
    v.strides = fstrides;
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", 2, 'F'), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", 2, 'C'), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK(strstr(pybuf_last_error(), "C-contiguous") != NULL);
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", 2, 'X'), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", -2, 0), PYBUF_STATUS_INVALID_NDIM);
    CHECK_STATUS(pybuf_check_format_ex(&v, "d", 65, 0), PYBUF_STATUS_INVALID_NDIM);
    CHECK_STATUS(pybuf_check_format_ex(NULL, "d", 2, 0), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_check_format_ex(&v, NULL, 2, 0), PYBUF_STATUS_NULL_POINTER);
}

/* ------------------------------------------------------------------------------------ */
/* NULL and error paths of every handle function */

static void null_and_range_errors(void) {
    pybuf_format *f = parse("ii:n:");
    pybuf_format *out = (pybuf_format *)&out; /* a sentinel that must survive */
    pybuf_format_field fl, fl_snap;
    pybuf_format_leaf lf, lf_snap;
    pybuf_format_runs *it = (pybuf_format_runs *)&it;
    if (f == NULL)
        return;
    memset(&fl, 0x5A, sizeof fl);
    fl_snap = fl;
    memset(&lf, 0x5A, sizeof lf);
    lf_snap = lf;

    CHECK_STATUS(pybuf_format_parse(NULL, &out), PYBUF_STATUS_NULL_POINTER);
    CHECK_PTR_EQ(out, &out);
    CHECK_STATUS(pybuf_format_parse("i", NULL), PYBUF_STATUS_NULL_POINTER);

    CHECK_EQ(pybuf_format_itemsize(NULL), -1);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_format_alignment(NULL), -1);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_format_field_count(NULL), -1);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_format_leaf_count(NULL), -1);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    CHECK(pybuf_format_canonical(NULL) == NULL);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);

    CHECK_STATUS(pybuf_format_get_field(NULL, 0, &fl), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_format_get_field(f, 0, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_format_get_field(f, 2, &fl), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK(strstr(pybuf_last_error(), "field index 2 is not in 0..2") != NULL);
    CHECK_STATUS(pybuf_format_get_field(f, -1, &fl), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_MEM_EQ(&fl, &fl_snap, sizeof fl);
    CHECK_STATUS(pybuf_format_get_leaf(NULL, 0, &lf), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_format_get_leaf(f, 0, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_format_get_leaf(f, 2, &lf), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(pybuf_format_get_leaf(f, -1 - (pybuf_ssize_t)((size_t)-1 >> 1), &lf), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_MEM_EQ(&lf, &lf_snap, sizeof lf);

    CHECK_EQ(pybuf_format_equal(NULL, f), PYBUF_STATUS_NULL_POINTER);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_format_equal(f, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_format_compatible(NULL, f), PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_format_compatible(f, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);

    CHECK_STATUS(pybuf_format_runs_new(NULL, &it), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_format_runs_new(f, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_PTR_EQ(it, &it);

    PROVOKE_ERROR();
    pybuf_format_free(NULL);
    CHECK_LAST(PYBUF_STATUS_OK);
    pybuf_format_free(f);
}

/* ------------------------------------------------------------------------------------ */
/* Malformed strings */

static const struct {
    const char *format;
    int status;
} MALFORMED[] = {
    /* unterminated, unbalanced, misplaced */
    {"T{i", PYBUF_STATUS_INVALID_FORMAT},
    {"T{", PYBUF_STATUS_INVALID_FORMAT},
    {"T{T{i}", PYBUF_STATUS_INVALID_FORMAT},
    {"}", PYBUF_STATUS_INVALID_FORMAT},
    {"T{i}}", PYBUF_STATUS_INVALID_FORMAT},
    {"ii}", PYBUF_STATUS_INVALID_FORMAT},
    {"{", PYBUF_STATUS_INVALID_FORMAT},
    {"T{{}}", PYBUF_STATUS_INVALID_FORMAT},
    {"T", PYBUF_STATUS_INVALID_FORMAT},
    {"T(i)", PYBUF_STATUS_INVALID_FORMAT},
    {"T {i}", PYBUF_STATUS_INVALID_FORMAT},
    {"X", PYBUF_STATUS_INVALID_FORMAT},
    {"X{i", PYBUF_STATUS_INVALID_FORMAT},
    {"X{i->", PYBUF_STATUS_INVALID_FORMAT},
    {"X{->}", PYBUF_STATUS_INVALID_FORMAT},
    {"X{i->d->i}", PYBUF_STATUS_INVALID_FORMAT},
    {"->i", PYBUF_STATUS_INVALID_FORMAT},
    {"T{i->d}", PYBUF_STATUS_INVALID_FORMAT},
    /* codes */
    {"a", PYBUF_STATUS_INVALID_FORMAT},
    {"ia", PYBUF_STATUS_INVALID_FORMAT},
    {"y", PYBUF_STATUS_INVALID_FORMAT},
    {"z", PYBUF_STATUS_INVALID_FORMAT},
    {"#", PYBUF_STATUS_INVALID_FORMAT},
    {"-", PYBUF_STATUS_INVALID_FORMAT},
    {"i,", PYBUF_STATUS_INVALID_FORMAT},
    {"i\x07", PYBUF_STATUS_INVALID_FORMAT},
    {"i\x80", PYBUF_STATUS_INVALID_FORMAT},
    {"\xef\xbb\xbfi", PYBUF_STATUS_INVALID_FORMAT},
    {"Z", PYBUF_STATUS_INVALID_FORMAT},
    {"Zx", PYBUF_STATUS_INVALID_FORMAT},
    {"Zi", PYBUF_STATUS_INVALID_FORMAT},
    {"Z f", PYBUF_STATUS_INVALID_FORMAT},
    {"<Z", PYBUF_STATUS_INVALID_FORMAT},
    {"&", PYBUF_STATUS_INVALID_FORMAT},
    {"&}", PYBUF_STATUS_INVALID_FORMAT},
    {"T{&}", PYBUF_STATUS_INVALID_FORMAT},
    {"&:p:", PYBUF_STATUS_INVALID_FORMAT},
    /* counts and shapes */
    {"3", PYBUF_STATUS_INVALID_FORMAT},
    {"3 i", PYBUF_STATUS_INVALID_FORMAT},
    {"3<i", PYBUF_STATUS_INVALID_FORMAT},
    {"3-", PYBUF_STATUS_INVALID_FORMAT},
    {"3T", PYBUF_STATUS_INVALID_FORMAT},
    {"T{3}", PYBUF_STATUS_INVALID_FORMAT},
    {"X{3->i}", PYBUF_STATUS_INVALID_FORMAT},
    {"(2", PYBUF_STATUS_INVALID_FORMAT},
    {"()i", PYBUF_STATUS_INVALID_FORMAT},
    {"(2,)i", PYBUF_STATUS_INVALID_FORMAT},
    {"(,2)i", PYBUF_STATUS_INVALID_FORMAT},
    {"(2)", PYBUF_STATUS_INVALID_FORMAT},
    {"(2)}", PYBUF_STATUS_INVALID_FORMAT},
    {"(2)<", PYBUF_STATUS_INVALID_FORMAT},
    {"(a)i", PYBUF_STATUS_INVALID_FORMAT},
    {"(2;3)i", PYBUF_STATUS_INVALID_FORMAT},
    {"((2))i", PYBUF_STATUS_INVALID_FORMAT},
    {"(2 3)i", PYBUF_STATUS_INVALID_FORMAT},
    {"(-2)i", PYBUF_STATUS_INVALID_FORMAT},
    {"3(2)i", PYBUF_STATUS_INVALID_FORMAT},
    {"T{(2)}", PYBUF_STATUS_INVALID_FORMAT},
    /* names */
    {"i:", PYBUF_STATUS_INVALID_FORMAT},
    {"i:a", PYBUF_STATUS_INVALID_FORMAT},
    {"T{i:a}", PYBUF_STATUS_INVALID_FORMAT},
    {"i::", PYBUF_STATUS_INVALID_FORMAT},
    {":a:", PYBUF_STATUS_INVALID_FORMAT},
    {"i:a::b:", PYBUF_STATUS_INVALID_FORMAT},
    {"i<:a:", PYBUF_STATUS_INVALID_FORMAT},
    {"i:a:i:a:", PYBUF_STATUS_INVALID_FORMAT},
    {"T{i:a:i:a:}", PYBUF_STATUS_INVALID_FORMAT},
    {"i:\xff:", PYBUF_STATUS_INVALID_FORMAT},
    {"T{i:a:}:a", PYBUF_STATUS_INVALID_FORMAT},
    /* codes that have no standard size */
    {"<n", PYBUF_STATUS_INVALID_FORMAT},
    {">N", PYBUF_STATUS_INVALID_FORMAT},
    {"=n", PYBUF_STATUS_INVALID_FORMAT},
    {"!N", PYBUF_STATUS_INVALID_FORMAT},
    {"T{<n}", PYBUF_STATUS_INVALID_FORMAT},
    {"<3n", PYBUF_STATUS_INVALID_FORMAT},
    /* sizes beyond PY_SSIZE_T_MAX (on 64-bit targets) */
    {"99999999999999999999i", PYBUF_STATUS_OVERFLOW},
    {"9223372036854775808x", PYBUF_STATUS_OVERFLOW},
    {"(99999999999999999999)i", PYBUF_STATUS_OVERFLOW},
    {"&99999999999999999999i", PYBUF_STATUS_OVERFLOW},
    /* well formed, but without a byte size */
    {"t", PYBUF_STATUS_UNSUPPORTED_FORMAT},
    {"3t", PYBUF_STATUS_UNSUPPORTED_FORMAT},
    {"T{t}", PYBUF_STATUS_UNSUPPORTED_FORMAT},
    {"&t", PYBUF_STATUS_UNSUPPORTED_FORMAT},
};

/* Size-dependent overflows, for 64-bit targets only. */
static const struct {
    const char *format;
    int status;
} MALFORMED_64[] = {
    {"9223372036854775807xb", PYBUF_STATUS_OVERFLOW},
    {"4611686018427387904h", PYBUF_STATUS_OVERFLOW},
    {"1152921504606846976d", PYBUF_STATUS_OVERFLOW},
    {"(4611686018427387904,2)b", PYBUF_STATUS_OVERFLOW},
    {"T{4611686018427387904h}", PYBUF_STATUS_OVERFLOW},
    {"2T{4611686018427387903h}", PYBUF_STATUS_OVERFLOW},
    {"b9223372036854775806xi", PYBUF_STATUS_OVERFLOW},
};

static void check_malformed(const char *s, int status) {
    pybuf_format *out = (pybuf_format *)&out;
    int rc = pybuf_format_parse(s, &out);
    const char *msg = pybuf_last_error();
    ++check_count_;
    if (rc != status)
        CHECK_FAIL_("%s:%d: pybuf_format_parse(\"%s\") = %d (%s), expected %d (%s): %s\n",
                    __FILE__, __LINE__, s, rc, pybuf_status_name(rc), status,
                    pybuf_status_name(status), msg);
    CHECK_LAST(status);
    CHECK_PTR_EQ(out, &out);
    /* The message names the string and the byte position: `format "..." at N: why`. */
    CHECK(strncmp(msg, "format \"", 8) == 0);
    CHECK(strstr(msg, "\" at ") != NULL);
    CHECK(strlen(msg) > strlen(s));
    /* pybuf_size_from_format runs on the same engine. */
    CHECK_EQ(pybuf_size_from_format(s), -1);
    CHECK_LAST(status);
}

static void malformed_strings_fail_cleanly(void) {
    size_t i, n = sizeof MALFORMED / sizeof MALFORMED[0];
    CHECK(n >= 60);
    for (i = 0; i < n; i++)
        check_malformed(MALFORMED[i].format, MALFORMED[i].status);
    if (sizeof(pybuf_ssize_t) == 8)
        for (i = 0; i < sizeof MALFORMED_64 / sizeof MALFORMED_64[0]; i++)
            check_malformed(MALFORMED_64[i].format, MALFORMED_64[i].status);
}

/* Every prefix of a valid string parses or fails cleanly, and so does every string made by
   replacing one byte with another grammar byte. */
static void corruptions_fail_cleanly(void) {
    static const char base[] = "T{<(2,3)4h:a: &i:p: X{i->d}:f: T{Zd:z:}:s: 5s:b:} 3x";
    static const char bytes[] = "{}()-:>T&X9,Z t";
    char s[sizeof base];
    size_t i, j, parsed = 0, failed = 0;
    for (i = 0; i + 1 < sizeof base; i++) {
        for (j = 0; j + 1 < sizeof bytes; j++) {
            pybuf_format *f = NULL;
            int rc;
            memcpy(s, base, sizeof base);
            s[i] = bytes[j];
            rc = pybuf_format_parse(s, &f);
            if (rc == 0) {
                parsed++;
                CHECK(pybuf_format_itemsize(f) >= 0);
                CHECK(pybuf_format_canonical(f) != NULL);
                pybuf_format_free(f);
            } else {
                failed++;
                CHECK(rc == PYBUF_STATUS_INVALID_FORMAT || rc == PYBUF_STATUS_UNSUPPORTED_FORMAT);
                CHECK(f == NULL);
                CHECK(pybuf_last_error()[0] != '\0');
            }
        }
        memcpy(s, base, sizeof base);
        s[i] = '\0';
        {
            pybuf_format *f = NULL;
            if (pybuf_format_parse(s, &f) == 0)
                pybuf_format_free(f);
            else
                CHECK(f == NULL);
        }
    }
    CHECK(parsed > 0);
    CHECK(failed > 0);
}

static void nesting_is_bounded(void) {
    size_t depth;
    for (depth = 63; depth <= 65; depth++) {
        char *s = (char *)malloc(4 * depth + 2);
        pybuf_format *f = NULL;
        size_t k;
        if (s == NULL)
            return;
        for (k = 0; k < depth; k++)
            memcpy(s + 2 * k, "T{", 2);
        s[2 * depth] = 'i';
        for (k = 0; k < depth; k++)
            s[2 * depth + 1 + k] = '}';
        s[3 * depth + 1] = '\0';
        if (depth <= 64) {
            CHECK_STATUS(pybuf_format_parse(s, &f), PYBUF_STATUS_OK);
            CHECK_EQ(pybuf_format_itemsize(f), 4);
            CHECK_EQ(pybuf_format_leaf_count(f), 1);
        } else {
            CHECK_STATUS(pybuf_format_parse(s, &f), PYBUF_STATUS_UNSUPPORTED_FORMAT);
            CHECK(strstr(pybuf_last_error(), "deeper than 64") != NULL);
            CHECK(f == NULL);
        }
        pybuf_format_free(f);
        free(s);
    }
    /* A very deep string is refused at once, without exhausting the stack. */
    {
        size_t n = 200000;
        char *s = (char *)malloc(n + 2);
        pybuf_format *f = NULL;
        if (s == NULL)
            return;
        memset(s, '&', n); /* '&' nests too */
        s[n] = 'i';
        s[n + 1] = '\0';
        CHECK_STATUS(pybuf_format_parse(s, &f), PYBUF_STATUS_UNSUPPORTED_FORMAT);
        CHECK(f == NULL);
        free(s);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Threads: the lazily built leaves and canonical string of a shared handle */

struct shared {
    const pybuf_format *f;
    pybuf_ssize_t leaves;
    const char *canonical;
};

static void *reader(void *arg) {
    struct shared *s = (struct shared *)arg;
    s->leaves = pybuf_format_leaf_count(s->f);
    s->canonical = pybuf_format_canonical(s->f);
    return NULL;
}

static void handles_are_shared_between_threads(void) {
    enum { N = 8 };
    pthread_t t[N];
    struct shared s[N];
    int i, started[N];
    pybuf_format *f = parse("T{i:a:(2)d:b:}:s: 3T{hh} <q");
    if (f == NULL)
        return;
    for (i = 0; i < N; i++) {
        s[i].f = f;
        s[i].leaves = -2;
        s[i].canonical = NULL;
        started[i] = pthread_create(&t[i], NULL, reader, &s[i]) == 0;
    }
    for (i = 0; i < N; i++) {
        if (!started[i])
            continue;
        pthread_join(t[i], NULL);
        CHECK_EQ(s[i].leaves, 5);
        CHECK_PTR_EQ(s[i].canonical, pybuf_format_canonical(f));
    }
    CHECK_STR_EQ(pybuf_format_canonical(f), "T{i:a:(2)d:b:}:s:3T{hh}<q");
    pybuf_format_free(f);
}

/* ------------------------------------------------------------------------------------ */
/* The docs/formats.md example */

static void readme_example(void) {
    pybuf_format *f;
    pybuf_ssize_t i, n;
    char line[256], all[1024] = "";
    if (pybuf_format_parse("T{b:flag:(3)<f:xyz:}:point:", &f) != 0)
        return;
    n = pybuf_format_leaf_count(f);
    for (i = 0; i < n; i++) {
        pybuf_format_leaf l;
        pybuf_format_get_leaf(f, i, &l);
        snprintf(line, sizeof line, "%s '%s' at %ld, %ld x %ld bytes, %s-endian\n",
                 l.name ? l.name : "-", l.code, (long)l.offset, (long)l.count, (long)l.size,
                 l.byte_order == PYBUF_BYTE_ORDER_LITTLE ? "little" : "big");
        strcat(all, line);
    }
    CHECK_EQ(pybuf_format_itemsize(f), 13);
    pybuf_format_free(f);
    CHECK(strstr(all, "xyz 'f' at 1, 3 x 4 bytes, little-endian\n") != NULL);
    CHECK(strncmp(all, "flag 'b' at 0, 1 x 1 bytes, ", 28) == 0);
}

int main(void) {
    RUN(walks_fields_and_nested_structs);
    RUN(native_layout_equals_the_c_compilers);
    RUN(leaves_flatten_nested_structs);
    RUN(runs_walk_every_value_in_offset_order);
    RUN(canonical_strings_round_trip);
    RUN(equality_and_compatibility);
    RUN(check_format_as_a_typed_memoryview);
    RUN(null_and_range_errors);
    RUN(malformed_strings_fail_cleanly);
    RUN(corruptions_fail_cleanly);
    RUN(nesting_is_bounded);
    RUN(handles_are_shared_between_threads);
    RUN(readme_example);
    return check_report();
}
