"""Messages between ``stratum run`` and its scripts: length-prefixed pickles.

Each script gets two pipes: it writes requests on one and reads replies on
the other. A message is a small dict (plain ``pickle``); what it carries from
user code (DataOps, data, fitted estimators, exceptions) travels as a
``cloudpickle`` payload inside it, so that a payload that cannot be pickled or
unpickled is one failed request, never a broken channel.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from typing import Any, BinaryIO

import cloudpickle

FDS_VARIABLE = "STRATUM_RUN_FDS"  # "<read fd>,<write fd>" of the script's channel

_HEADER = struct.Struct("<Q")


def send(stream: BinaryIO, message: dict) -> None:
    """Write one message and flush it."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: BinaryIO) -> dict:
    """Read one message; ``EOFError`` when the other side has closed."""
    header = _read(stream, _HEADER.size)
    return pickle.loads(_read(stream, _HEADER.unpack(header)[0]))


def _read(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def dumps(obj: Any) -> bytes:
    """Pickle user objects; modules the other process could not import by name
    (loaded from a file path, not on ``sys.path``) are pickled by value."""
    for module in _unreachable_modules():
        cloudpickle.register_pickle_by_value(module)
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return cloudpickle.loads(data)


def _unreachable_modules() -> list:
    """Top-level pure-Python modules that importing their name would not find
    (loaded with ``spec_from_file_location``, or from a directory that is no
    longer on ``sys.path``)."""
    roots = {os.path.realpath(p or os.getcwd()) for p in sys.path}
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if "." in name or name == "__main__" or not path or not path.endswith(".py"):
            continue
        parent = os.path.dirname(os.path.realpath(path))
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem == "__init__":
            parent, stem = os.path.split(parent)
        if getattr(module, "__name__", None) != name:
            continue
        if parent not in roots or stem != name:
            found.append(module)
    return found
