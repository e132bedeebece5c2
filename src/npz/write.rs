//! Writing `.npz` archives: each view as an `.npy` member, stored or deflated.

use std::io::{Seek, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::copy::{self, Side};
use crate::error::{Error, Result};
use crate::layout::{Geometry, Order, MAX_NDIM};
use crate::npy;

/// One array to write: its member name (without ".npy", which is added, as `np.savez`
/// does), its elements and their format.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub side: Side<'a>,
    pub format: &'a [u8],
}

/// The most bytes gathered at once from a view that is not contiguous.
const STAGING: usize = 1 << 20;

/// Stored members' data (after the local header) starts at a multiple of this, and so
/// does the array after its `.npy` header (a multiple of 64 bytes long).
const ALIGN: u16 = 64;

fn write_error(e: std::io::Error, what: &str) -> Error {
    Error::os("write", e.raw_os_error().unwrap_or(libc::EIO), what)
}

fn zip_write_error(e: zip::result::ZipError, what: &str) -> Error {
    match e {
        zip::result::ZipError::Io(io) => write_error(io, what),
        other => Error::argument(format_args!("{what}: {other}")),
    }
}

/// Write an archive of `entries` to `path`, each member deflated when `deflate`, else
/// stored with its data 64-byte aligned. Member names must be unique and non-empty. The
/// elements of each view are streamed into the archive (gathered through a staging
/// buffer of at most 1 MiB when the view is not contiguous): no copy of a whole array is
/// made. The archive is written to a new file next to `path` and renamed over it once
/// complete: an existing file at `path` (perhaps mapped by a reader) is replaced, never
/// truncated in place, and on failure it is left as it was and nothing else remains.
///
/// # Safety
/// Every element of every entry's view (following suboffsets) is readable.
pub unsafe fn save(path: &Path, entries: &[Entry<'_>], deflate: bool) -> Result<()> {
    for (i, e) in entries.iter().enumerate() {
        if e.name.is_empty() {
            return Err(Error::argument(format_args!("name {i} is empty")));
        }
        if entries[..i].iter().any(|o| o.name == e.name) {
            return Err(Error::argument(format_args!("name {:?} is given twice", e.name)));
        }
    }
    // Written next to `path` and renamed over it at the end: a reader of the old archive
    // (a mapped member) keeps the old file, and a failure leaves `path` as it was.
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".pybuf-tmp-{}-{n}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| {
        Error::os("open", e.raw_os_error().unwrap_or(libc::EIO), format_args!("{}", tmp.display()))
    })?;
    // reach-exempt: writes an archive file, which Miri's isolation forbids (src/npz/tests.rs, c_tests/test_npz.c).
    // SAFETY: forwarded from this function's contract.
    let written = unsafe { write_archive(file, entries, deflate) }.and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| {
            Error::os("rename", e.raw_os_error().unwrap_or(libc::EIO), format_args!("{} to {}", tmp.display(), path.display()))
        })
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Write the archive into `out` (which must be positioned at its start).
///
/// # Safety
/// As for [`save`].
pub unsafe fn write_archive<W: Write + Seek>(out: W, entries: &[Entry<'_>], deflate: bool) -> Result<()> {
    let mut zip = ZipWriter::new(out);
    let mut staging = Vec::new();
    for e in entries {
        let name = format!("{}.npy", e.name);
        // The header and order of np.save, as pybuf_npy_save writes them.
        let head = npy::header_for(&e.side, e.format)?;
        let order = npy::save_order(&e.side);
        let total = head.len() as u64 + e.side.geom.len as u64;
        let mut options = SimpleFileOptions::default()
            .compression_method(if deflate { CompressionMethod::Deflated } else { CompressionMethod::Stored })
            .large_file(total >= u32::MAX as u64);
        if !deflate {
            options = options.with_alignment(ALIGN);
        }
        zip.start_file(name.as_str(), options).map_err(|err| zip_write_error(err, &name))?;
        zip.write_all(&head).map_err(|err| write_error(err, &name))?;
        // SAFETY: the view's elements are readable by the contract.
        unsafe { write_elements(&mut zip, e.side, order, &mut staging) }.map_err(|err| write_error(err, &name))?;
    }
    let mut out = zip.finish().map_err(|err| zip_write_error(err, "the central directory"))?;
    out.flush().map_err(|err| write_error(err, "the archive"))?;
    Ok(())
}

/// Write the elements of `side` to `w` in `order` (C or F; C only with suboffsets), as
/// `pybuf_to_contiguous` would lay them out: straight from memory when the view is
/// contiguous in that order, else gathered by the copy engine in blocks of at most
/// `STAGING` (1 MiB) bytes (or one item, if larger).
///
/// # Safety
/// Every element of `side` (following suboffsets) is readable.
pub unsafe fn write_elements(
    w: &mut dyn Write,
    side: Side<'_>,
    order: Order,
    staging: &mut Vec<u8>,
) -> std::io::Result<()> {
    // SAFETY: forwarded.
    unsafe { write_elements_in(w, side, order, staging, STAGING) }
}

/// [`write_elements`] in blocks of at most `limit` bytes instead of [`STAGING`] (tests
/// cross the block boundaries with small views).
///
/// # Safety
/// As for [`write_elements`].
pub(crate) unsafe fn write_elements_in(
    w: &mut dyn Write,
    side: Side<'_>,
    order: Order,
    staging: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<()> {
    let geom = &side.geom;
    let len = geom.len as usize;
    if len == 0 {
        return Ok(());
    }
    if geom.suboffsets.is_some() && order != Order::C {
        // Blocks along the last axis would move the base before earlier dimensions'
        // pointers are followed.
        return Err(std::io::Error::other("a view with suboffsets is written in C order only"));
    }
    if geom.suboffsets.is_none() && geom.is_contiguous(order) {
        // SAFETY: a contiguous view without suboffsets is `len` readable bytes at its
        // buffer.
        return w.write_all(unsafe { std::slice::from_raw_parts(side.ptr, len) });
    }
    if len <= limit || geom.ndim() == 0 {
        // SAFETY: forwarded from the contract.
        return unsafe { gather(w, side, order, staging) };
    }
    let n = geom.ndim();
    let axis = if order == Order::F { n - 1 } else { 0 };
    let count = geom.shape[axis] as usize;
    let slab = len / count;
    let mut shape = [0isize; MAX_NDIM];
    shape[..n].copy_from_slice(geom.shape);
    let mut sbuf = [0isize; MAX_NDIM];
    let strides = geom.strides_or_c(&mut sbuf);
    let stride = strides[axis];
    if slab <= limit {
        // Blocks of whole slabs along the outer axis of the order.
        let per = (limit / slab).max(1);
        let mut i = 0;
        while i < count {
            let k = per.min(count - i);
            shape[axis] = k as isize;
            let sub = Geometry { len: (k * slab) as isize, shape: &shape[..n], strides: Some(strides), ..*geom };
            // The suboffset of `axis`, if any, applies after the stride: moving the base
            // by whole strides selects slab i in any case.
            let ptr = side.ptr.wrapping_offset(i as isize * stride);
            // SAFETY: the elements of the sub-view are elements of `side`.
            unsafe { gather(w, Side { ptr, geom: sub }, order, staging) }?;
            i += k;
        }
        return Ok(());
    }
    // A single slab is larger than the staging buffer: each one on its own, one
    // dimension fewer.
    let rest = |v: &[isize]| -> ([isize; MAX_NDIM], usize) {
        let mut out = [0isize; MAX_NDIM];
        let mut j = 0;
        for (k, &x) in v.iter().enumerate() {
            if k != axis {
                out[j] = x;
                j += 1;
            }
        }
        (out, j)
    };
    let (rshape, m) = rest(geom.shape);
    let (rstrides, _) = rest(strides);
    let rsub = geom.suboffsets.map(rest);
    let sub_off = geom.suboffsets.map_or(-1, |s| s[axis]);
    for i in 0..count {
        let mut ptr = side.ptr.wrapping_offset(i as isize * stride);
        if sub_off >= 0 {
            // SAFETY: with a suboffset on this axis, the address reached by its stride
            // holds a pointer (the view's contract), read as PEP 3118 says.
            ptr = unsafe { (ptr as *const *mut u8).read_unaligned() }.wrapping_offset(sub_off);
        }
        let sub = Geometry {
            len: slab as isize,
            itemsize: geom.itemsize,
            shape: &rshape[..m],
            strides: Some(&rstrides[..m]),
            suboffsets: rsub.as_ref().map(|(s, _)| &s[..m]),
        };
        // SAFETY: the elements of slab i are elements of `side`.
        unsafe { write_elements_in(w, Side { ptr, geom: sub }, order, staging, limit) }?;
    }
    Ok(())
}

/// Gather all of `side` (at most the block limit, or one item) into `staging` in `order`
/// and write it.
///
/// # Safety
/// Every element of `side` (following suboffsets) is readable.
unsafe fn gather(w: &mut dyn Write, side: Side<'_>, order: Order, staging: &mut Vec<u8>) -> std::io::Result<()> {
    let len = side.geom.len as usize;
    if staging.len() < len {
        staging.resize(len, 0);
    }
    // SAFETY: `staging` holds at least `len` writable bytes; the elements are readable by
    // the contract.
    unsafe { copy::to_contiguous(staging.as_mut_ptr(), side, order) }
        .map_err(|e| std::io::Error::other(e.message().to_owned()))?;
    w.write_all(&staging[..len])
}
