//! Unit tests of the `.npy` header (writer against headers NumPy 2.4 wrote, parser on
//! good and damaged headers) and of saving and loading through fds.

#![allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely

use super::header::*;
use super::*;
use crate::error::Status;
use std::os::fd::AsRawFd;

/// (format, itemsize, shape, fortran_order, the header `np.save` wrote for such an array
/// with NumPy 2.4.6).
type NumpyHeader = (&'static str, isize, &'static [isize], bool, &'static [u8]);

const NUMPY_HEADERS: &[NumpyHeader] = &[
    ("<d", 0, &[3, 4], false, b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }                                                          \x0a"),
    ("<d", 0, &[3, 4], true, b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }                                                           \x0a"),
    (">i", 0, &[], false, b"\x93NUMPY\x01\x00v\x00{'descr': '>i4', 'fortran_order': False, 'shape': (), }                                                              \x0a"),
    ("5s", 0, &[0], false, b"\x93NUMPY\x01\x00v\x00{'descr': '|S5', 'fortran_order': False, 'shape': (0,), }                                                            \x0a"),
    ("T{b:a:d:b:}", 0, &[2], false, b"\x93NUMPY\x01\x00v\x00{'descr': [('a', '|i1'), ('', '|V7'), ('b', '<f8')], 'fortran_order': False, 'shape': (2,), }                        \x0a"),
    ("T{<(2,3)i:a:(2)T{>h:p:?:q:}:s:}", 0, &[2], false, b"\x93NUMPY\x01\x00\xb6\x00{'descr': [('a', '<i4', (2, 3)), ('s', [('p', '>i2'), ('q', '|b1')], (2,))], 'fortran_order': False, 'shape': (2,), }                                                                \x0a"),
    ("<3w", 0, &[1], false, b"\x93NUMPY\x01\x00v\x00{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }                                                            \x0a"),
    ("8x", 0, &[1], false, b"\x93NUMPY\x01\x00v\x00{'descr': '|V8', 'fortran_order': False, 'shape': (1,), }                                                            \x0a"),
    ("?", 0, &[5, 7, 1], true, b"\x93NUMPY\x01\x00v\x00{'descr': '|b1', 'fortran_order': True, 'shape': (5, 7, 1), }                                                        \x0a"),
    ("T{<i:é:}", 0, &[1], false, b"\x93NUMPY\x01\x00v\x00{'descr': [('\xe9', '<i4')], 'fortran_order': False, 'shape': (1,), }                                                   \x0a"),
    ("T{<i:€:}", 0, &[1], false, b"\x93NUMPY\x03\x00t\x00\x00\x00{'descr': [('\xe2\x82\xac', '<i4')], 'fortran_order': False, 'shape': (1,), }                                               \x0a"),
];

#[test]
fn written_headers_are_numpys() {
    for &(format, itemsize, shape, fortran, want) in NUMPY_HEADERS {
        let got = write(format.as_bytes(), itemsize, shape, fortran).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want), "{format}");
        assert_eq!(got, want, "{format}");
        assert_eq!(got.len() % ARRAY_ALIGN, 0);
    }
}

#[test]
fn numpys_headers_parse_back() {
    for &(format, _, shape, fortran, bytes) in NUMPY_HEADERS {
        let h = parse(bytes).unwrap();
        assert_eq!(h.shape, shape, "{format}");
        assert_eq!(h.fortran_order, fortran, "{format}");
        assert_eq!(h.data_offset, bytes.len(), "{format}");
        let (mine, theirs) = (Format::parse(format.as_bytes()).unwrap(), Format::parse(h.format.as_bytes()).unwrap());
        assert_eq!(mine.itemsize(), h.itemsize, "{format}");
        assert!(mine.check_view(h.itemsize, &theirs).is_ok(), "{format} vs {}", h.format);
        assert_eq!(h.data_len, shape.iter().product::<isize>() * h.itemsize);
    }
    // Versions and formats in detail.
    let h = parse(NUMPY_HEADERS[0].4).unwrap();
    assert_eq!((h.version, h.format.as_str(), h.itemsize), ((1, 0), "<d", 8));
    let h = parse(NUMPY_HEADERS[2].4).unwrap();
    assert_eq!((h.format.as_str(), h.shape.len(), h.data_len), (">i", 0, 4));
    let euro = NUMPY_HEADERS.iter().find(|c| c.0.contains('€')).unwrap();
    let h = parse(euro.4).unwrap();
    assert_eq!((h.version, h.format.as_str()), ((3, 0), "T{<i:€:}"));
    let e_acute = NUMPY_HEADERS.iter().find(|c| c.0.contains('é')).unwrap();
    assert_eq!(parse(e_acute.4).unwrap().format, "T{<i:é:}");
}

#[test]
#[cfg_attr(miri, ignore = "a 64 KiB header of 4,000 fields: too slow under Miri")]
fn long_headers_take_version_2() {
    // Enough fields for a header over 64 KiB: version 2.0, a u32 length.
    let fields: String = (0..4000).map(|k| format!("<i:field{k}:")).collect();
    let format = format!("T{{{fields}}}");
    let h = write(format.as_bytes(), 0, &[3], false).unwrap();
    assert_eq!(&h[..8], b"\x93NUMPY\x02\x00");
    assert!(h.len() > 65536 && h.len().is_multiple_of(64));
    assert_eq!(u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize, h.len() - 12);
    assert_eq!(*h.last().unwrap(), b'\n');
    // Over np.load's default limit: refused, and read with a larger one.
    let e = parse(&h).unwrap_err();
    assert_eq!(e.status(), Status::InvalidFile);
    assert!(e.message().contains("over the limit of 10000"), "{e}");
    let back = parse_with_limit(&h, 1 << 20).unwrap();
    assert_eq!(back.version, (2, 0));
    assert_eq!(back.itemsize, 16000);
}

#[test]
fn the_growth_padding_and_alignment() {
    // 21 digits of room for the growing axis: the first in C order, the last in F order.
    let c = write(b"<d", 0, &[1, 123456], false).unwrap();
    let f = write(b"<d", 0, &[1, 123456], true).unwrap();
    let text = |h: &[u8]| String::from_utf8_lossy(&h[10..]).into_owned();
    assert_eq!(text(&c).trim_end(), "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 123456), }");
    assert_eq!(text(&f).trim_end(), "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 123456), }");
    // A header whose text exactly fills 64 bytes still gets a whole line of padding
    // (NumPy's `padlen` is never 0): every written header is a multiple of 64 bytes.
    for n in 0..if cfg!(miri) { 20 } else { 200 } {
        let h = write(b"<d", 0, &[n * 7919, n], n % 2 == 0).unwrap();
        assert_eq!(h.len() % 64, 0);
        assert_eq!(parse(&h).unwrap().shape, [n * 7919, n]);
    }
}

#[test]
fn objects_and_pointers_are_not_saved() {
    for f in ["O", "T{i:a:O:b:}", "P", "u"] {
        let e = write(f.as_bytes(), 0, &[2], false).unwrap_err();
        assert_eq!(e.status(), Status::Unrepresentable, "{f}: {e}");
    }
    assert_eq!(write(b"d", 0, &[-1], false).unwrap_err().status(), Status::InvalidShape);
}

/// A header with `dict` as its text (version 1.0, padded as NumPy pads).
fn with_dict(dict: &str) -> Vec<u8> {
    let mut text = dict.as_bytes().to_vec();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(b' ');
    }
    text.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(&text);
    out
}

#[test]
fn the_literal_subset() {
    let ok = |d: &str| parse(&with_dict(d)).unwrap_or_else(|e| panic!("{d}: {e}"));
    // Either quote, escapes, any key order, spacing, trailing commas or none.
    let h = ok("{\"shape\":(2,3),\"fortran_order\":True,\"descr\":\"\\x3cf8\"}");
    assert_eq!((h.format.as_str(), h.shape.as_slice(), h.fortran_order), ("<d", &[2, 3][..], true));
    let h = ok("{ 'descr' : [ ( 'a' , '<i4' , ( 2 , ) ) , ('', '|V4') , ] , 'fortran_order' : False , 'shape' : ( ) }");
    assert_eq!((h.format.as_str(), h.itemsize, h.shape.len()), ("T{(2)<i:a:4x}", 12, 0));
    // Titles are dropped; names with quotes and escapes are kept.
    let h = ok("{'descr': [(('Title', 'x'), '>u2'), (\"it's\", '<f4'), ('tab\\there', '|u1')], 'fortran_order': False, 'shape': (5,)}");
    assert_eq!(h.format, "T{>H:x:<f:it's:B:tab\there:}");
    let h = ok("{'descr': [('\\u00e9\\U0001F600', '<i8')], 'fortran_order': False, 'shape': (1,)}");
    assert_eq!(h.format, "T{<q:é😀:}");
    // Nested structs and big-endian scalars; 0 in a shape; -0 is 0.
    let h = ok("{'descr': [('s', [('p', '>i2'), ('q', '|b1')], (2,))], 'fortran_order': False, 'shape': (0, -0, 4)}");
    assert_eq!((h.shape.as_slice(), h.data_len), (&[0, 0, 4][..], 0));
    // Python 2's long integers in a 1.0 header (NumPy's reader drops the L too).
    assert_eq!(ok("{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 4L), }").shape, [3, 4]);
    let mut v3 = with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3L,), }");
    v3[6] = 3;
    v3.splice(8..10, [0, 0, 0, 0]);
    let n = v3.len() - 12;
    v3[8..12].copy_from_slice(&(n as u32).to_le_bytes());
    assert!(parse(&v3).unwrap_err().message().contains("only decimal integers"));
}

#[test]
fn damaged_headers_are_refused() {
    let good = NUMPY_HEADERS[0].4;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "0 bytes long"),
        (b"\x93NUM".to_vec(), "4 bytes long"),
        (b"\x93NUMPX\x01\x00".to_vec(), "not the magic"),
        (b"PK\x03\x04".to_vec(), "not the magic"),
        (good[..9].to_vec(), "shorter than the 10-byte"),
        (good[..100].to_vec(), "past the end of the file"),
        (with_dict("{'descr': '<f8', 'fortran_order': False}"), "lacks the key(s) shape"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1}"), "unexpected key 'extra'"),
        (with_dict("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}"), "given twice"),
        (with_dict("{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}"), "fortran_order is an integer"),
        (with_dict("{'descr': '<f8', 'fortran_order': false, 'shape': (3,)}"), "only True and False"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': [3]}"), "shape is a list"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3)}"), "shape is an integer"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}"), "shape[0] = -3 is negative"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}"), "overflows"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}"), "more bytes than"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3.0,)}"), "only decimal integers"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (0x3,)}"), "only decimal integers"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (03,)}"), "leading zeros"),
        (with_dict("{'descr': '|O', 'fortran_order': False, 'shape': (3,)}"), "Python objects"),
        (with_dict("{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (3,)}"), "Python objects"),
        (with_dict("{'descr': '<f7', 'fortran_order': False, 'shape': (3,)}"), "no PEP 3118 format"),
        (with_dict("{'descr': '<M8[s]', 'fortran_order': False, 'shape': (3,)}"), "datetime64"),
        (with_dict("{'descr': 5, 'fortran_order': False, 'shape': (3,)}"), "descr is an integer"),
        (with_dict("{'descr': [], 'fortran_order': False, 'shape': (3,)}"), "at least one field"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)"), "not closed"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} x"), "unexpected text after"),
        (with_dict("{'descr': '<f8, 'fortran_order': False, 'shape': (3,)}"), "expected ',' or '}'"),
        (with_dict("{'descr' '<f8', 'fortran_order': False, 'shape': (3,)}"), "expected ':'"),
        (with_dict("{'descr': '<f8\n', 'fortran_order': False, 'shape': (3,)}"), "not closed on its line"),
        (with_dict("{'descr': '\\q', 'fortran_order': False, 'shape': (3,)}"), "unknown escape"),
        (with_dict("{'descr': '\\x4', 'fortran_order': False, 'shape': (3,)}"), "2 hex digits"),
        (with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3,,)}"), "unexpected ','"),
        (with_dict("{3: '<f8'}"), "a key is an integer"),
        (with_dict("['descr', '<f8']"), "expected '{'"),
        (with_dict(&format!("{{'descr': {}'<f8'{}, 'fortran_order': False, 'shape': (3,)}}", "[".repeat(80), "]".repeat(80))), "nest deeper"),
    ];
    for (bytes, text) in &cases {
        let e = parse(bytes).unwrap_err();
        assert_eq!(e.status(), Status::InvalidFile, "{text}: {e}");
        assert!(e.message().contains(text), "expected {text:?} in: {e}");
    }
    // Unknown versions.
    for v in [[0u8, 0], [1, 1], [4, 0], [255, 255]] {
        let mut b = good.to_vec();
        b[6..8].copy_from_slice(&v);
        let e = parse(&b).unwrap_err();
        assert_eq!(e.status(), Status::UnsupportedVersion, "{v:?}");
        assert!(e.message().contains(&format!("{}.{}", v[0], v[1])), "{e}");
    }
    // Version 3.0 must be UTF-8; 1.0 is Latin-1, where every byte is a character.
    let mut b = NUMPY_HEADERS.iter().find(|c| c.0.contains('€')).unwrap().4.to_vec();
    let at = b.iter().position(|&c| c == 0xe2).unwrap();
    b[at + 1] = b'x';
    assert!(parse(&b).unwrap_err().message().contains("not UTF-8"));
    // Over the limit: refused from the length field, before the header is read.
    let mut big = b"\x93NUMPY\x02\x00".to_vec();
    big.extend_from_slice(&(10_001u32).to_le_bytes());
    let e = parse(&big).unwrap_err();
    assert!(e.message().contains("over the limit"), "{e}");
    big[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(parse(&big).unwrap_err().message().contains("over the limit"));
}

#[test]
fn every_truncation_and_every_corrupted_byte_is_handled() {
    // Under Miri: one header (a struct), every 13th byte, one replacement.
    let headers: Vec<&[u8]> = if cfg!(miri) { vec![NUMPY_HEADERS[4].4] } else { NUMPY_HEADERS.iter().map(|c| c.4).collect() };
    let values: &[u8] = if cfg!(miri) { b"(" } else { &[0, b'\'', b'(', b',', b'9', b'-', 0xff, b'{', b']'] };
    let step = if cfg!(miri) { 13 } else { 1 };
    for good in headers {
        for n in (0..good.len()).step_by(step) {
            let e = parse(&good[..n]).unwrap_err();
            assert!(matches!(e.status(), Status::InvalidFile), "{n}: {e}");
        }
        // Any single byte changed: parsed or refused with a status, never a panic; a
        // parsed header round-trips through the writer.
        for k in (0..good.len()).step_by(step) {
            for &v in values {
                let mut b = good.to_vec();
                b[k] = v;
                if let Ok(h) = parse(&b) {
                    let again = parse_with_limit(&write(h.format.as_bytes(), h.itemsize, &h.shape, h.fortran_order).unwrap(), 1 << 20).unwrap();
                    assert_eq!((again.itemsize, &again.shape, again.fortran_order), (h.itemsize, &h.shape, h.fortran_order));
                } else {
                    let s = parse(&b).unwrap_err().status();
                    assert!(matches!(s, Status::InvalidFile | Status::UnsupportedVersion), "{k} {v}: {s:?}");
                }
            }
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "thousands of fields: too slow under Miri; the scaling is measured natively")]
fn parsing_is_linear() {
    // Many fields, deep nesting, long strings, long digit runs, much whitespace.
    let fields = |n: usize| {
        let f: Vec<String> = (0..n).map(|k| format!("('f{k}', '<i4')")).collect();
        with_limit_dict(&format!("{{'descr': [{}], 'fortran_order': False, 'shape': (1,)}}", f.join(", ")))
    };
    crate::work::assert_scales(".npy header, fields", 100, |n| crate::work::count(|| parse_with_limit(&fields(n), usize::MAX).unwrap()).1);
    let digits = |n: usize| with_limit_dict(&format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({}1,)}}", "0".repeat(0) + &" ".repeat(n)));
    crate::work::assert_scales(".npy header, spaces", 1000, |n| crate::work::count(|| parse_with_limit(&digits(n), usize::MAX).unwrap()).1);
    let long_int = |n: usize| with_limit_dict(&format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({},)}}", "9".repeat(n)));
    crate::work::assert_scales(".npy header, digits", 1000, |n| crate::work::count(|| parse_with_limit(&long_int(n), usize::MAX).unwrap_err()).1);
}

/// A version 2.0 header with `dict` as its text (for sizes past 64 KiB).
fn with_limit_dict(dict: &str) -> Vec<u8> {
    let mut out = b"\x93NUMPY\x02\x00".to_vec();
    out.extend_from_slice(&((dict.len() + 1) as u32).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.push(b'\n');
    out
}

/// A pipe's two ends.
fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fds into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    use std::os::fd::FromRawFd;
    // SAFETY: the fds are new and ours.
    unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) }
}

fn geom<'a>(len: isize, itemsize: isize, shape: &'a [isize], strides: Option<&'a [isize]>) -> crate::layout::Geometry<'a> {
    crate::layout::Geometry { len, itemsize, shape, strides, suboffsets: None }
}

#[test]
#[cfg_attr(miri, ignore = "files and mmap: foreign calls Miri does not run")]
fn a_transposed_view_through_a_file() {
    // m is 3 x 4 doubles; its transpose is F-contiguous: saved with fortran_order True,
    // the data as it lies.
    let m: Vec<f64> = (0..12).map(f64::from).collect();
    let t = Side { ptr: m.as_ptr() as *mut u8, geom: geom(96, 8, &[4, 3], Some(&[8, 32])) };
    let dir = std::env::temp_dir().join(format!("pybuf-npy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.npy");
    // reach-exempt: a test of files, which Miri's isolation forbids (ignored there).
    // SAFETY: the view's elements are in `m`.
    unsafe { save(&path, t, b"d") }.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let h = parse(&bytes).unwrap();
    assert!(h.fortran_order);
    assert_eq!(h.shape, [4, 3]);
    let data: Vec<f64> = bytes[h.data_offset..].chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(data, m);

    // Loaded by mapping: F strides, the same values.
    let e = load_path(&path, LoadMode::ReadOnly).unwrap();
    let mut v = crate::abi::pybuf_buffer::zeroed();
    e.export(&mut v, crate::abi::PYBUF_FULL_RO).unwrap();
    // reach-exempt: a test of files and mmap, which Miri cannot run (ignored there).
    // SAFETY: a filled view's arrays have ndim entries.
    let (shape, strides) = unsafe { (std::slice::from_raw_parts(v.shape, 2), std::slice::from_raw_parts(v.strides, 2)) };
    assert_eq!((shape, strides, v.readonly), (&[4isize, 3][..], &[8isize, 32][..], 1));
    // reach-exempt: a test of files and mmap, which Miri cannot run (ignored there).
    // SAFETY: the view's memory is the 96 mapped bytes.
    let mapped = unsafe { std::slice::from_raw_parts(v.buf as *const f64, 12) };
    assert_eq!(mapped, m.as_slice());
    // reach-exempt: a test of files and mmap, which Miri cannot run (ignored there).
    // SAFETY: a view filled by pybuf, released once.
    unsafe { crate::ffi::buffer::pybuf_release(&mut v) };
    drop(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn views_through_a_pipe() {
    // A strided view (every other column of a 3 x 4 matrix of doubles) is written in C
    // order, and the F-contiguous transpose in F order, to a pipe (under Miri too, which
    // runs pipes, readv and writev): loaded into owned memory, and read into a strided
    // destination.
    let m: Vec<f64> = (0..12).map(f64::from).collect();
    let t = Side { ptr: m.as_ptr() as *mut u8, geom: geom(96, 8, &[4, 3], Some(&[8, 32])) };
    let cols = Side { ptr: m.as_ptr() as *mut u8, geom: geom(48, 8, &[3, 2], Some(&[32, 16])) };
    let (r, w) = pipe();
    // SAFETY: the view's elements are in `m`.
    unsafe { write_fd(w.as_raw_fd(), cols, b"<d") }.unwrap();
    // SAFETY: as above: a second array in the same stream.
    unsafe { write_fd(w.as_raw_fd(), t, b"d") }.unwrap();
    drop(w);
    let e = load_fd(r.as_raw_fd(), LoadMode::Private).unwrap();
    let mut v = crate::abi::pybuf_buffer::zeroed();
    e.export(&mut v, crate::abi::PYBUF_FULL).unwrap();
    assert_eq!(v.buf as usize % 64, 0, "a loaded array's memory is 64-byte aligned");
    // SAFETY: 48 owned bytes.
    let got = unsafe { std::slice::from_raw_parts(v.buf as *const f64, 6) };
    assert_eq!(got, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    assert_eq!(v.readonly, 0);
    // SAFETY: a view filled by pybuf, released once.
    unsafe { crate::ffi::buffer::pybuf_release(&mut v) };
    // The second array, read into a strided destination (every other element of 24).
    let mut dst = vec![-1.0f64; 24];
    let into = Side { ptr: dst.as_mut_ptr().cast(), geom: geom(96, 8, &[4, 3], Some(&[16, 64])) };
    // SAFETY: the view's elements are in `dst`.
    unsafe { read_fd(r.as_raw_fd(), into, b"d") }.unwrap();
    for i in 0..4 {
        for j in 0..3 {
            assert_eq!(dst[2 * i + 8 * j], m[i + 4 * j]);
        }
    }
    assert!(dst.iter().skip(1).step_by(2).all(|&x| x == -1.0));
    // The stream is at its end: a third load is a short file.
    assert_eq!(load_fd(r.as_raw_fd(), LoadMode::ReadOnly).unwrap_err().status(), Status::InvalidFile);
    // Writable loads need a file.
    let (r, w) = pipe();
    // SAFETY: as above.
    unsafe { write_fd(w.as_raw_fd(), t, b"d") }.unwrap();
    assert_eq!(load_fd(r.as_raw_fd(), LoadMode::Writable).unwrap_err().status(), Status::InvalidArgument);
}
