/* pybuf_fill_info for every flag combination, and pybuf_release. */
#include <limits.h>
#include <stdint.h>

#include "check.h"

/* Every bit that some PYBUF_* request sets. */
#define REQUEST_BITS                                                                       \
    (PYBUF_WRITABLE | PYBUF_FORMAT | PYBUF_ND | PYBUF_STRIDES | PYBUF_C_CONTIGUOUS |       \
     PYBUF_F_CONTIGUOUS | PYBUF_ANY_CONTIGUOUS | PYBUF_INDIRECT)

static unsigned char bytes[40];
static int owner; /* an object for view->obj */

/* A guarded view pre-filled with a pattern, so that "untouched" can be checked. */
#define GUARDED_VIEW(name)                                                                 \
    GUARDED(pybuf_buffer, name, 1);                                                        \
    GUARD_INIT(name)

static void filled_fields(const pybuf_buffer *v, void *obj, void *buf, pybuf_ssize_t len,
                          int readonly, int flags) {
    CHECK_PTR_EQ(v->buf, buf);
    CHECK_PTR_EQ(v->obj, obj);
    CHECK_EQ(v->len, len);
    CHECK_EQ(v->itemsize, 1);
    CHECK_EQ(v->readonly, readonly);
    CHECK_EQ(v->ndim, 1);
    if ((flags & PYBUF_FORMAT) == PYBUF_FORMAT)
        CHECK_STR_EQ(v->format, "B");
    else
        CHECK_PTR_EQ(v->format, NULL);
    if ((flags & PYBUF_ND) == PYBUF_ND)
        CHECK_PTR_EQ(v->shape, &v->len);
    else
        CHECK_PTR_EQ(v->shape, NULL);
    if ((flags & PYBUF_STRIDES) == PYBUF_STRIDES)
        CHECK_PTR_EQ(v->strides, &v->itemsize);
    else
        CHECK_PTR_EQ(v->strides, NULL);
    CHECK_PTR_EQ(v->suboffsets, NULL);
}

static void every_flag_combination(void) {
    int flags, readonly;
    int accepted = 0, refused = 0;
    for (readonly = 0; readonly <= 1; readonly++) {
        for (flags = 0; flags < 0x800; flags++) {
            GUARDED_VIEW(v);
            int expected = PYBUF_STATUS_OK;
            int bad = 0;
            if ((flags & ~REQUEST_BITS) || flags == PYBUF_READ)
                expected = PYBUF_STATUS_INVALID_ARGUMENT; /* CPython: PyErr_BadInternalCall */
            else if (readonly && (flags & PYBUF_WRITABLE))
                expected = PYBUF_STATUS_READ_ONLY;
            SNAPSHOT(v);
            PROVOKE_ERROR();
            {
                int had_failed = check_failed_;
                check_failed_ = 0;
                CHECK_STATUS(pybuf_fill_info(v, &owner, bytes, 40, readonly, flags), expected);
                if (expected == PYBUF_STATUS_OK) {
                    filled_fields(v, &owner, bytes, 40, readonly, flags);
                    CHECK_GUARDS(v);
                    accepted++;
                } else {
                    CHECK_UNCHANGED(v);
                    refused++;
                }
                bad = check_failed_;
                check_failed_ |= had_failed;
            }
            if (bad)
                fprintf(stderr, "  (flags = 0x%x, readonly = %d)\n", flags, readonly);
            if (expected == PYBUF_STATUS_OK) {
                pybuf_release(v);
                CHECK_LAST(PYBUF_STATUS_OK);
            }
        }
    }
    /* 256 subsets of the 8 request bits with readonly 0, 128 without WRITABLE with 1,
       less PYBUF_READ (0x100 alone) with each */
    CHECK_EQ(accepted, 256 + 128 - 2);
    CHECK_EQ(refused, 2 * 0x800 - accepted);
}

static void named_requests(void) {
    /* The documented requests, explicitly. */
    static const int requests[] = {
        PYBUF_SIMPLE,       PYBUF_WRITABLE,     PYBUF_FORMAT,       PYBUF_ND,
        PYBUF_STRIDES,      PYBUF_C_CONTIGUOUS, PYBUF_F_CONTIGUOUS, PYBUF_ANY_CONTIGUOUS,
        PYBUF_INDIRECT,     PYBUF_CONTIG,       PYBUF_CONTIG_RO,    PYBUF_STRIDED,
        PYBUF_STRIDED_RO,   PYBUF_RECORDS,      PYBUF_RECORDS_RO,   PYBUF_FULL,
        PYBUF_FULL_RO,
    };
    size_t i;
    for (i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        pybuf_buffer v;
        memset(&v, 0, sizeof v);
        CHECK_STATUS(pybuf_fill_info(&v, NULL, bytes, 7, 0, requests[i]), PYBUF_STATUS_OK);
        filled_fields(&v, NULL, bytes, 7, 0, requests[i]);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
    }
    /* the bare flag values written out, to catch a wrong macro */
    {
        pybuf_buffer v;
        CHECK_STATUS(pybuf_fill_info(&v, NULL, bytes, 7, 0, 0x11d), PYBUF_STATUS_OK);
        CHECK_STR_EQ(v.format, "B");
        CHECK_PTR_EQ(v.shape, &v.len);
        CHECK_PTR_EQ(v.strides, &v.itemsize);
        pybuf_release(&v);
        CHECK_STATUS(pybuf_fill_info(&v, NULL, bytes, 7, 0, 0x08), PYBUF_STATUS_OK);
        CHECK_PTR_EQ(v.format, NULL);
        CHECK_PTR_EQ(v.shape, &v.len);
        CHECK_PTR_EQ(v.strides, NULL);
        pybuf_release(&v);
        /* 0x10 without ND: strides only with the whole of PYBUF_STRIDES (0x18) */
        CHECK_STATUS(pybuf_fill_info(&v, NULL, bytes, 7, 0, 0x10), PYBUF_STATUS_OK);
        CHECK_PTR_EQ(v.shape, NULL);
        CHECK_PTR_EQ(v.strides, NULL);
        pybuf_release(&v);
    }
}

static void bad_flags(void) {
    static const int flags[] = {0x400, 0x2, 0x200 /* PYBUF_WRITE */, 0x402, 0x800,
                                0x10000, -1, INT_MIN, PYBUF_FULL | 0x2};
    size_t i;
    for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_fill_info(v, NULL, bytes, 40, 0, flags[i]),
                     PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_UNCHANGED(v);
    }
}

static void bad_arguments(void) {
    {
        /* NULL view */
        CHECK_STATUS(pybuf_fill_info(NULL, NULL, bytes, 40, 0, PYBUF_SIMPLE),
                     PYBUF_STATUS_NULL_POINTER);
        CHECK_STATUS(pybuf_fill_info(NULL, NULL, bytes, 40, 0, PYBUF_FULL),
                     PYBUF_STATUS_NULL_POINTER);
    }
    {
        /* NULL buf with len > 0 */
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_fill_info(v, NULL, NULL, 1, 0, PYBUF_SIMPLE),
                     PYBUF_STATUS_NULL_POINTER);
        CHECK_UNCHANGED(v);
    }
    {
        /* negative len */
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_fill_info(v, NULL, bytes, -1, 0, PYBUF_SIMPLE),
                     PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_UNCHANGED(v);
        CHECK_STATUS(pybuf_fill_info(v, NULL, NULL, PTRDIFF_MIN, 0, PYBUF_SIMPLE),
                     PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_UNCHANGED(v);
    }
    {
        /* readonly not 0 or 1 */
        static const int ro[] = {2, -1, 255, INT_MAX, INT_MIN};
        size_t i;
        for (i = 0; i < sizeof ro / sizeof ro[0]; i++) {
            GUARDED_VIEW(v);
            SNAPSHOT(v);
            CHECK_STATUS(pybuf_fill_info(v, NULL, bytes, 40, ro[i], PYBUF_SIMPLE),
                         PYBUF_STATUS_INVALID_ARGUMENT);
            CHECK_UNCHANGED(v);
        }
    }
    {
        /* WRITABLE on read-only memory */
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_fill_info(v, NULL, bytes, 40, 1, PYBUF_WRITABLE),
                     PYBUF_STATUS_READ_ONLY);
        CHECK_UNCHANGED(v);
        CHECK_STATUS(pybuf_fill_info(v, NULL, bytes, 40, 1, PYBUF_FULL),
                     PYBUF_STATUS_READ_ONLY);
        CHECK_UNCHANGED(v);
        /* read-only requests on read-only memory are fine */
        CHECK_STATUS(pybuf_fill_info(v, NULL, bytes, 40, 1, PYBUF_FULL_RO), PYBUF_STATUS_OK);
        filled_fields(v, NULL, bytes, 40, 1, PYBUF_FULL_RO);
        CHECK_GUARDS(v);
        pybuf_release(v);
    }
}

static void empty_memory(void) {
    /* NULL buf with len 0 is fine */
    pybuf_buffer v;
    CHECK_STATUS(pybuf_fill_info(&v, NULL, NULL, 0, 0, PYBUF_FULL), PYBUF_STATUS_OK);
    filled_fields(&v, NULL, NULL, 0, 0, PYBUF_FULL);
    CHECK_EQ(pybuf_is_contiguous(&v, 'C'), 1);
    CHECK_EQ(pybuf_is_contiguous(&v, 'F'), 1);
    CHECK_STATUS(pybuf_to_contiguous(NULL, &v, 0, 'C'), PYBUF_STATUS_OK);
    pybuf_release(&v);
    CHECK_LAST(PYBUF_STATUS_OK);
}

static void filled_view_works_with_consumers(void) {
    unsigned char data[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    pybuf_buffer v;
    pybuf_ssize_t k;
    CHECK_STATUS(pybuf_fill_info(&v, &owner, data, 10, 0, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_EQ(pybuf_is_contiguous(&v, 'C'), 1);
    CHECK_EQ(pybuf_is_contiguous(&v, 'F'), 1);
    CHECK_EQ(pybuf_is_contiguous(&v, 'A'), 1);
    for (k = 0; k < 10; k++) {
        pybuf_ssize_t ix[1];
        ix[0] = k;
        CHECK_PTR_EQ(pybuf_get_pointer(&v, ix), &data[k]);
    }
    {
        GUARDED(unsigned char, out, 10);
        GUARD_INIT(out);
        CHECK_STATUS(pybuf_to_contiguous(out, &v, 10, 'F'), PYBUF_STATUS_OK);
        CHECK_MEM_EQ(out, data, 10);
        CHECK_GUARDS(out);
    }
    {
        /* from_contiguous writes through a writable filled view */
        const unsigned char src[10] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 10, 'C'), PYBUF_STATUS_OK);
        CHECK_MEM_EQ(data, src, 10);
    }
    pybuf_release(&v);
    CHECK_LAST(PYBUF_STATUS_OK);

    /* a read-only filled view refuses to be written */
    {
        const unsigned char src[10] = {0};
        unsigned char before[10];
        memcpy(before, data, 10);
        CHECK_STATUS(pybuf_fill_info(&v, NULL, data, 10, 1, PYBUF_FULL_RO), PYBUF_STATUS_OK);
        CHECK_STATUS(pybuf_from_contiguous(&v, src, 10, 'C'), PYBUF_STATUS_READ_ONLY);
        CHECK_MEM_EQ(data, before, 10);
        pybuf_release(&v);
    }
}

static void release_twice(void) {
    GUARDED_VIEW(v);
    CHECK_STATUS(pybuf_fill_info(v, &owner, bytes, 40, 0, PYBUF_FULL), PYBUF_STATUS_OK);
    PROVOKE_ERROR();
    pybuf_release(v);
    CHECK_LAST(PYBUF_STATUS_OK);
    /* obj belongs to the caller and is left alone */
    CHECK_PTR_EQ(v->obj, &owner);
    CHECK_GUARDS(v);
    /* the second release is a no-op: status 0, nothing changed */
    SNAPSHOT(v);
    PROVOKE_ERROR();
    pybuf_release(v);
    CHECK_LAST(PYBUF_STATUS_OK);
    CHECK_UNCHANGED(v);
    /* and a third */
    pybuf_release(v);
    CHECK_LAST(PYBUF_STATUS_OK);
    CHECK_UNCHANGED(v);
    /* the struct can be filled and released again */
    CHECK_STATUS(pybuf_fill_info(v, NULL, bytes, 4, 0, PYBUF_SIMPLE), PYBUF_STATUS_OK);
    filled_fields(v, NULL, bytes, 4, 0, PYBUF_SIMPLE);
    pybuf_release(v);
    CHECK_LAST(PYBUF_STATUS_OK);
}

static void release_null(void) {
    PROVOKE_ERROR();
    pybuf_release(NULL);
    CHECK_LAST(PYBUF_STATUS_OK);
}

static void release_foreign(void) {
    {
        /* a zeroed struct */
        GUARDED_VIEW(v);
        memset(v, 0, sizeof *v);
        SNAPSHOT(v);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_UNCHANGED(v);
    }
    {
        /* a view as CPython would fill it: internal is the exporter's */
        static int exporter_state;
        pybuf_ssize_t shape[1] = {40};
        GUARDED_VIEW(v);
        *v = make_view(bytes, 1, 1, shape, NULL, NULL);
        v->internal = &exporter_state;
        v->obj = &owner;
        SNAPSHOT(v);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_UNCHANGED(v);
        /* still foreign the second time */
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_UNCHANGED(v);
    }
    {
        /* a struct full of garbage */
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_UNCHANGED(v);
    }
}

int main(void) {
    RUN(every_flag_combination);
    RUN(named_requests);
    RUN(bad_flags);
    RUN(bad_arguments);
    RUN(empty_memory);
    RUN(filled_view_works_with_consumers);
    RUN(release_twice);
    RUN(release_null);
    RUN(release_foreign);
    return check_report();
}
