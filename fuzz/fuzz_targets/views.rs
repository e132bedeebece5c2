//! Chains of derived views: slice, index, subview, transpose, permute, broadcast,
//! broadcast_to and cast, each applied to any live view of the chain (released ones
//! included, which must be refused), released in any order.
//!
//! The model: every derived view maps its index to an index of the view at the root of
//! its chain by an affine map (a base index plus one coefficient vector per dimension),
//! which each derivation updates with Python's rules (slice.indices, negative indices,
//! numpy's broadcasting); a cast starts a new root, the C-contiguous reinterpretation of
//! the same memory. Each derived view must have the model's shape and address exactly
//! the model's elements (pointers of PIL-style roots followed), copy out to the model's
//! bytes, and, when the root came from an exporter, hold one export until released.
#![no_main]

use std::ffi::{c_char, c_int, c_void, CString};
use std::rc::Rc;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use pybuf::abi::*;
use pybuf::ffi::buffer::{pybuf_get_pointer, pybuf_release};
use pybuf::ffi::copy::pybuf_to_contiguous;
use pybuf::ffi::exporter::*;
use pybuf::ffi::view::*;
use pybuf_fuzz::*;

const NULL_POINTER: c_int = -1;
const INVALID_ARGUMENT: c_int = -2;
const INVALID_NDIM: c_int = -3;
const INVALID_SHAPE: c_int = -4;
const LENGTH_MISMATCH: c_int = -8;
const OVERFLOW: c_int = -9;
const INDEX_OUT_OF_RANGE: c_int = -10;
const SHAPE_MISMATCH: c_int = -14;
const BUFFER_REQUEST: c_int = -15;
const FOREIGN_VIEW: c_int = -16;
const NONE: isize = isize::MIN;

/// The view at the root of a chain.
struct Root {
    geo: Geo,
}

/// A live view and its map to its root's indices.
struct Node {
    view: Box<pybuf_buffer>,
    root: Rc<Root>,
    base: Vec<isize>,
    /// coef[k][r]: root index r moves by coef[k][r] per step of index k.
    coef: Vec<Vec<isize>>,
    shape: Vec<isize>,
    readonly: bool,
    /// The format string the view must carry.
    format: Option<Vec<u8>>,
    released: bool,
    /// Holds an export of the chain's exporter.
    exported: bool,
    /// The test's own root view (not filled by pybuf: releasing it is refused).
    foreign: bool,
}

impl Node {
    fn root_index(&self, idx: &[isize]) -> Vec<isize> {
        let mut r = self.base.clone();
        for (k, &i) in idx.iter().enumerate() {
            for (x, c) in r.iter_mut().zip(&self.coef[k]) {
                *x += c * i;
            }
        }
        r
    }
    fn has_indirection(&self) -> bool {
        // SAFETY: a live view made by pybuf or by this target.
        unsafe { reference_geometry(&self.view) }.is_some_and(|g| g.has_indirection())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let arena = Arena::new(&mut u);
    let v = TestView::generate(&mut u, &arena, 0, &Hint::default());
    let Some(g) = v.backed_geo().cloned() else {
        malformed_source(&v);
        return;
    };
    if v.raw.shape.is_null() {
        return; // shapeless views: derivations of them are covered by the C tests
    }
    // the root: the view itself, or a view of an exporter of it
    let mut exporter: *mut pybuf_exporter = std::ptr::null_mut();
    let mut root_view = Box::new(v.raw);
    let from_exporter = u.ratio(1u8, 3).unwrap_or(false);
    let format_keep = v.format.clone().unwrap_or_else(|| CString::new("B").unwrap());
    if from_exporter {
        let desc = pybuf_exporter_desc {
            buf: arena.start().cast(),
            len: arena.span() as isize,
            offset: (g.buf as isize) - arena.start() as isize,
            readonly: v.raw.readonly,
            format: format_keep.as_ptr(),
            itemsize: v.raw.itemsize,
            ndim: v.raw.ndim,
            shape: v.raw.shape,
            strides: v.raw.strides,
            suboffsets: v.raw.suboffsets,
        };
        if v.format.is_none() && v.raw.itemsize != 1 {
            return;
        }
        // SAFETY: a valid description of the arena.
        let rc = unsafe { pybuf_exporter_new(&desc, None, std::ptr::null_mut(), &mut exporter) };
        assert_ok(rc, &format!("exporter of {}", v.describe()));
        // SAFETY: a live exporter.
        let rc = unsafe { pybuf_exporter_get_buffer(exporter, &mut *root_view, PYBUF_FULL_RO) };
        assert_ok(rc, "get_buffer(FULL_RO)");
    }
    let n = g.ndim();
    if std::env::var_os("PYBUF_FUZZ_DEBUG").is_some() {
        eprintln!("root (exporter {from_exporter}): {}", v.describe());
    }
    let root = Rc::new(Root { geo: g.clone() });
    let mut nodes = vec![Node {
        view: root_view,
        root,
        base: vec![0; n],
        coef: (0..n).map(|k| (0..n).map(|r| isize::from(r == k)).collect()).collect(),
        shape: g.shape.clone(),
        readonly: g.readonly,
        format: if from_exporter { Some(format_keep.to_bytes().to_vec()) } else { v.format.as_ref().map(|f| f.to_bytes().to_vec()) },
        released: false,
        exported: from_exporter,
        foreign: !from_exporter,
    }];
    let mut steps = 0;
    while !u.is_empty() && steps < 24 {
        steps += 1;
        let j = u.int_in_range(0..=nodes.len() - 1).unwrap_or(0);
        let op = u.int_in_range(0u8..=9).unwrap_or(0);
        if op == 9 {
            let node = &mut nodes[j];
            if node.foreign {
                // SAFETY: a view pybuf did not fill: refused, untouched.
                unsafe { pybuf_release(&mut *node.view) };
                assert_failed_with(pybuf::ffi::error::pybuf_last_status(), &[FOREIGN_VIEW], "releasing the root");
            } else if !node.released {
                // SAFETY: a live view.
                unsafe { pybuf_release(&mut *node.view) };
                assert_eq!(pybuf::ffi::error::pybuf_last_status(), 0, "release: {}", last_message());
                node.released = true;
            }
            continue;
        }
        if let Some(new) = derive(&mut u, &nodes[j], op) {
            check_node(&new);
            nodes.push(new);
        }
        if !exporter.is_null() {
            let live = nodes.iter().filter(|n| n.exported && !n.released).count();
            // SAFETY: a live exporter.
            assert_eq!(unsafe { pybuf_exporter_exports(exporter) }, live as isize, "export count");
        }
        if nodes.len() > 16 {
            break;
        }
    }
    for node in nodes.iter_mut().filter(|n| !n.foreign) {
        if !node.released || u.ratio(1u8, 8).unwrap_or(false) {
            // SAFETY: a live (or released: a no-op) view.
            unsafe { pybuf_release(&mut *node.view) };
            assert_eq!(pybuf::ffi::error::pybuf_last_status(), 0, "release: {}", last_message());
        }
    }
    if !exporter.is_null() {
        // SAFETY: a live exporter.
        unsafe {
            assert_eq!(pybuf_exporter_exports(exporter), 0);
            pybuf_exporter_free(exporter);
        }
    }
});

/// Every derivation of a malformed source is refused, `dst` untouched.
fn malformed_source(v: &TestView) {
    if v.geo.is_some() {
        return; // well formed but not backed: nothing to check safely
    }
    let mut dst = pybuf_buffer::zeroed();
    dst.obj = 0x9 as *mut c_void;
    let before = format!("{dst:?}");
    let zeros = [0isize; ARRAY];
    let axes: Vec<c_int> = (0..ARRAY as c_int).collect();
    // SAFETY: malformed views are refused before any memory is read; arrays have
    // ARRAY entries.
    let rcs = unsafe {
        [
            pybuf_slice(&mut dst, v.ptr(), 0, NONE, NONE, 1),
            pybuf_index(&mut dst, v.ptr(), 0, 0),
            pybuf_subview(&mut dst, v.ptr(), zeros.as_ptr(), zeros.as_ptr()),
            pybuf_transpose(&mut dst, v.ptr()),
            pybuf_permute(&mut dst, v.ptr(), axes.as_ptr()),
            pybuf_cast(&mut dst, v.ptr(), std::ptr::null(), -1, std::ptr::null()),
            pybuf_broadcast(&mut dst, v.ptr(), 0, 1),
            pybuf_broadcast_to(&mut dst, v.ptr(), 1, [1isize].as_ptr()),
        ]
    };
    for (i, rc) in rcs.into_iter().enumerate() {
        assert_failed(rc, &format!("derivation {i} of a malformed {}", v.describe()));
    }
    assert_eq!(format!("{dst:?}"), before, "dst written on failure");
}

/// Python's `slice.indices` and the number of elements.
fn slice_indices(len: isize, start: isize, stop: isize, step: isize) -> (isize, isize, isize) {
    let step = if step == NONE { 1 } else { step };
    let adjust = |x: isize, default: isize, lo: isize, hi: isize| -> isize {
        if x == NONE {
            return default;
        }
        let x = if x < 0 { x.saturating_add(len) } else { x };
        x.clamp(lo, hi)
    };
    let (start, stop) = if step > 0 {
        (adjust(start, 0, 0, len), adjust(stop, len, 0, len))
    } else {
        (adjust(start, len - 1, -1, len - 1), adjust(stop, -1, -1, len - 1))
    };
    let count = if step > 0 {
        if stop > start { (stop - start - 1) / step + 1 } else { 0 }
    } else if stop < start {
        ((start - stop - 1) as i128 / -(step as i128) + 1) as isize
    } else {
        0
    };
    (start, step, count)
}

fn bound(u: &mut Unstructured<'_>, len: isize) -> isize {
    match u.int_in_range(0u8..=9).unwrap_or(0) {
        0 => NONE,
        1 => *u.choose(&[isize::MAX, isize::MIN + 1, -len - 5, len + 5]).unwrap_or(&0),
        _ => u.int_in_range(-len - 1..=len + 1).unwrap_or(0),
    }
}

/// Apply derivation `op` to `src`; the new node on success (checked against the model),
/// `None` after an expected refusal.
fn derive(u: &mut Unstructured<'_>, src: &Node, op: u8) -> Option<Node> {
    let n = src.shape.len();
    let mut dst = Box::new(pybuf_buffer::zeroed());
    if src.released {
        // a released view's arrays are gone: pybuf must refuse it without reading them
        let axes = [0 as c_int; ARRAY];
        // SAFETY: pybuf recognises a released view by its `internal`.
        let rc = unsafe {
            match op % 4 {
                0 => pybuf_slice(&mut *dst, &*src.view, 0, NONE, NONE, -1),
                1 => pybuf_index(&mut *dst, &*src.view, 0, 0),
                2 => pybuf_transpose(&mut *dst, &*src.view),
                _ => pybuf_permute(&mut *dst, &*src.view, axes.as_ptr()),
            }
        };
        assert_failed_with(rc, &[INVALID_ARGUMENT], "a derivation of a released view");
        return None;
    }
    let mut next = Node {
        view: Box::new(pybuf_buffer::zeroed()),
        root: src.root.clone(),
        base: src.base.clone(),
        coef: src.coef.clone(),
        shape: src.shape.clone(),
        readonly: src.readonly,
        format: src.format.clone(),
        released: false,
        exported: src.exported,
        foreign: false,
    };
    // errors the model expects (empty: must succeed); `maybe` allows BUFFER_REQUEST
    let mut errors: Vec<c_int> = Vec::new();
    let sub = src.has_indirection();
    let what;
    let rc = match op {
        0 | 1 => {
            let dim = if u.ratio(1u8, 20).unwrap_or(false) { *u.choose(&[-1, n as c_int, 64]).unwrap_or(&-1) } else if n == 0 { 0 } else { u.int_in_range(0..=n as c_int - 1).unwrap_or(0) };
            let len = if (0..n as c_int).contains(&dim) { src.shape[dim as usize] } else { 0 };
            let (start, stop) = (bound(u, len), bound(u, len));
            let step = match u.int_in_range(0u8..=9).unwrap_or(0) {
                0 => NONE,
                1 => 0,
                2 => *u.choose(&[isize::MAX, isize::MIN + 1, -7, 7]).unwrap_or(&1),
                _ => *u.choose(&[1isize, 1, -1, 2, -2, 3]).unwrap_or(&1),
            };
            what = format!("slice(dim {dim}, {start}, {stop}, {step})");
            if !(0..n as c_int).contains(&dim) || step == 0 {
                errors.push(INVALID_ARGUMENT);
            } else {
                let d = dim as usize;
                let (s0, st, count) = slice_indices(len, start, stop, step);
                if count > 0 {
                    for r in 0..next.base.len() {
                        next.base[r] += s0 * src.coef[d][r];
                    }
                }
                for c in &mut next.coef[d] {
                    *c *= st;
                }
                next.shape[d] = count;
            }
            // SAFETY: a view (released perhaps: pybuf must refuse it).
            unsafe { pybuf_slice(&mut *dst, &*src.view, dim, start, stop, step) }
        }
        2 => {
            let dim = if n == 0 || u.ratio(1u8, 20).unwrap_or(false) { *u.choose(&[-1, n as c_int]).unwrap_or(&-1) } else { u.int_in_range(0..=n as c_int - 1).unwrap_or(0) };
            let len = if (0..n as c_int).contains(&dim) { src.shape[dim as usize] } else { 0 };
            let index = match u.int_in_range(0u8..=9).unwrap_or(0) {
                0 => *u.choose(&[len, -len - 1, isize::MIN, isize::MAX]).unwrap_or(&len),
                _ => u.int_in_range(-len..=(len - 1).max(-len)).unwrap_or(0),
            };
            what = format!("index(dim {dim}, {index})");
            if !(0..n as c_int).contains(&dim) {
                errors.push(INVALID_ARGUMENT);
            } else {
                let i = if index < 0 { index.wrapping_add(len) } else { index };
                if i < 0 || i >= len {
                    errors.push(INDEX_OUT_OF_RANGE);
                } else {
                    let d = dim as usize;
                    for r in 0..next.base.len() {
                        next.base[r] += i * src.coef[d][r];
                    }
                    next.coef.remove(d);
                    next.shape.remove(d);
                }
            }
            // SAFETY: as above.
            unsafe { pybuf_index(&mut *dst, &*src.view, dim, index) }
        }
        3 => {
            let mut start = [0isize; ARRAY];
            let mut shape = [0isize; ARRAY];
            for k in 0..n {
                let len = src.shape[k];
                start[k] = if u.ratio(1u8, 20).unwrap_or(false) { *u.choose(&[-1, len + 1, isize::MAX]).unwrap_or(&-1) } else { u.int_in_range(0..=len).unwrap_or(0) };
                shape[k] = if u.ratio(1u8, 20).unwrap_or(false) { *u.choose(&[-1, len + 1, isize::MAX, isize::MIN]).unwrap_or(&-1) } else { u.int_in_range(0..=(len - start[k]).max(0)).unwrap_or(0) };
            }
            what = format!("subview({:?}, {:?})", &start[..n], &shape[..n]);
            if shape[..n].iter().any(|&s| s < 0) {
                errors.push(INVALID_SHAPE);
            }
            if (0..n).any(|k| start[k] < 0 || start[k] > src.shape[k] || shape[k] > src.shape[k] - start[k]) {
                errors.push(INDEX_OUT_OF_RANGE);
            }
            if errors.is_empty() {
                for k in 0..n {
                    for r in 0..next.base.len() {
                        next.base[r] += start[k] * src.coef[k][r];
                    }
                    next.shape[k] = shape[k];
                }
            }
            // SAFETY: arrays of ARRAY entries.
            unsafe { pybuf_subview(&mut *dst, &*src.view, start.as_ptr(), shape.as_ptr()) }
        }
        4 | 5 => {
            let mut axes: Vec<c_int> = (0..ARRAY as c_int).collect();
            let transpose = op == 4;
            if transpose {
                axes[..n].reverse();
            } else {
                for k in (1..n).rev() {
                    let j = u.int_in_range(0..=k).unwrap_or(0);
                    axes.swap(k, j);
                }
                if n > 0 && u.ratio(1u8, 10).unwrap_or(false) {
                    let k = u.int_in_range(0..=n - 1).unwrap_or(0);
                    axes[k] = *u.choose(&[-1, n as c_int, axes[(k + 1) % n]]).unwrap_or(&-1);
                }
            }
            what = format!("permute({:?})", &axes[..n]);
            let ok = {
                let mut seen = vec![false; n];
                axes[..n].iter().all(|&a| (0..n as c_int).contains(&a) && !std::mem::replace(&mut seen[a as usize], true))
            };
            if !ok {
                errors.push(INVALID_ARGUMENT);
            } else {
                next.coef = axes[..n].iter().map(|&a| src.coef[a as usize].clone()).collect();
                next.shape = axes[..n].iter().map(|&a| src.shape[a as usize]).collect();
            }
            // SAFETY: arrays of ARRAY entries.
            unsafe {
                if transpose {
                    pybuf_transpose(&mut *dst, &*src.view)
                } else {
                    pybuf_permute(&mut *dst, &*src.view, axes.as_ptr())
                }
            }
        }
        6 => {
            let dim = if n == 0 || u.ratio(1u8, 20).unwrap_or(false) { *u.choose(&[-1, n as c_int]).unwrap_or(&-1) } else { u.int_in_range(0..=n as c_int - 1).unwrap_or(0) };
            let length = match u.int_in_range(0u8..=9).unwrap_or(0) {
                0 => *u.choose(&[-1, isize::MIN, 1 << 40]).unwrap_or(&-1),
                _ => u.int_in_range(0..=4).unwrap_or(1),
            };
            what = format!("broadcast(dim {dim}, {length})");
            if !(0..n as c_int).contains(&dim) {
                errors.push(INVALID_ARGUMENT);
            } else if length < 0 {
                errors.push(INVALID_SHAPE);
            } else {
                let d = dim as usize;
                if src.shape[d] == 1 {
                    next.coef[d].iter_mut().for_each(|c| *c = 0);
                    next.shape[d] = length;
                    next.readonly = true;
                } else if src.shape[d] == length {
                    next.readonly = true;
                } else {
                    errors.push(SHAPE_MISMATCH);
                }
                if length > 1 << 20 && src.shape[d] == 1 {
                    // huge broadcasts: fine to make, too large to walk here
                    next.shape[d] = length;
                }
                // ... unless the new len, product(shape) * itemsize, overflows (a zero
                // dimension makes it 0 however large the others are)
                let itemsize = next.root.geo.itemsize;
                if errors.is_empty()
                    && !next.shape.contains(&0)
                    && next.shape.iter().try_fold(itemsize, |a, &x| a.checked_mul(x)).is_none()
                {
                    errors.push(OVERFLOW);
                }
            }
            // SAFETY: a view.
            unsafe { pybuf_broadcast(&mut *dst, &*src.view, dim, length) }
        }
        7 => {
            let ndim: c_int = if u.ratio(1u8, 20).unwrap_or(false) { *u.choose(&[-1, 65]).unwrap_or(&-1) } else { u.int_in_range(n as c_int..=n as c_int + 2).unwrap_or(n as c_int).min(64) };
            let m = ndim.clamp(0, 64) as usize;
            let mut shape = [1isize; ARRAY];
            let extra = m.saturating_sub(n);
            for k in 0..m {
                shape[k] = if k >= extra && u.ratio(3u8, 4).unwrap_or(true) {
                    src.shape[k - extra]
                } else {
                    u.int_in_range(0..=3).unwrap_or(1)
                };
                if u.ratio(1u8, 30).unwrap_or(false) {
                    shape[k] = -1;
                }
            }
            what = format!("broadcast_to(ndim {ndim}, {:?})", &shape[..m]);
            if !(0..=64).contains(&ndim) {
                errors.push(INVALID_NDIM);
            } else if shape[..m].iter().any(|&s| s < 0) {
                errors.push(INVALID_SHAPE);
            } else if m < n {
                errors.push(SHAPE_MISMATCH);
            } else {
                let mut coef = Vec::new();
                for k in 0..m {
                    if k < extra {
                        coef.push(vec![0; next.base.len()]);
                    } else {
                        let s = src.shape[k - extra];
                        if s == shape[k] {
                            coef.push(src.coef[k - extra].clone());
                        } else if s == 1 {
                            coef.push(vec![0; next.base.len()]);
                        } else {
                            errors.push(SHAPE_MISMATCH);
                            break;
                        }
                    }
                }
                next.coef = coef;
                next.shape = shape[..m].to_vec();
                next.readonly = true;
            }
            // SAFETY: an array of ARRAY entries.
            unsafe { pybuf_broadcast_to(&mut *dst, &*src.view, ndim, shape.as_ptr()) }
        }
        _ => {
            // cast: a C-contiguous reinterpretation, the root of a new chain
            // SAFETY: a view made by pybuf or this target.
            let sg = unsafe { reference_geometry(&src.view) };
            let formats: &[(&str, isize)] = &[("B", 1), ("H", 2), ("I", 4), ("Q", 8), ("3s", 3), ("d", 8), ("?", 1)];
            let (fmt, size) = if u.ratio(1u8, 5).unwrap_or(false) {
                (None, src.view.itemsize)
            } else {
                let (f, s) = *u.choose(formats).unwrap_or(&("B", 1));
                (Some(CString::new(f).unwrap()), s)
            };
            let len = src.view.len;
            let mut shape = [0isize; ARRAY];
            let ndim: c_int = match u.int_in_range(0u8..=5).unwrap_or(0) {
                0 => -1,
                1 => 0,
                2 => *u.choose(&[-2, 65]).unwrap_or(&-2),
                _ => u.int_in_range(1..=3).unwrap_or(1),
            };
            let items = if size > 0 { len / size } else { 0 };
            if ndim > 0 && ndim <= 64 {
                // a factorisation of the item count, or a wrong one
                let mut rest = items;
                for k in 0..ndim as usize - 1 {
                    let f = *u.choose(&[1isize, 2, 3, 4]).unwrap_or(&1);
                    shape[k] = if rest % f == 0 { f } else { 1 };
                    if shape[k] > 0 {
                        rest /= shape[k];
                    }
                }
                shape[ndim as usize - 1] = rest;
                if u.ratio(1u8, 10).unwrap_or(false) {
                    shape[0] += 1;
                }
            }
            what = format!("cast({fmt:?}, ndim {ndim}, {:?}) of len {len}", &shape[..ndim.clamp(0, 8) as usize]);
            let sg = sg.expect("a live view is well formed");
            let m = ndim.clamp(0, 64) as usize;
            if !(-1..=64).contains(&ndim) {
                errors.push(INVALID_NDIM);
            }
            if sg.subs.is_some() || !sg.contiguous(b'C') {
                errors.push(BUFFER_REQUEST);
            }
            let new_shape: Vec<isize> = if ndim == -1 { vec![items] } else { shape[..m].to_vec() };
            let product = new_shape.iter().try_fold(1isize, |a, &b| a.checked_mul(b)).and_then(|p| p.checked_mul(size));
            if (ndim == -1 && len % size != 0) || (ndim >= 0 && product != Some(len)) {
                errors.push(LENGTH_MISMATCH);
            }
            if errors.is_empty() {
                let geo = Geo {
                    buf: sg.buf,
                    len,
                    itemsize: size,
                    shape: new_shape.clone(),
                    strides: None,
                    subs: None,
                    readonly: sg.readonly,
                };
                let k = new_shape.len();
                next.root = Rc::new(Root { geo });
                next.base = vec![0; k];
                next.coef = (0..k).map(|a| (0..k).map(|b| isize::from(a == b)).collect()).collect();
                next.shape = new_shape;
                if let Some(f) = &fmt {
                    next.format = Some(f.to_bytes().to_vec());
                }
            }
            // SAFETY: format a C string or NULL; shape of ARRAY entries.
            unsafe { pybuf_cast(&mut *dst, &*src.view, fmt.as_ref().map_or(std::ptr::null(), |f| f.as_ptr() as *const c_char), ndim, shape.as_ptr()) }
        }
    };
    let what = format!("{what} of {:?} (released {}, indirect {sub})", src.shape, src.released);
    if src.released {
        assert_failed(rc, &what);
        return None;
    }
    if !errors.is_empty() {
        assert_failed_with(rc, &errors, &what);
        assert_eq!(format!("{:?}", *dst), format!("{:?}", pybuf_buffer::zeroed()), "{what}: dst written on failure");
        return None;
    }
    if rc == BUFFER_REQUEST && sub && matches!(op, 2 | 4 | 5 | 6 | 7) {
        return None; // documented limits of suboffsets
    }
    if rc == BUFFER_REQUEST && sub && matches!(op, 0 | 1 | 2 | 3) && last_message().contains("would be negative") {
        // A shift that would move a group's suboffset below 0 (read as "no pointer") is
        // refused; nothing is written.
        assert_eq!(format!("{:?}", *dst), format!("{:?}", pybuf_buffer::zeroed()), "{what}: dst written on failure");
        return None;
    }
    assert_ok(rc, &what);
    if std::env::var_os("PYBUF_FUZZ_DEBUG").is_some() {
        eprintln!("{what} -> {:?}", *dst);
    }
    next.view = dst;
    // a sanity check of the model against the view pybuf made: the reference reads its
    // arrays independently of pybuf
    assert_eq!(next.view.ndim as usize, next.shape.len(), "{what}: ndim");
    Some(next)
}

/// The view pybuf made addresses exactly the model's elements.
fn check_node(node: &Node) {
    let v = &*node.view;
    // SAFETY: a view pybuf filled.
    let g = unsafe { reference_geometry(v) }.unwrap_or_else(|| panic!("a derived view is malformed: {v:?}"));
    assert_eq!(g.shape, node.shape, "shape");
    assert_eq!(v.readonly == 1, node.readonly, "readonly");
    // SAFETY: a C string or NULL.
    let fmt = (!v.format.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(v.format) }.to_bytes().to_vec());
    assert_eq!(fmt, node.format, "format");
    if g.items() > 4096 {
        return;
    }
    let mut want_bytes = Vec::new();
    for idx in g.indices(b'C', usize::MAX) {
        let r = node.root_index(&idx);
        // SAFETY: the root is backed; the root index is within its shape (checked).
        let want = unsafe {
            assert!(r.iter().zip(&node.root.geo.shape).all(|(&i, &n)| i >= 0 && i < n), "root index {r:?} outside {:?}", node.root.geo.shape);
            node.root.geo.addr(&r)
        };
        // SAFETY: as above: the view's arrays, pointers in the arena.
        let got = unsafe { g.addr(&idx) };
        assert_eq!(got, want, "element {idx:?} (root {r:?}) of {v:?}");
        if v.ndim > 0 {
            // SAFETY: indices within the shape.
            let p = unsafe { pybuf_get_pointer(v, idx.as_ptr()) };
            assert_eq!(p as *mut u8, want, "get_pointer({idx:?})");
        }
        // SAFETY: backed.
        want_bytes.extend(unsafe { read_bytes(want, g.itemsize as usize) });
    }
    let mut out = Guarded::new(v.len as usize, 0);
    // SAFETY: `len` bytes.
    let rc = unsafe { pybuf_to_contiguous(out.ptr().cast(), v, v.len, b'C' as c_char) };
    assert_ok(rc, "to_contiguous of a derived view");
    out.assert_guards("to_contiguous of a derived view");
    assert!(out.data() == want_bytes.as_slice(), "to_contiguous of a derived view: wrong bytes");
    let _ = NULL_POINTER;
}
