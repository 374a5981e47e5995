use super::*;

/// A small deterministic generator (xorshift), so the tests need no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn value(&mut self) -> f32 {
        (self.next() % 2001) as f32 / 997.0 - 1.0
    }
}

/// A random CSR matrix with unsorted and duplicate column indices, empty
/// rows and signed zeros.
fn random_csr(rng: &mut Rng, n_rows: usize, n_cols: usize) -> (Vec<i32>, Vec<i32>, Vec<f32>) {
    let mut indptr = vec![0i32];
    let (mut indices, mut data) = (vec![], vec![]);
    for _ in 0..n_rows {
        let len = if rng.below(5) == 0 { 0 } else { rng.below(12) };
        for _ in 0..len {
            indices.push(rng.below(n_cols) as i32);
            data.push(match rng.below(10) {
                0 => -0.0,
                1 => 0.0,
                _ => rng.value(),
            });
        }
        indptr.push(indices.len() as i32);
    }
    (indptr, indices, data)
}

/// scipy's `csr_matvecs`, as written in sparsetools.
fn scipy_csr(n_rows: usize, n_vecs: usize, p: &[i32], j: &[i32], a: &[f32], x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; n_rows * n_vecs];
    for i in 0..n_rows {
        for jj in p[i] as usize..p[i + 1] as usize {
            let col = j[jj] as usize;
            for k in 0..n_vecs {
                y[i * n_vecs + k] += a[jj] * x[col * n_vecs + k];
            }
        }
    }
    y
}

/// scipy's `csc_matvecs` for the CSC matrix with these arrays (the
/// transpose of the CSR matrix they describe): a scatter over columns.
fn scipy_csc(n_rows: usize, n_vecs: usize, p: &[i32], i: &[i32], a: &[f32], x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; n_rows * n_vecs];
    for col in 0..p.len() - 1 {
        for ii in p[col] as usize..p[col + 1] as usize {
            let row = i[ii] as usize;
            for k in 0..n_vecs {
                y[row * n_vecs + k] += a[ii] * x[col * n_vecs + k];
            }
        }
    }
    y
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn rows_are_scipys_csr_product_bit_for_bit() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for &(n_rows, n_cols, n_vecs) in &[(1, 1, 1), (37, 11, 3), (500, 64, 40), (3000, 7, 9)] {
        let (p, j, a) = random_csr(&mut rng, n_rows, n_cols);
        let x: Vec<f32> = (0..n_cols * n_vecs).map(|_| rng.value()).collect();
        let want = scipy_csr(n_rows, n_vecs, &p, &j, &a, &x);
        for par in [false, true] {
            let csr = Csr {
                n_cols,
                indptr: &p,
                indices: &j,
                data: &a,
            };
            let mut out = vec![f32::NAN; n_rows * n_vecs];
            csr.matmul(par, &x, n_vecs, &mut out).unwrap();
            assert_eq!(
                bits(&out),
                bits(&want),
                "{n_rows}x{n_cols}x{n_vecs} par={par}"
            );
        }
    }
}

#[test]
fn transposed_is_scipys_csc_product_bit_for_bit() {
    let mut rng = Rng(12345);
    for &(n_rows, n_cols, n_vecs) in &[(1, 1, 1), (800, 50, 13), (300, 9, 40), (64, 3, 70)] {
        let (p, j, a) = random_csr(&mut rng, n_rows, n_cols);
        // A.T @ x, as scipy computes it: csc_matvecs over A's own arrays
        let x: Vec<f32> = (0..n_rows * n_vecs).map(|_| rng.value()).collect();
        let want = scipy_csc(n_cols, n_vecs, &p, &j, &a, &x);
        let csr = Csr {
            n_cols,
            indptr: &p,
            indices: &j,
            data: &a,
        };
        let mut out = vec![f32::NAN; n_cols * n_vecs];
        csr.matmul_transposed(&x, n_vecs, &mut out).unwrap();
        assert_eq!(bits(&out), bits(&want), "{n_rows}x{n_cols}x{n_vecs}");
    }
}

#[test]
fn float64_and_int64_indices() {
    let p = [0i64, 2, 2, 3];
    let j = [1i64, 0, 1];
    let a = [2.0f64, -1.5, 0.25];
    let x = [1.0f64, 10.0, 100.0, 1000.0];
    let csr = Csr {
        n_cols: 2,
        indptr: &p,
        indices: &j,
        data: &a,
    };
    let mut out = [f64::NAN; 6];
    csr.matmul(false, &x, 2, &mut out).unwrap();
    assert_eq!(out, [198.5, 1985.0, 0.0, 0.0, 25.0, 250.0]);
}

#[test]
fn zero_products_are_positive_zeros_as_in_scipy() {
    // scipy starts each row at +0.0: +0.0 + (-0.0) is +0.0
    let csr = Csr {
        n_cols: 1,
        indptr: &[0i32, 1],
        indices: &[0i32],
        data: &[-0.0f32],
    };
    let mut out = [f32::NAN; 2];
    csr.matmul(false, &[1.0, 2.0], 2, &mut out).unwrap();
    assert_eq!(bits(&out), bits(&[0.0, 0.0]));
}

#[test]
fn bad_arrays_are_errors_not_panics() {
    let x = [1.0f32; 4];
    let mut out = [0.0f32; 4];
    let bad_index = Csr {
        n_cols: 2,
        indptr: &[0i32, 1, 2],
        indices: &[0i32, 2],
        data: &[1.0f32, 1.0],
    };
    let e = bad_index.matmul(false, &x, 2, &mut out).unwrap_err();
    assert!(e.contains("row 1"), "{e}");
    let negative = Csr {
        n_cols: 2,
        indptr: &[0i32, 1, 2],
        indices: &[0i32, -1],
        data: &[1.0f32, 1.0],
    };
    assert!(negative.matmul(false, &x, 2, &mut out).is_err());
    let unordered = Csr {
        n_cols: 2,
        indptr: &[0i32, 2, 1],
        indices: &[0i32, 1],
        data: &[1.0f32, 1.0],
    };
    assert!(unordered
        .matmul(false, &x, 2, &mut out)
        .unwrap_err()
        .contains("indptr[2]"));
    let past_end = Csr {
        n_cols: 2,
        indptr: &[0i32, 1, 3],
        indices: &[0i32, 1],
        data: &[1.0f32, 1.0],
    };
    assert!(past_end.matmul(false, &x, 2, &mut out).is_err());
    let not_zero = Csr {
        n_cols: 2,
        indptr: &[1i32, 1, 2],
        indices: &[0i32, 1],
        data: &[1.0f32, 1.0],
    };
    assert!(not_zero.matmul(false, &x, 2, &mut out).is_err());
    let ok = Csr {
        n_cols: 2,
        indptr: &[0i32, 1, 2],
        indices: &[0i32, 1],
        data: &[1.0f32, 1.0],
    };
    assert!(ok.matmul(false, &x[..3], 2, &mut out).is_err());
    assert!(ok.matmul(false, &x, 2, &mut out[..3]).is_err());
}

#[test]
fn row_blocks_cover_rows_without_splitting_them() {
    let offsets = [0, 5, 5, 5, 20, 21, 40];
    assert_eq!(row_blocks(&offsets, 6), vec![0, 4, 6]);
    assert_eq!(row_blocks(&offsets, 100), vec![0, 6]);
    assert_eq!(row_blocks(&[0, 0, 0], 1), vec![0, 2]);
    assert_eq!(row_blocks(&[0, 3, 6, 9], 3), vec![0, 1, 2, 3]);
}

#[test]
fn sort_rows_sorts_each_row_and_leaves_rows_with_duplicates() {
    let indptr = [0i32, 3, 3, 6, 8];
    let mut indices = [2i32, 0, 1, 4, 1, 3, 1, 1];
    let mut data = [2.0f32, 0.0, 1.0, 4.0, -0.0, 3.0, 5.0, 6.0];
    for par in [false, true] {
        let (mut i, mut d) = (indices, data);
        let all = sort_rows(par, 5, &indptr, &mut i, &mut d).unwrap();
        assert!(!all);
        assert_eq!(i, [0, 1, 2, 1, 3, 4, 1, 1]);
        assert_eq!(bits(&d), bits(&[0.0, 1.0, 2.0, -0.0, 3.0, 4.0, 5.0, 6.0]));
    }
    let all = sort_rows(false, 5, &indptr[..4], &mut indices[..6], &mut data[..6]).unwrap();
    assert!(all);
    assert!(sort_rows(false, 4, &indptr, &mut indices, &mut data).is_err());
}

#[test]
fn sort_rows_of_many_rows_between_threads() {
    let mut rng = Rng(99);
    let (n_rows, n_cols) = (5000, 300);
    let mut indptr = vec![0i64];
    let (mut indices, mut data) = (vec![], vec![]);
    for _ in 0..n_rows {
        let mut cols: Vec<i64> = (0..n_cols as i64).filter(|_| rng.below(20) == 0).collect();
        for k in (1..cols.len()).rev() {
            cols.swap(k, rng.below(k + 1));
        }
        data.extend(cols.iter().map(|&c| c as f64 * 0.5));
        indices.extend(cols);
        indptr.push(indices.len() as i64);
    }
    assert!(sort_rows(true, n_cols, &indptr, &mut indices, &mut data).unwrap());
    for r in 0..n_rows {
        let row = &indices[indptr[r] as usize..indptr[r + 1] as usize];
        assert!(row.windows(2).all(|w| w[0] < w[1]));
    }
    assert!(indices
        .iter()
        .zip(&data)
        .all(|(&c, &v)| v == c as f64 * 0.5));
}
