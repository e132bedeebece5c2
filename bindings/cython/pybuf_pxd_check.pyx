# cython: language_level=3
"""A compile-time check of pybuf.pxd against include/pybuf.h.

Cython checks each assignment below against pybuf.pxd, and the C compiler (with
-Werror=incompatible-pointer-types, see setup.py) checks the same assignment against the
real declarations of pybuf.h: a function or field declared with another type in pybuf.pxd
than in the header does not build. At run time the module gives the values of every
constant (CONSTANTS) and the sizes of the structs (SIZES), which the tests compare with the
header and with ctypes.
"""

from pybuf cimport *
from pybuf_dlpack cimport *
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

# -- every function, through a pointer of the type pybuf.pxd gives it ---------------------

cdef int (*f_is_contiguous)(const pybuf_buffer *, char) noexcept nogil
cdef void *(*f_get_pointer)(const pybuf_buffer *, const pybuf_ssize_t *) noexcept nogil
cdef int (*f_fill_contiguous_strides)(int, const pybuf_ssize_t *, pybuf_ssize_t *, pybuf_ssize_t, char) noexcept nogil
cdef int (*f_fill_info)(pybuf_buffer *, void *, void *, pybuf_ssize_t, int, int) noexcept nogil
cdef void (*f_release)(pybuf_buffer *) noexcept nogil
cdef int (*f_to_contiguous)(void *, const pybuf_buffer *, pybuf_ssize_t, char) noexcept nogil
cdef int (*f_from_contiguous)(const pybuf_buffer *, const void *, pybuf_ssize_t, char) noexcept nogil
cdef int (*f_copy)(const pybuf_buffer *, const pybuf_buffer *) noexcept nogil
cdef const char *(*f_last_error)() noexcept nogil
cdef int (*f_last_status)() noexcept nogil
cdef const char *(*f_status_name)(int) noexcept nogil
cdef uint32_t (*f_version)() noexcept nogil
cdef const char *(*f_version_string)() noexcept nogil
cdef int (*f_exporter_new)(const pybuf_exporter_desc *, pybuf_owner_fn, void *, pybuf_exporter **) noexcept nogil
cdef pybuf_exporter *(*f_exporter_clone)(pybuf_exporter *) noexcept nogil
cdef void (*f_exporter_free)(pybuf_exporter *) noexcept nogil
cdef int (*f_exporter_get_buffer)(pybuf_exporter *, pybuf_buffer *, int) noexcept nogil
cdef pybuf_ssize_t (*f_exporter_exports)(const pybuf_exporter *) noexcept nogil
cdef int (*f_exporter_replace)(pybuf_exporter *, const pybuf_exporter_desc *) noexcept nogil
cdef int (*f_fill_view)(pybuf_buffer *, const pybuf_exporter_desc *, int) noexcept nogil
cdef pybuf_object (*f_exporter_as_object)(pybuf_exporter *) noexcept nogil
cdef int (*f_object_get_buffer)(const pybuf_object *, pybuf_buffer *, int) noexcept nogil
cdef pybuf_ssize_t (*f_size_from_format)(const char *) noexcept nogil
cdef int (*f_format_parse)(const char *, pybuf_format **) noexcept nogil
cdef void (*f_format_free)(pybuf_format *) noexcept nogil
cdef pybuf_ssize_t (*f_format_itemsize)(const pybuf_format *) noexcept nogil
cdef pybuf_ssize_t (*f_format_alignment)(const pybuf_format *) noexcept nogil
cdef pybuf_ssize_t (*f_format_field_count)(const pybuf_format *) noexcept nogil
cdef int (*f_format_get_field)(const pybuf_format *, pybuf_ssize_t, pybuf_format_field *) noexcept nogil
cdef pybuf_ssize_t (*f_format_leaf_count)(const pybuf_format *) noexcept nogil
cdef int (*f_format_get_leaf)(const pybuf_format *, pybuf_ssize_t, pybuf_format_leaf *) noexcept nogil
cdef const char *(*f_format_canonical)(const pybuf_format *) noexcept nogil
cdef int (*f_format_equal)(const pybuf_format *, const pybuf_format *) noexcept nogil
cdef int (*f_format_compatible)(const pybuf_format *, const pybuf_format *) noexcept nogil
cdef int (*f_format_runs_new)(const pybuf_format *, pybuf_format_runs **) noexcept nogil
cdef int (*f_format_runs_next)(pybuf_format_runs *, pybuf_format_run *) noexcept nogil
cdef void (*f_format_runs_free)(pybuf_format_runs *) noexcept nogil
cdef int (*f_check_format)(const pybuf_buffer *, const char *) noexcept nogil
cdef int (*f_check_format_ex)(const pybuf_buffer *, const char *, int, char) noexcept nogil
cdef int (*f_to_dlpack)(const pybuf_buffer *, pybuf_owner_fn, void *, DLManagedTensorVersioned **) noexcept nogil
cdef int (*f_to_dlpack_legacy)(const pybuf_buffer *, pybuf_owner_fn, void *, DLManagedTensor **) noexcept nogil
cdef int (*f_from_dlpack)(pybuf_buffer *, DLManagedTensorVersioned *, int) noexcept nogil
cdef int (*f_from_dlpack_legacy)(pybuf_buffer *, DLManagedTensor *, int) noexcept nogil
cdef pybuf_ssize_t (*f_format_to_typestr)(const char *, pybuf_ssize_t, char *, pybuf_ssize_t) noexcept nogil
cdef pybuf_ssize_t (*f_format_to_descr)(const char *, pybuf_ssize_t, char *, pybuf_ssize_t) noexcept nogil
cdef pybuf_ssize_t (*f_format_from_typestr)(const char *, char *, pybuf_ssize_t) noexcept nogil
cdef pybuf_ssize_t (*f_format_from_descr)(const char *, char *, pybuf_ssize_t) noexcept nogil
cdef int (*f_slice)(pybuf_buffer *, const pybuf_buffer *, int, pybuf_ssize_t, pybuf_ssize_t, pybuf_ssize_t) noexcept nogil
cdef int (*f_index)(pybuf_buffer *, const pybuf_buffer *, int, pybuf_ssize_t) noexcept nogil
cdef int (*f_subview)(pybuf_buffer *, const pybuf_buffer *, const pybuf_ssize_t *, const pybuf_ssize_t *) noexcept nogil
cdef int (*f_transpose)(pybuf_buffer *, const pybuf_buffer *) noexcept nogil
cdef int (*f_permute)(pybuf_buffer *, const pybuf_buffer *, const int *) noexcept nogil
cdef int (*f_cast)(pybuf_buffer *, const pybuf_buffer *, const char *, int, const pybuf_ssize_t *) noexcept nogil
cdef int (*f_broadcast)(pybuf_buffer *, const pybuf_buffer *, int, pybuf_ssize_t) noexcept nogil
cdef int (*f_broadcast_to)(pybuf_buffer *, const pybuf_buffer *, int, const pybuf_ssize_t *) noexcept nogil
cdef pybuf_ssize_t (*f_item_fields)(const pybuf_buffer *) noexcept nogil
cdef int (*f_get_item)(const pybuf_buffer *, const pybuf_ssize_t *, pybuf_ssize_t, pybuf_value *) noexcept nogil
cdef int (*f_set_item)(const pybuf_buffer *, const pybuf_ssize_t *, pybuf_ssize_t, const pybuf_value *) noexcept nogil
cdef int (*f_iter_new)(const pybuf_buffer *, char, pybuf_iter **) noexcept nogil
cdef int (*f_iter_next)(pybuf_iter *, void **, pybuf_ssize_t *) noexcept nogil
cdef void (*f_iter_free)(pybuf_iter *) noexcept nogil
cdef int (*f_equal)(const pybuf_buffer *, const pybuf_buffer *) noexcept nogil
cdef int (*f_validate)(const pybuf_buffer *, int, const void *, pybuf_ssize_t) noexcept nogil
cdef int (*f_extent)(const pybuf_buffer *, pybuf_ssize_t *, pybuf_ssize_t *) noexcept nogil
cdef int (*f_last_errno)() noexcept nogil
cdef int (*f_write_fd)(int, const pybuf_buffer *, char) noexcept nogil
cdef int (*f_read_fd)(int, const pybuf_buffer *, char) noexcept nogil
cdef int (*f_pwrite_fd)(int, const pybuf_buffer *, char, int64_t) noexcept nogil
cdef int (*f_pread_fd)(int, const pybuf_buffer *, char, int64_t) noexcept nogil
cdef int (*f_copy_plan_new)(const pybuf_buffer *, const pybuf_buffer *, int, pybuf_copy_plan **) noexcept nogil
cdef int (*f_copy_plan_execute)(const pybuf_copy_plan *, void *, const void *) noexcept nogil
cdef pybuf_ssize_t (*f_copy_plan_parts)(const pybuf_copy_plan *) noexcept nogil
cdef int (*f_copy_plan_execute_part)(const pybuf_copy_plan *, pybuf_ssize_t, void *, const void *) noexcept nogil
cdef int (*f_copy_plan_set_threads)(pybuf_copy_plan *, int) noexcept nogil
cdef void (*f_copy_plan_free)(pybuf_copy_plan *) noexcept nogil
cdef int (*f_io_new)(int, const pybuf_buffer *, char, int, int64_t, pybuf_io **) noexcept nogil
cdef int (*f_io_step)(pybuf_io *) noexcept nogil
cdef int64_t (*f_io_done)(const pybuf_io *) noexcept nogil
cdef int64_t (*f_io_total)(const pybuf_io *) noexcept nogil
cdef void (*f_io_free)(pybuf_io *) noexcept nogil
cdef int (*f_map_fd)(int, int64_t, const pybuf_exporter_desc *, int, pybuf_exporter **) noexcept nogil
cdef int (*f_map_path)(const char *, int64_t, const pybuf_exporter_desc *, int, pybuf_exporter **) noexcept nogil
cdef int (*f_exporter_sync)(pybuf_exporter *) noexcept nogil
cdef int (*f_npy_save)(const char *, const pybuf_buffer *) noexcept nogil
cdef int (*f_npy_write_fd)(int, const pybuf_buffer *) noexcept nogil
cdef int (*f_npy_load)(const char *, int, pybuf_exporter **) noexcept nogil
cdef int (*f_npy_load_fd)(int, int, pybuf_exporter **) noexcept nogil
cdef int (*f_npy_read)(const char *, const pybuf_buffer *) noexcept nogil
cdef int (*f_npy_read_fd)(int, const pybuf_buffer *) noexcept nogil
cdef int (*f_npz_open)(const char *, pybuf_npz **) noexcept nogil
cdef int (*f_npz_open_fd)(int, pybuf_npz **) noexcept nogil
cdef pybuf_ssize_t (*f_npz_count)(const pybuf_npz *) noexcept nogil
cdef int (*f_npz_member_info)(const pybuf_npz *, pybuf_ssize_t, pybuf_npz_member *) noexcept nogil
cdef pybuf_ssize_t (*f_npz_find)(const pybuf_npz *, const char *) noexcept nogil
cdef int (*f_npz_load)(const pybuf_npz *, pybuf_ssize_t, int, pybuf_exporter **) noexcept nogil
cdef void (*f_npz_close)(pybuf_npz *) noexcept nogil
cdef int (*f_npz_save)(const char *, pybuf_ssize_t, const char *const *, const pybuf_buffer *, int) noexcept nogil

f_is_contiguous = pybuf_is_contiguous
f_get_pointer = pybuf_get_pointer
f_fill_contiguous_strides = pybuf_fill_contiguous_strides
f_fill_info = pybuf_fill_info
f_release = pybuf_release
f_to_contiguous = pybuf_to_contiguous
f_from_contiguous = pybuf_from_contiguous
f_copy = pybuf_copy
f_copy_plan_new = pybuf_copy_plan_new
f_copy_plan_execute = pybuf_copy_plan_execute
f_copy_plan_parts = pybuf_copy_plan_parts
f_copy_plan_execute_part = pybuf_copy_plan_execute_part
f_copy_plan_set_threads = pybuf_copy_plan_set_threads
f_copy_plan_free = pybuf_copy_plan_free
f_last_error = pybuf_last_error
f_last_status = pybuf_last_status
f_status_name = pybuf_status_name
f_version = pybuf_version
f_version_string = pybuf_version_string
f_exporter_new = pybuf_exporter_new
f_exporter_clone = pybuf_exporter_clone
f_exporter_free = pybuf_exporter_free
f_exporter_get_buffer = pybuf_exporter_get_buffer
f_exporter_exports = pybuf_exporter_exports
f_exporter_replace = pybuf_exporter_replace
f_fill_view = pybuf_fill_view
f_exporter_as_object = pybuf_exporter_as_object
f_object_get_buffer = pybuf_object_get_buffer
f_size_from_format = pybuf_size_from_format
f_format_parse = pybuf_format_parse
f_format_free = pybuf_format_free
f_format_itemsize = pybuf_format_itemsize
f_format_alignment = pybuf_format_alignment
f_format_field_count = pybuf_format_field_count
f_format_get_field = pybuf_format_get_field
f_format_leaf_count = pybuf_format_leaf_count
f_format_get_leaf = pybuf_format_get_leaf
f_format_canonical = pybuf_format_canonical
f_format_equal = pybuf_format_equal
f_format_compatible = pybuf_format_compatible
f_format_runs_new = pybuf_format_runs_new
f_format_runs_next = pybuf_format_runs_next
f_format_runs_free = pybuf_format_runs_free
f_check_format = pybuf_check_format
f_check_format_ex = pybuf_check_format_ex
f_to_dlpack = pybuf_to_dlpack
f_to_dlpack_legacy = pybuf_to_dlpack_legacy
f_from_dlpack = pybuf_from_dlpack
f_from_dlpack_legacy = pybuf_from_dlpack_legacy
f_format_to_typestr = pybuf_format_to_typestr
f_format_to_descr = pybuf_format_to_descr
f_format_from_typestr = pybuf_format_from_typestr
f_format_from_descr = pybuf_format_from_descr
f_slice = pybuf_slice
f_index = pybuf_index
f_subview = pybuf_subview
f_transpose = pybuf_transpose
f_permute = pybuf_permute
f_cast = pybuf_cast
f_broadcast = pybuf_broadcast
f_broadcast_to = pybuf_broadcast_to
f_item_fields = pybuf_item_fields
f_get_item = pybuf_get_item
f_set_item = pybuf_set_item
f_iter_new = pybuf_iter_new
f_iter_next = pybuf_iter_next
f_iter_free = pybuf_iter_free
f_equal = pybuf_equal
f_validate = pybuf_validate
f_extent = pybuf_extent
f_last_errno = pybuf_last_errno
f_write_fd = pybuf_write_fd
f_read_fd = pybuf_read_fd
f_pwrite_fd = pybuf_pwrite_fd
f_pread_fd = pybuf_pread_fd
f_io_new = pybuf_io_new
f_io_step = pybuf_io_step
f_io_done = pybuf_io_done
f_io_total = pybuf_io_total
f_io_free = pybuf_io_free
f_map_fd = pybuf_map_fd
f_map_path = pybuf_map_path
f_exporter_sync = pybuf_exporter_sync
f_npy_save = pybuf_npy_save
f_npy_write_fd = pybuf_npy_write_fd
f_npy_load = pybuf_npy_load
f_npy_load_fd = pybuf_npy_load_fd
f_npy_read = pybuf_npy_read
f_npy_read_fd = pybuf_npy_read_fd
f_npz_open = pybuf_npz_open
f_npz_open_fd = pybuf_npz_open_fd
f_npz_count = pybuf_npz_count
f_npz_member_info = pybuf_npz_member_info
f_npz_find = pybuf_npz_find
f_npz_load = pybuf_npz_load
f_npz_close = pybuf_npz_close
f_npz_save = pybuf_npz_save


# -- every field of every struct, through a pointer of the type pybuf.pxd gives it -------

cdef pybuf_buffer b
cdef void **b_buf = &b.buf
cdef void **b_obj = &b.obj
cdef pybuf_ssize_t *b_len = &b.len
cdef pybuf_ssize_t *b_itemsize = &b.itemsize
cdef int *b_readonly = &b.readonly
cdef int *b_ndim = &b.ndim
cdef char **b_format = &b.format
cdef pybuf_ssize_t **b_shape = &b.shape
cdef pybuf_ssize_t **b_strides = &b.strides
cdef pybuf_ssize_t **b_suboffsets = &b.suboffsets
cdef void **b_internal = &b.internal

cdef pybuf_exporter_desc d
cdef void **d_buf = &d.buf
cdef pybuf_ssize_t *d_len = &d.len
cdef pybuf_ssize_t *d_offset = &d.offset
cdef int *d_readonly = &d.readonly
cdef const char **d_format = &d.format
cdef pybuf_ssize_t *d_itemsize = &d.itemsize
cdef int *d_ndim = &d.ndim
cdef const pybuf_ssize_t **d_shape = &d.shape
cdef const pybuf_ssize_t **d_strides = &d.strides
cdef const pybuf_ssize_t **d_suboffsets = &d.suboffsets

cdef void _owner(void *user) noexcept nogil:
    pass
cdef int _getbuffer(void *exporter, pybuf_buffer *view, int flags) noexcept nogil:
    return 0
cdef void _releasebuffer(void *exporter, pybuf_buffer *view) noexcept nogil:
    pass

cdef pybuf_owner_fn owner_fn = _owner
cdef pybuf_procs procs
procs.getbuffer = _getbuffer
procs.releasebuffer = _releasebuffer
cdef pybuf_object obj
cdef const pybuf_procs **obj_procs = &obj.procs
cdef void **obj_exporter = &obj.exporter

cdef pybuf_format_field fld
cdef const char **fld_name = &fld.name
cdef pybuf_ssize_t *fld_offset = &fld.offset
cdef pybuf_ssize_t *fld_size = &fld.size
cdef pybuf_ssize_t *fld_element_size = &fld.element_size
cdef pybuf_ssize_t *fld_alignment = &fld.alignment
cdef pybuf_ssize_t *fld_count = &fld.count
cdef pybuf_ssize_t *fld_values = &fld.values
cdef int *fld_ndim = &fld.ndim
cdef const pybuf_ssize_t **fld_shape = &fld.shape
cdef char *fld_code = fld.code
cdef char *fld_mode = &fld.mode
cdef pybuf_byte_order *fld_byte_order = &fld.byte_order
cdef const pybuf_format **fld_nested = &fld.nested

cdef pybuf_format_repeat rep
cdef pybuf_ssize_t *rep_count = &rep.count
cdef pybuf_ssize_t *rep_stride = &rep.stride

cdef pybuf_format_leaf leaf
cdef const char **leaf_name = &leaf.name
cdef pybuf_ssize_t *leaf_offset = &leaf.offset
cdef pybuf_ssize_t *leaf_size = &leaf.size
cdef pybuf_ssize_t *leaf_count = &leaf.count
cdef pybuf_ssize_t *leaf_total = &leaf.total
cdef int *leaf_nrepeats = &leaf.nrepeats
cdef const pybuf_format_repeat **leaf_repeats = &leaf.repeats
cdef char *leaf_code = leaf.code
cdef char *leaf_mode = &leaf.mode
cdef pybuf_byte_order *leaf_byte_order = &leaf.byte_order

cdef pybuf_format_run run
cdef pybuf_ssize_t *run_offset = &run.offset
cdef pybuf_ssize_t *run_size = &run.size
cdef pybuf_ssize_t *run_count = &run.count
cdef char *run_code = run.code
cdef char *run_mode = &run.mode
cdef pybuf_byte_order *run_byte_order = &run.byte_order

cdef pybuf_npz_member npzm
cdef const char **npzm_name = &npzm.name
cdef int *npzm_method = &npzm.method
cdef int *npzm_encrypted = &npzm.encrypted
cdef int64_t *npzm_size = &npzm.size
cdef int64_t *npzm_compressed_size = &npzm.compressed_size
cdef int64_t *npzm_data_offset = &npzm.data_offset
cdef uint32_t *npzm_crc32 = &npzm.crc32

cdef pybuf_value val
cdef int *val_kind = &val.kind
cdef int *val_b = &val.b
cdef int64_t *val_i = &val.i
cdef uint64_t *val_u = &val.u
cdef double *val_real = &val.real
cdef double *val_imag = &val.imag
cdef const void **val_bytes = &val.bytes
cdef pybuf_ssize_t *val_size = &val.size

# DLPack's structs (pybuf_dlpack.pxd) against pybuf.h's declarations.
cdef DLPackVersion dlv
cdef uint32_t *dlv_major = &dlv.major
cdef uint32_t *dlv_minor = &dlv.minor
cdef DLDevice dld
cdef DLDeviceType *dld_device_type = &dld.device_type
cdef int32_t *dld_device_id = &dld.device_id
cdef DLDataType dlt
cdef uint8_t *dlt_code = &dlt.code
cdef uint8_t *dlt_bits = &dlt.bits
cdef uint16_t *dlt_lanes = &dlt.lanes
cdef DLTensor dtn
cdef void **dtn_data = &dtn.data
cdef DLDevice *dtn_device = &dtn.device
cdef int32_t *dtn_ndim = &dtn.ndim
cdef DLDataType *dtn_dtype = &dtn.dtype
cdef int64_t **dtn_shape = &dtn.shape
cdef int64_t **dtn_strides = &dtn.strides
cdef uint64_t *dtn_byte_offset = &dtn.byte_offset
cdef DLManagedTensor dmt
cdef DLTensor *dmt_dl_tensor = &dmt.dl_tensor
cdef void **dmt_manager_ctx = &dmt.manager_ctx
cdef void _dl_delete(DLManagedTensor *t) noexcept nogil:
    pass
dmt.deleter = _dl_delete
cdef DLManagedTensorVersioned dmv
cdef DLPackVersion *dmv_version = &dmv.version
cdef void **dmv_manager_ctx = &dmv.manager_ctx
cdef uint64_t *dmv_flags = &dmv.flags
cdef DLTensor *dmv_dl_tensor = &dmv.dl_tensor
cdef void _dl_delete_versioned(DLManagedTensorVersioned *t) noexcept nogil:
    pass
dmv.deleter = _dl_delete_versioned
cdef DLDataTypeCode dl_code = kDLBool
cdef DLDeviceType dl_device = kDLCPU

cdef pybuf_status status = PYBUF_STATUS_OK
cdef pybuf_byte_order order = PYBUF_BYTE_ORDER_LITTLE

# The names checked above, for the test that compares them with the header.
FUNCTIONS = [
    "pybuf_is_contiguous", "pybuf_get_pointer", "pybuf_fill_contiguous_strides",
    "pybuf_fill_info", "pybuf_release", "pybuf_to_contiguous", "pybuf_from_contiguous",
    "pybuf_copy", "pybuf_copy_plan_new", "pybuf_copy_plan_execute", "pybuf_copy_plan_parts",
    "pybuf_copy_plan_execute_part", "pybuf_copy_plan_set_threads", "pybuf_copy_plan_free",
    "pybuf_last_error", "pybuf_last_status", "pybuf_status_name",
    "pybuf_exporter_new", "pybuf_exporter_clone", "pybuf_exporter_free",
    "pybuf_exporter_get_buffer", "pybuf_exporter_exports", "pybuf_exporter_replace",
    "pybuf_fill_view", "pybuf_exporter_as_object", "pybuf_object_get_buffer",
    "pybuf_size_from_format", "pybuf_format_parse", "pybuf_format_free",
    "pybuf_format_itemsize", "pybuf_format_alignment", "pybuf_format_field_count",
    "pybuf_format_get_field", "pybuf_format_leaf_count", "pybuf_format_get_leaf",
    "pybuf_format_canonical", "pybuf_format_equal", "pybuf_format_compatible",
    "pybuf_format_runs_new", "pybuf_format_runs_next", "pybuf_format_runs_free",
    "pybuf_check_format", "pybuf_check_format_ex", "pybuf_version", "pybuf_version_string",
    "pybuf_to_dlpack", "pybuf_to_dlpack_legacy", "pybuf_from_dlpack", "pybuf_from_dlpack_legacy",
    "pybuf_format_to_typestr", "pybuf_format_to_descr", "pybuf_format_from_typestr",
    "pybuf_format_from_descr",
    "pybuf_slice", "pybuf_index", "pybuf_subview", "pybuf_transpose", "pybuf_permute",
    "pybuf_cast", "pybuf_broadcast", "pybuf_broadcast_to", "pybuf_item_fields",
    "pybuf_get_item", "pybuf_set_item", "pybuf_iter_new", "pybuf_iter_next", "pybuf_iter_free",
    "pybuf_equal", "pybuf_validate", "pybuf_extent", "pybuf_last_errno",
    "pybuf_write_fd", "pybuf_read_fd", "pybuf_pwrite_fd", "pybuf_pread_fd", "pybuf_io_new",
    "pybuf_io_step", "pybuf_io_done", "pybuf_io_total", "pybuf_io_free",
    "pybuf_map_fd", "pybuf_map_path", "pybuf_exporter_sync",
    "pybuf_npy_save", "pybuf_npy_write_fd", "pybuf_npy_load", "pybuf_npy_load_fd",
    "pybuf_npy_read", "pybuf_npy_read_fd",
    "pybuf_npz_open", "pybuf_npz_open_fd", "pybuf_npz_count", "pybuf_npz_member_info",
    "pybuf_npz_find", "pybuf_npz_load", "pybuf_npz_close", "pybuf_npz_save",
]

FIELDS = {
    "pybuf_buffer": ["buf", "obj", "len", "itemsize", "readonly", "ndim", "format", "shape",
                     "strides", "suboffsets", "internal"],
    "pybuf_exporter_desc": ["buf", "len", "offset", "readonly", "format", "itemsize", "ndim",
                            "shape", "strides", "suboffsets"],
    "pybuf_procs": ["getbuffer", "releasebuffer"],
    "pybuf_object": ["procs", "exporter"],
    "pybuf_format_field": ["name", "offset", "size", "element_size", "alignment", "count",
                           "values", "ndim", "shape", "code", "mode", "byte_order", "nested"],
    "pybuf_format_repeat": ["count", "stride"],
    "pybuf_format_leaf": ["name", "offset", "size", "count", "total", "nrepeats", "repeats",
                          "code", "mode", "byte_order"],
    "pybuf_format_run": ["offset", "size", "count", "code", "mode", "byte_order"],
    "pybuf_value": ["kind", "b", "i", "u", "real", "imag", "bytes", "size"],
    "pybuf_npz_member": ["name", "method", "encrypted", "size", "compressed_size", "data_offset",
                         "crc32"],
}

SIZES = {
    "pybuf_buffer": sizeof(pybuf_buffer),
    "pybuf_exporter_desc": sizeof(pybuf_exporter_desc),
    "pybuf_procs": sizeof(pybuf_procs),
    "pybuf_object": sizeof(pybuf_object),
    "pybuf_format_field": sizeof(pybuf_format_field),
    "pybuf_format_repeat": sizeof(pybuf_format_repeat),
    "pybuf_format_leaf": sizeof(pybuf_format_leaf),
    "pybuf_format_run": sizeof(pybuf_format_run),
    "pybuf_value": sizeof(pybuf_value),
    "pybuf_npz_member": sizeof(pybuf_npz_member),
    "pybuf_ssize_t": sizeof(pybuf_ssize_t),
    "code": sizeof(fld.code),
    "DLPackVersion": sizeof(DLPackVersion),
    "DLDevice": sizeof(DLDevice),
    "DLDataType": sizeof(DLDataType),
    "DLTensor": sizeof(DLTensor),
    "DLManagedTensor": sizeof(DLManagedTensor),
    "DLManagedTensorVersioned": sizeof(DLManagedTensorVersioned),
}

CONSTANTS = {
    "PYBUF_VERSION_MAJOR": PYBUF_VERSION_MAJOR,
    "PYBUF_VERSION_MINOR": PYBUF_VERSION_MINOR,
    "PYBUF_VERSION_PATCH": PYBUF_VERSION_PATCH,
    "PYBUF_VERSION_NUMBER": PYBUF_VERSION_NUMBER,
    "PYBUF_VERSION_STRING": PYBUF_VERSION_STRING.decode(),
    "PYBUF_MAX_NDIM": PYBUF_MAX_NDIM,
    "PYBUF_SIMPLE": PYBUF_SIMPLE,
    "PYBUF_WRITABLE": PYBUF_WRITABLE,
    "PYBUF_FORMAT": PYBUF_FORMAT,
    "PYBUF_ND": PYBUF_ND,
    "PYBUF_STRIDES": PYBUF_STRIDES,
    "PYBUF_C_CONTIGUOUS": PYBUF_C_CONTIGUOUS,
    "PYBUF_F_CONTIGUOUS": PYBUF_F_CONTIGUOUS,
    "PYBUF_ANY_CONTIGUOUS": PYBUF_ANY_CONTIGUOUS,
    "PYBUF_INDIRECT": PYBUF_INDIRECT,
    "PYBUF_CONTIG": PYBUF_CONTIG,
    "PYBUF_CONTIG_RO": PYBUF_CONTIG_RO,
    "PYBUF_STRIDED": PYBUF_STRIDED,
    "PYBUF_STRIDED_RO": PYBUF_STRIDED_RO,
    "PYBUF_RECORDS": PYBUF_RECORDS,
    "PYBUF_RECORDS_RO": PYBUF_RECORDS_RO,
    "PYBUF_FULL": PYBUF_FULL,
    "PYBUF_FULL_RO": PYBUF_FULL_RO,
    "PYBUF_READ": PYBUF_READ,
    "PYBUF_WRITE": PYBUF_WRITE,
    "PYBUF_SLICE_NONE": <pybuf_ssize_t>PYBUF_SLICE_NONE,
    "PYBUF_VALUE_INT": PYBUF_VALUE_INT,
    "PYBUF_VALUE_UINT": PYBUF_VALUE_UINT,
    "PYBUF_VALUE_DOUBLE": PYBUF_VALUE_DOUBLE,
    "PYBUF_VALUE_COMPLEX": PYBUF_VALUE_COMPLEX,
    "PYBUF_VALUE_BOOL": PYBUF_VALUE_BOOL,
    "PYBUF_VALUE_BYTES": PYBUF_VALUE_BYTES,
    "PYBUF_VALIDATE_LAYOUT": PYBUF_VALIDATE_LAYOUT,
    "PYBUF_VALIDATE_FORMAT": PYBUF_VALIDATE_FORMAT,
    "PYBUF_VALIDATE_MEMORY": PYBUF_VALIDATE_MEMORY,
    "PYBUF_IO_WRITE": PYBUF_IO_WRITE,
    "PYBUF_COPY_PLAN_MAX_THREADS": PYBUF_COPY_PLAN_MAX_THREADS,
    "PYBUF_IO_READ": PYBUF_IO_READ,
    "PYBUF_NPY_READONLY": PYBUF_NPY_READONLY,
    "PYBUF_NPY_WRITABLE": PYBUF_NPY_WRITABLE,
    "PYBUF_NPY_PRIVATE": PYBUF_NPY_PRIVATE,
    "PYBUF_MAP_READONLY": PYBUF_MAP_READONLY,
    "PYBUF_MAP_SHARED": PYBUF_MAP_SHARED,
    "PYBUF_MAP_PRIVATE": PYBUF_MAP_PRIVATE,
    "PYBUF_NPZ_COPY": PYBUF_NPZ_COPY,
    "PYBUF_NPZ_DEFLATE": PYBUF_NPZ_DEFLATE,
    "PYBUF_BYTE_ORDER_LITTLE": PYBUF_BYTE_ORDER_LITTLE,
    "PYBUF_BYTE_ORDER_BIG": PYBUF_BYTE_ORDER_BIG,
    "PYBUF_STATUS_OK": PYBUF_STATUS_OK,
    "PYBUF_STATUS_NULL_POINTER": PYBUF_STATUS_NULL_POINTER,
    "PYBUF_STATUS_INVALID_ARGUMENT": PYBUF_STATUS_INVALID_ARGUMENT,
    "PYBUF_STATUS_INVALID_NDIM": PYBUF_STATUS_INVALID_NDIM,
    "PYBUF_STATUS_INVALID_SHAPE": PYBUF_STATUS_INVALID_SHAPE,
    "PYBUF_STATUS_INVALID_ITEMSIZE": PYBUF_STATUS_INVALID_ITEMSIZE,
    "PYBUF_STATUS_INVALID_STRIDES": PYBUF_STATUS_INVALID_STRIDES,
    "PYBUF_STATUS_INVALID_SUBOFFSETS": PYBUF_STATUS_INVALID_SUBOFFSETS,
    "PYBUF_STATUS_LENGTH_MISMATCH": PYBUF_STATUS_LENGTH_MISMATCH,
    "PYBUF_STATUS_OVERFLOW": PYBUF_STATUS_OVERFLOW,
    "PYBUF_STATUS_INDEX_OUT_OF_RANGE": PYBUF_STATUS_INDEX_OUT_OF_RANGE,
    "PYBUF_STATUS_INVALID_FORMAT": PYBUF_STATUS_INVALID_FORMAT,
    "PYBUF_STATUS_UNSUPPORTED_FORMAT": PYBUF_STATUS_UNSUPPORTED_FORMAT,
    "PYBUF_STATUS_READ_ONLY": PYBUF_STATUS_READ_ONLY,
    "PYBUF_STATUS_SHAPE_MISMATCH": PYBUF_STATUS_SHAPE_MISMATCH,
    "PYBUF_STATUS_BUFFER_REQUEST": PYBUF_STATUS_BUFFER_REQUEST,
    "PYBUF_STATUS_FOREIGN_VIEW": PYBUF_STATUS_FOREIGN_VIEW,
    "PYBUF_STATUS_EXPORTS_EXIST": PYBUF_STATUS_EXPORTS_EXIST,
    "PYBUF_STATUS_OUT_OF_MEMORY": PYBUF_STATUS_OUT_OF_MEMORY,
    "PYBUF_STATUS_INTERNAL": PYBUF_STATUS_INTERNAL,
    "PYBUF_STATUS_FORMAT_MISMATCH": PYBUF_STATUS_FORMAT_MISMATCH,
    "PYBUF_STATUS_UNREPRESENTABLE": PYBUF_STATUS_UNREPRESENTABLE,
    "PYBUF_STATUS_UNSUPPORTED_DEVICE": PYBUF_STATUS_UNSUPPORTED_DEVICE,
    "PYBUF_STATUS_UNSUPPORTED_VERSION": PYBUF_STATUS_UNSUPPORTED_VERSION,
    "PYBUF_STATUS_TYPE_MISMATCH": PYBUF_STATUS_TYPE_MISMATCH,
    "PYBUF_STATUS_VALUE_OUT_OF_RANGE": PYBUF_STATUS_VALUE_OUT_OF_RANGE,
    "PYBUF_STATUS_VALUE_MISMATCH": PYBUF_STATUS_VALUE_MISMATCH,
    "PYBUF_STATUS_IO": PYBUF_STATUS_IO,
    "PYBUF_STATUS_END_OF_FILE": PYBUF_STATUS_END_OF_FILE,
    "PYBUF_STATUS_WOULD_BLOCK": PYBUF_STATUS_WOULD_BLOCK,
    "PYBUF_STATUS_INVALID_FILE": PYBUF_STATUS_INVALID_FILE,
}

TYPES = ["pybuf_exporter", "pybuf_format", "pybuf_format_runs", "pybuf_iter", "pybuf_io", "pybuf_npz",
         "pybuf_copy_plan",
         "pybuf_ssize_t",
         "pybuf_owner_fn", "pybuf_byte_order", "pybuf_status"] + list(FIELDS)

# DLPack's constants as pybuf.h defines them (bindings/python/tests/test_dlpack.py).
DLPACK_CONSTANTS = {
    "DLPACK_MAJOR_VERSION": DLPACK_MAJOR_VERSION,
    "DLPACK_MINOR_VERSION": DLPACK_MINOR_VERSION,
    "DLPACK_FLAG_BITMASK_READ_ONLY": DLPACK_FLAG_BITMASK_READ_ONLY,
    "DLPACK_FLAG_BITMASK_IS_COPIED": DLPACK_FLAG_BITMASK_IS_COPIED,
    "DLPACK_FLAG_BITMASK_IS_SUBBYTE_TYPE_PADDED": DLPACK_FLAG_BITMASK_IS_SUBBYTE_TYPE_PADDED,
    "kDLCPU": kDLCPU, "kDLCUDA": kDLCUDA, "kDLCUDAHost": kDLCUDAHost, "kDLROCMHost": kDLROCMHost,
    "kDLCUDAManaged": kDLCUDAManaged, "kDLTrn": kDLTrn,
    "kDLInt": kDLInt, "kDLUInt": kDLUInt, "kDLFloat": kDLFloat, "kDLBfloat": kDLBfloat,
    "kDLComplex": kDLComplex, "kDLBool": kDLBool, "kDLFloat4_e2m1fn": kDLFloat4_e2m1fn,
}

# -- datatypes (docs/mpi.md): functions, fields, sizes, constants, types ------------------

cdef int (*f_datatype_new)(const pybuf_buffer *, pybuf_ssize_t, pybuf_datatype **) noexcept nogil
cdef void (*f_datatype_free)(pybuf_datatype *) noexcept nogil
f_datatype_new = pybuf_datatype_new
f_datatype_free = pybuf_datatype_free

cdef pybuf_datatype_member dtm
cdef pybuf_ssize_t *dtm_offset = &dtm.offset
cdef pybuf_ssize_t *dtm_count = &dtm.count
cdef pybuf_ssize_t *dtm_size = &dtm.size
cdef pybuf_datatype_kind *dtm_kind = &dtm.kind
cdef pybuf_ssize_t *dtm_nested = &dtm.nested

cdef pybuf_datatype_struct dts
cdef pybuf_ssize_t *dts_extent = &dts.extent
cdef pybuf_ssize_t *dts_nmembers = &dts.nmembers
cdef const pybuf_datatype_member **dts_members = &dts.members

cdef pybuf_datatype_dim dtd
cdef pybuf_ssize_t *dtd_count = &dtd.count
cdef pybuf_ssize_t *dtd_stride = &dtd.stride

cdef pybuf_datatype dt
cdef pybuf_ssize_t *dt_itemsize = &dt.itemsize
cdef pybuf_ssize_t *dt_nbytes = &dt.nbytes
cdef pybuf_datatype_kind *dt_kind = &dt.kind
cdef pybuf_ssize_t *dt_nested = &dt.nested
cdef pybuf_ssize_t *dt_size = &dt.size
cdef pybuf_ssize_t *dt_block = &dt.block
cdef int *dt_ndim = &dt.ndim
cdef const pybuf_datatype_dim **dt_dims = &dt.dims
cdef pybuf_ssize_t *dt_nstructs = &dt.nstructs
cdef const pybuf_datatype_struct **dt_structs = &dt.structs
cdef pybuf_ssize_t *dt_nbases = &dt.nbases
cdef void *const **dt_bases = &dt.bases

FUNCTIONS += ["pybuf_datatype_new", "pybuf_datatype_free"]
DATATYPE_FIELDS = {
    "pybuf_datatype_member": ["offset", "count", "size", "kind", "nested"],
    "pybuf_datatype_struct": ["extent", "nmembers", "members"],
    "pybuf_datatype_dim": ["count", "stride"],
    "pybuf_datatype": ["itemsize", "nbytes", "kind", "nested", "size", "block", "ndim", "dims", "nstructs", "structs", "nbases", "bases"],
}
FIELDS.update(DATATYPE_FIELDS)
SIZES.update({
    "pybuf_datatype_member": sizeof(pybuf_datatype_member),
    "pybuf_datatype_struct": sizeof(pybuf_datatype_struct),
    "pybuf_datatype_dim": sizeof(pybuf_datatype_dim),
    "pybuf_datatype": sizeof(pybuf_datatype),
})
CONSTANTS.update({
    "PYBUF_DATATYPE_KIND_BYTES": PYBUF_DATATYPE_KIND_BYTES,
    "PYBUF_DATATYPE_KIND_INT8": PYBUF_DATATYPE_KIND_INT8,
    "PYBUF_DATATYPE_KIND_UINT8": PYBUF_DATATYPE_KIND_UINT8,
    "PYBUF_DATATYPE_KIND_INT16": PYBUF_DATATYPE_KIND_INT16,
    "PYBUF_DATATYPE_KIND_UINT16": PYBUF_DATATYPE_KIND_UINT16,
    "PYBUF_DATATYPE_KIND_INT32": PYBUF_DATATYPE_KIND_INT32,
    "PYBUF_DATATYPE_KIND_UINT32": PYBUF_DATATYPE_KIND_UINT32,
    "PYBUF_DATATYPE_KIND_INT64": PYBUF_DATATYPE_KIND_INT64,
    "PYBUF_DATATYPE_KIND_UINT64": PYBUF_DATATYPE_KIND_UINT64,
    "PYBUF_DATATYPE_KIND_FLOAT": PYBUF_DATATYPE_KIND_FLOAT,
    "PYBUF_DATATYPE_KIND_DOUBLE": PYBUF_DATATYPE_KIND_DOUBLE,
    "PYBUF_DATATYPE_KIND_LONG_DOUBLE": PYBUF_DATATYPE_KIND_LONG_DOUBLE,
    "PYBUF_DATATYPE_KIND_COMPLEX_FLOAT": PYBUF_DATATYPE_KIND_COMPLEX_FLOAT,
    "PYBUF_DATATYPE_KIND_COMPLEX_DOUBLE": PYBUF_DATATYPE_KIND_COMPLEX_DOUBLE,
    "PYBUF_DATATYPE_KIND_COMPLEX_LONG_DOUBLE": PYBUF_DATATYPE_KIND_COMPLEX_LONG_DOUBLE,
    "PYBUF_DATATYPE_KIND_BOOL": PYBUF_DATATYPE_KIND_BOOL,
    "PYBUF_DATATYPE_KIND_STRUCT": PYBUF_DATATYPE_KIND_STRUCT,
})
TYPES += ["pybuf_datatype_kind"] + list(DATATYPE_FIELDS)

# -- shared memory and hand-over (issue 15): the same checks, in a block of their own ------

cdef int (*f_share_new)(const char *, const pybuf_exporter_desc *, int, pybuf_exporter **) noexcept nogil
cdef int (*f_share_open)(const char *, const pybuf_exporter_desc *, int, pybuf_exporter **) noexcept nogil
cdef int (*f_share_copy)(const pybuf_buffer *, char, const char *, int, pybuf_exporter **) noexcept nogil
cdef int (*f_share_seal)(pybuf_exporter *) noexcept nogil
cdef int (*f_share_fd)(pybuf_exporter *, int *) noexcept nogil
cdef int (*f_share_unlink)(const char *) noexcept nogil
cdef int (*f_send_view)(int, const pybuf_buffer *, int) noexcept nogil
cdef int (*f_recv_view)(int, int, pybuf_exporter **) noexcept nogil

f_share_new = pybuf_share_new
f_share_open = pybuf_share_open
f_share_copy = pybuf_share_copy
f_share_seal = pybuf_share_seal
f_share_fd = pybuf_share_fd
f_share_unlink = pybuf_share_unlink
f_send_view = pybuf_send_view
f_recv_view = pybuf_recv_view

FUNCTIONS += [
    "pybuf_share_new", "pybuf_share_open", "pybuf_share_copy", "pybuf_share_seal",
    "pybuf_share_fd", "pybuf_share_unlink", "pybuf_send_view", "pybuf_recv_view",
]

CONSTANTS.update({
    "PYBUF_STATUS_INVALID_MESSAGE": PYBUF_STATUS_INVALID_MESSAGE,
    "PYBUF_STATUS_NOT_SHARED": PYBUF_STATUS_NOT_SHARED,
    "PYBUF_SHARE_NPY": PYBUF_SHARE_NPY,
    "PYBUF_SHARE_READONLY": PYBUF_SHARE_READONLY,
    "PYBUF_SEND_READONLY": PYBUF_SEND_READONLY,
    "PYBUF_SEND_COPY": PYBUF_SEND_COPY,
    "PYBUF_RECV_READONLY": PYBUF_RECV_READONLY,
    "PYBUF_RECV_SEALED": PYBUF_RECV_SEALED,
    "PYBUF_RECV_UNSEALED": PYBUF_RECV_UNSEALED,
})
