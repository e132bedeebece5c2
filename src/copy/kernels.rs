//! Copy kernels for the innermost axis.

/// Copy `n` items of `itemsize` bytes from `src` (step `ss` bytes) to `dst` (step `ds`).
///
/// # Safety
/// Every `src + i*ss` is readable and every `dst + i*ds` writable for `itemsize` bytes,
/// `i` in `0..n`, and the two sets of bytes are disjoint.
pub(super) unsafe fn strided(
    dst: *mut u8,
    ds: isize,
    src: *const u8,
    ss: isize,
    n: usize,
    itemsize: usize,
) {
    // SAFETY: forwarded; each specialisation moves exactly `itemsize` bytes per item.
    unsafe {
        match itemsize {
            1 => typed::<u8>(dst, ds, src, ss, n),
            2 => typed::<u16>(dst, ds, src, ss, n),
            4 => typed::<u32>(dst, ds, src, ss, n),
            8 => typed::<u64>(dst, ds, src, ss, n),
            16 => typed::<[u64; 2]>(dst, ds, src, ss, n),
            _ => generic(dst, ds, src, ss, n, itemsize),
        }
    }
}

/// # Safety
/// As for [`strided`] with `itemsize == size_of::<T>()`.
#[inline(always)]
unsafe fn typed<T: Copy>(dst: *mut u8, ds: isize, src: *const u8, ss: isize, n: usize) {
    let (mut d, mut s) = (dst, src);
    for _ in 0..n {
        // SAFETY: the caller guarantees `size_of::<T>()` valid bytes at both addresses;
        // elements of foreign views need not be aligned.
        unsafe { (d as *mut T).write_unaligned((s as *const T).read_unaligned()) };
        d = d.wrapping_offset(ds);
        s = s.wrapping_offset(ss);
    }
}

/// # Safety
/// As for [`strided`].
unsafe fn generic(dst: *mut u8, ds: isize, src: *const u8, ss: isize, n: usize, itemsize: usize) {
    let (mut d, mut s) = (dst, src);
    for _ in 0..n {
        // SAFETY: the caller guarantees `itemsize` disjoint valid bytes at both addresses.
        unsafe { std::ptr::copy_nonoverlapping(s, d, itemsize) };
        d = d.wrapping_offset(ds);
        s = s.wrapping_offset(ss);
    }
}
