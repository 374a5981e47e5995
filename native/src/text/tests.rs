use super::*;

/// Flags of Python's `re` for the code points these tests use.
fn table() -> Vec<u8> {
    let mut t = vec![0u8; 0x110000];
    for c in ('a'..='z').chain('A'..='Z').chain('0'..='9') {
        t[c as usize] = WORD;
    }
    t['_' as usize] = WORD;
    for c in ['é', 'ß', 'ς', '²', '日', '本'] {
        t[c as usize] = WORD;
    }
    for c in [' ', '\t', '\n', '\r', '\x0b', '\x0c', '\x1c', '\u{3000}'] {
        t[c as usize] = SPACE;
    }
    for c in 'A'..='Z' {
        t[c as usize] |= LOWER_SIMPLE;
    }
    t
}

/// `str.lower`'s map for ASCII capitals, identity elsewhere.
fn lower_map() -> Vec<u32> {
    (0..0x110000u32)
        .map(|c| char::from_u32(c).map_or(c, |ch| ch.to_ascii_lowercase() as u32))
        .collect()
}

fn features(kind: Kind, lo: usize, hi: usize, stop: Option<Vec<&str>>, doc: &str) -> Vec<String> {
    let t = table();
    let m = lower_map();
    let settings = Settings::new(kind, lo, hi, stop.as_deref()).expect("valid range");
    let an = settings.analyzer(CharTable::with_lower(&t, &m));
    let mut out = Vec::new();
    let mut s = Scratch::default();
    an.analyze(
        Doc {
            text: doc,
            lower: true,
        },
        &mut s,
        &mut |f| out.push(f.to_string()),
    );
    out
}

#[test]
fn word_tokens_are_runs_of_two_or_more_word_chars() {
    // U+0301 (combining acute) is not \w in Python: it splits "éa\u{301}b".
    assert_eq!(
        features(Kind::Word, 1, 1, None, "The cat, a x_y 12 é\u{301}tè ß²"),
        ["the", "cat", "x_y", "12", "ß²"]
    );
    assert_eq!(features(Kind::Word, 1, 1, None, ""), Vec::<String>::new());
}

#[test]
fn word_ngrams_order_and_stop_words() {
    assert_eq!(
        features(Kind::Word, 1, 2, None, "aa bb cc"),
        ["aa", "bb", "cc", "aa bb", "bb cc"]
    );
    assert_eq!(
        features(Kind::Word, 2, 3, None, "aa  bb\tcc"),
        ["aa bb", "bb cc", "aa bb cc"]
    );
    assert_eq!(
        features(Kind::Word, 1, 2, Some(vec!["bb"]), "aa bb cc"),
        ["aa", "cc", "aa cc"]
    );
    assert_eq!(
        features(Kind::Word, 3, 4, None, "aa bb"),
        Vec::<String>::new()
    );
}

#[test]
fn char_ngrams_collapse_runs_of_spaces_only() {
    // A single tab stays, two whitespace characters become one space.
    assert_eq!(
        features(Kind::Char, 1, 2, None, "a\tb  c"),
        ["a", "\t", "b", " ", "c", "a\t", "\tb", "b ", " c"]
    );
    assert_eq!(
        features(Kind::Char, 2, 2, None, "日本\x1c\u{3000}x"),
        ["日本", "本 ", " x"]
    );
    assert_eq!(features(Kind::Char, 3, 5, None, "ab"), Vec::<String>::new());
}

#[test]
fn char_wb_pads_words_and_counts_short_words_once() {
    assert_eq!(
        features(Kind::CharWb, 3, 4, None, "ab"),
        [" ab", "ab ", " ab "]
    );
    // " a " is shorter than 4: emitted once, then larger n are skipped.
    assert_eq!(features(Kind::CharWb, 3, 5, None, "a"), [" a "]);
    assert_eq!(features(Kind::CharWb, 4, 5, None, "a"), [" a "]);
    assert_eq!(
        features(Kind::CharWb, 1, 1, None, "日x\u{3000}Y"),
        [" ", "日", "x", " ", " ", "y", " "]
    );
}

#[test]
fn ascii_lowercasing_only_when_asked() {
    let t = table();
    let settings = Settings::new(Kind::Word, 1, 1, None).expect("range");
    let an = settings.analyzer(CharTable::new(&t));
    let mut out = Vec::new();
    let mut s = Scratch::default();
    let doc = Doc {
        text: "AB Cd",
        lower: false,
    };
    an.analyze(doc, &mut s, &mut |f| out.push(f.to_string()));
    assert_eq!(out, ["AB", "Cd"]);
}

#[test]
fn table_lowercasing_of_non_ascii_text() {
    let t = table();
    let mut map: Vec<u32> = (0..0x110000u32).collect();
    let mut flags = t.clone();
    for (upper, lower) in [('A', 'a'), ('C', 'c'), ('F', 'f'), ('É', 'é'), ('Ω', 'ω')] {
        map[upper as usize] = lower as u32;
        flags[upper as usize] |= LOWER_SIMPLE;
    }
    flags['É' as usize] |= WORD;
    flags['é' as usize] |= WORD;
    flags['İ' as usize] |= LOWER_SPECIAL;
    let table = CharTable::with_lower(&flags, &map);
    assert!(table.simple_lowercase("CAFÉ Ω"));
    assert!(!table.simple_lowercase("İzmir"));
    let settings = Settings::new(Kind::Char, 1, 1, None).expect("range");
    let an = settings.analyzer(table);
    let mut out = Vec::new();
    let mut s = Scratch::default();
    let doc = Doc {
        text: "CAFÉΩ",
        lower: true,
    };
    an.analyze(doc, &mut s, &mut |f| out.push(f.to_string()));
    assert_eq!(out, ["c", "a", "f", "é", "ω"]);
}

#[test]
fn invalid_ngram_range_is_an_error() {
    assert!(Settings::new(Kind::Char, 0, 1, None).is_err());
    assert!(Settings::new(Kind::Char, 3, 2, None).is_err());
}

#[test]
fn murmurhash_known_answers() {
    // sklearn.utils.murmurhash3_32(s.encode(), 0)
    for (s, h) in [
        ("", 0),
        ("a", 1_009_084_850),
        ("foo", -156_908_512),
        ("hello world", 1_586_663_183),
        ("é", 269_551_495),
        ("日本語", -1_515_949_417),
        ("abcd", 1_139_631_978),
        ("abcde", -392_455_434),
    ] {
        assert_eq!(murmurhash3_32(s.as_bytes(), 0), h, "{s:?}");
    }
}

#[test]
fn hashed_columns_and_signs() {
    assert_eq!(
        hashed_column("foo", 1 << 20, true),
        (156_908_512 % (1 << 20), -1.0)
    );
    assert_eq!(
        hashed_column("foo", 1 << 20, false),
        (156_908_512 % (1 << 20), 1.0)
    );
    assert_eq!(hashed_column("a", 7, true), (1_009_084_850 % 7, 1.0));
}

fn docs<'a>(texts: &[&'a str]) -> Vec<Doc<'a>> {
    texts
        .iter()
        .map(|&text| Doc { text, lower: true })
        .collect()
}

#[test]
fn fit_assigns_first_seen_ids_whatever_the_chunking() {
    let t = table();
    let settings = Settings::new(Kind::Word, 1, 1, None).expect("range");
    let an = settings.analyzer(CharTable::new(&t));
    let texts = ["bb aa bb", "cc aa", "dd", "", "ee bb dd"];
    let d = docs(&texts);
    let one = count_fit(&an, &d, 1);
    let terms: Vec<&str> = (0..one.vocab.len() as u32)
        .map(|i| one.vocab.term(i))
        .collect();
    assert_eq!(terms, ["bb", "aa", "cc", "dd", "ee"]);
    assert_eq!(one.rows.row_nnz, [2, 2, 1, 0, 3]);
    assert_eq!(one.rows.cols, [0, 1, 1, 2, 3, 0, 3, 4]);
    assert_eq!(one.rows.vals, [2, 1, 1, 1, 1, 1, 1, 1]);
    for chunks in [2, 3, 5, 8] {
        let many = count_fit(&an, &d, chunks);
        assert_eq!(many.rows.row_nnz, one.rows.row_nnz);
        assert_eq!(many.rows.cols, one.rows.cols);
        assert_eq!(many.rows.vals, one.rows.vals);
    }
    assert_eq!(one.vocab.sorted_ranks(), [1, 0, 2, 3, 4]);
}

#[test]
fn transform_counts_known_terms_in_column_order() {
    let t = table();
    let settings = Settings::new(Kind::Word, 1, 1, None).expect("range");
    let an = settings.analyzer(CharTable::new(&t));
    let mut vocab = Vocab::default();
    for term in ["zz", "aa", "bb"] {
        vocab.intern(term);
    }
    let rows = count_transform(&an, &docs(&["bb zz ZZ qq", "aa"]), &vocab, &[0, 2, 1]);
    assert_eq!(rows.row_nnz, [2, 1]);
    assert_eq!(rows.cols, [0, 1, 2]);
    assert_eq!(rows.vals, [2, 1, 1]);
}

#[test]
fn hashing_sums_collisions_and_keeps_zeros() {
    let t = table();
    let settings = Settings::new(Kind::Word, 1, 1, None).expect("range");
    let an = settings.analyzer(CharTable::new(&t));
    // With one column every feature collides; "foo" hashes negative.
    let rows = hash_transform(&an, &docs(&["foo hello", "foo foo"]), 1, true);
    assert_eq!(rows.row_nnz, [1, 1]);
    assert_eq!(rows.vals, [0.0, -2.0]);
}
