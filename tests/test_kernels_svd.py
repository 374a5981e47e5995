"""Native TruncatedSVD and sparse products vs scikit-learn / scipy (values)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from sklearn import decomposition
from sklearn.feature_extraction import text as sk
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from stratum._threads import thread_budget_scope
from stratum.kernels import KERNELS, TfidfVectorizer, TruncatedSVD
from stratum.kernels._sparse import SparseOperand, astype_sorted
from stratum.lower.registry import default_registry, ran

FITTED = [
    "components_",
    "explained_variance_",
    "explained_variance_ratio_",
    "singular_values_",
    "n_features_in_",
]


def raw_csr(rng, n_rows, n_cols, dtype, density=0.3, index_dtype=np.int32):
    """A CSR matrix built from raw arrays: unsorted and duplicate column
    indices, explicit (signed) zeros, empty rows."""
    counts = rng.binomial(n_cols, density, n_rows) if n_cols else np.zeros(n_rows)
    counts[rng.random(n_rows) < 0.15] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index_dtype)
    nnz = int(indptr[-1])
    indices = rng.integers(0, max(n_cols, 1), nnz).astype(index_dtype)
    data = rng.standard_normal(nnz).astype(dtype)
    data[rng.random(nnz) < 0.05] = 0.0
    data[rng.random(nnz) < 0.05] = -0.0
    return with_indices(
        sp.csr_matrix((data, indices, indptr), (n_rows, n_cols)), index_dtype
    )


def with_indices(A, index_dtype):
    """``A`` with indices of that type (scipy picks int32 where they fit;
    large matrices have int64)."""
    A.indptr, A.indices = A.indptr.astype(index_dtype), A.indices.astype(index_dtype)
    return A


def assert_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


# ------------------------------------------------------------ the products


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("n_vecs", [0, 1, 3, 8, 40, 70])
def test_products_are_scipys_bit_for_bit(dtype, fmt, index_dtype, n_vecs):
    rng = np.random.default_rng(n_vecs)
    A = raw_csr(rng, 300, 57, dtype, index_dtype=index_dtype)
    A = A if fmt == "csr" else with_indices(A.T, index_dtype)  # the CSC of the arrays
    assert A.indices.dtype == index_dtype
    op = SparseOperand(A)
    right = rng.standard_normal((A.shape[1], n_vecs)).astype(dtype)
    left = rng.standard_normal((n_vecs, A.shape[0])).astype(dtype)
    for threads in (1, 2):
        with thread_budget_scope(threads):
            assert_bits(op @ right, A @ right)
            assert_bits(op @ np.asfortranarray(right), A @ np.asfortranarray(right))
            assert_bits(op.T @ left.T, A.T @ left.T)
            assert_bits(left @ op, left @ A)


def test_large_products_split_between_threads():
    rng = np.random.default_rng(7)
    A = raw_csr(rng, 20_000, 3_000, np.float32, density=0.004)
    x = rng.standard_normal((3_000, 40)).astype(np.float32)
    y = rng.standard_normal((20_000, 40)).astype(np.float32)
    with thread_budget_scope(2):
        assert_bits(SparseOperand(A) @ x, A @ x)
        assert_bits(SparseOperand(A).T @ y, A.T @ y)


def test_products_the_kernel_does_not_handle_are_scipys():
    A = raw_csr(np.random.default_rng(0), 20, 6, np.float32)
    op = SparseOperand(A)
    v = np.arange(6, dtype=np.float32)
    assert_bits(op @ v, A @ v)  # 1-d
    x64 = np.ones((6, 2))
    assert_bits(op @ x64, A @ x64)  # float64 times float32: scipy upcasts
    with pytest.raises(ValueError):
        op @ np.ones((5, 2), dtype=np.float32)


def test_bad_sparse_arrays_raise_instead_of_reading_out_of_bounds():
    from stratum import _native

    x = np.ones((2, 3), dtype=np.float64)
    out = np.empty((2, 3))
    data = np.ones(2)
    bad = [
        (np.array([0, 1, 2], np.int32), np.array([0, 5], np.int32), "row 1"),
        (np.array([0, 2, 1], np.int32), np.array([0, 1], np.int32), "indptr"),
        (np.array([0, 1, 3], np.int32), np.array([0, 1], np.int32), "indptr"),
    ]
    for indptr, indices, message in bad:
        for transposed in (False, True):
            with pytest.raises(ValueError, match=message):
                _native.csr_matmul(
                    indptr, indices, data, 2, x, 3, out, 1, transposed=transposed
                )


def test_outputs_sharing_memory_with_inputs_are_refused():
    from stratum import _native

    indptr, indices = np.array([0, 1, 2], np.int32), np.array([0, 1], np.int32)
    data = np.ones(2)
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="shares memory"):
        _native.csr_matmul(indptr, indices, data, 2, x, 2, x, 1)
    with pytest.raises(ValueError, match="shares memory"):
        _native.csr_sort_rows(indptr, indptr[:2], data, 2, 1)


# ---------------------------------------------------------- TruncatedSVD


def assert_same_svd(k, r, got, want):
    assert_bits(got, want)
    for name in FITTED:
        a, b = getattr(k, name), getattr(r, name)
        if isinstance(a, np.ndarray):
            assert_bits(a, b)
        else:
            assert a == b


params = st.fixed_dictionaries(
    {
        "n_components": st.integers(1, 6),
        "n_iter": st.integers(0, 7),
        "n_oversamples": st.integers(1, 12),
        "power_iteration_normalizer": st.sampled_from(["auto", "QR", "LU", "none"]),
        "random_state": st.integers(0, 2**31 - 1),
    }
)


@given(
    p=params,
    shape=st.tuples(st.integers(1, 60), st.integers(7, 60)),
    dtype=st.sampled_from([np.float32, np.float64]),
    fmt=st.sampled_from(["csr", "csc", "coo"]),
    density=st.sampled_from([0.0, 0.02, 0.3, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_truncated_svd_matches_scikit_learn(p, shape, dtype, fmt, density, seed):
    rng = np.random.default_rng(seed)
    X = raw_csr(rng, *shape, dtype, density=density).asformat(fmt)
    k, r = TruncatedSVD(**p), decomposition.TruncatedSVD(**p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-zero input: 0 / 0
        got, want = k.fit_transform(X), r.fit_transform(X)
    assert k.stratum_impl_ == "native"
    assert_same_svd(k, r, got, want)
    X_new = raw_csr(rng, 5, shape[1], dtype).asformat(fmt)
    assert_bits(k.transform(X_new), r.transform(X_new))
    X64 = X_new.astype(np.float64)
    assert_bits(k.transform(X64), r.transform(X64))


@pytest.mark.parametrize(
    "X",
    [
        sp.csr_matrix(np.full((30, 9), 3.5, dtype=np.float32)),  # identical values
        sp.csr_matrix((1, 9), dtype=np.float64),  # one empty row
        sp.csr_matrix(np.eye(12, dtype=np.float32)[:, ::-1]),
    ],
    ids=["identical", "one-row", "permutation"],
)
def test_truncated_svd_degenerate_inputs(X):
    k, r = (
        TruncatedSVD(3, random_state=0),
        decomposition.TruncatedSVD(3, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_same_svd(k, r, k.fit_transform(X), r.fit_transform(X))


def test_text_features_and_threads():
    rng = np.random.default_rng(3)
    words = np.array(["naïve", "café", "日本", "🙂", "data", "Straße", "x", "İz"])
    docs = [" ".join(rng.choice(words, rng.integers(0, 9))) for _ in range(3000)]
    X = sk.TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit_transform(docs)
    X = X.astype(np.float32)
    r = decomposition.TruncatedSVD(30, random_state=0)
    want = r.fit_transform(X)
    for threads in (1, 2):
        with thread_budget_scope(threads):
            k = TruncatedSVD(30, random_state=0)
            assert_same_svd(k, r, k.fit_transform(X), want)


def test_fallbacks_say_why():
    X = np.random.default_rng(0).standard_normal((20, 5))
    k = TruncatedSVD(2, random_state=0)
    r = decomposition.TruncatedSVD(2, random_state=0)
    assert_same_svd(k, r, k.fit_transform(X), r.fit_transform(X))
    assert k.stratum_impl_ == "reference: dense input"
    assert_bits(k.transform(X), r.transform(X))
    ints = sp.csr_matrix(np.arange(40).reshape(8, 5) % 3)
    k.fit(ints)
    assert k.stratum_impl_ == "reference: int64 data"
    arpack = decomposition.TruncatedSVD(algorithm="arpack")
    assert TruncatedSVD.unsupported(arpack) == "algorithm='arpack'"


def test_errors_are_scikit_learns():
    X = sp.random(10, 4, density=0.5, format="csr", dtype=np.float32, random_state=0)
    for p in [{"n_components": 5}, {"n_components": 0}, {"n_iter": -1}]:
        with pytest.raises(ValueError) as want:
            decomposition.TruncatedSVD(**p).fit(X)
        with pytest.raises(ValueError) as got:
            TruncatedSVD(**p).fit(X)
        assert str(got.value) == str(want.value)
    k = TruncatedSVD(2).fit(X)
    with pytest.raises(ValueError, match="4 features"):
        k.transform(sp.csr_matrix((2, 3), dtype=np.float32))


def test_registry_replaces_truncated_svd_in_pipelines():
    assert TruncatedSVD in KERNELS
    docs = ["the cat sat", "the dog ran", "a cat ran", "dogs and cats", "x y z"] * 8
    ref = make_pipeline(
        sk.TfidfVectorizer(), decomposition.TruncatedSVD(2, random_state=0)
    )
    est, choices = default_registry().select(ref)
    assert [c.implementation for c in choices] == ["native", "native"]
    assert type(est.steps[1][1]) is TruncatedSVD
    assert_bits(est.fit_transform(docs), ref.fit_transform(docs))
    assert "TruncatedSVD: native" in ran(est)
    assert isinstance(est.steps[0][1], TfidfVectorizer)


@parametrize_with_checks([TruncatedSVD(n_components=1)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.5])
def test_astype_sorted_is_scipys_astype(index_dtype, density):
    rng = np.random.default_rng(int(density * 100))
    for dtype, target in [(np.float64, "float32"), (np.float32, np.float64)]:
        A = raw_csr(rng, 40_000, 30, dtype, density=density, index_dtype=index_dtype)
        # rows without repeats (most, sorted natively) and with repeats
        # (left to scipy, which sums them in its own order)
        B = A.copy()
        with thread_budget_scope(2):
            got = astype_sorted(A, target)
        want = B.astype(target)
        for name in ("indptr", "indices"):  # (scipy may narrow their type)
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
            np.testing.assert_array_equal(getattr(A, name), getattr(B, name))
        assert_bits(got.data, want.data)
        assert_bits(A.data, B.data)  # the input is left alone
        assert got.has_canonical_format and want.has_canonical_format


def test_astype_sorted_leaves_what_it_cannot_sort_to_scipy():
    A = raw_csr(np.random.default_rng(1), 50, 9, np.float64)
    A.data.flags.writeable = False  # the copy is sorted, never the input
    B = A.copy()
    assert_bits(astype_sorted(A, np.float32).data, B.astype(np.float32).data)
    assert astype_sorted(B, np.float64) is not B  # same dtype: scipy's copy
    assert_bits(astype_sorted(B, np.int64).data, B.astype(np.int64).data)
    dense = np.ones((2, 2))
    assert_bits(astype_sorted(dense, np.float32), dense.astype(np.float32))
