//! A model-based test of custom exporters (issue 12, the class of defects 4 and 5).
//!
//! A chain of 1 to 4 custom exporters (`pybuf_procs`): each level's getbuffer asks the
//! level beneath through `pybuf_object_get_buffer`, and the innermost fills the view one
//! way (pybuf_fill_view, a built-in exporter, by hand, pybuf_fill_info) or fails. One
//! level may then break what it got: fail after filling, or return one of ten kinds of
//! malformed view. Each level may re-enter pybuf from getbuffer and releasebuffer, and
//! has a releasebuffer that is NULL, counting, failing (it makes pybuf calls that fail)
//! or releasing the view itself. For every combination the model predicts the status and
//! how often each releasebuffer runs, and the test checks, at the end, that every export
//! count is 0, no bookkeeping block is left (`live_blocks`), the owner of the built-in
//! exporter runs exactly once, and `pybuf_exporter_replace` is accepted again.
//!
//! Under Miri (`make miri`) a spread of the combinations runs.

mod common;
use common::*;

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use pybuf::abi::*;
use pybuf::error::Status;
use pybuf::export::block::live_blocks;
use pybuf::ffi::buffer::{pybuf_fill_contiguous_strides, pybuf_fill_info, pybuf_release};
use pybuf::ffi::exporter::{
    pybuf_exporter, pybuf_exporter_desc, pybuf_exporter_exports, pybuf_exporter_free, pybuf_exporter_get_buffer,
    pybuf_exporter_new, pybuf_exporter_replace, pybuf_fill_view, pybuf_object, pybuf_object_get_buffer, pybuf_procs,
};

/// The tests of this file count live blocks, which are global: one at a time.
static LOCK: Mutex<()> = Mutex::new(());

/// How the innermost level fills the view.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Base {
    FillView,
    Builtin,
    ByHand,
    FillInfo,
    /// Returns PYBUF_STATUS_READ_ONLY without filling (and without a message).
    Fail,
}

const BASES: [Base; 5] = [Base::FillView, Base::Builtin, Base::ByHand, Base::FillInfo, Base::Fail];

/// What one level does to the view it got, when it got one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Twist {
    /// Returns PYBUF_STATUS_SHAPE_MISMATCH without releasing what it filled.
    FailAfter,
    ItemsizeZero,
    ItemsizeNegative,
    Ndim70,
    NdimNegative,
    NegativeShape,
    LenMismatch,
    NullShape,
    NullBuf,
    ReadonlyTwo,
    StridesWithoutShape,
}

const TWISTS: [Twist; 11] = [
    Twist::FailAfter,
    Twist::ItemsizeZero,
    Twist::ItemsizeNegative,
    Twist::Ndim70,
    Twist::NdimNegative,
    Twist::NegativeShape,
    Twist::LenMismatch,
    Twist::NullShape,
    Twist::NullBuf,
    Twist::ReadonlyTwo,
    Twist::StridesWithoutShape,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Release {
    Null,
    Counting,
    /// Counts, and makes pybuf calls that fail (their errors must not leak out).
    Failing,
    /// Counts, and calls pybuf_release on the view itself.
    Itself,
}

const RELEASES: [Release; 4] = [Release::Null, Release::Counting, Release::Failing, Release::Itself];

/// One level of the chain.
struct Level {
    /// The level beneath, or None for the innermost.
    next: Cell<Option<pybuf_object>>,
    base: Base,
    twist: Option<Twist>,
    reenter: bool,
    release: Release,
    builtin: *mut pybuf_exporter,
    desc: pybuf_exporter_desc,
    gets: Cell<usize>,
    gets_ok: Cell<usize>,
    releases: Cell<usize>,
    hand_shape: [isize; 2],
    bad_shape: [isize; 2],
    bad_strides: [isize; 1],
    cookie: u8,
}

static WITH_RELEASE: pybuf_procs = pybuf_procs { getbuffer: Some(level_get), releasebuffer: Some(level_release) };
static NO_RELEASE: pybuf_procs = pybuf_procs { getbuffer: Some(level_get), releasebuffer: None };

impl Level {
    fn object(&self) -> pybuf_object {
        let procs = if self.release == Release::Null { &NO_RELEASE } else { &WITH_RELEASE };
        pybuf_object { procs, exporter: (self as *const Level).cast_mut().cast() }
    }
}

/// pybuf calls from inside a getbuffer or releasebuffer: a failure, a temporary export of
/// the built-in exporter, a query.
///
/// # Safety
/// `l.builtin` is a live exporter.
unsafe fn reenter(l: &Level) {
    // SAFETY: ndim -1 is refused before any pointer is read; the exporter is live and the
    // temporary view is released at its own address.
    unsafe {
        let rc = pybuf_fill_contiguous_strides(-1, null(), null_mut(), 1, b'C' as c_char);
        assert_eq!(rc, Status::InvalidNdim as c_int);
        let mut tmp = pybuf_buffer::zeroed();
        assert_eq!(pybuf_exporter_get_buffer(l.builtin, &mut tmp, PYBUF_SIMPLE), 0);
        assert!(pybuf_exporter_exports(l.builtin) >= 1);
        pybuf_release(&mut tmp);
    }
}

unsafe extern "C" fn level_get(exporter: *mut c_void, view: *mut pybuf_buffer, flags: c_int) -> c_int {
    // SAFETY: every object of this test points at a live Level.
    let l = unsafe { &*exporter.cast::<Level>() };
    l.gets.set(l.gets.get() + 1);
    if l.reenter {
        // SAFETY: the level's exporter is live for the whole combination.
        unsafe { reenter(l) };
    }
    // SAFETY: pybuf passes the caller's writable view; the description's arrays, the
    // memory and the next level are alive.
    let rc = unsafe {
        match (l.next.get(), l.base) {
            (Some(next), _) => pybuf_object_get_buffer(&next, view, flags),
            (None, Base::FillView) => pybuf_fill_view(view, &l.desc, flags),
            (None, Base::Builtin) => pybuf_exporter_get_buffer(l.builtin, view, flags),
            (None, Base::ByHand) => {
                view.write(pybuf_buffer {
                    buf: l.desc.buf,
                    len: 96,
                    itemsize: 8,
                    ndim: 2,
                    format: c"d".as_ptr().cast_mut(),
                    shape: l.hand_shape.as_ptr().cast_mut(),
                    internal: (&l.cookie as *const u8).cast_mut().cast(),
                    ..pybuf_buffer::zeroed()
                });
                0
            }
            (None, Base::FillInfo) => pybuf_fill_info(view, null_mut(), l.desc.buf, 96, 0, flags),
            (None, Base::Fail) => Status::ReadOnly as c_int,
        }
    };
    if rc != 0 {
        return rc;
    }
    // The fields are written through the raw pointer, as C writes them: a `&mut` of the
    // whole struct would retag it and invalidate the pointers into it that pybuf_fill_info
    // stores (its shape is `&view->len`), which Miri reports.
    let v = view;
    // SAFETY: the view was just filled; only its fields are replaced, never the arrays
    // pybuf owns.
    unsafe {
        match l.twist {
            None => {}
            Some(Twist::FailAfter) => return Status::ShapeMismatch as c_int,
            Some(Twist::ItemsizeZero) => (*v).itemsize = 0,
            Some(Twist::ItemsizeNegative) => (*v).itemsize = -8,
            Some(Twist::Ndim70) => (*v).ndim = 70,
            Some(Twist::NdimNegative) => (*v).ndim = -1,
            // (Strides are dropped where the new ndim could read past the old arrays.)
            Some(Twist::NegativeShape) => {
                ((*v).ndim, (*v).strides, (*v).suboffsets) = (2, null_mut(), null_mut());
                (*v).shape = l.bad_shape.as_ptr().cast_mut();
            }
            Some(Twist::LenMismatch) => {
                // A 3x4 array of 8-byte items in 95 bytes (pybuf_fill_info's shape is its len,
                // so changing len alone would keep it consistent).
                ((*v).ndim, (*v).itemsize, (*v).len, (*v).strides, (*v).suboffsets) = (2, 8, 95, null_mut(), null_mut());
                (*v).shape = l.hand_shape.as_ptr().cast_mut();
            }
            Some(Twist::NullShape) => {
                ((*v).ndim, (*v).strides, (*v).suboffsets) = (2, null_mut(), null_mut());
                (*v).shape = null_mut();
            }
            Some(Twist::NullBuf) => (*v).buf = null_mut(),
            Some(Twist::ReadonlyTwo) => (*v).readonly = 2,
            Some(Twist::StridesWithoutShape) => {
                (*v).ndim = 1;
                (*v).shape = null_mut();
                (*v).strides = l.bad_strides.as_ptr().cast_mut();
            }
        }
    }
    l.gets_ok.set(l.gets_ok.get() + 1);
    0
}

unsafe extern "C" fn level_release(exporter: *mut c_void, view: *mut pybuf_buffer) {
    // SAFETY: as in level_get.
    let l = unsafe { &*exporter.cast::<Level>() };
    l.releases.set(l.releases.get() + 1);
    if l.reenter {
        // SAFETY: as in level_get.
        unsafe { reenter(l) };
    }
    match l.release {
        Release::Null | Release::Counting => {}
        Release::Failing => {
            let mut foreign = poisoned();
            // SAFETY: pybuf never dereferences a foreign view's internal; the exporter
            // is live and its description valid.
            unsafe {
                pybuf_release(&mut foreign);
                assert_eq!(pybuf_last_status_(), Status::ForeignView as c_int);
                let rc = pybuf_exporter_get_buffer(null_mut(), &mut foreign, PYBUF_SIMPLE);
                assert_eq!(rc, Status::NullPointer as c_int);
            }
        }
        // SAFETY: the view being released, at its own address.
        Release::Itself => unsafe { pybuf_release(view) },
    }
}

fn pybuf_last_status_() -> c_int {
    pybuf::ffi::error::pybuf_last_status()
}

unsafe extern "C" fn count_owner(user: *mut c_void) {
    // SAFETY: the counter outlives the exporter.
    unsafe { &*user.cast::<AtomicUsize>() }.fetch_add(1, SeqCst);
}

/// One combination.
#[derive(Clone, Copy, Debug)]
struct Case {
    depth: usize,
    base: Base,
    /// The twist and the level (0 = outermost) that applies it.
    twist: Option<(Twist, usize)>,
    reenter: bool,
    /// Level k's releasebuffer is RELEASES[(rotation + k) % 4].
    rotation: usize,
}

fn every_case() -> Vec<Case> {
    let mut out = Vec::new();
    for depth in 1..=4 {
        for base in BASES {
            let mut twists = vec![None];
            if base != Base::Fail {
                for t in TWISTS {
                    twists.extend((0..depth).map(|at| Some((t, at))));
                }
            }
            for twist in twists {
                for reenter in [false, true] {
                    for rotation in 0..4 {
                        out.push(Case { depth, base, twist, reenter, rotation });
                    }
                }
            }
        }
    }
    out
}

fn run(case: Case, mem: &mut [f64; 12]) {
    let shape = [3isize, 4];
    let desc = c_desc(mem.as_mut_ptr().cast(), 96, c"d", &shape);
    let owner = AtomicUsize::new(0);
    let mut builtin = null_mut();
    // SAFETY: the description's arrays and the counter outlive the exporter.
    let rc = unsafe { pybuf_exporter_new(&desc, Some(count_owner), (&owner as *const AtomicUsize).cast_mut().cast(), &mut builtin) };
    assert_eq!(rc, 0);
    let blocks = live_blocks();

    // The levels (0 outermost), made first and never moved, then linked: each level's
    // object points into the vector.
    let levels: Vec<Level> = (0..case.depth)
        .map(|k| Level {
            next: Cell::new(None),
            base: case.base,
            twist: case.twist.and_then(|(t, at)| (at == k).then_some(t)),
            reenter: case.reenter,
            release: RELEASES[(case.rotation + k) % 4],
            builtin,
            desc,
            gets: Cell::new(0),
            gets_ok: Cell::new(0),
            releases: Cell::new(0),
            hand_shape: [3, 4],
            bad_shape: [3, -4],
            bad_strides: [8],
            cookie: 0,
        })
        .collect();
    for k in 1..case.depth {
        levels[k - 1].next.set(Some(levels[k].object()));
    }

    // The model: level k's getbuffer returns 0 unless the base fails, a deeper level
    // breaks its view (refused or failed beneath k), or k itself fails after filling.
    let ok: Vec<bool> = (0..case.depth)
        .map(|k| {
            case.base != Base::Fail
                && match case.twist {
                    None => true,
                    Some((t, at)) => at < k || (at == k && t != Twist::FailAfter),
                }
        })
        .collect();
    let expected = match (case.base, case.twist) {
        (Base::Fail, _) => Status::ReadOnly,
        (_, None) => Status::Ok,
        (_, Some((Twist::FailAfter, _))) => Status::ShapeMismatch,
        (_, Some(_)) => Status::BufferRequest,
    };

    let mut v = poisoned();
    let outer = levels[0].object();
    // SAFETY: live levels, memory and exporter; a writable view.
    let rc = unsafe { pybuf_object_get_buffer(&outer, &mut v, PYBUF_FULL_RO) };
    let (status, message) = last();
    assert_eq!((rc, status), (expected as c_int, expected as c_int), "{case:?}: {message}");
    match expected {
        Status::Ok => {
            assert!(message.is_empty(), "{case:?}: {message}");
            assert_eq!(v.buf, mem.as_mut_ptr().cast());
            assert_eq!(v.len, 96);
            let builtin_exports = usize::from(case.base == Base::Builtin);
            // SAFETY: a live exporter.
            assert_eq!(unsafe { pybuf_exporter_exports(builtin) }, builtin_exports as isize, "{case:?}");
            for l in &levels {
                assert_eq!(l.releases.get(), 0, "{case:?}: nothing released yet");
            }
            // SAFETY: the view at the address it was filled at.
            unsafe { pybuf_release(&mut v) };
            let (status, message) = last();
            assert_eq!(status, 0, "{case:?}: release recorded {message}");
        }
        Status::BufferRequest => assert!(message.contains("the exporter filled a malformed view"), "{case:?}: {message}"),
        Status::ShapeMismatch => assert!(message.contains("PYBUF_STATUS_SHAPE_MISMATCH"), "{case:?}: {message}"),
        _ => assert!(message.contains("PYBUF_STATUS_READ_ONLY"), "{case:?}: {message}"),
    }
    for (k, l) in levels.iter().enumerate() {
        assert_eq!(l.gets.get(), 1, "{case:?}: level {k} asked once");
        assert_eq!(l.gets_ok.get(), usize::from(ok[k]), "{case:?}: level {k}");
        let releases = usize::from(ok[k] && l.release != Release::Null);
        assert_eq!(l.releases.get(), releases, "{case:?}: level {k}'s releasebuffer");
    }
    // Releasing again (or a refused view) changes nothing.
    // SAFETY: as above; a foreign internal is never dereferenced.
    unsafe { pybuf_release(&mut v) };
    for (k, l) in levels.iter().enumerate() {
        assert_eq!(l.releases.get(), usize::from(ok[k] && l.release != Release::Null), "{case:?}: level {k} again");
    }
    // SAFETY: a live exporter and a valid description.
    unsafe {
        assert_eq!(pybuf_exporter_exports(builtin), 0, "{case:?}: exports left");
        assert_eq!(pybuf_exporter_replace(builtin, &desc), 0, "{case:?}: replace refused");
    }
    assert_eq!(live_blocks(), blocks, "{case:?}: bookkeeping blocks left");
    drop(levels);
    assert_eq!(owner.load(SeqCst), 0);
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(builtin) };
    assert_eq!(owner.load(SeqCst), 1, "{case:?}: the owner runs exactly once");
}

#[test]
fn every_custom_exporter_combination_releases_everything() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let all = every_case();
    assert_eq!(all.len(), 3680);
    // Under Miri, a spread: every 37th combination (100 of them).
    let step = if cfg!(miri) { 37 } else { 1 };
    let mut mem = [0f64; 12];
    for (i, case) in all.iter().enumerate().step_by(step) {
        mem.iter_mut().enumerate().for_each(|(j, x)| *x = (i + j) as f64);
        run(*case, &mut mem);
    }
    println!("custom exporter combinations checked: {} of {}", all.len().div_ceil(step), all.len());
}

/// Regression (issue 12, defect 5): a malformed view filled with pybuf_fill_view, refused,
/// leaves no block behind (200,000 refusals grew RSS by 49 MB).
#[test]
fn refused_fill_view_leaves_no_block() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    unsafe extern "C" fn get(exporter: *mut c_void, view: *mut pybuf_buffer, flags: c_int) -> c_int {
        // SAFETY: the exporter pointer is a live description; the view is writable.
        unsafe {
            let rc = pybuf_fill_view(view, exporter.cast(), flags);
            (*view).itemsize = 0;
            rc
        }
    }
    static PROCS: pybuf_procs = pybuf_procs { getbuffer: Some(get), releasebuffer: None };
    let mut mem = [0f64; 12];
    let shape = [3isize, 4];
    let desc = c_desc(mem.as_mut_ptr().cast(), 96, c"d", &shape);
    let o = pybuf_object { procs: &PROCS, exporter: (&desc as *const pybuf_exporter_desc).cast_mut().cast() };
    let blocks = live_blocks();
    for _ in 0..cases(1000) {
        let mut v = poisoned();
        // SAFETY: a live description and a writable view.
        let rc = unsafe { pybuf_object_get_buffer(&o, &mut v, PYBUF_FULL) };
        expect_status(rc, Status::BufferRequest);
        assert_eq!(live_blocks(), blocks, "the refused view's block is given back");
    }
}
