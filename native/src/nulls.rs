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
    use std::ffi::c_char;

    use pyo3::ffi::{self, PyObject};
    use pyo3::prelude::*;

    use super::NullStrings;
    use crate::pybuf::ContiguousBuffer;

    /// Writes into `out` (a bool array as long as `values`) whether each cell
    /// of the object array `values` is a string that `null_strings` cleans to
    /// a null. Returns False, leaving `out` unspecified, when a cell is
    /// neither an exact `str` nor None, a float, an int or a bool (types that
    /// never equal a string); the caller then runs skrub's code.
    #[pyfunction]
    pub fn null_string_mask(
        values: &Bound<'_, PyAny>,
        null_strings: Vec<String>,
        out: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let what = "null_string_mask";
        let buf = ContiguousBuffer::get(values, what)?;
        if buf.format() != Some("O") {
            return Ok(false);
        }
        let mut out_buf = ContiguousBuffer::get_writable(out, what)?;
        let mask = out_buf.as_mut_bool(what)?;
        let bytes = buf.as_bytes();
        let n = bytes.len() / std::mem::size_of::<*mut PyObject>();
        if mask.len() != n {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "{what}: out has {} cells, values {n}",
                mask.len()
            )));
        }
        let nulls = NullStrings::new(null_strings);
        let ptrs = bytes.as_ptr().cast::<*mut PyObject>();
        let py = values.py();
        for (i, cell) in mask.iter_mut().enumerate() {
            // SAFETY: an object array's buffer holds `n` object pointers, kept
            // alive by the array while `buf` is held; we stay attached.
            let obj = unsafe { ptrs.add(i).read_unaligned() };
            if obj.is_null() {
                return Ok(false);
            }
            *cell = unsafe {
                if ffi::PyUnicode_CheckExact(obj) != 0 {
                    let mut size: ffi::Py_ssize_t = 0;
                    let data: *const c_char = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
                    if data.is_null() {
                        // Lone surrogates: neither blank nor in the (UTF-8) list.
                        PyErr::take(py);
                        false
                    } else {
                        let s = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
                        nulls.is_null(std::str::from_utf8_unchecked(s))
                    }
                } else if obj == ffi::Py_None()
                    || ffi::PyFloat_CheckExact(obj) != 0
                    || ffi::PyLong_CheckExact(obj) != 0
                    || ffi::PyBool_Check(obj) != 0
                {
                    false
                } else {
                    return Ok(false);
                }
            };
        }
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
