/* Export native memory from C: a 3x4 matrix of doubles that any consumer can view. */
#include <stdio.h>
#include <stdlib.h>
#include "pybuf.h"

static void free_matrix(void *user) { free(user); puts("owner: memory freed"); }

int main(void) {
    double *m = malloc(12 * sizeof *m);
    if (!m) return 1;
    for (int i = 0; i < 12; i++) m[i] = i;
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_exporter_desc d = {.buf = m, .len = 12 * sizeof *m, .format = "d", .ndim = 2, .shape = shape};
    pybuf_exporter *e;
    if (pybuf_exporter_new(&d, free_matrix, m, &e) != 0) { free(m); return 1; }

    pybuf_buffer view; /* what a consumer (numpy, Cython, C) gets */
    if (pybuf_exporter_get_buffer(e, &view, PYBUF_RECORDS) != 0) {
        fprintf(stderr, "%s\n", pybuf_last_error());
        pybuf_exporter_free(e); /* frees m through free_matrix */
        return 1;
    }
    pybuf_exporter_free(e); /* the view keeps the memory alive */
    pybuf_ssize_t at[2] = {2, 1};
    printf("%s %tdx%td, strides %td %td, m[2][1] = %g\n", view.format, view.shape[0],
           view.shape[1], view.strides[0], view.strides[1], *(double *)pybuf_get_pointer(&view, at));
    pybuf_release(&view); /* the last view: free_matrix runs now */
    return 0;
}
/* d 3x4, strides 32 8, m[2][1] = 9
   owner: memory freed */
