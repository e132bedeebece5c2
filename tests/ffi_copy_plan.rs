//! Copy plans (`pybuf_copy_plan_*`, src/ffi/copy_plan.rs), called from Rust as a C caller
//! calls them (c_tests/test_copy_plan.c does from C), so that they run under Miri: plans
//! of random strided views executed whole, on two threads, and part by part, at the
//! arrays' own bases and at another pair of arrays of the same layouts, checked element
//! by element (`tests/common`); an empty copy with NULL bases; and every refusal, with
//! `*out` untouched and nothing written.

mod common;
use common::*;

use std::ptr::{null, null_mut};

use pybuf::abi::pybuf_ssize_t;
use pybuf::error::Status;
use pybuf::ffi::copy_plan::*;

/// A plan from `dst` to `src` (the caller frees it).
fn plan(dst: &mut Array, src: &mut Array) -> *mut pybuf_copy_plan {
    let (d, s) = (dst.view(), src.view());
    let mut p = null_mut();
    // SAFETY: valid views; `p` is writable.
    expect_status(unsafe { pybuf_copy_plan_new(&d, &s, 0, &mut p) }, Status::Ok);
    assert!(!p.is_null());
    p
}

/// The base a plan's strides are offsets from: element 0 of the array.
fn base(a: &mut Array) -> *mut std::ffi::c_void {
    a.view().buf
}

#[test]
fn plans_copy_random_views_whole_on_threads_and_by_parts() {
    let mut rng = Rng::new(17);
    for case in 0..cases(150) {
        let ndim = 1 + rng.below(3);
        let shape: Vec<pybuf_ssize_t> = (0..ndim).map(|_| 1 + rng.below(5) as pybuf_ssize_t).collect();
        let itemsize = [1, 2, 4, 8, 12][rng.below(5)];
        let mut src = Array::random(&mut rng, &shape, itemsize);
        let mut dst = Array::random(&mut rng, &shape, itemsize);
        let p = plan(&mut dst, &mut src);
        let want = src.stream(b'C');
        // Another pair of arrays of the same layouts: the plan works at any bases.
        let mut src2 = Array::with_layout(src.data.len(), src.offset, &shape, &src.strides, itemsize, None);
        src2.data.iter_mut().for_each(|b| *b = rng.next() as u8);
        let want2 = src2.stream(b'C');
        let mut dst2 = Array::with_layout(dst.data.len(), dst.offset, &shape, &dst.strides, itemsize, None);
        // SAFETY: (every call) a live plan, and bases whose elements lie in the arrays.
        unsafe {
            expect_status(pybuf_copy_plan_execute(p, base(&mut dst), base(&mut src).cast_const()), Status::Ok);
            assert_eq!(dst.stream(b'C'), want, "case {case}");

            expect_status(pybuf_copy_plan_set_threads(p, 2), Status::Ok);
            expect_status(pybuf_copy_plan_execute(p, base(&mut dst2), base(&mut src2).cast_const()), Status::Ok);
            assert_eq!(dst2.stream(b'C'), want2, "case {case}: two threads");

            let parts = pybuf_copy_plan_parts(p);
            assert!(parts >= 1);
            for part in (0..parts).rev() {
                expect_status(pybuf_copy_plan_execute_part(p, part, base(&mut dst2), base(&mut src).cast_const()), Status::Ok);
            }
            assert_eq!(dst2.stream(b'C'), want, "case {case}: by parts");
            let before = dst2.data.clone();
            expect_status(pybuf_copy_plan_execute_part(p, parts, base(&mut dst2), base(&mut src2).cast_const()), Status::IndexOutOfRange);
            expect_status(pybuf_copy_plan_execute_part(p, -1, base(&mut dst2), base(&mut src2).cast_const()), Status::IndexOutOfRange);
            assert_eq!(dst2.data, before, "refused parts write nothing");
            pybuf_copy_plan_free(p);
        }
    }
}

#[test]
fn empty_copies_take_null_bases() {
    let mut src = Array::c(&[3, 0], 8, None);
    let mut dst = Array::c(&[3, 0], 8, None);
    let p = plan(&mut dst, &mut src);
    // SAFETY: a live plan of a copy of no bytes, freed once.
    unsafe {
        assert_eq!(pybuf_copy_plan_parts(p), 1);
        expect_status(pybuf_copy_plan_execute(p, null_mut(), null()), Status::Ok);
        expect_status(pybuf_copy_plan_execute_part(p, 0, null_mut(), null()), Status::Ok);
        pybuf_copy_plan_free(p);
    }
}

#[test]
fn refusals_leave_out_untouched_and_write_nothing() {
    let mut src = Array::c(&[4, 3], 8, Some("d"));
    let mut dst = Array::c(&[4, 3], 8, Some("d"));
    let (d, s) = (dst.view(), src.view());
    let mut other = Array::c(&[3, 4], 8, Some("d"));
    let o = other.view();
    let mut ro = Array::c(&[4, 3], 8, Some("d"));
    ro.readonly = true;
    let ro_v = ro.view();
    let mut rng = Rng::new(3);
    let mut indirect = Array::indirect(&mut rng, &[4, 3], 8, &[0]);
    let iv = indirect.view();
    let mut bad = s;
    bad.ndim = -1;
    let sentinel = std::ptr::NonNull::<pybuf_copy_plan>::dangling().as_ptr();
    let mut out = sentinel;
    // SAFETY: (every call) NULL or valid views and plans; `out` writable or NULL.
    unsafe {
        for (rc, status) in [
            (pybuf_copy_plan_new(null(), &s, 0, &mut out), Status::NullPointer),
            (pybuf_copy_plan_new(&d, null(), 0, &mut out), Status::NullPointer),
            (pybuf_copy_plan_new(&d, &s, 1, &mut out), Status::InvalidArgument),
            (pybuf_copy_plan_new(&d, &bad, 0, &mut out), Status::InvalidNdim),
            (pybuf_copy_plan_new(&d, &o, 0, &mut out), Status::ShapeMismatch),
            (pybuf_copy_plan_new(&ro_v, &s, 0, &mut out), Status::ReadOnly),
            (pybuf_copy_plan_new(&d, &iv, 0, &mut out), Status::Unrepresentable),
        ] {
            assert_eq!(rc, status as i32, "{:?}", last());
            assert_eq!(out, sentinel);
        }
        expect_status(pybuf_copy_plan_new(&d, &s, 0, null_mut()), Status::NullPointer);

        let p = plan(&mut dst, &mut src);
        let before = dst.data.clone();
        expect_status(pybuf_copy_plan_execute(null(), base(&mut dst), base(&mut src).cast_const()), Status::NullPointer);
        expect_status(pybuf_copy_plan_execute(p, null_mut(), base(&mut src).cast_const()), Status::NullPointer);
        expect_status(pybuf_copy_plan_execute(p, base(&mut dst), null()), Status::NullPointer);
        expect_status(pybuf_copy_plan_execute_part(null(), 0, base(&mut dst), base(&mut src).cast_const()), Status::NullPointer);
        expect_status(pybuf_copy_plan_execute_part(p, 0, null_mut(), base(&mut src).cast_const()), Status::NullPointer);
        assert_eq!(dst.data, before);
        assert_eq!(pybuf_copy_plan_parts(null()), -1);
        expect_error(Status::NullPointer);
        expect_status(pybuf_copy_plan_set_threads(null_mut(), 2), Status::NullPointer);
        for threads in [0, -1, PYBUF_COPY_PLAN_MAX_THREADS + 1] {
            expect_status(pybuf_copy_plan_set_threads(p, threads), Status::InvalidArgument);
        }
        expect_status(pybuf_copy_plan_set_threads(p, PYBUF_COPY_PLAN_MAX_THREADS), Status::Ok);
        expect_status(pybuf_copy_plan_set_threads(p, 1), Status::Ok);
        pybuf_copy_plan_free(p);
        pybuf_copy_plan_free(null_mut());
    }
}
