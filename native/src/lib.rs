//! Native kernels for `stratum`, exposed to Python as `stratum._native`.
//!
//! Layout: one module per kernel family (`encoders`, `fingerprint`,
//! `minhash`, `mode`, `nulls`, `scalers`, `sparse`, `text`). Each family
//! keeps its pure-Rust core in `family.rs`, independent of PyO3 (so `cargo
//! test` needs no Python), its Python bindings in `family/py.rs` (a
//! `#[cfg(feature = "pyo3")] pub(crate) mod py`) and its unit tests in
//! `family/tests.rs`. Below the families: `float` (the float trait), `par`
//! (serial-or-parallel loops, thread pools) and `simd`; for the bindings,
//! `pybuf` (the buffer protocol) and `py` (the module itself, which registers
//! every family's bindings, and the helpers they share). Dependencies go one
//! way: bindings -> cores -> `float` / `par` / `simd`.

pub mod encoders;
pub mod fingerprint;
pub mod float;
pub mod minhash;
pub mod mode;
pub mod nulls;
mod par;
#[cfg(feature = "pyo3")]
mod py;
#[cfg(feature = "pyo3")]
mod pybuf;
pub mod scalers;
mod simd;
pub mod sparse;
pub mod text;
