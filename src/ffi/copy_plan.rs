//! Copy plans: a copy between two view geometries planned once and executed many times,
//! whole, on threads of pybuf's own, or part by part on the caller's threads.

#![allow(non_camel_case_types)]

use std::ffi::{c_int, c_void};

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::copy::Prepared;
use crate::error::{Error, Result};

use super::deref;

/// A copy planned once for a destination and a source geometry (shape, strides,
/// itemsize), executed at any base addresses: opaque. Made by `pybuf_copy_plan_new`,
/// freed by `pybuf_copy_plan_free` (its only destructor). Immutable after creation except
/// for `pybuf_copy_plan_set_threads`: any number of threads may execute one plan, or its
/// parts, at the same time.
pub struct pybuf_copy_plan {
    plan: Prepared,
}

/// A plan from a C pointer, or a NullPointer error.
///
/// # Safety
/// `plan` is NULL or a live plan.
unsafe fn plan_ref<'a>(plan: *const pybuf_copy_plan) -> Result<&'a Prepared> {
    // SAFETY: forwarded.
    Ok(&unsafe { deref(plan, "plan")? }.plan)
}

/// The base pointers of an execution: NULL only for a copy of no bytes.
fn bases(p: &Prepared, dst_buf: *mut c_void, src_buf: *const c_void) -> Result<(*mut u8, *const u8)> {
    if !p.is_empty() && (dst_buf.is_null() || src_buf.is_null()) {
        let which = if dst_buf.is_null() { "dst_buf" } else { "src_buf" };
        return Err(Error::null(format_args!("{which} is NULL")));
    }
    Ok((dst_buf as *mut u8, src_buf as *const u8))
}

/// Plan a copy of every element of a view shaped as `src` into the element of a view
/// shaped as `dst` with the same index (as `pybuf_copy` does), to be executed by
/// `pybuf_copy_plan_execute` at any base addresses: the views' `buf` are not used, and
/// their strides are byte offsets from the base pointers given to each execution.
/// Planning checks the geometries, orders and merges the axes, chooses the kernel, splits
/// the work into parts and allocates the plan's staging buffers; executing does none of
/// this and allocates nothing.
///
/// A contiguous side is a view with C (or F) strides, so a plan also serves
/// `pybuf_to_contiguous` and `pybuf_from_contiguous` of full length.
///
/// `flags` must be 0 (reserved). Refused, with `*out` untouched: NULL or malformed views
/// (the view's status), different shapes or itemsizes (PYBUF_STATUS_SHAPE_MISMATCH), a
/// read-only `dst` (PYBUF_STATUS_READ_ONLY), a `dst` with a zero stride
/// (PYBUF_STATUS_INVALID_STRIDES), a view with suboffsets (PYBUF_STATUS_UNREPRESENTABLE:
/// use `pybuf_copy`), non-zero flags (PYBUF_STATUS_INVALID_ARGUMENT), no memory
/// (PYBUF_STATUS_OUT_OF_MEMORY). On success `*out` is the plan, owned by the caller, who
/// frees it with `pybuf_copy_plan_free`.
///
/// # Safety
/// `dst` and `src` are NULL or point to valid views: their `shape` and `strides` are NULL
/// or hold `ndim` entries, `format` is NULL or NUL-terminated (their memory is not read).
/// `out` is NULL or writable. The plan keeps no pointer into the views. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_copy_plan_new(
    dst: *const pybuf_buffer,
    src: *const pybuf_buffer,
    flags: c_int,
    out: *mut *mut pybuf_copy_plan,
) -> c_int {
    super::status(|| {
        // SAFETY: non-NULL views point to pybuf_buffers by the C contract.
        let (mut d, mut s) = unsafe { (*deref(dst, "dst")?, *deref(src, "src")?) };
        // The views' memory is not used: a NULL `buf` stands for any base address.
        for v in [&mut d, &mut s] {
            if v.buf.is_null() {
                v.buf = std::ptr::NonNull::<u8>::dangling().as_ptr().cast();
            }
        }
        let (mut i1, mut i2) = ([0; 1], [0; 1]);
        // SAFETY: the views' arrays have ndim entries by the C contract.
        let (d, s) = unsafe { (super::view(&d, &mut i1)?, super::view(&s, &mut i2)?) };
        if flags != 0 {
            return Err(Error::argument(format_args!("flags = {flags:#x}: no copy plan flags are defined yet (pass 0)")));
        }
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        crate::copy::check_same_structure(&d.geom, &s.geom)?;
        if d.readonly {
            return Err(Error::readonly("dst is read-only"));
        }
        let plan = Box::new(pybuf_copy_plan { plan: Prepared::new(&d.geom, &s.geom)? });
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { *out = Box::into_raw(plan) };
        Ok(())
    })
}

/// Execute a plan: copy every element of the source view at `src_buf` into the
/// destination view at `dst_buf` (the geometries the plan was made for, at these base
/// addresses). Runs on the calling thread, or on up to the plan's thread count
/// (`pybuf_copy_plan_set_threads`; the calling thread and threads started for this call,
/// joined before it returns). Allocates nothing (thread stacks aside).
///
/// Overlap: the two extents are compared (a few additions). Overlapping memory of one
/// layout (a shifted slice of one array) is copied in place on the calling thread, as
/// `pybuf_copy` does; other overlaps are refused with PYBUF_STATUS_INVALID_ARGUMENT and
/// nothing written (use `pybuf_copy`). NULL `plan` or bases (of a copy of any bytes):
/// PYBUF_STATUS_NULL_POINTER. Returns 0 on success.
///
/// # Safety
/// `plan` is NULL or a live plan. `dst_buf + k` is writable for every element offset `k`
/// of the plan's destination geometry and `src_buf + k` readable for the source's, during
/// the call. Thread-safe: any number of executions of one plan may run at once (on
/// different destinations).
#[no_mangle]
pub unsafe extern "C" fn pybuf_copy_plan_execute(
    plan: *const pybuf_copy_plan,
    dst_buf: *mut c_void,
    src_buf: *const c_void,
) -> c_int {
    super::status(|| {
        // SAFETY: a live plan by the C contract.
        let p = unsafe { plan_ref(plan)? };
        let (d, s) = bases(p, dst_buf, src_buf)?;
        // SAFETY: the bases are valid for the plan's geometries by the C contract.
        unsafe { p.execute(d, s) }
    })
}

/// The number of independent parts of a plan (at least 1), for running them on the
/// caller's own threads (OpenMP, TBB, a thread pool) with `pybuf_copy_plan_execute_part`.
/// Parts hold about 512 KiB of output each (a copy smaller than that has one part), split
/// along the destination's outermost axis (for a 2-D transpose, its rows), so that no two
/// parts write one 64-byte cache line. Returns -1 if `plan` is NULL.
///
/// # Safety
/// `plan` is NULL or a live plan. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_copy_plan_parts(plan: *const pybuf_copy_plan) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a live plan by the C contract.
        let p = unsafe { plan_ref(plan)? };
        Ok(p.parts() as pybuf_ssize_t)
    })
}

/// Execute part `part` (0 to `pybuf_copy_plan_parts(plan) - 1`) of a plan, on the calling
/// thread. Executing every part once, in any order, on any threads, at the same time or
/// not, with the same `dst_buf` and `src_buf`, copies the whole view; the copy is complete
/// when all have returned (the caller's join or barrier orders it). Where parts end
/// depends on `dst_buf`, so the parts of one copy must share it. Allocates nothing.
///
/// Refused with nothing written: a `part` out of range (PYBUF_STATUS_INDEX_OUT_OF_RANGE),
/// overlapping memory (PYBUF_STATUS_INVALID_ARGUMENT: execute the whole plan, or use
/// `pybuf_copy`), NULL `plan` or bases (PYBUF_STATUS_NULL_POINTER). Returns 0 on success.
///
/// # Safety
/// As for `pybuf_copy_plan_execute`, for the elements of this part. Thread-safe: parts of
/// one copy, and of different copies, may run at once.
#[no_mangle]
pub unsafe extern "C" fn pybuf_copy_plan_execute_part(
    plan: *const pybuf_copy_plan,
    part: pybuf_ssize_t,
    dst_buf: *mut c_void,
    src_buf: *const c_void,
) -> c_int {
    super::status(|| {
        // SAFETY: a live plan by the C contract.
        let p = unsafe { plan_ref(plan)? };
        let part = usize::try_from(part)
            .map_err(|_| Error::index(format_args!("part = {part} is negative")))?;
        let (d, s) = bases(p, dst_buf, src_buf)?;
        // SAFETY: the bases are valid for this part's elements by the C contract.
        unsafe { p.execute_part(part, d, s) }
    })
}

/// Set how many threads `pybuf_copy_plan_execute` may use (1, the default, to
/// `PYBUF_COPY_PLAN_MAX_THREADS`): the calling thread and up to `threads - 1` threads
/// started for each execution and joined before it returns (never more than one per 8
/// parts, about 4 MiB of output: smaller copies run on the calling thread). pybuf starts
/// no thread for a plan whose count is 1. The count also sizes the
/// plan's staging buffers (of large transposes) for as many concurrent executions or
/// parts: set it to the number of threads that run parts at once, too. Returns 0, or
/// PYBUF_STATUS_INVALID_ARGUMENT for a count out of range, PYBUF_STATUS_NULL_POINTER,
/// PYBUF_STATUS_OUT_OF_MEMORY (the plan is then unchanged).
///
/// # Safety
/// `plan` is NULL or a live plan that no other thread is using during the call (this is
/// the one call that changes a plan).
#[no_mangle]
pub unsafe extern "C" fn pybuf_copy_plan_set_threads(plan: *mut pybuf_copy_plan, threads: c_int) -> c_int {
    super::status(|| {
        // SAFETY: a live plan, used by this thread alone, by the C contract.
        let p = unsafe { plan.as_mut() }.ok_or_else(|| Error::null("plan is NULL"))?;
        let n = usize::try_from(threads)
            .map_err(|_| Error::argument(format_args!("threads = {threads} is not in 1..={}", crate::copy::MAX_THREADS)))?;
        p.plan.set_threads(n)
    })
}

/// The largest thread count `pybuf_copy_plan_set_threads` takes.
pub const PYBUF_COPY_PLAN_MAX_THREADS: c_int = 1024;
const _: () = assert!(PYBUF_COPY_PLAN_MAX_THREADS as usize == crate::copy::MAX_THREADS);

/// Free a plan. NULL is ignored.
///
/// # Safety
/// `plan` is NULL or a live plan from `pybuf_copy_plan_new`, not executing and not used
/// again.
#[no_mangle]
pub unsafe extern "C" fn pybuf_copy_plan_free(plan: *mut pybuf_copy_plan) {
    let _ = super::status(|| {
        if !plan.is_null() {
            // SAFETY: a live plan from Box::into_raw in pybuf_copy_plan_new, freed once.
            drop(unsafe { Box::from_raw(plan) });
        }
        Ok(())
    });
}
