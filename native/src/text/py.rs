//! Python bindings of the text kernels.
//!
//! A [`TextAnalyzer`] holds what scikit-learn's `build_analyzer` fixes (the
//! interpreter's [`CharTables`], the analyzer kind, n-gram range, stop
//! words, lowercasing and preprocessing); it is built once per estimator and
//! its methods do the per-call work. Each method takes the documents as a
//! list of `str`, extracts their UTF-8 text while attached, then tokenizes
//! and counts with the GIL released on `n_threads` threads, and returns the
//! CSR arrays as `bytearray`s (wrapped by numpy on the Python side,
//! writable, no copy).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyList, PyString, PyTuple};
use pyo3::PyTypeInfo;
use rayon::prelude::*;

use super::{CharTable, Doc, Kind, Rows, Settings, Vocab};
use crate::binding::pool_error;
use crate::pybuf::ContiguousBuffer;

/// CharTables(flags, lower_map)
///
/// The per-code-point flags (uint8: 1 for `\w`, 2 for `\s`, 4 and 8 for
/// `str.lower`'s simple and special cases) and lowercase map (uint32) of
/// the running interpreter, copied once: every analyzer shares them.
#[pyclass(frozen, module = "stratum._native")]
pub struct CharTables {
    flags: Vec<u8>,
    lower: Vec<u32>,
}

impl CharTables {
    fn table(&self) -> CharTable<'_> {
        CharTable::with_lower(&self.flags, &self.lower)
    }
}

#[pymethods]
impl CharTables {
    #[new]
    fn new(flags: &Bound<'_, PyAny>, lower_map: &Bound<'_, PyAny>) -> PyResult<Self> {
        let flags = ContiguousBuffer::get(flags, "CharTables")?
            .as_bytes()
            .to_vec();
        // The ASCII fast paths index the flags of every byte below 128.
        if flags.len() < 128 {
            return Err(PyValueError::new_err(
                "the flags table must cover the ASCII code points",
            ));
        }
        let lower_buf = ContiguousBuffer::get(lower_map, "CharTables")?;
        // SAFETY: every bit pattern is a valid u32; alignment is checked.
        let (head, lower, tail) = unsafe { lower_buf.as_bytes().align_to::<u32>() };
        if !head.is_empty() || !tail.is_empty() {
            return Err(PyValueError::new_err(
                "lowercase map must be an aligned uint32 array",
            ));
        }
        Ok(CharTables {
            flags,
            lower: lower.to_vec(),
        })
    }
}

/// TextAnalyzer(tables, analyzer, min_n, max_n, stop_words, lowercase, preprocess)
///
/// scikit-learn's analysis: `analyzer` ("word", "char" or "char_wb") over
/// n-grams of sizes `min_n..=max_n`, without the `stop_words` (a list of
/// `str`, or None; word analyzer only). Documents are first lowercased
/// with `lowercase`, or (accent stripping) passed to `preprocess`; see
/// `Texts::extract`. Not picklable: the estimators build it lazily.
#[pyclass(frozen, module = "stratum._native")]
pub struct TextAnalyzer {
    tables: Py<CharTables>,
    settings: Settings,
    lower: bool,
    preprocess: Option<Py<PyAny>>,
    /// `preprocess` is `str.lower` itself.
    str_lower: bool,
}

#[pymethods]
impl TextAnalyzer {
    #[new]
    #[pyo3(signature = (tables, analyzer, min_n, max_n, stop_words, lowercase, preprocess))]
    fn new(
        tables: Py<CharTables>,
        analyzer: &str,
        min_n: usize,
        max_n: usize,
        stop_words: Option<&Bound<'_, PyList>>,
        lowercase: bool,
        preprocess: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let kind = Kind::parse(analyzer)
            .ok_or_else(|| PyValueError::new_err(format!("unknown analyzer {analyzer:?}")))?;
        let stop = stop_words
            .map(|l| {
                l.iter()
                    .map(|x| {
                        x.cast_into::<PyString>()
                            .map_err(|_| PyTypeError::new_err("stop words must be str"))?
                            .to_str()
                            .map(str::to_owned)
                    })
                    .collect::<PyResult<Vec<String>>>()
            })
            .transpose()?;
        let stop: Option<Vec<&str>> = stop
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect());
        let settings =
            Settings::new(kind, min_n, max_n, stop.as_deref()).map_err(PyValueError::new_err)?;
        let str_lower = match &preprocess {
            Some(pre) => {
                let py = pre.py();
                pre.is(&PyString::type_object(py).getattr(intern!(py, "lower"))?)
            }
            None => false,
        };
        Ok(TextAnalyzer {
            tables,
            settings,
            lower: lowercase,
            preprocess: preprocess.map(Bound::unbind),
            str_lower,
        })
    }

    /// count_fit(docs, dtype, sorted_columns, n_threads)
    ///     -> (terms, ranks, dfs, indptr, indices, data, index_itemsize)
    ///
    /// Learns the vocabulary (terms in first-seen order; `ranks` is a uint32
    /// buffer giving each term's rank in sorted order, `dfs` an int64 buffer
    /// of their document frequencies) and the count matrix, whose rows keep
    /// first-seen order and whose columns are first-seen ids, or with
    /// `sorted_columns` the terms' ranks.
    fn count_fit<'py>(
        &self,
        py: Python<'py>,
        docs: &Bound<'py, PyList>,
        dtype: &str,
        sorted_columns: bool,
        n_threads: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let texts = Texts::extract(docs, self)?;
        let docs = texts.docs()?;
        let an = self.settings.analyzer(self.tables.get().table());
        let n_chunks = n_threads.max(1);
        let (fit, ranks, dfs) = py
            .detach(|| {
                super::run_in_pool(n_threads, || {
                    let mut fit = super::count_fit(&an, &docs, n_chunks);
                    let ranks = fit.vocab.sorted_ranks();
                    let mut dfs = vec![0i64; fit.vocab.len()];
                    for &c in &fit.rows.cols {
                        dfs[c as usize] += 1;
                    }
                    if sorted_columns {
                        fit.rows
                            .cols
                            .par_iter_mut()
                            .for_each(|c| *c = ranks[*c as usize]);
                    }
                    (fit, ranks, dfs)
                })
            })
            .map_err(pool_error)?;
        let terms = PyList::new(py, (0..fit.vocab.len() as u32).map(|id| fit.vocab.term(id)))?;
        let ranks = PyByteArray::new(py, bytes_of(&ranks));
        let dfs = PyByteArray::new(py, bytes_of(&dfs));
        let (indptr, indices, data, width) = csr_arrays(py, &fit.rows, dtype)?;
        (terms, ranks, dfs, indptr, indices, data, width).into_pyobject(py)
    }

    /// count_transform(docs, terms, columns, dtype, n_threads)
    ///     -> (indptr, indices, data, index_itemsize)
    ///
    /// Counts the terms of a fixed vocabulary (`terms[i]` has column
    /// `columns[i]`, an int64 buffer), columns sorted within rows.
    fn count_transform<'py>(
        &self,
        py: Python<'py>,
        docs: &Bound<'py, PyList>,
        terms: &Bound<'py, PyList>,
        columns: &Bound<'py, PyAny>,
        dtype: &str,
        n_threads: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let texts = Texts::extract(docs, self)?;
        let docs = texts.docs()?;
        let an = self.settings.analyzer(self.tables.get().table());
        let col_buf = ContiguousBuffer::get(columns, "count_transform")?;
        let col_bytes = col_buf.as_bytes();
        if col_bytes.len() != 8 * terms.len() {
            return Err(PyValueError::new_err("columns must be int64, one per term"));
        }
        let mut vocab = Vocab::default();
        let mut index = Vec::with_capacity(terms.len());
        for (t, c) in terms.iter().zip(col_bytes.chunks_exact(8)) {
            let t = t
                .cast_into::<PyString>()
                .map_err(|_| PyTypeError::new_err("vocabulary terms must be str"))?;
            let col = i64::from_ne_bytes(c.try_into().expect("8-byte chunk"));
            let col = u32::try_from(col)
                .map_err(|_| PyValueError::new_err("vocabulary index out of range"))?;
            let id = vocab.intern(t.to_str()?);
            if id as usize != index.len() {
                return Err(PyValueError::new_err("duplicate term in vocabulary"));
            }
            index.push(col);
        }
        let rows = py
            .detach(|| {
                super::run_in_pool(n_threads, || {
                    super::count_transform(&an, &docs, &vocab, &index)
                })
            })
            .map_err(pool_error)?;
        csr_arrays(py, &rows, dtype)?.into_pyobject(py)
    }

    /// hash(docs, n_features, alternate_sign, dtype, n_threads)
    ///     -> (indptr, indices, data, index_itemsize)
    ///
    /// `HashingVectorizer`'s un-normalized matrix: rows sorted by column with
    /// duplicate columns summed.
    fn hash<'py>(
        &self,
        py: Python<'py>,
        docs: &Bound<'py, PyList>,
        n_features: u32,
        alternate_sign: bool,
        dtype: &str,
        n_threads: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if n_features == 0 || n_features > i32::MAX as u32 {
            return Err(PyValueError::new_err("n_features out of range"));
        }
        let texts = Texts::extract(docs, self)?;
        let docs = texts.docs()?;
        let an = self.settings.analyzer(self.tables.get().table());
        let rows = py
            .detach(|| {
                super::run_in_pool(n_threads, || {
                    super::hash_transform(&an, &docs, n_features, alternate_sign)
                })
            })
            .map_err(pool_error)?;
        csr_arrays(py, &rows, dtype)?.into_pyobject(py)
    }
}

/// The documents' strings, kept alive while their text is borrowed.
struct Texts<'py> {
    strings: Vec<Bound<'py, PyString>>,
    lower: Vec<bool>,
}

impl<'py> Texts<'py> {
    /// With `lowercase`, documents are lowercased natively where the table's
    /// per-code-point map gives `str.lower`'s result (always for ASCII);
    /// other documents, and every non-ASCII one when `preprocess` is not
    /// `str.lower` itself (accent stripping), become `preprocess(doc)`.
    fn extract(docs: &Bound<'py, PyList>, analyzer: &TextAnalyzer) -> PyResult<Self> {
        let py = docs.py();
        let n = docs.len();
        let mut strings = Vec::with_capacity(n);
        let mut native_lower = Vec::with_capacity(n);
        let preprocess = analyzer.preprocess.as_ref().map(|p| p.bind(py));
        let (lower, str_lower) = (analyzer.lower, analyzer.str_lower);
        let table = analyzer.tables.get().table();
        for item in docs.iter() {
            let s = item
                .cast_into::<PyString>()
                .map_err(|_| PyTypeError::new_err("documents must be str"))?;
            let text = s.to_str()?;
            let Some(pre) = preprocess else {
                strings.push(s);
                native_lower.push(false);
                continue;
            };
            if text.is_ascii() || (str_lower && table.simple_lowercase(text)) {
                strings.push(s);
                native_lower.push(lower);
                continue;
            }
            let out = if str_lower {
                // Called as a method: no argument tuple.
                s.call_method0(intern!(py, "lower"))?
            } else {
                pre.call1((s,))?
            };
            let out = out
                .cast_into::<PyString>()
                .map_err(|_| PyTypeError::new_err("preprocessed document is not a str"))?;
            strings.push(out);
            native_lower.push(false);
        }
        Ok(Texts {
            strings,
            lower: native_lower,
        })
    }

    fn docs(&self) -> PyResult<Vec<Doc<'_>>> {
        self.strings
            .iter()
            .zip(&self.lower)
            .map(|(s, &lower)| {
                Ok(Doc {
                    text: s.to_str()?,
                    lower,
                })
            })
            .collect()
    }
}

fn bytes_of<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: only called with plain integer / float element types, whose
    // bytes are all initialized.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// CSR arrays as bytearrays: (indptr, indices, data, index_itemsize).
type Csr<'py> = (
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
    usize,
);

/// A bytearray holding `values` converted by `f`, written in place.
fn bytearray_of<'py, T, U: Copy, const N: usize>(
    py: Python<'py>,
    values: &[T],
    f: impl Fn(&T) -> U,
    to_bytes: impl Fn(U) -> [u8; N],
) -> PyResult<Bound<'py, PyByteArray>> {
    PyByteArray::new_with(py, values.len() * N, |buf| {
        for (dst, v) in buf.chunks_exact_mut(N).zip(values) {
            dst.copy_from_slice(&to_bytes(f(v)));
        }
        Ok(())
    })
}

/// Index arrays are int32 unless the number of entries needs int64, as
/// scikit-learn decides; `data` is written in `dtype`.
fn csr_arrays<'py, V: Copy + Into<f64>>(
    py: Python<'py>,
    rows: &Rows<V>,
    dtype: &str,
) -> PyResult<Csr<'py>> {
    let nnz = rows.nnz();
    let wide = nnz > i32::MAX as usize;
    let mut ptr = Vec::with_capacity(rows.row_nnz.len() + 1);
    let mut acc = 0usize;
    ptr.push(acc);
    for &k in &rows.row_nnz {
        acc += k;
        ptr.push(acc);
    }
    let (indptr, indices) = if wide {
        (
            bytearray_of(py, &ptr, |&p| p as i64, i64::to_ne_bytes)?,
            bytearray_of(py, &rows.cols, |&c| i64::from(c), i64::to_ne_bytes)?,
        )
    } else {
        (
            bytearray_of(py, &ptr, |&p| p as i32, i32::to_ne_bytes)?,
            bytearray_of(py, &rows.cols, |&c| c as i32, i32::to_ne_bytes)?,
        )
    };
    let vals = &rows.vals;
    let data = match dtype {
        "float64" => bytearray_of(py, vals, |&x| x.into(), f64::to_ne_bytes)?,
        "float32" => bytearray_of(py, vals, |&x| x.into() as f32, f32::to_ne_bytes)?,
        "int64" => bytearray_of(py, vals, |&x| x.into() as i64, i64::to_ne_bytes)?,
        "int32" => bytearray_of(py, vals, |&x| x.into() as i32, i32::to_ne_bytes)?,
        other => {
            return Err(PyValueError::new_err(format!(
                "unsupported dtype {other:?}"
            )))
        }
    };
    Ok((indptr, indices, data, if wide { 8 } else { 4 }))
}

/// murmurhash3_32(data, seed=0) -> int: the signed 32-bit MurmurHash3 of
/// `data`'s bytes (scikit-learn's `murmurhash3_32`).
#[pyfunction]
#[pyo3(signature = (data, seed = 0))]
pub fn murmurhash3_32(data: &Bound<'_, PyAny>, seed: u32) -> PyResult<i32> {
    let buf = ContiguousBuffer::get(data, "murmurhash3_32")?;
    Ok(super::murmurhash3_32(buf.as_bytes(), seed))
}
