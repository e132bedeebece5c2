/*
 * The bad-input catalogue: one table row per malformed input to a public function, with
 * the status the documentation gives for it.
 *
 * Each row runs against fresh memory: the view's memory, the source memory, and every
 * destination (output buffers, `pybuf_buffer` structs that derivations would fill,
 * out-pointers for handles, values, extents) live in guarded regions. A row passes when
 * the call returns the documented status (directly, or as pybuf_last_status() for the
 * functions that return a pointer, a size or a truth value), pybuf_last_error() is a
 * non-empty message, and not one byte of any region (guards and destinations alike)
 * changed: out-parameters are written only on success.
 *
 * Two tables: VIEW_ROWS crosses every malformed view (ndim -1 and 65, a negative shape,
 * itemsize 0, len that disagrees with the shape, overflows, ...) with every function
 * that reads a view; SPECIAL_ROWS covers arguments other than views (NULL pointers, bad
 * orders and flags, malformed formats, exporters, releases, derivations, DLPack).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define ST(name) PYBUF_STATUS_##name
#define NONE PYBUF_SLICE_NONE

/* ---- the environment every row runs in ------------------------------------------ */

#define NARR 70 /* entries in every shape/strides/suboffsets array: ndim 65 reads nothing past them */

struct env {
    pybuf_buffer v;     /* the view under test */
    pybuf_buffer good;  /* a valid 3x4 double view of `src` */
    pybuf_buffer gdst;  /* a valid 3x4 double view of `dstm` */
    pybuf_ssize_t shape[NARR], strides[NARR], suboffsets[NARR];
    pybuf_ssize_t gshape[2], gstrides[2], dshape[2], dstrides[2];
    pybuf_ssize_t idx[NARR];
    int rc;             /* the row's status */
    char msg[512];      /* pybuf_last_error() right after the call */
};

/* Guarded regions (see check.h), static so that the rows' helpers may reach them; all
   are reset before each row and compared after it. */
#define STATIC_GUARDED(type, name, n)                                                      \
    static type name##_region_[2 * (GUARD_SPAN_(sizeof(type)) / sizeof(type)) + (n)];      \
    static unsigned char name##_snap_[sizeof(name##_region_)]
#define GUARDED_DATA(name) (name##_region_ + GUARD_SPAN_(sizeof(name##_region_[0])) / sizeof(name##_region_[0]))
STATIC_GUARDED(double, mem, 16);
STATIC_GUARDED(double, src, 16);
STATIC_GUARDED(double, dstm, 16);
STATIC_GUARDED(double, outr, 64);
#define g_mem GUARDED_DATA(mem)
#define g_src GUARDED_DATA(src)
#define g_dstm GUARDED_DATA(dstm)
#define g_out GUARDED_DATA(outr)

/* The status of the call just made, and a copy of its message (later clean-up calls
   would replace them). */
static void capture(struct env *e, int rc) {
    const char *m = pybuf_last_error();
    e->rc = rc;
    strncpy(e->msg, m ? m : "", sizeof e->msg - 1);
    e->msg[sizeof e->msg - 1] = '\0';
}
#define CALL(x) capture(e, (int)(x))
/* For functions whose failure is a sentinel (NULL, -1, 0): the status is the last one. */
#define CALL_SENTINEL(x, bad)                                                              \
    do {                                                                                   \
        int sentinel_ok_ = ((x) == (bad));                                                 \
        capture(e, pybuf_last_status());                                                   \
        if (!sentinel_ok_)                                                                 \
            e->rc = 1; /* not the failure value: never an expected status */               \
    } while (0)

static void base_view(struct env *e) {
    int i;
    memset(e, 0, sizeof *e);
    for (i = 0; i < NARR; i++) {
        e->shape[i] = 1;
        e->strides[i] = 8;
        e->suboffsets[i] = -1;
    }
    e->shape[0] = 3;
    e->shape[1] = 4;
    e->strides[0] = 32;
    e->strides[1] = 8;
    e->v = make_view(g_mem, 8, 2, e->shape, e->strides, NULL);
    e->v.format = (char *)"d";
    e->gshape[0] = e->dshape[0] = 3;
    e->gshape[1] = e->dshape[1] = 4;
    e->gstrides[0] = e->dstrides[0] = 32;
    e->gstrides[1] = e->dstrides[1] = 8;
    e->good = make_view(g_src, 8, 2, e->gshape, e->gstrides, NULL);
    e->good.format = (char *)"d";
    e->gdst = make_view(g_dstm, 8, 2, e->dshape, e->dstrides, NULL);
    e->gdst.format = (char *)"d";
}

/* ---- malformed views ------------------------------------------------------------ */

enum mutation {
    M_NULL,           /* the view pointer is NULL */
    M_NDIM_NEG,       /* ndim = -1 */
    M_NDIM_65,        /* ndim = 65 */
    M_NDIM_MAX,       /* ndim = INT_MAX */
    M_SHAPE_NEG,      /* shape[1] = -4 */
    M_SHAPE_MIN,      /* shape[0] = PTRDIFF_MIN */
    M_ITEMSIZE_0,     /* itemsize = 0 */
    M_ITEMSIZE_NEG,   /* itemsize = -8 */
    M_LEN_SHORT,      /* len = 95 */
    M_LEN_LONG,       /* len = 104 */
    M_LEN_NEG,        /* len = -96 */
    M_SHAPE_ITEMSIZE, /* shape x itemsize overflows */
    M_SHAPE_PRODUCT,  /* product(shape) overflows */
    M_STRIDES_MAX,    /* strides[0] = PTRDIFF_MAX: offsets overflow */
    M_STRIDES_MIN,    /* strides[1] = PTRDIFF_MIN */
    M_SUBOFFSET_MAX,  /* suboffsets[0] = PTRDIFF_MAX: offsets overflow */
    M_BUF_NULL,       /* buf NULL with len 96 */
    M_READONLY_2,     /* readonly = 2 */
    M_SHAPE_NULL,     /* shape NULL with ndim 2 */
    M_STRIDES_NOSHAPE /* ndim 1, shape NULL, strides given */
};

static void mutate(struct env *e, int m) {
    pybuf_buffer *v = &e->v;
    switch (m) {
    case M_NDIM_NEG: v->ndim = -1; break;
    case M_NDIM_65: v->ndim = 65; break;
    case M_NDIM_MAX: v->ndim = INT_MAX; break;
    case M_SHAPE_NEG: e->shape[1] = -4; break;
    case M_SHAPE_MIN: e->shape[0] = PTRDIFF_MIN; break;
    case M_ITEMSIZE_0: v->itemsize = 0; break;
    case M_ITEMSIZE_NEG: v->itemsize = -8; break;
    case M_LEN_SHORT: v->len = 95; break;
    case M_LEN_LONG: v->len = 104; break;
    case M_LEN_NEG: v->len = -96; break;
    case M_SHAPE_ITEMSIZE: e->shape[0] = PTRDIFF_MAX / 8 + 1; e->shape[1] = 1; break;
    case M_SHAPE_PRODUCT: e->shape[0] = PTRDIFF_MAX / 2; e->shape[1] = 3; break;
    case M_STRIDES_MAX: e->strides[0] = PTRDIFF_MAX; break;
    case M_STRIDES_MIN: e->strides[1] = PTRDIFF_MIN; break;
    case M_SUBOFFSET_MAX: e->suboffsets[0] = PTRDIFF_MAX; v->suboffsets = e->suboffsets; break;
    case M_BUF_NULL: v->buf = NULL; break;
    case M_READONLY_2: v->readonly = 2; break;
    case M_SHAPE_NULL: v->shape = NULL; break;
    case M_STRIDES_NOSHAPE: v->ndim = 1; v->shape = NULL; v->len = 96; break;
    default: break;
    }
}

/* The functions that read a view. */
enum viewfn {
    F_IS_CONTIGUOUS, F_GET_POINTER, F_TO_CONTIGUOUS, F_FROM_CONTIGUOUS, F_COPY_DST,
    F_COPY_SRC, F_SLICE, F_INDEX, F_SUBVIEW, F_TRANSPOSE, F_PERMUTE, F_CAST, F_BROADCAST,
    F_BROADCAST_TO, F_ITEM_FIELDS, F_GET_ITEM, F_SET_ITEM, F_ITER_NEW, F_EQUAL_A,
    F_EQUAL_B, F_VALIDATE, F_EXTENT, F_CHECK_FORMAT, F_CHECK_FORMAT_EX, F_TO_DLPACK,
    F_TO_DLPACK_LEGACY, F_COUNT
};

static const char *const viewfn_names[F_COUNT] = {
    "pybuf_is_contiguous", "pybuf_get_pointer", "pybuf_to_contiguous",
    "pybuf_from_contiguous", "pybuf_copy (dst)", "pybuf_copy (src)", "pybuf_slice",
    "pybuf_index", "pybuf_subview", "pybuf_transpose", "pybuf_permute", "pybuf_cast",
    "pybuf_broadcast", "pybuf_broadcast_to", "pybuf_item_fields", "pybuf_get_item",
    "pybuf_set_item", "pybuf_iter_new", "pybuf_equal (a)", "pybuf_equal (b)",
    "pybuf_validate", "pybuf_extent", "pybuf_check_format", "pybuf_check_format_ex",
    "pybuf_to_dlpack", "pybuf_to_dlpack_legacy"};

static void call_view_fn(struct env *e, int fn, const pybuf_buffer *v) {
    pybuf_buffer *dst = (pybuf_buffer *)(void *)g_out; /* a derivation's destination */
    static const int axes[2] = {1, 0};
    pybuf_ssize_t zero2[2] = {0, 0}, one2[2] = {1, 1}, to[3] = {2, 3, 4};
    switch (fn) {
    case F_IS_CONTIGUOUS: CALL_SENTINEL(pybuf_is_contiguous(v, 'C'), 0); break;
    case F_GET_POINTER: CALL_SENTINEL(pybuf_get_pointer(v, e->idx), NULL); break;
    case F_TO_CONTIGUOUS: CALL(pybuf_to_contiguous(g_out, v, 96, 'C')); break;
    case F_FROM_CONTIGUOUS: CALL(pybuf_from_contiguous(v, g_src, 96, 'C')); break;
    case F_COPY_DST: CALL(pybuf_copy(v, &e->good)); break;
    case F_COPY_SRC: CALL(pybuf_copy(&e->gdst, v)); break;
    case F_SLICE: CALL(pybuf_slice(dst, v, 0, 1, NONE, 1)); break;
    case F_INDEX: CALL(pybuf_index(dst, v, 0, 1)); break;
    case F_SUBVIEW: CALL(pybuf_subview(dst, v, zero2, one2)); break;
    case F_TRANSPOSE: CALL(pybuf_transpose(dst, v)); break;
    case F_PERMUTE: CALL(pybuf_permute(dst, v, axes)); break;
    case F_CAST: CALL(pybuf_cast(dst, v, "B", -1, NULL)); break;
    case F_BROADCAST: CALL(pybuf_broadcast(dst, v, 0, 3)); break;
    case F_BROADCAST_TO: CALL(pybuf_broadcast_to(dst, v, 3, to)); break;
    case F_ITEM_FIELDS: CALL_SENTINEL(pybuf_item_fields(v), -1); break;
    case F_GET_ITEM: CALL(pybuf_get_item(v, e->idx, 0, (pybuf_value *)(void *)g_out)); break;
    case F_SET_ITEM: {
        pybuf_value val;
        memset(&val, 0, sizeof val);
        val.kind = PYBUF_VALUE_DOUBLE;
        val.real = 1.5;
        CALL(pybuf_set_item(v, e->idx, 0, &val));
        break;
    }
    case F_ITER_NEW: CALL(pybuf_iter_new(v, 'C', (pybuf_iter **)(void *)g_out)); break;
    case F_EQUAL_A: CALL(pybuf_equal(v, &e->good)); break;
    case F_EQUAL_B: CALL(pybuf_equal(&e->good, v)); break;
    case F_VALIDATE: CALL(pybuf_validate(v, PYBUF_VALIDATE_LAYOUT, NULL, 0)); break;
    case F_EXTENT: CALL(pybuf_extent(v, (pybuf_ssize_t *)g_out, (pybuf_ssize_t *)g_out + 1)); break;
    case F_CHECK_FORMAT: CALL(pybuf_check_format(v, "d")); break;
    case F_CHECK_FORMAT_EX: CALL(pybuf_check_format_ex(v, "d", 2, 'C')); break;
    case F_TO_DLPACK: CALL(pybuf_to_dlpack(v, NULL, NULL, (DLManagedTensorVersioned **)(void *)g_out)); break;
    case F_TO_DLPACK_LEGACY: CALL(pybuf_to_dlpack_legacy(v, NULL, NULL, (DLManagedTensor **)(void *)g_out)); break;
    default: e->rc = 1; break;
    }
}

struct view_row {
    int mutation;
    const char *what;
    int status;
};

/* Every malformed view, with the status any function that reads it must return. */
static const struct view_row VIEW_ROWS[] = {
    {M_NULL, "NULL view", ST(NULL_POINTER)},
    {M_NDIM_NEG, "ndim = -1", ST(INVALID_NDIM)},
    {M_NDIM_65, "ndim = 65", ST(INVALID_NDIM)},
    {M_NDIM_MAX, "ndim = INT_MAX", ST(INVALID_NDIM)},
    {M_SHAPE_NEG, "shape[1] = -4", ST(INVALID_SHAPE)},
    {M_SHAPE_MIN, "shape[0] = PTRDIFF_MIN", ST(INVALID_SHAPE)},
    {M_ITEMSIZE_0, "itemsize = 0", ST(INVALID_ITEMSIZE)},
    {M_ITEMSIZE_NEG, "itemsize = -8", ST(INVALID_ITEMSIZE)},
    {M_LEN_SHORT, "len = 95 for 3x4 doubles", ST(LENGTH_MISMATCH)},
    {M_LEN_LONG, "len = 104 for 3x4 doubles", ST(LENGTH_MISMATCH)},
    {M_LEN_NEG, "len = -96", ST(LENGTH_MISMATCH)},
    {M_SHAPE_ITEMSIZE, "shape[0] x itemsize overflows", ST(OVERFLOW)},
    {M_SHAPE_PRODUCT, "product(shape) overflows", ST(OVERFLOW)},
    {M_STRIDES_MAX, "strides[0] = PTRDIFF_MAX", ST(OVERFLOW)},
    {M_STRIDES_MIN, "strides[1] = PTRDIFF_MIN", ST(OVERFLOW)},
    {M_SUBOFFSET_MAX, "suboffsets[0] = PTRDIFF_MAX", ST(OVERFLOW)},
    {M_BUF_NULL, "buf NULL with len 96", ST(NULL_POINTER)},
    {M_READONLY_2, "readonly = 2", ST(INVALID_ARGUMENT)},
    {M_SHAPE_NULL, "shape NULL with ndim 2", ST(INVALID_SHAPE)},
    {M_STRIDES_NOSHAPE, "strides without a shape", ST(INVALID_STRIDES)},
};
#define N_VIEW_ROWS ((int)(sizeof VIEW_ROWS / sizeof VIEW_ROWS[0]))

/* ---- other arguments ------------------------------------------------------------- */

enum special {
    /* pybuf_fill_contiguous_strides */
    S_FCS_NDIM_NEG, S_FCS_NDIM_65, S_FCS_SHAPE_NULL, S_FCS_STRIDES_NULL, S_FCS_ITEMSIZE_0,
    S_FCS_ITEMSIZE_NEG, S_FCS_SHAPE_NEG, S_FCS_ORDER_X, S_FCS_ORDER_NUL, S_FCS_ORDER_LOWER,
    S_FCS_OVERFLOW, S_FCS_OVERFLOW_ITEMSIZE,
    /* pybuf_fill_info */
    S_FI_VIEW_NULL, S_FI_LEN_NEG, S_FI_BUF_NULL, S_FI_READONLY_2, S_FI_READONLY_NEG,
    S_FI_FLAGS_UNKNOWN, S_FI_FLAGS_READ, S_FI_FLAGS_WRITE, S_FI_FLAGS_NEG, S_FI_WRITABLE_RO,
    /* pybuf_to_contiguous / pybuf_from_contiguous / pybuf_copy */
    S_TC_ORDER_X, S_TC_ORDER_NUL, S_TC_ORDER_LOWER, S_TC_LEN_SHORT, S_TC_LEN_LONG,
    S_TC_LEN_NEG, S_TC_DST_NULL, S_FC_ORDER_Z, S_FC_LEN_NEG, S_FC_SRC_NULL, S_FC_READONLY,
    S_FC_ZERO_STRIDE, S_CP_SHAPE, S_CP_ITEMSIZE, S_CP_NDIM, S_CP_READONLY, S_CP_ZERO_STRIDE,
    /* pybuf_get_pointer */
    S_GP_ROW, S_GP_COL, S_GP_NEG, S_GP_MAX, S_GP_INDICES_NULL,
    /* formats */
    S_SFF_NULL, S_SFF_FIELD_NAME, S_SFF_PAREN, S_SFF_STRUCT_OPEN, S_SFF_CLOSE, S_SFF_COUNT,
    S_SFF_COLON, S_SFF_BITS, S_SFF_HUGE, S_SFF_DEEP, S_SFF_BAD_CODE, S_SFF_AMP, S_SFF_FUNC,
    S_SFF_NEG_SHAPE, S_SFF_STD_N, S_FP_NULL_FORMAT, S_FP_NULL_OUT, S_FP_MALFORMED,
    S_FP_FIELD_RANGE, S_FP_LEAF_RANGE, S_FP_FIELD_NULL, S_FP_FREE_NESTED, S_FP_RUNS_NULL,
    S_CF_EXPECTED_NULL, S_CF_EXPECTED_BAD, S_CF_MISMATCH, S_CF_VIEW_FORMAT_BAD,
    S_CFX_NDIM, S_CFX_ORDER, S_CFX_NOT_CONTIG,
    /* exporters */
    S_EN_DESC_NULL, S_EN_OUT_NULL, S_EN_NDIM_NEG, S_EN_NDIM_65, S_EN_SHAPE_NULL,
    S_EN_SHAPE_NEG, S_EN_ITEMSIZE_FORMAT, S_EN_OUTSIDE, S_EN_LEN_NEG, S_EN_READONLY_2,
    S_EN_FORMAT_BAD, S_EN_STRIDES_OVERFLOW, S_EN_SUBOFFSET_OVERFLOW, S_EN_BUF_NULL,
    S_EG_NULL, S_EG_VIEW_NULL, S_EG_FLAGS, S_EG_WRITABLE_RO, S_EG_F_CONTIG, S_EG_C_CONTIG,
    S_EG_ANY_CONTIG, S_EG_SUBOFFSETS_NO_INDIRECT, S_EG_NO_STRIDES, S_EG_FORMAT_NO_ND,
    S_ER_EXPORTS_EXIST, S_ER_DESC_NULL, S_FV_VIEW_NULL, S_FV_DESC_NULL, S_FV_FLAGS,
    S_OG_OBJ_NULL, S_OG_PROCS_NULL, S_OG_GETBUFFER_NULL, S_OG_GETBUFFER_FAILS,
    S_OG_MALFORMED, S_OG_FLAGS,
    /* releases */
    S_REL_TWICE, S_REL_COPY, S_REL_ZEROED, S_REL_FOREIGN, S_REL_STALE,
    /* derivations */
    S_SL_STEP0, S_SL_DIM, S_SL_DIM_NEG, S_SL_SAME, S_SL_RELEASED, S_IX_RANGE, S_IX_NEG,
    S_IX_DIM, S_SV_OUTSIDE, S_SV_NEG_SHAPE, S_SV_NEG_START, S_PM_REPEATED, S_PM_RANGE,
    S_PM_NULL, S_CA_NOT_CONTIG, S_CA_LEN, S_CA_NDIM, S_CA_FORMAT, S_CA_SUBOFFSETS,
    S_BC_LENGTH, S_BC_NEG, S_BC_DIM, S_BT_FEWER, S_BT_MISMATCH, S_BT_NDIM,
    /* values, iteration, validation, extent */
    S_SI_READONLY, S_SI_KIND, S_SI_BYTES, S_SI_BOOL, S_SI_RANGE, S_GI_FIELD, S_GI_OUT_NULL,
    S_IT_ORDER, S_IT_OUT_NULL, S_VA_LEVEL, S_VA_SIZE_NEG, S_VA_OUTSIDE, S_VA_FORMAT,
    S_EX_LO_NULL,
    /* DLPack */
    S_DL_SUBOFFSETS, S_DL_STRUCT, S_DL_OUT_NULL, S_DL_LEGACY_READONLY, S_DF_NULL,
    S_DF_VERSION, S_DF_DEVICE, S_DF_NDIM, S_DF_SHAPE_NEG, S_DF_DTYPE, S_DF_DATA_NULL,
    S_COUNT
};

struct special_row {
    int id;
    const char *what;
    int status;
};

static const struct special_row SPECIAL_ROWS[] = {
    {S_FCS_NDIM_NEG, "fill_contiguous_strides: ndim = -1", ST(INVALID_NDIM)},
    {S_FCS_NDIM_65, "fill_contiguous_strides: ndim = 65", ST(INVALID_NDIM)},
    {S_FCS_SHAPE_NULL, "fill_contiguous_strides: shape NULL with ndim 2", ST(NULL_POINTER)},
    {S_FCS_STRIDES_NULL, "fill_contiguous_strides: strides NULL with ndim 2", ST(NULL_POINTER)},
    {S_FCS_ITEMSIZE_0, "fill_contiguous_strides: itemsize = 0", ST(INVALID_ITEMSIZE)},
    {S_FCS_ITEMSIZE_NEG, "fill_contiguous_strides: itemsize = -8", ST(INVALID_ITEMSIZE)},
    {S_FCS_SHAPE_NEG, "fill_contiguous_strides: shape[1] = -1", ST(INVALID_SHAPE)},
    {S_FCS_ORDER_X, "fill_contiguous_strides: order 'X'", ST(INVALID_ARGUMENT)},
    {S_FCS_ORDER_NUL, "fill_contiguous_strides: order 0", ST(INVALID_ARGUMENT)},
    {S_FCS_ORDER_LOWER, "fill_contiguous_strides: order 'c'", ST(INVALID_ARGUMENT)},
    {S_FCS_OVERFLOW, "fill_contiguous_strides: shape {PTRDIFF_MAX, 2} overflows", ST(OVERFLOW)},
    {S_FCS_OVERFLOW_ITEMSIZE, "fill_contiguous_strides: itemsize PTRDIFF_MAX x 2", ST(OVERFLOW)},

    {S_FI_VIEW_NULL, "fill_info: view NULL", ST(NULL_POINTER)},
    {S_FI_LEN_NEG, "fill_info: len = -1", ST(INVALID_ARGUMENT)},
    {S_FI_BUF_NULL, "fill_info: buf NULL with len 8", ST(NULL_POINTER)},
    {S_FI_READONLY_2, "fill_info: readonly = 2", ST(INVALID_ARGUMENT)},
    {S_FI_READONLY_NEG, "fill_info: readonly = -1", ST(INVALID_ARGUMENT)},
    {S_FI_FLAGS_UNKNOWN, "fill_info: flags with bit 0x400", ST(INVALID_ARGUMENT)},
    {S_FI_FLAGS_READ, "fill_info: flags = PYBUF_READ", ST(INVALID_ARGUMENT)},
    {S_FI_FLAGS_WRITE, "fill_info: flags = PYBUF_WRITE", ST(INVALID_ARGUMENT)},
    {S_FI_FLAGS_NEG, "fill_info: flags = -1", ST(INVALID_ARGUMENT)},
    {S_FI_WRITABLE_RO, "fill_info: PYBUF_WRITABLE on read-only memory", ST(READ_ONLY)},

    {S_TC_ORDER_X, "to_contiguous: order 'X'", ST(INVALID_ARGUMENT)},
    {S_TC_ORDER_NUL, "to_contiguous: order 0", ST(INVALID_ARGUMENT)},
    {S_TC_ORDER_LOWER, "to_contiguous: order 'f'", ST(INVALID_ARGUMENT)},
    {S_TC_LEN_SHORT, "to_contiguous: len = 95 for a 96-byte view", ST(LENGTH_MISMATCH)},
    {S_TC_LEN_LONG, "to_contiguous: len = 97 for a 96-byte view", ST(LENGTH_MISMATCH)},
    {S_TC_LEN_NEG, "to_contiguous: len = -1", ST(LENGTH_MISMATCH)},
    {S_TC_DST_NULL, "to_contiguous: dst NULL", ST(NULL_POINTER)},
    {S_FC_ORDER_Z, "from_contiguous: order 'Z'", ST(INVALID_ARGUMENT)},
    {S_FC_LEN_NEG, "from_contiguous: len = -1", ST(INVALID_ARGUMENT)},
    {S_FC_SRC_NULL, "from_contiguous: src NULL with len 96", ST(NULL_POINTER)},
    {S_FC_READONLY, "from_contiguous: read-only dst", ST(READ_ONLY)},
    {S_FC_ZERO_STRIDE, "from_contiguous: dst with a zero stride", ST(INVALID_STRIDES)},
    {S_CP_SHAPE, "copy: shapes 3x4 and 4x3", ST(SHAPE_MISMATCH)},
    {S_CP_ITEMSIZE, "copy: itemsizes 8 and 4", ST(SHAPE_MISMATCH)},
    {S_CP_NDIM, "copy: ndim 2 and 1", ST(SHAPE_MISMATCH)},
    {S_CP_READONLY, "copy: read-only dst", ST(READ_ONLY)},
    {S_CP_ZERO_STRIDE, "copy: dst with a zero stride", ST(INVALID_STRIDES)},

    {S_GP_ROW, "get_pointer: indices {3, 0}", ST(INDEX_OUT_OF_RANGE)},
    {S_GP_COL, "get_pointer: indices {0, 4}", ST(INDEX_OUT_OF_RANGE)},
    {S_GP_NEG, "get_pointer: indices {-1, 0}", ST(INDEX_OUT_OF_RANGE)},
    {S_GP_MAX, "get_pointer: indices {PTRDIFF_MAX, 0}", ST(INDEX_OUT_OF_RANGE)},
    {S_GP_INDICES_NULL, "get_pointer: indices NULL with ndim 2", ST(NULL_POINTER)},

    {S_SFF_NULL, "size_from_format: NULL", ST(NULL_POINTER)},
    {S_SFF_FIELD_NAME, "size_from_format: \"T{i:a}\" (unterminated name)", ST(INVALID_FORMAT)},
    {S_SFF_PAREN, "size_from_format: \"(2\"", ST(INVALID_FORMAT)},
    {S_SFF_STRUCT_OPEN, "size_from_format: \"T{i\"", ST(INVALID_FORMAT)},
    {S_SFF_CLOSE, "size_from_format: \"i}\"", ST(INVALID_FORMAT)},
    {S_SFF_COUNT, "size_from_format: \"3\" (a count without a code)", ST(INVALID_FORMAT)},
    {S_SFF_COLON, "size_from_format: \":a:\" (a name without a field)", ST(INVALID_FORMAT)},
    {S_SFF_BITS, "size_from_format: \"t\" (bits)", ST(UNSUPPORTED_FORMAT)},
    {S_SFF_HUGE, "size_from_format: a count beyond PY_SSIZE_T_MAX", ST(OVERFLOW)},
    {S_SFF_DEEP, "size_from_format: 65 nested T{", ST(UNSUPPORTED_FORMAT)},
    {S_SFF_BAD_CODE, "size_from_format: \"y\" (no such code)", ST(INVALID_FORMAT)},
    {S_SFF_AMP, "size_from_format: \"&\" (a pointer to nothing)", ST(INVALID_FORMAT)},
    {S_SFF_FUNC, "size_from_format: \"X{i\" (unterminated function)", ST(INVALID_FORMAT)},
    {S_SFF_NEG_SHAPE, "size_from_format: \"(-1)i\"", ST(INVALID_FORMAT)},
    {S_SFF_STD_N, "size_from_format: \"<n\" (n in a standard mode)", ST(INVALID_FORMAT)},
    {S_FP_NULL_FORMAT, "format_parse: format NULL", ST(NULL_POINTER)},
    {S_FP_NULL_OUT, "format_parse: out NULL", ST(NULL_POINTER)},
    {S_FP_MALFORMED, "format_parse: \"T{d:x:\"", ST(INVALID_FORMAT)},
    {S_FP_FIELD_RANGE, "format_get_field: index = field count", ST(INDEX_OUT_OF_RANGE)},
    {S_FP_LEAF_RANGE, "format_get_leaf: index -1", ST(INDEX_OUT_OF_RANGE)},
    {S_FP_FIELD_NULL, "format_get_field: handle NULL", ST(NULL_POINTER)},
    {S_FP_FREE_NESTED, "format_free: a nested handle", ST(INVALID_ARGUMENT)},
    {S_FP_RUNS_NULL, "format_runs_new: out NULL", ST(NULL_POINTER)},
    {S_CF_EXPECTED_NULL, "check_format: expected NULL", ST(NULL_POINTER)},
    {S_CF_EXPECTED_BAD, "check_format: expected \"T{\"", ST(INVALID_FORMAT)},
    {S_CF_MISMATCH, "check_format: a \"d\" view against \"q\"", ST(FORMAT_MISMATCH)},
    {S_CF_VIEW_FORMAT_BAD, "check_format: the view's format \"((\"", ST(INVALID_FORMAT)},
    {S_CFX_NDIM, "check_format_ex: ndim = -2", ST(INVALID_NDIM)},
    {S_CFX_ORDER, "check_format_ex: order 'Q'", ST(INVALID_ARGUMENT)},
    {S_CFX_NOT_CONTIG, "check_format_ex: an F-contiguous view for order 'C'", ST(FORMAT_MISMATCH)},

    {S_EN_DESC_NULL, "exporter_new: desc NULL", ST(NULL_POINTER)},
    {S_EN_OUT_NULL, "exporter_new: out NULL", ST(NULL_POINTER)},
    {S_EN_NDIM_NEG, "exporter_new: ndim = -1", ST(INVALID_NDIM)},
    {S_EN_NDIM_65, "exporter_new: ndim = 65", ST(INVALID_NDIM)},
    {S_EN_SHAPE_NULL, "exporter_new: shape NULL with ndim 2", ST(NULL_POINTER)},
    {S_EN_SHAPE_NEG, "exporter_new: shape[0] = -3", ST(INVALID_SHAPE)},
    {S_EN_ITEMSIZE_FORMAT, "exporter_new: itemsize 4 with format \"d\"", ST(INVALID_ITEMSIZE)},
    {S_EN_OUTSIDE, "exporter_new: the array reaches past len", ST(LENGTH_MISMATCH)},
    {S_EN_LEN_NEG, "exporter_new: len = -1", ST(INVALID_ARGUMENT)},
    {S_EN_READONLY_2, "exporter_new: readonly = 2", ST(INVALID_ARGUMENT)},
    {S_EN_FORMAT_BAD, "exporter_new: format \"T{\"", ST(INVALID_FORMAT)},
    {S_EN_STRIDES_OVERFLOW, "exporter_new: strides[0] = PTRDIFF_MAX", ST(OVERFLOW)},
    {S_EN_SUBOFFSET_OVERFLOW, "exporter_new: suboffsets[0] = PTRDIFF_MAX", ST(OVERFLOW)},
    {S_EN_BUF_NULL, "exporter_new: buf NULL with len 96", ST(NULL_POINTER)},
    {S_EG_NULL, "exporter_get_buffer: exporter NULL", ST(NULL_POINTER)},
    {S_EG_VIEW_NULL, "exporter_get_buffer: view NULL", ST(NULL_POINTER)},
    {S_EG_FLAGS, "exporter_get_buffer: flags with bit 0x1000", ST(INVALID_ARGUMENT)},
    {S_EG_WRITABLE_RO, "exporter_get_buffer: PYBUF_WRITABLE of read-only memory", ST(READ_ONLY)},
    {S_EG_F_CONTIG, "exporter_get_buffer: PYBUF_F_CONTIGUOUS of C memory", ST(BUFFER_REQUEST)},
    {S_EG_C_CONTIG, "exporter_get_buffer: PYBUF_C_CONTIGUOUS of F memory", ST(BUFFER_REQUEST)},
    {S_EG_ANY_CONTIG, "exporter_get_buffer: PYBUF_ANY_CONTIGUOUS of strided memory", ST(BUFFER_REQUEST)},
    {S_EG_SUBOFFSETS_NO_INDIRECT, "exporter_get_buffer: suboffsets without PYBUF_INDIRECT", ST(BUFFER_REQUEST)},
    {S_EG_NO_STRIDES, "exporter_get_buffer: PYBUF_ND of F memory", ST(BUFFER_REQUEST)},
    {S_EG_FORMAT_NO_ND, "exporter_get_buffer: PYBUF_FORMAT without PYBUF_ND", ST(BUFFER_REQUEST)},
    {S_ER_EXPORTS_EXIST, "exporter_replace: while a view is alive", ST(EXPORTS_EXIST)},
    {S_ER_DESC_NULL, "exporter_replace: desc NULL", ST(NULL_POINTER)},
    {S_FV_VIEW_NULL, "fill_view: view NULL", ST(NULL_POINTER)},
    {S_FV_DESC_NULL, "fill_view: desc NULL", ST(NULL_POINTER)},
    {S_FV_FLAGS, "fill_view: flags = -1", ST(INVALID_ARGUMENT)},
    {S_OG_OBJ_NULL, "object_get_buffer: obj NULL", ST(NULL_POINTER)},
    {S_OG_PROCS_NULL, "object_get_buffer: obj without procs", ST(BUFFER_REQUEST)},
    {S_OG_GETBUFFER_NULL, "object_get_buffer: procs without getbuffer", ST(BUFFER_REQUEST)},
    {S_OG_GETBUFFER_FAILS, "object_get_buffer: getbuffer returns INVALID_NDIM", ST(INVALID_NDIM)},
    {S_OG_MALFORMED, "object_get_buffer: getbuffer fills a malformed view", ST(BUFFER_REQUEST)},
    {S_OG_FLAGS, "object_get_buffer: flags with bit 0x800", ST(INVALID_ARGUMENT)},

    {S_REL_TWICE, "release: twice (a no-op)", ST(OK)},
    {S_REL_COPY, "release: a copy of a filled view", ST(FOREIGN_VIEW)},
    {S_REL_ZEROED, "release: a zeroed view with internal set", ST(FOREIGN_VIEW)},
    {S_REL_FOREIGN, "release: a view with a foreign internal", ST(FOREIGN_VIEW)},
    {S_REL_STALE, "release: a copy after the original was released", ST(FOREIGN_VIEW)},

    {S_SL_STEP0, "slice: step 0", ST(INVALID_ARGUMENT)},
    {S_SL_DIM, "slice: dim = ndim", ST(INVALID_ARGUMENT)},
    {S_SL_DIM_NEG, "slice: dim = -1", ST(INVALID_ARGUMENT)},
    {S_SL_SAME, "slice: dst == src", ST(INVALID_ARGUMENT)},
    {S_SL_RELEASED, "slice: a released src", ST(INVALID_ARGUMENT)},
    {S_IX_RANGE, "index: index = shape", ST(INDEX_OUT_OF_RANGE)},
    {S_IX_NEG, "index: index = -shape - 1", ST(INDEX_OUT_OF_RANGE)},
    {S_IX_DIM, "index: dim = 2", ST(INVALID_ARGUMENT)},
    {S_SV_OUTSIDE, "subview: a block past the end", ST(INDEX_OUT_OF_RANGE)},
    {S_SV_NEG_SHAPE, "subview: shape[0] = -1", ST(INVALID_SHAPE)},
    {S_SV_NEG_START, "subview: start[1] = -1", ST(INDEX_OUT_OF_RANGE)},
    {S_PM_REPEATED, "permute: axes {0, 0}", ST(INVALID_ARGUMENT)},
    {S_PM_RANGE, "permute: axes {0, 2}", ST(INVALID_ARGUMENT)},
    {S_PM_NULL, "permute: axes NULL with ndim 2", ST(NULL_POINTER)},
    {S_CA_NOT_CONTIG, "cast: a non-contiguous view", ST(BUFFER_REQUEST)},
    {S_CA_LEN, "cast: shape {5} of \"d\" for 96 bytes", ST(LENGTH_MISMATCH)},
    {S_CA_NDIM, "cast: ndim = 65", ST(INVALID_NDIM)},
    {S_CA_FORMAT, "cast: format \"T{\"", ST(INVALID_FORMAT)},
    {S_CA_SUBOFFSETS, "cast: a view with suboffsets", ST(BUFFER_REQUEST)},
    {S_BC_LENGTH, "broadcast: dimension of 3 to 5", ST(SHAPE_MISMATCH)},
    {S_BC_NEG, "broadcast: length -1", ST(INVALID_SHAPE)},
    {S_BC_DIM, "broadcast: dim = 7", ST(INVALID_ARGUMENT)},
    {S_BT_FEWER, "broadcast_to: fewer dimensions", ST(SHAPE_MISMATCH)},
    {S_BT_MISMATCH, "broadcast_to: {3, 5} from {3, 4}", ST(SHAPE_MISMATCH)},
    {S_BT_NDIM, "broadcast_to: ndim = 65", ST(INVALID_NDIM)},

    {S_SI_READONLY, "set_item: a read-only view", ST(READ_ONLY)},
    {S_SI_KIND, "set_item: kind 99", ST(INVALID_ARGUMENT)},
    {S_SI_BYTES, "set_item: bytes into a double", ST(TYPE_MISMATCH)},
    {S_SI_BOOL, "set_item: a BOOL of 2", ST(INVALID_ARGUMENT)},
    {S_SI_RANGE, "set_item: 300 into a 'b'", ST(VALUE_OUT_OF_RANGE)},
    {S_GI_FIELD, "get_item: field 1 of a \"d\" item", ST(INDEX_OUT_OF_RANGE)},
    {S_GI_OUT_NULL, "get_item: out NULL", ST(NULL_POINTER)},
    {S_IT_ORDER, "iter_new: order 'K'", ST(INVALID_ARGUMENT)},
    {S_IT_OUT_NULL, "iter_new: out NULL", ST(NULL_POINTER)},
    {S_VA_LEVEL, "validate: level 0", ST(INVALID_ARGUMENT)},
    {S_VA_SIZE_NEG, "validate: memory size -1", ST(INVALID_ARGUMENT)},
    {S_VA_OUTSIDE, "validate: memory smaller than the view", ST(LENGTH_MISMATCH)},
    {S_VA_FORMAT, "validate: format \"i\" with itemsize 8", ST(INVALID_ITEMSIZE)},
    {S_EX_LO_NULL, "extent: lo NULL", ST(NULL_POINTER)},

    {S_DL_SUBOFFSETS, "to_dlpack: a view with suboffsets", ST(UNREPRESENTABLE)},
    {S_DL_STRUCT, "to_dlpack: a struct format", ST(UNREPRESENTABLE)},
    {S_DL_OUT_NULL, "to_dlpack: out NULL", ST(NULL_POINTER)},
    {S_DL_LEGACY_READONLY, "to_dlpack_legacy: a read-only view", ST(READ_ONLY)},
    {S_DF_NULL, "from_dlpack: tensor NULL", ST(NULL_POINTER)},
    {S_DF_VERSION, "from_dlpack: major version 2", ST(UNSUPPORTED_VERSION)},
    {S_DF_DEVICE, "from_dlpack: a CUDA tensor", ST(UNSUPPORTED_DEVICE)},
    {S_DF_NDIM, "from_dlpack: ndim = -1", ST(INVALID_NDIM)},
    {S_DF_SHAPE_NEG, "from_dlpack: shape[0] = -2", ST(INVALID_SHAPE)},
    {S_DF_DTYPE, "from_dlpack: bfloat16", ST(UNREPRESENTABLE)},
    {S_DF_DATA_NULL, "from_dlpack: data NULL with elements", ST(NULL_POINTER)},
};
#define N_SPECIAL_ROWS ((int)(sizeof SPECIAL_ROWS / sizeof SPECIAL_ROWS[0]))

/* A description of 3x4 doubles in `mem` (C order, or F with strides). */
static pybuf_exporter_desc desc34(void *mem, const pybuf_ssize_t *shape, const pybuf_ssize_t *strides) {
    pybuf_exporter_desc d;
    memset(&d, 0, sizeof d);
    d.buf = mem;
    d.len = 96;
    d.format = "d";
    d.ndim = 2;
    d.shape = shape;
    d.strides = strides;
    return d;
}

static int failing_getbuffer(void *exporter, pybuf_buffer *view, int flags) {
    (void)exporter;
    (void)view;
    (void)flags;
    return PYBUF_STATUS_INVALID_NDIM;
}

/* Fills a view whose len disagrees with its shape (the exporter's bug). */
static pybuf_ssize_t bad_shape[1] = {4};
static int malformed_getbuffer(void *exporter, pybuf_buffer *view, int flags) {
    (void)flags;
    memset(view, 0, sizeof *view);
    view->buf = exporter;
    view->len = 5;
    view->itemsize = 1;
    view->ndim = 1;
    view->shape = bad_shape;
    return 0;
}
static int released_malformed = 0;
static void count_release(void *exporter, pybuf_buffer *view) {
    (void)exporter;
    (void)view;
    released_malformed++;
}

static void noop_deleter(DLManagedTensorVersioned *self) { (void)self; }

/* A DLPack 1.1 tensor of 3x4 doubles in `mem`. */
static DLManagedTensorVersioned tensor34(void *mem, int64_t *shape) {
    DLManagedTensorVersioned t;
    memset(&t, 0, sizeof t);
    t.version.major = 1;
    t.version.minor = 1;
    t.deleter = noop_deleter;
    t.dl_tensor.data = mem;
    t.dl_tensor.device.device_type = kDLCPU;
    t.dl_tensor.ndim = 2;
    t.dl_tensor.dtype.code = kDLFloat;
    t.dl_tensor.dtype.bits = 64;
    t.dl_tensor.dtype.lanes = 1;
    t.dl_tensor.shape = shape;
    return t;
}

static void call_special(struct env *e, int id) {
    pybuf_ssize_t *out = (pybuf_ssize_t *)(void *)g_out;
    pybuf_buffer *dst = (pybuf_buffer *)(void *)g_out;
    pybuf_ssize_t shape2[NARR], s34[2] = {3, 4}, f34[2] = {8, 24}, big[2] = {PTRDIFF_MAX, 2};
    pybuf_ssize_t subs[2] = {PTRDIFF_MAX, -1}, neg3[2] = {-3, 4}, zero2[2] = {0, 0};
    pybuf_ssize_t st_max[2] = {PTRDIFF_MAX, 8}, i2[2];
    pybuf_exporter_desc d = desc34(g_mem, s34, NULL);
    pybuf_exporter *ex = NULL;
    pybuf_buffer held, tmp;
    pybuf_format *f = NULL;
    pybuf_value val;
    int i;
    char deep[3 * 65 + 2];
    memset(&val, 0, sizeof val);
    memset(&held, 0, sizeof held);
    for (i = 0; i < NARR; i++)
        shape2[i] = 2;
    switch (id) {
    case S_FCS_NDIM_NEG: CALL(pybuf_fill_contiguous_strides(-1, shape2, out, 8, 'C')); break;
    case S_FCS_NDIM_65: CALL(pybuf_fill_contiguous_strides(65, shape2, out, 8, 'C')); break;
    case S_FCS_SHAPE_NULL: CALL(pybuf_fill_contiguous_strides(2, NULL, out, 8, 'C')); break;
    case S_FCS_STRIDES_NULL: CALL(pybuf_fill_contiguous_strides(2, shape2, NULL, 8, 'C')); break;
    case S_FCS_ITEMSIZE_0: CALL(pybuf_fill_contiguous_strides(2, shape2, out, 0, 'C')); break;
    case S_FCS_ITEMSIZE_NEG: CALL(pybuf_fill_contiguous_strides(2, shape2, out, -8, 'F')); break;
    case S_FCS_SHAPE_NEG: shape2[1] = -1; CALL(pybuf_fill_contiguous_strides(2, shape2, out, 8, 'C')); break;
    case S_FCS_ORDER_X: CALL(pybuf_fill_contiguous_strides(2, shape2, out, 8, 'X')); break;
    case S_FCS_ORDER_NUL: CALL(pybuf_fill_contiguous_strides(2, shape2, out, 8, 0)); break;
    case S_FCS_ORDER_LOWER: CALL(pybuf_fill_contiguous_strides(2, shape2, out, 8, 'c')); break;
    case S_FCS_OVERFLOW: CALL(pybuf_fill_contiguous_strides(2, big, out, 8, 'F')); break;
    case S_FCS_OVERFLOW_ITEMSIZE: CALL(pybuf_fill_contiguous_strides(2, shape2, out, PTRDIFF_MAX, 'C')); break;

    case S_FI_VIEW_NULL: CALL(pybuf_fill_info(NULL, NULL, g_mem, 8, 0, PYBUF_SIMPLE)); break;
    case S_FI_LEN_NEG: CALL(pybuf_fill_info(dst, NULL, g_mem, -1, 0, PYBUF_SIMPLE)); break;
    case S_FI_BUF_NULL: CALL(pybuf_fill_info(dst, NULL, NULL, 8, 0, PYBUF_SIMPLE)); break;
    case S_FI_READONLY_2: CALL(pybuf_fill_info(dst, NULL, g_mem, 8, 2, PYBUF_SIMPLE)); break;
    case S_FI_READONLY_NEG: CALL(pybuf_fill_info(dst, NULL, g_mem, 8, -1, PYBUF_SIMPLE)); break;
    case S_FI_FLAGS_UNKNOWN: CALL(pybuf_fill_info(dst, NULL, g_mem, 8, 0, 0x400)); break;
    case S_FI_FLAGS_READ: CALL(pybuf_fill_info(dst, NULL, g_mem, 8, 0, PYBUF_READ)); break;
    case S_FI_FLAGS_WRITE: CALL(pybuf_fill_info(dst, NULL, g_mem, 8, 0, PYBUF_WRITE)); break;
    case S_FI_FLAGS_NEG: CALL(pybuf_fill_info(dst, NULL, g_mem, 8, 0, -1)); break;
    case S_FI_WRITABLE_RO: CALL(pybuf_fill_info(dst, NULL, g_mem, 8, 1, PYBUF_WRITABLE)); break;

    case S_TC_ORDER_X: CALL(pybuf_to_contiguous(g_out, &e->v, 96, 'X')); break;
    case S_TC_ORDER_NUL: CALL(pybuf_to_contiguous(g_out, &e->v, 96, 0)); break;
    case S_TC_ORDER_LOWER: CALL(pybuf_to_contiguous(g_out, &e->v, 96, 'f')); break;
    case S_TC_LEN_SHORT: CALL(pybuf_to_contiguous(g_out, &e->v, 95, 'C')); break;
    case S_TC_LEN_LONG: CALL(pybuf_to_contiguous(g_out, &e->v, 97, 'C')); break;
    case S_TC_LEN_NEG: CALL(pybuf_to_contiguous(g_out, &e->v, -1, 'C')); break;
    case S_TC_DST_NULL: CALL(pybuf_to_contiguous(NULL, &e->v, 96, 'C')); break;
    case S_FC_ORDER_Z: CALL(pybuf_from_contiguous(&e->v, g_src, 96, 'Z')); break;
    case S_FC_LEN_NEG: CALL(pybuf_from_contiguous(&e->v, g_src, -1, 'C')); break;
    case S_FC_SRC_NULL: CALL(pybuf_from_contiguous(&e->v, NULL, 96, 'C')); break;
    case S_FC_READONLY: e->v.readonly = 1; CALL(pybuf_from_contiguous(&e->v, g_src, 96, 'C')); break;
    case S_FC_ZERO_STRIDE: e->strides[0] = 0; e->v.len = 96; CALL(pybuf_from_contiguous(&e->v, g_src, 96, 'C')); break;
    case S_CP_SHAPE:
        e->shape[0] = 4;
        e->shape[1] = 3;
        e->strides[0] = 24;
        CALL(pybuf_copy(&e->v, &e->good));
        break;
    case S_CP_ITEMSIZE:
        e->v.itemsize = 4;
        e->v.len = 48;
        e->v.format = (char *)"f";
        CALL(pybuf_copy(&e->v, &e->good));
        break;
    case S_CP_NDIM:
        e->v.ndim = 1;
        e->shape[0] = 12;
        e->strides[0] = 8;
        CALL(pybuf_copy(&e->v, &e->good));
        break;
    case S_CP_READONLY: e->v.readonly = 1; CALL(pybuf_copy(&e->v, &e->good)); break;
    case S_CP_ZERO_STRIDE: e->strides[0] = 0; CALL(pybuf_copy(&e->v, &e->good)); break;

    case S_GP_ROW: i2[0] = 3; i2[1] = 0; CALL_SENTINEL(pybuf_get_pointer(&e->v, i2), NULL); break;
    case S_GP_COL: i2[0] = 0; i2[1] = 4; CALL_SENTINEL(pybuf_get_pointer(&e->v, i2), NULL); break;
    case S_GP_NEG: i2[0] = -1; i2[1] = 0; CALL_SENTINEL(pybuf_get_pointer(&e->v, i2), NULL); break;
    case S_GP_MAX: i2[0] = PTRDIFF_MAX; i2[1] = 0; CALL_SENTINEL(pybuf_get_pointer(&e->v, i2), NULL); break;
    case S_GP_INDICES_NULL: CALL_SENTINEL(pybuf_get_pointer(&e->v, NULL), NULL); break;

    case S_SFF_NULL: CALL_SENTINEL(pybuf_size_from_format(NULL), -1); break;
    case S_SFF_FIELD_NAME: CALL_SENTINEL(pybuf_size_from_format("T{i:a}"), -1); break;
    case S_SFF_PAREN: CALL_SENTINEL(pybuf_size_from_format("(2"), -1); break;
    case S_SFF_STRUCT_OPEN: CALL_SENTINEL(pybuf_size_from_format("T{i"), -1); break;
    case S_SFF_CLOSE: CALL_SENTINEL(pybuf_size_from_format("i}"), -1); break;
    case S_SFF_COUNT: CALL_SENTINEL(pybuf_size_from_format("3"), -1); break;
    case S_SFF_COLON: CALL_SENTINEL(pybuf_size_from_format(":a:"), -1); break;
    case S_SFF_BITS: CALL_SENTINEL(pybuf_size_from_format("t"), -1); break;
    case S_SFF_HUGE: CALL_SENTINEL(pybuf_size_from_format("99999999999999999999999d"), -1); break;
    case S_SFF_DEEP:
        for (i = 0; i < 65; i++)
            memcpy(deep + 2 * i, "T{", 2);
        deep[130] = 'i';
        for (i = 0; i < 65; i++)
            deep[131 + i] = '}';
        deep[196] = '\0';
        CALL_SENTINEL(pybuf_size_from_format(deep), -1);
        break;
    case S_SFF_BAD_CODE: CALL_SENTINEL(pybuf_size_from_format("y"), -1); break;
    case S_SFF_AMP: CALL_SENTINEL(pybuf_size_from_format("&"), -1); break;
    case S_SFF_FUNC: CALL_SENTINEL(pybuf_size_from_format("X{i"), -1); break;
    case S_SFF_NEG_SHAPE: CALL_SENTINEL(pybuf_size_from_format("(-1)i"), -1); break;
    case S_SFF_STD_N: CALL_SENTINEL(pybuf_size_from_format("<n"), -1); break;
    case S_FP_NULL_FORMAT: CALL(pybuf_format_parse(NULL, (pybuf_format **)(void *)g_out)); break;
    case S_FP_NULL_OUT: CALL(pybuf_format_parse("d", NULL)); break;
    case S_FP_MALFORMED: CALL(pybuf_format_parse("T{d:x:", (pybuf_format **)(void *)g_out)); break;
    case S_FP_FIELD_RANGE:
        CHECK_EQ(pybuf_format_parse("T{ii}d", &f), 0);
        CALL(pybuf_format_get_field(f, pybuf_format_field_count(f), (pybuf_format_field *)(void *)g_out));
        pybuf_format_free(f);
        break;
    case S_FP_LEAF_RANGE:
        CHECK_EQ(pybuf_format_parse("T{ii}d", &f), 0);
        CALL(pybuf_format_get_leaf(f, -1, (pybuf_format_leaf *)(void *)g_out));
        pybuf_format_free(f);
        break;
    case S_FP_FIELD_NULL: CALL(pybuf_format_get_field(NULL, 0, (pybuf_format_field *)(void *)g_out)); break;
    case S_FP_FREE_NESTED: {
        pybuf_format_field field;
        CHECK_EQ(pybuf_format_parse("T{ii}d", &f), 0);
        CHECK_EQ(pybuf_format_get_field(f, 0, &field), 0);
        pybuf_format_free((pybuf_format *)field.nested);
        capture(e, pybuf_last_status());
        CHECK_EQ(pybuf_format_itemsize(field.nested), 8); /* still alive */
        pybuf_format_free(f);
        break;
    }
    case S_FP_RUNS_NULL:
        CHECK_EQ(pybuf_format_parse("d", &f), 0);
        CALL(pybuf_format_runs_new(f, NULL));
        pybuf_format_free(f);
        break;
    case S_CF_EXPECTED_NULL: CALL(pybuf_check_format(&e->v, NULL)); break;
    case S_CF_EXPECTED_BAD: CALL(pybuf_check_format(&e->v, "T{")); break;
    case S_CF_MISMATCH: CALL(pybuf_check_format(&e->v, "q")); break;
    case S_CF_VIEW_FORMAT_BAD: e->v.format = (char *)"(("; CALL(pybuf_check_format(&e->v, "d")); break;
    case S_CFX_NDIM: CALL(pybuf_check_format_ex(&e->v, "d", -2, 'C')); break;
    case S_CFX_ORDER: CALL(pybuf_check_format_ex(&e->v, "d", 2, 'Q')); break;
    case S_CFX_NOT_CONTIG: e->strides[0] = 8; e->strides[1] = 24; CALL(pybuf_check_format_ex(&e->v, "d", 2, 'C')); break;

    case S_EN_DESC_NULL: CALL(pybuf_exporter_new(NULL, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_OUT_NULL: CALL(pybuf_exporter_new(&d, NULL, NULL, NULL)); break;
    case S_EN_NDIM_NEG: d.ndim = -1; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_NDIM_65: d.ndim = 65; d.shape = shape2; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_SHAPE_NULL: d.shape = NULL; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_SHAPE_NEG: d.shape = neg3; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_ITEMSIZE_FORMAT: d.itemsize = 4; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_OUTSIDE: d.len = 95; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_LEN_NEG: d.len = -1; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_READONLY_2: d.readonly = 2; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_FORMAT_BAD: d.format = "T{"; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_STRIDES_OVERFLOW: d.strides = st_max; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EN_SUBOFFSET_OVERFLOW:
        i2[0] = 8;
        i2[1] = 8;
        d.strides = i2;
        d.suboffsets = subs;
        CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out));
        break;
    case S_EN_BUF_NULL: d.buf = NULL; CALL(pybuf_exporter_new(&d, NULL, NULL, (pybuf_exporter **)(void *)g_out)); break;
    case S_EG_NULL: CALL(pybuf_exporter_get_buffer(NULL, dst, PYBUF_FULL_RO)); break;
    case S_EG_VIEW_NULL:
    case S_EG_FLAGS:
    case S_EG_WRITABLE_RO:
    case S_EG_F_CONTIG:
    case S_EG_C_CONTIG:
    case S_EG_ANY_CONTIG:
    case S_EG_SUBOFFSETS_NO_INDIRECT:
    case S_EG_NO_STRIDES:
    case S_EG_FORMAT_NO_ND: {
        pybuf_ssize_t pil_strides[2] = {8, 8}, pil_subs[2] = {0, -1}, strided[2] = {64, 8}, s24[2] = {2, 4};
        void *rows[3];
        int flags = PYBUF_FULL_RO;
        if (id == S_EG_WRITABLE_RO)
            d.readonly = 1;
        if (id == S_EG_C_CONTIG || id == S_EG_NO_STRIDES)
            d.strides = f34;
        if (id == S_EG_ANY_CONTIG) {
            d.shape = s24;
            d.strides = strided;
        }
        if (id == S_EG_SUBOFFSETS_NO_INDIRECT) {
            /* PIL-style: a table of 3 row pointers, then the rows */
            for (i = 0; i < 3; i++)
                rows[i] = (char *)g_mem + 32 * i;
            d.buf = rows;
            d.len = sizeof rows;
            d.strides = pil_strides;
            d.suboffsets = pil_subs;
        }
        CHECK_EQ(pybuf_exporter_new(&d, NULL, NULL, &ex), 0);
        switch (id) {
        case S_EG_VIEW_NULL: flags = PYBUF_FULL_RO; break;
        case S_EG_FLAGS: flags = 0x1000; break;
        case S_EG_WRITABLE_RO: flags = PYBUF_WRITABLE; break;
        case S_EG_F_CONTIG: flags = PYBUF_F_CONTIGUOUS; break;
        case S_EG_C_CONTIG: flags = PYBUF_C_CONTIGUOUS; break;
        case S_EG_ANY_CONTIG: flags = PYBUF_ANY_CONTIGUOUS; break;
        case S_EG_SUBOFFSETS_NO_INDIRECT: flags = PYBUF_RECORDS_RO; break;
        case S_EG_NO_STRIDES: flags = PYBUF_ND; break;
        case S_EG_FORMAT_NO_ND: flags = PYBUF_FORMAT; break;
        }
        CALL(pybuf_exporter_get_buffer(ex, id == S_EG_VIEW_NULL ? NULL : dst, flags));
        CHECK_EQ(pybuf_exporter_exports(ex), 0);
        pybuf_exporter_free(ex);
        break;
    }
    case S_ER_EXPORTS_EXIST:
        CHECK_EQ(pybuf_exporter_new(&d, NULL, NULL, &ex), 0);
        CHECK_EQ(pybuf_exporter_get_buffer(ex, &held, PYBUF_FULL_RO), 0);
        CALL(pybuf_exporter_replace(ex, &d));
        pybuf_release(&held);
        pybuf_exporter_free(ex);
        break;
    case S_ER_DESC_NULL:
        CHECK_EQ(pybuf_exporter_new(&d, NULL, NULL, &ex), 0);
        CALL(pybuf_exporter_replace(ex, NULL));
        pybuf_exporter_free(ex);
        break;
    case S_FV_VIEW_NULL: CALL(pybuf_fill_view(NULL, &d, PYBUF_FULL_RO)); break;
    case S_FV_DESC_NULL: CALL(pybuf_fill_view(dst, NULL, PYBUF_FULL_RO)); break;
    case S_FV_FLAGS: CALL(pybuf_fill_view(dst, &d, -1)); break;
    case S_OG_OBJ_NULL: CALL(pybuf_object_get_buffer(NULL, dst, PYBUF_FULL_RO)); break;
    case S_OG_PROCS_NULL: {
        pybuf_object o;
        o.procs = NULL;
        o.exporter = g_mem;
        CALL(pybuf_object_get_buffer(&o, dst, PYBUF_FULL_RO));
        break;
    }
    case S_OG_GETBUFFER_NULL:
    case S_OG_GETBUFFER_FAILS:
    case S_OG_FLAGS: {
        pybuf_procs procs;
        pybuf_object o;
        procs.getbuffer = id == S_OG_GETBUFFER_NULL ? NULL : failing_getbuffer;
        procs.releasebuffer = NULL;
        o.procs = &procs;
        o.exporter = g_mem;
        CALL(pybuf_object_get_buffer(&o, dst, id == S_OG_FLAGS ? 0x800 : PYBUF_FULL_RO));
        break;
    }
    case S_OG_MALFORMED: {
        /* the exporter fills the caller's view itself (as in CPython), so it goes to a
           view of our own; it must be released again and the result refused */
        pybuf_procs procs;
        pybuf_object o;
        procs.getbuffer = malformed_getbuffer;
        procs.releasebuffer = count_release;
        o.procs = &procs;
        o.exporter = g_mem;
        released_malformed = 0;
        CALL(pybuf_object_get_buffer(&o, &tmp, PYBUF_FULL_RO));
        CHECK_EQ(released_malformed, 1);
        break;
    }

    case S_REL_TWICE:
        CHECK_EQ(pybuf_fill_info(&held, NULL, g_mem, 8, 0, PYBUF_SIMPLE), 0);
        pybuf_release(&held);
        pybuf_release(&held);
        capture(e, pybuf_last_status());
        break;
    case S_REL_COPY:
        CHECK_EQ(pybuf_exporter_new(&d, NULL, NULL, &ex), 0);
        CHECK_EQ(pybuf_exporter_get_buffer(ex, &held, PYBUF_FULL_RO), 0);
        memcpy(dst, &held, sizeof held);
        pybuf_release(dst);
        capture(e, pybuf_last_status());
        CHECK_EQ(pybuf_exporter_exports(ex), 1);
        CHECK_MEM_EQ(dst, &held, sizeof held); /* the copy is untouched */
        pybuf_release(&held);
        memset(dst, GUARD_BYTE, sizeof *dst);  /* restore the region for the check */
        CHECK_EQ(pybuf_exporter_exports(ex), 0);
        pybuf_exporter_free(ex);
        break;
    case S_REL_ZEROED:
        memset(dst, 0, sizeof *dst);
        dst->internal = g_mem;
        pybuf_release(dst);
        capture(e, pybuf_last_status());
        CHECK_EQ(dst->internal == g_mem, 1);
        memset(dst, GUARD_BYTE, sizeof *dst);
        break;
    case S_REL_FOREIGN:
        /* as CPython leaves it: internal is the exporter's business */
        dst->internal = (void *)(uintptr_t)0xDEADBEEF;
        pybuf_release(dst);
        capture(e, pybuf_last_status());
        memset(dst, GUARD_BYTE, sizeof *dst);
        break;
    case S_REL_STALE:
        CHECK_EQ(pybuf_exporter_new(&d, NULL, NULL, &ex), 0);
        CHECK_EQ(pybuf_exporter_get_buffer(ex, &held, PYBUF_FULL_RO), 0);
        memcpy(&tmp, &held, sizeof held);
        pybuf_release(&held);
        pybuf_release(&tmp);
        capture(e, pybuf_last_status());
        CHECK_EQ(pybuf_exporter_exports(ex), 0);
        pybuf_exporter_free(ex);
        break;

    case S_SL_STEP0: CALL(pybuf_slice(dst, &e->v, 0, NONE, NONE, 0)); break;
    case S_SL_DIM: CALL(pybuf_slice(dst, &e->v, 2, NONE, NONE, 1)); break;
    case S_SL_DIM_NEG: CALL(pybuf_slice(dst, &e->v, -1, NONE, NONE, 1)); break;
    case S_SL_SAME:
        memcpy(dst, &e->v, sizeof e->v);
        CALL(pybuf_slice(dst, dst, 0, NONE, NONE, 1));
        memset(dst, GUARD_BYTE, sizeof *dst);
        break;
    case S_SL_RELEASED:
        CHECK_EQ(pybuf_fill_view(&held, &d, PYBUF_FULL_RO), 0);
        pybuf_release(&held);
        CALL(pybuf_slice(dst, &held, 0, NONE, NONE, 1));
        break;
    case S_IX_RANGE: CALL(pybuf_index(dst, &e->v, 0, 3)); break;
    case S_IX_NEG: CALL(pybuf_index(dst, &e->v, 1, -5)); break;
    case S_IX_DIM: CALL(pybuf_index(dst, &e->v, 2, 0)); break;
    case S_SV_OUTSIDE: {
        pybuf_ssize_t start[2] = {2, 0};
        i2[0] = 2; /* rows 2 and 3 of 3 */
        i2[1] = 4;
        CALL(pybuf_subview(dst, &e->v, start, i2));
        break;
    }
    case S_SV_NEG_SHAPE: i2[0] = -1; i2[1] = 1; CALL(pybuf_subview(dst, &e->v, zero2, i2)); break;
    case S_SV_NEG_START: i2[0] = 0; i2[1] = -1; CALL(pybuf_subview(dst, &e->v, i2, zero2)); break;
    case S_PM_REPEATED: {
        static const int axes[2] = {0, 0};
        CALL(pybuf_permute(dst, &e->v, axes));
        break;
    }
    case S_PM_RANGE: {
        static const int axes[2] = {0, 2};
        CALL(pybuf_permute(dst, &e->v, axes));
        break;
    }
    case S_PM_NULL: CALL(pybuf_permute(dst, &e->v, NULL)); break;
    case S_CA_NOT_CONTIG: e->strides[0] = 8; e->strides[1] = 24; CALL(pybuf_cast(dst, &e->v, "B", -1, NULL)); break;
    case S_CA_LEN: i2[0] = 5; CALL(pybuf_cast(dst, &e->v, "d", 1, i2)); break;
    case S_CA_NDIM: CALL(pybuf_cast(dst, &e->v, "d", 65, shape2)); break;
    case S_CA_FORMAT: CALL(pybuf_cast(dst, &e->v, "T{", -1, NULL)); break;
    case S_CA_SUBOFFSETS: e->v.suboffsets = e->suboffsets; CALL(pybuf_cast(dst, &e->v, "B", -1, NULL)); break;
    case S_BC_LENGTH: CALL(pybuf_broadcast(dst, &e->v, 0, 5)); break;
    case S_BC_NEG: CALL(pybuf_broadcast(dst, &e->v, 0, -1)); break;
    case S_BC_DIM: CALL(pybuf_broadcast(dst, &e->v, 7, 3)); break;
    case S_BT_FEWER: i2[0] = 4; CALL(pybuf_broadcast_to(dst, &e->v, 1, i2)); break;
    case S_BT_MISMATCH: i2[0] = 3; i2[1] = 5; CALL(pybuf_broadcast_to(dst, &e->v, 2, i2)); break;
    case S_BT_NDIM: CALL(pybuf_broadcast_to(dst, &e->v, 65, shape2)); break;

    case S_SI_READONLY:
    case S_SI_KIND:
    case S_SI_BYTES:
    case S_SI_BOOL:
    case S_SI_RANGE:
        i2[0] = 1;
        i2[1] = 2;
        val.kind = PYBUF_VALUE_DOUBLE;
        val.real = 2.5;
        if (id == S_SI_READONLY)
            e->v.readonly = 1;
        if (id == S_SI_KIND)
            val.kind = 99;
        if (id == S_SI_BYTES) {
            val.kind = PYBUF_VALUE_BYTES;
            val.bytes = "abcdefgh";
            val.size = 8;
        }
        if (id == S_SI_BOOL) {
            val.kind = PYBUF_VALUE_BOOL;
            val.b = 2;
        }
        if (id == S_SI_RANGE) {
            /* a 3x4 view of signed bytes */
            e->v.itemsize = 1;
            e->v.len = 12;
            e->v.format = (char *)"b";
            e->strides[0] = 4;
            e->strides[1] = 1;
            val.kind = PYBUF_VALUE_INT;
            val.i = 300;
        }
        CALL(pybuf_set_item(&e->v, i2, 0, &val));
        break;
    case S_GI_FIELD: i2[0] = i2[1] = 0; CALL(pybuf_get_item(&e->v, i2, 1, (pybuf_value *)(void *)g_out)); break;
    case S_GI_OUT_NULL: i2[0] = i2[1] = 0; CALL(pybuf_get_item(&e->v, i2, 0, NULL)); break;
    case S_IT_ORDER: CALL(pybuf_iter_new(&e->v, 'K', (pybuf_iter **)(void *)g_out)); break;
    case S_IT_OUT_NULL: CALL(pybuf_iter_new(&e->v, 'C', NULL)); break;
    case S_VA_LEVEL: CALL(pybuf_validate(&e->v, 0, g_mem, 96)); break;
    case S_VA_SIZE_NEG: CALL(pybuf_validate(&e->v, PYBUF_VALIDATE_MEMORY, g_mem, -1)); break;
    case S_VA_OUTSIDE: CALL(pybuf_validate(&e->v, PYBUF_VALIDATE_MEMORY, g_mem, 95)); break;
    case S_VA_FORMAT: e->v.format = (char *)"i"; CALL(pybuf_validate(&e->v, PYBUF_VALIDATE_FORMAT, NULL, 0)); break;
    case S_EX_LO_NULL: CALL(pybuf_extent(&e->v, NULL, out)); break;

    case S_DL_SUBOFFSETS: e->v.suboffsets = e->suboffsets; e->suboffsets[0] = 0; /* fall through */
    case S_DL_STRUCT:
    case S_DL_OUT_NULL:
        if (id == S_DL_STRUCT) {
            e->v.format = (char *)"T{ii}";
        }
        if (id == S_DL_SUBOFFSETS) {
            /* a valid PIL-style view: 3 row pointers */
            void **rows = (void **)(void *)g_src;
            for (i = 0; i < 3; i++)
                rows[i] = (char *)g_mem + 32 * i;
            e->v.buf = rows;
            e->strides[0] = 8;
            e->suboffsets[1] = -1;
        }
        CALL(pybuf_to_dlpack(&e->v, NULL, NULL, id == S_DL_OUT_NULL ? NULL : (DLManagedTensorVersioned **)(void *)g_out));
        break;
    case S_DL_LEGACY_READONLY:
        e->v.readonly = 1;
        CALL(pybuf_to_dlpack_legacy(&e->v, NULL, NULL, (DLManagedTensor **)(void *)g_out));
        break;
    case S_DF_NULL: CALL(pybuf_from_dlpack(dst, NULL, PYBUF_FULL_RO)); break;
    case S_DF_VERSION:
    case S_DF_DEVICE:
    case S_DF_NDIM:
    case S_DF_SHAPE_NEG:
    case S_DF_DTYPE:
    case S_DF_DATA_NULL: {
        int64_t shape64[2] = {3, 4};
        DLManagedTensorVersioned t = tensor34(g_mem, shape64);
        if (id == S_DF_VERSION)
            t.version.major = 2;
        if (id == S_DF_DEVICE)
            t.dl_tensor.device.device_type = kDLCUDA;
        if (id == S_DF_NDIM)
            t.dl_tensor.ndim = -1;
        if (id == S_DF_SHAPE_NEG)
            shape64[0] = -2;
        if (id == S_DF_DTYPE) {
            t.dl_tensor.dtype.code = kDLBfloat;
            t.dl_tensor.dtype.bits = 16;
        }
        if (id == S_DF_DATA_NULL)
            t.dl_tensor.data = NULL;
        CALL(pybuf_from_dlpack(dst, &t, PYBUF_FULL_RO));
        break;
    }
    default: e->rc = 1; break;
    }
}

/* ---- running the tables ---------------------------------------------------------- */

static int rows_run = 0;

static void check_row(const struct env *e, const char *what, int expected) {
    ++check_count_;
    ++rows_run;
    if (e->rc != expected) {
        CHECK_FAIL_("%s: status %d (%s), expected %d (%s); message \"%s\"\n", what, e->rc,
                    pybuf_status_name(e->rc), expected, pybuf_status_name(expected), e->msg);
    } else if (expected != PYBUF_STATUS_OK && e->msg[0] == '\0') {
        CHECK_FAIL_("%s: failed with %s but no message\n", what, pybuf_status_name(expected));
    }
}

static void view_rows(void) {
    struct env e;
    int r, fn;
    char what[256];
    for (r = 0; r < N_VIEW_ROWS; r++) {
        for (fn = 0; fn < F_COUNT; fn++) {
            int failed_before = check_failed_;
            base_view(&e);
            mutate(&e, VIEW_ROWS[r].mutation);
            GUARD_INIT(mem);
            GUARD_INIT(src);
            GUARD_INIT(dstm);
            GUARD_INIT(outr);
            SNAPSHOT(mem);
            SNAPSHOT(src);
            SNAPSHOT(dstm);
            SNAPSHOT(outr);
            call_view_fn(&e, fn, VIEW_ROWS[r].mutation == M_NULL ? NULL : &e.v);
            snprintf(what, sizeof what, "%s with %s", viewfn_names[fn], VIEW_ROWS[r].what);
            check_row(&e, what, VIEW_ROWS[r].status);
            CHECK_UNCHANGED(mem);
            CHECK_UNCHANGED(src);
            CHECK_UNCHANGED(dstm);
            CHECK_UNCHANGED(outr);
            if (check_failed_ && !failed_before)
                fprintf(stderr, "  (row: %s)\n", what);
        }
    }
}

static void special_rows(void) {
    struct env e;
    int r;
    for (r = 0; r < N_SPECIAL_ROWS; r++) {
        int failed_before = check_failed_;
        base_view(&e);
        GUARD_INIT(mem);
        GUARD_INIT(src);
        GUARD_INIT(dstm);
        GUARD_INIT(outr);
        SNAPSHOT(mem);
        SNAPSHOT(src);
        SNAPSHOT(dstm);
        SNAPSHOT(outr);
        if (SPECIAL_ROWS[r].id == S_DL_SUBOFFSETS) {
            /* the row writes its own pointer table into src first */
            call_special(&e, SPECIAL_ROWS[r].id);
            check_row(&e, SPECIAL_ROWS[r].what, SPECIAL_ROWS[r].status);
            CHECK_UNCHANGED(mem);
            CHECK_UNCHANGED(outr);
            continue;
        }
        call_special(&e, SPECIAL_ROWS[r].id);
        check_row(&e, SPECIAL_ROWS[r].what, SPECIAL_ROWS[r].status);
        CHECK_UNCHANGED(mem);
        CHECK_UNCHANGED(src);
        CHECK_UNCHANGED(dstm);
        CHECK_UNCHANGED(outr);
        if (check_failed_ && !failed_before)
            fprintf(stderr, "  (row: %s)\n", SPECIAL_ROWS[r].what);
    }
}

/* Every special case has exactly one row. */
static void table_is_complete(void) {
    static int seen[S_COUNT];
    int r;
    memset(seen, 0, sizeof seen);
    for (r = 0; r < N_SPECIAL_ROWS; r++)
        seen[SPECIAL_ROWS[r].id]++;
    for (r = 0; r < S_COUNT; r++)
        if (seen[r] != 1)
            CHECK_FAIL_("special case %d has %d rows\n", r, seen[r]);
}

int main(void) {
    RUN(table_is_complete);
    RUN(view_rows);
    RUN(special_rows);
    printf("%d malformed inputs (%d views x %d functions, %d others)\n", rows_run, N_VIEW_ROWS,
           F_COUNT, N_SPECIAL_ROWS);
    CHECK(rows_run >= 150);
    return check_report();
}
