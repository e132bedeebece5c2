"""Shared fixtures for libpybuf's Python tests.

Environment:
- PYBUF_LIB: the library to test (default: <repo>/target/release/libpybuf.so).
- PYBUF_SEED, PYBUF_CASES, PYBUF_CASE: the randomized tests (see run_config.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pybuf_ctypes as pc  # noqa: E402
from run_config import CASES, ONLY_CASE, SEED  # noqa: E402


def pytest_report_header(config):
    return [f"libpybuf: {pc.library_path()}; PYBUF_SEED={SEED} PYBUF_CASES={CASES}"
            + (f" PYBUF_CASE={ONLY_CASE}" if ONLY_CASE is not None else "")]


@pytest.fixture(scope="session")
def lib():
    path = pc.library_path()
    if not os.path.exists(path):
        pytest.fail(f"libpybuf not found at {path}: build it with `cargo build --release --lib` "
                    "or set PYBUF_LIB")
    return pc.load(path)


@pytest.fixture(scope="session")
def seed():
    return SEED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # The differential run's statistics, when it ran (see test_differential.py).
    mod = sys.modules.get("differential")
    s = getattr(mod, "LAST_SESSION", None) if mod else None
    if s is None:
        return
    tr = terminalreporter
    tr.section("libpybuf differential run")
    tr.write_line(f"PYBUF_SEED={s.seed} PYBUF_CASES={CASES}: {s.elapsed:.1f} s")
    c = s.counts
    tr.write_line(
        f"views compared: {c['views']} (with suboffsets: {c['views_with_suboffsets']}, "
        f"PIL-style with a suboffset >= 0: {c['views_with_pil_suboffsets']}, NULL strides: "
        f"{c['views_with_null_strides']}, NULL shape: {c['views_with_null_shape']}, "
        f"empty: {c['views_empty']}); from real exporters: {c['views_from_exporters']} (with "
        f"suboffsets: {c['views_from_exporters_with_suboffsets']})")
    tr.write_line("  by exporter: " + ", ".join(
        f"{k.split(':', 1)[1]} {v}" for k, v in sorted(c.items()) if k.startswith("views:")))
    tr.write_line(
        f"comparisons: is_contiguous {c['is_contiguous']}, get_pointer {c['get_pointer']}, "
        f"size_from_format {c['size_from_format']} (skipped {c['size_from_format_skipped']}), "
        f"fill_contiguous_strides {c['fill_contiguous_strides']}, to_contiguous "
        f"{c['to_contiguous']}, from_contiguous {c['from_contiguous']} on "
        f"{c['from_contiguous_views']} exporter pairs (+{c['from_contiguous_refusals']} refusals), "
        f"overlapping to/from_contiguous {c['overlapping_contiguous_copies']}")
    tr.write_line(
        f"copy pairs: {c['copy_pairs']} (overlapping {c['copy_pairs_overlapping']}, with "
        f"suboffsets {c['copy_pairs_with_suboffsets']}; compared {c['copy']}, also against "
        f"PyObject_CopyData {c['copy_vs_PyObject_CopyData']}) by kind: " + ", ".join(
            f"{k.split(':', 1)[1]} {v}" for k, v in sorted(c.items()) if k.startswith("copy_pairs:")))
    mism = {k: v for k, v in c.items() if k.startswith("mismatch:")}
    tr.write_line(f"mismatches: {sum(mism.values())} {mism if mism else ''}")
    tr.write_line("deliberate divergences met (pybuf held to its documented behaviour):")
    for name, n in sorted(s.divergences.items()):
        tr.write_line(f"  {n:6d}  {name}")
