/* Random pybuf views for the MPI tests: up to 6-D, every itemsize and the struct formats
 * of the format tests, transposed, sliced with steps, negative strides, broadcast
 * dimensions, and PIL-style suboffsets (a table of pointers to separately placed blocks).
 *
 * A view is drawn as a `shape_t` (from the generator) and made as many times as needed
 * (`make`): every copy has the same layout in its own memory, so that two copies filled
 * alike can be compared byte for byte after MPI and pybuf wrote into them. */
#ifndef PYBUF_MPI_TEST_VIEWS_H
#define PYBUF_MPI_TEST_VIEWS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pybuf.h"

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* xorshift64*: deterministic, no dependency. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static inline int below(int n) { return (int)(rng() % (uint64_t)n); }

/* Every itemsize (1 to 32) and the struct formats of the format tests
 * (bindings/python/tests/test_formats.py). */
static const char *const FORMATS[] = {
    "B", "b", "?", "c", "h", "H", "i", "I", "l", "L", "q", "Q", "n", "e", "f", "d", "g",
    "Zf", "Zd", "Zg", "3s", "P", "<i", ">i", ">d", "<Q", "3d", "(2,3)f", "2h", "u", "w",
    "T{b:a:i:b:}", "T{i:a:b:b:}", "T{b:a:d:b:b:c:}", "T{h:a:b:b:}", "T{=b:a:d:b:b:c:}",
    "T{^b:a:d:b:}", "T{b:a:3xi:b:}", "T{i:a:4x}", "T{b:a:T{b:x:d:y:}:s:}",
    "T{T{d:x:b:y:}:a:d:b:}", "T{T{T{b:z:}:y:}:x:h:w:}", "T{<T{i:x:b:y:}:a:b:b:}",
    "T{(2,3)f:m:b:t:}", "T{b:a:(4)d:v:}", "T{b:a:(2)T{b:x:i:y:}:s:}", "T{b:a:2T{h:x:b:y:}:s:}",
    "T{(2,2)3s:t:}", "T{3i:t:}", "T{i:first:i:second:}", "T{<i:a:>i:b:}",
    "T{>d:a:<h:b:!q:c:}", "T{>Zd:a:}", "T{>3w:a:}", "T{<e:a:@e:b:}", "T{Zf:a:Zd:b:Zg:c:}",
    "T{b:a:4w:u:?:c:e:h:}", "T{b:a:g:l:}", "T{dd}", "ii3xc2sd",
};
#define NFORMATS ((int)(sizeof FORMATS / sizeof FORMATS[0]))

/* The layout of a random view, drawn once and made any number of times. */
typedef struct shape_t {
    const char *format;
    pybuf_ssize_t itemsize;
    int ndim;
    pybuf_ssize_t shape[8], strides[8], suboffsets[8];
    int subdim;           /* the dimension with a suboffset, -1 for none */
    pybuf_ssize_t offset; /* bytes from the start of a block to element 0 of it */
    size_t block;         /* bytes of one block (the whole memory without suboffsets) */
    size_t nblocks;       /* blocks behind the pointer table (1 without suboffsets) */
    size_t perm[256];     /* where each table entry's block lies */
    int overlaps;         /* a broadcast (stride 0) dimension: send only */
    pybuf_ssize_t nbytes; /* product(shape) * itemsize */
} shape_t;

/* One made view: its memory (blocks, and the pointer table with suboffsets). */
typedef struct made_t {
    pybuf_buffer view;
    shape_t s;
    unsigned char *mem; /* s.nblocks * s.block bytes */
    void **table;
} made_t;

/* Layouts `relayout` draws. */
enum { ANY = 0, NO_BROADCAST = 1, CONTIGUOUS = 2 };

/* Draw the strides (and suboffsets) of `s`, whose format, itemsize, ndim and shape are
 * set: C-contiguous with CONTIGUOUS; else a permutation of C-contiguous strides over a
 * base padded by a step per dimension, some negated, some broadcast (not with
 * NO_BROADCAST), and in one draw of five a suboffset. */
static inline void relayout(shape_t *s, int mode) {
    int k, order[8];
    pybuf_ssize_t sd, neg = 0;
    s->overlaps = 0;
    for (k = 0; k < s->ndim; k++) {
        s->suboffsets[k] = -1;
    }
    s->subdim = mode != CONTIGUOUS && s->ndim > 0 && below(5) == 0 ? below(s->ndim < 3 ? s->ndim : 3) : -1;
    for (k = 0; k < 8; k++) {
        order[k] = k;
    }
    for (k = s->ndim - 1; mode != CONTIGUOUS && k > s->subdim + 1; k--) {
        int j = s->subdim + 1 + below(k - s->subdim), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    sd = s->itemsize;
    for (k = s->ndim - 1; k > s->subdim; k--) {
        int d = order[k], step = mode == CONTIGUOUS ? 1 : 1 + below(3);
        pybuf_ssize_t len = s->shape[d] > 0 ? s->shape[d] : 1;
        if (mode == ANY && below(12) == 0) {
            s->strides[d] = 0;
            s->overlaps = s->overlaps || s->shape[d] > 1;
            continue;
        }
        s->strides[d] = sd * step * (mode != CONTIGUOUS && below(3) == 0 ? -1 : 1);
        if (s->strides[d] < 0) {
            neg += -s->strides[d] * (len - 1);
        }
        sd *= len * step;
    }
    s->offset = neg;
    s->block = (size_t)sd + 7;
    s->nblocks = 1;
    if (s->subdim >= 0) {
        /* The table: C-contiguous pointers over dimensions 0..subdim. */
        sd = (pybuf_ssize_t)sizeof(void *);
        for (k = s->subdim; k >= 0; k--) {
            s->strides[k] = sd;
            sd *= s->shape[k] > 0 ? s->shape[k] : 1;
            s->nblocks *= (size_t)(s->shape[k] > 0 ? s->shape[k] : 1);
        }
        s->suboffsets[s->subdim] = s->offset;
        /* Blocks in a shuffled order behind the table. */
        for (k = 0; k < (int)s->nblocks; k++) {
            s->perm[k] = (size_t)k;
        }
        for (k = (int)s->nblocks - 1; k > 0; k--) {
            int j = below(k + 1);
            size_t t = s->perm[k];
            s->perm[k] = s->perm[j];
            s->perm[j] = t;
        }
    }
}

/* Draw a random format and shape (up to `max_ndim` dimensions, 6 at most) and a layout. */
static inline shape_t draw(int max_ndim, int mode) {
    shape_t s;
    int k;
    pybuf_ssize_t n = 1;
    memset(&s, 0, sizeof s);
    s.format = FORMATS[below(NFORMATS)];
    s.itemsize = pybuf_size_from_format(s.format);
    CHECK(s.itemsize > 0, "%s: %s", s.format, pybuf_last_error());
    if (below(8) == 0) {
        s.itemsize += below(3); /* a format shorter than the item: trailing bytes */
    }
    s.ndim = below(max_ndim + 1);
    for (k = 0; k < s.ndim; k++) {
        s.shape[k] = below(40) == 0 ? 0 : 1 + below(4);
        n *= s.shape[k];
    }
    s.nbytes = n * s.itemsize;
    relayout(&s, mode);
    return s;
}

/* Make a view of layout `s` in fresh memory whose bytes are `fill(i)`, in *out (whose
 * view points into it: do not copy it). */
static inline void make(made_t *out, const shape_t *s, unsigned char (*fill)(size_t)) {
#define m (*out)
    size_t i, len = s->nblocks * s->block;
    memset(&m, 0, sizeof m);
    m.s = *s;
    m.mem = (unsigned char *)malloc(len);
    CHECK(m.mem != NULL, "out of memory");
    for (i = 0; i < len; i++) {
        m.mem[i] = fill(i);
    }
    m.view.itemsize = s->itemsize;
    m.view.format = (char *)s->format;
    m.view.ndim = s->ndim;
    m.view.shape = m.s.shape;
    m.view.strides = m.s.strides;
    m.view.len = s->nbytes;
    if (s->subdim < 0) {
        m.view.buf = m.mem + s->offset;
    } else {
        m.table = (void **)malloc(s->nblocks * sizeof(void *));
        CHECK(m.table != NULL, "out of memory");
        for (i = 0; i < s->nblocks; i++) {
            m.table[i] = m.mem + s->perm[i] * s->block;
        }
        m.view.buf = m.table;
        m.view.suboffsets = m.s.suboffsets;
    }
#undef m
}

static inline void unmake(made_t *m) {
    free(m->mem);
    free(m->table);
    m->mem = NULL;
    m->table = NULL;
}

static inline unsigned char fill_index(size_t i) { return (unsigned char)(i * 131u + 7u); }
static inline unsigned char fill_a5(size_t i) { (void)i; return 0xa5; }

/* The layout, for messages. */
static inline const char *describe(const shape_t *s) {
    static char out[512];
    int k, n = snprintf(out, sizeof out, "format \"%s\" itemsize %td shape (", s->format,
                        s->itemsize);
    for (k = 0; k < s->ndim; k++) {
        n += snprintf(out + n, sizeof out - (size_t)n, "%td%s", s->shape[k], k + 1 < s->ndim ? ", " : "");
    }
    n += snprintf(out + n, sizeof out - (size_t)n, ") strides (");
    for (k = 0; k < s->ndim; k++) {
        n += snprintf(out + n, sizeof out - (size_t)n, "%td%s", s->strides[k], k + 1 < s->ndim ? ", " : "");
    }
    snprintf(out + n, sizeof out - (size_t)n, ") suboffset at %d", s->subdim);
    return out;
}

#endif
