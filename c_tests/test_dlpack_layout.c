/*
 * pybuf.h's DLPack declarations against dlpack.h's (c_tests/reference/dlpack/dlpack.h, a
 * stand-in written from DLPack's published ABI), both in one translation unit: the
 * reference is included with every name renamed (ref_DLTensor, ref_kDLCPU, ...), then
 * its include guard and macros are undone and pybuf.h declares the real names. Every
 * struct has the same size and alignment, every field the same offset and size, every
 * enum value and macro the same value.
 */
#include <stddef.h>

#define DLPackVersion ref_DLPackVersion
#define DLDeviceType ref_DLDeviceType
#define DLDevice ref_DLDevice
#define DLDataTypeCode ref_DLDataTypeCode
#define DLDataType ref_DLDataType
#define DLTensor ref_DLTensor
#define DLManagedTensor ref_DLManagedTensor
#define DLManagedTensorVersioned ref_DLManagedTensorVersioned
#define DLPackExchangeAPIHeader ref_DLPackExchangeAPIHeader
#define FOR_EACH_ENUM(X)                                                                   \
    X(kDLCPU) X(kDLCUDA) X(kDLCUDAHost) X(kDLOpenCL) X(kDLVulkan) X(kDLMetal) X(kDLVPI)    \
    X(kDLROCM) X(kDLROCMHost) X(kDLExtDev) X(kDLCUDAManaged) X(kDLOneAPI) X(kDLWebGPU)     \
    X(kDLHexagon) X(kDLMAIA) X(kDLTrn) X(kDLInt) X(kDLUInt) X(kDLFloat) X(kDLOpaqueHandle) \
    X(kDLBfloat) X(kDLComplex) X(kDLBool) X(kDLFloat8_e3m4) X(kDLFloat8_e4m3)              \
    X(kDLFloat8_e4m3b11fnuz) X(kDLFloat8_e4m3fn) X(kDLFloat8_e4m3fnuz) X(kDLFloat8_e5m2)   \
    X(kDLFloat8_e5m2fnuz) X(kDLFloat8_e8m0fnu) X(kDLFloat6_e2m3fn) X(kDLFloat6_e3m2fn)     \
    X(kDLFloat4_e2m1fn)
#define kDLCPU ref_kDLCPU
#define kDLCUDA ref_kDLCUDA
#define kDLCUDAHost ref_kDLCUDAHost
#define kDLOpenCL ref_kDLOpenCL
#define kDLVulkan ref_kDLVulkan
#define kDLMetal ref_kDLMetal
#define kDLVPI ref_kDLVPI
#define kDLROCM ref_kDLROCM
#define kDLROCMHost ref_kDLROCMHost
#define kDLExtDev ref_kDLExtDev
#define kDLCUDAManaged ref_kDLCUDAManaged
#define kDLOneAPI ref_kDLOneAPI
#define kDLWebGPU ref_kDLWebGPU
#define kDLHexagon ref_kDLHexagon
#define kDLMAIA ref_kDLMAIA
#define kDLTrn ref_kDLTrn
#define kDLInt ref_kDLInt
#define kDLUInt ref_kDLUInt
#define kDLFloat ref_kDLFloat
#define kDLOpaqueHandle ref_kDLOpaqueHandle
#define kDLBfloat ref_kDLBfloat
#define kDLComplex ref_kDLComplex
#define kDLBool ref_kDLBool
#define kDLFloat8_e3m4 ref_kDLFloat8_e3m4
#define kDLFloat8_e4m3 ref_kDLFloat8_e4m3
#define kDLFloat8_e4m3b11fnuz ref_kDLFloat8_e4m3b11fnuz
#define kDLFloat8_e4m3fn ref_kDLFloat8_e4m3fn
#define kDLFloat8_e4m3fnuz ref_kDLFloat8_e4m3fnuz
#define kDLFloat8_e5m2 ref_kDLFloat8_e5m2
#define kDLFloat8_e5m2fnuz ref_kDLFloat8_e5m2fnuz
#define kDLFloat8_e8m0fnu ref_kDLFloat8_e8m0fnu
#define kDLFloat6_e2m3fn ref_kDLFloat6_e2m3fn
#define kDLFloat6_e3m2fn ref_kDLFloat6_e3m2fn
#define kDLFloat4_e2m1fn ref_kDLFloat4_e2m1fn

#include "reference/dlpack/dlpack.h"

/* The reference's macros, kept as enumerators before they are undone. */
enum {
    REF_MAJOR = DLPACK_MAJOR_VERSION,
    REF_MINOR = DLPACK_MINOR_VERSION,
    REF_READ_ONLY = DLPACK_FLAG_BITMASK_READ_ONLY,
    REF_IS_COPIED = DLPACK_FLAG_BITMASK_IS_COPIED,
    REF_SUBBYTE = DLPACK_FLAG_BITMASK_IS_SUBBYTE_TYPE_PADDED
};
#undef DLPACK_DLPACK_H_
#undef DLPACK_EXTERN_C
#undef DLPACK_DLL
#undef DLPACK_MAJOR_VERSION
#undef DLPACK_MINOR_VERSION
#undef DLPACK_FLAG_BITMASK_READ_ONLY
#undef DLPACK_FLAG_BITMASK_IS_COPIED
#undef DLPACK_FLAG_BITMASK_IS_SUBBYTE_TYPE_PADDED
#undef DLPackVersion
#undef DLDeviceType
#undef DLDevice
#undef DLDataTypeCode
#undef DLDataType
#undef DLTensor
#undef DLManagedTensor
#undef DLManagedTensorVersioned
#undef DLPackExchangeAPIHeader
#undef kDLCPU
#undef kDLCUDA
#undef kDLCUDAHost
#undef kDLOpenCL
#undef kDLVulkan
#undef kDLMetal
#undef kDLVPI
#undef kDLROCM
#undef kDLROCMHost
#undef kDLExtDev
#undef kDLCUDAManaged
#undef kDLOneAPI
#undef kDLWebGPU
#undef kDLHexagon
#undef kDLMAIA
#undef kDLTrn
#undef kDLInt
#undef kDLUInt
#undef kDLFloat
#undef kDLOpaqueHandle
#undef kDLBfloat
#undef kDLComplex
#undef kDLBool
#undef kDLFloat8_e3m4
#undef kDLFloat8_e4m3
#undef kDLFloat8_e4m3b11fnuz
#undef kDLFloat8_e4m3fn
#undef kDLFloat8_e4m3fnuz
#undef kDLFloat8_e5m2
#undef kDLFloat8_e5m2fnuz
#undef kDLFloat8_e8m0fnu
#undef kDLFloat6_e2m3fn
#undef kDLFloat6_e3m2fn
#undef kDLFloat4_e2m1fn

#include "pybuf.h"
#include "check.h"

/* A compile-time check that works in C99: an array of size -1 does not compile. */
#define SAME(a, b, what) typedef char same_##what[((a) == (b)) ? 1 : -1]
#define ALIGN_OF(type) offsetof(struct { char c; type t; }, t)
#define SAME_STRUCT(T)                                                                     \
    SAME(sizeof(T), sizeof(ref_##T), size_##T);                                            \
    SAME(ALIGN_OF(T), ALIGN_OF(ref_##T), align_##T)
#define SAME_FIELD(T, f)                                                                   \
    SAME(offsetof(T, f), offsetof(ref_##T, f), offset_##T##_##f);                          \
    SAME(sizeof(((T *)0)->f), sizeof(((ref_##T *)0)->f), size_##T##_##f)

SAME_STRUCT(DLPackVersion);
SAME_FIELD(DLPackVersion, major);
SAME_FIELD(DLPackVersion, minor);
SAME(sizeof(DLDeviceType), sizeof(ref_DLDeviceType), size_DLDeviceType);
SAME(sizeof(DLDataTypeCode), sizeof(ref_DLDataTypeCode), size_DLDataTypeCode);
SAME_STRUCT(DLDevice);
SAME_FIELD(DLDevice, device_type);
SAME_FIELD(DLDevice, device_id);
SAME_STRUCT(DLDataType);
SAME_FIELD(DLDataType, code);
SAME_FIELD(DLDataType, bits);
SAME_FIELD(DLDataType, lanes);
SAME_STRUCT(DLTensor);
SAME_FIELD(DLTensor, data);
SAME_FIELD(DLTensor, device);
SAME_FIELD(DLTensor, ndim);
SAME_FIELD(DLTensor, dtype);
SAME_FIELD(DLTensor, shape);
SAME_FIELD(DLTensor, strides);
SAME_FIELD(DLTensor, byte_offset);
SAME_STRUCT(DLManagedTensor);
SAME_FIELD(DLManagedTensor, dl_tensor);
SAME_FIELD(DLManagedTensor, manager_ctx);
SAME_FIELD(DLManagedTensor, deleter);
SAME_STRUCT(DLManagedTensorVersioned);
SAME_FIELD(DLManagedTensorVersioned, version);
SAME_FIELD(DLManagedTensorVersioned, manager_ctx);
SAME_FIELD(DLManagedTensorVersioned, deleter);
SAME_FIELD(DLManagedTensorVersioned, flags);
SAME_FIELD(DLManagedTensorVersioned, dl_tensor);
SAME(DLPACK_MAJOR_VERSION, REF_MAJOR, major);
SAME(DLPACK_MINOR_VERSION, REF_MINOR, minor);
SAME(DLPACK_FLAG_BITMASK_READ_ONLY, REF_READ_ONLY, read_only);
SAME(DLPACK_FLAG_BITMASK_IS_COPIED, REF_IS_COPIED, is_copied);
SAME(DLPACK_FLAG_BITMASK_IS_SUBBYTE_TYPE_PADDED, REF_SUBBYTE, subbyte);
#define SAME_ENUM(name) SAME((long)name, (long)ref_##name, enum_##name);
FOR_EACH_ENUM(SAME_ENUM)

/* The same checks at run time, so the test reports what it compared. */
static void same_layout(void) {
#define CHECK_ENUM(name) CHECK_EQ(name, ref_##name);
    FOR_EACH_ENUM(CHECK_ENUM)
    CHECK_EQ(sizeof(DLTensor), sizeof(ref_DLTensor));
    CHECK_EQ(offsetof(DLManagedTensorVersioned, dl_tensor),
             offsetof(ref_DLManagedTensorVersioned, dl_tensor));
    CHECK_EQ(offsetof(DLTensor, byte_offset), offsetof(ref_DLTensor, byte_offset));
    CHECK_EQ(sizeof(DLManagedTensor), sizeof(ref_DLManagedTensor));
    if (sizeof(void *) == 8) {
        CHECK_EQ(sizeof(DLTensor), 48);
        CHECK_EQ(sizeof(DLManagedTensor), 64);
        CHECK_EQ(sizeof(DLManagedTensorVersioned), 80);
    }
}

int main(void) {
    RUN(same_layout);
    return check_report();
}
