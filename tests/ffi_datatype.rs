//! `pybuf_datatype_new` and `pybuf_datatype_free` (src/ffi/datatype.rs), called from Rust
//! as a C caller would, so that their `unsafe` blocks (the handle's layout, the walk
//! through suboffset pointers) run under Miri: the bytes a description reaches, read
//! through it unit by unit, must be the view's elements in C order (what
//! `pybuf_to_contiguous(view, 'C')` gives), for random strided and indirect views and
//! structured formats; refusals leave `*out` untouched.

mod common;
use common::*;

use std::ffi::CString;
use std::ptr;

use pybuf::abi::pybuf_ssize_t;
use pybuf::error::Status;
use pybuf::ffi::datatype::{pybuf_datatype, pybuf_datatype_free, pybuf_datatype_kind, pybuf_datatype_new};

/// The bytes of one unit of `kind` (or struct `nested`) at `at`, read through the
/// description, appended to `out`.
///
/// # Safety
/// `at` and the description reach readable memory.
unsafe fn unit(d: &pybuf_datatype, kind: pybuf_datatype_kind, nested: pybuf_ssize_t, size: pybuf_ssize_t,
               at: *const u8, out: &mut Vec<u8>) {
    if kind != pybuf_datatype_kind::Struct {
        // SAFETY: the caller's contract.
        out.extend_from_slice(unsafe { std::slice::from_raw_parts(at, size as usize) });
        return;
    }
    assert!(nested >= 0 && nested < d.nstructs);
    // SAFETY: a handle's arrays hold the counts it gives.
    let s = unsafe { &*d.structs.add(nested as usize) };
    // SAFETY: as above.
    let members = unsafe { std::slice::from_raw_parts(s.members, s.nmembers as usize) };
    let mut end = 0;
    for m in members {
        assert_eq!(m.offset, end, "members cover the struct without gaps");
        assert!(m.kind != pybuf_datatype_kind::Struct || m.nested < nested, "inner structs come first");
        for j in 0..m.count {
            // SAFETY: within the struct, by the caller's contract.
            unsafe { unit(d, m.kind, m.nested, m.size, at.offset(m.offset + j * m.size), out) };
        }
        end = m.offset + m.count * m.size;
    }
    assert_eq!(end, s.extent);
}

/// Every byte the description reaches, in its order, from the view's `buf` (or its bases).
///
/// # Safety
/// The described view's memory is alive.
unsafe fn reach(d: &pybuf_datatype, buf: *const u8) -> Vec<u8> {
    let mut out = Vec::new();
    let bases: Vec<*const u8> = if d.nbases == 0 {
        vec![buf]
    } else {
        // SAFETY: a handle's arrays hold the counts it gives.
        unsafe { std::slice::from_raw_parts(d.bases, d.nbases as usize) }.iter().map(|&p| p.cast_const().cast()).collect()
    };
    let dims = if d.ndim == 0 {
        &[][..]
    } else {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(d.dims, d.ndim as usize) }
    };
    for base in bases {
        let total: isize = dims.iter().map(|x| x.count).product();
        for flat in 0..total {
            let (mut rest, mut at) = (flat, base);
            for x in dims.iter().rev() {
                at = at.wrapping_offset((rest % x.count) * x.stride);
                rest /= x.count;
            }
            for j in 0..d.block {
                // SAFETY: the described view's memory, by the caller's contract.
                unsafe { unit(d, d.kind, d.nested, d.size, at.wrapping_offset(j * d.size), &mut out) };
            }
        }
    }
    out
}

fn describe(a: &mut Array, max_count: pybuf_ssize_t) -> Vec<u8> {
    let v = a.view();
    let mut d: *mut pybuf_datatype = ptr::null_mut();
    // SAFETY: a valid view of memory `a` owns; out is writable.
    let rc = unsafe { pybuf_datatype_new(&v, max_count, &mut d) };
    expect_status(rc, Status::Ok);
    // SAFETY: a handle from pybuf_datatype_new.
    let h = unsafe { &*d };
    assert_eq!(h.nbytes, a.count() * a.itemsize);
    // SAFETY: the memory is alive.
    let bytes = unsafe { reach(h, v.buf.cast_const().cast()) };
    // SAFETY: freed once.
    unsafe { pybuf_datatype_free(d) };
    bytes
}

const FORMATS: &[&str] = &["B", "d", "3h", "Zd", "e", ">i", "T{b:a:d:b:}", "T{b:a:(2)T{b:x:i:y:}:s:}", "T{(2,3)f:m:b:t:}"];

#[test]
fn random_views_are_described_in_c_order() {
    let mut rng = Rng::new(16);
    for _ in 0..cases(300) {
        let format = FORMATS[rng.below(FORMATS.len())];
        let f = CString::new(format).unwrap();
        // SAFETY: a NUL-terminated string.
        let itemsize = unsafe { pybuf::ffi::format::pybuf_size_from_format(f.as_ptr()) };
        let ndim = rng.below(4);
        let shape: Vec<pybuf_ssize_t> = (0..ndim).map(|_| 1 + rng.below(3) as isize).collect();
        let mut a = if ndim > 0 && rng.below(3) == 0 {
            let dims = [rng.below(ndim)];
            Array::indirect(&mut rng, &shape, itemsize, &dims)
        } else {
            Array::random(&mut rng, &shape, itemsize)
        };
        a.format = Some(f);
        let max = if rng.below(3) == 0 { 4 } else { pybuf_ssize_t::MAX };
        let v = a.view();
        let mut d: *mut pybuf_datatype = ptr::null_mut();
        // SAFETY: as in `describe`.
        let rc = unsafe { pybuf_datatype_new(&v, max, &mut d) };
        if rc != 0 {
            expect_status(rc, Status::Unrepresentable);
            assert!(d.is_null());
            continue;
        }
        // SAFETY: freed once.
        unsafe { pybuf_datatype_free(d) };
        assert_eq!(describe(&mut a, max), a.stream(b'C'), "{format} {shape:?} {:?} {:?}", a.strides, a.suboffsets);
    }
}

#[test]
fn refusals_leave_out_untouched() {
    let mut a = Array::c(&[5], 8, Some("d"));
    let v = a.view();
    let sentinel = 0x10 as *mut pybuf_datatype;
    let mut d = sentinel;
    // SAFETY: NULL and valid pointers, as a C caller may pass them.
    unsafe {
        expect_status(pybuf_datatype_new(ptr::null(), 1, &mut d), Status::NullPointer);
        expect_status(pybuf_datatype_new(&v, 1, ptr::null_mut()), Status::NullPointer);
        expect_status(pybuf_datatype_new(&v, 0, &mut d), Status::InvalidArgument);
        expect_status(pybuf_datatype_new(&v, 3, &mut d), Status::Unrepresentable);
        assert!(last().1.contains("5 exceeds the largest count, 3"), "{}", last().1);
        let mut bad = v;
        bad.format = c"T{i".as_ptr().cast_mut();
        expect_status(pybuf_datatype_new(&bad, 1 << 20, &mut d), Status::InvalidFormat);
        pybuf_datatype_free(ptr::null_mut());
    }
    assert_eq!(d, sentinel);
}
