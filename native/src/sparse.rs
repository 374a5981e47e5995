//! Sparse times dense products in scipy's order of operations.
//!
//! scipy's `csr_matvecs` computes `Y = A @ X` row by row: `Y[i]` starts at
//! zero and gets `A[i, j] * X[j]` added for each stored entry of row `i`, in
//! storage order, one multiply and one add per element. Its `csc_matvecs`
//! (a CSC matrix, such as `A.T` for a CSR `A`) starts `Y` at zero and visits
//! the columns in order, adding each stored entry's product into its row.
//! Both are reproduced exactly (Rust never fuses a multiply and an add):
//! [`Csr::matmul`] shares the rows of `Y` out between threads,
//! [`Csr::matmul_transposed`] is the CSC product over the CSR arrays of its
//! transpose; both keep blocks of `Y`'s or `X`'s row in registers.

use crate::float::Real;
use crate::par;
use crate::simd::with_avx2;

/// A sparse index type (scipy uses int32, or int64 for large matrices).
pub trait Index: Copy + Send + Sync {
    fn to_usize(self) -> Option<usize>;
}

impl Index for i32 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}

impl Index for i64 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}

/// A CSR matrix borrowed from its three arrays.
pub struct Csr<'a, I, T> {
    pub n_cols: usize,
    pub indptr: &'a [I],
    pub indices: &'a [I],
    pub data: &'a [T],
}

/// Work per task when rows are shared out between threads: stored entries
/// times dense columns for the products, stored entries for the sort.
const ENTRIES_PER_TASK: usize = 1 << 16;

impl<I: Index, T: Real> Csr<'_, I, T> {
    /// The row offsets, checked: one more than the rows, starting at 0,
    /// non-decreasing and within the stored entries; and every column index
    /// below `n_cols`.
    fn offsets(&self) -> Result<Vec<usize>, String> {
        if self.indices.len() != self.data.len() {
            return Err("indices and data differ in length".into());
        }
        let nnz = self.data.len();
        let mut out = Vec::with_capacity(self.indptr.len());
        let mut last = 0;
        for (i, &p) in self.indptr.iter().enumerate() {
            let p = p
                .to_usize()
                .filter(|&p| p >= last && p <= nnz && (i > 0 || p == 0))
                .ok_or_else(|| format!("indptr[{i}] is out of order or out of range"))?;
            out.push(p);
            last = p;
        }
        if out.is_empty() {
            return Err("indptr is empty".into());
        }
        let end = out[out.len() - 1];
        if let Some(e) = self.indices[..end]
            .iter()
            .position(|j| j.to_usize().is_none_or(|j| j >= self.n_cols))
        {
            let r = out.partition_point(|&p| p <= e) - 1;
            return Err(format!("a column index of row {r} is out of range"));
        }
        Ok(out)
    }

    /// `out = A @ x` (scipy's `csr_matvecs`) for the C-ordered
    /// `n_cols x n_vecs` matrix `x` into the C-ordered `n_rows x n_vecs`
    /// `out`. Errors name the first bad index or a size that does not match.
    pub fn matmul(&self, par: bool, x: &[T], n_vecs: usize, out: &mut [T]) -> Result<(), String> {
        let offsets = self.offsets()?;
        let n_rows = offsets.len() - 1;
        check_sizes(x, self.n_cols, out, n_rows, n_vecs)?;
        if n_vecs == 0 || n_rows == 0 {
            return Ok(());
        }
        let tasks = row_blocks(&offsets, ENTRIES_PER_TASK.div_ceil(n_vecs).max(1));
        let mut pieces: Vec<(usize, &mut [T])> = Vec::with_capacity(tasks.len());
        let mut rest = out;
        for w in tasks.windows(2) {
            let (head, tail) = rest.split_at_mut((w[1] - w[0]) * n_vecs);
            pieces.push((w[0], head));
            rest = tail;
        }
        par::map_mut(par, &mut pieces, |(first, y)| {
            with_avx2(
                #[inline(always)]
                || {
                    for (r, yr) in y.chunks_exact_mut(n_vecs).enumerate() {
                        let (lo, hi) = (offsets[*first + r], offsets[*first + r + 1]);
                        row(&self.indices[lo..hi], &self.data[lo..hi], x, yr);
                    }
                },
            )
        });
        Ok(())
    }

    /// `out = A.T @ x` (scipy's `csc_matvecs` on the CSC matrix `A.T`) for
    /// the C-ordered `n_rows x n_vecs` matrix `x` into the C-ordered
    /// `n_cols x n_vecs` `out`, on the calling thread: splitting the columns
    /// of `x` between threads, the one exact split, was measured to gain
    /// little or nothing (each thread reads every entry).
    pub fn matmul_transposed(&self, x: &[T], n_vecs: usize, out: &mut [T]) -> Result<(), String> {
        let offsets = self.offsets()?;
        let n_rows = offsets.len() - 1;
        check_sizes(x, n_rows, out, self.n_cols, n_vecs)?;
        if n_vecs == 0 {
            return Ok(());
        }
        out.fill(T::ZERO);
        with_avx2(
            #[inline(always)]
            || self.scatter(&offsets, x, n_vecs, out),
        );
        Ok(())
    }

    /// `A.T @ x` into `y` (`n_cols x n_vecs`, zeros): the rows of `A` in
    /// order, each entry's product added into its row of `y`, in blocks of
    /// columns whose slice of `x`'s row stays in registers.
    #[inline(always)]
    fn scatter(&self, offsets: &[usize], x: &[T], n_vecs: usize, y: &mut [T]) {
        let mut k = 0;
        macro_rules! blocks {
            ($($b:literal),*) => {
                $(
                    while n_vecs - k >= $b {
                        self.scatter_block::<$b>(offsets, x, n_vecs, k, y);
                        k += $b;
                    }
                )*
            };
        }
        blocks!(64, 56, 48, 40, 32, 24, 16, 8, 4, 2, 1);
    }

    /// Columns `k..k + W` of `A.T @ x` into `y` (column indices checked).
    #[inline(always)]
    fn scatter_block<const W: usize>(
        &self,
        offsets: &[usize],
        x: &[T],
        n_vecs: usize,
        k: usize,
        y: &mut [T],
    ) {
        for (j, xr) in x.chunks_exact(n_vecs).enumerate() {
            let mut xv = [T::ZERO; W];
            xv.copy_from_slice(&xr[k..k + W]);
            let (lo, hi) = (offsets[j], offsets[j + 1]);
            for (&i, &a) in self.indices[lo..hi].iter().zip(&self.data[lo..hi]) {
                let c = i.to_usize().unwrap_or(0) * n_vecs + k;
                let yr = &mut y[c..c + W];
                for l in 0..W {
                    yr[l] += a * xv[l];
                }
            }
        }
    }
}

fn check_sizes<T>(
    x: &[T],
    x_rows: usize,
    out: &[T],
    out_rows: usize,
    n_vecs: usize,
) -> Result<(), String> {
    if Some(x.len()) != x_rows.checked_mul(n_vecs) {
        return Err(format!(
            "the dense matrix does not have {x_rows} x {n_vecs} items"
        ));
    }
    if Some(out.len()) != out_rows.checked_mul(n_vecs) {
        return Err(format!("out does not have {out_rows} x {n_vecs} items"));
    }
    Ok(())
}

/// One row of the product: `y = sum of vals[e] * x[cols[e]]` over the
/// entries in order, from zero. The columns of `y` are done in blocks whose
/// sums stay in registers while the entries are visited (the widest blocks
/// that fit, so that a row of 40 is one pass); each element still gets its
/// products added one after the other, as in scipy's loop.
#[inline(always)]
fn row<I: Index, T: Real>(cols: &[I], vals: &[T], x: &[T], y: &mut [T]) {
    let n_vecs = y.len();
    let mut k = 0;
    macro_rules! blocks {
        ($($w:literal),*) => {
            $(
                while n_vecs - k >= $w {
                    block::<I, T, $w>(cols, vals, x, n_vecs, k, &mut y[k..k + $w]);
                    k += $w;
                }
            )*
        };
    }
    blocks!(64, 56, 48, 40, 32, 24, 16, 8, 4, 2, 1);
}

/// Columns `k..k + W` of one row of the product (column indices checked).
#[inline(always)]
fn block<I: Index, T: Real, const W: usize>(
    cols: &[I],
    vals: &[T],
    x: &[T],
    n_vecs: usize,
    k: usize,
    y: &mut [T],
) {
    let mut acc = [T::ZERO; W];
    for (&j, &a) in cols.iter().zip(vals) {
        let c = j.to_usize().unwrap_or(0) * n_vecs + k;
        let xr = &x[c..c + W];
        for l in 0..W {
            acc[l] += a * xr[l];
        }
    }
    y.copy_from_slice(&acc);
}

/// Sorts the entries of each row of a CSR matrix by column index in place
/// (scipy's `sort_indices`), rows shared out between threads. A row holding
/// a column index twice is left as it is (the order of its equal indices
/// would matter to scipy's later summing). Returns whether every row was
/// sorted; errors are those of [`Csr::matmul`]'s checks.
pub fn sort_rows<I: Index + Ord, T: Real>(
    par: bool,
    n_cols: usize,
    indptr: &[I],
    indices: &mut [I],
    data: &mut [T],
) -> Result<bool, String> {
    let offsets = Csr {
        n_cols,
        indptr,
        indices,
        data,
    }
    .offsets()?;
    let tasks = row_blocks(&offsets, ENTRIES_PER_TASK);
    let mut pieces = Vec::with_capacity(tasks.len());
    let (mut rest_i, mut rest_d) = (&mut indices[..offsets[offsets.len() - 1]], data);
    for w in tasks.windows(2) {
        let len = offsets[w[1]] - offsets[w[0]];
        let (hi, ti) = rest_i.split_at_mut(len);
        let (hd, td) = rest_d.split_at_mut(len);
        pieces.push((w[0], w[1], hi, hd));
        rest_i = ti;
        rest_d = td;
    }
    let sorted = par::map_mut(par, &mut pieces, |(first, end, idx, vals)| {
        let base = offsets[*first];
        let mut pairs = Vec::new();
        let mut all = true;
        for r in *first..*end {
            let (lo, hi) = (offsets[r] - base, offsets[r + 1] - base);
            if idx[lo..hi].windows(2).all(|w| w[0] < w[1]) {
                continue;
            }
            pairs.clear();
            pairs.extend(
                idx[lo..hi]
                    .iter()
                    .copied()
                    .zip(vals[lo..hi].iter().copied()),
            );
            pairs.sort_unstable_by_key(|p| p.0);
            if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
                all = false;
                continue;
            }
            for (k, (j, v)) in pairs.iter().enumerate() {
                idx[lo + k] = *j;
                vals[lo + k] = *v;
            }
        }
        all
    });
    Ok(sorted.into_iter().all(|s| s))
}

/// Row boundaries `0 = b0 < b1 < ... = n_rows` of consecutive blocks of
/// about `entries` stored entries each (a row is never split).
fn row_blocks(offsets: &[usize], entries: usize) -> Vec<usize> {
    let n_rows = offsets.len() - 1;
    let mut out = vec![0];
    let mut row = 0;
    while row < n_rows {
        let target = offsets[row] + entries;
        // the first row whose end reaches the target, at least one row
        let end = offsets[row + 1..].partition_point(|&p| p < target) + row + 1;
        row = end.min(n_rows);
        out.push(row);
    }
    out
}

#[cfg(feature = "pyo3")]
pub(crate) mod py;

#[cfg(test)]
mod tests;
