"""DLPack: pybuf_to_dlpack / pybuf_from_dlpack against NumPy, the real DLPack producer and
consumer.

- The producer: the Cython module's Exporter gains __dlpack__ and __dlpack_device__, so
  numpy.from_dlpack(e) is an array on the same memory (address, shape, strides, dtype),
  with writes visible both ways, the read-only flag honoured, and pybuf's owner callback
  run exactly when NumPy calls the tensor's deleter.
- The consumer: pybuf_example.from_dlpack(numpy_array) takes NumPy's own capsule through
  pybuf_from_dlpack: a view of NumPy's memory, writes both ways, read-only kept, the
  capsule renamed "used_..." and NumPy's deleter run when the last view goes (or by the
  capsule itself when pybuf refuses the tensor).
- Differential: for NumPy arrays of every dtype DLPack has and many layouts, the tensor
  pybuf_to_dlpack makes of the array's Py_buffer equals, field by field, the tensor
  NumPy's own __dlpack__ makes of the array.
- The interop snippets of docs/interop.md, compiled and run (C) or run (Python).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import weakref
from ctypes import POINTER, byref, c_void_p
from pathlib import Path

import numpy as np
import pytest

import cpython_buffer as cb
import pybuf_ctypes as pc

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / "build" / "cython"
INTEROP_DOC = REPO / "docs" / "interop.md"
LITTLE = sys.byteorder == "little"

UNREPRESENTABLE, UNSUPPORTED_DEVICE, READ_ONLY = -21, -22, -13


def _import_built(name: str):
    if str(BUILD) not in sys.path:
        sys.path.insert(0, str(BUILD))
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.fail(f"the Cython module {name} is not built in {BUILD} ({e}): run `make cython`")


@pytest.fixture(scope="module")
def pe():
    return _import_built("pybuf_example")


# ---------------------------------------------------------------------------------------
# Capsules through ctypes

_api = ctypes.PyDLL(None, handle=ctypes.pythonapi._handle)
_api.PyCapsule_GetName.argtypes = [ctypes.py_object]
_api.PyCapsule_GetName.restype = ctypes.c_char_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_GetPointer.restype = c_void_p


def capsule_name(capsule) -> str:
    return _api.PyCapsule_GetName(capsule).decode()


def capsule_tensor(capsule):
    """The DLManagedTensorVersioned (or DLManagedTensor) inside an unconsumed capsule."""
    name = capsule_name(capsule)
    cls = pc.DLManagedTensorVersioned if name == "dltensor_versioned" else pc.DLManagedTensor
    return ctypes.cast(_api.PyCapsule_GetPointer(capsule, name.encode()), POINTER(cls)).contents


def tensor_fields(t) -> dict:
    dl = t.dl_tensor
    n = dl.ndim
    return {
        "data": (dl.data or 0) + dl.byte_offset,
        "device": (dl.device.device_type, dl.device.device_id),
        "dtype": (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes),
        "shape": tuple(dl.shape[k] for k in range(n)),
        # NumPy writes strides for every tensor; both may write NULL for ndim 0.
        "strides": tuple(dl.strides[k] for k in range(n)) if n else (),
        "read_only": bool(getattr(t, "flags", 0) & pc.DLPACK_FLAG_BITMASK_READ_ONLY),
    }


# ---------------------------------------------------------------------------------------
# The producer: numpy.from_dlpack(Exporter)

# (numpy dtype, pybuf format) pairs DLPack has.
DTYPES = [
    ("?", "?"), ("i1", "b"), ("u1", "B"), ("<i2", "<h"), ("<u2", "<H"), ("<i4", "<i"),
    ("<u4", "<I"), ("<i8", "<q"), ("<u8", "<Q"), ("<f2", "<e"), ("<f4", "<f"), ("<f8", "<d"),
    ("<c8", "<Zf"), ("<c16", "<Zd"),
]
if not LITTLE:  # pragma: no cover - big-endian machines
    DTYPES = [(d.replace("<", ">"), f.replace("<", ">")) for d, f in DTYPES]

# (shape, strides in items or None, offset in items) of an array inside 24 items.
LAYOUTS = [
    ((2, 3), None, 0),          # C-contiguous
    ((3, 2), (1, 3), 0),         # Fortran: the transpose
    ((4,), (-2,), 7),            # backwards, every other item
    ((2, 2, 2), (12, -3, 1), 3), # mixed
    ((), (), 5),                 # 0-d
    ((0, 3), None, 0),           # empty
    ((3, 0), (4, 1), 2),         # empty, strided
    ((2, 3), (0, 1), 0),         # a zero stride (broadcast)
]


@pytest.mark.parametrize("dtype,fmt", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: f"{l[0]}-{l[1]}-{l[2]}")
def test_numpy_from_dlpack_is_the_exporters_memory(pe, dtype, fmt, layout):
    shape, strides, offset = layout
    dt = np.dtype(dtype)
    size = dt.itemsize
    base = bytearray(24 * size)
    ref = np.frombuffer(base, dtype=dt)
    ref[...] = np.arange(24).astype(dt) if dt.kind != "b" else np.arange(24) % 3 == 0
    byte_strides = None if strides is None else tuple(s * size for s in strides)
    e = pe.Exporter(base, shape=shape, strides=byte_strides, offset=offset * size, format=fmt)
    expected = np.lib.stride_tricks.as_strided(
        ref[offset:], shape=shape,
        strides=byte_strides if byte_strides is not None else
        np.empty(shape, dt).strides) if shape else ref[offset:offset + 1].reshape(())
    a = np.from_dlpack(e)
    assert a.dtype == dt
    assert a.shape == shape
    assert a.__array_interface__["data"][0] == e.address + offset * size
    if a.size > 1:
        assert a.strides == expected.strides
    assert np.array_equal(a, expected)
    assert a.flags.writeable
    if a.size and (strides is None or 0 not in strides):
        # writes both ways: through NumPy into the memory, and into the memory under NumPy
        index = (0,) * len(shape)
        a[index] = 1
        assert expected[index] == 1
        expected[index] = 0
        assert a[index] == 0


def test_read_only_memory_is_read_only_in_numpy(pe):
    e = pe.Exporter(bytes(range(16)), shape=(4,), format="<i")
    a = np.from_dlpack(e)
    assert not a.flags.writeable
    assert a.tolist() == np.frombuffer(bytes(range(16)), "<i4").tolist()
    with pytest.raises(ValueError):
        a[0] = 1
    capsule = e.__dlpack__(max_version=(1, 0))
    assert tensor_fields(capsule_tensor(capsule))["read_only"]
    # A legacy tensor cannot say so: refused, as NumPy refuses it.
    with pytest.raises(pe.PybufError, match="legacy DLManagedTensor cannot say so") as err:
        e.__dlpack__()
    assert err.value.status == READ_ONLY
    writable = pe.Exporter(bytearray(16), format="<i")
    assert not tensor_fields(capsule_tensor(writable.__dlpack__(max_version=(1, 0))))["read_only"]


def test_the_deleter_gives_the_memory_back(pe):
    """pybuf's owner callback runs when NumPy calls the deleter of the last tensor."""
    events = []
    base = bytearray(8 * 6)
    e = pe.Exporter(base, shape=(2, 3), format="<d", on_owner=lambda: events.append("owner"))
    a = np.from_dlpack(e)
    b = np.from_dlpack(e)[1]
    assert e.exports == 2  # each tensor holds an export
    del e
    gc.collect()
    assert events == []  # the arrays hold the memory
    a[1, 2] = 4.5
    assert b[2] == 4.5 and np.frombuffer(base, "<d")[5] == 4.5
    del a
    gc.collect()
    assert events == []
    del b
    gc.collect()
    assert events == ["owner"]


def test_capsules(pe):
    e = pe.Exporter(bytearray(8), format="<i")
    assert e.__dlpack_device__() == (1, 0)
    versioned = e.__dlpack__(max_version=(1, 0))
    assert capsule_name(versioned) == "dltensor_versioned"
    t = capsule_tensor(versioned)
    assert (t.version.major, t.version.minor) == (1, 1)
    assert tensor_fields(t) == {"data": e.address, "device": (1, 0), "dtype": (0, 32, 1),
                                "shape": (2,), "strides": (1,), "read_only": False}
    legacy = e.__dlpack__()
    assert capsule_name(legacy) == "dltensor"
    assert tensor_fields(capsule_tensor(legacy))["shape"] == (2,)
    assert e.exports == 2
    # An unconsumed capsule calls the deleter itself.
    del versioned, legacy
    gc.collect()
    assert e.exports == 0
    # The array API's keywords.
    assert np.from_dlpack(e, device="cpu").shape == (2,)
    with pytest.raises(BufferError, match="copy=True"):
        e.__dlpack__(max_version=(1, 0), copy=True)
    with pytest.raises(BufferError, match="dl_device"):
        e.__dlpack__(max_version=(1, 0), dl_device=(2, 0))
    assert e.__dlpack__(max_version=(1, 0), dl_device=(1, 0), copy=False) is not None


@pytest.mark.parametrize("kwargs,text", [
    (dict(format="T{<i:a:<i:b:}", shape=(4,)), 'format "T{<i:a:<i:b:}" is a struct: a DLPack element is one scalar'),
    (dict(format="<2i", shape=(4,)), "holds 2 values of 'i'"),
    (dict(format=">d" if LITTLE else "<d", shape=(4,)), "DLPack holds values in the native byte order"),
    (dict(format="<g", shape=(2,)), "long double"),
    (dict(format="8s", shape=(4,)), "holds bytes"),
    (dict(format="<d", shape=(2,), strides=(12,)), "strides[0] = 12 is not a multiple of itemsize 8"),
])
def test_what_dlpack_cannot_describe_is_refused(pe, kwargs, text):
    if kwargs["format"] == "<g" and np.dtype(np.longdouble).itemsize != 16:
        pytest.skip("long double is not 16 bytes here")
    e = pe.Exporter(bytearray(32), **kwargs)
    with pytest.raises(pe.PybufError, match=re.escape(text)) as err:
        np.from_dlpack(e)
    assert err.value.status == UNREPRESENTABLE
    assert e.exports == 0


def test_suboffsets_are_refused(pe):
    # A PIL-style 2x2 array of doubles: two row pointers in front of the rows.
    base = bytearray(16 + 32)
    rows = np.frombuffer(base, dtype=np.uintp, count=2)
    start = np.frombuffer(base, dtype=np.uint8).ctypes.data
    rows[:] = [start + 16, start + 32]
    e = pe.Exporter(base, shape=(2, 2), strides=(8, 8), format="<d", suboffsets=(0, -1))
    with pytest.raises(pe.PybufError, match=re.escape("suboffsets[0] = 0: DLPack cannot describe")) as err:
        e.__dlpack__(max_version=(1, 0))
    assert err.value.status == UNREPRESENTABLE


# ---------------------------------------------------------------------------------------
# The consumer: pybuf_example.from_dlpack(numpy array)

ARRAYS = {
    "c": lambda: np.arange(12, dtype="<f8").reshape(3, 4),
    "transposed": lambda: np.arange(12, dtype="<i4").reshape(3, 4).T,
    "reversed": lambda: np.arange(10, dtype="<i8")[::-3],
    "sliced": lambda: np.arange(60, dtype="<u2").reshape(3, 4, 5)[1:, ::2, 1::2],
    "0-d": lambda: np.array(2.5 + 1j, dtype="<c16"),
    "bool": lambda: np.arange(6).reshape(2, 3) % 2 == 0,
    "int8": lambda: np.arange(-3, 3, dtype="i1"),
    "half": lambda: np.arange(4, dtype="<f2"),
    "empty": lambda: np.zeros((0, 3), dtype="<f4"),
    "broadcast": lambda: np.broadcast_to(np.arange(3.0), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(ARRAYS))
@pytest.mark.parametrize("legacy", [False, True], ids=["versioned", "legacy"])
def test_from_dlpack_views_numpys_memory(pe, name, legacy):
    n = ARRAYS[name]()
    if legacy and not n.flags.writeable:
        # NumPy refuses to export a read-only array as a legacy tensor, as pybuf does
        with pytest.raises(BufferError):
            pe.from_dlpack(n, legacy=True)
        return
    v = pe.from_dlpack(n, legacy=legacy)
    assert v.capsule == ("dltensor" if legacy else "dltensor_versioned")
    assert v.address == n.__array_interface__["data"][0]
    assert v.shape == n.shape
    if n.size > 1:
        assert v.strides == tuple(s if d > 1 else v.strides[k]
                                  for k, (s, d) in enumerate(zip(n.strides, n.shape)))
    assert v.readonly == (not n.flags.writeable)
    m = np.asarray(v)
    assert m.dtype == n.dtype and m.shape == n.shape
    assert np.shares_memory(m, n) or n.size == 0
    assert np.array_equal(m, n)
    if n.size and n.flags.writeable:
        index = (0,) * n.ndim
        m[index] = 1
        assert n[index] == 1
        n[index] = 0
        assert m[index] == 0


def test_from_dlpack_keeps_read_only(pe):
    n = np.arange(4.0)
    n.flags.writeable = False
    v = pe.from_dlpack(n)
    assert v.readonly
    assert not np.asarray(v).flags.writeable
    mv = memoryview(v)
    assert mv.readonly
    with pytest.raises(TypeError):
        mv[0] = 1.0
    with pytest.raises(ValueError):
        np.frombuffer(v, dtype="<f8").setflags(write=True)


def test_numpys_deleter_runs_when_the_last_view_goes(pe):
    n = np.arange(6.0)
    alive = weakref.ref(n)
    v = pe.from_dlpack(n)
    del n
    gc.collect()
    assert alive() is not None  # the tensor keeps NumPy's array
    m = np.asarray(v)
    mv = memoryview(v)
    del v
    gc.collect()
    assert alive() is not None  # views of the DLPackView keep it
    del m
    gc.collect()
    assert alive() is not None
    mv.release()
    del mv
    gc.collect()
    assert alive() is None  # pybuf_release called NumPy's deleter


def test_a_refused_tensor_stays_with_the_capsule(pe):
    """A tensor pybuf refuses (NumPy's, its dtype made bfloat16) stays the capsule's: the
    capsule keeps its name, and its own destructor calls NumPy's deleter."""
    n = np.arange(3, dtype="<f2")
    alive = weakref.ref(n)
    capsule = n.__dlpack__(max_version=(1, 0))
    capsule_tensor(capsule).dl_tensor.dtype.code = pc.kDLBfloat

    class Producer:
        def __dlpack__(self, **kw):
            return capsule

    with pytest.raises(pe.PybufError, match="kDLBfloat") as err:
        pe.from_dlpack(Producer())
    assert err.value.status == UNREPRESENTABLE
    assert capsule_name(capsule) == "dltensor_versioned"
    del n, err
    gc.collect()
    assert alive() is not None
    del capsule, Producer
    gc.collect()
    assert alive() is None


def test_from_dlpack_refuses_what_is_not_a_capsule(pe):
    class Bad:
        def __dlpack__(self, **kw):
            return "not a capsule"

    with pytest.raises(TypeError, match="not a DLPack capsule"):
        pe.from_dlpack(Bad())


def test_round_trip_numpy_pybuf_numpy(pe):
    """NumPy's tensor into pybuf, exported again by a pybuf exporter, and out to NumPy: one
    memory throughout, and NumPy's deleter runs when the last of them goes."""
    n = np.arange(12, dtype="<i4")
    alive = weakref.ref(n)
    v = pe.from_dlpack(n)
    e = pe.Exporter(v, shape=(3, 4), format="<i")  # holds v's buffer
    a = np.from_dlpack(e)
    assert a.__array_interface__["data"][0] == n.__array_interface__["data"][0] == v.address
    a[2, 3] = -7
    assert n[11] == -7
    del n, v, e
    gc.collect()
    assert alive() is not None
    del a
    gc.collect()
    assert alive() is None


# ---------------------------------------------------------------------------------------
# Differential: pybuf_to_dlpack of a NumPy array's Py_buffer against NumPy's __dlpack__


def _arrays():
    rng = np.random.default_rng(8)
    for dtype, _ in DTYPES:
        base = np.arange(120).astype(dtype).reshape(4, 5, 6)
        yield dtype, base
        yield dtype, base.T
        yield dtype, base[::-1, 1:4, ::2]
        yield dtype, base[2, :, 3]
        yield dtype, base[1:1]
        yield dtype, base[0, 0, 0:1].reshape(())
        perm = rng.permutation(3)
        yield dtype, base.transpose(perm)[::2]
        ro = base[:, ::-2].copy()
        ro.flags.writeable = False
        yield dtype, ro


@pytest.mark.parametrize("dtype,array", list(_arrays()),
                         ids=lambda x: x if isinstance(x, str) else f"{x.shape}{x.strides}")
def test_tensor_equals_numpys_own(lib, dtype, array):
    capsule = array.__dlpack__(max_version=(1, 0))
    theirs = tensor_fields(capsule_tensor(capsule))
    out = POINTER(pc.DLManagedTensorVersioned)()
    with cb.buffer(array, pc.PYBUF_RECORDS_RO) as view:
        assert lib.pybuf_to_dlpack(byref(view), pc.pybuf_owner_fn(), None, byref(out)) == 0, \
            pc.last_error(lib)
    ours = tensor_fields(out.contents)
    if array.size <= 1:  # strides of a one-element or empty array are never used
        theirs.pop("strides"), ours.pop("strides")
    else:
        for k, n in enumerate(array.shape):
            if n == 1:  # nor the stride of a dimension of length 1
                theirs["strides"] = theirs["strides"][:k] + (0,) + theirs["strides"][k + 1:]
                ours["strides"] = ours["strides"][:k] + (0,) + ours["strides"][k + 1:]
    if array.size == 0:
        theirs.pop("data"), ours.pop("data")
    assert ours == theirs
    out.contents.deleter(out)
    del capsule


def test_from_dlpack_of_numpys_tensor_through_ctypes(lib):
    """pybuf_from_dlpack on NumPy's own capsule, and pybuf_release calling its deleter."""
    n = np.arange(24, dtype="<f4").reshape(2, 3, 4)[:, ::-1]
    alive = weakref.ref(n)
    capsule = n.__dlpack__(max_version=(1, 0))
    tensor = ctypes.cast(_api.PyCapsule_GetPointer(capsule, b"dltensor_versioned"),
                         POINTER(pc.DLManagedTensorVersioned))
    view = pc.pybuf_buffer()
    assert lib.pybuf_from_dlpack(byref(view), tensor, pc.PYBUF_FULL) == 0, pc.last_error(lib)
    _api.PyCapsule_SetName = getattr(_api, "PyCapsule_SetName")
    _api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]
    assert _api.PyCapsule_SetName(capsule, b"used_dltensor_versioned") == 0
    del capsule
    assert (view.ndim, view.itemsize, view.format, view.readonly) == (3, 4, b"f", 0)
    assert [view.strides[k] for k in range(3)] == list(n.strides)
    assert view.buf == n.__array_interface__["data"][0]
    del n
    gc.collect()
    assert alive() is not None
    lib.pybuf_release(byref(view))
    gc.collect()
    assert alive() is None


def test_dlpack_declarations_agree(lib):
    pxd = _import_built("pybuf_pxd_check")
    for name, cls in pc.DLPACK_STRUCTS.items():
        assert pxd.SIZES[name] == ctypes.sizeof(cls), name
    c = pxd.DLPACK_CONSTANTS
    assert (c["DLPACK_MAJOR_VERSION"], c["DLPACK_MINOR_VERSION"]) == (1, 1)
    assert c["DLPACK_FLAG_BITMASK_READ_ONLY"] == pc.DLPACK_FLAG_BITMASK_READ_ONLY == 1
    assert c["DLPACK_FLAG_BITMASK_IS_COPIED"] == 2
    assert c["DLPACK_FLAG_BITMASK_IS_SUBBYTE_TYPE_PADDED"] == 4
    assert (c["kDLCPU"], c["kDLCUDA"], c["kDLCUDAHost"], c["kDLROCMHost"], c["kDLCUDAManaged"],
            c["kDLTrn"]) == (1, 2, 3, 11, 13, 18)
    assert (c["kDLInt"], c["kDLUInt"], c["kDLFloat"], c["kDLBfloat"], c["kDLComplex"],
            c["kDLBool"], c["kDLFloat4_e2m1fn"]) == (0, 1, 2, 4, 5, 6, 17)
    if ctypes.sizeof(c_void_p) == 8:
        assert ctypes.sizeof(pc.DLManagedTensorVersioned) == 80
        assert pc.DLManagedTensorVersioned.dl_tensor.offset == 32


# ---------------------------------------------------------------------------------------
# The interop snippets of docs/interop.md


def _interop_snippets() -> list[tuple[str, str]]:
    text = INTEROP_DOC.read_text()
    text = text[text.index("<!-- interop snippets:"):text.index("<!-- end of interop snippets -->")]
    return re.findall(r"```(c|python)\n(.*?)```", text, flags=re.S)


def test_readme_interop_snippets_are_found():
    langs = [lang for lang, _ in _interop_snippets()]
    assert langs == ["c", "python", "c"]


@pytest.mark.parametrize("index", [0, 2])
def test_readme_interop_c_snippet_runs(tmp_path, index):
    lang, body = _interop_snippets()[index]
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc})")
    if not LITTLE:
        pytest.skip("the printed typestrs are little-endian")
    src = tmp_path / "snippet.c"
    src.write_text(body)
    lib_dir = Path(os.environ.get("PYBUF_LIB") or REPO / "target" / "release" / "libpybuf.so").parent
    exe = tmp_path / "snippet"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(REPO / "include"),
                    str(src), str(lib_dir / "libpybuf.a"), "-lpthread", "-ldl", "-lm", "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    expected = re.search(r"/\*((?:(?!/\*).)*?)\*/\s*$", body, flags=re.S).group(1)
    assert out.splitlines() == [line.strip() for line in expected.strip().splitlines()]


def test_readme_interop_python_snippet_runs(pe):
    lang, body = _interop_snippets()[1]
    exec(compile(body, "docs/interop.md", "exec"), {})
