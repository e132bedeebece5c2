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

Processes: `SharedArray(shape, format, ...)` is an exporter whose memory is a shared
segment (pybuf_share_new: anonymous, or named as Python's `SharedMemory` names them,
optionally laid out as a .npy file); `share_open(name, ...)` opens a named one,
`share_copy(obj)` copies any buffer into a new one. `send_view(sock, obj)` hands the view of
any buffer in such a segment (a numpy array of it, transposed or sliced) to the peer of a
Unix socket (pybuf_send_view), and `recv_view(sock)` returns a SharedArray exporting exactly
that view in the receiving process, so both see each other's writes through numpy.

Errors: a failed pybuf call raises `PybufError` (a BufferError) with the pybuf status in
`.status` and `pybuf_last_error()` as the message (the shared-memory functions add the OS
error of a PYBUF_STATUS_IO as `.errno`).

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
                  Py_ssize_t itemsize, suboffsets, Py_ssize_t length=-1):
        # mem None: no memory yet (a shared segment pybuf creates, of `length` bytes)
        cdef Py_ssize_t n, i, size
        if format is not None:
            self.fmt = format.encode("ascii") if isinstance(format, str) else bytes(format)
            self.desc.format = self.fmt
        if shape is None and mem is None:
            raise ValueError("a shared segment needs a shape")
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
        if mem is not None:
            self.desc.buf = mem.view.buf
            self.desc.len = mem.view.len
            self.desc.readonly = mem.ro
        else:
            self.desc.len = length
        self.desc.offset = offset
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


cdef class _Exports:
    """A Python object whose buffer is a pybuf_exporter's (Exporter, DLPackView,
    SharedArray): `__getbuffer__` and `__releasebuffer__` only delegate to pybuf, and the
    exporter is freed with the object (its memory goes when its last view is gone too)."""
    cdef pybuf_exporter *e

    def __dealloc__(self):
        pybuf_exporter_free(self.e)  # an owner callback runs here if no view is left

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


cdef class Exporter(_Exports):
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
        return _dlpack_capsule(self.e, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        """(kDLCPU, 0): pybuf's memory is the CPU's."""
        return (kDLCPU, 0)


cdef object _dlpack_capsule(pybuf_exporter *e, stream, max_version, dl_device, copy):
    # __dlpack__ of an exporter (Exporter, SharedArray): see Exporter.__dlpack__.
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
    _check(pybuf_exporter_get_buffer(e, &view, PYBUF_FULL_RO))
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


cdef class DLPackView(_Exports):
    """Another library's memory, taken from its `__dlpack__` through pybuf_from_dlpack:
    `from_dlpack(obj)` makes one. Its buffer (`numpy.asarray(v)`, `memoryview(v)`) is that
    memory, read-only if the tensor says so, and the tensor's deleter runs when this object
    and every view of it are gone."""
    cdef readonly str capsule
    cdef readonly size_t address
    cdef readonly bint readonly
    cdef readonly tuple shape
    cdef readonly tuple strides
    cdef readonly str format


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


# -- shared memory and hand-over between processes (issue 15) ---------------------------

from pybuf cimport (
    PYBUF_RECORDS_RO, PYBUF_RECV_READONLY, PYBUF_RECV_SEALED, PYBUF_RECV_UNSEALED,
    PYBUF_SEND_COPY, PYBUF_SEND_READONLY, PYBUF_SHARE_NPY, PYBUF_SHARE_READONLY,
    PYBUF_STATUS_IO, pybuf_last_errno, pybuf_recv_view, pybuf_send_view, pybuf_share_copy,
    pybuf_share_fd, pybuf_share_new, pybuf_share_open, pybuf_share_seal, pybuf_share_unlink,
)


cdef int _check_share(int rc) except -1:
    # _check, with the OS error of a PYBUF_STATUS_IO in `.errno` (EEXIST, EPIPE, ...)
    if rc != 0:
        err = PybufError(rc, _last_error())
        err.errno = pybuf_last_errno() if rc == PYBUF_STATUS_IO else None
        raise err
    return 0


cdef bytes _name_arg(name):
    """A segment name for pybuf (str or bytes; None stays NULL)."""
    if name is None:
        return None
    return name.encode() if isinstance(name, str) else bytes(name)


cdef int _fileno(sock) except -1:
    """The fd of a socket object (anything with fileno()) or of an int."""
    return sock if isinstance(sock, int) else sock.fileno()


cdef class SharedArray(_Exports):
    """An exporter whose memory is a shared segment, as pybuf_share_* and pybuf_recv_view
    make them: its buffer (`numpy.asarray(s)`, `memoryview(s)`) is that memory, with no
    copy, so another process that has the segment sees every write.

    SharedArray(shape, format="d", strides=None, offset=0, length=-1, name=None, npy=False)
    creates a new zero-filled segment (pybuf_share_new) for an array of `shape` (strides in
    bytes, None = C-contiguous) at `offset` in a segment of `length` bytes (-1 = just large
    enough): anonymous (memfd) when `name` is None, else the POSIX name (`/dev/shm/<name>`,
    the same segment as `multiprocessing.shared_memory.SharedMemory(name=...)`; unlink it
    with `unlink(name)`). `npy=True` lays the segment out as a .npy file (then
    `numpy.load("/dev/shm/<name>", mmap_mode="r+")` views it; strides C- or F-contiguous).

    `share_open(...)`, `share_copy(obj, ...)` and `recv_view(sock, ...)` return one too.
    The segment's fd and mapping go when this object and its last view are gone.
    """
    cdef readonly object name  # the segment's name as given, or None

    def __init__(self, shape, format="d", strides=None, Py_ssize_t offset=0,
                 Py_ssize_t length=-1, name=None, bint npy=False):
        cdef _Description d = _Description(None, shape, strides, offset, format, 0, None, length)
        cdef bytes cname = _name_arg(name)
        if self.e != NULL:
            raise TypeError("SharedArray is initialized once")
        _check_share(pybuf_share_new(<const char *>cname if cname is not None else NULL,
                                     &d.desc, PYBUF_SHARE_NPY if npy else 0, &self.e))
        self.name = name

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """As Exporter.__dlpack__: a DLPack capsule of the shared memory."""
        return _dlpack_capsule(self.e, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        return (kDLCPU, 0)

    @property
    def fd(self):
        """The segment's fd (pybuf_share_fd), borrowed: do not close it."""
        cdef int fd = -1
        _check_share(pybuf_share_fd(self.e, &fd))
        return fd

    @property
    def layout(self):
        """(format, itemsize, shape, strides, readonly) of the views this exports."""
        cdef pybuf_buffer v
        _check(pybuf_exporter_get_buffer(self.e, &v, PYBUF_RECORDS_RO))
        try:
            return (v.format.decode("ascii"), v.itemsize,
                    tuple(v.shape[k] for k in range(v.ndim)),
                    tuple(v.strides[k] for k in range(v.ndim)), v.readonly != 0)
        finally:
            pybuf_release(&v)

    def seal(self):
        """Seal an anonymous segment against writes for good (pybuf_share_seal): refused
        (EXPORTS_EXIST) while a view is alive; later views and hand-overs are read-only."""
        _check_share(pybuf_share_seal(self.e))


cdef SharedArray _adopt(pybuf_exporter *e, name):
    """A SharedArray that owns `e` (freed with it)."""
    cdef SharedArray s = SharedArray.__new__(SharedArray)
    s.e = e
    s.name = name
    return s


def share_open(name, shape=None, format="d", strides=None, Py_ssize_t offset=0,
               bint npy=False, bint readonly=False):
    """The existing named segment `name` (made by pybuf or by Python's SharedMemory) as a
    SharedArray (pybuf_share_open): an array of `shape`/`format`/`strides` at `offset`,
    or, with `npy=True` and no shape, the array its .npy header describes. `readonly`:
    mapped read-only."""
    cdef _Description d
    cdef const pybuf_exporter_desc *dp = NULL
    cdef pybuf_exporter *e = NULL
    cdef bytes cname = _name_arg(name)
    if shape is not None or not npy:
        d = _Description(None, shape, strides, offset, format, 0, None)
        dp = &d.desc
    _check_share(pybuf_share_open(cname, dp, (PYBUF_SHARE_NPY if npy else 0)
                                  | (PYBUF_SHARE_READONLY if readonly else 0), &e))
    return _adopt(e, name)


def share_copy(obj, order="A", name=None, bint npy=False):
    """A new segment (anonymous when `name` is None) holding a copy of any buffer `obj`, in
    `order` ('C', 'F', or 'A': F if obj is F-contiguous, else C), by pybuf_share_copy."""
    cdef Py_buffer view
    cdef pybuf_exporter *e = NULL
    cdef bytes cname = _name_arg(name)
    PyObject_GetBuffer(obj, &view, PyBUF_FULL_RO)
    try:
        _check_share(pybuf_share_copy(<pybuf_buffer *>&view, ord(order),
                                      <const char *>cname if cname is not None else NULL,
                                      PYBUF_SHARE_NPY if npy else 0, &e))
    finally:
        PyBuffer_Release(&view)
    return _adopt(e, name)


def unlink(name):
    """Remove the named segment `name` (pybuf_share_unlink); mappings of it stay valid."""
    _check_share(pybuf_share_unlink(_name_arg(name)))


def send_view(sock, obj, bint readonly=False, bint copy=False):
    """Hand the view of any buffer `obj` (a numpy array, a memoryview, a SharedArray) whose
    memory lies in a pybuf shared segment to the peer of the Unix socket `sock` (a socket
    or an fd), by pybuf_send_view: the segment's fd and the view's layout, no data.
    `readonly`: the peer gets read-only views (and a read-only fd). `copy`: a view of other
    memory is copied into a new anonymous segment first (else PybufError NOT_SHARED).
    The GIL is released while sending."""
    cdef int fd = _fileno(sock)
    cdef int flags = (PYBUF_SEND_READONLY if readonly else 0) | (PYBUF_SEND_COPY if copy else 0)
    cdef int rc
    cdef Py_buffer view
    PyObject_GetBuffer(obj, &view, PyBUF_FULL_RO)
    try:
        with nogil:
            rc = pybuf_send_view(fd, <pybuf_buffer *>&view, flags)
        _check_share(rc)
    finally:
        PyBuffer_Release(&view)


def recv_view(sock, bint readonly=False, bint sealed=False, bint unsealed=False):
    """Receive one view sent by pybuf_send_view on the Unix socket `sock` (a socket or an
    fd) as a SharedArray exporting exactly that view (pybuf_recv_view). `readonly`: map it
    read-only whatever the sender allowed; `sealed`: require a segment sealed against
    writes; `unsealed`: accept a segment that cannot be sealed (a named one). Raises
    PybufError: WOULD_BLOCK on a non-blocking socket with no message, END_OF_FILE when the
    peer closed, INVALID_MESSAGE for anything malformed. The GIL is released while waiting."""
    cdef int fd = _fileno(sock)
    cdef int flags = ((PYBUF_RECV_READONLY if readonly else 0) | (PYBUF_RECV_SEALED if sealed else 0)
                      | (PYBUF_RECV_UNSEALED if unsealed else 0))
    cdef int rc
    cdef pybuf_exporter *e = NULL
    with nogil:
        rc = pybuf_recv_view(fd, flags, &e)
    _check_share(rc)
    return _adopt(e, None)
