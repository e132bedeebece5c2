/* Two ranks: rank 0 sends a view with pybuf_mpi_send, rank 1 receives into a view of the
 * same shape and format but its own layout with pybuf_mpi_recv, and checks its memory
 * byte for byte against pybuf_copy of the same source into the same layout (every byte
 * outside the elements untouched). Strided to contiguous, contiguous to strided, strided
 * to differently strided (with suboffsets on either side), structured formats, and
 * messages large enough to be split into fragments, among them long double complex
 * values across fragment boundaries (the Open MPI 4.1 pitfall).
 *
 * mpirun -np 2 ./test_ranks [rounds] [seed]   (both ranks draw the same layouts) */
#include <mpi.h>

#include "pybuf_mpi.h"
#include "views.h"

static int rank;

/* The chunk size of pybuf_mpi_send_chunks/recv_chunks; 0 for pybuf_mpi_send/recv. */
static pybuf_ssize_t chunk = 0;

/* Send a view of layout `a` from rank 0; receive it into layout `b` on rank 1 and check. */
static void round_trip(const shape_t *a, const shape_t *b, int tag) {
    made_t src, dst, want;
    size_t j, len = b->nblocks * b->block;
    MPI_Status status;
    int rc, count;
    if (rank == 0) {
        make(&src, a, fill_index);
        rc = chunk ? pybuf_mpi_send_chunks(&src.view, 1, tag, MPI_COMM_WORLD, chunk)
                   : pybuf_mpi_send(&src.view, 1, tag, MPI_COMM_WORLD);
        CHECK(rc == 0, "%s: pybuf_mpi_send = %d: %s", describe(a), rc, pybuf_last_error());
        unmake(&src);
        return;
    }
    make(&dst, b, fill_a5);
    if (chunk) {
        rc = pybuf_mpi_recv_chunks(&dst.view, 0, tag, MPI_COMM_WORLD, chunk);
        CHECK(rc == 0, "%s: pybuf_mpi_recv_chunks = %d: %s", describe(b), rc, pybuf_last_error());
    } else {
        rc = pybuf_mpi_recv(&dst.view, 0, tag, MPI_COMM_WORLD, &status);
        CHECK(rc == 0, "%s: pybuf_mpi_recv = %d: %s", describe(b), rc, pybuf_last_error());
        CHECK(MPI_Get_count(&status, MPI_BYTE, &count) == MPI_SUCCESS && count == b->nbytes,
              "%s: received %d bytes, want %td", describe(b), count, b->nbytes);
    }
    /* The same source, copied by pybuf into the same layout. */
    make(&src, a, fill_index);
    make(&want, b, fill_a5);
    CHECK(pybuf_copy(&want.view, &src.view) == 0, "%s", pybuf_last_error());
    for (j = 0; j < len; j++) {
        if (dst.mem[j] != want.mem[j]) {
            fprintf(stderr, "from %s\n", describe(a));
            CHECK(0, "into %s: memory byte %zu: received %d, pybuf_copy %d", describe(b), j,
                  dst.mem[j], want.mem[j]);
        }
    }
    unmake(&src);
    unmake(&dst);
    unmake(&want);
}

/* A 1-D layout of n items of `format`, `gap` bytes between items, maybe reversed. */
static shape_t strided(const char *format, pybuf_ssize_t n, pybuf_ssize_t gap, int reversed) {
    shape_t s;
    memset(&s, 0, sizeof s);
    s.format = format;
    s.itemsize = pybuf_size_from_format(format);
    s.ndim = 1;
    s.shape[0] = n;
    s.strides[0] = (s.itemsize + gap) * (reversed ? -1 : 1);
    s.suboffsets[0] = -1;
    s.subdim = -1;
    s.offset = reversed ? (s.itemsize + gap) * (n - 1) : 0;
    s.block = (size_t)((s.itemsize + gap) * n);
    s.nblocks = 1;
    s.nbytes = n * s.itemsize;
    return s;
}

/* An r x c matrix, C-contiguous or (transposed) its transpose's layout. */
static shape_t matrix(const char *format, pybuf_ssize_t r, pybuf_ssize_t c, int transposed) {
    shape_t s = strided(format, r, 0, 0);
    s.ndim = 2;
    s.shape[1] = c;
    s.suboffsets[1] = -1;
    s.strides[0] = transposed ? s.itemsize : s.itemsize * c;
    s.strides[1] = transposed ? s.itemsize * r : s.itemsize;
    s.block = (size_t)(r * c * s.itemsize);
    s.nbytes = r * c * s.itemsize;
    return s;
}

/* Two 1-D layouts of one format: gaps between items, reversed or not. */
static const struct pair {
    const char *format;
    pybuf_ssize_t n, gap_a, gap_b;
    int reversed_a, reversed_b, both_ways;
} fragmented[] = {
    {"B", 3000001, 0, 2, 1, 0, 1},
    {"T{^b:a:Zg:b:}", 100000, 0, 15, 0, 0, 0},
    {"T{^3s:a:Zg:b:}", 100000, 0, 13, 0, 1, 0},
    {"Zg", 100000, 0, 16, 0, 0, 0},
    {"T{b:a:Zg:b:}", 50000, 0, 0, 1, 0, 0},
};

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 300, size, i, tag = 0;
    shape_t a, b;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    CHECK(size == 2, "run with 2 ranks, not %d", size);
    if (argc > 2) {
        rng_state = strtoull(argv[2], NULL, 0);
    }
    for (i = 0; i < rounds; i++) {
        /* strided -> differently strided */
        a = draw(6, ANY);
        b = a;
        relayout(&b, NO_BROADCAST);
        round_trip(&a, &b, tag++);
        /* strided -> contiguous */
        b = a;
        relayout(&b, CONTIGUOUS);
        round_trip(&a, &b, tag++);
        /* contiguous -> strided */
        a = draw(6, CONTIGUOUS);
        b = a;
        relayout(&b, NO_BROADCAST);
        round_trip(&a, &b, tag++);
    }
    /* Messages split into fragments: a transposed 512 x 512 float64 matrix (2 MiB) both
     * ways, reversed bytes, and long double complex values behind a 1- or 3-byte field
     * with a gap between items, so that fragment boundaries fall inside them. */
    a = matrix("d", 512, 512, 1);
    b = matrix("d", 512, 512, 0);
    round_trip(&a, &b, tag++);
    round_trip(&b, &a, tag++);
    for (i = 0; i < (int)(sizeof fragmented / sizeof fragmented[0]); i++) {
        const struct pair *p = &fragmented[i];
        a = strided(p->format, p->n, p->gap_a, p->reversed_a);
        b = strided(p->format, p->n, p->gap_b, p->reversed_b);
        round_trip(&a, &b, tag++);
        if (p->both_ways) {
            round_trip(&b, &a, tag++);
        }
    }
    /* The pipelined path, with chunks of 1 to 500 bytes (a row or more per message). */
    for (i = 0; i < rounds; i++) {
        chunk = 1 + below(500);
        a = draw(6, ANY);
        b = a;
        relayout(&b, below(2) ? CONTIGUOUS : NO_BROADCAST);
        round_trip(&a, &b, tag++);
    }
    chunk = 1 << 16;
    a = matrix("d", 512, 512, 1);
    b = matrix("d", 512, 512, 0);
    round_trip(&a, &b, tag++);
    round_trip(&b, &a, tag++);
    if (rank == 1) {
        printf("two ranks: %d random rounds of 3 (strided -> strided, strided -> contiguous, "
               "contiguous -> strided) and 8 fragmented messages, each equal to pybuf_copy; "
               "%d random rounds and 2 transposes in chunks\n",
               rounds, rounds);
    }
    MPI_Finalize();
    return 0;
}
