//! The canonical spelling of a [`Format`].
//!
//! The writer tracks the mode as the parser will see it, and writes a marker only where
//! a field's mode differs from it. A composite (`T{}`, `&`, `X{}`) is placed in the mode
//! in effect after it, so before its closing `}` (or after its pointee) the writer
//! switches to the field's mode if the contents left another one.

use std::fmt::Write as _;

use super::{Field, Format, Kind, Mode};

pub(crate) fn canonical(format: &Format) -> String {
    let mut out = String::new();
    let mut mode = Mode::Native;
    fields(format, &mut out, &mut mode);
    out
}

// Recursion depth is bounded by the parser's MAX_DEPTH: a Format only comes from it.
fn fields(format: &Format, out: &mut String, mode: &mut Mode) {
    for field in &format.fields {
        item(field, out, mode);
        if let Some(name) = &field.name {
            out.push(':');
            out.push_str(name);
            out.push(':');
        }
    }
}

fn switch(to: Mode, out: &mut String, mode: &mut Mode) {
    if *mode != to {
        out.push(to.marker());
        *mode = to;
    }
}

fn item(field: &Field, out: &mut String, mode: &mut Mode) {
    if let Kind::Scalar(_) = field.kind {
        switch(field.mode, out, mode);
    }
    if !field.shape.is_empty() {
        out.push('(');
        for (i, dim) in field.shape.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{dim}");
        }
        out.push(')');
    }
    if field.count != 1 {
        let _ = write!(out, "{}", field.count);
    }
    match &field.kind {
        Kind::Scalar(code) => out.push_str(code.as_str()),
        Kind::Struct(inner) => {
            out.push_str("T{");
            fields(inner, out, mode);
            switch(field.mode, out, mode);
            out.push('}');
        }
        Kind::Pointer(pointee) => {
            out.push('&');
            item(pointee, out, mode);
            switch(field.mode, out, mode);
        }
        Kind::Function(sig) => {
            out.push_str("X{");
            fields(&sig.args, out, mode);
            if let Some(ret) = &sig.ret {
                out.push_str("->");
                fields(ret, out, mode);
            }
            switch(field.mode, out, mode);
            out.push('}');
        }
    }
}
