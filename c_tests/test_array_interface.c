/*
 * NumPy's array interface from C: pybuf_format_to_typestr / _to_descr and
 * pybuf_format_from_typestr / _from_descr, their output conventions (the length returned,
 * `out == NULL && size == 0` to ask for it, nothing written when it does not fit), and
 * refusals with their statuses and messages. (bindings/python/tests/test_array_interface.py
 * compares the conversions with NumPy's own.)
 */
#include "check.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NATIVE ">"
#else
#define NATIVE "<"
#endif

static void to_typestr(void) {
    static const struct {
        const char *format, *typestr;
    } cases[] = {
        {"<d", "<f8"}, {">d", ">f8"}, {"d", NATIVE "f8"}, {"B", "|u1"}, {"?", "|b1"},
        {"<q", "<i8"}, {"=i", NATIVE "i4"}, {"<Zd", "<c16"}, {"5s", "|S5"}, {"c", "|S1"},
        {"<3w", "<U3"}, {"4x", "|V4"}, {"T{<i:a:<d:b:}", "|V12"}, {"O", "|O"},
    };
    char out[16];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pybuf_ssize_t n = (pybuf_ssize_t)strlen(cases[i].typestr);
        memset(out, 'z', sizeof out);
        CHECK_EQ(pybuf_format_to_typestr(cases[i].format, 0, out, sizeof out), n);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_STR_EQ(out, cases[i].typestr);
        CHECK_EQ(out[n + 1], 'z'); /* nothing past the NUL */
    }
    /* a larger itemsize is trailing padding: a struct */
    CHECK_EQ(pybuf_format_to_typestr("<d", 16, out, sizeof out), 4);
    CHECK_STR_EQ(out, "|V16");
}

static void output_conventions(void) {
    char out[8];
    memset(out, 'z', sizeof out);
    /* the length only */
    CHECK_EQ(pybuf_format_to_typestr("<d", 0, NULL, 0), 3);
    CHECK_LAST(PYBUF_STATUS_OK);
    /* exactly enough: the text and its NUL */
    CHECK_EQ(pybuf_format_to_typestr("<d", 0, out, 4), 3);
    CHECK_STR_EQ(out, "<f8");
    /* one byte short: nothing written */
    memset(out, 'z', sizeof out);
    CHECK_STATUS(pybuf_format_to_typestr("<d", 0, out, 3), PYBUF_STATUS_LENGTH_MISMATCH);
    CHECK_STR_EQ(pybuf_last_error(), "the typestr \"<f8\" needs 4 bytes with its NUL, but size = 3");
    CHECK_EQ(out[0], 'z');
    CHECK_STATUS(pybuf_format_to_typestr("<d", 0, NULL, 4), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_format_to_typestr("<d", 0, out, -1), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_format_to_typestr(NULL, 0, out, 8), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_format_from_descr(NULL, out, 8), PYBUF_STATUS_NULL_POINTER);
}

static void to_descr(void) {
    char out[256];
    pybuf_ssize_t n = pybuf_format_to_descr("T{b:a:(2,3)<d:m:T{<h:p:}:s:3x}", 0, NULL, 0);
    CHECK(n > 0 && n < (pybuf_ssize_t)sizeof out);
    CHECK_EQ(pybuf_format_to_descr("T{b:a:(2,3)<d:m:T{<h:p:}:s:3x}", 0, out, sizeof out), n);
    CHECK_STR_EQ(out, "[('a', '|i1'), ('m', '<f8', (2, 3)), ('s', [('p', '<i2')]), ('', '|V3')]");
    CHECK_EQ(pybuf_format_to_descr("<d", 0, out, sizeof out), 13);
    CHECK_STR_EQ(out, "[('', '<f8')]");
    CHECK_EQ(pybuf_format_to_descr("<i:a:", 8, out, sizeof out), 27);
    CHECK_STR_EQ(out, "[('a', '<i4'), ('', '|V4')]");
}

static void from_typestr_and_descr(void) {
    char out[64];
    CHECK_EQ(pybuf_format_from_typestr("<f8", out, sizeof out), 2);
    CHECK_STR_EQ(out, "<d");
    CHECK_EQ(pybuf_format_from_typestr("|u1", out, sizeof out), 1);
    CHECK_STR_EQ(out, "B");
    CHECK_EQ(pybuf_format_from_typestr(">U3", out, sizeof out), 3);
    CHECK_STR_EQ(out, ">3w");
    CHECK(pybuf_format_from_descr("[('a', '|i1'), ('', '|V7'), ('b', '<f8')]", out, sizeof out) > 0);
    CHECK_STR_EQ(out, "T{<b:a:7xd:b:}");
    CHECK_EQ(pybuf_size_from_format(out), 16);
    CHECK(pybuf_format_from_descr("[('', '>i2')]", out, sizeof out) > 0);
    CHECK_STR_EQ(out, ">h");
}

static void refusals(void) {
    char out[64];
    memset(out, 'z', sizeof out);
    CHECK_STATUS(pybuf_format_to_typestr("u", 0, out, sizeof out), PYBUF_STATUS_UNREPRESENTABLE);
    CHECK_MSG("UCS-2");
    CHECK_STATUS(pybuf_format_to_descr("T{i:a:P:p:}", 0, out, sizeof out), PYBUF_STATUS_UNREPRESENTABLE);
    CHECK_MSG("field 'p'");
    CHECK_STATUS(pybuf_format_to_typestr("d", 4, out, sizeof out), PYBUF_STATUS_INVALID_ITEMSIZE);
    CHECK_STATUS(pybuf_format_to_typestr("T{", 0, out, sizeof out), PYBUF_STATUS_INVALID_FORMAT);
    CHECK_STATUS(pybuf_format_from_typestr("<M8[ns]", out, sizeof out), PYBUF_STATUS_UNREPRESENTABLE);
    CHECK_MSG("datetime64");
    CHECK_STATUS(pybuf_format_from_typestr("<q8", out, sizeof out), PYBUF_STATUS_INVALID_FORMAT);
    CHECK_MSG("unknown kind 'q'");
    CHECK_STATUS(pybuf_format_from_descr("[('a' '<i4')]", out, sizeof out), PYBUF_STATUS_INVALID_FORMAT);
    CHECK_MSG("at 6: expected ',' or ')'");
    CHECK_STATUS(pybuf_format_from_descr("[('a', '<i4', (-1,))]", out, sizeof out), PYBUF_STATUS_INVALID_SHAPE);
    CHECK_EQ(out[0], 'z');
}

int main(void) {
    RUN(to_typestr);
    RUN(output_conventions);
    RUN(to_descr);
    RUN(from_typestr_and_descr);
    RUN(refusals);
    return check_report();
}
