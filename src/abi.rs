//! The C ABI types: `pybuf_buffer` (byte for byte CPython's `Py_buffer`), `pybuf_ssize_t`
//! and the `PYBUF_*` request flags (equal to CPython's `PyBUF_*`).

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};
use std::mem::{offset_of, size_of};

/// A signed size with the width of CPython's `Py_ssize_t` (`ssize_t`/`intptr_t`).
pub type pybuf_ssize_t = isize;

/// A view of typed, strided memory: field for field CPython's `Py_buffer`.
///
/// A view filled by CPython (`PyObject_GetBuffer`) can be passed to every pybuf consumer
/// function unchanged, and a view filled by pybuf can be handed to CPython.
///
/// - `buf`: the start of the memory (of element 0, not of the allocation).
/// - `obj`: belongs to the user. pybuf never reads it, never frees it, and leaves it NULL
///   unless the caller passes an object (Cython sets it to `self`).
/// - `len`: product(shape) * itemsize, in bytes.
/// - `itemsize`: the size of one element in bytes (> 0).
/// - `readonly`: 1 if the memory must not be written, else 0.
/// - `ndim`: the number of dimensions, 0 to PYBUF_MAX_NDIM.
/// - `format`: a PEP 3118 format string; NULL means "B" (unsigned bytes).
/// - `shape`: `ndim` lengths; NULL is allowed only when ndim is 0, or 1 for the answer to
///   a PYBUF_SIMPLE request: the view is then `len` unsigned bytes, whatever `itemsize`
///   says (PEP 3118), and `strides` must be NULL too.
/// - `strides`: `ndim` byte steps; NULL means C-contiguous.
/// - `suboffsets`: NULL, or `ndim` entries where a non-negative entry means "dereference a
///   pointer here and add this offset" (PIL-style arrays).
/// - `internal`: pybuf's own bookkeeping for views that pybuf filled. Do not touch it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pybuf_buffer {
    pub buf: *mut c_void,
    pub obj: *mut c_void,
    pub len: pybuf_ssize_t,
    pub itemsize: pybuf_ssize_t,
    pub readonly: c_int,
    pub ndim: c_int,
    pub format: *mut c_char,
    pub shape: *mut pybuf_ssize_t,
    pub strides: *mut pybuf_ssize_t,
    pub suboffsets: *mut pybuf_ssize_t,
    pub internal: *mut c_void,
}

impl pybuf_buffer {
    /// An all-NULL, all-zero view.
    pub const fn zeroed() -> Self {
        pybuf_buffer {
            buf: std::ptr::null_mut(),
            obj: std::ptr::null_mut(),
            len: 0,
            itemsize: 0,
            readonly: 0,
            ndim: 0,
            format: std::ptr::null_mut(),
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            suboffsets: std::ptr::null_mut(),
            internal: std::ptr::null_mut(),
        }
    }
}

// The ABI is pinned here and, against Python.h itself, in c_tests/test_layout.c.
const _: () = {
    assert!(size_of::<pybuf_ssize_t>() == size_of::<usize>());
    #[cfg(target_pointer_width = "64")]
    assert!(size_of::<pybuf_buffer>() == 80);
    let p = size_of::<*mut c_void>();
    let s = size_of::<pybuf_ssize_t>();
    assert!(offset_of!(pybuf_buffer, buf) == 0);
    assert!(offset_of!(pybuf_buffer, obj) == p);
    assert!(offset_of!(pybuf_buffer, len) == 2 * p);
    assert!(offset_of!(pybuf_buffer, itemsize) == 2 * p + s);
    assert!(offset_of!(pybuf_buffer, readonly) == 2 * p + 2 * s);
    assert!(offset_of!(pybuf_buffer, ndim) == 2 * p + 2 * s + 4);
    assert!(offset_of!(pybuf_buffer, format) == 2 * p + 2 * s + 8);
    assert!(offset_of!(pybuf_buffer, shape) == 3 * p + 2 * s + 8);
    assert!(offset_of!(pybuf_buffer, strides) == 4 * p + 2 * s + 8);
    assert!(offset_of!(pybuf_buffer, suboffsets) == 5 * p + 2 * s + 8);
    assert!(offset_of!(pybuf_buffer, internal) == 6 * p + 2 * s + 8);
};

/// The largest ndim a view may have (CPython's `PyBUF_MAX_NDIM`).
pub const PYBUF_MAX_NDIM: c_int = 64;

/// Request flags, equal to CPython's `PyBUF_*`.
pub const PYBUF_SIMPLE: c_int = 0;
pub const PYBUF_WRITABLE: c_int = 0x0001;
pub const PYBUF_FORMAT: c_int = 0x0004;
pub const PYBUF_ND: c_int = 0x0008;
pub const PYBUF_STRIDES: c_int = 0x0010 | PYBUF_ND;
pub const PYBUF_C_CONTIGUOUS: c_int = 0x0020 | PYBUF_STRIDES;
pub const PYBUF_F_CONTIGUOUS: c_int = 0x0040 | PYBUF_STRIDES;
pub const PYBUF_ANY_CONTIGUOUS: c_int = 0x0080 | PYBUF_STRIDES;
pub const PYBUF_INDIRECT: c_int = 0x0100 | PYBUF_STRIDES;
pub const PYBUF_CONTIG: c_int = PYBUF_ND | PYBUF_WRITABLE;
pub const PYBUF_CONTIG_RO: c_int = PYBUF_ND;
pub const PYBUF_STRIDED: c_int = PYBUF_STRIDES | PYBUF_WRITABLE;
pub const PYBUF_STRIDED_RO: c_int = PYBUF_STRIDES;
pub const PYBUF_RECORDS: c_int = PYBUF_STRIDES | PYBUF_WRITABLE | PYBUF_FORMAT;
pub const PYBUF_RECORDS_RO: c_int = PYBUF_STRIDES | PYBUF_FORMAT;
pub const PYBUF_FULL: c_int = PYBUF_INDIRECT | PYBUF_WRITABLE | PYBUF_FORMAT;
pub const PYBUF_FULL_RO: c_int = PYBUF_INDIRECT | PYBUF_FORMAT;
pub const PYBUF_READ: c_int = 0x100;
pub const PYBUF_WRITE: c_int = 0x200;

/// Every bit a buffer request may carry.
const PYBUF_REQUEST_BITS: c_int = PYBUF_WRITABLE
    | PYBUF_FORMAT
    | PYBUF_ND
    | PYBUF_STRIDES
    | PYBUF_C_CONTIGUOUS
    | PYBUF_F_CONTIGUOUS
    | PYBUF_ANY_CONTIGUOUS
    | PYBUF_INDIRECT;

/// Reject flag bits that are not part of any PYBUF_* request.
pub(crate) fn check_flags(flags: c_int) -> crate::error::Result<()> {
    let unknown = flags & !PYBUF_REQUEST_BITS;
    if unknown != 0 {
        return Err(crate::error::Error::argument(format_args!(
            "flags = {flags:#x} has bits {unknown:#x} that are no PYBUF_* request"
        )));
    }
    Ok(())
}
