//! The file-descriptor functions of `src/ffi/io.rs` (`pybuf_write_fd`, `pybuf_read_fd`,
//! `pybuf_pwrite_fd`, `pybuf_pread_fd`, `pybuf_io_*`), called from Rust as a C caller calls
//! them, on real file descriptors: regular files, pipes and `AF_UNIX` socket pairs,
//! blocking and `O_NONBLOCK` (stepped with `pybuf_io_step` and `poll`), against a peer
//! thread that moves a few bytes at a time.
//!
//! The oracle is the copy engine's C surface: the bytes written to an fd must be those of
//! `pybuf_to_contiguous`, and the memory after a read that of `pybuf_from_contiguous` (on
//! a duplicate of the array), gaps between elements and pointer tables included; the
//! oracle itself is checked against the elements read and stored by hand (PEP 3118's
//! addressing worked out in `tests/common`), so that a bug the transfers share with the
//! copy engine (which gathers and scatters their short runs) cannot hide. The views are
//! random (negative strides, gaps, permuted dimensions, PIL-style suboffsets),
//! in every order, and large ones cross the 1 MiB staging buffer and `IOV_MAX` iovecs.
//!
//! Every test runs alone (`fd_checked`: one lock for the file) and checks that it leaves
//! as many open fds (`/proc/self/fd`) as it found. Not under Miri (system calls, threads).
#![cfg(all(target_os = "linux", not(miri)))]
#![warn(clippy::undocumented_unsafe_blocks)]

mod common;
use common::*;

use std::ffi::{c_char, c_int};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use pybuf::abi::pybuf_buffer;
use pybuf::error::Status;
use pybuf::ffi::copy::{pybuf_from_contiguous, pybuf_to_contiguous};
use pybuf::ffi::error::pybuf_last_errno;
use pybuf::ffi::io::*;

const ORDERS: [u8; 3] = [b'C', b'F', b'A'];

// -------------------------------------------------------------------------------------
// Running alone, counting fds

static SERIAL: Mutex<()> = Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

/// Run `body` while no other test of this file runs, and check that it closed every fd
/// it opened (peer threads included: they are joined inside `body`).
fn fd_checked(body: impl FnOnce()) {
    let _alone = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = open_fds();
    body();
    assert_eq!(open_fds(), before, "file descriptors leaked (open before and after the test)");
}

// -------------------------------------------------------------------------------------
// File descriptors

fn owned(fd: c_int) -> OwnedFd {
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: a fresh fd that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut p = [-1; 2];
    // SAFETY: `p` has room for the two fds.
    assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0, "{}", std::io::Error::last_os_error());
    (owned(p[0]), owned(p[1]))
}

/// A connected pair of `AF_UNIX` stream sockets.
fn socket_pair() -> (OwnedFd, OwnedFd) {
    let mut p = [-1; 2];
    // SAFETY: `p` has room for the two fds.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, p.as_mut_ptr()) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    (owned(p[0]), owned(p[1]))
}

static FILES: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty, unlinked regular file open for reading and writing.
fn temp_file() -> File {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ffi_io.{}.{n}", std::process::id()));
    let f = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).expect("a temporary file");
    std::fs::remove_file(&path).expect("unlink the temporary file");
    f
}

/// A file holding `bytes`, its position at 0.
fn file_with(bytes: &[u8]) -> File {
    let f = temp_file();
    f.write_all_at(bytes, 0).expect("write the file");
    f
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: F_GETFL and F_SETFL on an open fd.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK), 0);
    }
}

fn position(fd: RawFd) -> i64 {
    // SAFETY: lseek on an open fd.
    unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }
}

fn seek(fd: RawFd, to: i64) {
    // SAFETY: lseek on an open fd.
    assert_eq!(unsafe { libc::lseek(fd, to, libc::SEEK_SET) }, to);
}

fn file_bytes(f: &File) -> Vec<u8> {
    let len = f.metadata().expect("fstat").len() as usize;
    let mut out = vec![0u8; len];
    f.read_exact_at(&mut out, 0).expect("read the file");
    out
}

/// Wait until `fd` is ready for `events`, failing after 20 s.
fn wait_ready(fd: RawFd, events: libc::c_short) {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut p, 1, 20_000) };
    assert_eq!(rc, 1, "fd {fd} not ready within 20 s (poll: {rc})");
}

/// What is left to read on `fd` (a pipe or socket whose writer is gone), up to its end.
fn drain(fd: RawFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return out,
            n if n > 0 => out.extend_from_slice(&buf[..n as usize]),
            _ => {
                let e = std::io::Error::last_os_error();
                assert_eq!(e.raw_os_error(), Some(libc::EINTR), "read: {e}");
            }
        }
    }
}

/// Write all of `bytes` to `fd` with plain `write(2)`.
fn put(fd: RawFd, bytes: &[u8]) {
    let mut at = 0;
    while at < bytes.len() {
        // SAFETY: `bytes[at..]` is readable.
        let n = unsafe { libc::write(fd, bytes[at..].as_ptr().cast(), bytes.len() - at) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EAGAIN) {
                wait_ready(fd, libc::POLLOUT);
                continue;
            }
            assert_eq!(e.raw_os_error(), Some(libc::EINTR), "write: {e}");
            continue;
        }
        at += n as usize;
    }
}

// -------------------------------------------------------------------------------------
// Peers: threads at the other end that move a few bytes at a time

/// A peer that reads `fd` up to its end, 1 to `chunk` bytes per `read(2)`, yielding now
/// and then, and returns what it read (the fd is closed when it ends).
fn slow_reader(fd: OwnedFd, chunk: usize, seed: u64) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let want = 1 + rng.below(chunk);
            // SAFETY: `buf` is writable for `want <= chunk` bytes.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), want) };
            match n {
                0 => return out,
                n if n > 0 => out.extend_from_slice(&buf[..n as usize]),
                _ => assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EINTR)),
            }
            if rng.below(32) == 0 {
                thread::yield_now();
            }
        }
    })
}

/// A peer that writes `bytes` to `fd`, 1 to `chunk` bytes per `write(2)`, yielding now
/// and then, then closes it.
fn slow_writer(fd: OwnedFd, bytes: Vec<u8>, chunk: usize, seed: u64) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let mut at = 0;
        while at < bytes.len() {
            let n = (1 + rng.below(chunk)).min(bytes.len() - at);
            put(fd.as_raw_fd(), &bytes[at..at + n]);
            at += n;
            if rng.below(32) == 0 {
                thread::yield_now();
            }
        }
    })
}

// -------------------------------------------------------------------------------------
// The C surface, and its oracle

fn write_fd(fd: RawFd, v: *const pybuf_buffer, order: u8) -> c_int {
    // SAFETY: `v` is NULL or a valid view whose memory is alive (every caller here).
    unsafe { pybuf_write_fd(fd, v, order as c_char) }
}

fn read_fd(fd: RawFd, v: *const pybuf_buffer, order: u8) -> c_int {
    // SAFETY: `v` is NULL or a valid view over live, writable memory (every caller here).
    unsafe { pybuf_read_fd(fd, v, order as c_char) }
}

fn pwrite_fd(fd: RawFd, v: *const pybuf_buffer, order: u8, offset: i64) -> c_int {
    // SAFETY: as for `write_fd`.
    unsafe { pybuf_pwrite_fd(fd, v, order as c_char, offset) }
}

fn pread_fd(fd: RawFd, v: *const pybuf_buffer, order: u8, offset: i64) -> c_int {
    // SAFETY: as for `read_fd`.
    unsafe { pybuf_pread_fd(fd, v, order as c_char, offset) }
}

/// A transfer freed when dropped.
struct Io(*mut pybuf_io);

impl Io {
    /// `pybuf_io_new`, which must succeed. The view's memory must outlive the transfer.
    #[track_caller]
    fn new(fd: RawFd, v: &pybuf_buffer, order: u8, direction: c_int, offset: i64) -> Io {
        let mut io = null_mut();
        // SAFETY: `v` is a valid view whose memory the caller keeps alive while the
        // transfer lives; `io` is writable.
        let rc = unsafe { pybuf_io_new(fd, v, order as c_char, direction, offset, &mut io) };
        expect_status(rc, Status::Ok);
        assert!(!io.is_null());
        Io(io)
    }

    fn step(&self) -> c_int {
        // SAFETY: a live transfer whose view memory is alive (see `new`).
        unsafe { pybuf_io_step(self.0) }
    }

    fn done(&self) -> i64 {
        // SAFETY: a live transfer.
        unsafe { pybuf_io_done(self.0) }
    }

    fn total(&self) -> i64 {
        // SAFETY: a live transfer.
        unsafe { pybuf_io_total(self.0) }
    }

    /// Step until finished, waiting with `poll` on would-block; every step either
    /// finishes or says how far it got. Returns the number of would-blocks. A finished
    /// transfer then steps to 0 again without moving anything.
    #[track_caller]
    fn drive(&self, fd: RawFd, events: libc::c_short) -> usize {
        let total = self.total();
        let mut previous = 0;
        let mut blocked = 0;
        loop {
            let rc = self.step();
            if rc == 0 {
                expect_status(rc, Status::Ok);
                assert_eq!(self.done(), total);
                break;
            }
            expect_status(rc, Status::WouldBlock);
            assert_eq!(pybuf_last_errno(), 0);
            let (_, message) = last();
            let done = self.done();
            assert!(done >= previous && done < total, "done {done} after {previous}, total {total}");
            previous = done;
            assert!(message.contains(&format!("{done} of {total} bytes moved")), "{message}");
            blocked += 1;
            wait_ready(fd, events);
        }
        expect_status(self.step(), Status::Ok);
        assert_eq!(self.done(), total, "a finished transfer moves nothing more");
        blocked
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        // SAFETY: a live transfer, freed once.
        unsafe { pybuf_io_free(self.0) };
    }
}

/// The bytes `pybuf_to_contiguous` gives for the array's view in `order` (checked
/// against the elements read by hand).
fn contiguous(a: &mut Array, order: u8) -> Vec<u8> {
    let v = a.view();
    let mut out = vec![0u8; v.len as usize];
    // SAFETY: a valid view over the array's memory; `out` holds `v.len` bytes.
    let rc = unsafe { pybuf_to_contiguous(out.as_mut_ptr().cast(), &v, v.len, order as c_char) };
    expect_status(rc, Status::Ok);
    assert!(out == a.stream(order), "pybuf_to_contiguous and the elements read by hand differ: {}", describe(a, order));
    out
}

/// The memory of `a` (its payload) after `pybuf_from_contiguous` of `bytes` in `order`,
/// done on a duplicate (checked against the elements stored by hand).
fn after_from_contiguous(a: &Array, bytes: &[u8], order: u8) -> Vec<u8> {
    let mut twin = a.duplicate();
    let v = twin.view();
    // SAFETY: a valid, writable view over the duplicate's memory; `bytes` is readable.
    let rc = unsafe { pybuf_from_contiguous(&v, bytes.as_ptr().cast(), bytes.len() as isize, order as c_char) };
    expect_status(rc, Status::Ok);
    if bytes.len().is_multiple_of(a.itemsize as usize) {
        let mut by_hand = a.duplicate();
        by_hand.store_stream(order, bytes);
        assert!(by_hand.payload() == twin.payload(), "pybuf_from_contiguous and the elements stored by hand differ: {}", describe(a, order));
    }
    twin.payload()
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next() as u8).collect()
}

/// A random view: 0 to 4 dimensions (one of them sometimes long, for runs of 1 KiB and
/// more), items of 1 to 40 bytes, strided with gaps, permuted and reversed dimensions,
/// or with suboffsets in some dimensions (tables of pointers at any depth).
fn random_array(rng: &mut Rng) -> Array {
    let itemsize = [1, 2, 3, 4, 8, 12, 16, 40][rng.below(8)];
    let ndim = rng.below(5);
    let mut shape: Vec<isize> = (0..ndim).map(|_| if rng.below(16) == 0 { 0 } else { 1 + rng.below(4) as isize }).collect();
    if ndim > 0 && rng.below(3) == 0 {
        shape[rng.below(ndim)] = 64 + rng.below(400) as isize;
    }
    if ndim > 0 && rng.below(4) == 0 {
        // Suboffsets in some dimensions (each with a chance in 3, at least one).
        let mut dims: Vec<usize> = (0..ndim).filter(|_| rng.below(3) == 0).collect();
        if dims.is_empty() {
            dims.push(rng.below(ndim));
        }
        Array::indirect(rng, &shape, itemsize, &dims)
    } else {
        Array::random(rng, &shape, itemsize)
    }
}

fn describe(a: &Array, order: u8) -> String {
    format!(
        "order '{}' itemsize {} shape {:?} strides {:?} suboffsets {:?}",
        order as char, a.itemsize, a.shape, a.strides, a.suboffsets
    )
}

// -------------------------------------------------------------------------------------
// Moving a view through a channel

#[derive(Clone, Copy, Debug, PartialEq)]
enum Channel {
    File,
    Pipe,
    Socket,
}

/// How a transfer is made.
#[derive(Clone, Copy, Debug, PartialEq)]
enum How {
    /// `pybuf_write_fd` or `pybuf_read_fd` (`pybuf_pwrite_fd`, `pybuf_pread_fd` at an
    /// offset).
    Call,
    /// `pybuf_io_step` on an `O_NONBLOCK` fd, waiting with `poll` on would-block.
    Step,
    /// One `pybuf_io_step` on a blocking fd: it moves everything.
    OneStep,
}

const HOWS: [How; 3] = [How::Call, How::Step, How::OneStep];

/// Make a transfer with `Io::new` and finish it as `how` says (`Step` or `OneStep`).
#[track_caller]
fn stepped(how: How, fd: RawFd, v: &pybuf_buffer, order: u8, direction: c_int, offset: i64) -> usize {
    let io = Io::new(fd, v, order, direction, offset);
    assert_eq!(io.total(), v.len as i64);
    assert_eq!(io.done(), 0, "nothing moves before the first step");
    let events = if direction == PYBUF_IO_WRITE { libc::POLLOUT } else { libc::POLLIN };
    let blocked = match how {
        How::Step => {
            set_nonblocking(fd);
            io.drive(fd, events)
        }
        How::OneStep => {
            expect_status(io.step(), Status::Ok);
            assert_eq!(io.done(), io.total(), "one step on a blocking fd moves everything");
            expect_status(io.step(), Status::Ok);
            0
        }
        How::Call => unreachable!("not a stepped transfer"),
    };
    drop(io);
    // SAFETY: F_GETFD on any number.
    assert!(unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0, "pybuf_io_free closed the fd");
    blocked
}

/// Write the array's view through `channel` in `order` as `how` says, and return the
/// bytes that arrived at the other end.
/// Files are written after a prefix, at the fd's position or with `pybuf_pwrite_fd` (the
/// position must stay), and checked around the view's bytes.
fn write_through(rng: &mut Rng, channel: Channel, a: &mut Array, order: u8, how: How, chunk: usize) -> Vec<u8> {
    let v = a.view();
    let len = v.len as usize;
    match channel {
        Channel::File => {
            let prefix = { let n = rng.below(100); random_bytes(rng, n) };
            let f = file_with(&prefix);
            let fd = f.as_raw_fd();
            let at = prefix.len() as i64;
            let at_offset = rng.below(2) == 0;
            let start = if at_offset { rng.below(prefix.len() + 1) as i64 } else { at };
            seek(fd, start);
            let offset = if at_offset { at } else { -1 };
            if how != How::Call {
                assert_eq!(stepped(how, fd, &v, order, PYBUF_IO_WRITE, offset), 0, "a regular file never blocks");
            } else if at_offset {
                expect_status(pwrite_fd(fd, &v, order, at), Status::Ok);
            } else {
                expect_status(write_fd(fd, &v, order), Status::Ok);
            }
            assert_eq!(pybuf_last_errno(), 0);
            let end = if at_offset { start } else { at + len as i64 };
            assert_eq!(position(fd), end, "the fd's position after the write (offset {offset})");
            let bytes = file_bytes(&f);
            assert_eq!(bytes.len(), prefix.len() + len, "the file's size");
            assert_eq!(bytes[..prefix.len()], prefix[..], "the bytes before the view");
            bytes[prefix.len()..].to_vec()
        }
        Channel::Pipe | Channel::Socket => {
            let (theirs, ours) = if channel == Channel::Pipe { pipe() } else { socket_pair() };
            let peer = slow_reader(theirs, chunk, rng.next());
            if how != How::Call {
                stepped(how, ours.as_raw_fd(), &v, order, PYBUF_IO_WRITE, -1);
            } else {
                expect_status(write_fd(ours.as_raw_fd(), &v, order), Status::Ok);
            }
            assert_eq!(pybuf_last_errno(), 0);
            drop(ours);
            peer.join().expect("the reading peer")
        }
    }
}

/// Read `incoming` through `channel` into the array's view in `order`. The source has
/// bytes after the view's (a file's tail, a peer's trailer) that must stay unread.
fn read_through(rng: &mut Rng, channel: Channel, a: &mut Array, order: u8, incoming: &[u8], how: How, chunk: usize) {
    let v = a.view();
    let len = v.len as usize;
    let trailer = { let n = 1 + rng.below(20); random_bytes(rng, n) };
    match channel {
        Channel::File => {
            let prefix = { let n = rng.below(100); random_bytes(rng, n) };
            let f = file_with(&[&prefix[..], incoming, &trailer].concat());
            let fd = f.as_raw_fd();
            let at = prefix.len() as i64;
            let at_offset = rng.below(2) == 0;
            let start = if at_offset { rng.below(prefix.len() + 1) as i64 } else { at };
            seek(fd, start);
            let offset = if at_offset { at } else { -1 };
            if how != How::Call {
                assert_eq!(stepped(how, fd, &v, order, PYBUF_IO_READ, offset), 0, "a regular file never blocks");
            } else if at_offset {
                expect_status(pread_fd(fd, &v, order, at), Status::Ok);
            } else {
                expect_status(read_fd(fd, &v, order), Status::Ok);
            }
            let end = if at_offset { start } else { at + len as i64 };
            assert_eq!(position(fd), end, "the fd's position after the read (offset {offset})");
        }
        Channel::Pipe | Channel::Socket => {
            let (ours, theirs) = if channel == Channel::Pipe { pipe() } else { socket_pair() };
            let peer = slow_writer(theirs, [incoming, &trailer].concat(), chunk, rng.next());
            if how != How::Call {
                stepped(how, ours.as_raw_fd(), &v, order, PYBUF_IO_READ, -1);
            } else {
                expect_status(read_fd(ours.as_raw_fd(), &v, order), Status::Ok);
            }
            peer.join().expect("the writing peer");
            if how == How::Step {
                // Back to blocking for drain.
                // SAFETY: F_SETFL on an open fd.
                unsafe { libc::fcntl(ours.as_raw_fd(), libc::F_SETFL, 0) };
            }
            assert_eq!(drain(ours.as_raw_fd()), trailer, "the bytes after the view stay unread");
        }
    }
}

/// Write `a` through `channel` (its bytes must be `want`), then read fresh bytes into it
/// (its memory must then be `pybuf_from_contiguous`'s).
#[allow(clippy::too_many_arguments)]
fn round_trip(rng: &mut Rng, channel: Channel, a: &mut Array, order: u8, how: How, chunk: usize, want: &[u8], what: &str) {
    let got = write_through(rng, channel, a, order, how, chunk);
    assert!(got == want, "{what}: written bytes differ from pybuf_to_contiguous");
    let incoming = random_bytes(rng, want.len());
    let expected = after_from_contiguous(a, &incoming, order);
    read_through(rng, channel, a, order, &incoming, how, chunk);
    assert!(a.payload() == expected, "{what}: memory after the read differs from pybuf_from_contiguous");
}

/// Random views written and read through `channel`, blocking and not, in every order.
fn random_round_trips(channel: Channel, seed: u64, n: usize) {
    let mut rng = Rng::new(seed);
    for case in 0..cases(n) {
        let mut a = random_array(&mut rng);
        let order = ORDERS[case % 3];
        let how = HOWS[rng.below(3)];
        let chunk = [1, 7, 64, 4096][rng.below(4)];
        let what = format!("case {case} ({channel:?}, {how:?}, chunk {chunk}): {}", describe(&a, order));
        let want = contiguous(&mut a, order);
        let before = a.payload();
        let got = write_through(&mut rng, channel, &mut a, order, how, chunk);
        assert!(got == want, "{what}: written bytes differ from pybuf_to_contiguous ({} and {} bytes)", got.len(), want.len());
        assert!(a.payload() == before, "{what}: a write changed the view's memory");

        let incoming = random_bytes(&mut rng, want.len());
        let expected = after_from_contiguous(&a, &incoming, order);
        read_through(&mut rng, channel, &mut a, order, &incoming, how, chunk);
        assert!(a.payload() == expected, "{what}: memory after the read differs from pybuf_from_contiguous");
    }
}

// =====================================================================================
// Tests

#[test]
fn a_known_matrix_in_every_order() {
    fd_checked(|| {
        // m[i][j] = 10 i + j, 3 x 4 int32, and its transpose (strides swapped).
        let mut m = Array::c(&[3, 4], 4, Some("i"));
        for (k, ix) in indices(&[3, 4]).iter().enumerate() {
            m.data[4 * k..4 * k + 4].copy_from_slice(&(10 * ix[0] as i32 + ix[1] as i32).to_ne_bytes());
        }
        let ints = |v: &[i32]| v.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>();
        let c = ints(&[0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
        let f = ints(&[0, 10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23]);
        let mut t = m.duplicate();
        t.shape = vec![4, 3];
        t.strides = vec![4, 16];
        let mut rng = Rng::new(1);
        for channel in [Channel::File, Channel::Pipe, Channel::Socket] {
            for how in HOWS {
                for (transposed, order, want) in [
                    (false, b'C', &c),
                    (false, b'F', &f),
                    (false, b'A', &c),
                    (true, b'C', &f),
                    (true, b'F', &c),
                    (true, b'A', &c), // F-contiguous: as it lies
                ] {
                    let a = if transposed { &mut t } else { &mut m };
                    let got = write_through(&mut rng, channel, a, order, how, 5);
                    assert_eq!(&got, want, "{channel:?} {how:?} order {}", order as char);
                    let mut dst = Array::c(&a.shape, 4, Some("i"));
                    dst.strides = a.strides.clone();
                    read_through(&mut rng, channel, &mut dst, order, want, how, 5);
                    assert_eq!(dst.data, a.data, "{channel:?} {how:?} read order {}", order as char);
                }
            }
        }
    });
}

#[test]
fn random_views_through_regular_files() {
    fd_checked(|| random_round_trips(Channel::File, 0xF11E, 400));
}

#[test]
fn random_views_through_pipes() {
    fd_checked(|| random_round_trips(Channel::Pipe, 0x919E, 250));
}

#[test]
fn random_views_through_socket_pairs() {
    fd_checked(|| random_round_trips(Channel::Socket, 0x50CE, 250));
}

/// Views of several MiB: staged (a transpose, 3-byte items every other one) across many
/// fills of the 1 MiB staging buffer; runs of 1 KiB, more than `IOV_MAX` of them; long
/// reversed rows; PIL-style rows in 'F' order (element by element).
#[test]
fn large_views_cross_the_staging_buffer_and_iov_max() {
    fd_checked(|| {
        let mut rng = Rng::new(0xB16);
        let mut arrays = vec![
            // 1024 x 640 doubles, transposed: 5 MiB, staged.
            Array::with_layout(1024 * 640 * 8, 0, &[640, 1024], &[8, 640 * 8], 8, None),
            // 3-byte items, every other one: 3 MiB of 6.
            Array::with_layout(512 * 12288, 0, &[512, 2048], &[12288, 6], 3, None),
            // 2600 runs of 1 KiB with gaps: 2.6 MiB in more than IOV_MAX (1024) iovecs.
            Array::with_layout(2600 * 2048, 0, &[2600, 1024], &[2048, 1], 1, None),
            // 5 rows of 1 MiB, in reverse: one run per row.
            Array::with_layout(5 << 20, 4 << 20, &[5, 1 << 20], &[-(1 << 20), 1], 1, None),
        ];
        // PIL-style: 48 rows of 16 KiB behind pointers (an 'F' stream is walked item by item).
        arrays.push(Array::indirect(&mut rng, &[48, 4096], 4, &[0]));
        for (k, a) in arrays.iter_mut().enumerate() {
            for (order, channel, how) in [
                (b'C', Channel::File, How::Call),
                (b'F', Channel::Pipe, How::Call),
                (b'A', Channel::Socket, How::Step),
                (b'F', Channel::Socket, How::OneStep),
                (b'C', Channel::Pipe, How::Step),
                (b'A', Channel::File, How::OneStep),
            ] {
                let what = format!("array {k} ({channel:?}, {how:?}): {}", describe(a, order));
                let want = contiguous(a, order);
                assert!(want.len() >= 5 << 19 || k == 4, "{what}: {} bytes", want.len());
                round_trip(&mut rng, channel, a, order, how, 65536, &want, &what);
            }
        }
    });
}

/// A non-blocking writer on a pipe and a socket fills the kernel's buffer and sees
/// would-block; the peer drains it slowly; nothing is lost or repeated.
#[test]
fn nonblocking_transfers_wait_for_a_slow_peer() {
    fd_checked(|| {
        let mut rng = Rng::new(77);
        // 2 MiB of doubles, transposed (staged) and plain (direct).
        let mut t = Array::with_layout(512 * 512 * 8, 0, &[512, 512], &[8, 4096], 8, None);
        let mut c = Array::c(&[512, 512], 8, None);
        for a in [&mut t, &mut c] {
            for channel in [Channel::Pipe, Channel::Socket] {
                let want = contiguous(a, b'C');
                let v = a.view();
                let (theirs, ours) = if channel == Channel::Pipe { pipe() } else { socket_pair() };
                set_nonblocking(ours.as_raw_fd());
                let peer = slow_reader(theirs, 512, rng.next());
                let io = Io::new(ours.as_raw_fd(), &v, b'C', PYBUF_IO_WRITE, -1);
                let blocked = io.drive(ours.as_raw_fd(), libc::POLLOUT);
                drop(io);
                drop(ours);
                assert!(peer.join().unwrap() == want, "{channel:?}");
                assert!(blocked > 0, "{channel:?}: 2 MiB never filled the kernel's buffer");

                // And back: a non-blocking reader of a slow writer.
                let incoming = random_bytes(&mut rng, want.len());
                let expected = after_from_contiguous(a, &incoming, b'F');
                let (ours, theirs) = if channel == Channel::Pipe { pipe() } else { socket_pair() };
                set_nonblocking(ours.as_raw_fd());
                let peer = slow_writer(theirs, incoming, 512, rng.next());
                let v = a.view();
                let io = Io::new(ours.as_raw_fd(), &v, b'F', PYBUF_IO_READ, -1);
                let blocked = io.drive(ours.as_raw_fd(), libc::POLLIN);
                drop(io);
                peer.join().unwrap();
                assert!(blocked > 0, "{channel:?}: a slow writer never left the reader waiting");
                assert!(a.payload() == expected, "{channel:?}: read");
                // The peer is gone: a new transfer of an empty view finishes, one of a
                // byte reaches the end of the file.
                let mut one = Array::c(&[1], 1, None);
                let v1 = one.view();
                let io = Io::new(ours.as_raw_fd(), &v1, b'C', PYBUF_IO_READ, -1);
                expect_status(io.step(), Status::EndOfFile);
            }
        }
    });
}

/// The blocking calls on an `O_NONBLOCK` fd wait with `poll` instead of failing.
#[test]
fn blocking_calls_wait_on_a_nonblocking_fd() {
    fd_checked(|| {
        let mut rng = Rng::new(5);
        let mut a = Array::with_layout((1 << 21) + 16, 8, &[256, 1024], &[8192, 8], 4, None);
        for channel in [Channel::Pipe, Channel::Socket] {
            let want = contiguous(&mut a, b'C');
            let (theirs, ours) = if channel == Channel::Pipe { pipe() } else { socket_pair() };
            set_nonblocking(ours.as_raw_fd());
            let peer = slow_reader(theirs, 300, rng.next());
            let v = a.view();
            expect_status(write_fd(ours.as_raw_fd(), &v, b'C'), Status::Ok);
            drop(ours);
            assert!(peer.join().unwrap() == want, "{channel:?}");

            let incoming = random_bytes(&mut rng, want.len());
            let expected = after_from_contiguous(&a, &incoming, b'A');
            let (ours, theirs) = if channel == Channel::Pipe { pipe() } else { socket_pair() };
            set_nonblocking(ours.as_raw_fd());
            let peer = slow_writer(theirs, incoming, 300, rng.next());
            expect_status(read_fd(ours.as_raw_fd(), &v, b'A'), Status::Ok);
            peer.join().unwrap();
            assert!(a.payload() == expected, "{channel:?}");
        }
    });
}

/// `EINTR` on real system calls: a signal handler without `SA_RESTART` interrupts the
/// blocking `readv`/`writev` of a transfer (or its `poll`, on an `O_NONBLOCK` fd) many
/// times; it goes on.
#[test]
fn signals_interrupt_blocking_transfers_which_go_on() {
    static CAUGHT: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn caught(_: c_int) {
        CAUGHT.fetch_add(1, Ordering::Relaxed);
    }
    fd_checked(|| {
        // SAFETY: a handler that only touches an atomic; SIGUSR1 is not used otherwise
        // in this test program; no SA_RESTART, so blocked calls fail with EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = caught as extern "C" fn(c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, null_mut()), 0);
        }
        let mut rng = Rng::new(9);
        for (order, staged, nonblocking) in [(b'C', false, false), (b'F', true, false), (b'C', false, true), (b'F', true, true)] {
            let mut a = Array::c(&[1024, 256], 4, None);
            let want = contiguous(&mut a, order);
            // SAFETY: pthread_self has no preconditions.
            let me = unsafe { libc::pthread_self() } as usize;
            let before = CAUGHT.load(Ordering::Relaxed);
            // Read: the peer signals this thread while it waits, then trickles the bytes.
            let (ours, theirs) = pipe();
            let incoming = random_bytes(&mut rng, want.len());
            let expected = after_from_contiguous(&a, &incoming, order);
            let peer = thread::spawn(move || {
                for k in 0..incoming.len() / 4096 {
                    if k % 16 == 0 {
                        thread::sleep(Duration::from_millis(1));
                        // SAFETY: the test thread is alive until it joins this one.
                        unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
                    }
                    put(theirs.as_raw_fd(), &incoming[k * 4096..(k + 1) * 4096]);
                }
            });
            let v = a.view();
            if nonblocking {
                set_nonblocking(ours.as_raw_fd());
            }
            expect_status(read_fd(ours.as_raw_fd(), &v, order), Status::Ok);
            peer.join().unwrap();
            assert!(a.payload() == expected, "read order {} (staged {staged}, nonblocking {nonblocking})", order as char);
            // Write: the peer signals this thread while it is blocked in a full pipe.
            let (theirs, ours) = pipe();
            let peer = thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = vec![0u8; 4096];
                loop {
                    thread::sleep(Duration::from_micros(200));
                    // SAFETY: as above.
                    unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
                    // SAFETY: `buf` is writable.
                    let n = unsafe { libc::read(theirs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                    assert!(n >= 0);
                    if n == 0 {
                        return got;
                    }
                    got.extend_from_slice(&buf[..n as usize]);
                }
            });
            let want = contiguous(&mut a, order);
            let v = a.view();
            if nonblocking {
                set_nonblocking(ours.as_raw_fd());
            }
            expect_status(write_fd(ours.as_raw_fd(), &v, order), Status::Ok);
            drop(ours);
            assert!(peer.join().unwrap() == want, "write order {}", order as char);
            assert!(CAUGHT.load(Ordering::Relaxed) > before + 10, "the signals were delivered");
        }
        // SAFETY: restore the default action.
        unsafe { libc::signal(libc::SIGUSR1, libc::SIG_DFL) };
    });
}

/// End of file before `view->len` bytes: `PYBUF_STATUS_END_OF_FILE`, the message says
/// how many bytes arrived, the elements that arrived whole are stored and every element
/// after the partly received one is untouched.
#[test]
fn end_of_file_stores_whole_elements_and_says_how_many_bytes() {
    fd_checked(|| {
        let mut rng = Rng::new(0xE0F);
        let mut partial_written = 0;
        for case in 0..cases(300) {
            let mut a = random_array(&mut rng);
            let len = a.count() as usize * a.itemsize as usize;
            if len == 0 {
                continue;
            }
            let order = ORDERS[case % 3];
            let channel = [Channel::File, Channel::Pipe, Channel::Socket][rng.below(3)];
            let nonblocking = rng.below(2) == 0;
            let what = format!("case {case} ({channel:?}, nonblocking {nonblocking}): {}", describe(&a, order));
            let arrived = rng.below(len);
            let incoming = random_bytes(&mut rng, arrived);
            let itemsize = a.itemsize as usize;
            let whole = arrived / itemsize;
            // Expected: the whole elements stored; the partly received element either as
            // it was or with its first bytes received (readv into the view's memory).
            let stream = contiguous(&mut a, order);
            let stored = after_from_contiguous(&a, &incoming[..whole * itemsize], order);
            let mut partial = incoming.clone();
            partial.extend_from_slice(&stream[arrived..((whole + 1) * itemsize).min(len)]);
            let stored_partial = after_from_contiguous(&a, &partial, order);

            let (file, ends) = match channel {
                Channel::File => (Some(file_with(&incoming)), None),
                Channel::Pipe | Channel::Socket => {
                    let (ours, theirs) = if channel == Channel::Pipe { pipe() } else { socket_pair() };
                    (None, Some((ours, slow_writer(theirs, incoming.clone(), 64, case as u64))))
                }
            };
            let fd = file.as_ref().map_or_else(|| ends.as_ref().unwrap().0.as_raw_fd(), |f| f.as_raw_fd());
            let v = a.view();
            let said = format!("end of file on fd {fd} after {arrived} of {len} bytes");
            if nonblocking {
                set_nonblocking(fd);
                let io = Io::new(fd, &v, order, PYBUF_IO_READ, -1);
                let rc = loop {
                    match io.step() {
                        rc if rc == Status::WouldBlock as c_int => wait_ready(fd, libc::POLLIN),
                        rc => break rc,
                    }
                };
                expect_status(rc, Status::EndOfFile);
                assert_eq!(pybuf_last_errno(), 0, "{what}: not an OS error");
                assert!(last().1.contains(&said), "{what}: {:?}", last().1);
                assert_eq!(io.done(), arrived as i64, "{what}: pybuf_io_done");
                // Stepping again: still at the end, nothing lost.
                expect_status(io.step(), Status::EndOfFile);
                assert!(last().1.contains(&said), "{what}: {:?}", last().1);
                assert_eq!(io.done(), arrived as i64);
            } else {
                expect_status(read_fd(fd, &v, order), Status::EndOfFile);
                assert_eq!(pybuf_last_errno(), 0, "{what}: not an OS error");
                assert!(last().1.contains(&said), "{what}: {:?}", last().1);
            }
            if let Some((ours, peer)) = ends {
                peer.join().unwrap();
                drop(ours);
            }
            let got = a.payload();
            if got != stored {
                assert!(got == stored_partial, "{what}: {arrived} bytes arrived, memory differs from both expectations");
                partial_written += 1;
            }
        }
        eprintln!("{partial_written} cases wrote the partly received element's first bytes");
    });
}

/// With runs of 512 bytes or more (`readv` straight into the view), the bytes of a partly
/// received element land in it: the 4 bytes after 128 whole doubles.
#[test]
fn end_of_file_within_an_element_of_a_direct_read() {
    fd_checked(|| {
        let mut a = Array::c(&[512], 8, Some("d"));
        let before = a.data.clone();
        let incoming: Vec<u8> = (0..1028u32).map(|i| (i % 251) as u8 ^ 0x5A).collect();
        let f = file_with(&incoming);
        let v = a.view();
        expect_status(read_fd(f.as_raw_fd(), &v, b'C'), Status::EndOfFile);
        assert!(last().1.contains("after 1028 of 4096 bytes"), "{}", last().1);
        assert_eq!(a.data[..1028], incoming[..], "128 whole elements and 4 bytes of the next");
        assert_eq!(a.data[1028..], before[1028..], "the rest");
    });
}

/// A failed read keeps its place: more bytes arrive, the same transfer finishes, and the
/// memory is what one uninterrupted read gives.
#[test]
fn a_failed_transfer_can_be_stepped_again() {
    fd_checked(|| {
        let mut rng = Rng::new(0x2E7);
        let layouts: [(&[isize], &[isize], isize); 3] = [
            (&[300, 200], &[8, 2400], 8),  // transposed: staged
            (&[40, 500], &[4096, 8], 8),   // runs of 4000 bytes: direct
            (&[7, 5, 3], &[-3, 63, 21], 3), // 3-byte items, a reversed dimension
        ];
        for (k, &(shape, strides, itemsize)) in layouts.iter().enumerate() {
            for order in ORDERS {
                for use_offset in [false, true] {
                    let (lo, hi) = shape.iter().zip(strides).fold((0isize, itemsize), |(lo, hi), (&n, &s)| {
                        let span = s * (n - 1);
                        if span < 0 { (lo + span, hi) } else { (lo, hi + span) }
                    });
                    let mut a = Array::with_layout((hi - lo) as usize, (-lo) as usize, shape, strides, itemsize, None);
                    let len = a.count() as usize * itemsize as usize;
                    let incoming = random_bytes(&mut rng, len);
                    let expected = after_from_contiguous(&a, &incoming, order);
                    let cut = 1 + rng.below(len - 1);
                    let prefix = 3;
                    let f = file_with(&[&[9u8; 3][..], &incoming[..cut]].concat());
                    let fd = f.as_raw_fd();
                    seek(fd, if use_offset { 1 } else { prefix });
                    let v = a.view();
                    let io = Io::new(fd, &v, order, PYBUF_IO_READ, if use_offset { prefix } else { -1 });
                    expect_status(io.step(), Status::EndOfFile);
                    assert!(last().1.contains(&format!("after {cut} of {len} bytes")), "{}", last().1);
                    assert_eq!(io.done(), cut as i64);
                    // The rest arrives; the transfer goes on from where it was.
                    f.write_all_at(&incoming[cut..], prefix as u64 + cut as u64).unwrap();
                    expect_status(io.step(), Status::Ok);
                    assert_eq!(io.done(), len as i64);
                    expect_status(io.step(), Status::Ok);
                    drop(io);
                    assert!(a.payload() == expected, "layout {k} order {} offset {use_offset} cut {cut}", order as char);
                    let end = if use_offset { 1 } else { prefix + len as i64 };
                    assert_eq!(position(fd), end);
                }
            }
        }
        // A write that fails (EBADF: the fd was closed after the transfer was made) and
        // succeeds on a new fd with the same number.
        let mut a = Array::with_layout(16384, 0, &[64, 32], &[8, 512], 8, None);
        let want = contiguous(&mut a, b'C');
        let v = a.view();
        let (r, w) = pipe();
        let (r2, w2) = pipe();
        let number = w.as_raw_fd();
        let io = Io::new(number, &v, b'C', PYBUF_IO_WRITE, -1);
        drop(w);
        expect_status(io.step(), Status::Io);
        assert_eq!(pybuf_last_errno(), libc::EBADF);
        assert!(last().1.contains("0 of 16384 bytes moved"), "{}", last().1);
        assert_eq!(io.done(), 0);
        drop(r);
        // SAFETY: dup2 onto the number the transfer holds (closed above, nothing else
        // opens fds while this test runs).
        assert_eq!(unsafe { libc::dup2(w2.as_raw_fd(), number) }, number);
        let w3 = owned(number);
        drop(w2);
        expect_status(io.step(), Status::Ok);
        drop(io);
        drop(w3);
        assert_eq!(drain(r2.as_raw_fd()), want);
    });
}

/// Items of 1 KiB and more are moved in place one by one: 'F' order over suboffsets
/// (element by element), a 0-d view, a column of big items.
#[test]
fn big_items_move_in_place() {
    fd_checked(|| {
        let mut rng = Rng::new(0xB19);
        let mut arrays = [
            Array::indirect(&mut rng, &[3, 5], 1500, &[0]),
            Array::indirect(&mut rng, &[4, 3, 2], 1024, &[1]),
            Array::indirect(&mut rng, &[2, 3, 2], 2048, &[0, 2]),
            Array::c(&[], 4096, None),
            Array::random(&mut rng, &[7, 3], 1100),
        ];
        for (k, a) in arrays.iter_mut().enumerate() {
            for order in ORDERS {
                for (channel, how) in [(Channel::File, How::Call), (Channel::Pipe, How::Step), (Channel::Socket, How::OneStep)] {
                    let what = format!("array {k} ({channel:?}, {how:?}): {}", describe(a, order));
                    let want = contiguous(a, order);
                    round_trip(&mut rng, channel, a, order, how, 3000, &want, &what);
                }
            }
        }
    });
}

/// Device files and the wrong kind of fd: `/dev/full` (ENOSPC), `/dev/zero` (zeros into
/// the elements only), a directory (EISDIR), a file open only for reading or only for
/// writing (EBADF).
#[test]
fn special_files() {
    fd_checked(|| {
        let mut rng = Rng::new(0xDE7);
        for dims in [vec![], vec![0], vec![1]] {
            let mut a = if dims.is_empty() {
                Array::random(&mut rng, &[30, 40], 8)
            } else {
                Array::indirect(&mut rng, &[30, 40], 8, &dims)
            };
            let len = a.count() * 8;
            for order in ORDERS {
                let v = a.view();
                let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
                refused(Status::Io, libc::ENOSPC, &format!("0 of {len} bytes moved"), &[&|| write_fd(full.as_raw_fd(), &v, order)]);
                // Open for writing only: reading it is EBADF, nothing stored.
                let untouched = a.payload();
                refused(Status::Io, libc::EBADF, &format!("0 of {len} bytes moved"), &[&|| read_fd(full.as_raw_fd(), &v, order)]);
                assert!(a.payload() == untouched);
                let zeros = vec![0u8; len as usize];
                let expected = after_from_contiguous(&a, &zeros, order);
                let zero = File::open("/dev/zero").expect("/dev/zero");
                expect_status(read_fd(zero.as_raw_fd(), &v, order), Status::Ok);
                assert!(a.payload() == expected, "dims {dims:?} order {}", order as char);
                let dir = File::open(env!("CARGO_TARGET_TMPDIR")).expect("a directory");
                refused(Status::Io, libc::EISDIR, "Is a directory", &[&|| read_fd(dir.as_raw_fd(), &v, order)]);
                let read_only = File::open("/dev/zero").expect("/dev/zero");
                refused(Status::Io, libc::EBADF, &format!("0 of {len} bytes moved"), &[&|| write_fd(read_only.as_raw_fd(), &v, order)]);
                // /dev/null takes everything and has nothing.
                let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").expect("/dev/null");
                expect_status(write_fd(null.as_raw_fd(), &v, order), Status::Ok);
                refused(Status::EndOfFile, 0, &format!("after 0 of {len} bytes"), &[&|| read_fd(null.as_raw_fd(), &v, order)]);
            }
        }
    });
}

/// Several threads at once, each with its own transfers (and staging buffers).
#[test]
fn concurrent_transfers_on_many_threads() {
    fd_checked(|| {
        thread::scope(|s| {
            for t in 0..4u64 {
                let channel = [Channel::File, Channel::Pipe, Channel::Socket, Channel::Pipe][t as usize];
                s.spawn(move || random_round_trips(channel, 0xC0C0 + t, 60));
            }
        });
    });
}

/// More than 4 GiB in one transfer (a 4 KiB row repeated by a zero stride), and one run
/// of 3 GiB (anonymous memory never touched: /dev/null does not read it): system calls of
/// at most 0x7ffff000 bytes, 64-bit counts.
#[test]
fn more_than_4_gib_in_one_transfer() {
    fd_checked(|| {
        let null = std::fs::OpenOptions::new().write(true).open("/dev/null").expect("/dev/null");
        let fd = null.as_raw_fd();
        let mut rows = Array::with_layout(4096, 0, &[1 << 20, 4096], &[0, 1], 1, None);
        let v = rows.view();
        assert_eq!(v.len, 1 << 32);
        expect_status(write_fd(fd, &v, b'C'), Status::Ok);
        let io = Io::new(fd, &v, b'C', PYBUF_IO_WRITE, -1);
        expect_status(io.step(), Status::Ok);
        assert_eq!(io.done(), 1 << 32);
        drop(io);

        let len = 3usize << 30;
        // SAFETY: a fresh private anonymous mapping, unmapped below.
        let p = unsafe {
            libc::mmap(null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)
        };
        assert_ne!(p, libc::MAP_FAILED);
        let mut shape = [len as isize];
        let mut strides = [1isize];
        let v = pybuf_buffer {
            buf: p,
            len: len as isize,
            itemsize: 1,
            readonly: 1,
            ndim: 1,
            shape: shape.as_mut_ptr(),
            strides: strides.as_mut_ptr(),
            ..pybuf_buffer::zeroed()
        };
        expect_status(write_fd(fd, &v, b'A'), Status::Ok);
        expect_status(pwrite_fd(fd, &v, b'F', 12345), Status::Ok);
        let io = Io::new(fd, &v, b'C', PYBUF_IO_WRITE, 7);
        expect_status(io.step(), Status::Ok);
        assert_eq!(io.done(), len as i64);
        drop(io);
        // SAFETY: the mapping made above, no longer used.
        assert_eq!(unsafe { libc::munmap(p, len) }, 0);
    });
}

/// Offsets at the end of what `off_t` holds: an OS error or the end of the file, never a
/// crash or a wrapped offset.
#[test]
fn offsets_near_the_largest_file_offset() {
    fd_checked(|| {
        let mut a = Array::c(&[4], 4, Some("i"));
        let v = a.view();
        let f = temp_file();
        for offset in [i64::MAX - 8, i64::MAX - 16, i64::MAX] {
            let rc = pwrite_fd(f.as_raw_fd(), &v, b'C', offset);
            let (status, message) = last();
            let errno = pybuf_last_errno();
            assert_eq!((rc, status), (Status::Io as c_int, Status::Io as c_int), "{message}");
            assert!([libc::EFBIG, libc::EINVAL, libc::EOVERFLOW].contains(&errno), "errno {errno}: {message}");
            let rc = pread_fd(f.as_raw_fd(), &v, b'C', offset);
            let message = last().1;
            assert!(rc == Status::EndOfFile as c_int || rc == Status::Io as c_int, "{message}");
            assert_eq!(file_bytes(&f), Vec::<u8>::new(), "nothing written");
        }
    });
}

/// Views as C callers fill them by hand: NULL strides (C-contiguous), a shapeless byte
/// view (`ndim` 1, shape NULL), numpy's PYBUF_SIMPLE answer (`ndim` 0, `len` bytes).
#[test]
fn null_strides_and_shapeless_views() {
    fd_checked(|| {
        let mut m = Array::c(&[3, 4, 5], 2, Some("h"));
        let mut rng = Rng::new(0x5A);
        for order in ORDERS {
            let with = m.view();
            let without = pybuf_buffer { strides: null_mut(), ..with };
            for how in HOWS {
                let want = contiguous(&mut m, order);
                let f = temp_file();
                match how {
                    How::Call => expect_status(write_fd(f.as_raw_fd(), &without, order), Status::Ok),
                    _ => {
                        stepped(how, f.as_raw_fd(), &without, order, PYBUF_IO_WRITE, -1);
                    }
                }
                assert_eq!(file_bytes(&f), want, "NULL strides, order {}", order as char);
                let incoming = random_bytes(&mut rng, want.len());
                let expected = after_from_contiguous(&m, &incoming, order);
                let f = file_with(&incoming);
                match how {
                    How::Call => expect_status(read_fd(f.as_raw_fd(), &without, order), Status::Ok),
                    _ => {
                        stepped(how, f.as_raw_fd(), &without, order, PYBUF_IO_READ, -1);
                    }
                }
                assert!(m.payload() == expected, "NULL strides, order {}, {how:?}", order as char);
            }
        }
        // Shapeless: len bytes.
        let mut bytes: Vec<u8> = (0..100u8).collect();
        let shapeless = pybuf_buffer { buf: bytes.as_mut_ptr().cast(), len: 100, itemsize: 1, ndim: 1, ..pybuf_buffer::zeroed() };
        let simple = pybuf_buffer { ndim: 0, itemsize: 8, ..shapeless };
        for v in [shapeless, simple] {
            let f = temp_file();
            expect_status(write_fd(f.as_raw_fd(), &v, b'F'), Status::Ok);
            assert_eq!(file_bytes(&f), (0..100u8).collect::<Vec<u8>>());
            let back = file_with(&[7u8; 100]);
            expect_status(read_fd(back.as_raw_fd(), &v, b'A'), Status::Ok);
            assert_eq!(bytes, vec![7u8; 100]);
            bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        }
    });
}

/// A transfer copies the view's shape, strides and suboffsets: the caller may change or
/// free them after `pybuf_io_new`.
#[test]
fn a_transfer_copies_the_views_arrays() {
    fd_checked(|| {
        let mut rng = Rng::new(0xC0B);
        for dims in [vec![], vec![1]] {
            let mut a = if dims.is_empty() { Array::random(&mut rng, &[20, 30], 4) } else { Array::indirect(&mut rng, &[20, 30], 4, &dims) };
            for order in ORDERS {
                let want = contiguous(&mut a, order);
                let (shape, strides, subs) = (a.shape.clone(), a.strides.clone(), a.suboffsets.clone());
                let (r, w) = pipe();
                let v = a.view();
                let io = Io::new(w.as_raw_fd(), &v, order, PYBUF_IO_WRITE, -1);
                // Scribble over the arrays the view pointed to.
                a.shape.iter_mut().for_each(|n| *n = 1_000_000);
                a.strides.iter_mut().for_each(|s| *s = -7);
                if let Some(s) = a.suboffsets.as_mut() {
                    s.iter_mut().for_each(|s| *s = 123_456);
                }
                expect_status(io.step(), Status::Ok);
                drop(io);
                drop(w);
                assert_eq!(drain(r.as_raw_fd()), want, "dims {dims:?} order {}", order as char);
                (a.shape, a.strides, a.suboffsets) = (shape, strides, subs);
            }
        }
    });
}

/// Malformed views: each fd function refuses them with the status the copy engine's
/// `pybuf_to_contiguous` / `pybuf_from_contiguous` give, before any byte moves.
#[test]
fn malformed_views_are_refused_as_the_copy_engine_refuses_them() {
    fd_checked(|| {
        let mut a = Array::c(&[4, 6], 8, Some("d"));
        let good = a.view();
        let mut shape = [4isize, -6];
        let mut strides = [48isize, 8];
        let mut subs = [-1isize, 0];
        let mut huge = [isize::MAX / 2, 8]; // 3 rows past the first overflow an isize
        let bad = [
            pybuf_buffer { ndim: -1, ..good },
            pybuf_buffer { ndim: 65, ..good },
            pybuf_buffer { itemsize: 0, ..good },
            pybuf_buffer { itemsize: -8, ..good },
            pybuf_buffer { len: 100, ..good },
            pybuf_buffer { shape: null_mut(), ..good },
            pybuf_buffer { shape: shape.as_mut_ptr(), ..good },
            pybuf_buffer { strides: null_mut(), suboffsets: subs.as_mut_ptr(), ..good },
            pybuf_buffer { strides: huge.as_mut_ptr(), ..good },
            pybuf_buffer { buf: null_mut(), ..good },
            pybuf_buffer { strides: strides.as_mut_ptr(), suboffsets: subs.as_mut_ptr(), buf: null_mut(), ..good },
        ];
        let (r, w) = pipe();
        put(w.as_raw_fd(), &[1u8; 192]);
        let f = temp_file();
        let before = a.data.clone();
        for (k, v) in bad.iter().enumerate() {
            let mut out = vec![0u8; 192];
            // SAFETY: a malformed view is refused before its memory is read.
            let to = unsafe { pybuf_to_contiguous(out.as_mut_ptr().cast(), v, v.len.max(0), b'C' as c_char) };
            let to_status = last().0;
            // SAFETY: as above; `out` holds 192 readable bytes.
            let from = unsafe { pybuf_from_contiguous(v, out.as_ptr().cast(), v.len.clamp(0, 192), b'C' as c_char) };
            let from_status = last().0;
            assert!(to < 0 && from < 0, "view {k} is not malformed for the copy engine ({to}, {from})");
            for (name, rc, want) in [
                ("write_fd", write_fd(w.as_raw_fd(), v, b'C'), to_status),
                ("pwrite_fd", pwrite_fd(f.as_raw_fd(), v, b'F', 0), to_status),
                ("read_fd", read_fd(r.as_raw_fd(), v, b'C'), from_status),
                ("pread_fd", pread_fd(f.as_raw_fd(), v, b'A', 0), from_status),
            ] {
                assert!(rc < 0, "view {k}: {name} accepted a view the copy engine refuses ({to}, {from})");
                assert_eq!(rc, want, "view {k}: {name} and the copy engine disagree");
            }
            let mut out_io = std::ptr::NonNull::<pybuf_io>::dangling().as_ptr();
            // SAFETY: as above; `out_io` is writable.
            let rc = unsafe { pybuf_io_new(r.as_raw_fd(), v, b'C' as c_char, PYBUF_IO_READ, -1, &mut out_io) };
            assert_eq!(rc, from_status, "view {k}: pybuf_io_new");
            assert_eq!(out_io, std::ptr::NonNull::dangling().as_ptr());
        }
        assert_eq!(a.data, before);
        assert_eq!(file_bytes(&f), Vec::<u8>::new());
        drop(w);
        assert_eq!(drain(r.as_raw_fd()), vec![1u8; 192], "a refused read took bytes from the pipe");
    });
}

/// Empty and 0-d views: nothing moves for the empty one, one item for the 0-d one.
#[test]
fn empty_and_zero_dimensional_views() {
    fd_checked(|| {
        let mut empty = Array::c(&[3, 0, 2], 8, None);
        let v = empty.view();
        let (r, w) = pipe();
        put(w.as_raw_fd(), b"xyz");
        for order in ORDERS {
            expect_status(write_fd(w.as_raw_fd(), &v, order), Status::Ok);
            expect_status(read_fd(r.as_raw_fd(), &v, order), Status::Ok);
            let io = Io::new(r.as_raw_fd(), &v, order, PYBUF_IO_READ, -1);
            assert_eq!((io.total(), io.done()), (0, 0));
            expect_status(io.step(), Status::Ok);
        }
        drop(w);
        assert_eq!(drain(r.as_raw_fd()), b"xyz", "nothing written or read");

        let mut scalar = Array::c(&[], 8, Some("d"));
        scalar.data.copy_from_slice(&2.5f64.to_ne_bytes());
        let v = scalar.view();
        let f = temp_file();
        expect_status(pwrite_fd(f.as_raw_fd(), &v, b'F', 5), Status::Ok);
        let bytes = file_bytes(&f);
        assert_eq!(bytes[..5], [0u8; 5]);
        assert_eq!(bytes[5..], 2.5f64.to_ne_bytes());
        let mut back = Array::c(&[], 8, Some("d"));
        let vb = back.view();
        expect_status(pread_fd(f.as_raw_fd(), &vb, b'A', 5), Status::Ok);
        assert_eq!(back.data, 2.5f64.to_ne_bytes());
    });
}

/// A closure moved to a scoped thread although what it borrows (views: raw pointers)
/// is not `Sync`.
struct AssertSend<F>(F);

// SAFETY: the closure runs on a scoped thread while the thread that made it waits in
// `join`, so nothing it borrows is used by two threads at once.
unsafe impl<F> Send for AssertSend<F> {}

impl<F: FnOnce() -> T, T> AssertSend<F> {
    fn call(self) -> T {
        (self.0)()
    }
}

/// Run `f` on a new thread with `SIGPIPE` blocked, and tell whether a `SIGPIPE` became
/// pending for it (a blocked signal is kept pending even when the process ignores it).
fn raises_sigpipe<T: Send>(f: impl FnOnce() -> T) -> (T, bool) {
    let f = AssertSend(f);
    thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: signal sets on the stack; the mask of this thread only; a pending
            // SIGPIPE is taken with sigtimedwait (zero timeout) before unblocking it.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGPIPE);
                let mut old: libc::sigset_t = std::mem::zeroed();
                assert_eq!(libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old), 0);
                let r = f.call();
                let mut pending: libc::sigset_t = std::mem::zeroed();
                assert_eq!(libc::sigpending(&mut pending), 0);
                let raised = libc::sigismember(&pending, libc::SIGPIPE) == 1;
                if raised {
                    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                    assert_eq!(libc::sigtimedwait(&set, null_mut(), &zero), libc::SIGPIPE);
                }
                assert_eq!(libc::pthread_sigmask(libc::SIG_SETMASK, &old, null_mut()), 0);
                (r, raised)
            }
        })
        .join()
        .expect("the thread")
    })
}

/// A socket whose peer has gone: `PYBUF_STATUS_IO` with `EPIPE`, and no `SIGPIPE`; a pipe
/// whose reader has gone: `EPIPE` and `SIGPIPE`, as `write(2)` does (documented).
#[test]
fn epipe_without_sigpipe_on_sockets() {
    fd_checked(|| {
        let mut a = Array::with_layout(1 << 20, 0, &[256, 512], &[4096, 8], 4, None);
        let len = a.count() * 4;
        for order in ORDERS {
            // Sockets: the peer closes before any byte, or after reading some.
            for read_first in [0usize, 1000, 70_000] {
                let (s, peer_end) = socket_pair();
                let v = a.view();
                let mut peer = Some(thread::spawn(move || {
                    let mut buf = vec![0u8; read_first];
                    let mut got = 0;
                    while got < read_first {
                        // SAFETY: `buf[got..]` is writable.
                        let n = unsafe { libc::read(peer_end.as_raw_fd(), buf[got..].as_mut_ptr().cast(), read_first - got) };
                        assert!(n > 0);
                        got += n as usize;
                    }
                    drop(peer_end);
                }));
                if read_first == 0 {
                    peer.take().unwrap().join().unwrap();
                }
                let ((rc, status, errno, message), raised) = raises_sigpipe(|| {
                    let rc = write_fd(s.as_raw_fd(), &v, order);
                    let (status, message) = last();
                    (rc, status, pybuf_last_errno(), message)
                });
                if let Some(peer) = peer {
                    peer.join().unwrap();
                }
                assert_eq!((rc, status), (Status::Io as c_int, Status::Io as c_int), "{message}");
                assert!(errno == libc::EPIPE, "errno {errno}: {message}");
                assert!(!raised, "SIGPIPE raised by a write to a socket");
                assert!(message.contains(&format!("(errno {})", libc::EPIPE)), "{message}");
                assert!(message.contains(&format!(" of {len} bytes moved")), "{message}");
                // The same through a transfer, which says how far it got.
                let io = Io::new(s.as_raw_fd(), &v, order, PYBUF_IO_WRITE, -1);
                let ((rc, status, errno, message), raised) = raises_sigpipe(|| {
                    let rc = io.step();
                    let (status, message) = last();
                    (rc, status, pybuf_last_errno(), message)
                });
                assert_eq!((rc, status, errno, raised), (Status::Io as c_int, Status::Io as c_int, libc::EPIPE, false), "{message}");
                assert!(message.contains(&format!("{} of {len} bytes moved", io.done())), "{message}");
            }
            // A pipe: write(2) itself, then pybuf, raise SIGPIPE (the detector works).
            let (r, w) = pipe();
            drop(r);
            let (rc, raised) = raises_sigpipe(|| {
                // SAFETY: one readable byte.
                unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) }
            });
            assert_eq!((rc, raised), (-1, true), "write(2) to a pipe without reader");
            let v = a.view();
            let ((rc, errno), raised) = raises_sigpipe(|| (write_fd(w.as_raw_fd(), &v, order), pybuf_last_errno()));
            assert_eq!((rc, errno, raised), (Status::Io as c_int, libc::EPIPE, true));
        }
    });
}

/// Run each call, and check that it returned `status`, recorded it with a message, set
/// `pybuf_last_errno()` to `errno`, and that the message contains `says`.
#[track_caller]
fn refused(status: Status, errno: c_int, says: &str, calls: &[&dyn Fn() -> c_int]) {
    for (k, call) in calls.iter().enumerate() {
        let rc = call();
        let message = last().1;
        assert_eq!(pybuf_last_errno(), errno, "call {k}: {message}");
        expect_status(rc, status);
        assert!(message.contains(says), "call {k}: {message:?} does not say {says:?}");
    }
}

/// A peer that reads some bytes and then closes: the write fails with `EPIPE` (SIGPIPE is
/// ignored in this test program, as Rust programs do), the peer got the first bytes of
/// the stream, and the message and `pybuf_io_done` say how far the transfer got; a retry
/// fails the same way without moving.
#[test]
fn writes_cut_short_by_a_closing_peer() {
    fd_checked(|| {
        let mut rng = Rng::new(0xC17);
        let mut cut = 0;
        for case in 0..cases(60) {
            // Larger than the kernel's buffers (a pipe's 64 KiB, a socket's few hundred).
            let shape = [400 + rng.below(300) as isize, 400 + rng.below(300) as isize];
            let itemsize = [3, 4, 8][rng.below(3)];
            let dims = [rng.below(2)];
            let mut a = if rng.below(3) == 0 { Array::indirect(&mut rng, &shape, itemsize, &dims) } else { Array::random(&mut rng, &shape, itemsize) };
            let order = ORDERS[case % 3];
            let want = contiguous(&mut a, order);
            let channel = if rng.below(2) == 0 { Channel::Pipe } else { Channel::Socket };
            let stepped_fd = rng.below(2) == 0;
            let what = format!("case {case} ({channel:?}, stepped {stepped_fd}): {}", describe(&a, order));
            let stop = rng.below(want.len());
            let (theirs, ours) = if channel == Channel::Pipe { pipe() } else { socket_pair() };
            let peer = thread::spawn(move || {
                let mut got = vec![0u8; stop];
                let mut at = 0;
                while at < stop {
                    // SAFETY: `got[at..]` is writable.
                    let n = unsafe { libc::read(theirs.as_raw_fd(), got[at..].as_mut_ptr().cast(), (stop - at).min(100)) };
                    assert!(n > 0);
                    at += n as usize;
                }
                got
            });
            let v = a.view();
            let io = Io::new(ours.as_raw_fd(), &v, order, PYBUF_IO_WRITE, -1);
            if stepped_fd {
                set_nonblocking(ours.as_raw_fd());
            }
            let (rc, message, errno) = loop {
                let rc = io.step();
                let (_, message) = last();
                let errno = pybuf_last_errno();
                if rc == Status::WouldBlock as c_int {
                    if peer.is_finished() {
                        // The peer is gone (its end closed): the next write fails.
                        continue;
                    }
                    wait_ready(ours.as_raw_fd(), libc::POLLOUT);
                    continue;
                }
                break (rc, message, errno);
            };
            let got = peer.join().unwrap();
            assert_eq!(got[..], want[..stop], "{what}: the peer's bytes");
            let done = io.done();
            if rc == 0 {
                // Everything fit in the kernel's buffers before the peer closed.
                assert_eq!(done, want.len() as i64, "{what}");
                continue;
            }
            assert_eq!(rc, Status::Io as c_int, "{what}: {message}");
            assert_eq!(errno, libc::EPIPE, "{what}: {message}");
            assert!(done >= stop as i64 && done < want.len() as i64, "{what}: done {done}, the peer read {stop}");
            assert!(message.contains(&format!("{done} of {} bytes moved", want.len())), "{what}: {message}");
            expect_status(io.step(), Status::Io);
            assert_eq!(pybuf_last_errno(), libc::EPIPE);
            assert_eq!(io.done(), done, "{what}: a failed retry moves nothing");
            cut += 1;
        }
        assert!(cut > 10, "only {cut} of 60 transfers were cut short (the kernel buffered the rest)");
    });
}

/// Every refusal: a status, a message, `pybuf_last_errno()` for OS errors, and nothing
/// moved (the memory as it was, the source's bytes still there, `*out` unwritten).
#[test]
fn refusals_move_nothing() {
    fd_checked(|| {
        let mut a = Array::with_layout(4096, 16, &[8, 8], &[64, 8], 8, Some("d"));
        let before = a.data.clone();
        let v = a.view();
        let (r, w) = pipe();
        let (rr, ww) = (r.as_raw_fd(), w.as_raw_fd());
        put(ww, &[7u8; 512]);
        let f = temp_file();
        let ff = f.as_raw_fd();
        let sentinel = std::ptr::NonNull::<pybuf_io>::dangling().as_ptr();
        let io_new = |fd: RawFd, v: *const pybuf_buffer, order: u8, direction: c_int, offset: i64| {
            let mut out = sentinel;
            // SAFETY: `v` is NULL or valid over live memory; `out` is writable.
            let rc = unsafe { pybuf_io_new(fd, v, order as c_char, direction, offset, &mut out) };
            assert_eq!(out, sentinel, "*out written by a refused pybuf_io_new");
            rc
        };

        // A closed fd (a number nothing holds: no other test runs meanwhile).
        let closed = {
            let (x, y) = pipe();
            let n = y.as_raw_fd();
            drop((x, y));
            n
        };
        refused(Status::Io, libc::EBADF, &format!("fd {closed}: Bad file descriptor (errno {})", libc::EBADF), &[
            &|| write_fd(closed, &v, b'C'),
            &|| read_fd(closed, &v, b'C'),
            &|| pwrite_fd(closed, &v, b'C', 0),
            &|| pread_fd(closed, &v, b'C', 0),
            &|| io_new(closed, &v, b'C', PYBUF_IO_WRITE, -1),
            &|| io_new(closed, &v, b'C', PYBUF_IO_READ, 0),
        ]);
        // A negative fd.
        refused(Status::InvalidArgument, 0, "is negative", &[
            &|| write_fd(-1, &v, b'C'),
            &|| read_fd(-3, &v, b'F'),
            &|| pwrite_fd(-1, &v, b'F', 0),
            &|| io_new(-1, &v, b'A', PYBUF_IO_READ, -1),
        ]);
        // A NULL view; a NULL out; a NULL transfer.
        refused(Status::NullPointer, 0, "view", &[
            &|| write_fd(ww, null(), b'C'),
            &|| read_fd(rr, null(), b'C'),
            &|| pwrite_fd(ff, null(), b'C', 0),
            &|| pread_fd(ff, null(), b'C', 0),
            &|| io_new(rr, null(), b'C', PYBUF_IO_READ, -1),
        ]);
        refused(Status::NullPointer, 0, "out", &[
            // SAFETY: a NULL out is refused before it is written.
            &|| unsafe { pybuf_io_new(rr, &v, b'C' as c_char, PYBUF_IO_READ, -1, null_mut()) },
        ]);
        refused(Status::NullPointer, 0, "io is NULL", &[
            // SAFETY: a NULL transfer is refused.
            &|| unsafe { pybuf_io_step(null_mut()) },
        ]);
        // SAFETY: NULL transfers are refused with -1.
        unsafe {
            assert_eq!(pybuf_io_done(null()), -1);
            expect_error(Status::NullPointer);
            assert_eq!(pybuf_io_total(null()), -1);
            expect_error(Status::NullPointer);
        }
        // SAFETY: NULL is ignored.
        unsafe { pybuf_io_free(null_mut()) };
        expect_ok();
        // A bad order.
        for order in [b'X', 0, b'c', b'f'] {
            refused(Status::InvalidArgument, 0, "order", &[
                &|| write_fd(ww, &v, order),
                &|| read_fd(rr, &v, order),
                &|| pwrite_fd(ff, &v, order, 0),
                &|| pread_fd(ff, &v, order, 0),
                &|| io_new(rr, &v, order, PYBUF_IO_READ, -1),
            ]);
        }
        // A bad direction.
        for direction in [-1, 2, 100] {
            refused(Status::InvalidArgument, 0, &format!("direction = {direction}"), &[&|| io_new(rr, &v, b'C', direction, -1)]);
        }
        // A negative offset (-1 is the fd's position for pybuf_io_new only).
        for offset in [-1, -2, i64::MIN] {
            refused(Status::InvalidArgument, 0, &format!("offset = {offset} is negative"), &[
                &|| pwrite_fd(ff, &v, b'C', offset),
                &|| pread_fd(ff, &v, b'C', offset),
            ]);
        }
        for offset in [-2, i64::MIN] {
            refused(Status::InvalidArgument, 0, &format!("offset = {offset}"), &[&|| io_new(ff, &v, b'C', PYBUF_IO_WRITE, offset)]);
        }
        // A read-only destination; one with aliased elements (a zero stride).
        let mut ro = a.duplicate();
        ro.readonly = true;
        let vro = ro.view();
        refused(Status::ReadOnly, 0, "read-only", &[
            &|| read_fd(rr, &vro, b'C'),
            &|| pread_fd(ff, &vro, b'C', 0),
            &|| io_new(rr, &vro, b'C', PYBUF_IO_READ, -1),
        ]);
        let mut zero = Array::with_layout(64, 0, &[4, 8], &[0, 8], 8, None);
        let zero_before = zero.data.clone();
        let vz = zero.view();
        refused(Status::InvalidStrides, 0, "strides[0] = 0", &[
            &|| read_fd(rr, &vz, b'C'),
            &|| pread_fd(ff, &vz, b'F', 0),
            &|| io_new(rr, &vz, b'A', PYBUF_IO_READ, -1),
        ]);
        assert_eq!(zero.data, zero_before);
        // ...but both may be written from (the zero-stride row repeated).
        let f2 = temp_file();
        expect_status(write_fd(f2.as_raw_fd(), &vro, b'C'), Status::Ok);
        expect_status(write_fd(f2.as_raw_fd(), &vz, b'C'), Status::Ok);
        assert_eq!(file_bytes(&f2).len(), 512 + 256);
        assert_eq!(file_bytes(&f2)[512..], zero_before.repeat(4)[..]);
        // A malformed view.
        let bad = pybuf_buffer { ndim: -1, ..v };
        refused(Status::InvalidNdim, 0, "ndim", &[&|| write_fd(ww, &bad, b'C'), &|| read_fd(rr, &bad, b'C'), &|| io_new(rr, &bad, b'C', PYBUF_IO_READ, -1)]);
        // Offsets on fds that cannot seek: ESPIPE, nothing consumed.
        let (s0, s1) = socket_pair();
        let espipe = format!("Illegal seek (errno {})", libc::ESPIPE);
        for (fd, call) in [
            (rr, &(|| pread_fd(rr, &v, b'C', 0)) as &dyn Fn() -> c_int),
            (ww, &|| pwrite_fd(ww, &v, b'C', 0)),
            (s0.as_raw_fd(), &|| pwrite_fd(s0.as_raw_fd(), &v, b'C', 8)),
            (s1.as_raw_fd(), &|| pread_fd(s1.as_raw_fd(), &v, b'C', 8)),
        ] {
            refused(Status::Io, libc::ESPIPE, &format!("on fd {fd} at offset"), &[call]);
            assert!(last().1.contains(&espipe), "{}", last().1);
        }
        let io = Io::new(rr, &v, b'C', PYBUF_IO_READ, 0);
        refused(Status::Io, libc::ESPIPE, &espipe, &[&|| io.step()]);
        drop(io);
        // Nothing was read into the views, nothing taken from the pipe.
        assert_eq!(a.data, before);
        assert_eq!(ro.data, before);
        drop(w);
        assert_eq!(drain(rr), vec![7u8; 512], "a refused read took bytes from the pipe");
        drop(r);
        // After a success, pybuf_last_errno is 0 again.
        expect_status(pwrite_fd(ff, &v, b'C', 0), Status::Ok);
        assert_eq!(pybuf_last_errno(), 0);
    });
}

/// A read transfer abandoned after would-block (freed to cancel it) stores the whole
/// elements it took from the fd first: what the fd gave is in the view, not lost in the
/// staging buffer.
#[test]
fn freeing_a_read_after_would_block_stores_what_arrived() {
    fd_checked(|| {
        // A 4 x 4 transpose of doubles (staged: 8-byte runs), 64 of its 128 bytes sent.
        let mut a = Array::c(&[4, 4], 8, Some("d"));
        a.strides = vec![8, 32];
        let before = a.data.clone();
        let incoming: Vec<u8> = (0..68u8).map(|b| b ^ 0xA5).collect();
        let (r, w) = pipe();
        set_nonblocking(r.as_raw_fd());
        put(w.as_raw_fd(), &incoming);
        let v = a.view();
        let mut io = null_mut();
        // SAFETY: a valid view of `a`, alive until the transfer is freed; io is writable.
        assert_eq!(unsafe { pybuf_io_new(r.as_raw_fd(), &v, b'C' as c_char, PYBUF_IO_READ, -1, &mut io) }, 0);
        // SAFETY: a live transfer.
        expect_status(unsafe { pybuf_io_step(io) }, Status::WouldBlock);
        // SAFETY: a live transfer.
        assert_eq!(unsafe { pybuf_io_done(io) }, 68);
        // SAFETY: a live transfer, freed once; the view's memory is still valid.
        unsafe { pybuf_io_free(io) };
        // Elements 0..8 in C order of the transpose: (i, j) at byte 8 * i + 32 * j.
        for k in 0..16usize {
            let (i, j) = (k / 4, k % 4);
            let at = 8 * i + 32 * j;
            let want = if k < 8 { &incoming[8 * k..8 * k + 8] } else { &before[at..at + 8] };
            assert_eq!(&a.data[at..at + 8], want, "element {k} ({i}, {j})");
        }
    });
}
