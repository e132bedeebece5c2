//! Memory-mapped files: a region of a file as the memory of an exporter.
//!
//! The Rust API, for the C functions `pybuf_map_fd` / `pybuf_map_path` and for the file
//! formats (`.npy`, `.npz`) that load by mapping:
//!
//! - [`map_fd`]`(fd, offset, len, mode)` maps the bytes `[offset, offset + len)` of a
//!   regular file. The region is checked against the file's size **before** mapping
//!   (`fstat`), so that a short file is an error ([`Status::InvalidFile`](crate::error::Status::InvalidFile)) and never a
//!   `SIGBUS` on first touch; `offset` need not be page-aligned (the mapping starts at the
//!   page boundary below it and [`Mapping::as_ptr`] points at `offset`); an empty region
//!   maps nothing (its pointer is an aligned, non-NULL address that must not be
//!   dereferenced). The fd is not kept: the caller may close it right away.
//! - [`map_path`] opens a file (read-only, or read-write for [`Mode::Shared`]), maps it
//!   and closes it again.
//! - [`exporter`]`(mapping, &parts)` makes an exporter whose memory is the mapping:
//!   `parts` describes the array in it as for [`Description::new`], with `base` and `size`
//!   taken from the mapping (those of `parts` are ignored) and `offset` the byte offset of
//!   element 0 from the region's start. Views are read-only when the mode is
//!   [`Mode::ReadOnly`] or `parts.readonly` is set. The exporter holds the mapping
//!   ([`Exporter::holding`]); it is unmapped when the exporter and its last view are gone.
//!   On failure the mapping is unmapped before the error returns.
//! - [`sync`] (or [`Mapping::sync`]) flushes a shared mapping's writes to the file
//!   (`msync(MS_SYNC)`).
//!
//! Modes: [`Mode::ReadOnly`] (`PROT_READ`, views read-only), [`Mode::Shared`]
//! (`MAP_SHARED` with `PROT_WRITE`: writes reach the file; the fd must be open for reading
//! and writing), [`Mode::Private`] (`MAP_PRIVATE`, copy-on-write: writes stay in this
//! process; the fd may be read-only).
//!
//! What no check can prevent: a file truncated by someone else after it was mapped makes
//! an access past its new end raise `SIGBUS`, as with any mapping.

use std::ffi::c_int;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::export::{Description, Exporter, Parts};

/// How a file is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read-only: views are read-only.
    ReadOnly,
    /// Shared and writable (`MAP_SHARED`): writes reach the file ([`sync`] flushes them).
    Shared,
    /// Private, copy-on-write (`MAP_PRIVATE`): writes stay in this process.
    Private,
}

impl Mode {
    /// The mode for a C `PYBUF_MAP_*` value (0 read-only, 1 shared, 2 private).
    pub fn from_c(mode: c_int) -> Result<Mode> {
        match mode {
            0 => Ok(Mode::ReadOnly),
            1 => Ok(Mode::Shared),
            2 => Ok(Mode::Private),
            m => Err(Error::argument(format_args!(
                "mode = {m} is not PYBUF_MAP_READONLY (0), PYBUF_MAP_SHARED (1) or PYBUF_MAP_PRIVATE (2)"
            ))),
        }
    }

    /// Whether views of such a mapping may be writable.
    pub fn writable(self) -> bool {
        self != Mode::ReadOnly
    }
}

enum Map {
    /// An empty region: nothing is mapped.
    Empty,
    ReadOnly(memmap2::Mmap),
    /// A `MmapRaw`, not a `MmapMut`: its address comes from the mapping itself, not from a
    /// `&[u8]` of it (the address `MmapMut` gives through `Deref` is only good for reads,
    /// and views write through it).
    Writable(memmap2::MmapRaw),
}

/// A mapped region of a file: unmapped when dropped.
pub struct Mapping {
    map: Map,
    mode: Mode,
    /// The region's offset in the file.
    offset: u64,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("ptr", &self.as_ptr())
            .field("len", &self.len())
            .field("mode", &self.mode)
            .field("offset", &self.offset)
            .finish()
    }
}

/// An aligned address for the memory of an empty region (never dereferenced).
#[repr(align(64))]
struct Aligned;

impl Mapping {
    /// The address of the region's first byte (of `offset` in the file). Writable through
    /// this pointer unless the mode is read-only.
    pub fn as_ptr(&self) -> *mut u8 {
        match &self.map {
            Map::Empty => std::ptr::NonNull::<Aligned>::dangling().as_ptr().cast(),
            Map::ReadOnly(m) => m.as_ptr() as *mut u8,
            // The mapping's own address (no reference to its bytes is made): views write
            // through it.
            Map::Writable(m) => m.as_mut_ptr(),
        }
    }

    /// The region's length in bytes.
    pub fn len(&self) -> usize {
        match &self.map {
            Map::Empty => 0,
            Map::ReadOnly(m) => m.len(),
            Map::Writable(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The region's offset in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Copy `out.len()` bytes of the region from `at` into `out` (to read a header
    /// without holding a reference into memory that views may write).
    pub fn read_at(&self, at: usize, out: &mut [u8]) -> Result<()> {
        let end = at.checked_add(out.len()).filter(|&e| e <= self.len()).ok_or_else(|| {
            Error::length(format_args!(
                "bytes [{at}, {at} + {}) are outside the {}-byte mapped region",
                out.len(),
                self.len()
            ))
        })?;
        if end > at {
            // SAFETY: [at, end) lies within the mapped region (checked above), which is
            // readable in every mode; `out` is a distinct, writable buffer.
            unsafe { std::ptr::copy_nonoverlapping(self.as_ptr().add(at), out.as_mut_ptr(), out.len()) };
        }
        Ok(())
    }

    /// Flush the writes of a shared mapping to the file (`msync(MS_SYNC)`); nothing to do
    /// for a read-only or private mapping (whose writes never reach the file) or an empty
    /// one.
    pub fn sync(&self) -> Result<()> {
        match (&self.map, self.mode) {
            (Map::Writable(m), Mode::Shared) => m.flush().map_err(|e| {
                Error::os("msync", e.raw_os_error().unwrap_or(libc::EIO), format_args!("{} mapped bytes", m.len()))
            }),
            _ => Ok(()),
        }
    }
}

/// The size of the regular file open as `fd`, or an error naming `fd`.
pub fn file_size(fd: RawFd) -> Result<u64> {
    // reach-exempt: the stat buffer of fstat, which Miri's isolation refuses (src/map/tests.rs).
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // reach-exempt: fstat, which Miri's isolation refuses (src/map/tests.rs, c_tests/test_map.c).
    // SAFETY: fstat writes only into `st`; an invalid fd is an error (EBADF), not UB.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
        return Err(Error::os("fstat", errno, format_args!("fd {fd}")));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Error::argument(format_args!(
            "fd {fd} is not a regular file (st_mode {:o}): only regular files are mapped",
            st.st_mode
        )));
    }
    Ok(st.st_size as u64)
}

/// Map the bytes `[offset, offset + len)` of the regular file open as `fd` (see the module
/// documentation). `len` `None` maps from `offset` to the end of the file.
pub fn map_fd(fd: RawFd, offset: u64, len: Option<u64>, mode: Mode) -> Result<Mapping> {
    let size = file_size(fd)?;
    let len = match len {
        Some(n) => n,
        None => size.checked_sub(offset).ok_or_else(|| {
            Error::invalid_file(format_args!("offset {offset} is past the end of the {size}-byte file (fd {fd})"))
        })?,
    };
    let end = offset
        .checked_add(len)
        .ok_or_else(|| Error::overflow(format_args!("offset {offset} + length {len} overflows")))?;
    if end > size {
        return Err(Error::invalid_file(format_args!(
            "the region [{offset}, {end}) to map lies past the end of the {size}-byte file (fd {fd})"
        )));
    }
    if len > isize::MAX as u64 || usize::try_from(len).is_err() {
        return Err(Error::overflow(format_args!("a region of {len} bytes is too large to map")));
    }
    if len == 0 {
        return Ok(Mapping { map: Map::Empty, mode, offset });
    }
    let mut options = memmap2::MmapOptions::new();
    options.offset(offset).len(len as usize);
    // SAFETY: the region lies within the file as it is now (checked above); the mapping is
    // reached only through raw pointers (views, `read_at`), never as a Rust slice that
    // another process's write to the file could invalidate.
    // reach-exempt: mmap of a file, which Miri cannot do (src/map/tests.rs, c_tests/test_map.c).
    let mapped = unsafe {
        match mode {
            Mode::ReadOnly => options.map(fd).map(Map::ReadOnly),
            Mode::Shared => options.map_mut(fd).map(|m| Map::Writable(m.into())),
            Mode::Private => options.map_copy(fd).map(|m| Map::Writable(m.into())),
        }
    };
    let map = mapped.map_err(|e| {
        let errno = e.raw_os_error().unwrap_or(libc::EIO);
        let hint = match (errno, mode) {
            (libc::EACCES, Mode::Shared) => ": a shared writable mapping needs an fd open for reading and writing",
            (libc::EACCES, _) => ": the fd is not open for reading",
            _ => "",
        };
        Error::os("mmap", errno, format_args!("fd {fd}, bytes [{offset}, {end}){hint}"))
    })?;
    Ok(Mapping { map, mode, offset })
}

/// Open `path` (read-only, or read-write for [`Mode::Shared`]), map `[offset, offset +
/// len)` of it as [`map_fd`] does, and close it (the mapping stays).
pub fn map_path(path: &Path, offset: u64, len: Option<u64>, mode: Mode) -> Result<Mapping> {
    let file = std::fs::OpenOptions::new().read(true).write(mode == Mode::Shared).open(path).map_err(|e| {
        Error::os("open", e.raw_os_error().unwrap_or(libc::EIO), format_args!("{}", path.display()))
    })?;
    map_fd(file.as_raw_fd(), offset, len, mode)
}

/// An exporter whose memory is `mapping` (see the module documentation): `parts.base`
/// and `parts.size` are replaced by the mapping's, `parts.offset` is element 0's offset
/// from the region's start, and suboffsets are refused (a pointer in a file is
/// meaningless). The mapping is unmapped on failure, and otherwise when the exporter and
/// its last view are gone.
pub fn exporter(mapping: Mapping, parts: &Parts<'_>) -> Result<Arc<Exporter>> {
    if parts.suboffsets.is_some() {
        return Err(Error::suboffsets("a mapped file cannot have suboffsets: its bytes hold no valid pointers"));
    }
    let size = isize::try_from(mapping.len()).map_err(|_| Error::overflow("the mapped region is too large"))?;
    let parts = Parts {
        base: mapping.as_ptr(),
        size,
        readonly: parts.readonly || !mapping.mode.writable(),
        ..*parts
    };
    let description = Description::new(&parts)?;
    Ok(Exporter::holding(description, Box::new(mapping)))
}

/// Flush the writes of the shared mapping that `e` exports (see [`Mapping::sync`]); an
/// exporter that holds no mapping is refused with
/// [`Status::InvalidArgument`](crate::error::Status::InvalidArgument).
pub fn sync(e: &Exporter) -> Result<()> {
    e.kept::<Mapping>()
        .ok_or_else(|| Error::argument("the exporter's memory is not a mapped file (made by pybuf_map_fd or pybuf_map_path)"))?
        .sync()
}

#[cfg(test)]
pub(crate) mod tests;
