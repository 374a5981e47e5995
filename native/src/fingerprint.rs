//! Content fingerprint of a contiguous byte buffer.
//!
//! Definition (mirrored exactly by `stratum/plan/_hash_py.py`):
//!
//! * split the bytes into chunks of [`CHUNK_SIZE`] (1 MiB) bytes, the last one
//!   possibly shorter; an empty input has zero chunks;
//! * each chunk digest is BLAKE2b with a 16-byte digest (no key, salt or
//!   personalisation) of the chunk bytes;
//! * the fingerprint is BLAKE2b-128 over the total length as a little-endian
//!   `u64` followed by the chunk digests in order.
//!
//! Chunk digests are independent, so they are computed in parallel with rayon
//! once there are at least [`PARALLEL_MIN_CHUNKS`] chunks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use blake2::{Blake2b128, Digest};
use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuildError, ThreadPoolBuilder};

/// Chunk size of the tree hash: 1 MiB.
pub const CHUNK_SIZE: usize = 1 << 20;

/// Minimum number of chunks for which hashing is spread over threads.
pub const PARALLEL_MIN_CHUNKS: usize = 4;

/// Size in bytes of a fingerprint (and of each chunk digest).
pub const DIGEST_SIZE: usize = 16;

/// A 16-byte fingerprint.
pub type Digest16 = [u8; DIGEST_SIZE];

fn chunk_digest(chunk: &[u8]) -> Digest16 {
    Blake2b128::digest(chunk).into()
}

fn combine(total_len: usize, chunk_digests: &[Digest16]) -> Digest16 {
    let mut outer = Blake2b128::new();
    // usize -> u64 is lossless on every platform Rust supports (<= 64 bits).
    outer.update((total_len as u64).to_le_bytes());
    for d in chunk_digests {
        outer.update(d);
    }
    outer.finalize().into()
}

/// Fingerprint computed on the calling thread only.
pub fn fingerprint(data: &[u8]) -> Digest16 {
    let digests: Vec<Digest16> = data.chunks(CHUNK_SIZE).map(chunk_digest).collect();
    combine(data.len(), &digests)
}

/// Fingerprint with the chunk digests computed in parallel.
///
/// `n_threads == 0` uses rayon's global pool (its default size, which honours
/// `RAYON_NUM_THREADS`), `n_threads == 1` runs serially, any other value uses
/// a dedicated pool of that many threads, built once and cached. Inputs of
/// fewer than [`PARALLEL_MIN_CHUNKS`] chunks are always hashed serially. The
/// result is identical to [`fingerprint`] in every case.
pub fn fingerprint_parallel(
    data: &[u8],
    n_threads: usize,
) -> Result<Digest16, ThreadPoolBuildError> {
    if n_threads == 1 || data.len().div_ceil(CHUNK_SIZE) < PARALLEL_MIN_CHUNKS {
        return Ok(fingerprint(data));
    }
    let hash_chunks = || -> Vec<Digest16> {
        // `collect` on an indexed parallel iterator keeps chunk order.
        data.par_chunks(CHUNK_SIZE).map(chunk_digest).collect()
    };
    let digests = if n_threads == 0 {
        hash_chunks()
    } else {
        pool(n_threads)?.install(hash_chunks)
    };
    Ok(combine(data.len(), &digests))
}

/// Returns the cached pool with `n_threads` threads, building it on first use.
pub(crate) fn pool(n_threads: usize) -> Result<Arc<ThreadPool>, ThreadPoolBuildError> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        // A panic while holding the lock cannot leave the map inconsistent
        // (insert is the only mutation), so recover from poisoning.
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(p) = pools.get(&n_threads) {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(n_threads)
            .thread_name(|i| format!("stratum-fingerprint-{i}"))
            .build()?,
    );
    pools.insert(n_threads, Arc::clone(&p));
    Ok(p)
}

#[cfg(feature = "pyo3")]
pub(crate) mod py {
    use pyo3::exceptions::PyRuntimeError;
    use pyo3::prelude::*;
    use pyo3::types::PyBytes;

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
            .map_err(|e| PyRuntimeError::new_err(format!("cannot build thread pool: {e}")))?;
        drop(buf); // release the export while attached
        Ok(PyBytes::new(py, &digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blake2b128(parts: &[&[u8]]) -> Digest16 {
        let mut h = Blake2b128::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    /// Straightforward restatement of the definition, for comparison.
    fn reference(data: &[u8]) -> Digest16 {
        let mut parts: Vec<Vec<u8>> = vec![(data.len() as u64).to_le_bytes().to_vec()];
        let mut off = 0;
        while off < data.len() {
            let end = (off + CHUNK_SIZE).min(data.len());
            parts.push(blake2b128(&[&data[off..end]]).to_vec());
            off = end;
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        blake2b128(&refs)
    }

    /// Deterministic pseudo-random bytes (xorshift64*).
    fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    fn hex(d: &Digest16) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn blake2b128_known_answer() {
        // hashlib.blake2b(b"abc", digest_size=16).hexdigest()
        assert_eq!(
            hex(&blake2b128(&[b"abc"])),
            "cf4ab791c62b8d2b2109c90275287816"
        );
    }

    #[test]
    fn empty_input_has_zero_chunks() {
        let got = fingerprint(b"");
        assert_eq!(got, blake2b128(&[&0u64.to_le_bytes()]));
        assert_eq!(got, reference(b""));
        // hashlib.blake2b(bytes(8), digest_size=16).hexdigest()
        assert_eq!(hex(&got), "c804ce198ec337e3dc762bdd1a09aece");
    }

    #[test]
    fn small_input_is_one_chunk() {
        let data = b"stratum";
        let inner = blake2b128(&[data]);
        let expected = blake2b128(&[&(data.len() as u64).to_le_bytes(), &inner]);
        assert_eq!(fingerprint(data), expected);
        assert_eq!(fingerprint(data), reference(data));
    }

    #[test]
    fn boundary_at_exactly_one_chunk() {
        let data = pseudo_random(CHUNK_SIZE + 1, 7);
        let one = &data[..CHUNK_SIZE];
        let expected = blake2b128(&[&(CHUNK_SIZE as u64).to_le_bytes(), &blake2b128(&[one])]);
        assert_eq!(fingerprint(one), expected);
        // One more byte starts a second (1-byte) chunk.
        let expected2 = blake2b128(&[
            &((CHUNK_SIZE + 1) as u64).to_le_bytes(),
            &blake2b128(&[one]),
            &blake2b128(&[&data[CHUNK_SIZE..]]),
        ]);
        assert_eq!(fingerprint(&data), expected2);
        assert_ne!(fingerprint(one), fingerprint(&data[..CHUNK_SIZE - 1]));
    }

    #[test]
    fn multi_chunk_serial_and_parallel_agree() {
        let data = pseudo_random(5 * CHUNK_SIZE + 123, 42);
        let expected = reference(&data);
        assert_eq!(fingerprint(&data), expected);
        for n_threads in [0, 1, 2, 3, 8] {
            assert_eq!(
                fingerprint_parallel(&data, n_threads).expect("thread pool"),
                expected
            );
        }
    }

    #[test]
    fn parallel_threshold_boundaries() {
        let data = pseudo_random(4 * CHUNK_SIZE + 1, 3);
        for len in [
            3 * CHUNK_SIZE,
            3 * CHUNK_SIZE + 1,
            4 * CHUNK_SIZE,
            4 * CHUNK_SIZE + 1,
        ] {
            let slice = &data[..len];
            assert_eq!(
                fingerprint_parallel(slice, 2).expect("thread pool"),
                reference(slice)
            );
        }
    }

    #[test]
    fn length_is_part_of_the_digest() {
        // Same chunk contents, different totals: zero bytes vs. nothing.
        assert_ne!(fingerprint(b""), fingerprint(&[0u8]));
        assert_ne!(fingerprint(&[0u8; 3]), fingerprint(&[0u8; 4]));
    }
}
