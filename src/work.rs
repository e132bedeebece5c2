//! A count of the steps the parsers and converters take, for the scaling tests: every
//! loop over input (a byte looked at, a field laid out, a name tried, a run walked)
//! calls [`step`]. Compiled to nothing outside `cfg(test)`; in tests the count is per
//! thread, so tests running in parallel do not disturb each other.
//!
//! A scaling test runs a path on inputs of size n and 8n and checks that the count grows
//! at most like `n log n` — a deterministic measure of work, where a timing would not be.

#[cfg(test)]
use std::cell::Cell;

#[cfg(test)]
thread_local! {
    static STEPS: Cell<u64> = const { Cell::new(0) };
}

/// Count `n` steps of work (nothing outside tests).
#[inline(always)]
pub(crate) fn step(n: usize) {
    #[cfg(test)]
    STEPS.with(|s| s.set(s.get().saturating_add(n as u64)));
    #[cfg(not(test))]
    let _ = n;
}

/// The result of `f` and the steps it took.
#[cfg(test)]
pub(crate) fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = STEPS.with(Cell::get);
    let r = f();
    (r, STEPS.with(Cell::get).saturating_sub(before))
}

/// Assert that `run(n)`'s step count grows at most like `n log n`: from size `n` to `8n`
/// it may grow by at most a factor of 12 (linear work gives 8, `n log n` about 10 at the
/// sizes the tests use, quadratic 64). `run` returns the steps it counted.
#[cfg(test)]
pub(crate) fn assert_scales(what: &str, n: usize, mut run: impl FnMut(usize) -> u64) {
    let small = run(n);
    let large = run(8 * n);
    assert!(small > 0, "{what}: no steps counted at n = {n}");
    assert!(
        large <= 12 * small,
        "{what}: {small} steps at n = {n}, {large} at n = {} ({:.1} times as many): not n log n",
        8 * n,
        large as f64 / small as f64
    );
}

/// The scaling tests: each parser and converter on inputs of size n and 8n, in the shapes
/// that stress it (many fields, names, nesting, shapes, digits, whitespace).
#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::{assert_scales, count};
    use crate::format::Format;
    use crate::interop::array_interface::{descr_from_format, format_from_descr, format_from_typestr, typestr_from_format};

    /// Small enough for Miri, large enough natively for the counts to be meaningful.
    fn n() -> usize {
        if cfg!(miri) {
            8
        } else {
            400
        }
    }

    /// Format strings made of n units, in the shapes the parser has to deal with.
    fn formats(n: usize) -> Vec<(&'static str, String)> {
        vec![
            ("fields", "i".repeat(n)),
            ("named fields", (0..n).map(|j| format!("i:f{j}:")).collect()),
            ("structs", "T{i}".repeat(n)),
            ("nested structs with many fields", format!("1000000000T{{{}}}", "T{bd}".repeat(n))),
            ("shape", format!("({}1)i", "1,".repeat(n))),
            ("markers and whitespace", format!("{}i", "< i > 0i = 0b ! i ^ 0d @ 0h ".repeat(n))),
            ("long count", format!("{}1i", "0".repeat(n))),
            ("long name", format!("i:{}:", "a".repeat(n))),
            ("strings and padding", "3s5x".repeat(n)),
        ]
    }

    #[test]
    fn format_parse_is_linear() {
        for (what, _) in formats(1) {
            assert_scales(&format!("format parse, {what}"), n(), |n| {
                let (_, text) = formats(n).into_iter().find(|(w, _)| *w == what).unwrap();
                count(|| Format::parse(text.as_bytes()).unwrap()).1
            });
        }
    }

    #[test]
    fn format_to_descr_and_typestr_are_linear() {
        let cases = |n: usize| {
            let mut c = formats(n);
            c.retain(|(w, _)| !matches!(*w, "long count" | "long name" | "markers and whitespace"));
            // f<j> names taken by named fields, between unnamed ones
            c.push(("unnamed around f<j>", (0..n).map(|j| format!("b:f{}:b", j + 1)).collect()));
            c.push(("padding runs", "b3xx2x".repeat(n)));
            c
        };
        for (what, _) in cases(1) {
            assert_scales(&format!("format -> descr, {what}"), n(), |n| {
                let (_, text) = cases(n).into_iter().find(|(w, _)| *w == what).unwrap();
                count(|| descr_from_format(text.as_bytes(), 0).unwrap()).1
            });
            assert_scales(&format!("format -> typestr, {what}"), n(), |n| {
                let (_, text) = cases(n).into_iter().find(|(w, _)| *w == what).unwrap();
                count(|| typestr_from_format(text.as_bytes(), 0).unwrap()).1
            });
        }
    }

    /// Descr texts made of n units.
    fn descrs(n: usize) -> Vec<(&'static str, String)> {
        let list = |items: Vec<String>| format!("[{}]", items.join(", "));
        vec![
            ("unnamed fields", list(vec!["('', '<i4')".to_owned(); n])),
            ("named fields", list((0..n).map(|j| format!("('a{j}', '<f8')")).collect())),
            ("f<j> then unnamed", list((0..n).map(|j| format!("('f{j}', '<i4')")).chain((0..n).map(|_| "('', '<i4')".to_owned())).collect())),
            ("unnamed then f<j>", list((0..n).map(|_| "('', '<i4')".to_owned()).chain((0..n).map(|j| format!("('f{j}', '<i4')"))).collect())),
            ("padding", list((0..n).map(|j| format!("('a{j}', '|u1'), ('', '|V3')")).collect())),
            ("nested lists", list((0..n).map(|j| format!("('s{j}', [('', '<i4'), ('x', '>f8', (2, 3))])")).collect())),
            ("shape", format!("[('a', '<i4', ({}1))]", "1, ".repeat(n))),
            ("long name with escapes", format!("[('{}', '<i4')]", "\\x41\\t".repeat(n))),
            ("whitespace", format!("[{}('a', '<i4')]", " \n".repeat(n))),
        ]
    }

    #[test]
    fn descr_to_format_is_linear() {
        for (what, _) in descrs(1) {
            assert_scales(&format!("descr -> format, {what}"), n(), |n| {
                let (_, text) = descrs(n).into_iter().find(|(w, _)| *w == what).unwrap();
                count(|| format_from_descr(text.as_bytes()).unwrap()).1
            });
        }
    }

    #[test]
    fn typestr_to_format_is_linear() {
        for (what, make) in [
            ("size with leading zeros", (|n: usize| format!("<f{}8", "0".repeat(n))) as fn(usize) -> String),
            ("void size with leading zeros", |n| format!("|V{}4", "0".repeat(n))),
            ("string size with leading zeros", |n| format!("|S{}7", "0".repeat(n))),
        ] {
            assert_scales(&format!("typestr -> format, {what}"), n(), |n| {
                count(|| format_from_typestr(make(n).as_bytes()).unwrap()).1
            });
        }
    }

    /// Every view derivation on views of n and 8n dimensions (8 and 64, the most there
    /// can be), with and without suboffsets (all -1, so every dimension looks for the
    /// base of its group), and the format parsing that a derived view's item access does.
    #[test]
    fn view_derivations_are_linear_in_the_dimensions() {
        use crate::layout::Geometry;
        use crate::view::{item, Layout};
        let derive = |ndim: usize, subs: bool| -> u64 {
            let mut byte = [0u8; 2];
            let mut shape = vec![1isize; ndim];
            shape[0] = 2;
            let strides: Vec<isize> = (0..ndim).map(|k| if k == 0 { 1 } else { 2 }).collect();
            let suboffsets = subs.then(|| vec![-1isize; ndim]);
            let geom = Geometry { len: 2, itemsize: 1, shape: &shape, strides: Some(&strides), suboffsets: suboffsets.as_deref() };
            count(|| {
                geom.validate().unwrap();
                let mut l = Layout::new(byte.as_mut_ptr(), &geom, false);
                l.subview(&vec![0; ndim], &vec![1; ndim]).unwrap();
                // One derivation of each kind, on the last dimension (the farthest from
                // the base of its group).
                let last = ndim as isize - 1;
                l.slice(last, None, None, Some(-1)).unwrap();
                l.broadcast(last, 1).unwrap();
                l.transpose().unwrap();
                let axes: Vec<isize> = (0..ndim as isize).collect();
                l.permute(&axes).unwrap();
                l.broadcast_to(&vec![1; ndim]).unwrap();
                l.geometry().validate().unwrap();
                // SAFETY: no suboffset is >= 0, so nothing is read.
                unsafe { l.index(0, 0).unwrap() };
                if !subs {
                    let c = l.cast(1, Some(&vec![1; ndim])).unwrap();
                    c.geometry().validate().unwrap();
                }
            })
            .1
        };
        assert_scales("view derivations", 8, |n| derive(n, false));
        assert_scales("view derivations with suboffsets", 8, |n| derive(n, true));
        // Item access on a derived view parses its format and finds the value.
        assert_scales("item access", n(), |n| {
            let text = format!("{}1000000T{{{}}}", "b".repeat(n), "id".repeat(n));
            count(|| {
                let f = Format::parse(text.as_bytes()).unwrap();
                let k = item::count(&f) - 1;
                item::check_fits(&f, f.itemsize()).unwrap();
                item::slot(&f, f.itemsize(), k).unwrap()
            })
            .1
        });
    }

    /// The first difference between two formats, for `pybuf_format_equal`'s message, on
    /// formats of n and 8n fields under a long name: a struct `'a...a'` whose last field
    /// differs.
    #[test]
    fn format_difference_is_linear() {
        let make = |n: usize, last: &str| format!("T{{{}{last}}}:{}:", "i".repeat(n), "a".repeat(n));
        assert_scales("format difference", n(), |n| {
            let (a, b) = (Format::parse(make(n, "i").as_bytes()).unwrap(), Format::parse(make(n, "f").as_bytes()).unwrap());
            let (d, steps) = count(|| a.difference(&b).unwrap());
            assert!(d.ends_with(&format!(".#{n}: 'i' at offset {} vs 'f' at offset {}", 4 * n, 4 * n)), "{d}");
            steps
        });
    }
}
