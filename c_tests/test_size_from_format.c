/*
 * pybuf_size_from_format: struct.calcsize for the struct module's formats (native sizes
 * and alignment checked against this C compiler's own layouts), and -1 with
 * PYBUF_STATUS_INVALID_FORMAT for malformed ones.
 */
#include <stddef.h>
#include <stdint.h>

#include "check.h"

#define CHECK_SIZE(fmt, expected)                                                          \
    do {                                                                                   \
        PROVOKE_ERROR();                                                                   \
        CHECK_EQ(pybuf_size_from_format(fmt), (expected));                                 \
        CHECK_LAST(PYBUF_STATUS_OK);                                                       \
    } while (0)

#define CHECK_BAD(fmt, status)                                                             \
    do {                                                                                   \
        CHECK_EQ(pybuf_size_from_format(fmt), -1);                                         \
        CHECK_LAST(status);                                                                \
    } while (0)

/* C layouts for the native ('@') expectations: offset of the last member plus its size
   (struct.calcsize adds no trailing padding). */
struct c_bi {
    signed char b;
    int i;
};
struct c_hd {
    short h;
    double d;
};
struct c_qc {
    long long q;
    char c;
};
struct c_bhd {
    signed char b;
    short h;
    double d;
};
struct c_lh {
    long l;
    short h;
};
struct c_iq {
    int i;
    long long q;
};
struct c_xi {
    char x;
    int i;
};
struct c_3si {
    char s[3];
    int i;
};
struct c_ll {
    long a, b;
    short h;
    long align;
};

static void required_cases(void) {
    CHECK_SIZE("d", 8);
    CHECK_SIZE("ii", 8);
    CHECK_SIZE("bi", 8);
    CHECK_SIZE("ib", 5);
    CHECK_SIZE("3s", 3);
    CHECK_SIZE("<hi", 6);
    CHECK_SIZE("=q", 8);
    CHECK_SIZE("", 0);
    CHECK_SIZE("P", (pybuf_ssize_t)sizeof(void *));
}

static void native_sizes_and_alignment(void) {
    CHECK_SIZE("b", 1);
    CHECK_SIZE("B", 1);
    CHECK_SIZE("c", 1);
    CHECK_SIZE("?", 1);
    CHECK_SIZE("x", 1);
    CHECK_SIZE("h", (pybuf_ssize_t)sizeof(short));
    CHECK_SIZE("H", (pybuf_ssize_t)sizeof(unsigned short));
    CHECK_SIZE("i", (pybuf_ssize_t)sizeof(int));
    CHECK_SIZE("I", (pybuf_ssize_t)sizeof(unsigned int));
    CHECK_SIZE("l", (pybuf_ssize_t)sizeof(long));
    CHECK_SIZE("L", (pybuf_ssize_t)sizeof(unsigned long));
    CHECK_SIZE("q", (pybuf_ssize_t)sizeof(long long));
    CHECK_SIZE("Q", (pybuf_ssize_t)sizeof(unsigned long long));
    CHECK_SIZE("n", (pybuf_ssize_t)sizeof(ptrdiff_t));
    CHECK_SIZE("N", (pybuf_ssize_t)sizeof(size_t));
    CHECK_SIZE("f", (pybuf_ssize_t)sizeof(float));
    CHECK_SIZE("e", 2);
    CHECK_SIZE("@i", (pybuf_ssize_t)sizeof(int));
    CHECK_SIZE("bi", (pybuf_ssize_t)(offsetof(struct c_bi, i) + sizeof(int)));
    CHECK_SIZE("hd", (pybuf_ssize_t)(offsetof(struct c_hd, d) + sizeof(double)));
    CHECK_SIZE("dh", (pybuf_ssize_t)(sizeof(double) + sizeof(short)));
    CHECK_SIZE("qc", (pybuf_ssize_t)(offsetof(struct c_qc, c) + 1));
    CHECK_SIZE("bhd", (pybuf_ssize_t)(offsetof(struct c_bhd, d) + sizeof(double)));
    CHECK_SIZE("lh", (pybuf_ssize_t)(offsetof(struct c_lh, h) + sizeof(short)));
    /* "0l" aligns to long without adding an item (the struct module's documented idiom) */
    CHECK_SIZE("llh0l", (pybuf_ssize_t)offsetof(struct c_ll, align));
    CHECK_SIZE("i0q", (pybuf_ssize_t)offsetof(struct c_iq, q));
}

static void standard_sizes(void) {
    /* '<', '>', '!', '=': standard sizes, no alignment */
    CHECK_SIZE("<bhd", 11);
    CHECK_SIZE(">bhd", 11);
    CHECK_SIZE("!bhd", 11);
    CHECK_SIZE("=bhd", 11);
    CHECK_SIZE("<l", 4);
    CHECK_SIZE(">L", 4);
    CHECK_SIZE("=q", 8);
    CHECK_SIZE("!i", 4);
    CHECK_SIZE(">d", 8);
    CHECK_SIZE("<e", 2);
    CHECK_SIZE("<?", 1);
}

static void counts(void) {
    CHECK_SIZE("4i", 16);
    CHECK_SIZE("0i", 0);
    CHECK_SIZE("3x", 3);
    CHECK_SIZE("10p", 10);
    CHECK_SIZE("p", 1);
    CHECK_SIZE("2h3b", 7);
    CHECK_SIZE("10s2i", 20);
    CHECK_SIZE("<10s2i", 18);
    CHECK_SIZE("0s", 0);
    CHECK_SIZE("Hb", 3);
    CHECK_SIZE("x0i", (pybuf_ssize_t)offsetof(struct c_xi, i));
    CHECK_SIZE("xi", (pybuf_ssize_t)(offsetof(struct c_xi, i) + sizeof(int)));
    CHECK_SIZE("3si", (pybuf_ssize_t)(offsetof(struct c_3si, i) + sizeof(int)));
    CHECK_SIZE("c?", 2);
    CHECK_SIZE("<", 0);
}

static void malformed(void) {
    CHECK_BAD("ia", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("3", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("T{i", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("2", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("i3", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("{", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("ii#", PYBUF_STATUS_INVALID_FORMAT);
    {
        /* 'n' and 'N' exist only in native mode: no size with '<' (struct rejects it) */
        int st;
        CHECK_EQ(pybuf_size_from_format("<n"), -1);
        st = pybuf_last_status();
        CHECK(st == PYBUF_STATUS_INVALID_FORMAT || st == PYBUF_STATUS_UNSUPPORTED_FORMAT);
        CHECK(pybuf_last_error()[0] != '\0');
    }
}

/* Issue 13: two byte order markers in a row, with or without whitespace between them, are
   refused as struct.calcsize and NumPy refuse them; one marker, even alone, is a format. */
static void two_markers_in_a_row(void) {
    CHECK_BAD("<>", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("<>i", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("<<i", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("< >i", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("@=", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("T{<>i}", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_BAD("i<>i", PYBUF_STATUS_INVALID_FORMAT);
    CHECK_SIZE("<", 0);
    CHECK_SIZE("< i", 4);
    CHECK_SIZE("<i>i", 8);
    CHECK_SIZE("T{<i}", 4);
}

static void null_format(void) {
    CHECK_BAD(NULL, PYBUF_STATUS_NULL_POINTER);
}

int main(void) {
    RUN(required_cases);
    RUN(native_sizes_and_alignment);
    RUN(standard_sizes);
    RUN(counts);
    RUN(malformed);
    RUN(two_markers_in_a_row);
    RUN(null_format);
    return check_report();
}
