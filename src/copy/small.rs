//! Small copies: at most [`SMALL_BYTES`] over at most two direct axes, between disjoint
//! sides. The copy is a rectangle of rows and columns ([`Rect`]) whose kernel is chosen
//! once ([`Small::new`]): by a prepared plan when it is made, by a per-call copy in a few
//! comparisons. Running it is one indirect call, with no planning.
//!
//! The kernels: a transpose whose fast axes are contiguous (the destination's along the
//! columns, the source's along the rows, or the reverse) takes the SIMD micro-kernel of
//! its itemsize, one block when the rectangle is exactly one (a 4×4 float64 transpose),
//! else blocks and scalar edges; contiguous rows are copied with `memcpy` (one call when
//! the rows are contiguous too); anything else with the strided loop specialised by
//! itemsize, along the destination's faster axis.

use super::kernels;
use super::transpose::{self, Micro, Transpose};
use crate::layout::{Geometry, Order};

/// Copies up to this many bytes, of at most two dimensions, skip the planner.
pub(crate) const SMALL_BYTES: isize = 4096;

/// The rows and columns of a small copy, with byte strides on each side:
/// `dst[i*ds0 + j*ds1] = src[i*ss0 + j*ss1]` for `i < rows`, `j < cols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rect {
    pub rows: usize,
    pub cols: usize,
    pub ds0: isize,
    pub ds1: isize,
    pub ss0: isize,
    pub ss1: isize,
    pub itemsize: usize,
}

impl Rect {
    /// The rectangle of a copy between validated geometries of equal shapes and itemsizes
    /// with at most two dimensions and no suboffsets (0-D: one item; 1-D: one row).
    #[inline]
    pub(crate) fn of(dst: &Geometry<'_>, src: &Geometry<'_>) -> Rect {
        let e = dst.itemsize;
        let (rows, cols, ds0, ds1, ss0, ss1) = match *dst.shape {
            [] => (1, 1, 0, e, 0, e),
            [n] => (1, n, 0, dst.stride(0), 0, src.stride(0)),
            _ => (dst.shape[0], dst.shape[1], dst.stride(0), dst.stride(1), src.stride(0), src.stride(1)),
        };
        Rect { rows: rows as usize, cols: cols as usize, ds0, ds1, ss0, ss1, itemsize: e as usize }
    }

    /// The rectangle of a copy of the validated geometry `src` (at most two dimensions,
    /// no suboffsets) into contiguous memory in `order` (C or F; 'A' is taken as C).
    #[inline]
    pub(crate) fn into_contiguous(src: &Geometry<'_>, order: Order) -> Rect {
        let e = src.itemsize;
        // n0 * n1 * e is the view's length, which fits.
        let (rows, cols, ds0, ds1, ss0, ss1) = match *src.shape {
            [] => (1, 1, 0, e, 0, e),
            [n] => (1, n, 0, e, 0, src.strides.map_or(e, |s| s[0])),
            [n0, n1, ..] => {
                let (ss0, ss1) = src.strides.map_or((e * n1, e), |s| (s[0], s[1]));
                let (ds0, ds1) = if order == Order::F { (e, e * n0) } else { (e * n1, e) };
                (n0, n1, ds0, ds1, ss0, ss1)
            }
        };
        Rect { rows: rows as usize, cols: cols as usize, ds0, ds1, ss0, ss1, itemsize: e as usize }
    }

    /// Rows and columns exchanged (the same elements).
    #[inline]
    fn swapped(self) -> Rect {
        Rect { rows: self.cols, cols: self.rows, ds0: self.ds1, ds1: self.ds0, ss0: self.ss1, ss1: self.ss0, ..self }
    }

    /// The byte extents `[lo, hi)` of each side relative to its base (as
    /// [`Geometry::extent`] gives them), for a rectangle of at least one element.
    #[inline]
    fn extents(&self) -> ((isize, isize), (isize, isize)) {
        // A validated geometry's itemsize + sum(|stride| * (n - 1)) fits (`validate`), and
        // rows, cols >= 1: nothing here overflows.
        let extent = |s0: isize, s1: isize| {
            let (a, b) = (s0 * (self.rows as isize - 1), s1 * (self.cols as isize - 1));
            (a.min(0) + b.min(0), self.itemsize as isize + a.max(0) + b.max(0))
        };
        (extent(self.ds0, self.ds1), extent(self.ss0, self.ss1))
    }

    /// Whether the bytes the two sides reach from these bases intersect.
    #[inline]
    pub(crate) fn overlaps(&self, dst: *const u8, src: *const u8) -> bool {
        let (d, s) = self.extents();
        super::extents_overlap(dst, d, src, s)
    }

    /// Whether no two destination elements share a byte (a sufficient test: along the
    /// axis of the smaller stride, items at least `itemsize` apart; along the other,
    /// steps beyond the whole span of the first).
    fn dst_distinct(&self) -> bool {
        let e = self.itemsize as u64;
        let axis = |n: usize, s: isize| (n as u64, if n > 1 { s.unsigned_abs() as u64 } else { 0 });
        let (mut a, mut b) = (axis(self.rows, self.ds0), axis(self.cols, self.ds1));
        if a.1 > b.1 {
            std::mem::swap(&mut a, &mut b);
        }
        // Validated geometries: the spans fit in isize, and these sums in u64.
        (a.0 <= 1 || a.1 >= e) && (b.0 <= 1 || b.1 >= a.1 * a.0.saturating_sub(1) + e)
    }

    fn transpose(&self) -> Transpose {
        Transpose { ni: self.rows, nj: self.cols, dsi: self.ds0, dsj: self.ds1, ssi: self.ss0, ssj: self.ss1 }
    }

    /// The strided kernel of this rectangle's itemsize: typed moves for 1, 2, 4, 8 and
    /// 16 bytes, the strided loop (itself specialised) for the others.
    fn scalar_kernel(itemsize: usize) -> Kernel {
        match itemsize {
            1 => Small::typed::<u8>,
            2 => Small::typed::<u16>,
            4 => Small::typed::<u32>,
            8 => Small::typed::<u64>,
            16 => Small::typed::<[u64; 2]>,
            _ => Small::strided,
        }
    }

    /// Copy the rectangle with the typed scalar loop of `T`.
    ///
    /// # Safety
    /// As for [`Kernel`], with `itemsize == size_of::<T>()`.
    #[inline(always)]
    unsafe fn copy_typed<T: Copy>(&self, dst: *mut u8, src: *const u8) {
        for i in 0..self.rows as isize {
            let (mut d, mut s) = (dst.wrapping_offset(i * self.ds0), src.wrapping_offset(i * self.ss0));
            for _ in 0..self.cols {
                // SAFETY: an element of each side (the caller's contract); foreign views
                // need not be aligned.
                unsafe { (d as *mut T).write_unaligned((s as *const T).read_unaligned()) };
                d = d.wrapping_offset(self.ds1);
                s = s.wrapping_offset(self.ss1);
            }
        }
    }
}

/// A small copy's kernel.
///
/// # Safety (of calling one)
/// Every element of the small copy's rectangle is valid for `itemsize` bytes on each side
/// (readable at `src`, writable at `dst`), and the sides are disjoint.
pub(crate) type Kernel = unsafe fn(&Small, *mut u8, *const u8);

/// Which kernel a [`Small`] copy runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// One transpose micro-kernel block: the rectangle is exactly one.
    Block,
    /// Transpose micro-kernel blocks, and scalar edges.
    Blocks,
    /// One `memcpy`.
    Run,
    /// One `memcpy` per row.
    Runs,
    /// The strided loop specialised by itemsize.
    Scalar,
}

/// A small copy with its kernel chosen: run it with [`Small::run`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Small {
    rect: Rect,
    /// The transpose micro-kernel (`Scalar` unless the kernel is a transpose's).
    micro: Micro,
    kind: Kind,
    kernel: Kernel,
}

impl Small {
    /// Choose the kernel for `r` (at least one element, on disjoint sides).
    ///
    /// A destination whose elements alias each other (strides such as `(8, 8)` over
    /// `(2, 2)` items of 8 bytes, which no copy of pybuf's refuses) is copied in C index
    /// order, row by row, as the naive reference does, so that the last write wins the
    /// same way; every other destination takes the fastest kernel, in any order.
    #[inline(always)]
    pub(crate) fn new(r: Rect) -> Small {
        let e = r.itemsize as isize;
        if r.rows > 1 && r.cols > 1 {
            // A transpose: destination fast along the columns and source along the rows,
            // or the reverse (then exchanged). Its destination rows are contiguous, so its
            // elements are distinct when the rows are at least a row apart.
            let t = if r.ds1 == e && r.ss0 == e {
                Some(r)
            } else if r.ds0 == e && r.ss1 == e {
                Some(r.swapped())
            } else {
                None
            };
            if let Some(t) = t.filter(|t| t.ds0.unsigned_abs() >= t.cols * t.itemsize) {
                let micro = Micro::pick(t.itemsize, &t.transpose()).in_cache();
                let m = micro.side();
                if m > 1 && t.rows >= m && t.cols >= m {
                    let kind = if t.rows == m && t.cols == m { Kind::Block } else { Kind::Blocks };
                    return Small { micro, ..Small::with(t, kind) };
                }
            }
        }
        if !r.dst_distinct() {
            return Small::with(r, Kind::Scalar);
        }
        // Along the destination's faster axis.
        let r = if r.rows > 1 && r.ds0.unsigned_abs() < r.ds1.unsigned_abs() { r.swapped() } else { r };
        if r.ds1 == e && r.ss1 == e {
            if r.rows == 1 || (r.ds0 == e * r.cols as isize && r.ss0 == r.ds0) {
                return Small::with(Rect { rows: 1, cols: r.rows * r.cols, ds0: 0, ss0: 0, ..r }, Kind::Run);
            }
            return Small::with(r, Kind::Runs);
        }
        Small::with(r, Kind::Scalar)
    }

    /// `r` with the kernel of `kind` (the micro-kernel left for the caller to set).
    #[inline]
    fn with(rect: Rect, kind: Kind) -> Small {
        let kernel: Kernel = match kind {
            // (`run` hands a single block to the micro-kernel itself.)
            Kind::Block | Kind::Blocks => Small::blocks,
            Kind::Run => Small::run_once,
            Kind::Runs => Small::runs,
            Kind::Scalar => Rect::scalar_kernel(rect.itemsize),
        };
        Small { rect, micro: Micro::Scalar, kind, kernel }
    }

    /// Choose the kernel for `r` and run it at once (a per-call copy).
    ///
    /// # Safety
    /// As for [`Kernel`], for `r`.
    #[inline(always)]
    pub(crate) unsafe fn copy(r: Rect, dst: *mut u8, src: *const u8) {
        // SAFETY: forwarded.
        unsafe { Small::new(r).run(dst, src) }
    }

    /// Copy the rectangle from `dst` and `src`, its bases: a rectangle of exactly one
    /// micro-kernel block (a 4×4 float64 transpose) straight to it, any other through its
    /// kernel.
    ///
    /// # Safety
    /// As for [`Kernel`].
    #[inline(always)]
    pub(crate) unsafe fn run(&self, dst: *mut u8, src: *const u8) {
        if self.kind == Kind::Block {
            // SAFETY: forwarded; `micro` was picked (its CPU feature detected) for these
            // fast axes, and the block is the rectangle.
            return unsafe { transpose::block(self.micro, dst, self.rect.ds0, src, self.rect.ss1) };
        }
        // SAFETY: forwarded.
        unsafe { (self.kernel)(self, dst, src) }
    }

    /// The rectangle (rows and columns possibly exchanged from the one given).
    #[cfg(test)]
    pub(crate) fn rect(&self) -> &Rect {
        &self.rect
    }

    /// The kernel chosen.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// Micro-kernel blocks, then the scalar edges.
    ///
    /// # Safety
    /// As for [`Kernel`], with `self.micro` picked (its CPU feature detected) for this
    /// transpose's fast axes.
    unsafe fn blocks(&self, dst: *mut u8, src: *const u8) {
        let r = &self.rect;
        // The side is a power of two: the rows and columns of whole blocks.
        let m = self.micro.side();
        debug_assert!(m.is_power_of_two());
        let (bi, bj) = (r.rows & !(m - 1), r.cols & !(m - 1));
        for i in (0..bi).step_by(m) {
            for j in (0..bj).step_by(m) {
                let (i, j) = (i as isize, j as isize);
                let d = dst.wrapping_offset(i * r.ds0 + j * r.ds1);
                let s = src.wrapping_offset(i * r.ss0 + j * r.ss1);
                // SAFETY: an m x m block of the rectangle, with `micro` picked for it.
                unsafe { transpose::block(self.micro, d, r.ds0, s, r.ss1) };
            }
        }
        let edge = Rect::scalar_kernel(r.itemsize);
        // The columns right of the blocks in the block rows, then the rows below.
        let right = Rect { rows: bi, cols: r.cols - bj, ..*r };
        let below = Rect { rows: r.rows - bi, ..*r };
        let (bi, bj) = (bi as isize, bj as isize);
        // SAFETY: sub-rectangles of the rectangle.
        unsafe {
            edge(&Small::with(right, Kind::Scalar), dst.wrapping_offset(bj * r.ds1), src.wrapping_offset(bj * r.ss1));
            edge(&Small::with(below, Kind::Scalar), dst.wrapping_offset(bi * r.ds0), src.wrapping_offset(bi * r.ss0));
        }
    }

    /// One contiguous run of `cols` items.
    ///
    /// # Safety
    /// As for [`Kernel`], with one row of contiguous items on both sides.
    unsafe fn run_once(&self, dst: *mut u8, src: *const u8) {
        // SAFETY: forwarded; disjoint.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, self.rect.cols * self.rect.itemsize) }
    }

    /// Rows of contiguous items.
    ///
    /// # Safety
    /// As for [`Kernel`], with rows contiguous on both sides.
    unsafe fn runs(&self, dst: *mut u8, src: *const u8) {
        let r = &self.rect;
        for i in 0..r.rows as isize {
            // SAFETY: row i, contiguous on both sides; disjoint.
            unsafe {
                std::ptr::copy_nonoverlapping(src.wrapping_offset(i * r.ss0), dst.wrapping_offset(i * r.ds0), r.cols * r.itemsize)
            }
        }
    }

    /// # Safety
    /// As for [`Kernel`], with `itemsize == size_of::<T>()`.
    unsafe fn typed<T: Copy>(&self, dst: *mut u8, src: *const u8) {
        // SAFETY: forwarded.
        unsafe { self.rect.copy_typed::<T>(dst, src) }
    }

    /// Row by row with the strided loop (any itemsize).
    ///
    /// # Safety
    /// As for [`Kernel`].
    unsafe fn strided(&self, dst: *mut u8, src: *const u8) {
        let r = &self.rect;
        for i in 0..r.rows as isize {
            // SAFETY: row i of the rectangle.
            unsafe { kernels::strided(dst.wrapping_offset(i * r.ds0), r.ds1, src.wrapping_offset(i * r.ss0), r.ss1, r.cols, r.itemsize) }
        }
    }
}

#[cfg(test)]
#[path = "small_tests.rs"]
mod tests;
