//! Small copies against the naive reference of `copy::tests`: every itemsize 1 to 16 and
//! a few larger and odd ones, rectangles around the micro-kernel sides (one block, blocks
//! with edges, thinner than a block), transposes both ways, contiguous, padded, strided,
//! reversed and aliasing layouts, at shifted base addresses; and the kernel each takes.

use super::*;
use crate::copy::tests::{pattern, reference, Rng};
use crate::copy::Side;

const ITEMSIZES: [usize; 20] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 32, 40, 3];
const SIDES: [usize; 14] = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33];

/// Byte strides `(s0, s1)` of a `rows x cols` layout of `e`-byte items, by variant:
/// C order, F order, padded C and F, reversed, every other item, and (for destinations)
/// aliasing ones.
fn strides(variant: usize, rows: usize, cols: usize, e: usize) -> (isize, isize) {
    let (r, c, e) = (rows as isize, cols as isize, e as isize);
    match variant {
        0 => (c * e, e),
        1 => (e, r * e),
        2 => ((c + 3) * e, e),
        3 => (e, (r + 1) * e),
        4 => (-c * e, -e),
        5 => (-e, r * e),
        6 => (2 * c * e, 2 * e),
        7 => (e, e),  // aliasing: element (i, j) at (i + j) * e
        _ => (0, e),  // aliasing: every row at one place
    }
}

/// A buffer holding a layout with strides `(s0, s1)`, and the offset of element (0, 0)
/// `shift` bytes past the lowest byte the layout reaches.
fn place(rows: usize, cols: usize, e: usize, (s0, s1): (isize, isize), shift: usize) -> (usize, isize) {
    let (a, b) = (s0 * (rows as isize - 1), s1 * (cols as isize - 1));
    let lo = a.min(0) + b.min(0);
    let hi = e as isize + a.max(0) + b.max(0);
    ((hi - lo) as usize + shift + 64, shift as isize - lo)
}

/// Run `r` from `src_variant` into `dst_variant` at the given shifts, three ways (the
/// per-call copy, the chosen kernel through `run`, the kernel pointer itself), and check
/// each against the reference. Returns the kernel chosen.
fn check(r: Rect, rng: &mut Rng, shifts: (usize, usize), what: &str) -> Kind {
    let (rows, cols, e) = (r.rows, r.cols, r.itemsize);
    let (dsize, doff) = place(rows, cols, e, (r.ds0, r.ds1), shifts.0);
    let (ssize, soff) = place(rows, cols, e, (r.ss0, r.ss1), shifts.1);
    let mut src = pattern(rng, ssize);
    let before = pattern(rng, dsize);
    let shape = [rows as isize, cols as isize];
    let (dst_strides, src_strides) = ([r.ds0, r.ds1], [r.ss0, r.ss1]);
    let geom = |strides| Geometry { len: (rows * cols * e) as isize, itemsize: e as isize, shape: &shape, strides: Some(strides), suboffsets: None };
    let mut want = before.clone();
    let sp = src.as_mut_ptr().wrapping_offset(soff);
    // SAFETY: both layouts lie within their buffers at these offsets.
    unsafe {
        reference(Side { ptr: want.as_mut_ptr().wrapping_offset(doff), geom: geom(&dst_strides) }, Side { ptr: sp, geom: geom(&src_strides) })
    };
    let small = Small::new(r);
    for way in 0..3 {
        let mut got = before.clone();
        let dp = got.as_mut_ptr().wrapping_offset(doff);
        // SAFETY: as above; the buffers are distinct.
        unsafe {
            match way {
                0 => Small::copy(r, dp, sp),
                1 => small.run(dp, sp),
                _ => (small.kernel)(&small, dp, sp),
            }
        }
        assert!(got == want, "{what}: way {way}, kind {:?}, {r:?}, shifts {shifts:?}", small.kind());
    }
    small.kind()
}

#[test]
fn small_copies_match_the_reference() {
    let mut rng = Rng::new(31);
    let mut kinds = std::collections::HashMap::new();
    let sides: &[usize] = if cfg!(miri) { &SIDES[..7] } else { &SIDES };
    for &e in &ITEMSIZES {
        for &rows in sides {
            for &cols in sides {
                // (Under Miri, one shape in 16.)
                if rows * cols * e > SMALL_BYTES as usize || (cfg!(miri) && rng.below(16) != 0) {
                    continue;
                }
                // The two transposes, a copy between C layouts, and random pairs.
                let picks = if cfg!(miri) { 1 } else { 5 };
                let pairs: Vec<(usize, usize)> =
                    [(1, 0), (0, 1), (0, 0)].into_iter().chain((0..picks).map(|_| (rng.below(7), rng.below(9)))).collect();
                for (sv, dv) in pairs {
                    let (ss0, ss1) = strides(sv, rows, cols, e);
                    let (ds0, ds1) = strides(dv, rows, cols, e);
                    let r = Rect { rows, cols, ds0, ds1, ss0, ss1, itemsize: e };
                    let shifts = (rng.below(64), rng.below(64));
                    let kind = check(r, &mut rng, shifts, &format!("itemsize {e}, {rows}x{cols}, src {sv}, dst {dv}"));
                    *kinds.entry(kind).or_insert(0) += 1;
                }
            }
        }
    }
    // Every kernel was taken (the transposes' unless the SIMD path is off).
    for kind in [Kind::Run, Kind::Runs, Kind::Scalar] {
        assert!(kinds.contains_key(&kind), "{kind:?} never taken: {kinds:?}");
    }
    if !cfg!(miri) && Micro::pick(8, &Transpose { ni: 4, nj: 4, dsi: 32, dsj: 8, ssi: 8, ssj: 32 }) != Micro::Scalar {
        assert!(kinds.contains_key(&Kind::Block) && kinds.contains_key(&Kind::Blocks), "{kinds:?}");
    }
}

/// The rectangles of 1-D and 0-D copies (one row, one item) and of the 4×4 float64
/// transpose, and the kernels they take.
#[test]
fn rectangles_and_kernels_of_typical_copies() {
    let e = 8isize;
    let shape = [4isize, 4];
    let c = Geometry { len: 128, itemsize: e, shape: &shape, strides: None, suboffsets: None };
    let ts = [8isize, 32];
    let t = Geometry { strides: Some(&ts), ..c };
    let r = Rect::of(&c, &t);
    assert_eq!(r, Rect { rows: 4, cols: 4, ds0: 32, ds1: 8, ss0: 8, ss1: 32, itemsize: 8 });
    assert_eq!(Rect::into_contiguous(&t, Order::C), r);
    let f = Rect::into_contiguous(&t, Order::F);
    assert_eq!(f, Rect { ds0: 8, ds1: 32, ..r });
    let s = Small::new(r);
    // (Another test may force the scalar path for a moment: then no micro-kernel.)
    assert!(s.kind() == Kind::Block || s.micro == Micro::Scalar, "{s:?}");
    // F order of a transposed C array is a contiguous run.
    assert_eq!(Small::new(f).kind(), Kind::Run);
    assert_eq!(Small::new(f).rect().cols, 16);
    // 1-D: one row; 0-D: one item.
    let one = [5isize];
    let st = [-16isize];
    let g = Geometry { len: 40, itemsize: e, shape: &one, strides: Some(&st), suboffsets: None };
    let r = Rect::into_contiguous(&g, Order::F);
    assert_eq!(r, Rect { rows: 1, cols: 5, ds0: 0, ds1: 8, ss0: 0, ss1: -16, itemsize: 8 });
    assert_eq!(Small::new(r).kind(), Kind::Scalar);
    let z = Geometry { len: 8, itemsize: e, shape: &[], strides: None, suboffsets: None };
    let r = Rect::of(&z, &z);
    assert_eq!(r, Rect { rows: 1, cols: 1, ds0: 0, ds1: 8, ss0: 0, ss1: 8, itemsize: 8 });
    assert_eq!(Small::new(r).kind(), Kind::Run);
    // Aliasing destinations keep C index order: the scalar loop over the rectangle as given.
    let a = Rect { rows: 3, cols: 3, ds0: 8, ds1: 8, ss0: 24, ss1: 8, itemsize: 8 };
    assert!(!a.dst_distinct());
    assert_eq!(*Small::new(a).rect(), a);
    assert_eq!(Small::new(a).kind(), Kind::Scalar);
    // Rows exactly a row apart are distinct, closer ones are not.
    assert!(Rect { ds0: 24, ..a }.dst_distinct());
    assert!(!Rect { ds0: 23, ..a }.dst_distinct());
    assert!(Rect { rows: 1, ds0: 0, ..a }.dst_distinct());
    assert!(!Rect { rows: 1, ds0: 0, ds1: 7, ..a }.dst_distinct());
}

/// The scalar path only (as on machines without the SIMD kernels): the same bytes.
#[test]
fn small_transposes_without_simd_match_the_reference() {
    let mut rng = Rng::new(32);
    for &e in &[1usize, 2, 4, 8] {
        for &(rows, cols) in &[(4usize, 4usize), (8, 8), (16, 16), (5, 9), (17, 3)] {
            if rows * cols * e > SMALL_BYTES as usize {
                continue;
            }
            let (ss0, ss1) = strides(1, rows, cols, e);
            let (ds0, ds1) = strides(0, rows, cols, e);
            let r = Rect { rows, cols, ds0, ds1, ss0, ss1, itemsize: e };
            // A rectangle whose micro-kernel field is Scalar, as `Small::new` makes it
            // when the SIMD path is off.
            let scalar = Small::with(r, Kind::Scalar);
            let (dsize, doff) = place(rows, cols, e, (ds0, ds1), 0);
            let (ssize, soff) = place(rows, cols, e, (ss0, ss1), 0);
            let mut src = pattern(&mut rng, ssize);
            let mut got = vec![0u8; dsize];
            let mut want = vec![0u8; dsize];
            let shape = [rows as isize, cols as isize];
            let (dst_strides, src_strides) = ([ds0, ds1], [ss0, ss1]);
            let geom = |strides| Geometry { len: (rows * cols * e) as isize, itemsize: e as isize, shape: &shape, strides: Some(strides), suboffsets: None };
            let sp = src.as_mut_ptr().wrapping_offset(soff);
            // SAFETY: both layouts lie within their buffers.
            unsafe {
                scalar.run(got.as_mut_ptr().wrapping_offset(doff), sp);
                reference(Side { ptr: want.as_mut_ptr().wrapping_offset(doff), geom: geom(&dst_strides) }, Side { ptr: sp, geom: geom(&src_strides) });
            }
            assert_eq!(got, want, "itemsize {e}, {rows}x{cols}");
        }
    }
}
