//! The copy engine: one planner and a set of kernels behind every copy in pybuf
//! (`pybuf_to_contiguous`, `pybuf_from_contiguous`, `pybuf_copy`).
//!
//! A copy moves every element of a source view to the element with the same index in a
//! destination view of the same shape and itemsize. The plan, made once per call:
//! 1. leading dimensions that carry suboffsets are walked one index at a time,
//!    dereferencing pointers as CPython's `PyBuffer_GetPointer` does;
//! 2. the remaining dimensions drop their length-1 axes, turn negative destination
//!    strides positive (moving both base pointers and flipping both strides), order the
//!    axes by destination stride, and merge axes contiguous on both sides;
//! 3. a kernel runs: one memcpy per contiguous run, or a strided loop specialised by
//!    itemsize.
//!
//! Overlapping views give the result as if the whole source were read before the
//! destination is written: views of the same layout at different addresses (a shifted
//! slice of one array) are copied in place, in the direction that reads every element
//! before it is overwritten; any other overlap goes through a temporary contiguous copy.

mod kernels;
mod plan;
mod prepared;
mod small;
mod transpose;

use crate::error::{Error, Result};
use crate::layout::{Geometry, Order};

pub use plan::Plan;
pub use prepared::Prepared;
pub(crate) use prepared::MAX_THREADS;
pub(crate) use small::{Rect, Small, SMALL_BYTES};

/// One side of a copy: a base pointer (`buf`) and the geometry of the view at it.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    pub ptr: *mut u8,
    pub geom: Geometry<'a>,
}

/// Copy every element of `src` into the element of `dst` with the same index.
///
/// The geometries must be valid ([`Geometry::validate`]) with equal shapes and itemsizes.
///
/// # Safety
/// Every element address of `src` (following suboffset pointers) must be readable for
/// `itemsize` bytes, and every element address of `dst` writable. The two may overlap.
pub unsafe fn copy(dst: Side<'_>, src: Side<'_>) -> Result<()> {
    check_same_structure(&dst.geom, &src.geom)?;
    if dst.geom.len == 0 {
        return Ok(());
    }
    if dst.geom.len <= SMALL_BYTES && dst.geom.ndim() <= 2 && !dst.geom.has_suboffsets() && !src.geom.has_suboffsets() {
        let r = Rect::of(&dst.geom, &src.geom);
        if !r.overlaps(dst.ptr, src.ptr) {
            // SAFETY: forwarded; the rectangle is the views' elements, on disjoint sides.
            unsafe { Small::copy(r, dst.ptr, src.ptr) };
            return Ok(());
        }
    }
    // SAFETY: forwarded.
    unsafe { copy_planned(dst, src) }
}

/// [`copy`] through the planner: anything but a small copy of disjoint sides.
///
/// # Safety
/// As for [`copy`], with a non-empty copy of checked structures.
#[inline(never)]
unsafe fn copy_planned(dst: Side<'_>, src: Side<'_>) -> Result<()> {
    if may_overlap(&dst, &src) {
        if dst.geom.suboffsets.is_none() && src.geom.suboffsets.is_none() {
            let mut scratch = plan::Axes::new();
            let plan = Plan::new(&dst.geom, &src.geom, &mut scratch);
            // SAFETY: forwarded from this function's contract.
            if unsafe { plan.execute_shifted(dst.ptr, src.ptr) } {
                return Ok(());
            }
        }
        // SAFETY: forwarded from this function's contract.
        return unsafe { copy_via_temporary(dst, src) };
    }
    // SAFETY: forwarded from this function's contract, and the sides do not overlap.
    unsafe { copy_disjoint(dst, src) }
}

/// Shapes and itemsizes must agree.
#[inline]
pub fn check_same_structure(dst: &Geometry<'_>, src: &Geometry<'_>) -> Result<()> {
    if dst.itemsize != src.itemsize || !(std::ptr::eq(dst.shape, src.shape) || dst.shape == src.shape) {
        return Err(structure_mismatch(dst, src));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn structure_mismatch(dst: &Geometry<'_>, src: &Geometry<'_>) -> Error {
    if dst.itemsize != src.itemsize {
        return Error::mismatch(format_args!(
            "destination itemsize {} differs from source itemsize {}",
            dst.itemsize, src.itemsize
        ));
    }
    Error::mismatch(format_args!("destination shape {:?} differs from source shape {:?}", dst.shape, src.shape))
}

/// Whether the bytes the two sides reach may intersect. Views with suboffsets reach memory
/// through stored pointers, so they are assumed to overlap.
fn may_overlap(dst: &Side<'_>, src: &Side<'_>) -> bool {
    match (dst.geom.extent(), src.geom.extent()) {
        (Some(d), Some(s)) => extents_overlap(dst.ptr, d, src.ptr, s),
        _ => true,
    }
}

/// Whether the byte ranges `[dst + dlo, dst + dhi)` and `[src + slo, src + shi)` intersect.
#[inline]
fn extents_overlap(dst: *const u8, (dlo, dhi): (isize, isize), src: *const u8, (slo, shi): (isize, isize)) -> bool {
    let d0 = (dst as isize).wrapping_add(dlo);
    let d1 = (dst as isize).wrapping_add(dhi);
    let s0 = (src as isize).wrapping_add(slo);
    let s1 = (src as isize).wrapping_add(shi);
    d0 < s1 && s0 < d1
}

/// Copy `src` into a fresh C-contiguous buffer, then from it into `dst`.
///
/// # Safety
/// As for [`copy`].
unsafe fn copy_via_temporary(dst: Side<'_>, src: Side<'_>) -> Result<()> {
    let len = src.geom.len as usize;
    let mut temp = crate::alloc::try_vec(len, 0u8, "the temporary of an overlapping copy")?;
    let contiguous = Geometry { strides: None, suboffsets: None, ..src.geom };
    let tmp = Side { ptr: temp.as_mut_ptr(), geom: contiguous };
    // SAFETY: `temp` holds `len` bytes, exactly the C-contiguous extent of `src`'s shape,
    // and a fresh allocation overlaps neither side.
    unsafe {
        copy_disjoint(tmp, src)?;
        copy_disjoint(dst, tmp)
    }
}

/// Copy between sides that do not overlap (shapes and itemsizes already checked).
///
/// # Safety
/// As for [`copy`], and the bytes the two sides reach are disjoint.
unsafe fn copy_disjoint(dst: Side<'_>, src: Side<'_>) -> Result<()> {
    let mut scratch = plan::Axes::new();
    let plan = Plan::new(&dst.geom, &src.geom, &mut scratch);
    // SAFETY: forwarded from this function's contract; the plan was made from these
    // geometries.
    unsafe { plan.execute(dst.ptr, src.ptr) };
    Ok(())
}

/// The address of the element at `indices` (checked by the caller), following suboffsets
/// as `PyBuffer_GetPointer` does.
///
/// # Safety
/// At every dimension with a non-negative suboffset, a pointer is stored at the address
/// reached so far.
pub unsafe fn element_ptr(buf: *mut u8, geom: &Geometry<'_>, indices: &[isize]) -> *mut u8 {
    if geom.strides.is_none() && geom.suboffsets.is_none() {
        let offset: isize = geom.dims_rev().map(|(k, _, s)| s * indices[k]).sum();
        return buf.wrapping_offset(offset);
    }
    let mut p = buf;
    for (k, &i) in indices.iter().enumerate() {
        p = p.wrapping_offset(geom.stride(k) * i);
        if let Some(off) = geom.suboffsets.map(|subs| subs[k]).filter(|&o| o >= 0) {
            // SAFETY: a pointer is stored here by the caller's contract; it may be
            // unaligned in foreign memory.
            p = unsafe { (p as *const *mut u8).read_unaligned() }.wrapping_offset(off);
        }
    }
    p
}

/// The memory order a contiguous copy of `geom` takes for the requested `order`, as
/// `PyBuffer_ToContiguous`/`PyBuffer_FromContiguous` decide it: a view already contiguous
/// in `order` is copied as it lies (so 'A' keeps an F-contiguous view in F order);
/// otherwise 'F' means column-major and 'C' or 'A' row-major.
#[inline]
pub fn effective_order(geom: &Geometry<'_>, order: Order) -> Order {
    match order {
        Order::Any if geom.is_contiguous(Order::Any) && !geom.is_contiguous(Order::C) => Order::F,
        Order::Any => Order::C,
        o => o,
    }
}

/// `geom`'s shape laid out contiguously in `order` (C or F); F strides go into `buf`.
fn contiguous_geometry<'b>(geom: &Geometry<'b>, order: Order, buf: &'b mut [isize; crate::layout::MAX_NDIM]) -> Result<Geometry<'b>> {
    if order != Order::F {
        return Ok(Geometry { strides: None, suboffsets: None, ..*geom });
    }
    let n = geom.ndim();
    crate::layout::contiguous_strides_of_valid(geom.shape, geom.itemsize, order, &mut buf[..n]);
    Ok(Geometry { strides: Some(&buf[..n]), suboffsets: None, ..*geom })
}

/// Copy the view `src` into contiguous memory at `dst` (`src.geom.len` bytes) in `order`.
///
/// # Safety
/// `src`'s elements are readable, `dst` is writable for `src.geom.len` bytes; they may
/// overlap.
#[inline]
pub unsafe fn to_contiguous(dst: *mut u8, src: Side<'_>, order: Order) -> Result<()> {
    let g = &src.geom;
    if g.len > 0 && g.len <= SMALL_BYTES && g.ndim() <= 2 && !g.has_suboffsets() {
        // What `copy` does with the contiguous geometry below, without building it.
        let r = Rect::into_contiguous(g, effective_order(g, order));
        if !r.overlaps(dst, src.ptr) {
            // SAFETY: forwarded; `dst` holds the contiguous rectangle, disjoint from `src`.
            unsafe { Small::copy(r, dst, src.ptr) };
            return Ok(());
        }
    }
    // SAFETY: forwarded.
    unsafe { to_contiguous_planned(dst, src, order) }
}

/// [`to_contiguous`] through [`copy`]: anything but a small copy of disjoint memory.
///
/// # Safety
/// As for [`to_contiguous`].
#[inline(never)]
unsafe fn to_contiguous_planned(dst: *mut u8, src: Side<'_>, order: Order) -> Result<()> {
    let order = effective_order(&src.geom, order);
    if order != Order::F {
        let geom = Geometry { strides: None, suboffsets: None, ..src.geom };
        // SAFETY: `dst` holds `len` bytes, exactly the C-contiguous extent of `geom`.
        return unsafe { copy(Side { ptr: dst, geom }, src) };
    }
    let mut buf = [0; crate::layout::MAX_NDIM];
    let geom = contiguous_geometry(&src.geom, order, &mut buf)?;
    // SAFETY: `dst` holds `len` bytes, exactly the F-contiguous extent of `geom`.
    unsafe { copy(Side { ptr: dst, geom }, src) }
}

/// Copy `len` bytes of contiguous memory at `src` into the view `dst`, in `order`.
/// As `PyBuffer_FromContiguous`: `len` above `dst.geom.len` is cut to it; a shorter `len`
/// fills the first `len / itemsize` elements in that order, or, when `dst` is contiguous
/// in `order`, its first `len` bytes, a partial element included (CPython's memcpy).
///
/// # Safety
/// `src` is readable for `len` bytes, `dst`'s elements are writable; they may overlap.
pub unsafe fn from_contiguous(dst: Side<'_>, src: *const u8, len: usize, order: Order) -> Result<()> {
    let total = dst.geom.len as usize;
    let len = len.min(total);
    if len == 0 {
        return Ok(());
    }
    let contiguous = dst.geom.is_contiguous(order);
    let order = effective_order(&dst.geom, order);
    if len == total || contiguous {
        if contiguous {
            // A view contiguous in `order` lies in `[buf, buf + len)` in that order.
            // SAFETY: both ranges are valid for `len` bytes; `copy` allows overlap.
            unsafe { std::ptr::copy(src, dst.ptr, len) };
            return Ok(());
        }
        let mut buf = [0; crate::layout::MAX_NDIM];
        let geom = contiguous_geometry(&dst.geom, order, &mut buf)?;
        // SAFETY: `src` holds `len` bytes, the contiguous extent of `geom`.
        return unsafe { copy(dst, Side { ptr: src as *mut u8, geom }) };
    }
    // A prefix of the elements: rare, so item by item, from a private copy of the source
    // in case it overlaps the destination.
    let itemsize = dst.geom.itemsize as usize;
    let count = len / itemsize;
    let mut temp: Vec<u8> =
        crate::alloc::try_with_capacity(count * itemsize, "the private copy of the source of a partial copy")?;
    // SAFETY: `src` is readable for `len >= count * itemsize` bytes.
    temp.extend_from_slice(unsafe { std::slice::from_raw_parts(src, count * itemsize) });
    let ndim = dst.geom.ndim();
    let mut index = [0isize; crate::layout::MAX_NDIM];
    for chunk in temp.chunks_exact(itemsize) {
        // SAFETY: `index` is within the shape (an odometer below `count <= items`).
        unsafe {
            let p = element_ptr(dst.ptr, &dst.geom, &index[..ndim]);
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), p, itemsize);
        }
        let dims: &mut dyn Iterator<Item = usize> =
            if order == Order::F { &mut (0..ndim) } else { &mut (0..ndim).rev() };
        for k in dims {
            index[k] += 1;
            if index[k] < dst.geom.shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    Ok(())
}

/// Refuse a destination whose elements alias through a zero stride: the result would
/// depend on the copy order.
pub fn check_no_broadcast(geom: &Geometry<'_>) -> Result<()> {
    if let Some(strides) = geom.strides {
        if geom.len > 0 {
            for (k, (&s, &n)) in strides.iter().zip(geom.shape).enumerate() {
                if s == 0 && n > 1 {
                    return Err(Error::strides(format_args!(
                        "destination strides[{k}] = 0 with shape[{k}] = {n}: its elements alias, so the result would depend on copy order"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
