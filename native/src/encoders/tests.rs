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
