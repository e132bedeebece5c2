//! Checking a view that came from elsewhere before it is trusted, and the bytes a view
//! reaches.
//!
//! The geometry checks themselves (ndim, shape, itemsize, len, overflow) are
//! [`Geometry::validate`](crate::layout::Geometry::validate); this module adds the
//! suboffset rules, the format, and the memory a view reaches, pointers included.

use crate::error::{Error, Result};
use crate::format::Format;

use super::Layout;

/// How much `pybuf_validate` checks; each level includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The geometry: ndim in 0..=64, no negative shape entry, itemsize > 0, len equal to
    /// product(shape) * itemsize, no offset computation that overflows, readonly 0 or 1,
    /// buf non-NULL when len > 0, and suboffsets only with strides.
    Layout = 1,
    /// And a non-NULL format parses, with an item size equal to the view's itemsize.
    Format = 2,
    /// And every byte the view reaches lies inside a given memory block.
    Memory = 3,
}

impl Level {
    pub fn from_raw(level: i32) -> Result<Level> {
        match level {
            1 => Ok(Level::Layout),
            2 => Ok(Level::Format),
            3 => Ok(Level::Memory),
            _ => Err(Error::argument(format_args!(
                "level = {level} is not PYBUF_VALIDATE_LAYOUT (1), PYBUF_VALIDATE_FORMAT (2) or PYBUF_VALIDATE_MEMORY (3)"
            ))),
        }
    }
}

/// The suboffset rule of [`Level::Layout`]: suboffsets need explicit strides (PEP 3118's
/// PyBUF_INDIRECT implies PyBUF_STRIDES; C-contiguous strides computed from the itemsize
/// cannot step over pointers).
#[inline]
pub fn check_suboffsets(has_strides: bool, has_suboffsets: bool, ndim: usize) -> Result<()> {
    if has_suboffsets && !has_strides && ndim > 0 {
        return Err(Error::suboffsets("suboffsets are given without strides"));
    }
    Ok(())
}

/// The format rule of [`Level::Format`]: `format` parses and its item size is `itemsize`.
pub fn check_format(format: &[u8], itemsize: isize) -> Result<Format> {
    let f = Format::parse(format)?;
    if f.itemsize() != itemsize {
        return Err(Error::itemsize(format_args!(
            "itemsize = {itemsize} but format \"{}\" has size {}",
            String::from_utf8_lossy(format),
            f.itemsize()
        )));
    }
    Ok(f)
}

/// The bytes reached so far, as absolute addresses (wide, so nothing overflows).
struct Reach {
    lo: i128,
    hi: i128,
    bounds: Option<(i128, i128)>,
}

impl Reach {
    // Every operand is a 64-bit size, stride, offset or address widened to i128: a product
    // of two is below 2^126 in magnitude, and a sum adds at most 2 * 64 + 2 such terms —
    // far below i128::MAX. Indices stay below their shape. Nothing here overflows.
    #[allow(clippy::arithmetic_side_effects)]
    fn note(&mut self, start: i128, end: i128, what: impl FnOnce() -> String) -> Result<()> {
        if let Some((b0, b1)) = self.bounds {
            if start < b0 || end > b1 {
                return Err(Error::length(format_args!(
                    "{} reaches bytes [{}, {}) relative to base, outside the {}-byte memory",
                    what(),
                    start - b0,
                    end - b0,
                    b1 - b0
                )));
            }
        }
        self.lo = self.lo.min(start);
        self.hi = self.hi.max(end);
        Ok(())
    }
}

/// The byte range `[lo, hi)`, relative to `layout.buf`, that the elements of `layout`
/// cover; `(0, 0)` for an empty view. With suboffsets, every pointer is read and the
/// range covers the pointers too (each pointer read and each element covered may lie
/// anywhere in the address space).
///
/// With `bounds = Some((base, size))`, every byte reached must lie in
/// `[base, base + size)` (else a `LengthMismatch` error that names the bytes); each
/// pointer is checked before it is read.
///
/// # Safety
/// Without `bounds`, the pointers stored where the suboffsets say must be readable. With
/// `bounds`, `[base, base + size)` must be readable.
// Every operand is a 64-bit size, stride, offset or address widened to i128: a product
// of two is below 2^126 in magnitude, and a sum adds at most 2 * 64 + 2 such terms —
// far below i128::MAX. Indices stay below their shape. Nothing here overflows.
#[allow(clippy::arithmetic_side_effects)]
pub unsafe fn reach(layout: &Layout, bounds: Option<(usize, usize)>) -> Result<(isize, isize)> {
    let buf = layout.buf as usize as i128;
    let bounds = bounds.map(|(b, n)| (b as i128, b as i128 + n as i128));
    if layout.is_empty() {
        return Ok((0, 0));
    }
    let mut r = Reach { lo: i128::MAX, hi: i128::MIN, bounds };
    // SAFETY: forwarded from the caller.
    unsafe { walk(layout, 0, layout.buf, buf, &mut r)? };
    let rel = |x: i128| {
        isize::try_from(x - buf)
            .map_err(|_| Error::overflow("the bytes reached are too far from buf for a pybuf_ssize_t offset"))
    };
    Ok((rel(r.lo)?, rel(r.hi)?))
}

/// The extent of dimensions `k..` from an address: `(lo, hi)` offsets.
// Every operand is a 64-bit size, stride, offset or address widened to i128: a product
// of two is below 2^126 in magnitude, and a sum adds at most 2 * 64 + 2 such terms —
// far below i128::MAX. Indices stay below their shape. Nothing here overflows.
#[allow(clippy::arithmetic_side_effects)]
fn tail(layout: &Layout, k: usize) -> (i128, i128) {
    let (mut lo, mut hi) = (0i128, layout.itemsize as i128);
    for j in k..layout.ndim() {
        let span = layout.strides[j] as i128 * (layout.shape[j] as i128 - 1);
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    (lo, hi)
}

/// Note what dimensions `k..` reach from address `p`. `anchor` is the pointer `p` was
/// computed from (`buf`, or the last pointer read): pointers are read through it, so that
/// they keep its provenance.
///
/// # Safety
/// As for [`reach`]. The recursion is one level per dimension with a suboffset (<= 64).
// Every operand is a 64-bit size, stride, offset or address widened to i128: a product
// of two is below 2^126 in magnitude, and a sum adds at most 2 * 64 + 2 such terms —
// far below i128::MAX. Indices stay below their shape. Nothing here overflows.
#[allow(clippy::arithmetic_side_effects)]
unsafe fn walk(layout: &Layout, k: usize, anchor: *const u8, p: i128, r: &mut Reach) -> Result<()> {
    let subs = layout.suboffsets.as_deref().unwrap_or(&[]);
    let Some(d) = (k..layout.ndim()).find(|&j| subs.get(j).is_some_and(|&s| s >= 0)) else {
        let (lo, hi) = tail(layout, k);
        return r.note(p + lo, p + hi, || "an element".to_owned());
    };
    let ptr = std::mem::size_of::<*mut u8>() as i128;
    let mut index = vec![0isize; d + 1 - k];
    loop {
        let q = p + (k..=d).map(|j| layout.strides[j] as i128 * index[j - k] as i128).sum::<i128>();
        r.note(q, q + ptr, || format!("the pointer read for suboffsets[{d}] = {}", subs[d]))?;
        let slot = anchor.wrapping_add((q as usize).wrapping_sub(anchor as usize));
        // SAFETY: the slot is readable by the caller's contract (and, with bounds, it was
        // just checked to lie inside the readable block); it may be unaligned.
        let target = unsafe { slot.cast::<*const u8>().read_unaligned() };
        // SAFETY: forwarded.
        unsafe { walk(layout, d + 1, target, target as usize as i128 + subs[d] as i128, r)? };
        // The next index over dimensions k..=d, the last fastest.
        let mut j = index.len();
        loop {
            if j == 0 {
                return Ok(());
            }
            j -= 1;
            index[j] += 1;
            if index[j] < layout.shape[k + j] {
                break;
            }
            index[j] = 0;
        }
    }
}
