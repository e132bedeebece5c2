//! Shape, strides and suboffsets arithmetic: validation, contiguity, element offsets.
//!
//! Everything here is safe and knows nothing about C: a view's geometry is a set of
//! borrowed slices. The `ffi` layer builds a [`Geometry`] from a `pybuf_buffer`.

// Sizes, counts and offsets here come from outside input: every operation on them is
// checked, or carries a comment proving its bounds (issue 12).
#![warn(clippy::arithmetic_side_effects)]

use crate::error::{Error, Result};

/// The largest number of dimensions (CPython's `PyBUF_MAX_NDIM`).
pub const MAX_NDIM: usize = 64;

/// A memory order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Row-major: the last index varies fastest.
    C,
    /// Column-major: the first index varies fastest.
    F,
    /// Either: C or F, whichever the view already is (CPython's 'A').
    Any,
}

impl Order {
    /// Parse CPython's order characters 'C', 'F' and 'A'.
    #[inline]
    pub fn from_char(c: u8) -> Result<Order> {
        match c {
            b'C' => Ok(Order::C),
            b'F' => Ok(Order::F),
            b'A' => Ok(Order::Any),
            _ => Err(Order::invalid(c)),
        }
    }

    #[cold]
    #[inline(never)]
    fn invalid(c: u8) -> Error {
        Error::argument(format_args!("order {} is not 'C', 'F' or 'A'", describe_char(c)))
    }
}

/// A printable description of an order byte: `'x'` or `0x07`.
pub fn describe_char(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("0x{c:02x}")
    }
}

/// The geometry of a view: everything but the memory and the format.
#[derive(Clone, Copy, Debug)]
pub struct Geometry<'a> {
    /// Bytes covered: product(shape) * itemsize.
    pub len: isize,
    /// Bytes per element.
    pub itemsize: isize,
    /// One length per dimension.
    pub shape: &'a [isize],
    /// One byte step per dimension; `None` means C-contiguous.
    pub strides: Option<&'a [isize]>,
    /// One suboffset per dimension (negative: none); `None` means no suboffsets.
    pub suboffsets: Option<&'a [isize]>,
}

impl<'a> Geometry<'a> {
    /// Number of dimensions.
    #[inline]
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Check that the geometry is self-consistent: ndim in range, non-negative shape,
    /// positive itemsize, `len == product(shape) * itemsize`, stride and suboffset arrays
    /// of the right length, and no offset computation that overflows.
    ///
    /// A geometry without suboffsets and without an empty dimension is accepted in one
    /// pass; any other, and any that pass refuses, is checked by
    /// [`Geometry::validate_full`], which names the offending value.
    #[inline]
    pub fn validate(&self) -> Result<()> {
        if self.valid_direct() {
            return Ok(());
        }
        self.validate_full()
    }

    /// Whether this geometry has no suboffsets, no empty dimension, and passes every
    /// check of [`Geometry::validate_full`], in one pass without error messages. `false`
    /// says nothing (the full check decides).
    ///
    /// Equivalent to the full check on such geometries: every partial product of
    /// `itemsize * shape[0] * ... * shape[k]` is at most the whole (no dimension is 0), so
    /// the whole fits exactly when `product(shape)` and its product with itemsize do; and
    /// `itemsize + sum(|stride| * (n - 1))` has only non-negative terms, so it fits in any
    /// order of summation exactly when it fits in the full check's.
    #[inline]
    fn valid_direct(&self) -> bool {
        let ndim = self.ndim();
        if ndim > MAX_NDIM || self.itemsize <= 0 || self.suboffsets.is_some() {
            return false;
        }
        let mut bytes = self.itemsize;
        let mut reach = self.itemsize;
        match self.strides {
            None => {
                for &n in self.shape {
                    match bytes.checked_mul(n) {
                        Some(b) if n > 0 => bytes = b,
                        _ => return false,
                    }
                }
            }
            Some(strides) => {
                if strides.len() != ndim {
                    return false;
                }
                for (&n, &s) in self.shape.iter().zip(strides) {
                    // n >= 1 once bytes.checked_mul(n) passes with n > 0: n - 1 >= 0.
                    let ok = match (bytes.checked_mul(n), s.checked_abs()) {
                        (Some(b), Some(a)) if n > 0 => {
                            bytes = b;
                            a.checked_mul(n.wrapping_sub(1)).and_then(|span| reach.checked_add(span))
                        }
                        _ => None,
                    };
                    match ok {
                        Some(r) => reach = r,
                        None => return false,
                    }
                }
            }
        }
        self.len == bytes
    }

    /// [`Geometry::validate`]'s checks one by one, each failure with its own message.
    #[cold]
    #[inline(never)]
    pub fn validate_full(&self) -> Result<()> {
        let ndim = self.ndim();
        if ndim > MAX_NDIM {
            return Err(Error::ndim(format_args!("ndim = {ndim} is greater than {MAX_NDIM}")));
        }
        if self.itemsize <= 0 {
            return Err(Error::itemsize(format_args!(
                "itemsize = {} is not positive",
                self.itemsize
            )));
        }
        let items = item_count(self.shape)?;
        let bytes = items.checked_mul(self.itemsize).ok_or_else(|| {
            Error::overflow(format_args!(
                "product(shape) = {items} times itemsize {} overflows",
                self.itemsize
            ))
        })?;
        if self.len != bytes {
            return Err(Error::length(format_args!(
                "len = {} but product(shape) * itemsize = {} * {} = {}",
                self.len, items, self.itemsize, bytes
            )));
        }
        if let Some(strides) = self.strides {
            if strides.len() != ndim {
                return Err(Error::strides(format_args!(
                    "{} strides for ndim = {ndim}",
                    strides.len()
                )));
            }
        }
        if let Some(subs) = self.suboffsets {
            if subs.len() != ndim {
                return Err(Error::suboffsets(format_args!(
                    "{} suboffsets for ndim = {ndim}",
                    subs.len()
                )));
            }
        }
        if items == 0 {
            // No element is ever addressed, so strides and suboffsets are never used.
            return Ok(());
        }
        if self.strides.is_none() && self.suboffsets.is_none() {
            // C-contiguous: every offset lies below len, which fits.
            return Ok(());
        }
        // Bound every offset computation: sum(|stride| * (n - 1)) + sum(suboffset >= 0)
        // + itemsize must fit, so no partial sum in any traversal order overflows.
        let mut reach = self.itemsize;
        for (i, n, s) in self.dims_rev() {
            let span = s
                .checked_abs()
                // n >= 1 here (an empty view returned above): n - 1 does not overflow.
                .and_then(|a| a.checked_mul(n.saturating_sub(1)))
                .and_then(|span| reach.checked_add(span));
            reach = span.ok_or_else(|| {
                Error::overflow(format_args!(
                    "strides[{i}] = {s} times shape[{i}] - 1 = {} overflows",
                    n.saturating_sub(1)
                ))
            })?;
            if let Some(subs) = self.suboffsets {
                if subs[i] >= 0 {
                    reach = reach.checked_add(subs[i]).ok_or_else(|| {
                        Error::overflow(format_args!("suboffsets[{i}] = {} overflows", subs[i]))
                    })?;
                }
            }
        }
        Ok(())
    }

    /// `(k, shape[k], stride k)` from the last dimension to the first, with C-contiguous
    /// strides when there are none (wrapping: valid only after [`Geometry::validate`]).
    pub fn dims_rev(&self) -> impl Iterator<Item = (usize, isize, isize)> + '_ {
        let mut sd = self.itemsize;
        (0..self.ndim()).rev().map(move |k| {
            crate::work::step(1);
            let n = self.shape[k];
            let s = match self.strides {
                Some(st) => st[k],
                None => sd,
            };
            sd = sd.wrapping_mul(n);
            (k, n, s)
        })
    }

    /// The stride of dimension `k` (C-contiguous when there are no strides).
    #[inline]
    pub fn stride(&self, k: usize) -> isize {
        match self.strides {
            Some(s) => s[k],
            None => self.shape[k..].iter().skip(1).fold(self.itemsize, |sd, &n| sd.wrapping_mul(n)),
        }
    }

    /// The strides, or C-contiguous strides written into `buf` when there are none.
    /// Valid only after [`Geometry::validate`] (it cannot overflow then).
    pub fn strides_or_c<'b>(&self, buf: &'b mut [isize; MAX_NDIM]) -> &'b [isize]
    where
        'a: 'b,
    {
        match self.strides {
            Some(s) => {
                buf[..s.len()].copy_from_slice(s);
                &buf[..s.len()]
            }
            None => {
                let n = self.ndim();
                let mut sd = self.itemsize;
                for k in (0..n).rev() {
                    buf[k] = sd;
                    sd = sd.wrapping_mul(self.shape[k]);
                }
                &buf[..n]
            }
        }
    }

    /// Whether any suboffset is present (CPython counts a non-NULL suboffsets array).
    #[inline]
    pub fn has_suboffsets(&self) -> bool {
        self.suboffsets.is_some()
    }

    /// CPython's `_IsCContiguous` (suboffsets not considered).
    pub fn is_c_contiguous(&self) -> bool {
        match self.strides {
            None => true,
            Some(_) if self.len == 0 => true,
            Some(s) => is_contiguous_in(self.shape, s, self.itemsize, (0..self.ndim()).rev()),
        }
    }

    /// CPython's `_IsFortranContiguous` (suboffsets not considered).
    pub fn is_f_contiguous(&self) -> bool {
        if self.len == 0 {
            return true;
        }
        match self.strides {
            // C-contiguous by definition: F-contiguous only when effectively 1-D.
            None => self.shape.iter().filter(|&&n| n > 1).count() <= 1,
            Some(s) => is_contiguous_in(self.shape, s, self.itemsize, 0..self.ndim()),
        }
    }

    /// CPython's `PyBuffer_IsContiguous`: false whenever suboffsets are present.
    pub fn is_contiguous(&self, order: Order) -> bool {
        if self.has_suboffsets() {
            return false;
        }
        match order {
            Order::C => self.is_c_contiguous(),
            Order::F => self.is_f_contiguous(),
            Order::Any => self.is_c_contiguous() || self.is_f_contiguous(),
        }
    }

    /// Check `indices` against the shape (0 <= index < `shape[i]`).
    pub fn check_indices(&self, indices: &[isize]) -> Result<()> {
        if indices.len() != self.ndim() {
            return Err(Error::argument(format_args!(
                "{} indices for ndim = {}",
                indices.len(),
                self.ndim()
            )));
        }
        for (i, (&ix, &n)) in indices.iter().zip(self.shape).enumerate() {
            if ix < 0 || ix >= n {
                return Err(Error::index(format_args!(
                    "indices[{i}] = {ix} is out of range for shape[{i}] = {n}"
                )));
            }
        }
        Ok(())
    }
}

/// Whether `strides` are the contiguous strides for `shape`, visiting dimensions from the
/// fastest to the slowest in `dims`; length-1 dimensions may have any stride.
fn is_contiguous_in(
    shape: &[isize],
    strides: &[isize],
    itemsize: isize,
    dims: impl Iterator<Item = usize>,
) -> bool {
    let mut sd = itemsize;
    for k in dims {
        crate::work::step(1);
        let n = shape[k];
        if n > 1 && strides[k] != sd {
            return false;
        }
        sd = sd.wrapping_mul(n);
    }
    true
}

/// product(shape), checking for negative entries and overflow.
#[inline]
pub fn item_count(shape: &[isize]) -> Result<isize> {
    let mut count: isize = 1;
    let mut overflow_at = None;
    for (i, &n) in shape.iter().enumerate() {
        crate::work::step(1);
        if n < 0 {
            return Err(Error::shape(format_args!("shape[{i}] = {n} is negative")));
        }
        match count.checked_mul(n) {
            Some(c) => count = c,
            None => {
                overflow_at.get_or_insert(i);
                count = 1; // keep checking later entries for negatives
            }
        }
    }
    if let Some(i) = overflow_at {
        if !shape.contains(&0) {
            return Err(Error::overflow(format_args!(
                "product(shape) overflows at shape[{i}] = {}",
                shape[i]
            )));
        }
        return Ok(0);
    }
    Ok(count)
}

/// Write the contiguous strides of `shape` in `order` into `out` (CPython's
/// `PyBuffer_FillContiguousStrides`; 'A' means C, as in CPython). Checks the shape, the
/// itemsize and overflow first; `out` is written only on success.
pub fn contiguous_strides(
    shape: &[isize],
    itemsize: isize,
    order: Order,
    out: &mut [isize],
) -> Result<()> {
    if shape.len() > MAX_NDIM {
        return Err(Error::ndim(format_args!(
            "ndim = {} is greater than {MAX_NDIM}",
            shape.len()
        )));
    }
    if itemsize <= 0 {
        return Err(Error::itemsize(format_args!("itemsize = {itemsize} is not positive")));
    }
    debug_assert_eq!(out.len(), shape.len());
    item_count(shape)?;
    // Two passes: check for overflow first, so that `out` is written only on success.
    // k < shape.len(): the reversed index does not go below 0.
    let order_dims = |k: usize| if order == Order::F { k } else { shape.len().saturating_sub(1).saturating_sub(k) };
    let mut sd = itemsize;
    for k in (0..shape.len()).map(order_dims) {
        // A zero-length dimension makes every later stride 0, as in CPython (sd *= 0).
        sd = sd.checked_mul(shape[k]).ok_or_else(|| {
            Error::overflow(format_args!("stride {sd} times shape[{k}] = {} overflows", shape[k]))
        })?;
    }
    // The same products as the first pass, which checked them: none saturates.
    contiguous_strides_of_valid(shape, itemsize, order, out);
    Ok(())
}

/// The contiguous strides of a shape that a valid geometry already has (its
/// `product(shape) * itemsize` fits), for the copies and views pybuf makes of it. A stride
/// can overflow only when the shape has a zero entry ({2^32, 2^32, 0} in F order): such a
/// view has no element, so no stride is ever used, and the overflowing ones saturate
/// instead of refusing a valid empty view (issue 12, defect 9).
pub fn contiguous_strides_of_valid(shape: &[isize], itemsize: isize, order: Order, out: &mut [isize]) {
    debug_assert_eq!(out.len(), shape.len());
    let mut sd = itemsize;
    let mut step = |k: usize| {
        out[k] = sd;
        sd = sd.saturating_mul(shape[k]);
    };
    if order == Order::F {
        (0..shape.len()).for_each(&mut step);
    } else {
        (0..shape.len()).rev().for_each(&mut step);
    }
}

impl Geometry<'_> {
    /// The byte range `[lo, hi)` relative to `buf` that the elements cover, or `None`
    /// when suboffsets make the reachable memory depend on pointers stored in it.
    /// An empty view covers `[0, 0)`. Valid only after [`Geometry::validate`].
    pub fn extent(&self) -> Option<(isize, isize)> {
        if self.has_suboffsets() {
            return None;
        }
        if self.len == 0 {
            return Some((0, 0));
        }
        if self.strides.is_none() {
            return Some((0, self.len)); // C-contiguous
        }
        let (mut lo, mut hi) = (0isize, self.itemsize);
        // A validated geometry's itemsize + sum(|stride| * (n - 1)) fits (`validate`), and
        // n >= 1 (len > 0): none of these saturates.
        for (_, n, s) in self.dims_rev() {
            let span = s.saturating_mul(n.saturating_sub(1));
            if span < 0 {
                lo = lo.saturating_add(span);
            } else {
                hi = hi.saturating_add(span);
            }
        }
        Some((lo, hi))
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;
    use crate::error::Status;

    fn geom<'a>(
        shape: &'a [isize],
        strides: Option<&'a [isize]>,
        itemsize: isize,
    ) -> Geometry<'a> {
        let len = shape.iter().product::<isize>() * itemsize;
        Geometry { len, itemsize, shape, strides, suboffsets: None }
    }

    #[test]
    fn contiguity_follows_cpython() {
        let g = geom(&[3, 4], Some(&[32, 8]), 8);
        assert!(g.is_contiguous(Order::C) && !g.is_contiguous(Order::F));
        assert!(g.is_contiguous(Order::Any));
        let t = geom(&[4, 3], Some(&[8, 32]), 8);
        assert!(!t.is_contiguous(Order::C) && t.is_contiguous(Order::F));
        // Length-1 dimensions may have any stride.
        let g = geom(&[1, 4], Some(&[999, 8]), 8);
        assert!(g.is_contiguous(Order::C) && g.is_contiguous(Order::F));
        // NULL strides: C by definition, F only when effectively 1-D.
        assert!(geom(&[3, 4], None, 8).is_contiguous(Order::C));
        assert!(!geom(&[3, 4], None, 8).is_contiguous(Order::F));
        assert!(geom(&[1, 4], None, 8).is_contiguous(Order::F));
        // Empty views are contiguous in every order, even with odd strides.
        assert!(geom(&[0, 4], Some(&[-5, 3]), 8).is_contiguous(Order::F));
        // Suboffsets make a view non-contiguous.
        let mut g = geom(&[2], Some(&[8]), 8);
        g.suboffsets = Some(&[-1]);
        assert!(!g.is_contiguous(Order::C));
        // Negative strides are never contiguous.
        assert!(!geom(&[3], Some(&[-8]), 8).is_contiguous(Order::Any));
    }

    /// The one-pass check accepts exactly the direct geometries without an empty
    /// dimension that the full check accepts, and `validate` answers as the full check,
    /// message included: random shapes, strides, itemsizes and lengths around every limit
    /// (overflowing products and reaches, negative and zero entries, isize::MIN).
    #[test]
    fn the_one_pass_check_agrees_with_the_full_one() {
        let mut rng = crate::copy::tests::Rng::new(51);
        let big = [isize::MAX, isize::MIN, isize::MAX / 2, isize::MAX / 3 + 1, 1 << 31, 1 << 32, -(1 << 40)];
        let (mut direct, mut full_ok) = (0, 0);
        for case in 0..if cfg!(miri) { 200 } else { 200_000 } {
            let mut value = |small: &[isize]| {
                if rng.below(6) == 0 { big[rng.below(big.len())] } else { small[rng.below(small.len())] }
            };
            let ndim = [0, 1, 2, 3, 5][case % 5];
            let itemsize = value(&[1, 2, 8, 3, 0, -1]);
            let shape: Vec<isize> = (0..ndim).map(|_| value(&[1, 2, 3, 7, 0, -1, 1000])).collect();
            let strides: Vec<isize> = (0..ndim).map(|_| value(&[8, -8, 0, 24, 1, 1 << 20])).collect();
            let product = shape.iter().try_fold(itemsize, |p, &n| p.checked_mul(n));
            let len = match (product, case % 3) {
                (Some(p), 0 | 1) => p,
                (Some(p), _) => p.wrapping_add(1),
                (None, _) => 0,
            };
            let with_strides = case % 4 != 0;
            let subs = vec![-1isize; ndim];
            let g = Geometry {
                len,
                itemsize,
                shape: &shape,
                strides: with_strides.then_some(&strides[..]),
                suboffsets: (case % 17 == 0).then_some(&subs[..]),
            };
            let full = g.validate_full();
            assert_eq!(g.validate(), full, "case {case}: {g:?}");
            let eligible = g.suboffsets.is_none() && shape.iter().all(|&n| n > 0);
            assert_eq!(g.valid_direct(), eligible && full.is_ok(), "case {case}: {g:?}: {full:?}");
            direct += g.valid_direct() as usize;
            full_ok += full.is_ok() as usize;
        }
        if !cfg!(miri) {
            assert!(direct > 10_000 && full_ok > direct, "{direct} direct, {full_ok} valid");
        }
    }

    #[test]
    fn validate_names_the_offending_value() {
        let e = Geometry { len: 0, itemsize: 8, shape: &[2, -1], strides: None, suboffsets: None }
            .validate()
            .unwrap_err();
        assert_eq!(e.status(), Status::InvalidShape);
        assert_eq!(e.message(), "shape[1] = -1 is negative");
        let e = Geometry { len: 7, itemsize: 8, shape: &[2], strides: None, suboffsets: None }
            .validate()
            .unwrap_err();
        assert_eq!(e.status(), Status::LengthMismatch);
        assert!(e.message().contains("len = 7"), "{}", e.message());
        let e = geom(&[2], None, 0).validate().unwrap_err();
        assert_eq!(e.status(), Status::InvalidItemsize);
        let big = isize::MAX / 2;
        let e = Geometry { len: 16, itemsize: 8, shape: &[2], strides: Some(&[big * 2 + 1]), suboffsets: None }
            .validate()
            .unwrap_err();
        assert_eq!(e.status(), Status::Overflow);
        let e = Geometry { len: 0, itemsize: 8, shape: &[big, 4], strides: None, suboffsets: None }
            .validate()
            .unwrap_err();
        assert_eq!(e.status(), Status::Overflow);
        assert!(geom(&[0, 5], Some(&[isize::MAX, isize::MIN]), 8).validate().is_ok());
    }

    #[test]
    fn contiguous_strides_in_both_orders() {
        let mut out = [0isize; 3];
        contiguous_strides(&[2, 3, 4], 8, Order::C, &mut out).unwrap();
        assert_eq!(out, [96, 32, 8]);
        contiguous_strides(&[2, 3, 4], 8, Order::F, &mut out).unwrap();
        assert_eq!(out, [8, 16, 48]);
        contiguous_strides(&[2, 3, 4], 8, Order::Any, &mut out).unwrap();
        assert_eq!(out, [96, 32, 8]);
        let mut out = [7isize; 2];
        let e = contiguous_strides(&[2, -3], 8, Order::C, &mut out).unwrap_err();
        assert_eq!(e.status(), Status::InvalidShape);
        assert_eq!(out, [7, 7], "strides are written only on success");
    }

    #[test]
    fn indices_are_bounds_checked() {
        let g = geom(&[3, 4], None, 8);
        assert!(g.check_indices(&[2, 3]).is_ok());
        let e = g.check_indices(&[3, 0]).unwrap_err();
        assert_eq!(e.status(), Status::IndexOutOfRange);
        assert_eq!(e.message(), "indices[0] = 3 is out of range for shape[0] = 3");
        assert_eq!(g.check_indices(&[-1, 0]).unwrap_err().status(), Status::IndexOutOfRange);
    }
}
