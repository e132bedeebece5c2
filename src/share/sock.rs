//! Handing a view to another process: one message ([`super::wire`]) with the segment's fd
//! (`SCM_RIGHTS`) over a Unix-domain socket, and the receiver that trusts nothing in it.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use super::wire::{self, Message, HEADER, MAX_MESSAGE};
use super::{errno, find, seals, Kind, Segment};
use crate::error::{Error, Result};
use crate::export::Exporter;
use crate::layout::{Geometry, MAX_NDIM};

/// Receive options.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecvFlags {
    /// Map read-only whatever the sender allowed.
    pub readonly: bool,
    /// Require the segment sealed against writes (`F_SEAL_WRITE`).
    pub sealed: bool,
    /// Accept a segment not sealed against shrinking (a named segment, a file).
    pub unsealed: bool,
}

/// The most fds a receiver takes in at once: more is `MSG_CTRUNC`, refused.
const MAX_FDS: usize = 8;

/// Send the view `buf` + `geom` (items of `format`) to the peer of `sock`, with the fd of
/// the segment its bytes lie in; read-only for the receiver with `readonly` (then the fd
/// sent is a read-only one). Nothing is sent on failure; a non-blocking socket that takes
/// nothing now is [`Status::WouldBlock`](crate::Status::WouldBlock).
pub fn send(sock: RawFd, buf: *mut u8, geom: &Geometry<'_>, format: &[u8], readonly: bool) -> Result<()> {
    let (lo, hi) = geom.extent().ok_or_else(|| {
        Error::suboffsets("a view with suboffsets cannot be handed over: its pointers mean nothing to another process (PYBUF_SEND_COPY copies it)")
    })?;
    let (lo, hi) = ((buf as usize).wrapping_add_signed(lo), (buf as usize).wrapping_add_signed(hi));
    let (segment, offset) = match find(lo, hi) {
        Some(s) => {
            let offset = (buf as usize).wrapping_sub(s.as_ptr() as usize) as u64;
            (s, offset)
        }
        // An empty view has no bytes to share, and its `buf` may lie outside its memory
        // (an empty slice with a negative step starts before element 0, as in CPython):
        // it travels with a new one-byte segment, at offset 0.
        None if geom.len == 0 => (super::new_anonymous(1)?, 0),
        None => {
            return Err(Error::not_shared(format_args!(
                "the view's bytes [{lo:#x}, {hi:#x}) are not inside one shared segment of this process (make one with pybuf_share_new or pybuf_share_copy, or send with PYBUF_SEND_COPY)"
            )))
        }
    };
    let mut sbuf = [0isize; MAX_NDIM];
    let strides = geom.strides_or_c(&mut sbuf);
    let readonly = readonly || !segment.writable();
    let message = Message {
        readonly,
        itemsize: geom.itemsize,
        offset,
        shape: geom.shape.to_vec(),
        strides: strides.to_vec(),
        format: format.to_vec(),
    };
    // The receiver would refuse what does not describe a view of this segment.
    message.check(segment.len() as u64)?;
    let bytes = message.encode()?;
    send_message(sock, &bytes, segment.fd_for(readonly)?)
}

/// `sendmsg` with `MSG_NOSIGNAL`, retrying `EINTR`.
fn sendmsg(sock: RawFd, msg: &libc::msghdr) -> std::result::Result<usize, i32> {
    loop {
        // reach-exempt: sendmsg, which Miri lacks (src/share/tests.rs, c_tests/test_share.c).
        // SAFETY: `msg` points to valid iovecs and control data for the call.
        let rc = unsafe { libc::sendmsg(sock, msg, libc::MSG_NOSIGNAL) };
        if rc >= 0 {
            return Ok(rc as usize);
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// A control-message buffer, aligned for `cmsghdr`.
#[repr(C, align(8))]
pub(super) struct Control(pub(super) [u8; 256]);

/// A message of the one buffer `iov` (which must outlive its use), without control data.
fn message(iov: &mut libc::iovec) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg
}

/// A message of `iov` with `fd` attached (one `SCM_RIGHTS` control message written into
/// `control`, which must outlive its use as `iov` must).
pub(super) fn with_fd(iov: &mut libc::iovec, control: &mut Control, fd: RawFd) -> libc::msghdr {
    let fd_len = std::mem::size_of::<RawFd>() as u32;
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(fd_len) } as usize;
    let mut msg = message(iov);
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer holds `space` bytes, enough for one cmsghdr with one fd,
    // and is aligned for cmsghdr; CMSG_FIRSTHDR of it is non-NULL.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(fd_len) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
    }
    msg
}

/// Send `bytes` with `fd` attached to their first byte; the rest of a stream message that
/// went out in part follows (waiting for the socket when it is non-blocking).
fn send_message(sock: RawFd, bytes: &[u8], fd: RawFd) -> Result<()> {
    let mut control = Control([0; 256]);
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    let msg = with_fd(&mut iov, &mut control, fd);
    let sent = sendmsg(sock, &msg).map_err(|e| match e {
        libc::EAGAIN => Error::would_block(format_args!("socket {sock} takes no message now: nothing was sent")),
        e => Error::os("sendmsg", e, format_args!("socket {sock}")),
    })?;
    let mut done = sent;
    while done < bytes.len() {
        // Only a stream sends in part; the fd went with the first byte.
        crate::io::sys::wait(sock, libc::POLLOUT).map_err(|e| Error::os("poll", e, format_args!("socket {sock}")))?;
        let rest = &bytes[done..];
        let mut iov = libc::iovec { iov_base: rest.as_ptr() as *mut libc::c_void, iov_len: rest.len() };
        match sendmsg(sock, &message(&mut iov)) {
            Ok(n) => done = done.saturating_add(n),
            Err(libc::EAGAIN) => continue,
            Err(e) => return Err(Error::os("sendmsg", e, format_args!("socket {sock}, the rest of a message"))),
        }
    }
    Ok(())
}

/// What one `recvmsg` brought: bytes, fds (owned: closed on drop), flags.
struct Got {
    n: usize,
    fds: Vec<OwnedFd>,
    flags: i32,
}

/// A message for `recvmsg` into `iov`, with room for [`MAX_FDS`] fds in `control` (both
/// must outlive its use).
pub(super) fn for_recv(iov: &mut libc::iovec, control: &mut Control) -> libc::msghdr {
    let mut msg = message(iov);
    msg.msg_control = control.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is arithmetic; MAX_FDS fds fit the 256-byte buffer.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) } as _;
    msg
}

/// The fds that the `SCM_RIGHTS` control messages of `msg` carry, now owned (closed on
/// drop); other control messages are skipped.
///
/// # Safety
/// `msg`'s control data are `msg_controllen` bytes of well-formed cmsghdrs, as `recvmsg`
/// writes them, and the fds they carry belong to nothing else.
pub(super) unsafe fn take_fds(msg: &libc::msghdr) -> Vec<OwnedFd> {
    let mut fds = Vec::new();
    // SAFETY: CMSG_FIRSTHDR/NXTHDR stay within the `msg_controllen` bytes of well-formed
    // cmsghdrs (the caller's contract), and each SCM_RIGHTS payload holds
    // (cmsg_len - CMSG_LEN(0)) / 4 fds that are now ours.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let payload = ((*c).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                for k in 0..payload / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(k))));
                }
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    fds
}

/// One `recvmsg` into `buf`, taking in up to [`MAX_FDS`] fds (close-on-exec), retrying
/// `EINTR`.
fn recvmsg(sock: RawFd, buf: &mut [u8]) -> std::result::Result<Got, i32> {
    let mut control = Control([0; 256]);
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut msg = for_recv(&mut iov, &mut control);
    let rc = loop {
        // reach-exempt: recvmsg, which Miri lacks (src/share/tests.rs, c_tests/test_share_hostile.c).
        // SAFETY: `msg` points to `buf` and to the control buffer, both writable for the
        // lengths given.
        let rc = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if rc >= 0 {
            break rc as usize;
        }
        match errno() {
            libc::EINTR => continue,
            e => return Err(e),
        }
    };
    // reach-exempt: reached only after recvmsg, which Miri lacks (take_fds runs under Miri: src/share/tests.rs).
    // SAFETY: the kernel filled `msg_controllen` bytes of the control buffer with
    // well-formed cmsghdrs, and the fds they carry were just made for this process.
    let fds = unsafe { take_fds(&msg) };
    Ok(Got { n: rc, fds, flags: msg.msg_flags })
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::invalid_message(format_args!("hand-over message refused: {what}"))
}

fn sock_type(sock: RawFd) -> Result<i32> {
    let mut ty: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // reach-exempt: getsockopt, which Miri lacks (src/share/tests.rs, c_tests/test_share_hostile.c).
    // SAFETY: getsockopt writes at most `len` bytes into `ty`.
    let rc = unsafe { libc::getsockopt(sock, libc::SOL_SOCKET, libc::SO_TYPE, (&mut ty as *mut libc::c_int).cast(), &mut len) };
    if rc != 0 {
        return Err(Error::os("getsockopt(SO_TYPE)", errno(), format_args!("fd {sock} (a Unix-domain socket is needed)")));
    }
    Ok(ty)
}

/// Read exactly `buf.len()` more bytes of a stream message; fds arriving with them are
/// taken into `fds` (and so refused later). A non-blocking socket must have them now.
fn read_rest(sock: RawFd, buf: &mut [u8], nonblock: bool, fds: &mut Vec<OwnedFd>) -> Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match recvmsg(sock, &mut buf[done..]) {
            Ok(got) => {
                fds.extend(got.fds);
                if got.flags & libc::MSG_CTRUNC != 0 {
                    return Err(bad("control data truncated (more fds than one)"));
                }
                if got.n == 0 {
                    return Err(bad(format_args!("the peer closed the socket {} bytes before the message's end", buf.len() - done)));
                }
                done = done.saturating_add(got.n);
            }
            Err(libc::EAGAIN) if nonblock => {
                return Err(bad(format_args!(
                    "truncated: {} bytes of the message are missing (a pybuf sender writes a message in one call)",
                    buf.len() - done
                )))
            }
            Err(libc::EAGAIN) => {}
            Err(e) => return Err(Error::os("recvmsg", e, format_args!("socket {sock}"))),
        }
    }
    Ok(())
}

/// Receive one message and its fd from `sock`. Everything received is closed on failure.
fn recv_message(sock: RawFd) -> Result<(Vec<u8>, OwnedFd)> {
    let stream = sock_type(sock)? == libc::SOCK_STREAM;
    let nonblock = super::fd_flags(sock)? & libc::O_NONBLOCK != 0;
    // A datagram larger than the limit shows as MSG_TRUNC.
    let mut buf = vec![0u8; if stream { HEADER } else { MAX_MESSAGE }];
    let first = recvmsg(sock, &mut buf).map_err(|e| match e {
        libc::EAGAIN => Error::would_block(format_args!("socket {sock} has no message now")),
        e => Error::os("recvmsg", e, format_args!("socket {sock}")),
    })?;
    let mut fds = first.fds;
    if first.flags & libc::MSG_CTRUNC != 0 {
        return Err(bad(format_args!("control data truncated: more than {MAX_FDS} fds, or other control data")));
    }
    if first.n == 0 && fds.is_empty() {
        return Err(Error::eof(format_args!("the peer closed socket {sock}: no message")));
    }
    if stream {
        if first.n < HEADER {
            read_rest(sock, &mut buf[first.n..], nonblock, &mut fds)?;
        }
        let total = wire::declared_len(&buf)?;
        buf.resize(total, 0);
        read_rest(sock, &mut buf[HEADER..], nonblock, &mut fds)?;
    } else {
        if first.flags & libc::MSG_TRUNC != 0 {
            return Err(bad(format_args!("the message is longer than {MAX_MESSAGE} bytes")));
        }
        buf.truncate(first.n);
    }
    match fds.len() {
        1 => Ok((buf, fds.pop().expect("one fd"))),
        0 => Err(bad("no fd came with the message")),
        n => Err(bad(format_args!("{n} fds came with the message, where one is expected"))),
    }
}

/// Receive one view from the peer of `sock` (see the module documentation): the message
/// is decoded and checked, the fd must be a regular file carrying the seals `flags` ask
/// for, and the view must lie within its size before the segment is mapped whole. A
/// non-blocking socket with no message is [`Status::WouldBlock`](crate::Status::WouldBlock)
/// (nothing consumed); a closed peer [`Status::EndOfFile`](crate::Status::EndOfFile).
pub fn recv(sock: RawFd, flags: RecvFlags) -> Result<Arc<Exporter>> {
    let (bytes, fd) = recv_message(sock)?;
    let message = wire::decode(&bytes)?;
    let size = regular_size(fd.as_raw_fd())?;
    let s = seals(fd.as_raw_fd())?;
    if s & libc::F_SEAL_SHRINK == 0 && !flags.unsealed {
        return Err(bad(
            "the segment is not sealed against shrinking (F_SEAL_SHRINK), so the peer could make this process SIGBUS; a named segment cannot be sealed: accept it with PYBUF_RECV_UNSEALED",
        ));
    }
    if s & libc::F_SEAL_WRITE == 0 && flags.sealed {
        return Err(bad("the segment is not sealed against writes (F_SEAL_WRITE), and PYBUF_RECV_SEALED asks for it"));
    }
    let frozen = s & (libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE) != 0;
    let writable = !message.readonly && !flags.readonly && !frozen;
    if writable && super::fd_access(fd.as_raw_fd())? != libc::O_RDWR {
        return Err(bad("the view is writable but the fd is not open for reading and writing"));
    }
    // Checked against the size before anything is mapped.
    message.check(size)?;
    let segment = Segment::map(fd, size, writable, Kind::Received)?;
    let description = message.describe(segment.as_ptr(), size, !writable)?;
    Ok(Exporter::holding(description, Box::new(segment)))
}

/// The size of a regular file (a memfd or a shared-memory name are regular files).
fn regular_size(fd: RawFd) -> Result<u64> {
    crate::map::file_size(fd).map_err(|e| bad(e.message()))
}

