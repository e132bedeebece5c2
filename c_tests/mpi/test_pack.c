/* The differential test of pybuf_mpi.h, on one rank: for thousands of random views,
 * MPI_Pack with the view's datatype gives exactly the bytes of pybuf_to_contiguous(view,
 * 'C'), and MPI_Unpack into a view leaves its memory exactly as pybuf_from_contiguous
 * does (no byte outside the elements touched). Then targeted cases (the Open MPI
 * pitfalls, empty, 0-d and shapeless views, counts beyond INT_MAX, refusals), and fault
 * injection: every datatype constructor made to fail in turn, through the MPI profiling
 * interface, must leave no datatype alive.
 *
 * mpirun -np 1 ./test_pack [views] [seed] */
#include <mpi.h>

#include "pybuf_mpi.h"
#include "views.h"

/* -- MPI profiling interface: count live datatypes, fail the n-th constructor ------- */

static long live = 0;       /* datatypes made and not yet freed */
static long calls = 0;      /* constructor and commit calls so far */
static long fail_at = -1;   /* the call that fails (counting from 1), -1 for none */

static int failing(void) {
    calls++;
    return calls == fail_at;
}
static int made(int rc) {
    live += rc == MPI_SUCCESS;
    return rc;
}

int MPI_Type_contiguous(int count, MPI_Datatype old, MPI_Datatype *out) {
    return failing() ? MPI_ERR_OTHER : made(PMPI_Type_contiguous(count, old, out));
}
int MPI_Type_create_hvector(int count, int len, MPI_Aint stride, MPI_Datatype old,
                            MPI_Datatype *out) {
    return failing() ? MPI_ERR_OTHER : made(PMPI_Type_create_hvector(count, len, stride, old, out));
}
int MPI_Type_create_struct(int count, const int bl[], const MPI_Aint disp[],
                           const MPI_Datatype types[], MPI_Datatype *out) {
    return failing() ? MPI_ERR_OTHER : made(PMPI_Type_create_struct(count, bl, disp, types, out));
}
int MPI_Type_create_resized(MPI_Datatype old, MPI_Aint lb, MPI_Aint extent, MPI_Datatype *out) {
    return failing() ? MPI_ERR_OTHER : made(PMPI_Type_create_resized(old, lb, extent, out));
}
int MPI_Type_create_hindexed_block(int count, int len, const MPI_Aint disp[], MPI_Datatype old,
                                   MPI_Datatype *out) {
    return failing() ? MPI_ERR_OTHER : made(PMPI_Type_create_hindexed_block(count, len, disp, old, out));
}
int MPI_Type_commit(MPI_Datatype *t) {
    return failing() ? MPI_ERR_OTHER : PMPI_Type_commit(t);
}
int MPI_Type_free(MPI_Datatype *t) {
    int rc = PMPI_Type_free(t);
    if (rc == MPI_SUCCESS) {
        live--;
    }
    return rc;
}

/* -- the differential check ----------------------------------------------------------- */

static unsigned char *packed, *expected, *source;

/* MPI_Pack and MPI_Unpack of one `t` at `buf`. MPICH 4.0 refuses MPI_BOTTOM there (a NULL
 * check on the buffer): for a view with suboffsets it goes as a message to this rank. */
static int pack(void *buf, MPI_Datatype t, unsigned char *out, int size, int *pos) {
#ifdef MPICH_VERSION
    if (buf == MPI_BOTTOM) {
        MPI_Status st;
        int rc = MPI_Sendrecv(buf, 1, t, 0, 0, out, size, MPI_BYTE, 0, 0, MPI_COMM_SELF, &st);
        return rc != MPI_SUCCESS ? rc : MPI_Get_count(&st, MPI_BYTE, pos);
    }
#endif
    return MPI_Pack(buf, 1, t, out, size, pos, MPI_COMM_SELF);
}
static int unpack(const unsigned char *in, int size, void *buf, MPI_Datatype t, int *pos) {
#ifdef MPICH_VERSION
    if (buf == MPI_BOTTOM) {
        MPI_Status st;
        int rc = MPI_Sendrecv(in, size, MPI_BYTE, 0, 0, buf, 1, t, 0, 0, MPI_COMM_SELF, &st);
        *pos = size;
        return rc;
    }
#endif
    return MPI_Unpack(in, size, pos, buf, 1, t, MPI_COMM_SELF);
}

/* Pack and unpack one view of layout `s`; returns 1 if it was unpacked too. */
static int check_view(const shape_t *s) {
    made_t a, b, c;
    MPI_Datatype t = MPI_DATATYPE_NULL;
    int rc, size, pos = 0, unpacked = 0;
    pybuf_ssize_t i, n = s->nbytes;
    make(&a, s, fill_index);
    rc = pybuf_mpi_type(&a.view, &t);
    CHECK(rc == 0, "%s: pybuf_mpi_type = %d: %s", describe(s), rc, pybuf_last_error());
    CHECK(MPI_Type_size(t, &size) == MPI_SUCCESS && size == n, "%s: MPI_Type_size %d, nbytes %td",
          describe(s), size, n);
    CHECK(pybuf_to_contiguous(expected, &a.view, n, 'C') == 0, "%s", pybuf_last_error());
    CHECK(pack(pybuf_mpi_buf(&a.view), t, packed, (int)n + 1, &pos) == MPI_SUCCESS,
          "%s: MPI_Pack", describe(s));
    CHECK(pos == n, "%s: packed %d bytes, want %td", describe(s), pos, n);
    for (i = 0; i < n; i++) {
        CHECK(packed[i] == expected[i], "%s: byte %td packed %d, pybuf_to_contiguous %d", describe(s),
              i, packed[i], expected[i]);
    }
    MPI_Type_free(&t);
    unmake(&a);
    if (!s->overlaps) {
        /* MPI_Unpack into b, pybuf_from_contiguous into c: the memories must agree. */
        size_t len = s->nblocks * s->block, j;
        make(&b, s, fill_a5);
        make(&c, s, fill_a5);
        for (i = 0; i < n; i++) {
            source[i] = (unsigned char)rng();
        }
        CHECK(pybuf_mpi_type(&b.view, &t) == 0, "%s", pybuf_last_error());
        pos = 0;
        CHECK(unpack(source, (int)n, pybuf_mpi_buf(&b.view), t, &pos) == MPI_SUCCESS,
              "%s: MPI_Unpack", describe(s));
        CHECK(pos == n, "%s: unpacked %d bytes, want %td", describe(s), pos, n);
        CHECK(pybuf_from_contiguous(&c.view, source, n, 'C') == 0, "%s", pybuf_last_error());
        for (j = 0; j < len; j++) {
            CHECK(b.mem[j] == c.mem[j], "%s: memory byte %zu: MPI_Unpack %d, pybuf_from_contiguous %d",
                  describe(s), j, b.mem[j], c.mem[j]);
        }
        MPI_Type_free(&t);
        unmake(&b);
        unmake(&c);
        unpacked = 1;
    }
    CHECK(live == 0, "%s: %ld datatypes left alive", describe(s), live);
    return unpacked;
}

/* A layout given by hand: a contiguous base, then shape and strides (bytes). */
static shape_t by_hand(const char *format, int ndim, const pybuf_ssize_t *shape,
                       const pybuf_ssize_t *strides) {
    shape_t s;
    int k;
    pybuf_ssize_t lo = 0, hi = 0, n = 1;
    memset(&s, 0, sizeof s);
    s.format = format;
    s.itemsize = pybuf_size_from_format(format);
    s.ndim = ndim;
    s.subdim = -1;
    for (k = 0; k < ndim; k++) {
        s.shape[k] = shape[k];
        s.strides[k] = strides[k];
        s.suboffsets[k] = -1;
        n *= shape[k];
        if (shape[k] > 0) {
            if (strides[k] < 0) {
                lo += strides[k] * (shape[k] - 1);
            } else {
                hi += strides[k] * (shape[k] - 1);
            }
        }
        if (strides[k] == 0 && shape[k] > 1) {
            s.overlaps = 1;
        }
    }
    s.offset = -lo;
    s.block = (size_t)(hi - lo + s.itemsize);
    s.nblocks = 1;
    s.nbytes = n * s.itemsize;
    return s;
}

static void targeted(void) {
    /* Open MPI 4.1: an hvector of stride -1 packs ascending. a[::-1] of bytes, odd and
     * even lengths, and reversed rows of a 2-D byte array. */
    pybuf_ssize_t n7[1] = {7}, n8[1] = {8}, m1[1] = {-1}, sh2[2] = {3, 5}, st2[2] = {5, -1};
    pybuf_ssize_t st2b[2] = {-5, -1}, big[1] = {100001}, zg[2] = {40, 30}, zgs[2] = {32, 1280};
    pybuf_ssize_t sh0[2] = {3, 0}, st0[2] = {8, 8};
    shape_t s = by_hand("B", 1, n7, m1);
    check_view(&s);
    s = by_hand("B", 1, n8, m1);
    check_view(&s);
    s = by_hand("b", 2, sh2, st2);
    check_view(&s);
    s = by_hand("B", 2, sh2, st2b); /* merges into one run of 15 at stride -1 */
    check_view(&s);
    s = by_hand("c", 1, big, m1);
    check_view(&s);
    /* long double complex, transposed (two MPI_LONG_DOUBLE each). */
    s = by_hand("Zg", 2, zg, zgs);
    check_view(&s);
    /* Empty and 0-d views. */
    s = by_hand("d", 2, sh0, st0);
    check_view(&s);
    s = by_hand("T{b:a:d:b:}", 0, NULL, NULL);
    check_view(&s);
}

/* A shapeless view (PYBUF_SIMPLE) is len unsigned bytes, whatever its format says. */
static void shapeless(void) {
    unsigned char mem[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, out[16];
    pybuf_buffer v;
    MPI_Datatype t;
    int size, pos = 0;
    memset(&v, 0, sizeof v);
    v.buf = mem;
    v.len = 10;
    v.itemsize = 8;
    v.format = (char *)"d";
    v.ndim = 1;
    CHECK(pybuf_mpi_type(&v, &t) == 0, "%s", pybuf_last_error());
    CHECK(MPI_Type_size(t, &size) == MPI_SUCCESS && size == 10, "size %d", size);
    MPI_Pack(pybuf_mpi_buf(&v), 1, t, out, sizeof out, &pos, MPI_COMM_SELF);
    CHECK(pos == 10 && memcmp(out, mem, 10) == 0, "packed %d", pos);
    MPI_Type_free(&t);
}

/* Refusals: a status, a message, *type untouched, no datatype alive. Counts beyond INT_MAX
 * (broadcast views need no memory): split by a power of two when that fits. */
static void refusals(void) {
    char one = 0;
    pybuf_ssize_t shape[1] = {(pybuf_ssize_t)3000000001LL}, strides[1] = {0};
    pybuf_buffer v;
    MPI_Datatype t = MPI_DATATYPE_NULL;
    MPI_Count size = 0;
    int rc;
    memset(&v, 0, sizeof v);
    v.buf = &one;
    v.itemsize = 1;
    v.ndim = 1;
    v.shape = shape;
    v.strides = strides;
    v.len = shape[0];
    rc = pybuf_mpi_type(&v, &t);
    CHECK(rc == PYBUF_STATUS_UNREPRESENTABLE && t == MPI_DATATYPE_NULL, "rc %d", rc);
    CHECK(strstr(pybuf_last_error(), "3000000001") != NULL, "%s", pybuf_last_error());
    shape[0] = (pybuf_ssize_t)1 << 32;
    v.len = shape[0];
    CHECK(pybuf_mpi_type(&v, &t) == 0, "%s", pybuf_last_error());
    CHECK(MPI_Type_size_x(t, &size) == MPI_SUCCESS && size == ((MPI_Count)1 << 32), "size %lld",
          (long long)size);
    MPI_Type_free(&t);
    t = MPI_DATATYPE_NULL;
    shape[0] = 4;
    v.len = 4;
    v.format = (char *)"T{i";
    rc = pybuf_mpi_type(&v, &t);
    CHECK(rc == PYBUF_STATUS_INVALID_FORMAT && t == MPI_DATATYPE_NULL, "rc %d", rc);
    v.format = NULL;
    rc = pybuf_mpi_type(&v, NULL);
    CHECK(rc == PYBUF_STATUS_NULL_POINTER, "rc %d", rc);
    rc = pybuf_mpi_type(NULL, &t);
    CHECK(rc == PYBUF_STATUS_NULL_POINTER && t == MPI_DATATYPE_NULL, "rc %d", rc);
    CHECK(live == 0, "%ld datatypes left alive", live);
}

/* Every constructor call of a build made to fail in turn: an MPI error comes back,
 * *type is untouched, and no datatype is left alive. */
static int faults(const shape_t *s) {
    made_t a;
    MPI_Datatype t = MPI_DATATYPE_NULL;
    long total, f;
    make(&a, s, fill_index);
    calls = 0;
    CHECK(pybuf_mpi_type(&a.view, &t) == 0, "%s", pybuf_last_error());
    MPI_Type_free(&t);
    t = MPI_DATATYPE_NULL;
    total = calls;
    for (f = 1; f <= total; f++) {
        int rc;
        calls = 0;
        fail_at = f;
        rc = pybuf_mpi_type(&a.view, &t);
        fail_at = -1;
        CHECK(rc == MPI_ERR_OTHER && t == MPI_DATATYPE_NULL, "%s: call %ld of %ld failed, rc %d",
              describe(s), f, total, rc);
        CHECK(live == 0, "%s: call %ld of %ld failed: %ld datatypes left alive", describe(s), f,
              total, live);
    }
    unmake(&a);
    return (int)total;
}

int main(int argc, char **argv) {
    int views = argc > 1 ? atoi(argv[1]) : 3000, i, unpacked = 0, subs = 0, structs = 0;
    long injected = 0;
    MPI_Init(&argc, &argv);
    if (argc > 2) {
        rng_state = strtoull(argv[2], NULL, 0);
    }
    packed = (unsigned char *)malloc(1 << 22);
    expected = (unsigned char *)malloc(1 << 22);
    source = (unsigned char *)malloc(1 << 22);
    CHECK(packed && expected && source, "out of memory");
    for (i = 0; i < views; i++) {
        shape_t s = draw(6, ANY);
        unpacked += check_view(&s);
        subs += s.subdim >= 0;
        structs += strchr(s.format, 'T') != NULL;
    }
    printf("differential: %d random views (%d with suboffsets, %d structs), %d unpacked: "
           "MPI_Pack == pybuf_to_contiguous, MPI_Unpack == pybuf_from_contiguous\n",
           views, subs, structs, unpacked);
    targeted();
    shapeless();
    refusals();
    printf("targeted: stride -1, Zg, empty, 0-d, shapeless views, counts beyond INT_MAX, refusals\n");
    for (i = 0; i < 200; i++) {
        shape_t s = draw(4, ANY);
        injected += faults(&s);
    }
    {
        pybuf_ssize_t n7[1] = {7}, m1[1] = {-1};
        shape_t s = by_hand("B", 1, n7, m1);
        injected += faults(&s);
    }
    printf("fault injection: %ld failing MPI calls, no datatype left alive\n", injected);
    free(packed);
    free(expected);
    free(source);
    MPI_Finalize();
    return 0;
}
