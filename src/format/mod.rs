//! PEP 3118 format strings: a parser and a layout engine.
//!
//! [`Format::parse`] turns a format string (`b"T{<i:x:(2,2)d:m:}"`) into a tree of
//! [`Field`]s, each with its byte offset, size and alignment; [`size_from_format`] gives
//! just the item size. Everything is safe Rust, never panics on any input and never
//! recurses more than [`MAX_DEPTH`] levels.
//!
//! # Grammar
//!
//! A format is a sequence of items, with whitespace allowed between items. An item is
//!
//! ```text
//! [ '(' dim { ',' dim } ')' ] [ count ] code [ ':' name ':' ]
//! ```
//!
//! where `code` is one of the struct module's codes `x c b B ? h H i I l L q Q n N e f d
//! s p P`, or `g` (long double), `Zf` `Zd` `Zg` (complex), `u` (UCS-2), `w` (UCS-4),
//! `O` (object pointer), `&` followed by an item (a pointer to it), `T{` items `}` (a
//! struct), `X{` items, optionally `->` items, `}` (a function pointer and its signature) or `t`
//! (a bit, parsed and refused: it has no byte size). The byte order and alignment markers
//! `@ = < > ! ^` may stand anywhere between items, after a shape and right after `&`.
//!
//! # Layout rules
//!
//! - The mode (set by a marker, `@` at the start) decides sizes and alignment: `@` native
//!   sizes and alignment, `^` native sizes without alignment, `= < > !` the struct
//!   module's standard sizes without alignment. A marker applies to everything to its
//!   right in the string, including past the `}` of the `T{}` it stands in, as in NumPy.
//! - The top level follows `struct.calcsize`: in `@` each item is aligned to its natural
//!   alignment, even with a count of 0, and the item size has no trailing padding
//!   (`"ib"` is 5, `"bi"` is 8).
//! - A `T{}` follows NumPy's `_dtype_from_pep3118`: its fields are laid out as at the
//!   top level; its alignment is the largest alignment of its fields laid out in `@`
//!   mode; it gets trailing padding to that alignment when the mode at its `}` is `@`;
//!   and it is itself aligned (to that alignment) when the mode after its `}` is `@`.
//! - A count repeats an item (`3i` is three ints); on `s` and `p` it is the length in
//!   bytes of one string and on `x` the number of pad bytes. A shape `(2,3)` multiplies
//!   the count, so `(2)3i` is six ints.
//!
//! # Where pybuf differs from the struct module and NumPy
//!
//! The item size equals `struct.calcsize` for every string the struct module accepts, and
//! the item size and field offsets of a top-level `T{...}` equal NumPy's for every string
//! NumPy accepts. Beyond that:
//!
//! 1. **Top-level trailing padding.** NumPy pads the whole format to its alignment when
//!    it ends in `@` mode; pybuf follows the struct module and does not: `"ib"` is 5
//!    (NumPy 8), `"T{ib}b"` is 9 (NumPy 12). A `T{}` is padded as in NumPy.
//! 2. **Markers persist past `}`.** As in NumPy (whose parser keeps one byte order for
//!    the whole string), `"T{<i}bi"` is 9 with the last `i` at offset 5, unaligned; and a
//!    struct whose `}` is reached in a standard mode is not padded: `"T{i<b}"` is 5.
//! 3. **Markers anywhere.** The struct module takes a marker only as the first character;
//!    NumPy takes one only before a count or code (so refuses `"<(2)i"` and `"T{i<}"`).
//!    pybuf takes markers between any two items, after a shape, after `&`, and at the
//!    end of the string or of a `T{}` (where it changes the mode that places the struct).
//! 4. **Whitespace** is ignored between items and inside a shape, as the struct module
//!    does between items (NumPy refuses all whitespace). It is refused between a count
//!    and its code, as the struct module refuses it.
//! 5. **`g` and `Zg` in standard modes** (`"<g"`, which ctypes writes for `c_longdouble`)
//!    have the platform's `long double` size, unaligned. NumPy refuses them.
//! 6. **`P`, `O`, `&` and `X{}` in standard modes** have the native pointer size,
//!    unaligned: ctypes writes `<P`, `<O` and `&<i`. The struct module refuses `"<P"`;
//!    NumPy takes `"<O"` the same way and refuses the others. `n` and `N` are refused in
//!    standard modes, as the struct module refuses them ([`crate::error::Status::InvalidFormat`]).
//! 7. **`u` is 2 bytes** (UCS-2, as PEP 3118 says), although ctypes writes `<u` for its
//!    4-byte `wchar_t` on Linux; `w` is 4 bytes. `3w` is 12 bytes, as NumPy's `U3`.
//!    NumPy refuses `u`; the struct module knows neither.
//! 8. **Codes NumPy lacks**: `p` (the struct module's Pascal string), `n`, `N`, `P`, `&`
//!    and `X{}` are sized; `&` and `X{}` are pointer sized (a function pointer has the
//!    size of a data pointer on every target Rust supports). `t` (bits) is refused with
//!    [`crate::error::Status::UnsupportedFormat`]; so is `g` on a target whose
//!    `long double` pybuf does not know (see `native.rs`).
//! 9. **Depth.** `T{`, `X{` and `&` nest at most [`MAX_DEPTH`] (64) levels; deeper
//!    nesting is refused with `UnsupportedFormat` instead of exhausting the stack.
//! 10. **Names**: a `:name:` may follow any item, padding included (NumPy keeps a named
//!     `x` as a field too). Names must be non-empty UTF-8 without NUL or `:`; duplicate
//!     names within one `T{}` (or at the top level) are refused, as in NumPy.
//! 11. NumPy pads an element whose size is not a multiple of its alignment when it is
//!     repeated; with the size tables used here that never happens, so pybuf has no such
//!     rule.
//!
//! # Producers whose formats disagree with their own item size
//!
//! Some exporters write formats that no parser, NumPy's included, sizes to the
//! exported `itemsize`, so a consumer should not insist on equality for them:
//!
//! - NumPy writes explicit `x` padding after a nested aligned struct that the parser then
//!   pads again: a 24-byte aligned dtype exports `"T{T{d:x:b:y:}:a:xxxxxxxd:b:}"` (32
//!   here and in NumPy), and a packed 9-byte `[('a','O'),('b','i1')]` exports
//!   `"T{O:a:b:b:}"` (16). It drops the trailing padding of a dtype with explicit
//!   offsets and itemsize, and an aligned 24-byte `[('a','i1'),('b','>f8'),('c','<i4')]`
//!   exports `"T{b:a:xxxxxxx>d:b:@i:c:}"` (20: the big-endian field's alignment is lost).
//! - ctypes writes `<` before every field and no padding: a 24-byte
//!   `struct {char a; int b; double c[2];}` exports `"T{<b:a:<i:b:(2)<d:c:}"` (21).
//!
//! # Leaves
//!
//! [`Format::leaves`] lists one [`Leaf`] per scalar field of the tree (pointers and
//! function pointers are leaves; the pointee is not walked). A leaf keeps its count
//! instead of being expanded, and a leaf inside a repeated `T{}` appears once with the
//! enclosing repetitions in [`Leaf::repeats`], so the list stays as long as the format
//! string however many values it describes (`"1000000000T{id}"` has two leaves).
//! [`Format::runs`] walks every value in offset order without allocating per value.

// Sizes, counts and offsets here come from outside input: every operation on them is
// checked, or carries a comment proving its bounds (issue 12).
#![warn(clippy::arithmetic_side_effects)]

mod diff;
mod layout;
mod native;
mod parse;
mod write;

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests;

pub use layout::{Element, Leaf, Mismatch, Repeat, Run, Runs};
pub(crate) use parse::show;

use std::sync::Arc;

use crate::error::Result;

/// How deeply `T{`, `X{` and `&` may nest.
pub const MAX_DEPTH: usize = 64;

/// Size in bytes of one item described by `format`.
///
/// Equals `struct.calcsize(format)` for every string the struct module accepts, and
/// NumPy's `itemsize` for a `T{...}` struct. `b""` is 0.
pub fn size_from_format(format: &[u8]) -> Result<isize> {
    Format::parse(format).map(|f| f.itemsize())
}

/// A byte order and alignment mode, set by a marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `@` (the default): native byte order, native sizes, native alignment.
    Native,
    /// `=`: native byte order, standard sizes, no alignment.
    NativeOrder,
    /// `<`: little-endian, standard sizes, no alignment.
    Little,
    /// `>` or `!`: big-endian, standard sizes, no alignment.
    Big,
    /// `^`: native byte order, native sizes, no alignment.
    Unaligned,
}

impl Mode {
    /// The mode a marker byte sets, if it is one.
    pub fn from_marker(marker: u8) -> Option<Mode> {
        Some(match marker {
            b'@' => Mode::Native,
            b'=' => Mode::NativeOrder,
            b'<' => Mode::Little,
            b'>' | b'!' => Mode::Big,
            b'^' => Mode::Unaligned,
            _ => return None,
        })
    }

    /// The marker that sets this mode (`>` for [`Mode::Big`]).
    pub fn marker(self) -> char {
        match self {
            Mode::Native => '@',
            Mode::NativeOrder => '=',
            Mode::Little => '<',
            Mode::Big => '>',
            Mode::Unaligned => '^',
        }
    }

    /// The byte order of values in this mode.
    pub fn byte_order(self) -> ByteOrder {
        match self {
            Mode::Little => ByteOrder::Little,
            Mode::Big => ByteOrder::Big,
            Mode::Native | Mode::NativeOrder | Mode::Unaligned => ByteOrder::NATIVE,
        }
    }

    /// Whether values are aligned to their natural alignment (only `@`).
    pub fn is_aligned(self) -> bool {
        self == Mode::Native
    }

    /// Whether values have the platform's C sizes (`@` and `^`) rather than the struct
    /// module's standard sizes.
    pub fn has_native_sizes(self) -> bool {
        matches!(self, Mode::Native | Mode::Unaligned)
    }
}

/// A byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    /// The byte order of the target.
    pub const NATIVE: ByteOrder =
        if cfg!(target_endian = "big") { ByteOrder::Big } else { ByteOrder::Little };

    fn describe(self) -> &'static str {
        match self {
            ByteOrder::Little => "little-endian",
            ByteOrder::Big => "big-endian",
        }
    }
}

/// A leaf type code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// `x`: a pad byte.
    Pad,
    /// `c`: a char (a bytes object of length 1).
    Char,
    /// `b`: signed char.
    SChar,
    /// `B`: unsigned char.
    UChar,
    /// `?`: _Bool.
    Bool,
    /// `h`: short.
    Short,
    /// `H`: unsigned short.
    UShort,
    /// `i`: int.
    Int,
    /// `I`: unsigned int.
    UInt,
    /// `l`: long.
    Long,
    /// `L`: unsigned long.
    ULong,
    /// `q`: long long.
    LongLong,
    /// `Q`: unsigned long long.
    ULongLong,
    /// `n`: ssize_t (native modes only).
    SSize,
    /// `N`: size_t (native modes only).
    USize,
    /// `e`: IEEE half float.
    Half,
    /// `f`: float.
    Float,
    /// `d`: double.
    Double,
    /// `g`: long double.
    LongDouble,
    /// `Zf`: complex float.
    ComplexFloat,
    /// `Zd`: complex double.
    ComplexDouble,
    /// `Zg`: complex long double.
    ComplexLongDouble,
    /// `s`: a byte string (the count is its length).
    Bytes,
    /// `p`: a Pascal string (the count is its length, length byte included).
    PascalBytes,
    /// `P`: void *.
    VoidPtr,
    /// `O`: a Python object pointer.
    Object,
    /// `u`: a UCS-2 code unit (2 bytes).
    Ucs2,
    /// `w`: a UCS-4 code point (4 bytes).
    Ucs4,
    /// `&`: a pointer to another item (only in [`Leaf`]s; a field has [`Kind::Pointer`]).
    Pointer,
    /// `X{}`: a function pointer (only in [`Leaf`]s; a field has [`Kind::Function`]).
    Function,
}

impl Code {
    /// The code as written in a format string (`"Zd"`, `"&"`, `"X{}"`, ...).
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            Pad => "x",
            Char => "c",
            SChar => "b",
            UChar => "B",
            Bool => "?",
            Short => "h",
            UShort => "H",
            Int => "i",
            UInt => "I",
            Long => "l",
            ULong => "L",
            LongLong => "q",
            ULongLong => "Q",
            SSize => "n",
            USize => "N",
            Half => "e",
            Float => "f",
            Double => "d",
            LongDouble => "g",
            ComplexFloat => "Zf",
            ComplexDouble => "Zd",
            ComplexLongDouble => "Zg",
            Bytes => "s",
            PascalBytes => "p",
            VoidPtr => "P",
            Object => "O",
            Ucs2 => "u",
            Ucs4 => "w",
            Pointer => "&",
            Function => "X{}",
        }
    }

    /// The scalar code a single letter stands for (not `Z`, `T`, `X`, `&` or `t`).
    pub(crate) fn from_letter(c: u8) -> Option<Code> {
        use Code::*;
        Some(match c {
            b'x' => Pad,
            b'c' => Char,
            b'b' => SChar,
            b'B' => UChar,
            b'?' => Bool,
            b'h' => Short,
            b'H' => UShort,
            b'i' => Int,
            b'I' => UInt,
            b'l' => Long,
            b'L' => ULong,
            b'q' => LongLong,
            b'Q' => ULongLong,
            b'n' => SSize,
            b'N' => USize,
            b'e' => Half,
            b'f' => Float,
            b'd' => Double,
            b'g' => LongDouble,
            b's' => Bytes,
            b'p' => PascalBytes,
            b'P' => VoidPtr,
            b'O' => Object,
            b'u' => Ucs2,
            b'w' => Ucs4,
            _ => return None,
        })
    }

    /// Whether a count on this code is a byte length (`s`, `p`) rather than a repeat.
    pub fn count_is_length(self) -> bool {
        matches!(self, Code::Bytes | Code::PascalBytes)
    }
}

/// What a field holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A scalar code (never [`Code::Pointer`] or [`Code::Function`]).
    Scalar(Code),
    /// `T{...}`: a struct (shared, so that a handle on it costs no copy).
    Struct(Arc<Format>),
    /// `&item`: a pointer; the pointee is laid out at offset 0 of its own.
    Pointer(Box<Field>),
    /// `X{args->ret}`: a function pointer.
    Function(Box<Signature>),
}

/// The signature inside `X{...}`: argument types, then the return type after `->`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// The arguments, laid out as a top-level format would be.
    pub args: Format,
    /// The return type, if `->` is written.
    pub ret: Option<Format>,
}

/// One item of a format: a code or composite, with its count, shape, name and layout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    pub(crate) kind: Kind,
    pub(crate) mode: Mode,
    pub(crate) count: isize,
    pub(crate) shape: Vec<isize>,
    pub(crate) name: Option<String>,
    pub(crate) offset: isize,
    pub(crate) element_size: isize,
    pub(crate) values: isize,
    pub(crate) size: isize,
    pub(crate) alignment: isize,
}

impl Field {
    /// What the field holds.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The leaf code: the scalar code, [`Code::Pointer`] for `&`, [`Code::Function`] for
    /// `X{}`, `None` for a struct.
    pub fn code(&self) -> Option<Code> {
        match &self.kind {
            Kind::Scalar(c) => Some(*c),
            Kind::Pointer(_) => Some(Code::Pointer),
            Kind::Function(_) => Some(Code::Function),
            Kind::Struct(_) => None,
        }
    }

    /// The nested struct of a `T{}` field.
    pub fn nested(&self) -> Option<&Format> {
        match &self.kind {
            Kind::Struct(f) => Some(f),
            _ => None,
        }
    }

    /// The pointee of a `&` field.
    pub fn pointee(&self) -> Option<&Field> {
        match &self.kind {
            Kind::Pointer(p) => Some(p),
            _ => None,
        }
    }

    /// The signature of an `X{}` field.
    pub fn signature(&self) -> Option<&Signature> {
        match &self.kind {
            Kind::Function(s) => Some(s),
            _ => None,
        }
    }

    /// The mode that placed this field. For `T{}`, `&` and `X{}` it is the mode in
    /// effect after the closing `}` or the pointee, since markers persist.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The byte order of the field's values.
    pub fn byte_order(&self) -> ByteOrder {
        self.mode.byte_order()
    }

    /// The count as written, 1 if none was written. For `s` and `p` it is the length
    /// of one string, for `x` the number of pad bytes.
    pub fn count(&self) -> isize {
        self.count
    }

    /// The sub-array shape, empty if none was written.
    pub fn shape(&self) -> &[isize] {
        &self.shape
    }

    /// The field name, if `:name:` was written.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Byte offset of the field within the enclosing struct (or the item).
    pub fn offset(&self) -> isize {
        self.offset
    }

    /// Size of one value: a code's size, a struct's item size, a whole `s`/`p` string.
    pub fn element_size(&self) -> isize {
        self.element_size
    }

    /// The number of values: product(shape) times the count (times 1 for `s`/`p`).
    pub fn values(&self) -> isize {
        self.values
    }

    /// Bytes the field covers: `values() * element_size()`.
    pub fn size(&self) -> isize {
        self.size
    }

    /// The alignment that placed the field: its natural alignment in `@` mode, else 1.
    pub fn alignment(&self) -> isize {
        self.alignment
    }
}

/// A parsed format: the top level, or the inside of a `T{}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Format {
    pub(crate) fields: Vec<Field>,
    pub(crate) itemsize: isize,
    pub(crate) alignment: isize,
}

impl Format {
    /// Parse a PEP 3118 format string and lay it out.
    ///
    /// Errors name the byte offset and the reason: `InvalidFormat` for malformed
    /// strings, `UnsupportedFormat` for well-formed ones pybuf cannot size (`t`, deeper
    /// nesting than [`MAX_DEPTH`], `g` on an unknown target), `Overflow` when a count or
    /// size exceeds `isize::MAX`.
    pub fn parse(format: &[u8]) -> Result<Format> {
        parse::parse(format)
    }

    /// Size in bytes of one item (of the struct, for a nested format).
    pub fn itemsize(&self) -> isize {
        self.itemsize
    }

    /// The largest alignment of the fields laid out in `@` mode (1 if none): what a
    /// `T{}` around this format would be aligned to.
    pub fn alignment(&self) -> isize {
        self.alignment
    }

    /// The top-level fields, in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The leaves of the tree, in order: see the module documentation.
    pub fn leaves(&self) -> Vec<Leaf> {
        layout::leaves(self)
    }

    /// Every value of the item, as runs of consecutive values, in offset order.
    pub fn runs(&self) -> Runs<'_> {
        Runs::new(self)
    }

    /// A canonical format string that parses back to a format equal to this one:
    /// markers only where the mode changes (`>` for `!`), counts only when not 1, no
    /// whitespace.
    pub fn canonical(&self) -> String {
        write::canonical(self)
    }

    /// Whether an item of `self` and an item of `other` can be read as each other: the
    /// same item size and, at every offset, values of the same kind, size and byte
    /// order (so `"<d"` matches `"d"` on little-endian targets and `"l"` matches `"q"`
    /// where long is 64 bits, while `"i"` and `"f"` differ). Padding, names and how
    /// values are grouped into structs, counts and shapes do not matter; `c` and `s`
    /// are both bytes.
    ///
    /// Equal formats return at once; otherwise the cost is proportional to the number of
    /// runs (see [`Format::runs`]): `"1000000000T{id}"` against another format walks
    /// two billion runs.
    pub fn layout_compatible(&self, other: &Format) -> std::result::Result<(), Mismatch> {
        layout::compatible(self, other)
    }

    /// Whether memory holding items of `itemsize` bytes laid out as `self` (a view's
    /// format and item size) can be read as items of `expected`, as a Cython typed
    /// memoryview checks it: `itemsize` must equal `expected`'s item size, and the values
    /// must match as in [`Format::layout_compatible`]. `self`'s own item size does not
    /// matter, so a format whose trailing padding disagrees with the exporter's itemsize
    /// still matches (a value past `itemsize` does not).
    pub fn check_view(&self, itemsize: isize, expected: &Format) -> std::result::Result<(), Mismatch> {
        if itemsize != expected.itemsize {
            return Err(Mismatch::Itemsize { left: itemsize, right: expected.itemsize });
        }
        if self == expected {
            return Ok(());
        }
        layout::same_values(self, expected)
    }

    /// The first structural difference from `other`, in words, or `None` when the two
    /// are equal (`==`): `"field 'b': 'i' at offset 4 vs 'f' at offset 4"`.
    pub fn difference(&self, other: &Format) -> Option<String> {
        diff::difference(self, other)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical())
    }
}
