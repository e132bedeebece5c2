/*
 * Allocations whose size comes from input (issue 12, defect 6 and its class): each is
 * refused with PYBUF_STATUS_OUT_OF_MEMORY and a message naming the size, never a process
 * abort, and nothing is written. Sizes of 2^47 bytes and more cannot be allocated whatever
 * the overcommit setting (they exceed the user address space of x86-64 and AArch64 with
 * 48-bit addresses); the views claim that much memory, but the allocation is refused before
 * any of it is reached.
 *
 * The sites: the scratch copy of pybuf_set_item, the temporary of an overlapping pybuf_copy,
 * and the private copy of the source of a partial pybuf_from_contiguous.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <stdint.h>
#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "check.h"

static unsigned char cell[16];

static int cell_is(unsigned char byte) {
    size_t i;
    for (i = 0; i < sizeof cell; i++)
        if (cell[i] != byte)
            return 0;
    return 1;
}

/* pybuf_set_item: a 0-d view of one 2^48-byte string item, set to "abc". */
static void set_item_of_a_huge_string(void) {
    pybuf_buffer v;
    pybuf_value in;
    memset(cell, 0x11, sizeof cell);
    memset(&v, 0, sizeof v);
    v.buf = cell;
    v.len = (pybuf_ssize_t)1 << 48;
    v.itemsize = (pybuf_ssize_t)1 << 48;
    v.format = (char *)"281474976710656s";
    memset(&in, 0, sizeof in);
    in.kind = PYBUF_VALUE_BYTES;
    in.bytes = "abc";
    in.size = 3;
    CHECK_STATUS(pybuf_set_item(&v, NULL, 0, &in), PYBUF_STATUS_OUT_OF_MEMORY);
    CHECK_MSG("cannot allocate 281474976710656 bytes for a copy of a 's' value");
    CHECK(cell_is(0x11));
}

/* The reproducer of the issue: 1 TiB of MAP_NORESERVE memory, format "1099511627776s".
   1 TiB can be reserved with overcommit_memory = 1, so it runs only under the other
   settings (the default 0 refuses a reservation larger than RAM plus swap). */
static void set_item_of_a_tebibyte_string(void) {
#if defined(__linux__) && defined(MAP_NORESERVE) && UINTPTR_MAX > 0xffffffffu
    const size_t size = (size_t)1 << 40;
    int mode = 1;
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    void *mem;
    pybuf_buffer v;
    pybuf_value in;
    if (f != NULL) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = 1;
        fclose(f);
    }
    if (mode == 1) {
        printf("set_item_of_a_tebibyte_string skipped: overcommit_memory = 1\n");
        return;
    }
    mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        printf("set_item_of_a_tebibyte_string skipped: no 1 TiB mapping\n");
        return;
    }
    memset(&v, 0, sizeof v);
    v.buf = mem;
    v.len = (pybuf_ssize_t)size;
    v.itemsize = (pybuf_ssize_t)size;
    v.format = (char *)"1099511627776s";
    memset(&in, 0, sizeof in);
    in.kind = PYBUF_VALUE_BYTES;
    in.bytes = "abc";
    in.size = 3;
    CHECK_STATUS(pybuf_set_item(&v, NULL, 0, &in), PYBUF_STATUS_OUT_OF_MEMORY);
    CHECK_MSG("cannot allocate 1099511627776 bytes");
    CHECK_EQ(((unsigned char *)mem)[0], 0);
    munmap(mem, size);
#endif
}

/* pybuf_copy of overlapping views of 2^48 bytes: suboffsets (all negative) send the copy
   through a temporary of the source. */
static void overlapping_copy(void) {
    pybuf_ssize_t shape[1] = {(pybuf_ssize_t)1 << 48}, strides[1] = {1}, subs[1] = {-1};
    pybuf_buffer v = make_view(cell, 1, 1, shape, strides, subs);
    memset(cell, 0x22, sizeof cell);
    CHECK_STATUS(pybuf_copy(&v, &v), PYBUF_STATUS_OUT_OF_MEMORY);
    CHECK_MSG("cannot allocate 281474976710656 bytes for the temporary of an overlapping copy");
    CHECK(cell_is(0x22));
}

/* pybuf_from_contiguous of 2^47 - 1 bytes into a strided view of 2^47 one-byte items:
   a partial copy, from a private copy of the source. */
static void partial_from_contiguous(void) {
    pybuf_ssize_t shape[1] = {(pybuf_ssize_t)1 << 47}, strides[1] = {2};
    pybuf_buffer v = make_view(cell, 1, 1, shape, strides, NULL);
    static const unsigned char src[16] = {0};
    memset(cell, 0x33, sizeof cell);
    CHECK_STATUS(pybuf_from_contiguous(&v, src, ((pybuf_ssize_t)1 << 47) - 1, 'C'),
                 PYBUF_STATUS_OUT_OF_MEMORY);
    CHECK_MSG("cannot allocate 140737488355327 bytes for the private copy of the source of a partial copy");
    CHECK(cell_is(0x33));
}

int main(void) {
    if (sizeof(void *) < 8) {
        printf("test_out_of_memory: skipped on a 32-bit target\n");
        return 0;
    }
    RUN(set_item_of_a_huge_string);
    RUN(set_item_of_a_tebibyte_string);
    RUN(overlapping_copy);
    RUN(partial_from_contiguous);
    return check_report();
}
