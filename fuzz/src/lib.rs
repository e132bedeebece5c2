//! What the fuzz targets share: memory with guard bytes, views built from fuzz input
//! (valid ones backed by that memory, and malformed ones), and a reference model of the
//! buffer protocol (PEP 3118 addressing, CPython's contiguity rules, libpybuf's
//! documented validation rules) to check libpybuf's C API against.
//!
//! The reference is written from the documentation (README, `include/pybuf.h`), not from
//! libpybuf's source: where the two disagree, one of them has a bug.

use std::ffi::{c_int, CStr, CString};

use libfuzzer_sys::arbitrary::Unstructured;
use pybuf::abi::pybuf_buffer;
use pybuf::ffi::error::{pybuf_last_error, pybuf_last_status};

/// Bytes of guard on each side of every buffer pybuf may write.
pub const GUARD: usize = 64;
pub const GUARD_BYTE: u8 = 0xA5;
/// Pointer tables of PIL-style views: one region per view slot.
pub const PTR_REGION: usize = 128;
pub const SLOTS: usize = 2;
/// The data every backed view's elements lie in.
pub const DATA: usize = 4096;
/// Views with more elements are not backed (memory calls are skipped for them).
pub const MAX_ELEMENTS: usize = 1024;
/// Entries allocated for every shape/strides/suboffsets/indices array, so that a
/// corrupted ndim (up to 64) never makes pybuf read past an array.
pub const ARRAY: usize = 70;

// ---------------------------------------------------------------------------------
// Errors

/// The thread's last message.
pub fn last_message() -> String {
    // SAFETY: pybuf_last_error returns a valid C string owned by the thread.
    unsafe { CStr::from_ptr(pybuf_last_error()) }.to_string_lossy().into_owned()
}

/// A failed call: `rc` is negative, the last status equals it, and a message is set.
pub fn assert_failed(rc: c_int, what: &str) {
    assert!(rc < 0, "{what}: expected a failure, got {rc}");
    assert_eq!(pybuf_last_status(), rc, "{what}: last status differs from the return value");
    assert!(!last_message().is_empty(), "{what}: failed ({rc}) without a message");
}

/// A failure with one of the statuses in `allowed`.
pub fn assert_failed_with(rc: c_int, allowed: &[c_int], what: &str) {
    assert_failed(rc, what);
    assert!(
        allowed.contains(&rc),
        "{what}: status {rc} is not one of {allowed:?}; message: {}",
        last_message()
    );
}

/// A successful call: 0, last status OK, empty message.
pub fn assert_ok(rc: c_int, what: &str) {
    assert_eq!(rc, 0, "{what}: failed: {}", last_message());
    assert_eq!(pybuf_last_status(), 0, "{what}");
    assert!(last_message().is_empty(), "{what}: a message after success");
}

// ---------------------------------------------------------------------------------
// Memory

/// `[guard | pointer table region per slot | data | guard]`, addressed only through raw
/// pointers so that the pointers handed to pybuf stay valid.
pub struct Arena {
    base: *mut u8,
    size: usize,
}

impl Arena {
    pub const SIZE: usize = GUARD + SLOTS * PTR_REGION + DATA + GUARD;

    /// Data filled from the fuzz input (repeated), pointer regions zero, guards set.
    pub fn new(u: &mut Unstructured<'_>) -> Arena {
        let mut mem = vec![0u8; Self::SIZE].into_boxed_slice();
        mem[..GUARD].fill(GUARD_BYTE);
        mem[Self::SIZE - GUARD..].fill(GUARD_BYTE);
        let seed: u64 = u.arbitrary().unwrap_or(0);
        let mut x = seed | 1;
        for b in &mut mem[GUARD + SLOTS * PTR_REGION..Self::SIZE - GUARD] {
            // xorshift: varied bytes so that misplaced copies show
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let size = mem.len();
        let base = Box::into_raw(mem) as *mut u8;
        Arena { base, size }
    }

    pub fn start(&self) -> *mut u8 {
        self.base.wrapping_add(GUARD)
    }
    /// Bytes from `start()` to the end of the data (pointer regions and data).
    pub fn span(&self) -> usize {
        SLOTS * PTR_REGION + DATA
    }
    pub fn ptr_region(&self, slot: usize) -> *mut u8 {
        self.base.wrapping_add(GUARD + slot * PTR_REGION)
    }
    pub fn data(&self) -> *mut u8 {
        self.base.wrapping_add(GUARD + SLOTS * PTR_REGION)
    }
    /// The whole arena, guards included.
    pub fn snapshot(&self) -> Vec<u8> {
        // SAFETY: `base` holds `size` bytes.
        unsafe { std::slice::from_raw_parts(self.base, self.size) }.to_vec()
    }
    /// Offset of `p` in the arena (guards included), for comparing with a snapshot.
    pub fn offset(&self, p: *const u8) -> usize {
        let off = (p as usize).wrapping_sub(self.base as usize);
        assert!(off < self.size, "address {p:p} is outside the arena");
        off
    }
    pub fn contains(&self, p: *const u8, n: usize) -> bool {
        let a = p as usize;
        let lo = self.data() as usize;
        a >= lo && a.checked_add(n).is_some_and(|e| e <= lo + DATA)
    }
    pub fn write(&self, p: *mut u8, bytes: &[u8]) {
        assert!(self.offset(p) + bytes.len() <= self.size);
        // SAFETY: inside the arena.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    }
    pub fn assert_equals(&self, expected: &[u8], what: &str) {
        let now = self.snapshot();
        if let Some(i) = now.iter().zip(expected).position(|(a, b)| a != b) {
            let region = if i < GUARD || i >= self.size - GUARD {
                "a guard"
            } else if i < GUARD + SLOTS * PTR_REGION {
                "a pointer table"
            } else {
                "the data"
            };
            panic!(
                "{what}: arena byte {i} ({region}, data offset {}) is {:#04x}, expected {:#04x}",
                i as isize - (GUARD + SLOTS * PTR_REGION) as isize,
                now[i],
                expected[i]
            );
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: made by Box::into_raw of a boxed slice of `size` bytes.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.base, self.size)) });
    }
}

/// A separate buffer with guards on both sides.
pub struct Guarded {
    pub mem: Vec<u8>,
    pub len: usize,
}

impl Guarded {
    pub fn new(len: usize, fill: u8) -> Guarded {
        let mut mem = vec![GUARD_BYTE; len + 2 * GUARD];
        mem[GUARD..GUARD + len].fill(fill);
        Guarded { mem, len }
    }
    pub fn ptr(&mut self) -> *mut u8 {
        self.mem.as_mut_ptr().wrapping_add(GUARD)
    }
    pub fn data(&self) -> &[u8] {
        &self.mem[GUARD..GUARD + self.len]
    }
    pub fn assert_guards(&self, what: &str) {
        let (a, b) = (&self.mem[..GUARD], &self.mem[GUARD + self.len..]);
        assert!(a.iter().all(|&x| x == GUARD_BYTE), "{what}: guard before the buffer written");
        assert!(b.iter().all(|&x| x == GUARD_BYTE), "{what}: guard after the buffer written");
    }
}

// ---------------------------------------------------------------------------------
// The reference model

/// An order character, as pybuf takes it.
pub fn order_char(u: &mut Unstructured<'_>) -> u8 {
    match u.int_in_range(0u8..=15).unwrap_or(0) {
        0..=4 => b'C',
        5..=9 => b'F',
        10..=13 => b'A',
        14 => *u.choose(&[b'c', b'f', b'a', 0, b'Z', 0xff]).unwrap_or(&b'c'),
        _ => u.arbitrary().unwrap_or(0),
    }
}

pub fn valid_order(o: u8) -> bool {
    matches!(o, b'C' | b'F' | b'A')
}

/// A view's geometry as libpybuf's documentation defines it, from a raw `pybuf_buffer`.
#[derive(Clone, Debug)]
pub struct Geo {
    pub buf: *mut u8,
    pub len: isize,
    pub itemsize: isize,
    pub shape: Vec<isize>,
    pub strides: Option<Vec<isize>>,
    pub subs: Option<Vec<isize>>,
    pub readonly: bool,
}

/// The documented rules of a well-formed view (README "Where libpybuf deliberately
/// differs", `pybuf_buffer` and `pybuf_validate` docs): `None` when pybuf must refuse it.
///
/// # Safety
/// Non-NULL arrays of `v` have `v.ndim` readable entries when 0 <= ndim <= 64.
pub unsafe fn reference_geometry(v: &pybuf_buffer) -> Option<Geo> {
    if v.ndim < 0 || v.ndim > 64 {
        return None;
    }
    let n = v.ndim as usize;
    let mut itemsize = v.itemsize;
    if itemsize <= 0 {
        return None;
    }
    let read = |p: *mut isize| -> Option<Vec<isize>> {
        // SAFETY: forwarded.
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, n) }.to_vec())
    };
    let shape = if let Some(s) = read(v.shape) {
        s
    } else if n == 0 {
        // numpy's 0-d answer to PYBUF_SIMPLE: one item of `len` bytes
        if v.len != itemsize && v.len >= 0 {
            if v.len > 0 {
                itemsize = v.len;
                vec![]
            } else {
                itemsize = 1;
                vec![0]
            }
        } else {
            vec![]
        }
    } else if n == 1 {
        if !v.strides.is_null() || v.len < 0 {
            return None;
        }
        itemsize = 1;
        vec![v.len]
    } else {
        return None;
    };
    if shape.iter().any(|&x| x < 0) {
        return None;
    }
    // product(shape): 0 when any entry is 0, however large the others; else checked.
    let items: isize = if shape.contains(&0) { 0 } else { shape.iter().try_fold(1isize, |a, &x| a.checked_mul(x))? };
    let bytes = items.checked_mul(itemsize)?;
    if bytes != v.len {
        return None;
    }
    let strides = if shape.len() == n { read(v.strides) } else { None };
    let subs = if shape.len() == n { read(v.suboffsets) } else { None };
    if n > 0 && v.strides.is_null() && !v.suboffsets.is_null() {
        return None; // suboffsets need strides (PEP 3118: INDIRECT implies STRIDES)
    }
    let g = Geo { buf: v.buf as *mut u8, len: v.len, itemsize, shape, strides, subs, readonly: v.readonly == 1 };
    if items > 0 {
        // every offset computation fits: sum |s| (n - 1) + sum(sub >= 0) + itemsize
        let mut reach = itemsize as i128;
        for k in 0..g.ndim() {
            let s = g.stride(k) as i128;
            reach += s.abs() * (g.shape[k] as i128 - 1);
            if let Some(subs) = &g.subs {
                if subs[k] >= 0 {
                    reach += subs[k] as i128;
                }
            }
        }
        if reach > isize::MAX as i128 {
            return None;
        }
    }
    if v.buf.is_null() && v.len != 0 {
        return None;
    }
    if v.readonly != 0 && v.readonly != 1 {
        return None;
    }
    Some(g)
}

impl Geo {
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    pub fn items(&self) -> isize {
        self.shape.iter().product()
    }
    pub fn stride(&self, k: usize) -> isize {
        match &self.strides {
            Some(s) => s[k],
            None => self.shape[k + 1..].iter().fold(self.itemsize, |a, &n| a.wrapping_mul(n)),
        }
    }
    fn contiguous_in(&self, dims: impl Iterator<Item = usize>) -> bool {
        let mut sd = self.itemsize;
        for k in dims {
            if self.shape[k] > 1 && self.stride(k) != sd {
                return false;
            }
            sd = sd.wrapping_mul(self.shape[k]);
        }
        true
    }
    /// CPython's `_IsCContiguous`.
    pub fn c_contiguous(&self) -> bool {
        self.strides.is_none() || self.len == 0 || self.contiguous_in((0..self.ndim()).rev())
    }
    /// CPython's `_IsFortranContiguous`.
    pub fn f_contiguous(&self) -> bool {
        if self.len == 0 {
            return true;
        }
        if self.strides.is_none() {
            return self.shape.iter().filter(|&&n| n > 1).count() <= 1;
        }
        self.contiguous_in(0..self.ndim())
    }
    /// CPython's `PyBuffer_IsContiguous` (0 for an unknown order).
    pub fn contiguous(&self, order: u8) -> bool {
        if self.subs.is_some() {
            return false;
        }
        match order {
            b'C' => self.c_contiguous(),
            b'F' => self.f_contiguous(),
            b'A' => self.c_contiguous() || self.f_contiguous(),
            _ => false,
        }
    }
    /// The order a contiguous copy takes: 'A' is F for a view F- but not C-contiguous.
    pub fn effective_order(&self, order: u8) -> u8 {
        match order {
            b'A' if self.contiguous(b'A') && !self.contiguous(b'C') => b'F',
            b'A' => b'C',
            o => o,
        }
    }
    /// Every index in `order` ('F': first fastest, else last fastest), at most `limit`.
    pub fn indices(&self, order: u8, limit: usize) -> Vec<Vec<isize>> {
        let n = self.ndim();
        let mut out = Vec::new();
        if self.shape.contains(&0) {
            return out;
        }
        let mut idx = vec![0isize; n];
        loop {
            if out.len() >= limit {
                return out;
            }
            out.push(idx.clone());
            let dims: Box<dyn Iterator<Item = usize>> =
                if order == b'F' { Box::new(0..n) } else { Box::new((0..n).rev()) };
            let mut done = true;
            for k in dims {
                idx[k] += 1;
                if idx[k] < self.shape[k] {
                    done = false;
                    break;
                }
                idx[k] = 0;
            }
            if done {
                return out;
            }
        }
    }
    /// PEP 3118 addressing (`PyBuffer_GetPointer`); with `deref` false, suboffset
    /// dimensions are not followed (the caller knows there are none).
    ///
    /// # Safety
    /// With suboffsets, the pointers the view announces are readable.
    pub unsafe fn addr(&self, idx: &[isize]) -> *mut u8 {
        let mut p = self.buf;
        for (k, &i) in idx.iter().enumerate() {
            p = p.wrapping_offset(self.stride(k).wrapping_mul(i));
            if let Some(off) = self.subs.as_ref().map(|s| s[k]).filter(|&o| o >= 0) {
                // SAFETY: forwarded.
                p = unsafe { (p as *const *mut u8).read_unaligned() }.wrapping_offset(off);
            }
        }
        p
    }
    /// The addresses of the pointers read on the way to `idx`.
    ///
    /// # Safety
    /// As for `addr`.
    pub unsafe fn pointer_reads(&self, idx: &[isize]) -> Vec<*mut u8> {
        let mut out = Vec::new();
        let mut p = self.buf;
        for (k, &i) in idx.iter().enumerate() {
            p = p.wrapping_offset(self.stride(k).wrapping_mul(i));
            if let Some(off) = self.subs.as_ref().map(|s| s[k]).filter(|&o| o >= 0) {
                out.push(p);
                // SAFETY: forwarded.
                p = unsafe { (p as *const *mut u8).read_unaligned() }.wrapping_offset(off);
            }
        }
        out
    }
    pub fn has_indirection(&self) -> bool {
        self.subs.as_ref().is_some_and(|s| s.iter().any(|&o| o >= 0))
    }
    /// Byte offsets `[lo, hi)` from `buf` of the elements, without suboffsets.
    pub fn direct_extent(&self) -> (isize, isize) {
        if self.items() == 0 {
            return (0, 0);
        }
        let (mut lo, mut hi) = (0isize, self.itemsize);
        for k in 0..self.ndim() {
            let span = self.stride(k) * (self.shape[k] - 1);
            if span < 0 {
                lo += span
            } else {
                hi += span
            }
        }
        (lo, hi)
    }
    /// Whether two elements share a byte (the result of writing them depends on order).
    ///
    /// # Safety
    /// As for `addr`.
    pub unsafe fn self_aliasing(&self) -> bool {
        let mut seen = std::collections::HashSet::new();
        for idx in self.indices(b'C', usize::MAX) {
            // SAFETY: forwarded.
            let p = unsafe { self.addr(&idx) } as usize;
            for b in 0..self.itemsize as usize {
                if !seen.insert(p + b) {
                    return true;
                }
            }
        }
        false
    }
    /// Zero strides where the dimension has several elements (pybuf refuses such a
    /// destination).
    pub fn broadcasts(&self) -> bool {
        self.len > 0
            && self.strides.as_ref().is_some_and(|s| s.iter().zip(&self.shape).any(|(&s, &n)| s == 0 && n > 1))
    }
}

// ---------------------------------------------------------------------------------
// Views from fuzz input

/// A `pybuf_buffer` and the arrays it points to, with what the reference says of it.
pub struct TestView {
    pub shape: Box<[isize; ARRAY]>,
    pub strides: Box<[isize; ARRAY]>,
    pub subs: Box<[isize; ARRAY]>,
    pub format: Option<CString>,
    pub raw: pybuf_buffer,
    /// The reference geometry; `None` when pybuf must refuse the view.
    pub geo: Option<Geo>,
    /// Every element (and pointer) lies in the arena: memory calls are safe.
    pub backed: bool,
    /// Which corruption was applied, if any (for messages).
    pub corruption: Option<&'static str>,
}

/// Hints for making a second view like the first (for copies).
#[derive(Clone, Default)]
pub struct Hint {
    pub shape: Option<Vec<isize>>,
    pub itemsize: Option<isize>,
}

/// The format of `itemsize`-byte items whose values are all the bytes.
pub fn bytes_format(itemsize: isize) -> CString {
    let s = match itemsize {
        1 => "B".to_owned(),
        2 => "H".to_owned(),
        4 => "I".to_owned(),
        8 => "Q".to_owned(),
        n => format!("{n}s"),
    };
    CString::new(s).unwrap()
}

const ITEMSIZES: &[isize] = &[1, 1, 2, 4, 4, 8, 8, 16, 3, 5, 12, 24, 32];

fn small(u: &mut Unstructured<'_>, lo: isize, hi: isize) -> isize {
    u.int_in_range(lo..=hi).unwrap_or(lo)
}

impl TestView {
    fn empty() -> TestView {
        TestView {
            shape: Box::new([1; ARRAY]),
            strides: Box::new([0; ARRAY]),
            subs: Box::new([-1; ARRAY]),
            format: None,
            raw: pybuf_buffer::zeroed(),
            geo: None,
            backed: false,
            corruption: None,
        }
    }

    /// A view in `slot` of `arena`, usually valid and backed, sometimes corrupted.
    pub fn generate(u: &mut Unstructured<'_>, arena: &Arena, slot: usize, hint: &Hint) -> TestView {
        let mut t = TestView::empty();
        let kind = u.int_in_range(0u8..=31).unwrap_or(0);
        let itemsize = hint.itemsize.unwrap_or_else(|| *u.choose(ITEMSIZES).unwrap_or(&1));
        let mut shape_null = false;
        let ndim;
        let mut len_override = None;
        match (kind, &hint.shape) {
            (0, None) => {
                // the answer to PYBUF_SIMPLE: ndim 1, no shape, len bytes
                ndim = 1;
                shape_null = true;
                len_override = Some(small(u, 0, 300));
            }
            (1, None) => {
                // numpy's 0-d answer to PYBUF_SIMPLE: one item of len bytes
                ndim = 0;
                shape_null = true;
                len_override = Some(small(u, 0, 40));
            }
            (_, Some(s)) => {
                ndim = s.len() as i32;
                t.shape[..s.len()].copy_from_slice(s);
            }
            _ => {
                let many = kind == 2;
                ndim = if many { small(u, 5, 9) as i32 } else { small(u, 0, 4) as i32 };
                for k in 0..ndim as usize {
                    t.shape[k] = if many { small(u, 1, 2) } else { small(u, 0, 5).max(small(u, 0, 5)) };
                }
            }
        }
        let n = ndim as usize;
        // strides
        let strides_kind = if shape_null { 0 } else { u.int_in_range(0u8..=5).unwrap_or(0) };
        let c_strides = |t: &mut TestView| {
            let mut sd = itemsize;
            for k in (0..n).rev() {
                t.strides[k] = sd;
                sd *= t.shape[k];
            }
        };
        match strides_kind {
            0 => {}
            1 => c_strides(&mut t),
            2 => {
                let mut sd = itemsize;
                for k in 0..n {
                    t.strides[k] = sd;
                    sd *= t.shape[k];
                }
            }
            3 => {
                for k in 0..n {
                    t.strides[k] = itemsize * small(u, -6, 6);
                }
            }
            4 => {
                for k in 0..n {
                    t.strides[k] = small(u, -70, 70);
                }
            }
            _ => {
                // a C layout with one dimension reversed or stepped
                c_strides(&mut t);
                if n > 0 {
                    let k = small(u, 0, n as isize - 1) as usize;
                    t.strides[k] *= *u.choose(&[-1, 2, -2, 3]).unwrap_or(&-1);
                }
            }
        }
        let mut strides_null = strides_kind == 0;
        // suboffsets: 0 none, 1 all negative, 2 PIL-style on dimension 0
        let sub_kind = if shape_null || n == 0 { 0 } else { *u.choose(&[0u8, 0, 0, 0, 1, 2, 2]).unwrap_or(&0) };
        if sub_kind > 0 {
            if strides_null {
                c_strides(&mut t);
                strides_null = false;
            }
            for k in 0..n {
                t.subs[k] = -small(u, 1, 3);
            }
        }
        let readonly = c_int::from(u.ratio(1u8, 5).unwrap_or(false));
        t.format = u.ratio(2u8, 3).unwrap_or(false).then(|| bytes_format(itemsize));

        // lay the view out in the arena
        let items: isize = if shape_null { 1 } else { t.shape[..n].iter().product() };
        let len = len_override.unwrap_or(items * itemsize);
        t.raw = pybuf_buffer {
            buf: arena.data().cast(),
            obj: std::ptr::null_mut(),
            len,
            itemsize,
            readonly,
            ndim,
            format: t.format.as_ref().map_or(std::ptr::null_mut(), |f| f.as_ptr() as *mut _),
            shape: if shape_null { std::ptr::null_mut() } else { t.shape.as_mut_ptr() },
            strides: if strides_null { std::ptr::null_mut() } else { t.strides.as_mut_ptr() },
            suboffsets: if sub_kind > 0 { t.subs.as_mut_ptr() } else { std::ptr::null_mut() },
            internal: std::ptr::null_mut(),
        };
        // SAFETY: the arrays have ARRAY entries.
        let geo = unsafe { reference_geometry(&t.raw) }.expect("a generated view is valid");
        let place = |u: &mut Unstructured<'_>, lo: isize, hi: isize| -> Option<isize> {
            // an offset o in the data with o + lo >= 0 and o + hi <= DATA
            (hi - lo <= DATA as isize).then(|| small(u, -lo, DATA as isize - hi))
        };
        let elements_ok = (geo.items() as usize) <= MAX_ELEMENTS;
        if sub_kind == 2 {
            // PIL: dimension 0 is a table of row pointers in this slot's region
            let mut rest = geo.clone();
            rest.shape[0] = 1;
            let (lo, hi) = rest.direct_extent();
            let sub0 = small(u, 0, 40);
            t.subs[0] = sub0;
            let s0 = *u.choose(&[8isize, 16, -8, -16, 0, 8]).unwrap_or(&8);
            t.strides[0] = s0;
            let n0 = t.shape[0];
            let span = s0.abs() * (n0 - 1).max(0);
            let table = arena.ptr_region(slot).wrapping_offset(if s0 < 0 { span } else { 0 });
            let table = table.wrapping_add(small(u, 0, (PTR_REGION as isize - span - 8).max(0)) as usize);
            t.raw.buf = table.cast();
            let mut backed = elements_ok;
            for i in 0..n0 {
                let row = match place(u, lo + sub0, hi + sub0) {
                    Some(o) => arena.data().wrapping_offset(o),
                    None => {
                        backed = false;
                        arena.data()
                    }
                };
                arena.write(table.wrapping_offset(i * s0), &(row as usize).to_ne_bytes());
            }
            t.backed = backed;
        } else {
            let (lo, hi) = geo.direct_extent();
            match place(u, lo, hi) {
                Some(o) => {
                    t.raw.buf = arena.data().wrapping_offset(o).cast();
                    t.backed = elements_ok;
                }
                None => t.backed = false,
            }
        }
        // SAFETY: as above.
        t.geo = unsafe { reference_geometry(&t.raw) };
        assert!(t.geo.is_some());
        if u.ratio(1u8, 4).unwrap_or(false) {
            t.corrupt(u);
        }
        t
    }

    fn recompute_len(&mut self) {
        let n = self.raw.ndim.clamp(0, 64) as usize;
        self.raw.len = self.shape[..n].iter().fold(self.raw.itemsize, |a, &b| a.wrapping_mul(b));
    }

    fn make_nonempty(&mut self) {
        let n = self.raw.ndim.clamp(0, 64) as usize;
        for k in 0..n {
            self.shape[k] = self.shape[k].max(1);
        }
        self.recompute_len();
    }

    /// Make the view malformed in one documented way. Afterwards the reference decides
    /// again whether it is valid (a corruption may fail to corrupt); memory calls are
    /// made only on views the reference refuses or that are still backed.
    pub fn corrupt(&mut self, u: &mut Unstructured<'_>) {
        let n = self.raw.ndim.clamp(0, 64) as usize;
        let which = u.int_in_range(0u8..=13).unwrap_or(0);
        let name = match which {
            0 => {
                self.raw.ndim = *u.choose(&[-1, 65, 66, 1000, i32::MIN, i32::MAX, -64]).unwrap_or(&-1);
                "ndim out of range"
            }
            1 => {
                self.raw.itemsize = *u.choose(&[0, -1, -8, isize::MIN]).unwrap_or(&0);
                "itemsize <= 0"
            }
            2 if n > 0 && !self.raw.shape.is_null() => {
                let k = small(u, 0, n as isize - 1) as usize;
                self.shape[k] = *u.choose(&[-1, -3, isize::MIN, -(1 << 40)]).unwrap_or(&-1);
                "a negative shape"
            }
            3 => {
                let d = *u.choose(&[1, -1, 8, -8, 1 << 20, isize::MIN / 2]).unwrap_or(&1);
                self.raw.len = self.raw.len.wrapping_add(d);
                "len disagrees with shape"
            }
            4 => {
                self.raw.len = -1;
                "negative len"
            }
            5 if n > 0 && !self.raw.shape.is_null() => {
                self.make_nonempty();
                self.shape[0] = isize::MAX / self.raw.itemsize.max(1);
                if n > 1 {
                    self.shape[1] = self.shape[1].max(2);
                } else {
                    self.shape[0] = isize::MAX;
                }
                "shape x itemsize overflows"
            }
            6 if n > 0 && !self.raw.shape.is_null() => {
                self.make_nonempty();
                let k = small(u, 0, n as isize - 1) as usize;
                self.shape[k] = self.shape[k].max(2);
                self.recompute_len();
                if self.raw.strides.is_null() {
                    let mut sd = self.raw.itemsize;
                    for j in (0..n).rev() {
                        self.strides[j] = sd;
                        sd *= self.shape[j];
                    }
                    self.raw.strides = self.strides.as_mut_ptr();
                }
                self.strides[k] = *u.choose(&[isize::MAX, isize::MIN, isize::MAX / 2 + 1, -isize::MAX]).unwrap_or(&isize::MAX);
                "strides overflow"
            }
            7 if n > 0 && !self.raw.shape.is_null() => {
                self.make_nonempty();
                if self.raw.strides.is_null() {
                    let mut sd = self.raw.itemsize;
                    for j in (0..n).rev() {
                        self.strides[j] = sd;
                        sd *= self.shape[j];
                    }
                    self.raw.strides = self.strides.as_mut_ptr();
                }
                let k = small(u, 0, n as isize - 1) as usize;
                self.subs[k] = isize::MAX - small(u, 0, 3);
                self.raw.suboffsets = self.subs.as_mut_ptr();
                "suboffsets overflow"
            }
            8 if self.raw.len > 0 => {
                self.raw.buf = std::ptr::null_mut();
                "buf NULL with len > 0"
            }
            9 => {
                self.raw.readonly = *u.choose(&[2, -1, i32::MIN, 255]).unwrap_or(&2);
                "readonly not 0 or 1"
            }
            10 if n >= 2 => {
                self.raw.shape = std::ptr::null_mut();
                "shape NULL with ndim >= 2"
            }
            11 if n == 1 => {
                self.raw.shape = std::ptr::null_mut();
                self.raw.strides = self.strides.as_mut_ptr();
                "shape NULL with strides"
            }
            12 if n > 0 && !self.raw.shape.is_null() => {
                // overflow of the product of the shape alone
                self.make_nonempty();
                self.shape[0] = isize::MAX;
                if n > 1 {
                    self.shape[n - 1] = 3;
                }
                "product(shape) overflows"
            }
            _ => {
                self.raw.len = self.raw.len.wrapping_add(self.raw.itemsize.max(1));
                "len one item too long"
            }
        };
        self.corruption = Some(name);
        // SAFETY: the arrays have ARRAY entries.
        let geo = unsafe { reference_geometry(&self.raw) };
        if geo.is_some() {
            // still well formed (say, a strides change on an empty view): keep it only if
            // it is still backed by the arena
            self.backed = self.backed && self.geo.as_ref().zip(geo.as_ref()).is_some_and(|(a, b)| {
                a.buf == b.buf && a.shape == b.shape && a.strides == b.strides && a.subs == b.subs && a.itemsize == b.itemsize
            });
        } else {
            self.backed = false;
        }
        self.geo = geo;
    }

    pub fn ptr(&self) -> *const pybuf_buffer {
        &self.raw
    }

    /// The reference geometry of a view that pybuf accepts and whose memory is in the
    /// arena.
    pub fn backed_geo(&self) -> Option<&Geo> {
        self.geo.as_ref().filter(|_| self.backed)
    }

    pub fn describe(&self) -> String {
        format!(
            "view ndim {} itemsize {} len {} shape {:?} strides {:?} subs {:?} readonly {} corruption {:?}",
            self.raw.ndim,
            self.raw.itemsize,
            self.raw.len,
            (!self.raw.shape.is_null()).then(|| &self.shape[..self.raw.ndim.clamp(0, 8) as usize]),
            (!self.raw.strides.is_null()).then(|| &self.strides[..self.raw.ndim.clamp(0, 8) as usize]),
            (!self.raw.suboffsets.is_null()).then(|| &self.subs[..self.raw.ndim.clamp(0, 8) as usize]),
            self.raw.readonly,
            self.corruption
        )
    }
}

/// Read `n` bytes at `p`.
///
/// # Safety
/// `p` is readable for `n` bytes.
pub unsafe fn read_bytes(p: *const u8, n: usize) -> Vec<u8> {
    // SAFETY: forwarded.
    unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
}
