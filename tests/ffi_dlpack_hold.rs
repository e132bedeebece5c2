//! Views derived from a view imported from DLPack hold the tensor (issue 12): releasing
//! the imported view while derived views live must not run the producer's deleter, which
//! may free the memory they point into. Runs under Miri.

mod common;
use common::c_desc;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};

use pybuf::abi::{pybuf_buffer, PYBUF_FULL_RO, PYBUF_RECORDS_RO};
use pybuf::ffi::buffer::pybuf_release;
use pybuf::ffi::dlpack::{pybuf_from_dlpack, pybuf_to_dlpack};
use pybuf::ffi::exporter::pybuf_fill_view;
use pybuf::ffi::view::{pybuf_get_item, pybuf_slice, pybuf_transpose};

unsafe extern "C" fn count(user: *mut c_void) {
    // SAFETY: user is the test's counter, alive for the whole test.
    unsafe { &*(user as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn derived_views_of_an_import_hold_the_tensor() {
    let mut mem: Vec<f64> = (0..6).map(f64::from).collect();
    let shape = [2isize, 3];
    let desc = c_desc(mem.as_mut_ptr().cast(), 48, c"d", &shape);
    let deleted = AtomicUsize::new(0);
    let user = &deleted as *const AtomicUsize as *mut c_void;
    // SAFETY: every view below is valid and released once; the counter and `mem` outlive them.
    unsafe {
        let mut own = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_fill_view(&mut own, &desc, PYBUF_FULL_RO), 0);
        let mut tensor = null_mut();
        assert_eq!(pybuf_to_dlpack(&own, Some(count), user, &mut tensor), 0);
        pybuf_release(&mut own);

        let mut imported = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_from_dlpack(&mut imported, tensor, PYBUF_RECORDS_RO), 0);
        let mut row = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_slice(&mut row, &imported, 0, 1, 2, 1), 0);
        let mut t = std::mem::zeroed::<pybuf_buffer>();
        assert_eq!(pybuf_transpose(&mut t, &row), 0, "a view derived from a derived view");
        pybuf_release(&mut imported);
        assert_eq!(deleted.load(Ordering::SeqCst), 0, "the deleter ran while derived views live");
        pybuf_release(&mut row);
        assert_eq!(deleted.load(Ordering::SeqCst), 0);
        // The memory is still there for the last one.
        let idx = [2isize, 0];
        let mut v = std::mem::zeroed();
        assert_eq!(pybuf_get_item(&t, idx.as_ptr(), 0, &mut v), 0);
        assert_eq!(v.real, 5.0);
        // A tensor of the derived view holds it past the view too.
        let mut again = null_mut();
        assert_eq!(pybuf_to_dlpack(&t, None, null_mut(), &mut again), 0);
        pybuf_release(&mut t);
        assert_eq!(deleted.load(Ordering::SeqCst), 0, "the new tensor holds the import");
        let deleter = (*again).deleter.expect("a deleter");
        deleter(again);
        assert_eq!(deleted.load(Ordering::SeqCst), 1, "the last holder runs the deleter once");
    }
}
