//! Python binding of the sparse-dense product.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::{sort_rows, Csr, Index};
use crate::float::Real;
use crate::py::run;
use crate::pybuf::ContiguousBuffer;

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

/// The product of borrowed index and value arrays into `out`.
#[allow(clippy::too_many_arguments)]
fn product<I: Index, T: Real>(
    py: Python<'_>,
    n_cols: usize,
    indptr: &[I],
    indices: &[I],
    data: &[T],
    x: &[T],
    n_vecs: usize,
    out: &mut [T],
    n_threads: usize,
    transposed: bool,
) -> PyResult<()> {
    let csr = Csr {
        n_cols,
        indptr,
        indices,
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
    let wide = p.format() != Some("i");
    macro_rules! with_indices {
        ($data:expr, $x:expr, $out:expr) => {
            if wide {
                let (ip, ix) = (p.as_i64("indptr")?, i.as_i64("indices")?);
                product(
                    py, n_cols, ip, ix, $data, $x, n_vecs, $out, n_threads, transposed,
                )
            } else {
                let (ip, ix) = (p.as_i32("indptr")?, i.as_i32("indices")?);
                product(
                    py, n_cols, ip, ix, $data, $x, n_vecs, $out, n_threads, transposed,
                )
            }
        };
    }
    if d.format() == Some("f") {
        let (dv, xv, ov) = (d.as_f32("data")?, xb.as_f32("x")?, ob.as_mut_f32("out")?);
        with_indices!(dv, xv, ov)
    } else {
        let (dv, xv, ov) = (d.as_f64("data")?, xb.as_f64("x")?, ob.as_mut_f64("out")?);
        with_indices!(dv, xv, ov)
    }
}

/// The row sort of borrowed arrays, on `n_threads` threads.
fn sort<I: Index + Ord, T: Real>(
    py: Python<'_>,
    n_cols: usize,
    indptr: &[I],
    indices: &mut [I],
    data: &mut [T],
    n_threads: usize,
) -> PyResult<bool> {
    run(py, n_threads, data.len(), |t| {
        sort_rows(t > 1, n_cols, indptr, indices, data)
    })?
    .map_err(PyValueError::new_err)
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
    macro_rules! with_data {
        ($ip:expr, $ix:expr) => {
            if d.format() == Some("f") {
                sort(py, n_cols, $ip, $ix, d.as_mut_f32("data")?, n_threads)
            } else {
                sort(py, n_cols, $ip, $ix, d.as_mut_f64("data")?, n_threads)
            }
        };
    }
    if p.format() == Some("i") {
        with_data!(p.as_i32("indptr")?, i.as_mut_i32("indices")?)
    } else {
        with_data!(p.as_i64("indptr")?, i.as_mut_i64("indices")?)
    }
}
