"""Differential tests: stratum's tabular kernels against scikit-learn.

Every kernel is fitted next to its reference on the same input; fitted
attributes (values, dtypes, types) and outputs must be identical (the native
sums reproduce numpy's summation order, so float results are compared for
equality, not closeness).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import impute, preprocessing
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

import stratum.kernels as K
from stratum._threads import thread_budget_scope
from stratum.kernels._dense import native

pytestmark = pytest.mark.skipif(native() is None, reason="native extension not built")

TABULAR = [
    K.OneHotEncoder,
    K.OrdinalEncoder,
    K.StandardScaler,
    K.MinMaxScaler,
    K.SimpleImputer,
]

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Strings that stress sorting and hashing: Unicode, emoji, combining marks,
# empty and whitespace strings, prefixes of each other.
WORDS = ["", " ", "a", "ab", "B", "Z", "é", "é", "😀", "日本", "a\u0000b", "zz"]
cell = st.one_of(
    st.sampled_from(WORDS),
    st.text(max_size=4),
    st.none(),
    st.just(float("nan")),
)


def same_value(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


def assert_same_attr(a, b, name):
    va, vb = getattr(a, name), getattr(b, name)
    if isinstance(va, list):
        assert len(va) == len(vb), name
        for x, y in zip(va, vb):
            assert_same_attr_value(x, y, name)
    else:
        assert_same_attr_value(va, vb, name)


def assert_same_attr_value(va, vb, name):
    assert type(va) is type(vb), (name, type(va), type(vb))
    if isinstance(va, np.ndarray):
        assert va.dtype == vb.dtype, (name, va.dtype, vb.dtype)
        assert va.shape == vb.shape, name
        if va.dtype == object:
            assert all(same_value(x, y) for x, y in zip(va, vb)), (name, va, vb)
        else:
            assert_same_floats(va, vb, name)
    elif isinstance(va, float) and np.isnan(va):
        assert np.isnan(vb)
    else:
        assert va == vb, (name, va, vb)


def assert_same_floats(a, b, msg=""):
    """Equal arrays, zeros with the same sign included."""
    np.testing.assert_array_equal(a, b, err_msg=msg)
    if a.dtype.kind == "f":
        zeros = a == 0
        np.testing.assert_array_equal(
            np.signbit(a[zeros]), np.signbit(b[zeros]), err_msg=f"{msg}: sign of 0"
        )


def assert_same_output(a, b):
    assert type(a) is type(b)
    if sp.issparse(a):
        assert a.format == b.format and a.dtype == b.dtype and a.shape == b.shape
        for part in ("indices", "indptr", "data"):
            x, y = getattr(a, part), getattr(b, part)
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.flags.c_contiguous == b.flags.c_contiguous
        assert_same_floats(a, b)


def messages(caught) -> list[str]:
    # numpy's floating-point RuntimeWarnings ("overflow encountered in
    # square", ...) raised inside its reductions are not reproduced by the
    # native code (the values are): those are left out of the comparison.
    return [
        str(w.message)
        for w in caught
        if not (
            issubclass(w.category, RuntimeWarning)
            and " encountered in " in str(w.message)
        )
    ]


def fit_both(ref_cls, kernel_cls, params, X_fit, X_tr=None, attrs=()):
    ref, ker = ref_cls(**params), kernel_cls(**params)
    with warnings.catch_warnings(record=True) as w_ref:
        warnings.simplefilter("always")
        try:
            out_ref = ref.fit(X_fit).transform(X_fit if X_tr is None else X_tr)
            err_ref = None
        except Exception as e:  # noqa: BLE001 - compared below
            err_ref = e
    with warnings.catch_warnings(record=True) as w_ker:
        warnings.simplefilter("always")
        try:
            out_ker = ker.fit(X_fit).transform(X_fit if X_tr is None else X_tr)
            err_ker = None
        except Exception as e:  # noqa: BLE001
            err_ker = e
    if err_ref is not None:
        assert type(err_ker) is type(err_ref) and str(err_ker) == str(err_ref)
        return ref, ker
    assert err_ker is None, err_ker
    assert messages(w_ref) == messages(w_ker)
    for name in attrs:
        if hasattr(ref, name):
            assert_same_attr(ref, ker, name)
        else:
            assert not hasattr(ker, name), name
    assert_same_output(out_ref, out_ker)
    return ref, ker


# --------------------------------------------------------------------- encoders

OHE_PARAMS = [
    {},
    {"sparse_output": False},
    {"handle_unknown": "ignore"},
    {"handle_unknown": "ignore", "sparse_output": False, "dtype": np.float32},
    {"drop": "first"},
    {"drop": "if_binary", "handle_unknown": "ignore"},
    {"min_frequency": 2, "handle_unknown": "infrequent_if_exist"},
    {"max_categories": 3, "handle_unknown": "infrequent_if_exist", "drop": "first"},
    {"handle_unknown": "warn"},
]
ORD_PARAMS = [
    {},
    {"handle_unknown": "use_encoded_value", "unknown_value": -1},
    {
        "handle_unknown": "use_encoded_value",
        "unknown_value": np.nan,
        "encoded_missing_value": -7,
    },
    {"min_frequency": 2, "dtype": np.float32},
]
ENC_ATTRS = ("categories_", "n_features_in_", "feature_names_in_", "drop_idx_")
ENC_ATTRS += ("_infrequent_indices", "_default_to_infrequent_mappings")


def frame(columns) -> pd.DataFrame:
    return pd.DataFrame(
        {f"c{i}": pd.Series(col, dtype=object) for i, col in enumerate(columns)}
    )


@SETTINGS
@given(
    st.integers(1, 3).flatmap(
        lambda k: st.integers(1, 30).flatmap(
            lambda n: st.tuples(
                st.lists(
                    st.lists(cell, min_size=n, max_size=n), min_size=k, max_size=k
                ),
                st.lists(
                    st.lists(cell, min_size=4, max_size=4), min_size=k, max_size=k
                ),
            )
        )
    ),
    st.sampled_from(OHE_PARAMS + ORD_PARAMS),
    st.booleans(),
)
def test_encoders_match_sklearn(cols, params, as_numpy):
    fit_cols, new_cols = cols
    X_fit, X_new = frame(fit_cols), frame(new_cols)
    X_tr = pd.concat([X_fit, X_new], ignore_index=True)
    if as_numpy:
        X_fit, X_tr = X_fit.to_numpy(), X_tr.to_numpy()
    if params in ORD_PARAMS:
        fit_both(
            preprocessing.OrdinalEncoder,
            K.OrdinalEncoder,
            params,
            X_fit,
            X_tr,
            ENC_ATTRS,
        )
    else:
        fit_both(
            preprocessing.OneHotEncoder, K.OneHotEncoder, params, X_fit, X_tr, ENC_ATTRS
        )


@pytest.mark.parametrize("params", OHE_PARAMS)
def test_onehot_mixed_columns_and_pandas_strings(params):
    rng = np.random.default_rng(0)
    n = 500
    X = pd.DataFrame(
        {
            "s": pd.Series(rng.choice(["x", "y", "é", "日本"], n), dtype="str"),
            "o": pd.Series(rng.choice(["u", None, "v"], n), dtype=object),
            "f": rng.choice([0.5, 1.5, np.nan], n),
            "i": rng.integers(0, 3, n),
        }
    )
    _, ker = fit_both(
        preprocessing.OneHotEncoder, K.OneHotEncoder, params, X, None, ENC_ATTRS
    )
    if hasattr(ker, "stratum_impl_"):
        assert ker.stratum_impl_.startswith("reference: columns [2, 3]")


def test_huge_cardinality_and_unseen():
    rng = np.random.default_rng(1)
    values = np.array([f"v{i:06d}é" for i in range(100_000)], dtype=object)
    X = rng.permutation(values).reshape(-1, 1)
    X_new = np.array([["v000001é"], ["unseen"], [None], ["v099999é"]], dtype=object)
    for params in ({"handle_unknown": "ignore"}, {}):
        ref, ker = fit_both(
            preprocessing.OneHotEncoder, K.OneHotEncoder, params, X, X_new, ENC_ATTRS
        )
    assert ker.stratum_impl_ == "native"
    assert len(ker.categories_[0]) == 100_000
    fit_both(
        preprocessing.OrdinalEncoder,
        K.OrdinalEncoder,
        {"handle_unknown": "use_encoded_value", "unknown_value": -1},
        X,
        X_new,
        ENC_ATTRS,
    )


def test_encoder_edge_inputs_fall_back_or_match():
    cases = [
        np.array([["a"], ["a"]], dtype=object),  # all identical
        np.array([["only"]], dtype=object),  # one row
        np.array([["a"], [1]], dtype=object),  # mixed types: sklearn's TypeError
        np.array([["a"], [b"b"]], dtype=object),  # bytes
        np.array([["b"], ["a"]]),  # numpy unicode dtype
        np.array([[np.str_("b")], ["a"]], dtype=object),  # str subclass
        [["x", "y"], ["y", "x"]],  # lists
    ]
    for X in cases:
        for params in ({}, {"handle_unknown": "ignore", "sparse_output": False}):
            fit_both(
                preprocessing.OneHotEncoder, K.OneHotEncoder, params, X, None, ENC_ATTRS
            )
        fit_both(preprocessing.OrdinalEncoder, K.OrdinalEncoder, {}, X, None, ENC_ATTRS)


def test_encoder_errors_match():
    X = np.array([["a"], ["b"]], dtype=object)
    with pytest.raises(ValueError, match="Found unknown categories") as ref_err:
        preprocessing.OneHotEncoder().fit(X).transform([["c"]])
    with pytest.raises(ValueError) as ker_err:
        K.OneHotEncoder().fit(X).transform(np.array([["c"]], dtype=object))
    assert str(ker_err.value) == str(ref_err.value)
    with pytest.raises(ValueError, match="X has 2 features"):
        K.OrdinalEncoder().fit(X).transform(np.array([["a", "b"]], dtype=object))


def test_set_output_pandas():
    X = pd.DataFrame({"a": ["x", "y", None], "b": ["u", "u", "v"]})
    ref = preprocessing.OneHotEncoder(sparse_output=False).set_output(
        transform="pandas"
    )
    ker = K.OneHotEncoder(sparse_output=False).set_output(transform="pandas")
    pd.testing.assert_frame_equal(ref.fit_transform(X), ker.fit_transform(X))
    ref = preprocessing.StandardScaler().set_output(transform="pandas")
    ker = K.StandardScaler().set_output(transform="pandas")
    Xf = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [0.0, 5.0, 6.0]})
    pd.testing.assert_frame_equal(ref.fit_transform(Xf), ker.fit_transform(Xf))


# ---------------------------------------------------------------------- scalers

SCALER_ATTRS = ("mean_", "var_", "scale_", "n_samples_seen_", "n_features_in_")
SCALER_ATTRS += ("data_min_", "data_max_", "data_range_", "min_", "feature_names_in_")
IMPUTER_ATTRS = ("statistics_", "n_features_in_", "feature_names_in_", "_fill_dtype")

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
value = st.one_of(finite, st.just(np.nan), st.sampled_from([0.0, -0.0, 1e300, 1e-300]))


@st.composite
def tables(draw):
    n = draw(st.integers(1, 40))
    m = draw(st.integers(1, 4))
    data = draw(st.lists(value, min_size=n * m, max_size=n * m))
    X = np.array(data, dtype=np.float64).reshape(n, m)
    if draw(st.booleans()):  # one constant column
        X[:, 0] = draw(finite)
    if draw(st.booleans()):
        X = np.clip(X, -1e30, 1e30).astype(np.float32)
    kind = draw(st.sampled_from(["C", "F", "frame"]))
    if kind == "F":
        return np.asfortranarray(X)
    if kind == "frame":
        return pd.DataFrame(X, columns=[f"x{j}" for j in range(m)])
    return X


SCALERS = [
    (preprocessing.StandardScaler, K.StandardScaler, {}),
    (preprocessing.StandardScaler, K.StandardScaler, {"with_mean": False}),
    (preprocessing.StandardScaler, K.StandardScaler, {"with_std": False}),
    (
        preprocessing.StandardScaler,
        K.StandardScaler,
        {"with_mean": False, "with_std": False},
    ),
    (preprocessing.MinMaxScaler, K.MinMaxScaler, {}),
    (
        preprocessing.MinMaxScaler,
        K.MinMaxScaler,
        {"feature_range": (-2, 3), "clip": True},
    ),
    (impute.SimpleImputer, K.SimpleImputer, {"strategy": "mean"}),
    (impute.SimpleImputer, K.SimpleImputer, {"strategy": "median"}),
    (impute.SimpleImputer, K.SimpleImputer, {"strategy": "most_frequent"}),
    (impute.SimpleImputer, K.SimpleImputer, {"strategy": "constant", "fill_value": 3}),
    (impute.SimpleImputer, K.SimpleImputer, {"keep_empty_features": True}),
    (
        impute.SimpleImputer,
        K.SimpleImputer,
        {"add_indicator": True, "strategy": "median"},
    ),
]


@SETTINGS
@given(tables(), tables(), st.sampled_from(SCALERS))
def test_scalers_and_imputer_match_sklearn(X_fit, X_new, case):
    ref_cls, ker_cls, params = case
    X_tr = X_fit
    if X_new.shape[1] == X_fit.shape[1] and type(X_new) is type(X_fit):
        X_tr = X_new
        if isinstance(X_new, pd.DataFrame):
            X_tr = X_new.set_axis(X_fit.columns, axis=1)
    fit_both(ref_cls, ker_cls, params, X_fit, X_tr, SCALER_ATTRS + IMPUTER_ATTRS)


@pytest.mark.parametrize("order", ["C", "F"])
def test_large_float32_tables(order):
    # float32 data (TableVectorizer's output): the imputer's statistics are
    # computed in float32 exactly as numpy does; the scaler's float64 sums of
    # float32 values may be added in another order than numpy's buffered
    # reduction (results within 1e-12, well inside the float32 target).
    rng = np.random.default_rng(3)
    X = (rng.standard_normal((30_011, 3)) * 1e-2 + 1e3).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    X = np.asarray(X, order=order)
    for params in ({"strategy": "mean"}, {"strategy": "median"}):
        fit_both(impute.SimpleImputer, K.SimpleImputer, params, X, None, IMPUTER_ATTRS)
    ref, ker = preprocessing.StandardScaler().fit(X), K.StandardScaler().fit(X)
    assert ker.stratum_impl_ == "native"
    for name in ("mean_", "var_", "scale_"):
        a, b = getattr(ref, name), getattr(ker, name)
        assert a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=1e-12)
    np.testing.assert_array_equal(ref.n_samples_seen_, ker.n_samples_seen_)
    out_ref, out_ker = ref.transform(X), ker.transform(X)
    assert out_ref.dtype == out_ker.dtype == np.float32
    np.testing.assert_allclose(out_ker, out_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("order", ["C", "F"])
def test_large_table_sums_are_exact(order):
    # Ill-conditioned data (large offset, NaN) at a size where numpy's pairwise
    # blocks matter: results must still be bit-identical.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((200_003, 3)) * 1e-3 + 1e8
    X[rng.random(X.shape) < 0.05] = np.nan
    X = np.asarray(X, order=order)
    for ref_cls, ker_cls, params in SCALERS[:1] + SCALERS[6:8]:
        fit_both(ref_cls, ker_cls, params, X, None, SCALER_ATTRS + IMPUTER_ATTRS)


@pytest.mark.parametrize("case", SCALERS)
@pytest.mark.parametrize("where", ["fit", "transform"])
@pytest.mark.parametrize("kind", ["C", "F", "frame"])
def test_infinite_values_raise_like_sklearn(case, where, kind):
    ref_cls, ker_cls, params = case
    X = np.arange(20.0).reshape(10, 2)
    X[3, 1] = np.nan
    bad = X.copy()
    bad[5, 0] = -np.inf
    if kind == "F":
        X, bad = np.asfortranarray(X), np.asfortranarray(bad)
    elif kind == "frame":
        X, bad = (
            pd.DataFrame(X, columns=["a", "b"]),
            pd.DataFrame(bad, columns=["a", "b"]),
        )
    X_fit, X_tr = (bad, X) if where == "fit" else (X, bad)
    fit_both(ref_cls, ker_cls, params, X_fit, X_tr, SCALER_ATTRS + IMPUTER_ATTRS)
    with pytest.raises(ValueError, match="infinity"):
        ker_cls(**params).fit(X_fit).transform(X_tr)


def test_scaler_fallbacks():
    X = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 7.0]])
    ker = K.StandardScaler().fit(X, sample_weight=[1.0, 2.0, 1.0])
    ref = preprocessing.StandardScaler().fit(X, sample_weight=[1.0, 2.0, 1.0])
    assert ker.stratum_impl_ == "reference: sample_weight is given"
    np.testing.assert_array_equal(ker.var_, ref.var_)
    ker = K.StandardScaler(with_mean=False).fit(sp.csr_array(X))
    assert ker.stratum_impl_.startswith("reference")
    fit_both(preprocessing.StandardScaler, K.StandardScaler, {}, X.astype(np.float32))
    fit_both(
        preprocessing.StandardScaler, K.StandardScaler, {}, np.nan_to_num(X).astype(int)
    )
    assert K.SimpleImputer.unsupported(impute.SimpleImputer(missing_values=-1))
    assert K.SimpleImputer.unsupported(impute.SimpleImputer()) is None
    fit_both(impute.SimpleImputer, K.SimpleImputer, {"missing_values": 2.0}, X)


def test_kernels_are_drop_ins():
    for kernel in TABULAR:
        assert kernel in K.KERNELS
        ref = kernel.reference()
        ker = kernel(**ref.get_params(deep=False))
        assert ker.get_params() == ref.get_params()
        assert isinstance(clone(ker), kernel)
        assert kernel.unsupported(ref) is None


@parametrize_with_checks([k() for k in TABULAR])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------- fused fit_transform paths

FUSED = [
    (preprocessing.MinMaxScaler, K.MinMaxScaler, {}),
    (
        preprocessing.MinMaxScaler,
        K.MinMaxScaler,
        {"feature_range": (-2, 3), "clip": True},
    ),
    (preprocessing.MinMaxScaler, K.MinMaxScaler, {"feature_range": (-0.0, 0.5)}),
    (impute.SimpleImputer, K.SimpleImputer, {"strategy": "mean"}),
    (impute.SimpleImputer, K.SimpleImputer, {"strategy": "median"}),
    (impute.SimpleImputer, K.SimpleImputer, {"strategy": "most_frequent"}),
    (
        impute.SimpleImputer,
        K.SimpleImputer,
        {"strategy": "most_frequent", "keep_empty_features": True},
    ),
    (
        impute.SimpleImputer,
        K.SimpleImputer,
        {"strategy": "mean", "keep_empty_features": True},
    ),
]
FUSED_ATTRS = SCALER_ATTRS + IMPUTER_ATTRS + ("_fit_dtype",)


def fit_transform_both(ref_cls, ker_cls, params, X, attrs=FUSED_ATTRS):
    """fit_transform on copies of X: errors, warnings, fitted attributes,
    output (values, zero signs, dtype, layout) and what happened to the
    input must all agree."""
    X_ref, X_ker = (X.copy() for _ in range(2))
    ref, ker = ref_cls(**params), ker_cls(**params)
    results = []
    for est, X_in in ((ref, X_ref), (ker, X_ker)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out, err = est.fit_transform(X_in), None
            except Exception as e:  # noqa: BLE001 - compared below
                out, err = None, e
        results.append((out, err, messages(caught)))
    (out_ref, err_ref, w_ref), (out_ker, err_ker, w_ker) = results
    if err_ref is not None:
        assert type(err_ker) is type(err_ref) and str(err_ker) == str(err_ref)
        return ref, ker
    assert err_ker is None, err_ker
    assert w_ref == w_ker
    for name in attrs:
        if hasattr(ref, name):
            assert_same_attr(ref, ker, name)
        else:
            assert not hasattr(ker, name), name
    if getattr(ref, "indicator_", None) is not None:
        np.testing.assert_array_equal(
            ref.indicator_.features_, ker.indicator_.features_
        )
    else:
        assert getattr(ref, "indicator_", 0) is getattr(ker, "indicator_", 0)
    assert_same_output(out_ref, out_ker)
    # the input is left alone (or changed) the same way
    if isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X_ref, X_ker)
    elif sp.issparse(X):
        assert_same_output(X_ref, X_ker)
    else:
        assert_same_floats(X_ref, X_ker)
    # and the output never aliases what the caller still holds
    if isinstance(X_ker, np.ndarray) and ker.get_params().get("copy", True):
        assert not np.shares_memory(out_ker, X_ker)
    return ref, ker


@st.composite
def nasty_tables(draw):
    """Small tables with the features that trip reductions: all-NaN and
    constant columns, both zeros, repeated values (ties), infinities, one
    row; float64, float32 or int; C, F or DataFrame (of one or more
    dtypes)."""
    n = draw(st.integers(1, 30))
    m = draw(st.integers(1, 4))
    pool = draw(
        st.sampled_from(
            [
                [0.0, -0.0, np.nan],
                [0.0, -0.0, 1.0, -1.0, np.nan],
                [1.0, 2.0, 3.0, np.nan],
                [0.5, -0.5, 1e300, -1e300, np.nan],
            ]
        )
    )
    cells = st.one_of(st.sampled_from(pool), finite)
    X = np.array(draw(st.lists(cells, min_size=n * m, max_size=n * m)))
    X = X.reshape(n, m)
    special = draw(st.sampled_from(["none", "nan", "const", "inf"]))
    j = draw(st.integers(0, m - 1))
    if special == "nan":
        X[:, j] = np.nan
    elif special == "const":
        X[:, j] = draw(st.sampled_from([0.0, -0.0, 7.0]))
    elif special == "inf":
        X[draw(st.integers(0, n - 1)), j] = draw(st.sampled_from([np.inf, -np.inf]))
    dtype = draw(st.sampled_from(["f8", "f4", "i8"]))
    if dtype == "f4":
        X = np.clip(X, -1e30, 1e30).astype(np.float32)
    elif dtype == "i8":
        X = np.nan_to_num(X, nan=3.0, posinf=9.0, neginf=-9.0)
        X = np.clip(X, -1e6, 1e6).astype(np.int64)
    kind = draw(st.sampled_from(["C", "F", "frame", "mixed frame"]))
    if kind == "F":
        return np.asfortranarray(X)
    if kind == "C":
        return np.ascontiguousarray(X)
    df = pd.DataFrame(X, columns=[f"x{k}" for k in range(m)])
    if kind == "mixed frame":
        df[f"x{m}"] = np.arange(n, dtype=np.int64) % 3
    return df


@SETTINGS
@given(nasty_tables(), st.sampled_from(FUSED))
def test_fused_fit_transform_matches_sklearn(X, case):
    fit_transform_both(*case, X)


@pytest.mark.parametrize("case", FUSED)
@pytest.mark.parametrize("kind", ["C", "F", "frame"])
def test_fused_fit_transform_edge_tables(case, kind):
    def shape(X):
        if kind == "F":
            return np.asfortranarray(X)
        if kind == "frame":
            return pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
        return np.ascontiguousarray(X)

    nan = np.nan
    tables = [
        np.array([[nan, 1.0, 2.0], [nan, 1.0, -3.0]]),  # all-NaN column
        np.array([[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]),  # all identical
        np.array([[1.5, -2.0, nan]]),  # one row
        np.array([[0.0], [-0.0], [-0.0], [2.0]]),  # -0.0 most frequent
        np.array([[0.0, -0.0], [-0.0, 0.0], [3.0, 3.0]]),  # both zeros tie
        np.array([[-0.0, 0.0], [1.0, 1.0], [0.0, -0.0]]),  # zero extremes
        np.array([[3.0], [1.0], [3.0], [1.0], [nan]]),  # tie: smallest wins
        np.array([[1.0, nan], [inf := np.inf, 2.0]]),  # infinity: error
        np.array([[1.0, 2.0], [3.0, -np.inf]]),
        np.array([[1e308, -1e308], [1e308, -1e308]]),  # sums overflow
    ]
    for X in tables:
        fit_transform_both(*case, shape(X))
        if kind != "frame":
            with np.errstate(over="ignore"):
                X32 = shape(X).astype(np.float32)
            fit_transform_both(*case, X32)
    assert inf == np.inf


@pytest.mark.parametrize("case", FUSED)
def test_fused_fit_transform_dtypes_and_frames(case):
    rng = np.random.default_rng(7)
    n = 300
    ints = rng.integers(-3, 4, (n, 3))
    floats = rng.choice([0.25, -1.5, 2.0, np.nan, -0.0, 0.0], (n, 3))
    for X in (
        ints,
        np.asfortranarray(ints),
        ints.astype(np.int32),
        floats.astype(np.float32),
        np.asfortranarray(floats.astype(np.float32)),
        pd.DataFrame(ints, columns=list("abc")),
        pd.DataFrame({"f": floats[:, 0], "i": ints[:, 0], "g": floats[:, 1]}),
        pd.DataFrame({"f": floats[:, 0].astype(np.float32), "g": floats[:, 1]}),
        pd.DataFrame(floats.astype(np.float32), columns=list("abc")),
        pd.DataFrame({"u": ints[:, 0].astype(np.uint8), "b": ints[:, 1] > 0}),
    ):
        fit_transform_both(*case, X)


@pytest.mark.parametrize("case", FUSED)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_fit_transform_large(case, order, threads):
    # Long columns: partitioned mode counting, row blocks and split columns
    # in the min/max reductions, several transform tasks.
    rng = np.random.default_rng(11)
    n = 70_001
    X = np.empty((n, 4))
    X[:, 0] = rng.standard_normal(n) * 1e3  # nearly all distinct
    X[:, 1] = rng.integers(0, 50, n)  # few distinct, ties likely
    X[:, 2] = rng.choice([0.0, -0.0, 1.0], n, p=[0.3, 0.4, 0.3])  # both zeros
    X[:, 3] = np.round(rng.standard_normal(n), 1)  # many repeats
    X[rng.random(X.shape) < 0.05] = np.nan
    X = np.asarray(X, order=order)
    with thread_budget_scope(threads):
        _, ker = fit_transform_both(*case, X)
    assert ker.stratum_impl_ == "native" or "zero" in ker.stratum_impl_


def test_mode_of_long_skewed_column():
    # many copies of few values next to many distinct ones: the one-pass
    # partitioning overflows and the exact route runs
    rng = np.random.default_rng(5)
    n = 200_000
    col = rng.standard_normal(n)
    col[: n // 2] = 4.25
    col[n // 2 : n // 2 + 10] = -1.0
    X = rng.permutation(col).reshape(-1, 1)
    params = {"strategy": "most_frequent"}
    fit_transform_both(impute.SimpleImputer, K.SimpleImputer, params, X)
    col[: n // 2] = -0.0
    col[n // 2 : n] = 0.0  # a tie between zeros: scikit-learn's choice
    fit_transform_both(impute.SimpleImputer, K.SimpleImputer, params, col[:, None])


def test_all_nan_column_warnings():
    X = np.array([[1.0, np.nan], [2.0, np.nan]])
    for case in FUSED[:3]:
        fit_transform_both(*case, X)
        fit_both(*case, X, None, FUSED_ATTRS)


def test_fused_fallbacks_agree():
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [0.0, 2.0, np.nan]})
    for params in (
        {"copy": False},
        {"add_indicator": True},
        {"strategy": "constant", "fill_value": -1.0},
        {"missing_values": 3.0},
    ):
        fit_transform_both(impute.SimpleImputer, K.SimpleImputer, params, X)
    for params in ({"copy": False}, {"feature_range": (1, 0)}):
        fit_transform_both(preprocessing.MinMaxScaler, K.MinMaxScaler, params, X)
    A = X.to_numpy(copy=True)
    fit_transform_both(preprocessing.MinMaxScaler, K.MinMaxScaler, {"copy": False}, A)
    fit_transform_both(impute.SimpleImputer, K.SimpleImputer, {"copy": False}, A)
    # sparse input: scikit-learn's error (scaler) or sparse imputation
    S = sp.csc_matrix(np.nan_to_num(A, nan=0.0) + np.eye(3, 2))
    for case in FUSED:
        fit_transform_both(*case, S, attrs=())
    # no rows: scikit-learn's validation error
    for case in FUSED:
        fit_transform_both(*case, np.empty((0, 2)))


def test_transform_float32_after_float64_fit():
    X64 = np.array([[1.0, 2.0], [3.0, np.nan], [0.1, 7.0]])
    X32 = (X64 / 3).astype(np.float32)
    for ref_cls, ker_cls, params in FUSED:
        fit_both(ref_cls, ker_cls, params, X64, X32, FUSED_ATTRS)
        fit_both(ref_cls, ker_cls, params, X32, X64, FUSED_ATTRS)


def test_set_output_pandas_fused():
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [0.0, 5.0, 6.0]})
    for ref_cls, ker_cls, params in FUSED:
        ref = ref_cls(**params).set_output(transform="pandas")
        ker = ker_cls(**params).set_output(transform="pandas")
        pd.testing.assert_frame_equal(ref.fit_transform(X), ker.fit_transform(X))


def test_both_zero_extremes_and_modes_are_reported():
    X = np.array([[0.0, 1.0], [-0.0, 1.0], [2.0, 3.0]])
    _, ker = fit_transform_both(preprocessing.MinMaxScaler, K.MinMaxScaler, {}, X)
    assert ker.stratum_impl_.startswith("reference: extremes from numpy")
    params = {"strategy": "most_frequent"}
    _, ker = fit_transform_both(impute.SimpleImputer, K.SimpleImputer, params, X)
    assert ker.stratum_impl_.startswith("reference: most frequent value of columns [0]")
    _, ker = fit_transform_both(impute.SimpleImputer, K.SimpleImputer, params, X[1:])
    assert ker.stratum_impl_ == "native"


@pytest.mark.filterwarnings("ignore:X has feature names")
@pytest.mark.parametrize("case", SCALERS + FUSED)
def test_infinity_reported_before_feature_count(case):
    # scikit-learn's validation checks finiteness before the number of
    # features: a table with both problems must raise the first error
    ref_cls, ker_cls, params = case
    X = np.array([[1.0, 2.0], [3.0, np.nan], [0.5, 4.0]])
    bad = np.array([[1.0, np.inf, 2.0]])
    for X_tr in (bad, pd.DataFrame(bad, columns=list("abc"))):
        fit_both(ref_cls, ker_cls, params, X, X_tr, FUSED_ATTRS)
        with pytest.raises(ValueError, match="infinity"):
            ker_cls(**params).fit(X).transform(X_tr)


# StandardScaler's fused fit_transform: bit for bit on float64 (and integer)
# tables; float32 statistics are summed in float64 in another order than
# numpy's (see the float32 scaler test), so there the fused result must be
# the kernel's own fit-then-transform exactly and scikit-learn's to 1e-6.
STANDARD = [
    {},
    {"with_mean": False},
    {"with_std": False},
    {"with_mean": False, "with_std": False},
]


def _float32_table(X) -> bool:
    if isinstance(X, pd.DataFrame):
        return set(X.dtypes) == {np.dtype(np.float32)}
    return X.dtype == np.float32


def standard_fit_transform_both(params, X):
    if not _float32_table(X):
        return fit_transform_both(
            preprocessing.StandardScaler, K.StandardScaler, params, X
        )
    ker = K.StandardScaler(**params)
    try:
        got = ker.fit_transform(X.copy())
    except ValueError as e:
        with pytest.raises(ValueError, match=re.escape(str(e))):
            preprocessing.StandardScaler(**params).fit_transform(X.copy())
        return None, ker
    assert_same_output(got, K.StandardScaler(**params).fit(X).transform(X.copy()))
    want = preprocessing.StandardScaler(**params).fit_transform(X.copy())
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    return None, ker


@SETTINGS
@given(nasty_tables(), st.sampled_from(STANDARD))
def test_standard_scaler_fused_fit_transform(X, params):
    standard_fit_transform_both(params, X)


@pytest.mark.parametrize("params", STANDARD)
def test_standard_scaler_fused_edge_tables(params):
    rng = np.random.default_rng(3)
    big = rng.standard_normal((70_001, 3)) * 1e3
    big[rng.random(big.shape) < 0.05] = np.nan
    for X in (
        np.array([[np.nan, 1.0, 2.0], [np.nan, 1.0, -3.0]]),  # all-NaN column
        np.array([[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]),  # constant
        np.array([[1.5, -2.0, np.nan]]),  # one row
        np.array([[1.0, np.inf]]),  # infinity: scikit-learn's error
        np.empty((0, 2)),  # no rows: scikit-learn's error
        np.asfortranarray(big),
        pd.DataFrame(big, columns=list("abc")),
        big.astype(np.float32),
    ):
        for threads in (1, 2):
            with thread_budget_scope(threads):
                _, ker = standard_fit_transform_both(params, X)
    assert ker.stratum_impl_ == "native"
    frame = pd.DataFrame(big[:50], columns=list("abc"))
    ref = preprocessing.StandardScaler(**params).set_output(transform="pandas")
    ker = K.StandardScaler(**params).set_output(transform="pandas")
    pd.testing.assert_frame_equal(ker.fit_transform(frame), ref.fit_transform(frame))
    # what the fused path does not take: scikit-learn's own fit_transform
    S = sp.csr_matrix(np.eye(3))
    fit_transform_both(
        preprocessing.StandardScaler, K.StandardScaler, {"with_mean": False}, S
    )
    fit_transform_both(
        preprocessing.StandardScaler,
        K.StandardScaler,
        {"copy": False},
        np.array([[1.0, 2.0], [3.0, 5.0]]),
    )
