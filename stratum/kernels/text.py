"""Native text vectorizers, drop-in replacements for scikit-learn's.

``CountVectorizer``, ``TfidfVectorizer`` and ``HashingVectorizer`` subclass
scikit-learn's classes and keep their parameters; tokenization, n-grams,
counting and hashing run in Rust (``stratum._native``) on
``stratum._threads.thread_budget()`` threads with the GIL released. The
results are scikit-learn's: same vocabulary (and dict order), same CSR arrays
(row order included), same ``idf_``. Pruning by ``min_df``/``max_df``/
``max_features`` reuses scikit-learn's numpy expressions so that ties break
the same way; ``idf_`` comes from ``TfidfTransformer.fit``'s numpy operations
on the natively counted document frequencies, and the weighting is
``TfidfTransformer.transform`` itself.

Parameters the native path does not implement (a callable analyzer,
tokenizer or preprocessor, another token pattern, ``input`` other than
"content", ...) and documents it cannot read (anything but ``str``) make the
estimator run scikit-learn's own code; ``stratum_impl_`` records which ran.
"""

from __future__ import annotations

import functools
import re
import warnings
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import _fit_context
from sklearn.feature_extraction import text as _sktext
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize
from sklearn.utils._sparse import _align_api_if_sparse
from sklearn.utils.validation import check_is_fitted

from stratum._threads import thread_budget

try:
    from stratum import _native
except ImportError:  # a source tree without the compiled extension
    _native = None

__all__ = ["CountVectorizer", "TfidfVectorizer", "HashingVectorizer"]

NATIVE = "native"
_DEFAULT_TOKEN_PATTERNS = (r"(?u)\b\w\w+\b", r"\b\w\w+\b")
_COUNT_DTYPES = ("int64", "int32", "float64", "float32")
_HASH_DTYPES = ("float64", "float32")


@functools.cache
def char_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per-code-point flags and lowercase map of the running interpreter.

    Flags (uint8): 1 for ``re``'s ``\\w``, 2 for ``\\s``, 4 when ``str.lower``
    maps the code point to one other code point (given by the uint32 map),
    8 when it maps it to several or depends on context (capital sigma's
    final form); text with the latter is lowercased by Python itself. Built
    from ``re`` and ``str.lower``, so the native code agrees with them on
    every code point, Unicode version included.
    """
    codes = np.arange(0x110000, dtype="<u4")
    everything = codes.tobytes().decode("utf-32-le", "surrogatepass")
    flags = np.zeros(0x110000, dtype=np.uint8)
    for pattern, bit in ((r"\w+", 1), (r"\s+", 2)):
        for m in re.finditer(pattern, everything):
            flags[m.start() : m.end()] |= bit
    lower_map = codes.copy()
    block = 4096
    for start in range(0, 0x110000, block):
        text = everything[start : start + block]
        lowered = text.lower()
        if len(lowered) == len(text):
            # One code point each: compare them in place.
            mapped = np.frombuffer(lowered.encode("utf-32-le", "surrogatepass"), "<u4")
            changed = np.flatnonzero(mapped != codes[start : start + len(text)])
            flags[start + changed] |= 4
            lower_map[start + changed] = mapped[changed]
            continue
        for offset, c in enumerate(text):
            low = c.lower()
            if low != c:
                if len(low) == 1:
                    flags[start + offset] |= 4
                    lower_map[start + offset] = ord(low)
                else:
                    flags[start + offset] |= 8
    flags[ord("\N{GREEK CAPITAL LETTER SIGMA}")] |= 8
    return flags, lower_map


@functools.cache
def _native_char_tables() -> Any:
    """:func:`char_tables` copied once into the native ``CharTables`` that
    every analyzer shares."""
    return _native.CharTables(*char_tables())


def _dtype_name(dtype: Any) -> str | None:
    try:
        return np.dtype(dtype).name
    except TypeError:
        return None


def analysis_reason(est: Any) -> str | None:
    """Why ``est``'s analysis parameters cannot run natively (None: they can)."""
    if _native is None or not hasattr(_native, "TextAnalyzer"):
        return "the native extension is not built"
    if est.input != "content":
        return f"input={est.input!r}"
    if callable(est.analyzer):
        return "analyzer is a callable"
    if est.analyzer not in ("word", "char", "char_wb"):
        return f"analyzer={est.analyzer!r}"
    if est.preprocessor is not None:
        return "preprocessor is set"
    if est.strip_accents and est.strip_accents not in ("ascii", "unicode"):
        return f"strip_accents={est.strip_accents!r}"
    ngram = est.ngram_range
    if not (
        isinstance(ngram, tuple)
        and len(ngram) == 2
        and all(isinstance(n, Integral) and not isinstance(n, bool) for n in ngram)
        and 1 <= ngram[0] <= ngram[1]
    ):
        return f"ngram_range={ngram!r}"
    if est.analyzer == "word":
        if est.tokenizer is not None:
            return "tokenizer is set"
        if est.token_pattern not in _DEFAULT_TOKEN_PATTERNS:
            return f"token_pattern={est.token_pattern!r}"
        stop = est.stop_words
        if isinstance(stop, str) and stop != "english":
            return f"stop_words={stop!r}"
    return None


def documents(raw: Any) -> tuple[list | None, list, str | None]:
    """The documents as a list, and why they cannot be analyzed natively.

    Returns ``(native_docs, docs, reason)``: ``docs`` replaces ``raw`` (an
    iterator is consumed), ``native_docs`` is ``docs`` when every document is
    a ``str`` (None otherwise, with ``reason``).
    """
    if isinstance(raw, str):
        return None, raw, "a single string was passed"
    if isinstance(raw, np.ndarray) and raw.ndim == 1:
        docs = raw.tolist()
    elif isinstance(raw, pd.Series) and isinstance(raw.dtype, pd.StringDtype):
        # The same objects as iterating the Series, without a Python call each.
        docs = raw.to_numpy(dtype=object).tolist()
    else:
        docs = list(raw)
    if not docs:
        return None, docs, "no documents"
    kinds = set(map(type, docs))
    if kinds != {str}:
        other = sorted(k.__name__ for k in kinds if k is not str)
        return None, docs, f"documents of type {', '.join(other)}"
    return docs, docs, None


# The attribute that keeps an estimator's native analyzer, with the parameters
# it was built from.
_ANALYZER = "_stratum_analyzer"


class _NativeAnalysis:
    """Native analysis shared by the three vectorizers."""

    def _native_analyzer(self) -> Any:
        """The native ``TextAnalyzer`` of the current parameters, after
        scikit-learn's checks.

        Calls ``build_analyzer`` for its validation and warnings (stop words
        consistency), exactly once per call as scikit-learn does. The native
        analyzer is built once and kept on the estimator (``_ANALYZER``, not a
        parameter, so ``clone`` leaves it behind and pickling drops it) until
        a parameter it depends on changes.
        """
        self.build_analyzer()
        lower = bool(self.lowercase)
        stop = None
        if self.analyzer == "word":
            words = self.get_stop_words()
            if words is not None:
                stop = [w for w in words if isinstance(w, str)]
        lo, hi = int(self.ngram_range[0]), int(self.ngram_range[1])
        key = (self.analyzer, lo, hi, lower, self.strip_accents, stop)
        cached = self.__dict__.get(_ANALYZER)
        if cached is not None and cached[0] == key:
            return cached[1]
        if self.strip_accents:
            preprocess = self.build_preprocessor()
        else:
            # What scikit-learn's preprocessor reduces to, without its wrapper.
            preprocess = str.lower if lower else None
        analyzer = _native.TextAnalyzer(
            _native_char_tables(), self.analyzer, lo, hi, stop, lower, preprocess
        )
        setattr(self, _ANALYZER, (key, analyzer))
        return analyzer

    def __getstate__(self) -> dict:
        # The native analyzer does not pickle; it is rebuilt when next needed.
        state = super().__getstate__()
        if _ANALYZER in state:
            state = {k: v for k, v in state.items() if k != _ANALYZER}
        return state

    def _fall_back(self, reason: str) -> None:
        """Record that scikit-learn's code runs this call, and why."""
        self.stratum_impl_ = f"reference: {reason}"

    def _rerun(self, method: Any, raw: list) -> Any:
        """Run scikit-learn's ``method`` after the native code refused ``raw``.

        Only lone surrogates (text without a UTF-8 form) get here. The checks
        already done warned as scikit-learn's would; their repeats are muted.
        """
        self._fall_back("documents with lone surrogates")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return method(self, raw)


def _csr(arrays: tuple, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indptr, indices, data, width = arrays
    idx = np.int64 if width == 8 else np.int32
    return (
        np.frombuffer(indptr, dtype=idx),
        np.frombuffer(indices, dtype=idx),
        np.frombuffer(data, dtype=dtype),
    )


class _NativeCounts(_NativeAnalysis):
    """Native ``CountVectorizer.fit_transform`` / ``transform``."""

    def _count_reason(self) -> str | None:
        reason = analysis_reason(self)
        if reason is None and _dtype_name(self.dtype) not in _COUNT_DTYPES:
            reason = f"dtype={self.dtype!r}"
        return reason

    def _counts_fit_transform(self, raw_documents: Any):
        """Count matrix of CountVectorizer.fit_transform."""
        return self._counts_and_dfs(raw_documents)[0]

    def _counts_and_dfs(self, raw_documents: Any):
        """The count matrix and, when the native fit learned the vocabulary,
        its columns' document frequencies (None otherwise)."""
        reason = self._count_reason()
        docs, raw, doc_reason = documents(raw_documents)
        reason = reason or doc_reason
        if reason is None and self.vocabulary is not None:
            reason = _vocabulary_reason(self.vocabulary)
        if reason is not None:
            self._fall_back(reason)
            return _sktext.CountVectorizer.fit_transform(self, raw), None
        if not get_config()["skip_parameter_validation"]:
            self._validate_params()
        self._validate_ngram_range()
        self._warn_for_unused_params()
        self._validate_vocabulary()
        if self.fixed_vocabulary_ and self.lowercase:
            for term in self.vocabulary:
                if any(map(str.isupper, term)):
                    _warn_upper_vocabulary()
                    break
        dfs = None
        try:
            if self.fixed_vocabulary_:
                X = self._native_transform(docs)
            else:
                X, dfs = self._native_fit(docs)
        except UnicodeEncodeError:
            return self._rerun(_sktext.CountVectorizer.fit_transform, raw), None
        self.stratum_impl_ = NATIVE
        return _align_api_if_sparse(X), dfs

    def _native_fit(self, docs: list):
        dtype = _dtype_name(self.dtype)
        n_doc = len(docs)
        max_df, min_df, limit = self.max_df, self.min_df, self.max_features
        high = max_df if isinstance(max_df, Integral) else max_df * n_doc
        low = min_df if isinstance(min_df, Integral) else min_df * n_doc
        # Every term is in 1 to n_doc documents: with such bounds and no
        # max_features nothing is pruned, and the native code can emit the
        # final (sorted) columns directly.
        keep_all = limit is None and high >= n_doc and low <= 1
        out = self._native_analyzer().count_fit(docs, dtype, keep_all, thread_budget())
        terms, ranks = out[0], np.frombuffer(out[1], dtype=np.uint32)
        indptr, indices, data = _csr(out[3:], dtype)
        if not terms:
            raise ValueError(
                "empty vocabulary; perhaps the documents only contain stop words"
            )
        if self.binary:
            data.fill(1)
        if high < low:
            raise ValueError("max_df corresponds to < documents than min_df")
        n_terms = len(terms)
        # Document frequencies in sorted-term order: the column order that
        # scikit-learn's _limit_features (and its max_features tie-breaking)
        # sees.
        dfs = np.empty(n_terms, dtype=np.intp)
        dfs[ranks] = np.frombuffer(out[2], dtype=np.int64)
        if keep_all:
            self.vocabulary_ = dict(zip(terms, ranks.tolist()))
            X = sp.csr_array(
                (data, indices, indptr), shape=(n_doc, n_terms), copy=False
            )
            return X, dfs
        mask = np.ones(n_terms, dtype=bool)
        mask &= dfs <= high
        mask &= dfs >= low
        if limit is not None and mask.sum() > limit:
            sorted_cols = sp.csr_array(
                (data, ranks[indices], indptr), shape=(n_doc, n_terms), copy=False
            )
            tfs = np.asarray(sorted_cols.sum(axis=0)).ravel()
            mask_inds = (-tfs[mask]).argsort()[:limit]
            new_mask = np.zeros(n_terms, dtype=bool)
            new_mask[np.where(mask)[0][mask_inds]] = True
            mask = new_mask
        new_indices = np.cumsum(mask) - 1
        kept = mask[ranks]
        if not kept.any():
            raise ValueError(
                "After pruning, no terms remain. Try a lower min_df or a higher max_df."
            )
        final = np.where(kept, new_indices[ranks], -1)
        columns = final[indices]
        if kept.all():
            indices = columns.astype(indices.dtype)
        else:
            keep = columns >= 0
            cum = np.zeros(len(columns) + 1, dtype=np.int64)
            np.cumsum(keep, out=cum[1:])
            indptr = cum[indptr].astype(indptr.dtype)
            indices = columns[keep].astype(indices.dtype)
            data = data[keep]
        kept_terms = [t for t, k in zip(terms, kept.tolist()) if k]
        values = final[kept]
        kept_dfs = dfs[mask]
        # scikit-learn stores numpy integers when max_features is set (its
        # _limit_features runs last then), Python ints otherwise.
        self.vocabulary_ = dict(
            zip(kept_terms, values if limit is not None else values.tolist())
        )
        X = sp.csr_array(
            (data, indices, indptr), shape=(n_doc, len(kept_terms)), copy=False
        )
        return X, kept_dfs

    def _native_transform(self, docs: list):
        dtype = _dtype_name(self.dtype)
        vocab = self.vocabulary_
        terms = list(vocab)
        columns = np.fromiter(vocab.values(), dtype=np.int64, count=len(terms))
        out = self._native_analyzer().count_transform(
            docs, terms, columns, dtype, thread_budget()
        )
        indptr, indices, data = _csr(out, dtype)
        if self.binary:
            data.fill(1)
        return sp.csr_array(
            (data, indices, indptr), shape=(len(docs), len(vocab)), copy=False
        )

    def _counts_transform(self, raw_documents: Any):
        reason = self._count_reason()
        docs, raw, doc_reason = documents(raw_documents)
        reason = reason or doc_reason
        if reason is None and hasattr(self, "vocabulary_"):
            reason = _vocabulary_reason(self.vocabulary_)
        if reason is not None:
            self._fall_back(reason)
            return _sktext.CountVectorizer.transform(self, raw)
        self._check_vocabulary()
        try:
            X = self._native_transform(docs)
        except UnicodeEncodeError:
            return self._rerun(_sktext.CountVectorizer.transform, raw)
        self.stratum_impl_ = NATIVE
        return _align_api_if_sparse(X)


def _vocabulary_reason(vocabulary: Any) -> str | None:
    keys = vocabulary.keys() if hasattr(vocabulary, "keys") else vocabulary
    try:
        if all(type(t) is str for t in keys):
            return None
    except TypeError:
        pass
    return "vocabulary has terms that are not str"


def _warn_upper_vocabulary() -> None:
    warnings.warn(
        "Upper case characters found in"
        " vocabulary while 'lowercase'"
        " is True. These entries will not"
        " be matched with any documents"
    )


class CountVectorizer(_NativeCounts, _sktext.CountVectorizer):
    """scikit-learn's ``CountVectorizer`` with native tokenization and counting.

    Same parameters, attributes and outputs as
    :class:`sklearn.feature_extraction.text.CountVectorizer`;
    ``stratum_impl_`` says whether the native code or scikit-learn's ran.
    """

    reference = _sktext.CountVectorizer

    @classmethod
    def unsupported(cls, estimator: Any) -> str | None:
        """Why ``estimator``'s parameters cannot run natively, or None."""
        return _NativeCounts._count_reason(estimator)

    def fit(self, raw_documents: Any, y: Any = None) -> CountVectorizer:
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None):
        return self._counts_fit_transform(raw_documents)

    def transform(self, raw_documents: Any):
        return self._counts_transform(raw_documents)


class TfidfVectorizer(_NativeCounts, _sktext.TfidfVectorizer):
    """scikit-learn's ``TfidfVectorizer`` with native tokenization and counting.

    The term weighting is scikit-learn's ``TfidfTransformer``; the counts it
    weights are computed natively (see :class:`CountVectorizer`).
    """

    reference = _sktext.TfidfVectorizer

    @classmethod
    def unsupported(cls, estimator: Any) -> str | None:
        """Why ``estimator``'s parameters cannot run natively, or None."""
        return _NativeCounts._count_reason(estimator)

    def _new_tfidf(self) -> None:
        self._tfidf = TfidfTransformer(
            norm=self.norm,
            use_idf=self.use_idf,
            smooth_idf=self.smooth_idf,
            sublinear_tf=self.sublinear_tf,
        )

    def _fit_idf(self, X, dfs: np.ndarray | None) -> None:
        """``self._tfidf.fit(X)``, from ``X``'s document frequencies if known.

        The same numpy operations as ``TfidfTransformer.fit`` on the same
        document frequencies, without its passes over ``X``.
        """
        tfidf = self._tfidf
        if dfs is None:
            tfidf.fit(X)
            return
        if not get_config()["skip_parameter_validation"]:
            tfidf._validate_params()
        tfidf.n_features_in_ = X.shape[1]
        if tfidf.use_idf:
            dtype = X.dtype if X.dtype in (np.float64, np.float32) else np.float64
            n_samples = X.shape[0]
            df = dfs.astype(dtype, copy=False)
            df += float(tfidf.smooth_idf)
            n_samples += int(tfidf.smooth_idf)
            idf = np.full_like(df, fill_value=n_samples, dtype=dtype)
            idf /= df
            np.log(idf, out=idf)
            idf += 1.0
            tfidf.idf_ = idf

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, raw_documents: Any, y: Any = None) -> TfidfVectorizer:
        self._check_params()
        self._warn_for_unused_params()
        self._new_tfidf()
        X, dfs = self._counts_and_dfs(raw_documents)
        self._fit_idf(X, dfs)
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None):
        self._check_params()
        self._new_tfidf()
        X, dfs = self._counts_and_dfs(raw_documents)
        self._fit_idf(X, dfs)
        return self._tfidf.transform(X, copy=False)

    def transform(self, raw_documents: Any):
        check_is_fitted(self, msg="The TF-IDF vectorizer is not fitted")
        X = self._counts_transform(raw_documents)
        return self._tfidf.transform(X, copy=False)


class HashingVectorizer(_NativeAnalysis, _sktext.HashingVectorizer):
    """scikit-learn's ``HashingVectorizer`` with native tokenization and hashing.

    Features are hashed with the signed 32-bit MurmurHash3 of their UTF-8
    bytes (seed 0), exactly as ``sklearn.utils.murmurhash3_32``.
    """

    reference = _sktext.HashingVectorizer

    @classmethod
    def unsupported(cls, estimator: Any) -> str | None:
        """Why ``estimator``'s parameters cannot run natively, or None."""
        reason = analysis_reason(estimator)
        if reason is None and _dtype_name(estimator.dtype) not in _HASH_DTYPES:
            reason = f"dtype={estimator.dtype!r}"
        return reason

    def fit_transform(self, X: Any, y: Any = None):
        _, docs, _ = documents(X)
        return self.fit(docs, y).transform(docs)

    def transform(self, X: Any):
        reason = self.unsupported(self)
        docs, raw, doc_reason = documents(X)
        reason = reason or doc_reason
        if reason is not None:
            self.stratum_impl_ = f"reference: {reason}"
            return _sktext.HashingVectorizer.transform(self, raw)
        self._validate_ngram_range()
        dtype = _dtype_name(self.dtype)
        try:
            out = self._native_analyzer().hash(
                docs,
                int(self.n_features),
                bool(self.alternate_sign),
                dtype,
                thread_budget(),
            )
        except UnicodeEncodeError:
            return self._rerun(_sktext.HashingVectorizer.transform, raw)
        indptr, indices, data = _csr(out, dtype)
        X = sp.csr_array(
            (data, indices, indptr),
            shape=(len(docs), int(self.n_features)),
            copy=False,
        )
        if self.binary:
            X.data.fill(1)
        if self.norm is not None:
            X = normalize(X, norm=self.norm, copy=False)
        self.stratum_impl_ = NATIVE
        return _align_api_if_sparse(X)
