//! Python bindings of the string encoders: object arrays of `str`, `None`
//! and NaN are read as [`Cell`]s while attached, then counted or encoded
//! with the GIL released.

use std::ffi::c_char;

use pyo3::exceptions::PyValueError;
use pyo3::ffi::{self, PyObject};
use pyo3::prelude::*;

use super::{Cell, Table};
use crate::py::run;
use crate::pybuf::ContiguousBuffer;

/// Strong references to the strings a column's cells borrow from, so
/// that they outlive the detached work even if another thread replaces
/// the array's items meanwhile. Dropped while attached.
pub(crate) struct Held(Vec<*mut PyObject>);

impl Drop for Held {
    fn drop(&mut self) {
        for &obj in &self.0 {
            // SAFETY: each pointer was increfed in `read_cells`; the
            // holder is dropped while attached to the interpreter.
            unsafe { ffi::Py_DECREF(obj) };
        }
    }
}

/// Reads the cells of a C-contiguous object array (buffer format "O").
/// Returns None when a value is not an exact `str`, `None` or a float NaN,
/// or a string cannot be encoded as UTF-8 (lone surrogates).
pub(crate) fn read_cells<'a>(
    py: Python<'_>,
    buf: &'a ContiguousBuffer,
) -> PyResult<Option<(Vec<Cell<'a>>, Held)>> {
    if buf.format() != Some("O") {
        return Ok(None);
    }
    let bytes = buf.as_bytes();
    let n = bytes.len() / std::mem::size_of::<*mut PyObject>();
    let ptrs = bytes.as_ptr().cast::<*mut PyObject>();
    let none = unsafe { ffi::Py_None() };
    let mut cells = Vec::with_capacity(n);
    let mut held = Held(Vec::with_capacity(n));
    for i in 0..n {
        // SAFETY: an object array's buffer holds `n` valid object pointers,
        // kept alive by the array for as long as `buf` is held.
        let obj = unsafe { ptrs.add(i).read_unaligned() };
        if obj.is_null() {
            return Ok(None);
        }
        unsafe {
            if ffi::PyUnicode_CheckExact(obj) != 0 {
                let mut size: ffi::Py_ssize_t = 0;
                let data: *const c_char = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
                if data.is_null() {
                    PyErr::take(py);
                    return Ok(None);
                }
                // SAFETY: CPython keeps the UTF-8 buffer alive as long as the
                // string object, which the array holds.
                let s: &'a [u8] = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
                let hash = ffi::PyObject_Hash(obj);
                if hash == -1 {
                    PyErr::take(py);
                    return Ok(None);
                }
                ffi::Py_INCREF(obj);
                held.0.push(obj);
                cells.push(Cell::Str(super::Key {
                    hash: hash as u64,
                    bytes: s,
                }));
            } else if obj == none {
                cells.push(Cell::None);
            } else if ffi::PyFloat_Check(obj) != 0 && ffi::PyFloat_AsDouble(obj).is_nan() {
                cells.push(Cell::NaN);
            } else {
                return Ok(None);
            }
        }
    }
    Ok(Some((cells, held)))
}

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
