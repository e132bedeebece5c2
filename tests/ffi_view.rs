//! The `extern "C"` functions of `src/ffi/view.rs`, called from Rust as a C caller calls
//! them, so that Miri checks them (it cannot run `c_tests/`):
//!
//! - derived views: `pybuf_slice`, `pybuf_index`, `pybuf_subview`, `pybuf_transpose`,
//!   `pybuf_permute`, `pybuf_cast`, `pybuf_broadcast`, `pybuf_broadcast_to`, with and
//!   without suboffsets, what they own and hold, and release in any order;
//! - element values: `pybuf_item_fields`, `pybuf_get_item`, `pybuf_set_item`;
//! - iteration: `pybuf_iter_new`, `pybuf_iter_next`, `pybuf_iter_free`;
//! - equality (`pybuf_equal`) and validation (`pybuf_validate`, `pybuf_extent`).
//!
//! It mirrors `c_tests/test_view.c`, `c_tests/test_view_values.c` and the view rows of
//! `c_tests/test_bad_inputs.c`. Expected addresses and values are computed here, from the
//! memory's layout (`Array::item`, index arithmetic, byte decoding), never by another
//! pybuf call. Every refusal is checked for its status, a message, and outputs (or
//! memory) left untouched.
#![warn(clippy::undocumented_unsafe_blocks)]

mod common;
use common::*;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};

use pybuf::abi::{pybuf_buffer, pybuf_ssize_t, PYBUF_FULL, PYBUF_FULL_RO};
use pybuf::error::Status;
use pybuf::ffi::buffer::{pybuf_fill_info, pybuf_release};
use pybuf::ffi::exporter::{
    pybuf_exporter, pybuf_exporter_desc, pybuf_exporter_exports, pybuf_exporter_free, pybuf_exporter_get_buffer,
    pybuf_exporter_new, pybuf_exporter_replace,
};
use pybuf::ffi::view::*;

const NONE: pybuf_ssize_t = PYBUF_SLICE_NONE;
const PTR: isize = std::mem::size_of::<*const u8>() as isize;

// -------------------------------------------------------------------------------------
// Reading views as a C caller does

/// The `ndim` entries of one of a view's arrays; empty for a 0-d view.
fn entries(p: *const pybuf_ssize_t, ndim: c_int) -> Vec<pybuf_ssize_t> {
    if ndim == 0 {
        return Vec::new();
    }
    assert!(!p.is_null(), "a NULL array in a view of ndim {ndim}");
    // SAFETY: every view of these tests has arrays of ndim entries where they are non-NULL.
    unsafe { std::slice::from_raw_parts(p, ndim as usize) }.to_vec()
}

fn shape(v: &pybuf_buffer) -> Vec<pybuf_ssize_t> {
    entries(v.shape, v.ndim)
}

fn strides(v: &pybuf_buffer) -> Vec<pybuf_ssize_t> {
    entries(v.strides, v.ndim)
}

fn suboffsets(v: &pybuf_buffer) -> Option<Vec<pybuf_ssize_t>> {
    (!v.suboffsets.is_null()).then(|| entries(v.suboffsets, v.ndim))
}

fn format(v: &pybuf_buffer) -> Option<String> {
    // SAFETY: a non-NULL format is NUL-terminated (ours, or a derived view's copy).
    (!v.format.is_null()).then(|| unsafe { CStr::from_ptr(v.format) }.to_str().unwrap().to_owned())
}

/// The address of the element at `index`, as PEP 3118 defines it: in each dimension add
/// index times stride, then, where the suboffset is non-negative, read the pointer stored
/// there and add the suboffset.
fn at(v: &pybuf_buffer, index: &[pybuf_ssize_t]) -> *const u8 {
    let (st, subs) = (strides(v), suboffsets(v));
    assert_eq!(index.len(), st.len());
    let mut p = v.buf as *const u8;
    for k in 0..index.len() {
        p = p.wrapping_offset(index[k] * st[k]);
        if let Some(s) = subs.as_ref().filter(|s| s[k] >= 0) {
            // SAFETY: the views with suboffsets here store a pointer at every slot an
            // index in range reaches.
            p = unsafe { p.cast::<*const u8>().read_unaligned() }.wrapping_offset(s[k]);
        }
    }
    p
}

/// Check the geometry of a derived view: `shape`, `strides`, `len` from them, and the
/// fields a derived view always has (`obj` NULL, arrays present).
#[track_caller]
fn check_geometry(v: &pybuf_buffer, shape_: &[pybuf_ssize_t], strides_: &[pybuf_ssize_t]) {
    assert_eq!(shape(v), shape_, "shape");
    assert_eq!(strides(v), strides_, "strides");
    assert_eq!(v.len, shape_.iter().product::<isize>() * v.itemsize, "len");
    assert!(v.obj.is_null(), "obj belongs to the caller and stays NULL");
    assert!(!v.internal.is_null(), "a derived view holds its block in internal");
}

/// Release a view pybuf filled, and check that the release succeeded.
#[track_caller]
fn release(v: &mut pybuf_buffer) {
    // SAFETY: `v` is a view pybuf filled, at the address it was filled at.
    unsafe { pybuf_release(v) };
    expect_ok();
}

/// Derive into a poisoned `dst` with `call`, and check that it fails with `status`, sets a
/// message, and leaves `dst` as it was.
#[track_caller]
fn refused(status: Status, call: impl FnOnce(*mut pybuf_buffer) -> c_int) {
    let mut dst = poisoned();
    let returned = call(&mut dst);
    expect_status(returned, status);
    assert!(same_bytes(&dst, &poisoned()), "dst was written by a refused derivation");
}

/// A `pybuf_value` of `kind`, every other member zero.
fn value(kind: c_int) -> pybuf_value {
    pybuf_value { kind, b: 0, i: 0, u: 0, real: 0.0, imag: 0.0, bytes: null(), size: 0 }
}

static POISON_BYTE: u8 = 0x5A;

/// An output value with a recognisable pattern in every member.
fn poisoned_value() -> pybuf_value {
    pybuf_value {
        kind: 0x5A5A,
        b: 0x5A5A,
        i: 0x5A5A_5A5A,
        u: 0x5A5A_5A5A,
        real: f64::from_bits(0x5A5A_5A5A_5A5A_5A5A),
        imag: f64::from_bits(0x5A5A_5A5A_5A5A_5A5A),
        bytes: (&POISON_BYTE as *const u8).cast(),
        size: 0x5A5A,
    }
}

fn same_value(a: &pybuf_value, b: &pybuf_value) -> bool {
    (a.kind, a.b, a.i, a.u, a.real.to_bits(), a.imag.to_bits(), a.bytes, a.size)
        == (b.kind, b.b, b.i, b.u, b.real.to_bits(), b.imag.to_bits(), b.bytes, b.size)
}

/// The value `field` of the element at `indices`, which must be read successfully.
#[track_caller]
fn get(v: &pybuf_buffer, indices: &[pybuf_ssize_t], field: pybuf_ssize_t) -> pybuf_value {
    let mut out = poisoned_value();
    let ix = if indices.is_empty() { null() } else { indices.as_ptr() };
    // SAFETY: `v` is a valid view whose memory is alive; `ix` has ndim entries (NULL for 0-d).
    let rc = unsafe { pybuf_get_item(v, ix, field, &mut out) };
    expect_status(rc, Status::Ok);
    out
}

/// The offset in `a.data` of the element at `index`: index arithmetic on `a`'s strides.
fn byte_offset(a: &Array, index: &[pybuf_ssize_t]) -> usize {
    (a.offset as isize + index.iter().zip(&a.strides).map(|(i, s)| i * s).sum::<isize>()) as usize
}

/// The 3x4 matrix of doubles of the C tests (C-contiguous, strides 32 and 8).
fn matrix() -> Array {
    Array::c(&[3, 4], 8, Some("d"))
}

// -------------------------------------------------------------------------------------
// pybuf_slice

#[test]
fn slice_reverses_steps_and_clamps_as_python() {
    let mut a = matrix();
    let src = a.view();
    let (mut d, mut e) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    // [::-1, 1::2]
    // SAFETY: `src` views `a`, which outlives every view derived here; `d` and `e` are
    // distinct, writable views.
    unsafe {
        expect_status(pybuf_slice(&mut d, &src, 0, NONE, NONE, -1), Status::Ok);
        expect_status(pybuf_slice(&mut e, &d, 1, 1, NONE, 2), Status::Ok);
    }
    check_geometry(&e, &[3, 2], &[-32, 16]);
    assert_eq!(format(&e).as_deref(), Some("d"));
    assert_ne!(e.format, src.format, "the format is a copy the view owns");
    assert!(e.suboffsets.is_null());
    assert_eq!((e.itemsize, e.readonly), (8, 0));
    for i in 0..3 {
        for j in 0..2 {
            assert_eq!(at(&e, &[i, j]), a.item(&[2 - i, 1 + 2 * j]).as_ptr(), "[{i}, {j}]");
        }
    }
    release(&mut e);

    // Python's clamping: [-100:100:3] in dim 1 is [0, 3]; [10::-2] in dim 0 is [2, 0].
    // SAFETY: as above.
    unsafe { expect_status(pybuf_slice(&mut e, &src, 1, -100, 100, 3), Status::Ok) };
    check_geometry(&e, &[3, 2], &[32, 24]);
    assert_eq!(at(&e, &[1, 1]), a.item(&[1, 3]).as_ptr());
    release(&mut e);
    // SAFETY: as above.
    unsafe { expect_status(pybuf_slice(&mut e, &src, 0, 10, NONE, -2), Status::Ok) };
    check_geometry(&e, &[2, 4], &[-64, 8]);
    assert_eq!(at(&e, &[1, 2]), a.item(&[0, 2]).as_ptr());
    release(&mut e);

    // An empty slice moves buf by stride * start, as CPython does.
    // SAFETY: as above.
    unsafe { expect_status(pybuf_slice(&mut e, &src, 1, 3, 1, NONE), Status::Ok) };
    check_geometry(&e, &[3, 0], &[32, 8]);
    assert_eq!(e.buf as *const u8, a.item(&[0, 3]).as_ptr());
    release(&mut e);
    release(&mut d);
    // Released twice: a no-op.
    release(&mut d);
}

#[test]
fn slice_of_a_view_without_strides_or_format() {
    // NULL strides mean C-contiguous; the derived view has its own strides, and a NULL
    // format stays NULL.
    let mut a = Array::c(&[2, 3], 2, None);
    let mut src = a.view();
    src.strides = null_mut();
    let mut d = pybuf_buffer::zeroed();
    // SAFETY: `src` views `a` (NULL strides are allowed); `d` is writable.
    unsafe { expect_status(pybuf_slice(&mut d, &src, 1, NONE, NONE, -1), Status::Ok) };
    check_geometry(&d, &[2, 3], &[6, -2]);
    assert!(d.format.is_null());
    assert_eq!(at(&d, &[1, 0]), a.item(&[1, 2]).as_ptr());
    release(&mut d);
}

/// Python's `slice(start, stop, step).indices(n)` (`NONE` for None) and the number of
/// indices it selects, as CPython's `PySlice_GetIndicesEx` computes them.
fn python_slice(n: isize, start: isize, stop: isize, step: isize) -> (isize, isize, isize) {
    let step = if step == NONE { 1 } else { step };
    let (lower, upper) = if step < 0 { (-1, n - 1) } else { (0, n) };
    let adjust = |b: isize, default: isize| {
        if b == NONE {
            default
        } else if b < 0 {
            (b + n).max(lower)
        } else {
            b.min(upper)
        }
    };
    let start = adjust(start, if step < 0 { upper } else { lower });
    let stop = adjust(stop, if step < 0 { lower } else { upper });
    let len = if step > 0 && start < stop {
        (stop - start - 1) / step + 1
    } else if step < 0 && stop < start {
        (start - stop - 1) / -step + 1
    } else {
        0
    };
    (start, step, len)
}

#[test]
fn slice_matches_python_on_random_slices() {
    let mut rng = Rng::new(1);
    let bound = |rng: &mut Rng| if rng.below(4) == 0 { NONE } else { rng.below(13) as isize - 6 };
    for case in 0..cases(300) {
        let dims = [rng.below(5) as isize, rng.below(5) as isize];
        let mut a = Array::c(&dims, 4, Some("i"));
        let src = a.view();
        let dim = rng.below(2);
        let (start, stop) = (bound(&mut rng), bound(&mut rng));
        let step = match rng.below(7) {
            0 => NONE,
            k => [-3, -2, -1, 1, 2, 3][k - 1],
        };
        let mut d = pybuf_buffer::zeroed();
        // SAFETY: `src` views `a`, alive; `d` is writable.
        let rc = unsafe { pybuf_slice(&mut d, &src, dim as c_int, start, stop, step) };
        expect_status(rc, Status::Ok);
        let (first, step, len) = python_slice(dims[dim], start, stop, step);
        let (mut want_shape, mut want_strides) = (dims.to_vec(), a.strides.clone());
        want_shape[dim] = len;
        want_strides[dim] *= step;
        let context = format!("case {case}: shape {dims:?}, dim {dim}, [{start}:{stop}:{step}]");
        assert_eq!(shape(&d), want_shape, "{context}");
        assert_eq!(strides(&d), want_strides, "{context}");
        let moved = a.data.as_ptr().wrapping_offset(first * a.strides[dim]);
        assert_eq!(d.buf as *const u8, moved, "{context}: buf moves by stride * start");
        for ix in indices(&want_shape) {
            let mut from = ix.clone();
            from[dim] = first + ix[dim] * step;
            assert_eq!(at(&d, &ix), a.item(&from).as_ptr(), "{context}: element {ix:?}");
        }
        release(&mut d);
    }
}

#[test]
fn slice_refusals() {
    let mut a = matrix();
    let mut src = a.view();
    let two = [2isize];
    let huge = [isize::MAX / 2 + 1];
    let mut wide = pybuf_buffer {
        buf: src.buf,
        len: 2,
        itemsize: 1,
        ndim: 1,
        shape: two.as_ptr() as *mut _,
        strides: huge.as_ptr() as *mut _,
        ..pybuf_buffer::zeroed()
    };
    let wide_ptr: *mut pybuf_buffer = &mut wide;
    let src_ptr: *mut pybuf_buffer = &mut src;
    // SAFETY: every view passed is valid (its arrays alive with ndim entries) or NULL on
    // purpose; `src_ptr` points to `src`, alive.
    unsafe {
        refused(Status::NullPointer, |d| pybuf_slice(d, null(), 0, 0, 1, 1));
        expect_status(pybuf_slice(null_mut(), &src, 0, 0, 1, 1), Status::NullPointer);
        let before = src;
        expect_status(pybuf_slice(src_ptr, src_ptr, 0, 0, 1, 1), Status::InvalidArgument);
        assert!(same_bytes(&src, &before), "dst == src is refused before anything is written");
        refused(Status::InvalidArgument, |d| pybuf_slice(d, &src, 2, 0, 1, 1));
        refused(Status::InvalidArgument, |d| pybuf_slice(d, &src, -1, 0, 1, 1));
        refused(Status::InvalidArgument, |d| pybuf_slice(d, &src, 0, 0, 1, 0));
        // An empty slice whose start offset overflows: start 5 is clamped to 2, and
        // 2 * (PTRDIFF_MAX / 2 + 1) does not fit.
        refused(Status::Overflow, |d| pybuf_slice(d, wide_ptr, 0, 5, NONE, NONE));
    }
}

// -------------------------------------------------------------------------------------
// pybuf_index and pybuf_subview

#[test]
fn index_drops_a_dimension_down_to_0_d() {
    let mut a = matrix();
    let src = a.view();
    let (mut d, mut e) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    // Column -1, then row 2 of that: a 0-d view of m[2][3].
    // SAFETY: `src` views `a`, alive; `d` and `e` are distinct and writable.
    unsafe { expect_status(pybuf_index(&mut d, &src, 1, -1), Status::Ok) };
    check_geometry(&d, &[3], &[32]);
    for j in 0..3 {
        assert_eq!(at(&d, &[j]), a.item(&[j, 3]).as_ptr());
    }
    // SAFETY: as above.
    unsafe { expect_status(pybuf_index(&mut e, &d, 0, 2), Status::Ok) };
    assert_eq!(e.ndim, 0);
    assert!(e.shape.is_null() && e.strides.is_null() && e.suboffsets.is_null(), "a 0-d view has NULL arrays");
    assert_eq!(e.len, 8);
    assert_eq!(format(&e).as_deref(), Some("d"));
    assert_eq!(e.buf as *const u8, a.item(&[2, 3]).as_ptr());
    // Released before the view it came from.
    release(&mut e);
    release(&mut d);
}

#[test]
fn subview_takes_a_block() {
    let mut a = matrix();
    let src = a.view();
    let (start, size) = ([1isize, 1], [2isize, 3]);
    let mut d = pybuf_buffer::zeroed();
    // SAFETY: `src` views `a`, alive; `start` and `size` have ndim entries.
    unsafe { expect_status(pybuf_subview(&mut d, &src, start.as_ptr(), size.as_ptr()), Status::Ok) };
    check_geometry(&d, &[2, 3], &[32, 8]);
    for ix in indices(&[2, 3]) {
        assert_eq!(at(&d, &ix), a.item(&[1 + ix[0], 1 + ix[1]]).as_ptr());
    }
    release(&mut d);
    // A 0-d source takes NULL arrays: the block is the whole view.
    let mut z = Array::c(&[], 8, Some("q"));
    let zv = z.view();
    // SAFETY: `zv` views `z`, alive; NULL arrays have 0 entries.
    unsafe { expect_status(pybuf_subview(&mut d, &zv, null(), null()), Status::Ok) };
    assert_eq!((d.ndim, d.len, d.buf as *const u8), (0, 8, z.item(&[]).as_ptr()));
    release(&mut d);
}

#[test]
fn index_and_subview_refusals() {
    let mut a = matrix();
    let src = a.view();
    let mut start = [1isize, 1];
    let mut size = [2isize, 3];
    // SAFETY: `src` views `a`, alive; the arrays passed have ndim entries or are NULL on
    // purpose.
    unsafe {
        refused(Status::InvalidArgument, |d| pybuf_index(d, &src, 2, 0));
        refused(Status::IndexOutOfRange, |d| pybuf_index(d, &src, 0, 3));
        refused(Status::IndexOutOfRange, |d| pybuf_index(d, &src, 1, -5));
        assert_eq!(last().1, "index = -5 is out of range for shape[1] = 4");
        refused(Status::NullPointer, |d| pybuf_index(d, null(), 0, 0));
        expect_status(pybuf_index(null_mut(), &src, 0, 0), Status::NullPointer);
        refused(Status::NullPointer, |d| pybuf_subview(d, &src, null(), size.as_ptr()));
        refused(Status::NullPointer, |d| pybuf_subview(d, &src, start.as_ptr(), null()));
        size[1] = -1;
        refused(Status::InvalidShape, |d| pybuf_subview(d, &src, start.as_ptr(), size.as_ptr()));
        size[1] = 4;
        refused(Status::IndexOutOfRange, |d| pybuf_subview(d, &src, start.as_ptr(), size.as_ptr()));
        size[1] = 3;
        start[0] = -1;
        refused(Status::IndexOutOfRange, |d| pybuf_subview(d, &src, start.as_ptr(), size.as_ptr()));
    }
}

// -------------------------------------------------------------------------------------
// pybuf_transpose and pybuf_permute

#[test]
fn transpose_and_permute_reorder_axes() {
    let mut a = Array::c(&[2, 3, 4], 4, Some("i"));
    let src = a.view();
    let mut d = pybuf_buffer::zeroed();
    // SAFETY: `src` views `a`, alive; `d` is writable.
    unsafe { expect_status(pybuf_transpose(&mut d, &src), Status::Ok) };
    check_geometry(&d, &[4, 3, 2], &[4, 16, 48]);
    for ix in indices(&[4, 3, 2]) {
        assert_eq!(at(&d, &ix), a.item(&[ix[2], ix[1], ix[0]]).as_ptr());
    }
    release(&mut d);
    let axes: [c_int; 3] = [1, 2, 0];
    // SAFETY: as above; `axes` has ndim entries.
    unsafe { expect_status(pybuf_permute(&mut d, &src, axes.as_ptr()), Status::Ok) };
    check_geometry(&d, &[3, 4, 2], &[16, 4, 48]);
    for ix in indices(&[3, 4, 2]) {
        // dimension k of d is dimension axes[k] of a
        let mut from = [0isize; 3];
        for k in 0..3 {
            from[axes[k] as usize] = ix[k];
        }
        assert_eq!(at(&d, &ix), a.item(&from).as_ptr(), "{ix:?}");
    }
    release(&mut d);
}

#[test]
fn permute_refusals() {
    let mut a = matrix();
    let src = a.view();
    let (out_of_range, repeated): ([c_int; 2], [c_int; 2]) = ([0, 2], [1, 1]);
    // SAFETY: `src` views `a`, alive; the axes have ndim entries or are NULL on purpose.
    unsafe {
        refused(Status::NullPointer, |d| pybuf_permute(d, &src, null()));
        refused(Status::InvalidArgument, |d| pybuf_permute(d, &src, out_of_range.as_ptr()));
        refused(Status::InvalidArgument, |d| pybuf_permute(d, &src, repeated.as_ptr()));
        assert_eq!(last().1, "axes[1] = 1 repeats axes[0]");
        refused(Status::NullPointer, |d| pybuf_transpose(d, null()));
        expect_status(pybuf_transpose(null_mut(), &src), Status::NullPointer);
    }
}

// -------------------------------------------------------------------------------------
// pybuf_cast

#[test]
fn cast_reinterprets_contiguous_memory() {
    let mut bytes = Array::c(&[24], 1, None);
    let src = bytes.view();
    let (mut d, mut e, mut f) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    let shape3 = [2isize, 3, 2];
    let flat = [3isize, 4];
    // SAFETY: `src` views `bytes`, alive; the shapes have ndim entries; the formats are C
    // strings.
    unsafe {
        // memoryview.cast('d')
        expect_status(pybuf_cast(&mut d, &src, c"d".as_ptr(), -1, null()), Status::Ok);
        check_geometry(&d, &[3], &[8]);
        assert_eq!((d.itemsize, format(&d).as_deref()), (8, Some("d")));
        assert_eq!(d.buf, src.buf);
        // N-D, non-byte to non-byte
        expect_status(pybuf_cast(&mut e, &d, c"<h".as_ptr(), 3, shape3.as_ptr()), Status::Ok);
        check_geometry(&e, &[2, 3, 2], &[12, 4, 2]);
        assert_eq!(format(&e).as_deref(), Some("<h"));
        // a reshape: N-D to N-D, the format kept
        expect_status(pybuf_cast(&mut f, &e, null(), 2, flat.as_ptr()), Status::Ok);
        check_geometry(&f, &[3, 4], &[8, 2]);
        assert_eq!((f.itemsize, format(&f).as_deref()), (2, Some("<h")));
        for ix in indices(&[3, 4]) {
            assert_eq!(at(&f, &ix), bytes.item(&[ix[0] * 8 + ix[1] * 2]).as_ptr());
        }
    }
    release(&mut f);
    // SAFETY: as above.
    unsafe { refused(Status::LengthMismatch, |g| pybuf_cast(g, &e, c"T{ii}".as_ptr(), 0, null())) };
    release(&mut e);
    release(&mut d);

    // A 0-d cast of exactly one item, and a reshape that keeps a NULL format NULL.
    let mut eight = Array::c(&[8], 1, None);
    let src = eight.view();
    let flat = [2isize, 4];
    // SAFETY: as above.
    unsafe { expect_status(pybuf_cast(&mut d, &src, c"@q".as_ptr(), 0, null()), Status::Ok) };
    assert_eq!((d.ndim, d.len, format(&d).as_deref()), (0, 8, Some("@q")));
    release(&mut d);
    // SAFETY: as above.
    unsafe { expect_status(pybuf_cast(&mut d, &src, null(), 2, flat.as_ptr()), Status::Ok) };
    check_geometry(&d, &[2, 4], &[4, 1]);
    assert!(d.format.is_null());
    release(&mut d);
}

#[test]
fn cast_refusals() {
    let mut a = matrix();
    let mut src = a.view();
    let s = [4isize, 4];
    let neg = [-3isize, -4];
    let big = [isize::MAX / 4, 8];
    let mut rows = [2isize, 4];
    // SAFETY: `src` views `a`, alive (with its shape and strides changed below, rows 0 and
    // 2 of it); the shapes have ndim entries or are NULL on purpose; the formats are C
    // strings.
    unsafe {
        refused(Status::LengthMismatch, |d| pybuf_cast(d, &src, c"d".as_ptr(), 2, s.as_ptr()));
        assert_eq!(last().1, "product(shape) * itemsize = 16 * 8 = 128 but the source's len = 96");
        refused(Status::LengthMismatch, |d| pybuf_cast(d, &src, c"5s".as_ptr(), -1, null()));
        refused(Status::InvalidNdim, |d| pybuf_cast(d, &src, c"d".as_ptr(), -2, s.as_ptr()));
        refused(Status::InvalidNdim, |d| pybuf_cast(d, &src, c"d".as_ptr(), 65, s.as_ptr()));
        refused(Status::NullPointer, |d| pybuf_cast(d, &src, c"d".as_ptr(), 2, null()));
        refused(Status::InvalidShape, |d| pybuf_cast(d, &src, c"d".as_ptr(), 2, neg.as_ptr()));
        refused(Status::Overflow, |d| pybuf_cast(d, &src, c"d".as_ptr(), 2, big.as_ptr()));
        refused(Status::InvalidFormat, |d| pybuf_cast(d, &src, c"T{i".as_ptr(), -1, null()));
        refused(Status::UnsupportedFormat, |d| pybuf_cast(d, &src, c"t".as_ptr(), -1, null()));
        refused(Status::InvalidItemsize, |d| pybuf_cast(d, &src, c"0i".as_ptr(), -1, null()));
        refused(Status::NullPointer, |d| pybuf_cast(d, null(), c"B".as_ptr(), -1, null()));
        // rows 0 and 2 of the matrix: not C-contiguous
        a.strides[0] = 64;
        src.shape = rows.as_mut_ptr();
        src.len = 64;
        refused(Status::BufferRequest, |d| pybuf_cast(d, &src, c"B".as_ptr(), -1, null()));
    }
}

// -------------------------------------------------------------------------------------
// pybuf_broadcast and pybuf_broadcast_to

#[test]
fn broadcast_repeats_with_stride_0_and_is_read_only() {
    let mut row = Array::c(&[1, 3], 8, Some("d"));
    let src = row.view();
    let (mut d, mut e) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    let target = [2isize, 4, 3];
    // SAFETY: `src` views `row`, alive; `target` has 3 entries.
    unsafe {
        expect_status(pybuf_broadcast(&mut d, &src, 0, 5), Status::Ok);
        expect_status(pybuf_broadcast_to(&mut e, &src, 3, target.as_ptr()), Status::Ok);
    }
    check_geometry(&d, &[5, 3], &[0, 8]);
    assert_eq!(d.readonly, 1);
    for ix in indices(&[5, 3]) {
        assert_eq!(at(&d, &ix), row.item(&[0, ix[1]]).as_ptr());
    }
    check_geometry(&e, &[2, 4, 3], &[0, 0, 8]);
    assert_eq!(e.readonly, 1);
    assert_eq!(at(&e, &[1, 3, 2]), row.item(&[0, 2]).as_ptr());
    // A write through a broadcast view is refused, the memory untouched.
    let before = row.data.clone();
    let ix = [0isize, 0, 0];
    let mut one = value(PYBUF_VALUE_DOUBLE);
    one.real = 1.0;
    // SAFETY: `e` is a valid derived view; `ix` has 3 entries.
    unsafe { expect_status(pybuf_set_item(&e, ix.as_ptr(), 0, &one), Status::ReadOnly) };
    assert_eq!(row.data, before);
    release(&mut e);
    release(&mut d);
}

#[test]
fn broadcast_of_an_empty_view_to_a_huge_length() {
    // Regression (views fuzz target): product(shape) is 0, not an overflow.
    let mut m = vec![0f64; 4];
    let (shape_, strides_) = ([1isize, 1 << 40, 2, 0], [8isize, 0, 8, 8]);
    let v = pybuf_buffer {
        buf: m.as_mut_ptr().cast(),
        itemsize: 8,
        ndim: 4,
        readonly: 1,
        shape: shape_.as_ptr() as *mut _,
        strides: strides_.as_ptr() as *mut _,
        ..pybuf_buffer::zeroed()
    };
    let mut d = pybuf_buffer::zeroed();
    // SAFETY: `v`'s arrays have 4 entries and its memory is alive.
    unsafe { expect_status(pybuf_broadcast(&mut d, &v, 0, 1 << 40), Status::Ok) };
    assert_eq!(d.len, 0);
    assert_eq!(shape(&d), [1 << 40, 1 << 40, 2, 0]);
    assert_eq!(strides(&d)[0], 0);
    release(&mut d);
}

#[test]
fn broadcast_refusals() {
    let mut a = matrix();
    let src = a.view();
    let target = [3isize, 5];
    let neg = [-1isize, 4];
    // SAFETY: `src` views `a`, alive; the shapes have the ndim given or are NULL on
    // purpose (65 entries are never read: ndim is refused first).
    unsafe {
        refused(Status::InvalidArgument, |d| pybuf_broadcast(d, &src, 2, 5));
        refused(Status::InvalidShape, |d| pybuf_broadcast(d, &src, 0, -1));
        refused(Status::ShapeMismatch, |d| pybuf_broadcast(d, &src, 0, 5));
        refused(Status::NullPointer, |d| pybuf_broadcast(d, null(), 0, 5));
        refused(Status::ShapeMismatch, |d| pybuf_broadcast_to(d, &src, 2, target.as_ptr()));
        refused(Status::ShapeMismatch, |d| pybuf_broadcast_to(d, &src, 1, target.as_ptr()));
        refused(Status::InvalidShape, |d| pybuf_broadcast_to(d, &src, 2, neg.as_ptr()));
        refused(Status::InvalidNdim, |d| pybuf_broadcast_to(d, &src, 65, target.as_ptr()));
        refused(Status::InvalidNdim, |d| pybuf_broadcast_to(d, &src, -1, target.as_ptr()));
        refused(Status::NullPointer, |d| pybuf_broadcast_to(d, &src, 2, null()));
    }
}

// -------------------------------------------------------------------------------------
// Refusals common to every derivation

#[test]
fn derivations_refuse_malformed_and_released_sources() {
    let mut a = matrix();
    let mut src = a.view();
    let bad = [3isize, -4];
    let good_shape = src.shape;
    // SAFETY: `src` views `a` (its fields are made malformed one at a time, its arrays
    // always alive with ndim entries, or ndim refused before they are read).
    unsafe {
        src.ndim = 65;
        refused(Status::InvalidNdim, |d| pybuf_transpose(d, &src));
        src.ndim = 2;
        src.shape = bad.as_ptr() as *mut _;
        refused(Status::InvalidShape, |d| pybuf_transpose(d, &src));
        src.shape = good_shape;
        src.itemsize = 0;
        refused(Status::InvalidItemsize, |d| pybuf_transpose(d, &src));
        src.itemsize = 8;
        src.len = 95;
        refused(Status::LengthMismatch, |d| pybuf_transpose(d, &src));
        src.len = 96;
        src.readonly = 2;
        refused(Status::InvalidArgument, |d| pybuf_transpose(d, &src));
        src.readonly = 0;
    }
    // A released source: its arrays may be gone.
    let mut released = pybuf_buffer::zeroed();
    // SAFETY: `released` is writable; the memory is `a`'s, alive.
    unsafe { expect_status(pybuf_fill_info(&mut released, null_mut(), src.buf, 96, 0, PYBUF_FULL), Status::Ok) };
    release(&mut released);
    // SAFETY: `released` was filled by pybuf and released: derive must refuse it.
    unsafe { refused(Status::InvalidArgument, |d| pybuf_slice(d, &released, 0, 0, 1, 1)) };
    // A success after a failure resets the last status.
    let mut d = pybuf_buffer::zeroed();
    // SAFETY: `src` is valid again.
    unsafe { expect_status(pybuf_transpose(&mut d, &src), Status::Ok) };
    release(&mut d);
}

// -------------------------------------------------------------------------------------
// Suboffsets (PIL-style arrays)

/// A PIL-style 3x4 image of int32 (`"i"`): a table of row pointers, the rows elsewhere
/// and in reverse order, each starting 8 bytes after the pointer stored for it. Element
/// (i, j) is `10 i + j`, stored at `rows[2 - i][2 + j]` (rows of 6 ints).
struct Pil {
    rows: Vec<i32>,
    table: Vec<*mut i32>,
    shape: Vec<pybuf_ssize_t>,
    strides: Vec<pybuf_ssize_t>,
    suboffsets: Vec<pybuf_ssize_t>,
}

impl Pil {
    fn new() -> Pil {
        let mut rows = vec![0i32; 3 * 6];
        for i in 0..3 {
            for j in 0..4 {
                rows[(2 - i) * 6 + 2 + j] = (10 * i + j) as i32;
            }
        }
        let base = rows.as_mut_ptr();
        let table = (0..3).map(|i| base.wrapping_add((2 - i) * 6)).collect();
        Pil { rows, table, shape: vec![3, 4], strides: vec![PTR, 4], suboffsets: vec![8, -1] }
    }

    /// The address of `rows[row][col]`.
    fn addr(&self, row: usize, col: usize) -> *const u8 {
        self.rows.as_ptr().wrapping_add(row * 6 + col).cast()
    }

    fn view(&mut self) -> pybuf_buffer {
        pybuf_buffer {
            buf: self.table.as_mut_ptr().cast(),
            len: 48,
            itemsize: 4,
            ndim: 2,
            format: c"i".as_ptr() as *mut c_char,
            shape: self.shape.as_mut_ptr(),
            strides: self.strides.as_mut_ptr(),
            suboffsets: self.suboffsets.as_mut_ptr(),
            ..pybuf_buffer::zeroed()
        }
    }
}

#[test]
fn derived_views_of_suboffsets() {
    let mut pil = Pil::new();
    let src = pil.view();
    for ix in indices(&[3, 4]) {
        let (i, j) = (ix[0] as usize, ix[1] as usize);
        assert_eq!(at(&src, &ix), pil.addr(2 - i, 2 + j), "the fixture itself");
    }
    let (mut d, mut e) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    // [:, 1:]: the column start goes into suboffsets[0], buf stays at the table.
    // SAFETY: `src` views `pil`, whose table and rows outlive every derived view.
    unsafe { expect_status(pybuf_slice(&mut d, &src, 1, 1, NONE, NONE), Status::Ok) };
    check_geometry(&d, &[3, 3], &[PTR, 4]);
    assert_eq!(suboffsets(&d), Some(vec![12, -1]));
    assert_eq!(d.buf, src.buf);
    // [::2, 1:]
    // SAFETY: as above.
    unsafe { expect_status(pybuf_slice(&mut e, &d, 0, NONE, NONE, 2), Status::Ok) };
    check_geometry(&e, &[2, 3], &[2 * PTR, 4]);
    for ix in indices(&[2, 3]) {
        let (i, j) = (ix[0] as usize, ix[1] as usize);
        assert_eq!(at(&e, &ix), pil.addr(2 - 2 * i, 3 + j), "{ix:?}");
        let v = get(&e, &ix, 0);
        assert_eq!((v.kind, v.i), (PYBUF_VALUE_INT, (20 * i + 1 + j) as i64), "{ix:?}");
    }
    release(&mut e);
    // A row: the pointer is read, as _testbuffer reads it.
    // SAFETY: as above.
    unsafe { expect_status(pybuf_index(&mut e, &d, 0, 1), Status::Ok) };
    check_geometry(&e, &[3], &[4]);
    assert_eq!(e.buf as *const u8, pil.addr(1, 3));
    assert_eq!(suboffsets(&e), Some(vec![-1]));
    assert_eq!(at(&e, &[2]), pil.addr(1, 5));
    release(&mut e);
    // A column: no pointer read, the offset goes into suboffsets[0].
    // SAFETY: as above.
    unsafe { expect_status(pybuf_index(&mut e, &d, 1, 2), Status::Ok) };
    assert_eq!(suboffsets(&e), Some(vec![20]));
    assert_eq!(at(&e, &[0]), pil.addr(2, 5));
    assert_eq!(at(&e, &[2]), pil.addr(0, 5));
    release(&mut e);
    // A subview moves both: buf by the row start, suboffsets[0] by the column start.
    let (start, size) = ([1isize, 1], [2isize, 2]);
    // SAFETY: as above; `start` and `size` have 2 entries.
    unsafe { expect_status(pybuf_subview(&mut e, &d, start.as_ptr(), size.as_ptr()), Status::Ok) };
    assert_eq!(at(&e, &[1, 1]), pil.addr(0, 5));
    release(&mut e);
    // A transpose, permute or cast would move a dimension across the pointer read.
    let swap: [c_int; 2] = [1, 0];
    // SAFETY: as above; `swap` has 2 entries.
    unsafe {
        refused(Status::BufferRequest, |x| pybuf_transpose(x, &d));
        refused(Status::BufferRequest, |x| pybuf_permute(x, &d, swap.as_ptr()));
        refused(Status::BufferRequest, |x| pybuf_cast(x, &d, c"B".as_ptr(), -1, null()));
    }
    release(&mut d);
    // Two pointer reads in a row cannot be merged by indexing the second.
    pil.suboffsets[1] = 0;
    // SAFETY: `src`'s arrays are `pil`'s, alive; the refusal reads no pointer.
    unsafe { refused(Status::BufferRequest, |x| pybuf_index(x, &src, 1, 0)) };
}

#[test]
fn suboffsets_are_never_moved_below_0() {
    // Regression (views fuzz target): a negative suboffset means "no pointer" to PEP
    // 3118, so the derived view would address the pointer table itself. Element (0, j)
    // is row[6 - j].
    let mut row: Vec<u8> = (10..18).collect();
    let mut table = vec![row.as_mut_ptr().wrapping_add(4)];
    let (shape_, strides_, subs) = ([1isize, 4], [PTR, -1], [2isize, -1]);
    let v = pybuf_buffer {
        buf: table.as_mut_ptr().cast(),
        len: 4,
        itemsize: 1,
        ndim: 2,
        readonly: 1,
        shape: shape_.as_ptr() as *mut _,
        strides: strides_.as_ptr() as *mut _,
        suboffsets: subs.as_ptr() as *mut _,
        ..pybuf_buffer::zeroed()
    };
    let row_at = |k: usize| row.as_ptr().wrapping_add(k);
    assert_eq!(at(&v, &[0, 3]), row_at(3));
    let (start, sub_shape) = ([0isize, 3], [1isize, 1]);
    // SAFETY: `v` is a valid view of `table` and `row`, alive; the arrays have 2 entries.
    unsafe {
        refused(Status::BufferRequest, |d| pybuf_index(d, &v, 1, 3));
        assert!(last().1.contains("would be negative"), "{}", last().1);
        refused(Status::BufferRequest, |d| pybuf_slice(d, &v, 1, 3, NONE, NONE));
        refused(Status::BufferRequest, |d| pybuf_subview(d, &v, start.as_ptr(), sub_shape.as_ptr()));
    }
    // A shift that keeps it non-negative is fine: v[:, 2] is row[4].
    let mut d = pybuf_buffer::zeroed();
    // SAFETY: as above.
    unsafe { expect_status(pybuf_index(&mut d, &v, 1, 2), Status::Ok) };
    assert_eq!(at(&d, &[0]), row_at(4));
    release(&mut d);
}

// -------------------------------------------------------------------------------------
// What derived views own and hold

unsafe extern "C" fn count_owner_calls(user: *mut c_void) {
    // SAFETY: `user` is the AtomicUsize the test passed, alive until the exporter is gone.
    unsafe { &*(user as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
}

/// Derive three times from an exporter's view, then release the four views in `order`:
/// the exporter counts every live view, the memory stays until the last release, and the
/// owner runs exactly once.
fn release_in_order(order: [usize; 4]) {
    let mut mem = vec![0f64; 12];
    let shape_ = [3isize, 4];
    let desc = pybuf_exporter_desc {
        buf: mem.as_mut_ptr().cast(),
        len: 96,
        offset: 0,
        readonly: 0,
        format: c"d".as_ptr(),
        itemsize: 0,
        ndim: 2,
        shape: shape_.as_ptr(),
        strides: null(),
        suboffsets: null(),
    };
    let calls = AtomicUsize::new(0);
    let mut ex: *mut pybuf_exporter = null_mut();
    let mut v = [pybuf_buffer::zeroed(); 4];
    let p = v.as_mut_ptr();
    // SAFETY: `desc` describes `mem`, which outlives the exporter and its views; `calls`
    // outlives them too; `p` points to four distinct views that do not move.
    unsafe {
        let user = &calls as *const AtomicUsize as *mut c_void;
        expect_status(pybuf_exporter_new(&desc, Some(count_owner_calls), user, &mut ex), Status::Ok);
        expect_status(pybuf_exporter_get_buffer(ex, p, PYBUF_FULL), Status::Ok);
        expect_status(pybuf_slice(p.add(1), p, 1, NONE, NONE, -1), Status::Ok);
        expect_status(pybuf_transpose(p.add(2), p.add(1)), Status::Ok);
        expect_status(pybuf_index(p.add(3), p.add(2), 1, 2), Status::Ok);
        // v[1][i][j] is m[i][3 - j], v[2][j][i] is v[1][i][j], so v[3][j] is m[2][3 - j]
        for j in 0..4 {
            assert_eq!(at(&*p.add(3), &[j]), mem.as_ptr().wrapping_add(2 * 4 + 3 - j as usize).cast());
        }
        assert_eq!(pybuf_exporter_exports(ex), 4);
        expect_status(pybuf_exporter_replace(ex, &desc), Status::ExportsExist);
        pybuf_exporter_free(ex);
        for &k in &order {
            assert_eq!(calls.load(Ordering::SeqCst), 0, "the owner ran while views were alive");
            pybuf_release(p.add(k));
            expect_ok();
            pybuf_release(p.add(k));
            expect_ok();
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "order {order:?}");
}

#[test]
fn derived_views_hold_the_exporter_in_every_release_order() {
    let mut orders = 0;
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for d in 0..4 {
                    let order = [a, b, c, d];
                    if (0..4).all(|k| order.contains(&k)) {
                        release_in_order(order);
                        orders += 1;
                    }
                }
            }
        }
    }
    assert_eq!(orders, 24);
}

#[test]
fn derived_views_of_foreign_sources_own_their_arrays() {
    let mut a = matrix();
    let src = a.view();
    let (mut x, mut y, mut z) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    let to = [5isize, 2, 2];
    // SAFETY: `src` views `a`, alive; x, y, z are distinct views that do not move.
    unsafe {
        expect_status(pybuf_slice(&mut x, &src, 0, 1, NONE, NONE), Status::Ok);
        expect_status(pybuf_slice(&mut y, &x, 1, NONE, NONE, 3), Status::Ok);
        expect_status(pybuf_broadcast_to(&mut z, &y, 3, to.as_ptr()), Status::Ok);
    }
    release(&mut y);
    // z owns its arrays: y's release does not touch them.
    check_geometry(&z, &[5, 2, 2], &[0, 32, 24]);
    assert_eq!(at(&z, &[4, 1, 1]), a.item(&[2, 3]).as_ptr());
    assert_eq!(at(&x, &[1, 3]), a.item(&[2, 3]).as_ptr());
    // A copy of a derived view (at another address) cannot release it.
    let mut copy = z;
    // SAFETY: `copy` is a readable view; pybuf refuses to release it.
    unsafe { pybuf_release(&mut copy) };
    expect_error(Status::ForeignView);
    release(&mut z);
    release(&mut x);

    // From a pybuf_fill_info view: nothing is held, the derived view outlives it.
    let mut info = pybuf_buffer::zeroed();
    let mut d = pybuf_buffer::zeroed();
    let shape_ = [3isize, 4];
    // SAFETY: the memory is `a`'s (96 bytes), alive; `info` and `d` are writable.
    unsafe {
        expect_status(pybuf_fill_info(&mut info, null_mut(), src.buf, 96, 1, PYBUF_FULL_RO), Status::Ok);
        expect_status(pybuf_cast(&mut d, &info, c"d".as_ptr(), 2, shape_.as_ptr()), Status::Ok);
    }
    assert_eq!(d.readonly, 1);
    release(&mut info);
    assert_eq!(at(&d, &[2, 1]), a.item(&[2, 1]).as_ptr());
    release(&mut d);
}

#[test]
fn derivations_chain_to_any_depth() {
    let depth = if cfg!(miri) { 40 } else { 200 };
    let mut bytes = Array::c(&[64], 1, None);
    let mut v = vec![pybuf_buffer::zeroed(); depth + 1];
    v[0] = bytes.view();
    let p = v.as_mut_ptr();
    for k in 1..=depth {
        // SAFETY: v[k - 1] is a valid view (of `bytes`, alive), v[k] a distinct view that
        // does not move (the vector is never resized).
        unsafe { expect_status(pybuf_slice(p.add(k), p.add(k - 1), 0, NONE, NONE, -1), Status::Ok) };
    }
    // An even number of reversals is the original order.
    assert_eq!(v[depth].buf as *const u8, bytes.item(&[if depth % 2 == 0 { 0 } else { 63 }]).as_ptr());
    assert_eq!(strides(&v[depth - 1]), [if depth % 2 == 0 { -1 } else { 1 }]);
    for k in 1..=depth {
        // SAFETY: v[k] was filled by pybuf at this address.
        unsafe { pybuf_release(p.add(k)) };
        expect_ok();
    }
}

// -------------------------------------------------------------------------------------
// pybuf_item_fields, pybuf_get_item

const RECORD: &str = "T{b:a:xxx>i:b:d:c:}";

/// Two records of `T{b:a:xxx>i:b:d:c:}`: 1 + 3 pad + 4 + 8 = 16 bytes, `b` and `c`
/// big-endian (a byte-order marker holds until the next one). Record r is
/// (`[5, -1][r]`, `[-7, 123456][r]`, `[2.5, -0.125][r]`), padding 0xEE.
fn records() -> Array {
    let mut a = Array::c(&[2], 16, Some(RECORD));
    for (r, (x, (y, z))) in [5i8, -1].iter().zip([-7i32, 123456].iter().zip([2.5f64, -0.125])).enumerate() {
        let item = &mut a.data[16 * r..16 * r + 16];
        item[0] = *x as u8;
        item[1..4].fill(0xEE);
        item[4..8].copy_from_slice(&y.to_be_bytes());
        item[8..16].copy_from_slice(&z.to_be_bytes());
    }
    a
}

#[test]
fn item_fields_counts_values_as_struct_unpack() {
    let mut rec = records();
    let mut grid = Array::c(&[1], 32, Some("(2,2)d"));
    let mut bytes = Array::c(&[3], 1, None);
    let mut m = matrix();
    let (rv, gv, bv) = (rec.view(), grid.view(), bytes.view());
    let shapeless = pybuf_buffer { shape: null_mut(), strides: null_mut(), ndim: 1, ..m.view() };
    // SAFETY: every view is valid, its memory alive.
    unsafe {
        assert_eq!(pybuf_item_fields(&rv), 3);
        expect_ok();
        assert_eq!(pybuf_item_fields(&gv), 4);
        assert_eq!(pybuf_item_fields(&bv), 1, "a NULL format is \"B\"");
        assert_eq!(pybuf_item_fields(&shapeless), 1, "a view without a shape is bytes");
        expect_ok();
    }
}

#[test]
fn get_item_reads_each_field_of_a_record() {
    let mut rec = records();
    let v = rec.view();
    let out = get(&v, &[1], 2);
    assert_eq!((out.kind, out.real), (PYBUF_VALUE_DOUBLE, -0.125));
    let out = get(&v, &[1], 1);
    assert_eq!((out.kind, out.i), (PYBUF_VALUE_INT, 123456));
    let out = get(&v, &[1], 0);
    assert_eq!((out.kind, out.i), (PYBUF_VALUE_INT, -1));
    let out = get(&v, &[0], 1);
    assert_eq!(out.i, -7);
    let out = get(&v, &[0], 2);
    assert_eq!(out.real, 2.5);
}

/// A field index near the end of a format with huge repeat counts is found, and the
/// first index past the end refused, without walking the values before it (issue 12,
/// defect 7: refusing `field == pybuf_item_fields(view)` on "100000000T{id}" took 1.2 s).
/// `0s` is an empty string, one value of no bytes, so a 2-byte item holds 10^12 + 2
/// values; walking them would not end in this test's lifetime, under Miri or not.
#[test]
fn get_item_finds_a_field_among_huge_repeat_counts_at_once() {
    let mut a = scalar(&[7, 0xF9], "b1000000000000T{0s}b");
    let v = a.view();
    // SAFETY: the view is valid, its memory alive.
    let fields = unsafe { pybuf_item_fields(&v) };
    assert_eq!(fields, 1_000_000_000_002);
    let out = get(&v, &[], fields - 1);
    assert_eq!((out.kind, out.i), (PYBUF_VALUE_INT, -7));
    let out = get(&v, &[], 0);
    assert_eq!((out.kind, out.i), (PYBUF_VALUE_INT, 7));
    let out = get(&v, &[], 123_456_789_012);
    assert_eq!((out.kind, out.size), (PYBUF_VALUE_BYTES, 0));
    let mut out = poisoned_value();
    // SAFETY: as above; out is writable.
    let rc = unsafe { pybuf_get_item(&v, null(), fields, &mut out) };
    expect_status(rc, Status::IndexOutOfRange);
    assert!(same_value(&out, &poisoned_value()), "out untouched");
    let (_, message) = last();
    assert!(message.contains("field = 1000000000002 is out of range"), "{message}");
}

/// A 0-d view of `bytes` read as `format`.
fn scalar(bytes: &[u8], format: &str) -> Array {
    let mut a = Array::c(&[], bytes.len() as isize, Some(format));
    a.data.copy_from_slice(bytes);
    a
}

#[test]
fn get_item_reads_every_kind() {
    let mut be = scalar(&1.5f64.to_be_bytes(), ">d");
    let out = get(&be.view(), &[], 0);
    assert_eq!((out.kind, out.real), (PYBUF_VALUE_DOUBLE, 1.5));

    let z: Vec<u8> = [1.5f64.to_ne_bytes(), (-2f64).to_ne_bytes()].concat();
    let mut zd = scalar(&z, "Zd");
    let out = get(&zd.view(), &[], 0);
    assert_eq!((out.kind, out.real, out.imag), (PYBUF_VALUE_COMPLEX, 1.5, -2.0));

    let mut flag = scalar(&[2], "?");
    let out = get(&flag.view(), &[], 0);
    assert_eq!((out.kind, out.b), (PYBUF_VALUE_BOOL, 1), "any non-zero byte is true");

    let mut s = scalar(b"abc", "3s");
    let out = get(&s.view(), &[], 0);
    assert_eq!((out.kind, out.size, out.bytes as *const u8), (PYBUF_VALUE_BYTES, 3, s.item(&[]).as_ptr()));

    // "4p": length byte 9, so at most 3 bytes, as struct.unpack.
    let mut p = scalar(&[9, b'x', b'y', b'z'], "4p");
    let out = get(&p.view(), &[], 0);
    assert_eq!((out.kind, out.size, out.bytes as *const u8), (PYBUF_VALUE_BYTES, 3, p.item(&[])[1..].as_ptr()));

    let mut q = scalar(&u64::MAX.to_ne_bytes(), "Q");
    let out = get(&q.view(), &[], 0);
    assert_eq!((out.kind, out.u), (PYBUF_VALUE_UINT, u64::MAX));

    // A NULL format is "B": the first byte.
    q.format = None;
    let qv = q.view();
    // SAFETY: `qv` is valid.
    assert_eq!(unsafe { pybuf_item_fields(&qv) }, 1);
    let out = get(&qv, &[], 0);
    assert_eq!((out.kind, out.u), (PYBUF_VALUE_UINT, 255));
}

/// The value an item of `format` holds in `bytes`, decoded here: (kind, the member
/// that kind names, as i128 or f64 bits).
fn decode(format: &str, bytes: &[u8]) -> (c_int, i128) {
    match format {
        "<i" => (PYBUF_VALUE_INT, i32::from_le_bytes(bytes.try_into().unwrap()).into()),
        ">H" => (PYBUF_VALUE_UINT, u16::from_be_bytes(bytes.try_into().unwrap()).into()),
        "b" => (PYBUF_VALUE_INT, (bytes[0] as i8).into()),
        ">q" => (PYBUF_VALUE_INT, i64::from_be_bytes(bytes.try_into().unwrap()).into()),
        "<d" => (PYBUF_VALUE_DOUBLE, u64::from_le_bytes(bytes.try_into().unwrap()).into()),
        "?" => (PYBUF_VALUE_BOOL, (bytes[0] != 0).into()),
        _ => unreachable!("{format}"),
    }
}

/// The member of `v` that its kind names, as `decode` gives it.
fn member(v: &pybuf_value) -> i128 {
    match v.kind {
        PYBUF_VALUE_INT => v.i.into(),
        PYBUF_VALUE_UINT => v.u.into(),
        PYBUF_VALUE_DOUBLE => v.real.to_bits().into(),
        PYBUF_VALUE_BOOL => v.b.into(),
        k => panic!("unexpected kind {k}"),
    }
}

const FORMATS: [(&str, isize); 6] = [("<i", 4), (">H", 2), ("b", 1), (">q", 8), ("<d", 8), ("?", 1)];

/// A random array of up to 3 dimensions of one of `FORMATS`, in C or F order or with a
/// reversed dimension, filled with random bytes.
fn random_array(rng: &mut Rng) -> (Array, &'static str) {
    let (format, itemsize) = FORMATS[rng.below(FORMATS.len())];
    let shape_: Vec<isize> = (0..1 + rng.below(3)).map(|_| 1 + rng.below(3) as isize).collect();
    let mut strides_ = contiguous_strides(&shape_, itemsize, if rng.below(2) == 0 { b'C' } else { b'F' });
    let size = (shape_.iter().product::<isize>() * itemsize) as usize;
    let flip = rng.below(shape_.len());
    let offset = (shape_[flip] - 1) * strides_[flip];
    strides_[flip] = -strides_[flip];
    let mut a = Array::with_layout(size, offset as usize, &shape_, &strides_, itemsize, Some(format));
    for b in a.data.iter_mut() {
        *b = rng.next() as u8;
    }
    (a, format)
}

#[test]
fn get_item_matches_the_bytes_on_random_arrays() {
    let mut rng = Rng::new(2);
    for case in 0..cases(200) {
        let (mut a, format) = random_array(&mut rng);
        let v = a.view();
        let ix: Vec<isize> = a.shape.iter().map(|&n| rng.below(n as usize) as isize).collect();
        let out = get(&v, &ix, 0);
        let (kind, want) = decode(format, a.item(&ix));
        assert_eq!((out.kind, member(&out)), (kind, want), "case {case}: {format} at {ix:?}");
    }
}

#[test]
fn get_item_refusals_leave_out_untouched() {
    let mut rec = records();
    let mut v = rec.view();
    let mut out = poisoned_value();
    let (two, zero) = ([2isize], [0isize]);
    let mut eight = Array::c(&[], 8, None);
    let empty = pybuf_buffer { shape: null_mut(), strides: null_mut(), len: 0, ..eight.view() };
    // SAFETY: `v` views `rec`, `empty` views `eight`, both alive; indices have ndim
    // entries or are NULL on purpose; `out` is writable.
    unsafe {
        expect_status(pybuf_get_item(&v, two.as_ptr(), 0, &mut out), Status::IndexOutOfRange);
        expect_status(pybuf_get_item(&v, null(), 0, &mut out), Status::NullPointer);
        expect_status(pybuf_get_item(null(), two.as_ptr(), 0, &mut out), Status::NullPointer);
        expect_status(pybuf_get_item(&v, zero.as_ptr(), 0, null_mut()), Status::NullPointer);
        expect_status(pybuf_get_item(&v, zero.as_ptr(), 3, &mut out), Status::IndexOutOfRange);
        assert_eq!(last().1, format!("field = 3 is out of range: an item of format \"{RECORD}\" has 3 values"));
        expect_status(pybuf_get_item(&v, zero.as_ptr(), -1, &mut out), Status::IndexOutOfRange);
        v.format = c"T{b:a:".as_ptr() as *mut c_char;
        expect_status(pybuf_get_item(&v, zero.as_ptr(), 0, &mut out), Status::InvalidFormat);
        assert_eq!(pybuf_item_fields(&v), -1);
        expect_error(Status::InvalidFormat);
        v.format = c"t".as_ptr() as *mut c_char;
        expect_status(pybuf_get_item(&v, zero.as_ptr(), 0, &mut out), Status::UnsupportedFormat);
        // 24 bytes of values in a 16-byte item
        v.format = c"3d".as_ptr() as *mut c_char;
        expect_status(pybuf_get_item(&v, zero.as_ptr(), 0, &mut out), Status::InvalidItemsize);
        assert_eq!(pybuf_item_fields(&v), -1);
        expect_error(Status::InvalidItemsize);
        assert_eq!(pybuf_item_fields(null()), -1);
        expect_error(Status::NullPointer);
        v.format = null_mut();
        v.itemsize = 0;
        expect_status(pybuf_get_item(&v, zero.as_ptr(), 0, &mut out), Status::InvalidItemsize);
        assert_eq!(pybuf_item_fields(&v), -1);
        expect_error(Status::InvalidItemsize);
        // An empty 0-d view (numpy's answer to PYBUF_SIMPLE for an empty array).
        expect_status(pybuf_get_item(&empty, null(), 0, &mut out), Status::IndexOutOfRange);
    }
    assert!(same_value(&out, &poisoned_value()), "out was written by a refused call");
}

// -------------------------------------------------------------------------------------
// pybuf_set_item

/// Store `value` as field `field` of the element at `indices`, returning the status.
fn set(v: &pybuf_buffer, indices: &[pybuf_ssize_t], field: pybuf_ssize_t, value: &pybuf_value) -> c_int {
    let ix = if indices.is_empty() { null() } else { indices.as_ptr() };
    // SAFETY: `v` is a valid view whose memory is alive and writable unless readonly;
    // `ix` has ndim entries (NULL for 0-d); a BYTES value points to `size` bytes.
    unsafe { pybuf_set_item(v, ix, field, value) }
}

#[test]
fn set_item_writes_one_field_in_its_byte_order() {
    let mut rec = records();
    let v = rec.view();
    let mut x = value(PYBUF_VALUE_DOUBLE);
    x.real = 6.75;
    let before = rec.data.clone();
    expect_status(set(&v, &[1], 2, &x), Status::Ok);
    assert_eq!(rec.item(&[1])[8..], 6.75f64.to_be_bytes());
    assert_eq!(rec.item(&[1])[..8], before[16..24], "the other fields and the padding");
    assert_eq!(rec.data[..16], before[..16], "the other record");
    // An int into a double field, as struct.pack.
    x = value(PYBUF_VALUE_INT);
    x.i = -3;
    expect_status(set(&v, &[1], 2, &x), Status::Ok);
    assert_eq!(rec.item(&[1])[8..], (-3f64).to_be_bytes());
    x.i = 0x0102_0304;
    expect_status(set(&v, &[1], 1, &x), Status::Ok);
    assert_eq!(rec.item(&[1])[4..8], [1, 2, 3, 4], "big-endian");
    let out = get(&v, &[1], 1);
    assert_eq!(out.i, 0x0102_0304);
}

#[test]
fn set_item_refusals_leave_the_memory_untouched() {
    let mut rec = records();
    let mut v = rec.view();
    let before = rec.data.clone();
    let mut x = value(PYBUF_VALUE_INT);
    x.i = 128;
    expect_status(set(&v, &[1], 0, &x), Status::ValueOutOfRange);
    assert_eq!(last().1, "int 128 is out of range for a 'b' value of this size (-128..=127)");
    x = value(PYBUF_VALUE_DOUBLE);
    x.real = 1.0;
    expect_status(set(&v, &[1], 0, &x), Status::TypeMismatch);
    x.kind = PYBUF_VALUE_COMPLEX;
    expect_status(set(&v, &[1], 2, &x), Status::TypeMismatch);
    x = value(PYBUF_VALUE_BYTES);
    (x.bytes, x.size) = (b"x".as_ptr().cast(), 1);
    expect_status(set(&v, &[1], 1, &x), Status::TypeMismatch);
    x.size = -1;
    expect_status(set(&v, &[1], 1, &x), Status::InvalidArgument);
    (x.bytes, x.size) = (null(), 2);
    expect_status(set(&v, &[1], 1, &x), Status::NullPointer);
    x.kind = 7;
    expect_status(set(&v, &[1], 1, &x), Status::InvalidArgument);
    x = value(PYBUF_VALUE_BOOL);
    x.b = 2;
    expect_status(set(&v, &[1], 1, &x), Status::InvalidArgument);
    x.b = 1;
    expect_status(set(&v, &[1], 3, &x), Status::IndexOutOfRange);
    expect_status(set(&v, &[2], 1, &x), Status::IndexOutOfRange);
    // SAFETY: `v` is valid; the value and the indices are NULL on purpose.
    unsafe {
        expect_status(pybuf_set_item(&v, [1isize].as_ptr(), 1, null()), Status::NullPointer);
        expect_status(pybuf_set_item(&v, null(), 1, &x), Status::NullPointer);
        expect_status(pybuf_set_item(null(), [1isize].as_ptr(), 1, &x), Status::NullPointer);
    }
    v.readonly = 1;
    expect_status(set(&v, &[1], 1, &x), Status::ReadOnly);
    v.readonly = 0;
    v.format = c"T{".as_ptr() as *mut c_char;
    expect_status(set(&v, &[1], 0, &x), Status::InvalidFormat);
    v.itemsize = 0;
    expect_status(set(&v, &[1], 0, &x), Status::InvalidItemsize);
    assert_eq!(rec.data, before);
}

/// Store `value` in the one item, of `format`, that `g` holds (a 0-d view of it, made
/// afresh: a pointer taken before `g` was read is not used to write).
fn set_in(g: &mut Guarded, format: &CStr, value: &pybuf_value) -> c_int {
    let n = g.inner().len() as isize;
    let v = pybuf_buffer {
        buf: g.ptr().cast(),
        len: n,
        itemsize: n,
        format: format.as_ptr() as *mut c_char,
        ..pybuf_buffer::zeroed()
    };
    set(&v, &[], 0, value)
}

#[test]
fn set_item_follows_struct_pack_for_each_code() {
    // 'f': a finite double too large is refused; infinity is stored.
    let mut f = Guarded::new(4);
    let mut x = value(PYBUF_VALUE_DOUBLE);
    x.real = 1e300;
    expect_status(set_in(&mut f, c"f", &x), Status::ValueOutOfRange);
    assert!(f.untouched());
    x.real = f64::INFINITY;
    expect_status(set_in(&mut f, c"f", &x), Status::Ok);
    assert_eq!(f.inner(), f32::INFINITY.to_ne_bytes());
    assert!(f.intact());

    // 'c' takes exactly one byte.
    let mut c = Guarded::new(1);
    x = value(PYBUF_VALUE_BYTES);
    (x.bytes, x.size) = (b"ab".as_ptr().cast(), 2);
    expect_status(set_in(&mut c, c"c", &x), Status::TypeMismatch);
    assert!(c.untouched());
    x.size = 1;
    expect_status(set_in(&mut c, c"c", &x), Status::Ok);
    assert_eq!(c.inner(), b"a");
    assert!(c.intact());

    // 's' pads with zero bytes, and may read from its own memory.
    let mut s = Guarded::new(4);
    x.size = 2;
    expect_status(set_in(&mut s, c"4s", &x), Status::Ok);
    assert_eq!(s.inner(), b"ab\0\0");
    let p = s.ptr();
    let sv = pybuf_buffer {
        buf: p.cast(),
        len: 4,
        itemsize: 4,
        format: c"4s".as_ptr() as *mut c_char,
        ..pybuf_buffer::zeroed()
    };
    (x.bytes, x.size) = (p.cast_const().cast(), 1);
    expect_status(set(&sv, &[], 0, &x), Status::Ok);
    assert_eq!(s.inner(), b"a\0\0\0");
    assert!(s.intact());

    // 'O' (an object reference) is never written.
    let mut o = Guarded::new(PTR as usize);
    x = value(PYBUF_VALUE_UINT);
    x.u = 8;
    expect_status(set_in(&mut o, c"O", &x), Status::TypeMismatch);
    assert!(o.untouched());

    // '?' stores the truth value; 'Zd' takes any number.
    let mut b = Guarded::new(1);
    x = value(PYBUF_VALUE_INT);
    x.i = -5;
    expect_status(set_in(&mut b, c"?", &x), Status::Ok);
    assert_eq!(b.inner(), [1]);
    let mut z = Guarded::new(16);
    x = value(PYBUF_VALUE_COMPLEX);
    (x.real, x.imag) = (0.5, -4.0);
    expect_status(set_in(&mut z, c"Zd", &x), Status::Ok);
    assert_eq!(z.inner(), [0.5f64.to_ne_bytes(), (-4f64).to_ne_bytes()].concat());
    assert!(z.intact());
}

#[test]
fn set_item_then_read_back_on_random_arrays() {
    let mut rng = Rng::new(3);
    for case in 0..cases(200) {
        let (mut a, format) = random_array(&mut rng);
        let v = a.view();
        let ix: Vec<isize> = a.shape.iter().map(|&n| rng.below(n as usize) as isize).collect();
        let r = rng.next();
        let x = match format {
            "<i" => pybuf_value { i: r as i32 as i64, ..value(PYBUF_VALUE_INT) },
            ">H" => pybuf_value { u: r as u16 as u64, ..value(PYBUF_VALUE_UINT) },
            "b" => pybuf_value { i: r as i8 as i64, ..value(PYBUF_VALUE_INT) },
            ">q" => pybuf_value { i: r as i64, ..value(PYBUF_VALUE_INT) },
            "<d" => pybuf_value { real: (r >> 11) as f64 / 3.0, ..value(PYBUF_VALUE_DOUBLE) },
            "?" => pybuf_value { b: (r & 1) as c_int, ..value(PYBUF_VALUE_BOOL) },
            _ => unreachable!(),
        };
        let before = a.data.clone();
        let at_item = byte_offset(&a, &ix);
        expect_status(set(&v, &ix, 0, &x), Status::Ok);
        let (kind, got) = decode(format, a.item(&ix));
        assert_eq!((kind, got), (x.kind, member(&x)), "case {case}: {format} at {ix:?}");
        let n = a.itemsize as usize;
        assert_eq!(a.data[..at_item], before[..at_item], "case {case}: bytes before the item");
        assert_eq!(a.data[at_item + n..], before[at_item + n..], "case {case}: bytes after the item");
    }
}

// -------------------------------------------------------------------------------------
// pybuf_iter_new, pybuf_iter_next, pybuf_iter_free

/// Iterate over `v` in `order`, checking every element's address and index against
/// `expected` (index, address) in turn, and that the iterator then stays exhausted.
#[track_caller]
fn check_walk(v: &pybuf_buffer, order: u8, expected: &[(Vec<pybuf_ssize_t>, *const u8)]) {
    let mut it: *mut pybuf_iter = null_mut();
    // SAFETY: `v` is a valid view whose memory outlives the iterator; `it` is writable.
    unsafe { expect_status(pybuf_iter_new(v, order as c_char, &mut it), Status::Ok) };
    assert!(!it.is_null());
    let ndim = v.ndim as usize;
    for (n, (index, address)) in expected.iter().enumerate() {
        let mut p: *mut c_void = null_mut();
        let mut ix = vec![-7isize; ndim];
        // SAFETY: `it` is live; `p` and `ix` (ndim entries) are writable.
        let more = unsafe { pybuf_iter_next(it, &mut p, ix.as_mut_ptr()) };
        expect_ok();
        assert_eq!(more, 1, "element {n} of {} ({} order)", expected.len(), order as char);
        assert_eq!(&ix, index, "element {n} ({} order)", order as char);
        assert_eq!(p as *const u8, *address, "element {n} at {index:?} ({} order)", order as char);
    }
    for _ in 0..2 {
        let mut p: *mut c_void = null_mut();
        // SAFETY: as above.
        assert_eq!(unsafe { pybuf_iter_next(it, &mut p, null_mut()) }, 0, "after the last element");
        expect_ok();
        assert!(p.is_null(), "nothing is stored after the last element");
    }
    // SAFETY: `it` came from pybuf_iter_new and is freed once.
    unsafe { pybuf_iter_free(it) };
}

/// Every index of `shape` in Fortran order (the first index fastest).
fn f_indices(shape_: &[pybuf_ssize_t]) -> Vec<Vec<pybuf_ssize_t>> {
    let reversed: Vec<isize> = shape_.iter().rev().copied().collect();
    indices(&reversed).into_iter().map(|ix| ix.into_iter().rev().collect()).collect()
}

#[test]
fn iteration_in_c_and_f_order_with_negative_strides() {
    // Rows reversed: element (i, j) is a[1 - i][j] of a C-contiguous 2x3 int32 array.
    let mut a = Array::with_layout(24, 12, &[2, 3], &[-12, 4], 4, Some("i"));
    let v = a.view();
    let walk = |order: Vec<Vec<isize>>| -> Vec<(Vec<isize>, *const u8)> {
        order
            .into_iter()
            .map(|ix| (ix.clone(), a.data.as_ptr().wrapping_add((12 * (1 - ix[0]) + 4 * ix[1]) as usize)))
            .collect()
    };
    check_walk(&v, b'F', &walk(f_indices(&[2, 3])));
    check_walk(&v, b'C', &walk(indices(&[2, 3])));
    // Neither C- nor F-contiguous: 'A' walks in C order.
    check_walk(&v, b'A', &walk(indices(&[2, 3])));
    // NULL outputs are allowed.
    let mut it: *mut pybuf_iter = null_mut();
    // SAFETY: `v` views `a`, alive; `it` is freed once; NULL outputs are allowed.
    unsafe {
        expect_status(pybuf_iter_new(&v, b'C' as c_char, &mut it), Status::Ok);
        assert_eq!(pybuf_iter_next(it, null_mut(), null_mut()), 1);
        let mut p: *mut c_void = null_mut();
        assert_eq!(pybuf_iter_next(it, &mut p, null_mut()), 1);
        assert_eq!(p as *const u8, a.item(&[0, 1]).as_ptr());
        pybuf_iter_free(it);
        pybuf_iter_free(null_mut());
    }
}

#[test]
fn iteration_in_a_order_follows_f_contiguity() {
    let mut f = Array::with_layout(24, 0, &[2, 3], &[4, 8], 4, Some("i"));
    let v = f.view();
    let expected: Vec<_> = f_indices(&[2, 3]).into_iter().map(|ix| (ix.clone(), f.item(&ix).as_ptr())).collect();
    check_walk(&v, b'A', &expected);
    let mut c = Array::c(&[2, 3], 4, Some("i"));
    let v = c.view();
    let expected: Vec<_> = indices(&[2, 3]).into_iter().map(|ix| (ix.clone(), c.item(&ix).as_ptr())).collect();
    check_walk(&v, b'A', &expected);
}

#[test]
fn iteration_of_0_d_and_empty_views() {
    let mut one = Array::c(&[], 4, Some("i"));
    let v = one.view();
    check_walk(&v, b'A', &[(vec![], one.item(&[]).as_ptr())]);
    let mut empty = Array::c(&[2, 0], 4, Some("i"));
    let v = empty.view();
    check_walk(&v, b'C', &[]);
}

#[test]
fn iteration_follows_suboffsets() {
    let mut pil = Pil::new();
    let v = pil.view();
    let expected = |order: Vec<Vec<isize>>| -> Vec<(Vec<isize>, *const u8)> {
        order.into_iter().map(|ix| (ix.clone(), pil.addr(2 - ix[0] as usize, 2 + ix[1] as usize))).collect()
    };
    check_walk(&v, b'C', &expected(indices(&[3, 4])));
    check_walk(&v, b'F', &expected(f_indices(&[3, 4])));
}

#[test]
fn iteration_matches_the_layout_on_random_arrays() {
    let mut rng = Rng::new(4);
    for _ in 0..cases(100) {
        let (mut a, _) = random_array(&mut rng);
        let v = a.view();
        let shape_ = a.shape.clone();
        let c: Vec<_> = indices(&shape_).into_iter().map(|ix| (ix.clone(), a.item(&ix).as_ptr())).collect();
        let f: Vec<_> = f_indices(&shape_).into_iter().map(|ix| (ix.clone(), a.item(&ix).as_ptr())).collect();
        check_walk(&v, b'C', &c);
        check_walk(&v, b'F', &f);
    }
}

#[test]
fn iteration_refusals() {
    let mut a = Array::c(&[2, 0], 4, Some("i"));
    let mut v = a.view();
    let sentinel = std::ptr::NonNull::<pybuf_iter>::dangling().as_ptr();
    let mut it = sentinel;
    // SAFETY: `v` views `a` (made malformed below, its arrays alive); pointers are NULL on
    // purpose; `it` is writable.
    unsafe {
        expect_status(pybuf_iter_new(&v, b'K' as c_char, &mut it), Status::InvalidArgument);
        expect_status(pybuf_iter_new(null(), b'C' as c_char, &mut it), Status::NullPointer);
        expect_status(pybuf_iter_new(&v, b'C' as c_char, null_mut()), Status::NullPointer);
        v.len = 4;
        expect_status(pybuf_iter_new(&v, b'C' as c_char, &mut it), Status::LengthMismatch);
        assert_eq!(it, sentinel, "out was written by a refused call");
        let mut p: *mut c_void = null_mut();
        let mut ix = [0isize; 2];
        expect_status(pybuf_iter_next(null_mut(), &mut p, ix.as_mut_ptr()), Status::NullPointer);
        assert!(p.is_null());
    }
}

// -------------------------------------------------------------------------------------
// pybuf_equal

/// A 1-D array of `format` holding `bytes` (the items' bytes, in order).
fn vector(format: &str, itemsize: isize, bytes: &[u8]) -> Array {
    let mut a = Array::c(&[bytes.len() as isize / itemsize], itemsize, Some(format));
    a.data.copy_from_slice(bytes);
    a
}

#[test]
fn equal_compares_values_across_formats() {
    let little: Vec<u8> = [1i32, -2, 3].iter().flat_map(|x| x.to_le_bytes()).collect();
    let big: Vec<u8> = [1i32, -2, 3].iter().flat_map(|x| x.to_be_bytes()).collect();
    let (mut li, mut bi) = (vector("<i", 4, &little), vector(">i", 4, &big));
    // 1.0, -2.0, 3.0 read backwards from [3, -2, 1]
    let doubles: Vec<u8> = [3f64, -2.0, 1.0].iter().flat_map(|x| x.to_ne_bytes()).collect();
    let mut d = Array::with_layout(24, 16, &[3], &[-8], 8, Some("d"));
    d.data.copy_from_slice(&doubles);
    let mut sb = vector("b", 1, &[1, (-2i8) as u8, 3]);
    let (a, b, c) = (li.view(), bi.view(), d.view());
    let mut s = sb.view();
    // SAFETY: every view is valid, its memory alive.
    unsafe {
        assert_eq!(pybuf_equal(&a, &b), 1, "'<i' equals '>i' holding the same values");
        expect_ok();
        assert_eq!(pybuf_equal(&a, &c), 1);
        assert_eq!(pybuf_equal(&s, &b), 1);
    }
    sb.data[1] = 2;
    // SAFETY: as above.
    unsafe { assert_eq!(pybuf_equal(&s, &b), 0) };
    expect_error(Status::ValueMismatch);
    assert_eq!(last().1, "element [1], value 0: int 2 ('b') differs from int -2 ('i')");
    let two = [2isize];
    (s.shape, s.len) = (two.as_ptr() as *mut _, 2);
    // SAFETY: as above; `two` is alive.
    unsafe { assert_eq!(pybuf_equal(&s, &b), 0) };
    expect_error(Status::ShapeMismatch);

    // NaN != NaN: a view holding one is not equal to itself.
    let mut nan = vector("d", 8, &f64::NAN.to_ne_bytes());
    let n = nan.view();
    // SAFETY: as above.
    unsafe { assert_eq!(pybuf_equal(&n, &n), 0) };
    expect_error(Status::ValueMismatch);

    // Empty views are equal up to the first zero of the shape.
    let (mut e0, mut e1) = (Array::c(&[0, 3], 4, Some("i")), Array::c(&[0, 4], 8, Some("d")));
    let (x, mut y) = (e0.view(), e1.view());
    // SAFETY: as above.
    unsafe {
        assert_eq!(pybuf_equal(&x, &y), 1);
        expect_ok();
        assert_eq!(pybuf_equal(null(), &y), Status::NullPointer as c_int);
        expect_error(Status::NullPointer);
        assert_eq!(pybuf_equal(&x, null()), Status::NullPointer as c_int);
        expect_error(Status::NullPointer);
        y.format = c"T{".as_ptr() as *mut c_char;
        assert_eq!(pybuf_equal(&x, &y), Status::InvalidFormat as c_int);
        expect_error(Status::InvalidFormat);
        y.format = c"2d".as_ptr() as *mut c_char;
        assert_eq!(pybuf_equal(&x, &y), Status::InvalidItemsize as c_int);
        expect_error(Status::InvalidItemsize);
        y.format = null_mut();
        y.len = 1;
        assert_eq!(pybuf_equal(&x, &y), Status::LengthMismatch as c_int);
        expect_error(Status::LengthMismatch);
    }
}

#[test]
fn equal_finds_the_one_changed_element_on_random_arrays() {
    let mut rng = Rng::new(5);
    for case in 0..cases(100) {
        let (mut a, format) = random_array(&mut rng);
        // the same values, C-contiguous
        let mut b = Array::c(&a.shape, a.itemsize, Some(format));
        for ix in indices(&a.shape) {
            let at_b = byte_offset(&b, &ix);
            b.data[at_b..at_b + b.itemsize as usize].copy_from_slice(a.item(&ix));
        }
        let (va, vb) = (a.view(), b.view());
        let nan_inside = format == "<d"
            && indices(&a.shape).iter().any(|ix| f64::from_le_bytes(a.item(ix).try_into().unwrap()).is_nan());
        // SAFETY: both views are valid, their memory alive.
        let same = unsafe { pybuf_equal(&va, &vb) };
        assert_eq!(same, c_int::from(!nan_inside), "case {case}: {format}");
        if nan_inside {
            continue;
        }
        // Change the first byte of one item of b: for these formats, a different value.
        let ix: Vec<isize> = a.shape.iter().map(|&n| rng.below(n as usize) as isize).collect();
        let at_b = byte_offset(&b, &ix);
        let byte = if format.starts_with('>') { at_b + b.itemsize as usize - 1 } else { at_b };
        b.data[byte] = if format == "?" { u8::from(b.data[byte] == 0) } else { b.data[byte] ^ 1 };
        // SAFETY: as above.
        let same = unsafe { pybuf_equal(&va, &vb) };
        assert_eq!(same, 0, "case {case}: {format}, changed at {ix:?}");
        expect_error(Status::ValueMismatch);
    }
}

// -------------------------------------------------------------------------------------
// pybuf_validate, pybuf_extent

/// The bytes `[lo, hi)` from `buf` that `v` covers, by `pybuf_extent`.
#[track_caller]
fn extent(v: &pybuf_buffer) -> (pybuf_ssize_t, pybuf_ssize_t) {
    let (mut lo, mut hi) = (7, 7);
    // SAFETY: `v` is a valid view; its memory holds any pointers its suboffsets announce.
    unsafe { expect_status(pybuf_extent(v, &mut lo, &mut hi), Status::Ok) };
    (lo, hi)
}

#[test]
fn validate_each_level_and_extent() {
    let mut a = matrix();
    let mut v = a.view();
    let base: *const c_void = a.data.as_ptr().cast();
    // SAFETY: `v` views `a`; `[base, base + 96)` is `a.data`, readable.
    unsafe {
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::Ok);
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, null(), 0), Status::Ok);
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base, 96), Status::Ok);
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base, 95), Status::LengthMismatch);
        assert_eq!(last().1, "an element reaches bytes [0, 96) relative to base, outside the 95-byte memory");
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base.wrapping_byte_add(8), 88), Status::LengthMismatch);
    }
    assert_eq!(extent(&v), (0, 96));
    // Rows reversed: the extent reaches back from buf.
    v.buf = a.data.as_mut_ptr().wrapping_add(64).cast();
    a.strides[0] = -32;
    assert_eq!(extent(&v), (-64, 32));
    // SAFETY: as above.
    unsafe { expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base, 96), Status::Ok) };
    // An empty view covers nothing.
    let mut e = Array::c(&[0, 4], 8, None);
    assert_eq!(extent(&e.view()), (0, 0));
}

#[test]
fn validate_refusals() {
    let mut a = matrix();
    let mut v = a.view();
    let base: *const c_void = a.data.as_ptr().cast();
    let good = (v.shape, v.strides);
    let (neg, mut subs) = ([3isize, -4], [-1isize, -1]);
    // SAFETY: `v` views `a` (made malformed one field at a time, its arrays alive with
    // ndim entries or ndim refused first); `[base, base + 96)` is readable.
    unsafe {
        expect_status(pybuf_validate(&v, 0, null(), 0), Status::InvalidArgument);
        expect_status(pybuf_validate(&v, 4, null(), 0), Status::InvalidArgument);
        expect_status(pybuf_validate(null(), PYBUF_VALIDATE_LAYOUT, null(), 0), Status::NullPointer);
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, null(), 96), Status::NullPointer);
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base, -1), Status::InvalidArgument);
        // the format is checked at the format level only
        v.format = c"f".as_ptr() as *mut c_char;
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::Ok);
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, null(), 0), Status::InvalidItemsize);
        assert_eq!(last().1, "itemsize = 8 but format \"f\" has size 4");
        v.format = c"T{d".as_ptr() as *mut c_char;
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, null(), 0), Status::InvalidFormat);
        v.format = null_mut(); // not checked: a request without PYBUF_FORMAT
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, null(), 0), Status::Ok);
        v.ndim = -1;
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::InvalidNdim);
        v.ndim = 2;
        v.shape = neg.as_ptr() as *mut _;
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::InvalidShape);
        v.shape = null_mut();
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::InvalidShape);
        v.shape = good.0;
        v.itemsize = -8;
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::InvalidItemsize);
        v.itemsize = 8;
        v.len = 97;
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::LengthMismatch);
        v.len = 96;
        a.strides[1] = isize::MAX / 2;
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::Overflow);
        a.strides[1] = 8;
        v.readonly = 3;
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::InvalidArgument);
        v.readonly = 0;
        let buf = v.buf;
        v.buf = null_mut();
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::NullPointer);
        v.buf = buf;
        // suboffsets without strides
        (v.suboffsets, v.strides) = (subs.as_mut_ptr(), null_mut());
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::InvalidSuboffsets);
        // strides without a shape
        (v.shape, v.ndim, v.suboffsets, v.strides) = (null_mut(), 1, null_mut(), good.1);
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, null(), 0), Status::InvalidStrides);
        // pybuf_extent: its refusals leave lo and hi untouched
        let (mut lo, mut hi) = (7, 7);
        expect_status(pybuf_extent(&v, &mut lo, &mut hi), Status::InvalidStrides);
        expect_status(pybuf_extent(null(), &mut lo, &mut hi), Status::NullPointer);
        expect_status(pybuf_extent(&v, null_mut(), &mut hi), Status::NullPointer);
        expect_status(pybuf_extent(&v, &mut lo, null_mut()), Status::NullPointer);
        assert_eq!((lo, hi), (7, 7));
    }
}

/// A PIL-style 2x4 int32 image in one block: two row pointers, then the rows (row 0
/// second). Returns the block and the view's arrays (shape, strides, suboffsets).
fn pil_block() -> (Vec<u8>, [Vec<pybuf_ssize_t>; 3]) {
    let mut block = vec![0u8; 2 * PTR as usize + 32];
    let base = block.as_mut_ptr();
    let rows = base.wrapping_add(2 * PTR as usize);
    // SAFETY: the block holds two pointers at its start (unaligned writes).
    unsafe {
        base.cast::<*mut u8>().write_unaligned(rows.wrapping_add(16));
        base.wrapping_add(PTR as usize).cast::<*mut u8>().write_unaligned(rows);
    }
    (block, [vec![2, 4], vec![PTR, 4], vec![0, -1]])
}

#[test]
fn validate_and_extent_follow_pointers() {
    let (mut block, [mut shape_, mut strides_, mut subs]) = pil_block();
    let size = block.len() as isize;
    let base: *const c_void = block.as_ptr().cast();
    let v = pybuf_buffer {
        buf: block.as_mut_ptr().cast(),
        len: 32,
        itemsize: 4,
        ndim: 2,
        shape: shape_.as_mut_ptr(),
        strides: strides_.as_mut_ptr(),
        suboffsets: subs.as_mut_ptr(),
        ..pybuf_buffer::zeroed()
    };
    let rows = (base as *const u8).wrapping_add(2 * PTR as usize);
    assert_eq!(at(&v, &[0, 0]), rows.wrapping_add(16), "the fixture itself");
    assert_eq!(at(&v, &[1, 3]), rows.wrapping_add(12), "the fixture itself");
    // SAFETY: `[base, base + size)` is `block`, readable; `v`'s arrays are alive.
    unsafe { expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base, size), Status::Ok) };
    assert_eq!(extent(&v), (0, size));
    // A row that runs past the block.
    subs[0] = 4;
    // SAFETY: as above.
    unsafe { expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base, size), Status::LengthMismatch) };
    // A pointer slot outside the block is refused before it is read (Miri would report
    // the read).
    subs[0] = 0;
    strides_[0] = 4096;
    // SAFETY: as above.
    unsafe { expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base, size), Status::LengthMismatch) };
    strides_[0] = PTR;
    // A pointer to the far end of the address space: its elements cannot be told as an
    // offset from buf (nothing is read there).
    let far = block.as_mut_ptr().wrapping_add(isize::MAX as usize);
    // SAFETY: the block holds a pointer at its start (unaligned write).
    unsafe { block.as_mut_ptr().cast::<*mut u8>().write_unaligned(far) };
    let (mut lo, mut hi) = (7, 7);
    // SAFETY: as above; the pointer stored is never dereferenced.
    unsafe {
        expect_status(pybuf_extent(&v, &mut lo, &mut hi), Status::Overflow);
        expect_status(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, base, size), Status::LengthMismatch);
    }
    assert_eq!((lo, hi), (7, 7));
}

/// Regression (issue 12, defect 6): setting a value of an item too large to copy (a 2^48
/// byte string, `"281474976710656s"`) is PYBUF_STATUS_OUT_OF_MEMORY naming the size, not an
/// abort; the item is untouched. (Not under Miri, which stops at an impossible allocation.)
#[test]
#[cfg_attr(miri, ignore = "Miri stops at an impossible allocation")]
fn set_item_of_an_impossible_size_is_out_of_memory() {
    const SIZE: isize = 1 << 48;
    // The view claims 2^48 bytes; the allocation is refused before any of them is touched.
    let mut cell = [0x11u8; 16];
    let mut v = pybuf_buffer::zeroed();
    v.buf = cell.as_mut_ptr().cast();
    v.len = SIZE;
    v.itemsize = SIZE;
    v.format = c"281474976710656s".as_ptr().cast_mut();
    let s = b"abc";
    let value = pybuf_value { bytes: s.as_ptr().cast(), size: 3, ..value(PYBUF_VALUE_BYTES) };
    // SAFETY: the view's memory is never reached (the scratch allocation fails first).
    let rc = unsafe { pybuf_set_item(&v, null(), 0, &value) };
    expect_status(rc, Status::OutOfMemory);
    let (_, message) = last();
    assert!(message.contains("cannot allocate 281474976710656 bytes for a copy of a 's' value"), "{message}");
    assert_eq!(cell, [0x11; 16]);
    // A value that fits the stack scratch still works on a string item of 64 bytes.
    let mut small = [0u8; 64];
    let mut w = pybuf_buffer::zeroed();
    w.buf = small.as_mut_ptr().cast();
    (w.len, w.itemsize) = (64, 64);
    w.format = c"64s".as_ptr().cast_mut();
    // SAFETY: a 0-d view of 64 writable bytes.
    expect_status(unsafe { pybuf_set_item(&w, null(), 0, &value) }, Status::Ok);
    assert_eq!((&small[..4], small[63]), (&b"abc\0"[..], 0));
}
