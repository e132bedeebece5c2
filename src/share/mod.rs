//! Shared memory: exporters whose memory is a shared segment, and the hand-over of views
//! of such segments to another process over a Unix-domain socket.
//!
//! - A [`Segment`] is a shared-memory file (an anonymous `memfd`, or a POSIX `shm_open`
//!   name as Python's `multiprocessing.shared_memory` uses) mapped whole, `MAP_SHARED`.
//!   It keeps its fd (to hand it over) and is registered by address while it is mapped,
//!   so that any view whose bytes lie in it — a pybuf view, a derived view, a view numpy
//!   or Cython filled — can be found again by [`find`] and sent.
//! - [`create`] makes a new segment sized for a layout (optionally laid out as a `.npy`
//!   file), [`open`] an existing named one, [`copy`] a segment holding a copy of any view;
//!   each returns an exporter that holds the segment: unmapped and closed when the
//!   exporter and its last view are gone.
//! - [`seal`] freezes an anonymous segment's contents (`F_SEAL_WRITE`).
//! - [`sock`]: [`sock::send`] and [`sock::recv`], the hand-over itself; [`wire`]: its
//!   message.
//!
//! Anonymous segments are sealed against shrinking and growing when they are made
//! (`F_SEAL_SHRINK | F_SEAL_GROW`): no process that maps one can ever be made to
//! `SIGBUS` by a shorter file. Named segments cannot be sealed (Linux allows seals only
//! on `memfd`s): whoever can open the name can shrink it.

pub mod sock;
// The message's constants are Rust's own: the header documents the wire format in prose.
/// cbindgen:ignore
pub mod wire;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::copy::Side;
use crate::error::{Error, Result};
use crate::export::{Description, Exporter, Parts};
use crate::layout::{self, Order, MAX_NDIM};
use crate::npy::header;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// What kind of file a segment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `memfd` made here, sealed against shrinking and growing.
    Anonymous,
    /// A POSIX shared-memory name made or opened here.
    Named,
    /// An fd received from another process.
    Received,
}

/// A shared-memory file mapped whole: unregistered, unmapped and closed when dropped.
#[derive(Debug)]
pub struct Segment {
    fd: OwnedFd,
    /// A read-only fd of the same file, opened the first time a read-only hand-over
    /// needs one.
    readonly_fd: OnceLock<OwnedFd>,
    /// The mapping's address; NULL-free and never dereferenced when `len` is 0.
    ptr: *mut u8,
    len: usize,
    /// Whether the mapping is writable (false once sealed).
    writable: AtomicBool,
    kind: Kind,
}

// SAFETY: a Segment owns its fd and mapping; it reads or writes the mapped memory only in
// `seal` (an mmap call, under the exporter's description lock) and in `create` before
// anyone else can see it. Views reach the memory through raw pointers, as for any
// exporter.
unsafe impl Send for Segment {}
// SAFETY: as above; shared access reads plain fields, an atomic and a OnceLock.
unsafe impl Sync for Segment {}

impl Segment {
    /// Map the whole file open as `fd` (`len` bytes, its size) and register the mapping.
    fn map(fd: OwnedFd, len: u64, writable: bool, kind: Kind) -> Result<Arc<Segment>> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or_else(|| Error::overflow(format_args!("a segment of {len} bytes is too large to map")))?;
        let ptr = if len == 0 {
            std::ptr::NonNull::<u64>::dangling().as_ptr().cast()
        } else {
            let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
            // SAFETY: a new shared mapping of `len` bytes of a file that has `len` bytes
            // (its size from fstat, or set by ftruncate just before); it is unmapped in
            // Drop and reached only through raw pointers.
            // reach-exempt: mmap of a shared-memory file, which Miri cannot do (src/share/tests.rs, c_tests/test_share.c).
            let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
            if p == libc::MAP_FAILED {
                return Err(Error::os("mmap", errno(), format_args!("{len} bytes of shared memory (fd {})", fd.as_raw_fd())));
            }
            p.cast::<u8>()
        };
        let segment =
            Arc::new(Segment { fd, readonly_fd: OnceLock::new(), ptr, len, writable: AtomicBool::new(writable), kind });
        if len > 0 {
            registry().insert(ptr as usize, (len, Arc::downgrade(&segment)));
        }
        Ok(segment)
    }

    /// The mapping's first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The segment's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The segment's fd (borrowed).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether the mapping is writable.
    pub fn writable(&self) -> bool {
        self.writable.load(Ordering::Acquire)
    }

    /// An fd to hand over: the segment's own, or for a read-only hand-over one open for
    /// reading only (so the receiver cannot map it writable at all).
    fn fd_for(&self, readonly: bool) -> Result<RawFd> {
        if !readonly || fd_access(self.fd())? == libc::O_RDONLY {
            return Ok(self.fd());
        }
        if let Some(fd) = self.readonly_fd.get() {
            return Ok(fd.as_raw_fd());
        }
        let path = CString::new(format!("/proc/self/fd/{}", self.fd())).map_err(|_| Error::internal("fd path"))?;
        // reach-exempt: open of /proc/self/fd, which Miri's isolation refuses (read-only hand-overs: c_tests/test_share.c).
        // SAFETY: a NUL-terminated path; open has no other memory effects.
        let raw = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(Error::os(
                "open",
                errno(),
                format_args!("{}: a read-only hand-over reopens the segment read-only through /proc", path.to_string_lossy()),
            ));
        }
        // reach-exempt: the fd just opened through /proc above (Miri's isolation refuses that open).
        // SAFETY: `raw` is a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Another thread may have won the race: its fd is kept and ours closed.
        Ok(self.readonly_fd.get_or_init(|| fd).as_raw_fd())
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        {
            let mut r = registry();
            // Remove our entry only (a later segment cannot be at this address while we
            // are still mapped, but stay exact).
            if r.get(&(self.ptr as usize)).is_some_and(|(_, w)| std::ptr::eq(w.as_ptr(), self)) {
                r.remove(&(self.ptr as usize));
            }
        }
        // reach-exempt: munmap of a segment, which Miri cannot map (src/share/tests.rs).
        // SAFETY: the mapping made in `map`, unmapped once; no view can be alive (they
        // hold the exporter, which holds this segment).
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

type Registry = BTreeMap<usize, (usize, Weak<Segment>)>;

/// Mapped segments by start address.
fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static REGISTRY: Mutex<Registry> = Mutex::new(BTreeMap::new());
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The live segment of this process whose mapping holds every byte of `[lo, hi)` (for an
/// empty range, the address `lo`), if any.
pub fn find(lo: usize, hi: usize) -> Option<Arc<Segment>> {
    let r = registry();
    let (&start, (len, weak)) = r.range(..=lo).next_back()?;
    // start <= lo; a registered mapping's end fits in the address space.
    let end = start.checked_add(*len)?;
    let inside = if hi > lo { hi <= end } else { lo <= end };
    if !inside {
        return None;
    }
    weak.upgrade()
}

/// An fd's status flags (`F_GETFL`).
fn fd_flags(fd: RawFd) -> Result<i32> {
    // reach-exempt: F_GETFL of a segment's fd or a receiving socket: Miri has no memfd, shm_open or recvmsg.
    // SAFETY: F_GETFL has no memory effects.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return Err(Error::os("fcntl(F_GETFL)", errno(), format_args!("fd {fd}")));
    }
    Ok(fl)
}

/// The access mode of an fd (`O_RDONLY`, `O_WRONLY` or `O_RDWR`).
fn fd_access(fd: RawFd) -> Result<i32> {
    Ok(fd_flags(fd)? & libc::O_ACCMODE)
}

/// The seals of the file open as `fd` (0 when it cannot carry seals).
fn seals(fd: RawFd) -> Result<i32> {
    // reach-exempt: F_GET_SEALS of a segment's or a received fd: Miri has no memfd or recvmsg (src/share/tests.rs).
    // SAFETY: F_GET_SEALS has no memory effects.
    let s = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
    if s >= 0 {
        return Ok(s);
    }
    match errno() {
        libc::EINVAL => Ok(0),
        e => Err(Error::os("fcntl(F_GET_SEALS)", e, format_args!("fd {fd}"))),
    }
}

/// A POSIX shared-memory name as Python's `multiprocessing.shared_memory` spells it: a
/// leading "/" is added when missing.
pub fn shm_name(name: &[u8]) -> Result<CString> {
    let mut full = Vec::with_capacity(name.len().saturating_add(1));
    if name.first() != Some(&b'/') {
        full.push(b'/');
    }
    full.extend_from_slice(name);
    if full.len() < 2 || full[1..].contains(&b'/') {
        return Err(Error::argument(format_args!(
            "shared-memory name \"{}\" must be a non-empty name without '/' (a leading '/' is allowed)",
            String::from_utf8_lossy(name)
        )));
    }
    if full.len() > 255 {
        return Err(Error::argument(format_args!("shared-memory name of {} bytes is longer than 255", full.len())));
    }
    CString::new(full).map_err(|_| Error::argument("shared-memory name contains a NUL byte"))
}

fn size_file(fd: &OwnedFd, len: u64) -> Result<()> {
    let off = libc::off_t::try_from(len).map_err(|_| Error::overflow(format_args!("a segment of {len} bytes")))?;
    // reach-exempt: ftruncate of a shared-memory file, which Miri cannot make (src/share/tests.rs).
    // SAFETY: ftruncate has no memory effects.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), off) } != 0 {
        return Err(Error::os("ftruncate", errno(), format_args!("sizing a shared segment to {len} bytes")));
    }
    Ok(())
}

/// A new anonymous segment of `len` bytes, sealed against shrinking and growing.
fn new_anonymous(len: u64) -> Result<Arc<Segment>> {
    // reach-exempt: memfd_create, which Miri lacks (src/share/tests.rs, c_tests/test_share.c).
    // SAFETY: a NUL-terminated name; memfd_create has no other memory effects.
    let raw = unsafe { libc::memfd_create(c"pybuf".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if raw < 0 {
        return Err(Error::os("memfd_create", errno(), ""));
    }
    // reach-exempt: the fd memfd_create gave (Miri lacks memfd_create).
    // SAFETY: a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    size_file(&fd, len)?;
    // reach-exempt: F_ADD_SEALS, which Miri lacks (src/share/tests.rs).
    // SAFETY: F_ADD_SEALS has no memory effects.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK | libc::F_SEAL_GROW) } != 0 {
        return Err(Error::os("fcntl(F_ADD_SEALS)", errno(), "sealing a new segment against shrinking"));
    }
    Segment::map(fd, len, true, Kind::Anonymous)
}

/// A new named segment of `len` bytes, created exclusively (mode 0600); unlinked again
/// if anything after its creation fails.
fn new_named(name: &CString, len: u64) -> Result<Arc<Segment>> {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC;
    // reach-exempt: shm_open, which Miri lacks (c_tests/test_share.c, test_share.py).
    // SAFETY: a NUL-terminated name; shm_open has no other memory effects.
    let raw = unsafe { libc::shm_open(name.as_ptr(), flags, 0o600) };
    if raw < 0 {
        return Err(Error::os("shm_open", errno(), format_args!("creating {}", name.to_string_lossy())));
    }
    // reach-exempt: the fd shm_open gave (Miri lacks shm_open).
    // SAFETY: a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let made = size_file(&fd, len).and_then(|()| Segment::map(fd, len, true, Kind::Named));
    if made.is_err() {
        // reach-exempt: shm_unlink, which Miri lacks (c_tests/test_share.c).
        // SAFETY: a NUL-terminated name: the segment we just created.
        unsafe { libc::shm_unlink(name.as_ptr()) };
    }
    made
}

/// Remove a shared-memory name (`shm_unlink`); mapped segments stay until unmapped.
pub fn unlink(name: &[u8]) -> Result<()> {
    let name = shm_name(name)?;
    // reach-exempt: shm_unlink, which Miri lacks (c_tests/test_share.c).
    // SAFETY: a NUL-terminated name.
    if unsafe { libc::shm_unlink(name.as_ptr()) } != 0 {
        return Err(Error::os("shm_unlink", errno(), name.to_string_lossy()));
    }
    Ok(())
}

/// How a new segment is laid out.
#[derive(Clone, Copy, Debug)]
pub struct Layout<'a> {
    /// The array: `base` is ignored; `size` is the segment's size, or -1 for just
    /// enough; `offset` is element 0's offset (from the data's start with `npy`).
    pub parts: Parts<'a>,
    /// Lay the segment out as a `.npy` file: the header `np.save` writes, then the data.
    pub npy: bool,
}

/// The description of a layout's array in memory as large as can be (nothing is
/// touched): its format, geometry and extent checked once, before any segment is made.
fn probe(p: &Parts<'_>) -> Result<Description> {
    Description::new(&Parts { base: std::ptr::NonNull::<u64>::dangling().as_ptr().cast(), size: isize::MAX, ..*p })
}

/// A new segment holding a zero-filled array of `layout` (see [`Layout`]), anonymous when
/// `name` is `None`, and its exporter. A `.npy` layout needs a C- or F-contiguous array
/// at offset 0 with the size left to pybuf. Every segment has at least one byte.
pub fn create(name: Option<&[u8]>, layout: &Layout<'_>) -> Result<Arc<Exporter>> {
    let name = name.map(shm_name).transpose()?;
    let p = layout.parts;
    if p.suboffsets.is_some() {
        return Err(Error::suboffsets("a shared segment cannot have suboffsets: its pointers would mean nothing to another process"));
    }
    let array = probe(&p)?;
    let head = if layout.npy {
        if p.offset != 0 || p.size != -1 {
            return Err(Error::argument(format_args!(
                "a .npy-layout segment needs offset 0 (got {}) and len -1 (got {}): the header decides where the data goes",
                p.offset, p.size
            )));
        }
        let g = array.geometry();
        header::write(p.format.unwrap_or(b"B"), g.itemsize, p.shape, npy_fortran_order(&g)?)?
    } else {
        Vec::new()
    };
    let size = match p.size {
        -1 => (head.len() as u64).saturating_add(array.end() as u64).max(1),
        n if n < 0 => return Err(Error::argument(format_args!("len = {n} is negative (-1 sizes the segment for the array)"))),
        n => n as u64,
    };
    let segment = match &name {
        None => new_anonymous(size)?,
        Some(n) => new_named(n, size)?,
    };
    if !head.is_empty() {
        // reach-exempt: writes into a new segment's mapping (memfd or shm_open, then mmap: Miri has none).
        // SAFETY: the mapping is writable, holds `size >= head.len()` bytes, and no one
        // else can see it yet (a named segment's other openers see zeros or the header).
        unsafe { std::ptr::copy_nonoverlapping(head.as_ptr(), segment.as_ptr(), head.len()) };
    }
    let offset = isize::try_from(head.len()).map_err(|_| Error::overflow("header"))?.saturating_add(p.offset);
    exporter(segment, Parts { offset, ..p }).inspect_err(|_| {
        if let Some(n) = &name {
            // reach-exempt: shm_unlink, which Miri lacks (c_tests/test_share.c).
            // SAFETY: a NUL-terminated name: the segment created above.
            unsafe { libc::shm_unlink(n.as_ptr()) };
        }
    })
}

/// Whether a `.npy`-layout array is written in Fortran order: it must be C- or
/// F-contiguous (C when it is both).
fn npy_fortran_order(g: &layout::Geometry<'_>) -> Result<bool> {
    if g.is_contiguous(Order::C) {
        Ok(false)
    } else if g.is_contiguous(Order::F) {
        Ok(true)
    } else {
        Err(Error::strides("a .npy-layout segment holds a C- or F-contiguous array: these strides are neither"))
    }
}

/// An exporter of the array `p` in `segment` (`p.base` and `p.size` are the segment's).
fn exporter(segment: Arc<Segment>, p: Parts<'_>) -> Result<Arc<Exporter>> {
    let size = isize::try_from(segment.len()).map_err(|_| Error::overflow("segment size"))?;
    let parts = Parts { base: segment.as_ptr(), size, readonly: p.readonly || !segment.writable(), ..p };
    let description = Description::new(&parts)?;
    Ok(Exporter::holding(description, Box::new(segment)))
}

/// Open the named segment `name` (made by pybuf or by Python's `SharedMemory`), mapped
/// whole (read-only with `readonly`), with the array `p` in it (`p.base`/`p.size`
/// ignored, `p.offset` from the segment's start); or, with `npy`, the array the `.npy`
/// header at its start describes (`p` unused).
pub fn open(name: &[u8], p: Option<&Parts<'_>>, readonly: bool, npy: bool) -> Result<Arc<Exporter>> {
    let name = shm_name(name)?;
    let mode = if readonly { libc::O_RDONLY } else { libc::O_RDWR };
    // reach-exempt: shm_open, which Miri lacks (c_tests/test_share.c, test_share.py).
    // SAFETY: a NUL-terminated name; shm_open has no other memory effects.
    let raw = unsafe { libc::shm_open(name.as_ptr(), mode | libc::O_CLOEXEC, 0) };
    if raw < 0 {
        return Err(Error::os("shm_open", errno(), format_args!("opening {}", name.to_string_lossy())));
    }
    // reach-exempt: the fd shm_open gave (Miri lacks shm_open).
    // SAFETY: a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let size = crate::map::file_size(fd.as_raw_fd())?;
    let segment = Segment::map(fd, size, !readonly, Kind::Named)?;
    if npy {
        npy_exporter(segment, readonly)
    } else {
        let p = p.ok_or_else(|| Error::null("desc is NULL: describe the array in the segment, or ask for its .npy header"))?;
        if p.suboffsets.is_some() {
            return Err(Error::suboffsets("a shared segment cannot have suboffsets"));
        }
        exporter(segment, *p)
    }
}

/// The exporter of the array a `.npy` header at the segment's start describes.
fn npy_exporter(segment: Arc<Segment>, readonly: bool) -> Result<Arc<Exporter>> {
    // The longest header the parser takes: a 12-byte prefix and the limit's characters
    // at up to four bytes each (version 3.0). Copied out: views may write the segment.
    let longest = header::MAX_HEADER_SIZE.saturating_mul(4).saturating_add(12);
    let mut head = vec![0u8; segment.len().min(longest)];
    read(&segment, 0, &mut head);
    let h = header::parse(&head)?;
    let need = (h.data_offset as u64).saturating_add(h.data_len as u64);
    if need > segment.len() as u64 {
        return Err(Error::invalid_file(format_args!(
            "the .npy header promises {} bytes of data after {} bytes of header, but the segment has {} bytes",
            h.data_len,
            h.data_offset,
            segment.len()
        )));
    }
    let mut sbuf = [0isize; MAX_NDIM];
    let parts = Parts { offset: h.data_offset as isize, ..crate::npy::parts_of(&h, &mut sbuf, readonly) };
    exporter(segment, parts)
}

/// Copy `out.len()` bytes of the segment from `at` (bounded by the caller).
fn read(segment: &Segment, at: usize, out: &mut [u8]) {
    debug_assert!(at.saturating_add(out.len()) <= segment.len());
    if !out.is_empty() {
        // reach-exempt: reads a segment's mapping (memfd or shm_open, then mmap: Miri has none).
        // SAFETY: [at, at + out.len()) lies in the mapping (callers bound it by its len),
        // which is readable; `out` is a distinct buffer.
        unsafe { std::ptr::copy_nonoverlapping(segment.as_ptr().add(at), out.as_mut_ptr(), out.len()) };
    }
}

/// A new segment (anonymous when `name` is `None`) holding a copy of `src`'s elements in
/// `order` ('A': F when `src` is F-contiguous and not C-contiguous, else C), as a `.npy`
/// file with `npy`; `format` is `src`'s.
///
/// # Safety
/// Every element of `src` (following suboffsets) is readable.
pub unsafe fn copy(src: Side<'_>, format: &[u8], order: Order, name: Option<&[u8]>, npy: bool) -> Result<Arc<Exporter>> {
    let g = &src.geom;
    let order = match order {
        Order::Any if g.is_contiguous(Order::F) && !g.is_contiguous(Order::C) => Order::F,
        Order::Any => Order::C,
        o => o,
    };
    let mut sbuf = [0isize; MAX_NDIM];
    let n = g.ndim();
    layout::contiguous_strides_of_valid(g.shape, g.itemsize, order, &mut sbuf[..n]);
    let parts = Parts {
        base: std::ptr::null_mut(),
        size: -1,
        offset: 0,
        readonly: false,
        format: Some(format),
        itemsize: g.itemsize,
        shape: g.shape,
        strides: Some(&sbuf[..n]),
        suboffsets: None,
    };
    let e = create(name, &Layout { parts, npy })?;
    let seg = segment_of(&e).ok_or_else(|| Error::internal("a new segment's exporter holds no segment"))?;
    let offset = e.offset();
    let dst = layout::Geometry { strides: Some(&sbuf[..n]), suboffsets: None, ..*g };
    // SAFETY: element 0 lies `offset` bytes into the writable mapping, which holds the
    // whole array (the exporter's description was checked); `src` is readable by the
    // caller's contract, and a new segment cannot overlap it.
    // reach-exempt: copies into a new segment's mapping (memfd or shm_open, then mmap: Miri has none).
    let copied = unsafe { crate::copy::copy(Side { ptr: seg.as_ptr().offset(offset), geom: dst }, src) };
    if let Err(err) = copied {
        if let Some(n) = name {
            unlink(n).ok();
        }
        return Err(err);
    }
    Ok(e)
}

/// The segment an exporter holds, if it is a shared segment's.
pub fn segment_of(e: &Exporter) -> Option<&Arc<Segment>> {
    e.kept::<Arc<Segment>>()
}

/// Seal an anonymous segment's contents against writes for good (`F_SEAL_WRITE`):
/// refused while a view of `e` is alive. The mapping is made read-only in place first
/// (the seal needs no writable mapping of the file to exist, in any process), and `e`'s
/// views are read-only from then on.
pub fn seal(e: &Exporter) -> Result<()> {
    let seg = segment_of(e).ok_or_else(|| Error::not_shared("the exporter's memory is not a shared segment"))?;
    if seg.kind() == Kind::Named {
        return Err(Error::argument("a named segment cannot be sealed (Linux seals only anonymous memfd segments)"));
    }
    if seals(seg.fd())? & libc::F_SEAL_WRITE != 0 {
        return Ok(());
    }
    e.replace_with(|d| {
        if !seg.is_empty() && seg.writable() {
            remap(seg, false)?;
        }
        // reach-exempt: F_ADD_SEALS, which Miri lacks (src/share/tests.rs).
        // SAFETY: F_ADD_SEALS has no memory effects.
        if unsafe { libc::fcntl(seg.fd(), libc::F_ADD_SEALS, libc::F_SEAL_WRITE) } != 0 {
            let e = errno();
            if !seg.is_empty() && seg.writable() {
                remap(seg, true)?;
            }
            let why = match e {
                libc::EBUSY => ": another process still maps it writable",
                libc::EPERM => ": the segment is sealed against new seals",
                _ => "",
            };
            return Err(Error::os("fcntl(F_ADD_SEALS, F_SEAL_WRITE)", e, format_args!("sealing the segment{why}")));
        }
        seg.writable.store(false, Ordering::Release);
        Ok(d.with_readonly())
    })
}

/// Replace the segment's mapping in place by one with (or without) write access.
fn remap(seg: &Segment, writable: bool) -> Result<()> {
    let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
    // A read-only mapping through a read-only fd: a shared mapping of an fd open for
    // writing could be made writable again (mprotect), and the kernel counts it as
    // writable when asked for F_SEAL_WRITE.
    let fd = seg.fd_for(!writable)?;
    // SAFETY: MAP_FIXED over exactly our own mapping (same address, length, file and
    // offset): no other memory is touched, and no view is alive (the caller holds the
    // exporter's description lock with no exports).
    // reach-exempt: mmap of a shared-memory file, which Miri cannot do (src/share/tests.rs).
    let p = unsafe { libc::mmap(seg.as_ptr().cast(), seg.len(), prot, libc::MAP_SHARED | libc::MAP_FIXED, fd, 0) };
    if p == libc::MAP_FAILED {
        return Err(Error::os("mmap", errno(), "remapping the segment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
