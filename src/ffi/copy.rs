//! Copies between views and contiguous memory.

use std::ffi::{c_char, c_int, c_void};

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::copy::{self, Rect, Side, Small};
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
        // SAFETY: the view's arrays have ndim entries by the C contract.
        if let Some(r) = unsafe { small_to_contiguous(dst, s, len, order) } {
            let (d, b) = (dst as *mut u8, s.buf as *const u8);
            if !r.overlaps(d, b) {
                // SAFETY: `dst` is writable for len bytes, the contiguous rectangle, and
                // the view's elements readable, by the C contract; the two are disjoint.
                unsafe { Small::copy(r, d, b) };
                return Ok(());
            }
        }
        // SAFETY: forwarded.
        unsafe { to_contiguous_checked(dst, s, len, order) }
    })
}

/// `pybuf_to_contiguous` after its NULL check of `src`, every argument checked (the path
/// of every call but the small ones of [`small_to_contiguous`]).
///
/// # Safety
/// As for `pybuf_to_contiguous`.
unsafe fn to_contiguous_checked(dst: *mut c_void, s: &pybuf_buffer, len: pybuf_ssize_t, order: c_char) -> Result<()> {
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
}

/// The copy `pybuf_to_contiguous(dst, v, len, order)` makes when it is a small one, read
/// straight from the view: `v` has 1 or 2 dimensions, a shape, no suboffsets, a buffer,
/// `0 < len <= SMALL_BYTES` items in all, strides whose reach fits (as
/// [`crate::layout::Geometry::validate`] requires), a readonly flag of 0 or 1, order 'C'
/// or 'F', `len == v->len` and a non-NULL `dst`: everything the full path checks, so
/// that it would accept the call and make this rectangle of it. `None` for any other
/// call, valid or not: the full path takes it, and reports its errors.
///
/// # Safety
/// `v`'s non-NULL shape and strides hold `ndim` entries.
#[inline(always)]
unsafe fn small_to_contiguous(dst: *mut c_void, v: &pybuf_buffer, len: pybuf_ssize_t, order: c_char) -> Option<Rect> {
    let small = |n: isize| (1..=copy::SMALL_BYTES).contains(&n);
    let (e, two) = (v.itemsize, v.ndim == 2);
    if !(two || v.ndim == 1)
        || v.shape.is_null()
        || !v.suboffsets.is_null()
        || v.buf.is_null()
        || dst.is_null()
        || !(v.readonly == 0 || v.readonly == 1)
        || len != v.len
        || !small(len)
        || !small(e)
    {
        return None;
    }
    let f = match order as u8 {
        b'C' => false,
        b'F' => true,
        _ => return None,
    };
    // SAFETY: shape and non-NULL strides hold ndim entries (1 or 2).
    let (n0, n1, strides) = unsafe {
        let n0 = if two { *v.shape } else { 1 };
        let n1 = *v.shape.add(two as usize);
        let strides = (!v.strides.is_null())
            .then(|| if two { (*v.strides, *v.strides.add(1)) } else { (0, *v.strides) });
        (n0, n1, strides)
    };
    // Each factor is in 1..=4096: the product fits.
    if !small(n0) || !small(n1) || e * n0 * n1 != len {
        return None;
    }
    // n0 * n1 * e fits (it is len), and so do these contiguous strides.
    let (ss0, ss1) = match strides {
        None => (if two { e * n1 } else { 0 }, e),
        Some((s0, s1)) => {
            // Geometry::validate's bound: itemsize + sum(|stride| * (n - 1)) fits.
            let span = |s: isize, n: isize| s.checked_abs().and_then(|a| a.checked_mul(n - 1));
            span(s0, n0)?.checked_add(span(s1, n1)?)?.checked_add(e)?;
            (s0, s1)
        }
    };
    let (ds0, ds1) = match (two, f) {
        (false, _) => (0, e),
        (true, false) => (e * n1, e),
        (true, true) => (e, e * n0),
    };
    Some(Rect { rows: n0 as usize, cols: n1 as usize, ds0, ds1, ss0, ss1, itemsize: e as usize })
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

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
