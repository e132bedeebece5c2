//! Sizes and alignments of the format codes: the platform C ABI for the native modes
//! (`@` and `^`) and the struct module's standard sizes for `=`, `<`, `>` and `!`.

use std::ffi::{c_double, c_float, c_int, c_long, c_longlong, c_short, c_void};
use std::mem::{align_of, size_of};

use super::{Code, Mode};

/// Size and alignment in bytes of one value of a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SizeAlign {
    pub size: isize,
    pub align: isize,
}

/// Why a code has no size in a mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoSize {
    /// The code exists only in the native modes (`n`, `N`), as in the struct module.
    NativeOnly,
    /// `long double` has no known layout on this target.
    LongDoubleUnknown,
}

const fn of<T>() -> SizeAlign {
    // Sizes and alignments of C types are tiny; the casts cannot truncate.
    SizeAlign { size: size_of::<T>() as isize, align: align_of::<T>() as isize }
}

const fn fixed(size: isize) -> SizeAlign {
    SizeAlign { size, align: 1 }
}

/// The C ABI's `long double` on this target: (size, alignment), or `None` where pybuf
/// does not know it. Rust has no `long double`, so the values are written down per
/// target (they are what `sizeof`/`_Alignof` give with the target's system C compiler).
pub(crate) const LONG_DOUBLE: Option<SizeAlign> = long_double();

#[allow(unreachable_code)]
const fn long_double() -> Option<SizeAlign> {
    // x86-64 System V (Linux, macOS, the BSDs) and MinGW: 80-bit x87 in 16 bytes.
    #[cfg(all(target_arch = "x86_64", not(target_env = "msvc")))]
    return Some(SizeAlign { size: 16, align: 16 });
    // MSVC: long double is double.
    #[cfg(all(
        any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
        target_env = "msvc"
    ))]
    return Some(SizeAlign { size: 8, align: 8 });
    // i386 System V: 80-bit x87 in 12 bytes, 4-aligned.
    #[cfg(all(target_arch = "x86", target_os = "linux"))]
    return Some(SizeAlign { size: 12, align: 4 });
    // Apple arm64: long double is double.
    #[cfg(all(target_arch = "aarch64", target_vendor = "apple"))]
    return Some(SizeAlign { size: 8, align: 8 });
    // AArch64 AAPCS64 (Linux, Android, the BSDs): IEEE binary128.
    #[cfg(all(target_arch = "aarch64", not(target_vendor = "apple"), not(target_env = "msvc")))]
    return Some(SizeAlign { size: 16, align: 16 });
    // 32-bit Arm AAPCS: long double is double.
    #[cfg(all(target_arch = "arm", target_os = "linux"))]
    return Some(SizeAlign { size: 8, align: 8 });
    // RISC-V 64 and 64-bit POWER on Linux: 16 bytes, 16-aligned.
    #[cfg(all(any(target_arch = "riscv64", target_arch = "powerpc64"), target_os = "linux"))]
    return Some(SizeAlign { size: 16, align: 16 });
    // s390x Linux: binary128 in 16 bytes, 8-aligned.
    #[cfg(all(target_arch = "s390x", target_os = "linux"))]
    return Some(SizeAlign { size: 16, align: 8 });
    None
}

/// Size and natural alignment of one value of a code in the native modes (`@`, `^`).
///
/// `Code::Pointer` and `Code::Function` are pointer sized (function pointers have the
/// size of data pointers on every target Rust supports).
pub(crate) fn native(code: Code) -> Result<SizeAlign, NoSize> {
    use Code::*;
    Ok(match code {
        Pad | Char | SChar | UChar | Bytes | PascalBytes => of::<u8>(),
        Bool => of::<bool>(),
        Short | UShort => of::<c_short>(),
        Int | UInt => of::<c_int>(),
        Long | ULong => of::<c_long>(),
        LongLong | ULongLong => of::<c_longlong>(),
        SSize => of::<isize>(),
        USize => of::<usize>(),
        // The struct module stores a half float in the size and alignment of a short.
        Half => of::<c_short>(),
        Float => of::<c_float>(),
        Double => of::<c_double>(),
        LongDouble => LONG_DOUBLE.ok_or(NoSize::LongDoubleUnknown)?,
        ComplexFloat => complex(of::<c_float>()),
        ComplexDouble => complex(of::<c_double>()),
        ComplexLongDouble => complex(LONG_DOUBLE.ok_or(NoSize::LongDoubleUnknown)?),
        VoidPtr | Object | Pointer => of::<*const c_void>(),
        Function => of::<fn()>(),
        Ucs2 => of::<u16>(),
        Ucs4 => of::<u32>(),
    })
}

const fn complex(part: SizeAlign) -> SizeAlign {
    // A C floating type's size (at most 16 bytes), not input: doubling it cannot overflow.
    #[allow(clippy::arithmetic_side_effects)]
    let size = part.size * 2;
    SizeAlign { size, align: part.align }
}

/// Size of one value of a code in the standard modes (`=`, `<`, `>`, `!`); the alignment
/// is always 1 there.
///
/// The struct module's codes get its standard sizes; `n` and `N` are refused as the
/// struct module refuses them. The codes that the struct module does not know and that
/// have no standard size (`P`, `O`, `&`, `X{}`, `g`, `Zg`) keep their native size:
/// producers such as ctypes write `<P`, `<O`, `&<i` and `<g` for native-sized values.
pub(crate) fn standard(code: Code) -> Result<SizeAlign, NoSize> {
    use Code::*;
    Ok(match code {
        Pad | Char | SChar | UChar | Bool | Bytes | PascalBytes => fixed(1),
        Short | UShort | Half | Ucs2 => fixed(2),
        Int | UInt | Long | ULong | Float | Ucs4 => fixed(4),
        LongLong | ULongLong | Double | ComplexFloat => fixed(8),
        ComplexDouble => fixed(16),
        SSize | USize => return Err(NoSize::NativeOnly),
        LongDouble | ComplexLongDouble | VoidPtr | Object | Pointer | Function => fixed(native(code)?.size),
    })
}

/// Size and effective alignment of one value of `code` in `mode`: the natural alignment
/// in `@`, 1 in every other mode.
pub(crate) fn size_align(code: Code, mode: Mode) -> Result<SizeAlign, NoSize> {
    match mode {
        Mode::Native => native(code),
        Mode::Unaligned => native(code).map(|sa| SizeAlign { size: sa.size, align: 1 }),
        Mode::NativeOrder | Mode::Little | Mode::Big => standard(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_sizes_follow_the_c_abi() {
        assert_eq!(native(Code::Int).unwrap(), of::<c_int>());
        assert_eq!(native(Code::Long).unwrap().size, size_of::<c_long>() as isize);
        assert_eq!(native(Code::SSize).unwrap().size, size_of::<usize>() as isize);
        assert_eq!(native(Code::VoidPtr).unwrap().size, size_of::<usize>() as isize);
        assert_eq!(native(Code::Half).unwrap(), SizeAlign { size: 2, align: 2 });
        assert_eq!(native(Code::Ucs2).unwrap(), SizeAlign { size: 2, align: 2 });
        assert_eq!(native(Code::Ucs4).unwrap(), SizeAlign { size: 4, align: 4 });
        assert_eq!(native(Code::ComplexDouble).unwrap().size, 16);
        assert_eq!(native(Code::ComplexFloat).unwrap(), SizeAlign { size: 8, align: 4 });
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn long_double_on_x86_64_linux() {
        assert_eq!(LONG_DOUBLE, Some(SizeAlign { size: 16, align: 16 }));
        assert_eq!(native(Code::ComplexLongDouble).unwrap(), SizeAlign { size: 32, align: 16 });
        assert_eq!(standard(Code::LongDouble).unwrap(), SizeAlign { size: 16, align: 1 });
    }

    #[test]
    fn standard_sizes_are_the_struct_modules() {
        let cases = [
            (Code::Bool, 1),
            (Code::Short, 2),
            (Code::Int, 4),
            (Code::Long, 4),
            (Code::ULong, 4),
            (Code::LongLong, 8),
            (Code::Half, 2),
            (Code::Float, 4),
            (Code::Double, 8),
            (Code::ComplexFloat, 8),
            (Code::ComplexDouble, 16),
        ];
        for (code, size) in cases {
            assert_eq!(standard(code).unwrap(), SizeAlign { size, align: 1 }, "{code:?}");
        }
        assert_eq!(standard(Code::SSize), Err(NoSize::NativeOnly));
        assert_eq!(standard(Code::USize), Err(NoSize::NativeOnly));
        assert_eq!(size_align(Code::Double, Mode::Unaligned).unwrap(), SizeAlign { size: 8, align: 1 });
    }
}
