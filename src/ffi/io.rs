//! A view's elements to and from file descriptors: blocking calls and resumable
//! transfers (`pybuf_io`) for non-blocking fds.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int};

use crate::abi::pybuf_buffer;
use crate::copy::Side;
use crate::error::{Error, Result};
use crate::io::{self, Direction, Fd, Transfer};
use crate::layout::Order;

use super::deref;

/// `pybuf_io_new` direction: from the view's memory to the fd.
pub const PYBUF_IO_WRITE: c_int = 0;
/// `pybuf_io_new` direction: from the fd into the view's memory.
pub const PYBUF_IO_READ: c_int = 1;

/// A resumable transfer of a view's elements to or from a file descriptor: opaque. Made by
/// `pybuf_io_new`, moved by `pybuf_io_step`, freed by `pybuf_io_free`.
pub struct pybuf_io {
    transfer: Transfer,
    fd: Fd,
}

fn check_fd(fd: c_int) -> Result<()> {
    if fd < 0 {
        return Err(Error::argument(format_args!("fd = {fd} is negative")));
    }
    // SAFETY: F_GETFD has no preconditions; it only reports whether fd is open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EBADF);
        return Err(Error::os(format_args!("fd {fd}"), errno, "not an open file descriptor"));
    }
    Ok(())
}

fn check_offset(offset: i64) -> Result<u64> {
    u64::try_from(offset).map_err(|_| Error::argument(format_args!("offset = {offset} is negative")))
}

/// Check the arguments of a transfer and make it.
///
/// # Safety
/// `view` is NULL or a valid view (the C contract of the caller).
unsafe fn transfer(fd: c_int, view: *const pybuf_buffer, order: c_char, direction: Direction) -> Result<Transfer> {
    // SAFETY: a non-NULL view points to a pybuf_buffer by the C contract.
    let v = unsafe { deref(view, "view")? };
    let mut implied = [0; 1];
    // SAFETY: the view's arrays have ndim entries by the C contract.
    let v = unsafe { super::view(v, &mut implied)? };
    let order = Order::from_char(order as u8)?;
    let side = Side { ptr: v.buf, geom: v.geom };
    if direction == Direction::Read {
        io::check_destination(&side, v.readonly)?;
    }
    check_fd(fd)?;
    Transfer::new(side, order, direction)
}

/// # Safety
/// As for the exported functions below.
unsafe fn blocking(fd: c_int, view: *const pybuf_buffer, order: c_char, direction: Direction, offset: Option<u64>) -> c_int {
    super::status(|| {
        // SAFETY: forwarded from the C contract.
        let mut t = unsafe { transfer(fd, view, order, direction)? };
        // SAFETY: the view's memory is valid for the call by the C contract.
        unsafe { t.step(&mut Fd::new(fd, offset), true) }
    })
}

/// Write all `view->len` bytes of the view's elements to `fd`, in `order` ('C' row-major,
/// 'F' column-major, 'A' as the view lies if it is contiguous, else row-major): the bytes
/// `pybuf_to_contiguous` would produce, written without materialising them. Contiguous
/// runs of 512 bytes or more go to `writev` as iovecs; shorter runs are gathered through a
/// 1 MiB staging buffer (for 8 MiB or more, three of them, filled by a second thread while
/// this one writes; at most 3 MiB extra memory whatever the view's size). Sockets are written with `MSG_NOSIGNAL` (a closed peer is `EPIPE`, not
/// `SIGPIPE`); a pipe whose reader is gone raises `SIGPIPE` as `write(2)` does, unless the
/// process ignores it.
///
/// Blocks until every byte is written: `EINTR` is retried, short writes continue where
/// they stopped, and an `O_NONBLOCK` fd is waited for with `poll` (use `pybuf_io_new` to
/// keep an event loop running instead). Returns 0, or a negative status:
/// PYBUF_STATUS_IO (`pybuf_last_errno()` says which error; the message how many bytes were
/// written), PYBUF_STATUS_INVALID_ARGUMENT (a negative fd, a bad order),
/// PYBUF_STATUS_NULL_POINTER, or a malformed view's status.
///
/// # Safety
/// `view` is NULL or a valid view whose memory is readable for every element during the
/// call. Thread-safe (the fd's position is shared as with `write(2)`).
#[no_mangle]
pub unsafe extern "C" fn pybuf_write_fd(fd: c_int, view: *const pybuf_buffer, order: c_char) -> c_int {
    // SAFETY: forwarded from the C contract.
    unsafe { blocking(fd, view, order, Direction::Write, None) }
}

/// Read exactly `view->len` bytes from `fd` into the view's elements, in `order` (as for
/// `pybuf_write_fd`): contiguous runs by `readv` straight into the view, short runs
/// through staging buffers (a second thread storing one while this one reads the next,
/// as `pybuf_write_fd` gathers). Blocks until done, as `pybuf_write_fd`.
///
/// End of file before `view->len` bytes is PYBUF_STATUS_END_OF_FILE, and the message says
/// how many bytes arrived. On any failure the elements that arrived whole are stored and
/// the elements after the one that arrived in part are untouched; that element keeps its
/// old bytes when it goes through the staging buffer, and has the bytes that arrived when
/// it lies in a run read in place (runs of 512 bytes or more). A read-only view is
/// PYBUF_STATUS_READ_ONLY and a view with aliased elements (a zero stride)
/// PYBUF_STATUS_INVALID_STRIDES, before any byte is read.
///
/// # Safety
/// `view` is NULL or a valid view whose memory is writable for every element during the
/// call, and does not overlap other memory in use. Thread-safe for distinct views.
#[no_mangle]
pub unsafe extern "C" fn pybuf_read_fd(fd: c_int, view: *const pybuf_buffer, order: c_char) -> c_int {
    // SAFETY: forwarded from the C contract.
    unsafe { blocking(fd, view, order, Direction::Read, None) }
}

/// `pybuf_write_fd` at the file offset `offset` (`pwritev`), leaving the fd's position
/// alone. A negative offset is PYBUF_STATUS_INVALID_ARGUMENT; an fd that cannot seek (a
/// pipe, a socket) is PYBUF_STATUS_IO with `ESPIPE`.
///
/// # Safety
/// As for `pybuf_write_fd`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_pwrite_fd(fd: c_int, view: *const pybuf_buffer, order: c_char, offset: i64) -> c_int {
    match check_offset(offset) {
        // SAFETY: forwarded from the C contract.
        Ok(off) => unsafe { blocking(fd, view, order, Direction::Write, Some(off)) },
        Err(e) => super::status(|| Err(e)),
    }
}

/// `pybuf_read_fd` at the file offset `offset` (`preadv`), leaving the fd's position
/// alone; as `pybuf_pwrite_fd` for the offset.
///
/// # Safety
/// As for `pybuf_read_fd`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_pread_fd(fd: c_int, view: *const pybuf_buffer, order: c_char, offset: i64) -> c_int {
    match check_offset(offset) {
        // SAFETY: forwarded from the C contract.
        Ok(off) => unsafe { blocking(fd, view, order, Direction::Read, Some(off)) },
        Err(e) => super::status(|| Err(e)),
    }
}

/// Make a resumable transfer of the view's elements in `order` to (`PYBUF_IO_WRITE`) or
/// from (`PYBUF_IO_READ`) `fd`, at the fd's position (`offset` -1) or from the file offset
/// `offset` on. Nothing moves until `pybuf_io_step`. The transfer copies the view's
/// shape, strides and suboffsets, not its memory: the memory must stay valid until the
/// transfer is freed. It allocates at most a 1 MiB staging buffer.
///
/// On success `*out` is the transfer (free it with `pybuf_io_free`) and 0 is returned; on
/// failure `*out` is untouched.
///
/// # Safety
/// `view` is NULL or a valid view whose memory stays valid (readable for a write,
/// writable for a read) until `pybuf_io_free`; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pybuf_io_new(
    fd: c_int,
    view: *const pybuf_buffer,
    order: c_char,
    direction: c_int,
    offset: i64,
    out: *mut *mut pybuf_io,
) -> c_int {
    super::status(|| {
        let direction = match direction {
            PYBUF_IO_WRITE => Direction::Write,
            PYBUF_IO_READ => Direction::Read,
            d => return Err(Error::argument(format_args!("direction = {d} is neither PYBUF_IO_WRITE (0) nor PYBUF_IO_READ (1)"))),
        };
        let offset = if offset == -1 { None } else { Some(check_offset(offset).map_err(|_| Error::argument(format_args!("offset = {offset} is negative and not -1 (the fd's position)")))?) };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        // SAFETY: forwarded from the C contract.
        let transfer = unsafe { transfer(fd, view, order, direction)? };
        let io = Box::new(pybuf_io { transfer, fd: Fd::new(fd, offset) });
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { *out = Box::into_raw(io) };
        Ok(())
    })
}

/// Move as many bytes as the fd takes (or has) now, without blocking on an `O_NONBLOCK`
/// fd. Returns 0 when the transfer is finished (every byte moved; stepping a finished
/// transfer returns 0 again), PYBUF_STATUS_WOULD_BLOCK when the fd would block (wait for
/// it to be writable or readable, then step again: nothing is lost), or another negative
/// status on failure (PYBUF_STATUS_IO, PYBUF_STATUS_END_OF_FILE). A failure keeps the
/// transfer's place: stepping again retries from there. On a blocking fd one step moves
/// everything or fails.
///
/// # Safety
/// `io` is NULL or a live transfer, and the view memory it was made with is still valid.
/// Not thread-safe for one transfer (step it from one thread at a time).
#[no_mangle]
pub unsafe extern "C" fn pybuf_io_step(io: *mut pybuf_io) -> c_int {
    super::status(|| {
        // SAFETY: a live transfer from pybuf_io_new, used by one thread (C contract).
        let io = unsafe { io.as_mut() }.ok_or_else(|| Error::null("io is NULL"))?;
        // SAFETY: the view's memory is valid by the C contract.
        unsafe { io.transfer.step(&mut io.fd, false) }
    })
}

/// The bytes a transfer has moved so far (of a read: received from the fd), or -1 if `io`
/// is NULL.
///
/// # Safety
/// `io` is NULL or a live transfer.
#[no_mangle]
pub unsafe extern "C" fn pybuf_io_done(io: *const pybuf_io) -> i64 {
    super::value(-1, || {
        // SAFETY: a live transfer by the C contract.
        let io = unsafe { deref(io, "io")? };
        Ok(io.transfer.done() as i64)
    })
}

/// The bytes a transfer moves in all (`view->len`), or -1 if `io` is NULL.
///
/// # Safety
/// `io` is NULL or a live transfer.
#[no_mangle]
pub unsafe extern "C" fn pybuf_io_total(io: *const pybuf_io) -> i64 {
    super::value(-1, || {
        // SAFETY: a live transfer by the C contract.
        let io = unsafe { deref(io, "io")? };
        Ok(io.transfer.total() as i64)
    })
}

/// Free a transfer (finished or not; the fd is not closed). NULL is ignored. A read
/// transfer freed before it finished (after PYBUF_STATUS_WOULD_BLOCK, to cancel it) first
/// stores the whole elements it has received: every element read whole from the fd is in
/// the view, as after a failure. (Between steps, elements of a unit that goes through the
/// staging buffer wait there: `pybuf_io_done` counts them.)
///
/// # Safety
/// `io` is NULL or a live transfer, not used again; the view memory it was made with is
/// still valid.
#[no_mangle]
pub unsafe extern "C" fn pybuf_io_free(io: *mut pybuf_io) {
    let _ = super::status(|| {
        if !io.is_null() {
            // SAFETY: a live transfer from Box::into_raw in pybuf_io_new, freed once.
            let mut io = unsafe { Box::from_raw(io) };
            // SAFETY: the view's memory is valid by the C contract.
            unsafe { io.transfer.store_received() }?;
        }
        Ok(())
    });
}
