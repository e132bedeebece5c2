//! Shared pieces of the Rust tests of the `extern "C"` surface (`tests/ffi_*.rs`).
//!
//! Those tests call the C functions from Rust, as a C caller would, so that the whole
//! `ffi` layer runs under Miri (`make miri`), which cannot run the C tests. They check
//! statuses, messages, results and guard bytes, like the C tests do.
#![allow(dead_code)]

use std::ffi::{c_char, c_int, CStr, CString};

use pybuf::abi::{pybuf_buffer, pybuf_ssize_t};
use pybuf::error::Status;
use pybuf::ffi::error::{pybuf_last_error, pybuf_last_status};

/// Fewer random cases under Miri, which is ~1000× slower than native code.
pub fn cases(native: usize) -> usize {
    if cfg!(miri) {
        (native / 50).max(3)
    } else {
        native
    }
}

/// xorshift64*: deterministic, so a failure reproduces from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A value in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The calling thread's last status and message.
pub fn last() -> (c_int, String) {
    let status = pybuf_last_status();
    let message = pybuf_last_error();
    assert!(!message.is_null(), "pybuf_last_error returned NULL");
    // SAFETY: pybuf_last_error returns a NUL-terminated string valid until the next call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned();
    (status, text)
}

/// Assert that a call returned `expected` (as a status), recorded it, and (for errors)
/// set a non-empty message.
#[track_caller]
pub fn expect_status(returned: c_int, expected: Status) {
    let (status, message) = last();
    assert_eq!(returned, expected as c_int, "returned status (message: {message:?})");
    assert_eq!(status, expected as c_int, "pybuf_last_status");
    if expected != Status::Ok {
        assert!(!message.is_empty(), "an error without a message");
    }
}

/// Assert that the last call failed with `expected` and set a message (for functions that
/// return a value rather than a status).
#[track_caller]
pub fn expect_error(expected: Status) {
    let (status, message) = last();
    assert_eq!(status, expected as c_int, "pybuf_last_status (message: {message:?})");
    assert!(!message.is_empty(), "an error without a message");
}

/// Assert that the last call succeeded.
#[track_caller]
pub fn expect_ok() {
    let (status, message) = last();
    assert_eq!(status, 0, "pybuf_last_status (message: {message:?})");
}

/// A strided N-D array in memory this struct owns, and the view of it a C caller would
/// build by hand. `view()` points into the struct: keep it alive (and unmoved in its
/// heap parts, which moving the struct does not change) while the view is used.
pub struct Array {
    pub data: Vec<u8>,
    /// Byte offset of element 0 in `data`.
    pub offset: usize,
    pub itemsize: pybuf_ssize_t,
    pub shape: Vec<pybuf_ssize_t>,
    pub strides: Vec<pybuf_ssize_t>,
    pub suboffsets: Option<Vec<pybuf_ssize_t>>,
    pub format: Option<CString>,
    pub readonly: bool,
    /// Pointers stored in `data` (PIL-style views): at byte `.0` of `data`, the address
    /// of byte `.1` of `data`. `relocate` writes them; `duplicate` rewrites them.
    pub pointers: Vec<(usize, usize)>,
}

impl Array {
    /// A C-contiguous array of `shape` with items of `itemsize` bytes, filled with
    /// distinct byte patterns (byte i is `i * 7 + 1` mod 251).
    pub fn c(shape: &[pybuf_ssize_t], itemsize: pybuf_ssize_t, format: Option<&str>) -> Array {
        let strides = contiguous_strides(shape, itemsize, b'C');
        let size = shape.iter().product::<isize>() as usize * itemsize as usize;
        Array::with_layout(size, 0, shape, &strides, itemsize, format)
    }

    /// An array of `size` bytes whose element 0 is at `offset`, with the given strides.
    pub fn with_layout(
        size: usize,
        offset: usize,
        shape: &[pybuf_ssize_t],
        strides: &[pybuf_ssize_t],
        itemsize: pybuf_ssize_t,
        format: Option<&str>,
    ) -> Array {
        Array {
            data: (0..size).map(|i| (i * 7 + 1) as u8 % 251).collect(),
            offset,
            itemsize,
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            suboffsets: None,
            format: format.map(|f| CString::new(f).unwrap()),
            readonly: false,
            pointers: Vec::new(),
        }
    }

    /// A random strided layout of `shape` (`random_layout`) over fresh memory.
    pub fn random(rng: &mut Rng, shape: &[pybuf_ssize_t], itemsize: pybuf_ssize_t) -> Array {
        let (strides, offset, size) = random_layout(rng, shape, itemsize);
        Array::with_layout(size, offset, shape, &strides, itemsize, None)
    }

    /// An array with suboffsets (PIL-style) in the dimensions `pointer_dims` (ascending):
    /// indexing up to each of them reaches a pointer slot, and the pointer (plus the
    /// dimension's suboffset) leads to a separate block for the dimensions after it. Every
    /// level is a `random_layout` (gaps, permuted and reversed dimensions) with some
    /// padding before each block.
    pub fn indirect(rng: &mut Rng, shape: &[pybuf_ssize_t], itemsize: pybuf_ssize_t, pointer_dims: &[usize]) -> Array {
        assert!(pointer_dims.windows(2).all(|w| w[0] < w[1]) && pointer_dims.iter().all(|&d| d < shape.len()));
        let top = Level::random(rng, shape, itemsize, pointer_dims);
        let mut data = Vec::new();
        let mut pointers = Vec::new();
        let offset = top.place(&mut data, &mut pointers);
        let (mut strides, mut suboffsets) = (Vec::new(), Vec::new());
        let mut level = Some(&top);
        while let Some(l) = level {
            strides.extend_from_slice(&l.strides);
            suboffsets.extend(std::iter::repeat_n(-1, l.shape.len()));
            if let Some(child) = &l.child {
                *suboffsets.last_mut().unwrap() = (child.pad + child.offset) as pybuf_ssize_t;
            }
            level = l.child.as_deref();
        }
        let mut a = Array::with_layout(data.len(), offset, shape, &strides, itemsize, None);
        a.suboffsets = Some(suboffsets);
        a.pointers = pointers;
        a.relocate();
        a
    }

    /// The offset in `data` of the element at `index`, by PEP 3118's rule worked out here
    /// (no pybuf call): in each dimension add index times stride, then, where the
    /// suboffset is non-negative, follow the pointer stored there and add the suboffset.
    pub fn element_offset(&self, index: &[pybuf_ssize_t]) -> usize {
        let ptr = std::mem::size_of::<*mut u8>();
        let base = self.data.as_ptr() as isize;
        let mut at = self.offset as isize;
        for (k, &i) in index.iter().enumerate() {
            at += i * self.strides[k];
            if let Some(s) = self.suboffsets.as_ref().map(|s| s[k]).filter(|&s| s >= 0) {
                let slot = &self.data[at as usize..at as usize + ptr];
                at = usize::from_ne_bytes(slot.try_into().unwrap()) as isize - base + s;
            }
        }
        at as usize
    }

    /// The order 'A' means for this array: 'F' when it is F-contiguous and not
    /// C-contiguous (never with suboffsets), else 'C'; 'C' and 'F' as they are.
    pub fn effective_order(&self, order: u8) -> u8 {
        if order != b'A' {
            return order;
        }
        let c = is_contiguous_in(&self.shape, &self.strides, self.itemsize, b'C');
        let f = is_contiguous_in(&self.shape, &self.strides, self.itemsize, b'F');
        if self.suboffsets.is_none() && f && !c {
            b'F'
        } else {
            b'C'
        }
    }

    /// Call `f` with every index in the sequence of `order` ('C', 'F' or 'A').
    pub fn for_each_index(&self, order: u8, mut f: impl FnMut(&[pybuf_ssize_t])) {
        let n = self.shape.len();
        let dims: Vec<usize> = if self.effective_order(order) == b'F' { (0..n).collect() } else { (0..n).rev().collect() };
        let count: isize = self.shape.iter().product();
        let mut index = vec![0; n];
        for _ in 0..count {
            f(&index);
            for &k in &dims {
                index[k] += 1;
                if index[k] < self.shape[k] {
                    break;
                }
                index[k] = 0;
            }
        }
    }

    /// The elements' bytes in `order`, read here element by element (no pybuf call): what
    /// `pybuf_to_contiguous` must give.
    pub fn stream(&self, order: u8) -> Vec<u8> {
        let n = self.itemsize as usize;
        let mut out = Vec::with_capacity(self.count() as usize * n);
        self.for_each_index(order, |ix| {
            let at = self.element_offset(ix);
            out.extend_from_slice(&self.data[at..at + n]);
        });
        out
    }

    /// Store the whole elements among `bytes` (the elements in `order`, from the first)
    /// element by element (no pybuf call): what `pybuf_from_contiguous` must do.
    pub fn store_stream(&mut self, order: u8, bytes: &[u8]) {
        let n = self.itemsize as usize;
        let mut offsets = Vec::with_capacity(bytes.len() / n);
        self.for_each_index(order, |ix| {
            if offsets.len() < bytes.len() / n {
                offsets.push(self.element_offset(ix));
            }
        });
        for (at, item) in offsets.into_iter().zip(bytes.chunks_exact(n)) {
            self.data[at..at + n].copy_from_slice(item);
        }
    }

    /// Write the `pointers` into `data`.
    pub fn relocate(&mut self) {
        let base = self.data.as_mut_ptr();
        for &(slot, target) in &self.pointers {
            assert!(slot + std::mem::size_of::<*mut u8>() <= self.data.len() && target <= self.data.len());
            // SAFETY: the slot lies within `data` (checked above); an unaligned write of
            // a pointer, as foreign PIL-style memory may hold them.
            unsafe { base.add(slot).cast::<*mut u8>().write_unaligned(base.add(target)) };
        }
    }

    /// A copy with its own memory (the same bytes, its pointers into its own memory).
    pub fn duplicate(&self) -> Array {
        let mut a = Array {
            data: self.data.clone(),
            offset: self.offset,
            itemsize: self.itemsize,
            shape: self.shape.clone(),
            strides: self.strides.clone(),
            suboffsets: self.suboffsets.clone(),
            format: self.format.clone(),
            readonly: self.readonly,
            pointers: self.pointers.clone(),
        };
        a.relocate();
        a
    }

    /// The bytes of `data` with the pointer slots zeroed: what two duplicates share.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        for &(slot, _) in &self.pointers {
            out[slot..slot + std::mem::size_of::<*mut u8>()].fill(0);
        }
        out
    }

    /// The number of elements.
    pub fn count(&self) -> pybuf_ssize_t {
        self.shape.iter().product()
    }

    /// A view of the array, as a C caller fills one by hand (`obj` and `internal` NULL).
    pub fn view(&mut self) -> pybuf_buffer {
        let mut v = pybuf_buffer::zeroed();
        // SAFETY: `offset` is within `data` (or at its end for an empty array).
        v.buf = unsafe { self.data.as_mut_ptr().add(self.offset) }.cast();
        v.len = self.count() * self.itemsize;
        v.itemsize = self.itemsize;
        v.readonly = self.readonly as c_int;
        v.ndim = self.shape.len() as c_int;
        v.format = self.format.as_ref().map_or(std::ptr::null_mut(), |f| f.as_ptr() as *mut c_char);
        v.shape = self.shape.as_mut_ptr();
        v.strides = self.strides.as_mut_ptr();
        v.suboffsets = self.suboffsets.as_mut().map_or(std::ptr::null_mut(), |s| s.as_mut_ptr());
        v
    }

    /// The bytes of the element at `index`, read through strides (no suboffsets).
    pub fn item(&self, index: &[pybuf_ssize_t]) -> &[u8] {
        let at = self.offset as isize + index.iter().zip(&self.strides).map(|(i, s)| i * s).sum::<isize>();
        &self.data[at as usize..at as usize + self.itemsize as usize]
    }
}

/// One level of an array with suboffsets (`Array::indirect`): the dimensions up to and
/// including the next one with a suboffset, as a strided array of pointer slots (then
/// `child` is the level they point to), or the last dimensions as a strided array of
/// elements.
struct Level {
    shape: Vec<pybuf_ssize_t>,
    strides: Vec<pybuf_ssize_t>,
    /// Of element (or slot) 0 in the block, and the block's size.
    offset: usize,
    size: usize,
    /// Bytes before each block of this level.
    pad: usize,
    child: Option<Box<Level>>,
}

impl Level {
    fn random(rng: &mut Rng, shape: &[pybuf_ssize_t], itemsize: pybuf_ssize_t, pointer_dims: &[usize]) -> Level {
        let pad = 8 * rng.below(3);
        let Some(&e) = pointer_dims.first() else {
            let (strides, offset, size) = random_layout(rng, shape, itemsize);
            return Level { shape: shape.to_vec(), strides, offset, size, pad, child: None };
        };
        let ptr = std::mem::size_of::<*mut u8>() as pybuf_ssize_t;
        let (strides, offset, size) = random_layout(rng, &shape[..=e], ptr);
        let rest: Vec<usize> = pointer_dims[1..].iter().map(|d| d - e - 1).collect();
        let child = Level::random(rng, &shape[e + 1..], itemsize, &rest);
        Level { shape: shape[..=e].to_vec(), strides, offset, size, pad, child: Some(Box::new(child)) }
    }

    /// Append a block of this level (and the blocks its slots point to) to `data`, record
    /// the pointers, and return the offset of its element 0.
    fn place(&self, data: &mut Vec<u8>, pointers: &mut Vec<(usize, usize)>) -> usize {
        let block = data.len() + self.pad;
        data.extend((data.len()..block + self.size).map(|i| (i * 7 + 1) as u8 % 251));
        let start = block + self.offset;
        if let Some(child) = &self.child {
            for index in indices(&self.shape) {
                let slot = start as isize + index.iter().zip(&self.strides).map(|(i, s)| i * s).sum::<isize>();
                let target = data.len();
                child.place(data, pointers);
                pointers.push((slot as usize, target));
            }
        }
        start
    }
}

/// The strides of a contiguous array in C (`b'C'`) or Fortran (`b'F'`) order.
pub fn contiguous_strides(shape: &[pybuf_ssize_t], itemsize: pybuf_ssize_t, order: u8) -> Vec<pybuf_ssize_t> {
    let mut strides = vec![0; shape.len()];
    let mut step = itemsize;
    let dims: Vec<usize> = if order == b'F' { (0..shape.len()).collect() } else { (0..shape.len()).rev().collect() };
    for k in dims {
        strides[k] = step;
        step *= shape[k].max(1);
    }
    strides
}

/// A random strided layout of `shape` with distinct elements: C strides of a padded
/// shape, with gaps between items, dimensions permuted and some reversed. Returns the
/// strides, the offset of element 0 and the size of the memory.
pub fn random_layout(rng: &mut Rng, shape: &[isize], itemsize: isize) -> (Vec<isize>, usize, usize) {
    let n = shape.len();
    let mut order: Vec<usize> = (0..n).collect();
    for k in (1..n).rev() {
        order.swap(k, rng.below(k + 1));
    }
    let mut strides = vec![0; n];
    let mut step = itemsize * (1 + rng.below(2) as isize);
    for &k in order.iter().rev() {
        strides[k] = step;
        step *= shape[k] + rng.below(2) as isize;
        step = step.max(itemsize);
    }
    for s in &mut strides {
        if rng.below(3) == 0 {
            *s = -*s;
        }
    }
    let (mut lo, mut hi) = (0isize, itemsize);
    for (&s, &len) in strides.iter().zip(shape) {
        let span = s * (len - 1).max(0);
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    (strides, (-lo) as usize, (hi - lo) as usize)
}

/// Whether a view of `shape` and byte `strides` is contiguous in `order` ('C' or 'F'),
/// worked out as CPython's `_IsCContiguous` / `_IsFortranContiguous` do.
pub fn is_contiguous_in(shape: &[isize], strides: &[isize], itemsize: isize, order: u8) -> bool {
    if shape.contains(&0) {
        return true;
    }
    let mut sd = itemsize;
    let dims: Vec<usize> = if order == b'F' { (0..shape.len()).collect() } else { (0..shape.len()).rev().collect() };
    for k in dims {
        if shape[k] > 1 && strides[k] != sd {
            return false;
        }
        sd *= shape[k];
    }
    true
}

/// Every index of `shape` in Fortran order (the first index varies fastest).
pub fn indices_f(shape: &[isize]) -> Vec<Vec<isize>> {
    let reversed: Vec<isize> = shape.iter().rev().copied().collect();
    indices(&reversed).into_iter().map(|i| i.into_iter().rev().collect()).collect()
}

/// Every index of `shape`, in C order.
pub fn indices(shape: &[pybuf_ssize_t]) -> Vec<Vec<pybuf_ssize_t>> {
    let count: isize = shape.iter().product();
    let mut out = Vec::with_capacity(count.max(0) as usize);
    let mut index = vec![0; shape.len()];
    for _ in 0..count {
        out.push(index.clone());
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

/// Bytes with guard regions on both sides: `inner()` is the usable part; `intact()`
/// tells whether the guards still hold their pattern.
pub struct Guarded {
    bytes: Vec<u8>,
    n: usize,
}

pub const GUARD: usize = 64;
pub const GUARD_BYTE: u8 = 0xA5;

impl Guarded {
    pub fn new(n: usize) -> Guarded {
        Guarded { bytes: vec![GUARD_BYTE; n + 2 * GUARD], n }
    }
    pub fn ptr(&mut self) -> *mut u8 {
        self.bytes[GUARD..].as_mut_ptr()
    }
    pub fn inner(&self) -> &[u8] {
        &self.bytes[GUARD..GUARD + self.n]
    }
    pub fn intact(&self) -> bool {
        self.bytes[..GUARD].iter().chain(&self.bytes[GUARD + self.n..]).all(|&b| b == GUARD_BYTE)
    }
    /// The whole region, guards included, is still all GUARD_BYTE (nothing written).
    pub fn untouched(&self) -> bool {
        self.bytes.iter().all(|&b| b == GUARD_BYTE)
    }
}

/// A `pybuf_buffer` filled with a recognisable pattern (every field non-zero), to check
/// that a failing call leaves its destination as it was.
pub fn poisoned() -> pybuf_buffer {
    let mut v = pybuf_buffer::zeroed();
    // SAFETY: pybuf_buffer is plain old data; any byte pattern is a valid value of it.
    unsafe { std::ptr::write_bytes(&mut v as *mut pybuf_buffer as *mut u8, 0x5A, std::mem::size_of::<pybuf_buffer>()) };
    v
}

/// Two views are the same bytes (as in "left untouched").
pub fn same_bytes(a: &pybuf_buffer, b: &pybuf_buffer) -> bool {
    let size = std::mem::size_of::<pybuf_buffer>();
    // SAFETY: both point to live pybuf_buffers of `size` bytes; no padding is read as
    // uninitialised because both were fully initialised (zeroed or written whole).
    unsafe {
        std::slice::from_raw_parts(a as *const _ as *const u8, size)
            == std::slice::from_raw_parts(b as *const _ as *const u8, size)
    }
}

/// The description of C-contiguous memory at `buf` (`len` bytes) of `shape` items of
/// `format` (itemsize 0: the format's size), as a C caller writes one.
pub fn c_desc(
    buf: *mut u8,
    len: pybuf_ssize_t,
    format: &'static CStr,
    shape: &[pybuf_ssize_t],
) -> pybuf::ffi::exporter::pybuf_exporter_desc {
    pybuf::ffi::exporter::pybuf_exporter_desc {
        buf: buf.cast(),
        len,
        offset: 0,
        readonly: 0,
        format: format.as_ptr(),
        itemsize: 0,
        ndim: shape.len() as c_int,
        shape: shape.as_ptr(),
        strides: std::ptr::null(),
        suboffsets: std::ptr::null(),
    }
}
