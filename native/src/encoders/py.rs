//! Python bindings of the string encoders: object arrays of `str`, `None`
//! and NaN are read as cells (`binding::read_cells`) while attached, then
//! counted or encoded with the GIL released.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::Table;
use crate::binding::{read_cells, run};
use crate::pybuf::ContiguousBuffer;

/// unique_strings(values, n_threads) -> (first_rows, counts, none_count, nan_count) | None
///
/// Sorted distinct values of a 1-d object array holding only `str`,
/// `None` and float NaN: for each distinct string, the first row holding
/// it and its count. None when the array holds anything else.
#[pyfunction]
#[pyo3(signature = (values, n_threads = 1))]
#[allow(clippy::type_complexity)]
pub fn unique_strings(
    py: Python<'_>,
    values: &Bound<'_, PyAny>,
    n_threads: usize,
) -> PyResult<Option<(Vec<usize>, Vec<i64>, i64, i64)>> {
    let buf = ContiguousBuffer::get(values, "unique_strings")?;
    let Some((cells, _held)) = read_cells(py, &buf)? else {
        return Ok(None);
    };
    let u = run(py, n_threads, cells.len(), |t| super::unique(t > 1, &cells))?;
    drop(cells);
    drop(buf);
    let (first, counts) = u.strings.into_iter().unzip();
    Ok(Some((first, counts, u.none_count, u.nan_count)))
}

/// encode_strings(values, categories, codes, valid, n_threads) -> n_unknown | None
///
/// Writes the position in `categories` of each value of `values` (both
/// 1-d object arrays of `str` / `None` / NaN) into `codes` (int64), and
/// whether it was found into `valid` (bool); unknown values get code 0.
/// None (nothing written) when either array holds anything else.
#[pyfunction]
#[pyo3(signature = (values, categories, codes, valid, n_threads = 1))]
pub fn encode_strings(
    py: Python<'_>,
    values: &Bound<'_, PyAny>,
    categories: &Bound<'_, PyAny>,
    codes: &Bound<'_, PyAny>,
    valid: &Bound<'_, PyAny>,
    n_threads: usize,
) -> PyResult<Option<usize>> {
    let vbuf = ContiguousBuffer::get(values, "encode_strings")?;
    let cbuf = ContiguousBuffer::get(categories, "encode_strings")?;
    let Some((cells, _held_values)) = read_cells(py, &vbuf)? else {
        return Ok(None);
    };
    let Some((cats, _held_categories)) = read_cells(py, &cbuf)? else {
        return Ok(None);
    };
    let mut codes_buf = ContiguousBuffer::get_writable(codes, "codes")?;
    let mut valid_buf = ContiguousBuffer::get_writable(valid, "valid")?;
    let codes_out = codes_buf.as_mut_slice::<i64>("codes")?;
    let valid_out = valid_buf.as_mut_slice::<bool>("valid")?;
    if codes_out.len() != cells.len() || valid_out.len() != cells.len() {
        return Err(PyValueError::new_err(
            "codes and valid must have one item per value",
        ));
    }
    let unknown = run(py, n_threads, cells.len(), |t| {
        let table = Table::new(&cats);
        super::encode(t > 1, &cells, &table, codes_out, valid_out)
    })?;
    Ok(Some(unknown))
}
