//! Shared memory and the hand-over of views between processes: `pybuf_share_*`,
//! `pybuf_send_view`, `pybuf_recv_view`.

use std::ffi::{c_char, c_int};
use std::sync::Arc;

use crate::abi::pybuf_buffer;
use crate::copy::Side;
use crate::error::{Error, Result};
use crate::export::{Exporter, Parts};
use crate::layout::Order;
use crate::share::{self, sock::RecvFlags, Layout};

use super::exporter::{parts, pybuf_exporter, pybuf_exporter_desc};
use super::{c_str, checked, deref};

/// Segment flag: lay the segment out as a `.npy` file (the header `np.save` writes, then
/// the data at a 64-byte aligned offset), so that `np.load("/dev/shm/<name>",
/// mmap_mode="r+")` maps the same array; for `pybuf_share_open`, take the layout from
/// that header.
pub const PYBUF_SHARE_NPY: c_int = 1;
/// `pybuf_share_open` flag: map the segment read-only; views are read-only.
pub const PYBUF_SHARE_READONLY: c_int = 2;

/// `pybuf_send_view` flag: the receiver gets read-only views, and an fd open for reading
/// only, so it cannot map the segment writable at all.
pub const PYBUF_SEND_READONLY: c_int = 1;
/// `pybuf_send_view` flag: a view that is not in a shared segment (or has suboffsets) is
/// copied into a new anonymous segment, which is sent; this process keeps no reference
/// to the copy.
pub const PYBUF_SEND_COPY: c_int = 2;

/// `pybuf_recv_view` flag: map read-only whatever the sender allowed.
pub const PYBUF_RECV_READONLY: c_int = 1;
/// `pybuf_recv_view` flag: require the segment sealed against writes (`F_SEAL_WRITE`, see
/// `pybuf_share_seal`): its contents can never change, in any process.
pub const PYBUF_RECV_SEALED: c_int = 2;
/// `pybuf_recv_view` flag: accept a segment that is not sealed against shrinking (a named
/// segment; pybuf's anonymous segments always are). A peer that shrinks such a segment
/// makes this process's accesses past the new end raise `SIGBUS`.
pub const PYBUF_RECV_UNSEALED: c_int = 4;

fn check_flags(flags: c_int, known: c_int, what: &str) -> Result<()> {
    if flags & !known != 0 {
        return Err(Error::argument(format_args!("flags = {flags:#x} has bits unknown to {what}: {:#x}", flags & !known)));
    }
    Ok(())
}

/// The name argument: NULL for an anonymous segment.
///
/// # Safety
/// `name` is NULL or NUL-terminated.
unsafe fn name_of<'a>(name: *const c_char) -> Result<Option<&'a [u8]>> {
    if name.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    unsafe { c_str(name, "name").map(Some) }
}

/// Hand a new exporter handle to the caller.
///
/// # Safety
/// `out` is non-NULL and writable.
unsafe fn give(e: Arc<Exporter>, out: *mut *mut pybuf_exporter) {
    // reach-exempt: reached only with a new segment (memfd or shm_open, then mmap: Miri has none; c_tests/test_share.c).
    // SAFETY: by the caller's contract.
    unsafe { out.write(Arc::into_raw(e) as *mut pybuf_exporter) };
}

fn out_ok(out: *mut *mut pybuf_exporter) -> Result<()> {
    if out.is_null() {
        return Err(Error::null("out is NULL"));
    }
    Ok(())
}

/// The array a description gives for a segment: `buf` must be NULL and suboffsets are
/// refused.
///
/// # Safety
/// `d`'s arrays hold `ndim` entries, its format is NULL or NUL-terminated.
unsafe fn segment_parts(d: &pybuf_exporter_desc) -> Result<Parts<'_>> {
    if !d.buf.is_null() {
        return Err(Error::argument("desc->buf is not NULL: a shared segment's memory is its mapping"));
    }
    if !d.suboffsets.is_null() {
        return Err(Error::suboffsets("desc->suboffsets is not NULL: pointers in shared memory mean nothing to another process"));
    }
    // SAFETY: forwarded.
    unsafe { parts(d) }
}

/// Create a shared segment holding a zero-filled array and an exporter of it.
///
/// `desc` describes the array, as for `pybuf_exporter_new`, with `desc->buf` NULL (the
/// memory is the segment), no suboffsets, `desc->offset` element 0's byte offset from the
/// segment's start, and `desc->len` the segment's size in bytes, or -1 for just large
/// enough (at least one byte). `name` NULL makes an anonymous segment (`memfd_create`),
/// sealed against shrinking and growing at once, so that no process mapping it can be
/// made to `SIGBUS`. A `name` makes a POSIX shared-memory segment (`shm_open`, created
/// exclusively with mode 0600; `/dev/shm/<name>` on Linux) that other processes open by
/// name, Python's `multiprocessing.shared_memory.SharedMemory(name=...)` among them: a
/// leading '/' is added when missing, as Python does. An existing name is
/// PYBUF_STATUS_IO with errno EEXIST. The name stays until `pybuf_share_unlink`.
///
/// `flags`: 0 or PYBUF_SHARE_NPY, which lays the segment out as a `.npy` file: the header
/// `np.save` writes for the array, then the data at its end (a multiple of 64 bytes); the
/// array must be C- or F-contiguous, `desc->offset` 0 and `desc->len` -1. numpy then
/// opens a named segment with `np.load("/dev/shm/<name>", mmap_mode="r+")`.
///
/// The exporter works as any other (views, DLPack, copies); it holds the segment's fd
/// and mapping, released when it (`pybuf_exporter_free`) and its last view are gone. Its
/// views can be handed to another process with `pybuf_send_view`. On failure `*out` is
/// untouched and nothing is left behind (a named segment made here is unlinked again).
///
/// # Safety
/// `name` is NULL or NUL-terminated. `desc` is NULL or points to a valid
/// `pybuf_exporter_desc` (`format` NULL or NUL-terminated, `shape` and `strides` NULL or
/// of `ndim` entries). `out` is NULL or points to a writable `pybuf_exporter *`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_share_new(
    name: *const c_char,
    desc: *const pybuf_exporter_desc,
    flags: c_int,
    out: *mut *mut pybuf_exporter,
) -> c_int {
    super::status(|| {
        check_flags(flags, PYBUF_SHARE_NPY, "pybuf_share_new (PYBUF_SHARE_NPY)")?;
        // SAFETY: a non-NULL desc points to a description by the C contract.
        let d = unsafe { deref(desc, "desc")? };
        out_ok(out)?;
        // SAFETY: as above; name is NULL or NUL-terminated by the C contract.
        let (parts, name) = unsafe { (segment_parts(d)?, name_of(name)?) };
        let e = share::create(name, &Layout { parts, npy: flags & PYBUF_SHARE_NPY != 0 })?;
        // reach-exempt: reached only with a new segment (memfd or shm_open, then mmap: Miri has none; c_tests/test_share.c).
        // SAFETY: out checked non-NULL, writable by the C contract.
        unsafe { give(e, out) };
        Ok(())
    })
}

/// Open an existing named shared segment — made by `pybuf_share_new`, by Python's
/// `SharedMemory(create=True, size=n)` or by any `shm_open` — mapped whole, and an
/// exporter of the array `desc` describes in it: `desc->buf` NULL, no suboffsets,
/// `desc->offset` element 0's offset from the segment's start, `desc->len` ignored (the
/// segment's size is the file's). With PYBUF_SHARE_NPY, `desc` must be NULL and the
/// array is the one the `.npy` header at the segment's start describes (a damaged header
/// is PYBUF_STATUS_INVALID_FILE). PYBUF_SHARE_READONLY maps it read-only.
///
/// An array reaching past the segment is PYBUF_STATUS_LENGTH_MISMATCH; a missing name
/// PYBUF_STATUS_IO (errno ENOENT). The name rules are `pybuf_share_new`'s. Nothing can
/// stop another process from shrinking a named segment: an access past its new end then
/// raises `SIGBUS`. On failure `*out` is untouched and nothing stays open or mapped.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `desc` NULL or as for `pybuf_share_new`; `out` NULL
/// or writable. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_share_open(
    name: *const c_char,
    desc: *const pybuf_exporter_desc,
    flags: c_int,
    out: *mut *mut pybuf_exporter,
) -> c_int {
    super::status(|| {
        check_flags(flags, PYBUF_SHARE_NPY | PYBUF_SHARE_READONLY, "pybuf_share_open")?;
        // SAFETY: NULL or NUL-terminated by the C contract.
        let name = unsafe { name_of(name)? }.ok_or_else(|| Error::null("name is NULL"))?;
        out_ok(out)?;
        let npy = flags & PYBUF_SHARE_NPY != 0;
        if npy && !desc.is_null() {
            return Err(Error::argument("desc is not NULL with PYBUF_SHARE_NPY: the .npy header describes the array"));
        }
        // SAFETY: a non-NULL desc points to a description by the C contract.
        let d = if desc.is_null() { None } else { Some(unsafe { &*desc }) };
        // SAFETY: as above.
        let parts = d.map(|d| unsafe { segment_parts(d) }).transpose()?;
        let e = share::open(name, parts.as_ref(), flags & PYBUF_SHARE_READONLY != 0, npy)?;
        // reach-exempt: reached only with an opened segment (shm_open, mmap: Miri has neither; c_tests/test_share.c).
        // SAFETY: out checked non-NULL, writable by the C contract.
        unsafe { give(e, out) };
        Ok(())
    })
}

/// Create a shared segment holding a copy of `view`'s elements, laid out in `order`
/// ('C', 'F', or 'A': Fortran when the view is F-contiguous and not C-contiguous, else C),
/// and an exporter of it with `view`'s format, itemsize and shape. `name` and `flags`
/// (PYBUF_SHARE_NPY) as for `pybuf_share_new`. Any view is copied — strided, negative
/// strides, suboffsets — by the copy engine.
///
/// # Safety
/// `view` is NULL or a valid view whose elements are readable; `name` NULL or
/// NUL-terminated; `out` NULL or writable. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_share_copy(
    view: *const pybuf_buffer,
    order: c_char,
    name: *const c_char,
    flags: c_int,
    out: *mut *mut pybuf_exporter,
) -> c_int {
    super::status(|| {
        check_flags(flags, PYBUF_SHARE_NPY, "pybuf_share_copy (PYBUF_SHARE_NPY)")?;
        let mut implied = [0; 1];
        // SAFETY: a valid view by the C contract.
        let (v, format) = unsafe { checked(view, &mut implied)? };
        let order = Order::from_char(order as u8)?;
        out_ok(out)?;
        // SAFETY: NULL or NUL-terminated by the C contract.
        let name = unsafe { name_of(name)? };
        // SAFETY: the view's elements are readable by the C contract.
        let e = unsafe { share::copy(Side { ptr: v.buf, geom: v.geom }, format, order, name, flags & PYBUF_SHARE_NPY != 0)? };
        // reach-exempt: reached only with a new segment (memfd or shm_open, then mmap: Miri has none; c_tests/test_share.c).
        // SAFETY: out checked non-NULL, writable by the C contract.
        unsafe { give(e, out) };
        Ok(())
    })
}

/// Seal the contents of `e`'s anonymous segment against writes for good (`F_SEAL_WRITE`):
/// from then on no process can change them, and a receiver can insist on it
/// (PYBUF_RECV_SEALED). Refused with PYBUF_STATUS_EXPORTS_EXIST while a view of `e` is
/// alive (this process's mapping becomes read-only in place), with PYBUF_STATUS_IO
/// (errno EBUSY) while another process maps the segment writable, and with
/// PYBUF_STATUS_INVALID_ARGUMENT for a named segment, which Linux cannot seal. Afterwards
/// `e`'s views are read-only. Sealing a sealed segment does nothing.
///
/// # Safety
/// `e` is NULL or a live exporter handle. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_share_seal(e: *mut pybuf_exporter) -> c_int {
    super::status(|| {
        // SAFETY: a live handle is an `Arc<Exporter>` pointer from `Arc::into_raw`.
        let e = unsafe { deref(e.cast::<Exporter>().cast_const(), "exporter")? };
        share::seal(e)
    })
}

/// The fd of `e`'s shared segment, in `*fd`: borrowed, valid while `e` lives; do not
/// close it. PYBUF_STATUS_NOT_SHARED when `e` does not export a shared segment.
///
/// # Safety
/// `e` is NULL or a live exporter handle; `fd` NULL or writable. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_share_fd(e: *mut pybuf_exporter, fd: *mut c_int) -> c_int {
    super::status(|| {
        // SAFETY: a live handle is an `Arc<Exporter>` pointer from `Arc::into_raw`.
        let e = unsafe { deref(e.cast::<Exporter>().cast_const(), "exporter")? };
        if fd.is_null() {
            return Err(Error::null("fd is NULL"));
        }
        let seg = share::segment_of(e).ok_or_else(|| Error::not_shared("the exporter's memory is not a shared segment"))?;
        // reach-exempt: reached only with a segment's exporter (memfd or shm_open, then mmap: Miri has none).
        // SAFETY: checked non-NULL, writable by the C contract.
        unsafe { fd.write(seg.fd()) };
        Ok(())
    })
}

/// Remove the shared-memory name `name` (`shm_unlink`; the name rules are
/// `pybuf_share_new`'s). Processes that map the segment keep it until they unmap it.
///
/// # Safety
/// `name` is NULL or NUL-terminated. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_share_unlink(name: *const c_char) -> c_int {
    super::status(|| {
        // SAFETY: NULL or NUL-terminated by the C contract.
        let name = unsafe { name_of(name)? }.ok_or_else(|| Error::null("name is NULL"))?;
        share::unlink(name)
    })
}

/// Hand `view` to the process at the other end of the Unix-domain socket `sock`, in
/// constant time: one message with the view's description (its offset in its segment,
/// format, itemsize, shape, strides, read-only flag) and the segment's fd (`SCM_RIGHTS`).
///
/// `view` is any view whose bytes all lie in one shared segment of this process: made
/// by `pybuf_share_new`, `pybuf_share_open` or `pybuf_share_copy`, or received by
/// `pybuf_recv_view` (so views can be forwarded), filled by pybuf or by anyone else
/// (numpy, Cython), derived views included — a transposed or sliced view arrives
/// transposed or sliced. An empty view has no bytes to share: when its `buf` lies outside
/// every segment (an empty slice with a negative step starts before element 0) it goes
/// with a new one-byte segment. Any other view is PYBUF_STATUS_NOT_SHARED, and a view with
/// suboffsets PYBUF_STATUS_INVALID_SUBOFFSETS, unless `flags` has PYBUF_SEND_COPY, which
/// sends a copy in a new anonymous segment instead.
///
/// The receiver's view is read-only when `view->readonly` is 1, `flags` has
/// PYBUF_SEND_READONLY, or the segment is mapped read-only here; the fd sent is then open
/// for reading only. `sock` may be `SOCK_STREAM`, `SOCK_SEQPACKET` or `SOCK_DGRAM`
/// (connected), blocking or non-blocking: PYBUF_STATUS_WOULD_BLOCK means nothing was sent
/// (send again when the socket is writable). A message is at most 32,768 bytes, so a
/// format longer than about 31,000 bytes is PYBUF_STATUS_UNREPRESENTABLE. Never raises
/// `SIGPIPE`: a closed peer is PYBUF_STATUS_IO with errno EPIPE.
///
/// # Safety
/// `view` is NULL or a valid view. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_send_view(sock: c_int, view: *const pybuf_buffer, flags: c_int) -> c_int {
    super::status(|| {
        check_flags(flags, PYBUF_SEND_READONLY | PYBUF_SEND_COPY, "pybuf_send_view")?;
        let mut implied = [0; 1];
        // SAFETY: a valid view by the C contract.
        let (v, format) = unsafe { checked(view, &mut implied)? };
        let readonly = v.readonly || flags & PYBUF_SEND_READONLY != 0;
        let first = share::sock::send(sock, v.buf, &v.geom, format, readonly);
        match first {
            Err(e) if flags & PYBUF_SEND_COPY != 0 && matches!(e.status(), crate::Status::NotShared | crate::Status::InvalidSuboffsets) => {
                // reach-exempt: makes a new segment (memfd_create, mmap: Miri has neither; c_tests/test_share.c).
                // SAFETY: the view's elements are readable by the C contract.
                let copy = unsafe { share::copy(Side { ptr: v.buf, geom: v.geom }, format, Order::C, None, false)? };
                let seg = share::segment_of(&copy).ok_or_else(|| Error::internal("a copy without a segment"))?;
                let g = crate::layout::Geometry { strides: None, suboffsets: None, ..v.geom };
                share::sock::send(sock, seg.as_ptr().wrapping_offset(copy.offset()), &g, format, readonly)
            }
            other => other,
        }
    })
}

/// Receive one view from the process at the other end of the Unix-domain socket `sock`
/// (sent by `pybuf_send_view`) and make `*out` a new exporter describing exactly that
/// view (format, itemsize, shape, strides, read-only); `pybuf_exporter_get_buffer` gives
/// its views. The segment is mapped whole, shared: writes through writable views are seen
/// by every process that maps it. The exporter holds the segment's fd and mapping until it
/// (`pybuf_exporter_free`) and its last view are gone, however long the sender lives.
///
/// Nothing in the message is trusted: before anything is mapped, the message is decoded
/// strictly, exactly one fd must have come with it, the fd must be a regular file (a memfd
/// or a shared-memory name), the view must lie within the file's size (`fstat`), a writable
/// view needs an fd open for writing, and the segment must be sealed against shrinking
/// unless `flags` has PYBUF_RECV_UNSEALED (needed for named segments, which cannot be
/// sealed), and against writes when `flags` has PYBUF_RECV_SEALED. A refused message is
/// PYBUF_STATUS_INVALID_MESSAGE (PYBUF_STATUS_UNSUPPORTED_VERSION for another version of
/// the message) with every fd it carried closed. PYBUF_RECV_READONLY maps read-only.
///
/// A non-blocking socket with no message is PYBUF_STATUS_WOULD_BLOCK (nothing consumed);
/// a peer that closed the socket PYBUF_STATUS_END_OF_FILE. On a stream socket a message
/// whose start arrived is read to its end (waiting on a blocking socket; on a
/// non-blocking one it must be there, as a pybuf sender writes it in one call); after a
/// refused message a stream is not known to be at a message boundary: close it.
///
/// # Safety
/// `out` is NULL or points to a writable `pybuf_exporter *`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_recv_view(sock: c_int, flags: c_int, out: *mut *mut pybuf_exporter) -> c_int {
    super::status(|| {
        check_flags(flags, PYBUF_RECV_READONLY | PYBUF_RECV_SEALED | PYBUF_RECV_UNSEALED, "pybuf_recv_view")?;
        out_ok(out)?;
        let f = RecvFlags {
            readonly: flags & PYBUF_RECV_READONLY != 0,
            sealed: flags & PYBUF_RECV_SEALED != 0,
            unsealed: flags & PYBUF_RECV_UNSEALED != 0,
        };
        let e = share::sock::recv(sock, f)?;
        // reach-exempt: reached only after recvmsg, which Miri lacks (c_tests/test_share.c, c_tests/test_share_hostile.c).
        // SAFETY: out checked non-NULL, writable by the C contract.
        unsafe { give(e, out) };
        Ok(())
    })
}
