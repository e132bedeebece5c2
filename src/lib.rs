//! libpybuf: Python's buffer protocol (PEP 3118, `Py_buffer`) for C, C++, Cython and any
//! FFI, without linking Python.
//!
//! The crate is a safe core, organised by concern, behind a thin C surface:
//! - [`layout`]: shape, strides and suboffsets arithmetic, validation, contiguity;
//! - [`format`](mod@format): the PEP 3118 format grammar and its layouts;
//! - [`copy`]: the copy engine (planning and kernels);
//! - [`datatype`]: a view as nested strided blocks of typed values (for MPI's derived
//!   datatypes, without MPI);
//! - [`export`]: exporters, view bookkeeping and lifetimes;
//! - [`interop`]: DLPack and NumPy's array interface;
//! - [`io`]: a view's elements to and from file descriptors (scatter/gather I/O);
//! - [`view`]: memoryview for any view: derived views, element values, iteration,
//!   equality and validation;
//! - [`map`]: memory-mapped regions of files as exporters;
//! - [`error`]: the status type and the thread's last error;
//! - [`abi`]: the C types (`pybuf_buffer`, the `PYBUF_*` flags);
//! - [`npy`]: `.npy` files (NumPy's format) saved, loaded by mapping, and read into views;
//! - [`share`]: shared-memory segments as exporters, and views handed to other processes;
//! - `ffi`: the `extern "C"` functions, one file per noun.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod abi;
pub(crate) mod alloc;
pub mod copy;
pub mod datatype;
pub mod error;
pub mod export;
pub mod format;
pub mod interop;
pub mod io;
pub mod layout;
pub mod map;
pub mod npy;
pub mod npz;
pub mod share;
pub mod view;

mod work;

pub mod ffi;

pub use abi::*;
pub use error::{Error, Result, Status};
