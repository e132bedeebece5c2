//! The values of one item, found through the format engine.
//!
//! The values of an item are numbered in offset order, as `struct.unpack` returns them:
//! padding is skipped, a string (`s`, `p`) is one value, every character of a `c` count
//! is one, arrays (`(2,3)d`) and nested structs (`T{...}`, repeated or not) are
//! flattened. So `T{b:a:xxx>i:b:d:c:}` has three values and value 2 is the double `c`.

use crate::error::{Error, Result};
use crate::format::{ByteOrder, Code, Format, Kind, Run};

use super::value::{self, Class, Value};

/// Where one value of an item lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub offset: isize,
    pub size: isize,
    pub code: Code,
    pub order: ByteOrder,
}

impl Slot {
    fn of(run: &Run, j: isize) -> Slot {
        // j < run.count, and a run lies within a parsed format's item (at most isize::MAX
        // bytes): this does not saturate.
        let offset = run.offset.saturating_add(j.saturating_mul(run.size));
        Slot { offset, size: run.size, code: run.code, order: run.byte_order() }
    }

    /// The value of this slot in the item at `item`.
    ///
    /// # Safety
    /// `item + offset .. item + offset + size` is readable, and stays so (and unchanged)
    /// while the returned value (which may borrow those bytes) is used.
    pub unsafe fn read<'a>(&self, item: *const u8) -> Value<'a> {
        // SAFETY: forwarded from the caller.
        let raw = unsafe { std::slice::from_raw_parts(item.wrapping_offset(self.offset), self.size as usize) };
        value::decode(self.code, raw, self.order)
    }

    /// Store `v` in this slot of the item at `item`.
    ///
    /// # Safety
    /// `item + offset .. item + offset + size` is writable; a `Value::Bytes` may point
    /// into it.
    pub unsafe fn write(&self, item: *mut u8, v: &Value<'_>) -> Result<()> {
        // Encode into a scratch buffer first, so that the item is untouched on failure
        // and bytes from the same memory are read before they are overwritten. A value
        // of up to 64 bytes (every number) uses the stack; a longer string (`1099511627776s`)
        // may be more than can be allocated.
        let size = self.size as usize;
        let mut small = [0u8; 64];
        let mut large: Vec<u8>;
        let scratch = if size <= small.len() {
            &mut small[..size]
        } else {
            large = crate::alloc::try_vec(size, 0u8, format_args!("a copy of a '{}' value", self.code.as_str()))?;
            &mut large[..]
        };
        value::encode(self.code, v, scratch, self.order)?;
        // SAFETY: forwarded from the caller; the scratch buffer is distinct memory.
        unsafe {
            std::ptr::copy_nonoverlapping(scratch.as_ptr(), item.wrapping_offset(self.offset), scratch.len())
        };
        Ok(())
    }
}

/// The number of values of an item of `format` (saturating at `isize::MAX`).
pub fn count(format: &Format) -> isize {
    format
        .leaves()
        .iter()
        .filter(|l| l.code != Code::Pad)
        .fold(0isize, |n, l| n.saturating_add(l.total()))
}

/// Value `field` of an item of `format` whose items are `itemsize` bytes. The value must
/// lie within the item (a format that disagrees with its view's itemsize may place values
/// beyond it).
///
/// Found through the structure, not by walking the values: a repeated struct is indexed
/// by division (`"100000000T{id}"`, value 199999999, is element 99999999's `d`), so the
/// cost is proportional to the number of fields of the format (times its nesting depth),
/// whatever `field` is — refusing one past the last value included.
pub fn slot(format: &Format, itemsize: isize, field: isize) -> Result<Slot> {
    if let Some(s) = (field >= 0).then(|| locate(format, 0, field)).flatten() {
        // Both are within a parsed format's item size (at most isize::MAX), but saturate
        // anyway: the comparison stays right.
        if s.offset.saturating_add(s.size) > itemsize {
            return Err(Error::itemsize(format_args!(
                "value {field} ('{}' at offset {}, {} bytes) lies beyond the itemsize {itemsize}",
                s.code.as_str(),
                s.offset,
                s.size
            )));
        }
        return Ok(s);
    }
    Err(Error::index(format_args!(
        "field = {field} is out of range: an item of format \"{format}\" has {} values",
        count(format)
    )))
}

/// The number of values of one item of `format` (padding skipped), saturating.
/// Recursion depth is bounded by the parser's MAX_DEPTH: a Format only comes from it.
fn values_of(format: &Format) -> isize {
    format.fields().iter().fold(0isize, |n, f| {
        crate::work::step(1);
        let per_element = match f.kind() {
            Kind::Struct(inner) => values_of(inner),
            _ if f.code().is_none_or(|c| value::class(c) == Class::Pad) => 0,
            _ => 1,
        };
        n.saturating_add(per_element.saturating_mul(f.values()))
    })
}

/// Value `left` (>= 0) of an item of `format` placed at `base`, or `None` past the last.
/// Recursion depth is bounded by the parser's MAX_DEPTH: a Format only comes from it.
fn locate(format: &Format, base: isize, mut left: isize) -> Option<Slot> {
    for f in format.fields() {
        crate::work::step(1);
        // Offsets within a parsed format are at most its item size, which fits isize:
        // the saturating operations below never saturate.
        let start = base.saturating_add(f.offset());
        let per_element = match f.kind() {
            Kind::Struct(inner) => values_of(inner),
            _ if f.code().is_none_or(|c| value::class(c) == Class::Pad) => continue,
            _ => 1,
        };
        // Saturating: a total above isize::MAX is above every `left` too.
        let total = per_element.saturating_mul(f.values());
        if left < total {
            // per_element > 0 here, since total > left >= 0.
            let (element, within) = (left.checked_div(per_element)?, left.checked_rem(per_element)?);
            let at = start.saturating_add(element.saturating_mul(f.element_size()));
            return match f.kind() {
                Kind::Struct(inner) => locate(inner, at, within),
                _ => Some(Slot {
                    offset: at,
                    size: f.element_size(),
                    code: f.code().unwrap_or(Code::Pad),
                    order: f.byte_order(),
                }),
            };
        }
        // total <= left, so this does not go below 0.
        left = left.saturating_sub(total);
    }
    None
}

/// Every value slot of an item, in order, when there are at most `limit`; `None` when
/// there are more (use [`Format::runs`] item by item then).
pub fn slots(format: &Format, limit: usize) -> Option<Vec<Slot>> {
    if count(format) as usize > limit {
        return None;
    }
    let mut out = Vec::new();
    for run in format.runs() {
        if value::class(run.code) != Class::Pad {
            out.extend((0..run.count).map(|j| Slot::of(&run, j)));
        }
    }
    Some(out)
}

/// Check that every value of `format` lies within an item of `itemsize` bytes (a format
/// may disagree with its view's itemsize: see the README's "Formats" section).
pub fn check_fits(format: &Format, itemsize: isize) -> Result<()> {
    if format.itemsize() <= itemsize {
        return Ok(());
    }
    for leaf in format.leaves() {
        if leaf.code == Code::Pad || leaf.total() == 0 {
            continue;
        }
        let end = leaf
            .repeats
            .iter()
            .fold(leaf.offset.saturating_add(leaf.count.saturating_mul(leaf.size)), |end, r| {
                // r.count >= 1: total() > 0.
                end.saturating_add(r.count.saturating_sub(1).saturating_mul(r.stride))
            });
        if end > itemsize {
            return Err(Error::itemsize(format_args!(
                "format \"{format}\" places a '{}' value up to byte {end}, beyond the itemsize {itemsize}",
                leaf.code.as_str()
            )));
        }
    }
    Ok(())
}
