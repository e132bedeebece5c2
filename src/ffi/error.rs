//! The calling thread's last status and message.

use std::ffi::{c_char, c_int};

use crate::error;

/// The message of the calling thread's last pybuf call: what was wrong and with which
/// value, or "" if that call succeeded. Never NULL. The string belongs to pybuf and stays
/// valid until the next pybuf call on this thread: copy it before calling pybuf again
/// (`printf("%d %s", pybuf_is_contiguous(...), pybuf_last_error())` may print a message that
/// the other argument's call already replaced, as C leaves the order of evaluation open).
///
/// A message longer than 1023 bytes is cut at a character boundary and ends in "...".
///
/// Thread-safe: each thread has its own message. Every pybuf function, this one included,
/// may be called while a thread or the process ends (from a pthread key destructor or an
/// `atexit` handler, after the thread's other thread-local storage is destroyed): the
/// status and the message work as at any other time, and nothing leaks.
#[no_mangle]
pub extern "C" fn pybuf_last_error() -> *const c_char {
    error::last_message_ptr()
}

/// The status of the calling thread's last pybuf call: 0 (PYBUF_STATUS_OK) or one of the
/// negative `pybuf_status` values.
///
/// Thread-safe: each thread has its own status.
#[no_mangle]
pub extern "C" fn pybuf_last_status() -> c_int {
    error::last_status() as c_int
}

/// A static name for a status value ("PYBUF_STATUS_INVALID_SHAPE"), or
/// "PYBUF_STATUS_UNKNOWN" for a value that is no status. Never NULL; never freed.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn pybuf_status_name(status: c_int) -> *const c_char {
    match error::Status::from_raw(status) {
        Some(s) => s.c_name().as_ptr(),
        None => c"PYBUF_STATUS_UNKNOWN".as_ptr(),
    }
}

/// The `errno` of the calling thread's last pybuf call when it failed with
/// PYBUF_STATUS_IO (the operating system refused a read, write, open, mmap, ...), so
/// that a caller can tell `EPIPE` from `ENOSPC` without parsing the message; 0 after a
/// success or any other failure.
///
/// Thread-safe: each thread has its own.
#[no_mangle]
pub extern "C" fn pybuf_last_errno() -> c_int {
    error::last_errno()
}
