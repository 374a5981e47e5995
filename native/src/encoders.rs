//! Category discovery and encoding for string columns (scikit-learn's
//! `OneHotEncoder` / `OrdinalEncoder` on object columns).
//!
//! A column is a slice of [`Cell`]s: UTF-8 strings, `None` or NaN. Categories
//! are the distinct strings sorted by their UTF-8 bytes (the same order as
//! Python's code-point comparison of `str`), then `None`, then NaN, which is
//! the order of scikit-learn's `_unique` on object arrays. Rows are hashed in
//! parallel chunks; the result never depends on the number of threads.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use rayon::prelude::*;

/// A string with its hash (Python's own `hash(str)` when it comes from
/// Python, cached in the object; [`Key::new`] otherwise). Equality is by bytes.
#[derive(Clone, Copy, Debug)]
pub struct Key<'a> {
    pub hash: u64,
    pub bytes: &'a [u8],
}

impl<'a> Key<'a> {
    /// A key hashed in Rust (FNV-1a; for callers without Python hashes).
    pub fn new(bytes: &'a [u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Key { hash: h, bytes }
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.bytes == other.bytes
    }
}

impl Eq for Key<'_> {}

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// One value of an object column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell<'a> {
    Str(Key<'a>),
    None,
    NaN,
}

/// Passes a precomputed hash through (mixed, so that both hashbrown's low
/// and high bits vary).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

type ByteMap<'a, V> = HashMap<Key<'a>, V, BuildHasherDefault<KeyHasher>>;

/// The sorted categories of a column, as positions of a representative row.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uniques {
    /// For each distinct string, in sorted order: (first row holding it, count).
    pub strings: Vec<(usize, i64)>,
    /// Rows holding `None` (if any).
    pub none_count: i64,
    /// Rows holding NaN (if any).
    pub nan_count: i64,
}

#[derive(Default)]
struct Partial<'a> {
    map: ByteMap<'a, (usize, i64)>,
    none: i64,
    nan: i64,
}

fn count_chunk<'a>(cells: &[Cell<'a>], offset: usize) -> Partial<'a> {
    let mut p = Partial::default();
    for (i, cell) in cells.iter().enumerate() {
        match *cell {
            Cell::Str(s) => p.map.entry(s).or_insert((offset + i, 0)).1 += 1,
            Cell::None => p.none += 1,
            Cell::NaN => p.nan += 1,
        }
    }
    p
}

fn merge<'a>(mut a: Partial<'a>, b: Partial<'a>) -> Partial<'a> {
    let (mut big, small) = if a.map.len() >= b.map.len() {
        (std::mem::take(&mut a.map), b.map)
    } else {
        (b.map, std::mem::take(&mut a.map))
    };
    for (k, (first, n)) in small {
        let e = big.entry(k).or_insert((first, 0));
        e.0 = e.0.min(first);
        e.1 += n;
    }
    Partial {
        map: big,
        none: a.none + b.none,
        nan: a.nan + b.nan,
    }
}

/// Rows per parallel chunk.
const CHUNK: usize = 1 << 16;

/// Distinct values of `cells` with their counts, in scikit-learn's order.
/// With `par`, runs on the current rayon pool.
pub fn unique(par: bool, cells: &[Cell<'_>]) -> Uniques {
    let partial = if !par || cells.len() <= CHUNK {
        count_chunk(cells, 0)
    } else {
        cells
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, chunk)| count_chunk(chunk, c * CHUNK))
            .reduce(Partial::default, merge)
    };
    let mut strings: Vec<(&[u8], usize, i64)> = partial
        .map
        .into_iter()
        .map(|(k, (first, n))| (k.bytes, first, n))
        .collect();
    if par {
        strings.par_sort_unstable_by(|a, b| a.0.cmp(b.0));
    } else {
        strings.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    Uniques {
        strings: strings.into_iter().map(|(_, f, n)| (f, n)).collect(),
        none_count: partial.none,
        nan_count: partial.nan,
    }
}

/// Lookup table from categories (as returned by [`unique`], or given) to codes.
pub struct Table<'a> {
    map: ByteMap<'a, i64>,
    none: Option<i64>,
    nan: Option<i64>,
}

impl<'a> Table<'a> {
    /// Code of each category is its position. Duplicates keep the first.
    pub fn new(categories: &[Cell<'a>]) -> Self {
        let mut map = ByteMap::default();
        map.reserve(categories.len());
        let (mut none, mut nan) = (None, None);
        for (i, c) in categories.iter().enumerate() {
            let code = i as i64;
            match *c {
                Cell::Str(s) => {
                    map.entry(s).or_insert(code);
                }
                Cell::None => {
                    none.get_or_insert(code);
                }
                Cell::NaN => {
                    nan.get_or_insert(code);
                }
            }
        }
        Table { map, none, nan }
    }

    fn get(&self, cell: &Cell<'_>) -> Option<i64> {
        match *cell {
            Cell::Str(s) => self.map.get(&s).copied(),
            Cell::None => self.none,
            Cell::NaN => self.nan,
        }
    }
}

/// Codes of `cells` in `table` (0 for unknown values), whether each row was
/// known, and the number of unknown rows. With `par`, runs on the current
/// rayon pool.
pub fn encode(
    par: bool,
    cells: &[Cell<'_>],
    table: &Table<'_>,
    codes: &mut [i64],
    valid: &mut [bool],
) -> usize {
    let work = |(cells, (codes, valid)): (&[Cell<'_>], (&mut [i64], &mut [bool]))| -> usize {
        let mut unknown = 0;
        for ((cell, code), ok) in cells.iter().zip(codes.iter_mut()).zip(valid.iter_mut()) {
            match table.get(cell) {
                Some(c) => {
                    *code = c;
                    *ok = true;
                }
                None => {
                    *code = 0;
                    *ok = false;
                    unknown += 1;
                }
            }
        }
        unknown
    };
    if !par || cells.len() <= CHUNK {
        return work((cells, (codes, valid)));
    }
    cells
        .par_chunks(CHUNK)
        .zip(codes.par_chunks_mut(CHUNK).zip(valid.par_chunks_mut(CHUNK)))
        .map(work)
        .sum()
}

#[cfg(feature = "pyo3")]
pub(crate) mod py;

#[cfg(test)]
mod tests;
