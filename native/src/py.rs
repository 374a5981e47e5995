//! The Python module `stratum._native`: registers each family's bindings,
//! and holds the helpers the bindings share.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::float::Real;
use crate::pybuf::Item;

#[pymodule]
#[pyo3(name = "_native")]
fn native_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FINGERPRINT_CHUNK_SIZE", crate::fingerprint::CHUNK_SIZE)?;
    m.add_function(wrap_pyfunction!(
        crate::fingerprint::py::fingerprint_buffer,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(crate::encoders::py::unique_strings, m)?)?;
    m.add_function(wrap_pyfunction!(crate::encoders::py::encode_strings, m)?)?;
    m.add_function(wrap_pyfunction!(crate::nulls::py::null_string_mask, m)?)?;
    m.add_function(wrap_pyfunction!(crate::scalers::py::column_stats, m)?)?;
    m.add_function(wrap_pyfunction!(crate::scalers::py::centered_sums, m)?)?;
    m.add_function(wrap_pyfunction!(crate::scalers::py::column_min_max, m)?)?;
    m.add_function(wrap_pyfunction!(crate::scalers::py::column_medians, m)?)?;
    m.add_function(wrap_pyfunction!(crate::scalers::py::column_modes, m)?)?;
    m.add_function(wrap_pyfunction!(crate::scalers::py::affine_transform, m)?)?;
    m.add_function(wrap_pyfunction!(crate::sparse::py::csr_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(crate::sparse::py::csr_sort_rows, m)?)?;
    m.add_class::<crate::text::py::CharTables>()?;
    m.add_class::<crate::text::py::TextAnalyzer>()?;
    m.add_function(wrap_pyfunction!(crate::text::py::murmurhash3_32, m)?)?;
    m.add_function(wrap_pyfunction!(crate::minhash::py::minhash_fast, m)?)?;
    m.add_function(wrap_pyfunction!(crate::minhash::py::minhash_murmur, m)?)?;
    Ok(())
}

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
