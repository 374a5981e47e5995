use super::*;

/// scipy's definition, by sorting.
fn reference(col: &[f64]) -> (f64, u64) {
    let mut v: Vec<f64> = col.iter().copied().filter(|v| !v.is_nan()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (mut best, mut best_count) = (f64::NAN, 0u64);
    let mut i = 0;
    while i < v.len() {
        let mut k = i + 1;
        while k < v.len() && v[k] == v[i] {
            k += 1;
        }
        if (k - i) as u64 > best_count {
            best = v[i];
            best_count = (k - i) as u64;
        }
        i = k;
    }
    (best, best_count)
}

fn pseudo_random(n: usize, seed: u64, card: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = s >> 33;
            if r % 17 == 0 {
                f64::NAN
            } else {
                ((r % card) as f64 - (card / 2) as f64) * 0.25
            }
        })
        .collect()
}

#[test]
fn matches_sorting_small_and_partitioned() {
    for (n, card) in [
        (1, 1),
        (7, 3),
        (1000, 10),
        (5000, 4000),
        (100_000, 7),
        (100_000, 1 << 40),
        (300_000, 50_000),
    ] {
        let col = pseudo_random(n, n as u64 + card, card);
        let got = mode(&col);
        let (value, count) = reference(&col);
        assert_eq!(got.count, count, "n={n} card={card}");
        assert_eq!(got.value.to_bits(), value.to_bits(), "n={n} card={card}");
        let f32s: Vec<f32> = col.iter().map(|&v| v as f32).collect();
        let wide: Vec<f64> = f32s.iter().map(|&v| f64::from(v)).collect();
        assert_eq!(mode(&f32s).value.to_bits(), reference(&wide).0.to_bits());
    }
}

#[test]
fn ties_take_the_smallest_value() {
    assert_eq!(mode(&[3.0, 1.0, 3.0, 1.0, 2.0]).value, 1.0);
    assert_eq!(mode(&[5.0, -1.0, f64::NAN, f64::NAN, f64::NAN]).value, -1.0);
    // every value once, past the single table
    let col: Vec<f64> = (0..100_000).rev().map(f64::from).collect();
    assert_eq!(mode(&col).value, 0.0);
    assert_eq!(mode(&col).count, 1);
}

#[test]
fn mix_is_a_bijection() {
    for k in [0u64, 1, 42, 0x7ff8_0000_0000_0000, u64::MAX, 1 << 63] {
        assert_eq!(unmix(mix(k)), k);
    }
    assert_eq!(mix(0x7ff8_0000_0000_0000), EMPTY);
}

#[test]
fn sorting_agrees() {
    for (n, card) in [(1000, 10), (5000, 4000), (20_000, 1 << 40)] {
        let col = pseudo_random(n, n as u64 + card, card);
        assert_eq!(by_sorting(&col), mode(&col));
    }
}

#[test]
fn zeros_and_infinities() {
    let m = mode(&[-0.0, -0.0, 1.0]);
    assert!(m.value == 0.0 && m.value.is_sign_negative() && !m.mixed_zeros);
    let m = mode(&[0.0, -0.0, 1.0]);
    assert_eq!(m.count, 2);
    assert!(m.mixed_zeros);
    let m = mode(&[0.0, -0.0, 1.0, 1.0, 1.0]);
    assert!(!m.mixed_zeros && m.value == 1.0);
    assert!(mode(&[1.0, f64::INFINITY]).has_inf);
    assert!(!mode(&[1.0, f64::NAN]).has_inf);
    let m = mode(&[f64::NAN, f64::NAN]);
    assert!(m.value.is_nan() && m.count == 0);
    assert!(mode::<f64>(&[]).value.is_nan());
}
