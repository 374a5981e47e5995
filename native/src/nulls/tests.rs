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
