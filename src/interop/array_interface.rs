//! NumPy's `__array_interface__` type descriptions to and from PEP 3118 formats.
//!
//! - `typestr` (`"<f8"`, `"|u1"`, `"<U3"`, `"|V16"`): byte order (`<`, `>`, `|` for "not
//!   applicable", `=` native), kind, and size in bytes. A struct is `|V<itemsize>`.
//! - `descr`: the text of the Python literal NumPy puts there, a list of fields
//!   `(name, type)` or `(name, type, shape)`, where a type is a typestr or a nested
//!   list: `[('a', '<i4'), ('', '|V4'), ('b', '<f8', (3,))]`. A field with an empty name
//!   and a `V` type is padding (NumPy writes the gaps of an aligned or offset dtype so).
//!
//! | PEP 3118 | typestr | | PEP 3118 | typestr |
//! |---|---|---|---|---|
//! | `?` | `\|b1` | | `e f d g` | `<f2 <f4 <f8 <f16` (x86-64) |
//! | `b h i q` (`l n`: by size) | `\|i1 <i2 <i4 <i8` | | `Zf Zd Zg` | `<c8 <c16 <c32` |
//! | `B H I Q` (`L N`: by size) | `\|u1 <u2 <u4 <u8` | | `5s`, `c` | `\|S5`, `\|S1` |
//! | `O` | `\|O` | | `3w` | `<U3` |
//! | `5x` | `\|V5` | | `T{...}`, several fields | `\|V<itemsize>` and a descr |
//!
//! From a format, the typestr and descr follow NumPy's reading of that format
//! (`numpy.asarray` of a buffer with it), except that a top-level count or shape
//! (`"3d"`) becomes a one-field struct rather than extra array dimensions, and that
//! fields are laid out by pybuf's rules (the README's "Formats"). Unnamed fields get
//! NumPy's names: the first unused of `f0`, `f1`, .... A format that has no
//! array-interface equivalent is refused with `Unrepresentable`: `u` (UCS-2), `p`,
//! pointers (`P`, `&`, `X{}`).
//!
//! To a format, a scalar keeps its byte order as a marker (`"<f8"` is `"<d"`, `"|u1"`
//! is `"B"`, `"=f8"` and `"|f8"` are `"=d"`), and a struct becomes a `T{...}` in the
//! standard (unaligned) modes, so that every field lands at the offset the descr gives
//! it: `[('a', '|i1'), ('', '|V7'), ('b', '<f8')]` is `"T{<b:a:7xd:b:}"`. Titles (`(('title', 'name'), type)`) keep the name only.
//! `m`/`M` (timedelta64, datetime64), `t` (bit fields), sizes pybuf has no code for
//! (`<f12`, `<i16`) and `S0`/`U0` are refused with `Unrepresentable`.

// Sizes, counts and offsets here come from outside input: every operation on them is
// checked, or carries a comment proving its bounds (issue 12).
#![warn(clippy::arithmetic_side_effects)]

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::format::{show, ByteOrder, Code, Field, Format, Kind};

/// A typestr, parsed: byte order (`<`, `>`, `|`, `=`), kind and size (in bytes; in
/// characters for `U`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Scalar {
    order: char,
    kind: char,
    size: isize,
}

impl Scalar {
    /// Whether the byte order of its values matters.
    fn has_order(&self) -> bool {
        match self.kind {
            'U' => true,
            'S' | 'V' | 'O' => false,
            _ => self.size > 1,
        }
    }

    /// The marker for its byte order, if that matters (`|` is the native order).
    fn marker(&self) -> Option<char> {
        self.has_order().then_some(if self.order == '|' { '=' } else { self.order })
    }

    fn typestr(&self) -> String {
        if self.kind == 'O' {
            return "|O".to_owned();
        }
        format!("{}{}{}", self.order, self.kind, self.size)
    }
}

/// A type of the array interface: a scalar or a struct with its item size.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ty {
    Scalar(Scalar),
    Struct(Vec<Member>),
}

/// A field of a descr. `name == None` is padding (`('', '|V<n>')`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    name: Option<String>,
    ty: Ty,
    shape: Vec<isize>,
}

fn native_marker() -> char {
    match ByteOrder::NATIVE {
        ByteOrder::Little => '<',
        ByteOrder::Big => '>',
    }
}

#[cfg(test)]
fn native_order() -> char {
    match ByteOrder::NATIVE {
        ByteOrder::Little => '<',
        ByteOrder::Big => '>',
    }
}

// -------------------------------------------------------------------------------------
// PEP 3118 -> array interface

/// The `typestr` of one item of `format`. `itemsize` is the view's item size, or 0 for
/// the format's own; a larger one is trailing padding (a struct then), a smaller one an
/// error.
pub fn typestr_from_format(format: &[u8], itemsize: isize) -> Result<String> {
    let (ty, itemsize) = describe(format, itemsize)?;
    Ok(match ty {
        Ty::Scalar(s) => s.typestr(),
        Ty::Struct(_) => format!("|V{itemsize}"),
    })
}

/// The `descr` of one item of `format`, as the text of its Python literal;
/// `itemsize` as for [`typestr_from_format`]. A scalar is `[('', typestr)]`.
pub fn descr_from_format(format: &[u8], itemsize: isize) -> Result<String> {
    let (ty, _) = describe(format, itemsize)?;
    let mut out = String::new();
    match ty {
        Ty::Scalar(s) => write!(out, "[('', '{}')]", s.typestr()).expect("a String takes any text"),
        Ty::Struct(members) => write_descr(&mut out, &members),
    }
    Ok(out)
}

/// The `descr` of `format` as NumPy's `np.save` writes it in a `.npy` header (its
/// `dtype_to_descr`): a scalar is the Python literal of its typestr (`'<f8'`), a struct
/// the literal of its field list (`[('a', '<i4'), ('', '|V4')]`); `itemsize` as for
/// [`typestr_from_format`]. Object items (`O`) are refused with `Unrepresentable`: a
/// `.npy` file stores them only by pickling.
pub(crate) fn npy_descr(format: &[u8], itemsize: isize) -> Result<String> {
    let (ty, _) = describe(format, itemsize)?;
    if holds_object(&ty) {
        return Err(Error::unrepresentable(format_args!(
            "format {} holds Python objects ('O'): a .npy file stores them only by pickling",
            show(format)
        )));
    }
    Ok(match ty {
        Ty::Scalar(s) => py_repr(&s.typestr()),
        Ty::Struct(members) => {
            let mut out = String::new();
            write_descr(&mut out, &members);
            out
        }
    })
}

fn holds_object(ty: &Ty) -> bool {
    match ty {
        Ty::Scalar(s) => s.kind == 'O',
        Ty::Struct(members) => members.iter().any(|m| holds_object(&m.ty)),
    }
}

fn describe(format: &[u8], itemsize: isize) -> Result<(Ty, isize)> {
    let parsed = Format::parse(format)?;
    let f = show(format);
    let itemsize = match itemsize {
        0 => parsed.itemsize(),
        n if n < 0 => return Err(Error::itemsize(format_args!("itemsize = {n} is negative"))),
        n if n < parsed.itemsize() => {
            return Err(Error::itemsize(format_args!(
                "itemsize = {n} is smaller than the size {} of format {f}",
                parsed.itemsize()
            )))
        }
        n => n,
    };
    if let [field] = parsed.fields() {
        if field.offset() == 0 && field.name().is_none() {
            if field.size() == itemsize {
                if let Some(s) = lone_scalar(field, &f)? {
                    return Ok((Ty::Scalar(s), itemsize));
                }
            }
            // A lone T{} is the item itself (NumPy unwraps it too); a larger itemsize pads it.
            if let (Kind::Struct(inner), 1, []) = (field.kind(), field.count(), field.shape()) {
                return Ok((Ty::Struct(members(inner.fields(), itemsize, &f)?), itemsize));
            }
        }
    }
    Ok((Ty::Struct(members(parsed.fields(), itemsize, &f)?), itemsize))
}

/// A field that is one value of a scalar type (a whole string for `s` and `w`).
fn lone_scalar(field: &Field, f: &str) -> Result<Option<Scalar>> {
    let Kind::Scalar(code) = field.kind() else { return Ok(None) };
    if !field.shape().is_empty() {
        return Ok(None);
    }
    let (scalar, repeat) = scalar(*code, field, f)?;
    Ok((repeat == 1).then_some(scalar))
}

/// The typestr of a scalar field, and how many of them the count makes (1 when the count
/// is a length: `s`, `w`, `x`).
fn scalar(code: Code, field: &Field, f: &str) -> Result<(Scalar, isize)> {
    use Code::*;
    let size = field.element_size();
    let order = if size == 1 || matches!(code, Bool | SChar | UChar | Char | Bytes | Pad | Object) {
        '|'
    } else {
        match field.byte_order() {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
        }
    };
    let s = |kind: char, size: isize| Scalar { order, kind, size };
    let count = field.count();
    Ok(match code {
        Bool => (s('b', size), count),
        SChar | Short | Int | Long | LongLong | SSize => (s('i', size), count),
        UChar | UShort | UInt | ULong | ULongLong | USize => (s('u', size), count),
        Half | Float | Double | LongDouble => (s('f', size), count),
        ComplexFloat | ComplexDouble | ComplexLongDouble => (s('c', size), count),
        Char => (s('S', 1), count),
        Bytes => (s('S', count), 1),
        // `3w` is one UCS-4 string of 3 characters, as NumPy reads it.
        // NumPy's U size counts characters.
        Ucs4 => (Scalar { order: order_of(field), kind: 'U', size: count }, 1),
        Pad => (s('V', count), 1),
        Object => (s('O', size), count),
        Ucs2 => {
            return Err(Error::unrepresentable(format_args!(
                "{} of format {f} is 'u' (UCS-2): NumPy's array interface has no 2-byte character type",
                which(field)
            )))
        }
        PascalBytes => {
            return Err(Error::unrepresentable(format_args!(
                "{} of format {f} is 'p' (a Pascal string): NumPy's array interface has no such type",
                which(field)
            )))
        }
        VoidPtr | Pointer | Function => {
            return Err(Error::unrepresentable(format_args!(
                "{} of format {f} is a pointer: NumPy's array interface has no pointer type",
                which(field)
            )))
        }
    })
}

fn order_of(field: &Field) -> char {
    match field.byte_order() {
        ByteOrder::Little => '<',
        ByteOrder::Big => '>',
    }
}

fn which(field: &Field) -> String {
    match field.name() {
        Some(n) => format!("field '{n}'"),
        None => format!("the field at offset {}", field.offset()),
    }
}

/// The members of a struct of `fields` and `itemsize`, gaps and padding as `V` padding,
/// unnamed fields named as NumPy names them.
fn members(fields: &[Field], itemsize: isize, f: &str) -> Result<Vec<Member>> {
    let mut out: Vec<Member> = Vec::with_capacity(fields.len());
    let mut end = 0isize;
    let pad = |out: &mut Vec<Member>, n: isize| {
        if n <= 0 {
            return;
        }
        if let Some(Member { name: None, ty: Ty::Scalar(s), .. }) = out.last_mut() {
            // The padding of a struct does not overlap its fields: the sum stays within the
            // item size (a parsed format's, at most isize::MAX).
            s.size = s.size.saturating_add(n);
        } else {
            out.push(Member { name: None, ty: Ty::Scalar(Scalar { order: '|', kind: 'V', size: n }), shape: vec![] });
        }
    };
    for field in fields {
        crate::work::step(1);
        // Offsets and sizes of a parsed format: non-negative, and every field ends within
        // its item size (at most isize::MAX), so these neither overflow nor saturate.
        pad(&mut out, field.offset().saturating_sub(end));
        end = end.max(field.offset().saturating_add(field.size()));
        let mut shape = field.shape().to_vec();
        let ty = match field.kind() {
            Kind::Scalar(Code::Pad) if field.name().is_none() => {
                pad(&mut out, field.size());
                continue;
            }
            Kind::Scalar(code) => {
                let (s, repeat) = scalar(*code, field, f)?;
                if repeat != 1 {
                    shape.push(repeat);
                }
                Ty::Scalar(s)
            }
            Kind::Struct(inner) => {
                if field.count() != 1 {
                    shape.push(field.count());
                }
                Ty::Struct(members(inner.fields(), inner.itemsize(), f)?)
            }
            Kind::Pointer(_) | Kind::Function(_) => {
                return Err(Error::unrepresentable(format_args!(
                    "{} of format {f} is a pointer: NumPy's array interface has no pointer type",
                    which(field)
                )))
            }
        };
        out.push(Member { name: Some(field.name().unwrap_or("").to_owned()), ty, shape });
    }
    // Both are non-negative: no overflow.
    pad(&mut out, itemsize.saturating_sub(end));
    fix_names(&mut out);
    Ok(out)
}

/// NumPy's `_fix_names`: each unnamed field gets the first `f<j>` no field has.
///
/// Linear in the number of fields: after `f<j>` is given, every `f0..=f<j>` is in use,
/// so the search for the next name resumes at `j + 1`.
fn fix_names(members: &mut [Member]) {
    let mut used: HashSet<String> =
        members.iter().filter_map(|m| m.name.clone()).filter(|n| !n.is_empty()).collect();
    let mut j = 0usize;
    for m in members.iter_mut() {
        if m.name.as_deref() == Some("") {
            let name = loop {
                crate::work::step(1);
                let candidate = format!("f{j}");
                // Bounded by the number of members (see above).
                j = j.saturating_add(1);
                if !used.contains(&candidate) {
                    break candidate;
                }
            };
            used.insert(name.clone());
            m.name = Some(name);
        }
    }
}

fn write_descr(out: &mut String, members: &[Member]) {
    out.push('[');
    for (i, m) in members.iter().enumerate() {
        crate::work::step(1);
        if i > 0 {
            out.push_str(", ");
        }
        out.push('(');
        out.push_str(&py_repr(m.name.as_deref().unwrap_or("")));
        out.push_str(", ");
        match &m.ty {
            Ty::Scalar(s) => out.push_str(&py_repr(&s.typestr())),
            Ty::Struct(inner) => write_descr(out, inner),
        }
        if !m.shape.is_empty() {
            out.push_str(", (");
            for (k, n) in m.shape.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                write!(out, "{n}").expect("a String takes any text");
            }
            if m.shape.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        out.push(')');
    }
    out.push(']');
}

/// A shape as Python writes the tuple: `(3,)`, `(2, 3)`.
fn py_shape(shape: &[isize]) -> String {
    let dims: Vec<String> = shape.iter().map(isize::to_string).collect();
    if let [one] = dims.as_slice() {
        format!("({one},)")
    } else {
        format!("({})", dims.join(", "))
    }
}

/// A string as Python's `repr` writes it.
pub(crate) fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(out, "\\x{:02x}", c as u32).expect("a String takes any text"),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

// -------------------------------------------------------------------------------------
// array interface -> PEP 3118

/// The PEP 3118 format of a `typestr`.
pub fn format_from_typestr(typestr: &[u8]) -> Result<String> {
    let s = parse_typestr(typestr)?;
    let (code, marker) = code_of(&s, "")?;
    Ok(match marker {
        Some(m) => format!("{m}{code}"),
        None => code,
    })
}

/// The PEP 3118 format of a `descr` (the text of its Python literal).
pub fn format_from_descr(descr: &[u8]) -> Result<String> {
    let text = show(descr);
    let value = Parser { text: descr, pos: 0, what: "descr" }.parse_all()?;
    let members = members_of(&value, &text)?;
    // The default descr of a plain typestr: [('', typestr)].
    if let [Member { name, ty: Ty::Scalar(s), shape }] = members.as_slice() {
        if name.as_deref().is_none_or(str::is_empty) && shape.is_empty() {
            let (code, marker) = code_of(s, &text)?;
            return Ok(marker.map_or(code.clone(), |m| format!("{m}{code}")));
        }
    }
    let default = first_order(&members).unwrap_or('=');
    let mut out = String::from("T{");
    write_struct(&mut out, &members, &mut None, default, &text)?;
    out.push('}');
    // The result must parse, with unique names and the descr's size.
    Format::parse(out.as_bytes()).map_err(|e| {
        Error::new(e.status(), format_args!("descr {text} gives format \"{out}\", which is refused: {}", e.message()))
    })?;
    Ok(out)
}

fn parse_typestr(typestr: &[u8]) -> Result<Scalar> {
    let t = show(typestr);
    let bad = |why: &str| Error::format(format_args!("typestr {t}: {why}"));
    let (order, rest) = match typestr.first() {
        Some(&c @ (b'<' | b'>' | b'|' | b'=')) => (c as char, &typestr[1..]),
        Some(_) => ('|', typestr),
        None => return Err(bad("empty")),
    };
    let Some((&kind, digits)) = rest.split_first() else { return Err(bad("no kind after the byte order")) };
    let kind = kind as char;
    if !"biufcmMOSUVt".contains(kind) {
        return Err(bad(&format!("unknown kind '{}'", kind.escape_default())));
    }
    let digits_end = digits.iter().position(|c| !c.is_ascii_digit()).unwrap_or(digits.len());
    let (number, tail) = digits.split_at(digits_end);
    // The digits are scanned here and once more by the conversion below.
    crate::work::step(digits_end.saturating_mul(2));
    if matches!(kind, 'm' | 'M') {
        return Err(Error::unrepresentable(format_args!(
            "typestr {t} is a {}: PEP 3118 has no date or time type (NumPy does not export it either)",
            if kind == 'm' { "timedelta64" } else { "datetime64" }
        )));
    }
    if !tail.is_empty() {
        return Err(bad(&format!("unexpected {} after the size", show(tail))));
    }
    if kind == 't' {
        return Err(Error::unrepresentable(format_args!("typestr {t} is a bit field: PEP 3118 bits have no byte size")));
    }
    let size = if number.is_empty() {
        if kind != 'O' {
            return Err(bad("no size"));
        }
        std::mem::size_of::<*const u8>() as isize
    } else {
        std::str::from_utf8(number)
            .ok()
            .and_then(|n| n.parse::<isize>().ok())
            .ok_or_else(|| Error::overflow(format_args!("typestr {t}: size {} overflows", show(number))))?
    };
    // A 'U' size counts UCS-4 characters: the item is 4 times as many bytes.
    if kind == 'U' && size.checked_mul(4).is_none() {
        return Err(Error::overflow(format_args!("typestr {t}: {size} characters of 4 bytes overflow pybuf_ssize_t")));
    }
    Ok(Scalar { order, kind, size })
}

/// The format code (count included) of a scalar, and its byte-order marker if it needs one.
fn code_of(s: &Scalar, within: &str) -> Result<(String, Option<char>)> {
    let t = show(s.typestr().as_bytes());
    let long_double = Format::parse(b"g").map(|f| f.itemsize()).unwrap_or(0);
    let none = || {
        Error::unrepresentable(format_args!(
            "typestr {t}{} has no PEP 3118 format",
            if within.is_empty() { String::new() } else { format!(" in {within}") }
        ))
    };
    let code: String = match (s.kind, s.size) {
        ('b', 1) => "?".into(),
        ('i', 1) => "b".into(),
        ('i', 2) => "h".into(),
        ('i', 4) => "i".into(),
        ('i', 8) => "q".into(),
        ('u', 1) => "B".into(),
        ('u', 2) => "H".into(),
        ('u', 4) => "I".into(),
        ('u', 8) => "Q".into(),
        ('f', 2) => "e".into(),
        ('f', 4) => "f".into(),
        ('f', 8) => "d".into(),
        ('f', n) if n == long_double => "g".into(),
        ('c', 8) => "Zf".into(),
        ('c', 16) => "Zd".into(),
        ('c', n) if Some(n) == long_double.checked_mul(2) => "Zg".into(),
        ('O', n) if n == std::mem::size_of::<*const u8>() as isize => "O".into(),
        ('S' | 'U' | 'V', 0) => {
            return Err(Error::unrepresentable(format_args!(
                "typestr {t} has size 0: a PEP 3118 item has at least one byte"
            )))
        }
        ('S', 1) => "s".into(),
        ('S', n) => format!("{n}s"),
        ('U', 1) => "w".into(),
        ('U', n) => format!("{n}w"),
        ('V', 1) => "x".into(),
        ('V', n) => format!("{n}x"),
        _ => return Err(none()),
    };
    // `g` has the native long double size in every mode, but NumPy reads it only in the
    // native-size modes: `^` (unaligned) for the native byte order.
    let native = s.order == '|' || s.order == '=' || s.order == native_marker();
    if code.ends_with('g') && native {
        return Ok((code, Some('^')));
    }
    Ok((code, s.marker()))
}

/// The first byte order a value of `members` asks for, depth first.
fn first_order(members: &[Member]) -> Option<char> {
    members.iter().find_map(|m| match &m.ty {
        Ty::Scalar(s) => s.marker(),
        Ty::Struct(inner) => first_order(inner),
    })
}

/// Write `members` into a `T{...}` being written. `current` is the marker in force (None
/// before the first: the default `@` mode, which aligns, so the first value gets one, after
/// its shape, where NumPy reads markers).
fn write_struct(out: &mut String, members: &[Member], current: &mut Option<char>, default: char, text: &str) -> Result<()> {
    // NumPy's names for the unnamed fields: the first `f<j>` no field of this struct has.
    // As in `fix_names`, every `f0..f<j>` is in use once `f<j>` is given, so the search
    // resumes after it: linear in the number of fields.
    let used: HashSet<&str> = members.iter().filter_map(|m| m.name.as_deref()).filter(|n| !n.is_empty()).collect();
    let mut next_name = 0usize;
    let mark = |out: &mut String, current: &mut Option<char>, want: Option<char>| {
        let want = want.or(if current.is_none() { Some(default) } else { None });
        if let Some(mk) = want {
            if *current != Some(mk) {
                out.push(mk);
                *current = Some(mk);
            }
        }
    };
    for m in members {
        crate::work::step(1);
        let shape = if m.shape.is_empty() {
            String::new()
        } else {
            let dims: Vec<String> = m.shape.iter().map(|n| n.to_string()).collect();
            format!("({})", dims.join(","))
        };
        match (&m.name, &m.ty) {
            (None, Ty::Scalar(s)) => {
                // Checked: a shape like (2**61,) of '|V8' would wrap to 0 bytes.
                let total = m
                    .shape
                    .iter()
                    .try_fold(s.size, |n, &d| n.checked_mul(d))
                    .ok_or_else(|| {
                        Error::overflow(format_args!(
                            "descr {text}: padding {} of shape {} exceeds pybuf_ssize_t bytes",
                            py_repr(&s.typestr()),
                            py_shape(&m.shape)
                        ))
                    })?;
                if total > 0 {
                    mark(out, current, None);
                    write!(out, "{}x", total).expect("a String takes any text");
                }
                continue;
            }
            (_, Ty::Scalar(s)) => {
                let (code, marker) = code_of(s, text)?;
                out.push_str(&shape);
                mark(out, current, marker);
                out.push_str(&code);
            }
            (_, Ty::Struct(inner)) => {
                out.push_str(&shape);
                mark(out, current, None);
                out.push_str("T{");
                write_struct(out, inner, current, default, text)?;
                out.push('}');
            }
        }
        let name = match m.name.as_deref() {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => loop {
                crate::work::step(1);
                let candidate = format!("f{next_name}");
                // At most one candidate per field of this struct is skipped or given, so
                // the counter stays below their number.
                next_name = next_name.saturating_add(1);
                if !used.contains(candidate.as_str()) {
                    break candidate;
                }
            },
        };
        if name.contains(':') || name.contains('\0') {
            return Err(Error::unrepresentable(format_args!(
                "field name {} in descr {text}: a PEP 3118 name cannot hold ':' or NUL",
                py_repr(&name)
            )));
        }
        write!(out, ":{name}:").expect("a String takes any text");
    }
    Ok(())
}

/// The members of a descr value: a list of `(name, type[, shape])` tuples.
fn members_of(value: &Value, text: &str) -> Result<Vec<Member>> {
    let bad = |why: String| Error::format(format_args!("descr {text}: {why}"));
    let Value::List(items) = value else { return Err(bad(format!("expected a list of fields, found {}", value.kind()))) };
    if items.is_empty() {
        return Err(bad("a struct needs at least one field".into()));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        crate::work::step(1);
        let Value::Tuple(parts) = item else {
            return Err(bad(format!("field {i} is {}, not a (name, type) or (name, type, shape) tuple", item.kind())));
        };
        if !(2..=3).contains(&parts.len()) {
            return Err(bad(format!("field {i} has {} entries, not 2 or 3", parts.len())));
        }
        let name = match &parts[0] {
            Value::Str(s) => s.clone(),
            // (title, name)
            Value::Tuple(t) if t.len() == 2 => match &t[1] {
                Value::Str(s) => s.clone(),
                other => return Err(bad(format!("field {i}: the name in (title, name) is {}", other.kind()))),
            },
            other => return Err(bad(format!("field {i}: the name is {}, not a string", other.kind()))),
        };
        let ty = match &parts[1] {
            Value::Str(t) => Ty::Scalar(parse_typestr(t.as_bytes())?),
            nested @ Value::List(_) => Ty::Struct(members_of(nested, text)?),
            other => return Err(bad(format!("field {i} ('{name}'): the type is {}, not a typestr or a list", other.kind()))),
        };
        let shape = match parts.get(2) {
            None => vec![],
            Some(Value::Int(n)) => vec![*n],
            Some(Value::Tuple(dims)) => dims
                .iter()
                .map(|d| match d {
                    Value::Int(n) => Ok(*n),
                    other => Err(bad(format!("field {i} ('{name}'): a shape entry is {}", other.kind()))),
                })
                .collect::<Result<Vec<_>>>()?,
            Some(other) => return Err(bad(format!("field {i} ('{name}'): the shape is {}", other.kind()))),
        };
        if let Some(n) = shape.iter().find(|n| **n < 0) {
            return Err(Error::shape(format_args!("descr {text}: field {i} ('{name}') has a negative shape entry {n}")));
        }
        let padding = name.is_empty() && matches!(&ty, Ty::Scalar(s) if s.kind == 'V');
        out.push(Member { name: (!padding).then_some(name), ty, shape });
    }
    Ok(out)
}

/// A Python literal of the kinds a descr holds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Str(String),
    Int(isize),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::List(_) => "a list",
            Value::Tuple(_) => "a tuple",
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
        }
    }
}

/// A parser of the Python literal subset a descr is written in: lists, tuples, strings
/// (single or double quoted, with backslash escapes) and integers.
struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    what: &'static str,
}

/// Nesting limit for lists and tuples.
const MAX_NESTING: usize = 64;

impl Parser<'_> {
    fn error(&self, at: usize, why: impl std::fmt::Display) -> Error {
        Error::format(format_args!("{} {} at {at}: {why}", self.what, show(self.text)))
    }

    /// Move `n` bytes on (every step of the parser goes through here, and is counted).
    fn advance(&mut self, n: usize) {
        crate::work::step(n);
        // pos stays within the text (at most one past a byte looked at), whose length is
        // at most isize::MAX: this never saturates.
        self.pos = self.pos.saturating_add(n);
    }

    fn skip_space(&mut self) {
        while self.text.get(self.pos).is_some_and(|c| c.is_ascii_whitespace()) {
            self.advance(1);
        }
    }

    fn parse_all(mut self) -> Result<Value> {
        let v = self.value(0)?;
        self.skip_space();
        if self.pos != self.text.len() {
            return Err(self.error(self.pos, "unexpected text after the literal"));
        }
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        self.skip_space();
        let start = self.pos;
        match self.text.get(self.pos) {
            None => Err(self.error(start, "unexpected end")),
            Some(b'[') | Some(b'(') if depth >= MAX_NESTING => {
                Err(Error::unsupported(format_args!("{} nests deeper than {MAX_NESTING} levels", self.what)))
            }
            Some(b'[') => self.sequence(b']', depth).map(Value::List),
            Some(b'(') => {
                let (items, trailing_comma) = self.sequence_with_comma(b')', depth)?;
                // `(x)` is x; `(x,)` is a tuple.
                if items.len() == 1 && !trailing_comma {
                    Ok(items.into_iter().next().expect("one item"))
                } else {
                    Ok(Value::Tuple(items))
                }
            }
            Some(&q @ (b'\'' | b'"')) => self.string(q).map(Value::Str),
            Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'+' => self.integer(),
            Some(&c) => Err(self.error(start, format_args!("unexpected '{}'", (c as char).escape_default()))),
        }
    }

    fn sequence(&mut self, close: u8, depth: usize) -> Result<Vec<Value>> {
        self.sequence_with_comma(close, depth).map(|(v, _)| v)
    }

    fn sequence_with_comma(&mut self, close: u8, depth: usize) -> Result<(Vec<Value>, bool)> {
        let open = self.pos;
        self.advance(1);
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_space();
            match self.text.get(self.pos) {
                None => return Err(self.error(self.pos, format_args!("'{}' opened at {open} is not closed", self.text[open] as char))),
                Some(&c) if c == close => {
                    self.advance(1);
                    return Ok((items, trailing_comma));
                }
                _ => {}
            }
            // Below MAX_NESTING: `value` refuses deeper lists and tuples.
            items.push(self.value(depth.saturating_add(1))?);
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => {
                    self.advance(1);
                    trailing_comma = true;
                }
                Some(&c) if c == close => trailing_comma = false,
                Some(&c) => {
                    return Err(self.error(
                        self.pos,
                        format_args!("expected ',' or '{}', found '{}'", close as char, (c as char).escape_default()),
                    ))
                }
                None => return Err(self.error(self.pos, format_args!("'{}' opened at {open} is not closed", self.text[open] as char))),
            }
        }
    }

    fn integer(&mut self) -> Result<Value> {
        let start = self.pos;
        if matches!(self.text.get(self.pos), Some(b'-' | b'+')) {
            self.advance(1);
        }
        while self.text.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.advance(1);
        }
        let digits = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("");
        digits
            .parse::<isize>()
            .map(Value::Int)
            .map_err(|_| self.error(start, format_args!("\"{digits}\" is not an integer pybuf_ssize_t holds")))
    }

    fn string(&mut self, quote: u8) -> Result<String> {
        let start = self.pos;
        self.advance(1);
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.text.get(self.pos) else {
                return Err(self.error(start, "unterminated string"));
            };
            self.advance(1);
            match c {
                c if c == quote => break,
                b'\\' => {
                    let Some(&e) = self.text.get(self.pos) else { return Err(self.error(start, "unterminated string")) };
                    self.advance(1);
                    match e {
                        b'\\' | b'\'' | b'"' => out.push(e),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'0' => out.push(0),
                        b'x' => {
                            let hex = self.text.get(self.pos..self.pos.saturating_add(2)).and_then(|h| std::str::from_utf8(h).ok());
                            let v = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                            // The backslash and the x are behind pos: it is at least 2.
                            let Some(v) = v else { return Err(self.error(self.pos.saturating_sub(2), "\\x needs two hex digits")) };
                            self.advance(2);
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(char::from(v).encode_utf8(&mut buf).as_bytes());
                        }
                        other => {
                            return Err(self.error(self.pos.saturating_sub(2), format_args!("unknown escape '\\{}'", (other as char).escape_default())))
                        }
                    }
                }
                b'\n' => return Err(self.error(start, "unterminated string")),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.error(start, "the string is not UTF-8"))
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;
    use crate::error::Status;

    fn to(f: &str) -> (String, String) {
        (typestr_from_format(f.as_bytes(), 0).unwrap(), descr_from_format(f.as_bytes(), 0).unwrap())
    }

    #[test]
    fn scalars_to_typestr() {
        let n = native_order();
        for (f, t) in [
            ("?", "|b1".to_owned()),
            ("b", "|i1".into()),
            ("B", "|u1".into()),
            ("<h", "<i2".into()),
            (">H", ">u2".into()),
            ("<i", "<i4".into()),
            ("=q", format!("{n}i8")),
            ("<e", "<f2".into()),
            ("<f", "<f4".into()),
            ("d", format!("{n}f8")),
            ("<d", "<f8".into()),
            (">d", ">f8".into()),
            ("<Zf", "<c8".into()),
            ("Zd", format!("{n}c16")),
            ("c", "|S1".into()),
            ("5s", "|S5".into()),
            ("<3w", "<U3".into()),
            ("w", format!("{n}U1")),
            ("5x", "|V5".into()),
            ("O", "|O".into()),
        ] {
            let (typestr, descr) = to(f);
            assert_eq!(typestr, t, "{f}");
            assert_eq!(descr, format!("[('', '{t}')]"), "{f}");
        }
        #[cfg(all(target_pointer_width = "64", not(windows)))]
        assert_eq!(to("<l").0, "<i4");
    }

    /// Thousands of unnamed fields are named in linear time. (Found by fuzzing: the search
    /// for each unused `f<j>` rescanned every name, and a 462-byte format took seconds.)
    #[test]
    fn many_unnamed_fields_get_numpys_names() {
        let n = if cfg!(miri) { 300 } else { 30_000 };
        // "f1" is taken by the second field; the others get f0, f2, f3, ... in order.
        let descr = to(&format!("<b:a:b:f1:{}", "b".repeat(n))).1;
        let mut want = String::from("[('a', '|i1'), ('f1', '|i1')");
        for j in (0..=n).filter(|&j| j != 1).take(n) {
            let _ = write!(want, ", ('f{j}', '|i1')");
        }
        want.push(']');
        assert_eq!(descr, want);
    }

    #[test]
    fn structs_to_descr_with_padding_names_and_subarrays() {
        let n = native_order();
        assert_eq!(to("T{b:a:d:b:}"), ("|V16".into(), format!("[('a', '|i1'), ('', '|V7'), ('b', '{n}f8')]")));
        assert_eq!(to("T{<i:a:4x<d:b:}").1, "[('a', '<i4'), ('', '|V4'), ('b', '<f8')]");
        assert_eq!(to("<i:a:(2,3)d:m:").1, "[('a', '<i4'), ('m', '<f8', (2, 3))]");
        assert_eq!(to("<3i").1, "[('f0', '<i4', (3,))]");
        assert_eq!(
            to("<T{i:x:i:y:}:p:2T{h}:q:").1,
            "[('p', [('x', '<i4'), ('y', '<i4')]), ('q', [('f0', '<i2')], (2,))]"
        );
        // NumPy's names for unnamed fields: the first unused f<j>.
        assert_eq!(to("<i:f0:ii").1, "[('f0', '<i4'), ('f1', '<i4'), ('f2', '<i4')]");
        assert_eq!(to("<ii:f0:").1, "[('f1', '<i4'), ('f0', '<i4')]");
        // A named pad is a field; a larger itemsize is trailing padding.
        assert_eq!(to("<i:a:3x:p:").1, "[('a', '<i4'), ('p', '|V3')]");
        assert_eq!(descr_from_format(b"<i:a:", 8).unwrap(), "[('a', '<i4'), ('', '|V4')]");
        assert_eq!(typestr_from_format(b"<i", 8).unwrap(), "|V8");
        assert_eq!(descr_from_format(b"T{<i:a:'q:}", 0).unwrap_err().status(), Status::InvalidFormat);
    }

    #[test]
    fn refusals_name_the_field() {
        for (f, text) in [("u", "UCS-2"), ("T{i:a:P:p:}", "field 'p'"), ("3p", "Pascal"), ("&i", "pointer")] {
            let e = typestr_from_format(f.as_bytes(), 0).unwrap_err();
            assert_eq!(e.status(), Status::Unrepresentable, "{f}: {e}");
            assert!(e.message().contains(text), "{f}: {e}");
        }
        let e = typestr_from_format(b"d", 4).unwrap_err();
        assert_eq!((e.status(), e.message()), (Status::InvalidItemsize, "itemsize = 4 is smaller than the size 8 of format \"d\""));
    }

    #[test]
    fn typestr_to_format() {
        for (t, f) in [
            ("<f8", "<d"),
            (">f8", ">d"),
            ("=f8", "=d"),
            ("|f8", "=d"),
            ("f4", "=f"),
            ("|b1", "?"),
            ("|i1", "b"),
            ("|u1", "B"),
            ("<i2", "<h"),
            ("<i4", "<i"),
            ("<i8", "<q"),
            ("<u8", "<Q"),
            ("<f2", "<e"),
            ("<c8", "<Zf"),
            ("<c16", "<Zd"),
            ("|S1", "s"),
            ("|S5", "5s"),
            ("<U3", "<3w"),
            ("<U1", "<w"),
            ("|V4", "4x"),
            ("|O", "O"),
        ] {
            assert_eq!(format_from_typestr(t.as_bytes()).unwrap(), f, "{t}");
            // ... and back, for those that name their byte order
            if !t.starts_with(['=', '|']) && t.len() > 2 && !t.contains('O') && !t.contains('S') && !t.contains('V') {
                assert_eq!(typestr_from_format(f.as_bytes(), 0).unwrap(), t);
            }
        }
        for (t, status, text) in [
            ("<M8[ns]", Status::Unrepresentable, "datetime64"),
            ("<m8", Status::Unrepresentable, "timedelta64"),
            ("<i16", Status::Unrepresentable, "no PEP 3118 format"),
            ("|S0", Status::Unrepresentable, "size 0"),
            ("<q8", Status::InvalidFormat, "unknown kind 'q'"),
            ("<f", Status::InvalidFormat, "no size"),
            ("<f8x", Status::InvalidFormat, "\"x\" after the size"),
            ("", Status::InvalidFormat, "empty"),
            // 'U' counts 4-byte characters (found by fuzzing: this gave a format that
            // does not parse).
            ("U3333333333333333388", Status::Overflow, "characters of 4 bytes overflow"),
            ("<U2305843009213693952", Status::Overflow, "characters of 4 bytes overflow"),
        ] {
            let e = format_from_typestr(t.as_bytes()).unwrap_err();
            assert_eq!(e.status(), status, "{t}: {e}");
            assert!(e.message().contains(text) && e.message().contains(t), "{t}: {e}");
        }
    }

    #[test]
    fn descr_to_format() {
        let f = |d: &str| format_from_descr(d.as_bytes());
        assert_eq!(f("[('', '<f8')]").unwrap(), "<d");
        assert_eq!(f("[('a', '|i1'), ('', '|V7'), ('b', '<f8')]").unwrap(), "T{<b:a:7xd:b:}");
        assert_eq!(
            f("[('x', '<f8', (2, 3)), ('s', [('p', '>i2'), ('q', '|b1')], (2,))]").unwrap(),
            "T{(2,3)<d:x:(2)T{>h:p:?:q:}:s:}"
        );
        assert_eq!(f("[(('Title', 'a'), '<i4'), ('', '<i4'), ('f0', '<i4', 2)]").unwrap(), "T{<i:a:i:f1:(2)i:f0:}");
        assert_eq!(f(" [ ( \"a\" , '|u1' , ) , ] ").unwrap(), "T{=B:a:}");
        for (d, layout) in [
            ("[('a', '|i1'), ('', '|V7'), ('b', '<f8')]", 16),
            ("[('a', '<i4'), ('', '|V4'), ('b', '<f8'), ('', '|V8')]", 24),
            ("[('m', '>c16', (2,)), ('s', '|S3')]", 35),
        ] {
            assert_eq!(Format::parse(f(d).unwrap().as_bytes()).unwrap().itemsize(), layout, "{d}");
        }
        for (d, status, text) in [
            ("[('a', '<i4')", Status::InvalidFormat, "'[' opened at 0 is not closed"),
            ("[('a' '<i4')]", Status::InvalidFormat, "at 6: expected ',' or ')'"),
            ("[]", Status::InvalidFormat, "at least one field"),
            ("[('a', 5)]", Status::InvalidFormat, "the type is an integer"),
            ("[('a', '<i4'), ('a', '<i4')]", Status::InvalidFormat, "duplicate"),
            ("[('a:b', '<i4')]", Status::Unrepresentable, "':' or NUL"),
            ("[('a', '<M8[s]')]", Status::Unrepresentable, "datetime64"),
            ("[('a', '<i4', (-1,))]", Status::InvalidShape, "negative"),
            ("[('a', '<i4')] x", Status::InvalidFormat, "unexpected text"),
        ] {
            let e = f(d).unwrap_err();
            assert_eq!(e.status(), status, "{d}: {e}");
            assert!(e.message().to_lowercase().contains(&text.to_lowercase()), "{d}: {e}");
        }
        let deep = format!("{}('a', '<i4'){}", "[".repeat(70), "]".repeat(70));
        assert_eq!(f(&deep).unwrap_err().status(), Status::UnsupportedFormat);
    }

    /// NumPy's names for the unnamed fields of a descr, found in linear work. (Issue 12,
    /// defect 2: the search for each unused `f<j>` scanned lists per candidate, cubic in
    /// the number of unnamed fields; a 91 KB descr took over 10 s.)
    #[test]
    fn descr_with_many_unnamed_fields_names_them_in_linear_work() {
        let unnamed = |n: usize| format!("[{}]", vec!["('', '<i4')"; n].join(", "));
        let n = if cfg!(miri) { 40 } else { 7_000 };
        let format = format_from_descr(unnamed(n).as_bytes()).unwrap();
        let want: String = (0..n).map(|j| format!("{}i:f{j}:", if j == 0 { "<" } else { "" })).collect();
        assert_eq!(format, format!("T{{{want}}}"));
        // 1,500 named f<j> and 1,500 unnamed: the unnamed get f1500, f1501, ...
        let m = if cfg!(miri) { 20 } else { 1_500 };
        let named: Vec<String> = (0..m).map(|j| format!("('f{j}', '<i4')")).collect();
        let descr = format!("[{}, {}]", named.join(", "), vec!["('', '<i4')"; m].join(", "));
        let format = format_from_descr(descr.as_bytes()).unwrap();
        assert!(format.ends_with(&format!("i:f{}:}}", 2 * m - 1)), "{format}");
        assert!(format.contains(&format!("i:f{m}:")), "{format}");
        // The work grows linearly: n and 8n unnamed fields, and half of them named f<j>.
        crate::work::assert_scales("descr -> format, unnamed fields", if cfg!(miri) { 8 } else { 500 }, |n| {
            crate::work::count(|| format_from_descr(unnamed(n).as_bytes()).unwrap()).1
        });
        crate::work::assert_scales("descr -> format, f<j> and unnamed", if cfg!(miri) { 8 } else { 500 }, |n| {
            let named: Vec<String> = (0..n).map(|j| format!("('f{j}', '<i4')")).collect();
            let d = format!("[{}, {}]", named.join(", "), vec!["('', '<i4')"; n].join(", "));
            crate::work::count(|| format_from_descr(d.as_bytes()).unwrap()).1
        });
    }

    /// A shape on padding whose byte count overflows is refused. (Issue 12, defect 3: it
    /// wrapped, so `(2**61,)` of `|V8` gave no padding at all and `(2**61 + 1,)` 8 bytes.)
    #[test]
    fn descr_padding_whose_size_overflows_is_refused() {
        for d in [
            "[('a','<i4'),('','|V8',(2305843009213693952,))]",
            "[('a','<i4'),('','|V8',(2305843009213693953,))]",
            "[('a','<i4'),('','|V2',(4611686018427387904, 2))]",
            "[('','|V9223372036854775807',(2,))]",
        ] {
            let e = format_from_descr(d.as_bytes()).unwrap_err();
            assert_eq!(e.status(), Status::Overflow, "{d}: {e}");
            assert!(e.message().contains("exceeds pybuf_ssize_t"), "{d}: {e}");
            assert!(e.message().contains(&d[..20]), "{d}: {e}");
        }
        // The largest padding that fits is kept whole.
        assert_eq!(format_from_descr(b"[('a','<i4'),('','|V1',(4611686018427387901, 2))]").unwrap(), "T{<i:a:9223372036854775802x}");
    }

    #[test]
    fn round_trips() {
        for d in [
            "[('a', '|i1'), ('', '|V7'), ('b', '<f8')]",
            "[('x', '<f8', (2, 3)), ('s', [('p', '>i2'), ('q', '|b1')], (2,))]",
            "[('a', '<U3'), ('b', '|S2'), ('o', '|O'), ('', '|V2'), ('c', '>c8')]",
            "[(\"q'uote\", '<i4')]",
        ] {
            let format = format_from_descr(d.as_bytes()).unwrap();
            assert_eq!(descr_from_format(format.as_bytes(), 0).unwrap(), d, "{format}");
        }
    }
}
