//! A view's elements as a byte stream, in the order of a transfer, cut into units that a
//! vectored call can move: the plan (made once) and the cursor (where the transfer is).
//!
//! The stream is the bytes `pybuf_to_contiguous` would produce for the order. It is
//! walked in row-major order over the view's dimensions, reversed for column-major
//! (suboffsets forbid that reversal: their pointers are followed in dimension order, so
//! a column-major stream of a view with suboffsets is walked element by element).
//!
//! Three ways to cut it, chosen by the length of the longest contiguous run:
//! - [`Mode::Runs`]: runs of at least [`MIN_RUN`] bytes; each is an iovec pointing into the
//!   view's memory, many per call;
//! - [`Mode::Staged`]: shorter runs; a unit is a block of whole rows of one dimension,
//!   gathered into (or scattered from) a staging buffer of at most [`STAGE`] bytes by the
//!   copy engine;
//! - [`Mode::Items`]: column-major with suboffsets; a unit is up to `per` elements,
//!   located one by one (or a single element moved directly when elements are large).

use crate::copy::{self, Side};
use crate::error::Result;
use crate::layout::{Geometry, Order};

/// Runs of at least this many bytes are moved straight from (into) the view's memory; a
/// shorter run costs the kernel more per iovec than a copy through the staging buffer
/// (measured on 64 MiB of runs written to tmpfs: direct iovecs lose below 256 bytes, win
/// from 512 bytes on).
pub(crate) const MIN_RUN: usize = 512;

/// The staging buffer's size: the most a transfer allocates beyond its own bookkeeping.
pub(crate) const STAGE: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Dimensions `j..` form runs of `run` bytes; a unit is one run.
    Runs { j: usize, run: usize },
    /// A unit is up to `rows` indices of dimension `d`, each a block of `block` bytes.
    Staged { d: usize, block: usize, rows: usize },
    /// Column-major over a view with suboffsets: a unit is up to `per` elements; `direct`
    /// when one element is a unit moved in place.
    Items { per: usize, direct: bool },
}

/// The plan of a stream: the view in stream order and how it is cut.
#[derive(Debug)]
pub struct Plan {
    buf: *mut u8,
    itemsize: usize,
    shape: Vec<isize>,
    strides: Vec<isize>,
    /// Empty when the view has none.
    suboffsets: Vec<isize>,
    pub total: u64,
    pub mode: Mode,
}

// SAFETY: a plan only carries the address of memory its creator vouched for; reading and
// writing it is the transfer's business, which the C contract makes the caller's.
unsafe impl Send for Plan {}
// SAFETY: shared access reads only the owned fields; the memory behind `buf` is touched
// through `gather`/`scatter` on units that the pipeline hands to one thread at a time.
unsafe impl Sync for Plan {}

impl Plan {
    /// The stream of the valid view `geom` at `buf` in `order` ('A' as
    /// `pybuf_to_contiguous` decides it), with runs of `min_run` bytes or more moved in
    /// place and a staging buffer of at most `stage` bytes ([`MIN_RUN`] and [`STAGE`];
    /// tests use small ones to cross many unit boundaries).
    pub fn with_limits(buf: *mut u8, geom: &Geometry<'_>, order: Order, min_run: usize, stage: usize) -> Plan {
        let order = copy::effective_order(geom, order);
        let mut sbuf = [0isize; crate::layout::MAX_NDIM];
        let strides = geom.strides_or_c(&mut sbuf);
        let mut shape = geom.shape.to_vec();
        let mut strides = strides.to_vec();
        let suboffsets = geom.suboffsets.map(<[isize]>::to_vec).unwrap_or_default();
        let itemsize = geom.itemsize as usize;
        let total = geom.len as u64;
        if order == Order::F && !suboffsets.is_empty() {
            let direct = itemsize >= min_run;
            let per = if direct { 1 } else { (stage / itemsize).max(1) };
            return Plan { buf, itemsize, shape, strides, suboffsets, total, mode: Mode::Items { per, direct } };
        }
        if order == Order::F {
            shape.reverse();
            strides.reverse();
        }
        let n = shape.len();
        // The longest suffix of dimensions that is one contiguous run.
        let mut j = n;
        let mut run = itemsize;
        for k in (0..n).rev() {
            if suboffsets.get(k).is_some_and(|&s| s >= 0) {
                break;
            }
            if shape[k] == 1 {
                j = k;
                continue;
            }
            if strides[k] as usize != run || strides[k] <= 0 {
                break;
            }
            run *= shape[k] as usize;
            j = k;
        }
        let mode = if run >= min_run || total == 0 {
            Mode::Runs { j, run }
        } else {
            // The outermost dimension whose index blocks fit the stage (the last one does:
            // its blocks are single items, and items are below MIN_RUN here).
            let mut block = itemsize;
            let mut d = n.saturating_sub(1);
            for k in (0..n).rev() {
                d = k;
                if k == 0 || block.saturating_mul(shape[k] as usize) > stage {
                    break;
                }
                block *= shape[k] as usize;
            }
            let rows = if n == 0 { 1 } else { (stage / block).max(1) };
            Mode::Staged { d, block, rows }
        };
        Plan { buf, itemsize, shape, strides, suboffsets, total, mode }
    }

    /// Whether units are moved in place (no staging buffer).
    pub fn direct(&self) -> bool {
        matches!(self.mode, Mode::Runs { .. } | Mode::Items { direct: true, .. })
    }

    /// The staging buffer a transfer of this plan needs (0 when direct).
    pub fn stage_len(&self) -> usize {
        let unit = match self.mode {
            Mode::Runs { .. } | Mode::Items { direct: true, .. } => return 0,
            Mode::Staged { block, rows, .. } => block.saturating_mul(rows),
            Mode::Items { per, .. } => per.saturating_mul(self.itemsize),
        };
        unit.min(self.total as usize)
    }

    fn ndim(&self) -> usize {
        self.shape.len()
    }

    fn suboffset(&self, k: usize) -> Option<isize> {
        self.suboffsets.get(k).copied().filter(|&s| s >= 0)
    }

    /// The address reached after indexing dimensions `0..upto` with `index`, following
    /// their suboffsets.
    ///
    /// # Safety
    /// The view's pointers (suboffsets) are readable for the indices given.
    unsafe fn resolve(&self, index: &[isize], upto: usize) -> *mut u8 {
        let mut p = self.buf;
        for (k, &i) in index.iter().enumerate().take(upto) {
            p = p.wrapping_offset(self.strides[k].wrapping_mul(i));
            if let Some(off) = self.suboffset(k) {
                // SAFETY: a pointer is stored here (the caller's contract); foreign memory
                // may hold it unaligned.
                p = unsafe { (p as *const *mut u8).read_unaligned() }.wrapping_offset(off);
            }
        }
        p
    }

    /// The geometry of the view in its own dimension order (for Items mode).
    fn geometry(&self) -> Geometry<'_> {
        Geometry {
            len: self.total as isize,
            itemsize: self.itemsize as isize,
            shape: &self.shape,
            strides: Some(&self.strides),
            suboffsets: (!self.suboffsets.is_empty()).then_some(&self.suboffsets[..]),
        }
    }
}

/// Where a transfer is in its stream.
#[derive(Clone, Debug)]
pub struct Cursor {
    /// The index of the current unit's first element (the dimensions the mode steps).
    index: Vec<isize>,
    /// Stream bytes before the current unit.
    pub unit_start: u64,
    /// Bytes of the current unit already moved.
    pub in_unit: usize,
}

impl Cursor {
    pub fn new(plan: &Plan) -> Cursor {
        Cursor { index: vec![0; plan.ndim()], unit_start: 0, in_unit: 0 }
    }

    /// Bytes of the stream moved.
    pub fn done(&self) -> u64 {
        self.unit_start + self.in_unit as u64
    }

    /// The current unit's length in bytes (0 when the stream is finished).
    pub fn unit_len(&self, plan: &Plan) -> usize {
        if self.unit_start >= plan.total {
            return 0;
        }
        let left = plan.total - self.unit_start;
        let len = match plan.mode {
            Mode::Runs { run, .. } => run as u64,
            Mode::Staged { d, block, rows } => {
                let rows_here = if plan.ndim() == 0 { 1 } else { (plan.shape[d] - self.index[d]) as usize };
                (rows.min(rows_here) * block) as u64
            }
            Mode::Items { per, .. } => (per * plan.itemsize) as u64,
        };
        len.min(left) as usize
    }

    /// Step to the next unit.
    pub fn next_unit(&mut self, plan: &Plan) {
        let len = self.unit_len(plan);
        self.unit_start += len as u64;
        self.in_unit = 0;
        match plan.mode {
            Mode::Runs { j, .. } => self.odometer_c(plan, j, 1),
            Mode::Staged { d, rows, .. } => {
                if plan.ndim() > 0 {
                    self.odometer_c(plan, d + 1, rows as isize)
                }
            }
            Mode::Items { .. } => {
                for _ in 0..len / plan.itemsize {
                    self.odometer_f(plan);
                }
            }
        }
    }

    /// Advance the row-major odometer over dimensions `0..upto` by `step` at the last one.
    fn odometer_c(&mut self, plan: &Plan, upto: usize, step: isize) {
        let mut step = step;
        for k in (0..upto).rev() {
            self.index[k] += step;
            if self.index[k] < plan.shape[k] {
                return;
            }
            self.index[k] = 0;
            step = 1;
        }
    }

    fn odometer_f(&mut self, plan: &Plan) {
        for k in 0..plan.ndim() {
            self.index[k] += 1;
            if self.index[k] < plan.shape[k] {
                return;
            }
            self.index[k] = 0;
        }
    }

    /// Move forward `n` bytes (units whose bytes all moved are left behind).
    pub fn advance(&mut self, plan: &Plan, mut n: usize) {
        while n > 0 {
            let rest = self.unit_len(plan) - self.in_unit;
            if n < rest {
                self.in_unit += n;
                return;
            }
            n -= rest;
            self.next_unit(plan);
        }
    }

    /// The address of the current unit in a direct mode.
    ///
    /// # Safety
    /// The view's suboffset pointers are readable.
    pub unsafe fn unit_ptr(&self, plan: &Plan) -> *mut u8 {
        match plan.mode {
            // SAFETY: forwarded.
            Mode::Runs { j, .. } => unsafe { plan.resolve(&self.index, j) },
            // SAFETY: forwarded; the index is within the shape.
            Mode::Items { .. } => unsafe { copy::element_ptr(plan.buf, &plan.geometry(), &self.index) },
            Mode::Staged { .. } => unreachable!("a staged unit has no single address"),
        }
    }

    /// The current staged unit as a view (its base and geometry, with `shape` as scratch).
    ///
    /// # Safety
    /// The view's suboffset pointers are readable.
    unsafe fn chunk<'p>(&self, plan: &'p Plan, shape: &'p mut Vec<isize>) -> Side<'p> {
        let Mode::Staged { d, block, .. } = plan.mode else { unreachable!("staged only") };
        let len = self.unit_len(plan);
        if plan.ndim() == 0 {
            let geom = Geometry { len: len as isize, itemsize: plan.itemsize as isize, shape: &[], strides: None, suboffsets: None };
            return Side { ptr: plan.buf, geom };
        }
        // SAFETY: forwarded.
        let base = unsafe { plan.resolve(&self.index, d) };
        let ptr = base.wrapping_offset(plan.strides[d].wrapping_mul(self.index[d]));
        shape.clear();
        shape.push((len / block) as isize);
        shape.extend_from_slice(&plan.shape[d + 1..]);
        let subs = (!plan.suboffsets.is_empty()).then(|| &plan.suboffsets[d..]);
        let geom = Geometry {
            len: len as isize,
            itemsize: plan.itemsize as isize,
            shape: &shape[..],
            strides: Some(&plan.strides[d..]),
            suboffsets: subs,
        };
        Side { ptr, geom }
    }

    /// Gather the current unit into `stage[..unit_len]`.
    ///
    /// # Safety
    /// The view's elements are readable; `stage` holds at least `unit_len` bytes and does
    /// not overlap the view.
    pub unsafe fn gather(&self, plan: &Plan, stage: &mut [u8]) -> Result<()> {
        let len = self.unit_len(plan);
        debug_assert!(stage.len() >= len);
        match plan.mode {
            Mode::Staged { .. } => {
                let mut shape = Vec::with_capacity(plan.ndim());
                // SAFETY: forwarded; the stage holds the unit's contiguous bytes.
                unsafe {
                    let src = self.chunk(plan, &mut shape);
                    copy::to_contiguous(stage.as_mut_ptr(), src, Order::C)
                }
            }
            Mode::Items { .. } => {
                let mut at = self.clone();
                let geom = plan.geometry();
                for item in stage[..len].chunks_exact_mut(plan.itemsize) {
                    // SAFETY: the index is within the shape; the element is readable.
                    unsafe {
                        let p = copy::element_ptr(plan.buf, &geom, &at.index);
                        std::ptr::copy_nonoverlapping(p, item.as_mut_ptr(), plan.itemsize);
                    }
                    at.odometer_f(plan);
                }
                Ok(())
            }
            Mode::Runs { .. } => unreachable!("direct units are not gathered"),
        }
    }

    /// Scatter the whole elements among the first `len` bytes of `stage` into the
    /// current unit's elements.
    ///
    /// # Safety
    /// The view's elements are writable; `stage` does not overlap the view.
    pub unsafe fn scatter(&self, plan: &Plan, stage: &[u8], len: usize) -> Result<()> {
        let whole = len - len % plan.itemsize;
        if whole == 0 {
            return Ok(());
        }
        match plan.mode {
            Mode::Staged { .. } => {
                let mut shape = Vec::with_capacity(plan.ndim());
                // SAFETY: forwarded; `stage` holds `whole` bytes.
                unsafe {
                    let dst = self.chunk(plan, &mut shape);
                    copy::from_contiguous(dst, stage.as_ptr(), whole, Order::C)
                }
            }
            Mode::Items { .. } => {
                let mut at = self.clone();
                let geom = plan.geometry();
                for item in stage[..whole].chunks_exact(plan.itemsize) {
                    // SAFETY: the index is within the shape; the element is writable.
                    unsafe {
                        let p = copy::element_ptr(plan.buf, &geom, &at.index);
                        std::ptr::copy_nonoverlapping(item.as_ptr(), p, plan.itemsize);
                    }
                    at.odometer_f(plan);
                }
                Ok(())
            }
            Mode::Runs { .. } => unreachable!("direct units are not scattered"),
        }
    }

    /// Iovecs for the stream from here: the rest of the current unit, then whole units,
    /// at most `max` iovecs and `MAX_CALL_BYTES` bytes (direct modes).
    ///
    /// # Safety
    /// The view's suboffset pointers are readable.
    pub unsafe fn iovecs(&self, plan: &Plan, out: &mut Vec<libc::iovec>, max: usize) {
        out.clear();
        let mut at = self.clone();
        let mut bytes = 0usize;
        while out.len() < max && at.unit_start < plan.total && bytes < super::sys::MAX_CALL_BYTES {
            let len = (at.unit_len(plan) - at.in_unit).min(super::sys::MAX_CALL_BYTES - bytes);
            // SAFETY: forwarded.
            let p = unsafe { at.unit_ptr(plan) }.wrapping_add(at.in_unit);
            out.push(libc::iovec { iov_base: p.cast(), iov_len: len });
            bytes += len;
            at.next_unit(plan);
        }
    }
}
