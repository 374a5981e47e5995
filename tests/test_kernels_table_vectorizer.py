"""Differential tests: the native ``CleanNullStrings`` and the
``TableVectorizer`` that uses it, against skrub on the same inputs.

Outputs must be identical (``assert_series_equal`` / ``assert_frame_equal``
with exact dtypes and values), and ``stratum_impl_`` must say the native
code ran wherever the input is supported.
"""

from __future__ import annotations

import decimal
import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest
import skrub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skrub._clean_null_strings import STR_NA_VALUES
from skrub._clean_null_strings import CleanNullStrings as SkrubCleanNullStrings

import stratum.kernels as K
from stratum.bench import data
from stratum.kernels._dense import native
from stratum.lower.registry import default_registry, ran

pytestmark = pytest.mark.skipif(native() is None, reason="native extension not built")

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Whitespace of every kind Python's ``\s`` knows and some it does not
# (zero-width space, Mongolian vowel separator), null strings in and out of
# the list, Unicode, emoji and combining marks.
BLANKS = [
    "",
    " ",
    "\t\n",
    "\u3000",
    "\xa0 ",
    "\x1c",
    "\x85",
    "\u2029",
    "\u200b",
    "\u180e",
]
WORDS = BLANKS + STR_NA_VALUES + ["n/a ", "NULL!", "é", "é", "😀", "日本", "a\u0000b"]
cell = st.one_of(
    st.sampled_from(WORDS),
    st.text(max_size=4),
    st.text(alphabet=" \t\n\r\x0b\x0c\u3000\u2028", max_size=3),
    st.none(),
    st.just(float("nan")),
)
# pandas' default "str" (pyarrow-backed when pyarrow is installed, as with
# the test extra) and both storages of the "string" dtype.
DTYPES = [object, "str", pd.StringDtype("python")]
if importlib.util.find_spec("pyarrow") is not None:
    DTYPES.append(pd.StringDtype("pyarrow"))


def column(cells, dtype, name="c") -> pd.Series:
    if dtype is object:
        return pd.Series(np.array(cells, dtype=object), name=name, dtype=object)
    return pd.Series(cells, name=name, dtype=dtype)


def check_same(col: pd.Series, null_strings=None, expect_native=True) -> None:
    expected = SkrubCleanNullStrings(null_strings=null_strings).fit_transform(
        col.copy()
    )
    before = col.copy()
    kernel = K.CleanNullStrings(null_strings=null_strings)
    out = kernel.fit_transform(col)
    pd.testing.assert_series_equal(out, expected)
    pd.testing.assert_series_equal(col, before)  # the input is not modified
    assert (kernel.stratum_impl_ == "native") == expect_native, kernel.stratum_impl_
    pd.testing.assert_series_equal(kernel.transform(col), expected)


@SETTINGS
@given(cells=st.lists(cell, max_size=40), dtype=st.sampled_from(DTYPES))
def test_clean_null_strings_matches_skrub(cells, dtype):
    check_same(column(cells, dtype))


@SETTINGS
@given(
    cells=st.lists(cell, min_size=1, max_size=20),
    extra=st.one_of(
        st.sampled_from(["?", "missing", "", " ", "é"]), st.lists(st.text(max_size=3))
    ),
)
def test_clean_null_strings_extra_null_strings(cells, extra):
    check_same(column(cells, object), null_strings=extra)


def test_every_code_point_is_blank_exactly_as_python_says():
    # One cell per code point, alone, repeated and after a space.
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    cells = chars + [c * 3 for c in chars[:0x3100]] + [" " + c for c in chars[:0x3100]]
    check_same(column(cells, object))


def test_strings_that_cannot_be_utf8_run_skrubs_code():
    check_same(column(["\ud800", " ", "NA"], object), expect_native=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "cells",
    [
        [],
        [" "],
        ["x"],
        [None],
        ["NA"] * 5,
        ["same"] * 100,
    ],
)
def test_small_and_constant_columns(cells, dtype):
    check_same(column(cells, dtype))


def test_high_cardinality_column():
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}é" for i in range(100_000)] + WORDS, dtype=object)
    cells = words[rng.integers(0, len(words), 200_000)]
    cells[rng.random(len(cells)) < 0.05] = None
    for dtype in DTYPES:
        check_same(column(cells, dtype))


def test_numbers_and_bools_in_object_columns_are_kept():
    cells = [1, 2.5, True, False, np.nan, None, "NA", " ", 10**30]
    check_same(column(cells, object), expect_native=False)


class Tag(str):
    pass


@pytest.mark.parametrize(
    "odd",
    [decimal.Decimal("1"), b"NA", Tag("NA"), np.str_("NA"), pd.Timestamp(0), pd.NA],
)
def test_other_cell_types_run_skrubs_code(odd):
    col = column(["NA", " ", "x", odd], object)
    check_same(col, expect_native=False)
    kernel = K.CleanNullStrings()
    kernel.fit_transform(col)
    assert "other than str" in kernel.stratum_impl_


def test_non_string_columns_are_rejected_like_skrubs():
    from skrub._single_column_transformer import RejectColumn

    fitted = K.CleanNullStrings().fit(pd.Series(["a"], dtype=object))
    reference = SkrubCleanNullStrings().fit(pd.Series(["a"], dtype=object))
    for col in (pd.Series([1.5, None]), pd.Series(["a", ""], dtype="category")):
        with pytest.raises(RejectColumn):
            K.CleanNullStrings().fit_transform(col)
        # transform passes them through, as skrub does
        pd.testing.assert_series_equal(fitted.transform(col), reference.transform(col))


def frames():
    houses = data.make_house_prices(3_000, seed=1).drop(columns="price")
    reviews = data.make_reviews(2_000, seed=2).drop(columns="label")
    messy = pd.DataFrame(
        {
            "city": pd.Series(
                ["Paris", " ", "N/A", None, "Zürich", "nan"] * 50, dtype=object
            ),
            "code": pd.Series(["1", "2", "", "?", "3", "4"] * 50, dtype="str"),
            "num": np.arange(300.0),
        }
    )
    return {"houses": houses, "reviews": reviews, "messy": messy}


@pytest.mark.parametrize("name", ["houses", "reviews", "messy"])
@pytest.mark.parametrize(
    "params",
    [
        {"high_cardinality": skrub.StringEncoder(random_state=0)},
        {"high_cardinality": skrub.StringEncoder(n_components=4, random_state=0)},
        {"high_cardinality": "drop", "null_strings": ["Zürich"]},
    ],
    ids=["default", "string-encoder", "null-strings"],
)
# (skrub's default StringEncoder is unseeded, so it is seeded here.)
def test_table_vectorizer_matches_skrub(name, params):
    df = frames()[name]
    train, test = df.iloc[: len(df) // 2], df.iloc[len(df) // 2 :]
    expected_tv = skrub.TableVectorizer(**params)
    expected = expected_tv.fit_transform(train)
    tv, choices = default_registry().select(skrub.TableVectorizer(**params))
    assert type(tv) is K.TableVectorizer
    out = tv.fit_transform(train)
    pd.testing.assert_frame_equal(out, expected)
    pd.testing.assert_frame_equal(tv.transform(test), expected_tv.transform(test))
    assert repr(tv.all_processing_steps_) == repr(expected_tv.all_processing_steps_)
    assert tv.column_to_kind_ == expected_tv.column_to_kind_
    reports = ran(tv)
    assert "CleanNullStrings: native" in reports, reports
    assert not [r for r in reports if "reference" in r], reports


def test_registry_selects_the_vectorizer_and_its_encoder():
    tv = skrub.TableVectorizer(high_cardinality=skrub.StringEncoder())
    selected, choices = default_registry().select(tv)
    assert type(selected.high_cardinality) is K.StringEncoder
    assert {c.path: c.implementation for c in choices} == {
        "TableVectorizer": "native",
        "TableVectorizer.low_cardinality": "native",
        "TableVectorizer.high_cardinality": "native",
    }
    assert type(tv) is skrub.TableVectorizer  # the user's object is untouched
