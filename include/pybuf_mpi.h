/*
 * pybuf_mpi.h: any pybuf view (transposed, sliced, negative strides, structured formats,
 * suboffsets) as an MPI derived datatype, so that one MPI_Send sends exactly its elements
 * and one MPI_Recv scatters them into any view of the same shape, without packing.
 *
 * Include it after <mpi.h> (and pybuf.h, which it includes). It is header-only: static
 * inline functions compiled against the MPI of the program that includes them, so that
 * libpybuf never links MPI and one libpybuf serves Open MPI and MPICH alike (their ABIs
 * differ: MPI_Datatype is a pointer in one and an int in the other). The MPI-agnostic
 * part, the view's unit, block and merged dimensions, comes from pybuf_datatype_new.
 *
 * Return values: 0 on success; a negative pybuf_status when pybuf refuses the view
 * (pybuf_last_error() says why); a positive MPI error class when an MPI call failed (only
 * seen when the error handler returns errors instead of aborting: MPI_ERRORS_RETURN).
 * Every datatype made along the way is freed on every path. Thread-safe as far as the MPI
 * library's thread level allows: the functions keep no state.
 *
 * See docs/mpi.md.
 */
#ifndef PYBUF_MPI_H
#define PYBUF_MPI_H

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pybuf.h"

#ifndef MPI_VERSION
#error "include <mpi.h> before pybuf_mpi.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* -- internals: names ending in '_' are not part of the API ------------------------- */

/* The datatypes a build makes, freed together at the end (all but the result). */
typedef struct pybuf_mpi_arena_ {
    MPI_Datatype *types;
    int n, cap;
    /* The basic type of each pybuf_datatype_kind, made on first use when it is derived. */
    MPI_Datatype kinds[PYBUF_DATATYPE_KIND_STRUCT];
} pybuf_mpi_arena_;

static inline void pybuf_mpi_keep_(pybuf_mpi_arena_ *a, MPI_Datatype t) {
    a->types[a->n++] = t; /* the capacity is computed from the description */
}

static inline void pybuf_mpi_release_(pybuf_mpi_arena_ *a, int keep_last) {
    int i, n = a->n - (keep_last ? 1 : 0);
    for (i = 0; i < n; i++) {
        MPI_Type_free(&a->types[i]);
    }
    free(a->types);
    a->types = NULL;
    a->n = 0;
}

/* The predefined datatype of a kind. long double _Complex is two MPI_LONG_DOUBLE:
 * Open MPI 4.1 aborts ("buffer overflow detected") when it unpacks an
 * MPI_C_LONG_DOUBLE_COMPLEX split across two fragments into a non-contiguous type (its
 * partial-element buffer holds 16 bytes), while the same bytes as two long doubles are
 * the same type map in all but name. */
static inline MPI_Datatype pybuf_mpi_predefined_(pybuf_datatype_kind kind) {
    switch (kind) {
    case PYBUF_DATATYPE_KIND_INT8: return MPI_INT8_T;
    case PYBUF_DATATYPE_KIND_UINT8: return MPI_UINT8_T;
    case PYBUF_DATATYPE_KIND_INT16: return MPI_INT16_T;
    case PYBUF_DATATYPE_KIND_UINT16: return MPI_UINT16_T;
    case PYBUF_DATATYPE_KIND_INT32: return MPI_INT32_T;
    case PYBUF_DATATYPE_KIND_UINT32: return MPI_UINT32_T;
    case PYBUF_DATATYPE_KIND_INT64: return MPI_INT64_T;
    case PYBUF_DATATYPE_KIND_UINT64: return MPI_UINT64_T;
    case PYBUF_DATATYPE_KIND_FLOAT: return MPI_FLOAT;
    case PYBUF_DATATYPE_KIND_DOUBLE: return MPI_DOUBLE;
#ifdef MPICH_VERSION
    /* MPICH 4.0 packs only the 10 value bytes of an x87 long double in a non-contiguous
     * type; as bytes, every byte travels (and MPICH converts nothing between machines). */
    case PYBUF_DATATYPE_KIND_LONG_DOUBLE: return MPI_BYTE;
    case PYBUF_DATATYPE_KIND_COMPLEX_LONG_DOUBLE: return MPI_BYTE;
#else
    case PYBUF_DATATYPE_KIND_LONG_DOUBLE: return MPI_LONG_DOUBLE;
    case PYBUF_DATATYPE_KIND_COMPLEX_LONG_DOUBLE: return MPI_LONG_DOUBLE; /* times 2 */
#endif
    case PYBUF_DATATYPE_KIND_COMPLEX_FLOAT: return MPI_C_FLOAT_COMPLEX;
    case PYBUF_DATATYPE_KIND_COMPLEX_DOUBLE: return MPI_C_DOUBLE_COMPLEX;
    case PYBUF_DATATYPE_KIND_BOOL: return MPI_C_BOOL;
    default: return MPI_BYTE;
    }
}

/* The datatype of one `size`-byte value of `kind`: predefined, or two long doubles, or
 * `size` bytes when this MPI's type has another size than the value. */
static inline int pybuf_mpi_kind_(pybuf_mpi_arena_ *a, pybuf_datatype_kind kind,
                                  pybuf_ssize_t size, MPI_Datatype *out) {
    MPI_Datatype base = pybuf_mpi_predefined_(kind), made;
    int n = kind == PYBUF_DATATYPE_KIND_COMPLEX_LONG_DOUBLE ? 2 : 1, base_size = 0, rc;
    if ((int)kind < 0 || (int)kind >= (int)PYBUF_DATATYPE_KIND_STRUCT) {
        return MPI_ERR_TYPE;
    }
    if (a->kinds[kind] != MPI_DATATYPE_NULL) {
        *out = a->kinds[kind];
        return MPI_SUCCESS;
    }
    if ((rc = MPI_Type_size(base, &base_size)) != MPI_SUCCESS) {
        return rc;
    }
    if ((pybuf_ssize_t)base_size * n != size) {
        base = MPI_BYTE;
        n = (int)size;
    }
    if (n == 1) {
        *out = a->kinds[kind] = base;
        return MPI_SUCCESS;
    }
    if ((rc = MPI_Type_contiguous(n, base, &made)) != MPI_SUCCESS) {
        return rc;
    }
    pybuf_mpi_keep_(a, made);
    *out = a->kinds[kind] = made;
    return MPI_SUCCESS;
}

/* The datatype of a member or unit: a kind, or a struct made before. */
static inline int pybuf_mpi_unit_(pybuf_mpi_arena_ *a, const MPI_Datatype *structs,
                                  pybuf_datatype_kind kind, pybuf_ssize_t nested,
                                  pybuf_ssize_t size, MPI_Datatype *out) {
    if (kind == PYBUF_DATATYPE_KIND_STRUCT) {
        *out = structs[nested];
        return MPI_SUCCESS;
    }
    return pybuf_mpi_kind_(a, kind, size, out);
}

/* MPI_Type_create_hvector, but never with a stride of exactly -1 byte: Open MPI 4.1
 * passes the stride to opal_datatype_add, which takes an extent of -1 to mean "the old
 * type's own extent", and so packs a reversed byte array in ascending order. A stride of
 * -1 is built instead as pairs of blocks at 0 and -1 bytes (a struct), one pair every -2
 * bytes, and the last block alone when the count is odd. */
static inline int pybuf_mpi_hvector_(pybuf_mpi_arena_ *a, int count, int len, MPI_Aint stride,
                                     MPI_Datatype old, MPI_Datatype *out) {
    int rc, bl[2];
    MPI_Aint disp[2];
    MPI_Datatype types[2], pair, vec;
    if (stride != -1) {
        if ((rc = MPI_Type_create_hvector(count, len, stride, old, out)) == MPI_SUCCESS) {
            pybuf_mpi_keep_(a, *out);
        }
        return rc;
    }
    bl[0] = bl[1] = len;
    disp[0] = 0;
    disp[1] = -1;
    types[0] = types[1] = old;
    if ((rc = MPI_Type_create_struct(2, bl, disp, types, &pair)) != MPI_SUCCESS) {
        return rc;
    }
    pybuf_mpi_keep_(a, pair);
    if ((rc = MPI_Type_create_hvector(count / 2, 1, -2, pair, &vec)) != MPI_SUCCESS) {
        return rc;
    }
    pybuf_mpi_keep_(a, vec);
    if (count % 2 == 0) {
        *out = vec;
        return MPI_SUCCESS;
    }
    bl[0] = 1;
    bl[1] = len;
    disp[1] = -(MPI_Aint)(count - 1);
    types[0] = vec;
    types[1] = old;
    if ((rc = MPI_Type_create_struct(2, bl, disp, types, out)) == MPI_SUCCESS) {
        pybuf_mpi_keep_(a, *out);
    }
    return rc;
}

/* The structs of a description, innermost first, each resized to its extent. */
static inline int pybuf_mpi_structs_(pybuf_mpi_arena_ *a, const pybuf_datatype *d,
                                     MPI_Datatype *structs) {
    pybuf_ssize_t s, i, most = 0;
    int rc = MPI_SUCCESS, *bl;
    MPI_Aint *disp;
    MPI_Datatype *types, raw;
    for (s = 0; s < d->nstructs; s++) {
        most = d->structs[s].nmembers > most ? d->structs[s].nmembers : most;
    }
    bl = (int *)malloc((size_t)most * sizeof *bl + 1);
    disp = (MPI_Aint *)malloc((size_t)most * sizeof *disp + 1);
    types = (MPI_Datatype *)malloc((size_t)most * sizeof *types + 1);
    if (bl == NULL || disp == NULL || types == NULL) {
        rc = MPI_ERR_NO_MEM;
    }
    for (s = 0; rc == MPI_SUCCESS && s < d->nstructs; s++) {
        const pybuf_datatype_struct *st = &d->structs[s];
        for (i = 0; rc == MPI_SUCCESS && i < st->nmembers; i++) {
            const pybuf_datatype_member *m = &st->members[i];
            bl[i] = (int)m->count; /* at most INT_MAX: pybuf_datatype_new's max_count */
            disp[i] = (MPI_Aint)m->offset;
            rc = pybuf_mpi_unit_(a, structs, m->kind, m->nested, m->size, &types[i]);
        }
        if (rc == MPI_SUCCESS) {
            rc = MPI_Type_create_struct((int)st->nmembers, bl, disp, types, &raw);
        }
        if (rc == MPI_SUCCESS) {
            pybuf_mpi_keep_(a, raw);
            rc = MPI_Type_create_resized(raw, 0, (MPI_Aint)st->extent, &structs[s]);
        }
        if (rc == MPI_SUCCESS) {
            pybuf_mpi_keep_(a, structs[s]);
        }
    }
    free(bl);
    free(disp);
    free(types);
    return rc;
}

/* The datatype of a description: block, dimensions, bases. */
static inline int pybuf_mpi_build_(pybuf_mpi_arena_ *a, const pybuf_datatype *d,
                                   MPI_Datatype *structs, MPI_Datatype *out) {
    MPI_Datatype unit, cur, next;
    MPI_Aint *disp;
    pybuf_ssize_t i;
    int k, len = (int)d->block, rc;
    if (d->block == 0) { /* an empty view */
        if ((rc = MPI_Type_contiguous(0, MPI_BYTE, out)) == MPI_SUCCESS) {
            pybuf_mpi_keep_(a, *out);
        }
        return rc;
    }
    if ((rc = pybuf_mpi_structs_(a, d, structs)) != MPI_SUCCESS ||
        (rc = pybuf_mpi_unit_(a, structs, d->kind, d->nested, d->size, &unit)) != MPI_SUCCESS) {
        return rc;
    }
    cur = unit;
    if (d->ndim == 0) {
        if ((rc = MPI_Type_contiguous(len, unit, &cur)) != MPI_SUCCESS) {
            return rc;
        }
        pybuf_mpi_keep_(a, cur);
    }
    for (k = d->ndim - 1; k >= 0; k--) {
        rc = pybuf_mpi_hvector_(a, (int)d->dims[k].count, len, (MPI_Aint)d->dims[k].stride,
                                cur, &next);
        if (rc != MPI_SUCCESS) {
            return rc;
        }
        cur = next;
        len = 1;
    }
    if (d->nbases > 0) {
        /* Suboffsets: one block per base, at its absolute address (use with MPI_BOTTOM). */
        disp = (MPI_Aint *)malloc((size_t)d->nbases * sizeof *disp);
        if (disp == NULL) {
            return MPI_ERR_NO_MEM;
        }
        for (i = 0; rc == MPI_SUCCESS && i < d->nbases; i++) {
            rc = MPI_Get_address(d->bases[i], &disp[i]);
        }
        if (rc == MPI_SUCCESS) {
            rc = MPI_Type_create_hindexed_block((int)d->nbases, 1, disp, cur, &next);
        }
        free(disp);
        if (rc != MPI_SUCCESS) {
            return rc;
        }
        pybuf_mpi_keep_(a, next);
        cur = next;
    }
    *out = cur;
    return MPI_SUCCESS;
}

/* -- the API ------------------------------------------------------------------------ */

/**
 * The committed MPI datatype of a description made by pybuf_datatype_new (with a
 * max_count of at most INT_MAX), in *type: send or receive one of it from
 * pybuf_mpi_buf(view) of the described view. Free it with MPI_Type_free.
 *
 * Returns 0; or a positive MPI error (MPI_ERR_NO_MEM when memory ran out) with *type
 * untouched and every datatype made so far freed. `d` is only read, and may be freed
 * once this returns.
 */
static inline int pybuf_mpi_datatype(const pybuf_datatype *d, MPI_Datatype *type) {
    pybuf_mpi_arena_ a;
    MPI_Datatype result, *structs;
    int k, rc;
    /* Made at most: 2 per struct, 1 per kind, 3 per dimension, 1 block, 1 for bases. */
    a.cap = 2 * (int)d->nstructs + (int)PYBUF_DATATYPE_KIND_STRUCT + 3 * d->ndim + 2;
    a.n = 0;
    a.types = (MPI_Datatype *)malloc((size_t)a.cap * sizeof *a.types);
    structs = (MPI_Datatype *)malloc(((size_t)d->nstructs + 1) * sizeof *structs);
    for (k = 0; k < (int)PYBUF_DATATYPE_KIND_STRUCT; k++) {
        a.kinds[k] = MPI_DATATYPE_NULL;
    }
    rc = a.types == NULL || structs == NULL ? MPI_ERR_NO_MEM
                                            : pybuf_mpi_build_(&a, d, structs, &result);
    if (rc == MPI_SUCCESS) {
        rc = MPI_Type_commit(&result);
        /* the result, made last, is at the end of the arena */
        a.types[a.n - 1] = result;
    }
    if (a.types != NULL) {
        pybuf_mpi_release_(&a, rc == MPI_SUCCESS);
    }
    free(structs);
    if (rc == MPI_SUCCESS) {
        *type = result;
    }
    return rc;
}

/**
 * The committed MPI datatype of `view` in *type: all its elements, in C order, one
 * datatype per view, so that MPI_Send(pybuf_mpi_buf(view), 1, *type, ...) sends what
 * pybuf_to_contiguous(view, 'C') would copy, and MPI_Recv(pybuf_mpi_buf(view), 1, *type,
 * ...) stores what pybuf_from_contiguous would. Free it with MPI_Type_free.
 *
 * Geometry: the innermost contiguous run as one block, then an MPI_Type_create_hvector
 * per dimension from the innermost outwards (byte strides, negative ones included,
 * relative to view->buf), length-1 and mergeable dimensions merged first. Items: the
 * format's values as MPI_INT8_T ... MPI_UINT64_T, MPI_FLOAT, MPI_DOUBLE,
 * MPI_LONG_DOUBLE, MPI_C_FLOAT_COMPLEX, MPI_C_DOUBLE_COMPLEX, MPI_C_BOOL ('Zg' as two
 * MPI_LONG_DOUBLE), MPI_BYTE for 's', 'c', 'p', 'x', padding, 'e', pointers and
 * non-native byte orders; a struct item as MPI_Type_create_struct resized to the
 * itemsize, repeated structs and sub-arrays as counts. Suboffsets: an
 * MPI_Type_create_hindexed_block of the absolute addresses the pointers lead to, used
 * with MPI_BOTTOM (which pybuf_mpi_buf returns for such a view); the pointers are read
 * now, so the type is valid while they do not change.
 *
 * Returns 0; a negative pybuf_status when pybuf refuses the view (an invalid view,
 * PYBUF_STATUS_UNREPRESENTABLE for a dimension or block longer than INT_MAX that no
 * power-of-two split fits, PYBUF_STATUS_NULL_POINTER when view or type is NULL), with
 * pybuf_last_error() saying why; or a positive MPI error. *type is written only on
 * success, and every intermediate datatype is freed on every path.
 */
static inline int pybuf_mpi_type(const pybuf_buffer *view, MPI_Datatype *type) {
    pybuf_datatype *d = NULL;
    int rc = pybuf_datatype_new(view, INT_MAX, type == NULL ? NULL : &d);
    if (rc != 0) {
        return rc;
    }
    rc = pybuf_mpi_datatype(d, type);
    pybuf_datatype_free(d);
    return rc;
}

/**
 * The buffer argument that goes with pybuf_mpi_type(view): view->buf, or MPI_BOTTOM for
 * a view with suboffsets (whose datatype holds absolute addresses).
 */
static inline void *pybuf_mpi_buf(const pybuf_buffer *view) {
    int k;
    if (view->suboffsets != NULL) {
        for (k = 0; k < view->ndim; k++) {
            if (view->suboffsets[k] >= 0) {
                return MPI_BOTTOM;
            }
        }
    }
    return view->buf;
}

/**
 * MPI_Send of every element of `view` (pybuf_mpi_type, then MPI_Send, then
 * MPI_Type_free). Returns as pybuf_mpi_type does, or MPI_Send's error.
 */
static inline int pybuf_mpi_send(const pybuf_buffer *view, int dest, int tag, MPI_Comm comm) {
    MPI_Datatype t;
    int rc = pybuf_mpi_type(view, &t);
    if (rc != 0) {
        return rc;
    }
    rc = MPI_Send(pybuf_mpi_buf(view), 1, t, dest, tag, comm);
    MPI_Type_free(&t);
    return rc;
}

/**
 * MPI_Recv into every element of `view`, which must be writable and whose elements must
 * not overlap (as for any MPI receive). `status` may be MPI_STATUS_IGNORE. Returns as
 * pybuf_mpi_type does, or MPI_Recv's error.
 */
static inline int pybuf_mpi_recv(const pybuf_buffer *view, int source, int tag, MPI_Comm comm,
                                 MPI_Status *status) {
    MPI_Datatype t;
    int rc = pybuf_mpi_type(view, &t);
    if (rc != 0) {
        return rc;
    }
    rc = MPI_Recv(pybuf_mpi_buf(view), 1, t, source, tag, comm, status);
    MPI_Type_free(&t);
    return rc;
}

/* -- the pipelined path: pybuf packs, MPI moves contiguous chunks ------------------ */

/** The default chunk of pybuf_mpi_send_chunks and pybuf_mpi_recv_chunks: 1 MiB. */
#define PYBUF_MPI_CHUNK_BYTES ((pybuf_ssize_t)1 << 20)

/* How a view is cut into messages: `rows` of the first dimension per message, `row`
 * bytes each, `n` messages; 0 when the view goes as one datatype message instead (no
 * shape, a row longer than INT_MAX bytes). Both sides compute it from the shape, the
 * itemsize and the chunk size alone, so they agree. */
static inline int pybuf_mpi_cut_(const pybuf_buffer *view, pybuf_ssize_t chunk,
                                 pybuf_ssize_t *rows, pybuf_ssize_t *row, pybuf_ssize_t *n) {
    int k;
    if (view == NULL || view->ndim < 1 || view->shape == NULL || view->itemsize <= 0) {
        return 0;
    }
    *row = view->itemsize;
    for (k = 1; k < view->ndim; k++) {
        if (view->shape[k] <= 0 || *row > INT_MAX / view->shape[k]) {
            return 0; /* empty rows, or rows longer than INT_MAX bytes */
        }
        *row *= view->shape[k];
    }
    chunk = chunk > 0 ? chunk : PYBUF_MPI_CHUNK_BYTES;
    chunk = chunk < INT_MAX ? chunk : INT_MAX;
    *rows = chunk / *row > 0 ? chunk / *row : 1;
    *n = view->shape[0] > 0 ? (view->shape[0] + *rows - 1) / *rows : 0;
    return 1;
}

/* Rows [k * rows, k * rows + count) of `view` in *part (a derived view to release). */
static inline int pybuf_mpi_part_(const pybuf_buffer *view, pybuf_ssize_t rows, pybuf_ssize_t k,
                                  pybuf_buffer *part, pybuf_ssize_t *count) {
    pybuf_ssize_t start = k * rows;
    *count = view->shape[0] - start < rows ? view->shape[0] - start : rows;
    return pybuf_slice(part, view, 0, start, start + *count, 1);
}

/**
 * Send every element of `view` as pybuf_to_contiguous(view, 'C') would copy them, in
 * messages of about `chunk` bytes (0: PYBUF_MPI_CHUNK_BYTES) of MPI_BYTE, packed by
 * pybuf's copy engine while the previous message travels (two chunk buffers, MPI_Isend).
 * The receiver calls pybuf_mpi_recv_chunks with a view of the same shape and itemsize and
 * the same chunk size. For Open MPI, whose own pack engine copies strided memory several
 * times slower than pybuf's, this is the fast path for large transposed views: see
 * docs/mpi.md. The values travel as raw bytes: use it between machines of one byte order.
 *
 * Returns 0, a negative pybuf_status (an invalid view; pybuf_last_error() says why), or
 * a positive MPI error; every request is completed and every buffer freed on return.
 */
static inline int pybuf_mpi_send_chunks(const pybuf_buffer *view, int dest, int tag,
                                        MPI_Comm comm, pybuf_ssize_t chunk) {
    pybuf_ssize_t rows, row, n, k, count;
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    unsigned char *bufs[2];
    pybuf_buffer part;
    int rc;
    if (!pybuf_mpi_cut_(view, chunk, &rows, &row, &n)) {
        return pybuf_mpi_send(view, dest, tag, comm);
    }
    if ((rc = pybuf_validate(view, PYBUF_VALIDATE_LAYOUT, NULL, 0)) != 0) {
        return rc;
    }
    bufs[0] = (unsigned char *)malloc((size_t)(rows * row) + 1);
    bufs[1] = (unsigned char *)malloc((size_t)(rows * row) + 1);
    rc = bufs[0] == NULL || bufs[1] == NULL ? MPI_ERR_NO_MEM : 0;
    for (k = 0; rc == 0 && k < n; k++) {
        int b = (int)(k % 2);
        if ((rc = MPI_Wait(&req[b], MPI_STATUS_IGNORE)) != MPI_SUCCESS) {
            break;
        }
        if ((rc = pybuf_mpi_part_(view, rows, k, &part, &count)) != 0) {
            break;
        }
        rc = pybuf_to_contiguous(bufs[b], &part, count * row, 'C');
        pybuf_release(&part);
        if (rc == 0) {
            rc = MPI_Isend(bufs[b], (int)(count * row), MPI_BYTE, dest, tag, comm, &req[b]);
        }
    }
    for (k = 0; k < 2; k++) { /* (not MPI_Waitall: GCC 12 misreads MPICH's MPI_STATUSES_IGNORE) */
        int done = MPI_Wait(&req[k], MPI_STATUS_IGNORE);
        rc = rc == 0 ? done : rc;
    }
    free(bufs[0]);
    free(bufs[1]);
    return rc;
}

/**
 * Receive what pybuf_mpi_send_chunks sent (same shape, itemsize and chunk size) into the
 * elements of `view`, as pybuf_from_contiguous would store them: each message is
 * unpacked by pybuf's copy engine while the next one arrives (a C-contiguous view
 * receives in place). `source` and `tag` must name one sender (not MPI_ANY_SOURCE).
 * Returns as pybuf_mpi_send_chunks does.
 */
static inline int pybuf_mpi_recv_chunks(const pybuf_buffer *view, int source, int tag,
                                        MPI_Comm comm, pybuf_ssize_t chunk) {
    pybuf_ssize_t rows, row, n, k, count;
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    unsigned char *bufs[2] = {NULL, NULL};
    pybuf_buffer part;
    int rc, in_place;
    if (!pybuf_mpi_cut_(view, chunk, &rows, &row, &n)) {
        return pybuf_mpi_recv(view, source, tag, comm, MPI_STATUS_IGNORE);
    }
    if ((rc = pybuf_validate(view, PYBUF_VALIDATE_LAYOUT, NULL, 0)) != 0) {
        return rc;
    }
    in_place = pybuf_is_contiguous(view, 'C') == 1 && view->suboffsets == NULL;
    if (!in_place) {
        bufs[0] = (unsigned char *)malloc((size_t)(rows * row) + 1);
        bufs[1] = (unsigned char *)malloc((size_t)(rows * row) + 1);
        rc = bufs[0] == NULL || bufs[1] == NULL ? MPI_ERR_NO_MEM : 0;
    }
    /* Message k lands in bufs[k % 2] (or in place); two are posted ahead. */
    for (k = 0; rc == 0 && k < n + 2; k++) {
        if (k >= 2) { /* message k - 2 is in: unpack it */
            int b = (int)(k % 2);
            if ((rc = MPI_Wait(&req[b], MPI_STATUS_IGNORE)) != MPI_SUCCESS) {
                break;
            }
            if (!in_place) {
                if ((rc = pybuf_mpi_part_(view, rows, k - 2, &part, &count)) != 0) {
                    break;
                }
                rc = pybuf_from_contiguous(&part, bufs[b], count * row, 'C');
                pybuf_release(&part);
            }
        }
        if (rc == 0 && k < n) {
            int b = (int)(k % 2);
            unsigned char *to = in_place ? (unsigned char *)view->buf + k * rows * row : bufs[b];
            count = view->shape[0] - k * rows < rows ? view->shape[0] - k * rows : rows;
            rc = MPI_Irecv(to, (int)(count * row), MPI_BYTE, source, tag, comm, &req[b]);
        }
    }
    for (k = 0; rc != 0 && k < 2; k++) { /* end what was posted before freeing its buffer */
        if (req[k] != MPI_REQUEST_NULL) {
            MPI_Cancel(&req[k]);
        }
    }
    for (k = 0; k < 2; k++) {
        int done = MPI_Wait(&req[k], MPI_STATUS_IGNORE);
        rc = rc == 0 ? done : rc;
    }
    free(bufs[0]);
    free(bufs[1]);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif /* PYBUF_MPI_H */
