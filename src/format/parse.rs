//! The parser: bytes to a laid-out [`Format`] tree, with positioned error messages.
//!
//! Recursion (into `T{`, `X{` and after `&`) is bounded by [`MAX_DEPTH`]; every index
//! is checked; numbers are accumulated with checked arithmetic.

use std::fmt::Write as _;
use std::sync::Arc;

use super::layout::{make_field, Builder, Fail};
use super::native::NoSize;
use super::{Code, Format, Kind, Mode, Signature, MAX_DEPTH};
use crate::error::{Error, Result, Status};

pub(crate) fn parse(format: &[u8]) -> Result<Format> {
    let mut p = Parser { s: format, pos: 0, mode: Mode::Native, depth: 0 };
    let (fmt, _) = p.body(Close::End)?;
    Ok(fmt)
}

/// What ends a sequence of items.
#[derive(Clone, Copy)]
enum Close {
    /// The end of the string (the top level).
    End,
    /// The `}` of the `T{` at `open`.
    Struct { open: usize },
    /// The `}` or `->` of the `X{` at `open` (the arguments).
    Args { open: usize },
    /// The `}` of the `X{` at `open`, after `->` (the return type).
    Ret { open: usize },
}

/// How a sequence ended.
#[derive(PartialEq, Eq)]
enum Ended {
    End,
    Brace,
    Arrow,
}

/// An item before its name and placement.
struct Item {
    kind: Kind,
    count: isize,
    shape: Vec<isize>,
    /// Where the code is (errors about the code point there).
    code_pos: usize,
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    mode: Mode,
    depth: usize,
}

/// Whitespace as the struct module skips it (C's isspace in the "C" locale).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A byte for a message: `'a'` or `0x07`.
fn describe(c: u8) -> String {
    if c.is_ascii_graphic() || c == b' ' {
        format!("'{}'", c as char)
    } else {
        format!("0x{c:02x}")
    }
}

/// The format string for a message: quoted, escaped, and shortened when long.
pub(crate) fn show(s: &[u8]) -> String {
    const MAX: usize = 64;
    let mut out = String::new();
    for &c in s.iter().take(MAX) {
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    if s.len() > MAX {
        format!("\"{out}...\" ({} bytes)", s.len())
    } else {
        format!("\"{out}\"")
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, pos: usize) -> Option<u8> {
        self.s.get(pos).copied()
    }

    /// The byte after `pos`, if any.
    fn peek_after(&self, pos: usize) -> Option<u8> {
        self.peek_at(pos.checked_add(1)?)
    }

    /// Move `n` bytes on (every step of the parser goes through here, and is counted).
    fn advance(&mut self, n: usize) {
        crate::work::step(n);
        // pos stays within the string (at most one past a byte looked at), whose length
        // is at most isize::MAX: this never saturates.
        self.pos = self.pos.saturating_add(n);
    }

    fn error(&self, status: Status, pos: usize, reason: impl std::fmt::Display) -> Error {
        Error::new(status, format_args!("format {} at {pos}: {reason}", show(self.s)))
    }

    fn invalid(&self, pos: usize, reason: impl std::fmt::Display) -> Error {
        self.error(Status::InvalidFormat, pos, reason)
    }

    fn fail(&self, pos: usize, fail: Fail) -> Error {
        match fail {
            Fail::Overflow(msg) => self.error(Status::Overflow, pos, msg),
            Fail::NoSize(code, mode, NoSize::NativeOnly) => self.invalid(
                pos,
                format_args!(
                    "'{}' has no standard size; it is allowed only in native modes '@' and '^', not after '{}'",
                    code.as_str(),
                    mode.marker()
                ),
            ),
            Fail::NoSize(code, _, NoSize::LongDoubleUnknown) => self.error(
                Status::UnsupportedFormat,
                pos,
                format_args!("'{}': the size of long double on this target is unknown", code.as_str()),
            ),
        }
    }

    /// `fail` for an item starting at `start` whose code is at `code_pos`: size overflow
    /// is reported at the item, a code without a size at the code.
    fn fail_at(&self, start: usize, code_pos: usize, fail: Fail) -> Error {
        match fail {
            Fail::Overflow(_) => self.fail(start, fail),
            Fail::NoSize(..) => self.fail(code_pos, fail),
        }
    }

    /// Skip whitespace and a byte order marker (which sets the mode). A second marker
    /// with only whitespace since the first (`"<>i"`, `"< >i"`, `"@=i"`, `"T{<>i}"`) is
    /// refused, as `struct` and NumPy refuse it.
    fn skip_space_and_markers(&mut self) -> Result<()> {
        let mut marker: Option<(usize, u8)> = None;
        while let Some(c) = self.peek() {
            if let Some(mode) = Mode::from_marker(c) {
                if let Some((first_pos, first)) = marker {
                    return Err(self.invalid(
                        self.pos,
                        format_args!(
                            "a second byte order marker {} right after the marker {} at {first_pos}",
                            describe(c),
                            describe(first)
                        ),
                    ));
                }
                marker = Some((self.pos, c));
                self.mode = mode;
            } else if !is_space(c) {
                break;
            }
            self.advance(1);
        }
        Ok(())
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.advance(1);
        }
    }

    /// Enter a nested level at `pos`, or refuse when too deep.
    fn enter(&mut self, pos: usize) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(
                Status::UnsupportedFormat,
                pos,
                format_args!("'T{{', 'X{{' and '&' nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        // Below MAX_DEPTH, checked just above.
        self.depth = self.depth.saturating_add(1);
        Ok(())
    }

    /// A decimal number at the current position, if any.
    fn number(&mut self, what: &str) -> Result<Option<isize>> {
        let start = self.pos;
        let mut value: Option<isize> = Some(0);
        while let Some(c @ b'0'..=b'9') = self.peek() {
            // c is '0'..='9', so the subtraction does not wrap.
            value = value.and_then(|v| v.checked_mul(10)).and_then(|v| v.checked_add(isize::from(c.wrapping_sub(b'0'))));
            self.advance(1);
        }
        if self.pos == start {
            return Ok(None);
        }
        match value {
            Some(v) => Ok(Some(v)),
            None => {
                let digits = self.s.get(start..self.pos).unwrap_or_default();
                let shown = if digits.len() > 30 {
                    format!("of {} digits", digits.len())
                } else {
                    String::from_utf8_lossy(digits).into_owned()
                };
                Err(self.error(Status::Overflow, start, format_args!("{what} {shown} exceeds isize::MAX")))
            }
        }
    }

    /// A sequence of items up to `close`; consumes the closing `}` (not `->`).
    fn body(&mut self, close: Close) -> Result<(Format, Ended)> {
        let mut builder = Builder::new();
        let ended = loop {
            self.skip_space_and_markers()?;
            let Some(c) = self.peek() else {
                match close {
                    Close::End => break Ended::End,
                    Close::Struct { open } => {
                        return Err(
                            self.invalid(self.pos, format_args!("unterminated 'T{{' opened at {open}"))
                        )
                    }
                    Close::Args { open } | Close::Ret { open } => {
                        return Err(
                            self.invalid(self.pos, format_args!("unterminated 'X{{' opened at {open}"))
                        )
                    }
                }
            };
            match c {
                b'}' => {
                    if let Close::End = close {
                        return Err(self.invalid(self.pos, "'}' without an opening 'T{' or 'X{'"));
                    }
                    self.advance(1);
                    break Ended::Brace;
                }
                b'-' if self.peek_after(self.pos) == Some(b'>') => {
                    if let Close::Args { .. } = close {
                        break Ended::Arrow;
                    }
                    return Err(self.invalid(self.pos, "'->' outside the arguments of an 'X{}'"));
                }
                b':' => return Err(self.invalid(self.pos, "field name with no item before it")),
                _ => {}
            }
            let start = self.pos;
            let item = self.item()?;
            self.skip_space();
            let name = if self.peek() == Some(b':') {
                let name_pos = self.pos;
                let name = self.name()?;
                if builder.has_name(&name) {
                    return Err(self.invalid(name_pos, format_args!("duplicate field name '{name}'")));
                }
                Some(name)
            } else {
                None
            };
            let code_pos = item.code_pos;
            let field = make_field(item.kind, self.mode, item.count, item.shape, name)
                .map_err(|f| self.fail_at(start, code_pos, f))?;
            builder.push(field).map_err(|f| self.fail(start, f))?;
        };
        let pad = matches!(close, Close::Struct { .. }) && self.mode == Mode::Native;
        let format = builder.finish(pad).map_err(|f| self.fail(self.pos, f))?;
        Ok((format, ended))
    }

    /// `:name:` at the current position.
    fn name(&mut self) -> Result<String> {
        let open = self.pos;
        let rest = open.checked_add(1).and_then(|after| self.s.get(after..)).unwrap_or_default();
        let Some(len) = rest.iter().position(|&c| c == b':') else {
            return Err(self.invalid(self.s.len(), format_args!("unterminated field name opened at {open}")));
        };
        let bytes = rest.get(..len).unwrap_or_default();
        if bytes.is_empty() {
            return Err(self.invalid(open, "empty field name"));
        }
        if let Some(i) = bytes.iter().position(|&c| c == 0) {
            // Positions within the string: they do not saturate.
            return Err(self.invalid(open.saturating_add(1).saturating_add(i), "NUL byte in a field name"));
        }
        let name = match std::str::from_utf8(bytes) {
            Ok(name) => name.to_owned(),
            Err(e) => {
                return Err(self.invalid(
                    open.saturating_add(1).saturating_add(e.valid_up_to()),
                    "field name is not valid UTF-8",
                ));
            }
        };
        // The opening ':', the name and the closing ':' (its position is within the string).
        self.advance(len.saturating_add(2));
        Ok(name)
    }

    /// `(d1,d2,...)` at the current position.
    fn shape(&mut self) -> Result<Vec<isize>> {
        let open = self.pos;
        self.advance(1);
        let mut dims = Vec::new();
        loop {
            self.skip_space();
            let Some(dim) = self.number("shape dimension")? else {
                return Err(match self.peek() {
                    None => self.invalid(self.pos, format_args!("unterminated '(' opened at {open}")),
                    Some(b')') if dims.is_empty() => self.invalid(self.pos, "empty shape '()'"),
                    Some(c) => self.invalid(
                        self.pos,
                        format_args!(
                            "expected a dimension (a decimal number) in the shape, found {}",
                            describe(c)
                        ),
                    ),
                });
            };
            dims.push(dim);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.advance(1),
                Some(b')') => {
                    self.advance(1);
                    return Ok(dims);
                }
                None => return Err(self.invalid(self.pos, format_args!("unterminated '(' opened at {open}"))),
                Some(c) => {
                    return Err(self.invalid(
                        self.pos,
                        format_args!("expected ',' or ')' in the shape, found {}", describe(c)),
                    ))
                }
            }
        }
    }

    /// `[shape] [count] code` at the current position (markers may follow the shape).
    fn item(&mut self) -> Result<Item> {
        let mut shape = Vec::new();
        let shape_pos = self.pos;
        if self.peek() == Some(b'(') {
            shape = self.shape()?;
            self.skip_space_and_markers()?;
        }
        let count_pos = self.pos;
        let count = self.number("repeat count")?;
        let code_pos = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.missing_code(count, count_pos, &shape, shape_pos, code_pos, None));
        };
        let kind = match c {
            b'T' | b'X' => {
                if self.peek_after(code_pos) != Some(b'{') {
                    return Err(
                        self.invalid(code_pos, format_args!("'{}' must be followed by '{{'", c as char))
                    );
                }
                self.enter(code_pos)?;
                self.advance(2);
                let kind = if c == b'T' {
                    Kind::Struct(Arc::new(self.body(Close::Struct { open: code_pos })?.0))
                } else {
                    self.signature(code_pos)?
                };
                // Entered above.
                self.depth = self.depth.saturating_sub(1);
                kind
            }
            b'&' => {
                self.enter(code_pos)?;
                self.advance(1);
                self.skip_space_and_markers()?;
                let pointee_pos = self.pos;
                if matches!(self.peek(), None | Some(b'}' | b':')) {
                    return Err(self.invalid(pointee_pos, "'&' with no type after it"));
                }
                let pointee = self.item()?;
                let field = make_field(pointee.kind, self.mode, pointee.count, pointee.shape, None)
                    .map_err(|f| self.fail_at(pointee_pos, pointee.code_pos, f))?;
                // Entered above.
                self.depth = self.depth.saturating_sub(1);
                Kind::Pointer(Box::new(field))
            }
            b'Z' => {
                self.advance(1);
                let code = match self.peek() {
                    Some(b'f') => Code::ComplexFloat,
                    Some(b'd') => Code::ComplexDouble,
                    Some(b'g') => Code::ComplexLongDouble,
                    other => {
                        let found = other.map_or_else(|| "the end".to_owned(), describe);
                        return Err(self.invalid(
                            self.pos,
                            format_args!("'Z' must be followed by 'f', 'd' or 'g', found {found}"),
                        ));
                    }
                };
                self.advance(1);
                Kind::Scalar(code)
            }
            b't' => {
                return Err(self.error(
                    Status::UnsupportedFormat,
                    code_pos,
                    "bit fields ('t') have no size in bytes",
                ))
            }
            _ => match Code::from_letter(c) {
                Some(code) => {
                    self.advance(1);
                    Kind::Scalar(code)
                }
                None => {
                    return Err(self.missing_code(count, count_pos, &shape, shape_pos, code_pos, Some(c)))
                }
            },
        };
        Ok(Item { kind, count: count.unwrap_or(1), shape, code_pos })
    }

    /// The error for a byte at `code_pos` (or the end) that is not a type code.
    fn missing_code(
        &self,
        count: Option<isize>,
        count_pos: usize,
        shape: &[isize],
        shape_pos: usize,
        code_pos: usize,
        found: Option<u8>,
    ) -> Error {
        let ends_item = matches!(found, None | Some(b'}' | b':'));
        if let Some(n) = count {
            if ends_item {
                return self.invalid(code_pos, format_args!("repeat count {n} with no type code"));
            }
            let c = found.unwrap_or_default();
            let reason = if c == b'(' {
                format!("a shape must come before the repeat count {n} (at {count_pos}), not after it")
            } else if is_space(c) {
                format!("whitespace between the repeat count {n} and its type code")
            } else if Mode::from_marker(c).is_some() {
                format!("byte order marker {} between the repeat count {n} and its type code", describe(c))
            } else if c == b'-' && self.peek_after(code_pos) == Some(b'>') {
                format!("repeat count {n} with no type code")
            } else {
                format!("unknown type code {}", describe(c))
            };
            return self.invalid(code_pos, reason);
        }
        if !shape.is_empty() && (ends_item || found == Some(b'-')) {
            return self.invalid(code_pos, format_args!("shape opened at {shape_pos} with no type code"));
        }
        match found {
            Some(c) => self.invalid(code_pos, format_args!("unknown type code {}", describe(c))),
            None => self.invalid(code_pos, "expected a type code"),
        }
    }

    /// The inside of `X{...}` after the `{`, through the `}`.
    fn signature(&mut self, open: usize) -> Result<Kind> {
        let (args, ended) = self.body(Close::Args { open })?;
        let ret = if ended == Ended::Arrow {
            let arrow = self.pos;
            self.advance(2);
            let (ret, _) = self.body(Close::Ret { open })?;
            if ret.fields.is_empty() {
                return Err(self.invalid(arrow, "'->' with no return type after it"));
            }
            Some(ret)
        } else {
            None
        };
        Ok(Kind::Function(Box::new(Signature { args, ret })))
    }
}
