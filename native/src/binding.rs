//! What the Python bindings share: running a kernel with the GIL released,
//! the error for a thread pool that cannot be built, the dispatch that lets
//! a binding be written once for float32 and float64 buffers, and reading
//! object arrays of strings.

use std::ffi::c_char;

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi::{self, PyObject};
use pyo3::prelude::*;

use crate::encoders::{Cell, Key};
use crate::float::Real;
use crate::pybuf::{ContiguousBuffer, Item};

/// The Python exception for a thread pool that could not be built.
pub(crate) fn pool_error(e: rayon::ThreadPoolBuildError) -> PyErr {
    PyRuntimeError::new_err(format!("cannot build thread pool: {e}"))
}

/// Runs `f(threads)` with the GIL released: on the calling thread when
/// one thread is asked for or `work` is small, else in a rayon pool.
pub(crate) fn run<T: Send>(
    py: Python<'_>,
    n_threads: usize,
    work: usize,
    f: impl FnOnce(usize) -> T + Send,
) -> PyResult<T> {
    py.detach(|| {
        if n_threads <= 1 || work < PARALLEL_MIN {
            return Ok(f(1));
        }
        // The fingerprint's pool: the table kernels share it.
        let pool = crate::par::pool("fingerprint", n_threads).map_err(pool_error)?;
        Ok(pool.install(|| f(n_threads)))
    })
}

/// Items below which a kernel stays on the calling thread.
const PARALLEL_MIN: usize = 1 << 15;

/// The float element types of the bindings: kernel arithmetic ([`Real`])
/// and typed buffer items ([`Item`]).
pub(crate) trait Float: Real + Item {}

impl<T: Real + Item> Float for T {}

/// A binding's body written once, generic over the float type of its
/// buffers; [`with_float`] picks the type.
pub(crate) trait FloatFn {
    type Out;
    fn call<T: Float>(self) -> PyResult<Self::Out>;
}

/// `f` for `f32` when `f32` is true (a buffer of format "f"), else for
/// `f64` (whose buffer accessors then refuse anything but "d").
pub(crate) fn with_float<F: FloatFn>(f32: bool, f: F) -> PyResult<F::Out> {
    if f32 {
        f.call::<f32>()
    } else {
        f.call::<f64>()
    }
}

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
                cells.push(Cell::Str(Key {
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
