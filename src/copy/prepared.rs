//! Prepared copy plans: planned once, executed many times at other base addresses, whole,
//! on a few threads of pybuf's own, or part by part on the caller's threads.
//!
//! A [`Prepared`] plan owns what a per-call [`Plan`] borrows (the geometries, the
//! ordered and merged axes, the kernel chosen for the innermost axes) and, for transposes
//! whose output is streamed past the caches, its staging buffers. Executing rebuilds the
//! borrowed [`Plan`] from these parts (a few words: no planning), so a prepared plan and a
//! per-call copy run the same kernels.
//!
//! **Parts.** The work is split along one direct axis, the one with the largest
//! destination stride (the outermost destination axis, or a transpose's destination rows),
//! into [`Prepared::parts`] ranges of about [`PART_BYTES`] of output; for a streamed
//! transpose each range is a multiple of the staging panel's rows. The ranges' ends are
//! moved, at execution, to the first index whose destination bytes start a new 64-byte
//! cache line after the previous index's last byte, so that no two parts write one cache
//! line (a layout where no such index exists, or where the indices interleave, has one
//! part). The ends depend on the destination address, so the parts of one copy must all
//! be given the same `dst`.
//!
//! **Overlap.** A plan is made for disjoint buffers: each execution compares the two
//! extents (a few additions). Overlapping buffers of the same layout (a shifted slice) are
//! copied in place by a whole execution, in the safe direction, on the calling thread; any
//! other overlap, and any overlap given to a part, is refused with nothing written.
//!
//! **Memory and threads.** Executing allocates nothing: the staging buffers are made
//! with the plan (one per concurrent execution: [`DEFAULT_STAGES`], or the thread count if
//! larger); an execution that finds them all in use takes the in-cache transpose, which
//! gives the same bytes. A plan is immutable while it executes (only
//! [`Prepared::set_threads`] changes it), so any number of threads may execute it, or its
//! parts, at once. pybuf starts threads only for a plan whose thread count is above 1, and
//! only for the length of one execution (`std::thread::scope`).

use super::plan::{Axes, Axis, Inner, Plan};
use super::transpose::{self, Stages, Transpose};
use super::small::{Rect, Small};
use crate::error::{Error, Result};
use crate::layout::Geometry;

/// Output bytes of one part, about (parts are whole indices of the split axis).
pub(crate) const PART_BYTES: usize = 512 * 1024;
/// At most this many parts: larger copies get larger parts.
pub(crate) const MAX_PARTS: usize = 4096;
/// Staging buffers a streamed transpose's plan holds when its thread count is below this.
pub(crate) const DEFAULT_STAGES: usize = 2;
/// Parts per thread of a whole execution, at least (parts of [`PART_BYTES`]: 4 MiB).
pub(crate) const THREAD_PARTS: usize = 8;
/// The largest thread count a plan takes.
pub(crate) const MAX_THREADS: usize = 1024;

/// A copy planned once for two geometries, executed at any base addresses.
pub struct Prepared {
    itemsize: usize,
    len: isize,
    shape: Box<[isize]>,
    dst_strides: Box<[isize]>,
    src_strides: Box<[isize]>,
    dst_adjust: isize,
    src_adjust: isize,
    axes: Box<[Axis]>,
    inner: Inner,
    /// Byte extents of each side relative to its base address (`Geometry::extent`).
    dst_extent: (isize, isize),
    src_extent: (isize, isize),
    /// The split axis (an index into `axes`), indices per part, and the parts.
    split: usize,
    grain: isize,
    parts: usize,
    /// Bytes from the first to past the last destination byte of one index of the split
    /// axis (at most its stride when `parts > 1`).
    block: isize,
    threads: usize,
    /// Staging buffers and the bytes of each, for a streamed transpose.
    stages: Option<Stages>,
    stage_bytes: usize,
    /// For copies of at most [`super::SMALL_BYTES`] over at most two direct axes: the
    /// small-copy kernel chosen for them, run from the normalised bases without
    /// rebuilding the plan.
    small: Option<Small>,
}

/// Two raw pointers handed to pybuf's own threads.
#[derive(Clone, Copy)]
struct Bases {
    dst: *mut u8,
    src: *const u8,
}

// SAFETY: the pointers are only used by the threads of one execution, within the scope
// that the caller's contract (`Prepared::execute`) keeps the memory valid for; the
// threads write disjoint parts.
unsafe impl Send for Bases {}
// SAFETY: as above.
unsafe impl Sync for Bases {}

impl Prepared {
    /// Plan a copy of `src` into `dst`: shapes and itemsizes equal
    /// ([`super::check_same_structure`]), no suboffsets on either side (plans refuse
    /// them: `Unrepresentable`), no zero stride in `dst` ([`super::check_no_broadcast`]).
    pub fn new(dst: &Geometry<'_>, src: &Geometry<'_>) -> Result<Prepared> {
        Prepared::build(dst, src, PART_BYTES)
    }

    /// [`Prepared::new`] with parts of about `part_bytes` (tests use small parts to split
    /// small copies).
    fn build(dst: &Geometry<'_>, src: &Geometry<'_>, part_bytes: usize) -> Result<Prepared> {
        super::check_same_structure(dst, src)?;
        super::check_no_broadcast(dst)?;
        for (what, g) in [("dst", dst), ("src", src)] {
            if g.has_suboffsets() {
                return Err(Error::unrepresentable(format_args!(
                    "{what} has suboffsets: copy plans take direct views only (pybuf_copy copies any view)"
                )));
            }
        }
        let mut strides = [[0isize; crate::layout::MAX_NDIM]; 2];
        for (out, g) in strides.iter_mut().zip([dst, src]) {
            for (k, s) in out[..g.ndim()].iter_mut().enumerate() {
                *s = g.stride(k);
            }
        }
        let n = dst.ndim();
        let (shape, dst_strides, src_strides) = (owned(dst.shape)?, owned(&strides[0][..n])?, owned(&strides[1][..n])?);
        let mut scratch = Axes::new();
        let plan = Plan::new(dst, src, &mut scratch);
        let axes = owned(plan.axes)?;
        let (itemsize, len) = (plan.itemsize, dst.len);
        let mut p = Prepared {
            itemsize,
            len,
            dst_adjust: plan.dst_adjust,
            src_adjust: plan.src_adjust,
            inner: plan.inner,
            shape,
            dst_strides,
            src_strides,
            dst_extent: dst.extent().unwrap_or((0, 0)),
            src_extent: src.extent().unwrap_or((0, 0)),
            axes,
            split: 0,
            grain: 1,
            parts: 1,
            block: 0,
            threads: 1,
            stages: None,
            stage_bytes: 0,
            small: None,
        };
        p.split_into_parts(part_bytes);
        p.small = p.small_kernel();
        if let Some(t) = p.transpose().filter(|t| transpose::streams(t, itemsize, len as usize)) {
            p.stage_bytes = transpose::stage_bytes(&t, itemsize);
            p.stages = Some(Stages::new(DEFAULT_STAGES, p.stage_bytes)?);
        }
        Ok(p)
    }

    /// The small-copy kernel, if this copy is one.
    fn small_kernel(&self) -> Option<Small> {
        let axes = &self.axes;
        if self.len == 0 || self.len > super::SMALL_BYTES {
            return None;
        }
        let (outer, inner) = match axes[..] {
            [a] => (Axis { n: 1, ds: 0, ss: 0 }, a),
            [a, b] => (a, b),
            _ => return None,
        };
        Some(Small::new(Rect {
            rows: outer.n as usize,
            cols: inner.n as usize,
            ds0: outer.ds,
            ds1: inner.ds,
            ss0: outer.ss,
            ss1: inner.ss,
            itemsize: self.itemsize,
        }))
    }

    /// The 2-D transpose of the two innermost axes, if that is the kernel.
    fn transpose(&self) -> Option<Transpose> {
        let m = self.axes.len();
        (self.inner == Inner::Transpose).then(|| {
            let (a, b) = (self.axes[m - 2], self.axes[m - 1]);
            Transpose { ni: a.n as usize, nj: b.n as usize, dsi: a.ds, dsj: b.ds, ssi: a.ss, ssj: b.ss }
        })
    }

    /// Choose the split axis, the part size and the part count.
    fn split_into_parts(&mut self, part_bytes: usize) {
        if self.len == 0 {
            return;
        }
        let axes = &self.axes;
        let m = axes.len();
        // The axis with the largest destination stride (all are positive after planning).
        let split = (0..m).fold(0, |best, k| if axes[k].ds > axes[best].ds { k } else { best });
        let a = axes[split];
        let block = self.itemsize as isize
            + (0..m).filter(|&k| k != split).map(|k| axes[k].ds * (axes[k].n - 1)).sum::<isize>();
        if a.n < 2 || block > a.ds {
            return; // one index, or indices whose bytes interleave: one part
        }
        let per_index = (self.len / a.n).max(1) as usize;
        let align = if self.inner == Inner::Transpose && split + 2 == m { transpose::panel_rows(self.itemsize) } else { 1 };
        let round = |g: usize| g.div_ceil(align) * align;
        let n = a.n as usize;
        let mut grain = round(part_bytes.div_ceil(per_index).max(1));
        if n.div_ceil(grain) > MAX_PARTS {
            grain = round(n.div_ceil(MAX_PARTS));
        }
        self.split = split;
        self.grain = grain as isize;
        self.parts = n.div_ceil(grain);
        self.block = block;
    }

    /// The per-call plan these parts make, borrowing from `self`.
    #[inline]
    fn plan(&self) -> Plan<'_> {
        let geom = |strides| Geometry {
            len: self.len,
            itemsize: self.itemsize as isize,
            shape: &self.shape,
            strides: Some(strides),
            suboffsets: None,
        };
        Plan {
            itemsize: self.itemsize,
            prefix: 0,
            dst: geom(&self.dst_strides),
            src: geom(&self.src_strides),
            dst_adjust: self.dst_adjust,
            src_adjust: self.src_adjust,
            axes: &self.axes,
            inner: self.inner,
            stages: self.stages.as_ref(),
        }
    }

    /// Whether the copy moves no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of parts (at least 1).
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// The thread count of whole executions (1 unless set).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Use up to `threads` threads (1 to 1024) in each whole execution, and hold
    /// a staging buffer for as many concurrent executions or parts. Allocates (the
    /// buffers); not to be called while the plan executes.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        if !(1..=MAX_THREADS).contains(&threads) {
            return Err(Error::argument(format_args!("threads = {threads} is not in 1..={MAX_THREADS}")));
        }
        if let Some(stages) = &self.stages {
            if stages.count() < threads {
                self.stages = Some(Stages::new(threads, self.stage_bytes)?);
            }
        }
        self.threads = threads;
        Ok(())
    }

    /// Whether the bytes the two sides reach from these bases intersect.
    #[inline]
    fn overlaps(&self, dst: *const u8, src: *const u8) -> bool {
        super::extents_overlap(dst, self.dst_extent, src, self.src_extent)
    }

    fn overlap_error() -> Error {
        Error::argument(
            "the destination and source memory overlap: a copy plan executes in place only a shifted view of one layout, and only whole (pybuf_copy copies any overlap)",
        )
    }

    /// Copy the whole view: on the calling thread, or on up to [`Prepared::threads`]
    /// threads (the calling one and scoped ones, joined before returning).
    ///
    /// # Safety
    /// `dst + k` is writable for every byte offset `k` of the destination geometry's
    /// elements and `src + k` readable for the source's, for the length of the call; the
    /// two may overlap (see the module's documentation).
    #[inline]
    pub unsafe fn execute(&self, dst: *mut u8, src: *const u8) -> Result<()> {
        if let Some(small) = &self.small {
            if !self.overlaps(dst, src) {
                // SAFETY: forwarded; the small copy is the planned axes from the normalised
                // bases, and the sides are disjoint.
                unsafe { small.run(dst.wrapping_offset(self.dst_adjust), src.wrapping_offset(self.src_adjust)) };
                return Ok(());
            }
        }
        // SAFETY: forwarded.
        unsafe { self.execute_planned(dst, src) }
    }

    /// [`Prepared::execute`] through the plan: anything but a small copy of disjoint sides.
    ///
    /// # Safety
    /// As for [`Prepared::execute`].
    #[inline(never)]
    unsafe fn execute_planned(&self, dst: *mut u8, src: *const u8) -> Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let plan = self.plan();
        if self.overlaps(dst, src) {
            // SAFETY: forwarded; execute_shifted allows overlap.
            return if unsafe { plan.execute_shifted(dst, src) } { Ok(()) } else { Err(Self::overlap_error()) };
        }
        // At most one thread per `THREAD_PARTS` parts of output (4 MiB): starting one
        // costs more than a smaller share of the copy saves (measured: a 2 MiB transpose
        // ran 4x slower on two threads than on one).
        let threads = self.threads.min(self.parts.div_ceil(THREAD_PARTS));
        if threads <= 1 {
            // SAFETY: forwarded; the sides are disjoint (checked above).
            unsafe { plan.execute(dst, src) };
            return Ok(());
        }
        let bases = Bases { dst, src };
        let run = |from: usize, to: usize| {
            let b = bases;
            // Consecutive parts are one range of the split axis: run it in one call, so
            // that a transpose's bands read source rows over the whole range.
            let (lo, hi) = (self.cut(from, b.dst).0, self.cut(to, b.dst).0);
            // SAFETY: forwarded; disjoint sides, and 0 <= lo <= hi <= n of the split axis.
            unsafe { self.plan().execute_range(b.dst, b.src, self.split, lo, hi) };
        };
        let share = |t: usize| t * self.parts / threads;
        std::thread::scope(|scope| {
            for t in 1..threads {
                let (from, to) = (share(t), share(t + 1));
                if std::thread::Builder::new().spawn_scoped(scope, move || run(from, to)).is_err() {
                    run(from, to); // no thread to be had: do its parts here
                }
            }
            run(0, share(1));
        });
        Ok(())
    }

    /// Copy part `part` (`0..parts()`) of the view. Executing every part once, in any
    /// order and on any threads, with the same `dst` and `src`, copies the whole view.
    ///
    /// # Safety
    /// As for [`Prepared::execute`], for the elements of this part.
    pub unsafe fn execute_part(&self, part: usize, dst: *mut u8, src: *const u8) -> Result<()> {
        if part >= self.parts {
            return Err(Error::index(format_args!("part = {part} is not below the plan's {} parts", self.parts)));
        }
        if self.len == 0 {
            return Ok(());
        }
        if self.overlaps(dst, src) {
            return Err(Self::overlap_error());
        }
        // SAFETY: forwarded; the sides are disjoint (checked above).
        unsafe { self.run_part(&self.plan(), part, dst, src) };
        Ok(())
    }

    /// # Safety
    /// As for [`Prepared::execute_part`], with disjoint sides and `part < self.parts`.
    unsafe fn run_part(&self, plan: &Plan<'_>, part: usize, dst: *mut u8, src: *const u8) {
        let (lo, hi) = (self.cut(part, dst).0, self.cut(part + 1, dst).0);
        // SAFETY: forwarded; 0 <= lo <= hi <= n of the split axis.
        unsafe { plan.execute_range(dst, src, self.split, lo, hi) }
    }

    /// The first index of the split axis in part `k` (`k == parts`: its length), and
    /// whether it starts a cache line: the first index from `k * grain` on whose
    /// destination bytes begin in a line after the one holding the previous index's last
    /// byte. Whether an index qualifies depends on its address modulo 64, which repeats
    /// within 64 indices: if none of 64 does, none does (every index straddles a line:
    /// a destination not aligned to 64 bytes whose indices are a multiple of 64 bytes
    /// apart, say), and the part starts at `k * grain`, sharing one line with the part
    /// before it.
    fn cut(&self, k: usize, dst: *const u8) -> (isize, bool) {
        let n = self.axes[self.split].n;
        if k == 0 || k >= self.parts {
            return (if k == 0 { 0 } else { n }, true);
        }
        let ds = self.axes[self.split].ds as usize;
        let base = (dst as usize).wrapping_add(self.dst_adjust as usize);
        let start = (k as isize).saturating_mul(self.grain).min(n);
        (start..n.min(start + 64))
            .find(|&j| {
                let first = base.wrapping_add(j as usize * ds);
                let last_before = first.wrapping_sub(ds).wrapping_add(self.block as usize - 1);
                first / 64 > last_before / 64
            })
            .map_or((start, false), |j| (j, true))
    }
}

/// An owned copy of a slice (shape, strides, axes) for a plan.
fn owned<T: Copy>(v: &[T]) -> Result<Box<[T]>> {
    let mut out = crate::alloc::try_with_capacity(v.len(), "a copy plan")?;
    out.extend_from_slice(v);
    Ok(out.into_boxed_slice())
}

#[cfg(test)]
#[path = "prepared_tests.rs"]
mod tests;
