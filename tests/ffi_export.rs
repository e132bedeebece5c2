//! The exporter, DLPack, buffer and copy functions of the C API, called from Rust as a C
//! caller calls them, so that Miri runs every `unsafe` block of `src/ffi/exporter.rs`,
//! `dlpack.rs`, `buffer.rs`, `copy.rs` and `mod.rs` (it cannot run the C tests):
//!
//! - exporters: `pybuf_exporter_new/clone/free/get_buffer/exports/replace`, every request
//!   flag against the rules of CPython's `_testbuffer.ndarray` (built-in exporter,
//!   `pybuf_fill_view`, `pybuf_object_get_buffer`), every refusal and invalid description,
//!   NULL arguments, `replace` refused while exported, owner callbacks, releases in every
//!   order, twice, of copies of views and of foreign views;
//! - custom exporters through `pybuf_procs`: `pybuf_fill_view`, views filled by hand,
//!   `pybuf_fill_info`, delegation to a built-in exporter, failing and malformed
//!   `getbuffer`s, `releasebuffer` calls;
//! - DLPack: views to tensors (versioned and legacy) and back, the fields, dtypes, flags
//!   and refusals, and who holds the memory until which deleter call;
//! - `pybuf_is_contiguous`, `pybuf_get_pointer`, `pybuf_fill_contiguous_strides`,
//!   `pybuf_fill_info`, `pybuf_release`, the three copies, status names and the version;
//! - threads exporting from and releasing views of one exporter, with exact counts.
//!
//! Counters are per test (an `AtomicUsize` passed as the callback's user pointer), so the
//! tests may run in parallel. Views whose address pybuf records are never moved.

mod common;
use common::*;

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{null, null_mut, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use pybuf::abi::*;
use pybuf::error::Status;
use pybuf::ffi::buffer::{
    pybuf_fill_contiguous_strides, pybuf_fill_info, pybuf_get_pointer, pybuf_is_contiguous, pybuf_release,
};
use pybuf::ffi::copy::{pybuf_copy, pybuf_from_contiguous, pybuf_to_contiguous};
use pybuf::ffi::dlpack::{pybuf_from_dlpack, pybuf_from_dlpack_legacy, pybuf_to_dlpack, pybuf_to_dlpack_legacy};
use pybuf::ffi::error::{pybuf_last_error, pybuf_last_status, pybuf_status_name};
use pybuf::ffi::exporter::{
    pybuf_exporter, pybuf_exporter_as_object, pybuf_exporter_clone, pybuf_exporter_desc, pybuf_exporter_exports,
    pybuf_exporter_free, pybuf_exporter_get_buffer, pybuf_exporter_new, pybuf_exporter_replace, pybuf_fill_view,
    pybuf_object, pybuf_object_get_buffer, pybuf_procs,
};
use pybuf::ffi::version::{pybuf_version, pybuf_version_string};
use pybuf::ffi::view::pybuf_index;
use pybuf::interop::dlpack::{
    kDLBool, kDLCPU, kDLCUDA, kDLCUDAHost, kDLCUDAManaged, kDLComplex, kDLFloat, kDLInt, kDLOpaqueHandle, kDLROCMHost,
    kDLUInt, DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLPackVersion, DLTensor,
    DLPACK_FLAG_BITMASK_READ_ONLY,
};

// =====================================================================================
// Helpers

/// Every bit that some PYBUF_* request sets.
const REQUEST_BITS: c_int = PYBUF_WRITABLE
    | PYBUF_FORMAT
    | PYBUF_ND
    | PYBUF_STRIDES
    | PYBUF_C_CONTIGUOUS
    | PYBUF_F_CONTIGUOUS
    | PYBUF_ANY_CONTIGUOUS
    | PYBUF_INDIRECT;

/// The named requests, each checked in every layout besides the random ones.
const NAMED_REQUESTS: [c_int; 16] = [
    PYBUF_SIMPLE,
    PYBUF_WRITABLE,
    PYBUF_FORMAT,
    PYBUF_ND,
    PYBUF_STRIDES,
    PYBUF_C_CONTIGUOUS,
    PYBUF_F_CONTIGUOUS,
    PYBUF_ANY_CONTIGUOUS,
    PYBUF_INDIRECT,
    PYBUF_CONTIG,
    PYBUF_STRIDED_RO,
    PYBUF_RECORDS,
    PYBUF_FULL,
    PYBUF_FULL_RO,
    PYBUF_WRITE,
    -1,
];

/// Assert that a call returned `expected`, recorded it, and set a message naming `text`.
#[track_caller]
fn expect_refused(returned: c_int, expected: Status, text: &str) {
    expect_status(returned, expected);
    expect_message(text);
}

/// Assert that the thread's last message contains `text`.
#[track_caller]
fn expect_message(text: &str) {
    let (_, message) = last();
    assert!(message.contains(text), "message {message:?} does not name {text:?}");
}

/// Record a known error (INVALID_NDIM), so that a later `expect_ok` shows that a call
/// which returns nothing recorded its success.
#[track_caller]
fn provoke() {
    // SAFETY: ndim -1 is refused before any pointer is read.
    let rc = unsafe { pybuf_fill_contiguous_strides(-1, null(), null_mut(), 1, b'C' as c_char) };
    expect_status(rc, Status::InvalidNdim);
}

/// An owner callback that counts its calls in the `AtomicUsize` its `user` points to.
unsafe extern "C" fn count_owner(user: *mut c_void) {
    // SAFETY: every test passes the address of a counter that outlives what it owns.
    unsafe { &*user.cast::<AtomicUsize>() }.fetch_add(1, SeqCst);
}

/// A counter's address, as the `user` pointer of `count_owner`.
fn user(counter: &AtomicUsize) -> *mut c_void {
    (counter as *const AtomicUsize).cast_mut().cast()
}

fn count(counter: &AtomicUsize) -> usize {
    counter.load(SeqCst)
}

/// `n` doubles 0, 1, 2, ...
fn doubles(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64).collect()
}

/// A description of `len` bytes at `buf` holding an array of `shape` (strides `None`:
/// C-contiguous). The arrays and the format must outlive every call that reads it.
fn desc(
    buf: *mut c_void,
    len: isize,
    format: Option<&CStr>,
    shape: &[isize],
    strides: Option<&[isize]>,
) -> pybuf_exporter_desc {
    pybuf_exporter_desc {
        buf,
        len,
        offset: 0,
        readonly: 0,
        format: format.map_or(null(), CStr::as_ptr),
        itemsize: 0,
        ndim: shape.len() as c_int,
        shape: if shape.is_empty() { null() } else { shape.as_ptr() },
        strides: strides.map_or(null(), <[isize]>::as_ptr),
        suboffsets: null(),
    }
}

/// A new exporter of `d` whose owner callback counts in `owner`.
#[track_caller]
fn new_exporter(d: &pybuf_exporter_desc, owner: &AtomicUsize) -> *mut pybuf_exporter {
    let mut e = null_mut();
    // SAFETY: `d`'s arrays are alive; the counter outlives the exporter (each test frees
    // its exporters and checks the count after).
    let rc = unsafe { pybuf_exporter_new(d, Some(count_owner), user(owner), &mut e) };
    expect_status(rc, Status::Ok);
    assert!(!e.is_null());
    e
}

/// The live export count of a live handle.
#[track_caller]
fn exports(e: *mut pybuf_exporter) -> isize {
    // SAFETY: the tests pass live handles only.
    let n = unsafe { pybuf_exporter_exports(e) };
    expect_ok();
    n
}

/// Fill `v` from `e` for `flags`, which must succeed.
#[track_caller]
fn get(e: *mut pybuf_exporter, v: &mut pybuf_buffer, flags: c_int) {
    // SAFETY: a live handle and a writable view.
    let rc = unsafe { pybuf_exporter_get_buffer(e, v, flags) };
    expect_status(rc, Status::Ok);
}

/// Release `v`, which must succeed.
#[track_caller]
fn release(v: *mut pybuf_buffer) {
    // SAFETY: the tests pass views that are alive at their address (or NULL).
    unsafe { pybuf_release(v) };
    expect_ok();
}

/// Release `v`, which must be refused as foreign with a message naming `text`, leaving
/// it untouched.
#[track_caller]
fn release_refused(v: &mut pybuf_buffer, text: &str) {
    let before = *v;
    // SAFETY: a live struct; pybuf never dereferences a foreign `internal`.
    unsafe { pybuf_release(v) };
    expect_error(Status::ForeignView);
    expect_message(text);
    assert!(same_bytes(v, &before), "a refused release changed the view");
}

/// The `n` entries of a view's array, or `None` for NULL.
fn array(p: *const isize, n: c_int) -> Option<Vec<isize>> {
    // SAFETY: the tests pass arrays of live views, which have `ndim` entries.
    (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, n as usize) }.to_vec())
}

/// The `n` entries of a tensor's array, or `None` for NULL.
fn array64(p: *const i64, n: i32) -> Option<Vec<i64>> {
    // SAFETY: the tests pass arrays of live tensors, which have `ndim` entries.
    (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, n as usize) }.to_vec())
}

/// A C string, or `None` for NULL.
fn text(p: *const c_char) -> Option<String> {
    // SAFETY: the tests pass NUL-terminated strings (formats, names) or NULL.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// A random shape of 1 to 3 dimensions of 0 to 3 (rarely 0).
fn random_shape(rng: &mut Rng) -> Vec<isize> {
    let ndim = 1 + rng.below(3);
    (0..ndim).map(|_| if rng.below(12) == 0 { 0 } else { 1 + rng.below(3) as isize }).collect()
}

/// A pointer that is never dereferenced, to show that an out-parameter was not written.
fn sentinel<T>() -> *mut T {
    NonNull::dangling().as_ptr()
}

// =====================================================================================
// Built-in exporters: new, get_buffer, release, free

#[test]
fn exporter_new_get_release_free() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let mut shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    provoke();
    let e = new_exporter(&d, &owner);
    assert_eq!(exports(e), 0);
    // The description was copied: changing the caller's shape changes nothing.
    shape[0] = 7;
    assert_eq!(shape[0], 7);
    let mut v = poisoned();
    provoke();
    get(e, &mut v, PYBUF_FULL);
    assert_eq!(v.buf, mem.as_mut_ptr().cast());
    assert_eq!(v.obj, poisoned().obj, "obj is the caller's: never written");
    assert_eq!((v.len, v.itemsize, v.readonly, v.ndim), (96, 8, 0, 2));
    assert_eq!(text(v.format).as_deref(), Some("d"));
    assert_eq!(array(v.shape, 2), Some(vec![3, 4]));
    assert_eq!(array(v.strides, 2), Some(vec![32, 8]));
    assert!(v.suboffsets.is_null());
    assert!(!v.internal.is_null() && v.internal != poisoned().internal);
    assert_eq!(exports(e), 1);
    // A filled view works with the consumer functions.
    // SAFETY: a live view; the index has ndim entries.
    unsafe {
        assert_eq!(pybuf_is_contiguous(&v, b'C' as c_char), 1);
        assert_eq!(pybuf_is_contiguous(&v, b'F' as c_char), 0);
        assert_eq!(pybuf_get_pointer(&v, [2isize, 1].as_ptr()), mem.as_mut_ptr().add(9).cast());
    }
    provoke();
    release(&mut v);
    assert_eq!(exports(e), 0);
    assert_eq!(count(&owner), 0);
    provoke();
    // SAFETY: the one reference, given back once.
    unsafe { pybuf_exporter_free(e) };
    expect_ok();
    assert_eq!(count(&owner), 1, "the owner runs at the last free");
}

#[test]
fn exporter_format_and_itemsize() {
    let mut mem = doubles(8);
    let shape = [8isize];
    // A NULL format is "B": itemsize 1.
    let d = desc(mem.as_mut_ptr().cast(), 8, None, &shape, None);
    let mut e = null_mut();
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: valid arguments; no owner, so nothing outlives the test.
    unsafe {
        expect_status(pybuf_exporter_new(&d, None, null_mut(), &mut e), Status::Ok);
        get(e, &mut v, PYBUF_RECORDS_RO);
        assert_eq!(text(v.format).as_deref(), Some("B"));
        assert_eq!((v.itemsize, v.len), (1, 8));
        release(&mut v);
        pybuf_exporter_free(e);
    }
    // itemsize 0 takes it from the format; an equal itemsize is accepted.
    let mut d = desc(mem.as_mut_ptr().cast(), 64, Some(c"T{i:a:h:b:}"), &shape, None);
    for itemsize in [0, 8] {
        d.itemsize = itemsize;
        // SAFETY: as above.
        unsafe {
            expect_status(pybuf_exporter_new(&d, None, null_mut(), &mut e), Status::Ok);
            get(e, &mut v, PYBUF_FULL_RO);
            assert_eq!((v.itemsize, v.len), (8, 64));
            assert_eq!(text(v.format).as_deref(), Some("T{i:a:h:b:}"));
            release(&mut v);
            pybuf_exporter_free(e);
        }
    }
}

// =====================================================================================
// Every request flag, three ways: the built-in exporter, pybuf_fill_view, and the
// built-in exporter as a pybuf_object

/// A layout to export, and what it is, worked out by hand.
struct Layout {
    what: &'static str,
    buf: *mut c_void,
    len: isize,
    offset: isize,
    format: &'static CStr,
    itemsize: isize,
    shape: Vec<isize>,
    /// As given to the exporter (`None`: C-contiguous).
    strides: Option<Vec<isize>>,
    /// In full, as a view with PYBUF_STRIDES has them.
    full_strides: Vec<isize>,
    suboffsets: Option<Vec<isize>>,
    readonly: bool,
    c: bool,
    f: bool,
}

impl Layout {
    #[allow(clippy::too_many_arguments)]
    fn new(
        what: &'static str,
        buf: *mut c_void,
        len: isize,
        format: &'static CStr,
        itemsize: isize,
        shape: &[isize],
        strides: Option<&[isize]>,
        full_strides: &[isize],
        (c, f): (bool, bool),
    ) -> Layout {
        Layout {
            what,
            buf,
            len,
            offset: 0,
            format,
            itemsize,
            shape: shape.to_vec(),
            strides: strides.map(<[isize]>::to_vec),
            full_strides: full_strides.to_vec(),
            suboffsets: None,
            readonly: false,
            c,
            f,
        }
    }

    fn desc(&self) -> pybuf_exporter_desc {
        pybuf_exporter_desc {
            offset: self.offset,
            readonly: self.readonly as c_int,
            suboffsets: self.suboffsets.as_ref().map_or(null(), |s| s.as_ptr()),
            ..desc(self.buf, self.len, Some(self.format), &self.shape, self.strides.as_deref())
        }
    }

    /// What `_testbuffer.ndarray` answers a request with: `None` for a view, else the
    /// status and the requirement the message names.
    fn refusal(&self, flags: c_int) -> Option<(Status, &'static str)> {
        let wants = |f: c_int| flags & f == f;
        if flags & !REQUEST_BITS != 0 {
            Some((Status::InvalidArgument, "that are no PYBUF_* request"))
        } else if wants(PYBUF_WRITABLE) && self.readonly {
            Some((Status::ReadOnly, "PYBUF_WRITABLE requested but the memory is read-only"))
        } else if wants(PYBUF_C_CONTIGUOUS) && !self.c {
            Some((Status::BufferRequest, "PYBUF_C_CONTIGUOUS requested but the memory is not C-contiguous"))
        } else if wants(PYBUF_F_CONTIGUOUS) && !self.f {
            Some((Status::BufferRequest, "PYBUF_F_CONTIGUOUS requested but the memory is not Fortran-contiguous"))
        } else if wants(PYBUF_ANY_CONTIGUOUS) && !self.c && !self.f {
            Some((Status::BufferRequest, "PYBUF_ANY_CONTIGUOUS requested but the memory is neither"))
        } else if !wants(PYBUF_INDIRECT) && self.suboffsets.is_some() {
            Some((Status::BufferRequest, "the memory has suboffsets but PYBUF_INDIRECT was not requested"))
        } else if !wants(PYBUF_STRIDES) && !self.c {
            Some((Status::BufferRequest, "PYBUF_STRIDES not requested but the memory is not C-contiguous"))
        } else if !wants(PYBUF_ND) && wants(PYBUF_FORMAT) {
            Some((Status::BufferRequest, "PYBUF_FORMAT requested without PYBUF_ND"))
        } else {
            None
        }
    }

    /// Check a view filled for `flags` against the layout, field by field.
    #[track_caller]
    fn check_filled(&self, v: &pybuf_buffer, flags: c_int) {
        let wants = |f: c_int| flags & f == f;
        let what = (self.what, flags);
        let items: isize = self.shape.iter().product();
        assert_eq!(v.buf, self.buf.cast::<u8>().wrapping_offset(self.offset).cast(), "{what:?}");
        assert_eq!(v.obj, poisoned().obj, "{what:?}: obj is never written");
        assert_eq!((v.len, v.itemsize, v.readonly), (items * self.itemsize, self.itemsize, self.readonly as c_int));
        let format = self.format.to_str().unwrap();
        assert_eq!(text(v.format).as_deref(), wants(PYBUF_FORMAT).then_some(format), "{what:?}");
        if wants(PYBUF_ND) && self.shape.is_empty() {
            // A scalar: shape, strides and suboffsets are NULL.
            assert_eq!(v.ndim, 0, "{what:?}");
            assert!(v.shape.is_null() && v.strides.is_null() && v.suboffsets.is_null(), "{what:?}");
            return;
        }
        if wants(PYBUF_ND) {
            assert_eq!(v.ndim, self.shape.len() as c_int, "{what:?}");
            assert_eq!(array(v.shape, v.ndim), Some(self.shape.clone()), "{what:?}");
        } else {
            // Shapeless: unsigned bytes, one dimension, C-contiguous.
            assert_eq!((v.ndim, v.shape), (1, null_mut()), "{what:?}");
        }
        let strides = wants(PYBUF_STRIDES).then(|| self.full_strides.clone());
        assert_eq!(array(v.strides, v.ndim), strides, "{what:?}");
        assert_eq!(array(v.suboffsets, v.ndim), self.suboffsets.clone(), "{what:?}");
        // SAFETY: a live, well-formed view.
        let c = unsafe { pybuf_is_contiguous(v, b'C' as c_char) };
        assert_eq!(c, c_int::from(self.c || !wants(PYBUF_STRIDES)), "{what:?}");
    }
}

/// The memory the layouts point into.
struct Memory {
    mem: Vec<f64>,
    rows: Vec<u8>,
    table: Vec<*mut u8>,
}

impl Memory {
    fn new() -> Memory {
        let mut rows: Vec<u8> = (0..12).collect();
        let base = rows.as_mut_ptr();
        // SAFETY: 6 is within the 12 bytes of `rows`.
        let table = vec![base, unsafe { base.add(6) }];
        Memory { mem: doubles(64), rows, table }
    }

    /// Every kind of layout: contiguous both ways, neither, 0-d, empty, reversed,
    /// read-only, PIL-style suboffsets and all-negative suboffsets.
    fn layouts(&mut self) -> Vec<Layout> {
        let m = self.mem.as_mut_ptr().cast::<c_void>();
        let t = self.table.as_mut_ptr().cast::<c_void>();
        let mut out = vec![
            Layout::new("C 3x4", m, 512, c"d", 8, &[3, 4], None, &[32, 8], (true, false)),
            Layout::new("F 4x3", m, 512, c"d", 8, &[4, 3], Some(&[8, 32]), &[8, 32], (false, true)),
            Layout::new("every other column", m, 512, c"d", 8, &[3, 2], Some(&[64, 16]), &[64, 16], (false, false)),
            Layout::new("1-D", m, 512, c"d", 8, &[12], None, &[8], (true, true)),
            Layout::new("0-D", m, 512, c"q", 8, &[], None, &[], (true, true)),
            Layout::new("1x4", m, 512, c"d", 8, &[1, 4], Some(&[32, 8]), &[32, 8], (true, true)),
            Layout::new("empty 0x3", m, 512, c"d", 8, &[0, 3], Some(&[24, 8]), &[24, 8], (true, true)),
            Layout::new("structs", m, 512, c"T{i:a:h:b:}", 8, &[2, 3], None, &[24, 8], (true, false)),
        ];
        let mut reversed =
            Layout::new("reversed", m, 96, c"d", 8, &[3, 4], Some(&[-32, -8]), &[-32, -8], (false, false));
        reversed.offset = 88;
        out.push(reversed);
        let mut ro = Layout::new("read-only C 3x4", m, 512, c"d", 8, &[3, 4], None, &[32, 8], (true, false));
        ro.readonly = true;
        out.push(ro);
        let mut pil = Layout::new("PIL", t, 16, c"B", 1, &[2, 6], Some(&[8, 1]), &[8, 1], (false, false));
        pil.suboffsets = Some(vec![0, -1]);
        out.push(pil);
        let mut no_sub =
            Layout::new("negative suboffsets", m, 512, c"d", 8, &[3, 4], Some(&[32, 8]), &[32, 8], (false, false));
        no_sub.suboffsets = Some(vec![-1, -1]);
        out.push(no_sub);
        out
    }
}

/// The requests to check: natively the named ones and every combination of request
/// bits, alone and with each bit that is no request; under Miri `cases` of them at random,
/// mostly valid ones (`each_refusal_names_its_requirement` checks each refusal).
fn requests(rng: &mut Rng) -> Vec<c_int> {
    // 8 request bits: 256 combinations, each alone and with 4 bits that are no request.
    let count = NAMED_REQUESTS.len() + 256 * 5;
    let n = cases(count);
    if n < count {
        return (0..n / 4)
            .map(|_| match rng.below(8) {
                0..=3 => NAMED_REQUESTS[rng.below(NAMED_REQUESTS.len())],
                4..=6 => rng.next() as c_int & REQUEST_BITS,
                _ => (rng.next() as c_int & REQUEST_BITS) | 0x400,
            })
            .collect();
    }
    let mut all = NAMED_REQUESTS.to_vec();
    for subset in (0..=REQUEST_BITS).filter(|f| f & !REQUEST_BITS == 0) {
        all.push(subset);
        all.extend([0x2, 0x200, 0x400, 0x800].map(|bad| subset | bad));
    }
    assert_eq!(all.len(), count);
    all
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Way {
    Exporter,
    FillView,
    Object,
}

#[test]
fn every_request_follows_testbuffer() {
    let mut memory = Memory::new();
    let mut rng = Rng::new(1);
    let (mut filled, mut refused) = (0, 0);
    for layout in memory.layouts() {
        let d = layout.desc();
        let owner = AtomicUsize::new(0);
        let e = new_exporter(&d, &owner);
        let object = pybuf_exporter_as_object(e);
        for flags in requests(&mut rng) {
            for way in [Way::Exporter, Way::FillView, Way::Object] {
                let mut v = poisoned();
                // SAFETY: a live exporter, a description whose arrays are alive, a
                // writable view.
                let rc = unsafe {
                    match way {
                        Way::Exporter => pybuf_exporter_get_buffer(e, &mut v, flags),
                        Way::FillView => pybuf_fill_view(&mut v, &d, flags),
                        Way::Object => pybuf_object_get_buffer(&object, &mut v, flags),
                    }
                };
                let counted = way != Way::FillView;
                match layout.refusal(flags) {
                    Some((status, requirement)) => {
                        refused += 1;
                        expect_refused(rc, status, requirement);
                        assert!(same_bytes(&v, &poisoned()), "{} {flags:#x} {way:?}: refused but written", layout.what);
                        assert_eq!(exports(e), 0);
                    }
                    None => {
                        filled += 1;
                        expect_status(rc, Status::Ok);
                        layout.check_filled(&v, flags);
                        assert_eq!(exports(e), isize::from(counted));
                        release(&mut v);
                        assert_eq!(exports(e), 0);
                    }
                }
            }
        }
        // SAFETY: the one reference, given back once.
        unsafe { pybuf_exporter_free(e) };
        assert_eq!(count(&owner), 1, "{}", layout.what);
    }
    assert!(filled > 0 && refused > 0);
}

/// One refusal of each kind, with its full message; nothing written, nothing counted.
#[test]
fn each_refusal_names_its_requirement() {
    let mut memory = Memory::new();
    let layouts = memory.layouts();
    let by_name = |name: &str| layouts.iter().find(|l| l.what == name).unwrap().desc();
    let owner = AtomicUsize::new(0);
    let exporters: Vec<(&str, *mut pybuf_exporter)> =
        ["C 3x4", "F 4x3", "every other column", "read-only C 3x4", "PIL"]
            .iter()
            .map(|&n| (n, new_exporter(&by_name(n), &owner)))
            .collect();
    let e = |name: &str| exporters.iter().find(|(n, _)| *n == name).unwrap().1;
    let refusals: [(&str, c_int, Status, &str); 13] = [
        ("read-only C 3x4", PYBUF_WRITABLE, Status::ReadOnly, "PYBUF_WRITABLE requested but the memory is read-only"),
        ("read-only C 3x4", PYBUF_CONTIG, Status::ReadOnly, "read-only"),
        (
            "F 4x3",
            PYBUF_C_CONTIGUOUS,
            Status::BufferRequest,
            "PYBUF_C_CONTIGUOUS requested but the memory is not C-contiguous",
        ),
        (
            "C 3x4",
            PYBUF_F_CONTIGUOUS,
            Status::BufferRequest,
            "PYBUF_F_CONTIGUOUS requested but the memory is not Fortran-contiguous",
        ),
        (
            "every other column",
            PYBUF_ANY_CONTIGUOUS,
            Status::BufferRequest,
            "PYBUF_ANY_CONTIGUOUS requested but the memory is neither C- nor Fortran-contiguous",
        ),
        (
            "every other column",
            PYBUF_CONTIG_RO,
            Status::BufferRequest,
            "PYBUF_STRIDES not requested but the memory is not C-contiguous",
        ),
        ("F 4x3", PYBUF_SIMPLE, Status::BufferRequest, "PYBUF_STRIDES not requested"),
        (
            "PIL",
            PYBUF_RECORDS_RO,
            Status::BufferRequest,
            "the memory has suboffsets but PYBUF_INDIRECT was not requested",
        ),
        (
            "C 3x4",
            PYBUF_FORMAT,
            Status::BufferRequest,
            "PYBUF_FORMAT requested without PYBUF_ND: a shapeless view is unsigned bytes and cannot carry a format",
        ),
        ("C 3x4", PYBUF_WRITE, Status::InvalidArgument, "flags = 0x200 has bits 0x200 that are no PYBUF_* request"),
        ("C 3x4", 0x2, Status::InvalidArgument, "flags = 0x2 has bits 0x2"),
        ("C 3x4", -1, Status::InvalidArgument, "flags = 0xffffffff has bits 0xfffffe02"),
        ("C 3x4", PYBUF_FULL | 0x400, Status::InvalidArgument, "has bits 0x400"),
    ];
    for (name, flags, status, message) in refusals {
        let mut v = poisoned();
        // SAFETY: a live exporter and a writable view.
        let rc = unsafe { pybuf_exporter_get_buffer(e(name), &mut v, flags) };
        expect_refused(rc, status, message);
        assert!(same_bytes(&v, &poisoned()));
        assert_eq!(exports(e(name)), 0);
    }
    // What the refusing exporters still give.
    let mut v = pybuf_buffer::zeroed();
    get(e("read-only C 3x4"), &mut v, PYBUF_CONTIG_RO);
    assert_eq!(v.readonly, 1);
    release(&mut v);
    get(e("PIL"), &mut v, PYBUF_FULL);
    // SAFETY: a live view with 2 dimensions; the table's pointers point into `rows`.
    let p = unsafe { pybuf_get_pointer(&v, [1isize, 4].as_ptr()) };
    assert_eq!(p, memory.rows[10..].as_ptr().cast_mut().cast());
    release(&mut v);
    for (_, e) in exporters {
        // SAFETY: each reference given back once.
        unsafe { pybuf_exporter_free(e) };
    }
    assert_eq!(count(&owner), 5);
}

// =====================================================================================
// NULL arguments and invalid descriptions

#[test]
fn null_arguments_are_refused() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let mut out: *mut pybuf_exporter = sentinel();
    // SAFETY: every pointer is NULL or valid.
    unsafe {
        expect_refused(
            pybuf_exporter_new(null(), Some(count_owner), user(&owner), &mut out),
            Status::NullPointer,
            "desc is NULL",
        );
        assert_eq!(out, sentinel());
        expect_refused(
            pybuf_exporter_new(&d, Some(count_owner), user(&owner), null_mut()),
            Status::NullPointer,
            "out is NULL",
        );
        let no_shape = pybuf_exporter_desc { shape: null(), ..d };
        expect_refused(
            pybuf_exporter_new(&no_shape, Some(count_owner), user(&owner), &mut out),
            Status::NullPointer,
            "shape is NULL with 2 entries",
        );
        let no_buf = pybuf_exporter_desc { buf: null_mut(), ..d };
        expect_refused(
            pybuf_exporter_new(&no_buf, Some(count_owner), user(&owner), &mut out),
            Status::NullPointer,
            "buf is NULL with len = 96",
        );
        assert_eq!(out, sentinel());
    }
    assert_eq!(count(&owner), 0, "a refused exporter never calls its owner");

    // buf NULL with len 0 is empty memory, and fine for an empty array.
    let zero = [0isize];
    let empty = desc(null_mut(), 0, Some(c"d"), &zero, None);
    let e = new_exporter(&empty, &owner);
    let mut v = pybuf_buffer::zeroed();
    get(e, &mut v, PYBUF_FULL);
    assert_eq!((v.buf, v.len), (null_mut(), 0));
    release(&mut v);
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 1);

    let e = new_exporter(&d, &owner);
    let mut v = poisoned();
    // SAFETY: every pointer is NULL or valid.
    unsafe {
        expect_refused(
            pybuf_exporter_get_buffer(null_mut(), &mut v, PYBUF_FULL),
            Status::NullPointer,
            "exporter is NULL",
        );
        expect_refused(pybuf_exporter_get_buffer(e, null_mut(), PYBUF_FULL), Status::NullPointer, "view is NULL");
        assert_eq!(pybuf_exporter_exports(null()), -1);
        expect_error(Status::NullPointer);
        assert_eq!(pybuf_exporter_clone(null_mut()), null_mut());
        expect_error(Status::NullPointer);
        expect_refused(pybuf_exporter_replace(null_mut(), &d), Status::NullPointer, "exporter is NULL");
        expect_refused(pybuf_exporter_replace(e, null()), Status::NullPointer, "desc is NULL");
        provoke();
        pybuf_exporter_free(null_mut());
        expect_ok();
        expect_refused(pybuf_fill_view(&mut v, null(), PYBUF_FULL), Status::NullPointer, "desc is NULL");
        expect_refused(pybuf_fill_view(null_mut(), &d, PYBUF_FULL), Status::NullPointer, "view is NULL");

        let object = pybuf_exporter_as_object(e);
        let no_procs = pybuf_object { procs: null(), exporter: e.cast() };
        let empty_procs = pybuf_procs { getbuffer: None, releasebuffer: None };
        let no_getbuffer = pybuf_object { procs: &empty_procs, exporter: e.cast() };
        expect_refused(pybuf_object_get_buffer(null(), &mut v, PYBUF_FULL), Status::NullPointer, "obj is NULL");
        expect_refused(pybuf_object_get_buffer(&object, null_mut(), PYBUF_FULL), Status::NullPointer, "view is NULL");
        expect_refused(
            pybuf_object_get_buffer(&no_procs, &mut v, PYBUF_FULL),
            Status::BufferRequest,
            "obj has no procs",
        );
        expect_refused(
            pybuf_object_get_buffer(&no_getbuffer, &mut v, PYBUF_FULL),
            Status::BufferRequest,
            "obj has no getbuffer",
        );
        // An object of a NULL exporter.
        let null_object = pybuf_exporter_as_object(null_mut());
        expect_refused(
            pybuf_object_get_buffer(&null_object, &mut v, PYBUF_FULL),
            Status::NullPointer,
            "exporter is NULL",
        );
        assert!(same_bytes(&v, &poisoned()), "refusals leave the view untouched");
        pybuf_exporter_free(e);
    }
    assert_eq!(count(&owner), 2);
}

/// Descriptions that `pybuf_exporter_new`, `pybuf_fill_view` and `pybuf_exporter_replace`
/// all refuse, with the status and the message; nothing is written or called.
#[test]
fn invalid_descriptions_are_refused_everywhere() {
    let mut mem = doubles(64);
    let m = mem.as_mut_ptr().cast::<c_void>();
    let (s34, s35, neg) = ([3isize, 4], [3isize, 5], [-32isize, 8]);
    let c34 = [32isize, 8];
    let huge = [isize::MAX / 4, 8];
    let (two, big) = ([3isize, 4], [isize::MAX / 2, 8]);
    let bad_shape = [3isize, -4];
    let ones = [1isize; 65];
    let mut rows = [0u8; 12];
    let rows_ptr = rows.as_mut_ptr();
    // SAFETY: 6 is within `rows`.
    let mut table = [rows_ptr, unsafe { rows_ptr.add(6) }];
    let (pshape, pstrides, psub) = ([2isize, 6], [8isize, 1], [0isize, -1]);
    let good = desc(m, 96, Some(c"d"), &s34, None);
    let with = |f: &dyn Fn(&mut pybuf_exporter_desc)| {
        let mut d = good;
        f(&mut d);
        d
    };
    let refusals: Vec<(pybuf_exporter_desc, Status, &str)> = vec![
        (
            desc(m, 96, Some(c"d"), &s35, None),
            Status::LengthMismatch,
            "reaches bytes [0, 120) relative to buf, outside the 96-byte memory",
        ),
        (with(&|d| d.len = 95), Status::LengthMismatch, "[0, 96)"),
        (desc(m, 96, Some(c"d"), &s34, Some(&neg)), Status::LengthMismatch, "[-64, 32)"),
        (with(&|d| (d.strides, d.offset) = (c34.as_ptr(), 8)), Status::LengthMismatch, "outside the 96-byte memory"),
        (with(&|d| d.offset = -8), Status::LengthMismatch, "[-8, 88)"),
        (with(&|d| d.len = -1), Status::InvalidArgument, "memory size -1 is negative"),
        (desc(m, 512, Some(c"d"), &huge, None), Status::Overflow, "overflows"),
        (desc(m, 512, Some(c"d"), &two, Some(&big)), Status::Overflow, "strides[0]"),
        (with(&|d| d.offset = isize::MAX), Status::Overflow, "overflows"),
        (with(&|d| d.itemsize = 4), Status::InvalidItemsize, "itemsize = 4 but format \"d\" has size 8"),
        (with(&|d| d.itemsize = -8), Status::InvalidItemsize, "itemsize = -8"),
        (with(&|d| d.format = c"T{i".as_ptr()), Status::InvalidFormat, "unterminated 'T{'"),
        (with(&|d| d.format = c"".as_ptr()), Status::InvalidItemsize, "format \"\" has size 0"),
        (with(&|d| d.ndim = -1), Status::InvalidNdim, "ndim = -1"),
        (desc(m, 512, Some(c"d"), &ones, None), Status::InvalidNdim, "ndim = 65"),
        (desc(m, 512, Some(c"d"), &bad_shape, None), Status::InvalidShape, "shape[1] = -4 is negative"),
        (with(&|d| d.readonly = 2), Status::InvalidArgument, "readonly = 2 is not 0 or 1"),
        (with(&|d| d.shape = null()), Status::NullPointer, "shape is NULL with 2 entries"),
        (with(&|d| d.buf = null_mut()), Status::NullPointer, "buf is NULL with len = 96"),
        (
            pybuf_exporter_desc {
                suboffsets: psub.as_ptr(),
                ..desc(table.as_mut_ptr().cast(), 8, Some(c"B"), &pshape, Some(&pstrides))
            },
            Status::LengthMismatch,
            "outside the 8-byte memory",
        ),
    ];
    let owner = AtomicUsize::new(0);
    for (d, status, message) in &refusals {
        let mut out: *mut pybuf_exporter = sentinel();
        let mut v = poisoned();
        // SAFETY: the descriptions' arrays are alive; the view and out are writable.
        unsafe {
            expect_refused(pybuf_exporter_new(d, Some(count_owner), user(&owner), &mut out), *status, message);
            assert_eq!(out, sentinel());
            expect_refused(pybuf_fill_view(&mut v, d, PYBUF_FULL_RO), *status, message);
            assert!(same_bytes(&v, &poisoned()));
        }
        // replace refuses it too, and the exporter still exports what it did.
        let e = new_exporter(&good, &owner);
        // SAFETY: a live exporter and a description whose arrays are alive.
        unsafe { expect_refused(pybuf_exporter_replace(e, d), *status, message) };
        let mut v = pybuf_buffer::zeroed();
        get(e, &mut v, PYBUF_FULL);
        assert_eq!((v.buf, v.ndim, array(v.shape, 2)), (m, 2, Some(vec![3, 4])));
        release(&mut v);
        // SAFETY: the one reference.
        unsafe { pybuf_exporter_free(e) };
    }
    assert_eq!(count(&owner), refusals.len(), "only the good exporters ran their owner");
    // 64 dimensions are fine.
    let d = desc(m, 512, Some(c"d"), &ones[..64], None);
    let e = new_exporter(&d, &owner);
    let mut v = pybuf_buffer::zeroed();
    get(e, &mut v, PYBUF_FULL_RO);
    assert_eq!(v.ndim, 64);
    release(&mut v);
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(rows, [0; 12]);
}

// =====================================================================================
// replace, clone, and when the owner runs

#[test]
fn replace_is_refused_while_exported() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let mut other = doubles(6);
    let (s34, s23) = ([3isize, 4], [2isize, 3]);
    let mut d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &s34, None);
    let nd = desc(other.as_mut_ptr().cast(), 48, Some(c"d"), &s23, None);
    let e = new_exporter(&d, &owner);
    let (mut v1, mut v2) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    get(e, &mut v1, PYBUF_FULL);
    get(e, &mut v2, PYBUF_ND);
    // SAFETY: a live exporter, live descriptions.
    unsafe {
        expect_refused(pybuf_exporter_replace(e, &nd), Status::ExportsExist, "existing exports of data (2 live views)");
        release(&mut v1);
        expect_refused(pybuf_exporter_replace(e, &nd), Status::ExportsExist, "(1 live views)");
        // The live view is unaffected.
        assert_eq!((v2.buf, array(v2.shape, 2)), (mem.as_mut_ptr().cast(), Some(vec![3, 4])));
        release(&mut v2);
        expect_status(pybuf_exporter_replace(e, &nd), Status::Ok);
    }
    get(e, &mut v1, PYBUF_FULL);
    assert_eq!((v1.buf, v1.len), (other.as_mut_ptr().cast(), 48));
    assert_eq!((array(v1.shape, 2), array(v1.strides, 2)), (Some(vec![2, 3]), Some(vec![24, 8])));
    // A clone is the same exporter: its exports count and are refused alike.
    // SAFETY: live handles and descriptions.
    unsafe {
        let clone = pybuf_exporter_clone(e);
        expect_ok();
        assert_eq!(clone, e);
        assert_eq!(exports(clone), 1);
        expect_refused(pybuf_exporter_replace(clone, &d), Status::ExportsExist, "1 live views");
        release(&mut v1);
        // A read-only description; the owner callback is kept.
        d.readonly = 1;
        expect_status(pybuf_exporter_replace(clone, &d), Status::Ok);
        expect_refused(pybuf_exporter_get_buffer(e, &mut v1, PYBUF_FULL), Status::ReadOnly, "PYBUF_WRITABLE");
        get(e, &mut v1, PYBUF_FULL_RO);
        assert_eq!((v1.buf, v1.readonly), (mem.as_mut_ptr().cast(), 1));
        release(&mut v1);
        pybuf_exporter_free(clone);
        assert_eq!(count(&owner), 0);
        pybuf_exporter_free(e);
    }
    assert_eq!(count(&owner), 1);
}

/// Three views and the handle, given back in each of the 24 orders: the owner runs
/// exactly at the last, the views work until each is released, and releasing again
/// does nothing.
#[test]
fn releases_in_every_order() {
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let mut orders = Vec::new();
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for x in 0..4 {
                    let order = [a, b, c, x];
                    if (0..4).all(|k| order.contains(&k)) {
                        orders.push(order);
                    }
                }
            }
        }
    }
    assert_eq!(orders.len(), 24);
    let flags = [PYBUF_FULL, PYBUF_SIMPLE, PYBUF_STRIDED_RO];
    for order in orders {
        let owner = AtomicUsize::new(0);
        let e = new_exporter(&d, &owner);
        let mut views = [pybuf_buffer::zeroed(); 3];
        for (v, f) in views.iter_mut().zip(flags) {
            get(e, v, f);
        }
        assert_eq!(exports(e), 3);
        let mut alive = [true; 4];
        for (step, &which) in order.iter().enumerate() {
            if which == 3 {
                // SAFETY: the one reference, given back once.
                unsafe { pybuf_exporter_free(e) };
                expect_ok();
            } else {
                release(&mut views[which]);
            }
            alive[which] = false;
            assert_eq!(count(&owner), usize::from(step == 3), "order {order:?}, step {step}");
            if alive[3] {
                assert_eq!(exports(e), alive[..3].iter().filter(|&&a| a).count() as isize);
            }
            // The views still alive still reach the exporter's arrays and memory.
            for (k, v) in views.iter().enumerate().filter(|(k, _)| alive[*k]) {
                let shape = if k == 1 { None } else { Some(vec![3, 4]) };
                assert_eq!((array(v.shape, v.ndim), v.len), (shape, 96), "view {k}");
                // SAFETY: the last element of a live view of 12 doubles.
                assert_eq!(unsafe { *v.buf.cast::<f64>().add(11) }, 11.0);
            }
        }
        for v in &mut views {
            let before = *v;
            release(v);
            assert!(same_bytes(v, &before), "a second release does nothing");
        }
        assert_eq!(count(&owner), 1);
    }
}

/// The bytes of `values`.
fn bytes_of(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

#[test]
fn release_twice_and_fill_again() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let e = new_exporter(&d, &owner);
    let mut token = 0u8;
    let mut v = poisoned();
    get(e, &mut v, PYBUF_FULL);
    v.obj = (&mut token as *mut u8).cast();
    provoke();
    release(&mut v);
    assert_eq!(v.obj, (&mut token as *mut u8).cast(), "obj is the caller's");
    assert_eq!(exports(e), 0);
    let released = v;
    for _ in 0..2 {
        provoke();
        release(&mut v);
        assert!(same_bytes(&v, &released));
    }
    // The struct can be filled again.
    get(e, &mut v, PYBUF_SIMPLE);
    assert_eq!(exports(e), 1);
    release(&mut v);
    assert_eq!(exports(e), 0);
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 1);
    // A released view stays released after the exporter is gone.
    release(&mut v);
    // Releasing NULL does nothing.
    provoke();
    release(null_mut());
    assert_eq!(count(&owner), 1);
}

/// A struct copy of a view (at another address) cannot release it: refused as foreign,
/// untouched; the original releases it; the copy of a released view is refused too.
#[test]
fn copies_of_views_are_refused() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let e = new_exporter(&d, &owner);

    // A view of the exporter.
    let mut v = pybuf_buffer::zeroed();
    get(e, &mut v, PYBUF_FULL);
    let mut copy = Box::new(v);
    release_refused(&mut copy, "is a copy of the view pybuf filled at");
    assert_eq!(exports(e), 1);
    release(&mut v);
    assert_eq!(exports(e), 0);
    release_refused(&mut copy, "was not filled by pybuf");

    // A view of pybuf_fill_view, which owns its arrays.
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: a live description and a writable view.
    unsafe { expect_status(pybuf_fill_view(&mut v, &d, PYBUF_FULL), Status::Ok) };
    let mut copy = Box::new(v);
    release_refused(&mut copy, "is a copy of the view pybuf filled at");
    assert_eq!(array(v.shape, 2), Some(vec![3, 4]), "the original still owns its arrays");
    release(&mut v);
    release_refused(&mut copy, "was not filled by pybuf");

    // A view moved to another address is a copy too: only its first address releases it.
    let mut first = pybuf_buffer::zeroed();
    get(e, &mut first, PYBUF_RECORDS);
    let mut moved = Box::new(first);
    release_refused(&mut moved, "is a copy");
    release(&mut first);
    assert_eq!(exports(e), 0);

    // A view of pybuf_fill_info needs no bookkeeping: a copy is released on its own.
    let mut bytes = [1u8, 2, 3];
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: writable view, 3 bytes.
    unsafe {
        expect_status(pybuf_fill_info(&mut v, null_mut(), bytes.as_mut_ptr().cast(), 3, 0, PYBUF_SIMPLE), Status::Ok)
    };
    let mut copy = Box::new(v);
    release(&mut *copy);
    assert_ne!(copy.internal, v.internal, "the copy is marked released");
    release(&mut v);
    assert_eq!(copy.internal, v.internal, "both carry the released marker");

    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 1);
}

#[test]
fn foreign_views_are_left_untouched() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let mut shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let e = new_exporter(&d, &owner);
    // A view as CPython or numpy fills it: internal is the exporter's own.
    let mut state = [0u64; 4];
    let mut v = pybuf_buffer {
        buf: mem.as_mut_ptr().cast(),
        obj: state.as_mut_ptr().cast(),
        len: 96,
        itemsize: 8,
        ndim: 2,
        format: c"d".as_ptr().cast_mut(),
        shape: shape.as_mut_ptr(),
        internal: state.as_mut_ptr().cast(),
        ..pybuf_buffer::zeroed()
    };
    release_refused(&mut v, "not filled by pybuf");
    assert_eq!(state, [0; 4], "pybuf never touches a foreign view's data");
    // A zeroed struct, and one full of a pattern.
    release_refused(&mut pybuf_buffer::zeroed(), "not filled by pybuf");
    release_refused(&mut poisoned(), "not filled by pybuf");
    // A forged internal changes no export count.
    let mut v = pybuf_buffer::zeroed();
    get(e, &mut v, PYBUF_FULL);
    let mut forged = Box::new(v);
    forged.internal = v.internal.cast::<u8>().wrapping_add(8).cast();
    release_refused(&mut forged, "not filled by pybuf");
    assert_eq!(exports(e), 1);
    release(&mut v);
    assert_eq!(exports(e), 0);
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 1);
}

#[test]
fn the_owner_runs_when_the_last_holder_goes() {
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let (mut a, mut b) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed());

    // Clones: the last reference, whichever it is.
    let owner = AtomicUsize::new(0);
    let e = new_exporter(&d, &owner);
    // SAFETY: live handles, each reference given back once.
    unsafe {
        let clone = pybuf_exporter_clone(e);
        expect_ok();
        pybuf_exporter_free(e);
        assert_eq!(count(&owner), 0);
        get(clone, &mut a, PYBUF_FULL);
        pybuf_exporter_free(clone);
        assert_eq!(count(&owner), 0, "the view holds the exporter");
    }
    // The view still works: its arrays and format belong to the exporter it holds.
    assert_eq!((text(a.format).as_deref(), array(a.shape, 2)), (Some("d"), Some(vec![3, 4])));
    release(&mut a);
    assert_eq!(count(&owner), 1);

    // Views through pybuf_object_get_buffer hold the exporter too.
    let owner = AtomicUsize::new(0);
    let e = new_exporter(&d, &owner);
    let object = pybuf_exporter_as_object(e);
    // SAFETY: a live object and writable views.
    unsafe {
        expect_status(pybuf_object_get_buffer(&object, &mut a, PYBUF_FULL), Status::Ok);
        expect_status(pybuf_object_get_buffer(&object, &mut b, PYBUF_STRIDED_RO), Status::Ok);
        assert_eq!(exports(e), 2);
        pybuf_exporter_free(e);
    }
    release(&mut b);
    assert_eq!(count(&owner), 0);
    release(&mut a);
    assert_eq!(count(&owner), 1);
}

#[test]
fn exporter_as_object() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = pybuf_exporter_desc { readonly: 1, ..desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None) };
    let e = new_exporter(&d, &owner);
    let o = pybuf_exporter_as_object(e);
    assert!(!o.procs.is_null());
    assert_eq!(o.exporter, e.cast());
    // SAFETY: the built-in procs are static.
    let procs = unsafe { &*o.procs };
    assert!(procs.getbuffer.is_some() && procs.releasebuffer.is_none());
    let mut v = poisoned();
    // SAFETY: a live object and a writable view.
    unsafe {
        expect_refused(pybuf_object_get_buffer(&o, &mut v, PYBUF_FULL), Status::ReadOnly, "PYBUF_WRITABLE");
        expect_refused(pybuf_object_get_buffer(&o, &mut v, 0x800), Status::InvalidArgument, "0x800");
        assert!(same_bytes(&v, &poisoned()));
        expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_FULL_RO), Status::Ok);
    }
    assert_eq!((v.buf, v.readonly, v.obj), (mem.as_mut_ptr().cast(), 1, poisoned().obj));
    assert_eq!(exports(e), 1);
    release(&mut v);
    assert_eq!(exports(e), 0);
    release(&mut v);
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 1);
}

// =====================================================================================
// Custom exporters (pybuf_procs, pybuf_object_get_buffer, pybuf_fill_view)

#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    /// getbuffer calls pybuf_fill_view.
    FillView,
    /// getbuffer fills the view itself, with its own `internal`.
    ByHand,
    /// getbuffer fills a view with shape[1] = -4.
    Malformed,
    /// getbuffer returns a status without recording a message.
    FailSilently,
    /// getbuffer returns 7, which is no status.
    FailPositive,
    /// getbuffer asks a built-in exporter.
    Delegate,
    /// getbuffer calls pybuf_fill_info.
    FillInfo,
    /// getbuffer asks another object (`inner`) through pybuf_object_get_buffer.
    Object,
}

/// What getbuffer does to a view it filled successfully, before it returns.
#[derive(Clone, Copy, Debug, PartialEq)]
enum After {
    Nothing,
    /// Sets itemsize to 0 and returns 0 (a malformed view).
    ItemsizeZero,
    /// Sets ndim to 70 and returns 0 (a malformed view).
    Ndim70,
    /// Returns PYBUF_STATUS_SHAPE_MISMATCH without releasing what it filled.
    Fail,
}

/// A custom exporter: its getbuffer does what `behaviour` says; both functions count
/// their calls and note `view->internal`.
struct Custom {
    behaviour: Behaviour,
    desc: Cell<pybuf_exporter_desc>,
    hand_shape: [isize; 2],
    delegate: *mut pybuf_exporter,
    /// The object `Behaviour::Object` asks.
    inner: pybuf_object,
    after: After,
    /// releasebuffer calls pybuf_release on the view (filled by pybuf_fill_view).
    release_itself: bool,
    cookie: u8,
    gets: Cell<usize>,
    releases: Cell<usize>,
    internal_set: Cell<*mut c_void>,
    internal_seen: Cell<*mut c_void>,
}

impl Custom {
    fn new(behaviour: Behaviour, desc: pybuf_exporter_desc) -> Custom {
        Custom {
            behaviour,
            desc: Cell::new(desc),
            hand_shape: [3, if behaviour == Behaviour::Malformed { -4 } else { 4 }],
            delegate: null_mut(),
            inner: pybuf_object { procs: null(), exporter: null_mut() },
            after: After::Nothing,
            release_itself: false,
            cookie: 0,
            gets: Cell::new(0),
            releases: Cell::new(0),
            internal_set: Cell::new(null_mut()),
            internal_seen: Cell::new(null_mut()),
        }
    }

    fn cookie(&self) -> *mut c_void {
        (&self.cookie as *const u8).cast_mut().cast()
    }

    fn object(&self, procs: &'static pybuf_procs) -> pybuf_object {
        pybuf_object { procs, exporter: (self as *const Custom).cast_mut().cast() }
    }
}

unsafe extern "C" fn custom_getbuffer(exporter: *mut c_void, view: *mut pybuf_buffer, flags: c_int) -> c_int {
    // SAFETY: every pybuf_object of these tests points at a live Custom.
    let c = unsafe { &*exporter.cast::<Custom>() };
    c.gets.set(c.gets.get() + 1);
    let d = c.desc.get();
    // SAFETY: pybuf passes the caller's writable view; the description's arrays are alive.
    let rc = unsafe {
        match c.behaviour {
            Behaviour::FillView => pybuf_fill_view(view, &d, flags),
            Behaviour::ByHand | Behaviour::Malformed => {
                view.write(pybuf_buffer {
                    buf: d.buf,
                    len: if c.behaviour == Behaviour::Malformed { 0 } else { 96 },
                    itemsize: 8,
                    ndim: 2,
                    format: c"d".as_ptr().cast_mut(),
                    shape: c.hand_shape.as_ptr().cast_mut(),
                    internal: c.cookie(),
                    ..pybuf_buffer::zeroed()
                });
                0
            }
            Behaviour::FailSilently => return Status::BufferRequest as c_int,
            Behaviour::FailPositive => return 7,
            Behaviour::Delegate => pybuf_exporter_get_buffer(c.delegate, view, flags),
            Behaviour::FillInfo => pybuf_fill_info(view, exporter, d.buf, d.len, d.readonly, flags),
            Behaviour::Object => pybuf_object_get_buffer(&c.inner, view, flags),
        }
    };
    if rc == 0 {
        // SAFETY: filled just now.
        c.internal_set.set(unsafe { (*view).internal });
        // SAFETY: as above.
        unsafe {
            match c.after {
                After::Nothing => {}
                After::ItemsizeZero => (*view).itemsize = 0,
                After::Ndim70 => (*view).ndim = 70,
                After::Fail => return Status::ShapeMismatch as c_int,
            }
        }
    }
    rc
}

unsafe extern "C" fn custom_releasebuffer(exporter: *mut c_void, view: *mut pybuf_buffer) {
    // SAFETY: as in custom_getbuffer; pybuf passes the view being released.
    let c = unsafe { &*exporter.cast::<Custom>() };
    c.releases.set(c.releases.get() + 1);
    // SAFETY: as above.
    c.internal_seen.set(unsafe { (*view).internal });
    if c.release_itself {
        // SAFETY: the view pybuf_fill_view filled, at its address.
        unsafe { pybuf_release(view) };
    }
}

static CUSTOM: pybuf_procs =
    pybuf_procs { getbuffer: Some(custom_getbuffer), releasebuffer: Some(custom_releasebuffer) };
static CUSTOM_NO_RELEASE: pybuf_procs = pybuf_procs { getbuffer: Some(custom_getbuffer), releasebuffer: None };

#[test]
fn custom_exporter_with_fill_view() {
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let other_shape = [1isize, 1];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let c = Custom::new(Behaviour::FillView, d);
    let o = c.object(&CUSTOM);
    let mut v = poisoned();
    provoke();
    // SAFETY: a live object and a writable view.
    unsafe { expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_FULL), Status::Ok) };
    assert_eq!((c.gets.get(), c.releases.get()), (1, 0));
    assert_eq!((v.buf, v.ndim, v.obj), (mem.as_mut_ptr().cast(), 2, poisoned().obj));
    assert_eq!(text(v.format).as_deref(), Some("d"));
    assert_eq!(array(v.strides, 2), Some(vec![32, 8]));
    // The view owns copies: the exporter may change its description.
    c.desc.set(pybuf_exporter_desc { shape: other_shape.as_ptr(), format: c"q".as_ptr(), ..d });
    assert_eq!((array(v.shape, 2), text(v.format).as_deref()), (Some(vec![3, 4]), Some("d")));
    // pybuf keeps its bookkeeping in internal, not the exporter's.
    assert_ne!(v.internal, c.internal_set.get());
    provoke();
    release(&mut v);
    assert_eq!(c.releases.get(), 1);
    assert_eq!(c.internal_seen.get(), c.internal_set.get(), "releasebuffer sees the internal getbuffer set");
    release(&mut v);
    assert_eq!(c.releases.get(), 1, "exactly once");

    // A refusal of pybuf_fill_view inside getbuffer comes back with its own message.
    let c = Custom::new(Behaviour::FillView, pybuf_exporter_desc { readonly: 1, ..d });
    let o = c.object(&CUSTOM);
    let mut v = poisoned();
    // SAFETY: as above.
    unsafe {
        expect_refused(
            pybuf_object_get_buffer(&o, &mut v, PYBUF_CONTIG),
            Status::ReadOnly,
            "PYBUF_WRITABLE requested but the memory is read-only",
        );
        expect_refused(
            pybuf_object_get_buffer(&o, &mut v, PYBUF_F_CONTIGUOUS),
            Status::BufferRequest,
            "PYBUF_F_CONTIGUOUS",
        );
    }
    assert!(same_bytes(&v, &poisoned()));
    assert_eq!((c.gets.get(), c.releases.get()), (2, 0));

    // Without a releasebuffer, pybuf gives the view's own block back by itself.
    let c = Custom::new(Behaviour::FillView, d);
    let o = c.object(&CUSTOM_NO_RELEASE);
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: as above.
    unsafe { expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_RECORDS), Status::Ok) };
    release(&mut v);
    release(&mut v);
    assert_eq!((c.gets.get(), c.releases.get()), (1, 0));

    // A releasebuffer that releases the view itself, as its getbuffer filled it.
    let mut c = Custom::new(Behaviour::FillView, d);
    c.release_itself = true;
    let o = c.object(&CUSTOM);
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: as above.
    unsafe { expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_FULL_RO), Status::Ok) };
    release(&mut v);
    assert_eq!(c.releases.get(), 1);
    let released = v;
    release(&mut v);
    assert!(same_bytes(&v, &released));
    assert_eq!(c.releases.get(), 1);
}

#[test]
fn custom_exporter_filled_by_hand() {
    let mut mem = doubles(12);
    let c = Custom::new(Behaviour::ByHand, desc(mem.as_mut_ptr().cast(), 96, None, &[], None));
    let o = c.object(&CUSTOM);
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: a live object and a writable view.
    unsafe { expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_FULL), Status::Ok) };
    assert_eq!(c.gets.get(), 1);
    assert_eq!(array(v.shape, 2), Some(vec![3, 4]));
    assert_ne!(v.internal, c.cookie(), "pybuf's block, not the exporter's cookie");
    assert_eq!(c.internal_set.get(), c.cookie());
    // A copy cannot release it, and does not call releasebuffer.
    let mut copy = Box::new(v);
    release_refused(&mut copy, "is a copy");
    assert_eq!(c.releases.get(), 0);
    release(&mut v);
    assert_eq!(c.releases.get(), 1);
    assert_eq!(c.internal_seen.get(), c.cookie(), "releasebuffer gets its own internal back");
    release(&mut v);
    assert_eq!(c.releases.get(), 1);
}

#[test]
fn custom_exporter_that_delegates_or_fills_info() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let e = new_exporter(&d, &owner);
    // getbuffer asks the built-in exporter: the view counts as its export.
    let mut c = Custom::new(Behaviour::Delegate, d);
    c.delegate = e;
    let o = c.object(&CUSTOM);
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: a live object and a writable view.
    unsafe { expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_FULL), Status::Ok) };
    assert_eq!(exports(e), 1);
    assert_eq!(array(v.strides, 2), Some(vec![32, 8]));
    release(&mut v);
    assert_eq!(c.releases.get(), 1);
    assert_eq!(c.internal_seen.get(), c.internal_set.get());
    assert_eq!(exports(e), 0, "the built-in export is given back with the view");
    // Also without a releasebuffer.
    let o = c.object(&CUSTOM_NO_RELEASE);
    // SAFETY: as above.
    unsafe { expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_RECORDS_RO), Status::Ok) };
    assert_eq!(exports(e), 1);
    release(&mut v);
    assert_eq!(exports(e), 0);
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 1);

    // getbuffer calls pybuf_fill_info, passing itself as obj.
    let mut bytes = [7u8; 5];
    let c = Custom::new(Behaviour::FillInfo, desc(bytes.as_mut_ptr().cast(), 5, None, &[], None));
    let o = c.object(&CUSTOM);
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: as above.
    unsafe { expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_CONTIG), Status::Ok) };
    assert_eq!((v.buf, v.len, v.obj), (bytes.as_mut_ptr().cast(), 5, o.exporter));
    release(&mut v);
    assert_eq!(c.releases.get(), 1);
    assert_eq!(c.internal_seen.get(), c.internal_set.get());
    release(&mut v);
    assert_eq!(c.releases.get(), 1);
}

#[test]
fn custom_getbuffer_failures() {
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let mut v = poisoned();

    // A status without a message: pybuf writes one naming it.
    let c = Custom::new(Behaviour::FailSilently, d);
    provoke();
    // SAFETY: a live object and a writable view.
    let rc = unsafe { pybuf_object_get_buffer(&c.object(&CUSTOM), &mut v, PYBUF_FULL) };
    expect_refused(rc, Status::BufferRequest, "the exporter's getbuffer failed with PYBUF_STATUS_BUFFER_REQUEST");
    assert!(same_bytes(&v, &poisoned()));
    assert_eq!((c.gets.get(), c.releases.get()), (1, 0));
    // Not the message of an earlier, unrelated failure with the same status (regression:
    // the thread's last message was taken as the getbuffer's own).
    let no_procs = pybuf_object { procs: null(), exporter: null_mut() };
    // SAFETY: an object without procs is refused before anything is read through it.
    let rc = unsafe { pybuf_object_get_buffer(&no_procs, &mut v, PYBUF_FULL) };
    expect_refused(rc, Status::BufferRequest, "obj has no procs: it does not support the buffer protocol");
    // SAFETY: as above.
    let rc = unsafe { pybuf_object_get_buffer(&c.object(&CUSTOM), &mut v, PYBUF_FULL) };
    expect_refused(rc, Status::BufferRequest, "the exporter's getbuffer failed with PYBUF_STATUS_BUFFER_REQUEST");
    assert_eq!((c.gets.get(), c.releases.get()), (2, 0));

    // A value that is no status.
    let c = Custom::new(Behaviour::FailPositive, d);
    // SAFETY: as above.
    let rc = unsafe { pybuf_object_get_buffer(&c.object(&CUSTOM), &mut v, PYBUF_FULL) };
    expect_refused(rc, Status::BufferRequest, "the exporter's getbuffer failed with status 7");
    assert!(same_bytes(&v, &poisoned()));
    assert_eq!((c.gets.get(), c.releases.get()), (1, 0));

    // A malformed view is released again (exactly once) and refused.
    let c = Custom::new(Behaviour::Malformed, d);
    // SAFETY: as above.
    let rc = unsafe { pybuf_object_get_buffer(&c.object(&CUSTOM), &mut v, PYBUF_FULL) };
    expect_refused(rc, Status::BufferRequest, "the exporter filled a malformed view: shape[1] = -4 is negative");
    assert_eq!((c.gets.get(), c.releases.get()), (1, 1));
    assert_eq!(c.internal_seen.get(), c.cookie());
    // The view is marked released: releasing it again does nothing.
    let refused = v;
    release(&mut v);
    assert!(same_bytes(&v, &refused));
    assert_eq!(c.releases.get(), 1);
    // ... and with no releasebuffer, only refused.
    let c = Custom::new(Behaviour::Malformed, d);
    // SAFETY: as above.
    let rc = unsafe { pybuf_object_get_buffer(&c.object(&CUSTOM_NO_RELEASE), &mut v, PYBUF_FULL) };
    expect_refused(rc, Status::BufferRequest, "malformed view");
    assert_eq!((c.gets.get(), c.releases.get()), (1, 0));

    // The request flags are checked before the exporter is asked.
    let c = Custom::new(Behaviour::FillView, d);
    let mut v = poisoned();
    // SAFETY: as above.
    let rc = unsafe { pybuf_object_get_buffer(&c.object(&CUSTOM), &mut v, 0x1000) };
    expect_refused(rc, Status::InvalidArgument, "0x1000");
    assert!(same_bytes(&v, &poisoned()));
    assert_eq!(c.gets.get(), 0);
}

/// Regression (issue 12, defect 4): two levels of custom exporters in front of a built-in
/// one, the outer without releasebuffer. Releasing the view must release every level: the
/// inner releasebuffer runs once, the built-in export is given back (so replace works
/// again) and the owner runs when the exporter is freed.
#[test]
fn two_levels_of_delegation_give_back_the_export() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let e = new_exporter(&d, &owner);
    for inner_procs in [&CUSTOM, &CUSTOM_NO_RELEASE] {
        for outer_procs in [&CUSTOM_NO_RELEASE, &CUSTOM] {
            let mut inner = Custom::new(Behaviour::Delegate, d);
            inner.delegate = e;
            let mut outer = Custom::new(Behaviour::Object, d);
            outer.inner = inner.object(inner_procs);
            let o = outer.object(outer_procs);
            let mut v = poisoned();
            // SAFETY: live objects and a writable view.
            unsafe { expect_status(pybuf_object_get_buffer(&o, &mut v, PYBUF_FULL), Status::Ok) };
            assert_eq!(exports(e), 1);
            assert_eq!(array(v.shape, 2), Some(vec![3, 4]));
            release(&mut v);
            let with_release = |p: &pybuf_procs| usize::from(p.releasebuffer.is_some());
            assert_eq!(inner.releases.get(), with_release(inner_procs), "the inner releasebuffer runs once");
            assert_eq!(outer.releases.get(), with_release(outer_procs));
            assert_eq!(exports(e), 0, "the built-in export is given back");
            // SAFETY: a live exporter and description.
            unsafe { expect_status(pybuf_exporter_replace(e, &d), Status::Ok) };
            release(&mut v);
            assert_eq!(inner.releases.get(), with_release(inner_procs), "exactly once");
        }
    }
    // Three levels deep, too.
    let mut inner = Custom::new(Behaviour::Delegate, d);
    inner.delegate = e;
    let mut middle = Custom::new(Behaviour::Object, d);
    middle.inner = inner.object(&CUSTOM);
    let mut outer = Custom::new(Behaviour::Object, d);
    outer.inner = middle.object(&CUSTOM_NO_RELEASE);
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: as above.
    unsafe { expect_status(pybuf_object_get_buffer(&outer.object(&CUSTOM_NO_RELEASE), &mut v, PYBUF_RECORDS_RO), Status::Ok) };
    assert_eq!(exports(e), 1);
    release(&mut v);
    assert_eq!((inner.releases.get(), exports(e)), (1, 0));
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 1, "the owner runs once, when the exporter is freed");
}

/// Regression (issue 12, defect 5): a malformed view from a custom exporter that filled it
/// through a built-in exporter is refused and given back, with or without releasebuffer;
/// and a getbuffer that fills and then fails has its view given back too.
#[test]
fn refused_views_give_back_their_export() {
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(12);
    let shape = [3isize, 4];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"d"), &shape, None);
    let e = new_exporter(&d, &owner);
    let cases = [
        (After::ItemsizeZero, Status::BufferRequest, "malformed view: itemsize = 0 is not positive"),
        (After::Ndim70, Status::BufferRequest, "malformed view: ndim = 70 is not in 0..=64"),
        (After::Fail, Status::ShapeMismatch, "the exporter's getbuffer failed with PYBUF_STATUS_SHAPE_MISMATCH"),
    ];
    for (after, status, text) in cases {
        for procs in [&CUSTOM_NO_RELEASE, &CUSTOM] {
            let mut c = Custom::new(Behaviour::Delegate, d);
            c.delegate = e;
            c.after = after;
            let mut v = poisoned();
            for _ in 0..3 {
                // SAFETY: a live object and a writable view.
                let rc = unsafe { pybuf_object_get_buffer(&c.object(procs), &mut v, PYBUF_FULL) };
                expect_refused(rc, status, text);
                assert_eq!(exports(e), 0, "{after:?}: the export is given back");
            }
            // releasebuffer undoes a successful getbuffer (the malformed view), not a failed one.
            let expected = if after == After::Fail || procs.releasebuffer.is_none() { 0 } else { 3 };
            assert_eq!((c.gets.get(), c.releases.get()), (3, expected), "{after:?}");
            // The view is marked released: releasing it again does nothing.
            release(&mut v);
            assert_eq!(c.releases.get(), expected);
            // SAFETY: a live exporter and description.
            unsafe { expect_status(pybuf_exporter_replace(e, &d), Status::Ok) };
        }
    }
    // The same through two levels (the outer one fills through the inner, which delegates).
    let mut inner = Custom::new(Behaviour::Delegate, d);
    inner.delegate = e;
    for after in [After::ItemsizeZero, After::Ndim70, After::Fail] {
        let mut outer = Custom::new(Behaviour::Object, d);
        outer.inner = inner.object(&CUSTOM);
        outer.after = after;
        let before = inner.releases.get();
        let mut v = pybuf_buffer::zeroed();
        // SAFETY: as above.
        let rc = unsafe { pybuf_object_get_buffer(&outer.object(&CUSTOM_NO_RELEASE), &mut v, PYBUF_FULL) };
        assert_ne!(rc, 0);
        assert_eq!(exports(e), 0, "{after:?}");
        assert_eq!(inner.releases.get(), before + 1, "{after:?}: the inner view is released once");
    }
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 1);
}

/// pybuf_fill_view on its own: the view owns copies; release twice is a no-op.
#[test]
fn fill_view_alone() {
    let mut mem = doubles(12);
    let mut shape = [4isize, 3];
    let mut strides = [8isize, 32];
    let d = desc(mem.as_mut_ptr().cast(), 96, Some(c"<d"), &shape, Some(&strides));
    let mut v = poisoned();
    // SAFETY: a live description and a writable view.
    unsafe { expect_status(pybuf_fill_view(&mut v, &d, PYBUF_FULL), Status::Ok) };
    (shape[0], strides[0]) = (99, 99);
    assert_eq!((shape, strides), ([99, 3], [99, 32]));
    assert_eq!((array(v.shape, 2), array(v.strides, 2)), (Some(vec![4, 3]), Some(vec![8, 32])));
    assert_eq!(text(v.format).as_deref(), Some("<d"));
    assert_eq!(v.obj, poisoned().obj);
    // SAFETY: a live view; `out` has 96 writable bytes.
    unsafe {
        assert_eq!(pybuf_is_contiguous(&v, b'F' as c_char), 1);
        let mut out = Guarded::new(96);
        expect_status(pybuf_to_contiguous(out.ptr().cast(), &v, 96, b'F' as c_char), Status::Ok);
        assert_eq!(out.inner(), bytes_of(&mem));
        assert!(out.intact());
    }
    release(&mut v);
    let released = v;
    release(&mut v);
    assert!(same_bytes(&v, &released));
}

// =====================================================================================
// DLPack: view -> tensor

/// An exporter of 12 doubles 0..12, as a 3x4 matrix in Fortran order.
struct Fortran {
    mem: Vec<f64>,
    shape: [isize; 2],
    strides: [isize; 2],
}

impl Fortran {
    fn new() -> Fortran {
        Fortran { mem: doubles(12), shape: [3, 4], strides: [8, 24] }
    }

    fn exporter(&mut self, readonly: bool, owner: &AtomicUsize) -> *mut pybuf_exporter {
        let d = pybuf_exporter_desc {
            readonly: readonly as c_int,
            ..desc(self.mem.as_mut_ptr().cast(), 96, Some(c"d"), &self.shape, Some(&self.strides))
        };
        new_exporter(&d, owner)
    }
}

/// Call a tensor's deleter (made by pybuf or by a test's producer).
fn delete(t: *mut DLManagedTensorVersioned) {
    // SAFETY: the tests pass live tensors, each deleted once.
    unsafe { ((*t).deleter.expect("a deleter"))(t) }
}

fn delete_legacy(t: *mut DLManagedTensor) {
    // SAFETY: as above.
    unsafe { ((*t).deleter.expect("a deleter"))(t) }
}

/// The DLTensor of a live tensor.
fn dl(t: *mut DLManagedTensorVersioned) -> DLTensor {
    // SAFETY: the tests pass live tensors.
    unsafe { (*t).dl_tensor }
}

fn dtype(code: u8, bits: u8) -> DLDataType {
    DLDataType { code, bits, lanes: 1 }
}

#[test]
fn to_dlpack_of_an_exporter_view_holds_an_export() {
    let owner = AtomicUsize::new(0);
    let mut f = Fortran::new();
    let e = f.exporter(false, &owner);
    let mut view = pybuf_buffer::zeroed();
    get(e, &mut view, PYBUF_RECORDS_RO);
    let mut t = null_mut();
    // SAFETY: a live view and a writable out.
    unsafe { expect_status(pybuf_to_dlpack(&view, None, null_mut(), &mut t), Status::Ok) };
    assert!(!t.is_null());
    // SAFETY: a live tensor.
    let (version, flags, deleter, ctx) = unsafe { ((*t).version, (*t).flags, (*t).deleter, (*t).manager_ctx) };
    assert_eq!(version, DLPackVersion { major: 1, minor: 1 });
    assert_eq!(flags, 0);
    assert!(deleter.is_some() && !ctx.is_null());
    let x = dl(t);
    assert_eq!(
        (x.data, x.byte_offset, x.device),
        (f.mem.as_mut_ptr().cast(), 0, DLDevice { device_type: kDLCPU, device_id: 0 })
    );
    assert_eq!((x.ndim, x.dtype), (2, dtype(kDLFloat, 64)));
    assert_eq!(array64(x.shape, 2), Some(vec![3, 4]));
    assert_eq!(array64(x.strides, 2), Some(vec![1, 3]), "bytes 8 and 24 are elements 1 and 3");
    // The tensor holds its own export: the view and the handle may go first.
    assert_eq!(exports(e), 2);
    release(&mut view);
    assert_eq!(exports(e), 1);
    // SAFETY: the one reference.
    unsafe { pybuf_exporter_free(e) };
    assert_eq!(count(&owner), 0);
    assert_eq!(array64(dl(t).shape, 2), Some(vec![3, 4]), "the tensor's arrays are its own");
    delete(t);
    assert_eq!(count(&owner), 1, "the last holder of the memory was the tensor");
}

#[test]
fn to_dlpack_of_a_read_only_view() {
    let owner = AtomicUsize::new(0);
    let mut f = Fortran::new();
    let e = f.exporter(true, &owner);
    let mut view = pybuf_buffer::zeroed();
    get(e, &mut view, PYBUF_FULL_RO);
    let mut t = null_mut();
    let mut legacy: *mut DLManagedTensor = sentinel();
    let tensor_owner = AtomicUsize::new(0);
    // SAFETY: a live view and writable outs.
    unsafe {
        expect_status(pybuf_to_dlpack(&view, Some(count_owner), user(&tensor_owner), &mut t), Status::Ok);
        assert_eq!((*t).flags & DLPACK_FLAG_BITMASK_READ_ONLY, DLPACK_FLAG_BITMASK_READ_ONLY);
        // A legacy tensor cannot say "read-only": refused, as NumPy refuses it.
        let rc = pybuf_to_dlpack_legacy(&view, Some(count_owner), user(&tensor_owner), &mut legacy);
        expect_refused(rc, Status::ReadOnly, "legacy DLManagedTensor cannot say so");
        assert_eq!(legacy, sentinel());
        pybuf_exporter_free(e);
    }
    release(&mut view);
    assert_eq!(count(&owner), 0);
    delete(t);
    assert_eq!((count(&owner), count(&tensor_owner)), (1, 1), "the export, then the tensor's owner");
}

#[test]
fn to_dlpack_legacy() {
    let owner = AtomicUsize::new(0);
    let mut f = Fortran::new();
    let e = f.exporter(false, &owner);
    let mut view = pybuf_buffer::zeroed();
    let mut t: *mut DLManagedTensor = sentinel();
    // Without PYBUF_FORMAT the view says "B" (NULL) with itemsize 8: refused.
    get(e, &mut view, PYBUF_STRIDED);
    // SAFETY: a live view and a writable out.
    unsafe {
        let rc = pybuf_to_dlpack_legacy(&view, None, null_mut(), &mut t);
        expect_refused(rc, Status::InvalidItemsize, "ask the exporter for PYBUF_FORMAT");
    }
    assert_eq!(t, sentinel());
    release(&mut view);
    get(e, &mut view, PYBUF_RECORDS);
    // SAFETY: as above; the one reference.
    unsafe {
        pybuf_exporter_free(e);
        expect_status(pybuf_to_dlpack_legacy(&view, None, null_mut(), &mut t), Status::Ok);
    }
    release(&mut view);
    // SAFETY: a live tensor.
    let x = unsafe { (*t).dl_tensor };
    assert_eq!((x.data, x.dtype, x.ndim), (f.mem.as_mut_ptr().cast(), dtype(kDLFloat, 64), 2));
    assert_eq!((array64(x.shape, 2), array64(x.strides, 2)), (Some(vec![3, 4]), Some(vec![1, 3])));
    assert_eq!(count(&owner), 0);
    delete_legacy(t);
    assert_eq!(count(&owner), 1);
}

/// A view pybuf did not fill from an exporter: the owner callback says when the tensor
/// lets go; a deleter given NULL does nothing.
#[test]
fn to_dlpack_of_a_foreign_view_takes_an_owner() {
    let mut bytes = [1u8, 2, 3, 4, 5, 6];
    let owner = AtomicUsize::new(0);
    let mut view = pybuf_buffer::zeroed();
    let vp = &raw mut view;
    let (mut t, mut legacy) = (null_mut(), null_mut());
    // SAFETY: 6 bytes; `vp` is the view's one pointer (its shape points into it).
    unsafe {
        expect_status(pybuf_fill_info(vp, null_mut(), bytes.as_mut_ptr().cast(), 6, 0, PYBUF_FULL_RO), Status::Ok);
        expect_status(pybuf_to_dlpack(vp, Some(count_owner), user(&owner), &mut t), Status::Ok);
        expect_status(pybuf_to_dlpack_legacy(vp, Some(count_owner), user(&owner), &mut legacy), Status::Ok);
    }
    release(vp);
    let x = dl(t);
    assert_eq!((x.ndim, x.dtype, x.data), (1, dtype(kDLUInt, 8), bytes.as_mut_ptr().cast()));
    assert_eq!((array64(x.shape, 1), array64(x.strides, 1)), (Some(vec![6]), Some(vec![1])));
    assert_eq!(count(&owner), 0);
    // SAFETY: a deleter of pybuf's, given NULL.
    unsafe {
        ((*t).deleter.unwrap())(null_mut());
        ((*legacy).deleter.unwrap())(null_mut());
    }
    assert_eq!(count(&owner), 0);
    delete(t);
    assert_eq!(count(&owner), 1);
    delete_legacy(legacy);
    assert_eq!(count(&owner), 2);
}

/// Every native scalar format maps to its DLPack dtype, and back to its canonical format.
#[test]
fn to_dlpack_dtypes() {
    let long = std::mem::size_of::<std::ffi::c_long>() as u8 * 8;
    let table: [(&CStr, u8, u8, &str); 18] = [
        (c"?", kDLBool, 8, "?"),
        (c"b", kDLInt, 8, "b"),
        (c"h", kDLInt, 16, "h"),
        (c"i", kDLInt, 32, "i"),
        (c"l", kDLInt, long, if long == 64 { "q" } else { "i" }),
        (c"q", kDLInt, 64, "q"),
        (c"n", kDLInt, 64, "q"),
        (c"B", kDLUInt, 8, "B"),
        (c"H", kDLUInt, 16, "H"),
        (c"I", kDLUInt, 32, "I"),
        (c"Q", kDLUInt, 64, "Q"),
        (c"N", kDLUInt, 64, "Q"),
        (c"e", kDLFloat, 16, "e"),
        (c"f", kDLFloat, 32, "f"),
        (c"=d", kDLFloat, 64, "d"),
        (c"d", kDLFloat, 64, "d"),
        (c"Zf", kDLComplex, 64, "Zf"),
        (c"Zd", kDLComplex, 128, "Zd"),
    ];
    for (format, code, bits, back) in table {
        let itemsize = bits as isize / 8;
        let mut a = Array::c(&[3], itemsize, Some(format.to_str().unwrap()));
        let v = a.view();
        let (mut t, mut view) = (null_mut(), pybuf_buffer::zeroed());
        // SAFETY: a valid hand-made view; the tensor is deleted by the view's release.
        unsafe {
            expect_status(pybuf_to_dlpack(&v, None, null_mut(), &mut t), Status::Ok);
            assert_eq!(dl(t).dtype, dtype(code, bits), "{format:?}");
            assert_eq!(array64(dl(t).strides, 1), Some(vec![1]));
            expect_status(pybuf_from_dlpack(&mut view, t, PYBUF_FULL), Status::Ok);
        }
        assert_eq!(text(view.format).as_deref(), Some(back), "{format:?}");
        assert_eq!((view.buf, view.itemsize, view.len), (a.data.as_mut_ptr().cast(), itemsize, 3 * itemsize));
        release(&mut view);
    }
    // 0-d: the tensor has no shape and no strides.
    let mut a = Array::c(&[], 4, Some("f"));
    let v = a.view();
    let mut t = null_mut();
    // SAFETY: a valid view.
    unsafe { expect_status(pybuf_to_dlpack(&v, None, null_mut(), &mut t), Status::Ok) };
    let x = dl(t);
    assert_eq!((x.ndim, x.shape, x.strides, x.dtype), (0, null_mut(), null_mut(), dtype(kDLFloat, 32)));
    delete(t);
}

/// Hand-made views that pybuf_to_dlpack refuses, each with its reason: nothing written,
/// no owner called.
#[test]
fn to_dlpack_refusals() {
    let owner = AtomicUsize::new(0);
    let mut a = Array::c(&[2, 2], 8, Some("d"));
    let good = a.view();
    let big = if cfg!(target_endian = "little") { ">q" } else { "<q" };
    let formats: [(&str, &str); 8] = [
        ("T{i:a:i:b:}", "is a struct"),
        ("2i", "holds 2 values of 'i'"),
        ("ii", "has 2 fields"),
        (big, "DLPack holds values in the native byte order"),
        ("8s", "holds bytes"),
        ("2w", "holds text"),
        ("P", "pointer"),
        ("g", "long double"),
    ];
    let mut t: *mut DLManagedTensorVersioned = sentinel();
    let mut legacy: *mut DLManagedTensor = sentinel();
    let odd = [12isize, 4];
    let subs = [0isize, -1];
    let bad_ndim = pybuf_buffer { ndim: -1, ..good };
    // SAFETY: the views' arrays and formats are alive; outs are writable.
    unsafe {
        for (format, reason) in formats {
            let format = std::ffi::CString::new(format).unwrap();
            let size = pybuf::ffi::format::pybuf_size_from_format(format.as_ptr());
            if size <= 0 {
                continue; // no such type on this platform (long double may be double)
            }
            let v = pybuf_buffer {
                format: format.as_ptr().cast_mut(),
                itemsize: size,
                len: 4 * size,
                strides: null_mut(),
                ..good
            };
            let rc = pybuf_to_dlpack(&v, Some(count_owner), user(&owner), &mut t);
            if format.as_bytes() == b"g" && size == 8 {
                expect_status(rc, Status::Ok); // long double is double here
                delete(t);
                t = sentinel();
                continue;
            }
            expect_refused(rc, Status::Unrepresentable, reason);
            expect_message(format.to_str().unwrap());
            expect_refused(
                pybuf_to_dlpack_legacy(&v, Some(count_owner), user(&owner), &mut legacy),
                Status::Unrepresentable,
                reason,
            );
        }
        let v = pybuf_buffer { strides: odd.as_ptr().cast_mut(), ..good };
        expect_status(pybuf_to_dlpack(&v, Some(count_owner), user(&owner), &mut t), Status::Unrepresentable);
        assert_eq!(last().1, "strides[0] = 12 is not a multiple of itemsize 8: DLPack strides count elements");
        let v = pybuf_buffer { suboffsets: subs.as_ptr().cast_mut(), ..good };
        let rc = pybuf_to_dlpack(&v, Some(count_owner), user(&owner), &mut t);
        expect_refused(
            rc,
            Status::Unrepresentable,
            "suboffsets[0] = 0: DLPack cannot describe an indirect (PIL-style) dimension",
        );
        let v = pybuf_buffer { format: c"i".as_ptr().cast_mut(), ..good };
        expect_refused(
            pybuf_to_dlpack(&v, None, null_mut(), &mut t),
            Status::InvalidItemsize,
            "itemsize = 8 but format \"i\" has size 4",
        );
        let v = pybuf_buffer { format: c"T{".as_ptr().cast_mut(), ..good };
        expect_status(pybuf_to_dlpack(&v, None, null_mut(), &mut t), Status::InvalidFormat);
        expect_refused(pybuf_to_dlpack(&bad_ndim, None, null_mut(), &mut t), Status::InvalidNdim, "ndim = -1");
        expect_refused(
            pybuf_to_dlpack(null(), Some(count_owner), user(&owner), &mut t),
            Status::NullPointer,
            "view is NULL",
        );
        expect_refused(
            pybuf_to_dlpack(&good, Some(count_owner), user(&owner), null_mut()),
            Status::NullPointer,
            "out is NULL",
        );
        expect_refused(
            pybuf_to_dlpack_legacy(null(), None, null_mut(), &mut legacy),
            Status::NullPointer,
            "view is NULL",
        );
        expect_refused(pybuf_to_dlpack_legacy(&good, None, null_mut(), null_mut()), Status::NullPointer, "out is NULL");
    }
    assert_eq!((t, legacy), (sentinel(), sentinel()), "never written on failure");
    assert_eq!(count(&owner), 0, "nor the owner called");
}

// =====================================================================================
// DLPack: tensor -> view

/// The memory, shape and strides of a producer's tensor: 24 int32 cells as 2x3x4.
struct Cells {
    data: Vec<i32>,
    shape: Vec<i64>,
    strides: Vec<i64>,
}

impl Cells {
    fn new() -> Cells {
        Cells { data: (0..24).collect(), shape: vec![2, 3, 4], strides: vec![12, 4, 1] }
    }

    fn dl(&mut self) -> DLTensor {
        DLTensor {
            data: self.data.as_mut_ptr().cast(),
            device: DLDevice { device_type: kDLCPU, device_id: 0 },
            ndim: 3,
            dtype: dtype(kDLInt, 32),
            shape: self.shape.as_mut_ptr(),
            strides: self.strides.as_mut_ptr(),
            byte_offset: 0,
        }
    }
}

/// A producer's versioned tensor, boxed as a producer allocates it; its deleter frees the
/// box and counts its call in the AtomicUsize at `manager_ctx`.
fn producer_tensor(dl_tensor: DLTensor, flags: u64, deleted: &AtomicUsize) -> *mut DLManagedTensorVersioned {
    Box::into_raw(Box::new(DLManagedTensorVersioned {
        version: DLPackVersion { major: 1, minor: 0 },
        manager_ctx: user(deleted),
        deleter: Some(producer_delete),
        flags,
        dl_tensor,
    }))
}

unsafe extern "C" fn producer_delete(t: *mut DLManagedTensorVersioned) {
    // SAFETY: a box from `producer_tensor`, deleted once (a second call is a double free
    // that Miri reports).
    let t = unsafe { Box::from_raw(t) };
    // SAFETY: the test's counter outlives the tensor.
    unsafe { &*t.manager_ctx.cast::<AtomicUsize>() }.fetch_add(1, SeqCst);
}

fn producer_legacy(dl_tensor: DLTensor, deleted: &AtomicUsize) -> *mut DLManagedTensor {
    Box::into_raw(Box::new(DLManagedTensor {
        dl_tensor,
        manager_ctx: user(deleted),
        deleter: Some(producer_delete_legacy),
    }))
}

unsafe extern "C" fn producer_delete_legacy(t: *mut DLManagedTensor) {
    // SAFETY: as in `producer_delete`, for `producer_legacy`.
    let t = unsafe { Box::from_raw(t) };
    // SAFETY: as above.
    unsafe { &*t.manager_ctx.cast::<AtomicUsize>() }.fetch_add(1, SeqCst);
}

/// Fill `view` from `t` for `flags`.
fn import(view: &mut pybuf_buffer, t: *mut DLManagedTensorVersioned, flags: c_int) -> c_int {
    // SAFETY: the tests pass live tensors and writable views.
    unsafe { pybuf_from_dlpack(view, t, flags) }
}

/// The element at `index` of a live view, as an i32.
fn cell(v: &pybuf_buffer, index: &[isize]) -> i32 {
    // SAFETY: a live view of i32 cells, an in-range index of ndim entries.
    unsafe { *pybuf_get_pointer(v, index.as_ptr()).cast::<i32>() }
}

#[test]
fn from_dlpack_imports_and_release_calls_the_deleter() {
    let deleted = AtomicUsize::new(0);
    let mut cells = Cells::new();
    let t = producer_tensor(cells.dl(), 0, &deleted);
    let mut view = poisoned();
    expect_status(import(&mut view, t, PYBUF_FULL), Status::Ok);
    assert_eq!(
        (view.buf, view.len, view.itemsize, view.ndim, view.readonly),
        (cells.data.as_mut_ptr().cast(), 96, 4, 3, 0)
    );
    assert_eq!(view.obj, poisoned().obj, "obj is left as it was");
    assert_eq!(text(view.format).as_deref(), Some("i"));
    assert_eq!((array(view.shape, 3), array(view.strides, 3)), (Some(vec![2, 3, 4]), Some(vec![48, 16, 4])));
    assert!(view.suboffsets.is_null());
    // SAFETY: a live view.
    assert_eq!(unsafe { pybuf_is_contiguous(&view, b'C' as c_char) }, 1);
    // The same memory, both ways.
    assert_eq!(cell(&view, &[1, 2, 3]), 23);
    // SAFETY: an in-range element of the live view.
    unsafe { *pybuf_get_pointer(&view, [1isize, 2, 3].as_ptr()).cast::<i32>() = -5 };
    assert_eq!(cells.data[23], -5);
    // A copy of the view cannot release it.
    let mut copy = Box::new(view);
    release_refused(&mut copy, "is a copy");
    assert_eq!(count(&deleted), 0);
    release(&mut view);
    assert_eq!(count(&deleted), 1, "the view owned the tensor");
    release(&mut view);
    release_refused(&mut copy, "not filled by pybuf");
    assert_eq!(count(&deleted), 1);
}

#[test]
fn from_dlpack_strides_offsets_and_requests() {
    let deleted = AtomicUsize::new(0);
    let mut cells = Cells::new();
    // Rows backwards from the last row: a 3x2 of a 4-wide matrix, from element 9.
    let (mut shape, mut reversed) = ([3i64, 2], [-4i64, 1]);
    let tensor = DLTensor {
        ndim: 2,
        shape: shape.as_mut_ptr(),
        strides: reversed.as_mut_ptr(),
        byte_offset: 9 * 4,
        ..cells.dl()
    };
    let t = producer_tensor(tensor, 0, &deleted);
    let mut view = poisoned();
    expect_refused(import(&mut view, t, PYBUF_C_CONTIGUOUS), Status::BufferRequest, "PYBUF_C_CONTIGUOUS");
    assert!(same_bytes(&view, &poisoned()));
    assert_eq!(count(&deleted), 0, "refused: the tensor is still the caller's");
    expect_status(import(&mut view, t, PYBUF_STRIDED_RO), Status::Ok);
    assert_eq!(view.buf, cells.data[9..].as_mut_ptr().cast());
    assert_eq!(array(view.strides, 2), Some(vec![-16, 4]));
    assert!(view.format.is_null(), "not requested");
    assert_eq!((cell(&view, &[0, 1]), cell(&view, &[2, 0]), cell(&view, &[2, 1])), (10, 1, 2));
    release(&mut view);
    assert_eq!(count(&deleted), 1);

    // NULL strides: C-contiguous, as before DLPack 1.0.
    let t = producer_tensor(DLTensor { strides: null_mut(), ..cells.dl() }, 0, &deleted);
    expect_status(import(&mut view, t, PYBUF_C_CONTIGUOUS), Status::Ok);
    assert_eq!(array(view.strides, 3), Some(vec![48, 16, 4]));
    release(&mut view);
    assert_eq!(count(&deleted), 2);

    // 0-d.
    let scalar =
        DLTensor { ndim: 0, shape: null_mut(), strides: null_mut(), dtype: dtype(kDLComplex, 64), ..cells.dl() };
    let t = producer_tensor(scalar, 0, &deleted);
    expect_status(import(&mut view, t, PYBUF_FULL_RO), Status::Ok);
    assert_eq!((view.ndim, view.len, text(view.format).as_deref()), (0, 8, Some("Zf")));
    assert!(view.shape.is_null() && view.strides.is_null());
    release(&mut view);
    assert_eq!(count(&deleted), 3);

    // Host memory of GPU runtimes is read like CPU memory; a tensor without a deleter
    // is released without calling one.
    for device_type in [kDLCUDAHost, kDLROCMHost, kDLCUDAManaged] {
        let host = DLTensor { device: DLDevice { device_type, device_id: 3 }, ..cells.dl() };
        let t = producer_tensor(host, 0, &deleted);
        expect_status(import(&mut view, t, PYBUF_RECORDS_RO), Status::Ok);
        release(&mut view);
    }
    assert_eq!(count(&deleted), 6);
    let mut bare = DLManagedTensorVersioned {
        version: DLPackVersion { major: 1, minor: 1 },
        manager_ctx: null_mut(),
        deleter: None,
        flags: 0,
        dl_tensor: cells.dl(),
    };
    expect_status(import(&mut view, &mut bare, PYBUF_RECORDS_RO), Status::Ok);
    release(&mut view);
}

#[test]
fn from_dlpack_read_only() {
    let deleted = AtomicUsize::new(0);
    let mut cells = Cells::new();
    let t = producer_tensor(cells.dl(), DLPACK_FLAG_BITMASK_READ_ONLY, &deleted);
    let mut view = poisoned();
    expect_refused(import(&mut view, t, PYBUF_FULL), Status::ReadOnly, "the tensor is read-only");
    assert!(same_bytes(&view, &poisoned()));
    expect_status(import(&mut view, t, PYBUF_FULL_RO), Status::Ok);
    assert_eq!(view.readonly, 1);
    release(&mut view);
    assert_eq!(count(&deleted), 1);
}

#[test]
fn from_dlpack_refusals() {
    let deleted = AtomicUsize::new(0);
    let mut cells = Cells::new();
    let negative = [2i64, -3, 4];
    let huge = [i64::MAX, 2, 1];
    let good = cells.dl();
    let with = |f: &dyn Fn(&mut DLTensor)| {
        let mut x = good;
        f(&mut x);
        x
    };
    let refusals: Vec<(DLTensor, Status, &str)> = vec![
        (
            with(&|x| x.device = DLDevice { device_type: kDLCUDA, device_id: 1 }),
            Status::UnsupportedDevice,
            "device (2, 1) is kDLCUDA",
        ),
        (with(&|x| x.dtype = DLDataType { code: 4, bits: 16, lanes: 1 }), Status::Unrepresentable, "kDLBfloat"),
        (with(&|x| x.dtype = DLDataType { code: kDLFloat, bits: 32, lanes: 4 }), Status::Unrepresentable, "lanes != 1"),
        (with(&|x| x.dtype = DLDataType { code: 7, bits: 8, lanes: 1 }), Status::Unrepresentable, "8-bit float"),
        (with(&|x| x.dtype = dtype(kDLFloat, 128)), Status::Unrepresentable, "bits 128"),
        (with(&|x| x.dtype = dtype(kDLOpaqueHandle, 64)), Status::Unrepresentable, "kDLOpaqueHandle"),
        (with(&|x| x.shape = negative.as_ptr().cast_mut()), Status::InvalidShape, "shape[1] = -3 is negative"),
        (with(&|x| x.shape = huge.as_ptr().cast_mut()), Status::Overflow, "overflow"),
        (with(&|x| x.ndim = 65), Status::InvalidNdim, "ndim = 65"),
        (with(&|x| x.ndim = -1), Status::InvalidNdim, "ndim = -1"),
        (with(&|x| x.shape = null_mut()), Status::InvalidShape, "shape is NULL with ndim = 3"),
        (with(&|x| x.data = null_mut()), Status::NullPointer, "data is NULL"),
        (with(&|x| x.byte_offset = u64::MAX), Status::Overflow, "byte_offset = 18446744073709551615"),
    ];
    for (x, status, message) in refusals {
        let t = producer_tensor(x, 0, &deleted);
        let mut view = poisoned();
        expect_refused(import(&mut view, t, PYBUF_FULL_RO), status, message);
        assert!(same_bytes(&view, &poisoned()), "{message}");
        assert_eq!(count(&deleted), 0, "a refused tensor stays the caller's");
        let l = producer_legacy(x, &deleted);
        // SAFETY: a live tensor and a writable view.
        unsafe { expect_refused(pybuf_from_dlpack_legacy(&mut view, l, PYBUF_FULL_RO), status, message) };
        assert!(same_bytes(&view, &poisoned()));
        delete(t);
        delete_legacy(l);
        assert_eq!(count(&deleted), 2);
        deleted.store(0, SeqCst);
    }
    // Another major version: refused, the tensor is still the caller's.
    let t = producer_tensor(good, 0, &deleted);
    // SAFETY: a live tensor.
    unsafe { (*t).version = DLPackVersion { major: 2, minor: 0 } };
    let mut view = poisoned();
    expect_refused(import(&mut view, t, PYBUF_FULL_RO), Status::UnsupportedVersion, "DLPack version 2.0");
    // NULL arguments.
    // SAFETY: NULL or live arguments.
    unsafe {
        expect_refused(pybuf_from_dlpack(null_mut(), t, PYBUF_FULL_RO), Status::NullPointer, "view is NULL");
        expect_refused(pybuf_from_dlpack(&mut view, null_mut(), PYBUF_FULL_RO), Status::NullPointer, "tensor is NULL");
        expect_refused(
            pybuf_from_dlpack_legacy(null_mut(), null_mut(), PYBUF_FULL_RO),
            Status::NullPointer,
            "view is NULL",
        );
        expect_refused(
            pybuf_from_dlpack_legacy(&mut view, null_mut(), PYBUF_FULL_RO),
            Status::NullPointer,
            "tensor is NULL",
        );
    }
    assert!(same_bytes(&view, &poisoned()));
    assert_eq!(count(&deleted), 0);
    delete(t);
    assert_eq!(count(&deleted), 1);
}

#[test]
fn from_dlpack_legacy() {
    let deleted = AtomicUsize::new(0);
    let mut cells = Cells::new();
    let t = producer_legacy(cells.dl(), &deleted);
    let mut view = pybuf_buffer::zeroed();
    // SAFETY: a live tensor and a writable view.
    unsafe { expect_status(pybuf_from_dlpack_legacy(&mut view, t, PYBUF_FULL), Status::Ok) };
    assert_eq!((view.readonly, view.len, view.buf), (0, 96, cells.data.as_mut_ptr().cast()));
    assert_eq!(cell(&view, &[1, 0, 2]), 14);
    release(&mut view);
    assert_eq!(count(&deleted), 1);
}

/// tensor -> view -> tensor: the new tensor holds the first, whose deleter runs when the
/// last of the view and the new tensor goes, in either order.
#[test]
fn round_trips_hold_the_original_tensor() {
    let mut cells = Cells::new();
    for view_first in [true, false] {
        let deleted = AtomicUsize::new(0);
        let t = producer_tensor(cells.dl(), DLPACK_FLAG_BITMASK_READ_ONLY, &deleted);
        let mut view = pybuf_buffer::zeroed();
        expect_status(import(&mut view, t, PYBUF_RECORDS_RO), Status::Ok);
        let mut again = null_mut();
        // SAFETY: a live view and a writable out.
        unsafe { expect_status(pybuf_to_dlpack(&view, None, null_mut(), &mut again), Status::Ok) };
        let x = dl(again);
        assert_eq!((x.data, x.dtype), (cells.data.as_mut_ptr().cast(), dtype(kDLInt, 32)));
        assert_eq!(array64(x.strides, 3), Some(vec![12, 4, 1]));
        // SAFETY: a live tensor.
        assert_eq!(unsafe { (*again).flags }, DLPACK_FLAG_BITMASK_READ_ONLY);
        if view_first {
            release(&mut view);
            assert_eq!(count(&deleted), 0, "the tensor made from the view still holds the imported one");
            delete(again);
        } else {
            delete(again);
            assert_eq!(count(&deleted), 0, "the view still holds the imported tensor");
            release(&mut view);
        }
        assert_eq!(count(&deleted), 1, "view first: {view_first}");
    }

    // A chain: tensor -> view -> legacy tensor and tensor -> view -> ...; the original
    // goes with the last holder.
    let deleted = AtomicUsize::new(0);
    let t = producer_tensor(cells.dl(), 0, &deleted);
    let (mut v1, mut v2) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    let (mut t2, mut legacy) = (null_mut(), null_mut());
    expect_status(import(&mut v1, t, PYBUF_FULL), Status::Ok);
    // SAFETY: live views and writable outs.
    unsafe {
        expect_status(pybuf_to_dlpack(&v1, None, null_mut(), &mut t2), Status::Ok);
        expect_status(pybuf_to_dlpack_legacy(&v1, None, null_mut(), &mut legacy), Status::Ok);
    }
    release(&mut v1);
    expect_status(import(&mut v2, t2, PYBUF_FULL), Status::Ok);
    assert_eq!(cell(&v2, &[1, 1, 1]), 17);
    release(&mut v2);
    assert_eq!(count(&deleted), 0, "the legacy tensor still holds it");
    delete_legacy(legacy);
    assert_eq!(count(&deleted), 1);

    // Exporter -> tensor -> view: the exporter's owner runs when that view goes.
    let owner = AtomicUsize::new(0);
    let mut f = Fortran::new();
    let e = f.exporter(false, &owner);
    let mut view = pybuf_buffer::zeroed();
    get(e, &mut view, PYBUF_RECORDS);
    let mut t = null_mut();
    // SAFETY: a live view, the one reference.
    unsafe {
        expect_status(pybuf_to_dlpack(&view, None, null_mut(), &mut t), Status::Ok);
        pybuf_exporter_free(e);
    }
    release(&mut view);
    let mut back = pybuf_buffer::zeroed();
    expect_status(import(&mut back, t, PYBUF_FULL), Status::Ok);
    assert_eq!((text(back.format).as_deref(), array(back.strides, 2)), (Some("d"), Some(vec![8, 24])));
    // SAFETY: an in-range element of the live view of doubles.
    unsafe { *pybuf_get_pointer(&back, [2isize, 3].as_ptr()).cast::<f64>() = 42.0 };
    assert_eq!(f.mem[11], 42.0);
    assert_eq!(count(&owner), 0);
    release(&mut back);
    assert_eq!(count(&owner), 1, "the tensor's deleter, then the exporter's owner");
}

/// A view derived from an exporter's view (pybuf_index) still holds the exporter, and so
/// does a tensor made from it.
#[test]
fn derived_views_keep_the_exporter() {
    let owner = AtomicUsize::new(0);
    let mut f = Fortran::new();
    let e = f.exporter(false, &owner);
    let (mut view, mut row) = (pybuf_buffer::zeroed(), pybuf_buffer::zeroed());
    get(e, &mut view, PYBUF_RECORDS);
    let mut t = null_mut();
    // SAFETY: live views, writable outs, the one reference.
    unsafe {
        pybuf_exporter_free(e);
        expect_status(pybuf_index(&mut row, &view, 0, 1), Status::Ok);
        release(&mut view);
        expect_status(pybuf_to_dlpack(&row, None, null_mut(), &mut t), Status::Ok);
    }
    release(&mut row);
    assert_eq!(count(&owner), 0);
    let x = dl(t);
    assert_eq!((x.ndim, x.data), (1, f.mem[1..].as_mut_ptr().cast()));
    assert_eq!((array64(x.shape, 1), array64(x.strides, 1)), (Some(vec![4]), Some(vec![3])));
    delete(t);
    assert_eq!(count(&owner), 1);
}

// =====================================================================================
// pybuf_is_contiguous, pybuf_get_pointer

#[test]
fn is_contiguous_follows_cpython() {
    let mut rng = Rng::new(2);
    for _ in 0..cases(300) {
        let shape = random_shape(&mut rng);
        let itemsize = [1, 2, 4, 8][rng.below(4)];
        let (strides, offset, size) = random_layout(&mut rng, &shape, itemsize);
        let mut a = Array::with_layout(size, offset, &shape, &strides, itemsize, None);
        let v = a.view();
        let c = is_contiguous_in(&shape, &strides, itemsize, b'C');
        let f = is_contiguous_in(&shape, &strides, itemsize, b'F');
        for (order, expected) in [(b'C', c), (b'F', f), (b'A', c || f), (b'X', false), (0, false)] {
            // SAFETY: a valid view.
            let got = unsafe { pybuf_is_contiguous(&v, order as c_char) };
            expect_ok();
            assert_eq!(got, c_int::from(expected), "shape {shape:?} strides {strides:?} order {order}");
        }
        // NULL strides: C-contiguous. Suboffsets: never contiguous.
        let no_strides = pybuf_buffer { strides: null_mut(), ..v };
        let mut subs = vec![-1isize; shape.len()];
        let with_subs = pybuf_buffer { suboffsets: subs.as_mut_ptr(), ..v };
        // SAFETY: valid views.
        unsafe {
            assert_eq!(pybuf_is_contiguous(&no_strides, b'C' as c_char), 1);
            assert_eq!(pybuf_is_contiguous(&with_subs, b'A' as c_char), 0);
        }
    }
    // NULL and malformed views: 0 with an error.
    let mut a = Array::c(&[2, 3], 4, Some("i"));
    let good = a.view();
    // SAFETY: NULL, or views whose pointers are valid where read.
    unsafe {
        assert_eq!(pybuf_is_contiguous(null(), b'C' as c_char), 0);
        expect_error(Status::NullPointer);
        assert_eq!(pybuf_is_contiguous(&pybuf_buffer { ndim: -1, ..good }, b'C' as c_char), 0);
        expect_error(Status::InvalidNdim);
        assert_eq!(pybuf_is_contiguous(&pybuf_buffer { itemsize: 0, ..good }, b'C' as c_char), 0);
        expect_error(Status::InvalidItemsize);
        assert_eq!(pybuf_is_contiguous(&pybuf_buffer { len: 20, ..good }, b'C' as c_char), 0);
        expect_error(Status::LengthMismatch);
        assert_eq!(pybuf_is_contiguous(&pybuf_buffer { shape: null_mut(), ndim: 2, ..good }, b'C' as c_char), 0);
        expect_error(Status::InvalidShape);
    }
}

#[test]
fn get_pointer_finds_every_element() {
    let mut rng = Rng::new(3);
    for _ in 0..cases(200) {
        let shape = random_shape(&mut rng);
        let itemsize = [1, 2, 8][rng.below(3)];
        let (strides, offset, size) = random_layout(&mut rng, &shape, itemsize);
        let mut a = Array::with_layout(size, offset, &shape, &strides, itemsize, None);
        let v = a.view();
        let base = a.data.as_ptr() as usize;
        for index in indices(&shape) {
            let at = offset as isize + index.iter().zip(&strides).map(|(i, s)| i * s).sum::<isize>();
            // SAFETY: a valid view and an index of ndim entries.
            let p = unsafe { pybuf_get_pointer(&v, index.as_ptr()) };
            expect_ok();
            assert_eq!(p as usize, base + at as usize, "shape {shape:?} strides {strides:?} index {index:?}");
        }
        // An index out of range is refused.
        let mut bad = vec![0isize; shape.len()];
        let k = rng.below(shape.len());
        bad[k] = if rng.below(2) == 0 { shape[k] } else { -1 };
        // SAFETY: as above.
        let p = unsafe { pybuf_get_pointer(&v, bad.as_ptr()) };
        assert!(p.is_null());
        expect_error(Status::IndexOutOfRange);
    }

    // PIL-style: a table of row pointers, then the rows; a suboffset of 2 inside a row.
    let mut rows: Vec<u8> = (0..12).collect();
    let r = rows.as_mut_ptr();
    // SAFETY: 6 is within the 12 bytes.
    let mut table = [r, unsafe { r.add(6) }];
    let (shape, strides, subs) = ([2isize, 4], [8isize, 1], [2isize, -1]);
    let v = pybuf_buffer {
        buf: table.as_mut_ptr().cast(),
        len: 8,
        itemsize: 1,
        ndim: 2,
        shape: shape.as_ptr().cast_mut(),
        strides: strides.as_ptr().cast_mut(),
        suboffsets: subs.as_ptr().cast_mut(),
        ..pybuf_buffer::zeroed()
    };
    for index in indices(&shape) {
        // SAFETY: a valid PIL view whose table points into `rows`.
        let p = unsafe { pybuf_get_pointer(&v, index.as_ptr()) };
        // SAFETY: `p` points into `rows`.
        assert_eq!(unsafe { *p.cast::<u8>() } as isize, 6 * index[0] + 2 + index[1]);
    }

    // 0-d: buf, whatever the indices; shapeless 1-D: `len` bytes.
    let mut bytes = [0u8; 5];
    let b = bytes.as_mut_ptr().cast::<c_void>();
    let scalar = pybuf_buffer { buf: b, len: 5, itemsize: 5, ..pybuf_buffer::zeroed() };
    let shapeless = pybuf_buffer { buf: b, len: 5, itemsize: 4, ndim: 1, ..pybuf_buffer::zeroed() };
    let good_shape = [5isize];
    let shaped = pybuf_buffer { itemsize: 1, shape: good_shape.as_ptr().cast_mut(), ..shapeless };
    // SAFETY: valid views; indices of ndim entries, or NULL.
    unsafe {
        assert_eq!(pybuf_get_pointer(&scalar, null()), b);
        expect_ok();
        assert_eq!(pybuf_get_pointer(&shapeless, [4isize].as_ptr()), b.cast::<u8>().add(4).cast());
        assert!(pybuf_get_pointer(&shapeless, [5isize].as_ptr()).is_null());
        expect_error(Status::IndexOutOfRange);
        assert!(pybuf_get_pointer(&shaped, null()).is_null());
        expect_error(Status::NullPointer);
        expect_message("indices is NULL with 1 entries");
        assert!(pybuf_get_pointer(null(), [0isize].as_ptr()).is_null());
        expect_error(Status::NullPointer);
        expect_message("view is NULL");
        assert!(pybuf_get_pointer(&pybuf_buffer { ndim: 65, ..shaped }, [0isize].as_ptr()).is_null());
        expect_error(Status::InvalidNdim);
    }
}

// =====================================================================================
// pybuf_fill_contiguous_strides, pybuf_fill_info

#[test]
fn fill_contiguous_strides_follows_cpython() {
    let mut rng = Rng::new(4);
    for _ in 0..cases(300) {
        let ndim = rng.below(5);
        let shape: Vec<isize> = (0..ndim).map(|_| rng.below(4) as isize).collect();
        let itemsize = 1 + rng.below(8) as isize;
        for order in [b'C', b'F', b'A'] {
            // CPython: sd = itemsize, then strides[k] = sd; sd *= shape[k], from the
            // last dimension for 'C' and 'A', from the first for 'F'.
            let mut expected = vec![0isize; ndim];
            let mut sd = itemsize;
            let dims: Vec<usize> = if order == b'F' { (0..ndim).collect() } else { (0..ndim).rev().collect() };
            for k in dims {
                expected[k] = sd;
                sd *= shape[k];
            }
            let mut strides = vec![-7isize; ndim];
            // SAFETY: shape and strides have ndim entries (or are empty with ndim 0).
            let rc = unsafe {
                pybuf_fill_contiguous_strides(
                    ndim as c_int,
                    shape.as_ptr(),
                    strides.as_mut_ptr(),
                    itemsize,
                    order as c_char,
                )
            };
            expect_status(rc, Status::Ok);
            assert_eq!(strides, expected, "shape {shape:?} order {}", order as char);
        }
    }
    // ndim 0 with NULL arrays.
    // SAFETY: nothing is read or written with ndim 0.
    unsafe { expect_status(pybuf_fill_contiguous_strides(0, null(), null_mut(), 8, b'C' as c_char), Status::Ok) };
    // Refusals leave the strides untouched.
    let shape = [3isize, 4];
    let overflow = [isize::MAX / 2, 4];
    let negative = [3isize, -1];
    let ones = [1isize; 65];
    let mut strides = [-7isize; 65];
    let refusals: [(c_int, *const isize, isize, u8, Status, &str); 8] = [
        (65, ones.as_ptr(), 8, b'C', Status::InvalidNdim, "ndim = 65"),
        (-1, shape.as_ptr(), 8, b'C', Status::InvalidNdim, "ndim = -1"),
        (2, negative.as_ptr(), 8, b'C', Status::InvalidShape, "shape[1] = -1 is negative"),
        (2, shape.as_ptr(), 0, b'C', Status::InvalidItemsize, "itemsize = 0 is not positive"),
        (2, shape.as_ptr(), 8, b'X', Status::InvalidArgument, "order 'X' is not 'C', 'F' or 'A'"),
        (2, shape.as_ptr(), 8, b'\n', Status::InvalidArgument, "order 0x0a"),
        (2, overflow.as_ptr(), 8, b'F', Status::Overflow, "overflows"),
        (2, null(), 8, b'C', Status::NullPointer, "shape is NULL with 2 entries"),
    ];
    for (ndim, shape, itemsize, order, status, message) in refusals {
        // SAFETY: shape is NULL or has ndim entries (65 for the refused ndim 65).
        let rc = unsafe { pybuf_fill_contiguous_strides(ndim, shape, strides.as_mut_ptr(), itemsize, order as c_char) };
        expect_refused(rc, status, message);
        assert_eq!(strides, [-7; 65]);
    }
    // SAFETY: shape has 2 entries; strides is NULL.
    let rc = unsafe { pybuf_fill_contiguous_strides(2, shape.as_ptr(), null_mut(), 8, b'C' as c_char) };
    expect_refused(rc, Status::NullPointer, "strides is NULL");
}

#[test]
fn fill_info_answers_every_request() {
    let mut bytes: Vec<u8> = (10..18).collect();
    let b = bytes.as_mut_ptr().cast::<c_void>();
    let mut token = 0u8;
    let obj = (&mut token as *mut u8).cast::<c_void>();
    let mut rng = Rng::new(5);
    let mut flags_list = requests(&mut rng);
    flags_list.push(PYBUF_READ);
    for flags in flags_list {
        for readonly in [0, 1] {
            let mut v = poisoned();
            let vp = &raw mut v;
            // SAFETY: `vp` is the view's one pointer (its shape and strides point into
            // it); 8 bytes at `b`.
            let rc = unsafe { pybuf_fill_info(vp, obj, b, 8, readonly, flags) };
            let wants = |f: c_int| flags & f == f;
            if flags & !REQUEST_BITS != 0 {
                expect_refused(rc, Status::InvalidArgument, "no PYBUF_* request");
            } else if flags == PYBUF_READ {
                expect_refused(rc, Status::InvalidArgument, "flags = PYBUF_READ is a memoryview flag");
            } else if wants(PYBUF_WRITABLE) && readonly == 1 {
                expect_refused(rc, Status::ReadOnly, "PYBUF_WRITABLE requested but the memory is read-only");
            } else {
                expect_status(rc, Status::Ok);
                // SAFETY: the view, read through its one pointer.
                let w = unsafe { *vp };
                assert_eq!((w.buf, w.obj, w.len, w.itemsize, w.readonly, w.ndim), (b, obj, 8, 1, readonly, 1));
                assert_eq!(text(w.format).as_deref(), wants(PYBUF_FORMAT).then_some("B"));
                // SAFETY: as above: the fields' own addresses.
                let (len_at, itemsize_at) = unsafe { (&raw mut (*vp).len, &raw mut (*vp).itemsize) };
                assert_eq!(w.shape, if wants(PYBUF_ND) { len_at } else { null_mut() }, "flags {flags:#x}");
                assert_eq!(w.strides, if wants(PYBUF_STRIDES) { itemsize_at } else { null_mut() });
                assert!(w.suboffsets.is_null());
                // The view works with the consumers.
                let mut out = Guarded::new(8);
                // SAFETY: a live view read through its one pointer; 8 writable bytes.
                unsafe {
                    assert_eq!(pybuf_get_pointer(vp, [3isize].as_ptr()), b.cast::<u8>().add(3).cast());
                    expect_status(pybuf_to_contiguous(out.ptr().cast(), vp, 8, b'C' as c_char), Status::Ok);
                }
                assert_eq!(out.inner(), &bytes[..]);
                release(vp);
                // SAFETY: as above.
                let released = unsafe { *vp };
                assert_ne!(released.internal, w.internal, "marked released");
                release(vp);
                // SAFETY: as above.
                assert!(same_bytes(unsafe { &*vp }, &released), "a second release does nothing");
                continue;
            }
            assert!(same_bytes(&v, &poisoned()), "flags {flags:#x}: refused but written");
        }
    }
    // Bad arguments.
    let mut v = poisoned();
    // SAFETY: NULL or valid arguments.
    unsafe {
        expect_refused(pybuf_fill_info(null_mut(), obj, b, 8, 0, PYBUF_SIMPLE), Status::NullPointer, "view is NULL");
        expect_refused(
            pybuf_fill_info(&mut v, obj, b, -1, 0, PYBUF_SIMPLE),
            Status::InvalidArgument,
            "len = -1 is negative",
        );
        expect_refused(
            pybuf_fill_info(&mut v, obj, null_mut(), 4, 0, PYBUF_SIMPLE),
            Status::NullPointer,
            "buf is NULL with len = 4",
        );
        expect_refused(
            pybuf_fill_info(&mut v, obj, b, 8, 2, PYBUF_SIMPLE),
            Status::InvalidArgument,
            "readonly = 2 is not 0 or 1",
        );
    }
    assert!(same_bytes(&v, &poisoned()));
    // NULL memory of 0 bytes is fine.
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: a writable view, no memory.
    unsafe { expect_status(pybuf_fill_info(&mut v, null_mut(), null_mut(), 0, 1, PYBUF_SIMPLE), Status::Ok) };
    assert_eq!((v.buf, v.len, v.readonly), (null_mut(), 0, 1));
    release(&mut v);
    assert_eq!(token, 0);
}

// =====================================================================================
// Copies

/// The bytes of `a`'s elements, in C or Fortran order.
fn elements(a: &Array, order: u8) -> Vec<u8> {
    let all = if order == b'F' { indices_f(&a.shape) } else { indices(&a.shape) };
    all.iter().flat_map(|i| a.item(i).to_vec()).collect()
}

/// `data` with the elements of the array (`offset`, `strides`, `shape`, `itemsize`) at
/// `targets` set, in turn, from consecutive items of `src`.
fn written(data: &[u8], a: &Array, targets: &[Vec<isize>], src: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let n = a.itemsize as usize;
    for (k, index) in targets.iter().enumerate() {
        let at = (a.offset as isize + index.iter().zip(&a.strides).map(|(i, s)| i * s).sum::<isize>()) as usize;
        out[at..at + n].copy_from_slice(&src[k * n..(k + 1) * n]);
    }
    out
}

#[test]
fn to_contiguous_in_every_order() {
    let mut rng = Rng::new(6);
    for _ in 0..cases(300) {
        let shape = random_shape(&mut rng);
        let itemsize = [1, 2, 4, 8][rng.below(4)];
        let (strides, offset, size) = random_layout(&mut rng, &shape, itemsize);
        let mut a = Array::with_layout(size, offset, &shape, &strides, itemsize, None);
        let v = a.view();
        let len = v.len as usize;
        let c = is_contiguous_in(&shape, &strides, itemsize, b'C');
        let f = is_contiguous_in(&shape, &strides, itemsize, b'F');
        let any = if !c && f { b'F' } else { b'C' };
        for (order, as_order) in [(b'C', b'C'), (b'F', b'F'), (b'A', any)] {
            let mut out = Guarded::new(len);
            // SAFETY: a valid view; `out` has len writable bytes.
            let rc = unsafe { pybuf_to_contiguous(out.ptr().cast(), &v, len as isize, order as c_char) };
            expect_status(rc, Status::Ok);
            assert_eq!(
                out.inner(),
                elements(&a, as_order),
                "shape {shape:?} strides {strides:?} order {}",
                order as char
            );
            assert!(out.intact());
        }
    }
    // Refusals leave dst untouched.
    let mut a = Array::c(&[2, 3], 4, Some("i"));
    let v = a.view();
    let mut out = Guarded::new(24);
    // SAFETY: NULL or valid arguments; out has 24 writable bytes.
    unsafe {
        expect_refused(
            pybuf_to_contiguous(out.ptr().cast(), &v, 23, b'C' as c_char),
            Status::LengthMismatch,
            "len = 23 but src->len = 24",
        );
        expect_refused(
            pybuf_to_contiguous(out.ptr().cast(), &v, 24, b'Z' as c_char),
            Status::InvalidArgument,
            "order 'Z'",
        );
        expect_refused(
            pybuf_to_contiguous(null_mut(), &v, 24, b'C' as c_char),
            Status::NullPointer,
            "dst is NULL with len = 24",
        );
        expect_refused(
            pybuf_to_contiguous(out.ptr().cast(), null(), 24, b'C' as c_char),
            Status::NullPointer,
            "src is NULL",
        );
        let bad = pybuf_buffer { itemsize: -4, ..v };
        expect_status(pybuf_to_contiguous(out.ptr().cast(), &bad, 24, b'C' as c_char), Status::InvalidItemsize);
        // An empty view copies nothing, even to NULL.
        let empty_shape = [0isize, 3];
        let empty = pybuf_buffer { len: 0, shape: empty_shape.as_ptr().cast_mut(), ..v };
        expect_status(pybuf_to_contiguous(null_mut(), &empty, 0, b'C' as c_char), Status::Ok);
    }
    assert!(out.untouched());
}

#[test]
fn from_contiguous_in_every_order() {
    let mut rng = Rng::new(7);
    for _ in 0..cases(300) {
        let shape = random_shape(&mut rng);
        let itemsize = [1, 2, 4, 8][rng.below(4)];
        let (strides, offset, size) = random_layout(&mut rng, &shape, itemsize);
        let mut a = Array::with_layout(size, offset, &shape, &strides, itemsize, None);
        let v = a.view();
        let len = v.len as usize;
        let src: Vec<u8> = (0..len + 5).map(|i| (200 - i % 200) as u8).collect();
        let c = is_contiguous_in(&shape, &strides, itemsize, b'C');
        let f = is_contiguous_in(&shape, &strides, itemsize, b'F');
        let any = if !c && f { b'F' } else { b'C' };
        let order = [b'C', b'F', b'A'][rng.below(3)];
        let as_order = if order == b'A' { any } else { order };
        let targets = if as_order == b'F' { indices_f(&shape) } else { indices(&shape) };
        // All of it, more than all of it (cut to dst->len), or the first k elements.
        let k = rng.below(targets.len() + 1);
        let (given, filled) = match rng.below(3) {
            0 => (len, targets.len()),
            1 => (len + 5, targets.len()),
            _ => (k * itemsize as usize, k),
        };
        let before = a.data.clone();
        // SAFETY: a valid, writable view of distinct elements; `src` has given bytes.
        let rc = unsafe { pybuf_from_contiguous(&v, src.as_ptr().cast(), given as isize, order as c_char) };
        expect_status(rc, Status::Ok);
        assert_eq!(
            a.data,
            written(&before, &a, &targets[..filled], &src),
            "shape {shape:?} strides {strides:?} order {} len {given}",
            order as char
        );
    }
    // Refusals leave dst untouched.
    let mut a = Array::c(&[2, 3], 4, Some("i"));
    let before = a.data.clone();
    let v = a.view();
    let src = [9u8; 24];
    let zero_strides = [0isize, 4];
    // SAFETY: NULL or valid arguments; src has 24 bytes.
    unsafe {
        let ro = pybuf_buffer { readonly: 1, ..v };
        expect_refused(
            pybuf_from_contiguous(&ro, src.as_ptr().cast(), 24, b'C' as c_char),
            Status::ReadOnly,
            "dst is read-only",
        );
        let broadcast = pybuf_buffer { strides: zero_strides.as_ptr().cast_mut(), ..v };
        expect_refused(
            pybuf_from_contiguous(&broadcast, src.as_ptr().cast(), 24, b'C' as c_char),
            Status::InvalidStrides,
            "destination strides[0] = 0",
        );
        expect_refused(
            pybuf_from_contiguous(&v, null(), 24, b'C' as c_char),
            Status::NullPointer,
            "src is NULL with len = 24",
        );
        expect_refused(
            pybuf_from_contiguous(&v, src.as_ptr().cast(), -1, b'C' as c_char),
            Status::InvalidArgument,
            "len = -1 is negative",
        );
        expect_refused(
            pybuf_from_contiguous(&v, src.as_ptr().cast(), 24, b'Q' as c_char),
            Status::InvalidArgument,
            "order 'Q'",
        );
        expect_refused(
            pybuf_from_contiguous(null(), src.as_ptr().cast(), 24, b'C' as c_char),
            Status::NullPointer,
            "dst is NULL",
        );
        // Nothing to copy from NULL: fine.
        expect_status(pybuf_from_contiguous(&v, null(), 0, b'C' as c_char), Status::Ok);
    }
    assert_eq!(a.data, before);
}

#[test]
fn copy_between_views() {
    let mut rng = Rng::new(8);
    for _ in 0..cases(300) {
        let shape = random_shape(&mut rng);
        let itemsize = [1, 2, 4, 8][rng.below(4)];
        let (ds, doff, dsize) = random_layout(&mut rng, &shape, itemsize);
        let (ss, soff, ssize) = random_layout(&mut rng, &shape, itemsize);
        let mut dst = Array::with_layout(dsize, doff, &shape, &ds, itemsize, None);
        let mut src = Array::with_layout(ssize, soff, &shape, &ss, itemsize, None);
        for x in &mut src.data {
            *x = x.wrapping_mul(3).wrapping_add(101);
        }
        let (dv, sv) = (dst.view(), src.view());
        let all = indices(&shape);
        let expected = written(&dst.data, &dst, &all, &elements(&src, b'C'));
        // SAFETY: valid views of distinct allocations.
        unsafe { expect_status(pybuf_copy(&dv, &sv), Status::Ok) };
        assert_eq!(dst.data, expected, "shape {shape:?} dst {ds:?} src {ss:?}");
    }
    // Refusals leave dst untouched.
    let mut d = Array::c(&[2, 3], 4, Some("i"));
    let before = d.data.clone();
    let mut s = Array::c(&[3, 2], 4, Some("i"));
    let mut s8 = Array::c(&[2, 3], 8, Some("q"));
    let (dv, sv, s8v) = (d.view(), s.view(), s8.view());
    // SAFETY: NULL or valid views.
    unsafe {
        expect_refused(
            pybuf_copy(&dv, &sv),
            Status::ShapeMismatch,
            "destination shape [2, 3] differs from source shape [3, 2]",
        );
        expect_refused(
            pybuf_copy(&dv, &s8v),
            Status::ShapeMismatch,
            "destination itemsize 4 differs from source itemsize 8",
        );
        expect_refused(pybuf_copy(&pybuf_buffer { readonly: 1, ..dv }, &dv), Status::ReadOnly, "dst is read-only");
        expect_refused(pybuf_copy(null(), &sv), Status::NullPointer, "dst is NULL");
        expect_refused(pybuf_copy(&dv, null()), Status::NullPointer, "src is NULL");
        expect_status(pybuf_copy(&dv, &pybuf_buffer { ndim: 65, ..sv }), Status::InvalidNdim);
    }
    assert_eq!(d.data, before);
    // A view copied onto itself reversed: as if src were read whole first.
    let mut a = Array::c(&[6], 1, None);
    let original = a.data.clone();
    let forward = a.view();
    let rev_strides = [-1isize];
    // SAFETY: 5 is within the 6 bytes.
    let last = unsafe { forward.buf.cast::<u8>().add(5) };
    let backward = pybuf_buffer { buf: last.cast(), strides: rev_strides.as_ptr().cast_mut(), ..forward };
    // SAFETY: two valid views of the same memory.
    unsafe { expect_status(pybuf_copy(&forward, &backward), Status::Ok) };
    let reversed: Vec<u8> = original.iter().rev().copied().collect();
    assert_eq!(a.data, reversed);
}

// =====================================================================================
// Status names, messages, the version

#[test]
fn status_names_and_messages() {
    let name = |s: c_int| text(pybuf_status_name(s)).expect("never NULL");
    assert_eq!(name(0), "PYBUF_STATUS_OK");
    assert_eq!(name(-1), "PYBUF_STATUS_NULL_POINTER");
    assert_eq!(name(-16), "PYBUF_STATUS_FOREIGN_VIEW");
    assert_eq!(name(-17), "PYBUF_STATUS_EXPORTS_EXIST");
    assert_eq!(name(-23), "PYBUF_STATUS_UNSUPPORTED_VERSION");
    assert_eq!(name(-26), "PYBUF_STATUS_VALUE_MISMATCH");
    assert_eq!(name(-27), "PYBUF_STATUS_IO");
    assert_eq!(name(-30), "PYBUF_STATUS_INVALID_FILE");
    assert_eq!(name(-31), "PYBUF_STATUS_INVALID_MESSAGE");
    assert_eq!(name(-32), "PYBUF_STATUS_NOT_SHARED");
    for unknown in [1, -33, c_int::MIN, c_int::MAX] {
        assert_eq!(name(unknown), "PYBUF_STATUS_UNKNOWN");
    }
    let mut names: Vec<String> = (-32..=0).map(name).collect();
    assert!(names.iter().all(|n| n.starts_with("PYBUF_STATUS_") && n != "PYBUF_STATUS_UNKNOWN"));
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 33, "every status has its own name");
    // A failure sets a status and a message; a success clears both.
    provoke();
    assert_eq!(pybuf_last_status(), Status::InvalidNdim as c_int);
    assert_eq!(text(pybuf_last_error()).as_deref(), Some("ndim = -1 is not in 0..=64"));
    let mut strides = [0isize; 1];
    // SAFETY: one entry each.
    unsafe {
        expect_status(
            pybuf_fill_contiguous_strides(1, [4isize].as_ptr(), strides.as_mut_ptr(), 2, b'C' as c_char),
            Status::Ok,
        )
    };
    assert_eq!((pybuf_last_status(), text(pybuf_last_error()).as_deref()), (0, Some("")));
    assert_eq!(strides, [2]);
    // Each thread has its own.
    provoke();
    std::thread::spawn(|| assert_eq!((pybuf_last_status(), text(pybuf_last_error()).as_deref()), (0, Some(""))))
        .join()
        .unwrap();
    assert_eq!(pybuf_last_status(), Status::InvalidNdim as c_int);
}

#[test]
fn version_matches_the_package() {
    let version = env!("CARGO_PKG_VERSION");
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(pybuf_version(), parts[0] * 10000 + parts[1] * 100 + parts[2]);
    assert_eq!(text(pybuf_version_string()).as_deref(), Some(version));
}

// =====================================================================================
// Threads

/// A pointer handed to another thread: exporter handles are thread-safe, and each view or
/// tensor is used by one thread at a time (handed over through a Mutex).
struct Shared<T>(*mut T);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<T> {}
// SAFETY: see above.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: see above.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// Four threads export from one exporter, each through its own clone of the handle, and
/// release views and delete tensors made by the others; `replace` is refused to a thread
/// that holds a view. At the end the export count is exactly what is still held, then
/// zero, and the owner runs once, at the last free.
#[test]
fn threads_export_and_release_with_exact_counts() {
    const THREADS: u64 = 4;
    let ops = cases(2000);
    let owner = AtomicUsize::new(0);
    let mut mem = doubles(16);
    let base = mem.as_mut_ptr() as usize;
    let shape = [4isize, 4];
    let d = Shared(Box::into_raw(Box::new(desc(mem.as_mut_ptr().cast(), 128, Some(c"d"), &shape, None))));
    // SAFETY: the description box is alive until the end of the test.
    let e = Shared(new_exporter(unsafe { &*d.get() }, &owner));
    let views: Mutex<Vec<Shared<pybuf_buffer>>> = Mutex::new(Vec::new());
    let tensors: Mutex<Vec<Shared<DLManagedTensorVersioned>>> = Mutex::new(Vec::new());
    let made = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (views, tensors, made) = (&views, &tensors, &made);
            s.spawn(move || {
                // SAFETY: `e` is alive: the main thread frees it after the scope.
                let h = unsafe { pybuf_exporter_clone(e.get()) };
                assert_eq!(h, e.get());
                let mut rng = Rng::new(100 + t);
                for _ in 0..ops {
                    // A view at a fixed heap address, so that any thread can release it.
                    let v = Box::into_raw(Box::new(pybuf_buffer::zeroed()));
                    let flags = [PYBUF_SIMPLE, PYBUF_RECORDS, PYBUF_FULL_RO, PYBUF_C_CONTIGUOUS][rng.below(4)];
                    // SAFETY: a live handle and a fresh view of this thread's.
                    unsafe {
                        expect_status(pybuf_exporter_get_buffer(h, v, flags), Status::Ok);
                        assert_eq!(((*v).buf as usize, (*v).len), (base, 128));
                    }
                    made.fetch_add(1, SeqCst);
                    assert!(exports(h) >= 1);
                    match rng.below(4) {
                        0 => {
                            // SAFETY: a live handle and description; this thread holds `v`.
                            unsafe {
                                expect_refused(
                                    pybuf_exporter_replace(h, d.get()),
                                    Status::ExportsExist,
                                    "existing exports",
                                )
                            };
                            release(v);
                            // SAFETY: released, freed once.
                            drop(unsafe { Box::from_raw(v) });
                        }
                        1 => views.lock().unwrap().push(Shared(v)),
                        2 if flags & PYBUF_FORMAT != 0 => {
                            let mut tensor = null_mut();
                            // SAFETY: a live view; released and freed once.
                            unsafe {
                                expect_status(pybuf_to_dlpack(v, None, null_mut(), &mut tensor), Status::Ok);
                                release(v);
                                drop(Box::from_raw(v));
                            }
                            tensors.lock().unwrap().push(Shared(tensor));
                        }
                        _ => {
                            release(v);
                            // SAFETY: released, freed once.
                            drop(unsafe { Box::from_raw(v) });
                            // Release a view or delete a tensor of any thread.
                            let other = views.lock().unwrap().pop();
                            if let Some(o) = other {
                                release(o.get());
                                // SAFETY: handed over through the Mutex: this thread owns it now.
                                drop(unsafe { Box::from_raw(o.get()) });
                            }
                            let tensor = tensors.lock().unwrap().pop();
                            if let Some(t) = tensor {
                                delete(t.get());
                            }
                        }
                    }
                }
                // SAFETY: this thread's reference, given back once.
                unsafe { pybuf_exporter_free(h) };
            });
        }
    });
    assert_eq!(made.load(SeqCst), THREADS as usize * ops);
    let (views, tensors) = (views.into_inner().unwrap(), tensors.into_inner().unwrap());
    assert_eq!(exports(e.get()), (views.len() + tensors.len()) as isize, "exactly what is still held");
    for v in views {
        release(v.get());
        // SAFETY: each view freed once.
        drop(unsafe { Box::from_raw(v.get()) });
    }
    for t in tensors {
        delete(t.get());
    }
    assert_eq!(exports(e.get()), 0);
    assert_eq!(count(&owner), 0);
    // SAFETY: the main reference, given back once; then the description box.
    unsafe {
        pybuf_exporter_free(e.get());
        drop(Box::from_raw(d.get()));
    }
    assert_eq!(count(&owner), 1, "the owner runs once, at the last free");
}

/// Issue 12, defect 6's class: the temporaries of pybuf_copy (overlapping views) and
/// pybuf_from_contiguous (a partial copy into a view that is not contiguous) are sized by
/// the views; an impossible size is PYBUF_STATUS_OUT_OF_MEMORY naming it, and nothing is
/// written. (Not under Miri, which stops at an impossible allocation.)
#[test]
#[cfg_attr(miri, ignore = "Miri stops at an impossible allocation")]
fn copy_temporaries_of_an_impossible_size_are_out_of_memory() {
    let mut cell = [0x22u8; 16];
    // Overlapping views of 2^48 bytes (suboffsets, all negative, send the copy through a
    // temporary of the source).
    let mut shape = [1isize << 48];
    let mut strides = [1isize];
    let mut subs = [-1isize];
    let mut v = pybuf_buffer::zeroed();
    v.buf = cell.as_mut_ptr().cast();
    (v.len, v.itemsize, v.ndim) = (1 << 48, 1, 1);
    (v.shape, v.strides, v.suboffsets) = (shape.as_mut_ptr(), strides.as_mut_ptr(), subs.as_mut_ptr());
    // SAFETY: the views' memory is never reached (the allocation fails first).
    let rc = unsafe { pybuf_copy(&v, &v) };
    expect_refused(rc, Status::OutOfMemory, "cannot allocate 281474976710656 bytes for the temporary of an overlapping copy");
    assert_eq!(cell, [0x22; 16]);

    // A partial copy (len below the view's) into a strided view of 2^47 one-byte items.
    let mut shape = [1isize << 47];
    let mut strides = [2isize];
    let mut w = pybuf_buffer::zeroed();
    w.buf = cell.as_mut_ptr().cast();
    (w.len, w.itemsize, w.ndim) = (1 << 47, 1, 1);
    (w.shape, w.strides) = (shape.as_mut_ptr(), strides.as_mut_ptr());
    let src = [0x33u8; 16];
    let len = (1usize << 47) - 1;
    // SAFETY: as above: `src` is claimed to hold `len` bytes, none of which is read.
    let rc = unsafe { pybuf_from_contiguous(&w, src.as_ptr().cast(), len as isize, b'C' as c_char) };
    expect_refused(
        rc,
        Status::OutOfMemory,
        &format!("cannot allocate {len} bytes for the private copy of the source of a partial copy"),
    );
    assert_eq!(cell, [0x22; 16]);
}
