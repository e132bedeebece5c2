"""pybuf_write_fd / pybuf_read_fd (and the resumable pybuf_io_*) against numpy.

For a table of numpy arrays and views (transposes, every other column, reversed rows,
3-byte structured items every other one, F-order, 0-d, empty, big-endian, complex, a
large transpose across the 1 MiB staging buffer, random transposes and slices up to 8-D),
in every order ('C', 'F', 'A'):

- pybuf_write_fd(view, order) to a file gives the bytes numpy writes: `a.tobytes(order)`,
  and for 'C' and 'F' `np.ascontiguousarray(a).tofile` / `np.ascontiguousarray(a.T).tofile`;
- pybuf_read_fd into a strided numpy destination (the same view of fresh memory) stores
  what numpy's assignment of `np.fromfile(...).reshape(shape, order)` stores, and nothing
  outside the view's elements;
- the same through os.pipe and socket.socketpair with a Python peer thread that moves a
  few bytes at a time, blocking, and non-blocking with pybuf_io_step and select.poll.

The views are numpy's own buffer exports (PyObject_GetBuffer), as a C extension gets them.

Run: .venv/bin/python -m pytest -q bindings/python/tests/test_io.py
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import select
import socket
import threading

import numpy as np
import pytest

import cpython_buffer as cb
import pybuf_ctypes as pc
from run_config import SEED

ORDERS = ("C", "F", "A")


# ----------------------------------------------------------------------------- the table

def _random_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, n, dtype=np.uint8)


def _filled(rng: np.random.Generator, shape, dtype, order: str = "C") -> np.ndarray:
    """An array of `shape` and `dtype` whose bytes are random (NaNs and all)."""
    a = np.empty(shape, dtype=dtype, order=order)
    if a.nbytes:
        flat = a.reshape(-1, order="A")  # C or F contiguous: a view
        assert np.shares_memory(flat, a)
        flat.view(np.uint8)[:] = _random_bytes(rng, a.nbytes)
    return a


def _random_nd(rnd: random.Random, ndim: int):
    """(base shape, view function) for a random transpose and slicing of an ndim array."""
    shape = [rnd.randint(1, 4) for _ in range(ndim)]
    if ndim and rnd.random() < 0.5:
        shape[rnd.randrange(ndim)] = rnd.randint(5, 40)
    perm = list(range(ndim))
    rnd.shuffle(perm)
    slices = []
    for n in shape:
        step = rnd.choice([1, 1, 2, -1, -2, 3])
        start = rnd.randrange(n) if rnd.random() < 0.3 else None
        slices.append(slice(start, None, step))
    slices = tuple(slices)
    return shape, lambda b: b[slices].transpose(perm)


def _dtype3():
    return np.dtype([("x", "u1"), ("y", "<u2")])  # packed: 3-byte items


def table():
    """(name, base shape, dtype, view function[, base order]): a view of a base array."""
    rows = [
        ("a", (37, 53), np.float64, lambda b: b),
        ("a.T", (37, 53), np.float64, lambda b: b.T),
        ("a[:, ::2]", (37, 53), np.float64, lambda b: b[:, ::2]),
        ("a[::-1]", (37, 53), np.float64, lambda b: b[::-1]),
        ("a[::-3, 1::2].T", (37, 53), np.int16, lambda b: b[::-3, 1::2].T),
        ("3-byte items, stride 2", (301,), _dtype3(), lambda b: b[::2]),
        ("3-byte items, 2-D every other column", (20, 31), _dtype3(), lambda b: b[:, ::2]),
        ("F-order", (20, 30, 4), np.int32, lambda b: b, "F"),
        ("F-order, every other row", (20, 30, 4), np.int32, lambda b: b[::2], "F"),
        ("F-order view of a C base", (20, 30, 4), np.int32, lambda b: b.transpose(2, 1, 0)),
        ("0-d", (), np.float64, lambda b: b),
        ("0-d of a slice", (5,), np.float64, lambda b: b[3, ...]),
        ("empty", (3, 0, 5), np.float64, lambda b: b),
        ("empty slice of a strided view", (6, 7), np.float32, lambda b: b[2:2, ::2]),
        ("big-endian", (11, 13), np.dtype(">f8"), lambda b: b.T),
        ("big-endian int32 reversed", (64,), np.dtype(">i4"), lambda b: b[::-1]),
        ("complex64 columns reversed", (9, 7), np.complex64, lambda b: b[:, ::-1]),
        ("complex128 transposed", (9, 7), np.complex128, lambda b: b.T),
        ("bool transpose (1-byte items)", (33, 65), np.bool_, lambda b: b.T),
        ("uint8 transpose, 1 MiB", (1024, 1024), np.uint8, lambda b: b.T),
        ("float64 transpose, 3 MiB", (640, 600), np.float64, lambda b: b.T),
        ("long rows with gaps", (40, 600), np.float64, lambda b: b[::2, :500]),
    ]
    rnd = random.Random(SEED)
    for ndim in range(1, 9):
        for k in range(3):
            shape, fn = _random_nd(rnd, ndim)
            dtype = rnd.choice([np.uint8, np.int16, np.float32, np.float64, _dtype3(), np.dtype(">i8")])
            rows.append((f"random {ndim}-D #{k}", tuple(shape), dtype, fn))
    return rows


TABLE = table()
IDS = [row[0] for row in TABLE]


class Case:
    """A view of a fresh base array with random bytes."""

    def __init__(self, row, seed: int):
        name, shape, dtype, fn = row[:4]
        self.base_order = row[4] if len(row) > 4 else "C"
        self.rng = np.random.default_rng(seed)
        self.name, self.shape, self.dtype, self.fn = name, shape, np.dtype(dtype), fn
        self.base, self.view = self.fresh()

    def fresh(self):
        """(base, view): the same view of another base with other random bytes."""
        base = _filled(self.rng, self.shape, self.dtype, self.base_order)
        v = self.fn(base)
        assert v.size == 0 or np.shares_memory(v, base), self.name
        return base, v

    def expected_after_read(self, base: np.ndarray, values: np.ndarray, order: str) -> np.ndarray:
        """The base after numpy assigns `values` (1-D: the view's elements in `order`, as
        np.fromfile gives them) to the view."""
        out = base.copy(order="K")
        v = self.fn(out)
        v[...] = values.reshape(v.shape, order=effective_order(v, order))
        return out


def effective_order(v: np.ndarray, order: str) -> str:
    """'A' as pybuf_to_contiguous (and numpy's tobytes) decide it."""
    if order != "A":
        return order
    return "F" if v.flags.f_contiguous and not v.flags.c_contiguous else "C"


def numpy_bytes(a: np.ndarray, order: str) -> bytes:
    return a.tobytes(order=order)


# ----------------------------------------------------------------------------- helpers

@pytest.fixture(autouse=True)
def no_fd_leaked():
    """Every test closes the files, pipes and sockets it opens (its peers included)."""
    before = sorted(os.listdir("/proc/self/fd"))
    yield
    assert sorted(os.listdir("/proc/self/fd")) == before, "file descriptors leaked"


def check(lib, rc: int, expected: int = 0):
    assert rc == expected, (pc.status_name(rc), pc.last_error(lib))


def write_fd(lib, fd: int, a: np.ndarray, order: str, offset: int | None = None) -> int:
    with cb.buffer(a) as v:
        if offset is None:
            return lib.pybuf_write_fd(fd, ctypes.byref(v), order.encode())
        return lib.pybuf_pwrite_fd(fd, ctypes.byref(v), order.encode(), offset)


def read_fd(lib, fd: int, a: np.ndarray, order: str, offset: int | None = None) -> int:
    with cb.buffer(a, pc.PYBUF_FULL) as v:
        if offset is None:
            return lib.pybuf_read_fd(fd, ctypes.byref(v), order.encode())
        return lib.pybuf_pread_fd(fd, ctypes.byref(v), order.encode(), offset)


def step_until_done(lib, a: np.ndarray, fd: int, order: str, direction: int, writable: bool) -> int:
    """A pybuf_io transfer on a non-blocking fd, stepped when select.poll says it is ready.
    Returns the number of would-blocks."""
    flags = pc.PYBUF_FULL if writable else None
    event = select.POLLOUT if direction == pc.PYBUF_IO_WRITE else select.POLLIN
    poller = select.poll()
    poller.register(fd, event)
    blocked = 0
    with cb.buffer(a, flags) as v:
        io = ctypes.POINTER(pc.pybuf_io)()
        check(lib, lib.pybuf_io_new(fd, ctypes.byref(v), order.encode(), direction, -1, ctypes.byref(io)))
        try:
            total = lib.pybuf_io_total(io)
            assert total == a.nbytes
            while True:
                rc = lib.pybuf_io_step(io)
                if rc == 0:
                    break
                assert rc == pc.PYBUF_STATUS_WOULD_BLOCK, (pc.status_name(rc), pc.last_error(lib))
                done = lib.pybuf_io_done(io)
                assert 0 <= done < total
                blocked += 1
                assert poller.poll(20_000), "the fd never became ready"
            assert lib.pybuf_io_done(io) == total
            check(lib, lib.pybuf_io_step(io))  # finished: 0 again
        finally:
            lib.pybuf_io_free(io)
    return blocked


class Peer(threading.Thread):
    """Reads an fd to its end (`data` is what came), or writes `data` and closes it, a
    few bytes at a time."""

    def __init__(self, fd: int, data: bytes | None = None, chunk: int = 97, sock=None):
        super().__init__(daemon=True)
        self.fd, self.data, self.chunk, self.sock = fd, data, chunk, sock
        self.got = bytearray()
        self.error = None

    def run(self):
        rnd = random.Random(self.fd)
        try:
            if self.data is None:
                while True:
                    n = rnd.randint(1, self.chunk)
                    b = self.sock.recv(n) if self.sock else os.read(self.fd, n)
                    if not b:
                        break
                    self.got += b
            else:
                at = 0
                while at < len(self.data):
                    n = rnd.randint(1, self.chunk)
                    piece = self.data[at:at + n]
                    if self.sock:
                        self.sock.sendall(piece)
                    else:
                        while piece:
                            piece = piece[os.write(self.fd, piece):]
                    at += n
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.error = e
        finally:
            if self.sock:
                self.sock.close()
            else:
                os.close(self.fd)

    def finish(self):
        self.join(60)
        assert not self.is_alive(), "the peer thread hangs"
        assert self.error is None, self.error
        return bytes(self.got)


def channel(kind: str):
    """(our end, their end, their socket or None): a pipe or a socket pair; for a pipe our
    end is the write end (swap for reads)."""
    if kind == "pipe":
        r, w = os.pipe()
        return r, w
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return a, b


# ----------------------------------------------------------------------------- files

@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_write_fd_to_a_file_gives_numpys_bytes(lib, row, tmp_path):
    c = Case(row, SEED)
    a = c.view
    for order in ORDERS:
        want = numpy_bytes(a, order)
        path = tmp_path / f"pybuf.{order}"
        with open(path, "wb") as f:
            f.write(b"prefix")
            f.flush()
            check(lib, write_fd(lib, f.fileno(), a, order))
            assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == 6 + a.nbytes
        assert path.read_bytes() == b"prefix" + want, (c.name, order)
        if order in "CF":
            ref = tmp_path / f"numpy.{order}"
            np.ascontiguousarray(a if order == "C" else a.T).tofile(ref)
            assert path.read_bytes()[6:] == ref.read_bytes(), (c.name, order)
        # pwrite at an offset: the position stays where it was.
        with open(path, "r+b") as f:
            os.lseek(f.fileno(), 2, os.SEEK_SET)
            check(lib, write_fd(lib, f.fileno(), a, order, offset=6 + a.nbytes + 3))
            assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == 2
        data = path.read_bytes()
        assert data[6 + a.nbytes + 3:] == want
        assert lib.pybuf_last_errno() == 0


@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_read_fd_from_a_file_equals_numpys_assignment(lib, row, tmp_path):
    c = Case(row, SEED + 1)
    path = tmp_path / "data"
    for order in ORDERS:
        # The file: numpy's own bytes of some array of the view's shape, in `order`.
        src = _filled(c.rng, c.view.shape, c.dtype)
        eff = effective_order(c.view, order)
        np.ascontiguousarray(src if eff == "C" else src.T).tofile(path)
        values = np.fromfile(path, dtype=c.dtype)
        data = path.read_bytes()
        assert len(data) == c.view.nbytes
        base, dst = c.fresh()
        want = c.expected_after_read(base, values, order)
        with open(path, "rb") as f:
            check(lib, read_fd(lib, f.fileno(), dst, order))
            assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == len(data)
        assert base.tobytes(order="A") == want.tobytes(order="A"), (c.name, order)
        # The destination's elements are the file's, in the order's sequence.
        assert dst.tobytes(order=eff) == data, (c.name, order)
        # pread at an offset, the position untouched.
        base2, dst2 = c.fresh()
        want2 = c.expected_after_read(base2, values, order)
        with open(path, "r+b") as f:
            f.seek(0, os.SEEK_END)
            f.write(data)
            f.flush()
            os.lseek(f.fileno(), 1, os.SEEK_SET)
            check(lib, read_fd(lib, f.fileno(), dst2, order, offset=len(data)))
            assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == 1
        assert base2.tobytes(order="A") == want2.tobytes(order="A"), (c.name, order)


# ----------------------------------------------------------------------------- pipes, sockets

@pytest.mark.parametrize("kind", ["pipe", "socket"])
@pytest.mark.parametrize("nonblocking", [False, True], ids=["blocking", "nonblocking"])
@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_through_pipes_and_sockets_with_a_peer_thread(lib, row, kind, nonblocking):
    c = Case(row, SEED + 2)
    a = c.view
    chunk = max(97, a.nbytes // 3000)
    for order in ORDERS:
        # Write: the peer reads a few bytes at a time.
        ours, theirs = channel(kind)
        if kind == "pipe":
            ours, theirs = theirs, ours  # we write to the write end
            peer = Peer(theirs, chunk=chunk)
            our_fd = ours
        else:
            peer = Peer(theirs.fileno(), chunk=chunk, sock=theirs)
            our_fd = ours.fileno()
        peer.start()
        try:
            if nonblocking:
                os.set_blocking(our_fd, False)
                step_until_done(lib, a, our_fd, order, pc.PYBUF_IO_WRITE, writable=False)
            else:
                check(lib, write_fd(lib, our_fd, a, order))
        finally:
            ours.close() if kind == "socket" else os.close(ours)
        assert peer.finish() == numpy_bytes(a, order), (c.name, order)

        # Read: the peer writes numpy's bytes of an array of the view's shape, a few at a
        # time, then a trailer that must stay unread.
        src = _filled(c.rng, a.shape, c.dtype)
        data = numpy_bytes(src, effective_order(a, order))
        base, dst = c.fresh()
        want = c.expected_after_read(base, np.frombuffer(data, dtype=c.dtype), order)
        ours, theirs = channel(kind)
        trailer = b"trailer"
        if kind == "pipe":
            peer = Peer(theirs, data + trailer, chunk=chunk)
            our_fd = ours
        else:
            peer = Peer(theirs.fileno(), data + trailer, chunk=chunk, sock=theirs)
            our_fd = ours.fileno()
        peer.start()
        try:
            if nonblocking:
                os.set_blocking(our_fd, False)
                step_until_done(lib, dst, our_fd, order, pc.PYBUF_IO_READ, writable=True)
            else:
                check(lib, read_fd(lib, our_fd, dst, order))
            peer.finish()
            os.set_blocking(our_fd, True)
            rest = b""
            while True:
                b = os.read(our_fd, 100)
                if not b:
                    break
                rest += b
            assert rest == trailer, "pybuf read past the view's bytes"
        finally:
            ours.close() if kind == "socket" else os.close(ours)
        assert base.tobytes(order="A") == want.tobytes(order="A"), (c.name, order)


# ----------------------------------------------------------------------------- failures

def test_end_of_file_keeps_whole_elements_and_says_how_many_bytes(lib, tmp_path):
    a = np.arange(40, dtype=np.float64).reshape(8, 5)
    dst = np.full((5, 8), -1.0).T  # 8 x 5, F-contiguous: 'C' order scatters
    data = a.tobytes()[:100]  # 12 whole doubles and 4 bytes
    path = tmp_path / "short"
    path.write_bytes(data)
    with open(path, "rb") as f:
        rc = read_fd(lib, f.fileno(), dst, "C")
        assert rc == pc.PYBUF_STATUS_END_OF_FILE
        assert "after 100 of 320 bytes" in pc.last_error(lib)
        assert lib.pybuf_last_errno() == 0
    flat = dst.reshape(-1)  # a copy in C order
    np.testing.assert_array_equal(flat[:12], np.arange(12.0))
    assert flat[12] == -1.0  # the partly received element (staged: 8-byte runs)
    np.testing.assert_array_equal(flat[13:], -1.0)


def test_epipe_on_a_socket_whose_peer_is_gone(lib):
    a, b = socket.socketpair()
    b.close()
    x = np.arange(1000.0)[::2]
    try:
        rc = write_fd(lib, a.fileno(), x, "C")
        assert rc == pc.PYBUF_STATUS_IO, pc.last_error(lib)
        assert lib.pybuf_last_errno() == errno.EPIPE
        assert "of 4000 bytes moved" in pc.last_error(lib)
    finally:
        a.close()


def test_refusals(lib, tmp_path):
    x = np.zeros((4, 4))
    r, w = os.pipe()
    try:
        os.write(w, b"0123456789")
        ro = x.copy()
        ro.flags.writeable = False
        with cb.buffer(ro, pc.PYBUF_FULL_RO) as v:
            assert lib.pybuf_read_fd(r, ctypes.byref(v), b"C") == pc.PYBUF_STATUS_READ_ONLY
        bc = np.broadcast_to(np.zeros(4), (3, 4))
        with cb.buffer(bc, pc.PYBUF_FULL_RO) as v:
            v.readonly = 0  # a writable description of aliased elements
            assert lib.pybuf_read_fd(r, ctypes.byref(v), b"C") == pc.PYBUF_STATUS_INVALID_STRIDES
        assert lib.pybuf_read_fd(r, None, b"C") == pc.PYBUF_STATUS_NULL_POINTER
        assert read_fd(lib, r, x, "Q") == pc.PYBUF_STATUS_INVALID_ARGUMENT
        assert read_fd(lib, r, x, "C", offset=-1) == pc.PYBUF_STATUS_INVALID_ARGUMENT
        assert read_fd(lib, r, x, "C", offset=0) == pc.PYBUF_STATUS_IO
        assert lib.pybuf_last_errno() == errno.ESPIPE
        with cb.buffer(x) as v:
            io = ctypes.POINTER(pc.pybuf_io)()
            assert lib.pybuf_io_new(r, ctypes.byref(v), b"C", 5, -1, ctypes.byref(io)) \
                == pc.PYBUF_STATUS_INVALID_ARGUMENT
            assert not io
        os.close(w)
        w = -1
        assert os.read(r, 100) == b"0123456789", "a refused read took bytes"
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    closed_r, closed_w = os.pipe()
    os.close(closed_r)
    os.close(closed_w)
    assert write_fd(lib, closed_w, x, "C") == pc.PYBUF_STATUS_IO
    assert lib.pybuf_last_errno() == errno.EBADF


# ----------------------------------------------------------------------------- CPython's own

def test_testbuffer_views_against_cpython(lib, tmp_path):
    """_testbuffer's ndarrays (PIL-style suboffsets, zero and negative strides, Fortran,
    slices) against CPython's own PyBuffer_ToContiguous and PyBuffer_FromContiguous: the
    bytes pybuf_write_fd writes, and the memory after pybuf_read_fd."""
    import exporters as ex

    rnd = random.Random(SEED)
    path = tmp_path / "tb"
    counts = {"views": 0, "pil": 0, "reads": 0}
    for case in range(400):
        spec = ex.gen_testbuffer(rnd, pil=rnd.random() < 0.6)
        built = ex.build_testbuffer(spec)
        with cb.buffer(built.obj) as v:
            counts["views"] += 1
            counts["pil"] += bool(v.suboffsets)
            n = v.len
            shape = [v.shape[i] for i in range(v.ndim)] if v.shape else []
            strides = [v.strides[i] for i in range(v.ndim)] if v.strides else []
            aliased = any(s == 0 and d > 1 for s, d in zip(strides, shape)) and n > 0
            for order in ORDERS:
                want = ctypes.create_string_buffer(max(n, 1))
                assert cb.PyBuffer_ToContiguous(want, ctypes.byref(v), n, order.encode()) == 0
                with open(path, "wb") as f:
                    check(lib, lib.pybuf_write_fd(f.fileno(), ctypes.byref(v), order.encode()))
                assert path.read_bytes() == want.raw[:n], (case, spec, order)
                if v.readonly or aliased or built.region is None:
                    continue
                # Read: CPython's PyBuffer_FromContiguous on the memory, then pybuf's read
                # on the same memory restored; the whole region must end up the same.
                addr, size = built.region
                before = ctypes.string_at(addr, size)
                table = built.fixed()  # the pointer table of a PIL-style view
                data = rnd.randbytes(n)
                src = ctypes.create_string_buffer(data, max(n, 1))
                assert cb.PyBuffer_FromContiguous(ctypes.byref(v), src, n, order.encode()) == 0
                expected = ctypes.string_at(addr, size)
                ctypes.memmove(addr, before, size)
                path.write_bytes(data)
                with open(path, "rb") as f:
                    check(lib, lib.pybuf_read_fd(f.fileno(), ctypes.byref(v), order.encode()))
                assert ctypes.string_at(addr, size) == expected, (case, spec, order)
                assert built.fixed() == table, (case, spec, order)
                counts["reads"] += 1
    assert counts["pil"] > 50 and counts["reads"] > 300, counts
