//! The library's version at run time (the header's PYBUF_VERSION_* give it at build time).

use std::ffi::c_char;

/// The version of the library as one number: MAJOR * 10000 + MINOR * 100 + PATCH, equal to
/// the header's PYBUF_VERSION_NUMBER when the header and the library match.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn pybuf_version() -> u32 {
    const fn num(s: &str) -> u32 {
        let b = s.as_bytes();
        let mut n = 0;
        let mut i = 0;
        while i < b.len() {
            n = n * 10 + (b[i] - b'0') as u32;
            i += 1;
        }
        n
    }
    const V: u32 = num(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
        + num(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + num(env!("CARGO_PKG_VERSION_PATCH"));
    V
}

/// The version of the library as a string, "MAJOR.MINOR.PATCH"; static, never NULL.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn pybuf_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
