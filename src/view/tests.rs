//! Tests of the view core: derivations on layouts, slice arithmetic, the value codec,
//! equality, iteration and the reach of a view.

use super::equal::{equal, Outcome, Side};
use super::item;
use super::validate::reach;
use super::value::{decode, encode, Real, Value};
use super::walk::Walk;
use super::*;
use crate::error::Status;
use crate::format::{ByteOrder, Code, Format};

fn layout(buf: *mut u8, itemsize: isize, shape: &[isize], strides: &[isize]) -> Layout {
    Layout { buf, itemsize, shape: shape.to_vec(), strides: strides.to_vec(), suboffsets: None, readonly: false }
}

/// The byte offset of every element from `base`, in C order (no suboffsets).
fn offsets_from(l: &Layout, base: *mut u8) -> Vec<isize> {
    let mut w = Walk::new(l.clone(), Order::C);
    let mut out = Vec::new();
    // SAFETY: no suboffsets: nothing is read.
    while let Some(p) = unsafe { w.next() } {
        out.push(p as isize - base as isize);
    }
    out
}

fn offsets(l: &Layout) -> Vec<isize> {
    offsets_from(l, l.buf)
}

#[test]
fn slice_indices_follow_python() {
    // (n, start, stop, step) -> Python's range(*slice(start, stop, step).indices(n)) as
    // (first, step, len); worked out by hand from the language reference.
    type Case = (isize, Bound, Bound, Bound, (isize, isize, isize));
    let none = None;
    let cases: &[Case] = &[
        (5, none, none, none, (0, 1, 5)),
        (5, none, none, Some(-1), (4, -1, 5)),
        (5, Some(1), Some(4), Some(2), (1, 2, 2)),
        (5, Some(-2), none, none, (3, 1, 2)),
        (5, Some(-10), Some(10), none, (0, 1, 5)),
        (5, Some(10), none, Some(-2), (4, -2, 3)),
        (5, Some(3), Some(1), none, (3, 1, 0)),
        (5, none, Some(-10), Some(-1), (4, -1, 5)),
        (5, Some(-10), none, Some(-1), (-1, -1, 0)),
        (0, none, none, Some(-1), (-1, -1, 0)),
        (0, none, none, none, (0, 1, 0)),
        (5, none, none, Some(isize::MIN + 1), (4, -isize::MAX, 1)),
        (5, none, none, Some(isize::MAX), (0, isize::MAX, 1)),
        (5, Some(isize::MIN), Some(isize::MAX), Some(1), (0, 1, 5)),
    ];
    for &(n, a, b, c, want) in cases {
        assert_eq!(slice_indices(n, a, b, c).unwrap(), want, "{n} {a:?} {b:?} {c:?}");
    }
    let e = slice_indices(5, None, None, Some(0)).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert_eq!(e.message(), "step = 0: a slice step cannot be zero");
}

#[test]
fn slicing_moves_buf_and_strides() {
    let mut mem = [0u8; 96];
    let base = mem.as_mut_ptr();
    let mut l = layout(base, 8, &[3, 4], &[32, 8]);
    l.slice(1, None, None, Some(-2)).unwrap();
    assert_eq!((l.shape.clone(), l.strides.clone()), (vec![3, 2], vec![32, -16]));
    assert_eq!(l.buf as usize - base as usize, 24);
    assert_eq!(offsets_from(&l, base), [24, 8, 56, 40, 88, 72]);
    // An empty slice still moves buf by stride * start, as CPython does.
    let mut e = layout(base, 8, &[3], &[8]);
    e.slice(0, Some(5), None, None).unwrap();
    assert_eq!((e.shape[0], e.buf as usize - base as usize), (0, 24));
    assert_eq!(l.clone().slice(2, None, None, None).unwrap_err().status(), Status::InvalidArgument);
    // A huge step on a length-1 result keeps a usable stride.
    let mut h = layout(base, 8, &[3], &[8]);
    h.slice(0, None, None, Some(isize::MAX)).unwrap();
    assert_eq!((h.shape[0], h.strides[0]), (1, 8));
}

#[test]
fn slicing_pil_views_moves_the_suboffset_of_the_group() {
    // _testbuffer's ND_PIL 2x3x4 int32: suboffsets (0, -1, -1), strides (8, 16, 4); slicing
    // [:, 1:3, ::-2] gives suboffsets (28, -1, -1) and buf unchanged.
    let mut mem = [0u8; 16];
    let base = mem.as_mut_ptr();
    let mut l = layout(base, 4, &[2, 3, 4], &[8, 16, 4]);
    l.suboffsets = Some(vec![0, -1, -1]);
    l.slice(1, Some(1), Some(3), None).unwrap();
    l.slice(2, None, None, Some(-2)).unwrap();
    assert_eq!(l.suboffsets, Some(vec![28, -1, -1]));
    assert_eq!((l.shape.clone(), l.strides.clone(), l.buf), (vec![2, 2, 2], vec![8, 16, -8], base));
    // Dimension 0 moves buf.
    l.slice(0, Some(1), None, None).unwrap();
    assert_eq!(l.buf as usize - base as usize, 8);
}

#[test]
fn indexing_drops_the_dimension_and_follows_pointers() {
    // Two rows behind pointers, suboffset 4: element (i, j) is rows[i] + 4 + 2 * j.
    let mut rows = [[0u8; 16]; 2];
    let ptrs: [*mut u8; 2] = [rows[1].as_mut_ptr(), rows[0].as_mut_ptr()];
    let ps = std::mem::size_of::<*mut u8>() as isize;
    let mut l = layout(ptrs.as_ptr() as *mut u8, 2, &[2, 3], &[ps, 2]);
    l.suboffsets = Some(vec![4, -1]);
    let mut row = l.clone();
    // SAFETY: the pointer table holds the row pointers.
    unsafe { row.index(0, -1).unwrap() };
    assert_eq!(row.buf, rows[0].as_mut_ptr().wrapping_add(4));
    assert_eq!((row.shape.clone(), row.suboffsets.clone()), (vec![3], Some(vec![-1])));
    // Indexing dimension 1 keeps the pointer read, and adds the offset to suboffsets[0].
    let mut col = l.clone();
    // SAFETY: no pointer is read for dimension 1.
    unsafe { col.index(1, 2).unwrap() };
    assert_eq!((col.shape.clone(), col.suboffsets.clone()), (vec![2], Some(vec![8])));
    // A suboffset on dimension 1 moves to dimension 0 when that one has none.
    let mut m = layout(ptrs.as_ptr() as *mut u8, 2, &[2, 3], &[2 * ps, ps]);
    m.suboffsets = Some(vec![-1, 4]);
    // SAFETY: no pointer is read.
    unsafe { m.index(1, 1).unwrap() };
    assert_eq!((m.suboffsets.clone(), m.buf as usize - ptrs.as_ptr() as usize), (Some(vec![4]), ps as usize));
    // Two pointer reads in a row cannot be merged.
    let mut two = l.clone();
    two.suboffsets = Some(vec![0, 0]);
    // SAFETY: refused before reading.
    let e = unsafe { two.index(1, 0) }.unwrap_err();
    assert_eq!(e.status(), Status::BufferRequest);
    // SAFETY: refused before reading.
    let e = unsafe { l.clone().index(0, 2) }.unwrap_err();
    assert_eq!((e.status(), e.message()), (Status::IndexOutOfRange, "index = 2 is out of range for shape[0] = 2"));
}

#[test]
fn permutations_stay_within_pointer_groups() {
    let mut mem = [0u8; 8];
    let base = mem.as_mut_ptr();
    let mut l = layout(base, 1, &[2, 3, 4, 5], &[8, 40, 10, 2]);
    l.permute(&[2, 0, 3, 1]).unwrap();
    assert_eq!((l.shape.clone(), l.strides.clone()), (vec![4, 2, 5, 3], vec![10, 8, 2, 40]));
    assert_eq!(l.permute(&[0, 0, 1, 2]).unwrap_err().message(), "axes[1] = 0 repeats axes[0]");
    assert_eq!(l.permute(&[0, 1, 2, 4]).unwrap_err().status(), Status::InvalidArgument);
    // Groups (0, 1) | (2) | (3): 1 <-> 0 may swap, the suboffset goes to the group's end.
    let mut p = layout(base, 1, &[2, 3, 4, 5], &[8, 40, 10, 2]);
    p.suboffsets = Some(vec![-1, 7, 9, -1]);
    let mut q = p.clone();
    q.permute(&[1, 0, 2, 3]).unwrap();
    assert_eq!(q.suboffsets, Some(vec![-1, 7, 9, -1]));
    assert_eq!(q.shape, vec![3, 2, 4, 5]);
    let e = p.clone().transpose().unwrap_err();
    assert_eq!(e.status(), Status::BufferRequest);
    assert!(e.message().contains("suboffsets[2] = 9"), "{}", e.message());
}

#[test]
fn broadcasting_gives_zero_strides_and_readonly() {
    let mut mem = [0u8; 24];
    let base = mem.as_mut_ptr();
    let mut l = layout(base, 8, &[1, 3], &[24, 8]);
    l.broadcast(0, 4).unwrap();
    assert_eq!((l.shape.clone(), l.strides.clone(), l.readonly), (vec![4, 3], vec![0, 8], true));
    assert_eq!(l.broadcast(1, 5).unwrap_err().status(), Status::ShapeMismatch);
    let mut t = layout(base, 8, &[3, 1], &[8, 8]);
    t.broadcast_to(&[2, 3, 6]).unwrap();
    assert_eq!((t.shape.clone(), t.strides.clone()), (vec![2, 3, 6], vec![0, 8, 0]));
    let e = layout(base, 8, &[3], &[8]).broadcast_to(&[4]).unwrap_err();
    assert_eq!(e.message(), "source shape[0] = 3 cannot be broadcast to shape[0] = 4: it must be equal or 1");
    assert_eq!(layout(base, 8, &[3, 1], &[8, 8]).broadcast_to(&[3]).unwrap_err().status(), Status::ShapeMismatch);
}

#[test]
fn casts_follow_memoryview_and_go_beyond() {
    let mut mem = [0u8; 24];
    let base = mem.as_mut_ptr();
    let l = layout(base, 1, &[24], &[1]);
    let d = l.cast(8, None).unwrap();
    assert_eq!((d.shape.clone(), d.strides.clone()), (vec![3], vec![8]));
    let nd = l.cast(2, Some(&[2, 3, 2])).unwrap();
    assert_eq!(nd.strides, vec![12, 4, 2]);
    // N-D to N-D.
    let again = nd.cast(4, Some(&[3, 2])).unwrap();
    assert_eq!((again.shape.clone(), again.strides.clone()), (vec![3, 2], vec![8, 4]));
    let e = l.cast(8, Some(&[4])).unwrap_err();
    assert_eq!(e.status(), Status::LengthMismatch);
    assert_eq!(e.message(), "product(shape) * itemsize = 4 * 8 = 32 but the source's len = 24");
    assert_eq!(l.cast(7, None).unwrap_err().message(), "len = 24 is not a multiple of the new itemsize 7");
    let mut strided = layout(base, 1, &[24], &[1]);
    strided.slice(0, None, None, Some(2)).unwrap();
    assert_eq!(strided.cast(1, None).unwrap_err().status(), Status::BufferRequest);
    // Empty views cast (memoryview refuses).
    let empty = layout(base, 4, &[0, 3], &[12, 4]);
    assert_eq!(empty.cast(2, Some(&[5, 0])).unwrap().shape, vec![5, 0]);
}

#[test]
fn subviews_are_bounds_checked() {
    let mut mem = [0u8; 96];
    let base = mem.as_mut_ptr();
    let mut l = layout(base, 8, &[3, 4], &[32, 8]);
    l.subview(&[1, 2], &[2, 2]).unwrap();
    assert_eq!(offsets_from(&l, base), [48, 56, 80, 88]);
    let e = layout(base, 8, &[3, 4], &[32, 8]).subview(&[1, 3], &[2, 2]).unwrap_err();
    assert_eq!(e.status(), Status::IndexOutOfRange);
    assert_eq!(e.message(), "start[1] = 3 with shape[1] = 2 is out of range for the source's shape[1] = 4");
    assert!(layout(base, 8, &[3, 4], &[32, 8]).subview(&[3, 4], &[0, 0]).is_ok());
}

/// With suboffsets, a subview moves the base of each dimension's group as slicing each
/// dimension in turn does (the subview finds the bases in one pass; see the scaling test
/// in `work.rs`). Layout arithmetic only: no pointer is read.
#[test]
fn subviews_with_suboffsets_move_each_groups_base_as_slices_do() {
    let mut mem = [0u8; 8];
    let base = mem.as_mut_ptr();
    for subs in [vec![-1, -1, -1, -1, -1], vec![-1, 16, -1, 40, -1], vec![8, -1, 24, -1, 0], vec![0, 0, 0, 0, 0]] {
        let mut l = layout(base, 2, &[3, 4, 2, 5, 3], &[100, 30, 14, 6, 2]);
        l.suboffsets = Some(subs.clone());
        let (start, shape) = ([1, 2, 1, 3, 0], [2, 1, 1, 2, 3]);
        let mut sliced = l.clone();
        for d in 0..5 {
            sliced.slice(d as isize, Some(start[d]), Some(start[d] + shape[d]), None).unwrap();
        }
        l.subview(&start, &shape).unwrap();
        assert_eq!(l, sliced, "suboffsets {subs:?}");
    }
}

#[test]
fn walks_in_c_and_f_order() {
    let mut mem = [0u8; 48];
    let l = layout(mem.as_mut_ptr(), 8, &[2, 3], &[24, 8]);
    let mut w = Walk::new(l.clone(), Order::F);
    let mut idx = Vec::new();
    // SAFETY: no suboffsets.
    while unsafe { w.next() }.is_some() {
        idx.push(w.index().to_vec());
    }
    assert_eq!(idx, [[0, 0], [1, 0], [0, 1], [1, 1], [0, 2], [1, 2]]);
    assert_eq!(offsets(&l), [0, 8, 16, 24, 32, 40]);
    // 'A' walks an F-contiguous view in F order.
    let f = layout(mem.as_mut_ptr(), 8, &[2, 3], &[8, 16]);
    assert!(Walk::new(f, Order::Any).is_fortran());
    // 0-d: one element; empty: none.
    assert_eq!(offsets(&layout(mem.as_mut_ptr(), 8, &[], &[])), [0]);
    assert!(offsets(&layout(mem.as_mut_ptr(), 8, &[3, 0], &[0, 8])).is_empty());
}

#[test]
fn reals_compare_exactly() {
    let one = Real::from_i64(1);
    assert!(one.same(&Real::from_f64(1.0)));
    assert!(one.same(&Real::from_u64(1)));
    assert!(Real::from_f64(0.0).same(&Real::from_f64(-0.0)));
    assert!(!Real::from_f64(f64::NAN).same(&Real::from_f64(f64::NAN)));
    // 2^53 + 1 is no double: it differs from every double, as in Python.
    let big = (1i64 << 53) + 1;
    assert!(!Real::from_i64(big).same(&Real::from_f64(big as f64)));
    assert!(Real::from_i64(i64::MIN).same(&Real::from_f64(-((1u64 << 63) as f64))));
    // Half precision: 1.5 is 0x3e00; the smallest subnormal is 2^-24.
    assert!(Real::from_f16(0x3e00).same(&Real::from_f64(1.5)));
    assert!(Real::from_f16(0x0001).same(&Real::from_f64(f64::from_bits(0x3E70_0000_0000_0000)) /* 2^-24, exact */));
    // x87: 1.0 is significand 1 << 63, exponent 16383.
    assert!(Real::from_x87(1 << 63, 16383).same(&one));
    assert_eq!(Real::from_x87((1 << 63) | 1, 16383).to_f64(), 1.0, "rounded to the nearest double");
    assert!(!Real::from_x87((1 << 63) | 1, 16383).same(&one), "but compared exactly");
    // binary128: 1.0 has exponent 16383.
    assert!(Real::from_binary128(16383u128 << 112).same(&one));
}

fn roundtrip(code: Code, size: usize, v: Value<'_>, order: ByteOrder) -> Vec<u8> {
    let mut out = vec![0u8; size];
    encode(code, &v, &mut out, order).unwrap();
    assert!(decode(code, &out, order).equals(&v), "{code:?} {v:?}");
    out
}

#[test]
fn values_encode_and_decode_as_struct_does() {
    use ByteOrder::*;
    assert_eq!(roundtrip(Code::Int, 4, Value::Int(-2), Big), [0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(roundtrip(Code::UShort, 2, Value::UInt(0x1234), Little), [0x34, 0x12]);
    assert_eq!(roundtrip(Code::Double, 8, Value::Float(1.5), Big), [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    assert_eq!(roundtrip(Code::Half, 2, Value::Float(-2.0), Little), [0x00, 0xc0]);
    roundtrip(Code::ComplexDouble, 16, Value::Complex(1.0, -0.5), Little);
    roundtrip(Code::Float, 4, Value::Int(7), Big);
    roundtrip(Code::LongDouble, 16, Value::Int(i64::MAX), Little);
    roundtrip(Code::LongDouble, 16, Value::Float(-3.25e-300), Big);
    roundtrip(Code::ComplexLongDouble, 32, Value::Complex(2.0, 0.125), Little);
    assert_eq!(roundtrip(Code::Bytes, 4, Value::Bytes(b"ab\0\0"), Little), b"ab\0\0");
    // struct semantics for strings.
    let mut s = [9u8; 4];
    encode(Code::Bytes, &Value::Bytes(b"abcdef"), &mut s, Little).unwrap();
    assert_eq!(&s, b"abcd");
    encode(Code::PascalBytes, &Value::Bytes(b"xy"), &mut s, Little).unwrap();
    assert_eq!(&s, b"\x02xy\0");
    assert!(matches!(decode(Code::PascalBytes, b"\x09xyz", Little), Value::Bytes(b"xyz")));
    let mut b = [0u8; 1];
    encode(Code::Bool, &Value::Float(f64::NAN), &mut b, Little).unwrap();
    assert_eq!(b, [1]);
    assert!(matches!(decode(Code::Bool, &[2], Little), Value::Bool(true)));
    // Refusals: type, range, and untouched output.
    let mut out = [7u8; 1];
    let e = encode(Code::SChar, &Value::Int(300), &mut out, Little).unwrap_err();
    assert_eq!((e.status(), out), (Status::ValueOutOfRange, [7]));
    assert_eq!(e.message(), "int 300 is out of range for a 'b' value of this size (-128..=127)");
    let e = encode(Code::SChar, &Value::Float(1.0), &mut out, Little).unwrap_err();
    assert_eq!(e.status(), Status::TypeMismatch);
    let mut f = [0u8; 4];
    assert_eq!(encode(Code::Float, &Value::Float(1e300), &mut f, Little).unwrap_err().status(), Status::ValueOutOfRange);
    encode(Code::Float, &Value::Float(f64::INFINITY), &mut f, Little).unwrap();
    let mut h = [0u8; 2];
    assert_eq!(encode(Code::Half, &Value::Float(65520.0), &mut h, Little).unwrap_err().status(), Status::ValueOutOfRange);
    encode(Code::Half, &Value::Float(65519.0), &mut h, Little).unwrap();
    assert_eq!(h, [0xff, 0x7b], "65519 rounds down to 65504, the largest half");
    assert_eq!(encode(Code::Char, &Value::Bytes(b"ab"), &mut out, Little).unwrap_err().status(), Status::TypeMismatch);
    assert_eq!(encode(Code::Object, &Value::UInt(0), &mut [0u8; 8], Little).unwrap_err().status(), Status::TypeMismatch);
    assert_eq!(encode(Code::UInt, &Value::Int(-1), &mut f, Little).unwrap_err().status(), Status::ValueOutOfRange);
}

#[test]
fn item_values_are_numbered_as_struct_unpack() {
    let f = Format::parse(b"T{b:a:xxx>i:b:d:c:}").unwrap();
    assert_eq!(item::count(&f), 3);
    let s = item::slot(&f, f.itemsize(), 2).unwrap();
    assert_eq!((s.offset, s.size, s.code, s.order), (8, 8, Code::Double, ByteOrder::Big));
    let e = item::slot(&f, f.itemsize(), 3).unwrap_err();
    assert_eq!(e.status(), Status::IndexOutOfRange);
    let g = Format::parse(b"2T{(2)h3s}c").unwrap();
    assert_eq!(item::count(&g), 7);
    let offsets: Vec<isize> = (0..7).map(|k| item::slot(&g, g.itemsize(), k).unwrap().offset).collect();
    // Each T{} is padded to its alignment 2 (8 bytes), as in NumPy.
    assert_eq!(offsets, [0, 2, 4, 8, 10, 12, 16]);
    // A format whose values reach beyond the view's itemsize is refused.
    assert_eq!(item::slot(&f, 12, 2).unwrap_err().status(), Status::InvalidItemsize);
    assert_eq!(item::check_fits(&f, 12).unwrap_err().status(), Status::InvalidItemsize);
    assert!(item::check_fits(&f, 16).is_ok());
}

/// Looking a value up through the structure finds the slot walking the values finds,
/// for every value of formats with padding, nested and repeated structs, empty structs,
/// zero counts, empty strings and pointers.
#[test]
fn item_lookup_agrees_with_walking_the_values() {
    for text in [
        "b",
        "3x",
        "T{b:a:xxx>i:b:d:c:}",
        "2T{(2)h3s}c",
        "x2T{}3T{x}0i(2,0)d0sc",
        "3T{2T{bx}0T{i}T{}?}&iX{i}P",
        "<(2,3)T{5sxh}:s:=Zd4c",
        "T{T{T{b}}}2T{i0sT{2T{h}}}",
    ] {
        let f = Format::parse(text.as_bytes()).unwrap();
        let walked = item::slots(&f, 1 << 20).unwrap();
        assert_eq!(walked.len() as isize, item::count(&f), "{text}");
        for (k, want) in walked.iter().enumerate() {
            assert_eq!(item::slot(&f, f.itemsize(), k as isize).unwrap(), *want, "{text}: value {k}");
        }
        let past = item::slot(&f, f.itemsize(), walked.len() as isize).unwrap_err();
        assert_eq!(past.status(), Status::IndexOutOfRange, "{text}");
        assert_eq!(item::slot(&f, f.itemsize(), -1).unwrap_err().status(), Status::IndexOutOfRange, "{text}");
    }
}

/// Value k of a format with huge repeat counts is found with the same work for every k,
/// and refusing k = the number of values is as cheap. (Issue 12, defect 7: the lookup
/// walked every run before the value, so refusing field 200000000 of "100000000T{id}"
/// took 1.2 s.)
#[test]
fn item_lookup_work_does_not_grow_with_the_index() {
    let f = Format::parse(b"100000000T{id}").unwrap();
    assert_eq!(item::count(&f), 200_000_000);
    let (s, first) = crate::work::count(|| item::slot(&f, f.itemsize(), 1).unwrap());
    assert_eq!((s.offset, s.code), (8, Code::Double));
    let (s, last) = crate::work::count(|| item::slot(&f, f.itemsize(), 199_999_999).unwrap());
    assert_eq!((s.offset, s.size, s.code), (99_999_999 * 16 + 8, 8, Code::Double));
    let (e, past) = crate::work::count(|| item::slot(&f, f.itemsize(), 200_000_000).unwrap_err());
    assert_eq!(e.status(), Status::IndexOutOfRange);
    assert!(e.message().contains("field = 200000000") && e.message().contains("has 200000000 values"), "{e}");
    assert!(first > 0 && last <= first + 4 && past <= 4 * first + 8, "steps: {first}, {last}, {past}");
    // Nested repetitions: a billion values, the last one as cheap as the first.
    let g = Format::parse(b"1000T{1000T{x1000T{xb}}}").unwrap();
    assert_eq!(item::count(&g), 1_000_000_000);
    let (s, first) = crate::work::count(|| item::slot(&g, g.itemsize(), 0).unwrap());
    assert_eq!(s.offset, 2);
    let (s, last) = crate::work::count(|| item::slot(&g, g.itemsize(), 999_999_999).unwrap());
    assert_eq!(s.offset, g.itemsize() - 1);
    assert!(last <= 2 * first, "steps: {first}, {last}");
    // The work is linear in the number of fields (the format's length), whatever k is.
    crate::work::assert_scales("value lookup", if cfg!(miri) { 8 } else { 100 }, |n| {
        let text = format!("{}1000000T{{id}}", "b".repeat(n));
        let f = Format::parse(text.as_bytes()).unwrap();
        let k = item::count(&f) - 1;
        crate::work::count(|| item::slot(&f, f.itemsize(), k).unwrap()).1
    });
}

#[test]
fn equality_is_memoryviews() {
    let mut a: [i32; 3] = [1, 2, 3];
    let mut b: [u8; 3] = [3, 2, 1];
    let la = layout(a.as_mut_ptr().cast(), 4, &[3], &[4]);
    let mut lb = layout(b.as_mut_ptr(), 1, &[3], &[1]);
    let (fi, fb) = (Format::parse(b"i").unwrap(), Format::parse(b"B").unwrap());
    // SAFETY: both layouts cover their arrays.
    let cmp = |x: &Layout, fx: &Format, y: &Layout, fy: &Format| unsafe {
        equal(&Side { layout: x.clone(), format: fx }, &Side { layout: y.clone(), format: fy })
    };
    assert!(matches!(cmp(&la, &fi, &lb, &fb), Outcome::Value(_)));
    lb.slice(0, None, None, Some(-1)).unwrap();
    assert_eq!(cmp(&la, &fi, &lb, &fb), Outcome::Equal);
    let short = layout(b.as_mut_ptr(), 1, &[2], &[1]);
    assert_eq!(cmp(&la, &fi, &short, &fb), Outcome::Shape("shape[0] = 3 differs from shape[0] = 2".into()));
    // NaN is not equal to itself.
    let mut n = [f64::NAN];
    let ln = layout(n.as_mut_ptr().cast(), 8, &[1], &[8]);
    let fd = Format::parse(b"d").unwrap();
    assert!(matches!(cmp(&ln, &fd, &ln, &fd), Outcome::Value(_)));
    // Empty shapes are equal up to the first zero.
    let e1 = layout(b.as_mut_ptr(), 1, &[0, 3], &[3, 1]);
    let e2 = layout(b.as_mut_ptr(), 1, &[0, 4], &[4, 1]);
    assert_eq!(cmp(&e1, &fb, &e2, &fi), Outcome::Equal);
}

#[test]
fn reach_covers_elements_and_pointers() {
    let mut mem = [0u8; 96];
    let base = mem.as_mut_ptr();
    let mut l = layout(base, 8, &[3, 4], &[32, 8]);
    l.slice(0, None, None, Some(-1)).unwrap();
    // SAFETY: no suboffsets.
    assert_eq!(unsafe { reach(&l, None) }.unwrap(), (-64, 32));
    // SAFETY: the bounds are the array.
    assert!(unsafe { reach(&l, Some((base as usize, 96))) }.is_ok());
    // SAFETY: as above.
    let e = unsafe { reach(&l, Some((base as usize, 95))) }.unwrap_err();
    assert_eq!(e.status(), Status::LengthMismatch);
    assert_eq!(e.message(), "an element reaches bytes [0, 96) relative to base, outside the 95-byte memory");
    // PIL-style: a pointer table, then rows elsewhere in the same block.
    let ps = std::mem::size_of::<*mut u8>();
    let mut block = vec![0u8; 2 * ps + 32];
    let start = block.as_mut_ptr();
    for r in 0..2 {
        let row = start.wrapping_add(2 * ps + 16 * r) as usize;
        block[r * ps..(r + 1) * ps].copy_from_slice(&row.to_ne_bytes());
    }
    let mut p = layout(start, 4, &[2, 4], &[ps as isize, 4]);
    p.suboffsets = Some(vec![0, -1]);
    // SAFETY: the pointers lie in the block.
    assert_eq!(unsafe { reach(&p, Some((start as usize, block.len()))) }.unwrap(), (0, 2 * ps as isize + 32));
    p.suboffsets = Some(vec![4, -1]);
    // SAFETY: as above; the last row now ends 4 bytes past the block.
    let e = unsafe { reach(&p, Some((start as usize, block.len()))) }.unwrap_err();
    assert_eq!(e.status(), Status::LengthMismatch);
    // A pointer outside the block is refused before it is read.
    p.strides[0] = 64;
    // SAFETY: the second pointer slot lies outside the block and is never read.
    let e = unsafe { reach(&p, Some((start as usize, block.len()))) }.unwrap_err();
    assert!(e.message().starts_with("the pointer read for suboffsets[0]"), "{}", e.message());
}
