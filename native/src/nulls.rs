//! skrub's `CleanNullStrings` test: which strings stand for a missing value.
//!
//! skrub first replaces whitespace-only strings by `""` (the regex `^\s*$`)
//! and then replaces the strings of its null list (which contains `""`) by a
//! null. A string is therefore null when it is in the list, or when it is
//! whitespace only and `""` is in the list. `\s` in a Python `str` pattern
//! matches exactly the characters for which `str.isspace()` is true.

use std::collections::HashSet;

/// Python's `str.isspace()`: bidirectional class WS, B or S, or category Zs.
pub fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// The strings that a cleaned column turns into nulls.
pub struct NullStrings {
    strings: HashSet<String>,
    blank_is_null: bool,
}

impl NullStrings {
    pub fn new<I: IntoIterator<Item = String>>(strings: I) -> Self {
        let strings: HashSet<String> = strings.into_iter().collect();
        let blank_is_null = strings.contains("");
        Self {
            strings,
            blank_is_null,
        }
    }

    pub fn is_null(&self, s: &str) -> bool {
        (self.blank_is_null && s.chars().all(is_python_space)) || self.strings.contains(s)
    }
}

#[cfg(feature = "pyo3")]
pub(crate) mod py {
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;

    use super::NullStrings;
    use crate::encoders::py::{read_cells, run};
    use crate::encoders::Cell;
    use crate::par;
    use crate::pybuf::ContiguousBuffer;

    /// null_string_mask(values, null_strings, out, n_threads) -> bool
    ///
    /// Writes into `out` (a bool array as long as `values`) whether each cell
    /// of the object array `values` is a string that `null_strings` cleans to
    /// a null, with the GIL released. Returns False, leaving `out`
    /// unspecified, when a cell is not a `str`, None or a float NaN (or a
    /// string cannot be encoded as UTF-8); the caller then runs skrub's code.
    #[pyfunction]
    #[pyo3(signature = (values, null_strings, out, n_threads = 1))]
    pub fn null_string_mask(
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
        null_strings: Vec<String>,
        out: &Bound<'_, PyAny>,
        n_threads: usize,
    ) -> PyResult<bool> {
        let what = "null_string_mask";
        let buf = ContiguousBuffer::get(values, what)?;
        let Some((cells, _held)) = read_cells(py, &buf)? else {
            return Ok(false);
        };
        let mut out_buf = ContiguousBuffer::get_writable(out, what)?;
        let mask = out_buf.as_mut_bool(what)?;
        if mask.len() != cells.len() {
            return Err(PyValueError::new_err(format!(
                "{what}: out has {} cells, values {}",
                mask.len(),
                cells.len()
            )));
        }
        let nulls = NullStrings::new(null_strings);
        run(py, n_threads, cells.len(), |t| {
            let size = cells.len().div_ceil(t);
            par::for_each_chunk_mut(t > 1, mask, size, |i, chunk| {
                for (m, cell) in chunk.iter_mut().zip(&cells[i * size..]) {
                    // SAFETY: `read_cells` only keeps strings CPython encoded
                    // as UTF-8.
                    *m = matches!(cell, Cell::Str(k)
                        if nulls.is_null(unsafe { std::str::from_utf8_unchecked(k.bytes) }));
                }
            });
        })?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skrub_defaults() -> NullStrings {
        NullStrings::new(["", "null", "NA", "N/A", "nan", "None"].map(String::from))
    }

    #[test]
    fn blank_strings_are_null_when_the_empty_string_is() {
        let nulls = skrub_defaults();
        for s in ["", " ", "\t\n", "\u{3000}\u{a0}", "\u{1c}\u{85}\u{2029}"] {
            assert!(nulls.is_null(s), "{s:?}");
        }
        for s in [" x ", "\u{200b}", "nul", "NULL ", "\u{180e}"] {
            assert!(!nulls.is_null(s), "{s:?}");
        }
        let no_blank = NullStrings::new(["null".to_string()]);
        assert!(!no_blank.is_null(" "));
        assert!(!no_blank.is_null(""));
        assert!(no_blank.is_null("null"));
    }

    #[test]
    fn listed_strings_match_exactly() {
        let nulls = skrub_defaults();
        assert!(nulls.is_null("N/A"));
        assert!(!nulls.is_null("n/a"));
        assert!(!nulls.is_null(" NA"));
    }
}
