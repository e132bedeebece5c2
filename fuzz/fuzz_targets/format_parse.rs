//! The PEP 3118 format parser and everything built on it: `pybuf_size_from_format`,
//! `pybuf_format_parse` and the handle's accessors (fields, nested handles, leaves,
//! runs, canonical string, equality, compatibility), `pybuf_check_format`, and the
//! array-interface conversions in both directions. The input is the format string (up
//! to its first NUL byte).
//!
//! Checked: a malformed string is refused with a message; a parsed one has one item
//! size everywhere, fields, leaves and runs inside the item, runs in offset order, a
//! canonical string that parses back to an equal format, and output buffers written
//! only within their size.
#![no_main]

use std::ffi::{c_char, c_int, CStr, CString};
use std::mem::MaybeUninit;

use libfuzzer_sys::fuzz_target;
use pybuf::abi::pybuf_buffer;
use pybuf::ffi::error::pybuf_last_status;
use pybuf::ffi::format::*;
use pybuf::ffi::interop::{pybuf_format_from_descr, pybuf_format_from_typestr, pybuf_format_to_descr, pybuf_format_to_typestr};
use pybuf_fuzz::{assert_failed, assert_failed_with, assert_ok, last_message, Guarded};

const INVALID_ARGUMENT: c_int = -2;
const INDEX_OUT_OF_RANGE: c_int = -10;
const INVALID_FORMAT: c_int = -11;
const UNSUPPORTED_FORMAT: c_int = -12;
const OVERFLOW: c_int = -9;
const FORMAT_MISMATCH: c_int = -20;

/// Work limits per input, so that a format with a huge repeat stays fast.
const MAX_VISITS: usize = 5000;

fuzz_target!(|data: &[u8]| {
    let bytes: Vec<u8> = data.iter().take_while(|&&b| b != 0).take(2048).copied().collect();
    let s = CString::new(bytes).unwrap();
    let text = s.to_string_lossy().into_owned();
    // SAFETY: a NUL-terminated string.
    let size = unsafe { pybuf_size_from_format(s.as_ptr()) };
    let size_status = pybuf_last_status();
    let mut f: *mut pybuf_format = std::ptr::null_mut();
    // SAFETY: as above.
    let rc = unsafe { pybuf_format_parse(s.as_ptr(), &mut f) };
    if rc != 0 {
        assert_failed_with(rc, &[INVALID_FORMAT, UNSUPPORTED_FORMAT, OVERFLOW], &format!("parse {text:?}"));
        assert!(f.is_null(), "out written on failure");
        assert_eq!(size, -1, "size_from_format({text:?}) = {size} but parse failed");
        assert_eq!(size_status, rc, "size_from_format and parse disagree on {text:?}");
        conversions(&s, None);
        return;
    }
    assert_ok(rc, &format!("parse {text:?}"));
    // SAFETY: a live handle from here to pybuf_format_free.
    unsafe {
        let itemsize = pybuf_format_itemsize(f);
        assert!(itemsize >= 0);
        assert_eq!(size, itemsize, "size_from_format and the handle disagree on {text:?}");
        assert!(pybuf_format_alignment(f) >= 1);
        let mut visits = 0;
        check_fields(f, itemsize, &text, &mut visits, 0);
        check_leaves(f, itemsize, &text);
        check_runs(f, itemsize, &text);
        assert_eq!(pybuf_format_equal(f, f), 1);
        assert_eq!(pybuf_format_compatible(f, f), 1, "{text:?} not compatible with itself: {}", last_message());

        // the canonical string parses back to an equal format
        let canon = pybuf_format_canonical(f);
        assert!(!canon.is_null());
        let canon_text = CStr::from_ptr(canon).to_string_lossy().into_owned();
        let mut g: *mut pybuf_format = std::ptr::null_mut();
        let rc = pybuf_format_parse(canon, &mut g);
        assert_ok(rc, &format!("parse canonical {canon_text:?} of {text:?}"));
        assert_eq!(pybuf_format_equal(f, g), 1, "canonical {canon_text:?} of {text:?}: {}", last_message());
        assert_eq!(pybuf_format_itemsize(g), itemsize, "canonical {canon_text:?} of {text:?}");
        assert_eq!(CStr::from_ptr(pybuf_format_canonical(g)).to_string_lossy(), canon_text, "canonical is not a fixed point");
        pybuf_format_free(g);

        // a view of one item of this format matches it
        if (1..=4096).contains(&itemsize) {
            let mut mem = vec![0u8; itemsize as usize];
            let mut shape = [1isize];
            let view = pybuf_buffer {
                buf: mem.as_mut_ptr().cast(),
                len: itemsize,
                itemsize,
                ndim: 1,
                format: s.as_ptr() as *mut c_char,
                shape: shape.as_mut_ptr(),
                ..pybuf_buffer::zeroed()
            };
            let rc = pybuf_check_format(&view, s.as_ptr());
            assert_ok(rc, &format!("check_format of a view of {text:?} against itself"));
            let rc = pybuf_check_format_ex(&view, s.as_ptr(), 1, b'C' as c_char);
            assert_ok(rc, &format!("check_format_ex of a view of {text:?} against itself"));
            let rc = pybuf_check_format_ex(&view, s.as_ptr(), 2, 0);
            assert_failed_with(rc, &[FORMAT_MISMATCH], "check_format_ex with another ndim");
        }
        conversions(&s, Some(itemsize));
        pybuf_format_free(f);
    }
});

/// Fields lie inside the item; nested handles are consistent and cannot be freed.
///
/// # Safety
/// `f` is a live handle.
unsafe fn check_fields(f: *const pybuf_format, itemsize: isize, text: &str, visits: &mut usize, depth: usize) {
    assert!(depth <= 65, "nesting deeper than the parser allows");
    let count = unsafe { pybuf_format_field_count(f) };
    assert!(count >= 0);
    // written only on success (an enum field cannot be zeroed)
    let mut slot = MaybeUninit::<pybuf_format_field>::uninit();
    let rc = unsafe { pybuf_format_get_field(f, count, slot.as_mut_ptr()) };
    assert_failed_with(rc, &[INDEX_OUT_OF_RANGE], "get_field(count)");
    let rc = unsafe { pybuf_format_get_field(f, -1, slot.as_mut_ptr()) };
    assert_failed_with(rc, &[INDEX_OUT_OF_RANGE], "get_field(-1)");
    for i in 0..count {
        *visits += 1;
        if *visits > MAX_VISITS {
            return;
        }
        let rc = unsafe { pybuf_format_get_field(f, i, slot.as_mut_ptr()) };
        assert_ok(rc, "get_field");
        let out = unsafe { slot.assume_init() };
        let what = format!("field {i} of {text:?} (item size {itemsize}): {out:?}");
        assert!(out.offset >= 0 && out.size >= 0 && out.element_size >= 0, "{what}");
        assert!(out.offset as i128 + out.size as i128 <= itemsize as i128, "{what}: outside the item");
        assert!(out.alignment >= 1, "{what}");
        assert!(out.ndim >= 0 && (out.ndim == 0) == out.shape.is_null(), "{what}");
        let code = unsafe { CStr::from_ptr(out.code.as_ptr()) }.to_bytes();
        assert!(!code.is_empty() && code.len() <= 3, "{what}");
        if code == b"T{}" {
            assert!(!out.nested.is_null(), "{what}: a struct without a nested handle");
            let nested = out.nested as *mut pybuf_format;
            let inner = unsafe { pybuf_format_itemsize(nested) };
            assert_eq!(inner, out.element_size, "{what}: nested item size");
            unsafe { pybuf_format_free(nested) };
            assert_failed_with(pybuf_last_status(), &[INVALID_ARGUMENT], "freeing a nested handle");
            unsafe { check_fields(nested, inner, text, visits, depth + 1) };
        } else {
            assert!(out.nested.is_null(), "{what}: a nested handle on a non-struct");
        }
    }
}

/// # Safety
/// `f` is a live handle.
unsafe fn check_leaves(f: *const pybuf_format, itemsize: isize, text: &str) {
    let count = unsafe { pybuf_format_leaf_count(f) };
    assert!(count >= 0);
    let mut slot = MaybeUninit::<pybuf_format_leaf>::uninit();
    let rc = unsafe { pybuf_format_get_leaf(f, count, slot.as_mut_ptr()) };
    assert_failed_with(rc, &[INDEX_OUT_OF_RANGE], "get_leaf(count)");
    for i in 0..count.min(MAX_VISITS as isize) {
        let rc = unsafe { pybuf_format_get_leaf(f, i, slot.as_mut_ptr()) };
        assert_ok(rc, "get_leaf");
        let out = unsafe { slot.assume_init() };
        let what = format!("leaf {i} of {text:?} (item size {itemsize}): {out:?}");
        assert!(out.offset >= 0 && out.size >= 0 && out.count >= 0, "{what}");
        assert!((0..=64).contains(&out.nrepeats) && (out.nrepeats == 0) == out.repeats.is_null(), "{what}");
        if out.count == 0 || out.size == 0 {
            continue;
        }
        // the last byte of the last value
        let mut end = out.offset as i128 + out.count as i128 * out.size as i128;
        for r in 0..out.nrepeats as usize {
            let rep = unsafe { *out.repeats.add(r) };
            assert!(rep.count >= 0 && rep.stride >= 0, "{what}: repeat {rep:?}");
            if rep.count == 0 {
                end = 0;
                break;
            }
            end += (rep.count as i128 - 1) * rep.stride as i128;
        }
        assert!(end <= itemsize as i128, "{what}: ends at {end}, outside the item");
    }
}

/// # Safety
/// `f` is a live handle.
unsafe fn check_runs(f: *const pybuf_format, itemsize: isize, text: &str) {
    let mut it: *mut pybuf_format_runs = std::ptr::null_mut();
    assert_ok(unsafe { pybuf_format_runs_new(f, &mut it) }, "runs_new");
    let mut slot = MaybeUninit::<pybuf_format_run>::uninit();
    let mut prev_end = 0i128;
    let mut finished = false;
    for j in 0..MAX_VISITS {
        let r = unsafe { pybuf_format_runs_next(it, slot.as_mut_ptr()) };
        if r == 0 {
            finished = true;
            break;
        }
        assert_eq!(r, 1, "runs_next: {}", last_message());
        let out = unsafe { slot.assume_init() };
        let what = format!("run {j} of {text:?} (item size {itemsize}): {out:?}");
        assert!(out.size >= 0 && out.count >= 0 && out.offset >= 0, "{what}");
        if out.size == 0 || out.count == 0 {
            // a run of no bytes ("0N", "0s"): pybuf reports zero-count items as runs
            continue;
        }
        assert!(out.offset as i128 >= prev_end, "{what}: not in offset order (previous ended at {prev_end})");
        prev_end = out.offset as i128 + out.size as i128 * out.count as i128;
        assert!(prev_end <= itemsize as i128, "{what}: outside the item");
    }
    if finished {
        for _ in 0..2 {
            assert_eq!(unsafe { pybuf_format_runs_next(it, slot.as_mut_ptr()) }, 0, "runs after the end");
        }
    }
    unsafe { pybuf_format_runs_free(it) };
}

/// `out` buffers written within their size, and the array-interface round trip keeps the
/// item size. The same input is also tried as a typestr and as a descr.
fn conversions(s: &CString, itemsize: Option<isize>) {
    type Conv = unsafe extern "C" fn(*const c_char, *mut c_char, isize) -> isize;
    let run = |conv: Conv, input: &CStr| -> Option<String> {
        // SAFETY: NULL with size 0 asks for the length.
        let len = unsafe { conv(input.as_ptr(), std::ptr::null_mut(), 0) };
        if len < 0 {
            assert_failed(len as c_int, "conversion");
            return None;
        }
        let mut small = Guarded::new(len as usize, 0x77);
        // SAFETY: `len` bytes: one too few for the NUL.
        let r = unsafe { conv(input.as_ptr(), small.ptr().cast(), len) };
        assert_failed_with(r as c_int, &[-8], "conversion into a buffer without room for the NUL");
        assert!(small.data().iter().all(|&b| b == 0x77), "written although it did not fit");
        small.assert_guards("conversion");
        let mut out = Guarded::new(len as usize + 1, 0x77);
        // SAFETY: room for the text and its NUL.
        let r = unsafe { conv(input.as_ptr(), out.ptr().cast(), len + 1) };
        assert_eq!(r, len, "the length differs from the one announced: {}", last_message());
        out.assert_guards("conversion");
        assert_eq!(out.data()[len as usize], 0, "no NUL");
        Some(String::from_utf8_lossy(&out.data()[..len as usize]).into_owned())
    };
    unsafe extern "C" fn from_typestr(s: *const c_char, o: *mut c_char, n: isize) -> isize {
        // SAFETY: forwarded.
        unsafe { pybuf_format_from_typestr(s, o, n) }
    }
    unsafe extern "C" fn from_descr(s: *const c_char, o: *mut c_char, n: isize) -> isize {
        // SAFETY: forwarded.
        unsafe { pybuf_format_from_descr(s, o, n) }
    }
    unsafe extern "C" fn to_typestr(s: *const c_char, o: *mut c_char, n: isize) -> isize {
        // SAFETY: forwarded.
        unsafe { pybuf_format_to_typestr(s, 0, o, n) }
    }
    unsafe extern "C" fn to_descr(s: *const c_char, o: *mut c_char, n: isize) -> isize {
        // SAFETY: forwarded.
        unsafe { pybuf_format_to_descr(s, 0, o, n) }
    }
    // the input read as a typestr and as a descr: whatever comes out is a format
    for conv in [from_typestr as Conv, from_descr as Conv] {
        if let Some(fmt) = run(conv, s) {
            let c = CString::new(fmt.clone()).expect("no NUL inside");
            // SAFETY: a C string.
            let n = unsafe { pybuf_size_from_format(c.as_ptr()) };
            assert!(n >= 0, "the format {fmt:?} made from {s:?} does not parse: {}", last_message());
        }
    }
    // an empty format (item size 0) has no array-interface form that converts back
    let Some(itemsize) = itemsize.filter(|&i| i > 0) else { return };
    if let Some(t) = run(to_typestr, s) {
        let c = CString::new(t.clone()).unwrap();
        let back = run(from_typestr, &c);
        assert!(back.is_some() || zero_size_type(&t), "{s:?} -> typestr {t:?} does not convert back: {}", last_message());
        if let Some(back) = back {
            let b = CString::new(back.clone()).unwrap();
            // SAFETY: a C string.
            let n = unsafe { pybuf_size_from_format(b.as_ptr()) };
            assert_eq!(n, itemsize, "{s:?} -> typestr {t:?} -> {back:?}: item size");
        }
    }
    if let Some(d) = run(to_descr, s) {
        let c = CString::new(d.clone()).unwrap();
        let Some(back) = run(from_descr, &c) else {
            // zero-size members ("0w" gives '<U0') have no PEP 3118 form: known, refused
            assert!(zero_size_type(&d), "{s:?} -> descr {d:?} does not convert back: {}", last_message());
            return;
        };
        let b = CString::new(back.clone()).unwrap();
        // SAFETY: a C string.
        let n = unsafe { pybuf_size_from_format(b.as_ptr()) };
        assert_eq!(n, itemsize, "{s:?} -> descr {d:?} -> {back:?}: item size");
    }
}

/// Whether an array-interface text has a type of size 0 (`<U0`, `|S0`, `|V0`).
fn zero_size_type(text: &str) -> bool {
    let b = text.as_bytes();
    (1..b.len()).any(|i| b[i] == b'0' && b[i - 1].is_ascii_alphabetic() && b.get(i + 1).is_none_or(|c| !c.is_ascii_digit()))
}
