//! Tiled transposes: the micro-kernels' blocks grouped into tiles, and the tiles into
//! bands of source rows, in the order HPTT showed to be fastest for large outputs
//! (measured beside it: `make bench-transpose`).
//!
//! **Large outputs** (larger than the caches) are written with streaming stores, whole
//! destination cache lines at a time, so that no destination line is read before it is
//! written. A band of source rows is read front to back along a block of destination
//! rows (a few sequential streams, which the hardware prefetchers follow, rather than the
//! hundreds of rows a tall panel reads at once).
//! - [`run_direct`]: for 4-, 8- and 16-byte items whose destination rows are aligned to
//!   cache lines (the usual case), bands of [`DIRECT_BAND_ROWS`] source rows, the AVX
//!   blocks streamed straight from registers into the destination.
//! - [`run_staged`]: otherwise (rows not aligned, 1- and 2-byte items, odd itemsizes, the
//!   SSE2 and scalar kernels) a block of up to [`STAGE_ROWS`] destination rows is
//!   transposed band by band ([`STAGED_BAND`] bytes of each destination row) into an
//!   L2-resident stage, [`SUB_BAND`] source rows at a time (the next ones prefetched), and
//!   each band's piece of each row is then written out. A piece starts and ends inside
//!   cache lines when rows are not aligned: streaming a partial line costs a
//!   read-modify-write in memory, and an ordinary store to a line the next band completes
//!   costs a read for ownership each time, so every row keeps a *carry*, the bytes of its
//!   last incomplete line, held back until the next band completes the line, which then
//!   goes out whole. Only the bytes before a row's first line boundary and after its last
//!   one are written with ordinary stores. The carries take 64 bytes per destination row,
//!   in the staging buffer.
//!
//! **Outputs that fit the caches** take [`run_direct`] with ordinary stores and bands of
//! [`CACHED_BAND`] bytes of each destination row over the whole transpose.

use super::{kernels, simd, tile_kernel, Micro, Outer, Transpose};

/// Tile sides in elements for large outputs: `bi` destination rows (64 elements of each
/// source row), `bj` columns (the staged band: [`STAGED_BAND`] bytes of each destination
/// row), whole micro blocks.
pub(super) fn tile_dims(itemsize: usize, micro: Micro) -> (usize, usize) {
    let m = micro.side();
    let bi = 64usize.div_ceil(m) * m;
    let bj = (STAGED_BAND / itemsize).max(1).div_ceil(m) * m;
    (bi, bj)
}

/// Bytes of each destination row that a staged band fills (measured, 128 MiB outputs:
/// 256 is 0-15 % faster than 128 for itemsizes 1, 2, 3, 12 and 16).
const STAGED_BAND: usize = 256;

/// Source rows a streamed band of [`run_direct`] reads at once (at least a line of each
/// destination row): measured on f8, 8 rows (64-byte pieces) run 20-30 % slower and 32
/// rows 30 % slower; on f4, 16 rows 1.25-1.6x faster than 32.
const DIRECT_BAND_ROWS: usize = 16;

/// Bytes of each destination row that a band of an in-cache transpose fills (measured:
/// f8 512x512, rows 4 KiB apart, 128 is 1.4x faster than 64; no other size changed).
const CACHED_BAND: usize = 128;

/// Whether the micro-kernel's blocks can stream straight into the destination: an AVX
/// kernel of 4-, 8- or 16-byte items (32-byte block rows; 1- and 2-byte items read too
/// many source rows for a band of whole lines and are staged: measured 1.3-1.4x faster
/// for 2-byte items) and every destination row aligned to a cache line, so that a band's
/// piece of a row is whole lines. Rows only 32-byte aligned would leave half lines at both
/// ends of every piece, which the write-combining buffers let go of before the next band
/// completes them (measured: f8 4000x4100 with 32800-byte rows, 0.44-0.49x memcpy so, 0.63
/// through the stage).
pub(super) fn direct(dst: *mut u8, t: &Transpose, micro: Micro) -> bool {
    micro.row_bytes() >= 32
        && micro.side() <= 8
        && (dst as usize).is_multiple_of(64)
        && t.dsi.unsigned_abs().is_multiple_of(64)
}

/// Tiles `(bi, bj)` and the destination rows of a block that a band reads at once:
/// for streamed outputs, bands of [`DIRECT_BAND_ROWS`] source rows along 8 KiB of each;
/// for outputs in cache, bands of [`CACHED_BAND`] bytes of each destination row over the
/// whole transpose.
fn direct_dims<const NT: bool>(itemsize: usize, micro: Micro) -> (usize, usize, usize) {
    let m = micro.side();
    let bi = tile_dims(itemsize, micro).0;
    if NT {
        let bj = (DIRECT_BAND_ROWS * itemsize).max(64).div_ceil(itemsize).div_ceil(m) * m;
        return (bi, bj, (8192 / itemsize).div_ceil(bi) * bi);
    }
    let bj = (CACHED_BAND / itemsize).max(1).div_ceil(m) * m;
    (bi, bj, usize::MAX)
}

/// The tiled transpose straight into the destination: band after band of `bj` source
/// rows along each block of destination rows, tile by tile. With `NT`, the micro-kernels'
/// block rows are streamed where they land (aligned: [`direct`]); the edges of the
/// transpose that are not whole blocks are stored as they are.
///
/// The destination rows are `outer.n` runs of `t.ni` rows (`outer`: [`Outer::ONE`] for a
/// plain transpose): row `i` lies at `(i / t.ni) * outer.ds + (i % t.ni) * t.dsi` (and
/// its source column likewise), and no tile crosses from one run into the next. A band
/// then reads its source rows along all the runs, as one long stream each when the runs
/// follow one another in the source.
///
/// # Safety
/// As for [`super::run`], for every run of the outer axis; with `NT`, `t.dsj == itemsize`
/// and [`direct`] true, and `outer.ds` a multiple of 64.
pub(super) unsafe fn run_direct<const NT: bool>(dst: *mut u8, src: *const u8, t: &Transpose, outer: Outer, itemsize: usize, micro: Micro) {
    let (bi, bj, block) = direct_dims::<NT>(itemsize, micro);
    let rows = outer.n * t.ni;
    let mut i0 = 0;
    while i0 < rows {
        let i1 = i0.saturating_add(block).min(rows);
        let mut jb = 0;
        while jb < t.nj {
            let w = bj.min(t.nj - jb);
            let mut ib = i0;
            while ib < i1 {
                let (run, i) = (ib / t.ni, ib % t.ni);
                let h = bi.min(i1 - ib).min(t.ni - i);
                let d = dst.wrapping_offset(run as isize * outer.ds + i as isize * t.dsi + jb as isize * t.dsj);
                let s = src.wrapping_offset(run as isize * outer.ss + i as isize * t.ssi + jb as isize * t.ssj);
                // SAFETY: the tile lies within one run of the transpose; with NT, block
                // rows start at multiples of 32 bytes from 64-byte aligned rows.
                unsafe { tile_kernel::<NT>(d, s, &Transpose { ni: h, nj: w, ..*t }, itemsize, micro) };
                ib += h;
            }
            jb += w;
        }
        i0 = i1;
    }
    if NT {
        kernels::fence();
    }
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

/// Bytes of each of the next sub-band's source rows asked for ahead.
const PREFETCH_BYTES: usize = 512;

/// Prefetch the first `bytes` of `rows` rows `stride` apart from `row0` into L2.
fn prefetch_rows(row0: *const u8, stride: isize, rows: usize, bytes: usize) {
    for r in 0..rows as isize {
        let row = row0.wrapping_offset(r * stride);
        for k in (0..bytes).step_by(64) {
            kernels::prefetch_l2(row.wrapping_add(k));
        }
    }
}

/// The stage's geometry for `t`: rows of a block, columns of a band, stage row pitch,
/// and the bytes needed (the block, the carries, and a line for alignment).
pub(super) fn layout(t: &Transpose, itemsize: usize, micro: Micro) -> (usize, usize, usize, usize) {
    let (_, bj) = tile_dims(itemsize, micro);
    let rows = STAGE_ROWS.min(t.ni);
    let pitch = HEAD + (bj * itemsize).div_ceil(64) * 64;
    (rows, bj, pitch, 64 + rows * pitch + t.ni * 64)
}

/// The staged transpose, with the stage at `sp` (64-byte aligned, [`layout`]'s bytes):
/// for each block of destination rows, each band of `bj` columns is transposed into the
/// stage (its source rows [`SUB_BAND`] at a time, each read along the whole block), then
/// the block's rows are written out, whole lines streamed.
///
/// # Safety
/// As for [`super::run`], with `t.dsj == itemsize`; `sp` is writable for the bytes
/// [`layout`] gives, aligned to 64, and disjoint from both sides.
pub(super) unsafe fn run_staged(dst: *mut u8, src: *const u8, t: &Transpose, itemsize: usize, micro: Micro, sp: *mut u8) {
    let e = itemsize;
    let (rows, bj, pitch, _) = layout(t, e, micro);
    let carries = sp.wrapping_add(rows * pitch);
    let sub = SUB_BAND.div_ceil(micro.side()) * micro.side();
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
                // Ask for the start of the next sub-band's source rows (the next band's
                // first one after the last) while this one is transposed: each row is
                // read for only `h` items, too short for the prefetchers to find alone
                // (measured: 1-, 2- and 3-byte items 1.1-1.3x faster, none slower).
                let next = jb + sb + ws;
                if next < t.nj {
                    let rows = sub.min(if sb + ws < w { w - sb - ws } else { t.nj - next });
                    let row0 = src.wrapping_offset(i0 as isize * t.ssi + next as isize * t.ssj);
                    prefetch_rows(row0, t.ssj, rows, (h * e).min(PREFETCH_BYTES));
                }
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
    kernels::fence();
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

