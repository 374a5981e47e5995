"""Pure-Python content fingerprint, bit-identical to ``stratum._native``.

Definition (see ``native/src/fingerprint.rs``): split the raw bytes into
1 MiB chunks (the last one may be shorter; empty input has no chunks), take
BLAKE2b-128 of each chunk, then BLAKE2b-128 of the total length as a
little-endian u64 followed by the chunk digests in order.
"""

from __future__ import annotations

from hashlib import blake2b

CHUNK_SIZE = 1 << 20
DIGEST_SIZE = 16


def fingerprint_buffer(data) -> bytes:
    """16-byte fingerprint of a C-contiguous buffer, taken as raw bytes.

    Accepts anything with the buffer protocol (bytes, bytearray, memoryview,
    numpy arrays of any dtype). Chunks are hashed through memoryview slices,
    so the buffer is never copied. Raises ValueError for non-contiguous
    buffers and TypeError for objects without the buffer protocol.
    """
    with memoryview(data) as view:
        if not view.c_contiguous:
            raise ValueError("fingerprint_buffer requires a C-contiguous buffer")
        total = view.nbytes
        outer = blake2b(total.to_bytes(8, "little"), digest_size=DIGEST_SIZE)
        if total == 0:  # cast() rejects shapes containing a zero
            return outer.digest()
        with view.cast("B") as raw:
            for start in range(0, total, CHUNK_SIZE):
                chunk = raw[start : start + CHUNK_SIZE]
                outer.update(blake2b(chunk, digest_size=DIGEST_SIZE).digest())
        return outer.digest()
