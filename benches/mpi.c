/* `make bench-mpi` (C side; benches/mpi_side_by_side.py runs it and numpy's side): rank 0
 * sends a 64 MiB float64 view, rank 1 receives its values in C order into a contiguous
 * array. Views: a.T of a 2048 x 4096 array, and a[:, ::2] of a 2048 x 8192 one. Ways:
 *
 *   contiguous     MPI_Send of a contiguous 64 MiB array: the transport's own speed
 *   datatype       pybuf_mpi_send: the view's derived datatype, packed by MPI
 *   to_contiguous  pybuf_to_contiguous into a temporary, then one contiguous MPI_Send
 *   chunks         pybuf_mpi_send_chunks: pybuf packs chunk k+1 while chunk k travels
 *
 * Each round: barrier, rank 0 starts its clock, sends, and stops it when rank 1's
 * zero-byte acknowledgement arrives (rank 1 has every value). The best of ROUNDS is
 * printed as "RESULT <view> <way> <seconds>"; the received values are checked once.
 *
 * mpirun -np 2 ./bench_mpi [rounds] [chunk bytes] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pybuf_mpi.h"

#define ROWS 2048
#define COLS 4096

static int rank;

static void die(const char *what, int rc) {
    fprintf(stderr, "rank %d: %s failed (%d): %s\n", rank, what, rc, pybuf_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* One way of sending `v` from rank 0; rank 1 receives `n` doubles into `out`. */
static double run(const char *way, const pybuf_buffer *v, double *tmp, double *out,
                  pybuf_ssize_t chunk) {
    int n = (int)(v->len / 8), rc = 0;
    double t0, t;
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
    if (rank == 0) {
        if (strcmp(way, "contiguous") == 0) {
            rc = MPI_Send(tmp, n, MPI_DOUBLE, 1, 0, MPI_COMM_WORLD);
        } else if (strcmp(way, "datatype") == 0) {
            rc = pybuf_mpi_send(v, 1, 0, MPI_COMM_WORLD);
        } else if (strcmp(way, "to_contiguous") == 0) {
            if ((rc = pybuf_to_contiguous(tmp, v, v->len, 'C')) == 0) {
                rc = MPI_Send(tmp, n, MPI_DOUBLE, 1, 0, MPI_COMM_WORLD);
            }
        } else {
            rc = pybuf_mpi_send_chunks(v, 1, 0, MPI_COMM_WORLD, chunk);
        }
        if (rc != 0) {
            die(way, rc);
        }
        MPI_Recv(NULL, 0, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
        if (strcmp(way, "chunks") == 0) {
            /* the same shape as the sender's view, C-contiguous: received in place */
            pybuf_buffer c = *v;
            c.buf = out;
            c.strides = NULL;
            rc = pybuf_mpi_recv_chunks(&c, 0, 0, MPI_COMM_WORLD, chunk);
        } else {
            rc = MPI_Recv(out, n, MPI_DOUBLE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        if (rc != 0) {
            die(way, rc);
        }
        MPI_Send(NULL, 0, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
    }
    t = MPI_Wtime() - t0;
    MPI_Bcast(&t, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return t;
}

int main(int argc, char **argv) {
    static const char *ways[] = {"contiguous", "datatype", "to_contiguous", "chunks"};
    int rounds, r, w, c, size;
    pybuf_ssize_t chunk, i, j;
    double *a, *tmp, *out, *want;
    pybuf_ssize_t tshape[2] = {COLS, ROWS}, tstrides[2] = {8, COLS * 8};
    pybuf_ssize_t cshape[2] = {ROWS, COLS}, cstrides[2] = {2 * COLS * 8, 16};
    pybuf_buffer views[2];
    const char *names[2] = {"a.T", "a[:,::2]"};
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        fprintf(stderr, "run with 2 ranks\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    rounds = argc > 1 ? atoi(argv[1]) : 5;
    chunk = argc > 2 ? atol(argv[2]) : 0;
    /* a: 2048 x 8192 doubles (128 MiB); a.T uses its first 2048 x 4096 as one array. */
    a = (double *)malloc((size_t)ROWS * 2 * COLS * 8);
    tmp = (double *)malloc((size_t)ROWS * COLS * 8);
    out = (double *)malloc((size_t)ROWS * COLS * 8);
    want = (double *)malloc((size_t)ROWS * COLS * 8);
    if (!a || !tmp || !out || !want) {
        die("malloc", -1);
    }
    for (i = 0; i < (pybuf_ssize_t)ROWS * 2 * COLS; i++) {
        a[i] = (double)i;
    }
    memset(tmp, 0, (size_t)ROWS * COLS * 8);
    memset(out, 0, (size_t)ROWS * COLS * 8);
    for (c = 0; c < 2; c++) {
        memset(&views[c], 0, sizeof views[c]);
        views[c].buf = a;
        views[c].len = (pybuf_ssize_t)ROWS * COLS * 8;
        views[c].itemsize = 8;
        views[c].format = (char *)"d";
        views[c].ndim = 2;
        views[c].shape = c == 0 ? tshape : cshape;
        views[c].strides = c == 0 ? tstrides : cstrides;
    }
    for (c = 0; c < 2; c++) {
        if (pybuf_to_contiguous(want, &views[c], views[c].len, 'C') != 0) {
            die("pybuf_to_contiguous", -1);
        }
        for (w = 0; w < 4; w++) {
            double best = 1e30;
            for (r = 0; r < rounds; r++) {
                double t = run(ways[w], &views[c], tmp, out, chunk);
                best = t < best ? t : best;
                if (rank == 1 && r == 0 && w > 0) {
                    for (j = 0; j < (pybuf_ssize_t)ROWS * COLS; j++) {
                        if (out[j] != want[j]) {
                            fprintf(stderr, "%s %s: value %td is %g, want %g\n", names[c], ways[w], j,
                                    out[j], want[j]);
                            MPI_Abort(MPI_COMM_WORLD, 1);
                        }
                    }
                    memset(out, 0, (size_t)ROWS * COLS * 8);
                }
            }
            if (rank == 0) {
                printf("RESULT %s %s %.6f\n", names[c], ways[w], best);
                fflush(stdout);
            }
        }
    }
    free(a);
    free(tmp);
    free(out);
    free(want);
    MPI_Finalize();
    return 0;
}
