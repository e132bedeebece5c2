//! The header of a `.npy` file: written exactly as NumPy's `np.save` writes it, and read
//! by a strict, bounded parser.
//!
//! A `.npy` file is the magic `\x93NUMPY`, a version (two bytes: 1.0, 2.0 or 3.0), the
//! header's length (a little-endian `u16` in 1.0, `u32` in 2.0 and 3.0), the header, and
//! the data. The header is the text of a Python dict literal,
//!
//! ```text
//! {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
//! ```
//!
//! followed by spaces and a newline so that the data starts at a multiple of 64 bytes;
//! NumPy's writer also leaves room (up to 21 digits) for the first (C order) or last
//! (Fortran order) dimension to grow. The text is Latin-1 in versions 1.0 and 2.0, UTF-8
//! in 3.0: the writer takes 1.0 unless the header is too long for a `u16` (2.0) or holds a
//! character outside Latin-1 (3.0), as NumPy does.
//!
//! `descr` is NumPy's `dtype_to_descr`: a typestr (`'<f8'`, `'|S5'`) for a simple type, the
//! list of fields for a struct, padding included (`('', '|V4')`). The conversions to and from
//! PEP 3118 formats are the array interface's ([`crate::interop::array_interface`]).
//!
//! The parser reads the subset of Python literals such headers are made of: one dict with
//! exactly the keys `descr`, `fortran_order` and `shape`; strings in either quote with
//! Python's escapes; decimal integers; `True` and `False`; tuples (`()`, `(3,)`) and
//! lists. It refuses a header longer than NumPy's limit (`_MAX_HEADER_SIZE`, 10,000
//! characters, which `np.load` enforces by default), nests at most 64 levels, and does work
//! linear in the header's length. Every failure is `InvalidFile` (`UnsupportedVersion` for
//! an unknown version) with a message that says what and where.

// Lengths, counts and offsets here come from the file: every operation on them is
// checked, or carries a comment proving its bounds.
#![warn(clippy::arithmetic_side_effects)]

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::interop::array_interface::{format_from_descr, format_from_typestr, npy_descr, py_repr};

/// The magic string every `.npy` file starts with.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// The data starts at a multiple of this many bytes (NumPy's `ARRAY_ALIGN`).
pub(crate) const ARRAY_ALIGN: usize = 64;
/// Room left for the growing dimension's digits (NumPy's `GROWTH_AXIS_MAX_DIGITS`).
pub(crate) const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// The longest header `np.load` reads by default, in characters (NumPy's
/// `_MAX_HEADER_SIZE`).
pub(crate) const MAX_HEADER_SIZE: usize = 10_000;
/// The magic and the two version bytes.
pub(crate) const MAGIC_LEN: usize = 8;
/// Nesting limit for lists and tuples (a descr of nested structs).
const MAX_NESTING: usize = 64;

/// What a `.npy` header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// (major, minor): (1, 0), (2, 0) or (3, 0).
    pub version: (u8, u8),
    /// The PEP 3118 format of one item (from `descr`).
    pub format: String,
    /// Bytes per item.
    pub itemsize: isize,
    pub shape: Vec<isize>,
    /// The data is in Fortran (column-major) order, else C order.
    pub fortran_order: bool,
    /// The data's offset from the start of the file: the whole header's length.
    pub data_offset: usize,
    /// The data's length in bytes: product(shape) * itemsize.
    pub data_len: isize,
}

// -------------------------------------------------------------------------------------
// Writing

/// The header `np.save` writes for an array of `shape` with items of `format` (and
/// `itemsize`, 0 for the format's own): every byte up to the data. `fortran_order` says
/// that the data will follow in Fortran order.
pub fn write(format: &[u8], itemsize: isize, shape: &[isize], fortran_order: bool) -> Result<Vec<u8>> {
    if let Some((k, n)) = shape.iter().enumerate().find(|(_, n)| **n < 0) {
        return Err(Error::shape(format_args!("shape[{k}] = {n} is negative")));
    }
    let descr = npy_descr(format, itemsize)?;
    let mut text = String::with_capacity(descr.len().saturating_add(64));
    text.push_str("{'descr': ");
    text.push_str(&descr);
    text.push_str(", 'fortran_order': ");
    text.push_str(if fortran_order { "True" } else { "False" });
    text.push_str(", 'shape': ");
    write_tuple(&mut text, shape);
    text.push_str(", }");
    // Room for the dimension that grows when arrays are appended (NumPy's writer).
    let growing = if fortran_order { shape.last() } else { shape.first() };
    if let Some(n) = growing {
        let digits = n.to_string().len();
        text.extend(std::iter::repeat_n(' ', GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    wrap(&text)
}

/// A tuple as Python's `repr` writes it: `()`, `(3,)`, `(3, 4)`.
fn write_tuple(out: &mut String, items: &[isize]) {
    out.push('(');
    for (k, n) in items.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        write!(out, "{n}").expect("a String takes any text");
    }
    if items.len() == 1 {
        out.push(',');
    }
    out.push(')');
}

/// The magic, version, length and padding around the dict's text (NumPy's `_wrap_header`
/// with the version its `_wrap_header_guess_version` picks).
fn wrap(text: &str) -> Result<Vec<u8>> {
    let latin1: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
    let (bytes, versions): (Vec<u8>, &[(u8, usize)]) = match latin1 {
        Some(b) => (b, &[(1, 2), (2, 4)]),
        None => (text.as_bytes().to_vec(), &[(3, 4)]),
    };
    for &(major, size_len) in versions {
        // Lengths of a String in memory: far below usize::MAX.
        let hlen = bytes.len().saturating_add(1);
        let prefix = MAGIC_LEN.saturating_add(size_len);
        let padlen = ARRAY_ALIGN.saturating_sub(prefix.saturating_add(hlen) % ARRAY_ALIGN);
        let stored = hlen.saturating_add(padlen);
        let limit = if size_len == 2 { usize::from(u16::MAX) } else { u32::MAX as usize };
        if stored > limit {
            continue;
        }
        let mut out = Vec::with_capacity(prefix.saturating_add(stored));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[major, 0]);
        if size_len == 2 {
            out.extend_from_slice(&(stored as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(stored as u32).to_le_bytes());
        }
        out.extend_from_slice(&bytes);
        out.extend(std::iter::repeat_n(b' ', padlen));
        out.push(b'\n');
        return Ok(out);
    }
    Err(Error::overflow(format_args!("a .npy header of {} bytes is too long for any version", bytes.len())))
}

// -------------------------------------------------------------------------------------
// Reading

fn invalid(why: impl std::fmt::Display) -> Error {
    Error::invalid_file(format_args!("not a valid .npy file: {why}"))
}

/// The length of the prefix (magic, version, header length) for the first
/// 8 bytes (magic and version) of a file: 10 for version 1.0, 12 for 2.0 and 3.0.
pub fn prefix_len(start: &[u8]) -> Result<usize> {
    let n = start.len().min(MAGIC.len());
    if start[..n] != MAGIC[..n] {
        return Err(invalid(format_args!(
            "it starts with {}, not the magic \"\\x93NUMPY\"",
            escape_bytes(&start[..start.len().min(MAGIC_LEN)])
        )));
    }
    if start.len() < MAGIC_LEN {
        return Err(invalid(format_args!(
            "it is {} bytes long, shorter than the magic and version ({MAGIC_LEN} bytes)",
            start.len()
        )));
    }
    match (start[6], start[7]) {
        (1, 0) => Ok(10),
        (2, 0) | (3, 0) => Ok(12),
        (major, minor) => Err(Error::version(format_args!(
            "unsupported .npy format version {major}.{minor} (pybuf reads 1.0, 2.0 and 3.0)"
        ))),
    }
}

/// The whole header's length (where the data starts) from the prefix of a file (at least
/// [`prefix_len`] bytes), refusing a header longer than `max_header_size` characters
/// before it is read.
pub fn total_len(prefix: &[u8], max_header_size: usize) -> Result<usize> {
    let plen = prefix_len(prefix)?;
    let Some(field) = prefix.get(MAGIC_LEN..plen) else {
        return Err(invalid(format_args!(
            "it is {} bytes long, shorter than the {plen}-byte magic, version and header length",
            prefix.len()
        )));
    };
    let hlen = match *field {
        [a, b] => usize::from(u16::from_le_bytes([a, b])),
        [a, b, c, d] => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => unreachable!("prefix_len gives 10 or 12"),
    };
    // A character is one byte in Latin-1 (1.0, 2.0), at most four in UTF-8 (3.0): a header
    // of more bytes than that has more characters than the limit.
    let per_char = if prefix[6] == 3 { 4 } else { 1 };
    if hlen > max_header_size.saturating_mul(per_char) {
        return Err(invalid(format_args!(
            "the header is {hlen} bytes, over the limit of {max_header_size} characters that np.load also enforces"
        )));
    }
    // hlen is below 4 * max_header_size: no overflow.
    Ok(plen.saturating_add(hlen))
}

/// Parse the header at the start of `input` (the file, or at least its header), with
/// NumPy's default limit on the header's size.
pub fn parse(input: &[u8]) -> Result<Header> {
    parse_with_limit(input, MAX_HEADER_SIZE)
}

/// [`parse`] with a limit of `max_header_size` characters on the header (np.load's
/// `max_header_size`).
pub fn parse_with_limit(input: &[u8], max_header_size: usize) -> Result<Header> {
    let plen = prefix_len(input)?;
    let total = total_len(input, max_header_size)?;
    let Some(raw) = input.get(plen..total) else {
        return Err(invalid(format_args!(
            "the header length says the header ends at byte {total}, past the end of the file ({} bytes)",
            input.len()
        )));
    };
    let version = (input[6], input[7]);
    let text: String = if version.0 == 3 {
        String::from_utf8(raw.to_vec()).map_err(|e| {
            invalid(format_args!("the version 3.0 header is not UTF-8 (byte {})", e.utf8_error().valid_up_to().saturating_add(plen)))
        })?
    } else {
        raw.iter().map(|&b| char::from(b)).collect()
    };
    let chars = text.chars().count();
    if chars > max_header_size {
        return Err(invalid(format_args!(
            "the header is {chars} characters, over the limit of {max_header_size} that np.load also enforces"
        )));
    }
    let fields = Parser { text: text.as_bytes(), pos: 0, python2: version.0 < 3 }.dict()?;
    let (descr, fortran_order, shape) = fields.into_parts()?;
    let (format, itemsize) = descr_format(&descr)?;
    let data_len = shape
        .iter()
        .try_fold(itemsize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| invalid(format_args!("shape {} of {itemsize}-byte items is more bytes than pybuf_ssize_t holds", show_shape(&shape))))?;
    if data_len.checked_add(total as isize).is_none() {
        return Err(invalid(format_args!("the header and {data_len} bytes of data are more bytes than pybuf_ssize_t holds")));
    }
    Ok(Header { version, format, itemsize, shape, fortran_order, data_offset: total, data_len })
}

fn show_shape(shape: &[isize]) -> String {
    let mut s = String::new();
    write_tuple(&mut s, shape);
    s
}

/// Bytes as a Python bytes literal's content: printable ASCII as is, others `\xNN`.
fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &c in b {
        if c.is_ascii_graphic() && c != b'"' && c != b'\\' || c == b' ' {
            s.push(char::from(c));
        } else {
            write!(s, "\\x{c:02x}").expect("a String takes any text");
        }
    }
    s.push('"');
    s
}

/// The PEP 3118 format and item size of a `descr` value.
fn descr_format(descr: &Value) -> Result<(String, isize)> {
    let text = descr.literal();
    if holds_object(descr) {
        return Err(invalid(format_args!(
            "descr {} holds Python objects ('O'), which a .npy file stores only by pickling",
            clip(&text)
        )));
    }
    let converted = match descr {
        Value::Str(s) => format_from_typestr(s.as_bytes()),
        Value::List(_) => format_from_descr(text.as_bytes()),
        other => return Err(invalid(format_args!("descr is {}, not a typestr or a list of fields", other.kind()))),
    };
    let format = converted.map_err(|e| invalid(format_args!("descr {} has no PEP 3118 format: {}", clip(&text), e.message())))?;
    let itemsize = Format::parse(format.as_bytes())
        .map_err(|e| invalid(format_args!("descr {} gives format \"{format}\": {}", clip(&text), e.message())))?
        .itemsize();
    if itemsize <= 0 {
        return Err(invalid(format_args!("descr {} has items of {itemsize} bytes", clip(&text))));
    }
    Ok((format, itemsize))
}

/// At most 200 characters of `s`, for messages.
fn clip(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// Whether a descr value names the object type anywhere (a typestr of kind `O`).
fn holds_object(v: &Value) -> bool {
    match v {
        Value::Str(s) => s.trim_start_matches(['<', '>', '|', '=']).starts_with('O'),
        // A field's name is a string too: only its type (the second entry) is a typestr.
        Value::Tuple(parts) => parts.get(1).is_some_and(holds_object),
        Value::List(items) => items.iter().any(holds_object),
        _ => false,
    }
}

/// A Python literal of the kinds a header holds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Str(String),
    Int(isize),
    Bool(bool),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::List(_) => "a list",
            Value::Tuple(_) => "a tuple",
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a bool",
        }
    }

    /// The value as Python's `repr` writes it (the text the array interface parses).
    fn literal(&self) -> String {
        let mut out = String::new();
        self.write_literal(&mut out);
        out
    }

    fn write_literal(&self, out: &mut String) {
        crate::work::step(1);
        match self {
            Value::Str(s) => out.push_str(&py_repr(s)),
            Value::Int(n) => write!(out, "{n}").expect("a String takes any text"),
            Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Value::List(items) | Value::Tuple(items) => {
                let list = matches!(self, Value::List(_));
                out.push(if list { '[' } else { '(' });
                for (k, v) in items.iter().enumerate() {
                    if k > 0 {
                        out.push_str(", ");
                    }
                    v.write_literal(out);
                }
                if !list && items.len() == 1 {
                    out.push(',');
                }
                out.push(if list { ']' } else { ')' });
            }
        }
    }
}

/// The three entries of a header's dict, as found.
#[derive(Default)]
struct Fields {
    descr: Option<Value>,
    fortran_order: Option<Value>,
    shape: Option<Value>,
}

impl Fields {
    fn into_parts(self) -> Result<(Value, bool, Vec<isize>)> {
        let missing: Vec<&str> = [("descr", self.descr.is_none()), ("fortran_order", self.fortran_order.is_none()), ("shape", self.shape.is_none())]
            .iter()
            .filter(|(_, m)| *m)
            .map(|(k, _)| *k)
            .collect();
        let (Some(descr), Some(fortran), Some(shape)) = (self.descr, self.fortran_order, self.shape) else {
            return Err(invalid(format_args!("the header lacks the key(s) {}", missing.join(", "))));
        };
        let Value::Bool(fortran_order) = fortran else {
            return Err(invalid(format_args!("fortran_order is {}, not True or False", fortran.kind())));
        };
        let Value::Tuple(dims) = shape else {
            return Err(invalid(format_args!("shape is {}, not a tuple", shape.kind())));
        };
        if dims.len() > crate::layout::MAX_NDIM {
            return Err(invalid(format_args!("shape has {} dimensions, more than {}", dims.len(), crate::layout::MAX_NDIM)));
        }
        let mut out = Vec::with_capacity(dims.len());
        for (k, d) in dims.iter().enumerate() {
            match d {
                Value::Int(n) if *n >= 0 => out.push(*n),
                Value::Int(n) => return Err(invalid(format_args!("shape[{k}] = {n} is negative"))),
                other => return Err(invalid(format_args!("shape[{k}] is {}, not an integer", other.kind()))),
            }
        }
        Ok((descr, fortran_order, out))
    }
}

/// A parser of the Python literal subset of `.npy` headers. Every byte is looked at a
/// bounded number of times.
struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    /// Versions 1.0 and 2.0 may come from Python 2, whose long integers end in `L`
    /// (`(3L, 4L)`): NumPy's reader drops the suffix (`_filter_header`), and so does this.
    python2: bool,
}

impl Parser<'_> {
    fn error(&self, at: usize, why: impl std::fmt::Display) -> Error {
        // `at` is within the text, and so at a character boundary or one past the end.
        let shown = String::from_utf8_lossy(&self.text[at.min(self.text.len())..]);
        let near: String = shown.chars().take(24).collect();
        invalid(format_args!("the header's dict, at character offset {at} (near {:?}): {why}", near))
    }

    fn advance(&mut self, n: usize) {
        crate::work::step(n);
        // pos stays within the text plus the few bytes of a token looked at.
        self.pos = self.pos.saturating_add(n);
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')) {
            self.advance(1);
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        self.skip_space();
        match self.peek() {
            Some(found) if found == c => {
                self.advance(1);
                Ok(())
            }
            Some(found) => Err(self.error(self.pos, format_args!("expected '{}', found '{}'", char::from(c), char::from(found).escape_default()))),
            None => Err(self.error(self.pos, format_args!("expected '{}', found the end of the header", char::from(c)))),
        }
    }

    /// The whole header: one dict, then only whitespace.
    fn dict(mut self) -> Result<Fields> {
        self.expect(b'{')?;
        let mut fields = Fields::default();
        loop {
            self.skip_space();
            if self.peek() == Some(b'}') {
                self.advance(1);
                break;
            }
            let at = self.pos;
            let key = match self.value(1)? {
                Value::Str(k) => k,
                other => return Err(self.error(at, format_args!("a key is {}, not a string", other.kind()))),
            };
            self.expect(b':')?;
            let value = self.value(1)?;
            let slot = match key.as_str() {
                "descr" => &mut fields.descr,
                "fortran_order" => &mut fields.fortran_order,
                "shape" => &mut fields.shape,
                other => return Err(self.error(at, format_args!("unexpected key {}: a .npy header has exactly 'descr', 'fortran_order' and 'shape'", py_repr(other)))),
            };
            if slot.is_some() {
                return Err(self.error(at, format_args!("the key '{key}' is given twice")));
            }
            *slot = Some(value);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.advance(1),
                Some(b'}') => {}
                Some(c) => return Err(self.error(self.pos, format_args!("expected ',' or '}}', found '{}'", char::from(c).escape_default()))),
                None => return Err(self.error(self.pos, "the dict is not closed")),
            }
        }
        self.skip_space();
        if self.pos < self.text.len() {
            return Err(self.error(self.pos, "unexpected text after the dict"));
        }
        Ok(fields)
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        self.skip_space();
        let start = self.pos;
        match self.peek() {
            None => Err(self.error(start, "unexpected end of the header")),
            Some(b'[' | b'(') if depth >= MAX_NESTING => Err(self.error(start, format_args!("lists and tuples nest deeper than {MAX_NESTING} levels"))),
            Some(b'[') => self.sequence(b']', depth).map(|(items, _)| Value::List(items)),
            Some(b'(') => {
                let (mut items, comma) = self.sequence(b')', depth)?;
                // `(x)` is x; `(x,)` and `()` are tuples.
                if items.len() == 1 && !comma {
                    Ok(items.pop().expect("one item"))
                } else {
                    Ok(Value::Tuple(items))
                }
            }
            Some(q @ (b'\'' | b'"')) => self.string(q).map(Value::Str),
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => self.integer(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                    self.advance(1);
                }
                match &self.text[start..self.pos] {
                    b"True" => Ok(Value::Bool(true)),
                    b"False" => Ok(Value::Bool(false)),
                    word => Err(self.error(start, format_args!("unexpected name {:?}: only True and False are allowed", String::from_utf8_lossy(word)))),
                }
            }
            Some(c) => Err(self.error(start, format_args!("unexpected '{}'", char::from(c).escape_default()))),
        }
    }

    /// Items up to `close`, and whether the last one was followed by a comma.
    fn sequence(&mut self, close: u8, depth: usize) -> Result<(Vec<Value>, bool)> {
        let open = self.pos;
        self.advance(1);
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            self.skip_space();
            match self.peek() {
                None => return Err(self.error(open, "not closed")),
                Some(c) if c == close => {
                    self.advance(1);
                    // `(,)` and `[,]` are refused below: a comma needs an item before it.
                    return Ok((items, comma));
                }
                _ => {}
            }
            // Below MAX_NESTING: `value` refuses deeper lists and tuples.
            items.push(self.value(depth.saturating_add(1))?);
            self.skip_space();
            match self.peek() {
                Some(b',') => {
                    self.advance(1);
                    comma = true;
                }
                Some(c) if c == close => comma = false,
                Some(c) => {
                    return Err(self.error(self.pos, format_args!("expected ',' or '{}', found '{}'", char::from(close), char::from(c).escape_default())))
                }
                None => return Err(self.error(open, "not closed")),
            }
        }
    }

    fn integer(&mut self) -> Result<Value> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.advance(1);
            self.skip_space();
        }
        let digits = self.pos;
        let mut value: Option<isize> = Some(0);
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            let d = isize::from(c.wrapping_sub(b'0'));
            value = value.and_then(|v| v.checked_mul(10)).and_then(|v| if negative { v.checked_sub(d) } else { v.checked_add(d) });
            self.advance(1);
        }
        let text = &self.text[digits..self.pos];
        if text.is_empty() {
            return Err(self.error(start, "a sign without digits"));
        }
        if text.len() > 1 && text[0] == b'0' && text.iter().any(|&c| c != b'0') {
            return Err(self.error(start, "leading zeros in a decimal integer (Python refuses them)"));
        }
        if self.python2 && self.peek() == Some(b'L') {
            self.advance(1);
        }
        if self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
            return Err(self.error(start, "only decimal integers are allowed"));
        }
        match value {
            Some(v) => Ok(Value::Int(v)),
            None => Err(self.error(start, format_args!("the integer {} overflows pybuf_ssize_t", String::from_utf8_lossy(&self.text[start..self.pos])))),
        }
    }

    /// `n` hex digits after an escape, as a number.
    fn hex(&mut self, n: usize, at: usize) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let Some(d) = self.peek().and_then(|c| char::from(c).to_digit(16)) else {
                return Err(self.error(at, format_args!("the escape needs {n} hex digits")));
            };
            // At most 8 digits: below 2**32.
            v = v.wrapping_mul(16).wrapping_add(d);
            self.advance(1);
        }
        Ok(v)
    }

    fn string(&mut self, quote: u8) -> Result<String> {
        let start = self.pos;
        self.advance(1);
        // A triple-quoted string is not part of the subset.
        let mut out = String::new();
        // The text is a String's bytes: a run of bytes up to the next ASCII quote,
        // backslash or newline is whole characters.
        loop {
            let run = self.pos;
            while self.peek().is_some_and(|c| c != quote && c != b'\\' && c != b'\n' && c != b'\r') {
                self.advance(1);
            }
            out.push_str(std::str::from_utf8(&self.text[run..self.pos]).map_err(|_| self.error(run, "the string is not UTF-8"))?);
            let Some(c) = self.peek() else { return Err(self.error(start, "the string is not closed")) };
            let at = self.pos;
            self.advance(1);
            match c {
                c if c == quote => return Ok(out),
                b'\\' => {
                    let Some(e) = self.peek() else { return Err(self.error(start, "the string is not closed")) };
                    self.advance(1);
                    let ch = match e {
                        b'\\' => '\\',
                        b'\'' => '\'',
                        b'"' => '"',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'a' => '\x07',
                        b'b' => '\x08',
                        b'f' => '\x0c',
                        b'v' => '\x0b',
                        b'0'..=b'7' => {
                            let mut v = u32::from(e.wrapping_sub(b'0'));
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        // At most three octal digits: below 512.
                                        v = v.wrapping_mul(8).wrapping_add(u32::from(d.wrapping_sub(b'0')));
                                        self.advance(1);
                                    }
                                    _ => break,
                                }
                            }
                            char::from_u32(v).expect("below 512")
                        }
                        b'x' => char::from_u32(self.hex(2, at)?).expect("below 256"),
                        b'u' | b'U' => {
                            let v = self.hex(if e == b'u' { 4 } else { 8 }, at)?;
                            char::from_u32(v).ok_or_else(|| self.error(at, format_args!("\\{} escape {v:#x} is not a character", char::from(e))))?
                        }
                        other => return Err(self.error(at, format_args!("unknown escape '\\{}'", char::from(other).escape_default()))),
                    };
                    out.push(ch);
                }
                _ => return Err(self.error(start, "the string is not closed on its line")),
            }
        }
    }
}
