//! The hand-over message: a view's description as bytes, and the strict decoder that a
//! receiver runs on what another process sent.
//!
//! Version 1, all integers little-endian; a 40-byte header, then the arrays and the format:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 4 | magic `"PYBV"` |
//! | 4 | 2 | version, 1 |
//! | 6 | 2 | flags: bit 0 read-only; other bits 0 |
//! | 8 | 4 | total length: 40 + 16·ndim + format length, at most [`MAX_MESSAGE`](crate::share::wire::MAX_MESSAGE) |
//! | 12 | 4 | ndim, at most 64 |
//! | 16 | 4 | format length, at least 1 |
//! | 20 | 4 | reserved, 0 |
//! | 24 | 8 | itemsize (signed) |
//! | 32 | 8 | byte offset of element 0 from the segment's start (unsigned) |
//! | 40 | 8·ndim | shape (signed) |
//! | … | 8·ndim | strides (signed) |
//! | … | format length | the PEP 3118 format, no NUL |
//!
//! [`decode`](crate::share::wire::decode) checks the message on its own (every field, the format and its size, the
//! geometry's arithmetic); [`Message::check`](crate::share::wire::Message::check) then checks it against the segment's size.
//! Both run before anything is mapped. Decoding is linear in the message's length, which
//! is bounded.

// Every length and offset here comes from another process: checked arithmetic only.
#![warn(clippy::arithmetic_side_effects)]

use crate::error::{Error, Result};
use crate::export::{Description, Parts};
use crate::layout::MAX_NDIM;

/// The message's first four bytes.
pub const MAGIC: [u8; 4] = *b"PYBV";
/// The version this library writes and reads.
pub const VERSION: u16 = 1;
/// The header's length in bytes.
pub const HEADER: usize = 40;
/// The largest message (the receiver's buffer): small enough that a stream socket carries
/// it in one piece, large enough for 64 dimensions and a 31,000-byte format.
pub const MAX_MESSAGE: usize = 32768;
/// Flag bit: the receiver's views are read-only.
pub const FLAG_READONLY: u16 = 1;

/// A decoded description of a view in a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub readonly: bool,
    pub itemsize: isize,
    /// The byte offset of element 0 (the view's `buf`) from the segment's start.
    pub offset: u64,
    pub shape: Vec<isize>,
    pub strides: Vec<isize>,
    pub format: Vec<u8>,
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::invalid_message(format_args!("hand-over message refused: {what}"))
}

/// The total length a header declares, once its fixed fields are checked: what a stream
/// receiver reads after the header. `header` must hold [`HEADER`] bytes.
pub fn declared_len(header: &[u8]) -> Result<usize> {
    let h: &[u8; HEADER] = header.get(..HEADER).and_then(|h| h.try_into().ok()).ok_or_else(|| {
        bad(format_args!("{} bytes, fewer than the {HEADER}-byte header", header.len()))
    })?;
    if h[0..4] != MAGIC {
        return Err(bad(format_args!("magic {:02x?} is not \"PYBV\"", &h[0..4])));
    }
    let version = u16::from_le_bytes([h[4], h[5]]);
    if version != VERSION {
        return Err(Error::version(format_args!(
            "hand-over message version {version}: this libpybuf reads version {VERSION}"
        )));
    }
    let flags = u16::from_le_bytes([h[6], h[7]]);
    if flags & !FLAG_READONLY != 0 {
        return Err(bad(format_args!("unknown flag bits 0x{:04x}", flags & !FLAG_READONLY)));
    }
    let total = u32_at(h, 8) as usize;
    let ndim = u32_at(h, 12) as usize;
    let format_len = u32_at(h, 16) as usize;
    let reserved = u32_at(h, 20);
    if reserved != 0 {
        return Err(bad(format_args!("reserved field is {reserved}, not 0")));
    }
    if ndim > MAX_NDIM {
        return Err(bad(format_args!("ndim = {ndim} is greater than {MAX_NDIM}")));
    }
    if format_len == 0 {
        return Err(bad("the format is empty"));
    }
    // ndim <= 64 and format_len < 2^32: no overflow in usize (64-bit) or u64.
    let expected = (HEADER as u64)
        .saturating_add(16u64.saturating_mul(ndim as u64))
        .saturating_add(format_len as u64);
    if total as u64 != expected {
        return Err(bad(format_args!(
            "total length {total} is not {HEADER} + 16 * ndim {ndim} + format length {format_len} = {expected}"
        )));
    }
    if total > MAX_MESSAGE {
        return Err(bad(format_args!("total length {total} is over the {MAX_MESSAGE}-byte limit")));
    }
    Ok(total)
}

/// The `N` bytes at `at` (callers stay within the message's checked length).
fn bytes_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..).and_then(|t| t.first_chunk::<N>()).copied().unwrap_or([0; N])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes_at(b, at))
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(bytes_at(b, at))
}

/// Decode and check a whole message (see the module documentation): every field, the
/// format (it parses, has no NUL, and its size is the itemsize) and the geometry (shape
/// non-negative, no offset that overflows). The segment is checked by [`Message::check`].
pub fn decode(bytes: &[u8]) -> Result<Message> {
    let total = declared_len(bytes)?;
    if bytes.len() != total {
        return Err(bad(format_args!("{} bytes where the header declares {total}", bytes.len())));
    }
    let ndim = u32_at(bytes, 12) as usize;
    let itemsize = i64_at(bytes, 24);
    let offset = i64_at(bytes, 32) as u64;
    let itemsize = isize::try_from(itemsize).map_err(|_| bad(format_args!("itemsize {itemsize} does not fit")))?;
    if itemsize <= 0 {
        return Err(bad(format_args!("itemsize = {itemsize} is not positive")));
    }
    // declared_len checked 40 + 16 * ndim + format_len == total == bytes.len(), ndim <= 64.
    let (arrays, format) = bytes[HEADER..].split_at(ndim.saturating_mul(16));
    let mut fields = arrays.chunks_exact(8).map(|c| i64_at(c, 0) as isize);
    let shape: Vec<isize> = fields.by_ref().take(ndim).collect();
    let strides: Vec<isize> = fields.collect();
    let format = format.to_vec();
    if let Some(at) = format.iter().position(|&b| b == 0) {
        return Err(bad(format_args!("the format has a NUL byte at {at}")));
    }
    if let Some((k, n)) = shape.iter().enumerate().find(|(_, n)| **n < 0) {
        return Err(bad(format_args!("shape[{k}] = {n} is negative")));
    }
    let message = Message { readonly: flags_of(bytes) & FLAG_READONLY != 0, itemsize, offset, shape, strides, format };
    // The format and the geometry, against a segment as large as can be: what is left
    // to check is the segment's size.
    message.check(isize::MAX as u64)?;
    Ok(message)
}

fn flags_of(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[6], bytes[7]])
}

/// The address that stands for a segment's start when a description is checked without
/// one (never dereferenced: a description only records addresses).
fn nowhere() -> *mut u8 {
    std::ptr::NonNull::<u64>::dangling().as_ptr().cast()
}

impl Message {
    /// The message's description of its view in a segment of `size` bytes based at
    /// `base` (a description records addresses and never touches the memory): the
    /// format parses and its size is the itemsize, the geometry is valid, and every byte
    /// of the view lies within the segment.
    pub fn describe(&self, base: *mut u8, size: u64, readonly: bool) -> Result<Description> {
        let size = isize::try_from(size)
            .map_err(|_| bad(format_args!("a segment of {size} bytes is too large to map")))?;
        let offset = isize::try_from(self.offset)
            .ok()
            .filter(|&o| o <= size)
            .ok_or_else(|| bad(format_args!("offset {} is past the end of the {size}-byte segment", self.offset)))?;
        let parts = Parts {
            base,
            size,
            offset,
            readonly: readonly || self.readonly,
            format: Some(&self.format),
            itemsize: self.itemsize,
            shape: &self.shape,
            strides: Some(&self.strides),
            suboffsets: None,
        };
        Description::new(&parts).map_err(|e| bad(e.message()))
    }

    /// Check the message against a segment of `size` bytes (see [`Message::describe`]).
    pub fn check(&self, size: u64) -> Result<()> {
        self.describe(nowhere(), size, true).map(drop)
    }

    /// The message's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let ndim = self.shape.len();
        if ndim > MAX_NDIM || self.strides.len() != ndim {
            return Err(Error::ndim(format_args!("ndim = {ndim} with {} strides", self.strides.len())));
        }
        let total = HEADER
            .checked_add(ndim.saturating_mul(16))
            .and_then(|n| n.checked_add(self.format.len()))
            .filter(|&n| n <= MAX_MESSAGE)
            .ok_or_else(|| {
                Error::unrepresentable(format_args!(
                    "a format of {} bytes does not fit a {MAX_MESSAGE}-byte hand-over message",
                    self.format.len()
                ))
            })?;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(if self.readonly { FLAG_READONLY } else { 0 }).to_le_bytes());
        // total <= MAX_MESSAGE, ndim <= 64, format_len < total: all fit u32.
        for n in [total, ndim, self.format.len(), 0] {
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        out.extend_from_slice(&(self.itemsize as i64).to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        for n in self.shape.iter().chain(&self.strides) {
            out.extend_from_slice(&(*n as i64).to_le_bytes());
        }
        out.extend_from_slice(&self.format);
        debug_assert_eq!(out.len(), total);
        Ok(out)
    }
}
