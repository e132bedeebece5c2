//! `pybuf_buffer`: contiguity, element pointers, strides, filling and releasing views.

use std::ffi::{c_char, c_int, c_void};

use crate::abi::{pybuf_buffer, pybuf_ssize_t, PYBUF_FORMAT, PYBUF_ND, PYBUF_READ, PYBUF_STRIDES, PYBUF_WRITABLE};
use crate::error::Error;
use crate::layout::{self, Order, MAX_NDIM};

use super::{deref, slice};

/// Whether `view` is contiguous in `order`: 'C' (row-major), 'F' (column-major) or 'A'
/// (either). Mirrors `PyBuffer_IsContiguous`: a view with suboffsets is never contiguous,
/// NULL strides mean C-contiguous, and an empty view is contiguous in every order.
///
/// Returns 1 or 0. It returns 0 for any other order, and 0 with an error recorded
/// (see `pybuf_last_error`) when `view` is NULL or malformed, where CPython may crash.
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; its memory is not
/// read. Thread-safe; reads `view` only.
#[no_mangle]
pub unsafe extern "C" fn pybuf_is_contiguous(view: *const pybuf_buffer, order: c_char) -> c_int {
    super::value(0, || {
        // SAFETY: a non-NULL view points to a pybuf_buffer by the C contract.
        let v = unsafe { deref(view, "view")? };
        let mut implied = [0; 1];
        // SAFETY: the view's arrays have ndim entries by the C contract.
        let v = unsafe { super::view(v, &mut implied)? };
        Ok(match Order::from_char(order as u8) {
            Ok(order) => c_int::from(v.geom.is_contiguous(order)),
            Err(_) => 0,
        })
    })
}

/// The address of the element at `indices` (`ndim` entries; may be NULL when ndim is 0).
/// Mirrors `PyBuffer_GetPointer`, suboffsets included: at a dimension with a non-negative
/// suboffset, the pointer stored there is followed and the suboffset added. NULL strides
/// mean C-contiguous.
///
/// Returns NULL with an error recorded when an argument is NULL, the view is malformed, or
/// an index is outside `0..shape[i]` (CPython does not check).
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; with suboffsets,
/// the pointers stored in its memory are valid.
/// `indices` is NULL or holds `view->ndim` entries. Thread-safe; reads `view` and, with
/// suboffsets, the pointers stored in its memory.
#[no_mangle]
pub unsafe extern "C" fn pybuf_get_pointer(
    view: *const pybuf_buffer,
    indices: *const pybuf_ssize_t,
) -> *mut c_void {
    super::value(std::ptr::null_mut(), || {
        // SAFETY: a non-NULL view points to a pybuf_buffer by the C contract.
        let raw = unsafe { deref(view, "view")? };
        let mut implied = [0; 1];
        // SAFETY: the view's arrays have ndim entries by the C contract.
        let v = unsafe { super::view(raw, &mut implied)? };
        if raw.ndim == 0 {
            // A 0-d view is its one item at buf, whatever len says (numpy's answer to
            // PYBUF_SIMPLE is 0-d with len bytes, even 0).
            return Ok(v.buf as *mut c_void);
        }
        // SAFETY: indices has ndim entries by the C contract.
        let indices = unsafe { slice(indices, v.geom.ndim(), "indices")? };
        v.geom.check_indices(indices)?;
        // SAFETY: the indices are in range, and suboffsets mean stored pointers (PEP 3118).
        let p = unsafe { crate::copy::element_ptr(v.buf, &v.geom, indices) };
        Ok(p as *mut c_void)
    })
}

/// Write into `strides` (`ndim` entries) the strides of a contiguous array of `shape`
/// and `itemsize` in `order`: 'C' or 'A' for row-major (as CPython treats 'A'), 'F' for
/// column-major. Mirrors `PyBuffer_FillContiguousStrides`.
///
/// Returns 0, or a negative status with `strides` untouched: NULL pointers (allowed only
/// when ndim is 0), ndim outside 0..=64, a negative shape entry, itemsize <= 0, another
/// order, or overflow.
///
/// # Safety
/// `shape` is NULL or holds `ndim` readable entries; `strides` is NULL or holds `ndim`
/// writable entries; the two do not overlap. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_fill_contiguous_strides(
    ndim: c_int,
    shape: *const pybuf_ssize_t,
    strides: *mut pybuf_ssize_t,
    itemsize: pybuf_ssize_t,
    order: c_char,
) -> c_int {
    super::status(|| {
        let n = super::ndim(ndim)?;
        // SAFETY: shape has ndim entries by the C contract.
        let shape = unsafe { slice(shape, n, "shape")? };
        let order = Order::from_char(order as u8)?;
        if n > 0 && strides.is_null() {
            return Err(Error::null("strides is NULL"));
        }
        let mut out = [0; MAX_NDIM];
        layout::contiguous_strides(shape, itemsize, order, &mut out[..n])?;
        if n > 0 {
            // SAFETY: strides is non-NULL with ndim writable entries by the C contract, and
            // `out` is a distinct stack array.
            unsafe { std::ptr::copy_nonoverlapping(out.as_ptr(), strides, n) };
        }
        Ok(())
    })
}

/// Fill `view` as a one-dimensional array of `len` unsigned bytes at `buf`, honouring the
/// request `flags`. Mirrors `PyBuffer_FillInfo`: with PYBUF_WRITABLE on read-only memory
/// it fails; `format` is "B" with PYBUF_FORMAT, else NULL; `shape` points to `view->len`
/// with PYBUF_ND; `strides` points to `view->itemsize` with PYBUF_STRIDES.
///
/// `obj` is stored in `view->obj` untouched; it belongs to the caller (pass NULL, or
/// `self` from a Cython `__getbuffer__`). Release the view with `pybuf_release`.
///
/// Returns 0, or a negative status with `view` untouched: `view` NULL, `buf` NULL with
/// `len` > 0, `len` < 0, `readonly` not 0 or 1, flag bits that are no PYBUF_* request,
/// or `flags` equal to PYBUF_READ (refused by CPython too).
///
/// # Safety
/// `view` is NULL or points to writable memory for a `pybuf_buffer`; `buf`, when `len` > 0,
/// addresses `len` bytes (writable unless `readonly` is 1) that stay valid until the view
/// is released. The view's `shape` and `strides` point into the struct itself: do not move
/// or copy it while it is used. Thread-safe for distinct views.
#[no_mangle]
pub unsafe extern "C" fn pybuf_fill_info(
    view: *mut pybuf_buffer,
    obj: *mut c_void,
    buf: *mut c_void,
    len: pybuf_ssize_t,
    readonly: c_int,
    flags: c_int,
) -> c_int {
    super::status(|| {
        if view.is_null() {
            return Err(Error::null("view is NULL"));
        }
        crate::abi::check_flags(flags)?;
        if flags == PYBUF_READ {
            // CPython refuses PyBUF_READ and PyBUF_WRITE here (PyErr_BadInternalCall).
            return Err(Error::argument("flags = PYBUF_READ is a memoryview flag, not a buffer request"));
        }
        if len < 0 {
            return Err(Error::argument(format_args!("len = {len} is negative")));
        }
        if buf.is_null() && len > 0 {
            return Err(Error::null(format_args!("buf is NULL with len = {len}")));
        }
        if readonly != 0 && readonly != 1 {
            return Err(Error::argument(format_args!("readonly = {readonly} is not 0 or 1")));
        }
        if flags & PYBUF_WRITABLE != 0 && readonly == 1 {
            return Err(Error::readonly("PYBUF_WRITABLE requested but the memory is read-only"));
        }
        let has = |f: c_int| flags & f == f;
        // SAFETY: non-NULL and writable by the C contract; the shape and strides pointers
        // point into the view itself, as CPython's do.
        unsafe {
            view.write(pybuf_buffer {
                buf,
                obj,
                len,
                itemsize: 1,
                readonly,
                ndim: 1,
                format: if has(PYBUF_FORMAT) { c"B".as_ptr() as *mut c_char } else { std::ptr::null_mut() },
                shape: if has(PYBUF_ND) { &raw mut (*view).len } else { std::ptr::null_mut() },
                strides: if has(PYBUF_STRIDES) { &raw mut (*view).itemsize } else { std::ptr::null_mut() },
                suboffsets: std::ptr::null_mut(),
                internal: crate::export::block::filled_marker(),
            });
        }
        Ok(())
    })
}

/// Release a view that pybuf filled, giving back what it holds. `view->obj` is left to
/// the caller. Releasing a view twice, or releasing NULL, does nothing.
///
/// A view that pybuf did not fill (one from CPython or numpy, or a zeroed struct), or a
/// copy of a view pybuf filled (at another address), is left untouched and
/// `PYBUF_STATUS_FOREIGN_VIEW` is recorded (see `pybuf_last_status`).
///
/// # Safety
/// `view` is NULL or points to a `pybuf_buffer` (of any origin: foreign views are left
/// alone); no other thread uses it during the call, and no pointer into it is used
/// afterwards. Thread-safe for distinct views.
#[no_mangle]
pub unsafe extern "C" fn pybuf_release(view: *mut pybuf_buffer) {
    super::status(|| {
        // SAFETY: a non-NULL view points to a pybuf_buffer by the C contract.
        let Some(v) = (unsafe { view.as_mut() }) else { return Ok(()) };
        crate::export::block::release(v)
    });
}
