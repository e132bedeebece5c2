//! Planning a copy: made once per call, on the stack (no heap allocation).

use super::kernels;
use super::transpose::{self, Transpose};
use crate::error::Result;
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
    /// A cache-blocked transpose of the innermost axis with the axis at this index (the
    /// source's fastest), which leaves the outer loops.
    Transpose(usize),
}

/// A copy plan for two geometries of equal shape and itemsize.
pub struct Plan<'a> {
    itemsize: usize,
    /// Leading dimensions walked index by index because a suboffset lies in them.
    prefix: usize,
    dst: Geometry<'a>,
    src: Geometry<'a>,
    dst_strides: [isize; MAX_NDIM],
    src_strides: [isize; MAX_NDIM],
    /// Base adjustments from flipping negative destination strides.
    dst_adjust: isize,
    src_adjust: isize,
    /// The direct axes, slowest first, innermost last; at least one.
    axes: [Axis; MAX_NDIM],
    naxes: usize,
    inner: Inner,
}

impl<'a> Plan<'a> {
    /// Plan a copy of `src` into `dst`; both validated, with the same shape and itemsize.
    pub fn new(dst: &Geometry<'a>, src: &Geometry<'a>) -> Result<Plan<'a>> {
        super::check_same_structure(dst, src)?;
        let mut plan = Plan {
            itemsize: dst.itemsize as usize,
            prefix: 0,
            dst: *dst,
            src: *src,
            dst_strides: [0; MAX_NDIM],
            src_strides: [0; MAX_NDIM],
            dst_adjust: 0,
            src_adjust: 0,
            axes: [Axis::default(); MAX_NDIM],
            naxes: 0,
            inner: Inner::Strided,
        };
        let ndim = dst.ndim();
        dst.strides_or_c(&mut plan.dst_strides);
        src.strides_or_c(&mut plan.src_strides);
        plan.prefix = (0..ndim)
            .rev()
            .find(|&k| has_suboffset(dst, k) || has_suboffset(src, k))
            .map_or(0, |k| k + 1);

        // Collect the direct axes, dropping length-1 ones and flipping negative
        // destination strides (for both sides, so element pairs stay matched).
        let mut m = 0;
        for k in plan.prefix..ndim {
            let n = dst.shape[k];
            if n == 1 {
                continue;
            }
            let (mut ds, mut ss) = (plan.dst_strides[k], plan.src_strides[k]);
            if ds < 0 {
                plan.dst_adjust += ds * (n - 1);
                plan.src_adjust += ss * (n - 1);
                ds = -ds;
                ss = -ss;
            }
            plan.axes[m] = Axis { n, ds, ss };
            m += 1;
        }
        // Order for the destination: largest destination stride outermost; between equal
        // destination strides, the larger source stride outermost.
        plan.axes[..m].sort_unstable_by(|a, b| (b.ds, b.ss.abs()).cmp(&(a.ds, a.ss.abs())));
        // Merge an axis into the one outside it when both sides are contiguous across them.
        let mut merged = 0;
        for i in 0..m {
            let ax = plan.axes[i];
            if merged > 0 {
                let outer = &mut plan.axes[merged - 1];
                if outer.ds == ax.ds * ax.n && outer.ss == ax.ss * ax.n {
                    *outer = Axis { n: outer.n * ax.n, ds: ax.ds, ss: ax.ss };
                    continue;
                }
            }
            plan.axes[merged] = ax;
            merged += 1;
        }
        if merged == 0 {
            let s = plan.itemsize as isize;
            plan.axes[0] = Axis { n: 1, ds: s, ss: s };
            merged = 1;
        }
        plan.naxes = merged;
        let innermost = plan.axes[merged - 1];
        let s = plan.itemsize as isize;
        plan.inner = if innermost.ds == s && innermost.ss == s {
            Inner::Run
        } else {
            // The source's fastest axis, if it is not the innermost one: transpose.
            let (k, fastest) = (0..merged - 1)
                .map(|k| (k, plan.axes[k].ss.abs()))
                .min_by_key(|&(_, ss)| ss)
                .unwrap_or((0, isize::MAX));
            if fastest < innermost.ss.abs() && fastest <= 4 * s && plan.axes[k].n >= 2 && innermost.n >= 2 {
                Inner::Transpose(k)
            } else {
                Inner::Strided
            }
        };
        Ok(plan)
    }

    /// The direct axes after dropping, flipping, ordering and merging (slowest first).
    #[cfg(test)]
    pub(super) fn axes(&self) -> &[Axis] {
        &self.axes[..self.naxes]
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
    pub unsafe fn execute(&self, dst: *mut u8, src: *const u8) {
        if self.dst.len == 0 {
            return;
        }
        // SAFETY: forwarded.
        unsafe { self.walk_prefix(0, dst, src) }
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
                self.direct(dst.wrapping_offset(self.dst_adjust), src.wrapping_offset(self.src_adjust))
            };
        }
        let (ds, ss) = (self.dst_strides[k], self.src_strides[k]);
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

    /// Copy the direct axes from normalised base pointers.
    ///
    /// # Safety
    /// As for [`Plan::execute`].
    unsafe fn direct(&self, dst: *mut u8, src: *const u8) {
        let axes = &self.axes[..self.naxes];
        let inner = axes[self.naxes - 1];
        let itemsize = self.itemsize;
        // The axes left to the outer loops: all but the innermost, and but the transposed one.
        let mut outer = [Axis::default(); MAX_NDIM];
        let mut nouter = 0;
        for (k, ax) in axes[..self.naxes - 1].iter().enumerate() {
            if self.inner != Inner::Transpose(k) {
                outer[nouter] = *ax;
                nouter += 1;
            }
        }
        let stream = self.dst.len as usize >= transpose::STREAM_BYTES;
        let unit = |d: *mut u8, s: *const u8| match self.inner {
            // SAFETY: the run is `n` contiguous items on both sides, disjoint by contract.
            Inner::Run => unsafe { std::ptr::copy_nonoverlapping(s, d, inner.n as usize * itemsize) },
            // SAFETY: every visited address is an element of the views.
            Inner::Strided => unsafe { kernels::strided(d, inner.ds, s, inner.ss, inner.n as usize, itemsize) },
            Inner::Transpose(k) => {
                let a = axes[k];
                let t = Transpose { ni: a.n as usize, nj: inner.n as usize, dsi: a.ds, dsj: inner.ds, ssi: a.ss, ssj: inner.ss };
                // SAFETY: every (i, j) of the two axes is an element pair of the views.
                unsafe { transpose::run(d, s, &t, itemsize, stream) }
            }
        };
        // SAFETY: forwarded; the odometer visits every index of the outer axes once.
        unsafe { odometer(&outer[..nouter], dst, src, unit) }
    }
}

/// Call `unit` at every combination of indices of `axes` (slowest first), innermost fastest.
///
/// # Safety
/// Every pointer pair visited is valid for `unit`.
#[inline(always)]
unsafe fn odometer(axes: &[Axis], dst: *mut u8, src: *const u8, unit: impl Fn(*mut u8, *const u8)) {
    if axes.is_empty() {
        return unit(dst, src);
    }
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
