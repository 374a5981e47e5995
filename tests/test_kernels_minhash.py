"""Native MinHashEncoder vs skrub's on the same columns (exact values)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import skrub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from stratum._threads import thread_budget_scope
from stratum.kernels import KERNELS, MinHashEncoder
from stratum.kernels import minhash as M
from stratum.lower import registry as R

REQUIRE_NATIVE = os.environ.get("STRATUM_REQUIRE_NATIVE", "") == "1"
pytestmark = pytest.mark.skipif(
    M._native is None and not REQUIRE_NATIVE, reason="native extension not built"
)

# Multi-byte UTF-8 (so that len(str) < len(bytes) and the fast hash reads
# part of the encoding), combining marks, letters whose lowercase differs
# in length, exotic whitespace (str.split's), emoji with modifiers and ZWJ.
NASTY = (
    "aAbBzZ09_-.,'!?"
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000"
    "\u0301\u0307\u0308İıΣσςßẞéÉñÑ²³½٣߀"
    "日本語中文ℂℌﬁǅǈ🙂👍🏽\u200d\x00\x7f\x80\xff"
)
text = st.text(alphabet=st.sampled_from(NASTY), max_size=20)
value = st.one_of(text, text, text, st.just(""), st.none(), st.just(np.nan))
values = st.lists(value, min_size=1, max_size=25)

params = st.one_of(
    st.fixed_dictionaries(
        {
            "hashing": st.just("fast"),
            "minmax_hash": st.booleans(),
            "n_components": st.sampled_from([2, 4, 10, 30]),
            "ngram_range": st.sampled_from(
                [(2, 4), (1, 1), (1, 3), (3, 5), (2, 2), (4, 7)]
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "hashing": st.just("fast"),
            "n_components": st.sampled_from([1, 3, 9, 17]),
            "ngram_range": st.sampled_from([(2, 4), (1, 2), (5, 5)]),
        }
    ),
    st.fixed_dictionaries(
        {
            "hashing": st.just("murmur"),
            "n_components": st.sampled_from([1, 2, 9, 30]),
            "ngram_range": st.sampled_from([(2, 4), (1, 1), (1, 3), (3, 5), (2, 2)]),
        }
    ),
)
dtypes = st.sampled_from([object, "str", "category"])

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcome(f):
    """``("ok", result)``, or the exception's type and message."""
    try:
        return ("ok", f())
    except Exception as e:  # noqa: BLE001 - compared with the reference
        return ("error", type(e), str(e))


def column(vals, dtype, name="city", index=None) -> pd.Series:
    return pd.Series(list(vals), dtype=dtype, name=name, index=index)


def assert_same_encoding(col, params, test=None, impl="native"):
    """Fit on ``col``, transform ``test`` (default ``col``) with both
    encoders: same frames, exactly, or the same error."""
    test = col if test is None else test
    k = MinHashEncoder(**params)
    r = skrub.MinHashEncoder(**params)
    got = outcome(lambda: k.fit(col).transform(test))
    want = outcome(lambda: r.fit(col).transform(test))
    assert got[0] == want[0], (got, want)
    if want[0] == "error":
        assert got[1:] == want[1:]
        return
    pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)
    assert k.stratum_impl_.startswith(impl), k.stratum_impl_


@SETTINGS
@given(vals=values, params=params, dtype=dtypes)
def test_matches_skrub(vals, params, dtype):
    index = pd.Index([f"r{i}" for i in range(len(vals))])[::-1]
    assert_same_encoding(column(vals, dtype, index=index), params)


@SETTINGS
@given(train=values, test=values, params=params)
def test_transform_other_column(train, test, params):
    assert_same_encoding(column(train, object), params, column(test, object))


SHORT = ["", "a", "é", "日", "🙂", " ", "ab", "\u0301", "a\u0301"]


@pytest.mark.parametrize("hashing", ["fast", "murmur"])
@pytest.mark.parametrize("ngram_range", [(2, 4), (3, 6), (1, 1)])
def test_strings_shorter_than_ngrams(hashing, ngram_range):
    col = column(SHORT + [None, np.nan], object)
    assert_same_encoding(col, {"hashing": hashing, "ngram_range": ngram_range})
    if hashing == "fast":
        assert_same_encoding(col, {"ngram_range": ngram_range, "minmax_hash": True})


@pytest.mark.parametrize("dtype", [object, "str", "category"])
@pytest.mark.parametrize(
    "params", [{}, {"minmax_hash": True}, {"hashing": "murmur", "n_components": 12}]
)
def test_many_unique_values(dtype, params):
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdefgh éÜ日🙂-,"))
    uniques = ["".join(rng.choice(alphabet, rng.integers(0, 30))) for _ in range(1500)]
    vals = np.array(uniques, dtype=object)[rng.integers(0, 1500, 4000)]
    vals[rng.random(4000) < 0.05] = None
    col = column(vals, dtype, name="c")
    want = skrub.MinHashEncoder(**params).fit(col).transform(col)
    for threads in (1, 2):
        with thread_budget_scope(threads):
            k = MinHashEncoder(**params).fit(col)
            got = k.transform(col)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert k.stratum_impl_ == "native"


@pytest.mark.parametrize("vals", [["x"], ["same"] * 50, [None] * 3, [""] * 2])
@pytest.mark.parametrize("hashing", ["fast", "murmur"])
def test_single_row_and_identical_values(vals, hashing):
    for dtype in (object, "str"):
        assert_same_encoding(column(vals, dtype), {"hashing": hashing})


def test_fit_transform_unnamed_column_and_feature_names():
    col = pd.Series(["a b", "c", None, "a b"] * 3)
    k, r = MinHashEncoder(n_components=12), skrub.MinHashEncoder(n_components=12)
    pd.testing.assert_frame_equal(
        k.fit_transform(col), r.fit_transform(col), check_exact=True
    )
    assert k.get_feature_names_out() == r.get_feature_names_out()
    assert k.stratum_impl_ == "native"
    assert clone(k).get_params() == r.get_params()


def test_surrogates_and_non_strings_run_skrubs_code():
    # Lone surrogates have no UTF-8 form: skrub's hashing raises.
    for hashing in ("fast", "murmur"):
        col = column(["ok", "bad\ud800"], object)
        assert_same_encoding(col, {"hashing": hashing}, impl="reference")
        k = MinHashEncoder(hashing=hashing).fit(col)
        with pytest.raises(UnicodeEncodeError):
            k.transform(col)
        assert k.stratum_impl_ == "reference: strings with lone surrogates"
    # A categorical column of numbers is accepted by fit, not by the hashing.
    col = column([1, 2, 1], "category")
    assert_same_encoding(col, {}, impl="reference")
    k = MinHashEncoder().fit(col)
    with pytest.raises(TypeError):
        k.transform(col)
    assert k.stratum_impl_ == "reference: values of type int"
    # Not a string column: skrub's errors.
    assert_same_encoding(pd.Series([1.5, 2.5]), {})
    k = MinHashEncoder().fit(column(["a"], object))
    got = outcome(lambda: k.transform(pd.Series([1.5])))
    want = outcome(
        lambda: (
            skrub.MinHashEncoder()
            .fit(column(["a"], object))
            .transform(pd.Series([1.5]))
        )
    )
    assert got[0] == "error" and got[1:] == want[1:]


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"hashing": "other"}, "hashing='other'"),
        ({"n_components": 0}, "n_components=0"),
        ({"n_components": 3, "minmax_hash": True}, "minmax_hash with n_components=3"),
        ({"ngram_range": (0, 2)}, "ngram_range=(0, 2)"),
        ({"ngram_range": (3, 2)}, "ngram_range=(3, 2)"),
        ({"ngram_range": (2.0, 4)}, "ngram_range=(2.0, 4)"),
    ],
)
def test_unsupported_parameters(params, reason):
    assert MinHashEncoder.unsupported(skrub.MinHashEncoder(**params)) == reason
    col = column(["paris", "", None, "oslo"], object)
    assert_same_encoding(col, params, impl="reference")


def test_registered_kernel():
    assert MinHashEncoder in KERNELS
    assert MinHashEncoder.reference is skrub.MinHashEncoder
    for params in [
        {},
        {"hashing": "murmur"},
        {"minmax_hash": True, "ngram_range": [1, 3]},
    ]:
        assert MinHashEncoder.unsupported(skrub.MinHashEncoder(**params)) is None


def test_table_vectorizer_through_the_registry():
    rng = np.random.default_rng(0)
    words = np.array(["red", "blue", "Green", "naïve", "café", "x", "日本", "🙂"])
    n = 300
    city = [" ".join(rng.choice(words, 2)) for _ in range(n)]
    df = pd.DataFrame(
        {
            "city": pd.Series(city, dtype=object).where(rng.random(n) > 0.1, None),
            "name": pd.Series([f"n{i % 97}é" for i in range(n)], dtype="str"),
            "num": rng.normal(size=n),
        }
    )
    ref = skrub.TableVectorizer(
        cardinality_threshold=5, high_cardinality=skrub.MinHashEncoder()
    )
    est, choices = R.default_registry().select(ref)
    assert type(est.high_cardinality) is MinHashEncoder
    assert type(ref.high_cardinality) is skrub.MinHashEncoder
    assert "TableVectorizer.high_cardinality: native" in [str(c) for c in choices]
    got = est.fit_transform(df)
    pd.testing.assert_frame_equal(got, clone(ref).fit_transform(df), check_exact=True)
    reports = [r for r in R.ran(est) if r.startswith("MinHashEncoder")]
    assert reports and set(reports) == {"MinHashEncoder: native"}
    test = df.iloc[::-3]
    pd.testing.assert_frame_equal(
        est.transform(test), ref.fit(df).transform(test), check_exact=True
    )
