//! Every element of a view, in C (row-major) or Fortran (column-major) order: the
//! iterator object of PEP 3118 ("an iterator object that iterates through every
//! element").

use crate::layout::{Geometry, Order};

use super::Layout;

/// A walk over the element addresses of a layout. It owns a copy of the geometry, so it
/// does not borrow the view it was made from; the memory must stay valid while it runs.
#[derive(Debug)]
pub struct Walk {
    layout: Layout,
    fortran: bool,
    index: Vec<isize>,
    /// The byte offset of the current element from `buf` (without suboffsets).
    offset: isize,
    /// Elements not yet returned, of `total`.
    left: isize,
    total: isize,
}

impl Walk {
    /// A walk over `layout` in `order`: C, F, or Any, which walks an F-contiguous view
    /// that is not C-contiguous in F order and every other view in C order (as
    /// `PyBuffer_ToContiguous` copies with 'A').
    pub fn new(layout: Layout, order: Order) -> Walk {
        let fortran = match order {
            Order::C => false,
            Order::F => true,
            Order::Any => crate::copy::effective_order(&layout.geometry(), Order::Any) == Order::F,
        };
        // A validated view's element count fits (its len does); saturate rather than wrap
        // anyway (an iterator's product escapes the arithmetic lint).
        let left =
            if layout.is_empty() { 0 } else { layout.shape.iter().try_fold(1isize, |n, &d| n.checked_mul(d)).unwrap_or(isize::MAX) };
        let index = vec![0; layout.ndim()];
        Walk { layout, fortran, index, offset: 0, left, total: left }
    }

    /// The index of the element last returned by [`Walk::next`].
    pub fn index(&self) -> &[isize] {
        &self.index
    }

    /// Whether the walk goes in Fortran order.
    pub fn is_fortran(&self) -> bool {
        self.fortran
    }

    fn geometry(&self) -> Geometry<'_> {
        self.layout.geometry()
    }

    /// The address of the next element, or `None` after the last one. After it returns
    /// an address, [`Walk::index`] is that element's index.
    ///
    /// # Safety
    /// With suboffsets, the pointers stored in the memory are read: the memory must hold
    /// them (as it does for any valid view whose memory is alive).
    pub unsafe fn next(&mut self) -> Option<*mut u8> {
        if self.left <= 0 {
            return None;
        }
        if self.left != self.total {
            self.advance();
        }
        // left > 0 (checked above).
        self.left = self.left.saturating_sub(1);
        let p = if self.layout.suboffsets.is_some() {
            // SAFETY: the index is within the shape; pointers are stored where suboffsets
            // say, by the caller's contract.
            unsafe { crate::copy::element_ptr(self.layout.buf, &self.geometry(), &self.index) }
        } else {
            self.layout.buf.wrapping_offset(self.offset)
        };
        Some(p)
    }

    /// Step the index (and the offset) to the next element in the walk's order.
    fn advance(&mut self) {
        let n = self.index.len();
        for step in 0..n {
            // step < n; index[k] < shape[k] before the increment.
            let k = if self.fortran { step } else { n.saturating_sub(1).saturating_sub(step) };
            let s = self.layout.strides[k];
            self.index[k] = self.index[k].saturating_add(1);
            self.offset = self.offset.wrapping_add(s);
            if self.index[k] < self.layout.shape[k] {
                return;
            }
            self.offset = self.offset.wrapping_sub(s.wrapping_mul(self.index[k]));
            self.index[k] = 0;
        }
    }
}
