//! `.npz` archives (`np.savez`, `np.savez_compressed`): ZIP archives of `.npy` files.
//!
//! The ZIP format (central directory, local headers, ZIP64, CRC-32, deflate) is the `zip`
//! crate's; pybuf parses no ZIP structure itself. What this module adds:
//!
//! - [`Archive::open`] / [`Archive::from_file`]: the archive's members ([`Member`]: name,
//!   method, sizes, CRC-32, and where its data starts in the file), each checked when the
//!   archive is opened: its local header read, its data lying within the file, a stored
//!   member's two sizes equal. ZIP64 archives (members over 4 GiB, more than 65535
//!   members) are read as any other.
//! - [`Archive::load`]: a member's array as an exporter. A **stored** member is mapped
//!   where its data lies in the archive, zero-copy, O(1) in its size (its `.npy` header is
//!   read with `pread`, the data region checked against the file's size, then mapped as by
//!   [`crate::map`]); its CRC-32 is not checked (that would read every byte). A
//!   **deflated** member, or any member with `copy`, is read through the `zip` crate
//!   (which checks its CRC-32 at the end) into 64-byte-aligned memory the exporter owns.
//! - Alignment: a stored member's data lies wherever its offset in the archive puts it.
//!   `np.savez` aligns nothing (the local header's name and extra field come first), so
//!   its mapped arrays are often not aligned to their item size; a copy is (64 bytes).
//!   Archives written by [`save`] align stored members' data to 64 bytes.
//! - [`save`]: an archive of named views, stored or deflated, that `np.load` reads.

mod write;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use zip::{CompressionMethod, ZipArchive};

use crate::error::{Error, Result};
use crate::export::{Description, Exporter, Parts};
use crate::layout::MAX_NDIM;
use crate::map::{self, Mode};
use crate::npy::header::{self, Header};

pub use write::{save, write_archive, write_elements, Entry};

/// How a member's bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Stored,
    Deflated,
    /// Any other ZIP method (its number): listed, but not loaded.
    Other(u16),
}

/// One member of an archive.
#[derive(Clone, Debug)]
pub struct Member {
    /// The member's name in the archive ("a.npy").
    pub name: String,
    /// The name, NUL-terminated, for C.
    pub(crate) c_name: Vec<u8>,
    pub method: Method,
    pub encrypted: bool,
    /// The member's size (uncompressed).
    pub size: u64,
    /// The size of its data in the archive.
    pub compressed_size: u64,
    pub crc32: u32,
    /// Where its data starts in the archive file.
    pub data_start: u64,
}

/// An open archive: its file and its checked list of members.
pub struct Archive {
    file: File,
    /// The archive's size when it was opened.
    size: u64,
    members: Vec<Member>,
    /// The zip crate's reader (on a duplicate of `file`'s fd), for reading members.
    zip: Mutex<ZipArchive<File>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive").field("size", &self.size).field("members", &self.members).finish()
    }
}

/// The error for a failure of the zip crate on the archive.
fn zip_error(e: zip::result::ZipError, what: &str) -> Error {
    match e {
        zip::result::ZipError::Io(io) => io_error(io, what),
        other => Error::invalid_file(format_args!("not a valid .npz (ZIP) archive: {what}: {other}")),
    }
}

/// An I/O error while reading `what`: an OS error (with errno), else the archive's fault
/// (an unexpected end, a CRC mismatch, a corrupt deflate stream).
fn io_error(e: std::io::Error, what: &str) -> Error {
    match e.raw_os_error() {
        Some(errno) => Error::os("read", errno, what),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::invalid_file(format_args!("{what}: the data ends early (truncated or damaged archive)"))
        }
        None => Error::invalid_file(format_args!("{what}: {e}")),
    }
}

impl Archive {
    /// Open the archive at `path` (read-only).
    pub fn open(path: &Path) -> Result<Archive> {
        let file = File::open(path).map_err(|e| {
            Error::os("open", e.raw_os_error().unwrap_or(libc::EIO), format_args!("{}", path.display()))
        })?;
        Archive::from_file(file)
    }

    /// Read the archive in `file` (a regular file; its position does not matter).
    pub fn from_file(file: File) -> Result<Archive> {
        let fd = file.as_raw_fd();
        let size = map::file_size(fd)?;
        let reader = file.try_clone().map_err(|e| Error::os("dup", e.raw_os_error().unwrap_or(libc::EIO), ""))?;
        let mut zip = ZipArchive::new(reader).map_err(|e| zip_error(e, "its central directory"))?;
        let mut members = Vec::with_capacity(zip.len().min(1 << 16));
        for i in 0..zip.len() {
            let m = zip.by_index_raw(i).map_err(|e| zip_error(e, &format!("member {i}")))?;
            let name = m
                .name()
                .map_err(|e| zip_error(e, &format!("the name of member {i}")))?
                .into_owned();
            if name.contains('\0') {
                return Err(Error::invalid_file(format_args!("member {i}'s name contains a NUL byte")));
            }
            let method = match m.compression() {
                CompressionMethod::Stored => Method::Stored,
                CompressionMethod::Deflated => Method::Deflated,
                // With only the deflate feature, every other method is `Unsupported(n)`.
                #[allow(deprecated)]
                CompressionMethod::Unsupported(k) => Method::Other(k),
                _ => Method::Other(u16::MAX),
            };
            let data_start = m.data_start().ok_or_else(|| {
                Error::invalid_file(format_args!("member {name:?}: its local header could not be read"))
            })?;
            let (compressed_size, member_size) = (m.compressed_size(), m.size());
            data_start.checked_add(compressed_size).filter(|&e| e <= size).ok_or_else(|| {
                Error::invalid_file(format_args!(
                    "member {name:?}: its {compressed_size} bytes of data from offset {data_start} reach past the end of the {size}-byte archive"
                ))
            })?;
            if method == Method::Stored && member_size != compressed_size {
                return Err(Error::invalid_file(format_args!(
                    "member {name:?} is stored but its size {member_size} differs from its stored size {compressed_size}"
                )));
            }
            let mut c_name = name.clone().into_bytes();
            c_name.push(0);
            members.push(Member {
                name,
                c_name,
                method,
                encrypted: m.encrypted(),
                size: member_size,
                compressed_size,
                crc32: m.crc32(),
                data_start,
            });
        }
        Ok(Archive { file, size, members, zip: Mutex::new(zip) })
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The index of the member named `name`, or `name` + ".npy" (as `np.load`'s keys).
    pub fn find(&self, name: &str) -> Option<usize> {
        let npy = format!("{name}.npy");
        self.members.iter().position(|m| m.name == name).or_else(|| self.members.iter().position(|m| m.name == npy))
    }

    fn member(&self, index: usize) -> Result<&Member> {
        let n = self.members.len();
        let m = self.members.get(index).ok_or_else(|| {
            Error::index(format_args!("member index {index} is out of range for an archive of {n} members"))
        })?;
        if m.encrypted {
            return Err(Error::unsupported(format_args!("member {:?} is encrypted", m.name)));
        }
        if let Method::Other(k) = m.method {
            return Err(Error::unsupported(format_args!(
                "member {:?} uses ZIP compression method {k}; pybuf reads stored (0) and deflated (8) members",
                m.name
            )));
        }
        Ok(m)
    }

    /// Run `f` on a reader of member `index`'s bytes (inflated if deflated; its CRC-32 is
    /// checked when the reader reaches its end).
    pub fn with_reader<T>(&self, index: usize, f: impl FnOnce(&mut dyn Read) -> Result<T>) -> Result<T> {
        let m = self.member(index)?;
        let mut zip = self.zip.lock().unwrap_or_else(|e| e.into_inner());
        let mut r = zip.by_index(index).map_err(|e| zip_error(e, &format!("member {:?}", m.name)))?;
        f(&mut r)
    }

    /// Load member `index`'s array as an exporter (see the module documentation): a
    /// stored member mapped with `mode` unless `copy`; a deflated one (or a copy) read
    /// into owned, 64-byte-aligned memory, writable unless `mode` is read-only.
    /// [`Mode::Shared`] is refused: writes through the archive would leave the member's
    /// CRC-32 wrong.
    pub fn load(&self, index: usize, mode: Mode, copy: bool) -> Result<Arc<Exporter>> {
        let m = self.member(index)?;
        if mode == Mode::Shared {
            return Err(Error::argument(format_args!(
                "member {:?}: PYBUF_MAP_SHARED is refused for archive members (writes would not match the \
                 member's CRC-32, and np.load would refuse the archive); use PYBUF_MAP_PRIVATE",
                m.name
            )));
        }
        if m.method == Method::Stored && !copy {
            return self.map_member(m, mode);
        }
        self.with_reader(index, |r| read_member(r, m, mode == Mode::ReadOnly))
    }

    /// A stored member's array, mapped where it lies in the archive.
    fn map_member(&self, m: &Member, mode: Mode) -> Result<Arc<Exporter>> {
        let what = format!("member {:?}", m.name);
        let mut prefix = [0u8; 12];
        let n = prefix.len().min(m.size as usize);
        self.pread(&mut prefix[..n], m.data_start, &what)?;
        let total = header::total_len(&prefix[..n], header::MAX_HEADER_SIZE).map_err(|e| in_member(e, m))?;
        if total as u64 > m.size {
            return Err(Error::invalid_file(format_args!(
                "{what}: its .npy header is {total} bytes, longer than the member ({} bytes)",
                m.size
            )));
        }
        let mut head = vec![0u8; total];
        self.pread(&mut head, m.data_start, &what)?;
        let h = header::parse(&head).map_err(|e| in_member(e, m))?;
        check_length(&h, m)?;
        let start = m.data_start + h.data_offset as u64;
        let mapping = map::map_fd(self.file.as_raw_fd(), start, Some(h.data_len as u64), mode)?;
        let mut sbuf = [0isize; MAX_NDIM];
        let parts = crate::npy::parts_of(&h, &mut sbuf, mode == Mode::ReadOnly);
        map::exporter(mapping, &parts)
    }

    fn pread(&self, buf: &mut [u8], at: u64, what: &str) -> Result<()> {
        self.file.read_exact_at(buf, at).map_err(|e| io_error(e, what))
    }
}

/// An error of the `.npy` header of a member, naming the member.
fn in_member(e: Error, m: &Member) -> Error {
    Error::new(e.status(), format_args!("member {:?}: {}", m.name, e.message()))
}

/// The member holds exactly its header and the data the header promises.
fn check_length(h: &Header, m: &Member) -> Result<()> {
    let want = (h.data_offset as u64).checked_add(h.data_len as u64);
    if want != Some(m.size) {
        return Err(Error::invalid_file(format_args!(
            "member {:?} is {} bytes but its .npy header promises {} bytes of header and {} of data",
            m.name, m.size, h.data_offset, h.data_len
        )));
    }
    Ok(())
}

/// 64 bytes, 64-byte aligned: the unit of owned array memory.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// The upper bound of deflate's expansion (1032:1), with slack for the smallest streams.
fn inflated_bound(compressed: u64) -> u64 {
    compressed.saturating_mul(1032).saturating_add(1 << 16)
}

/// Read a member's `.npy` file from `r` into owned, aligned memory.
fn read_member(r: &mut dyn Read, m: &Member, readonly: bool) -> Result<Arc<Exporter>> {
    let what = format!("member {:?}", m.name);
    if m.method == Method::Deflated && m.size > inflated_bound(m.compressed_size) {
        return Err(Error::invalid_file(format_args!(
            "{what} claims {} bytes inflated from {} compressed, more than deflate can produce",
            m.size, m.compressed_size
        )));
    }
    // The magic and version, then the rest of the prefix they call for: never a byte of
    // the data (a header may be shorter than the longest prefix).
    let mut prefix = [0u8; 12];
    let size = usize::try_from(m.size).unwrap_or(usize::MAX);
    let n = header::MAGIC_LEN.min(size);
    r.read_exact(&mut prefix[..n]).map_err(|e| io_error(e, &what))?;
    let plen = header::prefix_len(&prefix[..n]).map_err(|e| in_member(e, m))?;
    let n = plen.min(size).max(n);
    r.read_exact(&mut prefix[header::MAGIC_LEN.min(n)..n]).map_err(|e| io_error(e, &what))?;
    let total = header::total_len(&prefix[..n], header::MAX_HEADER_SIZE).map_err(|e| in_member(e, m))?;
    if total as u64 > m.size {
        return Err(Error::invalid_file(format_args!(
            "{what}: its .npy header is {total} bytes, longer than the member ({} bytes)",
            m.size
        )));
    }
    let mut head = vec![0u8; total];
    head[..n].copy_from_slice(&prefix[..n]);
    r.read_exact(&mut head[n..]).map_err(|e| io_error(e, &what))?;
    let h = header::parse(&head).map_err(|e| in_member(e, m))?;
    check_length(&h, m)?;
    let len = h.data_len as usize;
    let mut mem = crate::alloc::try_vec(len.div_ceil(64).max(1), Line([0; 64]), "the member's array")?;
    let base = mem.as_mut_ptr().cast::<u8>();
    // SAFETY: `mem` holds at least `len` writable bytes at `base`, and nothing else refers
    // to them while this slice lives.
    let bytes = unsafe { std::slice::from_raw_parts_mut(base, len) };
    r.read_exact(bytes).map_err(|e| io_error(e, &what))?;
    // The end of the member: the zip crate checks the CRC-32 here.
    let mut extra = [0u8; 1];
    let more = r.read(&mut extra).map_err(|e| io_error(e, &what))?;
    if more != 0 {
        return Err(Error::invalid_file(format_args!("{what} has more bytes than its size {}", m.size)));
    }
    let mut sbuf = [0isize; MAX_NDIM];
    let parts = Parts { base, size: len as isize, ..crate::npy::parts_of(&h, &mut sbuf, readonly) };
    let description = Description::new(&parts)?;
    // The Vec's heap data does not move with the Vec.
    Ok(Exporter::holding(description, Box::new(mem)))
}
