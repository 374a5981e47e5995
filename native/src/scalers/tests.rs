use super::*;

fn naive(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |s, v| s + v)
}

/// numpy's pairwise summation, written recursively as in numpy.
fn numpy_pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, v| s + v)
    } else if n <= PW_BLOCKSIZE {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for k in 0..8 {
                r[k] += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &a[i..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise(&a[..n2]) + numpy_pairwise(&a[n2..])
    }
}

fn noisy(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (s >> 11) as f64 / (1u64 << 53) as f64;
            if r < 0.05 {
                f64::NAN
            } else {
                1e8 + r * 1e-3 * if s % 3 == 0 { -1.0 } else { 1.0 }
            }
        })
        .collect()
}

#[test]
fn short_pairwise_is_sequential() {
    let a = [1e16, 1.0, -1e16, 1.0];
    assert_eq!(pairwise_sum(false, &a, &|v| v).0, naive(&a));
}

#[test]
fn pairwise_block_order() {
    // 16 items: two groups of 8 accumulators, combined as a tree.
    let a: Vec<f64> = (0..16)
        .map(|i| if i % 8 == 0 { 1e16 } else { 1.0 })
        .collect();
    let r = pairwise_sum(false, &a, &|v| v).0;
    let mut acc = [0.0; 8];
    for (k, s) in acc.iter_mut().enumerate() {
        *s = a[k] + a[8 + k];
    }
    let want = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    assert_eq!(r, want);
}

#[test]
fn iterative_pairwise_matches_numpy_tree() {
    for n in [0, 1, 7, 8, 9, 127, 128, 129, 255, 1000, 4099, 200_003] {
        let a = noisy(n, n as u64);
        let clean: Vec<f64> = a
            .iter()
            .map(|v| if v.is_nan() { 0.0 } else { *v })
            .collect();
        let nan = a.iter().filter(|v| v.is_nan()).count() as u64;
        let f = |v: f64| if v.is_nan() { 0.0 } else { v };
        for par in [false, true] {
            let (s, c) = pairwise_sum(par, &a, &f);
            assert_eq!(s.to_bits(), numpy_pairwise(&clean).to_bits(), "n={n}");
            assert_eq!(c, nan);
        }
    }
}

#[test]
fn layouts_agree_on_exact_data() {
    let (n, m) = (1000, 3);
    let c: Vec<f64> = (0..n * m).map(|k| (k % 17) as f64).collect();
    let mut f = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            f[j * n + i] = c[i * m + j];
        }
    }
    let id = |_: usize, v: f64| v;
    assert_eq!(
        column_sums(1, &c, n, m, Layout::C, &id),
        column_sums(2, &f, n, m, Layout::F, &id)
    );
    assert_eq!(
        nan_medians(1, &c, n, m, Layout::C),
        nan_medians(1, &f, n, m, Layout::F)
    );
    assert_eq!(
        nan_min_max(1, &c, n, m, Layout::C),
        nan_min_max(2, &f, n, m, Layout::F)
    );
}

#[test]
fn row_major_sums_add_rows_in_order() {
    let (n, m) = (3001, 11);
    let x = noisy(n * m, 7);
    let f = |_: usize, v: f64| if v.is_nan() { 0.0 } else { v };
    for threads in [1, 2, 3] {
        let (sums, nan) = column_sums_counts(threads, &x, n, m, Layout::C, &f);
        for j in 0..m {
            let mut s = 0.0;
            let mut c = 0;
            for i in 0..n {
                s += f(j, x[i * m + j]);
                c += u64::from(x[i * m + j].is_nan());
            }
            assert_eq!(sums[j].to_bits(), s.to_bits());
            assert_eq!(nan[j], c);
        }
    }
}

#[test]
fn medians_and_modes_ignore_nan() {
    let x = [3.0, f64::NAN, 1.0, 2.0, 2.0, f64::NAN, 5.0];
    assert_eq!(nan_medians(1, &x, 7, 1, Layout::F), (vec![2.0], false));
    assert_eq!(nan_medians(1, &x[..4], 4, 1, Layout::F).0, vec![2.0]);
    assert_eq!(nan_medians(1, &[1.0, 4.0], 2, 1, Layout::F).0, vec![2.5]);
    assert!(nan_medians(1, &[1.0, f64::INFINITY], 2, 1, Layout::F).1);
    assert_eq!(nan_modes(1, &x, 7, 1, Layout::F)[0].value, 2.0);
    assert_eq!(
        nan_modes(1, &[3.0, 1.0, 3.0, 1.0], 4, 1, Layout::F)[0].value,
        1.0
    );
    // row-major: columns gathered first
    let c = [3.0, 1.0, 1.0, f64::NAN, 3.0, 1.0];
    let modes = nan_modes(2, &c, 3, 2, Layout::C);
    assert_eq!((modes[0].value, modes[1].value), (3.0, 1.0));
    assert!(nan_medians(1, &[f64::NAN], 1, 1, Layout::F).0[0].is_nan());
    assert!(nan_modes(1, &[f64::NAN], 1, 1, Layout::F)[0].value.is_nan());
}

#[test]
fn min_max_skip_nan() {
    let x = [f64::NAN, 2.0, -1.0, f64::NAN, f64::NAN, f64::NAN];
    let r = nan_min_max(1, &x, 3, 2, Layout::F);
    assert_eq!((r.lo[0], r.hi[0]), (-1.0, 2.0));
    assert!(r.lo[1].is_nan() && r.hi[1].is_nan());
    // row-major: rows (NaN, 2), (-1, NaN), (NaN, NaN)
    let r = nan_min_max(1, &x, 3, 2, Layout::C);
    assert_eq!((r.lo[0], r.hi[0]), (-1.0, -1.0));
    assert_eq!((r.lo[1], r.hi[1]), (2.0, 2.0));
}

#[test]
fn min_max_lanes_without_values() {
    // a lane that only sees NaN must not bring its initial infinities
    for n in [1, 3, 9, 10, 17] {
        let mut x = vec![f64::NAN; n];
        x[0] = 2.0;
        let r = nan_min_max(1, &x, n, 1, Layout::F);
        assert_eq!((r.lo[0], r.hi[0]), (2.0, 2.0), "n={n}");
        let r = nan_min_max(2, &x, 1, n, Layout::C);
        assert_eq!((r.lo[0], r.hi[0]), (2.0, 2.0), "n={n}");
    }
}

#[test]
fn min_max_report_infinities_and_mixed_zeros() {
    let x = [1.0, f64::INFINITY, -0.0, 0.0, 0.0, 3.0, -0.0, -1.0];
    let r = nan_min_max(1, &x, 2, 4, Layout::F);
    assert_eq!(r.hi[0], f64::INFINITY);
    assert_eq!(r.mixed_zeros, vec![false, true, false, false]);
    // both zeros, but neither is the minimum nor the maximum
    let r = nan_min_max(1, &[-1.0, -0.0, 0.0, 1.0], 4, 1, Layout::F);
    assert_eq!(r.mixed_zeros, vec![false]);
    let r = nan_min_max(1, &[-0.0, 5.0, 0.0, 1.0], 4, 1, Layout::C);
    assert_eq!(r.mixed_zeros, vec![true]);
}

#[test]
fn min_max_long_columns_split_between_threads() {
    let (n, m) = (300_001, 2);
    let x = noisy(n * m, 3);
    let one = nan_min_max(1, &x, n, m, Layout::F);
    assert_eq!(one, nan_min_max(3, &x, n, m, Layout::F));
    let lo = x[..n].iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(one.lo[0], lo);
    let c = nan_min_max(2, &x, n, m, Layout::C);
    let hi = x
        .iter()
        .step_by(2)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(c.hi[0], hi);
}

#[test]
fn map_table_both_layouts_and_in_place() {
    // narrow tables tile their coefficients over rows, wide ones not
    for (n, m) in [(70_001, 3), (2_001, 70)] {
        let x = noisy(n * m, 5);
        let a: Vec<f64> = (0..m).map(|j| 2.0 + j as f64).collect();
        let b: Vec<f64> = (0..m).map(|j| 0.25 * j as f64 - 1.0).collect();
        let g = |v: f64, a: f64, b: f64| v * a + b;
        for (layout, col) in [
            (
                Layout::F,
                Box::new(move |k: usize| k / n) as Box<dyn Fn(usize) -> usize>,
            ),
            (Layout::C, Box::new(move |k: usize| k % m)),
        ] {
            for threads in [1, 2] {
                let mut out = vec![0.0; n * m];
                let inf = map_table(threads, Some(&x), &mut out, n, m, layout, &a, &b, &g);
                assert!(!inf);
                for k in 0..n * m {
                    let want = g(x[k], a[col(k)], b[col(k)]);
                    assert!(out[k].to_bits() == want.to_bits() || want.is_nan());
                }
                let mut y = x.clone();
                y[n + 2] = f64::NEG_INFINITY;
                assert!(map_table(threads, None, &mut y, n, m, layout, &a, &b, &g));
                for k in [7, n * m - 1] {
                    let want = g(x[k], a[col(k)], b[col(k)]);
                    assert!(y[k].to_bits() == want.to_bits() || want.is_nan());
                }
            }
        }
    }
}
