/* The header's version macros and the library's pybuf_version() agree (the values; the
   comparison with Cargo.toml is bindings/python/tests/test_version.py). */
#include <string.h>

#include "check.h"
#include "pybuf.h"

static void macros_and_library_agree(void) {
    CHECK_EQ(PYBUF_VERSION_NUMBER, PYBUF_VERSION_MAJOR * 10000 + PYBUF_VERSION_MINOR * 100 + PYBUF_VERSION_PATCH);
    CHECK_EQ((long)pybuf_version(), (long)PYBUF_VERSION_NUMBER);
    CHECK_STR_EQ(pybuf_version_string(), PYBUF_VERSION_STRING);
}

int main(void) {
    RUN(macros_and_library_agree);
    return check_report();
}
