//! NumPy's array interface: PEP 3118 formats to and from `__array_interface__`'s
//! `typestr` and `descr` (see `crate::interop::array_interface` for the rules).
//!
//! Every function writes NUL-terminated text into the caller's `out[0..size)` and
//! returns its length without the NUL, as `snprintf` does, except that nothing is
//! written when it does not fit: `out == NULL` with `size == 0` asks for the length only;
//! a `size` that is too small is `PYBUF_STATUS_LENGTH_MISMATCH` (the message says how
//! many bytes are needed). Errors are negative statuses, with the thread's message set.

use std::ffi::c_char;

use crate::abi::pybuf_ssize_t;
use crate::error::{Error, Result};
use crate::interop::array_interface as ai;

use super::c_str;

/// Store `text` and its NUL in `out[0..size)`, or refuse without writing.
///
/// # Safety
/// A non-NULL `out` points to `size` writable bytes.
unsafe fn write_out(what: &str, text: &str, out: *mut c_char, size: pybuf_ssize_t) -> Result<pybuf_ssize_t> {
    if size < 0 {
        return Err(Error::argument(format_args!("size = {size} is negative")));
    }
    let len = text.len() as pybuf_ssize_t;
    if out.is_null() {
        if size != 0 {
            return Err(Error::null(format_args!("out is NULL with size = {size}")));
        }
        return Ok(len);
    }
    if size <= len {
        return Err(Error::length(format_args!(
            "the {what} \"{text}\" needs {} bytes with its NUL, but size = {size}",
            len + 1
        )));
    }
    // SAFETY: out has size > len bytes by the C contract.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), out.cast::<u8>(), text.len());
        out.add(text.len()).write(0);
    }
    Ok(len)
}

/// Run a conversion through the panic boundary: its length, or its negative status.
fn run(f: impl FnOnce() -> Result<pybuf_ssize_t>) -> pybuf_ssize_t {
    let mut len = 0;
    let rc = super::status(|| {
        len = f()?;
        Ok(())
    });
    if rc != 0 {
        rc as pybuf_ssize_t
    } else {
        len
    }
}

/// The `__array_interface__` `typestr` of one item of the PEP 3118 `format`: `"<f8"`
/// for `"<d"` (and for `"d"` on a little-endian machine), `"|u1"` for `"B"`, `"|S5"` for
/// `"5s"`, `"<U3"` for `"<3w"`, `"|V16"` for a struct. `itemsize` is the view's item size,
/// or 0 for the format's own; a larger one is trailing padding (the item is then a
/// struct, `"|V<itemsize>"`).
///
/// Output, as `snprintf`: the text and a NUL are written into `out[0..size)` and the
/// text's length (without the NUL) is returned. `out` may be NULL only with `size` 0,
/// which asks for the length and writes nothing. When `size` is too small (at most the
/// length), nothing is written and `PYBUF_STATUS_LENGTH_MISMATCH` is returned, with a
/// message giving the size needed. Errors are negative statuses (`pybuf_last_error()`
/// says why), and `out` is then untouched: `PYBUF_STATUS_NULL_POINTER` (`format` NULL, or
/// `out` NULL with `size` > 0), `PYBUF_STATUS_INVALID_ARGUMENT` (`size` < 0), a
/// malformed format (`PYBUF_STATUS_INVALID_FORMAT`, ...), `PYBUF_STATUS_INVALID_ITEMSIZE`
/// for an `itemsize` smaller than the format's, `PYBUF_STATUS_UNREPRESENTABLE` for a
/// format with no array-interface type (`u`, `p`, pointers), `PYBUF_STATUS_LENGTH_MISMATCH`
/// when `size` is too small.
///
/// # Safety
/// `format` is NULL or a NUL-terminated string. `out` is NULL or writable for `size` bytes.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_to_typestr(
    format: *const c_char,
    itemsize: pybuf_ssize_t,
    out: *mut c_char,
    size: pybuf_ssize_t,
) -> pybuf_ssize_t {
    run(|| {
        // SAFETY: a non-NULL format is NUL-terminated by the C contract.
        let f = unsafe { c_str(format, "format")? };
        let text = ai::typestr_from_format(f, itemsize)?;
        // SAFETY: out has size bytes by the C contract.
        unsafe { write_out("typestr", &text, out, size) }
    })
}

/// The `__array_interface__` `descr` of one item of the PEP 3118 `format`, as the text
/// of its Python literal (`ast.literal_eval` reads it): `"[('', '<f8')]"` for a scalar;
/// for a struct one `(name, type)` or `(name, type, shape)` per field, a nested list for a
/// nested struct, and `('', '|Vn')` (n bytes) for the gaps (alignment, `x` padding, an `itemsize`
/// larger than the format's): `"T{b:a:d:b:}"` is `"[('a', '|i1'), ('', '|V7'), ('b',
/// '<f8')]"` on x86-64. Unnamed fields are named as NumPy names them (`f0`, `f1`, ...).
///
/// Arguments, output (the length is returned; `out` NULL with `size` 0 asks for it;
/// nothing is written when it does not fit) and errors as for `pybuf_format_to_typestr`.
///
/// # Safety
/// `format` is NULL or a NUL-terminated string. `out` is NULL or writable for `size` bytes.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_to_descr(
    format: *const c_char,
    itemsize: pybuf_ssize_t,
    out: *mut c_char,
    size: pybuf_ssize_t,
) -> pybuf_ssize_t {
    run(|| {
        // SAFETY: a non-NULL format is NUL-terminated by the C contract.
        let f = unsafe { c_str(format, "format")? };
        let text = ai::descr_from_format(f, itemsize)?;
        // SAFETY: out has size bytes by the C contract.
        unsafe { write_out("descr", &text, out, size) }
    })
}

/// The PEP 3118 format of an `__array_interface__` `typestr`: `"<d"` for `"<f8"`, `"B"`
/// for `"|u1"`, `"=d"` for `"=f8"` or `"|f8"`, `"5s"` for `"|S5"`, `"<3w"` for `"<U3"`,
/// `"4x"` for `"|V4"`, `"O"` for `"|O"`.
///
/// Output and the errors of the output as for `pybuf_format_to_typestr` (the length is
/// returned; `out` NULL with `size` 0 asks for it; nothing is written when it does not
/// fit). Errors: `PYBUF_STATUS_NULL_POINTER`, `PYBUF_STATUS_INVALID_FORMAT` for a malformed
/// typestr (the message says why), `PYBUF_STATUS_UNREPRESENTABLE` for a type PEP 3118
/// lacks (datetime64, timedelta64, a size with no code such as `"<i16"`, `"|S0"`),
/// `PYBUF_STATUS_LENGTH_MISMATCH` when `size` is too small.
///
/// # Safety
/// `typestr` is NULL or a NUL-terminated string. `out` is NULL or writable for `size`
/// bytes. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_from_typestr(
    typestr: *const c_char,
    out: *mut c_char,
    size: pybuf_ssize_t,
) -> pybuf_ssize_t {
    run(|| {
        // SAFETY: a non-NULL typestr is NUL-terminated by the C contract.
        let t = unsafe { c_str(typestr, "typestr")? };
        let text = ai::format_from_typestr(t)?;
        // SAFETY: out has size bytes by the C contract.
        unsafe { write_out("format", &text, out, size) }
    })
}

/// The PEP 3118 format of an `__array_interface__` `descr`, given as the text of its
/// Python literal (lists, tuples, quoted strings, integers): a struct `T{...}` in the
/// standard (unaligned) modes with one marker per change of byte order, so that every
/// field lies at the offset the descr gives it: `"[('a', '|i1'), ('', '|V7'), ('b',
/// '<f8')]"` is `"T{<b:a:7xd:b:}"`; nameless `V` fields are padding (`x`), nested lists
/// nested `T{}`, shapes `(2,3)` prefixes, titles dropped. The default descr of a scalar,
/// `"[('', '<f8')]"`, gives the typestr's format (`"<d"`).
///
/// Output as for `pybuf_format_to_typestr` (the length is returned; `out` NULL with
/// `size` 0 asks for it; nothing is written when it does not fit). Errors: those of
/// `pybuf_format_from_typestr` for each field's typestr; `PYBUF_STATUS_INVALID_FORMAT` for
/// a malformed descr (the message gives the byte position) or duplicate names;
/// `PYBUF_STATUS_INVALID_SHAPE` for a negative shape; `PYBUF_STATUS_UNREPRESENTABLE` for a
/// name with ':'; `PYBUF_STATUS_OVERFLOW` when a field's or the item's size in bytes
/// exceeds `pybuf_ssize_t` (`"[('', '|V8', (2305843009213693952,))]"`).
///
/// # Safety
/// `descr` is NULL or a NUL-terminated string. `out` is NULL or writable for `size` bytes.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_from_descr(
    descr: *const c_char,
    out: *mut c_char,
    size: pybuf_ssize_t,
) -> pybuf_ssize_t {
    run(|| {
        // SAFETY: a non-NULL descr is NUL-terminated by the C contract.
        let d = unsafe { c_str(descr, "descr")? };
        let text = ai::format_from_descr(d)?;
        // SAFETY: out has size bytes by the C contract.
        unsafe { write_out("format", &text, out, size) }
    })
}
