//! memoryview `==` for every format.
//!
//! Two views are equal when their shapes are equivalent and every pair of elements with
//! the same index holds equal values, each side read with its own format. Shapes are
//! compared as memoryview compares them: the same ndim, and the same lengths up to and
//! including the first zero (so two empty views of shapes `(0, 3)` and `(0, 4)` are
//! equal). Values are compared as Python compares the values `struct.unpack` gives (see
//! [`Value::equals`]): a `NaN` equals nothing, `'<i'` equals `'>i'` holding the same
//! number, `'b'` equals `'d'` holding 1 and 1.0; an item with another number of values
//! is never equal. Formats are never compared as strings.

use std::fmt::Write as _;

use crate::format::{Format, Run, Runs};
use crate::layout::Order;

use super::item::{self, Slot};
use super::value::{self, Class, Value};
use super::walk::Walk;
use super::Layout;

/// One side of a comparison: a layout and the format of its items.
pub struct Side<'a> {
    pub layout: Layout,
    pub format: &'a Format,
}

/// The outcome of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Equal,
    /// The shapes differ, in these words.
    Shape(String),
    /// A value differs, in these words.
    Value(String),
}

/// How many slots are listed up front; an item with more values is walked run by run.
const SLOT_LIMIT: usize = 1 << 16;

/// The value slots of an item, listed or walked.
enum Slots<'a> {
    Listed(std::slice::Iter<'a, Slot>),
    Walked { runs: Runs<'a>, run: Option<Run>, next: isize },
}

impl Iterator for Slots<'_> {
    type Item = Slot;

    fn next(&mut self) -> Option<Slot> {
        match self {
            Slots::Listed(it) => it.next().copied(),
            Slots::Walked { runs, run, next } => loop {
                if let Some(r) = run {
                    if *next < r.count {
                        let j = *next;
                        // j < r.count, and the run's values lie within a parsed format's
                        // item (at most isize::MAX bytes): nothing saturates.
                        *next = next.saturating_add(1);
                        return Some(Slot {
                            offset: r.offset.saturating_add(j.saturating_mul(r.size)),
                            size: r.size,
                            code: r.code,
                            order: r.byte_order(),
                        });
                    }
                }
                let r = runs.next()?;
                *next = 0;
                *run = (value::class(r.code) != Class::Pad).then_some(r);
            },
        }
    }
}

struct Plan<'a> {
    format: &'a Format,
    listed: Option<Vec<Slot>>,
}

impl<'a> Plan<'a> {
    fn new(format: &'a Format) -> Self {
        Plan { format, listed: item::slots(format, SLOT_LIMIT) }
    }

    fn slots(&self) -> Slots<'_> {
        match &self.listed {
            Some(v) => Slots::Listed(v.iter()),
            None => Slots::Walked { runs: self.format.runs(), run: None, next: 0 },
        }
    }
}

/// Compare two views with memoryview's `==` semantics (see the module documentation).
///
/// # Safety
/// Every element of both layouts (following suboffsets) is readable for its itemsize,
/// and no value of either format lies beyond its layout's itemsize.
pub unsafe fn equal(a: &Side<'_>, b: &Side<'_>) -> Outcome {
    let (la, lb) = (&a.layout, &b.layout);
    if la.ndim() != lb.ndim() {
        return Outcome::Shape(format!("ndim {} differs from ndim {}", la.ndim(), lb.ndim()));
    }
    for (k, (&n, &m)) in la.shape.iter().zip(&lb.shape).enumerate() {
        if n != m {
            return Outcome::Shape(format!("shape[{k}] = {n} differs from shape[{k}] = {m}"));
        }
        if n == 0 {
            return Outcome::Equal;
        }
    }
    let (ca, cb) = (item::count(a.format), item::count(b.format));
    if ca != cb {
        return Outcome::Value(format!("an item has {ca} values on the left and {cb} on the right"));
    }
    let (pa, pb) = (Plan::new(a.format), Plan::new(b.format));
    let mut wa = Walk::new(la.clone(), Order::C);
    let mut wb = Walk::new(lb.clone(), Order::C);
    // SAFETY: the caller guarantees that every element is readable.
    while let (Some(ea), Some(eb)) = unsafe { (wa.next(), wb.next()) } {
        for (field, (sa, sb)) in pa.slots().zip(pb.slots()).enumerate() {
            // SAFETY: every value lies within its readable element (the caller's contract).
            let (va, vb): (Value<'_>, Value<'_>) = unsafe { (sa.read(ea), sb.read(eb)) };
            if !va.equals(&vb) {
                let mut at = String::new();
                let _ = write!(at, "{:?}", wa.index());
                return Outcome::Value(format!(
                    "element {at}, value {field}: {} ('{}') differs from {} ('{}')",
                    va.describe(),
                    sa.code.as_str(),
                    vb.describe(),
                    sb.code.as_str()
                ));
            }
        }
    }
    Outcome::Equal
}
