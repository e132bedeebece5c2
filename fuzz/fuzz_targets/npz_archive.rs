//! The `.npz` archive reader: any bytes as an archive file (a memfd), opened, listed, and
//! every member loaded (mapped, and copied), its view read whole.
//!
//! Whatever the bytes, pybuf must answer with 0 or one of the statuses a damaged archive
//! may cause (never a crash, an out-of-bounds read, a `SIGBUS` or an abort); a listed
//! member's data lies within the file; `pybuf_npz_find` finds each member's name at or
//! before its index; a loaded view is readable over its whole extent.
#![no_main]

use std::ffi::{c_int, CStr};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};

use libfuzzer_sys::fuzz_target;
use pybuf::abi::*;
use pybuf::ffi::buffer::pybuf_release;
use pybuf::ffi::copy::pybuf_to_contiguous;
use pybuf::ffi::exporter::*;
use pybuf::ffi::npz::*;

const ALLOWED: &[c_int] = &[
    -18, // OUT_OF_MEMORY (an allocation refused)
    -30, // INVALID_FILE
    -12, // UNSUPPORTED_FORMAT (method, encryption, a descr pybuf cannot read)
    -23, // UNSUPPORTED_VERSION (.npy version)
    -11, // INVALID_FORMAT
    -21, // UNREPRESENTABLE
    -27, // IO
    -9,  // OVERFLOW
    -4,  // INVALID_SHAPE
    -5,  // INVALID_ITEMSIZE
    -3,  // INVALID_NDIM
];

fn allowed(rc: c_int, what: &str) {
    assert!(rc == 0 || ALLOWED.contains(&rc), "{what}: unexpected status {rc}");
}

fuzz_target!(|data: &[u8]| {
    // SAFETY: memfd_create with a NUL-terminated name; the fd is owned by `file` below.
    let fd = unsafe { libc::memfd_create(c"npz".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create");
    // SAFETY: a new fd nothing else owns.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(data).expect("memfd write");
    let mut a: *mut pybuf_npz = std::ptr::null_mut();
    // SAFETY: `a` is a writable pointer.
    let rc = unsafe { pybuf_npz_open_fd(file.as_raw_fd(), &mut a) };
    allowed(rc, "open");
    if rc != 0 {
        assert!(a.is_null());
        return;
    }
    // SAFETY: a live archive.
    let n = unsafe { pybuf_npz_count(a) };
    assert!(n >= 0);
    for i in 0..n.min(16) {
        // SAFETY: a zeroed member struct is a valid output slot.
        let mut m: pybuf_npz_member = unsafe { std::mem::zeroed() };
        // SAFETY: a live archive and a writable slot.
        assert_eq!(unsafe { pybuf_npz_member_info(a, i, &mut m) }, 0);
        assert!(m.data_offset >= 0 && m.compressed_size >= 0);
        assert!(m.data_offset as u64 + m.compressed_size as u64 <= data.len() as u64, "member data past the end");
        // SAFETY: the name is a C string owned by the archive.
        let found = unsafe { pybuf_npz_find(a, m.name) };
        assert!((0..=i).contains(&found), "find({:?}) = {found}, member {i}", unsafe { CStr::from_ptr(m.name) });
        for flags in [PYBUF_MAP_READONLY_FLAG, PYBUF_NPZ_COPY] {
            let mut e: *mut pybuf_exporter = std::ptr::null_mut();
            // SAFETY: a live archive and a writable slot.
            let rc = unsafe { pybuf_npz_load(a, i, flags, &mut e) };
            allowed(rc, "load");
            if rc != 0 {
                continue;
            }
            let mut v = pybuf_buffer::zeroed();
            // SAFETY: a live exporter and a writable view.
            assert_eq!(unsafe { pybuf_exporter_get_buffer(e, &mut v, PYBUF_FULL_RO) }, 0);
            if v.len <= 1 << 24 {
                let mut out = vec![0u8; v.len as usize];
                // SAFETY: `out` holds v.len bytes.
                assert_eq!(unsafe { pybuf_to_contiguous(out.as_mut_ptr().cast(), &v, v.len, b'C' as _) }, 0);
            }
            // SAFETY: the view filled above, released once; the exporter freed once.
            unsafe {
                pybuf_release(&mut v);
                pybuf_exporter_free(e);
            }
        }
    }
    // SAFETY: a live archive, closed once.
    unsafe { pybuf_npz_close(a) };
});

const PYBUF_MAP_READONLY_FLAG: c_int = pybuf::ffi::map::PYBUF_MAP_READONLY;
