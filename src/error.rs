//! Errors: one status type with fixed values, and a message for the calling thread.
//!
//! The core returns [`Result<T>`]; the `ffi` layer turns an [`Error`] into a negative
//! status for C and stores its message in a thread-local slot that
//! `pybuf_last_error()` / `pybuf_last_status()` read.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int};
use std::fmt;

/// Status codes returned by fallible pybuf functions.
///
/// 0 means success; every failure is negative. The values are fixed forever: a value is
/// never reused for another meaning, and new failures get new values.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// A pointer argument that must not be NULL was NULL.
    NullPointer = -1,
    /// An argument is out of its documented domain (an order other than 'C', 'F', 'A',
    /// unknown flag bits, readonly other than 0 or 1, a negative length, ...).
    InvalidArgument = -2,
    /// ndim is negative or greater than PYBUF_MAX_NDIM (64).
    InvalidNdim = -3,
    /// A shape entry is negative, or shape is NULL where it is required.
    InvalidShape = -4,
    /// itemsize is zero or negative, or disagrees with the format.
    InvalidItemsize = -5,
    /// strides are NULL where they are required, or are inconsistent.
    InvalidStrides = -6,
    /// suboffsets are malformed.
    InvalidSuboffsets = -7,
    /// len disagrees with product(shape) * itemsize, or a buffer length is too small.
    LengthMismatch = -8,
    /// A size or offset computation overflows pybuf_ssize_t.
    Overflow = -9,
    /// An index is out of range for its dimension.
    IndexOutOfRange = -10,
    /// A format string is malformed.
    InvalidFormat = -11,
    /// A format string is well formed but describes something pybuf cannot size
    /// (for example `t`, bits, which have no byte size).
    UnsupportedFormat = -12,
    /// The memory is read-only but a write was requested or attempted.
    ReadOnly = -13,
    /// The two views of a copy do not have the same shape or itemsize.
    ShapeMismatch = -14,
    /// A buffer request cannot be satisfied (contiguity, strides, suboffsets, ...).
    BufferRequest = -15,
    /// The view was not filled by pybuf, so pybuf cannot release it.
    ForeignView = -16,
    /// The operation would invalidate memory that is still exported.
    ExportsExist = -17,
    /// Memory allocation failed.
    OutOfMemory = -18,
    /// An internal error (a Rust panic caught at the C boundary). Please report it.
    Internal = -19,
    /// A view does not match the expected type: its format, item size, number of
    /// dimensions or contiguity (`pybuf_check_format`), or two formats differ.
    FormatMismatch = -20,
    /// Valid memory or a valid type that the other convention cannot describe: a struct,
    /// non-native or non-numeric format for DLPack, suboffsets, strides that are not a
    /// multiple of the item size, a DLPack or NumPy type with no PEP 3118 format (or the
    /// reverse). The message names the value and the reason.
    Unrepresentable = -21,
    /// DLPack memory on a device pybuf cannot read (anything but the CPU and host memory
    /// that the CPU addresses directly).
    UnsupportedDevice = -22,
    /// A DLPack tensor of a major version other than 1: its fields cannot be read (its
    /// deleter can, and the caller still owns the tensor).
    UnsupportedVersion = -23,
    /// A value's type cannot be stored in an element's type: a double written to an
    /// integer element, an integer to a bytes element, bytes of another length than 1 to
    /// a 'c' element (`pybuf_set_item`).
    TypeMismatch = -24,
    /// A value is outside the range of the element it is written to: 300 for a 'b'
    /// element, 1e300 for an 'f' element (`pybuf_set_item`).
    ValueOutOfRange = -25,
    /// Two views differ in a value (`pybuf_equal` returned 0 for views of equal shapes).
    ValueMismatch = -26,
    /// The operating system refused a call (open, read, write, mmap, ...): the message
    /// names the call and the error, and `pybuf_last_errno()` gives its `errno`.
    Io = -27,
    /// The end of a file or stream came before every byte of the transfer arrived: the
    /// message says how many bytes did.
    EndOfFile = -28,
    /// A non-blocking file descriptor took no more bytes (or had none) for now: the
    /// transfer is not finished and has kept its place; step it again when the fd is ready.
    WouldBlock = -29,
    /// A file or archive is malformed or damaged (a `.npy` header, an `.npz` directory, a
    /// file shorter than its header promises): the message says what and where.
    InvalidFile = -30,
    /// A message from another process is malformed or breaks the hand-over rules (a
    /// truncated message, no fd or more than one, a view outside its segment, an fd that is
    /// not a shared segment, a missing seal): every fd it carried is closed and nothing is
    /// mapped.
    InvalidMessage = -31,
    /// The view's memory is not inside one pybuf shared segment of this process, so it
    /// cannot be handed to another process without a copy (`PYBUF_SEND_COPY` makes one).
    NotShared = -32,
}

impl Status {
    /// The status for a raw integer coming back from C, if it is one of ours.
    pub fn from_raw(value: c_int) -> Option<Status> {
        use Status::*;
        const ALL: [Status; 33] = [
            Ok, NullPointer, InvalidArgument, InvalidNdim, InvalidShape, InvalidItemsize,
            InvalidStrides, InvalidSuboffsets, LengthMismatch, Overflow, IndexOutOfRange,
            InvalidFormat, UnsupportedFormat, ReadOnly, ShapeMismatch, BufferRequest,
            ForeignView, ExportsExist, OutOfMemory, Internal, FormatMismatch,
            Unrepresentable, UnsupportedDevice, UnsupportedVersion, TypeMismatch,
            ValueOutOfRange, ValueMismatch, Io, EndOfFile, WouldBlock, InvalidFile, InvalidMessage,
            NotShared,
        ];
        ALL.iter().copied().find(|s| *s as c_int == value)
    }

    /// A short, static name for the status ("PYBUF_STATUS_INVALID_SHAPE", ...).
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or("PYBUF_STATUS_UNKNOWN")
    }

    /// [`Status::name`] as a C string.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        use Status::*;
        match self {
            Ok => c"PYBUF_STATUS_OK",
            NullPointer => c"PYBUF_STATUS_NULL_POINTER",
            InvalidArgument => c"PYBUF_STATUS_INVALID_ARGUMENT",
            InvalidNdim => c"PYBUF_STATUS_INVALID_NDIM",
            InvalidShape => c"PYBUF_STATUS_INVALID_SHAPE",
            InvalidItemsize => c"PYBUF_STATUS_INVALID_ITEMSIZE",
            InvalidStrides => c"PYBUF_STATUS_INVALID_STRIDES",
            InvalidSuboffsets => c"PYBUF_STATUS_INVALID_SUBOFFSETS",
            LengthMismatch => c"PYBUF_STATUS_LENGTH_MISMATCH",
            Overflow => c"PYBUF_STATUS_OVERFLOW",
            IndexOutOfRange => c"PYBUF_STATUS_INDEX_OUT_OF_RANGE",
            InvalidFormat => c"PYBUF_STATUS_INVALID_FORMAT",
            UnsupportedFormat => c"PYBUF_STATUS_UNSUPPORTED_FORMAT",
            ReadOnly => c"PYBUF_STATUS_READ_ONLY",
            ShapeMismatch => c"PYBUF_STATUS_SHAPE_MISMATCH",
            BufferRequest => c"PYBUF_STATUS_BUFFER_REQUEST",
            ForeignView => c"PYBUF_STATUS_FOREIGN_VIEW",
            ExportsExist => c"PYBUF_STATUS_EXPORTS_EXIST",
            OutOfMemory => c"PYBUF_STATUS_OUT_OF_MEMORY",
            Internal => c"PYBUF_STATUS_INTERNAL",
            FormatMismatch => c"PYBUF_STATUS_FORMAT_MISMATCH",
            Unrepresentable => c"PYBUF_STATUS_UNREPRESENTABLE",
            UnsupportedDevice => c"PYBUF_STATUS_UNSUPPORTED_DEVICE",
            UnsupportedVersion => c"PYBUF_STATUS_UNSUPPORTED_VERSION",
            TypeMismatch => c"PYBUF_STATUS_TYPE_MISMATCH",
            ValueOutOfRange => c"PYBUF_STATUS_VALUE_OUT_OF_RANGE",
            ValueMismatch => c"PYBUF_STATUS_VALUE_MISMATCH",
            Io => c"PYBUF_STATUS_IO",
            EndOfFile => c"PYBUF_STATUS_END_OF_FILE",
            WouldBlock => c"PYBUF_STATUS_WOULD_BLOCK",
            InvalidFile => c"PYBUF_STATUS_INVALID_FILE",
            InvalidMessage => c"PYBUF_STATUS_INVALID_MESSAGE",
            NotShared => c"PYBUF_STATUS_NOT_SHARED",
        }
    }
}

/// An error of the safe core: a status and a message that names the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    status: Status,
    message: String,
    /// The OS `errno` of an [`Status::Io`] error, else 0.
    errno: i32,
}

impl Error {
    pub fn new(status: Status, message: impl fmt::Display) -> Self {
        debug_assert!(status != Status::Ok);
        Error { status, message: message.to_string(), errno: 0 }
    }
    /// A [`Status::Io`] error: `call` failed with `errno`; the message is
    /// "`call`: <the OS's text for errno> (errno N)", then `context` if not empty.
    pub fn os(call: impl fmt::Display, errno: i32, context: impl fmt::Display) -> Self {
        let text = std::io::Error::from_raw_os_error(errno);
        let context = context.to_string();
        let sep = if context.is_empty() { "" } else { ": " };
        let text = text.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text);
        Error { status: Status::Io, message: format!("{call}: {text} (errno {errno}){sep}{context}"), errno }
    }
    /// The OS `errno` of an I/O error, else 0.
    pub fn errno(&self) -> i32 {
        self.errno
    }
    pub fn status(&self) -> Status {
        self.status
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Shorthand constructors, one per status: `err::shape(format_args!(..))`.
macro_rules! ctor {
    ($($name:ident => $status:ident),* $(,)?) => {
        impl Error {
            $(pub fn $name(message: impl fmt::Display) -> Self { Error::new(Status::$status, message) })*
        }
    };
}
ctor! {
    null => NullPointer, argument => InvalidArgument, ndim => InvalidNdim, shape => InvalidShape,
    itemsize => InvalidItemsize, strides => InvalidStrides, suboffsets => InvalidSuboffsets,
    length => LengthMismatch, overflow => Overflow, index => IndexOutOfRange,
    format => InvalidFormat, unsupported => UnsupportedFormat, readonly => ReadOnly,
    mismatch => ShapeMismatch, request => BufferRequest, foreign => ForeignView,
    exports => ExportsExist, oom => OutOfMemory, internal => Internal,
    unrepresentable => Unrepresentable, device => UnsupportedDevice, version => UnsupportedVersion,
    eof => EndOfFile, would_block => WouldBlock, invalid_file => InvalidFile,
    invalid_message => InvalidMessage, not_shared => NotShared,
}

pub type Result<T> = std::result::Result<T, Error>;

/// Bytes kept of a message, its terminating NUL included; a longer one is cut at a
/// character boundary and ends in "...".
pub(crate) const MESSAGE_CAPACITY: usize = 1024;

/// A thread's last message: a NUL-terminated string in place, so that the thread-local
/// owns no heap memory and has no destructor. Such a thread-local is never destroyed and
/// never registered for destruction: pybuf called while its thread ends (a pthread key
/// destructor, an `atexit` handler) still records and reports its message, and leaks
/// nothing (issue 12, defect 1).
struct Message {
    bytes: [u8; MESSAGE_CAPACITY],
}

impl Message {
    fn set(&mut self, text: &str) {
        const CUT: &str = "...";
        let room = MESSAGE_CAPACITY - 1;
        // A NUL would end the C string early: written as the two characters \0.
        let text = text.replace('\0', "\\0");
        let end = if text.len() <= room {
            self.bytes[..text.len()].copy_from_slice(text.as_bytes());
            text.len()
        } else {
            // Cut at a character boundary, leaving room for the marker.
            let cut = (0..=room - CUT.len()).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            self.bytes[..cut].copy_from_slice(&text.as_bytes()[..cut]);
            self.bytes[cut..cut + CUT.len()].copy_from_slice(CUT.as_bytes());
            cut + CUT.len()
        };
        self.bytes[end] = 0;
    }
}

thread_local! {
    /// The calling thread's last status (a plain cell: success costs one store).
    static STATUS: Cell<Status> = const { Cell::new(Status::Ok) };
    /// The `errno` of the calling thread's last error (0 unless it was an I/O error).
    static ERRNO: Cell<i32> = const { Cell::new(0) };
    /// The calling thread's last message, meaningful while STATUS is not Ok.
    static MESSAGE: RefCell<Message> = const { RefCell::new(Message { bytes: [0; MESSAGE_CAPACITY] }) };
}

/// What `pybuf_last_error()` says when the thread's message cannot be read (a pybuf
/// call made while the message was being written, which pybuf itself never does).
const NO_MESSAGE: &std::ffi::CStr = c"(no message: see pybuf_last_status())";

#[inline]
fn set_status(status: Status) {
    // Neither thread-local has a destructor, so `try_with` never fails; it keeps a
    // future change of their types from turning into a panic at thread exit.
    let _ = STATUS.try_with(|s| s.set(status));
}

/// Record `err` as the calling thread's last error and return its status as a C int.
/// Never panics, also while the thread ends.
pub fn record(err: &Error) -> c_int {
    set_status(err.status);
    let _ = ERRNO.try_with(|e| e.set(err.errno));
    let _ = MESSAGE.try_with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.set(&err.message);
        }
    });
    err.status as c_int
}

/// Record success as the calling thread's last status (the message becomes empty).
#[inline]
pub fn record_ok() {
    set_status(Status::Ok);
}

/// Record the outcome of a core call and return 0 or the negative status.
pub fn record_result<T>(result: &Result<T>) -> c_int {
    match result {
        Ok(_) => {
            record_ok();
            0
        }
        Err(e) => record(e),
    }
}

/// The `errno` of the calling thread's last error: the OS error of a
/// [`Status::Io`] failure, 0 after any other outcome.
pub fn last_errno() -> i32 {
    if last_status() == Status::Ok {
        return 0;
    }
    ERRNO.try_with(|e| e.get()).unwrap_or(0)
}

/// The calling thread's last status (`Internal` if it cannot be read, which a `Cell`
/// without a destructor never causes).
pub fn last_status() -> Status {
    STATUS.try_with(|s| s.get()).unwrap_or(Status::Internal)
}

/// A pointer to the calling thread's last message ("" after a success); valid until the
/// next pybuf call on this thread. Never panics, also during thread teardown.
pub fn last_message_ptr() -> *const c_char {
    if last_status() == Status::Ok {
        return c"".as_ptr();
    }
    // The pointer stays valid after the borrow ends: the buffer lives as long as the
    // thread, and only the next pybuf call on this thread writes it.
    MESSAGE
        .try_with(|m| match m.try_borrow() {
            Ok(m) => m.bytes.as_ptr().cast::<c_char>(),
            Err(_) => NO_MESSAGE.as_ptr(),
        })
        .unwrap_or(NO_MESSAGE.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_are_fixed_and_round_trip() {
        for v in -32..=0 {
            let s = Status::from_raw(v).expect("every value in -32..=0 is a status");
            assert_eq!(s as c_int, v);
            assert!(s.name().starts_with("PYBUF_STATUS_"));
        }
        assert_eq!(Status::from_raw(1), None);
        assert_eq!(Status::from_raw(-33), None);
        assert_eq!(Status::InvalidMessage as c_int, -31);
        assert_eq!(Status::NotShared as c_int, -32);
        assert_eq!(Status::InvalidShape as c_int, -4);
        assert_eq!(Status::Internal as c_int, -19);
        assert_eq!(Status::FormatMismatch as c_int, -20);
        assert_eq!(Status::Unrepresentable as c_int, -21);
        assert_eq!(Status::UnsupportedDevice as c_int, -22);
        assert_eq!(Status::UnsupportedVersion as c_int, -23);
        assert_eq!(Status::UnsupportedVersion.name(), "PYBUF_STATUS_UNSUPPORTED_VERSION");
        assert_eq!(Status::TypeMismatch as c_int, -24);
        assert_eq!(Status::ValueOutOfRange as c_int, -25);
        assert_eq!(Status::ValueMismatch as c_int, -26);
        assert_eq!(Status::ValueMismatch.name(), "PYBUF_STATUS_VALUE_MISMATCH");
        assert_eq!(Status::Io as c_int, -27);
        assert_eq!(Status::EndOfFile as c_int, -28);
        assert_eq!(Status::WouldBlock as c_int, -29);
        assert_eq!(Status::InvalidFile as c_int, -30);
        assert_eq!(Status::InvalidFile.name(), "PYBUF_STATUS_INVALID_FILE");
    }

    fn message() -> String {
        // SAFETY: the pointer is valid until the next record on this thread.
        unsafe { std::ffi::CStr::from_ptr(last_message_ptr()) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn long_messages_are_cut_at_a_character_and_nuls_escaped() {
        record(&Error::shape("a\0b"));
        assert_eq!(message(), "a\\0b");
        for extra in 0..4 {
            // 'é' is two bytes: the cut never splits it.
            let long = format!("{}{}", "x".repeat(extra), "é".repeat(2 * MESSAGE_CAPACITY));
            record(&Error::shape(&long));
            let m = message();
            assert!(m.len() < MESSAGE_CAPACITY && m.len() >= MESSAGE_CAPACITY - 5, "{}", m.len());
            assert!(m.ends_with("..."));
            assert!(long.starts_with(&m[..m.len() - 3]));
        }
        let exact = "y".repeat(MESSAGE_CAPACITY - 1);
        record(&Error::shape(&exact));
        assert_eq!(message(), exact, "a message that fits is kept whole");
        record(&Error::shape("short"));
        assert_eq!(message(), "short", "a shorter message after a long one");
    }

    #[test]
    fn record_sets_and_clears_thread_local_state() {
        let e = Error::shape("shape[1] = -3 is negative");
        assert_eq!(record(&e), -4);
        assert_eq!(last_status(), Status::InvalidShape);
        // SAFETY: the pointer is valid until the next record on this thread.
        let msg = unsafe { std::ffi::CStr::from_ptr(last_message_ptr()) };
        assert_eq!(msg.to_str().unwrap(), "shape[1] = -3 is negative");
        record_ok();
        assert_eq!(last_status(), Status::Ok);
        // SAFETY: as above.
        assert_eq!(unsafe { std::ffi::CStr::from_ptr(last_message_ptr()) }.to_bytes(), b"");
    }
}
