//! `.npy` files: save a view, load a file as an exporter, read a file into a view.

use std::ffi::{c_char, c_int, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use crate::abi::pybuf_buffer;
use crate::copy::Side;
use crate::error::{Error, Result};
use crate::npy::{self, LoadMode};

use super::exporter::pybuf_exporter;
use super::{c_str, checked, View};

/// `pybuf_npy_load` flag: read-only views (the file is mapped read-only). The default.
pub const PYBUF_NPY_READONLY: c_int = 0;
/// `pybuf_npy_load` flag: writable views whose writes reach the file (a shared mapping;
/// the file must be writable). Refused for an fd that is not a regular file.
pub const PYBUF_NPY_WRITABLE: c_int = 1;
/// `pybuf_npy_load` flag: writable views whose writes stay in this process (a private,
/// copy-on-write mapping, or memory read from a stream).
pub const PYBUF_NPY_PRIVATE: c_int = 2;

fn path_of<'a>(p: *const c_char) -> Result<&'a Path> {
    // SAFETY: a non-NULL path is NUL-terminated by the C contract.
    let bytes = unsafe { c_str(p, "path")? };
    Ok(Path::new(OsStr::from_bytes(bytes)))
}

fn side<'a>(v: &View<'a>) -> Side<'a> {
    Side { ptr: v.buf, geom: v.geom }
}

/// Save `view` as the `.npy` file `path` (created, or truncated), byte for byte the file
/// `np.save` writes for the same array: the header of version 1.0 (2.0 for a header over
/// 64 KiB, 3.0 for field names outside Latin-1), `descr` from the format as NumPy writes
/// it, `fortran_order` True when the view is F-contiguous and not C-contiguous (the data
/// then in Fortran order), else False with the data in C order. Any view is saved —
/// strided, negative strides, suboffsets, structured, non-native byte order, 0-d,
/// empty — straight from its memory, without a copy of the array. A NULL format is "B".
///
/// Returns 0, or a negative status: a format with no NumPy type (pointers, `u`, objects)
/// is PYBUF_STATUS_UNREPRESENTABLE and leaves no file; an I/O failure is
/// PYBUF_STATUS_IO (`pybuf_last_errno()` gives the errno) and may leave a partial file.
///
/// # Safety
/// `path` is NULL or NUL-terminated. `view` is NULL or points to a valid view whose
/// memory is readable for every element it describes. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npy_save(path: *const c_char, view: *const pybuf_buffer) -> c_int {
    super::status(|| {
        let path = path_of(path)?;
        let mut implied = [0; 1];
        // SAFETY: by the C contract.
        let (v, format) = unsafe { checked(view, &mut implied)? };
        // SAFETY: the view's elements are readable by the C contract.
        unsafe { npy::save(path, side(&v), format) }
    })
}

/// Write `view` to `fd`, at its current position, as the `.npy` file `pybuf_npy_save`
/// would write: header, then every data byte (blocking; `EINTR` and short writes are
/// continued). Any fd that takes writes: a file, a pipe, a socket.
///
/// Returns 0, or a negative status (PYBUF_STATUS_IO with `pybuf_last_errno()` when the fd
/// refuses a write, part of the file then written).
///
/// # Safety
/// `view` is NULL or points to a valid view whose memory is readable for every element it
/// describes. Thread-safe (for distinct fds).
#[no_mangle]
pub unsafe extern "C" fn pybuf_npy_write_fd(fd: c_int, view: *const pybuf_buffer) -> c_int {
    super::status(|| {
        let mut implied = [0; 1];
        // SAFETY: by the C contract.
        let (v, format) = unsafe { checked(view, &mut implied)? };
        // SAFETY: the view's elements are readable by the C contract.
        unsafe { npy::write_fd(fd, side(&v), format) }
    })
}

fn load(out: *mut *mut pybuf_exporter, f: impl FnOnce() -> Result<Arc<crate::export::Exporter>>) -> Result<()> {
    if out.is_null() {
        return Err(Error::null("out is NULL"));
    }
    let e = f()?;
    // SAFETY: out is non-NULL and writable by the C contract.
    unsafe { out.write(Arc::into_raw(e) as *mut pybuf_exporter) };
    Ok(())
}

/// Load the `.npy` file `path` as an exporter, by mapping it: O(1) in the file's size.
/// Its views have the header's shape, C or Fortran strides (`fortran_order`), and the
/// format of its `descr` (`"<d"`, `">i"` for big-endian data, `"T{...}"` for structs, titles
/// dropped). `flags`: PYBUF_NPY_READONLY (read-only views), PYBUF_NPY_WRITABLE (writes
/// reach the file; it must be writable), PYBUF_NPY_PRIVATE (copy-on-write). The file is
/// closed before this returns; the mapping is unmapped when the exporter and its last view
/// are gone.
///
/// On success `*out` is a new exporter (free it with `pybuf_exporter_free`). A damaged file
/// is refused before anything is mapped, with PYBUF_STATUS_INVALID_FILE and a message
/// saying what is wrong (bad magic, header past the end, a header over NumPy's 10,000-
/// character limit, a malformed dict, missing or extra keys, a negative or overflowing
/// shape, an object or unknown `descr`, a file shorter than its data), or
/// PYBUF_STATUS_UNSUPPORTED_VERSION for a version other than 1.0, 2.0 and 3.0; no fd or
/// mapping is left behind.
///
/// # Safety
/// `path` is NULL or NUL-terminated; `out` is NULL or points to a writable
/// `pybuf_exporter *`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npy_load(path: *const c_char, flags: c_int, out: *mut *mut pybuf_exporter) -> c_int {
    super::status(|| {
        let path = path_of(path)?;
        let mode = LoadMode::from_c(flags)?;
        load(out, || npy::load_path(path, mode))
    })
}

/// Load the `.npy` file that starts at `fd`'s current position, as `pybuf_npy_load`. A
/// regular file is mapped, and its position moved past the array's data; any other fd (a
/// pipe, a socket) is read, exactly to the end of the array's data, into memory the
/// exporter owns (PYBUF_NPY_WRITABLE is then refused: writes could not reach the file).
/// The fd stays the caller's, and may be closed at once.
///
/// # Safety
/// `out` is NULL or points to a writable `pybuf_exporter *`. Thread-safe (for distinct
/// fds).
#[no_mangle]
pub unsafe extern "C" fn pybuf_npy_load_fd(fd: c_int, flags: c_int, out: *mut *mut pybuf_exporter) -> c_int {
    super::status(|| {
        let mode = LoadMode::from_c(flags)?;
        load(out, || npy::load_fd(fd, mode))
    })
}

/// # Safety
/// As for `pybuf_npy_read_fd`.
unsafe fn read_into(view: *const pybuf_buffer, f: impl FnOnce(Side<'_>, &[u8]) -> Result<()>) -> Result<()> {
    let mut implied = [0; 1];
    // SAFETY: by the C contract.
    let (v, format) = unsafe { checked(view, &mut implied)? };
    if v.readonly {
        return Err(Error::readonly("view is read-only"));
    }
    f(side(&v), format)
}

/// Read the data of the `.npy` file at `fd`'s current position into `view`, a view of
/// any strides (suboffsets included) whose shape and itemsize equal the file's and whose
/// format reads the same values (`"d"` reads `'<f8'` on little-endian machines); nothing is
/// converted. Afterwards the fd's position is past the array's data.
///
/// Returns 0, or a negative status: PYBUF_STATUS_SHAPE_MISMATCH, PYBUF_STATUS_FORMAT_MISMATCH,
/// PYBUF_STATUS_READ_ONLY, a damaged file as for `pybuf_npy_load` (a file that ends early
/// is PYBUF_STATUS_INVALID_FILE; the elements read before it stay written).
///
/// # Safety
/// `view` is NULL or points to a valid view whose memory is writable for every element it
/// describes. Thread-safe (for distinct fds and views).
#[no_mangle]
pub unsafe extern "C" fn pybuf_npy_read_fd(fd: c_int, view: *const pybuf_buffer) -> c_int {
    super::status(|| {
        // SAFETY: the view's elements are writable by the C contract.
        unsafe { read_into(view, |side, format| npy::read_fd(fd, side, format)) }
    })
}

/// `pybuf_npy_read_fd` from the file `path`.
///
/// # Safety
/// `path` is NULL or NUL-terminated; `view` as for `pybuf_npy_read_fd`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npy_read(path: *const c_char, view: *const pybuf_buffer) -> c_int {
    super::status(|| {
        let path = path_of(path)?;
        // SAFETY: the view's elements are writable by the C contract.
        unsafe { read_into(view, |side, format| npy::read_path(path, side, format)) }
    })
}
