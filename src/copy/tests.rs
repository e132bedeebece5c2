//! Randomised tests of the copy engine against a naive element-by-element reference.

use super::plan::{Axes, Axis, Inner};
use super::*;
use crate::layout::MAX_NDIM;

/// xorshift64*: a small deterministic generator, so failures reproduce from the seed.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random strided layout: shape, strides, and the offset of element 0 from the start of
/// a buffer of `size` bytes that holds every element.
#[derive(Clone, Debug)]
pub(crate) struct Strided {
    pub shape: Vec<isize>,
    pub strides: Vec<isize>,
    pub offset: isize,
    pub size: usize,
}

pub(crate) fn random_shape(rng: &mut Rng) -> Vec<isize> {
    let ndim = rng.below(5);
    (0..ndim)
        .map(|_| match rng.below(10) {
            0 => 0,
            1 | 2 => 1,
            _ => 2 + rng.below(6) as isize,
        })
        .collect()
}

pub(crate) fn random_strides(rng: &mut Rng, shape: &[isize], itemsize: isize) -> Strided {
    let ndim = shape.len();
    let mut order: Vec<usize> = (0..ndim).collect();
    for i in (1..ndim).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut strides = vec![0isize; ndim];
    let mut sd = itemsize * (1 + rng.below(2) as isize);
    for &k in order.iter().rev() {
        strides[k] = if rng.below(5) == 0 { -sd } else { sd };
        sd *= shape[k].max(1) * (1 + rng.below(2) as isize);
    }
    let (mut lo, mut hi) = (0isize, itemsize);
    for (&n, &s) in shape.iter().zip(&strides) {
        if n > 0 {
            let span = s * (n - 1);
            if span < 0 { lo += span } else { hi += span }
        }
    }
    let slack = rng.below(3) as isize;
    Strided { shape: shape.to_vec(), strides, offset: -lo + slack, size: (hi - lo + 2 * slack) as usize }
}

impl Strided {
    pub fn geom(&self, itemsize: isize) -> Geometry<'_> {
        let len = self.shape.iter().product::<isize>() * itemsize;
        Geometry { len, itemsize, shape: &self.shape, strides: Some(&self.strides), suboffsets: None }
    }
}

/// Every index of `shape` in C order.
pub(crate) fn indices(shape: &[isize]) -> Vec<Vec<isize>> {
    let count: isize = shape.iter().product();
    let mut out = Vec::new();
    let mut index = vec![0isize; shape.len()];
    for _ in 0..count {
        out.push(index.clone());
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

/// The reference: read every source element, then write every destination element.
pub(crate) unsafe fn reference(dst: Side<'_>, src: Side<'_>) {
    let itemsize = src.geom.itemsize as usize;
    let all = indices(src.geom.shape);
    let mut values = Vec::new();
    for ix in &all {
        // SAFETY: the caller's views are valid.
        let p = unsafe { element_ptr(src.ptr, &src.geom, ix) };
        // SAFETY: as above.
        values.extend_from_slice(unsafe { std::slice::from_raw_parts(p, itemsize) });
    }
    for (ix, v) in all.iter().zip(values.chunks(itemsize)) {
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), element_ptr(dst.ptr, &dst.geom, ix), itemsize) };
    }
}

/// `n` random cases, or a few under Miri (which interprets every instruction).
pub(crate) fn cases(n: usize) -> usize {
    if cfg!(miri) { (n / 100).max(4) } else { n }
}

pub(crate) fn pattern(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next() as u8).collect()
}

const ITEMSIZES: [isize; 12] = [1, 2, 3, 4, 8, 12, 16, 24, 5, 7, 32, 10];

#[test]
fn disjoint_copies_match_reference() {
    let mut rng = Rng::new(1);
    for case in 0..cases(3000) {
        let itemsize = ITEMSIZES[rng.below(ITEMSIZES.len())];
        let shape = random_shape(&mut rng);
        let s = random_strides(&mut rng, &shape, itemsize);
        let d = random_strides(&mut rng, &shape, itemsize);
        let src = pattern(&mut rng, s.size);
        let mut got = pattern(&mut rng, d.size);
        let mut want = got.clone();
        let mut src_copy = src.clone();
        // SAFETY: every element of both layouts lies within its buffer.
        unsafe {
            let ss = Side { ptr: src_copy.as_mut_ptr().offset(s.offset), geom: s.geom(itemsize) };
            copy(Side { ptr: got.as_mut_ptr().offset(d.offset), geom: d.geom(itemsize) }, ss).unwrap();
            reference(Side { ptr: want.as_mut_ptr().offset(d.offset), geom: d.geom(itemsize) }, ss);
        }
        assert_eq!(got, want, "case {case}: itemsize {itemsize}, src {s:?}, dst {d:?}");
        assert_eq!(src_copy, src, "case {case}: the source was modified");
    }
}

#[test]
fn overlapping_copies_read_the_source_whole_first() {
    let mut rng = Rng::new(2);
    for case in 0..cases(3000) {
        let itemsize = ITEMSIZES[rng.below(ITEMSIZES.len())];
        let shape = random_shape(&mut rng);
        let s = random_strides(&mut rng, &shape, itemsize);
        let d = random_strides(&mut rng, &shape, itemsize);
        let size = s.size.max(d.size) + 16;
        let shift = rng.below(16) as isize;
        let mut got = pattern(&mut rng, size);
        let mut want = got.clone();
        for (which, buf) in [&mut got, &mut want].into_iter().enumerate() {
            let base = buf.as_mut_ptr();
            // SAFETY: both layouts (the source shifted by < 16 bytes) lie within `size`.
            let (dst, src) = unsafe {
                (
                    Side { ptr: base.offset(d.offset), geom: d.geom(itemsize) },
                    Side { ptr: base.offset(s.offset + shift), geom: s.geom(itemsize) },
                )
            };
            if which == 0 {
                // SAFETY: as above; `copy` allows overlap.
                unsafe { copy(dst, src).unwrap() };
            } else {
                // SAFETY: as above; the reference snapshots the source first.
                unsafe { reference(dst, src) };
            }
        }
        assert_eq!(got, want, "case {case}: itemsize {itemsize}, shift {shift}, src {s:?}, dst {d:?}");
    }
}

#[test]
fn contiguous_round_trips_in_both_orders() {
    let mut rng = Rng::new(3);
    for case in 0..cases(2000) {
        let itemsize = ITEMSIZES[rng.below(ITEMSIZES.len())];
        let shape = random_shape(&mut rng);
        let s = random_strides(&mut rng, &shape, itemsize);
        let mut src = pattern(&mut rng, s.size);
        for order in [Order::C, Order::F, Order::Any] {
            let len = s.geom(itemsize).len as usize;
            let mut got = vec![0u8; len];
            let mut want = vec![0u8; len];
            let eff = effective_order(&s.geom(itemsize), order);
            let mut strides = [0isize; MAX_NDIM];
            crate::layout::contiguous_strides(&shape, itemsize, eff, &mut strides[..shape.len()]).unwrap();
            let cgeom = Geometry { strides: Some(&strides[..shape.len()]), ..s.geom(itemsize) };
            // SAFETY: `src` holds the view; `got`/`want` hold `len` bytes.
            unsafe {
                let sv = Side { ptr: src.as_mut_ptr().offset(s.offset), geom: s.geom(itemsize) };
                to_contiguous(got.as_mut_ptr(), sv, order).unwrap();
                reference(Side { ptr: want.as_mut_ptr(), geom: cgeom }, sv);
            }
            assert_eq!(got, want, "case {case} {order:?}: {s:?}");
            // And back: from_contiguous into a fresh buffer of the same layout.
            let mut back = vec![0u8; s.size];
            let mut expect = vec![0u8; s.size];
            // SAFETY: as above.
            unsafe {
                let dv = Side { ptr: back.as_mut_ptr().offset(s.offset), geom: s.geom(itemsize) };
                from_contiguous(dv, got.as_ptr(), len, order).unwrap();
                let ev = Side { ptr: expect.as_mut_ptr().offset(s.offset), geom: s.geom(itemsize) };
                reference(ev, Side { ptr: want.as_mut_ptr(), geom: cgeom });
            }
            assert_eq!(back, expect, "case {case} {order:?} back: {s:?}");
        }
    }
}

#[test]
fn partial_from_contiguous_fills_a_prefix_in_order() {
    // A 2x3 transposed (F-contiguous) float32 view, filled with 4 items in C order.
    let mut mem = [0u32; 6];
    let shape = [2isize, 3];
    let strides = [4isize, 8];
    let geom = Geometry { len: 24, itemsize: 4, shape: &shape, strides: Some(&strides), suboffsets: None };
    let src: [u32; 4] = [1, 2, 3, 4];
    // SAFETY: `mem` holds the 6 elements; `src` 16 bytes.
    unsafe {
        from_contiguous(Side { ptr: mem.as_mut_ptr().cast(), geom }, src.as_ptr().cast(), 16, Order::C).unwrap();
    }
    // C order visits (0,0) (0,1) (0,2) (1,0): element (i,j) lies at i + 2j.
    assert_eq!(mem, [1, 4, 2, 0, 3, 0]);
    // 'F' order on this F-contiguous view is a plain prefix memcpy of 10 bytes.
    let mut mem = [0u8; 24];
    let bytes: Vec<u8> = (1..=10).collect();
    // SAFETY: as above.
    unsafe {
        from_contiguous(Side { ptr: mem.as_mut_ptr(), geom }, bytes.as_ptr(), 10, Order::F).unwrap();
    }
    assert_eq!(&mem[..10], &bytes[..]);
    assert!(mem[10..].iter().all(|&b| b == 0));
}

#[test]
fn suboffset_views_copy_like_the_reference() {
    // A PIL-style 3x4 array of u16: dim 0 has suboffset 2 into rows stored elsewhere.
    let mut rows: Vec<Vec<u8>> = (0..3).map(|r| (0..10u8).map(|b| b + 16 * r).collect()).collect();
    let mut pointers: Vec<*mut u8> = rows.iter_mut().map(|r| r.as_mut_ptr()).collect();
    let shape = [3isize, 4];
    let strides = [std::mem::size_of::<*mut u8>() as isize, 2];
    let subs = [2isize, -1];
    let geom = Geometry { len: 24, itemsize: 2, shape: &shape, strides: Some(&strides), suboffsets: Some(&subs) };
    let src = Side { ptr: pointers.as_mut_ptr().cast(), geom };
    let mut got = [0u8; 24];
    let mut want = [0u8; 24];
    let cgeom = Geometry { strides: None, suboffsets: None, ..geom };
    // SAFETY: the pointers lead to rows of 10 bytes; element (i, j) is row i, bytes 2+2j.
    unsafe {
        to_contiguous(got.as_mut_ptr(), src, Order::C).unwrap();
        reference(Side { ptr: want.as_mut_ptr(), geom: cgeom }, src);
    }
    assert_eq!(got, want);
    assert_eq!(&got[..4], &[2, 3, 4, 5]);
    assert_eq!(&got[8..10], &[18, 19]);
    // Write back through the suboffsets, in F order.
    let fresh: Vec<u8> = (100..124).collect();
    // SAFETY: as above.
    unsafe { from_contiguous(src, fresh.as_ptr(), 24, Order::F).unwrap() };
    // F order: element (i, j) comes from item i + 3j.
    assert_eq!(&rows[1][2..4], &fresh[2..4]); // (1, 0) is item 1
    assert_eq!(&rows[0][4..6], &fresh[6..8]); // (0, 1) is item 3
}

#[test]
fn plans_drop_flip_order_and_merge() {
    // A C-contiguous 4x5x6 float64 array to itself: one contiguous run.
    let shape = [4isize, 5, 6];
    let c = [240isize, 48, 8];
    let g = Geometry { len: 960, itemsize: 8, shape: &shape, strides: Some(&c), suboffsets: None };
    let mut scratch = Axes::new();
    let plan = Plan::new(&g, &g, &mut scratch);
    assert_eq!(plan.axes(), &[Axis { n: 120, ds: 8, ss: 8 }]);
    assert_eq!(plan.inner(), Inner::Run);
    // Reversed along every axis, with length-1 axes inserted: still one run after flipping.
    let shape = [1isize, 4, 1, 5, 6];
    let rev = [7isize, -240, 99, -48, -8];
    let fwd = [3isize, 240, 5, 48, 8];
    let d = Geometry { len: 960, itemsize: 8, shape: &shape, strides: Some(&rev), suboffsets: None };
    let s = Geometry { strides: Some(&rev), ..d };
    assert_eq!(Plan::new(&d, &s, &mut Axes::new()).axes(), &[Axis { n: 120, ds: 8, ss: 8 }]);
    // Source reversed, destination forward: the source stride stays negative.
    let s = Geometry { strides: Some(&rev), ..d };
    let d = Geometry { strides: Some(&fwd), ..d };
    assert_eq!(Plan::new(&d, &s, &mut Axes::new()).axes(), &[Axis { n: 120, ds: 8, ss: -8 }]);
    // A transpose: axes ordered by destination stride, no merge.
    let shape = [3isize, 4];
    let d = Geometry { len: 96, itemsize: 8, shape: &shape, strides: Some(&[32, 8]), suboffsets: None };
    let s = Geometry { strides: Some(&[8, 24]), ..d };
    let mut scratch = Axes::new();
    let plan = Plan::new(&d, &s, &mut scratch);
    assert_eq!(plan.axes(), &[Axis { n: 3, ds: 32, ss: 8 }, Axis { n: 4, ds: 8, ss: 24 }]);
    assert_eq!(plan.inner(), Inner::Transpose);
    // A strided gather keeps the strided loop: the source's fastest axis is the inner one.
    let d = Geometry { len: 96, itemsize: 8, shape: &shape, strides: Some(&[32, 8]), suboffsets: None };
    let s = Geometry { strides: Some(&[64, 16]), ..d };
    assert_eq!(Plan::new(&d, &s, &mut Axes::new()).inner(), Inner::Strided);
}

/// Transposes of every itemsize class at sizes around the micro-kernel and tile edges,
/// 2-D and with an outer axis, against the reference; through the SIMD kernels and the
/// portable scalar path, with and without streaming stores.
#[test]
fn transposes_match_reference_around_tile_edges() {
    let mut rng = Rng::new(4);
    let sizes: &[isize] = if cfg!(miri) {
        &[1, 2, 3, 5, 8, 9, 16, 17]
    } else {
        &[1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 129, 257, 300]
    };
    for scalar_only in [false, true] {
        super::transpose::force_scalar(scalar_only);
        for &itemsize in &[1isize, 2, 3, 4, 8, 12, 16, 24, 6, 40] {
            for case in 0..if cfg!(miri) { 2 } else { 24 } {
                // Case 0 has whole micro blocks (up to 16 x 16) and edges along both axes.
                let (ni, nj) = if case == 0 { (17, 18) } else { (sizes[rng.below(sizes.len())], sizes[rng.below(sizes.len())]) };
                let outer = 1 + rng.below(3) as isize;
                let shape = [outer, ni, nj];
                // Source: C-contiguous (outer, nj, ni) read transposed; destination C.
                let sstrides = [ni * nj * itemsize, itemsize, ni * itemsize];
                let s = Strided { shape: shape.to_vec(), strides: sstrides.to_vec(), offset: 0, size: (outer * ni * nj * itemsize) as usize };
                let d = Strided { shape: shape.to_vec(), strides: vec![ni * nj * itemsize, nj * itemsize, itemsize], offset: 0, size: s.size };
                let mut src = pattern(&mut rng, s.size);
                let mut got = vec![0u8; d.size];
                let mut want = vec![0u8; d.size];
                // SAFETY: both layouts fill their buffers exactly.
                unsafe {
                    let sv = Side { ptr: src.as_mut_ptr(), geom: s.geom(itemsize) };
                    copy(Side { ptr: got.as_mut_ptr(), geom: d.geom(itemsize) }, sv).unwrap();
                    reference(Side { ptr: want.as_mut_ptr(), geom: d.geom(itemsize) }, sv);
                }
                assert_eq!(got, want, "case {case}: itemsize {itemsize}, shape {shape:?}, scalar {scalar_only}");
                // Streaming stores, directly.
                let t = super::transpose::Transpose {
                    ni: ni as usize, nj: nj as usize, dsi: nj * itemsize, dsj: itemsize, ssi: itemsize, ssj: ni * itemsize,
                };
                let mut streamed = vec![0u8; (ni * nj * itemsize) as usize];
                // SAFETY: one 2-D slice of the same layouts.
                unsafe { super::transpose::run(streamed.as_mut_ptr(), src.as_ptr(), &t, itemsize as usize, true, super::transpose::Staging::Pool) };
                assert_eq!(&streamed[..], &want[..streamed.len()], "streamed, itemsize {itemsize}, {ni}x{nj}");
                // Without the staging buffer (in use), the streamed transpose falls back.
                streamed.fill(0);
                super::transpose::with_stage_taken(|| {
                    // SAFETY: as above.
                    unsafe { super::transpose::run(streamed.as_mut_ptr(), src.as_ptr(), &t, itemsize as usize, true, super::transpose::Staging::Pool) }
                });
                assert_eq!(&streamed[..], &want[..streamed.len()], "fallback, itemsize {itemsize}, {ni}x{nj}");
            }
        }
    }
    super::transpose::force_scalar(false);
}

#[test]
fn mismatched_structures_are_refused() {
    let d = Geometry { len: 24, itemsize: 8, shape: &[3], strides: None, suboffsets: None };
    let s = Geometry { len: 32, itemsize: 8, shape: &[4], strides: None, suboffsets: None };
    let e = check_same_structure(&d, &s).unwrap_err();
    assert_eq!(e.status(), crate::error::Status::ShapeMismatch);
    assert_eq!(e.message(), "destination shape [3] differs from source shape [4]");
    let s = Geometry { len: 12, itemsize: 4, shape: &[3], strides: None, suboffsets: None };
    let e = check_same_structure(&d, &s).unwrap_err();
    assert_eq!(e.message(), "destination itemsize 8 differs from source itemsize 4");
    let b = Geometry { len: 24, itemsize: 8, shape: &[3], strides: Some(&[0]), suboffsets: None };
    assert_eq!(check_no_broadcast(&b).unwrap_err().status(), crate::error::Status::InvalidStrides);
}

/// Views of one layout at two overlapping addresses are copied in place (no temporary)
/// and give the result of reading the whole source first.
#[test]
fn shifted_overlaps_copy_in_place() {
    let mut rng = Rng::new(5);
    let mut in_place = 0;
    for case in 0..cases(3000) {
        let itemsize = ITEMSIZES[rng.below(ITEMSIZES.len())];
        let shape = random_shape(&mut rng);
        let l = random_strides(&mut rng, &shape, itemsize);
        let shift = rng.below(2 * l.size.max(1)) as isize - l.size as isize;
        let size = l.size + 2 * l.size + 8;
        let base = l.size as isize + 4;
        let mut got = pattern(&mut rng, size);
        let mut want = got.clone();
        // SAFETY: both sides lie within `size` bytes (|shift| <= l.size, margins of l.size + 4).
        unsafe {
            let dg = l.geom(itemsize);
            let d = Side { ptr: got.as_mut_ptr().offset(base + l.offset), geom: dg };
            let s = Side { ptr: got.as_mut_ptr().offset(base + l.offset + shift), geom: dg };
            let mut scratch = Axes::new();
            if dg.len > 0 && Plan::new(&dg, &dg, &mut scratch).execute_shifted(
                std::ptr::null_mut::<u8>().wrapping_add(1),
                std::ptr::null::<u8>().wrapping_add(1),
            ) {
                in_place += 1; // (same address: a no-op, only to count eligible layouts)
            }
            copy(d, s).unwrap();
            let wd = Side { ptr: want.as_mut_ptr().offset(base + l.offset), geom: dg };
            let ws = Side { ptr: want.as_mut_ptr().offset(base + l.offset + shift), geom: dg };
            reference(wd, ws);
        }
        assert_eq!(got, want, "case {case}: itemsize {itemsize}, shift {shift}, layout {l:?}");
    }
    assert!(in_place > cases(3000) / 3, "only {in_place} layouts took the in-place path");
}

/// The streamed transpose over several column chunks, with destination rows at every
/// alignment against cache lines (the chunk edges move per row to line boundaries).
#[test]
fn streamed_transposes_across_chunks_and_alignments() {
    let mut rng = Rng::new(6);
    for &itemsize in &[1usize, 2, 4, 8, 16, 3, 24] {
        let shapes: &[(usize, usize)] =
            if cfg!(miri) { &[(5, 40)] } else { &[(1, 1300), (5, 1025), (9, 4100), (64, 700), (65, 1111)] };
        for &(ni, nj) in shapes {
            let nj = nj * 8 / itemsize.max(1); // enough columns for several chunks
            let e = itemsize as isize;
            let src = pattern(&mut rng, ni * nj * itemsize);
            for shift in [0usize, itemsize, 24, 40] {
                // Destination rows of nj + pad items, starting `shift` bytes into the buffer.
                let pad = rng.below(3);
                let dsi = ((nj + pad) * itemsize) as isize;
                let mut got = vec![0u8; shift + ni * dsi as usize + 64];
                let mut want = got.clone();
                let t = super::transpose::Transpose { ni, nj, dsi, dsj: e, ssi: e, ssj: ni as isize * e };
                // SAFETY: source rows j of ni items, destination rows i of nj items, in bounds.
                unsafe {
                    super::transpose::run(got.as_mut_ptr().add(shift), src.as_ptr(), &t, itemsize, true, super::transpose::Staging::Pool);
                    for i in 0..ni {
                        for j in 0..nj {
                            let s = src.as_ptr().add((j * ni + i) * itemsize);
                            let d = want.as_mut_ptr().add(shift + i * dsi as usize + j * itemsize);
                            std::ptr::copy_nonoverlapping(s, d, itemsize);
                        }
                    }
                }
                assert!(got == want, "itemsize {itemsize}, {ni}x{nj}, shift {shift}, pad {pad}");
            }
        }
    }
}

/// Streamed transposes over an outer axis (`run_outer`): runs of destination rows far
/// apart, whose source rows follow one another, as one tiled transpose; tiles that would
/// cross from one run into the next, and destinations not aligned for it (the per-run
/// fallback).
#[test]
fn streamed_transposes_with_an_outer_axis() {
    use super::transpose::{run_outer, Outer, Staging, Transpose};
    let mut rng = Rng::new(61);
    let shapes: &[(usize, usize, usize)] =
        if cfg!(miri) { &[(5, 9, 3)] } else { &[(37, 70, 3), (64, 40, 2), (5, 300, 4), (100, 17, 5), (1, 64, 3)] };
    for &itemsize in &[8usize, 4, 1, 3, 16] {
        let e = itemsize as isize;
        for &(ni, nj, no) in shapes {
            let src = pattern(&mut rng, no * ni * nj * itemsize);
            for (shift, gap) in [(0usize, 0usize), (0, 64), (8, 0), (64, 3)] {
                // Destination rows of whole lines (`direct` wants them aligned), runs `gap`
                // bytes apart beyond their rows; `shift` bytes into a 64-aligned buffer.
                let dsi = (nj * itemsize).div_ceil(64) as isize * 64;
                let dso = ni as isize * dsi + gap as isize;
                let total = shift + no * dso as usize + 64;
                let mut got = vec![0u8; total + 64];
                let base = got.as_mut_ptr().align_offset(64) + shift;
                let mut want = got.clone();
                // Source element (k, i, j) at k*ni*e + i*e + j*no*ni*e: the runs follow one
                // another along each source row.
                let t = Transpose { ni, nj, dsi, dsj: e, ssi: e, ssj: (no * ni) as isize * e };
                let outer = Outer { n: no, ds: dso, ss: ni as isize * e };
                // SAFETY: every (k, i, j) lies in both buffers.
                unsafe {
                    run_outer(got.as_mut_ptr().add(base), src.as_ptr(), &t, outer, itemsize, true, Staging::Pool);
                    for k in 0..no {
                        for i in 0..ni {
                            for j in 0..nj {
                                let s = src.as_ptr().add(((j * no + k) * ni + i) * itemsize);
                                let d = want.as_mut_ptr().add(base + k * dso as usize + i * dsi as usize + j * itemsize);
                                std::ptr::copy_nonoverlapping(s, d, itemsize);
                            }
                        }
                    }
                }
                assert!(got == want, "itemsize {itemsize}, {no} runs of {ni}x{nj}, shift {shift}, gap {gap}");
            }
        }
    }
}

/// Transposes whose source rows or destination rows lie more than 8 MiB apart in all (a
/// block of rows of a large transposed view, as the I/O staging buffer gathers or
/// stores one): the prefetching panel path and the streamed path for far destinations.
#[test]
fn far_transposes_match_reference() {
    let mut rng = Rng::new(17);
    for &itemsize in &[1usize, 2, 4, 8, 16, 3] {
        let (ni, nj) = if cfg!(miri) { (5, 9) } else { (13, 300) };
        let e = itemsize as isize;
        // Source rows (along j) `gap` bytes apart: nj * gap > 8 MiB (streamed) without miri.
        let gap = if cfg!(miri) { ni * itemsize + 8 } else { (32 << 10) + 8 * e as usize };
        let far = pattern(&mut rng, nj * gap);
        let near = pattern(&mut rng, ni * nj * itemsize);
        // Gather: far source, contiguous destination rows of nj items.
        let t = super::transpose::Transpose { ni, nj, dsi: (nj * itemsize) as isize, dsj: e, ssi: e, ssj: gap as isize };
        let mut got = vec![0u8; ni * nj * itemsize];
        let mut want = got.clone();
        // SAFETY: every (i, j) lies in `far` (i * e < gap) and in `got`.
        unsafe {
            super::transpose::run(got.as_mut_ptr(), far.as_ptr(), &t, itemsize, false, super::transpose::Staging::Pool);
            for i in 0..ni {
                for j in 0..nj {
                    std::ptr::copy_nonoverlapping(far.as_ptr().add(j * gap + i * itemsize), want.as_mut_ptr().add((i * nj + j) * itemsize), itemsize);
                }
            }
        }
        assert!(got == want, "gather, itemsize {itemsize}");
        // Store: contiguous source columns, destination rows (along i) `gap` bytes apart.
        let t = super::transpose::Transpose { ni: nj, nj: ni, dsi: gap as isize, dsj: e, ssi: e, ssj: (nj * itemsize) as isize };
        let mut got = far.clone();
        let mut want = far.clone();
        // SAFETY: every (i, j) of the store lies in `got` (j * e < gap) and in `near`.
        unsafe {
            super::transpose::run(got.as_mut_ptr(), near.as_ptr(), &t, itemsize, false, super::transpose::Staging::Pool);
            for i in 0..nj {
                for j in 0..ni {
                    std::ptr::copy_nonoverlapping(near.as_ptr().add((j * nj + i) * itemsize), want.as_mut_ptr().add(i * gap + j * itemsize), itemsize);
                }
            }
        }
        assert!(got == want, "store, itemsize {itemsize}");
    }
}

/// Every transpose kernel (AVX, AVX2, SSE2 and scalar micro-kernels; streamed straight,
/// streamed through the stage with carries, in cache) × itemsizes × destination
/// alignments and row pitches × shapes around the tile, band, block and stage edges,
/// against an element-by-element reference; bytes around and between the destination
/// rows stay untouched.
#[test]
fn transpose_kernels_at_every_alignment_and_edge() {
    let mut rng = Rng::new(18);
    let shapes: &[(usize, usize)] = if cfg!(miri) {
        // (4, 140): rows long enough for whole lines of 1- and 2-byte items, streamed
        // 16 bytes at a time in the SSE2-only run.
        &[(3, 5), (33, 17), (4, 140)]
    } else {
        &[(1, 1), (5, 130), (33, 17), (64, 128), (65, 129), (97, 300), (530, 40), (1030, 20), (40, 1030)]
    };
    let isas: &[u8] = if cfg!(target_arch = "x86_64") { &[0, 1, 2] } else { &[0, 2] };
    for &isa in isas {
        // 0: what the CPU has; 1: SSE2 only; 2: the portable scalar path.
        #[cfg(target_arch = "x86_64")]
        super::transpose::force_sse2(isa == 1);
        super::transpose::force_scalar(isa == 2);
        let itemsizes: &[usize] = if cfg!(miri) { &[1, 2, 3, 4, 8, 16] } else { &[1, 2, 3, 4, 5, 8, 12, 16, 24] };
        for &itemsize in itemsizes {
            for &(ni, nj) in shapes {
                if cfg!(miri) && isa == 1 && itemsize > 2 {
                    continue;
                }
                let e = itemsize;
                let src = pattern(&mut rng, ni * nj * e);
                // Destination rows: tight, padded to 32 or 64 bytes, or odd.
                let tight = nj * e;
                let pitches = [tight, tight.div_ceil(64) * 64, tight.div_ceil(32) * 32 + 32, tight + 7];
                let pitch = pitches[rng.below(pitches.len())];
                let shifts = [0usize, 32, e, 1 + rng.below(63)];
                for &shift in if cfg!(miri) { &shifts[2..] } else { &shifts[..] } {
                    for stream in [true, false] {
                        let size = 128 + shift + ni * pitch;
                        let mut got = pattern(&mut rng, size);
                        let mut want = got.clone();
                        // An aligned start for the destination (64 bytes in), then `shift`.
                        let base = got.as_ptr().align_offset(64) + shift;
                        let t = super::transpose::Transpose {
                            ni, nj, dsi: pitch as isize, dsj: e as isize, ssi: e as isize, ssj: (ni * e) as isize,
                        };
                        // SAFETY: element (i, j) of the source lies at (j * ni + i) * e, of
                        // the destination at base + i * pitch + j * e, within `got`
                        // (base < 128 + shift, pitch >= nj * e).
                        unsafe {
                            super::transpose::run(got.as_mut_ptr().add(base), src.as_ptr(), &t, e, stream, super::transpose::Staging::Pool);
                            for i in 0..ni {
                                for j in 0..nj {
                                    let s = src.as_ptr().add((j * ni + i) * e);
                                    std::ptr::copy_nonoverlapping(s, want.as_mut_ptr().add(base + i * pitch + j * e), e);
                                }
                            }
                        }
                        assert!(
                            got == want,
                            "isa {isa}, itemsize {e}, {ni}x{nj}, pitch {pitch}, shift {shift}, stream {stream}"
                        );
                    }
                }
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    super::transpose::force_sse2(false);
    super::transpose::force_scalar(false);
}
