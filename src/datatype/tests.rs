use super::*;
use crate::copy::tests::Rng;
use crate::error::Status;

fn format(s: &str) -> Format {
    Format::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {}", e.message()))
}

fn geometry<'a>(itemsize: isize, shape: &'a [isize], strides: Option<&'a [isize]>) -> Geometry<'a> {
    let len = if shape.contains(&0) { 0 } else { shape.iter().product::<isize>() * itemsize };
    let g = Geometry { len, itemsize, shape, strides, suboffsets: None };
    g.validate().unwrap_or_else(|e| panic!("{shape:?} {strides:?}: {}", e.message()));
    g
}

/// The datatype of a view of `shape`/`strides` whose items are `fmt`.
fn of(fmt: &str, shape: &[isize], strides: Option<&[isize]>) -> Datatype {
    let f = format(fmt);
    describe(&geometry(f.itemsize(), shape, strides), &f, isize::MAX).unwrap_or_else(|e| panic!("{}", e.message()))
}

fn dims(t: &Datatype) -> Vec<(isize, isize)> {
    t.dims.iter().map(|d| (d.count, d.stride)).collect()
}

const D: Elem = Elem::Basic(Kind::Double);
const BYTES: Elem = Elem::Basic(Kind::Bytes);

#[test]
fn a_contiguous_view_is_one_block() {
    let t = of("d", &[4, 5], None);
    assert_eq!((t.elem, t.elem_size, t.block, dims(&t)), (D, 8, 20, vec![]));
    assert_eq!((t.itemsize, t.nbytes, t.prefix, t.nbases), (8, 160, 0, 0));
}

#[test]
fn a_transpose_is_two_vectors_in_c_order() {
    // A 4x5 C-contiguous matrix transposed: shape (5, 4), strides (8, 40).
    let t = of("d", &[5, 4], Some(&[8, 40]));
    assert_eq!((t.block, dims(&t)), (1, vec![(5, 8), (4, 40)]));
}

#[test]
fn every_other_column_keeps_its_rows() {
    // a[:, ::2] of a 4x7 float64 array.
    let t = of("d", &[4, 4], Some(&[56, 16]));
    assert_eq!((t.block, dims(&t)), (1, vec![(4, 56), (4, 16)]));
    // Of a 4x6 one, the rows continue each other: one vector.
    let t = of("d", &[4, 3], Some(&[48, 16]));
    assert_eq!((t.block, dims(&t)), (1, vec![(12, 16)]));
    // a[::2, :]: rows are blocks.
    let t = of("d", &[2, 6], Some(&[96, 8]));
    assert_eq!((t.block, dims(&t)), (6, vec![(2, 96)]));
}

#[test]
fn length_one_and_mergeable_dimensions_are_merged() {
    let t = of("i", &[2, 1, 3, 4], Some(&[100, 7, 20, 4]));
    assert_eq!((t.block, dims(&t)), (4, vec![(2, 100), (3, 20)]));
    // (3, 16) and (4, 4) merge into 12 adjacent ints once the stride steps over 4 of them.
    let t = of("i", &[2, 3, 4], Some(&[100, 16, 4]));
    assert_eq!((t.block, dims(&t)), (12, vec![(2, 100)]));
    // Negative strides merge too (a[::-1, ::-1] of a contiguous 3x4): no block.
    let t = of("i", &[3, 4], Some(&[-16, -4]));
    assert_eq!((t.block, dims(&t)), (1, vec![(12, -4)]));
    // Never reordered: a transpose stays a transpose even where strides would merge.
    let t = of("B", &[2, 3], Some(&[1, 2]));
    assert_eq!((t.block, dims(&t)), (1, vec![(2, 1), (3, 2)]));
}

#[test]
fn items_of_one_kind_are_counted_in_values() {
    let t = of("3d", &[4], None);
    assert_eq!((t.elem, t.elem_size, t.block, dims(&t)), (D, 8, 12, vec![]));
    let t = of("(2,3)f", &[4], Some(&[48]));
    assert_eq!((t.elem, t.block, dims(&t)), (Elem::Basic(Kind::Float), 6, vec![(4, 48)]));
    let t = of("T{dd}", &[3], Some(&[-16]));
    assert_eq!((t.elem, t.block, dims(&t)), (D, 2, vec![(3, -16)]));
    assert!(t.structs.is_empty());
}

#[test]
fn kinds_follow_sizes_and_byte_order() {
    let unit = |f: &str| {
        let t = of(f, &[], None);
        (t.elem, t.block, t.elem_size)
    };
    let little = cfg!(target_endian = "little");
    assert_eq!(unit("b"), (Elem::Basic(Kind::Int8), 1, 1));
    assert_eq!(unit("B"), (Elem::Basic(Kind::UInt8), 1, 1));
    assert_eq!(unit("?"), (Elem::Basic(Kind::Bool), 1, 1));
    assert_eq!(unit("h"), (Elem::Basic(Kind::Int16), 1, 2));
    assert_eq!(unit("I"), (Elem::Basic(Kind::UInt32), 1, 4));
    assert_eq!(unit("q"), (Elem::Basic(Kind::Int64), 1, 8));
    assert_eq!(unit("<Q"), if little { (Elem::Basic(Kind::UInt64), 1, 8) } else { (BYTES, 8, 1) });
    assert_eq!(unit(">Q"), if little { (BYTES, 8, 1) } else { (Elem::Basic(Kind::UInt64), 1, 8) });
    assert_eq!(unit("2w"), (Elem::Basic(Kind::UInt32), 2, 4));
    assert_eq!(unit("f"), (Elem::Basic(Kind::Float), 1, 4));
    assert_eq!(unit("Zf"), (Elem::Basic(Kind::ComplexFloat), 1, 8));
    assert_eq!(unit("Zd"), (Elem::Basic(Kind::ComplexDouble), 1, 16));
    assert_eq!(unit("e"), (BYTES, 2, 1));
    assert_eq!(unit("5s"), (BYTES, 5, 1));
    assert_eq!(unit("c"), (BYTES, 1, 1));
    assert_eq!(unit("P"), (BYTES, 8, 1));
    assert_eq!(unit("&d"), (BYTES, 8, 1));
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        assert_eq!(unit("l"), (Elem::Basic(Kind::Int64), 1, 8));
        assert_eq!(unit("g"), (Elem::Basic(Kind::LongDouble), 1, 16));
        assert_eq!(unit("Zg"), (Elem::Basic(Kind::ComplexLongDouble), 1, 32));
    }
}

#[test]
fn mixed_items_are_structs_covering_every_byte() {
    // 'b' then 7 bytes of alignment padding then 'd': the padding is bytes.
    let t = of("T{b:a:d:b:}", &[3], None);
    assert_eq!((t.elem, t.elem_size, t.block), (Elem::Struct(0), 16, 3));
    let m = |offset, count, size, elem| Member { offset, count, size, elem };
    assert_eq!(
        t.structs,
        vec![StructType {
            extent: 16,
            members: vec![m(0, 1, 1, Elem::Basic(Kind::Int8)), m(1, 7, 1, BYTES), m(8, 1, 8, D)]
        }]
    );
    // A repeated nested struct is a member with a count; the inner struct comes first.
    let t = of("T{b:a:(2)T{b:x:i:y:}:s:}", &[2], None);
    assert_eq!(t.structs.len(), 2);
    assert_eq!(t.structs[0].extent, 8);
    assert_eq!(t.structs[1].members.last(), Some(&m(4, 2, 8, Elem::Struct(0))));
    // Adjacent values of one kind merge; bytes of 's', 'c', 'x' and alignment merge.
    let t = of("ii3xc2sd", &[], None);
    assert_eq!(
        t.structs[0].members,
        vec![m(0, 2, 4, Elem::Basic(Kind::Int32)), m(8, 8, 1, BYTES), m(16, 1, 8, D)]
    );
}

#[test]
fn formats_and_itemsizes_that_disagree() {
    // A format shorter than the item: trailing bytes.
    let f = format("i");
    let t = describe(&geometry(6, &[2], None), &f, isize::MAX).unwrap();
    assert_eq!(t.structs[0].members.last().map(|m| (m.offset, m.count, m.elem)), Some((4, 2, BYTES)));
    // A format longer than the item is not trusted: the item is bytes.
    let f = format("T{O:a:b:b:}");
    let t = describe(&geometry(9, &[2], None), &f, isize::MAX).unwrap();
    assert_eq!((t.elem, t.block, t.structs.len()), (BYTES, 18, 0));
}

#[test]
fn empty_views_have_no_block() {
    let t = of("d", &[3, 0, 2], None);
    assert_eq!((t.block, t.nbytes, dims(&t)), (0, 0, vec![]));
}

#[test]
fn counts_beyond_the_limit_are_split_or_refused() {
    let f = format("B");
    // 64 contiguous bytes with at most 16 per count: 4 blocks of 16.
    let t = describe(&geometry(1, &[64], None), &f, 16).unwrap();
    assert_eq!((t.block, dims(&t)), (16, vec![(4, 16)]));
    // A 48-long strided dimension: 3 x 16.
    let t = describe(&geometry(1, &[48], Some(&[2])), &f, 16).unwrap();
    assert_eq!((t.block, dims(&t)), (1, vec![(3, 32), (16, 2)]));
    // 17 is prime: no split fits.
    let e = describe(&geometry(1, &[17], Some(&[2])), &f, 16).unwrap_err();
    assert_eq!(e.status(), Status::Unrepresentable);
    assert!(e.message().contains("17 exceeds the largest count, 16"), "{}", e.message());
    let e = describe(&geometry(1, &[17], None), &f, 8).unwrap_err();
    assert_eq!(e.status(), Status::Unrepresentable);
    // Struct members count too.
    let f = format("T{20sd}");
    let e = describe(&geometry(f.itemsize(), &[1], None), &f, 16).unwrap_err();
    assert!(e.message().contains("member at offset 0"), "{}", e.message());
    let e = describe(&geometry(1, &[1], None), &format("B"), 0).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
}

#[test]
fn suboffsets_leave_the_leading_dimensions_to_bases() {
    // A PIL-style 3x4 image of 'B': an array of 3 row pointers, rows anywhere.
    let mut rows: Vec<Vec<u8>> = (0..3u8).map(|r| (0..8).map(|c| r * 10 + c).collect()).collect();
    let mut ptrs: Vec<*mut u8> = rows.iter_mut().map(|r| r.as_mut_ptr()).collect();
    let (shape, strides, subs) = ([3isize, 4], [size_of::<*mut u8>() as isize, 2], [0isize, -1]);
    let g = Geometry { len: 12, itemsize: 1, shape: &shape, strides: Some(&strides), suboffsets: Some(&subs) };
    g.validate().unwrap();
    let t = describe(&g, &format("B"), isize::MAX).unwrap();
    assert_eq!((t.prefix, t.nbases, t.block, dims(&t)), (1, 3, 1, vec![(4, 2)]));
    // SAFETY: the memory holds the row pointers the suboffsets announce.
    let b = unsafe { bases(ptrs.as_mut_ptr().cast(), &g, t.prefix) };
    assert_eq!(b, ptrs);
    let e = describe(&g, &format("B"), 2).unwrap_err();
    assert!(e.message().contains("suboffsets = 3"), "{}", e.message());
}

/// Every byte a datatype reaches, in its order, relative to the view's buf (no suboffsets).
fn expand(t: &Datatype) -> Vec<isize> {
    fn unit(t: &Datatype, elem: Elem, size: isize, at: isize, out: &mut Vec<isize>) {
        match elem {
            Elem::Basic(_) => out.extend(at..at + size),
            Elem::Struct(i) => {
                for m in &t.structs[i].members {
                    for j in 0..m.count {
                        unit(t, m.elem, m.size, at + m.offset + j * m.size, out);
                    }
                }
            }
        }
    }
    fn walk(t: &Datatype, k: usize, at: isize, out: &mut Vec<isize>) {
        if k == t.dims.len() {
            for j in 0..t.block {
                unit(t, t.elem, t.elem_size, at + j * t.elem_size, out);
            }
            return;
        }
        for i in 0..t.dims[k].count {
            walk(t, k + 1, at + i * t.dims[k].stride, out);
        }
    }
    let mut out = Vec::new();
    walk(t, 0, 0, &mut out);
    out
}

/// Every byte of a view's elements in C order, relative to buf.
fn reference(g: &Geometry<'_>) -> Vec<isize> {
    let mut out = Vec::new();
    let n = g.ndim();
    let total: isize = g.shape.iter().product();
    let mut index = vec![0isize; n];
    for _ in 0..total {
        let at: isize = (0..n).map(|k| index[k] * g.stride(k)).sum();
        out.extend(at..at + g.itemsize);
        for k in (0..n).rev() {
            index[k] += 1;
            if index[k] < g.shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

#[test]
#[cfg_attr(miri, ignore = "thousands of random views: too slow under Miri")]
fn random_views_reach_their_bytes_in_c_order() {
    const FORMATS: &[&str] = &[
        "B", "h", "i", "d", "3d", "Zd", "e", "5s", ">i", "T{b:a:d:b:}", "T{b:a:(2)T{b:x:i:y:}:s:}",
        "T{(2,3)f:m:b:t:}", "T{<i:a:>i:b:}", "T{Zf:a:Zd:b:Zg:c:}", "ii3xc2sd", "T{b:a:g:l:}",
    ];
    let mut rng = Rng::new(0x5eed);
    for round in 0..3000 {
        let f = format(FORMATS[rng.below(FORMATS.len())]);
        let itemsize = f.itemsize() + if rng.below(5) == 0 { rng.below(3) as isize } else { 0 };
        let ndim = rng.below(5);
        let shape: Vec<isize> = (0..ndim).map(|_| 1 + rng.below(4) as isize).collect();
        // A random permutation of C-contiguous strides over a padded base array, each
        // stride maybe scaled by a step and negated.
        let mut strides = vec![0isize; ndim];
        let mut order: Vec<usize> = (0..ndim).collect();
        for k in (1..ndim).rev() {
            order.swap(k, rng.below(k + 1));
        }
        let mut sd = itemsize;
        for &k in order.iter().rev() {
            let step = 1 + rng.below(3) as isize;
            strides[k] = sd * step * if rng.below(3) == 0 { -1 } else { 1 };
            sd *= shape[k] * step;
        }
        let g = geometry(itemsize, &shape, Some(&strides));
        let max = if rng.below(4) == 0 { 8 } else { isize::MAX };
        let t = match describe(&g, &f, max) {
            Ok(t) => t,
            Err(e) => {
                assert_eq!(e.status(), Status::Unrepresentable, "round {round}: {}", e.message());
                continue;
            }
        };
        assert_eq!(expand(&t), reference(&g), "round {round}: {shape:?} {strides:?} {t:?}");
        assert_eq!(t.nbytes, g.len);
        let counts = t.dims.iter().map(|d| d.count).chain([t.block]);
        assert!(counts.into_iter().all(|c| c <= max), "round {round}: {t:?}");
    }
}
