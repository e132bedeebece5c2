//! Fallible allocation: every allocation whose size comes from input (an item size, a
//! view's length, a format's repeat count...) goes through here, so that an impossible
//! size is `PYBUF_STATUS_OUT_OF_MEMORY` with a message naming it, never the process abort
//! of a failed `vec![..; n]` or `Vec::with_capacity(n)`.

use std::fmt;

use crate::error::{Error, Result};

/// The error for `n` elements of `T` that cannot be allocated for `what`.
fn oom<T>(n: usize, what: impl fmt::Display) -> Error {
    match n.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) => Error::oom(format_args!("cannot allocate {bytes} bytes for {what}")),
        None => Error::oom(format_args!("cannot allocate {n} elements of {} bytes for {what}", std::mem::size_of::<T>())),
    }
}

/// An empty vector with room for `n` elements, or OUT_OF_MEMORY naming the size.
pub fn try_with_capacity<T>(n: usize, what: impl fmt::Display) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| oom::<T>(n, what))?;
    Ok(v)
}

/// `n` copies of `value` (as `vec![value; n]`), or OUT_OF_MEMORY naming the size.
pub fn try_vec<T: Clone>(n: usize, value: T, what: impl fmt::Display) -> Result<Vec<T>> {
    let mut v = try_with_capacity(n, what)?;
    v.resize(n, value);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn sizes_that_fit_and_sizes_that_cannot() {
        assert_eq!(try_vec(3, 7u8, "x").unwrap(), vec![7, 7, 7]);
        assert_eq!(try_with_capacity::<u64>(5, "x").unwrap().capacity(), 5);
        // More than isize::MAX bytes: refused before the allocator is asked (also under
        // Miri, which stops at an allocation it cannot make rather than failing it).
        let e = try_vec(usize::MAX / 2 + 1, 0u8, "a test").unwrap_err();
        assert_eq!(e.status(), Status::OutOfMemory);
        assert_eq!(e.message(), format!("cannot allocate {} bytes for a test", usize::MAX / 2 + 1));
        let e = try_with_capacity::<u64>(usize::MAX / 4, "a test").unwrap_err();
        assert_eq!(e.message(), format!("cannot allocate {} elements of 8 bytes for a test", usize::MAX / 4));
    }
}
