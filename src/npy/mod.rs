//! `.npy` files (NumPy's format, versions 1.0, 2.0 and 3.0) without Python.
//!
//! - [`write_fd`] / [`save`]: any view — strided, transposed, negative strides,
//!   suboffsets, structured, non-native byte order, 0-d, empty — as the file `np.save`
//!   writes for the same array, byte for byte: the header from [`header::write`], then the
//!   elements in C order (Fortran order when the view is F-contiguous and not C-contiguous,
//!   with `fortran_order` True), written straight from the view's memory by the scatter/
//!   gather writer, without a copy of the array.
//! - [`load_fd`] / [`load_path`]: an exporter of the file's array. A regular file is
//!   mapped (read-only, shared writable, or private copy-on-write), after its size is
//!   checked against the header; any other fd (a pipe, a socket) is read into memory the
//!   exporter owns. The views have the header's shape, C or Fortran strides, and the
//!   format from its `descr`.
//! - [`read_fd`] / [`read_path`]: the data of a file read into an existing view of any
//!   strides, whose shape, item size and format agree with the header (nothing is
//!   converted).
//!
//! An fd is read from its current position (a `.npy` file may follow other data, and
//! several may follow each other in a stream); afterwards its position is just past the
//! array's data.

pub mod header;

use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use crate::copy::Side;
use crate::error::{Error, Result, Status};
use crate::export::{Description, Exporter, Parts};
use crate::format::Format;
use crate::layout::{self, Order, MAX_NDIM};
use crate::io;
use crate::map::{self, Mode};

pub use header::Header;

/// How [`load_fd`] and [`load_path`] give the memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// Read-only views (a read-only mapping for a regular file).
    ReadOnly,
    /// Writable views whose writes reach the file (a shared mapping). A stream cannot be
    /// written back: refused for anything but a regular file.
    Writable,
    /// Writable views whose writes stay in this process (a private, copy-on-write mapping,
    /// or memory read from a stream).
    Private,
}

impl LoadMode {
    /// The mode for a C `PYBUF_NPY_*` value (0 read-only, 1 writable, 2 private).
    pub fn from_c(flags: std::ffi::c_int) -> Result<LoadMode> {
        match flags {
            0 => Ok(LoadMode::ReadOnly),
            1 => Ok(LoadMode::Writable),
            2 => Ok(LoadMode::Private),
            f => Err(Error::argument(format_args!(
                "flags = {f} is not PYBUF_NPY_READONLY (0), PYBUF_NPY_WRITABLE (1) or PYBUF_NPY_PRIVATE (2)"
            ))),
        }
    }

    fn map_mode(self) -> Mode {
        match self {
            LoadMode::ReadOnly => Mode::ReadOnly,
            LoadMode::Writable => Mode::Shared,
            LoadMode::Private => Mode::Private,
        }
    }
}

/// Whether a view is saved with `fortran_order` True: F-contiguous and not C-contiguous
/// (NumPy's `header_data_from_array_1_0`), and the order its elements are written in.
pub fn save_order(side: &Side<'_>) -> Order {
    let g = &side.geom;
    if g.is_contiguous(Order::F) && !g.is_contiguous(Order::C) {
        Order::F
    } else {
        Order::C
    }
}

/// The header `np.save` writes for the view `side` with items of `format`.
pub fn header_for(side: &Side<'_>, format: &[u8]) -> Result<Vec<u8>> {
    header::write(format, side.geom.itemsize, side.geom.shape, save_order(side) == Order::F)
}

/// Write `side` (items of `format`) to `fd` as a `.npy` file, at the fd's position.
///
/// # Safety
/// Every element of `side` (following suboffsets) is readable.
pub unsafe fn write_fd(fd: RawFd, side: Side<'_>, format: &[u8]) -> Result<()> {
    let head = header_for(&side, format)?;
    io::write_all(fd, &head, None)?;
    // SAFETY: forwarded.
    unsafe { io::write_view(fd, side, save_order(&side), None) }
}

/// Save `side` as the `.npy` file `path` (created, or truncated), as `np.save` does. The
/// header is made before the file is opened: a view that cannot be saved leaves no file.
///
/// # Safety
/// As for [`write_fd`].
pub unsafe fn save(path: &Path, side: Side<'_>, format: &[u8]) -> Result<()> {
    let head = header_for(&side, format)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::os("open", e.raw_os_error().unwrap_or(libc::EIO), path.display()))?;
    let fd = file.as_raw_fd();
    io::write_all(fd, &head, None)?;
    // reach-exempt: writes to a file, which Miri's isolation forbids (src/npy/tests.rs, c_tests/test_npy.c).
    // SAFETY: forwarded.
    unsafe { io::write_view(fd, side, save_order(&side), None) }?;
    // Close explicitly: a failed close (NFS, quotas) is a failed save.
    let fd = std::os::fd::IntoRawFd::into_raw_fd(file);
    // reach-exempt: closes a file, which Miri's isolation forbids opening (src/npy/tests.rs).
    // SAFETY: the fd is ours (taken from the File) and closed once.
    if unsafe { libc::close(fd) } != 0 {
        return Err(Error::os("close", errno(), path.display()));
    }
    Ok(())
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Where a header was read from: a regular file (the array at `pos`) or a stream.
#[derive(Clone, Copy, Debug)]
enum Source {
    File { pos: u64 },
    Stream,
}

/// The fd's position and size if it is a regular file.
fn regular_file(fd: RawFd) -> Result<Option<(u64, u64)>> {
    if cfg!(miri) {
        // Miri's isolation refuses fstat, and no test can open a file there: every fd
        // under Miri is a pipe or a socket, a stream.
        return Ok(None);
    }
    // reach-exempt: the stat buffer of fstat, which Miri's isolation refuses (skipped above).
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // reach-exempt: fstat, which Miri's isolation refuses (skipped above).
    // SAFETY: fstat writes only into `st`; a bad fd is EBADF.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(Error::os("fstat", errno(), format_args!("fd {fd}")));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(None);
    }
    // reach-exempt: lseek of a regular file, which Miri's isolation forbids (src/npy/tests.rs).
    // SAFETY: lseek has no memory effects.
    let pos = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    if pos < 0 {
        return Err(Error::os("lseek", errno(), format_args!("fd {fd}")));
    }
    Ok(Some((pos as u64, st.st_size as u64)))
}

/// An end of file inside a `.npy` file is a damaged (short) file.
fn short(e: Error, what: &str) -> Error {
    if e.status() == Status::EndOfFile {
        Error::invalid_file(format_args!("not a valid .npy file: it ends inside {what} ({})", e.message()))
    } else {
        e
    }
}

/// Read and parse the header at the fd's position.
fn read_header(fd: RawFd) -> Result<(Header, Source)> {
    match regular_file(fd)? {
        Some((pos, size)) => {
            let left = size.saturating_sub(pos);
            // One read for the usual header (128 bytes; at most 4 KiB), a second for a
            // longer one.
            const FIRST: u64 = 4096;
            let mut head = vec![0u8; usize::try_from(left.min(FIRST)).unwrap_or(0)];
            io::read_exact(fd, &mut head, Some(pos)).map_err(|e| short(e, "the header"))?;
            let total = header::total_len(&head, header::MAX_HEADER_SIZE)?;
            if total > head.len() {
                // The header is bounded (total_len checks the limit): read what the file has of it.
                let have = usize::try_from(left.min(total as u64)).unwrap_or(total);
                let done = head.len();
                head.resize(have, 0);
                io::read_exact(fd, &mut head[done..], Some(pos.saturating_add(done as u64))).map_err(|e| short(e, "the header"))?;
            }
            let h = header::parse(&head)?;
            let need = (h.data_offset as u64).saturating_add(h.data_len as u64);
            if need > left {
                return Err(Error::invalid_file(format_args!(
                    "not a valid .npy file: the header promises {} bytes of data after {} bytes of header, but the file has {} bytes from the array's start",
                    h.data_len, h.data_offset, left
                )));
            }
            Ok((h, Source::File { pos }))
        }
        None => {
            let mut head = vec![0u8; header::MAGIC_LEN];
            io::read_exact(fd, &mut head, None).map_err(|e| short(e, "the magic and version"))?;
            let plen = header::prefix_len(&head)?;
            head.resize(plen, 0);
            io::read_exact(fd, &mut head[header::MAGIC_LEN..], None).map_err(|e| short(e, "the header length"))?;
            let total = header::total_len(&head, header::MAX_HEADER_SIZE)?;
            head.resize(total, 0);
            io::read_exact(fd, &mut head[plen..], None).map_err(|e| short(e, "the header"))?;
            Ok((header::parse(&head)?, Source::Stream))
        }
    }
}

/// The strides of the header's data: C, or Fortran when `fortran_order`.
fn data_strides(h: &Header, out: &mut [isize; MAX_NDIM]) -> usize {
    let n = h.shape.len();
    let order = if h.fortran_order { Order::F } else { Order::C };
    layout::contiguous_strides_of_valid(&h.shape, h.itemsize, order, &mut out[..n]);
    n
}

/// The parts of an exporter of the header's array at offset 0 (base, size and offset to
/// be filled in by the caller), with `sbuf` holding its strides.
pub fn parts_of<'a>(h: &'a Header, sbuf: &'a mut [isize; MAX_NDIM], readonly: bool) -> Parts<'a> {
    let n = data_strides(h, sbuf);
    Parts {
        base: std::ptr::null_mut(),
        size: 0,
        offset: 0,
        readonly,
        format: Some(h.format.as_bytes()),
        itemsize: h.itemsize,
        shape: &h.shape,
        strides: Some(&sbuf[..n]),
        suboffsets: None,
    }
}

/// Memory a loaded array owns, 64-byte aligned as a mapped file's data is.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// Load the `.npy` file at the fd's position as an exporter (see the module
/// documentation). The fd is not kept: the caller may close it at once.
pub fn load_fd(fd: RawFd, mode: LoadMode) -> Result<Arc<Exporter>> {
    // Refused before a byte of a stream is read.
    if mode == LoadMode::Writable && regular_file(fd)?.is_none() {
        return Err(Error::argument(format_args!(
            "fd {fd} is not a regular file: PYBUF_NPY_WRITABLE needs a file that writes can reach (use PYBUF_NPY_PRIVATE)"
        )));
    }
    let (h, source) = read_header(fd)?;
    let mut sbuf = [0isize; MAX_NDIM];
    let parts = parts_of(&h, &mut sbuf, mode == LoadMode::ReadOnly);
    match source {
        Source::File { pos, .. } => {
            let start = pos.saturating_add(h.data_offset as u64);
            let mapping = map::map_fd(fd, start, Some(h.data_len as u64), mode.map_mode())?;
            let e = map::exporter(mapping, &parts)?;
            seek(fd, start.saturating_add(h.data_len as u64))?;
            Ok(e)
        }
        Source::Stream => {
            let len = h.data_len as usize;
            let lines = len.div_ceil(64).max(1);
            let mut mem = crate::alloc::try_vec(lines, Line([0; 64]), "the array's data")?;
            let base = mem.as_mut_ptr().cast::<u8>();
            // SAFETY: `mem` holds at least `len` writable bytes at `base`.
            let bytes = unsafe { std::slice::from_raw_parts_mut(base, len) };
            io::read_exact(fd, bytes, None).map_err(|e| short(e, "the data"))?;
            let description = Description::new(&Parts { base, size: len as isize, ..parts })?;
            // The Vec's heap data does not move when the Vec does.
            Ok(Exporter::holding(description, Box::new(mem)))
        }
    }
}

fn seek(fd: RawFd, to: u64) -> Result<()> {
    // reach-exempt: lseek of a regular file, which Miri's isolation forbids (src/npy/tests.rs).
    // SAFETY: lseek has no memory effects.
    if unsafe { libc::lseek(fd, to as libc::off_t, libc::SEEK_SET) } < 0 {
        return Err(Error::os("lseek", errno(), format_args!("fd {fd}")));
    }
    Ok(())
}

fn open(path: &Path, write: bool) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .open(path)
        .map_err(|e| Error::os("open", e.raw_os_error().unwrap_or(libc::EIO), path.display()))
}

/// Load the `.npy` file `path` as an exporter ([`load_fd`]); the file is closed before
/// this returns (the mapping stays).
pub fn load_path(path: &Path, mode: LoadMode) -> Result<Arc<Exporter>> {
    let file = open(path, mode == LoadMode::Writable)?;
    load_fd(file.as_raw_fd(), mode)
}

/// Read the data of the `.npy` file at the fd's position into the elements of `side`,
/// whose shape and item size must equal the header's and whose format (`format`) must
/// read the same values (`"<d"` and `"d"` agree on little-endian machines).
///
/// # Safety
/// Every element of `side` (following suboffsets) is writable.
pub unsafe fn read_fd(fd: RawFd, side: Side<'_>, format: &[u8]) -> Result<()> {
    crate::copy::check_no_broadcast(&side.geom)?;
    let (h, source) = read_header(fd)?;
    if side.geom.shape != h.shape.as_slice() {
        return Err(Error::mismatch(format_args!(
            "the view has shape {:?} but the file's array has shape {:?}",
            side.geom.shape, h.shape
        )));
    }
    let mine = Format::parse(format)?;
    let theirs = Format::parse(h.format.as_bytes())?;
    if let Err(m) = mine.check_view(side.geom.itemsize, &theirs) {
        return Err(Error::new(
            Status::FormatMismatch,
            format_args!(
                "the view's format \"{}\" (itemsize {}) does not read the file's \"{}\": {m}",
                String::from_utf8_lossy(format),
                side.geom.itemsize,
                h.format
            ),
        ));
    }
    let order = if h.fortran_order { Order::F } else { Order::C };
    match source {
        Source::File { pos, .. } => {
            let start = pos.saturating_add(h.data_offset as u64);
            // reach-exempt: preadv of a regular file, which Miri's isolation forbids (src/npy/tests.rs).
            // SAFETY: forwarded.
            unsafe { io::read_view(fd, side, order, Some(start)) }.map_err(|e| short(e, "the data"))?;
            seek(fd, start.saturating_add(h.data_len as u64))
        }
        // SAFETY: forwarded.
        Source::Stream => unsafe { io::read_view(fd, side, order, None) }.map_err(|e| short(e, "the data")),
    }
}

/// [`read_fd`] from the file `path`.
///
/// # Safety
/// As for [`read_fd`].
pub unsafe fn read_path(path: &Path, side: Side<'_>, format: &[u8]) -> Result<()> {
    let file = open(path, false)?;
    // reach-exempt: reads a file, which Miri's isolation forbids opening (src/npy/tests.rs, c_tests/test_npy.c).
    // SAFETY: forwarded.
    unsafe { read_fd(file.as_raw_fd(), side, format) }
}

#[cfg(test)]
mod tests;
