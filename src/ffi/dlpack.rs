//! DLPack: a view to a `DLManagedTensorVersioned` (or a legacy `DLManagedTensor`), and a
//! tensor to a view. The conversions are in `crate::interop::dlpack`; this file does the
//! lifetimes.
//!
//! - A tensor made by pybuf owns copies of the shape and strides, and what keeps the
//!   memory alive: an export of the built-in exporter the view came from (counted by
//!   `pybuf_exporter_exports`), or a reference to the tensor a view came from, plus an
//!   optional owner callback. Its deleter gives all of that back, once.
//! - A view filled from a tensor owns the tensor: `pybuf_release` calls its deleter.

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::abi::{pybuf_buffer, PYBUF_WRITABLE};
use crate::error::{Error, Result};
use crate::export::block::{self, Block, Hold};
use crate::export::{Description, Owner, Parts};
use crate::interop::dlpack::{
    self as dl, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLPackVersion, DLTensor,
    DLPACK_FLAG_BITMASK_READ_ONLY,
};
use crate::view::ExportRef;

use super::exporter::pybuf_owner_fn;
use super::{c_str, deref};

// -------------------------------------------------------------------------------------
// view -> tensor

/// What keeps the memory of a tensor made by pybuf alive (held, never read: dropping it
/// gives it back).
#[allow(dead_code)]
enum Keep {
    /// Nothing pybuf knows of: the caller keeps the memory alive (or passed an owner).
    Nothing,
    /// An export of the built-in exporter of the memory.
    Export(ExportRef),
    /// The tensor the view was filled from.
    Import(Arc<Import>),
}

/// Behind `manager_ctx` of a tensor made by pybuf: the tensor itself (at a stable heap
/// address), the arrays it points to, and what it keeps alive.
struct Managed<T> {
    tensor: T,
    shape: Vec<i64>,
    strides: Vec<i64>,
    keep: Keep,
    owner: Option<Owner>,
}

impl<T> Drop for Managed<T> {
    fn drop(&mut self) {
        // Give the memory back first, then tell the owner.
        self.keep = Keep::Nothing;
        if let Some(owner) = self.owner.take() {
            // SAFETY: the caller of `pybuf_to_dlpack` gave this callback and pointer for
            // exactly this call, made once, when the tensor's deleter runs.
            unsafe { (owner.callback)(owner.user) };
        }
    }
}

/// The parts of a tensor for a view: data, dtype, shape and element strides, read-only.
struct Made {
    data: *mut c_void,
    ndim: i32,
    dtype: dl::DLDataType,
    layout: dl::TensorLayout,
    readonly: bool,
    keep: Keep,
}

/// # Safety
/// `view` is a valid view (arrays of `ndim` entries, a C string format) that no other
/// thread releases during the call.
unsafe fn make(view: &pybuf_buffer) -> Result<Made> {
    let mut implied = [0; 1];
    // SAFETY: forwarded from the caller.
    let v = unsafe { super::view(view, &mut implied)? };
    if v.no_item {
        return Err(Error::unrepresentable(
            "the view is 0-d with len = 0 (no shape): it holds no item, and a 0-d DLPack tensor holds one",
        ));
    }
    // A shapeless 1-d view is unsigned bytes, whatever its format says (PEP 3118); a 0-d
    // view has no shape and keeps its format.
    let format = if (view.shape.is_null() && view.ndim == 1) || view.format.is_null() {
        None
    } else {
        // SAFETY: a non-NULL format is a C string by the C contract.
        Some(unsafe { c_str(view.format, "format")? })
    };
    let dtype = dl::dtype_from_format(format, v.geom.itemsize)?;
    let layout = dl::tensor_layout(&v.geom)?;
    Ok(Made {
        data: v.buf.cast(),
        ndim: v.geom.ndim() as i32,
        dtype,
        layout,
        readonly: v.readonly,
        keep: keep_alive(view.internal),
    })
}

/// What keeps a view's memory alive, if pybuf filled it from something it can hold.
fn keep_alive(internal: *mut c_void) -> Keep {
    block::with_block(internal, |b| match &b.hold {
        Hold::Exporter(e) => Keep::Export(ExportRef::new(e)),
        Hold::Derived(owned) => match (&owned.export, &owned.shared) {
            (Some(r), _) => Keep::Export(r.again()),
            (None, Some(a)) => a.clone().downcast::<Import>().map_or(Keep::Nothing, Keep::Import),
            (None, None) => Keep::Nothing,
        },
        hold => hold.shared::<Import>().map_or(Keep::Nothing, Keep::Import),
    })
    .unwrap_or(Keep::Nothing)
}

fn owner_of(owner: pybuf_owner_fn, user: *mut c_void) -> Option<Owner> {
    owner.map(|callback| Owner { callback, user })
}

fn dl_tensor(m: &Made) -> DLTensor {
    DLTensor {
        data: m.data,
        device: DLDevice { device_type: dl::kDLCPU, device_id: 0 },
        ndim: m.ndim,
        dtype: m.dtype,
        shape: std::ptr::null_mut(),
        strides: std::ptr::null_mut(),
        byte_offset: 0,
    }
}

/// Move `managed` to the heap, point its tensor at its arrays and at itself, and return
/// the tensor's address.
fn publish<T>(mut managed: Box<Managed<T>>, tensor: impl Fn(&mut T) -> (&mut DLTensor, &mut *mut c_void)) -> *mut T {
    let (shape, strides) = (managed.shape.as_mut_ptr(), managed.strides.as_mut_ptr());
    let ndim = managed.shape.len();
    let (t, _) = tensor(&mut managed.tensor);
    if ndim > 0 {
        t.shape = shape;
        t.strides = strides;
    }
    let raw = Box::into_raw(managed);
    // SAFETY: `raw` is the live box just leaked; its tensor is at a stable address.
    let managed = unsafe { &mut *raw };
    let (_, ctx) = tensor(&mut managed.tensor);
    *ctx = raw.cast();
    &mut managed.tensor
}

/// Box `tensor` with the arrays and references that keep its memory alive, and write the
/// published tensor to `out` (one body for the versioned and the legacy struct).
///
/// # Safety
/// `out` is non-NULL and writable.
unsafe fn hand_out<T>(
    made: Made,
    tensor: T,
    owner: Option<Owner>,
    out: *mut *mut T,
    fields: impl Fn(&mut T) -> (&mut DLTensor, &mut *mut c_void),
) {
    let managed = Box::new(Managed {
        tensor,
        shape: made.layout.shape,
        strides: made.layout.strides,
        keep: made.keep,
        owner,
    });
    // SAFETY: forwarded from the caller.
    unsafe { out.write(publish(managed, fields)) };
}

unsafe extern "C" fn delete_versioned(t: *mut DLManagedTensorVersioned) {
    if t.is_null() {
        return;
    }
    // A deleter has no way to report a panic: it is contained here.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `t` is a tensor made by `pybuf_to_dlpack`, whose manager_ctx is its
        // `Managed` box; the DLPack contract calls the deleter once.
        drop(unsafe { Box::from_raw((*t).manager_ctx.cast::<Managed<DLManagedTensorVersioned>>()) });
    }));
}

unsafe extern "C" fn delete_legacy(t: *mut DLManagedTensor) {
    if t.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `delete_versioned`, for `pybuf_to_dlpack_legacy`.
        drop(unsafe { Box::from_raw((*t).manager_ctx.cast::<Managed<DLManagedTensor>>()) });
    }));
}

/// Make a DLPack 1.x tensor of the memory `view` describes, without copying: `data` is
/// `view->buf` (`byte_offset` 0), the shape is the view's, the strides are the view's
/// byte strides divided by the item size, the dtype comes from the format, the device is
/// `kDLCPU`, the version DLPack 1.1, and `DLPACK_FLAG_BITMASK_READ_ONLY` is set when the
/// view is read-only.
///
/// Refused with `PYBUF_STATUS_UNREPRESENTABLE` and a message naming the value: a format
/// that is not one native scalar (structs, several values, another byte order, long
/// double, strings, pointers), a suboffset >= 0, a stride that is not a multiple of the
/// item size (on a dimension longer than 1). Other errors: `PYBUF_STATUS_NULL_POINTER`,
/// a malformed view (as `pybuf_is_contiguous` reports it), a malformed format.
///
/// Lifetime: the tensor must not outlive the memory. When pybuf filled `view` from a
/// built-in exporter (`pybuf_exporter_get_buffer`, or a view derived from one), the
/// tensor holds an export of it, so the memory stays alive and exported until the
/// deleter runs, whatever happens to `view`. When pybuf filled `view` from a DLPack
/// tensor (`pybuf_from_dlpack*`), or derived it from such a view, the tensor holds that
/// one. For any other view (from
/// CPython, numpy, `pybuf_fill_info`, a custom exporter) the caller keeps the memory
/// alive until the deleter runs, for example by passing `owner`.
///
/// `owner` (may be NULL) is called once with `user` when the deleter runs, after pybuf
/// has given back what it holds; it may run on any thread that calls the deleter.
/// `view` is only read; it may be released as soon as this returns.
///
/// On success `*out` is a new tensor and 0 is returned: its consumer calls its deleter
/// exactly once (which frees it). On failure `*out` is untouched and `owner` is never
/// called.
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; its memory is not
/// read. Its memory stays valid until the tensor's deleter runs (pass `owner` to be told).
/// `owner` is NULL or a function safe to call once with `user` from the thread that runs
/// the deleter. `out` is NULL or points to a writable `DLManagedTensorVersioned *`.
/// Thread-safe; no other thread may release `view` during the call.
#[no_mangle]
pub unsafe extern "C" fn pybuf_to_dlpack(
    view: *const pybuf_buffer,
    owner: pybuf_owner_fn,
    user: *mut c_void,
    out: *mut *mut DLManagedTensorVersioned,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view points to a valid view by the C contract.
        let v = unsafe { deref(view, "view")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        // SAFETY: as above.
        let made = unsafe { make(v)? };
        let tensor = DLManagedTensorVersioned {
            version: DLPackVersion { major: dl::DLPACK_MAJOR_VERSION, minor: dl::DLPACK_MINOR_VERSION },
            manager_ctx: std::ptr::null_mut(),
            deleter: Some(delete_versioned),
            flags: if made.readonly { DLPACK_FLAG_BITMASK_READ_ONLY } else { 0 },
            dl_tensor: dl_tensor(&made),
        };
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { hand_out(made, tensor, owner_of(owner, user), out, |t| (&mut t.dl_tensor, &mut t.manager_ctx)) };
        Ok(())
    })
}

/// `pybuf_to_dlpack` for a consumer of the legacy (pre-1.0) `DLManagedTensor`, which
/// has no version and no flags. A read-only view is refused with
/// `PYBUF_STATUS_READ_ONLY`, since the tensor could not say so (NumPy refuses the same);
/// everything else is as for `pybuf_to_dlpack`, with the deleter `DLManagedTensor`'s.
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; its memory is not
/// read. Its memory stays valid until the tensor's deleter runs (pass `owner` to be told).
/// `owner` is NULL or a function safe to call once with `user` from the thread that runs
/// the deleter. `out` is NULL or points to a writable `DLManagedTensor *`. Thread-safe; no
/// other thread may release `view` during the call.
#[no_mangle]
pub unsafe extern "C" fn pybuf_to_dlpack_legacy(
    view: *const pybuf_buffer,
    owner: pybuf_owner_fn,
    user: *mut c_void,
    out: *mut *mut DLManagedTensor,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view points to a valid view by the C contract.
        let v = unsafe { deref(view, "view")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        // SAFETY: as above.
        let made = unsafe { make(v)? };
        if made.readonly {
            return Err(Error::readonly(
                "the view is read-only and a legacy DLManagedTensor cannot say so: use pybuf_to_dlpack",
            ));
        }
        let tensor =
            DLManagedTensor { dl_tensor: dl_tensor(&made), manager_ctx: std::ptr::null_mut(), deleter: Some(delete_legacy) };
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { hand_out(made, tensor, owner_of(owner, user), out, |t| (&mut t.dl_tensor, &mut t.manager_ctx)) };
        Ok(())
    })
}

// -------------------------------------------------------------------------------------
// tensor -> view

/// A tensor a view was filled from.
#[derive(Clone, Copy)]
enum Tensor {
    Versioned(*mut DLManagedTensorVersioned),
    Legacy(*mut DLManagedTensor),
}

/// What a view filled from a tensor owns: the description its arrays point into, and the
/// tensor, whose deleter runs when the last holder (the view, tensors made from it) goes.
struct Import {
    /// Never read: the view's shape, strides and format point into its heap data.
    #[allow(dead_code)]
    description: Description,
    tensor: Tensor,
}

// SAFETY: the description only carries addresses; the tensor pointer is used once, to call
// its deleter, from whichever thread drops the last reference (DLPack deleters may be
// called from any thread; NumPy's takes the GIL).
unsafe impl Send for Import {}
// SAFETY: shared access never touches the tensor (only Drop does, with exclusive access).
unsafe impl Sync for Import {}

impl Drop for Import {
    fn drop(&mut self) {
        // SAFETY: the caller of `pybuf_from_dlpack*` gave the tensor to the view, and this
        // is the one place its deleter is called.
        unsafe {
            match self.tensor {
                Tensor::Versioned(t) => {
                    if let Some(delete) = (*t).deleter {
                        delete(t);
                    }
                }
                Tensor::Legacy(t) => {
                    if let Some(delete) = (*t).deleter {
                        delete(t);
                    }
                }
            }
        }
    }
}

/// Fill `view` for `flags` from the tensor `dl` (owned by `tensor`); on success the view
/// owns `tensor`.
///
/// # Safety
/// `dl`'s shape and strides point to `ndim` entries each (or are NULL); its memory is valid.
unsafe fn import(dl_tensor: &DLTensor, readonly: bool, tensor: Tensor, view: &mut pybuf_buffer, flags: c_int) -> Result<()> {
    dl::check_device(dl_tensor.device)?;
    let n = super::ndim(dl_tensor.ndim)?;
    let (format, itemsize) = dl::format_from_dtype(dl_tensor.dtype)?;
    if n > 0 && dl_tensor.shape.is_null() {
        return Err(Error::shape(format_args!("shape is NULL with ndim = {n}")));
    }
    // SAFETY: shape has ndim entries by the DLPack contract (checked non-NULL when n > 0).
    let shape = unsafe { super::slice(dl_tensor.shape, n, "shape")? };
    // NULL strides: C-contiguous (DLPack before 1.0 allowed it; it is unambiguous).
    // SAFETY: as above for strides.
    let strides = (!dl_tensor.strides.is_null()).then(|| unsafe { std::slice::from_raw_parts(dl_tensor.strides, n) });
    let layout = dl::view_layout(shape, strides, itemsize)?;
    let offset = isize::try_from(dl_tensor.byte_offset)
        .map_err(|_| Error::overflow(format_args!("byte_offset = {} overflows pybuf_ssize_t", dl_tensor.byte_offset)))?;
    if dl_tensor.data.is_null() && layout.hi > layout.lo {
        return Err(Error::null(format_args!("data is NULL with {} bytes to reach", layout.hi - layout.lo)));
    }
    let start = dl_tensor.data.cast::<u8>().wrapping_offset(offset);
    let description = Description::new(&Parts {
        base: start.wrapping_offset(layout.lo),
        size: layout.hi - layout.lo,
        offset: -layout.lo,
        readonly,
        format: Some(format.as_bytes()),
        itemsize,
        shape: &layout.shape,
        strides: Some(&layout.strides),
        suboffsets: None,
    })?;
    description.fill(view, flags)?;
    // The view's arrays point into the description's heap data, which stays where it is.
    let import = Arc::new(Import { description, tensor });
    view.internal = block::register(Block::new(Hold::Shared(import)), view);
    Ok(())
}

/// Fill `view` from the DLPack 1.x tensor `tensor` for the request `flags` (PYBUF_*,
/// with the rules of `pybuf_exporter_get_buffer`), without copying: `buf` is `data +
/// byte_offset`, the shape is the tensor's, the strides are its element strides times the
/// item size (NULL strides mean C-contiguous), the format is the dtype's (`?`, `bhiq`,
/// `BHIQ`, `efd`, `Zf`, `Zd`), and the view is read-only when the tensor's flags have
/// `DLPACK_FLAG_BITMASK_READ_ONLY` (PYBUF_WRITABLE is then refused with
/// `PYBUF_STATUS_READ_ONLY`).
///
/// Refused: a major version other than 1 (`PYBUF_STATUS_UNSUPPORTED_VERSION`), memory the
/// CPU cannot address (`PYBUF_STATUS_UNSUPPORTED_DEVICE`; `kDLCPU`, `kDLCUDAHost`,
/// `kDLROCMHost` and `kDLCUDAManaged` are read), a dtype with no PEP 3118 format (vector
/// lanes, bfloat16, 8/6/4-bit floats, 128-bit floats: `PYBUF_STATUS_UNREPRESENTABLE`),
/// ndim outside 0..=64, a negative shape, overflow, NULL data with elements, and a request
/// the tensor cannot satisfy.
///
/// Ownership: on success the view owns the tensor. `pybuf_release(view)` (of this very
/// `pybuf_buffer`, not a copy) calls its deleter, unless a view derived from it
/// (`pybuf_slice`, `pybuf_transpose`, ...) or a tensor made from it or them by
/// `pybuf_to_dlpack` still holds it: then the last of them to be released does. `view->obj` is left as
/// it was. On failure nothing is written, and the tensor is still the caller's, who must
/// call its deleter (DLPack requires this after a version mismatch too).
///
/// # Safety
/// `view` is NULL or points to writable memory for a `pybuf_buffer` (overwritten, not
/// released). `tensor` is NULL or a valid `DLManagedTensorVersioned` whose `shape` (and
/// `strides`, if not NULL) hold `ndim` entries, that nobody else will call the deleter of
/// once this succeeds. Thread-safe for distinct views; the deleter may run on the thread
/// that releases.
#[no_mangle]
pub unsafe extern "C" fn pybuf_from_dlpack(
    view: *mut pybuf_buffer,
    tensor: *mut DLManagedTensorVersioned,
    flags: c_int,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view is writable by the C contract.
        let view = unsafe { view.as_mut() }.ok_or_else(|| Error::null("view is NULL"))?;
        // SAFETY: a non-NULL tensor is a valid DLPack tensor by the C contract.
        let t = unsafe { deref(tensor, "tensor")? };
        dl::check_version(t.version)?;
        let readonly = t.flags & DLPACK_FLAG_BITMASK_READ_ONLY != 0;
        if readonly && flags & PYBUF_WRITABLE != 0 {
            return Err(Error::readonly("PYBUF_WRITABLE requested but the tensor is read-only"));
        }
        // SAFETY: as above.
        unsafe { import(&t.dl_tensor, readonly, Tensor::Versioned(tensor), view, flags) }
    })
}

/// `pybuf_from_dlpack` for a legacy (pre-1.0) `DLManagedTensor`, which has no version
/// and no flags: the view is writable (a legacy producer cannot mark memory read-only;
/// NumPy refuses to export read-only arrays so). Everything else, ownership included, is
/// as for `pybuf_from_dlpack`.
///
/// # Safety
/// `view` is NULL or points to writable memory for a `pybuf_buffer` (overwritten, not
/// released). `tensor` is NULL or a valid `DLManagedTensor` whose `shape` (and `strides`,
/// if not NULL) hold `ndim` entries, that nobody else will call the deleter of once this
/// succeeds. Thread-safe for distinct views; the deleter may run on the thread that
/// releases.
#[no_mangle]
pub unsafe extern "C" fn pybuf_from_dlpack_legacy(
    view: *mut pybuf_buffer,
    tensor: *mut DLManagedTensor,
    flags: c_int,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view is writable by the C contract.
        let view = unsafe { view.as_mut() }.ok_or_else(|| Error::null("view is NULL"))?;
        // SAFETY: a non-NULL tensor is a valid DLPack tensor by the C contract.
        let t = unsafe { deref(tensor, "tensor")? };
        // SAFETY: as above.
        unsafe { import(&t.dl_tensor, false, Tensor::Legacy(tensor), view, flags) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::*;
    use crate::error::{last_message_ptr, last_status, Status};
    use crate::ffi::buffer::{pybuf_fill_info, pybuf_release};
    use crate::ffi::exporter::{pybuf_exporter_desc, pybuf_exporter_exports, pybuf_exporter_free, pybuf_exporter_get_buffer, pybuf_exporter_new};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn message() -> String {
        // SAFETY: the thread's message is a C string until the next call.
        unsafe { std::ffi::CStr::from_ptr(last_message_ptr()) }.to_string_lossy().into_owned()
    }

    static OWNED: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn count_owner(_: *mut c_void) {
        OWNED.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn exporter_memory_round_trips_and_lives_until_the_deleter() {
        let mut data: Vec<f64> = (0..12).map(f64::from).collect();
        let shape = [3isize, 4];
        let strides = [8isize, 24]; // Fortran order
        let desc = pybuf_exporter_desc {
            buf: data.as_mut_ptr().cast(),
            len: 96,
            offset: 0,
            readonly: 0,
            format: c"d".as_ptr(),
            itemsize: 0,
            ndim: 2,
            shape: shape.as_ptr(),
            strides: strides.as_ptr(),
            suboffsets: std::ptr::null(),
        };
        let before = OWNED.load(Ordering::SeqCst);
        let mut e = std::ptr::null_mut();
        // SAFETY: valid arguments; the memory outlives the exporter (checked by OWNED).
        unsafe {
            assert_eq!(pybuf_exporter_new(&desc, Some(count_owner), std::ptr::null_mut(), &mut e), 0);
            let mut view = pybuf_buffer::zeroed();
            assert_eq!(pybuf_exporter_get_buffer(e, &mut view, PYBUF_RECORDS_RO), 0);
            let mut t = std::ptr::null_mut();
            assert_eq!(pybuf_to_dlpack(&view, None, std::ptr::null_mut(), &mut t), 0, "{}", message());
            pybuf_release(&mut view);
            pybuf_exporter_free(e);
            assert_eq!(pybuf_exporter_exports(e), 1, "the tensor holds an export");
            let dl = &(*t).dl_tensor;
            assert_eq!((dl.ndim, dl.dtype, (*t).flags), (2, dl::DLDataType { code: dl::kDLFloat, bits: 64, lanes: 1 }, 0));
            assert_eq!(std::slice::from_raw_parts(dl.shape, 2), [3, 4]);
            assert_eq!(std::slice::from_raw_parts(dl.strides, 2), [1, 3]);
            assert_eq!(dl.data, data.as_mut_ptr().cast());
            assert_eq!((*t).version, DLPackVersion { major: 1, minor: 1 });

            // ... and back: a view that owns the tensor.
            let mut back = pybuf_buffer::zeroed();
            assert_eq!(pybuf_from_dlpack(&mut back, t, PYBUF_FULL), 0, "{}", message());
            assert_eq!((back.buf, back.len, back.itemsize, back.ndim, back.readonly), (data.as_mut_ptr().cast(), 96, 8, 2, 0));
            assert_eq!(std::ffi::CStr::from_ptr(back.format).to_bytes(), b"d");
            assert_eq!(std::slice::from_raw_parts(back.strides, 2), [8, 24]);
            assert_eq!(OWNED.load(Ordering::SeqCst), before);
            pybuf_release(&mut back);
        }
        assert_eq!(OWNED.load(Ordering::SeqCst), before + 1, "the deleter gave the export back");
    }

    #[test]
    fn refusals_leave_out_untouched() {
        let mut bytes = [0u8; 8];
        let mut view = pybuf_buffer::zeroed();
        let shape = [2isize];
        let strides = [4isize];
        // SAFETY: valid arguments.
        unsafe {
            assert_eq!(pybuf_fill_info(&mut view, std::ptr::null_mut(), bytes.as_mut_ptr().cast(), 8, 1, PYBUF_FULL_RO), 0);
            let sentinel = 0x10 as *mut DLManagedTensor;
            let mut legacy = sentinel;
            assert_eq!(pybuf_to_dlpack_legacy(&view, None, std::ptr::null_mut(), &mut legacy), Status::ReadOnly as c_int);
            assert_eq!(legacy, sentinel);
            let mut odd = view;
            odd.format = c"h".as_ptr().cast_mut();
            odd.itemsize = 2;
            odd.shape = shape.as_ptr().cast_mut();
            odd.strides = strides.as_ptr().cast_mut();
            odd.len = 4;
            odd.ndim = 1;
            let mut t = std::ptr::null_mut();
            let bad = [3isize];
            odd.strides = bad.as_ptr().cast_mut();
            assert_eq!(pybuf_to_dlpack(&odd, Some(count_owner), std::ptr::null_mut(), &mut t), Status::Unrepresentable as c_int);
            assert_eq!(message(), "strides[0] = 3 is not a multiple of itemsize 2: DLPack strides count elements");
            assert!(t.is_null());
            assert_eq!(pybuf_to_dlpack(&view, None, std::ptr::null_mut(), std::ptr::null_mut()), Status::NullPointer as c_int);
            assert_eq!(last_status(), Status::NullPointer);
            pybuf_release(&mut view);
        }
    }
}
