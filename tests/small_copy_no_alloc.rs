//! Planning and running a small copy takes no heap allocation (issue 5): a counting global
//! allocator watches `pybuf_to_contiguous`, `pybuf_copy` and `pybuf_from_contiguous` on
//! small strided, transposed and 3-D views.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pybuf::ffi::copy::{pybuf_copy, pybuf_from_contiguous, pybuf_to_contiguous};
use pybuf::pybuf_buffer;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A view of doubles at `buf` (one raw pointer shared by all the views of an array: a
/// fresh `&mut` borrow per view would invalidate the earlier views' pointers).
fn view(buf: *mut f64, shape: &mut [isize], strides: &mut [isize]) -> pybuf_buffer {
    pybuf_buffer {
        buf: buf.cast(),
        len: shape.iter().product::<isize>() * 8,
        itemsize: 8,
        ndim: shape.len() as i32,
        shape: shape.as_mut_ptr(),
        strides: strides.as_mut_ptr(),
        ..pybuf_buffer::zeroed()
    }
}

#[test]
fn small_copies_do_not_allocate() {
    let mut a: Vec<f64> = (0..64).map(f64::from).collect();
    let mut out = vec![0f64; 64];
    let mut b = vec![0f64; 64];
    // A 4x4 transpose, a 2x3x4 permutation and a strided 1-D view.
    let (mut s2, mut t2) = ([4isize, 4], [8isize, 32]);
    let (mut s3, mut t3) = ([2isize, 3, 4], [8isize, 128, 16]);
    let (mut s1, mut t1) = ([5isize], [24isize]);
    let pa = a.as_mut_ptr();
    let views = [view(pa, &mut s2, &mut t2), view(pa, &mut s3, &mut t3), view(pa, &mut s1, &mut t1)];
    // Warm up once (the thread's error slot may initialise lazily).
    // SAFETY: each view's elements lie within `a` (64 doubles); `out` holds 64 doubles.
    unsafe { assert_eq!(pybuf_to_contiguous(out.as_mut_ptr().cast(), &views[0], views[0].len, b'C' as _), 0) };
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for v in &views {
        for order in [b'C', b'F', b'A'] {
            // SAFETY: as above.
            unsafe {
                assert_eq!(pybuf_to_contiguous(out.as_mut_ptr().cast(), v, v.len, order as _), 0);
                let mut dst = *v;
                dst.buf = b.as_mut_ptr().cast();
                assert_eq!(pybuf_from_contiguous(&dst, out.as_ptr().cast(), v.len, order as _), 0);
                assert_eq!(pybuf_copy(&dst, v), 0);
            }
        }
    }
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst) - before, 0, "a small copy allocated");
    // The 4x4 transpose really transposed.
    // SAFETY: as above.
    unsafe { pybuf_to_contiguous(out.as_mut_ptr().cast(), &views[0], 128, b'C' as _) };
    assert_eq!(&out[..4], &[0.0, 4.0, 8.0, 12.0]);
}
