//! Planning a copy: made once per call, on the stack (no heap allocation, no zeroing of
//! unused dimension slots).

use std::mem::MaybeUninit;

use super::kernels;
use super::transpose::{self, Transpose};
use crate::layout::{Geometry, MAX_NDIM};

/// One axis of the direct (suboffset-free) part of a copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Axis {
    pub n: isize,
    pub ds: isize,
    pub ss: isize,
}

/// How the innermost axis is copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inner {
    /// Both sides contiguous along the innermost axis: one memcpy of `n * itemsize`.
    Run,
    /// A strided loop specialised by itemsize.
    Strided,
    /// A cache-blocked transpose of the innermost axis with the one before it (the
    /// source's fastest axis, moved there by the planner).
    Transpose,
}

/// Up to `MAX_NDIM` axes, of which only the first `len` are initialised: the scratch
/// space a [`Plan`] borrows from its caller's stack frame, so that it is never moved.
pub struct Axes {
    items: [MaybeUninit<Axis>; MAX_NDIM],
    len: usize,
}

impl Axes {
    #[inline]
    pub fn new() -> Axes {
        Axes { items: [const { MaybeUninit::uninit() }; MAX_NDIM], len: 0 }
    }

    #[inline]
    pub(super) fn push(&mut self, a: Axis) {
        self.items[self.len] = MaybeUninit::new(a);
        self.len += 1;
    }

    #[inline]
    pub(super) fn as_mut_slice(&mut self) -> &mut [Axis] {
        // SAFETY: the first `len` items were written by `push`.
        unsafe { std::slice::from_raw_parts_mut(self.items.as_mut_ptr().cast::<Axis>(), self.len) }
    }
}

impl Default for Axes {
    fn default() -> Self {
        Axes::new()
    }
}

/// A copy plan for two geometries of equal shape and itemsize.
///
/// Made on the stack per call by [`super::copy`], or rebuilt from a
/// [`super::prepared::Prepared`] plan's stored parts (a few words, no planning) at each
/// of its executions.
pub struct Plan<'a> {
    pub(super) itemsize: usize,
    /// Leading dimensions walked index by index because a suboffset lies in them.
    pub(super) prefix: usize,
    pub(super) dst: Geometry<'a>,
    pub(super) src: Geometry<'a>,
    /// Base adjustments from flipping negative destination strides.
    pub(super) dst_adjust: isize,
    pub(super) src_adjust: isize,
    /// The direct axes, slowest first, innermost last; at least one.
    pub(super) axes: &'a [Axis],
    /// The kernel of the innermost axis (or two), chosen at planning.
    pub(super) inner: Inner,
    /// Staging buffers owned by a prepared plan, for streamed transposes; `None` takes
    /// them from the global pool ([`transpose::Staging::Pool`]).
    pub(super) stages: Option<&'a transpose::Stages>,
}

impl<'a> Plan<'a> {
    /// Plan a copy of `src` into `dst`; both validated, with the same shape and itemsize
    /// ([`super::check_same_structure`]).
    #[inline]
    pub fn new(dst: &Geometry<'a>, src: &Geometry<'a>, scratch: &'a mut Axes) -> Plan<'a> {
        debug_assert!(super::check_same_structure(dst, src).is_ok());
        let ndim = dst.ndim();
        let prefix = (0..ndim)
            .rev()
            .find(|&k| has_suboffset(dst, k) || has_suboffset(src, k))
            .map_or(0, |k| k + 1);
        let (mut dst_adjust, mut src_adjust) = (0, 0);
        // Collect the direct axes, dropping length-1 ones and flipping negative
        // destination strides (for both sides, so element pairs stay matched).
        scratch.len = 0;
        for k in prefix..ndim {
            let n = dst.shape[k];
            if n == 1 {
                continue;
            }
            let (mut ds, mut ss) = (dst.stride(k), src.stride(k));
            if ds < 0 {
                dst_adjust += ds * (n - 1);
                src_adjust += ss * (n - 1);
                ds = -ds;
                ss = -ss;
            }
            scratch.push(Axis { n, ds, ss });
        }
        let s = dst.itemsize;
        if scratch.len == 0 {
            scratch.push(Axis { n: 1, ds: s, ss: s });
        }
        let all = scratch.as_mut_slice();
        // Order for the destination: largest destination stride outermost; between equal
        // destination strides, the larger source stride outermost.
        all.sort_unstable_by_key(|a| std::cmp::Reverse((a.ds, a.ss.abs())));
        // Merge, in place, an axis into the one outside it when both sides are contiguous
        // across them.
        let mut m = 1;
        for r in 1..all.len() {
            let (outer, ax) = (all[m - 1], all[r]);
            if outer.ds == ax.ds * ax.n && outer.ss == ax.ss * ax.n {
                all[m - 1] = Axis { n: outer.n * ax.n, ds: ax.ds, ss: ax.ss };
            } else {
                all[m] = ax;
                m += 1;
            }
        }
        let axes = &mut all[..m];
        let innermost = axes[m - 1];
        let inner = if innermost.ds == s && innermost.ss == s {
            Inner::Run
        } else {
            // The source's fastest axis, if it is not the innermost one: transpose it with
            // the innermost, after moving it just before it.
            let fastest = (0..m - 1).min_by_key(|&k| axes[k].ss.abs());
            match fastest {
                Some(k)
                    if axes[k].ss.abs() < innermost.ss.abs()
                        && axes[k].ss.abs() <= 4 * s
                        && axes[k].n >= 2
                        && innermost.n >= 2 =>
                {
                    axes[k..m - 1].rotate_left(1);
                    // The outer loops in source order (largest source stride outermost):
                    // consecutive transposes then read on along the same source rows,
                    // which the prefetchers follow, while their destination rows, which
                    // are written with streaming stores, may lie far apart (measured in
                    // one process: 4-D reversed axes f8 64^4 0.45 -> 0.72x memcpy, 3-D
                    // unchanged).
                    axes[..m - 2].sort_unstable_by_key(|a| std::cmp::Reverse((a.ss.abs(), a.ds)));
                    Inner::Transpose
                }
                _ => Inner::Strided,
            }
        };
        Plan { itemsize: s as usize, prefix, dst: *dst, src: *src, dst_adjust, src_adjust, axes, inner, stages: None }
    }

    /// The direct axes after dropping, flipping, ordering and merging (slowest first).
    #[cfg(test)]
    pub(super) fn axes(&self) -> &[Axis] {
        self.axes
    }

    #[cfg(test)]
    pub(super) fn inner(&self) -> Inner {
        self.inner
    }

    /// Run the plan.
    ///
    /// # Safety
    /// `dst` and `src` are the `buf` pointers of the geometries the plan was made from;
    /// every element address of `src` is readable and every one of `dst` writable, and the
    /// bytes they reach are disjoint.
    #[inline]
    pub unsafe fn execute(&self, dst: *mut u8, src: *const u8) {
        if self.dst.len == 0 {
            return;
        }
        // SAFETY: forwarded.
        unsafe {
            if self.prefix == 0 {
                self.direct(self.axes, dst.wrapping_offset(self.dst_adjust), src.wrapping_offset(self.src_adjust))
            } else {
                self.walk_prefix(0, dst, src)
            }
        }
    }

    /// Walk the suboffset prefix, dimension `k` onwards.
    ///
    /// # Safety
    /// As for [`Plan::execute`], with `dst`/`src` the addresses reached after indexing
    /// dimensions `0..k`.
    unsafe fn walk_prefix(&self, k: usize, dst: *mut u8, src: *const u8) {
        if k == self.prefix {
            // SAFETY: forwarded; the adjustments keep pointers on elements of the views.
            return unsafe {
                self.direct(self.axes, dst.wrapping_offset(self.dst_adjust), src.wrapping_offset(self.src_adjust))
            };
        }
        let (ds, ss) = (self.dst.stride(k), self.src.stride(k));
        for i in 0..self.dst.shape[k] {
            let mut d = dst.wrapping_offset(ds * i);
            let mut s = src.wrapping_offset(ss * i);
            // SAFETY: a non-negative suboffset says a pointer is stored at this address
            // (the caller's contract); it may be unaligned in foreign memory.
            unsafe {
                if let Some(off) = suboffset(&self.dst, k) {
                    d = (d as *const *mut u8).read_unaligned().wrapping_offset(off);
                }
                if let Some(off) = suboffset(&self.src, k) {
                    s = (s as *const *const u8).read_unaligned().wrapping_offset(off);
                }
                self.walk_prefix(k + 1, d, s);
            }
        }
    }

    /// Run the part of the plan where direct axis `axis` takes the indices `lo..hi`
    /// (every index of the other axes): the unit of work of a prepared plan's parts.
    ///
    /// # Safety
    /// As for [`Plan::execute`], for the elements of this part; the plan has no suboffset
    /// prefix, and `0 <= lo <= hi <= self.axes[axis].n`.
    pub unsafe fn execute_range(&self, dst: *mut u8, src: *const u8, axis: usize, lo: isize, hi: isize) {
        debug_assert!(self.prefix == 0 && 0 <= lo && lo <= hi && hi <= self.axes[axis].n);
        if self.dst.len == 0 || lo >= hi {
            return;
        }
        let mut local = Axes::new();
        for a in self.axes {
            local.push(*a);
        }
        let axes = local.as_mut_slice();
        let a = axes[axis];
        axes[axis].n = hi - lo;
        let d = dst.wrapping_offset(self.dst_adjust + lo * a.ds);
        let s = src.wrapping_offset(self.src_adjust + lo * a.ss);
        // SAFETY: forwarded; the shortened axis visits the elements of indices lo..hi.
        unsafe { self.direct(axes, d, s) }
    }

    /// Copy the direct axes `axes` (the plan's, or a part of them) from normalised base
    /// pointers.
    ///
    /// # Safety
    /// As for [`Plan::execute`].
    #[inline]
    unsafe fn direct(&self, axes: &[Axis], dst: *mut u8, src: *const u8) {
        let m = axes.len();
        let inner = axes[m - 1];
        let itemsize = self.itemsize;
        let stream = self.dst.len as usize >= transpose::STREAM_BYTES;
        // Strided runs of outputs larger than the caches: streaming stores where they pay.
        let streamed = self.inner == Inner::Strided && kernels::stream_strided(self.dst.len as usize);
        // The axes left to the outer loops: all but the innermost (and the transposed one).
        let mut outer = &axes[..if self.inner == Inner::Transpose { m - 2 } else { m - 1 }];
        // A transpose whose source rows go on along the last outer axis (the source's two
        // fastest axes split in the destination, as in a reversed 4-D permute) takes that
        // axis into the transpose (`transpose::run_outer`).
        let mut fold = transpose::Outer::ONE;
        if let (Inner::Transpose, [.., last]) = (self.inner, outer) {
            // The plan's own axis (a part of a prepared plan may have shortened it).
            let a = self.axes[m - 2];
            if stream && last.ss == a.ss * a.n {
                fold = transpose::Outer { n: last.n as usize, ds: last.ds, ss: last.ss };
                outer = &outer[..outer.len() - 1];
            }
        }
        let unit = |d: *mut u8, s: *const u8| match self.inner {
            // SAFETY: the run is `n` contiguous items on both sides, disjoint by contract.
            Inner::Run => unsafe { std::ptr::copy_nonoverlapping(s, d, inner.n as usize * itemsize) },
            // SAFETY: every visited address is an element of the views.
            Inner::Strided => unsafe {
                if streamed {
                    kernels::strided_streamed(d, inner.ds, s, inner.ss, inner.n as usize, itemsize)
                } else {
                    kernels::strided(d, inner.ds, s, inner.ss, inner.n as usize, itemsize)
                }
            },
            Inner::Transpose => {
                let a = axes[m - 2];
                let t = Transpose { ni: a.n as usize, nj: inner.n as usize, dsi: a.ds, dsj: inner.ds, ssi: a.ss, ssj: inner.ss };
                // SAFETY: every (i, j) of the two axes is an element pair of the views.
                unsafe { transpose::run_outer(d, s, &t, fold, itemsize, stream, self.staging()) }
            }
        };
        // SAFETY: forwarded; the loops visit every index of the outer axes once.
        unsafe { odometer(outer, dst, src, unit) };
        if streamed {
            kernels::fence();
        }
    }
}

impl Plan<'_> {
    /// Where a streamed transpose of this plan finds its staging buffer.
    #[inline]
    fn staging(&self) -> transpose::Staging<'_> {
        match self.stages {
            Some(s) => transpose::Staging::Plan(s),
            None => transpose::Staging::Pool,
        }
    }

    /// Copy between overlapping views that have the same layout at different addresses
    /// (equal strides on both sides, elements in address order), without a temporary:
    /// forwards when the destination lies below the source, backwards otherwise, so that
    /// no source element is overwritten before it is read. Returns false (having done
    /// nothing) for any other pair of views.
    ///
    /// # Safety
    /// As for [`Plan::execute`], except that the two sides may overlap.
    pub unsafe fn execute_shifted(&self, dst: *mut u8, src: *const u8) -> bool {
        if self.prefix > 0 || self.inner == Inner::Transpose {
            return false;
        }
        let axes = self.axes;
        if axes.iter().any(|a| a.ds != a.ss || a.ds <= 0) {
            return false;
        }
        // Address order: each axis steps over everything inside it.
        let mut inside = self.itemsize as isize;
        for a in axes.iter().rev() {
            if a.ds < inside {
                return false;
            }
            inside += a.ds * (a.n - 1);
        }
        let d = dst.wrapping_offset(self.dst_adjust);
        let s = src.wrapping_offset(self.src_adjust);
        if std::ptr::eq(d, s) {
            return true; // the very same elements: nothing to move
        }
        let backwards = (d as usize) > (s as usize);
        let m = axes.len();
        let inner = axes[m - 1];
        let itemsize = self.itemsize;
        // Walk backwards by starting at the last element and negating every step.
        let mut walk = Axes::new();
        let (mut d0, mut s0) = (d, s);
        for a in &axes[..m - 1] {
            if backwards {
                d0 = d0.wrapping_offset(a.ds * (a.n - 1));
                s0 = s0.wrapping_offset(a.ss * (a.n - 1));
                walk.push(Axis { n: a.n, ds: -a.ds, ss: -a.ss });
            } else {
                walk.push(*a);
            }
        }
        let unit = |d: *mut u8, s: *const u8| {
            if self.inner == Inner::Run {
                // SAFETY: a run of `n` items on each side; `copy` allows them to overlap.
                return unsafe { std::ptr::copy(s, d, inner.n as usize * itemsize) };
            }
            for k in 0..inner.n {
                let k = if backwards { inner.n - 1 - k } else { k };
                // SAFETY: item k of the run on each side; `copy` allows overlap.
                unsafe { std::ptr::copy(s.wrapping_offset(k * inner.ss), d.wrapping_offset(k * inner.ds), itemsize) };
            }
        };
        // SAFETY: forwarded; the walk visits every outer index once, in address order.
        unsafe { odometer(walk.as_mut_slice(), d0, s0, unit) };
        true
    }
}

/// Call `unit` at every combination of indices of `axes` (slowest first), innermost fastest.
///
/// # Safety
/// Every pointer pair visited is valid for `unit`.
#[inline(always)]
unsafe fn odometer(axes: &[Axis], dst: *mut u8, src: *const u8, unit: impl Fn(*mut u8, *const u8)) {
    match axes {
        [] => unit(dst, src),
        [a] => {
            let (mut d, mut s) = (dst, src);
            for _ in 0..a.n {
                unit(d, s);
                d = d.wrapping_offset(a.ds);
                s = s.wrapping_offset(a.ss);
            }
        }
        [rest @ .., a] => {
            // Recurse on the slower axes; the fastest outer axis is a plain loop.
            let step = |d: *mut u8, s: *const u8| {
                let (mut d, mut s) = (d, s);
                for _ in 0..a.n {
                    unit(d, s);
                    d = d.wrapping_offset(a.ds);
                    s = s.wrapping_offset(a.ss);
                }
            };
            // SAFETY: forwarded.
            unsafe { odometer_dyn(rest, dst, src, &step) }
        }
    }
}

/// The general odometer, not inlined (three or more outer axes are rare).
///
/// # Safety
/// As for [`odometer`].
unsafe fn odometer_dyn(axes: &[Axis], dst: *mut u8, src: *const u8, unit: &dyn Fn(*mut u8, *const u8)) {
    let mut index = [0isize; MAX_NDIM];
    let (mut d, mut s) = (dst, src);
    loop {
        unit(d, s);
        let mut k = axes.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            index[k] += 1;
            d = d.wrapping_offset(axes[k].ds);
            s = s.wrapping_offset(axes[k].ss);
            if index[k] < axes[k].n {
                break;
            }
            d = d.wrapping_offset(-axes[k].ds * axes[k].n);
            s = s.wrapping_offset(-axes[k].ss * axes[k].n);
            index[k] = 0;
        }
    }
}

fn suboffset(g: &Geometry<'_>, k: usize) -> Option<isize> {
    g.suboffsets.map(|s| s[k]).filter(|&s| s >= 0)
}

fn has_suboffset(g: &Geometry<'_>, k: usize) -> bool {
    suboffset(g, k).is_some()
}
