//! Property tests of prepared plans against the naive reference of `copy::tests`: random
//! views (itemsizes 1 to 16 and 24, up to 6-D, permuted, sliced, negative strides) ×
//! plans executed at shifted base addresses × thread counts × parts in random orders and
//! from several threads at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::copy::tests::{pattern, random_strides, reference, Rng, Strided};
use crate::copy::Side;
use crate::error::Status;

/// Itemsizes 1 to 16, and 24.
fn itemsize(rng: &mut Rng) -> isize {
    match rng.below(18) {
        17 => 24,
        k => k as isize + 1,
    }
}

/// A random shape of up to 6 dimensions with at most about `max_items` elements.
fn shape(rng: &mut Rng, max_items: isize) -> Vec<isize> {
    let ndim = rng.below(7);
    let mut items = 1isize;
    (0..ndim)
        .map(|_| {
            let n = match rng.below(10) {
                0 => 0,
                1 => 1,
                _ => 2 + rng.below(9) as isize,
            };
            let n = if items * n.max(1) > max_items { 1 } else { n };
            items *= n.max(1);
            n
        })
        .collect()
}

/// How a test runs a plan's parts.
#[derive(Clone, Copy, Debug)]
enum Run {
    /// `execute` with the plan's thread count.
    Whole,
    /// Every part on this thread, in a random order.
    Shuffled,
    /// Parts taken from a shared counter by this many threads at once.
    Threads(usize),
}

/// Run `plan` at the bases as `how` says.
///
/// # Safety
/// As for [`Prepared::execute`], with disjoint sides.
unsafe fn run(plan: &Prepared, how: Run, rng: &mut Rng, dst: *mut u8, src: *const u8) {
    match how {
        // SAFETY: forwarded.
        Run::Whole => unsafe { plan.execute(dst, src).unwrap() },
        Run::Shuffled => {
            let mut order: Vec<usize> = (0..plan.parts()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            for part in order {
                // SAFETY: forwarded.
                unsafe { plan.execute_part(part, dst, src).unwrap() };
            }
        }
        Run::Threads(n) => {
            #[derive(Clone, Copy)]
            struct Bases(*mut u8, *const u8);
            // SAFETY: the threads below write disjoint parts of memory valid for the scope.
            unsafe impl Send for Bases {}
            // SAFETY: as above.
            unsafe impl Sync for Bases {}
            let (bases, next) = (Bases(dst, src), AtomicUsize::new(0));
            std::thread::scope(|s| {
                for _ in 0..n {
                    s.spawn(|| loop {
                        let part = next.fetch_add(1, Ordering::Relaxed);
                        if part >= plan.parts() {
                            break;
                        }
                        let b = bases;
                        // SAFETY: forwarded; each part is taken by one thread.
                        unsafe { plan.execute_part(part, b.0, b.1).unwrap() };
                    });
                }
            });
        }
    }
}

/// A buffer for layout `l` with `slack` extra bytes on each side of it.
struct Buffer {
    bytes: Vec<u8>,
}

impl Buffer {
    fn new(rng: &mut Rng, l: &Strided, slack: usize) -> Buffer {
        Buffer { bytes: pattern(rng, l.size + 2 * slack) }
    }
    /// The base of the view shifted by `shift` bytes (`shift <= 2 * slack`).
    fn base(&mut self, l: &Strided, shift: usize) -> *mut u8 {
        self.bytes.as_mut_ptr().wrapping_add(shift).wrapping_offset(l.offset)
    }
}

#[test]
fn plans_match_the_reference_at_any_base_on_any_threads() {
    let mut rng = Rng::new(17);
    let hows = |rng: &mut Rng| match rng.below(4) {
        0 => Run::Whole,
        1 => Run::Shuffled,
        _ => Run::Threads(1 + rng.below(3)),
    };
    for case in 0..crate::copy::tests::cases(1500) {
        let e = itemsize(&mut rng);
        let shape = shape(&mut rng, if cfg!(miri) { 64 } else { 2000 });
        let s = random_strides(&mut rng, &shape, e);
        let d = random_strides(&mut rng, &shape, e);
        let part_bytes = [1, 48, 64, 200, 4096, PART_BYTES][rng.below(6)];
        let plan = Prepared::build(&d.geom(e), &s.geom(e), part_bytes).unwrap();
        let mut plan = plan;
        let threads = 1 + rng.below(4);
        plan.set_threads(threads).unwrap();
        let how = if rng.below(2) == 0 { Run::Whole } else { hows(&mut rng) };
        let slack = 40;
        let mut src = Buffer::new(&mut rng, &s, slack);
        let src_before = src.bytes.clone();
        // Two executions of the one plan at different base addresses.
        for round in 0..2 {
            let (dshift, sshift) = (rng.below(2 * slack), rng.below(2 * slack));
            let mut got = Buffer::new(&mut rng, &d, slack);
            let mut want = Buffer { bytes: got.bytes.clone() };
            let (gp, wp, sp) = (got.base(&d, dshift), want.base(&d, dshift), src.base(&s, sshift));
            // SAFETY: every element of the layouts lies within its buffer at these shifts.
            unsafe {
                run(&plan, how, &mut rng, gp, sp);
                reference(Side { ptr: wp, geom: d.geom(e) }, Side { ptr: sp, geom: s.geom(e) });
            }
            assert_eq!(
                got.bytes, want.bytes,
                "case {case} round {round}: itemsize {e}, {how:?}, {threads} threads, {} parts of {part_bytes}, shifts {dshift}/{sshift}, src {s:?}, dst {d:?}",
                plan.parts()
            );
            assert_eq!(src.bytes, src_before, "case {case}: the source was modified");
        }
    }
}

/// The destination cache lines each part writes: executed one at a time into a
/// destination filled with bytes the source never holds.
#[test]
fn no_two_parts_write_one_cache_line() {
    let mut rng = Rng::new(18);
    for case in 0..crate::copy::tests::cases(600) {
        let e = itemsize(&mut rng);
        let shape = shape(&mut rng, if cfg!(miri) { 64 } else { 1000 });
        let s = random_strides(&mut rng, &shape, e);
        let d = random_strides(&mut rng, &shape, e);
        let part_bytes = [1, 64, 100, 1000][rng.below(4)];
        let plan = Prepared::build(&d.geom(e), &s.geom(e), part_bytes).unwrap();
        let mut src: Vec<u8> = (0..s.size).map(|_| rng.below(255) as u8).collect();
        let shift = rng.below(64);
        let mut dst = vec![0u8; d.size + 128];
        let mut owner = vec![usize::MAX; dst.len() / 64 + 2];
        let addr0 = dst.as_ptr() as usize;
        for part in 0..plan.parts() {
            dst.fill(255);
            let base = dst.as_mut_ptr().wrapping_add(shift).wrapping_offset(d.offset);
            // SAFETY: the layouts lie within the buffers.
            unsafe { plan.execute_part(part, base, src.as_mut_ptr().wrapping_offset(s.offset)).unwrap() };
            let clean = plan.cut(part, base).1;
            for (k, _) in dst.iter().enumerate().filter(|(_, &b)| b != 255) {
                let line = (addr0 + k) / 64 - addr0 / 64;
                // A part may share the line its start lies in with the part before only
                // where the layout has no index starting a line near the split point.
                let shared_start = !clean && owner[line] + 1 == part;
                assert!(
                    owner[line] == usize::MAX || owner[line] == part || shared_start,
                    "case {case}: parts {} and {part} of {} write line {line}: itemsize {e}, shift {shift}, src {s:?}, dst {d:?}",
                    owner[line],
                    plan.parts()
                );
                owner[line] = part;
            }
        }
    }
}

#[test]
fn parts_split_the_outer_destination_axis_on_line_boundaries() {
    // 64 rows of 8 float64 (one line each) from rows 128 bytes apart: 4 parts of 16 rows
    // with 1 KiB parts.
    let (shape, pitch) = ([64isize, 8], [128isize, 8]);
    let g = Geometry { len: 64 * 64, itemsize: 8, shape: &shape, strides: None, suboffsets: None };
    let plan = Prepared::build(&g, &Geometry { strides: Some(&pitch), ..g }, 1024).unwrap();
    assert_eq!(plan.parts(), 4);
    let aligned = 4096 as *const u8;
    let ends: Vec<(isize, bool)> = (0..=4).map(|k| plan.cut(k, aligned)).collect();
    assert_eq!(ends, [(0, true), (16, true), (32, true), (48, true), (64, true)]);
    // 8 bytes off a line, every item straddles one: the nominal split, one line shared.
    let ends: Vec<(isize, bool)> = (0..=4).map(|k| plan.cut(k, 4104 as *const u8)).collect();
    assert_eq!(ends, [(0, true), (16, false), (32, false), (48, false), (64, true)]);
    // Rows of 64 bytes, 72 apart: row j starts a line after row j - 1's end when
    // (base + 72 j) % 64 < 9; 16 bytes off a line, that is j % 8 in {6, 7}.
    let (rows, pitch) = ([64isize, 8], [72isize, 8]);
    let dst = Geometry { len: 64 * 64, itemsize: 8, shape: &rows, strides: Some(&pitch), suboffsets: None };
    let src = Geometry { strides: None, ..dst };
    let plan = Prepared::build(&dst, &src, 1024).unwrap();
    let ends: Vec<isize> = (0..=4).map(|k| plan.cut(k, 4096 as *const u8).0).collect();
    assert_eq!(ends, [0, 16, 32, 48, 64]);
    let ends: Vec<isize> = (0..=4).map(|k| plan.cut(k, 4112 as *const u8).0).collect();
    assert_eq!(ends, [0, 22, 38, 54, 64]);
    // A transpose splits its destination rows in multiples of the staging panel's rows.
    let (n, m) = (2048isize, 2048isize);
    let shape = [n, m];
    let (cs, ts) = ([m * 8, 8], [8, n * 8]);
    let dst = Geometry { len: n * m * 8, itemsize: 8, shape: &shape, strides: Some(&cs), suboffsets: None };
    let src = Geometry { strides: Some(&ts), ..dst };
    let plan = Prepared::new(&dst, &src).unwrap();
    assert_eq!(plan.grain as usize % transpose::panel_rows(8), 0);
    assert_eq!(plan.parts(), (n as usize).div_ceil(plan.grain as usize));
    assert!(plan.parts() >= 32, "{} parts", plan.parts());
}

#[test]
fn interleaved_destinations_have_one_part() {
    // dst strides (24, 16) over (3, 3): index i's elements reach past index i + 1's start.
    let shape = [3isize, 3];
    let ds = [24isize, 16];
    let dst = Geometry { len: 72, itemsize: 8, shape: &shape, strides: Some(&ds), suboffsets: None };
    let src = Geometry { strides: None, ..dst };
    assert_eq!(Prepared::build(&dst, &src, 1).unwrap().parts(), 1);
}

#[test]
fn overlap_is_copied_in_place_when_shifted_and_refused_otherwise() {
    let shape = [4isize, 6];
    let g = Geometry { len: 4 * 6 * 4, itemsize: 4, shape: &shape, strides: None, suboffsets: None };
    let plan = Prepared::build(&g, &g, 1).unwrap();
    assert!(plan.parts() > 1);
    let mut mem: Vec<u32> = (0..40).collect();
    let base = mem.as_mut_ptr().cast::<u8>();
    // SAFETY: both sides lie within `mem` (the source 3 items above the destination).
    unsafe { plan.execute(base, base.add(12)).unwrap() };
    assert_eq!(&mem[..24], &(3..27).collect::<Vec<u32>>()[..]);
    let before = mem.clone();
    // SAFETY: as above.
    let e = unsafe { plan.execute_part(0, base, base.add(12)) }.unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert_eq!(mem, before, "a refused part wrote");
    // A transposing overlap cannot be done in place: refused, nothing written.
    let ts = [4isize, 16];
    let t = Geometry { strides: Some(&ts), ..g };
    let shape_t = [4isize, 4];
    let (gt, tt) = (Geometry { shape: &shape_t, len: 64, ..g }, Geometry { shape: &shape_t, len: 64, ..t });
    let plan = Prepared::new(&gt, &tt).unwrap();
    // SAFETY: both 16-item views lie within `mem`.
    let e = unsafe { plan.execute(base, base.add(4)) }.unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert_eq!(mem, before);
}

#[test]
fn plans_refuse_what_they_cannot_do() {
    let shape = [2isize, 3];
    let (st, sub) = ([24isize, 8], [0isize, -1]);
    let g = Geometry { len: 48, itemsize: 8, shape: &shape, strides: Some(&st), suboffsets: None };
    let with_subs = Geometry { suboffsets: Some(&sub), ..g };
    assert_eq!(Prepared::new(&g, &with_subs).err().map(|e| e.status()), Some(Status::Unrepresentable));
    assert_eq!(Prepared::new(&with_subs, &g).err().map(|e| e.status()), Some(Status::Unrepresentable));
    let other = [3isize, 2];
    let h = Geometry { shape: &other, strides: None, ..g };
    assert_eq!(Prepared::new(&g, &h).err().map(|e| e.status()), Some(Status::ShapeMismatch));
    let bst = [0isize, 8];
    let broadcast = Geometry { strides: Some(&bst), ..g };
    assert_eq!(Prepared::new(&broadcast, &g).err().map(|e| e.status()), Some(Status::InvalidStrides));
    let mut plan = Prepared::new(&g, &g).unwrap();
    let mut mem = [0u8; 48];
    // SAFETY: nothing is copied: the part index is refused first.
    let e = unsafe { plan.execute_part(1, mem.as_mut_ptr(), mem.as_ptr().wrapping_add(0)) }.unwrap_err();
    assert_eq!(e.status(), Status::IndexOutOfRange);
    assert_eq!(plan.set_threads(0).unwrap_err().status(), Status::InvalidArgument);
    assert_eq!(plan.set_threads(MAX_THREADS + 1).unwrap_err().status(), Status::InvalidArgument);
    assert_eq!(plan.threads(), 1);
    // An empty copy: one part, nothing to do, any bases.
    let zero = [0isize, 3];
    let z = Geometry { shape: &zero, len: 0, strides: None, ..g };
    let plan = Prepared::new(&z, &z).unwrap();
    assert!(plan.is_empty());
    assert_eq!(plan.parts(), 1);
    // SAFETY: nothing is accessed.
    unsafe {
        plan.execute(std::ptr::null_mut(), std::ptr::null()).unwrap();
        plan.execute_part(0, std::ptr::null_mut(), std::ptr::null()).unwrap();
    }
}

/// Large transposes stream through the plan's own staging buffers: two threads of
/// pybuf's, and four of the caller's running parts at once (more than the plan's buffers,
/// so some take the in-cache path), give the per-call engine's bytes.
#[test]
#[cfg_attr(miri, ignore = "an 8 MiB transpose is too slow to interpret")]
fn streamed_plans_on_threads_match_the_per_call_copy() {
    let mut rng = Rng::new(19);
    for (n, m, e) in [(1024isize, 1031isize, 8isize), (2048, 1024, 4), (3001, 2999, 1), (700, 1500, 12)] {
        let shape = [n, m];
        let dst = Geometry { len: n * m * e, itemsize: e, shape: &shape, strides: None, suboffsets: None };
        let ts = [e, n * e];
        let src_g = Geometry { strides: Some(&ts), ..dst };
        let src = pattern(&mut rng, (n * m * e) as usize);
        let mut want = vec![0u8; src.len()];
        // reach-exempt: a test of 8 MiB plans, too slow for Miri (ignored there).
        // SAFETY: both buffers hold the views.
        unsafe {
            crate::copy::copy(Side { ptr: want.as_mut_ptr(), geom: dst }, Side { ptr: src.as_ptr() as *mut u8, geom: src_g }).unwrap()
        };
        let mut plan = Prepared::new(&dst, &src_g).unwrap();
        assert_eq!(plan.stages.is_some(), transpose::streams(&plan.transpose().unwrap(), e as usize, dst.len as usize));
        for (threads, how) in [(2, Run::Whole), (1, Run::Threads(4)), (4, Run::Whole), (3, Run::Shuffled)] {
            plan.set_threads(threads).unwrap();
            let mut got = vec![0u8; src.len() + 64];
            let shift = rng.below(64);
            let base = got.as_mut_ptr().wrapping_add(shift);
            // reach-exempt: a test of 8 MiB plans, too slow for Miri (ignored there).
            // SAFETY: `got` holds the destination at this shift.
            unsafe { run(&plan, how, &mut rng, base, src.as_ptr()) };
            let bad = (0..want.len()).filter(|&k| got[shift + k] != want[k]).collect::<Vec<_>>();
            assert!(bad.is_empty(), "{n}x{m} itemsize {e}, {threads} threads, {how:?}: {} bad, first {:?} last {:?}, parts {} grain {}", bad.len(), bad.first(), bad.last(), plan.parts(), plan.grain);
        }
    }
}

/// Large permutes whose transpose takes the next source axis along (`run_outer`): the
/// reversed axes of 4-D arrays, on 1-3 threads and per call, against the naive loop.
#[test]
#[cfg_attr(miri, ignore = "an 8 MiB permute is too slow to interpret")]
fn streamed_permutes_with_an_outer_axis_match_the_naive_loop() {
    let mut rng = Rng::new(62);
    for (ext, e) in [([64isize, 64, 64, 64], 8isize), ([37, 9, 16, 500], 8), ([100, 5, 16, 700], 4), ([7, 30, 64, 200], 3)] {
        // dst[a, b, c, d] = src[d, c, b, a], src C-contiguous of shape (D, C, B, A).
        let [a, b, c, d] = ext;
        let shape = ext;
        let n = (a * b * c * d) as usize;
        let dst_g = Geometry { len: n as isize * e, itemsize: e, shape: &shape, strides: None, suboffsets: None };
        let ss = [e, a * e, a * b * e, a * b * c * e];
        let src_g = Geometry { strides: Some(&ss), ..dst_g };
        let src = pattern(&mut rng, n * e as usize);
        let mut want = vec![0u8; n * e as usize];
        let mut k = 0;
        for ia in 0..a {
            for ib in 0..b {
                for ic in 0..c {
                    for id in 0..d {
                        let off = ((ia * ss[0] + ib * ss[1] + ic * ss[2] + id * ss[3]) as usize, e as usize);
                        want[k..k + off.1].copy_from_slice(&src[off.0..off.0 + off.1]);
                        k += e as usize;
                    }
                }
            }
        }
        let mut plan = Prepared::new(&dst_g, &src_g).unwrap();
        for threads in [1, 2, 3] {
            plan.set_threads(threads).unwrap();
            let mut got = vec![0u8; want.len() + 64];
            let base = got.as_mut_ptr().align_offset(64);
            // reach-exempt: a test of 8 MiB permutes, too slow for Miri (ignored there).
            // SAFETY: `got` holds the destination at this offset; the source is `src`.
            unsafe { plan.execute(got.as_mut_ptr().add(base), src.as_ptr()).unwrap() };
            assert!(got[base..base + want.len()] == want[..], "{ext:?} itemsize {e}, {threads} threads");
        }
        let mut got = vec![0u8; want.len()];
        // reach-exempt: a test of 8 MiB permutes, too slow for Miri (ignored there).
        // SAFETY: both buffers hold the views.
        unsafe {
            crate::copy::copy(Side { ptr: got.as_mut_ptr(), geom: dst_g }, Side { ptr: src.as_ptr() as *mut u8, geom: src_g }).unwrap()
        };
        assert!(got == want, "{ext:?} itemsize {e}, per call");
    }
}

/// A plan small enough for Miri that still runs on its own threads: parts of 512 bytes
/// (so that two threads take a range each), every other row gathered.
#[test]
fn own_threads_run_ranges_of_a_small_plan() {
    let (rows, cols, e) = (37isize, 41isize, 4isize);
    let shape = [rows, cols];
    let dst = Geometry { len: rows * cols * e, itemsize: e, shape: &shape, strides: None, suboffsets: None };
    let ss = [2 * cols * e, e];
    let src_g = Geometry { strides: Some(&ss), ..dst };
    let mut rng = Rng::new(21);
    let src = pattern(&mut rng, (2 * rows * cols * e) as usize);
    let mut want = vec![0u8; dst.len as usize];
    // SAFETY: both buffers hold the views.
    unsafe { reference(Side { ptr: want.as_mut_ptr(), geom: dst }, Side { ptr: src.as_ptr() as *mut u8, geom: src_g }) };
    let mut plan = Prepared::build(&dst, &src_g, 512).unwrap();
    assert!(plan.parts() > THREAD_PARTS, "{} parts", plan.parts());
    plan.set_threads(2).unwrap();
    let mut got = vec![0u8; want.len()];
    // SAFETY: `got` and `src` hold the views.
    unsafe { plan.execute(got.as_mut_ptr(), src.as_ptr()).unwrap() };
    assert!(got == want);
}

/// Many threads executing one plan at once, each into its own destination.
#[test]
fn one_plan_executes_on_many_threads_at_once() {
    let shape = [37isize, 41];
    let e = 4isize;
    let dst = Geometry { len: 37 * 41 * e, itemsize: e, shape: &shape, strides: None, suboffsets: None };
    let ts = [e, 37 * e];
    let src_g = Geometry { strides: Some(&ts), ..dst };
    let mut rng = Rng::new(20);
    let src = pattern(&mut rng, dst.len as usize);
    let mut want = vec![0u8; src.len()];
    // SAFETY: both buffers hold the views.
    unsafe { reference(Side { ptr: want.as_mut_ptr(), geom: dst }, Side { ptr: src.as_ptr() as *mut u8, geom: src_g }) };
    let mut plan = Prepared::build(&dst, &src_g, 512).unwrap();
    plan.set_threads(2).unwrap();
    let plan = &plan;
    std::thread::scope(|s| {
        for t in 0..if cfg!(miri) { 2 } else { 6 } {
            let (src, want) = (&src, &want);
            s.spawn(move || {
                let mut got = vec![0u8; src.len()];
                for _ in 0..if cfg!(miri) { 1 } else { 20 } {
                    got.fill(t as u8);
                    // SAFETY: `got` and `src` hold the views.
                    unsafe { plan.execute(got.as_mut_ptr(), src.as_ptr()).unwrap() };
                    assert!(got == *want);
                }
            });
        }
    });
}



/// A shape of one or two dimensions around the small-copy limits for `e`-byte items:
/// micro-kernel sides (one block, blocks and edges), thin ones, and totals of just below,
/// exactly, and just above `SMALL_BYTES`.
fn small_shape(rng: &mut Rng, e: isize) -> Vec<isize> {
    const SIDES: [isize; 10] = [1, 2, 3, 4, 5, 8, 9, 16, 17, 33];
    let limit = crate::copy::SMALL_BYTES / e;
    // (Under Miri, totals around the limit only with few items.)
    let way = if cfg!(miri) && limit > 256 { [0, 3][rng.below(2)] } else { rng.below(4) };
    match way {
        0 => {
            let sides = if cfg!(miri) { &SIDES[..7] } else { &SIDES[..] };
            vec![sides[rng.below(sides.len())], sides[rng.below(sides.len())]]
        }
        1 => vec![limit + rng.below(3) as isize - 1],
        2 => {
            // rows * cols within one row of the limit, either side.
            let rows = [1, 2, 4, 7, 8, 16][rng.below(6)];
            vec![rows, (limit / rows + rng.below(3) as isize - 1).max(1)]
        }
        _ => vec![SIDES[rng.below(SIDES.len())]],
    }
}

/// Small plans (every itemsize 1 to 16 and 24, shapes around the small-copy limits,
/// transposed, strided, reversed and padded views) give at shifted bases the reference's
/// bytes; at overlapping bases, the bytes and errors of the same plan without its
/// small-copy kernel (the planned path).
#[test]
fn small_plans_match_the_planned_path_and_the_reference() {
    let mut rng = Rng::new(21);
    let mut small_plans = 0;
    for e in (1..=16).chain([24]) {
        for case in 0..if cfg!(miri) { 2 } else { 300 } {
            let shape = small_shape(&mut rng, e);
            let (s, d) = if rng.below(3) == 0 {
                // A transpose: C strides on one side, F strides on the other.
                let (n, len) = (shape.len(), shape.iter().product::<isize>() * e);
                let (mut c, mut f) = (vec![0; n], vec![0; n]);
                let (mut sc, mut sf) = (e, e);
                for k in 0..n {
                    (f[k], c[n - 1 - k]) = (sf, sc);
                    sf *= shape[k];
                    sc *= shape[n - 1 - k];
                }
                let layout = |strides| Strided { shape: shape.clone(), strides, offset: 0, size: len.max(1) as usize };
                let (c, f) = (layout(c), layout(f));
                if rng.below(2) == 0 { (f, c) } else { (c, f) }
            } else {
                (random_strides(&mut rng, &shape, e), random_strides(&mut rng, &shape, e))
            };
            let (dg, sg) = (d.geom(e), s.geom(e));
            let fast = Prepared::new(&dg, &sg).unwrap();
            let mut slow = Prepared::new(&dg, &sg).unwrap();
            slow.small = None;
            let expect_small = dg.len > 0 && dg.len <= crate::copy::SMALL_BYTES && fast.axes.len() <= 2;
            assert_eq!(fast.small.is_some(), expect_small, "case {case}: itemsize {e}, src {s:?}, dst {d:?}");
            small_plans += fast.small.is_some() as usize;
            let what = format!("case {case}: itemsize {e}, src {s:?}, dst {d:?}");
            // Disjoint, at shifted bases: the reference's bytes, both ways.
            let slack = 40;
            let mut src = Buffer::new(&mut rng, &s, slack);
            let (dshift, sshift) = (rng.below(2 * slack), rng.below(2 * slack));
            let sp = src.base(&s, sshift);
            let mut want = Buffer::new(&mut rng, &d, slack);
            let mut got = [Buffer { bytes: want.bytes.clone() }, Buffer { bytes: want.bytes.clone() }];
            // SAFETY: every element of the layouts lies within its buffer at these shifts.
            unsafe {
                reference(Side { ptr: want.base(&d, dshift), geom: dg }, Side { ptr: sp, geom: sg });
                for (plan, got) in [&fast, &slow].into_iter().zip(&mut got) {
                    plan.execute(got.base(&d, dshift), sp).unwrap();
                }
            }
            assert!(got[0].bytes == want.bytes && got[1].bytes == want.bytes, "{what}: disjoint");
            // Overlapping: the destination and the source in one buffer, the source
            // shifted by up to the layouts' size either way (some shifts are disjoint).
            let span = s.size.max(d.size);
            let shift = rng.below(2 * span + 1) as isize - span as isize;
            let mut mem = [pattern(&mut rng, 3 * span + 64), Vec::new()];
            mem[1] = mem[0].clone();
            let base = span as isize + 32;
            let results: Vec<_> = [&fast, &slow]
                .into_iter()
                .zip(&mut mem)
                .map(|(plan, m)| {
                    let p = m.as_mut_ptr();
                    // SAFETY: both layouts lie within `m` (margins of `span` + 32 bytes).
                    unsafe { plan.execute(p.wrapping_offset(base + d.offset), p.wrapping_offset(base + shift + s.offset)) }
                        .map_err(|e| (e.status(), e.message().to_owned()))
                })
                .collect();
            assert_eq!(results[0], results[1], "{what}: overlap shifted by {shift}");
            assert!(mem[0] == mem[1], "{what}: overlap shifted by {shift}: the bytes differ");
        }
    }
    if !cfg!(miri) {
        assert!(small_plans > 300 * 17 / 3, "only {small_plans} small plans");
    }
}
