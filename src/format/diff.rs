//! The first structural difference between two formats, for messages: what
//! `Format == Format` compares, said in words.

use super::{Field, Format, Kind, Mode, Signature};

/// The first difference between `a` and `b` in field order, or `None` when they are
/// equal. Names a field by its path (names joined by `.`, `#i` for unnamed field `i`).
pub(crate) fn difference(a: &Format, b: &Format) -> Option<String> {
    if a == b {
        return None;
    }
    let found = fields(a, b, "");
    // Equal fields give equal layouts; the fallbacks only guard that invariant.
    found
        .or_else(|| (a.itemsize != b.itemsize).then(|| format!("item sizes differ: {} vs {}", a.itemsize, b.itemsize)))
        .or_else(|| Some("the formats differ".to_owned()))
}

fn label(prefix: &str, index: usize, field: &Field) -> String {
    // Writing the label copies the prefix.
    crate::work::step(prefix.len().saturating_add(1));
    let own = match &field.name {
        Some(name) => format!("'{name}'"),
        None => format!("#{index}"),
    };
    if prefix.is_empty() {
        format!("field {own}")
    } else {
        format!("{prefix}.{own}")
    }
}

fn describe(field: Option<&Field>) -> String {
    match field {
        None => "no field".to_owned(),
        Some(f) => match f.code() {
            Some(code) => format!("'{}' at offset {}", code.as_str(), f.offset),
            None => format!("'T{{}}' at offset {}", f.offset),
        },
    }
}

// Recursion depth is bounded by the parser's MAX_DEPTH: a Format only comes from it.
fn fields(a: &Format, b: &Format, prefix: &str) -> Option<String> {
    let n = a.fields.len().max(b.fields.len());
    for i in 0..n {
        crate::work::step(1);
        let (x, y) = (a.fields.get(i), b.fields.get(i));
        // The path is written only for the field that differs: writing it for every
        // field copied the prefix once per field, quadratic under a long name.
        if let (Some(x), Some(y)) = (x, y) {
            if x == y {
                continue;
            }
        }
        let path = match x.or(y) {
            Some(f) => label(prefix, i, f),
            None => continue,
        };
        match (x, y) {
            (Some(x), Some(y)) => {
                if let Some(d) = field(x, y, &path) {
                    return Some(d);
                }
            }
            _ => return Some(format!("{path}: {} vs {}", describe(x), describe(y))),
        }
    }
    None
}

fn marker(mode: Mode) -> char {
    mode.marker()
}

fn field(x: &Field, y: &Field, path: &str) -> Option<String> {
    if x == y {
        return None;
    }
    if x.code() != y.code() {
        return Some(format!("{path}: {} vs {}", describe(Some(x)), describe(Some(y))));
    }
    if x.name != y.name {
        let show = |n: &Option<String>| n.as_ref().map_or_else(|| "no name".to_owned(), |n| format!("name '{n}'"));
        return Some(format!("{path}: {} vs {}", show(&x.name), show(&y.name)));
    }
    if x.shape != y.shape {
        return Some(format!("{path}: shape {:?} vs {:?}", x.shape, y.shape));
    }
    if x.count != y.count {
        return Some(format!("{path}: count {} vs {}", x.count, y.count));
    }
    if x.mode != y.mode {
        return Some(format!(
            "{path}: placed in mode '{}' vs '{}' (byte order and alignment markers differ)",
            marker(x.mode),
            marker(y.mode)
        ));
    }
    let inner = match (&x.kind, &y.kind) {
        (Kind::Struct(p), Kind::Struct(q)) => fields(p, q, path),
        (Kind::Pointer(p), Kind::Pointer(q)) => field(p, q, &format!("{path}.*")),
        (Kind::Function(p), Kind::Function(q)) => signature(p, q, path),
        _ => None,
    };
    inner.or_else(|| {
        (x.offset != y.offset).then(|| format!("{path}: offset {} vs {}", x.offset, y.offset))
    })
}

fn signature(p: &Signature, q: &Signature, path: &str) -> Option<String> {
    if let Some(d) = fields(&p.args, &q.args, &format!("{path}.args")) {
        return Some(d);
    }
    match (&p.ret, &q.ret) {
        (Some(r), Some(s)) => fields(r, s, &format!("{path}.return")),
        (None, None) => None,
        (r, s) => {
            let show = |x: &Option<Format>| if x.is_some() { "a return type" } else { "no return type" };
            Some(format!("{path}: {} vs {}", show(r), show(s)))
        }
    }
}
