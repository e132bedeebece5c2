//! Unit tests of the format parser and layout engine.
//!
//! The expected sizes were checked against CPython 3.11's `struct.calcsize` and NumPy
//! 2.4's `numpy._core._internal._dtype_from_pep3118` on x86_64 Linux.

use super::*;
use crate::error::Status;

fn parse(s: &[u8]) -> Format {
    match Format::parse(s) {
        Ok(f) => f,
        Err(e) => panic!("{:?} should parse: {}", String::from_utf8_lossy(s), e.message()),
    }
}

fn size(s: &[u8]) -> isize {
    parse(s).itemsize()
}

fn err(s: &[u8]) -> crate::error::Error {
    match Format::parse(s) {
        Ok(f) => panic!("{:?} should fail, parsed as {:?}", String::from_utf8_lossy(s), f.canonical()),
        Err(e) => e,
    }
}

/// Offsets of the fields a NumPy dtype lists: those of the single top-level struct when
/// the format is one unrepeated `T{}`, else the top level's; unnamed padding skipped.
fn numpy_offsets(f: &Format) -> Vec<isize> {
    let level = match f.fields() {
        [only] if only.nested().is_some() && only.values() != 1 => return Vec::new(),
        [only] => only.nested().unwrap_or(f),
        _ => f,
    };
    level
        .fields()
        .iter()
        .filter(|x| !(x.code() == Some(Code::Pad) && x.name().is_none()))
        .map(|x| x.offset())
        .collect()
}

// ---------------------------------------------------------------------------------
// struct.calcsize

/// `struct.calcsize` on x86_64 Linux (CPython 3.11).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
const STRUCT_CALCSIZE: &[(&[u8], isize)] = &[
    (b"", 0),
    (b"<", 0),
    (b"@", 0),
    (b"=", 0),
    (b"!", 0),
    (b"x", 1),
    (b"3x", 3),
    (b"0x", 0),
    (b"c", 1),
    (b"b", 1),
    (b"B", 1),
    (b"?", 1),
    (b"h", 2),
    (b"H", 2),
    (b"i", 4),
    (b"I", 4),
    (b"l", 8),
    (b"L", 8),
    (b"q", 8),
    (b"Q", 8),
    (b"n", 8),
    (b"N", 8),
    (b"e", 2),
    (b"f", 4),
    (b"d", 8),
    (b"s", 1),
    (b"p", 1),
    (b"P", 8),
    (b"ix", 5),
    (b"ib", 5),
    (b"bi", 8),
    (b"be", 4),
    (b"b?", 2),
    (b"bP", 16),
    (b"bn", 16),
    (b"bN", 16),
    (b"bq", 16),
    (b"bd", 16),
    (b"bf", 8),
    (b"bh", 4),
    (b"bl", 16),
    (b"bL", 16),
    (b"5s", 5),
    (b"b5s", 6),
    (b"b5p", 6),
    (b"b0i", 4),
    (b"0s", 0),
    (b"i0i", 4),
    (b"hhi", 8),
    (b"ih", 6),
    (b"di", 12),
    (b"dib", 13),
    (b"id", 16),
    (b"b3d", 32),
    (b"<bd", 9),
    (b"=bd", 9),
    (b"!bd", 9),
    (b">bd", 9),
    (b"bq i", 20),
    (b"3si", 8),
    (b"qqq", 24),
    (b"  i  i ", 8),
    (b"\ti", 4),
    (b"<5s3x", 8),
    (b"bc", 2),
    (b"b e", 4),
    (b"<e", 2),
    (b">?", 1),
    (b"=q", 8),
    (b"!h", 2),
    (b"<hil", 10),
    (b">QqIiHhBb", 30),
    (b"@ci", 8),
    (b"c3sh", 6),
    (b"01i", 4),
    (b"255p", 255),
    (b"<255p", 255),
    (b"10000s", 10000),
    (b"b10q", 88),
    (b"<b10q", 81),
    (b"lL", 16),
    (b"<lL", 8),
    (b"qb", 9),
    (b"?d?", 17),
    (b"ff", 8),
    (b"fd", 16),
    (b"Pc", 9),
    (b"nb", 9),
    (b"9223372036854775807x", 9223372036854775807),
    (b"4611686018427387903h", 9223372036854775806),
    (b"\n\ri\x0b\x0c", 4),
];

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn itemsize_equals_struct_calcsize() {
    for &(s, expected) in STRUCT_CALCSIZE {
        assert_eq!(size(s), expected, "{:?}", String::from_utf8_lossy(s));
        assert_eq!(size_from_format(s).unwrap(), expected);
    }
}

#[test]
fn standard_sizes_are_portable() {
    let cases: &[(&[u8], isize)] = &[
        (b"<bhilqBHILQ", 1 + 2 + 4 + 4 + 8 + 1 + 2 + 4 + 4 + 8),
        (b">efd?", 2 + 4 + 8 + 1),
        (b"!bd", 9),
        (b"=bq", 9),
        (b"<5s3x2p", 10),
        (b"<Zf Zd", 24),
        (b"<u3w", 14),
        (b"<0q", 0),
    ];
    for &(s, expected) in cases {
        assert_eq!(size(s), expected, "{:?}", String::from_utf8_lossy(s));
    }
}

#[test]
fn native_sizes_follow_the_c_abi() {
    use std::ffi::{c_int, c_long, c_longlong, c_short};
    use std::mem::{align_of, size_of};
    let sz = |n: usize| n as isize;
    assert_eq!(size(b"l"), sz(size_of::<c_long>()));
    assert_eq!(size(b"bl"), sz(align_of::<c_long>() + size_of::<c_long>()));
    assert_eq!(size(b"bq"), sz(align_of::<c_longlong>() + size_of::<c_longlong>()));
    assert_eq!(size(b"bi"), sz(align_of::<c_int>() + size_of::<c_int>()));
    assert_eq!(size(b"bh"), sz(align_of::<c_short>() + size_of::<c_short>()));
    assert_eq!(size(b"bP"), sz(align_of::<usize>() + size_of::<usize>()));
    assert_eq!(size(b"bn"), sz(align_of::<isize>() + size_of::<isize>()));
    assert_eq!(size(b"^bl"), sz(1 + size_of::<c_long>()));
    assert_eq!(size(b"O"), sz(size_of::<usize>()));
    assert_eq!(size(b"&i"), sz(size_of::<usize>()));
    assert_eq!(size(b"X{}"), sz(size_of::<usize>()));
}

// ---------------------------------------------------------------------------------
// NumPy's _dtype_from_pep3118

/// (format, NumPy itemsize, NumPy field offsets) on x86_64 Linux (NumPy 2.4.6). Every
/// entry is a single `T{}` (possibly repeated), so NumPy's top-level trailing padding,
/// which pybuf does not add, plays no part.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
const NUMPY_STRUCTS: &[(&[u8], isize, &[isize])] = &[
    (b"T{}", 0, &[]),
    (b"T{ib}", 8, &[0, 4]),
    (b"T{bi}", 8, &[0, 4]),
    (b"T{i<b}", 5, &[0, 4]),
    (b"T{bd}", 16, &[0, 8]),
    (b"T{bg}", 32, &[0, 16]),
    (b"T{bZg}", 48, &[0, 16]),
    (b"T{bZd}", 24, &[0, 8]),
    (b"T{bZf}", 12, &[0, 4]),
    (b"T{b3w}", 16, &[0, 4]),
    (b"T{bw}", 8, &[0, 4]),
    (b"T{b?}", 2, &[0, 1]),
    (b"T{be}", 4, &[0, 2]),
    (b"T{b3s}", 4, &[0, 1]),
    (b"T{bO}", 16, &[0, 8]),
    (b"T{b<O}", 9, &[0, 1]),
    (b"T{x}", 1, &[]),
    (b"T{3x}", 3, &[]),
    (b"T{bx:p:i}", 8, &[0, 1, 4]),
    (b"T{b(0)i}", 4, &[0, 4]),
    (b"T{b0i}", 4, &[0, 4]),
    (b"T{i2b}", 8, &[0, 4]),
    (b"T{b@i}", 8, &[0, 4]),
    (b"T{b^i}", 5, &[0, 1]),
    (b"T{T{ib}b}", 12, &[0, 8]),
    (b"T{T{<ib}b}", 6, &[0, 5]),
    (b"(2,3)T{b}", 6, &[]),
    (b"T{b(2, 3)i}", 28, &[0, 4]),
    (b"T{i:a:T{b:a:}:b:}", 8, &[0, 4]),
    (b"3T{ib}", 24, &[]),
    (b"T{b3T{ib}}", 28, &[0, 4]),
    (b"T{b(2)3i}", 28, &[0, 4]),
    (b"T{bT{d}}", 16, &[0, 8]),
    (b"T{hT{bb}q}", 16, &[0, 2, 8]),
    (b"T{b>T{@d}}", 16, &[0, 8]),
    (b"T{=bT{@hb}b}", 8, &[0, 2, 6]),
    (b"T{b^T{id}@b}", 14, &[0, 1, 13]),
    (b"T{cT{}i}", 8, &[0, 1, 4]),
    (b"T{b:a:(2,2)d:m:?:flag:}", 48, &[0, 8, 40]),
    (b"T{d:x:d:y:}", 16, &[0, 8]),
    (b"T{l:a:q:b:L:c:Q:d:}", 32, &[0, 8, 16, 24]),
    (b"T{b:a:5x:pad:i:c:}", 12, &[0, 1, 8]),
    (b"T{e:a:Zd:b:}", 24, &[0, 8]),
    (b"T{!b:a:h:b:}", 3, &[0, 1]),
    (b"T{<i:a:<d:b:}", 12, &[0, 4]),
    (b"T{>i:a:@i:b:}", 8, &[0, 4]),
    (b"T{T{>i:x:}:a:@i:b:}", 8, &[0, 4]),
    // Formats NumPy itself exports (memoryview(np.zeros(2, dtype)).format).
    (b"T{i:a:O:b:}", 16, &[0, 8]),
    (b"T{b:a:xxxi:b:}", 8, &[0, 4]),
    (b"T{b:a:=i:b:}", 5, &[0, 1]),
    (b"T{b:a:^g:b:}", 17, &[0, 1]),
    (b"T{b:a:xxx(2,3)i:b:}", 28, &[0, 4]),
    (b"T{b:a:xxx3w:b:3s:c:xxxxxZd:d:?:e:xe:f:}", 48, &[0, 4, 16, 24, 40, 42]),
    // NumPy exports these for dtypes of item size 24 and 9: its exporter writes
    // padding that its own parser (and pybuf) then counts twice.
    (b"T{T{d:x:b:y:}:a:xxxxxxxd:b:}", 32, &[0, 24]),
    (b"T{O:a:b:b:}", 16, &[0, 8]),
];

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn struct_layout_equals_numpy() {
    for &(s, itemsize, offsets) in NUMPY_STRUCTS {
        let f = parse(s);
        let shown = String::from_utf8_lossy(s);
        assert_eq!(f.itemsize(), itemsize, "{shown}");
        assert_eq!(numpy_offsets(&f), offsets, "{shown}");
    }
}

/// Formats of several top-level items: NumPy pads the whole item to its alignment, pybuf
/// (like the struct module) does not; the offsets agree.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn top_level_has_no_trailing_padding_unlike_numpy() {
    // (format, pybuf itemsize, NumPy itemsize, offsets (both))
    let cases: &[(&[u8], isize, isize, &[isize])] = &[
        (b"ib", 5, 8, &[0, 4]),
        (b"bi", 8, 8, &[0, 4]),
        (b"T{b}i", 8, 8, &[0, 4]),
        (b"T{ib}b", 9, 12, &[0, 8]),
        (b"T{<i}b", 5, 5, &[0, 4]),
        (b"T{<i}bi", 9, 9, &[0, 4, 5]),
        (b"T{i<b}i", 9, 9, &[0, 5]),
        (b"T{b=i}T{b}", 6, 6, &[0, 5]),
        (b"T{bi:a:}:x:T{q}:y:", 16, 16, &[0, 8]),
        (b"T{d}b", 9, 16, &[0, 8]),
    ];
    for &(s, ours, numpy, offsets) in cases {
        let f = parse(s);
        assert_eq!(f.itemsize(), ours, "{:?}", String::from_utf8_lossy(s));
        assert!(numpy >= ours);
        assert_eq!(numpy_offsets(&f), offsets);
    }
}

#[test]
fn markers_persist_past_the_closing_brace() {
    let f = parse(b"T{<i}bi");
    assert_eq!(f.fields()[0].mode(), Mode::Little);
    assert_eq!(f.fields()[2].mode(), Mode::Little);
    assert_eq!(f.fields()[2].offset(), 5);
    // A struct closed in a standard mode has no trailing padding and is not aligned.
    let f = parse(b"T{i<b}");
    assert_eq!(f.itemsize(), 5);
    assert_eq!(f.fields()[0].nested().unwrap().alignment(), 4);
    assert_eq!(f.fields()[0].alignment(), 1);
    // A marker right before '}' changes how the struct is padded and placed.
    assert_eq!(size(b"T{ib<}"), 5);
    assert_eq!(size(b"T{<ib@}"), 5);
    assert_eq!(size(b"bT{<i@}"), 5);
    assert_eq!(size(b"T{i@b}"), 8);
    // ctypes writes markers after shapes and after '&'.
    assert_eq!(size(b"T{<b:a:<i:b:(2)<d:c:}"), 21);
    #[cfg(target_pointer_width = "64")]
    assert_eq!(size(b"T{<i:a:&<i:p:T{<i:a:<b:b:}:s:X{}:f:}"), 4 + 8 + 5 + 8);
}

/// Issue 13: two byte order markers in a row (whitespace between them or not) are refused,
/// as `struct.calcsize` ("bad char in struct format") and NumPy's `_dtype_from_pep3118`
/// ("Unknown PEP 3118 data type specifier") refuse them; one marker anywhere between items,
/// or one alone (`"<"`, 0 as in `struct`), is still accepted.
#[test]
fn two_markers_in_a_row_are_refused() {
    for s in [
        &b"<>"[..], b"<>i", b"<<i", b"< >i", b"<\t>i", b"@=", b"@=i", b"=@i", b"!<i", b">!i",
        b"^^", b"T{<>i}", b"T{<>}", b"i<>i", b"i<>", b"T{i}<>", b"T{i<>}", b"(2)<>i", b"&<>i",
        b"X{<>i}", b"i:a:<>i", b"<>:a:i",
    ] {
        let e = err(s);
        assert_eq!(e.status(), Status::InvalidFormat, "{:?}", String::from_utf8_lossy(s));
    }
    assert_eq!(
        err(b"< >i").message(),
        "format \"< >i\" at 2: a second byte order marker '>' right after the marker '<' at 0"
    );
    assert_eq!(err(b"T{i<>}").message(), "format \"T{i<>}\" at 4: a second byte order marker '>' right after the marker '<' at 3");
    // One marker between items, before a shape and after it, or at the end of a struct.
    assert_eq!(size(b"<"), 0);
    assert_eq!(size(b"< i"), 4);
    assert_eq!(size(b"i<i"), 8);
    assert_eq!(size(b"<(2)>i"), 8);
    assert_eq!(size(b">T{<i}"), 4);
    assert_eq!(size(b"T{<i}>i"), 8);
    assert_eq!(size(b"T{ib<}"), 5);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn extension_codes() {
    let cases: &[(&[u8], isize)] = &[
        (b"g", 16),
        (b"bg", 32),
        (b"<g", 16),
        (b"b<g", 17),
        (b"Zf", 8),
        (b"Zd", 16),
        (b"Zg", 32),
        (b"bZf", 12),
        (b"<Zg", 32),
        (b"u", 2),
        (b"bu", 4),
        (b"w", 4),
        (b"bw", 8),
        (b"3w", 12),
        (b"O", 8),
        (b"bO", 16),
        (b"<bO", 9),
        (b"<bP", 9),
        (b"^bn", 9),
        (b"&i", 8),
        (b"b&d", 16),
        (b"b&T{bd}", 16),
        (b"b&&d", 16),
        (b"3&i", 24),
        (b"&3i", 8),
        (b"&(2,2)T{d}", 8),
        (b"X{}", 8),
        (b"bX{ii->d}", 16),
        (b"X{->i}", 8),
        (b"2X{&i->T{ii}}", 16),
    ];
    for &(s, expected) in cases {
        assert_eq!(size(s), expected, "{:?}", String::from_utf8_lossy(s));
    }
}

#[test]
fn whitespace_between_items_and_inside_shapes() {
    assert_eq!(size(b" i "), 4);
    assert_eq!(size(b"T{ b : a : }"), 1); // the name is " a "
    assert_eq!(parse(b"T{ b : a : }").fields()[0].nested().unwrap().fields()[0].name(), Some(" a "));
    assert_eq!(size(b"( 2 , 3 ) i"), 24);
    assert_eq!(size(b"< i\n\tT{ d }"), 12);
    assert_eq!(size(b"i :a:"), 4);
}

#[test]
fn empty_formats() {
    for s in [&b""[..], b" ", b"<", b" @ ", b"T{}", b"0i", b"(0)d", b"0T{i}", b"T{T{}}"] {
        assert_eq!(size(s), 0, "{:?}", String::from_utf8_lossy(s));
    }
    assert!(parse(b"").fields().is_empty());
    assert_eq!(parse(b"").alignment(), 1);
}

// ---------------------------------------------------------------------------------
// Fields

#[test]
fn fields_describe_the_tree() {
    let f = parse(b"T{b:tag:(2,3)<h:grid:}:rec: 4s:name: &(2)d:ptr:");
    let fields = f.fields();
    assert_eq!(fields.len(), 3);

    let rec = &fields[0];
    assert_eq!(rec.name(), Some("rec"));
    assert_eq!(rec.code(), None);
    let inner = rec.nested().unwrap();
    assert_eq!(inner.itemsize(), 13);
    assert_eq!(inner.alignment(), 1);
    let grid = &inner.fields()[1];
    assert_eq!(grid.name(), Some("grid"));
    assert_eq!(grid.code(), Some(Code::Short));
    assert_eq!(grid.mode(), Mode::Little);
    assert_eq!(grid.byte_order(), ByteOrder::Little);
    assert_eq!(grid.shape(), &[2, 3]);
    assert_eq!(grid.count(), 1);
    assert_eq!(grid.values(), 6);
    assert_eq!(grid.element_size(), 2);
    assert_eq!(grid.size(), 12);
    assert_eq!(grid.offset(), 1);
    assert_eq!(grid.alignment(), 1);

    let name = &fields[1];
    assert_eq!(name.code(), Some(Code::Bytes));
    assert_eq!(name.count(), 4);
    assert_eq!(name.values(), 1);
    assert_eq!(name.element_size(), 4);
    assert_eq!(name.offset(), 13);
    assert_eq!(name.mode(), Mode::Little);

    let ptr = &fields[2];
    assert_eq!(ptr.code(), Some(Code::Pointer));
    let pointee = ptr.pointee().unwrap();
    assert_eq!(pointee.code(), Some(Code::Double));
    assert_eq!(pointee.shape(), &[2]);
    assert_eq!(pointee.size(), 16);
    assert_eq!(ptr.offset(), 17);
    assert_eq!(f.itemsize(), 17 + std::mem::size_of::<usize>() as isize);
}

#[test]
fn native_alignment_of_fields() {
    let f = parse(b"bd");
    assert_eq!(f.fields()[1].alignment(), std::mem::align_of::<f64>() as isize);
    assert_eq!(f.alignment(), std::mem::align_of::<f64>() as isize);
    let f = parse(b"^bd");
    assert_eq!(f.fields()[1].alignment(), 1);
    assert_eq!(f.alignment(), 1);
}

#[test]
fn signatures() {
    let f = parse(b"X{ii->d}:cb:");
    let field = &f.fields()[0];
    assert_eq!(field.name(), Some("cb"));
    assert_eq!(field.code(), Some(Code::Function));
    let sig = field.signature().unwrap();
    assert_eq!(sig.args.fields().len(), 2);
    assert_eq!(sig.ret.as_ref().unwrap().fields()[0].code(), Some(Code::Double));
    let f = parse(b"X{}");
    let sig = f.fields()[0].signature().unwrap();
    assert!(sig.args.fields().is_empty());
    assert!(sig.ret.is_none());
    assert!(parse(b"X{->T{ii}}").fields()[0].signature().unwrap().ret.is_some());
}

#[test]
fn names_may_repeat_in_different_structs() {
    let f = parse(b"T{i:a:T{b:a:}:b:}:a:");
    assert_eq!(f.fields()[0].name(), Some("a"));
    assert_eq!(parse(b"i:caf\xc3\xa9:").fields()[0].name(), Some("caf\u{e9}"));
    assert_eq!(parse(b"x:pad:").fields()[0].name(), Some("pad"));
}

// ---------------------------------------------------------------------------------
// Errors

#[test]
fn messages_name_the_position_and_the_reason() {
    assert_eq!(err(b"T{i").message(), "format \"T{i\" at 3: unterminated 'T{' opened at 0");
    assert_eq!(err(b"3").message(), "format \"3\" at 1: repeat count 3 with no type code");
    assert_eq!(err(b"ia").message(), "format \"ia\" at 1: unknown type code 'a'");
    assert_eq!(err(b"i:a:i:a:").message(), "format \"i:a:i:a:\" at 5: duplicate field name 'a'");
    assert_eq!(err(b"i\x07").message(), "format \"i\\x07\" at 1: unknown type code 0x07");
    assert_eq!(
        err(b"<n").message(),
        "format \"<n\" at 1: 'n' has no standard size; it is allowed only in native modes '@' and '^', not after '<'"
    );
    assert_eq!(err(b"(2").message(), "format \"(2\" at 2: unterminated '(' opened at 0");
    assert_eq!(err(b"X{i").message(), "format \"X{i\" at 3: unterminated 'X{' opened at 0");
    assert_eq!(err(b"3t").message(), "format \"3t\" at 1: bit fields ('t') have no size in bytes");
    assert_eq!(
        err(b"99999999999999999999i").message(),
        "format \"99999999999999999999i\" at 0: repeat count 99999999999999999999 exceeds isize::MAX"
    );
    // Long strings are shortened in the message; the position is still exact.
    let mut long = vec![b'i'; 1000];
    long.push(b'a');
    assert_eq!(
        err(&long).message(),
        format!("format \"{}...\" (1001 bytes) at 1000: unknown type code 'a'", "i".repeat(64))
    );
}

/// (format, status, position in the message)
const MALFORMED: &[(&[u8], Status, usize)] = &[
    (b"T{i", Status::InvalidFormat, 3),
    (b"3", Status::InvalidFormat, 1),
    (b"ia", Status::InvalidFormat, 1),
    (b"}", Status::InvalidFormat, 0),
    (b"T{i}}", Status::InvalidFormat, 4),
    (b"T", Status::InvalidFormat, 0),
    (b"T(i)", Status::InvalidFormat, 0),
    (b"T {i}", Status::InvalidFormat, 0),
    (b"X", Status::InvalidFormat, 0),
    (b"X{i", Status::InvalidFormat, 3),
    (b"X{i->", Status::InvalidFormat, 5),
    (b"X{->}", Status::InvalidFormat, 2),
    (b"X{i->d->i}", Status::InvalidFormat, 6),
    (b"->i", Status::InvalidFormat, 0),
    (b"T{i->d}", Status::InvalidFormat, 3),
    (b"Z", Status::InvalidFormat, 1),
    (b"Zx", Status::InvalidFormat, 1),
    (b"Zi", Status::InvalidFormat, 1),
    (b"Z f", Status::InvalidFormat, 1),
    (b"&", Status::InvalidFormat, 1),
    (b"&}", Status::InvalidFormat, 1),
    (b"T{&}", Status::InvalidFormat, 3),
    (b"&:p:", Status::InvalidFormat, 1),
    (b"(2", Status::InvalidFormat, 2),
    (b"()i", Status::InvalidFormat, 1),
    (b"(2,)i", Status::InvalidFormat, 3),
    (b"(,2)i", Status::InvalidFormat, 1),
    (b"(2)", Status::InvalidFormat, 3),
    (b"(2)}", Status::InvalidFormat, 3),
    (b"(2)<", Status::InvalidFormat, 4),
    (b"(a)i", Status::InvalidFormat, 1),
    (b"(2;3)i", Status::InvalidFormat, 2),
    (b"((2))i", Status::InvalidFormat, 1),
    (b"(2 3)i", Status::InvalidFormat, 3),
    (b"3(2)i", Status::InvalidFormat, 1),
    (b"3 i", Status::InvalidFormat, 1),
    (b"3<i", Status::InvalidFormat, 1),
    (b"3-", Status::InvalidFormat, 1),
    (b"T{3}", Status::InvalidFormat, 3),
    (b"T{(2)}", Status::InvalidFormat, 5),
    (b"X{3->i}", Status::InvalidFormat, 3),
    (b"i:", Status::InvalidFormat, 2),
    (b"i:a", Status::InvalidFormat, 3),
    (b"T{i:a}", Status::InvalidFormat, 6),
    (b"i::", Status::InvalidFormat, 1),
    (b":a:", Status::InvalidFormat, 0),
    (b"i:a::b:", Status::InvalidFormat, 4),
    (b"i<:a:", Status::InvalidFormat, 2),
    (b"i:a:i:a:", Status::InvalidFormat, 5),
    (b"T{i:a:i:a:}", Status::InvalidFormat, 7),
    (b"i:a\0b:", Status::InvalidFormat, 3),
    (b"i:\xff:", Status::InvalidFormat, 2),
    (b"<n", Status::InvalidFormat, 1),
    (b">N", Status::InvalidFormat, 1),
    (b"=n", Status::InvalidFormat, 1),
    (b"!N", Status::InvalidFormat, 1),
    (b"T{<n}", Status::InvalidFormat, 3),
    (b"<3n", Status::InvalidFormat, 2),
    (b"\0", Status::InvalidFormat, 0),
    (b"a", Status::InvalidFormat, 0),
    (b"y", Status::InvalidFormat, 0),
    (b"z", Status::InvalidFormat, 0),
    (b"<Z", Status::InvalidFormat, 2),
    (b"{", Status::InvalidFormat, 0),
    (b"T{{}}", Status::InvalidFormat, 2),
    (b"ii)", Status::InvalidFormat, 2),
    (b"i,", Status::InvalidFormat, 1),
    (b"#", Status::InvalidFormat, 0),
    (b"-", Status::InvalidFormat, 0),
    (b"3T", Status::InvalidFormat, 1),
    (b"i\x80", Status::InvalidFormat, 1),
    (b"T{i:a:}:a", Status::InvalidFormat, 9),
    (b"\xef\xbb\xbfi", Status::InvalidFormat, 0),
    // Overflow
    (b"99999999999999999999i", Status::Overflow, 0),
    (b"9223372036854775808x", Status::Overflow, 0),
    (b"9223372036854775807xb", Status::Overflow, 20),
    (b"4611686018427387904h", Status::Overflow, 0),
    (b"b9223372036854775807x", Status::Overflow, 1),
    (b"(3074457345618258603)3i", Status::Overflow, 0),
    (b"(99999999999999999999)i", Status::Overflow, 1),
    (b"(4611686018427387904,2)b", Status::Overflow, 0),
    (b"1152921504606846976d", Status::Overflow, 0),
    (b"T{4611686018427387904h}", Status::Overflow, 2),
    (b"2T{4611686018427387903h}", Status::Overflow, 0),
    (b"9223372036854775807sb", Status::Overflow, 20),
    (b"&99999999999999999999i", Status::Overflow, 1),
    (b"T{d9223372036854775799x}", Status::Overflow, 24),
    (b"b9223372036854775806xi", Status::Overflow, 21),
    // Unsupported
    (b"t", Status::UnsupportedFormat, 0),
    (b"3t", Status::UnsupportedFormat, 1),
    (b"T{t}", Status::UnsupportedFormat, 2),
    (b"&t", Status::UnsupportedFormat, 1),
];

#[test]
fn malformed_formats_fail_with_their_status_and_position() {
    assert!(MALFORMED.len() >= 60);
    for &(s, status, pos) in MALFORMED {
        let e = err(s);
        let shown = String::from_utf8_lossy(s);
        assert_eq!(e.status(), status, "{shown:?}: {}", e.message());
        assert!(e.message().starts_with("format \""), "{shown:?}: {}", e.message());
        assert!(
            e.message().contains(&format!(" at {pos}: ")),
            "{shown:?}: expected position {pos}: {}",
            e.message()
        );
        assert_eq!(size_from_format(s).unwrap_err().status(), status);
    }
}

#[test]
#[cfg_attr(miri, ignore = "safe parser code on large inputs: too slow under Miri")]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    let n = 100_000;
    let open = "T{".repeat(n);
    let e = err(open.as_bytes());
    assert_eq!(e.status(), Status::UnsupportedFormat, "{}", e.message());
    assert!(e.message().contains(&format!("at {}: ", 2 * MAX_DEPTH)), "{}", e.message());

    let balanced = format!("{}i{}", "T{".repeat(n), "}".repeat(n));
    assert_eq!(err(balanced.as_bytes()).status(), Status::UnsupportedFormat);
    let pointers = format!("{}i", "&".repeat(n));
    assert_eq!(err(pointers.as_bytes()).status(), Status::UnsupportedFormat);
    let functions = "X{".repeat(n);
    assert_eq!(err(functions.as_bytes()).status(), Status::UnsupportedFormat);
    let mixed = "T{&X{".repeat(n);
    assert_eq!(err(mixed.as_bytes()).status(), Status::UnsupportedFormat);
    let closes = "}".repeat(n);
    assert_eq!(err(closes.as_bytes()).status(), Status::InvalidFormat);
    let parens = "(".repeat(n);
    assert_eq!(err(parens.as_bytes()).status(), Status::InvalidFormat);

    // Exactly MAX_DEPTH levels are fine.
    let deepest = format!("{}i{}", "T{".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
    let f = parse(deepest.as_bytes());
    assert_eq!(f.itemsize(), 4);
    assert_eq!(f.leaves().len(), 1);
    assert_eq!(parse(f.canonical().as_bytes()), f);
    let too_deep = format!("{}i{}", "T{".repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
    assert_eq!(err(too_deep.as_bytes()).status(), Status::UnsupportedFormat);
    let pointers = format!("{}i", "&".repeat(MAX_DEPTH));
    assert_eq!(size(pointers.as_bytes()), std::mem::size_of::<usize>() as isize);
}

#[test]
#[cfg_attr(miri, ignore = "safe parser code on large inputs: too slow under Miri")]
fn long_flat_formats_are_fine() {
    let s = "i".repeat(200_000);
    assert_eq!(size(s.as_bytes()), 800_000);
    let named: String = (0..20_000).map(|i| format!("b:f{i}:")).collect();
    assert_eq!(size(named.as_bytes()), 20_000);
    let dup = format!("{named}b:f19999:");
    assert_eq!(err(dup.as_bytes()).status(), Status::InvalidFormat);
}

// ---------------------------------------------------------------------------------
// Canonical strings

#[test]
fn canonical_strings() {
    let cases: &[(&[u8], &str)] = &[
        (b"", ""),
        (b"i", "i"),
        (b" 1i 2x ", "i2x"),
        (b"!i", ">i"),
        (b"<i<d", "<id"),
        (b"<i@d", "<i@d"),
        (b"(2)<i", "<(2)i"),
        (b"(2, 3)3s:name:", "(2,3)3s:name:"),
        (b"T{<i}b", "T{<i}b"),
        (b"<T{i}b", "T{<i}b"),
        (b"T{i<}", "T{i<}"),
        (b"T{<i@}", "T{<i@}"),
        (b"i<", "i"),
        (b"&<i", "&<i"),
        (b"X{ii->d}:f:", "X{ii->d}:f:"),
        (b"Zd Zf Zg", "ZdZfZg"),
        (b"T{b:a:(2,2)d:m:}", "T{b:a:(2,2)d:m:}"),
        (b"^b=h", "^b=h"),
    ];
    for &(s, expected) in cases {
        let f = parse(s);
        assert_eq!(f.canonical(), expected, "{:?}", String::from_utf8_lossy(s));
        assert_eq!(f.to_string(), expected);
        assert_eq!(parse(expected.as_bytes()), f, "{expected}");
    }
}

#[test]
fn canonical_round_trips() {
    let samples: &[&[u8]] = &[
        b"T{<i:a:&<i:p:T{<i:a:<b:b:}:s:X{}:f:}",
        b"T{b:a:xxx3w:b:3s:c:xxxxxZd:d:?:e:xe:f:}",
        b"T{T{>i:x:}:a:@i:b:}",
        b"T{b^T{id}@b}",
        b"T{=bT{@hb}b}",
        b"2X{&i->T{ii}}",
        b"X{<i->d}i",
        b"X{i<->d}i",
        b"&T{i<}b",
        b"(2)&(3)T{d:x:}:p:",
        b"<g>Zg^O=P",
        b"0x 0s 0T{}",
        b"T{ i :a b: }",
    ];
    for &s in samples {
        let f = parse(s);
        let c = f.canonical();
        assert_eq!(parse(c.as_bytes()), f, "{:?} -> {c}", String::from_utf8_lossy(s));
        assert_eq!(parse(c.as_bytes()).canonical(), c);
    }
}

#[test]
fn equality_is_structural() {
    assert_eq!(parse(b"!i"), parse(b">i"));
    assert_eq!(parse(b"i  i"), parse(b"ii"));
    assert_eq!(parse(b"1s"), parse(b"s"));
    assert_ne!(parse(b"2i"), parse(b"ii"));
    assert_ne!(parse(b"=i"), parse(b"i"));
    assert_ne!(parse(b"i:a:"), parse(b"i"));
    assert_ne!(parse(b"T{i<}"), parse(b"T{i}"));
}

// ---------------------------------------------------------------------------------
// Leaves and runs

#[test]
fn leaves_keep_counts_and_repeats() {
    let f = parse(b"b 3T{i(2)h:z:} 4s");
    let leaves = f.leaves();
    assert_eq!(leaves.len(), 4);
    assert_eq!((leaves[0].code, leaves[0].offset, leaves[0].count), (Code::SChar, 0, 1));
    assert!(leaves[0].repeats.is_empty());
    let int = &leaves[1];
    assert_eq!((int.code, int.offset, int.size, int.count), (Code::Int, 4, 4, 1));
    assert_eq!(int.repeats, vec![Repeat { count: 3, stride: 8 }]);
    assert_eq!(int.total(), 3);
    let short = &leaves[2];
    assert_eq!((short.code, short.offset, short.size, short.count), (Code::Short, 8, 2, 2));
    assert_eq!(short.name.as_deref(), Some("z"));
    assert_eq!(short.total(), 6);
    let bytes = &leaves[3];
    assert_eq!((bytes.code, bytes.offset, bytes.size, bytes.count), (Code::Bytes, 28, 4, 1));
    assert_eq!(f.itemsize(), 32);

    // A huge repeat costs nothing.
    let f = parse(b"1000000000T{id}");
    assert_eq!(f.leaves().len(), 2);
    assert_eq!(f.leaves()[1].total(), 1_000_000_000);

    // Nested repeats list outermost first.
    let f = parse(b"2T{b3T{<h}}");
    let leaves = f.leaves();
    assert_eq!(leaves[1].repeats, vec![Repeat { count: 2, stride: 7 }, Repeat { count: 3, stride: 2 }]);
    assert_eq!(leaves[1].byte_order, ByteOrder::Little);
    // Pointers are leaves; their pointees are not walked.
    let f = parse(b"&T{ii}x");
    let leaves = f.leaves();
    assert_eq!(leaves.len(), 2);
    assert_eq!(leaves[0].code, Code::Pointer);
    assert_eq!(leaves[1].code, Code::Pad);
}

#[test]
fn runs_walk_every_value_in_offset_order() {
    let f = parse(b"b2T{i(2)h}x");
    let runs: Vec<(isize, Code, isize, isize)> =
        f.runs().map(|r| (r.offset, r.code, r.size, r.count)).collect();
    assert_eq!(
        runs,
        vec![
            (0, Code::SChar, 1, 1),
            (4, Code::Int, 4, 1),
            (8, Code::Short, 2, 2),
            (12, Code::Int, 4, 1),
            (16, Code::Short, 2, 2),
            (20, Code::Pad, 1, 1),
        ]
    );
    assert_eq!(parse(b"0T{i}").runs().count(), 0);
}

// ---------------------------------------------------------------------------------
// Layout compatibility

fn compatible(a: &[u8], b: &[u8]) -> std::result::Result<(), Mismatch> {
    parse(a).layout_compatible(&parse(b))
}

#[test]
fn layout_compatibility() {
    let native = if cfg!(target_endian = "little") { "<" } else { ">" };
    let foreign = if cfg!(target_endian = "little") { ">" } else { "<" };
    assert!(compatible(format!("{native}d").as_bytes(), b"d").is_ok());
    assert!(compatible(format!("{foreign}d").as_bytes(), b"d").is_err());
    assert!(compatible(b"=i", b"i").is_ok());
    if std::mem::size_of::<std::ffi::c_long>() == 8 {
        assert!(compatible(b"l", b"q").is_ok());
        assert!(compatible(b"L", b"Q").is_ok());
    }
    assert!(compatible(b"ii", b"2i").is_ok());
    assert!(compatible(b"T{ii}", b"(2)i").is_ok());
    assert!(compatible(b"2T{ii}", b"4i").is_ok());
    assert!(compatible(b"T{i:a:f:b:}", b"if").is_ok());
    assert!(compatible(b"bi", b"b3xi").is_ok());
    assert!(compatible(b"3s", b"sss").is_ok());
    assert!(compatible(b"3s", b"3c").is_ok());
    assert!(compatible(b"<b", b">b").is_ok());
    assert!(compatible(b"1000000000i", b"(1000000000)i").is_ok());

    assert_eq!(
        compatible(b"i", b"f"),
        Err(Mismatch::Value {
            offset: 0,
            left: Some(Element {
                offset: 0,
                code: Code::Int,
                byte_order: ByteOrder::NATIVE,
                size: 4,
                field: "#0".into()
            }),
            right: Some(Element {
                offset: 0,
                code: Code::Float,
                byte_order: ByteOrder::NATIVE,
                size: 4,
                field: "#0".into()
            }),
        })
    );
    assert_eq!(compatible(b"i", b"ix"), Err(Mismatch::Itemsize { left: 4, right: 5 }));
    assert!(compatible(b"i", b"I").is_err());
    assert!(compatible(b"b", b"c").is_err());
    assert!(compatible(b"B", b"?").is_err());
    assert!(compatible(b"H", b"u").is_err());
    assert!(compatible(b"P", b"O").is_err());
    assert!(compatible(b"2s", b"h").is_err());

    let Err(m) = compatible(b"iid", b"ifd") else { panic!("should differ") };
    assert_eq!(m.to_string(), {
        let e = if cfg!(target_endian = "little") { "little-endian" } else { "big-endian" };
        format!(
            "first difference at byte offset 4: 'i' (4 bytes, {e}) at offset 4 (field #1) vs 'f' (4 bytes, {e}) at offset 4 (field #1)"
        )
    });
    let Err(m) = compatible(b"bxh", b"bbh") else { panic!("should differ") };
    assert!(matches!(m, Mismatch::Value { offset: 1, left: Some(Element { offset: 2, .. }), .. }), "{m}");
    let Err(m) = compatible(b"i4x", b"ii") else { panic!("should differ") };
    assert!(matches!(m, Mismatch::Value { offset: 4, left: None, right: Some(_) }), "{m}");
    assert_eq!(Mismatch::Itemsize { left: 8, right: 4 }.to_string(), "item sizes differ: 8 vs 4");
}

/// The field named in a mismatch of `a` against `b`, each side.
fn mismatch_fields(a: &[u8], b: &[u8]) -> (String, String) {
    match compatible(a, b) {
        Err(Mismatch::Value { left, right, .. }) => (
            left.map(|e| e.field).unwrap_or_default(),
            right.map(|e| e.field).unwrap_or_default(),
        ),
        other => panic!("{:?} vs {:?}: {other:?}", String::from_utf8_lossy(a), String::from_utf8_lossy(b)),
    }
}

#[test]
fn mismatches_name_the_field_path() {
    assert_eq!(mismatch_fields(b"T{i:a:d:b:}", b"T{i:a:q:b:}"), ("b".into(), "b".into()));
    assert_eq!(mismatch_fields(b"T{i:a:T{bd}:s:}", b"T{i:a:T{bq}:s:}"), ("s.#1".into(), "s.#1".into()));
    assert_eq!(mismatch_fields(b"2T{i:a:d:b:}", b"T{i:a:d:b:}iiq"), ("[1].b".into(), "#2".into()));
    assert_eq!(mismatch_fields(b"2T{i:a:}", b"iI"), ("[1].a".into(), "#1".into()));
    assert_eq!(mismatch_fields(b"(3)i:v:", b"(2)i:v:f"), ("v[2]".into(), "#1".into()));
    assert_eq!(mismatch_fields(b"4s:t:", b"3sB"), ("t[3]".into(), "#1".into()));
    let m = compatible(b"T{i:a:d:b:}", b"T{i:a:q:b:}").unwrap_err().to_string();
    assert!(m.contains("'d' (8 bytes") && m.contains("(field b)"), "{m}");
}

#[test]
fn check_view_ignores_the_formats_own_itemsize() {
    // NumPy pads a top-level aligned struct; the view's itemsize is what counts.
    assert!(parse(b"T{i:a:b:b:}").check_view(8, &parse(b"T{i:a:b:b:}")).is_ok());
    assert!(parse(b"ib").check_view(8, &parse(b"T{ib}")).is_ok());
    assert!(parse(b"i").check_view(8, &parse(b"i4x")).is_ok());
    assert_eq!(parse(b"i").check_view(8, &parse(b"i")), Err(Mismatch::Itemsize { left: 8, right: 4 }));
    assert!(parse(b"<d").check_view(8, &parse(b"d")).is_ok() == cfg!(target_endian = "little"));
    assert!(parse(b"i").check_view(4, &parse(b"f")).is_err());
    // A value past the item is a mismatch, whatever the sizes say.
    assert!(matches!(
        parse(b"ii").check_view(4, &parse(b"i")),
        Err(Mismatch::Value { left: Some(_), right: None, offset: 4 })
    ));
}

#[test]
fn differences_are_described_in_words() {
    let d = |a: &[u8], b: &[u8]| parse(a).difference(&parse(b));
    assert_eq!(d(b"i i", b"ii"), None);
    assert_eq!(d(b"!i", b">i"), None);
    assert_eq!(d(b"if", b"ii").unwrap(), "field #1: 'f' at offset 4 vs 'i' at offset 4");
    assert_eq!(d(b"i:a:", b"i:b:").unwrap(), "field 'a': name 'a' vs name 'b'");
    assert_eq!(d(b"i", b"i:b:").unwrap(), "field #0: no name vs name 'b'");
    assert_eq!(d(b"2i", b"ii").unwrap(), "field #0: count 2 vs 1");
    assert_eq!(d(b"(2)i", b"(1,2)i").unwrap(), "field #0: shape [2] vs [1, 2]");
    assert_eq!(d(b"<i", b"i").unwrap(), "field #0: placed in mode '<' vs '@' (byte order and alignment markers differ)");
    assert_eq!(d(b"i", b"ii").unwrap(), "field #1: no field vs 'i' at offset 4");
    assert_eq!(d(b"T{i:x:T{b:y:}:s:}:t:", b"T{i:x:T{h:y:}:s:}:t:").unwrap(), "field 't'.'s'.'y': 'b' at offset 0 vs 'h' at offset 0");
    assert_eq!(d(b"&i", b"&d").unwrap(), "field #0.*: 'i' at offset 0 vs 'd' at offset 0");
    assert_eq!(d(b"X{i->d}", b"X{i->f}").unwrap(), "field #0.return.#0: 'd' at offset 0 vs 'f' at offset 0");
    assert_eq!(d(b"X{i}", b"X{i->f}").unwrap(), "field #0: no return type vs a return type");
    assert_eq!(d(b"T{i}", b"T{i<}").unwrap(), "field #0: placed in mode '@' vs '<' (byte order and alignment markers differ)");
}

// ---------------------------------------------------------------------------------
// Robustness

/// A small deterministic generator (xorshift64*), so the test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Checks that hold for every format that parses.
fn check_invariants(s: &[u8], f: &Format) {
    let shown = String::from_utf8_lossy(s);
    let c = f.canonical();
    let again = Format::parse(c.as_bytes()).unwrap_or_else(|e| panic!("{shown:?} -> {c:?}: {}", e.message()));
    assert_eq!(&again, f, "{shown:?} -> {c:?}");
    let mut last_end = 0;
    for r in f.runs() {
        assert!(r.offset >= last_end || r.count == 0 || r.size == 0, "{shown:?}: runs out of order");
        let end = r.offset + r.size * r.count;
        assert!(end <= f.itemsize(), "{shown:?}: run past the item");
        if r.count > 0 && r.size > 0 {
            last_end = end;
        }
    }
    for field in f.fields() {
        assert!(field.offset() + field.size() <= f.itemsize());
        assert_eq!(field.offset() % field.alignment(), 0);
    }
    assert!(f.layout_compatible(f).is_ok());
    assert_eq!(f.leaves().len(), f.leaves().iter().filter(|l| l.size >= 0).count());
}

#[test]
#[cfg_attr(miri, ignore = "safe parser code on large inputs: too slow under Miri")]
fn random_bytes_never_panic() {
    const ALPHABET: &[u8] = b"xcbB?hHiIlLqQnNefdgspPOuwZT{}X->&t()0123456789,:@=<>!^ ab\0\xff";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..30_000 {
        let len = rng.below(24);
        let s: Vec<u8> = (0..len).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect();
        if let Ok(f) = Format::parse(&s) {
            parsed += 1;
            check_invariants(&s, &f);
        }
    }
    assert!(parsed > 1000, "only {parsed} random strings parsed");
}

#[test]
#[cfg_attr(miri, ignore = "safe parser code on large inputs: too slow under Miri")]
fn structured_random_formats_round_trip() {
    fn gen(rng: &mut Rng, depth: usize, out: &mut String) {
        for _ in 0..rng.below(5) {
            if rng.below(6) == 0 {
                out.push(['@', '=', '<', '>', '!', '^', ' '][rng.below(7)]);
            }
            if rng.below(8) == 0 {
                out.push_str(&format!("({},{})", rng.below(3), 1 + rng.below(3)));
            }
            if rng.below(3) == 0 {
                out.push_str(&rng.below(5).to_string());
            }
            match rng.below(12) {
                0 if depth < 4 => {
                    out.push_str("T{");
                    gen(rng, depth + 1, out);
                    out.push('}');
                }
                1 if depth < 4 => {
                    out.push('&');
                    out.push(['i', 'd', 'b'][rng.below(3)]);
                }
                2 if depth < 4 => {
                    out.push_str("X{");
                    gen(rng, depth + 1, out);
                    if rng.below(2) == 0 {
                        out.push_str("->");
                        out.push('d');
                    }
                    out.push('}');
                }
                _ => {
                    const CODES: &[&str] = &[
                        "x", "c", "b", "B", "?", "h", "H", "i", "I", "l", "L", "q", "Q", "e", "f", "d", "s",
                        "p", "P", "O", "u", "w", "Zf", "Zd",
                    ];
                    out.push_str(CODES[rng.below(CODES.len())]);
                }
            }
            if rng.below(4) == 0 {
                out.push_str(&format!(":n{}:", out.len()));
            }
        }
    }
    let mut rng = Rng(42);
    for _ in 0..5_000 {
        let mut s = String::new();
        gen(&mut rng, 0, &mut s);
        let f = Format::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {}", e.message()));
        check_invariants(s.as_bytes(), &f);
        // Any one-byte corruption parses or fails cleanly.
        if !s.is_empty() {
            let mut bytes = s.clone().into_bytes();
            let at = rng.below(bytes.len());
            bytes[at] = b"{}()-:T&X9"[rng.below(10)];
            if let Ok(g) = Format::parse(&bytes) {
                check_invariants(&bytes, &g);
            }
            bytes.truncate(at);
            if let Ok(g) = Format::parse(&bytes) {
                check_invariants(&bytes, &g);
            }
        }
    }
}

/// Compatible formats with a huge repeat count compare once per structure, not once per
/// repetition (a hostile format could otherwise make `pybuf_check_format` run for hours).
#[test]
fn huge_repeats_compare_structurally() {
    let a = Format::parse(b"1000000000T{<i:x:}").unwrap();
    let b = Format::parse(b"1000000000T{i:y:}").unwrap();
    if cfg!(target_endian = "little") {
        assert!(a.layout_compatible(&b).is_ok());
    }
    let c = Format::parse(b"1000000000T{f}").unwrap();
    assert!(a.layout_compatible(&c).is_err(), "i vs f differ in every repetition");
    let d = Format::parse(b"1000000000T{>i}").unwrap();
    if cfg!(target_endian = "little") {
        assert!(a.layout_compatible(&d).is_err(), "byte orders differ");
    }
}
