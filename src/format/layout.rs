//! Layout: sizes and offsets of fields, the leaves of a tree, the runs of values in
//! offset order, and layout compatibility.

use std::collections::HashSet;
use std::fmt::{self, Write as _};

use super::native::{self, NoSize};
use super::{ByteOrder, Code, Field, Format, Kind, Mode};

/// Why a field could not be laid out; the parser adds the position.
#[derive(Debug)]
pub(crate) enum Fail {
    Overflow(String),
    NoSize(Code, Mode, NoSize),
}

fn mul(a: isize, b: isize, what: &str) -> Result<isize, Fail> {
    a.checked_mul(b).ok_or_else(|| Fail::Overflow(format!("{what} ({a} * {b}) exceeds isize::MAX")))
}

fn add(a: isize, b: isize, what: &str) -> Result<isize, Fail> {
    a.checked_add(b).ok_or_else(|| Fail::Overflow(format!("{what} ({a} + {b}) exceeds isize::MAX")))
}

/// `value` rounded up to a multiple of `align` (> 0).
fn align_up(value: isize, align: isize) -> Result<isize, Fail> {
    let rem = value.rem_euclid(align.max(1));
    if rem == 0 {
        Ok(value)
    } else {
        // 0 < rem < align.max(1): the difference is positive and does not overflow.
        add(value, align.max(1).saturating_sub(rem), "aligned offset")
    }
}

/// Size and effective alignment of one value of `kind` placed in `mode`.
fn element(kind: &Kind, mode: Mode) -> Result<(isize, isize), Fail> {
    let code = match kind {
        Kind::Struct(f) => {
            let align = if mode.is_aligned() { f.alignment } else { 1 };
            return Ok((f.itemsize, align));
        }
        Kind::Scalar(c) => *c,
        Kind::Pointer(_) => Code::Pointer,
        Kind::Function(_) => Code::Function,
    };
    native::size_align(code, mode).map(|sa| (sa.size, sa.align)).map_err(|e| Fail::NoSize(code, mode, e))
}

/// Build a field at offset 0 (the builder places it): its element size, value count,
/// total size and alignment.
pub(crate) fn make_field(
    kind: Kind,
    mode: Mode,
    count: isize,
    shape: Vec<isize>,
    name: Option<String>,
) -> Result<Field, Fail> {
    let (unit, alignment) = element(&kind, mode)?;
    let mut values: isize = 1;
    for &dim in &shape {
        crate::work::step(1);
        values = mul(values, dim, "the number of values in the shape")?;
    }
    let is_length = matches!(kind, Kind::Scalar(c) if c.count_is_length());
    let element_size = if is_length {
        mul(unit, count, "the string length")?
    } else {
        values = mul(values, count, "the number of values")?;
        unit
    };
    let size = mul(values, element_size, "the field size")?;
    Ok(Field { kind, mode, count, shape, name, offset: 0, element_size, values, size, alignment })
}

/// Lays out the fields of one level (the top level or a `T{}` body) in order.
pub(crate) struct Builder {
    fields: Vec<Field>,
    end: isize,
    alignment: isize,
    names: HashSet<String>,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder { fields: Vec::new(), end: 0, alignment: 1, names: HashSet::new() }
    }

    /// Whether a field of this level already has `name`.
    pub(crate) fn has_name(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Place `field` after the previous ones, aligned to its alignment.
    pub(crate) fn push(&mut self, mut field: Field) -> Result<(), Fail> {
        crate::work::step(1);
        let offset = align_up(self.end, field.alignment)?;
        self.end = add(offset, field.size, "the item size")?;
        // C alignments are powers of two, so the largest is also the least common multiple.
        self.alignment = self.alignment.max(field.alignment);
        field.offset = offset;
        if let Some(name) = &field.name {
            self.names.insert(name.clone());
        }
        self.fields.push(field);
        Ok(())
    }

    /// The finished level. `pad` adds trailing padding to the alignment (a `T{}` whose
    /// `}` is reached in `@` mode).
    pub(crate) fn finish(self, pad: bool) -> Result<Format, Fail> {
        let itemsize = if pad { align_up(self.end, self.alignment)? } else { self.end };
        Ok(Format { fields: self.fields, itemsize, alignment: self.alignment })
    }
}

/// A repetition enclosing a leaf: the leaf recurs `count` times, `stride` bytes apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repeat {
    pub count: isize,
    pub stride: isize,
}

/// A scalar field of the tree, placed in the item.
///
/// Its values are at `offset + j * size` for `j` in `0..count`, plus, for each
/// [`Repeat`] `r` (outermost first), `i_r * r.stride` for `i_r` in `0..r.count`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Leaf {
    /// Offset of the first value from the start of the item.
    pub offset: isize,
    /// The code (`Code::Pointer` for `&`, `Code::Function` for `X{}`, `Code::Pad` for `x`).
    pub code: Code,
    /// The mode that placed the field.
    pub mode: Mode,
    /// The byte order of the values.
    pub byte_order: ByteOrder,
    /// Size of one value (a whole string for `s` and `p`).
    pub size: isize,
    /// Consecutive values: the count times product(shape) (for `s`/`p`, product(shape)).
    pub count: isize,
    /// Repetitions of the enclosing structs (a count or shape on a `T{}`), outermost
    /// first; empty when no enclosing struct is repeated.
    pub repeats: Vec<Repeat>,
    /// The field's own name.
    pub name: Option<String>,
}

impl Leaf {
    /// The total number of values: `count` times every repeat count.
    pub fn total(&self) -> isize {
        self.repeats.iter().fold(self.count, |n, r| n.saturating_mul(r.count))
    }
}

pub(crate) fn leaves(format: &Format) -> Vec<Leaf> {
    let mut out = Vec::new();
    let mut repeats = Vec::new();
    collect(format, 0, &mut repeats, &mut out);
    out
}

// Recursion depth is bounded by the parser's MAX_DEPTH: a Format only comes from it.
fn collect(format: &Format, base: isize, repeats: &mut Vec<Repeat>, out: &mut Vec<Leaf>) {
    for field in &format.fields {
        let offset = base.saturating_add(field.offset);
        match &field.kind {
            Kind::Struct(inner) => {
                let repeated = field.values != 1;
                if repeated {
                    repeats.push(Repeat { count: field.values, stride: field.element_size });
                }
                collect(inner, offset, repeats, out);
                if repeated {
                    repeats.pop();
                }
            }
            _ => out.push(Leaf {
                offset,
                code: field.code().unwrap_or(Code::Pad),
                mode: field.mode,
                byte_order: field.byte_order(),
                size: field.element_size,
                count: field.values,
                repeats: repeats.clone(),
                name: field.name.clone(),
            }),
        }
    }
}

/// `count` consecutive values of one code, `size` bytes each, from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Run {
    pub offset: isize,
    pub code: Code,
    pub mode: Mode,
    pub size: isize,
    pub count: isize,
}

impl Run {
    pub fn byte_order(&self) -> ByteOrder {
        self.mode.byte_order()
    }
}

enum Frame<'a> {
    /// Walking `fields` of a struct placed at `base`; `next` is the next field.
    Seq { fields: &'a [Field], next: usize, base: isize },
    /// Repeating a struct: element `next` of `total`, `stride` apart from `base`.
    Rep { format: &'a Format, next: isize, total: isize, base: isize, stride: isize },
}

/// The values of a format in offset order, as runs: see [`Format::runs`].
///
/// A walk with an explicit stack: no recursion, no allocation per value.
pub struct Runs<'a> {
    stack: Vec<Frame<'a>>,
}

impl<'a> Runs<'a> {
    pub(crate) fn new(format: &'a Format) -> Self {
        Runs { stack: vec![Frame::Seq { fields: &format.fields, next: 0, base: 0 }] }
    }

    /// The field path of the run last returned by `next`, for messages: field names
    /// joined by `.`, `#i` for an unnamed scalar that is field `i` of its level, and
    /// `[k]` for element `k` of a repeated struct; unnamed structs are left out
    /// (`"2T{i:a:T{bd}:s:}"` gives `[1].s.#1` for the last `d`). Empty before the first
    /// run and after the last.
    pub fn path(&self) -> String {
        let mut out = String::new();
        let depth = self.stack.len();
        for (i, frame) in self.stack.iter().enumerate() {
            match frame {
                Frame::Seq { fields, next, .. } => {
                    let Some(index) = next.checked_sub(1) else { continue };
                    let Some(field) = fields.get(index) else { continue };
                    let label = match &field.name {
                        Some(name) => name.clone(),
                        // i < depth, the stack's length.
                        None if i.saturating_add(1) == depth => format!("#{index}"),
                        None => continue,
                    };
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&label);
                }
                Frame::Rep { next, total, .. } => {
                    if *total != 1 {
                        let _ = write!(out, "[{}]", next.saturating_sub(1));
                    }
                }
            }
        }
        out
    }
}

/// Whether walking `format` yields at least one run (it has a field that is not an empty
/// struct). Bounded by the format's nesting depth.
fn yields_runs(format: &Format) -> bool {
    format.fields.iter().any(|f| match &f.kind {
        Kind::Struct(inner) => f.values > 0 && yields_runs(inner),
        _ => true,
    })
}

impl Iterator for Runs<'_> {
    type Item = Run;

    fn next(&mut self) -> Option<Run> {
        loop {
            let push = match self.stack.last_mut()? {
                Frame::Seq { fields, next, base } => {
                    let Some(field) = fields.get(*next) else {
                        self.stack.pop();
                        continue;
                    };
                    crate::work::step(1);
                    // An index into `fields`, below its length.
                    *next = next.saturating_add(1);
                    let offset = base.saturating_add(field.offset);
                    match &field.kind {
                        // A struct that yields no run (`T{}`, nested empty ones) is skipped
                        // whole: repeating it, even 10^16 times, gives nothing.
                        Kind::Struct(inner) if field.values == 0 || !yields_runs(inner) => continue,
                        Kind::Struct(inner) => Frame::Rep {
                            format: inner,
                            next: 0,
                            total: field.values,
                            base: offset,
                            stride: field.element_size,
                        },
                        _ => {
                            return Some(Run {
                                offset,
                                code: field.code().unwrap_or(Code::Pad),
                                mode: field.mode,
                                size: field.element_size,
                                count: field.values,
                            })
                        }
                    }
                }
                Frame::Rep { format, next, total, base, stride } => {
                    if *next >= *total {
                        self.stack.pop();
                        continue;
                    }
                    let start = base.saturating_add(next.saturating_mul(*stride));
                    // Below total (checked above).
                    *next = next.saturating_add(1);
                    Frame::Seq { fields: &format.fields, next: 0, base: start }
                }
            };
            self.stack.push(push);
        }
    }
}

/// What a value is, for layout compatibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Signed,
    Unsigned,
    Bool,
    Float,
    Complex,
    Bytes,
    Pascal,
    Text,
    Pointer,
    Function,
    Object,
}

fn class(code: Code) -> Option<Class> {
    use Code::*;
    Some(match code {
        Pad => return None,
        Char | Bytes => Class::Bytes,
        SChar | Short | Int | Long | LongLong | SSize => Class::Signed,
        UChar | UShort | UInt | ULong | ULongLong | USize => Class::Unsigned,
        Bool => Class::Bool,
        Half | Float | Double | LongDouble => Class::Float,
        ComplexFloat | ComplexDouble | ComplexLongDouble => Class::Complex,
        PascalBytes => Class::Pascal,
        Ucs2 | Ucs4 => Class::Text,
        VoidPtr | Pointer => Class::Pointer,
        Function => Class::Function,
        Object => Class::Object,
    })
}

/// One value of a format, as named in a [`Mismatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub offset: isize,
    pub code: Code,
    pub byte_order: ByteOrder,
    pub size: isize,
    /// The field path (see [`Runs::path`]), with `[j]` appended for value `j` of a
    /// field that holds more than one.
    pub field: String,
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' ({} bytes", self.code.as_str(), self.size)?;
        if self.size > 1 {
            write!(f, ", {}", self.byte_order.describe())?;
        }
        write!(f, ") at offset {}", self.offset)?;
        if !self.field.is_empty() {
            write!(f, " (field {})", self.field)?;
        }
        Ok(())
    }
}

/// Why two formats are not layout compatible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The item sizes differ.
    Itemsize { left: isize, right: isize },
    /// The first value (in offset order, padding skipped) that differs; `None` where one
    /// side has no more values.
    Value { offset: isize, left: Option<Element>, right: Option<Element> },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Itemsize { left, right } => write!(f, "item sizes differ: {left} vs {right}"),
            Mismatch::Value { offset, left, right } => {
                write!(f, "first difference at byte offset {offset}: ")?;
                match left {
                    Some(e) => write!(f, "{e}")?,
                    None => f.write_str("no value")?,
                }
                f.write_str(" vs ")?;
                match right {
                    Some(e) => write!(f, "{e}"),
                    None => f.write_str("no value"),
                }
            }
        }
    }
}

impl std::error::Error for Mismatch {}

/// A run being compared: byte strings are split into single bytes so that `3s`, `sss`
/// and `3c` compare equal.
#[derive(Clone, Copy)]
struct Cursor {
    offset: isize,
    code: Code,
    class: Class,
    order: ByteOrder,
    size: isize,
    left: isize,
    /// Where the run starts, and how many values it has in all.
    first: isize,
    units: isize,
}

struct Values<'a> {
    runs: Runs<'a>,
    current: Option<Cursor>,
}

impl<'a> Values<'a> {
    fn new(format: &'a Format) -> Self {
        Values { runs: format.runs(), current: None }
    }

    /// The next run with values left, padding and empty runs skipped.
    fn peek(&mut self) -> Option<Cursor> {
        loop {
            if let Some(c) = self.current {
                if c.left > 0 {
                    return Some(c);
                }
            }
            let run = self.runs.next()?;
            let Some(class) = class(run.code) else { continue };
            let (size, left) = if class == Class::Bytes {
                (1, run.count.saturating_mul(run.size))
            } else {
                (run.size, run.count)
            };
            if size == 0 {
                continue;
            }
            self.current = Some(Cursor {
                offset: run.offset,
                code: run.code,
                class,
                order: run.byte_order(),
                size,
                left,
                first: run.offset,
                units: left,
            });
        }
    }

    fn consume(&mut self, n: isize) {
        if let Some(c) = &mut self.current {
            // n is at most what is left (the smaller of both sides' left).
            c.left = c.left.saturating_sub(n);
            c.offset = c.offset.saturating_add(n.saturating_mul(c.size));
        }
    }

    /// The value under `c`, which must be the current cursor: the runs iterator still
    /// stands on its run, so its path is the run's.
    fn element(&self, c: &Cursor) -> Element {
        let mut field = self.runs.path();
        if c.units > 1 {
            // offset >= first (it only moves forward); the divisor is at least 1.
            let index = c.offset.saturating_sub(c.first).checked_div(c.size.max(1)).unwrap_or(0);
            let _ = write!(field, "[{index}]");
        }
        Element { offset: c.offset, code: c.code, byte_order: c.order, size: c.size, field }
    }
}

pub(crate) fn compatible(a: &Format, b: &Format) -> Result<(), Mismatch> {
    if a.itemsize != b.itemsize {
        return Err(Mismatch::Itemsize { left: a.itemsize, right: b.itemsize });
    }
    if a == b {
        return Ok(());
    }
    same_values(a, b)
}

/// A shortcut for [`same_values`]: true when `a` and `b` have the same fields at the same
/// offsets with the same repeat counts, each pair of scalars of the same kind, size and
/// byte order, each pair of structs with the same values (checked once, not once per
/// repetition, so `"1000000000T{<i}"` and `"1000000000T{i}"` compare in no time).
/// False means "not shown equal this way"; the value-by-value walk then decides.
fn same_structure(a: &Format, b: &Format) -> bool {
    a.fields.len() == b.fields.len()
        && a.fields.iter().zip(&b.fields).all(|(fa, fb)| {
            if fa.offset != fb.offset || fa.values != fb.values || fa.element_size != fb.element_size {
                return false;
            }
            match (&fa.kind, &fb.kind) {
                (Kind::Struct(ia), Kind::Struct(ib)) => fa.values == 0 || same_values(ia, ib).is_ok(),
                (Kind::Scalar(ca), Kind::Scalar(cb)) => {
                    class(*ca) == class(*cb)
                        && (fa.element_size <= 1 || class(*ca) == Some(Class::Bytes) || fa.byte_order() == fb.byte_order())
                }
                _ => false,
            }
        })
}

/// Whether the values of `a` and `b` (padding skipped) have the same offsets, kinds,
/// sizes and byte orders, whatever the item sizes.
pub(crate) fn same_values(a: &Format, b: &Format) -> Result<(), Mismatch> {
    if same_structure(a, b) {
        return Ok(());
    }
    let (mut va, mut vb) = (Values::new(a), Values::new(b));
    loop {
        match (va.peek(), vb.peek()) {
            (None, None) => return Ok(()),
            (Some(x), Some(y))
                if x.offset == y.offset
                    && x.class == y.class
                    && x.size == y.size
                    && (x.size == 1 || x.order == y.order) =>
            {
                let n = x.left.min(y.left);
                va.consume(n);
                vb.consume(n);
            }
            (x, y) => {
                let offset = match (x, y) {
                    (Some(x), Some(y)) => x.offset.min(y.offset),
                    (Some(x), None) => x.offset,
                    (None, Some(y)) => y.offset,
                    (None, None) => 0,
                };
                return Err(Mismatch::Value {
                    offset,
                    left: x.map(|c| va.element(&c)),
                    right: y.map(|c| vb.element(&c)),
                });
            }
        }
    }
}
