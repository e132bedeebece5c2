"""The randomized differential test: CPython's PyBuffer_* functions and libpybuf on the very
same Py_buffer structs, from numpy, memoryview and _testbuffer exporters (plus hand-built
views with suboffsets in several dimensions, synthetic.py).

One run (PYBUF_CASES random views, PYBUF_CASES/10 hand-built ones, PYBUF_CASES/3 random
copy pairs, seed PYBUF_SEED) feeds every test below; each test asserts zero mismatches in
its category and prints the seed, the case, the exporter spec, the view and both results
of the first mismatches. Reproduce one with
`PYBUF_SEED=<seed> PYBUF_CASE=<case> pytest bindings/python/tests/test_differential.py`.
"""

from __future__ import annotations

import pytest

import differential as diff
from run_config import CASES, DEFAULT_CASES, ONLY_CASE

MIN_VIEWS = 5000
MIN_SUBOFFSET_VIEWS = 500


@pytest.fixture(scope="module")
def session(lib, seed):
    s = diff.run(lib, seed, CASES, CASES // 3, only_case=ONLY_CASE)
    diff.LAST_SESSION = s
    return s


def assert_none(session, category):
    ms = session.of(category)
    assert not ms, f"PYBUF_SEED={session.seed}: {category}: " + diff.format_mismatches(ms)


def test_harness_ran_cleanly(session):
    """No exporter or generator failure (those would hide cases)."""
    assert_none(session, "harness")


def test_is_contiguous(session):
    assert session.counts["is_contiguous"] > 0
    assert_none(session, "is_contiguous")


def test_get_pointer(session):
    assert session.counts["get_pointer"] > 0
    assert_none(session, "get_pointer")


def test_get_pointer_out_of_range(session):
    """pybuf checks indices (CPython does not): NULL and INDEX_OUT_OF_RANGE."""
    assert_none(session, "get_pointer_out_of_range")


def test_size_from_format(session):
    if not session.has_size_from_format:
        pytest.skip("pybuf_size_from_format is not exported by this libpybuf build "
                    "(src/format is being written): PyBuffer_SizeFromFormat not compared")
    assert session.counts["size_from_format"] > 0
    assert_none(session, "size_from_format")


def test_fill_contiguous_strides(session):
    assert session.counts["fill_contiguous_strides"] > 0
    assert_none(session, "fill_contiguous_strides")


def test_to_contiguous(session):
    assert session.counts["to_contiguous"] > 0
    assert_none(session, "to_contiguous")


def test_from_contiguous(session):
    assert session.counts["from_contiguous"] > 0
    assert_none(session, "from_contiguous")


def test_copy(session):
    assert session.counts["copy"] > 0
    assert_none(session, "copy")


def test_other_orders_rejected(session):
    """pybuf's documented divergence: orders other than C/F/A give 0 (is_contiguous) or
    INVALID_ARGUMENT with the output untouched (everything else)."""
    assert_none(session, "bad_order")


def test_enough_views_compared(session):
    if ONLY_CASE is not None or CASES < MIN_VIEWS:
        pytest.skip(f"PYBUF_CASES={CASES} / PYBUF_CASE={ONLY_CASE}: fewer than {MIN_VIEWS} cases "
                    f"requested (default {DEFAULT_CASES}), so the minimum counts do not apply")
    c = session.counts
    assert c["views"] >= MIN_VIEWS, c
    assert c["views_with_suboffsets"] >= MIN_SUBOFFSET_VIEWS, c
    # and so from real exporters alone (numpy, memoryview, _testbuffer)
    assert c["views_from_exporters"] >= MIN_VIEWS, c
    assert c["views_from_exporters_with_suboffsets"] >= MIN_SUBOFFSET_VIEWS, c
    assert c["views_with_pil_suboffsets"] >= MIN_SUBOFFSET_VIEWS, c
    assert c["from_contiguous_views"] >= MIN_VIEWS // 2, c
    assert c["copy"] >= 1000 and c["copy_pairs_overlapping"] >= 300, c
    assert c["copy_pairs_with_suboffsets"] >= 200, c
    assert not any(k.startswith("mismatch:") for k in c), c
