/* libpybuf demo: a strided 2-D array, a transposed view of it, and contiguous copies of
 * that view in C and F order. Build and run with `make demo`. */
#include <stdio.h>
#include <string.h>

#include "pybuf.h"

static void print_matrix(const char *title, const double *data, pybuf_ssize_t rows, pybuf_ssize_t cols,
                         const pybuf_ssize_t strides[2]) {
    printf("%s\n", title);
    for (pybuf_ssize_t i = 0; i < rows; i++) {
        for (pybuf_ssize_t j = 0; j < cols; j++) {
            const char *p = (const char *)data + i * strides[0] + j * strides[1];
            printf(" %5.1f", *(const double *)p);
        }
        printf("\n");
    }
}

static int fail(const char *what) {
    fprintf(stderr, "%s failed: %s (%s)\n", what, pybuf_last_error(), pybuf_status_name(pybuf_last_status()));
    return 1;
}

int main(void) {
    /* A 3x8 block of doubles; our array is every other column of it: 3x4, strides {64, 16}. */
    double storage[3][8];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 8; j++)
            storage[i][j] = (j % 2 == 0) ? 10.0 * i + j / 2 : -1.0;

    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_ssize_t strides[2] = {8 * sizeof(double), 2 * sizeof(double)};
    pybuf_buffer a = {0};
    a.buf = storage;
    a.len = 3 * 4 * sizeof(double);
    a.itemsize = sizeof(double);
    a.ndim = 2;
    a.format = "d";
    a.shape = shape;
    a.strides = strides;
    print_matrix("strided array a (3x4, every other column of a 3x8 block):", &storage[0][0], 3, 4, strides);

    /* The transposed view: swap shape and strides. No data moves. */
    pybuf_ssize_t tshape[2] = {shape[1], shape[0]};
    pybuf_ssize_t tstrides[2] = {strides[1], strides[0]};
    pybuf_buffer t = a;
    t.shape = tshape;
    t.strides = tstrides;
    print_matrix("\ntransposed view t = a.T (4x3):", &storage[0][0], 4, 3, tstrides);
    printf("t is C-contiguous: %d, F-contiguous: %d\n", pybuf_is_contiguous(&t, 'C'), pybuf_is_contiguous(&t, 'F'));

    pybuf_ssize_t at[2] = {3, 1};
    const double *p = pybuf_get_pointer(&t, at);
    if (!p) return fail("pybuf_get_pointer");
    printf("t[3][1] = %.1f\n", *p);

    /* Contiguous copies of the view, in both orders. */
    double c_order[12], f_order[12];
    if (pybuf_to_contiguous(c_order, &t, t.len, 'C') != 0) return fail("pybuf_to_contiguous 'C'");
    if (pybuf_to_contiguous(f_order, &t, t.len, 'F') != 0) return fail("pybuf_to_contiguous 'F'");

    pybuf_ssize_t cstr[2], fstr[2];
    if (pybuf_fill_contiguous_strides(2, tshape, cstr, t.itemsize, 'C') != 0) return fail("fill strides 'C'");
    if (pybuf_fill_contiguous_strides(2, tshape, fstr, t.itemsize, 'F') != 0) return fail("fill strides 'F'");
    printf("\nC-order copy, strides {%td, %td}, memory:", cstr[0], cstr[1]);
    for (int k = 0; k < 12; k++) printf(" %.0f", c_order[k]);
    printf("\nF-order copy, strides {%td, %td}, memory:", fstr[0], fstr[1]);
    for (int k = 0; k < 12; k++) printf(" %.0f", f_order[k]);
    printf("\n");
    print_matrix("\nC-order copy read back as 4x3:", c_order, 4, 3, cstr);

    /* A bad request is an error with a message, not a crash. */
    if (pybuf_to_contiguous(c_order, &t, t.len - 8, 'C') != 0)
        printf("\nexpected refusal: %s: %s\n", pybuf_status_name(pybuf_last_status()), pybuf_last_error());
    return 0;
}
