//! Exporters: `pybuf_exporter` (built in), custom exporters through `pybuf_procs`, and
//! the generic consumer entry point `pybuf_object_get_buffer`.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::error::{self as err, Error, Result, Status};
use crate::export::block::{self, Block, Hold};
use crate::export::{Description, Exporter, Owner, Parts};

use super::{deref, slice};

/// A description of memory to export: a typed, strided array inside a memory block.
///
/// - `buf`, `len`: the memory block `[buf, buf + len)`.
/// - `offset`: the byte offset of element 0 from `buf` (non-zero for negative strides).
/// - `readonly`: 1 if views must not be writable, else 0.
/// - `format`: a PEP 3118 format, or NULL for "B".
/// - `itemsize`: bytes per element, or 0 to take it from the format; must agree with it.
/// - `ndim`, `shape`: 0 to 64 dimensions; `shape` may be NULL only when ndim is 0.
/// - `strides`: NULL for C-contiguous.
/// - `suboffsets`: NULL, or PIL-style suboffsets (negative: none).
///
/// pybuf copies every array and the format; the caller keeps ownership of them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pybuf_exporter_desc {
    pub buf: *mut c_void,
    pub len: pybuf_ssize_t,
    pub offset: pybuf_ssize_t,
    pub readonly: c_int,
    pub format: *const c_char,
    pub itemsize: pybuf_ssize_t,
    pub ndim: c_int,
    pub shape: *const pybuf_ssize_t,
    pub strides: *const pybuf_ssize_t,
    pub suboffsets: *const pybuf_ssize_t,
}

/// An exporter of memory: opaque, atomically reference-counted. Created by
/// `pybuf_exporter_new`; each `pybuf_exporter_free` gives back one reference and each
/// filled view holds one until `pybuf_release`.
pub struct pybuf_exporter {
    _opaque: [u8; 0],
}

/// Called once, with the user pointer, when an exporter and every view of it are gone.
/// It may run on any thread that releases the last view or reference.
pub type pybuf_owner_fn = Option<unsafe extern "C" fn(user: *mut c_void)>;

/// A custom exporter's buffer functions, as CPython's `PyBufferProcs`.
///
/// - `getbuffer(exporter, view, flags)` fills `view` for the request `flags` and returns 0,
///   or returns a negative status (it may set no message; pybuf then writes one).
///   `pybuf_fill_view` does the work for an exporter that has a `pybuf_exporter_desc`.
/// - `releasebuffer(exporter, view)` (may be NULL) undoes what `getbuffer` did; it gets
///   the view with the `internal` value `getbuffer` set.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pybuf_procs {
    pub getbuffer: Option<unsafe extern "C" fn(exporter: *mut c_void, view: *mut pybuf_buffer, flags: c_int) -> c_int>,
    pub releasebuffer: Option<unsafe extern "C" fn(exporter: *mut c_void, view: *mut pybuf_buffer)>,
}

/// Anything that exports buffers: its functions and itself (CPython's `PyObject *` with
/// `tp_as_buffer`). `pybuf_exporter_as_object` makes one for a built-in exporter.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pybuf_object {
    pub procs: *const pybuf_procs,
    pub exporter: *mut c_void,
}

/// # Safety
/// `d`'s non-NULL pointers point to arrays of `ndim` entries (format to a C string).
pub(crate) unsafe fn parts<'a>(d: &'a pybuf_exporter_desc) -> Result<Parts<'a>> {
    let n = super::ndim(d.ndim)?;
    if d.readonly != 0 && d.readonly != 1 {
        return Err(Error::argument(format_args!("readonly = {} is not 0 or 1", d.readonly)));
    }
    // SAFETY: the arrays have ndim entries and format is a C string by the C contract.
    unsafe {
        Ok(Parts {
            base: d.buf.cast(),
            size: d.len,
            offset: d.offset,
            readonly: d.readonly == 1,
            format: (!d.format.is_null()).then(|| CStr::from_ptr(d.format).to_bytes()),
            itemsize: d.itemsize,
            shape: slice(d.shape, n, "shape")?,
            strides: (!d.strides.is_null()).then(|| std::slice::from_raw_parts(d.strides, n)),
            suboffsets: (!d.suboffsets.is_null()).then(|| std::slice::from_raw_parts(d.suboffsets, n)),
        })
    }
}

/// # Safety
/// `e` is NULL or a live handle from `pybuf_exporter_new`/`pybuf_exporter_clone`.
unsafe fn exporter<'a>(e: *const pybuf_exporter) -> Result<&'a Exporter> {
    // SAFETY: a live handle is an `Arc<Exporter>` pointer from `Arc::into_raw`.
    unsafe { deref(e.cast::<Exporter>(), "exporter") }
}

/// Create an exporter of the memory `desc` describes. The description is validated
/// (format, geometry, overflow, and that the array lies within `[buf, buf + len)`) and
/// copied. `owner`, if not NULL, is called once with `user` when the exporter and every
/// view of it are gone; the memory must stay valid until then.
///
/// On success `*out` is a new handle (free it with `pybuf_exporter_free`) and 0 is
/// returned. On failure `*out` is untouched, `owner` is never called, and a negative
/// status is returned.
///
/// # Safety
/// `desc` is NULL or points to a valid `pybuf_exporter_desc`: `format` NULL or
/// NUL-terminated, `shape`, `strides` and `suboffsets` NULL or of `ndim` entries, and `buf`
/// valid for `len` bytes until `owner` is called (or, without an owner, as long as the
/// exporter or a view of it lives). `owner` is NULL or a function safe to call once with
/// `user` from any thread. `out` is NULL or points to a writable `pybuf_exporter *`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_exporter_new(
    desc: *const pybuf_exporter_desc,
    owner: pybuf_owner_fn,
    user: *mut c_void,
    out: *mut *mut pybuf_exporter,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL desc points to a description by the C contract.
        let d = unsafe { deref(desc, "desc")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        // SAFETY: as above.
        let description = Description::new(&unsafe { parts(d)? })?;
        let owner = owner.map(|callback| Owner { callback, user });
        let handle = Arc::into_raw(Exporter::new(description, owner));
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { out.write(handle as *mut pybuf_exporter) };
        Ok(())
    })
}

/// A new reference to `e` (the same pointer), to hand to another thread or owner. Each
/// reference is given back with `pybuf_exporter_free`. Returns NULL if `e` is NULL.
///
/// # Safety
/// `e` is NULL or a live handle from `pybuf_exporter_new` or `pybuf_exporter_clone`, not
/// yet freed. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_exporter_clone(e: *mut pybuf_exporter) -> *mut pybuf_exporter {
    super::value(std::ptr::null_mut(), || {
        // SAFETY: a live handle by the C contract (checked non-NULL).
        unsafe { exporter(e)? };
        // SAFETY: `e` came from `Arc::into_raw` and its reference is alive.
        unsafe { Arc::increment_strong_count(e.cast::<Exporter>()) };
        Ok(e)
    })
}

/// Give back one reference to `e`. The memory stays exported while views of it are alive;
/// the owner callback runs when the last reference or view goes. NULL is a no-op.
///
/// # Safety
/// `e` is NULL or a live handle from `pybuf_exporter_new` or `pybuf_exporter_clone`, not
/// yet freed. Each reference is freed once, and not used afterwards. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_exporter_free(e: *mut pybuf_exporter) {
    super::status(|| {
        if !e.is_null() {
            // SAFETY: `e` is a live reference from `Arc::into_raw`, given back once.
            drop(unsafe { Arc::from_raw(e.cast::<Exporter>()) });
        }
        Ok(())
    });
}

/// Fill `view` for the request `flags` (PYBUF_*), as CPython's `_testbuffer.ndarray`
/// answers requests: PYBUF_WRITABLE on read-only memory fails; without PYBUF_FORMAT the
/// format is NULL ("B"); C_, F_ and ANY_CONTIGUOUS are checked; suboffsets need
/// PYBUF_INDIRECT; without PYBUF_STRIDES the memory must be C-contiguous and strides are
/// NULL; without PYBUF_ND shape is NULL, which is refused with PYBUF_FORMAT.
///
/// On success the view holds a reference to `e` and counts as a live export until
/// `pybuf_release(view)`, which must be given this same `pybuf_buffer` (not a copy of
/// it). `view->obj` is never read or written: it is the caller's (a Cython
/// `__getbuffer__` sets it to `self`; C callers may leave it NULL). The view's arrays and
/// format belong to the exporter. On failure `view` is untouched and the message names the
/// requirement that failed.
///
/// # Safety
/// `e` is NULL or a live handle from `pybuf_exporter_new` or `pybuf_exporter_clone`, not
/// yet freed. `view` is NULL or points to writable memory for a `pybuf_buffer`
/// (overwritten, not released). Thread-safe: any number of threads may export from and
/// release views of one exporter.
#[no_mangle]
pub unsafe extern "C" fn pybuf_exporter_get_buffer(
    e: *mut pybuf_exporter,
    view: *mut pybuf_buffer,
    flags: c_int,
) -> c_int {
    super::status(|| {
        // SAFETY: a live handle by the C contract (this checks it is not NULL).
        unsafe { exporter(e)? };
        // SAFETY: a non-NULL view is writable by the C contract.
        let view = unsafe { view.as_mut() }.ok_or_else(|| Error::null("view is NULL"))?;
        // Borrow the handle's reference as an Arc without consuming it.
        // SAFETY: `e` came from `Arc::into_raw` and its reference is alive for this call.
        let arc = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(e.cast::<Exporter>()) });
        arc.export(view, flags)
    })
}

/// The number of live views of `e` (filled and not yet released), or -1 with an error if
/// `e` is NULL.
///
/// # Safety
/// `e` is NULL or a live handle from `pybuf_exporter_new` or `pybuf_exporter_clone`, not
/// yet freed. Thread-safe (the count may change as soon as it is read).
#[no_mangle]
pub unsafe extern "C" fn pybuf_exporter_exports(e: *const pybuf_exporter) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a live handle by the C contract.
        Ok(unsafe { exporter(e)? }.exports() as pybuf_ssize_t)
    })
}

/// Replace the memory `e` exports with `desc` (validated and copied as by
/// `pybuf_exporter_new`), for example after resizing it. Refused with
/// PYBUF_STATUS_EXPORTS_EXIST while views are alive, as bytearray refuses to resize
/// ("Existing exports of data: object cannot be re-sized"). The owner callback is kept.
///
/// # Safety
/// `e` is NULL or a live handle from `pybuf_exporter_new` or `pybuf_exporter_clone`, not
/// yet freed. `desc` is NULL or points to a valid `pybuf_exporter_desc`: `format` NULL or
/// NUL-terminated, `shape`, `strides` and `suboffsets` NULL or of `ndim` entries, and `buf`
/// valid for `len` bytes until the exporter is replaced again or freed. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_exporter_replace(
    e: *mut pybuf_exporter,
    desc: *const pybuf_exporter_desc,
) -> c_int {
    super::status(|| {
        // SAFETY: a live handle and a valid description by the C contract.
        let (ex, d) = unsafe { (exporter(e)?, deref(desc, "desc")?) };
        // SAFETY: as above.
        let description = Description::new(&unsafe { parts(d)? })?;
        ex.replace(description)
    })
}

/// Fill `view` from `desc` for the request `flags`, with the same rules as
/// `pybuf_exporter_get_buffer`: the helper for a custom exporter's `getbuffer`. The
/// view owns copies of the arrays and format (so `desc`'s may change afterwards); the
/// memory must stay valid until the view is released. Release it with `pybuf_release`
/// (which `pybuf_object_get_buffer`'s views do by themselves).
///
/// # Safety
/// `view` is NULL or points to writable memory for a `pybuf_buffer` (overwritten, not
/// released). `desc` is NULL or points to a valid `pybuf_exporter_desc`: `format` NULL or
/// NUL-terminated, `shape`, `strides` and `suboffsets` NULL or of `ndim` entries, and `buf`
/// valid for `len` bytes until the view is released. Thread-safe for distinct views.
#[no_mangle]
pub unsafe extern "C" fn pybuf_fill_view(
    view: *mut pybuf_buffer,
    desc: *const pybuf_exporter_desc,
    flags: c_int,
) -> c_int {
    super::status(|| {
        // SAFETY: a valid description by the C contract.
        let d = unsafe { deref(desc, "desc")? };
        // SAFETY: a non-NULL view is writable by the C contract.
        let view = unsafe { view.as_mut() }.ok_or_else(|| Error::null("view is NULL"))?;
        // SAFETY: as above.
        let description = Description::new(&unsafe { parts(d)? })?;
        description.fill(view, flags)?;
        // Move the description into the view's own block; the view's pointers stay valid
        // because boxed slices and CStrings do not move their heap data.
        view.internal = block::register(Block::new(Hold::Owned(description)), view);
        Ok(())
    })
}

/// The built-in exporter's procs, so `pybuf_object_get_buffer` treats it like any other.
static EXPORTER_PROCS: pybuf_procs = pybuf_procs { getbuffer: Some(exporter_getbuffer), releasebuffer: None };

unsafe extern "C" fn exporter_getbuffer(e: *mut c_void, view: *mut pybuf_buffer, flags: c_int) -> c_int {
    // SAFETY: `e` is the handle `pybuf_exporter_as_object` stored.
    unsafe { pybuf_exporter_get_buffer(e.cast(), view, flags) }
}

/// A `pybuf_object` for the built-in exporter `e` (borrowed: it holds no reference).
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn pybuf_exporter_as_object(e: *mut pybuf_exporter) -> pybuf_object {
    pybuf_object { procs: &EXPORTER_PROCS, exporter: e.cast() }
}

/// Get a view of any exporter, built-in or custom, for the request `flags`: mirrors
/// `PyObject_GetBuffer`. On success the view is released with `pybuf_release`, which
/// calls the exporter's `releasebuffer`. The exporter fills `view` itself: on failure it
/// is as the exporter left it (pybuf's own exporters leave it untouched).
///
/// A custom exporter's view is checked (ndim, shape, itemsize, len) before it is
/// returned; a malformed one is released again, as by `pybuf_release` (its
/// `releasebuffer`, then anything pybuf filled it with, such as a `pybuf_fill_view` or a
/// delegated export), and refused with PYBUF_STATUS_BUFFER_REQUEST. A `getbuffer` that
/// fills the view through pybuf and then fails has that view given back too (without its
/// own `releasebuffer`). Either way the view is then marked released: `pybuf_release` of
/// it does nothing.
///
/// An exporter may delegate to others to any depth: its `getbuffer` may call
/// `pybuf_object_get_buffer` or `pybuf_exporter_get_buffer` on the same view. Releasing
/// the view calls each level's `releasebuffer` once, outermost first, and gives back each
/// export.
///
/// # Safety
/// `obj` is NULL or points to a valid `pybuf_object`: `procs` NULL or pointing to a
/// `pybuf_buffer_procs` whose functions follow the buffer protocol for `exporter`, both
/// alive until the view is released. `view` is NULL or points to writable memory for a
/// `pybuf_buffer` (overwritten, not released). Thread-safe if the exporter's functions are.
#[no_mangle]
pub unsafe extern "C" fn pybuf_object_get_buffer(
    obj: *const pybuf_object,
    view: *mut pybuf_buffer,
    flags: c_int,
) -> c_int {
    super::status(|| {
        // SAFETY: a valid object by the C contract.
        let o = unsafe { deref(obj, "obj")? };
        // SAFETY: as above.
        let procs = unsafe { o.procs.as_ref() }
            .ok_or_else(|| Error::request("obj has no procs: it does not support the buffer protocol"))?;
        let getbuffer =
            procs.getbuffer.ok_or_else(|| Error::request("obj has no getbuffer: it does not support the buffer protocol"))?;
        // SAFETY: a non-NULL view is writable by the C contract.
        let view = unsafe { view.as_mut() }.ok_or_else(|| Error::null("view is NULL"))?;
        crate::abi::check_flags(flags)?;
        // The exporter fills the caller's view itself, as in CPython, so that anything it
        // registers for the view's address stays valid.
        // Clear the thread's status, so that only a message the getbuffer itself records
        // (with a pybuf call that fails) is taken as its own.
        err::record_ok();
        // SAFETY: the exporter's own function, called as its procs say.
        let rc = unsafe { getbuffer(o.exporter, view, flags) };
        if rc != 0 {
            let error = exporter_error(rc);
            // A getbuffer that filled the view through pybuf (pybuf_fill_view, a built-in
            // exporter, another custom exporter) and then failed: nobody will release the
            // view, so give back what pybuf registered for it. `take` looks the address
            // up in the registry before it reads anything, and only a block registered
            // for this very view is taken (a view still live in the caller's hands is
            // never the output of a new request).
            if let block::Taken::Block(b) = block::take(view.internal, view) {
                block::release_block(view, b);
            }
            return Err(error);
        }
        if std::ptr::eq(procs, &EXPORTER_PROCS) {
            return Ok(());
        }
        let mut implied = [0; 1];
        // SAFETY: the exporter just filled this view.
        let checked = unsafe { super::view(view, &mut implied) }.map(|_| ());
        if let Err(e) = checked {
            // Undo the exporter's successful getbuffer as `pybuf_release` would: its
            // releasebuffer, then whatever pybuf registered for the view beneath it.
            let custom = Hold::Custom { release: procs.releasebuffer, exporter: o.exporter, internal: view.internal };
            block::release_block(view, Box::new(Block::new(custom)));
            return Err(Error::request(format_args!("the exporter filled a malformed view: {}", e.message())));
        }
        let custom = Hold::Custom { release: procs.releasebuffer, exporter: o.exporter, internal: view.internal };
        view.internal = block::register(Block::new(custom), view);
        Ok(())
    })
}

/// The error for a failed `getbuffer`: its own message if it recorded one with this status
/// during the call (the status was cleared before it).
fn exporter_error(rc: c_int) -> Error {
    match Status::from_raw(rc) {
        Some(s) if s != Status::Ok && err::last_status() == s => {
            // SAFETY: the thread's message is a valid C string until the next record.
            let msg = unsafe { CStr::from_ptr(err::last_message_ptr()) }.to_string_lossy().into_owned();
            Error::new(s, msg)
        }
        Some(s) if s != Status::Ok => Error::new(s, format_args!("the exporter's getbuffer failed with {}", s.name())),
        _ => Error::request(format_args!("the exporter's getbuffer failed with status {rc}")),
    }
}
