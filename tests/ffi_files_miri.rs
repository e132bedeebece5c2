//! The file, mapping, archive and sharing functions of the C surface (`src/ffi/io.rs`,
//! `map.rs`, `npy.rs`, `npz.rs`, `share.rs`) as far as Miri runs them, called from Rust as
//! a C caller calls them:
//!
//! - transfers and `.npy` streams through pipes, which Miri runs (`pipe`, `readv`,
//!   `writev`, `fcntl(F_GETFD)`; under Miri pybuf writes with `writev` where it otherwise
//!   tries `sendmsg` first, and takes every fd for a stream where it otherwise asks
//!   `fstat`): the bytes on the pipe must be the elements in order, worked out element by
//!   element here (`tests/common`), and a read must store them the same way;
//! - every refusal that comes before a system call Miri cannot make: NULL pointers,
//!   unknown flags, modes and orders, malformed views and descriptions, bad names. Each
//!   returns its status with a message and leaves `*out` untouched.
//!
//! Regular files, mappings of files, archives, shared segments and sockets are tested
//! natively: `tests/ffi_io.rs`, the unit tests of `src/map`, `src/npy`, `src/npz` and
//! `src/share`, and the C tests.
#![cfg(target_os = "linux")]

mod common;
use common::*;

use std::ffi::{c_char, c_int, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::{null, null_mut};

use pybuf::abi::{pybuf_buffer, pybuf_ssize_t, PYBUF_FULL_RO};
use pybuf::error::Status;
use pybuf::ffi::buffer::pybuf_release;
use pybuf::ffi::error::pybuf_last_errno;
use pybuf::ffi::exporter::{pybuf_exporter, pybuf_exporter_desc, pybuf_exporter_free, pybuf_exporter_get_buffer, pybuf_exporter_new};
use pybuf::ffi::io::*;
use pybuf::ffi::map::*;
use pybuf::ffi::npy::*;
use pybuf::ffi::npz::*;
use pybuf::ffi::share::*;

/// A pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut p = [-1; 2];
    // SAFETY: `p` has room for the two fds.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: two fresh fds that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) }
}

/// An fd number that is not open: far above any fd this process has (a number closed
/// here could be reused at once by a test running beside).
const NOT_OPEN: RawFd = 1 << 20;

/// Put `bytes` into the pipe's write end (they fit its buffer).
fn put(fd: RawFd, bytes: &[u8]) {
    // SAFETY: `bytes` is readable for its length.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize, "{}", std::io::Error::last_os_error());
}

/// Take exactly `n` bytes from the pipe's read end.
fn take(fd: RawFd, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut done = 0;
    while done < n {
        // SAFETY: `out[done..]` is writable for its length.
        let got = unsafe { libc::read(fd, out[done..].as_mut_ptr().cast(), n - done) };
        assert!(got > 0, "{}", std::io::Error::last_os_error());
        done += got as usize;
    }
    out
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next() as u8).collect()
}

/// A transposed 5 x 7 block of 4-byte items (F-contiguous), every other item of a 4 x 3
/// array of doubles (neither), and a 3 x 4 array of 2-byte items whose rows are reached
/// through pointers (suboffsets).
fn arrays(rng: &mut Rng) -> Vec<Array> {
    let t = Array::with_layout(140, 0, &[5, 7], &[4, 20], 4, Some("i"));
    let every_other = Array::with_layout(192, 8, &[4, 3], &[48, 16], 8, Some("d"));
    let mut rows = Array::indirect(rng, &[3, 4], 2, &[0]);
    rows.format = Some(CString::new("h").unwrap());
    vec![t, every_other, rows]
}

/// Run `call` with `*out` set to a sentinel and check that it failed with `status` and
/// left `*out` alone.
#[track_caller]
fn refused_out<T>(status: Status, call: impl FnOnce(*mut *mut T) -> c_int) {
    let sentinel = std::ptr::NonNull::<T>::dangling().as_ptr();
    let mut out = sentinel;
    expect_status(call(&mut out), status);
    assert_eq!(out, sentinel, "*out changed by a refused call");
}

#[test]
fn views_through_a_pipe_in_every_order() {
    let mut rng = Rng::new(1);
    for mut a in arrays(&mut rng) {
        for order in [b'C', b'F', b'A'] {
            let (r, w) = pipe();
            let v = a.view();
            // SAFETY: a valid view of `a`, whose memory outlives the call.
            expect_status(unsafe { pybuf_write_fd(w.as_raw_fd(), &v, order as c_char) }, Status::Ok);
            assert_eq!(take(r.as_raw_fd(), v.len as usize), a.stream(order), "order {}", order as char);

            let incoming = random_bytes(&mut rng, v.len as usize);
            put(w.as_raw_fd(), &incoming);
            let mut want = a.duplicate();
            want.store_stream(order, &incoming);
            // SAFETY: as above; the memory is writable.
            expect_status(unsafe { pybuf_read_fd(r.as_raw_fd(), &v, order as c_char) }, Status::Ok);
            assert_eq!(a.payload(), want.payload(), "order {}", order as char);
        }
    }
}

#[test]
fn resumable_transfers_through_a_pipe() {
    let mut rng = Rng::new(2);
    for mut a in arrays(&mut rng) {
        let (r, w) = pipe();
        let v = a.view();
        let mut io: *mut pybuf_io = null_mut();
        // SAFETY: a valid view whose memory outlives the transfer; `io` is writable.
        expect_status(unsafe { pybuf_io_new(w.as_raw_fd(), &v, b'F' as c_char, PYBUF_IO_WRITE, -1, &mut io) }, Status::Ok);
        // SAFETY: a live transfer (for all the calls below until it is freed).
        unsafe {
            assert_eq!((pybuf_io_done(io), pybuf_io_total(io)), (0, v.len as i64));
            expect_status(pybuf_io_step(io), Status::Ok);
            assert_eq!(pybuf_io_done(io), v.len as i64);
            expect_status(pybuf_io_step(io), Status::Ok);
            pybuf_io_free(io);
        }
        assert_eq!(take(r.as_raw_fd(), v.len as usize), a.stream(b'F'));

        // A read from a pipe that ends after part of the bytes: end of file, with the
        // elements that arrived whole stored (the one that arrived in part and those
        // after it keep their bytes), and freeing the transfer then changes nothing.
        // (Would-block and then freeing: tests/ffi_io.rs, natively; Miri's readv leaks
        // its buffer when it would block.)
        let incoming = random_bytes(&mut rng, v.len as usize);
        let part = incoming.len() / 2 + 1;
        put(w.as_raw_fd(), &incoming[..part]);
        drop(w);
        let mut want = a.duplicate();
        let whole = part - part % a.itemsize as usize;
        want.store_stream(b'C', &incoming[..whole]);
        let mut io: *mut pybuf_io = null_mut();
        // SAFETY: as above; the memory is writable.
        expect_status(unsafe { pybuf_io_new(r.as_raw_fd(), &v, b'C' as c_char, PYBUF_IO_READ, -1, &mut io) }, Status::Ok);
        // SAFETY: a live transfer, freed once.
        unsafe {
            expect_status(pybuf_io_step(io), Status::EndOfFile);
            assert!(last().1.contains(&format!("after {part} of {} bytes", v.len)), "{:?}", last());
            assert_eq!(pybuf_io_done(io), part as i64);
            pybuf_io_free(io);
        }
        assert_eq!(a.payload(), want.payload());
    }
}

#[test]
fn transfers_refuse_bad_arguments_before_any_byte_moves() {
    let (r, w) = pipe();
    let (r, w) = (r.as_raw_fd(), w.as_raw_fd());
    let mut a = Array::with_layout(96, 0, &[3, 4], &[32, 8], 8, Some("d"));
    let v = a.view();
    let mut ro = Array::c(&[4], 8, Some("d"));
    ro.readonly = true;
    let ro_v = ro.view();
    let mut broadcast = Array::with_layout(8, 0, &[4], &[0], 8, Some("d"));
    let bv = broadcast.view();
    let mut bad = a.view();
    bad.ndim = -1;
    let gone = NOT_OPEN;
    let write = |fd, v: *const pybuf_buffer, order: u8| {
        // SAFETY: `v` is NULL or a view of live memory.
        unsafe { pybuf_write_fd(fd, v, order as c_char) }
    };
    let read = |fd, v: *const pybuf_buffer, order: u8| {
        // SAFETY: as above.
        unsafe { pybuf_read_fd(fd, v, order as c_char) }
    };
    let pwrite = |fd, v: *const pybuf_buffer, offset| {
        // SAFETY: as above.
        unsafe { pybuf_pwrite_fd(fd, v, b'C' as c_char, offset) }
    };
    let pread = |fd, v: *const pybuf_buffer, offset| {
        // SAFETY: as above.
        unsafe { pybuf_pread_fd(fd, v, b'C' as c_char, offset) }
    };
    expect_status(write(w, null(), b'C'), Status::NullPointer);
    expect_status(read(r, null(), b'C'), Status::NullPointer);
    expect_status(write(-1, &v, b'C'), Status::InvalidArgument);
    expect_status(read(-1, &v, b'C'), Status::InvalidArgument);
    expect_status(write(w, &v, b'X'), Status::InvalidArgument);
    expect_status(write(w, &bad, b'C'), Status::InvalidNdim);
    expect_status(read(r, &ro_v, b'C'), Status::ReadOnly);
    expect_status(read(r, &bv, b'C'), Status::InvalidStrides);
    expect_status(write(gone, &v, b'C'), Status::Io);
    assert_eq!(pybuf_last_errno(), libc::EBADF);
    expect_status(read(gone, &v, b'C'), Status::Io);
    expect_status(pwrite(w, &v, -1), Status::InvalidArgument);
    expect_status(pread(r, &v, -1), Status::InvalidArgument);
    expect_status(pwrite(-1, &v, 0), Status::InvalidArgument);
    expect_status(pread(r, &ro_v, 0), Status::ReadOnly);

    // Resumable transfers.
    // SAFETY: (for every call below) views of live memory or NULL; `out` writable or NULL.
    unsafe {
        refused_out(Status::InvalidArgument, |out| pybuf_io_new(w, &v, b'C' as c_char, 2, -1, out));
        refused_out(Status::InvalidArgument, |out| pybuf_io_new(w, &v, b'C' as c_char, PYBUF_IO_WRITE, -2, out));
        refused_out(Status::NullPointer, |out| pybuf_io_new(w, null(), b'C' as c_char, PYBUF_IO_WRITE, -1, out));
        refused_out(Status::InvalidArgument, |out| pybuf_io_new(-1, &v, b'C' as c_char, PYBUF_IO_READ, 0, out));
        refused_out(Status::ReadOnly, |out| pybuf_io_new(r, &ro_v, b'C' as c_char, PYBUF_IO_READ, -1, out));
        refused_out(Status::Io, |out| pybuf_io_new(gone, &v, b'C' as c_char, PYBUF_IO_WRITE, -1, out));
        expect_status(pybuf_io_new(w, &v, b'C' as c_char, PYBUF_IO_WRITE, -1, null_mut()), Status::NullPointer);
        expect_status(pybuf_io_step(null_mut()), Status::NullPointer);
        assert_eq!(pybuf_io_done(null()), -1);
        expect_error(Status::NullPointer);
        assert_eq!(pybuf_io_total(null()), -1);
        expect_error(Status::NullPointer);
        pybuf_io_free(null_mut());
    }
    // Nothing moved: the pipe is empty, the arrays as they were.
    // SAFETY: F_SETFL on our own fd, then a read that must find nothing.
    unsafe {
        assert_eq!(libc::fcntl(r, libc::F_SETFL, libc::O_NONBLOCK), 0);
        let mut byte = 0u8;
        assert_eq!(libc::read(r, (&mut byte as *mut u8).cast(), 1), -1);
    }
    assert_eq!(a.payload(), Array::with_layout(96, 0, &[3, 4], &[32, 8], 8, None).payload());
}

/// A new exporter from the `.npy` stream at `fd`.
fn load_fd(fd: RawFd, flags: c_int) -> *mut pybuf_exporter {
    let mut e = null_mut();
    // SAFETY: `e` is writable.
    expect_status(unsafe { pybuf_npy_load_fd(fd, flags, &mut e) }, Status::Ok);
    e
}

/// The elements of `e`'s view in C order, and whether the view is read-only.
fn exported(e: *mut pybuf_exporter) -> (Vec<u8>, bool) {
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: a live exporter; `v` is writable.
    expect_status(unsafe { pybuf_exporter_get_buffer(e, &mut v, PYBUF_FULL_RO) }, Status::Ok);
    let mut out = vec![0u8; v.len as usize];
    // SAFETY: a view pybuf filled; `out` holds len bytes.
    expect_status(unsafe { pybuf::ffi::copy::pybuf_to_contiguous(out.as_mut_ptr().cast(), &v, v.len, b'C' as c_char) }, Status::Ok);
    let readonly = v.readonly != 0;
    // SAFETY: released once.
    unsafe { pybuf_release(&mut v) };
    (out, readonly)
}

#[test]
fn npy_streams_through_a_pipe() {
    let mut rng = Rng::new(4);
    let (rf, wf) = pipe();
    let (r, w) = (rf.as_raw_fd(), wf.as_raw_fd());
    for mut a in arrays(&mut rng) {
        let v = a.view();
        // SAFETY: a valid view of live memory.
        expect_status(unsafe { pybuf_npy_write_fd(w, &v) }, Status::Ok);
        for (flags, readonly) in [(PYBUF_NPY_READONLY, true), (PYBUF_NPY_PRIVATE, false)] {
            // SAFETY: as above (the same array again).
            expect_status(unsafe { pybuf_npy_write_fd(w, &v) }, Status::Ok);
            let e = load_fd(r, flags);
            assert_eq!(exported(e), (a.stream(b'C'), readonly));
            // SAFETY: a live exporter, freed once.
            unsafe { pybuf_exporter_free(e) };
        }
        // The first copy, read into the array's own layout after scrambling it.
        let want = a.payload();
        let scrambled = random_bytes(&mut rng, v.len as usize);
        a.store_stream(b'C', &scrambled);
        // SAFETY: a valid, writable view.
        expect_status(unsafe { pybuf_npy_read_fd(r, &v) }, Status::Ok);
        assert_eq!(a.payload(), want);
    }
    // A stream that ends inside the magic: a short file.
    put(w, b"\x93NUMPY");
    drop(wf);
    refused_out(Status::InvalidFile, |out| {
        // SAFETY: `out` is writable.
        unsafe { pybuf_npy_load_fd(r, PYBUF_NPY_READONLY, out) }
    });
}

#[test]
fn npy_refusals_come_before_the_file() {
    let path = CString::new("/nonexistent/pybuf-never-written.npy").unwrap();
    let (r, w) = pipe();
    let (r, w) = (r.as_raw_fd(), w.as_raw_fd());
    let mut a = Array::c(&[2, 3], 8, Some("d"));
    let v = a.view();
    let mut ro = Array::c(&[2, 3], 8, Some("d"));
    ro.readonly = true;
    let ro_v = ro.view();
    let mut pointers = Array::c(&[2], 8, Some("P"));
    let pv = pointers.view();
    let mut bad = a.view();
    bad.ndim = -1;
    // SAFETY: (every call) NULL or NUL-terminated paths, NULL or valid views, `out`
    // writable or NULL.
    unsafe {
        expect_status(pybuf_npy_save(null(), &v), Status::NullPointer);
        expect_status(pybuf_npy_save(path.as_ptr(), null()), Status::NullPointer);
        expect_status(pybuf_npy_save(path.as_ptr(), &bad), Status::InvalidNdim);
        // A format with no NumPy type: refused before the file is made.
        expect_status(pybuf_npy_save(path.as_ptr(), &pv), Status::Unrepresentable);
        expect_status(pybuf_npy_write_fd(w, &pv), Status::Unrepresentable);
        expect_status(pybuf_npy_write_fd(w, null()), Status::NullPointer);
        refused_out(Status::NullPointer, |out| pybuf_npy_load(null(), PYBUF_NPY_READONLY, out));
        refused_out(Status::InvalidArgument, |out| pybuf_npy_load(path.as_ptr(), 7, out));
        expect_status(pybuf_npy_load(path.as_ptr(), PYBUF_NPY_READONLY, null_mut()), Status::NullPointer);
        refused_out(Status::InvalidArgument, |out| pybuf_npy_load_fd(r, -1, out));
        expect_status(pybuf_npy_load_fd(r, PYBUF_NPY_READONLY, null_mut()), Status::NullPointer);
        // A pipe cannot take writes back.
        refused_out(Status::InvalidArgument, |out| pybuf_npy_load_fd(r, PYBUF_NPY_WRITABLE, out));
        expect_status(pybuf_npy_read(null(), &v), Status::NullPointer);
        expect_status(pybuf_npy_read(path.as_ptr(), null()), Status::NullPointer);
        expect_status(pybuf_npy_read(path.as_ptr(), &ro_v), Status::ReadOnly);
        expect_status(pybuf_npy_read_fd(r, &ro_v), Status::ReadOnly);
        expect_status(pybuf_npy_read_fd(r, &bad), Status::InvalidNdim);
    }
    // A shape that is not the file's: refused after the header, before the data.
    let mut other = Array::c(&[3, 2], 8, Some("d"));
    let ov = other.view();
    // SAFETY: valid views.
    unsafe {
        expect_status(pybuf_npy_write_fd(w, &v), Status::Ok);
        expect_status(pybuf_npy_read_fd(r, &ov), Status::ShapeMismatch);
    }
}

/// A plain exporter of `mem` (8 doubles), freed by the caller.
fn plain_exporter(mem: &mut [f64; 8]) -> *mut pybuf_exporter {
    let shape = [8 as pybuf_ssize_t];
    let d = c_desc(mem.as_mut_ptr().cast(), 64, c"d", &shape);
    let mut e = null_mut();
    // SAFETY: a valid description of live memory; `e` is writable.
    expect_status(unsafe { pybuf_exporter_new(&d, None, null_mut(), &mut e) }, Status::Ok);
    e
}

/// A description for a mapping or a segment: `buf` NULL, 4 doubles.
fn no_memory_desc(shape: &[pybuf_ssize_t; 1]) -> pybuf_exporter_desc {
    pybuf_exporter_desc { len: -1, ..c_desc(null_mut(), 0, c"d", shape) }
}

#[test]
fn mapping_refusals_come_before_the_file() {
    let path = CString::new("/nonexistent/pybuf-never-mapped").unwrap();
    let (r, _w) = pipe();
    let r = r.as_raw_fd();
    let shape = [4 as pybuf_ssize_t];
    let d = no_memory_desc(&shape);
    let mut mem = [0.0f64; 8];
    let with_buf = pybuf_exporter_desc { buf: mem.as_mut_ptr().cast(), ..d };
    let subs = [0 as pybuf_ssize_t];
    let with_subs = pybuf_exporter_desc { suboffsets: subs.as_ptr(), ..d };
    let short = pybuf_exporter_desc { len: -2, ..d };
    let bad_ndim = pybuf_exporter_desc { ndim: -1, ..d };
    // SAFETY: (every call) NULL or valid descriptions and paths; `out` writable or NULL.
    unsafe {
        refused_out(Status::NullPointer, |out| pybuf_map_fd(r, 0, null(), PYBUF_MAP_READONLY, out));
        expect_status(pybuf_map_fd(r, 0, &d, PYBUF_MAP_READONLY, null_mut()), Status::NullPointer);
        refused_out(Status::InvalidArgument, |out| pybuf_map_fd(r, 0, &d, 3, out));
        refused_out(Status::InvalidArgument, |out| pybuf_map_fd(r, 0, &with_buf, PYBUF_MAP_PRIVATE, out));
        refused_out(Status::InvalidSuboffsets, |out| pybuf_map_fd(r, 0, &with_subs, PYBUF_MAP_SHARED, out));
        refused_out(Status::InvalidArgument, |out| pybuf_map_fd(r, -1, &d, PYBUF_MAP_READONLY, out));
        refused_out(Status::InvalidArgument, |out| pybuf_map_fd(r, 0, &short, PYBUF_MAP_READONLY, out));
        refused_out(Status::InvalidNdim, |out| pybuf_map_fd(r, 0, &bad_ndim, PYBUF_MAP_READONLY, out));
        refused_out(Status::NullPointer, |out| pybuf_map_path(null(), 0, &d, PYBUF_MAP_READONLY, out));
        refused_out(Status::NullPointer, |out| pybuf_map_path(path.as_ptr(), 0, null(), PYBUF_MAP_READONLY, out));
        refused_out(Status::InvalidNdim, |out| pybuf_map_path(path.as_ptr(), 0, &bad_ndim, PYBUF_MAP_READONLY, out));
        expect_status(pybuf_exporter_sync(null_mut()), Status::NullPointer);
        let e = plain_exporter(&mut mem);
        expect_status(pybuf_exporter_sync(e), Status::InvalidArgument);
        pybuf_exporter_free(e);
    }
}

#[test]
fn archive_refusals_come_before_the_file() {
    let path = CString::new("/nonexistent/pybuf-never-written.npz").unwrap();
    let (r, _w) = pipe();
    let mut a = Array::c(&[2, 3], 8, Some("d"));
    let mut b = Array::c(&[4], 4, Some("i"));
    let views = [a.view(), b.view()];
    let mut bad_views = views;
    bad_views[1].ndim = -1;
    let (x, y, empty) = (c"x", c"y", c"");
    let not_utf8 = CString::new(vec![0xffu8, 0xfe]).unwrap();
    let names = [x.as_ptr(), y.as_ptr()];
    let save = |names: &[*const c_char], views: &[pybuf_buffer], flags| {
        // SAFETY: NUL-terminated names and valid views, `count` of each.
        unsafe { pybuf_npz_save(path.as_ptr(), names.len() as pybuf_ssize_t, names.as_ptr(), views.as_ptr(), flags) }
    };
    // SAFETY: (every call) NULL handles and pointers, valid strings, writable `out`.
    unsafe {
        assert_eq!(pybuf_npz_count(null()), -1);
        expect_error(Status::NullPointer);
        let mut info = std::mem::zeroed::<pybuf_npz_member>();
        expect_status(pybuf_npz_member_info(null(), 0, &mut info), Status::NullPointer);
        assert_eq!(pybuf_npz_find(null(), x.as_ptr()), -1);
        expect_error(Status::NullPointer);
        refused_out(Status::NullPointer, |out| pybuf_npz_load(null(), 0, 0, out));
        pybuf_npz_close(null_mut());
        refused_out(Status::NullPointer, |out| pybuf_npz_open(null(), out));
        expect_status(pybuf_npz_open(path.as_ptr(), null_mut()), Status::NullPointer);
        expect_status(pybuf_npz_open_fd(r.as_raw_fd(), null_mut()), Status::NullPointer);
        refused_out(Status::Io, |out| pybuf_npz_open_fd(NOT_OPEN, out));
        assert_eq!(pybuf_last_errno(), libc::EBADF);
        expect_status(pybuf_npz_save(null(), 2, names.as_ptr(), views.as_ptr(), 0), Status::NullPointer);
        expect_status(pybuf_npz_save(path.as_ptr(), -1, names.as_ptr(), views.as_ptr(), 0), Status::InvalidArgument);
        expect_status(pybuf_npz_save(path.as_ptr(), 2, null(), views.as_ptr(), 0), Status::NullPointer);
        expect_status(pybuf_npz_save(path.as_ptr(), 2, names.as_ptr(), null(), 0), Status::NullPointer);
    }
    expect_status(save(&names, &views, 2), Status::InvalidArgument);
    expect_status(save(&[x.as_ptr(), null()], &views, 0), Status::NullPointer);
    expect_status(save(&[x.as_ptr(), not_utf8.as_ptr()], &views, 0), Status::InvalidArgument);
    expect_status(save(&names, &bad_views, PYBUF_NPZ_DEFLATE), Status::InvalidNdim);
    assert!(last().1.contains("views[1]"), "{:?}", last());
    // Names are checked before the file is made: empty, or given twice.
    expect_status(save(&[x.as_ptr(), empty.as_ptr()], &views, 0), Status::InvalidArgument);
    expect_status(save(&[y.as_ptr(), y.as_ptr()], &views, PYBUF_NPZ_DEFLATE), Status::InvalidArgument);
    assert!(last().1.contains("twice"), "{:?}", last());
}

#[test]
fn sharing_refusals_come_before_any_segment() {
    let (r, _w) = pipe();
    let sock = r.as_raw_fd();
    let shape = [4 as pybuf_ssize_t];
    let d = no_memory_desc(&shape);
    let mut mem = [0.0f64; 8];
    let with_buf = pybuf_exporter_desc { buf: mem.as_mut_ptr().cast(), ..d };
    let subs = [0 as pybuf_ssize_t];
    let with_subs = pybuf_exporter_desc { suboffsets: subs.as_ptr(), ..d };
    let bad_ndim = pybuf_exporter_desc { ndim: -1, ..d };
    let (name, bad_name) = (c"pybuf-miri", c"a/b");
    let mut a = Array::with_layout(96, 0, &[3, 4], &[32, 8], 8, Some("d"));
    let v = a.view();
    let mut bad = a.view();
    bad.ndim = -1;
    let mut rng = Rng::new(5);
    let mut rows = Array::indirect(&mut rng, &[3, 4], 2, &[0]);
    let rows_v = rows.view();
    // SAFETY: (every call) NULL or valid names, descriptions and views; `out` writable or
    // NULL.
    unsafe {
        refused_out(Status::InvalidArgument, |out| pybuf_share_new(null(), &d, 4, out));
        refused_out(Status::NullPointer, |out| pybuf_share_new(null(), null(), 0, out));
        expect_status(pybuf_share_new(null(), &d, 0, null_mut()), Status::NullPointer);
        refused_out(Status::InvalidArgument, |out| pybuf_share_new(name.as_ptr(), &with_buf, 0, out));
        refused_out(Status::InvalidSuboffsets, |out| pybuf_share_new(name.as_ptr(), &with_subs, 0, out));
        refused_out(Status::InvalidNdim, |out| pybuf_share_new(null(), &bad_ndim, PYBUF_SHARE_NPY, out));
        refused_out(Status::InvalidArgument, |out| pybuf_share_new(bad_name.as_ptr(), &d, 0, out));

        refused_out(Status::InvalidArgument, |out| pybuf_share_open(name.as_ptr(), &d, 8, out));
        refused_out(Status::NullPointer, |out| pybuf_share_open(null(), &d, 0, out));
        expect_status(pybuf_share_open(name.as_ptr(), &d, 0, null_mut()), Status::NullPointer);
        refused_out(Status::InvalidArgument, |out| pybuf_share_open(name.as_ptr(), &d, PYBUF_SHARE_NPY, out));
        refused_out(Status::InvalidArgument, |out| pybuf_share_open(name.as_ptr(), &with_buf, 0, out));
        refused_out(Status::InvalidNdim, |out| pybuf_share_open(name.as_ptr(), &bad_ndim, PYBUF_SHARE_READONLY, out));

        refused_out(Status::InvalidArgument, |out| pybuf_share_copy(&v, b'C' as c_char, null(), 2, out));
        refused_out(Status::NullPointer, |out| pybuf_share_copy(null(), b'C' as c_char, null(), 0, out));
        refused_out(Status::InvalidNdim, |out| pybuf_share_copy(&bad, b'C' as c_char, null(), 0, out));
        refused_out(Status::InvalidArgument, |out| pybuf_share_copy(&v, b'Z' as c_char, null(), 0, out));
        expect_status(pybuf_share_copy(&v, b'C' as c_char, null(), 0, null_mut()), Status::NullPointer);
        refused_out(Status::InvalidArgument, |out| pybuf_share_copy(&v, b'A' as c_char, bad_name.as_ptr(), 0, out));

        expect_status(pybuf_share_seal(null_mut()), Status::NullPointer);
        let mut fd: c_int = -7;
        expect_status(pybuf_share_fd(null_mut(), &mut fd), Status::NullPointer);
        let e = plain_exporter(&mut mem);
        expect_status(pybuf_share_seal(e), Status::NotShared);
        expect_status(pybuf_share_fd(e, null_mut()), Status::NullPointer);
        expect_status(pybuf_share_fd(e, &mut fd), Status::NotShared);
        assert_eq!(fd, -7);
        pybuf_exporter_free(e);
        expect_status(pybuf_share_unlink(null()), Status::NullPointer);
        expect_status(pybuf_share_unlink(bad_name.as_ptr()), Status::InvalidArgument);

        // Views outside any segment are not sent (nothing reaches the socket).
        expect_status(pybuf_send_view(sock, &v, 4), Status::InvalidArgument);
        expect_status(pybuf_send_view(sock, null(), 0), Status::NullPointer);
        expect_status(pybuf_send_view(sock, &bad, PYBUF_SEND_READONLY), Status::InvalidNdim);
        expect_status(pybuf_send_view(sock, &v, PYBUF_SEND_READONLY), Status::NotShared);
        expect_status(pybuf_send_view(sock, &rows_v, 0), Status::InvalidSuboffsets);
        refused_out(Status::InvalidArgument, |out| pybuf_recv_view(sock, 8, out));
        expect_status(pybuf_recv_view(sock, PYBUF_RECV_READONLY, null_mut()), Status::NullPointer);
    }
}
