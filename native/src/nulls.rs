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
pub(crate) mod py;

#[cfg(test)]
mod tests;
