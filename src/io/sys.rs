//! The system calls of a transfer: vectored reads and writes at the fd's position or at an
//! offset, and waiting for a non-blocking fd to become ready. `EINTR` is returned as an
//! error like any other; the engine retries it (so that tests can inject it).

use std::os::fd::RawFd;

/// What one call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moved {
    /// This many bytes (more than 0).
    Bytes(usize),
    /// The fd would block (`EAGAIN`/`EWOULDBLOCK`): nothing moved.
    Again,
    /// A read reached the end of the file: nothing moved.
    End,
}

/// How a write reaches the fd: `sendmsg` with `MSG_NOSIGNAL` on sockets (a closed peer is
/// `EPIPE`, never a `SIGPIPE`), `writev`/`pwritev` on anything else. Found out by the first
/// write. Under Miri, which has no `sendmsg` (and no `SIGPIPE`), every write is a
/// `writev`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Unknown,
    Socket,
    Other,
}

/// The system's `IOV_MAX` (1024 on Linux; at least 16 by POSIX).
pub fn iov_max() -> usize {
    if cfg!(miri) {
        return 1024; // Miri does not model this sysconf name
    }
    // reach-exempt: sysconf(_SC_IOV_MAX), which Miri does not model (skipped above under Miri).
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_IOV_MAX) };
    if n >= 16 {
        n as usize
    } else {
        16
    }
}

/// The largest byte count one call is asked to move: Linux moves at most 0x7ffff000 bytes
/// per call anyway, and every iovec total must stay below `SSIZE_MAX`.
pub(crate) const MAX_CALL_BYTES: usize = 0x7fff_f000;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn classify(rc: isize, read: bool) -> Result<Moved, i32> {
    match rc {
        n if n > 0 => Ok(Moved::Bytes(n as usize)),
        0 if read => Ok(Moved::End),
        // A write of a non-empty iovec list that moved nothing: treat as would-block so
        // the caller waits and retries rather than spinning.
        0 => Ok(Moved::Again),
        _ => match errno() {
            e if e == libc::EAGAIN || e == libc::EWOULDBLOCK => Ok(Moved::Again),
            e => Err(e),
        },
    }
}

/// Write the iovecs (non-empty, total > 0) at the fd's position or at `offset`. Returns the bytes moved, `Again`, or the `errno` of the failure.
///
/// # Safety
/// Every iovec is readable for its length.
pub unsafe fn write(fd: RawFd, iov: &[libc::iovec], offset: Option<u64>, kind: &mut Kind) -> Result<Moved, i32> {
    let cnt = iov.len() as libc::c_int;
    loop {
        let rc = match offset {
            Some(off) => {
                let off = libc::off_t::try_from(off).map_err(|_| libc::EOVERFLOW)?;
                // reach-exempt: pwritev needs a seekable file, which Miri's isolation forbids (tests/ffi_io.rs).
                // SAFETY: the iovecs are readable by the caller's contract.
                unsafe { libc::pwritev(fd, iov.as_ptr(), cnt, off) }
            }
            None if *kind != Kind::Other && !cfg!(miri) => {
                // reach-exempt: sendmsg, which Miri lacks (skipped under Miri; tests/ffi_io.rs on sockets).
                // SAFETY: a zeroed msghdr is valid; it points at the caller's iovecs,
                // which sendmsg only reads.
                let rc = unsafe {
                    let mut msg: libc::msghdr = std::mem::zeroed();
                    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
                    msg.msg_iovlen = iov.len() as _;
                    libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL)
                };
                if rc < 0 && errno() == libc::ENOTSOCK {
                    *kind = Kind::Other;
                    continue;
                }
                if rc >= 0 {
                    *kind = Kind::Socket;
                }
                rc
            }
            // SAFETY: the iovecs are readable by the caller's contract.
            None => unsafe { libc::writev(fd, iov.as_ptr(), cnt) },
        };
        return classify(rc, false);
    }
}

/// Read into the iovecs (non-empty, total > 0) at the fd's position or at `offset`.
///
/// # Safety
/// Every iovec is writable for its length.
pub unsafe fn read(fd: RawFd, iov: &[libc::iovec], offset: Option<u64>) -> Result<Moved, i32> {
    let cnt = iov.len() as libc::c_int;
    let rc = match offset {
        Some(off) => {
            let off = libc::off_t::try_from(off).map_err(|_| libc::EOVERFLOW)?;
            // reach-exempt: preadv needs a seekable file, which Miri's isolation forbids (tests/ffi_io.rs).
            // SAFETY: the iovecs are writable by the caller's contract.
            unsafe { libc::preadv(fd, iov.as_ptr(), cnt, off) }
        }
        // SAFETY: the iovecs are writable by the caller's contract.
        None => unsafe { libc::readv(fd, iov.as_ptr(), cnt) },
    };
    classify(rc, true)
}

/// Wait until `fd` is ready for `events` (`POLLIN`/`POLLOUT`); retries `EINTR`. An fd in
/// error or hung up counts as ready: the next call reports what happened.
pub fn wait(fd: RawFd, events: libc::c_short) -> Result<(), i32> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    loop {
        // reach-exempt: poll, which Miri lacks (tests/ffi_io.rs: nonblocking_transfers_wait_for_a_slow_peer).
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, -1) };
        if rc >= 0 {
            if p.revents & libc::POLLNVAL != 0 {
                return Err(libc::EBADF);
            }
            return Ok(());
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}
