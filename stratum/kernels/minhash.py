"""skrub's ``MinHashEncoder`` with its hashes computed natively.

skrub hashes each distinct string of a column in Python (numpy ``correlate``
per seed and n-gram size for ``hashing="fast"``, one ``murmurhash3_32`` call
per n-gram and component for ``"murmur"``). Here the distinct strings
(skrub's ``unique_strings``, nulls being the empty string) are hashed in Rust
on ``stratum._threads.thread_budget()`` threads with the GIL released, with
the same arithmetic (the fast hash's atoms are skrub's ``gen_atom`` arrays,
the murmur n-grams come from the strings Python lowercases and splits as
skrub's ``get_unique_ngrams`` does); the rows and the output DataFrame are
then built by skrub's own expressions, so the result is skrub's, bit for bit.
``fit`` is skrub's. The hash cache ``hash_dict_`` is not filled (results do
not depend on it) and ``n_jobs`` is not used (skrub's results do not depend
on it either).

Anything else runs skrub's ``transform``: other skrub versions, parameters
outside what the native code implements, columns of values that are not
``str`` (a categorical of numbers), and strings without a UTF-8 form (lone
surrogates, on which skrub raises). ``stratum_impl_`` says which ran.
"""

from __future__ import annotations

import functools
from numbers import Integral
from typing import Any

import numpy as np
import skrub
from sklearn.utils.validation import check_is_fitted

from stratum._threads import thread_budget

try:
    from stratum import _native
except ImportError:  # a source tree without the compiled extension
    _native = None

__all__ = ["MinHashEncoder"]

NATIVE = "native"
_SUPPORTED_SKRUB = "0.11."


def _skrub_helpers():
    from skrub import _dataframe as sbd
    from skrub._utils import unique_strings

    return sbd, unique_strings


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


@functools.lru_cache(maxsize=64)
def _atoms(n_seeds: int, min_n: int, max_n: int) -> np.ndarray:
    """skrub's ``gen_atom(n, seed)`` for each seed, sizes ``min_n..max_n``,
    concatenated in that order (the layout the native code reads)."""
    from skrub._fast_hash import gen_atom

    atoms = np.concatenate(
        [
            gen_atom(n, seed=seed)
            for seed in range(n_seeds)
            for n in range(min_n, max_n + 1)
        ]
    ).astype(np.int32, copy=False)
    atoms.flags.writeable = False
    return atoms


def _padded(string: str) -> str:
    """The string whose n-grams skrub's ``get_unique_ngrams`` takes ("" for
    an empty string, which skrub encodes as zeros)."""
    if not string:
        return ""
    return " " + " ".join(string.lower().split()) + " "


class MinHashEncoder(skrub.MinHashEncoder):
    """skrub's ``MinHashEncoder`` whose hashing runs natively.

    Same parameters, attributes and outputs as :class:`skrub.MinHashEncoder`;
    ``stratum_impl_`` says whether the native code or skrub's ran.
    """

    reference = skrub.MinHashEncoder

    @classmethod
    def unsupported(cls, estimator: Any) -> str | None:
        """Why ``estimator``'s parameters cannot run natively, or None."""
        if not skrub.__version__.startswith(_SUPPORTED_SKRUB):
            return f"skrub {skrub.__version__} is not supported"
        if _native is None or not hasattr(_native, "minhash_fast"):
            return "the native extension is not built"
        if estimator.hashing not in ("fast", "murmur"):
            return f"hashing={estimator.hashing!r}"
        k = estimator.n_components
        if not _is_int(k) or k < 1:
            return f"n_components={k!r}"
        if estimator.hashing == "fast" and estimator.minmax_hash and k % 2:
            return f"minmax_hash with n_components={k!r}"
        ngram = estimator.ngram_range
        if not (
            isinstance(ngram, tuple | list)
            and len(ngram) == 2
            and all(map(_is_int, ngram))
            and 1 <= ngram[0] <= ngram[1]
        ):
            return f"ngram_range={ngram!r}"
        return None

    def transform(self, X: Any):
        """Encode a column (see skrub's docstring)."""
        check_is_fitted(self, "hash_dict_")
        sbd, unique_strings = _skrub_helpers()
        reason = self.unsupported(self)
        if reason is None and self.n_components != self.n_components_:
            reason = "n_components changed after fit"
        if reason is None and not (sbd.is_categorical(X) or sbd.is_string(X)):
            reason = "not a string column"
        if reason is None:
            X_values = sbd.to_numpy(X)
            is_null = sbd.to_numpy(sbd.is_null(X))
            unique_x, indices_x = unique_strings(X_values, is_null)
            hashes, reason = self._hashes(unique_x)
        if reason is not None:
            self.stratum_impl_ = f"reference: {reason}"
            return super().transform(X)
        X_out = hashes[indices_x]
        names = self.get_feature_names_out()
        result = sbd.make_dataframe_like(X, dict(zip(names, X_out.T)))
        result = sbd.copy_index(X, result)
        self.stratum_impl_ = NATIVE
        return result

    def _hashes(self, unique_x: np.ndarray) -> tuple[np.ndarray | None, str | None]:
        """The float32 encodings of the distinct strings, or why not."""
        if len(unique_x) == 0:
            return None, "empty column"
        strings = unique_x.tolist()
        kinds = set(map(type, strings))
        if kinds != {str}:
            other = sorted(k.__name__ for k in kinds if k is not str)
            return None, f"values of type {', '.join(other)}"
        lo, hi = (int(n) for n in self.ngram_range)
        k = int(self.n_components)
        out = np.empty((len(strings), k), dtype=np.float32)
        try:
            if self.hashing == "fast":
                n_seeds = k // 2 if self.minmax_hash else k
                atoms = _atoms(n_seeds, lo, hi)
                _native.minhash_fast(
                    strings, atoms, lo, hi, bool(self.minmax_hash), out, thread_budget()
                )
            else:
                padded = [_padded(s) for s in strings]
                _native.minhash_murmur(padded, lo, hi, k, out, thread_budget())
        except UnicodeEncodeError:
            return None, "strings with lone surrogates"
        return out, None
