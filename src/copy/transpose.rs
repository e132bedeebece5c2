//! Cache-blocked transposes: the kernel for copies whose source and destination have
//! different fastest axes (a transposed view made contiguous, C order to F order, an
//! axis permutation).
//!
//! The problem is two-dimensional: `dst[i*dsi + j*dsj] = src[i*ssi + j*ssj]`, where `j`
//! is the destination's fast axis and `i` the source's. When both fast axes are
//! contiguous, a SIMD micro-kernel transposes a square block in registers, chosen at run
//! time: 2x2 sixteen-byte items (streamed outputs only), 4x4 doubles and 8x8 floats with
//! AVX; 16x16 two-byte and 32x32 one-byte items with AVX2 (two SSE-sized blocks per
//! register); 8x8 two-byte and 16x16 one-byte items with SSE2 (part of x86-64). Other
//! itemsizes, other strides and other architectures take a portable scalar loop over the
//! same tiles. [`tiled`] groups the blocks into tiles and bands, streaming large outputs
//! past the caches.

use super::kernels;

mod tiled;

/// The 2-D transpose to perform, in elements and byte strides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Transpose {
    pub ni: usize,
    pub nj: usize,
    pub dsi: isize,
    pub dsj: isize,
    pub ssi: isize,
    pub ssj: isize,
}

/// Outputs at least this large are streamed past the caches.
pub(super) const STREAM_BYTES: usize = 8 << 20;

/// Run the transpose.
///
/// # Safety
/// Every `src + i*ssi + j*ssj` is readable and every `dst + i*dsi + j*dsj` writable for
/// `itemsize` bytes (`i < ni`, `j < nj`), the two sets disjoint.
pub(super) unsafe fn run(dst: *mut u8, src: *const u8, t: &Transpose, itemsize: usize, stream: bool, staging: Staging<'_>) {
    let micro = Micro::pick(itemsize, t);
    if stream && t.dsj == itemsize as isize && simd::can_stream() {
        // SAFETY: forwarded.
        return unsafe { run_streamed(dst, src, t, itemsize, micro, staging) };
    }
    let micro = micro.in_cache();
    if t.ni * t.nj * itemsize <= 4096 {
        // Small enough to be one tile.
        // SAFETY: forwarded.
        return unsafe { tile_kernel::<false>(dst, src, t, itemsize, micro) };
    }
    if t.ni.saturating_mul(t.dsi.unsigned_abs()) > FAR_BYTES && t.dsj == itemsize as isize && simd::can_stream() {
        // Destination rows far apart (a block of rows of a large transposed view, as an
        // I/O read stores it from its staging buffer): they are not in cache either, so
        // stream them as a large output is (measured: twice as fast as plain stores,
        // which read every line before writing it).
        // reach-exempt: a destination spanning more than 8 MiB, too slow to fill under Miri
        // (far_transposes_match_reference runs it natively).
        // SAFETY: forwarded.
        return unsafe { run_streamed(dst, src, t, itemsize, micro, staging) };
    }
    // SAFETY: forwarded.
    unsafe { tiled::run_direct::<false>(dst, src, t, Outer::ONE, itemsize, micro) }
}

/// An axis outside a transpose's destination rows: `n` runs of its rows, `ds` and `ss`
/// bytes apart (see [`run_outer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Outer {
    pub n: usize,
    pub ds: isize,
    pub ss: isize,
}

impl Outer {
    /// No outer axis: one run.
    pub(super) const ONE: Outer = Outer { n: 1, ds: 0, ss: 0 };
}

/// Run the transpose `t` for each index of `outer`, as [`run`] would in a loop, but as
/// one tiled transpose of `outer.n * t.ni` destination rows when it is streamed straight
/// into the destination: its bands then read each source row along every run (the
/// caller passes the axis whose runs follow one another in the source, so that each
/// source row is one long stream; measured: 4-D reversed axes f8 64^4 from 0.41-0.53x
/// memcpy to 0.61-0.66x, three runs each).
///
/// # Safety
/// As for [`run`], for `t` at every `dst + k * outer.ds`, `src + k * outer.ss`
/// (`k < outer.n`), all of them disjoint from the source.
pub(super) unsafe fn run_outer(dst: *mut u8, src: *const u8, t: &Transpose, outer: Outer, itemsize: usize, stream: bool, staging: Staging<'_>) {
    let micro = Micro::pick(itemsize, t);
    if outer.n > 1
        && stream
        && t.dsj == itemsize as isize
        && simd::can_stream()
        && tiled::direct(dst, t, micro)
        && outer.ds.unsigned_abs().is_multiple_of(64)
    {
        // SAFETY: forwarded; every destination row is 64-byte aligned.
        return unsafe { tiled::run_direct::<true>(dst, src, t, outer, itemsize, micro) };
    }
    for k in 0..outer.n as isize {
        // SAFETY: forwarded, run k.
        unsafe { run(dst.wrapping_offset(k * outer.ds), src.wrapping_offset(k * outer.ss), t, itemsize, stream, staging) };
    }
}

/// Destinations spanning more than this are streamed, as large outputs are: their rows
/// are too far apart for the caches. (At 1 MiB, f8 512x512, 2 MiB in all and in cache,
/// ran at 0.21x memcpy streamed against 0.48x with ordinary stores.)
const FAR_BYTES: usize = STREAM_BYTES;

/// Where a streamed transpose finds its staging buffer.
#[derive(Clone, Copy)]
pub(super) enum Staging<'s> {
    /// The global pool (a per-call copy): may allocate the first time.
    Pool,
    /// A prepared plan's own buffers, allocated when it was made: never allocates.
    Plan(&'s Stages),
}

/// One `micro.side()`-square block with ordinary stores, for the small copies that pick
/// their micro-kernel once (`super::small`).
///
/// # Safety
/// `micro` is from [`Micro::pick`] and not `Scalar`; the block's `side` columns of `side`
/// contiguous elements at `src + j*ss` are readable, its `side` rows of `side` contiguous
/// elements at `dst + i*ds` writable, the two disjoint.
#[inline(always)]
pub(super) unsafe fn block(micro: Micro, dst: *mut u8, ds: isize, src: *const u8, ss: isize) {
    // SAFETY: forwarded.
    unsafe { simd::block::<false>(micro, dst, ds, src, ss) }
}

/// The destination rows of a streamed transpose's tile (its `bi`): parts of a prepared
/// plan that split the transpose's rows take multiples of it.
pub(super) fn panel_rows(itemsize: usize) -> usize {
    tiled::tile_dims(itemsize, Micro::Scalar).0
}

/// Whether a transpose with these strides, of an output of `len` bytes, is streamed
/// through a staging buffer (so a prepared plan allocates stages for it).
pub(super) fn streams(t: &Transpose, itemsize: usize, len: usize) -> bool {
    len >= STREAM_BYTES && t.dsj == itemsize as isize && simd::can_stream()
}

/// The stage bytes a streamed transpose `t` needs with any micro-kernel.
pub(super) fn stage_bytes(t: &Transpose, itemsize: usize) -> usize {
    tiled::layout(t, itemsize, Micro::Scalar).3.max(tiled::layout(t, itemsize, Micro::pick(itemsize, t)).3)
}

/// The transpose for outputs larger than the caches, with streaming stores, so that every
/// destination line is written once, whole, without being read first: straight from the
/// micro-kernels when their rows land aligned, else through a staging buffer
/// ([`tiled`]).
///
/// # Safety
/// As for [`run`], with `t.dsj == itemsize`.
unsafe fn run_streamed(dst: *mut u8, src: *const u8, t: &Transpose, itemsize: usize, micro: Micro, staging: Staging<'_>) {
    if tiled::direct(dst, t, micro) {
        // SAFETY: forwarded; block rows are aligned for streaming stores.
        return unsafe { tiled::run_direct::<true>(dst, src, t, Outer::ONE, itemsize, micro) };
    }
    let need = tiled::layout(t, itemsize, micro).3;
    let stream = |base: *mut u8| {
        // Align the stage to a cache line.
        let sp = base.wrapping_add(base.align_offset(64));
        // SAFETY: forwarded; the stage holds `need` bytes, aligned to 64 after at most 64.
        unsafe { tiled::run_staged(dst, src, t, itemsize, micro, sp) };
    };
    match staging {
        Staging::Plan(stages) => {
            if let Some(claim) = stages.claim(need) {
                return stream(claim.ptr());
            }
        }
        Staging::Pool => {
            if let Some(mut stage) = stage::take(need) {
                stream(stage.as_mut_ptr());
                return stage::give_back(stage);
            }
        }
    }
    // SAFETY: forwarded; without a staging buffer (none free, or no memory), the
    // in-cache path is still correct.
    unsafe { run(dst, src, t, itemsize, false, Staging::Pool) }
}

/// A prepared plan's staging buffers: allocated with the plan, each used by one execution
/// at a time (claimed with an atomic flag, so concurrent executions and parts of one plan
/// take different buffers without locks or allocation). An execution that finds every
/// buffer claimed takes the in-cache path: the same bytes, only slower.
pub(crate) struct Stages {
    slots: Box<[Slot]>,
}

struct Slot {
    busy: std::sync::atomic::AtomicBool,
    /// Bytes written through a shared reference (interior mutability), by the claimant.
    buf: Box<[std::cell::UnsafeCell<u8>]>,
}

// SAFETY: a slot's bytes are only touched by the one thread that set its `busy` flag
// (acquire), until it clears it (release); the flag itself is atomic, and the boxed
// slice's pointer and length never change.
unsafe impl Sync for Slot {}

/// A claimed staging buffer, given back when dropped.
pub(super) struct Claim<'s> {
    slot: &'s Slot,
}

impl Claim<'_> {
    fn ptr(&self) -> *mut u8 {
        std::cell::UnsafeCell::raw_get(self.slot.buf.as_ptr())
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.slot.busy.store(false, std::sync::atomic::Ordering::Release);
    }
}

impl Stages {
    /// `count` buffers of `bytes` each, or an OutOfMemory error.
    pub(crate) fn new(count: usize, bytes: usize) -> crate::error::Result<Stages> {
        let what = "the staging buffers of a copy plan";
        let mut slots = crate::alloc::try_with_capacity(count, what)?;
        for _ in 0..count {
            let mut buf = crate::alloc::try_with_capacity(bytes, what)?;
            buf.resize_with(bytes, || std::cell::UnsafeCell::new(0u8));
            slots.push(Slot { busy: std::sync::atomic::AtomicBool::new(false), buf: buf.into_boxed_slice() });
        }
        Ok(Stages { slots: slots.into_boxed_slice() })
    }

    /// How many buffers there are.
    pub(crate) fn count(&self) -> usize {
        self.slots.len()
    }

    /// A free buffer of at least `need` bytes, if any.
    fn claim(&self, need: usize) -> Option<Claim<'_>> {
        use std::sync::atomic::Ordering;
        self.slots.iter().find_map(|slot| {
            // (`then`, not `then_some`: a Claim made for a slot not won would release it
            // when dropped.)
            (slot.buf.len() >= need
                && slot.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok())
            .then(|| Claim { slot })
        })
    }
}

/// The staging buffers of streamed transposes ([`tiled::run_staged`]),
/// kept between calls so that large copies do not map fresh pages each time.
///
/// A global pool, not a thread-local: a thread-local that owns memory has a destructor,
/// and one first used while its thread ends (a copy from a pthread key destructor or an
/// `atexit` handler) is never destroyed, so each such thread leaked its buffer (issue 12,
/// found by valgrind on `c_tests/test_teardown.c`). The pool keeps a few buffers for the
/// threads that copy at the same time and frees the rest.
mod stage {
    use std::sync::Mutex;

    static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    /// Buffers kept at most (each about 100 KiB, plus 64 bytes per destination row).
    const KEEP: usize = 4;

    #[cfg(test)]
    thread_local! {
        /// Set by the tests of the fallback: this thread gets no stage.
        pub(super) static REFUSE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// A buffer of at least `need` bytes, or None (no memory).
    pub(super) fn take(need: usize) -> Option<Vec<u8>> {
        #[cfg(test)]
        if REFUSE.with(|r| r.get()) {
            return None;
        }
        let mut stage = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default();
        if stage.len() < need {
            stage.clear();
            stage.try_reserve_exact(need).ok()?;
            stage.resize(need, 0);
        }
        Some(stage)
    }

    /// Return a buffer to the pool (or free it when the pool is full).
    pub(super) fn give_back(stage: Vec<u8>) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < KEEP {
            pool.push(stage);
        }
    }
}

/// Which micro-kernel a transpose can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Micro {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx8,
    #[cfg(target_arch = "x86_64")]
    Avx4,
    #[cfg(target_arch = "x86_64")]
    Sse2,
    #[cfg(target_arch = "x86_64")]
    Sse1,
    /// 16 x 16 two-byte items, two 8 x 8 blocks per AVX2 register.
    #[cfg(target_arch = "x86_64")]
    Avx2x2,
    /// 32 x 32 bytes, two 16 x 16 blocks per AVX2 register.
    #[cfg(target_arch = "x86_64")]
    Avx2x1,
    /// 2 x 2 sixteen-byte items (complex doubles), one AVX register per row.
    #[cfg(target_arch = "x86_64")]
    Avx16,
}

impl Micro {
    /// The micro-kernel for this itemsize, when both fast axes are contiguous.
    #[inline]
    pub(super) fn pick(itemsize: usize, t: &Transpose) -> Micro {
        let e = itemsize as isize;
        if t.dsj != e || t.ssi != e || !simd::enabled() {
            return Micro::Scalar;
        }
        #[cfg(target_arch = "x86_64")]
        {
            match itemsize {
                8 if simd::has_avx() => return Micro::Avx8,
                16 if simd::has_avx() => return Micro::Avx16,
                4 if simd::has_avx() => return Micro::Avx4,
                2 if simd::has_avx2() => return Micro::Avx2x2,
                1 if simd::has_avx2() => return Micro::Avx2x1,
                2 => return Micro::Sse2,
                1 => return Micro::Sse1,
                _ => {}
            }
        }
        Micro::Scalar
    }

    /// The kernel for a transpose in cache: the 16-byte blocks only pay where they are
    /// streamed (measured, 128 MiB, in one process: 0.95-1.38x memcpy against 0.79-0.87
    /// scalar; in cache, 250x262: 0.30-0.37 against 0.77-0.81 scalar).
    pub(super) fn in_cache(self) -> Micro {
        match self {
            #[cfg(target_arch = "x86_64")]
            Micro::Avx16 => Micro::Scalar,
            m => m,
        }
    }

    /// The bytes of one block row, which streaming stores need aligned (0: no block).
    fn row_bytes(self) -> usize {
        match self {
            Micro::Scalar => 0,
            #[cfg(target_arch = "x86_64")]
            Micro::Avx8 | Micro::Avx4 | Micro::Avx2x2 | Micro::Avx2x1 | Micro::Avx16 => 32,
            #[cfg(target_arch = "x86_64")]
            Micro::Sse2 | Micro::Sse1 => 16,
        }
    }

    /// The block side, in elements.
    pub(super) fn side(self) -> usize {
        match self {
            Micro::Scalar => 1,
            #[cfg(target_arch = "x86_64")]
            Micro::Avx16 => 2,
            #[cfg(target_arch = "x86_64")]
            Micro::Avx8 => 4,
            #[cfg(target_arch = "x86_64")]
            Micro::Avx4 | Micro::Sse2 => 8,
            #[cfg(target_arch = "x86_64")]
            Micro::Sse1 | Micro::Avx2x2 => 16,
            #[cfg(target_arch = "x86_64")]
            Micro::Avx2x1 => 32,
        }
    }
}

/// One tile: micro-kernel blocks, then scalar edges.
///
/// # Safety
/// As for [`run`], for this tile.
unsafe fn tile_kernel<const NT: bool>(dst: *mut u8, src: *const u8, t: &Transpose, itemsize: usize, micro: Micro) {
    let m = micro.side();
    let (fi, fj) = if m > 1 { (t.ni / m * m, t.nj / m * m) } else { (0, 0) };
    if m > 1 {
        // Blocks in 2x2 groups when a block row is half a line (the AVX kernels): each
        // source line is then read by two blocks back to back and each destination line
        // completed by two consecutive blocks, so that rows a power of two apart, which
        // share an L1 set, are not read twice (measured: f8 512x512 in cache 1.4x faster,
        // u2 1024x1024 1.35x; large outputs unchanged).
        let g = if micro.row_bytes() == 32 { 2 } else { 1 };
        let mut i = 0;
        while i < fi {
            let down = if i + g * m <= fi { g } else { 1 };
            let mut j = 0;
            while j < fj {
                let across = if j + g * m <= fj { g } else { 1 };
                for a in 0..down {
                    for b in 0..across {
                        let (bi, bj) = (i + a * m, j + b * m);
                        let d = dst.wrapping_offset(bi as isize * t.dsi + bj as isize * t.dsj);
                        let s = src.wrapping_offset(bi as isize * t.ssi + bj as isize * t.ssj);
                        // SAFETY: an m x m block inside the tile (bi < fi, bj < fj), with
                        // contiguous fast axes (checked by `Micro::pick`) and the CPU
                        // feature detected; with NT, the caller guarantees the stores'
                        // alignment.
                        unsafe { simd::block::<NT>(micro, d, t.dsi, s, t.ssj) };
                    }
                }
                j += across * m;
            }
            i += down * m;
        }
    }
    // Scalar: the columns right of the blocks for the block rows, then the rows below.
    // SAFETY: sub-rectangles of the tile.
    unsafe {
        if fj < t.nj {
            scalar(dst.wrapping_offset(fj as isize * t.dsj), src.wrapping_offset(fj as isize * t.ssj), fi, t.nj - fj, t, itemsize);
        }
        if fi < t.ni {
            scalar(dst.wrapping_offset(fi as isize * t.dsi), src.wrapping_offset(fi as isize * t.ssi), t.ni - fi, t.nj, t, itemsize);
        }
    }
}

/// A scalar `ni x nj` sub-rectangle: along j, the destination's fast axis.
///
/// # Safety
/// As for [`run`], for this rectangle.
unsafe fn scalar(dst: *mut u8, src: *const u8, ni: usize, nj: usize, t: &Transpose, itemsize: usize) {
    let runs = kernels::Runs { dst, drow: t.dsi, ds: t.dsj, src, srow: t.ssi, ss: t.ssj, rows: ni, n: nj };
    // SAFETY: the rows of the rectangle (forwarded).
    unsafe { kernels::strided_rows(runs, itemsize) }
}

/// Run `f` with no staging buffer for this thread, so that streamed transposes in `f`
/// take their fallback (for tests of it).
#[cfg(test)]
pub(super) fn with_stage_taken(f: impl FnOnce()) {
    stage::REFUSE.with(|r| r.set(true));
    f();
    stage::REFUSE.with(|r| r.set(false));
}

/// The SSE2 kernels only, as on an x86-64 without AVX (for tests of the dispatch).
#[cfg(all(test, target_arch = "x86_64"))]
pub(super) fn force_sse2(on: bool) {
    simd::SSE2_ONLY.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The portable scalar path only (for tests of the fallback).
#[cfg(test)]
pub(super) fn force_scalar(on: bool) {
    simd::FORCE_SCALAR.store(on, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::kernels::{stream16, stream32};
    use super::Micro;
    use std::arch::x86_64::*;
    use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

    pub(super) static FORCE_SCALAR: AtomicBool = AtomicBool::new(false);
    static AVX: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
    static AVX2: AtomicU8 = AtomicU8::new(0);
    /// Set by tests: AVX and AVX2 are taken as absent (the SSE2 kernels run).
    pub(super) static SSE2_ONLY: AtomicBool = AtomicBool::new(false);

    /// Whether a CPU feature is present, detected once.
    fn detect(cache: &AtomicU8, f: fn() -> bool) -> bool {
        if SSE2_ONLY.load(Ordering::Relaxed) {
            return false;
        }
        match cache.load(Ordering::Relaxed) {
            0 => {
                let yes = f();
                cache.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            v => v == 2,
        }
    }

    pub(super) fn has_avx2() -> bool {
        detect(&AVX2, || std::arch::is_x86_feature_detected!("avx2"))
    }

    pub(super) fn enabled() -> bool {
        !FORCE_SCALAR.load(Ordering::Relaxed)
    }

    pub(super) fn has_avx() -> bool {
        detect(&AVX, || std::arch::is_x86_feature_detected!("avx"))
    }

    pub(super) fn can_stream() -> bool {
        enabled()
    }

    /// Transpose one block.
    ///
    /// # Safety
    /// `micro` is not `Scalar` and its CPU feature is present; the block's `side` columns
    /// of `side` contiguous elements at `src + j*ss` are readable, and its `side` rows of
    /// `side` contiguous elements at `dst + i*ds` writable.
    /// With `NT`, the rows are written with streaming stores: every row's address is
    /// aligned to the block's row width in bytes (32 with AVX, 16 with SSE2).
    #[inline(always)]
    pub(super) unsafe fn block<const NT: bool>(micro: Micro, dst: *mut u8, ds: isize, src: *const u8, ss: isize) {
        // SAFETY: forwarded; the feature was detected by `Micro::pick`.
        unsafe {
            match micro {
                Micro::Avx8 => avx_4x4_f64::<NT>(dst, ds, src, ss),
                Micro::Avx16 => avx_2x2_16::<NT>(dst, ds, src, ss),
                Micro::Avx4 => avx_8x8_f32::<NT>(dst, ds, src, ss),
                Micro::Sse2 => sse2_8x8_u16::<NT>(dst, ds, src, ss),
                Micro::Sse1 => sse2_16x16_u8::<NT>(dst, ds, src, ss),
                Micro::Avx2x2 => avx2_16x16_u16::<NT>(dst, ds, src, ss),
                Micro::Avx2x1 => avx2_32x32_u8::<NT>(dst, ds, src, ss),
                Micro::Scalar => unreachable!("block() is only called with a SIMD micro-kernel"),
            }
        }
    }

    #[target_feature(enable = "avx")]
    unsafe fn avx_2x2_16<const NT: bool>(d: *mut u8, ds: isize, s: *const u8, ss: isize) {
        // SAFETY: the caller's block contract; unaligned loads and stores.
        unsafe {
            let r0 = _mm256_loadu_pd(s.cast());
            let r1 = _mm256_loadu_pd(s.offset(ss).cast());
            put_pd::<NT>(d, _mm256_permute2f128_pd::<0x20>(r0, r1));
            put_pd::<NT>(d.offset(ds), _mm256_permute2f128_pd::<0x31>(r0, r1));
        }
    }

    #[target_feature(enable = "avx")]
    unsafe fn avx_4x4_f64<const NT: bool>(d: *mut u8, ds: isize, s: *const u8, ss: isize) {
        // SAFETY: the caller's block contract; unaligned loads and stores.
        unsafe {
            let r0 = _mm256_loadu_pd(s.cast());
            let r1 = _mm256_loadu_pd(s.offset(ss).cast());
            let r2 = _mm256_loadu_pd(s.offset(2 * ss).cast());
            let r3 = _mm256_loadu_pd(s.offset(3 * ss).cast());
            let t0 = _mm256_unpacklo_pd(r0, r1);
            let t1 = _mm256_unpackhi_pd(r0, r1);
            let t2 = _mm256_unpacklo_pd(r2, r3);
            let t3 = _mm256_unpackhi_pd(r2, r3);
            put_pd::<NT>(d, _mm256_permute2f128_pd::<0x20>(t0, t2));
            put_pd::<NT>(d.offset(ds), _mm256_permute2f128_pd::<0x20>(t1, t3));
            put_pd::<NT>(d.offset(2 * ds), _mm256_permute2f128_pd::<0x31>(t0, t2));
            put_pd::<NT>(d.offset(3 * ds), _mm256_permute2f128_pd::<0x31>(t1, t3));
        }
    }

    #[target_feature(enable = "avx")]
    unsafe fn avx_8x8_f32<const NT: bool>(d: *mut u8, ds: isize, s: *const u8, ss: isize) {
        // SAFETY: the caller's block contract; unaligned loads and stores.
        unsafe {
            let r: [__m256; 8] = std::array::from_fn(|j| _mm256_loadu_ps(s.offset(j as isize * ss).cast()));
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let rows = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (i, row) in rows.into_iter().enumerate() {
                put_ps::<NT>(d.offset(i as isize * ds), row);
            }
        }
    }

    /// Store a block row: ordinary (unaligned) or streaming (aligned) stores.
    ///
    /// # Safety
    /// `d` is writable for 32 bytes, 32-byte aligned with `NT`; AVX is present.
    #[inline]
    #[target_feature(enable = "avx")]
    unsafe fn put_pd<const NT: bool>(d: *mut u8, v: __m256d) {
        // SAFETY: forwarded.
        unsafe {
            if NT {
                stream32(d, _mm256_castpd_si256(v))
            } else {
                _mm256_storeu_pd(d.cast(), v)
            }
        }
    }

    /// # Safety
    /// As for [`put_pd`].
    #[inline]
    #[target_feature(enable = "avx")]
    unsafe fn put_ps<const NT: bool>(d: *mut u8, v: __m256) {
        // SAFETY: forwarded.
        unsafe {
            if NT {
                stream32(d, _mm256_castps_si256(v))
            } else {
                _mm256_storeu_ps(d.cast(), v)
            }
        }
    }

    /// # Safety
    /// `d` is writable for 16 bytes, 16-byte aligned with `NT`.
    #[inline(always)]
    unsafe fn put_si128<const NT: bool>(d: *mut u8, v: __m128i) {
        // SAFETY: forwarded.
        unsafe {
            if NT {
                stream16(d, v)
            } else {
                _mm_storeu_si128(d.cast(), v)
            }
        }
    }

    /// log2(N) rounds of `out[2k] = lo(in[k], in[k + N/2])`, `out[2k+1] = hi(...)` at one
    /// lane width transpose an N x N matrix of N-lane rows.
    macro_rules! unpack_rounds {
        ($r:ident, $n:expr, $rounds:expr, $lo:ident, $hi:ident) => {
            for _ in 0..$rounds {
                let mut out = $r;
                for k in 0..$n / 2 {
                    out[2 * k] = $lo($r[k], $r[k + $n / 2]);
                    out[2 * k + 1] = $hi($r[k], $r[k + $n / 2]);
                }
                $r = out;
            }
        };
    }

    unsafe fn sse2_8x8_u16<const NT: bool>(d: *mut u8, ds: isize, s: *const u8, ss: isize) {
        // SAFETY: the caller's block contract; SSE2 is part of x86-64; unaligned access.
        unsafe {
            let mut r: [__m128i; 8] = std::array::from_fn(|j| _mm_loadu_si128(s.offset(j as isize * ss).cast()));
            unpack_rounds!(r, 8, 3, _mm_unpacklo_epi16, _mm_unpackhi_epi16);
            for (i, row) in r.into_iter().enumerate() {
                put_si128::<NT>(d.offset(i as isize * ds), row);
            }
        }
    }

    unsafe fn sse2_16x16_u8<const NT: bool>(d: *mut u8, ds: isize, s: *const u8, ss: isize) {
        // SAFETY: the caller's block contract; SSE2 is part of x86-64; unaligned access.
        unsafe {
            let mut r: [__m128i; 16] = std::array::from_fn(|j| _mm_loadu_si128(s.offset(j as isize * ss).cast()));
            unpack_rounds!(r, 16, 4, _mm_unpacklo_epi8, _mm_unpackhi_epi8);
            for (i, row) in r.into_iter().enumerate() {
                put_si128::<NT>(d.offset(i as isize * ds), row);
            }
        }
    }

    /// Transpose two square blocks of `N` rows side by side in the lanes of AVX2
    /// registers: rows `0..N` of the 2N x 2N block give, lane by lane, the transposes of
    /// its top-left and top-right quarters, rows `N..2N` those of the bottom ones; lane
    /// permutes then assemble the output rows.
    macro_rules! avx2_two_lane {
        ($name:ident, $n:expr, $rounds:expr, $lo:ident, $hi:ident) => {
            /// # Safety
            /// As for [`block`], with AVX2 present.
            #[target_feature(enable = "avx2")]
            unsafe fn $name<const NT: bool>(d: *mut u8, ds: isize, s: *const u8, ss: isize) {
                // SAFETY: the caller's block contract; unaligned loads, stores aligned
                // with NT.
                unsafe {
                    let mut top: [__m256i; $n] = std::array::from_fn(|j| _mm256_loadu_si256(s.offset(j as isize * ss).cast()));
                    unpack_rounds!(top, $n, $rounds, $lo, $hi);
                    let mut bottom: [__m256i; $n] =
                        std::array::from_fn(|j| _mm256_loadu_si256(s.offset((j + $n) as isize * ss).cast()));
                    unpack_rounds!(bottom, $n, $rounds, $lo, $hi);
                    for k in 0..$n {
                        let upper = _mm256_permute2x128_si256::<0x20>(top[k], bottom[k]);
                        let lower = _mm256_permute2x128_si256::<0x31>(top[k], bottom[k]);
                        put256::<NT>(d.offset(k as isize * ds), upper);
                        put256::<NT>(d.offset((k + $n) as isize * ds), lower);
                    }
                }
            }
        };
    }

    avx2_two_lane!(avx2_16x16_u16, 8, 3, _mm256_unpacklo_epi16, _mm256_unpackhi_epi16);
    avx2_two_lane!(avx2_32x32_u8, 16, 4, _mm256_unpacklo_epi8, _mm256_unpackhi_epi8);

    /// # Safety
    /// As for [`put_pd`].
    #[inline]
    #[target_feature(enable = "avx")]
    unsafe fn put256<const NT: bool>(d: *mut u8, v: __m256i) {
        // SAFETY: forwarded.
        unsafe {
            if NT {
                stream32(d, v)
            } else {
                _mm256_storeu_si256(d.cast(), v)
            }
        }
    }

    /// Copy `n` bytes (a multiple of 64) from the (cache-resident) `src` to the
    /// line-aligned `dst` with streaming stores: 32 bytes at a time with AVX, 16 without.
    ///
    /// # Safety
    /// `dst` is 64-byte aligned and writable, `src` readable, for `n` bytes, disjoint.
    #[inline(always)]
    pub(super) unsafe fn stream_lines(dst: *mut u8, src: *const u8, n: usize) {
        debug_assert!((dst as usize).is_multiple_of(64) && n.is_multiple_of(64));
        // SAFETY: forwarded; AVX was detected for the wide path.
        unsafe {
            if has_avx() {
                stream_lines_avx(dst, src, n)
            } else {
                let mut k = 0;
                while k < n {
                    for q in 0..4 {
                        stream16(dst.add(k + 16 * q), _mm_loadu_si128(src.add(k + 16 * q).cast()));
                    }
                    k += 64;
                }
            }
        }
    }

    /// # Safety
    /// As for [`stream_lines`], with AVX present.
    #[target_feature(enable = "avx")]
    unsafe fn stream_lines_avx(dst: *mut u8, src: *const u8, n: usize) {
        let mut k = 0;
        while k < n {
            // SAFETY: a line of each side (the caller's contract).
            unsafe {
                let a = _mm256_loadu_si256(src.add(k).cast());
                let b = _mm256_loadu_si256(src.add(k + 32).cast());
                stream32(dst.add(k), a);
                stream32(dst.add(k + 32), b);
            }
            k += 64;
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::Micro;
    use std::sync::atomic::AtomicBool;

    pub(super) static FORCE_SCALAR: AtomicBool = AtomicBool::new(false);

    pub(super) fn enabled() -> bool {
        false
    }
    pub(super) fn can_stream() -> bool {
        false
    }
    pub(super) unsafe fn block<const NT: bool>(_: Micro, _: *mut u8, _: isize, _: *const u8, _: isize) {
        unreachable!("no SIMD micro-kernels on this architecture")
    }
    pub(super) unsafe fn stream_lines(dst: *mut u8, src: *const u8, n: usize) {
        // reach-exempt: compiled on other architectures only.
        // SAFETY: forwarded.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, n) }
    }
}
