"""Native text kernels vs scikit-learn / skrub on the same inputs (values)."""

from __future__ import annotations

import pickle
import re
import warnings
from copy import deepcopy

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skrub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.feature_extraction import text as sk
from sklearn.utils import murmurhash3_32

from stratum import _native
from stratum._threads import thread_budget_scope
from stratum.kernels import (
    KERNELS,
    CountVectorizer,
    HashingVectorizer,
    StringEncoder,
    TfidfVectorizer,
)
from stratum.kernels.text import char_tables

# Characters where Python's `re`, `str.lower` and `str.split` differ from
# naive Unicode handling: combining marks, dotted capital I, final sigma,
# sharp s, non-decimal digits, exotic spaces (incl. \x1c..\x1f), emoji,
# letters whose NFKD form is an ASCII capital.
NASTY = (
    "aAbBzZ09_-.,'!?"
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000"
    "\u0301\u0307\u0308İıΣσςßẞéÉñÑ²³½٣߀"
    "日本語中文ℂℌﬁǅǈ🙂👍🏽\u200d"
)
text = st.text(alphabet=st.sampled_from(NASTY), max_size=25)
words = st.lists(
    st.sampled_from(["cat", "Dog", "the", "a", "éte", "İs", "ΣΑΣ"]), max_size=8
)
doc = st.one_of(text, words.map(" ".join))
docs = st.lists(doc, min_size=1, max_size=12)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcome(f):
    """Result of ``f()`` or the exception's type and message, plus warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = ("ok", f())
        except Exception as e:  # noqa: BLE001 - compared with the reference
            value = ("error", type(e), str(e))
    return value, [str(w.message) for w in caught]


def assert_same_matrix(a, b, rtol=0.0):
    assert type(a) is type(b)
    assert a.shape == b.shape
    for name in ("indptr", "indices"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.data.dtype == b.data.dtype
    if rtol:
        np.testing.assert_allclose(a.data, b.data, rtol=rtol, atol=0)
    else:
        np.testing.assert_array_equal(a.data, b.data)


def assert_same(got, want):
    (gv, gw), (wv, ww) = got, want
    assert gw == ww
    assert gv[0] == wv[0], (gv, wv)
    if gv[0] == "error":
        assert gv[1:] == wv[1:]
    elif sp.issparse(wv[1]):
        assert_same_matrix(gv[1], wv[1])
    else:
        assert gv[1] == wv[1]


def assert_same_fitted(k, r):
    assert list(k.vocabulary_.items()) == list(r.vocabulary_.items())
    assert [type(v) for v in k.vocabulary_.values()] == [
        type(v) for v in r.vocabulary_.values()
    ]
    np.testing.assert_array_equal(k.get_feature_names_out(), r.get_feature_names_out())
    if hasattr(r, "_tfidf"):
        mine, theirs = vars(k._tfidf), vars(r._tfidf)
        assert mine.keys() == theirs.keys()
        for name, value in theirs.items():
            if isinstance(value, np.ndarray):
                assert mine[name].dtype == value.dtype
                np.testing.assert_array_equal(mine[name], value)
            else:
                assert mine[name] == value


analysis = st.fixed_dictionaries(
    {},
    optional={
        "analyzer": st.sampled_from(["word", "char", "char_wb"]),
        "ngram_range": st.sampled_from([(1, 1), (1, 2), (2, 3), (3, 4), (1, 5)]),
        "lowercase": st.booleans(),
        "strip_accents": st.sampled_from([None, "ascii", "unicode"]),
        "stop_words": st.sampled_from([None, "english", ["the", "cat", "A", "éte"]]),
    },
)
counting = st.fixed_dictionaries(
    {},
    optional={
        "min_df": st.sampled_from([1, 2, 0.2]),
        "max_df": st.sampled_from([1.0, 0.7, 3, 1]),
        "max_features": st.sampled_from([None, 1, 3, 10]),
        "binary": st.booleans(),
    },
)
tfidf = st.fixed_dictionaries(
    {},
    optional={
        "norm": st.sampled_from(["l2", "l1", None]),
        "use_idf": st.booleans(),
        "smooth_idf": st.booleans(),
        "sublinear_tf": st.booleans(),
        "dtype": st.sampled_from([np.float64, np.float32]),
    },
)


@SETTINGS
@given(
    docs, docs, analysis, counting, st.sampled_from([np.int64, np.int32, np.float32])
)
def test_count_vectorizer(train, test, a, c, dtype):
    params = {**a, **c, "dtype": dtype}
    k, r = CountVectorizer(**params), sk.CountVectorizer(**params)
    got, want = (
        outcome(lambda: k.fit_transform(train)),
        outcome(lambda: r.fit_transform(train)),
    )
    assert_same(got, want)
    if want[0][0] == "ok":
        assert k.stratum_impl_ == "native"
        assert_same_fitted(k, r)
        assert_same(
            outcome(lambda: k.transform(test)), outcome(lambda: r.transform(test))
        )


@SETTINGS
@given(docs, docs, analysis, counting, tfidf)
def test_tfidf_vectorizer(train, test, a, c, t):
    params = {**a, **c, **t}
    k, r = TfidfVectorizer(**params), sk.TfidfVectorizer(**params)
    assert_same(
        outcome(lambda: k.fit_transform(train)), outcome(lambda: r.fit_transform(train))
    )
    if hasattr(r, "vocabulary_"):
        assert_same_fitted(k, r)
        assert_same(
            outcome(lambda: k.transform(test)), outcome(lambda: r.transform(test))
        )
    k2, r2 = TfidfVectorizer(**params), sk.TfidfVectorizer(**params)
    assert_same(
        outcome(lambda: k2.fit(train) and None), outcome(lambda: r2.fit(train) and None)
    )


@SETTINGS
@given(
    docs,
    analysis,
    st.sampled_from([1, 2, 7, 16, 2**20]),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["l2", "l1", None]),
    st.sampled_from([np.float64, np.float32]),
)
def test_hashing_vectorizer(train, a, n_features, alternate_sign, binary, norm, dtype):
    params = dict(
        a,
        n_features=n_features,
        alternate_sign=alternate_sign,
        binary=binary,
        norm=norm,
        dtype=dtype,
    )
    k, r = HashingVectorizer(**params), sk.HashingVectorizer(**params)
    assert_same(
        outcome(lambda: k.fit_transform(train)), outcome(lambda: r.fit_transform(train))
    )
    assert_same(
        outcome(lambda: k.transform(train)), outcome(lambda: r.transform(train))
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 2**32 - 1))
def test_murmurhash3_32(data, seed):
    assert _native.murmurhash3_32(data, seed) == murmurhash3_32(data, seed)


def test_char_tables_are_pythons():
    flags, lower_map = char_tables()
    chars = [chr(c) for c in range(0x110000)]
    word = np.fromiter((c.isalnum() or c == "_" for c in chars), bool, len(chars))
    space = np.fromiter((c.isspace() for c in chars), bool, len(chars))
    np.testing.assert_array_equal((flags & 1) != 0, word)
    np.testing.assert_array_equal((flags & 2) != 0, space)
    for cp in np.flatnonzero(flags & 12):
        c = chars[cp]
        if flags[cp] & 8:
            assert len(c.lower()) > 1 or c == "Σ"
        else:
            assert c.lower() == chr(lower_map[cp])
    plain = (flags & 12) == 0
    assert all(chars[cp].lower() == chars[cp] for cp in np.flatnonzero(plain)[::97])
    # Lowercasing a document code point by code point is str.lower.
    assert "ΑΣ ΣΑΣ İ".lower() != "".join(chr(lower_map[ord(c)]) for c in "ΑΣ ΣΑΣ İ")


@pytest.mark.parametrize(
    "docs",
    [
        ["İstanbul ΣΑΣ ΌΣΟΣ straße", "x\u0301yz a\u0301b"],  # lower() grows / splits
        ["ℂℂ ℌello ﬁne ǅemal"],  # NFKD gives ASCII capitals after lowercasing
        ["a\x1c\x1cb c\x1fd  e\u3000\u3000f", "\t\tx\ty"],  # Python-only spaces
        ["²³ ½½ ٣٣ ߀߀ 12 __ _a"],  # \w digits and underscore
        ["🙂🙂 👍🏽x", ""],
        ["", "", ""],
        ["same text"] * 50,
        ["one"],
    ],
)
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"analyzer": "char", "ngram_range": (1, 3)},
        {"analyzer": "char_wb", "ngram_range": (3, 4)},
        {"analyzer": "char_wb", "ngram_range": (1, 2), "strip_accents": "ascii"},
        {"ngram_range": (1, 3), "strip_accents": "unicode"},
        {"lowercase": False, "strip_accents": "ascii"},
    ],
)
def test_exactness_traps(docs, params):
    k, r = TfidfVectorizer(**params), sk.TfidfVectorizer(**params)
    assert_same(
        outcome(lambda: k.fit_transform(docs)), outcome(lambda: r.fit_transform(docs))
    )
    if hasattr(r, "vocabulary_"):
        assert k.stratum_impl_ == "native"
        assert_same_fitted(k, r)
    h, hr = HashingVectorizer(**params), sk.HashingVectorizer(**params)
    assert_same(outcome(lambda: h.transform(docs)), outcome(lambda: hr.transform(docs)))


def test_max_features_ties_and_pruning():
    rng = np.random.default_rng(0)
    vocab = [f"w{i:03d}" for i in range(300)]
    docs = [" ".join(rng.choice(vocab, size=rng.integers(1, 6))) for _ in range(400)]
    for params in [
        {"max_features": 50},
        {"max_features": 7, "binary": True},
        {"max_features": 100, "min_df": 3, "max_df": 0.9},
        {"min_df": 5},
        {"max_df": 3},
        {"max_features": 40, "dtype": np.float32},
    ]:
        k, r = CountVectorizer(**params), sk.CountVectorizer(**params)
        assert_same_matrix(k.fit_transform(docs), r.fit_transform(docs))
        assert_same_fitted(k, r)


def test_large_vocabulary_and_threads():
    docs = [f"tok{i} common w{i % 997} é{i % 13}" for i in range(100_000)]
    r = sk.TfidfVectorizer(ngram_range=(1, 2))
    want = r.fit_transform(docs)
    for n_threads in (1, 2, 3):
        with thread_budget_scope(n_threads):
            k = TfidfVectorizer(ngram_range=(1, 2))
            assert_same_matrix(k.fit_transform(docs), want)
            assert_same_fitted(k, r)
    assert len(k.vocabulary_) > 200_000


def test_fixed_vocabulary():
    docs = ["the cat sat", "Cat and dog", "dog dog"]
    for vocabulary in [["dog", "cat", "zebra"], {"cat": 1, "dog": 0}, {"Cat", "dog"}]:
        k = CountVectorizer(vocabulary=vocabulary, ngram_range=(1, 2))
        r = sk.CountVectorizer(vocabulary=vocabulary, ngram_range=(1, 2))
        assert_same(
            outcome(lambda: k.fit_transform(docs)),
            outcome(lambda: r.fit_transform(docs)),
        )
        assert k.stratum_impl_ == "native"
        assert_same_fitted(k, r)
        assert_same_matrix(k.transform(docs[::-1]), r.transform(docs[::-1]))
    for bad in [["a", "a"], {"a": 0, "b": 0}, []]:
        assert_same(
            outcome(lambda: CountVectorizer(vocabulary=bad).fit(docs) and None),
            outcome(lambda: sk.CountVectorizer(vocabulary=bad).fit(docs) and None),
        )


@pytest.mark.parametrize(
    ("docs", "params", "reason"),
    [
        (["a b", np.nan], {}, "documents of type float"),
        (["a b", None], {}, "documents of type NoneType"),
        ([b"bytes doc", "str doc"], {}, "documents of type bytes"),
        ("just one string", {}, "a single string was passed"),
        (["a b"], {"analyzer": str.split}, "analyzer is a callable"),
        (["a b"], {"tokenizer": str.split}, "tokenizer is set"),
        (["a b"], {"preprocessor": str.upper}, "preprocessor is set"),
        (["ab cd"], {"token_pattern": r"\w+"}, "token_pattern="),
        (["ab cd"], {"ngram_range": (0, 2), "analyzer": "char"}, "ngram_range="),
        (["ab cd"], {"dtype": np.float16}, "dtype="),
        (["ab cd"], {"stop_words": "french"}, "stop_words="),
        ([], {}, "no documents"),
    ],
)
def test_fallbacks(docs, params, reason):
    k, r = CountVectorizer(**params), sk.CountVectorizer(**params)
    got, want = (
        outcome(lambda: k.fit_transform(docs)),
        outcome(lambda: r.fit_transform(docs)),
    )
    assert_same(got, want)
    assert k.stratum_impl_.startswith("reference: ") and reason in k.stratum_impl_
    if want[0][0] == "ok":
        assert_same_fitted(k, r)


def test_lone_surrogates_fall_back():
    docs = ["ok text", "bad \ud800 text"]
    for k, r in [
        (TfidfVectorizer(), sk.TfidfVectorizer()),
        (
            TfidfVectorizer(vocabulary=["text", "bad"]),
            sk.TfidfVectorizer(vocabulary=["text", "bad"]),
        ),
        (HashingVectorizer(), sk.HashingVectorizer()),
    ]:
        assert_same(
            outcome(lambda: k.fit_transform(docs)),
            outcome(lambda: r.fit_transform(docs)),
        )
        assert k.stratum_impl_ == "reference: documents with lone surrogates"
    k, r = CountVectorizer().fit(["bad text"]), sk.CountVectorizer().fit(["bad text"])
    assert_same(outcome(lambda: k.transform(docs)), outcome(lambda: r.transform(docs)))


def test_iterators_series_and_arrays():
    base = ["Some text", "more Text here", "ünïcödé text"]
    want = sk.TfidfVectorizer().fit_transform(base)
    for docs in [iter(base), pd.Series(base), np.array(base), tuple(base)]:
        k = TfidfVectorizer()
        assert_same_matrix(k.fit_transform(docs), want)
        assert k.stratum_impl_ == "native"
    missing = pd.Series(["a b", None], dtype="str")
    assert_same(
        outcome(lambda: TfidfVectorizer().fit_transform(missing)),
        outcome(lambda: sk.TfidfVectorizer().fit_transform(missing)),
    )


def test_sparse_interface_config():
    import sklearn

    docs = ["a bb ccc", "bb dd"]
    with sklearn.config_context(sparse_interface="sparray"):
        for k, r in [
            (TfidfVectorizer(), sk.TfidfVectorizer()),
            (HashingVectorizer(), sk.HashingVectorizer()),
        ]:
            assert_same_matrix(k.fit_transform(docs), r.fit_transform(docs))


def test_estimator_contract():
    for kernel in KERNELS:
        ref = kernel.reference()
        assert issubclass(kernel, kernel.reference)
        k = kernel(**ref.get_params(deep=False))
        # (by repr: nested default estimators are distinct, equal objects)
        assert repr(k.get_params()) == repr(ref.get_params())
        assert repr(clone(k).get_params()) == repr(k.get_params())
        assert kernel.unsupported(ref) is None
    assert TfidfVectorizer.unsupported(sk.TfidfVectorizer(analyzer=len)) == (
        "analyzer is a callable"
    )
    assert HashingVectorizer.unsupported(sk.HashingVectorizer(input="filename")) == (
        "input='filename'"
    )
    assert StringEncoder.unsupported(skrub.StringEncoder(vectorizer="bert")) == (
        "vectorizer='bert'"
    )


@pytest.mark.parametrize(
    "kernel, ref",
    [
        (CountVectorizer, sk.CountVectorizer),
        (TfidfVectorizer, sk.TfidfVectorizer),
        (HashingVectorizer, sk.HashingVectorizer),
    ],
)
def test_kept_native_analyzer(kernel, ref):
    # The native analyzer an estimator keeps does not pickle: copies come
    # without it and build their own; a parameter change rebuilds it.
    docs = ["The cat sat", "on the Mat", "déjà vu", "cat cat dog"]
    k = kernel(stop_words="english", strip_accents="unicode")
    X = k.fit_transform(docs)
    for copy in (
        pickle.loads(pickle.dumps(k)),
        cloudpickle.loads(cloudpickle.dumps(k)),
        deepcopy(k),
    ):
        assert_same_matrix(copy.transform(docs), X)
        assert copy.stratum_impl_ == "native"
    params = {"analyzer": "char_wb", "ngram_range": (2, 3), "stop_words": None}
    k.set_params(**params)
    want = ref(strip_accents="unicode", **params).fit_transform(docs)
    assert_same_matrix(k.fit_transform(docs), want)
    assert_same_matrix(clone(k).fit_transform(docs), want)


@pytest.mark.filterwarnings("ignore:The matrix shape")
@pytest.mark.parametrize(
    "params",
    [
        {},
        # 2**20 hashed columns make the SVD slow: more components than rows
        # take skrub's truncation path (the hashed matrix is still compared).
        {"vectorizer": "hashing", "n_components": 400},
        {"n_components": 4, "analyzer": "word", "ngram_range": (1, 2)},
        {"n_components": 50},  # more components than the matrix allows
        {"vocabulary": ["abc", "xyz", " ab", "bc "], "n_components": 4},
    ],
)
def test_string_encoder(params):
    rng = np.random.default_rng(1)
    pool = np.array(["Paris", "paris ", "São Paulo", "New  York", "İzmir", "Zürich 2"])
    values = pool[rng.integers(0, len(pool), 300)].astype(object)
    values[rng.random(300) < 0.1] = None
    values[5] = np.nan
    col = pd.Series(values, name="city")
    test = pd.Series(["Paris", None, "Oslo", ""], name="city", index=[10, 11, 12, 13])
    k = StringEncoder(random_state=0, **params)
    r = skrub.StringEncoder(random_state=0, **params)
    got, want = (
        outcome(lambda: k.fit_transform(col)),
        outcome(lambda: r.fit_transform(col)),
    )
    assert got[1] == want[1]
    pd.testing.assert_frame_equal(got[0][1], want[0][1], check_exact=True)
    assert k.stratum_impl_ == "native"
    assert k.get_feature_names_out() == r.get_feature_names_out()
    pd.testing.assert_frame_equal(
        k.transform(test), r.transform(test), check_exact=True
    )
    unnamed = col.rename(None)
    pd.testing.assert_frame_equal(
        clone(k).fit_transform(unnamed),
        clone(r).fit_transform(unnamed),
        check_exact=True,
    )


def test_string_encoder_errors():
    col = pd.Series([1.5, 2.5], name="x")
    for params in [
        {},
        {"vectorizer": "hashing", "vocabulary": ["a"]},
        {"vectorizer": "x"},
    ]:
        got = outcome(lambda: StringEncoder(**params).fit_transform(col))
        want = outcome(lambda: skrub.StringEncoder(**params).fit_transform(col))
        assert got[0][0] == want[0][0] == "error"
        assert got[0][1:] == want[0][1:]


def test_no_stray_pattern_warnings():
    # The default token pattern spelled without (?u) is the same pattern.
    docs = ["ab cd ab"]
    k = CountVectorizer(token_pattern=r"\b\w\w+\b")
    r = sk.CountVectorizer(token_pattern=r"\b\w\w+\b")
    assert_same_matrix(k.fit_transform(docs), r.fit_transform(docs))
    assert k.stratum_impl_ == "native"
    assert re.compile(r"\b\w\w+\b").findall("x\u0301yz") == ["yz"]


@pytest.mark.parametrize("dtype", ["category", "str", object])
def test_string_encoder_column_dtypes(dtype):
    col = pd.Series(["a b", None, "c d", "a b", "éé", ""], dtype=dtype, name="c")
    k = StringEncoder(n_components=2, random_state=0)
    r = skrub.StringEncoder(n_components=2, random_state=0)
    pd.testing.assert_frame_equal(k.fit_transform(col), r.fit_transform(col))
    pd.testing.assert_frame_equal(k.transform(col[::-1]), r.transform(col[::-1]))


def test_table_vectorizer_with_kernels():
    from stratum.lower.registry import default_registry

    rng = np.random.default_rng(0)
    words = np.array(["red", "blue", "Green", "naïve", "café", "x"])
    df = pd.DataFrame(
        {
            "text": [" ".join(rng.choice(words, 4)) for _ in range(200)],
            "num": rng.normal(size=200),
        }
    )
    ref = skrub.TableVectorizer(
        cardinality_threshold=5,
        high_cardinality=skrub.StringEncoder(random_state=0),
    )
    est, choices = default_registry().select(ref)
    assert any(c.implementation == "native" for c in choices)
    pd.testing.assert_frame_equal(est.fit_transform(df), ref.fit_transform(df))
