//! DLPack: the ABI structs, and the conversions between a view and a `DLTensor`.
//!
//! The structs have the layout and field names that DLPack 1.x publishes, so a pointer
//! to one is a pointer to the C struct of the same name (`include/pybuf.h` declares them
//! for C, under dlpack.h's own include guard). `DLManagedTensorVersioned` is DLPack
//! 1.x's exchange struct; `DLManagedTensor` the legacy (pre-1.0) one.
//!
//! What maps to what:
//!
//! | pybuf view | DLTensor |
//! |---|---|
//! | `buf` | `data` (+ `byte_offset`, which pybuf writes as 0) |
//! | `shape` | `shape` (`int64_t`) |
//! | `strides` in bytes | `strides` in elements (a byte stride must be a multiple of itemsize) |
//! | `format` of one native scalar | `dtype`: `?` bool, `bhilqn` int, `BHILQN` uint, `efd` float, `Zf Zd` complex |
//! | `readonly` | `DLPACK_FLAG_BITMASK_READ_ONLY` (versioned tensors only) |
//! | `suboffsets` (all negative) | nothing: DLPack has no indirect dimensions |
//!
//! Everything else is refused with [`Status::Unrepresentable`](crate::Status) and a
//! message naming the value: struct and multi-value formats, a byte order other than
//! the native one, long double (whose bits DLPack consumers do not read alike), strings,
//! pointers, suboffsets, strides that are not a multiple of the item size, vector
//! (`lanes != 1`), bfloat16 and the 8-, 6- and 4-bit float types.

// Sizes, counts and offsets here come from outside input: every operation on them is
// checked, or carries a comment proving its bounds (issue 12).
#![warn(clippy::arithmetic_side_effects)]

#![allow(non_upper_case_globals)]

use std::ffi::c_void;
use std::mem::{offset_of, size_of};

use crate::error::{Error, Result};
use crate::format::{show, ByteOrder, Code, Format, Kind};
use crate::layout::{self, Geometry, MAX_NDIM};

/// The DLPack version whose structs are declared here (and in pybuf.h).
pub const DLPACK_MAJOR_VERSION: u32 = 1;
/// See [`DLPACK_MAJOR_VERSION`].
pub const DLPACK_MINOR_VERSION: u32 = 1;

/// `DLManagedTensorVersioned.flags`: the memory must not be written.
pub const DLPACK_FLAG_BITMASK_READ_ONLY: u64 = 1 << 0;
/// `DLManagedTensorVersioned.flags`: the producer made a copy for this tensor.
pub const DLPACK_FLAG_BITMASK_IS_COPIED: u64 = 1 << 1;
/// `DLManagedTensorVersioned.flags`: a sub-byte type is padded rather than packed.
pub const DLPACK_FLAG_BITMASK_IS_SUBBYTE_TYPE_PADDED: u64 = 1 << 2;

/// `DLDeviceType` values (a C enum, `int32_t` wide).
pub const kDLCPU: i32 = 1;
pub const kDLCUDA: i32 = 2;
pub const kDLCUDAHost: i32 = 3;
pub const kDLOpenCL: i32 = 4;
pub const kDLVulkan: i32 = 7;
pub const kDLMetal: i32 = 8;
pub const kDLVPI: i32 = 9;
pub const kDLROCM: i32 = 10;
pub const kDLROCMHost: i32 = 11;
pub const kDLExtDev: i32 = 12;
pub const kDLCUDAManaged: i32 = 13;
pub const kDLOneAPI: i32 = 14;
pub const kDLWebGPU: i32 = 15;
pub const kDLHexagon: i32 = 16;
pub const kDLMAIA: i32 = 17;
pub const kDLTrn: i32 = 18;

/// `DLDataTypeCode` values (stored in `DLDataType.code`, a `uint8_t`).
pub const kDLInt: u8 = 0;
pub const kDLUInt: u8 = 1;
pub const kDLFloat: u8 = 2;
pub const kDLOpaqueHandle: u8 = 3;
pub const kDLBfloat: u8 = 4;
pub const kDLComplex: u8 = 5;
pub const kDLBool: u8 = 6;

/// `DLPackVersion`: the ABI version of a versioned tensor.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLPackVersion {
    pub major: u32,
    pub minor: u32,
}

/// `DLDevice`: where the memory is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDevice {
    /// A `DLDeviceType` (C enum, `int32_t`).
    pub device_type: i32,
    pub device_id: i32,
}

/// `DLDataType`: the type of one element.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDataType {
    /// A `DLDataTypeCode`.
    pub code: u8,
    pub bits: u8,
    pub lanes: u16,
}

/// `DLTensor`: memory, device, shape, element strides and type. Owns nothing.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DLTensor {
    pub data: *mut c_void,
    pub device: DLDevice,
    pub ndim: i32,
    pub dtype: DLDataType,
    pub shape: *mut i64,
    pub strides: *mut i64,
    pub byte_offset: u64,
}

/// `DLManagedTensor`: the legacy (pre-1.0) exchange struct.
#[repr(C)]
#[derive(Debug)]
pub struct DLManagedTensor {
    pub dl_tensor: DLTensor,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(self_: *mut DLManagedTensor)>,
}

/// `DLManagedTensorVersioned`: DLPack 1.x's exchange struct.
#[repr(C)]
#[derive(Debug)]
pub struct DLManagedTensorVersioned {
    pub version: DLPackVersion,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(self_: *mut DLManagedTensorVersioned)>,
    pub flags: u64,
    pub dl_tensor: DLTensor,
}

// The published layout, pinned (and against a reference dlpack.h in c_tests/).
// Evaluated by the compiler: an overflow here would fail the build, not wrap.
#[allow(clippy::arithmetic_side_effects)]
const _: () = {
    let p = size_of::<*mut c_void>();
    assert!(size_of::<DLPackVersion>() == 8);
    assert!(size_of::<DLDevice>() == 8);
    assert!(size_of::<DLDataType>() == 4);
    assert!(offset_of!(DLDataType, bits) == 1 && offset_of!(DLDataType, lanes) == 2);
    assert!(offset_of!(DLTensor, device) == p);
    assert!(offset_of!(DLTensor, ndim) == p + 8);
    assert!(offset_of!(DLTensor, dtype) == p + 12);
    assert!(offset_of!(DLTensor, shape) == p + 16);
    assert!(offset_of!(DLTensor, strides) == 2 * p + 16);
    assert!(offset_of!(DLTensor, byte_offset) == 3 * p + 16);
    assert!(offset_of!(DLManagedTensor, manager_ctx) == size_of::<DLTensor>());
    assert!(offset_of!(DLManagedTensorVersioned, manager_ctx) == 8);
    assert!(offset_of!(DLManagedTensorVersioned, deleter) == 8 + p);
    assert!(offset_of!(DLManagedTensorVersioned, flags) == 8 + 2 * p);
    assert!(offset_of!(DLManagedTensorVersioned, dl_tensor) == 16 + 2 * p);
    #[cfg(target_pointer_width = "64")]
    assert!(size_of::<DLTensor>() == 48 && size_of::<DLManagedTensorVersioned>() == 80);
};

/// The name of a `DLDeviceType` value, for messages.
pub fn device_name(device_type: i32) -> &'static str {
    match device_type {
        kDLCPU => "kDLCPU",
        kDLCUDA => "kDLCUDA",
        kDLCUDAHost => "kDLCUDAHost",
        kDLOpenCL => "kDLOpenCL",
        kDLVulkan => "kDLVulkan",
        kDLMetal => "kDLMetal",
        kDLVPI => "kDLVPI",
        kDLROCM => "kDLROCM",
        kDLROCMHost => "kDLROCMHost",
        kDLExtDev => "kDLExtDev",
        kDLCUDAManaged => "kDLCUDAManaged",
        kDLOneAPI => "kDLOneAPI",
        kDLWebGPU => "kDLWebGPU",
        kDLHexagon => "kDLHexagon",
        kDLMAIA => "kDLMAIA",
        kDLTrn => "kDLTrn",
        _ => "an unknown device type",
    }
}

/// The name of a `DLDataTypeCode` value, for messages.
pub fn type_code_name(code: u8) -> &'static str {
    match code {
        kDLInt => "kDLInt",
        kDLUInt => "kDLUInt",
        kDLFloat => "kDLFloat",
        kDLOpaqueHandle => "kDLOpaqueHandle",
        kDLBfloat => "kDLBfloat",
        kDLComplex => "kDLComplex",
        kDLBool => "kDLBool",
        7..=14 => "an 8-bit float type",
        15 | 16 => "a 6-bit float type",
        17 => "a 4-bit float type",
        _ => "an unknown type code",
    }
}

/// Memory the CPU reads directly: `kDLCPU`, and host memory pinned or managed by a GPU
/// runtime (`kDLCUDAHost`, `kDLROCMHost`, `kDLCUDAManaged`), as NumPy accepts them.
pub fn check_device(device: DLDevice) -> Result<()> {
    match device.device_type {
        kDLCPU | kDLCUDAHost | kDLROCMHost | kDLCUDAManaged => Ok(()),
        t => Err(Error::device(format_args!(
            "device ({t}, {}) is {}: pybuf reads memory the CPU addresses (kDLCPU, kDLCUDAHost, \
             kDLROCMHost, kDLCUDAManaged); copy the tensor to the host first",
            device.device_id,
            device_name(t)
        ))),
    }
}

/// A versioned tensor's fields can be read only for major version 1.
pub fn check_version(version: DLPackVersion) -> Result<()> {
    if version.major != DLPACK_MAJOR_VERSION {
        return Err(Error::version(format_args!(
            "DLPack version {}.{}: pybuf reads major version {DLPACK_MAJOR_VERSION} only \
             (call the tensor's deleter, it is still the caller's)",
            version.major, version.minor
        )));
    }
    Ok(())
}

/// The DLPack data type of the items of a view with `format` (PEP 3118; `None` is "B")
/// and `itemsize`.
pub fn dtype_from_format(format: Option<&[u8]>, itemsize: isize) -> Result<DLDataType> {
    let text = format.unwrap_or(b"B");
    let parsed = Format::parse(text)?;
    let f = show(text);
    if format.is_none() && itemsize != 1 {
        return Err(Error::itemsize(format_args!(
            "itemsize = {itemsize} but the view has no format (NULL means \"B\", 1 byte): \
             ask the exporter for PYBUF_FORMAT"
        )));
    }
    if parsed.itemsize() != itemsize {
        return Err(Error::itemsize(format_args!(
            "itemsize = {itemsize} but format {f} has size {}",
            parsed.itemsize()
        )));
    }
    let field = match parsed.fields() {
        [one] => one,
        [] => return Err(Error::unrepresentable(format_args!("format {f} has no value: a DLPack element is one scalar"))),
        many => {
            return Err(Error::unrepresentable(format_args!(
                "format {f} has {} fields: a DLPack element is one scalar, not a struct",
                many.len()
            )))
        }
    };
    let code = match field.kind() {
        Kind::Scalar(code) => *code,
        Kind::Struct(_) => {
            return Err(Error::unrepresentable(format_args!(
                "format {f} is a struct: a DLPack element is one scalar"
            )))
        }
        Kind::Pointer(_) | Kind::Function(_) => {
            return Err(Error::unrepresentable(format_args!("format {f} is a pointer: DLPack has no pointer type")))
        }
    };
    use Code::*;
    let kind = match code {
        Bool => kDLBool,
        SChar | Short | Int | Long | LongLong | SSize => kDLInt,
        UChar | UShort | UInt | ULong | ULongLong | USize => kDLUInt,
        Half | Float | Double => kDLFloat,
        ComplexFloat | ComplexDouble => kDLComplex,
        LongDouble | ComplexLongDouble => {
            return Err(Error::unrepresentable(format_args!(
                "format {f} is a long double: DLPack consumers do not agree on how to read its bits"
            )))
        }
        Char | Bytes | PascalBytes => {
            return Err(Error::unrepresentable(format_args!("format {f} holds bytes: DLPack has no string type")))
        }
        Ucs2 | Ucs4 => {
            return Err(Error::unrepresentable(format_args!("format {f} holds text: DLPack has no character type")))
        }
        Pad => return Err(Error::unrepresentable(format_args!("format {f} is padding: DLPack has no such type"))),
        VoidPtr | Object | Pointer | Function => {
            return Err(Error::unrepresentable(format_args!("format {f} is a pointer: DLPack has no pointer type")))
        }
    };
    if field.values() != 1 {
        return Err(Error::unrepresentable(format_args!(
            "format {f} holds {} values of '{}' per item: a DLPack element is one scalar \
             (make them a dimension of the view)",
            field.values(),
            code.as_str()
        )));
    }
    let size = field.element_size();
    if size > 1 && field.byte_order() != ByteOrder::NATIVE {
        return Err(Error::unrepresentable(format_args!(
            "format {f} is {}: DLPack holds values in the native byte order ({})",
            describe(field.byte_order()),
            describe(ByteOrder::NATIVE)
        )));
    }
    // The codes above are at most 16 bytes (Zd): 128 bits fit in the u8; checked anyway.
    let bits = size.checked_mul(8).and_then(|b| u8::try_from(b).ok()).ok_or_else(|| {
        Error::unrepresentable(format_args!("format {f} has {size}-byte values: DLPack counts bits in a byte"))
    })?;
    Ok(DLDataType { code: kind, bits, lanes: 1 })
}

fn describe(order: ByteOrder) -> &'static str {
    match order {
        ByteOrder::Little => "little-endian",
        ByteOrder::Big => "big-endian",
    }
}

/// The PEP 3118 format (native mode) of a DLPack data type, and its item size.
pub fn format_from_dtype(dtype: DLDataType) -> Result<(&'static str, isize)> {
    let DLDataType { code, bits, lanes } = dtype;
    let what = || format!("dtype (code {code} = {}, bits {bits}, lanes {lanes})", type_code_name(code));
    if lanes != 1 {
        return Err(Error::unrepresentable(format_args!(
            "{}: a vector type (lanes != 1) has no PEP 3118 format",
            what()
        )));
    }
    let format = match (code, bits) {
        (kDLBool, 8) => "?",
        (kDLInt, 8) => "b",
        (kDLInt, 16) => "h",
        (kDLInt, 32) => "i",
        (kDLInt, 64) => "q",
        (kDLUInt, 8) => "B",
        (kDLUInt, 16) => "H",
        (kDLUInt, 32) => "I",
        (kDLUInt, 64) => "Q",
        (kDLFloat, 16) => "e",
        (kDLFloat, 32) => "f",
        (kDLFloat, 64) => "d",
        (kDLComplex, 64) => "Zf",
        (kDLComplex, 128) => "Zd",
        _ => {
            return Err(Error::unrepresentable(format_args!(
                "{}: pybuf reads bool 8, int and uint 8/16/32/64, float 16/32/64 and complex \
                 64/128 bits, which have PEP 3118 formats",
                what()
            )))
        }
    };
    Ok((format, bits as isize / 8))
}

/// A DLTensor's shape and element strides for a view's geometry (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorLayout {
    pub shape: Vec<i64>,
    pub strides: Vec<i64>,
}

/// The shape and element strides of a tensor for `geom`, which must be valid. A byte
/// stride must be a multiple of the item size, except on a dimension of length 0 or 1 (or
/// in an empty array), where it is never used and becomes the C-contiguous one. All-negative
/// suboffsets are no suboffsets; a suboffset >= 0 is refused.
pub fn tensor_layout(geom: &Geometry<'_>) -> Result<TensorLayout> {
    if let Some(subs) = geom.suboffsets {
        if let Some((k, s)) = subs.iter().enumerate().find(|(_, s)| **s >= 0) {
            return Err(Error::unrepresentable(format_args!(
                "suboffsets[{k}] = {s}: DLPack cannot describe an indirect (PIL-style) dimension"
            )));
        }
    }
    let itemsize = geom.itemsize;
    let mut buf = [0isize; MAX_NDIM];
    let strides = geom.strides_or_c(&mut buf);
    let empty = geom.shape.contains(&0);
    let mut contiguous: i64 = 1;
    let mut out = vec![0i64; geom.ndim()];
    let mut first_bad = None;
    for k in (0..geom.ndim()).rev() {
        let (n, s) = (geom.shape[k], strides[k]);
        // itemsize > 0 (validated): neither the remainder nor the quotient overflows.
        out[k] = if s.checked_rem(itemsize) == Some(0) && !empty {
            s.checked_div(itemsize).unwrap_or(0) as i64
        } else if n <= 1 || empty {
            contiguous
        } else {
            first_bad = Some((k, s)); // the last one found is the first dimension
            0
        };
        contiguous = contiguous.saturating_mul((n as i64).max(1));
    }
    if let Some((k, s)) = first_bad {
        return Err(Error::unrepresentable(format_args!(
            "strides[{k}] = {s} is not a multiple of itemsize {itemsize}: DLPack strides count elements"
        )));
    }
    Ok(TensorLayout { shape: geom.shape.iter().map(|&n| n as i64).collect(), strides: out })
}

/// A view's shape and byte strides for a tensor, and the bytes it reaches relative to its
/// first element: `[lo, hi)` (`lo <= 0`; both 0 when the array is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewLayout {
    pub shape: Vec<isize>,
    pub strides: Vec<isize>,
    pub lo: isize,
    pub hi: isize,
}

/// Convert a tensor's shape and element strides (`None`: C-contiguous, as DLPack before
/// 1.0 allowed) to a view's, checked: no negative length, no overflow.
pub fn view_layout(shape: &[i64], strides: Option<&[i64]>, itemsize: isize) -> Result<ViewLayout> {
    if shape.len() > MAX_NDIM {
        return Err(Error::ndim(format_args!("ndim = {} is greater than {MAX_NDIM}", shape.len())));
    }
    let mut vshape = Vec::with_capacity(shape.len());
    for (k, &n) in shape.iter().enumerate() {
        if n < 0 {
            return Err(Error::shape(format_args!("shape[{k}] = {n} is negative")));
        }
        vshape.push(isize::try_from(n).map_err(|_| Error::overflow(format_args!("shape[{k}] = {n} overflows pybuf_ssize_t")))?);
    }
    let items = layout::item_count(&vshape)?;
    let len = items
        .checked_mul(itemsize)
        .ok_or_else(|| Error::overflow(format_args!("product(shape) = {items} times itemsize {itemsize} overflows")))?;
    let vstrides = match strides {
        Some(st) => st
            .iter()
            .enumerate()
            .map(|(k, &s)| {
                isize::try_from(s).ok().and_then(|s| s.checked_mul(itemsize)).ok_or_else(|| {
                    Error::overflow(format_args!("strides[{k}] = {s} times itemsize {itemsize} overflows"))
                })
            })
            .collect::<Result<Vec<_>>>()?,
        None => {
            let mut out = vec![0isize; vshape.len()];
            let mut sd = itemsize;
            for k in (0..vshape.len()).rev() {
                out[k] = sd;
                sd = sd.checked_mul(vshape[k].max(1)).ok_or_else(|| Error::overflow("C-contiguous strides overflow"))?;
            }
            out
        }
    };
    let geom = Geometry { len, itemsize, shape: &vshape, strides: Some(&vstrides), suboffsets: None };
    geom.validate()?;
    let (mut lo, mut hi) = (0isize, 0isize);
    if items > 0 {
        hi = itemsize;
        // Bounded by `validate`: sum(|stride| * (n - 1)) + itemsize fits.
        for (k, &n) in vshape.iter().enumerate() {
            // items > 0, so n >= 1; nothing saturates (see above).
            let span = vstrides[k].saturating_mul(n.saturating_sub(1));
            if span < 0 {
                lo = lo.saturating_add(span);
            } else {
                hi = hi.saturating_add(span);
            }
        }
    }
    Ok(ViewLayout { shape: vshape, strides: vstrides, lo, hi })
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // tests compute their expectations freely
mod tests {
    use super::*;
    use crate::error::Status;

    fn dt(code: u8, bits: u8) -> DLDataType {
        DLDataType { code, bits, lanes: 1 }
    }

    #[test]
    fn scalar_formats_map_to_dtypes_and_back() {
        let cases: &[(&str, u8, u8)] = &[
            ("?", kDLBool, 8),
            ("b", kDLInt, 8),
            ("h", kDLInt, 16),
            ("i", kDLInt, 32),
            ("q", kDLInt, 64),
            ("B", kDLUInt, 8),
            ("H", kDLUInt, 16),
            ("I", kDLUInt, 32),
            ("Q", kDLUInt, 64),
            ("e", kDLFloat, 16),
            ("f", kDLFloat, 32),
            ("d", kDLFloat, 64),
            ("Zf", kDLComplex, 64),
            ("Zd", kDLComplex, 128),
        ];
        for &(f, code, bits) in cases {
            let size = bits as isize / 8;
            assert_eq!(dtype_from_format(Some(f.as_bytes()), size).unwrap(), dt(code, bits), "{f}");
            assert_eq!(format_from_dtype(dt(code, bits)).unwrap(), (f, size), "{f}");
        }
        // Other spellings of the same types.
        let native = if cfg!(target_endian = "little") { "<" } else { ">" };
        assert_eq!(dtype_from_format(Some(b"=l"), 4).unwrap(), dt(kDLInt, 32));
        assert_eq!(dtype_from_format(Some(b"@d"), 8).unwrap(), dt(kDLFloat, 64));
        assert_eq!(dtype_from_format(Some(format!("{native}d").as_bytes()), 8).unwrap(), dt(kDLFloat, 64));
        #[cfg(all(target_pointer_width = "64", not(windows)))]
        {
            assert_eq!(dtype_from_format(Some(b"l"), 8).unwrap(), dt(kDLInt, 64));
            assert_eq!(dtype_from_format(Some(b"N"), 8).unwrap(), dt(kDLUInt, 64));
        }
        assert_eq!(dtype_from_format(None, 1).unwrap(), dt(kDLUInt, 8));
        assert_eq!(dtype_from_format(Some(b">b"), 1).unwrap(), dt(kDLInt, 8), "one byte has no byte order");
    }

    #[test]
    fn unrepresentable_formats_are_refused_with_the_reason() {
        let foreign = if cfg!(target_endian = "little") { ">d" } else { "<d" };
        let cases: &[(&str, isize, &str)] = &[
            ("T{i:a:d:b:}", 16, "is a struct"),
            ("id", 16, "has 2 fields"),
            ("3d", 24, "holds 3 values of 'd'"),
            ("(2,2)i", 16, "holds 4 values of 'i'"),
            (foreign, 8, "byte order"),
            ("g", 16, "long double"),
            ("5s", 5, "bytes"),
            ("c", 1, "bytes"),
            ("w", 4, "text"),
            ("x", 1, "padding"),
            ("P", 8, "pointer"),
            ("&i", 8, "pointer"),
            ("O", 8, "pointer"),
        ];
        for &(f, size, text) in cases {
            if f == "g" && Format::parse(b"g").map(|g| g.itemsize()).ok() != Some(16) {
                continue;
            }
            let e = dtype_from_format(Some(f.as_bytes()), size).unwrap_err();
            assert_eq!(e.status(), Status::Unrepresentable, "{f}: {e}");
            assert!(e.message().contains(text) && e.message().contains(f), "{f}: {e}");
        }
        let e = dtype_from_format(Some(b"d"), 4).unwrap_err();
        assert_eq!((e.status(), e.message()), (Status::InvalidItemsize, "itemsize = 4 but format \"d\" has size 8"));
        assert_eq!(dtype_from_format(Some(b"T{"), 1).unwrap_err().status(), Status::InvalidFormat);
    }

    #[test]
    fn unrepresentable_dtypes_are_refused() {
        for (d, text) in [
            (DLDataType { code: kDLFloat, bits: 32, lanes: 4 }, "lanes != 1"),
            (dt(kDLBfloat, 16), "kDLBfloat"),
            (dt(kDLFloat, 128), "kDLFloat, bits 128"),
            (dt(kDLInt, 12), "bits 12"),
            (dt(10, 8), "8-bit float"),
            (dt(99, 8), "unknown type code"),
            (dt(kDLOpaqueHandle, 64), "kDLOpaqueHandle"),
        ] {
            let e = format_from_dtype(d).unwrap_err();
            assert_eq!(e.status(), Status::Unrepresentable);
            assert!(e.message().contains(text), "{e}");
        }
    }

    #[test]
    fn devices_and_versions() {
        for t in [kDLCPU, kDLCUDAHost, kDLROCMHost, kDLCUDAManaged] {
            check_device(DLDevice { device_type: t, device_id: 0 }).unwrap();
        }
        let e = check_device(DLDevice { device_type: kDLCUDA, device_id: 1 }).unwrap_err();
        assert_eq!(e.status(), Status::UnsupportedDevice);
        assert!(e.message().starts_with("device (2, 1) is kDLCUDA: "), "{e}");
        check_version(DLPackVersion { major: 1, minor: 7 }).unwrap();
        let e = check_version(DLPackVersion { major: 2, minor: 0 }).unwrap_err();
        assert_eq!(e.status(), Status::UnsupportedVersion);
        assert!(e.message().starts_with("DLPack version 2.0: "), "{e}");
    }

    fn geom<'a>(shape: &'a [isize], strides: Option<&'a [isize]>, itemsize: isize) -> Geometry<'a> {
        let len = shape.iter().product::<isize>() * itemsize;
        Geometry { len, itemsize, shape, strides, suboffsets: None }
    }

    #[test]
    fn byte_strides_become_element_strides() {
        let t = tensor_layout(&geom(&[3, 4], Some(&[8, -24]), 8)).unwrap();
        assert_eq!(t, TensorLayout { shape: vec![3, 4], strides: vec![1, -3] });
        let t = tensor_layout(&geom(&[2, 3, 4], None, 2)).unwrap();
        assert_eq!(t.strides, vec![12, 4, 1]);
        let t = tensor_layout(&geom(&[], None, 8)).unwrap();
        assert_eq!(t, TensorLayout { shape: vec![], strides: vec![] });
        let e = tensor_layout(&geom(&[3, 4], Some(&[48, 12]), 8)).unwrap_err();
        assert_eq!(e.status(), Status::Unrepresentable);
        assert_eq!(e.message(), "strides[1] = 12 is not a multiple of itemsize 8: DLPack strides count elements");
        // A stride that is never used is replaced, not refused.
        assert_eq!(tensor_layout(&geom(&[3, 1], Some(&[8, 5]), 8)).unwrap().strides, vec![1, 1]);
        assert_eq!(tensor_layout(&geom(&[0, 4], Some(&[3, 5]), 8)).unwrap().strides, vec![4, 1]);
    }

    #[test]
    fn suboffsets_are_refused_unless_all_negative() {
        let shape = [2isize, 2];
        let g = Geometry { len: 32, itemsize: 8, shape: &shape, strides: Some(&[16, 8]), suboffsets: Some(&[-1, -1]) };
        assert_eq!(tensor_layout(&g).unwrap().strides, vec![2, 1]);
        let g = Geometry { suboffsets: Some(&[0, -1]), ..g };
        let e = tensor_layout(&g).unwrap_err();
        assert_eq!(e.status(), Status::Unrepresentable);
        assert!(e.message().starts_with("suboffsets[0] = 0: "), "{e}");
    }

    #[test]
    fn element_strides_become_byte_strides_with_extent() {
        let v = view_layout(&[3, 4], Some(&[1, -3]), 8).unwrap();
        assert_eq!(v, ViewLayout { shape: vec![3, 4], strides: vec![8, -24], lo: -72, hi: 24 });
        let v = view_layout(&[2, 3], None, 4).unwrap();
        assert_eq!((v.strides, v.lo, v.hi), (vec![12, 4], 0, 24));
        let v = view_layout(&[0, 3], Some(&[7, 9]), 4).unwrap();
        assert_eq!((v.lo, v.hi), (0, 0));
        let e = view_layout(&[2, -1], None, 4).unwrap_err();
        assert_eq!((e.status(), e.message()), (Status::InvalidShape, "shape[1] = -1 is negative"));
        let e = view_layout(&[2, 2], Some(&[i64::MAX / 2, 1]), 8).unwrap_err();
        assert_eq!(e.status(), Status::Overflow, "{e}");
        assert_eq!(view_layout(&[1; 65], None, 1).unwrap_err().status(), Status::InvalidNdim);
    }
}
