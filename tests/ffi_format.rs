//! The `extern "C"` format functions, called from Rust as a C caller would, so that
//! their `unsafe` blocks run under Miri (which cannot run `c_tests/`):
//!
//! - `src/ffi/format.rs`: `pybuf_size_from_format`; the `pybuf_format` handle (parse,
//!   free, item size, alignment, fields, leaves, the canonical string, equality, layout
//!   compatibility); the `pybuf_format_runs` iterator; `pybuf_check_format(_ex)`.
//! - `src/ffi/interop.rs`: NumPy's array interface (`pybuf_format_to_typestr`,
//!   `_to_descr`, `pybuf_format_from_typestr`, `_from_descr`) and its `snprintf`-like
//!   output convention.
//!
//! Each function is called on good input (exact sizes, offsets and strings, from
//! `struct.calcsize`, NumPy and the C compiler's layouts as the C tests pin them, or from
//! `#[repr(C)]` structs here) and on every error path: NULL pointers, malformed strings,
//! out-of-range indices, too-small output buffers, freeing NULL. A failing call must leave
//! its output untouched and set a message that says what was wrong.

mod common;
use common::*;

use std::ffi::{c_char, c_int, c_long, c_longlong, c_short, CStr, CString};
use std::mem::{align_of, size_of, MaybeUninit};
use std::ptr;

use pybuf::abi::{pybuf_buffer, pybuf_ssize_t};
use pybuf::error::Status;
use pybuf::ffi::format::{
    pybuf_byte_order, pybuf_check_format, pybuf_check_format_ex, pybuf_format, pybuf_format_alignment,
    pybuf_format_canonical, pybuf_format_compatible, pybuf_format_equal, pybuf_format_field, pybuf_format_field_count,
    pybuf_format_free, pybuf_format_get_field, pybuf_format_get_leaf, pybuf_format_itemsize, pybuf_format_leaf,
    pybuf_format_leaf_count, pybuf_format_parse, pybuf_format_run, pybuf_format_runs, pybuf_format_runs_free,
    pybuf_format_runs_new, pybuf_format_runs_next, pybuf_size_from_format,
};
use pybuf::ffi::interop::{
    pybuf_format_from_descr, pybuf_format_from_typestr, pybuf_format_to_descr, pybuf_format_to_typestr,
};

// -------------------------------------------------------------------------------------
// Helpers

/// The byte-order marker of this machine, and of the other one.
const NATIVE: &str = if cfg!(target_endian = "little") { "<" } else { ">" };
const FOREIGN: &str = if cfg!(target_endian = "little") { ">" } else { "<" };
const NATIVE_ORDER: pybuf_byte_order =
    if cfg!(target_endian = "little") { pybuf_byte_order::Little } else { pybuf_byte_order::Big };

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in a test string")
}

/// The text of a C string the library returned; NULL fails the test.
#[track_caller]
fn text(p: *const c_char) -> String {
    assert!(!p.is_null(), "a NULL string");
    // SAFETY: the library returns NUL-terminated strings that live as long as their handle,
    // which the caller still holds; the text is copied out at once.
    unsafe { CStr::from_ptr(p) }.to_str().expect("ASCII").to_owned()
}

/// A field's, leaf's or run's NUL-terminated `code`.
fn code(chars: &[c_char; 4]) -> String {
    chars.iter().take_while(|&&b| b != 0).map(|&b| b as u8 as char).collect()
}

/// The calling thread's last message, after a call that must have failed with `status`.
#[track_caller]
fn message(status: Status) -> String {
    expect_error(status);
    last().1
}

/// A handle from `pybuf_format_parse`, freed when dropped.
struct Handle(*mut pybuf_format);

impl Handle {
    #[track_caller]
    fn parse(format: &str) -> Handle {
        let s = c(format);
        let mut out = ptr::null_mut();
        // SAFETY: `s` is NUL-terminated and `out` is a writable pointer.
        let rc = unsafe { pybuf_format_parse(s.as_ptr(), &mut out) };
        expect_status(rc, Status::Ok);
        assert!(!out.is_null(), "parse of {format:?} stored NULL");
        Handle(out)
    }

    fn ptr(&self) -> *const pybuf_format {
        self.0
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from pybuf_format_parse and is freed only here.
        unsafe { pybuf_format_free(self.0) };
    }
}

/// Parse `format` and return the status and the handle (NULL on failure), checking that a
/// failure leaves `*out` as it was.
fn try_parse(format: &[u8]) -> (c_int, *mut pybuf_format) {
    let s = CString::new(format).expect("no NUL");
    // A sentinel that a failing parse must not overwrite (never dereferenced).
    let sentinel = ptr::NonNull::<pybuf_format>::dangling().as_ptr();
    let mut out = sentinel;
    // SAFETY: `s` is NUL-terminated and `out` is a writable pointer.
    let rc = unsafe { pybuf_format_parse(s.as_ptr(), &mut out) };
    if rc == 0 {
        assert_ne!(out, sentinel, "a successful parse stored nothing");
        (rc, out)
    } else {
        assert_eq!(out, sentinel, "a failing parse of {} wrote *out", String::from_utf8_lossy(format));
        (rc, ptr::null_mut())
    }
}

/// Bytes for a `T` out-parameter, filled with 0x5A, to check that a failing call leaves
/// it as it was. Kept as bytes (not a `T`: 0x5A5A5A5A is no valid `pybuf_byte_order`) and
/// on the heap: moving a `MaybeUninit<T>` would reset the bytes that are padding in `T`.
struct Slot<T>(Box<MaybeUninit<T>>);

impl<T> Slot<T> {
    fn new() -> Slot<T> {
        let mut slot = Box::new(MaybeUninit::uninit());
        // SAFETY: writing size_of::<T>() bytes into the MaybeUninit<T> the box owns.
        unsafe { ptr::write_bytes(slot.as_mut_ptr(), 0x5A, 1) };
        Slot(slot)
    }
    fn ptr(&mut self) -> *mut T {
        self.0.as_mut_ptr()
    }
    fn untouched(&self) -> bool {
        // SAFETY: every byte was initialised by write_bytes, and a call that failed (the
        // only time this is asked) wrote nothing.
        let bytes = unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), size_of::<T>()) };
        bytes.iter().all(|&b| b == 0x5A)
    }
}

/// Field `index` of `f`, which must exist.
#[track_caller]
fn field(f: *const pybuf_format, index: pybuf_ssize_t) -> pybuf_format_field {
    let mut out = MaybeUninit::uninit();
    // SAFETY: `f` is a live handle and `out` is writable.
    let rc = unsafe { pybuf_format_get_field(f, index, out.as_mut_ptr()) };
    expect_status(rc, Status::Ok);
    // SAFETY: a 0 return means *out was written.
    unsafe { out.assume_init() }
}

/// Leaf `index` of `f`, which must exist.
#[track_caller]
fn leaf(f: *const pybuf_format, index: pybuf_ssize_t) -> pybuf_format_leaf {
    let mut out = MaybeUninit::uninit();
    // SAFETY: `f` is a live handle and `out` is writable.
    let rc = unsafe { pybuf_format_get_leaf(f, index, out.as_mut_ptr()) };
    expect_status(rc, Status::Ok);
    // SAFETY: a 0 return means *out was written.
    unsafe { out.assume_init() }
}

/// The `pybuf_format_runs_next` answers of a fresh iterator on `f`, to the end.
fn runs(f: *const pybuf_format) -> Vec<pybuf_format_run> {
    let mut it = ptr::null_mut();
    // SAFETY: `f` is a live handle and `it` is writable.
    expect_status(unsafe { pybuf_format_runs_new(f, &mut it) }, Status::Ok);
    let mut out = Vec::new();
    loop {
        let mut run = MaybeUninit::uninit();
        // SAFETY: `it` is a live iterator and `run` is writable.
        match unsafe { pybuf_format_runs_next(it, run.as_mut_ptr()) } {
            // SAFETY: 1 means *run was written.
            1 => out.push(unsafe { run.assume_init() }),
            0 => break,
            rc => panic!("pybuf_format_runs_next returned {rc}"),
        }
    }
    expect_ok();
    // SAFETY: `it` came from pybuf_format_runs_new and is freed once.
    unsafe { pybuf_format_runs_free(it) };
    out
}

/// `pybuf_size_from_format(format)`.
fn size_of_format(format: &str) -> pybuf_ssize_t {
    let s = c(format);
    // SAFETY: `s` is NUL-terminated.
    unsafe { pybuf_size_from_format(s.as_ptr()) }
}

/// pybuf_format_equal / _compatible of two strings that parse.
fn equal(a: &str, b: &str) -> c_int {
    let (a, b) = (Handle::parse(a), Handle::parse(b));
    // SAFETY: both handles are live.
    unsafe { pybuf_format_equal(a.ptr(), b.ptr()) }
}

fn compatible(a: &str, b: &str) -> (c_int, String) {
    let (a, b) = (Handle::parse(a), Handle::parse(b));
    // SAFETY: both handles are live.
    let r = unsafe { pybuf_format_compatible(a.ptr(), b.ptr()) };
    (r, last().1) // before the handles' frees clear the message
}

/// An array-interface conversion: `(out, size)` to the returned length or status.
type Convert<'a> = &'a dyn Fn(*mut c_char, pybuf_ssize_t) -> pybuf_ssize_t;

/// Run a conversion that must succeed: ask the length with `(NULL, 0)`, then convert into
/// exactly that many bytes plus the NUL, checking that nothing is written beyond them.
#[track_caller]
fn converted(convert: Convert) -> String {
    let len = convert(ptr::null_mut(), 0);
    expect_ok();
    assert!(len >= 0, "length query returned {len}");
    let mut out = Guarded::new(len as usize + 1);
    assert_eq!(convert(out.ptr().cast(), len + 1), len);
    expect_ok();
    assert!(out.intact(), "wrote outside out[0..size)");
    let (body, nul) = out.inner().split_at(len as usize);
    assert_eq!(nul, [0], "no NUL after the text");
    assert!(!body.contains(&0), "a NUL inside the text");
    String::from_utf8(body.to_vec()).expect("ASCII")
}

/// Run a conversion that must fail with `status` into a 64-byte buffer, which must stay
/// untouched; return the message.
#[track_caller]
fn refused(convert: Convert, status: Status) -> String {
    let mut out = Guarded::new(64);
    assert_eq!(convert(out.ptr().cast(), 64), status as pybuf_ssize_t);
    let message = message(status);
    assert!(out.untouched(), "a failing conversion wrote its output");
    message
}

// -------------------------------------------------------------------------------------
// pybuf_size_from_format

#[test]
fn size_from_format_matches_struct_calcsize() {
    let long = size_of::<c_long>() as pybuf_ssize_t;
    let ptr = size_of::<*const u8>() as pybuf_ssize_t;
    // struct.calcsize on x86-64 Linux; the platform-dependent ones written as C sizes.
    let cases: &[(&str, pybuf_ssize_t)] = &[
        ("d", 8),
        ("ii", 8),
        ("bi", 8),
        ("ib", 5),
        ("3s", 3),
        ("<hi", 6),
        ("=q", 8),
        ("", 0),
        ("<", 0),
        ("P", ptr),
        ("l", long),
        ("<l", 4),
        ("<bhd", 11),
        ("!bhd", 11),
        ("4i", 16),
        ("0i", 0),
        ("b0i", 4),
        ("10p", 10),
        ("2h3b", 7),
        ("10s2i", 20),
        ("<10s2i", 18),
        ("Hb", 3),
        ("c?", 2),
        ("xi", 8),
        ("e", 2),
        // NumPy's itemsize for structs: a T{} carries its trailing padding
        ("T{ib}", 8),
        ("b 3T{i(2)h:z:} 4s", 32),
        ("T{b:a:(2,3)<h:m:T{d:x:}:s:}:top: 2i", 29),
    ];
    for &(format, size) in cases {
        // A failure first, so that a success must reset the last status.
        assert_eq!(size_of_format("ia"), -1);
        assert_eq!(size_of_format(format), size, "pybuf_size_from_format({format:?})");
        expect_ok();
    }
}

#[test]
fn size_from_format_refuses_null_and_malformed_strings() {
    // SAFETY: NULL is a documented argument.
    assert_eq!(unsafe { pybuf_size_from_format(ptr::null()) }, -1);
    assert_eq!(message(Status::NullPointer), "format is NULL");

    let cases: &[(&str, Status, &str)] = &[
        ("ia", Status::InvalidFormat, "format \"ia\" at 1: "),
        ("T{i", Status::InvalidFormat, "format \"T{i\" at 3: "),
        ("i}", Status::InvalidFormat, "format \"i}\" at 1: "),
        ("(2", Status::InvalidFormat, "format \"(2\" at "),
        (":a:", Status::InvalidFormat, "format \":a:\" at 0: "),
        ("<n", Status::InvalidFormat, "format \"<n\" at 1: "),
        ("t", Status::UnsupportedFormat, "format \"t\" at 0: "),
        ("99999999999999999999i", Status::Overflow, "format \"99999999999999999999i\" at 0: "),
    ];
    for &(format, status, prefix) in cases {
        assert_eq!(size_of_format(format), -1, "{format:?}");
        let m = message(status);
        assert!(m.starts_with(prefix), "{format:?}: message {m:?} does not start with {prefix:?}");
        assert!(m.len() > prefix.len(), "{format:?}: no reason in {m:?}");
    }
}

// -------------------------------------------------------------------------------------
// pybuf_format_parse and pybuf_format_free

#[test]
fn parse_then_free() {
    let s = c("ii:n:");
    let mut f = ptr::null_mut();
    // SAFETY: `s` is NUL-terminated and `f` is writable.
    expect_status(unsafe { pybuf_format_parse(s.as_ptr(), &mut f) }, Status::Ok);
    assert!(!f.is_null());
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_itemsize(f) }, 8);
    // An error, which the free must clear.
    assert_eq!(size_of_format("ia"), -1);
    // SAFETY: `f` came from pybuf_format_parse and is freed once.
    unsafe { pybuf_format_free(f) };
    expect_ok();
}

#[test]
fn parse_refuses_null_arguments() {
    let sentinel = ptr::NonNull::<pybuf_format>::dangling().as_ptr();
    let mut out = sentinel;
    // SAFETY: a NULL format is a documented argument; `out` is writable.
    expect_status(unsafe { pybuf_format_parse(ptr::null(), &mut out) }, Status::NullPointer);
    assert_eq!(last().1, "format is NULL");
    assert_eq!(out, sentinel, "*out written on failure");

    let s = c("i");
    // SAFETY: a NULL out is a documented argument.
    expect_status(unsafe { pybuf_format_parse(s.as_ptr(), ptr::null_mut()) }, Status::NullPointer);
    assert_eq!(last().1, "out is NULL");
}

#[test]
fn malformed_formats_fail_cleanly() {
    // (format, status): a cross-section of c_tests/test_format_api.c's MALFORMED table
    let cases: &[(&str, Status)] = &[
        ("T{i", Status::InvalidFormat),
        ("T{T{i}", Status::InvalidFormat),
        ("}", Status::InvalidFormat),
        ("T{i}}", Status::InvalidFormat),
        ("T", Status::InvalidFormat),
        ("T {i}", Status::InvalidFormat),
        ("X{i->", Status::InvalidFormat),
        ("X{i->d->i}", Status::InvalidFormat),
        ("T{i->d}", Status::InvalidFormat),
        ("y", Status::InvalidFormat),
        ("i,", Status::InvalidFormat),
        ("i\x07", Status::InvalidFormat),
        ("Zi", Status::InvalidFormat),
        ("&", Status::InvalidFormat),
        ("&:p:", Status::InvalidFormat),
        ("3", Status::InvalidFormat),
        ("3<i", Status::InvalidFormat),
        ("()i", Status::InvalidFormat),
        ("(2,)i", Status::InvalidFormat),
        ("(-2)i", Status::InvalidFormat),
        ("3(2)i", Status::InvalidFormat),
        ("i:a", Status::InvalidFormat),
        ("i:a:i:a:", Status::InvalidFormat),
        ("T{<n}", Status::InvalidFormat),
        ("9223372036854775808x", Status::Overflow),
        ("(99999999999999999999)i", Status::Overflow),
        ("1152921504606846976d", Status::Overflow),
        ("2T{4611686018427387903h}", Status::Overflow),
        ("3t", Status::UnsupportedFormat),
        ("&t", Status::UnsupportedFormat),
    ];
    for &(format, status) in cases {
        let (rc, _) = try_parse(format.as_bytes());
        assert_eq!(rc, status as c_int, "pybuf_format_parse({format:?})");
        let m = message(status);
        // `format "..." at N: why`, the string shown escaped
        let shown = format.replace('\x07', "\\x07");
        let head = format!("format \"{shown}\" at ");
        assert!(m.starts_with(&head), "{format:?}: {m:?}");
        let rest = &m[head.len()..];
        let (at, why) = rest.split_once(": ").unwrap_or_else(|| panic!("{format:?}: no position in {m:?}"));
        let at: usize = at.parse().unwrap_or_else(|_| panic!("{format:?}: position {at:?}"));
        assert!(at <= format.len(), "{format:?}: position {at} beyond the string");
        assert!(!why.is_empty(), "{format:?}: no reason");
        // The same engine sizes formats.
        assert_eq!(size_of_format(format), -1);
        expect_error(status);
    }
}

#[test]
fn malformed_positions_point_at_the_culprit() {
    // The byte a reader would blame: an unknown code, the end where '}' or a name's
    // closing ':' is missing, a stray '}'.
    for (format, at) in [("iia", 2), ("T{i", 3), ("ii}", 2), ("i:a", 3), ("bb#", 2)] {
        let (rc, _) = try_parse(format.as_bytes());
        assert_eq!(rc, Status::InvalidFormat as c_int, "{format:?}");
        let m = message(Status::InvalidFormat);
        let head = format!("format \"{format}\" at {at}: ");
        assert!(m.starts_with(&head), "{format:?}: {m:?} does not start with {head:?}");
    }
}

#[test]
fn random_corruptions_parse_or_fail_cleanly() {
    const BASE: &[u8] = b"T{<(2,3)4h:a: &i:p: X{i->d}:f: T{Zd:z:}:s: 5s:b:} 3x";
    const BYTES: &[u8] = b"{}()-:>T&X9,Z t";
    let mut rng = Rng::new(3118);
    let (mut parsed, mut failed) = (0, 0);
    for case in 0..cases(400) {
        let mut s = BASE.to_vec();
        let at = rng.below(s.len());
        if case == 0 {
            // the base itself
        } else if rng.below(4) == 0 {
            s.truncate(at); // a prefix
        } else {
            s[at] = BYTES[rng.below(BYTES.len())];
        }
        let shown = String::from_utf8_lossy(&s).into_owned();
        let (rc, f) = try_parse(&s);
        let size = size_of_format(&shown);
        if rc == 0 {
            parsed += 1;
            let h = Handle(f);
            // SAFETY: `h` is live.
            let itemsize = unsafe { pybuf_format_itemsize(h.ptr()) };
            assert_eq!(size, itemsize, "{shown:?}: size_from_format and the handle disagree");
            // SAFETY: `h` is live.
            let canonical = text(unsafe { pybuf_format_canonical(h.ptr()) });
            assert_eq!(equal(&shown, &canonical), 1, "{shown:?} and its canonical {canonical:?}");
        } else {
            failed += 1;
            assert!(
                rc == Status::InvalidFormat as c_int || rc == Status::UnsupportedFormat as c_int,
                "{shown:?}: status {rc}"
            );
            assert_eq!(size, -1, "{shown:?}");
            let (status, m) = last();
            assert_eq!(status, rc, "{shown:?}: size_from_format and parse disagree");
            assert!(m.starts_with("format \""), "{shown:?}: {m:?}");
        }
    }
    // Both outcomes occur: the base parses, and most corruptions break it.
    assert!(parsed > 0 && failed > 0, "{parsed} parsed, {failed} failed");
}

#[test]
fn nesting_is_bounded() {
    let nest = |depth: usize| format!("{}i{}", "T{".repeat(depth), "}".repeat(depth));
    let deepest = Handle::parse(&nest(64));
    // SAFETY: `deepest` is live.
    assert_eq!(unsafe { pybuf_format_itemsize(deepest.ptr()) }, 4);
    // SAFETY: `deepest` is live.
    assert_eq!(unsafe { pybuf_format_leaf_count(deepest.ptr()) }, 1);
    let l = leaf(deepest.ptr(), 0);
    assert_eq!(l.nrepeats, 0, "a count-1 struct is no repetition");

    let (rc, _) = try_parse(nest(65).as_bytes());
    assert_eq!(rc, Status::UnsupportedFormat as c_int);
    assert!(message(Status::UnsupportedFormat).contains("deeper than 64"));
    // '&' nests too; a long run of it is refused at once.
    let (rc, _) = try_parse(format!("{}i", "&".repeat(1000)).as_bytes());
    assert_eq!(rc, Status::UnsupportedFormat as c_int);
}

#[test]
fn free_null_does_nothing() {
    assert_eq!(size_of_format("ia"), -1);
    // SAFETY: NULL is a documented argument.
    unsafe { pybuf_format_free(ptr::null_mut()) };
    expect_ok();
}

#[test]
fn free_refuses_a_nested_handle() {
    let f = Handle::parse("T{i:a:h:b:}");
    let inner = field(f.ptr(), 0).nested;
    assert!(!inner.is_null());
    // SAFETY: `inner` is a live nested handle, which free must refuse without freeing.
    unsafe { pybuf_format_free(inner.cast_mut()) };
    let m = message(Status::InvalidArgument);
    assert!(m.contains("nested handle"), "{m:?}");
    // Still usable: nothing was freed (Miri would report a use after free).
    // SAFETY: `inner` lives as long as `f`.
    assert_eq!(unsafe { pybuf_format_field_count(inner) }, 2);
    // SAFETY: as above.
    assert_eq!(unsafe { pybuf_format_itemsize(inner) }, 8);
}

// -------------------------------------------------------------------------------------
// Item size, alignment, field count: the handle's numbers

#[test]
fn item_size_alignment_and_field_count() {
    // (format, itemsize, alignment, fields), after struct.calcsize and NumPy
    let cases: &[(&str, pybuf_ssize_t, pybuf_ssize_t, pybuf_ssize_t)] = &[
        ("ib", 5, 4, 2),
        ("3i", 12, 4, 1),
        ("<id", 12, 1, 2),
        ("T{ii}", 8, 4, 1),
        ("bd", 16, 8, 2),
        ("", 0, 1, 0),
        ("T{b:a:(2,3)<h:m:T{d:x:}:s:}:top: 2i", 29, 1, 2),
    ];
    for &(format, itemsize, alignment, fields) in cases {
        let f = Handle::parse(format);
        assert_eq!(size_of_format("ia"), -1);
        // SAFETY: `f` is live.
        assert_eq!(unsafe { pybuf_format_itemsize(f.ptr()) }, itemsize, "itemsize of {format:?}");
        expect_ok();
        // SAFETY: `f` is live.
        assert_eq!(unsafe { pybuf_format_alignment(f.ptr()) }, alignment, "alignment of {format:?}");
        // SAFETY: `f` is live.
        assert_eq!(unsafe { pybuf_format_field_count(f.ptr()) }, fields, "field count of {format:?}");
    }
}

#[test]
fn handle_numbers_refuse_null() {
    // SAFETY: NULL is a documented argument of each.
    assert_eq!(unsafe { pybuf_format_itemsize(ptr::null()) }, -1);
    assert_eq!(message(Status::NullPointer), "f is NULL");
    // SAFETY: as above.
    assert_eq!(unsafe { pybuf_format_alignment(ptr::null()) }, -1);
    assert_eq!(message(Status::NullPointer), "f is NULL");
    // SAFETY: as above.
    assert_eq!(unsafe { pybuf_format_field_count(ptr::null()) }, -1);
    assert_eq!(message(Status::NullPointer), "f is NULL");
    // SAFETY: as above.
    assert_eq!(unsafe { pybuf_format_leaf_count(ptr::null()) }, -1);
    assert_eq!(message(Status::NullPointer), "f is NULL");
    // SAFETY: as above.
    assert!(unsafe { pybuf_format_canonical(ptr::null()) }.is_null());
    assert_eq!(message(Status::NullPointer), "f is NULL");
}

// -------------------------------------------------------------------------------------
// pybuf_format_get_field

#[test]
fn fields_walk_nested_structs() {
    let f = Handle::parse("T{b:a:(2,3)<h:m:T{d:x:}:s:}:top: 2i");
    let top = field(f.ptr(), 0);
    assert_eq!(text(top.name), "top");
    assert_eq!(code(&top.code), "T{}");
    assert_eq!((top.offset, top.size, top.element_size), (0, 21, 21));
    assert_eq!((top.count, top.values, top.ndim), (1, 1, 0));
    assert!(top.shape.is_null());
    assert_eq!(top.mode, b'<' as c_char, "the last mode inside the struct");
    assert!(!top.nested.is_null());

    let ints = field(f.ptr(), 1);
    assert!(ints.name.is_null());
    assert_eq!(code(&ints.code), "i");
    assert_eq!((ints.offset, ints.count, ints.values, ints.element_size, ints.size), (21, 2, 2, 4, 8));
    assert_eq!(ints.alignment, 1, "'<' persists: the ints are unaligned");
    assert_eq!(ints.byte_order, pybuf_byte_order::Little);
    assert!(ints.nested.is_null());

    let inner = top.nested;
    // SAFETY: `inner` lives as long as `f`.
    assert_eq!(unsafe { pybuf_format_itemsize(inner) }, 21);
    // SAFETY: as above.
    assert_eq!(unsafe { pybuf_format_field_count(inner) }, 3);
    let (a, m, s) = (field(inner, 0), field(inner, 1), field(inner, 2));
    assert_eq!(text(a.name), "a");
    assert_eq!(code(&a.code), "b");
    assert_eq!(a.mode, b'@' as c_char);
    assert_eq!(a.byte_order, NATIVE_ORDER);
    assert_eq!(a.alignment, 1);

    assert_eq!(text(m.name), "m");
    assert_eq!(m.offset, 1);
    assert_eq!(m.ndim, 2);
    // SAFETY: `shape` has `ndim` entries and lives as long as `f`.
    assert_eq!(unsafe { std::slice::from_raw_parts(m.shape, 2) }, [2, 3]);
    assert_eq!((m.values, m.element_size, m.size), (6, 2, 12));
    assert_eq!(m.mode, b'<' as c_char);
    assert_eq!(m.byte_order, pybuf_byte_order::Little);

    assert_eq!(text(s.name), "s");
    assert_eq!(s.offset, 13);
    assert_eq!(code(&s.code), "T{}");
    let deeper = s.nested;
    assert!(!deeper.is_null());
    // SAFETY: `deeper` lives as long as `f`.
    assert_eq!(unsafe { pybuf_format_field_count(deeper) }, 1);
    let x = field(deeper, 0);
    assert_eq!(text(x.name), "x");
    assert_eq!(code(&x.code), "d");
    assert_eq!((x.offset, x.alignment), (0, 1));
    // SAFETY: `deeper` lives as long as `f`.
    assert_eq!(text(unsafe { pybuf_format_canonical(deeper) }), "<d:x:");
}

#[test]
fn field_codes_modes_and_byte_orders() {
    let f = Handle::parse("!i =h Zd &i X{i->d} 3s 2x");
    let want: &[(&str, u8, pybuf_byte_order, pybuf_ssize_t, pybuf_ssize_t)] = &[
        // (code, mode, byte order, count, element size)
        ("i", b'>', pybuf_byte_order::Big, 1, 4), // '!' is reported as '>'
        ("h", b'=', NATIVE_ORDER, 1, 2),
        ("Zd", b'=', NATIVE_ORDER, 1, 16),
        ("&", b'=', NATIVE_ORDER, 1, size_of::<*const u8>() as pybuf_ssize_t),
        ("X{}", b'=', NATIVE_ORDER, 1, size_of::<fn()>() as pybuf_ssize_t),
        ("s", b'=', NATIVE_ORDER, 3, 3), // a count on 's' is its length: one value
        ("x", b'=', NATIVE_ORDER, 2, 1),
    ];
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_field_count(f.ptr()) }, want.len() as pybuf_ssize_t);
    let mut offset = 0;
    for (i, &(want_code, mode, order, count, element)) in want.iter().enumerate() {
        let fl = field(f.ptr(), i as pybuf_ssize_t);
        assert_eq!(code(&fl.code), want_code, "field {i}");
        assert_eq!(fl.mode, mode as c_char, "field {i}");
        assert_eq!(fl.byte_order, order, "field {i}");
        assert_eq!((fl.count, fl.element_size), (count, element), "field {i}");
        assert_eq!(fl.offset, offset, "field {i}: standard modes do not align");
        offset += fl.size;
    }
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_itemsize(f.ptr()) }, offset);
}

/// `T{c:x:i:y:}`, laid out by this compiler.
#[repr(C)]
struct Pair {
    x: c_char,
    y: c_int,
}

/// `T{c:a:d:b:3h:c:(2)T{c:x:i:y:}:s:q:q:c:tail:}`, laid out by this compiler.
#[repr(C)]
struct Mixed {
    a: c_char,
    b: f64,
    c: [c_short; 3],
    s: [Pair; 2],
    q: c_longlong,
    tail: c_char,
}

#[test]
fn native_layout_equals_repr_c() {
    use std::mem::offset_of;
    let f = Handle::parse("T{c:a:d:b:3h:c:(2)T{c:x:i:y:}:s:q:q:c:tail:}");
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_itemsize(f.ptr()) }, size_of::<Mixed>() as pybuf_ssize_t);
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_alignment(f.ptr()) }, align_of::<Mixed>() as pybuf_ssize_t);
    let st = field(f.ptr(), 0).nested;
    // SAFETY: `st` lives as long as `f`.
    assert_eq!(unsafe { pybuf_format_alignment(st) }, align_of::<Mixed>() as pybuf_ssize_t);
    let offsets = [
        offset_of!(Mixed, a),
        offset_of!(Mixed, b),
        offset_of!(Mixed, c),
        offset_of!(Mixed, s),
        offset_of!(Mixed, q),
        offset_of!(Mixed, tail),
    ];
    for (i, &offset) in offsets.iter().enumerate() {
        assert_eq!(field(st, i as pybuf_ssize_t).offset, offset as pybuf_ssize_t, "field {i}");
    }
    let s = field(st, 3);
    assert_eq!(s.element_size, size_of::<Pair>() as pybuf_ssize_t);
    assert_eq!(s.size, size_of::<[Pair; 2]>() as pybuf_ssize_t);
    assert_eq!(field(s.nested, 1).offset, offset_of!(Pair, y) as pybuf_ssize_t);
}

#[test]
fn get_field_errors_leave_out_untouched() {
    let f = Handle::parse("ii:n:");
    let mut out = Slot::<pybuf_format_field>::new();

    // SAFETY: NULL f is a documented argument; `out` is writable.
    expect_status(unsafe { pybuf_format_get_field(ptr::null(), 0, out.ptr()) }, Status::NullPointer);
    assert_eq!(last().1, "f is NULL");
    // SAFETY: NULL out is a documented argument.
    expect_status(unsafe { pybuf_format_get_field(f.ptr(), 0, ptr::null_mut()) }, Status::NullPointer);
    assert_eq!(last().1, "out is NULL");
    for index in [2, -1, pybuf_ssize_t::MIN] {
        // SAFETY: `f` is live and `out` is writable.
        let rc = unsafe { pybuf_format_get_field(f.ptr(), index, out.ptr()) };
        expect_status(rc, Status::IndexOutOfRange);
        assert_eq!(last().1, format!("field index {index} is not in 0..2"));
    }
    assert!(out.untouched(), "a failing get_field wrote *out");
    assert_eq!(text(field(f.ptr(), 1).name), "n");
}

// -------------------------------------------------------------------------------------
// pybuf_format_leaf_count and pybuf_format_get_leaf

#[test]
fn leaves_flatten_nested_structs() {
    let f = Handle::parse("b 3T{i(2)h:z:} 4s");
    assert_eq!(size_of_format("ia"), -1);
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_leaf_count(f.ptr()) }, 4);
    expect_ok();

    let l = leaf(f.ptr(), 0);
    assert_eq!(code(&l.code), "b");
    assert_eq!((l.offset, l.nrepeats, l.total), (0, 0, 1));
    assert!(l.repeats.is_null());

    let l = leaf(f.ptr(), 1);
    assert_eq!(code(&l.code), "i");
    assert_eq!((l.offset, l.size, l.count, l.total), (4, 4, 1, 3));
    assert!(l.name.is_null());
    assert_eq!(l.nrepeats, 1);
    // SAFETY: `repeats` has `nrepeats` entries and lives as long as `f`.
    let r = unsafe { std::slice::from_raw_parts(l.repeats, 1) };
    assert_eq!((r[0].count, r[0].stride), (3, 8));

    let l = leaf(f.ptr(), 2);
    assert_eq!(code(&l.code), "h");
    assert_eq!(text(l.name), "z");
    assert_eq!((l.offset, l.count, l.total), (8, 2, 6));
    assert_eq!(l.byte_order, NATIVE_ORDER);
    assert_eq!(l.mode, b'@' as c_char);

    let l = leaf(f.ptr(), 3);
    assert_eq!(code(&l.code), "s");
    assert_eq!((l.offset, l.size, l.count), (28, 4, 1));
}

#[test]
fn leaves_list_repeats_outermost_first() {
    // A huge repeat costs nothing.
    let f = Handle::parse("1000000000T{id}");
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_leaf_count(f.ptr()) }, 2);
    let l = leaf(f.ptr(), 1);
    assert_eq!((l.offset, l.total), (8, 1_000_000_000));

    let f = Handle::parse("2T{b3T{>h}}");
    let l = leaf(f.ptr(), 1);
    assert_eq!(l.nrepeats, 2);
    // SAFETY: `repeats` has `nrepeats` entries and lives as long as `f`.
    let r = unsafe { std::slice::from_raw_parts(l.repeats, 2) };
    assert_eq!((r[0].count, r[0].stride, r[1].count, r[1].stride), (2, 7, 3, 2));
    assert_eq!(l.byte_order, pybuf_byte_order::Big);
    assert_eq!(l.mode, b'>' as c_char);
    assert_eq!(l.total, 6);

    // Pointers, pads and function pointers are leaves.
    let f = Handle::parse("&T{ii}xX{i->d}");
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_leaf_count(f.ptr()) }, 3);
    assert_eq!(code(&leaf(f.ptr(), 0).code), "&");
    assert_eq!(code(&leaf(f.ptr(), 1).code), "x");
    let l = leaf(f.ptr(), 2);
    assert_eq!(code(&l.code), "X{}");
    assert_eq!(l.size, size_of::<fn()>() as pybuf_ssize_t);
}

#[test]
fn get_leaf_errors_leave_out_untouched() {
    let f = Handle::parse("ii:n:");
    let mut out = Slot::<pybuf_format_leaf>::new();
    // SAFETY: NULL f is a documented argument; `out` is writable.
    expect_status(unsafe { pybuf_format_get_leaf(ptr::null(), 0, out.ptr()) }, Status::NullPointer);
    assert_eq!(last().1, "f is NULL");
    // SAFETY: NULL out is a documented argument.
    expect_status(unsafe { pybuf_format_get_leaf(f.ptr(), 0, ptr::null_mut()) }, Status::NullPointer);
    assert_eq!(last().1, "out is NULL");
    for index in [2, -1, pybuf_ssize_t::MIN, pybuf_ssize_t::MAX] {
        // SAFETY: `f` is live and `out` is writable.
        let rc = unsafe { pybuf_format_get_leaf(f.ptr(), index, out.ptr()) };
        expect_status(rc, Status::IndexOutOfRange);
        assert_eq!(last().1, format!("leaf index {index} is not in 0..2"));
    }
    assert!(out.untouched(), "a failing get_leaf wrote *out");
    assert_eq!(text(leaf(f.ptr(), 1).name), "n");
}

#[test]
fn readme_example() {
    let f = Handle::parse("T{b:flag:(3)<f:xyz:}:point:");
    // SAFETY: `f` is live.
    let n = unsafe { pybuf_format_leaf_count(f.ptr()) };
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let l = leaf(f.ptr(), i);
            let name = if l.name.is_null() { "-".to_owned() } else { text(l.name) };
            let order = if l.byte_order == pybuf_byte_order::Little { "little" } else { "big" };
            format!("{name} '{}' at {}, {} x {} bytes, {order}-endian", code(&l.code), l.offset, l.count, l.size)
        })
        .collect();
    let native = if cfg!(target_endian = "little") { "little" } else { "big" };
    assert_eq!(
        lines,
        [format!("flag 'b' at 0, 1 x 1 bytes, {native}-endian"), "xyz 'f' at 1, 3 x 4 bytes, little-endian".into()]
    );
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_itemsize(f.ptr()) }, 13);
}

// -------------------------------------------------------------------------------------
// pybuf_format_canonical

#[test]
fn canonical_strings_round_trip() {
    let cases = [
        ("", ""),
        (" 1i 2x ", "i2x"),
        ("!i", ">i"),
        ("<i<d", "<id"),
        ("(2)<i", "<(2)i"),
        ("T{<i}b", "T{<i}b"),
        ("T{ i :a b: }", "T{i:a b:}"),
        ("X{ii->d}:f:", "X{ii->d}:f:"),
        ("&<i", "&<i"),
        ("Zd Zf", "ZdZf"),
        ("T{i:a:(2)d:b:}:s: 3T{hh} <q", "T{i:a:(2)d:b:}:s:3T{hh}<q"),
    ];
    for (format, canonical) in cases {
        let f = Handle::parse(format);
        // SAFETY: `f` is live.
        let p = unsafe { pybuf_format_canonical(f.ptr()) };
        expect_ok();
        assert_eq!(text(p), canonical, "canonical of {format:?}");
        // SAFETY: `f` is live.
        assert_eq!(unsafe { pybuf_format_canonical(f.ptr()) }, p, "not cached");
        let g = Handle::parse(canonical);
        // SAFETY: both handles are live.
        assert_eq!(unsafe { pybuf_format_equal(f.ptr(), g.ptr()) }, 1, "{format:?}");
        expect_ok();
        // SAFETY: both handles are live.
        assert_eq!(unsafe { pybuf_format_compatible(f.ptr(), g.ptr()) }, 1, "{format:?}");
    }
}

#[test]
fn handles_are_shared_between_threads() {
    struct Shared(*const pybuf_format);
    // SAFETY: pybuf_format is documented thread-safe through `const pybuf_format *`
    // (its lazy parts are built once under a lock).
    unsafe impl Sync for Shared {}
    impl Shared {
        fn get(&self) -> *const pybuf_format {
            self.0
        }
    }
    let f = Handle::parse("T{i:a:(2)d:b:}:s: 3T{hh} <q");
    let shared = Shared(f.ptr());
    let answers: Vec<(pybuf_ssize_t, usize)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    // SAFETY: the handle outlives the scope; these calls only read it.
                    let leaves = unsafe { pybuf_format_leaf_count(shared.get()) };
                    // SAFETY: as above.
                    let canonical = unsafe { pybuf_format_canonical(shared.get()) };
                    (leaves, canonical as usize)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("a reader panicked")).collect()
    });
    // SAFETY: `f` is live.
    let canonical = unsafe { pybuf_format_canonical(f.ptr()) };
    for (leaves, p) in answers {
        assert_eq!(leaves, 5);
        assert_eq!(p, canonical as usize, "each thread got the one cached string");
    }
    assert_eq!(text(canonical), "T{i:a:(2)d:b:}:s:3T{hh}<q");
}

// -------------------------------------------------------------------------------------
// pybuf_format_equal and pybuf_format_compatible

#[test]
fn equality() {
    assert_eq!(equal("!i", ">i"), 1);
    assert_eq!(equal("i  i", "ii"), 1);
    for (a, b) in [("2i", "ii"), ("=i", "i"), ("T{i<}", "T{i}"), ("i:a:", "i:b:")] {
        assert_eq!(equal(a, b), 0, "{a:?} vs {b:?}");
    }
    let f = Handle::parse("T{i:a:d:b:}");
    let g = Handle::parse("T{i:a:q:b:}");
    // SAFETY: both handles are live.
    assert_eq!(unsafe { pybuf_format_equal(f.ptr(), g.ptr()) }, 0);
    let m = message(Status::FormatMismatch);
    assert!(m.contains("field #0.'b'"), "{m:?}");
    assert!(m.contains("T{i:a:d:b:}") && m.contains("T{i:a:q:b:}"), "{m:?}");
    // SAFETY: `f` is live.
    assert_eq!(unsafe { pybuf_format_equal(f.ptr(), f.ptr()) }, 1);
    expect_ok();

    // A nested handle compares like any other.
    let outer = Handle::parse("T{i:a:}");
    let flat = Handle::parse("i:a:");
    let nested = field(outer.ptr(), 0).nested;
    // SAFETY: the handles are live; `nested` lives as long as `outer`.
    assert_eq!(unsafe { pybuf_format_equal(nested, flat.ptr()) }, 1);
    // SAFETY: as above.
    assert_eq!(unsafe { pybuf_format_equal(outer.ptr(), flat.ptr()) }, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { pybuf_format_compatible(outer.ptr(), flat.ptr()) }, 1);
}

#[test]
fn layout_compatibility() {
    let long_is_q = size_of::<c_long>() == 8;
    let cases: &[(String, &str, c_int)] = &[
        (format!("{NATIVE}d"), "d", 1),
        (format!("{FOREIGN}d"), "d", 0),
        ("l".into(), "q", c_int::from(long_is_q)),
        ("i".into(), "f", 0),
        ("i".into(), "I", 0),
        ("T{ii}".into(), "2i", 1),
        ("T{i:a:f:b:}".into(), "if", 1),
        ("bi".into(), "b3xi", 1),
        ("3s".into(), "3c", 1),
        ("1000000000i".into(), "(1000000000)i", 1),
    ];
    for (a, b, want) in cases {
        let (r, m) = compatible(a, b);
        assert_eq!(r, *want, "compatible({a:?}, {b:?}): {m}");
        if r == 0 {
            assert!(m.contains("are not layout compatible"), "{m:?}");
        } else {
            assert!(m.is_empty(), "a success with a message: {m:?}");
        }
    }
    let (r, m) = compatible("T{i:a:d:b:}", "T{i:a:q:b:}");
    assert_eq!(r, 0);
    assert!(m.contains("byte offset 8") && m.contains("(field b)"), "{m:?}");
    let (r, m) = compatible("i", "ix");
    assert_eq!(r, 0);
    assert!(m.contains("item sizes differ: 4 vs 5"), "{m:?}");
}

#[test]
fn comparisons_refuse_null() {
    let f = Handle::parse("i");
    // SAFETY: NULL handles are documented arguments; `f` is live.
    unsafe {
        assert_eq!(pybuf_format_equal(ptr::null(), f.ptr()), Status::NullPointer as c_int);
        assert_eq!(message(Status::NullPointer), "a is NULL");
        assert_eq!(pybuf_format_equal(f.ptr(), ptr::null()), Status::NullPointer as c_int);
        assert_eq!(message(Status::NullPointer), "b is NULL");
        assert_eq!(pybuf_format_compatible(ptr::null(), f.ptr()), Status::NullPointer as c_int);
        assert_eq!(message(Status::NullPointer), "a is NULL");
        assert_eq!(pybuf_format_compatible(f.ptr(), ptr::null()), Status::NullPointer as c_int);
        assert_eq!(message(Status::NullPointer), "b is NULL");
    }
}

// -------------------------------------------------------------------------------------
// pybuf_format_runs_new, _next, _free

#[test]
fn runs_walk_every_value_in_offset_order() {
    let f = Handle::parse("b2T{i(2)h}x");
    let mut it = ptr::null_mut();
    // SAFETY: `f` is live and `it` is writable.
    expect_status(unsafe { pybuf_format_runs_new(f.ptr(), &mut it) }, Status::Ok);
    assert!(!it.is_null());
    // The iterator keeps what it needs: the handle may go first.
    drop(f);

    let want: &[(pybuf_ssize_t, &str, pybuf_ssize_t, pybuf_ssize_t)] =
        &[(0, "b", 1, 1), (4, "i", 4, 1), (8, "h", 2, 2), (12, "i", 4, 1), (16, "h", 2, 2), (20, "x", 1, 1)];
    for (n, &(offset, want_code, size, count)) in want.iter().enumerate() {
        let mut run = MaybeUninit::<pybuf_format_run>::uninit();
        // SAFETY: `it` is live and `run` is writable.
        assert_eq!(unsafe { pybuf_format_runs_next(it, run.as_mut_ptr()) }, 1, "run {n}");
        expect_ok();
        // SAFETY: 1 means *run was written.
        let run = unsafe { run.assume_init() };
        assert_eq!((run.offset, code(&run.code), run.size, run.count), (offset, want_code.into(), size, count));
        assert_eq!(run.mode, b'@' as c_char);
        assert_eq!(run.byte_order, NATIVE_ORDER);
    }
    // At the end, and again after it: 0, *out untouched.
    for _ in 0..2 {
        let mut run = Slot::<pybuf_format_run>::new();
        // SAFETY: `it` is live and `run` is writable.
        assert_eq!(unsafe { pybuf_format_runs_next(it, run.ptr()) }, 0);
        expect_ok();
        assert!(run.untouched(), "the end wrote *out");
    }
    let mut run = Slot::<pybuf_format_run>::new();
    // SAFETY: NULL out / NULL it are documented arguments; `it` is live.
    unsafe {
        expect_status(pybuf_format_runs_next(it, ptr::null_mut()), Status::NullPointer);
        assert_eq!(last().1, "out is NULL");
        expect_status(pybuf_format_runs_next(ptr::null_mut(), run.ptr()), Status::NullPointer);
        assert_eq!(last().1, "it is NULL");
    }
    assert!(run.untouched());
    assert_eq!(size_of_format("ia"), -1);
    // SAFETY: `it` came from pybuf_format_runs_new and is freed once.
    unsafe { pybuf_format_runs_free(it) };
    expect_ok();
}

#[test]
fn runs_of_standard_modes_and_nested_repeats() {
    let f = Handle::parse("2T{b3T{>h}} <i");
    let got: Vec<_> = runs(f.ptr()).iter().map(|r| (r.offset, code(&r.code), r.size, r.count, r.mode as u8)).collect();
    // Every repetition of an enclosing struct is its own run (see the C test's
    // "b2T{i(2)h}x"), so the 3 inner structs give 3 runs of one '>h' each.
    let mut want = vec![];
    for base in [0, 7] {
        want.push((base, "b".to_owned(), 1, 1, b'@'));
        for k in 0..3 {
            want.push((base + 1 + 2 * k, "h".to_owned(), 2, 1, b'>'));
        }
    }
    want.push((14, "i".to_owned(), 4, 1, b'<'));
    assert_eq!(got, want);
    // Run sizes cover the item exactly.
    let total: pybuf_ssize_t = runs(f.ptr()).iter().map(|r| r.size * r.count).sum();
    // SAFETY: `f` is live.
    assert_eq!(total, unsafe { pybuf_format_itemsize(f.ptr()) });
}

#[test]
fn runs_new_refuses_null() {
    let f = Handle::parse("i");
    let sentinel = ptr::NonNull::<pybuf_format_runs>::dangling().as_ptr();
    let mut it = sentinel;
    // SAFETY: NULL f / NULL out are documented arguments; `it` is writable.
    unsafe {
        expect_status(pybuf_format_runs_new(ptr::null(), &mut it), Status::NullPointer);
        assert_eq!(last().1, "f is NULL");
        expect_status(pybuf_format_runs_new(f.ptr(), ptr::null_mut()), Status::NullPointer);
        assert_eq!(last().1, "out is NULL");
    }
    assert_eq!(it, sentinel, "a failing runs_new wrote *out");
    assert_eq!(size_of_format("ia"), -1);
    // SAFETY: NULL is a documented argument.
    unsafe { pybuf_format_runs_free(ptr::null_mut()) };
    expect_ok();
}

// -------------------------------------------------------------------------------------
// Random formats against the struct module's layout rules

/// (code, size, native alignment) of the struct module's fixed-size codes, on this machine.
fn codes() -> [(char, usize, usize); 9] {
    [
        ('b', 1, 1),
        ('B', 1, 1),
        ('?', 1, 1),
        ('h', size_of::<i16>(), align_of::<i16>()),
        ('i', size_of::<i32>(), align_of::<i32>()),
        ('q', size_of::<i64>(), align_of::<i64>()),
        ('f', size_of::<f32>(), align_of::<f32>()),
        ('d', size_of::<f64>(), align_of::<f64>()),
        ('s', 1, 1),
    ]
}

#[test]
fn random_formats_follow_struct_calcsize() {
    let mut rng = Rng::new(42);
    for _ in 0..cases(300) {
        let modes = ["", "@", "<", ">", "=", "!"];
        let mode = modes[rng.below(modes.len())];
        let native = mode.is_empty() || mode == "@";
        let mut format = mode.to_owned();
        // The struct module's rule: align each item (in '@' mode), then add count * size
        // ('s' counts its length); a count of 0 only aligns. No trailing padding.
        let (mut offset, mut offsets) = (0usize, vec![]);
        for _ in 0..1 + rng.below(5) {
            let (letter, size, align) = codes()[rng.below(9)];
            let count = rng.below(4);
            if native {
                offset = offset.next_multiple_of(align);
            }
            offsets.push(offset as pybuf_ssize_t);
            offset += count * size;
            if rng.below(2) == 0 {
                format.push(' ');
            }
            if count != 1 || rng.below(2) == 0 {
                format += &count.to_string();
            }
            format.push(letter);
        }
        assert_eq!(size_of_format(&format), offset as pybuf_ssize_t, "calcsize({format:?})");
        let f = Handle::parse(&format);
        // SAFETY: `f` is live.
        assert_eq!(unsafe { pybuf_format_itemsize(f.ptr()) }, offset as pybuf_ssize_t, "{format:?}");
        // SAFETY: `f` is live.
        assert_eq!(unsafe { pybuf_format_field_count(f.ptr()) }, offsets.len() as pybuf_ssize_t);
        for (i, &want) in offsets.iter().enumerate() {
            assert_eq!(field(f.ptr(), i as pybuf_ssize_t).offset, want, "field {i} of {format:?}");
        }
        // SAFETY: `f` is live.
        let canonical = text(unsafe { pybuf_format_canonical(f.ptr()) });
        assert_eq!(equal(&format, &canonical), 1, "{format:?} vs canonical {canonical:?}");
        assert_eq!(compatible(&format, &canonical).0, 1, "{format:?} vs canonical {canonical:?}");
    }
}

// -------------------------------------------------------------------------------------
// pybuf_check_format and pybuf_check_format_ex

/// pybuf_check_format(&view, expected).
fn check(view: &pybuf_buffer, expected: &str) -> c_int {
    let e = c(expected);
    // SAFETY: `view`'s non-NULL arrays have `ndim` entries (the malformed views of the
    // tests keep that too) and its format and `e` are NUL-terminated.
    unsafe { pybuf_check_format(view, e.as_ptr()) }
}

fn check_ex(view: &pybuf_buffer, expected: &str, ndim: c_int, order: u8) -> c_int {
    let e = c(expected);
    // SAFETY: as in `check`.
    unsafe { pybuf_check_format_ex(view, e.as_ptr(), ndim, order as c_char) }
}

#[test]
fn check_format_as_a_typed_memoryview() {
    let mut d = Array::c(&[6], 8, Some(format!("{NATIVE}d").as_str()));
    expect_status(check(&d.view(), "d"), Status::Ok);
    d.format = Some(c(&format!("{FOREIGN}d")));
    expect_status(check(&d.view(), "d"), Status::FormatMismatch);
    assert!(last().1.contains("first difference at byte offset 0"), "{}", last().1);
    d.format = Some(c("l"));
    let long_is_q = if size_of::<c_long>() == 8 { Status::Ok } else { Status::FormatMismatch };
    expect_status(check(&d.view(), "q"), long_is_q);

    let mut i = Array::c(&[6], 4, Some("i"));
    let v = i.view();
    expect_status(check(&v, "f"), Status::FormatMismatch);
    let m = last().1;
    assert!(m.contains("'i' (4 bytes") && m.contains("'f' (4 bytes"), "{m:?}");
    expect_status(check(&v, "d"), Status::FormatMismatch);
    assert!(last().1.starts_with("view->itemsize is 4 (format \"i\") but expected format \"d\" has item size 8"));
    expect_status(check(&v, "T{i:x:}"), Status::Ok);
    expect_status(check(&v, "=i"), Status::Ok);
}

#[test]
fn check_format_of_structs_and_null_formats() {
    let mut s = Array::c(&[2], 16, Some("T{d:x:i:y:i:z:}"));
    expect_status(check(&s.view(), "T{d:x:i:y:i:z:}"), Status::Ok);
    expect_status(check(&s.view(), "dii"), Status::Ok);
    expect_status(check(&s.view(), "T{d:x:i:y:f:z:}"), Status::FormatMismatch);
    let m = last().1;
    assert!(m.contains("byte offset 12") && m.contains("(field z)"), "{m:?}");

    // The view's format may be shorter than its itemsize (trailing padding).
    s.format = Some(c("dii"));
    expect_status(check(&s.view(), "T{dii}"), Status::Ok);
    s.format = Some(c("dxxxxi")); // a value beyond the expected one
    expect_status(check(&s.view(), "dii"), Status::FormatMismatch);

    // A NULL format means "B".
    let mut bytes = Array::c(&[6], 1, None);
    expect_status(check(&bytes.view(), "B"), Status::Ok);
    expect_status(check(&bytes.view(), "b"), Status::FormatMismatch);
    expect_status(check(&bytes.view(), "x"), Status::FormatMismatch);
}

#[test]
fn check_format_errors() {
    let mut a = Array::c(&[6], 4, Some("i"));
    let e = c("i");
    // SAFETY: NULL view / NULL expected are documented arguments; the rest is live.
    unsafe {
        expect_status(pybuf_check_format(ptr::null(), e.as_ptr()), Status::NullPointer);
        assert_eq!(last().1, "view is NULL");
        expect_status(pybuf_check_format(&a.view(), ptr::null()), Status::NullPointer);
        assert_eq!(last().1, "expected is NULL");
    }

    // Which string is malformed is said.
    expect_status(check(&a.view(), "T{i"), Status::InvalidFormat);
    assert!(last().1.starts_with("expected: format \"T{i\" at 3: "), "{}", last().1);
    a.format = Some(c("q:x"));
    expect_status(check(&a.view(), "i"), Status::InvalidFormat);
    assert!(last().1.starts_with("view->format: format \"q:x\" at "), "{}", last().1);
    a.format = Some(c("t"));
    expect_status(check(&a.view(), "i"), Status::UnsupportedFormat);
    a.format = Some(c("i"));

    // A malformed view is refused before its format is read.
    let mut v = a.view();
    v.itemsize = 0;
    expect_status(check(&v, "i"), Status::InvalidItemsize);
    let mut v = a.view();
    v.ndim = -1;
    expect_status(check(&v, "i"), Status::InvalidNdim);
    let mut v = a.view();
    v.ndim = 2;
    v.shape = ptr::null_mut();
    v.strides = ptr::null_mut();
    expect_status(check(&v, "i"), Status::InvalidShape);
    let mut v = a.view();
    v.len = 20;
    expect_status(check(&v, "i"), Status::LengthMismatch);
}

#[test]
fn check_format_ex_ndim_and_contiguity() {
    let mut c_order = Array::c(&[2, 3], 8, Some("d"));
    let v = c_order.view();
    expect_status(check_ex(&v, "d", 2, b'C'), Status::Ok);
    expect_status(check_ex(&v, "d", -1, 0), Status::Ok);
    expect_status(check_ex(&v, "d", 2, b'A'), Status::Ok);
    expect_status(check_ex(&v, "d", 1, 0), Status::FormatMismatch);
    assert_eq!(last().1, "the view has 2 dimension(s), expected 1");
    expect_status(check_ex(&v, "d", 2, b'F'), Status::FormatMismatch);
    assert_eq!(last().1, "the view is not Fortran-contiguous");
    expect_status(check_ex(&v, "f", 2, b'C'), Status::FormatMismatch);

    let strides = contiguous_strides(&[2, 3], 8, b'F');
    assert_eq!(strides, [8, 16]);
    let mut f_order = Array::with_layout(48, 0, &[2, 3], &strides, 8, Some("d"));
    let v = f_order.view();
    expect_status(check_ex(&v, "d", 2, b'F'), Status::Ok);
    expect_status(check_ex(&v, "d", 2, b'C'), Status::FormatMismatch);
    assert_eq!(last().1, "the view is not C-contiguous");

    // Every other stride order is contiguous in neither order.
    let mut strided = Array::with_layout(96, 0, &[2, 3], &[48, 16], 8, Some("d"));
    expect_status(check_ex(&strided.view(), "d", 2, b'A'), Status::FormatMismatch);
    assert_eq!(last().1, "the view is not contiguous (in C or Fortran order)");
    expect_status(check_ex(&strided.view(), "d", 2, 0), Status::Ok);

    // Argument errors.
    expect_status(check_ex(&v, "d", 2, b'X'), Status::InvalidArgument);
    expect_status(check_ex(&v, "d", -2, 0), Status::InvalidNdim);
    expect_status(check_ex(&v, "d", 65, 0), Status::InvalidNdim);
    let e = c("d");
    // SAFETY: NULL view / NULL expected are documented arguments; the rest is live.
    unsafe {
        expect_status(pybuf_check_format_ex(ptr::null(), e.as_ptr(), 2, 0), Status::NullPointer);
        assert_eq!(last().1, "view is NULL");
        expect_status(pybuf_check_format_ex(&v, ptr::null(), 2, 0), Status::NullPointer);
        assert_eq!(last().1, "expected is NULL");
    }
    // A malformed view.
    let mut bad = v;
    bad.itemsize = -8;
    expect_status(check_ex(&bad, "d", 2, b'C'), Status::InvalidItemsize);
}

// -------------------------------------------------------------------------------------
// NumPy's array interface: each conversion as a `Convert` closure

fn to_typestr(format: &str, itemsize: pybuf_ssize_t) -> impl Fn(*mut c_char, pybuf_ssize_t) -> pybuf_ssize_t {
    let f = c(format);
    // SAFETY: `f` is NUL-terminated; every call in this file passes an `out` of at least
    // `size` bytes, or NULL.
    move |out, size| unsafe { pybuf_format_to_typestr(f.as_ptr(), itemsize, out, size) }
}

fn to_descr(format: &str, itemsize: pybuf_ssize_t) -> impl Fn(*mut c_char, pybuf_ssize_t) -> pybuf_ssize_t {
    let f = c(format);
    // SAFETY: as in `to_typestr`.
    move |out, size| unsafe { pybuf_format_to_descr(f.as_ptr(), itemsize, out, size) }
}

fn from_typestr(typestr: &str) -> impl Fn(*mut c_char, pybuf_ssize_t) -> pybuf_ssize_t {
    let t = c(typestr);
    // SAFETY: as in `to_typestr`.
    move |out, size| unsafe { pybuf_format_from_typestr(t.as_ptr(), out, size) }
}

fn from_descr(descr: &str) -> impl Fn(*mut c_char, pybuf_ssize_t) -> pybuf_ssize_t {
    let d = c(descr);
    // SAFETY: as in `to_typestr`.
    move |out, size| unsafe { pybuf_format_from_descr(d.as_ptr(), out, size) }
}

// -------------------------------------------------------------------------------------
// pybuf_format_to_typestr

#[test]
fn to_typestr_as_numpy_says() {
    let cases = [
        ("<d", "<f8".to_owned()),
        (">d", ">f8".into()),
        ("d", format!("{NATIVE}f8")),
        ("B", "|u1".into()),
        ("?", "|b1".into()),
        ("<q", "<i8".into()),
        ("=i", format!("{NATIVE}i4")),
        ("<Zd", "<c16".into()),
        ("5s", "|S5".into()),
        ("c", "|S1".into()),
        ("<3w", "<U3".into()),
        ("4x", "|V4".into()),
        ("T{<i:a:<d:b:}", "|V12".into()),
        ("O", "|O".into()),
    ];
    for (format, typestr) in cases {
        assert_eq!(converted(&to_typestr(format, 0)), typestr, "typestr of {format:?}");
    }
    // A larger itemsize is trailing padding: a struct.
    assert_eq!(converted(&to_typestr("<d", 16)), "|V16");
    assert_eq!(converted(&to_typestr("<d", 8)), "<f8");
}

#[test]
fn to_typestr_output_convention() {
    let f = to_typestr("<d", 0);
    // The length only.
    assert_eq!(f(ptr::null_mut(), 0), 3);
    expect_ok();
    // Exactly enough: the text and its NUL, nothing beyond.
    let mut out = Guarded::new(4);
    assert_eq!(f(out.ptr().cast(), 4), 3);
    expect_ok();
    assert_eq!(out.inner(), b"<f8\0");
    assert!(out.intact());
    // One byte short: nothing written.
    let mut out = Guarded::new(3);
    assert_eq!(f(out.ptr().cast(), 3), Status::LengthMismatch as pybuf_ssize_t);
    assert_eq!(message(Status::LengthMismatch), "the typestr \"<f8\" needs 4 bytes with its NUL, but size = 3");
    assert!(out.untouched());
    // A size of 0 with a buffer is too small too.
    assert_eq!(f(out.ptr().cast(), 0), Status::LengthMismatch as pybuf_ssize_t);
    assert!(out.untouched());
    // NULL with a size, a negative size.
    assert_eq!(f(ptr::null_mut(), 4), Status::NullPointer as pybuf_ssize_t);
    assert_eq!(message(Status::NullPointer), "out is NULL with size = 4");
    assert_eq!(refused(&|out, _| f(out, -1), Status::InvalidArgument), "size = -1 is negative");
    // A NULL format.
    let mut out = Guarded::new(8);
    // SAFETY: NULL format is a documented argument; `out` has 8 bytes.
    let rc = unsafe { pybuf_format_to_typestr(ptr::null(), 0, out.ptr().cast(), 8) };
    assert_eq!(rc, Status::NullPointer as pybuf_ssize_t);
    assert_eq!(message(Status::NullPointer), "format is NULL");
    assert!(out.untouched());
}

#[test]
fn to_typestr_refusals() {
    let m = refused(&to_typestr("u", 0), Status::Unrepresentable);
    assert!(m.contains("UCS-2"), "{m:?}");
    let m = refused(&to_typestr("P", 0), Status::Unrepresentable);
    assert!(m.contains("pointer"), "{m:?}");
    let m = refused(&to_typestr("5p", 0), Status::Unrepresentable);
    assert!(m.contains("Pascal"), "{m:?}");
    let m = refused(&to_typestr("d", 4), Status::InvalidItemsize);
    assert_eq!(m, "itemsize = 4 is smaller than the size 8 of format \"d\"");
    assert_eq!(refused(&to_typestr("d", -8), Status::InvalidItemsize), "itemsize = -8 is negative");
    let m = refused(&to_typestr("T{", 0), Status::InvalidFormat);
    assert!(m.starts_with("format \"T{\" at 2: "), "{m:?}");
    refused(&to_typestr("t", 0), Status::UnsupportedFormat);
}

// -------------------------------------------------------------------------------------
// pybuf_format_to_descr

#[test]
fn to_descr_as_numpy_says() {
    let format = "T{b:a:(2,3)<d:m:T{<h:p:}:s:3x}";
    assert_eq!(
        converted(&to_descr(format, 0)),
        "[('a', '|i1'), ('m', '<f8', (2, 3)), ('s', [('p', '<i2')]), ('', '|V3')]"
    );
    assert_eq!(converted(&to_descr("<d", 0)), "[('', '<f8')]");
    assert_eq!(converted(&to_descr("<i:a:", 8)), "[('a', '<i4'), ('', '|V4')]");
    // Alignment gaps are ('', '|V<n>'); unnamed fields are f0, f1, ... as NumPy names them.
    assert_eq!(converted(&to_descr("T{b:a:d:b:}", 0)), format!("[('a', '|i1'), ('', '|V7'), ('b', '{NATIVE}f8')]"));
    assert_eq!(converted(&to_descr("<id", 0)), "[('f0', '<i4'), ('f1', '<f8')]");
}

#[test]
fn to_descr_output_convention_and_refusals() {
    let f = to_descr("<d", 0);
    assert_eq!(f(ptr::null_mut(), 0), 13);
    let mut out = Guarded::new(13);
    assert_eq!(f(out.ptr().cast(), 13), Status::LengthMismatch as pybuf_ssize_t);
    assert_eq!(
        message(Status::LengthMismatch),
        "the descr \"[('', '<f8')]\" needs 14 bytes with its NUL, but size = 13"
    );
    assert!(out.untouched());
    assert_eq!(f(ptr::null_mut(), 1), Status::NullPointer as pybuf_ssize_t);
    expect_error(Status::NullPointer);
    assert_eq!(f(out.ptr().cast(), -5), Status::InvalidArgument as pybuf_ssize_t);
    assert!(out.untouched());

    let m = refused(&to_descr("T{i:a:P:p:}", 0), Status::Unrepresentable);
    assert!(m.contains("field 'p'"), "{m:?}");
    refused(&to_descr("d", 7), Status::InvalidItemsize);
    refused(&to_descr("(2", 0), Status::InvalidFormat);
    let mut out = Guarded::new(8);
    // SAFETY: NULL format is a documented argument; `out` has 8 bytes.
    let rc = unsafe { pybuf_format_to_descr(ptr::null(), 0, out.ptr().cast(), 8) };
    assert_eq!(rc, Status::NullPointer as pybuf_ssize_t);
    assert_eq!(message(Status::NullPointer), "format is NULL");
    assert!(out.untouched());
}

// -------------------------------------------------------------------------------------
// pybuf_format_from_typestr

#[test]
fn from_typestr_as_documented() {
    let cases = [
        ("<f8", "<d"),
        ("|u1", "B"),
        ("=f8", "=d"),
        ("|f8", "=d"),
        ("|S5", "5s"),
        ("<U3", "<3w"),
        (">U3", ">3w"),
        ("|V4", "4x"),
        ("|O", "O"),
        ("|b1", "?"),
        ("<c16", "<Zd"),
    ];
    for (typestr, format) in cases {
        assert_eq!(converted(&from_typestr(typestr)), format, "format of {typestr:?}");
    }
}

#[test]
fn from_typestr_refusals() {
    let m = refused(&from_typestr("<M8[ns]"), Status::Unrepresentable);
    assert!(m.contains("datetime64"), "{m:?}");
    assert!(refused(&from_typestr("<m8"), Status::Unrepresentable).contains("timedelta64"));
    let m = refused(&from_typestr("<q8"), Status::InvalidFormat);
    assert_eq!(m, "typestr \"<q8\": unknown kind 'q'");
    assert_eq!(refused(&from_typestr(""), Status::InvalidFormat), "typestr \"\": empty");
    assert_eq!(refused(&from_typestr("<"), Status::InvalidFormat), "typestr \"<\": no kind after the byte order");
    assert_eq!(refused(&from_typestr("<f"), Status::InvalidFormat), "typestr \"<f\": no size");
    let m = refused(&from_typestr("<i16"), Status::Unrepresentable);
    assert!(m.contains("has no PEP 3118 format"), "{m:?}");
    let m = refused(&from_typestr("|S0"), Status::Unrepresentable);
    assert!(m.contains("size 0"), "{m:?}");

    let f = from_typestr("<f8");
    let mut out = Guarded::new(2);
    assert_eq!(f(out.ptr().cast(), 2), Status::LengthMismatch as pybuf_ssize_t);
    assert_eq!(message(Status::LengthMismatch), "the format \"<d\" needs 3 bytes with its NUL, but size = 2");
    assert!(out.untouched());
    let mut out = Guarded::new(8);
    // SAFETY: NULL typestr is a documented argument; `out` has 8 bytes.
    let rc = unsafe { pybuf_format_from_typestr(ptr::null(), out.ptr().cast(), 8) };
    assert_eq!(rc, Status::NullPointer as pybuf_ssize_t);
    assert_eq!(message(Status::NullPointer), "typestr is NULL");
    assert!(out.untouched());
}

#[test]
fn random_typestrs_round_trip() {
    let mut rng = Rng::new(7);
    // (kind, sizes): the scalar types both conventions have.
    let kinds: [(char, &[usize]); 5] =
        [('i', &[1, 2, 4, 8]), ('u', &[1, 2, 4, 8]), ('f', &[2, 4, 8]), ('c', &[8, 16]), ('b', &[1])];
    for _ in 0..cases(300) {
        let typestr = match rng.below(8) {
            0 => format!("|S{}", 1 + rng.below(20)),
            1 => format!("|V{}", 1 + rng.below(20)),
            2 => format!("{}U{}", ["<", ">"][rng.below(2)], 1 + rng.below(20)),
            _ => {
                let (kind, sizes) = kinds[rng.below(kinds.len())];
                let size = sizes[rng.below(sizes.len())];
                let order = if size == 1 { "|" } else { ["<", ">"][rng.below(2)] };
                format!("{order}{kind}{size}")
            }
        };
        let format = converted(&from_typestr(&typestr));
        assert_eq!(converted(&to_typestr(&format, 0)), typestr, "{typestr:?} -> {format:?} -> back");
        // NumPy's size of a U is in characters (UCS-4), else in bytes.
        let n: pybuf_ssize_t = typestr[2..].parse().expect("a size");
        let bytes = if typestr.as_bytes()[1] == b'U' { 4 * n } else { n };
        assert_eq!(size_of_format(&format), bytes, "size of {format:?} from {typestr:?}");
        // Its descr is the default one of a scalar.
        assert_eq!(converted(&to_descr(&format, 0)), format!("[('', '{typestr}')]"));
    }
}

// -------------------------------------------------------------------------------------
// pybuf_format_from_descr

#[test]
fn from_descr_as_documented() {
    let format = converted(&from_descr("[('a', '|i1'), ('', '|V7'), ('b', '<f8')]"));
    assert_eq!(format, "T{<b:a:7xd:b:}");
    assert_eq!(size_of_format(&format), 16);
    assert_eq!(converted(&from_descr("[('', '>i2')]")), ">h");
    assert_eq!(converted(&from_descr("[('', '<f8')]")), "<d");
    // Its descr is where it came from.
    let descr = "[('a', '<i4'), ('m', '<f8', (2, 3)), ('s', [('p', '<i2')])]";
    let format = converted(&from_descr(descr));
    assert_eq!(converted(&to_descr(&format, 0)), descr, "via {format:?}");
}

#[test]
fn from_descr_refusals() {
    let m = refused(&from_descr("[('a' '<i4')]"), Status::InvalidFormat);
    assert!(m.starts_with("descr \"[('a' '<i4')]\" at 6: expected ',' or ')'"), "{m:?}");
    let m = refused(&from_descr("[('a', '<i4', (-1,))]"), Status::InvalidShape);
    assert!(m.contains("negative shape entry -1"), "{m:?}");
    let m = refused(&from_descr("[('a:b', '<i4')]"), Status::Unrepresentable);
    assert!(m.contains("cannot hold ':'"), "{m:?}");
    let m = refused(&from_descr("[('a', '<i4'), ('a', '<f8')]"), Status::InvalidFormat);
    assert!(m.contains("gives format \"T{<i:a:d:a:}\", which is refused"), "{m:?}");
    let m = refused(&from_descr("[]"), Status::InvalidFormat);
    assert!(m.contains("at least one field"), "{m:?}");
    let m = refused(&from_descr("[('a', '<M8[ns]')]"), Status::Unrepresentable);
    assert!(m.contains("datetime64"), "{m:?}");

    let f = from_descr("[('', '>i2')]");
    assert_eq!(f(ptr::null_mut(), 0), 2);
    let mut out = Guarded::new(2);
    assert_eq!(f(out.ptr().cast(), 2), Status::LengthMismatch as pybuf_ssize_t);
    assert_eq!(message(Status::LengthMismatch), "the format \">h\" needs 3 bytes with its NUL, but size = 2");
    assert!(out.untouched());
    let mut out = Guarded::new(8);
    // SAFETY: NULL descr is a documented argument; `out` has 8 bytes.
    let rc = unsafe { pybuf_format_from_descr(ptr::null(), out.ptr().cast(), 8) };
    assert_eq!(rc, Status::NullPointer as pybuf_ssize_t);
    assert_eq!(message(Status::NullPointer), "descr is NULL");
    assert!(out.untouched());
}
