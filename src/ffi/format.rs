//! Format strings: the size of one item, a parsed handle (`pybuf_format`) with its
//! fields, leaves and runs, comparisons, and checking a view against an expected type.
//!
//! Thread-safety: a `pybuf_format` never changes after `pybuf_format_parse` (its lazily
//! built leaves and canonical string are initialised once, under a lock), so any number
//! of threads may call the `const pybuf_format *` functions on one handle at once. A
//! `pybuf_format_runs` iterator is used by one thread at a time.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, CString};
use std::sync::{Arc, OnceLock};

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::error::{Error, Result, Status};
use crate::format::{self, show, ByteOrder, Code, Field, Format, Kind, Leaf, Mismatch, Mode, Runs};
use crate::layout::Order;

use super::{c_str, deref};

/// The size in bytes of one item of `format`, a PEP 3118 format string. Mirrors
/// `PyBuffer_SizeFromFormat`: it equals `struct.calcsize(format)` for every format the
/// struct module accepts, and NumPy's itemsize for a `T{...}` struct.
///
/// Returns -1 with an error recorded when `format` is NULL, malformed, or has no size.
///
/// # Safety
/// `format` is NULL or a NUL-terminated string. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_size_from_format(format: *const c_char) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a non-NULL format is NUL-terminated by the C contract.
        let f = unsafe { c_str(format, "format")? };
        format::size_from_format(f)
    })
}

// -------------------------------------------------------------------------------------
// The handle

/// A parsed PEP 3118 format string: an opaque handle.
///
/// Made by `pybuf_format_parse` and freed by `pybuf_format_free`. The handles reached
/// through `pybuf_format_field.nested` are parts of their parent: they stay valid until
/// the parent is freed, and are never freed themselves. Immutable; see the thread-safety
/// note of each function.
pub struct pybuf_format {
    format: Arc<Format>,
    /// One entry per field of `format`, in order.
    fields: Vec<FieldExtra>,
    /// Whether this handle came from `pybuf_format_parse` (rather than from a parent).
    owned: bool,
    leaves: OnceLock<Vec<LeafExtra>>,
    canonical: OnceLock<CString>,
}

/// What a `pybuf_format_field` points to, kept alive by the handle.
struct FieldExtra {
    name: Option<CString>,
    nested: Option<Box<pybuf_format>>,
}

/// What a `pybuf_format_leaf` points to, kept alive by the handle.
struct LeafExtra {
    leaf: Leaf,
    name: Option<CString>,
    repeats: Vec<pybuf_format_repeat>,
}

/// A name as a C string. The parser refuses names with a NUL byte, so this never fails.
fn c_name(name: Option<&str>) -> Option<CString> {
    name.and_then(|n| CString::new(n).ok())
}

impl pybuf_format {
    /// A handle on `format`, with handles on its nested structs. The recursion is
    /// bounded by the parser's nesting limit.
    fn new(format: Arc<Format>, owned: bool) -> pybuf_format {
        let fields = format
            .fields()
            .iter()
            .map(|field| FieldExtra {
                name: c_name(field.name()),
                nested: match field.kind() {
                    Kind::Struct(inner) => Some(Box::new(pybuf_format::new(Arc::clone(inner), false))),
                    _ => None,
                },
            })
            .collect();
        pybuf_format { format, fields, owned, leaves: OnceLock::new(), canonical: OnceLock::new() }
    }

    fn leaves(&self) -> &[LeafExtra] {
        self.leaves.get_or_init(|| {
            self.format
                .leaves()
                .into_iter()
                .map(|leaf| LeafExtra {
                    name: c_name(leaf.name.as_deref()),
                    repeats: leaf
                        .repeats
                        .iter()
                        .map(|r| pybuf_format_repeat { count: r.count, stride: r.stride })
                        .collect(),
                    leaf,
                })
                .collect()
        })
    }

    fn canonical(&self) -> &CString {
        // Names have no NUL byte and the rest is ASCII, so CString::new cannot fail.
        self.canonical.get_or_init(|| CString::new(self.format.canonical()).unwrap_or_default())
    }
}

/// A handle from C, or a NullPointer error naming the argument.
///
/// # Safety
/// A non-NULL `f` points to a live handle for the returned lifetime.
unsafe fn handle<'a>(f: *const pybuf_format, what: &str) -> Result<&'a pybuf_format> {
    // SAFETY: forwarded from the caller.
    unsafe { deref(f, what) }
}

/// A byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum pybuf_byte_order {
    /// Least significant byte first.
    Little = 1,
    /// Most significant byte first.
    Big = 2,
}

impl From<ByteOrder> for pybuf_byte_order {
    fn from(order: ByteOrder) -> Self {
        match order {
            ByteOrder::Little => pybuf_byte_order::Little,
            ByteOrder::Big => pybuf_byte_order::Big,
        }
    }
}

/// A code as a NUL-terminated C string in 4 chars ("d", "Zd", "&", "X{}", "T{}").
fn code_chars(code: &str) -> [c_char; 4] {
    let mut out = [0; 4];
    for (o, b) in out.iter_mut().zip(code.bytes().take(3)) {
        *o = b as c_char;
    }
    out
}

fn mode_char(mode: Mode) -> c_char {
    mode.marker() as u8 as c_char
}

/// Parse the PEP 3118 format string `format` and lay it out (see the README's
/// "Formats" section for the grammar and the layout rules).
///
/// On success stores a new handle in `*out` and returns 0; free it with
/// `pybuf_format_free`. On failure returns a negative status with `*out` untouched:
/// `PYBUF_STATUS_NULL_POINTER` (`format` or `out` NULL), `PYBUF_STATUS_INVALID_FORMAT`
/// (malformed; the message names the byte position and the reason),
/// `PYBUF_STATUS_UNSUPPORTED_FORMAT` (well formed but without a byte size: `t`, nesting
/// deeper than 64 levels), `PYBUF_STATUS_OVERFLOW` (a count or size beyond
/// `PY_SSIZE_T_MAX`).
///
/// # Safety
/// `format` is NULL or a NUL-terminated string. It is not kept. `out` is NULL or points to
/// a writable `pybuf_format *`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_parse(format: *const c_char, out: *mut *mut pybuf_format) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL format is NUL-terminated by the C contract.
        let s = unsafe { c_str(format, "format")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let parsed = Format::parse(s)?;
        let handle = Box::new(pybuf_format::new(Arc::new(parsed), true));
        // SAFETY: out is non-NULL and points to a writable pointer by the C contract.
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// Free a handle made by `pybuf_format_parse`, with its nested handles, names, shapes
/// and canonical string. `pybuf_format_free(NULL)` does nothing.
///
/// A nested handle (from `pybuf_format_field.nested`) belongs to its parent: passing it
/// here frees nothing and records `PYBUF_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `f` is NULL or a handle from `pybuf_format_parse` (not a nested one), freed once; no
/// thread uses it, its nested handles or the strings they returned during or after the
/// call. Not thread-safe with respect to `f`: no other thread may be using it.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_free(f: *mut pybuf_format) {
    super::status(|| {
        if f.is_null() {
            return Ok(());
        }
        // SAFETY: a non-NULL f is a live handle by the C contract.
        let owned = unsafe { (*f).owned };
        if !owned {
            return Err(Error::argument(
                "f is a nested handle (from pybuf_format_field.nested); it is freed with its parent",
            ));
        }
        // SAFETY: an owned handle was made by Box::into_raw in pybuf_format_parse and,
        // by the C contract, is freed once.
        drop(unsafe { Box::from_raw(f) });
        Ok(())
    });
}

/// The size in bytes of one item: of the whole format, or for a nested handle of the
/// struct (its trailing padding included).
///
/// Returns -1 with an error recorded when `f` is NULL. Thread-safe.
///
/// # Safety
/// `f` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one).
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_itemsize(f: *const pybuf_format) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a non-NULL f is a live handle by the C contract.
        Ok(unsafe { handle(f, "f")? }.format.itemsize())
    })
}

/// The alignment of the format: the largest alignment of its fields laid out in `@`
/// mode, 1 if none is. It is what a `T{}` around the format is aligned to (NumPy's
/// `dtype.alignment` for the struct).
///
/// Returns -1 with an error recorded when `f` is NULL. Thread-safe.
///
/// # Safety
/// `f` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one).
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_alignment(f: *const pybuf_format) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a non-NULL f is a live handle by the C contract.
        Ok(unsafe { handle(f, "f")? }.format.alignment())
    })
}

/// The number of fields at the top level of `f` (one per item of the string: `"3i"`
/// is one field with count 3; `"T{ii}"` is one struct field).
///
/// Returns -1 with an error recorded when `f` is NULL. Thread-safe.
///
/// # Safety
/// `f` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one).
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_field_count(f: *const pybuf_format) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a non-NULL f is a live handle by the C contract.
        Ok(unsafe { handle(f, "f")? }.fields.len() as pybuf_ssize_t)
    })
}

/// One field of a format, as `pybuf_format_get_field` describes it. Every pointer in it
/// belongs to the handle and stays valid until the (outermost) handle is freed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pybuf_format_field {
    /// The `:name:`, or NULL if none was written.
    pub name: *const c_char,
    /// Byte offset from the start of the enclosing struct (or item).
    pub offset: pybuf_ssize_t,
    /// Bytes the field covers: `values * element_size`.
    pub size: pybuf_ssize_t,
    /// Size of one value: the code's size, the struct's item size, a whole `s`/`p` string.
    pub element_size: pybuf_ssize_t,
    /// The alignment that placed the field: its natural alignment in `@` mode, else 1.
    pub alignment: pybuf_ssize_t,
    /// The count as written (1 if none): the length of a `s`/`p` string, the number of
    /// `x` pad bytes, else a repeat.
    pub count: pybuf_ssize_t,
    /// The number of values: product(shape) * count (for `s`/`p`, product(shape)).
    pub values: pybuf_ssize_t,
    /// The number of entries of `shape`: 0 when no `(...)` shape was written.
    pub ndim: c_int,
    /// The sub-array shape, `ndim` entries; NULL when `ndim` is 0.
    pub shape: *const pybuf_ssize_t,
    /// The code as a NUL-terminated string: the struct module's letter ("d"), "Zf",
    /// "Zd", "Zg" for complex, "&" for a pointer, "X{}" for a function pointer and
    /// "T{}" for a struct. `code[0]` alone tells the kind, except for 'Z'.
    pub code: [c_char; 4],
    /// The byte order and alignment mode that placed the field: '@', '=', '<', '>' or
    /// '^' ('!' is reported as '>').
    pub mode: c_char,
    /// The byte order of the field's values (the native one in '@', '=' and '^').
    pub byte_order: pybuf_byte_order,
    /// For a struct (`T{}`) field, a handle on its contents, owned by the parent handle
    /// (never free it); NULL for every other field.
    pub nested: *const pybuf_format,
}

/// Describe field `index` (0-based, below `pybuf_format_field_count(f)`) of `f` in
/// `*out`.
///
/// Returns 0, or a negative status with `*out` untouched: `PYBUF_STATUS_NULL_POINTER`
/// (`f` or `out` NULL), `PYBUF_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `f` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one).
/// `out` is NULL or points to a writable `pybuf_format_field`. Its pointers are valid until
/// the outermost handle is freed. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_get_field(
    f: *const pybuf_format,
    index: pybuf_ssize_t,
    out: *mut pybuf_format_field,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL f is a live handle by the C contract.
        let h = unsafe { handle(f, "f")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let (field, extra) = checked_index(index, h.format.fields(), &h.fields, "field")?;
        let desc = describe_field(field, extra)?;
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { out.write(desc) };
        Ok(())
    })
}

fn checked_index<'a, A, B>(index: pybuf_ssize_t, a: &'a [A], b: &'a [B], what: &str) -> Result<(&'a A, &'a B)> {
    usize::try_from(index)
        .ok()
        .and_then(|i| Some((a.get(i)?, b.get(i)?)))
        .ok_or_else(|| Error::index(format_args!("{what} index {index} is not in 0..{}", a.len())))
}

fn describe_field(field: &Field, extra: &FieldExtra) -> Result<pybuf_format_field> {
    let shape = field.shape();
    let ndim = c_int::try_from(shape.len())
        .map_err(|_| Error::overflow(format_args!("the shape has {} entries, more than INT_MAX", shape.len())))?;
    Ok(pybuf_format_field {
        name: extra.name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()),
        offset: field.offset(),
        size: field.size(),
        element_size: field.element_size(),
        alignment: field.alignment(),
        count: field.count(),
        values: field.values(),
        ndim,
        shape: if shape.is_empty() { std::ptr::null() } else { shape.as_ptr() },
        code: code_chars(field.code().map_or("T{}", Code::as_str)),
        mode: mode_char(field.mode()),
        byte_order: field.byte_order().into(),
        nested: extra.nested.as_deref().map_or(std::ptr::null(), |n| n as *const pybuf_format),
    })
}

/// A repetition enclosing a leaf (a count or shape on an enclosing `T{}`): the leaf
/// recurs `count` times, `stride` bytes apart.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct pybuf_format_repeat {
    pub count: pybuf_ssize_t,
    pub stride: pybuf_ssize_t,
}

/// A leaf of the format tree: a scalar, string, pad, pointer or function-pointer
/// field, placed in the item (nested structs are flattened into their leaves).
///
/// Its values lie at `offset + j * size` for `j` in `0..count`, plus, for each
/// `repeats[r]` (outermost first), `i_r * repeats[r].stride` for `i_r` in
/// `0..repeats[r].count`. Pointers in it belong to the handle.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pybuf_format_leaf {
    /// The field's own `:name:`, or NULL.
    pub name: *const c_char,
    /// Offset of the first value from the start of the item.
    pub offset: pybuf_ssize_t,
    /// Size of one value (a whole string for `s` and `p`).
    pub size: pybuf_ssize_t,
    /// Consecutive values: count * product(shape) (for `s`/`p`, product(shape)).
    pub count: pybuf_ssize_t,
    /// All values: `count` times every repeat count (saturating at PY_SSIZE_T_MAX).
    pub total: pybuf_ssize_t,
    /// The number of enclosing repeated structs (0 to 64).
    pub nrepeats: c_int,
    /// `nrepeats` repetitions, outermost first; NULL when `nrepeats` is 0.
    pub repeats: *const pybuf_format_repeat,
    /// The code, as in `pybuf_format_field.code` ("x" for padding; never "T{}").
    pub code: [c_char; 4],
    /// The mode that placed the leaf: '@', '=', '<', '>' or '^'.
    pub mode: c_char,
    /// The byte order of the values.
    pub byte_order: pybuf_byte_order,
}

/// The number of leaves of `f` (see `pybuf_format_leaf`): one per scalar item of the
/// string, however often enclosing structs repeat it (`"1000000000T{id}"` has 2).
///
/// Returns -1 with an error recorded when `f` is NULL. Thread-safe (the first call
/// builds the list).
///
/// # Safety
/// `f` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one).
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_leaf_count(f: *const pybuf_format) -> pybuf_ssize_t {
    super::value(-1, || {
        // SAFETY: a non-NULL f is a live handle by the C contract.
        Ok(unsafe { handle(f, "f")? }.leaves().len() as pybuf_ssize_t)
    })
}

/// Describe leaf `index` (0-based, below `pybuf_format_leaf_count(f)`, in string
/// order) of `f` in `*out`.
///
/// Returns 0, or a negative status with `*out` untouched: `PYBUF_STATUS_NULL_POINTER`
/// (`f` or `out` NULL), `PYBUF_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `f` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one).
/// `out` is NULL or points to a writable `pybuf_format_leaf`. Its pointers are valid until
/// the outermost handle is freed. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_get_leaf(
    f: *const pybuf_format,
    index: pybuf_ssize_t,
    out: *mut pybuf_format_leaf,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL f is a live handle by the C contract.
        let h = unsafe { handle(f, "f")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let leaves = h.leaves();
        let (extra, _) = checked_index(index, leaves, leaves, "leaf")?;
        let leaf = &extra.leaf;
        let desc = pybuf_format_leaf {
            name: extra.name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()),
            offset: leaf.offset,
            size: leaf.size,
            count: leaf.count,
            total: leaf.total(),
            // At most MAX_DEPTH (64) enclosing structs.
            nrepeats: c_int::try_from(extra.repeats.len()).unwrap_or(c_int::MAX),
            repeats: if extra.repeats.is_empty() { std::ptr::null() } else { extra.repeats.as_ptr() },
            code: code_chars(leaf.code.as_str()),
            mode: mode_char(leaf.mode),
            byte_order: leaf.byte_order.into(),
        };
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { out.write(desc) };
        Ok(())
    })
}

/// The canonical spelling of `f`: markers only where the mode changes (`>` for `!`),
/// counts only when not 1, no whitespace. It parses back to a format equal to `f`
/// (`pybuf_format_equal` gives 1). For a nested handle it is the struct's contents,
/// which parsed alone may have a smaller item size (the top level has no trailing
/// padding).
///
/// The string belongs to the handle and lives as long as it. Returns NULL with an error
/// recorded when `f` is NULL. Thread-safe (the first call builds the string).
///
/// # Safety
/// `f` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one). The
/// string returned is valid until the outermost handle is freed.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_canonical(f: *const pybuf_format) -> *const c_char {
    super::value(std::ptr::null(), || {
        // SAFETY: a non-NULL f is a live handle by the C contract.
        Ok(unsafe { handle(f, "f")? }.canonical().as_ptr())
    })
}

/// Run a comparison that fails with `FormatMismatch` when the answer is "no": 1, 0 (with
/// the mismatch recorded), or the negative status of another error.
fn answer(f: impl FnOnce() -> Result<()>) -> c_int {
    match super::status(f) {
        0 => 1,
        rc if rc == Status::FormatMismatch as c_int => 0,
        rc => rc,
    }
}

fn mismatch(message: impl std::fmt::Display) -> Error {
    Error::new(Status::FormatMismatch, message)
}

fn shown(h: &pybuf_format) -> String {
    show(h.canonical().as_bytes())
}

/// Whether `a` and `b` are the same format: the same fields with the same codes, names,
/// counts, shapes and modes (so `"!i"` equals `">i"` and `"i i"` equals `"ii"`, but
/// `"<i"` does not equal `"i"`, nor `"2i"` `"ii"`). Equal formats have equal canonical
/// strings.
///
/// Returns 1 (the last status is then `PYBUF_STATUS_OK`), 0 (the last status is
/// `PYBUF_STATUS_FORMAT_MISMATCH` and `pybuf_last_error()` names the first differing
/// field), or `PYBUF_STATUS_NULL_POINTER` when `a` or `b` is NULL.
///
/// # Safety
/// `a` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one). `b`
/// is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one).
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_equal(a: *const pybuf_format, b: *const pybuf_format) -> c_int {
    answer(|| {
        // SAFETY: non-NULL handles are live by the C contract.
        let (a, b) = unsafe { (handle(a, "a")?, handle(b, "b")?) };
        match a.format.difference(&b.format) {
            None => Ok(()),
            Some(d) => Err(mismatch(format_args!("formats {} and {} differ: {d}", shown(a), shown(b)))),
        }
    })
}

/// Whether an item of `a` and an item of `b` can be read as each other: the same item
/// size and, at every byte offset, values of the same kind, size and byte order.
/// Padding, names, and how values are grouped into structs, counts and shapes do not
/// matter; `c` and `s` are both bytes; integers of one signedness and one size match
/// whatever their letter. So `"<d"` matches `"d"` on a little-endian machine, `"l"`
/// matches `"q"` where long is 64 bits, `"T{ii}"` matches `"2i"`, and `"i"` does not
/// match `"f"` or `"I"`.
///
/// Returns 1, 0 (last status `PYBUF_STATUS_FORMAT_MISMATCH`; `pybuf_last_error()` names
/// the item sizes or the first differing value, its offset and its field), or
/// `PYBUF_STATUS_NULL_POINTER`.
///
/// The time is proportional to the number of runs of values (see
/// `pybuf_format_runs_next`), not to the length of the strings. Thread-safe.
///
/// # Safety
/// `a` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one). `b`
/// is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one).
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_compatible(a: *const pybuf_format, b: *const pybuf_format) -> c_int {
    answer(|| {
        // SAFETY: non-NULL handles are live by the C contract.
        let (a, b) = unsafe { (handle(a, "a")?, handle(b, "b")?) };
        a.format.layout_compatible(&b.format).map_err(|m| {
            mismatch(format_args!("formats {} and {} are not layout compatible: {m}", shown(a), shown(b)))
        })
    })
}

// -------------------------------------------------------------------------------------
// Runs

/// An iterator over the values of a format in offset order (see
/// `pybuf_format_runs_next`). Made by `pybuf_format_runs_new`, freed by
/// `pybuf_format_runs_free`. Independent of the handle it was made from, which may be
/// freed first.
pub struct pybuf_format_runs {
    // Declared before `_format`, so dropped before it: `runs` borrows from `_format`,
    // which is only kept alive here, never read.
    runs: Runs<'static>,
    _format: Arc<Format>,
}

/// `count` consecutive values of one code, `size` bytes each, from byte `offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pybuf_format_run {
    pub offset: pybuf_ssize_t,
    pub size: pybuf_ssize_t,
    pub count: pybuf_ssize_t,
    /// The code, as in `pybuf_format_field.code` ("x" for padding; never "T{}").
    pub code: [c_char; 4],
    /// The mode that placed the values: '@', '=', '<', '>' or '^'.
    pub mode: c_char,
    pub byte_order: pybuf_byte_order,
}

/// Start iterating the values of `f` in offset order: every leaf of every repetition of
/// the enclosing structs, as runs of consecutive values, padding included (code "x").
///
/// On success stores a new iterator in `*out` and returns 0; free it with
/// `pybuf_format_runs_free`. Returns `PYBUF_STATUS_NULL_POINTER` with `*out` untouched
/// when `f` or `out` is NULL.
///
/// # Safety
/// `f` is NULL or a live handle from `pybuf_format_parse` (or a nested handle of one). It
/// stays alive (not freed) until the iterator is freed. `out` is NULL or points to a
/// writable `pybuf_format_runs *`. Thread-safe with respect to `f`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_runs_new(f: *const pybuf_format, out: *mut *mut pybuf_format_runs) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL f is a live handle by the C contract.
        let h = unsafe { handle(f, "f")? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let format = Arc::clone(&h.format);
        // SAFETY: the Format lives in the Arc's heap allocation, which never moves and
        // is never mutated; the iterator keeps that Arc and drops `runs` before it.
        let target: &'static Format = unsafe { &*Arc::as_ptr(&format) };
        let it = Box::new(pybuf_format_runs { runs: target.runs(), _format: format });
        // SAFETY: out is non-NULL and points to a writable pointer by the C contract.
        unsafe { out.write(Box::into_raw(it)) };
        Ok(())
    })
}

/// Store the next run of `it` in `*out`.
///
/// Returns 1 when a run was stored, 0 at the end (`*out` untouched; later calls keep
/// returning 0), or `PYBUF_STATUS_NULL_POINTER` when `it` or `out` is NULL. A format
/// with a huge repeat (`"1000000000T{id}"`) yields that many runs, one per call.
///
/// # Safety
/// `it` is NULL or a live iterator from `pybuf_format_runs_new`, used by one thread at a
/// time. `out` is NULL or points to a writable `pybuf_format_run`. Not thread-safe with
/// respect to `it`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_runs_next(it: *mut pybuf_format_runs, out: *mut pybuf_format_run) -> c_int {
    let mut stored = false;
    let rc = super::status(|| {
        // SAFETY: a non-NULL it is a live iterator used by this thread only, by the C contract.
        let it = unsafe { it.as_mut() }.ok_or_else(|| Error::null("it is NULL"))?;
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let Some(run) = it.runs.next() else { return Ok(()) };
        let desc = pybuf_format_run {
            offset: run.offset,
            size: run.size,
            count: run.count,
            code: code_chars(run.code.as_str()),
            mode: mode_char(run.mode),
            byte_order: run.byte_order().into(),
        };
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { out.write(desc) };
        stored = true;
        Ok(())
    });
    if rc < 0 {
        rc
    } else {
        c_int::from(stored)
    }
}

/// Free an iterator made by `pybuf_format_runs_new`. `pybuf_format_runs_free(NULL)`
/// does nothing.
///
/// # Safety
/// `it` is NULL or a live iterator from `pybuf_format_runs_new`, freed once and not used
/// afterwards. Not thread-safe with respect to `it`.
#[no_mangle]
pub unsafe extern "C" fn pybuf_format_runs_free(it: *mut pybuf_format_runs) {
    super::status(|| {
        if !it.is_null() {
            // SAFETY: a non-NULL it was made by Box::into_raw in pybuf_format_runs_new
            // and, by the C contract, is freed once.
            drop(unsafe { Box::from_raw(it) });
        }
        Ok(())
    });
}

// -------------------------------------------------------------------------------------
// Typed checks

/// Whether `view`'s memory is laid out as items of the format `expected`, as a Cython
/// typed memoryview checks it: `view->itemsize` equals the item size of `expected`, and
/// `view->format` (NULL means "B") is layout compatible with `expected` in the sense of
/// `pybuf_format_compatible`, except that the item size computed from `view->format`
/// itself does not matter. So on a little-endian machine a view of format "<d" matches
/// "d", a view of "l" matches "q" where long is 64 bits, and "i" does not match "f".
///
/// Returns 0 on a match; `PYBUF_STATUS_FORMAT_MISMATCH` when the view does not match,
/// with a message naming the first differing value, its byte offset and its field (or
/// the item sizes); or another negative status: `PYBUF_STATUS_NULL_POINTER`, a malformed
/// view (as `pybuf_is_contiguous` reports it), `PYBUF_STATUS_INVALID_FORMAT` (and the
/// other parse statuses) for a malformed `expected` or `view->format`, the message
/// saying which.
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; its memory is not
/// read. `expected` is NULL or a NUL-terminated string. Thread-safe; reads `view` only.
#[no_mangle]
pub unsafe extern "C" fn pybuf_check_format(view: *const pybuf_buffer, expected: *const c_char) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view points to a pybuf_buffer by the C contract.
        let v = unsafe { deref(view, "view")? };
        // SAFETY: a non-NULL expected is NUL-terminated by the C contract.
        let expected = unsafe { c_str(expected, "expected")? };
        // SAFETY: the view's arrays have ndim entries, and its format is NUL-terminated.
        unsafe { check(v, expected, None, None) }
    })
}

/// `pybuf_check_format`, then the number of dimensions and the contiguity: `ndim` is
/// the required `view->ndim` (-1 for any); `order` is 'C', 'F' or 'A' for a view that
/// must be contiguous in that order (as `pybuf_is_contiguous` says), or 0 for any
/// layout.
///
/// Returns 0 on a match; `PYBUF_STATUS_FORMAT_MISMATCH` when the view differs in ndim,
/// format, item size or contiguity (checked in that order; the message says which);
/// `PYBUF_STATUS_INVALID_NDIM` for `ndim` outside -1..=64;
/// `PYBUF_STATUS_INVALID_ARGUMENT` for another `order`; or the errors of
/// `pybuf_check_format`.
///
/// # Safety
/// `view` is NULL or points to a valid view: its `shape`, `strides` and `suboffsets` are
/// NULL or hold `ndim` entries, its `format` is NULL or NUL-terminated; its memory is not
/// read. `expected` is NULL or a NUL-terminated string. Thread-safe; reads `view` only.
#[no_mangle]
pub unsafe extern "C" fn pybuf_check_format_ex(
    view: *const pybuf_buffer,
    expected: *const c_char,
    ndim: c_int,
    order: c_char,
) -> c_int {
    super::status(|| {
        // SAFETY: a non-NULL view points to a pybuf_buffer by the C contract.
        let v = unsafe { deref(view, "view")? };
        // SAFETY: a non-NULL expected is NUL-terminated by the C contract.
        let expected = unsafe { c_str(expected, "expected")? };
        let ndim = if ndim == -1 { None } else { Some(super::ndim(ndim)?) };
        let order = if order == 0 { None } else { Some(Order::from_char(order as u8)?) };
        // SAFETY: the view's arrays have ndim entries, and its format is NUL-terminated.
        unsafe { check(v, expected, ndim, order) }
    })
}

/// The common part of the checks.
///
/// # Safety
/// `v`'s non-NULL pointers point to arrays of `v.ndim` entries and a NUL-terminated
/// format.
unsafe fn check(v: &pybuf_buffer, expected: &[u8], ndim: Option<usize>, order: Option<Order>) -> Result<()> {
    let mut implied = [0; 1];
    // SAFETY: forwarded from the caller.
    let geom = unsafe { super::view(v, &mut implied)? }.geom;
    let view_format: &[u8] = if v.format.is_null() {
        b"B"
    } else {
        // SAFETY: a non-NULL format is NUL-terminated by the caller's contract.
        unsafe { c_str(v.format, "view->format")? }
    };
    let want = Format::parse(expected).map_err(|e| context("expected", e))?;
    if let Some(n) = ndim {
        if geom.ndim() != n {
            return Err(mismatch(format_args!(
                "the view has {} dimension(s), expected {n}",
                geom.ndim()
            )));
        }
    }
    let have = Format::parse(view_format).map_err(|e| context("view->format", e))?;
    have.check_view(v.itemsize, &want).map_err(|m| {
        let (vf, ef) = (show(view_format), show(expected));
        match m {
            Mismatch::Itemsize { left, right } => mismatch(format_args!(
                "view->itemsize is {left} (format {vf}) but expected format {ef} has item size {right}"
            )),
            Mismatch::Value { offset, left, right } => {
                let side = |e: Option<format::Element>| e.map_or_else(|| "no value".to_owned(), |e| e.to_string());
                mismatch(format_args!(
                    "view format {vf} does not match {ef}: first difference at byte offset {offset}: \
                     the view has {}, expected {}",
                    side(left),
                    side(right)
                ))
            }
        }
    })?;
    if let Some(order) = order {
        if !geom.is_contiguous(order) {
            let name = match order {
                Order::C => "C-contiguous",
                Order::F => "Fortran-contiguous",
                Order::Any => "contiguous (in C or Fortran order)",
            };
            return Err(mismatch(format_args!("the view is not {name}")));
        }
    }
    Ok(())
}

/// Prefix a parse error with which string it is about.
fn context(what: &str, e: Error) -> Error {
    Error::new(e.status(), format_args!("{what}: {}", e.message()))
}
