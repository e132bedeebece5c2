# cython: language_level=3
"""libpybuf from Cython, both ways.

Exporting: `Exporter(base, shape=..., strides=..., offset=..., format=..., readonly=...,
suboffsets=...)` describes memory inside `base` (a bytearray, a C-contiguous numpy array, any
object that gives a simple buffer, kept alive and exported until pybuf's owner callback) and
exports it with a `pybuf_exporter`: its `__getbuffer__` and `__releasebuffer__` only delegate
to pybuf, so `numpy.asarray(e)` and `memoryview(e)` see that memory with no copy, and pybuf
answers every request flag.

Consuming: `to_contiguous`, `is_contiguous` and `copy` take any Python buffer (a numpy array,
a memoryview, an Exporter), get a `Py_buffer` with `PyObject_GetBuffer` and hand it, cast, to
pybuf's functions.

DLPack: `Exporter.__dlpack__` and `__dlpack_device__` make `numpy.from_dlpack(e)` an array
on the exporter's memory (pybuf_to_dlpack; the tensor holds an export until NumPy calls its
deleter). `from_dlpack(obj)` goes the other way: it takes `obj.__dlpack__()` (a NumPy array's,
say) through pybuf_from_dlpack and returns a `DLPackView` of that memory, whose buffer any
consumer can view; the tensor's deleter runs when the DLPackView and its last view are gone.

Errors: a failed pybuf call raises `PybufError` (a BufferError) with the pybuf status in
`.status` and `pybuf_last_error()` as the message.

Build: `make cython` (bindings/cython/setup.py) links libpybuf.a statically into
build/cython/pybuf_example*.so.
"""

from cpython.buffer cimport PyBUF_FULL, PyBUF_SIMPLE, PyBUF_WRITABLE
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.pycapsule cimport (
    PyCapsule_GetPointer, PyCapsule_IsValid, PyCapsule_New, PyCapsule_SetName,
)
from pybuf_dlpack cimport DLManagedTensor, DLManagedTensorVersioned, kDLCPU
from pybuf cimport (
    PYBUF_FULL_RO, PYBUF_STATUS_OUT_OF_MEMORY, pybuf_from_dlpack, pybuf_from_dlpack_legacy,
    pybuf_to_dlpack, pybuf_to_dlpack_legacy,
)
from libc.string cimport memcmp, memcpy, memset

from pybuf cimport (
    PYBUF_MAX_NDIM, PYBUF_STATUS_INVALID_ARGUMENT, pybuf_copy, pybuf_exporter,
    pybuf_exporter_desc, pybuf_exporter_exports, pybuf_exporter_free, pybuf_exporter_get_buffer,
    pybuf_exporter_new, pybuf_exporter_replace, pybuf_is_contiguous, pybuf_last_status,
    pybuf_release, pybuf_size_from_format, pybuf_ssize_t,
)


class PybufError(BufferError):
    """A libpybuf call failed: `status` is its pybuf_status, the message pybuf_last_error()."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


cdef str _last_error():
    return pybuf_last_error().decode("utf-8", "replace")


cdef int _check(int rc) except -1:
    if rc != 0:
        raise PybufError(rc, _last_error())
    return 0


# -- exporting ---------------------------------------------------------------------------

cdef class _Memory:
    """A simple (C-contiguous bytes) buffer of a Python object, held while this lives."""
    cdef Py_buffer view
    cdef bint held
    cdef bint ro

    def __cinit__(self, base, readonly):
        if readonly is None:
            # writable if the object allows it, else read-only
            try:
                PyObject_GetBuffer(base, &self.view, PyBUF_SIMPLE | PyBUF_WRITABLE)
            except Exception:
                PyObject_GetBuffer(base, &self.view, PyBUF_SIMPLE)
        elif readonly:
            PyObject_GetBuffer(base, &self.view, PyBUF_SIMPLE)
        else:
            PyObject_GetBuffer(base, &self.view, PyBUF_SIMPLE | PyBUF_WRITABLE)
        self.held = True
        self.ro = True if readonly else self.view.readonly != 0

    def __dealloc__(self):
        if self.held:
            self.held = False
            PyBuffer_Release(&self.view)


cdef class _Description:
    """A pybuf_exporter_desc of memory in a _Memory, with the arrays it points to."""
    cdef pybuf_exporter_desc desc
    cdef pybuf_ssize_t shape[PYBUF_MAX_NDIM]
    cdef pybuf_ssize_t strides[PYBUF_MAX_NDIM]
    cdef pybuf_ssize_t suboffsets[PYBUF_MAX_NDIM]
    cdef bytes fmt

    def __cinit__(self, _Memory mem, shape, strides, Py_ssize_t offset, format,
                  Py_ssize_t itemsize, suboffsets):
        cdef Py_ssize_t n, i, size
        if format is not None:
            self.fmt = format.encode("ascii") if isinstance(format, str) else bytes(format)
            self.desc.format = self.fmt
        if shape is None:
            # one dimension over the whole memory
            size = itemsize if itemsize else pybuf_size_from_format(self.fmt if self.fmt is not None else b"B")
            if size <= 0:
                raise PybufError(pybuf_last_status() or PYBUF_STATUS_INVALID_ARGUMENT,
                                 _last_error() or f"itemsize {size}")
            shape = (mem.view.len // size,)
        n = len(shape)
        if n > PYBUF_MAX_NDIM:
            raise ValueError(f"ndim = {n} is more than PYBUF_MAX_NDIM = {PYBUF_MAX_NDIM}")
        for i in range(n):
            self.shape[i] = shape[i]
        if strides is not None:
            if len(strides) != n:
                raise ValueError(f"{len(strides)} strides for ndim = {n}")
            for i in range(n):
                self.strides[i] = strides[i]
            self.desc.strides = self.strides
        if suboffsets is not None:
            if len(suboffsets) != n:
                raise ValueError(f"{len(suboffsets)} suboffsets for ndim = {n}")
            for i in range(n):
                self.suboffsets[i] = suboffsets[i]
            self.desc.suboffsets = self.suboffsets
        self.desc.buf = mem.view.buf
        self.desc.len = mem.view.len
        self.desc.offset = offset
        self.desc.readonly = mem.ro
        self.desc.itemsize = itemsize
        self.desc.ndim = <int>n
        self.desc.shape = self.shape


cdef class _Owner:
    """What pybuf's owner callback gives back: the memory, and a Python callback."""
    cdef _Memory mem
    cdef object on_owner


_owner_calls = 0


def owner_calls():
    """How many times pybuf has called an Exporter's owner callback (all exporters)."""
    return _owner_calls


cdef void _owner_done(void *user) noexcept with gil:
    # pybuf calls this once, when an exporter and every view of it are gone.
    global _owner_calls
    cdef _Owner owner = <_Owner>user
    Py_DECREF(owner)  # the reference lent to pybuf by Exporter.__cinit__
    _owner_calls += 1
    owner.mem = None  # releases the base object's buffer
    if owner.on_owner is not None:
        owner.on_owner()


cdef class Exporter:
    """Memory inside `base`, exported through a pybuf_exporter.

    Exporter(base, shape=None, strides=None, offset=0, format=None, itemsize=0,
             readonly=None, suboffsets=None, on_owner=None)

    - base: any object with a simple buffer (bytearray, bytes, C-contiguous numpy array);
      its buffer is held (a bytearray cannot be resized) until the owner callback runs.
    - shape/strides/offset/format/itemsize/suboffsets: as pybuf_exporter_desc, in bytes
      relative to the start of base; shape None is one dimension over all of base, strides
      None C-contiguous, format None "B".
    - readonly: None follows base; True exports read-only memory.
    - on_owner: called (no arguments) when pybuf's owner callback runs, which is when this
      object and every view of it (numpy arrays, memoryviews) are gone.
    """
    cdef pybuf_exporter *e
    cdef _Owner owner

    def __cinit__(self, base, shape=None, strides=None, Py_ssize_t offset=0, format=None,
                  Py_ssize_t itemsize=0, readonly=None, suboffsets=None, on_owner=None):
        cdef _Memory mem = _Memory(base, readonly)
        cdef _Description d = _Description(mem, shape, strides, offset, format, itemsize,
                                           suboffsets)
        cdef _Owner owner = _Owner()
        owner.mem = mem
        owner.on_owner = on_owner
        _check(pybuf_exporter_new(&d.desc, _owner_done, <void *>owner, &self.e))
        Py_INCREF(owner)  # lent to pybuf until _owner_done
        self.owner = owner

    def __dealloc__(self):
        pybuf_exporter_free(self.e)  # the owner callback runs here if no view is left

    def __getbuffer__(self, Py_buffer *view, int flags):
        if pybuf_exporter_get_buffer(self.e, <pybuf_buffer *>view, flags) != 0:
            raise PybufError(pybuf_last_status(), _last_error())
        view.obj = self  # pybuf never touches view.obj: it is Cython's None until here

    def __releasebuffer__(self, Py_buffer *view):
        pybuf_release(<pybuf_buffer *>view)

    @property
    def exports(self):
        """The number of live views (pybuf_exporter_exports)."""
        return pybuf_exporter_exports(self.e)

    @property
    def address(self):
        """The address of the start of base's memory."""
        return <size_t>self.owner.mem.view.buf if self.owner.mem is not None else 0

    def replace(self, base, shape=None, strides=None, Py_ssize_t offset=0, format=None,
                Py_ssize_t itemsize=0, readonly=None, suboffsets=None):
        """Export other memory (arguments as for the constructor). Refused with
        PybufError(status=PYBUF_STATUS_EXPORTS_EXIST) while views are alive; on success the
        previous base's buffer is released."""
        cdef _Memory mem = _Memory(base, readonly)
        cdef _Description d = _Description(mem, shape, strides, offset, format, itemsize,
                                           suboffsets)
        _check(pybuf_exporter_replace(self.e, &d.desc))
        self.owner.mem = mem

    # -- DLPack (the producer side of numpy.from_dlpack) ----------------------------------

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A capsule of a DLPack tensor of this memory, without a copy (pybuf_to_dlpack):
        "dltensor_versioned" when the consumer passes max_version >= (1, 0), else the
        legacy "dltensor". The tensor holds an export of the memory until its deleter runs.
        Raises BufferError (a PybufError) for memory DLPack cannot describe, and for
        copy=True or another device than the CPU."""
        cdef pybuf_buffer view
        cdef DLManagedTensorVersioned *vt = NULL
        cdef DLManagedTensor *lt = NULL
        if stream is not None and stream != -1:
            raise BufferError(f"stream = {stream!r}: CPU memory has no stream")
        if dl_device is not None and tuple(dl_device) != (kDLCPU, 0):
            raise BufferError(f"dl_device = {tuple(dl_device)}: pybuf exports CPU memory, (1, 0)")
        if copy:
            raise BufferError("copy=True: pybuf exports the memory itself, never a copy")
        versioned = max_version is not None and tuple(max_version)[0] >= 1
        _check(pybuf_exporter_get_buffer(self.e, &view, PYBUF_FULL_RO))
        try:
            if versioned:
                _check(pybuf_to_dlpack(&view, NULL, NULL, &vt))
            else:
                _check(pybuf_to_dlpack_legacy(&view, NULL, NULL, &lt))
        finally:
            pybuf_release(&view)  # the tensor holds its own export
        try:
            if versioned:
                return PyCapsule_New(vt, b"dltensor_versioned", _versioned_capsule_deleter)
            return PyCapsule_New(lt, b"dltensor", _legacy_capsule_deleter)
        except BaseException:
            if versioned:
                vt.deleter(vt)
            else:
                lt.deleter(lt)
            raise

    def __dlpack_device__(self):
        """(kDLCPU, 0): pybuf's memory is the CPU's."""
        return (kDLCPU, 0)


# -- consuming ---------------------------------------------------------------------------

# --- docs snippet: consume (docs/exporters.md, "Consume a numpy array from Cython") ---
from cpython.buffer cimport PyBUF_FULL_RO, PyBuffer_Release, PyObject_GetBuffer
from pybuf cimport pybuf_buffer, pybuf_last_error, pybuf_to_contiguous

def to_contiguous(obj, order="C"):
    """The elements of any buffer (numpy array, memoryview, ...) as bytes in `order`."""
    cdef Py_buffer view
    PyObject_GetBuffer(obj, &view, PyBUF_FULL_RO)  # raises if obj has no buffer
    try:
        out = bytearray(view.len)
        if pybuf_to_contiguous(<char *>out, <pybuf_buffer *>&view, view.len,
                               ord(order)) != 0:
            raise ValueError(pybuf_last_error().decode())
        return bytes(out)
    finally:
        PyBuffer_Release(&view)
# --- end of docs snippet ---


def is_contiguous(obj, order="C"):
    """pybuf_is_contiguous on the full (PyBUF_FULL_RO) view of any buffer."""
    cdef Py_buffer view
    PyObject_GetBuffer(obj, &view, PyBUF_FULL_RO)
    try:
        return pybuf_is_contiguous(<pybuf_buffer *>&view, ord(order)) == 1
    finally:
        PyBuffer_Release(&view)


def copy(dst, src):
    """pybuf_copy: every element of buffer `src` into the same index of buffer `dst`."""
    cdef Py_buffer d, s
    PyObject_GetBuffer(dst, &d, PyBUF_FULL)
    try:
        PyObject_GetBuffer(src, &s, PyBUF_FULL_RO)
        try:
            _check(pybuf_copy(<pybuf_buffer *>&d, <pybuf_buffer *>&s))
        finally:
            PyBuffer_Release(&s)
    finally:
        PyBuffer_Release(&d)


def release_foreign(obj, int flags=PyBUF_FULL_RO):
    """Get a view of `obj` from its own exporter (CPython, numpy, ...), call pybuf_release
    on it, and return (pybuf_last_status(), whether the view was left byte for byte
    untouched); the view is then released by PyBuffer_Release as it must be."""
    cdef Py_buffer view
    cdef Py_buffer before
    PyObject_GetBuffer(obj, &view, flags)
    memcpy(&before, &view, sizeof(Py_buffer))
    pybuf_release(<pybuf_buffer *>&view)
    status = pybuf_last_status()
    unchanged = memcmp(&before, &view, sizeof(Py_buffer)) == 0
    PyBuffer_Release(&view)
    return status, unchanged


# -- DLPack ------------------------------------------------------------------------------

cdef void _versioned_capsule_deleter(object capsule) noexcept:
    # An unconsumed capsule still owns its tensor (a consumer renames it "used_...").
    cdef DLManagedTensorVersioned *t
    if PyCapsule_IsValid(capsule, b"dltensor_versioned"):
        t = <DLManagedTensorVersioned *>PyCapsule_GetPointer(capsule, b"dltensor_versioned")
        if t.deleter != NULL:
            t.deleter(t)


cdef void _legacy_capsule_deleter(object capsule) noexcept:
    cdef DLManagedTensor *t
    if PyCapsule_IsValid(capsule, b"dltensor"):
        t = <DLManagedTensor *>PyCapsule_GetPointer(capsule, b"dltensor")
        if t.deleter != NULL:
            t.deleter(t)


cdef class _Imported:
    """A pybuf view filled by pybuf_from_dlpack: it owns the tensor until released."""
    cdef pybuf_buffer view  # at a stable address: pybuf_release needs this very struct
    cdef bint held

    def __dealloc__(self):
        if self.held:
            self.held = False
            pybuf_release(&self.view)  # the tensor's deleter runs here


cdef void _imported_done(void *user) noexcept with gil:
    # The owner callback of a DLPackView's exporter: its memory is no longer viewed.
    cdef _Imported imported = <_Imported>user
    if imported.held:
        imported.held = False
        pybuf_release(&imported.view)  # the tensor's deleter runs here
    Py_DECREF(imported)


cdef class DLPackView:
    """Another library's memory, taken from its `__dlpack__` through pybuf_from_dlpack:
    `from_dlpack(obj)` makes one. Its buffer (`numpy.asarray(v)`, `memoryview(v)`) is that
    memory, read-only if the tensor says so, and the tensor's deleter runs when this object
    and every view of it are gone."""
    cdef pybuf_exporter *e
    cdef readonly str capsule
    cdef readonly size_t address
    cdef readonly bint readonly
    cdef readonly tuple shape
    cdef readonly tuple strides
    cdef readonly str format

    def __dealloc__(self):
        pybuf_exporter_free(self.e)

    def __getbuffer__(self, Py_buffer *view, int flags):
        if pybuf_exporter_get_buffer(self.e, <pybuf_buffer *>view, flags) != 0:
            raise PybufError(pybuf_last_status(), _last_error())
        view.obj = self

    def __releasebuffer__(self, Py_buffer *view):
        pybuf_release(<pybuf_buffer *>view)

    @property
    def exports(self):
        return pybuf_exporter_exports(self.e)


cdef DLPackView _view_of(_Imported imported, str capsule):
    """A DLPackView exporting the memory of `imported` (which it then owns)."""
    cdef pybuf_buffer *v = &imported.view
    cdef pybuf_exporter_desc d
    cdef Py_ssize_t lo = 0, hi = 0, k, span
    cdef DLPackView out = DLPackView.__new__(DLPackView)
    if v.len > 0:
        hi = v.itemsize
        for k in range(v.ndim):
            span = v.strides[k] * (v.shape[k] - 1)
            if span < 0:
                lo += span
            else:
                hi += span
    memset(&d, 0, sizeof(d))
    d.buf = <char *>v.buf + lo
    d.len = hi - lo
    d.offset = -lo
    d.readonly = v.readonly
    d.format = v.format
    d.itemsize = v.itemsize
    d.ndim = v.ndim
    d.shape = v.shape
    d.strides = v.strides
    _check(pybuf_exporter_new(&d, _imported_done, <void *>imported, &out.e))
    Py_INCREF(imported)  # lent to pybuf until _imported_done
    out.capsule = capsule
    out.address = <size_t>v.buf
    out.readonly = v.readonly != 0
    out.shape = tuple(v.shape[k] for k in range(v.ndim))
    out.strides = tuple(v.strides[k] for k in range(v.ndim))
    out.format = v.format.decode("ascii")
    return out


def from_dlpack(obj, *, legacy=False):
    """A DLPackView of the memory `obj.__dlpack__()` shares (a NumPy array's, say), taken
    through pybuf_from_dlpack without a copy. Asks for a DLPack 1.x ("dltensor_versioned")
    capsule, with max_version=(1, 1), unless `legacy` is true or `obj` does not know
    max_version; takes the legacy "dltensor" capsule then. The capsule is renamed "used_..."
    once pybuf owns the tensor; if pybuf refuses it (PybufError), the capsule keeps it and
    its own destructor calls the deleter."""
    cdef _Imported imported = _Imported()
    cdef DLManagedTensorVersioned *vt
    cdef DLManagedTensor *lt
    if legacy:
        capsule = obj.__dlpack__()
    else:
        try:
            capsule = obj.__dlpack__(max_version=(1, 1))
        except TypeError:
            capsule = obj.__dlpack__()
    if PyCapsule_IsValid(capsule, b"dltensor_versioned"):
        vt = <DLManagedTensorVersioned *>PyCapsule_GetPointer(capsule, b"dltensor_versioned")
        _check(pybuf_from_dlpack(&imported.view, vt, PYBUF_FULL_RO))
        imported.held = True
        PyCapsule_SetName(capsule, b"used_dltensor_versioned")
        name = "dltensor_versioned"
    elif PyCapsule_IsValid(capsule, b"dltensor"):
        lt = <DLManagedTensor *>PyCapsule_GetPointer(capsule, b"dltensor")
        _check(pybuf_from_dlpack_legacy(&imported.view, lt, PYBUF_FULL_RO))
        imported.held = True
        PyCapsule_SetName(capsule, b"used_dltensor")
        name = "dltensor"
    else:
        raise TypeError(f"{type(obj).__name__}.__dlpack__() returned {capsule!r}, not a DLPack capsule")
    return _view_of(imported, name)
