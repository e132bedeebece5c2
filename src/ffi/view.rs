//! Views as memoryview offers them, for any `pybuf_buffer`: derived views (slice, index,
//! sub-view, transpose, permute, cast, broadcast), element values, iteration, equality
//! and validation.
//!
//! # Derived views
//!
//! Every derivation reads a source view and fills a new one, `dst`, without copying
//! memory. `dst` is written only on success, and never read (release it first if it
//! held a view); it must not be `src` itself. The derived view:
//!
//! - owns its `shape`, `strides` (always non-NULL when ndim > 0), `suboffsets` (non-NULL
//!   when the source had them and ndim > 0) and a copy of its `format` (NULL when the
//!   source's is), kept in a block in `internal`; a 0-d result has NULL arrays;
//! - has `obj` NULL (it belongs to the caller; pybuf takes no reference to anything);
//! - is released with `pybuf_release` (this same struct, not a copy), in any order with
//!   respect to its source and to other views derived from either;
//! - may be derived again, to any depth.
//!
//! The memory must stay valid while the derived view is used. When the source is a view
//! of a built-in exporter (`pybuf_exporter_get_buffer`), or a view derived from one, the
//! derived view holds an export of that exporter: it counts in `pybuf_exporter_exports`
//! (so `pybuf_exporter_replace` is refused) and keeps the memory alive until it is
//! released, even after the source view is released. For any other source (a view from
//! CPython or numpy, from a custom exporter, from `pybuf_fill_info` or
//! `pybuf_fill_view`) pybuf holds nothing: the caller keeps the source (and so the
//! memory) alive as long as the derived view is used.
//!
//! Thread-safety: a derivation reads `src` and writes `dst`; any number of threads may
//! derive from one source at once, and release their views in any order.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::error::{Error, Result, Status};
use crate::export::block::{self, Block, Hold};
use crate::format::Format;
use crate::layout::{Order, MAX_NDIM};
use crate::view::equal::{self, Outcome};
use crate::view::item::{self, Slot};
use crate::view::validate::{self, Level};
use crate::view::value::Value;
use crate::view::walk::Walk;
use crate::view::{ExportRef, Layout, Owned};

use super::{deref, slice, View};

/// The "None" of a slice bound or step (`PTRDIFF_MIN`): `pybuf_slice(dst, src, 0,
/// PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -1)` is `[::-1]`. (An explicit start or stop of
/// `PTRDIFF_MIN` would otherwise mean the same as any value below `-shape[dim]`, except
/// as the start of a slice with a negative step.)
pub const PYBUF_SLICE_NONE: pybuf_ssize_t = PTRDIFF_MIN;

/// C's `PTRDIFF_MIN` (stdint.h), which the header names rather than spelling out a
/// width-specific number.
const PTRDIFF_MIN: pybuf_ssize_t = pybuf_ssize_t::MIN;

/// `pybuf_value.kind`: a signed integer in `i` (codes `b h i l q n`).
pub const PYBUF_VALUE_INT: c_int = 1;
/// `pybuf_value.kind`: an unsigned integer in `u` (codes `B H I L Q N`; `u`, `w` as
/// code units; `P`, `O`, `&`, `X{}` as addresses).
pub const PYBUF_VALUE_UINT: c_int = 2;
/// `pybuf_value.kind`: a double in `real` (codes `e f d`, and `g` rounded to a double).
pub const PYBUF_VALUE_DOUBLE: c_int = 3;
/// `pybuf_value.kind`: a complex number in `real` and `imag` (codes `Zf Zd`, and `Zg`
/// rounded).
pub const PYBUF_VALUE_COMPLEX: c_int = 4;
/// `pybuf_value.kind`: a truth value, 0 or 1, in `b` (code `?`).
pub const PYBUF_VALUE_BOOL: c_int = 5;
/// `pybuf_value.kind`: `size` bytes at `bytes` (codes `c s p`).
pub const PYBUF_VALUE_BYTES: c_int = 6;

/// `pybuf_validate` level: the geometry (see `pybuf_validate`).
pub const PYBUF_VALIDATE_LAYOUT: c_int = 1;
/// `pybuf_validate` level: the geometry and the format.
pub const PYBUF_VALIDATE_FORMAT: c_int = 2;
/// `pybuf_validate` level: the geometry, the format, and every byte reached.
pub const PYBUF_VALIDATE_MEMORY: c_int = 3;

/// One value of one element, tagged by `kind` (a `PYBUF_VALUE_*` constant); only the
/// member(s) that `kind` names are meaningful.
///
/// - `i`: PYBUF_VALUE_INT; `u`: PYBUF_VALUE_UINT; `b`: PYBUF_VALUE_BOOL (0 or 1);
/// - `real`: PYBUF_VALUE_DOUBLE, and with `imag` PYBUF_VALUE_COMPLEX;
/// - `bytes`, `size`: PYBUF_VALUE_BYTES. From `pybuf_get_item` they point into the
///   view's memory (valid as long as it is); for `pybuf_set_item` they are the caller's
///   and are only read (`(NULL, 0)` is empty).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pybuf_value {
    pub kind: c_int,
    pub b: c_int,
    pub i: i64,
    pub u: u64,
    pub real: f64,
    pub imag: f64,
    pub bytes: *const c_void,
    pub size: pybuf_ssize_t,
}

impl pybuf_value {
    fn zeroed(kind: c_int) -> pybuf_value {
        pybuf_value { kind, b: 0, i: 0, u: 0, real: 0.0, imag: 0.0, bytes: std::ptr::null(), size: 0 }
    }

    fn from_value(v: &Value<'_>) -> pybuf_value {
        match *v {
            Value::Int(i) => pybuf_value { i, ..Self::zeroed(PYBUF_VALUE_INT) },
            Value::UInt(u) => pybuf_value { u, ..Self::zeroed(PYBUF_VALUE_UINT) },
            Value::Bool(b) => pybuf_value { b: c_int::from(b), ..Self::zeroed(PYBUF_VALUE_BOOL) },
            Value::Float(real) => pybuf_value { real, ..Self::zeroed(PYBUF_VALUE_DOUBLE) },
            Value::LongDouble(r) => pybuf_value { real: r.to_f64(), ..Self::zeroed(PYBUF_VALUE_DOUBLE) },
            Value::Complex(real, imag) => pybuf_value { real, imag, ..Self::zeroed(PYBUF_VALUE_COMPLEX) },
            Value::ComplexLongDouble(re, im) => {
                pybuf_value { real: re.to_f64(), imag: im.to_f64(), ..Self::zeroed(PYBUF_VALUE_COMPLEX) }
            }
            Value::Bytes(s) => pybuf_value {
                bytes: s.as_ptr().cast(),
                size: s.len() as pybuf_ssize_t,
                ..Self::zeroed(PYBUF_VALUE_BYTES)
            },
        }
    }

    /// # Safety
    /// For PYBUF_VALUE_BYTES, a non-NULL `bytes` is readable for `size` bytes.
    unsafe fn to_value<'a>(self) -> Result<Value<'a>> {
        Ok(match self.kind {
            PYBUF_VALUE_INT => Value::Int(self.i),
            PYBUF_VALUE_UINT => Value::UInt(self.u),
            PYBUF_VALUE_DOUBLE => Value::Float(self.real),
            PYBUF_VALUE_COMPLEX => Value::Complex(self.real, self.imag),
            PYBUF_VALUE_BOOL => match self.b {
                0 | 1 => Value::Bool(self.b == 1),
                b => return Err(Error::argument(format_args!("value->b = {b} is not 0 or 1"))),
            },
            PYBUF_VALUE_BYTES => {
                if self.size < 0 {
                    return Err(Error::argument(format_args!("value->size = {} is negative", self.size)));
                }
                // SAFETY: forwarded from the caller.
                Value::Bytes(unsafe { slice(self.bytes.cast::<u8>(), self.size as usize, "value->bytes")? })
            }
            k => {
                return Err(Error::argument(format_args!(
                    "value->kind = {k} is no PYBUF_VALUE_* constant (1 to 6)"
                )))
            }
        })
    }
}

/// An iterator over the elements of a view: opaque. Made by `pybuf_iter_new`, freed by
/// `pybuf_iter_free`.
pub struct pybuf_iter {
    walk: Walk,
}

// -------------------------------------------------------------------------------------
// Reading views

/// Whether the view has no shape and is therefore `len` unsigned bytes (PEP 3118).
fn shapeless(v: &pybuf_buffer) -> bool {
    v.shape.is_null() && v.ndim == 1
}

/// The format of a view's items: its own, or "B" when it has none or no shape.
///
/// # Safety
/// A non-NULL `v.format` is NUL-terminated.
unsafe fn item_format(v: &pybuf_buffer, view: &View<'_>) -> Result<Format> {
    let bytes = if v.format.is_null() || shapeless(v) {
        &b"B"[..]
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { CStr::from_ptr(v.format) }.to_bytes()
    };
    let f = Format::parse(bytes)
        .map_err(|e| Error::new(e.status(), format_args!("view->format: {}", e.message())))?;
    // A 0-d view without an item still has a format and an itemsize that describe one.
    item::check_fits(&f, if view.no_item { v.itemsize } else { view.geom.itemsize })?;
    Ok(f)
}

/// The address of the element at `indices` (as `pybuf_get_pointer`: `ndim` entries,
/// each in `0..shape[k]`; ignored for a 0-d view), refusing an empty 0-d view.
///
/// # Safety
/// As `pybuf_get_pointer`.
unsafe fn element(raw: &pybuf_buffer, v: &View<'_>, indices: *const pybuf_ssize_t) -> Result<*mut u8> {
    if raw.ndim == 0 {
        if v.geom.len == 0 {
            return Err(Error::index("the view is empty: its one element has no bytes"));
        }
        return Ok(v.buf);
    }
    // SAFETY: indices has ndim entries by the C contract.
    let indices = unsafe { slice(indices, v.geom.ndim(), "indices")? };
    v.geom.check_indices(indices)?;
    // SAFETY: the indices are in range, and suboffsets mean stored pointers (PEP 3118).
    Ok(unsafe { crate::copy::element_ptr(v.buf, &v.geom, indices) })
}

/// A derivation in progress: the layout and the format it will have.
struct Derived {
    layout: Layout,
    format: Option<CString>,
}

/// Read `src`, apply `op`, and fill `dst` with the result (the rules under "Derived views" at the top of this file).
///
/// # Safety
/// `src` is NULL or a valid view (arrays of ndim entries, a NUL-terminated format);
/// `dst` is NULL or writable.
unsafe fn derive(
    dst: *mut pybuf_buffer,
    src: *const pybuf_buffer,
    op: impl FnOnce(&mut Derived) -> Result<()>,
) -> Result<()> {
    // SAFETY: forwarded from the caller.
    let s = unsafe { deref(src, "src")? };
    if dst.is_null() {
        return Err(Error::null("dst is NULL"));
    }
    if std::ptr::eq(dst, src) {
        return Err(Error::argument("dst and src are the same view: derive into another pybuf_buffer"));
    }
    if block::is_released(s.internal) {
        return Err(Error::argument("src has been released (pybuf_release): its arrays may be gone"));
    }
    let mut implied = [0; 1];
    // SAFETY: forwarded from the caller.
    let v = unsafe { super::view(s, &mut implied)? };
    let format = if s.format.is_null() || shapeless(s) {
        None
    } else {
        // SAFETY: a non-NULL format is NUL-terminated by the C contract.
        Some(unsafe { CStr::from_ptr(s.format) }.to_owned())
    };
    // A 0-d view without an item (issue 12, defect 8) is derived as a 0-d view of one byte:
    // what refuses a 0-d view refuses it, and a 0-d result is this view again. A result
    // with dimensions (a broadcast or a cast) would need the item it does not have.
    let layout = if v.no_item {
        let one = crate::layout::Geometry { len: 1, itemsize: 1, shape: &[], strides: None, suboffsets: None };
        Layout::new(v.buf, &one, v.readonly)
    } else {
        Layout::new(v.buf, &v.geom, v.readonly)
    };
    let mut d = Derived { layout, format };
    let source_format = d.format.clone();
    op(&mut d)?;
    if v.no_item {
        if d.layout.ndim() != 0 || d.format != source_format {
            return Err(Error::length(format_args!(
                "src is a 0-d view with len = 0 (no shape, itemsize {}): it holds no item, so it cannot be broadcast or cast",
                s.itemsize
            )));
        }
        d.layout.itemsize = s.itemsize;
    }
    let l = &d.layout;
    let geom = l.geometry();
    if !v.no_item {
        geom.validate()?;
    }
    let ndim = l.ndim();
    let (export, shared) = block::with_block(s.internal, |b| match &b.hold {
        Hold::Exporter(e) => (Some(ExportRef::new(e)), None),
        Hold::Derived(o) => (o.export.as_ref().map(ExportRef::again), o.shared.clone()),
        Hold::Shared(a) => (None, Some(a.clone())),
        _ => (None, None),
    })
    .unwrap_or((None, None));
    let mut owned = Owned {
        shape: l.shape.clone(),
        strides: l.strides.clone(),
        suboffsets: l.suboffsets.clone(),
        format: d.format.map(CString::into_bytes_with_nul),
        export,
        shared,
    };
    let array = |a: &mut Vec<isize>| if ndim == 0 { std::ptr::null_mut() } else { a.as_mut_ptr() };
    let filled = pybuf_buffer {
        buf: l.buf.cast(),
        obj: std::ptr::null_mut(),
        len: if v.no_item { 0 } else { geom.len },
        itemsize: l.itemsize,
        readonly: c_int::from(l.readonly),
        ndim: ndim as c_int,
        format: owned.format.as_mut().map_or(std::ptr::null_mut(), |f| f.as_mut_ptr().cast()),
        shape: array(&mut owned.shape),
        strides: array(&mut owned.strides),
        suboffsets: owned.suboffsets.as_mut().map_or(std::ptr::null_mut(), array),
        internal: std::ptr::null_mut(),
    };
    // The arrays and the format are heap data of `Vec`s, which neither moves nor is
    // reborrowed when `owned` moves into the block.
    let internal = block::register(Block::new(Hold::Derived(owned)), dst);
    // SAFETY: dst is non-NULL and writable by the C contract, and distinct from src.
    unsafe { dst.write(pybuf_buffer { internal, ..filled }) };
    Ok(())
}

fn bound(b: pybuf_ssize_t) -> Option<isize> {
    (b != PYBUF_SLICE_NONE).then_some(b)
}

// -------------------------------------------------------------------------------------
// Derived views

/// Fill `dst` with `src` sliced in dimension `dim` (0-based, below `src->ndim`) by
/// `start:stop:step`, each `PYBUF_SLICE_NONE` for Python's `None`. Python's rules
/// (`slice.indices`): a missing step is 1, negative bounds count from the end, bounds are
/// clamped to the dimension, a negative step walks backwards. So `(1, PYBUF_SLICE_NONE,
/// 2)` is `[1::2]` and `(PYBUF_SLICE_NONE, PYBUF_SLICE_NONE, -1)` is `[::-1]`.
///
/// Every dimension can be sliced (memoryview slices only 1-D views). With suboffsets,
/// `buf` or the suboffset of the dimension's pointer group moves, as CPython moves it
/// for PIL-style arrays. Ownership: see "Derived views" in the Views group.
///
/// Returns 0, or a negative status with `dst` untouched: NULL_POINTER, a malformed
/// `src` (as `pybuf_is_contiguous` reports it), INVALID_ARGUMENT (`dim` out of range, a
/// step of 0, `dst == src`, a released `src`), OVERFLOW.
///
/// # Safety
/// `dst` is NULL or points to writable memory for a `pybuf_buffer` (any content: it is
/// overwritten, not released) that is not `src`; `src` is NULL or points to a valid view:
/// its `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated. The memory of `src` stays valid while `dst` is used (see the
/// Views group for who keeps it alive). Thread-safe for distinct `dst`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_slice(
    dst: *mut pybuf_buffer,
    src: *const pybuf_buffer,
    dim: c_int,
    start: pybuf_ssize_t,
    stop: pybuf_ssize_t,
    step: pybuf_ssize_t,
) -> c_int {
    super::status(|| {
        // SAFETY: valid or NULL views by the C contract.
        unsafe {
            derive(dst, src, |d| d.layout.slice(dim as isize, bound(start), bound(stop), bound(step)))
        }
    })
}

/// Fill `dst` with the elements of `src` whose index in dimension `dim` is `index`
/// (negative counts from the end, as in Python), without that dimension: ndim - 1
/// dimensions (a 0-d view from a 1-d one).
///
/// With suboffsets: indexing a dimension that has a suboffset moves it to the dimension
/// before; indexing dimension 0 of a view with `suboffsets[0] >= 0` reads the pointer
/// stored there (as `_testbuffer` does), so the memory must hold it; an empty view reads
/// nothing and keeps its `buf` (no element is ever addressed through it). Indexing dimension
/// `d` when both `d` and `d - 1` have suboffsets is refused (BUFFER_REQUEST): the two
/// pointer reads cannot be merged. The result keeps a suboffsets array (all negative,
/// perhaps) when the source had one. Ownership: see "Derived views" in the Views group.
///
/// Returns 0, or a negative status with `dst` untouched: NULL_POINTER, a malformed
/// `src`, INVALID_ARGUMENT (`dim` out of range, `dst == src`), INDEX_OUT_OF_RANGE,
/// BUFFER_REQUEST, OVERFLOW.
///
/// # Safety
/// `dst` is NULL or points to writable memory for a `pybuf_buffer` (any content: it is
/// overwritten, not released) that is not `src`; `src` is NULL or points to a valid view:
/// its `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated. The memory of `src` stays valid while `dst` is used (see the
/// Views group for who keeps it alive). Thread-safe for distinct `dst`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_index(
    dst: *mut pybuf_buffer,
    src: *const pybuf_buffer,
    dim: c_int,
    index: pybuf_ssize_t,
) -> c_int {
    super::status(|| {
        // SAFETY: valid or NULL views by the C contract; a valid view's memory holds the
        // pointers its suboffsets announce.
        unsafe { derive(dst, src, |d| d.layout.index(dim as isize, index)) }
    })
}

/// Fill `dst` with the block of `src` that starts at index `start[k]` and has
/// `shape[k]` elements in every dimension `k` (`src->ndim` entries each; NULL only when
/// ndim is 0): `src[start[0]:start[0]+shape[0], ...]`, but nothing is clamped: every
/// block must lie within `src`.
///
/// Returns 0, or a negative status with `dst` untouched: NULL_POINTER, a malformed
/// `src`, INVALID_SHAPE (a negative `shape[k]`), INDEX_OUT_OF_RANGE (a block outside
/// `src`), INVALID_ARGUMENT, OVERFLOW. Ownership: see "Derived views" in the Views group.
///
/// # Safety
/// `dst` is NULL or points to writable memory for a `pybuf_buffer` (any content: it is
/// overwritten, not released) that is not `src`; `src` is NULL or points to a valid view:
/// its `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated. The memory of `src` stays valid while `dst` is used (see the
/// Views group for who keeps it alive). `start` and `shape` are NULL or hold `src->ndim`
/// entries. Thread-safe for distinct `dst`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_subview(
    dst: *mut pybuf_buffer,
    src: *const pybuf_buffer,
    start: *const pybuf_ssize_t,
    shape: *const pybuf_ssize_t,
) -> c_int {
    super::status(|| {
        // SAFETY: valid or NULL views, and arrays of ndim entries, by the C contract.
        unsafe {
            derive(dst, src, |d| {
                let n = d.layout.ndim();
                let (start, shape) = (slice(start, n, "start")?, slice(shape, n, "shape")?);
                d.layout.subview(start, shape)
            })
        }
    })
}

/// Fill `dst` with `src`, its axes reversed (numpy's `.T`): shape and strides reversed.
/// A view with suboffsets is transposed only when no dimension moves across a pointer
/// read (see `pybuf_permute`). Ownership: see "Derived views" in the Views group.
///
/// Returns 0, or a negative status with `dst` untouched: NULL_POINTER, a malformed
/// `src`, BUFFER_REQUEST (suboffsets), INVALID_ARGUMENT.
///
/// # Safety
/// `dst` is NULL or points to writable memory for a `pybuf_buffer` (any content: it is
/// overwritten, not released) that is not `src`; `src` is NULL or points to a valid view:
/// its `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated. The memory of `src` stays valid while `dst` is used (see the
/// Views group for who keeps it alive). Thread-safe for distinct `dst`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_transpose(dst: *mut pybuf_buffer, src: *const pybuf_buffer) -> c_int {
    super::status(|| {
        // SAFETY: valid or NULL views by the C contract.
        unsafe { derive(dst, src, |d| d.layout.transpose()) }
    })
}

/// Fill `dst` with `src`, its axes in the order `axes` (`src->ndim` entries, a
/// permutation of 0 .. ndim - 1; NULL only when ndim is 0): dimension `k` of `dst` is
/// dimension `axes[k]` of `src`, as numpy's `transpose(axes)`.
///
/// With suboffsets, the dimensions up to each one that has a suboffset form a group, and
/// only permutations within groups are possible: a pointer read cannot move (CPython
/// cannot permute such views at all). Ownership: see "Derived views" in the Views group.
///
/// Returns 0, or a negative status with `dst` untouched: NULL_POINTER, a malformed
/// `src`, INVALID_ARGUMENT (an axis out of range or repeated, `dst == src`),
/// BUFFER_REQUEST (a dimension moved across a pointer read).
///
/// # Safety
/// `dst` is NULL or points to writable memory for a `pybuf_buffer` (any content: it is
/// overwritten, not released) that is not `src`; `src` is NULL or points to a valid view:
/// its `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated. The memory of `src` stays valid while `dst` is used (see the
/// Views group for who keeps it alive). `axes` is NULL or holds `src->ndim` entries.
/// Thread-safe for distinct `dst`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_permute(
    dst: *mut pybuf_buffer,
    src: *const pybuf_buffer,
    axes: *const c_int,
) -> c_int {
    super::status(|| {
        // SAFETY: valid or NULL views, and axes of ndim entries, by the C contract.
        unsafe {
            derive(dst, src, |d| {
                let axes = slice(axes, d.layout.ndim(), "axes")?;
                let axes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
                d.layout.permute(&axes)
            })
        }
    })
}

/// Fill `dst` with the memory of `src` read as items of `format` in `ndim` dimensions of
/// `shape`, C-contiguous (memoryview.cast). `format` NULL keeps the source's format and
/// itemsize (a reshape); `ndim` -1 means one dimension of `src->len / itemsize` items
/// (`shape` is then not read), as memoryview.cast without a shape.
///
/// memoryview's rules: `src` must be C-contiguous without suboffsets (else
/// BUFFER_REQUEST), and product(shape) * itemsize must equal `src->len` (else
/// LENGTH_MISMATCH; without a shape, `src->len` must be a multiple of the itemsize).
/// Where pybuf goes further: any number of dimensions on both sides (memoryview casts
/// only 1-D to N-D or N-D to 1-D), any format pybuf parses (memoryview takes only native
/// single-character formats), a cast between two non-byte formats (memoryview needs 'B',
/// 'b' or 'c' on one side), empty views and zeros in `shape` (memoryview refuses them).
/// The format string is copied as given ("@d" stays "@d"). Ownership: see "Derived
/// views" in the Views group.
///
/// Returns 0, or a negative status with `dst` untouched: NULL_POINTER, a malformed
/// `src`, BUFFER_REQUEST, LENGTH_MISMATCH, INVALID_NDIM (`ndim` outside -1..=64),
/// INVALID_SHAPE (a negative entry), the parse statuses of `format` (INVALID_FORMAT,
/// UNSUPPORTED_FORMAT), INVALID_ITEMSIZE (a format of size 0), OVERFLOW.
///
/// # Safety
/// `dst` is NULL or points to writable memory for a `pybuf_buffer` (any content: it is
/// overwritten, not released) that is not `src`; `src` is NULL or points to a valid view:
/// its `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated. The memory of `src` stays valid while `dst` is used (see the
/// Views group for who keeps it alive). `format` is NULL or a NUL-terminated string.
/// `shape` is NULL or holds `ndim` entries. Thread-safe for distinct `dst`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_cast(
    dst: *mut pybuf_buffer,
    src: *const pybuf_buffer,
    format: *const c_char,
    ndim: c_int,
    shape: *const pybuf_ssize_t,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL format is NUL-terminated by the C contract.
        let new_format = (!format.is_null()).then(|| unsafe { CStr::from_ptr(format) });
        let itemsize = match new_format {
            None => None,
            Some(f) => Some(
                Format::parse(f.to_bytes())
                    .map_err(|e| Error::new(e.status(), format_args!("format: {}", e.message())))?
                    .itemsize(),
            ),
        };
        let shape = if ndim == -1 {
            None
        } else {
            let n = super::ndim(ndim).map_err(|_| {
                Error::ndim(format_args!("ndim = {ndim} is not -1 (one dimension) or in 0..={MAX_NDIM}"))
            })?;
            // SAFETY: shape has ndim entries by the C contract.
            Some(unsafe { slice(shape, n, "shape")? })
        };
        // SAFETY: valid or NULL views by the C contract.
        unsafe {
            derive(dst, src, |d| {
                d.layout = d.layout.cast(itemsize.unwrap_or(d.layout.itemsize), shape)?;
                if let Some(f) = new_format {
                    d.format = Some(f.to_owned());
                }
                Ok(())
            })
        }
    })
}

/// Fill `dst` with `src` where dimension `dim`, of length 1, has length `length` and
/// stride 0: every index in it reads the same element (a dimension that already has
/// `length` keeps its stride). `dst` is read-only, as numpy's `broadcast_to` makes it: a
/// write would change several elements. Ownership: see "Derived views" in the Views group.
///
/// Returns 0, or a negative status with `dst` untouched: NULL_POINTER, a malformed
/// `src`, INVALID_ARGUMENT (`dim`), INVALID_SHAPE (a negative `length`), SHAPE_MISMATCH
/// (a dimension of another length than 1 or `length`).
///
/// # Safety
/// `dst` is NULL or points to writable memory for a `pybuf_buffer` (any content: it is
/// overwritten, not released) that is not `src`; `src` is NULL or points to a valid view:
/// its `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated. The memory of `src` stays valid while `dst` is used (see the
/// Views group for who keeps it alive). Thread-safe for distinct `dst`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_broadcast(
    dst: *mut pybuf_buffer,
    src: *const pybuf_buffer,
    dim: c_int,
    length: pybuf_ssize_t,
) -> c_int {
    super::status(|| {
        // SAFETY: valid or NULL views by the C contract.
        unsafe { derive(dst, src, |d| d.layout.broadcast(dim as isize, length)) }
    })
}

/// Fill `dst` with `src` broadcast to `ndim` dimensions of `shape`, as numpy's
/// `broadcast_to`: the dimensions are matched from the last, each must equal the target
/// or be 1 (its stride becomes 0), and new leading dimensions get stride 0. `dst` is
/// read-only. Ownership: see "Derived views" in the Views group.
///
/// Returns 0, or a negative status with `dst` untouched: NULL_POINTER, a malformed
/// `src`, INVALID_NDIM (`ndim` outside 0..=64), INVALID_SHAPE (a negative entry),
/// SHAPE_MISMATCH (fewer dimensions than `src`, or a length that cannot be broadcast).
///
/// # Safety
/// `dst` is NULL or points to writable memory for a `pybuf_buffer` (any content: it is
/// overwritten, not released) that is not `src`; `src` is NULL or points to a valid view:
/// its `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated. The memory of `src` stays valid while `dst` is used (see the
/// Views group for who keeps it alive). `shape` is NULL or holds `ndim` entries.
/// Thread-safe for distinct `dst`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_broadcast_to(
    dst: *mut pybuf_buffer,
    src: *const pybuf_buffer,
    ndim: c_int,
    shape: *const pybuf_ssize_t,
) -> c_int {
    super::status(|| {
        let n = super::ndim(ndim)?;
        // SAFETY: shape has ndim entries by the C contract.
        let shape = unsafe { slice(shape, n, "shape")? };
        // SAFETY: valid or NULL views by the C contract.
        unsafe { derive(dst, src, |d| d.layout.broadcast_to(shape)) }
    })
}

// -------------------------------------------------------------------------------------
// Element values

/// The number of values in one item of `view`, as `struct.unpack` counts them: padding
/// skipped, a string (`s`, `p`) one value, every `c` of a count one, arrays and nested
/// structs flattened (`"T{b:a:xxx>i:b:d:c:}"` has 3, `"(2,2)d"` 4). A NULL format, or a
/// view without a shape, is "B" (1).
///
/// Returns -1 with an error recorded for NULL, a malformed view or format, or a format
/// whose values reach beyond the view's itemsize (INVALID_ITEMSIZE).
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; its memory is not
/// read. Thread-safe; reads `view` only.
#[no_mangle]
pub unsafe extern "C" fn pybuf_item_fields(view: *const pybuf_buffer) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a non-NULL view is valid by the C contract.
        let raw = unsafe { deref(view, "view")? };
        let mut implied = [0; 1];
        // SAFETY: as above.
        let v = unsafe { super::view(raw, &mut implied)? };
        // SAFETY: as above.
        let f = unsafe { item_format(raw, &v)? };
        Ok(item::count(&f))
    })
}

/// The value `field` of the element at `indices` (as `pybuf_get_pointer`: `ndim`
/// entries, each in `0..shape[k]`, NULL for a 0-d view), converted from the format's
/// byte order, in `*out`.
///
/// `field` numbers the values of the item as `struct.unpack` returns them (see
/// `pybuf_item_fields`): 0 for a single-value format; for `"T{b:a:xxx>i:b:d:c:}"`
/// field 2 is the big-endian double `c`. The kind is the format's: INT for `b h i l q
/// n`, UINT for `B H I L Q N u w P O & X{}`, DOUBLE for `e f d g` (`g` rounded to the
/// nearest double), COMPLEX for `Zf Zd Zg`, BOOL for `?` (any non-zero byte is 1), BYTES
/// for `c s p` (pointing into the view's memory; `p` gives the bytes its length byte
/// announces).
///
/// Returns 0, or a negative status with `*out` untouched: NULL_POINTER, a malformed
/// view, INDEX_OUT_OF_RANGE (an index, or `field`), the format's parse statuses,
/// INVALID_ITEMSIZE (the value lies beyond the view's itemsize).
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated, and its memory is
/// readable for every element it describes. `indices` is NULL or holds `view->ndim`
/// entries. `out` is NULL or points to a writable `pybuf_value`. A string value in it
/// points into the view's memory. Thread-safe; reads `view` and its memory.
#[no_mangle]
pub unsafe extern "C" fn pybuf_get_item(
    view: *const pybuf_buffer,
    indices: *const pybuf_ssize_t,
    field: pybuf_ssize_t,
    out: *mut pybuf_value,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view is valid by the C contract.
        let raw = unsafe { deref(view, "view")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let mut implied = [0; 1];
        // SAFETY: as above; indices has ndim entries.
        let (v, p) = unsafe {
            let v = super::view(raw, &mut implied)?;
            let p = element(raw, &v, indices)?;
            (v, p)
        };
        // SAFETY: as above.
        let f = unsafe { item_format(raw, &v)? };
        let slot: Slot = item::slot(&f, v.geom.itemsize, field)?;
        // SAFETY: the value lies within the element, which the view's memory holds; out
        // is non-NULL and writable.
        unsafe { out.write(pybuf_value::from_value(&slot.read(p))) };
        Ok(())
    })
}

/// Store `*value` as the value `field` of the element at `indices` (see
/// `pybuf_get_item`), in the format's byte order, with `struct.pack`'s rules: integer
/// codes take INT, UINT or BOOL values in their range (else VALUE_OUT_OF_RANGE) and
/// refuse doubles (TYPE_MISMATCH); `e f d g` take numbers but not complex ones, and
/// refuse a finite double too large for `e` or `f` (VALUE_OUT_OF_RANGE); `Zf Zd Zg`
/// take any number; `?` stores the truth value of anything; `c` takes exactly one byte,
/// `s` is truncated or padded with zero bytes, `p` stores its length byte; `O` (object
/// references) is never written. The other values of the element are untouched, and
/// `value->bytes` may point into the view's memory.
///
/// Returns 0, or a negative status with the memory untouched: the errors of
/// `pybuf_get_item`, READ_ONLY, TYPE_MISMATCH, VALUE_OUT_OF_RANGE, INVALID_ARGUMENT (a
/// `kind` that is no PYBUF_VALUE_*, a BOOL other than 0 or 1, a negative `size`).
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated, and its memory is
/// writable for every element it describes. `indices` is NULL or holds `view->ndim`
/// entries. `value` is NULL or points to a valid `pybuf_value` (a string one addressing its
/// `len` bytes). Thread-safe for distinct elements.
#[no_mangle]
pub unsafe extern "C" fn pybuf_set_item(
    view: *const pybuf_buffer,
    indices: *const pybuf_ssize_t,
    field: pybuf_ssize_t,
    value: *const pybuf_value,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view and value are valid by the C contract.
        let (raw, value) = unsafe { (deref(view, "view")?, deref(value, "value")?) };
        let mut implied = [0; 1];
        // SAFETY: as above; indices has ndim entries.
        let (v, p) = unsafe {
            let v = super::view(raw, &mut implied)?;
            let p = element(raw, &v, indices)?;
            (v, p)
        };
        if v.readonly {
            return Err(Error::readonly("the view is read-only"));
        }
        // SAFETY: as above.
        let f = unsafe { item_format(raw, &v)? };
        let slot = item::slot(&f, v.geom.itemsize, field)?;
        // SAFETY: BYTES point to `size` readable bytes by the C contract; the slot lies
        // within the writable element.
        unsafe { slot.write(p, &value.to_value()?) }
    })
}

// -------------------------------------------------------------------------------------
// Iteration

/// Start iterating over every element of `view` in `order`: 'C' (the last index fastest),
/// 'F' (the first fastest) or 'A' (F for a view that is F- but not C-contiguous, else C,
/// as `pybuf_to_contiguous`). The iterator copies the view's geometry, so the view
/// struct may change or be released afterwards; the memory must stay valid while the
/// iterator is used.
///
/// On success stores a new iterator in `*out` (free it with `pybuf_iter_free`) and
/// returns 0; otherwise a negative status with `*out` untouched: NULL_POINTER, a
/// malformed view, INVALID_ARGUMENT (order).
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; its memory is not
/// read. Its memory stays valid while the iterator is used. `out` is NULL or points to a
/// writable `pybuf_iter *`. Thread-safe; reads `view` only.
#[no_mangle]
pub unsafe extern "C" fn pybuf_iter_new(view: *const pybuf_buffer, order: c_char, out: *mut *mut pybuf_iter) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view is valid by the C contract.
        let raw = unsafe { deref(view, "view")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let order = Order::from_char(order as u8)?;
        let mut implied = [0; 1];
        // SAFETY: as above.
        let v = unsafe { super::view(raw, &mut implied)? };
        let walk = Walk::new(Layout::new(v.buf, &v.geom, v.readonly), order);
        let it = Box::into_raw(Box::new(pybuf_iter { walk }));
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { out.write(it) };
        Ok(())
    })
}

/// Step `it` to the next element: store its address in `*element` and its index in
/// `indices` (`ndim` entries), each unless NULL, and return 1; return 0 after the last
/// element (nothing stored; later calls keep returning 0). A 0-d view has one element;
/// an empty view none. Returns NULL_POINTER when `it` is NULL.
///
/// With suboffsets, the pointers stored in the memory are followed as
/// `pybuf_get_pointer` follows them. Not thread-safe with respect to `it`.
///
/// # Safety
/// `it` is NULL or a live iterator from `pybuf_iter_new`, used by one thread at a time,
/// whose view's memory is still valid. `element` is NULL or writable; `indices` is NULL or
/// holds the view's `ndim` writable entries.
#[no_mangle]
pub unsafe extern "C" fn pybuf_iter_next(
    it: *mut pybuf_iter,
    element: *mut *mut c_void,
    indices: *mut pybuf_ssize_t,
) -> c_int {
    let mut more = 0;
    let rc = super::status(|| {
        // SAFETY: a non-NULL iterator is live and used by this thread only (C contract).
        let it = unsafe { it.as_mut() }.ok_or_else(|| Error::null("it is NULL"))?;
        // SAFETY: the memory of the view is alive by the C contract.
        let Some(p) = (unsafe { it.walk.next() }) else { return Ok(()) };
        more = 1;
        if !element.is_null() {
            // SAFETY: non-NULL and writable by the C contract.
            unsafe { element.write(p.cast()) };
        }
        let index = it.walk.index();
        if !indices.is_null() && !index.is_empty() {
            // SAFETY: indices has ndim writable entries by the C contract.
            unsafe { std::ptr::copy_nonoverlapping(index.as_ptr(), indices, index.len()) };
        }
        Ok(())
    });
    if rc != 0 {
        rc
    } else {
        more
    }
}

/// Free an iterator made by `pybuf_iter_new`. `pybuf_iter_free(NULL)` does nothing.
///
/// # Safety
/// `it` is NULL or a live iterator from `pybuf_iter_new`, freed once and not used
/// afterwards. Not thread-safe with respect to `it`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_iter_free(it: *mut pybuf_iter) {
    super::status(|| {
        if !it.is_null() {
            // SAFETY: a live iterator from `Box::into_raw`, freed once by the C contract.
            drop(unsafe { Box::from_raw(it) });
        }
        Ok(())
    });
}

// -------------------------------------------------------------------------------------
// Equality

/// Whether `a` and `b` are equal as memoryview's `==` decides it, for every format:
/// the shapes first (the same ndim, and equal lengths up to the first zero), then the
/// values of every pair of elements with the same index, each side read with its own
/// format, compared as Python compares the values `struct.unpack` gives. So a NaN equals
/// nothing (a view holding one is not equal to itself), `"<i"` equals `">i"` and `"b"`
/// equals `"d"` when they hold the same numbers, and items with different numbers of
/// values are never equal. memoryview gives up on formats the struct module does not
/// know (`T{...}`, `Zd`, `g`, ...); pybuf compares them all (`O` values as addresses).
///
/// Returns 1 (last status OK); 0 when they differ, with last status SHAPE_MISMATCH (the
/// shapes) or VALUE_MISMATCH (a value: `pybuf_last_error()` names the element, the field
/// and both values); or a negative status: NULL_POINTER, a malformed view, a format's
/// parse status, INVALID_ITEMSIZE (a format whose values reach beyond its itemsize).
///
/// # Safety
/// `a` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are NULL
/// or hold `ndim` entries, its `format` is NULL or NUL-terminated, and its memory is
/// readable for every element it describes. `b` is NULL or points to a valid view: its
/// `shape`, `strides` and `suboffsets` are NULL or hold `ndim` entries, its `format` is
/// NULL or NUL-terminated, and its memory is readable for every element it describes.
/// Thread-safe; reads both views and their memory.
#[no_mangle]
pub unsafe extern "C" fn pybuf_equal(a: *const pybuf_buffer, b: *const pybuf_buffer) -> c_int {
    let rc = super::status(|| {
        // SAFETY: non-NULL views are valid by the C contract.
        let (ra, rb) = unsafe { (deref(a, "a")?, deref(b, "b")?) };
        let (mut ia, mut ib) = ([0; 1], [0; 1]);
        // SAFETY: as above.
        let (va, vb) = unsafe { (super::view(ra, &mut ia)?, super::view(rb, &mut ib)?) };
        // SAFETY: as above.
        let (fa, fb) = unsafe { (item_format(ra, &va)?, item_format(rb, &vb)?) };
        let side = |v: &View<'_>, f| equal::Side { layout: Layout::new(v.buf, &v.geom, v.readonly), format: f };
        let (sa, sb) = (side(&va, &fa), side(&vb, &fb));
        // SAFETY: every element of a valid view is readable, and check_fits placed every
        // value within its item.
        match unsafe { equal::equal(&sa, &sb) } {
            Outcome::Equal => Ok(()),
            Outcome::Shape(m) => Err(Error::new(Status::ShapeMismatch, m)),
            Outcome::Value(m) => Err(Error::new(Status::ValueMismatch, m)),
        }
    });
    match rc {
        0 => 1,
        rc if rc == Status::ShapeMismatch as c_int || rc == Status::ValueMismatch as c_int => 0,
        rc => rc,
    }
}

// -------------------------------------------------------------------------------------
// Validation

/// Check a view that came from elsewhere before trusting it, at `level`. At
/// PYBUF_VALIDATE_LAYOUT it accepts exactly the views that every other pybuf function
/// accepts, and refuses the others with the status they would return (one function
/// decides it for all):
///
/// - PYBUF_VALIDATE_LAYOUT: ndim in 0..=64; shape non-NULL (except the NULL-shape views
///   of PYBUF_SIMPLE requests, see `pybuf_buffer`) with no negative entry; itemsize > 0;
///   len equal to product(shape) * itemsize; no offset computation (strides times
///   shape, plus suboffsets) that overflows; readonly 0 or 1; buf non-NULL when len > 0;
///   suboffsets only together with strides.
/// - PYBUF_VALIDATE_FORMAT: also, a non-NULL format parses and has the view's itemsize
///   (a NULL format, the answer to a request without PYBUF_FORMAT, is not checked; nor
///   is the itemsize of a view without a shape, which is bytes).
/// - PYBUF_VALIDATE_MEMORY: also, every byte the view reaches lies inside `[base, base +
///   size)`. With suboffsets every pointer is checked to lie inside before it is read,
///   and the memory it leads to must lie inside too. `base` and `size` are read only at
///   this level.
///
/// Returns 0, or the first failure's status with a message naming the value: NULL_POINTER,
/// INVALID_ARGUMENT (level, a negative `size`), INVALID_NDIM, INVALID_SHAPE,
/// INVALID_ITEMSIZE, INVALID_STRIDES, INVALID_SUBOFFSETS, LENGTH_MISMATCH (len, or bytes
/// outside the memory), OVERFLOW, the format's parse statuses.
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated. At
/// PYBUF_VALIDATE_MEMORY, `base` addresses `size` readable bytes (the view's memory need
/// not be valid: only stored pointers found inside that range are read). Thread-safe; reads `view` and, at the memory level, `[base, base + size)`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_validate(
    view: *const pybuf_buffer,
    level: c_int,
    base: *const c_void,
    size: pybuf_ssize_t,
) -> c_int {
    super::status(|| {
        let level = Level::from_raw(level)?;
        // SAFETY: a non-NULL view is valid by the C contract.
        let raw = unsafe { deref(view, "view")? };
        let mut implied = [0; 1];
        // SAFETY: the view's arrays have ndim entries by the C contract.
        let v = unsafe { super::view(raw, &mut implied)? };
        if level >= Level::Format && !raw.format.is_null() {
            // SAFETY: a non-NULL format is NUL-terminated by the C contract.
            let f = unsafe { CStr::from_ptr(raw.format) }.to_bytes();
            if shapeless(raw) {
                Format::parse(f)?;
            } else {
                validate::check_format(f, raw.itemsize)?;
            }
        }
        if level >= Level::Memory {
            if size < 0 {
                return Err(Error::argument(format_args!("size = {size} is negative")));
            }
            if base.is_null() && size > 0 {
                return Err(Error::null(format_args!("base is NULL with size = {size}")));
            }
            let layout = Layout::new(v.buf, &v.geom, v.readonly);
            // SAFETY: `[base, base + size)` is readable by the C contract, and `reach`
            // reads only pointers it has checked to lie inside it.
            unsafe { validate::reach(&layout, Some((base as usize, size as usize)))? };
        }
        Ok(())
    })
}

/// The bytes the elements of `view` cover, as offsets from `view->buf`: every byte lies
/// in `[buf + *lo, buf + *hi)`, and the range is the smallest such; `(0, 0)` for an empty
/// view. With suboffsets the stored pointers are followed (so the memory must hold them:
/// check a foreign view with `pybuf_validate` at PYBUF_VALIDATE_MEMORY first), and the
/// range covers the pointers read too.
///
/// Returns 0, or a negative status with `*lo` and `*hi` untouched: NULL_POINTER, a
/// malformed view, OVERFLOW (bytes farther from `buf` than a pybuf_ssize_t can say).
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; with suboffsets,
/// the pointers stored in its memory are valid. `lo` and `hi` are NULL or writable.
/// Thread-safe; reads `view` and, with suboffsets, its memory.
#[no_mangle]
pub unsafe extern "C" fn pybuf_extent(
    view: *const pybuf_buffer,
    lo: *mut pybuf_ssize_t,
    hi: *mut pybuf_ssize_t,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view is valid by the C contract.
        let raw = unsafe { deref(view, "view")? };
        if lo.is_null() || hi.is_null() {
            return Err(Error::null(if lo.is_null() { "lo is NULL" } else { "hi is NULL" }));
        }
        let mut implied = [0; 1];
        // SAFETY: as above.
        let v = unsafe { super::view(raw, &mut implied)? };
        let layout = Layout::new(v.buf, &v.geom, v.readonly);
        // SAFETY: a valid view's memory holds the pointers its suboffsets announce.
        let (l, h) = unsafe { validate::reach(&layout, None)? };
        // SAFETY: non-NULL and writable by the C contract.
        unsafe {
            lo.write(l);
            hi.write(h);
        }
        Ok(())
    })
}
