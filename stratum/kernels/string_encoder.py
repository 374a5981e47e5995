"""skrub's ``StringEncoder`` with a native vectorizer and SVD.

The subclass runs skrub's own steps (``ToStr``, null filling, float32 cast,
the scaling factor, column naming) around stratum's native
``TfidfVectorizer`` / ``HashingVectorizer`` and ``TruncatedSVD``, which give
scikit-learn's results exactly, so the embeddings are skrub's for the same
``random_state``; the float32 cast sorts the matrix's rows natively
(scipy's cast sorts them serially). ``transform`` is skrub's, with the same
native steps. It relies on skrub's private helpers of the pinned skrub
version (0.11); any other version runs skrub's code unchanged.
"""

from __future__ import annotations

import warnings
from typing import Any

import skrub
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.pipeline import Pipeline

from stratum.kernels._sparse import astype_sorted
from stratum.kernels.svd import TruncatedSVD
from stratum.kernels.text import HashingVectorizer, TfidfVectorizer

__all__ = ["StringEncoder"]

_SUPPORTED_SKRUB = "0.11."


def _skrub_helpers():
    from skrub import _dataframe as sbd
    from skrub._scaling_factor import scaling_factor
    from skrub._to_str import ToStr

    return sbd, scaling_factor, ToStr


class StringEncoder(skrub.StringEncoder):
    """skrub's ``StringEncoder`` whose TF-IDF / hashing step and SVD run
    natively.

    Same parameters, attributes and outputs as :class:`skrub.StringEncoder`;
    ``stratum_impl_`` says which vectorizer code ran, ``tsvd_.stratum_impl_``
    which SVD code.
    """

    reference = skrub.StringEncoder

    @classmethod
    def unsupported(cls, estimator: Any) -> str | None:
        """Why ``estimator``'s parameters cannot run natively, or None."""
        if not skrub.__version__.startswith(_SUPPORTED_SKRUB):
            return f"skrub {skrub.__version__} is not supported"
        if estimator.vectorizer not in ("tfidf", "hashing"):
            return f"vectorizer={estimator.vectorizer!r}"
        probe = TfidfVectorizer(
            ngram_range=estimator.ngram_range,
            analyzer=estimator.analyzer,
            stop_words=estimator.stop_words,
        )
        return TfidfVectorizer.unsupported(probe)

    def _native_vectorizer(self):
        if self.vectorizer == "tfidf":
            return TfidfVectorizer(
                ngram_range=self.ngram_range,
                analyzer=self.analyzer,
                stop_words=self.stop_words,
                vocabulary=self.vocabulary,
            )
        if self.vocabulary is not None:
            raise ValueError(
                "Custom vocabulary passed to StringEncoder, unsupported by"
                "HashingVectorizer. Rerun without a 'vocabulary' parameter."
            )
        return Pipeline(
            [
                (
                    "hashing",
                    HashingVectorizer(
                        ngram_range=self.ngram_range,
                        analyzer=self.analyzer,
                        stop_words=self.stop_words,
                    ),
                ),
                ("tfidf", TfidfTransformer()),
            ]
        )

    def fit_transform(self, X: Any, y: Any = None):
        """Fit the encoder and transform a column (see skrub's docstring)."""
        reason = self.unsupported(self)
        if reason is not None:
            self.stratum_impl_ = f"reference: {reason}"
            return super().fit_transform(X, y)
        del y
        sbd, scaling_factor, ToStr = _skrub_helpers()
        self.to_str = ToStr(convert_category=True)
        X_filled = self.to_str.fit_transform(X)
        X_filled = sbd.fill_nulls(X_filled, "")
        self.vectorizer_ = self._native_vectorizer()
        X_out = astype_sorted(self.vectorizer_.fit_transform(X_filled), "float32")
        del X_filled
        vec = self.vectorizer_
        if isinstance(vec, Pipeline):
            vec = vec.named_steps["hashing"]
        self.stratum_impl_ = vec.stratum_impl_

        if (min_shape := min(X_out.shape)) > self.n_components:
            self.tsvd_ = TruncatedSVD(
                n_components=self.n_components, random_state=self.random_state
            )
            result = self.tsvd_.fit_transform(X_out)
        elif X_out.shape[1] == self.n_components:
            result = X_out.toarray()
        else:
            warnings.warn(
                f"The matrix shape is {(X_out.shape)}, and its minimum is "
                f"{min_shape}, which is too small to fit a truncated SVD with "
                f"n_components={self.n_components}. "
                "The embeddings will be truncated by keeping the first "
                f"{self.n_components} dimensions instead. "
            )
            result = X_out[:, : self.n_components].toarray()
            result = result.copy()
        del X_out

        self.scaling_factor_ = scaling_factor(result)
        result /= self.scaling_factor_
        self.n_components_ = result.shape[1]
        self.input_name_ = sbd.name(X) or "string_enc"
        self.all_outputs_ = self.get_feature_names_out()
        return self._post_process(X, result)

    def transform(self, X: Any):
        """Transform a column (see skrub's docstring)."""
        if not hasattr(self, "stratum_impl_") or self.unsupported(self) is not None:
            return super().transform(X)
        sbd = _skrub_helpers()[0]
        if not (sbd.is_string(X) or sbd.is_categorical(X)):
            raise ValueError("Input column does not contain strings.")
        X_filled = sbd.fill_nulls(self.to_str.transform(X), "")
        X_out = astype_sorted(self.vectorizer_.transform(X_filled), "float32")
        del X_filled
        if hasattr(self, "tsvd_"):
            result = self.tsvd_.transform(X_out)
        else:
            result = X_out[:, : self.n_components].toarray()
        del X_out
        result /= self.scaling_factor_
        return self._post_process(X, result)
