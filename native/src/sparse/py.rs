//! Python binding of the sparse-dense product.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::{sort_rows, Csr, Index};
use crate::binding::{run, with_float, Float, FloatFn};
use crate::float::Real;
use crate::pybuf::{ContiguousBuffer, Item};

/// Raises ValueError when a written buffer shares memory with another one
/// (Rust's borrows of the two would alias).
fn check_disjoint(written: &ContiguousBuffer, others: &[&ContiguousBuffer]) -> PyResult<()> {
    let w = written.as_bytes().as_ptr_range();
    for other in others {
        let o = other.as_bytes().as_ptr_range();
        if w.start < o.end && o.start < w.end {
            return Err(PyValueError::new_err(
                "an output array shares memory with an input",
            ));
        }
    }
    Ok(())
}

/// The scalar arguments of `csr_matmul`.
#[derive(Clone, Copy)]
struct Product {
    n_cols: usize,
    n_vecs: usize,
    n_threads: usize,
    transposed: bool,
}

/// `out = A @ x` (or `A.T @ x`) with `A`'s indices read as `I`.
fn product<I: Index + Item, T: Real>(
    py: Python<'_>,
    (indptr, indices): (&ContiguousBuffer, &ContiguousBuffer),
    data: &[T],
    x: &[T],
    out: &mut [T],
    args: Product,
) -> PyResult<()> {
    let Product {
        n_cols,
        n_vecs,
        n_threads,
        transposed,
    } = args;
    let csr = Csr {
        n_cols,
        indptr: indptr.as_slice::<I>("indptr")?,
        indices: indices.as_slice::<I>("indices")?,
        data,
    };
    let work = data.len().saturating_mul(n_vecs);
    if transposed {
        run(py, 1, work, |_| csr.matmul_transposed(x, n_vecs, out))?
    } else {
        run(py, n_threads, work, |t| csr.matmul(t > 1, x, n_vecs, out))?
    }
    .map_err(PyValueError::new_err)
}

/// `csr_matmul` with `data`, `x` and `out` read as `T`, the indices as
/// int32 (format "i") or int64.
struct MatMul<'a, 'py> {
    py: Python<'py>,
    indptr: &'a ContiguousBuffer,
    indices: &'a ContiguousBuffer,
    data: &'a ContiguousBuffer,
    x: &'a ContiguousBuffer,
    out: &'a mut ContiguousBuffer,
    args: Product,
}

impl FloatFn for MatMul<'_, '_> {
    type Out = ();
    fn call<T: Float>(self) -> PyResult<()> {
        let (data, x) = (self.data.as_slice::<T>("data")?, self.x.as_slice::<T>("x")?);
        let out = self.out.as_mut_slice::<T>("out")?;
        let index = (self.indptr, self.indices);
        if self.indptr.format() == Some("i") {
            product::<i32, T>(self.py, index, data, x, out, self.args)
        } else {
            product::<i64, T>(self.py, index, data, x, out, self.args)
        }
    }
}

/// csr_matmul(indptr, indices, data, n_cols, x, n_vecs, out, n_threads, transposed=False)
///
/// `out = A @ x` for the CSR matrix `A` given by its arrays (int32 or int64
/// indices, float32 or float64 data) with `n_cols` columns, the C-contiguous
/// `n_cols x n_vecs` matrix `x` and the C-contiguous `n_rows x n_vecs`
/// `out`, all three of `data`'s type: scipy's `csr_matvecs` result, bit for
/// bit. With `transposed`, `out = A.T @ x` (`x`: `n_rows x n_vecs`, `out`:
/// `n_cols x n_vecs`), scipy's `csc_matvecs` result for the CSC matrix
/// `A.T`, which has these arrays. Computed with the GIL released, the
/// rows of `A @ x` on `n_threads` threads.
#[pyfunction]
#[pyo3(signature = (indptr, indices, data, n_cols, x, n_vecs, out, n_threads, transposed = false))]
#[allow(clippy::too_many_arguments)]
pub fn csr_matmul(
    py: Python<'_>,
    indptr: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    data: &Bound<'_, PyAny>,
    n_cols: usize,
    x: &Bound<'_, PyAny>,
    n_vecs: usize,
    out: &Bound<'_, PyAny>,
    n_threads: usize,
    transposed: bool,
) -> PyResult<()> {
    let p = ContiguousBuffer::get(indptr, "indptr")?;
    let i = ContiguousBuffer::get(indices, "indices")?;
    let d = ContiguousBuffer::get(data, "data")?;
    let xb = ContiguousBuffer::get(x, "x")?;
    let mut ob = ContiguousBuffer::get_writable(out, "out")?;
    check_disjoint(&ob, &[&p, &i, &d, &xb])?;
    let args = Product {
        n_cols,
        n_vecs,
        n_threads,
        transposed,
    };
    with_float(
        d.is_f32(),
        MatMul {
            py,
            indptr: &p,
            indices: &i,
            data: &d,
            x: &xb,
            out: &mut ob,
            args,
        },
    )
}

/// The row sort with the indices read as `I` and the data as `T`, on
/// `n_threads` threads.
fn sort<I: Index + Ord + Item, T: Float>(
    py: Python<'_>,
    n_cols: usize,
    (indptr, indices, data): (
        &ContiguousBuffer,
        &mut ContiguousBuffer,
        &mut ContiguousBuffer,
    ),
    n_threads: usize,
) -> PyResult<bool> {
    let indptr = indptr.as_slice::<I>("indptr")?;
    let indices = indices.as_mut_slice::<I>("indices")?;
    let data = data.as_mut_slice::<T>("data")?;
    run(py, n_threads, data.len(), |t| {
        sort_rows(t > 1, n_cols, indptr, indices, data)
    })?
    .map_err(PyValueError::new_err)
}

/// `csr_sort_rows` with the data read as `T`, the indices as int32 (format
/// "i") or int64.
struct SortRows<'a, 'py> {
    py: Python<'py>,
    indptr: &'a ContiguousBuffer,
    indices: &'a mut ContiguousBuffer,
    data: &'a mut ContiguousBuffer,
    n_cols: usize,
    n_threads: usize,
}

impl FloatFn for SortRows<'_, '_> {
    type Out = bool;
    fn call<T: Float>(self) -> PyResult<bool> {
        let SortRows {
            py,
            indptr,
            indices,
            data,
            n_cols,
            n_threads,
        } = self;
        let arrays = (indptr, indices, data);
        if indptr.format() == Some("i") {
            sort::<i32, T>(py, n_cols, arrays, n_threads)
        } else {
            sort::<i64, T>(py, n_cols, arrays, n_threads)
        }
    }
}

/// csr_sort_rows(indptr, indices, data, n_cols, n_threads) -> bool
///
/// Sorts each row of the CSR matrix given by its arrays by column index, in
/// place, with the GIL released on `n_threads` threads: scipy's
/// `sort_indices` for rows without repeated column indices (those are left
/// unsorted). Returns whether every row is now sorted.
#[pyfunction]
#[pyo3(signature = (indptr, indices, data, n_cols, n_threads))]
pub fn csr_sort_rows(
    py: Python<'_>,
    indptr: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    data: &Bound<'_, PyAny>,
    n_cols: usize,
    n_threads: usize,
) -> PyResult<bool> {
    let p = ContiguousBuffer::get(indptr, "indptr")?;
    let mut i = ContiguousBuffer::get_writable(indices, "indices")?;
    let mut d = ContiguousBuffer::get_writable(data, "data")?;
    check_disjoint(&i, &[&p, &d])?;
    check_disjoint(&d, &[&p])?;
    with_float(
        d.is_f32(),
        SortRows {
            py,
            indptr: &p,
            indices: &mut i,
            data: &mut d,
            n_cols,
            n_threads,
        },
    )
}
