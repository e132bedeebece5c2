//! Interoperation with the other conventions for sharing arrays:
//!
//! - [`dlpack`]: DLPack 1.x (`DLManagedTensorVersioned`) and the legacy `DLManagedTensor`,
//!   the convention of array libraries (NumPy, PyTorch, JAX, CuPy): the ABI structs, and
//!   the conversions between a view's geometry and format and a `DLTensor`'s shape,
//!   element strides and data type.
//! - [`array_interface`]: NumPy's `__array_interface__` type descriptions, `typestr`
//!   (`"<f8"`) and `descr` (`[('a', '<i4'), ('b', '<f8', (3,))]`), to and from PEP 3118
//!   formats.
//!
//! Both are safe Rust that never touches memory: the `ffi` layer does the lifetimes.

pub mod array_interface;
// The DLPack structs are declared in pybuf.h by hand (cbindgen.toml), under dlpack.h's
// include guard, as dlpack.h declares them.
/// cbindgen:ignore
pub mod dlpack;
