use super::*;

/// `gen_atom(n, seed)` for seeds 0 and 1, n in 2..=4 (skrub 0.11, numpy's
/// `RandomState`).
const ATOMS_2_4: [i32; 18] = [
    209652397, 398764592, // seed 0, n = 2
    209652397, 398764592, 924231286, // n = 3
    209652397, 398764592, 924231286, 1478610113, // n = 4
    -356387802, 2135392492, // seed 1
    -356387802, 2135392492, 946286477, //
    -356387802, 2135392492, 946286477, 1857819721,
];

/// numpy's correlate as written: i64 sums of products, truncated to i32,
/// arguments swapped when the first is shorter.
fn naive_correlate(x: &[i32], atom: &[i32]) -> Vec<i32> {
    let (a, v) = if x.len() >= atom.len() {
        (x, atom)
    } else {
        (atom, x)
    };
    (0..=a.len() - v.len())
        .map(|i| {
            let s: i64 = (0..v.len())
                .map(|j| i64::from(a[i + j]) * i64::from(v[j]))
                .sum();
            s as i32
        })
        .collect()
}

fn fast(text: &str, atoms: &[i32], min_n: usize, max_n: usize, minmax: bool, k: usize) -> Vec<f32> {
    let atoms = Atoms::new(atoms, min_n, max_n).unwrap();
    let mut out = vec![f32::NAN; k];
    fast_row(text, &atoms, minmax, &mut Scratch::default(), &mut out);
    out
}

#[test]
fn correlate_matches_the_naive_definition() {
    let long: Vec<i32> = (0..9).map(|i| (i * 37 - 100) as i8 as i32).collect();
    // Seeds 0 and 1 of each size, one block per size.
    for (n, seed0, seed1) in [(2, 0, 9), (3, 2, 11), (4, 5, 14)] {
        let atoms = Atoms::new(
            &[&ATOMS_2_4[seed0..seed0 + n], &ATOMS_2_4[seed1..seed1 + n]].concat(),
            n,
            n,
        )
        .unwrap();
        for len in 1..=long.len() {
            let x = &long[..len];
            let mut min = vec![[i32::MAX; LANES]];
            let mut max = vec![[i32::MIN; LANES]];
            let (_, block) = &atoms.blocks[0];
            correlate_min_max(x, n, block, atoms.groups, &mut min, &mut max);
            let (min, max) = (min[0], max[0]);
            for (s, start) in [seed0, seed1].into_iter().enumerate() {
                let want = naive_correlate(x, &ATOMS_2_4[start..start + n]);
                assert_eq!(min[s], *want.iter().min().unwrap());
                assert_eq!(max[s], *want.iter().max().unwrap());
            }
        }
    }
}

#[test]
fn fast_matches_skrub() {
    // ngram_min_hash(s, (2, 4), seed) for seeds 0 and 1.
    let cases: [(&str, [i32; 2]); 3] = [
        ("ab", [-1668975464, -1394811714]),
        ("héllo wörld", [-1814148148, -2105838988]),
        ("x", [-761395376, -1450938720]),
    ];
    for (text, want) in cases {
        let want: Vec<f32> = want.iter().map(|&h| f64::from(h) as f32).collect();
        assert_eq!(fast(text, &ATOMS_2_4, 2, 4, false, 2), want, "{text:?}");
    }
}

#[test]
fn fast_minmax_matches_skrub() {
    // ngram_min_hash(s, (2, 3), 0, return_minmax=True).
    let atoms = [209652397, 398764592, 209652397, 398764592, 924231286];
    let cases = [
        ("ab", (-714329619, 405812572)),
        ("héllo wörld", (-1814148148, 2078722002)),
        ("x", (-761395376, 607110784)),
    ];
    for (text, (lo, hi)) in cases {
        let want = vec![f64::from(lo) as f32, f64::from(hi) as f32];
        assert_eq!(fast(text, &atoms, 2, 3, true, 2), want, "{text:?}");
    }
}

#[test]
fn fast_empty_string_is_zeros() {
    assert_eq!(fast("", &ATOMS_2_4, 2, 4, false, 2), vec![0.0; 2]);
    assert_eq!(fast("", &ATOMS_2_4, 2, 4, true, 4), vec![0.0; 4]);
}

#[test]
fn atoms_are_checked() {
    assert!(Atoms::new(&ATOMS_2_4, 2, 4).is_ok_and(|a| a.n_seeds() == 2));
    assert!(Atoms::new(&ATOMS_2_4[..17], 2, 4).is_err());
    assert!(Atoms::new(&ATOMS_2_4, 0, 4).is_err());
    assert!(Atoms::new(&ATOMS_2_4, 3, 2).is_err());
}

#[test]
fn murmur_matches_skrub() {
    // MinHashEncoder(n_components=3, hashing="murmur")._get_murmur_hash(s),
    // given " " + " ".join(s.lower().split()) + " ".
    let cases: [(&str, [f64; 3]); 3] = [
        (
            " ab ",
            [
                0.2266060500933337,
                0.22545225038785774,
                0.012209013340112058,
            ],
        ),
        (
            "  ",
            [0.3949872163112711, 0.8436265971613178, 0.6741698306692229],
        ),
        (
            " x ",
            [0.22957283938992137, 0.4299155882163708, 0.33087240632876574],
        ),
    ];
    for (padded, want) in cases {
        let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        let mut out = vec![f32::NAN; 3];
        murmur_row(padded, 2, 4, &mut Scratch::default(), &mut out);
        assert_eq!(out, want, "{padded:?}");
    }
}

#[test]
fn murmur_lanes_agree_with_scalar_hashes() {
    use crate::text::murmurhash3_32;
    let k = 19;
    for padded in [" a ", " héllo wörld ", " 日本語🙂👍🏽x "] {
        let chars: Vec<char> = padded.chars().collect();
        let want: Vec<f32> = (0..k as u32)
            .map(|seed| {
                let mut min = u32::MAX;
                for n in 2..=4 {
                    for w in chars.windows(n) {
                        let gram: String = w.iter().collect();
                        min = min.min(murmurhash3_32(gram.as_bytes(), seed) as u32);
                    }
                }
                (f64::from(min) / 4_294_967_295.0) as f32
            })
            .collect();
        let mut out = vec![f32::NAN; k];
        murmur_row(padded, 2, 4, &mut Scratch::default(), &mut out);
        assert_eq!(out, want, "{padded:?}");
    }
}

#[test]
fn murmur_without_ngrams_is_zeros() {
    let mut out = vec![f32::NAN; 2];
    murmur_row("", 2, 4, &mut Scratch::default(), &mut out);
    assert_eq!(out, vec![0.0; 2]);
    out.fill(f32::NAN);
    murmur_row("  ", 3, 4, &mut Scratch::default(), &mut out);
    assert_eq!(out, vec![0.0; 2]);
}

#[test]
fn parallel_rows_agree_with_serial() {
    let texts: Vec<String> = (0..500).map(|i| format!("s{i} ü{}", i * 7)).collect();
    let atoms = Atoms::new(&ATOMS_2_4, 2, 4).unwrap();
    let run = |par: bool| {
        let mut out = vec![0.0f32; texts.len() * 2];
        encode_rows(par, &texts, 2, &mut out, |t, s, o| {
            fast_row(t, &atoms, false, s, o)
        });
        out
    };
    let serial = run(false);
    assert_eq!(run(true), serial);
    let mut one = vec![0.0f32; 2];
    fast_row(
        &texts[321],
        &atoms,
        false,
        &mut Scratch::default(),
        &mut one,
    );
    assert_eq!(&serial[642..644], &one[..]);
}
