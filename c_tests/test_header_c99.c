/*
 * pybuf.h on its own as strict C99 with -pedantic diagnostics as errors (the pragma makes
 * this file's compile -pedantic -Werror whatever the build passes), included twice, with
 * no other header before it. Its declarations are usable: the DLPack structs it declares
 * and the functions that take them link and run.
 */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic error "-Wpedantic"
#endif

#include "pybuf.h"
#include "pybuf.h"

#include <stdio.h>
#include <string.h>

/* C99 has no _Static_assert: an array of size -1 does not compile. */
typedef char dlpack_major_is_1[DLPACK_MAJOR_VERSION == 1 ? 1 : -1];
typedef char read_only_is_bit_0[DLPACK_FLAG_BITMASK_READ_ONLY == 1 ? 1 : -1];
typedef char cpu_is_1[kDLCPU == 1 ? 1 : -1];
typedef char status_values_continue[PYBUF_STATUS_UNSUPPORTED_VERSION == -23 ? 1 : -1];

int main(void) {
    long data[4] = {1, 2, 3, 4};
    pybuf_buffer view;
    DLManagedTensorVersioned *t = NULL;
    char typestr[8];
    int failed = 0;
    if (pybuf_fill_info(&view, NULL, data, sizeof data, 0, PYBUF_FULL) != 0)
        return 1;
    if (pybuf_to_dlpack(&view, NULL, NULL, &t) != 0 || t->dl_tensor.shape[0] != 32)
        failed = 1;
    if (t != NULL)
        t->deleter(t);
    pybuf_release(&view);
    if (pybuf_format_to_typestr("<d", 0, typestr, sizeof typestr) != 3 || strcmp(typestr, "<f8") != 0)
        failed = 1;
    printf("test_header_c99.c: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
