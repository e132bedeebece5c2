"""pybuf_ctypes.py against include/pybuf.h: every function of the header is declared with
the header's types and exported by the library, and the constants are the header's."""

from __future__ import annotations

import ctypes
import re

import pytest

import pybuf_ctypes as pc

HEADER_TEXT = pc.HEADER.read_text()


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


CODE = _strip_comments(HEADER_TEXT)

# name -> (return type, [parameter types]) as the header spells them.
PROTOTYPES = {
    m.group(2): (" ".join(m.group(1).split()), [
        " ".join(re.sub(r"\b\w+$", "", p.strip()).split()) if p.strip() != "void" else "void"
        for p in m.group(3).split(",")
    ])
    for m in re.finditer(r"^([A-Za-z_][\w\s\*]*?)\b(pybuf_\w+)\s*\(([^)]*)\)\s*;", CODE, flags=re.M)
}

_BASE = {
    "int": ctypes.c_int,
    "char": ctypes.c_char,
    "pybuf_ssize_t": ctypes.c_ssize_t,
    "ptrdiff_t": ctypes.c_ssize_t,
    "uint32_t": ctypes.c_uint32,
}


def _ctype(spelling: str):
    """The ctypes type for a C type as the header spells it (pybuf_ctypes' classes for
    pybuf's own types)."""
    spelling = " ".join(spelling.replace("*", " * ").split())
    stars = spelling.count("*")
    words = [w for w in spelling.split() if w not in ("const", "struct", "enum", "*")]
    assert len(words) == 1, spelling
    base = words[0]
    if base == "void":
        t, stars = (None, 0) if stars == 0 else (ctypes.c_void_p, stars - 1)
    elif base == "char" and stars:
        t, stars = ctypes.c_char_p, stars - 1
    elif base in _BASE:
        t = _BASE[base]
    else:
        t = getattr(pc, base)
    for _ in range(stars):
        t = ctypes.POINTER(t)
    return t


def test_header_has_functions():
    assert len(PROTOTYPES) >= 11, PROTOTYPES


@pytest.mark.parametrize("name", sorted(PROTOTYPES))
def test_function_declared_as_in_header(lib, name):
    assert name in pc.FUNCTIONS, f"{name} is in pybuf.h but not declared in pybuf_ctypes.py"
    ret, params = PROTOTYPES[name]
    restype, argtypes = pc.FUNCTIONS[name]
    assert restype == _ctype(ret), (name, ret)
    expected = [] if params == ["void"] else [_ctype(p) for p in params]
    assert argtypes == expected, (name, params)
    assert pc.has(lib, name), f"{name} is in pybuf.h but not exported by {pc.library_path()}"
    fn = getattr(lib, name)
    assert fn.restype == restype and fn.argtypes == argtypes


# The <stdint.h> limits the header names (PYBUF_SLICE_NONE is PTRDIFF_MIN).
C_LIMITS = {"PTRDIFF_MIN": -(1 << (8 * ctypes.sizeof(ctypes.c_ssize_t) - 1))}


def _header_defines() -> dict[str, int]:
    out: dict[str, int] = {}
    for m in re.finditer(r"^#define[ \t]+(PYBUF_\w+)[ \t]+(.+?)[ \t]*$", CODE, flags=re.M):
        name, expr = m.groups()
        if expr.startswith('"'):
            continue
        expr = re.sub(r"\bPYBUF_\w+\b", lambda x: str(out[x.group(0)]), expr)
        out[name] = eval(expr, {"__builtins__": {}, **C_LIMITS})  # integer expressions only
    return out


def test_defines_equal_header():
    defines = _header_defines()
    flags = {k: v for k, v in defines.items() if not k.startswith("PYBUF_VERSION")}
    assert flags, defines
    for name, value in flags.items():
        assert getattr(pc, name) == value, name


def test_statuses_equal_header():
    enum = re.search(r"typedef enum pybuf_status \{(.*?)\}", CODE, flags=re.S).group(1)
    statuses = {m.group(1): int(m.group(2)) for m in
                re.finditer(r"(PYBUF_STATUS_\w+)\s*=\s*(-?\d+)", enum)}
    assert len(statuses) >= 20
    for name, value in statuses.items():
        assert getattr(pc, name) == value, name
    assert set(pc.STATUS_NAMES.values()) == set(statuses)


def test_status_names(lib):
    for value, name in pc.STATUS_NAMES.items():
        assert lib.pybuf_status_name(value).decode() == name
    assert lib.pybuf_status_name(1).decode() == "PYBUF_STATUS_UNKNOWN"
    assert lib.pybuf_status_name(-1000).decode() == "PYBUF_STATUS_UNKNOWN"


def test_struct_layout_is_py_buffer():
    p = ctypes.sizeof(ctypes.c_void_p)
    s = ctypes.sizeof(ctypes.c_ssize_t)
    B = pc.pybuf_buffer
    assert [B.buf.offset, B.obj.offset, B.len.offset, B.itemsize.offset] == [0, p, 2 * p, 2 * p + s]
    assert [B.readonly.offset, B.ndim.offset, B.format.offset] == [2 * p + 2 * s, 2 * p + 2 * s + 4, 2 * p + 2 * s + 8]
    assert B.internal.offset == 6 * p + 2 * s + 8
    assert ctypes.sizeof(B) == 7 * p + 2 * s + 8
    # The interpreter agrees: a memoryview's Py_buffer is read through this layout.
    import cpython_buffer as cb

    data = bytearray(b"abcdefgh")
    with cb.buffer(memoryview(data).cast("h", [2, 2])) as v:
        assert (v.len, v.itemsize, v.ndim, v.format, v.readonly) == (8, 2, 2, b"h", 0)
        assert [v.shape[0], v.shape[1], v.strides[0], v.strides[1]] == [2, 2, 4, 2]


STRUCT_BODIES = {
    m.group(1): m.group(2)
    for m in re.finditer(r"typedef struct (pybuf_\w+) \{(.*?)\} \1;", CODE, flags=re.S)
}


def test_header_structs_declared():
    assert "pybuf_buffer" in STRUCT_BODIES
    missing = sorted(set(STRUCT_BODIES) - set(pc.STRUCTS))
    assert not missing, f"structs in pybuf.h without a declaration in pybuf_ctypes.py: {missing}"


@pytest.mark.parametrize("name", sorted(STRUCT_BODIES))
def test_struct_fields_as_in_header(name):
    cls = pc.STRUCTS[name]
    fields = []
    for decl in filter(None, (d.strip() for d in STRUCT_BODIES[name].split(";"))):
        fn = re.match(r"(.+?)\(\*(\w+)\)\((.*)\)$", decl, flags=re.S)
        if fn:  # a function pointer: compare its signature
            ret, fname, params = fn.groups()
            args = [] if params.strip() == "void" else [
                _ctype(re.sub(r"\b\w+$", "", p.strip())) for p in params.split(",")]
            fields.append((fname, ("fn", _ctype(ret), args)))
            continue
        arr = re.match(r"(.+?)\b(\w+)\[(\d+)\]$", decl)
        if arr:
            fields.append((arr.group(2), _ctype(arr.group(1)) * int(arr.group(3))))
            continue
        m = re.match(r"(.+?)\b(\w+)$", decl, flags=re.S)
        t = m.group(1)
        fields.append((m.group(2), ctypes.c_int if t.strip().startswith("enum ") else _ctype(t)))
    declared = []
    for fname, ftype in cls._fields_:
        if hasattr(ftype, "_restype_"):
            declared.append((fname, ("fn", ftype._restype_, list(ftype._argtypes_))))
        else:
            declared.append((fname, ftype))

    def norm(t):  # ctypes array types are made anew each time: compare by shape
        if isinstance(t, type) and issubclass(t, ctypes.Array):
            return ("array", t._type_, t._length_)
        return t

    assert [(n, norm(t)) for n, t in declared] == [(n, norm(t)) for n, t in fields], name
