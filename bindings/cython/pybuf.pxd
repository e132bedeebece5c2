# Cython declarations of libpybuf's whole public C API (include/pybuf.h).
#
#     cimport pybuf                      # or: from pybuf cimport pybuf_buffer, pybuf_release
#     pybuf.pybuf_release(<pybuf.pybuf_buffer *>&view)
#
# Every name carries the pybuf_/PYBUF_ prefix, so nothing here clashes with Python.h
# (Py_buffer, PyBUF_*). pybuf_buffer is byte for byte Py_buffer: cast between them.
#
# Keep this file equal to the header: bindings/python/tests/test_export.py checks that every
# function, struct, typedef, enum constant and #define of include/pybuf.h is declared here,
# and the module pybuf_pxd_check.pyx makes the C compiler check every signature and field.
#
# All functions are declared nogil: they never touch Python objects and are thread-safe as
# their header documentation says. None of them raises a Python exception; check the
# returned status and read pybuf_last_error().

from libc.stddef cimport ptrdiff_t
# DLPack's exchange structs (declared in pybuf.h; see pybuf_dlpack.pxd).
from pybuf_dlpack cimport DLManagedTensor, DLManagedTensorVersioned
from libc.stdint cimport int64_t, uint32_t, uint64_t

cdef extern from "pybuf.h" nogil:

    # -- constants ------------------------------------------------------------------------

    const char *PYBUF_VERSION_STRING
    enum:
        PYBUF_VERSION_MAJOR
        PYBUF_VERSION_MINOR
        PYBUF_VERSION_PATCH
        PYBUF_VERSION_NUMBER

        PYBUF_MAX_NDIM

        # Request flags, equal to CPython's PyBUF_*.
        PYBUF_SIMPLE
        PYBUF_WRITABLE
        PYBUF_FORMAT
        PYBUF_ND
        PYBUF_STRIDES
        PYBUF_C_CONTIGUOUS
        PYBUF_F_CONTIGUOUS
        PYBUF_ANY_CONTIGUOUS
        PYBUF_INDIRECT
        PYBUF_CONTIG
        PYBUF_CONTIG_RO
        PYBUF_STRIDED
        PYBUF_STRIDED_RO
        PYBUF_RECORDS
        PYBUF_RECORDS_RO
        PYBUF_FULL
        PYBUF_FULL_RO
        PYBUF_READ
        PYBUF_WRITE

        # Views. PYBUF_SLICE_NONE is PTRDIFF_MIN: pass it to pybuf_slice as it is (Cython
        # types these names as int; cast to pybuf_ssize_t before using it as a number).
        PYBUF_SLICE_NONE
        PYBUF_VALUE_INT
        PYBUF_VALUE_UINT
        PYBUF_VALUE_DOUBLE
        PYBUF_VALUE_COMPLEX
        PYBUF_VALUE_BOOL
        PYBUF_VALUE_BYTES
        PYBUF_VALIDATE_LAYOUT
        PYBUF_VALIDATE_FORMAT
        PYBUF_VALIDATE_MEMORY
        # File descriptors, .npy files, mapped files and .npz archives.
        PYBUF_IO_WRITE
        PYBUF_IO_READ
        # Copy plans.
        PYBUF_COPY_PLAN_MAX_THREADS
        PYBUF_NPY_READONLY
        PYBUF_NPY_WRITABLE
        PYBUF_NPY_PRIVATE
        PYBUF_MAP_READONLY
        PYBUF_MAP_SHARED
        PYBUF_MAP_PRIVATE
        PYBUF_NPZ_COPY
        PYBUF_NPZ_DEFLATE

    # -- enums ----------------------------------------------------------------------------

    ctypedef enum pybuf_byte_order:
        PYBUF_BYTE_ORDER_LITTLE
        PYBUF_BYTE_ORDER_BIG

    ctypedef enum pybuf_status:
        PYBUF_STATUS_OK
        PYBUF_STATUS_NULL_POINTER
        PYBUF_STATUS_INVALID_ARGUMENT
        PYBUF_STATUS_INVALID_NDIM
        PYBUF_STATUS_INVALID_SHAPE
        PYBUF_STATUS_INVALID_ITEMSIZE
        PYBUF_STATUS_INVALID_STRIDES
        PYBUF_STATUS_INVALID_SUBOFFSETS
        PYBUF_STATUS_LENGTH_MISMATCH
        PYBUF_STATUS_OVERFLOW
        PYBUF_STATUS_INDEX_OUT_OF_RANGE
        PYBUF_STATUS_INVALID_FORMAT
        PYBUF_STATUS_UNSUPPORTED_FORMAT
        PYBUF_STATUS_READ_ONLY
        PYBUF_STATUS_SHAPE_MISMATCH
        PYBUF_STATUS_BUFFER_REQUEST
        PYBUF_STATUS_FOREIGN_VIEW
        PYBUF_STATUS_EXPORTS_EXIST
        PYBUF_STATUS_OUT_OF_MEMORY
        PYBUF_STATUS_INTERNAL
        PYBUF_STATUS_FORMAT_MISMATCH
        PYBUF_STATUS_UNREPRESENTABLE
        PYBUF_STATUS_UNSUPPORTED_DEVICE
        PYBUF_STATUS_UNSUPPORTED_VERSION
        PYBUF_STATUS_TYPE_MISMATCH
        PYBUF_STATUS_VALUE_OUT_OF_RANGE
        PYBUF_STATUS_VALUE_MISMATCH
        PYBUF_STATUS_IO
        PYBUF_STATUS_END_OF_FILE
        PYBUF_STATUS_WOULD_BLOCK
        PYBUF_STATUS_INVALID_FILE

    # -- types ----------------------------------------------------------------------------

    # Opaque handles.
    ctypedef struct pybuf_exporter:
        pass
    ctypedef struct pybuf_format:
        pass
    ctypedef struct pybuf_format_runs:
        pass
    ctypedef struct pybuf_io:
        pass
    ctypedef struct pybuf_copy_plan:
        pass
    ctypedef struct pybuf_iter:
        pass
    ctypedef struct pybuf_npz:
        pass

    ctypedef ptrdiff_t pybuf_ssize_t

    # Field for field CPython's Py_buffer.
    ctypedef struct pybuf_buffer:
        void *buf
        void *obj
        pybuf_ssize_t len
        pybuf_ssize_t itemsize
        int readonly
        int ndim
        char *format
        pybuf_ssize_t *shape
        pybuf_ssize_t *strides
        pybuf_ssize_t *suboffsets
        void *internal

    ctypedef struct pybuf_exporter_desc:
        void *buf
        pybuf_ssize_t len
        pybuf_ssize_t offset
        int readonly
        const char *format
        pybuf_ssize_t itemsize
        int ndim
        const pybuf_ssize_t *shape
        const pybuf_ssize_t *strides
        const pybuf_ssize_t *suboffsets

    ctypedef void (*pybuf_owner_fn)(void *user) noexcept nogil

    ctypedef struct pybuf_procs:
        int (*getbuffer)(void *exporter, pybuf_buffer *view, int flags) noexcept nogil
        void (*releasebuffer)(void *exporter, pybuf_buffer *view) noexcept nogil

    ctypedef struct pybuf_object:
        const pybuf_procs *procs
        void *exporter

    ctypedef struct pybuf_format_field:
        const char *name
        pybuf_ssize_t offset
        pybuf_ssize_t size
        pybuf_ssize_t element_size
        pybuf_ssize_t alignment
        pybuf_ssize_t count
        pybuf_ssize_t values
        int ndim
        const pybuf_ssize_t *shape
        char code[4]
        char mode
        pybuf_byte_order byte_order
        const pybuf_format *nested

    ctypedef struct pybuf_format_repeat:
        pybuf_ssize_t count
        pybuf_ssize_t stride

    ctypedef struct pybuf_format_leaf:
        const char *name
        pybuf_ssize_t offset
        pybuf_ssize_t size
        pybuf_ssize_t count
        pybuf_ssize_t total
        int nrepeats
        const pybuf_format_repeat *repeats
        char code[4]
        char mode
        pybuf_byte_order byte_order

    ctypedef struct pybuf_format_run:
        pybuf_ssize_t offset
        pybuf_ssize_t size
        pybuf_ssize_t count
        char code[4]
        char mode
        pybuf_byte_order byte_order

    # One value of one element, tagged by kind (PYBUF_VALUE_*).
    ctypedef struct pybuf_value:
        int kind
        int b
        int64_t i
        uint64_t u
        double real
        double imag
        const void *bytes
        pybuf_ssize_t size

    # -- views (consumers) -----------------------------------------------------------------

    int pybuf_is_contiguous(const pybuf_buffer *view, char order)
    void *pybuf_get_pointer(const pybuf_buffer *view, const pybuf_ssize_t *indices)
    int pybuf_fill_contiguous_strides(int ndim, const pybuf_ssize_t *shape,
                                      pybuf_ssize_t *strides, pybuf_ssize_t itemsize,
                                      char order)
    int pybuf_fill_info(pybuf_buffer *view, void *obj, void *buf, pybuf_ssize_t len,
                        int readonly, int flags)
    void pybuf_release(pybuf_buffer *view)
    int pybuf_to_contiguous(void *dst, const pybuf_buffer *src, pybuf_ssize_t len, char order)
    int pybuf_from_contiguous(const pybuf_buffer *dst, const void *src, pybuf_ssize_t len,
                              char order)
    int pybuf_copy(const pybuf_buffer *dst, const pybuf_buffer *src)

    # -- copy plans -------------------------------------------------------------------------

    int pybuf_copy_plan_new(const pybuf_buffer *dst, const pybuf_buffer *src, int flags,
                            pybuf_copy_plan **out)
    int pybuf_copy_plan_execute(const pybuf_copy_plan *plan, void *dst_buf, const void *src_buf)
    pybuf_ssize_t pybuf_copy_plan_parts(const pybuf_copy_plan *plan)
    int pybuf_copy_plan_execute_part(const pybuf_copy_plan *plan, pybuf_ssize_t part,
                                     void *dst_buf, const void *src_buf)
    int pybuf_copy_plan_set_threads(pybuf_copy_plan *plan, int threads)
    void pybuf_copy_plan_free(pybuf_copy_plan *plan)

    # -- errors ---------------------------------------------------------------------------

    const char *pybuf_last_error()
    int pybuf_last_status()
    int pybuf_last_errno()
    const char *pybuf_status_name(int status)
    uint32_t pybuf_version()
    const char *pybuf_version_string()

    # -- exporters ------------------------------------------------------------------------

    int pybuf_exporter_new(const pybuf_exporter_desc *desc, pybuf_owner_fn owner, void *user,
                           pybuf_exporter **out)
    pybuf_exporter *pybuf_exporter_clone(pybuf_exporter *e)
    void pybuf_exporter_free(pybuf_exporter *e)
    int pybuf_exporter_get_buffer(pybuf_exporter *e, pybuf_buffer *view, int flags)
    pybuf_ssize_t pybuf_exporter_exports(const pybuf_exporter *e)
    int pybuf_exporter_replace(pybuf_exporter *e, const pybuf_exporter_desc *desc)
    int pybuf_fill_view(pybuf_buffer *view, const pybuf_exporter_desc *desc, int flags)
    pybuf_object pybuf_exporter_as_object(pybuf_exporter *e)
    int pybuf_object_get_buffer(const pybuf_object *obj, pybuf_buffer *view, int flags)

    # -- formats --------------------------------------------------------------------------

    pybuf_ssize_t pybuf_size_from_format(const char *format)
    int pybuf_format_parse(const char *format, pybuf_format **out)
    void pybuf_format_free(pybuf_format *f)
    pybuf_ssize_t pybuf_format_itemsize(const pybuf_format *f)
    pybuf_ssize_t pybuf_format_alignment(const pybuf_format *f)
    pybuf_ssize_t pybuf_format_field_count(const pybuf_format *f)
    int pybuf_format_get_field(const pybuf_format *f, pybuf_ssize_t index,
                               pybuf_format_field *out)
    pybuf_ssize_t pybuf_format_leaf_count(const pybuf_format *f)
    int pybuf_format_get_leaf(const pybuf_format *f, pybuf_ssize_t index,
                              pybuf_format_leaf *out)
    const char *pybuf_format_canonical(const pybuf_format *f)
    int pybuf_format_equal(const pybuf_format *a, const pybuf_format *b)
    int pybuf_format_compatible(const pybuf_format *a, const pybuf_format *b)
    int pybuf_format_runs_new(const pybuf_format *f, pybuf_format_runs **out)
    int pybuf_format_runs_next(pybuf_format_runs *it, pybuf_format_run *out)
    void pybuf_format_runs_free(pybuf_format_runs *it)
    int pybuf_check_format(const pybuf_buffer *view, const char *expected)
    int pybuf_check_format_ex(const pybuf_buffer *view, const char *expected, int ndim,
                              char order)

    # -- interop: DLPack and NumPy's array interface ---------------------------------------

    int pybuf_to_dlpack(const pybuf_buffer *view, pybuf_owner_fn owner, void *user,
                        DLManagedTensorVersioned **out)
    int pybuf_to_dlpack_legacy(const pybuf_buffer *view, pybuf_owner_fn owner, void *user,
                               DLManagedTensor **out)
    int pybuf_from_dlpack(pybuf_buffer *view, DLManagedTensorVersioned *tensor, int flags)
    int pybuf_from_dlpack_legacy(pybuf_buffer *view, DLManagedTensor *tensor, int flags)
    pybuf_ssize_t pybuf_format_to_typestr(const char *format, pybuf_ssize_t itemsize, char *out,
                                          pybuf_ssize_t size)
    pybuf_ssize_t pybuf_format_to_descr(const char *format, pybuf_ssize_t itemsize, char *out,
                                        pybuf_ssize_t size)
    pybuf_ssize_t pybuf_format_from_typestr(const char *typestr, char *out, pybuf_ssize_t size)
    pybuf_ssize_t pybuf_format_from_descr(const char *descr, char *out, pybuf_ssize_t size)

    # -- views (derived views, values, iteration, equality, validation) -----------------

    int pybuf_slice(pybuf_buffer *dst, const pybuf_buffer *src, int dim, pybuf_ssize_t start,
                    pybuf_ssize_t stop, pybuf_ssize_t step)
    int pybuf_index(pybuf_buffer *dst, const pybuf_buffer *src, int dim, pybuf_ssize_t index)
    int pybuf_subview(pybuf_buffer *dst, const pybuf_buffer *src, const pybuf_ssize_t *start,
                      const pybuf_ssize_t *shape)
    int pybuf_transpose(pybuf_buffer *dst, const pybuf_buffer *src)
    int pybuf_permute(pybuf_buffer *dst, const pybuf_buffer *src, const int *axes)
    int pybuf_cast(pybuf_buffer *dst, const pybuf_buffer *src, const char *format, int ndim,
                   const pybuf_ssize_t *shape)
    int pybuf_broadcast(pybuf_buffer *dst, const pybuf_buffer *src, int dim, pybuf_ssize_t length)
    int pybuf_broadcast_to(pybuf_buffer *dst, const pybuf_buffer *src, int ndim,
                           const pybuf_ssize_t *shape)
    pybuf_ssize_t pybuf_item_fields(const pybuf_buffer *view)
    int pybuf_get_item(const pybuf_buffer *view, const pybuf_ssize_t *indices,
                       pybuf_ssize_t field, pybuf_value *out)
    int pybuf_set_item(const pybuf_buffer *view, const pybuf_ssize_t *indices,
                       pybuf_ssize_t field, const pybuf_value *value)
    int pybuf_iter_new(const pybuf_buffer *view, char order, pybuf_iter **out)
    int pybuf_iter_next(pybuf_iter *it, void **element, pybuf_ssize_t *indices)
    void pybuf_iter_free(pybuf_iter *it)
    int pybuf_equal(const pybuf_buffer *a, const pybuf_buffer *b)
    int pybuf_validate(const pybuf_buffer *view, int level, const void *base, pybuf_ssize_t size)
    int pybuf_extent(const pybuf_buffer *view, pybuf_ssize_t *lo, pybuf_ssize_t *hi)

    # -- file descriptors (docs/files.md) -------------------------------------------------

    int pybuf_write_fd(int fd, const pybuf_buffer *view, char order)
    int pybuf_read_fd(int fd, const pybuf_buffer *view, char order)
    int pybuf_pwrite_fd(int fd, const pybuf_buffer *view, char order, int64_t offset)
    int pybuf_pread_fd(int fd, const pybuf_buffer *view, char order, int64_t offset)
    int pybuf_io_new(int fd, const pybuf_buffer *view, char order, int direction,
                     int64_t offset, pybuf_io **out)
    int pybuf_io_step(pybuf_io *io)
    int64_t pybuf_io_done(const pybuf_io *io)
    int64_t pybuf_io_total(const pybuf_io *io)
    void pybuf_io_free(pybuf_io *io)

    # -- mapped files ---------------------------------------------------------------------

    int pybuf_map_fd(int fd, int64_t file_offset, const pybuf_exporter_desc *desc, int mode,
                     pybuf_exporter **out)
    int pybuf_map_path(const char *path, int64_t file_offset, const pybuf_exporter_desc *desc,
                       int mode, pybuf_exporter **out)
    int pybuf_exporter_sync(pybuf_exporter *e)

    # -- .npy files -----------------------------------------------------------------------

    int pybuf_npy_save(const char *path, const pybuf_buffer *view)
    int pybuf_npy_write_fd(int fd, const pybuf_buffer *view)
    int pybuf_npy_load(const char *path, int flags, pybuf_exporter **out)
    int pybuf_npy_load_fd(int fd, int flags, pybuf_exporter **out)
    int pybuf_npy_read(const char *path, const pybuf_buffer *view)
    int pybuf_npy_read_fd(int fd, const pybuf_buffer *view)
    # -- .npz archives --------------------------------------------------------------------

    ctypedef struct pybuf_npz_member:
        const char *name
        int method
        int encrypted
        int64_t size
        int64_t compressed_size
        int64_t data_offset
        uint32_t crc32

    int pybuf_npz_open(const char *path, pybuf_npz **out)
    int pybuf_npz_open_fd(int fd, pybuf_npz **out)
    pybuf_ssize_t pybuf_npz_count(const pybuf_npz *a)
    int pybuf_npz_member_info(const pybuf_npz *a, pybuf_ssize_t index, pybuf_npz_member *out)
    pybuf_ssize_t pybuf_npz_find(const pybuf_npz *a, const char *name)
    int pybuf_npz_load(const pybuf_npz *a, pybuf_ssize_t index, int flags, pybuf_exporter **out)
    void pybuf_npz_close(pybuf_npz *a)
    int pybuf_npz_save(const char *path, pybuf_ssize_t count, const char *const *names,
                       const pybuf_buffer *views, int flags)

    # -- datatypes: a view as nested strided blocks, for MPI (docs/mpi.md) ----------------

    ctypedef enum pybuf_datatype_kind:
        PYBUF_DATATYPE_KIND_BYTES
        PYBUF_DATATYPE_KIND_INT8
        PYBUF_DATATYPE_KIND_UINT8
        PYBUF_DATATYPE_KIND_INT16
        PYBUF_DATATYPE_KIND_UINT16
        PYBUF_DATATYPE_KIND_INT32
        PYBUF_DATATYPE_KIND_UINT32
        PYBUF_DATATYPE_KIND_INT64
        PYBUF_DATATYPE_KIND_UINT64
        PYBUF_DATATYPE_KIND_FLOAT
        PYBUF_DATATYPE_KIND_DOUBLE
        PYBUF_DATATYPE_KIND_LONG_DOUBLE
        PYBUF_DATATYPE_KIND_COMPLEX_FLOAT
        PYBUF_DATATYPE_KIND_COMPLEX_DOUBLE
        PYBUF_DATATYPE_KIND_COMPLEX_LONG_DOUBLE
        PYBUF_DATATYPE_KIND_BOOL
        PYBUF_DATATYPE_KIND_STRUCT

    ctypedef struct pybuf_datatype_member:
        pybuf_ssize_t offset
        pybuf_ssize_t count
        pybuf_ssize_t size
        pybuf_datatype_kind kind
        pybuf_ssize_t nested

    ctypedef struct pybuf_datatype_struct:
        pybuf_ssize_t extent
        pybuf_ssize_t nmembers
        const pybuf_datatype_member *members

    ctypedef struct pybuf_datatype_dim:
        pybuf_ssize_t count
        pybuf_ssize_t stride

    ctypedef struct pybuf_datatype:
        pybuf_ssize_t itemsize
        pybuf_ssize_t nbytes
        pybuf_datatype_kind kind
        pybuf_ssize_t nested
        pybuf_ssize_t size
        pybuf_ssize_t block
        int ndim
        const pybuf_datatype_dim *dims
        pybuf_ssize_t nstructs
        const pybuf_datatype_struct *structs
        pybuf_ssize_t nbases
        void *const *bases

    int pybuf_datatype_new(const pybuf_buffer *view, pybuf_ssize_t max_count, pybuf_datatype **out)
    void pybuf_datatype_free(pybuf_datatype *t)

# -- shared memory and hand-over over Unix sockets (issue 15; docs: share-spec) ----------
# A block of its own, so that merges with other additions stay trivial.

cdef extern from "pybuf.h" nogil:

    enum:
        PYBUF_STATUS_INVALID_MESSAGE
        PYBUF_STATUS_NOT_SHARED
        PYBUF_SHARE_NPY
        PYBUF_SHARE_READONLY
        PYBUF_SEND_READONLY
        PYBUF_SEND_COPY
        PYBUF_RECV_READONLY
        PYBUF_RECV_SEALED
        PYBUF_RECV_UNSEALED

    int pybuf_share_new(const char *name, const pybuf_exporter_desc *desc, int flags,
                        pybuf_exporter **out)
    int pybuf_share_open(const char *name, const pybuf_exporter_desc *desc, int flags,
                         pybuf_exporter **out)
    int pybuf_share_copy(const pybuf_buffer *view, char order, const char *name, int flags,
                         pybuf_exporter **out)
    int pybuf_share_seal(pybuf_exporter *e)
    int pybuf_share_fd(pybuf_exporter *e, int *fd)
    int pybuf_share_unlink(const char *name)
    int pybuf_send_view(int sock, const pybuf_buffer *view, int flags)
    int pybuf_recv_view(int sock, int flags, pybuf_exporter **out)
