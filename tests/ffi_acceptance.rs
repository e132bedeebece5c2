//! Which views pybuf accepts (issue 12, defects 8–10): one function decides it for every
//! entry point, so `pybuf_validate` accepts exactly the views the consumers and derivations
//! accept, with the same status. Regression tests for the three disagreements found, then a
//! property test over random and malformed views. Runs under Miri (fewer cases).
#![warn(clippy::undocumented_unsafe_blocks)]

mod common;
use common::*;

use std::ffi::{c_char, c_int};
use std::ptr::{null, null_mut};

use pybuf::abi::pybuf_buffer;
use pybuf::error::Status;
use pybuf::ffi::buffer::{pybuf_get_pointer, pybuf_is_contiguous, pybuf_release};
use pybuf::ffi::copy::{pybuf_from_contiguous, pybuf_to_contiguous};
use pybuf::ffi::dlpack::pybuf_to_dlpack;
use pybuf::ffi::view::*;

const LAYOUT: c_int = PYBUF_VALIDATE_LAYOUT;

/// A view struct with every field given.
#[allow(clippy::too_many_arguments)]
fn raw(
    buf: *mut u8,
    len: isize,
    itemsize: isize,
    ndim: c_int,
    format: *const c_char,
    shape: *const isize,
    strides: *const isize,
    suboffsets: *const isize,
) -> pybuf_buffer {
    pybuf_buffer {
        buf: buf.cast(),
        obj: null_mut(),
        len,
        itemsize,
        readonly: 0,
        ndim,
        format: format as *mut c_char,
        shape: shape as *mut isize,
        strides: strides as *mut isize,
        suboffsets: suboffsets as *mut isize,
        internal: null_mut(),
    }
}

fn status() -> c_int {
    last().0
}

/// numpy's answer to a request without PyBUF_ND for an empty array: ndim 0, no shape,
/// len 0, itemsize 8. A 0-d view that holds no item, everywhere (defect 8).
#[test]
fn an_empty_0d_view_stays_0d_everywhere() {
    let mut byte = [0u8; 8];
    let v = raw(byte.as_mut_ptr(), 0, 8, 0, c"d".as_ptr(), null(), null(), null());
    // SAFETY: v is a valid view of `byte` (no element); every output is a local.
    unsafe {
        assert_eq!(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, null(), 0), 0);
        assert_eq!(pybuf_is_contiguous(&v, b'F' as c_char), 1);
        expect_ok();
        let mut out = [7u8; 1];
        assert_eq!(pybuf_to_contiguous(out.as_mut_ptr().cast(), &v, 0, b'C' as c_char), 0);
        assert_eq!(pybuf_from_contiguous(&v, out.as_ptr().cast(), 0, b'F' as c_char), 0);
        assert_eq!(out, [7]);
        assert_eq!(pybuf_equal(&v, &v), 1);
        let (mut lo, mut hi) = (-1, -1);
        assert_eq!(pybuf_extent(&v, &mut lo, &mut hi), 0);
        assert_eq!((lo, hi), (0, 0));

        // Dimensions: there are none.
        let mut d = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_slice(&mut d, &v, 0, 0, 1, 1), Status::InvalidArgument as c_int);
        assert_eq!(pybuf_index(&mut d, &v, 0, 0), Status::InvalidArgument as c_int);
        assert_eq!(pybuf_broadcast(&mut d, &v, 0, 3), Status::InvalidArgument as c_int);
        assert!(d.buf.is_null() && d.internal.is_null(), "dst written by a refusal");

        // A transpose or an empty permutation is the same 0-d view.
        assert_eq!(pybuf_transpose(&mut d, &v), 0);
        assert_eq!((d.ndim, d.len, d.itemsize), (0, 0, 8));
        assert!(d.shape.is_null() && d.strides.is_null());
        assert_eq!(std::ffi::CStr::from_ptr(d.format).to_bytes(), b"d");
        let mut dd = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_permute(&mut dd, &d, null()), 0, "a derived empty 0-d view derives again");
        assert_eq!((dd.ndim, dd.len, dd.itemsize), (0, 0, 8));
        pybuf_release(&mut dd);
        pybuf_release(&mut d);

        // It holds no item: nothing to broadcast, cast, read or export to DLPack.
        let shape = [3isize, 5];
        assert_eq!(pybuf_broadcast_to(&mut d, &v, 2, shape.as_ptr()), Status::LengthMismatch as c_int);
        expect_error(Status::LengthMismatch);
        let zero = [0isize];
        assert_eq!(pybuf_cast(&mut d, &v, c"B".as_ptr(), 1, zero.as_ptr()), Status::LengthMismatch as c_int);
        assert_eq!(pybuf_item_fields(&v), 1, "the format still describes an item");
        let mut value = std::mem::zeroed();
        assert_eq!(pybuf_get_item(&v, null(), 0, &mut value), Status::IndexOutOfRange as c_int);
        // The address of index () is buf, as CPython's PyBuffer_GetPointer answers at ndim 0
        // (bindings/python/tests/test_simple_requests.py compares them): no byte is read.
        assert_eq!(pybuf_get_pointer(&v, null()), v.buf);
        let mut t = null_mut();
        assert_eq!(pybuf_to_dlpack(&v, None, null_mut(), &mut t), Status::Unrepresentable as c_int);
        assert!(t.is_null());
        let mut it = null_mut();
        assert_eq!(pybuf_iter_new(&v, b'C' as c_char, &mut it), 0);
        let mut element = null_mut();
        assert_eq!(pybuf_iter_next(it, &mut element, null_mut()), 0, "no element to visit");
        pybuf_iter_free(it);
    }
}

/// The same view with len > 0 is one item of len bytes (the reading the empty one agrees
/// with): 0-d, transposes to itself, broadcasts.
#[test]
fn a_shapeless_0d_view_with_bytes_is_one_item() {
    let mut bytes = [1u8; 16];
    let v = raw(bytes.as_mut_ptr(), 16, 8, 0, c"d".as_ptr(), null(), null(), null());
    // SAFETY: v is a valid view of `bytes`; the outputs are locals.
    unsafe {
        let mut d = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_slice(&mut d, &v, 0, 0, 1, 1), Status::InvalidArgument as c_int);
        assert_eq!(pybuf_transpose(&mut d, &v), 0);
        assert_eq!(d.ndim, 0);
        pybuf_release(&mut d);
        let shape = [3isize, 5];
        assert_eq!(pybuf_broadcast_to(&mut d, &v, 2, shape.as_ptr()), 0);
        assert_eq!((d.ndim, d.len), (2, 15 * 16));
        pybuf_release(&mut d);
    }
}

/// Shape {2^32, 2^32, 0}: a valid empty view whose F-contiguous strides do not fit
/// (defect 9). Every order copies its zero bytes.
#[test]
fn an_empty_view_with_huge_dimensions_copies_in_every_order() {
    let shape = [1isize << 32, 1 << 32, 0];
    let strides = [8isize, 8, 8];
    let mut byte = [0u8; 8];
    let v = raw(byte.as_mut_ptr(), 0, 8, 3, c"d".as_ptr(), shape.as_ptr(), strides.as_ptr(), null());
    let c = raw(byte.as_mut_ptr(), 0, 8, 3, c"d".as_ptr(), shape.as_ptr(), null(), null());
    // SAFETY: valid empty views; the outputs are locals.
    unsafe {
        assert_eq!(pybuf_validate(&v, LAYOUT, null(), 0), 0);
        let mut out = [9u8; 1];
        for order in [b'C', b'F', b'A'] {
            assert_eq!(pybuf_to_contiguous(out.as_mut_ptr().cast(), &v, 0, order as c_char), 0, "{}", order as char);
            assert_eq!(pybuf_from_contiguous(&v, out.as_ptr().cast(), 0, order as c_char), 0);
            assert_eq!(pybuf_to_contiguous(out.as_mut_ptr().cast(), &c, 0, order as c_char), 0);
        }
        assert_eq!(out, [9]);
        let mut d = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_transpose(&mut d, &v), 0);
        pybuf_release(&mut d);
        // A cast to a shape whose C strides do not fit either.
        let flat = [0isize];
        let big = [0isize, 1 << 32, 1 << 32];
        let mut e = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_cast(&mut e, &c, c"B".as_ptr(), 1, flat.as_ptr()), 0);
        assert_eq!(pybuf_cast(&mut d, &e, c"d".as_ptr(), 3, big.as_ptr()), 0);
        assert_eq!(pybuf_is_contiguous(&d, b'C' as c_char), 1);
        pybuf_release(&mut d);
        pybuf_release(&mut e);
    }
}

/// Suboffsets without strides: refused by `pybuf_validate` and by every consumer, with
/// the same status (defect 10).
#[test]
fn suboffsets_without_strides_are_refused_everywhere() {
    let mut mem = [0u8; 64];
    let shape = [2isize, 2];
    let subs = [-1isize, 0];
    let v = raw(mem.as_mut_ptr(), 32, 8, 2, c"d".as_ptr(), shape.as_ptr(), null(), subs.as_ptr());
    let want = Status::InvalidSuboffsets as c_int;
    // SAFETY: a malformed view is refused before its memory is read; outputs are locals.
    unsafe {
        assert_eq!(pybuf_validate(&v, LAYOUT, null(), 0), want);
        assert_eq!(pybuf_is_contiguous(&v, b'C' as c_char), 0);
        assert_eq!(status(), want);
        let idx = [0isize, 0];
        assert!(pybuf_get_pointer(&v, idx.as_ptr()).is_null());
        assert_eq!(status(), want);
        let mut out = [0u8; 32];
        assert_eq!(pybuf_to_contiguous(out.as_mut_ptr().cast(), &v, 32, b'C' as c_char), want);
        let mut d = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_transpose(&mut d, &v), want);
        assert_eq!(pybuf_slice(&mut d, &v, 0, 0, 1, 1), want);
        let mut it = null_mut();
        assert_eq!(pybuf_iter_new(&v, b'C' as c_char, &mut it), want);
        assert_eq!(pybuf_item_fields(&v), -1);
        assert_eq!(status(), want);
    }
}

// -------------------------------------------------------------------------------------
// Property: pybuf_validate accepts exactly what the consumers accept.

/// Storage for one random view: its arrays (with room for any ndim) and its memory.
struct RandomView {
    shape: Vec<isize>,
    strides: Vec<isize>,
    suboffsets: Vec<isize>,
    mem: Vec<u8>,
    view: pybuf_buffer,
}

const FORMATS: [&std::ffi::CStr; 5] = [c"d", c"i", c"B", c"T{", c"3s"];

fn random_view(rng: &mut Rng) -> RandomView {
    let ndim: c_int = [0, 0, 1, 1, 2, 2, 3, -1, 65][rng.below(9)];
    let n = ndim.clamp(0, 66) as usize;
    let itemsize: isize = [8, 8, 4, 1, 3, 0, -1][rng.below(7)];
    let pick_dim = |rng: &mut Rng| [0isize, 1, 2, 3, 3, 2, -1, 1 << 32, 1 << 62][rng.below(9)];
    let shape: Vec<isize> = (0..n.max(1)).map(|_| pick_dim(rng)).collect();
    let pick_stride = |rng: &mut Rng| {
        let base = itemsize.max(1);
        [base, 3 * base, -base, 0, 1, 1 << 40, isize::MIN / 2][rng.below(7)]
    };
    let strides: Vec<isize> = (0..n.max(1)).map(|_| pick_stride(rng)).collect();
    let suboffsets: Vec<isize> = (0..n.max(1)).map(|_| [-1isize, -1, 0, 8][rng.below(4)]).collect();
    let mem = vec![0u8; 256];
    // Mostly the consistent len, sometimes another.
    let items = shape[..n].iter().try_fold(1isize, |a, &d| if d < 0 { None } else { a.checked_mul(d) });
    let good_len = items.and_then(|i| i.checked_mul(itemsize)).unwrap_or(7);
    let len = match rng.below(8) {
        0 => good_len + 1,
        1 => -1,
        2 => 0,
        _ => good_len,
    };
    let mut rv = RandomView {
        shape,
        strides,
        suboffsets,
        mem,
        view: raw(null_mut(), len, itemsize, ndim, null(), null(), null(), null()),
    };
    let v = &mut rv.view;
    v.buf = if rng.below(10) == 0 { null_mut() } else { rv.mem.as_mut_ptr().wrapping_add(64).cast() };
    v.readonly = [0, 0, 1, 2][rng.below(4)];
    v.format = if rng.below(4) == 0 { null_mut() } else { FORMATS[rng.below(FORMATS.len())].as_ptr() as *mut c_char };
    if rng.below(5) != 0 {
        v.shape = rv.shape.as_mut_ptr();
    }
    if rng.below(3) != 0 {
        v.strides = rv.strides.as_mut_ptr();
    }
    if rng.below(4) == 0 {
        v.suboffsets = rv.suboffsets.as_mut_ptr();
    }
    rv
}

#[test]
fn validate_accepts_exactly_what_the_consumers_accept() {
    let mut rng = Rng::new(0x005e_ed12);
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..cases(20_000) {
        let mut rv = random_view(&mut rng);
        let v = &rv.view;
        // SAFETY: every non-NULL array of v has at least ndim entries (or ndim is out of
        // range, which is refused before any array is read); no function below reads the
        // memory of a view with suboffsets, and the memory of the others lies in rv.mem
        // whenever the layout is valid (checked at PYBUF_VALIDATE_MEMORY first).
        unsafe {
            let want = pybuf_validate(v, LAYOUT, null(), 0);
            let what = format!(
                "case {case}: ndim {} itemsize {} len {} shape {} strides {} suboffsets {} buf {}",
                v.ndim,
                v.itemsize,
                v.len,
                !v.shape.is_null(),
                !v.strides.is_null(),
                !v.suboffsets.is_null(),
                !v.buf.is_null()
            );
            if want == 0 {
                accepted += 1;
            } else {
                refused += 1;
            }
            pybuf_is_contiguous(v, b'C' as c_char);
            assert_eq!(status(), want, "is_contiguous, {what}");
            let mut it = null_mut();
            assert_eq!(pybuf_iter_new(v, b'F' as c_char, &mut it), want, "iter_new, {what}");
            pybuf_iter_free(it);
            let mut d = std::mem::zeroed::<pybuf_buffer>();
            let rc = pybuf_transpose(&mut d, v);
            // A transpose refuses nothing else of a valid view, but for reordering
            // dimensions across a pointer read.
            let across_pointers = want == 0 && !v.suboffsets.is_null() && rc == Status::BufferRequest as c_int;
            assert!(rc == want || across_pointers, "transpose returned {rc}, validate {want}: {what}");
            pybuf_release(&mut d);
            let rc = pybuf_permute(&mut d, v, null());
            if want != 0 {
                assert_eq!(rc, want, "permute, {what}");
            }
            pybuf_release(&mut d);
            if v.suboffsets.is_null() {
                let (mut lo, mut hi) = (0, 0);
                assert_eq!(pybuf_extent(v, &mut lo, &mut hi), want, "extent, {what}");
                let inside = pybuf_validate(v, PYBUF_VALIDATE_MEMORY, rv.mem.as_ptr().cast(), rv.mem.len() as isize);
                if want != 0 {
                    assert_eq!(inside, want, "validate at the memory level, {what}");
                }
                if inside == 0 && v.len <= 4096 {
                    let mut out = vec![0u8; v.len.max(0) as usize];
                    assert_eq!(pybuf_to_contiguous(out.as_mut_ptr().cast(), v, v.len, b'F' as c_char), 0, "to_contiguous, {what}");
                    assert_eq!(pybuf_equal(v, v), 1, "equal, {what}");
                } else if want != 0 {
                    let mut out = [0u8; 8];
                    assert_eq!(pybuf_to_contiguous(out.as_mut_ptr().cast(), v, v.len, b'C' as c_char), want, "to_contiguous, {what}");
                }
            }
            if want == 0 && pybuf_validate(v, PYBUF_VALIDATE_FORMAT, null(), 0) == 0 && !v.format.is_null() {
                assert!(pybuf_item_fields(v) >= 1, "item_fields of a valid view, {what}");
            }
            rv.view.format = null_mut();
        }
    }
    // The generator reaches both sides.
    assert!(accepted > cases(20_000) / 10 && refused > cases(20_000) / 10, "accepted {accepted}, refused {refused}");
}
