//! Views: what Python's memoryview does, for any view — derived views (slicing, indexing,
//! sub-views, permuted axes, casts, broadcasting), element values, iteration, equality
//! and validation.
//!
//! - [`Layout`]: an owned geometry (memory address, itemsize, shape, strides,
//!   suboffsets) and the derivations, each of which changes it without copying memory;
//! - [`value`]: decoding and encoding one value of a format code, exact comparisons;
//! - [`item`]: the values of an item, located through the format engine;
//! - [`walk`]: every element in C or Fortran order;
//! - [`equal`]: memoryview `==` for every format;
//! - [`validate`]: checking a foreign view, and the bytes it reaches.
//!
//! # Suboffsets
//!
//! An element address is computed dimension by dimension: add `strides[k] * i[k]`, and
//! where `suboffsets[k] >= 0` read the pointer stored there and add `suboffsets[k]`
//! (PEP 3118). The dimensions up to and including one with a suboffset form a *group*;
//! within a group the additions commute, but nothing may move across a pointer read. So:
//!
//! - an offset applied to dimension `d` (the start of a slice, a fixed index) is added to
//!   the base of `d`'s group: `buf` for the first group, else the suboffset of the last
//!   dimension before `d` that has one. This is what CPython's memoryview and
//!   `_testbuffer` do when they slice a PIL-style array;
//! - indexing a dimension that has a suboffset moves the suboffset to the dimension
//!   before it, when that one has none; indexing dimension 0 reads the pointer at once
//!   (as `_testbuffer` does); indexing a dimension whose predecessor also has a suboffset
//!   is refused, since two pointer reads cannot be merged into one dimension;
//! - permuting axes is possible only within groups (the groups keep their order; the
//!   suboffset of a group goes to its last position). A transpose of a PIL-style image
//!   is therefore refused, where CPython has no transpose at all.

// Sizes, counts and offsets here come from outside input: every operation on them is
// checked, or carries a comment proving its bounds (issue 12).
#![warn(clippy::arithmetic_side_effects)]

pub mod equal;
pub mod item;
pub mod validate;
pub mod value;
pub mod walk;

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::export::Exporter;
use crate::layout::{self, Geometry, Order, MAX_NDIM};

/// One export of a built-in exporter, held by a derived view: counted in
/// `pybuf_exporter_exports` and given back when dropped.
#[derive(Debug)]
pub struct ExportRef(Arc<Exporter>);

impl ExportRef {
    /// Take one more export of `e`.
    pub fn new(e: &Arc<Exporter>) -> ExportRef {
        e.add_export();
        ExportRef(Arc::clone(e))
    }

    /// Another export of the same exporter.
    pub fn again(&self) -> ExportRef {
        ExportRef::new(&self.0)
    }
}

impl Drop for ExportRef {
    fn drop(&mut self) {
        self.0.unexport();
    }
}

/// What a derived view owns, kept in its block: the arrays its `shape`, `strides` and
/// `suboffsets` point to, its NUL-terminated format string, and an export of the exporter
/// of its memory when that is a built-in exporter.
///
/// `Vec`s rather than `Box`es or a `CString`: the view points into them while they move
/// into the block, and moving a `Box` asserts unique access to its contents, which would
/// invalidate those pointers (Miri's Stacked Borrows reports it); moving a `Vec` does not.
#[derive(Debug)]
pub struct Owned {
    pub shape: Vec<isize>,
    pub strides: Vec<isize>,
    pub suboffsets: Option<Vec<isize>>,
    pub format: Option<Vec<u8>>,
    pub export: Option<ExportRef>,
    /// A share of what owns the memory when it is not a built-in exporter (a DLPack
    /// tensor the source view was imported from): the tensor's deleter runs only after
    /// the last view of it, derived ones included, is released.
    pub shared: Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
}

/// A slice bound or step that may be absent (Python's `None`).
pub type Bound = Option<isize>;

/// The indices a slice selects: `(start, step, length)` after Python's rules
/// (`slice.indices` / `PySlice_Unpack` + `PySlice_AdjustIndices`): a missing step is 1;
/// a missing start is the first index in the direction of the step, a missing stop one
/// past the last; negative bounds count from the end; bounds are clamped to the
/// dimension (to `-1` and `n - 1` for a negative step). `start` may be `n` or `-1` when
/// the slice is empty.
pub fn slice_indices(n: isize, start: Bound, stop: Bound, step: Bound) -> Result<(isize, isize, isize)> {
    let step = match step {
        None => 1,
        Some(0) => return Err(Error::argument("step = 0: a slice step cannot be zero")),
        // -isize::MAX, so that negating the step cannot overflow (CPython does the same).
        Some(s) => s.max(-isize::MAX),
    };
    let back = step < 0;
    let clamp = |b: isize| -> isize {
        if b < 0 {
            // b < 0 <= n: the sum cannot overflow.
            let b = b.saturating_add(n);
            if b < 0 {
                if back { -1 } else { 0 }
            } else {
                b
            }
        } else if b >= n {
            // n >= 0: n - 1 cannot overflow.
            if back { n.saturating_sub(1) } else { n }
        } else {
            b
        }
    };
    let start = clamp(start.unwrap_or(if back { isize::MAX } else { 0 }));
    let stop = clamp(stop.unwrap_or(if back { isize::MIN } else { isize::MAX }));
    // Both bounds are clamped to -1..=n, so the spans below are in 0..n; the divisor is at
    // least 1 (step is at least -isize::MAX): nothing overflows or saturates.
    let values = |span: isize, by: isize| span.checked_div(by).map_or(0, |q| q.saturating_add(1));
    let len = if back {
        if stop < start { values(start.saturating_sub(stop).saturating_sub(1), step.saturating_neg()) } else { 0 }
    } else if start < stop {
        values(stop.saturating_sub(start).saturating_sub(1), step)
    } else {
        0
    };
    Ok((start, step, len))
}

/// The owned geometry of a view: where element 0 is, and how to reach the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub buf: *mut u8,
    pub itemsize: isize,
    pub shape: Vec<isize>,
    /// Always one entry per dimension (C-contiguous strides are filled in).
    pub strides: Vec<isize>,
    pub suboffsets: Option<Vec<isize>>,
    pub readonly: bool,
}

impl Layout {
    /// The layout of a validated geometry at `buf`.
    pub fn new(buf: *mut u8, geom: &Geometry<'_>, readonly: bool) -> Layout {
        let mut sbuf = [0isize; MAX_NDIM];
        Layout {
            buf,
            itemsize: geom.itemsize,
            shape: geom.shape.to_vec(),
            strides: geom.strides_or_c(&mut sbuf).to_vec(),
            suboffsets: geom.suboffsets.map(<[isize]>::to_vec),
            readonly,
        }
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// product(shape) * itemsize: 0 when any dimension is 0, however large the others
    /// (a broadcast may make them so); -1 if it overflows (which validation refuses).
    pub fn len(&self) -> isize {
        if self.is_empty() {
            return 0;
        }
        self.shape.iter().try_fold(self.itemsize, |a, &n| a.checked_mul(n)).unwrap_or(-1)
    }

    pub fn is_empty(&self) -> bool {
        self.shape.contains(&0)
    }

    /// The geometry, borrowing the arrays.
    pub fn geometry(&self) -> Geometry<'_> {
        Geometry {
            len: self.len(),
            itemsize: self.itemsize,
            shape: &self.shape,
            strides: Some(&self.strides),
            suboffsets: self.suboffsets.as_deref(),
        }
    }

    fn check_dim(&self, dim: isize) -> Result<usize> {
        if dim < 0 || dim as usize >= self.ndim() {
            return Err(Error::argument(format_args!(
                "dim = {dim} is out of range for ndim = {}",
                self.ndim()
            )));
        }
        Ok(dim as usize)
    }

    /// The last dimension before `dim` that has a suboffset: the one whose suboffset is
    /// the base of `dim`'s group (`None`: `buf` is).
    fn group_base(&self, dim: usize) -> Option<usize> {
        let subs = self.suboffsets.as_ref()?;
        (0..dim).rev().find(|&k| {
            crate::work::step(1);
            subs[k] >= 0
        })
    }

    /// Add `offset` bytes to the base of `dim`'s group.
    fn shift(&mut self, dim: usize, offset: isize) -> Result<()> {
        self.shift_base(self.group_base(dim), offset)
    }

    /// Add `offset` bytes to the base of a group: `buf` (`None`) or the suboffset of
    /// dimension `base`.
    fn shift_base(&mut self, base: Option<usize>, offset: isize) -> Result<()> {
        match base {
            None => self.buf = self.buf.wrapping_offset(offset),
            Some(k) => {
                let subs = self.suboffsets.as_mut().expect("group_base found a suboffset");
                let moved = subs[k].checked_add(offset).ok_or_else(|| {
                    Error::overflow(format_args!("suboffsets[{k}] = {} + {offset} overflows", subs[k]))
                })?;
                if moved < 0 {
                    // PEP 3118 reads a negative suboffset as "no pointer here": the view
                    // would address the pointer table itself.
                    return Err(Error::request(format_args!(
                        "suboffsets[{k}] = {} + {offset} would be negative, which PEP 3118 reads as no pointer",
                        subs[k]
                    )));
                }
                subs[k] = moved;
            }
        }
        Ok(())
    }

    /// `strides[dim] * i`, checked.
    fn offset_of(&self, dim: usize, i: isize) -> Result<isize> {
        self.strides[dim].checked_mul(i).ok_or_else(|| {
            Error::overflow(format_args!("strides[{dim}] = {} times {i} overflows", self.strides[dim]))
        })
    }

    /// Slice dimension `dim` with Python's rules (see [`slice_indices`]).
    ///
    /// The start moves `buf` (or, with suboffsets, the base of the dimension's group) by
    /// `strides[dim] * start`, even when the slice is empty, as CPython does; the stride
    /// becomes `strides[dim] * step` (or stays as it was when that overflows and the
    /// result has at most one element, where a stride is never used).
    pub fn slice(&mut self, dim: isize, start: Bound, stop: Bound, step: Bound) -> Result<()> {
        let d = self.check_dim(dim)?;
        let (start, step, len) = slice_indices(self.shape[d], start, stop, step)?;
        let offset = self.offset_of(d, start)?;
        let stride = match self.strides[d].checked_mul(step) {
            Some(s) => s,
            None if len <= 1 => self.strides[d],
            None => {
                return Err(Error::overflow(format_args!(
                    "strides[{d}] = {} times step {step} overflows",
                    self.strides[d]
                )))
            }
        };
        self.shift(d, offset)?;
        self.shape[d] = len;
        self.strides[d] = stride;
        Ok(())
    }

    /// Fix dimension `dim` at `index` (negative counts from the end, as in Python) and
    /// drop it. See the module documentation for suboffsets.
    ///
    /// When dimension 0 has a suboffset and the view has elements, the pointer stored at
    /// `buf + strides[0] * index` is read. A view without elements reads nothing (its
    /// pointers need not exist) and keeps its `buf`, where `_testbuffer` reads the
    /// pointer anyway.
    ///
    /// # Safety
    /// The pointer read must be readable (it is for any valid view whose elements are).
    pub unsafe fn index(&mut self, dim: isize, index: isize) -> Result<()> {
        let d = self.check_dim(dim)?;
        let n = self.shape[d];
        let i = if index < 0 { index.wrapping_add(n) } else { index };
        if i < 0 || i >= n {
            return Err(Error::index(format_args!("index = {index} is out of range for shape[{d}] = {n}")));
        }
        let offset = self.offset_of(d, i)?;
        let sub = self.suboffsets.as_ref().map_or(-1, |s| s[d]);
        if sub < 0 {
            self.shift(d, offset)?;
        } else if d == 0 {
            if !self.is_empty() {
                let slot = self.buf.wrapping_offset(offset);
                // SAFETY: the caller guarantees that the pointer slot is readable; it may
                // be unaligned in foreign memory.
                let p = unsafe { (slot as *const *mut u8).read_unaligned() };
                self.buf = p.wrapping_offset(sub);
            }
        } else {
            // d > 0 in this branch.
            let prev = d.saturating_sub(1);
            let before = self.suboffsets.as_ref().map_or(-1, |s| s[prev]);
            if before >= 0 {
                return Err(Error::request(format_args!(
                    "cannot index dim {d}: it has suboffsets[{d}] = {sub} and dimension {} has suboffsets[{}] = \
                     {before}, so the two pointer reads cannot be merged into one dimension",
                    prev,
                    prev,
                )));
            }
            // The offset goes to the base of the group (which d - 1 shares), and the
            // pointer is then read after dimension d - 1.
            self.shift(d, offset)?;
            if let Some(subs) = self.suboffsets.as_mut() {
                subs[prev] = sub;
            }
        }
        self.remove(d);
        Ok(())
    }

    fn remove(&mut self, d: usize) {
        self.shape.remove(d);
        self.strides.remove(d);
        if let Some(s) = self.suboffsets.as_mut() {
            s.remove(d);
        }
    }

    /// The block `start[k] .. start[k] + shape[k]` of every dimension (`ndim` entries each):
    /// no clamping, every bound must lie within the dimension.
    pub fn subview(&mut self, start: &[isize], shape: &[isize]) -> Result<()> {
        let ndim = self.ndim();
        debug_assert!(start.len() == ndim && shape.len() == ndim);
        for k in 0..ndim {
            crate::work::step(1);
            let n = self.shape[k];
            let (s, m) = (start[k], shape[k]);
            if m < 0 {
                return Err(Error::shape(format_args!("shape[{k}] = {m} is negative")));
            }
            // 0 <= s <= n when n - s is reached: it cannot overflow.
            if s < 0 || s > n || m > n.saturating_sub(s) {
                return Err(Error::index(format_args!(
                    "start[{k}] = {s} with shape[{k}] = {m} is out of range for the source's shape[{k}] = {n}"
                )));
            }
        }
        // The base of dimension k's group, found as k goes (not searched per dimension:
        // that made a view with suboffsets quadratic in its dimensions).
        let mut base = None;
        for k in 0..ndim {
            crate::work::step(1);
            let offset = self.offset_of(k, start[k])?;
            self.shift_base(base, offset)?;
            self.shape[k] = shape[k];
            if self.suboffsets.as_ref().is_some_and(|s| s[k] >= 0) {
                base = Some(k);
            }
        }
        Ok(())
    }

    /// Reorder the axes: dimension `k` of the result is dimension `axes[k]` of `self`
    /// (`ndim` entries, a permutation of `0..ndim`; numpy's `transpose(axes)`). With
    /// suboffsets, see the module documentation.
    pub fn permute(&mut self, axes: &[isize]) -> Result<()> {
        let ndim = self.ndim();
        debug_assert_eq!(axes.len(), ndim);
        let mut seen = [usize::MAX; MAX_NDIM];
        for (k, &a) in axes.iter().enumerate() {
            crate::work::step(1);
            if a < 0 || a as usize >= ndim {
                return Err(Error::argument(format_args!("axes[{k}] = {a} is out of range for ndim = {ndim}")));
            }
            let first = &mut seen[a as usize];
            if *first != usize::MAX {
                return Err(Error::argument(format_args!("axes[{k}] = {a} repeats axes[{}]", *first)));
            }
            *first = k;
        }
        let axes: Vec<usize> = axes.iter().map(|&a| a as usize).collect();
        let suboffsets = match &self.suboffsets {
            None => None,
            Some(subs) => Some(permute_suboffsets(subs, &axes)?),
        };
        self.shape = axes.iter().map(|&a| self.shape[a]).collect();
        self.strides = axes.iter().map(|&a| self.strides[a]).collect();
        self.suboffsets = suboffsets;
        Ok(())
    }

    /// Reverse the axes (numpy's `.T`).
    pub fn transpose(&mut self) -> Result<()> {
        let axes: Vec<isize> = (0..self.ndim() as isize).rev().collect();
        self.permute(&axes)
    }

    /// Give dimension `dim`, of length 1, the length `length` and stride 0: every index
    /// reads the same element. A dimension that already has `length` is left as it is.
    /// The result is read-only, as numpy's `broadcast_to`: a write through it would
    /// change several elements.
    pub fn broadcast(&mut self, dim: isize, length: isize) -> Result<()> {
        let d = self.check_dim(dim)?;
        if length < 0 {
            return Err(Error::shape(format_args!("length = {length} is negative")));
        }
        let n = self.shape[d];
        if n != length {
            if n != 1 {
                return Err(Error::mismatch(format_args!(
                    "shape[{d}] = {n} cannot be broadcast to {length}: only a dimension of length 1 can"
                )));
            }
            self.shape[d] = length;
            self.strides[d] = 0;
        }
        self.readonly = true;
        Ok(())
    }

    /// numpy's `broadcast_to(shape)`: the dimensions are matched from the last; each
    /// must equal the target or be 1 (then its stride becomes 0); new leading dimensions
    /// get stride 0. The result is read-only, as in numpy.
    pub fn broadcast_to(&mut self, shape: &[isize]) -> Result<()> {
        let (old, new) = (self.ndim(), shape.len());
        if new > MAX_NDIM {
            return Err(Error::ndim(format_args!("ndim = {new} is greater than {MAX_NDIM}")));
        }
        if let Some(k) = shape.iter().position(|&n| n < 0) {
            return Err(Error::shape(format_args!("shape[{k}] = {} is negative", shape[k])));
        }
        if new < old {
            return Err(Error::mismatch(format_args!(
                "cannot broadcast {old} dimensions to {new}: broadcasting only adds dimensions"
            )));
        }
        // new >= old (checked above); lead + k < new below.
        let lead = new.saturating_sub(old);
        let mut strides = vec![0isize; new];
        for k in 0..old {
            crate::work::step(1);
            let (n, m) = (self.shape[k], shape[lead.saturating_add(k)]);
            strides[lead.saturating_add(k)] = if n == m {
                self.strides[k]
            } else if n == 1 {
                0
            } else {
                return Err(Error::mismatch(format_args!(
                    "source shape[{k}] = {n} cannot be broadcast to shape[{}] = {m}: it must be equal or 1",
                    lead.saturating_add(k)
                )));
            };
        }
        if let Some(subs) = self.suboffsets.as_mut() {
            let mut s = vec![-1isize; lead];
            s.append(subs);
            *subs = s;
        }
        self.shape = shape.to_vec();
        self.strides = strides;
        self.readonly = true;
        Ok(())
    }

    /// Reinterpret the memory of a C-contiguous view as items of `itemsize` bytes laid
    /// out C-contiguously in `shape`, or, when `shape` is `None`, in one dimension of
    /// `len / itemsize` items (memoryview.cast without a shape). Any number of dimensions
    /// on either side (memoryview casts only 1-D to N-D or N-D to 1-D), empty views
    /// included (memoryview refuses views with zeros in the shape); product(shape) *
    /// itemsize must equal `len`.
    pub fn cast(&self, itemsize: isize, shape: Option<&[isize]>) -> Result<Layout> {
        if self.suboffsets.is_some() {
            return Err(Error::request("casts are restricted to C-contiguous views: the source has suboffsets"));
        }
        if !self.geometry().is_contiguous(Order::C) {
            return Err(Error::request(format_args!(
                "casts are restricted to C-contiguous views: the source has shape {:?} and strides {:?}",
                self.shape, self.strides
            )));
        }
        if itemsize <= 0 {
            return Err(Error::itemsize(format_args!("itemsize = {itemsize} is not positive")));
        }
        let len = self.len();
        let shape = match shape {
            None => {
                // itemsize > 0 (checked above): neither overflows.
                if len.checked_rem(itemsize) != Some(0) {
                    return Err(Error::length(format_args!(
                        "len = {len} is not a multiple of the new itemsize {itemsize}"
                    )));
                }
                vec![len.checked_div(itemsize).unwrap_or(0)]
            }
            Some(shape) => {
                if shape.len() > MAX_NDIM {
                    return Err(Error::ndim(format_args!("ndim = {} is greater than {MAX_NDIM}", shape.len())));
                }
                let items = layout::item_count(shape)?;
                let bytes = items.checked_mul(itemsize).ok_or_else(|| {
                    Error::overflow(format_args!("product(shape) = {items} times itemsize {itemsize} overflows"))
                })?;
                if bytes != len {
                    return Err(Error::length(format_args!(
                        "product(shape) * itemsize = {items} * {itemsize} = {bytes} but the source's len = {len}"
                    )));
                }
                shape.to_vec()
            }
        };
        let mut strides = vec![0; shape.len()];
        // product(shape) * itemsize = len fits: only an empty shape's strides can overflow.
        layout::contiguous_strides_of_valid(&shape, itemsize, Order::C, &mut strides);
        Ok(Layout { buf: self.buf, itemsize, shape, strides, suboffsets: None, readonly: self.readonly })
    }
}

/// The suboffsets after permuting the axes (`axes` a permutation), or an error when the
/// permutation moves a dimension across a pointer read.
fn permute_suboffsets(subs: &[isize], axes: &[usize]) -> Result<Vec<isize>> {
    // group[k]: the number of pointer reads before dimension k.
    let mut group = Vec::with_capacity(subs.len());
    let mut reads = Vec::new(); // the dimensions with a suboffset, in order
    for (k, &s) in subs.iter().enumerate() {
        crate::work::step(1);
        group.push(reads.len());
        if s >= 0 {
            reads.push(k);
        }
    }
    for (prev, pair) in axes.windows(2).enumerate() {
        crate::work::step(1);
        let (a, b) = (pair[0], pair[1]);
        // An index into axes: below its length.
        let w = prev.saturating_add(1);
        if group[a] > group[b] {
            let read = reads[group[b]];
            return Err(Error::request(format_args!(
                "axes[{}] = {a} cannot come before axes[{w}] = {b}: dimension {read} has suboffsets[{read}] = {}, \
                 and no dimension can move across that pointer read",
                prev,
                subs[read]
            )));
        }
    }
    let mut out = vec![-1isize; axes.len()];
    for (pos, &a) in axes.iter().enumerate() {
        crate::work::step(1);
        let g = group[a];
        // pos < axes.len(): the next index does not overflow.
        let last_of_group = axes.get(pos.saturating_add(1)).is_none_or(|&next| group[next] != g);
        if last_of_group && g < reads.len() {
            out[pos] = subs[reads[g]];
        }
    }
    Ok(out)
}
