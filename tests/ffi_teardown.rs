//! pybuf called from a thread-local destructor that runs after the library's own
//! thread-local message slot was destroyed (issue 12, defect 1): the C functions must return
//! their status and a readable message instead of panicking across the C boundary (which
//! aborts). Runs under Miri, which implements thread-local destructors; the C test
//! `c_tests/test_teardown.c` covers `atexit` handlers and pthread key destructors.

use std::cell::Cell;
use std::ffi::CStr;

use pybuf::error::Status;
use pybuf::ffi::buffer::pybuf_is_contiguous;
use pybuf::ffi::error::{pybuf_last_error, pybuf_last_status};
use pybuf::ffi::format::pybuf_size_from_format;

/// What the destructor saw: (status after a NULL view, message was readable, size of "<id").
struct Probe(std::sync::mpsc::Sender<(i32, bool, isize)>);

impl Drop for Probe {
    fn drop(&mut self) {
        // An error, a success, and an error again: the slot is written each time.
        // SAFETY: a NULL view is refused with a status; the format is a C string literal.
        let size = unsafe {
            pybuf_is_contiguous(std::ptr::null(), b'C' as _);
            let size = pybuf_size_from_format(c"<id".as_ptr());
            pybuf_is_contiguous(std::ptr::null(), b'C' as _);
            size
        };
        let status = pybuf_last_status();
        let message = pybuf_last_error();
        // SAFETY: pybuf_last_error never returns NULL and its string lives until the next call.
        let readable = !message.is_null() && !unsafe { CStr::from_ptr(message) }.to_bytes().is_empty();
        let _ = self.0.send((status, readable, size));
    }
}

thread_local! {
    static PROBE: Cell<Option<Probe>> = const { Cell::new(None) };
}

fn run_thread(error_first: bool) -> (i32, bool, isize) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Registered first, so destroyed after pybuf's slot (destructors run last-in
        // first-out) when pybuf's slot is registered after it, below.
        PROBE.with(|p| p.set(Some(Probe(tx))));
        if error_first {
            // SAFETY: a NULL view is refused with a status.
            unsafe { pybuf_is_contiguous(std::ptr::null(), b'C' as _) };
            assert_eq!(pybuf_last_status(), Status::NullPointer as i32);
        }
    })
    .join()
    .expect("the thread ends without a panic");
    rx.recv().expect("the destructor reported")
}

#[test]
fn calls_from_a_thread_local_destructor_after_an_error() {
    let (status, readable, size) = run_thread(true);
    assert_eq!(status, Status::NullPointer as i32);
    assert!(readable, "pybuf_last_error() is empty or NULL during teardown");
    assert_eq!(size, 12);
}

#[test]
fn calls_from_a_thread_local_destructor_without_an_earlier_error() {
    let (status, readable, size) = run_thread(false);
    assert_eq!(status, Status::NullPointer as i32);
    assert!(readable);
    assert_eq!(size, 12);
}
