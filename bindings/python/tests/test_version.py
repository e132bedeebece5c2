"""The version in Cargo.toml, the header's PYBUF_VERSION_* macros and the library's
pybuf_version() / pybuf_version_string() are the same version: their values are compared."""

import re
import tomllib

import pybuf_ctypes as pc

REPO = pc.REPO


def cargo_version():
    with open(REPO / "Cargo.toml", "rb") as f:
        v = tomllib.load(f)["package"]["version"]
    major, minor, patch = (int(x) for x in v.split("."))
    return v, major, minor, patch


def header_macros():
    text = (REPO / "include" / "pybuf.h").read_text()
    found = dict(re.findall(r"#define (PYBUF_VERSION_\w+) (\S+)", text))
    return found


def test_header_macros_equal_cargo_toml():
    v, major, minor, patch = cargo_version()
    m = header_macros()
    assert int(m["PYBUF_VERSION_MAJOR"]) == major
    assert int(m["PYBUF_VERSION_MINOR"]) == minor
    assert int(m["PYBUF_VERSION_PATCH"]) == patch
    assert int(m["PYBUF_VERSION_NUMBER"]) == major * 10000 + minor * 100 + patch
    assert m["PYBUF_VERSION_STRING"] == f'"{v}"'


def test_runtime_version_equals_cargo_toml():
    v, major, minor, patch = cargo_version()
    lib = pc.load()
    assert lib.pybuf_version() == major * 10000 + minor * 100 + patch
    assert lib.pybuf_version_string().decode() == v
