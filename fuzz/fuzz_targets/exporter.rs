//! Exporters: descriptions (valid and malformed), request flags, and random sequences
//! of export, release (twice, of a copy, of a foreign view), clone, free, replace, fill
//! view, custom exporters through `pybuf_object_get_buffer`, and derived views holding
//! exports. A model keeps the exact export count of each exporter and the number of
//! owner callbacks (exactly one, after the last reference and view are gone).
//!
//! A filled view must satisfy the request (CPython's rules for `_testbuffer.ndarray`) and
//! address exactly the described elements; a refusal must have a reason the request
//! rules give.
#![no_main]

use std::cell::RefCell;
use std::ffi::{c_int, c_void, CString};

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use pybuf::abi::*;
use pybuf::ffi::buffer::{pybuf_get_pointer, pybuf_release};
use pybuf::ffi::error::pybuf_last_status;
use pybuf::ffi::exporter::*;
use pybuf::ffi::view::pybuf_slice;
use pybuf_fuzz::*;

const INVALID_ARGUMENT: c_int = -2;
const READ_ONLY: c_int = -13;
const BUFFER_REQUEST: c_int = -15;
const FOREIGN_VIEW: c_int = -16;
const EXPORTS_EXIST: c_int = -17;
const NULL_POINTER: c_int = -1;

thread_local! {
    /// Owner callbacks per exporter (the user pointer is the index).
    static OWNER_CALLS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// releasebuffer calls of the custom exporter.
    static CUSTOM_RELEASES: RefCell<usize> = const { RefCell::new(0) };
}

unsafe extern "C" fn owner(user: *mut c_void) {
    OWNER_CALLS.with(|c| c.borrow_mut()[user as usize] += 1);
}

/// A description built from a generated view, and what the reference says of it.
struct Desc {
    // keeps the arrays, format and memory alive
    _view: TestView,
    _arena: Box<Arena>,
    _format: Option<CString>,
    raw: pybuf_exporter_desc,
    /// `None`: pybuf must refuse the description.
    geo: Option<Geo>,
    /// Addresses may be computed (pointers read) safely.
    backed: bool,
}

fn make_desc(u: &mut Unstructured<'_>) -> Desc {
    let arena = Box::new(Arena::new(u));
    let mut v = TestView::generate(u, &arena, 0, &Hint::default());
    if v.raw.shape.is_null() {
        // descriptions have no shapeless form but 0-d
        v.raw.ndim = 0;
        v.raw.shape = v.shape.as_mut_ptr();
        v.backed = false;
    }
    let itemsize = v.raw.itemsize;
    let format = match u.int_in_range(0u8..=9).unwrap_or(0) {
        0 => None,
        1 => Some(bytes_format(*u.choose(&[1isize, 2, 3, 8]).unwrap_or(&2))),
        _ => Some(bytes_format(itemsize.max(1))),
    };
    let given_itemsize = if u.ratio(1u8, 4).unwrap_or(false) { 0 } else { itemsize };
    let start = arena.start();
    let size: isize = if u.ratio(1u8, 30).unwrap_or(false) { -1 } else { arena.span() as isize };
    let raw = pybuf_exporter_desc {
        buf: start.cast(),
        len: size,
        offset: (v.raw.buf as isize).wrapping_sub(start as isize),
        readonly: v.raw.readonly,
        format: format.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
        itemsize: given_itemsize,
        ndim: v.raw.ndim,
        shape: v.raw.shape,
        strides: v.raw.strides,
        suboffsets: v.raw.suboffsets,
    };
    let fsize = format.as_ref().map_or(1, |f| format_size(f));
    // SAFETY: the arrays have ARRAY entries.
    let geo = unsafe { desc_reference(&raw, fsize) };
    let backed = geo.is_some() && v.backed && geo.as_ref().map(|g| g.buf) == v.geo.as_ref().map(|g| g.buf);
    Desc { _view: v, _arena: arena, _format: format, raw, geo, backed }
}

fn format_size(f: &CString) -> isize {
    match f.to_bytes() {
        b"B" => 1,
        b"H" => 2,
        b"I" => 4,
        b"Q" => 8,
        s => std::str::from_utf8(&s[..s.len() - 1]).unwrap().parse().unwrap(),
    }
}

/// The documented rules of `pybuf_exporter_new`: the format agrees with the itemsize,
/// the geometry is valid, and every byte reached directly (up to and including the
/// first pointer read) lies within `[buf, buf + len)`.
///
/// # Safety
/// The arrays of `d` have `ndim` entries when 0 <= ndim <= 64.
unsafe fn desc_reference(d: &pybuf_exporter_desc, fsize: isize) -> Option<Geo> {
    if !(0..=64).contains(&d.ndim) || (d.readonly != 0 && d.readonly != 1) || d.len < 0 {
        return None;
    }
    if d.buf.is_null() && d.len > 0 {
        return None;
    }
    let n = d.ndim as usize;
    let itemsize = match d.itemsize {
        0 => fsize,
        i if i == fsize => i,
        _ => return None,
    };
    if itemsize <= 0 || (d.shape.is_null() && n > 0) {
        return None;
    }
    // SAFETY: forwarded.
    let read = |p: *const isize| (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, n) }.to_vec());
    let shape = read(d.shape).unwrap_or_default();
    let strides = read(d.strides);
    let subs = read(d.suboffsets);
    if shape.iter().any(|&s| s < 0) {
        return None;
    }
    let mut items = 1isize;
    for &s in &shape {
        items = items.checked_mul(s)?;
        if items == 0 {
            break;
        }
    }
    let len = items.checked_mul(itemsize)?;
    // the same overflow rule as for views
    let probe = pybuf_buffer {
        buf: d.buf,
        len,
        itemsize,
        ndim: d.ndim,
        shape: d.shape as *mut isize,
        strides: d.strides as *mut isize,
        suboffsets: d.suboffsets as *mut isize,
        readonly: 0,
        ..pybuf_buffer::zeroed()
    };
    // SAFETY: forwarded.
    let mut geo = unsafe { reference_geometry(&probe) }?;
    geo.buf = (d.buf as *mut u8).wrapping_offset(d.offset);
    geo.readonly = d.readonly == 1;
    geo.strides = Some((0..n).map(|k| geo.stride(k)).collect());
    let _ = (strides, &shape);
    if items > 0 {
        let first = subs.as_ref().and_then(|s| s.iter().position(|&o| o >= 0));
        let (dims, unit) = match first {
            Some(k) => (k + 1, 8i128),
            None => (n, itemsize as i128),
        };
        let (mut lo, mut hi) = (d.offset as i128, d.offset as i128 + unit);
        for k in 0..dims {
            let span = geo.stride(k) as i128 * (shape[k] as i128 - 1);
            if span < 0 {
                lo += span
            } else {
                hi += span
            }
        }
        if lo < 0 || hi > d.len as i128 {
            return None;
        }
    }
    Some(geo)
}

const REQUESTS: &[c_int] = &[
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
    PYBUF_CONTIG_RO,
    PYBUF_STRIDED,
    PYBUF_STRIDED_RO,
    PYBUF_RECORDS,
    PYBUF_RECORDS_RO,
    PYBUF_FULL,
    PYBUF_FULL_RO,
    PYBUF_FORMAT | PYBUF_ND,
    PYBUF_WRITABLE | PYBUF_C_CONTIGUOUS,
];

fn flags(u: &mut Unstructured<'_>) -> c_int {
    match u.int_in_range(0u8..=9).unwrap_or(0) {
        0 => u.arbitrary::<c_int>().unwrap_or(0),
        1 => u.arbitrary::<u16>().unwrap_or(0) as c_int & 0x3ff,
        _ => *u.choose(REQUESTS).unwrap_or(&PYBUF_FULL_RO),
    }
}

/// The reasons the request rules give for refusing `flags` on `g` (empty: must succeed).
fn refusals(g: &Geo, flags: c_int) -> Vec<c_int> {
    let known = PYBUF_WRITABLE | PYBUF_FORMAT | PYBUF_ND | PYBUF_STRIDES | PYBUF_C_CONTIGUOUS | PYBUF_F_CONTIGUOUS
        | PYBUF_ANY_CONTIGUOUS | PYBUF_INDIRECT;
    let wants = |f: c_int| flags & f == f;
    let mut r = Vec::new();
    if flags & !known != 0 {
        r.push(INVALID_ARGUMENT);
    }
    if wants(PYBUF_WRITABLE) && g.readonly {
        r.push(READ_ONLY);
    }
    let c = g.contiguous(b'C');
    let f = g.contiguous(b'F');
    let request = (wants(PYBUF_C_CONTIGUOUS) && !c)
        || (wants(PYBUF_F_CONTIGUOUS) && !f)
        || (wants(PYBUF_ANY_CONTIGUOUS) && !c && !f)
        || (!wants(PYBUF_INDIRECT) && g.subs.is_some())
        || (!wants(PYBUF_STRIDES) && !c)
        || (!wants(PYBUF_ND) && wants(PYBUF_FORMAT));
    if request {
        r.push(BUFFER_REQUEST);
    }
    r
}

/// A filled view satisfies the request and addresses the described elements.
fn check_filled(view: &pybuf_buffer, g: &Geo, backed: bool, flags: c_int, what: &str) {
    let wants = |f: c_int| flags & f == f;
    assert_eq!(view.buf as *mut u8, g.buf, "{what}: buf");
    assert_eq!(view.len, g.len, "{what}: len");
    assert_eq!(view.readonly == 1, g.readonly, "{what}: readonly");
    assert_eq!(view.format.is_null(), !wants(PYBUF_FORMAT), "{what}: format");
    if !wants(PYBUF_ND) {
        assert!(view.shape.is_null() && view.strides.is_null(), "{what}: shape without PYBUF_ND");
    }
    if !wants(PYBUF_STRIDES) {
        assert!(view.strides.is_null(), "{what}: strides without PYBUF_STRIDES");
    }
    if !wants(PYBUF_INDIRECT) {
        assert!(view.suboffsets.is_null(), "{what}: suboffsets without PYBUF_INDIRECT");
    }
    // SAFETY: pybuf's arrays have ndim entries.
    let vg = unsafe { reference_geometry(view) }.unwrap_or_else(|| panic!("{what}: a malformed view"));
    for (o, name) in [(b'C', "C"), (b'F', "F"), (b'A', "ANY")] {
        let flag = match o {
            b'C' => PYBUF_C_CONTIGUOUS,
            b'F' => PYBUF_F_CONTIGUOUS,
            _ => PYBUF_ANY_CONTIGUOUS,
        };
        if wants(flag) {
            assert!(vg.contiguous(o), "{what}: not {name}-contiguous");
        }
    }
    if !wants(PYBUF_ND) {
        return; // len bytes at buf: C-contiguous memory, checked by the refusal rules
    }
    assert_eq!(vg.shape, g.shape, "{what}: shape");
    if !backed && g.has_indirection() {
        return;
    }
    for idx in g.indices(b'C', 64) {
        // SAFETY: backed, or no pointer is read.
        let (want, got) = unsafe { (g.addr(&idx), vg.addr(&idx)) };
        assert_eq!(got, want, "{what}: element {idx:?}");
        if view.ndim > 0 {
            // SAFETY: as above; indices within the shape.
            let p = unsafe { pybuf_get_pointer(view, idx.as_ptr()) };
            assert_eq!(p as *mut u8, want, "{what}: get_pointer({idx:?})");
        }
    }
}

struct Exp {
    handle: *mut pybuf_exporter,
    refs: usize,
    live: usize,
    desc: Desc,
    id: usize,
}

enum Owner {
    Exporter(usize),
    Own,
    Custom,
}

struct View {
    view: Box<pybuf_buffer>,
    owner: Owner,
}

/// A custom exporter: fills views with `pybuf_fill_view` from its description.
struct Custom {
    desc: pybuf_exporter_desc,
}

unsafe extern "C" fn custom_get(e: *mut c_void, view: *mut pybuf_buffer, flags: c_int) -> c_int {
    // SAFETY: `e` is a live Custom.
    let c = unsafe { &*(e as *const Custom) };
    // SAFETY: forwarded.
    unsafe { pybuf_fill_view(view, &c.desc, flags) }
}

unsafe extern "C" fn custom_release(_e: *mut c_void, _view: *mut pybuf_buffer) {
    CUSTOM_RELEASES.with(|c| *c.borrow_mut() += 1);
}

static CUSTOM_PROCS: pybuf_procs = pybuf_procs { getbuffer: Some(custom_get), releasebuffer: Some(custom_release) };

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut exps: Vec<Exp> = Vec::new();
    let mut views: Vec<View> = Vec::new();
    let mut custom_live = 0usize;
    OWNER_CALLS.with(|c| c.borrow_mut().clear());
    CUSTOM_RELEASES.with(|c| *c.borrow_mut() = 0);
    let mut steps = 0;
    while !u.is_empty() && steps < 64 {
        steps += 1;
        let alive: Vec<usize> = (0..exps.len()).filter(|&i| exps[i].refs > 0).collect();
        match u.int_in_range(0u8..=11).unwrap_or(0) {
            0 | 1 if exps.len() < 6 => {
                let desc = make_desc(&mut u);
                let id = OWNER_CALLS.with(|c| {
                    c.borrow_mut().push(0);
                    c.borrow().len() - 1
                });
                let mut out: *mut pybuf_exporter = 0x1 as *mut _;
                // SAFETY: a description with ARRAY-entry arrays.
                let rc = unsafe { pybuf_exporter_new(&desc.raw, Some(owner), id as *mut c_void, &mut out) };
                let what = format!("exporter_new({:?}) {}", desc.raw, desc._view.describe());
                match &desc.geo {
                    None => {
                        assert_failed(rc, &what);
                        assert_eq!(out as usize, 1, "{what}: out written on failure");
                    }
                    Some(_) => {
                        assert_ok(rc, &what);
                        exps.push(Exp { handle: out, refs: 1, live: 0, desc, id });
                    }
                }
            }
            2..=4 if !alive.is_empty() => {
                let i = *u.choose(&alive).unwrap();
                let f = flags(&mut u);
                let via_object = u.ratio(1u8, 4).unwrap_or(false);
                let mut view = Box::new(pybuf_buffer::zeroed());
                view.obj = 0x5 as *mut c_void;
                let before = *view;
                let e = &mut exps[i];
                // SAFETY: a live handle.
                let rc = unsafe {
                    if via_object {
                        let o = pybuf_exporter_as_object(e.handle);
                        pybuf_object_get_buffer(&o, &mut *view, f)
                    } else {
                        pybuf_exporter_get_buffer(e.handle, &mut *view, f)
                    }
                };
                let g = e.desc.geo.as_ref().unwrap();
                let reasons = refusals(g, f);
                let what = format!("get_buffer(flags {f:#x}) of {}", e.desc._view.describe());
                if reasons.is_empty() {
                    assert_ok(rc, &what);
                    assert_eq!(view.obj, 0x5 as *mut c_void, "{what}: obj touched");
                    check_filled(&view, g, e.desc.backed, f, &what);
                    e.live += 1;
                    views.push(View { view, owner: Owner::Exporter(i) });
                } else {
                    assert_failed_with(rc, &reasons, &what);
                    assert_eq!(format!("{:?}", *view), format!("{before:?}"), "{what}: view written on failure");
                }
            }
            5 | 6 if !views.is_empty() => {
                let j = u.int_in_range(0..=views.len() - 1).unwrap_or(0);
                // a copy of the view (another address) is refused
                if u.ratio(1u8, 4).unwrap_or(false) {
                    let mut copy = *views[j].view;
                    // SAFETY: a copy of a live view.
                    unsafe { pybuf_release(&mut copy) };
                    assert_failed_with(pybuf_last_status(), &[FOREIGN_VIEW], "releasing a copy");
                }
                let mut v = views.swap_remove(j);
                // SAFETY: a live view.
                unsafe { pybuf_release(&mut *v.view) };
                assert_eq!(pybuf_last_status(), 0, "release: {}", last_message());
                // SAFETY: released: a no-op.
                unsafe { pybuf_release(&mut *v.view) };
                assert_eq!(pybuf_last_status(), 0, "releasing twice: {}", last_message());
                match v.owner {
                    Owner::Exporter(i) => exps[i].live -= 1,
                    Owner::Custom => custom_live -= 1,
                    Owner::Own => {}
                }
            }
            7 if !alive.is_empty() => {
                let i = *u.choose(&alive).unwrap();
                if u.ratio(1u8, 2).unwrap_or(false) {
                    // SAFETY: a live handle.
                    let c = unsafe { pybuf_exporter_clone(exps[i].handle) };
                    assert_eq!(c, exps[i].handle);
                    exps[i].refs += 1;
                } else {
                    // SAFETY: a live handle; this gives back one reference.
                    unsafe { pybuf_exporter_free(exps[i].handle) };
                    exps[i].refs -= 1;
                }
            }
            8 if !alive.is_empty() => {
                let i = *u.choose(&alive).unwrap();
                let desc = make_desc(&mut u);
                // SAFETY: a live handle and a description.
                let rc = unsafe { pybuf_exporter_replace(exps[i].handle, &desc.raw) };
                let what = format!("replace with {}", desc._view.describe());
                if exps[i].live > 0 {
                    assert_failed(rc, &what);
                    assert!(rc == EXPORTS_EXIST || desc.geo.is_none(), "{what}: {rc} with live exports");
                } else if desc.geo.is_some() {
                    assert_ok(rc, &what);
                    exps[i].desc = desc;
                } else {
                    assert_failed(rc, &what);
                }
            }
            9 if !alive.is_empty() => {
                let i = *u.choose(&alive).unwrap();
                // SAFETY: a live handle.
                let n = unsafe { pybuf_exporter_exports(exps[i].handle) };
                assert_eq!(n, exps[i].live as isize, "export count");
            }
            10 => {
                // a view that owns its description, directly or through a custom exporter
                let desc = make_desc(&mut u);
                let f = flags(&mut u);
                let custom = u.ratio(1u8, 2).unwrap_or(false);
                let mut view = Box::new(pybuf_buffer::zeroed());
                let c = Custom { desc: desc.raw };
                let obj = pybuf_object { procs: &CUSTOM_PROCS, exporter: &c as *const Custom as *mut c_void };
                // SAFETY: a description with ARRAY-entry arrays; `c` outlives the call.
                let rc = unsafe {
                    if custom {
                        pybuf_object_get_buffer(&obj, &mut *view, f)
                    } else {
                        pybuf_fill_view(&mut *view, &desc.raw, f)
                    }
                };
                let what = format!("fill_view(custom {custom}, flags {f:#x}) of {}", desc._view.describe());
                match &desc.geo {
                    None => assert_failed(rc, &what),
                    Some(g) => {
                        let reasons = refusals(g, f);
                        if reasons.is_empty() {
                            assert_ok(rc, &what);
                            check_filled(&view, g, desc.backed, f, &what);
                            if custom {
                                custom_live += 1;
                            }
                            // the view owns copies: the description may go now... but
                            // its memory must stay: keep it alive with the view
                            views.push(View { view, owner: if custom { Owner::Custom } else { Owner::Own } });
                            KEEP.with(|k| k.borrow_mut().push(desc));
                        } else {
                            assert_failed(rc, &what);
                            if !custom {
                                assert!(reasons.contains(&rc), "{what}: {rc} not in {reasons:?}");
                            }
                        }
                    }
                }
            }
            _ if !views.is_empty() => {
                // a derived view holds an export of the same exporter
                let j = u.int_in_range(0..=views.len() - 1).unwrap_or(0);
                let src = &views[j];
                if src.view.ndim < 1 || src.view.shape.is_null() {
                    continue;
                }
                let ex = match src.owner {
                    Owner::Exporter(i) => Some(i),
                    _ => None,
                };
                let mut dst = Box::new(pybuf_buffer::zeroed());
                let step = *u.choose(&[1isize, -1, 2, PYBUF_SLICE_NONE_]).unwrap_or(&1);
                // SAFETY: a live view.
                let rc = unsafe { pybuf_slice(&mut *dst, &*src.view, 0, PYBUF_SLICE_NONE_, PYBUF_SLICE_NONE_, step) };
                if src.view.suboffsets.is_null() || rc == 0 {
                    assert_ok(rc, "slice of a filled view");
                    if let Some(i) = ex {
                        exps[i].live += 1;
                    }
                    let owner = match ex {
                        Some(i) => Owner::Exporter(i),
                        None => Owner::Own,
                    };
                    views.push(View { view: dst, owner });
                }
            }
            _ => {
                // foreign views are refused, untouched
                let mut v = pybuf_buffer::zeroed();
                v.internal = u.arbitrary::<usize>().unwrap_or(0) as *mut c_void;
                if !v.internal.is_null() {
                    let before = format!("{v:?}");
                    // SAFETY: never dereferenced by pybuf (it checks its registry).
                    unsafe { pybuf_release(&mut v) };
                    assert_failed_with(pybuf_last_status(), &[FOREIGN_VIEW], "releasing a foreign view");
                    assert_eq!(format!("{v:?}"), before);
                }
                // SAFETY: NULL handles.
                unsafe {
                    assert_eq!(pybuf_exporter_exports(std::ptr::null()), -1);
                    assert_failed_with(pybuf_last_status(), &[NULL_POINTER], "exports(NULL)");
                    pybuf_exporter_free(std::ptr::null_mut());
                    pybuf_release(std::ptr::null_mut());
                }
            }
        }
        // owner callbacks run exactly when the last reference and view are gone
        for e in &exps {
            let calls = OWNER_CALLS.with(|c| c.borrow()[e.id]);
            let gone = e.refs == 0 && e.live == 0;
            assert_eq!(calls, usize::from(gone), "exporter {}: {calls} owner calls, refs {} live {}", e.id, e.refs, e.live);
            if e.refs > 0 {
                // SAFETY: a live handle.
                assert_eq!(unsafe { pybuf_exporter_exports(e.handle) }, e.live as isize);
            }
        }
    }
    // tear down: every view released, every reference given back
    for mut v in views.drain(..) {
        // SAFETY: a live view.
        unsafe { pybuf_release(&mut *v.view) };
        assert_eq!(pybuf_last_status(), 0, "release: {}", last_message());
        match v.owner {
            Owner::Exporter(i) => exps[i].live -= 1,
            Owner::Custom => custom_live -= 1,
            Owner::Own => {}
        }
    }
    assert_eq!(custom_live, 0);
    for e in &mut exps {
        while e.refs > 0 {
            // SAFETY: a live handle.
            unsafe { pybuf_exporter_free(e.handle) };
            e.refs -= 1;
        }
        assert_eq!(OWNER_CALLS.with(|c| c.borrow()[e.id]), 1, "exporter {}: owner not called exactly once", e.id);
    }
    KEEP.with(|k| k.borrow_mut().clear());
    let _ = CUSTOM_RELEASES.with(|c| *c.borrow());
});

const PYBUF_SLICE_NONE_: isize = isize::MIN;

thread_local! {
    /// Descriptions whose memory views still use.
    static KEEP: RefCell<Vec<Desc>> = const { RefCell::new(Vec::new()) };
}
