"""ctypes declarations of libpybuf's C API (include/pybuf.h), for reuse by any test.

    import pybuf_ctypes as pc
    lib = pc.load()                       # $PYBUF_LIB, else target/release/libpybuf.so
    view = pc.pybuf_buffer()
    lib.pybuf_fill_info(ctypes.byref(view), None, buf, n, 0, pc.PYBUF_FULL_RO)

Every function of the header gets its argtypes and restype here; test_api.py checks that
this module covers the whole header, and that the constants below equal the header's.
A function not (yet) exported by the library is left out: `has(lib, name)` tells.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from ctypes import POINTER, c_char, c_char_p, c_int, c_ssize_t, c_void_p

REPO = Path(__file__).resolve().parents[3]
HEADER = REPO / "include" / "pybuf.h"
DEFAULT_LIB = REPO / "target" / "release" / "libpybuf.so"

pybuf_ssize_t = c_ssize_t


class pybuf_buffer(ctypes.Structure):
    """`pybuf_buffer`, field for field CPython's `Py_buffer`.

    `obj` is a plain pointer here, so ctypes never touches reference counts: whoever
    filled the view (PyObject_GetBuffer) owns that reference and PyBuffer_Release drops it.
    """

    _fields_ = [
        ("buf", c_void_p),
        ("obj", c_void_p),
        ("len", pybuf_ssize_t),
        ("itemsize", pybuf_ssize_t),
        ("readonly", c_int),
        ("ndim", c_int),
        ("format", c_char_p),
        ("shape", POINTER(pybuf_ssize_t)),
        ("strides", POINTER(pybuf_ssize_t)),
        ("suboffsets", POINTER(pybuf_ssize_t)),
        ("internal", c_void_p),
    ]


# CPython's name for the same layout.
Py_buffer = pybuf_buffer

PYBUF_MAX_NDIM = 64

# Request flags (equal to CPython's PyBUF_*).
PYBUF_SIMPLE = 0
PYBUF_WRITABLE = 0x0001
PYBUF_FORMAT = 0x0004
PYBUF_ND = 0x0008
PYBUF_STRIDES = 0x0010 | PYBUF_ND
PYBUF_C_CONTIGUOUS = 0x0020 | PYBUF_STRIDES
PYBUF_F_CONTIGUOUS = 0x0040 | PYBUF_STRIDES
PYBUF_ANY_CONTIGUOUS = 0x0080 | PYBUF_STRIDES
PYBUF_INDIRECT = 0x0100 | PYBUF_STRIDES
PYBUF_CONTIG = PYBUF_ND | PYBUF_WRITABLE
PYBUF_CONTIG_RO = PYBUF_ND
PYBUF_STRIDED = PYBUF_STRIDES | PYBUF_WRITABLE
PYBUF_STRIDED_RO = PYBUF_STRIDES
PYBUF_RECORDS = PYBUF_STRIDES | PYBUF_WRITABLE | PYBUF_FORMAT
PYBUF_RECORDS_RO = PYBUF_STRIDES | PYBUF_FORMAT
PYBUF_FULL = PYBUF_INDIRECT | PYBUF_WRITABLE | PYBUF_FORMAT
PYBUF_FULL_RO = PYBUF_INDIRECT | PYBUF_FORMAT
PYBUF_READ = 0x100
PYBUF_WRITE = 0x200

# The single bits a request is made of.
REQUEST_BITS = (0x001, 0x004, 0x008, 0x010, 0x020, 0x040, 0x080, 0x100)

# pybuf_byte_order.
PYBUF_BYTE_ORDER_LITTLE = 1
PYBUF_BYTE_ORDER_BIG = 2
pybuf_byte_order = c_int

# pybuf_status.
PYBUF_STATUS_OK = 0
PYBUF_STATUS_NULL_POINTER = -1
PYBUF_STATUS_INVALID_ARGUMENT = -2
PYBUF_STATUS_INVALID_NDIM = -3
PYBUF_STATUS_INVALID_SHAPE = -4
PYBUF_STATUS_INVALID_ITEMSIZE = -5
PYBUF_STATUS_INVALID_STRIDES = -6
PYBUF_STATUS_INVALID_SUBOFFSETS = -7
PYBUF_STATUS_LENGTH_MISMATCH = -8
PYBUF_STATUS_OVERFLOW = -9
PYBUF_STATUS_INDEX_OUT_OF_RANGE = -10
PYBUF_STATUS_INVALID_FORMAT = -11
PYBUF_STATUS_UNSUPPORTED_FORMAT = -12
PYBUF_STATUS_READ_ONLY = -13
PYBUF_STATUS_SHAPE_MISMATCH = -14
PYBUF_STATUS_BUFFER_REQUEST = -15
PYBUF_STATUS_FOREIGN_VIEW = -16
PYBUF_STATUS_EXPORTS_EXIST = -17
PYBUF_STATUS_OUT_OF_MEMORY = -18
PYBUF_STATUS_INTERNAL = -19
PYBUF_STATUS_FORMAT_MISMATCH = -20
PYBUF_STATUS_UNREPRESENTABLE = -21
PYBUF_STATUS_UNSUPPORTED_DEVICE = -22
PYBUF_STATUS_UNSUPPORTED_VERSION = -23
PYBUF_STATUS_TYPE_MISMATCH = -24
PYBUF_STATUS_VALUE_OUT_OF_RANGE = -25
PYBUF_STATUS_VALUE_MISMATCH = -26
PYBUF_STATUS_IO = -27
PYBUF_STATUS_END_OF_FILE = -28
PYBUF_STATUS_WOULD_BLOCK = -29
PYBUF_STATUS_INVALID_FILE = -30

# pybuf_npy_load flags.
PYBUF_NPY_READONLY = 0
PYBUF_NPY_WRITABLE = 1
PYBUF_NPY_PRIVATE = 2

STATUS_NAMES = {v: k for k, v in globals().items() if k.startswith("PYBUF_STATUS_")}

# Views (pybuf_slice ... pybuf_extent).
PYBUF_SLICE_NONE = -(1 << (8 * ctypes.sizeof(c_ssize_t) - 1))  # PTRDIFF_MIN
PYBUF_VALUE_INT = 1
PYBUF_VALUE_UINT = 2
PYBUF_VALUE_DOUBLE = 3
PYBUF_VALUE_COMPLEX = 4
PYBUF_VALUE_BOOL = 5
PYBUF_VALUE_BYTES = 6
PYBUF_VALIDATE_LAYOUT = 1
PYBUF_VALIDATE_FORMAT = 2
PYBUF_VALIDATE_MEMORY = 3
PYBUF_MAP_READONLY = 0
PYBUF_MAP_SHARED = 1
PYBUF_MAP_PRIVATE = 2
# pybuf_io_new directions.
PYBUF_IO_WRITE = 0
PYBUF_IO_READ = 1
PYBUF_NPZ_COPY = 4
PYBUF_NPZ_DEFLATE = 1
# pybuf_copy_plan_set_threads' largest thread count.
PYBUF_COPY_PLAN_MAX_THREADS = 1024

# C types the header spells with their own names (test_api.py looks them up here).
int64_t = ctypes.c_int64
uint64_t = ctypes.c_uint64
uint32_t = ctypes.c_uint32
double = ctypes.c_double


# Opaque handles.
class pybuf_exporter(ctypes.Structure):
    pass


class pybuf_format(ctypes.Structure):
    pass


class pybuf_format_runs(ctypes.Structure):
    pass


class pybuf_iter(ctypes.Structure):
    pass


class pybuf_io(ctypes.Structure):
    pass


class pybuf_npz(ctypes.Structure):
    pass


class pybuf_copy_plan(ctypes.Structure):
    pass


class pybuf_npz_member(ctypes.Structure):
    _fields_ = [
        ("name", c_char_p),
        ("method", c_int),
        ("encrypted", c_int),
        ("size", ctypes.c_int64),
        ("compressed_size", ctypes.c_int64),
        ("data_offset", ctypes.c_int64),
        ("crc32", ctypes.c_uint32),
    ]


_SSIZE_P = POINTER(pybuf_ssize_t)
_BUF_P = POINTER(pybuf_buffer)


class pybuf_exporter_desc(ctypes.Structure):
    _fields_ = [
        ("buf", c_void_p),
        ("len", pybuf_ssize_t),
        ("offset", pybuf_ssize_t),
        ("readonly", c_int),
        ("format", c_char_p),
        ("itemsize", pybuf_ssize_t),
        ("ndim", c_int),
        ("shape", _SSIZE_P),
        ("strides", _SSIZE_P),
        ("suboffsets", _SSIZE_P),
    ]


pybuf_owner_fn = ctypes.CFUNCTYPE(None, c_void_p)
pybuf_getbuffer_fn = ctypes.CFUNCTYPE(c_int, c_void_p, _BUF_P, c_int)
pybuf_releasebuffer_fn = ctypes.CFUNCTYPE(None, c_void_p, _BUF_P)


class pybuf_procs(ctypes.Structure):
    _fields_ = [("getbuffer", pybuf_getbuffer_fn), ("releasebuffer", pybuf_releasebuffer_fn)]


class pybuf_object(ctypes.Structure):
    _fields_ = [("procs", POINTER(pybuf_procs)), ("exporter", c_void_p)]


class pybuf_format_field(ctypes.Structure):
    _fields_ = [
        ("name", c_char_p),
        ("offset", pybuf_ssize_t),
        ("size", pybuf_ssize_t),
        ("element_size", pybuf_ssize_t),
        ("alignment", pybuf_ssize_t),
        ("count", pybuf_ssize_t),
        ("values", pybuf_ssize_t),
        ("ndim", c_int),
        ("shape", _SSIZE_P),
        ("code", c_char * 4),
        ("mode", c_char),
        ("byte_order", pybuf_byte_order),
        ("nested", POINTER(pybuf_format)),
    ]


class pybuf_format_repeat(ctypes.Structure):
    _fields_ = [("count", pybuf_ssize_t), ("stride", pybuf_ssize_t)]


class pybuf_format_leaf(ctypes.Structure):
    _fields_ = [
        ("name", c_char_p),
        ("offset", pybuf_ssize_t),
        ("size", pybuf_ssize_t),
        ("count", pybuf_ssize_t),
        ("total", pybuf_ssize_t),
        ("nrepeats", c_int),
        ("repeats", POINTER(pybuf_format_repeat)),
        ("code", c_char * 4),
        ("mode", c_char),
        ("byte_order", pybuf_byte_order),
    ]


class pybuf_format_run(ctypes.Structure):
    _fields_ = [
        ("offset", pybuf_ssize_t),
        ("size", pybuf_ssize_t),
        ("count", pybuf_ssize_t),
        ("code", c_char * 4),
        ("mode", c_char),
        ("byte_order", pybuf_byte_order),
    ]


class pybuf_value(ctypes.Structure):
    _fields_ = [
        ("kind", c_int),
        ("b", c_int),
        ("i", ctypes.c_int64),
        ("u", ctypes.c_uint64),
        ("real", ctypes.c_double),
        ("imag", ctypes.c_double),
        ("bytes", c_void_p),
        ("size", pybuf_ssize_t),
    ]


# DLPack's structs, as pybuf.h declares them (the layout of DLPack's dlpack.h).
DLPACK_FLAG_BITMASK_READ_ONLY = 1 << 0
DLPACK_FLAG_BITMASK_IS_COPIED = 1 << 1
kDLCPU, kDLCUDA, kDLCUDAHost = 1, 2, 3
kDLInt, kDLUInt, kDLFloat, kDLBfloat, kDLComplex, kDLBool = 0, 1, 2, 4, 5, 6


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", DLDataType),
        ("shape", POINTER(ctypes.c_int64)),
        ("strides", POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    pass


DLManagedTensor._fields_ = [
    ("dl_tensor", DLTensor),
    ("manager_ctx", c_void_p),
    ("deleter", ctypes.CFUNCTYPE(None, POINTER(DLManagedTensor))),
]


class DLManagedTensorVersioned(ctypes.Structure):
    pass


DLManagedTensorVersioned._fields_ = [
    ("version", DLPackVersion),
    ("manager_ctx", c_void_p),
    ("deleter", ctypes.CFUNCTYPE(None, POINTER(DLManagedTensorVersioned))),
    ("flags", ctypes.c_uint64),
    ("dl_tensor", DLTensor),
]

DLPACK_STRUCTS = {c.__name__: c for c in (DLPackVersion, DLDevice, DLDataType, DLTensor,
                                           DLManagedTensor, DLManagedTensorVersioned)}

_EXP_P = POINTER(pybuf_exporter)
_FMT_P = POINTER(pybuf_format)
_RUNS_P = POINTER(pybuf_format_runs)
_ITER_P = POINTER(pybuf_iter)
_IO_P = POINTER(pybuf_io)
_VALUE_P = POINTER(pybuf_value)

# name: (restype, argtypes), in header order. A function the loaded library does not
# export (yet) is skipped by `declare`; test_api.py checks this table against the header.
FUNCTIONS = {
    "pybuf_is_contiguous": (c_int, [_BUF_P, c_char]),
    "pybuf_get_pointer": (c_void_p, [_BUF_P, _SSIZE_P]),
    "pybuf_fill_contiguous_strides": (c_int, [c_int, _SSIZE_P, _SSIZE_P, pybuf_ssize_t, c_char]),
    "pybuf_fill_info": (c_int, [_BUF_P, c_void_p, c_void_p, pybuf_ssize_t, c_int, c_int]),
    "pybuf_release": (None, [_BUF_P]),
    "pybuf_to_contiguous": (c_int, [c_void_p, _BUF_P, pybuf_ssize_t, c_char]),
    "pybuf_from_contiguous": (c_int, [_BUF_P, c_void_p, pybuf_ssize_t, c_char]),
    "pybuf_copy": (c_int, [_BUF_P, _BUF_P]),
    "pybuf_copy_plan_new": (c_int, [_BUF_P, _BUF_P, c_int, POINTER(POINTER(pybuf_copy_plan))]),
    "pybuf_copy_plan_execute": (c_int, [POINTER(pybuf_copy_plan), c_void_p, c_void_p]),
    "pybuf_copy_plan_parts": (pybuf_ssize_t, [POINTER(pybuf_copy_plan)]),
    "pybuf_copy_plan_execute_part": (c_int, [POINTER(pybuf_copy_plan), pybuf_ssize_t, c_void_p, c_void_p]),
    "pybuf_copy_plan_set_threads": (c_int, [POINTER(pybuf_copy_plan), c_int]),
    "pybuf_copy_plan_free": (None, [POINTER(pybuf_copy_plan)]),
    "pybuf_last_error": (c_char_p, []),
    "pybuf_last_status": (c_int, []),
    "pybuf_last_errno": (c_int, []),
    "pybuf_status_name": (c_char_p, [c_int]),
    "pybuf_version": (ctypes.c_uint32, []),
    "pybuf_version_string": (c_char_p, []),
    # exporters
    "pybuf_exporter_new": (c_int, [POINTER(pybuf_exporter_desc), pybuf_owner_fn, c_void_p, POINTER(_EXP_P)]),
    "pybuf_exporter_clone": (_EXP_P, [_EXP_P]),
    "pybuf_exporter_free": (None, [_EXP_P]),
    "pybuf_exporter_get_buffer": (c_int, [_EXP_P, _BUF_P, c_int]),
    "pybuf_exporter_exports": (pybuf_ssize_t, [_EXP_P]),
    "pybuf_exporter_replace": (c_int, [_EXP_P, POINTER(pybuf_exporter_desc)]),
    "pybuf_fill_view": (c_int, [_BUF_P, POINTER(pybuf_exporter_desc), c_int]),
    "pybuf_exporter_as_object": (pybuf_object, [_EXP_P]),
    "pybuf_object_get_buffer": (c_int, [POINTER(pybuf_object), _BUF_P, c_int]),
    # formats
    "pybuf_size_from_format": (pybuf_ssize_t, [c_char_p]),
    "pybuf_format_parse": (c_int, [c_char_p, POINTER(_FMT_P)]),
    "pybuf_format_free": (None, [_FMT_P]),
    "pybuf_format_itemsize": (pybuf_ssize_t, [_FMT_P]),
    "pybuf_format_alignment": (pybuf_ssize_t, [_FMT_P]),
    "pybuf_format_field_count": (pybuf_ssize_t, [_FMT_P]),
    "pybuf_format_get_field": (c_int, [_FMT_P, pybuf_ssize_t, POINTER(pybuf_format_field)]),
    "pybuf_format_leaf_count": (pybuf_ssize_t, [_FMT_P]),
    "pybuf_format_get_leaf": (c_int, [_FMT_P, pybuf_ssize_t, POINTER(pybuf_format_leaf)]),
    "pybuf_format_canonical": (c_char_p, [_FMT_P]),
    "pybuf_format_equal": (c_int, [_FMT_P, _FMT_P]),
    "pybuf_format_compatible": (c_int, [_FMT_P, _FMT_P]),
    "pybuf_format_runs_new": (c_int, [_FMT_P, POINTER(_RUNS_P)]),
    "pybuf_format_runs_next": (c_int, [_RUNS_P, POINTER(pybuf_format_run)]),
    "pybuf_format_runs_free": (None, [_RUNS_P]),
    "pybuf_check_format": (c_int, [_BUF_P, c_char_p]),
    "pybuf_check_format_ex": (c_int, [_BUF_P, c_char_p, c_int, c_char]),
    # interop: DLPack and NumPy's array interface
    "pybuf_to_dlpack": (c_int, [_BUF_P, pybuf_owner_fn, c_void_p, POINTER(POINTER(DLManagedTensorVersioned))]),
    "pybuf_to_dlpack_legacy": (c_int, [_BUF_P, pybuf_owner_fn, c_void_p, POINTER(POINTER(DLManagedTensor))]),
    "pybuf_from_dlpack": (c_int, [_BUF_P, POINTER(DLManagedTensorVersioned), c_int]),
    "pybuf_from_dlpack_legacy": (c_int, [_BUF_P, POINTER(DLManagedTensor), c_int]),
    "pybuf_format_to_typestr": (pybuf_ssize_t, [c_char_p, pybuf_ssize_t, c_char_p, pybuf_ssize_t]),
    "pybuf_format_to_descr": (pybuf_ssize_t, [c_char_p, pybuf_ssize_t, c_char_p, pybuf_ssize_t]),
    "pybuf_format_from_typestr": (pybuf_ssize_t, [c_char_p, c_char_p, pybuf_ssize_t]),
    "pybuf_format_from_descr": (pybuf_ssize_t, [c_char_p, c_char_p, pybuf_ssize_t]),
    # views
    "pybuf_slice": (c_int, [_BUF_P, _BUF_P, c_int, pybuf_ssize_t, pybuf_ssize_t, pybuf_ssize_t]),
    "pybuf_index": (c_int, [_BUF_P, _BUF_P, c_int, pybuf_ssize_t]),
    "pybuf_subview": (c_int, [_BUF_P, _BUF_P, _SSIZE_P, _SSIZE_P]),
    "pybuf_transpose": (c_int, [_BUF_P, _BUF_P]),
    "pybuf_permute": (c_int, [_BUF_P, _BUF_P, POINTER(c_int)]),
    "pybuf_cast": (c_int, [_BUF_P, _BUF_P, c_char_p, c_int, _SSIZE_P]),
    "pybuf_broadcast": (c_int, [_BUF_P, _BUF_P, c_int, pybuf_ssize_t]),
    "pybuf_broadcast_to": (c_int, [_BUF_P, _BUF_P, c_int, _SSIZE_P]),
    "pybuf_item_fields": (pybuf_ssize_t, [_BUF_P]),
    "pybuf_get_item": (c_int, [_BUF_P, _SSIZE_P, pybuf_ssize_t, _VALUE_P]),
    "pybuf_set_item": (c_int, [_BUF_P, _SSIZE_P, pybuf_ssize_t, _VALUE_P]),
    "pybuf_iter_new": (c_int, [_BUF_P, c_char, POINTER(_ITER_P)]),
    "pybuf_iter_next": (c_int, [_ITER_P, POINTER(c_void_p), _SSIZE_P]),
    "pybuf_iter_free": (None, [_ITER_P]),
    "pybuf_equal": (c_int, [_BUF_P, _BUF_P]),
    "pybuf_validate": (c_int, [_BUF_P, c_int, c_void_p, pybuf_ssize_t]),
    "pybuf_extent": (c_int, [_BUF_P, _SSIZE_P, _SSIZE_P]),
    # mapped files
    "pybuf_map_fd": (c_int, [c_int, ctypes.c_int64, POINTER(pybuf_exporter_desc), c_int, POINTER(_EXP_P)]),
    "pybuf_map_path": (c_int, [c_char_p, ctypes.c_int64, POINTER(pybuf_exporter_desc), c_int, POINTER(_EXP_P)]),
    "pybuf_exporter_sync": (c_int, [_EXP_P]),
    # file descriptors
    "pybuf_write_fd": (c_int, [c_int, _BUF_P, c_char]),
    "pybuf_read_fd": (c_int, [c_int, _BUF_P, c_char]),
    "pybuf_pwrite_fd": (c_int, [c_int, _BUF_P, c_char, ctypes.c_int64]),
    "pybuf_pread_fd": (c_int, [c_int, _BUF_P, c_char, ctypes.c_int64]),
    "pybuf_io_new": (c_int, [c_int, _BUF_P, c_char, c_int, ctypes.c_int64, POINTER(_IO_P)]),
    "pybuf_io_step": (c_int, [_IO_P]),
    "pybuf_io_done": (ctypes.c_int64, [_IO_P]),
    "pybuf_io_total": (ctypes.c_int64, [_IO_P]),
    "pybuf_io_free": (None, [_IO_P]),
    # .npy files
    "pybuf_npy_save": (c_int, [c_char_p, _BUF_P]),
    "pybuf_npy_write_fd": (c_int, [c_int, _BUF_P]),
    "pybuf_npy_load": (c_int, [c_char_p, c_int, POINTER(_EXP_P)]),
    "pybuf_npy_load_fd": (c_int, [c_int, c_int, POINTER(_EXP_P)]),
    "pybuf_npy_read": (c_int, [c_char_p, _BUF_P]),
    "pybuf_npy_read_fd": (c_int, [c_int, _BUF_P]),
    # .npz archives
    "pybuf_npz_open": (c_int, [c_char_p, POINTER(POINTER(pybuf_npz))]),
    "pybuf_npz_open_fd": (c_int, [c_int, POINTER(POINTER(pybuf_npz))]),
    "pybuf_npz_count": (pybuf_ssize_t, [POINTER(pybuf_npz)]),
    "pybuf_npz_member_info": (c_int, [POINTER(pybuf_npz), pybuf_ssize_t, POINTER(pybuf_npz_member)]),
    "pybuf_npz_find": (pybuf_ssize_t, [POINTER(pybuf_npz), c_char_p]),
    "pybuf_npz_load": (c_int, [POINTER(pybuf_npz), pybuf_ssize_t, c_int, POINTER(_EXP_P)]),
    "pybuf_npz_close": (None, [POINTER(pybuf_npz)]),
    "pybuf_npz_save": (c_int, [c_char_p, pybuf_ssize_t, POINTER(c_char_p), _BUF_P, c_int]),
}

# Structs declared here, by their header name (test_api.py checks their fields).
STRUCTS = {
    "pybuf_buffer": pybuf_buffer,
    "pybuf_exporter_desc": pybuf_exporter_desc,
    "pybuf_procs": pybuf_procs,
    "pybuf_object": pybuf_object,
    "pybuf_format_field": pybuf_format_field,
    "pybuf_format_repeat": pybuf_format_repeat,
    "pybuf_format_leaf": pybuf_format_leaf,
    "pybuf_format_run": pybuf_format_run,
    "pybuf_value": pybuf_value,
    "pybuf_npz_member": pybuf_npz_member,
}


# -- datatypes: a view as nested strided blocks, for MPI (docs/mpi.md) ----------------------

pybuf_datatype_kind = c_int
PYBUF_DATATYPE_KIND_BYTES = 0
PYBUF_DATATYPE_KIND_INT8 = 1
PYBUF_DATATYPE_KIND_UINT8 = 2
PYBUF_DATATYPE_KIND_INT16 = 3
PYBUF_DATATYPE_KIND_UINT16 = 4
PYBUF_DATATYPE_KIND_INT32 = 5
PYBUF_DATATYPE_KIND_UINT32 = 6
PYBUF_DATATYPE_KIND_INT64 = 7
PYBUF_DATATYPE_KIND_UINT64 = 8
PYBUF_DATATYPE_KIND_FLOAT = 9
PYBUF_DATATYPE_KIND_DOUBLE = 10
PYBUF_DATATYPE_KIND_LONG_DOUBLE = 11
PYBUF_DATATYPE_KIND_COMPLEX_FLOAT = 12
PYBUF_DATATYPE_KIND_COMPLEX_DOUBLE = 13
PYBUF_DATATYPE_KIND_COMPLEX_LONG_DOUBLE = 14
PYBUF_DATATYPE_KIND_BOOL = 15
PYBUF_DATATYPE_KIND_STRUCT = 16


class pybuf_datatype_member(ctypes.Structure):
    _fields_ = [("offset", pybuf_ssize_t), ("count", pybuf_ssize_t), ("size", pybuf_ssize_t),
                ("kind", pybuf_datatype_kind), ("nested", pybuf_ssize_t)]


class pybuf_datatype_struct(ctypes.Structure):
    _fields_ = [("extent", pybuf_ssize_t), ("nmembers", pybuf_ssize_t),
                ("members", POINTER(pybuf_datatype_member))]


class pybuf_datatype_dim(ctypes.Structure):
    _fields_ = [("count", pybuf_ssize_t), ("stride", pybuf_ssize_t)]


class pybuf_datatype(ctypes.Structure):
    _fields_ = [
        ("itemsize", pybuf_ssize_t),
        ("nbytes", pybuf_ssize_t),
        ("kind", pybuf_datatype_kind),
        ("nested", pybuf_ssize_t),
        ("size", pybuf_ssize_t),
        ("block", pybuf_ssize_t),
        ("ndim", c_int),
        ("dims", POINTER(pybuf_datatype_dim)),
        ("nstructs", pybuf_ssize_t),
        ("structs", POINTER(pybuf_datatype_struct)),
        ("nbases", pybuf_ssize_t),
        ("bases", POINTER(c_void_p)),
    ]


FUNCTIONS.update({
    "pybuf_datatype_new": (c_int, [_BUF_P, pybuf_ssize_t, POINTER(POINTER(pybuf_datatype))]),
    "pybuf_datatype_free": (None, [POINTER(pybuf_datatype)]),
})
STRUCTS.update({c.__name__: c for c in (pybuf_datatype_member, pybuf_datatype_struct,
                                        pybuf_datatype_dim, pybuf_datatype)})

def library_path() -> str:
    return os.environ.get("PYBUF_LIB") or str(DEFAULT_LIB)


def declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Set argtypes/restype on every function of FUNCTIONS that `lib` exports."""
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def load(path: str | os.PathLike | None = None) -> ctypes.CDLL:
    """Load libpybuf (a fresh handle) and declare its functions."""
    return declare(ctypes.CDLL(str(path or library_path())))


def has(lib: ctypes.CDLL, name: str) -> bool:
    """Whether the loaded library exports `name`."""
    try:
        getattr(lib, name)
    except AttributeError:
        return False
    return True


def last_error(lib: ctypes.CDLL) -> str:
    return lib.pybuf_last_error().decode("utf-8", "replace")


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"<status {status}>")


# -- shared memory and hand-over over Unix sockets (issue 15), in a block of its own -----

PYBUF_STATUS_INVALID_MESSAGE = -31
PYBUF_STATUS_NOT_SHARED = -32
STATUS_NAMES.update({-31: "PYBUF_STATUS_INVALID_MESSAGE", -32: "PYBUF_STATUS_NOT_SHARED"})

# pybuf_share_new / pybuf_share_open / pybuf_share_copy flags.
PYBUF_SHARE_NPY = 1
PYBUF_SHARE_READONLY = 2
# pybuf_send_view flags.
PYBUF_SEND_READONLY = 1
PYBUF_SEND_COPY = 2
# pybuf_recv_view flags.
PYBUF_RECV_READONLY = 1
PYBUF_RECV_SEALED = 2
PYBUF_RECV_UNSEALED = 4

FUNCTIONS.update({
    "pybuf_share_new": (c_int, [c_char_p, POINTER(pybuf_exporter_desc), c_int, POINTER(_EXP_P)]),
    "pybuf_share_open": (c_int, [c_char_p, POINTER(pybuf_exporter_desc), c_int, POINTER(_EXP_P)]),
    "pybuf_share_copy": (c_int, [_BUF_P, c_char, c_char_p, c_int, POINTER(_EXP_P)]),
    "pybuf_share_seal": (c_int, [_EXP_P]),
    "pybuf_share_fd": (c_int, [_EXP_P, POINTER(c_int)]),
    "pybuf_share_unlink": (c_int, [c_char_p]),
    "pybuf_send_view": (c_int, [c_int, _BUF_P, c_int]),
    "pybuf_recv_view": (c_int, [c_int, c_int, POINTER(_EXP_P)]),
})
