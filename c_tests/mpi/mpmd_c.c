/* The C rank of the MPMD test with mpi4py (mpmd_numpy.py is the other):
 *
 *   mpirun -np 1 ./mpmd_c : -np 1 python mpmd_numpy.py
 *
 * Rank 0 (this program) sends a transposed pybuf view of a 300 x 200 float64 matrix and a
 * reversed view of packed structs "T{d:b:i:a:i:c:}"; the numpy rank receives them into
 * C-contiguous arrays. Then the numpy rank sends a contiguous 60 x 70 float64 array, which
 * this rank receives into a strided view ([::-2, ::3] of a 120 x 210 array) and checks,
 * bytes outside the view included. */
#include <mpi.h>

#include "pybuf_mpi.h"
#include "views.h"

#define R 300
#define C 200

struct rec {
    double b;
    int32_t a, c;
};

/* A view of `n` bytes of `format` items at `buf`, by hand as a C caller fills one. */
static pybuf_buffer view_of(void *buf, pybuf_ssize_t len, pybuf_ssize_t itemsize, const char *format,
                            int ndim, pybuf_ssize_t *shape, pybuf_ssize_t *strides) {
    pybuf_buffer v;
    memset(&v, 0, sizeof v);
    v.buf = buf;
    v.len = len;
    v.itemsize = itemsize;
    v.format = (char *)format;
    v.ndim = ndim;
    v.shape = shape;
    v.strides = strides;
    return v;
}

int main(int argc, char **argv) {
    static double m[R][C], big[120][210];
    static struct rec recs[1000];
    pybuf_ssize_t shape[2] = {C, R}, strides[2] = {sizeof(double), C * sizeof(double)};
    pybuf_ssize_t rshape[1] = {1000}, rstrides[1] = {-(pybuf_ssize_t)sizeof(struct rec)};
    pybuf_ssize_t sshape[2] = {60, 70}, sstrides[2] = {-2 * 210 * sizeof(double), 3 * sizeof(double)};
    pybuf_buffer v;
    int rank, size, i, j, rc;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    CHECK(rank == 0 && size == 2, "run as rank 0 of 2: mpirun -np 1 ./mpmd_c : -np 1 python mpmd_numpy.py");
    for (i = 0; i < R; i++) {
        for (j = 0; j < C; j++) {
            m[i][j] = i * 1000 + j;
        }
    }
    /* m.T: shape (200, 300), strides (8, 1600). */
    v = view_of(m, sizeof m, sizeof(double), "d", 2, shape, strides);
    rc = pybuf_mpi_send(&v, 1, 1, MPI_COMM_WORLD);
    CHECK(rc == 0, "send m.T: %d %s", rc, pybuf_last_error());
    /* recs[::-1]. */
    for (i = 0; i < 1000; i++) {
        recs[i].b = i * 0.5;
        recs[i].a = i;
        recs[i].c = -i;
    }
    v = view_of(&recs[999], sizeof recs, sizeof(struct rec), "T{d:b:i:a:i:c:}", 1, rshape, rstrides);
    rc = pybuf_mpi_send(&v, 1, 2, MPI_COMM_WORLD);
    CHECK(rc == 0, "send recs[::-1]: %d %s", rc, pybuf_last_error());
    /* big[::-2, ::3] receives numpy's arange(4200).reshape(60, 70). */
    for (i = 0; i < 120; i++) {
        for (j = 0; j < 210; j++) {
            big[i][j] = -1;
        }
    }
    v = view_of(&big[119][0], 60 * 70 * sizeof(double), sizeof(double), "d", 2, sshape, sstrides);
    rc = pybuf_mpi_recv(&v, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    CHECK(rc == 0, "recv into big[::-2, ::3]: %d %s", rc, pybuf_last_error());
    for (i = 0; i < 120; i++) {
        for (j = 0; j < 210; j++) {
            int inside = (119 - i) % 2 == 0 && j % 3 == 0;
            double want = inside ? ((119 - i) / 2) * 70 + j / 3 : -1;
            CHECK(big[i][j] == want, "big[%d][%d] = %g, want %g", i, j, big[i][j], want);
        }
    }
    printf("C rank: sent m.T and recs[::-1], received numpy's array into big[::-2, ::3]\n");
    MPI_Finalize();
    return 0;
}
