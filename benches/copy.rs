//! Criterion benchmarks of the copy engine's kernels, called through the safe core.
//! The side-by-side comparison with numpy and CPython is `benches/side_by_side.py`
//! (`make bench`); the per-call overhead from C is in `benches/transpose.c`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pybuf::copy::{copy, Side};
use pybuf::layout::Geometry;

fn run(c: &mut Criterion, name: &str, shape: &[isize], src_strides: &[isize], itemsize: isize) {
    let count: isize = shape.iter().product();
    let len = count * itemsize;
    // Source memory large enough for the strides (all positive here).
    let reach: isize = shape.iter().zip(src_strides).map(|(&n, &s)| (n - 1) * s).sum::<isize>() + itemsize;
    let mut src = vec![1u8; reach as usize];
    let mut dst = vec![0u8; len as usize];
    let sg = Geometry { len, itemsize, shape, strides: Some(src_strides), suboffsets: None };
    let dg = Geometry { len, itemsize, shape, strides: None, suboffsets: None };
    let mut group = c.benchmark_group("to_contiguous");
    group.throughput(Throughput::Bytes(len as u64));
    group.bench_function(BenchmarkId::new(name, len), |b| {
        b.iter(|| {
            // SAFETY: both buffers hold every element of their geometries.
            unsafe {
                copy(Side { ptr: dst.as_mut_ptr(), geom: dg }, Side { ptr: src.as_mut_ptr(), geom: sg }).unwrap()
            }
        })
    });
    group.finish();
}

fn kernels(c: &mut Criterion) {
    run(c, "contiguous f64 1M", &[1 << 20], &[8], 8);
    run(c, "transpose f64 4x4", &[4, 4], &[8, 32], 8);
    run(c, "transpose f64 1024^2", &[1024, 1024], &[8, 8192], 8);
    run(c, "transpose f64 1001^2", &[1001, 1001], &[8, 8008], 8);
    run(c, "transpose f32 1024^2", &[1024, 1024], &[4, 4096], 4);
    run(c, "transpose u8 2048^2", &[2048, 2048], &[1, 2048], 1);
    run(c, "a[:, ::2] f64 1024^2", &[1024, 1024], &[16384, 16], 8);
    run(c, "a[:, ::2] itemsize 3 1024^2", &[1024, 1024], &[6144, 6], 3);
    run(c, "permute (2,0,1) f64 64^3", &[64, 64, 64], &[8, 32768, 512], 8);
}

criterion_group!(benches, kernels);
criterion_main!(benches);
