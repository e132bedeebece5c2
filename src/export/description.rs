//! A description of exported memory, and filling views from it by request flags.

use std::ffi::{c_char, c_int};

use crate::abi::*;
use crate::error::{Error, Result};
use crate::format;
use crate::layout::{self, Geometry, Order, MAX_NDIM};

/// What an exporter exports: memory and the typed, strided array that lies in it.
/// Owns copies of every array and of the format, so the caller's may be freed.
#[derive(Debug, Clone)]
pub struct Description {
    /// The start of the memory block.
    base: *mut u8,
    /// Byte offset of element 0 from `base`.
    offset: isize,
    readonly: bool,
    /// The format, NUL-terminated; "B" when none was given. The arrays are `Vec`s, not
    /// boxes or a `CString`: filled views point into their heap data, and moving a `Vec`
    /// (into an `Arc` or a view's block) keeps such pointers valid under Rust's aliasing
    /// rules, where moving a `Box` would not.
    format: Vec<u8>,
    itemsize: isize,
    shape: Vec<isize>,
    strides: Vec<isize>,
    /// Empty, with `indirect` false, when there are none (not an `Option<Vec>`: a `None`
    /// leaves the vector's bytes uninitialised, and optimised code that tests them before
    /// the discriminant, which is sound, still makes valgrind report them).
    suboffsets: Vec<isize>,
    indirect: bool,
    c_contiguous: bool,
    f_contiguous: bool,
}

// SAFETY: a Description only carries the address of memory that its creator vouched for;
// it never reads or writes that memory itself, and all its other fields are owned values.
unsafe impl Send for Description {}
// SAFETY: as above; shared access only reads the owned fields.
unsafe impl Sync for Description {}

/// The parts of a description as given by a caller.
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a> {
    pub base: *mut u8,
    pub size: isize,
    pub offset: isize,
    pub readonly: bool,
    pub format: Option<&'a [u8]>,
    /// 0: take the itemsize from the format.
    pub itemsize: isize,
    pub shape: &'a [isize],
    /// `None`: C-contiguous.
    pub strides: Option<&'a [isize]>,
    pub suboffsets: Option<&'a [isize]>,
}

impl Description {
    /// Validate and copy a description: the format parses and agrees with the itemsize,
    /// the geometry is valid, and every byte the array reaches directly (up to and
    /// including the first pointer read for suboffsets) lies within `[base, base + size)`.
    pub fn new(p: &Parts<'_>) -> Result<Description> {
        if p.size < 0 {
            return Err(Error::argument(format_args!("memory size {} is negative", p.size)));
        }
        if p.base.is_null() && p.size > 0 {
            return Err(Error::null(format_args!("buf is NULL with len = {}", p.size)));
        }
        let fmt = p.format.unwrap_or(b"B");
        let fsize = format::size_from_format(fmt)?;
        let itemsize = match p.itemsize {
            0 => fsize,
            n if n == fsize => n,
            n => {
                return Err(Error::itemsize(format_args!(
                    "itemsize = {n} but format \"{}\" has size {fsize}",
                    String::from_utf8_lossy(fmt)
                )))
            }
        };
        if itemsize <= 0 {
            return Err(Error::itemsize(format_args!(
                "format \"{}\" has size {itemsize}; an item needs at least one byte",
                String::from_utf8_lossy(fmt)
            )));
        }
        let items = layout::item_count(p.shape)?;
        let len = items.checked_mul(itemsize).ok_or_else(|| {
            Error::overflow(format_args!("product(shape) = {items} times itemsize {itemsize} overflows"))
        })?;
        let geom = Geometry { len, itemsize, shape: p.shape, strides: p.strides, suboffsets: p.suboffsets };
        geom.validate()?;
        let mut sbuf = [0isize; MAX_NDIM];
        let strides = geom.strides_or_c(&mut sbuf);
        check_extent(p, itemsize, strides, items)?;
        if fmt.contains(&0) {
            return Err(Error::format("format contains a NUL byte"));
        }
        let mut format = Vec::with_capacity(fmt.len() + 1);
        format.extend_from_slice(fmt);
        format.push(0);
        Ok(Description {
            base: p.base,
            offset: p.offset,
            readonly: p.readonly,
            format,
            itemsize,
            shape: p.shape.into(),
            strides: strides.into(),
            suboffsets: p.suboffsets.map_or_else(Vec::new, <[isize]>::to_vec),
            indirect: p.suboffsets.is_some(),
            c_contiguous: geom.is_contiguous(Order::C),
            f_contiguous: geom.is_contiguous(Order::F),
        })
    }

    /// The geometry of the whole array.
    pub fn geometry(&self) -> Geometry<'_> {
        Geometry {
            len: self.len(),
            itemsize: self.itemsize,
            shape: &self.shape,
            strides: Some(&self.strides),
            suboffsets: self.indirect.then_some(&self.suboffsets[..]),
        }
    }

    /// product(shape) * itemsize.
    pub fn len(&self) -> isize {
        self.shape.iter().product::<isize>() * self.itemsize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// The same description with read-only views.
    pub fn with_readonly(&self) -> Description {
        Description { readonly: true, ..self.clone() }
    }

    /// Byte offset of element 0 from the memory block's start.
    pub fn offset(&self) -> isize {
        self.offset
    }

    /// One past the highest byte the array reaches directly, from the memory block's
    /// start (`offset` for an empty array; a validated description's bytes fit).
    pub fn end(&self) -> isize {
        match self.geometry().extent() {
            Some((_, hi)) if !self.is_empty() => self.offset.saturating_add(hi),
            _ => self.offset,
        }
    }

    /// Fill `view` for a request with `flags`, exactly as CPython's `_testbuffer.ndarray`
    /// answers requests. The view's arrays and format point into this description, so
    /// they stay valid as long as it does. `obj` is never written (it belongs to the
    /// caller; a Cython `__getbuffer__` has set it already), `internal` is set to NULL for
    /// the caller to fill. On failure nothing is written.
    /// A 0-d view has NULL shape, strides and suboffsets, as the buffer protocol requires.
    pub fn fill(&self, view: &mut pybuf_buffer, flags: c_int) -> Result<()> {
        crate::abi::check_flags(flags)?;
        let wants = |f: c_int| flags & f == f;
        if wants(PYBUF_WRITABLE) && self.readonly {
            return Err(Error::readonly("PYBUF_WRITABLE requested but the memory is read-only"));
        }
        if wants(PYBUF_C_CONTIGUOUS) && !self.c_contiguous {
            return Err(Error::request("PYBUF_C_CONTIGUOUS requested but the memory is not C-contiguous"));
        }
        if wants(PYBUF_F_CONTIGUOUS) && !self.f_contiguous {
            return Err(Error::request("PYBUF_F_CONTIGUOUS requested but the memory is not Fortran-contiguous"));
        }
        if wants(PYBUF_ANY_CONTIGUOUS) && !(self.c_contiguous || self.f_contiguous) {
            return Err(Error::request("PYBUF_ANY_CONTIGUOUS requested but the memory is neither C- nor Fortran-contiguous"));
        }
        if !wants(PYBUF_INDIRECT) && self.indirect {
            return Err(Error::request("the memory has suboffsets but PYBUF_INDIRECT was not requested"));
        }
        if !wants(PYBUF_STRIDES) && !self.c_contiguous {
            return Err(Error::request("PYBUF_STRIDES not requested but the memory is not C-contiguous"));
        }
        if !wants(PYBUF_ND) && wants(PYBUF_FORMAT) {
            return Err(Error::request(
                "PYBUF_FORMAT requested without PYBUF_ND: a shapeless view is unsigned bytes and cannot carry a format",
            ));
        }
        let shaped = wants(PYBUF_ND);
        let ptr_or_null = |s: &[isize], keep: bool| {
            if keep && !s.is_empty() { s.as_ptr() as *mut isize } else { std::ptr::null_mut() }
        };
        // Field by field: `obj` is neither read nor written.
        view.buf = self.base.wrapping_offset(self.offset).cast();
        view.len = self.len();
        view.itemsize = self.itemsize;
        view.readonly = c_int::from(self.readonly);
        view.ndim = if shaped { self.shape.len() as c_int } else { 1 };
        view.format = if wants(PYBUF_FORMAT) { self.format.as_ptr() as *mut c_char } else { std::ptr::null_mut() };
        view.shape = ptr_or_null(&self.shape, shaped);
        view.strides = ptr_or_null(&self.strides, wants(PYBUF_STRIDES));
        view.suboffsets = ptr_or_null(&self.suboffsets, self.indirect);
        view.internal = std::ptr::null_mut();
        Ok(())
    }
}

/// Every byte reached without following a pointer lies within the memory block.
fn check_extent(p: &Parts<'_>, itemsize: isize, strides: &[isize], items: isize) -> Result<()> {
    if items == 0 {
        return Ok(());
    }
    // Dimensions up to the first suboffset are addressed directly; at that dimension a
    // pointer is read, so the "item" there is a pointer.
    let first_sub = p.suboffsets.and_then(|s| s.iter().position(|&o| o >= 0));
    let (dims, unit) = match first_sub {
        Some(k) => (k + 1, std::mem::size_of::<*mut u8>() as isize),
        None => (p.shape.len(), itemsize),
    };
    let (mut lo, mut hi) = (p.offset, p.offset.checked_add(unit));
    for (&stride, &n) in strides.iter().zip(p.shape.iter()).take(dims) {
        let span = stride * (n - 1); // bounded by Geometry::validate
        if span < 0 {
            lo = lo.checked_add(span).ok_or_else(|| Error::overflow("offset + extent overflows"))?;
        } else {
            hi = hi.and_then(|h| h.checked_add(span));
        }
    }
    let hi = hi.ok_or_else(|| Error::overflow("offset + extent overflows"))?;
    if lo < 0 || hi > p.size {
        return Err(Error::length(format_args!(
            "the array reaches bytes [{lo}, {hi}) relative to buf, outside the {}-byte memory",
            p.size
        )));
    }
    Ok(())
}
