//! Exporters, request flags and view lifetimes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::abi::*;
use crate::error::Status;

fn parts<'a>(mem: &'a mut [u8], shape: &'a [isize], strides: Option<&'a [isize]>) -> Parts<'a> {
    Parts {
        base: mem.as_mut_ptr(),
        size: mem.len() as isize,
        offset: 0,
        readonly: false,
        format: Some(b"d"),
        itemsize: 0,
        shape,
        strides,
        suboffsets: None,
    }
}

#[test]
fn descriptions_are_validated() {
    let mut mem = [0u8; 96];
    assert!(Description::new(&parts(&mut mem, &[3, 4], None)).is_ok());
    // The array must lie within the memory.
    let e = Description::new(&parts(&mut mem, &[3, 5], None)).unwrap_err();
    assert_eq!(e.status(), Status::LengthMismatch);
    assert!(e.message().contains("[0, 120)"), "{}", e.message());
    // Negative strides need an offset.
    let mut p = parts(&mut mem, &[12], Some(&[-8]));
    assert_eq!(Description::new(&p).unwrap_err().status(), Status::LengthMismatch);
    p.offset = 88;
    assert!(Description::new(&p).is_ok());
    // itemsize must agree with the format.
    let mut p = parts(&mut mem, &[3], None);
    p.itemsize = 4;
    let e = Description::new(&p).unwrap_err();
    assert_eq!(e.status(), Status::InvalidItemsize);
    assert_eq!(e.message(), "itemsize = 4 but format \"d\" has size 8");
    p.format = Some(b"T{i");
    assert_eq!(Description::new(&p).unwrap_err().status(), Status::InvalidFormat);
    // Overflow.
    let p = parts(&mut mem, &[isize::MAX / 4, 8], None);
    assert_eq!(Description::new(&p).unwrap_err().status(), Status::Overflow);
}

fn fill(d: &Description, flags: i32) -> Result<pybuf_buffer> {
    let mut v = pybuf_buffer::zeroed();
    d.fill(&mut v, flags).map(|_| v)
}

#[test]
fn requests_follow_testbuffer() {
    let mut mem = [0u8; 96];
    // A 4x3 transpose of a 3x4 C array: F-contiguous only.
    let d = Description::new(&parts(&mut mem, &[4, 3], Some(&[8, 32]))).unwrap();
    let v = fill(&d, PYBUF_FULL).unwrap();
    assert_eq!((v.ndim, v.len, v.itemsize, v.readonly), (2, 96, 8, 0));
    // SAFETY: the view's arrays have ndim entries and point into `d`.
    unsafe {
        assert_eq!(std::slice::from_raw_parts(v.shape, 2), &[4, 3]);
        assert_eq!(std::slice::from_raw_parts(v.strides, 2), &[8, 32]);
        assert_eq!(std::ffi::CStr::from_ptr(v.format).to_bytes(), b"d");
    }
    assert!(v.suboffsets.is_null() && v.obj.is_null());
    assert!(fill(&d, PYBUF_F_CONTIGUOUS).is_ok());
    assert!(fill(&d, PYBUF_ANY_CONTIGUOUS).is_ok());
    let e = fill(&d, PYBUF_C_CONTIGUOUS).unwrap_err();
    assert_eq!(e.status(), Status::BufferRequest);
    assert!(e.message().starts_with("PYBUF_C_CONTIGUOUS"));
    assert!(fill(&d, PYBUF_ND).unwrap_err().message().starts_with("PYBUF_STRIDES not requested"));
    // Without FORMAT the format is NULL; without ND the shape is NULL and ndim 1.
    let c = Description::new(&parts(&mut mem, &[3, 4], None)).unwrap();
    let v = fill(&c, PYBUF_ND).unwrap();
    assert!(v.format.is_null() && v.strides.is_null() && !v.shape.is_null());
    let v = fill(&c, PYBUF_SIMPLE).unwrap();
    assert!(v.shape.is_null() && v.ndim == 1 && v.len == 96 && v.itemsize == 8);
    let e = fill(&c, PYBUF_FORMAT).unwrap_err();
    assert!(e.message().starts_with("PYBUF_FORMAT requested without PYBUF_ND"), "{}", e.message());
    // Read-only memory refuses WRITABLE.
    let mut p = parts(&mut mem, &[3, 4], None);
    p.readonly = true;
    let r = Description::new(&p).unwrap();
    assert!(fill(&r, PYBUF_WRITABLE).unwrap_err().message().contains("read-only"));
    assert_eq!(fill(&r, PYBUF_RECORDS_RO).unwrap().readonly, 1);
    // Unknown bits.
    assert_eq!(fill(&c, 0x400).unwrap_err().status(), Status::InvalidArgument);
}

#[test]
fn suboffsets_need_indirect() {
    let mut rows = [[0u8; 8]; 2];
    let mut ptrs: [*mut u8; 2] = [rows[0].as_mut_ptr(), rows[1].as_mut_ptr()];
    // SAFETY: reinterpreting the pointer array as bytes for its address only.
    let mem = unsafe { std::slice::from_raw_parts_mut(ptrs.as_mut_ptr().cast::<u8>(), 16) };
    let p = Parts {
        format: Some(b"B"),
        suboffsets: Some(&[0, -1]),
        strides: Some(&[8, 1]),
        ..parts(mem, &[2, 8], None)
    };
    let d = Description::new(&p).unwrap();
    assert!(fill(&d, PYBUF_FULL_RO).is_ok());
    let e = fill(&d, PYBUF_RECORDS_RO).unwrap_err();
    assert_eq!(e.message(), "the memory has suboffsets but PYBUF_INDIRECT was not requested");
}

static OWNER_CALLS: AtomicUsize = AtomicUsize::new(0);
unsafe extern "C" fn count_owner(user: *mut std::ffi::c_void) {
    assert_eq!(user as usize, 42);
    OWNER_CALLS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn views_keep_the_exporter_alive_and_release_exactly_once() {
    let mut mem = [0u8; 96];
    let d = Description::new(&parts(&mut mem, &[12], None)).unwrap();
    let e = Exporter::new(d, Some(Owner { callback: count_owner, user: 42 as *mut _ }));
    let mut v1 = pybuf_buffer::zeroed();
    let mut v2 = pybuf_buffer::zeroed();
    e.export(&mut v1, PYBUF_FULL).unwrap();
    e.export(&mut v2, PYBUF_SIMPLE).unwrap();
    assert_eq!(e.exports(), 2);
    assert!(block::is_registered(v1.internal));
    // Replacing the memory is refused while views are alive.
    let mut other = [0u8; 8];
    let err = e.replace(Description::new(&parts(&mut other, &[1], None)).unwrap()).unwrap_err();
    assert_eq!(err.status(), Status::ExportsExist);
    assert!(err.message().contains("2 live views"));
    drop(e);
    assert_eq!(OWNER_CALLS.load(Ordering::SeqCst), 0, "views still hold the exporter");
    let copy = v1;
    block::release(&mut v1).unwrap();
    block::release(&mut v1).unwrap(); // twice: nothing the second time
    // A copy of a live view (at another address) cannot release it.
    let mut live_copy = v2;
    let e2 = block::release(&mut live_copy).unwrap_err();
    assert_eq!(e2.status(), Status::ForeignView);
    assert!(e2.message().contains("is a copy of the view pybuf filled at"), "{}", e2.message());
    // The stale copy of a released view is refused, not freed twice.
    let mut copy = copy;
    assert_eq!(block::release(&mut copy).unwrap_err().status(), Status::ForeignView);
    assert_eq!(OWNER_CALLS.load(Ordering::SeqCst), 0);
    block::release(&mut v2).unwrap();
    assert_eq!(OWNER_CALLS.load(Ordering::SeqCst), 1, "the last view released runs the owner");
}

#[test]
fn replace_succeeds_without_exports() {
    let mut mem = [0u8; 96];
    let e = Exporter::new(Description::new(&parts(&mut mem, &[12], None)).unwrap(), None);
    let mut v = pybuf_buffer::zeroed();
    e.export(&mut v, PYBUF_ND).unwrap();
    block::release(&mut v).unwrap();
    assert_eq!(e.exports(), 0);
    let mut bigger = [0u8; 160];
    e.replace(Description::new(&parts(&mut bigger, &[20], None)).unwrap()).unwrap();
    e.export(&mut v, PYBUF_ND).unwrap();
    assert_eq!(v.len, 160);
    assert_eq!(v.buf, bigger.as_mut_ptr().cast());
    block::release(&mut v).unwrap();
}

#[test]
fn foreign_views_are_refused_untouched() {
    let mut junk = 0u64;
    let mut v = pybuf_buffer { internal: (&mut junk as *mut u64).cast(), ..pybuf_buffer::zeroed() };
    let before = v;
    assert_eq!(block::release(&mut v).unwrap_err().status(), Status::ForeignView);
    assert_eq!(v.internal, before.internal);
    let mut z = pybuf_buffer::zeroed();
    assert_eq!(block::release(&mut z).unwrap_err().status(), Status::ForeignView);
}

#[test]
fn threads_export_and_release_with_exact_counts() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn owner(_: *mut std::ffi::c_void) {
        CALLS.fetch_add(1, Ordering::SeqCst);
    }
    // Outlives the exporter (dropped below); not leaked, so LeakSanitizer stays quiet.
    let mut mem = [0u8; 64];
    let e = Exporter::new(Description::new(&parts(&mut mem, &[8], None)).unwrap(), Some(Owner { callback: owner, user: std::ptr::null_mut() }));
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for t in 0..8 {
            let e = Arc::clone(&e);
            let held = Arc::clone(&held);
            s.spawn(move || {
                for i in 0..if cfg!(miri) { 40 } else { 2000 } {
                    // Views live at a fixed heap address, so another thread can release them.
                    let v = Box::into_raw(Box::new(pybuf_buffer::zeroed()));
                    // SAFETY: `v` is a fresh, exclusively owned allocation.
                    e.export(unsafe { &mut *v }, PYBUF_RECORDS).unwrap();
                    if i % 500 == t {
                        held.lock().unwrap().push(v as usize);
                    } else {
                        // SAFETY: as above; freed once, here.
                        let mut v = unsafe { Box::from_raw(v) };
                        block::release(&mut v).unwrap();
                    }
                }
            });
        }
    });
    let kept = held.lock().unwrap().len();
    assert_eq!(e.exports(), kept);
    for addr in held.lock().unwrap().drain(..) {
        // SAFETY: each address is a view boxed above and not freed yet.
        let mut v = unsafe { Box::from_raw(addr as *mut pybuf_buffer) };
        block::release(&mut v).unwrap();
    }
    assert_eq!(e.exports(), 0);
    drop(e);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
}
