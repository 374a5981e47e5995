//! Python binding of the buffer fingerprint.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::binding::pool_error;
use crate::pybuf::ContiguousBuffer;

/// fingerprint_buffer(data, n_threads=0) -> bytes
///
/// 16-byte content fingerprint of a C-contiguous buffer (bytes, bytearray,
/// memoryview, numpy array of any dtype...), taken as raw bytes. Chunks
/// are hashed with the GIL released, on `n_threads` threads (0: rayon's
/// default). Raises ValueError for non-contiguous buffers and TypeError
/// for objects without the buffer protocol.
#[pyfunction]
#[pyo3(signature = (data, n_threads = 0))]
pub fn fingerprint_buffer<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let buf = ContiguousBuffer::get(data, "fingerprint_buffer")?;
    let bytes = buf.as_bytes();
    let digest = py
        .detach(|| super::fingerprint_parallel(bytes, n_threads))
        .map_err(pool_error)?;
    drop(buf); // release the export while attached
    Ok(PyBytes::new(py, &digest))
}
