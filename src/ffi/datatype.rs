//! Datatypes: a view described as nested strided blocks of typed values
//! (`pybuf_datatype_new`, `pybuf_datatype_free`), for building MPI derived datatypes
//! (`include/pybuf_mpi.h`) or any other type map, without pybuf knowing MPI.
//!
//! Thread-safety: a `pybuf_datatype` never changes after `pybuf_datatype_new`, so any
//! number of threads may read it at once; it is freed once, when no thread uses it.

#![allow(non_camel_case_types)]

use std::ffi::{c_int, c_void};

use crate::abi::{pybuf_buffer, pybuf_ssize_t};
use crate::datatype::{self, Datatype, Elem, Kind};
use crate::error::{Error, Result};
use crate::format::Format;

use super::checked;

/// The kind of the values of a block or of a struct member: a C type (and so an MPI
/// basic datatype), raw bytes, or a struct of `pybuf_datatype.structs`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum pybuf_datatype_kind {
    /// Raw bytes, moved as they are (one byte per value): `s`, `c`, `p`, `x`, padding,
    /// `e` (half), pointers, and values in non-native byte order.
    Bytes = 0,
    /// `int8_t` (`b`).
    Int8 = 1,
    /// `uint8_t` (`B`).
    Uint8 = 2,
    /// `int16_t`.
    Int16 = 3,
    /// `uint16_t` (and `u`, UCS-2).
    Uint16 = 4,
    /// `int32_t`.
    Int32 = 5,
    /// `uint32_t` (and `w`, UCS-4).
    Uint32 = 6,
    /// `int64_t`.
    Int64 = 7,
    /// `uint64_t`.
    Uint64 = 8,
    /// `float` (`f`).
    Float = 9,
    /// `double` (`d`).
    Double = 10,
    /// `long double` (`g`).
    LongDouble = 11,
    /// `float _Complex` (`Zf`).
    ComplexFloat = 12,
    /// `double _Complex` (`Zd`).
    ComplexDouble = 13,
    /// `long double _Complex` (`Zg`).
    ComplexLongDouble = 14,
    /// `_Bool` (`?`).
    Bool = 15,
    /// A struct: `pybuf_datatype.structs[nested]`.
    Struct = 16,
}

/// `count` consecutive values of one kind, `size` bytes each, at `offset` bytes from the
/// start of the struct that holds the member.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pybuf_datatype_member {
    /// Bytes from the start of the struct.
    pub offset: pybuf_ssize_t,
    /// Consecutive values (a sub-array's, a string's bytes, a repeated struct's repeats).
    pub count: pybuf_ssize_t,
    /// Bytes of one value (1 for `PYBUF_DATATYPE_KIND_BYTES`, the struct's extent for a
    /// struct).
    pub size: pybuf_ssize_t,
    /// What the values are.
    pub kind: pybuf_datatype_kind,
    /// For `PYBUF_DATATYPE_KIND_STRUCT`, the index of the struct in
    /// `pybuf_datatype.structs` (always below the index of the struct holding this
    /// member); -1 otherwise.
    pub nested: pybuf_ssize_t,
}

/// A struct: members in offset order that cover its `extent` bytes without gaps or
/// overlaps, padding included (as bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pybuf_datatype_struct {
    /// Bytes of one struct: where the next one starts when it is repeated.
    pub extent: pybuf_ssize_t,
    /// The number of entries of `members` (at least 2).
    pub nmembers: pybuf_ssize_t,
    /// The members, owned by the `pybuf_datatype`.
    pub members: *const pybuf_datatype_member,
}

/// `count` repetitions, `stride` bytes apart (negative strides step backwards).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pybuf_datatype_dim {
    /// Repetitions (at least 2).
    pub count: pybuf_ssize_t,
    /// Bytes from one repetition to the next.
    pub stride: pybuf_ssize_t,
}

/// A view described as nested strided blocks of typed values, made by
/// `pybuf_datatype_new` and freed by `pybuf_datatype_free`. Every field and array is
/// read-only and belongs to the handle.
///
/// The view's values, in the order in which `pybuf_to_contiguous` copies them for order
/// 'C', are: for every index of `dims` (outermost first, the last one fastest), `block`
/// consecutive values of the unit (`kind`, `size` bytes each), starting at the sum over
/// the dimensions of index times stride, in bytes from the view's `buf` — or, when
/// `nbases` is not 0, from each of `bases` in turn.
///
/// MPI: the unit is a basic datatype (or a struct type resized to its extent); the block
/// a contiguous type of `block` units (`MPI_Type_contiguous`); each dimension from the
/// innermost outwards an `MPI_Type_create_hvector(count, 1, stride, ...)` of the type so
/// far; the bases an `MPI_Type_create_hindexed_block` of absolute addresses, used with
/// `MPI_BOTTOM`. `include/pybuf_mpi.h` does exactly that.
#[repr(C)]
#[derive(Debug)]
pub struct pybuf_datatype {
    /// Bytes per element of the view.
    pub itemsize: pybuf_ssize_t,
    /// Bytes the view's elements hold, product(shape) * itemsize: the size of the
    /// message (0 for an empty view).
    pub nbytes: pybuf_ssize_t,
    /// The unit of the blocks.
    pub kind: pybuf_datatype_kind,
    /// For `PYBUF_DATATYPE_KIND_STRUCT`, the index of the unit in `structs` (then the
    /// item, its extent `itemsize`); -1 otherwise.
    pub nested: pybuf_ssize_t,
    /// Bytes of one unit.
    pub size: pybuf_ssize_t,
    /// Units per innermost contiguous block; 0 for an empty view (which has no dims and
    /// no bases).
    pub block: pybuf_ssize_t,
    /// The number of entries of `dims`.
    pub ndim: c_int,
    /// The dimensions around the block, outermost first; NULL when `ndim` is 0.
    pub dims: *const pybuf_datatype_dim,
    /// The number of entries of `structs`.
    pub nstructs: pybuf_ssize_t,
    /// The structs, each after the ones it holds; NULL when `nstructs` is 0.
    pub structs: *const pybuf_datatype_struct,
    /// 0 for a view without suboffsets: the blocks are relative to the view's `buf`.
    /// Otherwise the number of entries of `bases`.
    pub nbases: pybuf_ssize_t,
    /// For a view with suboffsets, the absolute address each repetition of the geometry
    /// starts from: one per index of the leading dimensions up to the last one with a
    /// suboffset, in C order, read from the view's pointers when `pybuf_datatype_new` ran.
    /// NULL when `nbases` is 0.
    pub bases: *const *mut c_void,
}

/// The handle with the arrays its pointers point into. `public` comes first, so that a
/// pointer to the handle is a pointer to it.
#[repr(C)]
struct Owned {
    public: pybuf_datatype,
    dims: Vec<pybuf_datatype_dim>,
    structs: Vec<pybuf_datatype_struct>,
    members: Vec<Vec<pybuf_datatype_member>>,
    bases: Vec<*mut c_void>,
}

fn kind_and_index(elem: Elem) -> (pybuf_datatype_kind, pybuf_ssize_t) {
    use pybuf_datatype_kind as K;
    let kind = match elem {
        Elem::Struct(i) => return (K::Struct, i as pybuf_ssize_t),
        Elem::Basic(kind) => kind,
    };
    let k = match kind {
        Kind::Bytes => K::Bytes,
        Kind::Int8 => K::Int8,
        Kind::UInt8 => K::Uint8,
        Kind::Int16 => K::Int16,
        Kind::UInt16 => K::Uint16,
        Kind::Int32 => K::Int32,
        Kind::UInt32 => K::Uint32,
        Kind::Int64 => K::Int64,
        Kind::UInt64 => K::Uint64,
        Kind::Float => K::Float,
        Kind::Double => K::Double,
        Kind::LongDouble => K::LongDouble,
        Kind::ComplexFloat => K::ComplexFloat,
        Kind::ComplexDouble => K::ComplexDouble,
        Kind::ComplexLongDouble => K::ComplexLongDouble,
        Kind::Bool => K::Bool,
    };
    (k, -1)
}

fn empty_or<T>(v: &[T]) -> *const T {
    if v.is_empty() {
        std::ptr::null()
    } else {
        v.as_ptr()
    }
}

/// The handle for a described view; `bases` from [`datatype::bases`].
fn handle(t: Datatype, bases: Vec<*mut u8>) -> Box<Owned> {
    let dims: Vec<pybuf_datatype_dim> =
        t.dims.iter().map(|d| pybuf_datatype_dim { count: d.count, stride: d.stride }).collect();
    let members: Vec<Vec<pybuf_datatype_member>> = t
        .structs
        .iter()
        .map(|s| {
            s.members
                .iter()
                .map(|m| {
                    let (kind, nested) = kind_and_index(m.elem);
                    pybuf_datatype_member { offset: m.offset, count: m.count, size: m.size, kind, nested }
                })
                .collect()
        })
        .collect();
    let structs: Vec<pybuf_datatype_struct> = t
        .structs
        .iter()
        .zip(&members)
        .map(|(s, m)| pybuf_datatype_struct {
            extent: s.extent,
            nmembers: m.len() as pybuf_ssize_t,
            members: empty_or(m),
        })
        .collect();
    let bases: Vec<*mut c_void> = bases.into_iter().map(|p| p.cast()).collect();
    let (kind, nested) = kind_and_index(t.elem);
    let public = pybuf_datatype {
        itemsize: t.itemsize,
        nbytes: t.nbytes,
        kind,
        nested,
        size: t.elem_size,
        block: t.block,
        // At most twice MAX_NDIM dimensions (each may be split once).
        ndim: dims.len() as c_int,
        dims: empty_or(&dims),
        nstructs: structs.len() as pybuf_ssize_t,
        structs: empty_or(&structs),
        nbases: bases.len() as pybuf_ssize_t,
        bases: empty_or(&bases).cast(),
    };
    // The vectors' buffers stay where they are when the vectors move into the box.
    Box::new(Owned { public, dims, structs, members, bases })
}

/// Describe `view` as nested strided blocks of typed values (see `pybuf_datatype`), with
/// every count (of a block, a dimension, a struct member, of members, of bases) at most
/// `max_count`: `INT_MAX` for MPI, whose counts are `int`; `PY_SSIZE_T_MAX` for no limit.
/// A block or dimension longer than `max_count` is split in two by its largest
/// power-of-two factor when both parts then fit.
///
/// The values come in C order whatever the strides. Length-1 dimensions are dropped, and
/// a dimension is merged into the one outside it when the outer stride steps exactly over
/// it, as the copy planner merges (never reordered: the order is the message's). The
/// format (NULL means `"B"`) gives the unit: one kind when the item is one kind from end
/// to end (`"d"`, `"3d"`, `"T{dd}"`), else a struct; a format longer than `itemsize` is
/// not trusted and the item is `itemsize` bytes. For a view with suboffsets, the pointers
/// the suboffsets lead to are read now: `bases` holds the addresses they give.
///
/// On success stores a new handle in `*out` and returns 0; free it with
/// `pybuf_datatype_free`. On failure returns a negative status with `*out` untouched:
/// `PYBUF_STATUS_NULL_POINTER` (`view` or `out` NULL), any status of an invalid view or
/// format (as `pybuf_validate` with `PYBUF_VALIDATE_LAYOUT`),
/// `PYBUF_STATUS_INVALID_ARGUMENT` (`max_count` not positive),
/// `PYBUF_STATUS_UNREPRESENTABLE` (a count beyond `max_count` that no split fits; the
/// message names it).
///
/// # Safety
/// `view` is NULL or points to a valid `pybuf_buffer` (its arrays of `ndim` entries,
/// format NULL or NUL-terminated) whose memory holds the pointers its suboffsets announce.
/// `out` is NULL or points to a writable `pybuf_datatype *`. Nothing of `view` is kept but
/// the addresses in `bases`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn pybuf_datatype_new(
    view: *const pybuf_buffer,
    max_count: pybuf_ssize_t,
    out: *mut *mut pybuf_datatype,
) -> c_int {
    super::status(|| {
        let mut implied = [0; 1];
        // SAFETY: a non-NULL view is valid by the C contract.
        let (v, format) = unsafe { checked(view, &mut implied)? };
        if out.is_null() {
            return Err(Error::null("out is NULL"));
        }
        let format = Format::parse(format)?;
        let t = datatype::describe(&v.geom, &format, max_count)?;
        // SAFETY: a valid view's memory holds the pointers its suboffsets announce.
        let bases = unsafe { datatype::bases(v.buf, &v.geom, t.prefix) };
        let owned = Box::into_raw(handle(t, bases));
        // SAFETY: out is non-NULL and writable by the C contract.
        unsafe { out.write(owned.cast::<pybuf_datatype>()) };
        Ok(())
    })
}

/// Free a handle made by `pybuf_datatype_new`, with its arrays. `pybuf_datatype_free(NULL)`
/// does nothing. Types built from it (MPI datatypes) do not need it any more.
///
/// # Safety
/// `t` is NULL or a handle from `pybuf_datatype_new`, freed once; no thread uses it or
/// its arrays during or after the call.
#[no_mangle]
pub unsafe extern "C" fn pybuf_datatype_free(t: *mut pybuf_datatype) {
    super::status(|| -> Result<()> {
        if !t.is_null() {
            // SAFETY: a handle is an `Owned` from Box::into_raw in pybuf_datatype_new
            // (whose first field it points to), freed once by the C contract.
            drop(unsafe { Box::from_raw(t.cast::<Owned>()) });
        }
        Ok(())
    });
}
