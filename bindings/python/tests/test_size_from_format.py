"""PyBuffer_SizeFromFormat (struct.calcsize) vs pybuf_size_from_format: fixed edge cases
and thousands of random struct format strings (seeded by PYBUF_SEED).

pybuf documents equality with struct.calcsize for every format the struct module accepts;
for PEP 3118 formats struct rejects (numpy's 'Zd', 'g', 'T{...}', '2w', ...) it may give a
size (not compared with CPython here; test_differential.py holds it to numpy's itemsize).
"""

from __future__ import annotations

import random

import pytest

import cpython_buffer as cb
import pybuf_ctypes as pc
from run_config import SEED

ACCEPTED_BY_STRUCT = [
    "", "B", "@B", "x", "3x", "0s", "10s", "p", "5p", "?", "hhl", "bhb", "bi", "ib",
    "<bi", ">q", "!h", "=l", "@P", "n", "N", "e", "ihq", "3i", "2h3b", "i ", " i", "0i",
    "c", "f d", "b0i", "b0q", "@b0l", "<b0l", "bq5x", "i\t", "\ni", "@", "<", "s", "qqq",
    "2147483648s", ">e", "<?", "<3s", "=c", "@n", "d" * 40, "255B", "?bB" * 7,
]
REJECTED_BY_BOTH = ["3", "i3", "{", "T{", "Y", "-1i", "i i3", "<n", "=N", "!n", ">N", "<0n",
                    "99999999999999999999i", "<>", "<>i", "<<i", "< >i", "@=", "i<>i"]


@pytest.fixture(scope="module")
def sized(lib):
    if not pc.has(lib, "pybuf_size_from_format"):
        pytest.skip("pybuf_size_from_format is not exported by this libpybuf build "
                    "(src/format is being written): PyBuffer_SizeFromFormat not compared")
    return lib


def cpython_size(fmt: bytes):
    try:
        return cb.PyBuffer_SizeFromFormat(fmt)
    except Exception as e:  # noqa: BLE001 - struct.error
        return e


@pytest.mark.parametrize("fmt", ACCEPTED_BY_STRUCT, ids=repr)
def test_struct_formats(sized, fmt):
    c = cpython_size(fmt.encode())
    assert isinstance(c, int), c
    assert sized.pybuf_size_from_format(fmt.encode()) == c, pc.last_error(sized)


@pytest.mark.parametrize("fmt", REJECTED_BY_BOTH, ids=repr)
def test_malformed_formats(sized, fmt):
    assert not isinstance(cpython_size(fmt.encode()), int)
    assert sized.pybuf_size_from_format(fmt.encode()) == -1
    assert sized.pybuf_last_status() in (pc.PYBUF_STATUS_INVALID_FORMAT, pc.PYBUF_STATUS_OVERFLOW)


def test_null_format(sized):
    # CPython would crash (PyUnicode_FromString(NULL)); pybuf refuses.
    assert sized.pybuf_size_from_format(None) == -1
    assert sized.pybuf_last_status() == pc.PYBUF_STATUS_NULL_POINTER


CODES = "xcbB?hHiIlLqQnNefdspP"


def random_struct_format(rnd: random.Random) -> str:
    out = rnd.choice(["", "", "@", "=", "<", ">", "!"])
    native = out in ("", "@")
    for _ in range(rnd.randint(0, 7)):
        code = rnd.choice(CODES if native else CODES.replace("n", "").replace("N", "").replace("P", ""))
        count = rnd.choice(["", "", "", "0", "1", "2", "3", "7", "16", str(rnd.randint(0, 300))])
        out += rnd.choice(["", "", "", " "]) + count + code
    return out


def test_random_struct_formats(sized):
    rnd = random.Random(f"{SEED}:formats")
    mismatches = []
    for i in range(3000):
        fmt = random_struct_format(rnd).encode()
        c = cpython_size(fmt)
        assert isinstance(c, int), (fmt, c)  # the generator makes only struct formats
        p = sized.pybuf_size_from_format(fmt)
        if p != c:
            mismatches.append((fmt, c, p, pc.last_error(sized)))
    assert not mismatches, f"PYBUF_SEED={SEED}: {len(mismatches)} of 3000 differ: {mismatches[:10]}"
