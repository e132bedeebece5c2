"""The numpy rank of the MPMD test (mpmd_c.c is the other):

    mpirun -np 1 ./mpmd_c : -np 1 python mpmd_numpy.py

Receives the C rank's transposed view into a C-contiguous array, and its reversed view of
packed structs into a structured array (with the MPI datatype mpi4py's dtlib makes for the
dtype); then sends a contiguous array that the C rank receives into a strided view.
"""

import numpy as np
from mpi4py import MPI
from mpi4py.util.dtlib import from_numpy_dtype

comm = MPI.COMM_WORLD
assert comm.Get_rank() == 1 and comm.Get_size() == 2, "run as rank 1 of 2"

m = np.arange(300)[:, None] * 1000.0 + np.arange(200)[None, :]
got = np.empty((200, 300))
comm.Recv([got, MPI.DOUBLE], source=0, tag=1)
assert np.array_equal(got, m.T), "m.T differs"

rec = np.dtype([("b", "f8"), ("a", "i4"), ("c", "i4")])
want = np.zeros(1000, rec)
want["b"] = np.arange(1000) * 0.5
want["a"] = np.arange(1000)
want["c"] = -np.arange(1000)
recs = np.empty(1000, rec)
t = from_numpy_dtype(rec).Commit()
comm.Recv([recs, t], source=0, tag=2)
t.Free()
assert np.array_equal(recs, want[::-1]), "recs[::-1] differs"

comm.Send(np.arange(60 * 70, dtype="f8").reshape(60, 70), dest=0, tag=3)
print("numpy rank: received m.T and recs[::-1], sent a 60 x 70 array")
