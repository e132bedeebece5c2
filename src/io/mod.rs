//! Moving a view's elements between memory and a file descriptor, with the kernel doing
//! the copying: scatter/gather I/O straight from (into) strided memory.
//!
//! The bytes on the fd are the view's elements in an order ('C', 'F', 'A'): the bytes
//! `pybuf_to_contiguous` would produce, never materialised. A [`Transfer`] walks that
//! stream (`src/io/stream.rs`): contiguous runs of at least `MIN_RUN` (512) bytes go to
//! `writev`/`readv` (`pwritev`/`preadv` at an offset; `sendmsg` with `MSG_NOSIGNAL` on
//! sockets) as iovecs, at most `IOV_MAX` per call; shorter runs are gathered into (or
//! scattered from) a staging buffer of at most `STAGE` (1 MiB) bytes by the copy
//! engine. A transfer keeps its place across short transfers, `EINTR` (retried) and
//! would-block (`EAGAIN`): blocking callers wait for the fd with `poll`; non-blocking
//! callers get [`Status::WouldBlock`](crate::Status::WouldBlock) and step again later.
//!
//! The fd is reached through an [`Endpoint`], so that tests can inject faults.

mod pipeline;
mod stream;
pub(crate) mod sys;

use std::os::fd::RawFd;

use crate::copy::Side;
use crate::error::{Error, Result};
use crate::layout::Order;

pub(crate) use stream::{MIN_RUN, STAGE};
pub use sys::Moved;

/// Which way the bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the view's memory to the fd.
    Write,
    /// From the fd into the view's memory.
    Read,
}

/// Where a transfer's bytes go or come from: one vectored call at a time.
pub trait Endpoint {
    /// Write the iovecs (their total is positive): the bytes moved, `Again` when the
    /// endpoint takes nothing now, or an `errno`.
    ///
    /// # Safety
    /// Every iovec is readable for its length.
    unsafe fn write(&mut self, iov: &[libc::iovec]) -> std::result::Result<Moved, i32>;
    /// Read into the iovecs (their total is positive): the bytes moved, `Again`, `End`
    /// at the end of the file, or an `errno`.
    ///
    /// # Safety
    /// Every iovec is writable for its length.
    unsafe fn read(&mut self, iov: &[libc::iovec]) -> std::result::Result<Moved, i32>;
    /// Block until a call in `direction` can make progress, or return an `errno`.
    fn wait(&mut self, direction: Direction) -> std::result::Result<(), i32>;
    /// Words for messages: "fd 5", "fd 5 at offset 4096".
    fn describe(&self) -> String;
}

/// A file descriptor, at its own position or at an offset that moves with the transfer.
#[derive(Debug)]
pub struct Fd {
    fd: RawFd,
    offset: Option<u64>,
    kind: sys::Kind,
}

impl Fd {
    pub fn new(fd: RawFd, offset: Option<u64>) -> Fd {
        Fd { fd, offset, kind: sys::Kind::Unknown }
    }

    fn moved(&mut self, m: std::result::Result<Moved, i32>) -> std::result::Result<Moved, i32> {
        if let (Ok(Moved::Bytes(n)), Some(off)) = (m, self.offset.as_mut()) {
            *off += n as u64;
        }
        m
    }
}

impl Endpoint for Fd {
    unsafe fn write(&mut self, iov: &[libc::iovec]) -> std::result::Result<Moved, i32> {
        // SAFETY: forwarded.
        let m = unsafe { sys::write(self.fd, iov, self.offset, &mut self.kind) };
        self.moved(m)
    }

    unsafe fn read(&mut self, iov: &[libc::iovec]) -> std::result::Result<Moved, i32> {
        // SAFETY: forwarded.
        let m = unsafe { sys::read(self.fd, iov, self.offset) };
        self.moved(m)
    }

    fn wait(&mut self, direction: Direction) -> std::result::Result<(), i32> {
        sys::wait(self.fd, if direction == Direction::Write { libc::POLLOUT } else { libc::POLLIN })
    }

    fn describe(&self) -> String {
        match self.offset {
            Some(off) => format!("fd {} at offset {off}", self.fd),
            None => format!("fd {}", self.fd),
        }
    }
}

/// A transfer of a view's elements in one direction: where it is and its staging buffer.
/// It owns copies of the view's shape, strides and suboffsets, not the memory.
#[derive(Debug)]
pub struct Transfer {
    plan: stream::Plan,
    cursor: stream::Cursor,
    direction: Direction,
    stage: Vec<u8>,
    /// Write: the stage holds the current unit. Read: bytes of the unit received.
    staged: bool,
    iov: Vec<libc::iovec>,
    iov_max: usize,
    /// A blocking step with at least this many bytes left runs on two threads
    /// ([`pipeline`]).
    pipeline_min: u64,
}

// SAFETY: the raw pointers are the view's memory (the C contract makes its validity the
// caller's, from any thread) and the iovec scratch, rebuilt before each use.
unsafe impl Send for Transfer {}

impl Transfer {
    /// A transfer of the valid view `side` in `order`. A read transfer's destination must
    /// be writable with no aliased elements (checked by the caller).
    pub fn new(side: Side<'_>, order: Order, direction: Direction) -> Result<Transfer> {
        Transfer::with_limits(side, order, direction, MIN_RUN, STAGE)
    }

    /// [`Transfer::new`] with another shortest direct run and staging size.
    pub(crate) fn with_limits(side: Side<'_>, order: Order, direction: Direction, min_run: usize, stage: usize) -> Result<Transfer> {
        let plan = stream::Plan::with_limits(side.ptr, &side.geom, order, min_run, stage);
        let stage = crate::alloc::try_vec(plan.stage_len(), 0u8, "the staging buffer of a transfer")?;
        let cursor = stream::Cursor::new(&plan);
        let iov_max = sys::iov_max();
        let iov = if plan.direct() { crate::alloc::try_with_capacity(iov_max, "the iovecs of a transfer")? } else { Vec::new() };
        Ok(Transfer { plan, cursor, direction, stage, staged: false, iov, iov_max, pipeline_min: pipeline::MIN_BYTES })
    }

    /// The bytes the transfer moves in all.
    pub fn total(&self) -> u64 {
        self.plan.total
    }

    /// The bytes moved so far.
    pub fn done(&self) -> u64 {
        self.cursor.done()
    }

    pub fn is_finished(&self) -> bool {
        self.done() >= self.total()
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Move bytes until the transfer is finished, or until the endpoint would block
    /// (then, with `wait`, wait for it and go on; without, return `WouldBlock`).
    /// Any failure leaves the transfer where it was, so it can be stepped again; a failed
    /// read has stored every whole element that arrived.
    ///
    /// # Safety
    /// The view's memory is valid (readable for a write, writable for a read) for every
    /// element, as when the transfer was made, and the endpoint's memory does not
    /// overlap it.
    pub unsafe fn step(&mut self, ep: &mut dyn Endpoint, wait: bool) -> Result<()> {
        if wait && self.can_pipeline() {
            // SAFETY: forwarded.
            if let Some(r) = unsafe { self.pipelined(ep) } {
                // SAFETY: forwarded.
                return unsafe { self.settle(r) };
            }
        }
        if !self.plan.direct() && self.stage.len() < self.plan.stage_len() {
            self.stage = crate::alloc::try_vec(self.plan.stage_len(), 0u8, "the staging buffer of a transfer")?;
        }
        // SAFETY: forwarded.
        let r = unsafe {
            match self.direction {
                Direction::Write => self.write_loop(ep, wait),
                Direction::Read => self.read_loop(ep, wait),
            }
        };
        // SAFETY: forwarded.
        unsafe { self.settle(r) }
    }

    /// After a step: a failed read stores the whole elements of a partly received unit
    /// (not on would-block: the unit completes later, and storing it each time would
    /// cost a slow peer's transfer quadratic time).
    ///
    /// # Safety
    /// As for [`Transfer::step`].
    unsafe fn settle(&mut self, r: Result<()>) -> Result<()> {
        if r.as_ref().is_err_and(|e| e.status() != crate::Status::WouldBlock) {
            // SAFETY: forwarded.
            unsafe { self.store_received()? };
        }
        r
    }

    /// Store the whole elements of a partly received unit of a staged read (they wait in
    /// the staging buffer until the unit is complete). Nothing to do for a write, a direct
    /// read, or at a unit boundary. A transfer abandoned after would-block calls this so
    /// that every whole element read from the fd reaches the view.
    ///
    /// # Safety
    /// As for [`Transfer::step`].
    pub unsafe fn store_received(&mut self) -> Result<()> {
        if self.direction == Direction::Read && !self.plan.direct() {
            let received = self.cursor.in_unit.min(self.stage.len());
            // SAFETY: forwarded; the stage holds the unit's `in_unit` received bytes.
            unsafe { self.cursor.scatter(&self.plan, &self.stage, received)? };
        }
        Ok(())
    }

    /// Handle a call that moved nothing: wait, or report would-block.
    fn again(&self, ep: &mut dyn Endpoint, wait: bool) -> Result<()> {
        again(ep, wait, self.direction, self.done(), self.total())
    }

    fn os_error(&self, call: &str, errno: i32, ep: &dyn Endpoint) -> Error {
        os_error(call, errno, ep, self.done(), self.total())
    }

    /// # Safety
    /// As for [`Transfer::step`].
    unsafe fn write_loop(&mut self, ep: &mut dyn Endpoint, wait: bool) -> Result<()> {
        let call = if self.plan.direct() { "writev" } else { "write" };
        while !self.is_finished() {
            let moved = if self.plan.direct() {
                let mut iov = std::mem::take(&mut self.iov);
                // SAFETY: forwarded; each iovec lies in the view's readable memory.
                let m = unsafe {
                    self.cursor.iovecs(&self.plan, &mut iov, self.iov_max);
                    ep.write(&iov)
                };
                self.iov = iov;
                m
            } else {
                let len = self.cursor.unit_len(&self.plan);
                if !self.staged {
                    // SAFETY: forwarded; the stage holds at least one unit.
                    unsafe { self.cursor.gather(&self.plan, &mut self.stage)? };
                    self.staged = true;
                }
                let rest = &self.stage[self.cursor.in_unit..len];
                let iov = [libc::iovec { iov_base: rest.as_ptr() as *mut _, iov_len: rest.len() }];
                // SAFETY: the iovec is the stage's unsent bytes.
                unsafe { ep.write(&iov) }
            };
            match moved {
                Ok(Moved::Bytes(n)) => {
                    let before = self.cursor.unit_start;
                    self.cursor.advance(&self.plan, n);
                    if self.cursor.unit_start != before {
                        self.staged = false;
                    }
                }
                Ok(Moved::Again | Moved::End) => self.again(ep, wait)?,
                Err(libc::EINTR) => {}
                Err(e) => return Err(self.os_error(call, e, ep)),
            }
        }
        Ok(())
    }

    /// # Safety
    /// As for [`Transfer::step`].
    unsafe fn read_loop(&mut self, ep: &mut dyn Endpoint, wait: bool) -> Result<()> {
        let call = if self.plan.direct() { "readv" } else { "read" };
        while !self.is_finished() {
            let len = self.cursor.unit_len(&self.plan);
            let moved = if self.plan.direct() {
                let mut iov = std::mem::take(&mut self.iov);
                // SAFETY: forwarded; each iovec lies in the view's writable memory.
                let m = unsafe {
                    self.cursor.iovecs(&self.plan, &mut iov, self.iov_max);
                    ep.read(&iov)
                };
                self.iov = iov;
                m
            } else {
                let rest = &mut self.stage[self.cursor.in_unit..len];
                let iov = [libc::iovec { iov_base: rest.as_mut_ptr().cast(), iov_len: rest.len() }];
                // SAFETY: the iovec is the stage's unfilled bytes.
                unsafe { ep.read(&iov) }
            };
            match moved {
                Ok(Moved::Bytes(n)) if self.plan.direct() => self.cursor.advance(&self.plan, n),
                Ok(Moved::Bytes(n)) => {
                    self.cursor.in_unit += n;
                    if self.cursor.in_unit == len {
                        // SAFETY: forwarded; the stage holds the whole unit.
                        unsafe { self.cursor.scatter(&self.plan, &self.stage, len)? };
                        self.cursor.next_unit(&self.plan);
                    }
                }
                Ok(Moved::End) => {
                    return Err(Error::eof(format_args!(
                        "end of file on {} after {} of {} bytes",
                        ep.describe(),
                        self.done(),
                        self.total()
                    )))
                }
                Ok(Moved::Again) => self.again(ep, wait)?,
                Err(libc::EINTR) => {}
                Err(e) => return Err(self.os_error(call, e, ep)),
            }
        }
        Ok(())
    }
}

/// A call moved nothing: wait for the endpoint (`wait`), or report would-block.
fn again(ep: &mut dyn Endpoint, wait: bool, direction: Direction, done: u64, total: u64) -> Result<()> {
    if !wait {
        let verb = if direction == Direction::Write { "takes" } else { "has" };
        return Err(Error::would_block(format_args!(
            "{} {verb} no more bytes for now: {done} of {total} bytes moved; step the transfer again when it is ready",
            ep.describe()
        )));
    }
    ep.wait(direction).map_err(|e| os_error("poll", e, ep, done, total))
}

fn os_error(call: &str, errno: i32, ep: &dyn Endpoint, done: u64, total: u64) -> Error {
    Error::os(format_args!("{call} on {}", ep.describe()), errno, format_args!("{done} of {total} bytes moved"))
}

/// Check that a read may store into the view: writable, no aliased elements.
pub fn check_destination(side: &Side<'_>, readonly: bool) -> Result<()> {
    if readonly {
        return Err(Error::readonly("the destination view is read-only"));
    }
    crate::copy::check_no_broadcast(&side.geom)
}

/// Write every element of the view to `fd` in `order` (at `offset`, or at the fd's
/// position), blocking until all bytes moved (a non-blocking fd is waited for).
///
/// # Safety
/// The view's elements are readable for the whole call.
pub unsafe fn write_view(fd: RawFd, side: Side<'_>, order: Order, offset: Option<u64>) -> Result<()> {
    let mut t = Transfer::new(side, order, Direction::Write)?;
    // SAFETY: forwarded.
    unsafe { t.step(&mut Fd::new(fd, offset), true) }
}

/// Read exactly the view's bytes from `fd` into its elements in `order` (at `offset`, or
/// at the fd's position). On failure the whole elements that arrived are stored.
///
/// # Safety
/// The view's elements are writable for the whole call, with no aliased elements.
pub unsafe fn read_view(fd: RawFd, side: Side<'_>, order: Order, offset: Option<u64>) -> Result<()> {
    let mut t = Transfer::new(side, order, Direction::Read)?;
    // SAFETY: forwarded.
    unsafe { t.step(&mut Fd::new(fd, offset), true) }
}

/// The 1-D byte view of `bytes` (a single contiguous run).
fn bytes_side(ptr: *mut u8, len: usize, shape: &[isize; 1]) -> Side<'_> {
    let geom = crate::layout::Geometry { len: len as isize, itemsize: 1, shape, strides: None, suboffsets: None };
    Side { ptr, geom }
}

/// Write all of `bytes` to `fd` (at `offset`, or at the fd's position).
pub fn write_all(fd: RawFd, bytes: &[u8], offset: Option<u64>) -> Result<()> {
    let shape = [bytes.len() as isize];
    // SAFETY: the slice is readable for its length.
    unsafe { write_view(fd, bytes_side(bytes.as_ptr() as *mut u8, bytes.len(), &shape), Order::C, offset) }
}

/// Fill all of `buf` from `fd` (at `offset`, or at the fd's position).
pub fn read_exact(fd: RawFd, buf: &mut [u8], offset: Option<u64>) -> Result<()> {
    let shape = [buf.len() as isize];
    // SAFETY: the slice is writable for its length.
    unsafe { read_view(fd, bytes_side(buf.as_mut_ptr(), buf.len(), &shape), Order::C, offset) }
}

#[cfg(test)]
mod tests;
