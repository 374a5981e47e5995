"""Python side of the native sparse kernels (``native/src/sparse.rs``):
products of sparse and dense matrices and row sorting, with scipy's results
bit for bit."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._dense import n_threads, native

__all__ = ["FLOATS", "SparseOperand", "astype_sorted"]

FLOATS = (np.float32, np.float64)


class SparseOperand:
    """A scipy CSR/CSC matrix whose products with dense matrices run natively.

    It offers what scikit-learn's ``_randomized_svd`` uses of its matrix:
    ``shape``, ``dtype``, ``T``, ``operand @ dense`` and ``dense @ operand``.
    A product is scipy's ``matrix @ dense``, bit for bit (a CSR matrix row
    by row, a CSC one column by column, as scipy does); one the kernel does
    not handle (another dtype, a 1-d operand) is computed by scipy.
    """

    __array_ufunc__ = None  # `ndarray @ operand` defers to __rmatmul__
    ndim = 2

    def __init__(self, matrix, transpose: SparseOperand | None = None):
        self.matrix = matrix
        self.shape = matrix.shape
        self.dtype = matrix.dtype
        self._transpose = transpose

    @property
    def T(self) -> SparseOperand:
        if self._transpose is None:
            self._transpose = SparseOperand(self.matrix.T, transpose=self)
        return self._transpose

    def __matmul__(self, other):
        m = self.matrix
        if not (
            isinstance(other, np.ndarray)
            and other.ndim == 2
            and other.dtype == self.dtype
            and other.shape[0] == self.shape[1]
            and m.format in ("csr", "csc")
            and m.indptr.dtype == m.indices.dtype
        ):
            return m @ other
        x = np.ascontiguousarray(other)
        out = np.empty((self.shape[0], x.shape[1]), dtype=self.dtype)
        # a CSC matrix's arrays are the CSR arrays of its transpose
        csc = m.format == "csc"
        native().csr_matmul(
            m.indptr,
            m.indices,
            np.ascontiguousarray(m.data),
            self.shape[0] if csc else self.shape[1],
            x,
            x.shape[1],
            out,
            n_threads(),
            transposed=csc,
        )
        return out

    def __rmatmul__(self, other):
        # scipy computes `dense @ sparse` as `(sparse.T @ dense.T).T`
        return (self.T @ np.asarray(other).T).T


def astype_sorted(X, dtype):
    """``X.astype(dtype)`` with the rows of a CSR matrix sorted natively.

    scipy's ``astype`` converts a copy, then brings it to canonical form,
    sorting its rows serially; here the same copy's rows without repeated
    columns are sorted first, in parallel (the same arrays result), and the
    rest is scipy's.
    """
    dtype = np.dtype(dtype)
    if not (
        native() is not None
        and sp.issparse(X)
        and X.format == "csr"
        and X.dtype != dtype
        and dtype in FLOATS
        and X.indptr.dtype == X.indices.dtype
    ):
        return X.astype(dtype)
    # scipy's astype, step by step
    copy = X._with_data(X.data.astype(dtype, casting="unsafe", copy=True), copy=True)
    if native().csr_sort_rows(
        copy.indptr, copy.indices, copy.data, copy.shape[1], n_threads()
    ):
        copy.has_sorted_indices = True
    return copy._with_data(copy._deduped_data(), copy=False)
