//! The `extern "C"` surface: one file per noun. Every function checks its pointers,
//! converts, calls the safe core, and maps the result to a status, inside a panic
//! boundary so that no Rust panic crosses into C.

pub mod buffer;
pub mod copy;
pub mod copy_plan;
pub mod datatype;
pub mod dlpack;
pub mod error;
pub mod exporter;
pub mod format;
pub mod interop;
pub mod io;
pub mod map;
pub mod npy;
pub mod npz;
pub mod share;
pub mod version;
pub mod view;

use std::ffi::{c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::error::{self as err, Error, Result};
use crate::layout::{Geometry, MAX_NDIM};

/// Run `f`, record its outcome for `pybuf_last_error`, and return 0 or a negative status.
/// The recording happens inside the panic boundary too; a panic becomes
/// `PYBUF_STATUS_INTERNAL`.
///
/// Inlined, with the failure paths out of line: on success this is the call of `f` and
/// one store of the thread's status (`catch_unwind` costs nothing when nothing panics).
#[inline]
pub(crate) fn status(f: impl FnOnce() -> Result<()>) -> c_int {
    match catch_unwind(AssertUnwindSafe(|| match f() {
        Ok(()) => {
            err::record_ok();
            0
        }
        Err(e) => failed(e),
    })) {
        Ok(rc) => rc,
        Err(_) => caught_panic(),
    }
}

/// Record `e` as the thread's last error; its status.
#[cold]
#[inline(never)]
fn failed(e: Error) -> c_int {
    err::record(&e)
}

/// Record a caught panic as the thread's last error; its status.
#[cold]
#[inline(never)]
fn caught_panic() -> c_int {
    err::record(&panicked())
}

/// Run `f`, record its outcome, and return its value or `on_error`.
pub(crate) fn value<T>(on_error: T, f: impl FnOnce() -> Result<T>) -> T {
    let outcome = catch_unwind(AssertUnwindSafe(|| match f() {
        Ok(v) => {
            err::record_ok();
            Some(v)
        }
        Err(e) => {
            err::record(&e);
            None
        }
    }));
    match outcome {
        Ok(Some(v)) => v,
        Ok(None) => on_error,
        Err(_) => {
            err::record(&panicked());
            on_error
        }
    }
}

fn panicked() -> Error {
    Error::internal("internal error: a Rust panic was caught at the C boundary")
}

/// A shared reference from a C pointer, or a NullPointer error naming the argument.
///
/// # Safety
/// A non-NULL `p` must point to a valid `T` for the returned lifetime.
pub(crate) unsafe fn deref<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: forwarded from the caller.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null(format_args!("{what} is NULL")))
}

/// A slice from a C pointer and a length; `(NULL, 0)` is the empty slice.
///
/// # Safety
/// A non-NULL `p` must point to `n` valid elements for the returned lifetime.
pub(crate) unsafe fn slice<'a, T>(p: *const T, n: usize, what: &str) -> Result<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::null(format_args!("{what} is NULL with {n} entries")));
    }
    // SAFETY: non-NULL, and the caller guarantees `n` valid elements.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// A C string as bytes.
///
/// # Safety
/// A non-NULL `p` must point to a NUL-terminated string.
pub(crate) unsafe fn c_str<'a>(p: *const std::ffi::c_char, what: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::null(format_args!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Check a C ndim argument.
#[inline]
pub(crate) fn ndim(n: c_int) -> Result<usize> {
    if n < 0 || n as usize > MAX_NDIM {
        return Err(bad_ndim(n));
    }
    Ok(n as usize)
}

#[cold]
#[inline(never)]
fn bad_ndim(n: c_int) -> Error {
    Error::ndim(format_args!("ndim = {n} is not in 0..={MAX_NDIM}"))
}

/// A checked view of a `pybuf_buffer`: its memory, readonly flag and geometry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a> {
    pub buf: *mut u8,
    pub readonly: bool,
    pub geom: Geometry<'a>,
    /// A 0-d view with no shape and `len` 0 (numpy's answer to a request without
    /// PyBUF_ND for an empty array): a 0-d view that holds no item. `geom` is then zero
    /// bytes (shape `[0]`, itemsize 1), which is all the byte-moving functions need; the
    /// functions that care about dimensions or items see it as 0-d (issue 12, defect 8).
    pub no_item: bool,
}

/// Read and validate a `pybuf_buffer`: the one function that decides whether a view is
/// acceptable, for every entry point (`pybuf_validate` included).
///
/// A NULL shape is allowed for ndim 0, and for ndim 1, where the view is `len` unsigned
/// bytes as PEP 3118 says (the count is put in `implied`); a 0-d view whose `len` is not
/// its itemsize (numpy's answer to PYBUF_SIMPLE) is one item of `len` bytes, and with
/// `len` 0 a 0-d view that holds no item ([`View::no_item`]). Suboffsets need strides.
///
/// # Safety
/// `v`'s non-NULL pointers point to arrays of `ndim` entries (format to a C string).
pub(crate) unsafe fn view<'a>(
    v: &'a pybuf_buffer,
    implied: &'a mut [pybuf_ssize_t; 1],
) -> Result<View<'a>> {
    let n = ndim(v.ndim)?;
    if v.itemsize <= 0 {
        return Err(nonpositive_itemsize(v.itemsize));
    }
    let (shape, itemsize, no_item): (&[isize], isize, bool) = if !v.shape.is_null() {
        // SAFETY: non-NULL shape has ndim entries by the caller's contract.
        (unsafe { slice(v.shape, n, "shape")? }, v.itemsize, false)
    } else {
        shapeless(v, n, implied)?
    };
    // SAFETY: non-NULL strides and suboffsets have ndim entries by the caller's contract.
    let strides = (!v.strides.is_null()).then(|| unsafe { std::slice::from_raw_parts(v.strides, n) });
    // SAFETY: as above.
    let suboffsets =
        (!v.suboffsets.is_null()).then(|| unsafe { std::slice::from_raw_parts(v.suboffsets, n) });
    let geom = Geometry { len: v.len, itemsize, shape, strides, suboffsets };
    geom.validate()?;
    crate::view::validate::check_suboffsets(strides.is_some(), suboffsets.is_some(), n)?;
    if v.buf.is_null() && v.len != 0 {
        return Err(null_buf(v.len));
    }
    if v.readonly != 0 && v.readonly != 1 {
        return Err(bad_readonly(v.readonly));
    }
    Ok(View { buf: v.buf as *mut u8, readonly: v.readonly == 1, geom, no_item })
}

/// The shape, itemsize and [`View::no_item`] of a view without a shape (`ndim` 0 or 1,
/// positive `itemsize`): see [`view`].
#[cold]
#[inline(never)]
fn shapeless<'a>(v: &pybuf_buffer, n: usize, implied: &'a mut [pybuf_ssize_t; 1]) -> Result<(&'a [isize], isize, bool)> {
    let itemsize = v.itemsize;
    if n == 0 {
        if v.len != itemsize && v.len >= 0 {
            // numpy answers a PYBUF_SIMPLE request with ndim 0, no shape and `len` bytes:
            // disregard itemsize (PEP 3118) and read one item of `len` bytes.
            if v.len > 0 {
                return Ok((&[], v.len, false));
            }
            implied[0] = 0;
            return Ok((&implied[..], 1, true));
        }
        return Ok((&[], itemsize, false));
    }
    if n == 1 {
        // A shapeless view (a PYBUF_SIMPLE or PYBUF_WRITABLE request) is `len` unsigned
        // bytes: PEP 3118 tells consumers to disregard itemsize then.
        if !v.strides.is_null() {
            return Err(Error::strides("strides are given without a shape"));
        }
        if v.len < 0 {
            return Err(Error::length(format_args!("shape is NULL and len = {} is negative", v.len)));
        }
        implied[0] = v.len;
        return Ok((&implied[..], 1, false));
    }
    Err(Error::shape(format_args!("shape is NULL with ndim = {n}")))
}

#[cold]
#[inline(never)]
fn nonpositive_itemsize(itemsize: isize) -> Error {
    Error::itemsize(format_args!("itemsize = {itemsize} is not positive"))
}

#[cold]
#[inline(never)]
fn null_buf(len: isize) -> Error {
    Error::null(format_args!("buf is NULL with len = {len}"))
}

#[cold]
#[inline(never)]
fn bad_readonly(readonly: std::ffi::c_int) -> Error {
    Error::argument(format_args!("readonly = {readonly} is not 0 or 1"))
}

pub(crate) fn format_of(v: &pybuf_buffer) -> Result<&[u8]> {
    if v.format.is_null() {
        return Ok(b"B");
    }
    // SAFETY: a non-NULL format is NUL-terminated by the C contract.
    unsafe { c_str(v.format, "format") }
}

/// The checked view and format of a C view.
///
/// # Safety
/// `p` is NULL or points to a valid view (see [`view`]).
pub(crate) unsafe fn checked<'a>(p: *const pybuf_buffer, implied: &'a mut [isize; 1]) -> Result<(View<'a>, &'a [u8])> {
    // SAFETY: a non-NULL view points to a pybuf_buffer by the C contract.
    let v = unsafe { deref(p, "view")? };
    // SAFETY: the view's arrays have ndim entries by the C contract.
    let checked = unsafe { view(v, implied)? };
    let format = if checked.no_item { b"B".as_slice() } else { format_of(v)? };
    Ok((checked, format))
}
