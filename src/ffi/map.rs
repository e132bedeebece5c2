//! Memory-mapped files as exporters: `pybuf_map_fd`, `pybuf_map_path`,
//! `pybuf_exporter_sync`.

use std::ffi::{c_char, c_int, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::export::Exporter;
use crate::map::{self, Mapping, Mode};

use super::exporter::{parts, pybuf_exporter, pybuf_exporter_desc};
use super::{c_str, deref};

/// Map the file read-only: views are read-only (`PROT_READ`).
pub const PYBUF_MAP_READONLY: c_int = 0;
/// Map the file shared and writable (`MAP_SHARED`): writes through views reach the file
/// (`pybuf_exporter_sync` flushes them); the fd must be open for reading and writing.
pub const PYBUF_MAP_SHARED: c_int = 1;
/// Map the file private, copy-on-write (`MAP_PRIVATE`): views are writable, and writes
/// stay in this process; the fd may be read-only.
pub const PYBUF_MAP_PRIVATE: c_int = 2;

/// Map the region that `d` describes (see `pybuf_map_fd`) with `open` giving the mapping
/// of `[file_offset, file_offset + len)`, and make its exporter.
///
/// # Safety
/// `desc` and `out` as for `pybuf_map_fd`.
unsafe fn map_with(
    file_offset: i64,
    desc: *const pybuf_exporter_desc,
    mode: c_int,
    out: *mut *mut pybuf_exporter,
    open: impl FnOnce(u64, Option<u64>, Mode) -> Result<Mapping>,
) -> Result<()> {
    // SAFETY: a non-NULL desc points to a description by the C contract.
    let d = unsafe { deref(desc, "desc")? };
    if out.is_null() {
        return Err(Error::null("out is NULL"));
    }
    let mode = Mode::from_c(mode)?;
    if !d.buf.is_null() {
        return Err(Error::argument("desc->buf is not NULL: the memory of a mapped exporter is the mapping"));
    }
    if !d.suboffsets.is_null() {
        return Err(Error::suboffsets("desc->suboffsets is not NULL: a mapped file's bytes hold no valid pointers"));
    }
    let offset = u64::try_from(file_offset)
        .map_err(|_| Error::argument(format_args!("file offset {file_offset} is negative")))?;
    let len = match d.len {
        -1 => None,
        n if n < 0 => {
            return Err(Error::argument(format_args!(
                "desc->len = {n} is negative (-1 maps to the end of the file)"
            )))
        }
        n => Some(n as u64),
    };
    // SAFETY: the arrays of `d` have ndim entries and format is a C string by the C contract.
    let p = unsafe { parts(d)? };
    // The layout is checked before the file is touched; the extent against the region
    // once its length is known (in map::exporter).
    let mapping = open(offset, len, mode)?;
    let handle = Arc::into_raw(map::exporter(mapping, &p)?);
    // reach-exempt: reached only with a mapped file (fstat, mmap: Miri has neither; c_tests/test_map.c).
    // SAFETY: out is non-NULL and writable by the C contract.
    unsafe { out.write(handle as *mut pybuf_exporter) };
    Ok(())
}

/// Create an exporter whose memory is a region of the regular file open as `fd`, mapped
/// with `mode` (PYBUF_MAP_READONLY, PYBUF_MAP_SHARED or PYBUF_MAP_PRIVATE).
///
/// The region is the `desc->len` bytes of the file from byte `file_offset` (`desc->len`
/// -1: to the end of the file). `desc` describes the array in it as for
/// `pybuf_exporter_new`, with `desc->buf` NULL (the memory is the mapping),
/// `desc->offset` the byte offset of element 0 from the region's start, and no
/// suboffsets; `desc->readonly` 1 makes views read-only whatever the mode. The region is
/// checked against the file's size before anything is mapped: a file too short for it is
/// PYBUF_STATUS_INVALID_FILE (never a `SIGBUS` later), as is the array reaching past the
/// region PYBUF_STATUS_LENGTH_MISMATCH. `file_offset` need not be a multiple of the page
/// size, and an empty region maps nothing (its views have a non-NULL `buf` that must not
/// be dereferenced).
///
/// `fd` is not kept: close it whenever convenient. The mapping is unmapped when the
/// exporter (`pybuf_exporter_free`) and its last view are gone. A file truncated by
/// someone else while mapped makes accesses past its new end raise `SIGBUS`, as with any
/// `mmap`. Errors of the OS are PYBUF_STATUS_IO with `pybuf_last_errno()` (EBADF for a
/// closed fd, EACCES for PYBUF_MAP_SHARED on an fd not open for reading and writing); an
/// fd that is not a regular file is PYBUF_STATUS_INVALID_ARGUMENT.
///
/// On success `*out` is a new handle and 0 is returned; on failure `*out` is untouched,
/// nothing stays mapped, and a negative status is returned.
///
/// # Safety
/// `desc` is NULL or points to a valid `pybuf_exporter_desc` (`format` NULL or
/// NUL-terminated, `shape` and `strides` NULL or of `ndim` entries). `out` is NULL or
/// points to a writable `pybuf_exporter *`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_map_fd(
    fd: c_int,
    file_offset: i64,
    desc: *const pybuf_exporter_desc,
    mode: c_int,
    out: *mut *mut pybuf_exporter,
) -> c_int {
    super::status(|| {
        // SAFETY: forwarded from this function's contract.
        unsafe { map_with(file_offset, desc, mode, out, |off, len, mode| map::map_fd(fd, off, len, mode)) }
    })
}

/// `pybuf_map_fd` for the file at `path`, opened read-only (read-write for
/// PYBUF_MAP_SHARED) and closed again before returning; the mapping stays.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `desc` and `out` as for `pybuf_map_fd`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_map_path(
    path: *const c_char,
    file_offset: i64,
    desc: *const pybuf_exporter_desc,
    mode: c_int,
    out: *mut *mut pybuf_exporter,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL path is NUL-terminated by the C contract.
        let path = Path::new(OsStr::from_bytes(unsafe { c_str(path, "path")? }));
        // SAFETY: forwarded from this function's contract.
        unsafe { map_with(file_offset, desc, mode, out, |off, len, mode| map::map_path(path, off, len, mode)) }
    })
}

/// Flush the writes made through views of `e`, an exporter of a PYBUF_MAP_SHARED mapping,
/// to the file (`msync` with `MS_SYNC`: it returns when the data is written). For a
/// read-only or private mapping there is nothing to flush and 0 is returned; an exporter
/// that is not a mapped file is PYBUF_STATUS_INVALID_ARGUMENT; an OS error is
/// PYBUF_STATUS_IO.
///
/// # Safety
/// `e` is NULL or a live handle from `pybuf_exporter_new`, `pybuf_map_fd`,
/// `pybuf_map_path` or `pybuf_exporter_clone`, not yet freed. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_exporter_sync(e: *mut pybuf_exporter) -> c_int {
    super::status(|| {
        // SAFETY: a live handle is an `Arc<Exporter>` pointer from `Arc::into_raw`.
        let e = unsafe { deref(e.cast::<Exporter>().cast_const(), "exporter")? };
        map::sync(e)
    })
}
