//! Values of one element: decoding the bytes of a format code into a typed value, encoding
//! a typed value into those bytes, and exact comparison of numbers of different types.
//!
//! Decoding follows the struct module (`struct.unpack`): signed codes give integers,
//! unsigned codes, `u`, `w` and the pointer codes give unsigned integers, `?` is true for
//! any non-zero byte, `e f d` give doubles, `Zf Zd` complex numbers, `c` and `s` their
//! bytes, and `p` the bytes its length byte announces (at most its size - 1).
//! `g` and `Zg` (long double) are decoded exactly ([`Real`]); [`Value::LongDouble`] is
//! rounded to a double only when a double is asked for.
//!
//! Encoding follows `struct.pack`: integers are range-checked, floats are refused for
//! integer codes, integers are accepted for float codes, `?` takes the truth value of
//! anything, `c` needs exactly one byte, `s` is truncated or padded with zero bytes, `p`
//! stores its length byte, and a pointer code takes a signed or an unsigned integer. A
//! finite double too large for `f` or `e` is refused, as `struct.pack` refuses it in the
//! standard modes (`'<f'`); its native `'f'`, like memoryview, stores an infinity instead.

use crate::error::{Error, Result, Status};
use crate::format::{ByteOrder, Code};

/// An exact real number: NaN, an infinity, or `(-1)^neg * mant * 2^exp`.
///
/// Every value of every numeric format (64-bit integers, half, single, double, x87
/// extended and IEEE quadruple precision) is represented without rounding, so two values
/// of different types compare as Python compares an int with a float: exactly.
#[derive(Clone, Copy, Debug)]
pub enum Real {
    Nan,
    Inf { neg: bool },
    /// `mant` is odd, or 0 (then `exp` is 0); a zero keeps its sign for conversions.
    Finite { neg: bool, mant: u128, exp: i32 },
}

// Exponent and mantissa arithmetic of the values of IEEE and x87 formats (not sizes from
// input): exponents stay within a few times ±16,500 and mantissas within 128 bits, shifts
// are below the width they shift (each function checks its range first), so nothing here
// overflows.
#[allow(clippy::arithmetic_side_effects)]
impl Real {
    fn finite(neg: bool, mant: u128, exp: i32) -> Real {
        if mant == 0 {
            return Real::Finite { neg, mant: 0, exp: 0 };
        }
        let tz = mant.trailing_zeros();
        Real::Finite { neg, mant: mant >> tz, exp: exp + tz as i32 }
    }

    pub fn from_i64(v: i64) -> Real {
        Real::finite(v < 0, u128::from(v.unsigned_abs()), 0)
    }

    pub fn from_u64(v: u64) -> Real {
        Real::finite(false, u128::from(v), 0)
    }

    pub fn from_f64(v: f64) -> Real {
        let bits = v.to_bits();
        let neg = bits >> 63 != 0;
        let e = ((bits >> 52) & 0x7ff) as i32;
        let m = u128::from(bits & ((1 << 52) - 1));
        match e {
            0x7ff if m == 0 => Real::Inf { neg },
            0x7ff => Real::Nan,
            0 => Real::finite(neg, m, -1074),
            _ => Real::finite(neg, m | 1 << 52, e - 1075),
        }
    }

    /// An IEEE half-precision value.
    pub fn from_f16(bits: u16) -> Real {
        let neg = bits >> 15 != 0;
        let e = i32::from((bits >> 10) & 0x1f);
        let m = u128::from(bits & 0x3ff);
        match e {
            31 if m == 0 => Real::Inf { neg },
            31 => Real::Nan,
            0 => Real::finite(neg, m, -24),
            _ => Real::finite(neg, m | 1 << 10, e - 25),
        }
    }

    /// An x87 80-bit extended value: 64-bit significand with an explicit integer bit,
    /// then the sign and 15-bit exponent. Unsupported encodings (pseudo-infinities,
    /// pseudo-NaNs) are NaN; unnormals are read by the same formula as normal numbers.
    pub fn from_x87(mant: u64, sign_exp: u16) -> Real {
        let neg = sign_exp >> 15 != 0;
        let e = i32::from(sign_exp & 0x7fff);
        match e {
            0x7fff if mant == 1 << 63 => Real::Inf { neg },
            0x7fff => Real::Nan,
            0 => Real::finite(neg, u128::from(mant), -16382 - 63),
            _ => Real::finite(neg, u128::from(mant), e - 16383 - 63),
        }
    }

    /// An IEEE binary128 (quadruple precision) value.
    pub fn from_binary128(bits: u128) -> Real {
        let neg = bits >> 127 != 0;
        let e = ((bits >> 112) & 0x7fff) as i32;
        let m = bits & ((1 << 112) - 1);
        match e {
            0x7fff if m == 0 => Real::Inf { neg },
            0x7fff => Real::Nan,
            0 => Real::finite(neg, m, -16382 - 112),
            _ => Real::finite(neg, m | 1 << 112, e - 16383 - 112),
        }
    }

    /// Whether the two are the same number: NaN equals nothing, not even NaN; +0 and -0
    /// are equal.
    pub fn same(&self, other: &Real) -> bool {
        match (self, other) {
            (Real::Inf { neg: a }, Real::Inf { neg: b }) => a == b,
            (Real::Finite { mant: 0, .. }, Real::Finite { mant: 0, .. }) => true,
            (Real::Finite { neg: a, mant: m, exp: e }, Real::Finite { neg: b, mant: n, exp: f }) => {
                a == b && m == n && e == f
            }
            _ => false,
        }
    }

    /// Whether the value is zero (of either sign).
    pub fn is_zero(&self) -> bool {
        matches!(self, Real::Finite { mant: 0, .. })
    }

    /// The nearest double (ties to even); values beyond the range are infinite.
    pub fn to_f64(&self) -> f64 {
        let bits = match *self {
            Real::Nan => return f64::NAN,
            Real::Inf { neg } => return if neg { f64::NEG_INFINITY } else { f64::INFINITY },
            Real::Finite { neg, mant, exp } => {
                let sign = u64::from(neg) << 63;
                match round_binary(mant, exp, 52, 11) {
                    Some(b) => sign | b as u64,
                    None => sign | 0x7ff << 52,
                }
            }
        };
        f64::from_bits(bits)
    }

    /// The half-precision bits, or `None` for a finite value beyond its range.
    fn to_f16(self) -> Option<u16> {
        Some(match self {
            Real::Nan => 0x7e00,
            Real::Inf { neg } => u16::from(neg) << 15 | 0x7c00,
            Real::Finite { neg, mant, exp } => u16::from(neg) << 15 | round_binary(mant, exp, 10, 5)? as u16,
        })
    }

    /// The x87 extended encoding (significand, sign and exponent) of a value with at
    /// most 64 significant bits and an exponent in range (every double and 64-bit
    /// integer), which it represents exactly.
    fn to_x87(self) -> (u64, u16) {
        match self {
            Real::Nan => (0xc000_0000_0000_0000, 0x7fff),
            Real::Inf { neg } => (1 << 63, u16::from(neg) << 15 | 0x7fff),
            Real::Finite { neg, mant: 0, .. } => (0, u16::from(neg) << 15),
            Real::Finite { neg, mant, exp } => {
                let bits = 128 - mant.leading_zeros() as i32; // <= 64 for our sources
                let top = exp + bits - 1;
                let m = (mant << (64 - bits)) as u64;
                (m, u16::from(neg) << 15 | (top + 16383) as u16)
            }
        }
    }

    /// The binary128 encoding of a value with at most 113 significant bits and an
    /// exponent in the normal range (every double and 64-bit integer).
    fn to_binary128(self) -> u128 {
        match self {
            Real::Nan => 0x7fff_8000 << 96,
            Real::Inf { neg } => u128::from(neg) << 127 | 0x7fff << 112,
            Real::Finite { neg, mant: 0, .. } => u128::from(neg) << 127,
            Real::Finite { neg, mant, exp } => {
                let bits = 128 - mant.leading_zeros() as i32;
                let top = exp + bits - 1;
                let m = (mant << (113 - bits)) & ((1 << 112) - 1);
                u128::from(neg) << 127 | ((top + 16383) as u128) << 112 | m
            }
        }
    }
}

/// `mant * 2^exp` (mant > 0) rounded to nearest, ties to even, in a binary format with
/// `frac` fraction bits and `ebits` exponent bits: its bits without the sign, or `None`
/// when the value is beyond the largest finite number. A zero `mant` gives 0.
// Exponent and mantissa arithmetic of the values of IEEE and x87 formats (not sizes from
// input): exponents stay within a few times ±16,500 and mantissas within 128 bits, shifts
// are below the width they shift (each function checks its range first), so nothing here
// overflows.
#[allow(clippy::arithmetic_side_effects)]
fn round_binary(mant: u128, exp: i32, frac: u32, ebits: u32) -> Option<u128> {
    if mant == 0 {
        return Some(0);
    }
    let bias = (1i32 << (ebits - 1)) - 1;
    let (emin, emax) = (1 - bias, bias);
    let len = 128 - mant.leading_zeros() as i32;
    let top = exp + len - 1;
    let precision = frac as i32 + 1;
    // The exponent of the last kept bit: a normal number keeps `precision` bits, a
    // subnormal one keeps bits down to 2^(emin - frac).
    let quantum = if top >= emin { top - frac as i32 } else { emin - frac as i32 };
    let shift = quantum - exp;
    let mut m = if shift <= 0 { mant << (-shift) } else { round_shift(mant, shift) };
    let mut q = quantum;
    if m >> precision != 0 {
        // Rounding carried into a new bit.
        m >>= 1;
        q += 1;
    }
    if m == 0 {
        return Some(0);
    }
    if m >> frac == 0 {
        // Subnormal (or rounded up into the smallest normal, whose encoding is the same
        // integer): the exponent field is 0.
        return Some(m);
    }
    let e = q + frac as i32;
    if e > emax {
        return None;
    }
    Some(((e + bias) as u128) << frac | (m & ((1 << frac) - 1)))
}

/// `mant >> shift` rounded to nearest, ties to even (shift > 0).
// Exponent and mantissa arithmetic of the values of IEEE and x87 formats (not sizes from
// input): exponents stay within a few times ±16,500 and mantissas within 128 bits, shifts
// are below the width they shift (each function checks its range first), so nothing here
// overflows.
#[allow(clippy::arithmetic_side_effects)]
fn round_shift(mant: u128, shift: i32) -> u128 {
    if shift > 128 {
        return 0;
    }
    if shift == 128 {
        return u128::from(mant > 1 << 127);
    }
    let q = mant >> shift;
    let rem = mant - (q << shift);
    let half = 1u128 << (shift - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// The value of one field of one element.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    Int(i64),
    UInt(u64),
    Bool(bool),
    Float(f64),
    Complex(f64, f64),
    Bytes(&'a [u8]),
    /// A `g` value, exact.
    LongDouble(Real),
    /// A `Zg` value, exact.
    ComplexLongDouble(Real, Real),
}

impl Value<'_> {
    /// The value as a complex number of exact reals, or `None` for bytes.
    fn numeric(&self) -> Option<(Real, Real)> {
        let zero = Real::finite(false, 0, 0);
        Some(match *self {
            Value::Int(v) => (Real::from_i64(v), zero),
            Value::UInt(v) => (Real::from_u64(v), zero),
            Value::Bool(b) => (Real::from_u64(u64::from(b)), zero),
            Value::Float(v) => (Real::from_f64(v), zero),
            Value::Complex(re, im) => (Real::from_f64(re), Real::from_f64(im)),
            Value::LongDouble(r) => (r, zero),
            Value::ComplexLongDouble(re, im) => (re, im),
            Value::Bytes(_) => return None,
        })
    }

    /// Python's `==` on the unpacked values: numbers of any type compare exactly (NaN
    /// equals nothing, `True == 1`, `1 == 1.0 == (1+0j)`), bytes equal bytes with the
    /// same content, and a number never equals bytes.
    pub fn equals(&self, other: &Value<'_>) -> bool {
        match (self, other) {
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Bytes(_), _) | (_, Value::Bytes(_)) => false,
            _ => match (self.numeric(), other.numeric()) {
                (Some((ar, ai)), Some((br, bi))) => ar.same(&br) && ai.same(&bi),
                _ => false,
            },
        }
    }

    /// Python's truth value.
    fn truth(&self) -> bool {
        match *self {
            Value::Bytes(b) => !b.is_empty(),
            Value::Bool(b) => b,
            _ => !matches!(self.numeric(), Some((re, im)) if re.is_zero() && im.is_zero()),
        }
    }

    /// A short description for messages: `int 300`, `double 1.5`, `3 bytes`.
    pub fn describe(&self) -> String {
        match *self {
            Value::Int(v) => format!("int {v}"),
            Value::UInt(v) => format!("unsigned int {v}"),
            Value::Bool(b) => format!("bool {}", u8::from(b)),
            Value::Float(v) => format!("double {v:?}"),
            Value::Complex(re, im) => format!("complex ({re:?}, {im:?})"),
            Value::Bytes(b) => format!("{} bytes", b.len()),
            Value::LongDouble(r) => format!("long double {:?}", r.to_f64()),
            Value::ComplexLongDouble(re, im) => format!("complex long double ({:?}, {:?})", re.to_f64(), im.to_f64()),
        }
    }

    fn integer(&self) -> Option<i128> {
        match *self {
            Value::Int(v) => Some(i128::from(v)),
            Value::UInt(v) => Some(i128::from(v)),
            Value::Bool(b) => Some(i128::from(b)),
            _ => None,
        }
    }

    /// The value as an exact real, for the float codes (integers and doubles only).
    fn real(&self) -> Option<Real> {
        match *self {
            Value::Int(v) => Some(Real::from_i64(v)),
            Value::UInt(v) => Some(Real::from_u64(v)),
            Value::Bool(b) => Some(Real::from_u64(u64::from(b))),
            Value::Float(v) => Some(Real::from_f64(v)),
            Value::LongDouble(r) => Some(r),
            _ => None,
        }
    }
}

/// What decoding and encoding do with a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Signed,
    Unsigned,
    Bool,
    Float,
    Complex,
    Char,
    Bytes,
    Pascal,
    /// `O`: a Python object reference, read as its address, never written.
    Object,
    Pad,
}

pub fn class(code: Code) -> Class {
    use Code::*;
    match code {
        Pad => Class::Pad,
        SChar | Short | Int | Long | LongLong | SSize => Class::Signed,
        UChar | UShort | UInt | ULong | ULongLong | USize | Ucs2 | Ucs4 | VoidPtr | Pointer | Function => {
            Class::Unsigned
        }
        Object => Class::Object,
        Bool => Class::Bool,
        Half | Float | Double | LongDouble => Class::Float,
        ComplexFloat | ComplexDouble | ComplexLongDouble => Class::Complex,
        Char => Class::Char,
        Bytes => Class::Bytes,
        PascalBytes => Class::Pascal,
    }
}

/// The bytes of `raw` in big-endian order (reversed from little-endian when needed).
fn ordered<const N: usize>(raw: &[u8], order: ByteOrder) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&raw[..N]);
    if order == ByteOrder::Little {
        b.reverse();
    }
    b
}

fn store<const N: usize>(big_endian: [u8; N], out: &mut [u8], order: ByteOrder) {
    let mut b = big_endian;
    if order == ByteOrder::Little {
        b.reverse();
    }
    out[..N].copy_from_slice(&b);
}

fn uint(raw: &[u8], order: ByteOrder) -> u64 {
    match raw.len() {
        1 => u64::from(raw[0]),
        2 => u64::from(u16::from_be_bytes(ordered(raw, order))),
        4 => u64::from(u32::from_be_bytes(ordered(raw, order))),
        _ => u64::from_be_bytes(ordered(raw, order)),
    }
}

/// Whether a `g` of `size` bytes is the x87 extended format here (else binary128 for
/// 16 bytes, double for 8).
fn long_double_is_x87(size: usize) -> bool {
    cfg!(any(target_arch = "x86", target_arch = "x86_64")) && size >= 10
}

fn long_double(raw: &[u8], order: ByteOrder) -> Real {
    match raw.len() {
        8 => Real::from_f64(f64::from_be_bytes(ordered(raw, order))),
        n if long_double_is_x87(n) => {
            // The significant 10 bytes come first in memory on these (little-endian) targets.
            let mut b = [0u8; 10];
            b.copy_from_slice(&raw[..10]);
            if order == ByteOrder::Big {
                // A big-endian long double from elsewhere: its 10 bytes are at the end.
                // n is 12 or 16 (long_double_is_x87).
                b.copy_from_slice(&raw[n.saturating_sub(10)..]);
                b.reverse();
            }
            let mant = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
            Real::from_x87(mant, u16::from_le_bytes([b[8], b[9]]))
        }
        _ => Real::from_binary128(u128::from_be_bytes(ordered(raw, order))),
    }
}

fn store_long_double(r: Real, out: &mut [u8], order: ByteOrder) {
    match out.len() {
        8 => store(r.to_f64().to_be_bytes(), out, order),
        n if long_double_is_x87(n) => {
            let (mant, se) = r.to_x87();
            let mut b = [0u8; 10];
            b[..8].copy_from_slice(&mant.to_le_bytes());
            b[8..].copy_from_slice(&se.to_le_bytes());
            out.fill(0);
            if order == ByteOrder::Big {
                b.reverse();
                // n is 12 or 16 (long_double_is_x87).
                out[n.saturating_sub(10)..].copy_from_slice(&b);
            } else {
                out[..10].copy_from_slice(&b);
            }
        }
        _ => store(r.to_binary128().to_be_bytes(), out, order),
    }
}

fn float(raw: &[u8], order: ByteOrder) -> Real {
    match raw.len() {
        2 => Real::from_f16(u16::from_be_bytes(ordered(raw, order))),
        4 => Real::from_f64(f64::from(f32::from_be_bytes(ordered(raw, order)))),
        8 => Real::from_f64(f64::from_be_bytes(ordered(raw, order))),
        _ => long_double(raw, order),
    }
}

/// The values an integer of `size` bytes holds: signed, unsigned, or (an address) both.
/// `size` is an integer code's size (1 to 8 bytes); a larger one is taken as 8.
fn int_range(size: usize, signed: bool, address: bool) -> (i128, i128) {
    // bits is 8..=64: every product, shift and difference below fits in an i128.
    #[allow(clippy::arithmetic_side_effects)]
    let (half, full) = {
        let bits = size.clamp(1, 8) as u32 * 8;
        ((1i128 << (bits - 1)), (1i128 << bits))
    };
    #[allow(clippy::arithmetic_side_effects)]
    let range = if signed {
        (-half, half - 1)
    } else if address {
        // An address, from a signed or an unsigned integer (as `struct.pack('P')`).
        (-half, full - 1)
    } else {
        (0, full - 1)
    };
    range
}

/// Decode the value of `code` in `raw` (exactly one value's bytes) stored in `order`.
/// `Pad` is never decoded (callers skip it); it gives empty bytes.
pub fn decode(code: Code, raw: &[u8], order: ByteOrder) -> Value<'_> {
    match class(code) {
        Class::Signed => {
            let u = uint(raw, order);
            // Sign-extend from the value's width (1 to 8 bytes: an integer code's size).
            let unused = 8usize.saturating_sub(raw.len()).saturating_mul(8) as u32;
            let v = if unused == 0 { u as i64 } else { ((u << unused) as i64) >> unused };
            Value::Int(v)
        }
        Class::Unsigned | Class::Object => Value::UInt(uint(raw, order)),
        Class::Bool => Value::Bool(raw.iter().any(|&b| b != 0)),
        Class::Float => match raw.len() {
            2 | 4 | 8 => Value::Float(float(raw, order).to_f64()),
            _ => Value::LongDouble(long_double(raw, order)),
        },
        Class::Complex => {
            let (re, im) = raw.split_at(raw.len() / 2);
            match re.len() {
                4 | 8 => Value::Complex(float(re, order).to_f64(), float(im, order).to_f64()),
                _ => Value::ComplexLongDouble(long_double(re, order), long_double(im, order)),
            }
        }
        Class::Char | Class::Bytes => Value::Bytes(raw),
        Class::Pascal => match raw.split_first() {
            Some((&n, rest)) => Value::Bytes(&rest[..usize::from(n).min(rest.len())]),
            None => Value::Bytes(raw),
        },
        Class::Pad => Value::Bytes(&[]),
    }
}

fn type_error(code: Code, value: &Value<'_>, needs: &str) -> Error {
    Error::new(
        Status::TypeMismatch,
        format_args!("cannot store {} in a '{}' value: it needs {needs}", value.describe(), code.as_str()),
    )
}

fn range_error(code: Code, value: &Value<'_>, range: impl std::fmt::Display) -> Error {
    Error::new(
        Status::ValueOutOfRange,
        format_args!("{} is out of range for a '{}' value of this size ({range})", value.describe(), code.as_str()),
    )
}

/// Encode `value` as a value of `code` into `out` (exactly one value's bytes) in `order`,
/// with `struct.pack`'s rules (see the module documentation). On failure `out` is
/// untouched.
pub fn encode(code: Code, value: &Value<'_>, out: &mut [u8], order: ByteOrder) -> Result<()> {
    let size = out.len();
    match class(code) {
        Class::Signed | Class::Unsigned => {
            let v = value.integer().ok_or_else(|| type_error(code, value, "an integer"))?;
            let (lo, hi) = int_range(size, class(code) == Class::Signed, matches!(code, Code::VoidPtr | Code::Pointer | Code::Function));
            if v < lo || v > hi {
                return Err(range_error(code, value, format_args!("{lo}..={hi}")));
            }
            let u = v as u64;
            match size {
                1 => out[0] = u as u8,
                2 => store((u as u16).to_be_bytes(), out, order),
                4 => store((u as u32).to_be_bytes(), out, order),
                _ => store(u.to_be_bytes(), out, order),
            }
        }
        Class::Object => {
            return Err(Error::new(
                Status::TypeMismatch,
                "'O' values are Python object references: pybuf does not write them",
            ))
        }
        Class::Bool => {
            out.fill(0);
            out[0] = u8::from(value.truth());
        }
        Class::Float => {
            let r = value.real().ok_or_else(|| type_error(code, value, "an integer or a double"))?;
            encode_float(code, value, r, out, order)?;
        }
        Class::Complex => {
            let (re, im) = match *value {
                Value::Complex(re, im) => (Real::from_f64(re), Real::from_f64(im)),
                Value::ComplexLongDouble(re, im) => (re, im),
                _ => {
                    let re = value.real().ok_or_else(|| type_error(code, value, "a number"))?;
                    (re, Real::finite(false, 0, 0))
                }
            };
            let half = size / 2;
            let mut tmp = vec![0u8; size];
            let (a, b) = tmp.split_at_mut(half);
            encode_float(code, value, re, a, order)?;
            encode_float(code, value, im, b, order)?;
            out.copy_from_slice(&tmp);
        }
        Class::Char => match *value {
            Value::Bytes(b) if b.len() == 1 => out[0] = b[0],
            _ => return Err(type_error(code, value, "bytes of length 1")),
        },
        Class::Bytes => {
            let Value::Bytes(b) = *value else { return Err(type_error(code, value, "bytes")) };
            let n = b.len().min(size);
            // `b` may lie in the same memory as `out`: move, then pad.
            // SAFETY: `b` is readable for n bytes and `out` writable for size >= n bytes;
            // `copy` allows the two to overlap.
            unsafe { std::ptr::copy(b.as_ptr(), out.as_mut_ptr(), n) };
            out[n..].fill(0);
        }
        Class::Pascal => {
            let Value::Bytes(b) = *value else { return Err(type_error(code, value, "bytes")) };
            if size == 0 {
                return Ok(());
            }
            // size > 0 (checked above).
            let n = b.len().min(size.saturating_sub(1)).min(255);
            // SAFETY: as for `s`; the data goes after the length byte.
            unsafe { std::ptr::copy(b.as_ptr(), out.as_mut_ptr().add(1), n) };
            out[0] = n as u8;
            // n < size: the length byte and n bytes fit.
            out[n.saturating_add(1)..].fill(0);
        }
        Class::Pad => return Err(Error::argument("padding holds no value")),
    }
    Ok(())
}

/// One floating-point value (a whole `e f d g` value, or half of a complex one).
fn encode_float(code: Code, value: &Value<'_>, r: Real, out: &mut [u8], order: ByteOrder) -> Result<()> {
    match out.len() {
        2 => {
            let bits = r.to_f16().ok_or_else(|| range_error(code, value, "float too large for half precision"))?;
            store(bits.to_be_bytes(), out, order);
        }
        4 => {
            let d = r.to_f64();
            let f = d as f32;
            if f.is_infinite() && d.is_finite() {
                return Err(range_error(code, value, "float too large for single precision"));
            }
            store(f.to_be_bytes(), out, order);
        }
        8 => store(r.to_f64().to_be_bytes(), out, order),
        _ => store_long_double(r, out, order),
    }
    Ok(())
}
