//! Copies between views and contiguous memory.

use std::ffi::{c_char, c_int, c_void};

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::copy::{self, Side};
use crate::error::{Error, Result};
use crate::layout::Order;

use super::{deref, View};

fn writable(v: &View<'_>, what: &str) -> Result<()> {
    if v.readonly {
        return Err(Error::readonly(format_args!("{what} is read-only")));
    }
    copy::check_no_broadcast(&v.geom)
}

fn side<'a>(v: &View<'a>) -> Side<'a> {
    Side { ptr: v.buf, geom: v.geom }
}

/// Copy the elements of `src` into `len` bytes of contiguous memory at `dst`, in `order`:
/// 'C' row-major, 'F' column-major, 'A' as the view lies if it is contiguous, else
/// row-major. Mirrors `PyBuffer_ToContiguous`; `len` must equal `src->len`.
///
/// Correct even when `dst` overlaps the memory of `src`. Returns 0, or a negative status
/// with `dst` untouched.
///
/// # Safety
/// `src` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated, and its memory is
/// readable for every element it describes. `dst` is NULL or writable for `len` bytes (it
/// may overlap the memory of `src`). Thread-safe; reads `src`, writes only `dst[0..len)`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_to_contiguous(
    dst: *mut c_void,
    src: *const pybuf_buffer,
    len: pybuf_ssize_t,
    order: c_char,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL src points to a pybuf_buffer by the C contract.
        let s = unsafe { deref(src, "src")? };
        let mut implied = [0; 1];
        // SAFETY: the view's arrays have ndim entries by the C contract.
        let s = unsafe { super::view(s, &mut implied)? };
        let order = Order::from_char(order as u8)?;
        if len != s.geom.len {
            return Err(Error::length(format_args!("len = {len} but src->len = {}", s.geom.len)));
        }
        if dst.is_null() && len > 0 {
            return Err(Error::null(format_args!("dst is NULL with len = {len}")));
        }
        // SAFETY: dst is writable for len bytes, and src's elements readable, by the C
        // contract.
        unsafe { copy::to_contiguous(dst as *mut u8, side(&s), order) }
    })
}

/// Copy `len` bytes of contiguous memory at `src` into the elements of `dst`, in `order`
/// ('C', 'F', or 'A' as for `pybuf_to_contiguous`). Mirrors `PyBuffer_FromContiguous`: a
/// `len` above `dst->len` is cut to it, and a shorter one fills only the first
/// `len / itemsize` elements in that order, except that when `dst` is contiguous in
/// `order` the first `len` bytes are copied, a partial element included (as CPython does).
///
/// Unlike CPython it refuses a read-only `dst` and a `dst` with a zero stride (aliased
/// elements), and handles NULL strides with order 'F' and overlapping memory correctly.
/// Returns 0, or a negative status with `dst` untouched.
///
/// # Safety
/// `dst` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated, and its memory is
/// writable for every element it describes. `src` is NULL or readable for `len` bytes (it
/// may overlap the memory of `dst`). Thread-safe for distinct destinations.
#[no_mangle]
pub unsafe extern "C" fn pybuf_from_contiguous(
    dst: *const pybuf_buffer,
    src: *const c_void,
    len: pybuf_ssize_t,
    order: c_char,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL dst points to a pybuf_buffer by the C contract.
        let d = unsafe { deref(dst, "dst")? };
        let mut implied = [0; 1];
        // SAFETY: the view's arrays have ndim entries by the C contract.
        let d = unsafe { super::view(d, &mut implied)? };
        let order = Order::from_char(order as u8)?;
        if len < 0 {
            return Err(Error::argument(format_args!("len = {len} is negative")));
        }
        if src.is_null() && len > 0 && d.geom.len > 0 {
            return Err(Error::null(format_args!("src is NULL with len = {len}")));
        }
        writable(&d, "dst")?;
        // SAFETY: src is readable for len bytes, and dst's elements writable, by the C
        // contract.
        unsafe { copy::from_contiguous(side(&d), src as *const u8, len as usize, order) }
    })
}

/// Copy every element of `src` into the element of `dst` with the same index, as
/// memoryview slice assignment and `np.copyto` do. Shapes and itemsizes must be equal
/// (formats are not compared). Correct when the two views overlap in memory: the result is
/// as if `src` were read whole before `dst` is written.
///
/// Returns 0, or a negative status with `dst` untouched: NULL or malformed views, a
/// read-only `dst`, a `dst` with a zero stride, different shapes or itemsizes.
///
/// # Safety
/// `dst` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated, and its memory is
/// writable for every element it describes. `src` is NULL or points to a valid view: its
/// `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated, and its memory is readable for every element it describes.
/// Thread-safe for distinct destinations.
#[no_mangle]
pub unsafe extern "C" fn pybuf_copy(dst: *const pybuf_buffer, src: *const pybuf_buffer) -> c_int {
    super::status(|| {
        // SAFETY: non-NULL views point to pybuf_buffers by the C contract.
        let (d, s) = unsafe { (deref(dst, "dst")?, deref(src, "src")?) };
        let (mut i1, mut i2) = ([0; 1], [0; 1]);
        // SAFETY: the views' arrays have ndim entries by the C contract.
        let (d, s) = unsafe { (super::view(d, &mut i1)?, super::view(s, &mut i2)?) };
        copy::check_same_structure(&d.geom, &s.geom)?;
        writable(&d, "dst")?;
        // SAFETY: the elements of both views are valid by the C contract.
        unsafe { copy::copy(side(&d), side(&s)) }
    })
}
