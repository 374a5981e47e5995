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

use blake2::{Blake2b128, Digest};
use rayon::prelude::*;
use rayon::ThreadPoolBuildError;

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
        crate::par::pool("fingerprint", n_threads)?.install(hash_chunks)
    };
    Ok(combine(data.len(), &digests))
}

#[cfg(feature = "pyo3")]
pub(crate) mod py;

#[cfg(test)]
mod tests;
