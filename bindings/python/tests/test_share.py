"""Shared segments and views handed between Python processes (issue 15), through the Cython
example module (pybuf_example: SharedArray, share_open, share_copy, send_view, recv_view,
unlink) and through ctypes.

- Two processes over `socket.socketpair()` (AF_UNIX, SOCK_STREAM and SOCK_SEQPACKET): a
  `spawn`ed peer process (nothing inherited: it has only the socket) receives views of numpy
  arrays in a pybuf segment (transposed, sliced, negative strides, 3-d permutations,
  structured dtypes and a field of one, unaligned, 0-d, empty), and sends its own; each side
  sees the other's writes through numpy. Read-only and sealed hand-overs are refused for
  writing in the receiver.
- multiprocessing.shared_memory both ways, and numpy's `np.load(..., mmap_mode="r+")` of a
  pybuf segment laid out as a .npy file, whose header bytes are np.save's.
- Lifetimes: a receiver's view outlives the sender's exporter; an anonymous segment's fd and
  mapping go with the last view; a named segment leaves /dev/shm when unlinked.
- A few messages made by hand from the wire format (the C tests send every malformed one).

The Cython module is built by `make cython` into build/cython. Every named segment is made
with a name unique to this process and unlinked by the `shm_name` fixture, even when a test
fails.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import gc
import importlib
import io
import multiprocessing
import os
import pickle
import socket
import struct
import sys
import traceback
from multiprocessing import resource_tracker, shared_memory
from pathlib import Path

import numpy as np
import pytest

import pybuf_ctypes as pc

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / "build" / "cython"
SHM = Path("/dev/shm")

if str(BUILD) not in sys.path:
    sys.path.insert(0, str(BUILD))  # also the peer's: spawn passes sys.path on


def _example():
    try:
        return importlib.import_module("pybuf_example")
    except ImportError as e:
        pytest.fail(f"the Cython module pybuf_example is not built in {BUILD} ({e}): run `make cython`")


@pytest.fixture(scope="module")
def ex():
    return _example()


# ---------------------------------------------------------------------------------------
# Arrays and the views handed over: name -> (dtype, shape of the whole array, the view).
# Both processes look a view up by name.

STRUCT = np.dtype([("a", "<i4"), ("b", "<f8"), ("c", "u1", (3,))])

VIEWS = {
    "whole": ("<f8", (6, 8), lambda a: a),
    "transposed": ("<f8", (6, 8), lambda a: a.T),
    "sliced": ("<f8", (6, 8), lambda a: a[1:5:2, 1::3]),
    "negative": ("<f8", (6, 8), lambda a: a[::-1, ::-2]),
    "permuted_3d": ("<i2", (3, 4, 5), lambda a: a.transpose(2, 0, 1)[:, ::-1, 1:]),
    "big_endian_column": (">f4", (7, 3), lambda a: a[:, 1]),
    "structured": (STRUCT, (5, 4), lambda a: a[::-2, ::3]),
    "structured_field": (STRUCT, (5, 4), lambda a: a["b"].T),
    "unaligned": ("u1", (83,), lambda a: np.ndarray((10,), "<f8", buffer=a, offset=1)),
    "zero_d": ("<f8", (6, 8), lambda a: a[2, 3, ...]),
    "empty": ("<f8", (6, 8), lambda a: a[3:3, ::-1]),
}


def view_of(name: str, a: np.ndarray) -> np.ndarray:
    return VIEWS[name][2](a)


def format_of(dtype) -> str:
    """The PEP 3118 format numpy gives for `dtype` (what a SharedArray is created with)."""
    return memoryview(np.empty(1, dtype)).format


def shared(ex, dtype, shape, seed: int, **kwargs):
    """A new SharedArray of `shape` x `dtype`, filled with random bytes, and its numpy view."""
    s = ex.SharedArray(shape, format_of(dtype), **kwargs)
    a = np.asarray(s)
    assert a.dtype == np.dtype(dtype) and a.shape == tuple(shape)
    a[...] = random_values(a.dtype, a.shape, seed)
    return s, a


def random_values(dtype, shape, seed: int) -> np.ndarray:
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    raw = np.random.default_rng(seed).integers(0, 256, size=n * dtype.itemsize, dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def same(x: np.ndarray, y: np.ndarray) -> bool:
    """Same dtype, shape and element bytes (NaNs included)."""
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


# ---------------------------------------------------------------------------------------
# The peer: a process started with `spawn`, which runs the functions below (module-level,
# so they reach it by name) with its end of the socket pair and a dict of what it holds.

CTX = multiprocessing.get_context("spawn")
TIMEOUT = 60


def _send(conn, obj):
    # protocol 5: numpy (2.4) pickles a non-native byte order with protocol 4 as native
    conn.send_bytes(pickle.dumps(obj, protocol=5))


def _peer_main(sock, conn):
    state = {"sock": sock}
    while True:
        msg = pickle.loads(conn.recv_bytes())
        if msg is None:
            return
        fn, args = msg
        try:
            _send(conn, ("ok", fn(state, *args)))
        except BaseException:
            _send(conn, ("error", traceback.format_exc()))


class Peer:
    def __init__(self, kind: int):
        self.kind = kind
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, kind)
        self.conn, their_conn = CTX.Pipe()
        self.proc = CTX.Process(target=_peer_main, args=(theirs, their_conn), daemon=True)
        self.proc.start()
        theirs.close()
        their_conn.close()

    def __call__(self, fn, *args):
        """Run fn(state, *args) in the peer; its result, or AssertionError with its traceback."""
        _send(self.conn, (fn, args))
        if not self.conn.poll(TIMEOUT):
            raise AssertionError(f"the peer did not answer {fn.__name__} within {TIMEOUT} s")
        status, value = pickle.loads(self.conn.recv_bytes())  # EOFError: the peer died
        if status == "error":
            raise AssertionError(f"in the peer, {fn.__name__}{args!r}:\n{value}")
        return value

    def close(self):
        try:
            _send(self.conn, None)
        except OSError:
            pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.sock.close()
        self.conn.close()


SOCKET_KINDS = {"stream": socket.SOCK_STREAM, "seqpacket": socket.SOCK_SEQPACKET}


@pytest.fixture(scope="module", params=list(SOCKET_KINDS))
def peer(request, ex):
    p = Peer(SOCKET_KINDS[request.param])
    yield p
    p.close()


# Run in the peer (the first argument is its state).

def p_recv(state, key, flags):
    """Receive a view; its contents, whether numpy may write it, and its layout."""
    r = _example().recv_view(state["sock"], **flags)
    state[key] = r
    a = np.asarray(r)
    return a.copy(), a.flags.writeable, r.layout


def p_assign(state, key, values):
    np.asarray(state[key])[...] = values


def p_read(state, key):
    return np.asarray(state[key]).copy()


def p_try_assign(state, key):
    """Try to write a received read-only view: the exception numpy raises, as text."""
    a = np.asarray(state[key])
    try:
        a[...] = 0
    except (ValueError, BufferError) as e:
        return type(e).__name__, str(e), memoryview(state[key]).readonly
    return None


def p_create_and_send(state, key, name, seed):
    """Make a SharedArray, send the view `name` of it; the view's contents."""
    dtype, shape, _ = VIEWS[name]
    s, a = shared(_example(), dtype, shape, seed)
    state[key] = s
    v = view_of(name, a)
    _example().send_view(state["sock"], v)
    return v.copy()


def p_read_view(state, key, name):
    return view_of(name, np.asarray(state[key])).copy()


def p_drop(state, *keys):
    """Forget what the peer holds; then the peer's fds and mappings of memfds."""
    for k in keys:
        state.pop(k, None)
    gc.collect()
    return memfds()


def p_recv_status(state, flags):
    """Receive a view expecting a refusal: (status, message)."""
    try:
        _example().recv_view(state["sock"], **flags)
    except _example().PybufError as e:
        return e.status, str(e)
    return None


def p_send_bytes(state, data):
    state["sock"].sendall(data)


def memfds() -> tuple[int, int]:
    """(fds, mappings) of memfd segments in this process."""
    fds = 0
    for e in os.listdir("/proc/self/fd"):
        try:
            fds += os.readlink(f"/proc/self/fd/{e}").startswith("/memfd:")
        except FileNotFoundError:  # the fd listdir read with
            pass
    with open("/proc/self/maps") as f:
        maps = sum(1 for line in f if "/memfd:" in line)
    return fds, maps


# ---------------------------------------------------------------------------------------
# Two processes: views both ways, each side seeing the other's writes


@pytest.mark.parametrize("name", list(VIEWS))
def test_parent_view_to_peer(ex, peer, name):
    dtype, shape, _ = VIEWS[name]
    s, a = shared(ex, dtype, shape, seed=1)
    v = view_of(name, a)
    ex.send_view(peer.sock, v)
    got, writeable, (fmt, itemsize, rshape, rstrides, readonly) = peer(p_recv, "v", {})
    assert same(got, v)
    assert writeable and not readonly
    m = memoryview(v)  # the view as sent (numpy exports an empty array with C strides)
    assert (rshape, rstrides, itemsize, fmt) == (m.shape, m.strides, m.itemsize, m.format)
    # the peer writes: the parent sees it in the view, and nothing else of the array moved
    before = a.copy()
    new = random_values(v.dtype, v.shape, seed=2)
    peer(p_assign, "v", new)
    assert same(v, new)
    expected = before.copy()
    view_of(name, expected)[...] = new
    assert same(a, expected)
    # the parent writes: the peer sees it
    newer = random_values(v.dtype, v.shape, seed=3)
    v[...] = newer
    assert same(peer(p_read, "v"), newer)
    peer(p_drop, "v")


@pytest.mark.parametrize("name", list(VIEWS))
def test_peer_view_to_parent(ex, peer, name):
    sent = peer(p_create_and_send, "s", name, 4)
    r = ex.recv_view(peer.sock)
    v = np.asarray(r)
    assert same(v, sent)
    assert v.flags.writeable
    new = random_values(v.dtype, v.shape, seed=5)
    v[...] = new
    assert same(peer(p_read_view, "s", name), new)
    del v, r
    peer(p_drop, "s")


def test_empty_view_starting_before_its_segment(ex, peer):
    """CPython starts an empty negative-step slice one element before element 0, outside
    the segment: it goes all the same (with a one-byte segment of its own)."""
    s = ex.SharedArray((8,), "<d")
    e = memoryview(s)[-100::-1]
    assert (e.shape, e.strides) == ((0,), (-8,))
    ex.send_view(peer.sock, e)
    got, writeable, layout = peer(p_recv, "e", {})
    assert got.shape == (0,) and writeable and layout == ("<d", 8, (0,), (-8,), False)
    peer(p_drop, "e")


def test_forwarding_a_received_view(ex, peer):
    """A received view goes on to a third process (here: back to the peer) as it is."""
    s, a = shared(ex, "<f8", (6, 8), seed=6)
    ex.send_view(peer.sock, a[1:, ::2])
    peer(p_recv, "first", {})
    peer(p_forward, "first")
    r = ex.recv_view(peer.sock)
    back = np.asarray(r)
    assert same(back, a[1:, ::2].T)
    back[0, 0] = 42.0
    assert a[1, 0] == 42.0  # the same memory, three exporters later
    del back, r
    peer(p_drop, "first")


def p_forward(state, key):
    _example().send_view(state["sock"], np.asarray(state[key]).T)


# ---------------------------------------------------------------------------------------
# Read-only hand-over, sealing


def test_readonly_handover(ex, peer):
    s, a = shared(ex, "<f8", (6, 8), seed=7)
    ex.send_view(peer.sock, a.T, readonly=True)
    got, writeable, layout = peer(p_recv, "ro", {})
    assert same(got, a.T) and not writeable and layout[4]
    kind, message, mv_readonly = peer(p_try_assign, "ro")
    assert kind == "ValueError" and "read-only" in message and mv_readonly
    a[0, 0] = -1.0  # the sender may still write; the peer sees it
    assert peer(p_read, "ro")[0, 0] == -1.0
    peer(p_drop, "ro")


def test_readonly_numpy_array_is_handed_over_readonly(ex, peer):
    s, a = shared(ex, "<i2", (3, 4, 5), seed=8)
    v = a[:, 1]
    v.flags.writeable = False  # the view's readonly flag travels
    ex.send_view(peer.sock, v)
    _, writeable, layout = peer(p_recv, "ro", {})
    assert not writeable and layout[4]
    assert peer(p_try_assign, "ro")[0] == "ValueError"
    peer(p_drop, "ro")


def test_receiver_asks_for_readonly(ex, peer):
    s, a = shared(ex, "<f8", (6, 8), seed=9)
    ex.send_view(peer.sock, a)
    _, writeable, _ = peer(p_recv, "ro", {"readonly": True})
    assert not writeable
    assert peer(p_try_assign, "ro")[0] == "ValueError"
    peer(p_drop, "ro")


def test_sealed_handover(ex, peer):
    s, a = shared(ex, "<f8", (6, 8), seed=10)
    with pytest.raises(ex.PybufError) as err:
        s.seal()  # `a` is a live view
    assert err.value.status == pc.PYBUF_STATUS_EXPORTS_EXIST
    values = a.copy()
    del a
    s.seal()
    b = np.asarray(s)
    assert not b.flags.writeable and same(b, values)
    ex.send_view(peer.sock, b[::-1])
    got, writeable, _ = peer(p_recv, "sealed", {"sealed": True})
    assert same(got, values[::-1]) and not writeable
    assert peer(p_try_assign, "sealed")[0] == "ValueError"
    peer(p_drop, "sealed")


def test_unsealed_refused_when_sealed_required(ex, peer):
    s, a = shared(ex, "<f8", (6, 8), seed=11)
    base = peer(p_drop)
    ex.send_view(peer.sock, a, readonly=True)  # read-only, but not sealed: it can change
    status, message = peer(p_recv_status, {"sealed": True})
    assert status == pc.PYBUF_STATUS_INVALID_MESSAGE, message
    assert peer(p_drop) == base  # the refused fd was closed, nothing mapped


def test_named_segment_needs_unsealed(ex, peer, shm_name):
    """A named segment cannot be sealed against shrinking: the receiver takes it only with
    unsealed=True (accepting that a peer that shrinks it makes accesses SIGBUS)."""
    name = shm_name()
    s = ex.SharedArray((6, 8), "<d", name=name)
    a = np.asarray(s)
    a[...] = 3.0
    ex.send_view(peer.sock, a)
    status, message = peer(p_recv_status, {})
    assert status == pc.PYBUF_STATUS_INVALID_MESSAGE, message
    ex.send_view(peer.sock, a.T)
    got, writeable, _ = peer(p_recv, "named", {"unsealed": True})
    assert same(got, a.T) and writeable
    peer(p_assign, "named", np.full((8, 6), 4.0))
    assert (a == 4.0).all()
    peer(p_drop, "named")
    with pytest.raises(ex.PybufError) as err:
        s.seal()
    assert err.value.status == pc.PYBUF_STATUS_INVALID_ARGUMENT


# ---------------------------------------------------------------------------------------
# Views of other memory; copies


def test_view_of_other_memory_is_refused(ex, peer):
    for obj in (np.arange(12.0).reshape(3, 4), bytearray(16), b"bytes"):
        with pytest.raises(ex.PybufError) as err:
            ex.send_view(peer.sock, obj)
        assert err.value.status == pc.PYBUF_STATUS_NOT_SHARED, str(err.value)


def test_send_copy(ex, peer):
    """copy=True: a view of other memory arrives as a copy (writes are not shared)."""
    plain = np.arange(48.0).reshape(6, 8)
    ex.send_view(peer.sock, plain[::-1, 1::2], copy=True)
    got, writeable, _ = peer(p_recv, "copy", {})
    assert same(got, plain[::-1, 1::2]) and writeable
    peer(p_assign, "copy", np.zeros((6, 4)))
    assert plain[0, 1] == 1.0
    peer(p_drop, "copy")


def test_send_copy_of_a_suboffset_view(ex, peer):
    tb = pytest.importorskip("_testbuffer")
    x = tb.ndarray(list(range(24)), shape=[4, 6], format="<i", flags=tb.ND_PIL)
    with pytest.raises(ex.PybufError) as err:
        ex.send_view(peer.sock, x)
    assert err.value.status in (pc.PYBUF_STATUS_INVALID_SUBOFFSETS, pc.PYBUF_STATUS_NOT_SHARED)
    ex.send_view(peer.sock, x, copy=True)
    got, _, _ = peer(p_recv, "pil", {})
    assert got.tolist() == x.tolist()
    peer(p_drop, "pil")


@pytest.mark.parametrize("order", ["C", "F", "A"])
def test_share_copy(ex, order):
    src = np.asfortranarray(np.arange(24.0).reshape(4, 6))[::-1]
    s = ex.share_copy(src, order)
    c = np.asarray(s)
    assert same(c, src)
    want_f = order == "F"  # 'A': F only for an F-contiguous source (this one is not)
    assert c.flags.f_contiguous == want_f and c.flags.c_contiguous == (not want_f)
    fsrc = np.asfortranarray(src)
    f = np.asarray(ex.share_copy(fsrc, order))
    assert same(f, fsrc) and f.flags.f_contiguous == (order != "C")


def test_dlpack_of_a_shared_array(ex):
    s, a = shared(ex, "<f8", (6, 8), seed=12)
    d = np.from_dlpack(s)
    assert same(d, a)
    d[1, 2] = 7.0
    assert a[1, 2] == 7.0


# ---------------------------------------------------------------------------------------
# Lifetimes


def test_receiver_outlives_sender(ex, peer):
    # the parent's exporter and arrays go first; the peer's view stays valid
    gc.collect()
    base, peer_base = memfds(), peer(p_drop)
    s, a = shared(ex, "<f8", (6, 8), seed=13)
    ex.send_view(peer.sock, a[:, ::-1])
    values = a[:, ::-1].copy()
    peer(p_recv, "kept", {})
    del s, a
    gc.collect()
    assert memfds() == base  # the parent let go of the segment
    assert same(peer(p_read, "kept"), values)
    peer(p_assign, "kept", np.ones((6, 8)))
    assert (peer(p_read, "kept") == 1.0).all()
    assert peer(p_drop, "kept") == peer_base  # the last one let go too: the memfd is freed

    # and the other way: the peer drops its SharedArray before the parent looks
    sent = peer(p_create_and_send, "s", "transposed", 14)
    r = ex.recv_view(peer.sock)
    assert peer(p_drop, "s") == peer_base
    v = np.asarray(r)
    assert same(v, sent)
    v[...] = 2.0
    assert (np.asarray(r) == 2.0).all()
    del v, r
    gc.collect()
    assert memfds() == base


def test_views_keep_the_segment(ex):
    gc.collect()
    base = memfds()
    s, a = shared(ex, "<f8", (6, 8), seed=15)
    assert memfds() == (base[0] + 1, base[1] + 1)
    t = a.T
    del s, a
    gc.collect()
    assert memfds()[0] == base[0] + 1  # the view `t` holds the exporter's fd and mapping
    t[0, 0] = 1.0
    del t
    gc.collect()
    assert memfds() == base


def test_no_fd_or_mapping_left(ex):
    """Many hand-overs in one process (both ends here): nothing accumulates."""
    a_sock, b_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    gc.collect()
    before = (len(os.listdir("/proc/self/fd")), memfds())
    for i in range(50):
        s, a = shared(ex, "<f8", (6, 8), seed=i)
        ex.send_view(a_sock, a[i % 6])
        r = ex.recv_view(b_sock)
        assert same(np.asarray(r), a[i % 6])
        del s, a, r
    gc.collect()
    assert (len(os.listdir("/proc/self/fd")), memfds()) == before
    a_sock.close()
    b_sock.close()


# ---------------------------------------------------------------------------------------
# Non-blocking sockets, a closed peer


@pytest.mark.parametrize("kind", list(SOCKET_KINDS))
def test_nonblocking_and_closed(ex, kind):
    a_sock, b_sock = socket.socketpair(socket.AF_UNIX, SOCKET_KINDS[kind])
    b_sock.setblocking(False)
    with pytest.raises(ex.PybufError) as err:
        ex.recv_view(b_sock)
    assert err.value.status == pc.PYBUF_STATUS_WOULD_BLOCK
    s, a = shared(ex, "<f8", (4, 5), seed=16)
    ex.send_view(a_sock, a.T)
    r = ex.recv_view(b_sock)  # the whole message was there: nothing was lost to WOULD_BLOCK
    assert same(np.asarray(r), a.T)
    a_sock.close()
    with pytest.raises(ex.PybufError) as err:
        ex.recv_view(b_sock)
    assert err.value.status == pc.PYBUF_STATUS_END_OF_FILE
    with pytest.raises(ex.PybufError) as err:
        ex.send_view(b_sock, a)
    assert err.value.status == pc.PYBUF_STATUS_IO and err.value.errno == errno.EPIPE
    b_sock.close()


# ---------------------------------------------------------------------------------------
# multiprocessing.shared_memory, both ways


_COUNTER = iter(range(1 << 30))


@pytest.fixture
def shm_name():
    """A factory of segment names unique to this process; every one is unlinked afterwards."""
    names = []

    def make(tag: str = "t") -> str:
        names.append(f"pybuf-test-{os.getpid()}-{next(_COUNTER)}-{tag}")
        return names[-1]

    yield make
    for n in names:
        try:
            os.unlink(SHM / n)
        except FileNotFoundError:
            pass


def attach(name: str) -> shared_memory.SharedMemory:
    """SharedMemory(name=...) of a segment this process did not create with SharedMemory."""
    shm = shared_memory.SharedMemory(name=name)
    # Python 3.11 registers even a segment it only attaches to with the resource_tracker
    # (3.13: unless track=False), which would unlink it at exit and warn of a "leaked
    # shared_memory object": pybuf owns it, so unregister it
    resource_tracker.unregister(shm._name, "shared_memory")
    return shm


@pytest.mark.parametrize("slash", ["", "/"])
def test_python_segment_opens_in_pybuf(ex, slash):
    shm = shared_memory.SharedMemory(create=True, size=64 + 12 * 10 * 8 + 100)
    try:
        a = np.ndarray((12, 10), "<f8", buffer=shm.buf, offset=64)
        a[...] = np.arange(120.0).reshape(12, 10)
        s = ex.share_open(slash + shm.name, shape=(10, 12), format="<d", strides=(8, 80), offset=64)
        p = np.asarray(s)
        assert same(p, a.T)
        p[3, 4] = -1.0
        assert a[4, 3] == -1.0
        a[0, 1] = -2.0
        assert p[1, 0] == -2.0
        r = np.asarray(ex.share_open(shm.name, shape=(12,), format="<d", strides=(-80,),
                                     offset=64 + 11 * 80, readonly=True))
        assert not r.flags.writeable and same(r, a[::-1, 0])
        rows = (shm.size - 64) // 80 + 1  # one row more than fits in the segment
        with pytest.raises(ex.PybufError) as err:
            ex.share_open(shm.name, shape=(rows, 10), format="<d", offset=64)
        assert "outside" in str(err.value)
        del p, r, s
    finally:
        del a
        gc.collect()
        shm.close()
        shm.unlink()


def test_python_segment_opens_through_ctypes(lib):
    """The same through the C API (pybuf_ctypes): pybuf_share_open, pybuf_share_fd."""
    shm = shared_memory.SharedMemory(create=True, size=4096)
    e = ctypes.POINTER(pc.pybuf_exporter)()
    try:
        a = np.ndarray((8, 16), "<i4", buffer=shm.buf)
        a[...] = np.arange(128).reshape(8, 16)
        shape = (pc.pybuf_ssize_t * 2)(16, 8)
        strides = (pc.pybuf_ssize_t * 2)(4, 64)
        d = pc.pybuf_exporter_desc(buf=None, len=-1, offset=0, readonly=0, format=b"<i",
                                   itemsize=0, ndim=2, shape=shape, strides=strides)
        rc = lib.pybuf_share_open(shm.name.encode(), ctypes.byref(d), 0, ctypes.byref(e))
        assert rc == 0, pc.last_error(lib)
        fd = ctypes.c_int(-1)
        assert lib.pybuf_share_fd(e, ctypes.byref(fd)) == 0
        assert os.fstat(fd.value).st_size == 4096
        v = pc.pybuf_buffer()
        assert lib.pybuf_exporter_get_buffer(e, ctypes.byref(v), pc.PYBUF_RECORDS_RO) == 0
        out = ctypes.create_string_buffer(v.len)
        assert lib.pybuf_to_contiguous(out, ctypes.byref(v), v.len, b"C") == 0
        assert out.raw == a.T.tobytes()
        lib.pybuf_release(ctypes.byref(v))
        assert lib.pybuf_share_seal(e) == pc.PYBUF_STATUS_INVALID_ARGUMENT  # named: no seals
        del a
    finally:
        lib.pybuf_exporter_free(e)
        shm.close()
        shm.unlink()


@pytest.mark.parametrize("order", ["C", "F"])
def test_pybuf_segment_opens_in_python(ex, shm_name, order):
    name = shm_name()
    strides = (8 * 10, 8) if order == "C" else (8, 8 * 12)
    s = ex.SharedArray((12, 10), "<d", strides=strides, name=name)
    p = np.asarray(s)
    assert p.strides == strides
    p[...] = np.arange(120.0).reshape(12, 10)
    shm = attach(name)
    try:
        assert shm.size >= 12 * 10 * 8
        q = np.ndarray((12, 10), "<f8", buffer=shm.buf, strides=strides)
        assert same(q, p)
        q[5, 6] = -3.0
        assert p[5, 6] == -3.0
        p[...] = 1.5
        assert (q == 1.5).all()
        del q
    finally:
        shm.close()
    with pytest.raises(ex.PybufError) as err:  # the name is taken
        ex.SharedArray((4,), "<d", name=name)
    assert err.value.status == pc.PYBUF_STATUS_IO and err.value.errno == errno.EEXIST


def test_unlink(ex, shm_name):
    name = shm_name()
    s = ex.SharedArray((16,), "<q", name="/" + name)  # "/name" and "name" are one segment
    assert (SHM / name).exists()
    p = np.asarray(s)
    p[...] = np.arange(16)
    ex.unlink(name)
    assert not (SHM / name).exists()
    p[3] = 99  # the memory stays while it is mapped
    assert p.tolist() == [0, 1, 2, 99] + list(range(4, 16))
    with pytest.raises(ex.PybufError) as err:
        ex.unlink(name)
    assert err.value.status == pc.PYBUF_STATUS_IO and err.value.errno == errno.ENOENT
    with pytest.raises(ex.PybufError):
        ex.share_open(name, shape=(16,), format="<q")


# ---------------------------------------------------------------------------------------
# The .npy layout: np.load(mmap_mode="r+") of a pybuf segment


NPY_CASES = {
    "f8_c": ("<f8", (12, 10), "C"),
    "f8_f": ("<f8", (3, 5, 7), "F"),
    "i2_1d": ("<i2", (33,), "C"),
    "u1_empty": ("u1", (0, 4), "C"),
    "big_endian_f": (">f4", (6, 9), "F"),
    "structured": (STRUCT, (7,), "C"),
    "scalar": ("<c16", (), "C"),
}


def contiguous_strides(dtype, shape, order):
    return np.empty(shape, dtype, order=order).strides if shape else ()


@pytest.mark.parametrize("case", list(NPY_CASES))
def test_npy_layout(ex, shm_name, case):
    dtype, shape, order = NPY_CASES[case]
    dtype = np.dtype(dtype)
    name = shm_name(case)
    s = ex.SharedArray(shape, format_of(dtype), strides=contiguous_strides(dtype, shape, order),
                       name=name, npy=True)
    p = np.asarray(s)
    values = random_values(dtype, shape, seed=17)
    p[...] = values
    m = np.load(SHM / name, mmap_mode="r+")
    assert m.dtype == dtype and m.shape == shape and same(m, values)
    if len(shape) > 1 and m.size:
        assert m.flags.f_contiguous == (order == "F") and p.flags.f_contiguous == (order == "F")
    # the same memory: writes both ways
    if m.size:
        m.flat[m.size - 1] = random_values(dtype, (), seed=18)
        assert same(p, m)
        p.flat[0] = random_values(dtype, (), seed=19)
        assert same(m, p)
    # the segment is the file np.save writes for this array, header and all
    expected = io.BytesIO()
    np.save(expected, np.asarray(m).copy(order="K"))
    expected = expected.getvalue()
    raw = (SHM / name).read_bytes()
    header_len = 10 + int.from_bytes(expected[8:10], "little")
    assert raw[:header_len] == expected[:header_len]
    assert raw == expected
    # opened by name, the header says it all
    o = np.asarray(ex.share_open(name, npy=True))
    assert same(o, m) and o.strides == m.strides
    del m


def test_numpy_npy_in_dev_shm_opens_in_pybuf(ex, shm_name):
    """The other way: a .npy file numpy made in /dev/shm is a named segment pybuf opens."""
    name = shm_name()
    m = np.lib.format.open_memmap(SHM / name, mode="w+", dtype="<f4", shape=(9, 4), fortran_order=True)
    m[...] = np.arange(36, dtype="<f4").reshape(9, 4)
    m.flush()
    s = ex.share_open(name, npy=True)
    p = np.asarray(s)
    assert same(p, np.asarray(m)) and p.flags.f_contiguous
    p[8, 3] = -1
    assert m[8, 3] == -1
    del m


def test_npy_layout_needs_a_contiguous_array(ex, shm_name):
    with pytest.raises(ex.PybufError):
        ex.SharedArray((4, 6), "<d", strides=(8, 64), name=shm_name(), npy=True)


# ---------------------------------------------------------------------------------------
# Messages made by hand (the wire format of docs), from Python's own memfd


def wire(shape, strides, fmt: bytes, offset: int, itemsize: int, flags: int = 0,
         version: int = 1) -> bytes:
    ndim = len(shape)
    head = struct.pack("<4sHHIIIIqQ", b"PYBV", version, flags, 40 + 16 * ndim + len(fmt), ndim,
                       len(fmt), 0, itemsize, offset)
    return head + struct.pack(f"<{ndim}q{ndim}q", *shape, *strides) + fmt


@pytest.fixture
def python_memfd():
    """A memfd made by Python, 4096 bytes of float64 0..511, sealed against shrinking."""
    fd = os.memfd_create("pybuf-test", os.MFD_ALLOW_SEALING)
    os.write(fd, np.arange(512, dtype="<f8").tobytes())
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
    yield fd
    os.close(fd)


def test_hand_made_message(ex, python_memfd):
    """A sender that is not pybuf: a message written from the spec, with Python's memfd."""
    a_sock, b_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    socket.send_fds(a_sock, [wire((4, 3), (8, -32), b"<d", 8 * 10, 8)], [python_memfd])
    v = np.asarray(ex.recv_view(b_sock))
    assert same(v, np.arange(512.0)[10 + np.arange(4)[:, None] - 4 * np.arange(3)[None, :]])
    v[0, 0] = -5.0
    assert os.pread(python_memfd, 8, 80) == struct.pack("<d", -5.0)
    a_sock.close()
    b_sock.close()


def test_hand_made_refusals(ex, python_memfd):
    a_sock, b_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    unsealed = os.memfd_create("pybuf-test-unsealed")
    os.ftruncate(unsealed, 4096)
    read_only = os.open(f"/proc/self/fd/{python_memfd}", os.O_RDONLY)
    gc.collect()  # no finalizer of an earlier test's object closes an fd in between
    gc.disable()
    before = (sorted(os.listdir("/proc/self/fd")), memfds()[1])
    good = wire((4,), (8,), b"<d", 0, 8)
    cases = [
        ("no fd", good, []),
        ("two fds", good, [python_memfd, python_memfd]),
        ("a pipe", good, [r]),
        ("past the end", wire((4,), (8,), b"<d", 4096 - 8, 8), [python_memfd]),
        ("negative stride below 0", wire((4,), (-8,), b"<d", 16, 8), [python_memfd]),
        ("itemsize disagrees", wire((4,), (8,), b"<d", 0, 4), [python_memfd]),
        ("ndim 65", wire((1,) * 65, (8,) * 65, b"<d", 0, 8), [python_memfd]),
        ("truncated", good[:-1], [python_memfd]),
        ("unknown flag", wire((4,), (8,), b"<d", 0, 8, flags=2), [python_memfd]),
        ("not sealed against shrinking", good, [unsealed]),
        ("writable view over a read-only fd", good, [read_only]),
        ("ten fds (MSG_CTRUNC)", good, [python_memfd] * 10),
        ("version 2", wire((4,), (8,), b"<d", 0, 8, version=2), [python_memfd]),
    ]
    try:
        for what, msg, fds in cases:
            socket.send_fds(a_sock, [msg], fds)
            with pytest.raises(ex.PybufError) as err:
                ex.recv_view(b_sock)
            status = pc.PYBUF_STATUS_UNSUPPORTED_VERSION if what == "version 2" else pc.PYBUF_STATUS_INVALID_MESSAGE
            assert err.value.status == status, (what, str(err.value))
            assert (sorted(os.listdir("/proc/self/fd")), memfds()[1]) == before, what
        socket.send_fds(a_sock, [good], [unsealed])
        assert np.asarray(ex.recv_view(b_sock, unsealed=True)).shape == (4,)
        socket.send_fds(a_sock, [wire((4,), (8,), b"<d", 0, 8, flags=1)], [read_only])
        assert not np.asarray(ex.recv_view(b_sock)).flags.writeable
    finally:
        gc.enable()
        for fd in (r, w, unsealed, read_only):
            os.close(fd)
        a_sock.close()
        b_sock.close()
