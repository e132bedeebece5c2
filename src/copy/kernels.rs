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
    // SAFETY: forwarded; each specialisation moves exactly `itemsize` bytes per item into
    // the destination (the overhanging ones rewrite the next item's bytes before use).
    unsafe {
        match itemsize {
            1 => typed::<u8>(dst, ds, src, ss, n),
            2 => typed::<u16>(dst, ds, src, ss, n),
            4 => typed::<u32>(dst, ds, src, ss, n),
            8 => typed::<u64>(dst, ds, src, ss, n),
            16 => typed::<[u64; 2]>(dst, ds, src, ss, n),
            3 => overhang::<3, u32>(dst, ds, src, ss, n),
            5 => overhang::<5, u64>(dst, ds, src, ss, n),
            6 => overhang::<6, u64>(dst, ds, src, ss, n),
            7 => overhang::<7, u64>(dst, ds, src, ss, n),
            12 => typed::<[u32; 3]>(dst, ds, src, ss, n),
            24 => typed::<[u64; 3]>(dst, ds, src, ss, n),
            32 => typed::<[u64; 4]>(dst, ds, src, ss, n),
            _ => generic(dst, ds, src, ss, n, itemsize),
        }
    }
}

/// Items of `N` bytes moved as a wider `W` when the destination is contiguous
/// (`ds == N`) and the source steps forward by at least `N`: each wide store spills into
/// the next destination item, which the next iteration rewrites, and each wide load reads
/// only bytes before the next source item's end. The last item is moved exactly.
///
/// # Safety
/// As for [`strided`] with `itemsize == N`, `N < size_of::<W>() < 2 * N`.
#[inline(always)]
unsafe fn overhang<const N: usize, W: Copy>(dst: *mut u8, ds: isize, src: *const u8, ss: isize, n: usize) {
    if ds != N as isize || ss < N as isize || n == 0 {
        // SAFETY: forwarded.
        return unsafe { typed::<[u8; N]>(dst, ds, src, ss, n) };
    }
    let (mut d, mut s) = (dst, src);
    for _ in 0..n - 1 {
        // SAFETY: item k and the first bytes of item k+1 lie in both views (see above).
        unsafe { (d as *mut W).write_unaligned((s as *const W).read_unaligned()) };
        d = d.wrapping_add(N);
        s = s.wrapping_offset(ss);
    }
    // SAFETY: the last item, exactly.
    unsafe { (d as *mut [u8; N]).write_unaligned((s as *const [u8; N]).read_unaligned()) };
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
