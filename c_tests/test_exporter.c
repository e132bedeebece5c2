/*
 * The built-in exporter (pybuf_exporter_*), custom exporters (pybuf_procs, pybuf_object,
 * pybuf_object_get_buffer, pybuf_fill_view) and the lifetimes of the views they fill:
 * every request flag and every refusal, NULL arguments, invalid descriptions, replace,
 * release (twice, foreign, through a copy), and the exact moment the owner callback runs.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* Every bit that some PYBUF_* request sets. */
#define REQUEST_BITS                                                                       \
    (PYBUF_WRITABLE | PYBUF_FORMAT | PYBUF_ND | PYBUF_STRIDES | PYBUF_C_CONTIGUOUS |       \
     PYBUF_F_CONTIGUOUS | PYBUF_ANY_CONTIGUOUS | PYBUF_INDIRECT)
#define PTRDIFF_MAX_ ((pybuf_ssize_t)(SIZE_MAX >> 1))

/* A guarded view pre-filled with the guard pattern, so that "untouched" can be checked. */
#define GUARDED_VIEW(name)                                                                 \
    GUARDED(pybuf_buffer, name, 1);                                                        \
    GUARD_INIT(name)

/* CHECK_OBJ_UNTOUCHED(v): pybuf never writes view->obj, so a guarded view keeps the
   guard pattern there. */
#define CHECK_OBJ_UNTOUCHED(v)                                                             \
    do {                                                                                   \
        unsigned char obj_bytes_[sizeof(void *)];                                          \
        size_t k_;                                                                         \
        memcpy(obj_bytes_, &(v)->obj, sizeof obj_bytes_);                                  \
        for (k_ = 0; k_ < sizeof obj_bytes_; k_++)                                         \
            CHECK_EQ(obj_bytes_[k_], 0xA5);                                                \
    } while (0)

/* ---- the owner callback ------------------------------------------------------------ */

static int owner_calls;
static void *owner_last_user;

static void count_owner(void *user) {
    owner_calls++;
    owner_last_user = user;
}

static int user_token; /* the address passed as `user` */

/* ---- descriptions -------------------------------------------------------------------- */

static double mem[64];        /* element memory for most descriptions */
static pybuf_ssize_t shape34[2] = {3, 4};

static pybuf_exporter_desc desc_of(void *buf, pybuf_ssize_t len, const char *format, int ndim,
                                   const pybuf_ssize_t *shape, const pybuf_ssize_t *strides) {
    pybuf_exporter_desc d;
    memset(&d, 0, sizeof d);
    d.buf = buf;
    d.len = len;
    d.format = format;
    d.ndim = ndim;
    d.shape = shape;
    d.strides = strides;
    return d;
}

/* A 3x4 C-contiguous array of doubles in mem. */
static pybuf_exporter_desc desc_c34(void) {
    return desc_of(mem, sizeof mem, "d", 2, shape34, NULL);
}

static pybuf_exporter *new_exporter(const pybuf_exporter_desc *d) {
    pybuf_exporter *e = NULL;
    CHECK_STATUS(pybuf_exporter_new(d, count_owner, &user_token, &e), PYBUF_STATUS_OK);
    CHECK(e != NULL);
    return e;
}

/* ---- the basics ------------------------------------------------------------------------ */

static void new_get_release_free(void) {
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_exporter_desc d = desc_of(mem, sizeof mem, "d", 2, shape, NULL);
    pybuf_exporter *e;
    owner_calls = 0;
    PROVOKE_ERROR();
    e = new_exporter(&d);
    CHECK_EQ(owner_calls, 0);
    CHECK_EQ(pybuf_exporter_exports(e), 0);
    CHECK_LAST(PYBUF_STATUS_OK);
    /* the description was copied: changing the caller's arrays changes nothing */
    shape[0] = 7;
    d.format = "i";
    {
        GUARDED_VIEW(v);
        PROVOKE_ERROR();
        CHECK_STATUS(pybuf_exporter_get_buffer(e, v, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_GUARDS(v);
        CHECK_PTR_EQ(v->buf, mem);
        CHECK_OBJ_UNTOUCHED(v);
        CHECK_EQ(v->len, 96);
        CHECK_EQ(v->itemsize, 8);
        CHECK_EQ(v->readonly, 0);
        CHECK_EQ(v->ndim, 2);
        CHECK_STR_EQ(v->format, "d");
        CHECK_EQ(v->shape[0], 3);
        CHECK_EQ(v->shape[1], 4);
        CHECK_EQ(v->strides[0], 32);
        CHECK_EQ(v->strides[1], 8);
        CHECK_PTR_EQ(v->suboffsets, NULL);
        CHECK(v->internal != NULL);
        CHECK_EQ(pybuf_exporter_exports(e), 1);
        /* a filled view works with the consumer functions */
        CHECK_EQ(pybuf_is_contiguous(v, 'C'), 1);
        CHECK_EQ(pybuf_is_contiguous(v, 'F'), 0);
        {
            pybuf_ssize_t ix[2] = {2, 1};
            CHECK_PTR_EQ(pybuf_get_pointer(v, ix), &mem[9]);
        }
        PROVOKE_ERROR();
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_GUARDS(v);
        CHECK_EQ(pybuf_exporter_exports(e), 0);
    }
    CHECK_EQ(owner_calls, 0);
    PROVOKE_ERROR();
    pybuf_exporter_free(e);
    CHECK_LAST(PYBUF_STATUS_OK);
    CHECK_EQ(owner_calls, 1);
    CHECK_PTR_EQ(owner_last_user, &user_token);
}

static void format_and_itemsize(void) {
    pybuf_ssize_t shape[1] = {8};
    pybuf_buffer v;
    pybuf_exporter *e;
    /* format NULL means "B": itemsize 1, and the view's format is "B" with PYBUF_FORMAT */
    pybuf_exporter_desc d = desc_of(mem, 8, NULL, 1, shape, NULL);
    CHECK_STATUS(pybuf_exporter_new(&d, NULL, NULL, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_RECORDS_RO), PYBUF_STATUS_OK);
    CHECK_STR_EQ(v.format, "B");
    CHECK_EQ(v.itemsize, 1);
    CHECK_EQ(v.len, 8);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    /* itemsize 0 takes it from the format; an equal one is accepted */
    d = desc_of(mem, sizeof mem, "T{i:a:h:b:}", 1, shape, NULL);
    CHECK_STATUS(pybuf_exporter_new(&d, NULL, NULL, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_EQ(v.itemsize, 8);
    CHECK_EQ(v.len, 64);
    CHECK_STR_EQ(v.format, "T{i:a:h:b:}");
    pybuf_release(&v);
    pybuf_exporter_free(e);
    d.itemsize = 8;
    CHECK_STATUS(pybuf_exporter_new(&d, NULL, NULL, &e), PYBUF_STATUS_OK);
    pybuf_exporter_free(e);
    /* no owner callback at all is fine */
    CHECK_LAST(PYBUF_STATUS_OK);
}

/* ---- every request flag ------------------------------------------------------------ */

/* What _testbuffer.ndarray (Modules/_testbuffer.c, ndarray_getbuf) answers, written out:
   the status, and the requirement the message must name. */
struct expectation {
    int status;
    const char *names;
};

struct layout_case {
    const char *what;
    pybuf_exporter_desc d;
    int c_contiguous, f_contiguous; /* by hand, from the definitions */
};

static int wants(int flags, int f) { return (flags & f) == f; }

static struct expectation expect(const struct layout_case *lc, int flags) {
    struct expectation x = {PYBUF_STATUS_OK, ""};
    if (flags & ~REQUEST_BITS) {
        x.status = PYBUF_STATUS_INVALID_ARGUMENT;
        x.names = "flags";
    } else if (wants(flags, PYBUF_WRITABLE) && lc->d.readonly) {
        x.status = PYBUF_STATUS_READ_ONLY;
        x.names = "PYBUF_WRITABLE";
    } else if (wants(flags, PYBUF_C_CONTIGUOUS) && !lc->c_contiguous) {
        x.status = PYBUF_STATUS_BUFFER_REQUEST;
        x.names = "PYBUF_C_CONTIGUOUS";
    } else if (wants(flags, PYBUF_F_CONTIGUOUS) && !lc->f_contiguous) {
        x.status = PYBUF_STATUS_BUFFER_REQUEST;
        x.names = "PYBUF_F_CONTIGUOUS";
    } else if (wants(flags, PYBUF_ANY_CONTIGUOUS) && !lc->c_contiguous && !lc->f_contiguous) {
        x.status = PYBUF_STATUS_BUFFER_REQUEST;
        x.names = "PYBUF_ANY_CONTIGUOUS";
    } else if (!wants(flags, PYBUF_INDIRECT) && lc->d.suboffsets != NULL) {
        x.status = PYBUF_STATUS_BUFFER_REQUEST;
        x.names = "PYBUF_INDIRECT";
    } else if (!wants(flags, PYBUF_STRIDES) && !lc->c_contiguous) {
        x.status = PYBUF_STATUS_BUFFER_REQUEST;
        x.names = "PYBUF_STRIDES";
    } else if (!wants(flags, PYBUF_ND) && wants(flags, PYBUF_FORMAT)) {
        x.status = PYBUF_STATUS_BUFFER_REQUEST;
        x.names = "PYBUF_FORMAT requested without PYBUF_ND";
    }
    return x;
}

/* A filled view agrees with the description for this request. */
static void check_filled(const pybuf_buffer *v, const struct layout_case *lc, int flags) {
    const pybuf_exporter_desc *d = &lc->d;
    pybuf_ssize_t items = 1, i;
    pybuf_ssize_t itemsize = d->itemsize ? d->itemsize : pybuf_size_from_format(d->format ? d->format : "B");
    for (i = 0; i < d->ndim; i++)
        items *= d->shape[i];
    CHECK_PTR_EQ(v->buf, (char *)d->buf + d->offset);
    CHECK_OBJ_UNTOUCHED(v);
    CHECK_EQ(v->len, items * itemsize);
    CHECK_EQ(v->itemsize, itemsize);
    CHECK_EQ(v->readonly, d->readonly);
    if (wants(flags, PYBUF_FORMAT))
        CHECK_STR_EQ(v->format, d->format ? d->format : "B");
    else
        CHECK_PTR_EQ(v->format, NULL);
    if (wants(flags, PYBUF_ND) && d->ndim == 0) {
        /* a scalar: shape, strides and suboffsets MUST be NULL (Python's buffer docs) */
        CHECK_EQ(v->ndim, 0);
        CHECK_PTR_EQ(v->shape, NULL);
        CHECK_PTR_EQ(v->strides, NULL);
        CHECK_PTR_EQ(v->suboffsets, NULL);
        return;
    } else if (wants(flags, PYBUF_ND)) {
        CHECK_EQ(v->ndim, d->ndim);
        CHECK(v->shape != NULL);
        for (i = 0; i < d->ndim; i++)
            CHECK_EQ(v->shape[i], d->shape[i]);
    } else {
        /* a shapeless view: unsigned bytes, ndim 1, C-contiguous */
        CHECK_EQ(v->ndim, 1);
        CHECK_PTR_EQ(v->shape, NULL);
    }
    if (wants(flags, PYBUF_STRIDES)) {
        CHECK(v->strides != NULL);
        if (d->strides)
            for (i = 0; i < d->ndim; i++)
                CHECK_EQ(v->strides[i], d->strides[i]);
    } else {
        CHECK_PTR_EQ(v->strides, NULL);
    }
    if (d->suboffsets) {
        CHECK(v->suboffsets != NULL);
        for (i = 0; i < d->ndim; i++)
            CHECK_EQ(v->suboffsets[i], d->suboffsets[i]);
    } else {
        CHECK_PTR_EQ(v->suboffsets, NULL);
    }
    CHECK_EQ(pybuf_is_contiguous(v, 'C'), lc->c_contiguous || !wants(flags, PYBUF_STRIDES));
}

/* PIL-style rows: a table of two row pointers, then the rows. */
static unsigned char pil_rows[2][6];
static unsigned char *pil_table[2] = {pil_rows[0], pil_rows[1]};

static int layout_cases(struct layout_case *out) {
    static pybuf_ssize_t shape1[1] = {12}, shape0[1] = {0}, shape14[2] = {1, 4};
    static pybuf_ssize_t shape43[2] = {4, 3}, shape0_3[2] = {0, 3}, shape32[2] = {3, 2};
    static pybuf_ssize_t f_strides[2] = {8, 32};    /* 4x3 transpose of 3x4: F */
    static pybuf_ssize_t every_other[2] = {64, 16}; /* 3x2 of every other column */
    static pybuf_ssize_t negative[2] = {-32, -8};   /* 3x4 reversed in both */
    static pybuf_ssize_t c14[2] = {32, 8};
    static pybuf_ssize_t pil_shape[2] = {2, 6}, pil_strides[2] = {sizeof(void *), 1};
    static pybuf_ssize_t pil_sub[2] = {0, -1}, no_sub[2] = {-1, -1};
    int n = 0;
#define CASE(name, desc, c, f)                                                             \
    do {                                                                                   \
        out[n].what = (name);                                                              \
        out[n].d = (desc);                                                                 \
        out[n].c_contiguous = (c);                                                         \
        out[n].f_contiguous = (f);                                                         \
        n++;                                                                               \
    } while (0)
    CASE("C 3x4", desc_c34(), 1, 0);
    CASE("F 4x3", desc_of(mem, sizeof mem, "d", 2, shape43, f_strides), 0, 1);
    CASE("every other column", desc_of(mem, sizeof mem, "d", 2, shape32, every_other), 0, 0);
    CASE("1-D", desc_of(mem, sizeof mem, "d", 1, shape1, NULL), 1, 1);
    CASE("0-D", desc_of(mem, sizeof mem, "q", 0, NULL, NULL), 1, 1);
    CASE("1x4", desc_of(mem, sizeof mem, "d", 2, shape14, c14), 1, 1);
    CASE("empty 0", desc_of(mem, sizeof mem, "d", 1, shape0, NULL), 1, 1);
    CASE("empty 0x3", desc_of(mem, sizeof mem, "d", 2, shape0_3, NULL), 1, 1);
    {
        pybuf_exporter_desc d = desc_of(mem, sizeof mem, "d", 2, shape34, negative);
        d.offset = 11 * 8;
        CASE("negative strides", d, 0, 0);
    }
    {
        pybuf_exporter_desc d = desc_c34();
        d.readonly = 1;
        CASE("read-only C 3x4", d, 1, 0);
    }
    {
        pybuf_exporter_desc d = desc_of(pil_table, sizeof pil_table, "B", 2, pil_shape, pil_strides);
        d.suboffsets = pil_sub;
        CASE("PIL suboffsets", d, 0, 0);
    }
    {
        /* all-negative suboffsets: still suboffsets, so never contiguous (as CPython) */
        pybuf_exporter_desc d = desc_c34();
        static pybuf_ssize_t c34[2] = {32, 8};
        d.strides = c34;
        d.suboffsets = no_sub;
        CASE("negative suboffsets", d, 0, 0);
    }
#undef CASE
    return n;
}

static long flag_cases, flag_refusals;

static void run_flag_matrix(pybuf_exporter *e, const struct layout_case *lc, int via_fill_view) {
    int flags;
    /* every subset of the request bits, and some bits that are no request */
    for (flags = 0; flags <= (REQUEST_BITS | 0x602); flags++) {
        struct expectation x;
        if (flags & ~(REQUEST_BITS | 0x602))
            continue;
        x = expect(lc, flags);
        {
            GUARDED_VIEW(v);
            pybuf_ssize_t before = e ? pybuf_exporter_exports(e) : 0;
            int rc;
            SNAPSHOT(v);
            PROVOKE_ERROR();
            rc = via_fill_view ? pybuf_fill_view(v, &lc->d, flags)
                               : pybuf_exporter_get_buffer(e, v, flags);
            flag_cases++;
            if (rc != x.status)
                CHECK_FAIL_("%s:%d: %s, flags 0x%x: status %d (%s), expected %d; \"%s\"\n",
                            __FILE__, __LINE__, lc->what, flags, rc, pybuf_status_name(rc),
                            x.status, pybuf_last_error());
            CHECK_LAST(x.status);
            if (x.status != PYBUF_STATUS_OK) {
                flag_refusals++;
                CHECK_MSG(x.names);
                CHECK_UNCHANGED(v);
                if (e)
                    CHECK_EQ(pybuf_exporter_exports(e), before);
                continue;
            }
            if (rc != PYBUF_STATUS_OK)
                continue;
            CHECK_GUARDS(v);
            check_filled(v, lc, flags);
            if (e)
                CHECK_EQ(pybuf_exporter_exports(e), before + 1);
            pybuf_release(v);
            CHECK_LAST(PYBUF_STATUS_OK);
            if (e)
                CHECK_EQ(pybuf_exporter_exports(e), before);
        }
    }
}

static void every_flag_combination(void) {
    struct layout_case cases[16];
    int n = layout_cases(cases), i;
    for (i = 0; i < n; i++) {
        pybuf_exporter *e = NULL;
        owner_calls = 0;
        CHECK_STATUS(pybuf_exporter_new(&cases[i].d, count_owner, &user_token, &e), PYBUF_STATUS_OK);
        if (e == NULL) {
            fprintf(stderr, "case %s: %s\n", cases[i].what, pybuf_last_error());
            continue;
        }
        run_flag_matrix(e, &cases[i], 0);
        pybuf_exporter_free(e);
        CHECK_EQ(owner_calls, 1);
    }
    /* 12 layouts x 256 requests x 2 (the bits 0x2, 0x200, 0x400 are no request) */
    CHECK(flag_cases >= 12 * 256 * 8);
    CHECK(flag_refusals > 0);
}

/* pybuf_fill_view answers requests as the built-in exporter does. */
static void fill_view_flag_combinations(void) {
    struct layout_case cases[16];
    int n = layout_cases(cases), i;
    for (i = 0; i < n; i++)
        run_flag_matrix(NULL, &cases[i], 1);
}

/* One refusal of each kind, with its status and a message naming the requirement. */
static void each_refusal(void) {
    static pybuf_ssize_t f_strides[2] = {8, 32}, shape43[2] = {4, 3};
    static pybuf_ssize_t odd[2] = {64, 16}, shape32[2] = {3, 2};
    pybuf_exporter_desc c = desc_c34(), f = desc_of(mem, sizeof mem, "d", 2, shape43, f_strides);
    pybuf_exporter_desc s = desc_of(mem, sizeof mem, "d", 2, shape32, odd);
    pybuf_exporter_desc ro = desc_c34();
    pybuf_exporter_desc pil = desc_of(pil_table, sizeof pil_table, "B", 2, NULL, NULL);
    static pybuf_ssize_t pil_shape[2] = {2, 6}, pil_strides[2] = {sizeof(void *), 1}, pil_sub[2] = {0, -1};
    pybuf_exporter *ec, *ef, *es, *ero, *epil;
    ro.readonly = 1;
    pil.shape = pil_shape;
    pil.strides = pil_strides;
    pil.suboffsets = pil_sub;
    CHECK_STATUS(pybuf_exporter_new(&c, NULL, NULL, &ec), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_new(&f, NULL, NULL, &ef), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_new(&s, NULL, NULL, &es), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_new(&ro, NULL, NULL, &ero), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_new(&pil, NULL, NULL, &epil), PYBUF_STATUS_OK);
    {
        GUARDED_VIEW(v);
        SNAPSHOT(v);
#define REFUSED(e, flags, status, text)                                                    \
    do {                                                                                   \
        CHECK_STATUS(pybuf_exporter_get_buffer((e), v, (flags)), (status));                \
        CHECK_MSG(text);                                                                   \
        CHECK_UNCHANGED(v);                                                                \
        CHECK_EQ(pybuf_exporter_exports(e), 0);                                            \
    } while (0)
        REFUSED(ero, PYBUF_WRITABLE, PYBUF_STATUS_READ_ONLY, "PYBUF_WRITABLE requested but the memory is read-only");
        REFUSED(ero, PYBUF_FULL, PYBUF_STATUS_READ_ONLY, "PYBUF_WRITABLE");
        REFUSED(ero, PYBUF_CONTIG, PYBUF_STATUS_READ_ONLY, "read-only");
        REFUSED(ef, PYBUF_C_CONTIGUOUS, PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_C_CONTIGUOUS requested but the memory is not C-contiguous");
        REFUSED(ec, PYBUF_F_CONTIGUOUS, PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_F_CONTIGUOUS requested but the memory is not Fortran-contiguous");
        REFUSED(es, PYBUF_ANY_CONTIGUOUS, PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_ANY_CONTIGUOUS requested");
        REFUSED(es, PYBUF_CONTIG_RO, PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_STRIDES not requested but the memory is not C-contiguous");
        REFUSED(ef, PYBUF_SIMPLE, PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_STRIDES not requested");
        REFUSED(epil, PYBUF_RECORDS_RO, PYBUF_STATUS_BUFFER_REQUEST, "the memory has suboffsets but PYBUF_INDIRECT was not requested");
        REFUSED(epil, PYBUF_STRIDED_RO, PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_INDIRECT");
        REFUSED(ec, PYBUF_FORMAT, PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_FORMAT requested without PYBUF_ND");
        REFUSED(ec, PYBUF_FORMAT | PYBUF_WRITABLE, PYBUF_STATUS_BUFFER_REQUEST, "PYBUF_FORMAT");
        REFUSED(ec, PYBUF_WRITE, PYBUF_STATUS_INVALID_ARGUMENT, "flags = 0x200 has bits 0x200");
        REFUSED(ec, 0x2, PYBUF_STATUS_INVALID_ARGUMENT, "flags = 0x2");
        REFUSED(ec, -1, PYBUF_STATUS_INVALID_ARGUMENT, "no PYBUF_* request");
        REFUSED(ec, PYBUF_FULL | 0x400, PYBUF_STATUS_INVALID_ARGUMENT, "0x400");
#undef REFUSED
    }
    /* what a refused exporter still gives */
    {
        pybuf_buffer v;
        CHECK_STATUS(pybuf_exporter_get_buffer(ero, &v, PYBUF_CONTIG_RO), PYBUF_STATUS_OK);
        CHECK_EQ(v.readonly, 1);
        pybuf_release(&v);
        CHECK_STATUS(pybuf_exporter_get_buffer(epil, &v, PYBUF_FULL), PYBUF_STATUS_OK);
        {
            pybuf_ssize_t ix[2] = {1, 4};
            CHECK_PTR_EQ(pybuf_get_pointer(&v, ix), &pil_rows[1][4]);
        }
        pybuf_release(&v);
    }
    pybuf_exporter_free(ec);
    pybuf_exporter_free(ef);
    pybuf_exporter_free(es);
    pybuf_exporter_free(ero);
    pybuf_exporter_free(epil);
}

/* ---- NULL arguments and invalid descriptions ---------------------------------------- */

static void null_arguments(void) {
    pybuf_exporter_desc d = desc_c34();
    pybuf_exporter *e = NULL;
    owner_calls = 0;
    {
        GUARDED(pybuf_exporter *, out, 1);
        GUARD_INIT(out);
        SNAPSHOT(out);
        CHECK_STATUS(pybuf_exporter_new(NULL, count_owner, &user_token, out), PYBUF_STATUS_NULL_POINTER);
        CHECK_MSG("desc is NULL");
        CHECK_UNCHANGED(out);
    }
    CHECK_STATUS(pybuf_exporter_new(&d, count_owner, &user_token, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_MSG("out is NULL");
    CHECK_EQ(owner_calls, 0);
    {
        /* shape NULL with ndim > 0; buf NULL with len > 0 */
        GUARDED(pybuf_exporter *, out, 1);
        pybuf_exporter_desc bad = desc_c34();
        GUARD_INIT(out);
        SNAPSHOT(out);
        bad.shape = NULL;
        CHECK_STATUS(pybuf_exporter_new(&bad, count_owner, &user_token, out), PYBUF_STATUS_NULL_POINTER);
        CHECK_MSG("shape is NULL");
        bad = desc_c34();
        bad.buf = NULL;
        CHECK_STATUS(pybuf_exporter_new(&bad, count_owner, &user_token, out), PYBUF_STATUS_NULL_POINTER);
        CHECK_MSG("buf is NULL");
        CHECK_UNCHANGED(out);
        CHECK_EQ(owner_calls, 0);
    }
    {
        /* buf NULL with len 0 is an empty memory, and fine for an empty array */
        static pybuf_ssize_t zero[1] = {0};
        pybuf_exporter_desc empty = desc_of(NULL, 0, "d", 1, zero, NULL);
        pybuf_buffer v;
        CHECK_STATUS(pybuf_exporter_new(&empty, NULL, NULL, &e), PYBUF_STATUS_OK);
        CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_PTR_EQ(v.buf, NULL);
        CHECK_EQ(v.len, 0);
        pybuf_release(&v);
        pybuf_exporter_free(e);
    }
    e = new_exporter(&d);
    {
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_exporter_get_buffer(NULL, v, PYBUF_FULL), PYBUF_STATUS_NULL_POINTER);
        CHECK_MSG("exporter is NULL");
        CHECK_UNCHANGED(v);
    }
    CHECK_STATUS(pybuf_exporter_get_buffer(e, NULL, PYBUF_FULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_MSG("view is NULL");
    CHECK_EQ(pybuf_exporter_exports(e), 0);
    CHECK_EQ(pybuf_exporter_exports(NULL), -1);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    CHECK_PTR_EQ(pybuf_exporter_clone(NULL), NULL);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_exporter_replace(NULL, &d), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_exporter_replace(e, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_MSG("desc is NULL");
    PROVOKE_ERROR();
    pybuf_exporter_free(NULL);
    CHECK_LAST(PYBUF_STATUS_OK);
    {
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_fill_view(v, NULL, PYBUF_FULL), PYBUF_STATUS_NULL_POINTER);
        CHECK_UNCHANGED(v);
    }
    CHECK_STATUS(pybuf_fill_view(NULL, &d, PYBUF_FULL), PYBUF_STATUS_NULL_POINTER);
    {
        pybuf_object o = pybuf_exporter_as_object(e);
        pybuf_object no_procs = {NULL, NULL};
        pybuf_procs empty_procs = {NULL, NULL};
        pybuf_object no_getbuffer;
        GUARDED_VIEW(v);
        no_getbuffer.procs = &empty_procs;
        no_getbuffer.exporter = e;
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_object_get_buffer(NULL, v, PYBUF_FULL), PYBUF_STATUS_NULL_POINTER);
        CHECK_STATUS(pybuf_object_get_buffer(&o, NULL, PYBUF_FULL), PYBUF_STATUS_NULL_POINTER);
        CHECK_STATUS(pybuf_object_get_buffer(&no_procs, v, PYBUF_FULL), PYBUF_STATUS_BUFFER_REQUEST);
        CHECK_MSG("no procs");
        CHECK_STATUS(pybuf_object_get_buffer(&no_getbuffer, v, PYBUF_FULL), PYBUF_STATUS_BUFFER_REQUEST);
        CHECK_MSG("no getbuffer");
        CHECK_UNCHANGED(v);
        /* an object of a NULL exporter */
        o = pybuf_exporter_as_object(NULL);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_FULL), PYBUF_STATUS_NULL_POINTER);
        CHECK_UNCHANGED(v);
    }
    CHECK_EQ(pybuf_exporter_exports(e), 0);
    CHECK_EQ(owner_calls, 0);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 1);
}

/* A description refused by pybuf_exporter_new, pybuf_fill_view and pybuf_exporter_replace
   alike, with `status` and a message containing `text`; nothing is written. */
static void refused_desc(const pybuf_exporter_desc *d, int status, const char *text, int line) {
    GUARDED(pybuf_exporter *, out, 1);
    pybuf_exporter *e;
    int before = owner_calls;
    int rc;
    GUARD_INIT(out);
    SNAPSHOT(out);
    rc = pybuf_exporter_new(d, count_owner, &user_token, out);
    if (rc != status)
        CHECK_FAIL_("%s:%d (line %d): pybuf_exporter_new returned %d (%s), expected %d; \"%s\"\n",
                    __FILE__, __LINE__, line, rc, pybuf_status_name(rc), status, pybuf_last_error());
    CHECK_LAST(status);
    CHECK_MSG(text);
    CHECK_UNCHANGED(out);
    CHECK_EQ(owner_calls, before);
    {
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        rc = pybuf_fill_view(v, d, PYBUF_FULL_RO);
        if (rc != status)
            CHECK_FAIL_("%s:%d (line %d): pybuf_fill_view returned %d, expected %d\n", __FILE__,
                        __LINE__, line, rc, status);
        CHECK_MSG(text);
        CHECK_UNCHANGED(v);
    }
    {
        pybuf_exporter_desc good = desc_c34();
        pybuf_buffer v;
        CHECK_STATUS(pybuf_exporter_new(&good, NULL, NULL, &e), PYBUF_STATUS_OK);
        rc = pybuf_exporter_replace(e, d);
        if (rc != status)
            CHECK_FAIL_("%s:%d (line %d): pybuf_exporter_replace returned %d, expected %d\n",
                        __FILE__, __LINE__, line, rc, status);
        CHECK_MSG(text);
        /* the exporter still exports what it did */
        CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_EQ(v.ndim, 2);
        CHECK_EQ(v.shape[1], 4);
        CHECK_STR_EQ(v.format, "d");
        pybuf_release(&v);
        pybuf_exporter_free(e);
    }
}
#define REFUSED_DESC(d, status, text) refused_desc(&(d), (status), (text), __LINE__)

static void invalid_descriptions(void) {
    pybuf_exporter_desc d;
    pybuf_ssize_t shape[3] = {3, 5, 1}, strides[2] = {32, 8};
    pybuf_ssize_t neg[2] = {-32, 8}, huge_shape[2] = {PTRDIFF_MAX_ / 4, 8};
    pybuf_ssize_t big_strides[2] = {PTRDIFF_MAX_ / 2, 8}, two[2] = {3, 4};
    pybuf_ssize_t shape64[65];
    int i;
    owner_calls = 0;

    /* the array must lie within [buf, buf + len) */
    d = desc_of(mem, 96, "d", 2, shape, NULL); /* 3x5 doubles in 96 bytes */
    REFUSED_DESC(d, PYBUF_STATUS_LENGTH_MISMATCH, "outside the 96-byte memory");
    d = desc_of(mem, 95, "d", 2, shape34, NULL); /* one byte short */
    REFUSED_DESC(d, PYBUF_STATUS_LENGTH_MISMATCH, "[0, 96)");
    d = desc_of(mem, 96, "d", 2, shape34, neg); /* a negative stride needs an offset */
    REFUSED_DESC(d, PYBUF_STATUS_LENGTH_MISMATCH, "[-64, 32)");
    d = desc_of(mem, 96, "d", 2, shape34, strides);
    d.offset = 8; /* one element past the end */
    REFUSED_DESC(d, PYBUF_STATUS_LENGTH_MISMATCH, "outside the 96-byte memory");
    d.offset = -8;
    REFUSED_DESC(d, PYBUF_STATUS_LENGTH_MISMATCH, "[-8, 88)");
    d = desc_c34();
    d.len = -1;
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_ARGUMENT, "memory size -1 is negative");

    /* overflow */
    d = desc_of(mem, sizeof mem, "d", 2, huge_shape, NULL);
    REFUSED_DESC(d, PYBUF_STATUS_OVERFLOW, "overflows");
    d = desc_of(mem, sizeof mem, "d", 2, two, big_strides);
    REFUSED_DESC(d, PYBUF_STATUS_OVERFLOW, "strides[0]");
    d = desc_of(mem, sizeof mem, "d", 2, shape34, strides);
    d.offset = PTRDIFF_MAX_;
    REFUSED_DESC(d, PYBUF_STATUS_OVERFLOW, "overflows");

    /* itemsize and format disagree; bad formats */
    d = desc_c34();
    d.itemsize = 4;
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_ITEMSIZE, "itemsize = 4 but format \"d\" has size 8");
    d.itemsize = -8;
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_ITEMSIZE, "itemsize = -8");
    d = desc_c34();
    d.format = "T{i";
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_FORMAT, "unterminated 'T{'");
    d.format = "";
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_ITEMSIZE, "format \"\" has size 0");

    /* ndim */
    d = desc_c34();
    d.ndim = -1;
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_NDIM, "ndim = -1");
    for (i = 0; i < 65; i++)
        shape64[i] = 1;
    d = desc_of(mem, sizeof mem, "d", 65, shape64, NULL);
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_NDIM, "ndim = 65");
    /* 64 dimensions are fine */
    {
        pybuf_exporter *e;
        d.ndim = 64;
        CHECK_STATUS(pybuf_exporter_new(&d, NULL, NULL, &e), PYBUF_STATUS_OK);
        pybuf_exporter_free(e);
    }

    /* shape */
    shape[0] = 3;
    shape[1] = -4;
    d = desc_of(mem, sizeof mem, "d", 2, shape, NULL);
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_SHAPE, "shape[1] = -4 is negative");

    /* readonly */
    d = desc_c34();
    d.readonly = 2;
    REFUSED_DESC(d, PYBUF_STATUS_INVALID_ARGUMENT, "readonly = 2");

    /* suboffsets: the pointer table must lie within the memory */
    {
        static pybuf_ssize_t pshape[2] = {2, 6}, pstrides[2] = {sizeof(void *), 1}, psub[2] = {0, -1};
        d = desc_of(pil_table, sizeof(void *), "B", 2, pshape, pstrides);
        d.suboffsets = psub;
        REFUSED_DESC(d, PYBUF_STATUS_LENGTH_MISMATCH, "outside the 8-byte memory");
    }
    CHECK_EQ(owner_calls, 0);
}

/* ---- replace -------------------------------------------------------------------------- */

static void replace_refused_while_exported(void) {
    static double other[6] = {1, 2, 3, 4, 5, 6};
    static pybuf_ssize_t shape23[2] = {2, 3};
    pybuf_exporter_desc d = desc_c34();
    pybuf_exporter_desc nd = desc_of(other, sizeof other, "d", 2, shape23, NULL);
    pybuf_exporter *e, *clone;
    pybuf_buffer v1, v2;
    owner_calls = 0;
    e = new_exporter(&d);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v1, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v2, PYBUF_ND), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_replace(e, &nd), PYBUF_STATUS_EXPORTS_EXIST);
    CHECK_MSG("existing exports of data (2 live views)");
    pybuf_release(&v1);
    CHECK_STATUS(pybuf_exporter_replace(e, &nd), PYBUF_STATUS_EXPORTS_EXIST);
    CHECK_MSG("(1 live views)");
    /* the live view is unaffected */
    CHECK_PTR_EQ(v2.buf, mem);
    CHECK_EQ(v2.shape[0], 3);
    pybuf_release(&v2);
    /* no exports: allowed */
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_exporter_replace(e, &nd), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v1, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_PTR_EQ(v1.buf, other);
    CHECK_EQ(v1.len, 48);
    CHECK_EQ(v1.shape[0], 2);
    CHECK_EQ(v1.shape[1], 3);
    CHECK_EQ(v1.strides[0], 24);
    /* a clone is the same exporter: its exports count and are refused alike */
    clone = pybuf_exporter_clone(e);
    CHECK_PTR_EQ(clone, e);
    CHECK_EQ(pybuf_exporter_exports(clone), 1);
    CHECK_STATUS(pybuf_exporter_replace(clone, &d), PYBUF_STATUS_EXPORTS_EXIST);
    pybuf_release(&v1);
    /* replace by a read-only description; the owner callback is kept */
    d.readonly = 1;
    CHECK_STATUS(pybuf_exporter_replace(clone, &d), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v1, PYBUF_FULL), PYBUF_STATUS_READ_ONLY);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v1, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_PTR_EQ(v1.buf, mem);
    CHECK_EQ(v1.readonly, 1);
    pybuf_release(&v1);
    pybuf_exporter_free(clone);
    CHECK_EQ(owner_calls, 0);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 1);
    CHECK_PTR_EQ(owner_last_user, &user_token);
}

/* ---- release ------------------------------------------------------------------------------ */

static void release_twice(void) {
    pybuf_exporter_desc d = desc_c34();
    pybuf_exporter *e;
    owner_calls = 0;
    e = new_exporter(&d);
    {
        GUARDED_VIEW(v);
        CHECK_STATUS(pybuf_exporter_get_buffer(e, v, PYBUF_FULL), PYBUF_STATUS_OK);
        v->obj = &user_token; /* obj is the caller's and stays as set */
        PROVOKE_ERROR();
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_GUARDS(v);
        CHECK_PTR_EQ(v->obj, &user_token);
        CHECK_EQ(pybuf_exporter_exports(e), 0);
        SNAPSHOT(v);
        PROVOKE_ERROR();
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_UNCHANGED(v);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_UNCHANGED(v);
        CHECK_EQ(pybuf_exporter_exports(e), 0);
        /* the struct can be filled again */
        CHECK_STATUS(pybuf_exporter_get_buffer(e, v, PYBUF_SIMPLE), PYBUF_STATUS_OK);
        CHECK_EQ(pybuf_exporter_exports(e), 1);
        pybuf_release(v);
        CHECK_EQ(pybuf_exporter_exports(e), 0);
    }
    CHECK_EQ(owner_calls, 0);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 1);
    /* a released view stays released after the exporter is gone */
    {
        pybuf_buffer v;
        e = new_exporter(&d);
        CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
        pybuf_release(&v);
        pybuf_exporter_free(e);
        CHECK_EQ(owner_calls, 2);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(owner_calls, 2);
    }
}

/* A struct copy of a view (at another address) cannot release it: the copy is refused as
   foreign, untouched, and the original releases the export. */
static void release_through_a_copy(void) {
    pybuf_exporter_desc d = desc_c34();
    pybuf_exporter *e;
    pybuf_buffer v;
    owner_calls = 0;
    e = new_exporter(&d);
    memset(&v, 0, sizeof v); /* pybuf leaves obj as it is: give it a value to copy */
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    {
        GUARDED_VIEW(g);
        *g = v;
        SNAPSHOT(g);
        pybuf_release(g);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_MSG("is a copy of the view pybuf filled at");
        CHECK_UNCHANGED(g);
        CHECK_EQ(pybuf_exporter_exports(e), 1);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(pybuf_exporter_exports(e), 0);
        /* the copy of a released view: refused, not a double free */
        pybuf_release(g);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_MSG("was not filled by pybuf");
        CHECK_UNCHANGED(g);
    }
    CHECK_EQ(pybuf_exporter_exports(e), 0);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 1);
}

static void release_foreign(void) {
    pybuf_exporter_desc d = desc_c34();
    pybuf_exporter *e;
    e = new_exporter(&d);
    {
        /* a view as CPython or numpy fills it: internal is the exporter's own */
        static int exporter_state;
        GUARDED_VIEW(v);
        memset(v, 0, sizeof *v);
        v->buf = mem;
        v->obj = &exporter_state;
        v->len = 96;
        v->itemsize = 8;
        v->ndim = 2;
        v->format = (char *)"d";
        v->shape = shape34;
        v->internal = &exporter_state;
        SNAPSHOT(v);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_MSG("not filled by pybuf");
        CHECK_UNCHANGED(v);
        /* the view's data is untouched too */
        CHECK_EQ(exporter_state, 0);
        /* a zeroed struct, and one full of guard bytes */
        memset(v, 0, sizeof *v);
        SNAPSHOT(v);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_UNCHANGED(v);
        GUARD_INIT(v);
        SNAPSHOT(v);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        CHECK_UNCHANGED(v);
    }
    /* a foreign release changes no export count */
    {
        pybuf_buffer v;
        CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
        {
            pybuf_buffer forged = v;
            forged.internal = (char *)v.internal + 8;
            pybuf_release(&forged);
            CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
        }
        CHECK_EQ(pybuf_exporter_exports(e), 1);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(pybuf_exporter_exports(e), 0);
    }
    pybuf_exporter_free(e);
}

/* ---- when the owner callback runs ----------------------------------------------------- */

static void owner_runs_at_the_last_release(void) {
    pybuf_exporter_desc d = desc_c34();
    pybuf_exporter *e, *clone;
    pybuf_buffer a, b;
    owner_calls = 0;
    owner_last_user = NULL;
    e = new_exporter(&d);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &a, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &b, PYBUF_STRIDED_RO), PYBUF_STATUS_OK);
    /* the handle goes first: the views keep the exporter alive */
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 0);
    /* and still work */
    CHECK_EQ(pybuf_is_contiguous(&a, 'C'), 1);
    {
        GUARDED(double, out, 12);
        GUARD_INIT(out);
        CHECK_STATUS(pybuf_to_contiguous(out, &b, b.len, 'C'), PYBUF_STATUS_OK);
        CHECK_MEM_EQ(out, mem, 96);
        CHECK_GUARDS(out);
    }
    CHECK_STR_EQ(a.format, "d");
    CHECK_EQ(a.shape[1], 4);
    pybuf_release(&a);
    CHECK_EQ(owner_calls, 0);
    pybuf_release(&a); /* twice: still not the last */
    CHECK_EQ(owner_calls, 0);
    pybuf_release(&b); /* the last view: exactly now */
    CHECK_EQ(owner_calls, 1);
    CHECK_PTR_EQ(owner_last_user, &user_token);
    pybuf_release(&b);
    CHECK_EQ(owner_calls, 1);

    /* clones: the last reference, whichever it is */
    owner_calls = 0;
    e = new_exporter(&d);
    clone = pybuf_exporter_clone(e);
    CHECK_LAST(PYBUF_STATUS_OK);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 0);
    CHECK_STATUS(pybuf_exporter_get_buffer(clone, &a, PYBUF_FULL), PYBUF_STATUS_OK);
    pybuf_exporter_free(clone);
    CHECK_EQ(owner_calls, 0);
    pybuf_release(&a);
    CHECK_EQ(owner_calls, 1);

    /* no views: at the free */
    owner_calls = 0;
    e = new_exporter(&d);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &a, PYBUF_FULL), PYBUF_STATUS_OK);
    pybuf_release(&a);
    CHECK_EQ(owner_calls, 0);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 1);

    /* views through pybuf_object_get_buffer hold the exporter too */
    owner_calls = 0;
    e = new_exporter(&d);
    {
        pybuf_object o = pybuf_exporter_as_object(e);
        CHECK_STATUS(pybuf_object_get_buffer(&o, &a, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_EQ(pybuf_exporter_exports(e), 1);
    }
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 0);
    pybuf_release(&a);
    CHECK_EQ(owner_calls, 1);
}

/* ---- the built-in exporter as a pybuf_object ------------------------------------------ */

static void exporter_as_object(void) {
    pybuf_exporter_desc d = desc_c34();
    pybuf_exporter *e;
    pybuf_object o;
    d.readonly = 1;
    e = new_exporter(&d);
    o = pybuf_exporter_as_object(e);
    CHECK(o.procs != NULL);
    CHECK_PTR_EQ(o.exporter, e);
    {
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_FULL), PYBUF_STATUS_READ_ONLY);
        CHECK_MSG("PYBUF_WRITABLE");
        CHECK_UNCHANGED(v);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, 0x800), PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_UNCHANGED(v);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_FULL_RO), PYBUF_STATUS_OK);
        CHECK_GUARDS(v);
        CHECK_PTR_EQ(v->buf, mem);
        CHECK_EQ(v->readonly, 1);
        CHECK_EQ(pybuf_exporter_exports(e), 1);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(pybuf_exporter_exports(e), 0);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
    }
    pybuf_exporter_free(e);
}

/* ---- custom exporters ------------------------------------------------------------------ */

enum behaviour {
    FILL_VIEW,       /* getbuffer calls pybuf_fill_view */
    FILL_BY_HAND,    /* getbuffer fills the view itself, internal = its own cookie */
    FAIL_SILENTLY,   /* returns a status without recording a message */
    FAIL_POSITIVE,   /* returns 7, which is no status */
    FILL_MALFORMED   /* fills a view with a negative shape entry */
};

struct custom {
    pybuf_exporter_desc desc;
    pybuf_ssize_t shape[2];
    enum behaviour behaviour;
    int gets, releases;
    void *internal_seen;     /* view->internal as releasebuffer got it */
    void *internal_set;      /* view->internal as getbuffer left it */
    pybuf_ssize_t hand_shape[2];
};

static int cookie;

static int custom_getbuffer(void *exporter, pybuf_buffer *view, int flags) {
    struct custom *c = (struct custom *)exporter;
    int rc = 0;
    c->gets++;
    switch (c->behaviour) {
    case FILL_VIEW:
        rc = pybuf_fill_view(view, &c->desc, flags);
        break;
    case FILL_BY_HAND:
    case FILL_MALFORMED:
        memset(view, 0, sizeof *view);
        view->buf = c->desc.buf;
        view->itemsize = 8;
        view->ndim = 2;
        c->hand_shape[0] = 3;
        c->hand_shape[1] = c->behaviour == FILL_MALFORMED ? -4 : 4;
        view->shape = c->hand_shape;
        view->len = c->behaviour == FILL_MALFORMED ? 0 : 96;
        view->format = (char *)"d";
        view->internal = &cookie;
        break;
    case FAIL_SILENTLY:
        return PYBUF_STATUS_BUFFER_REQUEST;
    case FAIL_POSITIVE:
        return 7;
    }
    if (rc == 0)
        c->internal_set = view->internal;
    return rc;
}

static void custom_releasebuffer(void *exporter, pybuf_buffer *view) {
    struct custom *c = (struct custom *)exporter;
    c->releases++;
    c->internal_seen = view->internal;
}

static const pybuf_procs custom_procs = {custom_getbuffer, custom_releasebuffer};
static const pybuf_procs custom_procs_no_release = {custom_getbuffer, NULL};

static void custom_init(struct custom *c, enum behaviour b) {
    memset(c, 0, sizeof *c);
    c->shape[0] = 3;
    c->shape[1] = 4;
    c->desc = desc_of(mem, sizeof mem, "d", 2, c->shape, NULL);
    c->behaviour = b;
}

static void custom_exporter_fill_view(void) {
    struct custom c;
    pybuf_object o;
    custom_init(&c, FILL_VIEW);
    o.procs = &custom_procs;
    o.exporter = &c;
    {
        GUARDED_VIEW(v);
        PROVOKE_ERROR();
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_GUARDS(v);
        CHECK_EQ(c.gets, 1);
        CHECK_EQ(c.releases, 0);
        CHECK_PTR_EQ(v->buf, mem);
        CHECK_EQ(v->ndim, 2);
        CHECK_STR_EQ(v->format, "d");
        CHECK_EQ(v->strides[0], 32);
        /* the view owns copies: the exporter may change its description */
        c.shape[0] = 1;
        c.desc.format = "q";
        CHECK_EQ(v->shape[0], 3);
        CHECK_STR_EQ(v->format, "d");
        /* pybuf keeps its own bookkeeping in internal, not the exporter's */
        CHECK(v->internal != c.internal_set);
        PROVOKE_ERROR();
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(c.releases, 1);
        /* releasebuffer saw the internal value its getbuffer set */
        CHECK_PTR_EQ(c.internal_seen, c.internal_set);
        /* exactly once */
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(c.releases, 1);
        CHECK_GUARDS(v);
    }
    /* a refusal of pybuf_fill_view inside getbuffer comes back with its own message */
    custom_init(&c, FILL_VIEW);
    c.desc.readonly = 1;
    {
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_CONTIG), PYBUF_STATUS_READ_ONLY);
        CHECK_MSG("PYBUF_WRITABLE requested but the memory is read-only");
        CHECK_UNCHANGED(v);
        CHECK_EQ(c.gets, 1);
        CHECK_EQ(c.releases, 0);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_F_CONTIGUOUS), PYBUF_STATUS_BUFFER_REQUEST);
        CHECK_MSG("PYBUF_F_CONTIGUOUS");
        CHECK_UNCHANGED(v);
        CHECK_EQ(c.releases, 0);
    }
    /* without a releasebuffer */
    custom_init(&c, FILL_VIEW);
    o.procs = &custom_procs_no_release;
    {
        pybuf_buffer v;
        CHECK_STATUS(pybuf_object_get_buffer(&o, &v, PYBUF_RECORDS), PYBUF_STATUS_OK);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(c.releases, 0);
    }
}

static void custom_exporter_by_hand(void) {
    struct custom c;
    pybuf_object o;
    custom_init(&c, FILL_BY_HAND);
    o.procs = &custom_procs;
    o.exporter = &c;
    {
        GUARDED_VIEW(v);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_EQ(c.gets, 1);
        CHECK_EQ(v->shape[1], 4);
        CHECK(v->internal != &cookie);
        pybuf_release(v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(c.releases, 1);
        CHECK_PTR_EQ(c.internal_seen, &cookie);
        pybuf_release(v);
        CHECK_EQ(c.releases, 1);
        CHECK_GUARDS(v);
    }
}

static void custom_getbuffer_fails(void) {
    struct custom c;
    pybuf_object o;
    o.procs = &custom_procs;
    o.exporter = &c;
    {
        GUARDED_VIEW(v);
        SNAPSHOT(v);
        /* a status without a message: pybuf writes one naming it */
        custom_init(&c, FAIL_SILENTLY);
        PROVOKE_ERROR();
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_FULL), PYBUF_STATUS_BUFFER_REQUEST);
        CHECK_MSG("the exporter's getbuffer failed with PYBUF_STATUS_BUFFER_REQUEST");
        CHECK_UNCHANGED(v);
        CHECK_EQ(c.gets, 1);
        CHECK_EQ(c.releases, 0);
        /* a value that is no status */
        custom_init(&c, FAIL_POSITIVE);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_FULL), PYBUF_STATUS_BUFFER_REQUEST);
        CHECK_MSG("failed with status 7");
        CHECK_UNCHANGED(v);
        CHECK_EQ(c.releases, 0);
        /* a malformed view is released again (exactly once) and refused */
        custom_init(&c, FILL_MALFORMED);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, PYBUF_FULL), PYBUF_STATUS_BUFFER_REQUEST);
        CHECK_MSG("the exporter filled a malformed view: shape[1] = -4 is negative");
        /* (the exporter filled the caller's view itself, as in CPython: it is as the
           exporter left it) */
        CHECK_EQ(c.gets, 1);
        CHECK_EQ(c.releases, 1);
        CHECK_PTR_EQ(c.internal_seen, &cookie);
        SNAPSHOT(v);
        /* the request flags are checked before the exporter is asked */
        custom_init(&c, FILL_VIEW);
        CHECK_STATUS(pybuf_object_get_buffer(&o, v, 0x1000), PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_UNCHANGED(v);
        CHECK_EQ(c.gets, 0);
    }
}

/* ---- delegation chains and refused views (issue 12, defects 4 and 5) ------------------ */

static pybuf_exporter *chain_builtin; /* the built-in exporter at the bottom of a chain */
static int chain_inner_releases;
static int chain_break;               /* what breaking_getbuffer does after filling */
enum { BREAK_ITEMSIZE, BREAK_NDIM, BREAK_FAIL };

/* The inner exporter: delegates to the built-in one. */
static int inner_getbuffer(void *exporter, pybuf_buffer *view, int flags) {
    (void)exporter;
    return pybuf_exporter_get_buffer(chain_builtin, view, flags);
}

static void inner_releasebuffer(void *exporter, pybuf_buffer *view) {
    (void)exporter;
    (void)view;
    chain_inner_releases++;
}

/* The outer exporter: its exporter pointer is the inner pybuf_object. */
static int outer_getbuffer(void *exporter, pybuf_buffer *view, int flags) {
    return pybuf_object_get_buffer((const pybuf_object *)exporter, view, flags);
}

/* Delegates to the built-in exporter it points to, then breaks the view (or fails). */
static int breaking_getbuffer(void *exporter, pybuf_buffer *view, int flags) {
    int rc = pybuf_exporter_get_buffer((pybuf_exporter *)exporter, view, flags);
    if (rc != 0)
        return rc;
    switch (chain_break) {
    case BREAK_ITEMSIZE:
        view->itemsize = 0;
        return 0;
    case BREAK_NDIM:
        view->ndim = 70;
        return 0;
    default:
        return PYBUF_STATUS_SHAPE_MISMATCH;
    }
}

/* The same with pybuf_fill_view: its exporter pointer is a description. */
static int breaking_fill_view_getbuffer(void *exporter, pybuf_buffer *view, int flags) {
    int rc = pybuf_fill_view(view, (const pybuf_exporter_desc *)exporter, flags);
    view->itemsize = 0;
    return rc;
}

static const pybuf_procs inner_procs = {inner_getbuffer, inner_releasebuffer};
static const pybuf_procs inner_procs_no_release = {inner_getbuffer, NULL};
static const pybuf_procs outer_procs = {outer_getbuffer, NULL};
static const pybuf_procs breaking_procs = {breaking_getbuffer, NULL};
static const pybuf_procs breaking_fill_view_procs = {breaking_fill_view_getbuffer, NULL};

/* Defect 4: outer getbuffer = pybuf_object_get_buffer(&inner), releasebuffer NULL; the
   inner delegates to a built-in exporter. Releasing the view releases every level. */
static void two_levels_of_delegation(void) {
    pybuf_exporter_desc d = desc_c34();
    int with_release;
    owner_calls = 0;
    chain_builtin = new_exporter(&d);
    for (with_release = 0; with_release < 2; with_release++) {
        pybuf_object inner, outer, outer2;
        pybuf_buffer v;
        inner.procs = with_release ? &inner_procs : &inner_procs_no_release;
        inner.exporter = NULL;
        outer.procs = &outer_procs;
        outer.exporter = &inner;
        chain_inner_releases = 0;
        CHECK_STATUS(pybuf_object_get_buffer(&outer, &v, PYBUF_FULL), PYBUF_STATUS_OK);
        CHECK_EQ(pybuf_exporter_exports(chain_builtin), 1);
        CHECK_EQ(v.shape[1], 4);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(chain_inner_releases, with_release);
        CHECK_EQ(pybuf_exporter_exports(chain_builtin), 0);
        CHECK_STATUS(pybuf_exporter_replace(chain_builtin, &d), PYBUF_STATUS_OK);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(chain_inner_releases, with_release);
        /* three levels */
        outer2.procs = &outer_procs;
        outer2.exporter = &outer;
        CHECK_STATUS(pybuf_object_get_buffer(&outer2, &v, PYBUF_RECORDS_RO), PYBUF_STATUS_OK);
        CHECK_EQ(pybuf_exporter_exports(chain_builtin), 1);
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_EQ(chain_inner_releases, 2 * with_release);
        CHECK_EQ(pybuf_exporter_exports(chain_builtin), 0);
    }
    CHECK_EQ(owner_calls, 0);
    pybuf_exporter_free(chain_builtin);
    CHECK_EQ(owner_calls, 1);
}

/* The resident size says nothing under ASan, whose quarantine keeps freed memory (its
 * leak checker covers the refusals there). */
#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#define PYBUF_TEST_RSS 1
#endif

#ifdef PYBUF_TEST_RSS
/* Resident set size in bytes, from /proc/self/statm (0 if unreadable). */
static long long rss_bytes(void) {
    long long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lld %lld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * 4096;
}
#endif

/* Defect 5: a refused malformed view (and a getbuffer that fails after filling) gives
   back what it was filled with. */
static void refused_views_give_back_their_export(void) {
    pybuf_exporter_desc d = desc_c34();
    pybuf_exporter *e;
    pybuf_object o;
    pybuf_buffer v;
    int i;
    owner_calls = 0;
    e = new_exporter(&d);
    o.procs = &breaking_procs;
    o.exporter = e;
    for (chain_break = BREAK_ITEMSIZE; chain_break <= BREAK_FAIL; chain_break++) {
        for (i = 0; i < 3; i++) {
            CHECK_STATUS(pybuf_object_get_buffer(&o, &v, PYBUF_FULL),
                         chain_break == BREAK_FAIL ? PYBUF_STATUS_SHAPE_MISMATCH
                                                   : PYBUF_STATUS_BUFFER_REQUEST);
            CHECK_MSG(chain_break == BREAK_ITEMSIZE ? "itemsize = 0"
                      : chain_break == BREAK_NDIM   ? "ndim = 70"
                                                    : "PYBUF_STATUS_SHAPE_MISMATCH");
            CHECK_EQ(pybuf_exporter_exports(e), 0);
        }
        /* the view is marked released: releasing it again does nothing */
        pybuf_release(&v);
        CHECK_LAST(PYBUF_STATUS_OK);
        CHECK_STATUS(pybuf_exporter_replace(e, &d), PYBUF_STATUS_OK);
    }
    CHECK_EQ(owner_calls, 0);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 1);

    /* with pybuf_fill_view: 200,000 refusals leave no memory behind (it was ~49 MB) */
    o.procs = &breaking_fill_view_procs;
    o.exporter = &d;
    {
#ifdef PYBUF_TEST_RSS
        long long before, grown;
        for (i = 0; i < 1000; i++) /* warm up the allocator */
            pybuf_object_get_buffer(&o, &v, PYBUF_FULL);
        before = rss_bytes();
#endif
        for (i = 0; i < 200000; i++) {
            if (pybuf_object_get_buffer(&o, &v, PYBUF_FULL) != PYBUF_STATUS_BUFFER_REQUEST)
                break;
        }
        CHECK_EQ(i, 200000);
        CHECK_LAST(PYBUF_STATUS_BUFFER_REQUEST);
        CHECK_MSG("itemsize = 0 is not positive");
#ifdef PYBUF_TEST_RSS
        grown = rss_bytes() - before;
        if (grown >= 8 << 20)
            fprintf(stderr, "RSS grew by %lld bytes over 200,000 refusals\n", grown);
        CHECK(grown < 8 << 20);
#endif
    }
}

/* pybuf_fill_view on its own: the view owns copies; release twice is a no-op. */
static void fill_view_alone(void) {
    pybuf_ssize_t shape[2] = {4, 3}, strides[2] = {8, 32};
    pybuf_exporter_desc d = desc_of(mem, sizeof mem, "<d", 2, shape, strides);
    GUARDED_VIEW(v);
    CHECK_STATUS(pybuf_fill_view(v, &d, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_GUARDS(v);
    shape[0] = 99;
    strides[0] = 99;
    CHECK_EQ(v->shape[0], 4);
    CHECK_EQ(v->strides[0], 8);
    CHECK_STR_EQ(v->format, "<d");
    CHECK_EQ(pybuf_is_contiguous(v, 'F'), 1);
    {
        double out[12];
        int i, ok = 1;
        CHECK_STATUS(pybuf_to_contiguous(out, v, 96, 'F'), PYBUF_STATUS_OK);
        for (i = 0; i < 12; i++)
            ok &= out[i] == mem[i];
        CHECK(ok);
    }
    pybuf_release(v);
    CHECK_LAST(PYBUF_STATUS_OK);
    SNAPSHOT(v);
    pybuf_release(v);
    CHECK_LAST(PYBUF_STATUS_OK);
    CHECK_UNCHANGED(v);
}

/* Views of exporters with negative strides and suboffsets work with the consumers. */
static void views_work_with_consumers(void) {
    static pybuf_ssize_t neg[2] = {-32, -8};
    pybuf_exporter_desc d = desc_of(mem, 96, "d", 2, shape34, neg);
    pybuf_exporter *e;
    pybuf_buffer v, w;
    double src[12], out[12];
    int i, ok = 1;
    for (i = 0; i < 12; i++)
        src[i] = 100 + i;
    d.offset = 88;
    e = new_exporter(&d);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_PTR_EQ(v.buf, &mem[11]);
    /* write through the reversed view: element (0, 0) is mem[11] */
    CHECK_STATUS(pybuf_from_contiguous(&v, src, sizeof src, 'C'), PYBUF_STATUS_OK);
    for (i = 0; i < 12; i++)
        ok &= mem[11 - i] == src[i];
    CHECK(ok);
    /* and copy it to a C-contiguous view of the second half of mem */
    {
        pybuf_exporter_desc c = desc_of(mem + 16, 96, "d", 2, shape34, NULL);
        pybuf_exporter *e2 = new_exporter(&c);
        CHECK_STATUS(pybuf_exporter_get_buffer(e2, &w, PYBUF_CONTIG), PYBUF_STATUS_OK);
        CHECK_STATUS(pybuf_copy(&w, &v), PYBUF_STATUS_OK);
        CHECK_STATUS(pybuf_to_contiguous(out, &w, sizeof out, 'C'), PYBUF_STATUS_OK);
        CHECK_MEM_EQ(out, src, sizeof src);
        pybuf_release(&w);
        pybuf_exporter_free(e2);
    }
    pybuf_release(&v);
    pybuf_exporter_free(e);
}

int main(void) {
    RUN(new_get_release_free);
    RUN(format_and_itemsize);
    RUN(every_flag_combination);
    RUN(fill_view_flag_combinations);
    RUN(each_refusal);
    RUN(null_arguments);
    RUN(invalid_descriptions);
    RUN(replace_refused_while_exported);
    RUN(release_twice);
    RUN(release_through_a_copy);
    RUN(release_foreign);
    RUN(owner_runs_at_the_last_release);
    RUN(exporter_as_object);
    RUN(custom_exporter_fill_view);
    RUN(custom_exporter_by_hand);
    RUN(custom_getbuffer_fails);
    RUN(two_levels_of_delegation);
    RUN(refused_views_give_back_their_export);
    RUN(fill_view_alone);
    RUN(views_work_with_consumers);
    printf("request combinations checked: %ld (%ld refused)\n", flag_cases, flag_refusals);
    return check_report();
}
