// pybuf.h from C++11: it compiles cleanly (-Wall -Wextra -Werror), can be included twice,
// declares its functions extern "C" (this links), and its constants are usable in
// constant expressions.
#include "pybuf.h"
#include "pybuf.h"

#include <cstdio>
#include <cstring>
#include <type_traits>

static_assert(PYBUF_STATUS_OK == 0, "PYBUF_STATUS_OK");
static_assert(PYBUF_STATUS_INTERNAL == -19, "PYBUF_STATUS_INTERNAL");
static_assert(PYBUF_FULL_RO == (0x100 | 0x10 | 0x08 | 0x04), "PYBUF_FULL_RO");
static_assert(PYBUF_MAX_NDIM == 64, "PYBUF_MAX_NDIM");
static_assert(std::is_signed<pybuf_ssize_t>::value, "pybuf_ssize_t is signed");
static_assert(std::is_standard_layout<pybuf_buffer>::value, "pybuf_buffer is standard layout");
static_assert(sizeof(pybuf_buffer) == 2 * sizeof(void *) + 2 * sizeof(pybuf_ssize_t) +
                                          2 * sizeof(int) + 5 * sizeof(void *),
              "pybuf_buffer has no padding on this target");

static int failures = 0;

#define EXPECT(expr)                                                                       \
    do {                                                                                   \
        if (!(expr)) {                                                                     \
            std::fprintf(stderr, "%s:%d: EXPECT(%s) failed\n", __FILE__, __LINE__, #expr); \
            failures = 1;                                                                  \
        }                                                                                  \
    } while (0)

int main() {
    unsigned char data[6] = {1, 2, 3, 4, 5, 6};
    unsigned char out[6] = {0};
    pybuf_buffer view;
    pybuf_ssize_t index[1] = {4};

    EXPECT(std::strcmp(pybuf_status_name(PYBUF_STATUS_READ_ONLY), "PYBUF_STATUS_READ_ONLY") == 0);
    EXPECT(pybuf_fill_info(&view, nullptr, data, 6, 0, PYBUF_FULL) == PYBUF_STATUS_OK);
    EXPECT(pybuf_last_status() == PYBUF_STATUS_OK);
    EXPECT(pybuf_is_contiguous(&view, 'C') == 1);
    EXPECT(pybuf_get_pointer(&view, index) == &data[4]);
    EXPECT(pybuf_to_contiguous(out, &view, 6, 'C') == 0);
    EXPECT(std::memcmp(out, data, 6) == 0);
    pybuf_release(&view);
    EXPECT(pybuf_last_status() == PYBUF_STATUS_OK);
    EXPECT(pybuf_size_from_format("<hi") == 6);
    EXPECT(pybuf_fill_info(nullptr, nullptr, data, 6, 0, PYBUF_SIMPLE) ==
           PYBUF_STATUS_NULL_POINTER);
    EXPECT(pybuf_last_error()[0] != '\0');
    std::printf("test_header_cxx.cpp: %s\n", failures ? "FAILED" : "ok");
    return failures;
}
