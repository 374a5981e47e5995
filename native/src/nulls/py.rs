//! Python binding of the null-string test.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::NullStrings;
use crate::binding::{read_cells, run};
use crate::encoders::Cell;
use crate::par;
use crate::pybuf::ContiguousBuffer;

/// null_string_mask(values, null_strings, out, n_threads) -> bool
///
/// Writes into `out` (a bool array as long as `values`) whether each cell
/// of the object array `values` is a string that `null_strings` cleans to
/// a null, with the GIL released. Returns False, leaving `out`
/// unspecified, when a cell is not a `str`, None or a float NaN (or a
/// string cannot be encoded as UTF-8); the caller then runs skrub's code.
#[pyfunction]
#[pyo3(signature = (values, null_strings, out, n_threads = 1))]
pub fn null_string_mask(
    py: Python<'_>,
    values: &Bound<'_, PyAny>,
    null_strings: Vec<String>,
    out: &Bound<'_, PyAny>,
    n_threads: usize,
) -> PyResult<bool> {
    let what = "null_string_mask";
    let buf = ContiguousBuffer::get(values, what)?;
    let Some((cells, _held)) = read_cells(py, &buf)? else {
        return Ok(false);
    };
    let mut out_buf = ContiguousBuffer::get_writable(out, what)?;
    let mask = out_buf.as_mut_slice::<bool>(what)?;
    if mask.len() != cells.len() {
        return Err(PyValueError::new_err(format!(
            "{what}: out has {} cells, values {}",
            mask.len(),
            cells.len()
        )));
    }
    let nulls = NullStrings::new(null_strings);
    run(py, n_threads, cells.len(), |t| {
        let size = cells.len().div_ceil(t);
        par::for_each_chunk_mut(t > 1, mask, size, |i, chunk| {
            for (m, cell) in chunk.iter_mut().zip(&cells[i * size..]) {
                // SAFETY: `read_cells` only keeps strings CPython encoded
                // as UTF-8.
                *m = matches!(cell, Cell::Str(k)
                    if nulls.is_null(unsafe { std::str::from_utf8_unchecked(k.bytes) }));
            }
        });
    })?;
    Ok(true)
}
