//! The transpose for outputs larger than the caches, tile by tile.
//!
//! The scheme HPTT showed to be fastest (measured here against it, `make bench-transpose`):
//! small tiles of about 128 × 128 bytes, each transposed by the SIMD micro-kernels into an
//! L1-resident stage and written out at once, whole destination cache lines with streaming
//! stores; and a loop order that takes one band of `bj` source rows and walks it front to
//! back (tile after tile along the source rows), so that the hardware prefetchers follow
//! `bj` sequential streams instead of the hundreds of rows a taller panel reads at once.
//!
//! **Cache lines.** A tile covers `bj` columns of each of its destination rows: when rows
//! are not aligned to 64 bytes (a row length that is not a multiple of 64 bytes, odd
//! itemsizes), a tile's piece of a row starts and ends inside cache lines. Streaming a
//! partial line costs a read-modify-write in memory, and an ordinary store to a line the
//! next tile completes costs a read for ownership each time. So every row keeps a *carry*:
//! the bytes of its last, incomplete line, held back until the next tile of that row
//! (one band later) completes the line, which then goes out whole. Only the bytes before
//! a row's first line boundary and after its last one are written with ordinary stores.
//! The carries take 64 bytes per destination row, in the same staging buffer.

use super::{simd, tile_kernel, Micro, Transpose};

/// Tile sides in elements: `bi` along the source rows (the destination's rows), `bj`
/// along the destination rows (the source rows a band reads). About 128 bytes each way,
/// whole micro blocks.
pub(super) fn tile_dims(itemsize: usize, micro: Micro) -> (usize, usize) {
    let m = micro.side();
    let bi = tune("PYBUF_BIE", 64).div_ceil(m) * m;
    let bj = (tune("PYBUF_BJ", 128) / itemsize).max(1).div_ceil(m) * m;
    (bi, bj)
}

/// Whether the micro-kernel's blocks can stream straight into the destination: every
/// block row's address aligned to its width.
pub(super) fn direct(dst: *mut u8, t: &Transpose, micro: Micro) -> bool {
    let w = micro.row_bytes();
    w >= tune("PYBUF_DMIN", 32) && (dst as usize).is_multiple_of(w) && t.dsi.unsigned_abs().is_multiple_of(w)
}

/// Tile sides for [`run_direct`] ([`tile_dims`]) and the rows of an i block.
fn direct_dims(itemsize: usize, micro: Micro) -> (usize, usize, usize) {
    let (bi, bj) = tile_dims(itemsize, micro);
    (bi, bj, block_rows(itemsize))
}

/// The destination rows of an i block: each band of source rows is read this many
/// elements at a time (a multiple of every micro-kernel's tile side).
fn block_rows(itemsize: usize) -> usize {
    (tune("PYBUF_IB", 8192) / itemsize).div_ceil(64).max(1) * 64
}

/// The tiled transpose straight into the destination: the micro-kernels' block rows are
/// streamed where they land (aligned: [`direct`]), and the edges of the transpose that
/// are not whole blocks are stored as they are.
///
/// # Safety
/// As for [`super::run`], with `t.dsj == itemsize` and [`direct`] true.
pub(super) unsafe fn run_direct<const NT: bool>(dst: *mut u8, src: *const u8, t: &Transpose, itemsize: usize, micro: Micro) {
    let (bi, bj, block) = if NT { direct_dims(itemsize, micro) } else { cached_dims(itemsize, micro) };
    let pf = tune("PYBUF_DPF", 0);
    let mut i0 = 0;
    while i0 < t.ni {
        let i1 = (i0 + block).min(t.ni);
        let mut jb = 0;
        while jb < t.nj {
            let w = bj.min(t.nj - jb);
            let mut ib = i0;
            while ib < i1 {
                let h = bi.min(i1 - ib);
                let d = dst.wrapping_offset(ib as isize * t.dsi + jb as isize * t.dsj);
                let s = src.wrapping_offset(ib as isize * t.ssi + jb as isize * t.ssj);
                if pf > 0 {
                    for k in 0..w {
                        let row = s.wrapping_offset(k as isize * t.ssj + pf as isize);
                        let mut off = 0;
                        while off < h * itemsize {
                            simd::prefetch(row.wrapping_add(off));
                            off += 64;
                        }
                    }
                }
                // SAFETY: the tile lies within the transpose; block rows start at
                // multiples of the block width from aligned destination rows.
                unsafe { tile_kernel::<NT>(d, s, &Transpose { ni: h, nj: w, ..*t }, itemsize, micro) };
                ib += h;
            }
            jb += w;
        }
        i0 = i1;
    }
    if NT {
        simd::fence();
    }
}

/// Tiles for in-cache transposes.
fn cached_dims(itemsize: usize, micro: Micro) -> (usize, usize, usize) {
    let m = micro.side();
    let bi = tune("PYBUF_CBI", 64).div_ceil(m) * m;
    let bj = (tune("PYBUF_CBJ", if itemsize < 4 { 128 } else { 64 }) / itemsize).max(1).div_ceil(m) * m;
    (bi, bj, (tune("PYBUF_CIB", 1 << 20) / itemsize).div_ceil(bi) * bi)
}

/// Headroom before each stage row for a row's carry (less than a line).
const HEAD: usize = 64;

/// Destination rows the stage holds at most (a block of them is transposed band after
/// band into it before its rows are written out).
const STAGE_ROWS: usize = 512;

/// Source rows read at once: a band's rows are transposed into the stage this many at a
/// time (a multiple of every micro-kernel's side), so that the prefetchers follow a few
/// long streams.
const SUB_BAND: usize = 16;

/// The stage's geometry for `t`: rows of a block, columns of a band, stage row pitch,
/// and the bytes needed (the block, the carries, and a line for alignment).
pub(super) fn layout(t: &Transpose, itemsize: usize, micro: Micro) -> (usize, usize, usize, usize) {
    let (_, bj) = tile_dims(itemsize, micro);
    let rows = tune("PYBUF_SROWS", STAGE_ROWS).min(t.ni);
    let pitch = HEAD + (bj * itemsize).div_ceil(64) * 64;
    (rows, bj, pitch, 64 + rows * pitch + t.ni * 64)
}

/// Run the staged transpose with the stage at `sp` (64-byte aligned, [`layout`]'s bytes):
/// for each block of destination rows, each band of `bj` columns is transposed into the
/// stage (its source rows [`SUB_BAND`] at a time, each read along the whole block), then
/// the block's rows are written out, whole lines streamed.
///
/// # Safety
/// As for [`super::run`], with `t.dsj == itemsize`; `sp` is writable for the bytes
/// [`layout`] gives, aligned to 64, and disjoint from both sides.
pub(super) unsafe fn run(dst: *mut u8, src: *const u8, t: &Transpose, itemsize: usize, micro: Micro, sp: *mut u8) {
    let e = itemsize;
    let (rows, bj, pitch, _) = layout(t, e, micro);
    let carries = sp.wrapping_add(rows * pitch);
    let sub = tune("PYBUF_SUB", SUB_BAND).div_ceil(micro.side()) * micro.side();
    let mut i0 = 0;
    while i0 < t.ni {
        let h = rows.min(t.ni - i0);
        let mut jb = 0;
        while jb < t.nj {
            let w = bj.min(t.nj - jb);
            let last = jb + w == t.nj;
            let mut sb = 0;
            while sb < w {
                let ws = sub.min(w - sb);
                let s = src.wrapping_offset(i0 as isize * t.ssi + (jb + sb) as isize * t.ssj);
                let part = Transpose { ni: h, nj: ws, dsi: pitch as isize, dsj: e as isize, ssi: t.ssi, ssj: t.ssj };
                // SAFETY: the sub-band's source lies within the transpose; the stage holds
                // `h` rows of `w * e <= pitch - HEAD` bytes after their headroom.
                unsafe { tile_kernel::<false>(sp.wrapping_add(HEAD + sb * e), s, &part, e, micro) };
                sb += ws;
            }
            for r in 0..h {
                let i = i0 + r;
                let row = dst.wrapping_offset(i as isize * t.dsi);
                let piece = Piece { row, from: jb * e, to: (jb + w) * e, last };
                // SAFETY: destination row i, bytes of columns jb..jb + w (in the
                // transpose); stage row r holds them after HEAD bytes of headroom; the
                // carry slot of row i holds its held-back bytes.
                unsafe { piece.flush(sp.wrapping_add(r * pitch + HEAD), carries.wrapping_add(i * 64)) };
            }
            jb += w;
        }
        i0 += h;
    }
    simd::fence();
}

/// The bytes `from..to` of one destination row (offsets from `row`), staged.
struct Piece {
    row: *mut u8,
    from: usize,
    to: usize,
    /// The row's last piece: nothing is held back.
    last: bool,
}

impl Piece {
    /// Write the piece: bytes before the row's first line boundary with ordinary stores,
    /// whole lines (the carry held back by the previous piece first) with streaming
    /// stores, and the rest held back in the carry (or, for the last piece, stored).
    ///
    /// # Safety
    /// `row + from..row + to` is writable; `stage` holds those bytes and is preceded by
    /// at least 63 writable bytes of headroom; `carry` is a 64-byte slot holding the bytes
    /// the previous piece of this row held back (any, for its first piece).
    #[inline(always)]
    unsafe fn flush(&self, stage: *mut u8, carry: *mut u8) {
        let base = self.row as usize;
        // Offsets from `row` of the first line boundary in the row, and of a piece end's line.
        let first_line = base.wrapping_neg() & 63;
        let line_of = |off: usize| off - (base.wrapping_add(off) & 63);
        let (mut from, to) = (self.from, self.to);
        let mut stage = stage;
        if from < first_line {
            // The row's head, before its first line boundary.
            let n = to.min(first_line) - from;
            // SAFETY: `n` bytes of the piece on both sides.
            unsafe { std::ptr::copy_nonoverlapping(stage, self.row.add(from), n) };
            from += n;
            stage = stage.wrapping_add(n);
            if from == to {
                return;
            }
        }
        // Lines from the held-back bytes' line on; `from >= first_line`, so the carry's
        // line lies in the row.
        let start = line_of(from);
        let held = from - start;
        let staged = stage.wrapping_sub(held);
        // SAFETY: the carry slot holds `held < 64` bytes, copied into the headroom.
        unsafe { std::ptr::copy_nonoverlapping(carry, staged, held) };
        let end = line_of(to).max(start);
        if end > start {
            // SAFETY: whole lines of the row, from the staged bytes.
            unsafe { simd::stream_lines(self.row.add(start), staged, end - start) };
        }
        let rest = staged.wrapping_add(end - start);
        // SAFETY: the last `to - end < 64` bytes: stored, or held back in the carry slot.
        unsafe {
            if self.last {
                std::ptr::copy_nonoverlapping(rest, self.row.add(end), to - end);
            } else {
                std::ptr::copy_nonoverlapping(rest, carry, to - end);
            }
        }
    }
}

pub(super) fn tune(name: &str, default: usize) -> usize {
    const NAMES: [&str; 11] = ["PYBUF_BIE", "PYBUF_BJ", "PYBUF_IB", "PYBUF_DPF", "PYBUF_SROWS", "PYBUF_SUB", "PYBUF_DMIN", "PYBUF_CBI", "PYBUF_CBJ", "PYBUF_CIB", "PYBUF_CMODE"];
    static VALUES: std::sync::OnceLock<[Option<usize>; 11]> = std::sync::OnceLock::new();
    let v = VALUES.get_or_init(|| NAMES.map(|n| std::env::var(n).ok().and_then(|v| v.parse().ok())));
    NAMES.iter().position(|n| *n == name).and_then(|k| v[k]).unwrap_or(default)
}
