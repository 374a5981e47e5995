//! Python bindings of the MinHash kernels.
//!
//! Each function takes the strings as a list of `str`, borrows their UTF-8
//! text while attached (a lone surrogate raises `UnicodeEncodeError`), then
//! fills the caller's C-contiguous `float32` array of shape
//! `(len(strings), n_components)` with the GIL released, on `n_threads`
//! threads.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use super::{encode_rows, fast_row, murmur_row, Atoms};
use crate::binding::pool_error;
use crate::pybuf::ContiguousBuffer;

/// Strings below which a call stays on the calling thread.
const PARALLEL_MIN: usize = 256;

fn strings<'py>(list: &Bound<'py, PyList>) -> PyResult<Vec<Bound<'py, PyString>>> {
    list.iter()
        .map(|x| {
            x.cast_into::<PyString>()
                .map_err(|_| PyTypeError::new_err("strings must be str"))
        })
        .collect()
}

fn texts<'a>(strings: &'a [Bound<'_, PyString>]) -> PyResult<Vec<&'a str>> {
    strings.iter().map(|s| s.to_str()).collect()
}

/// Fills `out` with `row` for each text, with the GIL released.
fn fill(
    py: Python<'_>,
    texts: &[&str],
    n_components: usize,
    out: &Bound<'_, PyAny>,
    n_threads: usize,
    row: impl Fn(&&str, &mut super::Scratch, &mut [f32]) + Sync + Send,
) -> PyResult<()> {
    let mut buf = ContiguousBuffer::get_writable(out, "out")?;
    let out = buf.as_mut_slice::<f32>("out")?;
    if out.len() != texts.len() * n_components {
        return Err(PyValueError::new_err(
            "out must hold n_components values per string",
        ));
    }
    py.detach(|| {
        if n_threads <= 1 || texts.len() < PARALLEL_MIN {
            encode_rows(false, texts, n_components, out, row);
            return Ok(());
        }
        crate::text::run_in_pool(n_threads, || {
            encode_rows(true, texts, n_components, out, row)
        })
        .map_err(pool_error)
    })
}

/// minhash_fast(strings, atoms, min_n, max_n, minmax, out, n_threads)
///
/// skrub's `fast` MinHash of each string: `atoms` is an int32 array of
/// `gen_atom(n, seed)` for each seed, sizes `min_n..=max_n` in order; a row
/// holds one minimum per seed, or with `minmax` (minimum, maximum) pairs.
#[pyfunction]
#[pyo3(signature = (strings, atoms, min_n, max_n, minmax, out, n_threads))]
#[allow(clippy::too_many_arguments)]
pub fn minhash_fast(
    py: Python<'_>,
    strings: &Bound<'_, PyList>,
    atoms: &Bound<'_, PyAny>,
    min_n: usize,
    max_n: usize,
    minmax: bool,
    out: &Bound<'_, PyAny>,
    n_threads: usize,
) -> PyResult<()> {
    let held = self::strings(strings)?;
    let texts = texts(&held)?;
    let atom_buf = ContiguousBuffer::get(atoms, "atoms")?;
    let atoms = Atoms::new(atom_buf.as_slice::<i32>("atoms")?, min_n, max_n)
        .map_err(PyValueError::new_err)?;
    let n_components = atoms.n_seeds() * if minmax { 2 } else { 1 };
    fill(py, &texts, n_components, out, n_threads, |t, s, o| {
        fast_row(t, &atoms, minmax, s, o)
    })
}

/// minhash_murmur(padded, min_n, max_n, out, n_threads)
///
/// skrub's `murmur` MinHash of each normalized, space-padded string (empty
/// for an empty original), one component per seed `0..out.shape[1]`.
#[pyfunction]
#[pyo3(signature = (padded, min_n, max_n, n_components, out, n_threads))]
pub fn minhash_murmur(
    py: Python<'_>,
    padded: &Bound<'_, PyList>,
    min_n: usize,
    max_n: usize,
    n_components: usize,
    out: &Bound<'_, PyAny>,
    n_threads: usize,
) -> PyResult<()> {
    if min_n < 1 || min_n > max_n {
        return Err(PyValueError::new_err(format!(
            "invalid n-gram range ({min_n}, {max_n})"
        )));
    }
    let held = self::strings(padded)?;
    let texts = texts(&held)?;
    fill(py, &texts, n_components, out, n_threads, |t, s, o| {
        murmur_row(t, min_n, max_n, s, o)
    })
}
