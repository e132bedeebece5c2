//! Random valid and malformed layouts through every consumer function, checked against
//! the reference model of `pybuf_fuzz`: `pybuf_to_contiguous`, `pybuf_from_contiguous`
//! and `pybuf_copy` must produce exactly the reference's bytes (overlapping memory
//! included) and write nothing else; malformed views must be refused with a message and
//! nothing written; `pybuf_is_contiguous`, `pybuf_get_pointer`, `pybuf_iter_*`,
//! `pybuf_extent`, `pybuf_validate`, `pybuf_equal` and `pybuf_fill_contiguous_strides`
//! must agree with the reference.
#![no_main]

use std::ffi::{c_char, c_int, c_void};

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use pybuf::abi::pybuf_buffer;
use pybuf::ffi::buffer::{pybuf_fill_contiguous_strides, pybuf_get_pointer, pybuf_is_contiguous};
use pybuf::ffi::copy::{pybuf_copy, pybuf_from_contiguous, pybuf_to_contiguous};
use pybuf::ffi::error::pybuf_last_status;
use pybuf::ffi::view::{
    pybuf_equal, pybuf_extent, pybuf_iter, pybuf_iter_free, pybuf_iter_new, pybuf_iter_next, pybuf_validate,
};
use pybuf_fuzz::*;

const OK: c_int = 0;
const NULL_POINTER: c_int = -1;
const INVALID_ARGUMENT: c_int = -2;
const INVALID_NDIM: c_int = -3;
const INVALID_SHAPE: c_int = -4;
const INVALID_ITEMSIZE: c_int = -5;
const INVALID_STRIDES: c_int = -6;
const LENGTH_MISMATCH: c_int = -8;
const OVERFLOW: c_int = -9;
const INDEX_OUT_OF_RANGE: c_int = -10;
const READ_ONLY: c_int = -13;
const SHAPE_MISMATCH: c_int = -14;
const VALUE_MISMATCH: c_int = -26;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let arena = Arena::new(&mut u);
    let v = TestView::generate(&mut u, &arena, 0, &Hint::default());
    for _ in 0..3 {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0u8..=10).unwrap_or(0) {
            0 => is_contiguous(&mut u, &v),
            1 => get_pointer(&mut u, &v),
            2 => fill_contiguous_strides(&mut u),
            3 | 4 => to_contiguous(&mut u, &arena, &v),
            5 => from_contiguous(&mut u, &arena, &v),
            6 | 7 => copy(&mut u, &arena, &v),
            8 => validate_and_extent(&mut u, &arena, &v),
            9 => iterate(&mut u, &v),
            _ => equal(&mut u, &v),
        }
    }
});

/// A view pybuf must refuse: the call fails, with a message.
fn refused(rc: c_int, v: &TestView, what: &str) {
    assert_failed(rc, &format!("{what} on a malformed {}", v.describe()));
}

fn is_contiguous(u: &mut Unstructured<'_>, v: &TestView) {
    let order = order_char(u);
    if u.ratio(1u8, 50).unwrap_or(false) {
        // SAFETY: NULL is handled.
        assert_eq!(unsafe { pybuf_is_contiguous(std::ptr::null(), b'C' as c_char) }, 0);
        assert_failed_with(pybuf_last_status(), &[NULL_POINTER], "is_contiguous(NULL)");
        return;
    }
    // SAFETY: the view's arrays have ARRAY entries.
    let got = unsafe { pybuf_is_contiguous(v.ptr(), order as c_char) };
    match &v.geo {
        None => {
            assert_eq!(got, 0, "is_contiguous of a malformed {}", v.describe());
            refused(pybuf_last_status(), v, "is_contiguous");
        }
        Some(g) => {
            assert_eq!(got == 1, g.contiguous(order), "is_contiguous({}) of {}", order as char, v.describe());
            assert_eq!(pybuf_last_status(), OK);
        }
    }
}

fn get_pointer(u: &mut Unstructured<'_>, v: &TestView) {
    let mut idx = [0isize; ARRAY];
    let Some(g) = &v.geo else {
        // SAFETY: idx has ARRAY entries.
        let p = unsafe { pybuf_get_pointer(v.ptr(), idx.as_ptr()) };
        assert!(p.is_null());
        refused(pybuf_last_status(), v, "get_pointer");
        return;
    };
    if v.raw.ndim == 0 {
        // SAFETY: a 0-d view needs no indices.
        let p = unsafe { pybuf_get_pointer(v.ptr(), std::ptr::null()) };
        assert_eq!(p as *mut u8, g.buf);
        return;
    }
    let n = g.ndim();
    let mut in_range = true;
    for k in 0..n {
        idx[k] = if u.ratio(1u8, 12).unwrap_or(false) {
            *u.choose(&[-1, g.shape[k], g.shape[k] + 1, isize::MIN, isize::MAX]).unwrap_or(&-1)
        } else if g.shape[k] > 0 {
            u.int_in_range(0..=g.shape[k] - 1).unwrap_or(0)
        } else {
            0
        };
        in_range &= idx[k] >= 0 && idx[k] < g.shape[k];
    }
    let null_indices = u.ratio(1u8, 30).unwrap_or(false);
    if in_range && !null_indices && g.has_indirection() && !v.backed {
        return; // pybuf would read pointers that are not there
    }
    let ip = if null_indices { std::ptr::null() } else { idx.as_ptr() };
    // SAFETY: indices has ARRAY entries; the view is backed or direct.
    let p = unsafe { pybuf_get_pointer(v.ptr(), ip) };
    if null_indices {
        assert!(p.is_null());
        assert_failed_with(pybuf_last_status(), &[NULL_POINTER], "get_pointer(indices NULL)");
    } else if !in_range {
        assert!(p.is_null(), "get_pointer out of range {:?} gave {p:p}", &idx[..n]);
        assert_failed_with(pybuf_last_status(), &[INDEX_OUT_OF_RANGE], "get_pointer out of range");
    } else {
        // SAFETY: backed (or no indirection, so nothing is read).
        let want = unsafe { g.addr(&idx[..n]) };
        assert_eq!(p as *mut u8, want, "get_pointer({:?}) of {}", &idx[..n], v.describe());
    }
}

fn fill_contiguous_strides(u: &mut Unstructured<'_>) {
    let ndim: c_int = match u.int_in_range(0u8..=9).unwrap_or(0) {
        0 => *u.choose(&[-1, 65, i32::MIN, 64]).unwrap_or(&-1),
        _ => u.int_in_range(0..=6).unwrap_or(0),
    };
    let mut shape = [1isize; ARRAY];
    let n = ndim.clamp(0, 64) as usize;
    for s in shape.iter_mut().take(n) {
        *s = match u.int_in_range(0u8..=15).unwrap_or(0) {
            0 => *u.choose(&[-1, isize::MIN, isize::MAX, 1 << 32, (1 << 31) + 1]).unwrap_or(&-1),
            _ => u.int_in_range(0..=7).unwrap_or(1),
        };
    }
    let itemsize = match u.int_in_range(0u8..=10).unwrap_or(0) {
        0 => *u.choose(&[0, -1, isize::MIN, isize::MAX, 1 << 40]).unwrap_or(&0),
        _ => u.int_in_range(1..=16).unwrap_or(1),
    };
    let order = order_char(u);
    let null_shape = u.ratio(1u8, 30).unwrap_or(false);
    let null_strides = u.ratio(1u8, 30).unwrap_or(false);
    let mut out = Guarded::new(ARRAY * 8, 0x5A);
    let before = out.mem.clone();
    let sp = if null_shape { std::ptr::null() } else { shape.as_ptr() };
    let op = if null_strides { std::ptr::null_mut() } else { out.ptr().cast::<isize>() };
    // SAFETY: the arrays have ARRAY entries.
    let rc = unsafe { pybuf_fill_contiguous_strides(ndim, sp, op, itemsize, order as c_char) };
    // the reference
    let mut expected = Vec::new();
    let mut errors = Vec::new();
    if !(0..=64).contains(&ndim) {
        errors.push(INVALID_NDIM);
    } else {
        if n > 0 && (null_shape || null_strides) {
            errors.push(NULL_POINTER);
        }
        if !valid_order(order) {
            errors.push(INVALID_ARGUMENT);
        }
        if itemsize <= 0 {
            errors.push(INVALID_ITEMSIZE);
        }
        if shape[..n].iter().any(|&s| s < 0) {
            errors.push(INVALID_SHAPE);
        }
        if errors.is_empty() {
            let dims: Vec<usize> = if order == b'F' { (0..n).collect() } else { (0..n).rev().collect() };
            let mut sd = Some(itemsize);
            expected = vec![0isize; n];
            for &k in &dims {
                match sd {
                    Some(s) => {
                        expected[k] = s;
                        sd = s.checked_mul(shape[k]);
                    }
                    None => break,
                }
            }
            // product(shape): 0 if any entry is 0 (however large the others), else checked.
            let product = if shape[..n].contains(&0) {
                Some(0)
            } else {
                shape[..n].iter().try_fold(1isize, |p, &s| p.checked_mul(s))
            };
            if sd.is_none() || product.is_none() {
                errors.push(OVERFLOW);
            }
        }
    }
    let what = format!("fill_contiguous_strides(ndim {ndim}, shape {:?}, itemsize {itemsize}, order {order})", &shape[..n.min(8)]);
    out.assert_guards(&what);
    if errors.is_empty() {
        assert_ok(rc, &what);
        let got: Vec<isize> = out.data()[..n * 8].chunks(8).map(|c| isize::from_ne_bytes(c.try_into().unwrap())).collect();
        assert_eq!(got, expected, "{what}");
        assert!(out.data()[n * 8..].iter().all(|&b| b == 0x5A), "{what}: wrote past ndim entries");
    } else {
        assert_failed_with(rc, &errors, &what);
        assert_eq!(out.mem, before, "{what}: strides written on failure");
    }
}

/// Where a contiguous buffer of `len` bytes goes: a separate guarded buffer, or inside the
/// arena's data (overlapping the view's memory, perhaps).
enum Place {
    Separate(Guarded),
    InArena(*mut u8),
}

fn place(u: &mut Unstructured<'_>, arena: &Arena, len: usize, fill: u8) -> Place {
    if len <= DATA && u.ratio(1u8, 3).unwrap_or(false) {
        let off = u.int_in_range(0..=DATA - len).unwrap_or(0);
        Place::InArena(arena.data().wrapping_add(off))
    } else {
        Place::Separate(Guarded::new(len, fill))
    }
}

/// Reference bytes of every element of `g`, in `order`, from the arena as it is now.
///
/// # Safety
/// `g` is backed.
unsafe fn gather(g: &Geo, order: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(g.len.max(0) as usize);
    for idx in g.indices(order, usize::MAX) {
        // SAFETY: backed.
        out.extend(unsafe { read_bytes(g.addr(&idx), g.itemsize as usize) });
    }
    out
}

fn to_contiguous(u: &mut Unstructured<'_>, arena: &Arena, v: &TestView) {
    let order = order_char(u);
    if v.geo.is_some() && !v.backed {
        return;
    }
    let vlen = v.raw.len;
    let len = match u.int_in_range(0u8..=15).unwrap_or(0) {
        0 => vlen.wrapping_add(*u.choose(&[1, -1, 8, isize::MIN]).unwrap_or(&1)),
        _ => vlen,
    };
    let buf_len = len.clamp(0, 1 << 16) as usize;
    let mut dst = place(u, arena, buf_len, 0x3C);
    let null_dst = u.ratio(1u8, 40).unwrap_or(false);
    let dptr = match &mut dst {
        _ if null_dst => std::ptr::null_mut(),
        Place::Separate(g) => g.ptr(),
        Place::InArena(p) => *p,
    };
    let before_arena = arena.snapshot();
    let before_dst = match &dst {
        Place::Separate(g) => g.mem.clone(),
        Place::InArena(_) => Vec::new(),
    };
    // the reference first: the source read whole before anything is written
    let expected = v.backed_geo().map(|g| {
        // SAFETY: backed.
        unsafe { gather(g, g.effective_order(order)) }
    });
    // SAFETY: dst holds `len` bytes when len is the view's len (pybuf must check).
    let rc = unsafe { pybuf_to_contiguous(dptr.cast::<c_void>(), v.ptr(), len, order as c_char) };
    let what = format!("to_contiguous(order {}, len {len}) of {}", order as char, v.describe());
    let untouched = |what: &str| {
        arena.assert_equals(&before_arena, what);
        if let Place::Separate(g) = &dst {
            assert_eq!(g.mem, before_dst, "{what}: dst written on failure");
        }
    };
    let Some(g) = &v.geo else {
        refused(rc, v, "to_contiguous");
        untouched(&what);
        return;
    };
    let mut errors = Vec::new();
    if !valid_order(order) {
        errors.push(INVALID_ARGUMENT);
    }
    if len != g.len {
        errors.push(LENGTH_MISMATCH);
    }
    if null_dst && len > 0 {
        errors.push(NULL_POINTER);
    }
    if !errors.is_empty() {
        assert_failed_with(rc, &errors, &what);
        untouched(&what);
        return;
    }
    assert_ok(rc, &what);
    let expected = expected.expect("backed");
    match &dst {
        Place::Separate(b) => {
            b.assert_guards(&what);
            assert!(b.data() == expected.as_slice(), "{what}: wrong bytes");
            arena.assert_equals(&before_arena, &what);
        }
        Place::InArena(p) => {
            let mut want = before_arena.clone();
            if !null_dst {
                let off = arena.offset(*p);
                want[off..off + expected.len()].copy_from_slice(&expected);
            }
            arena.assert_equals(&want, &format!("{what} (dst in the arena)"));
        }
    }
}

fn from_contiguous(u: &mut Unstructured<'_>, arena: &Arena, v: &TestView) {
    let order = order_char(u);
    if v.geo.is_some() && !v.backed {
        return;
    }
    let vlen = v.raw.len.max(0);
    let len: isize = match u.int_in_range(0u8..=9).unwrap_or(0) {
        0 => -1,
        1..=3 => u.int_in_range(0..=vlen + 16).unwrap_or(0),
        _ => vlen,
    };
    let buf_len = len.clamp(0, 1 << 16) as usize;
    let mut src = place(u, arena, buf_len, 0);
    if let Place::Separate(g) = &mut src {
        let seed: u8 = u.arbitrary().unwrap_or(7);
        for (i, b) in g.mem[GUARD..GUARD + buf_len].iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8).rotate_left(i as u32 % 7);
        }
    }
    let null_src = u.ratio(1u8, 40).unwrap_or(false);
    let sptr: *const u8 = match &mut src {
        _ if null_src => std::ptr::null(),
        Place::Separate(g) => g.ptr(),
        Place::InArena(p) => *p,
    };
    let before = arena.snapshot();
    let src_bytes: Vec<u8> = if null_src {
        Vec::new()
    } else {
        // SAFETY: the source holds buf_len bytes.
        unsafe { read_bytes(sptr, buf_len) }
    };
    // SAFETY: src holds `len` bytes; the view is malformed or backed.
    let rc = unsafe { pybuf_from_contiguous(v.ptr(), sptr.cast::<c_void>(), len, order as c_char) };
    let what = format!("from_contiguous(order {}, len {len}) into {}", order as char, v.describe());
    let Some(g) = &v.geo else {
        refused(rc, v, "from_contiguous");
        arena.assert_equals(&before, &what);
        return;
    };
    let mut errors = Vec::new();
    if !valid_order(order) || len < 0 {
        errors.push(INVALID_ARGUMENT);
    }
    if null_src && len > 0 && g.len > 0 {
        errors.push(NULL_POINTER);
    }
    if g.readonly {
        errors.push(READ_ONLY);
    }
    if g.broadcasts() {
        errors.push(INVALID_STRIDES);
    }
    if !errors.is_empty() {
        assert_failed_with(rc, &errors, &what);
        arena.assert_equals(&before, &what);
        return;
    }
    assert_ok(rc, &what);
    if let Place::Separate(s) = &src {
        s.assert_guards(&what);
    }
    // the reference, on the snapshot
    let total = g.len as usize;
    let n = (len as usize).min(total);
    let mut want = before.clone();
    let mut covered = vec![0u8; want.len()];
    if n > 0 {
        let contiguous = g.contiguous(order);
        if contiguous {
            let off = arena.offset(g.buf);
            want[off..off + n].copy_from_slice(&src_bytes[..n]);
            covered[off..off + n].fill(1);
        } else {
            let eff = g.effective_order(order);
            let count = if n == total { g.items() as usize } else { n / g.itemsize as usize };
            let e = g.itemsize as usize;
            for (j, idx) in g.indices(eff, count).iter().enumerate() {
                // SAFETY: backed.
                let off = arena.offset(unsafe { g.addr(idx) });
                want[off..off + e].copy_from_slice(&src_bytes[j * e..(j + 1) * e]);
                for c in &mut covered[off..off + e] {
                    *c = c.saturating_add(1);
                }
            }
        }
    }
    compare_allowing_aliases(arena, &want, &covered, &what);
}

/// The arena equals `want`, except bytes written more than once (order-dependent).
fn compare_allowing_aliases(arena: &Arena, want: &[u8], covered: &[u8], what: &str) {
    if covered.iter().all(|&c| c <= 1) {
        arena.assert_equals(want, what);
        return;
    }
    let now = arena.snapshot();
    for i in 0..want.len() {
        if covered[i] <= 1 {
            assert_eq!(now[i], want[i], "{what}: arena byte {i} (elements alias each other elsewhere)");
        }
    }
}

fn copy(u: &mut Unstructured<'_>, arena: &Arena, a: &TestView) {
    // the source: usually of the same shape and itemsize, in the same arena
    let hint = match (&a.geo, u.ratio(3u8, 4).unwrap_or(false)) {
        (Some(g), true) if !a.raw.shape.is_null() => Hint { shape: Some(g.shape.clone()), itemsize: Some(g.itemsize) },
        _ => Hint::default(),
    };
    let b = TestView::generate(u, arena, 1, &hint);
    let (dst, src) = if u.ratio(1u8, 2).unwrap_or(false) { (a, &b) } else { (&b, a) };
    if (dst.geo.is_some() && !dst.backed) || (src.geo.is_some() && !src.backed) {
        return;
    }
    let null = u.int_in_range(0u8..=40).unwrap_or(0);
    let (dp, sp) = match null {
        0 => (std::ptr::null(), src.ptr()),
        1 => (dst.ptr(), std::ptr::null()),
        _ => (dst.ptr(), src.ptr()),
    };
    let before = arena.snapshot();
    // SAFETY: malformed or backed views.
    let rc = unsafe { pybuf_copy(dp, sp) };
    let what = format!("copy(dst {}, src {})", dst.describe(), src.describe());
    if null <= 1 {
        assert_failed_with(rc, &[NULL_POINTER], &what);
        arena.assert_equals(&before, &what);
        return;
    }
    let (Some(dg), Some(sg)) = (&dst.geo, &src.geo) else {
        assert_failed(rc, &what);
        arena.assert_equals(&before, &what);
        return;
    };
    let mut errors = Vec::new();
    if dg.shape != sg.shape || dg.itemsize != sg.itemsize {
        errors.push(SHAPE_MISMATCH);
    }
    if dg.readonly {
        errors.push(READ_ONLY);
    }
    if dg.broadcasts() {
        errors.push(INVALID_STRIDES);
    }
    if !errors.is_empty() {
        assert_failed_with(rc, &errors, &what);
        arena.assert_equals(&before, &what);
        return;
    }
    assert_ok(rc, &what);
    // the reference: read the whole source (from the snapshot), then write
    let e = dg.itemsize as usize;
    let mut want = before.clone();
    let mut covered = vec![0u8; want.len()];
    for idx in dg.indices(b'C', usize::MAX) {
        // SAFETY: both backed; the pointer tables are never written.
        let (d, s) = unsafe { (arena.offset(dg.addr(&idx)), arena.offset(sg.addr(&idx))) };
        want[d..d + e].copy_from_slice(&before[s..s + e]);
        for c in &mut covered[d..d + e] {
            *c = c.saturating_add(1);
        }
    }
    compare_allowing_aliases(arena, &want, &covered, &what);
}

fn validate_and_extent(u: &mut Unstructured<'_>, arena: &Arena, v: &TestView) {
    let level: c_int = match u.int_in_range(0u8..=12).unwrap_or(0) {
        0 => *u.choose(&[0, 4, -1, i32::MIN]).unwrap_or(&0),
        n => 1 + (n as c_int % 3),
    };
    let (mut base, mut size) = (arena.start() as *const u8, arena.span() as isize);
    let mut shrink = false;
    if let Some(g) = v.backed_geo() {
        if level == 3 && g.items() > 0 && u.ratio(1u8, 3).unwrap_or(false) {
            // a window that misses the lowest byte the view reaches
            let mut lo = usize::MAX;
            let mut hi = 0usize;
            for idx in g.indices(b'C', usize::MAX) {
                // SAFETY: backed.
                let (p, reads) = unsafe { (g.addr(&idx) as usize, g.pointer_reads(&idx)) };
                lo = lo.min(p);
                hi = hi.max(p + g.itemsize as usize);
                for r in reads {
                    lo = lo.min(r as usize);
                    hi = hi.max(r as usize + 8);
                }
            }
            base = (lo + 1) as *const u8;
            size = (hi - lo - 1) as isize;
            shrink = true;
        }
    }
    if level == 3 && u.ratio(1u8, 30).unwrap_or(false) {
        size = -1;
    }
    if v.geo.is_some() && !v.backed && level == 3 {
        // a pointer table outside the arena is never read: pybuf checks it lies in the
        // window first; without suboffsets nothing is read at all
        if v.geo.as_ref().is_some_and(|g| g.has_indirection()) {
            return;
        }
    }
    // SAFETY: base..base+size is the arena when the view is backed.
    let rc = unsafe { pybuf_validate(v.ptr(), level, base.cast(), size) };
    let what = format!("validate(level {level}, shrink {shrink}, size {size}) of {}", v.describe());
    match &v.geo {
        None => refused(rc, v, "validate"),
        Some(_) if !(1..=3).contains(&level) || size < 0 => assert_failed_with(rc, &[INVALID_ARGUMENT], &what),
        Some(_) if shrink => assert_failed_with(rc, &[LENGTH_MISMATCH], &what),
        Some(g) if level == 3 && !v.backed => {
            // direct, but perhaps outside the arena: refused or accepted as the extent says
            let (lo, hi) = g.direct_extent();
            let start = (g.buf as isize).wrapping_add(lo);
            let end = (g.buf as isize).wrapping_add(hi);
            let inside = g.items() == 0 || (start >= base as isize && end <= base as isize + size);
            if inside {
                assert_ok(rc, &what)
            } else {
                assert_failed_with(rc, &[LENGTH_MISMATCH], &what)
            }
        }
        Some(_) => assert_ok(rc, &what),
    }
    // extent
    let mut out = [0x5A5A5A5Aisize; 2];
    if v.geo.as_ref().is_some_and(|g| g.has_indirection()) && !v.backed {
        return;
    }
    // SAFETY: malformed, direct or backed.
    let rc = unsafe { pybuf_extent(v.ptr(), &mut out[0], &mut out[1]) };
    let Some(g) = &v.geo else {
        refused(rc, v, "extent");
        assert_eq!(out, [0x5A5A5A5A; 2], "extent written on failure");
        return;
    };
    let what = format!("extent of {}", v.describe());
    assert_ok(rc, &what);
    let want = if !g.has_indirection() {
        g.direct_extent()
    } else if g.items() == 0 {
        (0, 0)
    } else {
        let (mut lo, mut hi) = (isize::MAX, isize::MIN);
        for idx in g.indices(b'C', usize::MAX) {
            // SAFETY: backed.
            let (p, reads) = unsafe { (g.addr(&idx) as isize, g.pointer_reads(&idx)) };
            lo = lo.min(p - g.buf as isize);
            hi = hi.max(p + g.itemsize - g.buf as isize);
            for r in reads {
                lo = lo.min(r as isize - g.buf as isize);
                hi = hi.max(r as isize + 8 - g.buf as isize);
            }
        }
        (lo, hi)
    };
    assert_eq!((out[0], out[1]), want, "{what}");
}

fn iterate(u: &mut Unstructured<'_>, v: &TestView) {
    let order = order_char(u);
    let mut it: *mut pybuf_iter = std::ptr::null_mut();
    if v.geo.as_ref().is_some_and(|g| g.has_indirection()) && !v.backed {
        return;
    }
    // SAFETY: a malformed, direct or backed view.
    let rc = unsafe { pybuf_iter_new(v.ptr(), order as c_char, &mut it) };
    let Some(g) = &v.geo else {
        refused(rc, v, "iter_new");
        assert!(it.is_null());
        return;
    };
    let what = format!("iter(order {}) of {}", order as char, v.describe());
    if !valid_order(order) {
        assert_failed_with(rc, &[INVALID_ARGUMENT], &what);
        assert!(it.is_null());
        return;
    }
    assert_ok(rc, &what);
    let limit = 2000;
    let want = g.indices(g.effective_order(order), limit);
    let mut idx = Guarded::new(ARRAY * 8, 0);
    let n = v.raw.ndim as usize;
    for (j, w) in want.iter().enumerate() {
        let mut el: *mut c_void = std::ptr::null_mut();
        // SAFETY: idx holds ARRAY entries.
        let r = unsafe { pybuf_iter_next(it, &mut el, idx.ptr().cast()) };
        assert_eq!(r, 1, "{what}: ended at element {j} of {}", want.len());
        // SAFETY: backed or direct.
        assert_eq!(el as *mut u8, unsafe { g.addr(w) }, "{what}: element {j} at {w:?}");
        let got: Vec<isize> = idx.data()[..n * 8].chunks(8).map(|c| isize::from_ne_bytes(c.try_into().unwrap())).collect();
        if n == g.ndim() {
            assert_eq!(&got, w, "{what}: indices of element {j}");
        }
        assert!(idx.data()[n * 8..].iter().all(|&b| b == 0), "{what}: wrote more than ndim indices");
        idx.assert_guards(&what);
    }
    if want.len() < limit {
        for _ in 0..2 {
            // SAFETY: a live iterator.
            assert_eq!(unsafe { pybuf_iter_next(it, std::ptr::null_mut(), std::ptr::null_mut()) }, 0, "{what}: too many elements");
        }
    }
    // SAFETY: made by pybuf_iter_new.
    unsafe { pybuf_iter_free(it) };
}

fn equal(u: &mut Unstructured<'_>, v: &TestView) {
    let Some(g) = v.backed_geo() else {
        if v.geo.is_none() {
            let mut other = v.raw;
            other.readonly = 0;
            // SAFETY: a malformed view; the other side is the same arrays.
            let rc = unsafe { pybuf_equal(v.ptr(), &other) };
            refused(rc, v, "equal");
        }
        return;
    };
    if v.raw.shape.is_null() || v.format.is_none() {
        return;
    }
    // SAFETY: backed.
    let mut copy = unsafe { gather(g, b'C') };
    let flip = g.items() > 0 && u.ratio(1u8, 3).unwrap_or(false);
    if flip {
        let i = u.int_in_range(0..=copy.len() - 1).unwrap_or(0);
        copy[i] ^= 0x40;
    }
    let other = pybuf_buffer {
        buf: copy.as_mut_ptr().cast(),
        strides: std::ptr::null_mut(),
        suboffsets: std::ptr::null_mut(),
        readonly: 1,
        ..v.raw
    };
    // SAFETY: both backed.
    let rc = unsafe { pybuf_equal(v.ptr(), &other) };
    let what = format!("equal(flip {flip}) of {}", v.describe());
    if flip {
        assert_eq!(rc, 0, "{what}");
        assert_failed_with(pybuf_last_status(), &[VALUE_MISMATCH], &what);
    } else {
        assert_eq!(rc, 1, "{what}: {}", last_message());
    }
}
