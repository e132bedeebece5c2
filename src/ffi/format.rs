//! Format strings.

use std::ffi::c_char;

use crate::abi::pybuf_ssize_t;
use crate::format;

use super::c_str;

/// The size in bytes of one item of `format`, a PEP 3118 format string. Mirrors
/// `PyBuffer_SizeFromFormat`: it equals `struct.calcsize(format)` for every format the
/// struct module accepts.
///
/// Returns -1 with an error recorded when `format` is NULL, malformed, or has no size.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_size_from_format(format: *const c_char) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a non-NULL format is NUL-terminated by the C contract.
        let f = unsafe { c_str(format, "format")? };
        format::size_from_format(f)
    })
}
