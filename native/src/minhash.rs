//! MinHash encodings of strings with exactly skrub's `MinHashEncoder`
//! semantics (skrub 0.11), one row of `n_components` `f32` per string.
//!
//! * `fast` hashing (`skrub._fast_hash.ngram_min_hash`): a string is the
//!   first `len(string)` (code points) bytes of its UTF-8 encoding, read as
//!   `i8`. For each seed and each n-gram size `n`, numpy's `correlate` of
//!   those bytes with the seed's random `i32` atom of length `n` ('valid'
//!   mode, `i32` wrapping arithmetic; numpy slides the shorter array over the
//!   longer one) hashes every window; the encoding is the minimum (and, for
//!   min-max hashing, the maximum) over all windows of all sizes. The empty
//!   string encodes as zeros. The atoms come from the caller (skrub's
//!   `gen_atom`, numpy's `RandomState`).
//! * `murmur` hashing (`MinHashEncoder._get_murmur_hash`): the minimum over
//!   the string's character n-grams of MurmurHash3 (seed = component,
//!   unsigned), divided by `2**32 - 1`. The caller passes the normalized,
//!   space-padded string (Python's `str.lower` and `str.split`), or an empty
//!   string for an empty original; empty strings and strings without
//!   n-grams encode as zeros.
//!
//! Values go through `f64` to `f32` as skrub's `np.concatenate(...,
//! dtype="float32")` does. Both hashes run for eight seeds at once (integer
//! vector code, compiled for AVX2 too and picked at run time). Strings are
//! processed in chunks, in parallel when asked; rows never depend on the
//! thread count.

use crate::par::for_each_chunk_mut;
use crate::text::{murmur3_finish, murmur3_mix, murmur3_round, murmur3_tail};

/// Strings per parallel task.
const CHUNK: usize = 64;

/// Seeds handled together, one SIMD vector's worth of `i32`.
const LANES: usize = 8;
type Lanes = [i32; LANES];

/// The atoms of every seed, by n-gram size: for each size `n` in
/// `min_n..=max_n`, `n` rows of the seeds' `gen_atom(n, seed)[row]` values,
/// in groups of [`LANES`] seeds (the last group padded with zeros), so that
/// one window's hashes for a group of seeds are a few vector operations.
pub struct Atoms {
    /// `(n, values)`: row `j` of group `g` is `values[j * groups + g]`.
    blocks: Vec<(usize, Vec<Lanes>)>,
    n_seeds: usize,
    groups: usize,
}

impl Atoms {
    /// From `values`: for each seed, `gen_atom(n, seed)` for `n` in
    /// `min_n..=max_n` in increasing order (`1 <= min_n <= max_n`).
    pub fn new(values: &[i32], min_n: usize, max_n: usize) -> Result<Self, String> {
        if min_n < 1 || min_n > max_n {
            return Err(format!("invalid n-gram range ({min_n}, {max_n})"));
        }
        let per_seed: usize = (min_n..=max_n).sum();
        if values.len() % per_seed != 0 {
            return Err(format!(
                "{} atom values are not whole seeds of {per_seed}",
                values.len()
            ));
        }
        let n_seeds = values.len() / per_seed;
        let groups = n_seeds.div_ceil(LANES);
        let mut blocks: Vec<(usize, Vec<Lanes>)> = (min_n..=max_n)
            .map(|n| (n, vec![[0; LANES]; n * groups]))
            .collect();
        for (seed, atoms) in values.chunks_exact(per_seed).enumerate() {
            let mut at = 0;
            for (n, block) in blocks.iter_mut() {
                for (j, &v) in atoms[at..at + *n].iter().enumerate() {
                    block[j * groups + seed / LANES][seed % LANES] = v;
                }
                at += *n;
            }
        }
        Ok(Atoms {
            blocks,
            n_seeds,
            groups,
        })
    }

    /// Number of seeds.
    pub fn n_seeds(&self) -> usize {
        self.n_seeds
    }
}

/// Updates each seed's minimum and maximum with every window of numpy's
/// `correlate(x, atom)` ('valid' mode, `i32` wrapping arithmetic) for one
/// size's atoms (`n` rows of `groups` lane groups). numpy slides the
/// shorter array over the longer one: with `x` at least as long as the
/// atom, window `i` is `sum_j x[i + j] * atom[j]`, otherwise
/// `sum_j x[j] * atom[i + j]`.
#[inline(always)]
fn correlate_min_max(
    x: &[i32],
    n: usize,
    block: &[Lanes],
    groups: usize,
    min: &mut [Lanes],
    max: &mut [Lanes],
) {
    let long = x.len() >= n;
    let (windows, width) = if long {
        (x.len() - n + 1, n)
    } else {
        (n - x.len() + 1, x.len())
    };
    for g in 0..groups {
        let (mut lo, mut hi) = (min[g], max[g]);
        for i in 0..windows {
            let mut acc = [0i32; LANES];
            for j in 0..width {
                let (xv, row) = if long { (x[i + j], j) } else { (x[j], i + j) };
                let atom = &block[row * groups + g];
                for l in 0..LANES {
                    acc[l] = acc[l].wrapping_add(xv.wrapping_mul(atom[l]));
                }
            }
            for l in 0..LANES {
                lo[l] = lo[l].min(acc[l]);
                hi[l] = hi[l].max(acc[l]);
            }
        }
        min[g] = lo;
        max[g] = hi;
    }
}

/// Reusable buffers of one worker.
#[derive(Default)]
pub struct Scratch {
    values: Vec<i32>,
    min: Vec<Lanes>,
    max: Vec<Lanes>,
    offs: Vec<usize>,
    blocks: Vec<u32>,
    hash_min: Vec<[u32; LANES]>,
}

/// The `fast` encoding of `text` into `out`: `n_seeds` minima, or with
/// `minmax` `n_seeds` (minimum, maximum) pairs.
pub fn fast_row(text: &str, atoms: &Atoms, minmax: bool, s: &mut Scratch, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2.
        unsafe { fast_row_avx2(text, atoms, minmax, s, out) };
        return;
    }
    fast_row_impl(text, atoms, minmax, s, out);
}

/// [`fast_row`] compiled for AVX2 (eight 32-bit multiplications at once).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fast_row_avx2(text: &str, atoms: &Atoms, minmax: bool, s: &mut Scratch, out: &mut [f32]) {
    fast_row_impl(text, atoms, minmax, s, out);
}

#[inline(always)]
fn fast_row_impl(text: &str, atoms: &Atoms, minmax: bool, s: &mut Scratch, out: &mut [f32]) {
    if text.is_empty() {
        out.fill(0.0);
        return;
    }
    // numpy reads len(text) bytes: as many as the string has code points.
    let n_chars = if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    };
    s.values.clear();
    s.values.extend(
        text.as_bytes()[..n_chars]
            .iter()
            .map(|&b| i32::from(b as i8)),
    );
    // skrub starts from the extreme int32 values.
    s.min.clear();
    s.min.resize(atoms.groups, [i32::MAX; LANES]);
    s.max.clear();
    s.max.resize(atoms.groups, [i32::MIN; LANES]);
    for (n, block) in &atoms.blocks {
        correlate_min_max(&s.values, *n, block, atoms.groups, &mut s.min, &mut s.max);
    }
    let min = s.min.as_flattened();
    let max = s.max.as_flattened();
    if minmax {
        for ((dst, &lo), &hi) in out.chunks_exact_mut(2).zip(min).zip(max) {
            dst[0] = f64::from(lo) as f32;
            dst[1] = f64::from(hi) as f32;
        }
    } else {
        for (dst, &lo) in out.iter_mut().zip(min) {
            *dst = f64::from(lo) as f32;
        }
    }
}

/// The `murmur` encoding of a normalized, space-padded string (empty for an
/// empty original) into `out`, one component per MurmurHash3 seed.
pub fn murmur_row(padded: &str, min_n: usize, max_n: usize, s: &mut Scratch, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2.
        unsafe { murmur_row_avx2(padded, min_n, max_n, s, out) };
        return;
    }
    murmur_row_impl(padded, min_n, max_n, s, out);
}

/// [`murmur_row`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn murmur_row_avx2(
    padded: &str,
    min_n: usize,
    max_n: usize,
    s: &mut Scratch,
    out: &mut [f32],
) {
    murmur_row_impl(padded, min_n, max_n, s, out);
}

/// Hashes each n-gram for [`LANES`] seeds at a time: the key's scrambled
/// blocks do not depend on the seed, only the rounds and the finish do.
#[inline(always)]
fn murmur_row_impl(padded: &str, min_n: usize, max_n: usize, s: &mut Scratch, out: &mut [f32]) {
    out.fill(0.0);
    if padded.is_empty() {
        return;
    }
    s.offs.clear();
    s.offs.extend(padded.char_indices().map(|(i, _)| i));
    let len = s.offs.len();
    s.offs.push(padded.len());
    if min_n > len {
        return;
    }
    let groups = out.len().div_ceil(LANES);
    s.hash_min.clear();
    s.hash_min.resize(groups, [u32::MAX; LANES]);
    for n in min_n..=max_n.min(len) {
        for i in 0..=len - n {
            let gram = &padded.as_bytes()[s.offs[i]..s.offs[i + n]];
            s.blocks.clear();
            let mut blocks = gram.chunks_exact(4);
            for b in &mut blocks {
                s.blocks
                    .push(murmur3_mix(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            }
            let tail = blocks.remainder();
            let tail = (!tail.is_empty()).then(|| murmur3_mix(murmur3_tail(tail)));
            for (g, min) in s.hash_min.iter_mut().enumerate() {
                let mut h: [u32; LANES] = std::array::from_fn(|l| (g * LANES + l) as u32);
                for &k in &s.blocks {
                    for h in &mut h {
                        *h = murmur3_round(*h, k);
                    }
                }
                for (m, h) in min.iter_mut().zip(h) {
                    let h = tail.map_or(h, |t| h ^ t);
                    *m = (*m).min(murmur3_finish(h, gram.len()));
                }
            }
        }
    }
    for (dst, &m) in out.iter_mut().zip(s.hash_min.as_flattened()) {
        *dst = (f64::from(m) / 4_294_967_295.0) as f32;
    }
}

/// Encodes each string of `texts` into its row of `out` (`n_components`
/// values per string) with `row(text, scratch, out_row)`; with `par`, on
/// the current rayon pool.
pub fn encode_rows<T: Sync>(
    par: bool,
    texts: &[T],
    n_components: usize,
    out: &mut [f32],
    row: impl Fn(&T, &mut Scratch, &mut [f32]) + Sync + Send,
) {
    if n_components == 0 {
        return;
    }
    for_each_chunk_mut(par, out, CHUNK * n_components, |c, chunk| {
        let mut scratch = Scratch::default();
        let rows = chunk.chunks_exact_mut(n_components);
        for (text, dst) in texts[c * CHUNK..].iter().zip(rows) {
            row(text, &mut scratch, dst);
        }
    });
}

#[cfg(feature = "pyo3")]
pub(crate) mod py;

#[cfg(test)]
mod tests;
