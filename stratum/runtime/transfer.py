"""Moving values between processes without needless copies.

A value is pickled with protocol 5: the pickle stream holds the structure,
the large buffers (numpy arrays, the blocks of pandas frames) are taken out of
band. When they are large they are written once into a file in shared memory
(``/dev/shm``); a reader maps that file copy-on-write and unpickles views of
it, so the buffers are never copied again, whoever reads them and however
many times. Small values travel inline, in the pickle stream.
"""

from __future__ import annotations

import mmap
import os
import pickle
import tempfile
import uuid
from typing import Any

import cloudpickle

from .store import Handle

# Below this many out-of-band bytes, a value travels inline.
SHARED_THRESHOLD = 1 << 20
_ALIGN = 64


def shared_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def file_prefix(owner: str) -> str:
    """Files written for the run ``owner`` (see ``new_owner``)."""
    return f"stratum-{owner}-"


def new_owner() -> str:
    """A name for the files of one run: the driver's pid and a random part."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def encode(value: Any, owner: str) -> tuple:
    """``("inline", pickle)`` or ``("shared", path, pickle, spans, nbytes)``."""
    buffers: list[pickle.PickleBuffer] = []
    data = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    total = sum(r.nbytes for r in raws)
    if total < SHARED_THRESHOLD:
        if not raws:
            return ("inline", data)
        return ("inline", cloudpickle.dumps(value, protocol=5))
    path = os.path.join(shared_dir(), file_prefix(owner) + uuid.uuid4().hex)
    spans = []
    try:
        with open(path, "wb") as f:
            offset = 0
            for raw in raws:
                pad = -offset % _ALIGN
                if pad:
                    f.write(b"\0" * pad)
                    offset += pad
                f.write(raw)
                spans.append((offset, raw.nbytes))
                offset += raw.nbytes
    except OSError:  # no room in shared memory: send it inline
        _remove(path)
        return ("inline", cloudpickle.dumps(value, protocol=5))
    return ("shared", path, data, tuple(spans), total)


def decode(payload: tuple) -> Any:
    """The value of ``encode``'s payload (views of shared memory, not copies)."""
    if payload[0] == "inline":
        return pickle.loads(payload[1])
    _, path, data, spans, _ = payload
    return _load(_map(path), data, spans)


def _map(path: str) -> mmap.mmap:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return mmap.mmap(-1, 1)
        # Copy-on-write: readers may write into what they got (pages are
        # copied then), the file and the other readers never see it.
        return mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)


def _load(mapped: mmap.mmap, data: bytes, spans: tuple) -> Any:
    view = memoryview(mapped)
    return pickle.loads(data, buffers=[view[o : o + n] for o, n in spans])


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class SharedValue(Handle):
    """A value whose buffers live in a shared-memory file, held by the driver.

    The driver maps the file when it receives it (so the value survives the
    file's removal) and hands the file's name to the workers that read it.
    """

    def __init__(self, payload: tuple):
        _, self.path, self.data, self.spans, self.nbytes = payload
        self.mapped: mmap.mmap | None = _map(self.path)

    def load(self) -> Any:
        return _load(self.mapped, self.data, self.spans)

    def payload(self, owner: str) -> tuple:
        """What a worker needs to read the value (re-exported if the file
        was removed, e.g. at the end of an earlier run)."""
        if not os.path.exists(self.path):
            path = os.path.join(shared_dir(), file_prefix(owner) + uuid.uuid4().hex)
            with open(path, "wb") as f:
                f.write(self.mapped)
            self.path = path
        return ("shared", self.path, self.data, self.spans, self.nbytes)

    def discard(self) -> None:
        _remove(self.path)
        self.mapped = None


def remove_files(owner: str) -> int:
    """Remove the shared-memory files of the run ``owner``."""
    prefix = file_prefix(owner)
    removed = 0
    folder = shared_dir()
    for name in os.listdir(folder):
        if name.startswith(prefix):
            _remove(os.path.join(folder, name))
            removed += 1
    return removed
