//! Tests of the innermost-axis kernels (`kernels.rs`) against a byte-by-byte reference:
//! every instruction set up to the CPU's × ordinary and streamed stores × itemsizes 1 to
//! 16, 24, 32 and 40 × source steps of -4 to 4 items (0 included) × destination steps of
//! 1, 2 and -1 items × both bases at every offset in a cache line × lengths 0 to 70 and
//! long ones. Each side lies in an allocation that ends exactly at its last byte (Miri
//! reports any read or write past it); the destination's gaps, its leading pad and (run
//! natively) a trailing guard must be left untouched.
//!
//! Under Miri the same checks run on fewer combinations (it is about 1000 times slower).

use std::alloc::{alloc, dealloc, Layout};

use super as kernels;
use super::Isa;
use crate::copy::tests::Rng;

const SIZES: [usize; 19] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 32, 40];

/// Every instruction set this CPU has (Portable is the path of other architectures).
fn isas() -> Vec<Isa> {
    [Isa::Portable, Isa::Sse2, Isa::Ssse3, Isa::Avx].into_iter().filter(|&i| i <= kernels::isa()).collect()
}

/// A 64-byte aligned heap allocation of exactly `len` bytes (at least 1).
struct Buf {
    ptr: *mut u8,
    layout: Layout,
}

impl Buf {
    fn new(len: usize, rng: &mut Rng) -> Buf {
        let layout = Layout::from_size_align(len.max(1), 64).unwrap();
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc(layout) };
        assert!(!ptr.is_null());
        let mut b = Buf { ptr, layout };
        for x in b.bytes_mut() {
            *x = rng.next() as u8;
        }
        b
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the allocation holds `size` bytes, written before they are read.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: as above; every byte was written by `new`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: allocated by `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

/// Where item 0 of a run of `n` items of `itemsize` bytes with step `step` lies in a buffer
/// that ends at the run's last byte (plus `guard` bytes), item 0 at `align` mod 64:
/// (buffer length, offset of item 0).
fn extent(n: usize, itemsize: usize, step: isize, align: usize, guard: usize) -> (usize, usize) {
    if n == 0 {
        return (align + guard, align);
    }
    let last = (n as isize - 1) * step;
    let (lo, hi) = (last.min(0), last.max(0) + itemsize as isize);
    let pad = (align as isize + lo).rem_euclid(64) as usize; // bytes before the lowest item
    let item0 = pad as isize - lo;
    (pad + (hi - lo) as usize + guard, item0 as usize)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stores {
    Ordinary,
    Streamed,
}

/// One kernel run, checked against the byte-by-byte reference.
#[allow(clippy::too_many_arguments)]
fn check(isa: Isa, stores: Stores, itemsize: usize, ds: isize, ss: isize, n: usize, dalign: usize, salign: usize, rng: &mut Rng) {
    let guard = if cfg!(miri) { 0 } else { 64 };
    let (slen, s0) = extent(n, itemsize, ss, salign, 0);
    let (dlen, d0) = extent(n, itemsize, ds, dalign, guard);
    let src = Buf::new(slen, rng);
    let mut dst = Buf::new(dlen, rng);
    let mut expect = dst.bytes().to_vec();
    for i in 0..n as isize {
        for b in 0..itemsize as isize {
            expect[(d0 as isize + i * ds + b) as usize] = src.bytes()[(s0 as isize + i * ss + b) as usize];
        }
    }
    let (d, s) = (dst.ptr.wrapping_add(d0), src.ptr.wrapping_add(s0).cast_const());
    // SAFETY: every item of both runs lies in its buffer (`extent`), and the buffers are
    // distinct allocations.
    unsafe {
        match stores {
            Stores::Ordinary => kernels::strided_with(isa, d, ds, s, ss, n, itemsize),
            Stores::Streamed => {
                kernels::strided_streamed_with(isa, d, ds, s, ss, n, itemsize);
                kernels::fence();
            }
        }
    }
    if dst.bytes_mut() != &expect[..] {
        let k = dst.bytes().iter().zip(&expect).position(|(a, b)| a != b).unwrap();
        panic!(
            "{stores:?} {isa:?}: itemsize {itemsize}, ds {ds}, ss {ss}, n {n}, dst at {dalign} mod 64, src at {salign} \
             mod 64: first wrong byte at {} from item 0 of dst",
            k as isize - d0 as isize
        );
    }
}

/// Source steps, in items: forwards, backwards, broadcast.
const SS: [isize; 9] = [1, 2, 3, 4, 0, -1, -2, -3, -4];
/// Destination steps, in items.
const DS: [isize; 3] = [1, 2, -1];

#[test]
fn kernel_every_itemsize_step_and_length() {
    let mut rng = Rng::new(17);
    let (sizes, ds, ss, lengths): (&[usize], &[isize], &[isize], Vec<usize>) = if cfg!(miri) {
        (&[3, 5, 8], &DS[..1], &[2, -1, 0], vec![0, 1, 17, 70])
    } else {
        (&SIZES, &DS, &SS, (0..=70).collect())
    };
    for isa in isas() {
        for stores in [Stores::Ordinary, Stores::Streamed] {
            for &itemsize in sizes {
                for &dk in ds {
                    for &sk in ss {
                        for &n in &lengths {
                            let (ds, ss) = (dk * itemsize as isize, sk * itemsize as isize);
                            // Both bases aligned, then both at a random offset in a line.
                            let (da, sa) = (rng.below(64), rng.below(64));
                            check(isa, stores, itemsize, ds, ss, n, da, sa, &mut rng);
                            if !cfg!(miri) {
                                check(isa, stores, itemsize, ds, ss, n, 0, 0, &mut rng);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The SIMD gathers and the streamed lines (a contiguous destination, every other source
/// item): both bases at every offset in a cache line, with heads and tails of every
/// length around the vector widths.
#[test]
fn kernel_step2_every_alignment() {
    let mut rng = Rng::new(18);
    // Every destination offset with a few source offsets, and the other way round.
    let (sizes, lengths, pairs): (&[usize], &[usize], Vec<(usize, usize)>) = if cfg!(miri) {
        (&[1, 2, 3, 4, 8, 16], &[131], vec![(0, 0), (35, 11), (8, 59)])
    } else {
        let pairs = (0..64)
            .flat_map(|a| [0, 1, 7, 32, 63].into_iter().flat_map(move |b| [(a, b), (b, a)]))
            .collect();
        (&SIZES, &[67, 131, 200], pairs)
    };
    for isa in isas() {
        for stores in [Stores::Ordinary, Stores::Streamed] {
            for &itemsize in sizes {
                let (ds, ss) = (itemsize as isize, 2 * itemsize as isize);
                for &(dalign, salign) in &pairs {
                    for &n in lengths {
                        check(isa, stores, itemsize, ds, ss, n, dalign, salign, &mut rng);
                    }
                }
            }
        }
    }
}

/// Long runs: many lines streamed, and the software prefetches of the 3-byte gather
/// reaching past the run's end.
#[test]
fn kernel_long_runs() {
    let mut rng = Rng::new(19);
    let (sizes, lengths): (&[usize], &[usize]) =
        if cfg!(miri) { (&[3], &[300]) } else { (&SIZES, &[1000, 4099, 20_000]) };
    for isa in isas() {
        for stores in [Stores::Ordinary, Stores::Streamed] {
            for &itemsize in sizes {
                for &sk in if cfg!(miri) { &SS[1..2] } else { &SS[..] } {
                    for &n in lengths {
                        if n > 5000 && sk != 2 {
                            continue; // the longest only where whole lines are streamed
                        }
                        let (ds, ss) = (itemsize as isize, sk * itemsize as isize);
                        let (da, sa) = (rng.below(64), rng.below(64));
                        check(isa, stores, itemsize, ds, ss, n, da, sa, &mut rng);
                        if !cfg!(miri) {
                            check(isa, stores, itemsize, ds, ss, n, 0, 0, &mut rng);
                        }
                    }
                }
            }
        }
    }
}

/// Copies through the planner with streamed strided runs (the threshold lowered on this
/// thread): `a[:, ::2]` and `a[:, ::-2]` made contiguous, at shifted bases.
#[test]
fn kernel_streamed_plans() {
    use crate::copy::plan::{Axes, Inner, Plan};
    use crate::layout::Geometry;

    kernels::set_stream_min(0);
    let mut rng = Rng::new(20);
    let sizes: &[usize] = if cfg!(miri) { &[3, 8] } else { &[1, 2, 3, 4, 5, 8, 12, 16, 24] };
    for &itemsize in sizes {
        for (rows, cols) in [(2usize, 70usize), (5, 129)] {
            if cfg!(miri) && rows == 5 {
                continue;
            }
            for (reverse, shift) in [(false, 0usize), (true, 3), (false, 8)] {
                let is = itemsize as isize;
                let shape = [rows as isize, cols as isize];
                // The source: a (rows, 2*cols) C array, every other column (from the right
                // when `reverse`); the destination: C-contiguous, `shift` bytes into its
                // buffer.
                let srow = 2 * cols as isize * is;
                let (sstrides, soff) = if reverse { ([srow, -2 * is], (srow - is) as usize) } else { ([srow, 2 * is], 0) };
                let src = Buf::new(rows * 2 * cols * itemsize, &mut rng);
                let mut dst = Buf::new(shift + rows * cols * itemsize, &mut rng);
                let dstrides = [cols as isize * is, is];
                let len = (rows * cols * itemsize) as isize;
                let sg = Geometry { len, itemsize: is, shape: &shape, strides: Some(&sstrides), suboffsets: None };
                let dg = Geometry { len, itemsize: is, shape: &shape, strides: Some(&dstrides), suboffsets: None };
                let mut scratch = Axes::new();
                let plan = Plan::new(&dg, &sg, &mut scratch);
                assert_eq!(plan.inner(), Inner::Strided);
                // SAFETY: both views lie in their buffers, which are distinct allocations.
                unsafe { plan.execute(dst.ptr.wrapping_add(shift), src.ptr.wrapping_add(soff)) };
                for i in 0..rows {
                    for j in 0..cols {
                        let s = (soff as isize + i as isize * sstrides[0] + j as isize * sstrides[1]) as usize;
                        let d = shift + (i * cols + j) * itemsize;
                        assert_eq!(
                            &dst.bytes_mut()[d..d + itemsize],
                            &src.bytes()[s..s + itemsize],
                            "itemsize {itemsize}, {rows}x{cols}, reverse {reverse}, shift {shift}: item ({i}, {j})"
                        );
                    }
                }
            }
        }
    }
    kernels::set_stream_min(usize::MAX);
}

/// A copy above the real threshold (8 MiB of output), streamed as in production.
#[test]
#[cfg_attr(miri, ignore = "too large for Miri; kernel_streamed_plans covers it there")]
fn kernel_streamed_large_copy() {
    use crate::copy::{copy, Side};
    use crate::layout::Geometry;

    for itemsize in [3usize, 8] {
        let (rows, cols) = (1024usize, (9 << 20) / itemsize / 1024);
        let is = itemsize as isize;
        let shape = [rows as isize, cols as isize];
        let src: Vec<u8> = (0..rows * 2 * cols * itemsize).map(|k| (k * 7 + (k >> 11)) as u8).collect();
        let mut dst = vec![0u8; rows * cols * itemsize];
        let sstrides = [2 * cols as isize * is, 2 * is];
        let dstrides = [cols as isize * is, is];
        let len = (rows * cols * itemsize) as isize;
        let sg = Geometry { len, itemsize: is, shape: &shape, strides: Some(&sstrides), suboffsets: None };
        let dg = Geometry { len, itemsize: is, shape: &shape, strides: Some(&dstrides), suboffsets: None };
        // reach-exempt: a test too large for Miri (ignored there; kernel_streamed_plans runs the
        // same kernels under it).
        // SAFETY: both views lie in their vectors.
        unsafe {
            copy(Side { ptr: dst.as_mut_ptr(), geom: dg }, Side { ptr: src.as_ptr().cast_mut(), geom: sg }).unwrap();
        }
        for i in 0..rows {
            for j in 0..cols {
                let (s, d) = ((i * 2 * cols + 2 * j) * itemsize, (i * cols + j) * itemsize);
                assert_eq!(&dst[d..d + itemsize], &src[s..s + itemsize], "itemsize {itemsize}: item ({i}, {j})");
            }
        }
    }
}
