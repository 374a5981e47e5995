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
pub(crate) mod py {
    use std::ffi::c_char;

    use pyo3::exceptions::{PyRuntimeError, PyValueError};
    use pyo3::ffi::{self, PyObject};
    use pyo3::prelude::*;

    use super::{Cell, Table};
    use crate::pybuf::ContiguousBuffer;

    /// Reads the cells of a C-contiguous object array (buffer format "O").
    /// Returns None when a value is not an exact `str`, `None` or a float NaN,
    /// or a string cannot be encoded as UTF-8 (lone surrogates).
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
                    cells.push(Cell::Str(super::Key {
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
            let pool = crate::fingerprint::pool(n_threads)
                .map_err(|e| PyRuntimeError::new_err(format!("cannot build thread pool: {e}")))?;
            Ok(pool.install(|| f(n_threads)))
        })
    }

    /// Items below which a kernel stays on the calling thread.
    const PARALLEL_MIN: usize = 1 << 15;

    /// unique_strings(values, n_threads) -> (first_rows, counts, none_count, nan_count) | None
    ///
    /// Sorted distinct values of a 1-d object array holding only `str`,
    /// `None` and float NaN: for each distinct string, the first row holding
    /// it and its count. None when the array holds anything else.
    #[pyfunction]
    #[pyo3(signature = (values, n_threads = 1))]
    #[allow(clippy::type_complexity)]
    pub fn unique_strings(
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
        n_threads: usize,
    ) -> PyResult<Option<(Vec<usize>, Vec<i64>, i64, i64)>> {
        let buf = ContiguousBuffer::get(values, "unique_strings")?;
        let Some((cells, _held)) = read_cells(py, &buf)? else {
            return Ok(None);
        };
        let u = run(py, n_threads, cells.len(), |t| super::unique(t > 1, &cells))?;
        drop(cells);
        drop(buf);
        let (first, counts) = u.strings.into_iter().unzip();
        Ok(Some((first, counts, u.none_count, u.nan_count)))
    }

    /// encode_strings(values, categories, codes, valid, n_threads) -> n_unknown | None
    ///
    /// Writes the position in `categories` of each value of `values` (both
    /// 1-d object arrays of `str` / `None` / NaN) into `codes` (int64), and
    /// whether it was found into `valid` (bool); unknown values get code 0.
    /// None (nothing written) when either array holds anything else.
    #[pyfunction]
    #[pyo3(signature = (values, categories, codes, valid, n_threads = 1))]
    pub fn encode_strings(
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
        categories: &Bound<'_, PyAny>,
        codes: &Bound<'_, PyAny>,
        valid: &Bound<'_, PyAny>,
        n_threads: usize,
    ) -> PyResult<Option<usize>> {
        let vbuf = ContiguousBuffer::get(values, "encode_strings")?;
        let cbuf = ContiguousBuffer::get(categories, "encode_strings")?;
        let Some((cells, _held_values)) = read_cells(py, &vbuf)? else {
            return Ok(None);
        };
        let Some((cats, _held_categories)) = read_cells(py, &cbuf)? else {
            return Ok(None);
        };
        let mut codes_buf = ContiguousBuffer::get_writable(codes, "codes")?;
        let mut valid_buf = ContiguousBuffer::get_writable(valid, "valid")?;
        let codes_out = codes_buf.as_mut_i64("codes")?;
        let valid_out = valid_buf.as_mut_bool("valid")?;
        if codes_out.len() != cells.len() || valid_out.len() != cells.len() {
            return Err(PyValueError::new_err(
                "codes and valid must have one item per value",
            ));
        }
        let unknown = run(py, n_threads, cells.len(), |t| {
            let table = Table::new(&cats);
            super::encode(t > 1, &cells, &table, codes_out, valid_out)
        })?;
        Ok(Some(unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells<'a>(v: &[Option<&'a str>]) -> Vec<Cell<'a>> {
        v.iter()
            .map(|s| match s {
                Some("<nan>") => Cell::NaN,
                Some(s) => Cell::Str(Key::new(s.as_bytes())),
                None => Cell::None,
            })
            .collect()
    }

    #[test]
    fn unique_sorts_by_code_point_and_puts_missing_last() {
        let c = cells(&[
            Some("b"),
            Some("<nan>"),
            Some("é"),
            None,
            Some("a"),
            Some("b"),
            Some("Z"),
            Some(""),
        ]);
        let u = unique(false, &c);
        let order: Vec<usize> = u.strings.iter().map(|p| p.0).collect();
        assert_eq!(order, vec![7, 6, 4, 0, 2]); // "", "Z", "a", "b", "é"
        assert_eq!(u.strings[3].1, 2);
        assert_eq!((u.none_count, u.nan_count), (1, 1));
    }

    #[test]
    fn parallel_chunks_agree_with_serial() {
        let words: Vec<String> = (0..300_000u64)
            .map(|i| format!("w{}", (i * 7919) % 50_021))
            .collect();
        let c: Vec<Cell<'_>> = words
            .iter()
            .map(|w| Cell::Str(Key::new(w.as_bytes())))
            .collect();
        let serial = count_chunk(&c, 0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let par = pool.install(|| unique(true, &c));
        assert_eq!(par.strings.len(), serial.map.len());
        for (first, n) in &par.strings {
            let key = Key::new(words[*first].as_bytes());
            assert_eq!(serial.map[&key], (*first, *n));
        }
        assert!(par
            .strings
            .windows(2)
            .all(|w| words[w[0].0] < words[w[1].0]));
    }

    #[test]
    fn encode_marks_unknown_rows() {
        let cats = cells(&[Some("a"), Some("b"), None]);
        let table = Table::new(&cats);
        let vals = cells(&[Some("b"), Some("x"), None, Some("<nan>"), Some("a")]);
        let mut codes = vec![9; 5];
        let mut valid = vec![true; 5];
        let unknown = encode(false, &vals, &table, &mut codes, &mut valid);
        assert_eq!(unknown, 2);
        assert_eq!(codes, vec![1, 0, 2, 0, 0]);
        assert_eq!(valid, vec![true, false, true, false, true]);
    }

    #[test]
    fn empty_column() {
        assert_eq!(unique(false, &[]), Uniques::default());
    }
}
