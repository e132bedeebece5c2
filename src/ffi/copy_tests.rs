//! `pybuf_to_contiguous`'s small-copy path against its full path: random views, valid and
//! malformed (every field the full path checks, at and around the small-copy limits),
//! into separate and overlapping destinations, give the same status, the same message and
//! the same bytes both ways; and the small path takes the small valid ones.

use std::ffi::CStr;

use super::*;
use crate::copy::tests::{pattern, Rng};
use crate::error::{last_message_ptr, last_status, Status};

/// The views' memory: every view the full path accepts reaches at most 100 KB either way
/// from its element 0, and destinations lie within 4 KiB of it (`random_call`).
const ARENA: usize = 1 << 18;
/// Where the views' element 0 lies in the arena (its middle).
const BASE: usize = ARENA / 2;

/// One call: the view's fields (its arrays in vectors), the call's arguments.
#[derive(Clone, Debug)]
struct Call {
    ndim: c_int,
    shape: Option<Vec<isize>>,
    strides: Option<Vec<isize>>,
    suboffsets: Option<Vec<isize>>,
    itemsize: isize,
    len: isize,
    null_buf: bool,
    readonly: c_int,
    order: u8,
    len_arg: isize,
    /// None: NULL; Some(None): a separate buffer; Some(Some(k)): `k` bytes from the
    /// view's element 0 in its arena.
    dst: Option<Option<isize>>,
}

fn pick<T: Copy>(rng: &mut Rng, from: &[T]) -> T {
    from[rng.below(from.len())]
}

fn random_call(rng: &mut Rng) -> Call {
    let e = if rng.below(8) == 0 { pick(rng, &[-1, 0, 4095, 4096, 4097]) } else { pick(rng, &[1, 2, 3, 4, 8, 12, 16, 24]) };
    let ndim = if rng.below(10) == 0 { pick(rng, &[-1, 0, 3, 65]) } else { 1 + rng.below(2) as c_int };
    let n = ndim.max(0) as usize;
    let limit = (crate::copy::SMALL_BYTES / e.max(1)).max(1);
    let side = |rng: &mut Rng| match rng.below(12) {
        0 => pick(rng, &[-1, 0, isize::MAX / 2]),
        1 => limit + rng.below(3) as isize - 1,
        2 => pick(rng, &[4096, 4097]),
        _ => pick(rng, &[1, 2, 3, 4, 5, 7, 8, 9, 16, 17]),
    };
    let mut shape: Vec<isize> = (0..n).map(|_| side(rng)).collect();
    if n == 2 && rng.below(3) == 0 {
        // rows * cols * e around the limit
        shape[0] = pick(rng, &[1, 2, 4, 8]);
        shape[1] = (limit / shape[0] + rng.below(3) as isize - 1).max(1);
    }
    // Element count, if small enough to address (else the view must not be accepted).
    let count = shape.iter().try_fold(1isize, |c, &k| if k < 0 { None } else { c.checked_mul(k) });
    let bytes = count.and_then(|c| c.checked_mul(e)).filter(|&b| b <= 1 << 16 && e > 0);
    let strides = match rng.below(6) {
        0 => None,
        1 => {
            // Transposed: F strides.
            let mut sd = e;
            Some(shape.iter().map(|&k| { let s = sd; sd = sd.wrapping_mul(k.max(1)); s }).collect())
        }
        2 if rng.below(4) == 0 => {
            // Overflowing ones (where they multiply n - 1 >= 1, or cannot be negated).
            Some(shape.iter().map(|&k| if k >= 2 || rng.below(2) == 0 { pick(rng, &[isize::MIN, isize::MAX]) } else { e }).collect())
        }
        _ => {
            // Small ones of either sign, in steps of the itemsize or not.
            Some(
                (0..n)
                    .map(|_| {
                        let s = if rng.below(3) == 0 { rng.below(40) as isize } else { e.max(1) * (1 + rng.below(8) as isize) };
                        if rng.below(4) == 0 { -s } else { s }
                    })
                    .collect(),
            )
        }
    };
    // Keep every view the full path accepts within the arena: strides that reach at most
    // 100 KB either way, or ones that overflow (refused: isize::MIN anywhere, isize::MAX
    // times n - 1 >= 1; isize::MAX times 0 reaches nothing), or no element at all.
    let strides = strides.map(|st: Vec<isize>| {
        let sentinel = |s: isize| s == isize::MIN || s == isize::MAX;
        let reach = st
            .iter()
            .zip(&shape)
            .filter(|(&s, _)| !sentinel(s))
            .fold(0usize, |r, (&s, &k)| r.saturating_add(s.unsigned_abs().saturating_mul((k.max(1) - 1) as usize)));
        if reach > 100_000 && count != Some(0) {
            let mut sd = e;
            let mut c: Vec<isize> = shape.iter().rev().map(|&k| { let s = sd; sd = sd.wrapping_mul(k.max(1)); s }).collect();
            c.reverse();
            c
        } else {
            st
        }
    });
    let len = match (bytes, rng.below(10)) {
        (Some(b), 0) => b + pick(rng, &[-1, 1]),
        (Some(b), _) => b,
        (None, _) => pick(rng, &[0, 8, 64]),
    };
    // A length that validates only with an addressable product: none of the others reach
    // memory, as the full path refuses them (or they hold no element).
    let len = if bytes.is_none() && count != Some(0) { len | 1 } else { len };
    Call {
        ndim,
        shape: (rng.below(16) != 0).then_some(shape),
        strides,
        suboffsets: (rng.below(16) == 0).then(|| vec![-1; n]),
        itemsize: e,
        len,
        null_buf: rng.below(20) == 0,
        readonly: pick(rng, &[0, 0, 0, 1, 1, 2]),
        order: pick(rng, b"CCFFAx"),
        len_arg: if rng.below(12) == 0 { len - 1 } else { len },
        dst: match rng.below(12) {
            0 => None,
            1..=3 => Some(Some(rng.below(2 * 4096 + 1) as isize - 4096)),
            _ => Some(None),
        },
    }
}

/// What a call did: its return value, status and message, and the bytes of both buffers.
#[derive(Debug, PartialEq)]
struct Outcome {
    rc: c_int,
    status: Status,
    message: String,
    arena: Vec<u8>,
    out: Vec<u8>,
}

/// A call's shape, strides and suboffsets, owned while its view points at them.
type Arrays = [Option<Vec<isize>>; 3];

impl Call {
    fn arrays(&self) -> Arrays {
        [self.shape.clone(), self.strides.clone(), self.suboffsets.clone()]
    }

    /// The view the call passes, element 0 at `base`, its arrays in `arrays`.
    fn view(&self, base: *mut u8, arrays: &mut Arrays) -> pybuf_buffer {
        let [shape, strides, suboffsets] = arrays.each_mut().map(|v| v.as_mut().map_or(std::ptr::null_mut(), |v| v.as_mut_ptr()));
        pybuf_buffer {
            buf: if self.null_buf { std::ptr::null_mut() } else { base.cast() },
            len: self.len,
            itemsize: self.itemsize,
            readonly: self.readonly,
            ndim: self.ndim,
            shape,
            strides,
            suboffsets,
            ..pybuf_buffer::zeroed()
        }
    }

    /// The destination the call passes: NULL, `separate`, or a place in the arena.
    fn dst(&self, base: *mut u8, separate: *mut u8) -> *mut c_void {
        match self.dst {
            None => std::ptr::null_mut(),
            Some(None) => separate.cast(),
            Some(Some(k)) => base.wrapping_offset(k).cast(),
        }
    }
}

/// Make `call` on fresh copies of `arena` and a destination buffer, through the whole
/// function (`fast`) or its full path alone.
fn run(call: &Call, arena: &[u8], fast: bool) -> Outcome {
    let mut arena = arena.to_vec();
    let mut out = vec![0xA5u8; (call.len_arg.max(0) as usize).min(1 << 17) + 64];
    let mut arrays = call.arrays();
    let base = arena.as_mut_ptr().wrapping_add(BASE);
    let v = call.view(base, &mut arrays);
    let dst = call.dst(base, out.as_mut_ptr());
    // SAFETY: the view's arrays hold ndim entries; every view the full path accepts lies
    // within the arena, and the destination holds `len_arg` bytes (`random_call`).
    let rc = unsafe {
        if fast {
            pybuf_to_contiguous(dst, &v, call.len_arg, call.order as c_char)
        } else {
            crate::ffi::status(|| to_contiguous_checked(dst, &v, call.len_arg, call.order as c_char))
        }
    };
    // SAFETY: the message is valid until the next pybuf call on this thread.
    let message = unsafe { CStr::from_ptr(last_message_ptr()) }.to_string_lossy().into_owned();
    Outcome { rc, status: last_status(), message, arena, out }
}

/// Whether the small path takes `call` (accepted and disjoint).
fn takes_small_path(call: &Call, arena: &mut [u8]) -> bool {
    let mut arrays = call.arrays();
    let base = arena.as_mut_ptr().wrapping_add(BASE);
    let v = call.view(base, &mut arrays);
    let dst = call.dst(base, std::ptr::dangling_mut::<u8>());
    // SAFETY: the view's arrays hold ndim entries (the suboffsets are not read).
    unsafe { small_to_contiguous(dst, &v, call.len_arg, call.order as c_char) }
        .is_some_and(|r| call.dst == Some(None) || !r.overlaps(dst as *const u8, base))
}

#[test]
fn the_small_path_gives_the_full_paths_status_message_and_bytes() {
    let mut rng = Rng::new(41);
    let mut arena = pattern(&mut rng, ARENA);
    let (mut small, mut ok) = (0, 0);
    let cases = if cfg!(miri) { 30 } else { 20_000 };
    for case in 0..cases {
        let call = random_call(&mut rng);
        let fast = takes_small_path(&call, &mut arena);
        let got = run(&call, &arena, true);
        let want = run(&call, &arena, false);
        assert!(got == want, "case {case}: {call:?}: {} {} {:?} vs {} {} {:?}", got.rc, got.message, got.status, want.rc, want.message, want.status);
        if fast {
            assert_eq!(want.rc, 0, "case {case}: the small path took a call the full path refuses: {call:?}: {}", want.message);
            small += 1;
        }
        ok += (want.rc == 0) as usize;
    }
    // Both paths taken often, and refusals too.
    if !cfg!(miri) {
        assert!(small > cases / 10 && ok > small + cases / 50 && ok < cases * 9 / 10, "{small} small, {ok} accepted of {cases}");
    }
}

/// The 4×4 float64 transpose of `benches/small_copy.c`, and its F-order copy, from a
/// buffer shifted off alignment: the small path's bytes.
#[test]
fn transposes_made_contiguous_at_any_alignment() {
    for shift in 0..16 {
        let mut mem = vec![0u8; 128 + 16];
        for (k, b) in mem.iter_mut().enumerate() {
            *b = k as u8;
        }
        let a = mem.as_mut_ptr().wrapping_add(shift);
        let mut shape = [4isize, 4];
        let mut strides = [8isize, 32];
        let v = pybuf_buffer { buf: a.cast(), len: 128, itemsize: 8, ndim: 2, shape: shape.as_mut_ptr(), strides: strides.as_mut_ptr(), ..pybuf_buffer::zeroed() };
        for (order, transposed) in [(b'C', true), (b'F', false)] {
            let mut out = vec![0u8; 128 + 16];
            let o = out.as_mut_ptr().wrapping_add(15 - shift);
            // SAFETY: the view's 16 items lie in `mem`, the 128 bytes at `o` in `out`.
            assert_eq!(unsafe { pybuf_to_contiguous(o.cast(), &v, 128, order as c_char) }, 0);
            for i in 0..4 {
                for j in 0..4 {
                    // Item (i, j) of the view is item (j, i) of the C array at `a`.
                    let at = if transposed { (i * 4 + j) * 8 } else { (j * 4 + i) * 8 };
                    let want = &mem[shift + (j * 4 + i) * 8..][..8];
                    assert_eq!(&out[15 - shift + at..][..8], want, "shift {shift}, order {}", order as char);
                }
            }
        }
    }
}
