"""Differential tests of the buffer fingerprint: native kernel, pure-Python
fallback, the dispatching wrapper and an independent inline reference."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratum.plan import _hash_py, hashing

try:
    from stratum import _native
except ImportError:
    _native = None

MiB = 1 << 20
# CI sets STRATUM_REQUIRE_NATIVE=1 so that a missing extension fails loudly
# instead of silently skipping every native test.
REQUIRE_NATIVE = os.environ.get("STRATUM_REQUIRE_NATIVE", "") == "1"
needs_native = pytest.mark.skipif(
    _native is None and not REQUIRE_NATIVE,
    reason="stratum._native extension is not built",
)


def reference(data) -> bytes:
    """The definition, restated independently with hashlib and plain bytes."""
    raw = bytes(memoryview(data).cast("B")) if memoryview(data).nbytes else b""
    chunks = [raw[i : i + MiB] for i in range(0, len(raw), MiB)]
    body = b"".join(hashlib.blake2b(c, digest_size=16).digest() for c in chunks)
    return hashlib.blake2b(
        len(raw).to_bytes(8, "little") + body, digest_size=16
    ).digest()


def _native_impl(data):
    assert _native is not None, "stratum._native is not importable"
    return _native.fingerprint_buffer(data)


IMPLS = [
    pytest.param(_hash_py.fingerprint_buffer, id="python"),
    pytest.param(_native_impl, id="native", marks=needs_native),
    pytest.param(hashing.fingerprint_buffer, id="dispatch"),
]

RNG = np.random.default_rng(20240611)
# Shared random buffer for boundary tests: a bit over 5 chunks.
BIG = RNG.integers(0, 256, size=5 * MiB + 4096, dtype=np.uint8).tobytes()


@needs_native
def test_native_extension_is_importable():
    assert _native is not None
    assert hashing.NATIVE_AVAILABLE
    assert _native.FINGERPRINT_CHUNK_SIZE == MiB


def test_reference_known_answers():
    # Pinned digests: changing the definition changes every cache key.
    assert reference(b"").hex() == "c804ce198ec337e3dc762bdd1a09aece"
    inner = hashlib.blake2b(b"abc", digest_size=16).digest()
    outer = hashlib.blake2b((3).to_bytes(8, "little") + inner, digest_size=16)
    assert reference(b"abc") == outer.digest()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "size", [0, 1, 1000, MiB - 1, MiB, MiB + 1, 3 * MiB, 4 * MiB, 4 * MiB + 1]
)
def test_sizes(impl, size):
    data = BIG[:size]
    got = impl(data)
    assert isinstance(got, bytes) and len(got) == 16
    assert got == reference(data)


@pytest.mark.parametrize("impl", IMPLS)
def test_five_mib_random(impl):
    data = RNG.integers(0, 256, size=5 * MiB, dtype=np.uint8).tobytes()
    assert impl(data) == reference(data)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "wrap", [bytes, bytearray, memoryview], ids=lambda w: w.__name__
)
def test_buffer_types(impl, wrap):
    data = BIG[: MiB + 17]
    assert impl(wrap(data)) == reference(data)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "arr",
    [
        RNG.standard_normal(300_000),  # float64, > 2 chunks
        RNG.integers(-128, 128, size=5000, dtype=np.int8),
        RNG.integers(0, 2, size=7777).astype(bool),
        RNG.standard_normal((600, 500)),  # 2-D, C order
        np.arange(12, dtype=">i4"),  # non-native byte order
        np.float64(3.5),  # 0-d
        np.zeros((0, 5)),  # empty with a zero in the shape
        np.asfortranarray(RNG.standard_normal((50, 1))),  # F and C contiguous
    ],
    ids=["float64", "int8", "bool", "2d", "be-int32", "scalar", "empty-2d", "f-col"],
)
def test_numpy_arrays_are_raw_bytes(impl, arr):
    expected = reference(np.ascontiguousarray(arr).tobytes())
    assert impl(arr) == expected
    assert impl(arr) == reference(arr)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "arr",
    [
        np.arange(100, dtype=np.float64)[::2],
        np.arange(20, dtype=np.int8).reshape(4, 5)[:, 1:3],
        np.asfortranarray(np.zeros((3, 4))),
    ],
    ids=["strided", "sliced-2d", "fortran"],
)
def test_non_contiguous_raises_value_error(impl, arr):
    with pytest.raises(ValueError, match="contiguous"):
        impl(arr)
    with pytest.raises(ValueError, match="contiguous"):
        impl(memoryview(arr))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("obj", ["text", 12, [1, 2, 3], None])
def test_non_buffer_raises_type_error(impl, obj):
    with pytest.raises(TypeError):
        impl(obj)


@needs_native
@pytest.mark.parametrize("n_threads", [0, 1, 2, 3, 16])
@pytest.mark.parametrize("size", [3 * MiB + 5, 4 * MiB, 5 * MiB + 4096])
def test_native_thread_counts_agree(n_threads, size):
    data = BIG[:size]
    assert _native.fingerprint_buffer(data, n_threads) == reference(data)
    assert _native.fingerprint_buffer(data, n_threads=n_threads) == reference(data)


@needs_native
def test_native_rejects_negative_threads():
    with pytest.raises((OverflowError, ValueError, TypeError)):
        _native.fingerprint_buffer(b"abc", -1)


@needs_native
def test_native_does_not_copy_or_mutate():
    buf = bytearray(BIG[: 2 * MiB])
    before = bytes(buf)
    _native.fingerprint_buffer(buf)
    assert buf == before
    buf.append(1)  # the buffer export was released: resizing is allowed again


def test_backend_switch(monkeypatch):
    monkeypatch.setenv("STRATUM_NATIVE", "0")
    assert hashing.backend() == "python"
    assert hashing.fingerprint_buffer(b"xyz") == reference(b"xyz")
    monkeypatch.setenv("STRATUM_NATIVE", "false")
    assert hashing.backend() == "python"
    monkeypatch.delenv("STRATUM_NATIVE")
    expected = "native" if hashing.NATIVE_AVAILABLE else "python"
    assert hashing.backend() == expected


def test_thread_count_env(monkeypatch):
    from stratum._threads import thread_budget

    monkeypatch.delenv("STRATUM_NUM_THREADS", raising=False)
    default = thread_budget()
    assert default >= 1
    monkeypatch.setenv("STRATUM_NUM_THREADS", "1")
    assert thread_budget() == 1
    monkeypatch.setenv("STRATUM_NUM_THREADS", "100000")
    assert thread_budget() == default
    monkeypatch.setenv("STRATUM_NUM_THREADS", "not-a-number")
    assert thread_budget() == default
    monkeypatch.setenv("STRATUM_NUM_THREADS", "1")
    data = BIG[: 4 * MiB]
    assert hashing.fingerprint_buffer(data) == reference(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=8192))
def test_random_bytes_all_agree(data):
    expected = reference(data)
    assert _hash_py.fingerprint_buffer(data) == expected
    assert hashing.fingerprint_buffer(data) == expected
    if _native is not None:
        assert _native.fingerprint_buffer(data) == expected


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.integers(min_value=0, max_value=5),
    delta=st.integers(min_value=-64, max_value=64),
    start=st.integers(min_value=0, max_value=64),
)
def test_sizes_near_chunk_boundaries(chunks, delta, start):
    size = max(0, chunks * MiB + delta)
    data = memoryview(BIG)[start : start + size]
    expected = reference(data)
    assert _hash_py.fingerprint_buffer(data) == expected
    assert hashing.fingerprint_buffer(data) == expected
    if _native is not None:
        assert _native.fingerprint_buffer(data) == expected
        assert _native.fingerprint_buffer(data, 2) == expected
