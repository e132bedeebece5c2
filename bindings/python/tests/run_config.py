"""The settings of the randomized tests, from the environment (read once, at import).

- PYBUF_SEED:  the seed (default: a fresh one, printed in pytest's header, in the summary
               and in every mismatch).
- PYBUF_CASES: how many random views to compare (default DEFAULT_CASES); the differential
               run adds CASES / 10 hand-built multi-level suboffset views and CASES / 3
               random copy pairs.
- PYBUF_CASE:  run only this case number (of views, hand-built views and pairs), to
               reproduce a mismatch.
"""

from __future__ import annotations

import os
import secrets

DEFAULT_CASES = 12000
SEED = int(os.environ["PYBUF_SEED"]) if os.environ.get("PYBUF_SEED") else secrets.randbits(32)
CASES = int(os.environ.get("PYBUF_CASES", DEFAULT_CASES))
ONLY_CASE = int(os.environ["PYBUF_CASE"]) if os.environ.get("PYBUF_CASE") else None
