//! `.npz` archives: `pybuf_npz_open`, `pybuf_npz_load`, `pybuf_npz_save`, ...

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, OsStr};
use std::fs::File;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::copy::Side;
use crate::error::{Error, Result};
use crate::map::Mode;
use crate::npz::{self, Archive, Entry, Method};

use super::exporter::pybuf_exporter;
use super::{c_str, deref, slice};

/// `pybuf_npz_load` flag: an aligned copy of a stored member in memory the exporter
/// owns, instead of a mapping of the archive (which puts the data wherever its offset in
/// the archive falls).
pub const PYBUF_NPZ_COPY: c_int = 4;
/// `pybuf_npz_save` flag: deflate every member (as `np.savez_compressed`); without it
/// members are stored (as `np.savez`).
pub const PYBUF_NPZ_DEFLATE: c_int = 1;

/// An open `.npz` archive: opaque. Created by `pybuf_npz_open` or `pybuf_npz_open_fd`,
/// closed by `pybuf_npz_close`.
pub struct pybuf_npz {
    _opaque: [u8; 0],
}

/// One member of an archive (`pybuf_npz_member_info`).
///
/// - `name`: the member's name in the archive ("a.npy"), NUL-terminated; it belongs to
///   the archive and is valid until `pybuf_npz_close`.
/// - `method`: the ZIP compression method: 0 stored, 8 deflated; other methods are listed
///   but not loaded.
/// - `encrypted`: 1 for an encrypted member (not loaded), else 0.
/// - `size`: the member's size (its `.npy` file's); `compressed_size`: the size of its
///   data in the archive (equal for a stored member).
/// - `data_offset`: where its data starts in the archive file (after its local header):
///   a stored member's `.npy` file lies at `[data_offset, data_offset + size)`.
/// - `crc32`: the CRC-32 the archive records for it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pybuf_npz_member {
    pub name: *const c_char,
    pub method: c_int,
    pub encrypted: c_int,
    pub size: i64,
    pub compressed_size: i64,
    pub data_offset: i64,
    pub crc32: u32,
}

/// # Safety
/// `a` is NULL or a live handle from `pybuf_npz_open`.
unsafe fn archive<'a>(a: *const pybuf_npz) -> Result<&'a Archive> {
    // SAFETY: a live handle is a `Box<Archive>` pointer from `Box::into_raw`.
    unsafe { deref(a.cast::<Archive>(), "archive") }
}

fn hand_out(archive: Archive, out: *mut *mut pybuf_npz) {
    let handle = Box::into_raw(Box::new(archive));
    // reach-exempt: reached only with an open archive, whose file Miri cannot fstat or map (c_tests/test_npz.c).
    // SAFETY: the callers checked that out is non-NULL; it is writable by the C contract.
    unsafe { out.write(handle.cast()) };
}

/// Open the `.npz` archive (a ZIP archive, as `np.savez` and `np.savez_compressed` write)
/// at `path`, read-only, and read its directory: every member's local header is read and
/// its data checked to lie within the file. ZIP64 archives are read as any other. A
/// damaged or truncated archive is PYBUF_STATUS_INVALID_FILE, an OS error
/// PYBUF_STATUS_IO. The archive keeps one file descriptor open until `pybuf_npz_close`.
///
/// On success `*out` is the archive and 0 is returned; on failure `*out` is untouched and
/// no fd stays open.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or points to a writable
/// `pybuf_npz *`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npz_open(path: *const c_char, out: *mut *mut pybuf_npz) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL path is NUL-terminated by the C contract.
        let path = Path::new(OsStr::from_bytes(unsafe { c_str(path, "path")? }));
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        hand_out(Archive::open(path)?, out);
        Ok(())
    })
}

/// `pybuf_npz_open` for the archive open as `fd` (a regular file open for reading), which
/// is duplicated: the caller keeps `fd` and may close it at once.
///
/// # Safety
/// `out` is NULL or points to a writable `pybuf_npz *`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npz_open_fd(fd: c_int, out: *mut *mut pybuf_npz) -> c_int {
    super::status(|| {
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        // SAFETY: F_DUPFD_CLOEXEC touches no memory; a bad fd is an error.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
            return Err(Error::os("fcntl(F_DUPFD_CLOEXEC)", errno, format_args!("fd {fd}")));
        }
        // reach-exempt: reached only after a dup that Archive::from_file then fstats (Miri's isolation refuses fstat).
        // SAFETY: `dup` is a new fd that nothing else owns.
        let file = unsafe { File::from_raw_fd(dup) };
        hand_out(Archive::from_file(file)?, out);
        Ok(())
    })
}

/// The number of members of `a`, or -1 with an error if `a` is NULL.
///
/// # Safety
/// `a` is NULL or a live handle from `pybuf_npz_open` or `pybuf_npz_open_fd`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npz_count(a: *const pybuf_npz) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a live handle by the C contract.
        Ok(unsafe { archive(a)? }.members().len() as pybuf_ssize_t)
    })
}

/// Describe member `index` (0 to `pybuf_npz_count(a) - 1`) in `*out`.
///
/// # Safety
/// `a` is NULL or a live handle from `pybuf_npz_open` or `pybuf_npz_open_fd`; `out` is
/// NULL or points to a writable `pybuf_npz_member`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npz_member_info(
    a: *const pybuf_npz,
    index: pybuf_ssize_t,
    out: *mut pybuf_npz_member,
) -> c_int {
    super::status(|| {
        // SAFETY: a live handle by the C contract.
        let a = unsafe { archive(a)? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let n = a.members().len();
        let m = usize::try_from(index).ok().and_then(|i| a.members().get(i)).ok_or_else(|| {
            Error::index(format_args!("member index {index} is out of range for an archive of {n} members"))
        })?;
        let info = pybuf_npz_member {
            name: m.c_name.as_ptr().cast(),
            method: match m.method {
                Method::Stored => 0,
                Method::Deflated => 8,
                Method::Other(k) => c_int::from(k),
            },
            encrypted: c_int::from(m.encrypted),
            size: m.size as i64,
            compressed_size: m.compressed_size as i64,
            data_offset: m.data_start as i64,
            crc32: m.crc32,
        };
        // reach-exempt: reached only with an open archive, whose file Miri cannot fstat or map (c_tests/test_npz.c).
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { out.write(info) };
        Ok(())
    })
}

/// The index of the member named `name`, or `name` followed by ".npy" (so that the keys
/// of `np.savez(f, x=...)` are found as "x"); -1 with PYBUF_STATUS_INDEX_OUT_OF_RANGE if
/// there is none.
///
/// # Safety
/// `a` is NULL or a live handle from `pybuf_npz_open` or `pybuf_npz_open_fd`; `name` is
/// NULL or a NUL-terminated string. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npz_find(a: *const pybuf_npz, name: *const c_char) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a live handle and a C string by the C contract.
        let (a, name) = unsafe { (archive(a)?, c_str(name, "name")?) };
        let name = String::from_utf8_lossy(name);
        a.find(&name)
            .map(|i| i as pybuf_ssize_t)
            .ok_or_else(|| Error::index(format_args!("the archive has no member {name:?} (nor {name:?}.npy)")))
    })
}

/// Load member `index`'s array (its `.npy` file) as an exporter: the views have the
/// header's shape, C or Fortran strides, and the format of its `descr`.
///
/// `flags`: PYBUF_MAP_READONLY (0: read-only views) or PYBUF_MAP_PRIVATE (writable,
/// copy-on-write: the archive never changes), optionally with PYBUF_NPZ_COPY.
/// PYBUF_MAP_SHARED is refused (PYBUF_STATUS_INVALID_ARGUMENT): writes would leave the
/// member's CRC-32 wrong and `np.load` would refuse the archive.
///
/// - A **stored** member is mapped where its data lies in the archive file, zero-copy: the
///   load reads its `.npy` header and nothing else, whatever the array's size. Its data's
///   address is wherever the member's offset puts it: `np.savez` aligns nothing, so it is
///   often not a multiple of the item size (archives from `pybuf_npz_save` align stored
///   data to 64 bytes). Its CRC-32 is not checked (that would read every byte).
/// - A **deflated** member, or any member with PYBUF_NPZ_COPY, is read (inflated) into
///   64-byte-aligned memory that the exporter owns, and its CRC-32 checked.
///
/// The exporter does not need the archive: `pybuf_npz_close` may come first. A damaged
/// member (a bad `.npy` header, sizes that disagree with it, a CRC or deflate error, data
/// past the end of the file) is PYBUF_STATUS_INVALID_FILE; a compression method other
/// than stored or deflated, or an encrypted member, PYBUF_STATUS_UNSUPPORTED_FORMAT.
///
/// On success `*out` is a new exporter handle and 0 is returned; on failure `*out` is
/// untouched and nothing stays mapped or allocated.
///
/// # Safety
/// `a` is NULL or a live handle from `pybuf_npz_open` or `pybuf_npz_open_fd`; `out` is
/// NULL or points to a writable `pybuf_exporter *`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npz_load(
    a: *const pybuf_npz,
    index: pybuf_ssize_t,
    flags: c_int,
    out: *mut *mut pybuf_exporter,
) -> c_int {
    super::status(|| {
        // SAFETY: a live handle by the C contract.
        let a = unsafe { archive(a)? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        if flags & !(3 | PYBUF_NPZ_COPY) != 0 {
            return Err(Error::argument(format_args!(
                "flags = {flags:#x} has bits other than a PYBUF_MAP_* mode and PYBUF_NPZ_COPY"
            )));
        }
        let mode = Mode::from_c(flags & 3)?;
        let index = usize::try_from(index).map_err(|_| Error::index(format_args!("member index {index} is negative")))?;
        let e = a.load(index, mode, flags & PYBUF_NPZ_COPY != 0)?;
        // reach-exempt: reached only with an open archive, whose file Miri cannot fstat or map (c_tests/test_npz.c).
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { out.write(Arc::into_raw(e) as *mut pybuf_exporter) };
        Ok(())
    })
}

/// Close an archive opened by `pybuf_npz_open` or `pybuf_npz_open_fd` (its fd, its
/// names). Exporters loaded from it stay valid. NULL is a no-op.
///
/// # Safety
/// `a` is NULL or a live handle, closed once and not used afterwards. Not concurrently
/// with other calls on the same archive.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npz_close(a: *mut pybuf_npz) {
    super::status(|| {
        if !a.is_null() {
            // reach-exempt: reached only with an open archive, whose file Miri cannot fstat or map (c_tests/test_npz.c).
            // SAFETY: a live handle from `Box::into_raw`, given back once.
            drop(unsafe { Box::from_raw(a.cast::<Archive>()) });
        }
        Ok(())
    });
}

/// Write an `.npz` archive at `path` of `count` views, member
/// `names[i]` + ".npy" holding `views[i]` as `pybuf_npy_save` writes it (the header and
/// element order of `np.save`). `flags`: 0 stores the members (as `np.savez`, with each
/// member's data 64-byte aligned in the file, so that `pybuf_npz_load` maps aligned
/// arrays), PYBUF_NPZ_DEFLATE deflates them (as `np.savez_compressed`). Members over
/// 4 GiB are written as ZIP64. `np.load(path)[names[i]]` reads the array back.
///
/// Any view works (strided, transposed, negative strides, suboffsets, any format that
/// has a `.npy` descr); the elements are streamed into the archive (gathered through a
/// staging buffer of at most 1 MiB when a view is not contiguous), never copied whole.
/// Names must be non-empty and distinct. The archive is written to a new file next to
/// `path` and renamed over it when complete: an existing file at `path` is replaced, never
/// truncated in place (exporters mapping its members keep reading the old file), and on
/// failure `path` is as it was and no partial file remains.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `names` and `views` are NULL (with `count`
/// 0) or arrays of `count` entries: NUL-terminated strings, and valid views whose elements
/// are readable. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_npz_save(
    path: *const c_char,
    count: pybuf_ssize_t,
    names: *const *const c_char,
    views: *const pybuf_buffer,
    flags: c_int,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL path is NUL-terminated by the C contract.
        let path = Path::new(OsStr::from_bytes(unsafe { c_str(path, "path")? }));
        let n = usize::try_from(count).map_err(|_| Error::argument(format_args!("count = {count} is negative")))?;
        if flags & !PYBUF_NPZ_DEFLATE != 0 {
            return Err(Error::argument(format_args!("flags = {flags:#x} has bits other than PYBUF_NPZ_DEFLATE")));
        }
        // SAFETY: arrays of `count` entries by the C contract.
        let (names, views) = unsafe { (slice(names, n, "names")?, slice(views, n, "views")?) };
        let mut implied = vec![[0 as pybuf_ssize_t; 1]; n];
        let mut entries = Vec::with_capacity(n);
        for (i, ((&name, v), imp)) in names.iter().zip(views).zip(implied.iter_mut()).enumerate() {
            // SAFETY: a NUL-terminated name by the C contract.
            let name = unsafe { c_str(name, &format!("names[{i}]"))? };
            let name = std::str::from_utf8(name)
                .map_err(|_| Error::argument(format_args!("names[{i}] is not UTF-8")))?;
            // SAFETY: a valid view by the C contract.
            let view = unsafe { super::view(v, imp) }.map_err(|e| {
                Error::new(e.status(), format_args!("views[{i}]: {}", e.message()))
            })?;
            let format: &[u8] = if v.format.is_null() {
                b"B"
            } else {
                // SAFETY: a non-NULL format is NUL-terminated by the buffer protocol.
                unsafe { c_str(v.format, "format")? }
            };
            entries.push(Entry { name, side: Side { ptr: view.buf, geom: view.geom }, format });
        }
        // SAFETY: the views' elements are readable by the C contract.
        unsafe { npz::save(path, &entries, flags & PYBUF_NPZ_DEFLATE != 0) }
    })
}
