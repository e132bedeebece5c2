//! A count of the steps the parsers and converters take, for the scaling tests: every
//! loop over input (a byte looked at, a field laid out, a name tried, a run walked)
//! calls [`step`]. Compiled to nothing outside `cfg(test)`; in tests the count is per
//! thread, so tests running in parallel do not disturb each other.
//!
//! A scaling test runs a path on inputs of size n and 8n and checks that the count grows
//! at most like `n log n` — a deterministic measure of work, where a timing would not be.

#[cfg(test)]
use std::cell::Cell;

#[cfg(test)]
thread_local! {
    static STEPS: Cell<u64> = const { Cell::new(0) };
}

/// Count `n` steps of work (nothing outside tests).
#[inline(always)]
pub(crate) fn step(n: usize) {
    #[cfg(test)]
    STEPS.with(|s| s.set(s.get().saturating_add(n as u64)));
    #[cfg(not(test))]
    let _ = n;
}

/// The result of `f` and the steps it took.
#[cfg(test)]
pub(crate) fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = STEPS.with(Cell::get);
    let r = f();
    (r, STEPS.with(Cell::get).saturating_sub(before))
}

/// Assert that `run(n)`'s step count grows at most like `n log n`: from size `n` to `8n`
/// it may grow by at most a factor of 12 (linear work gives 8, `n log n` about 10 at the
/// sizes the tests use, quadratic 64). `run` returns the steps it counted.
#[cfg(test)]
pub(crate) fn assert_scales(what: &str, n: usize, mut run: impl FnMut(usize) -> u64) {
    let small = run(n);
    let large = run(8 * n);
    assert!(small > 0, "{what}: no steps counted at n = {n}");
    assert!(
        large <= 12 * small,
        "{what}: {small} steps at n = {n}, {large} at n = {} ({:.1} times as many): not n log n",
        8 * n,
        large as f64 / small as f64
    );
}
