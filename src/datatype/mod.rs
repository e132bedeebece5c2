//! Datatypes: a view described as nested strided blocks of typed values, the shape that
//! MPI's derived datatypes (and HDF5's, and any type-map consumer's) take, with nothing
//! of MPI in it.
//!
//! A [`Datatype`] says, for a view:
//!
//! - **the unit** its blocks are made of: one basic [`Kind`] (`'d'` is [`Kind::Double`],
//!   `"3i"` three [`Kind::Int32`]s per item), or a struct of members ([`StructType`]) when
//!   the item mixes kinds. Every byte of an item is covered: padding, `s`, `c`, `p`, `x`,
//!   `e` (half: no C type), pointers and values in non-native byte order are
//!   [`Kind::Bytes`]; a repeated `T{}` is a struct member with a count, a sub-array
//!   (`(2,3)d`) a member of 6 values. Adjacent members of one kind are merged, and a
//!   struct that is one kind from end to end is that kind;
//! - **the geometry**: `block` units contiguous in memory, repeated along [`Dim`]s
//!   (outermost first, byte strides, negative ones included, relative to the view's
//!   `buf`), in the view's C (row-major) order, so that the values come in the order of
//!   `pybuf_to_contiguous(view, 'C')`. Length-1 dimensions are dropped and a dimension is
//!   merged into the one outside it when the outer stride steps over it exactly (as the
//!   copy planner merges, but without reordering: the element order is the message);
//! - **suboffsets**: the leading dimensions up to the last one with a suboffset are not
//!   described; [`bases`] gives instead the address of every block they lead to, in C
//!   order, from which the geometry applies.
//!
//! Every count (block, dimension, member, struct member count, number of bases) is kept at
//! most `max_count` (MPI's counts are `int`): a larger block or dimension is split by its
//! largest power-of-two factor when that suffices, and the view is refused with
//! [`Status::Unrepresentable`](crate::error::Status::Unrepresentable) otherwise.

#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::format::{ByteOrder, Code, Format, Kind as FieldKind};
use crate::layout::{Geometry, MAX_NDIM};

/// A basic kind of value: what MPI, HDF5 or a C compiler have a type for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Raw bytes, moved as they are.
    Bytes,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    /// C `float`.
    Float,
    /// C `double`.
    Double,
    /// C `long double`.
    LongDouble,
    /// C `float _Complex`.
    ComplexFloat,
    /// C `double _Complex`.
    ComplexDouble,
    /// C `long double _Complex`.
    ComplexLongDouble,
    /// C `_Bool` (one byte).
    Bool,
}

/// What a block or a member is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    Basic(Kind),
    /// The struct at this index of [`Datatype::structs`].
    Struct(usize),
}

/// `count` consecutive values of `elem`, `size` bytes each, from `offset` in the struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    pub offset: isize,
    pub count: isize,
    pub size: isize,
    pub elem: Elem,
}

/// A struct: members in offset order, covering `[0, extent)` without gaps. A member that
/// is a struct refers to one before it in [`Datatype::structs`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StructType {
    pub extent: isize,
    pub members: Vec<Member>,
}

/// `count` repetitions, `stride` bytes apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dim {
    pub count: isize,
    pub stride: isize,
}

/// A view as nested strided blocks: see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datatype {
    /// Bytes per element of the view.
    pub itemsize: isize,
    /// Bytes the view's elements hold: product(shape) * itemsize.
    pub nbytes: isize,
    /// The unit of the blocks, and its size in bytes.
    pub elem: Elem,
    pub elem_size: isize,
    /// Units per innermost contiguous block; 0 for an empty view.
    pub block: isize,
    /// The dimensions around the block, outermost first.
    pub dims: Vec<Dim>,
    /// The structs, each after the structs it contains.
    pub structs: Vec<StructType>,
    /// The leading dimensions reached through suboffsets (0: none): see [`bases`].
    pub prefix: usize,
    /// The number of blocks [`bases`] gives: product(shape[..prefix]).
    pub nbases: isize,
}

/// The unit an item (or a struct) reduces to: `count` values of `elem`, `size` bytes each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Unit {
    elem: Elem,
    count: isize,
    size: isize,
}

fn too_many(what: impl std::fmt::Display, n: isize, max: isize) -> Error {
    Error::unrepresentable(format_args!("{what} = {n} exceeds the largest count, {max}"))
}

/// Describe a view (a validated geometry and its parsed format) as a [`Datatype`] whose
/// counts are at most `max_count` (positive).
///
/// A format whose item size is larger than the view's `itemsize` (some producers write
/// such formats, see [`crate::format`]) is not trusted: the item is then `itemsize`
/// bytes. A format smaller than `itemsize` gets trailing bytes.
pub fn describe(geom: &Geometry<'_>, format: &Format, max_count: isize) -> Result<Datatype> {
    if max_count <= 0 {
        return Err(Error::argument(format_args!("max_count = {max_count} is not positive")));
    }
    let itemsize = geom.itemsize;
    let mut structs = Vec::new();
    let unit = if format.itemsize() <= itemsize {
        level(format, itemsize, &mut structs, max_count)?
    } else {
        Unit { elem: Elem::Basic(Kind::Bytes), count: itemsize, size: 1 }
    };
    let empty = geom.shape.contains(&0);
    let nbytes = if empty { 0 } else { geom.len };
    let mut t = Datatype {
        itemsize,
        nbytes,
        elem: unit.elem,
        elem_size: unit.size,
        block: 0,
        dims: Vec::new(),
        structs,
        prefix: 0,
        nbases: 0,
    };
    if empty {
        return Ok(t);
    }
    let ndim = geom.ndim();
    let prefix = geom
        .suboffsets
        .and_then(|subs| subs.iter().rposition(|&s| s >= 0))
        .map_or(0, |k| k + 1);
    let mut sbuf = [0isize; MAX_NDIM];
    let strides = geom.strides_or_c(&mut sbuf);
    // The direct dimensions: length-1 ones dropped, each merged into the one outside it
    // when the outer stride steps over it exactly.
    let mut dims: Vec<Dim> = Vec::with_capacity(ndim - prefix);
    for (&count, &stride) in geom.shape[prefix..].iter().zip(&strides[prefix..]) {
        if count == 1 {
            continue;
        }
        match dims.last_mut() {
            // A validated view's element count fits isize, so the product does.
            Some(outer) if outer.stride == stride.wrapping_mul(count) => {
                *outer = Dim { count: outer.count * count, stride }
            }
            _ => dims.push(Dim { count, stride }),
        }
    }
    // The innermost dimension is part of the block when its items are adjacent.
    let items = match dims.last() {
        Some(inner) if inner.stride == itemsize => dims.pop().map_or(1, |d| d.count),
        _ => 1,
    };
    let block = items
        .checked_mul(unit.count)
        .ok_or_else(|| Error::overflow(format_args!("{items} items of {} values overflow", unit.count)))?;
    // Keep every count within max_count, splitting by powers of two where that suffices.
    let mut out = Vec::with_capacity(dims.len() + 1);
    for d in dims {
        let (outer, inner) = split(d.count, max_count).ok_or_else(|| too_many("a dimension's length", d.count, max_count))?;
        if outer > 1 {
            out.push(Dim { count: outer, stride: d.stride * inner });
        }
        out.push(Dim { count: inner, stride: d.stride });
    }
    let (outer, inner) = split(block, max_count).ok_or_else(|| too_many("a contiguous block's length", block, max_count))?;
    if outer > 1 {
        out.push(Dim { count: outer, stride: inner * unit.size });
    }
    let nbases = if prefix == 0 {
        0
    } else {
        let n = geom.shape[..prefix].iter().product::<isize>();
        if n > max_count {
            return Err(too_many("the number of blocks reached through suboffsets", n, max_count));
        }
        n
    };
    t.block = inner;
    t.dims = out;
    t.prefix = prefix;
    t.nbases = nbases;
    Ok(t)
}

/// `n` as `outer * inner` with both at most `max` and `inner` as large as possible among
/// the powers of two dividing `n` (`(1, n)` when `n` fits); `None` when no such split fits.
fn split(n: isize, max: isize) -> Option<(isize, isize)> {
    if n <= max {
        return Some((1, n));
    }
    // 1 <= max < n, so both logarithms are below 63.
    let p = n.trailing_zeros().min(max.ilog2());
    let inner = 1isize << p;
    let outer = n / inner;
    (outer <= max).then_some((outer, inner))
}

/// The base addresses of the blocks of a view with suboffsets: for every index of the
/// first `prefix` dimensions, in C order, the address reached by following strides and
/// suboffsets there (as `PyBuffer_GetPointer` does), from which the direct dimensions
/// apply. Empty when `prefix` is 0 or the view is empty.
///
/// # Safety
/// `geom` is a validated geometry of memory at `buf` that holds the pointers its
/// suboffsets announce (any valid view whose memory is alive).
pub unsafe fn bases(buf: *mut u8, geom: &Geometry<'_>, prefix: usize) -> Vec<*mut u8> {
    if prefix == 0 || geom.shape.contains(&0) {
        return Vec::new();
    }
    let outer = Geometry {
        shape: &geom.shape[..prefix],
        strides: geom.strides.map(|s| &s[..prefix]),
        suboffsets: geom.suboffsets.map(|s| &s[..prefix]),
        ..*geom
    };
    let n: isize = outer.shape.iter().product();
    let mut out = Vec::with_capacity(n as usize);
    let mut index = [0isize; MAX_NDIM];
    loop {
        // SAFETY: the index is within the shape, and the memory holds the pointers the
        // suboffsets announce, by this function's contract.
        out.push(unsafe { crate::copy::element_ptr(buf, &outer, &index[..prefix]) });
        let mut k = prefix;
        loop {
            if k == 0 {
                return out;
            }
            k -= 1;
            index[k] += 1;
            if index[k] < outer.shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
}

/// The basic kind of `size`-byte values of `code` in `order`; [`Kind::Bytes`] for what has
/// no C type, and for values in non-native byte order.
fn kind_of(code: Code, size: isize, order: ByteOrder) -> Kind {
    use Code::*;
    if size > 1 && order != ByteOrder::NATIVE {
        return Kind::Bytes;
    }
    let signed = |size| match size {
        1 => Kind::Int8,
        2 => Kind::Int16,
        4 => Kind::Int32,
        8 => Kind::Int64,
        _ => Kind::Bytes,
    };
    let unsigned = |size| match size {
        1 => Kind::UInt8,
        2 => Kind::UInt16,
        4 => Kind::UInt32,
        8 => Kind::UInt64,
        _ => Kind::Bytes,
    };
    match code {
        SChar | Short | Int | Long | LongLong | SSize => signed(size),
        UChar | UShort | UInt | ULong | ULongLong | USize | Ucs2 | Ucs4 => unsigned(size),
        Bool if size == 1 => Kind::Bool,
        Float if size == 4 => Kind::Float,
        Double if size == 8 => Kind::Double,
        ComplexFloat if size == 8 => Kind::ComplexFloat,
        ComplexDouble if size == 16 => Kind::ComplexDouble,
        LongDouble => Kind::LongDouble,
        ComplexLongDouble => Kind::ComplexLongDouble,
        _ => Kind::Bytes,
    }
}

/// The bytes of one value of a basic kind, given the size the format says it has.
fn unit_size(kind: Kind, size: isize) -> isize {
    if kind == Kind::Bytes {
        1
    } else {
        size
    }
}

/// Describe one level of a format (the top level, or the inside of a `T{}`) laid out in
/// `extent` bytes: as a single unit when it is one kind from end to end, otherwise as a
/// new struct pushed to `structs`. Recursion is bounded by the parser's nesting limit.
fn level(format: &Format, extent: isize, structs: &mut Vec<StructType>, max: isize) -> Result<Unit> {
    let mut members: Vec<Member> = Vec::new();
    let mut end = 0;
    let bytes = |offset, count| Member { offset, count, size: 1, elem: Elem::Basic(Kind::Bytes) };
    for field in format.fields() {
        let (offset, values) = (field.offset(), field.values());
        if values == 0 || field.size() == 0 {
            continue;
        }
        let unit = match field.kind() {
            FieldKind::Struct(inner) => {
                let u = level(inner, inner.itemsize(), structs, max)?;
                Unit { count: u.count * values, ..u }
            }
            _ => {
                let code = field.code().unwrap_or(Code::Pad);
                let kind = kind_of(code, field.element_size(), field.byte_order());
                let size = unit_size(kind, field.element_size());
                Unit { elem: Elem::Basic(kind), count: field.size() / size, size }
            }
        };
        if offset < end || offset + field.size() > extent {
            // Fields out of order or past the item: the level is raw bytes.
            return Ok(Unit { elem: Elem::Basic(Kind::Bytes), count: extent, size: 1 });
        }
        if offset > end {
            push(&mut members, bytes(end, offset - end));
        }
        push(&mut members, Member { offset, count: unit.count, size: unit.size, elem: unit.elem });
        end = offset + field.size();
    }
    if end < extent {
        push(&mut members, bytes(end, extent - end));
    }
    match members.as_slice() {
        [] => Ok(Unit { elem: Elem::Basic(Kind::Bytes), count: 0, size: 1 }),
        [m] if m.offset == 0 => Ok(Unit { elem: m.elem, count: m.count, size: m.size }),
        _ => {
            if members.len() as isize > max {
                return Err(too_many("the number of members of a struct", members.len() as isize, max));
            }
            if let Some(m) = members.iter().find(|m| m.count > max) {
                return Err(too_many(format_args!("the count of the member at offset {}", m.offset), m.count, max));
            }
            structs.push(StructType { extent, members });
            Ok(Unit { elem: Elem::Struct(structs.len() - 1), count: 1, size: extent })
        }
    }
}

/// Append `m`, merged into the last member when it continues it with the same basic kind.
fn push(members: &mut Vec<Member>, m: Member) {
    if let Some(last) = members.last_mut() {
        if matches!(last.elem, Elem::Basic(_)) && last.elem == m.elem && last.size == m.size && last.offset + last.count * last.size == m.offset {
            last.count += m.count;
            return;
        }
    }
    members.push(m);
}
