"""What every test that starts a Ray cluster shares: one cluster at a time on the machine (two
starting together on 2 busy cores miss Ray's fixed 30 s startup limit), and a short folder of
its own (Ray's socket paths must stay under 108 bytes), removed even when the test fails."""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK = Path(tempfile.gettempdir()) / "lever-ray-tests.lock"


@contextmanager
def one_ray_at_a_time() -> Iterator[None]:
    """Hold the machine-wide Ray lock (a file lock: it holds across xdist workers)."""
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def ray_tmpdir() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
