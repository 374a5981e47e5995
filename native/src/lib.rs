//! Native kernels for `stratum`, exposed to Python as `stratum._native`.
//!
//! Layout: one module per kernel family (`encoders`, `fingerprint`,
//! `minhash`, `mode`, `nulls`, `scalers`, `sparse`, `text`). Each family
//! keeps its pure-Rust core in `family.rs`, independent of PyO3 (so `cargo
//! test` needs no Python), its Python bindings in `family/py.rs` (a
//! `#[cfg(feature = "pyo3")] pub(crate) mod py`) and its unit tests in
//! `family/tests.rs`. Below the families: `float` (the float trait), `par`
//! (serial-or-parallel loops, thread pools) and `simd`; for the bindings,
//! `pybuf` (the buffer protocol) and `binding` (what the bindings share).
//! The Python module, at the end of this file, registers every family's
//! bindings. Dependencies go one way: bindings -> `binding` / `pybuf` ->
//! cores -> `float` / `par` / `simd`.

#[cfg(feature = "pyo3")]
mod binding;
pub mod encoders;
pub mod fingerprint;
pub mod float;
pub mod minhash;
pub mod mode;
pub mod nulls;
mod par;
#[cfg(feature = "pyo3")]
mod pybuf;
pub mod scalers;
mod simd;
pub mod sparse;
pub mod text;

#[cfg(feature = "pyo3")]
mod python {
    use pyo3::prelude::*;

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
}
