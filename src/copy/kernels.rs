//! Copy kernels for the innermost axis.
//!
//! [`strided`] moves `n` items with ordinary stores: typed moves specialised by itemsize,
//! and, for a contiguous destination gathering every other source item (`a[:, ::2]` of
//! 1-, 2-, 3-, 4- and 8-byte items), SIMD gathers chosen at run time (SSE2, SSSE3, AVX).
//!
//! [`strided_streamed`] is for outputs larger than the caches ([`stream_strided`]): the
//! same gathers, for 1- to 4-, 8- and 16-byte items, write whole 64-byte destination
//! lines straight from registers with streaming (non-temporal) stores, so that
//! destination lines are not read before they are overwritten (a read-for-ownership costs
//! a third of a copy's memory traffic); the partial lines at a run's ends get ordinary
//! stores. The caller orders the streaming stores with [`fence`] before it returns.
//!
//! Measured (128 MiB outputs, one thread, a 2-core AVX2 machine shared with other
//! work, speed relative to a memcpy of the output in the same run, median of 15):
//! `a[:, ::2]` of float64 0.60-0.70 -> 0.75-0.97 (a naive C loop: 0.58-0.69), of 3-byte
//! items 0.54-0.60 -> 0.73-0.82. Staging other gathers (other steps, other itemsizes) in
//! an L1 buffer and streaming it out gained nothing on float64 `a[:, ::3]` or 5-byte
//! `a[:, ::2]`, nor did streaming float64 `a[:, ::3]` from registers, so those keep
//! ordinary stores.
//!
//! On other architectures, and on x86-64 with [`Isa::Portable`] (for tests), only the
//! typed loops run.

/// The instruction sets a kernel may use, in increasing order; each implies the ones
/// before it. Detected once at run time ([`isa`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) enum Isa {
    /// Typed scalar loops only, and no streaming stores.
    Portable,
    /// x86-64's baseline: 16-byte gathers of 1-, 2-, 4- and 8-byte items, 16-byte
    /// streaming stores.
    Sse2,
    /// `pshufb` gathers of 3-byte items.
    Ssse3,
    /// 32-byte gathers of 4- and 8-byte items, 32-byte streaming stores.
    Avx,
}

/// The instruction set of this CPU (cached after the first call).
#[inline]
pub(super) fn isa() -> Isa {
    simd::detect()
}

/// Whether the strided runs of a copy with an output of `len` bytes are streamed: outputs
/// larger than the caches (tests lower the threshold, per thread, with [`set_stream_min`]).
#[inline]
pub(super) fn stream_strided(len: usize) -> bool {
    #[cfg(not(test))]
    let min = super::transpose::STREAM_BYTES;
    #[cfg(test)]
    let min = STREAM_MIN.with(|m| m.get());
    len >= min
}

#[cfg(test)]
thread_local! {
    static STREAM_MIN: std::cell::Cell<usize> = const { std::cell::Cell::new(super::transpose::STREAM_BYTES) };
}

/// Stream the strided runs of copies of at least `min` bytes made on this thread.
#[cfg(test)]
pub(super) fn set_stream_min(min: usize) {
    STREAM_MIN.with(|m| m.set(min));
}

/// Copy `n` items of `itemsize` bytes from `src` (step `ss` bytes) to `dst` (step `ds`).
///
/// # Safety
/// Every `src + i*ss` is readable and every `dst + i*ds` writable for `itemsize` bytes,
/// `i` in `0..n`, and the two sets of bytes are disjoint.
#[inline]
pub(super) unsafe fn strided(dst: *mut u8, ds: isize, src: *const u8, ss: isize, n: usize, itemsize: usize) {
    // SAFETY: forwarded.
    unsafe { strided_with(isa(), dst, ds, src, ss, n, itemsize) }
}

/// [`strided`] with the instruction set given (tests run every one up to [`isa`]).
///
/// # Safety
/// As for [`strided`], and `isa <= isa()`.
pub(super) unsafe fn strided_with(isa: Isa, dst: *mut u8, ds: isize, src: *const u8, ss: isize, n: usize, itemsize: usize) {
    let (mut dst, mut src, mut n) = (dst, src, n);
    if ds == itemsize as isize && ss == 2 * itemsize as isize && isa > Isa::Portable {
        // SAFETY: forwarded; `step2` moves its first `k < n` items exactly, reading no
        // byte at or past the start of item `k` (so none past the run).
        let k = unsafe { simd::step2(isa, dst, src, n, itemsize) };
        dst = dst.wrapping_add(k * itemsize);
        src = src.wrapping_add(2 * k * itemsize);
        n -= k;
    }
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
            9 => typed::<[u8; 9]>(dst, ds, src, ss, n),
            10 => typed::<[u16; 5]>(dst, ds, src, ss, n),
            11 => typed::<[u8; 11]>(dst, ds, src, ss, n),
            12 => typed::<[u32; 3]>(dst, ds, src, ss, n),
            13 => typed::<[u8; 13]>(dst, ds, src, ss, n),
            14 => typed::<[u16; 7]>(dst, ds, src, ss, n),
            15 => typed::<[u8; 15]>(dst, ds, src, ss, n),
            24 => typed::<[u64; 3]>(dst, ds, src, ss, n),
            32 => typed::<[u64; 4]>(dst, ds, src, ss, n),
            _ => generic(dst, ds, src, ss, n, itemsize),
        }
    }
}

/// `rows` strided runs of `n` items each: run `r` at `dst + r*drow` and `src + r*srow`,
/// its items `ds` and `ss` bytes apart (a rectangle: the scalar tiles of transposes).
#[derive(Clone, Copy)]
pub(super) struct Runs {
    pub dst: *mut u8,
    pub drow: isize,
    pub ds: isize,
    pub src: *const u8,
    pub srow: isize,
    pub ss: isize,
    pub rows: usize,
    pub n: usize,
}

impl Runs {
    /// Run `kernel` on every run.
    ///
    /// # Safety
    /// `kernel` may be called on each run (the contract of [`strided_rows`]).
    #[inline(always)]
    unsafe fn each(self, kernel: unsafe fn(*mut u8, isize, *const u8, isize, usize)) {
        for r in 0..self.rows as isize {
            // SAFETY: run r, as the caller guarantees.
            unsafe { kernel(self.dst.wrapping_offset(r * self.drow), self.ds, self.src.wrapping_offset(r * self.srow), self.ss, self.n) }
        }
    }
}

/// [`strided`] on every run of `runs`, with the itemsize dispatched once for all of them
/// (the runs of a transpose's scalar tile are short; measured against a call per run,
/// 128 MiB transposes: 3-byte items 0.21 -> 0.45x memcpy, 5-byte 0.40 -> 0.55, 13-byte
/// 0.37 -> 0.62, 16-byte 0.56 -> 0.98).
///
/// # Safety
/// As for [`strided`], for every run.
pub(super) unsafe fn strided_rows(runs: Runs, itemsize: usize) {
    // SAFETY: forwarded; each kernel moves exactly `itemsize` bytes per item into the
    // destination, as in `strided_with`.
    unsafe {
        match itemsize {
            1 => runs.each(typed::<u8>),
            2 => runs.each(typed::<u16>),
            4 => runs.each(typed::<u32>),
            8 => runs.each(typed::<u64>),
            16 => runs.each(typed::<[u64; 2]>),
            3 => runs.each(overhang::<3, u32>),
            5 => runs.each(overhang::<5, u64>),
            6 => runs.each(overhang::<6, u64>),
            7 => runs.each(overhang::<7, u64>),
            9 => runs.each(typed::<[u8; 9]>),
            10 => runs.each(typed::<[u16; 5]>),
            11 => runs.each(typed::<[u8; 11]>),
            12 => runs.each(typed::<[u32; 3]>),
            13 => runs.each(typed::<[u8; 13]>),
            14 => runs.each(typed::<[u16; 7]>),
            15 => runs.each(typed::<[u8; 15]>),
            24 => runs.each(typed::<[u64; 3]>),
            32 => runs.each(typed::<[u64; 4]>),
            _ => {
                for r in 0..runs.rows as isize {
                    let (d, s) = (runs.dst.wrapping_offset(r * runs.drow), runs.src.wrapping_offset(r * runs.srow));
                    strided(d, runs.ds, s, runs.ss, runs.n, itemsize);
                }
            }
        }
    }
}

/// [`strided`] for outputs larger than the caches: a contiguous destination run gathering
/// every other source item writes its whole lines with streaming stores (see the module
/// docs); any other run is copied as [`strided`] does. The caller calls [`fence`] after
/// its last streamed run, before returning.
///
/// # Safety
/// As for [`strided`].
#[inline]
pub(super) unsafe fn strided_streamed(dst: *mut u8, ds: isize, src: *const u8, ss: isize, n: usize, itemsize: usize) {
    // SAFETY: forwarded.
    unsafe { strided_streamed_with(isa(), dst, ds, src, ss, n, itemsize) }
}

/// [`strided_streamed`] with the instruction set given.
///
/// # Safety
/// As for [`strided`], and `isa <= isa()`.
pub(super) unsafe fn strided_streamed_with(isa: Isa, dst: *mut u8, ds: isize, src: *const u8, ss: isize, n: usize, itemsize: usize) {
    let (mut dst, mut src, mut n) = (dst, src, n);
    if ds == itemsize as isize && ss == 2 * itemsize as isize && isa > Isa::Portable {
        // SAFETY: forwarded; `step2_streamed` moves its first `k < n` items exactly,
        // reading no byte at or past the start of item `k` (so none past the run).
        let k = unsafe { simd::step2_streamed(isa, dst, src, n, itemsize) };
        dst = dst.wrapping_add(k * itemsize);
        src = src.wrapping_add(2 * k * itemsize);
        n -= k;
    }
    // SAFETY: forwarded: the rest of the run.
    unsafe { strided_with(isa, dst, ds, src, ss, n, itemsize) }
}

/// Order the streaming stores of [`strided_streamed`] (and of the transposes' streamed
/// paths) before any later store (they are weakly ordered): called once after the last
/// streamed store of a copy.
#[inline]
pub(super) fn fence() {
    simd::fence();
}

/// Ask for the line holding `p` in L2: a hint, which reads nothing the program sees and
/// cannot fault, whatever the address (none on other architectures).
#[inline(always)]
pub(super) fn prefetch_l2(p: *const u8) {
    simd::prefetch_l2(p);
}

/// The streaming stores the transposes share with these kernels.
#[cfg(target_arch = "x86_64")]
pub(super) use simd::{stream16, stream32};

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

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::Isa;
    use std::arch::x86_64::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    static ISA: AtomicU8 = AtomicU8::new(0); // 0 unknown, else 1 + the Isa

    #[inline]
    pub(super) fn detect() -> Isa {
        match ISA.load(Ordering::Relaxed) {
            0 => {
                let isa = if std::arch::is_x86_feature_detected!("avx") {
                    Isa::Avx
                } else if std::arch::is_x86_feature_detected!("ssse3") {
                    Isa::Ssse3
                } else {
                    Isa::Sse2
                };
                ISA.store(isa as u8 + 1, Ordering::Relaxed);
                isa
            }
            2 => Isa::Sse2,
            3 => Isa::Ssse3,
            4 => Isa::Avx,
            _ => Isa::Portable,
        }
    }

    /// Gather the first items of a contiguous destination run from every other source
    /// item (`ds == itemsize`, `ss == 2 * itemsize`), a SIMD group at a time, with ordinary
    /// stores; returns how many items it moved. It leaves at least the last item, so that
    /// no load reaches past the start of the item after a group (the bytes between items
    /// lie within the source's extent).
    ///
    /// # Safety
    /// As for [`super::strided`] with these steps; `isa > Portable` and present.
    #[inline]
    pub(super) unsafe fn step2(isa: Isa, d: *mut u8, s: *const u8, n: usize, itemsize: usize) -> usize {
        let groups = |g: usize| n.saturating_sub(1) / g;
        // SAFETY: `groups` leaves at least one item after the last group; each kernel's
        // feature is implied by `isa`.
        unsafe {
            match itemsize {
                8 if isa >= Isa::Avx => {
                    let k = groups(4);
                    step2_8_avx(d, s, k);
                    4 * k
                }
                8 => {
                    let k = groups(2);
                    step2_8_sse2(d, s, k);
                    2 * k
                }
                4 if isa >= Isa::Avx => {
                    let k = groups(8);
                    step2_4_avx(d, s, k);
                    8 * k
                }
                4 => {
                    let k = groups(4);
                    step2_4_sse2(d, s, k);
                    4 * k
                }
                3 if isa >= Isa::Ssse3 => {
                    let k = groups(16);
                    step2_3_ssse3(d, s, k);
                    16 * k
                }
                2 => {
                    let k = groups(8);
                    step2_2_sse2(d, s, k);
                    8 * k
                }
                1 => {
                    let k = groups(16);
                    step2_1_sse2(d, s, k);
                    16 * k
                }
                _ => 0,
            }
        }
    }

    /// [`step2`] with streaming stores: the items before the first whole destination line
    /// with ordinary stores, then whole lines gathered in registers and streamed straight
    /// to the destination (64 items of 3 bytes fill three lines). Returns how many items it
    /// moved (0 if this itemsize has no streamed gather, or its items are not aligned to
    /// their size, or the run holds no whole line to stream), leaving at least the last
    /// item, as [`step2`] does.
    ///
    /// # Safety
    /// As for [`step2`].
    #[inline]
    pub(super) unsafe fn step2_streamed(isa: Isa, d: *mut u8, s: *const u8, n: usize, itemsize: usize) -> usize {
        let addr = d as usize;
        // Items before the first line boundary (for 3-byte items, the first boundary where
        // an item starts: 3 * 43 = 1 mod 64).
        let (head, per_block) = match itemsize {
            3 if isa >= Isa::Ssse3 => (addr.wrapping_neg().wrapping_mul(43) & 63, 64),
            1 | 2 | 4 | 8 | 16 if addr.is_multiple_of(itemsize) => ((addr.wrapping_neg() & 63) / itemsize, 64 / itemsize),
            _ => return 0,
        };
        let blocks = n.saturating_sub(head + 1) / per_block;
        if blocks == 0 {
            return 0;
        }
        // SAFETY: the head items with ordinary stores (forwarded), then whole lines from
        // a 64-byte aligned `d`, leaving at least one item after the last block; each
        // kernel's feature is implied by `isa`.
        unsafe {
            super::strided_with(isa, d, itemsize as isize, s, 2 * itemsize as isize, head, itemsize);
            let (d, s) = (d.add(head * itemsize), s.add(2 * head * itemsize));
            match itemsize {
                8 if isa >= Isa::Avx => lines_8_avx(d, s, blocks),
                8 => lines_sse2(d, s, blocks, pick_8_sse2),
                4 if isa >= Isa::Avx => lines_4_avx(d, s, blocks),
                4 => lines_sse2(d, s, blocks, pick_4_sse2),
                2 => lines_sse2(d, s, blocks, pick_2_sse2),
                1 => lines_sse2(d, s, blocks, pick_1_sse2),
                16 => lines_sse2(d, s, blocks, pick_16_sse2),
                _ => lines_3_ssse3(d, s, blocks),
            }
        }
        head + blocks * per_block
    }

    // The gathers of one group: `pick_*(s)` reads the source bytes `s .. s + 2*W` and
    // returns the `W` bytes of its even items (`W` = the vector's width).
    //
    // # Safety (of each)
    // Those bytes are readable; the function's feature is present.

    #[inline]
    #[target_feature(enable = "avx")]
    unsafe fn pick_8_avx(s: *const u8) -> __m256i {
        // SAFETY: the 64 source bytes (the contract); unaligned loads.
        unsafe {
            let a = _mm256_loadu_pd(s.cast()); // x0 . x1 .
            let b = _mm256_loadu_pd(s.add(32).cast()); // x2 . x3 .
            let lo = _mm256_permute2f128_pd::<0x20>(a, b); // x0 . x2 .
            let hi = _mm256_permute2f128_pd::<0x31>(a, b); // x1 . x3 .
            _mm256_castpd_si256(_mm256_unpacklo_pd(lo, hi))
        }
    }

    #[inline]
    #[target_feature(enable = "avx")]
    unsafe fn pick_4_avx(s: *const u8) -> __m256i {
        // SAFETY: the 64 source bytes (the contract); unaligned loads.
        unsafe {
            let a = _mm256_loadu_ps(s.cast()); // x0 . x1 . | x2 . x3 .
            let b = _mm256_loadu_ps(s.add(32).cast()); // x4 . x5 . | x6 . x7 .
            let lo = _mm256_permute2f128_ps::<0x20>(a, b); // x0 . x1 . | x4 . x5 .
            let hi = _mm256_permute2f128_ps::<0x31>(a, b); // x2 . x3 . | x6 . x7 .
            _mm256_castps_si256(_mm256_shuffle_ps::<0x88>(lo, hi))
        }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn pick_8_sse2(s: *const u8) -> __m128i {
        // SAFETY: the 32 source bytes (the contract); unaligned loads.
        unsafe { _mm_unpacklo_epi64(_mm_loadu_si128(s.cast()), _mm_loadu_si128(s.add(16).cast())) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn pick_4_sse2(s: *const u8) -> __m128i {
        // SAFETY: the 32 source bytes (the contract); unaligned loads.
        unsafe {
            let (a, b) = (_mm_loadu_ps(s.cast()), _mm_loadu_ps(s.add(16).cast()));
            _mm_castps_si128(_mm_shuffle_ps::<0x88>(a, b))
        }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn pick_2_sse2(s: *const u8) -> __m128i {
        // SAFETY: the 32 source bytes (the contract); unaligned loads.
        unsafe {
            // The low half of each 32-bit lane, sign-extended, packs back unsaturated.
            let a = _mm_srai_epi32::<16>(_mm_slli_epi32::<16>(_mm_loadu_si128(s.cast())));
            let b = _mm_srai_epi32::<16>(_mm_slli_epi32::<16>(_mm_loadu_si128(s.add(16).cast())));
            _mm_packs_epi32(a, b)
        }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn pick_1_sse2(s: *const u8) -> __m128i {
        let low = _mm_set1_epi16(0xff);
        // SAFETY: the 32 source bytes (the contract); unaligned loads.
        unsafe {
            let a = _mm_and_si128(_mm_loadu_si128(s.cast()), low);
            let b = _mm_and_si128(_mm_loadu_si128(s.add(16).cast()), low);
            _mm_packus_epi16(a, b)
        }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn pick_16_sse2(s: *const u8) -> __m128i {
        // SAFETY: the first 16 of the 32 source bytes (the contract); an unaligned load.
        unsafe { _mm_loadu_si128(s.cast()) }
    }

    /// 16 items of 3 bytes (48 bytes of output) from the 96 source bytes at `s`: six
    /// 16-byte loads at items 0, 3, 6, 9, 12 (three items each) and at byte 80 (item 15
    /// at its byte 10), each item's bytes moved into place by `pshufb` and the pieces
    /// or-ed together.
    #[inline]
    #[target_feature(enable = "ssse3")]
    unsafe fn pick_3_ssse3(s: *const u8) -> [__m128i; 3] {
        const Z: i8 = -1; // pshufb writes zero
        #[rustfmt::skip]
        #[inline]
        #[target_feature(enable = "ssse3")]
        fn m(b: [i8; 16]) -> __m128i {
            _mm_setr_epi8(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        }
        // Output bytes 0..16: items 0-2 from load 0, items 3, 4 and a byte of 5 from load 1.
        let m0 = m([0, 1, 2, 6, 7, 8, 12, 13, 14, Z, Z, Z, Z, Z, Z, Z]);
        let m1a = m([Z, Z, Z, Z, Z, Z, Z, Z, Z, 0, 1, 2, 6, 7, 8, 12]);
        // Bytes 16..32: the rest of item 5, items 6-8 (load 2), 9 and most of 10 (load 3).
        let m1b = m([13, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z]);
        let m2 = m([Z, Z, 0, 1, 2, 6, 7, 8, 12, 13, 14, Z, Z, Z, Z, Z]);
        let m3a = m([Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 0, 1, 2, 6, 7]);
        // Bytes 32..48: the rest of item 10, 11, items 12-14 (load 4), 15 (load 5).
        let m3b = m([8, 12, 13, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z]);
        let m4 = m([Z, Z, Z, Z, 0, 1, 2, 6, 7, 8, 12, 13, 14, Z, Z, Z]);
        let m5 = m([Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 10, 11, 12]);
        // SAFETY: the 96 source bytes (the contract); unaligned loads.
        let l: [__m128i; 6] = unsafe { [0, 18, 36, 54, 72, 80].map(|k| _mm_loadu_si128(s.add(k).cast())) };
        let o0 = _mm_or_si128(_mm_shuffle_epi8(l[0], m0), _mm_shuffle_epi8(l[1], m1a));
        let o1 = _mm_or_si128(_mm_shuffle_epi8(l[1], m1b), _mm_or_si128(_mm_shuffle_epi8(l[2], m2), _mm_shuffle_epi8(l[3], m3a)));
        let o2 = _mm_or_si128(_mm_shuffle_epi8(l[3], m3b), _mm_or_si128(_mm_shuffle_epi8(l[4], m4), _mm_shuffle_epi8(l[5], m5)));
        [o0, o1, o2]
    }

    // The ordinary-store loops: `step2_*(d, s, groups)` moves `groups` groups, group `g`
    // reading the source bytes `s + g*2*W ..` and writing `d + g*W .. d + (g+1)*W`.
    //
    // # Safety (of each)
    // Those bytes are readable, and writable, and disjoint; the feature is present.

    #[target_feature(enable = "avx")]
    unsafe fn step2_8_avx(d: *mut u8, s: *const u8, groups: usize) {
        for g in 0..groups {
            // SAFETY: the group's 64 source and 32 destination bytes (the contract).
            unsafe { _mm256_storeu_si256(d.add(32 * g).cast(), pick_8_avx(s.add(64 * g))) };
        }
    }

    #[target_feature(enable = "avx")]
    unsafe fn step2_4_avx(d: *mut u8, s: *const u8, groups: usize) {
        for g in 0..groups {
            // SAFETY: the group's 64 source and 32 destination bytes (the contract).
            unsafe { _mm256_storeu_si256(d.add(32 * g).cast(), pick_4_avx(s.add(64 * g))) };
        }
    }

    #[target_feature(enable = "sse2")]
    unsafe fn step2_8_sse2(d: *mut u8, s: *const u8, groups: usize) {
        for g in 0..groups {
            // SAFETY: the group's 32 source and 16 destination bytes (the contract).
            unsafe { _mm_storeu_si128(d.add(16 * g).cast(), pick_8_sse2(s.add(32 * g))) };
        }
    }

    #[target_feature(enable = "sse2")]
    unsafe fn step2_4_sse2(d: *mut u8, s: *const u8, groups: usize) {
        for g in 0..groups {
            // SAFETY: the group's 32 source and 16 destination bytes (the contract).
            unsafe { _mm_storeu_si128(d.add(16 * g).cast(), pick_4_sse2(s.add(32 * g))) };
        }
    }

    #[target_feature(enable = "sse2")]
    unsafe fn step2_2_sse2(d: *mut u8, s: *const u8, groups: usize) {
        for g in 0..groups {
            // SAFETY: the group's 32 source and 16 destination bytes (the contract).
            unsafe { _mm_storeu_si128(d.add(16 * g).cast(), pick_2_sse2(s.add(32 * g))) };
        }
    }

    #[target_feature(enable = "sse2")]
    unsafe fn step2_1_sse2(d: *mut u8, s: *const u8, groups: usize) {
        for g in 0..groups {
            // SAFETY: the group's 32 source and 16 destination bytes (the contract).
            unsafe { _mm_storeu_si128(d.add(16 * g).cast(), pick_1_sse2(s.add(32 * g))) };
        }
    }

    #[target_feature(enable = "ssse3")]
    unsafe fn step2_3_ssse3(d: *mut u8, s: *const u8, groups: usize) {
        for g in 0..groups {
            // SAFETY: the group's 96 source and 48 destination bytes (the contract).
            unsafe {
                let (d, o) = (d.add(48 * g), pick_3_ssse3(s.add(96 * g)));
                for (j, o) in o.into_iter().enumerate() {
                    _mm_storeu_si128(d.add(16 * j).cast(), o);
                }
            }
        }
    }

    // The streaming loops: `lines_*(d, s, blocks)` writes `blocks` blocks of whole lines
    // (one line, or three for 3-byte items) at the 64-byte aligned `d`, block `b` reading
    // the source bytes `s + b*2*B .. s + (b+1)*2*B` (`B` bytes of output per block).
    //
    // # Safety (of each)
    // `d` is 64-byte aligned; those bytes are readable, and writable, and disjoint; the
    // feature is present.

    /// Source lines this far ahead are asked for by the AVX gathers of 4- and 8-byte
    /// items (measured, f8 `a[:, ::2]` of 128 MiB: 256 B +0-8 %, 512 B +2-14 %, 1 KiB
    /// +0-4 % against none, in one process).
    const AHEAD: usize = 512;

    #[target_feature(enable = "avx")]
    unsafe fn lines_8_avx(d: *mut u8, s: *const u8, blocks: usize) {
        for b in 0..blocks {
            let ahead = s.wrapping_add(128 * b + AHEAD);
            prefetch(ahead);
            prefetch(ahead.wrapping_add(64));
            // SAFETY: the block's 128 source bytes and its destination line (the contract).
            unsafe {
                let (d, s) = (d.add(64 * b), s.add(128 * b));
                stream32(d, pick_8_avx(s));
                stream32(d.add(32), pick_8_avx(s.add(64)));
            }
        }
    }

    #[target_feature(enable = "avx")]
    unsafe fn lines_4_avx(d: *mut u8, s: *const u8, blocks: usize) {
        for b in 0..blocks {
            let ahead = s.wrapping_add(128 * b + AHEAD);
            prefetch(ahead);
            prefetch(ahead.wrapping_add(64));
            // SAFETY: the block's 128 source bytes and its destination line (the contract).
            unsafe {
                let (d, s) = (d.add(64 * b), s.add(128 * b));
                stream32(d, pick_4_avx(s));
                stream32(d.add(32), pick_4_avx(s.add(64)));
            }
        }
    }

    /// Lines of four 16-byte groups, each gathered by `pick`.
    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn lines_sse2(d: *mut u8, s: *const u8, blocks: usize, pick: unsafe fn(*const u8) -> __m128i) {
        for b in 0..blocks {
            // SAFETY: the block's 128 source bytes and its destination line (the contract).
            unsafe {
                let (d, s) = (d.add(64 * b), s.add(128 * b));
                for j in 0..4 {
                    stream16(d.add(16 * j), pick(s.add(32 * j)));
                }
            }
        }
    }

    /// With software prefetches 4 KiB ahead: this gather spends enough instructions per
    /// source line that, waiting on memory, the out-of-order window holds too few source
    /// lines in flight (measured: 0.74x memcpy with them, 0.58x without).
    #[target_feature(enable = "ssse3")]
    unsafe fn lines_3_ssse3(d: *mut u8, s: *const u8, blocks: usize) {
        for b in 0..blocks {
            let ahead = s.wrapping_add(384 * b + 4096);
            for k in 0..6 {
                prefetch(ahead.wrapping_add(64 * k));
            }
            // SAFETY: the block's 384 source bytes and its three destination lines (the
            // contract): four groups of 16 items.
            unsafe {
                let (d, s) = (d.add(192 * b), s.add(384 * b));
                for g in 0..4 {
                    for (j, o) in pick_3_ssse3(s.add(96 * g)).into_iter().enumerate() {
                        stream16(d.add(48 * g + 16 * j), o);
                    }
                }
            }
        }
    }

    /// A streaming store of 32 bytes to a 32-byte aligned `d`.
    ///
    /// # Safety
    /// `d` is 32-byte aligned and writable for 32 bytes; AVX is present.
    #[inline]
    #[target_feature(enable = "avx")]
    pub(in crate::copy) unsafe fn stream32(d: *mut u8, v: __m256i) {
        // Miri cannot interpret `vmovntdq` (core::arch writes it as inline assembly):
        // there it is an ordinary store, with the alignment the instruction needs asserted.
        if cfg!(miri) {
            assert_eq!(d as usize % 32, 0, "streaming store to an unaligned address");
            // SAFETY: forwarded.
            unsafe { _mm256_store_si256(d.cast(), v) }
        } else {
            // reach-exempt: Miri cannot interpret vmovntdq (the same tests run it natively).
            // SAFETY: forwarded.
            unsafe { _mm256_stream_si256(d.cast(), v) }
        }
    }

    /// A streaming store of 16 bytes to a 16-byte aligned `d`.
    ///
    /// # Safety
    /// `d` is 16-byte aligned and writable for 16 bytes.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(in crate::copy) unsafe fn stream16(d: *mut u8, v: __m128i) {
        if cfg!(miri) {
            assert_eq!(d as usize % 16, 0, "streaming store to an unaligned address");
            // SAFETY: forwarded.
            unsafe { _mm_store_si128(d.cast(), v) }
        } else {
            // reach-exempt: Miri cannot interpret movntdq (the same tests run it natively).
            // SAFETY: forwarded.
            unsafe { _mm_stream_si128(d.cast(), v) }
        }
    }

    /// A hint to fetch the line at `p` into the caches; never faults.
    #[inline(always)]
    fn prefetch(p: *const u8) {
        // SAFETY: prefetching is a hint that never dereferences or faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
    }

    /// [`super::prefetch_l2`].
    #[inline(always)]
    pub(super) fn prefetch_l2(p: *const u8) {
        // SAFETY: prefetching is a hint that never dereferences or faults.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast()) };
    }

    pub(super) fn fence() {
        if cfg!(miri) {
            // Miri has no `sfence` (and its stores are ordinary ones): a full fence.
            std::sync::atomic::fence(Ordering::SeqCst);
        } else {
            // reach-exempt: Miri cannot interpret sfence (the same tests run it natively).
            // SAFETY: SSE is part of x86-64.
            unsafe { _mm_sfence() };
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::Isa;

    pub(super) fn detect() -> Isa {
        Isa::Portable
    }
    pub(super) unsafe fn step2(_: Isa, _: *mut u8, _: *const u8, _: usize, _: usize) -> usize {
        0
    }
    pub(super) unsafe fn step2_streamed(_: Isa, _: *mut u8, _: *const u8, _: usize, _: usize) -> usize {
        0
    }
    pub(super) fn prefetch_l2(_: *const u8) {}
    pub(super) fn fence() {}
}

#[cfg(test)]
#[path = "kernel_tests.rs"]
mod tests;
