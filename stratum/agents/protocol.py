"""Messages between ``stratum run`` and its scripts: length-prefixed pickles
(a message's large byte strings follow it as they are).

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
# A message's byte strings of at least this size (payloads: fitted
# estimators, outputs) travel after it as they are, not copied into its pickle.
_RAW_BYTES = 64 << 10


def send(stream: BinaryIO, message: dict) -> None:
    """Write one message and flush it."""
    raw = {
        k: v for k, v in message.items() if type(v) is bytes and len(v) >= _RAW_BYTES
    }
    rest = {k: v for k, v in message.items() if k not in raw}
    data = pickle.dumps(
        (rest, [(k, len(v)) for k, v in raw.items()]), protocol=pickle.HIGHEST_PROTOCOL
    )
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    for value in raw.values():
        stream.write(value)
    stream.flush()


def receive(stream: BinaryIO) -> dict:
    """Read one message; ``EOFError`` when the other side has closed."""
    header = _read(stream, _HEADER.size)
    message, raw = pickle.loads(_read(stream, _HEADER.unpack(header)[0]))
    for key, size in raw:
        message[key] = _read(stream, size)
    return message


def _read(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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
